//! Link behaviour: delay, jitter, FIFO order, loss, duplication,
//! reordering, MTU and bandwidth.

mod common;

use std::time::Duration;

use common::{Toy, addr, inversions};
use mcsctp_sim::{Endpoint, LinkConfig, Network, NodeId};

const MS: Duration = Duration::from_millis(1);

/// A network with a sender at 10.0.0.1 and a sink at 10.0.0.2.
fn pair(seed: u64, cfg: LinkConfig) -> (Network<Toy>, NodeId, NodeId) {
    let mut net = Network::new(seed);
    net.set_default_link(cfg);
    let a = net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    let b = net.add_node(Toy::new(addr(2)), &[addr(2)]).unwrap();
    (net, a, b)
}

fn since_start(net: &Network<Toy>, b: NodeId) -> Vec<Duration> {
    net.node(b)
        .arrivals
        .iter()
        .map(|a| a.at - net.start())
        .collect()
}

#[test]
fn delay_and_jitter_stay_within_bounds() {
    let cfg = LinkConfig {
        delay: 10 * MS,
        jitter: 5 * MS,
        ..LinkConfig::DEFAULT
    };
    let (mut net, a, b) = pair(1, cfg);
    net.node_mut(a).send_numbered(addr(2), 10_000, 100);
    net.run_for(Duration::from_secs(1)).unwrap();
    let times = since_start(&net, b);
    assert_eq!(times.len(), 10_000);
    assert!(
        times.iter().all(|t| (10 * MS..=15 * MS).contains(t)),
        "{times:?}"
    );
    let (min, max) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    assert!(
        *min < 10 * MS + MS / 10 && *max > 15 * MS - MS / 10,
        "jitter should span its range: {min:?}..{max:?}"
    );
    // Jitter without an explicit reorder setting can reorder, and that is counted.
    assert!(net.stats().reordered > 0);
    assert_eq!(net.stats().reordered, inversions(&net.node(b).seqs()));
}

#[test]
fn link_without_jitter_or_reorder_is_fifo_even_when_its_delay_shrinks() {
    let (mut net, a, b) = pair(
        2,
        LinkConfig {
            delay: 50 * MS,
            loss: 0.1,
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(a).send_numbered(addr(2), 500, 100);
    net.run_for(MS).unwrap();
    net.set_link(
        a,
        b,
        LinkConfig {
            delay: MS,
            loss: 0.1,
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(a).send_numbered(addr(2), 500, 100);
    net.run_for(Duration::from_secs(1)).unwrap();
    let seqs = net.node(b).seqs();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seqs:?}"
    );
    assert_eq!(net.stats().reordered, 0);
    assert!(net.stats().dropped_loss > 0);
    // The second batch could not overtake the first: it waited behind it.
    let times = since_start(&net, b);
    assert!(times.iter().all(|t| *t >= 50 * MS));
}

#[test]
fn loss_rate_matches_configuration_over_100k_packets() {
    let (mut net, a, b) = pair(
        3,
        LinkConfig {
            loss: 0.1,
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(a).send_numbered(addr(2), 100_000, 16);
    net.run_until_idle(Duration::from_secs(10)).unwrap();
    let s = net.stats();
    assert_eq!(s.sent, 100_000);
    assert!(s.dropped_loss > 0);
    // Binomial(100 000, 0.1): sd ≈ 95, so ±1000 is more than 10 sd.
    assert!(
        (9_000..=11_000).contains(&s.dropped_loss),
        "dropped {}",
        s.dropped_loss
    );
    assert_eq!(s.delivered + s.dropped_loss, 100_000);
    assert_eq!(net.node(b).arrivals.len() as u64, s.delivered);
    assert_eq!(net.link_stats(a, b), s);
}

#[test]
fn duplicates_are_counted_and_delivered() {
    let (mut net, a, b) = pair(
        4,
        LinkConfig {
            duplicate: 0.05,
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(a).send_numbered(addr(2), 20_000, 16);
    net.run_until_idle(Duration::from_secs(10)).unwrap();
    let s = net.stats();
    assert!(s.duplicated > 0);
    assert!(
        (500..=1_500).contains(&s.duplicated),
        "duplicated {}",
        s.duplicated
    );
    assert_eq!(s.delivered, s.sent + s.duplicated);
    let mut seqs = net.node(b).seqs();
    let total = seqs.len() as u64;
    seqs.dedup();
    assert_eq!(
        total - seqs.len() as u64,
        s.duplicated,
        "each duplicate arrives right after its original"
    );
    assert_eq!(seqs, (0..20_000).collect::<Vec<_>>());
}

#[test]
fn reordering_is_counted_and_observable_at_the_sink() {
    let (mut net, a, b) = pair(
        5,
        LinkConfig {
            reorder: 0.1,
            reorder_extra: 5 * MS,
            ..LinkConfig::DEFAULT
        },
    );
    // One packet per millisecond, so a 5 ms hold-back lets later ones pass.
    for _ in 0..2_000 {
        net.node_mut(a).send_numbered(addr(2), 1, 100);
        net.run_for(MS).unwrap();
    }
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    let seqs = net.node(b).seqs();
    assert_eq!(seqs.len(), 2_000);
    let inv = inversions(&seqs);
    assert!(inv > 0);
    assert_eq!(net.stats().reordered, inv);
    // ~10 % held back; each held-back packet is overtaken (counted once).
    assert!((100..=300).contains(&inv), "reordered {inv}");
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..2_000).collect::<Vec<_>>());
}

#[test]
fn packets_larger_than_the_mtu_are_dropped_and_counted() {
    let (mut net, a, b) = pair(
        6,
        LinkConfig {
            mtu: 1200,
            ..LinkConfig::DEFAULT
        },
    );
    for size in [1000, 1200, 1201, 1500] {
        net.node_mut(a).send_sized(addr(2), size);
    }
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    let lens: Vec<usize> = net.node(b).arrivals.iter().map(|x| x.len).collect();
    assert_eq!(lens, [1000, 1200]);
    assert_eq!(net.stats().dropped_mtu, 2);
    assert_eq!(net.link_stats(a, b).dropped_mtu, 2);
}

#[test]
fn bandwidth_spaces_arrivals_by_serialisation_time() {
    // 1250 bytes at 10 Mbit/s take exactly 1 ms to serialise.
    let (mut net, a, b) = pair(
        7,
        LinkConfig {
            delay: 10 * MS,
            bandwidth_bps: Some(10_000_000),
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(a).send_numbered(addr(2), 10, 1250);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    let times = since_start(&net, b);
    let expected: Vec<Duration> = (1..=10).map(|k| 10 * MS + k * MS).collect();
    assert_eq!(times, expected);
    assert_eq!(net.stats().dropped_queue, 0);
    // All ten were handed over at once: the tenth found nine ahead of it.
    assert_eq!(net.stats().queue_peak_bytes, 12_500);
    assert_eq!(net.link_stats(a, b).queue_peak_bytes, 12_500);
    assert_eq!(net.link_stats(b, a).queue_peak_bytes, 0);
    net.reset_queue_peaks();
    net.node_mut(a).send_numbered(addr(2), 1, 1250);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.stats().queue_peak_bytes, 1250);
}

#[test]
fn full_bandwidth_queue_drops_the_tail() {
    let (mut net, a, b) = pair(
        8,
        LinkConfig {
            bandwidth_bps: Some(10_000_000),
            queue_limit_bytes: 5_000,
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(a).send_numbered(addr(2), 10, 1250);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.node(b).seqs(), [0, 1, 2, 3]);
    // The dropped packets never joined the queue.
    assert_eq!(net.stats().queue_peak_bytes, 5_000);
    assert_eq!(net.stats().dropped_queue, 6);
    assert_eq!(net.link_stats(a, b).dropped_queue, 6);
    // Once the queue has drained, the link accepts packets again.
    net.node_mut(a).send_numbered(addr(2), 2, 1250);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.node(b).seqs(), [0, 1, 2, 3, 10, 11]);
}

#[test]
fn cut_link_drops_everything_until_healed() {
    let (mut net, a, b) = pair(9, LinkConfig::DEFAULT);
    net.set_link(a, b, net.default_link().cut());
    net.node_mut(a).send_numbered(addr(2), 10, 100);
    net.run_for(Duration::from_secs(1)).unwrap();
    assert!(net.node(b).arrivals.is_empty());
    assert_eq!(net.stats().dropped_loss, 10);
    assert!(net.clear_link(a, b).is_some());
    net.node_mut(a).send_numbered(addr(2), 10, 100);
    net.run_for(Duration::from_secs(1)).unwrap();
    assert_eq!(net.node(b).seqs(), (10..20).collect::<Vec<_>>());
}

#[test]
fn address_level_override_cuts_one_path_of_a_multihomed_node() {
    let mut net = Network::new(10);
    let a = net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    let b = net
        .add_node(Toy::new(addr(2)), &[addr(2), addr(3)])
        .unwrap();
    net.set_link(a, addr(3), LinkConfig::DEFAULT.cut());
    net.node_mut(a).send_numbered(addr(2), 5, 100);
    net.node_mut(a).send_numbered(addr(3), 5, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    let locals: Vec<_> = net.node(b).arrivals.iter().map(|x| x.local).collect();
    assert_eq!(locals, vec![addr(2); 5]);
    assert_eq!(net.link_stats(a, addr(3)).dropped_loss, 5);
    assert_eq!(net.link_stats(a, addr(2)).delivered, 5);
    assert_eq!(
        net.link_stats(Endpoint::Node(a), Endpoint::Node(b)).sent,
        10
    );
    assert_eq!(net.link_stats(b, a).sent, 0);
}

#[test]
fn datagrams_to_unowned_addresses_are_undeliverable() {
    let (mut net, a, _) = pair(11, LinkConfig::DEFAULT);
    net.node_mut(a).send_numbered(addr(99), 3, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.stats().undeliverable, 3);
    assert_eq!(net.stats().delivered, 0);
}

#[test]
fn packets_in_flight_to_a_removed_address_are_undeliverable() {
    let (mut net, a, b) = pair(12, LinkConfig::DEFAULT);
    net.node_mut(a).send_numbered(addr(2), 3, 100);
    net.run_for(MS).unwrap();
    assert_eq!(net.remove_address(addr(2)), Ok(b));
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.stats().undeliverable, 3);
    assert!(net.node(b).arrivals.is_empty());
}
