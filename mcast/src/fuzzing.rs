//! The codec walk shared by this crate's property tests and the cargo-fuzz
//! target `fuzz/fuzz_targets/mcast_parse.rs` (feature `fuzzing` only).
//!
//! Everything here takes arbitrary bytes and must never panic on them; the
//! `assert!`s check the codec's invariants (a typed element survives
//! serialise -> parse, a rebuilt packet parses back to the same chunks),
//! so a panic is a codec bug.

// Panicking on a broken invariant is this module's purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use bytes::Bytes;
use mcsctp_core::chunk::{Chunk, ChunkType, InitCommon, RawChunk, WireChunk, padded};
use mcsctp_core::packet::{BuildError, COMMON_HEADER_LEN, Packet, PacketBuilder, ParseOptions};
use mcsctp_core::param::{Params, WireParam};

use crate::auth::{GroupAuth, verify_group_packet};
use crate::chunk::msync::{MsyncParam, MsyncParamType, RawMsyncParam};
use crate::chunk::{
    Barrier, DATA_CHUNK_TYPES, McastChunk, Mdata, Mreach, Msack, Msync, is_extension_type,
};
use crate::param::{MulticastCapable, MulticastGroup};

pub mod group_wire;

/// Parse options with the extension's data chunk types registered, with or
/// without the checksum.
pub fn options(verify_checksum: bool) -> ParseOptions {
    ParseOptions {
        verify_checksum,
        extra_data_types: DATA_CHUNK_TYPES,
    }
}

/// Parses `bytes` as a packet (checksum off, then on) and walks whatever
/// parses; with `rebuild`, also rebuilds it ([`rebuild`]).
pub fn exercise_packet(bytes: &[u8], rebuild: bool) {
    for verify in [false, true] {
        if let Ok(p) = Packet::parse_with(Bytes::copy_from_slice(bytes), &options(verify)) {
            walk_packet(&p, rebuild);
        }
    }
    // The group MAC check takes any bytes.
    let key = [0u8; 32];
    let _ = verify_group_packet(bytes, |_| Some(&key[..]));
}

/// Walks a parsed packet: every chunk raw, every extension chunk typed and
/// round-tripped, the extension's INIT / INIT ACK parameters and the AUTH
/// chunk of group packets likewise.
pub fn walk_packet(p: &Packet, rebuild: bool) {
    let _ = format!("{p} {p:?}");
    let mut total = COMMON_HEADER_LEN;
    for raw in p.chunks() {
        total += raw.padded_len();
        walk_raw_chunk(&raw);
    }
    assert_eq!(total, p.len(), "chunks tile the packet");
    if rebuild {
        let _ = self::rebuild(p);
    }
}

/// Walks one raw chunk of any type.
pub fn walk_raw_chunk(raw: &RawChunk) {
    if let Some(parsed) = McastChunk::parse(raw) {
        if let Ok(c) = parsed {
            walk_mcast_chunk(&c);
        }
        return;
    }
    if raw.typ == ChunkType::AUTH {
        if let Ok(a) = GroupAuth::from_raw(raw) {
            let back = GroupAuth::from_raw(&a.to_raw()).expect("AUTH round trip parses");
            assert_eq!(back, a);
            let _ = format!("{a} {a:?}");
        }
        return;
    }
    match Chunk::parse(raw.clone()) {
        Ok(Chunk::Init(i)) => walk_init_params(&i.0),
        Ok(Chunk::InitAck(i)) => walk_init_params(&i.0),
        _ => {}
    }
}

/// Walks the Multicast-Capable and Multicast-Group parameters of an INIT
/// or INIT ACK.
pub fn walk_init_params(init: &InitCommon) {
    walk_params(&init.params);
}

fn walk_params(params: &Params) {
    for raw in params.iter() {
        if raw.typ == MulticastCapable::TYPE {
            if let Ok(p) = MulticastCapable::from_raw(&raw) {
                assert_eq!(MulticastCapable::from_raw(&p.to_raw()), Ok(p));
                let _ = p.to_string();
            }
        } else if raw.typ == MulticastGroup::TYPE
            && let Ok(p) = MulticastGroup::from_raw(&raw)
        {
            let back = MulticastGroup::from_raw(&p.to_raw()).expect("round trip parses");
            assert_eq!(back, p);
            let _ = (p.stream_ranges().count(), p.to_string(), format!("{p:?}"));
        }
    }
}

/// Walks a typed extension chunk: every sub-element, both formatters, and
/// serialise -> parse, which must give the same chunk, and serialise again,
/// which must give the same bytes.
pub fn walk_mcast_chunk(c: &McastChunk) {
    let _ = format!("{c} {c:?}");
    match c {
        McastChunk::Msack(m) => {
            let _ = (m.gap_blocks().count(), m.dup_mtsns().count());
            for g in m.gap_blocks() {
                let _ = (
                    g.first(m.cumulative_mtsn_ack),
                    g.last(m.cumulative_mtsn_ack),
                );
            }
        }
        McastChunk::Msync(m) => {
            for p in m.params() {
                let _ = p.to_string();
                if let MsyncParam::Forward(f) = &p {
                    let _ = f.entries().count();
                }
            }
            let _ = (m.start(), m.forward(), m.group_keys().count(), m.feedback());
            let _ = (
                m.end_of_membership(),
                m.is_group_form(),
                m.raw_params().count(),
            );
        }
        McastChunk::Mdata(_) | McastChunk::Barrier(_) | McastChunk::Mreach(_) => {}
    }
    let raw = c.to_raw();
    assert_eq!(raw.len(), c.encoded_len());
    let back = McastChunk::parse(&raw)
        .expect("an extension type")
        .expect("a typed chunk parses back");
    assert_eq!(&back, c, "serialise -> parse changed the chunk");
    assert_eq!(back.to_raw(), raw, "serialising twice differs");
    let mut out = Vec::new();
    c.write(&mut out);
    assert_eq!(out.len(), padded(c.encoded_len()));
}

/// Parses `value` as the value of each of the extension's chunks, of the
/// AUTH chunk and of the two parameters, and walks what parses.
pub fn walk_values(flags: u8, value: &[u8]) {
    let v = Bytes::copy_from_slice(value);
    let typed = [
        Mdata::parse_value(flags, v.clone()).map(McastChunk::Mdata),
        Barrier::parse_value(flags, v.clone()).map(McastChunk::Barrier),
        Msync::parse_value(flags, v.clone()).map(McastChunk::Msync),
        Msack::parse_value(flags, v.clone()).map(McastChunk::Msack),
        Mreach::parse_value(flags, v.clone()).map(McastChunk::Mreach),
    ];
    for c in typed.into_iter().flatten() {
        walk_mcast_chunk(&c);
    }
    let _ = GroupAuth::parse_value(flags, v.clone());
    if let Ok(p) = MulticastCapable::parse_value(v.clone()) {
        assert_eq!(MulticastCapable::from_raw(&p.to_raw()), Ok(p));
    }
    if let Ok(p) = MulticastGroup::parse_value(v.clone()) {
        assert_eq!(MulticastGroup::from_raw(&p.to_raw()).as_ref(), Ok(&p));
    }
    // As an MSYNC parameter of the type the flags select (1 to 5 known).
    let raw = RawMsyncParam {
        typ: MsyncParamType(u16::from(flags) % 6),
        value: v,
    };
    if let Ok(p) = MsyncParam::parse(raw) {
        let back = MsyncParam::parse(p.to_raw()).expect("parameter round trip parses");
        assert_eq!(back, p);
    }
}

/// Rebuilds a parsed packet with core's builder, every extension chunk
/// re-encoded from its typed form, and checks that the result parses (with
/// the checksum) to the same chunks and rebuilds to the same bytes. Returns
/// the builder's refusal if the packet breaks a rule only senders are held
/// to (or an element is malformed and so cannot be re-encoded).
pub fn rebuild(p: &Packet) -> Result<Vec<u8>, BuildError> {
    let chunks: Vec<RawChunk> = p
        .chunks()
        .map(|raw| match McastChunk::parse(&raw) {
            Some(Ok(c)) => c.to_raw(),
            _ => raw,
        })
        .collect();
    let first = build(p, &chunks)?;
    let back = Packet::parse_with(Bytes::from(first.clone()), &options(true))
        .expect("a rebuilt packet parses");
    assert_eq!(back.header(), p.header());
    let again: Vec<RawChunk> = back.chunks().collect();
    assert_eq!(again, chunks, "rebuild changed the chunks");
    let second = build(&back, &again)?;
    assert_eq!(first, second, "rebuilding twice differs");
    Ok(first)
}

fn build(p: &Packet, chunks: &[RawChunk]) -> Result<Vec<u8>, BuildError> {
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, *p.header(), usize::MAX >> 1);
    for c in chunks {
        let is_data = c.typ.is_core_data() || DATA_CHUNK_TYPES.contains(c.typ);
        b.add_raw(c, is_data)?;
    }
    b.finish();
    Ok(out)
}

/// Whether `t` is a type this walk types (for the fuzz target's
/// statistics).
pub fn is_walked_type(t: ChunkType) -> bool {
    is_extension_type(t) || t == ChunkType::AUTH
}
