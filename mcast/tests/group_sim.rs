//! The multicast extension in the deterministic simulator: a server
//! endpoint with a `GroupServer`, members with a `GroupMember`, and
//! plain SCTP peers (the harness: `mcsctp_testkit::group`), over simulated links with per-member loss,
//! duplication and reordering on the group path. Every message reaches
//! every member exactly once, in order, byte-identical (checked against a
//! payload the test derives from the message number, independently of the
//! implementation).
//!
//! CI tier: a bounded number of seeds per scenario. The full tier (200
//! seeds per scenario) is `#[ignore]`:
//!
//! ```text
//! cargo test -p mcsctp-mcast --profile simtest --test group_sim -- --ignored
//! ```

use std::time::Duration;

use bytes::Bytes;
use mcsctp_core::rx::reassembly::Origin;
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_mcast::server::group::MemberKind;
use mcsctp_sim::LinkConfig;
use mcsctp_testkit::group::{
    Peer, build, check_suffix, connect_all, got_of, group_addr, handles, kind_of, member, payload,
    perform_joins, plain_handles, run, scenario, send_range, server, server_addr, wait_for,
};

#[test]
fn one_member_no_loss() {
    let w = run(&scenario(1, vec![0.0]));
    let s = match w.net.node(w.server) {
        Peer::Server(n) => n,
        _ => unreachable!(),
    };
    let g = s.ep.extension();
    assert!(g.bytes_multicast > 300 * 1000, "the data went by multicast");
    assert!(
        g.bytes_unicast < g.bytes_multicast / 10,
        "little went by unicast: {} vs {}",
        g.bytes_unicast,
        g.bytes_multicast
    );
}

/// The server is idle (what the runtime's `Group::flushed` waits for) only
/// once every member has everything sent since its start: a member still
/// JOINING holds no buffer back (draft §"Presumed Reachable"), but what it
/// lacks stays in its backlog and counts. (Regression: the CLI's group
/// server closed the association of a member that had joined a millisecond
/// before the messages were sent, before it had any of them.)
#[test]
fn the_server_is_not_idle_while_a_joining_member_lacks_messages() {
    for loss in [0.0, 1.0] {
        let mut w = build(&scenario(5, vec![loss]));
        connect_all(&mut w);
        let (sid, mid) = (w.server, w.members[0]);
        if loss == 1.0 {
            assert_eq!(kind_of(&mut w, mid).0, MemberKind::Joining);
        }
        send_range(&mut w, 0, 3, 1000);
        w.net
            .run_until_cond(
                |net| server(net, sid).ep.extension().is_idle(),
                Duration::from_secs(10),
            )
            .expect("the server becomes idle");
        assert_eq!(
            got_of(&w.net, mid).len(),
            3,
            "loss {loss}: idle only once the member has every message"
        );
    }
}

#[test]
fn eight_members_with_independent_loss() {
    for seed in 1..=8 {
        let losses = (0..8).map(|i| f64::from(i) * 0.04).collect();
        run(&scenario(seed, losses));
    }
}

#[test]
fn a_member_the_group_path_never_reaches_falls_back_and_gets_everything() {
    for seed in 1..=4 {
        let w = run(&scenario(seed, vec![0.0, 0.02, 1.0]));
        let s = match w.net.node(w.server) {
            Peer::Server(n) => n,
            _ => unreachable!(),
        };
        let blind =
            s.ep.extension()
                .members()
                .filter_map(|h| s.ep.extension().member(h))
                .filter(|m| m.kind == MemberKind::Fallback)
                .count();
        assert_eq!(blind, 1, "seed {seed}: the blind member is in fallback");
    }
}

/// Simulated time from the first send until every receiver of scenario
/// `s` has all its messages.
fn completion_time(s: &mcsctp_testkit::group::Scenario) -> Duration {
    let mut w = build(s);
    connect_all(&mut w);
    let t0 = w.net.now();
    send_range(&mut w, 0, s.messages, s.size);
    let all: Vec<_> = w.members.iter().chain(&w.plain).copied().collect();
    wait_for(&mut w, &all, s.messages as usize);
    w.net.now() - t0
}

/// A member the group path never reaches gets everything by unicast at a
/// pace within a small factor of a plain peer's DATA once the join
/// confirmation has timed out (draft §"Presumed Reachable"): its MSACKs
/// grow the association's congestion window (RFC 9260 §7.2.1), and its
/// MDATA on the association is acknowledged as DATA is, at least every
/// second packet, since nothing comes on its group path (draft
/// §"Acknowledgement"). Measured: 87 ms after the confirmation timeout
/// against 33 ms for a plain peer; bound 4x. (Before: acknowledged only at
/// the non-acker's sparse Feedback pace, with a window stuck at its initial
/// size, the blind member took 745 ms of simulated time in all.)
#[test]
fn a_blind_member_catches_up_about_as_fast_as_a_plain_peer() {
    for seed in 1..=2 {
        let mut blind = scenario(seed, vec![0.0, 1.0]);
        blind.messages = 3000;
        blind.size = 1200;
        let mut plain = scenario(seed, vec![0.0]);
        plain.plain = 1;
        plain.messages = 3000;
        plain.size = 1200;
        let (b, p) = (completion_time(&blind), completion_time(&plain));
        let confirm = mcsctp_mcast::defaults::JOIN_CONFIRM_TIMEOUT.floor;
        println!("seed {seed}: blind member {b:?}, plain peer {p:?}");
        assert!(
            b <= confirm + 4 * p,
            "seed {seed}: blind member {b:?}, plain peer {p:?}"
        );
    }
}

#[test]
fn plain_peers_get_group_messages_as_data() {
    let mut s = scenario(3, vec![0.0, 0.05]);
    s.plain = 2;
    run(&s);
}

#[test]
#[ignore = "full tier: cargo test -p mcsctp-mcast --profile simtest --test group_sim -- --ignored"]
fn full_tier_200_seeds_8_members_up_to_30_percent_loss() {
    for seed in 1..=200 {
        let losses = (0..8).map(|i| f64::from(i) * 0.3 / 7.0).collect();
        let mut s = scenario(seed, losses);
        s.plain = 1;
        s.duplicate = 0.02;
        s.reorder = 0.02;
        run(&s);
    }
}

#[test]
fn the_mtsn_space_starts_100_below_the_wrap() {
    for seed in 1..=3 {
        let mut s = scenario(seed, vec![0.0, 0.05, 0.2]);
        s.initial_mtsn = u32::MAX - 99;
        let w = run(&s);
        let srv = match w.net.node(w.server) {
            Peer::Server(n) => n,
            _ => unreachable!(),
        };
        let high = srv.ep.extension().sender().highest_sent().0;
        assert!(high < 10_000, "the MTSNs wrapped (highest {high})");
    }
}

#[test]
fn sixty_four_members() {
    for seed in 1..=2 {
        let losses = (0..64).map(|i| f64::from(i % 8) * 0.02).collect();
        let mut s = scenario(seed, losses);
        s.messages = 100;
        run(&s);
    }
}

#[test]
fn a_member_whose_group_path_recovers_returns_to_multicast() {
    let mut s = scenario(5, vec![0.0, 1.0]);
    s.messages = 0;
    let mut w = build(&s);
    connect_all(&mut w);
    let ids = w.members.clone();
    send_range(&mut w, 0, 300, 1000);
    wait_for(&mut w, &ids, 300);
    assert_eq!(kind_of(&mut w, ids[1]).0, MemberKind::Fallback);
    // The group path heals; the member may return once its hold-down time
    // (Mcast.Return.MinTime, 200 ms after it fell back) has passed.
    w.net.clear_group_link(group_addr(), ids[1]);
    let _ = w.net.run_for(Duration::from_millis(250));
    // Rounds of traffic with time between them, so that group-path
    // MSYNCs measure the path (draft §"Measuring the Group Path").
    for round in 0..8u32 {
        send_range(&mut w, 300 + round * 200, 500 + round * 200, 1000);
        wait_for(&mut w, &ids, 500 + round as usize * 200);
        let _ = w.net.run_for(Duration::from_millis(10));
    }
    let (kind, fallbacks, returns) = kind_of(&mut w, ids[1]);
    assert!(
        returns >= 1 && fallbacks >= 1,
        "fallbacks {fallbacks} returns {returns}"
    );
    assert_eq!(kind, MemberKind::Multicast);
    for &id in &ids {
        assert_eq!(check_suffix(&w, id, 1000), 0);
        assert_eq!(got_of(&w.net, id).len(), 1900);
    }
}

#[test]
fn a_late_joiner_gets_a_complete_suffix_and_a_leaver_holds_nobody_back() {
    let s = scenario(6, vec![0.0, 0.05, 0.05]);
    let mut w = build(&s);
    // Member 2 joins late: only members 0 and 1 connect first.
    let late = w.members.pop().unwrap();
    connect_all(&mut w);
    let early = w.members.clone();
    send_range(&mut w, 0, 200, 800);
    let _ = w.net.run_for(Duration::from_millis(2));
    // The late member connects mid-stream.
    let now = w.net.now();
    member(&mut w.net, late)
        .ep
        .connect(now, server_addr(), 9899)
        .unwrap();
    w.members.push(late);
    let _ = w.net.run_until_cond(
        |net| {
            perform_joins(net, late);
            member(net, late).ep.extension().any_started()
        },
        Duration::from_secs(1),
    );
    send_range(&mut w, 200, 400, 800);
    wait_for(&mut w, &early, 400);
    let res = w.net.run_until_cond(
        |net| {
            got_of(net, late)
                .last()
                .is_some_and(|m| m.2[..4] == 399u32.to_be_bytes())
        },
        Duration::from_secs(10),
    );
    assert!(res.is_ok(), "the late member reaches the end: {res:?}");
    let first = check_suffix(&w, late, 800);
    assert!(first > 0 && first < 400, "a suffix from {first}");
    assert_eq!(got_of(&w.net, late).len() as u32, 400 - first);
    // Member 0 leaves (its association aborts): the others go on.
    let now = w.net.now();
    let h = member(&mut w.net, early[0])
        .ep
        .associations()
        .next()
        .unwrap();
    member(&mut w.net, early[0])
        .ep
        .abort(now, h, b"bye")
        .unwrap();
    let _ = w.net.run_for(Duration::from_millis(5));
    send_range(&mut w, 400, 500, 800);
    wait_for(&mut w, &[early[1]], 500);
    assert_eq!(check_suffix(&w, early[1], 800), 0);
    let srv = server(&mut w.net, w.server);
    assert_eq!(
        srv.ep.extension().members().count(),
        2,
        "the leaver is gone"
    );
}

#[test]
fn a_thousand_members_in_one_simulation() {
    let losses = (0..1000).map(|i| f64::from(i % 5) * 0.01).collect();
    let mut s = scenario(11, losses);
    s.messages = 0;
    let mut w = build(&s);
    connect_all(&mut w);
    // The members' reception is confirmed by group-path MSYNCs first
    // (draft §"Presumed Reachable"); then the traffic.
    let _ = w.net.run_for(Duration::from_millis(50));
    send_range(&mut w, 0, 20, 1000);
    let ids = w.members.clone();
    wait_for(&mut w, &ids, 20);
    for &id in &ids {
        assert_eq!(check_suffix(&w, id, 1000), 0);
    }
    let srv = match w.net.node(w.server) {
        Peer::Server(n) => n,
        _ => unreachable!(),
    };
    let g = srv.ep.extension();
    let mut kinds = std::collections::BTreeMap::new();
    let mut repairs = 0;
    for h in g.members() {
        if let Some(m) = g.member(h) {
            *kinds.entry(format!("{:?}", m.kind)).or_insert(0) += 1;
            repairs += m.repairs;
        }
    }
    eprintln!(
        "kinds {kinds:?} unicast repairs {repairs} group repairs {}",
        g.sender().group_repairs_sent
    );
    // Losses many members share are repaired once by multicast: the
    // server's bytes stay below 2 % of what fan-out would send.
    assert_eq!(kinds.get("Multicast"), Some(&1000), "{kinds:?}");
    assert!(
        (g.bytes_unicast + g.bytes_multicast) * 50 < 1000 * 20 * 1000,
        "unicast {} multicast {}",
        g.bytes_unicast,
        g.bytes_multicast
    );
    eprintln!(
        "1000 members, 20 messages of 1000 B: server sent {} B multicast, {} B unicast (fan-out: {} B)",
        g.bytes_multicast,
        g.bytes_unicast,
        1000 * 20 * 1000
    );
}

/// Cache invalidation: the server multicasts "inv k" and then replies to
/// every member and to a plain peer by unicast with "rep k". With
/// `barrier`, the reply goes behind a BARRIER (D=0; for the plain peer,
/// held until the peer acknowledged the invalidation); without, as a plain
/// message. Returns, over all receivers, how many replies were delivered
/// before their invalidation.
fn invalidation_run(seed: u64, barrier: bool) -> usize {
    let mut s = scenario(seed, vec![0.0, 0.1, 0.2, 0.3]);
    s.messages = 0;
    s.plain = 1;
    let mut w = build(&s);
    connect_all(&mut w);
    let _ = w.net.run_for(Duration::from_millis(20));
    let mut hs = handles(&mut w);
    hs.extend(plain_handles(&mut w));
    let rounds = 100u32;
    for k in 0..rounds {
        let now = w.net.now();
        let srv = server(&mut w.net, w.server);
        // Large enough that the plain peer's send buffer fills and its
        // invalidations queue at the server, while the short replies
        // still fit: a reply must not pass them.
        let mut inv = format!("inv {k} ").into_bytes();
        inv.resize(8000, b'.');
        let inv = Bytes::from(inv);
        srv.ep
            .extension_mut()
            .send(now, StreamId(0), Ppid(1), inv)
            .unwrap();
        for &h in &hs {
            let rep = Bytes::from(format!("rep {k}"));
            if barrier {
                srv.ep
                    .extension_mut()
                    .send_after_group(h, StreamId(1), Ppid(2), rep);
            } else {
                srv.ep
                    .send(now, h, StreamId(1), Ppid(2), rep, Default::default())
                    .unwrap();
            }
        }
        let _ = w.net.run_for(Duration::from_micros(200));
    }
    let ids: Vec<_> = w.members.iter().chain(&w.plain).copied().collect();
    let res = w.net.run_until_cond(
        |net| {
            ids.iter()
                .all(|&id| got_of(net, id).len() >= 2 * rounds as usize)
        },
        Duration::from_secs(30),
    );
    let mut violations = 0;
    for &id in &ids {
        let plain = w.plain.contains(&id);
        let got = got_of(&w.net, id);
        assert_eq!(got.len(), 2 * rounds as usize, "{id} ({res:?})");
        let mut seen_inv = std::collections::BTreeSet::new();
        for (origin, stream, p) in got {
            let text = std::str::from_utf8(p).unwrap();
            let mut words = text.split(' ');
            let kind = words.next().unwrap();
            let k: u32 = words.next().unwrap().parse().unwrap();
            match kind {
                "inv" => {
                    let origin_of_group = if plain {
                        Origin::Association
                    } else {
                        Origin::Extension
                    };
                    assert_eq!((*origin, *stream), (origin_of_group, 0));
                    seen_inv.insert(k);
                }
                _ => {
                    assert_eq!((*origin, *stream), (Origin::Association, 1));
                    if !seen_inv.contains(&k) {
                        violations += 1;
                    }
                }
            }
        }
    }
    violations
}

#[test]
fn barrier_no_reply_overtakes_its_invalidation() {
    for seed in 1..=4 {
        assert_eq!(invalidation_run(seed, true), 0, "seed {seed}");
    }
}

#[test]
fn without_the_barrier_replies_overtake_invalidations_under_loss() {
    // The same workload without BARRIER: the checker catches stale reads,
    // so the test above can fail.
    let violations: usize = (1..=4).map(|seed| invalidation_run(seed, false)).sum();
    assert!(violations > 0, "no reply overtook its invalidation");
}

#[test]
fn the_group_path_failing_for_everyone_for_two_seconds_under_load() {
    let mut s = scenario(8, vec![0.0, 0.01, 0.02, 0.0]);
    s.messages = 0;
    let mut w = build(&s);
    connect_all(&mut w);
    let _ = w.net.run_for(Duration::from_millis(20));
    let ids = w.members.clone();
    let healthy = LinkConfig {
        delay: Duration::from_micros(50),
        jitter: Duration::from_micros(10),
        mtu: 1500,
        ..LinkConfig::DEFAULT
    };
    let mut sent = 0u32;
    // Steady traffic: 50 messages every 10 ms; the group path fails for
    // every member from 100 ms to 2.1 s.
    for tick in 0..400u32 {
        if tick == 10 {
            for &id in &ids {
                w.net.set_group_link(
                    group_addr(),
                    id,
                    LinkConfig {
                        loss: 1.0,
                        ..healthy
                    },
                );
            }
        }
        if tick == 210 {
            for &id in &ids {
                w.net.set_group_link(group_addr(), id, healthy);
            }
        }
        send_range(&mut w, sent, sent + 50, 500);
        sent += 50;
        let _ = w.net.run_for(Duration::from_millis(10));
    }
    wait_for(&mut w, &ids, sent as usize);
    let mut returned = 0;
    for &id in &ids {
        assert_eq!(check_suffix(&w, id, 500), 0);
        let (kind, fallbacks, returns) = kind_of(&mut w, id);
        assert!(fallbacks >= 1, "{id} never fell back");
        if kind == MemberKind::Multicast && returns >= 1 {
            returned += 1;
        }
    }
    assert_eq!(returned, ids.len(), "every member returned to multicast");
}

#[test]
fn a_plain_peer_that_falls_too_far_behind_is_dropped_with_an_event() {
    let mut s = scenario(9, vec![0.0]);
    s.plain = 1;
    s.messages = 0;
    s.plain_backlog = 10;
    let mut w = build(&s);
    connect_all(&mut w);
    let ids = w.members.clone();
    // 200 messages at once: more than 10 wait for the plain peer's
    // association at some point.
    send_range(&mut w, 0, 200, 1000);
    wait_for(&mut w, &ids, 200);
    let srv = server(&mut w.net, w.server);
    let events: Vec<_> = std::iter::from_fn(|| srv.ep.extension_mut().poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, mcsctp_mcast::server::ext::GroupEvent::Removed(_))),
        "{events:?}"
    );
    assert_eq!(
        srv.ep.extension().members().count(),
        1,
        "only the member is left"
    );
}

/// The group congestion window (draft §"Group Congestion Window"): every
/// member's group path crosses a 100 Mbit/s bottleneck with a 32 KB
/// drop-tail queue, as behind the server's uplink, while the group window
/// (1 MiB) would let 30 times the queue go out at once. The acker's MSACKs
/// clock the window: the queue drops a small share of the group packets,
/// every member stays on multicast and gets everything, byte-identical.
#[test]
fn the_group_window_keeps_a_bottleneck_queue_from_overflowing() {
    let n = 3000;
    let mut s = scenario(5, vec![0.0; 6]);
    s.messages = n;
    let mut w = build(&s);
    for &id in &w.members {
        w.net.set_group_link(
            group_addr(),
            id,
            LinkConfig {
                delay: Duration::from_micros(50),
                mtu: 1500,
                bandwidth_bps: Some(100_000_000),
                queue_limit_bytes: 32 * 1024,
                ..LinkConfig::DEFAULT
            },
        );
    }
    connect_all(&mut w);
    send_range(&mut w, 0, n, 1000);
    let members = w.members.clone();
    wait_for(&mut w, &members, n as usize);
    for &id in &members {
        assert_eq!(check_suffix(&w, id, 1000), 0);
        let (kind, fallbacks, _) = kind_of(&mut w, id);
        assert_eq!((kind, fallbacks), (MemberKind::Multicast, 0), "{id}");
    }
    let st = w.net.link_stats(server_addr(), group_addr());
    let elapsed = w.net.elapsed();
    let g = server(&mut w.net, w.server).ep.extension();
    let cc = g.sender().congestion();
    let sent = g.sender().group_chunks_sent;
    let drop_share = st.dropped_queue as f64 / st.sent.max(1) as f64;
    println!(
        "bottleneck: {} group packets copied, {} dropped by the queue ({:.2} %), \
         {} MDATA chunks on the group path ({} repairs), cwnd_g {} B, {} window reductions, \
         {:.1} ms",
        st.sent,
        st.dropped_queue,
        drop_share * 100.0,
        sent,
        g.sender().group_repairs_sent,
        cc.cwnd,
        cc.events,
        elapsed.as_secs_f64() * 1e3
    );
    assert!(
        cc.events > 0,
        "the window met the bottleneck and backed off"
    );
    assert!(drop_share < 0.05, "queue drops {:.2} %", drop_share * 100.0);
}

/// Completion time of the clean members (simulated), and whether the
/// member with group-path loss `lossy` (if any) ended in fallback: a
/// wide-area-like path (1 ms one way) and a 100 Mbit/s group path, where
/// the group window, not the link, sets the rate when the acker is lossy.
fn rate_with_a_lossy_member(seed: u64, lossy: Option<f64>) -> (Duration, Option<MemberKind>) {
    let n = 2000;
    let clean = 5;
    let mut losses = vec![0.0; clean];
    losses.extend(lossy);
    let mut s = scenario(seed, losses);
    s.messages = n;
    s.duplicate = 0.0;
    s.reorder = 0.0;
    let mut w = build(&s);
    let wan = LinkConfig {
        delay: Duration::from_millis(1),
        mtu: 1500,
        ..LinkConfig::DEFAULT
    };
    w.net.set_default_link(wan);
    for (i, &id) in w.members.iter().enumerate() {
        w.net.set_group_link(
            group_addr(),
            id,
            LinkConfig {
                loss: s.losses[i],
                bandwidth_bps: Some(100_000_000),
                ..wan
            },
        );
    }
    connect_all(&mut w);
    let start = w.net.now();
    send_range(&mut w, 0, n, 1000);
    let members = w.members.clone();
    wait_for(&mut w, &members[..clean], n as usize);
    let took = w.net.now() - start;
    wait_for(&mut w, &members, n as usize);
    for &id in &members {
        assert_eq!(check_suffix(&w, id, 1000), 0);
    }
    let kind = lossy.map(|_| kind_of(&mut w, members[clean]).0);
    (took, kind)
}

/// Draft §"Moving to Fallback", the slow-member rule: a member whose
/// predicted throughput stays far below the group's median (here 4 %
/// group-path loss, under the 10 % fallback threshold, so only this rule
/// catches it) would, as the acker, clock the whole group at its own rate.
/// The server sees no difference between a member that loses 8 % and one
/// that lies about it (the measurement rests on the member's counters),
/// so this is also the lying acker of the issue. It is moved to fallback,
/// still gets everything by unicast, and the others keep their rate.
#[test]
fn a_slow_or_lying_acker_cannot_set_the_group_rate() {
    for seed in 1..=3 {
        let (alone, _) = rate_with_a_lossy_member(seed, None);
        let (with, kind) = rate_with_a_lossy_member(seed, Some(0.04));
        println!(
            "seed {seed}: clean members done in {alone:?} alone, {with:?} with the slow member ({kind:?})"
        );
        assert_eq!(kind, Some(MemberKind::Fallback), "seed {seed}");
        assert!(
            with.as_secs_f64() < alone.as_secs_f64() * 1.5,
            "seed {seed}: {with:?} against {alone:?}"
        );
    }
}

/// Draft §"Abandoning Group Messages": messages with an 8 ms lifetime, sent
/// 10 per millisecond for 150 ms, to members with 0 %, 5 % and 20 %
/// group-path loss and one the group path never reaches whose association
/// has a 2 ms one-way delay: what cannot reach it in time is abandoned,
/// and the members skip it with I-FORWARD-TSN semantics. Every member delivers an
/// increasing run of intact messages, each at most once, and the last
/// message (no lifetime) everywhere: nothing waits for a skipped message.
#[test]
fn expired_messages_are_skipped_and_nothing_waits_for_them() {
    use mcsctp_core::tx::send_queue::OutgoingMessage;
    for seed in 1..=3 {
        let mut s = scenario(seed, vec![0.0, 0.05, 0.2, 1.0]);
        s.duplicate = 0.0;
        s.reorder = 0.0;
        let mut w = build(&s);
        let far = w.members[3];
        let slow = LinkConfig {
            delay: Duration::from_millis(2),
            mtu: 1500,
            ..LinkConfig::DEFAULT
        };
        w.net.set_link(server_addr(), far, slow);
        w.net.set_link(far, server_addr(), slow);
        connect_all(&mut w);
        let total = 1500u32;
        for burst in 0..total / 10 {
            let now = w.net.now();
            for i in burst * 10..burst * 10 + 10 {
                let mut m = OutgoingMessage::new(StreamId(0), Ppid(51), payload(i, 1000));
                if i + 1 < total {
                    m.lifetime = Some(Duration::from_millis(8));
                }
                server(&mut w.net, w.server)
                    .ep
                    .extension_mut()
                    .send_message(now, m)
                    .unwrap();
            }
            w.net.run_for(Duration::from_millis(1)).unwrap();
        }
        let members = w.members.clone();
        let last = payload(total - 1, 1000);
        let r = w.net.run_until_cond(
            |net| {
                members
                    .iter()
                    .all(|&id| got_of(net, id).last().is_some_and(|g| g.2 == last))
            },
            Duration::from_secs(10),
        );
        if r.is_err() {
            for &id in &members {
                let got = got_of(&w.net, id);
                let l = got
                    .last()
                    .map(|g| u32::from_be_bytes(g.2[..4].try_into().unwrap()));
                let k = kind_of(&mut w, id);
                eprintln!(
                    "{id}: {} delivered, last {l:?}, {k:?}",
                    got_of(&w.net, id).len()
                );
            }
        }
        r.expect("the last message reaches every member");
        let abandoned = server(&mut w.net, w.server)
            .ep
            .extension()
            .sender()
            .messages_abandoned;
        let mut counts = Vec::new();
        for &id in &members {
            let got = got_of(&w.net, id);
            let mut prev = None;
            for (_, _, p) in got {
                let i = u32::from_be_bytes(p[..4].try_into().unwrap());
                assert_eq!(*p, payload(i, 1000), "seed {seed} {id}: intact");
                assert!(
                    prev.is_none_or(|q| i > q),
                    "seed {seed} {id}: in order, once"
                );
                prev = Some(i);
            }
            counts.push(got.len());
        }
        println!("seed {seed}: {abandoned} messages abandoned; delivered {counts:?} of {total}");
        assert!(
            abandoned > 0,
            "seed {seed}: the far member forced abandonment"
        );
        assert!(
            counts[..3].iter().all(|&c| c == total as usize),
            "seed {seed}: the members the group path reaches miss nothing"
        );
        assert!(
            counts[3] < total as usize,
            "seed {seed}: the far member skipped some"
        );
        assert!(
            counts[3] > total as usize / 10,
            "seed {seed}: and got many in fallback"
        );
    }
}

/// Draft §"Control State" step 3: a member that stops answering (every
/// path to it cut) while its control state changes (a message it lacks is
/// abandoned, so a Forward must reach it) gets the control state again,
/// backing off, and after Assoc.Max.Retrans unanswered retransmissions the
/// server aborts its association; the others are not held.
#[test]
fn a_member_that_never_echoes_its_control_state_is_aborted() {
    use mcsctp_core::tx::send_queue::OutgoingMessage;
    let mut s = scenario(4, vec![0.0, 0.0, 0.0]);
    s.messages = 0;
    let mut w = build(&s);
    connect_all(&mut w);
    let gone = w.members[2];
    w.net.set_link(w.server, gone, LinkConfig::DEFAULT.cut());
    w.net.set_link(gone, w.server, LinkConfig::DEFAULT.cut());
    w.net
        .set_group_link(group_addr(), gone, LinkConfig::DEFAULT.cut());
    let now = w.net.now();
    for i in 0..20 {
        let mut m = OutgoingMessage::new(StreamId(0), Ppid(51), payload(i, 1000));
        m.lifetime = Some(Duration::from_millis(5));
        server(&mut w.net, w.server)
            .ep
            .extension_mut()
            .send_message(now, m)
            .unwrap();
    }
    let others = w.members[..2].to_vec();
    wait_for(&mut w, &others, 20);
    let start = w.net.now();
    let sid = w.server;
    w.net
        .run_until_cond(
            |net| server(net, sid).ep.association_count() == 2,
            Duration::from_secs(5),
        )
        .expect("the server gives up on the member");
    let took = w.net.now() - start;
    // Ten retransmissions from RTO_k, doubling up to Mcast.RTO.Max (200 ms):
    // well under two seconds. (With the bound lifted, nothing else closes
    // the association within the 5 s this waits: core's heartbeats come
    // every 30 s and the member is owed no data.)
    assert!(took < Duration::from_secs(2), "{took:?}");
    println!("the silent member's association was aborted after {took:?}");
    let g = server(&mut w.net, w.server).ep.extension();
    assert_eq!(g.members().count(), 2, "the member left the group");
}

/// Per-member group-path loss spread evenly over 0–30 %, as the N = 8 full
/// tier has it.
fn spread_losses(n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![0.3];
    }
    (0..n).map(|i| i as f64 * 0.3 / (n - 1) as f64).collect()
}

/// The N = 1 scenario of seed `seed`: the member's loss cycles through
/// 0–30 % over the seeds, a plain peer alongside, 2 % duplication and
/// reordering on the group path.
fn one_member(seed: u64) -> mcsctp_testkit::group::Scenario {
    let loss = 0.3 * ((seed - 1) % 7) as f64 / 6.0;
    let mut s = scenario(seed, vec![loss]);
    s.plain = 1;
    s.duplicate = 0.02;
    s.reorder = 0.02;
    s
}

/// The N = 64 scenario of seed `seed`: losses spread over 0–30 %, a plain
/// peer alongside, 2 % duplication and reordering on the group path.
fn sixty_four(seed: u64) -> mcsctp_testkit::group::Scenario {
    let mut s = scenario(seed, spread_losses(64));
    s.plain = 1;
    s.duplicate = 0.02;
    s.reorder = 0.02;
    s
}

#[test]
fn one_member_up_to_30_percent_loss() {
    for seed in 1..=7 {
        run(&one_member(seed));
    }
}

#[test]
#[ignore = "full tier: cargo test -p mcsctp-mcast --profile simtest --test group_sim -- --ignored"]
fn full_tier_200_seeds_1_member_up_to_30_percent_loss() {
    for seed in 1..=200 {
        run(&one_member(seed));
    }
}

#[test]
fn sixty_four_members_up_to_30_percent_loss() {
    for seed in 1..=2 {
        run(&sixty_four(seed));
    }
}

#[test]
#[ignore = "full tier: cargo test -p mcsctp-mcast --profile simtest --test group_sim -- --ignored"]
fn full_tier_200_seeds_64_members_up_to_30_percent_loss() {
    for seed in 1..=200 {
        run(&sixty_four(seed));
    }
}

/// A member the group path never reaches, whose association also loses
/// packets both ways: in fallback everything comes by unicast MDATA, and
/// lost unicast MDATA (and lost MSACKs) must be sent again until it
/// arrives (draft §"Loss Detection for Unicast MDATA"); nothing stalls.
#[test]
fn a_blind_member_behind_a_lossy_association_gets_everything() {
    for seed in 1..=4 {
        let mut s = scenario(seed, vec![0.0, 1.0]);
        s.messages = 400;
        let mut w = build(&s);
        let blind = w.members[1];
        let link = LinkConfig {
            delay: Duration::from_micros(50),
            jitter: Duration::from_micros(10),
            mtu: 1500,
            loss: 0.05,
            ..LinkConfig::DEFAULT
        };
        w.net.set_link_both(blind, w.server, link);
        connect_all(&mut w);
        send_range(&mut w, 0, s.messages, s.size);
        let members = w.members.clone();
        wait_for(&mut w, &members, s.messages as usize);
        for &id in &members {
            assert_eq!(check_suffix(&w, id, s.size), 0, "seed {seed}");
        }
        let (kind, _, _) = kind_of(&mut w, blind);
        assert_eq!(kind, MemberKind::Fallback, "seed {seed}");
    }
}

/// Draft §"Member Leave, Removal, Abort, Restart and Failure", Leave: a
/// member that leaves the group but keeps its association sends MREACH
/// RESIGN; the server ends the membership (End of Membership, reason 2,
/// resignation acknowledged) and reports the member as left; the member
/// delivers no group message after it left, its association stays up,
/// and the others go on.
#[test]
fn a_member_that_leaves_keeps_its_association_and_gets_no_more_group_messages() {
    use mcsctp_mcast::member::ext::MemberEvent;
    use mcsctp_mcast::server::ext::GroupEvent;
    for seed in 1..=3 {
        let s = scenario(seed, vec![0.0, 0.05, 0.0]);
        let mut w = build(&s);
        connect_all(&mut w);
        send_range(&mut w, 0, 100, 1000);
        let members = w.members.clone();
        wait_for(&mut w, &members, 100);
        let leaver = members[2];
        let h = member(&mut w.net, leaver).ep.associations().next().unwrap();
        assert!(member(&mut w.net, leaver).ep.extension_mut().leave(h));
        assert!(!member(&mut w.net, leaver).ep.extension().is_member(h));
        assert!(
            !member(&mut w.net, leaver).ep.extension_mut().leave(h),
            "once"
        );
        let _ = w.net.run_for(Duration::from_millis(20));
        send_range(&mut w, 100, 200, 1000);
        wait_for(&mut w, &members[..2], 200);
        let _ = w.net.run_for(Duration::from_millis(20));
        assert_eq!(got_of(&w.net, leaver).len(), 100, "seed {seed}");
        let ended: Vec<_> =
            std::iter::from_fn(|| member(&mut w.net, leaver).ep.extension_mut().poll_event())
                .filter(|e| matches!(e, MemberEvent::Ended(..)))
                .collect();
        assert_eq!(ended, vec![MemberEvent::Ended(h, 2)], "seed {seed}");
        assert!(
            member(&mut w.net, leaver).ep.remote_address(h).is_some(),
            "the association stays"
        );
        let srv = server(&mut w.net, w.server);
        let left = std::iter::from_fn(|| srv.ep.extension_mut().poll_event())
            .filter(|e| matches!(e, GroupEvent::Left(_)))
            .count();
        assert_eq!(left, 1, "seed {seed}");
        assert_eq!(srv.ep.extension().members().count(), 2, "seed {seed}");
    }
}
