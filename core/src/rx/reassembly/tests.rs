use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::chunk::DataFlags;
use crate::rx::{DataTracker, DataTrackerConfig};

/// An arbitrary origin for the virtual clock: only durations matter.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn data(stream: u16, ssn: u16, flags: DataFlags, payload: &[u8]) -> UserDataChunk {
    UserDataChunk {
        stream: StreamId(stream),
        ssn: Ssn(ssn),
        mid: Mid(0),
        fsn: Fsn(0),
        ppid: Ppid(51),
        flags,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn idata(stream: u16, mid: u32, fsn: u32, flags: DataFlags, payload: &[u8]) -> UserDataChunk {
    let b = flags.is_begin();
    UserDataChunk {
        stream: StreamId(stream),
        ssn: Ssn(0),
        mid: Mid(mid),
        fsn: Fsn(if b { 0 } else { fsn }),
        ppid: Ppid(if b { 51 } else { 0 }),
        flags,
        payload: Bytes::copy_from_slice(payload),
    }
}

/// Flags of fragment `i` of `n`.
fn fl(i: usize, n: usize, unordered: bool) -> DataFlags {
    DataFlags::new(i == 0, i + 1 == n, unordered)
}

/// DATA fragments of one message, TSNs from `tsn`.
fn data_msg(
    tsn: u32,
    stream: u16,
    ssn: u16,
    unordered: bool,
    payload: &[u8],
    frag: usize,
) -> Vec<(Tsn, UserDataChunk)> {
    let parts: Vec<&[u8]> = payload.chunks(frag).collect();
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            (
                Tsn(tsn.wrapping_add(i as u32)),
                data(stream, ssn, fl(i, n, unordered), p),
            )
        })
        .collect()
}

/// I-DATA fragments of one message, TSNs from `tsn`.
fn idata_msg(
    tsn: u32,
    stream: u16,
    mid: u32,
    unordered: bool,
    payload: &[u8],
    frag: usize,
) -> Vec<(Tsn, UserDataChunk)> {
    let parts: Vec<&[u8]> = payload.chunks(frag).collect();
    let n = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            (
                Tsn(tsn.wrapping_add(i as u32)),
                idata(stream, mid, i as u32, fl(i, n, unordered), p),
            )
        })
        .collect()
}

/// An `unreceived` count that lets any skip through: for tests about what
/// a skip does, not whether it is plausible.
const UNCHECKED: u64 = u64::MAX;

fn drain(q: &mut ReassemblyQueue) -> Vec<Delivery> {
    std::iter::from_fn(|| q.poll()).collect()
}

fn feed(q: &mut ReassemblyQueue, now: Instant, frags: &[(Tsn, UserDataChunk)]) {
    for (t, c) in frags {
        q.add(now, *t, c.clone());
    }
}

fn cfg() -> ReassemblyConfig {
    ReassemblyConfig::default()
}

fn small(policy: OversizePolicy, max: usize) -> ReassemblyConfig {
    ReassemblyConfig {
        max_message_size: max,
        oversize_policy: policy,
        buffer_limit: 10_000,
        partial_delivery_point: 5_000,
        ..ReassemblyConfig::default()
    }
}

fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let x = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, x.clone());
            out.push(p);
        }
    }
    out
}

fn kinds(ds: &[Delivery]) -> Vec<DeliveryKind> {
    ds.iter().map(|d| d.kind).collect()
}

#[test]
fn single_fragment_message_is_delivered_zero_copy() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let c = data(1, 0, DataFlags::COMPLETE, b"hello");
    let ptr = c.payload.as_ptr();
    q.add(epoch(), Tsn(1), c);
    assert!(q.has_deliverable());
    assert_eq!(q.buffered_bytes(), 5, "counted until polled");
    let d = q.poll().expect("delivered");
    assert_eq!(d.kind, DeliveryKind::Message);
    assert_eq!(d.payload.as_ptr(), ptr, "the fragment's own bytes");
    assert_eq!((d.stream, d.ssn, d.ppid), (StreamId(1), Ssn(0), Ppid(51)));
    assert_eq!(q.buffered_bytes(), 0);
    assert!(!q.has_deliverable());
}

#[test]
fn data_fragments_reassemble_in_every_order() {
    for unordered in [false, true] {
        let frags = data_msg(10, 3, 0, unordered, b"abcdefgh", 2);
        for perm in permutations(&frags) {
            let mut q = ReassemblyQueue::new(cfg(), false);
            feed(&mut q, epoch(), &perm);
            let ds = drain(&mut q);
            assert_eq!(ds.len(), 1, "{perm:?}");
            assert_eq!(ds[0].kind, DeliveryKind::Message);
            assert_eq!(&ds[0].payload[..], b"abcdefgh");
            assert_eq!(ds[0].unordered, unordered);
            assert_eq!(q.buffered_bytes(), 0);
        }
    }
}

#[test]
fn idata_fragments_reassemble_in_every_order() {
    for unordered in [false, true] {
        let frags = idata_msg(10, 3, 0, unordered, b"abcdefgh", 2);
        for perm in permutations(&frags) {
            let mut q = ReassemblyQueue::new(cfg(), true);
            feed(&mut q, epoch(), &perm);
            let ds = drain(&mut q);
            assert_eq!(ds.len(), 1, "{perm:?}");
            assert_eq!(&ds[0].payload[..], b"abcdefgh");
            assert_eq!((ds[0].mid, ds[0].ppid), (Mid(0), Ppid(51)));
            assert_eq!(q.buffered_bytes(), 0);
        }
    }
}

#[test]
fn two_unordered_data_messages_on_one_stream_reassemble_in_every_order() {
    // DATA gives unordered messages no identifier: the receiver must split
    // the TSN run at the B and E flags, whatever the arrival order.
    let mut frags = data_msg(u32::MAX - 1, 1, 0, true, b"AAaaa", 2);
    frags.extend(data_msg(1, 1, 0, true, b"BBbbb", 2));
    for perm in permutations(&frags) {
        let mut q = ReassemblyQueue::new(cfg(), false);
        feed(&mut q, epoch(), &perm);
        let mut got: Vec<Vec<u8>> = drain(&mut q).iter().map(|d| d.payload.to_vec()).collect();
        got.sort();
        assert_eq!(got, vec![b"AAaaa".to_vec(), b"BBbbb".to_vec()], "{perm:?}");
        assert_eq!(q.buffered_bytes(), 0);
    }
}

#[test]
fn ordered_messages_are_delivered_in_ssn_order() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    q.add(now, Tsn(3), data(0, 2, DataFlags::COMPLETE, b"two"));
    q.add(now, Tsn(2), data(0, 1, DataFlags::COMPLETE, b"one"));
    assert!(!q.has_deliverable(), "waiting for SSN 0");
    assert_eq!(q.buffered_bytes(), 6);
    q.add(now, Tsn(1), data(0, 0, DataFlags::COMPLETE, b"zero"));
    let ds = drain(&mut q);
    let ssns: Vec<u16> = ds.iter().map(|d| d.ssn.0).collect();
    assert_eq!(ssns, vec![0, 1, 2]);
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn unordered_message_bypasses_a_blocked_stream() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    q.add(now, Tsn(2), data(0, 1, DataFlags::COMPLETE, b"late"));
    q.add(
        now,
        Tsn(3),
        data(0, 0, DataFlags::new(true, true, true), b"now"),
    );
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1);
    assert!(ds[0].unordered);
    assert_eq!(&ds[0].payload[..], b"now");
}

#[test]
fn streams_never_wait_for_each_other() {
    let mut q = ReassemblyQueue::new(cfg(), true);
    let now = epoch();
    // Stream 1's MID 0 is half there; stream 2 keeps delivering.
    q.add(
        now,
        Tsn(1),
        idata(1, 0, 0, DataFlags::new(true, false, false), b"big.."),
    );
    for mid in 0..3 {
        q.add(
            now,
            Tsn(2 + mid),
            idata(2, mid, 0, DataFlags::COMPLETE, b"small"),
        );
    }
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 3);
    assert!(ds.iter().all(|d| d.stream == StreamId(2)));
}

#[test]
fn interleaved_idata_of_two_streams_reassembles_both() {
    let a = idata_msg(0, 1, 0, false, b"aaaaaaaa", 2);
    let b = idata_msg(0, 2, 0, false, b"bbbbbbbb", 2);
    let mut q = ReassemblyQueue::new(cfg(), true);
    let now = epoch();
    let mut tsn = 100;
    for (x, y) in a.iter().zip(&b) {
        q.add(now, Tsn(tsn), x.1.clone());
        q.add(now, Tsn(tsn + 1), y.1.clone());
        tsn += 2;
    }
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 2);
    assert_eq!(
        (ds[0].stream, &ds[0].payload[..]),
        (StreamId(1), &b"aaaaaaaa"[..])
    );
    assert_eq!(
        (ds[1].stream, &ds[1].payload[..]),
        (StreamId(2), &b"bbbbbbbb"[..])
    );
}

#[test]
fn ssn_wraps_from_65535_to_0() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    // Skip the stream to SSN 65535 (as FORWARD-TSNs would), in steps of
    // less than half the SSN space.
    for (t, ssn) in [(8, 30000), (9, 60000), (10, 65534)] {
        q.handle_forward_tsn(Tsn(t), UNCHECKED, [(StreamId(4), Ssn(ssn))].into_iter())
            .expect("unchecked");
    }
    q.add(now, Tsn(12), data(4, 0, DataFlags::COMPLETE, b"after"));
    assert!(!q.has_deliverable(), "SSN 0 comes after 65535");
    q.add(now, Tsn(11), data(4, 65535, DataFlags::COMPLETE, b"before"));
    let ssns: Vec<u16> = drain(&mut q).iter().map(|d| d.ssn.0).collect();
    assert_eq!(ssns, vec![65535, 0]);
    // SSN 65535 is now behind: a late copy is dropped.
    q.add(now, Tsn(13), data(4, 65535, DataFlags::COMPLETE, b"stale"));
    assert!(!q.has_deliverable());
}

#[test]
fn mid_wraps_from_u32_max_to_0() {
    let mut q = ReassemblyQueue::new(cfg(), true);
    let now = epoch();
    for (t, mid) in [(8, 1 << 30), (9, (3 << 30) - 10), (10, u32::MAX - 1)] {
        q.handle_iforward_tsn(
            Tsn(t),
            UNCHECKED,
            [(StreamId(4), false, Mid(mid))].into_iter(),
        )
        .expect("unchecked");
    }
    q.add(now, Tsn(12), idata(4, 0, 0, DataFlags::COMPLETE, b"after"));
    assert!(!q.has_deliverable());
    q.add(
        now,
        Tsn(11),
        idata(4, u32::MAX, 0, DataFlags::COMPLETE, b"before"),
    );
    let mids: Vec<u32> = drain(&mut q).iter().map(|d| d.mid.0).collect();
    assert_eq!(mids, vec![u32::MAX, 0]);
}

#[test]
fn unordered_mids_are_a_space_of_their_own() {
    let mut q = ReassemblyQueue::new(cfg(), true);
    let now = epoch();
    let ordered = idata_msg(1, 5, 0, false, b"ordered", 4);
    let unordered = idata_msg(3, 5, 0, true, b"unordered", 4);
    q.add(now, ordered[0].0, ordered[0].1.clone());
    feed(&mut q, now, &unordered);
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1);
    assert!(ds[0].unordered && ds[0].mid == Mid(0));
    assert_eq!(&ds[0].payload[..], b"unordered");
    q.add(now, ordered[1].0, ordered[1].1.clone());
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1);
    assert!(!ds[0].unordered && ds[0].mid == Mid(0));
    assert_eq!(&ds[0].payload[..], b"ordered");
}

#[test]
fn refuse_policy_refuses_in_order_and_drops_late_fragments() {
    let mut q = ReassemblyQueue::new(small(OversizePolicy::Refuse, 10), false);
    let now = epoch();
    let big = data_msg(1, 0, 0, false, &[7; 25], 10);
    q.add(now, Tsn(4), data(0, 1, DataFlags::COMPLETE, b"next"));
    q.add(now, big[0].0, big[0].1.clone());
    assert!(!q.has_deliverable(), "10 bytes: not over the limit yet");
    q.add(now, big[1].0, big[1].1.clone());
    let ds = drain(&mut q);
    assert_eq!(
        kinds(&ds),
        vec![
            DeliveryKind::Refused { len_seen: 20 },
            DeliveryKind::Message
        ]
    );
    assert_eq!((ds[0].ssn, ds[0].payload.len()), (Ssn(0), 0));
    assert_eq!(ds[1].ssn, Ssn(1));
    assert_eq!(q.buffered_bytes(), 0, "the refused bytes are freed");
    q.add(now, big[2].0, big[2].1.clone());
    assert!(!q.has_deliverable(), "late fragment dropped");
    assert_eq!(q.buffered_bytes(), 0);

    // A complete oversize message is refused whole.
    let mut q = ReassemblyQueue::new(small(OversizePolicy::Refuse, 10), true);
    q.add(now, Tsn(1), idata(0, 0, 0, DataFlags::COMPLETE, &[1; 11]));
    assert_eq!(
        kinds(&drain(&mut q)),
        vec![DeliveryKind::Refused { len_seen: 11 }]
    );
}

#[test]
fn late_fragments_of_a_refused_unordered_message_are_dropped() {
    for interleaved in [false, true] {
        let mut q = ReassemblyQueue::new(small(OversizePolicy::Refuse, 10), interleaved);
        let now = epoch();
        let big = if interleaved {
            idata_msg(1, 2, 0, true, &[9; 24], 8)
        } else {
            data_msg(1, 2, 0, true, &[9; 24], 8)
        };
        feed(&mut q, now, &big[..2]);
        assert_eq!(
            kinds(&drain(&mut q)),
            vec![DeliveryKind::Refused { len_seen: 16 }]
        );
        assert_eq!(q.sink_count, 1, "a tombstone waits for the rest");
        q.add(now, big[2].0, big[2].1.clone());
        assert!(!q.has_deliverable(), "late E fragment swallowed");
        assert_eq!(q.sink_count, 0, "all fragments seen: tombstone gone");
        assert_eq!(q.buffered_bytes(), 0);
        // The stream goes on.
        let next = if interleaved {
            idata(2, 1, 0, DataFlags::new(true, true, true), b"ok")
        } else {
            data(2, 0, DataFlags::new(true, true, true), b"ok")
        };
        q.add(now, Tsn(4), next);
        assert_eq!(kinds(&drain(&mut q)), vec![DeliveryKind::Message]);
    }
}

#[test]
fn truncate_policy_delivers_the_first_bytes_in_order() {
    let now = epoch();
    let payload: Vec<u8> = (0..25).collect();
    // Whole message present (the first fragment came last): the original
    // length is known.
    let mut q = ReassemblyQueue::new(small(OversizePolicy::Truncate, 10), false);
    let mut frags = data_msg(1, 0, 0, false, &payload, 8);
    frags.reverse();
    feed(&mut q, now, &frags);
    let ds = drain(&mut q);
    assert_eq!(
        kinds(&ds),
        vec![DeliveryKind::Truncated {
            original_len: Some(25)
        }]
    );
    assert_eq!(&ds[0].payload[..], &payload[..10]);

    // Prefix long enough: delivered before the end arrives, the rest dropped.
    let mut q = ReassemblyQueue::new(small(OversizePolicy::Truncate, 10), true);
    let frags = idata_msg(1, 0, 0, false, &payload, 8);
    feed(&mut q, now, &frags[..2]);
    let ds = drain(&mut q);
    assert_eq!(
        kinds(&ds),
        vec![DeliveryKind::Truncated { original_len: None }]
    );
    assert_eq!(&ds[0].payload[..], &payload[..10]);
    assert_eq!(q.buffered_bytes(), 0);
    feed(&mut q, now, &frags[2..]);
    assert!(!q.has_deliverable());
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn pieces_policy_splits_an_oversize_message_with_end_of_record_on_the_last() {
    let now = epoch();
    let payload: Vec<u8> = (0..25).collect();
    for frag in [25, 4] {
        let mut q = ReassemblyQueue::new(small(OversizePolicy::Pieces, 10), false);
        feed(&mut q, now, &data_msg(1, 0, 0, false, &payload, frag));
        let ds = drain(&mut q);
        let lens: Vec<usize> = ds.iter().map(|d| d.payload.len()).collect();
        assert!(lens.iter().all(|&l| l <= 10), "{lens:?}");
        let all: Vec<u8> = ds.iter().flat_map(|d| d.payload.to_vec()).collect();
        assert_eq!(all, payload);
        let n = ds.len();
        for (i, d) in ds.iter().enumerate() {
            assert_eq!(
                d.kind,
                DeliveryKind::Piece {
                    first: i == 0,
                    end_of_record: i + 1 == n
                }
            );
        }
    }
}

#[test]
fn partial_delivery_lets_a_message_bigger_than_the_buffer_complete() {
    let cfg = ReassemblyConfig {
        max_message_size: 1 << 20,
        buffer_limit: 1000,
        partial_delivery_point: 500,
        ..ReassemblyConfig::default()
    };
    assert_eq!(cfg.validate(), Ok(()));
    let mut q = ReassemblyQueue::new(cfg, true);
    let now = epoch();
    let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let frags = idata_msg(1, 0, 0, false, &payload, 100);
    let mut got = Vec::new();
    let mut first_at = None;
    for (i, (t, c)) in frags.iter().enumerate() {
        // The association only accepts what fits the window.
        assert!(q.buffered_bytes() + 100 <= 1000);
        q.add(now, *t, c.clone());
        for d in drain(&mut q) {
            if matches!(d.kind, DeliveryKind::Piece { first: true, .. }) {
                first_at = Some(i);
            }
            got.push(d);
        }
    }
    assert_eq!(
        first_at,
        Some(4),
        "starts when 500 contiguous bytes are held"
    );
    assert_eq!(
        got.last().map(|d| d.kind),
        Some(DeliveryKind::Piece {
            first: false,
            end_of_record: true
        })
    );
    let all: Vec<u8> = got.iter().flat_map(|d| d.payload.to_vec()).collect();
    assert_eq!(all, payload);
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn a_full_buffer_of_incomplete_messages_starts_partial_delivery() {
    // Three streams each hold 300 bytes of an unfinished message: no single
    // one reaches the partial delivery point, but together they close the
    // window. The one with the longest prefix goes out in pieces.
    let cfg = ReassemblyConfig {
        max_message_size: 1 << 20,
        buffer_limit: 1000,
        partial_delivery_point: 1000,
        ..ReassemblyConfig::default()
    };
    let mut q = ReassemblyQueue::new(cfg, true);
    let now = epoch();
    let mut tsn = 1;
    for (stream, n) in [(1u16, 2usize), (2, 3), (3, 3)] {
        let frags = idata_msg(0, stream, 0, false, &[stream as u8; 1000], 100);
        for (_, c) in &frags[..n] {
            q.add(now, Tsn(tsn), c.clone());
            tsn += 1;
        }
    }
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(
        ds[0].stream,
        StreamId(2),
        "longest prefix, lowest key on a tie"
    );
    assert_eq!(
        ds[0].kind,
        DeliveryKind::Piece {
            first: true,
            end_of_record: false
        }
    );
    assert_eq!(ds[0].payload.len(), 300);
    assert_eq!(q.buffered_bytes(), 500);
    assert!(!q.has_deliverable(), "pressure relieved");
}

#[test]
fn pieces_of_two_messages_of_one_stream_never_interleave() {
    let cfg = ReassemblyConfig {
        max_message_size: 1 << 20,
        buffer_limit: 1 << 20,
        partial_delivery_point: 200,
        ..ReassemblyConfig::default()
    };
    let mut q = ReassemblyQueue::new(cfg, true);
    let now = epoch();
    let a = idata_msg(0, 1, 0, true, &[b'a'; 600], 100);
    let b = idata_msg(0, 1, 1, true, &[b'b'; 600], 100);
    let mut tsn = 1;
    for (x, y) in a.iter().zip(&b) {
        q.add(now, Tsn(tsn), x.1.clone());
        q.add(now, Tsn(tsn + 1), y.1.clone());
        tsn += 2;
    }
    let ds = drain(&mut q);
    let mut open: Option<Mid> = None;
    let mut done = Vec::new();
    for d in &ds {
        match d.kind {
            DeliveryKind::Piece {
                first,
                end_of_record,
            } => {
                if first {
                    assert_eq!(open, None, "a record was still open");
                    open = Some(d.mid);
                }
                assert_eq!(open, Some(d.mid), "pieces interleaved: {ds:?}");
                if end_of_record {
                    done.push(d.mid);
                    open = None;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(done, vec![Mid(0), Mid(1)]);
}

#[test]
fn consecutive_messages_are_never_glued() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    feed(&mut q, now, &data_msg(1, 0, 0, false, b"first", 2));
    feed(&mut q, now, &data_msg(4, 0, 1, false, b"second", 2));
    let ds = drain(&mut q);
    let got: Vec<(&[u8], u16)> = ds.iter().map(|d| (&d.payload[..], d.ssn.0)).collect();
    assert_eq!(got, vec![(&b"first"[..], 0), (&b"second"[..], 1)]);
}

#[test]
fn abort_all_aborts_incomplete_and_keeps_complete_messages() {
    let cfg = ReassemblyConfig {
        partial_delivery_point: 4,
        ..ReassemblyConfig::default()
    };
    let mut q = ReassemblyQueue::new(cfg, true);
    let now = epoch();
    // Stream 1: MID 0 in pieces (open record).
    let p = idata_msg(1, 1, 0, false, b"abcdefgh", 4);
    q.add(now, p[0].0, p[0].1.clone());
    assert_eq!(drain(&mut q).len(), 1, "first piece out");
    // Stream 2: MID 0 incomplete, MID 1 complete and waiting.
    q.add(
        now,
        Tsn(10),
        idata(2, 0, 0, DataFlags::new(true, false, false), b"x"),
    );
    q.add(now, Tsn(11), idata(2, 1, 0, DataFlags::COMPLETE, b"whole"));
    // Stream 3: an unordered message missing its end.
    q.add(
        now,
        Tsn(12),
        idata(3, 0, 0, DataFlags::new(true, false, true), b"y"),
    );
    assert!(!q.has_deliverable());

    q.abort_all();
    let ds = drain(&mut q);
    let ended = |delivered| DeliveryKind::Aborted {
        delivered,
        reason: AbortReason::AssociationEnded,
    };
    let got: Vec<(u16, u32, DeliveryKind)> =
        ds.iter().map(|d| (d.stream.0, d.mid.0, d.kind)).collect();
    assert_eq!(
        got,
        vec![
            (1, 0, ended(4)),
            (3, 0, ended(0)),
            (2, 0, ended(0)),
            (2, 1, DeliveryKind::Message),
        ]
    );
    assert_eq!(&ds[3].payload[..], b"whole");
    assert_eq!(q.buffered_bytes(), 0);
    assert_eq!(q.deadline(), None);
}

#[test]
fn incomplete_message_times_out_as_aborted() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let t0 = epoch();
    let m = data_msg(1, 0, 0, false, b"abcdef", 2);
    q.add(t0, m[0].0, m[0].1.clone());
    q.add(t0, Tsn(4), data(0, 1, DataFlags::COMPLETE, b"next"));
    assert_eq!(q.deadline(), Some(t0 + Duration::from_secs(30)));
    q.handle_timeout(t0 + Duration::from_secs(29));
    assert!(!q.has_deliverable(), "early call is harmless");
    q.handle_timeout(t0 + Duration::from_secs(30));
    let ds = drain(&mut q);
    assert_eq!(
        kinds(&ds),
        vec![
            DeliveryKind::Aborted {
                delivered: 0,
                reason: AbortReason::Timeout
            },
            DeliveryKind::Message
        ]
    );
    assert_eq!((ds[0].ssn, ds[1].ssn), (Ssn(0), Ssn(1)));
    assert_eq!(q.deadline(), None);
    q.add(t0, m[1].0, m[1].1.clone());
    assert!(!q.has_deliverable(), "late fragment dropped");
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn a_slow_message_does_not_time_out_while_fragments_keep_coming() {
    let mut q = ReassemblyQueue::new(cfg(), true);
    let t0 = epoch();
    let m = idata_msg(1, 0, 0, false, b"abcdef", 2);
    q.add(t0, m[0].0, m[0].1.clone());
    q.add(t0 + Duration::from_secs(20), m[1].0, m[1].1.clone());
    // 30 s after the first fragment, 10 s after the last: not stalled.
    q.handle_timeout(t0 + Duration::from_secs(30));
    assert!(!q.has_deliverable());
    assert_eq!(q.deadline(), Some(t0 + Duration::from_secs(50)));
    q.handle_timeout(t0 + Duration::from_secs(50));
    assert!(matches!(
        drain(&mut q)[..],
        [Delivery {
            kind: DeliveryKind::Aborted {
                reason: AbortReason::Timeout,
                ..
            },
            ..
        }]
    ));
}

#[test]
fn the_timeout_waits_while_the_reader_keeps_the_window_closed() {
    // Found by interleaving_and_pr.rs: a receiver that stopped reading for
    // 30 s lost the message whose rest its own closed window kept out.
    let config = ReassemblyConfig {
        buffer_limit: 100,
        partial_delivery_point: 100,
        max_message_size: 100,
        ..ReassemblyConfig::default()
    };
    let mut q = ReassemblyQueue::new(config, false);
    let t0 = epoch();
    q.add(t0, Tsn(1), data(0, 0, DataFlags::COMPLETE, &[0; 90]));
    let m = data_msg(2, 0, 1, false, &[1; 10], 5);
    q.add(t0, m[0].0, m[0].1.clone());
    // 90 unread bytes and 5 held: no 90-byte fragment fits.
    q.handle_timeout(t0 + Duration::from_secs(30));
    let ds = drain(&mut q);
    assert_eq!(ds[0].kind, DeliveryKind::Message);
    assert!(
        !ds.iter()
            .any(|d| matches!(d.kind, DeliveryKind::Aborted { .. })),
        "{ds:?}"
    );
    // The window is open again: a full timeout later the message is
    // released if nothing came.
    q.handle_timeout(t0 + Duration::from_secs(59));
    assert!(!q.has_deliverable());
    q.handle_timeout(t0 + Duration::from_secs(60));
    assert!(matches!(
        drain(&mut q)[..],
        [Delivery {
            kind: DeliveryKind::Aborted {
                reason: AbortReason::Timeout,
                ..
            },
            ..
        }]
    ));
}

#[test]
fn the_timeout_runs_while_incomplete_messages_keep_the_window_closed() {
    // Found by the hostile-wire clean phase (core/tests/hostile_wire.rs):
    // incomplete messages that fill the buffer themselves keep out the
    // fragments they wait for. Taking that for a reader that stopped
    // reading re-armed their timers for ever: the association stayed up,
    // advertised a zero window and delivered nothing again.
    // Whole messages only (Pieces would deliver a prefix to free room).
    let config = ReassemblyConfig {
        buffer_limit: 100,
        partial_delivery_point: 100,
        max_message_size: 100,
        oversize_policy: OversizePolicy::Refuse,
        ..ReassemblyConfig::default()
    };
    let mut q = ReassemblyQueue::new(config, true);
    let t0 = epoch();
    let first = DataFlags::new(true, false, false);
    q.add(t0, Tsn(1), idata(0, 0, 0, first, &[0; 50]));
    q.add(t0, Tsn(2), idata(1, 0, 0, first, &[1; 45]));
    // 95 bytes held, nothing to read, and no 50-byte fragment fits.
    assert_eq!(q.buffered_bytes(), 95);
    assert!(!q.has_deliverable());
    // One at a time, the one stalled longest first: the room its release
    // opens may be what the other waits for.
    let aborted = DeliveryKind::Aborted {
        delivered: 0,
        reason: AbortReason::Timeout,
    };
    q.handle_timeout(t0 + Duration::from_secs(30));
    let ds = drain(&mut q);
    assert_eq!(kinds(&ds), vec![aborted]);
    assert_eq!(ds[0].stream, StreamId(0));
    assert_eq!(q.buffered_bytes(), 45, "the window is open again");
    // Nothing came in the room either: the other one goes too.
    q.handle_timeout(t0 + Duration::from_secs(60));
    let ds = drain(&mut q);
    assert_eq!(kinds(&ds), vec![aborted]);
    assert_eq!(ds[0].stream, StreamId(1));
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn only_messages_at_their_turn_time_out() {
    let mut q = ReassemblyQueue::new(cfg(), true);
    let t0 = epoch();
    // MID 1 is incomplete but waits for MID 0, of which nothing arrived.
    q.add(
        t0,
        Tsn(5),
        idata(0, 1, 0, DataFlags::new(true, false, false), b"x"),
    );
    assert_eq!(q.deadline(), None);
    q.add(
        t0 + Duration::from_secs(40),
        Tsn(1),
        idata(0, 0, 0, DataFlags::COMPLETE, b"0"),
    );
    // MID 1 is at its turn now, and older than the timeout.
    assert_eq!(q.deadline(), Some(t0 + Duration::from_secs(30)));
    q.handle_timeout(t0 + Duration::from_secs(40));
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 2);
    assert!(matches!(
        ds[1].kind,
        DeliveryKind::Aborted {
            reason: AbortReason::Timeout,
            ..
        }
    ));
}

#[test]
fn forward_tsn_abandons_a_partially_delivered_message() {
    let cfg = ReassemblyConfig {
        partial_delivery_point: 4,
        ..ReassemblyConfig::default()
    };
    let mut q = ReassemblyQueue::new(cfg, false);
    let now = epoch();
    let m = data_msg(1, 0, 0, false, b"abcdefgh", 2);
    feed(&mut q, now, &m[..2]);
    let ds = drain(&mut q);
    assert_eq!(
        kinds(&ds),
        vec![DeliveryKind::Piece {
            first: true,
            end_of_record: false
        }]
    );
    q.add(now, Tsn(6), data(0, 1, DataFlags::COMPLETE, b"next"));
    q.handle_forward_tsn(Tsn(4), 2, [(StreamId(0), Ssn(0))].into_iter())
        .expect("SSN 0 is held");
    let ds = drain(&mut q);
    assert_eq!(
        kinds(&ds),
        vec![
            DeliveryKind::Aborted {
                delivered: 4,
                reason: AbortReason::Abandoned
            },
            DeliveryKind::Message
        ]
    );
    assert_eq!(ds[1].ssn, Ssn(1));
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn forward_tsn_delivers_complete_messages_behind_skipped_ssns() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    // SSN 0 (TSN 1) and SSN 2 (TSN 3) abandoned; SSN 1 and 3 arrived.
    q.add(now, Tsn(2), data(0, 1, DataFlags::COMPLETE, b"one"));
    q.add(now, Tsn(4), data(0, 3, DataFlags::COMPLETE, b"three"));
    assert!(!q.has_deliverable());
    // TSNs 1 and 3 never arrived: they account for SSNs 0 and 2.
    q.handle_forward_tsn(Tsn(3), 2, [(StreamId(0), Ssn(2))].into_iter())
        .expect("plausible");
    let ssns: Vec<u16> = drain(&mut q).iter().map(|d| d.ssn.0).collect();
    assert_eq!(ssns, vec![1, 3]);
    q.add(now, Tsn(5), data(0, 4, DataFlags::COMPLETE, b"four"));
    assert_eq!(drain(&mut q).len(), 1);
}

#[test]
fn a_skip_target_the_stream_has_passed_skips_nothing_more() {
    // Found by interleaving_and_pr.rs (PR-SCTP over a lossy link): SSN 0
    // lost, SSN 1 arrived, SSN 2 arrived although its sender abandoned it
    // (the SACK was lost), SSN 3 half there. The FORWARD-TSN (up to SSN 2)
    // leaves a skip target of 3; the stream reaches it by delivering, then
    // passes it. The spent target must not make SSN 4 and later look
    // skipped.
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    q.add(now, Tsn(11), data(0, 1, DataFlags::COMPLETE, b"one"));
    q.add(now, Tsn(12), data(0, 2, DataFlags::COMPLETE, b"two"));
    let m3 = data_msg(13, 0, 3, false, b"three", 3);
    feed(&mut q, now, &m3[..1]);
    // SSN 0's TSN (10) never arrived.
    q.handle_forward_tsn(Tsn(12), 1, [(StreamId(0), Ssn(2))].into_iter())
        .expect("plausible");
    let ssns: Vec<u16> = drain(&mut q).iter().map(|d| d.ssn.0).collect();
    assert_eq!(ssns, vec![1, 2]);
    // SSN 4 is half there when SSN 3 completes: the stream stops at 4,
    // past the target.
    let m4 = data_msg(15, 0, 4, false, b"four", 2);
    feed(&mut q, now, &m4[..1]);
    feed(&mut q, now, &m3[1..]);
    q.add(now, Tsn(17), data(0, 5, DataFlags::COMPLETE, b"five"));
    feed(&mut q, now, &m4[1..]);
    let ssns: Vec<u16> = drain(&mut q).iter().map(|d| d.ssn.0).collect();
    assert_eq!(ssns, vec![3, 4, 5]);
    // A later FORWARD-TSN is not shadowed by the spent target either.
    q.add(now, Tsn(19), data(0, 7, DataFlags::COMPLETE, b"seven"));
    // SSN 6's TSN (18) never arrived.
    q.handle_forward_tsn(Tsn(18), 1, [(StreamId(0), Ssn(6))].into_iter())
        .expect("plausible");
    let ssns: Vec<u16> = drain(&mut q).iter().map(|d| d.ssn.0).collect();
    assert_eq!(ssns, vec![7]);
}

#[test]
fn forward_tsn_keeps_reliable_messages_above_the_abandoned_ones() {
    // TSN 1 abandoned; TSNs 2-3 are the first half of a reliable unordered
    // message that is still coming: the sender may move its ack point to 3.
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    let m = data_msg(2, 0, 0, true, b"abcd", 1);
    feed(&mut q, now, &m[..2]);
    q.handle_forward_tsn(Tsn(3), 1, std::iter::empty())
        .expect("no skips");
    feed(&mut q, now, &m[2..]);
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1);
    assert_eq!(&ds[0].payload[..], b"abcd");
}

#[test]
fn forward_tsn_drops_fragments_whose_first_fragment_was_abandoned() {
    let mut q = ReassemblyQueue::new(cfg(), false);
    let now = epoch();
    let m = data_msg(2, 0, 0, true, b"abc", 1);
    q.add(now, m[1].0, m[1].1.clone());
    assert_eq!(q.buffered_bytes(), 1);
    q.handle_forward_tsn(Tsn(2), 2, std::iter::empty())
        .expect("no skips");
    assert_eq!(q.buffered_bytes(), 0);
    assert_eq!(q.deadline(), None);
    assert!(!q.has_deliverable());
}

#[test]
fn iforward_tsn_skips_ordered_and_unordered_mids() {
    let mut q = ReassemblyQueue::new(cfg(), true);
    let now = epoch();
    q.add(
        now,
        Tsn(1),
        idata(0, 0, 0, DataFlags::new(true, false, false), b"a"),
    );
    q.add(now, Tsn(3), idata(0, 1, 0, DataFlags::COMPLETE, b"one"));
    q.add(
        now,
        Tsn(4),
        idata(0, 5, 0, DataFlags::new(true, false, true), b"u"),
    );
    assert!(!q.has_deliverable());
    q.handle_iforward_tsn(
        Tsn(4),
        1,
        [(StreamId(0), false, Mid(0)), (StreamId(0), true, Mid(5))].into_iter(),
    )
    .expect("MID 0 is held");
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1);
    assert_eq!((ds[0].mid, &ds[0].payload[..]), (Mid(1), &b"one"[..]));
    assert_eq!(q.buffered_bytes(), 0);
    q.add(
        now,
        Tsn(5),
        idata(0, 5, 1, DataFlags::new(false, true, true), b"late"),
    );
    assert!(
        !q.has_deliverable(),
        "late fragment of the abandoned MID swallowed"
    );
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn tombstones_are_bounded() {
    let cfg = ReassemblyConfig {
        max_tombstones: 2,
        ..small(OversizePolicy::Refuse, 4)
    };
    let mut q = ReassemblyQueue::new(cfg, true);
    let now = epoch();
    for mid in 0..10 {
        q.add(
            now,
            Tsn(mid),
            idata(0, mid, 0, DataFlags::new(true, false, true), b"12345"),
        );
    }
    assert_eq!(drain(&mut q).len(), 10);
    assert_eq!(q.sink_count, 2);
    assert!(q.msgs.len() <= 2);
}

#[test]
fn empty_and_conflicting_fragments_are_dropped() {
    let mut q = ReassemblyQueue::new(cfg(), true);
    let now = epoch();
    q.add(now, Tsn(1), idata(0, 0, 0, DataFlags::COMPLETE, b""));
    assert!(!q.has_deliverable());
    // A non-first fragment claiming FSN 0 (the first fragment's number).
    q.add(
        now,
        Tsn(2),
        idata(0, 0, 0, DataFlags::new(false, true, false), b"x"),
    );
    assert_eq!(q.buffered_bytes(), 0);
    // Two different end fragments: the second is ignored.
    q.add(
        now,
        Tsn(3),
        idata(0, 0, 2, DataFlags::new(false, true, false), b"c"),
    );
    q.add(
        now,
        Tsn(4),
        idata(0, 0, 3, DataFlags::new(false, true, false), b"d"),
    );
    q.add(
        now,
        Tsn(5),
        idata(0, 0, 1, DataFlags::new(false, false, false), b"b"),
    );
    q.add(
        now,
        Tsn(6),
        idata(0, 0, 0, DataFlags::new(true, false, false), b"a"),
    );
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1);
    assert_eq!(&ds[0].payload[..], b"abc");
}

#[test]
fn config_validation() {
    assert_eq!(ReassemblyConfig::default().validate(), Ok(()));
    let refuse = ReassemblyConfig {
        oversize_policy: OversizePolicy::Refuse,
        buffer_limit: 1000,
        max_message_size: 1001,
        ..ReassemblyConfig::default()
    };
    assert_eq!(
        refuse.validate(),
        Err(ReassemblyConfigError::BufferBelowMaxMessageSize {
            buffer_limit: 1000,
            max_message_size: 1001
        })
    );
    let pieces = ReassemblyConfig {
        partial_delivery_point: 0,
        ..ReassemblyConfig::default()
    };
    assert!(pieces.validate().is_err());
    let zero = ReassemblyConfig {
        max_message_size: 0,
        ..ReassemblyConfig::default()
    };
    assert_eq!(
        zero.validate(),
        Err(ReassemblyConfigError::ZeroMaxMessageSize)
    );
}

// ----- property test: tracker + reassembly under any arrival order ---------

/// One test message: where it goes and what it holds.
#[derive(Debug, Clone)]
struct Sent {
    stream: u16,
    unordered: bool,
    payload: Vec<u8>,
}

/// Fragments every message (TSNs consecutive per message, from
/// `initial_tsn`), numbering SSNs / MIDs per stream as a sender does.
fn build(
    msgs: &[(u16, bool, usize)],
    frag: usize,
    interleaved: bool,
    initial_tsn: u32,
) -> (Vec<Sent>, Vec<(Tsn, UserDataChunk)>) {
    let mut counters: HashMap<(u16, bool), u32> = HashMap::new();
    let mut sent = Vec::new();
    let mut chunks = Vec::new();
    let mut tsn = initial_tsn;
    for (i, &(stream, unordered, len)) in msgs.iter().enumerate() {
        let payload: Vec<u8> = (0..len)
            .map(|j| {
                (i as u8)
                    .wrapping_mul(37)
                    .wrapping_add((j as u8).wrapping_mul(11))
            })
            .collect();
        let c = counters.entry((stream, unordered)).or_default();
        let num = *c;
        *c += 1;
        let frags = if interleaved {
            idata_msg(tsn, stream, num, unordered, &payload, frag)
        } else {
            let ssn = if unordered { 0 } else { num as u16 };
            data_msg(tsn, stream, ssn, unordered, &payload, frag)
        };
        tsn = tsn.wrapping_add(frags.len() as u32);
        chunks.extend(frags);
        sent.push(Sent {
            stream,
            unordered,
            payload,
        });
    }
    (sent, chunks)
}

/// Shuffles by the given keys and inserts duplicates.
fn scramble<T: Clone>(items: &[T], keys: &[u32], dups: &[u16]) -> Vec<T> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by_key(|&i| keys.get(i).copied().unwrap_or(i as u32));
    let mut out: Vec<T> = idx.into_iter().map(|i| items[i].clone()).collect();
    for &d in dups {
        let d = usize::from(d);
        let item = items[d % items.len()].clone();
        let at = (d / items.len()) % (out.len() + 1);
        out.insert(at, item);
    }
    out
}

/// Runs the chunks through a tracker and a queue; returns the deliveries.
fn run(
    cfg: ReassemblyConfig,
    interleaved: bool,
    initial_tsn: u32,
    arrivals: &[(Tsn, UserDataChunk)],
    n_chunks: usize,
) -> Vec<Delivery> {
    let mut tracker = DataTracker::new(Tsn(initial_tsn), DataTrackerConfig::default());
    let mut q = ReassemblyQueue::new(cfg, interleaved);
    let now = epoch();
    let mut out = Vec::new();
    for (tsn, c) in arrivals {
        if tracker.is_tsn_acceptable(*tsn) && tracker.observe(*tsn, false) {
            q.add(now, *tsn, c.clone());
        }
        out.extend(drain(&mut q));
    }
    assert_eq!(
        tracker.cumulative_tsn_ack(),
        Tsn(initial_tsn.wrapping_add(n_chunks as u32).wrapping_sub(1))
    );
    assert!(!tracker.has_gaps());
    assert_eq!(q.buffered_bytes(), 0, "nothing left behind");
    out
}

/// Checks exactly-once, byte-identical, per-stream-ordered delivery of
/// `sent`, given records reassembled from the deliveries.
fn check_records(sent: &[Sent], records: &[(u16, bool, Vec<u8>)]) {
    assert_eq!(records.len(), sent.len(), "one record per message");
    let mut want: Vec<(u16, bool, Vec<u8>)> = sent
        .iter()
        .map(|s| (s.stream, s.unordered, s.payload.clone()))
        .collect();
    let mut got = records.to_vec();
    want.sort();
    got.sort();
    assert_eq!(got, want, "every message exactly once, byte-identical");
    // Ordered messages come out in sending order per stream.
    let mut streams: Vec<u16> = sent.iter().map(|s| s.stream).collect();
    streams.sort_unstable();
    streams.dedup();
    for s in streams {
        let sent_order: Vec<&Vec<u8>> = sent
            .iter()
            .filter(|m| m.stream == s && !m.unordered)
            .map(|m| &m.payload)
            .collect();
        let got_order: Vec<&Vec<u8>> = records
            .iter()
            .filter(|r| r.0 == s && !r.1)
            .map(|r| &r.2)
            .collect();
        assert_eq!(got_order, sent_order, "stream {s} out of order");
    }
}

fn message_strategy() -> impl Strategy<Value = Vec<(u16, bool, usize)>> {
    prop::collection::vec((0u16..3, any::<bool>(), 1usize..700), 1..14)
}

proptest! {
    #[test]
    fn every_message_is_delivered_exactly_once_whole_and_in_order(
        interleaved in any::<bool>(),
        msgs in message_strategy(),
        frag in 1usize..260,
        keys in prop::collection::vec(any::<u32>(), 0..400),
        dups in prop::collection::vec(any::<u16>(), 0..30),
        initial_tsn in prop_oneof![Just(u32::MAX - 20), any::<u32>()],
    ) {
        let (sent, chunks) = build(&msgs, frag, interleaved, initial_tsn);
        let arrivals = scramble(&chunks, &keys, &dups);
        let ds = run(cfg(), interleaved, initial_tsn, &arrivals, chunks.len());
        for d in &ds {
            prop_assert_eq!(d.kind, DeliveryKind::Message);
        }
        let records: Vec<(u16, bool, Vec<u8>)> =
            ds.iter().map(|d| (d.stream.0, d.unordered, d.payload.to_vec())).collect();
        check_records(&sent, &records);
    }

    #[test]
    fn pieces_reassemble_to_every_message_exactly_once(
        interleaved in any::<bool>(),
        msgs in message_strategy(),
        frag in 1usize..260,
        keys in prop::collection::vec(any::<u32>(), 0..400),
        dups in prop::collection::vec(any::<u16>(), 0..30),
        max in 50usize..400,
        pd in 50usize..400,
    ) {
        let cfg = ReassemblyConfig {
            max_message_size: max,
            partial_delivery_point: pd,
            ..ReassemblyConfig::default()
        };
        let initial_tsn = 1000;
        let (sent, chunks) = build(&msgs, frag, interleaved, initial_tsn);
        let arrivals = scramble(&chunks, &keys, &dups);
        let ds = run(cfg, interleaved, initial_tsn, &arrivals, chunks.len());
        // Rebuild records; at most one open record per stream.
        let mut open: HashMap<u16, (bool, Vec<u8>)> = HashMap::new();
        let mut records = Vec::new();
        for d in &ds {
            prop_assert!(d.payload.len() <= max);
            match d.kind {
                DeliveryKind::Message => {
                    records.push((d.stream.0, d.unordered, d.payload.to_vec()));
                }
                DeliveryKind::Piece { first, end_of_record } => {
                    let s = d.stream.0;
                    if first {
                        prop_assert!(!open.contains_key(&s), "pieces of two messages interleave");
                        open.insert(s, (d.unordered, Vec::new()));
                    }
                    let Some(rec) = open.get_mut(&s) else {
                        return Err(TestCaseError::fail("piece without a first piece"));
                    };
                    prop_assert_eq!(rec.0, d.unordered);
                    rec.1.extend_from_slice(&d.payload);
                    if end_of_record && let Some((u, bytes)) = open.remove(&s) {
                        records.push((s, u, bytes));
                    }
                }
                other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
            }
        }
        prop_assert!(open.is_empty(), "a record was left open");
        check_records(&sent, &records);
    }
}

// ----- command-sequence fuzzing: hostile input, internal invariants ---------

/// Whole messages only, I-DATA: a 100-byte buffer, messages up to 60.
fn whole_idata(policy: OversizePolicy) -> ReassemblyQueue {
    let config = ReassemblyConfig {
        buffer_limit: 100,
        partial_delivery_point: 100,
        max_message_size: 60,
        oversize_policy: policy,
        incomplete_message_timeout: Some(Duration::from_secs(10)),
        ..ReassemblyConfig::default()
    };
    ReassemblyQueue::new(config, true)
}

#[test]
fn the_completion_reserve_lets_interleaved_whole_messages_complete() {
    let mut q = whole_idata(OversizePolicy::Refuse);
    let now = epoch();
    assert_eq!(
        q.completion_reserve(),
        0,
        "nothing held, nothing to complete"
    );
    let first = DataFlags::new(true, false, false);
    let last = DataFlags::new(false, true, false);
    // The sender interleaves three 50-byte messages, 30 + 20 bytes each.
    for (t, s) in [(1, 0), (2, 1), (3, 2)] {
        q.add(now, Tsn(t), idata(s, 0, 0, first, &[s as u8; 30]));
    }
    // 90 bytes held; the 20 bytes that complete stream 0's message do not
    // fit the buffer, and nothing can be delivered to make room.
    assert_eq!(q.buffered_bytes(), 90);
    assert_eq!(
        q.completion_reserve(),
        60,
        "buffer + max_message_size - held"
    );
    q.add(now, Tsn(4), idata(0, 0, 1, last, &[0; 20]));
    assert_eq!(q.buffered_bytes(), 110, "beyond the buffer, in the reserve");
    assert_eq!(
        q.completion_reserve(),
        0,
        "the reader has something to read"
    );
    let ds = drain(&mut q);
    assert_eq!((ds.len(), ds[0].payload.len()), (1, 50));
    assert_eq!(q.completion_reserve(), 60);
    q.add(now, Tsn(5), idata(1, 0, 1, last, &[1; 20]));
    q.add(now, Tsn(6), idata(2, 0, 1, last, &[2; 20]));
    let ds = drain(&mut q);
    assert_eq!(kinds(&ds), vec![DeliveryKind::Message; 2]);
    assert_eq!(q.buffered_bytes(), 0);
    // Only whole-message I-DATA needs it.
    let mut pieces = whole_idata(OversizePolicy::Pieces);
    pieces.add(now, Tsn(1), idata(0, 0, 0, first, &[0; 30]));
    assert_eq!(pieces.completion_reserve(), 0);
    let mut data = ReassemblyQueue::new(whole_idata(OversizePolicy::Refuse).cfg, false);
    data.add(
        now,
        Tsn(1),
        data_msg(1, 0, 0, false, &[0; 50], 30)[0].1.clone(),
    );
    assert_eq!(data.completion_reserve(), 0);
}

#[test]
fn late_fragments_of_a_released_unordered_message_are_known_by_their_tsn() {
    // Tombstones are gone at once, as after their expiry.
    let config = ReassemblyConfig {
        max_tombstones: 0,
        ..small(OversizePolicy::Refuse, 30)
    };
    for interleaved in [true, false] {
        let msg = |t| {
            if interleaved {
                idata_msg(t, 0, 7, true, &[1; 60], 20)
            } else {
                data_msg(t, 0, 0, true, &[1; 60], 20)
            }
        };
        let now = epoch();
        // Told the cumulative TSN: the third fragment's first one arrived
        // (TSN 1), and no message holds it: it was released.
        let mut q = ReassemblyQueue::new(config.clone(), interleaved);
        let m = msg(1);
        q.set_cumulative_tsn(Tsn(2));
        feed(&mut q, now, &m[..2]);
        assert!(matches!(
            drain(&mut q)[..],
            [Delivery {
                kind: DeliveryKind::Refused { len_seen: 40 },
                ..
            }]
        ));
        q.set_cumulative_tsn(Tsn(3));
        assert_eq!(q.room_needed(m[2].0, &m[2].1), 0, "{interleaved}");
        feed(&mut q, now, &m[2..]);
        assert_eq!(q.buffered_bytes(), 0, "{interleaved}");
        assert_eq!(q.deadline(), None, "{interleaved}");
        // Not told: the fragment waits for a first fragment that never
        // comes, holding buffer until it times out.
        let mut q = ReassemblyQueue::new(config.clone(), interleaved);
        feed(&mut q, now, &m);
        drain(&mut q);
        assert_eq!(q.buffered_bytes(), 20, "{interleaved}");
        // A fragment whose first fragment has not arrived is kept.
        let mut q = ReassemblyQueue::new(config.clone(), interleaved);
        let m = msg(11);
        q.set_cumulative_tsn(Tsn(10));
        feed(&mut q, now, &m[1..2]);
        assert_eq!(q.buffered_bytes(), 20, "{interleaved}");
        q.set_cumulative_tsn(Tsn(10));
        feed(&mut q, now, &m[..1]);
        feed(&mut q, now, &m[2..]);
        assert_eq!(
            kinds(&drain(&mut q)),
            vec![DeliveryKind::Refused { len_seen: 40 }]
        );
    }
}

#[test]
fn room_needed_is_what_the_buffer_grows_by() {
    let now = epoch();
    let first = DataFlags::new(true, false, false);
    let middle = DataFlags::new(false, false, false);
    // A fragment of a message the stream has passed takes no room.
    let mut q = ReassemblyQueue::new(small(OversizePolicy::Refuse, 30), false);
    q.add(now, Tsn(1), data(0, 0, DataFlags::COMPLETE, b"zero"));
    drain(&mut q);
    let late = data(0, 0, middle, b"late");
    assert_eq!(q.room_needed(Tsn(9), &late), 0);
    let next = data(0, 1, first, &[1; 20]);
    assert_eq!(q.room_needed(Tsn(2), &next), 20);
    // Refuse: the fragment that makes its message oversized discards it.
    q.add(now, Tsn(2), next);
    let over = data(0, 1, middle, &[1; 20]);
    assert_eq!(q.room_needed(Tsn(3), &over), 0);
    q.add(now, Tsn(3), over);
    assert_eq!(q.buffered_bytes(), 0);
    // Truncate: it replaces what is held by the first 30 bytes.
    let mut q = whole_idata(OversizePolicy::Truncate);
    q.add(now, Tsn(1), idata(0, 0, 0, first, &[1; 40]));
    let next = idata(0, 0, 1, middle, &[1; 40]);
    assert_eq!(q.room_needed(Tsn(2), &next), 20, "60 delivered for 40 held");
    q.add(now, Tsn(2), next);
    assert_eq!(q.buffered_bytes(), 60);
    // Not contiguous: it just waits.
    let mut q = whole_idata(OversizePolicy::Truncate);
    q.add(now, Tsn(1), idata(0, 0, 0, first, &[1; 40]));
    let gap = idata(0, 0, 2, middle, &[1; 40]);
    assert_eq!(q.room_needed(Tsn(3), &gap), 40);
}

#[test]
fn fragments_coming_into_a_closed_window_stop_the_incomplete_clocks() {
    let mut q = whole_idata(OversizePolicy::Refuse);
    let t0 = epoch();
    let s = Duration::from_secs;
    let first = DataFlags::new(true, false, false);
    let middle = DataFlags::new(false, false, false);
    for (t, st) in [(1, 0), (2, 1), (3, 2)] {
        q.add(t0, Tsn(t), idata(st, 0, 0, first, &[0; 30]));
    }
    // The window is closed (10 bytes free, 30-byte fragments); a probe
    // brings stream 0 on in the completion reserve.
    q.add(t0 + s(8), Tsn(4), idata(0, 0, 1, middle, &[0; 20]));
    // Streams 1 and 2 had nothing for 10 s, but the sender was alive and
    // flow-controlled: nothing times out.
    q.handle_timeout(t0 + s(10));
    assert!(!q.has_deliverable());
    // Then nothing at all for 10 s: the message that began first (stream 0,
    // although it had the last fragment) is released to open the window;
    // the others get a full timeout from now.
    q.handle_timeout(t0 + s(18));
    let ds = drain(&mut q);
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].stream, StreamId(0));
    assert!(matches!(
        ds[0].kind,
        DeliveryKind::Aborted {
            reason: AbortReason::Timeout,
            ..
        }
    ));
    q.handle_timeout(t0 + s(27));
    assert!(!q.has_deliverable());
    // The window is open now (40 free) and they still get nothing: stalled.
    q.handle_timeout(t0 + s(28));
    assert_eq!(drain(&mut q).len(), 2);
    assert_eq!(q.buffered_bytes(), 0);
}

#[test]
fn a_skip_beyond_what_the_sender_can_have_abandoned_is_refused() {
    let now = epoch();
    // DATA: nothing of SSNs 0-5 arrived, one TSN is missing: at most one of
    // them can have been abandoned.
    let mut q = ReassemblyQueue::new(cfg(), false);
    let e = q
        .handle_forward_tsn(Tsn(5), 1, [(StreamId(0), Ssn(5))].into_iter())
        .expect_err("six skipped, one missing TSN");
    assert_eq!(
        (e.stream, e.next, e.to, e.unexplained, e.unreceived),
        (StreamId(0), 0, 5, 6, 1)
    );
    // Nothing was applied: SSN 0 is still awaited and delivered.
    q.add(now, Tsn(6), data(0, 0, DataFlags::COMPLETE, b"zero"));
    assert_eq!(drain(&mut q).len(), 1);
    // Listing the stream twice does not double-count it.
    q.handle_forward_tsn(
        Tsn(8),
        2,
        [(StreamId(0), Ssn(2)), (StreamId(0), Ssn(1))].into_iter(),
    )
    .expect("SSNs 1 and 2, two missing TSNs");
    q.add(now, Tsn(9), data(0, 3, DataFlags::COMPLETE, b"three"));
    assert_eq!(drain(&mut q)[0].ssn, Ssn(3));
    // Several streams share the missing TSNs.
    let mut q = ReassemblyQueue::new(cfg(), false);
    let two = [(StreamId(0), Ssn(0)), (StreamId(1), Ssn(0))];
    assert!(q.handle_forward_tsn(Tsn(1), 1, two.into_iter()).is_err());
    assert!(q.handle_forward_tsn(Tsn(2), 2, two.into_iter()).is_ok());
    // I-DATA: ordered MIDs count, unordered entries do not.
    let mut q = ReassemblyQueue::new(cfg(), true);
    let e = q
        .handle_iforward_tsn(Tsn(9), 0, [(StreamId(3), false, Mid(1 << 20))].into_iter())
        .expect_err("a MID far ahead, no TSN missing");
    assert_eq!((e.stream, e.to), (StreamId(3), 1 << 20));
    q.handle_iforward_tsn(Tsn(9), 0, [(StreamId(3), true, Mid(1 << 20))].into_iter())
        .expect("unordered MIDs are not a sequence");
}

#[test]
fn a_message_abandoned_mid_way_may_be_skipped_without_a_tsn_advance() {
    // RFC 3758: the sender abandoned SSN 0 after its first two fragments
    // (TSNs 1-2) arrived and before the rest was sent; every TSN is
    // acknowledged, yet the skip is honest: the receiver holds the message.
    let now = epoch();
    let mut q = ReassemblyQueue::new(cfg(), false);
    let m = data_msg(1, 0, 0, false, b"abcdef", 2);
    feed(&mut q, now, &m[..2]);
    q.handle_forward_tsn(Tsn(2), 0, [(StreamId(0), Ssn(0))].into_iter())
        .expect("SSN 0 is held");
    q.add(now, Tsn(3), data(0, 1, DataFlags::COMPLETE, b"one"));
    let ds = drain(&mut q);
    assert_eq!((ds.len(), ds[0].ssn), (1, Ssn(1)));
    // The same with I-DATA, and a second skip over a MID still held.
    let mut q = ReassemblyQueue::new(cfg(), true);
    let m = idata_msg(1, 0, 0, false, b"abcdef", 2);
    feed(&mut q, now, &m[..2]);
    let n = idata_msg(3, 0, 1, false, b"ghijkl", 2);
    feed(&mut q, now, &n[..1]);
    q.handle_iforward_tsn(Tsn(3), 0, [(StreamId(0), false, Mid(1))].into_iter())
        .expect("MIDs 0 and 1 are held");
    q.add(now, Tsn(4), idata(0, 2, 0, DataFlags::COMPLETE, b"two"));
    assert_eq!(drain(&mut q)[0].mid, Mid(2));
}

#[derive(Debug, Clone)]
enum Cmd {
    Add {
        tsn: u8,
        stream: u16,
        num: u32,
        fsn: u32,
        flags: u8,
        len: usize,
    },
    Poll,
    Wait(u64),
    Forward {
        cum: u8,
        stream: u16,
        num: u32,
        unordered: bool,
    },
    /// The association's cumulative TSN (arbitrary: the queue must stay
    /// consistent even when told nonsense).
    Cum(u8),
    AbortAll,
}

fn cmd_strategy() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        6 => (any::<u8>(), 0u16..3, 0u32..6, 0u32..6, 0u8..16, 0usize..40).prop_map(
            |(tsn, stream, num, fsn, flags, len)| Cmd::Add { tsn, stream, num, fsn, flags, len }
        ),
        2 => Just(Cmd::Poll),
        1 => (0u64..40).prop_map(Cmd::Wait),
        1 => (any::<u8>(), 0u16..3, 0u32..6, any::<bool>()).prop_map(
            |(cum, stream, num, unordered)| Cmd::Forward { cum, stream, num, unordered }
        ),
        1 => any::<u8>().prop_map(Cmd::Cum),
        1 => Just(Cmd::AbortAll),
    ]
}

/// The queue's bookkeeping agrees with its contents.
fn check_invariants(q: &ReassemblyQueue) {
    let mut held = q.in_order.as_ref().map_or(0, |f| f.len);
    assert_eq!(
        held,
        q.in_order_parts.iter().map(Bytes::len).sum::<usize>(),
        "fast path"
    );
    if q.in_order.is_some() {
        assert!(q.msgs.is_empty(), "fast path beside held messages");
    }
    let mut sinks = 0;
    for (k, m) in &q.msgs {
        let frag_bytes: usize = m.frags.values().map(|f| f.data.len()).sum();
        assert_eq!(m.held, frag_bytes, "{k:?}");
        assert!(m.next <= m.contig_to, "{k:?}");
        if m.begin.is_some() {
            let contig: usize = m
                .frags
                .range(m.next..m.contig_to)
                .map(|(_, f)| f.data.len())
                .sum();
            assert_eq!(m.contig_bytes, contig, "{k:?}");
        }
        if m.state == State::Sink {
            sinks += 1;
            assert_eq!(m.held, 0);
            assert!(!q.eligible.contains(k));
        }
        held += m.held;
    }
    for u in q.udata.values() {
        held += u.orphans.values().map(|o| o.frag.data.len()).sum::<usize>();
        for b in &u.begins {
            assert!(
                q.msgs
                    .keys()
                    .any(|k| matches!(k, Key::UnorderedTsn { begin, .. } if begin == b))
            );
        }
    }
    assert_eq!(q.held_bytes, held);
    assert_eq!(q.sink_count, sinks);
    assert!(sinks <= q.cfg.max_tombstones);
    for k in &q.eligible {
        assert!(q.msgs.contains_key(k), "eligible {k:?} missing");
    }
    for k in q.locks.values() {
        assert_eq!(
            q.msgs.get(k).map(|m| m.state),
            Some(State::Pieces),
            "lock {k:?}"
        );
    }
    assert_eq!(
        q.ready_bytes,
        q.ready.iter().map(|d| d.payload.len()).sum::<usize>()
    );
}

proptest! {
    #[test]
    fn hostile_fragment_sequences_never_break_the_bookkeeping(
        interleaved in any::<bool>(),
        policy in prop_oneof![
            Just(OversizePolicy::Refuse),
            Just(OversizePolicy::Truncate),
            Just(OversizePolicy::Pieces)
        ],
        cmds in prop::collection::vec(cmd_strategy(), 1..120),
    ) {
        let cfg = ReassemblyConfig {
            max_message_size: 30,
            oversize_policy: policy,
            buffer_limit: 200,
            partial_delivery_point: 20,
            incomplete_message_timeout: Some(Duration::from_secs(10)),
            max_tombstones: 4,
        };
        let mut q = ReassemblyQueue::new(cfg, interleaved);
        let mut now = epoch();
        let payload = [0xa5u8; 40];
        for cmd in cmds {
            match cmd {
                Cmd::Add { tsn, stream, num, fsn, flags, len } => {
                    let c = UserDataChunk {
                        stream: StreamId(stream),
                        ssn: Ssn(num as u16),
                        mid: Mid(num),
                        fsn: Fsn(fsn),
                        ppid: Ppid(1),
                        flags: DataFlags(flags),
                        payload: Bytes::copy_from_slice(&payload[..len]),
                    };
                    let tsn = Tsn(1000 + u32::from(tsn));
                    // What the association checks against its window is
                    // what the buffer may grow by.
                    let room = q.room_needed(tsn, &c);
                    prop_assert!(room <= c.payload.len());
                    let before = q.buffered_bytes();
                    q.add(now, tsn, c);
                    prop_assert!(
                        q.buffered_bytes() <= before + room,
                        "{} -> {} with room {room}", before, q.buffered_bytes()
                    );
                }
                Cmd::Cum(t) => q.set_cumulative_tsn(Tsn(1000 + u32::from(t))),
                Cmd::Poll => {
                    q.poll();
                }
                Cmd::Wait(s) => {
                    now += Duration::from_secs(s);
                    q.handle_timeout(now);
                }
                Cmd::Forward { cum, stream, num, unordered } => {
                    let cum = Tsn(1000 + u32::from(cum));
                    let _ = q.handle_forward_tsn(cum, UNCHECKED, [(StreamId(stream), Ssn(num as u16))].into_iter());
                    let _ = q.handle_iforward_tsn(cum, UNCHECKED, [(StreamId(stream), unordered, Mid(num))].into_iter());
                }
                Cmd::AbortAll => q.abort_all(),
            }
            check_invariants(&q);
            for d in &q.ready {
                prop_assert!(d.payload.len() <= 30, "{:?}", d.kind);
            }
        }
        q.abort_all();
        drain(&mut q);
        prop_assert_eq!(q.buffered_bytes(), 0);
        prop_assert!(q.msgs.is_empty());
    }
}

#[test]
fn in_order_fragments_skip_the_general_structure() {
    for interleaved in [false, true] {
        let mut q = ReassemblyQueue::new(cfg(), interleaved);
        let now = epoch();
        let script = in_order_script(interleaved, &[(0, 30), (0, 5), (0, 25)], 10);
        for (tsn, c) in &script[..2] {
            q.add(now, *tsn, c.clone());
        }
        assert!(q.in_order.is_some() && q.msgs.is_empty(), "{interleaved}");
        assert!(q.eligible.is_empty() && q.timers.is_empty());
        assert_eq!(q.buffered_bytes(), 20);
        assert_eq!(q.deadline(), Some(now + Duration::from_secs(30)));
        feed(&mut q, now, &script[2..]);
        assert!(q.in_order.is_none() && q.msgs.is_empty());
        let ds = drain(&mut q);
        assert_eq!(
            ds.iter().map(|d| d.payload.len()).collect::<Vec<_>>(),
            vec![30, 5, 25]
        );
        assert_eq!(q.buffered_bytes(), 0);
        assert_eq!(q.deadline(), None);
        // A fragment out of order moves the message to the general path,
        // which completes it.
        let script = in_order_script(interleaved, &[(1, 30)], 10);
        let mut q = ReassemblyQueue::new(cfg(), interleaved);
        feed(&mut q, now, &script[..1]);
        feed(&mut q, now, &script[2..]);
        assert!(q.in_order.is_none() && q.msgs.len() == 1);
        feed(&mut q, now, &script[1..2]);
        assert_eq!(drain(&mut q)[0].payload.len(), 30);
    }
}

/// What a run of [`fast_path_changes_nothing`] does.
#[derive(Debug, Clone)]
enum Step {
    /// Hand over fragment `i` of the script (if not handed over yet).
    Frag(usize),
    Poll,
    Wait(u64),
    /// FORWARD-TSN up to fragment `i`'s TSN, skipping its message.
    Forward(usize),
    AbortAll,
}

/// Fragments of `msgs` (stream, size) messages, `frag` bytes each at most,
/// numbered in order per stream and TSN in the order a sender would send
/// them: message after message with DATA, round robin per fragment across
/// streams with I-DATA.
fn in_order_script(
    interleaved: bool,
    msgs: &[(u16, usize)],
    frag: usize,
) -> Vec<(Tsn, UserDataChunk)> {
    let mut per_stream: BTreeMap<u16, VecDeque<Vec<UserDataChunk>>> = BTreeMap::new();
    let mut seq: HashMap<u16, u32> = HashMap::new();
    for (i, &(stream, size)) in msgs.iter().enumerate() {
        let n = seq.entry(stream).or_default();
        let payload: Vec<u8> = (0..size).map(|b| (i * 31 + b) as u8).collect();
        let parts: Vec<&[u8]> = payload.chunks(frag).collect();
        let k = parts.len();
        let chunks = parts
            .into_iter()
            .enumerate()
            .map(|(j, p)| {
                if interleaved {
                    idata(stream, *n, j as u32, fl(j, k, false), p)
                } else {
                    data(stream, *n as u16, fl(j, k, false), p)
                }
            })
            .collect();
        per_stream.entry(stream).or_default().push_back(chunks);
        *n += 1;
    }
    let mut out = Vec::new();
    let mut tsn = 100u32;
    if interleaved {
        let mut queues: Vec<VecDeque<UserDataChunk>> = per_stream
            .into_values()
            .map(|ms| ms.into_iter().flatten().collect())
            .collect();
        while queues.iter().any(|q| !q.is_empty()) {
            for q in &mut queues {
                if let Some(c) = q.pop_front() {
                    out.push((Tsn(tsn), c));
                    tsn += 1;
                }
            }
        }
    } else {
        for (i, &(stream, _)) in msgs.iter().enumerate() {
            let _ = i;
            if let Some(m) = per_stream.get_mut(&stream).and_then(|q| q.pop_front()) {
                for c in m {
                    out.push((Tsn(tsn), c));
                    tsn += 1;
                }
            }
        }
    }
    out
}

proptest! {
    /// The in-order fast path decides nothing the general path would not:
    /// the same fragments, timers and FORWARD-TSNs give the same
    /// deliveries, buffer, deadlines and window answers with it and
    /// without it, in order and disturbed.
    #[test]
    fn fast_path_changes_nothing(
        interleaved in any::<bool>(),
        policy in prop_oneof![
            Just(OversizePolicy::Refuse),
            Just(OversizePolicy::Truncate),
            Just(OversizePolicy::Pieces)
        ],
        msgs in prop::collection::vec((0u16..3, 1usize..120), 1..12),
        frag in 5usize..40,
        buffer in 100usize..400,
        extra in prop::collection::vec(
            prop_oneof![
                6 => (0usize..200).prop_map(Step::Frag),
                2 => Just(Step::Poll),
                1 => (0u64..15).prop_map(Step::Wait),
                1 => (0usize..200).prop_map(Step::Forward),
                1 => Just(Step::AbortAll),
            ],
            0..40,
        ),
        swaps in prop::collection::vec(0usize..200, 0..4),
    ) {
        let cfg = ReassemblyConfig {
            max_message_size: 60,
            oversize_policy: policy,
            buffer_limit: buffer,
            partial_delivery_point: 40,
            incomplete_message_timeout: Some(Duration::from_secs(10)),
            max_tombstones: 4,
        };
        let script = in_order_script(interleaved, &msgs, frag);
        // Mostly in order: every fragment once, in TSN order, a few swapped
        // with their successor, and the extra steps spread between them.
        let mut order: Vec<usize> = (0..script.len()).collect();
        for s in swaps {
            let i = s % order.len();
            if i + 1 < order.len() {
                order.swap(i, i + 1);
            }
        }
        let mut steps: Vec<Step> = order.into_iter().map(Step::Frag).collect();
        for (k, e) in extra.into_iter().enumerate() {
            let at = (k * 7919) % (steps.len() + 1);
            steps.insert(at, e);
        }
        let mut fast = ReassemblyQueue::new(cfg.clone(), interleaved);
        let mut slow = ReassemblyQueue::new(cfg, interleaved);
        slow.fast_path_off = true;
        let mut given = vec![false; script.len()];
        let mut now = epoch();
        let mut cum: Option<Tsn> = None;
        for step in steps {
            match step {
                Step::Frag(i) => {
                    let i = i % script.len();
                    if std::mem::replace(&mut given[i], true) {
                        continue;
                    }
                    let (tsn, c) = &script[i];
                    prop_assert_eq!(fast.room_needed(*tsn, c), slow.room_needed(*tsn, c));
                    prop_assert_eq!(fast.completion_reserve(), slow.completion_reserve());
                    // The cumulative TSN of what was handed over.
                    let mut t = cum.map_or(99, |c| c.0);
                    while script
                        .iter()
                        .zip(&given)
                        .any(|((s, _), g)| *g && s.0 == t + 1)
                    {
                        t += 1;
                    }
                    cum = Some(Tsn(t));
                    for q in [&mut fast, &mut slow] {
                        q.set_cumulative_tsn(Tsn(t));
                        q.add(now, *tsn, c.clone());
                    }
                }
                Step::Poll => {
                    prop_assert_eq!(fast.poll(), slow.poll());
                }
                Step::Wait(s) => {
                    now += Duration::from_secs(s);
                    fast.handle_timeout(now);
                    slow.handle_timeout(now);
                }
                Step::Forward(i) => {
                    let (tsn, c) = &script[i % script.len()];
                    let r = if interleaved {
                        let e = [(c.stream, false, c.mid)];
                        (
                            fast.handle_iforward_tsn(*tsn, 1000, e.into_iter()),
                            slow.handle_iforward_tsn(*tsn, 1000, e.into_iter()),
                        )
                    } else {
                        let e = [(c.stream, c.ssn)];
                        (
                            fast.handle_forward_tsn(*tsn, 1000, e.into_iter()),
                            slow.handle_forward_tsn(*tsn, 1000, e.into_iter()),
                        )
                    };
                    prop_assert_eq!(r.0, r.1);
                }
                Step::AbortAll => {
                    fast.abort_all();
                    slow.abort_all();
                }
            }
            check_invariants(&fast);
            prop_assert_eq!(&fast.ready, &slow.ready);
            prop_assert_eq!(fast.buffered_bytes(), slow.buffered_bytes());
            prop_assert_eq!(fast.deadline(), slow.deadline());
        }
    }
}
