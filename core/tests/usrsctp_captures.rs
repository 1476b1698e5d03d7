//! Real packets captured from usrsctp (Debian `libusrsctp-examples` and the
//! usrsctp test peer in `tests/usrsctp-peer/`), committed under
//! `testdata/usrsctp/` by `testdata/usrsctp/capture.sh`. They catch byte
//! order and checksum mistakes that vectors made by our own encoder would
//! share with it.
//!
//! Every captured packet must: pass the CRC32c check, parse with every chunk
//! typed (or, for types mcsctp does not implement, kept raw), with every
//! parameter and error cause parsing, and rebuild chunk by chunk to the same
//! bytes, checksum included.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use mcsctp_core::cause::ErrorCause;
use mcsctp_core::chunk::{Chunk, ChunkType};
use mcsctp_core::packet::{Packet, PacketBuilder};
use mcsctp_core::param::{Param, ParamType, SupportedExtensions};
use mcsctp_core::serial::{Tsn, VerificationTag};

struct Captured {
    file: String,
    frame: u32,
    bytes: Vec<u8>,
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/usrsctp")
}

fn load(name: &str) -> Vec<Captured> {
    let path = testdata().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "{name}: bad line {l:?}");
            Captured {
                file: name.to_string(),
                frame: f[0].parse().expect("frame number"),
                bytes: hex(f[3]),
            }
        })
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2));
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn all_captures() -> Vec<Captured> {
    let mut names: Vec<String> = std::fs::read_dir(testdata())
        .expect("testdata/usrsctp exists")
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.ends_with(".hex").then_some(n)
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 7,
        "expected the seven captures, found {names:?}"
    );
    names.iter().flat_map(|n| load(n)).collect()
}

#[test]
fn every_captured_packet_parses_and_rebuilds_byte_for_byte() {
    let mut seen: BTreeMap<u8, usize> = BTreeMap::new();
    let packets = all_captures();
    assert!(packets.len() > 500, "captures are missing packets");
    for c in &packets {
        let what = format!("{} frame {}", c.file, c.frame);
        let p =
            Packet::parse(Bytes::from(c.bytes.clone())).unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut out = Vec::new();
        let mut b = PacketBuilder::new(&mut out, *p.header(), 1 << 16);
        for raw in p.chunks() {
            *seen.entry(raw.typ.0).or_default() += 1;
            let chunk = Chunk::parse(raw.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
            match &chunk {
                Chunk::Init(i) => {
                    for param in i.params.typed() {
                        param.unwrap_or_else(|e| panic!("{what}: {e}"));
                    }
                }
                Chunk::InitAck(i) => {
                    for param in i.params.typed() {
                        param.unwrap_or_else(|e| panic!("{what}: {e}"));
                    }
                    assert!(
                        i.state_cookie().is_some(),
                        "{what}: INIT ACK without cookie"
                    );
                }
                Chunk::Abort(a) => {
                    for cause in a.causes.typed() {
                        cause.unwrap_or_else(|e| panic!("{what}: {e}"));
                    }
                }
                Chunk::Error(e) => {
                    for cause in e.causes.typed() {
                        cause.unwrap_or_else(|e| panic!("{what}: {e}"));
                    }
                }
                Chunk::Unknown(r) => panic!("{what}: usrsctp sent a chunk we do not parse: {r:?}"),
                _ => {}
            }
            // Each chunk re-serialises to its exact bytes.
            let mut alone = Vec::new();
            chunk.write(&mut alone);
            let mut orig = Vec::new();
            raw.write(&mut orig);
            assert_eq!(alone, orig, "{what}: {chunk} re-encodes differently");
            b.add_chunk(&chunk)
                .unwrap_or_else(|e| panic!("{what}: rebuild: {e}"));
        }
        b.finish();
        assert_eq!(out, c.bytes, "{what}: packet rebuilds differently");
    }
    // The captures cover the chunk types the issue names.
    for t in [
        ChunkType::DATA,
        ChunkType::INIT,
        ChunkType::INIT_ACK,
        ChunkType::SACK,
        ChunkType::HEARTBEAT,
        ChunkType::HEARTBEAT_ACK,
        ChunkType::ABORT,
        ChunkType::SHUTDOWN,
        ChunkType::SHUTDOWN_ACK,
        ChunkType::ERROR,
        ChunkType::COOKIE_ECHO,
        ChunkType::COOKIE_ACK,
        ChunkType::SHUTDOWN_COMPLETE,
        ChunkType::IDATA,
        ChunkType::FORWARD_TSN,
        ChunkType::IFORWARD_TSN,
    ] {
        assert!(seen.contains_key(&t.0), "no {t} in the captures");
    }
}

/// The first packet of the handshake capture, decoded field by field from
/// the bytes usrsctp put on the wire.
#[test]
fn usrsctp_init_decodes_field_by_field() {
    let c = &load("handshake-data-shutdown.hex")[0];
    let p = Packet::parse(Bytes::from(c.bytes.clone())).expect("parses");
    let h = p.header();
    assert_eq!(h.verification_tag, VerificationTag(0), "INIT carries tag 0");
    // The checksum bytes on the wire are da 61 0c 36: little-endian.
    assert_eq!(&c.bytes[8..12], &[0xda, 0x61, 0x0c, 0x36]);
    assert_eq!(p.checksum_field(), 0x360c_61da);
    let Chunk::Init(init) = Chunk::parse(p.chunks().next().expect("a chunk")).expect("INIT") else {
        panic!("first chunk is not INIT");
    };
    assert_eq!(init.initiate_tag, VerificationTag(0x054c_beb3));
    assert_eq!(init.a_rwnd, 131_072);
    assert_eq!(init.outbound_streams, 10);
    assert_eq!(init.inbound_streams, 2048);
    assert_eq!(init.initial_tsn, Tsn(0x0c36_5781));
    assert_eq!(init.check(), Ok(()));
    let types: Vec<ParamType> = init.params.iter().map(|p| p.typ).collect();
    assert_eq!(
        &types[..4],
        &[
            ParamType::ECN_CAPABLE,
            ParamType::FORWARD_TSN_SUPPORTED,
            ParamType::SUPPORTED_EXTENSIONS,
            ParamType::RANDOM
        ]
    );
    let exts = init
        .params
        .find::<SupportedExtensions>()
        .expect("present")
        .expect("valid");
    assert!(exts.supports(ChunkType::FORWARD_TSN));
    assert!(exts.supports(ChunkType::AUTH));
    // AUTH's Random parameter (0x8002) is unknown to mcsctp: skipped
    // without a report (high bits 10).
    let random = init
        .params
        .typed()
        .find_map(|p| match p {
            Ok(Param::Unknown(r)) if r.typ == ParamType::RANDOM => Some(r),
            _ => None,
        })
        .expect("Random parameter, proof the peer is usrsctp");
    assert_eq!(random.value.len(), 32);
    assert!(!random.typ.unknown_action().reports());
}

/// usrsctp does not count the last parameter's padding in the INIT's chunk
/// length (RFC 9260 §3.2 allows both): the parser must accept it.
#[test]
fn last_parameter_padding_outside_the_chunk_length_is_accepted() {
    let c = &load("idata.hex")[0];
    let len = usize::from(u16::from_be_bytes([c.bytes[14], c.bytes[15]]));
    assert_eq!(len, 98, "the INIT's length leaves its last padding out");
    assert_eq!(
        c.bytes.len(),
        12 + 100,
        "the padding follows as chunk padding"
    );
    let p = Packet::parse(Bytes::from(c.bytes.clone())).expect("parses");
    let Chunk::Init(init) = Chunk::parse(p.chunks().next().expect("chunk")).expect("INIT") else {
        panic!("not an INIT");
    };
    let last = init.params.iter().last().expect("parameters");
    assert_eq!(last.typ, ParamType::SUPPORTED_ADDRESS_TYPES);
    assert_eq!(
        last.value.len(),
        2,
        "parameter length 6: one address type, unpadded"
    );
}

/// usrsctp over IPv6 lists its addresses in the INIT.
#[test]
fn ipv6_init_lists_both_address_families() {
    let c = &load("ipv6.hex")[0];
    let p = Packet::parse(Bytes::from(c.bytes.clone())).expect("parses");
    let Chunk::Init(init) = Chunk::parse(p.chunks().next().expect("chunk")).expect("INIT") else {
        panic!("not an INIT");
    };
    let addrs: Vec<Param> = init
        .params
        .typed()
        .filter_map(Result::ok)
        .filter(|p| matches!(p, Param::Ipv4Address(_) | Param::Ipv6Address(_)))
        .collect();
    assert_eq!(addrs.len(), 2, "usrsctp lists ::1 and 127.0.0.1");
}

#[test]
fn captured_abort_and_error_causes_decode() {
    let mut user_abort = 0;
    let mut stale = 0;
    for c in load("abort.hex") {
        let p = Packet::parse(Bytes::from(c.bytes)).expect("parses");
        for raw in p.chunks() {
            let causes = match Chunk::parse(raw).expect("typed") {
                Chunk::Abort(a) => a.causes,
                Chunk::Error(e) => e.causes,
                _ => continue,
            };
            for cause in causes.typed() {
                match cause.expect("valid cause") {
                    ErrorCause::UserInitiatedAbort(_) => user_abort += 1,
                    ErrorCause::StaleCookie(s) => {
                        stale += 1;
                        assert!(s.staleness_us > 0);
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(user_abort >= 2, "two ABORTs with User-Initiated Abort");
    assert!(stale >= 1, "an ERROR with Stale Cookie");
}

#[test]
fn captured_sacks_carry_gap_blocks_and_duplicates() {
    let (mut gaps, mut dups) = (0, 0);
    for c in load("sack-gaps.hex") {
        let p = Packet::parse(Bytes::from(c.bytes)).expect("parses");
        for raw in p.chunks() {
            if let Chunk::Sack(s) = Chunk::parse(raw).expect("typed") {
                for g in s.gap_blocks() {
                    assert!(g.start <= g.end && g.start >= 2, "gap {g:?} well-formed");
                    gaps += 1;
                }
                dups += s.dup_count();
            }
        }
    }
    assert!(gaps > 0 && dups > 0, "gaps {gaps}, dups {dups}");
}
