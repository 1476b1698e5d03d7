//! Protocol Violation error cause (RFC 9260 §3.3.10.13,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.13>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 13        |    Cause Length = Variable    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                    Additional Information                     /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause};

/// The Protocol Violation cause: the receiver detected a protocol violation; it may carry free-form information on what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ProtocolViolation {
    /// Free-form additional information.
    pub info: Bytes,
}

impl WireCause for ProtocolViolation {
    const CODE: CauseCode = CauseCode::PROTOCOL_VIOLATION;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        Ok(Self { info: value })
    }

    fn value_len(&self) -> usize {
        self.info.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.info);
    }
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol Violation ({} bytes)", self.info.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = ProtocolViolation {
            info: Bytes::from_static(b"bad!!"),
        };
        assert_eq!(
            round_trip(&c),
            [0, 13, 0, 9, b'b', b'a', b'd', b'!', b'!', 0, 0, 0]
        );
        round_trip(&ProtocolViolation::default());
    }
}
