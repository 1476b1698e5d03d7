//! The `mcsctp` binary as a child of a test (`cli.rs`, `cli_group.rs`),
//! included with `#[path]` next to `support/ports.rs` (as `ports`): output
//! piped and read as it comes, every wait bounded, the child killed when
//! its [`Guard`] is dropped.

#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_mcsctp");

/// A child process, killed when dropped.
pub(crate) struct Guard(pub(crate) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// How a child ended and what it wrote.
pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// From [`finish`]'s call to the child's end.
    pub(crate) took: Duration,
}

/// Starts `mcsctp args` with `stdin`, stdout and stderr piped.
pub(crate) fn spawn_with(args: &[&str], stdin: Stdio) -> Guard {
    Guard(
        Command::new(BIN)
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mcsctp"),
    )
}

/// Starts `mcsctp args` with no input.
pub(crate) fn spawn(args: &[&str]) -> Guard {
    spawn_with(args, Stdio::null())
}

/// Waits (bounded) for the child to end and collects its output. Output
/// is read by threads as it comes, so a child never blocks on a full pipe;
/// a child still running after `limit` is killed and the test fails with
/// its stderr.
pub(crate) fn finish(mut g: Guard, limit: Duration) -> Run {
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
        g.0.stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
    );
    let err = drain(
        g.0.stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = g.0.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() >= limit {
            let _ = g.0.kill();
            let _ = g.0.wait();
            panic!(
                "mcsctp still running after {limit:?}; stderr: {}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    Run {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
        took,
    }
}

/// Stops a child (if it still runs) and returns what it wrote on stderr,
/// for failure messages.
pub(crate) fn stop(g: &mut Guard) -> String {
    let _ = g.0.kill();
    let _ = g.0.wait();
    let mut err = String::new();
    if let Some(mut e) = g.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

/// Waits (bounded) until the server `g`, started with UDP port 0, has
/// bound its socket, and returns the port the kernel gave it; fails with
/// the server's stderr if it exits first.
pub(crate) fn bound_port(g: &mut Guard) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(&p) = crate::ports::udp_ports_of(g.0.id()).first() {
            return p;
        }
        if let Ok(Some(st)) = g.0.try_wait() {
            panic!("server exited ({st}) before binding UDP: {}", stop(g));
        }
        assert!(Instant::now() < deadline, "server did not bind UDP");
        std::thread::sleep(Duration::from_millis(10));
    }
}
