//! Stale Cookie error cause (RFC 9260 §3.3.10.3,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.3>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 3         |       Cause Length = 8        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Measure of Staleness (usec.)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause, exact};
use crate::chunk::be32;

/// A COOKIE ECHO carried an expired cookie (RFC 9260 §5.1.5, §5.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StaleCookie {
    /// "The difference, in microseconds, between the current time and the
    /// time the State Cookie expired."
    pub staleness_us: u32,
}

impl WireCause for StaleCookie {
    const CODE: CauseCode = CauseCode::STALE_COOKIE;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        exact(Self::CODE, &value, 4)?;
        Ok(Self {
            staleness_us: be32(&value, 0),
        })
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.staleness_us);
    }
}

impl fmt::Display for StaleCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stale Cookie ({} us)", self.staleness_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = StaleCookie {
            staleness_us: 1_000_000,
        };
        assert_eq!(round_trip(&c), [0, 3, 0, 8, 0x00, 0x0f, 0x42, 0x40]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(StaleCookie::parse_value(Bytes::from_static(&[0; 5])).is_err());
    }
}
