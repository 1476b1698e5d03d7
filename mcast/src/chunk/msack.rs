//! MSACK chunk (draft-mcsctp-tsvwg-sctp-multicast-01 §"Multicast Selective
//! Acknowledgement (MSACK, 195)"): a member acknowledges MTSNs on its
//! association, reports missing ones up to Reported Through, echoes the
//! server's timestamp and control state, and carries the counters from
//! which the server measures the group path.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type = 0xC3  | Reserved|S|U|J|            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Group Verification Tag                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Cumulative MTSN Ack                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Reported Through                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Group Advertised Receiver Window Credit (a_grwnd)      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Number of Gap Ack Blocks = N  | Number of Duplicate MTSNs = M |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Control Echo                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Timestamp Echo                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           Ack Delay                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Last Unicast MTSN                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Last Sync Sequence                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Group Received Count                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Sync Received Count                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Gap Ack Block #1 Start     |     Gap Ack Block #1 End      |
//! /                              ...                              /
//! |                       Duplicate MTSN 1                        |
//! /                              ...                              /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! "Length (16 bits): 52 + 4 * N + 4 * M. A receiver discards an MSACK
//! whose Length does not match N and M." A field whose flag is clear
//! ("Otherwise 0, and ignored") parses as `None` and is written as zero.
//! Gap blocks and duplicates stay a zero-copy slice of the packet, as in
//! core's SACK; whether they are ascending and within Reported Through is
//! the server's to judge, not the parser's.

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::chunk::{ChunkError, ChunkType, WireChunk};
use mcsctp_core::serial::VerificationTag;

use super::{be16, be32, need};
use crate::Mtsn;

/// A Gap Ack Block: MTSNs `cum + start ..= cum + end` were received
/// (offsets relative to the Cumulative MTSN Ack, as in SACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsackGapBlock {
    /// Gap Ack Block Start offset.
    pub start: u16,
    /// Gap Ack Block End offset.
    pub end: u16,
}

impl MsackGapBlock {
    /// First MTSN the block acknowledges.
    pub fn first(&self, cum: Mtsn) -> Mtsn {
        cum.wrapping_add(u32::from(self.start))
    }

    /// Last MTSN the block acknowledges.
    pub fn last(&self, cum: Mtsn) -> Mtsn {
        cum.wrapping_add(u32::from(self.end))
    }
}

/// The member's counters at the group-path MSYNC it received most recently
/// (the S flag and its three fields; draft §"Measuring the Group Path").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SyncSnapshot {
    /// Sync Sequence Number of that MSYNC.
    pub last_sync_sequence: u32,
    /// MDATA chunks received on the group path before it (modulo 2^32).
    pub group_received: u32,
    /// MSYNCs received on the group path up to and including it.
    pub sync_received: u32,
}

/// A multicast selective acknowledgement.
#[derive(Clone, PartialEq, Eq)]
pub struct Msack {
    /// J: the member's host is joined to the IP group.
    pub joined: bool,
    /// The group tag.
    pub group_tag: VerificationTag,
    /// Cumulative MTSN Ack: the member's sliding base.
    pub cumulative_mtsn_ack: Mtsn,
    /// Reported Through: the highest MTSN the gap report covers.
    pub reported_through: Mtsn,
    /// a_grwnd: free octets of the member's group receive buffer.
    pub a_grwnd: u32,
    /// The highest Control Sequence Number processed.
    pub control_echo: u32,
    /// Timestamp of the most recently received MSYNC.
    pub timestamp_echo: u32,
    /// Microseconds from that MSYNC's arrival to this MSACK.
    pub ack_delay_us: u32,
    /// U flag and Last Unicast MTSN: the MDATA most recently received on
    /// the association.
    pub last_unicast_mtsn: Option<Mtsn>,
    /// S flag and the three sync fields.
    pub sync: Option<SyncSnapshot>,
    gaps: Bytes,
    dups: Bytes,
}

impl Msack {
    /// J flag.
    pub const FLAG_J: u8 = 0x01;
    /// U flag: Last Unicast MTSN valid.
    pub const FLAG_U: u8 = 0x02;
    /// S flag: the sync fields are valid.
    pub const FLAG_S: u8 = 0x04;
    /// Length of the fixed fields after the chunk header.
    pub const HEADER_LEN: usize = 48;

    /// Builds an MSACK with the given gap blocks and duplicates (at most
    /// 65535 of each are kept; the member keeps the chunk within the path
    /// MTU, draft §"Multicast Selective Acknowledgement").
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        joined: bool,
        group_tag: VerificationTag,
        cumulative_mtsn_ack: Mtsn,
        reported_through: Mtsn,
        a_grwnd: u32,
        control_echo: u32,
        timestamp_echo: u32,
        ack_delay_us: u32,
        last_unicast_mtsn: Option<Mtsn>,
        sync: Option<SyncSnapshot>,
        gaps: &[MsackGapBlock],
        dups: &[Mtsn],
    ) -> Self {
        let mut g = Vec::with_capacity(gaps.len() * 4);
        for b in gaps.iter().take(usize::from(u16::MAX)) {
            g.put_u16(b.start);
            g.put_u16(b.end);
        }
        let mut d = Vec::with_capacity(dups.len() * 4);
        for t in dups.iter().take(usize::from(u16::MAX)) {
            d.put_u32(t.0);
        }
        Self {
            joined,
            group_tag,
            cumulative_mtsn_ack,
            reported_through,
            a_grwnd,
            control_echo,
            timestamp_echo,
            ack_delay_us,
            last_unicast_mtsn,
            sync,
            gaps: g.into(),
            dups: d.into(),
        }
    }

    /// The Gap Ack Blocks, in wire order.
    pub fn gap_blocks(&self) -> impl ExactSizeIterator<Item = MsackGapBlock> + '_ {
        self.gaps.chunks_exact(4).map(|c| MsackGapBlock {
            start: be16(c, 0),
            end: be16(c, 2),
        })
    }

    /// The Duplicate MTSNs, in wire order.
    pub fn dup_mtsns(&self) -> impl ExactSizeIterator<Item = Mtsn> + '_ {
        self.dups.chunks_exact(4).map(|c| Mtsn(be32(c, 0)))
    }

    /// Number of Gap Ack Blocks.
    pub fn gap_count(&self) -> usize {
        self.gaps.len() / 4
    }

    /// Number of Duplicate MTSNs.
    pub fn dup_count(&self) -> usize {
        self.dups.len() / 4
    }
}

impl WireChunk for Msack {
    const TYPE: ChunkType = super::MSACK;

    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, Self::HEADER_LEN)?;
        let n_gaps = usize::from(be16(&value, 16));
        let n_dups = usize::from(be16(&value, 18));
        let expected = Self::HEADER_LEN + 4 * n_gaps + 4 * n_dups;
        if value.len() != expected {
            return Err(ChunkError::BadLength {
                typ: Self::TYPE,
                expected,
                got: value.len(),
            });
        }
        let gaps_end = Self::HEADER_LEN + 4 * n_gaps;
        Ok(Self {
            joined: flags & Self::FLAG_J != 0,
            group_tag: VerificationTag(be32(&value, 0)),
            cumulative_mtsn_ack: Mtsn(be32(&value, 4)),
            reported_through: Mtsn(be32(&value, 8)),
            a_grwnd: be32(&value, 12),
            control_echo: be32(&value, 20),
            timestamp_echo: be32(&value, 24),
            ack_delay_us: be32(&value, 28),
            last_unicast_mtsn: (flags & Self::FLAG_U != 0).then(|| Mtsn(be32(&value, 32))),
            sync: (flags & Self::FLAG_S != 0).then(|| SyncSnapshot {
                last_sync_sequence: be32(&value, 36),
                group_received: be32(&value, 40),
                sync_received: be32(&value, 44),
            }),
            gaps: value.slice(Self::HEADER_LEN..gaps_end),
            dups: value.slice(gaps_end..),
        })
    }

    fn flags(&self) -> u8 {
        let mut f = 0;
        if self.joined {
            f |= Self::FLAG_J;
        }
        if self.last_unicast_mtsn.is_some() {
            f |= Self::FLAG_U;
        }
        if self.sync.is_some() {
            f |= Self::FLAG_S;
        }
        f
    }

    fn value_len(&self) -> usize {
        Self::HEADER_LEN + self.gaps.len() + self.dups.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        let sync = self.sync.unwrap_or_default();
        out.put_u32(self.group_tag.0);
        out.put_u32(self.cumulative_mtsn_ack.0);
        out.put_u32(self.reported_through.0);
        out.put_u32(self.a_grwnd);
        out.put_u16(self.gap_count() as u16);
        out.put_u16(self.dup_count() as u16);
        out.put_u32(self.control_echo);
        out.put_u32(self.timestamp_echo);
        out.put_u32(self.ack_delay_us);
        out.put_u32(self.last_unicast_mtsn.map_or(0, |m| m.0));
        out.put_u32(sync.last_sync_sequence);
        out.put_u32(sync.group_received);
        out.put_u32(sync.sync_received);
        out.put_slice(&self.gaps);
        out.put_slice(&self.dups);
    }
}

impl fmt::Debug for Msack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msack")
            .field("joined", &self.joined)
            .field("group_tag", &self.group_tag)
            .field("cumulative_mtsn_ack", &self.cumulative_mtsn_ack)
            .field("reported_through", &self.reported_through)
            .field("a_grwnd", &self.a_grwnd)
            .field("control_echo", &self.control_echo)
            .field("timestamp_echo", &self.timestamp_echo)
            .field("ack_delay_us", &self.ack_delay_us)
            .field("last_unicast_mtsn", &self.last_unicast_mtsn)
            .field("sync", &self.sync)
            .field("gaps", &self.gap_blocks().collect::<Vec<_>>())
            .field("dups", &self.dup_mtsns().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Msack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MSACK{} cum={} through={} a_grwnd={} ctl={} ts={} delay={}us",
            if self.joined { " J" } else { "" },
            self.cumulative_mtsn_ack,
            self.reported_through,
            self.a_grwnd,
            self.control_echo,
            self.timestamp_echo,
            self.ack_delay_us
        )?;
        if let Some(u) = self.last_unicast_mtsn {
            write!(f, " unicast={u}")?;
        }
        if let Some(s) = self.sync {
            write!(
                f,
                " sync={} rx={}/{}",
                s.last_sync_sequence, s.group_received, s.sync_received
            )?;
        }
        for g in self.gap_blocks() {
            write!(f, " gap={}-{}", g.start, g.end)?;
        }
        for d in self.dup_mtsns() {
            write!(f, " dup={d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// The MSACK of the draft's example "MSACK": member A, J and S set,
    /// cum 999, Reported Through 1004, one gap block 2-5, duplicate 998.
    const VECTOR: [u8; 60] = [
        0xc3, 0x05, 0x00, 0x3c, // type, J|S, length 60
        0x6a, 0x1f, 0x0c, 0x33, // group tag
        0x00, 0x00, 0x03, 0xe7, // cum 999
        0x00, 0x00, 0x03, 0xec, // reported through 1004
        0x00, 0x3f, 0xff, 0x00, // a_grwnd 4194048
        0x00, 0x01, 0x00, 0x01, // 1 gap, 1 dup
        0x00, 0x00, 0x00, 0x01, // control echo 1
        0x05, 0xf5, 0xe4, 0xe8, // timestamp echo 100001000
        0x00, 0x00, 0x00, 0xb4, // ack delay 180 us
        0x00, 0x00, 0x00, 0x00, // last unicast MTSN (U clear)
        0x00, 0x00, 0x00, 0x29, // last sync sequence 41
        0x00, 0x00, 0x01, 0x9c, // group received 412
        0x00, 0x00, 0x00, 0x25, // sync received 37
        0x00, 0x02, 0x00, 0x05, // gap 2-5
        0x00, 0x00, 0x03, 0xe6, // dup 998
    ];

    fn sample() -> Msack {
        Msack::new(
            true,
            VerificationTag(0x6a1f_0c33),
            Mtsn(999),
            Mtsn(1004),
            4_194_048,
            1,
            100_001_000,
            180,
            None,
            Some(SyncSnapshot {
                last_sync_sequence: 41,
                group_received: 412,
                sync_received: 37,
            }),
            &[MsackGapBlock { start: 2, end: 5 }],
            &[Mtsn(998)],
        )
    }

    #[test]
    fn parses_and_round_trips_the_draft_vector() {
        let m = parse_whole::<Msack>(&VECTOR).expect("parses");
        assert_eq!(m, sample());
        let g: Vec<_> = m.gap_blocks().collect();
        assert_eq!(g[0].first(m.cumulative_mtsn_ack), Mtsn(1001));
        assert_eq!(g[0].last(m.cumulative_mtsn_ack), Mtsn(1004));
        assert_eq!(m.dup_mtsns().collect::<Vec<_>>(), vec![Mtsn(998)]);
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn fields_behind_clear_flags_are_ignored() {
        let mut v = VECTOR;
        v[1] = 0x01; // J only: S clear
        v[39] = 0x07; // garbage in Last Unicast MTSN, U clear
        let m = parse_whole::<Msack>(&v).expect("parses");
        assert_eq!(m.sync, None);
        assert_eq!(m.last_unicast_mtsn, None);
        let out = round_trip(&m);
        assert_eq!(&out[36..52], &[0; 16], "written as zero");
    }

    #[test]
    fn u_flag_carries_the_last_unicast_mtsn() {
        let mut v = VECTOR;
        v[1] = 0x07;
        v[39] = 0x07;
        let m = parse_whole::<Msack>(&v).expect("parses");
        assert_eq!(m.last_unicast_mtsn, Some(Mtsn(7)));
        assert_eq!(round_trip(&m), v);
    }

    #[test]
    fn counts_that_disagree_with_the_length_are_an_error() {
        let mut v = VECTOR;
        v[21] = 3; // 3 gap blocks claimed, 1 present
        assert_eq!(
            parse_whole::<Msack>(&v),
            Err(ChunkError::BadLength {
                typ: super::super::MSACK,
                expected: 48 + 12 + 4,
                got: 56
            })
        );
        assert!(matches!(
            Msack::parse_value(0, Bytes::from_static(&[0; 47])),
            Err(ChunkError::TooShort { need: 48, .. })
        ));
    }
}
