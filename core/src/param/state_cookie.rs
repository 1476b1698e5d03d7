//! State Cookie parameter (RFC 9260 §3.3.3.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.3.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Type = 7            |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                            Cookie                             /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam};

/// The opaque state cookie an INIT ACK carries and a COOKIE ECHO returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateCookie(pub Bytes);

impl WireParam for StateCookie {
    const TYPE: ParamType = ParamType::STATE_COOKIE;

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

impl fmt::Display for StateCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "State Cookie ({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = StateCookie(Bytes::from_static(b"abcdef"));
        assert_eq!(
            round_trip(&p),
            [0, 7, 0, 10, b'a', b'b', b'c', b'd', b'e', b'f', 0, 0]
        );
        round_trip(&StateCookie(Bytes::new()));
    }
}
