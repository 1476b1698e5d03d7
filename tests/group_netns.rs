//! Multicast groups over real sockets and a real Ethernet segment (issue
//! 11, item 3): a Linux bridge in a namespace of its own, a group server
//! in one namespace and members in others, each joined to the bridge by a
//! veth pair, with real IP multicast (IPv4 and IPv6) across it, driven
//! through the `mcsctp group-server` and `mcsctp member` verbs.
//!
//! - The bridge has multicast snooping off: without an IGMP/MLD querier on
//!   the segment, a snooping bridge would stop forwarding the group once
//!   its membership reports aged out.
//! - Segmentation and receive offloads are off on every veth end, so
//!   nftables sees, and drops, single packets rather than GSO batches:
//!   loss here is per packet.
//! - The loss: nftables in a member's namespace drops a random share of the
//!   *group* packets arriving there (destination the group address and
//!   port), before routing. Unicast (the member's association) is never
//!   dropped.
//!
//! Scenarios: four IPv4 members at 0, 2, 20 and 100 % group-path loss,
//! captured with tshark in the server's namespace and decoded with
//! `dissector/mcsctp.lua`; a member whose 100 % loss ends mid-run and
//! returns to multicast; an IPv6 group; a member killed mid-stream.
//!
//! Needs root, iproute2 (`ip netns`, veth, bridge), nftables, ethtool and
//! tshark. Without them the tests print `SKIPPED: group_netns::<test>:
//! <why>` (see `support/multicast.rs`); with `CI=true` they fail. Every
//! namespace (`mcsctp-gn-<pid>-<n>-<role>`; the veths, bridge and
//! nftables tables live and die with them) is deleted when its test ends,
//! also when it panics; namespaces a killed run left behind are deleted by
//! the next run. The tests of this file run one at a time (on two cores,
//! several groups at once would make members slow enough to fall back).
//! Every wait on a child process is bounded; a child still running at
//! the bound is killed and the test fails with its stderr.

#[path = "support/multicast.rs"]
mod multicast;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mcsctp");
/// Prefix of every namespace these tests create.
const PREFIX: &str = "mcsctp-gn-";
/// The server's UDP encapsulation port (RFC 6951's 9899) and SCTP port.
const SERVER_UDP: u16 = 9899;
const SCTP_PORT: &str = "7";
/// The group's UDP port: the draft's default Mcast.Group.Port.
const GROUP_PORT: u16 = 9907;
/// The groups (the segment is private to the test: fixed addresses).
const GROUP4: &str = "239.77.0.1";
const GROUP6: &str = "ff15::4d:1";
/// The interface name inside every server and member namespace.
const DEV: &str = "eth0";
/// Each child's bound (`--timeout` of the verbs is smaller).
const CHILD_LIMIT: Duration = Duration::from_secs(60);
/// `--timeout` of the verbs: every wait of theirs.
const TIMEOUT: &str = "30";
/// RTO.Min of every association, in ms (a LAN; the default 1 s would make
/// every timer-driven repair a second long).
const RTO_MIN: &str = "20";

/// The tests of this file, one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------
// The segment
// ---------------------------------------------------------------------

/// A bridge (namespace `…-br`), a server namespace (`…-s`, 10.78.0.1 and
/// fd78::1 on `eth0`) and member namespaces (`…-m<i>`, 10.78.0.(10+i) and
/// fd78::(10+i)), deleted on drop.
struct Lan {
    br: String,
    server: String,
    members: Vec<String>,
}

/// Why the segment could not be set up.
enum Setup {
    /// A missing prerequisite: skipped (failed under `CI=true`).
    Unavailable(String),
    /// Set-up went wrong although it could run: a failure.
    Failed(String),
}

impl Lan {
    fn new(members: usize) -> Result<Self, Setup> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = format!("{PREFIX}{}-{n}", std::process::id());
        let lan = Self {
            br: format!("{base}-br"),
            server: format!("{base}-s"),
            members: (0..members).map(|i| format!("{base}-m{i}")).collect(),
        };
        // Creating the first namespace is where an unprivileged run fails:
        // a reason to skip. Past it, every failure is the test's.
        run(&["ip", "netns", "add", &lan.br])
            .map_err(|e| Setup::Unavailable(format!("cannot create a network namespace: {e}")))?;
        lan.build().map_err(Setup::Failed)?;
        Ok(lan)
    }

    fn build(&self) -> Result<(), String> {
        let br = self.br.as_str();
        // Snooping off (see the module docs), and no STP delay: ports
        // forward at once.
        for step in [
            format!("ip -n {br} link set lo up"),
            format!(
                "ip -n {br} link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0"
            ),
            format!("ip -n {br} link set br0 up"),
        ] {
            run_line(&step)?;
        }
        let snooping = run(&[
            "ip",
            "netns",
            "exec",
            br,
            "cat",
            "/sys/class/net/br0/bridge/multicast_snooping",
        ])?;
        if snooping.trim() != "0" {
            return Err(format!(
                "br0: multicast_snooping is {snooping:?} after mcast_snooping 0"
            ));
        }
        let hosts = std::iter::once((&self.server, 1)).chain(self.members.iter().zip(10..));
        for (i, (ns, host)) in hosts.enumerate() {
            let port = format!("p{i}");
            for step in [
                format!("ip netns add {ns}"),
                format!("ip -n {ns} link set lo up"),
                format!("ip -n {br} link add {port} type veth peer name {DEV} netns {ns}"),
                format!("ip -n {br} link set {port} master br0 mtu 1500 up"),
                format!("ip -n {ns} addr add 10.78.0.{host}/24 dev {DEV}"),
                // nodad: usable at once, no duplicate address detection.
                format!("ip -n {ns} addr add fd78::{host}/64 dev {DEV} nodad"),
                format!("ip -n {ns} link set {DEV} mtu 1500 up"),
            ] {
                run_line(&step)?;
            }
            offloads_off(br, &port)?;
            offloads_off(ns, DEV)?;
        }
        Ok(())
    }

    /// Namespace, IPv4 and IPv6 address of member `i`.
    fn member(&self, i: usize) -> (&str, String, String) {
        (
            &self.members[i],
            format!("10.78.0.{}", 10 + i),
            format!("fd78::{}", 10 + i),
        )
    }

    /// Drops `percent` % of the group packets (to `group`:[`GROUP_PORT`])
    /// arriving in member `i`'s namespace, at random, and counts them:
    /// counter `group` (every group packet), `dropped`. Called again, it
    /// changes the share (0: none).
    fn set_loss(&self, i: usize, group: &str, percent: u32) {
        let ns = &self.members[i];
        let family = if group.contains(':') { "ip6" } else { "ip" };
        let table = format!(
            "table inet mcloss {{
                counter group {{}}
                counter dropped {{}}
                chain loss {{}}
                chain pre {{
                    type filter hook prerouting priority raw; policy accept;
                    {family} daddr {group} udp dport {GROUP_PORT} counter name group jump loss
                }}
            }}"
        );
        let exists = run(&[
            "ip", "netns", "exec", ns, "nft", "list", "table", "inet", "mcloss",
        ]);
        if exists.is_err() {
            run_with_stdin(&["ip", "netns", "exec", ns, "nft", "-f", "-"], &table)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        run(&[
            "ip", "netns", "exec", ns, "nft", "flush", "chain", "inet", "mcloss", "loss",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        if percent > 0 {
            // (`mod 100 < 100` is out of nft's range: every packet.)
            let sample = if percent >= 100 {
                String::new()
            } else {
                format!("numgen random mod 100 < {percent} ")
            };
            let rule = format!("add rule inet mcloss loss {sample}counter name dropped drop");
            run_with_stdin(&["ip", "netns", "exec", ns, "nft", "-f", "-"], &rule)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// The packet count of nftables counter `name` in member `i`.
    fn counter(&self, i: usize, name: &str) -> u64 {
        let out = run(&[
            "ip",
            "netns",
            "exec",
            &self.members[i],
            "nft",
            "list",
            "counter",
            "inet",
            "mcloss",
            name,
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        out.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no packet count in:\n{out}"))
    }

    /// Waits (bounded) until the server namespace has UDP `port` bound.
    fn wait_server_bound(&self, server: &mut Proc, port: u16) {
        let needle = format!(":{port:04X} ");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let bound = run(&[
                "ip",
                "netns",
                "exec",
                &self.server,
                "cat",
                "/proc/net/udp",
                "/proc/net/udp6",
            ])
            .is_ok_and(|s| s.contains(&needle));
            if bound {
                return;
            }
            server.assert_running("before binding its UDP port");
            assert!(
                Instant::now() < deadline,
                "the group server did not bind UDP {port} within 20 s; stderr: {}",
                server.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.members.iter().chain([&self.server, &self.br]) {
            if Path::new("/run/netns").join(ns).exists()
                && let Err(e) = run(&["ip", "netns", "del", ns])
            {
                let _ = writeln!(std::io::stderr(), "group_netns: {e}");
            }
        }
    }
}

/// Switches off segmentation and receive offloads on `dev` in `ns`, and
/// checks that they are off.
fn offloads_off(ns: &str, dev: &str) -> Result<(), String> {
    run_line(&format!(
        "ip netns exec {ns} ethtool -K {dev} tx-udp-segmentation off gso off tso off gro off"
    ))?;
    let features = run(&["ip", "netns", "exec", ns, "ethtool", "-k", dev])?;
    for feature in [
        "tx-udp-segmentation:",
        "generic-segmentation-offload:",
        "tcp-segmentation-offload:",
        "generic-receive-offload:",
    ] {
        let line = features.lines().find(|l| l.starts_with(feature));
        if !line.is_some_and(|l| l.contains(": off")) {
            return Err(format!(
                "{ns} {dev}: {feature} not off after ethtool -K: {line:?}"
            ));
        }
    }
    Ok(())
}

/// Deletes namespaces with this file's prefix whose process is gone (a
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

// ---------------------------------------------------------------------
// Commands and children
// ---------------------------------------------------------------------

/// Runs a command; its stdout, or what went wrong.
fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    checked(args, out)
}

/// [`run`] of a line without quoting (names and addresses have no spaces).
fn run_line(line: &str) -> Result<String, String> {
    run(&line.split_whitespace().collect::<Vec<_>>())
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

/// A child process in a namespace (`ip netns exec` execs it: the pid is
/// the program's). Its stdout and stderr are read as they come (stderr
/// lines also go to a channel); killed and reaped on drop.
struct Proc {
    name: String,
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    err_lines: mpsc::Receiver<String>,
    readers: Vec<JoinHandle<()>>,
}

/// How a child ended.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Proc {
    /// `program` with `args`, in namespace `ns` (`None`: this one).
    fn spawn(name: &str, ns: Option<&str>, program: &str, args: &[&str], stdin: Stdio) -> Self {
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        };
        let mut child = cmd
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: start {program}: {e}"));
        let out: Arc<Mutex<String>> = Arc::default();
        let err: Arc<Mutex<String>> = Arc::default();
        let (tx, err_lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let o = Arc::clone(&out);
        let e = Arc::clone(&err);
        let readers = vec![
            thread::spawn(move || {
                let mut b = Vec::new();
                let _ = BufReader::new(stdout).read_to_end(&mut b);
                o.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_str(&String::from_utf8_lossy(&b));
            }),
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    {
                        let mut e = e.lock().unwrap_or_else(|p| p.into_inner());
                        e.push_str(&line);
                        e.push('\n');
                    }
                    let _ = tx.send(line);
                }
            }),
        ];
        Self {
            name: name.to_owned(),
            child,
            out,
            err,
            err_lines,
            readers,
        }
    }

    /// `mcsctp` with `args` in `ns`.
    fn mcsctp(name: &str, ns: &str, args: &[&str], stdin: Stdio) -> Self {
        Self::spawn(name, Some(ns), BIN, args, stdin)
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin piped")
    }

    /// Fails the test if the child has ended.
    fn assert_running(&mut self, when: &str) {
        if let Ok(Some(st)) = self.child.try_wait() {
            thread::sleep(Duration::from_millis(100)); // the readers catch up
            panic!(
                "{} exited ({st}) {when}; stderr: {}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Waits (bounded by `limit`) for a stderr line that `matches`.
    fn wait_stderr_line(&mut self, limit: Duration, what: &str, matches: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            match self.err_lines.recv_timeout(Duration::from_millis(50)) {
                Ok(line) if matches(&line) => return,
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.assert_running(&format!("waiting for {what}"));
                }
            }
            self.assert_running(&format!("waiting for {what}"));
            assert!(
                Instant::now() < deadline,
                "{}: no {what} within {limit:?}; stderr: {}",
                self.name,
                self.stderr()
            );
        }
    }

    /// Waits (bounded) for the child to end; killed at the bound, and the
    /// test fails with its stderr.
    fn finish(mut self, limit: Duration) -> Run {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() >= limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                thread::sleep(Duration::from_millis(100));
                panic!(
                    "{} still running after {limit:?} (killed); stderr: {}",
                    self.name,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        // The pipes close with the process (nothing else holds them).
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        Run {
            status,
            stdout: self.out.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The JSON summary of a verb that succeeded.
fn json(who: &str, r: &Run) -> Value {
    assert!(
        r.status.success(),
        "{who} failed ({}): {}",
        r.status,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{who}: {}", r.stderr);
    serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{who}: output is not one JSON object ({e}): {:?}; stderr: {}",
            r.stdout, r.stderr
        )
    })
}

/// A group server in the LAN's server namespace, `--json --events`, on
/// `group` from `bind`, with `extra` arguments.
fn group_server(lan: &Lan, group: &str, bind: &str, extra: &[&str], stdin: Stdio) -> Proc {
    let mut args = vec!["group-server", "--group", group, "--interface", DEV];
    args.extend(["--bind", bind, "--port", SCTP_PORT]);
    args.extend(["--local-udp-port", "9899", "--timeout", TIMEOUT]);
    args.extend(["--rto-min", RTO_MIN, "--json", "--events"]);
    args.extend(extra);
    let mut p = Proc::mcsctp("group-server", &lan.server, &args, stdin);
    lan.wait_server_bound(&mut p, SERVER_UDP);
    p
}

/// Member `i` of the LAN, joining on `eth0` (unless `extra` has
/// `--plain`), IPv6 if `v6`, with `extra` arguments.
fn member(lan: &Lan, i: usize, v6: bool, extra: &[&str]) -> Proc {
    let (ns, ip4, ip6) = lan.member(i);
    let (server, bind) = if v6 {
        ("fd78::1", ip6)
    } else {
        ("10.78.0.1", ip4)
    };
    let mut args = vec!["member", server, SCTP_PORT, "--bind", &bind];
    if !extra.contains(&"--plain") {
        args.extend(["--interface", DEV]);
    }
    args.extend(["--remote-udp-port", "9899"]);
    args.extend(["--timeout", TIMEOUT, "--rto-min", RTO_MIN, "--json"]);
    args.extend(extra);
    Proc::mcsctp(&format!("member {i}"), ns, &args, Stdio::null())
}

/// The entry of the server's `members` list for the member at `ip`.
fn server_entry<'a>(s: &'a Value, ip: &str) -> &'a Value {
    let list = s["members"].as_array().expect("members list");
    let found: Vec<&Value> = list
        .iter()
        .filter(|m| {
            m["addr"]
                .as_str()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .is_some_and(|a| a.ip().to_string() == ip)
        })
        .collect();
    assert_eq!(found.len(), 1, "member {ip} in the server's list: {s}");
    found[0]
}

/// Root and the tools, or why not.
fn prerequisites() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2));
    if euid != Some("0") {
        return Err("needs root (network namespaces, bridge, nftables)".into());
    }
    for (tool, arg, package) in [
        ("ip", "-V", "iproute2"),
        ("nft", "--version", "nftables"),
        ("ethtool", "--version", "ethtool"),
        ("tshark", "-v", "tshark"),
    ] {
        run(&[tool, arg]).map_err(|e| format!("{tool} missing (install {package}): {e}"))?;
    }
    Ok(())
}

/// The segment with `members` member namespaces, or `None` after the test
/// was reported skipped (a failure under `CI=true`).
fn lan_for(test: &str, members: usize) -> Option<Lan> {
    let name = format!("group_netns::{test}");
    if let Err(why) = prerequisites() {
        multicast::skip(&name, &why);
        return None;
    }
    remove_stale_namespaces();
    match Lan::new(members) {
        Ok(l) => Some(l),
        Err(Setup::Unavailable(why)) => {
            multicast::skip(&name, &why);
            None
        }
        Err(Setup::Failed(why)) => panic!("{name}: setting up the segment: {why}"),
    }
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Asserts that member summary `g` got exactly the server's stream.
fn assert_exact(who: &str, g: &Value, s: &Value) {
    assert_eq!(g["received"], s["messages"], "{who}: {g}");
    assert_eq!(g["bytes"], s["bytes"], "{who}: {g}");
    assert_eq!(g["duplicates"], 0, "{who}: {g}");
    assert_eq!(g["out_of_order"], 0, "{who}: {g}");
    assert_eq!(g["sha256"], s["sha256"], "{who}: {g}\nserver: {s}");
}

/// A member's entry in the server's summary, of a member whose group-path
/// loss is below Mcast.Fallback.LossThreshold (10 %): the loss stayed
/// below it, and the member is on multicast at the end unless the server
/// moved it to fallback for another reason (then only reported). A member
/// starved of CPU for Mcast.Fallback.SilenceTimeout (300 ms) falls back,
/// as may one whose SRTT_k jitters under load (the slow-member rule): seen
/// at a load average of 12 to 17 on two shared cores, about one run in
/// ten, some returning before the end and some not.
fn assert_multicast_unless_starved(who: &str, entry: &Value) {
    let loss = entry["mcast_loss"].as_f64().expect("mcast_loss");
    assert!(loss < 0.10, "{who}: {entry}");
    if entry["fallbacks"] == 0 {
        assert_eq!(entry["kind"], "multicast", "{who}: {entry}");
    } else {
        eprintln!("{who} fell back although its loss was below the threshold: {entry}");
    }
}

/// Writes lines of `len` bytes to a group server's stdin on a thread until
/// `stop` is set (then closes stdin). Paced to about one line per 200 µs
/// to keep the load moderate; the server reads them as it can. Returns
/// the number of lines written.
fn feed_lines(mut stdin: ChildStdin, len: usize, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut line = format!("line {n} ");
            while line.len() < len {
                line.push(char::from(b'a' + (line.len() % 26) as u8));
            }
            line.push('\n');
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
            n += 1;
            thread::sleep(Duration::from_micros(200));
        }
        n
    })
}

// ---------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------

/// Messages of the lossy IPv4 run, 1200 bytes each (a member at 100 %
/// loss gets them all over its association, which makes this run take
/// seconds rather than a fraction of one).
const LOSSY_MESSAGES: u64 = 1000;
/// The group-path loss of the extension members, in percent. A fifth
/// member is a plain SCTP peer (its association carries DATA and SACK for
/// the capture).
const LOSSES: [u32; 4] = [0, 2, 20, 100];

/// Four members at 0, 2, 20 and 100 % group-path loss (per packet) and a
/// plain peer get exactly the server's stream. The 100 % member never
/// sees a group packet: it gets everything over its association
/// (fallback). The 0 and 2 % members stay on multicast (as far as their
/// loss goes: see [`assert_multicast_unless_starved`]). The 20 % member is
/// above the draft's Mcast.Fallback.LossThreshold (10 %) and falls back
/// (draft §"Moving to Fallback") after getting group packets first. The
/// run is captured in the server's namespace, and tshark with
/// `dissector/mcsctp.lua` decodes it without a malformed packet or Lua
/// error, with MDATA, MSACK, DATA and SACK chunks among it.
#[test]
fn ipv4_members_at_0_2_20_100_percent_loss_get_the_stream_exactly() {
    const TEST: &str = "ipv4_members_at_0_2_20_100_percent_loss_get_the_stream_exactly";
    let _serial = serial();
    let n = LOSSES.len();
    let Some(lan) = lan_for(TEST, n + 1) else {
        return;
    };
    let group = format!("{GROUP4}:{GROUP_PORT}");
    for (i, loss) in LOSSES.iter().enumerate() {
        lan.set_loss(i, GROUP4, *loss);
    }
    let capture = Capture::start(&lan.server);
    let count = LOSSY_MESSAGES.to_string();
    let server = group_server(
        &lan,
        &group,
        "10.78.0.1",
        &["--members", "5", "--count", &count, "--size", "1200"],
        Stdio::null(),
    );
    // Without --count, a member ends when the server closes its
    // association, so that the server's summary has every member: one
    // that got everything early would leave after a few seconds.
    let mut members: Vec<Proc> = (0..n).map(|i| member(&lan, i, false, &[])).collect();
    members.push(member(&lan, n, false, &["--plain"]));
    let server = server.finish(CHILD_LIMIT);
    let s = json("group-server", &server);
    let got: Vec<Value> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| json(&format!("member {i}"), &m.finish(CHILD_LIMIT)))
        .collect();
    let pcap = capture.stop();
    let counts: Vec<(u64, u64)> = (0..n)
        .map(|i| (lan.counter(i, "group"), lan.counter(i, "dropped")))
        .collect();
    eprintln!("server: {s}\n{}", server.stderr);
    for (i, g) in got.iter().enumerate() {
        eprintln!(
            "member {i}: {g}; nft (group packets, dropped): {:?}",
            counts.get(i)
        );
    }

    assert_eq!(s["messages"], LOSSY_MESSAGES, "{s}");
    for (i, g) in got.iter().enumerate() {
        assert_exact(&format!("member {i}"), g, &s);
    }
    // Every member's namespace saw the group's datagrams (a few may be
    // lost on the way, before nftables: a veth's backlog is finite; the
    // server's count is of those sent before its summary, and closing
    // may send one or two more), and
    // nftables dropped single packets at the configured share (within
    // five standard deviations of the binomial count).
    let sent = s["datagrams_multicast"]
        .as_u64()
        .expect("datagrams_multicast");
    for (i, &(seen, dropped)) in counts.iter().enumerate() {
        assert!(
            seen <= sent + 4 && seen * 100 >= sent * 95,
            "member {i}: {seen} group packets arrived, the server sent {sent}"
        );
        let p = f64::from(LOSSES[i]) / 100.0;
        let (mean, sd) = (seen as f64 * p, (seen as f64 * p * (1.0 - p)).sqrt());
        assert!(
            (dropped as f64 - mean).abs() <= 5.0 * sd + 1.0,
            "member {i}: nftables dropped {dropped} of {seen} group packets, configured {} %",
            LOSSES[i]
        );
    }
    // 0 and 2 %: group packets reached them; on multicast (see the helper).
    for i in [0, 1] {
        assert_eq!(got[i]["kind"], "multicast", "member {i}: {}", got[i]);
        assert_multicast_unless_starved(&format!("member {i}"), server_entry(&s, &lan.member(i).1));
    }
    // 20 %: group packets arrived, and the server moved it to fallback.
    let entry = server_entry(&s, &lan.member(2).1);
    assert_eq!(got[2]["kind"], "multicast", "member 2: {}", got[2]);
    assert!(entry["fallbacks"].as_u64() >= Some(1), "member 2: {entry}");
    assert_eq!(entry["kind"], "fallback", "member 2: {entry}");
    // 100 %: not one group packet.
    let entry = server_entry(&s, &lan.member(3).1);
    assert_eq!(got[3]["kind"], "fallback", "member 3: {}", got[3]);
    assert_eq!(got[3]["multicast_chunks"], 0, "member 3: {}", got[3]);
    assert_eq!(entry["kind"], "fallback", "member 3: {entry}");
    // The plain peer.
    assert_eq!(got[n]["kind"], "plain", "plain peer: {}", got[n]);
    assert_eq!(server_entry(&s, &lan.member(n).1)["kind"], "plain", "{s}");

    decode_capture(&pcap.0, n + 1);
}

/// A member whose group path is dead (100 % loss) falls back (its join is
/// never confirmed by group traffic); once the loss rule is deleted mid-run the server measures its path again and
/// returns it to multicast (draft §"Returning to Multicast"), and it gets
/// the whole stream exactly. The server runs on stdin lines, so the test
/// decides when the loss ends (after the server reported the fallback)
/// and when the stream ends (after it reported the return).
#[test]
fn a_member_returns_to_multicast_when_its_loss_ends() {
    const TEST: &str = "a_member_returns_to_multicast_when_its_loss_ends";
    let _serial = serial();
    let Some(lan) = lan_for(TEST, 2) else {
        return;
    };
    let group = format!("{GROUP4}:{GROUP_PORT}");
    lan.set_loss(0, GROUP4, 0);
    lan.set_loss(1, GROUP4, 100);
    let mut server = group_server(
        &lan,
        &group,
        "10.78.0.1",
        &["--members", "2"],
        Stdio::piped(),
    );
    let members = [member(&lan, 0, false, &[]), member(&lan, 1, false, &[])];
    let returner_ip = lan.member(1).1;
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed_lines(server.stdin(), 1000, Arc::clone(&stop));
    let about = |what: &'static str| {
        let ip = format!(" {returner_ip}:");
        move |l: &str| l.starts_with(&format!("mcsctp: event {what}")) && l.contains(&ip)
    };
    server.wait_stderr_line(
        Duration::from_secs(30),
        "fallback of member 1",
        about("fallback"),
    );
    let dropped_before = lan.counter(1, "dropped");
    lan.set_loss(1, GROUP4, 0);
    server.wait_stderr_line(
        Duration::from_secs(30),
        "return of member 1",
        about("returned"),
    );
    // The feeder closes stdin and the server ends (a feeder blocked on a
    // server that stopped reading ends when the server is killed at its
    // bound).
    stop.store(true, Ordering::Relaxed);
    let server = server.finish(CHILD_LIMIT);
    let lines = feeder.join().expect("feeder");
    let s = json("group-server", &server);
    let got: Vec<Value> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| json(&format!("member {i}"), &m.finish(CHILD_LIMIT)))
        .collect();
    eprintln!(
        "server: {s}\n{}members: {got:?}\n{lines} lines, {dropped_before} group packets dropped",
        server.stderr
    );

    assert_eq!(s["messages"], lines, "{s}");
    assert!(
        dropped_before > 0,
        "no group packet dropped before the fallback"
    );
    for (i, g) in got.iter().enumerate() {
        assert_exact(&format!("member {i}"), g, &s);
    }
    let entry = server_entry(&s, &returner_ip);
    assert!(entry["fallbacks"].as_u64() >= Some(1), "{entry}");
    assert!(entry["returns"].as_u64() >= Some(1), "{entry}");
    assert_eq!(entry["kind"], "multicast", "{entry}");
    // It got group packets once the loss ended.
    assert_eq!(got[1]["kind"], "multicast", "{}", got[1]);
    let steady = server_entry(&s, &lan.member(0).1);
    assert_multicast_unless_starved("member 0", steady);
}

/// An IPv6 group (ff15::4d:1, sent on the server's bridge-facing veth):
/// a loss-free member and one at 5 % group-path loss get exactly the
/// server's stream, the loss-free one by multicast.
#[test]
fn ipv6_group_members_get_the_stream_exactly() {
    const TEST: &str = "ipv6_group_members_get_the_stream_exactly";
    let _serial = serial();
    let Some(lan) = lan_for(TEST, 2) else {
        return;
    };
    let group = format!("[{GROUP6}]:{GROUP_PORT}");
    lan.set_loss(0, GROUP6, 0);
    lan.set_loss(1, GROUP6, 5);
    let server = group_server(
        &lan,
        &group,
        "fd78::1",
        &["--members", "2", "--count", "2000", "--size", "1200"],
        Stdio::null(),
    );
    let members = [
        member(&lan, 0, true, &["--count", "2000"]),
        member(&lan, 1, true, &["--count", "2000"]),
    ];
    let s = json("group-server", &server.finish(CHILD_LIMIT));
    let got: Vec<Value> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| json(&format!("member {i}"), &m.finish(CHILD_LIMIT)))
        .collect();
    let counts = [
        (lan.counter(0, "group"), lan.counter(0, "dropped")),
        (lan.counter(1, "group"), lan.counter(1, "dropped")),
    ];
    eprintln!("server: {s}\nmembers: {got:?}\nnft (group, dropped): {counts:?}");

    assert_eq!(s["messages"], 2000, "{s}");
    for (i, g) in got.iter().enumerate() {
        assert_exact(&format!("member {i}"), g, &s);
        assert!(
            counts[i].0 > 1000,
            "member {i}: {:?} group packets",
            counts[i]
        );
    }
    assert!(counts[1].1 > 0, "nothing dropped at member 1");
    assert_eq!(got[0]["kind"], "multicast", "{}", got[0]);
    assert_eq!(got[1]["kind"], "multicast", "{}", got[1]);
    assert_multicast_unless_starved("member 0", server_entry(&s, &lan.member(0).2));
    assert!(s["bytes_multicast"].as_u64() >= Some(2000 * 1200), "{s}");
}

/// A member killed with SIGKILL mid-stream: the others get the whole
/// stream exactly and the server ends on its own (its `--timeout` bounds
/// the wait for acknowledgements, so it cannot wait for the dead member
/// beyond it: it must have dropped it). The server reports the dead member
/// removed (Mcast.Member.ProgressTimeout) or gone, and does not list it as
/// a multicast member at the end.
#[test]
fn a_killed_member_does_not_stop_the_others() {
    const TEST: &str = "a_killed_member_does_not_stop_the_others";
    let _serial = serial();
    let Some(lan) = lan_for(TEST, 3) else {
        return;
    };
    let group = format!("{GROUP4}:{GROUP_PORT}");
    for i in 0..3 {
        lan.set_loss(i, GROUP4, 0);
    }
    let mut server = group_server(
        &lan,
        &group,
        "10.78.0.1",
        &["--members", "3"],
        Stdio::piped(),
    );
    let mut members: Vec<Proc> = (0..3).map(|i| member(&lan, i, false, &[])).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed_lines(server.stdin(), 1000, Arc::clone(&stop));
    // Mid-stream: the victim has had group packets.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lan.counter(2, "group") < 500 {
        server.assert_running("before the member was killed");
        assert!(
            Instant::now() < deadline,
            "no group packets at member 2 within 30 s"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let victim = members.pop().expect("member 2");
    victim.child_kill();
    let victim_ip = lan.member(2).1;
    let ip = format!(" {victim_ip}:");
    server.wait_stderr_line(Duration::from_secs(30), "the dead member's removal", |l| {
        (l.starts_with("mcsctp: event removed") || l.starts_with("mcsctp: event left"))
            && l.contains(&ip)
    });
    // The others go on: more lines after the removal.
    let more = lan.counter(0, "group") + 500;
    let deadline = Instant::now() + Duration::from_secs(30);
    while lan.counter(0, "group") < more {
        server.assert_running("after the member was killed");
        assert!(
            Instant::now() < deadline,
            "the stream stopped after the kill"
        );
        thread::sleep(Duration::from_millis(20));
    }
    // The feeder closes stdin and the server ends (a feeder blocked on a
    // server that stopped reading ends when the server is killed at its
    // bound).
    stop.store(true, Ordering::Relaxed);
    let server = server.finish(CHILD_LIMIT);
    let lines = feeder.join().expect("feeder");
    let s = json("group-server", &server);
    let got: Vec<Value> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| json(&format!("member {i}"), &m.finish(CHILD_LIMIT)))
        .collect();
    eprintln!(
        "server: {s}\n{}members: {got:?}\n{lines} lines",
        server.stderr
    );
    assert_eq!(s["messages"], lines, "{s}");
    for (i, g) in got.iter().enumerate() {
        assert_exact(&format!("member {i}"), g, &s);
        assert_eq!(g["kind"], "multicast", "member {i}: {g}");
    }
    let list = s["members"].as_array().expect("members");
    assert!(
        list.iter().all(|m| !m["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with(&format!("{victim_ip}:")))
            || m["kind"] != "multicast"),
        "the dead member is listed as multicast: {s}"
    );
    let gone = s["gone"].as_array().expect("gone");
    assert!(
        gone.iter().any(|g| g["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with(&format!("{victim_ip}:")))),
        "the summary lists the dead member as gone: {s}"
    );
}

impl Proc {
    /// SIGKILL (what `Child::kill` sends), and reaped.
    fn child_kill(mut self) {
        self.assert_running("before it was killed");
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------
// Capture
// ---------------------------------------------------------------------

/// tshark capturing UDP on `eth0` of a namespace into a pcap file (killed
/// and the file deleted if the test ends before [`Capture::stop`]).
struct Capture {
    proc: Proc,
    file: Pcap,
}

/// A capture file, deleted on drop.
struct Pcap(PathBuf);

impl Drop for Pcap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Capture {
    /// Starts tshark and waits (bounded) until it captures.
    fn start(ns: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "mcsctp-group-netns-{}-{}.pcap",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let p = path.to_string_lossy().into_owned();
        let file = Pcap(path);
        let mut proc = Proc::spawn(
            "tshark",
            Some(ns),
            "tshark",
            // A 64 MiB capture buffer: the members' first burst must not
            // overflow it while dumpcap waits for a core.
            &["-i", DEV, "-f", "udp", "-B", "64", "-w", &p, "-q"],
            Stdio::null(),
        );
        // tshark says "Capturing on 'eth0'" when it starts dumpcap, and
        // "Capture started." once dumpcap captures.
        proc.wait_stderr_line(Duration::from_secs(20), "\"Capture started\"", |l| {
            l.contains("Capture started")
        });
        Self { proc, file }
    }

    /// Stops tshark with SIGINT and waits (bounded) until it has written
    /// the file and exited.
    fn stop(self) -> Pcap {
        let pid = self.proc.child.id().to_string();
        run(&["kill", "-INT", &pid]).unwrap_or_else(|e| panic!("{e}"));
        let r = self.proc.finish(Duration::from_secs(20));
        assert!(r.status.success(), "tshark: {} {}", r.status, r.stderr);
        eprintln!("capture: {}", r.stderr.trim().replace('\n', "; "));
        self.file
    }
}

/// tshark with the dissector decodes every frame of `pcap` (`-V`), the
/// handshakes of all `members` among them, without a malformed packet or
/// Lua error; the extension's MDATA and MSACK and
/// SCTP's DATA (or I-DATA) and SACK chunks are among them.
fn decode_capture(pcap: &Path, members: usize) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("dissector/mcsctp.lua");
    let lua = format!("lua_script:{}", script.display());
    let port = format!("mcsctp.group_port:{GROUP_PORT}");
    let pcap = pcap.to_string_lossy();
    let args = ["-r", &pcap, "-X", &lua, "-o", &port, "-V"];
    let start = Instant::now();
    let out = Proc::spawn("tshark -r", None, "tshark", &args, Stdio::null()).finish(CHILD_LIMIT);
    let took = start.elapsed();
    let stderr = &out.stderr;
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Running as user"))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "tshark -r failed ({}): {stderr}",
        out.status
    );
    let text = &out.stdout;
    let frames = text.lines().filter(|l| l.starts_with("Frame ")).count();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Malformed") || l.contains("Lua Error") || l.contains("Lua error"))
        .take(5)
        .collect();
    assert!(bad.is_empty(), "{frames} frames decoded; problems: {bad:?}");
    let count = |name: &str| {
        text.lines()
            .filter(|l| l.trim_start().starts_with(name))
            .count()
    };
    // (SCTP's DATA or I-DATA: the runtime sends I-DATA when the peer
    // supports it, RFC 8260.)
    let (mdata, msack, data, sack) = (
        count("MDATA chunk"),
        count("MSACK chunk"),
        count("DATA chunk") + count("I_DATA chunk"),
        count("SACK chunk"),
    );
    // The capture began before the first handshake: an INIT and an INIT
    // ACK for each member.
    let (init, init_ack) = (count("INIT chunk"), count("INIT_ACK chunk"));
    assert!(
        init >= members && init_ack >= members,
        "{init} INIT and {init_ack} INIT ACK chunks captured for {members} members"
    );
    eprintln!(
        "capture: {frames} frames decoded in {took:?}: MDATA {mdata}, MSACK {msack}, DATA {data}, \
         SACK {sack}"
    );
    assert!(frames > 0, "empty capture");
    for (name, n) in [
        ("MDATA", mdata),
        ("MSACK", msack),
        ("DATA", data),
        ("SACK", sack),
    ] {
        assert!(n > 0, "no {name} chunk decoded in {frames} frames");
    }
}
