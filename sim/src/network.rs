//! The network: nodes, links, the event queue and the clock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::{self, Write as _};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::capture::{self, CapturedPacket};
use crate::digest::{AddrKey, FxHashMap, TraceHasher};
use crate::link::{Endpoint, Link, LinkConfig, LinkKey, Stats, backlog_bytes, tx_time_ns};
use crate::node::{BoxedNode, Datagram, Node, NodeId};
use crate::rng::SimRng;

/// Consecutive timer firings of one node, without its timeout moving past
/// the current time, after which the node is declared stuck.
pub const ZERO_PROGRESS_LIMIT: u32 = 10_000;

/// Datagrams one node may hand out from a single drain of
/// [`Node::poll_transmit`] before it is declared stuck.
pub const TRANSMIT_FLOOD_LIMIT: usize = 1_000_000;

/// Default bound on the steps one `run_*` call may take.
pub const DEFAULT_STEP_LIMIT: u64 = 10_000_000;

/// Timeouts further than this from the start of the run (100 years) are
/// treated as "no timeout", so simulated time always fits in `u64` ns.
const MAX_TIME_NS: u64 = 100 * 365 * 86_400 * 1_000_000_000;

fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn fmt_ns(ns: u64) -> impl fmt::Display {
    struct T(u64);
    impl fmt::Display for T {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "{}.{:09}",
                self.0 / 1_000_000_000,
                self.0 % 1_000_000_000
            )
        }
    }
    T(ns)
}

/// Why a run stopped before its goal. Every `run_*` method is bounded, so a
/// stuck protocol ends a test with one of these instead of hanging it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stalled {
    /// Nothing is in flight and no node has a timer, yet the condition
    /// still holds.
    Idle {
        /// Simulated time since the start of the run.
        at: Duration,
    },
    /// The simulated-time budget ran out (the clock now stands at its end).
    TimeLimit {
        /// Simulated time since the start of the run.
        at: Duration,
    },
    /// The step budget ran out (see [`Network::set_step_limit`]).
    StepLimit {
        /// Steps taken by this call.
        steps: u64,
        /// Simulated time since the start of the run.
        at: Duration,
    },
    /// A node kept asking for its timer to fire without time moving on.
    /// The network stays in this state: every later step reports it again.
    TimerLivelock {
        /// The stuck node.
        node: NodeId,
        /// Its addresses, to help tell which one it is.
        addrs: Vec<SocketAddr>,
        /// Consecutive zero-progress firings.
        firings: u32,
        /// Simulated time since the start of the run.
        at: Duration,
    },
    /// A node kept returning datagrams from one `poll_transmit` drain.
    /// The network stays in this state: every later step reports it again.
    TransmitFlood {
        /// The stuck node.
        node: NodeId,
        /// Its addresses, to help tell which one it is.
        addrs: Vec<SocketAddr>,
        /// Simulated time since the start of the run.
        at: Duration,
    },
}

impl fmt::Display for Stalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stalled::Idle { at } => {
                write!(f, "network idle at {at:?} before the condition was met")
            }
            Stalled::TimeLimit { at } => write!(f, "simulated time limit reached at {at:?}"),
            Stalled::StepLimit { steps, at } => {
                write!(f, "step limit of {steps} steps reached at {at:?}")
            }
            Stalled::TimerLivelock {
                node,
                addrs,
                firings,
                at,
            } => write!(
                f,
                "{node} {addrs:?} fired its timer {firings} times at {at:?} without its timeout moving forward"
            ),
            Stalled::TransmitFlood { node, addrs, at } => write!(
                f,
                "{node} {addrs:?} returned {TRANSMIT_FLOOD_LIMIT} datagrams from one poll_transmit drain at {at:?}"
            ),
        }
    }
}

impl std::error::Error for Stalled {}

/// A misuse of the network's configuration API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The address already belongs to a node.
    AddressInUse {
        /// The address.
        addr: SocketAddr,
        /// Its owner.
        owner: NodeId,
    },
    /// A node cannot own a multicast address; it joins the group instead.
    MulticastAddress(SocketAddr),
    /// [`Network::join`] needs a multicast group address.
    NotMulticast(SocketAddr),
    /// No node has this id.
    UnknownNode(NodeId),
    /// No node owns this address.
    UnknownAddress(SocketAddr),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::AddressInUse { addr, owner } => {
                write!(f, "{addr} already belongs to {owner}")
            }
            ConfigError::MulticastAddress(a) => {
                write!(f, "{a} is a multicast address; join it instead")
            }
            ConfigError::NotMulticast(a) => write!(f, "{a} is not a multicast group address"),
            ConfigError::UnknownNode(n) => write!(f, "no such node: {n}"),
            ConfigError::UnknownAddress(a) => write!(f, "no node owns {a}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// What became of a packet (trace and digest codes).
#[derive(Debug, Clone, Copy)]
enum Fate {
    Delivered = 1,
    DeliveredDup = 2,
    Lost = 3,
    TooBig = 4,
    QueueFull = 5,
    Undeliverable = 6,
}

impl Fate {
    fn name(self) -> &'static str {
        match self {
            Fate::Delivered => "delivered",
            Fate::DeliveredDup => "delivered dup",
            Fate::Lost => "lost",
            Fate::TooBig => "dropped-mtu",
            Fate::QueueFull => "dropped-queue",
            Fate::Undeliverable => "undeliverable",
        }
    }
}

const DIGEST_TIMER: u64 = 7;
const DIGEST_EVENT: u64 = 8;

/// A packet on the wire.
#[derive(Debug)]
struct InFlight {
    link: u32,
    to: NodeId,
    /// Send order on its link (the original's sequence for a duplicate).
    sent_seq: u64,
    membership_epoch: u32,
    dup: bool,
    data: Bytes,
}

/// Min-heap entry of the packet queue, ordered by (arrival time, send
/// sequence) packed into one `u128` so that a comparison is branch-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PacketDue {
    key: u128,
    slot: u32,
}

impl PacketDue {
    fn new(at: u64, seq: u64, slot: u32) -> Self {
        Self {
            key: u128::from(at) << 64 | u128::from(seq),
            slot,
        }
    }

    fn at(&self) -> u64 {
        (self.key >> 64) as u64
    }
}

impl Ord for PacketDue {
    #[inline]
    fn cmp(&self, o: &Self) -> Ordering {
        o.key.cmp(&self.key)
    }
}
impl PartialOrd for PacketDue {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Min-heap entry of the timer queue (stale entries are skipped lazily).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimerDue {
    at: u64,
    node: u32,
    stamp: u32,
}

impl Ord for TimerDue {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.node, o.stamp).cmp(&(self.at, self.node, self.stamp))
    }
}
impl PartialOrd for TimerDue {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// What the network knows about a node besides the node itself.
#[derive(Debug, Default)]
struct NodeMeta {
    addrs: Vec<SocketAddr>,
    timer_at: Option<u64>,
    timer_stamp: u32,
    dirty: bool,
    zero_progress: u32,
}

/// Everything but the nodes, so nodes can be borrowed while packets move.
#[derive(Debug)]
struct Fabric {
    seed: u64,
    epoch: Instant,
    /// Simulated time in ns since `epoch`; change it only through `set_now`.
    now: u64,
    /// `epoch + now`, cached (Instant arithmetic is not free).
    now_instant: Instant,
    rng: SimRng,
    seq: u64,
    default_link: LinkConfig,
    overrides: BTreeMap<(Endpoint, Endpoint), LinkConfig>,
    group_overrides: BTreeMap<(SocketAddr, NodeId), LinkConfig>,
    owners: FxHashMap<AddrKey, NodeId>,
    groups: BTreeMap<SocketAddr, Vec<NodeId>>,
    loopback: bool,
    membership_epoch: u32,
    links: Vec<Link>,
    link_index: FxHashMap<LinkKey, u32>,
    packets: BinaryHeap<PacketDue>,
    slab: Vec<Option<InFlight>>,
    free: Vec<u32>,
    timers: BinaryHeap<TimerDue>,
    meta: Vec<NodeMeta>,
    dirty: Vec<NodeId>,
    due: Vec<NodeId>,
    stats: Stats,
    steps: u64,
    step_limit: u64,
    fault: Option<Stalled>,
    digest: TraceHasher,
    digest_payloads: bool,
    trace: Option<String>,
    capture: Option<Vec<CapturedPacket>>,
}

impl Fabric {
    fn instant(&self) -> Instant {
        self.now_instant
    }

    fn at_ns(&self, ns: u64) -> Instant {
        self.epoch
            .checked_add(Duration::from_nanos(ns))
            .unwrap_or(self.epoch)
    }

    /// Moves the clock forward to `ns` (never backwards).
    fn set_now(&mut self, ns: u64) {
        if ns > self.now {
            self.now = ns;
            self.now_instant = self.at_ns(ns);
        }
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    /// Simulated ns of an instant: 0 before the epoch, `None` beyond
    /// [`MAX_TIME_NS`].
    fn to_ns(&self, t: Instant) -> Option<u64> {
        let ns = dur_ns(t.saturating_duration_since(self.epoch));
        (ns <= MAX_TIME_NS).then_some(ns)
    }

    fn set_timer(&mut self, id: NodeId, t: Option<Instant>) {
        let ns = t.and_then(|t| self.to_ns(t));
        let m = &mut self.meta[id.index()];
        if m.timer_at == ns {
            return;
        }
        m.timer_at = ns;
        m.timer_stamp = m.timer_stamp.wrapping_add(1);
        if let Some(at) = ns {
            self.timers.push(TimerDue {
                at,
                node: id.0,
                stamp: m.timer_stamp,
            });
            if self.timers.len() > 4 * (self.meta.len() + 256) {
                let meta = &self.meta;
                self.timers.retain(|e| {
                    let m = &meta[e.node as usize];
                    m.timer_stamp == e.stamp && m.timer_at == Some(e.at)
                });
            }
        }
    }

    /// The earliest live timer (stale heap entries are dropped on the way).
    fn next_timer(&mut self) -> Option<u64> {
        while let Some(e) = self.timers.peek() {
            let m = &self.meta[e.node as usize];
            if m.timer_stamp == e.stamp && m.timer_at == Some(e.at) {
                return Some(e.at);
            }
            self.timers.pop();
        }
        None
    }

    /// Simulated time of the next event, if any.
    fn next_event_ns(&mut self) -> Option<u64> {
        let t = self.next_timer().map(|t| t.max(self.now));
        let p = self.packets.peek().map(PacketDue::at);
        match (t, p) {
            (Some(t), Some(p)) => Some(t.min(p)),
            (t, p) => t.or(p),
        }
    }

    fn mark_dirty(&mut self, id: NodeId) {
        let m = &mut self.meta[id.index()];
        if !m.dirty {
            m.dirty = true;
            self.dirty.push(id);
        }
    }

    fn resolve(&self, k: &LinkKey) -> LinkConfig {
        use Endpoint::{Addr, Node};
        let (s, a, d, b) = (Addr(k.src), Node(k.from), Addr(k.dst), Node(k.to));
        let order: [(Endpoint, Endpoint); 4] = if k.dst.ip().is_multicast() {
            if let Some(c) = self.group_overrides.get(&(k.dst, k.to)) {
                return *c;
            }
            [(s, b), (a, b), (s, d), (a, d)]
        } else {
            [(s, d), (s, b), (a, d), (a, b)]
        };
        order
            .iter()
            .find_map(|p| self.overrides.get(p))
            .copied()
            .unwrap_or(self.default_link)
    }

    fn reresolve_links(&mut self) {
        for i in 0..self.links.len() {
            let cfg = self.resolve(&self.links[i].key);
            self.links[i].cfg = cfg;
        }
    }

    fn link_for(&mut self, from: NodeId, src: SocketAddr, dst: SocketAddr, to: NodeId) -> u32 {
        let key = LinkKey { from, to, src, dst };
        if let Some(&i) = self.link_index.get(&key) {
            return i;
        }
        let cfg = self.resolve(&key);
        let i = self.links.len() as u32;
        self.links.push(Link::new(key, cfg));
        self.link_index.insert(key, i);
        i
    }

    fn record(
        &mut self,
        fate: Fate,
        src: &SocketAddr,
        dst: &SocketAddr,
        to: Option<NodeId>,
        data: &[u8],
    ) {
        let to_code = to.map_or(0, |n| u64::from(n.0) + 1);
        self.digest.u64(self.now);
        self.digest.u64(fate as u64 | to_code << 8);
        self.digest.addr(src);
        self.digest.addr(dst);
        if self.digest_payloads {
            self.digest.bytes(data);
        } else {
            self.digest.u64(data.len() as u64);
        }
        if let Some(t) = &mut self.trace {
            let _ = write!(
                t,
                "{} {src} -> {dst} len={} {}",
                fmt_ns(self.now),
                data.len(),
                fate.name()
            );
            if let (Some(n), true) = (to, dst.ip().is_multicast()) {
                let _ = write!(t, " to={n}");
            }
            t.push('\n');
        }
    }

    fn record_timer(&mut self, id: NodeId) {
        self.digest.u64(self.now);
        self.digest.u64(DIGEST_TIMER | u64::from(id.0) << 8);
        if let Some(t) = &mut self.trace {
            let _ = writeln!(t, "{} timer {id}", fmt_ns(self.now));
        }
    }

    fn set_fault(&mut self, f: Stalled) {
        if self.fault.is_none() {
            self.fault = Some(f);
        }
    }

    /// A datagram from node `from`: split GSO batches, then route.
    fn send(&mut self, from: NodeId, d: Datagram) {
        let Datagram {
            src,
            dst,
            data,
            segment_size,
        } = d;
        match segment_size {
            Some(s) if s > 0 && data.len() > s => {
                let mut off = 0;
                while off < data.len() {
                    let end = (off + s).min(data.len());
                    self.send_one(from, src, dst, data.slice(off..end));
                    off = end;
                }
            }
            _ => self.send_one(from, src, dst, data),
        }
    }

    fn send_one(&mut self, from: NodeId, src: SocketAddr, dst: SocketAddr, data: Bytes) {
        self.stats.sent += 1;
        if dst.ip().is_multicast() {
            let Some(members) = self.groups.get_mut(&dst).map(std::mem::take) else {
                self.stats.undeliverable += 1;
                self.record(Fate::Undeliverable, &src, &dst, None, &data);
                return;
            };
            for &m in &members {
                if m == from && !self.loopback {
                    continue;
                }
                let li = self.link_for(from, src, dst, m);
                self.transmit(li, m, data.clone());
            }
            if let Some(slot) = self.groups.get_mut(&dst) {
                *slot = members;
            }
        } else if let Some(&to) = self.owners.get(&AddrKey(dst)) {
            let li = self.link_for(from, src, dst, to);
            self.transmit(li, to, data);
        } else {
            self.stats.undeliverable += 1;
            self.record(Fate::Undeliverable, &src, &dst, None, &data);
        }
    }

    /// Puts one copy on link `li`, which leads to node `to`.
    fn transmit(&mut self, li: u32, to: NodeId, data: Bytes) {
        let now = self.now;
        let link = &mut self.links[li as usize];
        let cfg = link.cfg;
        let (src, dst) = (link.key.src, link.key.dst);
        link.stats.sent += 1;
        let len = data.len();
        if len > cfg.mtu {
            link.stats.dropped_mtu += 1;
            self.stats.dropped_mtu += 1;
            self.record(Fate::TooBig, &src, &dst, Some(to), &data);
            return;
        }
        let mut depart = now;
        if let Some(bps) = cfg.bandwidth_bps {
            let start = link.busy_until.max(now);
            let backlog = backlog_bytes(start - now, bps).saturating_add(len as u64);
            let full = bps == 0 || backlog > cfg.queue_limit_bytes as u64;
            if full {
                link.stats.dropped_queue += 1;
                self.stats.dropped_queue += 1;
                self.record(Fate::QueueFull, &src, &dst, Some(to), &data);
                return;
            }
            depart = start.saturating_add(tx_time_ns(len, bps));
            link.busy_until = depart;
            link.stats.queue_peak_bytes = link.stats.queue_peak_bytes.max(backlog);
            self.stats.queue_peak_bytes = self.stats.queue_peak_bytes.max(backlog);
        }
        if self.rng.chance(cfg.loss) {
            link.stats.dropped_loss += 1;
            self.stats.dropped_loss += 1;
            self.record(Fate::Lost, &src, &dst, Some(to), &data);
            return;
        }
        let dup = self.rng.chance(cfg.duplicate);
        let reorder = self.rng.chance(cfg.reorder);
        let jitter = dur_ns(cfg.jitter);
        let extra = if reorder {
            dur_ns(cfg.reorder_extra)
        } else {
            0
        };
        let base = depart
            .saturating_add(dur_ns(cfg.delay))
            .saturating_add(extra);
        let mut at = if jitter > 0 {
            base.saturating_add(self.rng.below(jitter.saturating_add(1)))
        } else {
            base
        };
        if jitter == 0 && !reorder {
            at = at.max(link.fifo_floor);
            link.fifo_floor = at;
        }
        let dup_at = if !dup {
            None
        } else if jitter > 0 {
            Some(base.saturating_add(self.rng.below(jitter.saturating_add(1))))
        } else {
            Some(at)
        };
        self.seq += 1;
        let sent_seq = self.seq;
        let pkt = InFlight {
            link: li,
            to,
            sent_seq,
            membership_epoch: self.membership_epoch,
            dup: false,
            data,
        };
        if let Some(dup_at) = dup_at {
            self.links[li as usize].stats.duplicated += 1;
            self.stats.duplicated += 1;
            let copy = InFlight {
                link: li,
                to,
                sent_seq,
                membership_epoch: self.membership_epoch,
                dup: true,
                data: pkt.data.clone(),
            };
            self.push(at, pkt);
            self.seq += 1;
            self.push(dup_at, copy);
        } else {
            self.push(at, pkt);
        }
    }

    fn push(&mut self, at: u64, pkt: InFlight) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(pkt);
                s
            }
            None => {
                self.slab.push(Some(pkt));
                (self.slab.len() - 1) as u32
            }
        };
        self.packets.push(PacketDue::new(at, self.seq, slot));
    }

    /// Takes the next packet off the wire; `Some` if it should be handed to
    /// its receiver: `(to, local, remote, data)`.
    fn arrive(&mut self) -> Option<(NodeId, SocketAddr, SocketAddr, Bytes)> {
        let e = self.packets.pop()?;
        self.set_now(e.at());
        let pkt = self.slab[e.slot as usize].take()?;
        self.free.push(e.slot);
        let link = &mut self.links[pkt.link as usize];
        let (remote, local) = (link.key.src, link.key.dst);
        if pkt.membership_epoch != self.membership_epoch {
            let still = if local.ip().is_multicast() {
                self.groups.get(&local).is_some_and(|m| m.contains(&pkt.to))
            } else {
                self.owners.get(&AddrKey(local)) == Some(&pkt.to)
            };
            if !still {
                self.stats.undeliverable += 1;
                self.record(
                    Fate::Undeliverable,
                    &remote,
                    &local,
                    Some(pkt.to),
                    &pkt.data,
                );
                return None;
            }
        }
        let link = &mut self.links[pkt.link as usize];
        let len = pkt.data.len() as u64;
        link.stats.delivered += 1;
        link.stats.bytes_delivered += len;
        self.stats.delivered += 1;
        self.stats.bytes_delivered += len;
        if pkt.sent_seq < link.max_delivered {
            link.stats.reordered += 1;
            self.stats.reordered += 1;
        } else {
            link.max_delivered = pkt.sent_seq;
        }
        let fate = if pkt.dup {
            Fate::DeliveredDup
        } else {
            Fate::Delivered
        };
        self.record(fate, &remote, &local, Some(pkt.to), &pkt.data);
        if let Some(c) = &mut self.capture {
            c.push(CapturedPacket {
                at: Duration::from_nanos(self.now),
                src: remote,
                dst: local,
                node: pkt.to,
                data: pkt.data.clone(),
            });
        }
        Some((pkt.to, local, remote, pkt.data))
    }
}

/// A deterministic simulated network of [`Node`]s.
///
/// The network owns the clock: it reads `Instant::now()` once, in
/// [`new`](Self::new), and from then on time only moves when an event is
/// processed, jumping straight to the next packet arrival or node timeout.
/// Everything random comes from one seeded [`SimRng`], so a seed always
/// produces the same run, which [`digest`](Self::digest) fingerprints.
///
/// Ordering rules: events are processed in time order; at equal times
/// timers fire before packets arrive, timers in node order, packets in the
/// order they were sent. After every event the affected node is drained
/// (`poll_transmit` until `None`, then `poll_timeout`); nodes touched
/// through [`node_mut`](Self::node_mut) are drained before the next step.
pub struct Network<N> {
    nodes: Vec<N>,
    fab: Fabric,
}

impl<N> fmt::Debug for Network<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("seed", &self.fab.seed)
            .field("elapsed", &self.fab.elapsed())
            .field("nodes", &self.nodes.len())
            .field("in_flight", &self.fab.packets.len())
            .field("stats", &self.fab.stats)
            .finish_non_exhaustive()
    }
}

impl<N: Node> Network<N> {
    /// An empty network whose randomness all derives from `seed`, with
    /// [`LinkConfig::DEFAULT`] links.
    pub fn new(seed: u64) -> Self {
        let epoch = Instant::now();
        Self {
            nodes: Vec::new(),
            fab: Fabric {
                seed,
                epoch,
                now: 0,
                now_instant: epoch,
                rng: SimRng::new(seed),
                seq: 0,
                default_link: LinkConfig::DEFAULT,
                overrides: BTreeMap::new(),
                group_overrides: BTreeMap::new(),
                owners: FxHashMap::default(),
                groups: BTreeMap::new(),
                loopback: false,
                membership_epoch: 0,
                links: Vec::new(),
                link_index: FxHashMap::default(),
                packets: BinaryHeap::new(),
                slab: Vec::new(),
                free: Vec::new(),
                timers: BinaryHeap::new(),
                meta: Vec::new(),
                dirty: Vec::new(),
                due: Vec::new(),
                stats: Stats::default(),
                steps: 0,
                step_limit: DEFAULT_STEP_LIMIT,
                fault: None,
                digest: TraceHasher::new(),
                digest_payloads: true,
                trace: None,
                capture: None,
            },
        }
    }

    // ----- clock -----

    /// The seed this network was created with.
    pub fn seed(&self) -> u64 {
        self.fab.seed
    }

    /// The current simulated time.
    pub fn now(&self) -> Instant {
        self.fab.instant()
    }

    /// The instant the run started at (simulated time zero).
    pub fn start(&self) -> Instant {
        self.fab.epoch
    }

    /// Simulated time since the start of the run.
    pub fn elapsed(&self) -> Duration {
        self.fab.elapsed()
    }

    // ----- nodes and addresses -----

    /// Adds a node owning `addrs` (unicast addresses; it may own none and
    /// only receive multicast). The node is polled before the next step, so
    /// a node that wants to send at once (a client's INIT) may do so.
    pub fn add_node(&mut self, node: N, addrs: &[SocketAddr]) -> Result<NodeId, ConfigError> {
        for (i, a) in addrs.iter().enumerate() {
            if a.ip().is_multicast() {
                return Err(ConfigError::MulticastAddress(*a));
            }
            if let Some(&owner) = self.fab.owners.get(&AddrKey(*a)) {
                return Err(ConfigError::AddressInUse { addr: *a, owner });
            }
            if addrs[..i].contains(a) {
                return Err(ConfigError::AddressInUse {
                    addr: *a,
                    owner: NodeId(self.nodes.len() as u32),
                });
            }
        }
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(node);
        for a in addrs {
            self.fab.owners.insert(AddrKey(*a), id);
        }
        self.fab.meta.push(NodeMeta {
            addrs: addrs.to_vec(),
            ..NodeMeta::default()
        });
        self.fab.mark_dirty(id);
        Ok(id)
    }

    /// Gives `node` another address (for example a second path of a
    /// multihomed endpoint).
    pub fn add_address(&mut self, node: NodeId, addr: SocketAddr) -> Result<(), ConfigError> {
        self.check_node(node)?;
        if addr.ip().is_multicast() {
            return Err(ConfigError::MulticastAddress(addr));
        }
        if let Some(&owner) = self.fab.owners.get(&AddrKey(addr)) {
            return Err(ConfigError::AddressInUse { addr, owner });
        }
        self.fab.owners.insert(AddrKey(addr), node);
        self.fab.meta[node.index()].addrs.push(addr);
        Ok(())
    }

    /// Takes `addr` away from its owner, which is returned. Packets already
    /// in flight to it become undeliverable.
    pub fn remove_address(&mut self, addr: SocketAddr) -> Result<NodeId, ConfigError> {
        let owner = self
            .fab
            .owners
            .remove(&AddrKey(addr))
            .ok_or(ConfigError::UnknownAddress(addr))?;
        self.fab.meta[owner.index()].addrs.retain(|a| *a != addr);
        self.fab.membership_epoch = self.fab.membership_epoch.wrapping_add(1);
        Ok(owner)
    }

    /// The node owning `addr`.
    pub fn owner(&self, addr: SocketAddr) -> Option<NodeId> {
        self.fab.owners.get(&AddrKey(addr)).copied()
    }

    /// The addresses `node` owns (empty for an unknown id).
    pub fn addrs(&self, node: NodeId) -> &[SocketAddr] {
        self.fab.meta.get(node.index()).map_or(&[], |m| &m.addrs)
    }

    /// How many nodes the network holds; their ids are `0..node_count()`.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node, for reading its state.
    ///
    /// # Panics
    /// If `id` did not come from this network's [`add_node`](Self::add_node).
    pub fn node(&self, id: NodeId) -> &N {
        &self.nodes[id.index()]
    }

    /// The node, for calling application methods (send a message, read
    /// events). Marks it for draining: whatever it wants to send is picked
    /// up before the next step (or by [`poll_nodes`](Self::poll_nodes)).
    ///
    /// # Panics
    /// If `id` did not come from this network's [`add_node`](Self::add_node).
    pub fn node_mut(&mut self, id: NodeId) -> &mut N {
        self.fab.mark_dirty(id);
        &mut self.nodes[id.index()]
    }

    fn check_node(&self, id: NodeId) -> Result<(), ConfigError> {
        if id.index() < self.nodes.len() {
            Ok(())
        } else {
            Err(ConfigError::UnknownNode(id))
        }
    }

    // ----- multicast -----

    /// `node` joins multicast `group` (IP and port): it gets a copy of every
    /// datagram sent to the group, with `local` set to the group address.
    pub fn join(&mut self, node: NodeId, group: SocketAddr) -> Result<(), ConfigError> {
        self.check_node(node)?;
        if !group.ip().is_multicast() {
            return Err(ConfigError::NotMulticast(group));
        }
        let m = self.fab.groups.entry(group).or_default();
        if let Err(pos) = m.binary_search(&node) {
            m.insert(pos, node);
        }
        Ok(())
    }

    /// `node` leaves `group`; copies already in flight to it are dropped as
    /// undeliverable. Leaving a group one is not in is not an error.
    pub fn leave(&mut self, node: NodeId, group: SocketAddr) -> Result<(), ConfigError> {
        self.check_node(node)?;
        if !group.ip().is_multicast() {
            return Err(ConfigError::NotMulticast(group));
        }
        if let Some(m) = self.fab.groups.get_mut(&group) {
            if let Ok(pos) = m.binary_search(&node) {
                m.remove(pos);
                self.fab.membership_epoch = self.fab.membership_epoch.wrapping_add(1);
            }
            if m.is_empty() {
                self.fab.groups.remove(&group);
            }
        }
        Ok(())
    }

    /// The members of `group`, in id order.
    pub fn members(&self, group: SocketAddr) -> &[NodeId] {
        self.fab.groups.get(&group).map_or(&[], Vec::as_slice)
    }

    /// Whether a member sending to its own group gets a copy (default off,
    /// like `IP_MULTICAST_LOOP` turned off).
    pub fn set_multicast_loopback(&mut self, on: bool) {
        self.fab.loopback = on;
    }

    // ----- links -----

    /// The config of links without an override.
    pub fn default_link(&self) -> LinkConfig {
        self.fab.default_link
    }

    /// Sets the config of links without an override; applies to packets
    /// sent from now on.
    pub fn set_default_link(&mut self, cfg: LinkConfig) {
        self.fab.default_link = cfg;
        self.fab.reresolve_links();
    }

    /// Overrides the directed link(s) from `src` to `dst` (each a node or
    /// an address; `dst` may be a multicast group, meaning every member's
    /// copy). Applies to unicast and multicast copies alike, to packets sent
    /// from now on (packets on the wire keep their fate), so a test can cut
    /// a link mid-run and heal it later.
    ///
    /// When several overrides match a packet the most specific wins —
    /// unicast: (addr, addr), (addr, node), (node, addr), (node, node);
    /// multicast copy to member `m` of group `g`: the
    /// [`set_group_link`](Self::set_group_link) for (g, m), then (addr, m),
    /// (node, m), (addr, g), (node, g) — and then the default.
    pub fn set_link(
        &mut self,
        src: impl Into<Endpoint>,
        dst: impl Into<Endpoint>,
        cfg: LinkConfig,
    ) {
        self.fab.overrides.insert((src.into(), dst.into()), cfg);
        self.fab.reresolve_links();
    }

    /// [`set_link`](Self::set_link) in both directions between `a` and `b`.
    pub fn set_link_both(
        &mut self,
        a: impl Into<Endpoint>,
        b: impl Into<Endpoint>,
        cfg: LinkConfig,
    ) {
        let (a, b) = (a.into(), b.into());
        self.fab.overrides.insert((a, b), cfg);
        self.fab.overrides.insert((b, a), cfg);
        self.fab.reresolve_links();
    }

    /// The override set by [`set_link`](Self::set_link) for exactly this
    /// pair, if any.
    pub fn link_override(
        &self,
        src: impl Into<Endpoint>,
        dst: impl Into<Endpoint>,
    ) -> Option<LinkConfig> {
        self.fab.overrides.get(&(src.into(), dst.into())).copied()
    }

    /// Removes an override set by [`set_link`](Self::set_link), returning it.
    pub fn clear_link(
        &mut self,
        src: impl Into<Endpoint>,
        dst: impl Into<Endpoint>,
    ) -> Option<LinkConfig> {
        let old = self.fab.overrides.remove(&(src.into(), dst.into()));
        self.fab.reresolve_links();
        old
    }

    /// Overrides only the multicast copies of `group` to `member` (from any
    /// sender), leaving its unicast paths alone: for example multicast lossy
    /// to one member while its unicast path stays clean.
    pub fn set_group_link(&mut self, group: SocketAddr, member: NodeId, cfg: LinkConfig) {
        self.fab.group_overrides.insert((group, member), cfg);
        self.fab.reresolve_links();
    }

    /// Removes an override set by [`set_group_link`](Self::set_group_link).
    pub fn clear_group_link(&mut self, group: SocketAddr, member: NodeId) -> Option<LinkConfig> {
        let old = self.fab.group_overrides.remove(&(group, member));
        self.fab.reresolve_links();
        old
    }

    // ----- statistics -----

    /// Counters for the whole run.
    pub fn stats(&self) -> Stats {
        self.fab.stats
    }

    /// Counters of the directed link(s) from `src` to `dst` (each a node or
    /// an address; a group address as `dst` selects the multicast copies),
    /// summed over every matching link.
    pub fn link_stats(&self, src: impl Into<Endpoint>, dst: impl Into<Endpoint>) -> Stats {
        let (s, d) = (src.into(), dst.into());
        let mut out = Stats::default();
        for l in self.fab.links.iter().filter(|l| l.matches(&s, &d)) {
            out.add(&l.stats);
        }
        out
    }

    /// Starts [`Stats::queue_peak_bytes`] again, network-wide and on every
    /// link, e.g. to measure one phase of a run.
    pub fn reset_queue_peaks(&mut self) {
        self.fab.stats.queue_peak_bytes = 0;
        for l in &mut self.fab.links {
            l.stats.queue_peak_bytes = 0;
        }
    }

    /// Packets on the wire right now.
    pub fn in_flight(&self) -> usize {
        self.fab.packets.len()
    }

    /// Steps taken since the start of the run.
    pub fn steps(&self) -> u64 {
        self.fab.steps
    }

    /// Bounds the steps of each later `run_*` call
    /// (default [`DEFAULT_STEP_LIMIT`]).
    pub fn set_step_limit(&mut self, steps: u64) {
        self.fab.step_limit = steps;
    }

    // ----- stepping -----

    fn poll_node(&mut self, id: NodeId) {
        let now = self.fab.instant();
        let node = &mut self.nodes[id.index()];
        let mut n = 0usize;
        while let Some(d) = node.poll_transmit(now) {
            self.fab.send(id, d);
            n += 1;
            if n >= TRANSMIT_FLOOD_LIMIT {
                let addrs = self.fab.meta[id.index()].addrs.clone();
                let at = self.fab.elapsed();
                self.fab.set_fault(Stalled::TransmitFlood {
                    node: id,
                    addrs,
                    at,
                });
                break;
            }
        }
        let t = node.poll_timeout();
        self.fab.set_timer(id, t);
    }

    /// Drains every node touched since the last step (added, or borrowed
    /// through [`node_mut`](Self::node_mut)). Each step does this first, so
    /// calling it is only needed to see those datagrams in
    /// [`stats`](Self::stats) or [`in_flight`](Self::in_flight) before
    /// stepping.
    pub fn poll_nodes(&mut self) {
        let mut dirty = std::mem::take(&mut self.fab.dirty);
        for &id in &dirty {
            self.fab.meta[id.index()].dirty = false;
            self.poll_node(id);
        }
        dirty.clear();
        self.fab.dirty = dirty;
    }

    fn check_fault(&self) -> Result<(), Stalled> {
        match &self.fab.fault {
            Some(f) => Err(f.clone()),
            None => Ok(()),
        }
    }

    /// When the next event (packet arrival or timeout) is due, if any.
    pub fn next_event(&mut self) -> Option<Instant> {
        self.poll_nodes();
        let ns = self.fab.next_event_ns()?;
        Some(
            self.fab
                .epoch
                .checked_add(Duration::from_nanos(ns))
                .unwrap_or(self.fab.epoch),
        )
    }

    /// Processes the next event: fires the timeouts due at the next event
    /// time or delivers one packet, draining the nodes involved. Returns
    /// `false` when nothing is pending at all.
    ///
    /// # Panics
    /// When a node is stuck (see [`Stalled::TimerLivelock`] and
    /// [`Stalled::TransmitFlood`]); [`try_step`](Self::try_step) returns
    /// that as an error instead.
    pub fn step(&mut self) -> bool {
        match self.try_step() {
            Ok(more) => more,
            Err(e) => panic!("mcsctp-sim: {e}"),
        }
    }

    /// [`step`](Self::step) that reports a stuck node as an error.
    pub fn try_step(&mut self) -> Result<bool, Stalled> {
        self.poll_nodes();
        self.check_fault()?;
        let timer = self.fab.next_timer();
        let packet = self.fab.packets.peek().map(PacketDue::at);
        match (timer, packet) {
            (None, None) => return Ok(false),
            (Some(t), p) if p.is_none_or(|p| t <= p) => self.fire_timers(t),
            _ => self.deliver_next(),
        }
        self.fab.steps += 1;
        self.poll_nodes();
        self.check_fault()?;
        Ok(true)
    }

    fn fire_timers(&mut self, at: u64) {
        let t = at.max(self.fab.now);
        self.fab.set_now(t);
        let mut due = std::mem::take(&mut self.fab.due);
        due.clear();
        while let Some(e) = self.fab.timers.peek().copied() {
            if e.at > t {
                break;
            }
            self.fab.timers.pop();
            let m = &mut self.fab.meta[e.node as usize];
            if m.timer_stamp == e.stamp && m.timer_at == Some(e.at) {
                m.timer_at = None;
                due.push(NodeId(e.node));
            }
        }
        let now = self.fab.instant();
        for &id in &due {
            self.fab.record_timer(id);
            self.nodes[id.index()].handle_timeout(now);
            self.poll_node(id);
            let m = &mut self.fab.meta[id.index()];
            if m.timer_at.is_some_and(|a| a <= t) {
                m.zero_progress += 1;
                if m.zero_progress >= ZERO_PROGRESS_LIMIT {
                    let f = Stalled::TimerLivelock {
                        node: id,
                        addrs: m.addrs.clone(),
                        firings: m.zero_progress,
                        at: self.fab.elapsed(),
                    };
                    self.fab.set_fault(f);
                }
            } else {
                m.zero_progress = 0;
            }
        }
        self.fab.due = due;
    }

    fn deliver_next(&mut self) {
        if let Some((to, local, remote, data)) = self.fab.arrive() {
            let now = self.fab.instant();
            self.nodes[to.index()].handle_datagram(now, local, remote, data);
            self.poll_node(to);
        }
    }

    fn deadline_ns(&self, max_time: Duration) -> u64 {
        self.fab
            .now
            .saturating_add(dur_ns(max_time))
            .min(MAX_TIME_NS)
    }

    /// Processes every event due up to `deadline`, then sets the clock to
    /// `deadline` (if it is later than now).
    pub fn run_until(&mut self, deadline: Instant) -> Result<(), Stalled> {
        let end = self.fab.to_ns(deadline).unwrap_or(MAX_TIME_NS);
        let mut steps = 0u64;
        loop {
            self.poll_nodes();
            self.check_fault()?;
            match self.fab.next_event_ns() {
                Some(t) if t <= end => {}
                _ => break,
            }
            if steps >= self.fab.step_limit {
                return Err(Stalled::StepLimit {
                    steps,
                    at: self.fab.elapsed(),
                });
            }
            steps += 1;
            self.try_step()?;
        }
        self.fab.set_now(end);
        Ok(())
    }

    /// [`run_until`](Self::run_until) `now() + d`.
    pub fn run_for(&mut self, d: Duration) -> Result<(), Stalled> {
        let end = self.fab.instant().checked_add(d);
        match end {
            Some(end) => self.run_until(end),
            None => self.run_until(self.fab.epoch + Duration::from_nanos(MAX_TIME_NS)),
        }
    }

    /// Steps while `cond` holds. Fails when nothing is left to do
    /// ([`Stalled::Idle`]), when the next event lies more than `max_time`
    /// past the start of the call ([`Stalled::TimeLimit`], clock left at
    /// that limit), or after the step limit ([`Stalled::StepLimit`]).
    /// `cond` may use [`node_mut`](Self::node_mut); what that makes a node
    /// send is picked up by the next step.
    pub fn run_while(
        &mut self,
        mut cond: impl FnMut(&mut Self) -> bool,
        max_time: Duration,
    ) -> Result<(), Stalled> {
        let end = self.deadline_ns(max_time);
        let mut steps = 0u64;
        loop {
            self.check_fault()?;
            if !cond(self) {
                return Ok(());
            }
            self.poll_nodes();
            self.check_fault()?;
            match self.fab.next_event_ns() {
                None => {
                    return Err(Stalled::Idle {
                        at: self.fab.elapsed(),
                    });
                }
                Some(t) if t > end => {
                    self.fab.set_now(end);
                    return Err(Stalled::TimeLimit {
                        at: self.fab.elapsed(),
                    });
                }
                Some(_) => {}
            }
            if steps >= self.fab.step_limit {
                return Err(Stalled::StepLimit {
                    steps,
                    at: self.fab.elapsed(),
                });
            }
            steps += 1;
            self.try_step()?;
        }
    }

    /// Steps until `cond` holds; see [`run_while`](Self::run_while).
    pub fn run_until_cond(
        &mut self,
        mut cond: impl FnMut(&mut Self) -> bool,
        max_time: Duration,
    ) -> Result<(), Stalled> {
        self.run_while(|n| !cond(n), max_time)
    }

    /// Steps until nothing is in flight and no node has a timer. Nodes with
    /// a periodic timer never get there: use [`run_for`](Self::run_for).
    pub fn run_until_idle(&mut self, max_time: Duration) -> Result<(), Stalled> {
        self.run_while(|_| true, max_time).or_else(|e| match e {
            Stalled::Idle { .. } => Ok(()),
            e => Err(e),
        })
    }

    // ----- trace, digest, capture -----

    /// Feeds a test's own event into the digest (and the text trace), for
    /// example each message an application read, so that the digest covers
    /// what the protocol did and not only what crossed the wire.
    pub fn record_event(&mut self, tag: &str, data: &[u8]) {
        let f = &mut self.fab;
        f.digest.u64(f.now);
        f.digest.u64(DIGEST_EVENT);
        f.digest.bytes(tag.as_bytes());
        f.digest.bytes(data);
        if let Some(t) = &mut f.trace {
            let _ = writeln!(t, "{} event {tag} {}", fmt_ns(f.now), data.escape_ascii());
        }
    }

    /// A 64-bit fingerprint of everything that happened so far: the time,
    /// endpoints, fate and bytes of every delivered or dropped packet, every
    /// timer firing and every recorded event. Same seed and same nodes ⇒
    /// same digest. The algorithm is fixed (see `digest.rs`), so digests
    /// stay comparable across builds.
    pub fn digest(&self) -> u64 {
        self.fab.digest.finish()
    }

    /// Whether the digest hashes packet payloads (default `true`). Turning
    /// it off hashes only lengths, which saves time in benchmarks with large
    /// packets.
    pub fn set_digest_payloads(&mut self, on: bool) {
        self.fab.digest_payloads = on;
    }

    /// Starts a text trace: one line per packet fate, timer firing and
    /// recorded event, e.g.
    /// `0.010000000 10.0.0.1:9899 -> 10.0.0.2:9899 len=120 delivered`
    /// (simulated seconds with nanoseconds; multicast lines add `to=node#N`).
    pub fn enable_trace(&mut self) {
        self.fab.trace.get_or_insert_with(String::new);
    }

    /// The text trace so far (empty unless enabled).
    pub fn trace(&self) -> &str {
        self.fab.trace.as_deref().unwrap_or("")
    }

    /// Takes the text trace so far, leaving tracing enabled if it was.
    pub fn take_trace(&mut self) -> String {
        self.fab
            .trace
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Starts recording every delivered packet (a reference-counted clone of
    /// its bytes) for [`captured`](Self::captured) and the pcap writers.
    pub fn enable_capture(&mut self) {
        self.fab.capture.get_or_insert_with(Vec::new);
    }

    /// The packets delivered since capture was enabled.
    pub fn captured(&self) -> &[CapturedPacket] {
        self.fab.capture.as_deref().unwrap_or(&[])
    }

    /// Writes the captured packets as a pcap file (nanosecond timestamps,
    /// `LINKTYPE_RAW`, each packet in an IPv4/IPv6 + UDP header with valid
    /// checksums) that Wireshark and `tshark -r` open. Returns how many
    /// packets were too large for an IP packet and left out.
    pub fn write_pcap(&self, w: &mut impl io::Write) -> io::Result<usize> {
        capture::write_pcap(w, self.captured())
    }

    /// [`write_pcap`](Self::write_pcap) into a new file at `path`.
    pub fn write_pcap_file(&self, path: impl AsRef<Path>) -> io::Result<usize> {
        let mut w = io::BufWriter::new(std::fs::File::create(path)?);
        let n = self.write_pcap(&mut w)?;
        io::Write::flush(&mut w)?;
        Ok(n)
    }

    /// Writes the captured packets as text2pcap input (timestamped hex dumps
    /// of Ethernet + IP + UDP frames). Convert with
    /// `text2pcap -t '%Y-%m-%d %H:%M:%S.%f' dump.txt out.pcap`
    /// ([`TEXT2PCAP_TIME_FORMAT`](crate::TEXT2PCAP_TIME_FORMAT)). Returns how
    /// many packets were too large and left out.
    pub fn write_text2pcap(&self, w: &mut impl io::Write) -> io::Result<usize> {
        capture::write_text2pcap(w, self.captured())
    }
}

impl Network<BoxedNode> {
    /// The node as its concrete type, in a network of mixed node types;
    /// `None` for another type or an unknown id.
    pub fn node_as<T: Node + 'static>(&self, id: NodeId) -> Option<&T> {
        let n = self.nodes.get(id.index())?;
        (**n).as_any().downcast_ref()
    }

    /// [`node_mut`](Self::node_mut) as its concrete type; `None` for another
    /// type or an unknown id.
    pub fn node_as_mut<T: Node + 'static>(&mut self, id: NodeId) -> Option<&mut T> {
        self.check_node(id).ok()?;
        self.fab.mark_dirty(id);
        let n = self.nodes.get_mut(id.index())?;
        (**n).as_any_mut().downcast_mut()
    }
}
