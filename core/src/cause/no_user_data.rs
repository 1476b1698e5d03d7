//! No User Data error cause (RFC 9260 §3.3.10.9,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.9>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 9         |       Cause Length = 8        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                  TSN value                                    /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause, exact};
use crate::chunk::be32;
use crate::serial::Tsn;

/// A DATA or I-DATA chunk arrived with no user data (RFC 9260 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoUserData {
    /// The TSN of the empty chunk.
    pub tsn: Tsn,
}

impl WireCause for NoUserData {
    const CODE: CauseCode = CauseCode::NO_USER_DATA;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        exact(Self::CODE, &value, 4)?;
        Ok(Self {
            tsn: Tsn(be32(&value, 0)),
        })
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.tsn.0);
    }
}

impl fmt::Display for NoUserData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "No User Data (TSN {})", self.tsn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = NoUserData {
            tsn: Tsn(0xfffe_fdfc),
        };
        assert_eq!(round_trip(&c), [0, 9, 0, 8, 0xff, 0xfe, 0xfd, 0xfc]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(NoUserData::parse_value(Bytes::new()).is_err());
    }
}
