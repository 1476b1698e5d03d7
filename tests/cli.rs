//! The `mcsctp` command line: bad arguments end with a one-line error and a
//! non-zero exit code, never a panic; an unreachable or refusing peer ends
//! with a clear error within the connect timeout; `--help` exits 0; and
//! `perf` client and server agree in JSON; `client` waits for its echoes
//! and the graceful close, bounded by its close timeout. Every child is
//! killed when a test ends, every wait is bounded.

#[path = "support/child.rs"]
mod child;
#[path = "support/ports.rs"]
mod ports;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use child::{BIN, Guard, Run, bound_port, finish, spawn, stop};
use ports::free_udp_port;

fn run(args: &[&str]) -> Run {
    finish(spawn(args), Duration::from_secs(20))
}

/// Exit code not 0, exactly one line on stderr that names the problem, no
/// panic.
fn assert_one_line_error(args: &[&str], needle: &str) {
    let r = run(args);
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!r.status.success(), "{args:?} succeeded");
    assert!(
        !r.stderr.contains("panicked"),
        "{args:?} panicked: {}",
        r.stderr
    );
    assert_eq!(lines.len(), 1, "{args:?}: not one line: {:?}", r.stderr);
    assert!(
        lines[0].starts_with("mcsctp: ") && lines[0].contains(needle),
        "{args:?}: {:?} does not say {needle:?}",
        lines[0]
    );
}

#[test]
fn bad_arguments_end_with_a_one_line_error() {
    assert_one_line_error(&["frobnicate"], "unrecognized subcommand 'frobnicate'");
    assert_one_line_error(&[], "a subcommand is required");
    assert_one_line_error(&["client", "300.1.2.3", "7"], "invalid IP address");
    assert_one_line_error(&["client", "localhost", "7"], "invalid IP address");
    assert_one_line_error(&["client", "127.0.0.1", "65536"], "65536");
    assert_one_line_error(&["client", "127.0.0.1", "0"], "0 is not in 1..=65535");
    assert_one_line_error(&["client", "127.0.0.1"], "required");
    assert_one_line_error(&["echo-server", "--port", "70000"], "70000");
    assert_one_line_error(&["discard-server", "--local-udp-port", "-1"], "-1");
    assert_one_line_error(&["perf", "-l", "0"], "message length (-l) must be positive");
    assert_one_line_error(&["perf", "-l", "ten"], "invalid digit");
    assert_one_line_error(&["perf", "-P", "3", "127.0.0.1"], "PR-SCTP policy 3");
    assert_one_line_error(&["perf", "-p", "99999"], "99999");
    assert_one_line_error(&["perf", "--mtu", "100"], "path MTU");
    assert_one_line_error(&["perf", "-Z"], "unexpected argument '-Z'");
    assert_one_line_error(
        &["client", "127.0.0.1", "7", "--connect-timeout", "0"],
        "out of range",
    );
    assert_one_line_error(&["echo-server", "--max-message-size", "0"], "out of range");
}

#[test]
fn an_address_that_is_not_local_is_a_bind_error() {
    // TEST-NET-3 (RFC 5737): never assigned to this machine.
    assert_one_line_error(
        &[
            "discard-server",
            "--bind",
            "203.0.113.7",
            "--local-udp-port",
            "0",
        ],
        "cannot bind UDP 203.0.113.7:0",
    );
}

#[test]
fn help_exits_zero() {
    for args in [
        &["--help"][..],
        &["echo-server", "--help"],
        &["discard-server", "--help"],
        &["client", "--help"],
        &["perf", "--help"],
        &["group-server", "--help"],
        &["member", "--help"],
    ] {
        let r = run(args);
        assert!(r.status.success(), "{args:?}: {}", r.stderr);
        assert!(r.stdout.contains("Usage: mcsctp"), "{args:?}: {}", r.stdout);
    }
    let r = run(&["perf", "--help"]);
    for flag in ["--connect-timeout", "--json", "--mtu", "-T"] {
        assert!(r.stdout.contains(flag), "perf --help lacks {flag}");
    }
}

#[test]
fn an_unreachable_peer_fails_within_the_connect_timeout() {
    // Nobody on this UDP port: INITs go unanswered.
    let port = free_udp_port().to_string();
    for verb in [
        &["client", "127.0.0.1", "7"][..],
        &["perf", "127.0.0.1", "-p", "7", "-n", "1"],
    ] {
        let mut args = verb.to_vec();
        args.extend([
            "--bind",
            "127.0.0.1",
            "--local-udp-port",
            "0",
            "--remote-udp-port",
            &port,
            "--connect-timeout",
            "1.5",
        ]);
        let r = run(&args);
        let err = r.stderr.trim();
        assert!(!r.status.success(), "{args:?} succeeded");
        assert!(
            err.starts_with(&format!(
                "mcsctp: cannot connect to 127.0.0.1:{port} (SCTP port 7)"
            )) && err.ends_with("no answer within 1.5 s")
                && !err.contains('\n'),
            "{err:?}"
        );
        // It waited for the timeout. `took` starts once the child is
        // spawned, a little after the child's own clock, hence the margin;
        // how much longer the process took depends on the machine's load
        // and is not asserted.
        assert!(r.took >= Duration::from_millis(1400), "took {:?}", r.took);
    }
}

/// Against usrsctp this is shown by the interop test
/// `mcsctp_client_refused_by_usrsctp_fails_at_once`.
#[test]
fn a_refusing_peer_fails_at_once_with_its_reason() {
    // An mcsctp server on SCTP port 9: an INIT for port 10 is answered
    // with ABORT (RFC 9260 §8.4 (3)).
    let mut server = spawn(&[
        "discard-server",
        "--port",
        "9",
        "--bind",
        "127.0.0.1",
        "--local-udp-port",
        "0",
    ]);
    let udp = bound_port(&mut server).to_string();
    let r = run(&[
        "client",
        "127.0.0.1",
        "10",
        "--bind",
        "127.0.0.1",
        "--local-udp-port",
        "0",
        "--remote-udp-port",
        &udp,
        "--connect-timeout",
        "20",
    ]);
    let server_err = stop(&mut server);
    let err = r.stderr.trim();
    assert!(!r.status.success());
    // "aborted by peer": the client ended on the server's ABORT, not on its
    // connect timeout.
    assert!(
        err.starts_with(&format!(
            "mcsctp: cannot connect to 127.0.0.1:{udp} (SCTP port 10)"
        )) && err.contains("aborted by peer")
            && !err.contains('\n'),
        "{err:?} (server stderr: {server_err:?})"
    );
}

#[test]
fn perf_client_and_server_agree_in_json() {
    let mut server = spawn(&["perf", "-p", "5001", "-L", "127.0.0.1", "-E", "0", "--json"]);
    let udp = bound_port(&mut server).to_string();
    let client = run(&[
        "perf",
        "127.0.0.1",
        "-p",
        "5001",
        "-L",
        "127.0.0.1",
        "-E",
        "0",
        "-U",
        &udp,
        "-n",
        "3000",
        "-l",
        "1000",
        "--json",
        "--connect-timeout",
        "10",
    ]);
    assert!(client.status.success(), "client: {}", client.stderr);
    let c: serde_json::Value = serde_json::from_str(client.stdout.trim())
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {:?}", client.stdout));
    assert_eq!(c["messages"], 3000, "{c}");
    assert_eq!(c["length"], 1000, "{c}");
    assert!(c["seconds"].as_f64().is_some_and(|s| s > 0.0), "{c}");
    assert!(c["throughput"].as_f64().is_some_and(|t| t > 0.0), "{c}");
    // The server prints its line when the association has shut down.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = String::new();
    let mut stdout = server.0.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut line = Vec::new();
        while !line.contains(&b'\n') {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => line.extend_from_slice(&buf[..n]),
            }
        }
        line
    });
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "no summary from the perf server");
        std::thread::sleep(Duration::from_millis(10));
    }
    out.push_str(&String::from_utf8_lossy(&reader.join().expect("reader")));
    drop(server);
    let s: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("server output is not JSON ({e}): {out:?}"));
    assert_eq!(s["messages"], 3000, "{s}");
    assert_eq!(s["length"], 1000, "{s}");
    assert_eq!(s["bytes"], 3_000_000, "{s}");
    assert_eq!(s["notifications"], 0, "{s}");
}

/// `mcsctp client` with stdin piped: `lines` are written and stdin is
/// closed at once. Nothing waits for echoes but the client itself.
fn client_with_input(udp: &str, sctp_port: &str, extra: &[&str], lines: &[&str]) -> Guard {
    let mut g = Guard(
        Command::new(BIN)
            .args(["client", "127.0.0.1", sctp_port, "--bind", "127.0.0.1"])
            .args(["--local-udp-port", "0", "--remote-udp-port", udp])
            .args(["--connect-timeout", "10"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mcsctp client"),
    );
    let mut stdin = g.0.stdin.take().expect("stdin");
    for l in lines {
        writeln!(stdin, "{l}").expect("write stdin");
    }
    drop(stdin);
    g
}

#[test]
fn client_prints_every_echo_then_closes_gracefully() {
    let mut server = spawn(&[
        "echo-server",
        "--port",
        "7",
        "--bind",
        "127.0.0.1",
        "--local-udp-port",
        "0",
    ]);
    let udp = bound_port(&mut server).to_string();
    let lines = ["first", "a second, longer line", "3"];
    let r = finish(
        client_with_input(&udp, "7", &[], &lines),
        Duration::from_secs(30),
    );
    let server_err = stop(&mut server);
    // Exit 0: every echo came back and close() saw the shutdown complete
    // (CloseReason::Shutdown), with stdin closed right after the last line.
    assert!(
        r.status.success(),
        "client: {} (server: {server_err})",
        r.stderr
    );
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), lines);
}

#[test]
fn client_fails_when_its_echoes_do_not_come_back() {
    // A discard server never echoes.
    let mut server = spawn(&[
        "discard-server",
        "--port",
        "9",
        "--bind",
        "127.0.0.1",
        "--local-udp-port",
        "0",
    ]);
    let udp = bound_port(&mut server).to_string();
    let r = finish(
        client_with_input(&udp, "9", &["--close-timeout", "1"], &["one", "two"]),
        Duration::from_secs(30),
    );
    assert!(!r.status.success(), "client succeeded: {}", r.stdout);
    let err = r.stderr.trim();
    assert_eq!(
        err,
        "mcsctp: 0 of 2 echoes received within 1.0 s (--close-timeout; --no-echo does not \
         wait for them)"
    );
    // With --no-echo the same exchange closes gracefully.
    let r = finish(
        client_with_input(&udp, "9", &["--no-echo"], &["one", "two"]),
        Duration::from_secs(30),
    );
    let server_err = stop(&mut server);
    assert!(
        r.status.success(),
        "client: {} (server: {server_err})",
        r.stderr
    );
}

#[test]
fn client_fails_when_the_shutdown_does_not_complete() {
    let mut server = spawn(&[
        "echo-server",
        "--port",
        "7",
        "--bind",
        "127.0.0.1",
        "--local-udp-port",
        "0",
    ]);
    let udp = bound_port(&mut server).to_string();
    let mut client = Guard(
        Command::new(BIN)
            .args(["client", "127.0.0.1", "7", "--bind", "127.0.0.1"])
            .args(["--local-udp-port", "0", "--remote-udp-port", &udp])
            .args(["--connect-timeout", "10", "--close-timeout", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mcsctp client"),
    );
    let mut stdin = client.0.stdin.take().expect("stdin");
    writeln!(stdin, "ping").expect("write stdin");
    // Wait (bounded) for the echo: the association is up and the server
    // answers. Then the server freezes and stdin ends: the SHUTDOWN goes
    // unanswered.
    let mut stdout = client.0.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while !got.contains(&b'\n') {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "no echo");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(reader.join().expect("reader"), b"ping\n");
    let frozen = Command::new("kill")
        .args(["-STOP", &server.0.id().to_string()])
        .status()
        .expect("kill -STOP");
    assert!(frozen.success());
    drop(stdin);
    let r = finish(client, Duration::from_secs(30));
    let _ = Command::new("kill")
        .args(["-CONT", &server.0.id().to_string()])
        .status();
    stop(&mut server);
    assert!(!r.status.success(), "client succeeded");
    assert_eq!(
        r.stderr.trim(),
        "mcsctp: the association did not close within 1.0 s (no SHUTDOWN ACK; --close-timeout)"
    );
}
