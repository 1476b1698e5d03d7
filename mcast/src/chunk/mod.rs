//! The extension's chunks, one file each (draft §"New Parameters and
//! Chunks").

use mcsctp_core::chunk::{ChunkType, ChunkTypeSet};

mod mdata;

pub use mdata::Mdata;

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

/// The extension's chunk types that carry user data: core's packet parser
/// must see them after every control chunk (RFC 9260 §6.10).
pub const DATA_CHUNK_TYPES: ChunkTypeSet = ChunkTypeSet::EMPTY.with(MDATA);
