//! Supported Address Types parameter (RFC 9260 §3.3.2.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.2.1>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Type = 12           |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Address Type #1        |        Address Type #2        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |            ......             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam};
use crate::chunk::be16;

/// The address types (parameter type codes 5, 6, 11) the sender supports.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SupportedAddressTypes(Bytes);

impl SupportedAddressTypes {
    /// Lists `types`.
    pub fn new(types: &[ParamType]) -> Self {
        let mut v = Vec::with_capacity(types.len() * 2);
        for t in types {
            v.put_u16(t.0);
        }
        Self(v.into())
    }

    /// The listed types.
    pub fn types(&self) -> impl Iterator<Item = ParamType> + '_ {
        self.0.chunks_exact(2).map(|c| ParamType(be16(c, 0)))
    }

    /// Whether `t` is listed.
    pub fn supports(&self, t: ParamType) -> bool {
        self.types().any(|x| x == t)
    }
}

impl WireParam for SupportedAddressTypes {
    const TYPE: ParamType = ParamType::SUPPORTED_ADDRESS_TYPES;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        if !value.len().is_multiple_of(2) {
            return Err(ParamError::InvalidField {
                typ: Self::TYPE,
                what: "odd length: address types are 16 bits each",
            });
        }
        Ok(Self(value))
    }

    fn value_len(&self) -> usize {
        self.0.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.0);
    }
}

impl fmt::Debug for SupportedAddressTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SupportedAddressTypes")
            .field(&self.types().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for SupportedAddressTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Supported Address Types {:?}",
            self.types().collect::<Vec<_>>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = SupportedAddressTypes::new(&[ParamType::IPV4_ADDRESS, ParamType::IPV6_ADDRESS]);
        assert_eq!(round_trip(&p), [0, 12, 0, 8, 0, 5, 0, 6]);
        assert!(p.supports(ParamType::IPV6_ADDRESS));
        assert!(!p.supports(ParamType::HOST_NAME_ADDRESS));
    }

    #[test]
    fn odd_length_is_an_error() {
        assert!(SupportedAddressTypes::parse_value(Bytes::from_static(&[0, 5, 0])).is_err());
    }
}
