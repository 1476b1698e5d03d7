//! Packet-level tests: checksum, malformed input, bundling rules, builder.

use super::*;
use crate::cause::{ErrorCause, UserInitiatedAbort};
use crate::chunk::{
    Abort, CookieAck, CookieEcho, Data, DataFlags, GapBlock, Init, InitCommon, Sack,
    ShutdownComplete,
};
use crate::param::Params;
use crate::serial::{Ppid, Ssn, StreamId, Tsn};

fn header(tag: u32) -> CommonHeader {
    CommonHeader {
        src_port: 9899,
        dst_port: 7,
        verification_tag: VerificationTag(tag),
    }
}

fn data(tsn: u32, len: usize) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::COMPLETE,
        tsn: Tsn(tsn),
        stream: StreamId(1),
        ssn: Ssn(0),
        ppid: Ppid(0),
        user_data: Bytes::from(vec![0x5a; len]),
    })
}

fn sack() -> Chunk {
    Chunk::Sack(Sack::new(
        Tsn(1),
        1000,
        &[GapBlock { start: 2, end: 2 }],
        &[],
    ))
}

fn init() -> Chunk {
    Chunk::Init(Init(InitCommon {
        initiate_tag: VerificationTag(1),
        a_rwnd: 1500,
        outbound_streams: 1,
        inbound_streams: 1,
        initial_tsn: Tsn(0),
        params: Params::empty(),
    }))
}

/// Header + raw chunk bytes with a correct checksum.
fn raw_packet(chunk_area: &[u8]) -> Vec<u8> {
    let mut p = vec![0x26, 0xab, 0x00, 0x07, 0, 0, 0, 5, 0, 0, 0, 0];
    p.extend_from_slice(chunk_area);
    let crc = checksum(&p);
    p[8..12].copy_from_slice(&crc.to_le_bytes());
    p
}

fn parse(p: Vec<u8>) -> Result<Packet, PacketError> {
    Packet::parse(Bytes::from(p))
}

#[test]
fn crc32c_matches_the_rfc3720_check_value() {
    // CRC32c of 32 zero bytes (RFC 3720 Appendix B.4: 0x8a9136aa). The
    // checksum field counts as zero, so a 12-byte header of zeros plus 20
    // zero bytes is exactly that input.
    assert_eq!(checksum(&[0u8; 32]), 0x8a91_36aa);
    // And it is stored least significant byte first.
    let mut p = [0u8; 32];
    p[8..12].copy_from_slice(&0x8a91_36aau32.to_le_bytes());
    assert_eq!(&p[8..12], &[0xaa, 0x36, 0x91, 0x8a]);
}

#[test]
fn built_packet_parses_back_with_every_chunk() {
    let chunks = [sack(), data(7, 10), data(8, 1)];
    let bytes = build_packet(header(42), &chunks).expect("builds");
    let p = parse(bytes).expect("parses");
    assert_eq!(p.header(), &header(42));
    assert_eq!(p.chunk_count(), 3);
    let back: Vec<Chunk> = p
        .chunks()
        .map(|c| Chunk::parse(c).expect("typed"))
        .collect();
    assert_eq!(back, chunks);
    assert_eq!(p.first_chunk_type(), ChunkType::SACK);
    assert!(p.to_string().contains("SACK cum=1"));
}

#[test]
fn into_chunks_yields_what_chunks_does() {
    // Odd payload lengths: the last chunk's padding is cut off its value.
    for chunks in [
        vec![sack(), data(7, 10), data(8, 1)],
        vec![data(9, 3)],
        vec![data(1, 4), data(2, 5)],
    ] {
        let bytes = build_packet(header(42), &chunks).expect("builds");
        let p = parse(bytes).expect("parses");
        let borrowed: Vec<RawChunk> = p.chunks().collect();
        assert_eq!(p.first_chunk_flags(), borrowed[0].flags);
        let owned: Vec<RawChunk> = p.into_chunks().collect();
        assert_eq!(owned, borrowed);
        let typed: Vec<Chunk> = owned
            .into_iter()
            .map(|c| Chunk::parse(c).expect("typed"))
            .collect();
        assert_eq!(typed, chunks);
    }
}

#[test]
fn bad_checksum_is_rejected_with_both_values() {
    let mut bytes = build_packet(header(1), &[data(1, 3)]).expect("builds");
    bytes[20] ^= 0xff;
    match parse(bytes.clone()) {
        Err(PacketError::BadChecksum { stored, computed }) => assert_ne!(stored, computed),
        other => panic!("expected BadChecksum, got {other:?}"),
    }
    // With verification off (fuzzing the layers behind it) it parses.
    let opts = ParseOptions {
        verify_checksum: false,
        ..ParseOptions::default()
    };
    assert!(Packet::parse_with(Bytes::from(bytes), &opts).is_ok());
}

#[test]
fn truncated_header_is_rejected() {
    for len in 0..COMMON_HEADER_LEN {
        assert_eq!(parse(vec![0; len]), Err(PacketError::TooShort { len }));
    }
}

#[test]
fn header_without_chunks_is_rejected() {
    assert_eq!(parse(raw_packet(&[])), Err(PacketError::NoChunks));
}

#[test]
fn zero_and_short_chunk_lengths_are_rejected() {
    for len in 0..4u8 {
        assert_eq!(
            parse(raw_packet(&[0x0b, 0, 0, len])),
            Err(PacketError::ChunkLengthTooSmall {
                offset: 12,
                typ: ChunkType::COOKIE_ACK,
                len: u16::from(len)
            })
        );
    }
}

#[test]
fn chunk_length_beyond_the_packet_is_rejected() {
    assert_eq!(
        parse(raw_packet(&[0x0a, 0, 0, 12, 1, 2, 3, 4])),
        Err(PacketError::ChunkBeyondPacket {
            offset: 12,
            typ: ChunkType::COOKIE_ECHO,
            len: 12,
            available: 8
        })
    );
}

#[test]
fn missing_padding_is_rejected() {
    // COOKIE ECHO of length 5 needs 3 bytes of padding; give it 0, 1, 2.
    for pad in 0..3 {
        let mut c = vec![0x0a, 0, 0, 5, 0xee];
        c.extend(std::iter::repeat_n(0, pad));
        assert_eq!(
            parse(raw_packet(&c)),
            Err(PacketError::PaddingMissing {
                offset: 12,
                typ: ChunkType::COOKIE_ECHO,
                len: 5
            }),
            "pad {pad}"
        );
    }
    // With its 3 bytes it parses, and their value does not matter (§3.2:
    // "The receiver MUST ignore the padding bytes").
    assert!(parse(raw_packet(&[0x0a, 0, 0, 5, 0xee, 1, 2, 3])).is_ok());
}

#[test]
fn over_long_padding_is_rejected() {
    // 1 to 3 bytes beyond the padding: stray bytes.
    for extra in 1..4 {
        let mut c = vec![0x0b, 0, 0, 4];
        c.extend(std::iter::repeat_n(0, extra));
        assert_eq!(
            parse(raw_packet(&c)),
            Err(PacketError::ExcessPadding {
                offset: 16,
                count: extra
            })
        );
    }
    // Four or more zero bytes read as a chunk of length 0.
    assert!(matches!(
        parse(raw_packet(&[0x0b, 0, 0, 4, 0, 0, 0, 0])),
        Err(PacketError::ChunkLengthTooSmall { offset: 16, .. })
    ));
}

#[test]
fn init_must_travel_alone() {
    let mut area = Vec::new();
    init().write(&mut area);
    let alone = raw_packet(&area);
    assert!(parse(alone).is_ok());
    CookieAck.write(&mut area);
    assert_eq!(
        parse(raw_packet(&area)),
        Err(PacketError::Bundling {
            offset: 32,
            rule: BundlingRule::MustTravelAlone(ChunkType::INIT)
        })
    );
    // Behind another chunk too.
    let mut area = Vec::new();
    CookieAck.write(&mut area);
    ShutdownComplete::default().write(&mut area);
    assert_eq!(
        parse(raw_packet(&area)),
        Err(PacketError::Bundling {
            offset: 16,
            rule: BundlingRule::MustTravelAlone(ChunkType::SHUTDOWN_COMPLETE)
        })
    );
}

#[test]
fn cookie_echo_must_come_first() {
    let echo = CookieEcho {
        cookie: Bytes::from_static(b"cookie!!"),
    };
    let mut area = Vec::new();
    echo.write(&mut area);
    data(1, 4).write(&mut area);
    assert!(
        parse(raw_packet(&area)).is_ok(),
        "COOKIE ECHO then DATA is fine"
    );
    let mut area = Vec::new();
    CookieAck.write(&mut area);
    echo.write(&mut area);
    assert_eq!(
        parse(raw_packet(&area)),
        Err(PacketError::Bundling {
            offset: 16,
            rule: BundlingRule::CookieEchoNotFirst
        })
    );
}

#[test]
fn control_after_data_is_rejected_but_unknown_chunks_are_not() {
    let mut area = Vec::new();
    data(1, 4).write(&mut area);
    sack().write(&mut area);
    assert!(matches!(
        parse(raw_packet(&area)),
        Err(PacketError::Bundling {
            rule: BundlingRule::ControlAfterData(ChunkType::SACK),
            ..
        })
    ));
    // An unknown type after DATA may be an extension's data chunk.
    let mut area = Vec::new();
    data(1, 4).write(&mut area);
    area.extend_from_slice(&[0x42, 0, 0, 4]);
    assert!(parse(raw_packet(&area)).is_ok());
    // An extension's data type declared to the parser may not precede a
    // control chunk.
    let mut area = Vec::new();
    area.extend_from_slice(&[0x42, 0, 0, 4]);
    sack().write(&mut area);
    let opts = ParseOptions {
        extra_data_types: ChunkTypeSet::EMPTY.with(ChunkType(0x42)),
        ..ParseOptions::default()
    };
    assert!(matches!(
        Packet::parse_with(Bytes::from(raw_packet(&area)), &opts),
        Err(PacketError::Bundling { .. })
    ));
}

#[test]
fn builder_enforces_size_and_bundling() {
    let mut out = vec![0xff; 3]; // the builder appends after existing bytes
    let mut b = PacketBuilder::new(&mut out, header(9), 12 + 16 + 20);
    assert_eq!(b.remaining(), 36);
    b.add(&Sack::new(Tsn(5), 10, &[], &[])).expect("SACK fits");
    assert_eq!(
        b.add_chunk(&data(1, 100)),
        Err(BuildError::TooBig {
            need: 116,
            remaining: 20
        })
    );
    b.add_chunk(&data(1, 4)).expect("small DATA fits");
    assert_eq!(
        b.add(&CookieAck),
        Err(BuildError::Bundling(BundlingRule::ControlAfterData(
            ChunkType::COOKIE_ACK
        )))
    );
    let len = b.finish();
    assert_eq!(len, 12 + 16 + 20);
    assert_eq!(&out[..3], &[0xff; 3]);
    assert!(parse(out[3..].to_vec()).is_ok());

    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, header(9), 1500);
    b.add_chunk(&init()).expect("INIT");
    assert_eq!(
        b.add(&CookieAck),
        Err(BuildError::Bundling(BundlingRule::MustTravelAlone(
            ChunkType::INIT
        )))
    );
    drop(b);
    assert!(out.is_empty(), "an unfinished packet is removed");

    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, header(9), 1500);
    b.add_chunk(&data(1, 4)).expect("DATA");
    let abort = Abort::with_cause(
        false,
        &ErrorCause::UserInitiatedAbort(UserInitiatedAbort::default()),
    );
    assert_eq!(
        b.add(&abort),
        Err(BuildError::Bundling(BundlingRule::DataWithAbort))
    );
    let mut out2 = Vec::new();
    let mut b2 = PacketBuilder::new(&mut out2, header(9), 1500);
    b2.add(&abort).expect("ABORT");
    assert_eq!(
        b2.add(&CookieAck),
        Err(BuildError::Bundling(BundlingRule::AfterAbort(
            ChunkType::COOKIE_ACK
        )))
    );
    assert_eq!(b.finish(), 12 + 20);
    assert_eq!(b2.finish(), 12 + 8);
}

#[test]
fn empty_builder_produces_nothing() {
    let mut out = Vec::new();
    let b = PacketBuilder::new(&mut out, header(1), 1500);
    assert!(b.is_empty());
    assert_eq!(b.finish(), 0);
    assert!(out.is_empty());
}

#[test]
fn chunk_longer_than_its_length_field_is_refused() {
    let mut out = Vec::new();
    let mut b = PacketBuilder::new(&mut out, header(1), 1 << 20);
    assert_eq!(
        b.add_chunk(&data(1, 70_000)),
        Err(BuildError::ChunkTooLong { len: 70_016 })
    );
}
