//! Cookie Received While Shutting Down error cause (RFC 9260 §3.3.10.10,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.10>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 10        |       Cause Length = 4        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause, exact};

/// The Cookie Received While Shutting Down cause: a COOKIE ECHO arrived while the receiver was in SHUTDOWN-ACK-SENT state (RFC 9260 §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CookieReceivedWhileShuttingDown;

impl WireCause for CookieReceivedWhileShuttingDown {
    const CODE: CauseCode = CauseCode::COOKIE_RECEIVED_WHILE_SHUTTING_DOWN;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        exact(Self::CODE, &value, 0)?;
        Ok(Self)
    }

    fn value_len(&self) -> usize {
        0
    }

    fn write_value<B: BufMut>(&self, _out: &mut B) {}
}

impl fmt::Display for CookieReceivedWhileShuttingDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie Received While Shutting Down")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        assert_eq!(round_trip(&CookieReceivedWhileShuttingDown), [0, 10, 0, 4]);
    }

    #[test]
    fn a_value_is_an_error() {
        assert!(CookieReceivedWhileShuttingDown::parse_value(Bytes::from_static(&[0])).is_err());
    }
}
