//! HEARTBEAT ACK chunk (RFC 9260 §3.3.6,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.6>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 5    |  Chunk Flags  |    Heartbeat Ack Length       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /          Heartbeat Information TLV (Variable-Length)          /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::heartbeat::parse_info;
use super::{ChunkError, ChunkType, WireChunk};
use crate::param::{HeartbeatInfo, WireParam};

/// A HEARTBEAT ACK: returns the HEARTBEAT's information unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatAck {
    /// The information copied from the HEARTBEAT.
    pub info: HeartbeatInfo,
}

impl WireChunk for HeartbeatAck {
    const TYPE: ChunkType = ChunkType::HEARTBEAT_ACK;

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
        out.put_u16(HeartbeatInfo::TYPE.0);
        out.put_u16(self.info.encoded_len() as u16);
        self.info.write_value(out);
    }
}

impl fmt::Display for HeartbeatAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HEARTBEAT ACK ({} bytes of info)", self.info.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    const VECTOR: [u8; 12] = [
        0x05, 0x00, 0x00, 0x0c, // type, flags, length 12
        0x00, 0x01, 0x00, 0x08, // Heartbeat Info, length 8
        0xca, 0xfe, 0xba, 0xbe, // info
    ];

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let ack = HeartbeatAck {
            info: HeartbeatInfo(Bytes::from_static(&[0xca, 0xfe, 0xba, 0xbe])),
        };
        assert_eq!(parse_whole::<HeartbeatAck>(&VECTOR).as_ref(), Ok(&ack));
        assert_eq!(round_trip(&ack), VECTOR);
    }
}
