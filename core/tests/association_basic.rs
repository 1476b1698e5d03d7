//! First association behaviours over the simulated network: handshake,
//! data both ways, graceful shutdown, abort.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::Pair;
use mcsctp_core::endpoint::SendOptions;
use mcsctp_core::event::{CloseReason, Event};
use mcsctp_core::rx::DeliveryKind;
use mcsctp_core::serial::{Ppid, StreamId};

#[test]
fn handshake_completes_in_two_round_trips() {
    let mut p = Pair::with_defaults(1);
    // A -> INIT -> Z, Z -> INIT ACK -> A, A -> COOKIE ECHO -> Z, Z -> COOKIE ACK -> A
    let (ha, hz) = p.connect();
    assert_eq!(p.a().ep.association_state(ha), Some("ESTABLISHED"));
    assert_eq!(p.z().ep.association_state(hz), Some("ESTABLISHED"));
    // Default link delay is 10 ms each way: 4 packets, 40 ms.
    assert_eq!(p.net.elapsed(), Duration::from_millis(40));
    assert_eq!(p.net.stats().delivered, 4);
}

#[test]
fn messages_flow_both_ways() {
    let mut p = Pair::with_defaults(2);
    let (ha, hz) = p.connect();
    let now = p.net.now();
    for i in 0..10u8 {
        p.a()
            .ep
            .send(
                now,
                ha,
                StreamId(1),
                Ppid(51),
                Bytes::from(vec![i; 100 + i as usize]),
                SendOptions::default(),
            )
            .expect("send");
    }
    p.z()
        .ep
        .send(
            now,
            hz,
            StreamId(0),
            Ppid(52),
            Bytes::from_static(b"pong"),
            SendOptions::default(),
        )
        .expect("send");
    let (a, z) = (p.a, p.z);
    p.net
        .run_until_cond(
            |n| n.node(z).received.len() == 10 && n.node(a).received.len() == 1,
            Duration::from_secs(5),
        )
        .expect("delivered");
    for (i, r) in p.net.node(z).received.iter().enumerate() {
        assert_eq!(r.association, hz);
        assert_eq!(r.delivery.kind, DeliveryKind::Message);
        assert_eq!(r.delivery.stream, StreamId(1));
        assert_eq!(r.delivery.ppid, Ppid(51));
        assert_eq!(r.delivery.payload, Bytes::from(vec![i as u8; 100 + i]));
    }
    assert_eq!(
        p.net.node(a).received[0].delivery.payload,
        Bytes::from_static(b"pong")
    );
}

#[test]
fn large_message_is_fragmented_and_reassembled() {
    let mut p = Pair::with_defaults(3);
    let (ha, _) = p.connect();
    let now = p.net.now();
    let msg: Bytes = (0..200_000u32)
        .map(|i| (i * 7) as u8)
        .collect::<Vec<_>>()
        .into();
    p.a()
        .ep
        .send(
            now,
            ha,
            StreamId(2),
            Ppid(0),
            msg.clone(),
            SendOptions::default(),
        )
        .expect("send");
    let z = p.z;
    p.net
        .run_until_cond(|n| !n.node(z).received.is_empty(), Duration::from_secs(30))
        .expect("delivered");
    let r = &p.net.node(z).received[0];
    assert_eq!(r.delivery.kind, DeliveryKind::Message);
    assert_eq!(r.delivery.payload, msg);
}

#[test]
fn graceful_shutdown_closes_both_sides() {
    let mut p = Pair::with_defaults(4);
    let (ha, _) = p.connect();
    let now = p.net.now();
    p.a()
        .ep
        .send(
            now,
            ha,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"last words"),
            SendOptions::default(),
        )
        .expect("send");
    p.a().ep.close(now, ha).expect("close");
    let (a, z) = (p.a, p.z);
    p.net
        .run_until_cond(
            |n| !n.node(a).closed().is_empty() && !n.node(z).closed().is_empty(),
            Duration::from_secs(10),
        )
        .expect("closed");
    assert_eq!(p.net.node(z).received.len(), 1);
    for n in [a, z] {
        assert!(matches!(
            p.net.node(n).closed()[0],
            Event::Closed {
                reason: CloseReason::Shutdown,
                ..
            }
        ));
        assert_eq!(p.net.node(n).ep.association_count(), 0);
    }
}

#[test]
fn abort_reaches_the_peer_with_its_reason() {
    let mut p = Pair::with_defaults(5);
    let (ha, _) = p.connect();
    let now = p.net.now();
    p.a().ep.abort(now, ha, b"bye").expect("abort");
    let z = p.z;
    p.net
        .run_until_cond(|n| !n.node(z).closed().is_empty(), Duration::from_secs(5))
        .expect("aborted");
    match p.net.node(z).closed()[0] {
        Event::Closed {
            reason: CloseReason::AbortedByPeer(causes),
            ..
        } => {
            assert_eq!(causes.len(), 1);
            assert!(causes[0].to_string().contains("User-Initiated Abort"));
        }
        e => panic!("unexpected {e:?}"),
    }
}
