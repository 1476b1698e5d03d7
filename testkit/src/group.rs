//! A group server, members and plain SCTP peers in one simulated network.
//!
//! [`build`] makes a [`World`] from a [`Scenario`]: a server endpoint with a
//! [`GroupServer`], one endpoint with a [`GroupMember`] per entry of
//! `losses` (that member's group-path loss), and `plain` endpoints without
//! the extension. [`connect_all`] connects them all, performing the
//! members' IP-level joins as a runtime would; [`run`] sends the scenario's
//! messages and checks that every receiver got every one exactly once, in
//! order, byte-identical to [`payload`], which derives each message from its
//! number, independently of the implementation.
//!
//! A node is an [`EpNode`] (an endpoint, its address, what it received)
//! inside a [`Peer`]. By default a node keeps every delivery in
//! [`EpNode::got`]; with an [`Inbox`] it checks each delivery against
//! [`payload`] as it arrives and keeps only a count (large runs); with a
//! [`Rig`] (the server of a measurement, see [`crate::rig`]) it also runs
//! an application, an egress queue, counters and a recording of its calls.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::Endpoint;
use mcsctp_core::event::AssociationHandle;
use mcsctp_core::extension::{Extension, NoExtension};
use mcsctp_core::rx::reassembly::{DeliveryKind, Origin};
use mcsctp_core::serial::{Ppid, StreamId, VerificationTag};
use mcsctp_mcast::member::ext::{GroupMember, GroupMemberConfig};
use mcsctp_mcast::server::ext::{GroupServer, GroupServerConfig};
use mcsctp_mcast::server::group::MemberKind;
use mcsctp_sim::{Datagram, LinkConfig, Network, Node, NodeId};

use crate::alloc;
use crate::rig::{Call, GroupSend, Rig};

/// What a node has received: (origin, stream, payload).
pub type Got = Vec<(Origin, u16, Bytes)>;

/// Deliveries checked as they arrive and counted rather than kept: the
/// `count`-th message must be [`payload`]`(count, size)` on stream 0 with
/// `origin`, or the run panics.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Size of every message.
    pub size: usize,
    /// How every message must be marked.
    pub origin: Origin,
    /// Messages delivered so far.
    pub count: usize,
    /// Whether to keep each delivery's time in `arrivals`.
    pub timed: bool,
    /// When message `i` was delivered (with `timed`).
    pub arrivals: Vec<Instant>,
}

impl Inbox {
    /// An inbox for messages of `size` octets marked `origin`.
    pub fn new(size: usize, origin: Origin, timed: bool) -> Self {
        Self {
            size,
            origin,
            count: 0,
            timed,
            arrivals: Vec::new(),
        }
    }

    fn check(&mut self, now: Instant, origin: Origin, stream: u16, p: &Bytes) {
        let i = self.count as u32;
        assert_eq!(origin, self.origin, "message {i}: marked {origin:?}");
        assert_eq!(stream, 0, "message {i}: stream {stream}");
        assert!(
            p.len() == self.size && *p == payload(i, self.size),
            "message {i}: {} octets, not message {i} of {} octets (first four {:?})",
            p.len(),
            self.size,
            p.get(..4)
        );
        self.count += 1;
        if self.timed {
            self.arrivals.push(now);
        }
    }
}

/// An endpoint in the network.
pub struct EpNode<X: Extension> {
    /// The endpoint.
    pub ep: Endpoint<X>,
    /// Its address.
    pub addr: SocketAddr,
    /// The buffer `poll_transmit` writes into.
    pub buf: Vec<u8>,
    /// Every delivery, in order (without an [`Inbox`]).
    pub got: Got,
    /// With an inbox, deliveries are checked and counted, not kept.
    pub inbox: Option<Inbox>,
    /// A measurement's application, egress, counters and recording.
    pub rig: Option<Box<Rig>>,
    /// Calls into the endpoint run inside [`alloc::Scope`], so that a
    /// counting allocator attributes what they allocate to this node.
    pub counted: bool,
}

impl<X: Extension + GroupSend> EpNode<X> {
    /// A node that keeps every delivery.
    pub fn new(ep: Endpoint<X>, addr: SocketAddr) -> Self {
        Self {
            ep,
            addr,
            buf: Vec::new(),
            got: Vec::new(),
            inbox: None,
            rig: None,
            counted: false,
        }
    }

    /// Messages delivered so far.
    pub fn delivered(&self) -> usize {
        self.inbox.as_ref().map_or(self.got.len(), |i| i.count)
    }

    fn scope(&self) -> Option<alloc::Scope> {
        self.counted.then(alloc::Scope::enter)
    }

    fn drain(&mut self, now: Instant) {
        if let Some(rig) = &mut self.rig {
            rig.record(now, Call::Drain);
        }
        loop {
            let r = {
                let _s = self.scope();
                self.ep.poll_recv()
            };
            let Some(r) = r else { break };
            assert_eq!(
                r.delivery.kind,
                DeliveryKind::Message,
                "whole messages only"
            );
            match &mut self.inbox {
                None => {
                    self.got
                        .push((r.delivery.origin, r.delivery.stream.0, r.delivery.payload));
                }
                Some(inbox) => inbox.check(
                    now,
                    r.delivery.origin,
                    r.delivery.stream.0,
                    &r.delivery.payload,
                ),
            }
        }
        let _s = self.scope();
        while self.ep.poll_event().is_some() {}
    }

    fn on_datagram(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: Bytes) {
        if let Some(rig) = &mut self.rig {
            rig.received(now, local, remote, &data);
        }
        let _s = self.scope();
        self.ep.handle_datagram(now, local, remote, data);
    }

    fn on_poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.drain(now);
        let counted = self.counted;
        match &mut self.rig {
            None => {
                self.buf.clear();
                let t = {
                    let _s = counted.then(alloc::Scope::enter);
                    self.ep.poll_transmit(now, &mut self.buf)?
                };
                Some(Datagram::new(
                    self.addr,
                    t.destination,
                    Bytes::copy_from_slice(&self.buf[..t.len]),
                ))
            }
            Some(rig) => rig.poll_transmit(now, &mut self.ep, self.addr, &mut self.buf),
        }
    }

    fn on_poll_timeout(&mut self) -> Option<Instant> {
        let t = {
            let _s = self.scope();
            self.ep.poll_timeout()
        };
        match &mut self.rig {
            None => t,
            Some(rig) => rig.poll_timeout(t),
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        if let Some(rig) = &mut self.rig {
            if rig.endpoint_due(now) {
                rig.record(now, Call::Timeout);
            } else {
                return;
            }
        }
        let _s = self.scope();
        self.ep.handle_timeout(now);
    }
}

/// A node of a group simulation.
#[allow(clippy::large_enum_variant)] // a handful of nodes per test
pub enum Peer {
    /// The server, with the group.
    Server(EpNode<GroupServer>),
    /// A member.
    Member(EpNode<GroupMember>),
    /// An endpoint without the extension (a plain peer, or a fan-out
    /// server or client).
    Plain(EpNode<NoExtension>),
}

macro_rules! each {
    ($self:expr, $n:ident => $e:expr) => {
        match $self {
            Peer::Server($n) => $e,
            Peer::Member($n) => $e,
            Peer::Plain($n) => $e,
        }
    };
}

impl Peer {
    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        each!(self, n => n.addr)
    }

    /// Messages the node delivered so far.
    pub fn delivered(&self) -> usize {
        each!(self, n => n.delivered())
    }

    /// The node's inbox, if it has one.
    pub fn inbox(&self) -> Option<&Inbox> {
        each!(self, n => n.inbox.as_ref())
    }

    /// The node's rig, if it has one.
    pub fn rig(&self) -> Option<&Rig> {
        each!(self, n => n.rig.as_deref())
    }

    /// The node's rig, if it has one.
    pub fn rig_mut(&mut self) -> Option<&mut Rig> {
        each!(self, n => n.rig.as_deref_mut())
    }
}

impl Node for Peer {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        each!(self, n => n.on_datagram(now, local, remote, data));
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        each!(self, n => n.on_poll_transmit(now))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        each!(self, n => n.on_poll_timeout())
    }

    fn handle_timeout(&mut self, now: Instant) {
        each!(self, n => n.on_timeout(now));
    }
}

/// The server's address.
pub fn server_addr() -> SocketAddr {
    "10.0.0.1:9899".parse().unwrap()
}

/// The group's address.
pub fn group_addr() -> SocketAddr {
    "239.1.2.3:9907".parse().unwrap()
}

/// The address of the `i`-th member or plain peer (0-based).
pub fn member_addr(i: usize) -> SocketAddr {
    let n = i + 1;
    format!("10.0.{}.{}:9899", 1 + n / 250, n % 250 + 1)
        .parse()
        .unwrap()
}

/// Message `i`'s payload: its number and a pattern from it, so a receiver
/// checks content and order without asking the sender.
pub fn payload(i: u32, size: usize) -> Bytes {
    let mut v = Vec::with_capacity(size.max(4));
    v.extend_from_slice(&i.to_be_bytes());
    let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < size.max(4) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v.into()
}

/// An endpoint configuration with data-centre timers (draft §"Round-Trip
/// Time and Timers"): RTO.Min 1 ms, RTO.Initial 10 ms, RTO.Max 200 ms,
/// delayed SACK 200 µs.
pub fn endpoint_config(seed: u64) -> EndpointConfig {
    let mut c = EndpointConfig::with_seed(seed);
    c.association.rto_min = Duration::from_millis(1);
    c.association.rto_initial = Duration::from_millis(10);
    c.association.rto_max = Duration::from_millis(200);
    c.association.delayed_ack = Duration::from_micros(200);
    c
}

/// One scenario.
#[derive(Clone)]
pub struct Scenario {
    /// The network's seed (and the endpoints', derived from it).
    pub seed: u64,
    /// Group-path loss per member.
    pub losses: Vec<f64>,
    /// Peers without the extension.
    pub plain: usize,
    /// Messages [`run`] sends.
    pub messages: u32,
    /// Their size.
    pub size: usize,
    /// Group-path duplication for everyone.
    pub duplicate: f64,
    /// Group-path reordering for everyone.
    pub reorder: f64,
    /// The group's first MTSN.
    pub initial_mtsn: u32,
    /// Group messages a plain peer may have queued.
    pub plain_backlog: usize,
    /// Whether members and plain peers offer I-DATA (RFC 8260); without,
    /// their associations use DATA.
    pub interleaving: bool,
}

/// A scenario with 300 messages of 1000 octets, 1 % duplication and
/// reordering on the group path, MTSNs from 0, no plain peer.
pub fn scenario(seed: u64, losses: Vec<f64>) -> Scenario {
    Scenario {
        seed,
        losses,
        plain: 0,
        messages: 300,
        size: 1000,
        duplicate: 0.01,
        reorder: 0.01,
        initial_mtsn: 0,
        plain_backlog: 4096,
        interleaving: true,
    }
}

/// The network and who is who in it.
pub struct World {
    /// The network.
    pub net: Network<Peer>,
    /// The server node.
    pub server: NodeId,
    /// The member nodes.
    pub members: Vec<NodeId>,
    /// The plain peers.
    pub plain: Vec<NodeId>,
}

/// The group's server configuration as [`build`] makes it.
pub fn server_config(s: &Scenario) -> GroupServerConfig {
    let mut cfg = GroupServerConfig::new(
        group_addr(),
        server_addr().ip(),
        VerificationTag(0x6A1F_0C33),
    );
    cfg.sender.initial_mtsn = mcsctp_mcast::Mtsn(s.initial_mtsn);
    cfg.plain_backlog = s.plain_backlog;
    cfg
}

/// The `i`-th member's endpoint as [`build`] makes it.
pub fn member_endpoint(seed: u64, i: usize, now: Instant) -> Endpoint<GroupMember> {
    member_endpoint_with(seed, i, now, true)
}

fn member_endpoint_with(
    seed: u64,
    i: usize,
    now: Instant,
    interleaving: bool,
) -> Endpoint<GroupMember> {
    let mut c = endpoint_config(seed * 1000 + i as u64 + 1);
    c.accept_incoming = false;
    c.association.interleaving = interleaving;
    let ext = GroupMember::new(GroupMemberConfig {
        seed: seed * 7919 + i as u64,
        ..GroupMemberConfig::default()
    });
    Endpoint::with_extension(c, now, ext).unwrap()
}

/// The `i`-th plain peer's endpoint (counting members first) as [`build`]
/// makes it.
pub fn plain_endpoint(seed: u64, i: usize, now: Instant) -> Endpoint<NoExtension> {
    plain_endpoint_with(seed, i, now, true)
}

fn plain_endpoint_with(
    seed: u64,
    i: usize,
    now: Instant,
    interleaving: bool,
) -> Endpoint<NoExtension> {
    let mut c = endpoint_config(seed * 1000 + i as u64 + 1);
    c.accept_incoming = false;
    c.association.interleaving = interleaving;
    Endpoint::new(c, now).unwrap()
}

/// The scenario's network: 50 µs ± 10 µs links, the server, then the
/// members (each with its group-path loss, the scenario's duplication and
/// reordering), then the plain peers. Nothing is connected yet.
pub fn build(s: &Scenario) -> World {
    let mut net = Network::new(s.seed);
    net.set_default_link(LinkConfig {
        delay: Duration::from_micros(50),
        jitter: Duration::from_micros(10),
        mtu: 1500,
        ..LinkConfig::DEFAULT
    });
    let now = net.now();
    let server_ep = Endpoint::with_extension(
        endpoint_config(s.seed),
        now,
        GroupServer::new(server_config(s)),
    )
    .unwrap();
    let server = net
        .add_node(
            Peer::Server(EpNode::new(server_ep, server_addr())),
            &[server_addr()],
        )
        .unwrap();
    let mut members = Vec::new();
    for (i, &loss) in s.losses.iter().enumerate() {
        let ep = member_endpoint_with(s.seed, i, now, s.interleaving);
        let id = net
            .add_node(
                Peer::Member(EpNode::new(ep, member_addr(i))),
                &[member_addr(i)],
            )
            .unwrap();
        net.set_group_link(
            group_addr(),
            id,
            LinkConfig {
                delay: Duration::from_micros(50),
                jitter: Duration::from_micros(10),
                loss,
                duplicate: s.duplicate,
                reorder: s.reorder,
                reorder_extra: Duration::from_micros(100),
                mtu: 1500,
                ..LinkConfig::DEFAULT
            },
        );
        members.push(id);
    }
    let mut plain = Vec::new();
    for j in 0..s.plain {
        let i = s.losses.len() + j;
        let ep = plain_endpoint_with(s.seed, i, now, s.interleaving);
        let id = net
            .add_node(
                Peer::Plain(EpNode::new(ep, member_addr(i))),
                &[member_addr(i)],
            )
            .unwrap();
        plain.push(id);
    }
    World {
        net,
        server,
        members,
        plain,
    }
}

/// The member node `id`.
pub fn member(net: &mut Network<Peer>, id: NodeId) -> &mut EpNode<GroupMember> {
    match net.node_mut(id) {
        Peer::Member(n) => n,
        _ => panic!("not a member"),
    }
}

/// The server node `id`.
pub fn server(net: &mut Network<Peer>, id: NodeId) -> &mut EpNode<GroupServer> {
    match net.node_mut(id) {
        Peer::Server(n) => n,
        _ => panic!("not the server"),
    }
}

/// The plain node `id`.
pub fn plain(net: &mut Network<Peer>, id: NodeId) -> &mut EpNode<NoExtension> {
    match net.node_mut(id) {
        Peer::Plain(n) => n,
        _ => panic!("not a plain node"),
    }
}

/// What node `id` kept of its deliveries.
pub fn got_of(net: &Network<Peer>, id: NodeId) -> &Got {
    match net.node(id) {
        Peer::Server(n) => &n.got,
        Peer::Member(n) => &n.got,
        Peer::Plain(n) => &n.got,
    }
}

/// Performs the IP-level joins member `id` asks for, all successful, as a
/// runtime would.
pub fn perform_joins(net: &mut Network<Peer>, id: NodeId) {
    let joins: Vec<_> =
        std::iter::from_fn(|| member(net, id).ep.extension_mut().poll_join()).collect();
    for j in joins {
        net.join(id, j.group).unwrap();
        member(net, id)
            .ep
            .extension_mut()
            .join_result(j.association, true);
    }
}

/// Connects every member and plain peer, performing the members' IP-level
/// joins as a runtime would.
pub fn connect_all(w: &mut World) {
    let now = w.net.now();
    for &id in &w.members {
        member(&mut w.net, id)
            .ep
            .connect(now, server_addr(), 9899)
            .unwrap();
    }
    for &id in &w.plain {
        plain(&mut w.net, id)
            .ep
            .connect(now, server_addr(), 9899)
            .unwrap();
    }
    let members = w.members.clone();
    let sid = w.server;
    let expected = w.members.len() + w.plain.len();
    w.net
        .run_until_cond(
            |net| {
                for &id in &members {
                    perform_joins(net, id);
                }
                let s = server(net, sid);
                s.ep.association_count() == expected
                    && s.ep.extension().members().count() == expected
            },
            Duration::from_secs(2),
        )
        .expect("every member and plain peer connects");
}

/// Sends the scenario's messages and runs until every member and plain
/// peer has them all (bounded); checks exactly once, in order,
/// byte-identical.
pub fn run(s: &Scenario) -> World {
    let mut w = build(s);
    connect_all(&mut w);
    let now = w.net.now();
    for i in 0..s.messages {
        server(&mut w.net, w.server)
            .ep
            .extension_mut()
            .send(now, StreamId(0), Ppid(51), payload(i, s.size))
            .unwrap();
    }
    let all: Vec<NodeId> = w.members.iter().chain(&w.plain).copied().collect();
    let n = s.messages as usize;
    let res = w.net.run_until_cond(
        |net| all.iter().all(|&id| got_of(net, id).len() >= n),
        Duration::from_secs(60),
    );
    for (k, &id) in all.iter().enumerate() {
        let got = got_of(&w.net, id);
        assert_eq!(
            got.len(),
            n,
            "seed {} receiver {k}: {} of {n} messages ({res:?})",
            s.seed,
            got.len()
        );
        for (i, (origin, stream, p)) in got.iter().enumerate() {
            let plain = k >= w.members.len();
            assert_eq!(
                *origin,
                if plain {
                    Origin::Association
                } else {
                    Origin::Extension
                },
                "group messages are marked (plain peers get DATA)"
            );
            assert_eq!(*stream, 0);
            assert_eq!(
                *p,
                payload(i as u32, s.size),
                "seed {} receiver {k} message {i}",
                s.seed
            );
        }
    }
    w
}

/// Queues messages `from..to` of `size` octets on the group, now.
pub fn send_range(w: &mut World, from: u32, to: u32, size: usize) {
    let now = w.net.now();
    for i in from..to {
        server(&mut w.net, w.server)
            .ep
            .extension_mut()
            .send(now, StreamId(0), Ppid(51), payload(i, size))
            .unwrap();
    }
}

/// Runs until every node in `ids` has `total` messages (bounded).
pub fn wait_for(w: &mut World, ids: &[NodeId], total: usize) {
    let ids = ids.to_vec();
    let res = w.net.run_until_cond(
        |net| ids.iter().all(|&id| got_of(net, id).len() >= total),
        Duration::from_secs(60),
    );
    for &id in &ids {
        assert_eq!(got_of(&w.net, id).len(), total, "{id}: {res:?}");
    }
}

/// A member's deliveries are messages `first..first + len`, in order and
/// byte-identical; returns `first`.
pub fn check_suffix(w: &World, id: NodeId, size: usize) -> u32 {
    let got = got_of(&w.net, id);
    let first = u32::from_be_bytes(got[0].2[..4].try_into().unwrap());
    for (i, (origin, _, p)) in got.iter().enumerate() {
        assert_eq!(*origin, Origin::Extension);
        assert_eq!(*p, payload(first + i as u32, size), "{id} message {i}");
    }
    first
}

/// The server's view of member node `member_node`: its state, fallbacks
/// and returns.
pub fn kind_of(w: &mut World, member_node: NodeId) -> (MemberKind, u64, u64) {
    let addr = match w.net.node(member_node) {
        Peer::Member(n) => n.addr,
        _ => unreachable!(),
    };
    let s = server(&mut w.net, w.server);
    let h =
        s.ep.associations()
            .find(|&h| s.ep.remote_address(h) == Some(addr))
            .expect("the member's association");
    let m = s.ep.extension().member(h).expect("a member");
    (m.kind, m.fallbacks, m.returns)
}

/// The server's association with each member node.
pub fn handles(w: &mut World) -> Vec<AssociationHandle> {
    let ids = w.members.clone();
    server_handles(w, &ids)
}

/// The server's association with each plain peer node.
pub fn plain_handles(w: &mut World) -> Vec<AssociationHandle> {
    let ids = w.plain.clone();
    server_handles(w, &ids)
}

/// The server's association with each of `ids` (members or plain peers).
fn server_handles(w: &mut World, ids: &[NodeId]) -> Vec<AssociationHandle> {
    let addrs: Vec<SocketAddr> = ids.iter().map(|&id| w.net.node(id).addr()).collect();
    let s = server(&mut w.net, w.server);
    addrs
        .iter()
        .map(|a| {
            s.ep.associations()
                .find(|&h| s.ep.remote_address(h) == Some(*a))
                .expect("the node's association")
        })
        .collect()
}
