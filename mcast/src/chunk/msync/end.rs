//! End of Membership parameter of MSYNC (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"End of Membership (0x0005)").
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Type = 0x0005          |          Length = 8           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |            Reason             |           Reserved            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{MsyncParamError, MsyncParamType, WireMsyncParam, exact};
use crate::chunk::be16;

/// Why a membership ended (draft table "End of Membership reasons").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// 1: removed by the server's application.
    Removed,
    /// 2: resignation acknowledged (answer to MREACH RESIGN).
    ResignAcknowledged,
    /// 3: backlog limit: the member fell too far behind.
    BacklogLimit,
    /// 4: no progress: the member stopped acknowledging.
    NoProgress,
    /// 5: group deleted.
    GroupDeleted,
    /// 6: rejoin refused: the membership had already ended.
    RejoinRefused,
    /// Any other value ("treated as 1").
    Unknown(u16),
}

impl EndReason {
    /// From the wire value.
    pub const fn from_u16(v: u16) -> Self {
        match v {
            1 => Self::Removed,
            2 => Self::ResignAcknowledged,
            3 => Self::BacklogLimit,
            4 => Self::NoProgress,
            5 => Self::GroupDeleted,
            6 => Self::RejoinRefused,
            other => Self::Unknown(other),
        }
    }

    /// The wire value.
    pub const fn to_u16(self) -> u16 {
        match self {
            Self::Removed => 1,
            Self::ResignAcknowledged => 2,
            Self::BacklogLimit => 3,
            Self::NoProgress => 4,
            Self::GroupDeleted => 5,
            Self::RejoinRefused => 6,
            Self::Unknown(v) => v,
        }
    }
}

/// The membership has ended (draft §"Member Leave, Removal, Abort,
/// Restart and Failure").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndOfMembership {
    /// Why.
    pub reason: EndReason,
}

impl WireMsyncParam for EndOfMembership {
    const TYPE: MsyncParamType = MsyncParamType::END_OF_MEMBERSHIP;

    fn parse_value(value: Bytes) -> Result<Self, MsyncParamError> {
        exact(Self::TYPE, &value, 4)?;
        Ok(Self {
            reason: EndReason::from_u16(be16(&value, 0)),
        })
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u16(self.reason.to_u16());
        out.put_u16(0);
    }
}

impl fmt::Display for EndOfMembership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "End of Membership {:?}", self.reason)
    }
}
