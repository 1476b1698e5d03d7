//! The server endpoint's memory per member (issue 10 item 6, "Scale: 1 000
//! members in one simulation, server memory per member measured").
//!
//! A counting global allocator ([`mcsctp_testkit::alloc`]) attributes to
//! the server every block allocated inside a call into its endpoint, live
//! until freed; its counters are per thread, so the two tests here, which
//! run in parallel threads, do not disturb each other. Payloads the test
//! queues are built inside the server's scope too, so the group's buffers
//! count. Not counted: datagrams the server receives (the network built
//! them), the allocator's own overhead.
//!
//! ```text
//! cargo test -p mcsctp-mcast --profile simtest --test server_memory -- --nocapture
//! ```
//!
//! Figures in BENCHMARKS.md ("Server memory per member").

use std::time::Duration;

use mcsctp_core::endpoint::Endpoint;
use mcsctp_core::rx::reassembly::Origin;
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_mcast::server::ext::GroupServer;
use mcsctp_mcast::server::group::MemberKind;
use mcsctp_sim::NodeId;
use mcsctp_testkit::alloc::{self, Counting};
use mcsctp_testkit::compare::all_have;
use mcsctp_testkit::group::{
    Inbox, Peer, World, build, endpoint_config, member, payload, perform_joins, plain, scenario,
    server, server_addr, server_config,
};

#[global_allocator]
static ALLOC: Counting = Counting;

const MEMBERS: usize = 1000;
const BATCH: usize = 100;
const MESSAGES: u32 = 300;
const SIZE: usize = 1000;

/// Octets of live server heap per member, at most, with the members joined
/// and the group idle (measured on 17ec6b6: 4 693).
const PER_MEMBER_JOINED: i64 = 6 * 1024;
/// The same after traffic, once the structures that grew keep their
/// capacity (measured: 6 390 after two rounds).
const PER_MEMBER_AFTER_TRAFFIC: i64 = 8 * 1024;
/// What sending adds per member beyond the queued messages, at most
/// (measured: 1 269 and 343 in the two rounds).
const PER_MEMBER_WHILE_SENDING: i64 = 2 * 1024;

/// The server's live heap: connects `ids` (a batch) and waits until the
/// server has `total` members, all on multicast (or, plain, `total`
/// associations), then 50 ms more.
fn join(w: &mut World, ids: &[NodeId], total: usize, group: bool) {
    let now = w.net.now();
    let sid = w.server;
    for &id in ids {
        match w.net.node_mut(id) {
            Peer::Member(n) => n.ep.connect(now, server_addr(), 9899).unwrap(),
            Peer::Plain(n) => n.ep.connect(now, server_addr(), 9899).unwrap(),
            Peer::Server(_) => unreachable!(),
        };
    }
    w.net
        .run_until_cond(
            |net| {
                if !group {
                    return plain(net, sid).ep.association_count() == total;
                }
                for &id in ids {
                    perform_joins(net, id);
                }
                let g = server(net, sid).ep.extension();
                g.members().count() == total
                    && g.members()
                        .all(|h| g.member(h).is_some_and(|m| m.kind == MemberKind::Multicast))
            },
            Duration::from_secs(2),
        )
        .expect("the batch joins (and is confirmed)");
    w.net.run_for(Duration::from_millis(50)).unwrap();
}

/// Joins `ids` a batch at a time; the server's live heap (over `base`)
/// after each batch, by receivers joined.
fn join_all(w: &mut World, ids: &[NodeId], group: bool, base: i64) -> Vec<(usize, i64)> {
    let mut joined = vec![(0, alloc::live() - base)];
    for (b, batch) in ids.chunks(BATCH).enumerate() {
        let total = b * BATCH + batch.len();
        join(w, batch, total, group);
        joined.push((total, alloc::live() - base));
    }
    joined
}

#[test]
fn group_server_memory_per_member() {
    // 1 % loss on every member's group path (and 1 % duplication and
    // reordering): repairs, gap reports and the members' unicast queues
    // are exercised.
    let s = scenario(21, vec![0.01; MEMBERS]);
    let mut w = build(&s);
    let sid = w.server;
    // The server endpoint, made again inside a scope so that everything it
    // allocates counts, from its creation on.
    let now = w.net.now();
    let base = alloc::live();
    let ep = alloc::scoped(|| {
        Endpoint::with_extension(
            endpoint_config(s.seed),
            now,
            GroupServer::new(server_config(&s)),
        )
        .unwrap()
    });
    let srv = server(&mut w.net, sid);
    srv.ep = ep;
    srv.counted = true;
    for &id in &w.members {
        member(&mut w.net, id).inbox = Some(Inbox::new(SIZE, Origin::Extension, false));
    }
    let live = || alloc::live() - base;
    let ids = w.members.clone();
    let joined = join_all(&mut w, &ids, true, base);
    let idle = live();
    let per_member = (idle - joined[0].1) / MEMBERS as i64;
    println!("group server, live heap by members joined (octets): {joined:?}");
    println!("per member, joined and idle: {per_member} B");

    // Two rounds of MESSAGES messages queued at once.
    let mut before = idle;
    for round in 0..2u32 {
        let now = w.net.now();
        let first = round * MESSAGES;
        alloc::reset_peak();
        let srv = server(&mut w.net, sid);
        alloc::scoped(|| {
            for i in first..first + MESSAGES {
                srv.ep
                    .extension_mut()
                    .send(now, StreamId(0), Ppid(51), payload(i, SIZE))
                    .unwrap();
            }
        });
        let queued = live() - before;
        all_have(&mut w, &ids, (first + MESSAGES) as usize)
            .expect("every member gets every message");
        let peak = alloc::peak() - base;
        w.net.run_for(Duration::from_millis(100)).unwrap();
        let srv = server(&mut w.net, sid);
        assert!(srv.ep.extension().is_idle(), "everything acknowledged");
        // The application reads its group events (joins, state changes).
        alloc::scoped(|| while srv.ep.extension_mut().poll_event().is_some() {});
        let after = live();
        let transient = (peak - before - queued) / MEMBERS as i64;
        println!(
            "round {round}: {MESSAGES} messages of {SIZE} B queued: +{queued} B; peak {peak} B \
             (+{} over the idle group: the queued messages and {transient} B per member); \
             idle again: {after} B ({} B per member)",
            peak - before,
            after / MEMBERS as i64
        );
        assert!(
            transient <= PER_MEMBER_WHILE_SENDING,
            "round {round}: {transient} B per member while sending"
        );
        assert!(
            after <= PER_MEMBER_AFTER_TRAFFIC * MEMBERS as i64,
            "round {round}: {after} B after the traffic"
        );
        before = after;
    }
    assert!(
        per_member <= PER_MEMBER_JOINED,
        "{per_member} B per joined member"
    );
    assert_eq!(alloc::foreign_frees(), 0, "one thread");
}

/// The same measurement for a plain server endpoint with as many plain
/// SCTP associations: what the association itself costs, beside which the
/// group's own per-member state is the difference.
#[test]
fn plain_server_memory_per_association() {
    let mut s = scenario(22, Vec::new());
    s.plain = MEMBERS;
    let mut w = build(&s);
    // A plain server endpoint in the server's place (a `Peer::Plain` node
    // accepting associations), made inside a scope.
    let now = w.net.now();
    let base = alloc::live();
    let ep = alloc::scoped(|| Endpoint::new(endpoint_config(s.seed), now).unwrap());
    let mut node = mcsctp_testkit::group::EpNode::new(ep, server_addr());
    node.counted = true;
    *w.net.node_mut(w.server) = Peer::Plain(node);
    let live = || alloc::live() - base;
    let ids = w.plain.clone();
    let joined = join_all(&mut w, &ids, false, base);
    let per_association = (live() - joined[0].1) / MEMBERS as i64;
    println!("plain server, live heap by associations (octets): {joined:?}");
    println!("per association, idle: {per_association} B");
    assert!(per_association <= PER_MEMBER_JOINED);
}
