//! The tokio runtime over real UDP sockets on loopback: connect, messages
//! both ways (small and fragmented), one-to-many receive, graceful close,
//! abort, and clean shutdown when handles are dropped. Every wait is
//! bounded.

use std::time::Duration;

use bytes::Bytes;
use mcsctp::{Association, CloseReason, Config, DeliveryKind, Endpoint};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(10);

fn ep(sctp_port: u16) -> Endpoint {
    Endpoint::bind(Config::new("127.0.0.1:0".parse().expect("addr"), sctp_port)).expect("bind")
}

/// The client connects to the server's SCTP port `port`; returns both ends
/// of the association (client's, server's).
async fn pair(client: &Endpoint, server: &Endpoint, port: u16) -> (Association, Association) {
    let c = timeout(T, client.connect(server.local_addr(), port))
        .await
        .expect("in time")
        .expect("connect");
    let s = timeout(T, server.accept())
        .await
        .expect("in time")
        .expect("accept");
    (c, s)
}

#[tokio::test]
async fn connect_send_receive_and_close_over_loopback() {
    let server = ep(7);
    let client = ep(5000);
    let (c, s) = pair(&client, &server, 7).await;
    assert_eq!(c.remote_addr(), Some(server.local_addr()));

    c.send(1, Bytes::from_static(b"hello")).await.expect("send");
    let big: Bytes = (0..300_000u32)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    c.send(2, big.clone()).await.expect("send big");
    let m = timeout(T, server.recv())
        .await
        .expect("in time")
        .expect("recv");
    assert_eq!(
        (m.stream, &m.data[..], m.association),
        (1, &b"hello"[..], s.id())
    );
    // 300 000 bytes exceed the 256 KiB max message size: delivered in pieces.
    let mut got = Vec::new();
    loop {
        let m = timeout(T, s.recv()).await.expect("in time").expect("recv");
        assert_eq!(m.stream, 2);
        assert!(matches!(m.kind, DeliveryKind::Piece { .. }), "{:?}", m.kind);
        got.extend_from_slice(&m.data);
        if m.is_end_of_record() {
            break;
        }
    }
    assert_eq!(got, big);

    s.send(3, Bytes::from_static(b"pong"))
        .await
        .expect("send back");
    let m = timeout(T, c.recv()).await.expect("in time").expect("recv");
    assert_eq!(&m.data[..], b"pong");

    timeout(T, c.close())
        .await
        .expect("in time")
        .expect("graceful close");
    assert_eq!(
        timeout(T, s.closed()).await.expect("in time"),
        CloseReason::Shutdown
    );
}

#[tokio::test]
async fn abort_is_seen_by_the_peer() {
    let server = ep(9);
    let client = ep(5001);
    let (c, s) = pair(&client, &server, 9).await;
    c.abort(b"done");
    match timeout(T, s.closed()).await.expect("in time") {
        CloseReason::AbortedByPeer(causes) => assert_eq!(causes.len(), 1),
        r => panic!("unexpected {r:?}"),
    }
}

#[tokio::test]
async fn connecting_to_nobody_fails_cleanly() {
    let client = ep(5002);
    // A UDP port with nothing behind it: ICMP port unreachable, INITs
    // retransmitted; with few retransmissions this fails quickly.
    let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"), 5003);
    cfg.core.association.max_init_retransmits = 1;
    cfg.core.association.rto_initial = Duration::from_millis(100);
    cfg.core.association.rto_min = Duration::from_millis(100);
    let quick = Endpoint::bind(cfg).expect("bind");
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = dead.local_addr().expect("addr");
    drop(dead);
    let r = timeout(T, quick.connect(addr, 7)).await.expect("in time");
    assert!(
        matches!(r, Err(mcsctp::Error::Closed(CloseReason::HandshakeTimeout))),
        "{r:?}"
    );
    drop(client);
}

#[tokio::test]
async fn dropping_every_handle_stops_the_driver_and_aborts_associations() {
    let server = ep(11);
    let client = ep(5004);
    let (c, s) = pair(&client, &server, 11).await;
    drop(c);
    drop(client);
    // The client's driver aborts its association on the way out.
    assert!(matches!(
        timeout(T, s.closed()).await.expect("in time"),
        CloseReason::AbortedByPeer(_)
    ));
}

#[tokio::test]
async fn works_over_ipv6_loopback() {
    let v6 = |port| {
        Endpoint::bind(Config::new("[::1]:0".parse().expect("addr"), port)).expect("bind ::1")
    };
    let server = v6(13);
    let client = v6(5005);
    assert!(server.local_addr().is_ipv6());
    let c = timeout(T, client.connect(server.local_addr(), 13))
        .await
        .expect("in time")
        .expect("connect");
    c.send(0, Bytes::from_static(b"over v6"))
        .await
        .expect("send");
    let m = timeout(T, server.recv())
        .await
        .expect("in time")
        .expect("recv");
    assert_eq!(&m.data[..], b"over v6");
    timeout(T, c.close())
        .await
        .expect("in time")
        .expect("close");
}
