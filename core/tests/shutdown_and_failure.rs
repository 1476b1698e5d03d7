//! Graceful shutdown (RFC 9260 §9.2) with data in flight, under loss of
//! each of its packets, from both sides at once, and bounded by the
//! T5-shutdown-guard; heartbeats (§8.3) and path and peer failure
//! detection (§8.1, §8.2).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::script::{self, Wire};
use common::{DropRule, Pair};
use mcsctp_core::chunk::ChunkType;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::SendOptions;
use mcsctp_core::event::{AssociationHandle, CloseReason, Event};
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_sim::{LinkConfig, NodeId};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn logged_pair(seed: u64, a: EndpointConfig, z: EndpointConfig) -> Pair {
    let mut p = Pair::new(seed, a, z);
    p.a().log = true;
    p.z().log = true;
    p
}

/// `n` messages of 1 to ~3 packets on a few streams.
fn send_messages(p: &mut Pair, node: NodeId, h: AssociationHandle, n: usize) {
    let now = p.net.now();
    for i in 0..n {
        let len = 100 + (i * 997) % 4000;
        p.net
            .node_mut(node)
            .ep
            .send(
                now,
                h,
                StreamId((i % 3) as u16),
                Ppid(i as u32),
                Bytes::from(vec![i as u8; len]),
                SendOptions::default(),
            )
            .expect("send");
    }
}

fn close_reason(p: &Pair, node: NodeId) -> Option<(CloseReason, usize)> {
    p.net.node(node).events.iter().find_map(|e| match e {
        Event::Closed {
            reason,
            unsent_messages,
            ..
        } => Some((reason.clone(), *unsent_messages)),
        _ => None,
    })
}

/// Runs until both sides closed; returns when each did.
fn run_until_both_closed(p: &mut Pair, limit: Duration) -> (Duration, Duration) {
    p.run_until_both(|peer| !peer.closed().is_empty(), limit)
        .expect("both closed")
}

fn assert_clean_close(p: &Pair) {
    for n in [p.a, p.z] {
        assert_eq!(close_reason(p, n), Some((CloseReason::Shutdown, 0)));
        assert_eq!(p.net.node(n).ep.association_count(), 0);
        assert!(p.net.node(n).sent_first(ChunkType::ABORT).is_empty());
    }
}

#[test]
fn shutdown_delivers_the_data_in_flight_of_both_sides_before_closing() {
    let mut p = logged_pair(21, EndpointConfig::default(), EndpointConfig::default());
    let (ha, hz) = p.connect();
    // A reads lazily: Z's messages must still be there after Closed.
    p.a().auto_recv = false;
    // Z has far more to send than its congestion window lets out before
    // A's SHUTDOWN arrives: it keeps sending in SHUTDOWN-RECEIVED.
    let n = p.a;
    send_messages(&mut p, n, ha, 4);
    let n = p.z;
    send_messages(&mut p, n, hz, 60);
    // A closes at once, with its data still queued.
    let now = p.net.now();
    p.a().ep.close(now, ha).expect("close");
    assert_eq!(p.a().ep.association_state(ha), Some("SHUTDOWN-PENDING"));
    assert!(
        p.a()
            .ep
            .send(
                now,
                ha,
                StreamId(0),
                Ppid(0),
                Bytes::from_static(b"late"),
                SendOptions::default()
            )
            .is_err(),
        "no new data once closing"
    );
    let z = p.z;
    p.net
        .run_until_cond(
            |n| n.node(z).ep.association_state(hz) == Some("SHUTDOWN-RECEIVED"),
            5 * SEC,
        )
        .expect("SHUTDOWN arrives");
    assert!(
        p.net
            .node(z)
            .events
            .contains(&Event::ShutdownReceived { association: hz })
    );
    assert!(
        p.net.node(z).ep.congestion(hz).expect("cc").2 > 0,
        "Z still has data in flight"
    );
    run_until_both_closed(&mut p, 30 * SEC);
    for n in [p.a, p.z] {
        assert_eq!(close_reason(&p, n), Some((CloseReason::Shutdown, 0)));
        assert!(p.net.node(n).sent_first(ChunkType::ABORT).is_empty());
    }
    assert_eq!(p.net.node(p.z).received.len(), 4);
    // Every one of Z's messages can still be read at A after the close;
    // then the association is gone.
    let mut a_got = 0;
    while let Some(r) = p.a().ep.poll_recv() {
        assert_eq!(r.association, ha);
        a_got += 1;
    }
    assert_eq!(a_got, 60);
    assert_eq!(p.a().ep.association_count(), 0);
    assert_eq!(p.z().ep.association_count(), 0);
}

/// A closes with data in flight; `dropper` loses one shutdown packet.
fn shutdown_losing(seed: u64, on_a: bool, rule: DropRule) -> (Pair, Duration, Duration) {
    let mut p = logged_pair(seed, EndpointConfig::default(), EndpointConfig::default());
    let (ha, _) = p.connect();
    let n = p.a;
    send_messages(&mut p, n, ha, 5);
    let now = p.net.now();
    p.a().ep.close(now, ha).expect("close");
    if on_a {
        p.a().drops.push(rule);
    } else {
        p.z().drops.push(rule);
    }
    let (a, z) = run_until_both_closed(&mut p, 30 * SEC);
    let start = now - p.net.start();
    assert_clean_close(&p);
    assert_eq!(p.net.node(p.z).received.len(), 5);
    (p, a - start, z - start)
}

#[test]
fn lost_shutdown_is_retransmitted_by_t2() {
    let (p, a, z) = shutdown_losing(22, true, DropRule::nth(ChunkType::SHUTDOWN, 1));
    let shutdowns = p.net.node(p.a).sent_first(ChunkType::SHUTDOWN);
    assert_eq!(shutdowns.len(), 2);
    assert!(shutdowns[0].dropped);
    // T2-shutdown = RTO (1 s: RTO.Min) after the first.
    assert_eq!(shutdowns[1].at - shutdowns[0].at, SEC);
    assert!(a > SEC && z > SEC);
}

#[test]
fn lost_shutdown_ack_is_retransmitted_by_t2() {
    let (p, _, _) = shutdown_losing(23, false, DropRule::nth(ChunkType::SHUTDOWN_ACK, 1));
    let acks = p.net.node(p.z).sent_first(ChunkType::SHUTDOWN_ACK);
    assert!(acks.len() >= 2);
    assert!(acks[0].dropped && !acks[1].dropped);
    assert_eq!(acks[1].at - acks[0].at, SEC);
}

#[test]
fn lost_shutdown_complete_is_recovered_through_the_ootb_rule() {
    let (p, a, z) = shutdown_losing(24, true, DropRule::nth(ChunkType::SHUTDOWN_COMPLETE, 1));
    // A closed at once; Z resent its SHUTDOWN ACK a T2 later and A, with no
    // association left, answered with a SHUTDOWN COMPLETE with the T bit
    // (RFC 9260 §8.4 (5)), which Z accepted (§8.5.1 C).
    let completes = p.net.node(p.a).sent_first(ChunkType::SHUTDOWN_COMPLETE);
    assert_eq!(completes.len(), 2);
    let t_bit = |s: &common::Sent| s.packet().chunks().next().expect("chunk").flags & 1;
    assert_eq!(t_bit(completes[0]), 0);
    assert_eq!(t_bit(completes[1]), 1);
    assert_eq!(completes[1].at - completes[0].at, SEC);
    assert!(z > a + SEC);
}

#[test]
fn simultaneous_shutdown_closes_both_sides() {
    let mut p = logged_pair(25, EndpointConfig::default(), EndpointConfig::default());
    let (ha, hz) = p.connect();
    let n = p.a;
    send_messages(&mut p, n, ha, 3);
    let n = p.z;
    send_messages(&mut p, n, hz, 3);
    let now = p.net.now();
    p.a().ep.close(now, ha).expect("close");
    p.z().ep.close(now, hz).expect("close");
    run_until_both_closed(&mut p, 10 * SEC);
    assert_clean_close(&p);
    assert_eq!(p.net.node(p.a).received.len(), 3);
    assert_eq!(p.net.node(p.z).received.len(), 3);
    // Both sent SHUTDOWN and, on receiving the other's, SHUTDOWN ACK.
    for n in [p.a, p.z] {
        assert_eq!(p.net.node(n).sent_first(ChunkType::SHUTDOWN).len(), 1);
        assert_eq!(p.net.node(n).sent_first(ChunkType::SHUTDOWN_ACK).len(), 1);
    }
}

#[test]
fn shutdown_guard_expiry_aborts() {
    let mut a_cfg = EndpointConfig::default();
    a_cfg.association.shutdown_guard = 5 * SEC;
    let mut p = logged_pair(26, a_cfg, EndpointConfig::default());
    let (ha, _) = p.connect();
    let (a, z) = (p.a, p.z);
    p.net.set_link(a, z, LinkConfig::DEFAULT.cut());
    let now = p.net.now();
    p.a().ep.close(now, ha).expect("close");
    p.net
        .run_until_cond(|n| !n.node(a).closed().is_empty(), 30 * SEC)
        .expect("gives up");
    let start = now;
    // SHUTDOWN at 0, 1 and 3 s (T2 doubling), then T5 at 5 s: ABORT.
    let times: Vec<Duration> = p
        .net
        .node(a)
        .sent_first(ChunkType::SHUTDOWN)
        .iter()
        .map(|s| s.at - start)
        .collect();
    assert_eq!(times, vec![Duration::ZERO, SEC, 3 * SEC]);
    let aborts = p.net.node(a).sent_first(ChunkType::ABORT);
    assert_eq!(aborts.len(), 1);
    assert_eq!(aborts[0].at - start, 5 * SEC);
    assert_eq!(
        close_reason(&p, a),
        Some((CloseReason::ShutdownGuardExpired, 0))
    );
}

#[test]
fn shutdown_received_takes_acknowledgements_from_repeated_shutdowns() {
    // A scripted peer that acknowledges only with SHUTDOWN chunks, as a
    // SHUTDOWN sender does for each DATA packet (RFC 9260 §9.2).
    let mut w = Wire::with_defaults();
    let s = w.accept(script::init(0x5d, 1, mcsctp_core::param::Params::empty()));
    for i in 0..2u8 {
        w.ep.send(
            w.now,
            s.handle,
            StreamId(0),
            Ppid(0),
            Bytes::from(vec![i; 100]),
            SendOptions::default(),
        )
        .expect("send");
    }
    let sent = w.out();
    assert!(sent.iter().any(|o| o.types().contains(&ChunkType::DATA)));
    let shutdown = |cum: u32| {
        mcsctp_core::chunk::Chunk::Shutdown(mcsctp_core::chunk::Shutdown {
            cumulative_tsn_ack: mcsctp_core::serial::Tsn(cum),
            flags: 0,
        })
    };
    // The first SHUTDOWN acknowledges nothing ...
    w.send(s.ep_tag, &[shutdown(s.ep_tsn.0.wrapping_sub(1))]);
    assert_eq!(w.state(s.handle), Some("SHUTDOWN-RECEIVED"));
    assert!(
        w.out()
            .iter()
            .all(|o| !o.types().contains(&ChunkType::SHUTDOWN_ACK))
    );
    // ... the next one acknowledges both messages: SHUTDOWN ACK at once.
    w.send(s.ep_tag, &[shutdown(s.ep_tsn.0.wrapping_add(1))]);
    let out = w.out_one();
    assert_eq!(out.types(), vec![ChunkType::SHUTDOWN_ACK]);
    assert_eq!(w.state(s.handle), Some("SHUTDOWN-ACK-SENT"));
}

#[test]
fn t2_gives_up_after_association_max_retrans() {
    let mut a_cfg = EndpointConfig::default();
    a_cfg.association.max_retransmissions = 2;
    let mut p = logged_pair(27, a_cfg, EndpointConfig::default());
    let (ha, _) = p.connect();
    let (a, z) = (p.a, p.z);
    p.net.set_link(a, z, LinkConfig::DEFAULT.cut());
    let now = p.net.now();
    p.a().ep.close(now, ha).expect("close");
    p.net
        .run_until_cond(|n| !n.node(a).closed().is_empty(), 30 * SEC)
        .expect("gives up");
    // RFC 9260 §9.2: "An endpoint SHOULD limit the number of retransmissions
    // of the SHUTDOWN chunk to the protocol parameter
    // 'Association.Max.Retrans'."
    let times: Vec<Duration> = p
        .net
        .node(a)
        .sent_first(ChunkType::SHUTDOWN)
        .iter()
        .map(|s| s.at - now)
        .collect();
    assert_eq!(times, vec![Duration::ZERO, SEC, 3 * SEC]);
    assert_eq!(p.net.elapsed(), now - p.net.start() + 7 * SEC);
    assert_eq!(close_reason(&p, a), Some((CloseReason::Unreachable, 0)));
}

// ----- heartbeats and failure detection ------------------------------------

const HB: Duration = Duration::from_secs(1);

/// A with heartbeats every HB.interval = 1 s; Z's off, so that only A's
/// heartbeats are on the wire.
fn heartbeat_pair(seed: u64) -> Pair {
    let mut a = EndpointConfig::default();
    a.association.heartbeat_interval = Some(HB);
    let mut z = EndpointConfig::default();
    z.association.heartbeat_interval = None;
    logged_pair(seed, a, z)
}

fn hb_times(p: &Pair) -> Vec<Duration> {
    let start = p.net.start();
    p.net
        .node(p.a)
        .sent_first(ChunkType::HEARTBEAT)
        .iter()
        .map(|s| s.at - start)
        .collect()
}

#[test]
fn idle_association_heartbeats_every_interval_plus_rto_and_measures_rtt() {
    let mut p = heartbeat_pair(31);
    let (ha, _) = p.connect();
    assert_eq!(p.a().ep.rtt(ha), Some((None, SEC)));
    p.net.run_for(10 * SEC).expect("runs");
    // A's data path started with the INIT ACK at 20 ms; the path stays
    // idle, so: 20 ms + HB.interval + RTO, then HB.interval + RTO after
    // each HEARTBEAT ACK (20 ms later). RTO stays RTO.Min = 1 s.
    let t = hb_times(&p);
    assert_eq!(&t[..3], &[2020 * MS, 4040 * MS, 6060 * MS]);
    assert_eq!(
        p.net.node(p.z).sent_first(ChunkType::HEARTBEAT_ACK).len(),
        t.len()
    );
    // RTT from the HEARTBEAT ACK.
    assert_eq!(p.a().ep.rtt(ha), Some((Some(20 * MS), SEC)));
    assert!(p.net.node(p.a).events.contains(&Event::RttUpdated {
        association: ha,
        srtt: 20 * MS
    }));
    // Traffic postpones the heartbeat.
    let now = p.net.now();
    let next_before = *t.last().expect("some") + 2 * SEC + 20 * MS;
    p.a()
        .ep
        .send(
            now,
            ha,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"busy"),
            SendOptions::default(),
        )
        .expect("send");
    p.net.run_for(3 * SEC).expect("runs");
    let after = hb_times(&p);
    let first_after = after.iter().find(|&&x| x > now - p.net.start());
    assert!(first_after.is_none_or(|&x| x > next_before));
}

/// (send time, timeout) of each HEARTBEAT once every one goes unanswered:
/// the first after HB.interval + RTO of idleness, then (the path being
/// potentially failed) one per RTO, the RTO doubling each time (RFC 9260
/// §8.3, RFC 7829).
fn unanswered_schedule(first: Duration, n: usize, rto_max: Duration) -> Vec<(Duration, Duration)> {
    let mut v = Vec::new();
    let (mut t, mut rto) = (first, SEC);
    for _ in 0..n {
        let timeout = t + rto;
        v.push((t, timeout));
        rto = (rto * 2).min(rto_max);
        t = timeout;
    }
    v
}

/// Time of the first event at A matching `f`, running at most `limit`.
fn when(p: &mut Pair, limit: Duration, f: impl Fn(&Event) -> bool) -> Duration {
    let a = p.a;
    p.net
        .run_until_cond(|n| n.node(a).events.iter().any(&f), limit)
        .expect("event happens");
    p.net.elapsed()
}

#[test]
fn cut_path_is_reported_after_path_max_retrans_and_fails_after_association_max_retrans() {
    let mut p = heartbeat_pair(32);
    let (ha, _) = p.connect();
    // One answered heartbeat (2.02 s, acked at 2.04 s), then the cable is
    // cut both ways.
    p.net.run_for(3 * SEC).expect("runs");
    assert_eq!(hb_times(&p), vec![2020 * MS]);
    let (a, z) = (p.a, p.z);
    p.net.set_link_both(a, z, LinkConfig::DEFAULT.cut());
    let sched = unanswered_schedule(4040 * MS, 11, Duration::from_secs(60));
    // Path.Max.Retrans = 5: the sixth unanswered HEARTBEAT marks the path
    // unreachable (RFC 9260 §8.2 "exceeds").
    let down = when(&mut p, Duration::from_secs(1000), |e| {
        matches!(
            e,
            Event::PathChanged {
                reachable: false,
                ..
            }
        )
    });
    assert_eq!(down, sched[5].1);
    // Association.Max.Retrans = 10: the eleventh ends the association
    // (§8.1).
    let dead = when(&mut p, Duration::from_secs(1000), |e| {
        matches!(e, Event::Closed { .. })
    });
    assert_eq!(dead, sched[10].1);
    assert_eq!(close_reason(&p, a), Some((CloseReason::Unreachable, 0)));
    let sent: Vec<Duration> = hb_times(&p)[1..].to_vec();
    assert_eq!(sent, sched.iter().map(|s| s.0).collect::<Vec<_>>());
    assert_eq!(p.a().ep.association_count(), 0);
    assert!(p.net.node(a).events.contains(&Event::PathChanged {
        association: ha,
        reachable: false
    }));
}

#[test]
fn healed_path_is_reported_reachable_and_the_association_survives() {
    let mut p = heartbeat_pair(33);
    let (ha, hz) = p.connect();
    p.net.run_for(3 * SEC).expect("runs");
    let (a, z) = (p.a, p.z);
    p.net.set_link_both(a, z, LinkConfig::DEFAULT.cut());
    let sched = unanswered_schedule(4040 * MS, 8, Duration::from_secs(60));
    let down = when(&mut p, Duration::from_secs(1000), |e| {
        matches!(
            e,
            Event::PathChanged {
                reachable: false,
                ..
            }
        )
    });
    assert_eq!(down, sched[5].1);
    // Heal before Association.Max.Retrans. The seventh HEARTBEAT left with
    // the sixth timeout, into the cut; the eighth is answered.
    p.net.clear_link(a, z);
    p.net.clear_link(z, a);
    let up = when(&mut p, Duration::from_secs(1000), |e| {
        matches!(
            e,
            Event::PathChanged {
                reachable: true,
                ..
            }
        )
    });
    assert_eq!(up, sched[7].0 + 20 * MS);
    // The error count was reset: ten more minutes without trouble.
    p.net.run_for(Duration::from_secs(600)).expect("runs");
    assert!(p.net.node(a).closed().is_empty());
    let now = p.net.now();
    p.z()
        .ep
        .send(
            now,
            hz,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"still here"),
            SendOptions::default(),
        )
        .expect("send");
    p.net
        .run_until_cond(|n| !n.node(a).received.is_empty(), 5 * SEC)
        .expect("data flows");
    assert_eq!(p.a().ep.association_state(ha), Some("ESTABLISHED"));
}
