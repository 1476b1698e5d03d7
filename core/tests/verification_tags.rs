//! Verification tags (RFC 9260 §8.5, §8.5.1), out-of-the-blue packets
//! (§8.4), packets to non-unicast addresses, checksums (§6.8), and the UDP
//! encapsulation port (RFC 6951 §5.5), against a scripted peer.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::script::{self, Session, Wire};
use mcsctp_core::cause::{ErrorCause, InvalidStreamIdentifier, StaleCookie};
use mcsctp_core::chunk::{
    Abort, Chunk, ChunkType, CookieAck, CookieEcho, ErrorChunk, Heartbeat, Sack, Shutdown,
    ShutdownAck, ShutdownComplete,
};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::event::{CloseReason, Event};
use mcsctp_core::packet::{CommonHeader, build_packet};
use mcsctp_core::param::{HeartbeatInfo, Params};
use mcsctp_core::serial::{StreamId, Tsn, VerificationTag};

fn established() -> (Wire, Session) {
    let mut w = Wire::with_defaults();
    let s = w.accept(script::init(0x7a7a, 100, Params::empty()));
    w.take_events();
    (w, s)
}

fn abort(t: bool) -> Chunk {
    Chunk::Abort(Abort {
        reflected_tag: t,
        causes: Default::default(),
    })
}

fn shutdown_complete(t: bool) -> Chunk {
    Chunk::ShutdownComplete(ShutdownComplete { reflected_tag: t })
}

fn heartbeat() -> Chunk {
    Chunk::Heartbeat(Heartbeat {
        info: HeartbeatInfo(Bytes::from_static(b"ping")),
    })
}

fn closed(w: &mut Wire) -> Vec<CloseReason> {
    w.take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Closed { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

// ----- §8.5 / §8.5.1 -------------------------------------------------------------

#[test]
fn packet_with_a_wrong_tag_is_silently_dropped() {
    let (mut w, mut s) = established();
    let d = s.data(0, 0, b"smuggled");
    w.send(s.ep_tag ^ 1, &[d]);
    // "the receiver MUST silently discard the packet": nothing delivered,
    // nothing sent (not even an out-of-the-blue ABORT), counted.
    assert!(w.ep.poll_recv().is_none());
    assert!(w.out().is_empty());
    assert_eq!(w.ep.stats().bad_tag, 1);
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    // The right tag still works, and the dropped TSN was never seen.
    s.next_tsn = Tsn(100);
    let d = s.data(0, 0, b"real");
    w.send(s.ep_tag, &[d]);
    assert_eq!(
        w.ep.poll_recv().expect("delivered").delivery.payload,
        &b"real"[..]
    );
}

#[test]
fn abort_with_a_wrong_tag_is_ignored() {
    let (mut w, s) = established();
    for tag in [s.ep_tag ^ 0x100, s.my_tag, 0] {
        w.send(tag, &[abort(false)]);
        assert!(closed(&mut w).is_empty(), "ABORT tagged {tag:#x}");
    }
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    assert!(w.out().is_empty());
}

#[test]
fn abort_with_our_tag_is_accepted() {
    let (mut w, s) = established();
    w.send(s.ep_tag, &[abort(false)]);
    assert_eq!(closed(&mut w), vec![CloseReason::AbortedByPeer(vec![])]);
    assert_eq!(w.ep.association_count(), 0);
    assert!(w.out().is_empty(), "an ABORT is never answered");
}

#[test]
fn abort_with_t_bit_and_the_peers_tag_is_accepted() {
    // §8.5.1 B: "...OR if it is set to its peer's tag and the T bit is set
    // in the Chunk Flags."
    let (mut w, s) = established();
    w.send(s.my_tag, &[abort(true)]);
    assert_eq!(closed(&mut w), vec![CloseReason::AbortedByPeer(vec![])]);
}

#[test]
fn abort_with_t_bit_and_a_wrong_tag_is_ignored() {
    let (mut w, s) = established();
    for tag in [s.ep_tag, s.my_tag ^ 1] {
        w.send(tag, &[abort(true)]);
        assert!(closed(&mut w).is_empty(), "T-bit ABORT tagged {tag:#x}");
    }
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
}

/// The endpoint in SHUTDOWN-ACK-SENT with the script.
fn shutdown_ack_sent() -> (Wire, Session) {
    let (mut w, s) = established();
    w.send(
        s.ep_tag,
        &[Chunk::Shutdown(Shutdown {
            cumulative_tsn_ack: Tsn(s.ep_tsn.0.wrapping_sub(1)),
            flags: 0,
        })],
    );
    assert_eq!(w.out_one().types(), vec![ChunkType::SHUTDOWN_ACK]);
    w.take_events();
    (w, s)
}

#[test]
fn shutdown_complete_follows_the_t_bit_rules() {
    // §8.5.1 C: accepted "if the Verification Tag field of the packet
    // matches its own tag and the T bit is not set OR if it is set to its
    // peer's tag and the T bit is set".
    let (mut w, s) = shutdown_ack_sent();
    w.send(s.ep_tag, &[shutdown_complete(true)]);
    w.send(s.my_tag, &[shutdown_complete(false)]);
    w.send(s.my_tag ^ 1, &[shutdown_complete(true)]);
    assert!(closed(&mut w).is_empty());
    assert_eq!(w.state(s.handle), Some("SHUTDOWN-ACK-SENT"));
    w.send(s.my_tag, &[shutdown_complete(true)]);
    assert_eq!(closed(&mut w), vec![CloseReason::Shutdown]);

    let (mut w, s) = shutdown_ack_sent();
    w.send(s.ep_tag, &[shutdown_complete(false)]);
    assert_eq!(closed(&mut w), vec![CloseReason::Shutdown]);
    assert!(w.out().is_empty());

    // "An endpoint MUST ignore the SHUTDOWN COMPLETE chunk if it is not in
    // the SHUTDOWN-ACK-SENT state."
    let (mut w, s) = established();
    w.send(s.ep_tag, &[shutdown_complete(false)]);
    assert!(closed(&mut w).is_empty());
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
}

#[test]
fn shutdown_ack_while_the_handshake_is_under_way_is_out_of_the_blue() {
    // §8.5.1 E: in COOKIE-WAIT or COOKIE-ECHOED a SHUTDOWN ACK is handled
    // as §8.4 (5) says, whatever its tag: SHUTDOWN COMPLETE, T bit,
    // reflected tag. The forming association is not touched.
    let mut w = Wire::with_defaults();
    let h =
        w.ep.connect(w.now, w.remote, script::SCRIPT_PORT)
            .expect("connect");
    let Chunk::Init(init) = w.out_one().only().clone() else {
        panic!("INIT");
    };
    for tag in [init.initiate_tag.0, 0x0bad] {
        w.send(tag, &[Chunk::ShutdownAck(ShutdownAck)]);
        let out = w.out_one();
        assert_eq!(out.tag(), tag);
        assert_eq!(out.only(), &shutdown_complete(true));
    }
    assert_eq!(w.state(h), Some("COOKIE-WAIT"));
}

#[test]
fn init_with_a_nonzero_verification_tag_is_discarded() {
    // §8.5.1 A: an INIT travels with Verification Tag 0.
    let mut w = Wire::with_defaults();
    w.send(
        0x1234,
        &[Chunk::Init(script::init(0x99, 1, Params::empty()))],
    );
    assert!(w.out().is_empty());
    assert_eq!(w.ep.stats().init_acks_sent, 0);
    assert_eq!(w.ep.stats().bad_tag, 1);
}

// ----- §8.4 out-of-the-blue packets ---------------------------------------

/// An endpoint with no association and a generous response budget.
fn lonely() -> Wire {
    Wire::with_defaults()
}

const OOTB_TAG: u32 = 0x00c0_ffee;

#[test]
fn ootb_abort_shutdown_complete_cookie_ack_and_stale_cookie_error_get_no_answer() {
    let mut w = lonely();
    let stale = Chunk::Error(ErrorChunk::new([&ErrorCause::StaleCookie(StaleCookie {
        staleness_us: 1,
    })]));
    let cases: Vec<(&str, Vec<Chunk>)> = vec![
        // (2) "If the OOTB packet contains an ABORT chunk, the receiver MUST
        // silently discard the OOTB packet and take no further action."
        ("ABORT", vec![abort(false)]),
        ("ABORT with T", vec![abort(true)]),
        ("HEARTBEAT + ABORT", vec![heartbeat(), abort(false)]),
        // (6) SHUTDOWN COMPLETE: "silently discard the packet".
        ("SHUTDOWN COMPLETE", vec![shutdown_complete(false)]),
        // (7) "ERROR chunk with the 'Stale Cookie' error cause or a COOKIE
        // ACK chunk": discard.
        ("COOKIE ACK", vec![Chunk::CookieAck(CookieAck)]),
        ("ERROR (Stale Cookie)", vec![stale]),
        // §5.1.5: a COOKIE ECHO whose MAC does not verify is discarded.
        (
            "forged COOKIE ECHO",
            vec![Chunk::CookieEcho(CookieEcho {
                cookie: Bytes::from(vec![1u8; 200]),
            })],
        ),
    ];
    for (what, chunks) in cases {
        w.send(OOTB_TAG, &chunks);
        assert!(w.out().is_empty(), "{what} must not be answered");
    }
    assert_eq!(w.ep.association_count(), 0);
}

#[test]
fn ootb_shutdown_ack_is_answered_with_shutdown_complete_reflecting_its_tag() {
    let mut w = lonely();
    w.send(OOTB_TAG, &[Chunk::ShutdownAck(ShutdownAck)]);
    let out = w.out_one();
    // (5) "the Verification Tag received in the SHUTDOWN ACK chunk and set
    // the T bit".
    assert_eq!(out.to, w.remote);
    assert_eq!(out.tag(), OOTB_TAG);
    assert_eq!(out.header.src_port, w.port());
    assert_eq!(out.header.dst_port, script::SCRIPT_PORT);
    assert_eq!(out.only(), &shutdown_complete(true));
}

#[test]
fn any_other_ootb_packet_is_answered_with_an_abort_reflecting_its_tag() {
    let mut w = lonely();
    let data = script::data(Tsn(5), 0, 0, b"x");
    let other_error = Chunk::Error(ErrorChunk::new([&ErrorCause::InvalidStreamIdentifier(
        InvalidStreamIdentifier {
            stream: StreamId(3),
        },
    )]));
    let cases: Vec<(&str, Vec<Chunk>)> = vec![
        ("DATA", vec![data]),
        ("HEARTBEAT", vec![heartbeat()]),
        ("SACK", vec![Chunk::Sack(Sack::new(Tsn(1), 1000, &[], &[]))]),
        (
            "SHUTDOWN",
            vec![Chunk::Shutdown(Shutdown {
                cumulative_tsn_ack: Tsn(1),
                flags: 0,
            })],
        ),
        ("ERROR (other cause)", vec![other_error]),
        (
            "INIT ACK",
            vec![Chunk::InitAck(script::init_ack(
                9,
                9,
                b"c",
                Params::empty(),
            ))],
        ),
    ];
    for (what, chunks) in cases {
        w.send(OOTB_TAG, &chunks);
        let out = w.out_one();
        // (8) "fill in the Verification Tag field of the outbound packet
        // with the value found in the Verification Tag field of the OOTB
        // packet and set the T bit".
        assert_eq!(out.tag(), OOTB_TAG, "{what}");
        assert_eq!(out.only(), &abort(true), "{what}");
        assert_eq!(out.header.dst_port, script::SCRIPT_PORT);
    }
    // A packet for a port nobody owns here is out of the blue too.
    let header = CommonHeader {
        src_port: script::SCRIPT_PORT,
        dst_port: 4242,
        verification_tag: VerificationTag(OOTB_TAG),
    };
    w.send_bytes(
        w.remote,
        build_packet(header, &[heartbeat()]).expect("builds"),
    );
    let out = w.out_one();
    assert_eq!(out.header.src_port, 4242);
    assert_eq!(out.only(), &abort(true));
    assert!(w.ep.stats().out_of_the_blue >= 7);
}

#[test]
fn ootb_responses_are_rate_limited() {
    let mut cfg = EndpointConfig::with_seed(3);
    cfg.ootb_responses_per_second = 4;
    let mut w = Wire::new(cfg);
    for _ in 0..10 {
        w.send(OOTB_TAG, &[heartbeat()]);
    }
    for _ in 0..10 {
        w.send(OOTB_TAG, &[Chunk::ShutdownAck(ShutdownAck)]);
    }
    assert_eq!(
        w.out().len(),
        4,
        "one budget for ABORT and SHUTDOWN COMPLETE"
    );
    assert_eq!(w.ep.stats().out_of_the_blue, 20);
    // The budget refills at the configured rate.
    w.advance(Duration::from_millis(500));
    for _ in 0..10 {
        w.send(OOTB_TAG, &[heartbeat()]);
    }
    assert_eq!(w.out().len(), 2);
    w.advance(Duration::from_secs(5));
    for _ in 0..10 {
        w.send(OOTB_TAG, &[heartbeat()]);
    }
    assert_eq!(
        w.out().len(),
        4,
        "the budget never exceeds one second's worth"
    );
}

// ----- addresses, checksum, UDP port --------------------------------------------

#[test]
fn packets_to_or_from_non_unicast_addresses_are_dropped() {
    let (mut w, mut s) = established();
    let d = s.data(0, 0, b"to a group");
    let bytes = build_packet(w.header(s.ep_tag), &[d]).expect("builds");
    let locals: [SocketAddr; 3] = [
        "224.0.0.251:9899".parse().expect("a"),
        "255.255.255.255:9899".parse().expect("a"),
        "[ff02::1]:9899".parse().expect("a"),
    ];
    for local in locals {
        w.ep.handle_datagram(w.now, local, w.remote, Bytes::from(bytes.clone()));
    }
    // From a multicast source, out of the blue: no ABORT (§8.4 (1)).
    w.ep.handle_datagram(
        w.now,
        w.local,
        "239.1.2.3:9899".parse().expect("a"),
        Bytes::from(build_packet(w.header(OOTB_TAG), &[heartbeat()]).expect("builds")),
    );
    assert!(w.ep.poll_recv().is_none());
    assert!(w.out().is_empty());
    // Two handshake datagrams, four dropped ones.
    assert_eq!(w.ep.stats().datagrams_received, 6);
}

#[test]
fn bad_checksum_is_dropped_and_counted() {
    let (mut w, mut s) = established();
    let d = s.data(0, 0, b"corrupt");
    let mut bytes = build_packet(w.header(s.ep_tag), &[d]).expect("builds");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    w.send_bytes(w.remote, bytes);
    assert!(w.ep.poll_recv().is_none());
    assert!(w.out().is_empty());
    assert_eq!(w.ep.stats().bad_checksum, 1);
    assert_eq!(w.ep.stats().malformed, 1);
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
}

#[test]
fn udp_port_follows_only_packets_that_pass_the_tag_check() {
    let (mut w, s) = established();
    assert_eq!(w.ep.remote_address(s.handle), Some(w.remote));
    let moved: SocketAddr = "10.0.0.2:7777".parse().expect("a");
    // A wrong tag from a new UDP port: dropped, the port stays.
    let bad = build_packet(w.header(s.ep_tag ^ 1), &[heartbeat()]).expect("builds");
    w.send_bytes(moved, bad);
    assert!(w.out().is_empty());
    assert_eq!(w.ep.remote_address(s.handle), Some(w.remote));
    // The right tag from the new port: RFC 6951 §5.5, the association now
    // sends there.
    let good = build_packet(w.header(s.ep_tag), &[heartbeat()]).expect("builds");
    w.send_bytes(moved, good);
    assert_eq!(w.ep.remote_address(s.handle), Some(moved));
    let out = w.out_one();
    assert_eq!(out.to, moved);
    assert_eq!(out.types(), vec![ChunkType::HEARTBEAT_ACK]);
    assert_eq!(out.tag(), s.my_tag);
}
