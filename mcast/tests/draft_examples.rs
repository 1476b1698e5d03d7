//! The draft's example packets (appendix "Example Packets" of
//! draft-mcsctp-tsvwg-sctp-multicast-01) as byte-exact test vectors, read
//! from the draft itself: each must parse (CRC32c included) through core's
//! packet parser and this crate's codecs to the values the draft's text
//! states, every chunk and parameter must re-encode to its own bytes, and
//! the whole packet must rebuild, checksum (and group MAC) included, to the
//! same bytes. A missing example fails the test, and so does an example the
//! test does not know.

mod common;

use bytes::Bytes;
use mcsctp_core::chunk::{Chunk, ChunkType, RawChunk, WireChunk};
use mcsctp_core::packet::{CommonHeader, Packet, PacketBuilder};
use mcsctp_core::param::{Param, ParamType, SupportedExtensions, WireParam};
use mcsctp_core::serial::{Fsn, Mid, Ppid, StreamId, Tsn, VerificationTag};
use mcsctp_mcast::Mtsn;
use mcsctp_mcast::auth::{GroupAuth, sign_group_packet, verify_group_packet};
use mcsctp_mcast::chunk::msync::{EndOfMembership, Feedback, ForwardEntry, GroupKey};
use mcsctp_mcast::chunk::{
    self as mchunk, Barrier, DATA_CHUNK_TYPES, McastChunk, Mdata, Mreach, Msync, ReachReason,
    ReachStatus, SyncSnapshot,
};
use mcsctp_mcast::fuzzing::options;
use mcsctp_mcast::param::{GroupAddresses, MulticastCapable, MulticastGroup, StreamRange};

/// Every example of the draft, by anchor. Adding an example to the draft
/// without testing it here fails `every_example_of_the_draft_is_tested`.
const EXAMPLES: [&str; 9] = [
    "ex-mcap",
    "ex-mgroup",
    "ex-mreach",
    "ex-start",
    "ex-mdata",
    "ex-msync",
    "ex-msack",
    "ex-barrier",
    "ex-forward",
];

const GROUP_TAG: VerificationTag = VerificationTag(0x6a1f_0c33);

/// The example group key: epoch 1, the octets 0x00 to 0x1F.
fn example_key() -> Vec<u8> {
    (0u8..32).collect()
}

fn packet(anchor: &str) -> Packet {
    let bytes = common::example(&common::draft_text(), anchor);
    let p = Packet::parse_with(Bytes::from(bytes), &options(true))
        .unwrap_or_else(|e| panic!("example {anchor} does not parse (CRC32c checked): {e}"));
    check_round_trip(anchor, &p);
    p
}

/// Every chunk re-encodes to its own bytes; the packet rebuilds to the
/// same bytes, checksum included; an authenticated group packet verifies
/// and re-signs to the same bytes.
fn check_round_trip(anchor: &str, p: &Packet) {
    let mut rebuilt_chunks = Vec::new();
    for raw in p.chunks() {
        let again = if let Some(parsed) = McastChunk::parse(&raw) {
            let c = parsed.unwrap_or_else(|e| panic!("{anchor}: {:?}: {e}", raw.typ));
            c.to_raw()
        } else if raw.typ == ChunkType::AUTH {
            GroupAuth::from_raw(&raw).expect("AUTH parses").to_raw()
        } else {
            let c = Chunk::parse(raw.clone()).unwrap_or_else(|e| panic!("{anchor}: {e}"));
            let common = match &c {
                Chunk::Init(i) => Some(&i.0),
                Chunk::InitAck(i) => Some(&i.0),
                _ => None,
            };
            if let Some(i) = common {
                for rp in i.params.iter() {
                    let bytes = rp.to_bytes();
                    let re = if rp.typ == MulticastCapable::TYPE {
                        MulticastCapable::from_raw(&rp).expect("valid").to_raw()
                    } else if rp.typ == MulticastGroup::TYPE {
                        MulticastGroup::from_raw(&rp).expect("valid").to_raw()
                    } else {
                        rp.clone()
                    };
                    assert_eq!(re.to_bytes(), bytes, "{anchor}: {:?} re-encodes", rp.typ);
                }
            }
            let mut v = Vec::new();
            c.write(&mut v);
            RawChunk {
                typ: raw.typ,
                flags: v[1],
                value: Bytes::copy_from_slice(&v[4..4 + raw.value.len()]),
            }
        };
        assert_eq!(
            again, raw,
            "{anchor}: chunk {:?} re-encodes to its bytes",
            raw.typ
        );
        rebuilt_chunks.push(again);
    }
    let authenticated = p.first_chunk_type() == ChunkType::AUTH;
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, *p.header(), 1200);
    for (i, c) in rebuilt_chunks.iter().enumerate() {
        let is_data = c.typ.is_core_data() || DATA_CHUNK_TYPES.contains(c.typ);
        if authenticated && i == 0 {
            let epoch = GroupAuth::from_raw(c).expect("AUTH").key_epoch;
            b.add(&GroupAuth::placeholder(epoch)).expect("fits");
        } else {
            b.add_raw(c, is_data)
                .unwrap_or_else(|e| panic!("{anchor}: rebuild: {e}"));
        }
    }
    b.finish();
    if authenticated {
        let key = example_key();
        assert_eq!(
            verify_group_packet(p.as_bytes(), |e| (e == 1).then_some(&key[..])),
            Ok(1),
            "{anchor}: the group MAC verifies"
        );
        sign_group_packet(&mut out, &key).expect("signs");
    }
    assert_eq!(
        &out[..],
        &p.as_bytes()[..],
        "{anchor}: rebuilt byte for byte"
    );
}

fn typed(p: &Packet) -> Vec<Result<McastChunk, RawChunk>> {
    p.chunks()
        .map(|raw| match McastChunk::parse(&raw) {
            Some(Ok(c)) => Ok(c),
            _ => Err(raw),
        })
        .collect()
}

fn header(src: u16, dst: u16, tag: u32) -> CommonHeader {
    CommonHeader {
        src_port: src,
        dst_port: dst,
        verification_tag: VerificationTag(tag),
    }
}

fn five_types(ext: &SupportedExtensions) {
    let types: Vec<ChunkType> = ext.types().collect();
    assert_eq!(types, mchunk::ALL.to_vec());
}

#[test]
fn every_example_of_the_draft_is_tested() {
    let draft = common::draft_text();
    let anchors = common::example_anchors(&draft);
    assert_eq!(
        anchors,
        EXAMPLES.to_vec(),
        "examples of the draft vs. this test"
    );
    for a in EXAMPLES {
        let _ = packet(a);
    }
}

#[test]
fn every_element_appears_in_an_example() {
    let mut seen = Vec::new();
    for a in EXAMPLES {
        let p = packet(a);
        for raw in p.chunks() {
            seen.push(format!("{:?}", raw.typ));
            if let Ok(Chunk::Init(i)) = Chunk::parse(raw.clone()) {
                seen.extend(i.0.params.iter().map(|p| format!("{:?}", p.typ)));
            }
            if let Ok(Chunk::InitAck(i)) = Chunk::parse(raw.clone()) {
                seen.extend(i.0.params.iter().map(|p| format!("{:?}", p.typ)));
            }
        }
    }
    for t in mchunk::ALL {
        assert!(seen.contains(&format!("{t:?}")), "no example has {t:?}");
    }
    for t in [MulticastCapable::TYPE, MulticastGroup::TYPE] {
        assert!(seen.contains(&format!("{t:?}")), "no example has {t:?}");
    }
    assert!(
        seen.contains(&"AUTH".to_string()),
        "no authenticated group packet"
    );
}

#[test]
fn init_with_multicast_capable() {
    let p = packet("ex-mcap");
    assert_eq!(*p.header(), header(5003, 5001, 0));
    let raw = p.chunks().next().expect("one chunk");
    let Ok(Chunk::Init(init)) = Chunk::parse(raw) else {
        panic!("an INIT");
    };
    assert_eq!(init.0.initiate_tag, VerificationTag(0x3a4b_5c6d));
    assert_eq!(
        (
            init.0.a_rwnd,
            init.0.outbound_streams,
            init.0.inbound_streams
        ),
        (131_072, 16, 16)
    );
    assert_eq!(init.0.initial_tsn, Tsn(3000));
    let ext = init
        .0
        .params
        .find::<SupportedExtensions>()
        .expect("present")
        .expect("valid");
    five_types(&ext);
    assert_eq!(
        init.0.params.find::<MulticastCapable>(),
        Some(Ok(MulticastCapable {
            version: MulticastCapable::VERSION,
            ipv4: true,
            ipv6: true
        }))
    );
    // Core leaves it raw, with the high bits of a parameter to skip and
    // report.
    let raw = init
        .0
        .params
        .typed()
        .filter_map(Result::ok)
        .find_map(|p| match p {
            Param::Unknown(r) if r.typ == ParamType(0xC009) => Some(r),
            _ => None,
        })
        .expect("raw in core");
    assert!(raw.typ.unknown_action().reports() && !raw.typ.unknown_action().stops());
}

#[test]
fn init_ack_with_multicast_group() {
    let p = packet("ex-mgroup");
    assert_eq!(*p.header(), header(5001, 5003, 0x3a4b_5c6d));
    let Ok(Chunk::InitAck(ack)) = Chunk::parse(p.chunks().next().expect("one chunk")) else {
        panic!("an INIT ACK");
    };
    assert_eq!(ack.0.initiate_tag, VerificationTag(0x4c5d_6e7f));
    assert_eq!(ack.0.initial_tsn, Tsn(5000));
    five_types(
        &ack.0
            .params
            .find::<SupportedExtensions>()
            .expect("present")
            .expect("valid"),
    );
    let g = ack
        .0
        .params
        .find::<MulticastGroup>()
        .expect("present")
        .expect("valid");
    assert_eq!(
        g,
        MulticastGroup::new(
            GROUP_TAG,
            Mtsn(976),
            mcsctp_mcast::defaults::GROUP_PORT,
            true,
            true,
            100,
            GroupAddresses::V4 {
                group: [239, 1, 2, 3].into(),
                source: [10, 0, 0, 1].into(),
            },
            &[
                StreamRange {
                    first: StreamId(1),
                    last: StreamId(1)
                },
                StreamRange {
                    first: StreamId(8),
                    last: StreamId(15)
                },
            ],
        )
    );
    assert_eq!(
        u64::from(g.sync_interval_ms),
        mcsctp_mcast::defaults::SYNC_IDLE_INTERVAL.as_millis() as u64
    );
}

#[test]
fn cookie_echo_with_mreach() {
    let p = packet("ex-mreach");
    assert_eq!(*p.header(), header(5003, 5001, 0x4c5d_6e7f));
    let c = typed(&p);
    assert!(matches!(&c[0], Err(raw) if raw.typ == ChunkType::COOKIE_ECHO));
    assert_eq!(
        c[1],
        Ok(McastChunk::Mreach(Mreach {
            group_tag: GROUP_TAG,
            status: ReachStatus::Joined,
            reason: ReachReason::Unspecified
        }))
    );
}

#[test]
fn cookie_ack_with_the_control_state() {
    let p = packet("ex-start");
    assert_eq!(*p.header(), header(5001, 5003, 0x3a4b_5c6d));
    let c = typed(&p);
    assert!(matches!(&c[0], Err(raw) if raw.typ == ChunkType::COOKIE_ACK));
    let Ok(McastChunk::Msync(m)) = &c[1] else {
        panic!("an MSYNC");
    };
    assert_eq!(
        (m.sync_sequence, m.highest_mtsn_sent, m.mctsn, m.timestamp),
        (40, Mtsn(999), Mtsn(996), 100_000_000)
    );
    assert_eq!(m.control_sequence, 1);
    assert_eq!(m.start(), Some(Mtsn(1000)));
    assert_eq!(
        m.feedback(),
        Some(Feedback {
            ack_spacing: 219,
            ack_delay_us: 1000,
            ack_period_us: 1000,
            loss_report_delay_us: 500
        })
    );
    let keys: Vec<GroupKey> = m.group_keys().collect();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].key_epoch, keys[0].hmac_id), (1, 3));
    assert_eq!(&keys[0].key[..], &example_key()[..]);
    assert_eq!(m.end_of_membership(), None::<EndOfMembership>);
    assert!(!m.is_group_form());
}

#[test]
fn group_packet_with_mdata() {
    let p = packet("ex-mdata");
    assert_eq!(*p.header(), header(5001, 5001, GROUP_TAG.0));
    let c = typed(&p);
    let Err(auth) = &c[0] else {
        panic!("AUTH first");
    };
    let auth = GroupAuth::from_raw(auth).expect("AUTH");
    assert_eq!((auth.key_epoch, auth.hmac_id, auth.hmac.len()), (1, 3, 32));
    assert_eq!(
        c[1],
        Ok(McastChunk::Mdata(Mdata {
            flags: mcsctp_core::chunk::DataFlags::COMPLETE,
            mtsn: Mtsn(1000),
            stream: StreamId(1),
            mid: Mid(17),
            ppid: Ppid(0),
            fsn: Fsn(0),
            user_data: Bytes::from_static(b"INVALIDATE k"),
        }))
    );
}

#[test]
fn group_packet_with_msync() {
    let p = packet("ex-msync");
    assert_eq!(*p.header(), header(5001, 5001, GROUP_TAG.0));
    let c = typed(&p);
    assert!(matches!(&c[0], Err(raw) if raw.typ == ChunkType::AUTH));
    assert_eq!(
        c[1],
        Ok(McastChunk::Msync(Msync::new(
            41,
            Mtsn(1004),
            Mtsn(996),
            100_001_000,
            0
        )))
    );
    let Ok(McastChunk::Msync(m)) = &c[1] else {
        unreachable!()
    };
    assert!(m.is_group_form());
}

#[test]
fn msack() {
    let p = packet("ex-msack");
    assert_eq!(*p.header(), header(5002, 5001, 0x1b2c_3d4e));
    let Ok(McastChunk::Msack(m)) = &typed(&p)[0] else {
        panic!("an MSACK");
    };
    assert!(m.joined);
    assert_eq!(m.group_tag, GROUP_TAG);
    assert_eq!(
        (m.cumulative_mtsn_ack, m.reported_through),
        (Mtsn(999), Mtsn(1004))
    );
    assert_eq!(m.a_grwnd, 4_194_048);
    assert_eq!(m.control_echo, 1);
    // The echo of the previous example's Timestamp, 180 us later.
    assert_eq!((m.timestamp_echo, m.ack_delay_us), (100_001_000, 180));
    assert_eq!(m.last_unicast_mtsn, None);
    assert_eq!(
        m.sync,
        Some(SyncSnapshot {
            last_sync_sequence: 41,
            group_received: 412,
            sync_received: 37
        })
    );
    let gaps: Vec<_> = m.gap_blocks().collect();
    assert_eq!(gaps.len(), 1);
    assert_eq!(
        (
            gaps[0].first(m.cumulative_mtsn_ack),
            gaps[0].last(m.cumulative_mtsn_ack)
        ),
        (Mtsn(1001), Mtsn(1004))
    );
    assert_eq!(m.dup_mtsns().collect::<Vec<_>>(), vec![Mtsn(998)]);
    // "From it the server reads that MTSN 1000 is missing for A."
    let missing: Vec<Mtsn> = (1..=m.cumulative_mtsn_ack.distance_to(m.reported_through))
        .map(|d| m.cumulative_mtsn_ack.wrapping_add(d))
        .filter(|t| {
            !gaps.iter().any(|g| {
                !t.is_before(g.first(m.cumulative_mtsn_ack))
                    && !t.is_after(g.last(m.cumulative_mtsn_ack))
            })
        })
        .collect();
    assert_eq!(missing, vec![Mtsn(1000)]);
}

#[test]
fn barrier_with_idata() {
    let p = packet("ex-barrier");
    assert_eq!(*p.header(), header(5001, 5002, 0x2d3e_4f50));
    let c = typed(&p);
    assert_eq!(
        c[0],
        Ok(McastChunk::Barrier(Barrier {
            unicast_first: false,
            group_tag: GROUP_TAG,
            tsn: Tsn(5501),
            mtsn: Mtsn(1000),
        }))
    );
    // "It is immediately followed by the I-DATA chunk it names."
    let Err(raw) = &c[1] else { panic!("I-DATA") };
    let Ok(Chunk::IData(d)) = Chunk::parse(raw.clone()) else {
        panic!("I-DATA");
    };
    assert_eq!((d.tsn, d.stream, d.mid), (Tsn(5501), StreamId(3), Mid(17)));
    assert_eq!(&d.user_data[..], b"VALUE k=v2");
}

#[test]
fn msync_with_a_forward_parameter() {
    let p = packet("ex-forward");
    assert_eq!(*p.header(), header(5001, 5002, 0x2d3e_4f50));
    let Ok(McastChunk::Msync(m)) = &typed(&p)[0] else {
        panic!("an MSYNC");
    };
    assert_eq!(
        (
            m.sync_sequence,
            m.highest_mtsn_sent,
            m.mctsn,
            m.timestamp,
            m.control_sequence
        ),
        (44, Mtsn(1010), Mtsn(1003), 100_066_000, 2)
    );
    let f = m.forward().expect("Forward");
    assert_eq!(f.new_cumulative_mtsn, Mtsn(1007));
    assert_eq!(
        f.entries().collect::<Vec<_>>(),
        vec![ForwardEntry {
            stream: StreamId(8),
            unordered: false,
            mid: Mid(5)
        }]
    );
}

/// `fuzz/make-seeds.sh` writes the examples as the seed corpus of the
/// `mcast_parse` fuzz target from this (ignored) test's output.
#[test]
#[ignore]
fn print_fuzz_seeds() {
    let draft = common::draft_text();
    for a in EXAMPLES {
        let hex: String = common::example(&draft, a)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        println!("SEED {a} {hex}");
    }
}
