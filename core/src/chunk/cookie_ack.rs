//! COOKIE ACK chunk (RFC 9260 §3.3.12,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.12>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 11   |  Chunk Flags  |          Length = 4           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, exact};

/// A COOKIE ACK: acknowledges a COOKIE ECHO; the last chunk of the four-way handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CookieAck;

impl WireChunk for CookieAck {
    const TYPE: ChunkType = ChunkType::COOKIE_ACK;

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

impl fmt::Display for CookieAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("COOKIE ACK")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let v = [11, 0x00, 0x00, 0x04];
        assert_eq!(parse_whole::<CookieAck>(&v), Ok(CookieAck));
        assert_eq!(round_trip(&CookieAck), v);
    }

    #[test]
    fn a_value_is_an_error() {
        assert!(CookieAck::parse_value(0, Bytes::from_static(&[0; 4])).is_err());
    }
}
