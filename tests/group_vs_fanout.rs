//! The targets of issue 10 item 7 that depend only on simulated time and
//! packet counts, asserted on the very cases `benches/group_vs_fanout.rs`
//! reports (same seed, same links, `mcsctp_testkit::compare`), so CI
//! catches a regression between benchmark runs. Server CPU stays in the
//! benchmark (timed assertions are flaky).
//!
//! A target the code meets is asserted as stated. A target it misses
//! today (BENCHMARKS.md marks it MISSED) is asserted not to regress past
//! a bound a little worse than the figure measured: when a change meets
//! the target, replace the bound by the target.
//!
//! ```text
//! cargo test --profile simtest --test group_vs_fanout -- --nocapture
//! ```

use mcsctp_testkit::compare::{
    FEEDBACK_ROWS, Outcome, Setup, feedback_case, goodput_case, latency_case, row_case, run_case,
    targets,
};
use std::time::Instant;

use mcsctp_testkit::compare::ServerEndpoint;

/// Runs a case and insists that it completed.
fn run(c: mcsctp_testkit::compare::Case) -> Outcome {
    let o = run_case(&c);
    if let Some(s) = &o.stalled {
        panic!("{}: the transfer stalled: {s}", c.label());
    }
    o
}

#[test]
fn server_bytes_at_16_members_are_at_most_a_twelfth_of_fan_out() {
    for loss in [0.0, 0.01] {
        let g = run(row_case(Setup::Group, 16, loss));
        let f = run(row_case(Setup::Fanout, 16, loss));
        let r = g.bytes_per_message() / f.bytes_per_message();
        println!(
            "bytes, N = 16, loss {loss}: group {:.0} B/msg, fan-out {:.0} B/msg, ratio {r:.4}",
            g.bytes_per_message(),
            f.bytes_per_message()
        );
        // Target met (0.0635 at 0 %, 0.0746 at 1 % on 17ec6b6).
        assert!(r <= targets::BYTES_RATIO, "loss {loss}: ratio {r:.4}");
    }
}

#[test]
fn goodput_at_1_percent_loss_against_loss_free() {
    let free = run(goodput_case(Setup::Group, 0.0));
    let lossy = run(goodput_case(Setup::Group, 0.01));
    let (a, b) = (
        lossy.steady_goodput_bps().expect("steady phase"),
        free.steady_goodput_bps().expect("steady phase"),
    );
    let r = a / b;
    println!(
        "goodput, N = 16: {:.2} Gbit/s at 1 %, {:.2} loss-free, ratio {r:.3}",
        a / 1e9,
        b / 1e9
    );
    // MISSED (target ≥ 0.9; measured 0.062 on 17ec6b6, when every loss
    // of the acker halved the group window and a repair waited for a
    // holdoff; 0.780 with Westwood+ and immediate repairs: the window
    // still grows by one MTU per round trip after a loss the filter lag
    // makes look like congestion, BENCHMARKS.md): not worse than this.
    assert!(r >= 0.7, "ratio {r:.3} regressed below 0.7");
    let _ = targets::GOODPUT_AT_1_PERCENT;
}

#[test]
fn feedback_per_group_data_packet_at_1_percent_loss() {
    // MISSED at both sizes (targets 0.5 and 3; measured 4.044 and 16.642
    // on 17ec6b6; 0.824 and 8.925 once the acker reports a gap once, Ack
    // Spacing counts packets and the acker's is 4): not worse than these
    // bounds.
    for (&(n, messages), bound) in FEEDBACK_ROWS.iter().zip([1.0, 11.0]) {
        let g = run(feedback_case(Setup::Group, n, messages));
        let r = g.feedback_per_data_packet();
        println!(
            "feedback, N = {n}: {} packets for {} group data packets, {r:.3} each",
            g.feedback_packets,
            g.data_packets()
        );
        assert!(r <= bound, "N = {n}: {r:.3} regressed past {bound}");
    }
    let _ = (targets::FEEDBACK_N64, targets::FEEDBACK_N1000);
}

#[test]
fn fabric_latency_at_1_percent_loss() {
    let g = run(latency_case(Setup::Group, 0.01));
    let p = g.latency(0.999);
    println!(
        "latency, N = 16, 1 %: p50 {:?} p99 {:?} p99.9 {p:?}",
        g.latency(0.5),
        g.latency(0.99)
    );
    // Target met (6.92 ms on 17ec6b6, when repairs waited for a holdoff
    // of four Loss Report Delays; 0.51 ms with immediate repairs and a
    // Loss Report Delay of at least 300 us).
    assert!(p <= targets::P999_LATENCY, "p99.9 {p:?}");
    // Without loss the group delivers in about one link delay.
    let g = run(latency_case(Setup::Group, 0.0));
    assert!(g.latency(0.999) <= targets::P999_LATENCY);
}

/// The benchmark's CPU figures time a replay of the server's calls; the
/// replay must make the very packets the simulation saw, or it would time
/// something else.
#[test]
fn a_replayed_server_sends_the_recorded_packets() {
    for setup in [Setup::Group, Setup::Fanout] {
        let mut c = row_case(setup, 4, 0.01);
        c.record = true;
        let o = run(c.clone());
        let rec = o.recording.as_ref().expect("recorded");
        let epoch = Instant::now();
        let mut ep = ServerEndpoint::new(&c, epoch);
        let mut buf = Vec::new();
        ep.replay(epoch, &rec.calls[..rec.mark], &mut buf, true);
        let sent = ep.replay(epoch, &rec.calls[rec.mark..], &mut buf, true);
        assert_eq!(sent, o.counters.bytes(), "{}", c.label());
        assert!(sent > 0);
    }
}
