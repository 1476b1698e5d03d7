use std::time::Instant;

use bytes::Bytes;
use mcsctp_core::chunk::DataFlags;
use mcsctp_core::rx::reassembly::{DeliveryKind, Origin};
use mcsctp_core::serial::{Fsn, Mid, Ppid, Ssn, StreamId};
use mcsctp_core::user_data::UserDataChunk;

use super::*;

#[allow(clippy::disallowed_methods)] // an arbitrary origin; time is driven
fn t0() -> Instant {
    Instant::now()
}

/// A fragment of group message `mid` on `stream`.
fn frag(stream: u16, mid: u32, fsn: u32, begin: bool, end: bool, body: &[u8]) -> UserDataChunk {
    UserDataChunk {
        stream: StreamId(stream),
        ssn: Ssn(0),
        mid: Mid(mid),
        fsn: Fsn(fsn),
        ppid: Ppid(if begin { 51 } else { 0 }),
        flags: DataFlags::new(begin, end, false),
        payload: Bytes::copy_from_slice(body),
    }
}

fn whole(stream: u16, mid: u32, body: &[u8]) -> UserDataChunk {
    frag(stream, mid, 0, true, true, body)
}

fn drain(r: &mut GroupReceiver) -> Vec<(u16, u32, Vec<u8>)> {
    std::iter::from_fn(|| r.poll_delivery())
        .map(|d| {
            assert_eq!(d.origin, Origin::Extension);
            assert_eq!(d.kind, DeliveryKind::Message);
            (d.stream.0, d.mid.0, d.payload.to_vec())
        })
        .collect()
}

fn started(start: u32) -> GroupReceiver {
    let mut r = GroupReceiver::new(GroupReceiverConfig::default(), Mtsn(start));
    r.set_start(t0(), Mtsn(start));
    r
}

#[test]
fn in_order_chunks_are_delivered_and_acknowledged() {
    let now = t0();
    let s = 1000;
    let mut r = started(s);
    assert_eq!(r.cumulative(), Some(Mtsn(s - 1)));
    for i in 0..10u32 {
        let got = r.on_mdata(now, Mtsn(s + i), whole(0, i, &[i as u8]), Some(Path::Group));
        assert_eq!(got, Received::New);
    }
    let d = drain(&mut r);
    assert_eq!(d.len(), 10);
    assert!(
        d.iter()
            .enumerate()
            .all(|(i, x)| x.1 == i as u32 && x.2 == [i as u8])
    );
    let ack = r.take_ack(16, 16).unwrap();
    assert_eq!(ack.cumulative, Mtsn(s + 9));
    assert_eq!(ack.reported_through, Mtsn(s + 9));
    assert!(ack.gap_blocks.is_empty());
    assert_eq!(r.group_received, 10);
}

#[test]
fn reordering_gaps_and_duplicates() {
    let now = t0();
    let s = 7;
    let mut r = started(s);
    r.on_mdata(now, Mtsn(s + 1), whole(0, 1, b"b"), Some(Path::Group));
    assert!(drain(&mut r).is_empty(), "message 1 waits for message 0");
    assert!(r.has_missing());
    assert_eq!(r.missing(10), vec![Mtsn(s)]);
    let ack = r.take_ack(16, 16).unwrap();
    assert_eq!(ack.cumulative, Mtsn(s - 1));
    assert_eq!(ack.reported_through, Mtsn(s + 1));
    assert_eq!(ack.gap_blocks.len(), 1);
    assert_eq!((ack.gap_blocks[0].start, ack.gap_blocks[0].end), (2, 2));
    // The repair arrives over the association; the group copy later.
    r.on_mdata(now, Mtsn(s), whole(0, 0, b"a"), Some(Path::Association));
    assert_eq!(r.last_unicast, Some(Mtsn(s)));
    assert_eq!(
        r.on_mdata(now, Mtsn(s), whole(0, 0, b"a"), Some(Path::Group)),
        Received::Duplicate
    );
    assert_eq!(
        drain(&mut r),
        vec![(0, 0, b"a".to_vec()), (0, 1, b"b".to_vec())]
    );
    let ack = r.take_ack(16, 16).unwrap();
    assert_eq!(ack.cumulative, Mtsn(s + 1));
    assert_eq!(ack.duplicates, vec![Mtsn(s)]);
    assert!(!r.has_missing());
}

#[test]
fn a_tail_loss_is_reported_through_the_highest_known_mtsn() {
    let now = t0();
    let mut r = started(50);
    r.on_mdata(now, Mtsn(50), whole(0, 0, b"x"), Some(Path::Group));
    // An MSYNC says 53 was sent: 51..=53 are missing, no gap block can
    // say so; Reported Through does.
    r.raise_highest_known(Mtsn(53));
    assert_eq!(r.missing(10), vec![Mtsn(51), Mtsn(52), Mtsn(53)]);
    let ack = r.take_ack(16, 16).unwrap();
    assert_eq!((ack.cumulative, ack.reported_through), (Mtsn(50), Mtsn(53)));
    // A forged Highest MTSN Sent beyond the reach is never used.
    r.raise_highest_known(Mtsn(50 + (1 << 20)));
    assert_eq!(r.take_ack(16, 16).unwrap().reported_through, Mtsn(53));
}

#[test]
fn truncated_gap_reports_never_call_a_held_mtsn_missing() {
    let now = t0();
    let mut r = started(0);
    // Every other MTSN of 1..=20 arrives: 10 gap blocks.
    for i in (1..=20u32).step_by(2) {
        r.on_mdata(now, Mtsn(i), whole(0, i, b"y"), Some(Path::Group));
    }
    let ack = r.take_ack(3, 16).unwrap();
    assert_eq!(ack.gap_blocks.len(), 3);
    let last = ack.gap_blocks[2].end;
    assert_eq!(
        ack.reported_through,
        ack.cumulative.wrapping_add(u32::from(last))
    );
    assert_eq!(
        ack.reported_through,
        Mtsn(5),
        "the report stops at the last block: 7 is held and not called missing"
    );
}

#[test]
fn the_mtsn_space_wraps_under_reordering() {
    let now = t0();
    let s = u32::MAX - 99;
    let mut r = started(s);
    // 300 MTSNs across the wrap, pairwise swapped.
    let mut order: Vec<u32> = (0..300).collect();
    for p in order.chunks_mut(2) {
        p.swap(0, 1);
    }
    for i in order {
        let got = r.on_mdata(
            now,
            Mtsn(s.wrapping_add(i)),
            whole(3, i, &i.to_be_bytes()),
            Some(Path::Group),
        );
        assert_eq!(got, Received::New, "MTSN {}", s.wrapping_add(i));
    }
    let d = drain(&mut r);
    assert_eq!(d.len(), 300);
    assert!(d.iter().enumerate().all(|(i, x)| x.1 == i as u32));
    assert_eq!(r.cumulative(), Some(Mtsn(s.wrapping_add(299))));
}

#[test]
fn the_sliding_base_lives_through_more_than_two_to_the_31_mtsns() {
    // A member lives through 2^31 + 2^20 MTSNs: the server abandons all
    // but one MTSN of every reach-sized span, which moves the base as far
    // as a real run would, in 33 000 steps instead of 2^31.
    let now = t0();
    let s = u32::MAX - 99;
    let cfg = GroupReceiverConfig::default();
    let reach = cfg.reach;
    let mut r = GroupReceiver::new(cfg, Mtsn(s));
    r.set_start(now, Mtsn(s));
    let mut cum = Mtsn(s.wrapping_sub(1));
    let mut travelled: u64 = 0;
    let mut mid = 0u32;
    while travelled < (1 << 31) + (1 << 20) {
        // One message right after the base, then a jump of almost the
        // reach: MTSNs in between abandoned, no message skipped.
        let m = cum.next();
        assert_eq!(
            r.on_mdata(now, m, whole(1, mid, &mid.to_be_bytes()), Some(Path::Group)),
            Received::New
        );
        let got = drain(&mut r);
        assert_eq!(got, vec![(1, mid, mid.to_be_bytes().to_vec())]);
        mid = mid.wrapping_add(1);
        let jump = reach - 1;
        r.apply_forward(now, m.wrapping_add(jump - 1), []);
        cum = m.wrapping_add(jump - 1);
        assert_eq!(r.cumulative(), Some(cum));
        travelled += u64::from(jump);
    }
    // A chunk from before the base (2^31 old) is not taken for new.
    assert_ne!(
        r.on_mdata(now, Mtsn(s), whole(1, 0, b"old"), Some(Path::Group)),
        Received::New
    );
}

#[test]
fn a_late_joiner_skips_messages_begun_before_its_start() {
    let now = t0();
    // The group's MIDs on stream 2 are near 2^32 when the member joins.
    let first = u32::MAX - 1;
    let s = 500;
    let mut r = started(s);
    // Fragments 2 and 3 of a message whose first fragment (MTSN 498) was
    // sent before the start.
    r.on_mdata(
        now,
        Mtsn(s),
        frag(2, first - 1, 2, false, false, b"old"),
        Some(Path::Group),
    );
    r.on_mdata(
        now,
        Mtsn(s + 1),
        frag(2, first - 1, 3, false, true, b"old"),
        Some(Path::Group),
    );
    // The first message begun after the start, in two fragments, then two
    // whole ones whose MIDs wrap.
    r.on_mdata(
        now,
        Mtsn(s + 2),
        frag(2, first, 0, true, false, b"he"),
        Some(Path::Group),
    );
    r.on_mdata(
        now,
        Mtsn(s + 3),
        frag(2, first, 1, false, true, b"llo"),
        Some(Path::Group),
    );
    r.on_mdata(
        now,
        Mtsn(s + 4),
        whole(2, first.wrapping_add(1), b"w1"),
        Some(Path::Group),
    );
    r.on_mdata(
        now,
        Mtsn(s + 5),
        whole(2, first.wrapping_add(2), b"w2"),
        Some(Path::Group),
    );
    assert_eq!(
        drain(&mut r),
        vec![
            (2, first, b"hello".to_vec()),
            (2, u32::MAX, b"w1".to_vec()),
            (2, 0, b"w2".to_vec()),
        ]
    );
    assert_eq!(r.buffered_bytes(), 0, "the orphans are not kept");
    assert_eq!(
        r.cumulative(),
        Some(Mtsn(s + 5)),
        "orphans are acknowledged"
    );
}

#[test]
fn chunks_before_the_start_is_known_wait_for_it() {
    let now = t0();
    let mut r = GroupReceiver::new(GroupReceiverConfig::default(), Mtsn(100));
    assert_eq!(
        r.on_mdata(now, Mtsn(99), whole(0, 0, b"a"), Some(Path::Group)),
        Received::Discarded
    );
    for i in 0..4u32 {
        assert_eq!(
            r.on_mdata(
                now,
                Mtsn(100 + i),
                whole(0, i, &[i as u8]),
                Some(Path::Group)
            ),
            Received::Early
        );
    }
    assert!(r.poll_delivery().is_none());
    assert!(r.take_ack(4, 4).is_none(), "no MSACK before the start");
    // The start is 102: the first two are before it.
    r.set_start(now, Mtsn(102));
    assert_eq!(drain(&mut r), vec![(0, 2, vec![2]), (0, 3, vec![3])]);
    assert_eq!(r.cumulative(), Some(Mtsn(103)));
}

#[test]
fn abandonment_skips_a_message_and_later_ones_flow() {
    let now = t0();
    let mut r = started(10);
    // Message 0 on stream 1 in three fragments; the middle one is lost and
    // abandoned. Message 1 follows.
    r.on_mdata(
        now,
        Mtsn(10),
        frag(1, 0, 0, true, false, b"a"),
        Some(Path::Group),
    );
    r.on_mdata(
        now,
        Mtsn(12),
        frag(1, 0, 2, false, true, b"c"),
        Some(Path::Group),
    );
    r.on_mdata(now, Mtsn(13), whole(1, 1, b"next"), Some(Path::Group));
    assert!(drain(&mut r).is_empty());
    r.apply_forward(now, Mtsn(12), [(StreamId(1), false, Mid(0))]);
    assert_eq!(drain(&mut r), vec![(1, 1, b"next".to_vec())]);
    assert_eq!(r.cumulative(), Some(Mtsn(13)));
    assert_eq!(r.buffered_bytes(), 0);
}

#[test]
fn a_skip_point_can_tell_a_late_joiner_where_a_stream_starts() {
    let now = t0();
    let mut r = started(10);
    // Everything of stream 4 before MID 41 was abandoned; 41 comes next.
    r.apply_forward(now, Mtsn(11), [(StreamId(4), false, Mid(40))]);
    r.on_mdata(now, Mtsn(12), whole(4, 41, b"z"), Some(Path::Group));
    assert_eq!(drain(&mut r), vec![(4, 41, b"z".to_vec())]);
}

#[test]
fn chunks_out_of_reach_are_discarded() {
    let now = t0();
    let cfg = GroupReceiverConfig::default();
    let reach = cfg.reach;
    let mut r = GroupReceiver::new(cfg, Mtsn(0));
    r.set_start(now, Mtsn(0));
    assert_eq!(
        r.on_mdata(now, Mtsn(reach), whole(0, 0, b"far"), Some(Path::Group)),
        Received::Discarded
    );
    assert_eq!(
        r.on_mdata(
            now,
            Mtsn(reach - 1),
            whole(0, 0, b"near"),
            Some(Path::Group)
        ),
        Received::New
    );
}
