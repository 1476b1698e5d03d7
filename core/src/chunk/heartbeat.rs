//! HEARTBEAT chunk (RFC 9260 §3.3.5,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.5>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 4    |  Chunk Flags  |      Heartbeat Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /          Heartbeat Information TLV (Variable-Length)          /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk};
use crate::param::{HeartbeatInfo, ParamError, Params, WireParam};

/// Parses the single Heartbeat Information TLV of HEARTBEAT and HEARTBEAT
/// ACK.
pub(crate) fn parse_info(typ: ChunkType, value: Bytes) -> Result<HeartbeatInfo, ChunkError> {
    let params = Params::parse(value)?;
    match params.find::<HeartbeatInfo>() {
        Some(r) => Ok(r?),
        None => Err(ChunkError::Param(ParamError::InvalidField {
            typ: HeartbeatInfo::TYPE,
            what: match typ {
                ChunkType::HEARTBEAT => "HEARTBEAT without Heartbeat Information",
                _ => "HEARTBEAT ACK without Heartbeat Information",
            },
        })),
    }
}

/// A HEARTBEAT: probes reachability; the peer echoes `info` back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The sender-specific information to be echoed.
    pub info: HeartbeatInfo,
}

impl WireChunk for Heartbeat {
    const TYPE: ChunkType = ChunkType::HEARTBEAT;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        Ok(Self {
            info: parse_info(Self::TYPE, value)?,
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        self.info.encoded_len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        // The TLV is the last (only) element; its padding is chunk padding.
        out.put_u16(HeartbeatInfo::TYPE.0);
        out.put_u16(self.info.encoded_len() as u16);
        self.info.write_value(out);
    }
}

impl fmt::Display for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HEARTBEAT ({} bytes of info)", self.info.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// RFC 9260 §3.3.5: HEARTBEAT with a 6-byte Heartbeat Info (TLV length
    /// 10, chunk length 14, 2 bytes of chunk padding).
    const VECTOR: [u8; 16] = [
        0x04, 0x00, 0x00, 0x0e, // type, flags, length 14
        0x00, 0x01, 0x00, 0x0a, // Heartbeat Info, length 10
        1, 2, 3, 4, 5, 6, 0, 0, // info + padding
    ];

    fn sample() -> Heartbeat {
        Heartbeat {
            info: HeartbeatInfo(Bytes::from_static(&[1, 2, 3, 4, 5, 6])),
        }
    }

    #[test]
    fn parses_rfc_layout_vector() {
        assert_eq!(parse_whole::<Heartbeat>(&VECTOR), Ok(sample()));
    }

    #[test]
    fn round_trips_to_the_same_bytes() {
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn missing_info_is_an_error() {
        assert!(Heartbeat::parse_value(0, Bytes::new()).is_err());
        assert!(Heartbeat::parse_value(0, Bytes::from_static(&[0, 5, 0, 8, 1, 2, 3, 4])).is_err());
    }
}
