//! SHUTDOWN chunk (RFC 9260 §3.3.8,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.8>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 7    |  Chunk Flags  |          Length = 8           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Cumulative TSN Ack                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be32, exact};
use crate::serial::Tsn;

/// A SHUTDOWN: starts a graceful shutdown and acknowledges data like a SACK without gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shutdown {
    /// Cumulative TSN Ack: the last TSN received in sequence.
    pub cumulative_tsn_ack: Tsn,
    /// Chunk flags as received (none are defined; kept for fidelity).
    pub flags: u8,
}

impl WireChunk for Shutdown {
    const TYPE: ChunkType = ChunkType::SHUTDOWN;

    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        exact(Self::TYPE, &value, 4)?;
        Ok(Self {
            cumulative_tsn_ack: Tsn(be32(&value, 0)),
            flags,
        })
    }

    fn flags(&self) -> u8 {
        self.flags
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.cumulative_tsn_ack.0);
    }
}

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SHUTDOWN cumulative_tsn_ack={}", self.cumulative_tsn_ack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let v = [7, 0x00, 0x00, 0x08, 0x80, 0x00, 0x00, 0x01];
        let c = Shutdown {
            cumulative_tsn_ack: Tsn(0x8000_0001),
            flags: 0,
        };
        assert_eq!(parse_whole::<Shutdown>(&v), Ok(c));
        assert_eq!(round_trip(&c), v);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(Shutdown::parse_value(0, Bytes::from_static(&[0; 3])).is_err());
        assert!(Shutdown::parse_value(0, Bytes::from_static(&[0; 8])).is_err());
    }
}
