//! `mcsctp perf --group N`: a multicast group and N members in one process
//! on loopback (part of the `mcsctp` binary, not of the library).
//!
//! Two OS threads, each with its own single-threaded tokio runtime: the
//! server (its endpoint's driver runs on that thread too) and the members
//! (all N endpoints). The server's CPU time is the CPU time of its thread
//! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`: user and system time, so the
//! kernel's work inside its `sendmsg` calls, which on one host includes
//! copying each multicast packet to every member socket, is counted),
//! from the first message sent until every member has acknowledged the
//! last one. The members' work does not run on that thread; their one
//! thread's CPU time over the whole run is reported too.
//!
//! The members drop `--loss` percent of the group datagrams they receive
//! ([`MulticastConfig::receive_loss`]); the repairs then come over their
//! associations. `--fanout` sends the same workload as N unicast
//! associations from the same server instead of a group.
//!
//! Message i: i (8 bytes big-endian), the time it was handed to the
//! server's send call (8 bytes big-endian, nanoseconds since the run's
//! start), then `i as u8` to the end. Members check all three.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mcsctp::{Config, DeliveryKind, Endpoint, GroupConfig, Interface, MemberKind, MulticastConfig};
use tokio::sync::watch;

use super::{Failure, PerfArgs, kind_name};

/// How long the members may take to connect and join, and the server to
/// find room for a message or see everything acknowledged.
const LIMIT: Duration = Duration::from_secs(60);

/// How long the server waits for the members' joins to complete before
/// it sends anyway.
const JOIN_LIMIT: Duration = Duration::from_secs(5);

/// After the last message was sent: how long a member still waits for
/// what it misses.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Bytes before a message's filler: its number and its send time.
const HEADER: usize = 16;

/// The `--help` text of group mode, with the JSON fields.
pub(super) const HELP: &str = "\
Group mode (--group N): a group server and N members in this process, on
loopback (--interface, default lo). The server sends -n messages (or for -T
seconds) of -l bytes (at least 16) on stream 0 to the group, or with
--fanout to N unicast associations, and waits until every member has
acknowledged all of them. --plain K: the last K members join without the
multicast extension (plain SCTP peers, served by unicast). --loss P: each
multicast member drops P percent of the group datagrams it receives, at
random (repairs come over its association).

Output: one line for the run, one per member, one for the server's bytes
and CPU time, one for delivery latency; with --json one object:
  mode            \"multicast\" or \"fanout\"
  members, plain  N, K
  length          message size, bytes
  loss            --loss, percent
  messages        messages sent
  seconds         first send until every member acknowledged everything
  complete        every member delivered every message exactly once
  delivered_min   fewest messages a member delivered
  delivered_total messages delivered, all members
  goodput_min, goodput_mean   member goodput, bytes/s (bytes delivered /
                  time from the first send to the member's last message)
  repairs         chunks the server repaired by unicast, all members
  fallbacks       times a member went over to unicast, all members
  duplicates, out_of_order, corrupt   all members
  server_bytes_multicast, server_bytes_unicast   bytes the server sent
  server_datagrams_multicast, server_datagrams_unicast
  server_bytes_per_message   all server bytes / messages
  server_cpu_seconds  CPU time of the server's thread (user + system)
  server_cpu_share    server_cpu_seconds / seconds
  members_cpu_seconds CPU time of the members' thread, whole run (all N
                  members share it: at large N it, not the server, limits)
  latency_p50_us, latency_p99_us, latency_p999_us, latency_max_us
                  send call to delivery, all members (1.6 % resolution)
  latency_cdf_q, latency_cdf_us   the delivery latency distribution: the
                  quantiles 0.01 0.05 0.1 0.2 ... 0.9 0.95 0.99 0.999 1
                  and their latencies (the points of its CDF)
  kind, delivered, goodput, member_repairs, member_fallbacks   lists, one
                  entry per member
Bad arguments exit 2; a run in which a member missed messages exits 1.";

/// Group-mode arguments, checked.
struct Plan {
    members: usize,
    plain: usize,
    loss: f64,
    fanout: bool,
    length: usize,
    /// Messages to send; `None`: for `duration`.
    count: Option<u64>,
    duration: Option<Duration>,
    group: SocketAddr,
    interface: Interface,
}

fn plan(a: &PerfArgs, n: u32) -> Result<Plan, Failure> {
    let members = n as usize;
    let plain = a.plain.unwrap_or(0) as usize;
    if plain > members {
        return Err(Failure::usage(format!(
            "--plain {plain} is more than the {members} members of --group"
        )));
    }
    if a.length < HEADER {
        return Err(Failure::usage(format!(
            "message length (-l) {} is below {HEADER} in group mode (number and time stamp)",
            a.length
        )));
    }
    if a.mtu < 256 + 28 || a.mtu > 65_535 {
        return Err(Failure::usage(format!(
            "path MTU (--mtu) {} is out of range 284..=65535",
            a.mtu
        )));
    }
    if a.time == Some(0) || (a.time.is_none() && a.messages == 0) {
        return Err(Failure::usage(
            "group mode needs a message count (-n) or a duration (-T) above 0",
        ));
    }
    if a.unordered || a.policy != 0 || a.verify {
        return Err(Failure::usage(
            "-u, -P and --verify are not supported with --group",
        ));
    }
    let fanout = a.fanout;
    let loss = a.loss.unwrap_or(0.0);
    if fanout && loss > 0.0 {
        return Err(Failure::usage(
            "--loss drops group packets; --fanout sends none",
        ));
    }
    let group = match a.group_address {
        Some(g) if !g.ip().is_ipv4() => {
            return Err(Failure::usage(
                "--group-address: group mode runs on IPv4 loopback",
            ));
        }
        Some(g) => g,
        None => {
            // A free port of this host, and a group of this process.
            let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|s| s.local_addr())
                .map_err(|e| Failure::run(format!("cannot find a free UDP port: {e}")))?
                .port();
            let pid = std::process::id();
            SocketAddr::from(([239, 255, (pid % 251) as u8, 99], port))
        }
    };
    let interface = a
        .interface
        .clone()
        .unwrap_or_else(|| Interface::Name("lo".into()));
    Ok(Plan {
        members,
        plain,
        loss,
        fanout,
        length: a.length,
        count: a.time.is_none().then_some(a.messages),
        duration: a.time.map(Duration::from_secs),
        group,
        interface,
    })
}

/// What the threads share.
struct Shared {
    /// The clock of the message stamps.
    base: Instant,
    /// Nanoseconds from `base` to the first send.
    start_ns: AtomicU64,
    /// Members that have stopped counting (they keep their associations
    /// until the server closes them, so that it still lists them).
    counted: watch::Sender<usize>,
}

impl Shared {
    fn ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The server's figures.
#[derive(Default)]
struct ServerReport {
    messages: u64,
    seconds: f64,
    cpu_seconds: f64,
    sent: Option<mcsctp::SentStats>,
    /// Per member address: kind, repairs, fallbacks.
    members: Vec<(Option<SocketAddr>, &'static str, u64, u64)>,
}

/// One member's figures.
#[derive(Default)]
struct MemberReport {
    local: Option<SocketAddr>,
    delivered: u64,
    bytes: u64,
    duplicates: u64,
    out_of_order: u64,
    corrupt: u64,
    last_ns: u64,
    latency: Histogram,
    error: Option<String>,
    /// Whether it told [`Shared::counted`].
    counted: bool,
}

/// Runs group mode (`a.group` is set).
pub(super) fn run(a: PerfArgs, n: u32) -> Result<(), Failure> {
    let p = Arc::new(plan(&a, n)?);
    let a = Arc::new(a);
    let shared = Arc::new(Shared {
        base: Instant::now(),
        start_ns: AtomicU64::new(0),
        counted: watch::channel(0).0,
    });
    // The number of messages sent, once known (0 if the server failed).
    let (total_tx, total_rx) = watch::channel(None::<u64>);
    let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();

    let server = {
        let (p, a, shared) = (p.clone(), a.clone(), shared.clone());
        std::thread::Builder::new()
            .name("perf-group-server".into())
            .spawn(move || {
                let rt = runtime()?;
                let r = rt.block_on(serve(&p, &a, &shared, &total_tx, addr_tx));
                // The members must not wait for a total that never comes.
                total_tx.send_if_modified(|t| {
                    let unset = t.is_none();
                    if unset {
                        *t = Some(0);
                    }
                    unset
                });
                r
            })
            .map_err(|e| Failure::run(format!("cannot start a thread: {e}")))?
    };
    let Ok(server_addr) = addr_rx.recv() else {
        // The server failed before binding.
        return match server.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(Failure::run("the group server thread ended")),
        };
    };
    let members = {
        let (p, a, shared) = (p.clone(), a.clone(), shared.clone());
        std::thread::Builder::new()
            .name("perf-group-members".into())
            .spawn(move || {
                let rt = runtime()?;
                let cpu0 = thread_cpu();
                let r = rt.block_on(run_members(&p, &a, &shared, server_addr, total_rx));
                Ok::<_, Failure>((r, thread_cpu().saturating_sub(cpu0).as_secs_f64()))
            })
            .map_err(|e| Failure::run(format!("cannot start a thread: {e}")))?
    };
    let members = members
        .join()
        .map_err(|_| Failure::run("the members' thread panicked"))?;
    let server = server
        .join()
        .map_err(|_| Failure::run("the group server thread panicked"))?;
    let (members, members_cpu) = members?;
    let server = server?;
    report(&p, &a, &shared, &server, &members, members_cpu)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::run(format!("cannot start a runtime: {e}")))
}

/// CPU time of the calling thread (user and system).
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

fn bind(a: &PerfArgs, port: u16, multicast: Option<MulticastConfig>) -> Result<Endpoint, Failure> {
    let mut cfg = Config::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), port);
    super::perf_config(a, 28, &mut cfg);
    cfg.multicast = multicast;
    Endpoint::bind(cfg).map_err(|e| match e {
        mcsctp::Error::InterfaceNotFound(_) | mcsctp::Error::InterfaceWithoutMulticast(_) => {
            Failure::from(e)
        }
        e => Failure::run(format!("cannot bind UDP 127.0.0.1: {e}")),
    })
}

/// Message `i` of `len` bytes, stamped `now_ns`.
fn message(i: u64, now_ns: u64, len: usize) -> Bytes {
    let mut m = BytesMut::with_capacity(len);
    m.extend_from_slice(&i.to_be_bytes());
    m.extend_from_slice(&now_ns.to_be_bytes());
    m.resize(len, i as u8);
    m.freeze()
}

/// The server: waits for the members, sends, waits until everything is
/// acknowledged, then (once the members are done) closes.
async fn serve(
    p: &Plan,
    a: &PerfArgs,
    shared: &Shared,
    total: &watch::Sender<Option<u64>>,
    addr_tx: mpsc::Sender<SocketAddr>,
) -> Result<ServerReport, Failure> {
    let ep = bind(a, a.port, None)?;
    let group = if p.fanout {
        None
    } else {
        let mut g = GroupConfig::default();
        g.interface = Some(p.interface.clone());
        Some(ep.create_group(p.group, g)?)
    };
    let _ = addr_tx.send(ep.local_addr());
    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut assocs = Vec::new();
    let joined = async {
        match &group {
            Some(g) => {
                while g.members().len() < p.members {
                    g.next_event().await?;
                }
            }
            None => {
                while assocs.len() < p.members {
                    assocs.push(ep.accept().await?);
                }
            }
        }
        Ok::<_, mcsctp::Error>(())
    };
    match tokio::time::timeout_at(deadline, joined).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(Failure::run(format!(
                "the {} members did not connect within {} s",
                p.members,
                LIMIT.as_secs()
            )));
        }
    }
    // The members' joins done (the server's state leaves `joining`):
    // `Group::flushed` does not wait for a member still joining, so a run
    // that started before would end, and be measured, too early. Bounded;
    // a member still joining then is reported as such.
    if let Some(g) = &group {
        let joined = tokio::time::Instant::now() + JOIN_LIMIT;
        while g.members().iter().any(|m| m.kind == MemberKind::Joining)
            && tokio::time::Instant::now() < joined
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let empty = assocs.first().and_then(|a| a.send_buffer_available());

    let cpu0 = thread_cpu();
    let start = Instant::now();
    shared.start_ns.store(shared.ns(), Ordering::Relaxed);
    let stop = p.duration.map(|d| start + d);
    let mut sent = 0u64;
    while p.count.is_none_or(|n| sent < n) {
        if sent.is_multiple_of(16) && stop.is_some_and(|s| Instant::now() >= s) {
            break;
        }
        let m = message(sent, shared.ns(), p.length);
        let r = async {
            match &group {
                Some(g) => g.send(0, m).await,
                None => {
                    for assoc in &assocs {
                        assoc.send(0, m.clone()).await?;
                    }
                    Ok(())
                }
            }
        };
        match tokio::time::timeout(LIMIT, r).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Failure::run(format!(
                    "no room for message {sent} within {} s",
                    LIMIT.as_secs()
                )));
            }
        }
        sent += 1;
    }
    let _ = total.send(Some(sent));
    // Everything acknowledged: the group's own wait, or for each
    // association nothing in flight and nothing queued.
    let acked = async {
        match &group {
            Some(g) => g.flushed().await,
            None => {
                for assoc in &assocs {
                    while let Some(c) = assoc.congestion() {
                        let idle = c.2 == 0 && assoc.send_buffer_available() == empty;
                        if idle {
                            break;
                        }
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    }
                }
                Ok(())
            }
        }
    };
    match tokio::time::timeout(LIMIT, acked).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(Failure::run(format!(
                "the members did not acknowledge everything within {} s",
                LIMIT.as_secs()
            )));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = thread_cpu().saturating_sub(cpu0).as_secs_f64();
    let members = match &group {
        Some(g) => g
            .members()
            .iter()
            .map(|m| (m.address, kind_name(m.kind), m.repairs, m.fallbacks))
            .collect(),
        None => assocs
            .iter()
            .map(|s| (s.remote_addr(), "unicast", 0, 0))
            .collect(),
    };
    let report = ServerReport {
        messages: sent,
        seconds,
        cpu_seconds,
        sent: Some(ep.sent()),
        members,
    };
    // The members count what they got before anything closes (bounded).
    let mut counted = shared.counted.subscribe();
    let _ = tokio::time::timeout(DRAIN_LIMIT + LIMIT, counted.wait_for(|&c| c >= p.members)).await;
    let ids: Vec<_> = match &group {
        Some(g) => g.members().iter().map(|m| m.id).collect(),
        None => assocs.iter().map(|a| a.id()).collect(),
    };
    for id in ids {
        let _ = tokio::time::timeout(Duration::from_secs(2), ep.association(id).close()).await;
    }
    drop(group);
    let _ = tokio::time::timeout(Duration::from_secs(2), ep.shutdown()).await;
    Ok(report)
}

/// The members: the first N - K with the multicast extension (none with
/// --fanout), the others plain.
async fn run_members(
    p: &Plan,
    a: &PerfArgs,
    shared: &Shared,
    server: SocketAddr,
    total: watch::Receiver<Option<u64>>,
) -> Vec<MemberReport> {
    let mut tasks = Vec::new();
    for i in 0..p.members {
        let multicast = !p.fanout && i < p.members - p.plain;
        let mc = multicast.then(|| {
            let mut m = MulticastConfig::default();
            m.interface = Some(p.interface.clone());
            m.receive_loss = p.loss / 100.0;
            m
        });
        let total = total.clone();
        let fut = async move {
            let mut r = MemberReport::default();
            if let Err(e) = member(a, shared, server, mc, total, &mut r).await {
                r.error = Some(e.msg);
            }
            if !r.counted {
                shared.counted.send_modify(|c| *c += 1);
            }
            r
        };
        tasks.push(fut);
    }
    futures_join_all(tasks).await
}

/// Polls the futures together on this task (they borrow the plan).
async fn futures_join_all<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut fs: Vec<_> = fs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = fs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in fs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

async fn member(
    a: &PerfArgs,
    shared: &Shared,
    server: SocketAddr,
    mc: Option<MulticastConfig>,
    mut total: watch::Receiver<Option<u64>>,
    r: &mut MemberReport,
) -> Result<(), Failure> {
    let ep = bind(a, 0, mc)?;
    r.local = Some(ep.local_addr());
    let assoc = match tokio::time::timeout(LIMIT, ep.connect(server, a.port)).await {
        Ok(Ok(assoc)) => assoc,
        Ok(Err(e)) => return Err(Failure::run(format!("cannot connect: {e}"))),
        Err(_) => return Err(Failure::run("no association within the limit")),
    };
    let mut seen: Vec<u64> = Vec::new();
    let mut next = 0u64;
    let mut current = BytesMut::new();
    let mut drain_deadline: Option<tokio::time::Instant> = None;
    loop {
        let known = *total.borrow();
        if let Some(t) = known {
            if r.delivered >= t {
                break;
            }
            let d =
                *drain_deadline.get_or_insert_with(|| tokio::time::Instant::now() + DRAIN_LIMIT);
            if tokio::time::Instant::now() >= d {
                break;
            }
        }
        let m = tokio::select! {
            m = assoc.recv() => m,
            _ = total.changed(), if known.is_none() => continue,
            _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
        };
        let m = match m {
            Ok(m) => m,
            Err(_) => break,
        };
        if matches!(
            m.kind,
            DeliveryKind::Refused { .. } | DeliveryKind::Aborted { .. }
        ) {
            current.clear();
            continue;
        }
        let data = if m.is_end_of_record() {
            if current.is_empty() {
                m.data
            } else {
                current.extend_from_slice(&m.data);
                current.split().freeze()
            }
        } else {
            current.extend_from_slice(&m.data);
            continue;
        };
        let now = shared.ns();
        r.last_ns = now;
        let (Some(num), Some(stamp)) = (
            data.first_chunk::<8>().map(|b| u64::from_be_bytes(*b)),
            data.get(8..16)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes),
        ) else {
            r.corrupt += 1;
            continue;
        };
        if data.len() != a.length || data[HEADER..].iter().any(|&b| b != num as u8) {
            r.corrupt += 1;
            continue;
        }
        let (word, bit) = ((num / 64) as usize, num % 64);
        if seen.len() <= word {
            seen.resize(word + 1, 0);
        }
        if seen[word] & (1 << bit) != 0 {
            r.duplicates += 1;
            continue;
        }
        seen[word] |= 1 << bit;
        if num < next {
            r.out_of_order += 1;
        }
        next = next.max(num + 1);
        r.delivered += 1;
        r.bytes += data.len() as u64;
        r.latency.record(now.saturating_sub(stamp) / 1000);
    }
    // The server closes the associations once every member is done.
    shared.counted.send_modify(|c| *c += 1);
    r.counted = true;
    let _ = tokio::time::timeout(DRAIN_LIMIT + LIMIT, assoc.closed()).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), ep.shutdown()).await;
    Ok(())
}

/// Delivery latencies in microseconds: exact below 1024, then 64
/// sub-buckets per power of two (1.6 % resolution).
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
    max: u64,
    n: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; 1024 + 64 * 54],
            max: 0,
            n: 0,
        }
    }
}

impl Histogram {
    fn bucket(v: u64) -> usize {
        if v < 1024 {
            return v as usize;
        }
        let e = 63 - u64::from(v.leading_zeros()); // >= 10
        let m = (v >> (e - 6)) & 63;
        1024 + (e as usize - 10) * 64 + m as usize
    }

    /// The smallest value of bucket `b`.
    fn value(b: usize) -> u64 {
        if b < 1024 {
            return b as u64;
        }
        let (e, m) = ((b - 1024) / 64 + 10, ((b - 1024) % 64) as u64);
        (64 + m) << (e - 6)
    }

    fn record(&mut self, us: u64) {
        self.counts[Self::bucket(us)] += 1;
        self.max = self.max.max(us);
        self.n += 1;
    }

    fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.max = self.max.max(o.max);
        self.n += o.n;
    }

    /// The `q` quantile (0 to 1), 0 without samples.
    fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(b).min(self.max);
            }
        }
        self.max
    }
}

/// The quantiles of `latency_cdf_q` in the JSON object: enough points to
/// draw the delivery latency CDF (scripts/report.sh).
const LATENCY_CDF_Q: [f64; 15] = [
    0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0,
];

fn report(
    p: &Plan,
    a: &PerfArgs,
    shared: &Shared,
    s: &ServerReport,
    members: &[MemberReport],
    members_cpu: f64,
) -> Result<(), Failure> {
    let start_ns = shared.start_ns.load(Ordering::Relaxed);
    let goodput = |m: &MemberReport| {
        let secs = m.last_ns.saturating_sub(start_ns) as f64 / 1e9;
        if secs > 0.0 {
            m.bytes as f64 / secs
        } else {
            0.0
        }
    };
    // Per member, the server's view (matched by address).
    let server_view = |m: &MemberReport| {
        s.members
            .iter()
            .find(|(addr, ..)| *addr == m.local)
            .map_or(("unknown", 0, 0), |&(_, k, rep, fb)| (k, rep, fb))
    };
    let mut hist = Histogram::default();
    for m in members {
        hist.merge(&m.latency);
    }
    let delivered: Vec<u64> = members.iter().map(|m| m.delivered).collect();
    let goodputs: Vec<f64> = members.iter().map(goodput).collect();
    let views: Vec<_> = members.iter().map(server_view).collect();
    let sum = |f: fn(&MemberReport) -> u64| members.iter().map(f).sum::<u64>();
    let (dups, ooo, corrupt) = (
        sum(|m| m.duplicates),
        sum(|m| m.out_of_order),
        sum(|m| m.corrupt),
    );
    let complete = members
        .iter()
        .all(|m| m.delivered == s.messages && m.error.is_none())
        && dups == 0
        && corrupt == 0;
    let sent = s.sent.unwrap_or_default();
    let server_bytes = sent.multicast_octets + sent.unicast_octets;
    let per_message = if s.messages > 0 {
        server_bytes as f64 / s.messages as f64
    } else {
        0.0
    };
    let mode = if p.fanout { "fanout" } else { "multicast" };
    let repairs: u64 = views.iter().map(|v| v.1).sum();
    let fallbacks: u64 = views.iter().map(|v| v.2).sum();
    let goodput_min = goodputs.iter().copied().fold(f64::INFINITY, f64::min);
    let goodput_min = if goodput_min.is_finite() {
        goodput_min
    } else {
        0.0
    };
    let goodput_mean = goodputs.iter().sum::<f64>() / goodputs.len().max(1) as f64;
    let cpu_share = if s.seconds > 0.0 {
        s.cpu_seconds / s.seconds
    } else {
        0.0
    };
    let (p50, p99, p999) = (
        hist.quantile(0.5),
        hist.quantile(0.99),
        hist.quantile(0.999),
    );
    if a.json {
        let list = |v: Vec<String>| format!("[{}]", v.join(","));
        say!(
            "{{\"mode\":\"{mode}\",\"members\":{},\"plain\":{},\"length\":{},\"loss\":{:.3},\"messages\":{},\"seconds\":{:.6},\"complete\":{complete},\"delivered_min\":{},\"delivered_total\":{},\"goodput_min\":{goodput_min:.1},\"goodput_mean\":{goodput_mean:.1},\"repairs\":{repairs},\"fallbacks\":{fallbacks},\"duplicates\":{dups},\"out_of_order\":{ooo},\"corrupt\":{corrupt},\"server_bytes_multicast\":{},\"server_bytes_unicast\":{},\"server_datagrams_multicast\":{},\"server_datagrams_unicast\":{},\"server_bytes_per_message\":{per_message:.1},\"server_cpu_seconds\":{:.6},\"server_cpu_share\":{cpu_share:.4},\"members_cpu_seconds\":{members_cpu:.6},\"latency_p50_us\":{p50},\"latency_p99_us\":{p99},\"latency_p999_us\":{p999},\"latency_max_us\":{},\"latency_cdf_q\":{},\"latency_cdf_us\":{},\"kind\":{},\"delivered\":{},\"goodput\":{},\"member_repairs\":{},\"member_fallbacks\":{}}}",
            p.members,
            if p.fanout { 0 } else { p.plain },
            p.length,
            p.loss,
            s.messages,
            s.seconds,
            delivered.iter().min().copied().unwrap_or(0),
            delivered.iter().sum::<u64>(),
            sent.multicast_octets,
            sent.unicast_octets,
            sent.multicast_datagrams,
            sent.unicast_datagrams,
            s.cpu_seconds,
            hist.max,
            list(LATENCY_CDF_Q.iter().map(|q| q.to_string()).collect()),
            list(
                LATENCY_CDF_Q
                    .iter()
                    // quantile() rounds down to its bucket; 1 is the max.
                    .map(|&q| if q >= 1.0 { hist.max } else { hist.quantile(q) })
                    .map(|us| us.to_string())
                    .collect()
            ),
            list(views.iter().map(|v| format!("\"{}\"", v.0)).collect()),
            list(delivered.iter().map(u64::to_string).collect()),
            list(goodputs.iter().map(|g| format!("{g:.1}")).collect()),
            list(views.iter().map(|v| v.1.to_string()).collect()),
            list(views.iter().map(|v| v.2.to_string()).collect()),
        );
    } else {
        say!(
            "Group of {} members ({} plain), {mode}, loss {:.3} %: sending of {} messages of length {} took {:.6} seconds.",
            p.members,
            if p.fanout { 0 } else { p.plain },
            p.loss,
            s.messages,
            p.length,
            s.seconds
        );
        for (i, m) in members.iter().enumerate() {
            let v = views[i];
            say!(
                "member {i} {}: delivered {} messages, {} bytes, goodput {:.1} Byte/sec, repairs {}, fallbacks {}, duplicates {}, out_of_order {}, corrupt {}{}",
                v.0,
                m.delivered,
                m.bytes,
                goodputs[i],
                v.1,
                v.2,
                m.duplicates,
                m.out_of_order,
                m.corrupt,
                m.error
                    .as_ref()
                    .map_or_else(String::new, |e| format!(", error: {e}"))
            );
        }
        say!(
            "server: multicast {} datagrams {} bytes, unicast {} datagrams {} bytes, {per_message:.1} bytes per message, CPU {:.6} s ({:.1} % of the run); members' thread CPU {members_cpu:.6} s",
            sent.multicast_datagrams,
            sent.multicast_octets,
            sent.unicast_datagrams,
            sent.unicast_octets,
            s.cpu_seconds,
            cpu_share * 100.0
        );
        say!(
            "latency: p50 {p50} us, p99 {p99} us, p99.9 {p999} us, max {} us",
            hist.max
        );
    }
    if complete {
        Ok(())
    } else {
        let worst = members
            .iter()
            .enumerate()
            .min_by_key(|(_, m)| m.delivered)
            .map(|(i, m)| {
                format!(
                    "member {i} delivered {} of {} messages{}",
                    m.delivered,
                    s.messages,
                    m.error
                        .as_ref()
                        .map_or_else(String::new, |e| format!(" ({e})"))
                )
            })
            .unwrap_or_default();
        Err(Failure::run(format!("incomplete run: {worst}")))
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn histogram_buckets_round_down_within_a_sixty_fourth() {
        for v in [0, 1, 1023, 1024, 1500, 65_000, 1_000_000, u64::MAX / 2] {
            let b = Histogram::bucket(v);
            let low = Histogram::value(b);
            assert!(
                low <= v && v - low <= v / 64,
                "{v}: bucket {b} starts at {low}"
            );
        }
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 500);
        assert_eq!(h.quantile(0.999), 999);
        assert_eq!(h.quantile(1.0), 1000);
    }
}
