//! User-message interleaving (I-DATA, RFC 8260) and its DATA fallback,
//! partial reliability (RFC 3758 timed reliability, RFC 7496 limited
//! retransmissions) with FORWARD-TSN / I-FORWARD-TSN, zero-window probing,
//! and an association-level congestion-control trace (RFC 9260 §7.2), all
//! over the deterministic simulator with the chunks on the wire inspected.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{DropRule, Pair, Peer};
use mcsctp_core::chunk::{Chunk, ChunkType};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::SendOptions;
use mcsctp_core::event::{AssociationHandle, Event};
use mcsctp_core::rx::DeliveryKind;
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_sim::LinkConfig;

const MIB: usize = 1 << 20;

fn config(interleaving: bool) -> EndpointConfig {
    let mut c = EndpointConfig::default();
    c.association.interleaving = interleaving;
    c.association.send_buffer = 4 * MIB;
    c
}

/// Chunk types that went out of `peer` (its `log` must be on).
fn types_sent(peer: &Peer) -> Vec<ChunkType> {
    peer.sent
        .iter()
        .flat_map(|s| s.chunks.iter().copied())
        .collect()
}

fn count(types: &[ChunkType], t: ChunkType) -> usize {
    types.iter().filter(|&&x| x == t).count()
}

fn big_message() -> Bytes {
    (0..MIB as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect::<Vec<_>>()
        .into()
}

/// Sends a 1 MiB message on stream 1 and, right after, 100 B on stream 2;
/// runs until both arrived. Returns (index of the small message in Z's
/// deliveries, index of the big message's last piece, whether the big
/// message was complete when the small one was delivered).
fn big_then_small(p: &mut Pair, ha: AssociationHandle) -> (usize, usize, bool) {
    let now = p.net.now();
    let big = big_message();
    p.a()
        .ep
        .send(
            now,
            ha,
            StreamId(1),
            Ppid(1),
            big.clone(),
            SendOptions::default(),
        )
        .expect("big");
    p.a()
        .ep
        .send(
            now,
            ha,
            StreamId(2),
            Ppid(2),
            Bytes::from(vec![7u8; 100]),
            SendOptions::default(),
        )
        .expect("small");
    let z = p.z;
    let done = |n: &mut mcsctp_sim::Network<Peer>| {
        let r = &n.node(z).received;
        r.iter().any(|r| r.delivery.stream == StreamId(2))
            && r.iter().any(|r| {
                r.delivery.stream == StreamId(1)
                    && matches!(
                        r.delivery.kind,
                        DeliveryKind::Piece {
                            end_of_record: true,
                            ..
                        } | DeliveryKind::Message
                    )
            })
    };
    p.net
        .run_until_cond(done, Duration::from_secs(60))
        .expect("both delivered");
    let received = &p.net.node(z).received;
    let small_at = received
        .iter()
        .position(|r| r.delivery.stream == StreamId(2))
        .expect("small");
    assert_eq!(received[small_at].delivery.kind, DeliveryKind::Message);
    assert_eq!(received[small_at].delivery.payload.len(), 100);
    let big_end = received
        .iter()
        .position(|r| {
            r.delivery.stream == StreamId(1)
                && matches!(
                    r.delivery.kind,
                    DeliveryKind::Piece {
                        end_of_record: true,
                        ..
                    }
                )
        })
        .expect("big message ended");
    // The pieces of the big message rebuild it exactly.
    let mut rebuilt = Vec::with_capacity(MIB);
    for r in received.iter().filter(|r| r.delivery.stream == StreamId(1)) {
        rebuilt.extend_from_slice(&r.delivery.payload);
    }
    assert_eq!(Bytes::from(rebuilt), big);
    (small_at, big_end, small_at < big_end)
}

#[test]
fn small_message_overtakes_a_large_one_with_idata() {
    let mut p = Pair::new(1, config(true), config(true));
    p.a().log = true;
    let (ha, _) = p.connect();
    let start = p.net.now();
    let z = p.z;
    let (small_at, big_end, overtook) = big_then_small(&mut p, ha);
    assert!(
        overtook,
        "the 100 B message (delivery #{small_at}) came after the 1 MiB one ended (#{big_end})"
    );
    // It was delivered while most of the large message was still in flight.
    let pieces_before: usize = p.net.node(z).received[..small_at]
        .iter()
        .map(|r| r.delivery.payload.len())
        .sum();
    assert!(
        pieces_before < MIB / 4,
        "{pieces_before} bytes of the big message before"
    );
    let _ = start;
    let sent = types_sent(p.net.node(p.a));
    assert!(count(&sent, ChunkType::IDATA) > 700);
    assert_eq!(
        count(&sent, ChunkType::DATA),
        0,
        "I-DATA negotiated: no DATA"
    );
}

fn data_fallback(client_interleaving: bool, server_interleaving: bool) {
    let mut p = Pair::new(2, config(client_interleaving), config(server_interleaving));
    p.a().log = true;
    p.z().log = true;
    let (ha, _) = p.connect();
    let (small_at, big_end, overtook) = big_then_small(&mut p, ha);
    // DATA: the fragments of one message carry consecutive TSNs (RFC 9260
    // §6.9), so the small message waits behind the large one.
    assert!(
        !overtook,
        "with DATA the small message (#{small_at}) cannot overtake the large one (#{big_end})"
    );
    for node in [p.a, p.z] {
        let sent = types_sent(p.net.node(node));
        assert_eq!(count(&sent, ChunkType::IDATA), 0, "no I-DATA on the wire");
        assert_eq!(count(&sent, ChunkType::IFORWARD_TSN), 0);
    }
    assert!(count(&types_sent(p.net.node(p.a)), ChunkType::DATA) > 700);
}

#[test]
fn a_client_without_idata_falls_back_to_data() {
    data_fallback(false, true);
}

#[test]
fn a_server_without_idata_falls_back_to_data() {
    data_fallback(true, false);
}

/// How PR-SCTP abandons.
#[derive(Debug, Clone, Copy)]
enum Policy {
    /// RFC 3758 timed reliability.
    Lifetime(Duration),
    /// RFC 7496 limited retransmissions.
    Retransmissions(u32),
}

/// Sends 300 partially reliable messages over a lossy path, then 30 fully
/// reliable ones over a clean path, all on one ordered stream (and a few
/// unordered ones); checks what arrived and what went on the wire.
fn partial_reliability(interleaving: bool, policy: Policy) {
    let mut p = Pair::new(3, config(interleaving), config(interleaving));
    p.a().log = true;
    p.z().log = true;
    let (ha, _) = p.connect();
    let (a, z) = (p.a, p.z);
    let lossy = LinkConfig {
        loss: 0.15,
        ..LinkConfig::DEFAULT
    };
    p.net.set_link(a, z, lossy);
    let opts = |unordered| {
        let mut o = SendOptions {
            unordered,
            ..SendOptions::default()
        };
        match policy {
            Policy::Lifetime(t) => o.lifetime = Some(t),
            Policy::Retransmissions(n) => o.max_retransmissions = Some(n),
        }
        o
    };
    const PR: u32 = 300;
    const RELIABLE: u32 = 30;
    let payload = |seq: u32, len: usize| {
        let mut v = vec![(seq % 251) as u8; len];
        v[..4].copy_from_slice(&seq.to_le_bytes());
        Bytes::from(v)
    };
    // Paced: 10 messages every 10 ms, of 1 to 3 packets each, every fifth
    // unordered.
    for seq in 0..PR {
        if seq % 10 == 0 {
            p.net.run_for(Duration::from_millis(10)).expect("runs");
        }
        let now = p.net.now();
        let len = 1000 + (seq as usize * 397) % 3000;
        p.a()
            .ep
            .send(
                now,
                ha,
                StreamId(1),
                Ppid(seq),
                payload(seq, len),
                opts(seq % 5 == 4),
            )
            .expect("send");
    }
    p.net.run_for(Duration::from_secs(20)).expect("runs");
    // The path heals; reliable messages follow on the same stream.
    p.net.clear_link(a, z);
    let now = p.net.now();
    for seq in PR..PR + RELIABLE {
        p.a()
            .ep
            .send(
                now,
                ha,
                StreamId(1),
                Ppid(seq),
                payload(seq, 2000),
                SendOptions::default(),
            )
            .expect("send");
    }
    p.net
        .run_until_cond(
            |n| {
                n.node(z)
                    .received
                    .iter()
                    .filter(|r| r.delivery.ppid.0 >= PR)
                    .count()
                    == RELIABLE as usize
            },
            Duration::from_secs(60),
        )
        .expect("the reliable messages arrive");

    // What the receiver got: every delivery whole and intact, ordered
    // messages in order, nothing twice.
    let mut last_ordered: Option<u32> = None;
    let mut seen = std::collections::BTreeSet::new();
    for r in &p.net.node(z).received {
        let d = &r.delivery;
        assert_eq!(d.kind, DeliveryKind::Message, "{d:?}");
        let seq = u32::from_le_bytes(d.payload[..4].try_into().expect("4"));
        assert_eq!(d.ppid.0, seq);
        assert!(seen.insert(seq), "message {seq} delivered twice");
        assert!(d.payload[4..].iter().all(|&b| b == (seq % 251) as u8));
        if !d.unordered {
            assert!(
                last_ordered.is_none_or(|l| seq > l),
                "ordered {seq} after {last_ordered:?}"
            );
            last_ordered = Some(seq);
        }
    }
    let delivered_pr = seen.iter().filter(|&&s| s < PR).count();
    assert!(
        (PR..PR + RELIABLE).all(|s| seen.contains(&s)),
        "every reliable message arrived"
    );
    // What the sender reported.
    let abandoned = p
        .net
        .node(a)
        .events
        .iter()
        .filter(|e| matches!(e, Event::MessageAbandoned { .. }))
        .count();
    assert!(p.net.node(a).closed().is_empty() && p.net.node(z).closed().is_empty());
    assert!(abandoned > 0, "{policy:?}: nothing abandoned");
    assert!(
        delivered_pr < PR as usize,
        "{policy:?}: the receiver skipped nothing"
    );
    // A message is abandoned, delivered, or (its SACK lost) both.
    assert!(
        delivered_pr + abandoned >= PR as usize,
        "{delivered_pr} + {abandoned}"
    );
    // The wire: FORWARD-TSN with DATA, I-FORWARD-TSN with I-DATA.
    let sent = types_sent(p.net.node(a));
    let (fwd, ifwd) = (
        count(&sent, ChunkType::FORWARD_TSN),
        count(&sent, ChunkType::IFORWARD_TSN),
    );
    if interleaving {
        assert!(
            ifwd > 0 && fwd == 0,
            "{policy:?}: FORWARD-TSN {fwd}, I-FORWARD-TSN {ifwd}"
        );
    } else {
        assert!(
            fwd > 0 && ifwd == 0,
            "{policy:?}: FORWARD-TSN {fwd}, I-FORWARD-TSN {ifwd}"
        );
    }
    println!(
        "{} {policy:?}: {delivered_pr} of {PR} delivered, {abandoned} abandoned, \
         {} forward-TSN chunks",
        if interleaving { "I-DATA" } else { "DATA" },
        fwd + ifwd
    );
}

#[test]
fn timed_reliability_abandons_with_forward_tsn() {
    partial_reliability(false, Policy::Lifetime(Duration::from_millis(300)));
}

#[test]
fn timed_reliability_abandons_with_iforward_tsn() {
    partial_reliability(true, Policy::Lifetime(Duration::from_millis(300)));
}

#[test]
fn limited_retransmissions_abandon_with_forward_tsn() {
    partial_reliability(false, Policy::Retransmissions(0));
}

#[test]
fn limited_retransmissions_abandon_with_iforward_tsn() {
    partial_reliability(true, Policy::Retransmissions(1));
}

/// The SACKs `peer` sent (its `log` must be on): (time, a_rwnd).
fn sacks_sent(peer: &Peer) -> Vec<(std::time::Instant, u32)> {
    let mut out = Vec::new();
    for s in &peer.sent {
        for raw in s.packet().chunks() {
            if let Ok(Chunk::Sack(sack)) = Chunk::parse(raw) {
                out.push((s.at, sack.a_rwnd));
            }
        }
    }
    out
}

/// When `z` first advertised a closed window (a SACK with a_rwnd 0), and
/// the packets carrying I-DATA that `a` sent after that.
fn data_after_window_closed(a: &Peer, z: &Peer) -> (std::time::Instant, Vec<common::Sent>) {
    let closed_at = sacks_sent(z)
        .iter()
        .find(|(_, w)| *w == 0)
        .map(|(t, _)| *t)
        .expect("a SACK closed the window");
    let after = a
        .sent
        .iter()
        .filter(|s| s.at > closed_at && s.chunks.contains(&ChunkType::IDATA))
        .cloned()
        .collect();
    (closed_at, after)
}

#[test]
fn zero_window_is_probed_with_one_chunk_and_reopens_when_read() {
    let mut cz = config(true);
    cz.association.receive_buffer = 64 << 10;
    let mut p = Pair::new(4, config(true), cz);
    p.a().log = true;
    p.z().log = true;
    let (ha, hz) = p.connect();
    let (a, z) = (p.a, p.z);
    // The receiving application stops reading.
    p.z().auto_recv = false;
    const N: u32 = 300;
    let now = p.net.now();
    for seq in 0..N {
        let mut v = vec![seq as u8; 1000];
        v[..4].copy_from_slice(&seq.to_le_bytes());
        p.a()
            .ep
            .send(
                now,
                ha,
                StreamId(0),
                Ppid(0),
                Bytes::from(v),
                SendOptions::default(),
            )
            .expect("send");
    }
    // Ten minutes without reading: far longer than Association.Max.Retrans
    // backed-off retransmission timeouts (about six minutes with the RFC
    // 9260 defaults).
    let stalled_from = p.net.now();
    p.net.run_for(Duration::from_secs(600)).expect("runs");
    let held = p.net.node(z).ep.receive_buffered(hz).expect("alive");
    assert!(held <= 64 << 10, "receiver holds {held} bytes");
    // RFC 9260 §6.1 A: "If the sender continues to receive SACK chunks from
    // the peer while doing zero window probing, the unacknowledged window
    // probes SHOULD NOT increment the error counter for the association".
    assert!(
        p.net.node(a).closed().is_empty(),
        "the sender gave up on a receiver that kept answering: {:?}",
        p.net.node(a).closed()
    );
    // The window closed, and while it stayed closed the sender probed with
    // one DATA chunk per packet, less and less often.
    let (closed_at, after) = data_after_window_closed(p.net.node(a), p.net.node(z));
    let probes: Vec<std::time::Instant> = after
        .iter()
        .map(|s| {
            assert_eq!(
                count(&s.chunks, ChunkType::IDATA),
                1,
                "a probe is one chunk"
            );
            s.at
        })
        .collect();
    assert!(probes.len() >= 5, "{} probes", probes.len());
    let gaps: Vec<Duration> = probes.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0]),
        "probe intervals back off: {gaps:?}"
    );
    assert!(stalled_from < closed_at);

    // The application reads again: a window update goes out at once and the
    // transfer completes.
    let read_at = p.net.now();
    let mut got = Vec::new();
    while let Some(r) = p.z().ep.poll_recv() {
        got.push(r);
    }
    assert!(!got.is_empty());
    p.z().auto_recv = true;
    p.net.run_for(Duration::from_millis(1)).expect("runs");
    let update = sacks_sent(p.net.node(z))
        .into_iter()
        .find(|(t, w)| *t >= read_at && *w > 0)
        .expect("window update");
    assert_eq!(
        update.0, read_at,
        "the window update is sent when the application reads"
    );
    p.net
        .run_until_cond(
            |n| got.len() + n.node(z).received.len() == N as usize,
            Duration::from_secs(30),
        )
        .expect("the rest arrives");
    got.extend(p.net.node(z).received.iter().cloned());
    for (i, r) in got.iter().enumerate() {
        let seq = u32::from_le_bytes(r.delivery.payload[..4].try_into().expect("4"));
        assert_eq!(seq, i as u32);
    }
}

#[test]
fn first_zero_window_probe_waits_one_rto_after_the_window_closes() {
    // The receiver's buffer holds four 1000-byte messages and not a fifth:
    // the SACK for the fourth acknowledges everything and advertises
    // a_rwnd 0, so the sender has nothing in flight and a closed window.
    let mut cz = config(true);
    cz.association.receive_buffer = 4900;
    cz.receive_memory_budget = 4900;
    let mut p = Pair::new(6, config(true), cz);
    p.a().log = true;
    p.z().log = true;
    let (ha, hz) = p.connect();
    let (a, z) = (p.a, p.z);
    p.z().auto_recv = false;
    let now = p.net.now();
    for seq in 0..10u8 {
        p.a().send_simple(now, ha, Bytes::from(vec![seq; 1000]));
    }
    p.net.run_for(Duration::from_secs(20)).expect("runs");
    // Four messages and the start of the fifth (messages are fragmented to
    // fill packets) fill what the receiver offered.
    let held = p.net.node(z).ep.receive_buffered(hz).expect("alive");
    assert!((4000..4900).contains(&held), "holds {held}");
    let (closed_at, after) = data_after_window_closed(p.net.node(a), p.net.node(z));
    let data_after: Vec<std::time::Instant> = after.iter().map(|s| s.at).collect();
    assert!(data_after.len() >= 3, "{data_after:?}");
    // RFC 9260 §6.1 A: "The sender SHOULD send the first zero window probe
    // after 1 RTO when it detects that the receiver has closed its window".
    // RTO is at least RTO.Min (1 s).
    let first = data_after[0] - closed_at;
    assert!(
        first >= Duration::from_secs(1),
        "first probe {first:?} after the window closed"
    );
    // "... and SHOULD increase the probe interval exponentially afterwards"
    // (the receiver drops the probe: T3-rtx repeats it after one RTO, then
    // backed off).
    let gaps: Vec<Duration> = data_after.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_secs(1), "{gaps:?}");
    assert!(gaps[1] >= 2 * gaps[0], "probe intervals back off: {gaps:?}");

    // Reading opens the window; everything arrives, in order.
    p.z().auto_recv = true;
    p.net
        .run_until_cond(|n| n.node(z).received.len() == 10, Duration::from_secs(60))
        .expect("all ten arrive");
    for (i, r) in p.net.node(z).received.iter().enumerate() {
        assert_eq!(r.delivery.payload[0], i as u8);
    }
}

#[test]
fn congestion_window_follows_rfc9260_through_a_loss_episode() {
    const MTU: usize = 1452;
    // I-DATA: 1452 - 12 - 20 = 1420 payload bytes fill a packet.
    const CHUNK: usize = 1420;
    let mut p = Pair::new(5, config(true), config(true));
    let (ha, _) = p.connect();
    let (a, z) = (p.a, p.z);
    // RFC 9260 §7.2.1: "The initial cwnd before data transmission MUST be
    // set to min(4 * MTU, max(2 * MTU, 4404))"; "The initial value of
    // ssthresh SHOULD be arbitrarily high (e.g., the size of the largest
    // possible advertised window)": the peer's a_rwnd here, its 1 MiB
    // buffer less the packet it keeps for the chunk that fills a gap.
    let cong = |p: &Pair| p.net.node(a).ep.congestion(ha).expect("alive");
    assert_eq!(cong(&p), ((4 * MTU).min((2 * MTU).max(4404)), MIB - MTU, 0));
    assert_eq!(cong(&p).0, 4404);

    // Messages that each fill one packet; the 60th data packet is lost.
    p.a().drops.push(DropRule::nth(ChunkType::IDATA, 60));
    let now = p.net.now();
    for i in 0..2000u32 {
        p.a()
            .ep
            .send(
                now,
                ha,
                StreamId(0),
                Ppid(i),
                Bytes::from(vec![i as u8; CHUNK]),
                SendOptions::default(),
            )
            .expect("send");
    }
    let stats = |p: &Pair| p.net.node(a).ep.association_stats(ha).expect("alive");
    let mut before = cong(&p);
    let mut steps = 0;
    while stats(&p).fast_retransmits == 0 {
        before = cong(&p);
        assert!(p.net.step());
        steps += 1;
        assert!(steps < 100_000, "no fast retransmit");
    }
    let after = cong(&p);
    // The SACK that brings the third miss indication acknowledges one more
    // chunk by a gap block; RFC 9260 §7.2.4: "the cwnd adjustment rules
    // defined in Section 7.2.1 and Section 7.2.2 MUST be applied first" --
    // in slow start with the window fully used, cwnd grows by that chunk.
    let (cwnd, ssthresh, flight) = before;
    assert!(cwnd <= ssthresh, "still in slow start: {before:?}");
    let grown = if flight >= cwnd {
        cwnd + CHUNK.min(MTU)
    } else {
        cwnd
    };
    // §7.2.4 step 2 with §7.2.3: "ssthresh = max(cwnd/2, 4*MTU), cwnd =
    // ssthresh".
    let expect = (grown / 2).max(4 * MTU);
    assert_eq!((after.0, after.1), (expect, expect), "before {before:?}");
    println!("fast retransmit: {before:?} -> {after:?}");

    // Fast recovery ends; then the path fails until T3-rtx expires.
    p.net
        .run_until_cond(
            |n| {
                n.node(a)
                    .ep
                    .congestion(ha)
                    .is_some_and(|c| c.0 > expect + 2 * MTU)
            },
            Duration::from_secs(30),
        )
        .expect("cwnd grows again");
    p.net.set_link_both(a, z, LinkConfig::DEFAULT.cut());
    let mut before = cong(&p);
    while stats(&p).t3_expirations == 0 {
        before = cong(&p);
        assert!(p.net.step());
    }
    let after = cong(&p);
    // §7.2.3: "When the T3-rtx timer expires on an address, SCTP SHOULD
    // perform slow start by: ssthresh = max(cwnd/2, 4*MTU), cwnd = 1*MTU".
    assert_eq!(
        after.0, MTU,
        "cwnd = 1 MTU after T3: {before:?} -> {after:?}"
    );
    assert_eq!(
        after.1,
        (before.0 / 2).max(4 * MTU),
        "{before:?} -> {after:?}"
    );
    println!("T3 expiry: {before:?} -> {after:?}");
    // The path heals and everything arrives.
    p.net.clear_link(a, z);
    p.net.clear_link(z, a);
    p.net
        .run_until_cond(
            |n| n.node(z).received.len() == 2000,
            Duration::from_secs(120),
        )
        .expect("all delivered");
    for (i, r) in p.net.node(z).received.iter().enumerate() {
        assert_eq!(r.delivery.ppid, Ppid(i as u32));
    }
}

/// An I-DATA receiver that may deliver messages only whole (oversize
/// policy Refuse or Truncate) and whose receive buffer cannot hold
/// everything the sender interleaves into it: three 2000-byte messages on
/// three streams, each within `max_message_size` (3000) and the 4 KiB
/// buffer, all three together not. The round-robin sender puts the first
/// fragment of each into the window (4260 bytes); no message completes
/// before the fourth chunk, and every chunk was acknowledged cumulatively,
/// so no rule inside the buffer avoids the wedge. It used to last until
/// `incomplete_message_timeout` released all three as aborted, on a
/// perfect link with the sender alive. The completion reserve (one
/// `max_message_size` beyond the buffer, only for the chunk next in TSN
/// order, never advertised) lets the zero window probes in until one
/// completes. Pieces needs no reserve: it delivers a prefix to make room.
#[test]
fn interleaved_messages_larger_than_the_receive_buffer_all_arrive() {
    use mcsctp_core::rx::reassembly::OversizePolicy;
    for policy in [OversizePolicy::Refuse, OversizePolicy::Truncate] {
        let mut c = config(true);
        c.association.receive_buffer = 4096;
        c.association.max_message_size = 3000;
        c.association.oversize_policy = policy;
        let mut p = Pair::new(1, c.clone(), c);
        let (ha, hz) = p.connect();
        let now = p.net.now();
        for s in 0..3u16 {
            p.a()
                .ep
                .send(
                    now,
                    ha,
                    StreamId(s),
                    Ppid(u32::from(s)),
                    Bytes::from(vec![s as u8; 2000]),
                    SendOptions::default(),
                )
                .expect("send");
        }
        let z = p.z;
        let start = p.net.now();
        p.net
            .run_until_cond(|n| n.node(z).received.len() >= 3, Duration::from_secs(600))
            .expect("three deliveries");
        for r in &p.net.node(z).received {
            let d = &r.delivery;
            assert_eq!(d.kind, DeliveryKind::Message, "{policy:?}: {d:?}");
            assert_eq!(d.payload, vec![d.stream.0 as u8; 2000], "{policy:?}");
        }
        // Probes, not a timeout, got them through; and nothing the window
        // offered was dropped.
        let took = p.net.now() - start;
        assert!(took < Duration::from_secs(10), "{policy:?}: {took:?}");
        let stats = p.z().ep.association_stats(hz).expect("up");
        assert_eq!(stats.data_chunks_dropped, 0, "{policy:?}: {stats:?}");
    }
}
