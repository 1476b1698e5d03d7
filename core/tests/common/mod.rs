//! Shared harness: an [`Endpoint`] as a node of the deterministic network
//! simulator, and helpers to set up associations between such nodes.

#![allow(dead_code, unreachable_pub)]

pub mod script;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::chunk::{Chunk, ChunkType};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::{Endpoint, Received};
use mcsctp_core::event::{AssociationHandle, Event};
use mcsctp_core::packet::Packet;
use mcsctp_sim::{Datagram, Network, Node, NodeId};

/// Drops the `nth` (1-based) outgoing datagram whose first chunk is `typ`,
/// before it reaches the network: "lose exactly that packet once".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropRule {
    pub typ: ChunkType,
    pub nth: usize,
    seen: usize,
}

impl DropRule {
    pub fn nth(typ: ChunkType, nth: usize) -> Self {
        Self { typ, nth, seen: 0 }
    }

    /// Counts a datagram whose first chunk is `first`; true if it is the
    /// one to drop.
    fn hit(&mut self, first: ChunkType) -> bool {
        if first != self.typ {
            return false;
        }
        self.seen += 1;
        self.seen == self.nth
    }
}

/// Drops the first `times` datagrams that carry the DATA / I-DATA chunk
/// with the `index`-th TSN (0-based) this peer sends: "lose that chunk and
/// its first `times - 1` retransmissions".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropTsn {
    pub index: u32,
    pub times: usize,
    seen: usize,
}

impl DropTsn {
    pub fn new(index: u32, times: usize) -> Self {
        Self {
            index,
            times,
            seen: 0,
        }
    }

    /// Counts a datagram carrying the TSNs `tsns` (offsets from the first
    /// TSN sent); true if it is to be dropped.
    fn hit(&mut self, offsets: &[u32]) -> bool {
        if self.seen >= self.times || !offsets.contains(&self.index) {
            return false;
        }
        self.seen += 1;
        true
    }

    /// How many datagrams the rule dropped.
    pub fn dropped(&self) -> usize {
        self.seen
    }
}

/// One datagram a [`Peer`] handed to the network (or dropped by a
/// [`DropRule`]).
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Instant,
    pub to: SocketAddr,
    /// The chunk types, in order.
    pub chunks: Vec<ChunkType>,
    pub bytes: Bytes,
    pub dropped: bool,
}

impl Sent {
    pub fn first(&self) -> Option<ChunkType> {
        self.chunks.first().copied()
    }

    pub fn packet(&self) -> Packet {
        Packet::parse(self.bytes.clone()).expect("a packet we sent parses")
    }
}

/// An endpoint on the simulated network, recording what it delivers.
pub struct Peer {
    pub ep: Endpoint,
    pub addr: SocketAddr,
    pub events: Vec<Event>,
    pub received: Vec<Received>,
    /// Read deliveries as soon as they are available (an application that
    /// keeps up). Off: the test reads them itself.
    pub auto_recv: bool,
    /// Outgoing datagrams to drop (see [`DropRule`]).
    pub drops: Vec<DropRule>,
    /// Outgoing datagrams to drop by the TSNs they carry (see [`DropTsn`]).
    pub drop_tsns: Vec<DropTsn>,
    /// The first DATA / I-DATA TSN this peer sent (for [`DropTsn`]).
    pub first_tsn: Option<u32>,
    /// Record every outgoing datagram in `sent` (off by default: the bulk
    /// tests send millions).
    pub log: bool,
    pub sent: Vec<Sent>,
    buf: Vec<u8>,
}

impl Peer {
    pub fn new(config: EndpointConfig, addr: SocketAddr, now: Instant) -> Self {
        Self {
            ep: Endpoint::new(config, now).expect("valid config"),
            addr,
            events: Vec::new(),
            received: Vec::new(),
            auto_recv: true,
            drops: Vec::new(),
            drop_tsns: Vec::new(),
            first_tsn: None,
            log: false,
            sent: Vec::new(),
            buf: Vec::with_capacity(65536),
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
        if self.auto_recv {
            while let Some(r) = self.ep.poll_recv() {
                self.received.push(r);
            }
        }
    }

    /// The application sends `payload` on stream 0, ordered, PPID 0, with
    /// no partial reliability; the send must be accepted.
    pub fn send_simple(&mut self, now: Instant, h: AssociationHandle, payload: Bytes) {
        self.ep
            .send(
                now,
                h,
                mcsctp_core::serial::StreamId(0),
                mcsctp_core::serial::Ppid(0),
                payload,
                mcsctp_core::endpoint::SendOptions::default(),
            )
            .expect("send");
    }

    /// Handles of associations that reported `Connected`.
    pub fn connected(&self) -> Vec<AssociationHandle> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Connected { association, .. } => Some(*association),
                _ => None,
            })
            .collect()
    }

    /// The close events seen.
    pub fn closed(&self) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Closed { .. }))
            .collect()
    }

    /// Logged datagrams (dropped ones included) whose first chunk is `typ`.
    pub fn sent_first(&self, typ: ChunkType) -> Vec<&Sent> {
        self.sent
            .iter()
            .filter(|s| s.first() == Some(typ))
            .collect()
    }
}

impl Node for Peer {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        self.ep.handle_datagram(now, local, remote, data);
        self.drain();
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        loop {
            self.buf.clear();
            let t = self.ep.poll_transmit(now, &mut self.buf)?;
            self.drain();
            let data = Bytes::copy_from_slice(&self.buf[..t.len]);
            if self.log || !self.drops.is_empty() || !self.drop_tsns.is_empty() {
                let packet = Packet::parse(data.clone()).ok();
                let chunks: Vec<ChunkType> = packet
                    .as_ref()
                    .map(|p| p.chunks().map(|c| c.typ).collect())
                    .unwrap_or_default();
                let first = chunks.first().copied().unwrap_or(ChunkType(0xff));
                let mut dropped = false;
                for r in &mut self.drops {
                    dropped |= r.hit(first);
                }
                if !self.drop_tsns.is_empty() {
                    let tsns = packet.as_ref().map(data_tsns).unwrap_or_default();
                    if self.first_tsn.is_none() {
                        self.first_tsn = tsns.first().copied();
                    }
                    if let Some(base) = self.first_tsn {
                        let offsets: Vec<u32> = tsns.iter().map(|t| t.wrapping_sub(base)).collect();
                        for r in &mut self.drop_tsns {
                            dropped |= r.hit(&offsets);
                        }
                    }
                }
                if self.log {
                    self.sent.push(Sent {
                        at: now,
                        to: t.destination,
                        chunks,
                        bytes: data.clone(),
                        dropped,
                    });
                }
                if dropped {
                    continue;
                }
            }
            return Some(Datagram {
                src: self.addr,
                dst: t.destination,
                data,
                segment_size: t.segment_size,
            });
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.ep.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain();
    }
}

/// The TSNs of the DATA and I-DATA chunks of a packet, in order.
pub fn data_tsns(p: &Packet) -> Vec<u32> {
    p.chunks()
        .filter_map(|raw| match Chunk::parse(raw) {
            Ok(Chunk::Data(d)) => Some(d.tsn.0),
            Ok(Chunk::IData(d)) => Some(d.tsn.0),
            _ => None,
        })
        .collect()
}

pub const A: &str = "10.0.0.1:9899";
pub const Z: &str = "10.0.0.2:9899";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Two endpoints, A (client) and Z (server), on one simulated network.
pub struct Pair {
    pub net: Network<Peer>,
    pub a: NodeId,
    pub z: NodeId,
}

impl Pair {
    pub fn new(seed: u64, mut cfg_a: EndpointConfig, mut cfg_z: EndpointConfig) -> Self {
        let mut net = Network::new(seed);
        let now = net.now();
        cfg_a.seed[8..16].copy_from_slice(&seed.to_le_bytes());
        cfg_a.seed[16] = 0xa;
        cfg_z.seed[8..16].copy_from_slice(&seed.to_le_bytes());
        cfg_z.seed[16] = 0xf;
        let a = net
            .add_node(Peer::new(cfg_a, addr(A), now), &[addr(A)])
            .expect("node");
        let z = net
            .add_node(Peer::new(cfg_z, addr(Z), now), &[addr(Z)])
            .expect("node");
        Self { net, a, z }
    }

    pub fn with_defaults(seed: u64) -> Self {
        Self::new(seed, EndpointConfig::default(), EndpointConfig::default())
    }

    /// A connects to Z; runs until both sides report Connected.
    pub fn connect(&mut self) -> (AssociationHandle, AssociationHandle) {
        let now = self.net.now();
        let z_port = self.net.node(self.z).ep.config().port;
        let h = self
            .net
            .node_mut(self.a)
            .ep
            .connect(now, addr(Z), z_port)
            .expect("connect");
        let (a, z) = (self.a, self.z);
        self.net
            .run_until_cond(
                |n| !n.node(a).connected().is_empty() && !n.node(z).connected().is_empty(),
                Duration::from_secs(120),
            )
            .expect("handshake completes");
        let hz = self.net.node(z).connected()[0];
        (h, hz)
    }

    /// Runs until `done` holds for both peers (bounded by `limit` of
    /// simulated time); returns the elapsed time at which it first held for
    /// A and for Z.
    pub fn run_until_both(
        &mut self,
        done: impl Fn(&Peer) -> bool,
        limit: Duration,
    ) -> Result<(Duration, Duration), mcsctp_sim::Stalled> {
        let (a, z) = (self.a, self.z);
        let mut at = [None, None];
        self.net.run_until_cond(
            |n| {
                let t = n.elapsed();
                for (i, id) in [a, z].into_iter().enumerate() {
                    if at[i].is_none() && done(n.node(id)) {
                        at[i] = Some(t);
                    }
                }
                at.iter().all(Option::is_some)
            },
            limit,
        )?;
        Ok((at[0].unwrap_or_default(), at[1].unwrap_or_default()))
    }

    pub fn a(&mut self) -> &mut Peer {
        self.net.node_mut(self.a)
    }

    pub fn z(&mut self) -> &mut Peer {
        self.net.node_mut(self.z)
    }
}
