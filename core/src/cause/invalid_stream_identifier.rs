//! Invalid Stream Identifier error cause (RFC 9260 §3.3.10.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 1         |       Cause Length = 8        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       Stream Identifier       |          (Reserved)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause, exact};
use crate::chunk::be16;
use crate::serial::StreamId;

/// DATA arrived for a stream that does not exist (RFC 9260 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvalidStreamIdentifier {
    /// The offending stream.
    pub stream: StreamId,
}

impl WireCause for InvalidStreamIdentifier {
    const CODE: CauseCode = CauseCode::INVALID_STREAM_IDENTIFIER;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        exact(Self::CODE, &value, 4)?;
        // The reserved half is ignored on receipt.
        Ok(Self {
            stream: StreamId(be16(&value, 0)),
        })
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u16(self.stream.0);
        out.put_u16(0);
    }
}

impl fmt::Display for InvalidStreamIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid Stream Identifier {}", self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = InvalidStreamIdentifier {
            stream: StreamId(0x0102),
        };
        assert_eq!(round_trip(&c), [0, 1, 0, 8, 1, 2, 0, 0]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(InvalidStreamIdentifier::parse_value(Bytes::from_static(&[0, 1])).is_err());
    }
}
