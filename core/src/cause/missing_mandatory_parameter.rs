//! Missing Mandatory Parameter error cause (RFC 9260 §3.3.10.2,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.2>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 2         |     Cause Length = 8 + N * 2  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Number of missing params = N                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Missing Param Type #1       |   Missing Param Type #2       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Missing Param Type #N-1     |   Missing Param Type #N       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause};
use crate::chunk::{be16, be32};
use crate::param::ParamType;

/// One or more mandatory parameters are missing from an INIT or INIT ACK
/// (for example the State Cookie of an INIT ACK).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MissingMandatoryParameter(Bytes);

impl MissingMandatoryParameter {
    /// Lists the missing parameter types.
    pub fn new(types: &[ParamType]) -> Self {
        let mut v = Vec::with_capacity(types.len() * 2);
        for t in types {
            v.put_u16(t.0);
        }
        Self(v.into())
    }

    /// The missing parameter types.
    pub fn types(&self) -> impl Iterator<Item = ParamType> + '_ {
        self.0.chunks_exact(2).map(|c| ParamType(be16(c, 0)))
    }
}

impl WireCause for MissingMandatoryParameter {
    const CODE: CauseCode = CauseCode::MISSING_MANDATORY_PARAMETER;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        if value.len() < 4 {
            return Err(CauseError::TooShort {
                code: Self::CODE,
                need: 4,
                got: value.len(),
            });
        }
        let n = be32(&value, 0) as usize;
        let expected = n.checked_mul(2).and_then(|b| b.checked_add(4));
        if expected != Some(value.len()) {
            return Err(CauseError::BadLength {
                code: Self::CODE,
                expected: expected.unwrap_or(usize::MAX),
                got: value.len(),
            });
        }
        Ok(Self(value.slice(4..)))
    }

    fn value_len(&self) -> usize {
        4 + self.0.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32((self.0.len() / 2) as u32);
        out.put_slice(&self.0);
    }
}

impl fmt::Debug for MissingMandatoryParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MissingMandatoryParameter")
            .field(&self.types().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for MissingMandatoryParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Missing Mandatory Parameter {:?}",
            self.types().collect::<Vec<_>>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = MissingMandatoryParameter::new(&[ParamType::STATE_COOKIE]);
        // Length 10 (8 + 1 * 2), two bytes of padding.
        assert_eq!(round_trip(&c), [0, 2, 0, 10, 0, 0, 0, 1, 0, 7, 0, 0]);
        assert_eq!(c.types().collect::<Vec<_>>(), vec![ParamType::STATE_COOKIE]);
    }

    #[test]
    fn count_that_disagrees_with_the_length_is_an_error() {
        assert!(matches!(
            MissingMandatoryParameter::parse_value(Bytes::from_static(&[0, 0, 0, 2, 0, 7])),
            Err(CauseError::BadLength { .. })
        ));
        assert!(matches!(
            MissingMandatoryParameter::parse_value(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff])),
            Err(CauseError::BadLength { .. })
        ));
    }
}
