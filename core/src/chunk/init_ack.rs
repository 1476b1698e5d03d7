//! INIT ACK chunk (RFC 9260 §3.3.3,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.3>).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 2    |  Chunk Flags  |         Chunk Length          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Initiate Tag                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Advertised Receiver Window Credit (a_rwnd)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Number of Outbound Streams   |   Number of Inbound Streams   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Initial TSN                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /              Optional/Variable-Length Parameters              /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The State Cookie parameter is mandatory in an INIT ACK; its absence is
//! reported by [`InitAck::state_cookie`] so the association can answer with
//! the Missing Mandatory Parameter cause (RFC 9260 §3.3.10.2).

use core::fmt;
use core::ops::{Deref, DerefMut};

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, InitCommon, WireChunk};
use crate::param::{ParamError, StateCookie};

/// An INIT ACK chunk. Its fields are those of [`InitCommon`], reached
/// through `Deref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitAck(pub InitCommon);

impl InitAck {
    /// The mandatory State Cookie: `None` if absent (answer with Missing
    /// Mandatory Parameter), `Some(Err)` if malformed.
    pub fn state_cookie(&self) -> Option<Result<StateCookie, ParamError>> {
        self.params.find::<StateCookie>()
    }
}

impl Deref for InitAck {
    type Target = InitCommon;
    fn deref(&self) -> &InitCommon {
        &self.0
    }
}

impl DerefMut for InitAck {
    fn deref_mut(&mut self) -> &mut InitCommon {
        &mut self.0
    }
}

impl WireChunk for InitAck {
    const TYPE: ChunkType = ChunkType::INIT_ACK;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        InitCommon::parse(Self::TYPE, value).map(Self)
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        self.0.value_len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        self.0.write_value(out);
    }
}

impl fmt::Display for InitAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("INIT ACK ")?;
        self.0.fmt_fields(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};
    use crate::param::ParamType;
    use crate::param::{Params, RawParam, UnrecognizedParameter};
    use crate::serial::{Tsn, VerificationTag};

    /// Written from the RFC 9260 §3.3.3 layout: Initiate Tag 0x01020304,
    /// a_rwnd 65535, OS 1, MIS 2, Initial TSN 7; a State Cookie (type 7,
    /// length 9: 5 cookie bytes, 3 bytes padding) and an Unrecognized
    /// Parameter (type 8, length 8) wrapping a Random parameter (0x8002,
    /// length 4).
    const VECTOR: [u8; 40] = [
        0x02, 0x00, 0x00, 0x28, // type, flags, length 40
        0x01, 0x02, 0x03, 0x04, // initiate tag
        0x00, 0x00, 0xff, 0xff, // a_rwnd
        0x00, 0x01, 0x00, 0x02, // OS, MIS
        0x00, 0x00, 0x00, 0x07, // initial TSN
        0x00, 0x07, 0x00, 0x09, b'c', b'o', b'o', b'k', b'i', 0, 0, 0, // state cookie
        0x00, 0x08, 0x00, 0x08, 0x80, 0x02, 0x00, 0x04, // unrecognized: Random
    ];

    fn sample() -> InitAck {
        InitAck(InitCommon {
            initiate_tag: VerificationTag(0x0102_0304),
            a_rwnd: 65535,
            outbound_streams: 1,
            inbound_streams: 2,
            initial_tsn: Tsn(7),
            params: Params::builder()
                .with(&StateCookie(Bytes::from_static(b"cooki")))
                .with(&UnrecognizedParameter::from_param(&RawParam {
                    typ: ParamType::RANDOM,
                    value: Bytes::new(),
                }))
                .build(),
        })
    }

    #[test]
    fn parses_rfc_layout_vector() {
        let ack = parse_whole::<InitAck>(&VECTOR).expect("parses");
        assert_eq!(ack, sample());
        assert_eq!(
            ack.state_cookie(),
            Some(Ok(StateCookie(Bytes::from_static(b"cooki"))))
        );
    }

    #[test]
    fn round_trips_to_the_same_bytes() {
        assert_eq!(round_trip(&sample()), VECTOR);
    }

    #[test]
    fn missing_state_cookie_is_reported() {
        let mut ack = sample();
        ack.params = Params::empty();
        assert_eq!(ack.state_cookie(), None);
    }
}
