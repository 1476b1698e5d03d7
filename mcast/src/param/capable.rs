//! Multicast-Capable parameter (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"Multicast-Capable Parameter (0xC009)"), offered in a client's INIT.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       Type = 0xC009           |          Length = 8           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Version    |  Reserved |6|4|           Reserved            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! High bits `11`: a plain server skips it and reports it back in an
//! Unrecognized Parameter, so the client learns the server lacks the
//! extension.

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::param::{ParamError, ParamType, WireParam};

/// What a client can join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MulticastCapable {
    /// Protocol version: [`MulticastCapable::VERSION`] for draft -01 ("A
    /// server that does not support the version MUST treat the INIT as if
    /// the parameter were absent": a decision for the server, so any value
    /// parses).
    pub version: u8,
    /// The client can join IPv4 groups.
    pub ipv4: bool,
    /// The client can join IPv6 groups.
    pub ipv6: bool,
}

impl MulticastCapable {
    /// Parameter type 0xC009.
    pub const PARAM_TYPE: ParamType = ParamType(0xC009);
    /// The protocol version of draft -01 ("Version 0 was the protocol of
    /// the previous version of this document, whose MSACK, MSYNC and
    /// BARRIER formats differ").
    pub const VERSION: u8 = 1;
}

impl WireParam for MulticastCapable {
    const TYPE: ParamType = Self::PARAM_TYPE;

    fn parse_value(value: Bytes) -> Result<Self, ParamError> {
        // "A parameter with another length, or with neither the 4 nor the 6
        // bit set, is ignored": report it as invalid so the caller ignores it.
        if value.len() != 4 {
            return Err(ParamError::BadLength {
                typ: Self::TYPE,
                expected: 4,
                got: value.len(),
            });
        }
        let p = Self {
            version: value[0],
            ipv4: value[1] & 0x01 != 0,
            ipv6: value[1] & 0x02 != 0,
        };
        if !p.ipv4 && !p.ipv6 {
            return Err(ParamError::InvalidField {
                typ: Self::TYPE,
                what: "neither IPv4 nor IPv6 offered",
            });
        }
        Ok(p)
    }

    fn value_len(&self) -> usize {
        4
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u8(self.version);
        out.put_u8(u8::from(self.ipv4) | (u8::from(self.ipv6) << 1));
        out.put_u16(0);
    }
}

impl fmt::Display for MulticastCapable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Multicast-Capable v{}{}{}",
            self.version,
            if self.ipv4 { " IPv4" } else { "" },
            if self.ipv6 { " IPv6" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::test_util::round_trip;

    /// The draft's example "INIT with Multicast-Capable": version 1, IPv4
    /// and IPv6.
    const VECTOR: [u8; 8] = [0xc0, 0x09, 0x00, 0x08, 0x01, 0x03, 0x00, 0x00];

    #[test]
    fn parses_and_round_trips_the_draft_vector() {
        let p = MulticastCapable {
            version: MulticastCapable::VERSION,
            ipv4: true,
            ipv6: true,
        };
        assert_eq!(
            MulticastCapable::parse_value(Bytes::copy_from_slice(&VECTOR[4..])),
            Ok(p)
        );
        assert_eq!(round_trip(&p), VECTOR);
    }

    #[test]
    fn invalid_parameters_are_typed_errors() {
        assert!(matches!(
            MulticastCapable::parse_value(Bytes::from_static(&[1, 3, 0, 0, 0, 0, 0, 0])),
            Err(ParamError::BadLength { expected: 4, .. })
        ));
        assert!(matches!(
            MulticastCapable::parse_value(Bytes::from_static(&[1, 0x0c, 0, 0])),
            Err(ParamError::InvalidField { .. })
        ));
        // Reserved bits are ignored and written as zero.
        let p = MulticastCapable::parse_value(Bytes::from_static(&[1, 0xfd, 0xff, 0xff]))
            .expect("IPv4 bit set");
        assert_eq!((p.ipv4, p.ipv6), (true, false));
        assert_eq!(round_trip(&p), [0xc0, 0x09, 0, 8, 1, 1, 0, 0]);
    }
}
