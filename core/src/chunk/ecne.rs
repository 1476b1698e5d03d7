//! ECNE chunk (RFC 9260 Appendix A,
//! <https://www.rfc-editor.org/rfc/rfc9260#appendix-A>; the optional second
//! word is from draft-stewart-tsvwg-sctpecn §3, which usrsctp sends).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 12   |  Chunk Flags  |        Length = 8 or 12       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Lowest TSN Number                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Number of Packets Since Last CWR (optional)            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! mcsctp does not offer ECN (see the README); the chunk is parsed so that a
//! peer that sends one anyway is understood.

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be32, need};
use crate::serial::Tsn;

/// An ECN Echo: the receiver saw Congestion Experienced marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ecne {
    /// Lowest TSN Number of the marked packet.
    pub lowest_tsn: Tsn,
    /// Number of packets marked since the last CWR, when present.
    pub packets_since_cwr: Option<u32>,
}

impl WireChunk for Ecne {
    const TYPE: ChunkType = ChunkType::ECNE;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, 4)?;
        let packets_since_cwr = match value.len() {
            4 => None,
            8 => Some(be32(&value, 4)),
            got => {
                return Err(ChunkError::BadLength {
                    typ: Self::TYPE,
                    expected: 8,
                    got,
                });
            }
        };
        Ok(Self {
            lowest_tsn: Tsn(be32(&value, 0)),
            packets_since_cwr,
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        if self.packets_since_cwr.is_some() {
            8
        } else {
            4
        }
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.lowest_tsn.0);
        if let Some(n) = self.packets_since_cwr {
            out.put_u32(n);
        }
    }
}

impl fmt::Display for Ecne {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ECNE lowest_tsn={}", self.lowest_tsn)?;
        if let Some(n) = self.packets_since_cwr {
            write!(f, " packets={n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};

    #[test]
    fn parses_and_round_trips_both_layouts() {
        let v = [0x0c, 0x00, 0x00, 0x08, 0, 0, 0, 9];
        let c = Ecne {
            lowest_tsn: Tsn(9),
            packets_since_cwr: None,
        };
        assert_eq!(parse_whole::<Ecne>(&v), Ok(c));
        assert_eq!(round_trip(&c), v);
        let v = [0x0c, 0x00, 0x00, 0x0c, 0, 0, 0, 9, 0, 0, 0, 3];
        let c = Ecne {
            lowest_tsn: Tsn(9),
            packets_since_cwr: Some(3),
        };
        assert_eq!(parse_whole::<Ecne>(&v), Ok(c));
        assert_eq!(round_trip(&c), v);
    }

    #[test]
    fn other_lengths_are_an_error() {
        assert!(Ecne::parse_value(0, Bytes::from_static(&[0; 6])).is_err());
        assert!(Ecne::parse_value(0, Bytes::from_static(&[0; 2])).is_err());
    }
}
