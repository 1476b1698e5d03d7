//! Bulk transfer through the simulator: mcsctp beside two independent SCTP
//! engines from crates.io (`sctp-proto`, `dcsctp`), dcsctp twice (as
//! published, and with its per-packet log formatting gated off), and beside
//! a `memcpy` of the same bytes.
//!
//! ```sh
//! cargo bench -p mcsctp-core --bench bulk   # three engines
//! scripts/bench-engines.sh                  # all four, and the tables
//! ```
//!
//! Results in BENCHMARKS.md.
//!
//! **Clock.** Criterion measures the CPU time of the benchmark's thread
//! ([`ThreadCpu`]; `BULK_CLOCK=wall` for wall time): on a shared machine
//! the engines, each timed at a different moment, stay comparable (two
//! runs on a loaded 2-CPU VM: ratios within 3 % of each other in CPU
//! time, up to 50 % apart in wall time).
//!
//! **What one iteration costs.** For each engine, two endpoints of that
//! engine are connected once through the simulator; each iteration then
//! sends one batch of messages from A to B on one ordered stream and runs
//! the network until B has read them all. What one iteration costs is
//! everything both endpoints and the simulator do for that batch, on one
//! core: so the MB/s (`Throughput::Bytes` of user data) are "per core".
//! Messages are built before the clock starts; each engine gets them the
//! way its API takes them without copying where it can (mcsctp and
//! sctp-proto `Bytes`, dcsctp an owned `Vec<u8>` reusing the allocation),
//! and the receiver reads each message once without keeping it.
//!
//! **Same conditions.** Path MTU 1200: mcsctp `max_packet_size: 1200`,
//! dcsctp `mtu: 1200`, sctp-proto `max_payload_size: 1172` (its packet size
//! is that + 28; the link takes any size, because sctp-proto as published
//! overshoots its setting by up to 16 bytes plus padding, see
//! `tests/interop/proto_node.rs`). Receive window 1 MiB for all (dcsctp's
//! default of 5 MiB is lowered), checked on the wire: the a_rwnd of every
//! INIT and INIT ACK must be 1 048 576. DATA chunks for all (mcsctp's
//! I-DATA is off).
//!
//! **Links** ([`LINKS`]): no bandwidth limit (1 ms one way), and two
//! bandwidth-limited links (1 Gbit/s and 10 Gbit/s) with a 250 kB
//! drop-tail queue, so that what is in flight is decided by congestion
//! control (loss and queue overflow), not by the 1 MiB window. Each with
//! 0 % and 1 % random loss.
//!
//! **Verified bytes.** The receiver fingerprints every message it reads,
//! in order ([`interop::Digest`]): in the timed iterations its length and
//! first and last 16 bytes (constant work per message, ~17 ns measured,
//! i.e. ~0.5 ms of a 100-byte batch), in the metrics pass every byte.
//! Either must equal the fingerprint of what was sent, or the benchmark
//! panics.
//!
//! **Metrics.** After each engine's timing, a pass that is not timed
//! ([`metrics_pass`]: a fresh association, two transfers of the batch to get
//! past the handshake and slow start, then ten measured transfers) prints
//! one line of packet and recovery figures (see [`Metrics`]) and, with
//! `BENCH_ENGINES_OUT` set, appends it to `$BENCH_ENGINES_OUT/metrics.csv`.
//!
//! **Stalls.** A transfer that has not completed after [`STALL_AFTER`] of
//! simulated time is counted and reported (`STALL:` on stderr, the
//! `stalls` column), and the next iteration starts on a fresh association.
//!
//! **dcsctp twice.** dcsctp as published formats every packet as hex for
//! its log even with no logger installed (`dcsctp::logging::log_packet`).
//! `scripts/bench-engines.sh` builds a copy of dcsctp 0.1.16 from the
//! registry's source with that one call gated on `log::log_enabled!`, names
//! it `dcsctp-nolog`, and compiles this file in a generated package that
//! depends on it and sets `--cfg dcsctp_nolog`; then the `dcsctp-nolog`
//! rows run in the same process as the others. Without the script (a plain
//! `cargo bench`, CI) those rows are left out.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/interop/mod.rs"]
mod interop;

/// `tests/interop/dcsctp_node.rs` compiled a second time, against the
/// patched dcsctp (it finds its engine as `super::dcsctp_crate`): twice the
/// same source, two different types, on purpose.
#[cfg(dcsctp_nolog)]
#[allow(clippy::duplicate_mod)]
#[path = "../tests/interop/dcsctp_node.rs"]
mod dcsctp_nolog_node;
#[cfg(dcsctp_nolog)]
use dcsctp_nolog as dcsctp_crate;

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput};
use interop::dcsctp_node::DcNode;
use interop::proto_node::{ProtoNode, ProtoOptions};
use interop::{Audit, Digest, DigestMode, Duo, McNode, Msg, RECEIVE_WINDOW, Stack};
use mcsctp_sim::LinkConfig;

/// Message size and messages per iteration (about 3 MB of user data).
const SIZES: [(usize, usize); 3] = [(100, 30_000), (1200, 2_500), (65_536, 48)];
const LOSSES: [(f64, &str); 2] = [(0.0, "0%"), (0.01, "1%")];

/// The three links, each used in both directions.
///
/// - `unlimited`: 1 ms one way, no bandwidth limit: what is in flight
///   grows to the receive window.
/// - `1G`: 1 Gbit/s, 1 ms one way (RTT 2 ms); the bandwidth-delay product
///   is 1e9 × 0.002 / 8 = 250 kB, and the queue holds one BDP, 250 kB (the
///   classic rule of thumb: a Reno-style sender that halves its window on
///   a queue drop keeps the link busy). The most that fits in flight
///   without a queue drop is BDP + queue = 500 kB, half the 1 MiB window,
///   so congestion control decides.
/// - `10G`: 10 Gbit/s, 200 µs one way (RTT 400 µs, a data-centre path):
///   BDP 500 kB, the same 250 kB queue; at most 750 kB in flight without a
///   queue drop, still below the window. (With 1 ms the BDP would be
///   2.5 MB, more than the window: the window would decide and the queue
///   would never fill. With 100 µs the BDP would equal 1G's, and the
///   packet dynamics would be 1G's scaled in time.)
const LINKS: [(&str, LinkConfig); 3] = [
    (
        "unlimited",
        LinkConfig {
            delay: Duration::from_millis(1),
            ..LinkConfig::DEFAULT
        },
    ),
    (
        "1G",
        LinkConfig {
            delay: Duration::from_millis(1),
            bandwidth_bps: Some(1_000_000_000),
            queue_limit_bytes: 250_000,
            ..LinkConfig::DEFAULT
        },
    ),
    (
        "10G",
        LinkConfig {
            delay: Duration::from_micros(200),
            bandwidth_bps: Some(10_000_000_000),
            queue_limit_bytes: 250_000,
            ..LinkConfig::DEFAULT
        },
    ),
];

fn size_label(size: usize) -> String {
    if size.is_multiple_of(1024) {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

/// A fresh batch: every payload its own allocation, so that engines taking
/// ownership can do so without a copy.
fn batch(size: usize, count: usize) -> Vec<Msg> {
    (0..count)
        .map(|i| Msg {
            stream: 1,
            unordered: false,
            payload: interop::payload(0x42, i, size),
        })
        .collect()
}

fn seed_of(a: SocketAddr) -> u64 {
    match a.ip() {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => u128::from(v6) as u64,
    }
}

// ----- dcsctp's T3-rtx expirations, from its log ----------------------------

/// dcsctp counts no T3-rtx expirations in its `Metrics`, but its
/// `RetransmissionQueue::handle_timeout` logs `debug!("t3-rtx expired. …")`
/// exactly when T3-rtx expires (`dcsctp/src/tx/retransmission_queue.rs`).
/// This logger counts those records. It is installed for the whole run,
/// but the log level stays `Off` (as with no logger: every `log!` is one
/// relaxed atomic load and a comparison) except during the metrics passes.
struct DcsctpT3Log;

static DCSCTP_T3: AtomicU64 = AtomicU64::new(0);
static DCSCTP_T3_LOG: DcsctpT3Log = DcsctpT3Log;

impl log::Log for DcsctpT3Log {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Debug
            && m.target().starts_with("dcsctp")
            && m.target().ends_with("::tx::retransmission_queue")
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) && r.args().to_string().starts_with("t3-rtx expired") {
            DCSCTP_T3.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {}
}

/// Whether dcsctp's debug records reach a logger at all in this build.
fn dcsctp_t3_countable() -> bool {
    log::STATIC_MAX_LEVEL >= log::LevelFilter::Debug
}

// ----- one engine --------------------------------------------------------

/// One row of the benchmark: an engine on one link, size and loss.
struct Row<'a> {
    link: &'a str,
    size: usize,
    count: usize,
    loss: &'a str,
}

/// Where the T3-rtx count of an engine comes from.
#[derive(Clone, Copy)]
enum T3Source {
    /// [`Stack::t3_expirations`] of the sender.
    Engine,
    /// [`DcsctpT3Log`].
    DcsctpLog,
}

/// What the metrics pass measured for one row (A to B; see
/// [`metrics_pass`]).
struct Metrics {
    /// Transfers criterion ran (warm-up included), and how many of them
    /// stalled (see [`STALL_AFTER`]).
    transfers: u64,
    stalls: u64,
    /// The metrics pass itself stalled: the figures below are partial.
    stalled_in_metrics: bool,
    /// Messages delivered in the measured transfers.
    messages: u64,
    /// Simulated time per transfer (mean of [`METRICS_TRANSFERS`]).
    virtual_s: f64,
    /// A→B packets that carry DATA, and their average size (SCTP packet,
    /// common header onward).
    data_packets: u64,
    bytes_per_data_packet: f64,
    /// B→A packets (SACKs, mostly).
    b_packets: u64,
    /// DATA chunks A sent more than once (from A's packets).
    retransmitted: u64,
    /// T3-rtx expirations at A (`None`: the engine does not say).
    t3: Option<u64>,
    /// DATA chunks B counted as dropped for lack of buffer (`None`: the
    /// engine does not count them).
    rx_drops: Option<u64>,
    /// DATA chunks B discarded, judged from its SACKs ([`Audit`]).
    rx_discards: u64,
    /// Packets the link dropped: random loss and queue overflow.
    link_lost: u64,
    queue_dropped: u64,
    /// Largest backlog of the A→B bandwidth queue (0 without a limit).
    queue_peak: u64,
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| v.to_string())
}

fn opt_rate(v: Option<u64>, count: u64) -> String {
    v.map_or_else(
        || "n/a".into(),
        |v| format!("{:.2}", v as f64 * 10_000.0 / count as f64),
    )
}

const METRICS_HEADER: &str = "| link | size | loss | engine | virtual s/transfer | data pkts/msg | B/data pkt | B→A pkts/msg | rtx chunks | T3 | T3/10k msgs | rx drops (engine) | rx discards (wire) | link lost | queue drops | queue peak kB | stalls |";

impl Metrics {
    fn table_line(&self, r: &Row<'_>, engine: &str) -> String {
        let n = self.messages.max(1) as f64;
        format!(
            "| {} | {} | {} | {} | {:.4} | {:.3} | {:.0} | {:.3} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} |",
            r.link,
            size_label(r.size),
            r.loss,
            engine,
            self.virtual_s,
            self.data_packets as f64 / n,
            self.bytes_per_data_packet,
            self.b_packets as f64 / n,
            self.retransmitted,
            opt(self.t3),
            opt_rate(self.t3, self.messages.max(1)),
            opt(self.rx_drops),
            self.rx_discards,
            self.link_lost,
            self.queue_dropped,
            self.queue_peak as f64 / 1000.0,
            self.stall_note(),
        )
    }

    fn csv_line(&self, r: &Row<'_>, engine: &str) -> String {
        let o = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
        format!(
            "{},{},{},{},{},{:.6},{},{:.1},{},{},{},{},{},{},{},{},{},{},{}",
            r.link,
            r.size,
            r.loss,
            engine,
            self.messages,
            self.virtual_s,
            self.data_packets,
            self.bytes_per_data_packet,
            self.b_packets,
            self.retransmitted,
            o(self.t3),
            o(self.rx_drops),
            self.rx_discards,
            self.link_lost,
            self.queue_dropped,
            self.queue_peak,
            self.transfers,
            self.stalls,
            self.stalled_in_metrics,
        )
    }

    fn stall_note(&self) -> String {
        let mut s = format!("{} of {}", self.stalls, self.transfers);
        if self.stalled_in_metrics {
            s.push_str(", **metrics pass stalled**");
        }
        s
    }
}

const CSV_HEADER: &str = "link,size,loss,engine,messages,virtual_s_per_transfer,data_packets,bytes_per_data_packet,b_to_a_packets,retransmitted_chunks,t3,rx_drops_engine,rx_discards_wire,link_lost,queue_dropped,queue_peak_bytes,timed_transfers,timed_stalls,metrics_stalled";

fn write_csv(line: &str) {
    let Some(dir) = std::env::var_os("BENCH_ENGINES_OUT") else {
        return;
    };
    let path = std::path::Path::new(&dir).join("metrics.csv");
    let fresh = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("metrics.csv");
    if fresh {
        writeln!(f, "{CSV_HEADER}").expect("write metrics.csv");
    }
    writeln!(f, "{line}").expect("write metrics.csv");
}

/// Panics unless what B read equals what was sent, message for message.
fn check_digests(
    engine: &str,
    r: &Row<'_>,
    what: &str,
    want: &[(u16, Digest)],
    got: &[(u16, Digest)],
) {
    assert!(
        got == want,
        "{engine} {}/{}/loss{}: the delivered bytes differ from those sent ({what} digest): \
         sent {want:?}, delivered {got:?}",
        r.link,
        size_label(r.size),
        r.loss,
    );
}

/// Simulated time after which a transfer counts as stalled. The slowest
/// healthy transfer here takes about a second.
const STALL_AFTER: Duration = Duration::from_secs(600);

/// Two endpoints of one engine on `link`, connected, B reading without
/// keeping what it reads and fingerprinting it with `mode`.
fn connected<S: Stack>(
    link: LinkConfig,
    engine: &str,
    mode: DigestMode,
    make: &impl Fn(Instant, SocketAddr, SocketAddr) -> S,
) -> Duo<S, S> {
    let mut d: Duo<S, S> = Duo::new(7, link, make, make);
    d.net.set_digest_payloads(false);
    d.connect(true);
    for (side, w) in [("A", d.a_ref().wire()), ("B", d.b_ref().wire())] {
        assert_eq!(
            w.a_rwnd,
            Some(RECEIVE_WINDOW as u32),
            "{engine} {side} offered a receive window other than 1 MiB in its INIT / INIT ACK"
        );
    }
    d.b().set_keep(false);
    d.b().common_mut().inbox.digest_mode = mode;
    d
}

/// Sends `msgs` from A to B and checks what B read; `Err` if the transfer
/// stalled (a digest mismatch panics).
fn transfer<S: Stack>(
    d: &mut Duo<S, S>,
    r: &Row<'_>,
    engine: &str,
    mode: DigestMode,
    msgs: Vec<Msg>,
    want: &[(u16, Digest)],
) -> Result<(), String> {
    d.b().common_mut().inbox.digests.clear();
    d.transfer_owned(msgs, Vec::new(), STALL_AFTER)?;
    let what = if mode == DigestMode::Full {
        "full"
    } else {
        "sampled"
    };
    check_digests(engine, r, what, want, &d.b_ref().common().inbox.digests);
    Ok(())
}

fn bench_engine<M: Measurement, S: Stack>(
    g: &mut BenchmarkGroup<'_, M>,
    r: &Row<'_>,
    link: LinkConfig,
    engine: &str,
    t3_source: T3Source,
    make: impl Fn(Instant, SocketAddr, SocketAddr) -> S,
) {
    let mut d = connected(link, engine, DigestMode::Sampled, &make);
    let (size, count) = (r.size, r.count);
    let mut ran = false;
    let mut transfers = 0u64;
    let mut stalls = 0u64;
    g.bench_function(engine, |b| {
        ran = true;
        b.iter_batched(
            || {
                let msgs = batch(size, count);
                let want = Digest::of(DigestMode::Sampled, &msgs);
                (msgs, want)
            },
            |(msgs, want)| {
                transfers += 1;
                if let Err(e) = transfer(&mut d, r, engine, DigestMode::Sampled, msgs, &want) {
                    // Counted and reported; the iteration's time stays in
                    // its sample, and the next one starts on a fresh
                    // association.
                    stalls += 1;
                    eprintln!(
                        "STALL: {engine} {}/{}/loss{}, transfer {transfers}: {e}",
                        r.link,
                        size_label(size),
                        r.loss
                    );
                    d = connected(link, engine, DigestMode::Sampled, &make);
                }
            },
            BatchSize::PerIteration,
        );
    });
    if !ran {
        // Filtered out.
        return;
    }
    drop(d);
    let m = metrics_pass(link, r, engine, t3_source, &make, transfers, stalls);
    let line = m.table_line(r, engine);
    println!("{METRICS_HEADER}\n{line}");
    write_csv(&m.csv_line(r, engine));
}

/// Transfers of the batch measured by the metrics pass.
const METRICS_TRANSFERS: usize = 10;

/// The metrics of one row, the same in every run: on a fresh association,
/// two transfers of the batch to get past the handshake and slow start,
/// then [`METRICS_TRANSFERS`] more with every byte verified and the
/// packet-level [`Audit`] on (rare events such as T3-rtx expirations need
/// the larger sample: at 100 B and 1 % loss mcsctp saw 4 to 14 per 25
/// transfers, 0 in most single ones). Not timed.
fn metrics_pass<S: Stack>(
    link: LinkConfig,
    r: &Row<'_>,
    engine: &str,
    t3: T3Source,
    make: &impl Fn(Instant, SocketAddr, SocketAddr) -> S,
    transfers: u64,
    stalls: u64,
) -> Metrics {
    let mut m = Metrics {
        transfers,
        stalls,
        stalled_in_metrics: false,
        messages: 0,
        virtual_s: 0.0,
        data_packets: 0,
        bytes_per_data_packet: 0.0,
        b_packets: 0,
        retransmitted: 0,
        t3: None,
        rx_drops: None,
        rx_discards: 0,
        link_lost: 0,
        queue_dropped: 0,
        queue_peak: 0,
    };
    let mut d = connected(link, engine, DigestMode::Sampled, make);
    for _ in 0..2 {
        let msgs = batch(r.size, r.count);
        let want = Digest::of(DigestMode::Sampled, &msgs);
        if let Err(e) = transfer(&mut d, r, engine, DigestMode::Sampled, msgs, &want) {
            eprintln!(
                "STALL: {engine} {}/{}/loss{}, metrics pass: {e}",
                r.link,
                size_label(r.size),
                r.loss
            );
            m.stalled_in_metrics = true;
            return m;
        }
    }
    d.b().common_mut().inbox.digest_mode = DigestMode::Full;
    d.a().wire_mut().audit = Some(Box::default());
    d.b().wire_mut().audit = Some(Box::default());
    let (a0, b0) = (d.a_ref().wire().clone(), d.b_ref().wire().clone());
    let t3_0 = d.a_ref().t3_expirations();
    let drops0 = d.b_ref().receive_buffer_drops();
    let net0 = d.net.stats();
    let start = d.net.elapsed();
    d.net.reset_queue_peaks();
    DCSCTP_T3.store(0, Ordering::Relaxed);
    log::set_max_level(log::LevelFilter::Debug);
    for _ in 0..METRICS_TRANSFERS {
        let msgs = batch(r.size, r.count);
        let want = Digest::of(DigestMode::Full, &msgs);
        if let Err(e) = transfer(&mut d, r, engine, DigestMode::Full, msgs, &want) {
            eprintln!(
                "STALL: {engine} {}/{}/loss{}, metrics pass: {e}",
                r.link,
                size_label(r.size),
                r.loss
            );
            m.stalled_in_metrics = true;
            break;
        }
        m.messages += r.count as u64;
    }
    log::set_max_level(log::LevelFilter::Off);
    let (a, b) = (d.a_ref().wire(), d.b_ref().wire());
    let net = d.net.stats();
    let data_packets = a.data_packets - a0.data_packets;
    m.virtual_s = (d.net.elapsed() - start).as_secs_f64() / METRICS_TRANSFERS as f64;
    m.data_packets = data_packets;
    m.bytes_per_data_packet = (a.data_bytes - a0.data_bytes) as f64 / data_packets.max(1) as f64;
    m.b_packets = b.packets - b0.packets;
    m.retransmitted = a.audit.as_deref().map_or(0, Audit::retransmitted);
    m.rx_discards = b.audit.as_deref().map_or(0, |x| x.discarded);
    m.t3 = match t3 {
        T3Source::Engine => d.a_ref().t3_expirations().zip(t3_0).map(|(x, y)| x - y),
        T3Source::DcsctpLog => dcsctp_t3_countable().then(|| DCSCTP_T3.load(Ordering::Relaxed)),
    };
    m.rx_drops = d
        .b_ref()
        .receive_buffer_drops()
        .zip(drops0)
        .map(|(x, y)| x - y);
    m.link_lost = net.dropped_loss - net0.dropped_loss;
    m.queue_dropped = net.dropped_queue - net0.dropped_queue;
    m.queue_peak = d.net.link_stats(d.a, d.b).queue_peak_bytes;
    m
}

// ----- the matrix ----------------------------------------------------------

fn bulk<M: Measurement>(c: &mut Criterion<M>) {
    // Ignore a second installation (another harness in the same process).
    let _ = log::set_logger(&DCSCTP_T3_LOG);
    log::set_max_level(log::LevelFilter::Off);
    let mut notes = String::new();
    if cfg!(dcsctp_nolog) {
        let _ = write!(
            notes,
            "dcsctp-nolog: included (patched copy built by scripts/bench-engines.sh)"
        );
    } else {
        let _ = write!(
            notes,
            "dcsctp-nolog: left out (run scripts/bench-engines.sh to include it)"
        );
    }
    if !dcsctp_t3_countable() {
        let _ = write!(notes, "; dcsctp T3: n/a, log's debug level compiled out");
    }
    println!("bulk: {notes}");

    {
        let mut g = c.benchmark_group("bulk/memcpy");
        g.sampling_mode(SamplingMode::Flat);
        for (size, count) in SIZES {
            let msgs = batch(size, count);
            let mut dst = vec![0u8; size];
            g.throughput(Throughput::Bytes((size * count) as u64));
            g.bench_function(size_label(size), |b| {
                b.iter(|| {
                    for m in &msgs {
                        dst.copy_from_slice(&m.payload);
                        black_box(&mut dst);
                    }
                });
            });
        }
        g.finish();
    }

    for (link_name, link) in LINKS {
        for (size, count) in SIZES {
            for (loss, loss_name) in LOSSES {
                let r = Row {
                    link: link_name,
                    size,
                    count,
                    loss: loss_name,
                };
                let link = LinkConfig { loss, ..link };
                let mut g = c.benchmark_group(format!(
                    "bulk/{link_name}/{}/loss{loss_name}",
                    size_label(size)
                ));
                g.throughput(Throughput::Bytes((size * count) as u64));
                g.sampling_mode(SamplingMode::Flat);

                bench_engine(
                    &mut g,
                    &r,
                    link,
                    "mcsctp",
                    T3Source::Engine,
                    |epoch, local, remote| {
                        // A seed per node; DATA, as the other two use here.
                        let mut cfg = McNode::config(seed_of(local));
                        cfg.association.interleaving = false;
                        McNode::new(cfg, epoch, local, remote)
                    },
                );
                let proto = ProtoOptions::as_published();
                bench_engine(
                    &mut g,
                    &r,
                    link,
                    "sctp-proto",
                    T3Source::Engine,
                    |_, local, remote| ProtoNode::new(&proto, local, remote),
                );
                bench_engine(
                    &mut g,
                    &r,
                    link,
                    "dcsctp",
                    T3Source::DcsctpLog,
                    |epoch, local, remote| {
                        DcNode::new("dcsctp", &DcNode::bench_options(), epoch, local, remote)
                    },
                );
                #[cfg(dcsctp_nolog)]
                bench_engine(
                    &mut g,
                    &r,
                    link,
                    "dcsctp-nolog",
                    T3Source::DcsctpLog,
                    |epoch, local, remote| {
                        use dcsctp_nolog_node::DcNode;
                        DcNode::new(
                            "dcsctp-nolog",
                            &DcNode::bench_options(),
                            epoch,
                            local,
                            remote,
                        )
                    },
                );
                g.finish();
            }
        }
    }
}

// ----- the clock -----------------------------------------------------------

/// Criterion's measurement here: the CPU time of the benchmark's thread
/// (`CLOCK_THREAD_CPUTIME_ID`), not wall time. Everything an iteration does
/// runs on that one thread, so on an idle machine the two are the same; on
/// a shared one, time spent descheduled while other processes run is left
/// out, which makes the engines' figures, measured at different moments,
/// comparable. `BULK_CLOCK=wall` measures wall time instead.
struct ThreadCpu;

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn config<M: Measurement>(c: Criterion<M>) -> Criterion<M> {
    // Command-line flags (`-- --measurement-time 1`) override these.
    c.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

fn main() {
    if std::env::var("BULK_CLOCK").is_ok_and(|v| v == "wall") {
        println!("bulk: clock: wall time");
        let mut c = config(Criterion::default());
        bulk(&mut c);
        c.final_summary();
    } else {
        println!("bulk: clock: CPU time of the benchmark thread (BULK_CLOCK=wall for wall time)");
        let mut c = config(Criterion::default().with_measurement(ThreadCpu));
        bulk(&mut c);
        c.final_summary();
    }
}
