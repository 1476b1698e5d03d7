//! SHUTDOWN ACK chunk (RFC 9260 §3.3.9,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.9>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 8    |  Chunk Flags  |          Length = 4           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, exact};

/// A SHUTDOWN ACK: acknowledges a SHUTDOWN once all outstanding data is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ShutdownAck;

impl WireChunk for ShutdownAck {
    const TYPE: ChunkType = ChunkType::SHUTDOWN_ACK;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        exact(Self::TYPE, &value, 0)?;
        Ok(Self)
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        0
    }

    fn write_value<B: BufMut>(&self, _out: &mut B) {}
}

impl fmt::Display for ShutdownAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHUTDOWN ACK")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let v = [8, 0x00, 0x00, 0x04];
        assert_eq!(parse_whole::<ShutdownAck>(&v), Ok(ShutdownAck));
        assert_eq!(round_trip(&ShutdownAck), v);
    }

    #[test]
    fn a_value_is_an_error() {
        assert!(ShutdownAck::parse_value(0, Bytes::from_static(&[0; 4])).is_err());
    }
}
