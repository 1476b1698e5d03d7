//! Log replication over a multicast group, on loopback, with real sockets.
//!
//! A leader appends an ordered log of updates (`key = value`, each with a
//! sequence number) and sends each entry once to its group; N followers,
//! members of the group (`Config::multicast`), receive the entries through
//! their ordinary `recv` (marked `Message::group`), apply them in order and
//! acknowledge by unicast over their association ("applied up to seq",
//! every [`ACK_EVERY`] or sooner when idle). With `--kill`, one follower is
//! killed mid-run (its endpoint dropped: its association is aborted and
//! its state lost) and restarted (a new endpoint connects again); it catches
//! up by late join plus a state transfer:
//!
//! * **What the group gives a late joiner.** The server fixes a member's
//!   Start MTSN when it accepts the COOKIE ECHO: "the next MTSN the group
//!   will assign", and the member receives exactly the group messages whose
//!   first fragment has an MTSN at or above it (draft §"Server: Start
//!   MTSN"). "Group messages sent before the Start MTSN are not delivered
//!   to it; an application that needs the earlier state sends the member a
//!   unicast snapshot" (draft §"MSYNC: Tail Loss, Timestamps and Late
//!   Join"). The group never re-sends the earlier entries.
//!
//!   (mcsctp-mcast fixes it when it takes in the MREACH that the member
//!   bundles with its COOKIE ECHO, so before any DATA of the association
//!   reaches the server.)
//!
//! * **The snapshot.** Every follower incarnation starts by sending HELLO
//!   over its association. The leader, on HELLO, copies its state and the
//!   sequence number S it covers and sends that snapshot back over the
//!   same association (stream 1, in parts, then an END carrying S and the
//!   snapshot's digest). The leader applies an entry to its own state
//!   *before* it hands it to the group, and HELLO is processed only once
//!   the association exists, so: every entry sent to the group before the
//!   follower's Start MTSN was fixed is in the snapshot (seq <= S), and
//!   every entry after S is handed to the group after the snapshot was
//!   taken, so after the Start MTSN, and reaches the follower by the group.
//!   No entry falls between the two.
//!
//! * **The follower's side.** Until END arrives, group entries are
//!   buffered (the snapshot travels on the association, the entries on the
//!   group path: they race). At END the follower installs the snapshot
//!   (checking its digest), discards the buffered entries with seq <= S
//!   (handed to the group before the snapshot was taken, already in it)
//!   and applies the rest. Such an entry can also arrive *after* END (a
//!   group entry overtaken by the snapshot, e.g. one waiting for a repair
//!   or for the group's window): it is discarded too. Every other group
//!   entry must be exactly the next sequence number, or the run fails (a
//!   gap or a duplicate).
//!
//! The draft's own ordering tool for this case, a unicast-first BARRIER
//! (D=1) with the Start parameter withheld until the snapshot is
//! acknowledged (draft §"Sending BARRIER"), is in mcsctp-mcast
//! (`GroupServer::send_before_group`) but not in the runtime's public API
//! yet; the follower-side buffering above reaches the same state with what
//! the API offers, at the cost of a buffer at the restarted follower.
//!
//! The kill drops the follower's endpoint, which aborts its association
//! (the leader's group sees it leave at once). A crash that sends nothing
//! would leave the member in the group until the server evicts it for
//! making no progress (draft §"Backlog Limits and Eviction"); the group's
//! send buffer could fill meanwhile and hold the leader's appends.
//!
//! The run reports the replication lag (leader append to follower apply,
//! one clock: everything runs in one process) and the SHA-256 digest of
//! every follower's sorted state beside the leader's.
//!
//! ```text
//! cargo run --release --example cluster -- --followers 4 --entries 20000 --kill
//! ```
//!
//! The logic is [`run`], which `tests/cluster.rs` includes with `#[path]`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use clap::Parser;
use mcsctp::{
    AssociationId, Config, DeliveryKind, Endpoint, Group, GroupConfig, Interface, MembershipEvent,
    Message, MulticastConfig,
};
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc};
use tokio::time::{sleep, timeout};

/// The leader's SCTP port.
const LEADER_PORT: u16 = 7;
/// The group stream of log entries.
const LOG_STREAM: u16 = 0;
/// The unicast stream of HELLO, ACK and the snapshot.
const CONTROL_STREAM: u16 = 1;
/// A follower acknowledges after this many applied entries…
const ACK_EVERY: u64 = 64;
/// …or after this long with something unacknowledged.
const ACK_INTERVAL: Duration = Duration::from_millis(10);
/// A snapshot part ends after the entry that takes it past this many
/// octets.
const SNAPSHOT_PART: usize = 16 * 1024;
/// The bound on every wait of the run: a stalled run fails with a message.
const STALL: Duration = Duration::from_secs(30);

/// Message tags (first octet).
const TAG_ENTRY: u8 = b'E';
const TAG_HELLO: u8 = b'H';
const TAG_ACK: u8 = b'A';
const TAG_SNAPSHOT: u8 = b'S';
const TAG_END: u8 = b'Z';

/// What to run.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "cluster",
    about = "A leader replicates a log to followers over a multicast group"
)]
pub(crate) struct Options {
    /// Followers (group members).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) followers: u32,
    /// Log entries to append (unless --duration is given).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) entries: u64,
    /// Append for this long instead of a fixed number of entries (e.g. 5s).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Entries appended per second.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) rate: u64,
    /// Octets of each entry's value.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(8..=60_000))]
    pub(crate) size: u32,
    /// Distinct keys the entries write to.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) keys: u32,
    /// Kill one follower a third of the way through and restart it (the
    /// leader holds at two thirds until it is back, so that the restart
    /// always lands mid-run).
    #[arg(long)]
    pub(crate) kill: bool,
    /// How long the killed follower stays down.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    pub(crate) downtime: Duration,
    /// The group (IPv4 multicast ADDR:PORT); default 239.255.x.77 with x
    /// from the process id, on a free port.
    #[arg(long)]
    pub(crate) group: Option<SocketAddr>,
}

/// A duration: a number with a unit (`ms`, `s`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 500ms, 5s)"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        _ => return Err(format!("'{s}': unit must be ms or s")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("'{s}': {e}"))
}

/// One follower's outcome.
#[derive(Debug, Clone)]
pub(crate) struct FollowerReport {
    /// Its number (0…).
    pub(crate) id: u32,
    /// Incarnations (2 for the one killed and restarted).
    pub(crate) incarnations: u32,
    /// The last sequence number applied.
    pub(crate) applied: u64,
    /// The last incarnation's snapshot covered entries 1..=S.
    pub(crate) snapshot_seq: u64,
    /// Entries the last incarnation applied from the group log, each
    /// exactly the next sequence number.
    pub(crate) log_applied: u64,
    /// Group entries the last incarnation buffered while its snapshot was
    /// on its way.
    pub(crate) buffered: u64,
    /// Group entries it discarded as already in its snapshot (seq <= S),
    /// buffered or arriving after the snapshot.
    pub(crate) discarded: u64,
    /// From the restart (new endpoint) to the snapshot installed.
    pub(crate) catch_up: Option<Duration>,
    /// SHA-256 of its sorted state.
    pub(crate) digest: [u8; 32],
    /// Group chunks the last incarnation's association got by multicast
    /// (the rest were repairs over the association).
    pub(crate) multicast_chunks: u64,
    /// Group chunks it got more than once (either path).
    pub(crate) duplicate_chunks: u64,
}

/// Replication lag percentiles.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lag {
    /// Entries measured.
    pub(crate) count: usize,
    /// Median.
    pub(crate) p50: Duration,
    /// 99th percentile.
    pub(crate) p99: Duration,
    /// 99.9th percentile.
    pub(crate) p999: Duration,
    /// Largest.
    pub(crate) max: Duration,
}

/// What a run did.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// Entries the leader appended.
    pub(crate) entries: u64,
    /// From the first append to the last, without `held`.
    pub(crate) append_time: Duration,
    /// How long the leader held its appends at two thirds for the
    /// restarted follower to come back (zero when it was back by then).
    pub(crate) held: Duration,
    /// SHA-256 of the leader's sorted state after the last entry.
    pub(crate) leader_digest: [u8; 32],
    /// Keys in the final state.
    pub(crate) keys: usize,
    /// Every follower, by id.
    pub(crate) followers: Vec<FollowerReport>,
    /// Lag of the entries applied live from the group (not from a
    /// post-snapshot buffer).
    pub(crate) lag: Lag,
    /// Lag of the entries a restarted follower applied from its buffer
    /// once its snapshot was in.
    pub(crate) catch_up_lag: Lag,
    /// Joins the leader's group reported by the time the last entry was
    /// acknowledged.
    pub(crate) joins: u32,
    /// Leaves and removals reported by then (the killed follower's
    /// aborted association).
    pub(crate) leaves: u32,
    /// Octets the leader sent to the group address (each entry once).
    pub(crate) multicast_octets: u64,
    /// Octets over associations (snapshots, repairs, SACKs).
    pub(crate) unicast_octets: u64,
}

impl Report {
    /// Whether every follower ended with the leader's state at the last
    /// entry, having applied each entry exactly once in order.
    pub(crate) fn converged(&self) -> bool {
        self.followers.iter().all(|f| {
            f.applied == self.entries
                && f.snapshot_seq + f.log_applied == self.entries
                && f.digest == self.leader_digest
        })
    }
}

/// A log entry's key and value, derived from its sequence number.
fn entry_kv(seq: u64, keys: u32, size: u32) -> (u32, Bytes) {
    let key = (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32 % keys;
    let mut v = BytesMut::with_capacity(size as usize);
    v.put_u64(seq);
    let mut x = seq | 1;
    while v.len() < size as usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.put_u8(x as u8);
    }
    (key, v.freeze())
}

/// SHA-256 over the state sorted by key: each key (4 octets), the value's
/// length (4 octets), the value.
fn digest(state: &BTreeMap<u32, Bytes>) -> [u8; 32] {
    let mut h = Sha256::new();
    for (k, v) in state {
        h.update(k.to_be_bytes());
        h.update((v.len() as u32).to_be_bytes());
        h.update(v);
    }
    h.finalize().into()
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A decoded log entry.
#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    /// When the leader appended it, nanoseconds since the run's epoch.
    appended: u64,
    key: u32,
    value: Bytes,
}

fn encode_entry(e: &Entry) -> Bytes {
    let mut b = BytesMut::with_capacity(21 + e.value.len());
    b.put_u8(TAG_ENTRY);
    b.put_u64(e.seq);
    b.put_u64(e.appended);
    b.put_u32(e.key);
    b.put_slice(&e.value);
    b.freeze()
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn decode_entry(b: &Bytes) -> Option<Entry> {
    (b.first() == Some(&TAG_ENTRY) && b.len() >= 21).then(|| Entry {
        seq: be_u64(b, 1).unwrap_or(0),
        appended: be_u64(b, 9).unwrap_or(0),
        key: be_u32(b, 17).unwrap_or(0),
        value: b.slice(21..),
    })
}

/// HELLO or ACK: tag, follower id, incarnation, sequence number.
fn encode_control(tag: u8, id: u32, incarnation: u32, seq: u64) -> Bytes {
    let mut b = BytesMut::with_capacity(17);
    b.put_u8(tag);
    b.put_u32(id);
    b.put_u32(incarnation);
    b.put_u64(seq);
    b.freeze()
}

fn decode_control(b: &[u8]) -> Option<(u8, u32, u32, u64)> {
    (b.len() == 17).then_some(())?;
    Some((b[0], be_u32(b, 1)?, be_u32(b, 5)?, be_u64(b, 9)?))
}

/// Loopback-scale timers, as the loopback tests use.
fn endpoint_config(sctp_port: u16, member: bool) -> Config {
    let mut c = Config::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), sctp_port);
    c.core.association.rto_min = Duration::from_millis(5);
    c.core.association.rto_initial = Duration::from_millis(50);
    c.core.association.rto_max = Duration::from_millis(500);
    if member {
        c.multicast = Some(MulticastConfig::on(Interface::Name("lo".into())));
    }
    c
}

/// The default group: 239.255.x.77 (x from the process id) on a UDP port
/// free right now.
fn default_group() -> Result<SocketAddr, String> {
    let port = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.local_addr())
        .map_err(|e| format!("no free UDP port: {e}"))?
        .port();
    let x = (std::process::id() % 251) as u8;
    Ok(SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(239, 255, x, 77),
        port,
    )))
}

/// The leader's state, shared by the appender and the snapshot senders.
#[derive(Debug, Default)]
struct LeaderState {
    seq: u64,
    state: BTreeMap<u32, Bytes>,
}

/// What followers told the leader: per follower id, (incarnation, applied).
#[derive(Debug, Default)]
struct Acks {
    by_follower: HashMap<u32, (u32, u64)>,
}

/// A command from the run to a follower task (the test harness: a kill
/// stands for a crash, which no protocol message announces).
#[derive(Debug)]
enum Control {
    /// Drop the endpoint, stay down this long, come back with no state.
    Kill(Duration),
    /// The run is over: report.
    Stop,
}

/// Runs the leader and the followers until every follower has
/// acknowledged the last entry, and reports. Every wait is bounded: a
/// stalled or wrong run is an `Err` with the reason.
pub(crate) async fn run(opts: Options) -> Result<Report, String> {
    let epoch = Instant::now();
    let gaddr = match opts.group {
        Some(g) => g,
        None => default_group()?,
    };
    let leader = Endpoint::bind(endpoint_config(LEADER_PORT, false))
        .map_err(|e| format!("leader bind: {e}"))?;
    let mut gcfg = GroupConfig::default();
    gcfg.interface = Some(Interface::Name("lo".into()));
    let group = leader
        .create_group(gaddr, gcfg)
        .map_err(|e| format!("group {gaddr}: {e}"))?;
    let shared = Arc::new(Mutex::new(LeaderState::default()));
    let acks = Arc::new(Mutex::new(Acks::default()));
    let acked = Arc::new(Notify::new());
    let (fail_tx, mut fail_rx) = mpsc::unbounded_channel::<String>();

    // The leader's receiver: HELLO starts a snapshot, ACK is noted.
    let receiver = tokio::spawn(leader_receive(
        leader.clone(),
        shared.clone(),
        acks.clone(),
        acked.clone(),
        fail_tx.clone(),
    ));
    // Membership events (joins and the killed follower's leave).
    let counts = Arc::new((AtomicU32::new(0), AtomicU32::new(0)));
    let events = tokio::spawn(count_events(group.clone(), counts.clone()));

    // The followers.
    let mut followers = Vec::new();
    for id in 0..opts.followers {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(follower(
            id,
            leader.local_addr(),
            epoch,
            rx,
            fail_tx.clone(),
        ));
        followers.push((tx, task));
    }
    // Wait until every follower has its (empty) snapshot: each acks 0.
    wait_acks(&acks, &acked, &mut fail_rx, |a| {
        (0..opts.followers).all(|id| a.by_follower.contains_key(&id))
    })
    .await
    .map_err(|e| format!("followers joining: {e}"))?;

    // Append, paced at --rate, in batches of a millisecond's worth.
    let start = Instant::now();
    let stop_at = opts.duration.map(|d| start + d);
    let total_planned = opts.entries;
    let victim = opts.followers - 1;
    let mut killed = false;
    let mut back = false;
    // Time the leader held for the restarted follower: not appending time.
    let mut held = Duration::ZERO;
    let mut seq = 0u64;
    loop {
        let done = match stop_at {
            Some(t) => Instant::now() >= t + held,
            None => seq >= total_planned,
        };
        if done {
            break;
        }
        let elapsed = start.elapsed().saturating_sub(held);
        let third = match opts.duration {
            Some(d) => elapsed >= d / 3,
            None => seq >= total_planned / 3,
        };
        let two_thirds = match opts.duration {
            Some(d) => elapsed >= d * 2 / 3,
            None => seq >= total_planned * 2 / 3,
        };
        if killed && two_thirds && !back {
            // The restart lands mid-run whatever the timing: the leader
            // holds here (bounded) until the restarted follower has its
            // snapshot; the entries after this go to it by the group.
            let is_back = |a: &Acks| a.by_follower.get(&victim).is_some_and(|&(inc, _)| inc == 2);
            if !is_back(&acks.lock().unwrap_or_else(|e| e.into_inner())) {
                let t = Instant::now();
                wait_acks(&acks, &acked, &mut fail_rx, is_back)
                    .await
                    .map_err(|e| format!("the restarted follower coming back: {e}"))?;
                held = t.elapsed();
            }
            back = true;
            continue;
        }
        if opts.kill && !killed && third {
            killed = true;
            followers[victim as usize]
                .0
                .send(Control::Kill(opts.downtime))
                .map_err(|_| "the follower to kill is gone".to_string())?;
        }
        // Entries due by now.
        let due = (elapsed.as_secs_f64() * opts.rate as f64) as u64 + 1;
        let due = match stop_at {
            Some(_) => due,
            None => due.min(total_planned),
        };
        if seq >= due {
            sleep(Duration::from_millis(1)).await;
            continue;
        }
        while seq < due {
            seq += 1;
            let (key, value) = entry_kv(seq, opts.keys, opts.size);
            let appended = epoch.elapsed().as_nanos() as u64;
            let entry = Entry {
                seq,
                appended,
                key,
                value: value.clone(),
            };
            // Applied to the leader's state before it goes to the group:
            // a snapshot taken after this covers it (see the module docs).
            {
                let mut st = shared.lock().unwrap_or_else(|e| e.into_inner());
                st.seq = seq;
                st.state.insert(key, value);
            }
            timeout(STALL, group.send(LOG_STREAM, encode_entry(&entry)))
                .await
                .map_err(|_| format!("group send of entry {seq} stalled"))?
                .map_err(|e| format!("group send of entry {seq}: {e}"))?;
        }
    }
    let append_time = start.elapsed().saturating_sub(held);
    let entries = seq;
    let leader_digest = {
        let st = shared.lock().unwrap_or_else(|e| e.into_inner());
        (digest(&st.state), st.state.len())
    };

    // Every follower (the restarted one in its second life) has applied
    // the last entry.
    let must_restart = opts.kill && killed;
    wait_acks(&acks, &acked, &mut fail_rx, |a| {
        (0..opts.followers).all(|id| {
            a.by_follower.get(&id).is_some_and(|&(inc, s)| {
                s == entries && (!must_restart || id != victim || inc == 2)
            })
        })
    })
    .await
    .map_err(|e| format!("followers catching up to entry {entries}: {e}"))?;

    // Membership as the group saw it, before the followers stop.
    let (joins, leaves) = (
        counts.0.load(Ordering::Relaxed),
        counts.1.load(Ordering::Relaxed),
    );
    let mut reports = Vec::new();
    let mut live = Vec::new();
    let mut catch_up = Vec::new();
    for (tx, task) in followers {
        let _ = tx.send(Control::Stop);
        let (r, l, c) = timeout(STALL, task)
            .await
            .map_err(|_| "a follower did not stop".to_string())?
            .map_err(|e| format!("follower task: {e}"))??;
        reports.push(r);
        live.extend(l);
        catch_up.extend(c);
    }
    receiver.abort();
    events.abort();
    let sent = leader.sent();
    drop(group);
    timeout(STALL, leader.shutdown())
        .await
        .map_err(|_| "leader shutdown stalled".to_string())?;
    Ok(Report {
        entries,
        append_time,
        held,
        leader_digest: leader_digest.0,
        keys: leader_digest.1,
        followers: reports,
        lag: percentiles(live),
        catch_up_lag: percentiles(catch_up),
        joins,
        leaves,
        multicast_octets: sent.multicast_octets,
        unicast_octets: sent.unicast_octets,
    })
}

/// Waits (bounded) until `done` holds for the acknowledgements, failing
/// early if a follower reported an error.
async fn wait_acks(
    acks: &Mutex<Acks>,
    acked: &Notify,
    fail: &mut mpsc::UnboundedReceiver<String>,
    done: impl Fn(&Acks) -> bool,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + STALL;
    loop {
        let notified = acked.notified();
        if done(&acks.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(());
        }
        tokio::select! {
            _ = notified => {}
            Some(e) = fail.recv() => return Err(e),
            _ = tokio::time::sleep_until(deadline) => {
                let a = acks.lock().unwrap_or_else(|e| e.into_inner());
                return Err(format!("stalled for {STALL:?}; acknowledged: {:?}", a.by_follower));
            }
        }
    }
}

/// Counts joins and leaves (or removals) until aborted.
async fn count_events(group: Group, counts: Arc<(AtomicU32, AtomicU32)>) {
    loop {
        match group.next_event().await {
            Ok(MembershipEvent::Joined { .. }) => counts.0.fetch_add(1, Ordering::Relaxed),
            Ok(MembershipEvent::Left(_) | MembershipEvent::Removed(_)) => {
                counts.1.fetch_add(1, Ordering::Relaxed)
            }
            Ok(_) => continue,
            Err(_) => return,
        };
    }
}

/// The leader's receive loop.
async fn leader_receive(
    ep: Endpoint,
    shared: Arc<Mutex<LeaderState>>,
    acks: Arc<Mutex<Acks>>,
    acked: Arc<Notify>,
    fail: mpsc::UnboundedSender<String>,
) {
    loop {
        let Ok(m) = ep.recv().await else { return };
        if m.kind != DeliveryKind::Message {
            continue;
        }
        match decode_control(&m.data) {
            Some((TAG_HELLO, _id, _inc, _)) => {
                // The association exists, so the member's Start MTSN is
                // fixed: the snapshot taken now covers every entry the
                // group will not deliver to it.
                let (seq, state) = {
                    let st = shared.lock().unwrap_or_else(|e| e.into_inner());
                    (st.seq, st.state.clone())
                };
                let ep = ep.clone();
                let fail = fail.clone();
                tokio::spawn(async move {
                    if let Err(e) = send_snapshot(&ep, m.association, seq, &state).await {
                        let _ = fail.send(format!("snapshot at {seq}: {e}"));
                    }
                });
            }
            Some((TAG_ACK, id, inc, seq)) => {
                let mut a = acks.lock().unwrap_or_else(|e| e.into_inner());
                let e = a.by_follower.entry(id).or_insert((inc, seq));
                if inc >= e.0 {
                    *e = (inc, seq);
                }
                drop(a);
                acked.notify_waiters();
            }
            _ => {
                let _ = fail.send(format!("leader: a bad message of {} octets", m.data.len()));
            }
        }
    }
}

/// The snapshot of the state at `seq`: parts of about [`SNAPSHOT_PART`]
/// octets, then END with `seq`, the number of keys and the digest.
async fn send_snapshot(
    ep: &Endpoint,
    to: AssociationId,
    seq: u64,
    state: &BTreeMap<u32, Bytes>,
) -> Result<(), String> {
    let assoc = ep.association(to);
    let mut entries = state.iter().peekable();
    while entries.peek().is_some() {
        let mut b = BytesMut::new();
        b.put_u8(TAG_SNAPSHOT);
        for (k, v) in entries.by_ref() {
            b.put_u32(*k);
            b.put_u32(v.len() as u32);
            b.put_slice(v);
            if b.len() >= SNAPSHOT_PART {
                break;
            }
        }
        timeout(STALL, assoc.send(CONTROL_STREAM, b.freeze()))
            .await
            .map_err(|_| "stalled".to_string())?
            .map_err(|e| e.to_string())?;
    }
    let mut b = BytesMut::new();
    b.put_u8(TAG_END);
    b.put_u64(seq);
    b.put_u32(state.len() as u32);
    b.put_slice(&digest(state));
    timeout(STALL, assoc.send(CONTROL_STREAM, b.freeze()))
        .await
        .map_err(|_| "stalled".to_string())?
        .map_err(|e| e.to_string())
}

/// Lags of one follower: applied live, and applied from the post-snapshot
/// buffer.
type Lags = (Vec<Duration>, Vec<Duration>);

/// One follower incarnation's replica.
struct Replica {
    id: u32,
    incarnation: u32,
    state: BTreeMap<u32, Bytes>,
    applied: u64,
    /// Some while the snapshot is on its way: the parts so far and the
    /// group entries that came meanwhile.
    syncing: Option<(BTreeMap<u32, Bytes>, Vec<Entry>)>,
    snapshot_seq: u64,
    log_applied: u64,
    buffered: u64,
    discarded: u64,
    acked: u64,
    last_ack: Instant,
}

impl Replica {
    fn new(id: u32, incarnation: u32) -> Self {
        Self {
            id,
            incarnation,
            state: BTreeMap::new(),
            applied: 0,
            syncing: Some((BTreeMap::new(), Vec::new())),
            snapshot_seq: 0,
            log_applied: 0,
            buffered: 0,
            discarded: 0,
            acked: u64::MAX,
            last_ack: Instant::now(),
        }
    }

    /// Applies the next entry; anything but the next sequence number is a
    /// replication failure.
    fn apply(&mut self, e: Entry) -> Result<(), String> {
        if e.seq != self.applied + 1 {
            return Err(format!(
                "follower {} (incarnation {}, snapshot at {}): entry {} after {} ({})",
                self.id,
                self.incarnation,
                self.snapshot_seq,
                e.seq,
                self.applied,
                if e.seq <= self.applied {
                    "a duplicate"
                } else {
                    "a gap"
                }
            ));
        }
        self.state.insert(e.key, e.value);
        self.applied = e.seq;
        self.log_applied += 1;
        Ok(())
    }

    /// Handles one message; returns the lags of the entries it applied
    /// (live or from the buffer).
    fn handle(&mut self, m: Message, epoch: Instant, lags: &mut Lags) -> Result<(), String> {
        let who = format!("follower {} (incarnation {})", self.id, self.incarnation);
        if m.kind != DeliveryKind::Message {
            return Err(format!("{who}: a message delivered as {:?}", m.kind));
        }
        let lag = |appended: u64| {
            epoch
                .elapsed()
                .saturating_sub(Duration::from_nanos(appended))
        };
        if m.group {
            let e = decode_entry(&m.data)
                .ok_or_else(|| format!("{who}: a bad group message of {} octets", m.data.len()))?;
            if let Some((_, buf)) = self.syncing.as_mut() {
                self.buffered += 1;
                buf.push(e);
                return Ok(());
            }
            if e.seq <= self.snapshot_seq {
                // Handed to the group before the snapshot was taken, and
                // overtaken by it: already in the state.
                self.discarded += 1;
                return Ok(());
            }
            let appended = e.appended;
            self.apply(e)?;
            lags.0.push(lag(appended));
            return Ok(());
        }
        let Some((parts, buffer)) = self.syncing.as_mut() else {
            return Err(format!("{who}: a unicast message after its snapshot"));
        };
        match m.data.first() {
            Some(&TAG_SNAPSHOT) => {
                let mut at = 1;
                while at < m.data.len() {
                    let (Some(k), Some(n)) = (be_u32(&m.data, at), be_u32(&m.data, at + 4)) else {
                        return Err(format!("{who}: a truncated snapshot part"));
                    };
                    let end = at + 8 + n as usize;
                    if end > m.data.len() {
                        return Err(format!("{who}: a truncated snapshot part"));
                    }
                    parts.insert(k, m.data.slice(at + 8..end));
                    at = end;
                }
                Ok(())
            }
            Some(&TAG_END) => {
                let (Some(seq), Some(n), Some(d)) =
                    (be_u64(&m.data, 1), be_u32(&m.data, 9), m.data.get(13..45))
                else {
                    return Err(format!("{who}: a bad snapshot end"));
                };
                if parts.len() != n as usize || digest(parts) != d {
                    return Err(format!(
                        "{who}: the snapshot at {seq} has {} keys and digest {}, END says {n} and {}",
                        parts.len(),
                        hex(&digest(parts)),
                        hex(d)
                    ));
                }
                let buffer = std::mem::take(buffer);
                self.state = std::mem::take(parts);
                self.syncing = None;
                self.applied = seq;
                self.snapshot_seq = seq;
                for e in buffer {
                    if e.seq <= seq {
                        self.discarded += 1;
                        continue;
                    }
                    let appended = e.appended;
                    self.apply(e)?;
                    lags.1.push(lag(appended));
                }
                Ok(())
            }
            _ => Err(format!("{who}: a bad unicast message")),
        }
    }
}

/// A follower: connects, asks for its snapshot, applies the log and
/// acknowledges, until told to stop; killed, it starts over with nothing.
async fn follower(
    id: u32,
    leader: SocketAddr,
    epoch: Instant,
    mut control: mpsc::UnboundedReceiver<Control>,
    fail: mpsc::UnboundedSender<String>,
) -> Result<(FollowerReport, Vec<Duration>, Vec<Duration>), String> {
    let r = follower_inner(id, leader, epoch, &mut control).await;
    if let Err(e) = &r {
        let _ = fail.send(e.clone());
    }
    r
}

async fn follower_inner(
    id: u32,
    leader: SocketAddr,
    epoch: Instant,
    control: &mut mpsc::UnboundedReceiver<Control>,
) -> Result<(FollowerReport, Vec<Duration>, Vec<Duration>), String> {
    let mut lags: Lags = (Vec::new(), Vec::new());
    let mut incarnation = 0;
    let mut restarted_at = None;
    let mut catch_up = None;
    loop {
        incarnation += 1;
        let who = format!("follower {id} (incarnation {incarnation})");
        let ep = Endpoint::bind(endpoint_config(0, true)).map_err(|e| format!("{who}: {e}"))?;
        let assoc = timeout(STALL, ep.connect(leader, LEADER_PORT))
            .await
            .map_err(|_| format!("{who}: connect stalled"))?
            .map_err(|e| format!("{who}: connect: {e}"))?;
        timeout(
            STALL,
            assoc.send(
                CONTROL_STREAM,
                encode_control(TAG_HELLO, id, incarnation, 0),
            ),
        )
        .await
        .map_err(|_| format!("{who}: HELLO stalled"))?
        .map_err(|e| format!("{who}: HELLO: {e}"))?;
        let mut r = Replica::new(id, incarnation);
        let mut tick = tokio::time::interval(ACK_INTERVAL);
        let command = loop {
            tokio::select! {
                m = ep.recv() => {
                    let m = m.map_err(|e| format!("{who}: recv: {e}"))?;
                    r.handle(m, epoch, &mut lags)?;
                    if restarted_at.is_some() && catch_up.is_none() && r.syncing.is_none() {
                        catch_up = restarted_at.map(|t: Instant| t.elapsed());
                    }
                    if r.syncing.is_none() && r.applied >= r.acked.wrapping_add(ACK_EVERY) {
                        ack(&assoc, &mut r).await?;
                    }
                }
                _ = tick.tick() => {
                    if r.syncing.is_none() && (r.acked != r.applied) {
                        ack(&assoc, &mut r).await?;
                    }
                }
                c = control.recv() => break c,
            }
        };
        match command {
            Some(Control::Kill(down)) => {
                // A crash: the endpoint goes (its association is aborted),
                // and the state with it.
                drop(assoc);
                drop(ep);
                drop(r);
                sleep(down).await;
                restarted_at = Some(Instant::now());
            }
            Some(Control::Stop) | None => {
                let figures = assoc.member_figures();
                let report = FollowerReport {
                    id,
                    incarnations: incarnation,
                    applied: r.applied,
                    snapshot_seq: r.snapshot_seq,
                    log_applied: r.log_applied,
                    buffered: r.buffered,
                    discarded: r.discarded,
                    catch_up,
                    digest: digest(&r.state),
                    multicast_chunks: figures.map_or(0, |f| f.multicast_chunks),
                    duplicate_chunks: figures.map_or(0, |f| f.duplicate_chunks),
                };
                drop(assoc);
                ep.shutdown().await;
                return Ok((report, lags.0, lags.1));
            }
        }
    }
}

/// "Applied up to": the follower's acknowledgement, by unicast.
async fn ack(assoc: &mcsctp::Association, r: &mut Replica) -> Result<(), String> {
    timeout(
        STALL,
        assoc.send(
            CONTROL_STREAM,
            encode_control(TAG_ACK, r.id, r.incarnation, r.applied),
        ),
    )
    .await
    .map_err(|_| format!("follower {}: ACK stalled", r.id))?
    .map_err(|e| format!("follower {}: ACK: {e}", r.id))?;
    r.acked = r.applied;
    r.last_ack = Instant::now();
    Ok(())
}

fn percentiles(mut v: Vec<Duration>) -> Lag {
    if v.is_empty() {
        return Lag::default();
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    Lag {
        count: v.len(),
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
        max: v[v.len() - 1],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Prints the report.
pub(crate) fn print(opts: &Options, r: &Report) {
    println!(
        "cluster: {} followers, {} entries of {} octets over {} keys in {:.2} s ({:.0} entries/s){}",
        opts.followers,
        r.entries,
        opts.size,
        opts.keys,
        r.append_time.as_secs_f64(),
        r.entries as f64 / r.append_time.as_secs_f64().max(1e-9),
        if opts.kill {
            ", one follower killed and restarted"
        } else {
            ""
        }
    );
    println!(
        "replication lag (append -> apply, {} entries applied from the group): p50 {}  p99 {}  p99.9 {}  max {}",
        r.lag.count,
        ms(r.lag.p50),
        ms(r.lag.p99),
        ms(r.lag.p999),
        ms(r.lag.max)
    );
    if !r.held.is_zero() {
        println!(
            "  the leader held {} at two thirds for the restarted follower",
            ms(r.held)
        );
    }
    if r.catch_up_lag.count > 0 {
        println!(
            "  after a restart, {} entries buffered behind the snapshot: p50 {}  max {}",
            r.catch_up_lag.count,
            ms(r.catch_up_lag.p50),
            ms(r.catch_up_lag.max)
        );
    }
    println!(
        "leader: {} keys, digest {}; sent {} octets to the group, {} over associations; group events: {} joins, {} leaves",
        r.keys,
        hex(&r.leader_digest),
        r.multicast_octets,
        r.unicast_octets,
        r.joins,
        r.leaves
    );
    for f in &r.followers {
        let restart = match f.catch_up {
            Some(c) => format!(
                ", restarted: snapshot at {} in {}, {} entries buffered, {} discarded as already in it",
                f.snapshot_seq,
                ms(c),
                f.buffered,
                f.discarded
            ),
            None => String::new(),
        };
        println!(
            "follower {}: applied {} ({} by snapshot, {} from the log; {} group chunks by multicast, {} duplicates), digest {}… {}{}",
            f.id,
            f.applied,
            f.snapshot_seq,
            f.log_applied,
            f.multicast_chunks,
            f.duplicate_chunks,
            &hex(&f.digest)[..16],
            if f.digest == r.leader_digest {
                "= leader"
            } else {
                "!= LEADER"
            },
            restart
        );
    }
    println!(
        "verdict: {}",
        if r.converged() {
            "every follower applied every entry exactly once, in order, and holds the leader's state"
        } else {
            "DIVERGED"
        }
    );
}

fn main() -> std::process::ExitCode {
    let opts = Options::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cluster: tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(opts.clone())) {
        Ok(r) => {
            print(&opts, &r);
            if r.converged() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("cluster: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
