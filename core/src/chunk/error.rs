//! ERROR (Operation Error) chunk (RFC 9260 §3.3.10,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 9    |  Chunk Flags  |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                    one or more Error Causes                   /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk};
use crate::cause::{Causes, ErrorCause};

/// An ERROR chunk: reports conditions that do not end the association.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorChunk {
    /// The error causes, a zero-copy view of the packet.
    pub causes: Causes,
}

impl ErrorChunk {
    /// An ERROR carrying the given causes.
    pub fn new<'a>(causes: impl IntoIterator<Item = &'a ErrorCause>) -> Self {
        Self {
            causes: Causes::from_causes(causes),
        }
    }
}

impl WireChunk for ErrorChunk {
    const TYPE: ChunkType = ChunkType::ERROR;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        // "one or more Error Causes": an empty ERROR says nothing but harms
        // nothing, so it is accepted and ignored by the association.
        Ok(Self {
            causes: Causes::parse(value)?,
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        self.causes.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(self.causes.as_bytes());
    }
}

impl fmt::Display for ErrorChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR {}", self.causes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{StaleCookie, UnrecognizedChunkType};
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// RFC 9260 §3.3.10 + §3.3.10.6: ERROR reporting an unrecognized chunk
    /// of type 0x49 with an empty value (cause length 8).
    const VECTOR: [u8; 12] = [
        0x09, 0x00, 0x00, 0x0c, // type, flags, length 12
        0x00, 0x06, 0x00, 0x08, // cause 6, length 8
        0x49, 0x00, 0x00, 0x04, // the unrecognized chunk
    ];

    fn sample() -> ErrorChunk {
        ErrorChunk::new([&UnrecognizedChunkType {
            chunk: Bytes::from_static(&[0x49, 0, 0, 4]),
        }
        .into()])
    }

    #[test]
    fn parses_rfc_layout_vector() {
        assert_eq!(parse_whole::<ErrorChunk>(&VECTOR), Ok(sample()));
    }

    #[test]
    fn round_trips_to_the_same_bytes() {
        assert_eq!(round_trip(&sample()), VECTOR);
        round_trip(&ErrorChunk::new([
            &StaleCookie { staleness_us: 5 }.into(),
            &UnrecognizedChunkType::default().into(),
        ]));
    }
}
