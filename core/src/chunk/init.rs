//! INIT chunk (RFC 9260 §3.3.2,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-3.3.2>) and the fixed
//! fields it shares with INIT ACK.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Type = 1    |  Chunk Flags  |         Chunk Length          |
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

use core::fmt;
use core::ops::{Deref, DerefMut};

use bytes::{BufMut, Bytes};

use super::{ChunkError, ChunkType, WireChunk, be16, be32, need};
use crate::cause::{ErrorCause, InvalidMandatoryParameter, UnresolvableAddress};
use crate::param::{ParamType, Params};
use crate::serial::{Tsn, VerificationTag};

/// The fields INIT and INIT ACK share (RFC 9260 §3.3.2, §3.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitCommon {
    /// Initiate Tag: the tag the peer must put in every packet it sends.
    pub initiate_tag: VerificationTag,
    /// Advertised Receiver Window Credit, in bytes.
    pub a_rwnd: u32,
    /// Number of Outbound Streams (OS).
    pub outbound_streams: u16,
    /// Number of Inbound Streams (MIS).
    pub inbound_streams: u16,
    /// Initial TSN.
    pub initial_tsn: Tsn,
    /// Optional and variable-length parameters.
    pub params: Params,
}

/// A fault in the mandatory fields of an INIT or INIT ACK, with the response
/// RFC 9260 prescribes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitFault {
    /// Initiate Tag 0. For INIT: "If the value of the Initiate Tag in a
    /// received INIT chunk is found to be 0, the receiver MUST silently
    /// discard the packet" (RFC 9260 §3.3.2); for INIT ACK the receiver
    /// aborts with Invalid Mandatory Parameter (§3.3.3).
    ZeroInitiateTag,
    /// OS = 0: "A receiver of an INIT chunk with the OS value set to 0
    /// SHOULD abort the association" (§3.3.2), with Invalid Mandatory
    /// Parameter (§3.3.10.7).
    ZeroOutboundStreams,
    /// MIS = 0: likewise (§3.3.2).
    ZeroInboundStreams,
    /// A Host Name Address parameter: "The receiver of an INIT chunk or an
    /// INIT ACK containing a Host Name Address parameter MUST send an ABORT
    /// and MAY include an 'Unresolvable Address' error cause" (§3.3.2.1).
    /// Holds the whole parameter, header included, for the cause.
    HostNameAddress(Bytes),
}

impl InitFault {
    /// The error cause to put in the ABORT, or `None` when the packet is to
    /// be discarded silently (a zero Initiate Tag in an INIT).
    pub fn abort_cause(&self, in_init_ack: bool) -> Option<ErrorCause> {
        match self {
            Self::ZeroInitiateTag if !in_init_ack => None,
            Self::ZeroInitiateTag | Self::ZeroOutboundStreams | Self::ZeroInboundStreams => {
                Some(InvalidMandatoryParameter.into())
            }
            Self::HostNameAddress(p) => Some(UnresolvableAddress { address: p.clone() }.into()),
        }
    }
}

impl fmt::Display for InitFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroInitiateTag => write!(f, "Initiate Tag is 0"),
            Self::ZeroOutboundStreams => write!(f, "Number of Outbound Streams is 0"),
            Self::ZeroInboundStreams => write!(f, "Number of Inbound Streams is 0"),
            Self::HostNameAddress(_) => write!(f, "Host Name Address parameter present"),
        }
    }
}

impl InitCommon {
    /// Length of the fixed fields after the chunk header.
    pub const HEADER_LEN: usize = 16;

    /// Checks the mandatory fields and refuses a Host Name Address.
    pub fn check(&self) -> Result<(), InitFault> {
        if self.initiate_tag.0 == 0 {
            return Err(InitFault::ZeroInitiateTag);
        }
        if self.outbound_streams == 0 {
            return Err(InitFault::ZeroOutboundStreams);
        }
        if self.inbound_streams == 0 {
            return Err(InitFault::ZeroInboundStreams);
        }
        if let Some(p) = self
            .params
            .iter()
            .find(|p| p.typ == ParamType::HOST_NAME_ADDRESS)
        {
            return Err(InitFault::HostNameAddress(p.to_bytes()));
        }
        Ok(())
    }

    pub(crate) fn parse(typ: ChunkType, value: Bytes) -> Result<Self, ChunkError> {
        need(typ, &value, Self::HEADER_LEN)?;
        Ok(Self {
            initiate_tag: VerificationTag(be32(&value, 0)),
            a_rwnd: be32(&value, 4),
            outbound_streams: be16(&value, 8),
            inbound_streams: be16(&value, 10),
            initial_tsn: Tsn(be32(&value, 12)),
            params: Params::parse(value.slice(Self::HEADER_LEN..))?,
        })
    }

    pub(crate) fn value_len(&self) -> usize {
        Self::HEADER_LEN + self.params.len()
    }

    pub(crate) fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.initiate_tag.0);
        out.put_u32(self.a_rwnd);
        out.put_u16(self.outbound_streams);
        out.put_u16(self.inbound_streams);
        out.put_u32(self.initial_tsn.0);
        out.put_slice(self.params.as_bytes());
    }

    pub(crate) fn fmt_fields(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tag={:#010x} a_rwnd={} os={} mis={} tsn={}",
            self.initiate_tag.0,
            self.a_rwnd,
            self.outbound_streams,
            self.inbound_streams,
            self.initial_tsn
        )?;
        for p in self.params.typed() {
            match p {
                Ok(p) => write!(f, "; {p}")?,
                Err(e) => write!(f, "; <{e}>")?,
            }
        }
        Ok(())
    }
}

/// An INIT chunk. Its fields are those of [`InitCommon`], reached through
/// `Deref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init(pub InitCommon);

impl Deref for Init {
    type Target = InitCommon;
    fn deref(&self) -> &InitCommon {
        &self.0
    }
}

impl DerefMut for Init {
    fn deref_mut(&mut self) -> &mut InitCommon {
        &mut self.0
    }
}

impl WireChunk for Init {
    const TYPE: ChunkType = ChunkType::INIT;

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

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("INIT ")?;
        self.0.fmt_fields(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::{parse_whole, round_trip};
    use crate::param::{
        ForwardTsnSupported, HostNameAddress, Ipv4Address, Param, SupportedAddressTypes,
        SupportedExtensions,
    };
    use std::net::Ipv4Addr;

    /// Written from the RFC 9260 §3.3.2 layout: Initiate Tag 0xdeadbeef,
    /// a_rwnd 131072, OS 10, MIS 65535, Initial TSN 0x11223344; an IPv4
    /// Address parameter (type 5, length 8) 192.0.2.1, a Supported Address
    /// Types parameter (type 12, length 6) listing IPv4 (5) with 2 bytes of
    /// padding, and Forward-TSN-Supported (0xC000, length 4).
    const VECTOR: [u8; 40] = [
        0x01, 0x00, 0x00, 0x28, // type, flags, length 40
        0xde, 0xad, 0xbe, 0xef, // initiate tag
        0x00, 0x02, 0x00, 0x00, // a_rwnd
        0x00, 0x0a, 0xff, 0xff, // OS, MIS
        0x11, 0x22, 0x33, 0x44, // initial TSN
        0x00, 0x05, 0x00, 0x08, 192, 0, 2, 1, // IPv4 address
        0x00, 0x0c, 0x00, 0x06, 0x00, 0x05, 0x00, 0x00, // supported address types
        0xc0, 0x00, 0x00, 0x04, // forward-TSN supported
    ];

    fn sample() -> Init {
        Init(InitCommon {
            initiate_tag: VerificationTag(0xdead_beef),
            a_rwnd: 131_072,
            outbound_streams: 10,
            inbound_streams: 65535,
            initial_tsn: Tsn(0x1122_3344),
            params: Params::builder()
                .with(&Ipv4Address(Ipv4Addr::new(192, 0, 2, 1)))
                .with(&SupportedAddressTypes::new(&[ParamType::IPV4_ADDRESS]))
                .with(&ForwardTsnSupported)
                .build(),
        })
    }

    #[test]
    fn parses_rfc_layout_vector() {
        let init = parse_whole::<Init>(&VECTOR).expect("parses");
        assert_eq!(init, sample());
        let params: Vec<_> = init
            .params
            .typed()
            .collect::<Result<_, _>>()
            .expect("typed");
        assert_eq!(
            params,
            vec![
                Param::Ipv4Address(Ipv4Address(Ipv4Addr::new(192, 0, 2, 1))),
                Param::SupportedAddressTypes(SupportedAddressTypes::new(&[
                    ParamType::IPV4_ADDRESS
                ])),
                Param::ForwardTsnSupported(ForwardTsnSupported),
            ]
        );
        assert_eq!(init.check(), Ok(()));
    }

    #[test]
    fn round_trips_to_the_same_bytes() {
        assert_eq!(round_trip(&sample()), VECTOR);
        let mut bare = sample();
        bare.params = Params::empty();
        round_trip(&bare);
    }

    #[test]
    fn last_parameter_without_padding_is_accepted() {
        // RFC 9260 §3.2: a robust receiver accepts the chunk whether or not
        // the final padding is counted in the Chunk Length. Put Supported
        // Address Types last, length 6, and end the chunk there.
        let mut v = VECTOR[..28].to_vec();
        v.extend_from_slice(&[0xc0, 0x00, 0x00, 0x04]);
        v.extend_from_slice(&[0x00, 0x0c, 0x00, 0x06, 0x00, 0x05]);
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        let init = parse_whole::<Init>(&v).expect("parses");
        assert!(init.params.contains(ParamType::SUPPORTED_ADDRESS_TYPES));
    }

    #[test]
    fn mandatory_field_faults_map_to_the_rfc_response() {
        let mut i = sample();
        i.initiate_tag = VerificationTag(0);
        assert_eq!(i.check(), Err(InitFault::ZeroInitiateTag));
        assert_eq!(InitFault::ZeroInitiateTag.abort_cause(false), None);
        assert_eq!(
            InitFault::ZeroInitiateTag.abort_cause(true),
            Some(InvalidMandatoryParameter.into())
        );
        let mut i = sample();
        i.outbound_streams = 0;
        assert_eq!(i.check(), Err(InitFault::ZeroOutboundStreams));
        let mut i = sample();
        i.inbound_streams = 0;
        assert_eq!(i.check(), Err(InitFault::ZeroInboundStreams));
    }

    #[test]
    fn host_name_address_is_refused_with_unresolvable_address() {
        let mut i = sample();
        let host = HostNameAddress::new("example.org");
        i.params = Params::builder()
            .with(&host)
            .with(&SupportedExtensions::new(&[ChunkType::IDATA]))
            .build();
        let fault = i.check().expect_err("refused");
        let Some(ErrorCause::UnresolvableAddress(u)) = fault.abort_cause(false) else {
            panic!("wrong cause for {fault}");
        };
        // The cause carries the whole offending parameter, header included.
        let p = crate::param::Params::parse(u.address.clone()).expect("a parameter");
        assert_eq!(p.find::<HostNameAddress>(), Some(Ok(host)));
    }

    #[test]
    fn short_or_broken_init_is_an_error() {
        assert!(matches!(
            Init::parse_value(0, Bytes::from_static(&[0; 15])),
            Err(ChunkError::TooShort { need: 16, .. })
        ));
        let mut v = VECTOR;
        v[23] = 0x40; // IPv4 parameter claims 64 bytes
        assert!(matches!(
            parse_whole::<Init>(&v),
            Err(ChunkError::Param(crate::param::ParamError::Structure(_)))
        ));
    }
}
