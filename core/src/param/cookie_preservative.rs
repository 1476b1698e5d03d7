//! Cookie Preservative parameter (RFC 9260 §3.3.2.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.2.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Type = 9            |          Length = 8           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Suggested Cookie Life-Span Increment (msec.)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam, exact};
use crate::chunk::be32;

/// A request for a longer cookie lifetime, sent after a Stale Cookie error
/// (RFC 9260 §5.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CookiePreservative {
    /// Suggested Cookie Life-Span Increment, in milliseconds.
    pub increment_ms: u32,
}

impl WireParam for CookiePreservative {
    const TYPE: ParamType = ParamType::COOKIE_PRESERVATIVE;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        exact(Self::TYPE, &value, 4)?;
        Ok(Self {
            increment_ms: be32(&value, 0),
        })
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.increment_ms);
    }
}

impl fmt::Display for CookiePreservative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie Preservative +{} ms", self.increment_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = CookiePreservative {
            increment_ms: 0x0102_0304,
        };
        assert_eq!(round_trip(&p), [0, 9, 0, 8, 1, 2, 3, 4]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(CookiePreservative::parse_value(Bytes::from_static(&[0; 3])).is_err());
    }
}
