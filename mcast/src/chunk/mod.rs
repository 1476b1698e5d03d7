//! The extension's chunks, one file each (draft §"New Parameters and
//! Chunks").
//!
//! Core hands every chunk of these types to the extension as a
//! [`RawChunk`]; [`McastChunk::parse`] turns it into the typed chunk.

use core::fmt;

use bytes::BufMut;
use mcsctp_core::chunk::{ChunkError, ChunkType, ChunkTypeSet, RawChunk, WireChunk};

mod barrier;
mod mdata;
mod mreach;
mod msack;
pub mod msync;

pub use barrier::Barrier;
pub use mdata::Mdata;
pub use mreach::{Mreach, ReachReason, ReachStatus};
pub use msack::{Msack, MsackGapBlock, SyncSnapshot};
pub use msync::Msync;

/// MDATA (draft §"Multicast Payload Data"): high bits `01`, a receiver
/// that lacks the extension stops and reports.
pub const MDATA: ChunkType = ChunkType(0x41);
/// BARRIER (draft §"BARRIER"): `01`.
pub const BARRIER: ChunkType = ChunkType(0x42);
/// MSYNC (draft §"Multicast Synchronization"): `10`, skipped silently.
pub const MSYNC: ChunkType = ChunkType(0x83);
/// MSACK (draft §"Multicast Selective Acknowledgement"): `11`.
pub const MSACK: ChunkType = ChunkType(0xC3);
/// MREACH (draft §"Multicast Reachability Report"): `11`.
pub const MREACH: ChunkType = ChunkType(0xC4);

/// The five chunk types of the extension, in the order the draft lists
/// them for the Supported Extensions parameter (draft §"Negotiation").
pub const ALL: [ChunkType; 5] = [MDATA, BARRIER, MSYNC, MSACK, MREACH];

/// The extension's chunk types that belong to the data part of a packet,
/// for core's packet parser and builder (RFC 9260 §6.10, draft §"Choice of
/// Type Codes"): MDATA carries user data, and "a BARRIER belongs to the
/// data chunk it names: it is placed immediately before that DATA or
/// I-DATA chunk, after any data chunks that precede it in the packet".
pub const DATA_CHUNK_TYPES: ChunkTypeSet = ChunkTypeSet::EMPTY.with(MDATA).with(BARRIER);

/// Whether `t` is one of the extension's chunk types.
pub const fn is_extension_type(t: ChunkType) -> bool {
    matches!(t.0, 0x41 | 0x42 | 0x83 | 0xC3 | 0xC4)
}

/// Any chunk of the extension, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum McastChunk {
    /// MDATA (draft §"Multicast Payload Data (MDATA, 65)").
    Mdata(Mdata),
    /// BARRIER (draft §"BARRIER (66)").
    Barrier(Barrier),
    /// MSYNC (draft §"Multicast Synchronization (MSYNC, 131)").
    Msync(Msync),
    /// MSACK (draft §"Multicast Selective Acknowledgement (MSACK, 195)").
    Msack(Msack),
    /// MREACH (draft §"Multicast Reachability Report (MREACH, 196)").
    Mreach(Mreach),
}

impl McastChunk {
    /// Parses a raw chunk of one of the extension's types; `None` for any
    /// other type (core's, or an unknown one). Never panics.
    pub fn parse(raw: &RawChunk) -> Option<Result<Self, ChunkError>> {
        let flags = raw.flags;
        let value = raw.value.clone();
        Some(match raw.typ {
            MDATA => Mdata::parse_value(flags, value).map(Self::Mdata),
            BARRIER => Barrier::parse_value(flags, value).map(Self::Barrier),
            MSYNC => Msync::parse_value(flags, value).map(Self::Msync),
            MSACK => Msack::parse_value(flags, value).map(Self::Msack),
            MREACH => Mreach::parse_value(flags, value).map(Self::Mreach),
            _ => return None,
        })
    }

    /// The chunk's type code.
    pub fn typ(&self) -> ChunkType {
        match self {
            Self::Mdata(_) => MDATA,
            Self::Barrier(_) => BARRIER,
            Self::Msync(_) => MSYNC,
            Self::Msack(_) => MSACK,
            Self::Mreach(_) => MREACH,
        }
    }

    /// Whether the chunk belongs to the data part of a packet
    /// ([`DATA_CHUNK_TYPES`]).
    pub fn is_data(&self) -> bool {
        DATA_CHUNK_TYPES.contains(self.typ())
    }

    /// The Chunk Length field.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Mdata(c) => c.encoded_len(),
            Self::Barrier(c) => c.encoded_len(),
            Self::Msync(c) => c.encoded_len(),
            Self::Msack(c) => c.encoded_len(),
            Self::Mreach(c) => c.encoded_len(),
        }
    }

    /// Writes header, value and padding.
    pub fn write<B: BufMut>(&self, out: &mut B) {
        match self {
            Self::Mdata(c) => c.write(out),
            Self::Barrier(c) => c.write(out),
            Self::Msync(c) => c.write(out),
            Self::Msack(c) => c.write(out),
            Self::Mreach(c) => c.write(out),
        }
    }

    /// Serialises into a fresh [`RawChunk`].
    pub fn to_raw(&self) -> RawChunk {
        match self {
            Self::Mdata(c) => c.to_raw(),
            Self::Barrier(c) => c.to_raw(),
            Self::Msync(c) => c.to_raw(),
            Self::Msack(c) => c.to_raw(),
            Self::Mreach(c) => c.to_raw(),
        }
    }
}

impl fmt::Display for McastChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mdata(c) => fmt::Display::fmt(c, f),
            Self::Barrier(c) => fmt::Display::fmt(c, f),
            Self::Msync(c) => fmt::Display::fmt(c, f),
            Self::Msack(c) => fmt::Display::fmt(c, f),
            Self::Mreach(c) => fmt::Display::fmt(c, f),
        }
    }
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

/// Checks that a chunk value holds exactly `len` bytes.
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

/// Checks that a chunk value holds at least `need` bytes.
pub(crate) fn need(typ: ChunkType, value: &[u8], need: usize) -> Result<(), ChunkError> {
    if value.len() < need {
        return Err(ChunkError::TooShort {
            typ,
            need,
            got: value.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_util {
    //! The round trip every chunk file's tests run, as core's chunk tests do.

    use core::fmt;

    use bytes::Bytes;
    use mcsctp_core::chunk::{RawChunk, WireChunk};

    use super::McastChunk;

    /// Serialises a chunk, checks header and padding, parses it back directly,
    /// through `from_raw` and through [`McastChunk::parse`], and returns the
    /// bytes.
    pub(crate) fn round_trip<C>(c: &C) -> Vec<u8>
    where
        C: WireChunk + fmt::Debug + PartialEq + Clone + fmt::Display,
    {
        let mut out = Vec::new();
        c.write(&mut out);
        assert_eq!(out.len(), c.padded_len());
        assert_eq!(out.len() % 4, 0);
        assert_eq!(out[0], C::TYPE.0);
        assert_eq!(
            usize::from(u16::from_be_bytes([out[2], out[3]])),
            c.encoded_len()
        );
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
        let typed = McastChunk::parse(&raw)
            .expect("an extension type")
            .expect("parses");
        assert_eq!(typed.to_raw(), raw);
        let _ = (c.to_string(), typed.to_string());
        out
    }

    /// Parses `bytes` (a whole chunk with header, padding allowed) as `C`.
    pub(crate) fn parse_whole<C: WireChunk>(
        bytes: &[u8],
    ) -> Result<C, mcsctp_core::chunk::ChunkError> {
        let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        assert_eq!(bytes[0], C::TYPE.0, "test vector has another type");
        C::parse_value(bytes[1], Bytes::copy_from_slice(&bytes[4..len]))
    }
}
