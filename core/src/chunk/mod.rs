//! SCTP chunks (RFC 9260 §3.2, §3.3), parsed in two steps: a zero-copy
//! [`RawChunk`] view, then a typed chunk.
//!
//! Every chunk type lives in its own file with its RFC diagram. All of them
//! implement [`WireChunk`], which is also the extension seam: the multicast
//! crate defines its chunks (MDATA, MSACK, ...) as further `WireChunk`
//! implementations, receives them from core as [`Chunk::Unknown`] raw chunks
//! of a type it registered, and bundles them through the same
//! [`PacketBuilder`](crate::packet::PacketBuilder).

use core::fmt;

use bytes::{BufMut, Bytes};

use crate::cause::CauseError;
use crate::param::ParamError;

mod abort;
mod cookie_ack;
mod cookie_echo;
mod cwr;
mod data;
mod ecne;
mod error;
mod forward_tsn;
mod heartbeat;
mod heartbeat_ack;
mod idata;
mod iforward_tsn;
mod init;
mod init_ack;
mod sack;
mod shutdown;
mod shutdown_ack;
mod shutdown_complete;

pub use abort::Abort;
pub use cookie_ack::CookieAck;
pub use cookie_echo::CookieEcho;
pub use cwr::Cwr;
pub use data::{Data, DataFlags};
pub use ecne::Ecne;
pub use error::ErrorChunk;
pub use forward_tsn::{ForwardTsn, ForwardTsnStream};
pub use heartbeat::Heartbeat;
pub use heartbeat_ack::HeartbeatAck;
pub use idata::IData;
pub use iforward_tsn::{IForwardTsn, IForwardTsnStream};
pub use init::{Init, InitCommon};
pub use init_ack::InitAck;
pub use sack::{GapBlock, Sack};
pub use shutdown::Shutdown;
pub use shutdown_ack::ShutdownAck;
pub use shutdown_complete::ShutdownComplete;

/// Length of a chunk header: type, flags, length (RFC 9260 §3.2).
pub const CHUNK_HEADER_LEN: usize = 4;

/// A chunk type code (RFC 9260 §3.2, IANA "Chunk Types" registry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkType(pub u8);

impl ChunkType {
    /// Payload Data (RFC 9260 §3.3.1).
    pub const DATA: Self = Self(0);
    /// Initiation (RFC 9260 §3.3.2).
    pub const INIT: Self = Self(1);
    /// Initiation Acknowledgement (RFC 9260 §3.3.3).
    pub const INIT_ACK: Self = Self(2);
    /// Selective Acknowledgement (RFC 9260 §3.3.4).
    pub const SACK: Self = Self(3);
    /// Heartbeat Request (RFC 9260 §3.3.5).
    pub const HEARTBEAT: Self = Self(4);
    /// Heartbeat Acknowledgement (RFC 9260 §3.3.6).
    pub const HEARTBEAT_ACK: Self = Self(5);
    /// Abort (RFC 9260 §3.3.7).
    pub const ABORT: Self = Self(6);
    /// Shutdown (RFC 9260 §3.3.8).
    pub const SHUTDOWN: Self = Self(7);
    /// Shutdown Acknowledgement (RFC 9260 §3.3.9).
    pub const SHUTDOWN_ACK: Self = Self(8);
    /// Operation Error (RFC 9260 §3.3.10).
    pub const ERROR: Self = Self(9);
    /// State Cookie (RFC 9260 §3.3.11).
    pub const COOKIE_ECHO: Self = Self(10);
    /// Cookie Acknowledgement (RFC 9260 §3.3.12).
    pub const COOKIE_ACK: Self = Self(11);
    /// Explicit Congestion Notification Echo (RFC 9260 Appendix A).
    pub const ECNE: Self = Self(12);
    /// Congestion Window Reduced (RFC 9260 Appendix A).
    pub const CWR: Self = Self(13);
    /// Shutdown Complete (RFC 9260 §3.3.13).
    pub const SHUTDOWN_COMPLETE: Self = Self(14);
    /// Authentication (RFC 4895); not implemented, listed for names only.
    pub const AUTH: Self = Self(15);
    /// I-DATA (RFC 8260 §2.1).
    pub const IDATA: Self = Self(64);
    /// Re-configuration (RFC 6525); not implemented, listed for names only.
    pub const RE_CONFIG: Self = Self(130);
    /// Padding (RFC 4820); not implemented, listed for names only.
    pub const PAD: Self = Self(132);
    /// Forward Cumulative TSN (RFC 3758 §3.2).
    pub const FORWARD_TSN: Self = Self(192);
    /// I-FORWARD-TSN (RFC 8260 §2.3.1).
    pub const IFORWARD_TSN: Self = Self(194);

    /// What a receiver that does not recognise this type must do, from its
    /// two high bits (RFC 9260 §3.2).
    pub const fn unknown_action(self) -> UnknownAction {
        UnknownAction::from_high_bits(self.0 >> 6)
    }

    /// The chunk types this crate parses into a typed [`Chunk`].
    pub const fn is_known(self) -> bool {
        matches!(self.0, 0..=14 | 64 | 192 | 194)
    }

    /// Whether this type carries user data and so must follow every control
    /// chunk in a packet (RFC 9260 §6.10). Only core's own types are known
    /// here; an extension declares its data chunks with
    /// [`WireChunk::IS_DATA`] and [`ChunkTypeSet`].
    pub const fn is_core_data(self) -> bool {
        matches!(self.0, 0 | 64)
    }

    /// Chunks that travel alone in a packet: "An endpoint MUST NOT bundle
    /// INIT, INIT ACK, or SHUTDOWN COMPLETE chunks with any other chunks"
    /// (RFC 9260 §6.10).
    pub const fn must_travel_alone(self) -> bool {
        matches!(self.0, 1 | 2 | 14)
    }

    /// The registered name, if this crate knows one.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "DATA",
            1 => "INIT",
            2 => "INIT ACK",
            3 => "SACK",
            4 => "HEARTBEAT",
            5 => "HEARTBEAT ACK",
            6 => "ABORT",
            7 => "SHUTDOWN",
            8 => "SHUTDOWN ACK",
            9 => "ERROR",
            10 => "COOKIE ECHO",
            11 => "COOKIE ACK",
            12 => "ECNE",
            13 => "CWR",
            14 => "SHUTDOWN COMPLETE",
            15 => "AUTH",
            64 => "I-DATA",
            128 => "ASCONF-ACK",
            130 => "RE-CONFIG",
            132 => "PAD",
            192 => "FORWARD-TSN",
            193 => "ASCONF",
            194 => "I-FORWARD-TSN",
            _ => return None,
        })
    }
}

impl fmt::Debug for ChunkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "ChunkType({})", self.0),
        }
    }
}

impl fmt::Display for ChunkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The action the two high bits of an unrecognised chunk or parameter type
/// demand (RFC 9260 §3.2 for chunks, §3.2.1 for parameters).
///
/// For chunks: "00 - Stop processing this SCTP packet; discard the
/// unrecognized chunk and all further chunks. 01 - Stop processing this SCTP
/// packet, discard the unrecognized chunk and all further chunks, and report
/// the unrecognized chunk in an ERROR chunk using the 'Unrecognized Chunk
/// Type' error cause. 10 - Skip this chunk and continue processing. 11 - Skip
/// this chunk and continue processing, but report in an ERROR chunk using the
/// 'Unrecognized Chunk Type' error cause."
///
/// For parameters the same bits mean stop or skip processing the
/// parameters of the enclosing chunk, and whether to report the parameter as
/// an Unrecognized Parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnknownAction {
    /// `00`: stop, discard the rest, do not report.
    Stop,
    /// `01`: stop, discard the rest, report.
    StopAndReport,
    /// `10`: skip this one and continue.
    Skip,
    /// `11`: skip this one, continue, and report.
    SkipAndReport,
}

impl UnknownAction {
    /// From the two high bits, already shifted down to `0..=3`.
    pub const fn from_high_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b00 => Self::Stop,
            0b01 => Self::StopAndReport,
            0b10 => Self::Skip,
            _ => Self::SkipAndReport,
        }
    }

    /// Whether processing stops at the unknown element.
    pub const fn stops(self) -> bool {
        matches!(self, Self::Stop | Self::StopAndReport)
    }

    /// Whether the unknown element is reported to the sender.
    pub const fn reports(self) -> bool {
        matches!(self, Self::StopAndReport | Self::SkipAndReport)
    }
}

/// A set of chunk types (a 256-bit bitmap), used to tell the packet parser
/// which extension types carry user data.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkTypeSet([u64; 4]);

impl ChunkTypeSet {
    /// The empty set.
    pub const EMPTY: Self = Self([0; 4]);

    /// The set with `t` added.
    #[must_use]
    pub const fn with(mut self, t: ChunkType) -> Self {
        self.0[(t.0 >> 6) as usize] |= 1 << (t.0 & 63);
        self
    }

    /// Whether `t` is in the set.
    pub const fn contains(&self, t: ChunkType) -> bool {
        self.0[(t.0 >> 6) as usize] & (1 << (t.0 & 63)) != 0
    }
}

impl fmt::Debug for ChunkTypeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries((0..=255u8).map(ChunkType).filter(|t| self.contains(*t)))
            .finish()
    }
}

/// A chunk as it sits in a packet: type, flags and value, the value a
/// zero-copy slice of the packet (RFC 9260 §3.2).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Chunk Type  | Chunk  Flags  |         Chunk Length          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// \                                                               \
/// /                          Chunk Value                          /
/// \                                                               \
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawChunk {
    /// Chunk Type.
    pub typ: ChunkType,
    /// Chunk Flags.
    pub flags: u8,
    /// Chunk Value, without the header and without padding.
    pub value: Bytes,
}

impl RawChunk {
    /// The Chunk Length field: header plus value, padding excluded.
    pub fn len(&self) -> usize {
        CHUNK_HEADER_LEN + self.value.len()
    }

    /// Whether the value is empty (a chunk is never shorter than its header).
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Bytes this chunk occupies in a packet, padding included.
    pub fn padded_len(&self) -> usize {
        padded(self.len())
    }

    /// Serialises header, value and zero padding. The value must fit the
    /// 16-bit length field; the [`PacketBuilder`](crate::packet::PacketBuilder)
    /// checks that before calling.
    pub fn write<B: BufMut>(&self, out: &mut B) {
        write_header(out, self.typ, self.flags, self.len());
        out.put_slice(&self.value);
        put_padding(out, self.len());
    }
}

impl fmt::Debug for RawChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawChunk {{ typ: {:?}, flags: {:#04x}, value: {} bytes }}",
            self.typ,
            self.flags,
            self.value.len()
        )
    }
}

/// A chunk type with a fixed wire format: what every chunk file implements,
/// and the trait an extension implements for its own chunks.
pub trait WireChunk: Sized {
    /// The type code.
    const TYPE: ChunkType;
    /// Whether the chunk carries user data and so goes after every control
    /// chunk of a packet (RFC 9260 §6.10).
    const IS_DATA: bool = false;

    /// Parses the chunk value (after the 4-byte header, padding excluded).
    /// Never panics; every length is checked before use.
    fn parse_value(flags: u8, value: Bytes) -> Result<Self, ChunkError>;

    /// The Chunk Flags field.
    fn flags(&self) -> u8;

    /// Length of the value [`write_value`](Self::write_value) produces.
    fn value_len(&self) -> usize;

    /// Writes exactly [`value_len`](Self::value_len) bytes of value.
    fn write_value<B: BufMut>(&self, out: &mut B);

    /// Parses a raw chunk of this type.
    fn from_raw(raw: &RawChunk) -> Result<Self, ChunkError> {
        if raw.typ != Self::TYPE {
            return Err(ChunkError::WrongType {
                expected: Self::TYPE,
                found: raw.typ,
            });
        }
        Self::parse_value(raw.flags, raw.value.clone())
    }

    /// The Chunk Length field: header plus value.
    fn encoded_len(&self) -> usize {
        CHUNK_HEADER_LEN + self.value_len()
    }

    /// Bytes the chunk occupies in a packet, padding included.
    fn padded_len(&self) -> usize {
        padded(self.encoded_len())
    }

    /// Writes header, value and padding.
    fn write<B: BufMut>(&self, out: &mut B) {
        let len = self.encoded_len();
        write_header(out, Self::TYPE, self.flags(), len);
        self.write_value(out);
        put_padding(out, len);
    }

    /// Serialises into a fresh [`RawChunk`] (allocates; for tests, for
    /// keeping a chunk to resend, and for carrying it through [`Chunk`]).
    fn to_raw(&self) -> RawChunk {
        let mut v = Vec::with_capacity(self.value_len());
        self.write_value(&mut v);
        RawChunk {
            typ: Self::TYPE,
            flags: self.flags(),
            value: v.into(),
        }
    }
}

/// A parsed chunk of any type this crate knows; unknown types stay raw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Chunk {
    /// DATA.
    Data(Data),
    /// INIT.
    Init(Init),
    /// INIT ACK.
    InitAck(InitAck),
    /// SACK.
    Sack(Sack),
    /// HEARTBEAT.
    Heartbeat(Heartbeat),
    /// HEARTBEAT ACK.
    HeartbeatAck(HeartbeatAck),
    /// ABORT.
    Abort(Abort),
    /// SHUTDOWN.
    Shutdown(Shutdown),
    /// SHUTDOWN ACK.
    ShutdownAck(ShutdownAck),
    /// ERROR.
    Error(ErrorChunk),
    /// COOKIE ECHO.
    CookieEcho(CookieEcho),
    /// COOKIE ACK.
    CookieAck(CookieAck),
    /// ECNE.
    Ecne(Ecne),
    /// CWR.
    Cwr(Cwr),
    /// SHUTDOWN COMPLETE.
    ShutdownComplete(ShutdownComplete),
    /// FORWARD-TSN.
    ForwardTsn(ForwardTsn),
    /// I-DATA.
    IData(IData),
    /// I-FORWARD-TSN.
    IForwardTsn(IForwardTsn),
    /// Any other type, kept whole so that an extension can parse it or the
    /// association can apply [`ChunkType::unknown_action`].
    Unknown(RawChunk),
}

macro_rules! chunk_dispatch {
    ($($variant:ident => $ty:ident),* $(,)?) => {
        impl Chunk {
            /// Parses a raw chunk into its typed form. Types this crate does
            /// not know come back as [`Chunk::Unknown`]; a known type whose
            /// value is malformed is an error.
            pub fn parse(raw: RawChunk) -> Result<Self, ChunkError> {
                $(
                    if raw.typ == $ty::TYPE {
                        return $ty::parse_value(raw.flags, raw.value).map(Chunk::$variant);
                    }
                )*
                Ok(Chunk::Unknown(raw))
            }

            /// The chunk's type code.
            pub fn typ(&self) -> ChunkType {
                match self {
                    $(Chunk::$variant(_) => $ty::TYPE,)*
                    Chunk::Unknown(r) => r.typ,
                }
            }

            /// The Chunk Length field.
            pub fn encoded_len(&self) -> usize {
                match self {
                    $(Chunk::$variant(c) => c.encoded_len(),)*
                    Chunk::Unknown(r) => r.len(),
                }
            }

            /// Writes header, value and padding.
            pub fn write<B: BufMut>(&self, out: &mut B) {
                match self {
                    $(Chunk::$variant(c) => c.write(out),)*
                    Chunk::Unknown(r) => r.write(out),
                }
            }
        }

        impl fmt::Display for Chunk {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Chunk::$variant(c) => fmt::Display::fmt(c, f),)*
                    Chunk::Unknown(r) => write!(f, "{:?} flags={:#04x} len={}", r.typ, r.flags, r.len()),
                }
            }
        }
    };
}

chunk_dispatch!(
    Data => Data,
    Init => Init,
    InitAck => InitAck,
    Sack => Sack,
    Heartbeat => Heartbeat,
    HeartbeatAck => HeartbeatAck,
    Abort => Abort,
    Shutdown => Shutdown,
    ShutdownAck => ShutdownAck,
    Error => ErrorChunk,
    CookieEcho => CookieEcho,
    CookieAck => CookieAck,
    Ecne => Ecne,
    Cwr => Cwr,
    ShutdownComplete => ShutdownComplete,
    ForwardTsn => ForwardTsn,
    IData => IData,
    IForwardTsn => IForwardTsn,
);

impl Chunk {
    /// Whether this chunk carries user data (DATA or I-DATA).
    pub fn is_data(&self) -> bool {
        self.typ().is_core_data()
    }
}

/// A chunk value that cannot be parsed. The association turns these into the
/// RFC's response (usually discarding the packet or an ABORT with a Protocol
/// Violation or Invalid Mandatory Parameter cause).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkError {
    /// The value is shorter than the chunk's fixed fields.
    TooShort {
        /// Chunk type.
        typ: ChunkType,
        /// Minimum value length.
        need: usize,
        /// Actual value length.
        got: usize,
    },
    /// The value length does not match what the chunk's fields say (for
    /// example a SACK whose gap-block count overruns the chunk).
    BadLength {
        /// Chunk type.
        typ: ChunkType,
        /// Value length expected from the fields.
        expected: usize,
        /// Actual value length.
        got: usize,
    },
    /// [`WireChunk::from_raw`] was given a chunk of another type.
    WrongType {
        /// The type the parser handles.
        expected: ChunkType,
        /// The type of the raw chunk.
        found: ChunkType,
    },
    /// A field holds a value the RFC forbids.
    InvalidField {
        /// Chunk type.
        typ: ChunkType,
        /// Which field, and why.
        what: &'static str,
    },
    /// A parameter inside the chunk is malformed.
    Param(ParamError),
    /// An error cause inside the chunk is malformed.
    Cause(CauseError),
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { typ, need, got } => {
                write!(f, "{typ} value too short: need {need} bytes, got {got}")
            }
            Self::BadLength { typ, expected, got } => {
                write!(
                    f,
                    "{typ} value length {got} does not match its fields ({expected})"
                )
            }
            Self::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            Self::InvalidField { typ, what } => write!(f, "{typ}: {what}"),
            Self::Param(e) => write!(f, "parameter: {e}"),
            Self::Cause(e) => write!(f, "error cause: {e}"),
        }
    }
}

impl std::error::Error for ChunkError {}

impl From<ParamError> for ChunkError {
    fn from(e: ParamError) -> Self {
        Self::Param(e)
    }
}

impl From<CauseError> for ChunkError {
    fn from(e: CauseError) -> Self {
        Self::Cause(e)
    }
}

/// Checks that a value holds at least `need` bytes.
#[inline]
pub(crate) fn need(typ: ChunkType, value: &[u8], need: usize) -> Result<(), ChunkError> {
    if value.len() < need {
        Err(ChunkError::TooShort {
            typ,
            need,
            got: value.len(),
        })
    } else {
        Ok(())
    }
}

/// Checks that a value holds exactly `len` bytes.
#[inline]
pub(crate) fn exact(typ: ChunkType, value: &[u8], len: usize) -> Result<(), ChunkError> {
    need(typ, value, len)?;
    if value.len() != len {
        return Err(ChunkError::BadLength {
            typ,
            expected: len,
            got: value.len(),
        });
    }
    Ok(())
}

/// `len` rounded up to a multiple of 4.
#[inline]
pub const fn padded(len: usize) -> usize {
    (len + 3) & !3
}

#[inline]
fn write_header<B: BufMut>(out: &mut B, typ: ChunkType, flags: u8, len: usize) {
    debug_assert!(
        len <= u16::MAX as usize,
        "chunk longer than its length field"
    );
    out.put_u8(typ.0);
    out.put_u8(flags);
    out.put_u16(len as u16);
}

#[inline]
pub(crate) fn put_padding<B: BufMut>(out: &mut B, len: usize) {
    const ZEROS: [u8; 3] = [0; 3];
    out.put_slice(&ZEROS[..padded(len) - len]);
}

/// Reads a big-endian `u16` at `at`; the caller has checked the length.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian `u32` at `at`; the caller has checked the length.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// Serialises a chunk, checks the header and padding, parses it back both
    /// directly and through [`Chunk::parse`], and returns the bytes.
    pub(crate) fn round_trip<C>(c: &C) -> Vec<u8>
    where
        C: WireChunk + fmt::Debug + PartialEq + Clone + fmt::Display,
    {
        let mut out = Vec::new();
        c.write(&mut out);
        assert_eq!(out.len(), c.padded_len());
        assert_eq!(out.len() % 4, 0);
        assert_eq!(out[0], C::TYPE.0);
        assert_eq!(be16(&out, 2) as usize, c.encoded_len());
        let value = Bytes::copy_from_slice(&out[4..c.encoded_len()]);
        let back = C::parse_value(out[1], value.clone()).expect("round trip parses");
        assert_eq!(&back, c);
        let raw = RawChunk {
            typ: C::TYPE,
            flags: out[1],
            value,
        };
        assert_eq!(C::from_raw(&raw).expect("from_raw"), *c);
        assert_eq!(c.to_raw(), raw);
        let _ = c.to_string();
        out
    }

    /// Parses `bytes` (a whole chunk with header) as `C`.
    pub(crate) fn parse_whole<C: WireChunk>(bytes: &[u8]) -> Result<C, ChunkError> {
        let len = be16(bytes, 2) as usize;
        assert_eq!(bytes[0], C::TYPE.0, "test vector has another type");
        C::parse_value(bytes[1], Bytes::copy_from_slice(&bytes[4..len]))
    }
}
