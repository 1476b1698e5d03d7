//! The seed's partial-delivery scenario ("SCTP Partial delivery
//! vulnerability example", tsvwg, December 2005): one server endpoint with
//! 50 client associations and a receive window smaller than a 1 MiB
//! message, so the deliver-in-pieces policy starts delivering it before it
//! is complete. Client 0 sends the first half of the message and goes
//! silent; the 49 others keep exchanging small messages with the server.
//!
//! mcsctp delivers per association: the small messages' delivery latency
//! must stay what it was before client 0 stalled (within one round trip),
//! and client 0's partial message must be released with an explicit
//! aborted-message event -- when its association dies (client 0 crashed:
//! its link is cut), and when it stays alive but never finishes (its DATA
//! never arrives any more, its heartbeats do: the incomplete-message limit
//! fires).
//!
//! The property can fail: with the test-only switch
//! `AssociationConfig::lksctp_serial_partial_delivery` the endpoint delivers
//! serially across associations once one starts a partial delivery, as
//! lksctp did (`pd_mode`), and the same run then breaks the latency bound.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Peer;
use mcsctp_core::chunk::ChunkType;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::SendOptions;
use mcsctp_core::event::{AssociationHandle, CloseReason, Event};
use mcsctp_core::packet::{Packet, PacketBuilder};
use mcsctp_core::rx::{AbortReason, DeliveryKind};
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_sim::{Datagram, LinkConfig, Network, Node, NodeId};

const CLIENTS: usize = 50;
const BIG: usize = 1 << 20;
/// One-way delay of every link: the round trip is twice this.
const DELAY: Duration = Duration::from_millis(10);
const RTT: Duration = Duration::from_millis(20);
/// Each client other than 0 sends a small message this often.
const PERIOD: Duration = Duration::from_millis(20);
const SMALL: usize = 100;
const SMALL_PPID: Ppid = Ppid(7);
const BIG_PPID: Ppid = Ppid(9);

/// A [`Peer`] whose outgoing packets can lose their DATA / I-DATA chunks
/// on the way out (everything else -- SACKs, HEARTBEAT ACKs -- still goes):
/// a client that stays alive but whose message never progresses.
struct Host {
    peer: Peer,
    strip_data: bool,
    /// Blackhole the first TSN of the `n`th outgoing data packet: every
    /// transmission of it is lost while `blackhole_on`.
    blackhole_nth: Option<usize>,
    blackhole_tsn: Option<u32>,
    blackhole_on: bool,
    data_packets: usize,
}

impl Host {
    fn new(peer: Peer) -> Self {
        Self {
            peer,
            strip_data: false,
            blackhole_nth: None,
            blackhole_tsn: None,
            blackhole_on: true,
            data_packets: 0,
        }
    }

    /// Whether `d` must be lost to the blackhole.
    fn blackholed(&mut self, d: &Datagram) -> bool {
        if self.blackhole_nth.is_none() {
            return false;
        }
        let Ok(packet) = Packet::parse(d.data.clone()) else {
            return false;
        };
        let tsns: Vec<u32> = packet
            .chunks()
            .filter(|c| c.typ == ChunkType::DATA || c.typ == ChunkType::IDATA)
            .filter_map(|c| {
                c.value
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            })
            .collect();
        if tsns.is_empty() {
            return false;
        }
        self.data_packets += 1;
        if self.blackhole_tsn.is_none() && Some(self.data_packets) == self.blackhole_nth {
            self.blackhole_tsn = Some(tsns[0]);
        }
        self.blackhole_on && self.blackhole_tsn.is_some_and(|t| tsns.contains(&t))
    }
}

impl Node for Host {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        self.peer.handle_datagram(now, local, remote, data);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        loop {
            let d = self.peer.poll_transmit(now)?;
            if self.blackholed(&d) {
                continue;
            }
            if !self.strip_data {
                return Some(d);
            }
            let packet = Packet::parse(d.data.clone()).expect("own packet parses");
            let mut out = Vec::new();
            let mut b = PacketBuilder::new(&mut out, *packet.header(), usize::from(u16::MAX));
            for raw in packet.chunks() {
                if raw.typ == ChunkType::DATA || raw.typ == ChunkType::IDATA {
                    continue;
                }
                b.add_raw(&raw, false).expect("fits");
            }
            if b.is_empty() {
                continue;
            }
            let len = b.finish();
            out.truncate(len);
            return Some(Datagram {
                data: Bytes::from(out),
                ..d
            });
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.peer.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.peer.handle_timeout(now);
    }
}

/// How client 0 goes silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Silence {
    /// It crashes: its link is cut both ways; its association dies.
    Dies,
    /// It lives and answers heartbeats, but no DATA of it arrives any more.
    Stalls,
}

/// What a run measured.
#[derive(Debug)]
struct Outcome {
    /// Largest delivery latency of the small messages before client 0
    /// started its message.
    baseline_max: Duration,
    /// Largest delivery latency of the small messages sent while client
    /// 0's message was stalled (from the silence until its partial message
    /// was released), and how many there were.
    stalled_max: Duration,
    stalled_count: usize,
    /// How long client 0's message stalled, in simulated time.
    stall: Duration,
    /// Bytes of client 0's message delivered (as pieces) before it went
    /// silent was detected.
    pieces_bytes: usize,
    pieces: usize,
    /// The aborted-message delivery for client 0's message, if any.
    aborted: Option<(usize, AbortReason)>,
    /// Whether the server reported client 0's association closed, and why.
    closed: Option<CloseReason>,
    /// Small messages sent and delivered in the whole run, per client.
    small_sent: usize,
    small_delivered: usize,
    /// Most received bytes the server held at once, and its budget.
    peak_memory: usize,
    memory_budget: usize,
}

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 1, i as u8 + 1], 9899))
}

const SERVER: &str = "10.0.0.2:9899";

/// Payload of a small message: client, sequence number and send time.
fn small(client: usize, seq: u32, sent_ns: u64) -> Bytes {
    let mut v = vec![0u8; SMALL];
    v[0..4].copy_from_slice(&(client as u32).to_le_bytes());
    v[4..8].copy_from_slice(&seq.to_le_bytes());
    v[8..16].copy_from_slice(&sent_ns.to_le_bytes());
    Bytes::from(v)
}

fn run_scenario(serial_lksctp: bool, silence: Silence) -> Outcome {
    let seed = 2005;
    let mut net: Network<Host> = Network::new(seed);
    net.set_default_link(LinkConfig {
        delay: DELAY,
        ..LinkConfig::DEFAULT
    });
    let start = net.now();
    let ns = |t: Instant| (t - start).as_nanos() as u64;

    // Server: a receive window (256 KiB) smaller than the message, pieces
    // of at most 64 KiB, partial delivery from 128 KiB of contiguous data.
    let mut sc = EndpointConfig::with_seed(seed);
    sc.receive_memory_budget = 8 << 20;
    let a = &mut sc.association;
    a.receive_buffer = 256 << 10;
    a.max_message_size = 64 << 10;
    a.rto_initial = Duration::from_millis(100);
    a.rto_min = Duration::from_millis(100);
    a.rto_max = Duration::from_millis(400);
    a.heartbeat_interval = Some(Duration::from_millis(500));
    a.max_retransmissions = 4;
    a.path_max_retransmissions = 2;
    a.incomplete_message_timeout = Some(Duration::from_secs(2));
    a.lksctp_serial_partial_delivery = serial_lksctp;
    let budget = sc.receive_memory_budget;
    let server_addr: SocketAddr = SERVER.parse().expect("addr");
    let server = net
        .add_node(
            Host::new(Peer::new(sc.clone(), server_addr, start)),
            &[server_addr],
        )
        .expect("node");
    let mut clients: Vec<NodeId> = Vec::new();
    for i in 0..CLIENTS {
        let mut cc = EndpointConfig::with_seed(seed * 1000 + i as u64);
        cc.accept_incoming = false;
        let a = &mut cc.association;
        a.send_buffer = 2 << 20;
        a.rto_initial = Duration::from_millis(100);
        a.rto_min = Duration::from_millis(100);
        a.rto_max = Duration::from_millis(400);
        a.heartbeat_interval = Some(Duration::from_millis(500));
        // A stalled client 0 keeps retransmitting its DATA (it never gets
        // through) without giving up on the association.
        a.max_retransmissions = if i == 0 { 1000 } else { 4 };
        let addr = client_addr(i);
        let id = net
            .add_node(Host::new(Peer::new(cc, addr, start)), &[addr])
            .expect("node");
        clients.push(id);
    }
    // Every client connects.
    let mut handles: Vec<AssociationHandle> = Vec::new();
    for &c in &clients {
        let now = net.now();
        let h = net
            .node_mut(c)
            .peer
            .ep
            .connect(now, server_addr, 9899)
            .expect("connect");
        handles.push(h);
    }
    net.run_until_cond(
        |n| {
            n.node(server).peer.connected().len() == CLIENTS
                && clients
                    .iter()
                    .all(|&c| !n.node(c).peer.connected().is_empty())
        },
        Duration::from_secs(10),
    )
    .expect("all clients connected");
    // The server's handle of client 0's association.
    let c0 = client_addr(0);
    let server_h0 = net
        .node(server)
        .peer
        .events
        .iter()
        .find_map(|e| match e {
            Event::Connected {
                association,
                remote,
                ..
            } if *remote == c0 => Some(*association),
            _ => None,
        })
        .expect("client 0 connected");

    let mut out = Outcome {
        baseline_max: Duration::ZERO,
        stalled_max: Duration::ZERO,
        stalled_count: 0,
        stall: Duration::ZERO,
        pieces_bytes: 0,
        pieces: 0,
        aborted: None,
        closed: None,
        small_sent: 0,
        small_delivered: 0,
        peak_memory: 0,
        memory_budget: budget,
    };

    #[derive(PartialEq, Eq, Clone, Copy, Debug)]
    enum Phase {
        /// Small messages only: the baseline.
        Baseline,
        /// Client 0 is sending its message.
        Big,
        /// Client 0 went silent; waiting for its partial to be released.
        Silent,
        /// Released; a little more traffic.
        After,
    }
    let mut phase = Phase::Baseline;
    let phase_start = net.now();
    let mut silent_at = None;
    let mut released_at = None;
    let mut seqs = [0u32; CLIENTS];
    let mut next_send: Vec<Instant> = (0..CLIENTS)
        .map(|i| net.now() + PERIOD * i as u32 / CLIENTS as u32)
        .collect();
    let mut steps = 0u64;
    // (send time, delivery latency) of every small message.
    let mut latencies: Vec<(u64, Duration)> = Vec::new();
    let mut big_sent_at = None;
    loop {
        steps += 1;
        assert!(steps < 5_000_000, "step bound reached in phase {phase:?}");
        let now = net.now();
        assert!(
            now - start < Duration::from_secs(60),
            "time bound reached in phase {phase:?}"
        );
        let sending = released_at.is_none_or(|r| now < r + Duration::from_millis(500));
        if !sending && out.small_delivered == out.small_sent {
            break;
        }
        // Clients 1.. send their small messages on schedule.
        for i in (1..CLIENTS).filter(|_| sending) {
            if next_send[i] <= now {
                next_send[i] += PERIOD;
                let msg = small(i, seqs[i], ns(now));
                seqs[i] += 1;
                let h = handles[i];
                net.node_mut(clients[i])
                    .peer
                    .ep
                    .send(now, h, StreamId(1), SMALL_PPID, msg, SendOptions::default())
                    .expect("small send");
                out.small_sent += 1;
            }
        }
        // The server application reads promptly (the Peer drains on every
        // event) and answers every small message.
        let received = std::mem::take(&mut net.node_mut(server).peer.received);
        for r in received {
            let d = &r.delivery;
            if d.ppid == SMALL_PPID {
                let sent_ns = u64::from_le_bytes(d.payload[8..16].try_into().expect("8"));
                let latency = Duration::from_nanos(ns(now) - sent_ns);
                out.small_delivered += 1;
                latencies.push((sent_ns, latency));
                // Echo it back: an exchange, not a one-way feed.
                let _ = net.node_mut(server).peer.ep.send(
                    now,
                    r.association,
                    StreamId(1),
                    SMALL_PPID,
                    d.payload.clone(),
                    SendOptions::default(),
                );
            } else {
                assert_eq!(r.association, server_h0, "only client 0 sends big data");
                match d.kind {
                    DeliveryKind::Piece { end_of_record, .. } => {
                        assert!(!end_of_record, "client 0's message can never complete");
                        out.pieces += 1;
                        out.pieces_bytes += d.payload.len();
                    }
                    DeliveryKind::Aborted { delivered, reason } => {
                        assert_eq!(
                            delivered, out.pieces_bytes,
                            "aborted event counts the pieces"
                        );
                        out.aborted = Some((delivered, reason));
                        if phase == Phase::Silent {
                            released_at = Some(now);
                            out.stall = now - silent_at.expect("silent");
                            phase = Phase::After;
                        }
                    }
                    other => panic!("unexpected delivery {other:?} from client 0"),
                }
            }
        }
        for e in net.node_mut(server).peer.events.drain(..) {
            if let Event::Closed {
                association,
                reason,
                ..
            } = e
            {
                assert_eq!(
                    association, server_h0,
                    "only client 0's association may end"
                );
                out.closed = Some(reason);
            }
        }
        for &c in &clients[1..] {
            net.node_mut(c).peer.received.clear();
        }
        out.peak_memory = out.peak_memory.max(net.node(server).peer.ep.memory_used());
        assert!(
            net.node(server)
                .peer
                .ep
                .receive_buffered(server_h0)
                .is_none_or(|b| b <= 256 << 10),
            "client 0 holds more than its own buffer"
        );

        // Phase changes.
        match phase {
            Phase::Baseline if now - phase_start >= Duration::from_secs(1) => {
                let h = handles[0];
                let msg = Bytes::from(vec![0xb1u8; BIG]);
                net.node_mut(clients[0])
                    .peer
                    .ep
                    .send(now, h, StreamId(3), BIG_PPID, msg, SendOptions::default())
                    .expect("big send");
                big_sent_at = Some(ns(now));
                phase = Phase::Big;
            }
            Phase::Big if out.pieces_bytes >= BIG / 2 => {
                // Client 0 has delivered half of its message: silence.
                match silence {
                    Silence::Dies => {
                        let cut = LinkConfig {
                            delay: DELAY,
                            ..LinkConfig::DEFAULT
                        }
                        .cut();
                        net.set_link_both(clients[0], server, cut);
                    }
                    Silence::Stalls => net.node_mut(clients[0]).strip_data = true,
                }
                silent_at = Some(now);
                phase = Phase::Silent;
            }
            _ => {}
        }

        // Advance to the next event or the next scheduled send.
        let next_tx = next_send[1..].iter().min().copied().filter(|_| sending);
        match (net.next_event(), next_tx) {
            (Some(t), Some(tx)) if t > tx => net.run_until(tx).expect("no stall"),
            (None, Some(tx)) => net.run_until(tx).expect("no stall"),
            (None, None) => panic!("idle in phase {phase:?}"),
            _ => {
                net.step();
            }
        }
    }
    // Classify the small messages by when they were sent: before client 0
    // started its message, or while its partial message was stalled.
    let big_sent_at = big_sent_at.expect("big message sent");
    let (silent, released) = (
        ns(silent_at.expect("went silent")),
        ns(released_at.expect("released")),
    );
    for &(sent, latency) in &latencies {
        if sent < big_sent_at {
            out.baseline_max = out.baseline_max.max(latency);
        } else if (silent..released).contains(&sent) {
            out.stalled_max = out.stalled_max.max(latency);
            out.stalled_count += 1;
        }
    }
    out
}

fn assert_per_association_delivery(o: &Outcome, silence: Silence) {
    println!("{silence:?}, per-association delivery: {o:#?}");
    // Client 0 really started a partial delivery of more than half.
    assert!(o.pieces_bytes >= BIG / 2, "{o:?}");
    // The latency bound.
    assert!(o.stalled_count > 1000, "the others kept talking: {o:?}");
    assert!(
        o.stalled_max <= o.baseline_max + RTT,
        "small messages were held up while client 0 stalled: {o:?}"
    );
    assert_eq!(
        o.small_delivered, o.small_sent,
        "every small message arrived"
    );
    assert!(o.peak_memory <= o.memory_budget);
    match silence {
        Silence::Dies => {
            assert_eq!(
                o.aborted.map(|a| a.1),
                Some(AbortReason::AssociationEnded),
                "{o:?}"
            );
            assert_eq!(o.closed, Some(CloseReason::Unreachable), "{o:?}");
        }
        Silence::Stalls => {
            assert_eq!(o.aborted.map(|a| a.1), Some(AbortReason::Timeout), "{o:?}");
            assert_eq!(o.closed, None, "client 0 stayed connected: {o:?}");
            // Released by the 2 s incomplete-message limit, not sooner.
            assert!(o.stall >= Duration::from_secs(2), "{o:?}");
        }
    }
}

fn assert_serial_delivery_breaks_the_bound(o: &Outcome, silence: Silence) {
    println!("{silence:?}, lksctp-style serial delivery: {o:#?}");
    assert!(o.pieces_bytes >= BIG / 2, "{o:?}");
    assert!(o.aborted.is_some(), "the partial is still released: {o:?}");
    // Everyone else waited for client 0's partial delivery to end.
    assert!(
        o.stalled_max > o.baseline_max + RTT,
        "serial delivery should have held the small messages up: {o:?}"
    );
    assert!(o.stalled_max >= o.stall / 2, "{o:?}");
}

#[test]
fn a_peer_that_dies_mid_message_does_not_delay_the_others() {
    let o = run_scenario(false, Silence::Dies);
    assert_per_association_delivery(&o, Silence::Dies);
}

#[test]
fn a_peer_that_stalls_mid_message_does_not_delay_the_others() {
    let o = run_scenario(false, Silence::Stalls);
    assert_per_association_delivery(&o, Silence::Stalls);
}

#[test]
fn lksctp_serial_delivery_lets_a_dead_peer_delay_everyone() {
    let o = run_scenario(true, Silence::Dies);
    assert_serial_delivery_breaks_the_bound(&o, Silence::Dies);
}

#[test]
fn lksctp_serial_delivery_lets_a_stalled_peer_delay_everyone() {
    let o = run_scenario(true, Silence::Stalls);
    assert_serial_delivery_breaks_the_bound(&o, Silence::Stalls);
}

/// The seed's denial-of-service variant: "creating a number of
/// associations that stall mid message on purpose would make for a very
/// effective denial of service attack". An honest client holds reordered
/// data above a lost packet at the server -- more than its fair share of
/// the endpoint budget, taken while memory was free -- when four peers fill
/// the rest of the budget with data that can never be delivered (ordered
/// messages whose predecessor never arrives). The retransmission that fills
/// the honest client's gap must still get in: it releases what the client
/// holds, and its transfer completes. (Before `handle_user_data` let that
/// chunk use the association's own buffer, the honest client stalled until
/// the incomplete-message timeout discarded three of its messages.)
#[test]
fn stalled_peers_that_exhaust_the_budget_do_not_wedge_an_honest_one() {
    let seed = 2006;
    let mut net: Network<Host> = Network::new(seed);
    net.set_default_link(LinkConfig {
        delay: DELAY,
        ..LinkConfig::DEFAULT
    });
    let start = net.now();
    let mut sc = EndpointConfig::with_seed(seed);
    sc.receive_memory_budget = 1 << 20;
    sc.association.receive_buffer = 256 << 10;
    let server_addr: SocketAddr = SERVER.parse().expect("addr");
    let server = net
        .add_node(Host::new(Peer::new(sc, server_addr, start)), &[server_addr])
        .expect("node");
    let mut clients = Vec::new();
    for i in 0..5 {
        let mut cc = EndpointConfig::with_seed(seed * 1000 + i as u64);
        cc.accept_incoming = false;
        cc.association.send_buffer = 4 << 20;
        let addr = client_addr(i);
        let id = net
            .add_node(Host::new(Peer::new(cc, addr, start)), &[addr])
            .expect("node");
        let h = net
            .node_mut(id)
            .peer
            .ep
            .connect(start, server_addr, 9899)
            .expect("connect");
        clients.push((id, h));
    }
    net.run_until_cond(
        |n| n.node(server).peer.connected().len() == 5,
        Duration::from_secs(10),
    )
    .expect("connected");
    let server_handle = |n: &Network<Host>, i: usize| {
        n.node(server)
            .peer
            .events
            .iter()
            .find_map(|e| match e {
                Event::Connected {
                    association,
                    remote,
                    ..
                } if *remote == client_addr(i) => Some(*association),
                _ => None,
            })
            .expect("connected")
    };
    let honest_at_server = server_handle(&net, 0);
    // The honest client sends 2 MB; every transmission of the first TSN of
    // its 300th data packet is lost (for now).
    let (honest, h0) = clients[0];
    net.node_mut(honest).blackhole_nth = Some(300);
    const N: u32 = 2000;
    let now = net.now();
    for i in 0..N {
        net.node_mut(honest)
            .peer
            .ep
            .send(
                now,
                h0,
                StreamId(0),
                Ppid(i),
                Bytes::from(vec![i as u8; 1000]),
                SendOptions::default(),
            )
            .expect("send");
    }
    let fair = (1 << 20) / 5;
    net.run_until_cond(
        |n| {
            n.node(server)
                .peer
                .ep
                .receive_buffered(honest_at_server)
                .is_some_and(|b| b > fair)
        },
        Duration::from_secs(30),
    )
    .expect("the honest client's reordered data passes its fair share");
    // Four peers do the same on an ordered stream, but their lost packet
    // never gets through: what they send after it can never be delivered.
    for &(id, h) in &clients[1..] {
        let now = net.now();
        let host = net.node_mut(id);
        host.blackhole_nth = Some(150);
        for i in 0..N {
            host.peer
                .ep
                .send(
                    now,
                    h,
                    StreamId(1),
                    Ppid(i),
                    Bytes::from(vec![1u8; 1000]),
                    SendOptions::default(),
                )
                .expect("send");
        }
    }
    net.run_for(Duration::from_secs(2)).expect("runs");
    let used = net.node(server).peer.ep.memory_used();
    assert!(
        used > (1 << 20) - (32 << 10),
        "the budget is exhausted: {used}"
    );
    // The honest client's lost packet may get through now.
    net.node_mut(honest).blackhole_on = false;
    // Whole messages, or pieces of one (the server may start a partial
    // delivery to relieve its full buffer): count messages ended.
    let honest_delivered = |n: &Network<Host>| {
        n.node(server)
            .peer
            .received
            .iter()
            .filter(|r| {
                r.association == honest_at_server
                    && matches!(
                        r.delivery.kind,
                        DeliveryKind::Message
                            | DeliveryKind::Piece {
                                end_of_record: true,
                                ..
                            }
                    )
            })
            .count()
    };
    net.run_until_cond(
        |n| honest_delivered(n) == N as usize,
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| {
        panic!(
            "the honest client wedged ({e}): {} of {N} delivered, the server holds {} bytes",
            honest_delivered(&net),
            net.node(server).peer.ep.memory_used()
        )
    });
    // Every message in order, whole: the bytes say which one it is.
    let mut bytes: Vec<u8> = Vec::new();
    let mut messages = Vec::new();
    for r in &net.node(server).peer.received {
        if r.association != honest_at_server {
            continue;
        }
        bytes.extend_from_slice(&r.delivery.payload);
        if matches!(
            r.delivery.kind,
            DeliveryKind::Message
                | DeliveryKind::Piece {
                    end_of_record: true,
                    ..
                }
        ) {
            messages.push(std::mem::take(&mut bytes));
        }
    }
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.len(), 1000, "message {i}");
        assert!(m.iter().all(|&b| b == i as u8), "message {i}");
    }
}
