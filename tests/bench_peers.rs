//! The NORM and PGM peers of the side-by-side group benchmark
//! (`scripts/bench-group.sh`, issue 11 item 5) build and deliver: the
//! script's `--smoke` mode compiles `tests/norm-peer/`, `tests/pgm-peer/`
//! and `tests/udp-peer/` with make, then runs a NORM sender (RFC 5740,
//! libnorm) and a PGM sender (RFC 3208, OpenPGM over UDP) once each to two
//! receivers in a network namespace (a few hundred 1200-byte messages at a
//! fixed rate); every receiver must get every byte once and in order (its
//! checksum of the stream equal to the sender's and to the one it computes
//! for the generated messages). The full benchmark is not run here.
//!
//! Needs root (a network namespace), iproute2, make, gcc, g++, python3,
//! libnorm-dev and libpgm-dev; without them it prints a SKIPPED line, and
//! fails under `CI=true`.
//!
//! ```text
//! cargo test --profile simtest --test bench_peers -- --nocapture
//! ```

#[path = "support/multicast.rs"]
mod multicast;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the smoke run may take (it takes a few seconds; each process
/// in it is bounded by `timeout` too).
const LIMIT: Duration = Duration::from_secs(120);

/// The effective user id, from /proc.
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Root, the tools and the libraries, or why not.
fn prerequisites() -> Result<(), String> {
    if euid() != Some(0) {
        return Err("needs root (a network namespace)".into());
    }
    for (tool, arg, package) in [
        ("ip", "-V", "iproute2"),
        ("make", "--version", "make"),
        ("gcc", "--version", "gcc"),
        ("g++", "--version", "g++"),
        ("python3", "--version", "python3"),
        ("timeout", "--version", "coreutils"),
    ] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("{tool} missing (install {package})"));
        }
    }
    for (header, package) in [
        ("/usr/include/normApi.h", "libnorm-dev"),
        ("/usr/include/pgm-5.3/pgm/pgm.h", "libpgm-dev"),
    ] {
        if !Path::new(header).exists() {
            return Err(format!("{header} missing (install {package})"));
        }
    }
    Ok(())
}

#[test]
fn norm_and_pgm_peers_deliver_every_byte_to_every_receiver() {
    const TEST: &str = "bench_peers::norm_and_pgm_peers_deliver_every_byte_to_every_receiver";
    if let Err(why) = prerequisites() {
        return multicast::skip(TEST, &why);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-group.sh");
    let mut child = Command::new(&script)
        .arg("--smoke")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/bench-group.sh --smoke");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the smoke run") {
            break s;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scripts/bench-group.sh --smoke still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut out).expect("stdout");
    }
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).expect("stderr");
    }
    println!("{out}");
    assert!(
        status.success(),
        "smoke run failed ({status}):\n{out}\n{err}"
    );
    for proto in ["norm", "pgm"] {
        let line = format!("SMOKE {proto}: complete n=2");
        assert!(
            out.contains(&line),
            "no `{line}` in the smoke run's output:\n{out}\n{err}"
        );
    }
}
