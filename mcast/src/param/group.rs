//! Multicast-Group parameter (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"Multicast-Group Parameter (0xC00A)"), which places an association in
//! a group in the server's INIT ACK.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       Type = 0xC00A           |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Group Verification Tag                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Initial MTSN                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Group UDP Port         |    Family     | Reserved  |A|S|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Sync Interval (ms)       | Number of Stream Ranges = N   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                Group Address (4 or 16 octets)                 \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                Source Address (4 or 16 octets)                \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       First Stream #1         |        Last Stream #1         |
//! /                              ...                              /
//! |       First Stream #N         |        Last Stream #N         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Every rule the draft states about the parameter's own fields is checked
//! on parse, each failure a typed [`ParamError`]: "A client that finds the
//! parameter invalid does not join the group". Rules that need the rest of
//! the handshake (stream counts, the INIT's Multicast-Capable) are the
//! client's.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes};
use mcsctp_core::param::{ParamError, ParamType, WireParam};
use mcsctp_core::serial::{StreamId, VerificationTag};

use crate::Mtsn;
use crate::chunk::{be16, be32};

/// An inclusive range of group streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamRange {
    /// First stream of the range.
    pub first: StreamId,
    /// Last stream of the range (at or above `first`).
    pub last: StreamId,
}

impl StreamRange {
    /// Whether `s` lies in the range.
    pub fn contains(&self, s: StreamId) -> bool {
        self.first.0 <= s.0 && s.0 <= self.last.0
    }
}

/// The group and source addresses, of one family ("Family: 4 [...], 6
/// [...]. Other values make the parameter invalid").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupAddresses {
    /// Family 4.
    V4 {
        /// The IP multicast address of the group.
        group: Ipv4Addr,
        /// The unicast address the server sends group packets from.
        source: Ipv4Addr,
    },
    /// Family 6.
    V6 {
        /// The IP multicast address of the group.
        group: Ipv6Addr,
        /// The unicast address the server sends group packets from.
        source: Ipv6Addr,
    },
}

impl GroupAddresses {
    /// The Family field.
    pub const fn family(&self) -> u8 {
        match self {
            Self::V4 { .. } => 4,
            Self::V6 { .. } => 6,
        }
    }

    /// Octets of one address.
    const fn addr_len(&self) -> usize {
        match self {
            Self::V4 { .. } => 4,
            Self::V6 { .. } => 16,
        }
    }

    /// The group address.
    pub fn group(&self) -> IpAddr {
        match *self {
            Self::V4 { group, .. } => IpAddr::V4(group),
            Self::V6 { group, .. } => IpAddr::V6(group),
        }
    }

    /// The source address.
    pub fn source(&self) -> IpAddr {
        match *self {
            Self::V4 { source, .. } => IpAddr::V4(source),
            Self::V6 { source, .. } => IpAddr::V6(source),
        }
    }
}

/// A group, as the server announces it to a new member.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MulticastGroup {
    /// The verification tag of every group packet (never 0).
    pub group_tag: VerificationTag,
    /// The MTSN the server would assign next when it built the INIT ACK (a
    /// hint; the Start MTSN arrives in MSYNC).
    pub initial_mtsn: Mtsn,
    /// UDP destination port of group packets.
    pub port: u16,
    /// A: group packets carry an AUTH chunk with the group key.
    pub authenticated: bool,
    /// S: join source-specific.
    pub source_specific: bool,
    /// The longest interval between two group-path MSYNCs, in milliseconds.
    pub sync_interval_ms: u16,
    /// Group and source address.
    pub addresses: GroupAddresses,
    ranges: Bytes,
}

impl MulticastGroup {
    /// Parameter type 0xC00A.
    pub const PARAM_TYPE: ParamType = ParamType(0xC00A);
    /// S flag.
    pub const FLAG_S: u8 = 0x01;
    /// A flag.
    pub const FLAG_A: u8 = 0x02;
    /// Length of the fixed fields before the addresses.
    const FIXED_LEN: usize = 16;

    /// Builds the parameter. The caller supplies valid ranges (ascending,
    /// not overlapping, at least one); a parameter that breaks the rules
    /// serialises, but does not parse back.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        group_tag: VerificationTag,
        initial_mtsn: Mtsn,
        port: u16,
        authenticated: bool,
        source_specific: bool,
        sync_interval_ms: u16,
        addresses: GroupAddresses,
        ranges: &[StreamRange],
    ) -> Self {
        let mut r = Vec::with_capacity(ranges.len() * 4);
        for range in ranges.iter().take(usize::from(u16::MAX)) {
            r.put_u16(range.first.0);
            r.put_u16(range.last.0);
        }
        Self {
            group_tag,
            initial_mtsn,
            port,
            authenticated,
            source_specific,
            sync_interval_ms,
            addresses,
            ranges: r.into(),
        }
    }

    /// The stream ranges, in wire order.
    pub fn stream_ranges(&self) -> impl ExactSizeIterator<Item = StreamRange> + '_ {
        self.ranges.chunks_exact(4).map(|c| StreamRange {
            first: StreamId(be16(c, 0)),
            last: StreamId(be16(c, 2)),
        })
    }

    /// Whether `s` is a group stream.
    pub fn is_group_stream(&self, s: StreamId) -> bool {
        self.stream_ranges().any(|r| r.contains(s))
    }

    fn invalid(what: &'static str) -> ParamError {
        ParamError::InvalidField {
            typ: Self::PARAM_TYPE,
            what,
        }
    }
}

impl WireParam for MulticastGroup {
    const TYPE: ParamType = Self::PARAM_TYPE;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        if value.len() < Self::FIXED_LEN {
            return Err(ParamError::TooShort {
                typ: Self::TYPE,
                need: Self::FIXED_LEN,
                got: value.len(),
            });
        }
        let addr_len = match value[10] {
            4 => 4,
            6 => 16,
            _ => return Err(Self::invalid("Family is neither 4 nor 6")),
        };
        let n = usize::from(be16(&value, 14));
        let expected = Self::FIXED_LEN + 2 * addr_len + 4 * n;
        if value.len() != expected {
            return Err(ParamError::BadLength {
                typ: Self::TYPE,
                expected,
                got: value.len(),
            });
        }
        let a = Self::FIXED_LEN;
        let addresses = if addr_len == 4 {
            let group = Ipv4Addr::new(value[a], value[a + 1], value[a + 2], value[a + 3]);
            let source = Ipv4Addr::new(value[a + 4], value[a + 5], value[a + 6], value[a + 7]);
            GroupAddresses::V4 { group, source }
        } else {
            let mut g = [0; 16];
            let mut s = [0; 16];
            g.copy_from_slice(&value[a..a + 16]);
            s.copy_from_slice(&value[a + 16..a + 32]);
            GroupAddresses::V6 {
                group: Ipv6Addr::from(g),
                source: Ipv6Addr::from(s),
            }
        };
        if !addresses.group().is_multicast() {
            return Err(Self::invalid("Group Address is not a multicast address"));
        }
        let group_tag = VerificationTag(be32(&value, 0));
        if group_tag.0 == 0 {
            return Err(Self::invalid("Group Verification Tag is 0"));
        }
        if n == 0 {
            return Err(Self::invalid("no stream range"));
        }
        let p = Self {
            group_tag,
            initial_mtsn: Mtsn(be32(&value, 4)),
            port: be16(&value, 8),
            authenticated: value[11] & Self::FLAG_A != 0,
            source_specific: value[11] & Self::FLAG_S != 0,
            sync_interval_ms: be16(&value, 12),
            addresses,
            ranges: value.slice(a + 2 * addr_len..),
        };
        // "Ranges MUST be in ascending order, MUST NOT overlap, and MUST
        // satisfy First Stream <= Last Stream."
        let mut prev: Option<StreamRange> = None;
        for r in p.stream_ranges() {
            if r.first.0 > r.last.0 {
                return Err(Self::invalid("stream range with First above Last"));
            }
            if prev.is_some_and(|q| r.first.0 <= q.last.0) {
                return Err(Self::invalid("stream ranges not ascending or overlapping"));
            }
            prev = Some(r);
        }
        Ok(p)
    }

    fn value_len(&self) -> usize {
        Self::FIXED_LEN + 2 * self.addresses.addr_len() + self.ranges.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.group_tag.0);
        out.put_u32(self.initial_mtsn.0);
        out.put_u16(self.port);
        out.put_u8(self.addresses.family());
        let mut flags = 0;
        if self.authenticated {
            flags |= Self::FLAG_A;
        }
        if self.source_specific {
            flags |= Self::FLAG_S;
        }
        out.put_u8(flags);
        out.put_u16(self.sync_interval_ms);
        out.put_u16((self.ranges.len() / 4) as u16);
        match self.addresses {
            GroupAddresses::V4 { group, source } => {
                out.put_slice(&group.octets());
                out.put_slice(&source.octets());
            }
            GroupAddresses::V6 { group, source } => {
                out.put_slice(&group.octets());
                out.put_slice(&source.octets());
            }
        }
        out.put_slice(&self.ranges);
    }
}

impl fmt::Debug for MulticastGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MulticastGroup")
            .field("group_tag", &self.group_tag)
            .field("initial_mtsn", &self.initial_mtsn)
            .field("port", &self.port)
            .field("authenticated", &self.authenticated)
            .field("source_specific", &self.source_specific)
            .field("sync_interval_ms", &self.sync_interval_ms)
            .field("addresses", &self.addresses)
            .field("ranges", &self.stream_ranges().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for MulticastGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Multicast-Group tag={:#010x} {} from {} port {}{}{} initial={} sync={}ms streams",
            self.group_tag.0,
            self.addresses.group(),
            self.addresses.source(),
            self.port,
            if self.authenticated { " A" } else { "" },
            if self.source_specific { " S" } else { "" },
            self.initial_mtsn,
            self.sync_interval_ms
        )?;
        for r in self.stream_ranges() {
            write!(f, " {}-{}", r.first, r.last)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    /// The Multicast-Group of the draft's example "INIT ACK with
    /// Multicast-Group".
    const VECTOR: [u8; 36] = [
        0xc0, 0x0a, 0x00, 0x24, // type, length 36
        0x6a, 0x1f, 0x0c, 0x33, // group tag
        0x00, 0x00, 0x03, 0xd0, // initial MTSN 976
        0x26, 0xb3, 0x04, 0x03, // port 9907, family 4, A|S
        0x00, 0x64, 0x00, 0x02, // sync interval 100 ms, 2 ranges
        0xef, 0x01, 0x02, 0x03, // 239.1.2.3
        0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
        0x00, 0x01, 0x00, 0x01, // 1-1
        0x00, 0x08, 0x00, 0x0f, // 8-15
    ];

    fn range(first: u16, last: u16) -> StreamRange {
        StreamRange {
            first: StreamId(first),
            last: StreamId(last),
        }
    }

    fn sample() -> MulticastGroup {
        MulticastGroup::new(
            VerificationTag(0x6a1f_0c33),
            Mtsn(976),
            9907,
            true,
            true,
            100,
            GroupAddresses::V4 {
                group: Ipv4Addr::new(239, 1, 2, 3),
                source: Ipv4Addr::new(10, 0, 0, 1),
            },
            &[range(1, 1), range(8, 15)],
        )
    }

    fn parse(v: &[u8]) -> Result<MulticastGroup, ParamError> {
        MulticastGroup::parse_value(Bytes::copy_from_slice(&v[4..]))
    }

    #[test]
    fn parses_and_round_trips_the_draft_vector() {
        let p = parse(&VECTOR).expect("parses");
        assert_eq!(p, sample());
        assert!(p.is_group_stream(StreamId(8)) && p.is_group_stream(StreamId(15)));
        assert!(!p.is_group_stream(StreamId(2)));
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn ipv6_round_trips() {
        let p = MulticastGroup::new(
            VerificationTag(7),
            Mtsn(u32::MAX),
            9907,
            false,
            false,
            65535,
            GroupAddresses::V6 {
                group: "ff15::1234".parse().expect("addr"),
                source: "2001:db8::1".parse().expect("addr"),
            },
            &[range(0, 65535)],
        );
        assert_eq!(round_trip(&p).len(), 52 + 4);
    }

    #[test]
    fn every_rule_of_the_draft_is_a_typed_error() {
        let mut v = VECTOR;
        v[14] = 5; // family
        assert!(matches!(parse(&v), Err(ParamError::InvalidField { .. })));
        let mut v = VECTOR;
        v[19] = 3; // three ranges claimed
        assert!(matches!(parse(&v), Err(ParamError::BadLength { .. })));
        let mut v = VECTOR;
        v[20] = 10; // 10.1.2.3 is not multicast
        assert!(matches!(parse(&v), Err(ParamError::InvalidField { .. })));
        let mut v = VECTOR;
        v[4..8].copy_from_slice(&[0; 4]); // tag 0
        assert!(matches!(parse(&v), Err(ParamError::InvalidField { .. })));
        let mut v = VECTOR;
        v[29] = 9; // ranges 9-9 then 8-15: not ascending
        v[31] = 9;
        assert!(matches!(parse(&v), Err(ParamError::InvalidField { .. })));
        let mut v = VECTOR;
        v[33] = 16; // 16-15
        assert!(matches!(parse(&v), Err(ParamError::InvalidField { .. })));
        let mut v = VECTOR[..28].to_vec();
        v[18..20].copy_from_slice(&[0, 0]); // no range at all
        assert!(matches!(parse(&v), Err(ParamError::InvalidField { .. })));
        assert!(matches!(
            MulticastGroup::parse_value(Bytes::from_static(&[0; 15])),
            Err(ParamError::TooShort { need: 16, .. })
        ));
    }

    #[test]
    fn reserved_flags_are_ignored() {
        let mut v = VECTOR;
        v[15] = 0xfc | 0x01; // S only, reserved bits set
        let p = parse(&v).expect("parses");
        assert!(p.source_specific && !p.authenticated);
        assert_eq!(round_trip(&p)[15], 0x01);
    }
}
