//! The multicast group against the same workload sent as N unicast
//! associations (fan-out), in one run (issue 10, item 7).
//!
//! ```sh
//! cargo bench --bench group_vs_fanout                 # everything, ~3 min
//! GROUP_BENCH=figures cargo bench --bench group_vs_fanout   # simulated figures only
//! GROUP_BENCH=cpu cargo bench --bench group_vs_fanout       # bytes and CPU rows only
//! GROUP_BENCH_SEED=7 cargo bench --bench group_vs_fanout    # another seed
//! cargo bench --bench group_vs_fanout -- 'cpu/N=16'   # a criterion filter (CPU rows)
//! ```
//!
//! Results and how to read them: BENCHMARKS.md, "Multicast group vs
//! fan-out (issue 10)". `tests/group_vs_fanout.rs` runs the same cases
//! (same seed) and asserts the targets the code meets; the cases, links and
//! targets are defined once, in `mcsctp_testkit::compare`.
//!
//! **What runs.** Each case is a simulation: a group (a server endpoint
//! with a `GroupServer`, N members) or fan-out (a plain server endpoint
//! sending every message on each of N associations with plain clients),
//! the same 1000-octet messages, the same links (a 10 Gbit/s server link
//! with back-pressure, 50 µs one way, per-receiver loss in both directions
//! on every path; see `mcsctp_testkit::compare`). Every receiver checks
//! every message as it arrives (exactly once, in order, byte-identical to
//! a payload derived from the message number). The figures that depend
//! only on simulated time and packet counts (bytes, packets, goodput,
//! feedback, latency) are deterministic per seed.
//!
//! **Server CPU.** Each row's simulation records every call into the
//! server endpoint (datagrams in, timeouts, `poll_transmit`, the
//! application's sends) with its simulated time. Criterion then times
//! `mcsctp_testkit::rig::replay` of the measured phase into a fresh server
//! endpoint built the same way (the connection phase is replayed first,
//! untimed): the endpoint is deterministic, so the replay makes the very
//! same packets (checked byte for byte once before timing, by length in
//! every timed run). What is timed is therefore the server endpoint alone:
//! no simulator, no members, no harness. The clock is the CPU time of the
//! benchmark thread (`CLOCK_THREAD_CPUTIME_ID`, as `core/benches/bulk.rs`;
//! `GROUP_BENCH_CLOCK=wall` for wall time). Reported: CPU per message
//! (each message reaching all N receivers), the median of criterion's
//! samples.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use mcsctp_testkit::compare::{
    Case, FEEDBACK_ROWS, GOODPUT_LOSSES, LATENCY_LOSSES, Outcome, ROW_LOSSES, ROW_RECEIVERS,
    ServerEndpoint, Setup, feedback_case, goodput_case, latency_case, row_case, run_case, targets,
};

const SETUPS: [Setup; 2] = [Setup::Group, Setup::Fanout];

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The benchmark's clock: the thread's CPU time, or wall time.
#[derive(Clone, Copy)]
struct Clock {
    wall: bool,
    epoch: Instant,
}

impl Clock {
    fn now(self) -> Duration {
        if self.wall {
            self.epoch.elapsed()
        } else {
            thread_cpu()
        }
    }
}

/// A row's key: setup, receivers, loss in basis points.
type Key = (Setup, usize, u32);

fn key(c: &Case) -> Key {
    (c.setup, c.receivers, (c.loss * 10_000.0).round() as u32)
}

/// Runs a case; a case that panics (a receiver got a wrong message) is
/// reported as failed and the run goes on.
fn run(c: Case) -> Result<Outcome, String> {
    let label = c.label();
    let t = Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| run_case(&c))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_default()
    });
    match &r {
        Ok(o) => eprintln!(
            "group_vs_fanout: {label} ({} messages): {:.1} ms simulated, {:.2} s wall{}",
            c.messages,
            o.elapsed.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64(),
            o.stalled
                .as_ref()
                .map_or(String::new(), |s| format!(", STALLED: {s}"))
        ),
        Err(e) => eprintln!("group_vs_fanout: {label}: FAILED: {e}"),
    }
    r
}

fn pct(loss: f64) -> String {
    format!("{}%", loss * 100.0)
}

fn gbps(bps: f64) -> String {
    format!("{:.2}", bps / 1e9)
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**MISSED**" }
}

/// A cell for a figure of a run that may have failed or stalled.
fn cell(o: &Result<Outcome, String>, f: impl Fn(&Outcome) -> String) -> String {
    match o {
        Err(e) if e == "not run" => "–".into(),
        Err(_) => "FAILED".into(),
        Ok(o) if o.stalled.is_some() => format!("STALLED ({})", f(o)),
        Ok(o) => f(o),
    }
}

fn ok(o: &Result<Outcome, String>) -> Option<&Outcome> {
    o.as_ref().ok().filter(|o| o.stalled.is_none())
}

/// A row's outcome; `none` if it did not run.
fn get<'a>(
    m: &'a BTreeMap<Key, Result<Outcome, String>>,
    k: Key,
    none: &'a Result<Outcome, String>,
) -> &'a Result<Outcome, String> {
    m.get(&k).unwrap_or(none)
}

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

fn main() {
    let seed: u64 = std::env::var("GROUP_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let what = std::env::var("GROUP_BENCH").unwrap_or_default();
    let figures_only = what == "figures";
    let cpu_only = what == "cpu";
    let wall = std::env::var("GROUP_BENCH_CLOCK").is_ok_and(|v| v == "wall");
    let clock = Clock {
        wall,
        epoch: Instant::now(),
    };
    println!(
        "group_vs_fanout: seed {seed}, clock: {}",
        if wall {
            "wall time"
        } else {
            "CPU time of the benchmark thread (GROUP_BENCH_CLOCK=wall for wall time)"
        }
    );
    let with_seed = |mut c: Case| {
        c.seed = seed;
        c
    };

    // ----- the simulations ---------------------------------------------
    let mut rows: BTreeMap<Key, Result<Outcome, String>> = BTreeMap::new();
    for &n in &ROW_RECEIVERS {
        for &loss in &ROW_LOSSES {
            for setup in SETUPS {
                let mut c = with_seed(row_case(setup, n, loss));
                c.record = !figures_only;
                rows.insert(key(&c), run(c));
            }
        }
    }
    let mut goodput = BTreeMap::new();
    for &loss in GOODPUT_LOSSES.iter().filter(|_| !cpu_only) {
        for setup in SETUPS {
            let c = with_seed(goodput_case(setup, loss));
            goodput.insert(key(&c), run(c));
        }
    }
    let mut feedback = BTreeMap::new();
    for &(n, messages) in FEEDBACK_ROWS.iter().filter(|_| !cpu_only) {
        for setup in SETUPS {
            let c = with_seed(feedback_case(setup, n, messages));
            let k = key(&c);
            // N = 64 is a bytes row already.
            if c.messages == row_case(setup, n, c.loss).messages && rows.contains_key(&k) {
                continue;
            }
            feedback.insert(k, run(c));
        }
    }
    let mut latency = BTreeMap::new();
    for &loss in LATENCY_LOSSES.iter().filter(|_| !cpu_only) {
        for setup in SETUPS {
            let c = with_seed(latency_case(setup, loss));
            latency.insert(key(&c), run(c));
        }
    }

    // ----- server CPU: replays, timed by criterion -----------------------
    let mut cpu: BTreeMap<Key, f64> = BTreeMap::new();
    if !figures_only {
        let mut crit = Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .configure_from_args();
        for (k, o) in &rows {
            let Some(o) = ok(o) else { continue };
            let Some(rec) = &o.recording else { continue };
            let (setup, n, _) = *k;
            let c = &o.case;
            let (setup_calls, phase) = rec.calls.split_at(rec.mark);
            let mut buf = Vec::new();
            // The replay makes the recorded packets, byte for byte.
            let epoch = Instant::now();
            let mut ep = ServerEndpoint::new(c, epoch);
            ep.replay(epoch, setup_calls, &mut buf, true);
            let sent = ep.replay(epoch, phase, &mut buf, true);
            assert_eq!(sent, o.counters.bytes(), "{}: replayed octets", c.label());
            drop(ep);
            let mut g =
                crit.benchmark_group(format!("group_vs_fanout/cpu/N={n}/loss{}", pct(c.loss)));
            g.sampling_mode(SamplingMode::Flat);
            g.throughput(Throughput::Elements(u64::from(c.messages)));
            let mut samples = Vec::new();
            g.bench_function(BenchmarkId::from_parameter(setup.name()), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let epoch = Instant::now();
                        let mut ep = ServerEndpoint::new(c, epoch);
                        ep.replay(epoch, setup_calls, &mut buf, false);
                        let t0 = clock.now();
                        let out = ep.replay(epoch, phase, &mut buf, false);
                        total += clock.now().saturating_sub(t0);
                        assert_eq!(out, sent);
                    }
                    samples.push(total.as_secs_f64() / iters as f64 / f64::from(c.messages));
                    total
                });
            });
            g.finish();
            if let Some(m) = median(&mut samples) {
                cpu.insert(*k, m);
            }
        }
        crit.final_summary();
    }

    // ----- the report -----------------------------------------------------
    let not_run: Result<Outcome, String> = Err("not run".into());
    let mut out = String::new();
    let _ = writeln!(out, "\n## Multicast group vs fan-out (seed {seed})\n");
    let _ = writeln!(
        out,
        "### Server bytes, packets and CPU per message ({} messages of 1000 B, bulk)\n",
        row_case(Setup::Group, 1, 0.0).messages
    );
    let _ = writeln!(
        out,
        "| N | loss | group B/msg | fan-out B/msg | group ÷ fan-out | group pkts/msg | fan-out pkts/msg | group CPU µs/msg | fan-out CPU µs/msg | group ÷ fan-out (CPU) |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let lk = |l: f64| (l * 10_000.0).round() as u32;
    for &n in &ROW_RECEIVERS {
        for &loss in &ROW_LOSSES {
            let g = &rows[&(Setup::Group, n, lk(loss))];
            let f = &rows[&(Setup::Fanout, n, lk(loss))];
            let ratio = match (ok(g), ok(f)) {
                (Some(g), Some(f)) => {
                    format!("{:.4}", g.bytes_per_message() / f.bytes_per_message())
                }
                _ => "–".into(),
            };
            let cg = cpu.get(&(Setup::Group, n, lk(loss)));
            let cf = cpu.get(&(Setup::Fanout, n, lk(loss)));
            let c = |v: Option<&f64>| v.map_or("–".into(), |v| format!("{:.3}", v * 1e6));
            let cr = match (cg, cf) {
                (Some(g), Some(f)) => format!("{:.3}", g / f),
                _ => "–".into(),
            };
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {ratio} | {} | {} | {} | {} | {cr} |",
                pct(loss),
                cell(g, |o| format!("{:.0}", o.bytes_per_message())),
                cell(f, |o| format!("{:.0}", o.bytes_per_message())),
                cell(g, |o| format!("{:.2}", o.packets_per_message())),
                cell(f, |o| format!("{:.2}", o.packets_per_message())),
                c(cg),
                c(cf),
            );
        }
    }

    let _ = writeln!(
        out,
        "\n### Goodput per receiver, N = {} ({} messages of 1000 B, bulk; Gbit/s of user data)\n",
        mcsctp_testkit::compare::GOODPUT_RECEIVERS,
        goodput_case(Setup::Group, 0.0).messages
    );
    let _ = writeln!(
        out,
        "| loss | group: whole | group: last ¾ | group last ¾ ÷ loss-free | fan-out: whole | fan-out: last ¾ | group simulated ms | fan-out simulated ms | group repairs (multicast / unicast) | group members at the end |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let free =
        ok(get(&goodput, (Setup::Group, 16, 0), &not_run)).and_then(Outcome::steady_goodput_bps);
    for &loss in &GOODPUT_LOSSES {
        let g = get(&goodput, (Setup::Group, 16, lk(loss)), &not_run);
        let f = get(&goodput, (Setup::Fanout, 16, lk(loss)), &not_run);
        let share = match (ok(g).and_then(Outcome::steady_goodput_bps), free) {
            (Some(x), Some(y)) => format!("{:.3}", x / y),
            _ => "–".into(),
        };
        let steady = |o: &Outcome| o.steady_goodput_bps().map_or("–".into(), gbps);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {share} | {} | {} | {} | {} | {} | {} |",
            pct(loss),
            cell(g, |o| gbps(o.goodput_bps())),
            cell(g, steady),
            cell(f, |o| gbps(o.goodput_bps())),
            cell(f, steady),
            cell(g, |o| format!("{:.1}", o.elapsed.as_secs_f64() * 1e3)),
            cell(f, |o| format!("{:.1}", o.elapsed.as_secs_f64() * 1e3)),
            cell(g, |o| o.group.as_ref().map_or(String::new(), |x| format!(
                "{} / {}",
                x.multicast_repairs, x.unicast_repairs
            ))),
            cell(g, |o| o
                .group
                .as_ref()
                .map_or(String::new(), |x| format!("{:?}", x.kinds))),
        );
    }

    let _ = writeln!(
        out,
        "\n### Feedback: packets from the receivers per data packet, loss {} (bulk)\n",
        pct(mcsctp_testkit::compare::FEEDBACK_LOSS)
    );
    let _ = writeln!(
        out,
        "| N | messages | group feedback pkts | group data pkts | **group per data pkt** | fan-out feedback pkts | fan-out data pkts | fan-out per data pkt |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    let fb = |setup: Setup, n: usize| {
        let k = (setup, n, lk(mcsctp_testkit::compare::FEEDBACK_LOSS));
        feedback.get(&k).or_else(|| rows.get(&k))
    };
    for &(n, messages) in &FEEDBACK_ROWS {
        let (Some(g), Some(f)) = (fb(Setup::Group, n), fb(Setup::Fanout, n)) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {n} | {messages} | {} | {} | {} | {} | {} | {} |",
            cell(g, |o| o.feedback_packets.to_string()),
            cell(g, |o| o.data_packets().to_string()),
            cell(g, |o| format!("{:.3}", o.feedback_per_data_packet())),
            cell(f, |o| o.feedback_packets.to_string()),
            cell(f, |o| o.data_packets().to_string()),
            cell(f, |o| format!("{:.3}", o.feedback_per_data_packet())),
        );
    }

    let lc = latency_case(Setup::Group, 0.0);
    let _ = writeln!(
        out,
        "\n### Delivery latency, N = {}: {} messages, one every {} µs (send time to delivery, simulated µs)\n",
        lc.receivers,
        lc.messages,
        us(lc.interval.unwrap_or_default())
    );
    let _ = writeln!(
        out,
        "| loss | setup | p50 | p99 | p99.9 | max | deliveries | sends late |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|");
    for &loss in &LATENCY_LOSSES {
        for setup in SETUPS {
            let o = get(&latency, (setup, lc.receivers, lk(loss)), &not_run);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                pct(loss),
                setup.name(),
                cell(o, |o| us(o.latency(0.5))),
                cell(o, |o| us(o.latency(0.99))),
                cell(o, |o| us(o.latency(0.999))),
                cell(o, |o| us(o.latency(1.0))),
                cell(o, |o| o.latencies.len().to_string()),
                cell(o, |o| o.late_sends.to_string()),
            );
        }
    }

    // ----- the targets (issue 10 item 7) ----------------------------------
    let _ = writeln!(out, "\n### Targets\n");
    for &loss in &ROW_LOSSES {
        let (g, f) = (
            ok(&rows[&(Setup::Group, 16, lk(loss))]),
            ok(&rows[&(Setup::Fanout, 16, lk(loss))]),
        );
        if let (Some(g), Some(f)) = (g, f) {
            let r = g.bytes_per_message() / f.bytes_per_message();
            let _ = writeln!(
                out,
                "- bytes, N = 16, loss {}: group ÷ fan-out {r:.4} (target ≤ {:.4}): {}",
                pct(loss),
                targets::BYTES_RATIO,
                verdict(r <= targets::BYTES_RATIO)
            );
        }
        if let (Some(g), Some(f)) = (
            cpu.get(&(Setup::Group, 16, lk(loss))),
            cpu.get(&(Setup::Fanout, 16, lk(loss))),
        ) {
            let r = g / f;
            let _ = writeln!(
                out,
                "- server CPU, N = 16, loss {}: group ÷ fan-out {r:.3} (target ≤ {:.3}): {}",
                pct(loss),
                targets::CPU_RATIO,
                verdict(r <= targets::CPU_RATIO)
            );
        }
    }
    if let (Some(x), Some(y)) = (
        ok(get(&goodput, (Setup::Group, 16, lk(0.01)), &not_run))
            .and_then(Outcome::steady_goodput_bps),
        free,
    ) {
        let r = x / y;
        let _ = writeln!(
            out,
            "- goodput, N = 16, 1 % loss ÷ loss-free (last ¾): {r:.3} (target ≥ {}): {}",
            targets::GOODPUT_AT_1_PERCENT,
            verdict(r >= targets::GOODPUT_AT_1_PERCENT)
        );
    }
    for (n, bound) in [(64, targets::FEEDBACK_N64), (1000, targets::FEEDBACK_N1000)] {
        if let Some(g) = fb(Setup::Group, n).and_then(ok) {
            let r = g.feedback_per_data_packet();
            let _ = writeln!(
                out,
                "- feedback, N = {n}, 1 % loss: {r:.3} per group data packet (target ≤ {bound}): {}",
                verdict(r <= bound)
            );
        }
    }
    if let Some(o) = ok(get(
        &latency,
        (Setup::Group, lc.receivers, lk(0.01)),
        &not_run,
    )) {
        let p = o.latency(0.999);
        let _ = writeln!(
            out,
            "- fabric latency p99.9, 1 % loss: {} µs (target ≤ {} µs): {}",
            us(p),
            us(targets::P999_LATENCY),
            verdict(p <= targets::P999_LATENCY)
        );
    }
    println!("{out}");
}
