//! `mcsctp perf --group N`: a group server and N members in one process on
//! loopback. Small bounded runs: every member delivers every message
//! (multicast, plain and fan-out), injected multicast loss is repaired,
//! plain members are counted as plain, and bad arguments end with one line
//! on stderr and exit code 2. Each run is bounded by the verb's own limits
//! and by a kill after [`LIMIT`].
//!
//! If multicast on `lo` does not work on this host, the tests that need it
//! print `SKIPPED: cli_perf_group::<test>: <why>` and return; with
//! `CI=true` they fail.

#[path = "support/multicast.rs"]
mod multicast;
#[path = "support/ports.rs"]
mod ports;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mcsctp");

/// Every run of the CLI.
const LIMIT: Duration = Duration::from_secs(120);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `mcsctp perf <args>` to its end (killed after [`LIMIT`]).
fn perf(args: &[&str]) -> Run {
    let mut child = Command::new(BIN)
        .arg("perf")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mcsctp");
    let drain = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = p {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() >= LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "mcsctp perf {args:?} still running after {LIMIT:?}; stderr: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// A successful run's JSON object.
fn json(args: &[&str]) -> serde_json::Value {
    let r = perf(args);
    assert_eq!(r.code, Some(0), "{args:?}: {}\n{}", r.stderr, r.stdout);
    assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON object ({e}): {:?}", r.stdout))
}

/// Whether multicast on lo works; if not, the test is reported skipped.
fn multicast_here(test: &str) -> bool {
    let g = multicast::group_addr(240, ports::free_udp_port());
    match multicast::multicast_on_lo_works(g) {
        Ok(()) => true,
        Err(why) => {
            multicast::skip(&format!("cli_perf_group::{test}"), &why);
            false
        }
    }
}

fn list(v: &serde_json::Value, field: &str) -> Vec<serde_json::Value> {
    v[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} is not a list: {v}"))
        .clone()
}

/// Every member delivered every message, none twice, none corrupt.
fn assert_complete(v: &serde_json::Value, members: usize, messages: u64) {
    assert_eq!(v["complete"], true, "{v}");
    assert_eq!(v["messages"], messages, "{v}");
    assert_eq!(v["members"], members, "{v}");
    assert_eq!(v["delivered_min"], messages, "{v}");
    assert_eq!(v["delivered_total"], messages * members as u64, "{v}");
    for f in ["duplicates", "corrupt"] {
        assert_eq!(v[f], 0, "{f}: {v}");
    }
    let delivered = list(v, "delivered");
    assert_eq!(delivered.len(), members, "{v}");
    assert!(delivered.iter().all(|d| *d == messages), "{v}");
    assert!(v["goodput_min"].as_f64().is_some_and(|g| g > 0.0), "{v}");
    assert!(
        v["server_cpu_seconds"].as_f64().is_some_and(|c| c > 0.0),
        "{v}"
    );
    assert!(v["latency_p50_us"].as_u64().is_some(), "{v}");
    // The CDF points (scripts/report.sh plots them): quantiles ascending
    // to 1, latencies non-decreasing, agreeing with the percentile fields.
    let q: Vec<f64> = list(v, "latency_cdf_q")
        .iter()
        .map(|q| q.as_f64().unwrap())
        .collect();
    let us: Vec<u64> = list(v, "latency_cdf_us")
        .iter()
        .map(|u| u.as_u64().unwrap())
        .collect();
    assert_eq!(q.len(), us.len(), "{v}");
    assert!(
        q.windows(2).all(|w| w[0] < w[1]) && q.last() == Some(&1.0),
        "{v}"
    );
    assert!(us.windows(2).all(|w| w[0] <= w[1]), "{v}");
    let at = |x: f64| us[q.iter().position(|&y| y == x).expect("quantile listed")];
    assert_eq!(Some(at(0.5)), v["latency_p50_us"].as_u64(), "{v}");
    assert_eq!(Some(at(0.99)), v["latency_p99_us"].as_u64(), "{v}");
    assert_eq!(Some(at(1.0)), v["latency_max_us"].as_u64(), "{v}");
}

#[test]
fn multicast_and_plain_members_deliver_every_message() {
    if !multicast_here("multicast_and_plain_members_deliver_every_message") {
        return;
    }
    let v = json(&[
        "--group",
        "3",
        "--plain",
        "1",
        "-n",
        "2000",
        "-l",
        "1200",
        "--rto-min",
        "10",
        "--json",
    ]);
    assert_complete(&v, 3, 2000);
    assert_eq!(v["mode"], "multicast", "{v}");
    assert_eq!(v["plain"], 1, "{v}");
    let kinds = list(&v, "kind");
    assert_eq!(kinds.iter().filter(|k| *k == "plain").count(), 1, "{v}");
    assert_eq!(kinds[2], "plain", "the last member is the plain one: {v}");
    // The server waited for the joins: the others are group members.
    for k in &kinds[..2] {
        assert!(k == "multicast" || k == "fallback", "{v}");
    }
    // The two multicast members got the messages from the group: at least
    // one copy of every message went to the group address.
    assert!(
        v["server_bytes_multicast"].as_u64() >= Some(2000 * 1200),
        "{v}"
    );
    // The plain member: everything by unicast.
    assert!(
        v["server_bytes_unicast"].as_u64() >= Some(2000 * 1200),
        "{v}"
    );
}

#[test]
fn injected_multicast_loss_is_repaired() {
    if !multicast_here("injected_multicast_loss_is_repaired") {
        return;
    }
    let v = json(&[
        "--group",
        "2",
        "--loss",
        "10",
        "-n",
        "2000",
        "-l",
        "1200",
        "--rto-min",
        "10",
        "--json",
    ]);
    assert_complete(&v, 2, 2000);
    assert_eq!(v["loss"], 10.0, "{v}");
    assert!(
        v["repairs"].as_u64() > Some(0),
        "no repairs at 10 % loss: {v}"
    );
    // Every member stayed complete; each one that stayed on multicast
    // needed repairs (one that fell back gets the rest by unicast).
    let kinds = list(&v, "kind");
    for (k, r) in kinds.iter().zip(list(&v, "member_repairs")) {
        if k == "multicast" {
            assert!(
                r.as_u64() > Some(0),
                "a lossy multicast member without repairs: {v}"
            );
        }
    }
}

#[test]
fn fanout_delivers_the_same_workload_over_unicast() {
    let v = json(&[
        "--group",
        "3",
        "--fanout",
        "-n",
        "2000",
        "-l",
        "1200",
        "--rto-min",
        "10",
        "--json",
    ]);
    assert_complete(&v, 3, 2000);
    assert_eq!(v["mode"], "fanout", "{v}");
    assert_eq!(v["server_bytes_multicast"], 0, "{v}");
    assert!(
        v["server_bytes_unicast"].as_u64() >= Some(3 * 2000 * 1200),
        "{v}"
    );
    assert!(list(&v, "kind").iter().all(|k| k == "unicast"), "{v}");
}

#[test]
fn text_output_has_a_line_per_member() {
    if !multicast_here("text_output_has_a_line_per_member") {
        return;
    }
    let r = perf(&["--group", "2", "--plain", "1", "-n", "300", "-l", "100"]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stderr, r.stdout);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("Group of 2 members (1 plain), multicast")
            && lines[0].contains("sending of 300 messages of length 100 took"),
        "{lines:?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("member ") && l.contains("delivered 300 messages"))
            .count(),
        2,
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("member 1 plain:")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("server: ")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("latency: ")),
        "{lines:?}"
    );
}

#[test]
fn bad_group_arguments_exit_2_with_one_line() {
    for (args, needle) in [
        (&["--group", "2", "--plain", "3"][..], "--plain 3"),
        (&["--group", "2", "--loss", "150"][..], "out of range"),
        (&["--group", "2", "--loss", "x"][..], "not a percentage"),
        (&["--group", "2", "--fanout", "--loss", "5"][..], "--fanout"),
        (&["--group", "2", "-l", "8"][..], "below 16"),
        (&["--group", "0"][..], "0"),
        (&["--plain", "1"][..], "--group"),
        (&["--group", "2", "127.0.0.1"][..], "cannot be used with"),
        (
            &["--group", "2", "--group-address", "10.0.0.1:5000"][..],
            "not a multicast",
        ),
        (&["--group", "2", "-u"][..], "not supported"),
    ] {
        let r = perf(args);
        let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(r.code, Some(2), "{args:?}: {:?}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
        assert_eq!(lines.len(), 1, "{args:?}: not one line: {:?}", r.stderr);
        assert!(
            lines[0].starts_with("mcsctp: ") && lines[0].contains(needle),
            "{args:?}: {:?} does not say {needle:?}",
            lines[0]
        );
        assert!(r.stdout.is_empty(), "{args:?}: {:?}", r.stdout);
    }
}
