//! MREACH chunk (draft-mcsctp-tsvwg-sctp-multicast-01 §"Multicast
//! Reachability Report (MREACH, 196)"): a member tells the server, on its
//! association, whether its host has joined the IP group.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type = 0xC4  |   Flags = 0   |          Length = 12          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Group Verification Tag                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Status     |    Reason     |           Reserved            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! "Length: Always 12. A receiver discards an MREACH of another length."
//! Unknown Status and Reason values stay values ([`ReachStatus::Unknown`],
//! [`ReachReason::Unknown`]): "The server ignores an MREACH with any other
//! value", "Unknown values are treated as 0" — decisions for the state
//! machine, not parse failures.

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::chunk::{ChunkError, ChunkType, WireChunk};
use mcsctp_core::serial::VerificationTag;

use super::{be32, exact};

/// MREACH Status (draft table "MREACH Status values").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReachStatus {
    /// 1: the member's host has joined the IP group.
    Joined,
    /// 2: the member tried to join and failed.
    JoinFailed,
    /// 3: the member's host is no longer joined.
    Left,
    /// 4: the member leaves the group.
    Resign,
    /// Any other value (the server ignores the MREACH).
    Unknown(u8),
}

impl ReachStatus {
    /// From the wire value.
    pub const fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Joined,
            2 => Self::JoinFailed,
            3 => Self::Left,
            4 => Self::Resign,
            other => Self::Unknown(other),
        }
    }

    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Joined => 1,
            Self::JoinFailed => 2,
            Self::Left => 3,
            Self::Resign => 4,
            Self::Unknown(v) => v,
        }
    }
}

/// MREACH Reason (draft table "MREACH Reason values").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReachReason {
    /// 0: unspecified.
    Unspecified,
    /// 1: no suitable interface or route.
    NoInterface,
    /// 2: address family not supported.
    FamilyNotSupported,
    /// 3: administratively prohibited.
    Prohibited,
    /// 4: resource limit (for example the host's limit on memberships).
    ResourceLimit,
    /// 5: invalid Multicast-Group parameter.
    InvalidGroupParameter,
    /// 6: application request.
    ApplicationRequest,
    /// Any other value ("treated as 0").
    Unknown(u8),
}

impl ReachReason {
    /// From the wire value.
    pub const fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Unspecified,
            1 => Self::NoInterface,
            2 => Self::FamilyNotSupported,
            3 => Self::Prohibited,
            4 => Self::ResourceLimit,
            5 => Self::InvalidGroupParameter,
            6 => Self::ApplicationRequest,
            other => Self::Unknown(other),
        }
    }

    /// The wire value.
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::NoInterface => 1,
            Self::FamilyNotSupported => 2,
            Self::Prohibited => 3,
            Self::ResourceLimit => 4,
            Self::InvalidGroupParameter => 5,
            Self::ApplicationRequest => 6,
            Self::Unknown(v) => v,
        }
    }
}

/// A reachability report (draft §"Multicast Reachability Report (MREACH,
/// 196)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mreach {
    /// The tag of the group the report is about.
    pub group_tag: VerificationTag,
    /// The member's IP-level membership, or its resignation.
    pub status: ReachStatus,
    /// Why a join failed or ended; [`ReachReason::Unspecified`] with
    /// [`ReachStatus::Joined`].
    pub reason: ReachReason,
}

impl Mreach {
    /// Length of the value: tag, status, reason, reserved.
    pub const VALUE_LEN: usize = 8;
}

impl WireChunk for Mreach {
    const TYPE: ChunkType = super::MREACH;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        exact(Self::TYPE, &value, Self::VALUE_LEN)?;
        Ok(Self {
            group_tag: VerificationTag(be32(&value, 0)),
            status: ReachStatus::from_u8(value[4]),
            reason: ReachReason::from_u8(value[5]),
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        Self::VALUE_LEN
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.group_tag.0);
        out.put_u8(self.status.to_u8());
        out.put_u8(self.reason.to_u8());
        out.put_u16(0);
    }
}

impl fmt::Display for Mreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MREACH group={:#010x} status={:?} reason={:?}",
            self.group_tag.0, self.status, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// The MREACH of the draft's example "COOKIE ECHO with MREACH": group
    /// tag 0x6A1F0C33, JOINED, reason 0.
    const VECTOR: [u8; 12] = [
        0xc4, 0x00, 0x00, 0x0c, 0x6a, 0x1f, 0x0c, 0x33, 0x01, 0x00, 0x00, 0x00,
    ];

    fn sample() -> Mreach {
        Mreach {
            group_tag: VerificationTag(0x6a1f_0c33),
            status: ReachStatus::Joined,
            reason: ReachReason::Unspecified,
        }
    }

    #[test]
    fn parses_and_round_trips_the_draft_vector() {
        assert_eq!(parse_whole::<Mreach>(&VECTOR), Ok(sample()));
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn unknown_codes_are_values() {
        let mut v = VECTOR;
        v[8] = 9;
        v[9] = 200;
        let m = parse_whole::<Mreach>(&v).expect("parses");
        assert_eq!(m.status, ReachStatus::Unknown(9));
        assert_eq!(m.reason, ReachReason::Unknown(200));
        assert_eq!(round_trip(&m), v);
        for s in 0..=255u8 {
            assert_eq!(ReachStatus::from_u8(s).to_u8(), s);
            assert_eq!(ReachReason::from_u8(s).to_u8(), s);
        }
    }

    #[test]
    fn another_length_is_an_error() {
        assert!(matches!(
            Mreach::parse_value(0, Bytes::from_static(&[0; 7])),
            Err(ChunkError::TooShort { .. })
        ));
        assert!(matches!(
            Mreach::parse_value(0, Bytes::from_static(&[0; 12])),
            Err(ChunkError::BadLength { expected: 8, .. })
        ));
    }

    #[test]
    fn reserved_bits_are_ignored_and_written_as_zero() {
        let mut v = VECTOR;
        v[1] = 0xff;
        v[10] = 0xab;
        let m = parse_whole::<Mreach>(&v).expect("parses");
        assert_eq!(m, sample());
        assert_eq!(round_trip(&m), VECTOR);
    }
}
