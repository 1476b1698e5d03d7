//! User-Initiated Abort error cause (RFC 9260 §3.3.10.12,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.10.12>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Cause Code = 12        |    Cause Length = Variable    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                   Upper Layer Abort Reason                    /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{CauseCode, CauseError, WireCause};

/// The User-Initiated Abort cause: the upper layer aborted the association; it carries the reason the upper layer gave, opaque to SCTP.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UserInitiatedAbort {
    /// The upper layer's abort reason.
    pub reason: Bytes,
}

impl WireCause for UserInitiatedAbort {
    const CODE: CauseCode = CauseCode::USER_INITIATED_ABORT;

    fn parse_value(value: Bytes) -> Result<Self, CauseError> {
        Ok(Self { reason: value })
    }

    fn value_len(&self) -> usize {
        self.reason.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_slice(&self.reason);
    }
}

impl fmt::Display for UserInitiatedAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "User-Initiated Abort ({} bytes)", self.reason.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let c = UserInitiatedAbort {
            reason: Bytes::from_static(b"bye"),
        };
        assert_eq!(round_trip(&c), [0, 12, 0, 7, b'b', b'y', b'e', 0]);
        round_trip(&UserInitiatedAbort::default());
    }
}
