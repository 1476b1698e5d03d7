//! Property tests of the wire codec (RFC 9260 §3 packet format, §6.10
//! bundling).
//!
//! - `round_trip`: every typed chunk, with random typed and unknown
//!   parameters and error causes, bundled into packets that respect the
//!   bundling rules, survives build -> parse exactly, header included, and
//!   the parameter and cause lists iterate back to the generated values.
//! - `rebuild_is_byte_identical`: build -> parse -> build gives the same
//!   bytes, and a size limit of exactly the packet's length is enough.
//! - `arbitrary_bytes_never_panic`, `chunk_soup_never_panics`: random input
//!   (raw, or well-framed chunks with random types and values) never panics
//!   the parser or anything reachable from a parsed packet.
//! - `mutated_packets_never_panic`: valid packets with random byte flips,
//!   insertions and deletions, CRC fixed up, never panic either.
//!
//! The walk over a parsed packet lives in `support/walk.rs`, shared with
//! the cargo-fuzz targets in `fuzz/`.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use mcsctp_core::cause::{
    CauseCode, CookieReceivedWhileShuttingDown, ErrorCause, InvalidMandatoryParameter,
    InvalidStreamIdentifier, MissingMandatoryParameter, NoUserData, OutOfResource,
    ProtocolViolation, RawCause, RestartWithNewAddresses, StaleCookie, UnrecognizedChunkType,
    UnrecognizedParameters, UnresolvableAddress, UserInitiatedAbort,
};
use mcsctp_core::chunk::{
    Abort, Chunk, ChunkType, CookieAck, CookieEcho, Cwr, Data, DataFlags, Ecne, ErrorChunk,
    ForwardTsn, ForwardTsnStream, GapBlock, Heartbeat, HeartbeatAck, IData, IForwardTsn,
    IForwardTsnStream, Init, InitAck, InitCommon, RawChunk, Sack, Shutdown, ShutdownAck,
    ShutdownComplete,
};
use mcsctp_core::packet::{
    BuildError, COMMON_HEADER_LEN, CommonHeader, Packet, PacketBuilder, build_packet,
};
use mcsctp_core::param::{
    CookiePreservative, EcnCapable, ForwardTsnSupported, HeartbeatInfo, HostNameAddress,
    Ipv4Address, Ipv6Address, Param, ParamType, Params, RawParam, StateCookie,
    SupportedAddressTypes, SupportedExtensions, UnrecognizedParameter,
};
use mcsctp_core::serial::{Fsn, Mid, Ppid, Ssn, StreamId, Tsn, VerificationTag};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

#[path = "support/walk.rs"]
mod walk;

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn header() -> impl Strategy<Value = CommonHeader> {
    (any::<u16>(), any::<u16>(), any::<u32>()).prop_map(|(s, d, t)| CommonHeader {
        src_port: s,
        dst_port: d,
        verification_tag: VerificationTag(t),
    })
}

/// Parameter types this crate does not parse into a typed [`Param`].
fn unknown_param_type() -> impl Strategy<Value = ParamType> {
    prop_oneof![
        // The registered ones core leaves raw (RFC 4895, 4820, 5061) ...
        prop::sample::select(vec![0x8002u16, 0x8003, 0x8004, 0x8005, 0xC001, 0xC006]),
        // ... and anything else, every high-bit action included.
        any::<u16>(),
    ]
    .prop_map(ParamType)
    .prop_filter("a type core parses", |t| {
        matches!(
            Param::parse(RawParam {
                typ: *t,
                value: Bytes::new()
            }),
            Ok(Param::Unknown(_))
        )
    })
}

fn param() -> impl Strategy<Value = Param> {
    prop_oneof![
        bytes(40).prop_map(|b| Param::HeartbeatInfo(HeartbeatInfo(b))),
        any::<[u8; 4]>().prop_map(|a| Param::Ipv4Address(Ipv4Address(Ipv4Addr::from(a)))),
        any::<[u8; 16]>().prop_map(|a| Param::Ipv6Address(Ipv6Address(Ipv6Addr::from(a)))),
        bytes(64).prop_map(|b| Param::StateCookie(StateCookie(b))),
        bytes(24).prop_map(|b| Param::UnrecognizedParameter(UnrecognizedParameter(b))),
        any::<u32>()
            .prop_map(|n| Param::CookiePreservative(CookiePreservative { increment_ms: n })),
        bytes(20).prop_map(|b| Param::HostNameAddress(HostNameAddress(b))),
        vec(any::<u16>(), 0..4).prop_map(|v| Param::SupportedAddressTypes(
            SupportedAddressTypes::new(&v.into_iter().map(ParamType).collect::<Vec<_>>())
        )),
        Just(Param::EcnCapable(EcnCapable)),
        vec(any::<u8>(), 0..7).prop_map(|v| Param::SupportedExtensions(SupportedExtensions::new(
            &v.into_iter().map(ChunkType).collect::<Vec<_>>()
        ))),
        Just(Param::ForwardTsnSupported(ForwardTsnSupported)),
        (unknown_param_type(), bytes(20))
            .prop_map(|(typ, value)| Param::Unknown(RawParam { typ, value })),
    ]
}

fn unknown_cause_code() -> impl Strategy<Value = CauseCode> {
    prop_oneof![0u16..32, any::<u16>()]
        .prop_map(CauseCode)
        .prop_filter("a code core parses", |c| c.name().is_none())
}

fn cause() -> impl Strategy<Value = ErrorCause> {
    prop_oneof![
        any::<u16>().prop_map(|s| InvalidStreamIdentifier {
            stream: StreamId(s)
        }
        .into()),
        vec(any::<u16>(), 0..5).prop_map(|v| MissingMandatoryParameter::new(
            &v.into_iter().map(ParamType).collect::<Vec<_>>()
        )
        .into()),
        any::<u32>().prop_map(|n| StaleCookie { staleness_us: n }.into()),
        Just(OutOfResource.into()),
        bytes(24).prop_map(|b| UnresolvableAddress { address: b }.into()),
        bytes(24).prop_map(|b| UnrecognizedChunkType { chunk: b }.into()),
        Just(InvalidMandatoryParameter.into()),
        bytes(24).prop_map(|b| UnrecognizedParameters { params: b }.into()),
        any::<u32>().prop_map(|n| NoUserData { tsn: Tsn(n) }.into()),
        Just(CookieReceivedWhileShuttingDown.into()),
        bytes(24).prop_map(|b| RestartWithNewAddresses { addresses: b }.into()),
        bytes(24).prop_map(|b| UserInitiatedAbort { reason: b }.into()),
        bytes(24).prop_map(|b| ProtocolViolation { info: b }.into()),
        (unknown_cause_code(), bytes(20))
            .prop_map(|(code, value)| ErrorCause::Unknown(RawCause { code, value })),
    ]
}

/// A generated chunk and, for INIT/INIT ACK and ABORT/ERROR, the parameters
/// or causes its list must iterate back to.
#[derive(Debug, Clone)]
struct Gen {
    chunk: Chunk,
    params: Option<Vec<Param>>,
    causes: Option<Vec<ErrorCause>>,
}

impl From<Chunk> for Gen {
    fn from(chunk: Chunk) -> Self {
        Self {
            chunk,
            params: None,
            causes: None,
        }
    }
}

fn init_common() -> impl Strategy<Value = (InitCommon, Vec<Param>)> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        vec(param(), 0..6),
    )
        .prop_map(|(tag, a_rwnd, os, mis, tsn, params)| {
            let list = params
                .iter()
                .fold(Params::builder(), |b, p| b.with_param(p))
                .build();
            let common = InitCommon {
                initiate_tag: VerificationTag(tag),
                a_rwnd,
                outbound_streams: os,
                inbound_streams: mis,
                initial_tsn: Tsn(tsn),
                params: list,
            };
            (common, params)
        })
}

fn init() -> impl Strategy<Value = Gen> {
    init_common().prop_map(|(c, p)| Gen {
        chunk: Chunk::Init(Init(c)),
        params: Some(p),
        causes: None,
    })
}

fn init_ack() -> impl Strategy<Value = Gen> {
    init_common().prop_map(|(c, p)| Gen {
        chunk: Chunk::InitAck(InitAck(c)),
        params: Some(p),
        causes: None,
    })
}

fn shutdown_complete() -> impl Strategy<Value = Gen> {
    any::<bool>()
        .prop_map(|t| Chunk::ShutdownComplete(ShutdownComplete { reflected_tag: t }).into())
}

fn cookie_echo() -> impl Strategy<Value = Gen> {
    bytes(80).prop_map(|b| Chunk::CookieEcho(CookieEcho { cookie: b }).into())
}

fn abort() -> impl Strategy<Value = Gen> {
    (any::<bool>(), vec(cause(), 0..5)).prop_map(|(t, causes)| Gen {
        chunk: Chunk::Abort(Abort {
            reflected_tag: t,
            causes: mcsctp_core::cause::Causes::from_causes(&causes),
        }),
        params: None,
        causes: Some(causes),
    })
}

fn error_chunk() -> impl Strategy<Value = Gen> {
    vec(cause(), 0..5).prop_map(|causes| Gen {
        chunk: Chunk::Error(ErrorChunk::new(&causes)),
        params: None,
        causes: Some(causes),
    })
}

fn sack() -> impl Strategy<Value = Gen> {
    (
        any::<u32>(),
        any::<u32>(),
        vec((any::<u16>(), any::<u16>()), 0..20),
        vec(any::<u32>(), 0..8),
    )
        .prop_map(|(cum, a_rwnd, gaps, dups)| {
            let gaps: Vec<_> = gaps
                .into_iter()
                .map(|(start, end)| GapBlock { start, end })
                .collect();
            let dups: Vec<_> = dups.into_iter().map(Tsn).collect();
            Chunk::Sack(Sack::new(Tsn(cum), a_rwnd, &gaps, &dups)).into()
        })
}

fn data() -> impl Strategy<Value = Gen> {
    (
        0u8..16,
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        bytes(120),
    )
        .prop_map(|(f, tsn, sid, ssn, ppid, user_data)| {
            Chunk::Data(Data {
                flags: DataFlags(f),
                tsn: Tsn(tsn),
                stream: StreamId(sid),
                ssn: Ssn(ssn),
                ppid: Ppid(ppid),
                user_data,
            })
            .into()
        })
}

fn idata() -> impl Strategy<Value = Gen> {
    (
        0u8..16,
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        bytes(120),
    )
        .prop_map(|(f, tsn, sid, mid, word, user_data)| {
            let flags = DataFlags(f);
            // The fourth word is the PPID on a first fragment, else the FSN.
            let (ppid, fsn) = if flags.is_begin() {
                (Ppid(word), Fsn(0))
            } else {
                (Ppid(0), Fsn(word))
            };
            Chunk::IData(IData {
                flags,
                tsn: Tsn(tsn),
                stream: StreamId(sid),
                mid: Mid(mid),
                ppid,
                fsn,
                user_data,
            })
            .into()
        })
}

fn unknown_chunk() -> impl Strategy<Value = Gen> {
    (
        any::<u8>().prop_filter("a type core parses", |t| !ChunkType(*t).is_known()),
        any::<u8>(),
        bytes(40),
    )
        .prop_map(|(t, flags, value)| {
            Chunk::Unknown(RawChunk {
                typ: ChunkType(t),
                flags,
                value,
            })
            .into()
        })
}

/// Control chunks that may be bundled freely (before any DATA).
fn control() -> impl Strategy<Value = Gen> {
    prop_oneof![
        3 => sack(),
        1 => bytes(40).prop_map(|b| Chunk::Heartbeat(Heartbeat { info: HeartbeatInfo(b) }).into()),
        1 => bytes(40).prop_map(|b| Chunk::HeartbeatAck(HeartbeatAck { info: HeartbeatInfo(b) }).into()),
        1 => (any::<u32>(), any::<u8>()).prop_map(|(t, f)| Chunk::Shutdown(Shutdown {
            cumulative_tsn_ack: Tsn(t),
            flags: f
        }).into()),
        1 => Just(Chunk::ShutdownAck(ShutdownAck).into()),
        2 => error_chunk(),
        1 => Just(Chunk::CookieAck(CookieAck).into()),
        1 => (any::<u32>(), any::<Option<u32>>()).prop_map(|(t, n)| Chunk::Ecne(Ecne {
            lowest_tsn: Tsn(t),
            packets_since_cwr: n
        }).into()),
        1 => (any::<u32>(), any::<u8>()).prop_map(|(t, f)| Chunk::Cwr(Cwr {
            lowest_tsn: Tsn(t),
            flags: f
        }).into()),
        1 => (any::<u32>(), vec((any::<u16>(), any::<u16>()), 0..6)).prop_map(|(t, s)| {
            let s: Vec<_> = s
                .into_iter()
                .map(|(sid, ssn)| ForwardTsnStream { stream: StreamId(sid), ssn: Ssn(ssn) })
                .collect();
            Chunk::ForwardTsn(ForwardTsn::new(Tsn(t), &s)).into()
        }),
        1 => (any::<u32>(), vec((any::<u16>(), any::<bool>(), any::<u32>()), 0..6)).prop_map(
            |(t, e)| {
                let e: Vec<_> = e
                    .into_iter()
                    .map(|(sid, u, mid)| IForwardTsnStream {
                        stream: StreamId(sid),
                        unordered: u,
                        mid: Mid(mid),
                    })
                    .collect();
                Chunk::IForwardTsn(IForwardTsn::new(Tsn(t), &e)).into()
            }
        ),
        2 => unknown_chunk(),
    ]
}

/// What ends a bundle: user data, an ABORT, or nothing.
fn tail() -> impl Strategy<Value = Vec<Gen>> {
    prop_oneof![
        4 => vec(prop_oneof![data(), idata()], 1..6),
        1 => abort().prop_map(|a| vec![a]),
        2 => Just(Vec::new()),
    ]
}

/// The chunks of one packet, obeying every bundling rule of RFC 9260:
/// INIT, INIT ACK and SHUTDOWN COMPLETE alone (§6.10); COOKIE ECHO first
/// (§5.1); control chunks before DATA/I-DATA (§6.10); ABORT last and never
/// with DATA (§9.1).
fn bundle() -> impl Strategy<Value = Vec<Gen>> {
    prop_oneof![
        1 => prop_oneof![init(), init_ack(), shutdown_complete()].prop_map(|c| vec![c]),
        6 => (prop::option::weighted(0.2, cookie_echo()), vec(control(), 0..5), tail()).prop_map(
            |(echo, control, tail)| {
                let mut v: Vec<Gen> = echo.into_iter().chain(control).chain(tail).collect();
                if v.is_empty() {
                    v.push(Chunk::ShutdownAck(ShutdownAck).into());
                }
                v
            }
        ),
    ]
}

fn packet() -> impl Strategy<Value = (CommonHeader, Vec<Gen>)> {
    (header(), bundle())
}

/// A random byte mutation of a packet.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    /// Overwrite a 16-bit big-endian field (lengths and counts are 16 bits).
    SetU16(Index, u16),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<Index>().prop_map(Mutation::Delete),
        2 => (any::<Index>(), any::<u16>()).prop_map(|(i, v)| Mutation::SetU16(i, v)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Flip(ref i, b) => {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        Mutation::Set(ref i, b) => {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        Mutation::Insert(ref i, b) => {
            let i = i.index(bytes.len() + 1);
            bytes.insert(i, b);
        }
        Mutation::Delete(ref i) => {
            let i = i.index(bytes.len());
            bytes.remove(i);
        }
        Mutation::SetU16(ref i, v) => {
            if bytes.len() >= 2 {
                let i = i.index(bytes.len() - 1);
                bytes[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
        }
        Mutation::Truncate(ref i) => {
            let i = i.index(bytes.len());
            bytes.truncate(i);
        }
    }
}

/// Random well-framed chunks: correct lengths and padding, random types
/// (biased to the known ones), flags and values. Reaches every typed parser
/// with garbage far more often than raw random bytes do.
fn chunk_soup() -> impl Strategy<Value = Vec<u8>> {
    let typ = prop_oneof![
        4 => prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 64, 192, 194]),
        1 => any::<u8>(),
    ];
    (
        header(),
        vec((typ, any::<u8>(), vec(any::<u8>(), 0..64)), 1..5),
    )
        .prop_map(|(h, chunks)| {
            let mut out = Vec::new();
            out.extend_from_slice(&h.src_port.to_be_bytes());
            out.extend_from_slice(&h.dst_port.to_be_bytes());
            out.extend_from_slice(&h.verification_tag.0.to_be_bytes());
            out.extend_from_slice(&[0; 4]);
            for (t, f, v) in chunks {
                RawChunk {
                    typ: ChunkType(t),
                    flags: f,
                    value: v.into(),
                }
                .write(&mut out);
            }
            walk::fix_crc(&mut out);
            out
        })
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

fn build(h: CommonHeader, chunks: &[Gen]) -> Vec<u8> {
    let chunks: Vec<Chunk> = chunks.iter().map(|g| g.chunk.clone()).collect();
    build_packet(h, &chunks).expect("generated bundles obey the rules")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// (a) parse(build(p)) == p, header and every chunk included, and the
    /// parameter and cause lists iterate back to what was generated.
    #[test]
    fn round_trip((h, gens) in packet()) {
        let wire = build(h, &gens);
        prop_assert_eq!(wire.len() % 4, 0);
        let pkt = Packet::parse(Bytes::from(wire.clone())).expect("built packet parses");
        prop_assert_eq!(pkt.header(), &h);
        prop_assert_eq!(pkt.len(), wire.len());
        prop_assert_eq!(pkt.chunk_count(), gens.len());
        let parsed: Vec<Chunk> = pkt.chunks().map(|r| Chunk::parse(r).expect("typed")).collect();
        for (g, c) in gens.iter().zip(&parsed) {
            prop_assert_eq!(&g.chunk, c);
            if let Some(want) = &g.params {
                let params = match c {
                    Chunk::Init(i) => &i.params,
                    Chunk::InitAck(i) => &i.params,
                    _ => unreachable!(),
                };
                let got: Vec<Param> = params.typed().collect::<Result<_, _>>().expect("typed params");
                prop_assert_eq!(&got, want);
            }
            if let Some(want) = &g.causes {
                let causes = match c {
                    Chunk::Abort(a) => &a.causes,
                    Chunk::Error(e) => &e.causes,
                    _ => unreachable!(),
                };
                let got: Vec<ErrorCause> = causes.typed().collect::<Result<_, _>>().expect("typed causes");
                prop_assert_eq!(&got, want);
            }
        }
        walk::walk_packet(&pkt, &Default::default(), false);
    }

    /// (d) build -> parse -> build is byte-identical, through typed chunks
    /// and through raw ones; and a builder limited to exactly the packet's
    /// length takes every chunk, one byte less refuses the last one.
    #[test]
    fn rebuild_is_byte_identical((h, gens) in packet()) {
        let wire = build(h, &gens);
        let pkt = Packet::parse(Bytes::from(wire.clone())).expect("built packet parses");
        let mut out = vec![0xEE; 3]; // the builder appends to what is there
        let mut b = PacketBuilder::new(&mut out, *pkt.header(), wire.len());
        for raw in pkt.chunks() {
            b.add_chunk(&Chunk::parse(raw).expect("typed")).expect("fits exactly");
        }
        prop_assert_eq!(b.remaining(), 0);
        prop_assert_eq!(b.finish(), wire.len());
        prop_assert_eq!(&out[3..], &wire[..]);

        let mut raw_out = Vec::new();
        let mut b = PacketBuilder::new(&mut raw_out, h, wire.len());
        for raw in pkt.chunks() {
            b.add_raw(&raw, raw.typ.is_core_data()).expect("fits exactly");
        }
        b.finish();
        prop_assert_eq!(&raw_out, &wire);

        let mut short = Vec::new();
        let mut b = PacketBuilder::new(&mut short, h, wire.len() - 1);
        let n = gens.len();
        for (i, g) in gens.iter().enumerate() {
            let r = b.add_chunk(&g.chunk);
            if i + 1 < n {
                prop_assert_eq!(r, Ok(()));
            } else {
                let is_too_big = matches!(r, Err(BuildError::TooBig { .. }));
                prop_assert!(is_too_big);
            }
        }
        drop(b);
        prop_assert!(short.is_empty(), "an unfinished builder leaves nothing behind");
        prop_assert_eq!(walk::rebuild(&pkt, &Default::default()), Some(wire));
    }

    /// (c) Valid packets with random mutations, CRC fixed up, never panic
    /// the parser or anything reachable from a parsed packet.
    #[test]
    fn mutated_packets_never_panic((h, gens) in packet(), muts in vec(mutation(), 1..8)) {
        let mut wire = build(h, &gens);
        for m in &muts {
            apply(&mut wire, m);
        }
        walk::fix_crc(&mut wire);
        walk::exercise(&wire, true);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// (b) Arbitrary bytes, with and without checksum verification (and with
    /// the checksum made right), never panic.
    #[test]
    fn arbitrary_bytes_never_panic(mut input in vec(any::<u8>(), 0..2000)) {
        walk::exercise(&input, true);
        walk::fix_crc(&mut input);
        walk::exercise(&input, true);
    }

    /// (b) Well-framed chunks with random types and values never panic.
    #[test]
    fn chunk_soup_never_panics(input in chunk_soup()) {
        walk::exercise(&input, true);
        prop_assert!(input.len() >= COMMON_HEADER_LEN);
    }
}

// ---------------------------------------------------------------------------
// Fuzz seeds
// ---------------------------------------------------------------------------

/// Prints one valid packet per chunk kind as `SEED <name> <hex>` lines;
/// `fuzz/make-seeds.sh` turns them into the seed corpus of the fuzz targets.
#[test]
#[ignore = "helper for fuzz/make-seeds.sh"]
fn print_fuzz_seeds() {
    use mcsctp_core::cause::Causes;
    let h = CommonHeader {
        src_port: 5000,
        dst_port: 5001,
        verification_tag: VerificationTag(0x0102_0304),
    };
    let params = Params::builder()
        .with(&Ipv4Address(Ipv4Addr::new(192, 0, 2, 1)))
        .with(&Ipv6Address(Ipv6Addr::LOCALHOST))
        .with(&SupportedAddressTypes::new(&[ParamType::IPV4_ADDRESS]))
        .with(&CookiePreservative { increment_ms: 500 })
        .with(&EcnCapable)
        .with(&ForwardTsnSupported)
        .with(&SupportedExtensions::new(&[
            ChunkType::IDATA,
            ChunkType::IFORWARD_TSN,
        ]))
        .with_raw(&RawParam {
            typ: ParamType::ADAPTATION_LAYER_INDICATION,
            value: Bytes::from_static(&[0, 0, 0, 1]),
        });
    let common = |params: Params| InitCommon {
        initiate_tag: VerificationTag(0xdead_beef),
        a_rwnd: 131_072,
        outbound_streams: 10,
        inbound_streams: 10,
        initial_tsn: Tsn(42),
        params,
    };
    let data = |tsn: u32, len: usize| {
        Chunk::Data(Data {
            flags: DataFlags::COMPLETE,
            tsn: Tsn(tsn),
            stream: StreamId(1),
            ssn: Ssn(tsn as u16),
            ppid: Ppid(51),
            user_data: Bytes::from(vec![0x5a; len]),
        })
    };
    let causes: Vec<ErrorCause> = vec![
        InvalidStreamIdentifier {
            stream: StreamId(9),
        }
        .into(),
        MissingMandatoryParameter::new(&[ParamType::STATE_COOKIE]).into(),
        StaleCookie { staleness_us: 1000 }.into(),
        UserInitiatedAbort {
            reason: Bytes::from_static(b"bye"),
        }
        .into(),
        ProtocolViolation {
            info: Bytes::from_static(b"bad"),
        }
        .into(),
        ErrorCause::Unknown(RawCause {
            code: CauseCode(0x00ff),
            value: Bytes::from_static(&[1, 2, 3]),
        }),
    ];
    let gaps = [GapBlock { start: 2, end: 3 }, GapBlock { start: 5, end: 9 }];
    let seeds: Vec<(&str, Vec<Chunk>)> = vec![
        (
            "init",
            vec![Chunk::Init(Init(common(params.clone().build())))],
        ),
        (
            "init_ack",
            vec![Chunk::InitAck(InitAck(common(
                params
                    .with(&StateCookie(Bytes::from(vec![0xC0; 32])))
                    .build(),
            )))],
        ),
        (
            "cookie_echo_data",
            vec![
                Chunk::CookieEcho(CookieEcho {
                    cookie: Bytes::from(vec![0xC0; 32]),
                }),
                data(42, 5),
            ],
        ),
        (
            "sack_data",
            vec![
                Chunk::Sack(Sack::new(Tsn(100), 65536, &gaps, &[Tsn(99)])),
                data(7, 100),
                data(8, 3),
            ],
        ),
        (
            "heartbeat_ack_cookie_ack",
            vec![
                Chunk::CookieAck(CookieAck),
                Chunk::Heartbeat(Heartbeat {
                    info: HeartbeatInfo(Bytes::from_static(b"hb-info-1")),
                }),
                Chunk::HeartbeatAck(HeartbeatAck {
                    info: HeartbeatInfo(Bytes::from_static(b"hb-info-22")),
                }),
            ],
        ),
        (
            "abort",
            vec![Chunk::Abort(Abort {
                reflected_tag: true,
                causes: Causes::from_causes(&causes),
            })],
        ),
        (
            "error_shutdown",
            vec![
                Chunk::Error(ErrorChunk::new(&causes[..3])),
                Chunk::Shutdown(Shutdown {
                    cumulative_tsn_ack: Tsn(5),
                    flags: 0,
                }),
                Chunk::ShutdownAck(ShutdownAck),
            ],
        ),
        (
            "shutdown_complete",
            vec![Chunk::ShutdownComplete(ShutdownComplete {
                reflected_tag: false,
            })],
        ),
        (
            "forward_tsn_ecne_cwr",
            vec![
                Chunk::ForwardTsn(ForwardTsn::new(
                    Tsn(77),
                    &[ForwardTsnStream {
                        stream: StreamId(1),
                        ssn: Ssn(3),
                    }],
                )),
                Chunk::Ecne(Ecne {
                    lowest_tsn: Tsn(70),
                    packets_since_cwr: Some(2),
                }),
                Chunk::Cwr(Cwr {
                    lowest_tsn: Tsn(70),
                    flags: 0,
                }),
            ],
        ),
        (
            "iforward_tsn_idata",
            vec![
                Chunk::IForwardTsn(IForwardTsn::new(
                    Tsn(77),
                    &[IForwardTsnStream {
                        stream: StreamId(1),
                        unordered: true,
                        mid: Mid(4),
                    }],
                )),
                Chunk::IData(IData {
                    flags: DataFlags::new(true, false, false),
                    tsn: Tsn(78),
                    stream: StreamId(2),
                    mid: Mid(5),
                    ppid: Ppid(51),
                    fsn: Fsn(0),
                    user_data: Bytes::from_static(b"first"),
                }),
                Chunk::IData(IData {
                    flags: DataFlags::new(false, true, false),
                    tsn: Tsn(79),
                    stream: StreamId(2),
                    mid: Mid(5),
                    ppid: Ppid(0),
                    fsn: Fsn(1),
                    user_data: Bytes::from_static(b"last"),
                }),
            ],
        ),
        (
            "unknown_chunks",
            vec![
                Chunk::Unknown(RawChunk {
                    typ: ChunkType(0x80 | 0x3f),
                    flags: 0x5a,
                    value: Bytes::from_static(b"skip me"),
                }),
                Chunk::Unknown(RawChunk {
                    typ: ChunkType::PAD,
                    flags: 0,
                    value: Bytes::from(vec![0; 9]),
                }),
                data(1, 1),
            ],
        ),
    ];
    for (name, chunks) in seeds {
        let wire = build_packet(h, &chunks).expect("valid seed");
        let hex: String = wire.iter().map(|b| format!("{b:02x}")).collect();
        println!("SEED {name} {hex}");
    }
}
