//! SACK chunk (RFC 9260 §3.3.4,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.4>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 3    |  Chunk Flags  |         Chunk Length          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Cumulative TSN Ack                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Advertised Receiver Window Credit (a_rwnd)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Number of Gap Ack Blocks = N  |  Number of Duplicate TSNs = M |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Gap Ack Block #1 Start     |     Gap Ack Block #1 End      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                                                               /
//! \                              ...                              \
//! /                                                               /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Gap Ack Block #N Start     |     Gap Ack Block #N End      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Duplicate TSN 1                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                                                               /
//! \                              ...                              \
//! /                                                               /
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Duplicate TSN M                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be16, be32, need};
use crate::serial::Tsn;

/// A Gap Ack Block: TSNs `cum + start ..= cum + end` were received
/// (offsets relative to the Cumulative TSN Ack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GapBlock {
    /// Gap Ack Block Start offset.
    pub start: u16,
    /// Gap Ack Block End offset.
    pub end: u16,
}

impl GapBlock {
    /// First TSN the block acknowledges.
    pub fn first(&self, cum: Tsn) -> Tsn {
        cum.wrapping_add(u32::from(self.start))
    }

    /// Last TSN the block acknowledges.
    pub fn last(&self, cum: Tsn) -> Tsn {
        cum.wrapping_add(u32::from(self.end))
    }
}

/// A SACK: cumulative TSN, window, gap blocks and duplicate TSNs. Gap blocks
/// and duplicates stay a zero-copy slice of the packet and are read with
/// [`Sack::gap_blocks`] and [`Sack::dup_tsns`].
#[derive(Clone, PartialEq, Eq)]
pub struct Sack {
    /// Cumulative TSN Ack.
    pub cumulative_tsn_ack: Tsn,
    /// Advertised Receiver Window Credit, in bytes.
    pub a_rwnd: u32,
    gaps: Bytes,
    dups: Bytes,
}

impl Sack {
    /// Length of the fixed fields after the chunk header.
    pub const HEADER_LEN: usize = 12;

    /// Builds a SACK. RFC 9260 §3.3.4 leaves the number of blocks to the
    /// sender; the caller keeps it within the path MTU.
    pub fn new(cumulative_tsn_ack: Tsn, a_rwnd: u32, gaps: &[GapBlock], dups: &[Tsn]) -> Self {
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
            cumulative_tsn_ack,
            a_rwnd,
            gaps: g.into(),
            dups: d.into(),
        }
    }

    /// The Gap Ack Blocks, in wire order.
    pub fn gap_blocks(&self) -> impl ExactSizeIterator<Item = GapBlock> + '_ {
        self.gaps.chunks_exact(4).map(|c| GapBlock {
            start: be16(c, 0),
            end: be16(c, 2),
        })
    }

    /// The Duplicate TSNs, in wire order.
    pub fn dup_tsns(&self) -> impl ExactSizeIterator<Item = Tsn> + '_ {
        self.dups.chunks_exact(4).map(|c| Tsn(be32(c, 0)))
    }

    /// Number of Gap Ack Blocks.
    pub fn gap_count(&self) -> usize {
        self.gaps.len() / 4
    }

    /// Number of Duplicate TSNs.
    pub fn dup_count(&self) -> usize {
        self.dups.len() / 4
    }
}

impl WireChunk for Sack {
    const TYPE: ChunkType = ChunkType::SACK;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, Self::HEADER_LEN)?;
        let n_gaps = usize::from(be16(&value, 8));
        let n_dups = usize::from(be16(&value, 10));
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
            cumulative_tsn_ack: Tsn(be32(&value, 0)),
            a_rwnd: be32(&value, 4),
            gaps: value.slice(Self::HEADER_LEN..gaps_end),
            dups: value.slice(gaps_end..),
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        Self::HEADER_LEN + self.gaps.len() + self.dups.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.cumulative_tsn_ack.0);
        out.put_u32(self.a_rwnd);
        out.put_u16(self.gap_count() as u16);
        out.put_u16(self.dup_count() as u16);
        out.put_slice(&self.gaps);
        out.put_slice(&self.dups);
    }
}

impl fmt::Debug for Sack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sack")
            .field("cumulative_tsn_ack", &self.cumulative_tsn_ack)
            .field("a_rwnd", &self.a_rwnd)
            .field("gaps", &self.gap_blocks().collect::<Vec<_>>())
            .field("dups", &self.dup_tsns().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Sack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SACK cum={} a_rwnd={}",
            self.cumulative_tsn_ack, self.a_rwnd
        )?;
        for g in self.gap_blocks() {
            write!(f, " gap={}-{}", g.start, g.end)?;
        }
        for d in self.dup_tsns() {
            write!(f, " dup={d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// Written from the RFC 9260 §3.3.4 layout: cumulative TSN 1000, a_rwnd
    /// 65536, two gap blocks (2-3, 5-5), one duplicate TSN 999.
    const VECTOR: [u8; 28] = [
        0x03, 0x00, 0x00, 0x1c, // type, flags, length 28
        0x00, 0x00, 0x03, 0xe8, // cumulative TSN ack 1000
        0x00, 0x01, 0x00, 0x00, // a_rwnd 65536
        0x00, 0x02, 0x00, 0x01, // 2 gap blocks, 1 duplicate
        0x00, 0x02, 0x00, 0x03, // gap 2..3
        0x00, 0x05, 0x00, 0x05, // gap 5..5
        0x00, 0x00, 0x03, 0xe7, // dup 999
    ];

    fn sample() -> Sack {
        Sack::new(
            Tsn(1000),
            65536,
            &[GapBlock { start: 2, end: 3 }, GapBlock { start: 5, end: 5 }],
            &[Tsn(999)],
        )
    }

    #[test]
    fn parses_rfc_layout_vector() {
        let s = parse_whole::<Sack>(&VECTOR).expect("parses");
        assert_eq!(s, sample());
        let gaps: Vec<_> = s.gap_blocks().collect();
        assert_eq!(gaps[0].first(s.cumulative_tsn_ack), Tsn(1002));
        assert_eq!(gaps[1].last(s.cumulative_tsn_ack), Tsn(1005));
        assert_eq!(s.dup_tsns().collect::<Vec<_>>(), vec![Tsn(999)]);
    }

    #[test]
    fn round_trips_to_the_same_bytes() {
        assert_eq!(round_trip(&sample()), VECTOR);
        round_trip(&Sack::new(Tsn(u32::MAX), 0, &[], &[]));
    }

    #[test]
    fn counts_that_disagree_with_the_length_are_an_error() {
        let mut v = VECTOR;
        v[13] = 9; // 9 gap blocks claimed, 2 present
        assert_eq!(
            parse_whole::<Sack>(&v),
            Err(ChunkError::BadLength {
                typ: ChunkType::SACK,
                expected: 12 + 36 + 4,
                got: 24
            })
        );
        v[13] = 1; // fewer claimed than present: trailing bytes
        assert!(matches!(
            parse_whole::<Sack>(&v),
            Err(ChunkError::BadLength { .. })
        ));
    }
}
