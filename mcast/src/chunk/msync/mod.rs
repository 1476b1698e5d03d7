//! MSYNC chunk (draft-mcsctp-tsvwg-sctp-multicast-01 §"Multicast
//! Synchronization (MSYNC, 131)") and its parameters (§"MSYNC
//! Parameters"), one file each.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type = 0x83  |   Flags = 0   |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Sync Sequence Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Highest MTSN Sent                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Multicast Cumulative TSN                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           Timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Control Sequence Number                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                                                               \
//! /                 MSYNC Parameters (association only)           /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The parameters use the TLV layout of RFC 9260 §3.2.1 (checked by core's
//! [`Params`] walker) in their own number space, [`MsyncParamType`]. The
//! draft: "A parameter whose Length is wrong for its type, or that appears
//! more often than the table allows, makes the member ignore the whole
//! MSYNC" — so [`Msync::parse_value`] rejects such an MSYNC with a typed
//! error, and "a member that meets an unknown type with high bits 00 or 01
//! ignores it and every later parameter of the MSYNC; one with 10 or 11 is
//! skipped" — so [`Msync::params`] stops there. Whether parameters may
//! appear at all (never on the group path) is the receiver's decision
//! (draft §"Receiving Group Packets"), see [`Msync::is_group_form`].

use core::fmt;

use bytes::{BufMut, Bytes};
use mcsctp_core::chunk::{ChunkError, ChunkType, UnknownAction, WireChunk};
use mcsctp_core::param::{ParamType, Params, RawParam};

use super::{be32, need};
use crate::Mtsn;

mod end;
mod feedback;
mod forward;
mod group_key;
mod start;

pub use end::{EndOfMembership, EndReason};
pub use feedback::Feedback;
pub use forward::{Forward, ForwardEntry};
pub use group_key::GroupKey;
pub use start::Start;

/// An MSYNC parameter type (draft table "MSYNC parameter types"; IANA
/// "MSYNC Parameter Types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsyncParamType(pub u16);

impl MsyncParamType {
    /// Start (draft §"Start (0x0001)").
    pub const START: Self = Self(0x0001);
    /// Forward (draft §"Forward (0x0002)").
    pub const FORWARD: Self = Self(0x0002);
    /// Group Key (draft §"Group Key (0x0003)").
    pub const GROUP_KEY: Self = Self(0x0003);
    /// Feedback (draft §"Feedback (0x0004)").
    pub const FEEDBACK: Self = Self(0x0004);
    /// End of Membership (draft §"End of Membership (0x0005)").
    pub const END_OF_MEMBERSHIP: Self = Self(0x0005);

    /// What a member that does not know the type does, from its two high
    /// bits: "the meaning of Section 3.2.1 of \[RFC9260\], except that
    /// nothing is ever reported".
    pub const fn unknown_action(self) -> UnknownAction {
        UnknownAction::from_high_bits((self.0 >> 14) as u8)
    }

    /// The registered name, if any.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "Start",
            2 => "Forward",
            3 => "Group Key",
            4 => "Feedback",
            5 => "End of Membership",
            _ => return None,
        })
    }
}

impl fmt::Display for MsyncParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "MsyncParamType({:#06x})", self.0),
        }
    }
}

/// A malformed MSYNC parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsyncParamError {
    /// The value length is not the one the type requires.
    BadLength {
        /// Parameter type.
        typ: MsyncParamType,
        /// Required value length.
        expected: usize,
        /// Actual value length.
        got: usize,
    },
    /// The value is shorter than the type's fixed fields.
    TooShort {
        /// Parameter type.
        typ: MsyncParamType,
        /// Minimum value length.
        need: usize,
        /// Actual value length.
        got: usize,
    },
    /// The parameter appears more often than the draft allows.
    TooMany {
        /// Parameter type.
        typ: MsyncParamType,
        /// How often it may appear.
        max: usize,
    },
    /// A parser was given a parameter of another type.
    WrongType {
        /// The type the parser handles.
        expected: MsyncParamType,
        /// The type found.
        found: MsyncParamType,
    },
}

impl MsyncParamError {
    /// A short fixed description, for [`ChunkError::InvalidField`].
    pub const fn what(&self) -> &'static str {
        match self {
            Self::BadLength { .. } => "MSYNC parameter with a wrong length for its type",
            Self::TooShort { .. } => "MSYNC parameter shorter than its fixed fields",
            Self::TooMany { .. } => "MSYNC parameter repeated more often than allowed",
            Self::WrongType { .. } => "MSYNC parameter of another type",
        }
    }
}

impl fmt::Display for MsyncParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength { typ, expected, got } => {
                write!(f, "{typ} value must be {expected} bytes, got {got}")
            }
            Self::TooShort { typ, need, got } => {
                write!(f, "{typ} value too short: need {need} bytes, got {got}")
            }
            Self::TooMany { typ, max } => write!(f, "{typ} appears more than {max} times"),
            Self::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
        }
    }
}

impl std::error::Error for MsyncParamError {}

impl From<MsyncParamError> for ChunkError {
    fn from(e: MsyncParamError) -> Self {
        ChunkError::InvalidField {
            typ: super::MSYNC,
            what: e.what(),
        }
    }
}

/// Checks that a parameter value is exactly `len` bytes.
pub(crate) fn exact(typ: MsyncParamType, value: &[u8], len: usize) -> Result<(), MsyncParamError> {
    if value.len() < len {
        return Err(MsyncParamError::TooShort {
            typ,
            need: len,
            got: value.len(),
        });
    }
    if value.len() != len {
        return Err(MsyncParamError::BadLength {
            typ,
            expected: len,
            got: value.len(),
        });
    }
    Ok(())
}

/// A parameter type of the MSYNC chunk with a fixed wire format, as
/// [`mcsctp_core::param::WireParam`] is for INIT parameters.
pub trait WireMsyncParam: Sized {
    /// The type code.
    const TYPE: MsyncParamType;
    /// How often the parameter may appear in one MSYNC.
    const MAX_COUNT: usize = 1;

    /// Parses the value (after the 4-byte header, padding excluded).
    fn parse_value(value: Bytes) -> Result<Self, MsyncParamError>;

    /// Length of the value [`write_value`](Self::write_value) produces.
    fn value_len(&self) -> usize;

    /// Writes exactly [`value_len`](Self::value_len) bytes.
    fn write_value<B: BufMut>(&self, out: &mut B);

    /// The Parameter Length field.
    fn encoded_len(&self) -> usize {
        4 + self.value_len()
    }

    /// Writes header, value and padding.
    fn write<B: BufMut>(&self, out: &mut B) {
        let len = self.encoded_len();
        out.put_u16(Self::TYPE.0);
        out.put_u16(len as u16);
        self.write_value(out);
        out.put_slice(&[0; 3][..padding(len)]);
    }

    /// Parses a raw parameter of this type.
    fn from_raw(raw: &RawMsyncParam) -> Result<Self, MsyncParamError> {
        if raw.typ != Self::TYPE {
            return Err(MsyncParamError::WrongType {
                expected: Self::TYPE,
                found: raw.typ,
            });
        }
        Self::parse_value(raw.value.clone())
    }

    /// Serialises into a fresh [`RawMsyncParam`].
    fn to_raw(&self) -> RawMsyncParam {
        let mut v = Vec::with_capacity(self.value_len());
        self.write_value(&mut v);
        RawMsyncParam {
            typ: Self::TYPE,
            value: v.into(),
        }
    }
}

/// Padding after an element of `len` bytes.
const fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// An MSYNC parameter as it sits in the chunk: type and zero-copy value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawMsyncParam {
    /// Parameter Type.
    pub typ: MsyncParamType,
    /// Parameter Value, without header and padding.
    pub value: Bytes,
}

impl RawMsyncParam {
    fn to_core(&self) -> RawParam {
        RawParam {
            typ: ParamType(self.typ.0),
            value: self.value.clone(),
        }
    }
}

/// A parsed MSYNC parameter; unknown types stay raw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsyncParam {
    /// Start.
    Start(Start),
    /// Forward.
    Forward(Forward),
    /// Group Key.
    GroupKey(GroupKey),
    /// Feedback.
    Feedback(Feedback),
    /// End of Membership.
    End(EndOfMembership),
    /// Any other type.
    Unknown(RawMsyncParam),
}

impl MsyncParam {
    /// Parses a raw parameter into its typed form; unknown types come back
    /// as [`MsyncParam::Unknown`].
    pub fn parse(raw: RawMsyncParam) -> Result<Self, MsyncParamError> {
        Ok(match raw.typ {
            MsyncParamType::START => Self::Start(Start::parse_value(raw.value)?),
            MsyncParamType::FORWARD => Self::Forward(Forward::parse_value(raw.value)?),
            MsyncParamType::GROUP_KEY => Self::GroupKey(GroupKey::parse_value(raw.value)?),
            MsyncParamType::FEEDBACK => Self::Feedback(Feedback::parse_value(raw.value)?),
            MsyncParamType::END_OF_MEMBERSHIP => {
                Self::End(EndOfMembership::parse_value(raw.value)?)
            }
            _ => Self::Unknown(raw),
        })
    }

    /// The parameter's type code.
    pub fn typ(&self) -> MsyncParamType {
        match self {
            Self::Start(_) => Start::TYPE,
            Self::Forward(_) => Forward::TYPE,
            Self::GroupKey(_) => GroupKey::TYPE,
            Self::Feedback(_) => Feedback::TYPE,
            Self::End(_) => EndOfMembership::TYPE,
            Self::Unknown(r) => r.typ,
        }
    }

    /// Serialises into a [`RawMsyncParam`].
    pub fn to_raw(&self) -> RawMsyncParam {
        match self {
            Self::Start(p) => p.to_raw(),
            Self::Forward(p) => p.to_raw(),
            Self::GroupKey(p) => p.to_raw(),
            Self::Feedback(p) => p.to_raw(),
            Self::End(p) => p.to_raw(),
            Self::Unknown(r) => r.clone(),
        }
    }

    /// How often a parameter of type `t` may appear (unknown: unbounded).
    fn max_count(t: MsyncParamType) -> usize {
        match t {
            MsyncParamType::GROUP_KEY => GroupKey::MAX_COUNT,
            MsyncParamType::START
            | MsyncParamType::FORWARD
            | MsyncParamType::FEEDBACK
            | MsyncParamType::END_OF_MEMBERSHIP => 1,
            _ => usize::MAX,
        }
    }
}

impl fmt::Display for MsyncParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start(p) => fmt::Display::fmt(p, f),
            Self::Forward(p) => fmt::Display::fmt(p, f),
            Self::GroupKey(p) => fmt::Display::fmt(p, f),
            Self::Feedback(p) => fmt::Display::fmt(p, f),
            Self::End(p) => fmt::Display::fmt(p, f),
            Self::Unknown(r) => write!(f, "{} ({} bytes)", r.typ, r.value.len()),
        }
    }
}

/// A multicast synchronization chunk: what the server has sent, a
/// timestamp, and on an association the member's control state.
#[derive(Clone)]
pub struct Msync {
    /// Sync Sequence Number (incremented per group-path MSYNC).
    pub sync_sequence: u32,
    /// Highest MTSN Sent.
    pub highest_mtsn_sent: Mtsn,
    /// Multicast Cumulative TSN.
    pub mctsn: Mtsn,
    /// The server's clock in microseconds, modulo 2^32.
    pub timestamp: u32,
    /// Control Sequence Number: 0 on the group path.
    pub control_sequence: u32,
    params: Params,
}

impl Msync {
    /// Length of the fixed fields after the chunk header.
    pub const HEADER_LEN: usize = 20;

    /// An MSYNC without parameters (the group-path form, or a timestamp
    /// probe on an association).
    pub fn new(
        sync_sequence: u32,
        highest_mtsn_sent: Mtsn,
        mctsn: Mtsn,
        timestamp: u32,
        control_sequence: u32,
    ) -> Self {
        Self {
            sync_sequence,
            highest_mtsn_sent,
            mctsn,
            timestamp,
            control_sequence,
            params: Params::empty(),
        }
    }

    /// This MSYNC with `param` appended.
    #[must_use]
    pub fn with_param(self, param: &MsyncParam) -> Self {
        let mut b = Params::builder();
        for raw in self.params.iter() {
            b = b.with_raw(&raw);
        }
        let params = b.with_raw(&param.to_raw().to_core()).build();
        Self { params, ..self }
    }

    /// Whether the MSYNC has the form the group path allows: no parameters
    /// and Control Sequence Number 0 (draft §"Receiving Group Packets").
    pub fn is_group_form(&self) -> bool {
        self.params.is_empty() && self.control_sequence == 0
    }

    /// Every parameter in wire order, raw, including any after an unknown
    /// type that stops processing.
    pub fn raw_params(&self) -> impl Iterator<Item = RawMsyncParam> + '_ {
        self.params.iter().map(|p| RawMsyncParam {
            typ: MsyncParamType(p.typ.0),
            value: p.value,
        })
    }

    /// The parameters a member processes, in wire order: up to and
    /// including the first unknown type whose high bits say stop.
    pub fn params(&self) -> impl Iterator<Item = MsyncParam> + '_ {
        let mut stopped = false;
        self.raw_params().map_while(move |raw| {
            if stopped {
                return None;
            }
            if MsyncParam::max_count(raw.typ) == usize::MAX && raw.typ.unknown_action().stops() {
                stopped = true;
            }
            // Validated on parse; a failure here would only come from a
            // parameter after a stopping one, which is never reached.
            Some(MsyncParam::parse(raw.clone()).unwrap_or(MsyncParam::Unknown(raw)))
        })
    }

    /// The Start parameter's Start MTSN, if present.
    pub fn start(&self) -> Option<Mtsn> {
        self.params().find_map(|p| match p {
            MsyncParam::Start(s) => Some(s.start_mtsn),
            _ => None,
        })
    }

    /// The Forward parameter, if present.
    pub fn forward(&self) -> Option<Forward> {
        self.params().find_map(|p| match p {
            MsyncParam::Forward(f) => Some(f),
            _ => None,
        })
    }

    /// The Group Key parameters (at most two).
    pub fn group_keys(&self) -> impl Iterator<Item = GroupKey> + '_ {
        self.params().filter_map(|p| match p {
            MsyncParam::GroupKey(k) => Some(k),
            _ => None,
        })
    }

    /// The Feedback parameter, if present.
    pub fn feedback(&self) -> Option<Feedback> {
        self.params().find_map(|p| match p {
            MsyncParam::Feedback(f) => Some(f),
            _ => None,
        })
    }

    /// The End of Membership parameter, if present.
    pub fn end_of_membership(&self) -> Option<EndOfMembership> {
        self.params().find_map(|p| match p {
            MsyncParam::End(e) => Some(e),
            _ => None,
        })
    }

    /// Every parameter in canonical form (reserved fields cleared), for
    /// writing and comparing.
    fn canonical_params(&self) -> impl Iterator<Item = RawMsyncParam> + '_ {
        self.raw_params()
            .map(|raw| match MsyncParam::parse(raw.clone()) {
                Ok(p) => p.to_raw(),
                Err(_) => raw,
            })
    }

    /// Checks every parameter a member would process: known types must
    /// parse and must not repeat more often than allowed.
    fn validate(params: &Params) -> Result<(), MsyncParamError> {
        let mut counts = [0usize; 6];
        for raw in params.iter() {
            let typ = MsyncParamType(raw.typ.0);
            let max = MsyncParam::max_count(typ);
            if max == usize::MAX {
                if typ.unknown_action().stops() {
                    break;
                }
                continue;
            }
            let slot = &mut counts[usize::from(typ.0)];
            *slot += 1;
            if *slot > max {
                return Err(MsyncParamError::TooMany { typ, max });
            }
            MsyncParam::parse(RawMsyncParam {
                typ,
                value: raw.value,
            })?;
        }
        Ok(())
    }
}

impl PartialEq for Msync {
    fn eq(&self, other: &Self) -> bool {
        self.sync_sequence == other.sync_sequence
            && self.highest_mtsn_sent == other.highest_mtsn_sent
            && self.mctsn == other.mctsn
            && self.timestamp == other.timestamp
            && self.control_sequence == other.control_sequence
            && self.canonical_params().eq(other.canonical_params())
    }
}

impl Eq for Msync {}

impl WireChunk for Msync {
    const TYPE: ChunkType = super::MSYNC;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, Self::HEADER_LEN)?;
        // A broken TLV structure: `ChunkError::Param(ParamError::Structure)`.
        let params = Params::parse(value.slice(Self::HEADER_LEN..)).map_err(ChunkError::Param)?;
        Self::validate(&params)?;
        Ok(Self {
            sync_sequence: be32(&value, 0),
            highest_mtsn_sent: Mtsn(be32(&value, 4)),
            mctsn: Mtsn(be32(&value, 8)),
            timestamp: be32(&value, 12),
            control_sequence: be32(&value, 16),
            params,
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        let mut len = Self::HEADER_LEN;
        let mut last_pad = 0;
        for p in self.canonical_params() {
            let l = 4 + p.value.len();
            last_pad = padding(l);
            len += l + last_pad;
        }
        // The last parameter's padding is chunk padding, not counted.
        len - last_pad
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.sync_sequence);
        out.put_u32(self.highest_mtsn_sent.0);
        out.put_u32(self.mctsn.0);
        out.put_u32(self.timestamp);
        out.put_u32(self.control_sequence);
        let mut pending = 0;
        for p in self.canonical_params() {
            out.put_slice(&[0; 3][..pending]);
            let l = 4 + p.value.len();
            out.put_u16(p.typ.0);
            out.put_u16(l as u16);
            out.put_slice(&p.value);
            pending = padding(l);
        }
    }
}

impl fmt::Debug for Msync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msync")
            .field("sync_sequence", &self.sync_sequence)
            .field("highest_mtsn_sent", &self.highest_mtsn_sent)
            .field("mctsn", &self.mctsn)
            .field("timestamp", &self.timestamp)
            .field("control_sequence", &self.control_sequence)
            .field("params", &self.params().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Msync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MSYNC seq={} highest={} mctsn={} ts={} ctl={}",
            self.sync_sequence,
            self.highest_mtsn_sent,
            self.mctsn,
            self.timestamp,
            self.control_sequence
        )?;
        for p in self.params() {
            write!(f, "; {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
