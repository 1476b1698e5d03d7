//! Variable-length parameters of INIT, INIT ACK and HEARTBEAT (RFC 9260
//! §3.2.1, §3.3.2.1, §3.3.3.1), parsed zero-copy, one file per type.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Parameter Type         |       Parameter Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                        Parameter Value                        /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Parameter types this crate does not know stay [`Param::Unknown`] with the
//! §3.2.1 action of their two high bits available from
//! [`ParamType::unknown_action`]. An extension defines its own parameters by
//! implementing [`WireParam`] and adds them to a [`ParamsBuilder`].

use core::fmt;

use bytes::{BufMut, Bytes};

use crate::chunk::{UnknownAction, padded, put_padding};
use crate::tlv::{self, TLV_HEADER_LEN, TlvError, ValidatedTlvs};

mod cookie_preservative;
mod ecn_capable;
mod forward_tsn_supported;
mod heartbeat_info;
mod host_name_address;
mod ipv4_address;
mod ipv6_address;
mod state_cookie;
mod supported_address_types;
mod supported_extensions;
mod unrecognized_parameter;

pub use cookie_preservative::CookiePreservative;
pub use ecn_capable::EcnCapable;
pub use forward_tsn_supported::ForwardTsnSupported;
pub use heartbeat_info::HeartbeatInfo;
pub use host_name_address::HostNameAddress;
pub use ipv4_address::Ipv4Address;
pub use ipv6_address::Ipv6Address;
pub use state_cookie::StateCookie;
pub use supported_address_types::SupportedAddressTypes;
pub use supported_extensions::SupportedExtensions;
pub use unrecognized_parameter::UnrecognizedParameter;

/// A parameter type code (IANA "Chunk Parameter Types").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamType(pub u16);

impl ParamType {
    /// Heartbeat Info (RFC 9260 §3.3.5).
    pub const HEARTBEAT_INFO: Self = Self(1);
    /// IPv4 Address (RFC 9260 §3.3.2.1).
    pub const IPV4_ADDRESS: Self = Self(5);
    /// IPv6 Address (RFC 9260 §3.3.2.1).
    pub const IPV6_ADDRESS: Self = Self(6);
    /// State Cookie (RFC 9260 §3.3.3.1).
    pub const STATE_COOKIE: Self = Self(7);
    /// Unrecognized Parameter (RFC 9260 §3.3.3.1).
    pub const UNRECOGNIZED_PARAMETER: Self = Self(8);
    /// Cookie Preservative (RFC 9260 §3.3.2.1).
    pub const COOKIE_PRESERVATIVE: Self = Self(9);
    /// Host Name Address (RFC 9260 §3.3.2.1; deprecated, refused).
    pub const HOST_NAME_ADDRESS: Self = Self(11);
    /// Supported Address Types (RFC 9260 §3.3.2.1).
    pub const SUPPORTED_ADDRESS_TYPES: Self = Self(12);
    /// ECN Capable (RFC 9260 Appendix A).
    pub const ECN_CAPABLE: Self = Self(0x8000);
    /// Random (RFC 4895); not implemented, listed for names only.
    pub const RANDOM: Self = Self(0x8002);
    /// Chunk List (RFC 4895); not implemented.
    pub const CHUNK_LIST: Self = Self(0x8003);
    /// Requested HMAC Algorithm (RFC 4895); not implemented.
    pub const HMAC_ALGORITHM: Self = Self(0x8004);
    /// Padding (RFC 4820); not implemented.
    pub const PADDING: Self = Self(0x8005);
    /// Supported Extensions (RFC 5061 §4.2.7).
    pub const SUPPORTED_EXTENSIONS: Self = Self(0x8008);
    /// Forward-TSN-Supported (RFC 3758 §3.1).
    pub const FORWARD_TSN_SUPPORTED: Self = Self(0xC000);
    /// Adaptation Layer Indication (RFC 5061); not implemented.
    pub const ADAPTATION_LAYER_INDICATION: Self = Self(0xC006);

    /// What a receiver that does not recognise this type must do (RFC 9260
    /// §3.2.1): "00 - Stop processing this parameter and do not process any
    /// further parameters within this chunk. 01 - Stop processing this
    /// parameter, do not process any further parameters within this chunk,
    /// and report the unrecognized parameter, as described in Section
    /// 3.2.2. 10 - Skip this parameter and continue processing. 11 - Skip
    /// this parameter and continue processing, but report the unrecognized
    /// parameter, as described in Section 3.2.2."
    pub const fn unknown_action(self) -> UnknownAction {
        UnknownAction::from_high_bits((self.0 >> 14) as u8)
    }

    /// The registered name, if this crate knows one.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "Heartbeat Info",
            5 => "IPv4 Address",
            6 => "IPv6 Address",
            7 => "State Cookie",
            8 => "Unrecognized Parameter",
            9 => "Cookie Preservative",
            11 => "Host Name Address",
            12 => "Supported Address Types",
            0x8000 => "ECN Capable",
            0x8002 => "Random",
            0x8003 => "Chunk List",
            0x8004 => "Requested HMAC Algorithm",
            0x8005 => "Padding",
            0x8008 => "Supported Extensions",
            0xC000 => "Forward-TSN-Supported",
            0xC001 => "Add IP Address",
            0xC002 => "Delete IP Address",
            0xC003 => "Error Cause Indication",
            0xC004 => "Set Primary Address",
            0xC005 => "Success Indication",
            0xC006 => "Adaptation Layer Indication",
            _ => return None,
        })
    }
}

impl fmt::Debug for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "ParamType({:#06x})", self.0),
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A parameter as it sits in a chunk: type and zero-copy value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawParam {
    /// Parameter Type.
    pub typ: ParamType,
    /// Parameter Value, without header and padding.
    pub value: Bytes,
}

impl RawParam {
    /// The Parameter Length field.
    pub fn len(&self) -> usize {
        TLV_HEADER_LEN + self.value.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Writes header, value and padding.
    pub fn write<B: BufMut>(&self, out: &mut B) {
        write_tlv_header(out, self.typ.0, self.len());
        out.put_slice(&self.value);
        put_padding(out, self.len());
    }

    /// Header, value and padding as one byte string: the form the
    /// Unrecognized Parameter parameter and error cause carry.
    pub fn to_bytes(&self) -> Bytes {
        let mut v = Vec::with_capacity(padded(self.len()));
        self.write(&mut v);
        v.into()
    }
}

impl fmt::Debug for RawParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawParam {{ typ: {:?}, value: {} bytes }}",
            self.typ,
            self.value.len()
        )
    }
}

/// A parameter type with a fixed wire format; the extension seam for
/// parameters.
pub trait WireParam: Sized {
    /// The type code.
    const TYPE: ParamType;

    /// Parses the value (after the 4-byte header, padding excluded).
    fn parse_value(value: Bytes) -> Result<Self, ParamError>;

    /// Length of the value [`write_value`](Self::write_value) produces.
    fn value_len(&self) -> usize;

    /// Writes exactly [`value_len`](Self::value_len) bytes.
    fn write_value<B: BufMut>(&self, out: &mut B);

    /// Parses a raw parameter of this type.
    fn from_raw(raw: &RawParam) -> Result<Self, ParamError> {
        if raw.typ != Self::TYPE {
            return Err(ParamError::WrongType {
                expected: Self::TYPE,
                found: raw.typ,
            });
        }
        Self::parse_value(raw.value.clone())
    }

    /// The Parameter Length field.
    fn encoded_len(&self) -> usize {
        TLV_HEADER_LEN + self.value_len()
    }

    /// Writes header, value and padding.
    fn write<B: BufMut>(&self, out: &mut B) {
        let len = self.encoded_len();
        write_tlv_header(out, Self::TYPE.0, len);
        self.write_value(out);
        put_padding(out, len);
    }

    /// Serialises into a fresh [`RawParam`].
    fn to_raw(&self) -> RawParam {
        let mut v = Vec::with_capacity(self.value_len());
        self.write_value(&mut v);
        RawParam {
            typ: Self::TYPE,
            value: v.into(),
        }
    }
}

/// A parsed parameter of any type this crate knows; others stay raw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Param {
    /// Heartbeat Info.
    HeartbeatInfo(HeartbeatInfo),
    /// IPv4 Address.
    Ipv4Address(Ipv4Address),
    /// IPv6 Address.
    Ipv6Address(Ipv6Address),
    /// State Cookie.
    StateCookie(StateCookie),
    /// Unrecognized Parameter.
    UnrecognizedParameter(UnrecognizedParameter),
    /// Cookie Preservative.
    CookiePreservative(CookiePreservative),
    /// Host Name Address.
    HostNameAddress(HostNameAddress),
    /// Supported Address Types.
    SupportedAddressTypes(SupportedAddressTypes),
    /// ECN Capable.
    EcnCapable(EcnCapable),
    /// Supported Extensions.
    SupportedExtensions(SupportedExtensions),
    /// Forward-TSN-Supported.
    ForwardTsnSupported(ForwardTsnSupported),
    /// Any other type.
    Unknown(RawParam),
}

macro_rules! param_dispatch {
    ($($variant:ident),* $(,)?) => {
        impl Param {
            /// Parses a raw parameter into its typed form; unknown types come
            /// back as [`Param::Unknown`].
            pub fn parse(raw: RawParam) -> Result<Self, ParamError> {
                $(
                    if raw.typ == $variant::TYPE {
                        return $variant::parse_value(raw.value).map(Param::$variant);
                    }
                )*
                Ok(Param::Unknown(raw))
            }

            /// The parameter's type code.
            pub fn typ(&self) -> ParamType {
                match self {
                    $(Param::$variant(_) => $variant::TYPE,)*
                    Param::Unknown(r) => r.typ,
                }
            }

            /// The Parameter Length field.
            pub fn encoded_len(&self) -> usize {
                match self {
                    $(Param::$variant(p) => p.encoded_len(),)*
                    Param::Unknown(r) => r.len(),
                }
            }

            /// Writes header, value and padding.
            pub fn write<B: BufMut>(&self, out: &mut B) {
                match self {
                    $(Param::$variant(p) => p.write(out),)*
                    Param::Unknown(r) => r.write(out),
                }
            }
        }

        impl fmt::Display for Param {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Param::$variant(p) => fmt::Display::fmt(p, f),)*
                    Param::Unknown(r) => write!(f, "{:?} ({} bytes)", r.typ, r.value.len()),
                }
            }
        }
    };
}

param_dispatch!(
    HeartbeatInfo,
    Ipv4Address,
    Ipv6Address,
    StateCookie,
    UnrecognizedParameter,
    CookiePreservative,
    HostNameAddress,
    SupportedAddressTypes,
    EcnCapable,
    SupportedExtensions,
    ForwardTsnSupported,
);

/// A validated sequence of parameters (the variable part of INIT or INIT ACK),
/// held as a zero-copy slice of the packet.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Params(Bytes);

impl Params {
    /// An empty parameter list.
    pub const fn empty() -> Self {
        Self(Bytes::new())
    }

    /// Validates the TLV structure of `bytes` (lengths and padding).
    pub fn parse(bytes: Bytes) -> Result<Self, ParamError> {
        tlv::validate(&bytes).map_err(ParamError::Structure)?;
        Ok(Self(tlv::without_final_padding(bytes)))
    }

    /// The parameters as raw values, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = RawParam> + '_ {
        ValidatedTlvs::new(&self.0).map(|(typ, value)| RawParam {
            typ: ParamType(typ),
            value,
        })
    }

    /// The parameters parsed into typed form, in wire order.
    pub fn typed(&self) -> impl Iterator<Item = Result<Param, ParamError>> + '_ {
        self.iter().map(Param::parse)
    }

    /// The first parameter of type `P`, parsed; `None` if absent.
    pub fn find<P: WireParam>(&self) -> Option<Result<P, ParamError>> {
        self.iter()
            .find(|p| p.typ == P::TYPE)
            .map(|p| P::parse_value(p.value))
    }

    /// Whether a parameter of type `t` is present.
    pub fn contains(&self, t: ParamType) -> bool {
        self.iter().any(|p| p.typ == t)
    }

    /// The wire bytes: every element padded but the last (RFC 9260 §3.2:
    /// the final padding is chunk padding).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length in bytes on the wire.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Starts building a parameter list.
    pub fn builder() -> ParamsBuilder {
        ParamsBuilder::default()
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.typed()).finish()
    }
}

/// Builds a [`Params`] list, each element padded.
#[derive(Debug, Default, Clone)]
pub struct ParamsBuilder(Vec<u8>);

impl ParamsBuilder {
    /// Appends a typed parameter (core's or an extension's).
    #[must_use]
    pub fn with<P: WireParam>(mut self, p: &P) -> Self {
        p.write(&mut self.0);
        self
    }

    /// Appends a parameter of any kind.
    #[must_use]
    pub fn with_param(mut self, p: &Param) -> Self {
        p.write(&mut self.0);
        self
    }

    /// Appends a raw parameter.
    #[must_use]
    pub fn with_raw(mut self, p: &RawParam) -> Self {
        p.write(&mut self.0);
        self
    }

    /// Finishes the list.
    pub fn build(self) -> Params {
        Params(tlv::without_final_padding(self.0.into()))
    }
}

/// A parameter that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// The list's TLV structure is broken.
    Structure(TlvError),
    /// The value is shorter than the parameter's fixed fields.
    TooShort {
        /// Parameter type.
        typ: ParamType,
        /// Minimum value length.
        need: usize,
        /// Actual value length.
        got: usize,
    },
    /// The value length is not what the type requires.
    BadLength {
        /// Parameter type.
        typ: ParamType,
        /// Expected value length.
        expected: usize,
        /// Actual value length.
        got: usize,
    },
    /// [`WireParam::from_raw`] was given another type.
    WrongType {
        /// The type the parser handles.
        expected: ParamType,
        /// The type found.
        found: ParamType,
    },
    /// A field holds a value the RFC forbids.
    InvalidField {
        /// Parameter type.
        typ: ParamType,
        /// Which field, and why.
        what: &'static str,
    },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Structure(e) => write!(f, "parameter list: {e}"),
            Self::TooShort { typ, need, got } => {
                write!(f, "{typ} value too short: need {need} bytes, got {got}")
            }
            Self::BadLength { typ, expected, got } => {
                write!(f, "{typ} value must be {expected} bytes, got {got}")
            }
            Self::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            Self::InvalidField { typ, what } => write!(f, "{typ}: {what}"),
        }
    }
}

impl std::error::Error for ParamError {}

/// Checks that a value is exactly `len` bytes.
#[inline]
pub(crate) fn exact(typ: ParamType, value: &[u8], len: usize) -> Result<(), ParamError> {
    if value.len() < len {
        return Err(ParamError::TooShort {
            typ,
            need: len,
            got: value.len(),
        });
    }
    if value.len() != len {
        return Err(ParamError::BadLength {
            typ,
            expected: len,
            got: value.len(),
        });
    }
    Ok(())
}

#[inline]
pub(crate) fn write_tlv_header<B: BufMut>(out: &mut B, typ: u16, len: usize) {
    debug_assert!(len <= u16::MAX as usize, "TLV longer than its length field");
    out.put_u16(typ);
    out.put_u16(len as u16);
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// Serialises a parameter, checks header and padding, parses it back
    /// directly and through [`Param::parse`], and returns the bytes.
    pub(crate) fn round_trip<P>(p: &P) -> Vec<u8>
    where
        P: WireParam + fmt::Debug + PartialEq + fmt::Display,
    {
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out.len(), padded(p.encoded_len()));
        assert_eq!(u16::from_be_bytes([out[0], out[1]]), P::TYPE.0);
        assert_eq!(
            usize::from(u16::from_be_bytes([out[2], out[3]])),
            p.encoded_len()
        );
        let value = Bytes::copy_from_slice(&out[4..p.encoded_len()]);
        assert_eq!(&P::parse_value(value.clone()).expect("parses back"), p);
        let raw = RawParam {
            typ: P::TYPE,
            value,
        };
        assert_eq!(&P::from_raw(&raw).expect("from_raw"), p);
        assert_eq!(p.to_raw(), raw);
        let list = Params::builder().with(p).build();
        let reparsed = Params::parse(list.as_bytes().clone()).expect("list parses");
        assert_eq!(reparsed.find::<P>().expect("present").expect("valid"), *p);
        assert!(!matches!(
            Param::parse(raw).expect("typed"),
            Param::Unknown(_)
        ));
        let _ = p.to_string();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameter_actions_follow_the_high_bits() {
        assert_eq!(ParamType(0x0001).unknown_action(), UnknownAction::Stop);
        assert_eq!(
            ParamType(0x4001).unknown_action(),
            UnknownAction::StopAndReport
        );
        assert_eq!(ParamType(0x8002).unknown_action(), UnknownAction::Skip);
        assert_eq!(
            ParamType(0xC006).unknown_action(),
            UnknownAction::SkipAndReport
        );
    }

    #[test]
    fn unknown_parameter_is_kept_raw() {
        let b = Bytes::from_static(&[0x80, 0x02, 0x00, 0x06, 0xde, 0xad, 0, 0]);
        let list = Params::parse(b).expect("valid");
        let p: Vec<_> = list.typed().collect();
        assert_eq!(
            p,
            vec![Ok(Param::Unknown(RawParam {
                typ: ParamType::RANDOM,
                value: Bytes::from_static(&[0xde, 0xad])
            }))]
        );
    }

    #[test]
    fn broken_list_is_a_structure_error() {
        let b = Bytes::from_static(&[0x00, 0x05, 0x00, 0x20, 1, 2, 3, 4]);
        assert!(matches!(
            Params::parse(b),
            Err(ParamError::Structure(TlvError::BeyondEnd { .. }))
        ));
    }
}
