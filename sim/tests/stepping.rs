//! The clock, stepping, bounded runs, stuck nodes, GSO and mixed node types.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Counter, StuckTimer, Toy, addr};
use mcsctp_sim::{BoxedNode, Datagram, LinkConfig, Network, Stalled, ZERO_PROGRESS_LIMIT};

const MS: Duration = Duration::from_millis(1);

#[test]
fn clock_jumps_to_each_event_without_sleeping() {
    let mut net = Network::new(1);
    let t = net
        .add_node(
            Toy::new(addr(1)).ticking(Duration::from_secs(3600)),
            &[addr(1)],
        )
        .unwrap();
    let wall = Instant::now();
    net.run_for(Duration::from_secs(24 * 3600)).unwrap();
    assert!(wall.elapsed() < Duration::from_secs(5));
    assert_eq!(net.elapsed(), Duration::from_secs(24 * 3600));
    let ticks: Vec<Duration> = net.node(t).ticks.iter().map(|i| *i - net.start()).collect();
    let expected: Vec<Duration> = (1..=24).map(|h| Duration::from_secs(h * 3600)).collect();
    assert_eq!(ticks, expected);
}

#[test]
fn ping_pong_round_trips_take_two_link_delays() {
    let mut net = Network::new(2);
    net.set_default_link(LinkConfig {
        delay: 7 * MS,
        ..LinkConfig::DEFAULT
    });
    let a = net
        .add_node(Toy::new(addr(1)).echoing(10), &[addr(1)])
        .unwrap();
    let b = net
        .add_node(Toy::new(addr(2)).echoing(10), &[addr(2)])
        .unwrap();
    net.node_mut(a).send_numbered(addr(2), 1, 50);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    // a's first send, then 10 echoes from b and 10 from a (the last dropped
    // on the floor by b's limit).
    assert_eq!(net.node(b).arrivals.len(), 11);
    assert_eq!(net.node(a).arrivals.len(), 10);
    assert_eq!(net.elapsed(), 21 * 7 * MS);
    let a_times: Vec<Duration> = net
        .node(a)
        .arrivals
        .iter()
        .map(|x| x.at - net.start())
        .collect();
    assert_eq!(a_times[0], 14 * MS);
    assert_eq!(a_times[1], 28 * MS);
}

#[test]
fn datagrams_queued_through_node_mut_are_sent_without_explicit_polling() {
    let mut net = Network::new(3);
    let a = net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    let b = net.add_node(Toy::new(addr(2)), &[addr(2)]).unwrap();
    net.node_mut(a).send_numbered(addr(2), 3, 10);
    // No poll_nodes(): the next step picks them up.
    assert!(net.step());
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.node(b).seqs(), [0, 1, 2]);
    // poll_nodes() makes them visible right away.
    net.node_mut(a).send_numbered(addr(2), 2, 10);
    net.poll_nodes();
    assert_eq!(net.in_flight(), 2);
    assert_eq!(net.stats().sent, 5);
}

#[test]
fn step_returns_false_when_nothing_is_pending() {
    let mut net: Network<Toy> = Network::new(4);
    assert!(!net.step());
    net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    assert!(!net.step());
    assert_eq!(net.next_event(), None);
}

#[test]
fn run_until_cond_stops_at_its_time_limit() {
    let mut net = Network::new(5);
    net.add_node(Toy::new(addr(1)).ticking(10 * MS), &[addr(1)])
        .unwrap();
    let r = net.run_until_cond(|_| false, Duration::from_secs(2));
    assert_eq!(
        r,
        Err(Stalled::TimeLimit {
            at: Duration::from_secs(2)
        })
    );
    assert_eq!(net.elapsed(), Duration::from_secs(2));
}

#[test]
fn run_until_cond_stops_at_its_step_limit_when_time_stands_still() {
    // Two nodes echoing forever over zero-delay links: time never advances.
    let mut net = Network::new(6);
    net.set_default_link(LinkConfig {
        delay: Duration::ZERO,
        ..LinkConfig::DEFAULT
    });
    let a = net
        .add_node(Toy::new(addr(1)).echoing(u64::MAX), &[addr(1)])
        .unwrap();
    net.add_node(Toy::new(addr(2)).echoing(u64::MAX), &[addr(2)])
        .unwrap();
    net.node_mut(a).send_numbered(addr(2), 1, 10);
    net.set_step_limit(1_000);
    let r = net.run_until_cond(|_| false, Duration::from_secs(1));
    assert_eq!(
        r,
        Err(Stalled::StepLimit {
            steps: 1_000,
            at: Duration::ZERO
        })
    );
    // run_for is bounded the same way.
    assert!(matches!(
        net.run_for(Duration::from_secs(1)),
        Err(Stalled::StepLimit { .. })
    ));
}

#[test]
fn run_until_cond_reports_an_idle_network() {
    let mut net = Network::new(7);
    net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    assert_eq!(
        net.run_until_cond(|_| false, Duration::from_secs(1)),
        Err(Stalled::Idle { at: Duration::ZERO })
    );
}

#[test]
fn run_until_cond_returns_once_the_condition_holds() {
    let mut net = Network::new(8);
    let a = net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    let b = net.add_node(Toy::new(addr(2)), &[addr(2)]).unwrap();
    net.node_mut(a).send_numbered(addr(2), 100, 10);
    net.run_until_cond(|n| !n.node(b).arrivals.is_empty(), Duration::from_secs(1))
        .unwrap();
    assert_eq!(net.node(b).arrivals.len(), 1);
    assert_eq!(net.elapsed(), 10 * MS);
    assert_eq!(net.in_flight(), 99);
}

#[test]
fn zero_progress_timer_node_is_reported_by_name() {
    let mut net: Network<BoxedNode> = Network::new(9);
    net.add_node(Box::new(Toy::new(addr(1))), &[addr(1)])
        .unwrap();
    let s = net
        .add_node(Box::new(StuckTimer::default()), &[addr(2)])
        .unwrap();
    let err = net.run_for(Duration::from_secs(1)).unwrap_err();
    match &err {
        Stalled::TimerLivelock {
            node,
            addrs,
            firings,
            at,
        } => {
            assert_eq!(
                (*node, addrs.as_slice(), *firings, *at),
                (s, &[addr(2)][..], ZERO_PROGRESS_LIMIT, Duration::ZERO)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("node#1"), "{err}");
    assert_eq!(
        net.node_as::<StuckTimer>(s).unwrap().fired,
        u64::from(ZERO_PROGRESS_LIMIT)
    );
    // The fault is sticky.
    assert_eq!(net.try_step(), Err(err));
}

#[test]
#[should_panic(expected = "node#0")]
fn step_panics_naming_a_zero_progress_node() {
    let mut net = Network::new(10);
    net.add_node(StuckTimer::default(), &[addr(1)]).unwrap();
    while net.step() {}
}

#[test]
fn gso_batches_are_split_into_segments() {
    let mut net = Network::new(11);
    let a = net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    let b = net.add_node(Toy::new(addr(2)), &[addr(2)]).unwrap();
    net.set_link(
        a,
        b,
        LinkConfig {
            mtu: 1000,
            ..LinkConfig::DEFAULT
        },
    );
    let data = Bytes::from((0..3500u32).map(|i| i as u8).collect::<Vec<u8>>());
    net.node_mut(a).out.push_back(Datagram {
        src: addr(1),
        dst: addr(2),
        data: data.clone(),
        segment_size: Some(1000),
    });
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    let lens: Vec<usize> = net.node(b).arrivals.iter().map(|x| x.len).collect();
    assert_eq!(lens, [1000, 1000, 1000, 500]);
    assert_eq!(net.stats().sent, 4);
    assert_eq!(net.stats().dropped_mtu, 0);
    assert_eq!(net.stats().bytes_delivered, 3500);
}

#[test]
fn heterogeneous_nodes_share_one_network() {
    let mut net: Network<BoxedNode> = Network::new(12);
    let toy = net
        .add_node(Box::new(Toy::new(addr(1))), &[addr(1)])
        .unwrap();
    let counter = net
        .add_node(Box::new(Counter::default()), &[addr(2)])
        .unwrap();
    net.node_as_mut::<Toy>(toy)
        .unwrap()
        .send_numbered(addr(2), 5, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.node_as::<Counter>(counter).unwrap().received, 5);
    assert!(net.node_as::<Counter>(toy).is_none());
    assert!(net.node_as::<Toy>(counter).is_none());
}

#[test]
fn timeouts_in_the_past_fire_at_the_current_time() {
    let mut net: Network<BoxedNode> = Network::new(13);
    let a = net
        .add_node(Box::new(Toy::new(addr(1))), &[addr(1)])
        .unwrap();
    net.run_for(5 * MS).unwrap();
    let start = net.start();
    let toy = net.node_as_mut::<Toy>(a).unwrap();
    toy.period = Some(MS);
    toy.next_tick = Some(start); // long past
    assert!(net.step());
    assert_eq!(net.node_as::<Toy>(a).unwrap().ticks, [start + 5 * MS]);
}
