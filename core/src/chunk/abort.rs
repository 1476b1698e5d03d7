//! ABORT chunk (RFC 9260 §3.3.7,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.7>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 6    |  Reserved   |T|            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                   zero or more Error Causes                   /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk};
use crate::cause::{Causes, ErrorCause};

/// Flag bit T: "The T bit is set to 0 if the sender filled in the
/// Verification Tag expected by the peer. If the Verification Tag is
/// reflected, the T bit MUST be set to 1."
pub(crate) const T_BIT: u8 = 0x01;

/// An ABORT: closes the association at once, optionally saying why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Abort {
    /// T bit: the packet's Verification Tag is the receiver's own tag,
    /// reflected (RFC 9260 §8.4, §8.5.1), not the peer's.
    pub reflected_tag: bool,
    /// The error causes, a zero-copy view of the packet.
    pub causes: Causes,
}

impl Abort {
    /// An ABORT carrying one cause.
    pub fn with_cause(reflected_tag: bool, cause: &ErrorCause) -> Self {
        Self {
            reflected_tag,
            causes: Causes::from_causes([cause]),
        }
    }
}

impl WireChunk for Abort {
    const TYPE: ChunkType = ChunkType::ABORT;

    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        Ok(Self {
            reflected_tag: flags & T_BIT != 0,
            causes: Causes::parse(value)?,
        })
    }

    fn flags(&self) -> u8 {
        if self.reflected_tag { T_BIT } else { 0 }
    }

    fn value_len(&self) -> usize {
        self.causes.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(self.causes.as_bytes());
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ABORT{}", if self.reflected_tag { " [T]" } else { "" })?;
        if !self.causes.is_empty() {
            write!(f, " {}", self.causes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{ProtocolViolation, UserInitiatedAbort};
    use crate::chunk::test_util::{parse_whole, round_trip};

    /// Written from the RFC 9260 §3.3.7 and §3.3.10.12 layouts: ABORT with
    /// the T bit set, one User-Initiated Abort cause (code 12, length 7,
    /// reason "bye"). The chunk length is 11: RFC 9260 §3.2, the Chunk
    /// Length includes the padding of every parameter "other than the last
    /// parameter in the chunk"; that byte is chunk padding.
    const VECTOR: [u8; 12] = [
        0x06, 0x01, 0x00, 0x0b, // type, flags (T), length 11
        0x00, 0x0c, 0x00, 0x07, // cause 12, length 7
        b'b', b'y', b'e', 0x00, // reason + padding
    ];

    fn sample() -> Abort {
        Abort::with_cause(
            true,
            &UserInitiatedAbort {
                reason: Bytes::from_static(b"bye"),
            }
            .into(),
        )
    }

    #[test]
    fn parses_rfc_layout_vector() {
        let a = parse_whole::<Abort>(&VECTOR).expect("parses");
        assert_eq!(a, sample());
        assert_eq!(
            a.causes.typed().collect::<Vec<_>>(),
            vec![Ok(ErrorCause::UserInitiatedAbort(UserInitiatedAbort {
                reason: Bytes::from_static(b"bye")
            }))]
        );
    }

    #[test]
    fn round_trips_to_the_same_bytes() {
        assert_eq!(round_trip(&sample()), VECTOR);
        round_trip(&Abort::default());
        round_trip(&Abort::with_cause(
            false,
            &ProtocolViolation::default().into(),
        ));
    }

    #[test]
    fn broken_cause_list_is_an_error() {
        let mut v = VECTOR;
        v[7] = 0x20; // the cause claims 32 bytes
        assert!(matches!(
            parse_whole::<Abort>(&v),
            Err(ChunkError::Cause(_))
        ));
    }
}
