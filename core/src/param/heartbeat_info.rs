//! Heartbeat Info parameter (RFC 9260 §3.3.5,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.5>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Heartbeat Info Type = 1    |      HB Info Length           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                  Sender-Specific Heartbeat Info               /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam};

/// Opaque sender-specific information a HEARTBEAT carries and its ACK
/// returns unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeartbeatInfo(pub Bytes);

impl WireParam for HeartbeatInfo {
    const TYPE: ParamType = ParamType::HEARTBEAT_INFO;

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

impl fmt::Display for HeartbeatInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Heartbeat Info ({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = HeartbeatInfo(Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(round_trip(&p), [0, 1, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
}
