//! Loss recovery without waiting for T3-rtx, and what the sender puts in
//! each packet.
//!
//! RFC 9260's only repair for a lost fast retransmission or for losses at
//! the tail of a burst is T3-rtx, at RTO.Min = 1 s or more: on a fast path
//! that is a silence of thousands of round trips. mcsctp adds time-based
//! loss detection and tail loss probes after RFC 8985 (RACK-TLP, see
//! `core/src/tx/loss.rs`); these tests lose exactly the packets that need
//! them and check that recovery takes round trips, not an RTO.
//!
//! Packet filling: new data goes out in full packets while data is in
//! flight (a SACK will open the window again), and small messages are not
//! split to fit a window edge.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{DropTsn, Pair, Peer};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::{AssociationStats, SendOptions};
use mcsctp_core::event::AssociationHandle;
use mcsctp_core::rx::reassembly::DeliveryKind;
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_sim::LinkConfig;

/// RTO.Min is left at RFC 9260's 1 s; every repair below must come well
/// before it.
const QUICK: Duration = Duration::from_millis(300);

fn payload(i: usize, len: usize) -> Bytes {
    (0..len)
        .map(|j| (i.wrapping_mul(31) ^ j) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn send_all(pair: &mut Pair, h: AssociationHandle, count: usize, len: usize) {
    let now = pair.net.now();
    for i in 0..count {
        pair.a()
            .ep
            .send(
                now,
                h,
                StreamId(0),
                Ppid(0),
                payload(i, len),
                SendOptions::default(),
            )
            .expect("send");
    }
}

/// Runs until Z has `count` messages; returns the time it took.
fn run_until_received(pair: &mut Pair, count: usize, limit: Duration) -> Duration {
    let z = pair.z;
    let start = pair.net.elapsed();
    pair.net
        .run_until_cond(|n| received_messages(n.node(z)) >= count, limit)
        .unwrap_or_else(|e| {
            panic!(
                "Z got {} of {count} messages ({e})",
                received_messages(pair.net.node(z))
            )
        });
    pair.net.elapsed() - start
}

/// Every message arrived once, in order, intact (glued back together
/// where the receiver delivered it in pieces to free its buffer).
fn check_received(z: &Peer, count: usize, len: usize) {
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut open = false;
    for r in &z.received {
        let d = &r.delivery;
        match d.kind {
            DeliveryKind::Message => {
                assert!(!open, "a whole message inside a piecewise one");
                messages.push(d.payload.to_vec());
            }
            DeliveryKind::Piece {
                first,
                end_of_record,
            } => {
                assert_eq!(first, !open, "pieces out of sequence");
                if first {
                    messages.push(Vec::new());
                }
                messages
                    .last_mut()
                    .expect("open")
                    .extend_from_slice(&d.payload);
                open = !end_of_record;
            }
            k => panic!("unexpected delivery {k:?}"),
        }
    }
    assert!(!open);
    assert_eq!(messages.len(), count);
    for (i, m) in messages.iter().enumerate() {
        assert!(
            m[..] == payload(i, len)[..],
            "message {i}: {} bytes, {len} sent",
            m.len()
        );
    }
}

/// Messages Z has read, whole or as the last piece of one.
fn received_messages(z: &Peer) -> usize {
    z.received
        .iter()
        .filter(|r| match r.delivery.kind {
            DeliveryKind::Message => true,
            DeliveryKind::Piece { end_of_record, .. } => end_of_record,
            _ => false,
        })
        .count()
}

fn pair_with(mut tweak: impl FnMut(&mut EndpointConfig)) -> (Pair, AssociationHandle) {
    let mut a = EndpointConfig::default();
    let mut z = EndpointConfig::default();
    // Every test queues its whole workload at once.
    a.association.send_buffer = 16 << 20;
    tweak(&mut a);
    tweak(&mut z);
    let mut pair = Pair::new(1, a, z);
    pair.net.set_default_link(LinkConfig {
        delay: Duration::from_millis(5),
        ..LinkConfig::DEFAULT
    });
    let (h, _) = pair.connect();
    (pair, h)
}

fn t3_expirations(pair: &mut Pair, h: AssociationHandle) -> u64 {
    pair.a()
        .ep
        .association_stats(h)
        .expect("stats")
        .t3_expirations
}

#[test]
fn lost_fast_retransmission_is_repaired_without_t3() {
    let (mut pair, h) = pair_with(|_| {});
    // A -> DATA(TSN i+20) -> lost; three SACKs later the fast
    // retransmission of it is lost too.
    pair.a().drop_tsns.push(DropTsn::new(20, 2));
    send_all(&mut pair, h, 200, 1000);
    let took = run_until_received(&mut pair, 200, Duration::from_secs(30));
    check_received(pair.z(), 200, 1000);
    assert_eq!(pair.a().drop_tsns[0].dropped(), 2, "both copies were lost");
    assert_eq!(t3_expirations(&mut pair, h), 0);
    assert!(took < QUICK, "took {took:?}");
}

#[test]
fn lost_retransmission_behind_a_full_window_is_repaired_without_t3() {
    // Z's window (16 KiB) fills behind the hole, so nothing new is sent
    // after the lost retransmission: only a probe can find it.
    let (mut pair, h) = pair_with(|c| c.association.receive_buffer = 16 << 10);
    pair.a().drop_tsns.push(DropTsn::new(20, 2));
    send_all(&mut pair, h, 200, 1000);
    let took = run_until_received(&mut pair, 200, Duration::from_secs(30));
    check_received(pair.z(), 200, 1000);
    assert_eq!(pair.a().drop_tsns[0].dropped(), 2);
    assert_eq!(t3_expirations(&mut pair, h), 0);
    assert!(took < QUICK, "took {took:?}");
}

/// User data that fills one 1452-byte I-DATA packet (I-DATA is negotiated
/// by default): one chunk per packet.
const FULL: usize = 1452 - 12 - 20;

#[test]
fn tail_losses_are_repaired_without_t3() {
    // The last chunk of a burst, the last two, and two of the last three:
    // no later data can reveal them.
    for lost in [vec![9], vec![8, 9], vec![7, 9]] {
        let (mut pair, h) = pair_with(|_| {});
        for &i in &lost {
            pair.a().drop_tsns.push(DropTsn::new(i, 1));
        }
        send_all(&mut pair, h, 10, FULL);
        let took = run_until_received(&mut pair, 10, Duration::from_secs(30));
        check_received(pair.z(), 10, FULL);
        assert!(pair.a().drop_tsns.iter().all(|r| r.dropped() == 1));
        assert_eq!(t3_expirations(&mut pair, h), 0, "lost {lost:?}");
        assert!(took < QUICK, "lost {lost:?}: took {took:?}");
    }
}

#[test]
fn a_lost_probe_still_ends_in_t3() {
    // The safety net stays: when the tail chunk and its probe are both
    // lost, T3-rtx recovers.
    let (mut pair, h) = pair_with(|_| {});
    pair.a().drop_tsns.push(DropTsn::new(9, 2));
    send_all(&mut pair, h, 10, FULL);
    run_until_received(&mut pair, 10, Duration::from_secs(30));
    check_received(pair.z(), 10, FULL);
    assert_eq!(pair.a().drop_tsns[0].dropped(), 2);
    assert_eq!(t3_expirations(&mut pair, h), 1);
}

/// (data packets, data chunks, user bytes) A sent.
fn data_packets(a: &Peer) -> (usize, usize, usize) {
    let mut packets = 0;
    let mut chunks = 0;
    for s in &a.sent {
        let n = common::data_tsns(&s.packet()).len();
        if n > 0 {
            packets += 1;
            chunks += n;
        }
    }
    (packets, chunks, 0)
}

#[test]
fn small_messages_fill_packets_and_are_never_split() {
    // 1452-byte packets hold 12 DATA chunks of 100 bytes (12 + 12 * 116 =
    // 1404; a 13th does not fit).
    let (mut pair, h) = pair_with(|_| {});
    pair.a().log = true;
    send_all(&mut pair, h, 6000, 100);
    run_until_received(&mut pair, 6000, Duration::from_secs(30));
    check_received(pair.z(), 6000, 100);
    let (packets, chunks, _) = data_packets(pair.a());
    assert_eq!(chunks, 6000, "no 100-byte message was fragmented");
    // Full packets but for the last of each burst at the window's edge.
    assert!(
        packets <= 6000 / 12 * 105 / 100,
        "{packets} packets for 6000 messages"
    );
}

#[test]
fn large_messages_fill_packets_and_small_ones_travel_whole() {
    // 1452 - 12 - 20 = 1420 bytes of user data per full I-DATA packet.
    // Messages larger than that are cut to fill packets; one that fits a
    // packet of its own is not split to fill the end of another.
    for (len, per_packet) in [(1200usize, None), (3000, Some(1420)), (65_536, Some(1420))] {
        let count = (8 << 20) / len;
        let (mut pair, h) = pair_with(|_| {});
        pair.a().log = true;
        send_all(&mut pair, h, count, len);
        run_until_received(&mut pair, count, Duration::from_secs(30));
        check_received(pair.z(), count, len);
        let (packets, chunks, _) = data_packets(pair.a());
        match per_packet {
            None => assert_eq!((packets, chunks), (count, count), "{len} B"),
            Some(full) => {
                let ideal = (count * len).div_ceil(full);
                assert!(
                    packets <= ideal * 102 / 100,
                    "{len} B: {packets} packets, {ideal} would do"
                );
            }
        }
    }
}

/// 1 ms one way, a 256 KiB drop-tail queue when the bandwidth is limited.
const BULK_LINK: LinkConfig = LinkConfig {
    delay: Duration::from_millis(1),
    queue_limit_bytes: 256 << 10,
    ..LinkConfig::DEFAULT
};

/// `count` messages of `len` bytes from A to Z over `link` with 1200-byte
/// packets, checked on arrival; the statistics of A's and Z's association.
fn bulk_over(
    seed: u64,
    link: LinkConfig,
    count: usize,
    len: usize,
) -> (AssociationStats, AssociationStats) {
    let mut a = EndpointConfig::default();
    a.association.send_buffer = 16 << 20;
    a.max_packet_size = 1200;
    let mut z = EndpointConfig::default();
    z.max_packet_size = 1200;
    let mut pair = Pair::new(seed, a, z);
    pair.net.set_default_link(link);
    let (h, hz) = pair.connect();
    send_all(&mut pair, h, count, len);
    run_until_received(&mut pair, count, Duration::from_secs(120));
    check_received(pair.z(), count, len);
    let sent = pair.a().ep.association_stats(h).expect("stats");
    let got = pair.z().ep.association_stats(hz).expect("stats");
    (sent, got)
}

#[test]
fn receiver_accepts_everything_its_window_promised() {
    // Loss, reordering and a drop-tail queue keep gaps open while the
    // window fills, with small and large messages.
    for seed in 0..8u64 {
        for len in [100usize, 1000, 5000] {
            let link = LinkConfig {
                loss: 0.01,
                reorder: 0.01,
                reorder_extra: Duration::from_millis(1),
                bandwidth_bps: Some(1_000_000_000),
                ..BULK_LINK
            };
            let (_, z) = bulk_over(seed, link, (3 << 20) / len, len);
            assert_eq!(z.data_chunks_dropped, 0, "seed {seed}, {len} B");
        }
    }
}

#[test]
fn a_fifo_link_sees_no_spurious_retransmission() {
    // Drop-tail queue overflow and random loss, no reordering or
    // duplication: every chunk that reaches the receiver twice was
    // retransmitted although it was not lost. Acknowledgements of
    // retransmitted chunks, ambiguous in SCTP, once taught RACK an RTT
    // shorter than the queue, and each spurious retransmission made the
    // chunks queued behind it look lost in turn.
    for (len, loss, bandwidth) in [
        (100usize, 0.0, Some(1_000_000_000)),
        (100, 0.01, None),
        (1200, 0.01, Some(1_000_000_000)),
        (65_536, 0.01, None),
    ] {
        let link = LinkConfig {
            loss,
            bandwidth_bps: bandwidth,
            ..BULK_LINK
        };
        let (sent, got) = bulk_over(3, link, (6 << 20) / len, len);
        let what = format!("{len} B, loss {loss}, {bandwidth:?} bit/s");
        assert!(
            sent.data_chunks_retransmitted > 0,
            "{what}: nothing was lost"
        );
        assert_eq!(got.duplicate_chunks_received, 0, "{what}: {sent:?}");
        assert_eq!(sent.t3_expirations, 0, "{what}");
    }
}
