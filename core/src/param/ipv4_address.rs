//! IPv4 Address parameter (RFC 9260 §3.3.2.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.2.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Type = 5            |          Length = 8           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IPv4 Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;
use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam, exact};

/// An IPv4 address of the sender of an INIT or INIT ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Address(pub Ipv4Addr);

impl WireParam for Ipv4Address {
    const TYPE: ParamType = ParamType::IPV4_ADDRESS;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        exact(Self::TYPE, &value, 4)?;
        Ok(Self(Ipv4Addr::new(value[0], value[1], value[2], value[3])))
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.0.octets());
    }
}

impl fmt::Display for Ipv4Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IPv4 Address {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = Ipv4Address(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(round_trip(&p), [0, 5, 0, 8, 10, 0, 0, 1]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(matches!(
            Ipv4Address::parse_value(Bytes::from_static(&[1, 2, 3])),
            Err(ParamError::TooShort { .. })
        ));
        assert!(matches!(
            Ipv4Address::parse_value(Bytes::from_static(&[1, 2, 3, 4, 5])),
            Err(ParamError::BadLength { .. })
        ));
    }
}
