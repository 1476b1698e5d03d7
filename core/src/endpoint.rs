//! The one-to-many endpoint: owns every association of one SCTP port,
//! demultiplexes packets to them by verification tag (RFC 9260 §8.5,
//! §8.5.1), answers INITs statelessly with signed cookies (§5.1), resolves
//! collisions (§5.2), handles out-of-the-blue packets (§8.4), and hands out
//! transmits, timeouts, events and received messages.
//!
//! Push in, poll out, `now` on every call:
//!
//! - [`Endpoint::handle_datagram`] for every datagram that arrives;
//! - [`Endpoint::poll_transmit`] until it returns `None`, after every input;
//! - [`Endpoint::poll_timeout`] for the next instant to call
//!   [`Endpoint::handle_timeout`] (calling it early is harmless);
//! - [`Endpoint::poll_event`] and [`Endpoint::poll_recv`] for what the
//!   application should see.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hashbrown::HashMap;
use tracing::{debug, trace};

pub use crate::association::AssociationStats;
use crate::association::{
    Association, MemoryGauge, PeerAddresses, State, initial_a_rwnd, unrecognized_param_list,
};
use crate::cause::{ErrorCause, OutOfResource, RestartWithNewAddresses, StaleCookie};
use crate::chunk::{
    Abort, ChunkType, CookieEcho, ErrorChunk, Init, InitAck, InitCommon, ShutdownComplete,
    WireChunk,
};
use crate::config::{AssociationConfig, EndpointConfig};
use crate::cookie::{CookieContents, CookieSecrets};
use crate::event::{ApiError, AssociationHandle, Event, Transmit};
use crate::extension::{Establishment, Extension, NoExtension, Registration};
use crate::packet::{CommonHeader, Packet, PacketBuilder, ParseOptions};
use crate::param::{CookiePreservative, Ipv4Address, Ipv6Address, StateCookie, WireParam};
use crate::rng::Rng;
use crate::rx::reassembly::Delivery;
use crate::serial::{Ppid, StreamId, Tsn, VerificationTag};
use crate::tx::send_queue::OutgoingMessage;

/// A received message (or piece of one), with the association it came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Which association.
    pub association: AssociationHandle,
    /// What was delivered.
    pub delivery: Delivery,
}

/// Options of a send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Deliver without ordering (RFC 9260 U flag).
    pub unordered: bool,
    /// PR-SCTP timed reliability (RFC 3758): abandon if not acknowledged
    /// within this time.
    pub lifetime: Option<Duration>,
    /// PR-SCTP limited retransmissions (RFC 7496).
    pub max_retransmissions: Option<u32>,
    /// An opaque value for the endpoint's protocol extension (0: none):
    /// the chunk [`Extension::prefix_chunk`]
    /// gives for it precedes every transmission of the message's first
    /// fragment.
    pub extension_mark: u32,
}

/// Counters of the endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStats {
    /// Datagrams handed to [`Endpoint::handle_datagram`].
    pub datagrams_received: u64,
    /// Datagrams dropped as malformed (bad checksum included).
    pub malformed: u64,
    /// Datagrams dropped because the checksum was wrong.
    pub bad_checksum: u64,
    /// Packets discarded by the verification-tag rules.
    pub bad_tag: u64,
    /// Out-of-the-blue packets.
    pub out_of_the_blue: u64,
    /// INIT ACKs sent (no state kept for them).
    pub init_acks_sent: u64,
    /// COOKIE ECHOs refused (bad MAC, stale, malformed).
    pub cookies_refused: u64,
}

struct Slot {
    generation: u32,
    assoc: Option<Association>,
    /// The deadline under which the association is filed in the timer
    /// heap; heap entries with another instant are stale.
    filed: Option<Instant>,
    /// Whether the association is in `ready` / `readable`.
    in_ready: bool,
    in_readable: bool,
    /// Received bytes it held at the last count.
    memory: usize,
}

impl Slot {
    fn empty() -> Self {
        Self {
            generation: 0,
            assoc: None,
            filed: None,
            in_ready: false,
            in_readable: false,
            memory: 0,
        }
    }
}

/// A sans-IO SCTP endpoint owning the associations of one port, with an
/// optional protocol [`Extension`] (see [`crate::extension`]).
pub struct Endpoint<X: Extension = NoExtension> {
    config: EndpointConfig,
    /// The protocol extension, and what it registered.
    ext: X,
    registration: std::sync::Arc<Registration>,
    /// How datagrams are parsed: the extension's data chunk types included.
    parse: ParseOptions,
    /// The `now` of the latest call that had one (for the extension hooks
    /// that [`poll_recv`](Self::poll_recv) runs).
    last_now: Instant,
    wakeups: Vec<AssociationHandle>,
    rng: Rng,
    secrets: CookieSecrets,
    secret_rotated_at: Instant,
    epoch: Instant,
    slots: Vec<Slot>,
    free: Vec<u32>,
    count: usize,
    by_tag: HashMap<u32, AssociationHandle>,
    by_peer: HashMap<(IpAddr, u16), AssociationHandle>,
    /// Packets the endpoint itself sends (INIT ACK, out-of-the-blue
    /// responses): bytes and destination.
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Associations that may have something to send.
    ready: VecDeque<AssociationHandle>,
    /// Associations with deliveries waiting, served round-robin.
    readable: VecDeque<AssociationHandle>,
    timers: BinaryHeap<Reverse<(Instant, AssociationHandle)>>,
    events: VecDeque<Event>,
    /// Bytes of received user data held by all associations.
    memory_used: usize,
    ootb_tokens: f64,
    ootb_refill_at: Instant,
    /// lksctp emulation (test device): the association in the middle of a
    /// partial delivery, which blocks every other.
    #[cfg(feature = "test-devices")]
    serial_pd_owner: Option<AssociationHandle>,
    stats: EndpointStats,
}

impl<X: Extension> core::fmt::Debug for Endpoint<X> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("port", &self.config.port)
            .field("associations", &self.count)
            .finish_non_exhaustive()
    }
}

impl Endpoint<NoExtension> {
    /// A new endpoint without extension. `now` fixes the epoch its cookies
    /// count time from.
    pub fn new(config: EndpointConfig, now: Instant) -> Result<Self, ApiError> {
        Self::with_extension(config, now, NoExtension)
    }
}

impl<X: Extension> Endpoint<X> {
    /// A new endpoint with a protocol extension. Fails if the extension
    /// registers a chunk type core implements itself.
    pub fn with_extension(config: EndpointConfig, now: Instant, ext: X) -> Result<Self, ApiError> {
        config.validate().map_err(ApiError::Config)?;
        let registration = ext.registration();
        if registration.chunk_types.iter().any(|t| t.is_known()) {
            return Err(ApiError::Config(crate::config::ConfigError::Invalid(
                "the extension registers a chunk type core implements",
            )));
        }
        if (0..=255u8).any(|t| {
            registration.data_chunk_types.contains(ChunkType(t))
                && !registration.has_chunk(ChunkType(t))
        }) {
            return Err(ApiError::Config(crate::config::ConfigError::Invalid(
                "the extension's data chunk types must be among its chunk types",
            )));
        }
        if registration.prefix_len > config.max_packet_size / 4 {
            return Err(ApiError::Config(crate::config::ConfigError::Invalid(
                "the extension's prefix chunks may take at most a quarter of a packet",
            )));
        }
        let parse = ParseOptions {
            extra_data_types: registration.data_chunk_types,
            ..ParseOptions::default()
        };
        let mut rng = Rng::from_seed(config.seed);
        let mut secret = [0u8; 32];
        rng.fill(&mut secret);
        Ok(Self {
            ext,
            registration: std::sync::Arc::new(registration),
            parse,
            last_now: now,
            wakeups: Vec::new(),
            rng,
            secrets: CookieSecrets::new(secret),
            secret_rotated_at: now,
            epoch: now,
            slots: Vec::new(),
            free: Vec::new(),
            count: 0,
            by_tag: HashMap::new(),
            by_peer: HashMap::new(),
            outbox: VecDeque::new(),
            ready: VecDeque::new(),
            readable: VecDeque::new(),
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            memory_used: 0,
            ootb_tokens: f64::from(config.ootb_responses_per_second),
            ootb_refill_at: now,
            #[cfg(feature = "test-devices")]
            serial_pd_owner: None,
            stats: EndpointStats::default(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Number of live associations.
    pub fn association_count(&self) -> usize {
        self.count
    }

    /// Handles of every live association.
    pub fn associations(&self) -> impl Iterator<Item = AssociationHandle> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.assoc.as_ref().map(|_| AssociationHandle {
                index: i as u32,
                generation: s.generation,
            })
        })
    }

    fn get(&self, h: AssociationHandle) -> Option<&Association> {
        let s = self.slots.get(h.index as usize)?;
        if s.generation != h.generation {
            return None;
        }
        s.assoc.as_ref()
    }

    fn get_mut(&mut self, h: AssociationHandle) -> Option<&mut Association> {
        let s = self.slots.get_mut(h.index as usize)?;
        if s.generation != h.generation {
            return None;
        }
        s.assoc.as_mut()
    }

    /// An association and the extension, borrowed together.
    fn with_ext(&mut self, h: AssociationHandle) -> Option<(&mut Association, &mut X)> {
        let s = self.slots.get_mut(h.index as usize)?;
        if s.generation != h.generation {
            return None;
        }
        Some((s.assoc.as_mut()?, &mut self.ext))
    }

    /// The extension.
    pub fn extension(&self) -> &X {
        &self.ext
    }

    /// The extension, for its own API. Associations whose state it changes
    /// it names in [`Extension::drain_wakeups`].
    pub fn extension_mut(&mut self) -> &mut X {
        &mut self.ext
    }

    /// Refiles the associations the extension woke.
    fn take_wakeups(&mut self) {
        self.ext.drain_wakeups(&mut self.wakeups);
        if self.wakeups.is_empty() {
            return;
        }
        let mut w = core::mem::take(&mut self.wakeups);
        for &h in &w {
            self.after_change(h);
        }
        w.clear();
        self.wakeups = w;
    }

    fn gauge(&self) -> MemoryGauge {
        MemoryGauge {
            used: self.memory_used,
            budget: self.config.receive_memory_budget,
            associations: self.count,
        }
    }

    fn millis_since_epoch(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// A verification tag no live association uses (RFC 9260 §5.3.1).
    fn fresh_tag(&mut self) -> VerificationTag {
        loop {
            let t = self.rng.nonzero_u32();
            if !self.by_tag.contains_key(&t) {
                return VerificationTag(t);
            }
        }
    }

    fn alloc_handle(&mut self) -> AssociationHandle {
        if let Some(i) = self.free.pop() {
            let s = &mut self.slots[i as usize];
            let generation = s.generation.wrapping_add(1);
            *s = Slot::empty();
            s.generation = generation;
            AssociationHandle {
                index: i,
                generation: s.generation,
            }
        } else {
            self.slots.push(Slot::empty());
            AssociationHandle {
                index: (self.slots.len() - 1) as u32,
                generation: 0,
            }
        }
    }

    fn insert(&mut self, a: Association) -> AssociationHandle {
        let h = a.handle;
        self.by_tag.insert(a.my_tag.0, h);
        self.by_peer.insert((a.remote.ip(), a.peer_port), h);
        self.slots[h.index as usize].assoc = Some(a);
        self.count += 1;
        self.touch(h);
        h
    }

    // ----- application API ---------------------------------------------

    /// Starts an association with the SCTP endpoint at `peer_port` reached
    /// through `remote` (IP address and UDP encapsulation port).
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        peer_port: u16,
    ) -> Result<AssociationHandle, ApiError> {
        if self.count >= self.config.max_associations {
            return Err(ApiError::TooManyAssociations);
        }
        if let Some(&h) = self.by_peer.get(&(remote.ip(), peer_port)) {
            // One association per peer endpoint (RFC 9260 §1.4).
            return Ok(h);
        }
        let handle = self.alloc_handle();
        let tag = self.fresh_tag();
        let tsn = Tsn(self.rng.u32());
        self.last_now = now;
        let ext_params = self.ext.init_params(handle, remote);
        let a = Association::connect(
            handle,
            now,
            self.config.association.clone(),
            self.config.max_packet_size,
            remote,
            self.config.port,
            peer_port,
            tag,
            tsn,
            self.registration.clone(),
            ext_params,
        );
        debug!(assoc = %handle, %remote, peer_port, "connecting");
        Ok(self.insert(a))
    }

    /// Queues a message on an association (RFC 9260 §10.1 SEND).
    pub fn send(
        &mut self,
        now: Instant,
        association: AssociationHandle,
        stream: StreamId,
        ppid: Ppid,
        payload: Bytes,
        opts: SendOptions,
    ) -> Result<(), ApiError> {
        let a = self
            .get_mut(association)
            .ok_or(ApiError::UnknownAssociation)?;
        if !a.accepts_user_data() {
            return Err(ApiError::Closing);
        }
        a.send(
            now,
            OutgoingMessage {
                stream,
                ppid,
                payload,
                unordered: opts.unordered,
                lifetime: opts.lifetime,
                max_retransmissions: opts.max_retransmissions,
                extension_mark: opts.extension_mark,
            },
        )?;
        self.touch(association);
        Ok(())
    }

    /// Bytes the association's send buffer can take now.
    pub fn send_buffer_available(&self, association: AssociationHandle) -> Option<usize> {
        self.get(association)
            .map(Association::send_buffer_available)
    }

    /// Graceful shutdown (RFC 9260 §9.2).
    pub fn close(&mut self, now: Instant, association: AssociationHandle) -> Result<(), ApiError> {
        let a = self
            .get_mut(association)
            .ok_or(ApiError::UnknownAssociation)?;
        a.close(now);
        self.after_change(association);
        Ok(())
    }

    /// ABORT (RFC 9260 §9.1) with a User-Initiated Abort cause carrying
    /// `reason`.
    pub fn abort(
        &mut self,
        now: Instant,
        association: AssociationHandle,
        reason: &[u8],
    ) -> Result<(), ApiError> {
        let a = self
            .get_mut(association)
            .ok_or(ApiError::UnknownAssociation)?;
        a.abort_locally(now, Bytes::copy_from_slice(reason));
        self.after_change(association);
        Ok(())
    }

    /// Statistics of an association.
    pub fn association_stats(&self, association: AssociationHandle) -> Option<AssociationStats> {
        self.get(association).map(|a| a.stats)
    }

    /// The peer address (IP and UDP port) of an association.
    pub fn remote_address(&self, association: AssociationHandle) -> Option<SocketAddr> {
        self.get(association).map(|a| a.remote)
    }

    /// The RFC 9260 state name of an association ("ESTABLISHED", ...).
    pub fn association_state(&self, association: AssociationHandle) -> Option<&'static str> {
        self.get(association).map(|a| a.state.name())
    }

    /// Smoothed RTT and current RTO of an association.
    pub fn rtt(&self, association: AssociationHandle) -> Option<(Option<Duration>, Duration)> {
        self.get(association).map(|a| (a.srtt(), a.rto()))
    }

    /// Congestion window, slow-start threshold and bytes in flight.
    pub fn congestion(&self, association: AssociationHandle) -> Option<(usize, usize, usize)> {
        self.get(association).and_then(Association::congestion)
    }

    /// Bytes of received user data held for the association.
    pub fn receive_buffered(&self, association: AssociationHandle) -> Option<usize> {
        self.get(association)
            .map(Association::buffered_receive_bytes)
    }

    /// Bytes of received user data held by the endpoint.
    pub fn memory_used(&self) -> usize {
        self.memory_used
    }

    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        None
    }

    /// Next message (or piece) received on any association. Associations
    /// are served round-robin, so one that delivers a long message in
    /// pieces never holds up the others.
    pub fn poll_recv(&mut self) -> Option<Received> {
        let n = self.readable.len();
        for _ in 0..n {
            let h = self.readable.pop_front()?;
            #[cfg(feature = "test-devices")]
            if let Some(owner) = self.serial_pd_owner
                && owner != h
                && self.get(owner).is_some()
            {
                // lksctp emulation: everything waits for the owner.
                self.readable.push_back(h);
                continue;
            }
            if let Some(slot) = self.slot_mut(h) {
                slot.in_readable = false;
            }
            let now = self.last_now;
            let Some((a, ext)) = self.with_ext(h) else {
                continue;
            };
            let Some(delivery) = a.poll_recv(now, ext) else {
                continue;
            };
            #[cfg(feature = "test-devices")]
            if a.config.lksctp_serial_partial_delivery {
                use crate::rx::reassembly::DeliveryKind;
                self.serial_pd_owner = match delivery.kind {
                    DeliveryKind::Piece {
                        end_of_record: false,
                        ..
                    } => Some(h),
                    _ => None,
                };
            }
            self.after_change(h);
            return Some(Received {
                association: h,
                delivery,
            });
        }
        None
    }

    /// Receives for one association only.
    pub fn poll_recv_on(&mut self, association: AssociationHandle) -> Option<Delivery> {
        let now = self.last_now;
        let (a, ext) = self.with_ext(association)?;
        let d = a.poll_recv(now, ext)?;
        self.after_change(association);
        Some(d)
    }

    // ----- output --------------------------------------------------------

    /// Writes the next datagram to send at the end of `buf`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.last_now = now;
        self.take_wakeups();
        if let Some((dest, bytes)) = self.outbox.pop_front() {
            buf.extend_from_slice(&bytes);
            return Some(Transmit {
                destination: dest,
                len: bytes.len(),
                segment_size: None,
            });
        }
        if let Some(t) = self.ext.poll_transmit(now, buf) {
            return Some(t);
        }
        // Each association gets one chance per call; one that has nothing to
        // send leaves the ready list until something changes it.
        for _ in 0..self.ready.len() {
            let Some(h) = self.ready.pop_front() else {
                break;
            };
            let gauge = self.gauge();
            let Some((a, ext)) = self.with_ext(h) else {
                continue;
            };
            let t = a.poll_transmit(now, buf, gauge, ext);
            if let Some(slot) = self.slot_mut(h) {
                slot.in_ready = false;
            }
            match t {
                Some(t) => {
                    // Fairness: it goes to the back if it has more.
                    self.refile(h, true);
                    return Some(t);
                }
                None => self.refile(h, false),
            }
        }
        None
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.take_wakeups();
        let ext = self.ext.poll_timeout();
        // Heap entries whose instant is not the association's filed deadline
        // are stale: drop them.
        while let Some(Reverse((t, h))) = self.timers.peek().copied() {
            match self.slot(h) {
                Some(s) if s.filed == Some(t) => return Some(ext.map_or(t, |e| e.min(t))),
                _ => {
                    self.timers.pop();
                }
            }
        }
        ext
    }

    /// Handles every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now.saturating_duration_since(self.secret_rotated_at)
            >= self.config.cookie_secret_rotation
        {
            let mut s = [0u8; 32];
            self.rng.fill(&mut s);
            self.secrets.rotate(s);
            self.secret_rotated_at = now;
        }
        self.last_now = now;
        if self.ext.poll_timeout().is_some_and(|t| t <= now) {
            self.ext.handle_timeout(now);
        }
        while let Some(Reverse((t, h))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            match self.slot_mut(h) {
                Some(s) if s.filed == Some(t) => s.filed = None,
                _ => continue,
            }
            if let Some((a, ext)) = self.with_ext(h)
                && a.poll_timeout(ext).is_some_and(|d| d <= now)
            {
                a.handle_timeout(now, ext);
            }
            self.after_change(h);
        }
        self.take_wakeups();
    }

    /// Re-files an association after anything changed it: its timer,
    /// readiness to send and receive, events, memory, and removal once it
    /// has closed and sent its last packet.
    fn after_change(&mut self, h: AssociationHandle) {
        self.refile(h, true);
    }

    fn refile(&mut self, h: AssociationHandle, may_send: bool) {
        let Some((a, ext)) = self.with_ext(h) else {
            return;
        };
        let mut evs = Vec::new();
        while let Some(e) = a.poll_event() {
            if let Event::Closed { reason, .. } = &e {
                ext.on_closed(h, reason);
            }
            evs.push(e);
        }
        let deadline = a.poll_timeout(ext);
        let deliverable = a.has_deliverable();
        let drained = a.is_drained();
        // Closed, but kept for its undelivered messages (or its last
        // packet): its tag and peer keys go now.
        let closed =
            matches!(a.state, State::Closed).then(|| (a.my_tag.0, (a.remote.ip(), a.peer_port)));
        let wants = may_send && a.wants_to_send(ext);
        let memory = a.buffered_receive_bytes();
        self.events.extend(evs);
        let Some(slot) = self.slot_mut(h) else {
            return;
        };
        let old_memory = core::mem::replace(&mut slot.memory, memory);
        let file = match (deadline, slot.filed) {
            (Some(d), Some(f)) if d >= f => None,
            (Some(d), _) => {
                slot.filed = Some(d);
                Some(d)
            }
            (None, _) => None,
        };
        let add_readable = deliverable && !slot.in_readable;
        slot.in_readable |= deliverable;
        let add_ready = wants && !slot.in_ready;
        slot.in_ready |= wants;
        self.memory_used = self.memory_used - old_memory + memory;
        if let Some(d) = file {
            self.timers.push(Reverse((d, h)));
        }
        if add_readable {
            self.readable.push_back(h);
        }
        if add_ready {
            self.ready.push_back(h);
        }
        if drained && !deliverable {
            self.remove(h);
        } else if let Some((tag, peer)) = closed {
            // RFC 9260 §9.1, §9.2: a closed association's TCB is removed
            // ("remove all record of the association"). What the
            // application has not read yet stays readable through the
            // handle, but the peer must meet no TCB any more: its packets
            // are out of the blue (§8.4) and its next INIT starts a new
            // association instead of hitting a dead one.
            if self.by_tag.get(&tag) == Some(&h) {
                self.by_tag.remove(&tag);
            }
            if self.by_peer.get(&peer) == Some(&h) {
                self.by_peer.remove(&peer);
            }
        }
    }

    fn touch(&mut self, h: AssociationHandle) {
        self.after_change(h);
    }

    fn slot(&self, h: AssociationHandle) -> Option<&Slot> {
        self.slots
            .get(h.index as usize)
            .filter(|s| s.generation == h.generation && s.assoc.is_some())
    }

    fn slot_mut(&mut self, h: AssociationHandle) -> Option<&mut Slot> {
        self.slots
            .get_mut(h.index as usize)
            .filter(|s| s.generation == h.generation && s.assoc.is_some())
    }

    fn remove(&mut self, h: AssociationHandle) {
        let Some(slot) = self.slots.get_mut(h.index as usize) else {
            return;
        };
        if slot.generation != h.generation {
            return;
        }
        if let Some(a) = slot.assoc.take() {
            self.memory_used -= slot.memory;
            slot.memory = 0;
            slot.filed = None;
            slot.in_ready = false;
            slot.in_readable = false;
            if self.by_tag.get(&a.my_tag.0) == Some(&h) {
                self.by_tag.remove(&a.my_tag.0);
            }
            if self.by_peer.get(&(a.remote.ip(), a.peer_port)) == Some(&h) {
                self.by_peer.remove(&(a.remote.ip(), a.peer_port));
            }
            self.free.push(h.index);
            self.count -= 1;
            #[cfg(feature = "test-devices")]
            if self.serial_pd_owner == Some(h) {
                self.serial_pd_owner = None;
            }
        }
    }

    // ----- input ---------------------------------------------------------

    /// Handles a datagram that arrived at `local` from `remote`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        self.stats.datagrams_received += 1;
        self.last_now = now;
        // RFC 9260 §8.4 (1): "If the OOTB packet is to or from a non-unicast
        // address, a receiver SHOULD silently discard the packet." mcsctp
        // applies it to every packet: traffic to a non-unicast address is
        // the extension's (`claim_packet`), never an association's.
        // An unspecified local address means the runtime could not tell
        // (no IP_PKTINFO); only a known non-unicast one is refused.
        if !is_unicast(remote.ip()) {
            return;
        }
        let to_group = !(is_unicast(local.ip()) || local.ip().is_unspecified());
        let packet = match Packet::parse_with(data, &self.parse) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                if matches!(e, crate::packet::PacketError::BadChecksum { .. }) {
                    self.stats.bad_checksum += 1;
                }
                debug!(%remote, error = %e, "dropping malformed packet");
                return;
            }
        };
        trace!(%remote, %packet, "received");
        if to_group {
            self.handle_foreign(now, local, remote, packet);
            return;
        }
        let hdr = *packet.header();
        if hdr.dst_port != self.config.port {
            self.out_of_the_blue(now, remote, &packet);
            return;
        }
        match packet.first_chunk_type() {
            ChunkType::INIT => self.handle_init(now, remote, &packet),
            ChunkType::COOKIE_ECHO => self.handle_cookie_echo(now, remote, &packet),
            _ => self.handle_for_association(now, remote, packet),
        }
    }

    /// A packet to a non-unicast address: the extension's, if it claims it
    /// for one of its associations; nothing ever answers it.
    fn handle_foreign(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        packet: Packet,
    ) {
        let Some(h) = self.ext.claim_packet(now, local, remote, &packet) else {
            return;
        };
        if let Some((a, ext)) = self.with_ext(h) {
            a.handle_foreign_packet(now, packet, ext);
        }
        self.after_change(h);
        self.take_wakeups();
    }

    /// Finds the association a non-INIT, non-COOKIE-ECHO packet belongs to,
    /// applying RFC 9260 §8.5 and the exceptions of §8.5.1.
    fn handle_for_association(&mut self, now: Instant, remote: SocketAddr, packet: Packet) {
        let hdr = *packet.header();
        // Only the first chunk's header is looked at here (no reference to
        // the buffer is taken on the hot path).
        let first = packet.first_chunk_type();
        let by_peer = self.by_peer.get(&(remote.ip(), hdr.src_port)).copied();
        let reflected = (first == ChunkType::ABORT || first == ChunkType::SHUTDOWN_COMPLETE)
            && packet.first_chunk_flags() & 1 != 0;
        let handle = if reflected {
            // §8.5.1 B and C: with the T bit, the tag is the receiver's own
            // (the peer's tag from the association's point of view).
            by_peer.filter(|&h| {
                self.get(h)
                    .is_some_and(|a| a.peer_tag == hdr.verification_tag && a.peer_tag.0 != 0)
            })
        } else {
            self.by_tag
                .get(&hdr.verification_tag.0)
                .copied()
                .filter(|&h| {
                    self.get(h).is_some_and(|a| {
                        a.remote.ip() == remote.ip() && a.peer_port == hdr.src_port
                    })
                })
        };
        // §8.5.1 E, an exception to the tag check: "If the receiver is in
        // COOKIE-ECHOED or COOKIE-WAIT state, the procedures in Section 8.4
        // SHOULD be followed; in other words, it is treated as an OOTB
        // packet." (A SHUTDOWN ACK from a peer that restarted carries the
        // old tag; its SHUTDOWN COMPLETE reply lets the peer close the old
        // association.)
        if first == ChunkType::SHUTDOWN_ACK
            && handle
                .or(by_peer)
                .and_then(|h| self.get(h))
                .is_some_and(|a| {
                    matches!(
                        a.state,
                        State::CookieWait { .. } | State::CookieEchoed { .. }
                    )
                })
        {
            self.out_of_the_blue(now, remote, &packet);
            return;
        }
        let Some(h) = handle else {
            if by_peer.is_some() {
                // §8.5: "If the received Verification Tag value does not
                // match the receiver's own tag value, the receiver MUST
                // silently discard the packet and MUST NOT process it any
                // further, except for those cases listed in Section 8.5.1".
                // The packet belongs to the association of its addresses and
                // ports, so it is not out of the blue: no ABORT answers it.
                self.stats.bad_tag += 1;
                debug!(%remote, tag = hdr.verification_tag.0, "dropping packet with a wrong verification tag");
                return;
            }
            self.out_of_the_blue(now, remote, &packet);
            return;
        };
        // An INIT ACK is handled before the rest (RFC 9260 §5.1 C).
        if first == ChunkType::INIT_ACK {
            let parsed = packet.chunks().next().map(|raw| InitAck::from_raw(&raw));
            if let (Some(Ok(ack)), Some((a, ext))) = (parsed, self.with_ext(h)) {
                a.handle_init_ack(now, &ack, ext);
            }
            self.after_change(h);
            return;
        }
        let gauge = self.gauge();
        if let Some((a, ext)) = self.with_ext(h) {
            a.handle_packet(now, remote, packet, 0, gauge, ext);
        }
        self.after_change(h);
        self.take_wakeups();
    }

    fn handle_init(&mut self, now: Instant, remote: SocketAddr, packet: &Packet) {
        let hdr = *packet.header();
        // §8.5.1 A: "When an endpoint receives an SCTP packet with the
        // Verification Tag set to 0, it SHOULD verify that the packet
        // contains only an INIT chunk. Otherwise, the receiver MUST silently
        // discard the packet." (The parser already refused INIT bundles.)
        if hdr.verification_tag.0 != 0 {
            self.stats.bad_tag += 1;
            return;
        }
        let Some(raw) = packet.chunks().next() else {
            return;
        };
        let init = match Init::from_raw(&raw) {
            Ok(i) => i,
            Err(e) => {
                debug!(%remote, error = %e, "malformed INIT");
                return;
            }
        };
        if let Err(fault) = init.check() {
            // §3.3.2 / §3.3.2.1: a zero Initiate Tag is discarded; other
            // faults are answered with an ABORT carrying the cause, its tag
            // the INIT's Initiate Tag, T bit clear (§8.4 (3)).
            if let Some(cause) = fault.abort_cause(false) {
                self.send_ootb_abort(now, remote, hdr, init.initiate_tag, false, Some(cause));
            }
            return;
        }
        let existing = self.by_peer.get(&(remote.ip(), hdr.src_port)).copied();
        match existing {
            None => {
                if !self.config.accept_incoming {
                    // Nobody listens: §8.4 (8) style ABORT.
                    self.send_ootb_abort(now, remote, hdr, init.initiate_tag, false, None);
                    return;
                }
                self.send_init_ack(now, remote, hdr, &init, None);
            }
            Some(h) => self.init_for_existing(now, remote, hdr, &init, h),
        }
    }

    /// RFC 9260 §5.2.1, §5.2.2 and §9.2: an INIT for an association that
    /// exists.
    fn init_for_existing(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: CommonHeader,
        init: &Init,
        h: AssociationHandle,
    ) {
        let Some(a) = self.get(h) else {
            return;
        };
        match a.state {
            State::ShutdownAckSent { .. } => {
                // §9.2: "it SHOULD discard the INIT chunk and retransmit the
                // SHUTDOWN ACK chunk."
                if let Some(a) = self.get_mut(h) {
                    a.resend_shutdown_ack();
                }
                self.after_change(h);
            }
            State::CookieWait { .. } => {
                // §5.2.1: answer with the parameters of our own INIT, our tag
                // unchanged; state, T1 and TCB untouched.
                let ours = a.sent_init();
                let peer_addrs = PeerAddresses::from_params(&init.params, remote.ip());
                self.send_init_ack(
                    now,
                    remote,
                    hdr,
                    init,
                    Some(Existing {
                        local_tag: ours.initiate_tag,
                        local_initial_tsn: ours.initial_tsn,
                        tie_tags: (0, 0),
                        peer_addrs,
                    }),
                );
            }
            State::CookieEchoed { .. } => {
                // §5.2.1: "Upon receipt of an INIT chunk in the COOKIE-ECHOED
                // state, an endpoint MUST respond with an INIT ACK chunk using
                // the same parameters it sent in its original INIT chunk
                // [...], provided that no NEW address has been added to the
                // forming association. If the INIT chunk indicates that a new
                // address has been added to the association, then the entire
                // INIT chunk MUST be discarded, and NO changes should be made
                // to the existing association. An ABORT chunk SHOULD be sent
                // in response". (In COOKIE-WAIT the peer's addresses are not
                // known yet, so nothing can be "new".)
                let known = a.peer_addresses.clone();
                if self.abort_if_adds_addresses(now, remote, hdr, init, &known) {
                    return;
                }
                // §5.2.1: same, and "it MUST populate its Tie-Tags within both
                // the association TCB and inside the State Cookie".
                let Some(a) = self.get(h) else {
                    return;
                };
                let my_tag = a.my_tag;
                let my_tsn = a.my_initial_tsn;
                let mut rng = self.rng.clone();
                let ties = self
                    .get_mut(h)
                    .map(|a| a.tie_tags(|| rng.nonzero_u32()))
                    .unwrap_or((0, 0));
                self.rng = rng;
                let peer_addrs = PeerAddresses::from_params(&init.params, remote.ip());
                self.send_init_ack(
                    now,
                    remote,
                    hdr,
                    init,
                    Some(Existing {
                        local_tag: my_tag,
                        local_initial_tsn: my_tsn,
                        tie_tags: ties,
                        peer_addrs,
                    }),
                );
            }
            State::Closed => {}
            _ => {
                // §5.2.2: ABORT if the INIT adds addresses; otherwise an INIT
                // ACK with a new tag and the association's tie-tags.
                let peer_addrs = a.peer_addresses.clone();
                if self.abort_if_adds_addresses(now, remote, hdr, init, &peer_addrs) {
                    return;
                }
                let mut rng = self.rng.clone();
                let ties = self
                    .get_mut(h)
                    .map(|a| a.tie_tags(|| rng.nonzero_u32()))
                    .unwrap_or((0, 0));
                self.rng = rng;
                let tag = self.fresh_tag();
                let tsn = Tsn(self.rng.u32());
                self.send_init_ack(
                    now,
                    remote,
                    hdr,
                    init,
                    Some(Existing {
                        local_tag: tag,
                        local_initial_tsn: tsn,
                        tie_tags: ties,
                        peer_addrs,
                    }),
                );
            }
        }
    }

    /// RFC 9260 §5.2.2: "If new addresses are added to the association, the
    /// endpoint MUST respond with an ABORT chunk, copying the 'Initiate Tag'
    /// of the unexpected INIT chunk into the 'Verification Tag' of the
    /// outbound packet carrying the ABORT chunk. In the ABORT chunk, the
    /// error cause MAY be set to 'restart of an association with new
    /// addresses'. The error SHOULD list the addresses that were added to
    /// the restarting association." Returns whether the INIT added any.
    fn abort_if_adds_addresses(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: CommonHeader,
        init: &Init,
        known: &PeerAddresses,
    ) -> bool {
        let added = known.added(&init.params, remote.ip());
        if added.is_empty() {
            return false;
        }
        let mut v = Vec::new();
        for a in added {
            match a {
                IpAddr::V4(a) => Ipv4Address(a).write(&mut v),
                IpAddr::V6(a) => Ipv6Address(a).write(&mut v),
            }
        }
        let cause = ErrorCause::RestartWithNewAddresses(RestartWithNewAddresses {
            addresses: v.into(),
        });
        self.send_ootb_abort(now, remote, hdr, init.initiate_tag, false, Some(cause));
        true
    }

    /// Builds and queues an INIT ACK with a signed cookie (RFC 9260 §5.1 B).
    fn send_init_ack(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: CommonHeader,
        init: &Init,
        existing: Option<Existing>,
    ) {
        let n = Association::negotiate(&self.config.association, &self.registration, init);
        let (local_tag, local_tsn, ties, peer_addrs) = match existing {
            Some(e) => (e.local_tag, e.local_initial_tsn, e.tie_tags, e.peer_addrs),
            None => {
                let tag = self.fresh_tag();
                let tsn = Tsn(self.rng.u32());
                let addrs = PeerAddresses::from_params(&init.params, remote.ip());
                (tag, tsn, (0, 0), addrs)
            }
        };
        // §5.2.6: honour a Cookie Preservative up to a bound.
        let extra = init
            .params
            .find::<CookiePreservative>()
            .and_then(Result::ok)
            .map_or(0, |p| {
                u64::from(p.increment_ms)
                    .min(self.config.max_cookie_preservative.as_millis() as u64)
            });
        let lifetime = self.config.cookie_lifetime.as_millis() as u64 + extra;
        let contents = CookieContents {
            created_ms: self.millis_since_epoch(now),
            lifetime_ms: lifetime.min(u64::from(u32::MAX)) as u32,
            local_tag,
            peer_tag: init.initiate_tag,
            local_initial_tsn: local_tsn,
            peer_initial_tsn: init.initial_tsn,
            peer_a_rwnd: init.a_rwnd,
            outbound_streams: n.outbound_streams,
            inbound_streams: n.inbound_streams,
            local_tie_tag: ties.0,
            peer_tie_tag: ties.1,
            local_port: self.config.port,
            peer_port: hdr.src_port,
            peer_addr: remote.ip(),
            capabilities: n.caps,
            extension: Bytes::new(),
        };
        // The cookie's extension field: the peer's addresses, then the
        // protocol extension's own field.
        let extras = self.ext.init_ack_params(remote, init);
        let mut field = peer_addrs.encode();
        field.extend_from_slice(&extras.cookie);
        let contents = CookieContents {
            extension: field.into(),
            ..contents
        };
        let cookie = self.secrets.seal(&contents);
        let cfg = &self.config.association;
        let mut params =
            Association::local_params(cfg, &self.registration).with(&StateCookie(cookie));
        for p in &extras.params {
            params = params.with_raw(p);
        }
        for u in unrecognized_param_list(&init.params, &self.registration) {
            params = params.with(&u);
        }
        let ack = InitAck(InitCommon {
            initiate_tag: local_tag,
            a_rwnd: initial_a_rwnd(cfg, self.config.max_packet_size),
            outbound_streams: cfg.outbound_streams,
            inbound_streams: cfg.max_inbound_streams,
            initial_tsn: local_tsn,
            params: params.build(),
        });
        // §5.1 B: the INIT ACK carries the INIT's Initiate Tag as its
        // Verification Tag, and goes to the INIT's source address.
        let header = CommonHeader {
            src_port: self.config.port,
            dst_port: hdr.src_port,
            verification_tag: init.initiate_tag,
        };
        let mut out = Vec::new();
        let mut b = PacketBuilder::new(&mut out, header, usize::from(u16::MAX));
        if b.add(&ack).is_err() {
            return;
        }
        b.finish();
        self.stats.init_acks_sent += 1;
        self.outbox.push_back((remote, out));
    }

    fn handle_cookie_echo(&mut self, now: Instant, remote: SocketAddr, packet: &Packet) {
        let hdr = *packet.header();
        let Some(raw) = packet.chunks().next() else {
            return;
        };
        let Ok(echo) = CookieEcho::from_raw(&raw) else {
            return;
        };
        let c = match self.secrets.open(&echo.cookie) {
            Ok(c) => c,
            Err(e) => {
                // RFC 9260 §5.2.4 row D, late: the peer retransmits the
                // cookie that created its association because every COOKIE
                // ACK was lost, long enough for the secret that signed it
                // to rotate away. The packet carries the association's own
                // tag and the cookie its MAC (checked when it was
                // accepted): answering with COOKIE ACK is all row D asks.
                // Silence would leave the peer in COOKIE-ECHOED for good.
                if let Some(h) = self.by_peer.get(&(remote.ip(), hdr.src_port)).copied()
                    && let Some(a) = self.get_mut(h)
                    && a.my_tag == hdr.verification_tag
                    && a.is_own_cookie(&echo.cookie)
                {
                    debug!(assoc = %h, "COOKIE ECHO of the association's own cookie, secret rotated");
                    a.resend_cookie_ack();
                    self.after_change(h);
                    return;
                }
                // §5.1.5 (2): "If the values do not match, the packet MUST be
                // silently discarded."
                self.stats.cookies_refused += 1;
                debug!(%remote, error = %e, "refusing COOKIE ECHO");
                return;
            }
        };
        // §5.1.5 (3): "Compare the port numbers and the Verification Tag
        // contained within the COOKIE ECHO chunk to the actual port numbers
        // and the Verification Tag within the SCTP common header of the
        // received packet. If these values do not match, the packet MUST be
        // silently discarded."
        if c.local_tag != hdr.verification_tag
            || c.local_port != hdr.dst_port
            || c.peer_port != hdr.src_port
            || c.peer_addr != remote.ip()
        {
            self.stats.cookies_refused += 1;
            return;
        }
        let existing = self.by_peer.get(&(remote.ip(), hdr.src_port)).copied();
        // A cookie whose tags both match the existing association (Table 2
        // row D) re-creates nothing: it is the retransmission of a COOKIE
        // ECHO whose COOKIE ACK was lost. Its age does not matter, and
        // refusing it as stale would leave the peer in COOKIE-ECHOED against
        // an association that is already up (Linux skips the check likewise
        // when an association exists).
        let duplicate = existing
            .and_then(|h| self.get(h))
            .is_some_and(|a| a.my_tag == c.local_tag && a.peer_tag == c.peer_tag);
        // §5.1.5 (4): lifetime.
        let age = self.millis_since_epoch(now).saturating_sub(c.created_ms);
        if age > u64::from(c.lifetime_ms) && !duplicate {
            self.stats.cookies_refused += 1;
            let staleness_us = (age - u64::from(c.lifetime_ms)).saturating_mul(1000);
            let cause = ErrorCause::StaleCookie(StaleCookie {
                staleness_us: staleness_us.min(u64::from(u32::MAX)) as u32,
            });
            // §5.1.5: "If the State Cookie is expired, the endpoint MUST send
            // an ERROR chunk with a 'Stale Cookie' error cause to the peer
            // endpoint", tagged with the peer's tag.
            let header = CommonHeader {
                src_port: self.config.port,
                dst_port: hdr.src_port,
                verification_tag: c.peer_tag,
            };
            self.queue_packet(remote, header, &ErrorChunk::new([&cause]));
            return;
        }
        match existing {
            None => self.accept_cookie(now, remote, packet, &c, &echo.cookie),
            Some(h) => self.cookie_for_existing(now, remote, packet, &c, h, &echo.cookie),
        }
    }

    fn accept_cookie(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: &Packet,
        c: &CookieContents,
        cookie: &[u8],
    ) {
        let (peer_addrs, ext_field) = cookie_extension_fields(c);
        if self.count >= self.config.max_associations || self.by_tag.contains_key(&c.local_tag.0) {
            // Out of resources: RFC 9260 §3.3.10.4 in an ABORT.
            let header = CommonHeader {
                src_port: self.config.port,
                dst_port: c.peer_port,
                verification_tag: c.peer_tag,
            };
            let abort = Abort::with_cause(false, &ErrorCause::OutOfResource(OutOfResource));
            self.queue_packet(remote, header, &abort);
            return;
        }
        let handle = self.alloc_handle();
        let a = Association::accept(
            handle,
            now,
            self.config.association.clone(),
            self.config.max_packet_size,
            remote,
            c,
            peer_addrs,
            self.registration.clone(),
        );
        debug!(assoc = %handle, %remote, "accepted association");
        let mut a = a;
        a.remember_cookie(cookie);
        self.insert(a);
        // Chunks bundled after the COOKIE ECHO (DATA, typically).
        let gauge = self.gauge();
        if let Some((a, ext)) = self.with_ext(handle) {
            a.ext_established(now, ext, Establishment::Accepted { cookie: &ext_field });
            a.handle_packet(now, remote, packet.clone(), 1, gauge, ext);
        }
        self.after_change(handle);
        self.take_wakeups();
    }

    /// RFC 9260 §5.2.4, Table 2: a COOKIE ECHO when a TCB exists.
    fn cookie_for_existing(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: &Packet,
        c: &CookieContents,
        h: AssociationHandle,
        cookie: &[u8],
    ) {
        let (_, ext_field) = cookie_extension_fields(c);
        let ext_field = &ext_field[..];
        let Some(a) = self.get(h) else {
            return;
        };
        let local = a.my_tag == c.local_tag;
        let peer = a.peer_tag == c.peer_tag;
        let peer_unknown = a.peer_tag.0 == 0;
        let ties_match = c.local_tie_tag != 0
            && c.local_tie_tag == a.local_tie_tag
            && c.peer_tie_tag == a.peer_tie_tag;
        let no_ties = c.local_tie_tag == 0 && c.peer_tie_tag == 0;
        let shutting_down = matches!(a.state, State::ShutdownAckSent { .. });
        let action = if !local && !peer && ties_match {
            CookieAction::Restart
        } else if local && (!peer || peer_unknown) {
            CookieAction::Collision
        } else if !local && peer && no_ties {
            CookieAction::Discard
        } else if local && peer {
            CookieAction::Duplicate
        } else {
            CookieAction::Discard
        };
        debug!(assoc = %h, ?action, "COOKIE ECHO for an existing association");
        let gauge = self.gauge();
        match action {
            CookieAction::Restart if shutting_down => {
                if let Some(a) = self.get_mut(h) {
                    a.cookie_while_shutting_down();
                }
            }
            CookieAction::Restart => {
                let old_tag = self.get(h).map(|a| a.my_tag.0);
                if let Some(a) = self.get_mut(h) {
                    a.restart(now, c);
                    a.remember_cookie(cookie);
                }
                if let Some(t) = old_tag {
                    self.by_tag.remove(&t);
                }
                self.by_tag.insert(c.local_tag.0, h);
                if let Some((a, ext)) = self.with_ext(h) {
                    a.ext_established(now, ext, Establishment::Restarted { cookie: ext_field });
                    a.handle_packet(now, remote, packet.clone(), 1, gauge, ext);
                }
            }
            CookieAction::Collision => {
                if let Some((a, ext)) = self.with_ext(h) {
                    a.collision_established(now, c);
                    a.remember_cookie(cookie);
                    a.ext_established(now, ext, Establishment::Repeated { cookie: ext_field });
                    a.handle_packet(now, remote, packet.clone(), 1, gauge, ext);
                }
            }
            CookieAction::Duplicate => {
                if let Some((a, ext)) = self.with_ext(h) {
                    a.duplicate_cookie(now, c);
                    a.ext_established(now, ext, Establishment::Repeated { cookie: ext_field });
                    a.handle_packet(now, remote, packet.clone(), 1, gauge, ext);
                }
            }
            CookieAction::Discard => return,
        }
        self.after_change(h);
        self.take_wakeups();
    }

    /// RFC 9260 §8.4: a packet no association claims.
    fn out_of_the_blue(&mut self, now: Instant, remote: SocketAddr, packet: &Packet) {
        self.stats.out_of_the_blue += 1;
        let hdr = *packet.header();
        // (3) "If the packet contains an INIT chunk with a Verification Tag
        // set to '0' [...] and an ABORT has to be sent in response, the
        // Verification Tag of the packet containing the ABORT chunk MUST be
        // the Initiate Tag of the received INIT chunk, and the T bit of the
        // ABORT chunk has to be set to 0". Here: an INIT to a port nobody
        // serves.
        if packet.first_chunk_type() == ChunkType::INIT {
            if hdr.verification_tag.0 == 0
                && let Some(Ok(init)) = packet.chunks().next().map(|r| Init::from_raw(&r))
                && init.initiate_tag.0 != 0
            {
                self.send_ootb_abort(now, remote, hdr, init.initiate_tag, false, None);
            }
            return;
        }
        let mut shutdown_ack = false;
        for raw in packet.chunks() {
            match raw.typ {
                // (2) "If the OOTB packet contains an ABORT chunk, the receiver
                // MUST silently discard the OOTB packet and take no further
                // action."
                ChunkType::ABORT => return,
                // (6) SHUTDOWN COMPLETE: discard.
                ChunkType::SHUTDOWN_COMPLETE => return,
                // (7) COOKIE ACK or an ERROR with Stale Cookie: discard.
                ChunkType::COOKIE_ACK => return,
                ChunkType::ERROR => {
                    let stale = crate::chunk::ErrorChunk::from_raw(&raw).is_ok_and(|e| {
                        e.causes
                            .iter()
                            .any(|c| c.code == crate::cause::CauseCode::STALE_COOKIE)
                    });
                    if stale {
                        return;
                    }
                }
                ChunkType::SHUTDOWN_ACK => shutdown_ack = true,
                _ => {}
            }
        }
        if shutdown_ack {
            // (5) "the receiver SHOULD respond to the sender of the OOTB
            // packet with a SHUTDOWN COMPLETE [...] the Verification Tag [...]
            // copied from the received packet, and [...] the T bit set".
            if self.ootb_allowed(now) {
                let header = CommonHeader {
                    src_port: hdr.dst_port,
                    dst_port: hdr.src_port,
                    verification_tag: hdr.verification_tag,
                };
                self.queue_packet(
                    remote,
                    header,
                    &ShutdownComplete {
                        reflected_tag: true,
                    },
                );
            }
            return;
        }
        // (8) "The receiver SHOULD respond to the sender of the OOTB packet
        // with an ABORT [...] the Verification Tag [...] copied from the
        // received packet, and the T bit set".
        self.send_ootb_abort(now, remote, hdr, hdr.verification_tag, true, None);
    }

    fn ootb_allowed(&mut self, now: Instant) -> bool {
        let rate = f64::from(self.config.ootb_responses_per_second);
        let elapsed = now
            .saturating_duration_since(self.ootb_refill_at)
            .as_secs_f64();
        self.ootb_refill_at = now;
        self.ootb_tokens = (self.ootb_tokens + elapsed * rate).min(rate);
        if self.ootb_tokens >= 1.0 {
            self.ootb_tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn send_ootb_abort(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        hdr: CommonHeader,
        tag: VerificationTag,
        reflected: bool,
        cause: Option<ErrorCause>,
    ) {
        if !self.ootb_allowed(now) {
            return;
        }
        let header = CommonHeader {
            src_port: hdr.dst_port,
            dst_port: hdr.src_port,
            verification_tag: tag,
        };
        let abort = match cause {
            Some(c) => Abort::with_cause(reflected, &c),
            None => Abort {
                reflected_tag: reflected,
                causes: Default::default(),
            },
        };
        self.queue_packet(remote, header, &abort);
    }

    fn queue_packet<C: WireChunk>(&mut self, remote: SocketAddr, header: CommonHeader, chunk: &C) {
        let mut out = Vec::new();
        let mut b = PacketBuilder::new(&mut out, header, self.config.max_packet_size);
        if b.add(chunk).is_err() {
            return;
        }
        b.finish();
        self.outbox.push_back((remote, out));
    }

    // ----- test support --------------------------------------------------

    /// The association configuration (tests that tweak it before connect).
    pub fn association_config_mut(&mut self) -> &mut AssociationConfig {
        &mut self.config.association
    }
}

/// What an INIT ACK for an existing association reuses.
struct Existing {
    local_tag: VerificationTag,
    local_initial_tsn: Tsn,
    tie_tags: (u32, u32),
    peer_addrs: PeerAddresses,
}

/// RFC 9260 §5.2.4 Table 2 actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CookieAction {
    /// (A) the peer restarted.
    Restart,
    /// (B) setup collision.
    Collision,
    /// (C) and unlisted combinations: silently discard.
    Discard,
    /// (D) both tags match.
    Duplicate,
}

/// The State Cookie's extension field, split: the peer's addresses (core's)
/// and the protocol extension's own field after them
/// ([`InitAckExtras::cookie`](crate::extension::InitAckExtras::cookie)).
fn cookie_extension_fields(c: &CookieContents) -> (PeerAddresses, Bytes) {
    let (addrs, used) = PeerAddresses::decode(&c.extension).unwrap_or_default();
    (addrs, c.extension.slice(used.min(c.extension.len())..))
}

fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !a.is_multicast() && !a.is_broadcast() && !a.is_unspecified(),
        IpAddr::V6(a) => !a.is_multicast() && !a.is_unspecified(),
    }
}
