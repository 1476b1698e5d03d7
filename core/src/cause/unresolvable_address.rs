//! Unresolvable Address error cause (RFC 9260 §3.3.10.5,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.5>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 5         |    Cause Length = Variable    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                     Unresolvable Address                      /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause};

/// The Unresolvable Address cause: the sender cannot resolve an address; it carries the whole address parameter (type, length, value) that could not be resolved, such as a Host Name Address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnresolvableAddress {
    /// The complete address parameter TLV, header included.
    pub address: Bytes,
}

impl WireCause for UnresolvableAddress {
    const CODE: CauseCode = CauseCode::UNRESOLVABLE_ADDRESS;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        Ok(Self { address: value })
    }

    fn value_len(&self) -> usize {
        self.address.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.address);
    }
}

impl fmt::Display for UnresolvableAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unresolvable Address ({} bytes)", self.address.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = UnresolvableAddress {
            address: Bytes::from_static(&[0, 11, 0, 6, b'h', b'i', 0, 0]),
        };
        assert_eq!(round_trip(&c), [0, 5, 0, 12, 0, 11, 0, 6, b'h', b'i', 0, 0]);
        round_trip(&UnresolvableAddress::default());
    }
}
