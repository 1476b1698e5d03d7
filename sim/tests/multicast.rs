//! Multicast fan-out and per-member multicast links.

mod common;

use std::time::Duration;

use common::{Toy, addr, group};
use mcsctp_sim::{ConfigError, LinkConfig, Network, NodeId};

/// A sender (10.0.0.1) and three members (10.0.0.2..4) of `group()`.
fn group_net(seed: u64) -> (Network<Toy>, NodeId, [NodeId; 3]) {
    let mut net = Network::new(seed);
    let s = net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap();
    let m = [2, 3, 4].map(|n| net.add_node(Toy::new(addr(n)), &[addr(n)]).unwrap());
    for id in m {
        net.join(id, group()).unwrap();
    }
    (net, s, m)
}

#[test]
fn multicast_fans_out_with_loss_to_one_member_only() {
    let (mut net, s, m) = group_net(1);
    net.set_group_link(
        group(),
        m[0],
        LinkConfig {
            loss: 0.3,
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(s).send_numbered(group(), 1_000, 200);
    net.run_until_idle(Duration::from_secs(1)).unwrap();

    let got: Vec<usize> = m.iter().map(|&id| net.node(id).arrivals.len()).collect();
    assert!((600..=800).contains(&got[0]), "lossy member got {}", got[0]);
    assert_eq!(got[1..], [1_000, 1_000]);
    assert!(net.link_stats(s, m[0]).dropped_loss > 0);
    assert_eq!(net.link_stats(s, m[1]).dropped_loss, 0);
    assert_eq!(
        net.stats().sent,
        1_000,
        "a multicast datagram counts as sent once"
    );
    assert_eq!(
        net.link_stats(s, group()).sent,
        3_000,
        "one copy per member link"
    );

    // A member sees the group as the local address, the sender as remote.
    let a = &net.node(m[1]).arrivals[0];
    assert_eq!((a.local, a.remote), (group(), addr(1)));
    // The sender did not join and gets nothing back.
    assert!(net.node(s).arrivals.is_empty());
}

#[test]
fn group_link_loss_leaves_the_members_unicast_path_clean() {
    let (mut net, s, m) = group_net(2);
    net.set_group_link(group(), m[0], LinkConfig::DEFAULT.cut());
    net.node_mut(s).send_numbered(group(), 100, 200);
    net.node_mut(s).send_numbered(addr(2), 100, 200);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    let locals: Vec<_> = net.node(m[0]).arrivals.iter().map(|a| a.local).collect();
    assert_eq!(locals, vec![addr(2); 100]);
    assert_eq!(net.link_stats(s, group()).dropped_loss, 100);
    assert_eq!(net.link_stats(s, addr(2)).delivered, 100);
}

#[test]
fn node_link_override_applies_to_unicast_and_multicast_copies() {
    let (mut net, s, m) = group_net(3);
    net.set_link(
        s,
        m[2],
        LinkConfig {
            delay: Duration::from_millis(40),
            ..LinkConfig::DEFAULT
        },
    );
    net.node_mut(s).send_numbered(group(), 1, 100);
    net.node_mut(s).send_numbered(addr(4), 1, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    for a in &net.node(m[2]).arrivals {
        assert_eq!(a.at - net.start(), Duration::from_millis(40));
    }
    assert_eq!(net.node(m[2]).arrivals.len(), 2);
    assert_eq!(
        net.node(m[1]).arrivals[0].at - net.start(),
        Duration::from_millis(10)
    );
}

#[test]
fn sender_gets_its_own_multicast_only_with_loopback() {
    let (mut net, s, _) = group_net(4);
    net.join(s, group()).unwrap();
    net.node_mut(s).send_numbered(group(), 1, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert!(net.node(s).arrivals.is_empty());
    net.set_multicast_loopback(true);
    net.node_mut(s).send_numbered(group(), 1, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.node(s).seqs(), [1]);
}

#[test]
fn member_that_left_gets_no_copies_even_those_in_flight() {
    let (mut net, s, m) = group_net(5);
    net.node_mut(s).send_numbered(group(), 1, 100);
    net.run_for(Duration::from_millis(1)).unwrap();
    net.leave(m[0], group()).unwrap();
    net.node_mut(s).send_numbered(group(), 1, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert!(net.node(m[0]).arrivals.is_empty());
    assert_eq!(net.node(m[1]).seqs(), [0, 1]);
    assert_eq!(net.stats().undeliverable, 1);
    assert_eq!(net.members(group()), &m[1..]);
}

#[test]
fn multicast_to_a_group_nobody_joined_is_undeliverable() {
    let (mut net, s, _) = group_net(6);
    let other = "239.9.9.9:9899".parse().unwrap();
    net.node_mut(s).send_numbered(other, 2, 100);
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    assert_eq!(net.stats().undeliverable, 2);
}

#[test]
fn joining_a_unicast_address_is_rejected() {
    let (mut net, s, _) = group_net(7);
    assert_eq!(
        net.join(s, addr(9)),
        Err(ConfigError::NotMulticast(addr(9)))
    );
    assert_eq!(
        net.add_node(Toy::new(group()), &[group()]).unwrap_err(),
        ConfigError::MulticastAddress(group())
    );
    assert_eq!(
        net.add_node(Toy::new(addr(1)), &[addr(1)]).unwrap_err(),
        ConfigError::AddressInUse {
            addr: addr(1),
            owner: s
        }
    );
}
