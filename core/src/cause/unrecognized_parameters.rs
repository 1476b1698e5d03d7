//! Unrecognized Parameters error cause (RFC 9260 §3.3.10.8,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.8>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 8         |    Cause Length = Variable    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                    Unrecognized Parameters                    /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause};

/// The Unrecognized Parameters cause: returned in an ERROR bundled with a COOKIE ECHO or ACK when the INIT ACK held parameters the receiver did not understand; it carries their complete TLVs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnrecognizedParameters {
    /// The unrecognized parameters, each a complete TLV.
    pub params: Bytes,
}

impl WireCause for UnrecognizedParameters {
    const CODE: CauseCode = CauseCode::UNRECOGNIZED_PARAMETERS;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        Ok(Self { params: value })
    }

    fn value_len(&self) -> usize {
        self.params.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.params);
    }
}

impl fmt::Display for UnrecognizedParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unrecognized Parameters ({} bytes)", self.params.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = UnrecognizedParameters {
            params: Bytes::from_static(&[193, 35, 0, 4]),
        };
        assert_eq!(round_trip(&c), [0, 8, 0, 8, 193, 35, 0, 4]);
        round_trip(&UnrecognizedParameters::default());
    }
}
