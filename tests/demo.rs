//! The cache-coherency workload ([`mcsctp::coherency`]) that `mcsctp demo`
//! and `examples/cache_coherency.rs` run, over real sockets on loopback:
//! with BARRIER the checker finds the caches coherent (no stale read, every
//! client converged, every group message delivered to every client); with
//! the acknowledgement sent as ordinary unicast under multicast loss, it
//! finds stale reads. And the `mcsctp demo` verb itself, briefly.
//!
//! If multicast on `lo` does not work on this host, each test prints
//! `SKIPPED: demo::<test>: <why>` and returns; with `CI=true` it fails.

#[path = "support/multicast.rs"]
mod multicast;
#[path = "support/ports.rs"]
mod ports;

use std::process::{Command, Stdio};
use std::time::Duration;

use mcsctp::coherency::{self, ClientSpec, Report, Settings};

fn multicast_works(test: &str) -> bool {
    match multicast::multicast_on_lo_works(multicast::group_addr(251, ports::free_udp_port())) {
        Ok(()) => true,
        Err(why) => {
            multicast::skip(&format!("demo::{test}"), &why);
            false
        }
    }
}

/// Two lossy members and a plain peer hammering four keys: each client
/// writes half the time and re-reads keys it wrote, so a write's
/// acknowledgement that overtakes its invalidation (lost on the multicast
/// path, waiting for a repair) is followed by a read of the stale cache
/// entry.
fn racy(barrier: bool) -> Settings {
    Settings {
        clients: vec![
            ClientSpec::Multicast { loss: 0.2 },
            ClientSpec::Multicast { loss: 0.2 },
            ClientSpec::Plain,
        ],
        keys: 4,
        write_ratio: 0.5,
        // Bounded by the operation count; the duration is only a cap.
        duration: Duration::from_secs(60),
        ops_per_client: Some(1000),
        rate: None,
        size: 64,
        barrier,
        group: Some(multicast::group_addr(
            if barrier { 20 } else { 21 },
            ports::free_udp_port(),
        )),
    }
}

/// What holds in every run, coherent or not: each client did its quota,
/// and every group message reached every client (the caches' convergence
/// relies on it).
fn check_complete(r: &Report, ops: u64) {
    for c in &r.clients {
        assert_eq!(c.ops, ops, "{}: operations\n{r}", c.name);
        assert_eq!(
            c.deliveries, r.group_messages,
            "{}: group messages delivered\n{r}",
            c.name
        );
    }
    assert_eq!(r.writes + r.reads, r.ops, "{r}");
    assert!(r.divergence.is_empty(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_barrier_no_read_is_stale_and_without_it_the_checker_finds_stale_reads() {
    const TEST: &str = "with_barrier_no_read_is_stale_and_without_it_the_checker_finds_stale_reads";
    if !multicast_works(TEST) {
        return;
    }
    let with = coherency::run(&racy(true), |_| {})
        .await
        .expect("run with BARRIER");
    check_complete(&with, 1000);
    assert!(with.writes > 0 && with.hits > 0, "{with}");
    assert!(
        with.clients.iter().any(|c| c.repairs > 0),
        "the lossy members needed repairs\n{with}"
    );
    assert!(with.coherent(), "{with}");

    let without = coherency::run(&racy(false), |_| {})
        .await
        .expect("run without BARRIER");
    check_complete(&without, 1000);
    assert!(
        without.stale_count > 0,
        "no stale read without BARRIER under 20 % loss\n{without}"
    );
    assert!(!without.coherent());
    assert_eq!(without.wrong_values, 0, "{without}");
    // A stale read is one the checker can explain: an older version than
    // the reader knew of.
    let s = &without.stale[0];
    assert!(s.returned < s.known, "{s:?}");
}

/// `mcsctp demo` with all three kinds of member, for 2 s: it prints the
/// table and the coherent verdict and exits 0.
#[test]
fn demo_verb_runs_all_member_kinds_and_reports_a_coherent_verdict() {
    const TEST: &str = "demo_verb_runs_all_member_kinds_and_reports_a_coherent_verdict";
    if !multicast_works(TEST) {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mcsctp"))
        .args(["demo", "--duration", "2", "--members", "4", "--loss", "2"])
        .stdin(Stdio::null())
        .output()
        .expect("run mcsctp demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}\n{stdout}\n{stderr}",
        out.status
    );
    for row in ["m1 ", "m2 ", "flap ", "plain "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(row)),
            "no row {row}\n{stdout}"
        );
    }
    assert!(stdout.contains("fan-out unicast instead"), "{stdout}");
    assert!(stdout.contains("verdict: COHERENT"), "{stdout}\n{stderr}");
    // Not a terminal: plain progress lines, no carriage returns.
    assert!(!stdout.contains('\r'), "{stdout}");
}

/// Bad options are refused with one line and exit status 2.
#[test]
fn demo_verb_refuses_bad_options() {
    for args in [
        &["demo", "--members", "2"][..],
        &["demo", "--loss", "150"],
        &["demo", "--size", "3"],
        &["demo", "--duration", "0"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mcsctp"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run mcsctp demo");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}
