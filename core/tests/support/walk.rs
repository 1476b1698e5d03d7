//! Walks everything a parsed packet offers, asserting the codec's invariants
//! on the way. Shared by the property tests (`core/tests/*.rs`) and the
//! cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, included with `#[path]`),
//! so that both exercise exactly the same surface.
//!
//! Nothing here may panic on malformed input; a panic means a codec bug:
//! either a crash in the parser or a broken invariant (a typed chunk that
//! does not survive serialise -> parse, a rebuilt packet that does not parse
//! back to the same chunks, ...).

#![allow(dead_code)]

use bytes::Bytes;
use mcsctp_core::cause::{CauseCode, Causes, ErrorCause};
use mcsctp_core::chunk::{
    CHUNK_HEADER_LEN, Chunk, ChunkType, ChunkTypeSet, InitCommon, RawChunk, padded,
};
use mcsctp_core::packet::{BuildError, COMMON_HEADER_LEN, Packet, PacketBuilder, ParseOptions};
use mcsctp_core::param::{Param, ParamType, Params, StateCookie};

/// The parse options every input is tried with: checksum off, checksum on,
/// and checksum off with two extension types registered as data carriers.
pub(crate) fn option_sets() -> [ParseOptions; 3] {
    let off = ParseOptions {
        verify_checksum: false,
        ..ParseOptions::default()
    };
    let ext = ParseOptions {
        verify_checksum: false,
        extra_data_types: ChunkTypeSet::EMPTY
            .with(ChunkType(0x41))
            .with(ChunkType(0xC1)),
    };
    [off, ParseOptions::default(), ext]
}

/// Parses `bytes` with every option set and walks whatever parses,
/// rebuilding the packet when `rebuild` is set.
pub(crate) fn exercise(bytes: &[u8], rebuild: bool) {
    for opts in option_sets() {
        if let Ok(p) = Packet::parse_with(Bytes::copy_from_slice(bytes), &opts) {
            walk_packet(&p, &opts, rebuild);
        }
    }
}

/// Overwrites the checksum field of `bytes` (if it has a header) with the
/// correct CRC32c, stored little-endian at bytes 8..12.
pub(crate) fn fix_crc(bytes: &mut [u8]) {
    if bytes.len() >= COMMON_HEADER_LEN {
        let crc = mcsctp_core::packet::checksum(bytes);
        bytes[8..12].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Walks a parsed packet: header accessors, both formatters, every chunk raw
/// and typed; with `rebuild`, also serialises it again (see [`rebuild`]).
pub(crate) fn walk_packet(p: &Packet, opts: &ParseOptions, rebuild: bool) {
    let _ = (p.header(), p.checksum_field(), p.len(), p.is_empty());
    assert!(p.chunk_count() >= 1);
    assert_eq!(p.chunks().count(), p.chunk_count());
    assert_eq!(
        p.first_chunk_type(),
        p.chunks().next().expect("≥1 chunk").typ
    );
    let _ = format!("{p} {p:?}");
    let mut total = COMMON_HEADER_LEN;
    for raw in p.chunks() {
        total += raw.padded_len();
        let _ = format!("{raw:?}");
        if let Ok(c) = Chunk::parse(raw) {
            walk_chunk(&c);
        }
    }
    // Chunks tile the packet exactly, padding included.
    assert_eq!(total, p.len());
    if rebuild {
        let _ = self::rebuild(p, opts);
    }
}

/// Walks one typed chunk and checks that it is a fixed point of
/// serialise -> parse.
pub(crate) fn walk_chunk(c: &Chunk) {
    let _ = (c.typ(), c.is_data(), c.to_string(), format!("{c:?}"));
    match c {
        Chunk::Init(i) => walk_init(i, false),
        Chunk::InitAck(i) => {
            walk_init(i, true);
            if let Some(Ok(sc)) = i.state_cookie() {
                let _ = sc.0.len();
            }
        }
        Chunk::Sack(s) => {
            assert_eq!(s.gap_blocks().len(), s.gap_count());
            assert_eq!(s.dup_tsns().len(), s.dup_count());
            for g in s.gap_blocks() {
                let _ = (g.first(s.cumulative_tsn_ack), g.last(s.cumulative_tsn_ack));
            }
            let _ = s.dup_tsns().count();
        }
        Chunk::Abort(a) => walk_causes(&a.causes),
        Chunk::Error(e) => walk_causes(&e.causes),
        Chunk::ForwardTsn(f) => {
            let _ = f.streams().count();
        }
        Chunk::IForwardTsn(f) => {
            let _ = f.entries().count();
        }
        Chunk::Unknown(r) => {
            let _ = (r.typ.unknown_action().stops(), r.typ.name());
        }
        _ => {}
    }
    assert_eq!(
        &reparse_chunk(c),
        c,
        "chunk is not a serialisation fixed point"
    );
}

/// Serialises a chunk with [`Chunk::write`] and parses it back.
pub(crate) fn reparse_chunk(c: &Chunk) -> Chunk {
    let mut out = Vec::new();
    c.write(&mut out);
    let len = c.encoded_len();
    assert_eq!(out.len(), padded(len), "padding of {c}");
    assert_eq!(usize::from(u16::from_be_bytes([out[2], out[3]])), len);
    assert!(out[len..].iter().all(|&b| b == 0), "non-zero padding");
    let raw = RawChunk {
        typ: ChunkType(out[0]),
        flags: out[1],
        value: Bytes::copy_from_slice(&out[CHUNK_HEADER_LEN..len]),
    };
    Chunk::parse(raw).expect("a serialised chunk parses back")
}

fn walk_init(i: &InitCommon, in_init_ack: bool) {
    if let Err(fault) = i.check() {
        let _ = (fault.to_string(), fault.abort_cause(in_init_ack));
    }
    walk_params(&i.params);
}

/// Iterates a parameter list raw and typed; every typed parameter must be a
/// serialisation fixed point.
pub(crate) fn walk_params(params: &Params) {
    let _ = format!("{params:?}");
    for r in params.iter() {
        let _ = (r.len(), r.is_empty(), r.typ.unknown_action(), r.typ.name());
    }
    let _ = params.find::<StateCookie>();
    let _ = params.contains(ParamType::HOST_NAME_ADDRESS);
    for p in params.typed() {
        let Ok(p) = p else { continue };
        let _ = p.to_string();
        match &p {
            Param::UnrecognizedParameter(u) => {
                let _ = u.param();
            }
            Param::SupportedAddressTypes(s) => {
                let _ = (s.types().count(), s.supports(ParamType::IPV4_ADDRESS));
            }
            Param::SupportedExtensions(s) => {
                let _ = (s.types().count(), s.supports(ChunkType::IDATA));
            }
            _ => {}
        }
        let mut v = Vec::new();
        p.write(&mut v);
        assert_eq!(v.len(), padded(p.encoded_len()));
        let back = Params::parse(v.into()).expect("a serialised parameter parses back");
        let back: Vec<_> = back.typed().collect();
        assert_eq!(
            back,
            vec![Ok(p)],
            "parameter is not a serialisation fixed point"
        );
    }
}

/// Iterates a cause list raw and typed; every typed cause must be a
/// serialisation fixed point.
pub(crate) fn walk_causes(causes: &Causes) {
    let _ = format!("{causes:?} {causes}");
    for r in causes.iter() {
        let _ = (r.len(), r.is_empty(), r.code.name());
    }
    for c in causes.typed() {
        let Ok(c) = c else { continue };
        let _ = c.to_string();
        if let ErrorCause::MissingMandatoryParameter(m) = &c {
            let _ = m.types().count();
        }
        let _: CauseCode = c.code();
        let back: Vec<_> = Causes::from_causes([&c]).typed().collect();
        assert_eq!(
            back,
            vec![Ok(c)],
            "cause is not a serialisation fixed point"
        );
    }
}

/// Rebuilds a parsed packet with [`PacketBuilder`]: typed chunks through
/// [`PacketBuilder::add_chunk`], the rest raw. Returns `None` when the
/// sender-side bundling rules (stricter than the receiver's) refuse it.
/// Otherwise asserts that the rebuilt packet parses (checksum on) to the same
/// chunks and that rebuilding it once more is byte-identical.
pub(crate) fn rebuild(p: &Packet, opts: &ParseOptions) -> Option<Vec<u8>> {
    let raws: Vec<RawChunk> = p.chunks().collect();
    let typed: Vec<Option<Chunk>> = raws.iter().map(|r| Chunk::parse(r.clone()).ok()).collect();
    let first = build(p, &raws, &typed, opts)?;
    let verify = ParseOptions {
        verify_checksum: true,
        ..*opts
    };
    let again =
        Packet::parse_with(Bytes::from(first.clone()), &verify).expect("a rebuilt packet parses");
    assert_eq!(again.header(), p.header());
    let raws2: Vec<RawChunk> = again.chunks().collect();
    assert_eq!(raws2.len(), raws.len());
    for ((r1, t1), r2) in raws.iter().zip(&typed).zip(&raws2) {
        match t1 {
            Some(t1) => assert_eq!(Chunk::parse(r2.clone()).as_ref(), Ok(t1)),
            None => assert_eq!(r1, r2),
        }
    }
    let typed2: Vec<Option<Chunk>> = raws2.iter().map(|r| Chunk::parse(r.clone()).ok()).collect();
    let second = build(&again, &raws2, &typed2, opts).expect("rebuilt packet rebuilds");
    assert_eq!(first, second, "build(parse(build(x))) != build(x)");
    Some(first)
}

fn build(
    p: &Packet,
    raws: &[RawChunk],
    typed: &[Option<Chunk>],
    opts: &ParseOptions,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, *p.header(), usize::MAX >> 1);
    for (raw, t) in raws.iter().zip(typed) {
        let is_data = raw.typ.is_core_data() || opts.extra_data_types.contains(raw.typ);
        let r = match t {
            Some(Chunk::Unknown(_)) | None => b.add_raw(raw, is_data),
            Some(c) => b.add_chunk(c),
        };
        match r {
            Ok(()) => {}
            Err(BuildError::Bundling(_)) => return None,
            Err(e) => panic!("a chunk from a parsed packet cannot be rebuilt: {e}"),
        }
    }
    let n = b.finish();
    assert_eq!(n, out.len());
    Some(out)
}
