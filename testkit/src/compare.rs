//! The multicast group against the same workload sent as N unicast
//! associations (fan-out), on the same links (issue 10, item 7).
//!
//! A [`Case`] is one run: a [`Setup`] (the group: a server endpoint with a
//! `GroupServer` and N members; or fan-out: a plain server endpoint that
//! sends every message on each of its N associations with plain client
//! endpoints), a per-receiver loss rate, and a workload of `messages`
//! messages of `size` octets on stream 0, either as fast as the server's
//! send buffers take them (bulk) or one every `interval` (paced). Every
//! receiver checks every message as it arrives (exactly once, in order,
//! byte-identical to [`payload`], see [`Inbox`]). [`run_case`] returns the
//! [`Outcome`]: what the server sent, what the receivers sent back, how
//! long the transfer took in simulated time, each delivery's latency, and
//! (if asked) the recording of every call into the server endpoint, which
//! [`ServerEndpoint::replay`] plays back to time the server alone.
//!
//! **The links** ([`FABRIC`], the same for both setups): every path has
//! 50 µs one way, no jitter (FIFO), MTU 1500. The server's access link is
//! 10 Gbit/s ([`Egress`]: every packet the server sends, to the group or to
//! one association, is serialised on it in turn; the server is asked for
//! its next packet only while fewer than 256 KiB wait, like a sender
//! blocked on a full socket buffer). Behind it each receiver has its own
//! path on which each packet, in either direction, on the group path or on
//! the association, is lost with the case's probability, independently of
//! the other receivers (a multicast packet is replicated after the
//! server's link, as a switch does). Receivers' links are not rate-limited
//! (what reaches them never exceeds 10 Gbit/s). The server's ingress is
//! not modelled (no incast queue).
//!
//! **The endpoints**: every endpoint has [`endpoint_config`]'s data-centre
//! timers (RTO.Min 1 ms, delayed SACK 200 µs) and its defaults otherwise
//! (I-DATA, 1 MiB send and receive buffers, RFC 9260 congestion control);
//! the group has `GroupServerConfig::new`'s defaults. Every message would
//! fit one packet in both setups (the group fills its packets by splitting
//! messages; fan-out sends each whole).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mcsctp_core::endpoint::Endpoint;
use mcsctp_core::extension::NoExtension;
use mcsctp_core::rx::reassembly::Origin;
use mcsctp_mcast::server::ext::GroupServer;
use mcsctp_mcast::server::group::MemberKind;
use mcsctp_sim::{LinkConfig, Network, NodeId, Stalled};

use crate::group::{
    EpNode, Inbox, Peer, Scenario, World, connect_all, endpoint_config, member_addr,
    member_endpoint, payload, plain, plain_endpoint, scenario, server, server_addr, server_config,
};
use crate::rig::{Call, Counters, Egress, Recording, Rig, Source, replay};

/// Who sends to the receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setup {
    /// A `GroupServer` and N members: one multicast packet per message.
    Group,
    /// A plain server endpoint and N plain clients: each message sent on
    /// each of N associations.
    Fanout,
}

impl Setup {
    /// "group" or "fan-out".
    pub fn name(self) -> &'static str {
        match self {
            Setup::Group => "group",
            Setup::Fanout => "fan-out",
        }
    }
}

/// The links of a comparison (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Fabric {
    /// One-way delay of every path.
    pub delay: Duration,
    /// The server's access link, bits of UDP payload per second.
    pub rate_bps: u64,
    /// Octets that may wait on the server's access link.
    pub egress_limit: usize,
}

/// A data-centre fabric: 50 µs one way, a 10 Gbit/s server link.
pub const FABRIC: Fabric = Fabric {
    delay: Duration::from_micros(50),
    rate_bps: 10_000_000_000,
    egress_limit: 256 << 10,
};

/// One run.
#[derive(Debug, Clone)]
pub struct Case {
    /// Group or fan-out.
    pub setup: Setup,
    /// Receivers (members or clients).
    pub receivers: usize,
    /// Loss per packet on each receiver's path, both directions.
    pub loss: f64,
    /// Messages in the workload.
    pub messages: u32,
    /// Octets per message.
    pub size: usize,
    /// `None`: bulk (as fast as the send buffers take them); else paced.
    pub interval: Option<Duration>,
    /// The links.
    pub fabric: Fabric,
    /// The network's seed (the endpoints' seeds derive from it).
    pub seed: u64,
    /// Keep a recording of every call into the server endpoint.
    pub record: bool,
}

/// Size of every workload message.
pub const SIZE: usize = 1000;

impl Case {
    /// A bulk transfer of `messages` messages of [`SIZE`] octets.
    pub fn bulk(setup: Setup, receivers: usize, loss: f64, messages: u32) -> Self {
        Self {
            setup,
            receivers,
            loss,
            messages,
            size: SIZE,
            interval: None,
            fabric: FABRIC,
            seed: 1,
            record: false,
        }
    }

    /// `messages` messages of [`SIZE`] octets, one every `interval`.
    pub fn paced(
        setup: Setup,
        receivers: usize,
        loss: f64,
        messages: u32,
        interval: Duration,
    ) -> Self {
        Self {
            interval: Some(interval),
            ..Self::bulk(setup, receivers, loss, messages)
        }
    }

    /// A short description: "group N=16 loss 1%".
    pub fn label(&self) -> String {
        format!(
            "{} N={} loss {}%",
            self.setup.name(),
            self.receivers,
            self.loss * 100.0
        )
    }

    fn scenario(&self) -> Scenario {
        scenario(self.seed, vec![self.loss; self.receivers])
    }
}

/// What one run measured (everything from the start of the workload to the
/// moment the last receiver had every message).
#[derive(Debug)]
pub struct Outcome {
    /// The case.
    pub case: Case,
    /// What the server sent and received.
    pub counters: Counters,
    /// Packets the receivers sent to the server (counted as sent, before
    /// loss).
    pub feedback_packets: u64,
    /// Simulated time until the last receiver had every message.
    pub elapsed: Duration,
    /// Simulated time from the moment every receiver had a quarter of the
    /// messages to the end: [`Self::steady_goodput_bps`] leaves the start
    /// (and slow start) out.
    pub steady: Option<Duration>,
    /// Why the transfer did not complete, if it did not (the figures are
    /// then those of the part that ran).
    pub stalled: Option<String>,
    /// Latency of every delivery (paced cases): from the moment message
    /// `i` was due at the server's application to its delivery at a
    /// receiver; sorted.
    pub latencies: Vec<Duration>,
    /// Paced sends that came late because a send buffer was full.
    pub late_sends: u64,
    /// Most octets that waited on the server's link.
    pub egress_peak: usize,
    /// Group: members per state at the end, multicast repairs, unicast
    /// repairs.
    pub group: Option<GroupFigures>,
    /// The recording of the server endpoint's calls (`case.record`).
    pub recording: Option<Recording>,
}

/// The group's own figures at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct GroupFigures {
    /// Members per state (`MemberKind` as text).
    pub kinds: BTreeMap<String, usize>,
    /// MDATA chunks retransmitted on the group path.
    pub multicast_repairs: u64,
    /// MDATA chunks sent to one member on its association.
    pub unicast_repairs: u64,
}

impl Outcome {
    /// Octets the server sent per message (each message reaching every
    /// receiver).
    pub fn bytes_per_message(&self) -> f64 {
        self.counters.bytes() as f64 / f64::from(self.case.messages)
    }

    /// Packets the server sent per message.
    pub fn packets_per_message(&self) -> f64 {
        self.counters.packets() as f64 / f64::from(self.case.messages)
    }

    /// User data delivered per receiver per second of simulated time, in
    /// bits per second.
    pub fn goodput_bps(&self) -> f64 {
        let bits = f64::from(self.case.messages) * self.case.size as f64 * 8.0;
        bits / self.elapsed.as_secs_f64()
    }

    /// [`Self::goodput_bps`] over the last three quarters of the messages.
    pub fn steady_goodput_bps(&self) -> Option<f64> {
        let m = self.case.messages as usize;
        let bits = (m - m / 4) as f64 * self.case.size as f64 * 8.0;
        self.steady.map(|d| bits / d.as_secs_f64())
    }

    /// Packets that carried user data: to the group (first transmissions and
    /// multicast repairs) for the group, on the associations for fan-out.
    pub fn data_packets(&self) -> u64 {
        match self.case.setup {
            Setup::Group => self.counters.group_data_packets,
            Setup::Fanout => self.counters.unicast_data_packets,
        }
    }

    /// Feedback packets per data packet (see [`Self::data_packets`]).
    pub fn feedback_per_data_packet(&self) -> f64 {
        self.feedback_packets as f64 / self.data_packets().max(1) as f64
    }

    /// The latency below which a share `q` (0..=1) of the deliveries fell
    /// (nearest rank).
    pub fn latency(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1]
    }
}

/// Simulated time a case may take before it counts as stalled (every
/// case here completes in well under a second when nothing is stuck; the
/// limit stays below the receivers' 30 s incomplete-message timeout, so a
/// stall is reported as one rather than as a message released
/// incomplete).
pub const CASE_LIMIT: Duration = Duration::from_secs(10);

/// A transfer in which no receiver gets a message for this long is
/// stalled (longer than RTO.Max, 200 ms, so a backed-off retransmission
/// timer is not taken for a stall).
pub const STALL_GAP: Duration = Duration::from_millis(250);

/// Runs until every receiver has delivered `n` messages, bounded by
/// [`CASE_LIMIT`] and by [`STALL_GAP`] without progress. The first
/// receiver still short is remembered and checked from there on, so a
/// step costs O(1) however many receivers there are; progress is summed
/// once per 25 ms of simulated time.
pub fn all_have(w: &mut World, receivers: &[NodeId], n: usize) -> Result<(), String> {
    let start = w.net.now();
    let total =
        |w: &World| -> usize { receivers.iter().map(|&id| w.net.node(id).delivered()).sum() };
    let (mut progress, mut progress_at) = (total(w), start);
    let mut k = 0;
    loop {
        let r = w.net.run_until_cond(
            |net| {
                while k < receivers.len() && net.node(receivers[k]).delivered() >= n {
                    k += 1;
                }
                k == receivers.len()
            },
            Duration::from_millis(25),
        );
        match r {
            Ok(()) => return Ok(()),
            Err(Stalled::TimeLimit { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        let now = w.net.now();
        let p = total(w);
        if p > progress {
            (progress, progress_at) = (p, now);
        } else if now - progress_at >= STALL_GAP {
            return Err(format!(
                "no message delivered for {:?} (at {:?})",
                now - progress_at,
                w.net.elapsed()
            ));
        }
        if now - start >= CASE_LIMIT {
            return Err(format!("not done after {CASE_LIMIT:?}"));
        }
    }
}

fn world(c: &Case) -> World {
    let s = c.scenario();
    let mut net: Network<Peer> = Network::new(c.seed);
    let f = c.fabric;
    let link = LinkConfig {
        delay: f.delay,
        mtu: 1500,
        ..LinkConfig::DEFAULT
    };
    net.set_default_link(link);
    // Payloads are prepared outside every measurement.
    let payloads = (0..c.messages).map(|i| payload(i, c.size)).collect();
    let now = net.now();
    let egress = Egress::new(Some(f.rate_bps), f.egress_limit);
    let group = c.setup == Setup::Group;
    let rig = Rig::new(
        now,
        egress,
        Source::new(payloads, c.interval, group),
        c.record,
    );
    let node = match c.setup {
        Setup::Group => {
            let ep = Endpoint::with_extension(
                endpoint_config(c.seed),
                now,
                GroupServer::new(server_config(&s)),
            )
            .unwrap();
            let mut n = EpNode::new(ep, server_addr());
            n.rig = Some(Box::new(rig));
            Peer::Server(n)
        }
        Setup::Fanout => {
            let ep = Endpoint::new(endpoint_config(c.seed), now).unwrap();
            let mut n = EpNode::new(ep, server_addr());
            n.rig = Some(Box::new(rig));
            Peer::Plain(n)
        }
    };
    let server_id = net.add_node(node, &[server_addr()]).unwrap();
    let timed = c.interval.is_some();
    let mut ids = Vec::new();
    for i in 0..c.receivers {
        let node = match c.setup {
            Setup::Group => {
                let mut n = EpNode::new(member_endpoint(c.seed, i, now), member_addr(i));
                n.inbox = Some(Inbox::new(c.size, Origin::Extension, timed));
                Peer::Member(n)
            }
            Setup::Fanout => {
                let mut n = EpNode::new(plain_endpoint(c.seed, i, now), member_addr(i));
                n.inbox = Some(Inbox::new(c.size, Origin::Association, timed));
                Peer::Plain(n)
            }
        };
        let id = net.add_node(node, &[member_addr(i)]).unwrap();
        net.set_link_both(
            id,
            server_id,
            LinkConfig {
                loss: c.loss,
                ..link
            },
        );
        ids.push(id);
    }
    match c.setup {
        Setup::Group => World {
            net,
            server: server_id,
            members: ids,
            plain: Vec::new(),
        },
        Setup::Fanout => World {
            net,
            server: server_id,
            members: Vec::new(),
            plain: ids,
        },
    }
}

/// Connects every receiver and lets the group confirm every member (draft
/// §"Presumed Reachable"), so that the workload starts on a settled group.
fn connect(w: &mut World, c: &Case) {
    match c.setup {
        Setup::Group => {
            connect_all(w);
            let sid = w.server;
            let members = w.members.len();
            w.net
                .run_until_cond(
                    |net| {
                        let g = server(net, sid).ep.extension();
                        g.members().count() == members
                            && g.members().all(|h| {
                                g.member(h).is_some_and(|m| m.kind == MemberKind::Multicast)
                            })
                    },
                    Duration::from_secs(2),
                )
                .unwrap_or_else(|e| panic!("{}: members not confirmed: {e}", c.label()));
        }
        Setup::Fanout => {
            let now = w.net.now();
            for &id in &w.plain {
                plain(&mut w.net, id)
                    .ep
                    .connect(now, server_addr(), 9899)
                    .unwrap();
            }
            let sid = w.server;
            let n = w.plain.len();
            w.net
                .run_until_cond(
                    |net| plain(net, sid).ep.association_count() == n,
                    Duration::from_secs(2),
                )
                .unwrap_or_else(|e| panic!("{}: clients not connected: {e}", c.label()));
        }
    }
    // Handshake stragglers (a COOKIE ACK, the first SACKs) settle.
    w.net
        .run_for(Duration::from_millis(5))
        .unwrap_or_else(|e| panic!("{}: {e}", c.label()));
}

/// The server's rig.
pub fn rig(w: &mut World) -> &mut Rig {
    w.net
        .node_mut(w.server)
        .rig_mut()
        .expect("the server has a rig")
}

fn feedback_sent(w: &World, receivers: &[NodeId]) -> u64 {
    receivers
        .iter()
        .map(|&id| w.net.link_stats(id, w.server).sent)
        .sum()
}

/// The case's network, every receiver connected and (group) confirmed,
/// the workload not started (see [`Rig::start`]).
pub fn prepare(c: &Case) -> World {
    let mut w = world(c);
    connect(&mut w, c);
    w
}

/// Runs one case (see the module docs); panics if a receiver gets a wrong
/// message. A transfer that does not complete within [`CASE_LIMIT`] of
/// simulated time ends with [`Outcome::stalled`] set.
pub fn run_case(c: &Case) -> Outcome {
    let mut w = prepare(c);
    let receivers: Vec<NodeId> = w.members.iter().chain(&w.plain).copied().collect();
    let feedback0 = feedback_sent(&w, &receivers);
    let start = w.net.now();
    rig(&mut w).start(start);
    let m = c.messages as usize;
    // Until every receiver has a quarter of the workload (the start, slow
    // start included), then until every one has all of it.
    let quarter = all_have(&mut w, &receivers, m / 4).map(|()| w.net.now() - start);
    let res = quarter
        .clone()
        .and_then(|_| all_have(&mut w, &receivers, m));
    let elapsed = w.net.now() - start;
    let stalled = res.err().map(|e| {
        let short: Vec<usize> = receivers
            .iter()
            .map(|&id| w.net.node(id).delivered())
            .filter(|&d| d < m)
            .collect();
        format!(
            "{} receivers short of {m} messages ({:?}…): {e}",
            short.len(),
            &short[..short.len().min(8)]
        )
    });
    let steady = quarter.ok().map(|q| elapsed.saturating_sub(q));
    let feedback_packets = feedback_sent(&w, &receivers) - feedback0;
    let mut latencies = Vec::new();
    let r = w.net.node(w.server).rig().expect("rig");
    if c.interval.is_some() {
        latencies.reserve(m * receivers.len());
        for &id in &receivers {
            let inbox = w.net.node(id).inbox().expect("inbox");
            for (i, t) in inbox.arrivals.iter().enumerate() {
                let due = r.source.due_time(i).expect("started");
                latencies.push(t.saturating_duration_since(due));
            }
        }
        latencies.sort_unstable();
    }
    let counters = r.counters;
    let late_sends = r.source.late;
    let egress_peak = r.egress.peak_bytes;
    let group = (c.setup == Setup::Group).then(|| {
        let g = server(&mut w.net, w.server).ep.extension();
        let mut f = GroupFigures {
            multicast_repairs: g.sender().group_repairs_sent,
            ..GroupFigures::default()
        };
        for h in g.members() {
            if let Some(m) = g.member(h) {
                *f.kinds.entry(format!("{:?}", m.kind)).or_insert(0) += 1;
                f.unicast_repairs += m.repairs;
            }
        }
        f
    });
    let recording = rig(&mut w).recording.take();
    Outcome {
        case: c.clone(),
        counters,
        feedback_packets,
        elapsed,
        steady,
        stalled,
        latencies,
        late_sends,
        egress_peak,
        group,
        recording,
    }
}

/// A fresh server endpoint of a case, built exactly as [`run_case`] built
/// it, for [`replay`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one at a time
pub enum ServerEndpoint {
    /// The group's server.
    Group(Endpoint<GroupServer>),
    /// The fan-out server.
    Fanout(Endpoint<NoExtension>),
}

impl ServerEndpoint {
    /// The case's server endpoint, created at `epoch`.
    pub fn new(c: &Case, epoch: Instant) -> Self {
        match c.setup {
            Setup::Group => Self::Group(
                Endpoint::with_extension(
                    endpoint_config(c.seed),
                    epoch,
                    GroupServer::new(server_config(&c.scenario())),
                )
                .unwrap(),
            ),
            Setup::Fanout => Self::Fanout(Endpoint::new(endpoint_config(c.seed), epoch).unwrap()),
        }
    }

    /// [`replay`] of `calls` into this endpoint.
    pub fn replay(
        &mut self,
        epoch: Instant,
        calls: &[(Duration, Call)],
        buf: &mut Vec<u8>,
        check: bool,
    ) -> u64 {
        match self {
            Self::Group(ep) => replay(ep, epoch, calls, buf, check),
            Self::Fanout(ep) => replay(ep, epoch, calls, buf, check),
        }
    }
}

// ----- the rows of the comparison (benches/group_vs_fanout.rs and
// tests/group_vs_fanout.rs run the same cases, so the test asserts the very
// figures the benchmark reports) -----

/// Receivers of the rows for bytes and CPU per message.
pub const ROW_RECEIVERS: [usize; 4] = [1, 4, 16, 64];
/// Per-receiver loss of the rows for bytes and CPU per message.
pub const ROW_LOSSES: [f64; 2] = [0.0, 0.01];
/// Messages of a row for bytes and CPU (and feedback at N = 64).
pub const ROW_MESSAGES: u32 = 2000;

/// A row for bytes and CPU per message: a bulk transfer of
/// [`ROW_MESSAGES`].
pub fn row_case(setup: Setup, receivers: usize, loss: f64) -> Case {
    Case::bulk(setup, receivers, loss, ROW_MESSAGES)
}

/// Receivers of the goodput rows.
pub const GOODPUT_RECEIVERS: usize = 16;
/// Per-receiver loss of the goodput rows.
pub const GOODPUT_LOSSES: [f64; 3] = [0.0, 0.01, 0.05];
/// Messages of a goodput row (10 MB per receiver).
pub const GOODPUT_MESSAGES: u32 = 10_000;

/// A goodput row: a bulk transfer of [`GOODPUT_MESSAGES`] to
/// [`GOODPUT_RECEIVERS`].
pub fn goodput_case(setup: Setup, loss: f64) -> Case {
    Case::bulk(setup, GOODPUT_RECEIVERS, loss, GOODPUT_MESSAGES)
}

/// Per-receiver loss of the feedback rows.
pub const FEEDBACK_LOSS: f64 = 0.01;
/// Receivers and messages of the feedback rows (N = 64 is the same case as
/// the bytes row at 1 %).
pub const FEEDBACK_ROWS: [(usize, u32); 2] = [(64, ROW_MESSAGES), (1000, 200)];

/// A feedback row: a bulk transfer at [`FEEDBACK_LOSS`].
pub fn feedback_case(setup: Setup, receivers: usize, messages: u32) -> Case {
    Case::bulk(setup, receivers, FEEDBACK_LOSS, messages)
}

/// Receivers of the latency rows.
pub const LATENCY_RECEIVERS: usize = 16;
/// Per-receiver loss of the latency rows (1 %: the data-centre fabric
/// target).
pub const LATENCY_LOSSES: [f64; 2] = [0.0, 0.01];
/// One message every 20 µs (400 Mbit/s of user data: fan-out to 16 puts
/// 6.6 Gbit/s on the server's 10 Gbit/s link).
pub const LATENCY_INTERVAL: Duration = Duration::from_micros(20);
/// Messages of a latency row (100 ms; 80 000 deliveries to 16 receivers).
pub const LATENCY_MESSAGES: u32 = 5000;

/// A latency row: [`LATENCY_MESSAGES`] paced at [`LATENCY_INTERVAL`].
pub fn latency_case(setup: Setup, loss: f64) -> Case {
    Case::paced(
        setup,
        LATENCY_RECEIVERS,
        loss,
        LATENCY_MESSAGES,
        LATENCY_INTERVAL,
    )
}

/// The targets of issue 10 item 7, as (what, bound).
pub mod targets {
    /// At N = 16: the group's server octets at most this share of
    /// fan-out's.
    pub const BYTES_RATIO: f64 = 1.0 / 12.0;
    /// At N = 16: the group's server CPU at most this share of fan-out's.
    pub const CPU_RATIO: f64 = 1.0 / 5.0;
    /// At N = 16: the group's goodput at 1 % loss at least this share of
    /// its goodput without loss.
    pub const GOODPUT_AT_1_PERCENT: f64 = 0.9;
    /// At 1 % loss, N = 64: feedback packets per group data packet, at
    /// most.
    pub const FEEDBACK_N64: f64 = 0.5;
    /// At 1 % loss, N = 1000: feedback packets per group data packet, at
    /// most.
    pub const FEEDBACK_N1000: f64 = 3.0;
    /// On the fabric at 1 % loss: the 99.9th percentile of delivery
    /// latency, at most.
    pub const P999_LATENCY: std::time::Duration = std::time::Duration::from_millis(1);
}
