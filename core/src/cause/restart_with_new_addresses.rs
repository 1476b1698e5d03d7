//! Restart of an Association with New Addresses error cause (RFC 9260 §3.3.10.11,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.11>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 11        |    Cause Length = Variable    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                       New Address TLVs                        /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause};

/// The Restart of an Association with New Addresses cause: an INIT for an existing association added addresses (RFC 9260 §5.2.1); it carries the new address parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RestartWithNewAddresses {
    /// The new address parameters, each a complete TLV.
    pub addresses: Bytes,
}

impl WireCause for RestartWithNewAddresses {
    const CODE: CauseCode = CauseCode::RESTART_WITH_NEW_ADDRESSES;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        Ok(Self { addresses: value })
    }

    fn value_len(&self) -> usize {
        self.addresses.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.addresses);
    }
}

impl fmt::Display for RestartWithNewAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Restart of an Association with New Addresses ({} bytes)",
            self.addresses.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = RestartWithNewAddresses {
            addresses: Bytes::from_static(&[0, 5, 0, 8, 10, 0, 0, 1]),
        };
        assert_eq!(round_trip(&c), [0, 11, 0, 12, 0, 5, 0, 8, 10, 0, 0, 1]);
        round_trip(&RestartWithNewAddresses::default());
    }
}
