//! Chunks the association does not expect: unknown types and their
//! high-bit actions (RFC 9260 §3.2), extension chunks that were not
//! negotiated (RFC 3758, RFC 8260), DATA on a stream that does not exist
//! (§6.5) and DATA without user data (§6.2). Each unknown chunk is followed
//! by a DATA chunk in the same packet; whether that DATA is delivered shows
//! whether processing went on.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::script::{self, Out, Session, Wire, chunk_bytes};
use mcsctp_core::cause::{ErrorCause, InvalidStreamIdentifier, NoUserData, UnrecognizedChunkType};
use mcsctp_core::chunk::{Chunk, ChunkType, DataFlags, ForwardTsn, ForwardTsnStream, IData};
use mcsctp_core::event::{CloseReason, Event};
use mcsctp_core::param::{Params, SupportedExtensions};
use mcsctp_core::serial::{Fsn, Mid, Ppid, Ssn, StreamId, Tsn};

fn established(params: Params, outbound_streams: u16) -> (Wire, Session) {
    let mut w = Wire::with_defaults();
    let mut init = script::init(0x600d, 1000, params);
    init.outbound_streams = outbound_streams;
    let s = w.accept(init);
    w.take_events();
    (w, s)
}

/// Everything the endpoint sends within the next second.
fn replies(w: &mut Wire) -> Vec<Out> {
    w.advance_collect(Duration::from_secs(1))
}

fn causes(outs: &[Out]) -> Vec<ErrorCause> {
    outs.iter().flat_map(Out::causes).collect()
}

/// The highest Cumulative TSN Ack the endpoint sent.
fn acked(outs: &[Out]) -> Option<Tsn> {
    outs.iter()
        .flat_map(|o| o.chunks.iter())
        .filter_map(|c| match c {
            Chunk::Sack(s) => Some(s.cumulative_tsn_ack),
            _ => None,
        })
        .last()
}

fn closed_with(w: &mut Wire) -> Option<CloseReason> {
    w.take_events().into_iter().find_map(|e| match e {
        Event::Closed { reason, .. } => Some(reason),
        _ => None,
    })
}

#[test]
fn unknown_chunk_types_follow_their_high_bits() {
    // (type, processing continues, reported)
    for (typ, goes_on, reports) in [
        (0x2a_u8, false, false), // 00: stop, discard silently
        (0x6a, false, true),     // 01: stop, report
        (0xaa, true, false),     // 10: skip silently
        (0xea, true, true),      // 11: skip, report
    ] {
        let (mut w, mut s) = established(Params::empty(), 16);
        let unknown = script::raw_chunk(typ, 0x05, b"hello");
        let whole = match &unknown {
            Chunk::Unknown(raw) => {
                let mut v = Vec::new();
                raw.write(&mut v);
                v.truncate(raw.len());
                v
            }
            _ => unreachable!(),
        };
        let tsn = s.next_tsn;
        let d = s.data(0, 0, b"after the unknown chunk");
        w.send(s.ep_tag, &[unknown, d]);
        let delivered = w.ep.poll_recv();
        assert_eq!(delivered.is_some(), goes_on, "type {typ:#04x}: delivery");
        let outs = replies(&mut w);
        let expected = if reports {
            vec![ErrorCause::UnrecognizedChunkType(UnrecognizedChunkType {
                chunk: Bytes::from(whole),
            })]
        } else {
            vec![]
        };
        assert_eq!(causes(&outs), expected, "type {typ:#04x}: report");
        assert!(outs.iter().all(|o| o.tag() == s.my_tag));
        if goes_on {
            assert_eq!(
                acked(&outs),
                Some(tsn),
                "type {typ:#04x}: DATA acknowledged"
            );
        } else {
            // The DATA was never seen: nothing acknowledges it, and the
            // association goes on.
            assert!(acked(&outs).is_none_or(|c| c != tsn), "type {typ:#04x}");
        }
        assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    }
}

#[test]
fn forward_tsn_without_pr_sctp_is_an_unrecognized_chunk() {
    // The script did not offer PR-SCTP. FORWARD-TSN's type (0xC0) has the
    // high bits 11: skip and report.
    let (mut w, mut s) = established(Params::empty(), 16);
    let ftsn = ForwardTsn::new(
        Tsn(s.next_tsn.0 + 10),
        &[ForwardTsnStream {
            stream: StreamId(0),
            ssn: Ssn(5),
        }],
    );
    let tsn = s.next_tsn;
    let d = s.data(0, 0, b"still delivered");
    w.send(s.ep_tag, &[Chunk::ForwardTsn(ftsn.clone()), d]);
    assert!(w.ep.poll_recv().is_some());
    let outs = replies(&mut w);
    assert_eq!(
        causes(&outs),
        vec![ErrorCause::UnrecognizedChunkType(UnrecognizedChunkType {
            chunk: Bytes::from(chunk_bytes(&ftsn)),
        })]
    );
    // The cumulative TSN did not jump.
    assert_eq!(acked(&outs), Some(tsn));
}

fn idata(tsn: Tsn, payload: &'static [u8]) -> Chunk {
    Chunk::IData(IData {
        flags: DataFlags::COMPLETE,
        tsn,
        stream: StreamId(0),
        mid: Mid(0),
        ppid: Ppid(0),
        fsn: Fsn(0),
        user_data: Bytes::from_static(payload),
    })
}

fn protocol_violation(w: &mut Wire, s: &Session) {
    let out = w.out_one();
    assert_eq!(out.tag(), s.my_tag);
    let Chunk::Abort(a) = out.only() else {
        panic!("ABORT expected, got {:?}", out.types());
    };
    assert!(!a.reflected_tag);
    assert!(matches!(
        out.causes().as_slice(),
        [ErrorCause::ProtocolViolation(_)]
    ));
    assert!(matches!(
        closed_with(w),
        Some(CloseReason::ProtocolError(ErrorCause::ProtocolViolation(_)))
    ));
    assert_eq!(w.ep.association_count(), 0);
}

#[test]
fn i_data_without_negotiation_aborts_with_protocol_violation() {
    let (mut w, s) = established(Params::empty(), 16);
    w.send(s.ep_tag, &[idata(s.next_tsn, b"interleaved")]);
    assert!(w.ep.poll_recv().is_none());
    protocol_violation(&mut w, &s);
}

#[test]
fn data_when_i_data_was_negotiated_aborts_with_protocol_violation() {
    let exts = Params::builder()
        .with(&SupportedExtensions::new(&[ChunkType::IDATA]))
        .build();
    let (mut w, mut s) = established(exts, 16);
    // I-DATA works ...
    w.send(s.ep_tag, &[idata(s.next_tsn, b"fine")]);
    s.next_tsn = s.next_tsn.next();
    assert!(w.ep.poll_recv().is_some());
    let _ = replies(&mut w);
    // ... DATA does not.
    let d = s.data(0, 0, b"old style");
    w.send(s.ep_tag, &[d]);
    assert!(w.ep.poll_recv().is_none());
    protocol_violation(&mut w, &s);
}

#[test]
fn data_on_a_stream_beyond_the_inbound_count_is_acknowledged_and_reported() {
    // The script offers 4 outbound streams: the endpoint accepts 0..=3.
    let (mut w, mut s) = established(Params::empty(), 4);
    let tsn = s.next_tsn;
    let d = s.data(4, 0, b"nowhere");
    let sent_at = w.now;
    w.send(s.ep_tag, &[d]);
    assert!(w.ep.poll_recv().is_none());
    let outs = replies(&mut w);
    assert_eq!(
        causes(&outs),
        vec![ErrorCause::InvalidStreamIdentifier(
            InvalidStreamIdentifier {
                stream: StreamId(4)
            }
        )]
    );
    assert_eq!(acked(&outs), Some(tsn));
    // RFC 9260 §6.5: "The endpoint MAY bundle the ERROR chunk and the SACK
    // chunk in the same packet, as long as the ERROR chunk follows the SACK
    // chunk."
    // The ERROR goes out at once, and the pending SACK rides with it.
    assert_eq!(outs[0].at, sent_at);
    assert_eq!(outs[0].types(), vec![ChunkType::SACK, ChunkType::ERROR]);
    // The next message on a valid stream is delivered.
    let d = s.data(3, 0, b"somewhere");
    w.send(s.ep_tag, &[d]);
    let got = w.ep.poll_recv().expect("delivered");
    assert_eq!(got.delivery.stream, StreamId(3));
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
}

#[test]
fn data_without_user_data_aborts_with_no_user_data() {
    let (mut w, mut s) = established(Params::empty(), 16);
    let tsn = s.next_tsn;
    let d = s.data(0, 0, b"");
    assert_eq!(d.encoded_len(), 16, "a DATA chunk of length 16");
    w.send(s.ep_tag, &[d]);
    let out = w.out_one();
    assert_eq!(out.tag(), s.my_tag);
    assert_eq!(
        out.causes(),
        vec![ErrorCause::NoUserData(NoUserData { tsn })]
    );
    assert!(matches!(
        closed_with(&mut w),
        Some(CloseReason::ProtocolError(ErrorCause::NoUserData(_)))
    ));
}
