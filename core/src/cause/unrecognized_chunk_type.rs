//! Unrecognized Chunk Type error cause (RFC 9260 §3.3.10.6,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.6>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 6         |    Cause Length = Variable    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                      Unrecognized Chunk                       /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause};

/// The Unrecognized Chunk Type cause: the receiver did not understand a chunk whose type's high bits asked for a report; it carries the whole chunk as received (type, flags, length, value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnrecognizedChunkType {
    /// The unrecognized chunk: its header and value (RFC 9260 §3.3.10.6: "the Unrecognized Chunk field contains the unrecognized chunk from the SCTP packet complete with Chunk Type, Chunk Flags, and Chunk Length").
    pub chunk: Bytes,
}

impl WireCause for UnrecognizedChunkType {
    const CODE: CauseCode = CauseCode::UNRECOGNIZED_CHUNK_TYPE;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        Ok(Self { chunk: value })
    }

    fn value_len(&self) -> usize {
        self.chunk.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.chunk);
    }
}

impl fmt::Display for UnrecognizedChunkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unrecognized Chunk Type ({} bytes)", self.chunk.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = UnrecognizedChunkType {
            chunk: Bytes::from_static(&[73, 0, 0, 4]),
        };
        assert_eq!(round_trip(&c), [0, 6, 0, 8, 73, 0, 0, 4]);
        round_trip(&UnrecognizedChunkType::default());
    }
}
