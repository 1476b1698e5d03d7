//! Property tests of the extension's wire codec (draft §"New Parameters
//! and Chunks"):
//!
//! - every chunk (MDATA, BARRIER, MSYNC with any parameters, MSACK,
//!   MREACH), both parameters (Multicast-Capable, Multicast-Group) and the
//!   AUTH chunk of group packets survive build -> parse exactly, and
//!   parse -> build -> parse is stable;
//! - packets of random extension chunks, built with core's builder under
//!   the bundling rules, parse (checksum on) and rebuild byte for byte;
//! - arbitrary bytes, as chunk values, parameter values or whole packets,
//!   and valid encodings with random byte flips, insertions and deletions
//!   never panic any parser or anything reachable from what parses.
//!
//! The walk over parsed input is `mcsctp_mcast::fuzzing`, shared with the
//! fuzz target `fuzz/fuzz_targets/mcast_parse.rs`.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use mcsctp_core::chunk::{DataFlags, RawChunk, WireChunk};
use mcsctp_core::packet::{CommonHeader, Packet, PacketBuilder};
use mcsctp_core::param::WireParam;
use mcsctp_core::serial::{Fsn, Mid, Ppid, StreamId, Tsn, VerificationTag};
use mcsctp_mcast::Mtsn;
use mcsctp_mcast::auth::{GroupAuth, sign_group_packet, verify_group_packet};
use mcsctp_mcast::chunk::msync::{
    EndOfMembership, EndReason, Feedback, Forward, ForwardEntry, GroupKey, MsyncParam,
    MsyncParamType, RawMsyncParam, Start,
};
use mcsctp_mcast::chunk::{
    Barrier, McastChunk, Mdata, Mreach, Msack, MsackGapBlock, Msync, ReachReason, ReachStatus,
    SyncSnapshot,
};
use mcsctp_mcast::fuzzing;
use mcsctp_mcast::param::{GroupAddresses, MulticastCapable, MulticastGroup, StreamRange};
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), min..max).prop_map(Bytes::from)
}

fn mtsn() -> impl Strategy<Value = Mtsn> {
    any::<u32>().prop_map(Mtsn)
}

fn tag() -> impl Strategy<Value = VerificationTag> {
    any::<u32>().prop_map(VerificationTag)
}

fn mdata() -> impl Strategy<Value = Mdata> {
    (
        0u8..16,
        mtsn(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        bytes(0, 64),
    )
        .prop_map(|(flags, m, s, mid, word, data)| {
            let flags = DataFlags(flags);
            let (ppid, fsn) = if flags.is_begin() {
                (Ppid(word), Fsn(0))
            } else {
                (Ppid(0), Fsn(word))
            };
            Mdata {
                flags,
                mtsn: m,
                stream: StreamId(s),
                mid: Mid(mid),
                ppid,
                fsn,
                user_data: data,
            }
        })
}

fn barrier() -> impl Strategy<Value = Barrier> {
    (any::<bool>(), tag(), any::<u32>(), mtsn()).prop_map(|(d, g, t, m)| Barrier {
        unicast_first: d,
        group_tag: g,
        tsn: Tsn(t),
        mtsn: m,
    })
}

fn mreach() -> impl Strategy<Value = Mreach> {
    (tag(), any::<u8>(), any::<u8>()).prop_map(|(g, s, r)| Mreach {
        group_tag: g,
        status: ReachStatus::from_u8(s),
        reason: ReachReason::from_u8(r),
    })
}

fn msack() -> impl Strategy<Value = Msack> {
    (
        (
            any::<bool>(),
            tag(),
            mtsn(),
            mtsn(),
            any::<u32>(),
            any::<u32>(),
        ),
        (any::<u32>(), any::<u32>(), proptest::option::of(mtsn())),
        proptest::option::of(any::<(u32, u32, u32)>()),
        vec(any::<(u16, u16)>(), 0..8),
        vec(mtsn(), 0..6),
    )
        .prop_map(
            |((j, g, cum, through, a, ctl), (ts, delay, uni), sync, gaps, dups)| {
                let gaps: Vec<_> = gaps
                    .into_iter()
                    .map(|(start, end)| MsackGapBlock { start, end })
                    .collect();
                Msack::new(
                    j,
                    g,
                    cum,
                    through,
                    a,
                    ctl,
                    ts,
                    delay,
                    uni,
                    sync.map(|(l, r, c)| SyncSnapshot {
                        last_sync_sequence: l,
                        group_received: r,
                        sync_received: c,
                    }),
                    &gaps,
                    &dups,
                )
            },
        )
}

fn forward() -> impl Strategy<Value = Forward> {
    (
        mtsn(),
        vec((any::<u16>(), any::<bool>(), any::<u32>()), 0..6),
    )
        .prop_map(|(m, e)| {
            let e: Vec<_> = e
                .into_iter()
                .map(|(s, u, mid)| ForwardEntry {
                    stream: StreamId(s),
                    unordered: u,
                    mid: Mid(mid),
                })
                .collect();
            Forward::new(m, &e)
        })
}

/// A parameter type core's list accepts and this crate does not know, with
/// a high-bit action that skips (so that parameters after it still count).
fn unknown_skip_type() -> impl Strategy<Value = MsyncParamType> {
    (0x8006u16..=0xffff).prop_map(MsyncParamType)
}

/// Any MSYNC parameter list that a valid MSYNC may carry: at most one of
/// each kind, at most two Group Keys, unknown types that skip.
fn msync_params() -> impl Strategy<Value = Vec<MsyncParam>> {
    (
        proptest::option::of(mtsn().prop_map(|m| MsyncParam::Start(Start { start_mtsn: m }))),
        proptest::option::of(forward().prop_map(MsyncParam::Forward)),
        vec(
            (any::<u16>(), any::<u16>(), bytes(1, 40)).prop_map(|(e, h, k)| {
                MsyncParam::GroupKey(GroupKey {
                    key_epoch: e,
                    hmac_id: h,
                    key: k,
                })
            }),
            0..=2,
        ),
        proptest::option::of(any::<(u16, u32, u32, u32)>().prop_map(|(s, d, p, l)| {
            MsyncParam::Feedback(Feedback {
                ack_spacing: s,
                ack_delay_us: d,
                ack_period_us: p,
                loss_report_delay_us: l,
            })
        })),
        proptest::option::of(any::<u16>().prop_map(|r| {
            MsyncParam::End(EndOfMembership {
                reason: EndReason::from_u16(r),
            })
        })),
        vec(
            (unknown_skip_type(), bytes(0, 12))
                .prop_map(|(typ, value)| MsyncParam::Unknown(RawMsyncParam { typ, value })),
            0..3,
        ),
    )
        .prop_flat_map(|(s, f, keys, fb, end, unknown)| {
            let mut all: Vec<MsyncParam> = s.into_iter().chain(f).chain(keys).chain(fb).collect();
            all.extend(end);
            all.extend(unknown);
            Just(all).prop_shuffle()
        })
}

fn msync() -> impl Strategy<Value = Msync> {
    (any::<(u32, u32, u32, u32, u32)>(), msync_params()).prop_map(
        |((seq, hi, mc, ts, ctl), params)| {
            params.iter().fold(
                Msync::new(seq, Mtsn(hi), Mtsn(mc), ts, ctl),
                Msync::with_param,
            )
        },
    )
}

fn mcast_chunk() -> impl Strategy<Value = McastChunk> {
    prop_oneof![
        mdata().prop_map(McastChunk::Mdata),
        barrier().prop_map(McastChunk::Barrier),
        msync().prop_map(McastChunk::Msync),
        msack().prop_map(McastChunk::Msack),
        mreach().prop_map(McastChunk::Mreach),
    ]
}

fn capable() -> impl Strategy<Value = MulticastCapable> {
    (any::<u8>(), any::<bool>(), any::<bool>())
        .prop_filter("IPv4 or IPv6", |(_, a, b)| *a || *b)
        .prop_map(|(version, ipv4, ipv6)| MulticastCapable {
            version,
            ipv4,
            ipv6,
        })
}

/// Valid stream ranges: ascending, not overlapping, at least one.
fn ranges() -> impl Strategy<Value = Vec<StreamRange>> {
    vec(any::<u16>(), 1..12).prop_map(|mut v| {
        v.sort_unstable();
        v.dedup();
        let mut out = Vec::new();
        let mut i = 0;
        while i < v.len() {
            let first = v[i];
            let last = v.get(i + 1).copied().unwrap_or(first);
            out.push(StreamRange {
                first: StreamId(first),
                last: StreamId(last),
            });
            i += 2;
            // Leave a hole so that ranges never touch.
            if i < v.len() && v[i] == last {
                i += 1;
            }
        }
        out
    })
}

fn group() -> impl Strategy<Value = MulticastGroup> {
    let v4 = (any::<[u8; 3]>(), any::<[u8; 4]>(), 224u8..240).prop_map(|(g, s, hi)| {
        GroupAddresses::V4 {
            group: Ipv4Addr::new(hi, g[0], g[1], g[2]),
            source: Ipv4Addr::from(s),
        }
    });
    let v6 = (any::<[u8; 15]>(), any::<[u8; 16]>()).prop_map(|(g, s)| {
        let mut a = [0xff; 16];
        a[1..].copy_from_slice(&g);
        GroupAddresses::V6 {
            group: Ipv6Addr::from(a),
            source: Ipv6Addr::from(s),
        }
    });
    (
        (
            1u32..,
            mtsn(),
            any::<u16>(),
            any::<bool>(),
            any::<bool>(),
            any::<u16>(),
        ),
        prop_oneof![v4, v6],
        ranges(),
    )
        .prop_map(|((t, m, port, a, s, sync), addrs, r)| {
            MulticastGroup::new(VerificationTag(t), m, port, a, s, sync, addrs, &r)
        })
}

/// Chunk -> bytes -> chunk, and bytes -> chunk -> bytes.
fn chunk_round_trip<C>(c: &C)
where
    C: WireChunk + PartialEq + std::fmt::Debug + std::fmt::Display,
{
    let raw = c.to_raw();
    let back = C::from_raw(&raw).expect("a built chunk parses");
    assert_eq!(&back, c);
    assert_eq!(back.to_raw(), raw, "bytes -> chunk -> bytes");
    assert_eq!(raw.len(), c.encoded_len());
    let _ = format!("{c} {c:?}");
}

fn param_round_trip<P>(p: &P)
where
    P: WireParam + PartialEq + std::fmt::Debug,
{
    let raw = p.to_raw();
    let back = P::from_raw(&raw).expect("a built parameter parses");
    assert_eq!(&back, p);
    assert_eq!(back.to_raw(), raw);
}

fn header() -> impl Strategy<Value = CommonHeader> {
    (any::<u16>(), any::<u16>(), any::<u32>()).prop_map(|(s, d, t)| CommonHeader {
        src_port: s,
        dst_port: d,
        verification_tag: VerificationTag(t),
    })
}

/// A packet of extension chunks, control chunks first as the bundling
/// rules require.
fn packet() -> impl Strategy<Value = Vec<u8>> {
    (header(), vec(mcast_chunk(), 1..6)).prop_map(|(h, mut chunks)| {
        chunks.sort_by_key(McastChunk::is_data);
        let mut out = Vec::new();
        let mut b = PacketBuilder::new(&mut out, h, usize::MAX >> 1);
        for c in &chunks {
            b.add_raw(&c.to_raw(), c.is_data())
                .expect("bundling order respected");
        }
        b.finish();
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mdata_round_trips(c in mdata()) { chunk_round_trip(&c) }

    #[test]
    fn barrier_round_trips(c in barrier()) { chunk_round_trip(&c) }

    #[test]
    fn mreach_round_trips(c in mreach()) { chunk_round_trip(&c) }

    #[test]
    fn msack_round_trips(c in msack()) { chunk_round_trip(&c) }

    #[test]
    fn msync_round_trips(c in msync()) {
        chunk_round_trip(&c);
        // Every known parameter is found by its accessor.
        for p in c.params() {
            match p {
                MsyncParam::Start(s) => prop_assert_eq!(c.start(), Some(s.start_mtsn)),
                MsyncParam::Forward(f) => prop_assert_eq!(c.forward(), Some(f)),
                MsyncParam::Feedback(f) => prop_assert_eq!(c.feedback(), Some(f)),
                MsyncParam::End(e) => prop_assert_eq!(c.end_of_membership(), Some(e)),
                MsyncParam::GroupKey(k) => prop_assert!(c.group_keys().any(|x| x == k)),
                _ => {}
            }
        }
    }

    #[test]
    fn any_mcast_chunk_round_trips_through_the_dispatch(c in mcast_chunk()) {
        fuzzing::walk_mcast_chunk(&c);
    }

    #[test]
    fn multicast_capable_round_trips(p in capable()) { param_round_trip(&p) }

    #[test]
    fn multicast_group_round_trips(p in group()) { param_round_trip(&p) }

    #[test]
    fn group_auth_round_trips(e in any::<u16>(), h in any::<u16>(), mac in bytes(0, 40)) {
        chunk_round_trip(&GroupAuth { key_epoch: e, hmac_id: h, hmac: mac });
    }

    #[test]
    fn packets_of_mcast_chunks_parse_and_rebuild(bytes in packet()) {
        let p = Packet::parse_with(Bytes::from(bytes.clone()), &fuzzing::options(true))
            .expect("a built packet parses with its checksum");
        fuzzing::walk_packet(&p, false);
        let rebuilt = fuzzing::rebuild(&p).expect("a built packet rebuilds");
        prop_assert_eq!(rebuilt, bytes);
    }

    #[test]
    fn signed_group_packets_verify(bytes in packet(), key in vec(any::<u8>(), 32)) {
        // Put an AUTH placeholder in front of the packet's chunks and sign.
        let p = Packet::parse_with(Bytes::from(bytes), &fuzzing::options(true)).expect("parses");
        let mut out = Vec::new();
        let mut b = PacketBuilder::new(&mut out, *p.header(), usize::MAX >> 1);
        b.add(&GroupAuth::placeholder(7)).expect("AUTH first");
        for raw in p.chunks() {
            let is_data = mcsctp_mcast::chunk::DATA_CHUNK_TYPES.contains(raw.typ);
            b.add_raw(&raw, is_data).expect("same order");
        }
        b.finish();
        sign_group_packet(&mut out, &key).expect("signs");
        prop_assert!(Packet::parse_with(Bytes::from(out.clone()), &fuzzing::options(true)).is_ok());
        prop_assert_eq!(verify_group_packet(&out, |e| (e == 7).then_some(&key[..])), Ok(7));
        let last = out.len() - 1;
        out[last] ^= 0x40;
        prop_assert!(verify_group_packet(&out, |_| Some(&key[..])).is_err());
    }

    #[test]
    fn arbitrary_values_never_panic(flags in any::<u8>(), value in vec(any::<u8>(), 0..200)) {
        fuzzing::walk_values(flags, &value);
    }

    #[test]
    fn arbitrary_packets_never_panic(bytes in vec(any::<u8>(), 0..400)) {
        fuzzing::exercise_packet(&bytes, true);
    }

    #[test]
    fn well_framed_chunk_soup_never_panics(
        h in header(),
        chunks in vec((prop::sample::select(vec![0x41u8, 0x42, 0x83, 0xc3, 0xc4, 0x0f, 0x00, 0x40, 0x03]),
                       any::<u8>(), vec(any::<u8>(), 0..90)), 1..5),
    ) {
        let mut pkt = Vec::new();
        pkt.extend_from_slice(&h.src_port.to_be_bytes());
        pkt.extend_from_slice(&h.dst_port.to_be_bytes());
        pkt.extend_from_slice(&h.verification_tag.0.to_be_bytes());
        pkt.extend_from_slice(&[0; 4]);
        for (t, f, v) in &chunks {
            let raw = RawChunk { typ: mcsctp_core::chunk::ChunkType(*t), flags: *f, value: Bytes::copy_from_slice(v) };
            raw.write(&mut pkt);
        }
        fuzzing::exercise_packet(&pkt, true);
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        bytes in packet(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut b = bytes;
        for (at, v, op) in edits {
            if b.is_empty() { break; }
            let i = at.index(b.len());
            match op {
                0 => b[i] ^= v | 1,
                1 => b.insert(i, v),
                _ => { b.remove(i); }
            }
        }
        if b.len() >= 12 {
            let crc = mcsctp_core::packet::checksum(&b);
            b[8..12].copy_from_slice(&crc.to_le_bytes());
        }
        fuzzing::exercise_packet(&b, true);
    }
}
