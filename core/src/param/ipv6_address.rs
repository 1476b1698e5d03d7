//! IPv6 Address parameter (RFC 9260 §3.3.2.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.2.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Type = 6            |          Length = 20          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! |                         IPv6 Address                          |
//! |                                                               |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;
use std::net::Ipv6Addr;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam, exact};

/// An IPv6 address of the sender of an INIT or INIT ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Address(pub Ipv6Addr);

impl WireParam for Ipv6Address {
    const TYPE: ParamType = ParamType::IPV6_ADDRESS;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        exact(Self::TYPE, &value, 16)?;
        let mut o = [0u8; 16];
        o.copy_from_slice(&value);
        Ok(Self(Ipv6Addr::from(o)))
    }

    fn value_len(&self) -> usize {
        16
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.0.octets());
    }
}

impl fmt::Display for Ipv6Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IPv6 Address {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = Ipv6Address(Ipv6Addr::LOCALHOST);
        let mut v = vec![0, 6, 0, 20];
        v.extend_from_slice(&[0; 15]);
        v.push(1);
        assert_eq!(round_trip(&p), v);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(Ipv6Address::parse_value(Bytes::from_static(&[0; 4])).is_err());
    }
}
