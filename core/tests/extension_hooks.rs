//! The extension seam (core/src/extension.rs) driven through every hook by
//! a toy extension, over a hand-driven wire with explicit time: chunk and
//! parameter registration, INIT / INIT ACK parameters and the cookie field,
//! the COOKIE ECHO gate and bundle, chunks after COOKIE ACK, chunks in
//! packet order with look-ahead, data within the association's congestion
//! window, timers, held deliveries, acks, closure, and packets to a
//! non-unicast address that only the extension may claim and that are
//! never answered. Core knows nothing of what the toy does.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::cause::ErrorCause;
use mcsctp_core::chunk::{Chunk, ChunkType, InitCommon, RawChunk};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::{Endpoint, SendOptions};
use mcsctp_core::event::{AssociationHandle, CloseReason, Event, Transmit};
use mcsctp_core::extension::{
    ChunkVerdict, Context, Establishment, Extension, InitAckExtras, NoExtension, Registration, Room,
};
use mcsctp_core::packet::{CommonHeader, Packet, PacketBuilder, ParseOptions};
use mcsctp_core::param::{ParamType, RawParam, SupportedExtensions, WireParam};
use mcsctp_core::rx::reassembly::{Delivery, DeliveryKind, Origin};
use mcsctp_core::serial::{Mid, Ppid, Ssn, StreamId, VerificationTag};

/// A control chunk: high bits 11, "skip and report" where unknown.
const TOY_CTRL: ChunkType = ChunkType(0xCB);
/// A data chunk: high bits 01, "stop and report" where unknown.
const TOY_DATA: ChunkType = ChunkType(0x4B);
/// The prefix chunk of marked messages: a data chunk (it travels among
/// data chunks), high bits 01.
const TOY_BARRIER: ChunkType = ChunkType(0x4C);
const TOY_OFFER: ParamType = ParamType(0xC0AB);
const TOY_ACCEPT: ParamType = ParamType(0xC0AC);
const GROUP_TAG: u32 = 0x00DD_BA11;
const HOLD_FOR: Duration = Duration::from_millis(10);

/// An arbitrary origin (an `Instant` cannot be made otherwise); from then on
/// time moves only as the tests drive it.
fn epoch() -> Instant {
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

fn a_addr() -> SocketAddr {
    "10.0.0.1:9899".parse().unwrap()
}
fn z_addr() -> SocketAddr {
    "10.0.0.2:9899".parse().unwrap()
}
fn group() -> SocketAddr {
    "239.1.2.3:9899".parse().unwrap()
}

fn raw(typ: ChunkType, flags: u8, value: &[u8]) -> RawChunk {
    RawChunk {
        typ,
        flags,
        value: Bytes::copy_from_slice(value),
    }
}

/// What the toy does and what it saw.
#[derive(Default)]
struct Toy {
    offer: bool,
    hold_first_echo: bool,
    echo_asked: u32,
    released: bool,
    hooks: BTreeSet<&'static str>,
    log: Vec<String>,
    peer_offered: HashMap<AssociationHandle, bool>,
    /// Toy data to send per association.
    pending: HashMap<AssociationHandle, VecDeque<Bytes>>,
    /// Whether the receiving toy acknowledges toy data.
    ack_data: bool,
    /// Most toy-data bytes in flight seen at once.
    max_flight: usize,
    flight_now: usize,
    barrier_next: Vec<AssociationHandle>,
    /// Held (stream, SSN or MID) and when they are released.
    held: Vec<(u16, u32, Instant)>,
    wake: Vec<AssociationHandle>,
    group_out: VecDeque<(Instant, Bytes)>,
    group_assoc: Option<AssociationHandle>,
    sacks: u32,
    closed: Vec<AssociationHandle>,
    /// (mark, TSN) of every prefix chunk asked for.
    prefixed: Vec<(u32, u32)>,
    /// User messages the toy sends as the application would.
    messages: Vec<Bytes>,
    /// Give up on the peer (Context::abort) at the association timer.
    abort_on_timer: bool,
    /// With `abort_on_timer`: as a protocol violation instead.
    violation: bool,
    /// What the sent-data accessors said about the marked TSN: in the
    /// prefix hook (core is building a packet) and after each SACK (TSN,
    /// is_acked, cumulative TSN ack, next TSN).
    prefix_view: Vec<(Option<bool>, Option<u32>, bool)>,
    sack_view: Vec<SackView>,
    /// has_received of the TSN a barrier names, when it arrived.
    received_view: Vec<Option<bool>>,
}

/// (TSN, is_acked, cumulative TSN ack, next TSN) seen after a SACK.
type SackView = (u32, Option<bool>, Option<u32>, Option<u32>);

impl Toy {
    fn hit(&mut self, h: &'static str) {
        self.hooks.insert(h);
    }
}

impl Extension for Toy {
    fn registration(&self) -> Registration {
        Registration::new(
            &[TOY_CTRL, TOY_DATA, TOY_BARRIER],
            &[TOY_DATA, TOY_BARRIER],
            &[TOY_OFFER, TOY_ACCEPT],
        )
        .with_prefix_len(8)
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.hit("poll_transmit");
        let (at, _) = self.group_out.front()?;
        if *at > now {
            return None;
        }
        let (_, payload) = self.group_out.pop_front()?;
        let header = CommonHeader {
            src_port: 9899,
            dst_port: 9899,
            verification_tag: VerificationTag(GROUP_TAG),
        };
        let mut b = PacketBuilder::new(buf, header, 1200);
        b.add_raw(&raw(TOY_DATA, 0, &payload), true).ok()?;
        let len = b.finish();
        Some(Transmit {
            destination: group(),
            len,
            segment_size: None,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.group_out.front().map(|(t, _)| *t)
    }

    fn handle_timeout(&mut self, _now: Instant) {
        self.hit("handle_timeout");
    }

    fn claim_packet(
        &mut self,
        _now: Instant,
        local: SocketAddr,
        _remote: SocketAddr,
        packet: &Packet,
    ) -> Option<AssociationHandle> {
        self.hit("claim_packet");
        (local == group() && packet.header().verification_tag.0 == GROUP_TAG)
            .then_some(self.group_assoc)
            .flatten()
    }

    fn drain_wakeups(&mut self, out: &mut Vec<AssociationHandle>) {
        if !self.wake.is_empty() {
            self.hit("drain_wakeups");
        }
        out.append(&mut self.wake);
    }

    fn init_params(&mut self, _a: AssociationHandle, _remote: SocketAddr) -> Vec<RawParam> {
        self.hit("init_params");
        if self.offer {
            vec![RawParam {
                typ: TOY_OFFER,
                value: Bytes::from_static(b"offer"),
            }]
        } else {
            Vec::new()
        }
    }

    fn init_ack_params(&self, _remote: SocketAddr, init: &InitCommon) -> InitAckExtras {
        let offered = init.params.iter().any(|p| p.typ == TOY_OFFER);
        InitAckExtras {
            params: if offered {
                vec![RawParam {
                    typ: TOY_ACCEPT,
                    value: Bytes::from_static(b"accept"),
                }]
            } else {
                Vec::new()
            },
            cookie: Bytes::from(if offered { "toy:yes" } else { "toy:no" }),
        }
    }

    fn on_init_ack(&mut self, cx: &mut Context<'_>, init_ack: &InitCommon) {
        self.hit("on_init_ack");
        let accepted = init_ack.params.iter().any(|p| p.typ == TOY_ACCEPT);
        self.peer_offered.insert(cx.association(), accepted);
        self.log.push(format!("init_ack accepted={accepted}"));
    }

    fn cookie_echo(&mut self, _cx: &mut Context<'_>, bundle: &mut Vec<RawChunk>) -> bool {
        self.hit("cookie_echo");
        self.echo_asked += 1;
        if self.hold_first_echo && !self.released {
            self.log.push("echo held".into());
            return false;
        }
        bundle.push(raw(TOY_CTRL, 0, b"echo"));
        true
    }

    fn on_established(&mut self, cx: &mut Context<'_>, how: Establishment<'_>) {
        self.hit("on_established");
        match how {
            Establishment::Accepted { cookie } | Establishment::Repeated { cookie } => {
                let yes = cookie == b"toy:yes";
                self.peer_offered.insert(cx.association(), yes);
                self.log.push(format!(
                    "established {} cookie={}",
                    if matches!(how, Establishment::Accepted { .. }) {
                        "accepted"
                    } else {
                        "repeated"
                    },
                    String::from_utf8_lossy(cookie)
                ));
                if yes && matches!(how, Establishment::Accepted { .. }) {
                    cx.send_chunk(raw(TOY_CTRL, 0, b"welcome"));
                }
            }
            Establishment::Connected => self.log.push("established connected".into()),
            _ => self.log.push("established other".into()),
        }
        self.group_assoc = Some(cx.association());
    }

    fn handle_chunk(
        &mut self,
        cx: &mut Context<'_>,
        chunk: &RawChunk,
        next: Option<&RawChunk>,
    ) -> ChunkVerdict {
        self.hit("handle_chunk");
        if !self
            .peer_offered
            .get(&cx.association())
            .copied()
            .unwrap_or(false)
        {
            return ChunkVerdict::Unrecognized;
        }
        let text = String::from_utf8_lossy(&chunk.value).into_owned();
        if chunk.typ == TOY_DATA {
            self.log
                .push(format!("data {text} foreign={}", cx.foreign()));
            if self.ack_data && !cx.foreign() {
                let n = chunk.len().to_string();
                cx.send_chunk(raw(TOY_CTRL, 0, format!("ack:{n}").as_bytes()));
            }
            cx.deliver(Delivery {
                stream: StreamId(0),
                ppid: Ppid(0),
                unordered: false,
                kind: DeliveryKind::Message,
                ssn: Ssn(0),
                mid: Mid(0),
                payload: chunk.value.clone(),
                origin: Origin::Association,
            });
            return ChunkVerdict::Continue;
        }
        self.log.push(format!("ctrl {text}"));
        if let Some(n) = text.strip_prefix("ack:") {
            let n: usize = n.parse().unwrap_or(0);
            cx.data_acked(n);
            self.flight_now = cx.data_in_flight();
        } else if text == "barrier" || chunk.typ == TOY_BARRIER {
            // Look-ahead: the barrier qualifies the DATA chunk after it.
            self.hit("look_ahead");
            let (stream, seq, tsn) = match next.cloned().map(Chunk::parse) {
                Some(Ok(Chunk::Data(d))) => (d.stream.0, u32::from(d.ssn.0), d.tsn),
                Some(Ok(Chunk::IData(d))) => (d.stream.0, d.mid.0, d.tsn),
                _ => panic!("a barrier must precede a DATA or I-DATA chunk: {next:?}"),
            };
            self.received_view.push(cx.has_received(tsn));
            self.held.push((stream, seq, cx.now() + HOLD_FOR));
            self.log
                .push(format!("barrier on stream {stream} seq {seq}"));
        }
        ChunkVerdict::Continue
    }

    fn poll_chunks(&mut self, cx: &mut Context<'_>, room: Room, out: &mut Vec<RawChunk>) {
        self.hit("poll_chunks");
        let h = cx.association();
        for m in self.messages.drain(..) {
            cx.send_message(mcsctp_core::tx::send_queue::OutgoingMessage::new(
                StreamId(3),
                Ppid(9),
                m,
            ))
            .unwrap();
        }
        if self.barrier_next.contains(&h) {
            self.barrier_next.retain(|&x| x != h);
            out.push(raw(TOY_CTRL, 0, b"barrier"));
        }
        let mut window = room.window;
        let mut space = room.packet;
        if let Some(q) = self.pending.get_mut(&h) {
            while let Some(p) = q.front() {
                let len = 4 + p.len();
                if len > window || len.next_multiple_of(4) > space {
                    break;
                }
                window -= len;
                space -= len.next_multiple_of(4);
                out.push(raw(TOY_DATA, 0, p));
                q.pop_front();
            }
        }
        self.flight_now = cx.data_in_flight() + (room.window - window);
        self.max_flight = self.max_flight.max(self.flight_now);
    }

    fn prefix_chunk(
        &mut self,
        cx: &mut Context<'_>,
        mark: u32,
        tsn: mcsctp_core::serial::Tsn,
        _first: &mcsctp_core::user_data::UserDataChunk,
    ) -> Option<RawChunk> {
        self.hit("prefix_chunk");
        self.prefixed.push((mark, tsn.0));
        self.prefix_view.push((
            cx.is_acked(tsn),
            cx.next_tsn().map(|t| t.0),
            cx.is_queued(mark),
        ));
        Some(raw(TOY_BARRIER, 0, &tsn.0.to_be_bytes()))
    }

    fn has_chunks(&self, a: AssociationHandle) -> bool {
        !self.messages.is_empty()
            || self.barrier_next.contains(&a)
            || self.pending.get(&a).is_some_and(|q| !q.is_empty())
    }

    fn association_timeout(&self, _a: AssociationHandle) -> Option<Instant> {
        self.held.iter().map(|h| h.2).min()
    }

    fn handle_association_timeout(&mut self, cx: &mut Context<'_>) {
        self.hit("handle_association_timeout");
        if self.abort_on_timer && self.violation {
            cx.abort_protocol_violation(b"toy saw a violation");
        } else if self.abort_on_timer {
            cx.abort(b"toy gave up");
        }
        let now = cx.now();
        self.held.retain(|h| h.2 > now);
        self.log.push("barrier released".into());
        self.wake.push(cx.association());
    }

    fn hold_delivery(&mut self, _cx: &mut Context<'_>, d: &Delivery) -> bool {
        self.hit("hold_delivery");
        let seq = u32::from(d.ssn.0).max(d.mid.0);
        self.held
            .iter()
            .any(|&(s, q, _)| s == d.stream.0 && q == seq)
    }

    fn on_delivered(&mut self, _cx: &mut Context<'_>, d: &Delivery) {
        self.hit("on_delivered");
        let seq = u32::from(d.ssn.0).max(d.mid.0);
        self.log
            .push(format!("delivered stream {} seq {seq}", d.stream.0));
    }

    fn on_sack(&mut self, cx: &mut Context<'_>, _cum: mcsctp_core::serial::Tsn) {
        self.hit("on_sack");
        self.sacks += 1;
        if let Some(&(_, t)) = self.prefixed.first() {
            let tsn = mcsctp_core::serial::Tsn(t);
            self.sack_view.push((
                t,
                cx.is_acked(tsn),
                cx.cumulative_tsn_ack().map(|c| c.0),
                cx.next_tsn().map(|n| n.0),
            ));
        }
    }

    fn on_closed(&mut self, a: AssociationHandle, _reason: &CloseReason) {
        self.hit("on_closed");
        self.closed.push(a);
    }
}

/// Every hook a test must see called.
const ALL_HOOKS: &[&str] = &[
    "poll_transmit",
    "handle_timeout",
    "claim_packet",
    "drain_wakeups",
    "init_params",
    "on_init_ack",
    "cookie_echo",
    "on_established",
    "handle_chunk",
    "look_ahead",
    "poll_chunks",
    "prefix_chunk",
    "handle_association_timeout",
    "hold_delivery",
    "on_delivered",
    "on_sack",
    "on_closed",
];

/// One datagram on the wire.
#[derive(Debug, Clone)]
struct Datagram {
    to: SocketAddr,
    bytes: Bytes,
}

impl Datagram {
    fn chunk_types(&self) -> Vec<ChunkType> {
        let opts = ParseOptions {
            extra_data_types: mcsctp_core::chunk::ChunkTypeSet::EMPTY.with(TOY_DATA),
            ..ParseOptions::default()
        };
        Packet::parse_with(self.bytes.clone(), &opts)
            .expect("every packet on the wire parses")
            .chunks()
            .map(|c| c.typ)
            .collect()
    }
}

/// Two endpoints, A (client) and Z (server), and the wire between them.
struct Net<XA: Extension, XZ: Extension> {
    now: Instant,
    a: Endpoint<XA>,
    z: Endpoint<XZ>,
    /// Everything sent, in order.
    log: Vec<Datagram>,
    /// Duplicate the next COOKIE ECHO once.
    dup_cookie_echo: bool,
    /// Drop the next datagram that carries this chunk type.
    drop_next: Option<ChunkType>,
}

impl<XA: Extension, XZ: Extension> Net<XA, XZ> {
    fn new(xa: XA, xz: XZ) -> Self {
        let now = epoch();
        let mut ca = EndpointConfig::with_seed(1);
        ca.accept_incoming = false;
        let cz = EndpointConfig::with_seed(2);
        Self {
            now,
            a: Endpoint::with_extension(ca, now, xa).unwrap(),
            z: Endpoint::with_extension(cz, now, xz).unwrap(),
            log: Vec::new(),
            dup_cookie_echo: false,
            drop_next: None,
        }
    }

    /// Moves packets until the wire is quiet (bounded).
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            let mut buf = Vec::new();
            while let Some(t) = self.a.poll_transmit(self.now, &mut buf) {
                let bytes = Bytes::from(std::mem::take(&mut buf));
                assert_eq!(bytes.len(), t.len);
                self.deliver(a_addr(), t.destination, bytes);
                moved = true;
            }
            while let Some(t) = self.z.poll_transmit(self.now, &mut buf) {
                let bytes = Bytes::from(std::mem::take(&mut buf));
                self.deliver(z_addr(), t.destination, bytes);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the wire never went quiet");
    }

    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, bytes: Bytes) {
        let d = Datagram {
            to,
            bytes: bytes.clone(),
        };
        if let Some(t) = self.drop_next
            && d.chunk_types().contains(&t)
        {
            self.drop_next = None;
            self.log.push(d);
            return;
        }
        let times =
            if self.dup_cookie_echo && d.chunk_types().first() == Some(&ChunkType::COOKIE_ECHO) {
                self.dup_cookie_echo = false;
                2
            } else {
                1
            };
        for _ in 0..times {
            self.log.push(d.clone());
            if to == z_addr() {
                self.z.handle_datagram(self.now, to, from, bytes.clone());
            } else {
                // A's own address, or the group A has joined.
                self.a.handle_datagram(self.now, to, from, bytes.clone());
            }
        }
    }

    /// Advances time to `t`, firing timers on the way (bounded).
    fn advance(&mut self, t: Instant) {
        for _ in 0..10_000 {
            let next = [self.a.poll_timeout(), self.z.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(n) if n <= t => {
                    self.now = self.now.max(n);
                    self.a.handle_timeout(self.now);
                    self.z.handle_timeout(self.now);
                    self.settle();
                }
                _ => {
                    self.now = t;
                    self.a.handle_timeout(t);
                    self.z.handle_timeout(t);
                    self.settle();
                    return;
                }
            }
        }
        panic!("timers never quietened");
    }

    fn connect(&mut self) -> (AssociationHandle, AssociationHandle) {
        let ha = self.a.connect(self.now, z_addr(), 9899).unwrap();
        self.settle();
        let hz = self.z.associations().next().expect("Z accepted");
        (ha, hz)
    }

    fn sent_between(&self, from: usize) -> &[Datagram] {
        &self.log[from..]
    }
}

fn toy(offer: bool) -> Toy {
    Toy {
        offer,
        ack_data: true,
        ..Toy::default()
    }
}

#[test]
fn every_hook_is_driven_and_does_what_it_says() {
    let mut net = Net::new(
        Toy {
            hold_first_echo: true,
            ..toy(true)
        },
        toy(true),
    );
    let ha = net.a.connect(net.now, z_addr(), 9899).unwrap();
    net.settle();
    // INIT: the toy's parameter, and its chunk types in Supported Extensions.
    let init = Packet::parse(net.log[0].bytes.clone()).unwrap();
    let Ok(Chunk::Init(init)) = Chunk::parse(init.chunks().next().unwrap()) else {
        panic!("first packet is an INIT");
    };
    assert!(init.params.iter().any(|p| p.typ == TOY_OFFER));
    let exts = init
        .params
        .iter()
        .find(|p| p.typ == SupportedExtensions::TYPE)
        .map(|p| SupportedExtensions::from_raw(&p).unwrap())
        .expect("Supported Extensions");
    assert!(exts.supports(TOY_CTRL) && exts.supports(TOY_DATA));
    // INIT ACK: the toy's parameter, nothing reported as unrecognised.
    let ack = Packet::parse(net.log[1].bytes.clone()).unwrap();
    let Ok(Chunk::InitAck(ack)) = Chunk::parse(ack.chunks().next().unwrap()) else {
        panic!("second packet is an INIT ACK");
    };
    assert!(ack.params.iter().any(|p| p.typ == TOY_ACCEPT));
    assert!(
        !ack.params
            .iter()
            .any(|p| p.typ == mcsctp_core::param::ParamType::UNRECOGNIZED_PARAMETER),
        "a registered parameter is recognised"
    );
    // The gate held the COOKIE ECHO: nothing after the INIT ACK.
    assert_eq!(net.log.len(), 2, "COOKIE ECHO held");
    assert!(net.a.extension().log.contains(&"echo held".to_string()));
    // The application releases it through the toy's own state.
    net.a.extension_mut().released = true;
    net.a.extension_mut().wake.push(ha);
    let before = net.log.len();
    net.settle();
    let echo = &net.sent_between(before)[0];
    assert_eq!(echo.chunk_types(), vec![ChunkType::COOKIE_ECHO, TOY_CTRL]);
    // The COOKIE ACK carries the chunk the server queued on acceptance.
    let cookie_ack = &net.sent_between(before)[1];
    assert_eq!(
        cookie_ack.chunk_types(),
        vec![ChunkType::COOKIE_ACK, TOY_CTRL]
    );
    let hz = net.z.associations().next().unwrap();
    let zlog = &net.z.extension().log;
    let acc = zlog
        .iter()
        .position(|l| l == "established accepted cookie=toy:yes")
        .expect("cookie field round trip");
    let echo_seen = zlog
        .iter()
        .position(|l| l == "ctrl echo")
        .expect("echo bundle");
    assert!(
        acc < echo_seen,
        "chunks after the COOKIE ECHO come after establishment: {zlog:?}"
    );
    assert!(net.a.extension().log.contains(&"ctrl welcome".to_string()));
    assert!(
        net.a
            .extension()
            .log
            .contains(&"established connected".to_string())
    );

    // Toy data through the association, delivered as the extension's.
    net.a
        .extension_mut()
        .pending
        .entry(ha)
        .or_default()
        .push_back(Bytes::from_static(b"hello"));
    net.a.extension_mut().wake.push(ha);
    net.settle();
    let got = net.z.poll_recv().expect("the toy's delivery");
    assert_eq!(got.association, hz);
    assert_eq!(got.delivery.origin, Origin::Extension);
    assert_eq!(&got.delivery.payload[..], b"hello");
    assert_eq!(
        net.a.extension().flight_now,
        0,
        "acknowledged toy data left the window"
    );

    // A user message the toy sends on the association, as the application
    // would (for a peer without the extension).
    net.a
        .extension_mut()
        .messages
        .push(Bytes::from_static(b"as data"));
    net.a.extension_mut().wake.push(ha);
    net.settle();
    let got = net.z.poll_recv().expect("the toy's user message");
    assert_eq!(got.delivery.origin, Origin::Association);
    assert_eq!(
        (got.delivery.stream, got.delivery.ppid),
        (StreamId(3), Ppid(9))
    );
    assert_eq!(&got.delivery.payload[..], b"as data");

    // Look-ahead and a held delivery: the barrier precedes a DATA chunk
    // in the same packet; that message (and the next on its stream) waits
    // for the toy's timer, another stream's does not.
    // The message is marked: the toy's prefix chunk precedes its first
    // fragment, in its first transmission (lost here) and in the
    // retransmission.
    net.drop_next = Some(TOY_BARRIER);
    net.a
        .send(
            net.now,
            ha,
            StreamId(1),
            Ppid(0),
            Bytes::from_static(b"held"),
            SendOptions {
                extension_mark: 7,
                ..SendOptions::default()
            },
        )
        .unwrap();
    let before = net.log.len();
    net.settle();
    assert_eq!(
        net.sent_between(before)[0].chunk_types(),
        vec![TOY_BARRIER, ChunkType::IDATA]
    );
    assert!(
        net.z.poll_recv().is_none(),
        "the first transmission was lost"
    );
    let before = net.log.len();
    // Time moves a millisecond at a time (bounded by the RTO) until the
    // retransmission is out, so the hold it starts is still running.
    let rto = net.a.rtt(ha).expect("rtt").1;
    let until = net.now + rto;
    while net.now < until
        && !net
            .sent_between(before)
            .iter()
            .any(|d| d.chunk_types().contains(&ChunkType::IDATA))
    {
        net.advance(net.now + Duration::from_millis(1));
    }
    let retx = net
        .sent_between(before)
        .iter()
        .find(|d| d.chunk_types().contains(&ChunkType::IDATA))
        .expect("retransmitted");
    assert_eq!(retx.chunk_types(), vec![TOY_BARRIER, ChunkType::IDATA]);
    let prefixed = &net.a.extension().prefixed;
    assert_eq!(prefixed.len(), 2, "asked for each transmission");
    assert!(prefixed.iter().all(|&(m, t)| m == 7 && t == prefixed[0].1));
    // While core builds a packet the sent data is not for the extension to
    // read; the marked message is no longer queued once its first (and
    // only) fragment has a TSN.
    assert!(
        net.a
            .extension()
            .prefix_view
            .iter()
            .all(|v| *v == (None, None, false)),
        "{:?}",
        net.a.extension().prefix_view
    );
    // At Z the retransmission's TSN was new when its barrier arrived.
    assert_eq!(net.z.extension().received_view, vec![Some(false)]);
    // The hold runs from the barrier's arrival.
    let held_from = net.now;
    net.a
        .send(
            net.now,
            ha,
            StreamId(1),
            Ppid(0),
            Bytes::from_static(b"after"),
            SendOptions::default(),
        )
        .unwrap();
    net.a
        .send(
            net.now,
            ha,
            StreamId(2),
            Ppid(0),
            Bytes::from_static(b"other"),
            SendOptions::default(),
        )
        .unwrap();
    net.settle();
    let got = net.z.poll_recv().expect("stream 2 is not held");
    assert_eq!(&got.delivery.payload[..], b"other");
    assert!(net.z.poll_recv().is_none(), "stream 1 is held");
    net.advance(held_from + HOLD_FOR);
    let first = net.z.poll_recv().expect("released");
    let second = net.z.poll_recv().expect("released, in order");
    assert_eq!(
        (&first.delivery.payload[..], &second.delivery.payload[..]),
        (&b"held"[..], &b"after"[..])
    );
    assert_eq!(first.delivery.origin, Origin::Association);
    let zlog = &net.z.extension().log;
    let released = zlog.iter().position(|l| l == "barrier released").unwrap();
    let delivered = zlog
        .iter()
        .position(|l| l == "delivered stream 1 seq 0")
        .unwrap();
    assert!(released < delivered, "{zlog:?}");
    // After the SACKs the sent-data accessors show the marked TSN
    // acknowledged, at or below the cumulative ack, and sent.
    let &(t, acked, cum, next) = net.a.extension().sack_view.last().expect("a SACK");
    assert_eq!(acked, Some(true));
    let cum = cum.expect("the cumulative TSN ack");
    assert!(mcsctp_core::serial::Tsn(t).is_at_or_before(mcsctp_core::serial::Tsn(cum)));
    assert!(mcsctp_core::serial::Tsn(t).is_before(mcsctp_core::serial::Tsn(next.expect("next"))));

    // Endpoint-wide timer and transmit: Z's toy sends to the group when
    // its timer is due; A's toy claims the packet for its association,
    // handles it as foreign, and nothing answers on the group path.
    let at = net.now + Duration::from_millis(5);
    net.z
        .extension_mut()
        .group_out
        .push_back((at, Bytes::from_static(b"to-all")));
    // A core chunk in a group packet is never answered either.
    net.advance(at);
    let group_packets: Vec<_> = net.log.iter().filter(|d| d.to == group()).collect();
    assert_eq!(group_packets.len(), 1);
    let got = net.a.poll_recv().expect("the group packet's delivery");
    assert_eq!(got.association, ha);
    assert_eq!(&got.delivery.payload[..], b"to-all");
    assert!(
        net.a
            .extension()
            .log
            .contains(&"data to-all foreign=true".to_string())
    );
    // A forged group packet (wrong tag, and a HEARTBEAT in it) is not
    // claimed, and nobody answers it.
    let before = net.log.len();
    let mut buf = Vec::new();
    let mut b = PacketBuilder::new(
        &mut buf,
        CommonHeader {
            src_port: 9899,
            dst_port: 9899,
            verification_tag: VerificationTag(GROUP_TAG + 1),
        },
        1200,
    );
    b.add_raw(
        &raw(ChunkType::HEARTBEAT, 0, &[0, 1, 0, 8, 1, 2, 3, 4]),
        false,
    )
    .unwrap();
    b.finish();
    net.deliver(z_addr(), group(), Bytes::from(buf.clone()));
    // Even claimed (right tag), a core chunk in it draws no reply.
    buf[4..8].copy_from_slice(&GROUP_TAG.to_be_bytes());
    let crc = crc32c::crc32c(&{
        let mut c = buf.clone();
        c[8..12].fill(0);
        c
    });
    buf[8..12].copy_from_slice(&crc.to_le_bytes());
    net.deliver(z_addr(), group(), Bytes::from(buf));
    net.settle();
    assert_eq!(net.log.len(), before + 2, "no reply to group packets");

    // SACKs reach the toy; the duplicate COOKIE ECHO path reports
    // `Repeated`; closure reaches it on both sides.
    assert!(net.a.extension().sacks > 0);
    net.a.abort(net.now, ha, b"bye").unwrap();
    net.settle();
    assert_eq!(net.a.extension().closed, vec![ha]);
    assert_eq!(net.z.extension().closed, vec![hz]);

    let hooks: BTreeSet<&str> = net
        .a
        .extension()
        .hooks
        .union(&net.z.extension().hooks)
        .copied()
        .collect();
    let missing: Vec<_> = ALL_HOOKS.iter().filter(|h| !hooks.contains(*h)).collect();
    assert!(missing.is_empty(), "hooks never driven: {missing:?}");
}

#[test]
fn a_repeated_cookie_echo_is_reported_as_such() {
    let mut net = Net::new(toy(true), toy(true));
    net.dup_cookie_echo = true;
    net.connect();
    let zlog = &net.z.extension().log;
    assert!(zlog.contains(&"established accepted cookie=toy:yes".to_string()));
    assert!(
        zlog.contains(&"established repeated cookie=toy:yes".to_string()),
        "{zlog:?}"
    );
}

#[test]
fn extension_data_counts_against_the_congestion_window() {
    let mut net = Net::new(
        toy(true),
        Toy {
            ack_data: false,
            ..toy(true)
        },
    );
    let (ha, hz) = net.connect();
    // 100 KB of toy data and a unicast message behind it; the receiver's
    // toy never acknowledges, so only the initial window's worth may leave.
    let q = net.a.extension_mut().pending.entry(ha).or_default();
    for _ in 0..100 {
        q.push_back(Bytes::from(vec![7u8; 996]));
    }
    net.a.extension_mut().wake.push(ha);
    net.a
        .send(
            net.now,
            ha,
            StreamId(0),
            Ppid(0),
            Bytes::from(vec![1u8; 1000]),
            SendOptions::default(),
        )
        .unwrap();
    net.settle();
    // Toy data and core's DATA share the window (RFC 9260 §6.1 B: one
    // packet may overshoot it).
    let (cwnd, _, outstanding) = net.a.congestion(ha).expect("congestion state");
    let flight = net.a.extension().flight_now;
    assert!(
        flight > 0 && flight + outstanding <= cwnd + 1200,
        "toy {flight} + core {outstanding} against cwnd {cwnd}"
    );
    let mut toy_msgs = 0;
    let mut own_msgs = 0;
    while let Some(r) = net.z.poll_recv() {
        assert_eq!(r.association, hz);
        match r.delivery.origin {
            Origin::Extension => toy_msgs += 1,
            Origin::Association => own_msgs += 1,
        }
    }
    assert!(
        toy_msgs > 0 && toy_msgs < 100,
        "{toy_msgs} toy messages crossed"
    );
    assert!(own_msgs <= 1);
    assert!(
        net.a.extension().pending[&ha].len() == 100 - toy_msgs,
        "the rest waits for the window"
    );
}

#[test]
fn unnegotiated_extension_chunks_are_unrecognised_and_plain_peers_report_them() {
    // The toy server with a client that did not offer: its chunks are
    // treated as unknown (RFC 9260 §3.2, high bits 11: skip and report).
    let mut net = Net::new(toy(false), toy(true));
    let (ha, _) = net.connect();
    assert!(
        net.z
            .extension()
            .log
            .contains(&"established accepted cookie=toy:no".to_string())
    );
    // A's toy believes (wrongly) the peer took it, and sends a chunk.
    net.a.extension_mut().peer_offered.insert(ha, true);
    net.a.extension_mut().barrier_next.push(ha);
    net.a
        .send(
            net.now,
            ha,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"x"),
            SendOptions::default(),
        )
        .unwrap();
    net.a.extension_mut().wake.push(ha);
    net.settle();
    let reported = std::iter::from_fn(|| net.a.poll_event()).any(|e| {
        matches!(
            e,
            Event::PeerError {
                cause: ErrorCause::UnrecognizedChunkType(_),
                ..
            }
        )
    });
    assert!(reported, "the toy server reported the unnegotiated chunk");

    // A plain peer: the toy's INIT parameter comes back as unrecognised,
    // its chunk types are unknown, and the association works.
    let mut net = Net::new(toy(true), NoExtension);
    let (ha, hz) = net.connect();
    let ack = Packet::parse(net.log[1].bytes.clone()).unwrap();
    let Ok(Chunk::InitAck(ack)) = Chunk::parse(ack.chunks().next().unwrap()) else {
        panic!("INIT ACK");
    };
    assert!(
        ack.params
            .iter()
            .any(|p| p.typ == mcsctp_core::param::ParamType::UNRECOGNIZED_PARAMETER),
        "a plain peer reports the toy's parameter"
    );
    assert_eq!(net.a.extension().log[0], "init_ack accepted=false");
    net.a
        .send(
            net.now,
            ha,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"plain"),
            SendOptions::default(),
        )
        .unwrap();
    net.settle();
    let got = net.z.poll_recv().expect("plain data flows");
    assert_eq!(
        (got.association, &got.delivery.payload[..]),
        (hz, &b"plain"[..])
    );
}

#[test]
fn an_extension_may_not_register_core_chunk_types() {
    struct Bad;
    impl Extension for Bad {
        fn registration(&self) -> Registration {
            Registration::new(&[ChunkType::SACK], &[], &[])
        }
    }
    let now = epoch();
    assert!(Endpoint::with_extension(EndpointConfig::with_seed(3), now, Bad).is_err());
    struct Stray;
    impl Extension for Stray {
        fn registration(&self) -> Registration {
            Registration::new(&[TOY_CTRL], &[TOY_DATA], &[])
        }
    }
    assert!(Endpoint::with_extension(EndpointConfig::with_seed(3), now, Stray).is_err());
}

#[test]
fn an_extension_may_abort_its_association() {
    let mut net = Net::new(toy(true), toy(true));
    let (ha, hz) = net.connect();
    net.a.extension_mut().abort_on_timer = true;
    let at = net.now + Duration::from_millis(5);
    net.a.extension_mut().held.push((0, 0, at));
    // Anything the application does files the association's timers again.
    net.a
        .send(
            net.now,
            ha,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"x"),
            SendOptions::default(),
        )
        .unwrap();
    net.settle();
    let from = net.log.len();
    net.advance(at);
    // RFC 9260 §9.1: an ABORT with a User-Initiated Abort cause went out.
    let aborts: Vec<&Datagram> = net
        .sent_between(from)
        .iter()
        .filter(|d| d.chunk_types().contains(&ChunkType::ABORT))
        .collect();
    assert_eq!(aborts.len(), 1);
    assert_eq!(aborts[0].to, z_addr());
    assert!(
        net.a.association_state(ha).is_none(),
        "A's association is gone"
    );
    let peer_closed = std::iter::from_fn(|| net.z.poll_event()).any(|e| {
        matches!(e, Event::Closed { association, reason: CloseReason::AbortedByPeer(_), .. } if association == hz)
    });
    assert!(peer_closed, "Z heard the ABORT");
    assert_eq!(net.a.extension().closed, vec![ha]);
    assert_eq!(net.z.extension().closed, vec![hz]);
    let closed = std::iter::from_fn(|| net.a.poll_event()).any(|e| {
        matches!(
            e,
            Event::Closed {
                reason: CloseReason::AbortedLocally,
                ..
            }
        )
    });
    assert!(closed, "the application hears why");
}

#[test]
fn an_extension_may_abort_its_association_for_a_protocol_violation() {
    let mut net = Net::new(toy(true), toy(true));
    let (ha, hz) = net.connect();
    net.a.extension_mut().abort_on_timer = true;
    net.a.extension_mut().violation = true;
    let at = net.now + Duration::from_millis(5);
    net.a.extension_mut().held.push((0, 0, at));
    net.a
        .send(
            net.now,
            ha,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"x"),
            SendOptions::default(),
        )
        .unwrap();
    net.settle();
    net.advance(at);
    // An ABORT with a Protocol Violation cause (RFC 9260 §3.3.10.13).
    let peer_heard = std::iter::from_fn(|| net.z.poll_event()).any(|e| {
        matches!(
            e,
            Event::Closed { association, reason: CloseReason::AbortedByPeer(ref causes), .. }
                if association == hz && format!("{causes:?}").contains("toy saw a violation")
        )
    });
    assert!(peer_heard, "Z heard the ABORT and its cause");
    let closed = std::iter::from_fn(|| net.a.poll_event()).any(|e| {
        matches!(
            e,
            Event::Closed {
                reason: CloseReason::ProtocolError(
                    mcsctp_core::cause::ErrorCause::ProtocolViolation(_)
                ),
                ..
            }
        )
    });
    assert!(closed, "the application hears why");
}
