//! Parsing allocates nothing beyond the `Bytes` it is given.
//!
//! A counting global allocator (wrapping [`System`]) counts, per thread, the
//! allocations made while that thread's gate is open, so the test harness's
//! own threads do not interfere. Measured: [`Packet::parse`] (checksum
//! included), iterating every chunk, [`Chunk::parse`] of each, and walking
//! what the typed chunks expose: INIT/INIT ACK parameters typed, SACK gap
//! blocks and duplicate TSNs, ABORT causes typed, DATA payloads.
//!
//! The one allocation a parse may trigger belongs to the `Bytes` itself:
//! `Bytes::from(Vec<u8>)` of a vector whose length equals its capacity is
//! "promotable" (no shared header yet), and its first `clone`/`slice`
//! allocates the shared header. Chunk values are slices, so the first chunk
//! walked of such a buffer pays that one allocation; a vector with spare
//! capacity pays it instead in `Bytes::from`, and an already shared buffer
//! (what a receive path holding a `BytesMut` split or a cloned `Bytes` has)
//! pays nothing. The test pins all three cases down exactly.

// A `GlobalAlloc` implementation is `unsafe` by definition; it only forwards
// to `System` and bumps a counter.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use mcsctp_core::cause::{
    CauseCode, ErrorCause, InvalidStreamIdentifier, MissingMandatoryParameter, ProtocolViolation,
    RawCause, UserInitiatedAbort,
};
use mcsctp_core::chunk::{
    Abort, Chunk, ChunkType, Data, DataFlags, GapBlock, IForwardTsn, IForwardTsnStream, Init,
    InitAck, InitCommon, Sack,
};
use mcsctp_core::packet::{CommonHeader, Packet, build_packet, checksum};
use mcsctp_core::param::{
    CookiePreservative, EcnCapable, ForwardTsnSupported, Ipv4Address, Ipv6Address, Param,
    ParamType, Params, RawParam, StateCookie, SupportedAddressTypes, SupportedExtensions,
};
use mcsctp_core::serial::{Mid, Ppid, Ssn, StreamId, Tsn, VerificationTag};

struct Counting;

thread_local! {
    // Per thread, so that the harness's other threads (and the other test
    // running in parallel) never show up in a measurement. Const-initialised
    // and without destructors: touching them never allocates.
    static GATE: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if GATE.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while running `f`.
fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCS.with(Cell::get);
    GATE.with(|g| g.set(true));
    let r = f();
    GATE.with(|g| g.set(false));
    (ALLOCS.with(Cell::get) - before, r)
}

/// Parses a packet and touches everything a receiver would, without
/// allocating anything of its own; returns a checksum-like digest so that
/// nothing is optimised away.
fn parse_and_walk(bytes: Bytes) -> u64 {
    let pkt = Packet::parse(bytes).expect("valid packet");
    let mut acc = u64::from(pkt.header().verification_tag.0);
    for raw in pkt.chunks() {
        acc = acc.wrapping_mul(31).wrapping_add(u64::from(raw.typ.0));
        match Chunk::parse(raw).expect("valid chunk") {
            Chunk::Data(d) => {
                acc += u64::from(d.tsn.0) + d.user_data.len() as u64;
                acc += u64::from(d.user_data.first().copied().unwrap_or(0));
            }
            Chunk::Sack(s) => {
                acc += u64::from(s.cumulative_tsn_ack.0) + u64::from(s.a_rwnd);
                for g in s.gap_blocks() {
                    acc += u64::from(g.first(s.cumulative_tsn_ack).0);
                    acc += u64::from(g.last(s.cumulative_tsn_ack).0);
                }
                for d in s.dup_tsns() {
                    acc ^= u64::from(d.0);
                }
            }
            Chunk::Init(i) => acc += walk_init(&i.0),
            Chunk::InitAck(i) => {
                acc += walk_init(&i.0);
                let cookie = i.state_cookie().expect("has a cookie").expect("valid");
                acc += cookie.0.len() as u64;
            }
            Chunk::Abort(a) => {
                acc += u64::from(a.reflected_tag);
                for c in a.causes.typed() {
                    let c = c.expect("valid cause");
                    acc += u64::from(c.code().0) + c.encoded_len() as u64;
                    match c {
                        ErrorCause::MissingMandatoryParameter(m) => {
                            acc += m.types().map(|t| u64::from(t.0)).sum::<u64>();
                        }
                        ErrorCause::UserInitiatedAbort(u) => acc += u.reason.len() as u64,
                        _ => {}
                    }
                }
            }
            Chunk::IForwardTsn(f) => {
                acc += u64::from(f.new_cumulative_tsn.0);
                for e in f.entries() {
                    acc += u64::from(e.mid.0) + u64::from(e.unordered);
                }
            }
            other => acc += other.encoded_len() as u64,
        }
    }
    black_box(acc)
}

fn walk_init(i: &InitCommon) -> u64 {
    i.check().expect("a well-formed INIT");
    let mut acc = u64::from(i.initiate_tag.0) + u64::from(i.outbound_streams);
    for p in i.params.typed() {
        match p.expect("valid parameter") {
            Param::Ipv4Address(a) => acc += u64::from(a.0.to_bits()),
            Param::Ipv6Address(a) => acc += a.0.to_bits() as u64,
            Param::SupportedAddressTypes(s) => acc += s.types().count() as u64,
            Param::SupportedExtensions(s) => acc += u64::from(s.supports(ChunkType::IDATA)),
            Param::CookiePreservative(c) => acc += u64::from(c.increment_ms),
            Param::StateCookie(c) => acc += c.0.len() as u64,
            other => acc += u64::from(other.typ().0),
        }
    }
    acc
}

fn header() -> CommonHeader {
    CommonHeader {
        src_port: 5000,
        dst_port: 5001,
        verification_tag: VerificationTag(0x1234_5678),
    }
}

/// SACK with 16 gap blocks and 3 duplicate TSNs, then 8 DATA chunks of
/// 100 bytes: a typical bundle on a busy association.
fn sack_and_data() -> Vec<u8> {
    let gaps: Vec<GapBlock> = (0..16)
        .map(|i| GapBlock {
            start: 2 + 4 * i,
            end: 3 + 4 * i,
        })
        .collect();
    let mut chunks = vec![Chunk::Sack(Sack::new(
        Tsn(1000),
        65536,
        &gaps,
        &[Tsn(990), Tsn(991), Tsn(995)],
    ))];
    for i in 0..8u16 {
        chunks.push(Chunk::Data(Data {
            flags: DataFlags::COMPLETE,
            tsn: Tsn(5000 + u32::from(i)),
            stream: StreamId(i % 3),
            ssn: Ssn(i),
            ppid: Ppid(51),
            user_data: Bytes::from(vec![i as u8; 100]),
        }));
    }
    build_packet(header(), &chunks).expect("valid bundle")
}

fn init_params() -> Params {
    Params::builder()
        .with(&Ipv4Address(Ipv4Addr::new(192, 0, 2, 1)))
        .with(&Ipv4Address(Ipv4Addr::new(198, 51, 100, 7)))
        .with(&Ipv6Address(Ipv6Addr::LOCALHOST))
        .with(&SupportedAddressTypes::new(&[
            ParamType::IPV4_ADDRESS,
            ParamType::IPV6_ADDRESS,
        ]))
        .with(&CookiePreservative { increment_ms: 500 })
        .with(&EcnCapable)
        .with(&ForwardTsnSupported)
        .with(&SupportedExtensions::new(&[
            ChunkType::FORWARD_TSN,
            ChunkType::IDATA,
            ChunkType::IFORWARD_TSN,
        ]))
        // Adaptation Layer Indication: a parameter core keeps raw.
        .with_raw(&RawParam {
            typ: ParamType::ADAPTATION_LAYER_INDICATION,
            value: Bytes::from_static(&[0, 0, 0, 1]),
        })
        .build()
}

fn init_common(params: Params) -> InitCommon {
    InitCommon {
        initiate_tag: VerificationTag(0xdead_beef),
        a_rwnd: 131_072,
        outbound_streams: 10,
        inbound_streams: 65535,
        initial_tsn: Tsn(42),
        params,
    }
}

fn init() -> Vec<u8> {
    build_packet(header(), &[Chunk::Init(Init(init_common(init_params())))]).expect("valid")
}

fn init_ack() -> Vec<u8> {
    let mut b = init_params().as_bytes().to_vec();
    let mut cookie = Vec::new();
    mcsctp_core::param::WireParam::write(&StateCookie(Bytes::from(vec![0xC0; 200])), &mut cookie);
    b.extend_from_slice(&cookie);
    let params = Params::parse(Bytes::from(b)).expect("valid list");
    build_packet(header(), &[Chunk::InitAck(InitAck(init_common(params)))]).expect("valid")
}

fn abort() -> Vec<u8> {
    let causes: Vec<ErrorCause> = vec![
        InvalidStreamIdentifier {
            stream: StreamId(9),
        }
        .into(),
        MissingMandatoryParameter::new(&[ParamType::STATE_COOKIE, ParamType::IPV4_ADDRESS]).into(),
        UserInitiatedAbort {
            reason: Bytes::from_static(b"application shutting down"),
        }
        .into(),
        ProtocolViolation {
            info: Bytes::from_static(b"bad TSN"),
        }
        .into(),
        ErrorCause::Unknown(RawCause {
            code: CauseCode(0x00ff),
            value: Bytes::from_static(&[1, 2, 3]),
        }),
    ];
    build_packet(
        header(),
        &[Chunk::Abort(Abort {
            reflected_tag: true,
            causes: mcsctp_core::cause::Causes::from_causes(&causes),
        })],
    )
    .expect("valid")
}

fn iforward_tsn() -> Vec<u8> {
    let entries: Vec<IForwardTsnStream> = (0..4)
        .map(|i| IForwardTsnStream {
            stream: StreamId(i),
            unordered: i % 2 == 1,
            mid: Mid(u32::from(i) * 10),
        })
        .collect();
    build_packet(
        header(),
        &[Chunk::IForwardTsn(IForwardTsn::new(Tsn(77), &entries))],
    )
    .expect("valid")
}

/// A `Bytes` that is already shared: the state a receive path's buffer is
/// in once anything has cloned or sliced it.
fn shared(v: Vec<u8>) -> Bytes {
    let b = Bytes::from(v);
    drop(b.clone()); // promotes a promotable buffer (one allocation, here)
    b
}

/// `Bytes::from` of a vector with `len == capacity`: promotable, no shared
/// header yet.
fn promotable(v: Vec<u8>) -> Bytes {
    Bytes::from(v.into_boxed_slice())
}

#[test]
fn parsing_allocates_nothing_beyond_the_bytes() {
    let packets: [(&str, Vec<u8>); 5] = [
        ("SACK(16 gaps, 3 dups) + 8 DATA", sack_and_data()),
        ("INIT with 9 parameters", init()),
        ("INIT ACK with 9 parameters + cookie", init_ack()),
        ("ABORT with 5 causes", abort()),
        ("I-FORWARD-TSN with 4 entries", iforward_tsn()),
    ];

    for (name, wire) in &packets {
        // Warm up: the first parse of a process may initialise lazily
        // (e.g. CPU feature detection in crc32c); that is not per packet.
        parse_and_walk(Bytes::from(wire.clone()));

        // Shared buffer: zero.
        let b = shared(wire.clone());
        let (n, _) = allocations(|| parse_and_walk(b));
        assert_eq!(n, 0, "{name}: parsing a shared Bytes allocated {n} times");

        // Static buffer: zero.
        let leaked: &'static [u8] = Vec::leak(wire.clone());
        let (n, _) = allocations(|| parse_and_walk(Bytes::from_static(leaked)));
        assert_eq!(n, 0, "{name}: parsing a static Bytes allocated {n} times");

        // Promotable buffer: exactly one, the shared header the first chunk
        // slice creates. It belongs to the Bytes, not to the parser: any
        // other first clone would have paid it.
        let b = promotable(wire.clone());
        let (n, _) = allocations(|| parse_and_walk(b));
        assert_eq!(n, 1, "{name}: promotable Bytes: {n} allocations");

        // Vector with spare capacity: `Bytes::from` allocates the shared
        // header itself (one allocation), the parse then none.
        let mut v = Vec::with_capacity(wire.len() + 64);
        v.extend_from_slice(wire);
        let (n, b) = allocations(|| Bytes::from(v));
        assert_eq!(n, 1, "{name}: Bytes::from(Vec with spare capacity)");
        let (n, _) = allocations(|| parse_and_walk(b));
        assert_eq!(n, 0, "{name}: parsing Bytes from a spare-capacity Vec");
    }
}

/// An I-FORWARD-TSN whose reserved bits are not zero (RFC 8260 §2.3.1: they
/// "MUST be ignored by the receiver") parses without a copy too: the bits
/// are masked when the entries are read, not rewritten in a fresh buffer.
#[test]
fn iforward_tsn_with_reserved_bits_set_allocates_nothing() {
    let mut wire = iforward_tsn();
    // Chunk value starts at 12 + 4; entries after the 4-byte cumulative TSN;
    // the reserved/U field is bytes 2..4 of each entry.
    wire[12 + 4 + 4 + 2] = 0x80;
    let crc = checksum(&wire);
    wire[8..12].copy_from_slice(&crc.to_le_bytes());
    let b = shared(wire);
    let (n, _) = allocations(|| parse_and_walk(b));
    assert_eq!(n, 0);
}
