//! Error causes carried by ABORT and ERROR chunks (RFC 9260 §3.3.10), one
//! file per cause.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Cause Code           |         Cause Length          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! /                    Cause-Specific Information                 /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::fmt;

use bytes::{BufMut, Bytes};

use crate::chunk::put_padding;
use crate::param::write_tlv_header;
use crate::tlv::{self, TLV_HEADER_LEN, TlvError, ValidatedTlvs};

mod cookie_while_shutting_down;
mod invalid_mandatory_parameter;
mod invalid_stream_identifier;
mod missing_mandatory_parameter;
mod no_user_data;
mod out_of_resource;
mod protocol_violation;
mod restart_with_new_addresses;
mod stale_cookie;
mod unrecognized_chunk_type;
mod unrecognized_parameters;
mod unresolvable_address;
mod user_initiated_abort;

pub use cookie_while_shutting_down::CookieReceivedWhileShuttingDown;
pub use invalid_mandatory_parameter::InvalidMandatoryParameter;
pub use invalid_stream_identifier::InvalidStreamIdentifier;
pub use missing_mandatory_parameter::MissingMandatoryParameter;
pub use no_user_data::NoUserData;
pub use out_of_resource::OutOfResource;
pub use protocol_violation::ProtocolViolation;
pub use restart_with_new_addresses::RestartWithNewAddresses;
pub use stale_cookie::StaleCookie;
pub use unrecognized_chunk_type::UnrecognizedChunkType;
pub use unrecognized_parameters::UnrecognizedParameters;
pub use unresolvable_address::UnresolvableAddress;
pub use user_initiated_abort::UserInitiatedAbort;

/// An error cause code (IANA "Error Cause Codes").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CauseCode(pub u16);

impl CauseCode {
    /// Invalid Stream Identifier (RFC 9260 §3.3.10.1).
    pub const INVALID_STREAM_IDENTIFIER: Self = Self(1);
    /// Missing Mandatory Parameter (RFC 9260 §3.3.10.2).
    pub const MISSING_MANDATORY_PARAMETER: Self = Self(2);
    /// Stale Cookie (RFC 9260 §3.3.10.3).
    pub const STALE_COOKIE: Self = Self(3);
    /// Out of Resource (RFC 9260 §3.3.10.4).
    pub const OUT_OF_RESOURCE: Self = Self(4);
    /// Unresolvable Address (RFC 9260 §3.3.10.5).
    pub const UNRESOLVABLE_ADDRESS: Self = Self(5);
    /// Unrecognized Chunk Type (RFC 9260 §3.3.10.6).
    pub const UNRECOGNIZED_CHUNK_TYPE: Self = Self(6);
    /// Invalid Mandatory Parameter (RFC 9260 §3.3.10.7).
    pub const INVALID_MANDATORY_PARAMETER: Self = Self(7);
    /// Unrecognized Parameters (RFC 9260 §3.3.10.8).
    pub const UNRECOGNIZED_PARAMETERS: Self = Self(8);
    /// No User Data (RFC 9260 §3.3.10.9).
    pub const NO_USER_DATA: Self = Self(9);
    /// Cookie Received While Shutting Down (RFC 9260 §3.3.10.10).
    pub const COOKIE_RECEIVED_WHILE_SHUTTING_DOWN: Self = Self(10);
    /// Restart of an Association with New Addresses (RFC 9260 §3.3.10.11).
    pub const RESTART_WITH_NEW_ADDRESSES: Self = Self(11);
    /// User-Initiated Abort (RFC 9260 §3.3.10.12).
    pub const USER_INITIATED_ABORT: Self = Self(12);
    /// Protocol Violation (RFC 9260 §3.3.10.13).
    pub const PROTOCOL_VIOLATION: Self = Self(13);

    /// The registered name, if this crate knows one.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "Invalid Stream Identifier",
            2 => "Missing Mandatory Parameter",
            3 => "Stale Cookie Error",
            4 => "Out of Resource",
            5 => "Unresolvable Address",
            6 => "Unrecognized Chunk Type",
            7 => "Invalid Mandatory Parameter",
            8 => "Unrecognized Parameters",
            9 => "No User Data",
            10 => "Cookie Received While Shutting Down",
            11 => "Restart of an Association with New Addresses",
            12 => "User-Initiated Abort",
            13 => "Protocol Violation",
            _ => return None,
        })
    }
}

impl fmt::Debug for CauseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "CauseCode({})", self.0),
        }
    }
}

impl fmt::Display for CauseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A cause as it sits in a chunk: code and zero-copy value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawCause {
    /// Cause Code.
    pub code: CauseCode,
    /// Cause-specific information, without header and padding.
    pub value: Bytes,
}

impl RawCause {
    /// The Cause Length field.
    pub fn len(&self) -> usize {
        TLV_HEADER_LEN + self.value.len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Writes header, value and padding.
    pub fn write<B: BufMut>(&self, out: &mut B) {
        write_tlv_header(out, self.code.0, self.len());
        out.put_slice(&self.value);
        put_padding(out, self.len());
    }
}

impl fmt::Debug for RawCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawCause {{ code: {:?}, value: {} bytes }}",
            self.code,
            self.value.len()
        )
    }
}

/// An error cause with a fixed wire format.
pub trait WireCause: Sized {
    /// The cause code.
    const CODE: CauseCode;

    /// Parses the cause-specific information.
    fn parse_value(value: Bytes) -> Result<Self, CauseError>;

    /// Length of the value [`write_value`](Self::write_value) produces.
    fn value_len(&self) -> usize;

    /// Writes exactly [`value_len`](Self::value_len) bytes.
    fn write_value<B: BufMut>(&self, out: &mut B);

    /// The Cause Length field.
    fn encoded_len(&self) -> usize {
        TLV_HEADER_LEN + self.value_len()
    }

    /// Writes header, value and padding.
    fn write<B: BufMut>(&self, out: &mut B) {
        let len = self.encoded_len();
        write_tlv_header(out, Self::CODE.0, len);
        self.write_value(out);
        put_padding(out, len);
    }

    /// Serialises into a fresh [`RawCause`].
    fn to_raw(&self) -> RawCause {
        let mut v = Vec::with_capacity(self.value_len());
        self.write_value(&mut v);
        RawCause {
            code: Self::CODE,
            value: v.into(),
        }
    }
}

/// A parsed error cause; codes this crate does not know stay raw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCause {
    /// Invalid Stream Identifier.
    InvalidStreamIdentifier(InvalidStreamIdentifier),
    /// Missing Mandatory Parameter.
    MissingMandatoryParameter(MissingMandatoryParameter),
    /// Stale Cookie.
    StaleCookie(StaleCookie),
    /// Out of Resource.
    OutOfResource(OutOfResource),
    /// Unresolvable Address.
    UnresolvableAddress(UnresolvableAddress),
    /// Unrecognized Chunk Type.
    UnrecognizedChunkType(UnrecognizedChunkType),
    /// Invalid Mandatory Parameter.
    InvalidMandatoryParameter(InvalidMandatoryParameter),
    /// Unrecognized Parameters.
    UnrecognizedParameters(UnrecognizedParameters),
    /// No User Data.
    NoUserData(NoUserData),
    /// Cookie Received While Shutting Down.
    CookieReceivedWhileShuttingDown(CookieReceivedWhileShuttingDown),
    /// Restart of an Association with New Addresses.
    RestartWithNewAddresses(RestartWithNewAddresses),
    /// User-Initiated Abort.
    UserInitiatedAbort(UserInitiatedAbort),
    /// Protocol Violation.
    ProtocolViolation(ProtocolViolation),
    /// Any other code.
    Unknown(RawCause),
}

macro_rules! cause_dispatch {
    ($($variant:ident),* $(,)?) => {
        impl ErrorCause {
            /// Parses a raw cause into its typed form; unknown codes come
            /// back as [`ErrorCause::Unknown`].
            pub fn parse(raw: RawCause) -> Result<Self, CauseError> {
                $(
                    if raw.code == $variant::CODE {
                        return $variant::parse_value(raw.value).map(ErrorCause::$variant);
                    }
                )*
                Ok(ErrorCause::Unknown(raw))
            }

            /// The cause code.
            pub fn code(&self) -> CauseCode {
                match self {
                    $(ErrorCause::$variant(_) => $variant::CODE,)*
                    ErrorCause::Unknown(r) => r.code,
                }
            }

            /// The Cause Length field.
            pub fn encoded_len(&self) -> usize {
                match self {
                    $(ErrorCause::$variant(c) => c.encoded_len(),)*
                    ErrorCause::Unknown(r) => r.len(),
                }
            }

            /// Writes header, value and padding.
            pub fn write<B: BufMut>(&self, out: &mut B) {
                match self {
                    $(ErrorCause::$variant(c) => c.write(out),)*
                    ErrorCause::Unknown(r) => r.write(out),
                }
            }
        }

        impl fmt::Display for ErrorCause {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(ErrorCause::$variant(c) => fmt::Display::fmt(c, f),)*
                    ErrorCause::Unknown(r) => write!(f, "{:?} ({} bytes)", r.code, r.value.len()),
                }
            }
        }

        $(
            impl From<$variant> for ErrorCause {
                fn from(c: $variant) -> Self {
                    ErrorCause::$variant(c)
                }
            }
        )*
    };
}

cause_dispatch!(
    InvalidStreamIdentifier,
    MissingMandatoryParameter,
    StaleCookie,
    OutOfResource,
    UnresolvableAddress,
    UnrecognizedChunkType,
    InvalidMandatoryParameter,
    UnrecognizedParameters,
    NoUserData,
    CookieReceivedWhileShuttingDown,
    RestartWithNewAddresses,
    UserInitiatedAbort,
    ProtocolViolation,
);

/// A validated list of error causes (the body of ABORT and ERROR), held as a
/// zero-copy slice of the packet.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Causes(Bytes);

impl Causes {
    /// No causes.
    pub const fn empty() -> Self {
        Self(Bytes::new())
    }

    /// Validates the TLV structure of `bytes`.
    pub fn parse(bytes: Bytes) -> Result<Self, CauseError> {
        tlv::validate(&bytes).map_err(CauseError::Structure)?;
        Ok(Self(tlv::without_final_padding(bytes)))
    }

    /// Builds a list from typed causes.
    pub fn from_causes<'a>(causes: impl IntoIterator<Item = &'a ErrorCause>) -> Self {
        let mut v = Vec::new();
        for c in causes {
            c.write(&mut v);
        }
        Self(tlv::without_final_padding(v.into()))
    }

    /// The causes as raw values, in wire order.
    pub fn iter(&self) -> impl Iterator<Item = RawCause> + '_ {
        ValidatedTlvs::new(&self.0).map(|(code, value)| RawCause {
            code: CauseCode(code),
            value,
        })
    }

    /// The causes parsed into typed form.
    pub fn typed(&self) -> impl Iterator<Item = Result<ErrorCause, CauseError>> + '_ {
        self.iter().map(ErrorCause::parse)
    }

    /// The wire bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Length in bytes on the wire.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Causes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.typed()).finish()
    }
}

impl fmt::Display for Causes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.typed().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match c {
                Ok(c) => write!(f, "{c}")?,
                Err(e) => write!(f, "<{e}>")?,
            }
        }
        Ok(())
    }
}

/// An error cause that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CauseError {
    /// The list's TLV structure is broken.
    Structure(TlvError),
    /// The value is shorter than the cause's fixed fields.
    TooShort {
        /// Cause code.
        code: CauseCode,
        /// Minimum value length.
        need: usize,
        /// Actual value length.
        got: usize,
    },
    /// The value length is not what the cause requires.
    BadLength {
        /// Cause code.
        code: CauseCode,
        /// Expected value length.
        expected: usize,
        /// Actual value length.
        got: usize,
    },
}

impl fmt::Display for CauseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Structure(e) => write!(f, "cause list: {e}"),
            Self::TooShort { code, need, got } => {
                write!(f, "{code} value too short: need {need} bytes, got {got}")
            }
            Self::BadLength {
                code,
                expected,
                got,
            } => write!(f, "{code} value must be {expected} bytes, got {got}"),
        }
    }
}

impl std::error::Error for CauseError {}

/// Checks that a value is exactly `len` bytes.
#[inline]
pub(crate) fn exact(code: CauseCode, value: &[u8], len: usize) -> Result<(), CauseError> {
    if value.len() < len {
        return Err(CauseError::TooShort {
            code,
            need: len,
            got: value.len(),
        });
    }
    if value.len() != len {
        return Err(CauseError::BadLength {
            code,
            expected: len,
            got: value.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::chunk::padded;

    /// Serialises a cause, checks header and padding, parses it back
    /// directly and through [`ErrorCause::parse`], and returns the bytes.
    pub(crate) fn round_trip<C>(c: &C) -> Vec<u8>
    where
        C: WireCause + fmt::Debug + PartialEq + Clone + fmt::Display + Into<ErrorCause>,
    {
        let mut out = Vec::new();
        c.write(&mut out);
        assert_eq!(out.len(), padded(c.encoded_len()));
        assert_eq!(u16::from_be_bytes([out[0], out[1]]), C::CODE.0);
        assert_eq!(
            usize::from(u16::from_be_bytes([out[2], out[3]])),
            c.encoded_len()
        );
        let value = Bytes::copy_from_slice(&out[4..c.encoded_len()]);
        assert_eq!(&C::parse_value(value.clone()).expect("parses back"), c);
        let raw = RawCause {
            code: C::CODE,
            value,
        };
        assert_eq!(c.to_raw(), raw);
        let typed: ErrorCause = c.clone().into();
        assert_eq!(ErrorCause::parse(raw).expect("typed"), typed);
        let list = Causes::from_causes([&typed]);
        let back: Vec<_> = Causes::parse(list.as_bytes().clone())
            .expect("list parses")
            .typed()
            .collect();
        assert_eq!(back, vec![Ok(typed)]);
        let _ = c.to_string();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::padded;

    #[test]
    fn unknown_cause_is_kept_raw() {
        let b = Bytes::from_static(&[0x01, 0x05, 0x00, 0x06, 0x00, 0x01, 0, 0]);
        let list = Causes::parse(b).expect("valid");
        let c: Vec<_> = list.typed().collect();
        assert_eq!(
            c,
            vec![Ok(ErrorCause::Unknown(RawCause {
                code: CauseCode(0x0105),
                value: Bytes::from_static(&[0x00, 0x01]),
            }))]
        );
        assert_eq!(padded(6), 8);
    }
}
