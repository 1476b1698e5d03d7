//! In-memory interop with independent SCTP engines from crates.io:
//! [`sctp-proto`](https://crates.io/crates/sctp-proto) (webrtc-rs, now
//! maintained by str0m) and [`dcsctp`](https://crates.io/crates/dcsctp)
//! (the Rust dcSCTP). Each engine is wrapped in a simulator [`Node`], next
//! to mcsctp's own [`Peer`], behind one [`Stack`] trait, so that a test (or
//! `benches/bulk.rs`) can put any two of them on a [`Duo`] and move
//! messages between them.
//!
//! The simulator's datagram payload is exactly one SCTP packet, common
//! header onward; the two foreign engines emit and accept bare SCTP packets
//! (they run over DTLS in WebRTC), so the adapters map them onto datagrams
//! between two fixed addresses. Every engine uses SCTP port 5000 (the
//! WebRTC convention both foreign stacks default to).
//!
//! Shared by `interop_sctp_proto.rs`, `interop_dcsctp.rs` and
//! `benches/bulk.rs`; each uses a part, hence the `allow(dead_code)`.

#![allow(dead_code, unreachable_pub)]

pub mod dcsctp_node;
pub mod proto_node;

/// The dcsctp crate [`dcsctp_node`] drives, as published. `benches/bulk.rs`
/// compiles that file a second time in a crate whose `dcsctp_crate` is a
/// copy of dcsctp with the per-packet log formatting gated off
/// (`scripts/bench-engines.sh`).
use dcsctp as dcsctp_crate;

use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::SendOptions;
use mcsctp_core::event::{ApiError, AssociationHandle, CloseReason, Event};
use mcsctp_core::rx::DeliveryKind;
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_core::tx::send_queue::SendError;
use mcsctp_sim::{BoxedNode, Datagram, LinkConfig, Network, Node, NodeId, Stalled};

use crate::common::Peer;

/// SCTP port of every engine (WebRTC's 5000, the default of both foreign
/// stacks).
pub const SCTP_PORT: u16 = 5000;
/// Largest SCTP packet, common header included: the path MTU the issue
/// asks for.
pub const MAX_PACKET: usize = 1200;
/// The receive window every engine offers in the benchmark (and mcsctp's
/// and sctp-proto's in the tests): 1 MiB.
pub const RECEIVE_WINDOW: usize = 1 << 20;
/// The PPID of every test message: WebRTC Binary. sctp-proto maps PPIDs
/// it does not know to `Unknown`, so only WebRTC values survive it.
pub const PPID: u32 = 53;

/// Simulator address of the first node of a [`Duo`].
pub const ADDR_A: &str = "10.0.0.1:9899";
/// Simulator address of the second node.
pub const ADDR_B: &str = "10.0.0.2:9899";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub stream: u16,
    pub unordered: bool,
    pub payload: Bytes,
}

/// A message an application read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub stream: u16,
    pub ppid: u32,
    pub payload: Bytes,
}

/// How an association ended, as seen by the application of one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// Graceful shutdown completed.
    Graceful,
    /// The peer aborted; the text names the cause as the engine reports it.
    AbortedByPeer(String),
    /// This side aborted.
    AbortedLocally,
    /// Anything else (timeouts, protocol errors), with the engine's words.
    Failed(String),
}

/// Chunk types seen in the packets one node sent, by type code.
#[derive(Debug, Clone)]
pub struct Wire {
    pub packets: u64,
    pub bytes: u64,
    pub largest_packet: usize,
    pub chunks: [u64; 256],
    /// Packets carrying at least one DATA or I-DATA chunk, and their bytes
    /// (SCTP packet, common header onward).
    pub data_packets: u64,
    pub data_bytes: u64,
    /// The Advertised Receiver Window Credit of the last INIT or INIT ACK
    /// this node sent: the receive window it offered.
    pub a_rwnd: Option<u32>,
    /// Packet-level accounting for the benchmark (off unless set).
    pub audit: Option<Box<Audit>>,
}

impl Default for Wire {
    fn default() -> Self {
        Self {
            packets: 0,
            bytes: 0,
            largest_packet: 0,
            chunks: [0; 256],
            data_packets: 0,
            data_bytes: 0,
            a_rwnd: None,
            audit: None,
        }
    }
}

/// Chunk type codes (RFC 9260 §3.2, RFC 8260, RFC 3758).
pub mod ct {
    pub const DATA: u8 = 0;
    pub const INIT: u8 = 1;
    pub const INIT_ACK: u8 = 2;
    pub const SACK: u8 = 3;
    pub const ABORT: u8 = 6;
    pub const SHUTDOWN: u8 = 7;
    pub const SHUTDOWN_ACK: u8 = 8;
    pub const ERROR: u8 = 9;
    pub const COOKIE_ECHO: u8 = 10;
    pub const COOKIE_ACK: u8 = 11;
    pub const SHUTDOWN_COMPLETE: u8 = 14;
    pub const I_DATA: u8 = 64;
    pub const FORWARD_TSN: u8 = 192;
    pub const I_FORWARD_TSN: u8 = 194;
}

/// The chunks of an SCTP packet as (type, whole chunk without padding);
/// a malformed tail stops the walk.
fn chunks_of(packet: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 12;
    std::iter::from_fn(move || {
        if at + 4 > packet.len() {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([packet[at + 2], packet[at + 3]]));
        if len < 4 || at + len > packet.len() {
            return None;
        }
        let c = (packet[at], &packet[at..at + len]);
        at += len.div_ceil(4) * 4;
        Some(c)
    })
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The TSN of a DATA or I-DATA chunk (both carry it right after the chunk
/// header, RFC 9260 §3.3.1, RFC 8260 §2.1).
fn data_tsn(chunk: &[u8]) -> Option<u32> {
    (chunk.len() >= 8).then(|| be32(&chunk[4..]))
}

impl Wire {
    /// Counts the chunks of one outgoing SCTP packet (headers only; a
    /// malformed tail stops the walk).
    pub fn record(&mut self, packet: &[u8]) {
        self.packets += 1;
        self.bytes += packet.len() as u64;
        self.largest_packet = self.largest_packet.max(packet.len());
        let mut data = false;
        for (typ, chunk) in chunks_of(packet) {
            self.chunks[usize::from(typ)] += 1;
            match typ {
                ct::DATA | ct::I_DATA => {
                    data = true;
                    if let (Some(a), Some(tsn)) = (self.audit.as_deref_mut(), data_tsn(chunk)) {
                        a.sent_data(tsn);
                    }
                }
                // Initiate Tag, then a_rwnd (RFC 9260 §3.3.2, §3.3.3).
                ct::INIT | ct::INIT_ACK if chunk.len() >= 12 => {
                    self.a_rwnd = Some(be32(&chunk[8..]));
                }
                ct::SACK => {
                    if let Some(a) = self.audit.as_deref_mut() {
                        a.sent_sack(chunk);
                    }
                }
                _ => {}
            }
        }
        if data {
            self.data_packets += 1;
            self.data_bytes += packet.len() as u64;
        }
    }

    /// An SCTP packet this node received, for the [`Audit`] (nothing
    /// without one).
    pub fn incoming(&mut self, packet: &[u8]) {
        let Some(a) = self.audit.as_deref_mut() else {
            return;
        };
        for (typ, chunk) in chunks_of(packet) {
            if let (ct::DATA | ct::I_DATA, Some(tsn)) = (typ, data_tsn(chunk)) {
                a.received_data(tsn);
            }
        }
    }

    pub fn count(&self, typ: u8) -> u64 {
        self.chunks[usize::from(typ)]
    }
}

/// What one node's packets say about its engine, the same way for every
/// engine, from the packets alone:
///
/// - as a receiver, the DATA chunks it **discarded**: a chunk that reached
///   the node and was not acknowledged by a SACK the node sent afterwards
///   (neither by its Cumulative TSN Ack nor by a gap block). A receiver
///   that keeps a chunk reports it in every later SACK (RFC 9260 §6.2,
///   §3.3.4; reneging, §6.2, is the only exception, and none of the
///   engines here reneges). A chunk is judged by the first SACK after it
///   that reports a higher TSN, or, if it sits above everything the SACKs
///   report (a receiver may report only some gap blocks), when another
///   copy of it arrives after at least one SACK left it out (a receiver
///   that kept it but left it out of several SACKs for want of room for
///   its gap block would be miscounted here). A receiver
///   that drops a chunk and sends no SACK at all before the next copy
///   (dcsctp with a full reassembly queue) is not caught: there is
///   nothing to judge by;
/// - as a sender, the DATA chunks it sent more than once: chunks sent
///   minus the TSNs they covered.
#[derive(Debug, Default, Clone)]
pub struct Audit {
    /// TSNs received and not yet acknowledged by a SACK of this node,
    /// with the number of SACKs sent before each arrived.
    unacked: Vec<(u32, u64)>,
    /// SACKs this node sent.
    sacks: u64,
    /// DATA chunks received and then left out of a SACK (see above).
    pub discarded: u64,
    /// DATA / I-DATA chunks sent.
    pub data_chunks: u64,
    /// Lowest and highest TSN sent (serial number order).
    tsn_range: Option<(u32, u32)>,
}

/// `a < b` in serial number arithmetic (RFC 1982) on 32 bits.
fn serial_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Audit {
    /// DATA chunks sent beyond one per TSN: retransmissions.
    pub fn retransmitted(&self) -> u64 {
        let tsns = self
            .tsn_range
            .map_or(0, |(lo, hi)| u64::from(hi.wrapping_sub(lo)) + 1);
        self.data_chunks.saturating_sub(tsns)
    }

    fn sent_data(&mut self, tsn: u32) {
        self.data_chunks += 1;
        self.tsn_range = Some(match self.tsn_range {
            None => (tsn, tsn),
            Some((lo, hi)) => (
                if serial_lt(tsn, lo) { tsn } else { lo },
                if serial_lt(hi, tsn) { tsn } else { hi },
            ),
        });
    }

    fn received_data(&mut self, tsn: u32) {
        // Another copy of a chunk no SACK has acknowledged, although one
        // was sent since the first copy came: that copy was discarded.
        if let Some(i) = self
            .unacked
            .iter()
            .position(|&(t, sacks)| t == tsn && sacks < self.sacks)
        {
            self.unacked.swap_remove(i);
            self.discarded += 1;
        }
        self.unacked.push((tsn, self.sacks));
    }

    /// Judges the received TSNs by one SACK chunk (RFC 9260 §3.3.4:
    /// Cumulative TSN Ack, a_rwnd, gap block and duplicate counts, then
    /// the gap blocks as offsets from the cumulative ack).
    fn sent_sack(&mut self, chunk: &[u8]) {
        if chunk.len() < 16 {
            return;
        }
        self.sacks += 1;
        if self.unacked.is_empty() {
            return;
        }
        let cum = be32(&chunk[4..]);
        let gaps = usize::from(u16::from_be_bytes([chunk[12], chunk[13]]));
        let blocks: Vec<(u32, u32)> = chunk[16..]
            .chunks_exact(4)
            .take(gaps)
            .map(|b| {
                (
                    u32::from(u16::from_be_bytes([b[0], b[1]])),
                    u32::from(u16::from_be_bytes([b[2], b[3]])),
                )
            })
            .collect();
        let highest = blocks.iter().map(|&(_, end)| end).max().unwrap_or(0);
        let mut discarded = 0;
        self.unacked.retain(|&(tsn, _)| {
            let off = tsn.wrapping_sub(cum) as i32;
            if off <= 0 {
                return false;
            }
            let off = off as u32;
            if blocks.iter().any(|&(s, e)| (s..=e).contains(&off)) {
                return false;
            }
            if off < highest {
                discarded += 1;
                return false;
            }
            true
        });
        self.discarded += discarded;
    }
}

/// What the tests and the benchmark need from an engine on the simulator.
pub trait Stack: Node + Any {
    /// Starts an association towards the other node.
    fn connect(&mut self, now: Instant);
    /// Queues a message; the adapter hands it to the engine when the
    /// simulator next polls the node (so a batch of submits reaches the
    /// engine at once), and later as the engine's send buffer takes it.
    fn submit(&mut self, now: Instant, m: Msg);
    /// The bookkeeping every adapter keeps alike.
    fn common(&self) -> &Common;
    fn common_mut(&mut self) -> &mut Common;
    /// Messages queued by [`submit`](Self::submit) the engine has not
    /// taken yet.
    fn unsent(&self) -> usize {
        self.common().pending.len()
    }
    /// Messages read so far (kept only with [`set_keep`](Self::set_keep)).
    fn received(&self) -> &[Got] {
        &self.common().inbox.got
    }
    /// Messages and user-data bytes read so far.
    fn received_count(&self) -> (usize, u64) {
        let i = &self.common().inbox;
        (i.messages, i.bytes)
    }
    /// Whether to keep the messages read (tests) or only count them
    /// (benchmark).
    fn set_keep(&mut self, keep: bool) {
        self.common_mut().inbox.keep = keep;
    }
    fn is_connected(&self) -> bool;
    fn closed(&self) -> Option<&Closed> {
        self.common().closed.as_ref()
    }
    /// Graceful shutdown, after handing the engine what was submitted.
    fn shutdown(&mut self, now: Instant);
    /// Ungraceful close: ABORT.
    fn abort(&mut self, now: Instant);
    /// What this node put on the wire.
    fn wire(&self) -> &Wire;
    fn wire_mut(&mut self) -> &mut Wire;
    /// T3-rtx expirations the engine itself counted, if it counts them.
    fn t3_expirations(&self) -> Option<u64> {
        None
    }
    /// DATA chunks the engine itself counted as dropped for lack of
    /// receive buffer, if it counts them.
    fn receive_buffer_drops(&self) -> Option<u64> {
        None
    }
}

/// What every adapter keeps the same way: messages submitted but not yet
/// handed to its engine, messages read, and how the association ended.
#[derive(Debug)]
pub struct Common {
    pub pending: VecDeque<Msg>,
    pub inbox: Inbox,
    pub closed: Option<Closed>,
}

impl Common {
    pub fn new() -> Self {
        Self {
            pending: VecDeque::new(),
            inbox: Inbox::new(),
            closed: None,
        }
    }
}

/// Received-message bookkeeping shared by the adapters.
#[derive(Debug, Default)]
pub struct Inbox {
    pub keep: bool,
    pub got: Vec<Got>,
    pub messages: usize,
    pub bytes: u64,
    /// How [`digests`](Self::digests) fingerprints what is read.
    pub digest_mode: DigestMode,
    /// Per stream, a fingerprint of every message read, in order (see
    /// [`Digest`]); empty with [`DigestMode::Off`].
    pub digests: Vec<(u16, Digest)>,
}

impl Inbox {
    pub fn new() -> Self {
        Self {
            keep: true,
            ..Self::default()
        }
    }

    /// Counts a message that is not kept, read in `parts` (one, unless the
    /// engine delivered it in pieces).
    pub fn count(&mut self, stream: u16, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.messages += 1;
        self.bytes += len as u64;
        self.digest(stream, parts);
    }

    pub fn push(&mut self, stream: u16, ppid: u32, payload: Bytes) {
        self.messages += 1;
        self.bytes += payload.len() as u64;
        self.digest(stream, &[&payload]);
        if self.keep {
            self.got.push(Got {
                stream,
                ppid,
                payload,
            });
        }
    }

    fn digest(&mut self, stream: u16, parts: &[&[u8]]) {
        if self.digest_mode == DigestMode::Off {
            return;
        }
        let i = match self.digests.iter().position(|(s, _)| *s == stream) {
            Some(i) => i,
            None => {
                self.digests.push((stream, Digest::default()));
                self.digests.len() - 1
            }
        };
        self.digests[i].1.add(self.digest_mode, parts);
    }
}

/// How much of each message a [`Digest`] covers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum DigestMode {
    #[default]
    Off,
    /// The length and the first and last 16 bytes: constant work per
    /// message, which catches lost, duplicated, reordered, truncated or
    /// swapped messages but not a corrupted byte in the middle of one.
    Sampled,
    /// Every byte.
    Full,
}

/// A running fingerprint of the messages of one stream, in order: each
/// message's length and what [`DigestMode`] covers of it (sampled: the
/// first and last 16 bytes as four words; full: the CRC32c of every byte,
/// hardware-accelerated), folded in with an order-dependent multiplicative
/// mix. About 5 ns per message sampled, so that the timed iterations can
/// afford it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub messages: u64,
    pub bytes: u64,
    pub hash: u64,
}

impl Digest {
    fn mix(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    /// Adds one message, given in `parts`.
    pub fn add(&mut self, mode: DigestMode, parts: &[&[u8]]) {
        const EDGE: usize = 16;
        let len: usize = parts.iter().map(|p| p.len()).sum();
        match mode {
            DigestMode::Off => return,
            DigestMode::Full => {
                let crc = parts.iter().fold(0, |c, p| crc32c::crc32c_append(c, p));
                self.mix(u64::from(crc));
            }
            DigestMode::Sampled => {
                // Pieces (rare: partial delivery) are joined first.
                let joined;
                let whole: &[u8] = match parts {
                    [one] => one,
                    _ => {
                        joined = parts.concat();
                        &joined
                    }
                };
                let edge = len.min(EDGE);
                let mut words = [[0u8; EDGE]; 2];
                words[0][..edge].copy_from_slice(&whole[..edge]);
                words[1][..edge].copy_from_slice(&whole[len - edge..]);
                for w in words.as_flattened().chunks_exact(8) {
                    self.mix(u64::from_le_bytes(w.try_into().expect("8 bytes")));
                }
            }
        }
        self.mix(len as u64);
        self.messages += 1;
        self.bytes += len as u64;
    }

    /// The digests, per stream in order of first appearance, of `msgs`
    /// read in order (what an in-order receiver's [`Inbox::digests`] must
    /// equal).
    pub fn of(mode: DigestMode, msgs: &[Msg]) -> Vec<(u16, Digest)> {
        let mut inbox = Inbox {
            digest_mode: mode,
            ..Inbox::default()
        };
        for m in msgs {
            inbox.digest(m.stream, &[&m.payload]);
        }
        inbox.digests
    }
}

// ----- mcsctp ----------------------------------------------------------------

/// mcsctp's [`Endpoint`](mcsctp_core::endpoint::Endpoint) as a [`Stack`]:
/// the shared harness [`Peer`] plus a feeding queue.
pub struct McNode {
    pub peer: Peer,
    remote: SocketAddr,
    assoc: Option<AssociationHandle>,
    c: Common,
    seen_events: usize,
    wire: Wire,
    /// Pieces of messages delivered in pieces, by stream.
    partial: std::collections::HashMap<u16, Vec<Bytes>>,
    /// Pieces received.
    pub pieces: u64,
}

impl McNode {
    /// An mcsctp endpoint on SCTP port 5000 with 1200-byte packets,
    /// offering a window of [`RECEIVE_WINDOW`] like the other engines: its
    /// buffer is one packet larger, the packet its a_rwnd keeps back for
    /// the chunk that fills a gap.
    pub fn config(seed: u64) -> EndpointConfig {
        let mut c = EndpointConfig::with_seed(seed);
        c.port = SCTP_PORT;
        c.max_packet_size = MAX_PACKET;
        c.association.receive_buffer = RECEIVE_WINDOW + MAX_PACKET;
        c
    }

    pub fn new(
        config: EndpointConfig,
        epoch: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Self {
        Self {
            peer: Peer::new(config, local, epoch),
            remote,
            assoc: None,
            c: Common::new(),
            seen_events: 0,
            wire: Wire::default(),
            partial: std::collections::HashMap::new(),
            pieces: 0,
        }
    }

    pub fn association(&self) -> Option<AssociationHandle> {
        self.assoc
    }

    pub fn events(&self) -> &[Event] {
        &self.peer.events
    }

    /// The close reason mcsctp itself reported.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.peer.events.iter().find_map(|e| match e {
            Event::Closed { reason, .. } => Some(reason),
            _ => None,
        })
    }

    fn service(&mut self, now: Instant) {
        for e in &self.peer.events[self.seen_events..] {
            match e {
                Event::Connected { association, .. } => self.assoc = Some(*association),
                Event::Closed { reason, .. } => {
                    self.c.closed.get_or_insert(match reason {
                        CloseReason::Shutdown => Closed::Graceful,
                        CloseReason::AbortedByPeer(c) => Closed::AbortedByPeer(
                            c.iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join("; "),
                        ),
                        CloseReason::AbortedLocally => Closed::AbortedLocally,
                        r => Closed::Failed(r.to_string()),
                    });
                }
                _ => {}
            }
        }
        self.seen_events = self.peer.events.len();
        for r in self.peer.received.drain(..) {
            let d = r.delivery;
            match d.kind {
                DeliveryKind::Message => self.c.inbox.push(d.stream.0, d.ppid.0, d.payload),
                // Partial delivery (RFC 9260 §6.9): mcsctp starts it when
                // its receive buffer is nearly full of data held behind a
                // gap, so bulk transfers that fill the window see it. At
                // most one message per stream is in pieces at a time; the
                // application glues them.
                DeliveryKind::Piece {
                    first,
                    end_of_record,
                } => {
                    self.pieces += 1;
                    let parts = self.partial.entry(d.stream.0).or_default();
                    assert_eq!(first, parts.is_empty(), "piece out of sequence");
                    parts.push(d.payload);
                    if end_of_record {
                        let parts = self.partial.remove(&d.stream.0).unwrap_or_default();
                        if self.c.inbox.keep {
                            self.c
                                .inbox
                                .push(d.stream.0, d.ppid.0, parts.concat().into());
                        } else {
                            let parts: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
                            self.c.inbox.count(d.stream.0, &parts);
                        }
                    }
                }
                k => panic!("mcsctp delivered {k:?}"),
            }
        }
        self.pump(now);
    }

    fn pump(&mut self, now: Instant) {
        let Some(h) = self.assoc else { return };
        if self.c.closed.is_some() {
            return;
        }
        while let Some(m) = self.c.pending.front() {
            if self.peer.ep.send_buffer_available(h).unwrap_or(0) < m.payload.len() {
                return;
            }
            let opts = SendOptions {
                unordered: m.unordered,
                ..SendOptions::default()
            };
            match self.peer.ep.send(
                now,
                h,
                StreamId(m.stream),
                Ppid(PPID),
                m.payload.clone(),
                opts,
            ) {
                Ok(()) => {
                    self.c.pending.pop_front();
                }
                Err(ApiError::Send(SendError::BufferFull { .. })) => return,
                Err(e) => panic!("mcsctp refused a send: {e}"),
            }
        }
    }
}

impl Node for McNode {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        self.wire.incoming(&data);
        self.peer.handle_datagram(now, local, remote, data);
        self.service(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.pump(now);
        let d = self.peer.poll_transmit(now)?;
        match d.segment_size {
            Some(s) if s > 0 => d.data.chunks(s).for_each(|p| self.wire.record(p)),
            _ => self.wire.record(&d.data),
        }
        self.service(now);
        Some(d)
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.peer.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.peer.handle_timeout(now);
        self.service(now);
    }
}

impl Stack for McNode {
    fn common(&self) -> &Common {
        &self.c
    }

    fn common_mut(&mut self) -> &mut Common {
        &mut self.c
    }

    fn connect(&mut self, now: Instant) {
        self.assoc = Some(
            self.peer
                .ep
                .connect(now, self.remote, SCTP_PORT)
                .expect("mcsctp connect"),
        );
    }

    fn submit(&mut self, _now: Instant, m: Msg) {
        self.c.pending.push_back(m);
    }

    fn is_connected(&self) -> bool {
        !self.peer.connected().is_empty()
    }

    fn shutdown(&mut self, now: Instant) {
        let h = self.assoc.expect("association");
        self.pump(now);
        self.peer.ep.close(now, h).expect("mcsctp close");
    }

    fn abort(&mut self, now: Instant) {
        let h = self.assoc.expect("association");
        self.peer
            .ep
            .abort(now, h, b"test abort")
            .expect("mcsctp abort");
        // The endpoint reports its own abort as an event; read it now.
        self.peer.handle_timeout(now);
        self.service(now);
    }

    fn wire(&self) -> &Wire {
        &self.wire
    }

    fn wire_mut(&mut self) -> &mut Wire {
        &mut self.wire
    }

    fn t3_expirations(&self) -> Option<u64> {
        let h = self.assoc?;
        Some(self.peer.ep.association_stats(h)?.t3_expirations)
    }

    fn receive_buffer_drops(&self) -> Option<u64> {
        let h = self.assoc?;
        Some(self.peer.ep.association_stats(h)?.data_chunks_dropped)
    }
}

// ----- two engines on one network ------------------------------------------

/// Two engines, `A` at [`ADDR_A`] and `B` at [`ADDR_B`], on one simulated
/// network.
pub struct Duo<A, B> {
    pub net: Network<BoxedNode>,
    pub a: NodeId,
    pub b: NodeId,
    _types: std::marker::PhantomData<(A, B)>,
}

impl<A: Stack, B: Stack> Duo<A, B> {
    /// `make_a` / `make_b` get the network's epoch, their own address and
    /// the other's.
    pub fn new(
        seed: u64,
        link: LinkConfig,
        make_a: impl FnOnce(Instant, SocketAddr, SocketAddr) -> A,
        make_b: impl FnOnce(Instant, SocketAddr, SocketAddr) -> B,
    ) -> Self {
        let mut net: Network<BoxedNode> = Network::new(seed);
        net.set_default_link(link);
        let epoch = net.start();
        let (aa, ab) = (addr(ADDR_A), addr(ADDR_B));
        let a = net
            .add_node(Box::new(make_a(epoch, aa, ab)), &[aa])
            .expect("node a");
        let b = net
            .add_node(Box::new(make_b(epoch, ab, aa)), &[ab])
            .expect("node b");
        Self {
            net,
            a,
            b,
            _types: std::marker::PhantomData,
        }
    }

    pub fn a(&mut self) -> &mut A {
        self.net.node_as_mut::<A>(self.a).expect("type of a")
    }

    pub fn b(&mut self) -> &mut B {
        self.net.node_as_mut::<B>(self.b).expect("type of b")
    }

    pub fn a_ref(&self) -> &A {
        self.net.node_as::<A>(self.a).expect("type of a")
    }

    pub fn b_ref(&self) -> &B {
        self.net.node_as::<B>(self.b).expect("type of b")
    }

    /// Runs until `cond` holds on the two nodes, for at most `max`
    /// simulated time.
    pub fn run_until(
        &mut self,
        mut cond: impl FnMut(&A, &B) -> bool,
        max: Duration,
    ) -> Result<(), Stalled> {
        let (a, b) = (self.a, self.b);
        self.net.run_until_cond(
            |n| cond(n.node_as::<A>(a).unwrap(), n.node_as::<B>(b).unwrap()),
            max,
        )
    }

    /// A connects to B, or B to A; runs until both are connected.
    /// [`connect`](Self::connect) on a clean 10 ms link, asserting the
    /// four-way handshake in exactly four packets and 40 ms: INIT and
    /// COOKIE ECHO from the initiator, INIT ACK and COOKIE ACK from the
    /// other side.
    pub fn connect_in_four_packets(&mut self, a_initiates: bool) {
        self.connect(a_initiates);
        assert_eq!(self.net.elapsed(), Duration::from_millis(40));
        assert_eq!(self.net.stats().delivered, 4);
        let (a, b) = (self.a_ref().wire(), self.b_ref().wire());
        let (init, resp) = if a_initiates { (a, b) } else { (b, a) };
        assert_eq!((init.count(ct::INIT), init.count(ct::COOKIE_ECHO)), (1, 1));
        assert_eq!(
            (resp.count(ct::INIT_ACK), resp.count(ct::COOKIE_ACK)),
            (1, 1)
        );
    }

    pub fn connect(&mut self, a_initiates: bool) {
        let now = self.net.now();
        if a_initiates {
            self.a().connect(now);
        } else {
            self.b().connect(now);
        }
        self.run_until(
            |a, b| a.is_connected() && b.is_connected(),
            Duration::from_secs(60),
        )
        .expect("handshake completes");
    }

    /// Queues `to_b` at A and `to_a` at B, runs until every message
    /// arrived. The received counts are those added by this call.
    pub fn transfer(&mut self, to_b: &[Msg], to_a: &[Msg], max: Duration) -> Result<(), String> {
        self.transfer_owned(to_b.to_vec(), to_a.to_vec(), max)
    }

    /// [`transfer`](Self::transfer) of messages the caller gives away.
    pub fn transfer_owned(
        &mut self,
        to_b: Vec<Msg>,
        to_a: Vec<Msg>,
        max: Duration,
    ) -> Result<(), String> {
        let now = self.net.now();
        let (a0, _) = self.a_ref().received_count();
        let (b0, _) = self.b_ref().received_count();
        let (na, nb) = (a0 + to_a.len(), b0 + to_b.len());
        let (la, lb) = (to_a.len(), to_b.len());
        for m in to_b {
            self.a().submit(now, m);
        }
        for m in to_a {
            self.b().submit(now, m);
        }
        self.run_until(
            |a, b| a.received_count().0 >= na && b.received_count().0 >= nb,
            max,
        )
        .map_err(|e| {
            format!(
                "transfer stalled ({e}): a got {}/{}, b got {}/{}; unsent a {} b {}; closed a {:?} b {:?}; net {}",
                self.a_ref().received_count().0 - a0,
                la,
                self.b_ref().received_count().0 - b0,
                lb,
                self.a_ref().unsent(),
                self.b_ref().unsent(),
                self.a_ref().closed(),
                self.b_ref().closed(),
                self.net.stats(),
            )
        })
    }
}

// ----- workloads ---------------------------------------------------------

/// A deterministic pseudo-random sequence (splitmix64).
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Bytes of message `index` of a workload: the index in the first bytes,
/// then a pattern that differs per message, so that a swapped, shifted or
/// truncated payload never compares equal.
pub fn payload(tag: u8, index: usize, len: usize) -> Bytes {
    let head = [tag, (index >> 16) as u8, (index >> 8) as u8, index as u8];
    let mut v: Vec<u8> = head.iter().copied().take(len).collect();
    v.reserve(len - v.len());
    for i in v.len()..len {
        v.push(
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(index as u32 * 7) as u8
                ^ tag,
        );
    }
    v.into()
}

/// `count` messages of 1 B … 64 KiB on `stream`: the edges first (1 and
/// 2 B; the largest I-DATA (1168 B) and DATA (1172 B) payload of one
/// 1200-byte packet and one byte more; 4 KiB; 64 KiB), then sizes drawn
/// log-uniformly.
pub fn workload(tag: u8, seed: u64, count: usize, stream: u16, unordered: bool) -> Vec<Msg> {
    const EDGES: [usize; 8] = [1, 2, 1168, 1169, 1172, 1173, 4096, 65_536];
    let mut rng = SplitMix(seed);
    (0..count)
        .map(|i| {
            let len = if i < EDGES.len() {
                EDGES[i]
            } else {
                // 2^0 … 2^16, then uniform within the octave.
                let e = rng.next() % 17;
                let lo = 1usize << e;
                (lo + (rng.next() as usize % lo)).min(65_536)
            };
            Msg {
                stream,
                unordered,
                payload: payload(tag, i, len),
            }
        })
        .collect()
}

/// Checks that `got` holds exactly `sent`: in order when ordered, as a
/// multiset when unordered.
pub fn check_delivery(what: &str, sent: &[Msg], got: &[Got]) {
    assert_eq!(
        got.len(),
        sent.len(),
        "{what}: {} messages delivered, {} sent",
        got.len(),
        sent.len()
    );
    for g in got {
        assert_eq!(g.ppid, PPID, "{what}: PPID");
    }
    let ordered = sent.iter().all(|m| !m.unordered);
    if ordered {
        for (i, (s, g)) in sent.iter().zip(got).enumerate() {
            assert_eq!(g.stream, s.stream, "{what}: stream of message {i}");
            assert!(
                g.payload == s.payload,
                "{what}: message {i} differs ({} bytes sent, {} delivered, head {:?})",
                s.payload.len(),
                g.payload.len(),
                &g.payload[..g.payload.len().min(4)]
            );
        }
    } else {
        let mut s: Vec<(u16, &[u8])> = sent.iter().map(|m| (m.stream, &m.payload[..])).collect();
        let mut g: Vec<(u16, &[u8])> = got.iter().map(|m| (m.stream, &m.payload[..])).collect();
        s.sort_unstable();
        g.sort_unstable();
        assert!(s == g, "{what}: delivered set differs from the sent set");
    }
}

/// Bulk transfer both ways at once: `count` messages of 1 B … 64 KiB from
/// A to B on stream 1 and as many from B to A on stream 2, checked
/// byte-identical (and in order unless `unordered`). Checks that nobody
/// sent a packet over the 1200-byte MTU, and that a lossy link did lose
/// packets.
pub fn run_bulk<A: Stack, B: Stack>(d: &mut Duo<A, B>, seed: u64, count: usize, unordered: bool) {
    let to_b = workload(0xab, seed, count, 1, unordered);
    let to_a = workload(0xba, seed ^ 0x5555, count, 2, unordered);
    let a0 = d.a_ref().received().len();
    let b0 = d.b_ref().received().len();
    let r = d.transfer(&to_b, &to_a, Duration::from_secs(600));
    let (wa, wb) = (d.a_ref().wire(), d.b_ref().wire());
    r.unwrap_or_else(|e| {
        panic!(
            "{e}\nlargest packets: A {} B {}",
            wa.largest_packet, wb.largest_packet
        )
    });
    check_delivery("A -> B", &to_b, &d.b_ref().received()[b0..]);
    check_delivery("B -> A", &to_a, &d.a_ref().received()[a0..]);
    let stats = d.net.stats();
    assert!(
        d.a_ref().wire().largest_packet <= MAX_PACKET,
        "A sent a {}-byte packet",
        d.a_ref().wire().largest_packet
    );
    assert!(
        d.b_ref().wire().largest_packet <= MAX_PACKET,
        "B sent a {}-byte packet",
        d.b_ref().wire().largest_packet
    );
    assert_eq!(stats.dropped_mtu, 0, "a packet exceeded the 1200-byte MTU");
    if d.net.default_link().loss > 0.0 {
        assert!(
            stats.dropped_loss > 0,
            "the lossy link lost nothing: {stats}"
        );
    }
}

/// A link with `loss` and a 1200-byte MTU (so that any engine sending a
/// larger packet is caught: `dropped_mtu` must stay 0).
pub fn link(loss: f64) -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(10),
        loss,
        mtu: MAX_PACKET,
        ..LinkConfig::DEFAULT
    }
}

/// The captured packets (after [`Network::enable_capture`]) as text, one
/// line each, decoded by mcsctp's parser: for reading a failing run.
pub fn dump(net: &Network<BoxedNode>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for p in net.captured() {
        let text = match mcsctp_core::packet::Packet::parse(p.data.clone()) {
            Ok(pkt) => pkt.to_string(),
            Err(e) => format!("<unparsable: {e}>"),
        };
        let _ = writeln!(
            s,
            "{:>12.6} {} -> {} {}",
            p.at.as_secs_f64(),
            p.src,
            p.dst,
            text
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare SCTP packet: a zero common header, then the chunks padded.
    fn packet(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![0u8; 12];
        for c in chunks {
            p.extend_from_slice(c);
            p.resize(p.len().next_multiple_of(4), 0);
        }
        p
    }

    /// A DATA chunk with TSN `tsn` and two bytes of user data.
    fn data(tsn: u32) -> Vec<u8> {
        let mut c = vec![ct::DATA, 3, 0, 18];
        c.extend_from_slice(&tsn.to_be_bytes());
        c.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 53, 0xaa, 0xbb]);
        c
    }

    fn sack(cum: u32, gaps: &[(u16, u16)]) -> Vec<u8> {
        let len = 16 + 4 * gaps.len();
        let mut c = vec![ct::SACK, 0];
        c.extend_from_slice(&(len as u16).to_be_bytes());
        c.extend_from_slice(&cum.to_be_bytes());
        c.extend_from_slice(&(1u32 << 20).to_be_bytes());
        c.extend_from_slice(&(gaps.len() as u16).to_be_bytes());
        c.extend_from_slice(&0u16.to_be_bytes());
        for (s, e) in gaps {
            c.extend_from_slice(&s.to_be_bytes());
            c.extend_from_slice(&e.to_be_bytes());
        }
        c
    }

    fn audited() -> Wire {
        Wire {
            audit: Some(Box::default()),
            ..Wire::default()
        }
    }

    #[test]
    fn audit_counts_a_received_chunk_that_a_sack_reporting_higher_tsns_leaves_out() {
        let mut w = audited();
        // 13 lost on the way; 11 arrives but the receiver throws it away.
        w.incoming(&packet(&[data(10), data(11), data(12), data(14)]));
        w.record(&packet(&[sack(10, &[(2, 2)])]));
        let a = w.audit.as_deref().unwrap();
        // 11 is judged (below the 12 the SACK reports); 14, above the
        // highest reported TSN, waits.
        assert_eq!((a.discarded, a.unacked.clone()), (1, vec![(14, 0)]));
        w.record(&packet(&[sack(12, &[(2, 2)])]));
        let a = w.audit.as_deref().unwrap();
        assert_eq!((a.discarded, a.unacked.len()), (1, 0));
    }

    #[test]
    fn audit_counts_a_discarded_chunk_above_every_reported_tsn_when_it_comes_again() {
        let mut w = audited();
        // 12 arrives and is thrown away; the SACK reports only up to 11.
        w.incoming(&packet(&[data(10), data(11), data(12)]));
        w.record(&packet(&[sack(11, &[])]));
        assert_eq!(w.audit.as_deref().unwrap().discarded, 0);
        // Its retransmission is kept.
        w.incoming(&packet(&[data(12)]));
        w.record(&packet(&[sack(12, &[])]));
        let a = w.audit.as_deref().unwrap();
        assert_eq!((a.discarded, a.unacked.len()), (1, 0));
        // A copy that comes again before any SACK proves nothing.
        w.incoming(&packet(&[data(13)]));
        w.incoming(&packet(&[data(13)]));
        w.record(&packet(&[sack(13, &[])]));
        assert_eq!(w.audit.as_deref().unwrap().discarded, 1);
    }

    #[test]
    fn audit_counts_chunks_sent_twice_as_retransmissions_across_tsn_wrap() {
        let mut w = audited();
        let tsns = [u32::MAX - 1, u32::MAX, 0, 1, u32::MAX, 2];
        w.record(&packet(&tsns.map(data)));
        assert_eq!(w.audit.as_deref().unwrap().retransmitted(), 1);
        assert_eq!((w.data_packets, w.count(ct::DATA)), (1, 6));
    }

    #[test]
    fn digest_of_a_message_read_in_pieces_equals_that_of_the_whole() {
        let whole = payload(1, 7, 3000);
        for mode in [DigestMode::Sampled, DigestMode::Full] {
            let mut one = Digest::default();
            one.add(mode, &[&whole]);
            let mut pieces = Digest::default();
            pieces.add(mode, &[&whole[..5], &whole[5..2000], &whole[2000..]]);
            assert_eq!(one, pieces, "{mode:?}");
        }
    }

    #[test]
    fn digest_tells_swapped_truncated_and_corrupted_messages_apart() {
        let msgs: Vec<Msg> = (0..3)
            .map(|i| Msg {
                stream: 1,
                unordered: false,
                payload: payload(2, i, 100),
            })
            .collect();
        let sent = Digest::of(DigestMode::Sampled, &msgs);
        let mut swapped = msgs.clone();
        swapped.swap(0, 1);
        assert_ne!(Digest::of(DigestMode::Sampled, &swapped), sent);
        let mut cut = msgs.clone();
        cut[2].payload = cut[2].payload.slice(..99);
        assert_ne!(Digest::of(DigestMode::Sampled, &cut), sent);
        // A byte in the middle: only the full digest sees it.
        let mut bad = msgs.clone();
        let mut v = bad[1].payload.to_vec();
        v[50] ^= 1;
        bad[1].payload = v.into();
        assert_eq!(Digest::of(DigestMode::Sampled, &bad), sent);
        assert_ne!(
            Digest::of(DigestMode::Full, &bad),
            Digest::of(DigestMode::Full, &msgs)
        );
    }
}
