//! Machinery of the usrsctp interop tests: prerequisites, child processes
//! that are always killed, UDP ports, readiness checks, and tshark captures
//! checked packet by packet. Every wait is bounded.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::pcap;

/// The Debian `libusrsctp-examples` programs (`MCSCTP_USRSCTP_EXAMPLES`
/// overrides the directory).
const USRSCTP_EXAMPLES: &str = "/usr/lib/usrsctp";

/// Paths of everything the tests run.
pub(crate) struct Tools {
    /// The `mcsctp` CLI of this build.
    pub(crate) mcsctp: PathBuf,
    /// `tests/usrsctp-peer/peer.c`, compiled.
    pub(crate) peer: PathBuf,
    /// usrsctp's `client`, `echo_server` and `tsctp` examples.
    pub(crate) client: PathBuf,
    pub(crate) echo_server: PathBuf,
    pub(crate) tsctp: PathBuf,
    tmp: PathBuf,
}

/// The tools, or `None` (the test returns) after a `SKIPPED` line that
/// gives the reason and is counted by `scripts/test`
/// ([`mcsctp_sim::skip`]). With `CI=true` a missing prerequisite fails the
/// test instead.
pub(crate) fn tools() -> Option<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    mcsctp_sim::skip::require(TOOLS.get_or_init(find_tools).as_ref())
}

fn find_tools() -> Result<Tools, String> {
    let ex = PathBuf::from(
        std::env::var_os("MCSCTP_USRSCTP_EXAMPLES").unwrap_or_else(|| USRSCTP_EXAMPLES.into()),
    );
    let (client, echo_server, tsctp) =
        (ex.join("client"), ex.join("echo_server"), ex.join("tsctp"));
    for p in [&client, &echo_server, &tsctp] {
        if !p.is_file() {
            return Err(format!(
                "{} is missing (install libusrsctp-examples)",
                p.display()
            ));
        }
    }
    // tshark must be able to capture on lo (root or CAP_NET_RAW).
    let d = Command::new("tshark")
        .arg("-D")
        .output()
        .map_err(|e| format!("tshark: {e} (install tshark)"))?;
    if !String::from_utf8_lossy(&d.stdout)
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("lo"))
    {
        return Err("tshark cannot capture on lo (run as root)".into());
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop_usrsctp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    // Build the C peer (a private name first: test binaries may run
    // concurrently).
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/usrsctp-peer/peer.c");
    let peer = tmp.join("usrsctp-peer");
    let building = tmp.join(format!("usrsctp-peer.{}", std::process::id()));
    let out = Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&building)
        .arg(&src)
        .args(["-lusrsctp", "-lpthread"])
        .output()
        .map_err(|e| format!("gcc: {e} (install gcc and libusrsctp-dev)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "cannot build {} (install libusrsctp-dev): {}",
            src.display(),
            err.lines().take(3).collect::<Vec<_>>().join(" | ")
        ));
    }
    std::fs::rename(&building, &peer).map_err(|e| format!("{}: {e}", peer.display()))?;
    Ok(Tools {
        mcsctp: PathBuf::from(env!("CARGO_BIN_EXE_mcsctp")),
        peer,
        client,
        echo_server,
        tsctp,
        tmp,
    })
}

impl Tools {
    /// A fresh working directory for one test.
    pub(crate) fn workdir(&self, test: &str) -> PathBuf {
        let d = self.tmp.join(test);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create test directory");
        d
    }
}

// ---------------------------------------------------------------------------
// Ports

pub(crate) use crate::ports::free_udp_port;

/// Waits until some socket is bound to UDP port `port` (any address).
pub(crate) fn wait_udp_bound(port: u16, limit: Duration, what: &Proc) {
    let deadline = Instant::now() + limit;
    loop {
        let bound = crate::ports::udp_port_bound(port);
        if bound {
            // The SCTP socket is set up right after the UDP one.
            thread::sleep(Duration::from_millis(150));
            return;
        }
        if let Some(st) = what.exited() {
            panic!(
                "{} exited ({st}) before binding UDP {port}\n{}",
                what.name,
                what.diag()
            );
        }
        if Instant::now() >= deadline {
            panic!(
                "{} did not bind UDP {port} within {limit:?}\n{}",
                what.name,
                what.diag()
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Child processes

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
struct Lines {
    st: Mutex<LinesState>,
    cv: Condvar,
}

#[derive(Default)]
struct LinesState {
    kept: Vec<String>,
    tail: VecDeque<String>,
    total: u64,
    eof: bool,
}

/// Which output lines a [`Proc`] keeps (all lines count toward the tail
/// shown on failure). usrsctp's example programs print hundreds of
/// thousands of debug lines per second.
pub(crate) type Keep = fn(&str) -> bool;

/// Keeps every line.
pub(crate) fn all(_: &str) -> bool {
    true
}

/// Keeps what is not usrsctp debug output (`[S][1.234] ...`).
pub(crate) fn no_debug(l: &str) -> bool {
    !l.starts_with('[') && !l.trim().is_empty()
}

/// A child process, killed (SIGKILL) and reaped when dropped unless it
/// already ended.
pub(crate) struct Proc {
    pub(crate) name: String,
    child: Mutex<Child>,
    pid: u32,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
    status: Mutex<Option<ExitStatus>>,
}

/// What a child reads on stdin.
pub(crate) enum Stdin {
    Null,
    /// Each text after its delay, then EOF after the last delay.
    Feed(Vec<(Duration, String)>, Duration),
}

impl Proc {
    pub(crate) fn spawn(name: &str, cmd: &mut Command, keep: Keep, stdin: Stdin) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(match stdin {
            Stdin::Null => Stdio::null(),
            Stdin::Feed(..) => Stdio::piped(),
        });
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let stdout = Arc::new(Lines::default());
        let stderr = Arc::new(Lines::default());
        pump(child.stdout.take().expect("stdout"), stdout.clone(), keep);
        pump(child.stderr.take().expect("stderr"), stderr.clone(), keep);
        if let (Stdin::Feed(items, last), Some(mut w)) = (stdin, child.stdin.take()) {
            thread::spawn(move || {
                for (delay, text) in items {
                    thread::sleep(delay);
                    if w.write_all(text.as_bytes())
                        .and_then(|()| w.flush())
                        .is_err()
                    {
                        return;
                    }
                }
                thread::sleep(last);
            });
        }
        Proc {
            name: name.to_string(),
            pid: child.id(),
            child: Mutex::new(child),
            stdout,
            stderr,
            status: Mutex::new(None),
        }
    }

    /// The exit status, if it has ended.
    pub(crate) fn exited(&self) -> Option<ExitStatus> {
        let mut st = lock(&self.status);
        if st.is_none() {
            match lock(&self.child).try_wait() {
                Ok(Some(s)) => *st = Some(s),
                Ok(None) => return None,
                Err(e) => panic!("{}: wait: {e}", self.name),
            }
        }
        *st
    }

    /// Waits (bounded) for the process to end; its output is then read to
    /// the end (bounded too).
    pub(crate) fn wait_exit(&self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.exited() {
                self.stdout.wait_eof(Duration::from_secs(2));
                self.stderr.wait_eof(Duration::from_secs(2));
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to end successfully; panics with its output
    /// otherwise.
    pub(crate) fn expect_success(&self, limit: Duration) {
        match self.wait_exit(limit) {
            Some(s) if s.success() => {}
            Some(s) => panic!("{} failed ({s})\n{}", self.name, self.diag()),
            None => panic!(
                "{} still running after {limit:?}\n{}",
                self.name,
                self.diag()
            ),
        }
    }

    /// Sends a signal (`INT`, `TERM`).
    pub(crate) fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Waits for a kept stdout line matching `pred`.
    pub(crate) fn wait_stdout(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> String {
        self.stdout.wait_line(&pred, limit).unwrap_or_else(|| {
            panic!(
                "{}: expected line not on stdout within {limit:?}\n{}",
                self.name,
                self.diag()
            )
        })
    }

    /// Waits for a kept stderr line matching `pred`.
    pub(crate) fn wait_stderr(&self, pred: impl Fn(&str) -> bool, limit: Duration) -> String {
        self.stderr.wait_line(&pred, limit).unwrap_or_else(|| {
            panic!(
                "{}: expected line not on stderr within {limit:?}\n{}",
                self.name,
                self.diag()
            )
        })
    }

    /// Waits until `n` kept stdout lines match `pred`.
    pub(crate) fn wait_stdout_count(&self, pred: impl Fn(&str) -> bool, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.stdout().iter().filter(|l| pred(l)).count() < n {
            if Instant::now() >= deadline {
                panic!(
                    "{}: fewer than {n} matching lines on stdout within {limit:?}\n{}",
                    self.name,
                    self.diag()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kept stdout lines so far.
    pub(crate) fn stdout(&self) -> Vec<String> {
        lock(&self.stdout.st).kept.clone()
    }

    /// Kept stderr lines so far.
    pub(crate) fn stderr(&self) -> Vec<String> {
        lock(&self.stderr.st).kept.clone()
    }

    /// The last lines of both streams, for failure messages.
    pub(crate) fn diag(&self) -> String {
        let mut s = format!(
            "--- {} (pid {}, {:?})\n",
            self.name,
            self.pid,
            *lock(&self.status)
        );
        for (label, l) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let st = lock(&l.st);
            s += &format!("  {label} ({} lines), last:\n", st.total);
            for line in &st.tail {
                s += &format!("    {line}\n");
            }
        }
        s
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM first (tshark then stops its dumpcap child; SIGKILL
        // would orphan it), SIGKILL after a bounded wait.
        if self.exited().is_none() {
            self.signal("TERM");
            if self.wait_exit(Duration::from_secs(3)).is_none() {
                let child = self.child.get_mut().unwrap_or_else(|p| p.into_inner());
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Lines {
    fn wait_line(&self, pred: &dyn Fn(&str) -> bool, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        let mut st = lock(&self.st);
        loop {
            if let Some(l) = st.kept.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if st.eof || now >= deadline {
                return None;
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wait_eof(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut st = lock(&self.st);
        while !st.eof {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

fn pump(r: impl Read + Send + 'static, lines: Arc<Lines>, keep: Keep) {
    thread::spawn(move || {
        let mut r = BufReader::with_capacity(256 * 1024, r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    let kept = keep(&line);
                    let mut st = lock(&lines.st);
                    st.total += 1;
                    if st.tail.len() >= 30 {
                        st.tail.pop_front();
                    }
                    if kept {
                        st.kept.push(line.clone());
                    }
                    st.tail.push_back(line);
                    drop(st);
                    if kept {
                        lines.cv.notify_all();
                    }
                }
            }
        }
        lock(&lines.st).eof = true;
        lines.cv.notify_all();
    });
}

// ---------------------------------------------------------------------------
// Captures

/// A running `tshark -i lo` capture of some UDP ports.
pub(crate) struct Capture {
    name: String,
    proc: Proc,
    raw: PathBuf,
    ports: Vec<u16>,
    probe: u16,
    probe_sock: UdpSocket,
}

/// What a capture must show beyond "every packet is well-formed SCTP with
/// a Good CRC32c".
#[derive(Default)]
pub(crate) struct Expect {
    /// UDP ports of usrsctp stacks: their INIT or INIT ACK must carry the
    /// Random parameter (0x8002) of usrsctp's default AUTH support.
    pub(crate) usrsctp_ports: Vec<u16>,
    /// Chunk types that must appear.
    pub(crate) chunk_types: Vec<u8>,
    /// Chunk types that must not appear.
    pub(crate) no_chunk_types: Vec<u8>,
}

/// Counts from a checked capture.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) packets: usize,
    pub(crate) chunks: BTreeMap<u8, usize>,
    /// Largest SCTP packet (UDP payload) sent from each port.
    pub(crate) max_sctp_len: BTreeMap<u16, usize>,
    pub(crate) expert_warnings: usize,
}

/// Expert-info severities (epan/proto.h).
const PI_ERROR: u32 = 0x0080_0000;
const PI_WARN: u32 = 0x0060_0000;
/// SCTP parameter types of usrsctp's AUTH support (RFC 4895).
const RANDOM_PARAMETER: u16 = 0x8002;

impl Capture {
    /// Starts capturing the UDP ports and returns once packets really are
    /// being written (probe datagrams seen in the file).
    pub(crate) fn start(dir: &Path, name: &str, ports: &[u16]) -> Capture {
        let probe = free_udp_port();
        let raw = dir.join(format!("{name}.pcap"));
        let filter = ports
            .iter()
            .chain([&probe])
            .map(|p| format!("udp port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let proc = Proc::spawn(
            &format!("tshark ({name})"),
            Command::new("tshark")
                .args(["-n", "-i", "lo", "-F", "pcap", "-B", "64", "-f"])
                .arg(&filter)
                .arg("-w")
                .arg(&raw),
            all,
            Stdin::Null,
        );
        let probe_sock = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let _ = probe_sock.send_to(b"mcsctp capture probe", ("127.0.0.1", probe));
            thread::sleep(Duration::from_millis(100));
            if file_len(&raw) > 24 {
                break;
            }
            if let Some(st) = proc.exited() {
                panic!("tshark exited ({st}) before capturing\n{}", proc.diag());
            }
            if Instant::now() >= deadline {
                panic!("tshark not capturing after 30 s\n{}", proc.diag());
            }
        }
        Capture {
            name: name.to_string(),
            proc,
            raw,
            ports: ports.to_vec(),
            probe,
            probe_sock,
        }
    }

    /// Stops the capture (SIGINT, bounded wait) and checks every packet
    /// with tshark: SCTP over UDP on the capture's ports, CRC32c "Good",
    /// no malformed packet, no expert error; at least one packet. The
    /// pcaps are deleted when everything holds, kept otherwise.
    pub(crate) fn finish(self, expect: &Expect) -> Report {
        // An end probe marks that everything before it reached the file.
        let before = file_len(&self.raw);
        let deadline = Instant::now() + Duration::from_secs(5);
        while file_len(&self.raw) <= before && Instant::now() < deadline {
            let _ = self
                .probe_sock
                .send_to(b"mcsctp capture end", ("127.0.0.1", self.probe));
            thread::sleep(Duration::from_millis(50));
        }
        self.proc.signal("INT");
        if self.proc.wait_exit(Duration::from_secs(15)).is_none() {
            panic!("tshark did not stop on SIGINT\n{}", self.proc.diag());
        }
        let t0 = Instant::now();
        let raw = std::fs::read(&self.raw).expect("read capture");
        let split = pcap::split_gso(&raw, self.probe)
            .unwrap_or_else(|e| panic!("{}: {e}", self.raw.display()));
        let split_path = self.raw.with_extension("split.pcap");
        std::fs::write(&split_path, &split.pcap).expect("write split capture");
        let t1 = Instant::now();
        let report = self.check(&split_path, expect);
        let (split_time, check_time) = (t1 - t0, t1.elapsed());
        if std::env::var_os("MCSCTP_KEEP_PCAP").is_none() {
            let _ = std::fs::remove_file(&self.raw);
            let _ = std::fs::remove_file(&split_path);
        }
        println!(
            "capture {}: {} SCTP packets (from {} GSO batches split into {} datagrams), all CRC32c Good, \
             chunks {:?}, {} expert warnings, largest SCTP packet per UDP port {:?} \
             (split {split_time:.1?}, tshark {check_time:.1?})",
            self.name,
            report.packets,
            split.superpackets,
            split.segments,
            report.chunks,
            report.expert_warnings,
            report.max_sctp_len
        );
        report
    }

    fn check(&self, file: &Path, expect: &Expect) -> Report {
        let mut cmd = Command::new("tshark");
        cmd.arg("-n").arg("-r").arg(file);
        for p in &self.ports {
            cmd.arg("-d").arg(format!("udp.port=={p},sctp"));
        }
        // Reassembly off: Wireshark's SCTP reassembly turns quadratic on
        // long unordered runs (minutes for 5 s of tsctp), and it is not
        // needed to judge each packet.
        cmd.args(["-o", "sctp.checksum:CRC-32C", "-o", "sctp.reassembly:FALSE"]);
        cmd.args(["-T", "fields"]);
        cmd.args([
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ]);
        for f in [
            "frame.number",
            "udp.srcport",
            "udp.length",
            "sctp.checksum.status",
            "sctp.chunk_type",
            "sctp.parameter_type",
            "_ws.expert.severity",
            "_ws.malformed",
            "_ws.expert.message",
        ] {
            cmd.args(["-e", f]);
        }
        let out = cmd.output().expect("run tshark -r");
        let keep = || format!("(capture kept: {})", file.display());
        assert!(
            out.status.success(),
            "tshark -r failed: {} {}",
            String::from_utf8_lossy(&out.stderr),
            keep()
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut r = Report {
            packets: 0,
            chunks: BTreeMap::new(),
            max_sctp_len: BTreeMap::new(),
            expert_warnings: 0,
        };
        let mut random_seen = expect.usrsctp_ports.is_empty();
        let mut problems = Vec::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let field = |i: usize| f.get(i).copied().unwrap_or("");
            r.packets += 1;
            let frame = field(0);
            let sport: u16 = field(1).parse().unwrap_or(0);
            let udp_len: usize = field(2).parse().unwrap_or(0);
            if field(3) != "1" {
                problems.push(format!(
                    "frame {frame}: checksum status '{}' (not Good): {}",
                    field(3),
                    field(8)
                ));
            }
            let severities: Vec<u32> = field(6).split(',').filter_map(|s| s.parse().ok()).collect();
            if !field(7).is_empty() {
                problems.push(format!("frame {frame}: malformed: {}", field(8)));
            } else if severities.iter().any(|&s| s >= PI_ERROR) {
                problems.push(format!("frame {frame}: expert error: {}", field(8)));
            } else if severities.iter().any(|&s| s >= PI_WARN) {
                r.expert_warnings += 1;
            }
            let types: Vec<u8> = field(4).split(',').filter_map(parse_num).collect();
            for t in &types {
                *r.chunks.entry(*t).or_default() += 1;
            }
            let m = r.max_sctp_len.entry(sport).or_default();
            *m = (*m).max(udp_len.saturating_sub(8));
            if expect.usrsctp_ports.contains(&sport)
                && types.iter().any(|&t| t == 1 || t == 2)
                && field(5)
                    .split(',')
                    .filter_map(parse_num::<u16>)
                    .any(|p| p == RANDOM_PARAMETER)
            {
                random_seen = true;
            }
            if problems.len() > 20 {
                break;
            }
        }
        assert!(
            problems.is_empty(),
            "{}: {} {}",
            self.name,
            problems.join("\n"),
            keep()
        );
        assert!(
            r.packets > 0,
            "{}: no packet captured {}",
            self.name,
            keep()
        );
        assert!(
            random_seen,
            "{}: no INIT/INIT ACK with a Random parameter from usrsctp (ports {:?}) {}",
            self.name,
            expect.usrsctp_ports,
            keep()
        );
        for t in &expect.chunk_types {
            assert!(
                r.chunks.contains_key(t),
                "{}: no chunk of type {t} captured: {:?} {}",
                self.name,
                r.chunks,
                keep()
            );
        }
        for t in &expect.no_chunk_types {
            assert!(
                !r.chunks.contains_key(t),
                "{}: chunk type {t} captured: {:?} {}",
                self.name,
                r.chunks,
                keep()
            );
        }
        r
    }
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// A number as tshark prints it: decimal or `0x` hex.
fn parse_num<T: TryFrom<u64>>(s: &str) -> Option<T> {
    let s = s.trim();
    let v = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => s.parse().ok()?,
    };
    T::try_from(v).ok()
}
