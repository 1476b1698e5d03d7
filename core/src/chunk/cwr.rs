//! CWR chunk (RFC 9260 Appendix A,
//! <https://www.rfc-editor.org/rfc/rfc9260#appendix-A>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 13   |  Chunk Flags  |          Length = 8           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Lowest TSN Number                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be32, exact};
use crate::serial::Tsn;

/// A CWR: Congestion Window Reduced, the answer to an ECNE. mcsctp does not offer ECN, but usrsctp does, so the chunk is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cwr {
    /// Lowest TSN Number: the TSN an ECNE reported, acknowledging the window reduction.
    pub lowest_tsn: Tsn,
    /// Chunk flags as received (none are defined; kept for fidelity).
    pub flags: u8,
}

impl WireChunk for Cwr {
    const TYPE: ChunkType = ChunkType::CWR;

    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        exact(Self::TYPE, &value, 4)?;
        Ok(Self {
            lowest_tsn: Tsn(be32(&value, 0)),
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
        out.put_u32(self.lowest_tsn.0);
    }
}

impl fmt::Display for Cwr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CWR lowest_tsn={}", self.lowest_tsn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    #[test]
    fn parses_and_round_trips_rfc_layout_vector() {
        let v = [13, 0x00, 0x00, 0x08, 0x80, 0x00, 0x00, 0x01];
        let c = Cwr {
            lowest_tsn: Tsn(0x8000_0001),
            flags: 0,
        };
        assert_eq!(parse_whole::<Cwr>(&v), Ok(c));
        assert_eq!(round_trip(&c), v);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(Cwr::parse_value(0, Bytes::from_static(&[0; 3])).is_err());
        assert!(Cwr::parse_value(0, Bytes::from_static(&[0; 8])).is_err());
    }
}
