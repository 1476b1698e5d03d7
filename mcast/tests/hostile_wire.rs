//! Protocol bugs the hostile-wire driver found in the multicast
//! extension, pinned as scripts: the driver is
//! `mcsctp_mcast::fuzzing::group_wire` (feature `fuzzing`), the code of the
//! cargo-fuzz target `mcast_endpoint`. It checks every invariant itself
//! and panics on a broken one.

use mcsctp_mcast::fuzzing::group_wire;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

// ----- what the scripts found ----------------------------------------------
//
// Each was a protocol bug in the server or member code, found by this
// driver; the scripts below fail without the fix (the driver panics).

/// Was a server bug, twice: a timer of the group path stayed due after
/// `handle_timeout` until the next `poll_transmit` moved it, and with
/// nothing to send `poll_transmit` never did: a runtime that waits for
/// `poll_timeout` spins. First the MSYNC timer (tail-loss probe and sync
/// interval; fixed on main by 0bf7742 independently), then the group
/// congestion window's reopen time (without an acker the sends of the last
/// round trip aged out only when the next group packet was built). Any
/// script showed them; this one sends a group message and lets 2 ms pass.
#[test]
fn the_group_timers_are_not_due_after_handle_timeout() {
    let o = group_wire::run(&hex("000c00022b0002"));
    assert!(o.live, "{o:?}");
}

/// Was a member bug: a retransmission of a unicast message U with its
/// BARRIER (D=0) that arrives after U was delivered left a hold on U's
/// (stream, SSN) that nothing ever removed: held state growing with every
/// late duplicate, and after the stream's SSNs wrap, a hold on an
/// unrelated message. The script sends a group message and a message
/// behind it, delivers both, then replays one datagram of the history
/// (each in turn): the driver's bound (holds at most the messages behind
/// the group not yet delivered) caught the replayed BARRIER.
#[test]
fn a_barrier_retransmitted_after_its_message_was_delivered_holds_nothing() {
    for k in 0..32u8 {
        let mut v = hex("000c00021d00030f");
        v.extend_from_slice(&[0x0a, k, 0x00, 0x0f]);
        let o = group_wire::run(&v);
        // The driver's bound applied (nothing forged reached the member).
        assert!(!o.taint.group_data && !o.taint.member_assoc, "{o:?}");
    }
}

/// Was a server bug (fixed on main independently by 0bf7742): every
/// unicast MDATA transmission added to the association's flight, but an
/// acknowledgement took an MTSN off only once, so each retransmission of a
/// repair or fallback chunk leaked its octets, and a member in fallback
/// ended with a window used up by nothing. On main the script found a
/// member bug as well: the stalled member was evicted (End of Membership)
/// while a unicast message behind a BARRIER waited for group MTSNs that
/// would never come, and that message and everything after it on its
/// stream stayed held for ever. A BARRIER now releases when the
/// membership ends (draft §"Semantics", D=0 (b)). Minimised from the
/// generator's seed 1371 (one member, a lossy group path).
#[test]
fn unicast_retransmissions_do_not_leak_the_association_window() {
    let o = group_wire::run(&hex(
        "6e9aea38d8037d448252ce09c1b7eb695eeb0b851f20b8b88f4093622626ecec9074a358bfbefb78\
         8334573d8c16454253e810a6342cbc9919df9a9c5430a6abfaa89f6a372f6a091b3b0112c821f824\
         12030303b78e286204d1b78fb9f43436b49b0c54d9910ce0130d3a75e1f1210c40d3d1e10822ca12\
         b39e36e75eb4e7b40ce5c25201b1b1410fe39de6b1010c712c3b037e310c83c6e2720ce003a1a12d\
         7b118b002f8dd2dde20c925f",
    ));
    assert!(o.live && o.fallbacks > 0, "{o:?}");
}
