use std::time::Instant;

use bytes::Bytes;
use mcsctp_core::serial::{Ppid, StreamId};

use super::*;

#[allow(clippy::disallowed_methods)] // an arbitrary origin; time is driven
fn t0() -> Instant {
    Instant::now()
}

fn sender(cfg: GroupSenderConfig) -> GroupSender<u32> {
    GroupSender::new(cfg)
}

fn send_n(g: &mut GroupSender<u32>, now: Instant, n: usize) {
    for i in 0..n {
        g.send(
            now,
            StreamId(0),
            Ppid(0),
            Bytes::from(vec![i as u8; 100]),
            false,
        )
        .unwrap();
    }
}

/// Takes every MTSN the windows allow for the group path.
fn drain_new(g: &mut GroupSender<u32>, now: Instant) -> Vec<Mtsn> {
    std::iter::from_fn(|| g.poll_new(now, usize::MAX).map(|(m, _)| m)).collect()
}

fn ack(g: &mut GroupSender<u32>, now: Instant, id: u32, cum: Mtsn) -> bool {
    g.on_ack(now, id, cum, cum, &[], u32::MAX).newly_acked > 0
}

#[test]
fn mtsns_are_assigned_in_order_and_released_when_all_active_members_ack() {
    let now = t0();
    let mut g = sender(GroupSenderConfig {
        initial_mtsn: Mtsn(u32::MAX - 2),
        ..GroupSenderConfig::default()
    });
    let a = 1;
    let b = 2;
    assert_eq!(
        g.add_member(now, a, MemberKind::Multicast),
        Mtsn(u32::MAX - 2)
    );
    g.add_member(now, b, MemberKind::Multicast);
    send_n(&mut g, now, 5);
    let sent = drain_new(&mut g, now);
    assert_eq!(
        sent,
        vec![
            Mtsn(u32::MAX - 2),
            Mtsn(u32::MAX - 1),
            Mtsn(u32::MAX),
            Mtsn(0),
            Mtsn(1)
        ]
    );
    assert_eq!(g.buffered_bytes(), 500);
    ack(&mut g, now, a, Mtsn(1));
    assert_eq!(g.mctsn(), Mtsn(u32::MAX - 3), "b holds everything back");
    ack(&mut g, now, b, Mtsn(u32::MAX));
    assert_eq!(g.mctsn(), Mtsn(u32::MAX));
    ack(&mut g, now, b, Mtsn(1));
    assert_eq!((g.mctsn(), g.buffered_bytes()), (Mtsn(1), 0));
    assert_eq!(g.member(a).unwrap().acked, 5);
}

#[test]
fn the_group_window_bounds_what_is_unacknowledged() {
    let now = t0();
    let mut g = sender(GroupSenderConfig {
        window_chunks: 4,
        ..GroupSenderConfig::default()
    });
    g.add_member(now, 1, MemberKind::Multicast);
    send_n(&mut g, now, 10);
    let first = drain_new(&mut g, now);
    assert_eq!(first.len(), 4);
    assert!(g.poll_new(now, usize::MAX).is_none());
    ack(&mut g, now, 1, first[1]);
    assert_eq!(drain_new(&mut g, now).len(), 2);
    // A member's a_grwnd bounds it too.
    g.on_ack(now, 1, Mtsn(5), Mtsn(5), &[], 150);
    assert_eq!(
        drain_new(&mut g, now).len(),
        1,
        "one chunk with nothing outstanding"
    );
    assert!(g.poll_new(now, usize::MAX).is_none(), "100 + 100 > 150");
}

#[test]
fn a_lone_member_is_repaired_by_unicast_at_once() {
    let t = t0();
    let mut g = sender(GroupSenderConfig::default());
    g.add_member(t, 7, MemberKind::Multicast);
    let rtt = Duration::from_micros(100);
    g.on_member_rtt(7, rtt, rtt, Duration::from_micros(25));
    send_n(&mut g, t, 2);
    let mut s = drain_new(&mut g, t);
    // The repair age is SRTT_k + 4 RTTVAR_k = 200 us; its quarter is the
    // reordering window.
    let t1 = t + Duration::from_micros(49);
    send_n(&mut g, t1, 1);
    s.extend(drain_new(&mut g, t1));
    // Lost s[1]: gap block over s[2], sent within the reordering window
    // after it: s[1] may be overtaken, not lost.
    g.on_ack(t1, 7, s[0], s[2], &[(2, 2)], u32::MAX);
    assert!(!g.has_unicast(7));
    // s[3], sent a reordering window after s[1], arrived: s[1] is lost and
    // repaired at once (draft §"Unicast or Multicast": below the
    // threshold, no holdoff).
    let t = t + Duration::from_micros(50);
    send_n(&mut g, t, 1);
    s.extend(drain_new(&mut g, t));
    g.on_ack(t, 7, s[0], s[3], &[(2, 3)], u32::MAX);
    let (m, c) = g.poll_unicast(t, 7, usize::MAX).expect("a repair");
    assert_eq!(m, s[1]);
    assert_eq!(c.payload.len(), 100);
    assert!(g.poll_unicast(t, 7, usize::MAX).is_none());
    // Reported again within the repair age: the repair is in flight, not
    // repeated.
    let now = t + Duration::from_micros(199);
    g.on_ack(now, 7, s[0], s[3], &[(2, 3)], u32::MAX);
    assert!(g.poll_unicast(now, 7, usize::MAX).is_none());
    assert_eq!(g.member(7).unwrap().repairs, 1);
    // Still missing a repair age after its repair: lost, sent again.
    let now = t + Duration::from_micros(200);
    g.on_ack(now, 7, s[0], s[3], &[(2, 3)], u32::MAX);
    assert_eq!(g.poll_unicast(now, 7, usize::MAX).map(|x| x.0), Some(s[1]));
    assert_eq!(g.member(7).unwrap().repairs, 2);
    ack(&mut g, now, 7, s[3]);
    assert_eq!(g.mctsn(), s[3]);
}

/// A report that an MSYNC caused (the member knows t was sent, has
/// received nothing after it) is no evidence of loss: the copy may be on
/// its way. t is lost a repair age after it was sent.
#[test]
fn a_tail_report_waits_for_the_repair_age() {
    let t = t0();
    let mut g = sender(GroupSenderConfig::default());
    g.add_member(t, 7, MemberKind::Multicast);
    let rtt = Duration::from_micros(100);
    g.on_member_rtt(7, rtt, rtt, Duration::from_micros(25));
    send_n(&mut g, t, 2);
    let s = drain_new(&mut g, t);
    let now = t + Duration::from_micros(199);
    g.on_ack(now, 7, s[0], s[1], &[], u32::MAX);
    assert!(!g.has_unicast(7));
    let now = t + Duration::from_micros(200);
    g.on_ack(now, 7, s[0], s[1], &[], u32::MAX);
    assert_eq!(g.poll_unicast(now, 7, usize::MAX).map(|x| x.0), Some(s[1]));
}

#[test]
fn a_loss_many_members_share_is_repaired_once_by_multicast() {
    let now = t0();
    let mut g = sender(GroupSenderConfig::default());
    for id in 0..20 {
        g.add_member(now, id, MemberKind::Multicast);
    }
    send_n(&mut g, now, 2);
    let s = drain_new(&mut g, now);
    // Reports without evidence of loss (no later MTSN sent a reordering
    // window after it) within the repair age (Mcast.RTO.Min before any
    // sample): the copy may be in flight.
    g.on_ack(now, 0, s[0].wrapping_sub(1), s[1], &[(2, 2)], u32::MAX);
    assert!(!g.has_unicast(0));
    let now = now + crate::defaults::RTO_MIN;
    // Threshold (draft defaults): T(20) = max(3, min(ceil(0.05 * 20), 8))
    // = 3, as crate::defaults::multicast_repair_threshold says.
    assert_eq!(crate::defaults::multicast_repair_threshold(20), 3);
    // The first two reporters are repaired by unicast at once.
    for id in 0..2 {
        g.on_ack(now, id, s[0].wrapping_sub(1), s[1], &[(2, 2)], u32::MAX);
        assert!(g.poll_group_repair(now).is_none(), "{} reports", id + 1);
        assert_eq!(g.poll_unicast(now, id, usize::MAX).map(|x| x.0), Some(s[0]));
    }
    // A reporter counts once, whatever it reports.
    g.on_ack(now, 1, s[0].wrapping_sub(1), s[1], &[(2, 2)], u32::MAX);
    assert!(g.poll_group_repair(now).is_none());
    g.on_ack(now, 2, s[0].wrapping_sub(1), s[1], &[(2, 2)], u32::MAX);
    let (m, _) = g
        .poll_group_repair(now)
        .expect("three reports: multicast repair");
    assert_eq!(m, s[0]);
    assert!(g.poll_group_repair(now).is_none(), "once");
    assert!(!g.has_unicast(2), "the third is answered by the group copy");
    // Reports while the group copy is in flight change nothing.
    for id in 3..20 {
        g.on_ack(now, id, s[0].wrapping_sub(1), s[1], &[(2, 2)], u32::MAX);
        assert!(!g.has_unicast(id));
    }
    assert!(g.poll_group_repair(now).is_none());
    assert_eq!(g.group_repairs_sent, 1);
}

#[test]
fn a_member_that_misses_the_group_path_falls_back_and_gets_everything_by_unicast() {
    let now = t0();
    let mut g = sender(GroupSenderConfig::default());
    g.add_member(now, 1, MemberKind::Multicast);
    g.add_member(now, 2, MemberKind::Multicast);
    send_n(&mut g, now, 40);
    let s = drain_new(&mut g, now);
    assert_eq!(s.len(), 40);
    // Member 1 gets everything; member 2 nothing, and its group path is
    // judged broken (by the caller's measurement).
    ack(&mut g, now, 1, s[39]);
    assert_eq!(g.mctsn(), s[0].wrapping_sub(1), "member 2 holds the group");
    g.fall_back(2);
    assert_eq!(g.member(2).unwrap().kind, MemberKind::Fallback);
    assert_eq!(g.mctsn(), s[39], "the group does not wait for it");
    assert_eq!(g.buffered_bytes(), 0);
    // It is owed all 40, in order, from its backlog.
    let got: Vec<Mtsn> =
        std::iter::from_fn(|| g.poll_unicast(now, 2, usize::MAX).map(|x| x.0)).collect();
    assert_eq!(got, s);
    // New MTSNs go to it by unicast as well.
    send_n(&mut g, now, 1);
    let n = drain_new(&mut g, now);
    assert_eq!(g.poll_unicast(now, 2, usize::MAX).map(|x| x.0), Some(n[0]));
    let events: Vec<_> = std::iter::from_fn(|| g.poll_event()).collect();
    assert!(events.contains(&MemberEvent::Changed(2, MemberKind::Fallback)));
    // Evidence that multicast reaches it again: returning, then multicast
    // once it caught up.
    g.member_reached(2);
    assert_eq!(g.member(2).unwrap().kind, MemberKind::Returning);
    send_n(&mut g, now, 1);
    let r = drain_new(&mut g, now);
    ack(&mut g, now, 1, r[0]);
    assert_eq!(
        g.mctsn(),
        r[0].wrapping_sub(1),
        "a returning member holds its new MTSNs"
    );
    ack(&mut g, now, 2, r[0]);
    assert_eq!(g.member(2).unwrap().kind, MemberKind::Multicast);
    assert_eq!(g.mctsn(), r[0]);
}

#[test]
fn a_joining_member_never_holds_the_group_back() {
    let now = t0();
    let mut g = sender(GroupSenderConfig {
        window_chunks: 8,
        ..GroupSenderConfig::default()
    });
    g.add_member(now, 1, MemberKind::Multicast);
    g.add_member(now, 9, MemberKind::Joining);
    send_n(&mut g, now, 20);
    let mut sent = Vec::new();
    for _ in 0..5 {
        let s = drain_new(&mut g, now);
        if let Some(&last) = s.last() {
            ack(&mut g, now, 1, last);
        }
        sent.extend(s);
    }
    assert_eq!(
        sent.len(),
        20,
        "member 9 never acknowledged; nothing waited"
    );
    // It keeps its backlog: a late report is repaired by unicast.
    g.on_ack(now, 9, sent[0].wrapping_sub(1), sent[0], &[], u32::MAX);
    assert_eq!(
        g.poll_unicast(now, 9, usize::MAX).map(|x| x.0),
        Some(sent[0])
    );
}

#[test]
fn a_silent_active_member_is_moved_aside_after_the_stall_timeout() {
    let now = t0();
    let cfg = GroupSenderConfig {
        window_chunks: 4,
        ..GroupSenderConfig::default()
    };
    let stall = cfg.stall_timeout;
    let mut g = sender(cfg);
    g.add_member(now, 1, MemberKind::Multicast);
    g.add_member(now, 2, MemberKind::Multicast);
    send_n(&mut g, now, 10);
    let s = drain_new(&mut g, now);
    ack(&mut g, now, 1, *s.last().unwrap());
    assert!(
        g.poll_new(now, usize::MAX).is_none(),
        "member 2 holds the window"
    );
    let at = g.poll_timeout().unwrap();
    assert_eq!(at, now + stall);
    g.handle_timeout(at);
    assert_eq!(g.member(2).unwrap().kind, MemberKind::Fallback);
    assert_eq!(drain_new(&mut g, at).len(), 4, "the group moves again");
    assert!(g.has_unicast(2), "and member 2 loses nothing");
}

#[test]
fn a_member_too_far_behind_is_removed_with_an_event() {
    let now = t0();
    let mut g = sender(GroupSenderConfig {
        max_backlog: 10,
        ..GroupSenderConfig::default()
    });
    g.add_member(now, 1, MemberKind::Multicast);
    g.add_member(now, 2, MemberKind::Fallback);
    send_n(&mut g, now, 30);
    for _ in 0..30 {
        if let Some((m, _)) = g.poll_new(now, usize::MAX) {
            ack(&mut g, now, 1, m);
        }
    }
    assert!(g.member(2).is_none());
    let events: Vec<_> = std::iter::from_fn(|| g.poll_event()).collect();
    assert!(events.contains(&MemberEvent::Removed(2)));
    assert_eq!(g.mctsn(), g.highest_sent());
}

#[test]
fn an_expired_message_is_abandoned_for_every_member_with_a_skip_point() {
    use crate::chunk::msync::ForwardEntry;
    use mcsctp_core::serial::Mid;
    use mcsctp_core::tx::send_queue::OutgoingMessage;

    let now = t0();
    let mut g = sender(GroupSenderConfig {
        max_fragment: 40,
        ..GroupSenderConfig::default()
    });
    g.add_member(now, 1, MemberKind::Multicast);
    g.add_member(now, 2, MemberKind::Multicast);
    // Three fragments, 5 ms to live; then a message without a lifetime.
    let mut msg = OutgoingMessage::new(StreamId(0), Ppid(0), Bytes::from(vec![7u8; 100]));
    msg.lifetime = Some(Duration::from_millis(5));
    g.send_message(now, msg).unwrap();
    send_n(&mut g, now, 1);
    // Two fragments go out; member 1 gets both, member 2 the first.
    let a = g.poll_new(now, 40).unwrap().0;
    let b = g.poll_new(now, 40).unwrap().0;
    ack(&mut g, now, 1, b);
    ack(&mut g, now, 2, a);
    assert_eq!(g.next_expiry(), Some(now + Duration::from_millis(5)));
    let later = now + Duration::from_millis(5);
    g.expire(later);
    assert_eq!(g.messages_abandoned, 1);
    assert_eq!(g.mctsn(), b, "an abandoned MTSN holds nobody back");
    assert_eq!(g.take_forward_due(), vec![1, 2]);
    let skip = ForwardEntry {
        stream: StreamId(0),
        unordered: false,
        mid: Mid(0),
    };
    // Member 2 lacks b, which is abandoned: its New Cumulative MTSN is b.
    assert_eq!(g.forward(2), Some((b, vec![skip])));
    // Member 1 holds every fragment assigned so far and is told too: its
    // stream would otherwise wait for the third fragment for ever.
    assert_eq!(g.forward(1), Some((b, vec![skip])));
    // A report of the abandoned MTSN is answered with the Forward, never
    // with the data.
    g.on_ack(later, 2, a, b, &[], u32::MAX);
    assert!(!g.has_unicast(2));
    assert_eq!(g.take_forward_due(), vec![2]);
    // The unsent third fragment never goes; the next message does.
    let (t, c) = g.poll_new(later, 200).expect("the next message");
    assert_eq!((t, c.mid, c.payload[0]), (Mtsn(b.0 + 1), Mid(1), 0));
    // Echoed: nothing left to skip.
    g.forward_echoed(2, &[skip]);
    assert_eq!(g.forward(2), None);
    assert!(g.forward(1).is_some(), "member 1 has not echoed yet");
}

/// Draft §"Sending BARRIER", D=1: group messages sent behind a fence get
/// no MTSN until they are let in, count in barrier positions at once, and
/// keep their order; the prefix before the fence completes on its own.
#[test]
fn messages_behind_a_unicast_first_fence_wait_for_it_in_order() {
    let now = t0();
    let mut g = sender(GroupSenderConfig::default());
    g.add_member(now, 1, MemberKind::Multicast);
    send_n(&mut g, now, 2);
    let before = g.position();
    let place = g.fence();
    send_n(&mut g, now, 3);
    // The position counts the held messages; the fence's prefix does not.
    assert_eq!(g.position(), vec![(0, 5)]);
    assert!(g.prefix_end(&before).is_none());
    assert_eq!(drain_new(&mut g, now), vec![Mtsn(0), Mtsn(1)]);
    assert_eq!(g.prefix_end(&before), Some(Mtsn(1)));
    assert!(g.has_queued(), "the held messages are still to send");
    // M is the next MTSN: nothing behind the fence took it.
    assert_eq!(g.next_mtsn(), Mtsn(2));
    g.release_held(now, Some(place + 1));
    let got: Vec<u8> = std::iter::from_fn(|| g.poll_new(now, usize::MAX))
        .map(|(_, c)| c.payload[0])
        .collect();
    assert_eq!(got, vec![0], "only the first held message was let in");
    g.release_held(now, None);
    let got: Vec<u8> = std::iter::from_fn(|| g.poll_new(now, usize::MAX))
        .map(|(_, c)| c.payload[0])
        .collect();
    assert_eq!(got, vec![1, 2], "the rest, in order");
    assert!(!g.has_queued());
    // The fence is lifted: new messages go straight to the queue.
    send_n(&mut g, now, 1);
    assert_eq!(drain_new(&mut g, now).len(), 1);
}

/// Draft §"Sending MDATA" condition 4: while a unicast-first hold is in
/// effect no new MTSN is assigned; retransmissions are not new MTSNs and go
/// on.
#[test]
fn a_unicast_first_hold_stops_new_mtsns_but_not_repairs() {
    let now = t0();
    // A repair age (Mcast.RTO.Min before any sample) after the send: the
    // report is evidence of loss.
    let later = now + crate::defaults::RTO_MIN;
    let mut g = sender(GroupSenderConfig::default());
    g.add_member(now, 1, MemberKind::Multicast);
    send_n(&mut g, now, 2);
    assert_eq!(drain_new(&mut g, now).len(), 2);
    g.set_barrier_hold(true);
    send_n(&mut g, now, 2);
    assert!(drain_new(&mut g, now).is_empty(), "held");
    // The member misses MTSN 0: it is repaired while the hold lasts.
    g.on_ack(later, 1, Mtsn(u32::MAX), Mtsn(1), &[(2, 2)], u32::MAX);
    assert!(g.has_unicast(1), "repairs go on");
    assert_eq!(
        g.poll_unicast(later, 1, usize::MAX).map(|(m, _)| m),
        Some(Mtsn(0))
    );
    assert!(drain_new(&mut g, later).is_empty(), "still held");
    g.set_barrier_hold(false);
    assert_eq!(drain_new(&mut g, later), vec![Mtsn(2), Mtsn(3)]);
}

/// A held message whose lifetime ends before the fence lifts never gets an
/// MTSN, and completes its stream for barrier positions.
#[test]
fn a_held_message_that_expires_completes_its_position() {
    let now = t0();
    let mut g = sender(GroupSenderConfig::default());
    g.add_member(now, 1, MemberKind::Multicast);
    g.fence();
    let mut m = OutgoingMessage::new(StreamId(0), Ppid(0), Bytes::from_static(b"x"));
    m.lifetime = Some(std::time::Duration::from_millis(1));
    g.send_message(now, m).unwrap();
    let pos = g.position();
    g.release_held(now + std::time::Duration::from_millis(2), None);
    assert!(drain_new(&mut g, now).is_empty());
    assert!(g.prefix_end(&pos).is_some());
}

/// Draft §"Loss Detection for Unicast MDATA": unicast MDATA nobody
/// acknowledges is sent again when the member's timer (RTO_k plus its Ack
/// Delay) expires, all of it taken as lost, but only one chunk goes until
/// something is acknowledged; the timer backs off.
#[test]
fn unacknowledged_unicast_mdata_is_sent_again_one_chunk_at_a_time() {
    let now = t0();
    let mut g = sender(GroupSenderConfig::default());
    g.add_member(now, 1, MemberKind::Multicast);
    g.add_member(now, 2, MemberKind::Fallback);
    let rtt = Duration::from_micros(500);
    g.on_member_rtt(2, rtt, rtt, Duration::from_micros(125));
    g.set_member_ack_delay(2, Duration::from_millis(1));
    send_n(&mut g, now, 3);
    let s = drain_new(&mut g, now);
    let sent: Vec<Mtsn> =
        std::iter::from_fn(|| g.poll_unicast(now, 2, usize::MAX).map(|x| x.0)).collect();
    assert_eq!(sent, s, "fallback data by unicast");
    // RTO_k = 500 + 4 * 125 us, plus the Ack Delay.
    let due = now + Duration::from_micros(2000);
    assert_eq!(g.poll_timeout(), Some(due));
    g.handle_timeout(due - Duration::from_micros(1));
    assert!(g.poll_unicast(due, 2, usize::MAX).is_none(), "not yet");
    g.handle_timeout(due);
    let mut woken = Vec::new();
    g.drain_retransmitted(&mut woken);
    assert_eq!(woken, vec![2]);
    // Everything is queued again, but one chunk goes.
    assert_eq!(g.poll_unicast(due, 2, usize::MAX).map(|x| x.0), Some(s[0]));
    assert!(g.poll_unicast(due, 2, usize::MAX).is_none(), "one probe");
    // Backed off: twice RTO_k, plus the Ack Delay.
    assert_eq!(g.poll_timeout(), Some(due + Duration::from_micros(3000)));
    // Its acknowledgement lets the rest go.
    g.on_ack(due, 2, s[0], s[0], &[], u32::MAX);
    let rest: Vec<Mtsn> =
        std::iter::from_fn(|| g.poll_unicast(due, 2, usize::MAX).map(|x| x.0)).collect();
    assert_eq!(rest, s[1..]);
}
