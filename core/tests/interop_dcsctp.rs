//! Interop with `dcsctp` (the Rust dcSCTP of the WebRTC project), in memory
//! over the simulator: mcsctp is node A, dcsctp node B, both on SCTP port
//! 5000 with 1200-byte packets.
//!
//! dcsctp offers I-DATA (RFC 8260) when `enable_message_interleaving` is
//! set; mcsctp always offers it. With both offering, every user message
//! must travel in I-DATA chunks; with dcsctp not offering, in DATA chunks.
//! The bulk tests check that on the wire.
//!
//! No disagreement found: every exchange here completed byte-identical
//! with no `OnError` from dcsctp, and so did a one-off sweep (not kept as
//! a test) of 40 seeds × ordered/unordered × DATA/I-DATA, once at 3 % loss
//! and once at 2 % loss with 2 % duplication, 3 % reordering and 3 ms
//! jitter.

mod common;
mod interop;

use std::time::Duration;

use interop::dcsctp_node::DcNode;
use interop::{Closed, Duo, McNode, Stack, ct, link, run_bulk, workload};
use mcsctp_core::event::CloseReason;

type DcDuo = Duo<McNode, DcNode>;

fn duo(seed: u64, loss: f64, interleaving: bool) -> DcDuo {
    Duo::new(
        seed,
        link(loss),
        |epoch, local, remote| McNode::new(McNode::config(seed), epoch, local, remote),
        |epoch, local, remote| {
            DcNode::new(
                "dcsctp",
                &DcNode::options(interleaving),
                epoch,
                local,
                remote,
            )
        },
    )
}

fn established(seed: u64, loss: f64, mcsctp_initiates: bool, interleaving: bool) -> DcDuo {
    let mut d = duo(seed, loss, interleaving);
    d.connect(mcsctp_initiates);
    d
}

/// Nothing dcsctp found worth an `OnError`.
fn assert_no_dcsctp_errors(d: &DcDuo) {
    assert!(
        d.b_ref().errors.is_empty(),
        "dcsctp reported {:?}",
        d.b_ref().errors
    );
}

// ----- handshake -----------------------------------------------------------

#[test]
fn handshake_mcsctp_to_dcsctp() {
    let mut d = duo(1, 0.0, true);
    // A -> INIT -> B, B -> INIT ACK -> A, A -> COOKIE ECHO -> B,
    // B -> COOKIE ACK -> A
    d.connect_in_four_packets(true);
    let h = d.a_ref().association().expect("handle");
    assert_eq!(d.a().peer.ep.association_state(h), Some("ESTABLISHED"));
    let m = d.b().sock.get_metrics().expect("metrics");
    assert!(m.uses_message_interleaving);
    assert_eq!(
        m.peer_implementation,
        dcsctp::api::SctpImplementation::Unknown
    );
    assert_no_dcsctp_errors(&d);
}

#[test]
fn handshake_dcsctp_to_mcsctp() {
    let mut d = duo(2, 0.0, true);
    // B -> INIT -> A, A -> INIT ACK -> B, B -> COOKIE ECHO -> A,
    // A -> COOKIE ACK -> B
    d.connect_in_four_packets(false);
    let m = workload(7, 7, 3, 0, false);
    d.transfer(&m, &m, Duration::from_secs(5)).unwrap();
    interop::check_delivery("A -> B", &m, d.b_ref().received());
    interop::check_delivery("B -> A", &m, d.a_ref().received());
    assert_no_dcsctp_errors(&d);
}

// ----- bulk transfer ---------------------------------------------------------

/// Which user-data chunk type crossed the wire, both ways.
fn assert_user_data_in(d: &DcDuo, idata: bool) {
    let (used, unused) = if idata {
        (ct::I_DATA, ct::DATA)
    } else {
        (ct::DATA, ct::I_DATA)
    };
    for (who, w) in [("mcsctp", d.a_ref().wire()), ("dcsctp", d.b_ref().wire())] {
        assert!(w.count(used) > 0, "{who} sent no chunk of type {used}");
        assert_eq!(w.count(unused), 0, "{who} sent chunks of type {unused}");
    }
    assert_eq!(
        d.b_ref()
            .sock
            .get_metrics()
            .unwrap()
            .uses_message_interleaving,
        idata
    );
}

#[test]
fn ordered_bulk_with_idata_without_loss() {
    let mut d = established(10, 0.0, true, true);
    run_bulk(&mut d, 10, 200, false);
    assert_user_data_in(&d, true);
    assert_no_dcsctp_errors(&d);
}

#[test]
fn ordered_bulk_with_idata_at_one_percent_loss() {
    let mut d = established(11, 0.01, false, true);
    run_bulk(&mut d, 11, 200, false);
    assert_user_data_in(&d, true);
    assert_no_dcsctp_errors(&d);
}

#[test]
fn unordered_bulk_with_idata_without_loss() {
    let mut d = established(12, 0.0, false, true);
    run_bulk(&mut d, 12, 200, true);
    assert_user_data_in(&d, true);
    assert_no_dcsctp_errors(&d);
}

#[test]
fn unordered_bulk_with_idata_at_one_percent_loss() {
    let mut d = established(13, 0.01, true, true);
    run_bulk(&mut d, 13, 200, true);
    assert_user_data_in(&d, true);
    assert_no_dcsctp_errors(&d);
}

#[test]
fn ordered_bulk_with_data_without_loss() {
    let mut d = established(14, 0.0, true, false);
    run_bulk(&mut d, 14, 200, false);
    assert_user_data_in(&d, false);
    assert_no_dcsctp_errors(&d);
}

#[test]
fn ordered_bulk_with_data_at_one_percent_loss() {
    let mut d = established(15, 0.01, false, false);
    run_bulk(&mut d, 15, 200, false);
    assert_user_data_in(&d, false);
    assert_no_dcsctp_errors(&d);
}

#[test]
fn unordered_bulk_with_data_at_one_percent_loss() {
    let mut d = established(16, 0.01, true, false);
    run_bulk(&mut d, 16, 200, true);
    assert_user_data_in(&d, false);
    assert_no_dcsctp_errors(&d);
}

// ----- shutdown ------------------------------------------------------------

/// Some data each way, so that the shutdown has something to flush.
fn with_data(d: &mut DcDuo) {
    let to_b = workload(1, 1, 20, 3, false);
    let to_a = workload(2, 2, 20, 4, false);
    d.transfer(&to_b, &to_a, Duration::from_secs(30)).unwrap();
}

fn shutdown_by(a_closes: bool, seed: u64) {
    let mut d = established(seed, 0.0, !a_closes, true);
    with_data(&mut d);
    // Queue more and close at once: SHUTDOWN waits until all is acked
    // (RFC 9260 §9.2).
    let tail = workload(3, 3, 10, 5, false);
    let now = d.net.now();
    for m in &tail {
        if a_closes {
            d.a().submit(now, m.clone());
        } else {
            d.b().submit(now, m.clone());
        }
    }
    if a_closes {
        d.a().shutdown(now);
    } else {
        d.b().shutdown(now);
    }
    // X -> SHUTDOWN -> Y, Y -> SHUTDOWN ACK -> X, X -> SHUTDOWN COMPLETE -> Y
    d.run_until(
        |a, b| a.closed().is_some() && b.closed().is_some(),
        Duration::from_secs(30),
    )
    .expect("both sides close");
    assert_eq!(d.a_ref().close_reason(), Some(&CloseReason::Shutdown));
    assert_eq!(d.b_ref().closed(), Some(&Closed::Graceful));
    let (closer, other) = if a_closes {
        (d.a_ref().wire(), d.b_ref().wire())
    } else {
        (d.b_ref().wire(), d.a_ref().wire())
    };
    assert!(closer.count(ct::SHUTDOWN) >= 1);
    assert_eq!(other.count(ct::SHUTDOWN_ACK), 1);
    assert_eq!(closer.count(ct::SHUTDOWN_COMPLETE), 1);
    assert_eq!(closer.count(ct::ABORT) + other.count(ct::ABORT), 0);
    let receiver = if a_closes {
        d.b_ref().received()
    } else {
        d.a_ref().received()
    };
    assert_eq!(receiver.len(), 20 + 10);
    interop::check_delivery("tail", &tail, &receiver[20..]);
    assert_no_dcsctp_errors(&d);
}

#[test]
fn shutdown_initiated_by_mcsctp() {
    shutdown_by(true, 20);
}

#[test]
fn shutdown_initiated_by_dcsctp() {
    shutdown_by(false, 21);
}

// ----- abort ---------------------------------------------------------------

#[test]
fn abort_by_mcsctp_reaches_dcsctp() {
    let mut d = established(30, 0.0, true, true);
    with_data(&mut d);
    let now = d.net.now();
    d.a().abort(now);
    // A -> ABORT (User-Initiated Abort) -> B
    d.run_until(|_, b| b.closed().is_some(), Duration::from_secs(5))
        .expect("dcsctp sees the ABORT");
    assert_eq!(d.a_ref().closed(), Some(&Closed::AbortedLocally));
    match d.b_ref().closed() {
        Some(Closed::AbortedByPeer(reason)) => {
            assert!(reason.contains("test abort"), "reason: {reason}")
        }
        c => panic!("dcsctp closed with {c:?}"),
    }
    assert_eq!(d.b_ref().wire().count(ct::ABORT), 0);
}

#[test]
fn abort_by_dcsctp_reaches_mcsctp() {
    let mut d = established(31, 0.0, false, true);
    with_data(&mut d);
    let now = d.net.now();
    d.b().abort(now);
    // B -> ABORT (User-Initiated Abort "Close called") -> A
    d.run_until(|a, _| a.closed().is_some(), Duration::from_secs(5))
        .expect("mcsctp sees the ABORT");
    match d.a_ref().closed() {
        Some(Closed::AbortedByPeer(cause)) => {
            assert!(cause.contains("User-Initiated Abort"), "cause: {cause}")
        }
        c => panic!("mcsctp closed with {c:?}"),
    }
    assert_eq!(d.b_ref().wire().count(ct::ABORT), 1);
    assert_eq!(d.a_ref().wire().count(ct::ABORT), 0);
}
