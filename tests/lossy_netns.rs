//! Loss recovery on a real, lossy link (issue 9, item 4): two network
//! namespaces joined by a veth pair, nftables in the receiver's namespace
//! dropping 1 % of the DATA packets, and a bounded `mcsctp perf` transfer
//! through it (the setup of `scripts/bench-lossy.sh`, which measures
//! goodput; this test checks behaviour, never speed).
//!
//! Needs root, iproute2 (`ip netns`, veth), nftables and ethtool. Without
//! them the test prints `SKIPPED: <reason>` (also appended to the file
//! named by `MCSCTP_SKIP_LOG`, if set) and returns; with `CI=true` it
//! fails instead. The namespaces (`mcsctp-lt-<pid>-<n>-{a,b}`; the veth
//! pair and the nftables table live and die with them) are deleted when
//! the test ends, also when it panics; namespaces a killed run left behind
//! are deleted by the next run.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Prefix of every namespace this test creates.
const PREFIX: &str = "mcsctp-lt-";
const IP_A: &str = "10.99.0.1";
const IP_B: &str = "10.99.0.2";
/// The receiver's UDP encapsulation port (where the data goes and the loss
/// applies) and the sender's.
const PORT_B: u16 = 9899;
const PORT_A: u16 = 9900;
/// Share of the data packets nftables drops, in percent.
const LOSS_PERCENT: u32 = 1;
/// Messages of the transfer. At 1 % loss about one retransmission in a
/// hundred is lost again: 100 000 packets carry about 1 000 losses and
/// about 10 lost retransmissions (the chance of fewer than 3 is 0.3 %).
const MESSAGES: u64 = 100_000;
const LENGTH: u64 = 1200;
/// Upper bound for the transfer, to stop a hang; not a speed assertion (the
/// transfer takes seconds, or about one more second per retransmission
/// timeout at RTO.Min = 1 s).
const TRANSFER_LIMIT: Duration = Duration::from_secs(300);

/// A link of two fresh namespaces, deleted on drop.
struct Link {
    a: String,
    b: String,
}

impl Link {
    /// Namespaces `a` (sender, veth `va`, 10.99.0.1) and `b` (receiver,
    /// veth `vb`, 10.99.0.2), MTU 1500, segmentation and receive offloads
    /// off on both ends so that nftables sees (and drops) single packets
    /// rather than GSO batches of up to 64.
    fn new() -> Result<Self, Setup> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{}-{n}", std::process::id());
        let (a, b) = (format!("{base}-a"), format!("{base}-b"));
        // Creating the first namespace is where an unprivileged run fails:
        // a reason to skip. Past it, every failure is the test's.
        run(&["ip", "netns", "add", &a])
            .map_err(|e| Setup::Unavailable(format!("cannot create a network namespace: {e}")))?;
        let link = Self { a, b };
        let (a, b) = (link.a.as_str(), link.b.as_str());
        // (names and addresses contain no spaces: split on whitespace)
        let steps = [
            format!("ip netns add {b}"),
            format!("ip -n {a} link add va type veth peer name vb netns {b}"),
            format!("ip -n {a} addr add {IP_A}/24 dev va"),
            format!("ip -n {b} addr add {IP_B}/24 dev vb"),
            format!("ip -n {a} link set lo up"),
            format!("ip -n {b} link set lo up"),
            format!("ip -n {a} link set va mtu 1500 up"),
            format!("ip -n {b} link set vb mtu 1500 up"),
            format!("ip netns exec {a} ethtool -K va tx-udp-segmentation off gso off gro off"),
            format!("ip netns exec {b} ethtool -K vb tx-udp-segmentation off gso off gro off"),
        ];
        for step in &steps {
            run(&step.split_whitespace().collect::<Vec<_>>()).map_err(Setup::Failed)?;
        }
        for (ns, dev) in [(a, "va"), (b, "vb")] {
            let features =
                run(&["ip", "netns", "exec", ns, "ethtool", "-k", dev]).map_err(Setup::Failed)?;
            for feature in [
                "tx-udp-segmentation:",
                "generic-segmentation-offload:",
                "generic-receive-offload:",
            ] {
                let line = features.lines().find(|l| l.starts_with(feature));
                if !line.is_some_and(|l| l.contains(": off")) {
                    return Err(Setup::Failed(format!(
                        "{dev}: {feature} not off after ethtool -K: {line:?}"
                    )));
                }
            }
        }
        // The loss: packets of the data direction whose first chunk is
        // DATA or I-DATA (type 0 or 64: the byte after the 8-byte UDP and
        // 12-byte SCTP headers), with counters of what nftables saw, of
        // the DATA packets and of what it dropped. Handshake and shutdown
        // stay whole: a lost SHUTDOWN COMPLETE would leave the receiver
        // repeating SHUTDOWN ACK, backing off from 1 s, to a sender that
        // has gone, and its summary minutes late.
        let rules = format!(
            "table inet lossy {{
                counter seen {{}}
                counter data {{}}
                counter dropped {{}}
                chain input {{
                    type filter hook input priority filter; policy accept;
                    ip saddr {IP_A} udp dport {PORT_B} counter name seen
                    ip saddr {IP_A} udp dport {PORT_B} @th,160,8 {{ 0, 64 }} counter name data
                    ip saddr {IP_A} udp dport {PORT_B} @th,160,8 {{ 0, 64 }} numgen random mod 100 < {LOSS_PERCENT} counter name dropped drop
                }}
            }}"
        );
        run_with_stdin(&["ip", "netns", "exec", b, "nft", "-f", "-"], &rules)
            .map_err(Setup::Failed)?;
        Ok(link)
    }

    /// The packet count of nftables counter `name` in `b`.
    fn nft_packets(&self, name: &str) -> u64 {
        let out = run(&[
            "ip", "netns", "exec", &self.b, "nft", "list", "counter", "inet", "lossy", name,
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let n = out
            .split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|w| w.parse().ok());
        n.unwrap_or_else(|| panic!("no packet count in:\n{out}"))
    }

    /// Whether some socket in `b` is bound to UDP `port`.
    fn udp_bound_in_b(&self, port: u16) -> bool {
        let needle = format!(":{port:04X} ");
        run(&[
            "ip",
            "netns",
            "exec",
            &self.b,
            "cat",
            "/proc/net/udp",
            "/proc/net/udp6",
        ])
        .is_ok_and(|s| s.contains(&needle))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            if Path::new("/run/netns").join(ns).exists()
                && let Err(e) = run(&["ip", "netns", "del", ns])
            {
                let _ = writeln!(std::io::stderr(), "lossy_netns: {e}");
            }
        }
    }
}

/// Why the link could not be set up.
enum Setup {
    /// A missing prerequisite: skipped (failed under `CI=true`).
    Unavailable(String),
    /// Set-up went wrong although it could run: a failure.
    Failed(String),
}

/// Runs a command; its stdout, or what went wrong.
fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    checked(args, out)
}

fn run_with_stdin(args: &[&str], input: &str) -> Result<String, String> {
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    checked(args, out)
}

fn checked(args: &[&str], out: Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The effective user id, from /proc.
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Root and the tools, or why not.
fn prerequisites() -> Result<(), String> {
    if euid() != Some(0) {
        return Err("needs root (network namespaces, nftables)".into());
    }
    for (tool, arg, package) in [
        ("ip", "-V", "iproute2"),
        ("nft", "--version", "nftables"),
        ("ethtool", "--version", "ethtool"),
    ] {
        run(&[tool, arg]).map_err(|e| format!("{tool} missing (install {package}): {e}"))?;
    }
    Ok(())
}

/// Says the test was skipped and why, where a reader sees it; under
/// `CI=true` fails the test instead.
fn skip(test: &str, reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: prerequisites missing (CI=true): {reason}");
    }
    let line = format!("SKIPPED: lossy_netns::{test}: {reason}");
    // Straight to stderr: libtest captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(path) = std::env::var_os("MCSCTP_SKIP_LOG") {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = appended {
            let _ = writeln!(std::io::stderr(), "lossy_netns: MCSCTP_SKIP_LOG: {e}");
        }
    }
}

/// Deletes namespaces with this test's prefix whose process is gone (a
/// run killed before its guards could clean up).
fn remove_stale_namespaces() {
    let Ok(list) = run(&["ip", "netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
}

/// A child process, killed and reaped on drop.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `mcsctp` in namespace `ns` with `args`; stdout piped.
fn mcsctp_in(ns: &str, args: &[&str]) -> Kid {
    let child = Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_mcsctp")])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcsctp");
    Kid(child)
}

/// Lines of a child's stdout, read on a thread.
fn lines_of(kid: &mut Kid) -> mpsc::Receiver<String> {
    let out = kid.0.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn stderr_of(kid: &mut Kid) -> String {
    let mut s = String::new();
    if let Some(mut e) = kid.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut s);
    }
    s
}

/// The number `key` of a JSON summary line.
fn num(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer \"{key}\" in {v}"))
}

/// 100 000 messages of 1200 bytes through a veth link that drops 1 % of
/// them: every message arrives, intact and in order; nftables dropped
/// single packets at about the configured rate; and the losses were
/// repaired without the retransmission timer. At the RFC's RTO.Min of 1 s
/// a timeout can only be a real stall (a second with nothing repaired), so
/// the count of T3-rtx expirations is exactly the number of times recovery
/// waited for the timer.
#[test]
fn lossy_link_transfer_recovers_without_timeouts() {
    const TEST: &str = "lossy_link_transfer_recovers_without_timeouts";
    if let Err(why) = prerequisites() {
        return skip(TEST, &why);
    }
    remove_stale_namespaces();
    let link = match Link::new() {
        Ok(l) => l,
        Err(Setup::Unavailable(why)) => return skip(TEST, &why),
        Err(Setup::Failed(why)) => panic!("setting up the lossy link: {why}"),
    };
    assert!(
        !link.udp_bound_in_b(PORT_B),
        "a fresh namespace has UDP {PORT_B} bound"
    );

    // B <- receiver
    let (port_b, port_a, messages, length) = (
        PORT_B.to_string(),
        PORT_A.to_string(),
        MESSAGES.to_string(),
        LENGTH.to_string(),
    );
    let common = ["--idata", "false", "--json", "--verify"];
    let mut server = mcsctp_in(
        &link.b,
        &[
            &["perf", "-p", "5001", "-L", IP_B, "-E", &port_b][..],
            &common,
        ]
        .concat(),
    );
    let server_lines = lines_of(&mut server);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !link.udp_bound_in_b(PORT_B) {
        if let Ok(Some(st)) = server.0.try_wait() {
            panic!(
                "receiver exited ({st}) before binding: {}",
                stderr_of(&mut server)
            );
        }
        assert!(
            Instant::now() < deadline,
            "receiver did not bind UDP {PORT_B} within 20 s"
        );
        thread::sleep(Duration::from_millis(50));
    }

    // A -> sender, bounded
    let mut client = mcsctp_in(
        &link.a,
        &[
            &[
                "perf", IP_B, "-p", "5001", "-L", IP_A, "-E", &port_a, "-U", &port_b, "-n",
                &messages, "-l", &length,
            ][..],
            &common,
        ]
        .concat(),
    );
    let client_lines = lines_of(&mut client);
    let start = Instant::now();
    let status = loop {
        if let Some(st) = client.0.try_wait().expect("wait for the sender") {
            break st;
        }
        assert!(
            start.elapsed() < TRANSFER_LIMIT,
            "the transfer did not complete within {TRANSFER_LIMIT:?} (hung?)"
        );
        thread::sleep(Duration::from_millis(50));
    };
    let client_err = stderr_of(&mut client);
    assert!(status.success(), "sender failed ({status}): {client_err}");
    let sent: Value = client_lines
        .iter()
        .find_map(|l| serde_json::from_str(&l).ok())
        .unwrap_or_else(|| panic!("no JSON summary from the sender; stderr: {client_err}"));
    let got: Value = server_lines
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .and_then(|l| serde_json::from_str(&l).ok())
        .expect("no JSON summary from the receiver within 30 s of the sender's end");
    drop(server);
    let (seen, data, dropped) = (
        link.nft_packets("seen"),
        link.nft_packets("data"),
        link.nft_packets("dropped"),
    );
    eprintln!("sender: {sent}\nreceiver: {got}\nnft: seen {seen}, DATA {data}, dropped {dropped}");

    // Every byte arrived, in order, intact. (The sender's close() returned
    // after a graceful shutdown: the peer acknowledged everything.)
    assert_eq!(num(&sent, "messages"), MESSAGES, "messages sent");
    assert_eq!(num(&got, "messages"), MESSAGES, "messages received");
    assert_eq!(num(&got, "bytes"), MESSAGES * LENGTH, "bytes received");
    assert_eq!(
        num(&got, "verify_errors"),
        0,
        "messages out of order or corrupt"
    );

    // The loss happened, per packet, at about the configured rate. The
    // sender counts its packets until everything is acknowledged; nftables
    // sees those and the shutdown's. (With segmentation offload on, it
    // would see, and drop, GSO batches of up to 64 packets instead.)
    let packets = num(&sent, "packets_sent");
    assert!(
        (packets..=packets + 10).contains(&seen),
        "nftables saw {seen} packets, the sender sent {packets}: not one nft packet per SCTP packet"
    );
    // A 1500-byte path carries at most 1500 - 20 - 8 - 12 - 16 = 1444
    // bytes of user data per DATA packet (messages are fragmented to fill
    // packets, so there may be fewer packets than messages).
    assert!(
        data + 10 >= seen && data * 1444 >= MESSAGES * LENGTH,
        "nftables saw {seen} packets, {data} of them DATA, for {MESSAGES} messages"
    );
    let share = dropped as f64 / data as f64 * 100.0;
    assert!(
        dropped > 0 && (0.6..=1.4).contains(&share),
        "nftables dropped {dropped} of {data} DATA packets ({share:.2} %), configured {LOSS_PERCENT} %"
    );
    let retransmitted = num(&sent, "data_chunks_retransmitted");
    assert!(
        retransmitted >= dropped / 2,
        "{dropped} packets dropped but only {retransmitted} chunks retransmitted"
    );
    assert!(num(&sent, "fast_retransmits") > 0, "no fast retransmit");

    // Item 4 of issue 9: recovery does not wait for the retransmission
    // timer. About 10 of the ~1 000 fast retransmissions in this transfer
    // are lost again; the sender finds them by RACK's timing or a tail loss
    // probe (core/src/tx/loss.rs) and repeats them at once. Allowed: 2
    // expirations, for a probe lost as well. The core before a0abd1d
    // repaired a lost retransmission only with T3-rtx and failed here
    // (6-12 expirations per run).
    let t3 = num(&sent, "t3_expirations");
    assert!(
        t3 <= 2,
        "the sender waited for T3-rtx {t3} times (RTO.Min 1 s) for {MESSAGES} messages at \
         {LOSS_PERCENT} % loss ({dropped} packets dropped, {retransmitted} chunks retransmitted, \
         {} fast retransmits): lost retransmissions are not detected",
        num(&sent, "fast_retransmits")
    );
}

/// `perf --rto-min` takes whole milliseconds in 1..=60000; anything else
/// is a usage error: exit status 2, one line on stderr.
#[test]
fn perf_rejects_a_bad_rto_min() {
    for bad in ["", "ten", "1.5", "0", "-3", "60001"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mcsctp"))
            .args(["perf", &format!("--rto-min={bad}")])
            .output()
            .expect("run mcsctp");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--rto-min {bad:?}: {err}");
        assert_eq!(err.lines().count(), 1, "--rto-min {bad:?}: {err}");
        assert!(err.contains("--rto-min"), "--rto-min {bad:?}: {err}");
    }
}
