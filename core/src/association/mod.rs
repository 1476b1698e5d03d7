//! One association: the RFC 9260 state machine from COOKIE-WAIT to CLOSED,
//! data transfer through the send and receive queues, heartbeats and
//! timers. The [`Endpoint`](crate::endpoint::Endpoint) owns associations,
//! demultiplexes packets to them, and answers what needs endpoint-wide
//! state (INIT, COOKIE ECHO, out-of-the-blue packets).
//!
//! This file holds the state, the application's calls and the dispatch of
//! received chunks; each procedure has its own file, by RFC 9260 section:
//!
//! | file | RFC 9260 |
//! |---|---|
//! | `handshake.rs` | §5 setup: INIT, INIT ACK, cookies for an existing association (§5.2) |
//! | `data.rs` | §6 receiving DATA and SACKs, the receive window, zero window probes; RFC 3758 §3.6 |
//! | `output.rs` | §6.1, §6.10 what goes into each packet |
//! | `heartbeat.rs` | §8.1–§8.3 failure detection and heartbeats |
//! | `shutdown.rs` | §9.2 graceful shutdown |
//! | `timers.rs` | every timer: when due, what it does |

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::debug;

use crate::cause::{
    ErrorCause, InvalidStreamIdentifier, NoUserData, ProtocolViolation, StaleCookie,
    UnrecognizedChunkType, UnrecognizedParameters, UserInitiatedAbort,
};
use crate::chunk::{
    Abort, Chunk, ChunkType, CookieAck, ErrorChunk, ForwardTsn, ForwardTsnStream, HeartbeatAck,
    IForwardTsn, IForwardTsnStream, Init, InitAck, InitCommon, RawChunk, Sack, WireChunk,
};
use crate::config::AssociationConfig;
use crate::cookie::{Capabilities, CookieContents, CookieSecrets};
use crate::event::{AssociationHandle, CloseReason, Event};
use crate::extension::{ChunkVerdict, Context, Establishment, ExtSlot, Extension, Registration};
use crate::packet::{CommonHeader, Packet};
use crate::param::{
    CookiePreservative, ForwardTsnSupported, HeartbeatInfo, Params, ParamsBuilder, RawParam,
    SupportedExtensions, UnrecognizedParameter, WireParam,
};
use crate::rx::data_tracker::{DataTracker, DataTrackerConfig};
use crate::rx::reassembly::{Delivery, ReassemblyQueue};
use crate::serial::{StreamId, Tsn, VerificationTag};
use crate::tx::retransmission_queue::{RetransmissionConfig, RetransmissionQueue};
use crate::tx::rto::{Rto, RtoConfig};
use crate::tx::send_queue::{MessageKey, OutgoingMessage, SendError, SendQueue, SendQueueConfig};
use crate::user_data::UserDataChunk;

/// The [`Context`] of an extension hook for this association. A macro, not
/// a method, so that it borrows only the fields it reads (the state may be
/// borrowed beside it).
macro_rules! ext_cx {
    ($a:expr, $now:expr, $foreign:expr) => {
        ext_cx!($a, $now, $foreign, $a.state.accepts_user_data())
    };
    ($a:expr, $now:expr, $foreign:expr, $accepts:expr) => {
        ext_cx!(
            $a,
            $now,
            $foreign,
            $accepts,
            $a.rtq.as_ref(),
            $a.tracker.as_ref()
        )
    };
    // While core itself changes the retransmission queue (building a
    // packet), the extension sees none.
    ($a:expr, $now:expr, $foreign:expr; building) => {
        ext_cx!($a, $now, $foreign, $a.state.accepts_user_data(), None, None)
    };
    ($a:expr, $now:expr, $foreign:expr, $accepts:expr, $tx:expr, $rx:expr) => {
        Context {
            handle: $a.handle,
            now: $now,
            remote: $a.remote,
            ports: ($a.local_port, $a.peer_port),
            srtt: $a.rto.srtt(),
            rto: $a.rto.rto(),
            foreign: $foreign,
            slot: &mut $a.ext,
            accepts_user_data: $accepts,
            send: &mut $a.send,
            tx: $tx,
            rx: $rx,
        }
    };
}

mod data;
mod handshake;
mod heartbeat;
mod output;
mod peer_addresses;
mod shutdown;
mod timers;

pub(crate) use data::{initial_a_rwnd, rwnd_reserve};
pub(crate) use handshake::unrecognized_param_list;
pub(crate) use peer_addresses::PeerAddresses;

/// Where an association is in its life (RFC 9260 §4), with the timers and
/// data that belong to that state.
#[derive(Debug, Clone)]
pub(crate) enum State {
    /// INIT sent, waiting for INIT ACK. `init` is kept for retransmission.
    CookieWait {
        init: Init,
        t1_init: Timer,
        /// Whether the INIT must be (re)sent by the next `poll_transmit`.
        send: bool,
    },
    /// COOKIE ECHO sent, waiting for COOKIE ACK.
    CookieEchoed {
        cookie: Bytes,
        /// An ERROR to bundle after the COOKIE ECHO (unrecognized INIT ACK
        /// parameters, RFC 9260 §3.3.3).
        error: Option<ErrorChunk>,
        t1_cookie: Timer,
        send: bool,
        /// When the COOKIE ECHO was first sent (for the Stale Cookie RTT).
        sent_at: Option<Instant>,
    },
    /// Data flows both ways.
    Established,
    /// The user closed; SHUTDOWN goes out once all data is acknowledged.
    ShutdownPending,
    /// SHUTDOWN sent.
    ShutdownSent { t2_shutdown: Timer, send: bool },
    /// SHUTDOWN received; SHUTDOWN ACK goes out once all our data is
    /// acknowledged.
    ShutdownReceived,
    /// SHUTDOWN ACK sent.
    ShutdownAckSent { t2_shutdown: Timer, send: bool },
    /// Gone; the endpoint removes the association once its last packet
    /// (an ABORT or SHUTDOWN COMPLETE) is out.
    Closed,
}

impl State {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::CookieWait { .. } => "COOKIE-WAIT",
            Self::CookieEchoed { .. } => "COOKIE-ECHOED",
            Self::Established => "ESTABLISHED",
            Self::ShutdownPending => "SHUTDOWN-PENDING",
            Self::ShutdownSent { .. } => "SHUTDOWN-SENT",
            Self::ShutdownReceived => "SHUTDOWN-RECEIVED",
            Self::ShutdownAckSent { .. } => "SHUTDOWN-ACK-SENT",
            Self::Closed => "CLOSED",
        }
    }

    /// States in which DATA may be received (RFC 9260 §6, §9.2).
    fn accepts_data(&self) -> bool {
        matches!(
            self,
            Self::Established | Self::ShutdownPending | Self::ShutdownSent { .. }
        )
    }

    /// States in which queued and outstanding DATA is (re)transmitted.
    /// RFC 9260 §9.2: in SHUTDOWN-RECEIVED the endpoint "MUST NOT accept
    /// new data from its SCTP user" but still delivers what it has: "Once
    /// all its outstanding data has been acknowledged, the endpoint MUST
    /// send a SHUTDOWN ACK chunk". (SHUTDOWN-SENT is entered only once all
    /// of it was acknowledged.)
    fn sends_data(&self) -> bool {
        matches!(
            self,
            Self::Established | Self::ShutdownPending | Self::ShutdownReceived
        )
    }

    /// States in which the application may queue new data.
    fn accepts_user_data(&self) -> bool {
        matches!(
            self,
            Self::CookieWait { .. } | Self::CookieEchoed { .. } | Self::Established
        )
    }

    fn is_established_or_later(&self) -> bool {
        !matches!(
            self,
            Self::CookieWait { .. } | Self::CookieEchoed { .. } | Self::Closed
        )
    }
}

/// A retransmission timer: its deadline and how often it fired in a row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timer {
    pub(crate) deadline: Instant,
    pub(crate) count: u32,
}

/// Counters an application can read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssociationStats {
    /// Packets received for this association.
    pub packets_received: u64,
    /// Packets sent.
    pub packets_sent: u64,
    /// DATA / I-DATA chunks received (duplicates included).
    pub data_chunks_received: u64,
    /// Duplicate DATA / I-DATA chunks received.
    pub duplicate_chunks_received: u64,
    /// DATA / I-DATA chunks sent for the first time.
    pub data_chunks_sent: u64,
    /// DATA / I-DATA chunks retransmitted.
    pub data_chunks_retransmitted: u64,
    /// New DATA / I-DATA chunks dropped for lack of buffer although the
    /// a_rwnd last advertised had room for them. A receiver must accept
    /// what its window offered: this stays 0 unless the endpoint's shared
    /// memory budget shrank under the association.
    pub data_chunks_dropped: u64,
    /// New DATA / I-DATA chunks refused because they lay beyond the window
    /// offered: zero window probes (RFC 9260 §6.1 A), or a peer that
    /// overruns a_rwnd.
    pub data_chunks_refused: u64,
    /// User messages delivered whole or in pieces.
    pub messages_delivered: u64,
    /// T3-rtx expirations.
    pub t3_expirations: u64,
    /// Fast retransmit episodes (Fast Recovery entered, by three miss
    /// indications or by time-based loss detection).
    pub fast_retransmits: u64,
    /// Tail loss probes sent (RFC 8985 §7).
    pub loss_probes: u64,
    /// SACKs sent.
    pub sacks_sent: u64,
    /// SACKs received.
    pub sacks_received: u64,
}

/// Negotiated parameters of an established association.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Negotiated {
    pub(crate) peer_initial_tsn: Tsn,
    pub(crate) peer_a_rwnd: u32,
    pub(crate) outbound_streams: u16,
    pub(crate) inbound_streams: u16,
    pub(crate) caps: Capabilities,
}

impl Negotiated {
    /// What a state cookie says was negotiated.
    fn from_cookie(c: &CookieContents) -> Self {
        Self {
            peer_initial_tsn: c.peer_initial_tsn,
            peer_a_rwnd: c.peer_a_rwnd,
            outbound_streams: c.outbound_streams,
            inbound_streams: c.inbound_streams,
            caps: c.capabilities,
        }
    }
}

/// Endpoint-wide memory accounting handed to an association with every
/// input, so it can size its window (see
/// [`EndpointConfig::receive_memory_budget`](crate::config::EndpointConfig)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemoryGauge {
    /// Bytes held by all associations.
    pub(crate) used: usize,
    /// The budget.
    pub(crate) budget: usize,
    /// Number of associations sharing it.
    pub(crate) associations: usize,
}

/// One SCTP association.
#[derive(Debug)]
pub(crate) struct Association {
    pub(crate) handle: AssociationHandle,
    pub(crate) config: AssociationConfig,
    /// Where the peer's packets come from: IP address and UDP port (RFC
    /// 6951 §5.5: the port follows packets that passed the tag check).
    pub(crate) remote: SocketAddr,
    pub(crate) local_port: u16,
    pub(crate) peer_port: u16,
    pub(crate) my_tag: VerificationTag,
    /// 0 until the peer's INIT or INIT ACK is known.
    pub(crate) peer_tag: VerificationTag,
    /// RFC 9260 §5.2.2 tie-tags: random values, created the first time an
    /// INIT ACK is sent for an existing TCB, never the verification tags
    /// themselves.
    pub(crate) local_tie_tag: u32,
    pub(crate) peer_tie_tag: u32,
    pub(crate) my_initial_tsn: Tsn,
    pub(crate) state: State,
    pub(crate) negotiated: Option<Negotiated>,
    /// The peer's addresses from its INIT / INIT ACK (RFC 9260 §5.2.2
    /// "adds new addresses").
    pub(crate) peer_addresses: PeerAddresses,
    max_packet_size: usize,
    send: SendQueue,
    rtq: Option<RetransmissionQueue>,
    rto: Rto,
    tracker: Option<DataTracker>,
    reasm: ReassemblyQueue,
    /// Control chunks waiting to go out, in order.
    control: VecDeque<Chunk>,
    /// ERROR chunks reporting on received chunks (unrecognized chunk types,
    /// invalid streams). They go out after the SACK, RFC 9260 §6.5: "The
    /// endpoint MAY bundle the ERROR chunk and the SACK chunk in the same
    /// packet, as long as the ERROR chunk follows the SACK chunk."
    reports: VecDeque<ErrorChunk>,
    /// An ABORT to send, after which the association is gone.
    abort: Option<Abort>,
    /// Send a SHUTDOWN COMPLETE and close.
    shutdown_complete: bool,
    /// T5-shutdown-guard deadline.
    shutdown_guard: Option<Instant>,
    heartbeat: HeartbeatState,
    /// Consecutive T3 expirations and unanswered heartbeats (RFC 9260
    /// §8.1, §8.2), reset by any acknowledgement.
    error_count: u32,
    path_reachable: bool,
    /// A FORWARD-TSN / I-FORWARD-TSN is due.
    forward_tsn_due: bool,
    /// A SACK advertising a window too small for a packet arrived since the
    /// last T3-rtx expiry: the peer answers the zero window probes.
    zero_window_answered: bool,
    /// The peer's window is closed with nothing in flight: the next zero
    /// window probe may go at this instant, not before (RFC 9260 §6.1 A).
    zero_window_probe_at: Option<Instant>,
    /// Zero window probes sent since the window last opened: the wait
    /// before the next one doubles with each.
    zero_window_probes: u32,
    /// The a_rwnd of the last SACK sent (or of the INIT / INIT ACK): what
    /// the peer believes it may send, so reading can tell when a window
    /// update is worth a packet.
    advertised_rwnd: usize,
    /// User-data bytes accepted since that SACK: what of the offer was
    /// used.
    accepted_since_sack: usize,
    events: VecDeque<Event>,
    pub(crate) stats: AssociationStats,
    /// Cookie Preservative to add to the next INIT (RFC 9260 §5.2.6).
    cookie_preservative: Option<u32>,
    /// Stale Cookie errors answered with a new INIT so far.
    stale_cookies: u32,
    /// MAC of the State Cookie that created (or last restarted) this
    /// association, so that a retransmission of it is still recognised
    /// after the secret that signed it rotated away.
    cookie_mac: Option<[u8; 32]>,
    /// Deliveries of the association as it was before the peer restarted
    /// (RFC 9260 §5.2.4 action A), read before anything newer.
    carried: VecDeque<Delivery>,
    /// What the endpoint's extension registered (shared by every
    /// association of the endpoint).
    registration: std::sync::Arc<Registration>,
    /// The extension's chunk types, and those of them that carry data.
    ext_chunks: crate::chunk::ChunkTypeSet,
    ext_data: crate::chunk::ChunkTypeSet,
    /// What core keeps for the extension on this association.
    ext: ExtSlot,
    /// First fragments in flight whose message carries an extension mark,
    /// in TSN order: each (re)transmission is preceded by the extension's
    /// prefix chunk. Entries leave once the cumulative TSN ack passes them.
    ext_marks: VecDeque<(Tsn, u32)>,
}

/// RFC 9260 §8.3 heartbeat bookkeeping for the single path.
#[derive(Debug, Clone, Copy)]
struct HeartbeatState {
    /// When the next HEARTBEAT is due (path idle).
    next: Option<Instant>,
    /// Outstanding HEARTBEAT: nonce, when sent, when it times out.
    outstanding: Option<(u64, Instant, Instant)>,
    /// A HEARTBEAT must be built by the next poll_transmit.
    send: bool,
    nonce: u64,
}

impl Association {
    /// A new association in COOKIE-WAIT, its INIT ready to go (RFC 9260
    /// §5.1 A).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn connect(
        handle: AssociationHandle,
        now: Instant,
        config: AssociationConfig,
        max_packet_size: usize,
        remote: SocketAddr,
        local_port: u16,
        peer_port: u16,
        my_tag: VerificationTag,
        my_initial_tsn: Tsn,
        registration: std::sync::Arc<Registration>,
        ext_init_params: Vec<RawParam>,
    ) -> Self {
        let mut a = Self::blank(
            handle,
            config,
            max_packet_size,
            remote,
            local_port,
            peer_port,
            my_tag,
            my_initial_tsn,
            registration,
        );
        a.ext.init_params = ext_init_params;
        let init = a.make_init();
        let rto = a.rto.rto();
        a.state = State::CookieWait {
            init,
            t1_init: Timer {
                deadline: now + rto,
                count: 0,
            },
            send: true,
        };
        a
    }

    /// A new association created from a valid COOKIE ECHO (RFC 9260 §5.1
    /// D, §5.1.5): ESTABLISHED, a COOKIE ACK queued.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accept(
        handle: AssociationHandle,
        now: Instant,
        config: AssociationConfig,
        max_packet_size: usize,
        remote: SocketAddr,
        cookie: &CookieContents,
        peer_addresses: PeerAddresses,
        registration: std::sync::Arc<Registration>,
    ) -> Self {
        let mut a = Self::blank(
            handle,
            config,
            max_packet_size,
            remote,
            cookie.local_port,
            cookie.peer_port,
            cookie.local_tag,
            cookie.local_initial_tsn,
            registration,
        );
        a.peer_addresses = peer_addresses;
        a.establish_from_cookie(now, cookie);
        a
    }

    #[allow(clippy::too_many_arguments)]
    fn blank(
        handle: AssociationHandle,
        config: AssociationConfig,
        max_packet_size: usize,
        remote: SocketAddr,
        local_port: u16,
        peer_port: u16,
        my_tag: VerificationTag,
        my_initial_tsn: Tsn,
        registration: std::sync::Arc<Registration>,
    ) -> Self {
        let mut ext_chunks = crate::chunk::ChunkTypeSet::EMPTY;
        for &t in &registration.chunk_types {
            ext_chunks = ext_chunks.with(t);
        }
        let ext_data = registration.data_chunk_types;
        let rto = Rto::new(RtoConfig {
            initial: config.rto_initial,
            min: config.rto_min,
            max: config.rto_max,
            ..RtoConfig::default()
        });
        let send = SendQueue::new(
            config.outbound_streams,
            SendQueueConfig {
                buffer_limit: config.send_buffer,
                mark_reserve: registration.prefix_len,
            },
        );
        let reasm = ReassemblyQueue::new(config.reassembly_config(), false);
        Self {
            handle,
            remote,
            local_port,
            peer_port,
            my_tag,
            peer_tag: VerificationTag(0),
            local_tie_tag: 0,
            peer_tie_tag: 0,
            my_initial_tsn,
            state: State::Closed,
            negotiated: None,
            peer_addresses: PeerAddresses::default(),
            max_packet_size,
            send,
            rtq: None,
            rto,
            tracker: None,
            reasm,
            control: VecDeque::new(),
            reports: VecDeque::new(),
            abort: None,
            shutdown_complete: false,
            shutdown_guard: None,
            heartbeat: HeartbeatState {
                next: None,
                outstanding: None,
                send: false,
                nonce: 0,
            },
            error_count: 0,
            path_reachable: true,
            forward_tsn_due: false,
            zero_window_answered: false,
            zero_window_probe_at: None,
            zero_window_probes: 0,
            advertised_rwnd: initial_a_rwnd(&config, max_packet_size) as usize,
            accepted_since_sack: 0,
            events: VecDeque::new(),
            stats: AssociationStats::default(),
            cookie_preservative: None,
            stale_cookies: 0,
            cookie_mac: None,
            carried: VecDeque::new(),
            registration,
            ext_chunks,
            ext_data,
            ext: ExtSlot::default(),
            ext_marks: VecDeque::new(),
            config,
        }
    }

    // ----- application API ---------------------------------------------
    /// Queues a message (RFC 9260 §10.1 SEND).
    pub(crate) fn send(&mut self, now: Instant, msg: OutgoingMessage) -> Result<(), SendError> {
        self.send.enqueue(now, msg)
    }

    /// Whether user data may be queued now.
    pub(crate) fn accepts_user_data(&self) -> bool {
        self.state.accepts_user_data()
    }

    /// Room in the send buffer.
    pub(crate) fn send_buffer_available(&self) -> usize {
        self.send.available()
    }

    /// Graceful close (RFC 9260 §9.2 SHUTDOWN primitive).
    pub(crate) fn close(&mut self, now: Instant) {
        match self.state {
            State::CookieWait { .. } | State::CookieEchoed { .. } => {
                // Nothing established to shut down: RFC 9260 §10.1 allows
                // an ABORT.
                self.abort_locally(now, Bytes::new());
            }
            State::Established => {
                self.state = State::ShutdownPending;
                self.progress_shutdown(now);
            }
            _ => {}
        }
    }

    /// ABORT primitive (RFC 9260 §9.1, §10.1): an ABORT with a
    /// User-Initiated Abort cause, then gone.
    /// Acts on the extension's [`Context::abort`](crate::extension::Context::abort);
    /// returns whether the association was aborted.
    pub(crate) fn ext_abort(&mut self, now: Instant) -> bool {
        match self.ext.abort.take() {
            Some(crate::extension::ExtAbort::User(reason)) => {
                self.abort_locally(now, reason);
                true
            }
            Some(crate::extension::ExtAbort::ProtocolViolation(info)) => {
                if matches!(self.state, State::Closed) {
                    return true;
                }
                let cause = ErrorCause::ProtocolViolation(ProtocolViolation { info });
                if self.peer_tag.0 != 0 {
                    self.abort = Some(Abort::with_cause(false, &cause));
                }
                self.terminate(now, CloseReason::ProtocolError(cause));
                true
            }
            None => false,
        }
    }

    pub(crate) fn abort_locally(&mut self, now: Instant, reason: Bytes) {
        if matches!(self.state, State::Closed) {
            return;
        }
        let cause = ErrorCause::UserInitiatedAbort(UserInitiatedAbort { reason });
        // Before the peer's tag is known (COOKIE-WAIT) there is nobody to
        // tell: RFC 9260 §8.5.1 B needs the peer's tag.
        if self.peer_tag.0 != 0 {
            self.abort = Some(Abort::with_cause(false, &cause));
        }
        self.terminate(now, CloseReason::AbortedLocally);
    }

    /// Next delivery for the application: the old incarnation's leftovers
    /// (restart), then what the extension delivered, then the
    /// association's own messages, each of which the extension may hold
    /// back ([`Extension::hold_delivery`]) with everything after it on its
    /// stream.
    pub(crate) fn poll_recv(&mut self, now: Instant, ext: &mut dyn Extension) -> Option<Delivery> {
        if let Some(d) = self.carried.pop_front() {
            self.stats.messages_delivered += 1;
            return Some(d);
        }
        if let Some(d) = self.ext.deliveries.pop_front() {
            self.stats.messages_delivered += 1;
            return Some(d);
        }
        let d = self.next_own_delivery(now, ext)?;
        ext.on_delivered(&mut ext_cx!(self, now, false), &d);
        self.stats.messages_delivered += 1;
        // Reading frees window. RFC 9260 §6.2: "An SCTP receiver MUST NOT
        // generate more than one SACK chunk for every incoming packet, other
        // than to update the offered window as the receiving application
        // consumes new data." A window update goes out when the peer may be
        // held back by the window it was last offered (less than half the
        // buffer) and reading has opened it by at least a packet; otherwise
        // the SACKs that data elicits anyway carry the new window, and an
        // application that reads after every packet does not turn delayed
        // acknowledgement into one SACK per packet.
        let open = self.config.receive_buffer.saturating_sub(
            self.own_buffered() + rwnd_reserve(self.config.receive_buffer, self.max_packet_size),
        );
        if self.advertised_rwnd < self.config.receive_buffer / 2
            && open >= self.advertised_rwnd + self.max_packet_size
            && let Some(t) = self.tracker.as_mut()
        {
            t.force_sack();
        }
        Some(d)
    }

    /// The association's next own delivery the extension lets through:
    /// first among those it held (per stream, in order), then from the
    /// reassembly queue.
    fn next_own_delivery(&mut self, now: Instant, ext: &mut dyn Extension) -> Option<Delivery> {
        if matches!(self.state, State::Closed) {
            // The extension has forgotten the association (`on_closed`):
            // nothing it held waits any longer.
            if let Some(d) = self.ext.held.pop_front() {
                return Some(d);
            }
            return self.reasm.poll();
        }
        if !self.ext.held.is_empty() {
            // Taken out while the extension is asked (its context borrows
            // the slot), put back after.
            let mut held = std::mem::take(&mut self.ext.held);
            let mut blocked: Vec<StreamId> = Vec::new();
            let mut released = None;
            for (i, d) in held.iter().enumerate() {
                if blocked.contains(&d.stream) {
                    continue;
                }
                if ext.hold_delivery(&mut ext_cx!(self, now, false), d) {
                    blocked.push(d.stream);
                    continue;
                }
                released = Some(i);
                break;
            }
            let d = released.and_then(|i| held.remove(i));
            self.ext.held = held;
            if d.is_some() {
                return d;
            }
        }
        loop {
            let d = self.reasm.poll()?;
            let behind = self.ext.held.iter().any(|h| h.stream == d.stream);
            if behind || ext.hold_delivery(&mut ext_cx!(self, now, false), &d) {
                self.ext.held.push_back(d);
                continue;
            }
            return Some(d);
        }
    }

    /// Bytes of the association's own deliveries the extension holds back:
    /// they still occupy the receive buffer (RFC 9260 §6.2 a_rwnd).
    fn held_bytes(&self) -> usize {
        self.ext.held.iter().map(|d| d.payload.len()).sum()
    }

    /// Bytes of the receive buffer in use: messages being reassembled or
    /// waiting to be read, and those the extension holds back.
    pub(super) fn own_buffered(&self) -> usize {
        self.reasm.buffered_bytes() + self.held_bytes()
    }

    /// Whether a delivery may be waiting (held ones are asked again).
    pub(crate) fn has_deliverable(&self) -> bool {
        !self.carried.is_empty()
            || !self.ext.deliveries.is_empty()
            || !self.ext.held.is_empty()
            || self.reasm.has_deliverable()
    }

    /// Bytes of received user data held.
    pub(crate) fn buffered_receive_bytes(&self) -> usize {
        self.own_buffered()
            + self.carried.iter().map(|d| d.payload.len()).sum::<usize>()
            + self
                .ext
                .deliveries
                .iter()
                .map(|d| d.payload.len())
                .sum::<usize>()
    }

    /// The next event for the application.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether the association has finished and sent its last packet.
    pub(crate) fn is_drained(&self) -> bool {
        matches!(self.state, State::Closed) && self.abort.is_none() && !self.shutdown_complete
    }

    /// Current smoothed RTT, if measured.
    pub(crate) fn srtt(&self) -> Option<Duration> {
        self.rto.srtt()
    }

    /// Current RTO.
    pub(crate) fn rto(&self) -> Duration {
        self.rto.rto()
    }

    /// Congestion state, for tests and statistics.
    pub(crate) fn congestion(&self) -> Option<(usize, usize, usize)> {
        self.rtq
            .as_ref()
            .map(|q| (q.cwnd(), q.ssthresh(), q.outstanding_bytes()))
    }

    // ----- input ---------------------------------------------------------
    /// Processes the chunks of a packet that the endpoint has matched to
    /// this association (verification tag checked, RFC 9260 §8.5), starting
    /// at chunk `skip` (the endpoint consumed a leading COOKIE ECHO).
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        packet: Packet,
        skip: usize,
        mem: MemoryGauge,
        ext: &mut dyn Extension,
    ) {
        self.stats.packets_received += 1;
        // RFC 6951 §5.5: the UDP port of the path follows packets that
        // passed the verification-tag check.
        if remote.ip() == self.remote.ip() {
            self.remote = remote;
        }
        let mut had_data = false;
        let mut reports = Vec::new();
        let mut chunks = packet.into_chunks().skip(skip).peekable();
        while let Some(raw) = chunks.next() {
            if matches!(self.state, State::Closed) {
                break;
            }
            let typ = raw.typ;
            if self.ext_chunks.contains(typ) {
                // The extension's chunk, with the one after it in view.
                let verdict = ext.handle_chunk(&mut ext_cx!(self, now, false), &raw, chunks.peek());
                if self.ext_abort(now) {
                    break;
                }
                let flow = match verdict {
                    ChunkVerdict::Continue => Flow::Continue,
                    ChunkVerdict::Stop => Flow::Stop,
                    _ => self.unknown_chunk(raw, &mut reports),
                };
                match flow {
                    Flow::Continue => continue,
                    Flow::Stop => break,
                }
            }
            let chunk = match Chunk::parse(raw) {
                Ok(c) => c,
                Err(e) => {
                    debug!(assoc = %self.handle, chunk = ?typ, error = %e, "malformed chunk");
                    self.protocol_violation(now, &format!("malformed {typ}: {e}"));
                    break;
                }
            };
            match self.handle_chunk(now, chunk, &mut had_data, &mut reports, mem, ext) {
                Flow::Continue => {}
                Flow::Stop => break,
            }
        }
        if !reports.is_empty() && self.peer_tag.0 != 0 {
            self.reports.push_back(ErrorChunk::new(reports.iter()));
        }
        if had_data {
            if let Some(t) = self.tracker.as_mut() {
                t.observe_packet_end(now);
            }
            // RFC 9260 §9.2: "While in the SHUTDOWN-SENT state, the SHUTDOWN
            // sender MUST immediately respond to each received packet
            // containing one or more DATA chunks with a SHUTDOWN chunk and
            // restart the T2-shutdown timer." (A FORWARD-TSN counts as DATA
            // here too: it moves the cumulative TSN the SHUTDOWN reports.)
            if let State::ShutdownSent { t2_shutdown, send } = &mut self.state {
                *send = true;
                t2_shutdown.deadline = now + self.rto.rto();
            }
        }
        self.progress_shutdown(now);
    }

    /// Processes a packet the extension claimed for this association
    /// ([`Extension::claim_packet`]): its chunks of the extension's types go
    /// to the extension, anything else is ignored, and nothing is ever
    /// answered on that path.
    pub(crate) fn handle_foreign_packet(
        &mut self,
        now: Instant,
        packet: Packet,
        ext: &mut dyn Extension,
    ) {
        if !self.state.is_established_or_later() {
            return;
        }
        let mut chunks = packet.into_chunks().peekable();
        while let Some(raw) = chunks.next() {
            if !self.ext_chunks.contains(raw.typ) {
                continue;
            }
            let verdict = ext.handle_chunk(&mut ext_cx!(self, now, true), &raw, chunks.peek());
            if self.ext_abort(now) || verdict == ChunkVerdict::Stop {
                break;
            }
        }
    }

    /// Tells the extension how the association was established (the
    /// endpoint's cookie paths; the COOKIE ACK path tells it itself).
    pub(crate) fn ext_established(
        &mut self,
        now: Instant,
        ext: &mut dyn Extension,
        how: Establishment<'_>,
    ) {
        ext.on_established(&mut ext_cx!(self, now, false), how);
    }

    fn handle_chunk(
        &mut self,
        now: Instant,
        chunk: Chunk,
        had_data: &mut bool,
        reports: &mut Vec<ErrorCause>,
        mem: MemoryGauge,
        ext: &mut dyn Extension,
    ) -> Flow {
        match chunk {
            Chunk::Data(d) => {
                if self.negotiated.is_some_and(|n| n.caps.interleaving) {
                    // RFC 8260 §2.2: "If I-DATA has been negotiated [...] a
                    // DATA chunk [...] MUST be treated as a protocol
                    // violation".
                    self.protocol_violation(now, "DATA received while I-DATA was negotiated");
                    return Flow::Stop;
                }
                *had_data = true;
                let immediate = d.flags.is_immediate();
                let (tsn, c) = UserDataChunk::from_data(d);
                self.handle_user_data(now, tsn, c, immediate, reports, mem)
            }
            Chunk::IData(d) => {
                if !self.negotiated.is_some_and(|n| n.caps.interleaving) {
                    self.protocol_violation(now, "I-DATA received without negotiation");
                    return Flow::Stop;
                }
                *had_data = true;
                let immediate = d.flags.is_immediate();
                let (tsn, c) = UserDataChunk::from_idata(d);
                self.handle_user_data(now, tsn, c, immediate, reports, mem)
            }
            Chunk::Sack(s) => {
                self.handle_sack(now, &s);
                while let Some(&(t, _)) = self.ext_marks.front() {
                    if t.is_after(s.cumulative_tsn_ack) {
                        break;
                    }
                    self.ext_marks.pop_front();
                }
                if self.rtq.is_some() {
                    ext.on_sack(&mut ext_cx!(self, now, false), s.cumulative_tsn_ack);
                }
                Flow::Continue
            }
            Chunk::Heartbeat(h) => {
                // RFC 9260 §8.3: "The receiver of the HEARTBEAT chunk SHOULD
                // immediately respond with a HEARTBEAT ACK chunk".
                if self.peer_tag.0 != 0 {
                    self.control
                        .push_back(Chunk::HeartbeatAck(HeartbeatAck { info: h.info }));
                }
                Flow::Continue
            }
            Chunk::HeartbeatAck(h) => {
                self.handle_heartbeat_ack(now, &h.info);
                Flow::Continue
            }
            Chunk::Abort(a) => {
                // The endpoint checked the tag and the T bit (§8.5.1 B).
                let causes = a.causes.typed().filter_map(Result::ok).collect();
                self.terminate(now, CloseReason::AbortedByPeer(causes));
                Flow::Stop
            }
            Chunk::Shutdown(s) => {
                self.handle_shutdown(now, s.cumulative_tsn_ack);
                Flow::Continue
            }
            Chunk::ShutdownAck(_) => {
                self.handle_shutdown_ack(now);
                Flow::Continue
            }
            Chunk::ShutdownComplete(_) => {
                // RFC 9260 §9.2: in SHUTDOWN-ACK-SENT, "the endpoint [...]
                // MUST verify that it is in the SHUTDOWN-ACK-SENT state; if
                // it is not, the chunk SHOULD be discarded."
                if matches!(self.state, State::ShutdownAckSent { .. }) {
                    self.terminate(now, CloseReason::Shutdown);
                }
                Flow::Stop
            }
            Chunk::Error(e) => {
                self.handle_error(now, e);
                Flow::Continue
            }
            Chunk::CookieAck(_) => {
                // RFC 9260 §5.2.5: "At any state other than COOKIE-ECHOED, an
                // endpoint SHOULD silently discard a received COOKIE ACK".
                if matches!(self.state, State::CookieEchoed { .. }) {
                    self.state = State::Established;
                    self.emit_connected();
                    ext.on_established(&mut ext_cx!(self, now, false), Establishment::Connected);
                }
                Flow::Continue
            }
            Chunk::ForwardTsn(f) => {
                let n = self.negotiated;
                if !n.is_some_and(|n| n.caps.partial_reliability && !n.caps.interleaving) {
                    // A known extension chunk that was not negotiated is
                    // unrecognised: its high bits decide (RFC 9260 §3.2).
                    return self.unknown_chunk(f.to_raw(), reports);
                }
                // RFC 3758 §3.6: "for the purposes of sending a SACK, the
                // receiver MUST follow the same rules as if a DATA chunk had
                // been received": the packet end drives the delayed SACK.
                *had_data = true;
                self.handle_forward_tsn(now, f)
            }
            Chunk::IForwardTsn(f) => {
                let n = self.negotiated;
                if !n.is_some_and(|n| n.caps.partial_reliability && n.caps.interleaving) {
                    // A known extension chunk that was not negotiated is
                    // unrecognised: its high bits decide (RFC 9260 §3.2).
                    return self.unknown_chunk(f.to_raw(), reports);
                }
                *had_data = true;
                self.handle_iforward_tsn(now, f)
            }
            // ECN was not offered (README): ignore ECNE and CWR.
            Chunk::Ecne(_) | Chunk::Cwr(_) => Flow::Continue,
            // RFC 9260 §5.2.3: an INIT ACK outside COOKIE-WAIT is discarded;
            // INIT and COOKIE ECHO are the endpoint's to handle and never
            // reach here except bundled illegally.
            Chunk::InitAck(_) | Chunk::Init(_) | Chunk::CookieEcho(_) => Flow::Continue,
            Chunk::Unknown(raw) => self.unknown_chunk(raw, reports),
        }
    }

    /// RFC 9260 §3.2: act on the two high bits of an unrecognised type.
    fn unknown_chunk(&mut self, raw: RawChunk, reports: &mut Vec<ErrorCause>) -> Flow {
        let action = raw.typ.unknown_action();
        if action.reports() {
            let mut whole = Vec::with_capacity(raw.padded_len());
            raw.write(&mut whole);
            whole.truncate(raw.len());
            reports.push(ErrorCause::UnrecognizedChunkType(UnrecognizedChunkType {
                chunk: whole.into(),
            }));
        }
        if action.stops() {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    fn handle_error(&mut self, now: Instant, e: ErrorChunk) {
        for cause in e.causes.typed().filter_map(Result::ok) {
            if let ErrorCause::StaleCookie(StaleCookie { staleness_us }) = &cause
                && let State::CookieEchoed { sent_at, .. } = &self.state
            {
                // RFC 9260 §5.2.6 offers three choices: a new INIT, giving up
                // ("Discard the TCB and report to the upper layer the
                // unavailability of the other endpoint"), or a new INIT with
                // a Cookie Preservative. We take the third, but a peer that
                // grants no preservative (or a path slower than any it
                // grants) would have us loop forever: each retry counts as a
                // retransmission of the INIT, and past
                // Max.Init.Retransmits we take the second.
                self.stale_cookies += 1;
                if self.stale_cookies > self.config.max_init_retransmits {
                    self.terminate(now, CloseReason::HandshakeTimeout);
                    return;
                }
                // RFC 9260 §5.2.6 option 3: a new INIT with a Cookie
                // Preservative "SHOULD use the RTT information measured based
                // on the previous COOKIE ECHO / ERROR exchange, and SHOULD
                // add no more than 1 second beyond the measured RTT".
                let rtt = sent_at.map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
                let stale = Duration::from_micros(u64::from(*staleness_us));
                let inc = (stale + rtt).min(rtt + Duration::from_secs(1));
                self.cookie_preservative =
                    Some(inc.as_millis().clamp(1, u128::from(u32::MAX)) as u32);
                self.peer_tag = VerificationTag(0);
                let init = self.make_init();
                self.state = State::CookieWait {
                    init,
                    t1_init: Timer {
                        deadline: now + self.rto.rto(),
                        count: 0,
                    },
                    send: true,
                };
                continue;
            }
            self.events.push_back(Event::PeerError {
                association: self.handle,
                cause,
            });
        }
    }

    fn protocol_violation(&mut self, now: Instant, what: &str) {
        let cause = ErrorCause::ProtocolViolation(ProtocolViolation {
            info: Bytes::copy_from_slice(what.as_bytes()),
        });
        if self.peer_tag.0 != 0 {
            self.abort = Some(Abort::with_cause(false, &cause));
        }
        self.terminate(now, CloseReason::ProtocolError(cause));
    }

    /// Ends the association: releases incomplete messages as aborted,
    /// reports why, and leaves only the final packet (ABORT or SHUTDOWN
    /// COMPLETE) to send.
    fn terminate(&mut self, _now: Instant, reason: CloseReason) {
        if matches!(self.state, State::Closed) {
            return;
        }
        debug!(assoc = %self.handle, state = self.state.name(), %reason, "association closed");
        self.state = State::Closed;
        self.reasm.abort_all();
        let unsent = self.send.message_count() + self.rtq.as_ref().map_or(0, |q| q.message_count());
        self.control.clear();
        self.reports.clear();
        self.events.push_back(Event::Closed {
            association: self.handle,
            reason,
            unsent_messages: unsent,
        });
    }

    /// The verification tag and ports of outgoing packets.
    fn header(&self) -> CommonHeader {
        CommonHeader {
            src_port: self.local_port,
            dst_port: self.peer_port,
            verification_tag: self.peer_tag,
        }
    }

    /// Whether `poll_transmit` may have something to send.
    pub(crate) fn wants_to_send(&self, ext: &dyn Extension) -> bool {
        self.abort.is_some()
            || (self.state.is_established_or_later()
                && (!self.ext.outgoing.is_empty() || ext.has_chunks(self.handle)))
            || self.shutdown_complete
            || !self.control.is_empty()
            || !self.reports.is_empty()
            || match &self.state {
                State::CookieWait { send, .. }
                | State::CookieEchoed { send, .. }
                | State::ShutdownSent { send, .. }
                | State::ShutdownAckSent { send, .. } => *send,
                _ => false,
            }
            || self.heartbeat.send
            || self.forward_tsn_due
            || self
                .tracker
                .as_ref()
                .is_some_and(|t| t.should_send_sack_now())
            || (self.state.sends_data() && !self.send.is_empty())
            || self.rtq.as_ref().is_some_and(|q| q.has_retransmissions())
    }
}

/// Whether to continue with the next chunk of a packet.
enum Flow {
    Continue,
    Stop,
}
