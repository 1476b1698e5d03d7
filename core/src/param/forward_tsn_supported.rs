//! Forward-TSN-Supported parameter (RFC 3758 §3.1,
//! <https://www.rfc-editor.org/rfc/rfc3758#section-3.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Parameter Type = 49152     |  Parameter Length = 4         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam, exact};

/// The sender supports PR-SCTP (RFC 3758).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ForwardTsnSupported;

impl WireParam for ForwardTsnSupported {
    const TYPE: ParamType = ParamType::FORWARD_TSN_SUPPORTED;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        exact(Self::TYPE, &value, 0)?;
        Ok(Self)
    }

    fn value_len(&self) -> usize {
        0
    }

    fn write_value<B: BufMut>(&self, _out: &mut B) {}
}

impl fmt::Display for ForwardTsnSupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Forward-TSN-Supported")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        assert_eq!(round_trip(&ForwardTsnSupported), [0xc0, 0x00, 0x00, 0x04]);
        assert!(ForwardTsnSupported::parse_value(Bytes::from_static(&[0])).is_err());
    }
}
