//! Unrecognized Parameter parameter of INIT ACK (RFC 9260 §3.3.3.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.3.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Type = 8            |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /              Unrecognized Parameter TLV (whole)               /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! "This field is used to return an unrecognized parameter (with the high
//! bits set to 01 or 11) in the INIT chunk. [...] It contains the complete
//! TLV of the unrecognized parameter."

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, Params, RawParam, WireParam};

/// An unrecognised parameter of the peer's INIT, returned whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnrecognizedParameter(pub Bytes);

impl UnrecognizedParameter {
    /// Wraps the whole TLV (header, value, padding) of `p`.
    pub fn from_param(p: &RawParam) -> Self {
        Self(p.to_bytes())
    }

    /// The wrapped parameter, if it is a well-formed TLV.
    pub fn param(&self) -> Option<RawParam> {
        Params::parse(self.0.clone()).ok()?.iter().next()
    }
}

impl WireParam for UnrecognizedParameter {
    const TYPE: ParamType = ParamType::UNRECOGNIZED_PARAMETER;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        Ok(Self(value))
    }

    fn value_len(&self) -> usize {
        self.0.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.0);
    }
}

impl fmt::Display for UnrecognizedParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.param() {
            Some(p) => write!(f, "Unrecognized Parameter {:?}", p.typ),
            None => write!(f, "Unrecognized Parameter ({} bytes)", self.0.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let inner = RawParam {
            typ: ParamType(0xC123),
            value: Bytes::from_static(&[9]),
        };
        let p = UnrecognizedParameter::from_param(&inner);
        assert_eq!(round_trip(&p), [0, 8, 0, 12, 0xc1, 0x23, 0, 5, 9, 0, 0, 0]);
        assert_eq!(p.param(), Some(inner));
    }
}
