//! Out of Resource error cause (RFC 9260 §3.3.10.4,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.4>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 4         |       Cause Length = 4        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause, exact};

/// The Out of Resource cause: the sender is out of resources; usually sent in an ABORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OutOfResource;

impl WireCause for OutOfResource {
    const CODE: CauseCode = CauseCode::OUT_OF_RESOURCE;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        exact(Self::CODE, &value, 0)?;
        Ok(Self)
    }

    fn value_len(&self) -> usize {
        0
    }

    fn write_value<B: BufMut>(&self, _out: &mut B) {}
}

impl fmt::Display for OutOfResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Out of Resource")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        assert_eq!(round_trip(&OutOfResource), [0, 4, 0, 4]);
    }

    #[test]
    fn a_value_is_an_error() {
        assert!(OutOfResource::parse_value(Bytes::from_static(&[0])).is_err());
    }
}
