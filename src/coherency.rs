//! The cache-coherency workload: what `mcsctp demo` and
//! `examples/cache_coherency.rs` run, over real sockets on loopback.
//!
//! A **home node** (a group server, [`Endpoint::create_group`]) owns a
//! key-value store. **Clients** (members of its group, or plain SCTP
//! peers) cache what they read. A client writes over its association to
//! the home; the home applies the write (the key's version goes up), sends
//! the invalidation `(key, version)` to the group by multicast
//! ([`Group::send`]), and acknowledges the write to the writer by unicast
//! behind a BARRIER ([`Group::send_after_group`], draft §"BARRIER", D=0:
//! the acknowledgement is delivered only after every group message sent
//! before it, so after the invalidation). Clients serve reads from their
//! cache while the entry is valid and fetch it over their association
//! otherwise. A client's cache is maintained by invalidations only: the
//! acknowledgement tells the writer its write is done and its version,
//! nothing more.
//!
//! A **checker** sees, per client and in the order the client saw them,
//! every version the client was told of (an invalidation, the
//! acknowledgement of its own write, a fetched value) and every value a
//! read returned, and verifies:
//!
//! * **no stale read**: no read returns a version older than one the client
//!   had already been told of (for its key), and every value read is the
//!   one the home wrote with that version;
//! * **convergence**: at the end, every client has been told of every
//!   key's last version and every entry in its cache equals the home's.
//!
//! With [`Settings::barrier`] off, the acknowledgement goes over the
//! association as an ordinary message: when the invalidation is lost on a
//! member's multicast path and has to be repaired, the acknowledgement
//! overtakes it, the writer reads its key from a cache that still holds
//! the old version, and the checker reports a stale read.
//!
//! Member-side multicast loss is injected with the runtime's test knob
//! [`MulticastConfig::receive_loss`] / [`Endpoint::set_multicast_loss`].

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::{
    Association, Config, Endpoint, Error, Group, GroupConfig, Interface, MemberKind,
    MembershipEvent, MulticastConfig, SentStats,
};

/// How long setup steps, a single request and the final flush may take
/// before the run fails (every wait on the sockets is bounded by it).
const WAIT: Duration = Duration::from_secs(20);

/// One client of the workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClientSpec {
    /// A group member; `loss` (0 to 1) of the group datagrams it receives
    /// are dropped (1.0 keeps it in unicast fallback).
    Multicast {
        /// Share of incoming group datagrams dropped.
        loss: f64,
    },
    /// A group member whose multicast path is cut (100 % loss) from
    /// `from` to `until` (shares of the run's duration) and restored
    /// afterwards: it falls back to unicast, then returns.
    Flapping {
        /// Start of the outage, share of the duration.
        from: f64,
        /// End of the outage, share of the duration.
        until: f64,
    },
    /// A plain SCTP peer without the multicast extension: it gets the
    /// group's messages as ordinary DATA on its association.
    Plain,
}

impl ClientSpec {
    /// A short description, for tables.
    pub fn label(&self) -> String {
        match *self {
            Self::Multicast { loss } if loss >= 1.0 => "multicast, 100 % loss".into(),
            Self::Multicast { loss } if loss > 0.0 => {
                format!("multicast, {:.1} % loss", loss * 100.0)
            }
            Self::Multicast { .. } => "multicast".into(),
            Self::Flapping { .. } => "multicast, cut off a while".into(),
            Self::Plain => "plain SCTP".into(),
        }
    }
}

/// The workload's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The clients, one endpoint each.
    pub clients: Vec<ClientSpec>,
    /// Keys in the store.
    pub keys: u32,
    /// Share of operations that are writes (the rest are reads).
    pub write_ratio: f64,
    /// How long clients issue operations.
    pub duration: Duration,
    /// Operations per client at most (`None`: until `duration` ends).
    pub ops_per_client: Option<u64>,
    /// Operations per second per client at most (`None`: as fast as
    /// possible; a cache hit costs no network round trip).
    pub rate: Option<u32>,
    /// Octets of every value, and of every invalidation (its key and
    /// version, padded); at least 24.
    pub size: usize,
    /// Acknowledge writes behind a BARRIER (`false`: as an ordinary
    /// unicast message, which can overtake the invalidation).
    pub barrier: bool,
    /// The group's address and port (`None`: 239.255.x.y with x from the
    /// process id and a free port).
    pub group: Option<SocketAddr>,
}

impl Settings {
    /// The demo's mix: `members` clients (at least 3): one plain SCTP
    /// peer, one member cut off from 20 % to 50 % of the run, and the
    /// others multicast members with `loss`.
    pub fn demo(members: usize, loss: f64, duration: Duration, size: usize) -> Self {
        let members = members.max(3);
        let mut clients = vec![ClientSpec::Multicast { loss }; members - 2];
        clients.push(ClientSpec::Flapping {
            from: 0.2,
            until: 0.5,
        });
        clients.push(ClientSpec::Plain);
        Self {
            clients,
            keys: 64,
            write_ratio: 0.2,
            duration,
            ops_per_client: None,
            rate: Some(2000),
            size,
            barrier: true,
            group: None,
        }
    }

    /// Checks the settings, with a message naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients.is_empty() {
            return Err("at least one client is needed".into());
        }
        if self.keys == 0 {
            return Err("at least one key is needed".into());
        }
        if !(0.0..=1.0).contains(&self.write_ratio) {
            return Err(format!(
                "write ratio {} is not between 0 and 1",
                self.write_ratio
            ));
        }
        if self.size < MIN_SIZE || self.size > MAX_SIZE {
            return Err(format!(
                "size {} is not between {MIN_SIZE} and {MAX_SIZE} octets",
                self.size
            ));
        }
        for c in &self.clients {
            match *c {
                ClientSpec::Multicast { loss } if !(0.0..=1.0).contains(&loss) => {
                    return Err(format!("loss {loss} is not between 0 and 1"));
                }
                ClientSpec::Flapping { from, until }
                    if !(0.0..=1.0).contains(&from) || !(from..=1.0).contains(&until) =>
                {
                    return Err(format!("outage {from}..{until} is not within 0..1"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Smallest value / invalidation size: the invalidation's header.
pub const MIN_SIZE: usize = 24;
/// Largest value size.
pub const MAX_SIZE: usize = 65_536;

/// A snapshot of a run in progress (the callback of [`run`]).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Time since the clients started.
    pub elapsed: Duration,
    /// The run's length.
    pub duration: Duration,
    /// Operations done.
    pub ops: u64,
    /// Reads served from a cache.
    pub hits: u64,
    /// Reads done.
    pub reads: u64,
    /// Stale reads the checker found so far.
    pub stale_reads: u64,
    /// Each client's name and state at the server (`None`: not a member
    /// right now).
    pub members: Vec<(String, Option<MemberKind>)>,
}

/// A stale read the checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRead {
    /// The client's name.
    pub client: String,
    /// The key read.
    pub key: u32,
    /// The version the read returned.
    pub returned: u64,
    /// The newest version the client had been told of.
    pub known: u64,
}

/// One client in the final table.
#[derive(Debug, Clone)]
pub struct ClientRow {
    /// Its name (`m1`, `flap`, `plain`, ...).
    pub name: String,
    /// What it was configured as.
    pub spec: ClientSpec,
    /// Its state at the server at the end.
    pub kind: Option<MemberKind>,
    /// Group messages it delivered to the application.
    pub deliveries: u64,
    /// Group chunks it received by multicast (0 for a plain peer).
    pub multicast_chunks: u64,
    /// Unicast repairs the server sent it.
    pub repairs: u64,
    /// Times it fell back to unicast.
    pub fallbacks: u64,
    /// Times it returned to multicast.
    pub returns: u64,
    /// Operations it did.
    pub ops: u64,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Whether writes were acknowledged behind a BARRIER.
    pub barrier: bool,
    /// How long clients issued operations.
    pub elapsed: Duration,
    /// Operations (reads and writes) done.
    pub ops: u64,
    /// Reads done.
    pub reads: u64,
    /// Reads served from a cache.
    pub hits: u64,
    /// Writes done.
    pub writes: u64,
    /// Invalidation latencies (from the home's send to a client's
    /// delivery), sorted.
    pub latencies: Vec<Duration>,
    /// Stale reads (all of them counted, the first 100 kept).
    pub stale: Vec<StaleRead>,
    /// Stale reads found.
    pub stale_count: u64,
    /// Reads that returned a value the home never wrote with that version.
    pub wrong_values: u64,
    /// Why the caches did not converge (empty: they did).
    pub divergence: Vec<String>,
    /// Per client.
    pub clients: Vec<ClientRow>,
    /// What the home's socket sent.
    pub sent: SentStats,
    /// Group messages the home sent.
    pub group_messages: u64,
    /// Members seen receiving by multicast at some point (plain peers and
    /// members at 100 % loss throughout excluded): fan-out would have sent
    /// each group packet to each of them.
    pub multicast_receivers: u64,
}

impl Report {
    /// The coherency verdict: no stale read, no wrong value, converged.
    pub fn coherent(&self) -> bool {
        self.stale_count == 0 && self.wrong_values == 0 && self.divergence.is_empty()
    }

    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Share of reads served from a cache.
    pub fn hit_ratio(&self) -> f64 {
        if self.reads == 0 {
            0.0
        } else {
            self.hits as f64 / self.reads as f64
        }
    }

    /// The `q` quantile (0 to 1) of the invalidation latency.
    pub fn latency(&self, q: f64) -> Option<Duration> {
        let n = self.latencies.len();
        if n == 0 {
            return None;
        }
        let i = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
        Some(self.latencies[i])
    }

    /// Octets fan-out to unicast associations would have sent for the
    /// same traffic: every group packet once per multicast receiver, plus
    /// the unicast the home sent anyway (an estimate: the repairs and
    /// fallback copies among those would not be needed, so it is slightly
    /// high).
    pub fn fanout_octets(&self) -> u64 {
        self.sent.multicast_octets * self.multicast_receivers + self.sent.unicast_octets
    }

    /// The verdict in one line.
    pub fn verdict(&self) -> String {
        if self.coherent() {
            "COHERENT: no stale read, every client converged".into()
        } else {
            let mut s = String::from("NOT COHERENT:");
            if self.stale_count > 0 {
                let _ = write!(s, " {} stale reads", self.stale_count);
                if let Some(r) = self.stale.first() {
                    let _ = write!(
                        s,
                        " (first: {} read key {} version {} after being told of version {})",
                        r.client, r.key, r.returned, r.known
                    );
                }
                s.push(';');
            }
            if self.wrong_values > 0 {
                let _ = write!(s, " {} reads returned a wrong value;", self.wrong_values);
            }
            if let Some(d) = self.divergence.first() {
                let _ = write!(s, " {} divergences (first: {d});", self.divergence.len());
            }
            s.pop();
            s
        }
    }
}

fn kind_name(k: Option<MemberKind>) -> &'static str {
    match k {
        Some(MemberKind::Joining) => "joining",
        Some(MemberKind::Returning) => "returning",
        Some(MemberKind::Multicast) => "multicast",
        Some(MemberKind::Fallback) => "fallback",
        Some(MemberKind::Plain) => "plain",
        None => "gone",
    }
}

impl fmt::Display for Report {
    /// The final table: the workload's figures, per client its kind,
    /// deliveries, repairs, fallbacks and returns, the home's octets on
    /// the wire beside fan-out's, and the verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Option<Duration>| {
            d.map_or("-".into(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3))
        };
        writeln!(
            f,
            "workload: {} ops in {:.1} s = {:.0} ops/s ({} reads, {} writes), cache hit ratio {:.1} %, BARRIER {}",
            self.ops,
            self.elapsed.as_secs_f64(),
            self.ops_per_sec(),
            self.reads,
            self.writes,
            self.hit_ratio() * 100.0,
            if self.barrier { "on" } else { "off" },
        )?;
        writeln!(
            f,
            "invalidation latency (home send -> client delivery, {} deliveries): p50 {}  p99 {}  p99.9 {}",
            self.latencies.len(),
            ms(self.latency(0.5)),
            ms(self.latency(0.99)),
            ms(self.latency(0.999)),
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<7} {:<28} {:<10} {:>6} {:>10} {:>11} {:>8} {:>9} {:>7}",
            "client",
            "configured",
            "now",
            "ops",
            "deliveries",
            "by mcast*",
            "repairs",
            "fallbacks",
            "returns"
        )?;
        for c in &self.clients {
            writeln!(
                f,
                "{:<7} {:<28} {:<10} {:>6} {:>10} {:>11} {:>8} {:>9} {:>7}",
                c.name,
                c.spec.label(),
                kind_name(c.kind),
                c.ops,
                c.deliveries,
                c.multicast_chunks,
                c.repairs,
                c.fallbacks,
                c.returns,
            )?;
        }
        writeln!(f, "* group chunks that arrived by multicast")?;
        writeln!(f)?;
        let total = self.sent.multicast_octets + self.sent.unicast_octets;
        let fan = self.fanout_octets();
        let x = self.sent.multicast_octets;
        let m = self.multicast_receivers;
        writeln!(
            f,
            "home node on the wire: {} octets = {x} multicast ({} datagrams, {} group messages) \
             + {} unicast ({} datagrams: replies, acks, SACKs, repairs, fallback and plain-peer copies)",
            total,
            self.sent.multicast_datagrams,
            self.group_messages,
            self.sent.unicast_octets,
            self.sent.unicast_datagrams,
        )?;
        writeln!(
            f,
            "fan-out unicast instead: the group's {x} octets to each of {m} multicast receivers = {} octets \
             ({m}x); with the same other unicast, {fan} octets in all ({:.2}x what was sent)",
            x * m,
            fan as f64 / total.max(1) as f64,
        )?;
        writeln!(f)?;
        write!(f, "verdict: {}", self.verdict())
    }
}

/// Why a run failed (as opposed to finding incoherence, which is a
/// [`Report`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// Bad settings.
    Settings(String),
    /// Multicast does not work on the loopback interface here.
    NoMulticast(String),
    /// The runtime failed.
    Endpoint(Error),
    /// A step did not finish in time, or a task failed.
    Stalled(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Settings(s) => write!(f, "bad settings: {s}"),
            Self::NoMulticast(s) => write!(f, "IPv4 multicast on loopback does not work here: {s}"),
            Self::Endpoint(e) => write!(f, "runtime error: {e}"),
            Self::Stalled(s) => write!(f, "stalled: {s}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        Self::Endpoint(e)
    }
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// Unicast messages' stream: not the group's stream 0, which a plain
/// peer's association uses for the group's messages (draft §"Plain SCTP
/// Peers": no unicast on a stream the group uses).
const UNICAST_STREAM: u16 = 1;

/// The workload's messages (PPID 0; group messages on group stream 0,
/// unicast ones on [`UNICAST_STREAM`]).
#[derive(Debug, Clone, PartialEq)]
enum Msg {
    /// Client -> home: read `key`.
    Get { req: u64, key: u32 },
    /// Client -> home: write `value` to `key`.
    Put { req: u64, key: u32, value: Bytes },
    /// Home -> client: `key` is `value` at `version`.
    Value {
        req: u64,
        key: u32,
        version: u64,
        value: Bytes,
    },
    /// Home -> writer: the write is applied as `version`.
    Ack { req: u64, key: u32, version: u64 },
    /// Home -> group: `key` changed to `version`, sent at `sent_ns` after
    /// the run's epoch.
    Inval {
        key: u32,
        version: u64,
        sent_ns: u64,
    },
    /// Home -> group: the run is over; the last group message.
    Fin,
}

const GET: u8 = 1;
const PUT: u8 = 2;
const VALUE: u8 = 3;
const ACK: u8 = 4;
const INVAL: u8 = 5;
const FIN: u8 = 6;

impl Msg {
    fn encode(&self, pad_to: usize) -> Bytes {
        let mut b = BytesMut::with_capacity(pad_to.max(32));
        match self {
            Self::Get { req, key } => {
                b.put_u8(GET);
                b.put_u64(*req);
                b.put_u32(*key);
            }
            Self::Put { req, key, value } => {
                b.put_u8(PUT);
                b.put_u64(*req);
                b.put_u32(*key);
                b.put_slice(value);
            }
            Self::Value {
                req,
                key,
                version,
                value,
            } => {
                b.put_u8(VALUE);
                b.put_u64(*req);
                b.put_u32(*key);
                b.put_u64(*version);
                b.put_slice(value);
            }
            Self::Ack { req, key, version } => {
                b.put_u8(ACK);
                b.put_u64(*req);
                b.put_u32(*key);
                b.put_u64(*version);
            }
            Self::Inval {
                key,
                version,
                sent_ns,
            } => {
                b.put_u8(INVAL);
                b.put_u32(*key);
                b.put_u64(*version);
                b.put_u64(*sent_ns);
                // Padding: an invalidation is as large as a value.
                b.resize(pad_to.max(b.len()), 0);
            }
            Self::Fin => b.put_u8(FIN),
        }
        b.freeze()
    }

    fn decode(mut d: Bytes) -> Option<Self> {
        use bytes::Buf;
        if d.is_empty() {
            return None;
        }
        let tag = d.get_u8();
        let need = |d: &Bytes, n: usize| (d.len() >= n).then_some(());
        Some(match tag {
            GET => {
                need(&d, 12)?;
                Self::Get {
                    req: d.get_u64(),
                    key: d.get_u32(),
                }
            }
            PUT => {
                need(&d, 12)?;
                Self::Put {
                    req: d.get_u64(),
                    key: d.get_u32(),
                    value: d,
                }
            }
            VALUE => {
                need(&d, 20)?;
                Self::Value {
                    req: d.get_u64(),
                    key: d.get_u32(),
                    version: d.get_u64(),
                    value: d,
                }
            }
            ACK => {
                need(&d, 20)?;
                Self::Ack {
                    req: d.get_u64(),
                    key: d.get_u32(),
                    version: d.get_u64(),
                }
            }
            INVAL => {
                need(&d, 20)?;
                Self::Inval {
                    key: d.get_u32(),
                    version: d.get_u64(),
                    sent_ns: d.get_u64(),
                }
            }
            FIN => Self::Fin,
            _ => return None,
        })
    }
}

/// FNV-1a of a value.
fn digest(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A value of `size` octets naming its writer and request.
fn make_value(client: usize, req: u64, size: usize) -> Bytes {
    let mut v = format!("client {client} request {req} ").into_bytes();
    v.resize(size, b'.');
    v.into()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------

/// What the checker holds every client to.
#[derive(Debug, Default)]
struct Checker {
    /// Per client: the newest version of each key it was told of.
    known: Vec<HashMap<u32, u64>>,
    /// The home's writes: (key, version) -> digest of the value.
    written: HashMap<(u32, u64), u64>,
    stale: Vec<StaleRead>,
    stale_count: u64,
    wrong_values: u64,
    names: Vec<String>,
}

impl Checker {
    /// Client `c` was told that `key` has reached `version`.
    fn told(&mut self, c: usize, key: u32, version: u64) {
        let k = self.known[c].entry(key).or_insert(0);
        *k = (*k).max(version);
    }

    /// Client `c`'s read of `key` returned `version` with value digest
    /// `dig`.
    fn returned(&mut self, c: usize, key: u32, version: u64, dig: u64) {
        let known = self.known[c].get(&key).copied().unwrap_or(0);
        if version < known {
            self.stale_count += 1;
            if self.stale.len() < 100 {
                self.stale.push(StaleRead {
                    client: self.names[c].clone(),
                    key,
                    returned: version,
                    known,
                });
            }
        }
        if self.written.get(&(key, version)) != Some(&dig) {
            self.wrong_values += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/// A reply to a request.
#[derive(Debug)]
enum Reply {
    Value { version: u64, value: Bytes },
    Ack { version: u64 },
}

/// A client's state, shared by its receiving task and its operations.
#[derive(Debug, Default)]
struct ClientState {
    /// key -> (version, value).
    cache: HashMap<u32, (u64, Bytes)>,
    /// The client's own view of the newest version of each key.
    known: HashMap<u32, u64>,
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    deliveries: u64,
    latencies_ns: Vec<u64>,
    /// Answered when FIN arrives: the final cache and knowledge.
    fin: Option<oneshot::Sender<Snapshot>>,
}

#[derive(Debug)]
struct Snapshot {
    cache: HashMap<u32, (u64, u64)>,
    known: HashMap<u32, u64>,
}

struct Client {
    name: String,
    spec: ClientSpec,
    ep: Endpoint,
    assoc: Association,
    state: Arc<Mutex<ClientState>>,
    ops: Arc<AtomicU64>,
}

/// Counters shared by all clients.
#[derive(Debug, Default)]
struct Counters {
    ops: AtomicU64,
    reads: AtomicU64,
    hits: AtomicU64,
    writes: AtomicU64,
}

/// Receives everything client `c` gets, in order: invalidations update
/// its cache and knowledge (and the checker's), replies go to the waiting
/// operation.
async fn client_receiver(
    c: usize,
    ep: Endpoint,
    state: Arc<Mutex<ClientState>>,
    checker: Arc<Mutex<Checker>>,
    epoch: Instant,
) {
    while let Ok(m) = ep.recv().await {
        let Some(msg) = Msg::decode(m.data) else {
            continue;
        };
        let mut st = lock(&state);
        match msg {
            Msg::Inval {
                key,
                version,
                sent_ns,
            } => {
                let now = epoch.elapsed().as_nanos() as u64;
                st.latencies_ns.push(now.saturating_sub(sent_ns));
                st.deliveries += 1;
                let k = st.known.entry(key).or_insert(0);
                *k = (*k).max(version);
                if st.cache.get(&key).is_some_and(|(v, _)| *v < version) {
                    st.cache.remove(&key);
                }
                lock(&checker).told(c, key, version);
            }
            Msg::Value {
                req,
                version,
                value,
                ..
            } => {
                if let Some(tx) = st.pending.remove(&req) {
                    let _ = tx.send(Reply::Value { version, value });
                }
            }
            Msg::Ack { req, version, .. } => {
                if let Some(tx) = st.pending.remove(&req) {
                    let _ = tx.send(Reply::Ack { version });
                }
            }
            Msg::Fin => {
                st.deliveries += 1;
                let snap = Snapshot {
                    cache: st
                        .cache
                        .iter()
                        .map(|(k, (v, val))| (*k, (*v, digest(val))))
                        .collect(),
                    known: st.known.clone(),
                };
                if let Some(tx) = st.fin.take() {
                    let _ = tx.send(snap);
                }
            }
            Msg::Get { .. } | Msg::Put { .. } => {}
        }
    }
}

/// A small xorshift generator (the workload needs no more).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Sends `msg` and waits for its reply.
async fn request(client: &Client, req: u64, msg: Msg, size: usize) -> Result<Reply, RunError> {
    let (tx, rx) = oneshot::channel();
    lock(&client.state).pending.insert(req, tx);
    client.assoc.send(UNICAST_STREAM, msg.encode(size)).await?;
    match timeout(WAIT, rx).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(_)) => Err(RunError::Stalled(format!(
            "{}: the receiving task ended",
            client.name
        ))),
        Err(_) => Err(RunError::Stalled(format!(
            "{}: no reply to request {req} in {WAIT:?}",
            client.name
        ))),
    }
}

/// Client `c`'s operations until `stop` (or its quota).
async fn client_ops(
    c: usize,
    client: Arc<Client>,
    settings: Arc<Settings>,
    checker: Arc<Mutex<Checker>>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> Result<(), RunError> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut req = 0u64;
    let mut done = 0u64;
    let pace = settings
        .rate
        .map(|r| Duration::from_secs_f64(1.0 / f64::from(r.max(1))));
    let start = tokio::time::Instant::now();
    while !stop.load(Ordering::Relaxed) && settings.ops_per_client.is_none_or(|n| done < n) {
        if let Some(p) = pace {
            tokio::time::sleep_until(start + p.mul_f64(done as f64)).await;
        } else {
            tokio::task::yield_now().await;
        }
        let key = (rng.next() % u64::from(settings.keys)) as u32;
        if rng.unit() < settings.write_ratio {
            req += 1;
            let value = make_value(c, req, settings.size);
            let r = request(&client, req, Msg::Put { req, key, value }, settings.size).await?;
            let Reply::Ack { version } = r else {
                return Err(RunError::Stalled(format!(
                    "{}: a value answered a write",
                    client.name
                )));
            };
            let mut st = lock(&client.state);
            let k = st.known.entry(key).or_insert(0);
            *k = (*k).max(version);
            lock(&checker).told(c, key, version);
            counters.writes.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.reads.fetch_add(1, Ordering::Relaxed);
            let hit = {
                let st = lock(&client.state);
                if let Some((v, val)) = st.cache.get(&key) {
                    lock(&checker).returned(c, key, *v, digest(val));
                    true
                } else {
                    false
                }
            };
            if hit {
                counters.hits.fetch_add(1, Ordering::Relaxed);
            } else {
                // Fetch; a value older than one the client has since been
                // told of is not returned: fetch again.
                let mut tries = 0;
                loop {
                    tries += 1;
                    req += 1;
                    let r = request(&client, req, Msg::Get { req, key }, settings.size).await?;
                    let Reply::Value { version, value } = r else {
                        return Err(RunError::Stalled(format!(
                            "{}: an acknowledgement answered a read",
                            client.name
                        )));
                    };
                    let mut st = lock(&client.state);
                    let mut ck = lock(&checker);
                    ck.told(c, key, version);
                    let known = st.known.get(&key).copied().unwrap_or(0);
                    if version >= known {
                        st.known.insert(key, version);
                        ck.returned(c, key, version, digest(&value));
                        st.cache.insert(key, (version, value));
                        break;
                    }
                    if tries >= 100 {
                        return Err(RunError::Stalled(format!(
                            "{}: key {key} fetched 100 times, always older than version {known}",
                            client.name
                        )));
                    }
                }
            }
        }
        done += 1;
        client.ops.fetch_add(1, Ordering::Relaxed);
        counters.ops.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The home node
// ---------------------------------------------------------------------------

/// The home's store: key -> (version, value).
type Store = HashMap<u32, (u64, Bytes)>;

/// The home node's task: its endpoint and group, the store, and where it
/// reports.
struct Home {
    server: Endpoint,
    group: Group,
    store: Arc<Mutex<Store>>,
    checker: Arc<Mutex<Checker>>,
    group_messages: Arc<AtomicU64>,
    barrier: bool,
    size: usize,
    epoch: Instant,
}

/// Serves reads and writes until the endpoint closes.
async fn home(h: Home) -> Result<(), RunError> {
    let Home {
        server,
        group,
        store,
        checker,
        group_messages,
        barrier,
        size,
        epoch,
    } = h;
    loop {
        let m = match server.recv().await {
            Ok(m) => m,
            Err(Error::EndpointClosed) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(msg) = Msg::decode(m.data) else {
            continue;
        };
        let assoc = server.association(m.association);
        match msg {
            Msg::Get { req, key } => {
                let (version, value) = lock(&store).get(&key).cloned().unwrap_or((0, Bytes::new()));
                let reply = Msg::Value {
                    req,
                    key,
                    version,
                    value,
                };
                // A client that went away is no reason to stop serving.
                let _ = assoc.send(UNICAST_STREAM, reply.encode(0)).await;
            }
            Msg::Put { req, key, value } => {
                let version = {
                    let mut s = lock(&store);
                    let e = s.entry(key).or_insert((0, Bytes::new()));
                    e.0 += 1;
                    e.1 = value.clone();
                    e.0
                };
                lock(&checker)
                    .written
                    .insert((key, version), digest(&value));
                let sent_ns = epoch.elapsed().as_nanos() as u64;
                let inval = Msg::Inval {
                    key,
                    version,
                    sent_ns,
                };
                group.send(0, inval.encode(size)).await?;
                group_messages.fetch_add(1, Ordering::Relaxed);
                let ack = Msg::Ack { req, key, version }.encode(0);
                let _ = if barrier {
                    group
                        .send_after_group(m.association, UNICAST_STREAM, 0, ack)
                        .await
                } else {
                    assoc.send(UNICAST_STREAM, ack).await
                };
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Setup and the run
// ---------------------------------------------------------------------------

/// A group address of this process: 239.255.x.y (x from the process id, y
/// from the port) and a UDP port that is free now, so that concurrent runs
/// do not share a group.
fn default_group() -> Result<SocketAddr, RunError> {
    let port = UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.local_addr())
        .map_err(|e| RunError::Stalled(format!("no free UDP port: {e}")))?
        .port();
    let pid = std::process::id();
    let y = (port % 250 + 1) as u8;
    let ip = Ipv4Addr::new(239, 255, (pid % 251) as u8, y);
    Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
}

/// Whether IPv4 multicast sent on loopback to `g` comes back to a socket
/// joined to it there (plain sockets, 2 s at most).
pub fn multicast_on_loopback(g: SocketAddr) -> Result<(), String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let SocketAddr::V4(g4) = g else {
        return Err("not an IPv4 group".into());
    };
    let e = |e: std::io::Error| e.to_string();
    let rx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(e)?;
    rx.set_reuse_address(true).map_err(e)?;
    rx.bind(&g.into()).map_err(|e| format!("bind {g}: {e}"))?;
    rx.join_multicast_v4(g4.ip(), &Ipv4Addr::LOCALHOST)
        .map_err(|e| format!("join {g} on loopback: {e}"))?;
    let rx: UdpSocket = rx.into();
    rx.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(e)?;
    let tx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(e)?;
    tx.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .map_err(e)?;
    tx.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).map_err(e)?;
    tx.set_multicast_loop_v4(true).map_err(e)?;
    tx.send_to(b"probe", &g.into())
        .map_err(|e| format!("send to {g}: {e}"))?;
    let mut buf = [0u8; 16];
    match rx.recv_from(&mut buf) {
        Ok((5, _)) if &buf[..5] == b"probe" => Ok(()),
        Ok(_) => Err("a different datagram arrived".into()),
        Err(e) => Err(format!("multicast sent on loopback did not come back: {e}")),
    }
}

fn loopback() -> Interface {
    Interface::Addr(Ipv4Addr::LOCALHOST.into())
}

/// An endpoint config on loopback with loopback-scale timers.
fn config(sctp_port: u16) -> Config {
    let mut c = Config::new("127.0.0.1:0".parse().expect("a literal address"), sctp_port);
    c.core.association.rto_min = Duration::from_millis(5);
    c.core.association.rto_initial = Duration::from_millis(50);
    c.core.association.rto_max = Duration::from_millis(500);
    c
}

/// Runs the workload: starts the home node and the clients on loopback,
/// runs operations for [`Settings::duration`], calls `progress` about four
/// times a second, then checks convergence and reports. Must be called
/// inside a tokio runtime.
pub async fn run(
    settings: &Settings,
    mut progress: impl FnMut(&Progress),
) -> Result<Report, RunError> {
    settings.validate().map_err(RunError::Settings)?;
    let settings = Arc::new(settings.clone());
    let gaddr = match settings.group {
        Some(g) => g,
        None => default_group()?,
    };
    multicast_on_loopback(gaddr).map_err(RunError::NoMulticast)?;

    // The home node.
    const HOME_PORT: u16 = 7;
    let server = Endpoint::bind(config(HOME_PORT))?;
    let gcfg = GroupConfig {
        interface: Some(loopback()),
        ..GroupConfig::default()
    };
    let group = server.create_group(gaddr, gcfg)?;
    let epoch = Instant::now();
    let checker = Arc::new(Mutex::new(Checker::default()));
    let store: Arc<Mutex<Store>> = Arc::new(Mutex::new(HashMap::new()));
    {
        let mut ck = lock(&checker);
        let mut s = lock(&store);
        for k in 0..settings.keys {
            let v = make_value(usize::MAX, u64::from(k), settings.size);
            ck.written.insert((k, 0), digest(&v));
            s.insert(k, (0, v));
        }
    }
    let group_messages = Arc::new(AtomicU64::new(0));
    let home_task = tokio::spawn(home(Home {
        server: server.clone(),
        group: group.clone(),
        store: store.clone(),
        checker: checker.clone(),
        group_messages: group_messages.clone(),
        barrier: settings.barrier,
        size: settings.size,
        epoch,
    }));

    // The clients.
    let mut clients = Vec::new();
    let mut receivers: Vec<JoinHandle<()>> = Vec::new();
    let (mut m, mut f, mut p) = (0, 0, 0);
    for (c, spec) in settings.clients.iter().enumerate() {
        let mut cfg = config(0);
        let name = match *spec {
            ClientSpec::Multicast { loss } => {
                let mut mc = MulticastConfig::on(loopback());
                mc.receive_loss = loss;
                cfg.multicast = Some(mc);
                m += 1;
                format!("m{m}")
            }
            ClientSpec::Flapping { .. } => {
                cfg.multicast = Some(MulticastConfig::on(loopback()));
                f += 1;
                if f == 1 {
                    "flap".into()
                } else {
                    format!("flap{f}")
                }
            }
            ClientSpec::Plain => {
                p += 1;
                if p == 1 {
                    "plain".into()
                } else {
                    format!("plain{p}")
                }
            }
        };
        let ep = Endpoint::bind(cfg)?;
        let assoc = timeout(WAIT, ep.connect(server.local_addr(), HOME_PORT))
            .await
            .map_err(|_| RunError::Stalled(format!("{name}: connect")))??;
        let state = Arc::new(Mutex::new(ClientState::default()));
        {
            let mut ck = lock(&checker);
            ck.known.push(HashMap::new());
            ck.names.push(name.clone());
        }
        receivers.push(tokio::spawn(client_receiver(
            c,
            ep.clone(),
            state.clone(),
            checker.clone(),
            epoch,
        )));
        clients.push(Arc::new(Client {
            name,
            spec: *spec,
            ep,
            assoc,
            state,
            ops: Arc::new(AtomicU64::new(0)),
        }));
    }
    // Everyone joined (messages sent from now on reach them all).
    let mut joined = 0;
    while joined < clients.len() {
        match timeout(WAIT, group.next_event()).await {
            Ok(Ok(MembershipEvent::Joined { .. })) => joined += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                return Err(RunError::Stalled(format!(
                    "{joined} of {} clients joined the group",
                    clients.len()
                )));
            }
        }
    }
    let name_of =
        |addr: Option<SocketAddr>| clients.iter().position(|c| Some(c.ep.local_addr()) == addr);

    // The operations.
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ops: Vec<JoinHandle<Result<(), RunError>>> = clients
        .iter()
        .enumerate()
        .map(|(c, client)| {
            tokio::spawn(client_ops(
                c,
                client.clone(),
                settings.clone(),
                checker.clone(),
                counters.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let start = Instant::now();
    let mut cut = vec![false; clients.len()];
    let mut ever_multicast = vec![false; clients.len()];
    let tick = Duration::from_millis(250);
    loop {
        let elapsed = start.elapsed();
        let members = group.members();
        let mut kinds = vec![None; clients.len()];
        for mi in &members {
            if let Some(i) = name_of(mi.address) {
                kinds[i] = Some(mi.kind);
                if mi.kind == MemberKind::Multicast {
                    ever_multicast[i] = true;
                }
            }
        }
        // The flapping members' outages.
        let share = elapsed.as_secs_f64() / settings.duration.as_secs_f64().max(1e-9);
        for (i, client) in clients.iter().enumerate() {
            if let ClientSpec::Flapping { from, until } = client.spec {
                let want = share >= from && share < until;
                if want != cut[i] {
                    cut[i] = want;
                    client.ep.set_multicast_loss(if want { 1.0 } else { 0.0 });
                }
            }
        }
        progress(&Progress {
            elapsed,
            duration: settings.duration,
            ops: counters.ops.load(Ordering::Relaxed),
            hits: counters.hits.load(Ordering::Relaxed),
            reads: counters.reads.load(Ordering::Relaxed),
            stale_reads: lock(&checker).stale_count,
            members: clients
                .iter()
                .zip(&kinds)
                .map(|(c, k)| (c.name.clone(), *k))
                .collect(),
        });
        let all_done = ops.iter().all(|h| h.is_finished());
        if elapsed >= settings.duration || all_done {
            break;
        }
        tokio::time::sleep(tick.min(settings.duration.saturating_sub(elapsed))).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut first_error = None;
    for h in ops {
        match timeout(WAIT, h).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                first_error.get_or_insert(e);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(RunError::Stalled(format!("a client task failed: {e}")));
            }
            Err(_) => {
                first_error.get_or_insert(RunError::Stalled("a client did not stop".into()));
            }
        }
    }
    let elapsed = start.elapsed();
    if let Some(e) = first_error {
        return Err(e);
    }
    // Restore the cut-off members, so that everything is delivered.
    for client in &clients {
        if matches!(client.spec, ClientSpec::Flapping { .. }) {
            client.ep.set_multicast_loss(0.0);
        }
    }

    // Convergence: every group message delivered, then FIN (the last group
    // message) makes every client report its cache.
    let mut snaps = Vec::new();
    for client in &clients {
        let (tx, rx) = oneshot::channel();
        lock(&client.state).fin = Some(tx);
        snaps.push(rx);
    }
    timeout(WAIT, group.flushed())
        .await
        .map_err(|_| RunError::Stalled("the group did not flush".into()))??;
    group.send(0, Msg::Fin.encode(0)).await?;
    group_messages.fetch_add(1, Ordering::Relaxed);
    let final_store: HashMap<u32, (u64, u64)> = lock(&store)
        .iter()
        .map(|(k, (v, val))| (*k, (*v, digest(val))))
        .collect();
    let mut divergence = Vec::new();
    for (client, rx) in clients.iter().zip(snaps) {
        let snap = match timeout(WAIT, rx).await {
            Ok(Ok(s)) => s,
            _ => {
                divergence.push(format!("{}: no FIN in {WAIT:?}", client.name));
                continue;
            }
        };
        let mut bad = 0;
        let mut first = None;
        for (k, (v, dig)) in &final_store {
            let known = snap.known.get(k).copied().unwrap_or(0);
            let cached = snap.cache.get(k);
            let ok = known == *v && cached.is_none_or(|c| c == &(*v, *dig));
            if !ok {
                bad += 1;
                first.get_or_insert(format!(
                    "key {k}: home version {v}, told of {known}, cached {:?}",
                    cached.map(|c| c.0)
                ));
            }
        }
        if bad > 0 {
            divergence.push(format!(
                "{}: {bad} keys differ from the home node ({})",
                client.name,
                first.unwrap_or_default()
            ));
        }
    }

    // The figures.
    let members = group.members();
    let sent = server.sent();
    let mut rows = Vec::new();
    let mut latencies = Vec::new();
    let mut multicast_receivers = 0;
    for (i, client) in clients.iter().enumerate() {
        let info = members.iter().find(|mi| name_of(mi.address) == Some(i));
        let st = lock(&client.state);
        latencies.extend(st.latencies_ns.iter().map(|n| Duration::from_nanos(*n)));
        // Fan-out would have sent the group's packets to every member that
        // took them by multicast at some point (seen by the progress loop or
        // at the end).
        if ever_multicast[i] || info.is_some_and(|mi| mi.kind == MemberKind::Multicast) {
            multicast_receivers += 1;
        }
        rows.push(ClientRow {
            name: client.name.clone(),
            spec: client.spec,
            kind: info.map(|mi| mi.kind),
            deliveries: st.deliveries,
            multicast_chunks: client
                .assoc
                .member_figures()
                .map_or(0, |f| f.multicast_chunks),
            repairs: info.map_or(0, |mi| mi.repairs),
            fallbacks: info.map_or(0, |mi| mi.fallbacks),
            returns: info.map_or(0, |mi| mi.returns),
            ops: client.ops.load(Ordering::Relaxed),
        });
    }
    latencies.sort_unstable();
    let report = {
        let ck = lock(&checker);
        Report {
            barrier: settings.barrier,
            elapsed,
            ops: counters.ops.load(Ordering::Relaxed),
            reads: counters.reads.load(Ordering::Relaxed),
            hits: counters.hits.load(Ordering::Relaxed),
            writes: counters.writes.load(Ordering::Relaxed),
            latencies,
            stale: ck.stale.clone(),
            stale_count: ck.stale_count,
            wrong_values: ck.wrong_values,
            divergence,
            clients: rows,
            sent,
            group_messages: group_messages.load(Ordering::Relaxed),
            multicast_receivers,
        }
    };

    // Tear down: the clients, then the home.
    for client in &clients {
        let _ = timeout(WAIT, client.ep.shutdown()).await;
    }
    for r in receivers {
        r.abort();
    }
    let _ = timeout(WAIT, server.shutdown()).await;
    home_task.abort();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_ignored() {
        let all = [
            Msg::Get { req: 7, key: 3 },
            Msg::Put {
                req: 8,
                key: 4,
                value: Bytes::from_static(b"v"),
            },
            Msg::Value {
                req: 9,
                key: 5,
                version: 6,
                value: Bytes::from_static(b"xyz"),
            },
            Msg::Ack {
                req: 10,
                key: 6,
                version: 11,
            },
            Msg::Fin,
        ];
        for m in all {
            assert_eq!(Msg::decode(m.encode(0)), Some(m));
        }
        let inval = Msg::Inval {
            key: 1,
            version: 2,
            sent_ns: 3,
        };
        let b = inval.encode(100);
        assert_eq!(b.len(), 100);
        assert_eq!(Msg::decode(b), Some(inval));
        assert_eq!(Msg::decode(Bytes::new()), None);
        assert_eq!(Msg::decode(Bytes::from_static(&[ACK, 1, 2])), None);
        assert_eq!(Msg::decode(Bytes::from_static(&[99])), None);
    }

    #[test]
    fn the_checker_flags_a_read_older_than_what_the_client_was_told() {
        let mut ck = Checker {
            known: vec![HashMap::new()],
            names: vec!["c".into()],
            ..Checker::default()
        };
        ck.written.insert((1, 1), digest(b"one"));
        ck.written.insert((1, 2), digest(b"two"));
        ck.returned(0, 1, 1, digest(b"one"));
        ck.told(0, 1, 2);
        ck.returned(0, 1, 2, digest(b"two"));
        assert_eq!(ck.stale_count, 0);
        ck.returned(0, 1, 1, digest(b"one"));
        assert_eq!(ck.stale_count, 1);
        assert_eq!(ck.stale[0].known, 2);
        ck.returned(0, 1, 2, digest(b"one"));
        assert_eq!(ck.wrong_values, 1);
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let mut s = Settings::demo(5, 0.0, Duration::from_secs(1), 100);
        assert!(s.validate().is_ok());
        s.size = 3;
        assert!(s.validate().unwrap_err().contains("size"));
        s.size = 100;
        s.clients[0] = ClientSpec::Multicast { loss: 2.0 };
        assert!(s.validate().unwrap_err().contains("loss"));
    }
}
