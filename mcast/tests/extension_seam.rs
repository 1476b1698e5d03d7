//! The extension defines its chunks and parameters on top of core's codec
//! without editing it: the draft's example packets parse through core's
//! `Packet`, the extension's types come out of core as unknown raw values
//! and parse with the extension's own `WireChunk` / `WireParam`, and they
//! bundle through core's `PacketBuilder` with the bundling rules applied.

use bytes::Bytes;
use mcsctp_core::chunk::{
    Chunk, ChunkType, DataFlags, Init, InitCommon, Sack, UnknownAction, WireChunk,
};
use mcsctp_core::packet::{
    BuildError, BundlingRule, CommonHeader, Packet, PacketBuilder, ParseOptions,
};
use mcsctp_core::param::{Param, Params, WireParam};
use mcsctp_core::serial::{Mid, Ppid, StreamId, Tsn, VerificationTag};
use mcsctp_mcast::Mtsn;
use mcsctp_mcast::auth::{GroupAuth, sign_group_packet};
use mcsctp_mcast::chunk::{DATA_CHUNK_TYPES, MDATA, Mdata};
use mcsctp_mcast::param::MulticastCapable;

mod common;

fn opts() -> ParseOptions {
    ParseOptions {
        extra_data_types: DATA_CHUNK_TYPES,
        ..ParseOptions::default()
    }
}

#[test]
fn draft_mdata_example_parses_through_core() {
    // draft §"Group Packet with MDATA", read from the draft's appendix.
    let bytes = common::example(&common::draft_text(), "ex-mdata");
    let p = Packet::parse_with(Bytes::from(bytes.clone()), &opts())
        .expect("valid packet, CRC included");
    assert_eq!(p.header().verification_tag, VerificationTag(0x6a1f_0c33));
    let mut chunks = p.chunks();
    // The group MAC leads: core knows the AUTH type only by name.
    let auth = chunks.next().expect("AUTH");
    assert_eq!(auth.typ, ChunkType::AUTH);
    let raw = chunks.next().expect("MDATA");
    // Core does not know MDATA: it stays raw, and its high bits tell a
    // plain peer to stop and report (draft §"Choice of Type Codes").
    let Chunk::Unknown(raw) = Chunk::parse(raw).expect("parses") else {
        panic!("core must not claim MDATA");
    };
    assert_eq!(raw.typ, MDATA);
    assert_eq!(raw.typ.unknown_action(), UnknownAction::StopAndReport);
    let m = Mdata::from_raw(&raw).expect("extension parses it");
    assert_eq!(
        m,
        Mdata {
            flags: DataFlags::COMPLETE,
            mtsn: Mtsn(1000),
            stream: StreamId(1),
            mid: Mid(17),
            ppid: Ppid(0),
            fsn: mcsctp_core::serial::Fsn(0),
            user_data: Bytes::from_static(b"INVALIDATE k"),
        }
    );
    // And back to the same bytes through core's builder, signed with the
    // draft's example key.
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, *p.header(), 1200);
    b.add(&GroupAuth::placeholder(1)).expect("fits");
    b.add(&m).expect("fits");
    b.finish();
    let key: Vec<u8> = (0u8..32).collect();
    sign_group_packet(&mut out, &key).expect("signs");
    assert_eq!(out, bytes);
}

#[test]
fn extension_data_chunks_obey_core_bundling_rules() {
    let header = CommonHeader {
        src_port: 5001,
        dst_port: 5001,
        verification_tag: VerificationTag(1),
    };
    let m = Mdata {
        flags: DataFlags::COMPLETE,
        mtsn: Mtsn(1),
        stream: StreamId(0),
        mid: Mid(0),
        ppid: Ppid(0),
        fsn: mcsctp_core::serial::Fsn(0),
        user_data: Bytes::from_static(b"x"),
    };
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, header, 1200);
    b.add(&Sack::new(Tsn(0), 1000, &[], &[]))
        .expect("control first");
    b.add(&m).expect("then data");
    assert_eq!(
        b.add(&Sack::new(Tsn(0), 1000, &[], &[])),
        Err(BuildError::Bundling(BundlingRule::ControlAfterData(
            ChunkType::SACK
        )))
    );
    b.finish();
    // The parser, told MDATA is data, accepts this packet...
    assert!(Packet::parse_with(Bytes::from(out.clone()), &opts()).is_ok());
}

#[test]
fn multicast_capable_rides_in_core_init_and_is_reported_by_plain_peers() {
    // draft §"INIT with Multicast-Capable": c0 09 00 08 01 03 00 00
    let cap = MulticastCapable {
        version: MulticastCapable::VERSION,
        ipv4: true,
        ipv6: true,
    };
    let mut v = Vec::new();
    cap.write(&mut v);
    assert_eq!(v, [0xc0, 0x09, 0x00, 0x08, 0x01, 0x03, 0x00, 0x00]);
    let init = Init(InitCommon {
        initiate_tag: VerificationTag(7),
        a_rwnd: 65536,
        outbound_streams: 1,
        inbound_streams: 1,
        initial_tsn: Tsn(1),
        params: Params::builder().with(&cap).build(),
    });
    let mut bytes = Vec::new();
    init.write(&mut bytes);
    let back = Init::parse_value(0, Bytes::copy_from_slice(&bytes[4..])).expect("INIT parses");
    let params: Vec<_> = back
        .params
        .typed()
        .collect::<Result<_, _>>()
        .expect("params");
    let Param::Unknown(raw) = &params[0] else {
        panic!("core must not claim the extension's parameter");
    };
    // High bits 11: a plain server skips it and reports it.
    assert_eq!(raw.typ.unknown_action(), UnknownAction::SkipAndReport);
    assert_eq!(MulticastCapable::from_raw(raw), Ok(cap));
    assert_eq!(back.params.find::<MulticastCapable>(), Some(Ok(cap)));
}

#[test]
fn a_barrier_goes_with_the_data_chunk_it_names() {
    // draft §"Choice of Type Codes": "a BARRIER belongs to the data chunk
    // it names: it is placed immediately before that DATA or I-DATA chunk,
    // after any data chunks that precede it in the packet" -- the worked
    // example's packet to member B: MDATA, BARRIER, DATA.
    use mcsctp_core::chunk::Data;
    use mcsctp_core::serial::Ssn;
    use mcsctp_mcast::chunk::Barrier;
    let header = CommonHeader {
        src_port: 5001,
        dst_port: 5004,
        verification_tag: VerificationTag(9),
    };
    let m = Mdata {
        flags: DataFlags::COMPLETE,
        mtsn: Mtsn(1000),
        stream: StreamId(1),
        mid: Mid(17),
        ppid: Ppid(0),
        fsn: mcsctp_core::serial::Fsn(0),
        user_data: Bytes::from_static(b"INVALIDATE k"),
    };
    let barrier = Barrier {
        unicast_first: false,
        group_tag: VerificationTag(0x6a1f_0c33),
        tsn: Tsn(77),
        mtsn: Mtsn(1000),
    };
    let data = Data {
        flags: DataFlags::COMPLETE,
        tsn: Tsn(77),
        stream: StreamId(3),
        ssn: Ssn(9),
        ppid: Ppid(0),
        user_data: Bytes::from_static(b"VALUE k=v2"),
    };
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, header, 1200);
    b.add(&m).expect("data");
    b.add(&barrier).expect("a BARRIER may follow data");
    b.add(&data).expect("and precede the DATA it names");
    assert!(matches!(
        b.add(&Sack::new(Tsn(0), 1000, &[], &[])),
        Err(BuildError::Bundling(BundlingRule::ControlAfterData(_)))
    ));
    b.finish();
    let p = Packet::parse_with(Bytes::from(out), &opts()).expect("parses");
    let types: Vec<_> = p.chunks().map(|c| c.typ).collect();
    assert_eq!(
        types,
        vec![MDATA, mcsctp_mcast::chunk::BARRIER, ChunkType::DATA]
    );
}
