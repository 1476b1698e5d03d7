//! `sctp-proto` as a simulator node.
//!
//! sctp-proto is sans-IO like mcsctp: an `Endpoint` routes datagrams to
//! `Association`s, which hand out packets (`poll_transmit`), timers
//! (`poll_timeout` / `handle_timeout`) and events (`poll`). The adapter
//! keeps the one association of the node, reads every readable stream after
//! each input, and feeds queued messages to per-stream writers.
//!
//! Two protocol bugs of sctp-proto 0.10.8 the adapter works around (the
//! tests that show them, in `interop_sctp_proto.rs`, run without the
//! workaround):
//!
//! - **Oversized packets.** `bundle_data_chunks_into_packets` checks
//!   `bytes_in_packet + user_data.len() > mtu`, leaving out the 16-byte
//!   DATA header of the chunk being added and the padding of every chunk, so
//!   packets come out up to 16 + 3 × chunks bytes over the configured MTU
//!   (1216 bytes seen with a 1200-byte setting). RFC 9260 §6.1 (quoted in
//!   that very function): DATA chunks may be bundled "as long as the
//!   resulting packet size does not exceed the path MTU". The adapter
//!   configures sctp-proto with [`SAFE_PACKET`] so that even the worst case
//!   fits 1200 bytes.
//! - **SHUTDOWN carries the wrong Cumulative TSN Ack.** sctp-proto fills
//!   it with `cumulative_tsn_ack_point`, the point up to which the *peer*
//!   acknowledged sctp-proto's own DATA, instead of the last TSN it received.
//!   RFC 9260 §3.3.8 defines the field as "the largest TSN, such that all
//!   TSNs smaller than or equal to it have been received", and §6.2 says the
//!   endpoint "MUST fill in the Cumulative TSN Ack field to indicate the
//!   latest sequential TSN (of a valid DATA chunk) it has received". The
//!   value lies in the wrong number space (sctp-proto's own TSNs, not
//!   mcsctp's): when it falls "ahead" of what mcsctp sent, mcsctp sees an
//!   ack of data it never sent and ABORTs with Protocol Violation, as Linux
//!   does (`sctp_sf_do_9_2_shutdown` → `sctp_sf_violation_ctsn`); when it
//!   falls "behind", mcsctp drops it as a stale ack (§6.2.1 D i) and the
//!   shutdown goes on. With [`ProtoOptions::fix_shutdown`] the adapter
//!   rewrites the field with the cumulative TSN sctp-proto's own SACKs
//!   report (or the peer's initial TSN − 1 before any) and recomputes the
//!   CRC32c.
//!
//! Not worked around, pinned by tests in `interop_sctp_proto.rs`:
//!
//! - The SHUTDOWN sender never closes: after the SHUTDOWN ACK it sends
//!   SHUTDOWN COMPLETE and stays in SHUTDOWN-SENT, where RFC 9260 §9.2 says
//!   it "MUST [...] remove all record of the association".
//! - No ABORT primitive (`Association::close()` sends nothing, RFC 9260
//!   §9.1 / §10.1 ABORT), and no ABORT in reply to out-of-the-blue packets
//!   (§8.4 rule 8, a SHOULD).
//!
//! And two things of sctp-proto's embedding contract:
//!
//! - `Association::shutdown()` queues the endpoint event `Drained` at once,
//!   while the SHUTDOWN exchange has not even started. An embedding that
//!   forwards it right away (as the endpoint docs say to) removes the
//!   association's verification tag from the endpoint, which then drops the
//!   peer's SHUTDOWN ACK as unroutable. The adapter forwards endpoint events
//!   only once the association reports `is_closed()`.
//! - `Endpoint::connect` starts T1-init from `Instant::now()` (the wall
//!   clock, not the caller's time). In the simulator that instant lies a few
//!   microseconds past the epoch, so it only shifts the first INIT
//!   retransmission by that much when connecting at the start of a run.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mcsctp_sim::{Datagram, Node};
use sctp_proto::{
    Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig, Event,
    Payload, PayloadProtocolIdentifier, ReliabilityType, ServerConfig, StreamEvent,
    TransportConfig,
};

use super::{Closed, Common, Inbox, MAX_PACKET, Msg, SCTP_PORT, Stack, Wire};

/// The packet size to configure sctp-proto with so that its packets never
/// exceed [`MAX_PACKET`] despite its bundling check (see the module docs):
/// a chunk is added while `counted + len <= mtu`, every chunk counts at
/// least 17 bytes, so at most (1000 − 13) / 17 + 1 = 59 chunks fit, and the
/// packet is at most 1000 + 16 + 3 × 59 = 1193 bytes.
pub const SAFE_PACKET: usize = 1000;

/// Options of the sctp-proto node.
#[derive(Debug, Clone)]
pub struct ProtoOptions {
    /// Receive buffer (sctp-proto's `max_receive_buffer_size`).
    pub receive_buffer: u32,
    /// Largest message received or sent.
    pub max_message: u32,
    /// The packet size sctp-proto is configured with (its `mtu`).
    pub packet_size: usize,
    /// Watch sctp-proto's SHUTDOWN chunks (and the SACKs and INITs needed
    /// to know what they should say).
    pub watch_shutdown: bool,
    /// Rewrite the Cumulative TSN Ack of sctp-proto's SHUTDOWN chunks.
    pub fix_shutdown: bool,
}

impl Default for ProtoOptions {
    fn default() -> Self {
        Self {
            receive_buffer: super::RECEIVE_WINDOW as u32,
            max_message: 256 * 1024,
            packet_size: SAFE_PACKET,
            watch_shutdown: true,
            fix_shutdown: true,
        }
    }
}

impl ProtoOptions {
    /// sctp-proto configured for 1200-byte packets, as the other engines,
    /// and left alone: what the benchmark runs.
    pub fn as_published() -> Self {
        Self {
            packet_size: MAX_PACKET,
            watch_shutdown: false,
            fix_shutdown: false,
            ..Self::default()
        }
    }
}

pub struct ProtoNode {
    ep: Endpoint,
    transport: Arc<TransportConfig>,
    assoc: Option<(AssociationHandle, Association)>,
    local: SocketAddr,
    remote: SocketAddr,
    out: VecDeque<Bytes>,
    c: Common,
    /// Streams opened for writing, with their current `unordered` setting.
    writers: HashSet<(u16, bool)>,
    connected: bool,
    endpoint_events: Vec<sctp_proto::EndpointEvent>,
    /// Something was submitted since the last [`service`](Self::service).
    dirty: bool,
    wire: Wire,
    scratch: Vec<u8>,
    watch_shutdown: bool,
    fix_shutdown: bool,
    /// The cumulative TSN sctp-proto has really received: the peer's
    /// initial TSN − 1, then what its SACKs say.
    peer_cum: Option<u32>,
    /// Every SHUTDOWN chunk sctp-proto sent whose Cumulative TSN Ack was not
    /// the cumulative TSN it had received: (what it said, what it should
    /// have said).
    pub wrong_shutdown_acks: Vec<(u32, u32)>,
}

impl ProtoNode {
    pub fn new(opts: &ProtoOptions, local: SocketAddr, remote: SocketAddr) -> Self {
        let transport = Arc::new(
            TransportConfig::default()
                .with_local_port(SCTP_PORT)
                .with_remote_port(SCTP_PORT)
                .with_max_receive_buffer_size(opts.receive_buffer)
                .with_max_receive_message_size(opts.max_message)
                .with_max_send_message_size(opts.max_message),
        );
        let mut config = EndpointConfig::new();
        // sctp-proto derives its packet size as max_payload_size + 12
        // (common header) + 16 (DATA header).
        config.max_payload_size((opts.packet_size - 28) as u32);
        let mut server = ServerConfig::new();
        server.transport = transport.clone();
        Self {
            ep: Endpoint::new(Arc::new(config), Some(Arc::new(server))),
            transport,
            assoc: None,
            local,
            remote,
            out: VecDeque::new(),
            c: Common::new(),
            writers: HashSet::new(),
            connected: false,
            endpoint_events: Vec::new(),
            dirty: false,
            wire: Wire::default(),
            scratch: Vec::new(),
            watch_shutdown: opts.watch_shutdown || opts.fix_shutdown,
            fix_shutdown: opts.fix_shutdown,
            peer_cum: None,
            wrong_shutdown_acks: Vec::new(),
        }
    }

    /// Every outgoing packet passes here.
    fn emit(&mut self, mut p: Bytes) {
        if self.watch_shutdown {
            p = self.watch_packet(p);
        }
        self.wire.record(&p);
        self.out.push_back(p);
    }

    /// Tracks SACK cumulative TSNs, checks SHUTDOWN's and with
    /// `fix_shutdown` rewrites it (see the module docs).
    fn watch_packet(&mut self, p: Bytes) -> Bytes {
        let mut fixed: Option<Vec<u8>> = None;
        for (at, typ) in chunk_offsets(&p) {
            let value = at + 4;
            match typ {
                super::ct::SACK if p.len() >= value + 4 => {
                    self.peer_cum = Some(be32(&p[value..]));
                }
                super::ct::SHUTDOWN if p.len() >= value + 4 => {
                    let said = be32(&p[value..]);
                    if let Some(cum) = self.peer_cum
                        && cum != said
                    {
                        self.wrong_shutdown_acks.push((said, cum));
                        if self.fix_shutdown {
                            let v = fixed.get_or_insert_with(|| p.to_vec());
                            v[value..value + 4].copy_from_slice(&cum.to_be_bytes());
                        }
                    }
                }
                _ => {}
            }
        }
        match fixed {
            Some(mut v) => {
                let crc = mcsctp_core::packet::checksum(&v);
                v[8..12].copy_from_slice(&crc.to_le_bytes());
                v.into()
            }
            None => p,
        }
    }

    /// Learns the peer's initial TSN from its INIT or INIT ACK.
    fn observe_incoming(&mut self, p: &[u8]) {
        for (at, typ) in chunk_offsets(p) {
            if (typ == super::ct::INIT || typ == super::ct::INIT_ACK) && p.len() >= at + 20 {
                // Initiate Tag, a_rwnd, OS, MIS, then the Initial TSN.
                self.peer_cum = Some(be32(&p[at + 16..]).wrapping_sub(1));
            }
        }
    }

    pub fn association(&mut self) -> Option<&mut Association> {
        self.assoc.as_mut().map(|(_, a)| a)
    }

    /// One pass over the association after any input: events (and the
    /// reads they call for), queued messages, then every packet it has to
    /// send. `poll_transmit` costs sctp-proto a scan of its in-flight queue
    /// each call, so the adapter calls it only here, until `None`.
    fn service(&mut self, now: Instant) {
        self.dirty = false;
        {
            let Some((_, a)) = self.assoc.as_mut() else {
                return;
            };
            // Events first: they say which streams have data.
            while let Some(ev) = a.poll() {
                match ev {
                    Event::Connected => self.connected = true,
                    Event::AssociationLost { reason } | Event::HandshakeFailed { reason } => {
                        // sctp-proto reports every end, graceful or not, as
                        // a lost association; the reason tells them apart
                        // only partly (`AssociationClosed` covers both a
                        // peer's ABORT and a completed SHUTDOWN).
                        self.c
                            .closed
                            .get_or_insert(Closed::Failed(reason.to_string()));
                    }
                    Event::Stream(StreamEvent::Readable { id } | StreamEvent::Opened { id }) => {
                        read_stream(a, id, &mut self.c.inbox, &mut self.scratch);
                    }
                    _ => {}
                }
            }
            while let Some(s) = a.accept_stream() {
                let id = s.stream_identifier();
                read_stream(a, id, &mut self.c.inbox, &mut self.scratch);
            }
            // Feed queued messages while established.
            if self.connected && self.c.closed.is_none() && !a.is_closing() {
                while let Some(m) = self.c.pending.pop_front() {
                    let ppi = PayloadProtocolIdentifier::from(super::PPID);
                    if !self.writers.contains(&(m.stream, m.unordered)) {
                        if a.stream(m.stream).is_err() {
                            a.open_stream(m.stream, ppi).expect("open stream");
                        }
                        let mut st = a.stream(m.stream).expect("stream");
                        // A stream the peer opened has no default PPID yet.
                        st.set_default_payload_type(ppi).expect("ppid");
                        st.set_reliability_params(m.unordered, ReliabilityType::Reliable, 0)
                            .expect("reliability");
                        self.writers.retain(|&(s, _)| s != m.stream);
                        self.writers.insert((m.stream, m.unordered));
                    }
                    // `write_chunks` takes the `Bytes` without copying
                    // (`write_sctp` copies), with the stream's default
                    // PPID, set at `open_stream`.
                    let len = m.payload.len();
                    let n = a
                        .stream(m.stream)
                        .expect("stream")
                        .write_chunks(&mut [m.payload])
                        .expect("sctp-proto write");
                    assert_eq!(n, len);
                }
            }
            let mut packets = Vec::new();
            while let Some(t) = a.poll_transmit(now) {
                if let Payload::RawEncode(p) = t.payload {
                    packets.extend(p);
                }
            }
            while let Some(e) = a.poll_endpoint_event() {
                self.endpoint_events.push(e);
            }
            for p in packets {
                self.emit(p);
            }
        }
        let Some((h, a)) = self.assoc.as_mut() else {
            return;
        };
        if a.is_closed() {
            for e in self.endpoint_events.drain(..) {
                self.ep.handle_event(*h, e);
            }
        }
        while let Some(t) = self.ep.poll_transmit() {
            if let Payload::RawEncode(packets) = t.payload {
                for p in packets {
                    self.emit(p);
                }
            }
        }
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Offsets and types of the chunks of a packet.
fn chunk_offsets(p: &[u8]) -> Vec<(usize, u8)> {
    let mut v = Vec::new();
    let mut at = 12;
    while at + 4 <= p.len() {
        let len = usize::from(u16::from_be_bytes([p[at + 2], p[at + 3]]));
        if len < 4 {
            break;
        }
        v.push((at, p[at]));
        at += len.div_ceil(4) * 4;
    }
    v
}

fn read_stream(a: &mut Association, id: u16, inbox: &mut Inbox, scratch: &mut Vec<u8>) {
    let Ok(mut s) = a.stream(id) else { return };
    while let Ok(Some(chunks)) = s.read_sctp() {
        scratch.clear();
        scratch.resize(chunks.len(), 0);
        // Reading copies the fragments out, as an application must.
        let n = chunks.read(scratch).expect("read");
        if inbox.keep {
            inbox.push(id, chunks.ppi as u32, Bytes::copy_from_slice(&scratch[..n]));
        } else {
            inbox.count(id, &[&scratch[..n]]);
        }
    }
}

impl Node for ProtoNode {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        self.wire.incoming(&data);
        if self.watch_shutdown {
            self.observe_incoming(&data);
        }
        match self.ep.handle(now, remote, Some(local.ip()), None, data) {
            Some((h, DatagramEvent::NewAssociation(a))) if self.assoc.is_none() => {
                self.assoc = Some((h, a));
            }
            Some((h, DatagramEvent::AssociationEvent(ev))) => {
                if let Some((ah, a)) = self.assoc.as_mut()
                    && *ah == h
                {
                    a.handle_event(ev);
                }
            }
            // A second association: one per node here.
            Some((_, DatagramEvent::NewAssociation(_))) | None => {}
        }
        self.service(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if self.dirty {
            self.service(now);
        }
        let data = self.out.pop_front()?;
        Some(Datagram::new(self.local, self.remote, data))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.assoc.as_ref().and_then(|(_, a)| a.poll_timeout())
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some((_, a)) = self.assoc.as_mut() {
            a.handle_timeout(now);
        }
        self.service(now);
    }
}

impl Stack for ProtoNode {
    fn common(&self) -> &Common {
        &self.c
    }

    fn common_mut(&mut self) -> &mut Common {
        &mut self.c
    }

    fn connect(&mut self, now: Instant) {
        let mut cfg = ClientConfig::new();
        cfg.transport = self.transport.clone();
        let (h, a) = self
            .ep
            .connect(cfg, self.remote)
            .expect("sctp-proto connect");
        self.assoc = Some((h, a));
        self.service(now);
    }

    fn submit(&mut self, _now: Instant, m: Msg) {
        self.c.pending.push_back(m);
        self.dirty = true;
    }

    fn is_connected(&self) -> bool {
        self.connected
    }

    fn shutdown(&mut self, now: Instant) {
        self.service(now);
        self.association()
            .expect("association")
            .shutdown()
            .expect("sctp-proto shutdown");
        self.service(now);
    }

    /// sctp-proto has no ABORT primitive: `Association::close()` only
    /// drops the local state and sends nothing (RFC 9260 §9.1 says the
    /// ABORT primitive sends an ABORT chunk). Tests that need sctp-proto
    /// to abort provoke its one ABORT instead (Out of Resource on receive
    /// buffer exhaustion).
    fn abort(&mut self, now: Instant) {
        self.association()
            .expect("association")
            .close()
            .expect("sctp-proto close");
        self.c.closed.get_or_insert(Closed::AbortedLocally);
        self.service(now);
    }

    fn wire(&self) -> &Wire {
        &self.wire
    }

    fn wire_mut(&mut self) -> &mut Wire {
        &mut self.wire
    }

    fn t3_expirations(&self) -> Option<u64> {
        let (_, a) = self.assoc.as_ref()?;
        Some(a.stats().get_num_t3timeouts())
    }
}
