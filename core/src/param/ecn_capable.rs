//! ECN Capable parameter (RFC 9260 Appendix A,
//! <https://www.rfc-editor.org/rfc/rfc9260#appendix-A>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Parameter Type = 32768    |     Parameter Length = 4      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! usrsctp offers ECN by default; mcsctp parses the parameter but does not
//! offer ECN itself (see the README), so it never answers with one.

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam, exact};

/// The sender supports ECN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EcnCapable;

impl WireParam for EcnCapable {
    const TYPE: ParamType = ParamType::ECN_CAPABLE;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        exact(Self::TYPE, &value, 0)?;
        Ok(Self)
    }

    fn value_len(&self) -> usize {
        0
    }

    fn write_value<B: BufMut>(&self, _out: &mut B) {}
}

impl fmt::Display for EcnCapable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ECN Capable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        assert_eq!(round_trip(&EcnCapable), [0x80, 0x00, 0x00, 0x04]);
    }
}
