//! The log-replication example (`examples/cluster.rs`) as a test: a leader
//! replicates a few thousand entries to three followers over a multicast
//! group on loopback, one follower is killed and restarted mid-run and
//! catches up by a snapshot plus the group entries after it; every
//! follower must have applied every entry exactly once, in order, and end
//! with the leader's state digest. Every wait in the run is bounded.
//!
//! If multicast on `lo` does not work on this host, the test prints
//! `SKIPPED: cluster::<test>: <why>` and returns; with `CI=true` it fails.

#[path = "../examples/cluster.rs"]
mod cluster;
#[path = "support/multicast.rs"]
mod multicast;
#[path = "support/ports.rs"]
mod ports;

use clap::Parser;
use cluster::{Options, run};

fn options(args: &[&str]) -> Options {
    let mut all = vec!["cluster"];
    all.extend_from_slice(args);
    Options::try_parse_from(all).expect("options")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_catches_up_and_every_follower_holds_the_leaders_state() {
    const TEST: &str = "a_restarted_follower_catches_up_and_every_follower_holds_the_leaders_state";
    let group = multicast::group_addr(91, ports::free_udp_port());
    if let Err(why) = multicast::multicast_on_lo_works(group) {
        multicast::skip(&format!("cluster::{TEST}"), &why);
        return;
    }
    const ENTRIES: u64 = 4000;
    let group = group.to_string();
    // 4000 entries at 5000/s: about a second of appending, with the kill
    // at entry 1333 and the restarted follower back before entry 2666
    // (the leader holds there until it is).
    let opts = options(&[
        "--followers",
        "3",
        "--entries",
        "4000",
        "--rate",
        "5000",
        "--keys",
        "500",
        "--size",
        "1000",
        "--kill",
        "--downtime",
        "50ms",
        "--group",
        &group,
    ]);
    let report = run(opts.clone()).await.expect("the run completes");
    cluster::print(&opts, &report);

    assert_eq!(report.entries, ENTRIES);
    assert_eq!(report.followers.len(), 3);
    assert_eq!(report.keys, 500, "every key was written");
    for f in &report.followers {
        // Replica::apply refuses anything but the next sequence number, so
        // S by snapshot plus the log entries applied after it, ending at
        // the last entry, is every entry exactly once, in order.
        assert_eq!(f.applied, ENTRIES, "follower {}: {f:?}", f.id);
        assert_eq!(
            f.snapshot_seq + f.log_applied,
            ENTRIES,
            "follower {}: {f:?}",
            f.id
        );
        assert_eq!(
            f.digest, report.leader_digest,
            "follower {}: the leader's state",
            f.id
        );
        // The log came over the group path (multicast on lo works here).
        assert!(f.multicast_chunks > 0, "follower {}: {f:?}", f.id);
    }
    // The two that stayed up got everything from the group log (their
    // snapshot was the empty one before the first entry).
    for f in &report.followers[..2] {
        assert_eq!((f.incarnations, f.snapshot_seq), (1, 0), "{f:?}");
        assert!(f.catch_up.is_none(), "{f:?}");
    }
    // The restarted one: a snapshot from the middle of the run, then the
    // rest by the group.
    let v = &report.followers[2];
    assert_eq!(v.incarnations, 2, "{v:?}");
    assert!(
        v.snapshot_seq >= ENTRIES / 3 && v.snapshot_seq < ENTRIES * 2 / 3,
        "snapshot from mid-run: {v:?}"
    );
    assert!(v.log_applied > 0 && v.catch_up.is_some(), "{v:?}");
    // Lag was measured on every entry applied from the group (the killed
    // follower's first life included).
    assert!(
        report.lag.count as u64 + report.catch_up_lag.count as u64
            >= report.followers.iter().map(|f| f.log_applied).sum::<u64>(),
        "{report:?}"
    );
    assert!(report.converged());
    // Each entry went to the group once: at least the entries' octets.
    assert!(report.multicast_octets >= ENTRIES * 1000, "{report:?}");
}

#[test]
fn bad_options_are_clear_errors() {
    for (args, what) in [
        (&["--followers", "0"][..], "followers"),
        (&["--entries", "0"][..], "entries"),
        (&["--duration", "soon"][..], "duration"),
        (&["--duration", "5h"][..], "unit"),
        (&["--size", "4"][..], "size"),
        (&["--group", "239.255.0.1"][..], "group"),
    ] {
        let mut all = vec!["cluster"];
        all.extend_from_slice(args);
        let e = Options::try_parse_from(all).expect_err(what);
        assert!(
            e.to_string().contains(args[0].trim_start_matches('-'))
                || e.to_string().contains(args[1]),
            "{what}: {e}"
        );
    }
    assert_eq!(
        options(&["--duration", "250ms"]).duration,
        Some(std::time::Duration::from_millis(250))
    );
}
