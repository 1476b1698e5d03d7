//! Invalid Mandatory Parameter error cause (RFC 9260 §3.3.10.7,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.7>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 7         |       Cause Length = 4        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause, exact};

/// The Invalid Mandatory Parameter cause: a mandatory field or parameter of an INIT or INIT ACK holds an invalid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InvalidMandatoryParameter;

impl WireCause for InvalidMandatoryParameter {
    const CODE: CauseCode = CauseCode::INVALID_MANDATORY_PARAMETER;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        exact(Self::CODE, &value, 0)?;
        Ok(Self)
    }

    fn value_len(&self) -> usize {
        0
    }

    fn write_value<B: BufMut>(&self, _out: &mut B) {}
}

impl fmt::Display for InvalidMandatoryParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid Mandatory Parameter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        assert_eq!(round_trip(&InvalidMandatoryParameter), [0, 7, 0, 4]);
    }

    #[test]
    fn a_value_is_an_error() {
        assert!(InvalidMandatoryParameter::parse_value(Bytes::from_static(&[0])).is_err());
    }
}
