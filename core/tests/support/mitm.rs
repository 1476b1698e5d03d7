//! Drives two real endpoints through a hostile wire: an input byte string
//! is read as a script of operations — connect, send, deliver, drop,
//! duplicate, reorder, corrupt, truncate, inject, let time pass, read,
//! close, abort — applied to the datagrams the endpoints hand each other.
//! Corrupted and injected packets carry a correct CRC32c and, where the
//! script asks, the receiver's own verification tag, so they get past the
//! checksum and the tag check (RFC 9260 §6.8, §8.5) and reach the
//! association state machine itself.
//!
//! Shared by the cargo-fuzz target `endpoint` (`fuzz/fuzz_targets/`,
//! included with `#[path]`) and the seeded test `core/tests/hostile_wire.rs`,
//! so both exercise exactly the same surface.
//!
//! Nothing here may panic for any input; beyond "no panic" it checks that
//! the endpoints keep their promises to a runtime: after
//! `handle_timeout(now)` the next timeout lies in the future (a runtime
//! would otherwise spin), every datagram fits the configured packet size,
//! and the receive memory an endpoint accounts stays within its budget
//! plus one receive buffer per association.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::{Endpoint, SendOptions};
use mcsctp_core::event::{AssociationHandle, Event};
use mcsctp_core::packet::{COMMON_HEADER_LEN, checksum};
use mcsctp_core::serial::{Ppid, StreamId};

/// Datagrams held on the wire at most; more are dropped (a bounded queue
/// keeps every script's run time bounded).
const WIRE_CAP: usize = 256;
/// Operations applied at most per script.
const MAX_OPS: usize = 4096;
/// Largest message a script sends (fragmented over several packets).
const MAX_MESSAGE: usize = 8 << 10;

struct Side {
    ep: Endpoint,
    addr: SocketAddr,
    port: u16,
    assocs: Vec<AssociationHandle>,
    /// `Connected` events seen.
    connected: usize,
    /// `Closed` events seen.
    closed: usize,
    /// The last verification tag this side saw on a packet it sent, i.e.
    /// the tag its peer expects (used to forge packets the peer accepts).
    peer_tag: Option<[u8; 4]>,
    max_packet: usize,
    budget: usize,
    receive_buffer: usize,
}

impl Side {
    fn new(seed: u64, addr: &str, tweak: impl FnOnce(&mut EndpointConfig)) -> Self {
        let mut cfg = EndpointConfig::with_seed(seed);
        tweak(&mut cfg);
        let now = epoch();
        Self {
            max_packet: cfg.max_packet_size,
            budget: cfg.receive_memory_budget,
            receive_buffer: cfg.association.receive_buffer,
            port: cfg.port,
            ep: Endpoint::new(cfg, now).expect("valid config"),
            addr: addr.parse().expect("address"),
            assocs: Vec::new(),
            connected: 0,
            closed: 0,
            peer_tag: None,
        }
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            match e {
                Event::Connected { association, .. } | Event::Restarted { association, .. } => {
                    self.connected += 1;
                    if !self.assocs.contains(&association) {
                        self.assocs.push(association);
                    }
                }
                Event::Closed { association, .. } => {
                    self.closed += 1;
                    self.assocs.retain(|a| *a != association);
                }
                _ => {}
            }
        }
    }

    fn check_memory(&self) {
        let assocs = self.ep.association_count();
        let bound = self.budget + (assocs + 1) * self.receive_buffer;
        assert!(
            self.ep.memory_used() <= bound,
            "receive memory {} above budget {} + {} x buffer {}",
            self.ep.memory_used(),
            self.budget,
            assocs + 1,
            self.receive_buffer
        );
    }
}

/// The instant every script starts at. Read once from the wall clock as an
/// arbitrary origin (an `Instant` cannot be made otherwise); from then on
/// time moves only by the script's operations.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    #[allow(clippy::disallowed_methods)]
    *EPOCH.get_or_init(Instant::now)
}

/// A datagram on the wire: `to_z` says which side receives it.
struct Wire {
    to_z: bool,
    bytes: Vec<u8>,
}

/// Reads the script.
struct Script<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn u16(&mut self) -> u16 {
        let hi = self.byte().unwrap_or(0);
        let lo = self.byte().unwrap_or(0);
        u16::from_be_bytes([hi, lo])
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let end = (self.pos + n).min(self.data.len());
        let s = &self.data[self.pos..end];
        self.pos = end;
        s
    }
}

struct World {
    a: Side,
    z: Side,
    now: Instant,
    wire: VecDeque<Wire>,
    buf: Vec<u8>,
    outcome: Outcome,
}

impl World {
    fn side(&mut self, z: bool) -> &mut Side {
        if z { &mut self.z } else { &mut self.a }
    }

    /// Moves every datagram both endpoints want to send onto the wire.
    fn pump(&mut self) {
        for z in [false, true] {
            // Bounded, so that every run ends; whatever is left goes out
            // on the next pump.
            for _ in 0..4 * WIRE_CAP {
                self.buf.clear();
                let now = self.now;
                let side = if z { &mut self.z } else { &mut self.a };
                let Some(t) = side.ep.poll_transmit(now, &mut self.buf) else {
                    break;
                };
                side.drain_events();
                let seg = t.segment_size.unwrap_or(t.len).max(1);
                for d in self.buf[..t.len].chunks(seg) {
                    assert!(
                        d.len() <= side.max_packet,
                        "datagram of {} bytes, limit {}",
                        d.len(),
                        side.max_packet
                    );
                    if d.len() >= COMMON_HEADER_LEN {
                        side.peer_tag = Some([d[4], d[5], d[6], d[7]]);
                    }
                    if self.wire.len() < WIRE_CAP {
                        self.wire.push_back(Wire {
                            to_z: !z,
                            bytes: d.to_vec(),
                        });
                    }
                }
            }
            let side = self.side(z);
            side.drain_events();
        }
    }

    fn deliver(&mut self, w: Wire) {
        self.outcome.datagrams += 1;
        let now = self.now;
        let (from, to) = if w.to_z {
            (self.a.addr, &mut self.z)
        } else {
            (self.z.addr, &mut self.a)
        };
        let local = to.addr;
        to.ep
            .handle_datagram(now, local, from, Bytes::from(w.bytes));
        to.drain_events();
        to.check_memory();
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for z in [false, true] {
            let now = self.now;
            let side = self.side(z);
            // Fire everything due; each round must make progress.
            for _ in 0..64 {
                match side.ep.poll_timeout() {
                    Some(t) if t <= now => side.ep.handle_timeout(now),
                    _ => break,
                }
            }
            if let Some(t) = side.ep.poll_timeout() {
                assert!(t > now, "timeout {t:?} still due after handle_timeout");
            }
            side.drain_events();
            side.check_memory();
        }
    }

    fn read_all(&mut self) {
        for z in [false, true] {
            let side = self.side(z);
            let mut n = 0;
            while n < 100_000 && side.ep.poll_recv().is_some() {
                n += 1;
            }
            side.drain_events();
            self.outcome.delivered += n;
        }
    }

    /// Forges a packet for side `to_z` from the script's bytes: the common
    /// header of the real peer (ports and the tag the receiver expects,
    /// when known), then the script's chunk bytes, with a valid CRC.
    fn forge(&mut self, to_z: bool, body: &[u8], right_tag: bool) -> Vec<u8> {
        let (src, dst, tag) = if to_z {
            (self.a.port, self.z.port, self.a.peer_tag)
        } else {
            (self.z.port, self.a.port, self.z.peer_tag)
        };
        let mut p = Vec::with_capacity(COMMON_HEADER_LEN + body.len());
        p.extend_from_slice(&src.to_be_bytes());
        p.extend_from_slice(&dst.to_be_bytes());
        p.extend_from_slice(&tag.filter(|_| right_tag).unwrap_or([0; 4]));
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(body);
        fix_crc(&mut p);
        p
    }
}

fn fix_crc(p: &mut [u8]) {
    if p.len() >= COMMON_HEADER_LEN {
        p[8..12].fill(0);
        let crc = checksum(p);
        p[8..12].copy_from_slice(&crc.to_le_bytes());
    }
}

/// What a script did, so that a test can tell that its scripts reach the
/// interesting states at all.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Outcome {
    /// Associations that reported `Connected` (both sides counted).
    pub(crate) connected: usize,
    /// Deliveries the applications read.
    pub(crate) delivered: usize,
    /// Datagrams handed to an endpoint.
    pub(crate) datagrams: usize,
    /// Messages the applications handed over successfully.
    pub(crate) sent: usize,
    /// Associations that ended (both sides counted).
    pub(crate) closed: usize,
}

/// Runs one script. Panics only on a broken invariant (see the module
/// documentation).
pub(crate) fn run(data: &[u8]) -> Outcome {
    let Some((&flags, rest)) = data.split_first() else {
        return Outcome::default();
    };
    // The first byte picks the configuration: I-DATA, PR-SCTP, small
    // buffers (so windows close and the memory budget bites), the
    // oversize policy.
    let small = flags & 1 != 0;
    let tweak = |cfg: &mut EndpointConfig| {
        cfg.association.interleaving = flags & 2 != 0;
        cfg.association.partial_reliability = flags & 4 != 0;
        cfg.association.rto_min = Duration::from_millis(50);
        cfg.association.rto_initial = Duration::from_millis(200);
        cfg.association.heartbeat_interval = Some(Duration::from_secs(2));
        if small {
            cfg.association.receive_buffer = 4096;
            cfg.association.send_buffer = 16 << 10;
            cfg.association.max_message_size = 3000;
            cfg.receive_memory_budget = 8192;
        }
        cfg.association.oversize_policy = match flags >> 4 & 3 {
            0 => mcsctp_core::rx::reassembly::OversizePolicy::Refuse,
            1 => mcsctp_core::rx::reassembly::OversizePolicy::Truncate,
            _ => mcsctp_core::rx::reassembly::OversizePolicy::Pieces,
        };
        cfg.association.incomplete_message_timeout = Some(Duration::from_secs(3));
    };
    let mut w = World {
        a: Side::new(1, "10.0.0.1:9899", tweak),
        z: Side::new(2, "10.0.0.2:9899", tweak),
        now: epoch(),
        wire: VecDeque::new(),
        buf: Vec::with_capacity(1 << 16),
        outcome: Outcome::default(),
    };
    let mut s = Script { data: rest, pos: 0 };
    for _ in 0..MAX_OPS {
        let Some(op) = s.byte() else {
            break;
        };
        let z = op & 0x80 != 0;
        match op & 0x0f {
            0 => {
                let now = w.now;
                let port = w.side(!z).port;
                let addr = w.side(!z).addr;
                let _ = w.side(z).ep.connect(now, addr, port);
            }
            1 | 2 => {
                // Deliver the next datagram as it is (twice as likely as
                // anything else: the handshake and the data must flow).
                if let Some(d) = w.wire.pop_front() {
                    w.deliver(d);
                }
            }
            3 => {
                w.wire.pop_front();
            }
            4 => {
                if let Some(d) = w.wire.front() {
                    let copy = Wire {
                        to_z: d.to_z,
                        bytes: d.bytes.clone(),
                    };
                    w.wire.push_back(copy);
                }
            }
            5 => {
                // Reorder: the next datagram goes behind the one after it.
                if w.wire.len() >= 2 {
                    w.wire.swap(0, 1);
                }
            }
            6 => {
                // Corrupt one byte past the common header, fix the CRC.
                let at = usize::from(s.u16());
                let v = s.byte().unwrap_or(0xff);
                if let Some(mut d) = w.wire.pop_front() {
                    if d.bytes.len() > COMMON_HEADER_LEN {
                        let i = COMMON_HEADER_LEN + at % (d.bytes.len() - COMMON_HEADER_LEN);
                        d.bytes[i] ^= v;
                        fix_crc(&mut d.bytes);
                    }
                    w.deliver(d);
                }
            }
            7 => {
                // Truncate (or, rarely, leave the CRC wrong).
                let at = usize::from(s.u16());
                if let Some(mut d) = w.wire.pop_front() {
                    let keep = at % (d.bytes.len() + 1);
                    d.bytes
                        .truncate(keep.max(COMMON_HEADER_LEN.min(d.bytes.len())));
                    if at & 1 == 0 {
                        fix_crc(&mut d.bytes);
                    }
                    w.deliver(d);
                }
            }
            8 => {
                // Inject chunk bytes from the script with the right tag.
                let n = usize::from(s.byte().unwrap_or(0)) * 4;
                let body = s.take(n).to_vec();
                let p = w.forge(z, &body, op & 0x40 == 0);
                w.deliver(Wire { to_z: z, bytes: p });
            }
            9 => {
                let ms = u64::from(s.u16()) % 20_000;
                w.advance(Duration::from_millis(ms));
            }
            10 | 11 => {
                // The application sends.
                let len = 1 + usize::from(s.u16()) % MAX_MESSAGE;
                let stream = StreamId(u16::from(s.byte().unwrap_or(0) % 20));
                let o = s.byte().unwrap_or(0);
                let opts = SendOptions {
                    unordered: o & 1 != 0,
                    lifetime: (o & 2 != 0).then(|| Duration::from_millis(u64::from(o) * 10)),
                    max_retransmissions: (o & 4 != 0).then_some(u32::from(o >> 6)),
                };
                let now = w.now;
                let side = w.side(z);
                if let Some(&h) = side.assocs.first() {
                    let payload = Bytes::from(vec![o; len]);
                    let ok = side
                        .ep
                        .send(now, h, stream, Ppid(u32::from(o)), payload, opts);
                    w.outcome.sent += usize::from(ok.is_ok());
                }
            }
            12 => w.read_all(),
            13 => {
                let now = w.now;
                let side = w.side(z);
                if let Some(&h) = side.assocs.first() {
                    let _ = side.ep.close(now, h);
                }
            }
            14 => {
                let now = w.now;
                let side = w.side(z);
                if let Some(&h) = side.assocs.first() {
                    let _ = side.ep.abort(now, h, b"fuzz");
                }
            }
            _ => w.advance(Duration::from_millis(u64::from(op >> 4) * 7)),
        }
        w.pump();
    }
    // Let the dust settle: time runs on with every datagram delivered, so
    // whatever state the script left behind is driven through its timers
    // (retransmissions, shutdown guards, association failure).
    for _ in 0..200 {
        while let Some(d) = w.wire.pop_front() {
            w.deliver(d);
            w.pump();
        }
        w.read_all();
        w.advance(Duration::from_millis(500));
        w.pump();
    }
    w.outcome.connected = w.a.connected + w.z.connected;
    w.outcome.closed = w.a.closed + w.z.closed;
    w.outcome
}
