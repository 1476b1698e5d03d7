//! The extension seam: how a protocol extension plugs into the endpoint and
//! its associations without this crate knowing what it is.
//!
//! The multicast extension of `mcsctp-mcast` (draft-mcsctp-tsvwg-sctp-
//! multicast) is the reason it exists, but nothing here is about groups: an
//! [`Extension`] registers chunk and parameter types, takes part in the
//! handshake, receives its chunks inside an association in packet order,
//! bundles its own chunks into the association's packets within the
//! association's windows, runs timers, holds back deliveries, and sees acks
//! and closure. The default hooks do nothing, so [`NoExtension`] is plain
//! RFC 9260 SCTP.
//!
//! What core does for a registered type (RFC 9260 §3.2, §3.2.1 say what
//! happens to a type a receiver does not know; registering makes it known):
//!
//! - chunk types are parsed into [`RawChunk`]s and handed to
//!   [`Extension::handle_chunk`] instead of being answered as unrecognised;
//!   those in [`Registration::data_chunk_types`] obey the bundling rule for
//!   data (RFC 9260 §6.10: no control chunk after them);
//! - they are listed in the Supported Extensions parameter (RFC 5061 §4.2.7)
//!   of every INIT and INIT ACK;
//! - parameter types are recognised in INIT and INIT ACK (never reported
//!   back in an Unrecognized Parameter, never stopping the processing of the
//!   chunk's parameters).
//!
//! Packets that no association claims by verification tag and that arrive
//! at a non-unicast address (RFC 9260 §8.4 (1) has core discard them) are
//! offered to [`Extension::claim_packet`]: the extension names the
//! association the packet belongs to and its chunks reach
//! [`Extension::handle_chunk`] with [`Context::foreign`] set. Core never
//! answers such a packet: replies can only be queued on an association.
//!
//! The endpoint is generic over its extension:
//! [`Endpoint::with_extension`](crate::endpoint::Endpoint::with_extension)
//! installs one and [`Endpoint::extension_mut`](crate::endpoint::Endpoint::extension_mut)
//! reaches it, so an application calls the extension's own API directly;
//! the extension then names the associations it changed in
//! [`Extension::drain_wakeups`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::chunk::{ChunkType, ChunkTypeSet, InitCommon, RawChunk};
use crate::event::{AssociationHandle, CloseReason, Transmit};
use crate::packet::Packet;
use crate::param::{ParamType, RawParam};
use crate::rx::reassembly::Delivery;

/// What an extension registers with the endpoint (once, when it is
/// installed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registration {
    /// Chunk types the extension handles; none may be one of RFC 9260's or
    /// of the extensions core implements.
    pub chunk_types: Vec<ChunkType>,
    /// Those of `chunk_types` that carry user data (RFC 9260 §6.10
    /// bundling: no control chunk may follow them in a packet).
    pub data_chunk_types: ChunkTypeSet,
    /// Parameter types the extension understands in INIT and INIT ACK.
    pub param_types: Vec<ParamType>,
    /// The longest chunk [`Extension::prefix_chunk`] returns, padding
    /// included: room kept before the first fragment of a marked message
    /// so that both always fit a packet. A longer prefix chunk delays its
    /// fragment until it fits.
    pub prefix_len: usize,
}

impl Registration {
    /// A registration of `chunk_types` (`data` of them carry user data) and
    /// `param_types`.
    pub fn new(chunk_types: &[ChunkType], data: &[ChunkType], param_types: &[ParamType]) -> Self {
        let mut set = ChunkTypeSet::EMPTY;
        for &t in data {
            set = set.with(t);
        }
        Self {
            chunk_types: chunk_types.to_vec(),
            data_chunk_types: set,
            param_types: param_types.to_vec(),
            prefix_len: 0,
        }
    }

    /// The same, with room for prefix chunks of up to `len` bytes.
    pub fn with_prefix_len(mut self, len: usize) -> Self {
        self.prefix_len = len;
        self
    }

    /// Whether the chunk type is registered.
    pub fn has_chunk(&self, t: ChunkType) -> bool {
        self.chunk_types.contains(&t)
    }

    /// Whether the parameter type is registered.
    pub fn has_param(&self, t: ParamType) -> bool {
        self.param_types.contains(&t)
    }
}

/// What the extension adds to an INIT ACK (RFC 9260 §5.1 B). The endpoint
/// keeps no state between INIT ACK and COOKIE ECHO, so whatever the
/// extension must remember travels in `cookie`, inside the signed State
/// Cookie, and comes back in [`Establishment`].
#[derive(Debug, Clone, Default)]
pub struct InitAckExtras {
    /// Parameters appended to the INIT ACK.
    pub params: Vec<RawParam>,
    /// The extension's own field of the State Cookie (at most a few hundred
    /// bytes: it rides in every COOKIE ECHO).
    pub cookie: Bytes,
}

/// How an association came to be established, as the extension sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Establishment<'a> {
    /// This side connected: the COOKIE ACK arrived (RFC 9260 §5.1 E).
    Connected,
    /// A COOKIE ECHO created the association (RFC 9260 §5.1 D); `cookie` is
    /// the extension's field of the State Cookie.
    Accepted {
        /// [`InitAckExtras::cookie`], authenticated by the cookie's MAC.
        cookie: &'a [u8],
    },
    /// The peer restarted (RFC 9260 §5.2.4 action A): the association's
    /// data path is new; what the extension knew of it is stale.
    Restarted {
        /// [`InitAckExtras::cookie`] of the new cookie.
        cookie: &'a [u8],
    },
    /// A COOKIE ECHO for an association already up (RFC 9260 §5.2.4
    /// actions B and D): a retransmission or a collision. Nothing changed
    /// for the extension unless it says so.
    Repeated {
        /// [`InitAckExtras::cookie`] of that cookie.
        cookie: &'a [u8],
    },
}

/// What core does with an extension's chunk after
/// [`Extension::handle_chunk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkVerdict {
    /// Handled; go on with the next chunk of the packet.
    Continue,
    /// Handled; the rest of the packet is not processed.
    Stop,
    /// Treat the chunk as an unrecognised type (RFC 9260 §3.2: its two
    /// high bits decide), e.g. because the extension was not negotiated on
    /// this association.
    Unrecognized,
}

/// The association's windows, as offered to the extension's data chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Room {
    /// Bytes left in the packet being built (chunk headers and padding
    /// included).
    pub packet: usize,
    /// User-data bytes the congestion and receive windows allow now (RFC
    /// 9260 §6.1 A, B), after the extension's own data in flight; 0 while
    /// the association may send no new data.
    pub window: usize,
}

/// The extension's per-association state that core keeps for it: chunks to
/// send, messages to deliver, deliveries held back, its data in flight.
#[derive(Debug, Default)]
pub(crate) struct ExtSlot {
    /// Chunks queued with [`Context::send_chunk`], in order.
    pub(crate) outgoing: VecDeque<RawChunk>,
    /// Messages delivered with [`Context::deliver`].
    pub(crate) deliveries: VecDeque<Delivery>,
    /// The association's own deliveries that [`Extension::hold_delivery`]
    /// held back, in delivery order.
    pub(crate) held: VecDeque<Delivery>,
    /// Bytes of the extension's data chunks sent on the association and not
    /// yet reported acknowledged ([`Context::data_acked`]): they count
    /// against the association's congestion window.
    pub(crate) flight: usize,
    /// Bytes [`Context::data_acked`] reported that the association's
    /// congestion controller has not seen yet, and the largest flight
    /// (the association's and the extension's) before those reports.
    pub(crate) acked: usize,
    pub(crate) flight_before_ack: usize,
    /// Parameters the extension added to this side's INIT (kept for its
    /// retransmissions and for a new INIT after a Stale Cookie).
    pub(crate) init_params: Vec<RawParam>,
    /// [`Context::abort`] or [`Context::abort_protocol_violation`]: the
    /// cause, until the association acts on it.
    pub(crate) abort: Option<ExtAbort>,
}

/// How the extension asked to end its association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExtAbort {
    /// User-Initiated Abort with this reason.
    User(Bytes),
    /// Protocol Violation with this information.
    ProtocolViolation(Bytes),
}

/// The association an extension hook works on: what it may read of it and
/// what it may ask of it.
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) handle: AssociationHandle,
    pub(crate) now: Instant,
    pub(crate) remote: SocketAddr,
    pub(crate) ports: (u16, u16),
    pub(crate) srtt: Option<Duration>,
    pub(crate) rto: Duration,
    pub(crate) foreign: bool,
    pub(crate) slot: &'a mut ExtSlot,
    pub(crate) send: &'a mut crate::tx::send_queue::SendQueue,
    pub(crate) accepts_user_data: bool,
    /// The association's sent data, where core is not changing it.
    pub(crate) tx: Option<&'a crate::tx::retransmission_queue::RetransmissionQueue>,
    /// The association's received TSNs, where core is not changing them.
    pub(crate) rx: Option<&'a crate::rx::data_tracker::DataTracker>,
}

impl Context<'_> {
    /// The association.
    pub fn association(&self) -> AssociationHandle {
        self.handle
    }

    /// The time of the call.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Where the peer's packets come from.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// The association's SCTP ports: (this endpoint's, the peer's) (RFC
    /// 9260 §3.1).
    pub fn sctp_ports(&self) -> (u16, u16) {
        self.ports
    }

    /// The association's smoothed RTT (RFC 9260 §6.3.1), once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The association's current RTO (RFC 9260 §6.3.1).
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// Whether the chunk being handled came in a packet the extension
    /// claimed ([`Extension::claim_packet`]) rather than one of the
    /// association's own.
    pub fn foreign(&self) -> bool {
        self.foreign
    }

    /// Queues a chunk to go out on the association, in order with the
    /// others the extension queued. Control chunks go after core's control
    /// chunks and SACK; data chunks (registered as such) before core's new
    /// data, within the association's windows: prefer
    /// [`Extension::poll_chunks`] for data, which sees the room.
    pub fn send_chunk(&mut self, chunk: RawChunk) {
        self.slot.outgoing.push_back(chunk);
    }

    /// Chunks queued and not sent yet.
    pub fn queued_chunks(&self) -> usize {
        self.slot.outgoing.len()
    }

    /// Hands a message to the application through the association's receive
    /// path ([`crate::endpoint::Endpoint::poll_recv`]), marked
    /// [`Origin::Extension`](crate::rx::reassembly::Origin::Extension).
    pub fn deliver(&mut self, mut delivery: Delivery) {
        delivery.origin = crate::rx::reassembly::Origin::Extension;
        self.slot.deliveries.push_back(delivery);
    }

    /// Octets of the messages the extension delivered ([`Context::deliver`])
    /// that the application has not read yet: they occupy the receiver's
    /// memory, so an extension that advertises a receive window counts them
    /// (as the association counts its own unread messages in a_rwnd).
    pub fn delivered_unread(&self) -> usize {
        self.slot.deliveries.iter().map(|d| d.payload.len()).sum()
    }

    /// The extension's data bytes on the association reported acknowledged:
    /// they no longer count against its congestion window, and they grow
    /// it as acknowledged DATA does (RFC 9260 §7.2.1, §7.2.2: the
    /// extension's data shares the path and its window).
    pub fn data_acked(&mut self, bytes: usize) {
        let bytes = bytes.min(self.slot.flight);
        if bytes == 0 {
            return;
        }
        let own = self.tx.map_or(0, |q| q.outstanding_bytes());
        self.slot.flight_before_ack = self.slot.flight_before_ack.max(self.slot.flight + own);
        self.slot.acked += bytes;
        self.slot.flight -= bytes;
    }

    /// The extension's data bytes on the association that left the flight
    /// without being acknowledged (abandoned, or counted again because
    /// they were sent again): they no longer count against the congestion
    /// window, and do not grow it.
    pub fn data_left_flight(&mut self, bytes: usize) {
        self.slot.flight = self.slot.flight.saturating_sub(bytes);
    }

    /// The extension's data bytes sent on the association and not yet
    /// reported acknowledged.
    pub fn data_in_flight(&self) -> usize {
        self.slot.flight
    }

    /// Queues an ordinary user message on the association (RFC 9260 §10.1
    /// SEND), as the application would: e.g. a group message for a peer
    /// without the extension.
    pub fn send_message(
        &mut self,
        msg: crate::tx::send_queue::OutgoingMessage,
    ) -> Result<(), crate::event::ApiError> {
        if !self.accepts_user_data {
            return Err(crate::event::ApiError::Closing);
        }
        self.send
            .enqueue(self.now, msg)
            .map_err(crate::event::ApiError::Send)
    }

    /// Room in the association's send buffer.
    pub fn send_buffer_available(&self) -> usize {
        self.send.available()
    }

    /// Ends the association with an ABORT carrying a User-Initiated Abort
    /// cause with `reason` (RFC 9260 §9.1, as
    /// [`Endpoint::abort`](crate::endpoint::Endpoint::abort) does), e.g.
    /// when the extension's own reliability mechanism gave up on the peer.
    /// Takes effect when the hook returns from
    /// [`Extension::handle_chunk`] or
    /// [`Extension::handle_association_timeout`], and otherwise at the
    /// association's next timer check.
    pub fn abort(&mut self, reason: &[u8]) {
        self.slot.abort = Some(ExtAbort::User(Bytes::copy_from_slice(reason)));
    }

    /// Ends the association with an ABORT carrying a Protocol Violation
    /// cause with `info` (RFC 9260 §3.3.10.13), e.g. when the peer sent one
    /// of the extension's chunks that cannot be honoured. Takes effect as
    /// [`Context::abort`] does; from [`Extension::handle_chunk`] return
    /// [`ChunkVerdict::Stop`] so that the rest of the packet is not
    /// processed.
    pub fn abort_protocol_violation(&mut self, info: &[u8]) {
        self.slot.abort = Some(ExtAbort::ProtocolViolation(Bytes::copy_from_slice(info)));
    }

    /// Whether the peer has acknowledged `tsn` of this association, by the
    /// cumulative TSN ack or a Gap Ack Block (RFC 9260 §6.2.1), or passed
    /// it after it was abandoned (RFC 3758). `None` if the TSN was not sent
    /// yet, or in a hook that runs while core builds a packet
    /// ([`Extension::prefix_chunk`]), where the answer is not settled.
    pub fn is_acked(&self, tsn: crate::serial::Tsn) -> Option<bool> {
        self.tx?.is_acked(tsn)
    }

    /// Whether this side already received the peer's DATA or I-DATA chunk
    /// with `tsn` (RFC 9260 §6.2: a chunk received again is a duplicate),
    /// or skipped it after a FORWARD-TSN. `None` before the association is
    /// established and while core builds a packet.
    pub fn has_received(&self, tsn: crate::serial::Tsn) -> Option<bool> {
        self.rx.map(|t| t.has_received(tsn))
    }

    /// The association's Cumulative TSN Ack Point (RFC 9260 §6.2.1): the
    /// peer holds every TSN up to it. `None` before the association is
    /// established and while core builds a packet.
    pub fn cumulative_tsn_ack(&self) -> Option<crate::serial::Tsn> {
        self.tx.map(|q| q.cumulative_tsn_ack())
    }

    /// The TSN the association's next new DATA or I-DATA chunk gets (every
    /// TSN before it was sent at least once); `None` before the
    /// association is established and while core builds a packet.
    pub fn next_tsn(&self) -> Option<crate::serial::Tsn> {
        self.tx.map(|q| q.next_tsn())
    }

    /// Whether a message queued with [`Context::send_message`] and a nonzero
    /// `extension_mark` of `mark` still has fragments waiting for their
    /// first transmission. (A walk of the send queue: for occasional use.)
    pub fn is_queued(&self, mark: u32) -> bool {
        mark != 0 && self.send.has_mark(mark)
    }
}

/// A protocol extension. Every hook has a default that does nothing, which
/// is what [`NoExtension`] is.
///
/// Hooks that work on one association take a [`Context`]; the association
/// is [`Context::association`]. The extension keeps its per-association
/// state itself, keyed by [`AssociationHandle`], and forgets it in
/// [`on_closed`](Self::on_closed).
pub trait Extension: Send + 'static {
    /// The chunk and parameter types the extension handles (called once,
    /// when the endpoint is made).
    fn registration(&self) -> Registration {
        Registration::default()
    }

    // ----- endpoint-wide ---------------------------------------------------

    /// A datagram of the extension's own to send (e.g. to a group address),
    /// written at the end of `buf`.
    fn poll_transmit(&mut self, _now: Instant, _buf: &mut Vec<u8>) -> Option<Transmit> {
        None
    }

    /// The extension's next endpoint-wide timer.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Handles endpoint-wide timers due at `now` (calling early is
    /// harmless).
    fn handle_timeout(&mut self, _now: Instant) {}

    /// A valid SCTP packet (checksum verified) that arrived at the
    /// non-unicast address `local`: the association it belongs to, if the
    /// extension claims it. Its chunks then reach
    /// [`handle_chunk`](Self::handle_chunk) with [`Context::foreign`] set;
    /// unclaimed packets are dropped silently (RFC 9260 §8.4 (1)).
    fn claim_packet(
        &mut self,
        _now: Instant,
        _local: SocketAddr,
        _remote: SocketAddr,
        _packet: &Packet,
    ) -> Option<AssociationHandle> {
        None
    }

    /// Moves into `out` the associations whose extension state changed
    /// outside a hook (through the extension's own API), so the endpoint
    /// polls them for packets and timers again.
    fn drain_wakeups(&mut self, _out: &mut Vec<AssociationHandle>) {}

    // ----- handshake (RFC 9260 §5.1) -----------------------------------------

    /// Parameters for the INIT this endpoint sends to `remote` (kept for
    /// every retransmission of it).
    fn init_params(
        &mut self,
        _association: AssociationHandle,
        _remote: SocketAddr,
    ) -> Vec<RawParam> {
        Vec::new()
    }

    /// What to add to the INIT ACK answering `init` from `remote`. Called
    /// with no association state (RFC 9260 §5.1 B): the answer may depend
    /// only on the INIT and on the extension's endpoint-wide state.
    fn init_ack_params(&self, _remote: SocketAddr, _init: &InitCommon) -> InitAckExtras {
        InitAckExtras::default()
    }

    /// The INIT ACK arrived in COOKIE-WAIT (RFC 9260 §5.1 C), with the
    /// peer's parameters. The COOKIE ECHO is built next.
    fn on_init_ack(&mut self, _cx: &mut Context<'_>, _init_ack: &InitCommon) {}

    /// Chunks to bundle after the COOKIE ECHO, asked before every
    /// (re)transmission of it. Returning `false` holds the COOKIE ECHO back
    /// (e.g. until a join's outcome is known); T1-cookie keeps running, so
    /// the hold is bounded by Max.Init.Retransmits.
    fn cookie_echo(&mut self, _cx: &mut Context<'_>, _bundle: &mut Vec<RawChunk>) -> bool {
        true
    }

    /// The association is established (see [`Establishment`]). Chunks the
    /// extension queues here go out in the association's next packet (with
    /// the COOKIE ACK, on the accepting side). Chunks bundled after a
    /// COOKIE ECHO reach [`handle_chunk`](Self::handle_chunk) after this.
    fn on_established(&mut self, _cx: &mut Context<'_>, _how: Establishment<'_>) {}

    // ----- inside an association --------------------------------------------

    /// One of the extension's chunks, in packet order; `next` is the chunk
    /// that follows it in the packet, if any (for a chunk that qualifies
    /// the next one). Core processes `next` itself afterwards.
    fn handle_chunk(
        &mut self,
        _cx: &mut Context<'_>,
        _chunk: &RawChunk,
        _next: Option<&RawChunk>,
    ) -> ChunkVerdict {
        ChunkVerdict::Unrecognized
    }

    /// Chunks to bundle into the packet being built, after the ones queued
    /// with [`Context::send_chunk`]. Data chunks must fit `room.window`
    /// (their length counts); everything must fit `room.packet`. Chunks
    /// that do not fit are kept for the next packet.
    fn poll_chunks(&mut self, _cx: &mut Context<'_>, _room: Room, _out: &mut Vec<RawChunk>) {}

    /// Whether [`poll_chunks`](Self::poll_chunks) may have chunks for the
    /// association: the endpoint then polls it for a packet.
    fn has_chunks(&self, _association: AssociationHandle) -> bool {
        false
    }

    /// The chunk to put right before the first fragment of a message sent
    /// with a nonzero `extension_mark`
    /// ([`SendOptions::extension_mark`](crate::endpoint::SendOptions::extension_mark)),
    /// asked once for each transmission of the fragment that goes out, its
    /// first and every retransmission, so that the extension may count
    /// them; `tsn` is the fragment's TSN. The chunk's type must be one of the extension's
    /// data chunk types (it travels among data chunks, RFC 9260 §6.10).
    /// When it does not fit the packet, the fragment waits for the next.
    fn prefix_chunk(
        &mut self,
        _cx: &mut Context<'_>,
        _mark: u32,
        _tsn: crate::serial::Tsn,
        _first_fragment: &crate::user_data::UserDataChunk,
    ) -> Option<RawChunk> {
        None
    }

    /// The extension's next timer for this association.
    fn association_timeout(&self, _association: AssociationHandle) -> Option<Instant> {
        None
    }

    /// Handles the association's extension timers due at `cx.now()`.
    fn handle_association_timeout(&mut self, _cx: &mut Context<'_>) {}

    /// Whether to hold back one of the association's own deliveries (and
    /// everything after it on its stream). Asked again whenever the
    /// application reads, in delivery order, until it says no.
    fn hold_delivery(&mut self, _cx: &mut Context<'_>, _delivery: &Delivery) -> bool {
        false
    }

    /// One of the association's own deliveries went to the application.
    fn on_delivered(&mut self, _cx: &mut Context<'_>, _delivery: &Delivery) {}

    /// A SACK acknowledged everything up to `cumulative_tsn_ack` (RFC 9260
    /// §6.2.1): the peer holds every message of the association sent
    /// before it.
    fn on_sack(&mut self, _cx: &mut Context<'_>, _cumulative_tsn_ack: crate::serial::Tsn) {}

    /// The association ended (every path: shutdown, abort, failure).
    fn on_closed(&mut self, _association: AssociationHandle, _reason: &CloseReason) {}
}

/// No extension: plain RFC 9260 SCTP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoExtension;

impl Extension for NoExtension {}
