//! The same seed run twice produces an identical trace: a lossy,
//! duplicating, reordering bulk transfer in both directions, fingerprinted
//! by the simulator's digest of every packet (time, endpoints, fate, bytes),
//! every timer firing, and -- recorded by the test -- every event and every
//! delivery of both endpoints. A different seed gives a different trace.

mod common;
mod dataplane;

use std::time::Duration;

use common::{Pair, Peer};
use dataplane::{Checker, Sender, hash_bytes};
use mcsctp_core::config::EndpointConfig;
use mcsctp_sim::{LinkConfig, Network, NodeId};

/// What one run produced.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    digest: u64,
    packets: u64,
    events: usize,
    deliveries: usize,
    elapsed: Duration,
}

/// Records `node`'s new events and deliveries into the digest.
fn record(
    net: &mut Network<Peer>,
    node: NodeId,
    tag: &str,
    checker: &mut Checker,
) -> (usize, usize) {
    let peer = net.node_mut(node);
    let events = std::mem::take(&mut peer.events);
    let received = std::mem::take(&mut peer.received);
    for e in &events {
        net.record_event(tag, format!("{e:?}").as_bytes());
    }
    for r in &received {
        let d = &r.delivery;
        let line = format!(
            "{:?} stream={} ssn={} mid={} u={} {:?} len={} hash={:016x}",
            r.association,
            d.stream.0,
            d.ssn.0,
            d.mid.0,
            d.unordered,
            d.kind,
            d.payload.len(),
            hash_bytes(&d.payload)
        );
        net.record_event(tag, line.as_bytes());
        checker.deliver(d, &|| format!("{tag} seed {}", net.seed()));
    }
    (events.len(), received.len())
}

fn run(seed: u64) -> Trace {
    let mut cfg = EndpointConfig::default();
    cfg.association.receive_buffer = 128 << 10;
    cfg.association.rto_min = Duration::from_millis(200);
    cfg.association.max_retransmissions = 30;
    let mut p = Pair::new(seed, cfg.clone(), cfg);
    p.net.set_default_link(LinkConfig {
        delay: Duration::from_millis(15),
        jitter: Duration::from_millis(2),
        loss: 0.05,
        duplicate: 0.02,
        reorder: 0.03,
        reorder_extra: Duration::from_millis(5),
        ..LinkConfig::DEFAULT
    });
    let (ha, hz) = dataplane::connect_within(&mut p, Duration::from_secs(600));
    let (a, z) = (p.a, p.z);
    let mut tx = [
        Sender::new(seed, 0, 150, 4, 0.25, 64 << 10),
        Sender::new(seed, 1, 75, 4, 0.25, 64 << 10),
    ];
    let mut rx = [Checker::new(0), Checker::new(1)];
    let (mut events, mut deliveries) = (0, 0);
    let mut steps = 0u64;
    loop {
        let now = p.net.now();
        for (d, (node, h)) in [(a, ha), (z, hz)].into_iter().enumerate() {
            if !tx[d].done() {
                tx[d].pump(&mut p.net.node_mut(node).ep, now, h, &mut rx[d]);
            }
        }
        // Z receives direction 0, A direction 1.
        let (e, r) = record(&mut p.net, z, "z", &mut rx[0]);
        events += e;
        deliveries += r;
        let (e, r) = record(&mut p.net, a, "a", &mut rx[1]);
        events += e;
        deliveries += r;
        if tx.iter().all(Sender::done) && rx.iter().all(Checker::complete) {
            break;
        }
        steps += 1;
        assert!(steps < 10_000_000, "seed {seed}: step bound");
        assert!(
            p.net.elapsed() < Duration::from_secs(3600),
            "seed {seed}: time bound"
        );
        assert!(p.net.step(), "seed {seed}: went idle");
    }
    Trace {
        digest: p.net.digest(),
        packets: p.net.stats().delivered,
        events,
        deliveries,
        elapsed: p.net.elapsed(),
    }
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let first = run(7);
    let second = run(7);
    println!("seed 7: {first:?}");
    assert!(first.packets > 1000 && first.deliveries >= 225 && first.events > 0);
    assert_eq!(first, second);
}

#[test]
fn a_different_seed_gives_a_different_trace() {
    let a = run(7);
    let b = run(8);
    assert_ne!(a.digest, b.digest, "{a:?} vs {b:?}");
}
