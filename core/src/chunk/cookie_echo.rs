//! COOKIE ECHO chunk (RFC 9260 §3.3.11,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.11>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 10   |  Chunk Flags  |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                            Cookie                             /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! "The COOKIE ECHO chunk [...] MUST be the first chunk in the packet" -
//! enforced by the packet parser and builder.

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk};

/// A COOKIE ECHO: returns the State Cookie of the INIT ACK, unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CookieEcho {
    /// The cookie, a zero-copy slice of the packet.
    pub cookie: Bytes,
}

impl WireChunk for CookieEcho {
    const TYPE: ChunkType = ChunkType::COOKIE_ECHO;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        Ok(Self { cookie: value })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        self.cookie.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.cookie);
    }
}

impl fmt::Display for CookieEcho {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "COOKIE ECHO ({} bytes)", self.cookie.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let v = [0x0a, 0x00, 0x00, 0x07, b'x', b'y', b'z', 0x00];
        let c = CookieEcho {
            cookie: Bytes::from_static(b"xyz"),
        };
        assert_eq!(parse_whole::<CookieEcho>(&v), Ok(c.clone()));
        assert_eq!(round_trip(&c), v);
    }
}
