//! Host Name Address parameter (RFC 9260 §3.3.2.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.2.1>), deprecated.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Type = 11           |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                           Host Name                           /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Parsed only so it can be refused: "The sender of an INIT chunk MUST NOT
//! include this parameter. The receiver of an INIT chunk or an INIT ACK
//! containing a Host Name Address parameter MUST send an ABORT and MAY
//! include an 'Unresolvable Address' error cause." See
//! [`InitCommon::check`](crate::chunk::InitCommon::check).

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{ParamError, ParamType, WireParam};

/// A host name (a NUL-terminated string on the wire), kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostNameAddress(pub Bytes);

impl HostNameAddress {
    /// A host name parameter for `name`, with the terminating NUL the RFC
    /// asks for (used only by tests: mcsctp never sends one).
    pub fn new(name: &str) -> Self {
        let mut v = name.as_bytes().to_vec();
        v.push(0);
        Self(v.into())
    }
}

impl WireParam for HostNameAddress {
    const TYPE: ParamType = ParamType::HOST_NAME_ADDRESS;

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

impl fmt::Display for HostNameAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.0.strip_suffix(&[0]).unwrap_or(&self.0);
        write!(f, "Host Name Address {:?}", String::from_utf8_lossy(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    #[test]
    fn matches_rfc_layout_and_round_trips() {
        let p = HostNameAddress::new("ab");
        assert_eq!(round_trip(&p), [0, 11, 0, 7, b'a', b'b', 0, 0]);
    }
}
