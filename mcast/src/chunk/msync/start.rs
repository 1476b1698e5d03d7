//! Start parameter of MSYNC (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"Start (0x0001)"): the member's Start MTSN.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Type = 0x0001          |          Length = 8           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Start MTSN                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{MsyncParamError, MsyncParamType, WireMsyncParam, exact};
use crate::Mtsn;
use crate::chunk::be32;

/// The member's Start MTSN (draft §"Server: Start MTSN").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Start {
    /// The first MTSN the member is responsible for.
    pub start_mtsn: Mtsn,
}

impl WireMsyncParam for Start {
    const TYPE: MsyncParamType = MsyncParamType::START;

    fn parse_value(value: Bytes) -> Result<Self, MsyncParamError> {
        exact(Self::TYPE, &value, 4)?;
        Ok(Self {
            start_mtsn: Mtsn(be32(&value, 0)),
        })
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.start_mtsn.0);
    }
}

impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Start {}", self.start_mtsn)
    }
}
