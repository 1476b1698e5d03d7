//! SHUTDOWN COMPLETE chunk (RFC 9260 §3.3.13,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.13>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 14   | Reserved   |T |          Length = 4           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::abort::T_BIT;
use super::{ChunkError, ChunkType, WireChunk, exact};

/// A SHUTDOWN COMPLETE: ends a graceful shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ShutdownComplete {
    /// T bit: the Verification Tag is the receiver's own, reflected
    /// (RFC 9260 §8.4 item 5, §8.5.1 C).
    pub reflected_tag: bool,
}

impl WireChunk for ShutdownComplete {
    const TYPE: ChunkType = ChunkType::SHUTDOWN_COMPLETE;

    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        exact(Self::TYPE, &value, 0)?;
        Ok(Self {
            reflected_tag: flags & T_BIT != 0,
        })
    }

    fn flags(&self) -> u8 {
        if self.reflected_tag { T_BIT } else { 0 }
    }

    fn value_len(&self) -> usize {
        0
    }

    fn write_value<B: BufMut>(&self, _out: &mut B) {}
}

impl fmt::Display for ShutdownComplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SHUTDOWN COMPLETE{}",
            if self.reflected_tag { " [T]" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let v = [14, 0x01, 0x00, 0x04];
        let c = ShutdownComplete {
            reflected_tag: true,
        };
        assert_eq!(parse_whole::<ShutdownComplete>(&v), Ok(c));
        assert_eq!(round_trip(&c), v);
        assert_eq!(round_trip(&ShutdownComplete::default()), [14, 0, 0, 4]);
    }

    #[test]
    fn a_value_is_an_error() {
        assert!(ShutdownComplete::parse_value(0, Bytes::from_static(&[0; 4])).is_err());
    }
}
