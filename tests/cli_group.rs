//! The `mcsctp group-server` and `mcsctp member` verbs, as a script runs
//! them: a server and three members (one without the extension) on
//! loopback agree on the SHA-256 of the message stream, every member gets
//! every message once and in order; bad arguments, an interface that does
//! not exist or cannot carry multicast, and a group address that is not
//! multicast end with one line on stderr and exit code 2. Every child is
//! killed when a test ends, every wait is bounded.
//!
//! If multicast on `lo` does not work on this host, the tests that need it
//! print `SKIPPED: cli_group::<test>: <why>` and return; with `CI=true`
//! they fail.

#[path = "support/child.rs"]
mod child;
#[path = "support/multicast.rs"]
mod multicast;
#[path = "support/ports.rs"]
mod ports;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use child::{Guard, Run, bound_port, finish, spawn, spawn_with};
use ports::free_udp_port;

/// Every wait of a child process.
const LIMIT: Duration = Duration::from_secs(60);

fn json(who: &str, r: &Run) -> serde_json::Value {
    assert!(
        r.status.success(),
        "{who} failed ({}): {}",
        r.status,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{who}: {}", r.stderr);
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("{who}: output is not one JSON object ({e}): {:?}", r.stdout))
}

/// Exit code 2, exactly one line on stderr that names the problem, no
/// panic.
fn assert_usage_error(args: &[&str], needle: &str) {
    let r = finish(spawn(args), Duration::from_secs(20));
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(r.status.code(), Some(2), "{args:?}: {:?}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    assert_eq!(lines.len(), 1, "{args:?}: not one line: {:?}", r.stderr);
    assert!(
        lines[0].starts_with("mcsctp: ") && lines[0].contains(needle),
        "{args:?}: {:?} does not say {needle:?}",
        lines[0]
    );
    assert!(r.stdout.is_empty(), "{args:?}: {:?}", r.stdout);
}

/// A member of the server at UDP port `udp` (`--plain` or joining on lo).
fn member(udp: &str, plain: bool, extra: &[&str]) -> Guard {
    let mut args = vec!["member", "127.0.0.1", "7", "--bind", "127.0.0.1"];
    args.extend(["--remote-udp-port", udp, "--rto-min", "10"]);
    args.extend(["--timeout", "30", "--json"]);
    if plain {
        args.push("--plain");
    } else {
        args.extend(["--interface", "lo"]);
    }
    args.extend(extra);
    spawn(&args)
}

#[test]
fn three_members_one_plain_get_the_servers_stream_exactly() {
    const TEST: &str = "cli_group::three_members_one_plain_get_the_servers_stream_exactly";
    let group = multicast::group_addr(21, free_udp_port());
    if let Err(why) = multicast::multicast_on_lo_works(multicast::group_addr(250, free_udp_port()))
    {
        multicast::skip(TEST, &why);
        return;
    }
    let group = group.to_string();
    let mut server = spawn(&[
        "group-server",
        "--group",
        &group,
        "--interface",
        "lo",
        "--bind",
        "127.0.0.1",
        "--local-udp-port",
        "0",
        "--members",
        "3",
        "--count",
        "500",
        "--size",
        "1000",
        "--rto-min",
        "10",
        "--timeout",
        "30",
        "--json",
    ]);
    let udp = bound_port(&mut server).to_string();
    let members = [
        member(&udp, false, &["--count", "500"]),
        member(&udp, false, &["--count", "500"]),
        member(&udp, true, &["--count", "500"]),
    ];
    let s = json("server", &finish(server, LIMIT));
    let got: Vec<serde_json::Value> = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| json(&format!("member {i}"), &finish(m, LIMIT)))
        .collect();

    let sha = s["sha256"].as_str().expect("server sha256");
    assert_eq!(sha.len(), 64, "{s}");
    assert_eq!(s["messages"], 500, "{s}");
    assert_eq!(s["bytes"], 500_000, "{s}");
    // Two members got the messages by multicast (each sent once to the
    // group); everything else went over the associations.
    assert!(s["bytes_multicast"].as_u64() >= Some(500_000), "{s}");
    assert!(s["bytes_unicast"].as_u64() >= Some(500_000), "{s}");
    let list = s["members"].as_array().expect("members");
    assert_eq!(s["gone"], serde_json::json!([]), "nobody left early: {s}");
    assert_eq!(list.len(), 3, "{s}");
    for m in list {
        for field in ["acked", "repairs", "mcast_loss", "fallbacks", "returns"] {
            assert!(m[field].is_number(), "{field} in {m}");
        }
        assert!(
            m["addr"]
                .as_str()
                .is_some_and(|a| a.starts_with("127.0.0.1:"))
        );
    }
    let plain: Vec<_> = list.iter().filter(|m| m["kind"] == "plain").collect();
    assert_eq!(plain.len(), 1, "{s}");
    assert_eq!(plain[0]["acked"], 0, "{s}");
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g["received"], 500, "member {i}: {g}");
        assert_eq!(g["duplicates"], 0, "member {i}: {g}");
        assert_eq!(g["out_of_order"], 0, "member {i}: {g}");
        assert_eq!(g["unindexed"], 0, "member {i}: {g}");
        assert_eq!(g["sha256"], sha, "member {i}: {g}");
    }
    assert_eq!(got[2]["kind"], "plain", "{}", got[2]);
    for g in &got[..2] {
        assert!(g["kind"] == "multicast" || g["kind"] == "fallback", "{g}");
    }
}

#[test]
fn stdin_lines_reach_a_member_that_runs_until_the_server_closes() {
    const TEST: &str = "cli_group::stdin_lines_reach_a_member_that_runs_until_the_server_closes";
    let group = multicast::group_addr(22, free_udp_port());
    if let Err(why) = multicast::multicast_on_lo_works(multicast::group_addr(251, free_udp_port()))
    {
        multicast::skip(TEST, &why);
        return;
    }
    let group = group.to_string();
    let mut server = spawn_with(
        &[
            "group-server",
            "--group",
            &group,
            "--interface",
            "127.0.0.1",
            "--bind",
            "127.0.0.1",
            "--local-udp-port",
            "0",
            "--members",
            "1",
            "--timeout",
            "30",
            "--json",
        ],
        Stdio::piped(),
    );
    let udp = bound_port(&mut server).to_string();
    // No --count: it ends when the server closes the association.
    let m = member(&udp, false, &[]);
    let lines = ["first", "", "a second line", "first"];
    let mut stdin = server.0.stdin.take().expect("stdin");
    for l in lines {
        writeln!(stdin, "{l}").expect("write stdin");
    }
    drop(stdin);
    let s = json("server", &finish(server, LIMIT));
    let g = json("member", &finish(m, LIMIT));
    // The empty line is not a message.
    assert_eq!(s["messages"], 3, "{s}");
    assert_eq!(g["received"], 3, "{g}");
    assert_eq!(g["unindexed"], 3, "{g}");
    assert_eq!(g["sha256"], s["sha256"], "{g} {s}");
    assert_eq!(
        s["sha256"], "9793c29a9bcc8830f69cc1f5a3b8dd5fdaa9993aff890e13df7b0c35b60ab16c",
        "sha256 of \"firsta second linefirst\": {s}"
    );
}

#[test]
fn bad_groups_interfaces_and_arguments_exit_2_with_one_line() {
    let port = free_udp_port().to_string();
    let local = ["--bind", "127.0.0.1", "--local-udp-port", "0"];
    let server = |extra: &[&'static str]| {
        let mut v = vec!["group-server"];
        v.extend(extra);
        v
    };
    assert_usage_error(
        &server(&["--group", "10.1.2.3:9907"]),
        "10.1.2.3 is not a multicast address",
    );
    assert_usage_error(&server(&["--group", "garbage"]), "is not ADDR:PORT");
    assert_usage_error(&server(&["--group", "239.1.2.3:0"]), "not 0");
    assert_usage_error(&server(&[]), "--group");
    assert_usage_error(
        &server(&["--group", "239.1.2.3:9907", "--count", "many"]),
        "'many'",
    );
    assert_usage_error(
        &server(&["--group", "239.1.2.3:9907", "--size", "100"]),
        "--count",
    );
    assert_usage_error(
        &server(&["--group", "239.1.2.3:9907", "--count", "1", "--size", "7"]),
        "out of range 8..=65536",
    );
    let mut args = server(&["--group", "239.1.2.3:9907", "--interface", "no-such-if0"]);
    args.extend(local);
    assert_usage_error(&args, "no network interface no-such-if0");
    // An interface that cannot carry multicast, if this host has one.
    if let Some(name) = interface_without_multicast() {
        let mut args = vec!["group-server", "--group", "239.1.2.3:9907", "--interface"];
        args.push(&name);
        args.extend(local);
        assert_usage_error(&args, &format!("{name} does not support multicast"));
        let mut args = vec!["member", "127.0.0.1", "7", "--interface", &name];
        args.extend(local);
        assert_usage_error(&args, &format!("{name} does not support multicast"));
    } else {
        eprintln!("cli_group: no interface without multicast here; that case is not run");
    }
    let member_args = |extra: &[&'static str]| {
        let mut v = vec!["member"];
        v.extend(extra);
        v
    };
    let mut args = member_args(&["127.0.0.1", "7", "--interface", "no-such-if0"]);
    args.extend(local);
    args.extend(["--remote-udp-port", &port]);
    assert_usage_error(&args, "no network interface no-such-if0");
    assert_usage_error(&member_args(&["nowhere", "7"]), "invalid IP address");
    assert_usage_error(&member_args(&["127.0.0.1"]), "<SCTP_PORT>");
    assert_usage_error(&member_args(&["127.0.0.1", "7", "--count", "0"]), "--count");
    assert_usage_error(
        &member_args(&["127.0.0.1", "7", "--plain", "--interface", "lo"]),
        "cannot be used with",
    );
    assert_usage_error(&member_args(&["127.0.0.1", "7", "--frob"]), "'--frob'");
}

/// A non-loopback interface of this host without the MULTICAST flag
/// (IFF_MULTICAST, 0x1000; IFF_LOOPBACK is 0x8), from /sys/class/net.
fn interface_without_multicast() -> Option<String> {
    let dir = std::fs::read_dir("/sys/class/net").ok()?;
    dir.filter_map(Result::ok).find_map(|e| {
        let name = e.file_name().into_string().ok()?;
        let flags = std::fs::read_to_string(e.path().join("flags")).ok()?;
        let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).ok()?;
        (flags & 0x1000 == 0 && flags & 0x8 == 0).then_some(name)
    })
}
