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
use mcsctp_mcast::chunk::{DATA_CHUNK_TYPES, MDATA, Mdata};
use mcsctp_mcast::param::MulticastCapable;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// draft §"Group Packet with MDATA", copied from the draft's appendix.
const DRAFT_MDATA_PACKET: &str = "13 89 13 89 6a 1f 0c 33 4d e0 28 80 41 03 00 20
    00 00 03 e8 00 01 00 00 00 00 00 11 00 00 00 00
    49 4e 56 41 4c 49 44 41 54 45 20 6b";

fn opts() -> ParseOptions {
    ParseOptions {
        extra_data_types: DATA_CHUNK_TYPES,
        ..ParseOptions::default()
    }
}

#[test]
fn draft_mdata_example_parses_through_core() {
    let bytes = hex(DRAFT_MDATA_PACKET);
    let p = Packet::parse_with(Bytes::from(bytes.clone()), &opts())
        .expect("valid packet, CRC included");
    assert_eq!(p.header().verification_tag, VerificationTag(0x6a1f_0c33));
    let raw = p.chunks().next().expect("one chunk");
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
    // And back to the same bytes through core's builder.
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, *p.header(), 1200);
    b.add(&m).expect("fits");
    b.finish();
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
    // draft §"Multicast-Capable Parameter" example: c0 09 00 08 00 03 00 00
    let cap = MulticastCapable {
        version: 0,
        ipv4: true,
        ipv6: true,
    };
    let mut v = Vec::new();
    cap.write(&mut v);
    assert_eq!(v, hex("c0 09 00 08 00 03 00 00"));
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
