//! One association: the RFC 9260 state machine from COOKIE-WAIT to CLOSED,
//! data transfer through the send and receive queues, heartbeats and
//! timers. The [`Endpoint`](crate::endpoint::Endpoint) owns associations,
//! demultiplexes packets to them, and answers what needs endpoint-wide
//! state (INIT, COOKIE ECHO, out-of-the-blue packets).

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
use crate::packet::{CommonHeader, Packet};
use crate::param::{
    CookiePreservative, ForwardTsnSupported, HeartbeatInfo, Params, ParamsBuilder, RawParam,
    SupportedExtensions, UnrecognizedParameter, WireParam,
};
use crate::rx::data_tracker::{DataTracker, DataTrackerConfig};
use crate::rx::reassembly::{Delivery, ReassemblyQueue};
use crate::serial::{Tsn, VerificationTag};
use crate::tx::retransmission_queue::{RetransmissionConfig, RetransmissionQueue};
use crate::tx::rto::{Rto, RtoConfig};
use crate::tx::send_queue::{MessageKey, OutgoingMessage, SendError, SendQueue, SendQueueConfig};
use crate::user_data::UserDataChunk;

mod output;
mod peer_addresses;

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
        );
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
    pub(crate) fn accept(
        handle: AssociationHandle,
        now: Instant,
        config: AssociationConfig,
        max_packet_size: usize,
        remote: SocketAddr,
        cookie: &CookieContents,
        peer_addresses: PeerAddresses,
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
    ) -> Self {
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
            config,
        }
    }

    /// The parameters this endpoint puts in its INIT or INIT ACK.
    pub(crate) fn local_params(config: &AssociationConfig) -> ParamsBuilder {
        let mut exts = Vec::new();
        if config.partial_reliability {
            exts.push(ChunkType::FORWARD_TSN);
        }
        if config.interleaving {
            exts.push(ChunkType::IDATA);
            if config.partial_reliability {
                exts.push(ChunkType::IFORWARD_TSN);
            }
        }
        let mut b = Params::builder();
        if !exts.is_empty() {
            b = b.with(&SupportedExtensions::new(&exts));
        }
        if config.partial_reliability {
            b = b.with(&ForwardTsnSupported);
        }
        b
    }

    fn make_init(&self) -> Init {
        let mut b = Self::local_params(&self.config);
        if let Some(ms) = self.cookie_preservative {
            b = b.with(&CookiePreservative { increment_ms: ms });
        }
        Init(InitCommon {
            initiate_tag: self.my_tag,
            a_rwnd: initial_a_rwnd(&self.config, self.max_packet_size),
            outbound_streams: self.config.outbound_streams,
            inbound_streams: self.config.max_inbound_streams,
            initial_tsn: self.my_initial_tsn,
            params: b.build(),
        })
    }

    /// The INIT this association sent (for answering a colliding INIT
    /// with the same parameters, RFC 9260 §5.2.1).
    pub(crate) fn sent_init(&self) -> Init {
        match &self.state {
            State::CookieWait { init, .. } => init.clone(),
            _ => self.make_init(),
        }
    }

    /// What the peer's INIT (or INIT ACK) and our configuration agree on.
    pub(crate) fn negotiate(config: &AssociationConfig, peer: &InitCommon) -> Negotiated {
        // RFC 9260 §3.2.1: an unrecognised parameter whose high bits say
        // "stop" ends the processing of the chunk's parameters: nothing
        // after it takes part in the negotiation.
        let processed: Vec<RawParam> = processed_params(&peer.params).collect();
        let exts = processed
            .iter()
            .find(|p| p.typ == SupportedExtensions::TYPE)
            .and_then(|p| SupportedExtensions::from_raw(p).ok());
        let lists = |t: ChunkType| exts.as_ref().is_some_and(|e| e.supports(t));
        let partial_reliability = config.partial_reliability
            && (processed.iter().any(|p| p.typ == ForwardTsnSupported::TYPE)
                || lists(ChunkType::FORWARD_TSN));
        let interleaving = config.interleaving
            && lists(ChunkType::IDATA)
            && (!partial_reliability || lists(ChunkType::IFORWARD_TSN));
        Negotiated {
            peer_initial_tsn: peer.initial_tsn,
            peer_a_rwnd: peer.a_rwnd,
            outbound_streams: config.outbound_streams.min(peer.inbound_streams),
            inbound_streams: config.max_inbound_streams.min(peer.outbound_streams),
            caps: Capabilities {
                interleaving,
                partial_reliability,
            },
        }
    }

    /// Sets up the data path once both sides' parameters are known.
    fn start_data_path(&mut self, now: Instant, n: Negotiated) {
        self.negotiated = Some(n);
        self.tracker = Some(DataTracker::new(
            n.peer_initial_tsn,
            DataTrackerConfig {
                delayed_ack_timeout: self.config.delayed_ack,
                ..DataTrackerConfig::default()
            },
        ));
        self.rtq = Some(RetransmissionQueue::new(
            self.my_initial_tsn,
            n.peer_a_rwnd,
            RetransmissionConfig {
                mtu: self.max_packet_size,
                max_burst: self.config.max_burst,
                chunk_header_len: if n.caps.interleaving { 20 } else { 16 },
                partial_reliability: n.caps.partial_reliability,
                // Our own delayed-SACK time stands in for the peer's.
                peer_sack_delay: self.config.delayed_ack,
                rack_tlp: self.config.rack_tlp,
                ..RetransmissionConfig::default()
            },
        ));
        self.reasm = ReassemblyQueue::new(self.config.reassembly_config(), n.caps.interleaving);
        for msg in self.send.set_outbound_streams(n.outbound_streams) {
            // Messages queued before the handshake on streams the peer
            // does not accept can never be sent.
            self.events.push_back(Event::MessageAbandoned {
                association: self.handle,
                stream: msg.stream,
                ppid: msg.ppid,
            });
        }
        self.schedule_heartbeat(now);
    }

    fn establish_from_cookie(&mut self, now: Instant, c: &CookieContents) {
        self.peer_tag = c.peer_tag;
        self.my_tag = c.local_tag;
        self.my_initial_tsn = c.local_initial_tsn;
        self.start_data_path(now, Negotiated::from_cookie(c));
        self.state = State::Established;
        self.control.push_back(Chunk::CookieAck(CookieAck));
        self.emit_connected();
    }

    fn emit_connected(&mut self) {
        if let Some(n) = self.negotiated {
            self.events.push_back(Event::Connected {
                association: self.handle,
                remote: self.remote,
                outbound_streams: n.outbound_streams,
                inbound_streams: n.inbound_streams,
            });
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

    /// Next delivery for the application.
    pub(crate) fn poll_recv(&mut self) -> Option<Delivery> {
        if let Some(d) = self.carried.pop_front() {
            self.stats.messages_delivered += 1;
            return Some(d);
        }
        let d = self.reasm.poll()?;
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
            self.reasm.buffered_bytes()
                + rwnd_reserve(self.config.receive_buffer, self.max_packet_size),
        );
        if self.advertised_rwnd < self.config.receive_buffer / 2
            && open >= self.advertised_rwnd + self.max_packet_size
            && let Some(t) = self.tracker.as_mut()
        {
            t.force_sack();
        }
        Some(d)
    }

    /// Whether a delivery is waiting.
    pub(crate) fn has_deliverable(&self) -> bool {
        !self.carried.is_empty() || self.reasm.has_deliverable()
    }

    /// Bytes of received user data held.
    pub(crate) fn buffered_receive_bytes(&self) -> usize {
        self.reasm.buffered_bytes() + self.carried.iter().map(|d| d.payload.len()).sum::<usize>()
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
    ) {
        self.stats.packets_received += 1;
        // RFC 6951 §5.5: the UDP port of the path follows packets that
        // passed the verification-tag check.
        if remote.ip() == self.remote.ip() {
            self.remote = remote;
        }
        let mut had_data = false;
        let mut reports = Vec::new();
        for raw in packet.into_chunks().skip(skip) {
            if matches!(self.state, State::Closed) {
                break;
            }
            let typ = raw.typ;
            let chunk = match Chunk::parse(raw) {
                Ok(c) => c,
                Err(e) => {
                    debug!(assoc = %self.handle, chunk = ?typ, error = %e, "malformed chunk");
                    self.protocol_violation(now, &format!("malformed {typ}: {e}"));
                    break;
                }
            };
            match self.handle_chunk(now, chunk, &mut had_data, &mut reports, mem) {
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

    fn handle_chunk(
        &mut self,
        now: Instant,
        chunk: Chunk,
        had_data: &mut bool,
        reports: &mut Vec<ErrorCause>,
        mem: MemoryGauge,
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
                self.handle_forward_tsn(f);
                Flow::Continue
            }
            Chunk::IForwardTsn(f) => {
                let n = self.negotiated;
                if !n.is_some_and(|n| n.caps.partial_reliability && n.caps.interleaving) {
                    // A known extension chunk that was not negotiated is
                    // unrecognised: its high bits decide (RFC 9260 §3.2).
                    return self.unknown_chunk(f.to_raw(), reports);
                }
                *had_data = true;
                self.handle_iforward_tsn(f);
                Flow::Continue
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

    fn handle_user_data(
        &mut self,
        now: Instant,
        tsn: Tsn,
        chunk: UserDataChunk,
        immediate: bool,
        reports: &mut Vec<ErrorCause>,
        mem: MemoryGauge,
    ) -> Flow {
        self.stats.data_chunks_received += 1;
        if !self.state.accepts_data() {
            return Flow::Continue;
        }
        // RFC 9260 §6.2: "If an endpoint receives a DATA chunk with no user
        // data (i.e., the Length field is set to 16), it MUST send an ABORT
        // with error cause set to 'No User Data'."
        if chunk.payload.is_empty() {
            let cause = ErrorCause::NoUserData(NoUserData { tsn });
            self.abort = Some(Abort::with_cause(false, &cause));
            self.terminate(now, CloseReason::ProtocolError(cause));
            return Flow::Stop;
        }
        let inbound = self.negotiated.map_or(0, |n| n.inbound_streams);
        let window = self.receive_window(mem);
        let own_window = self
            .config
            .receive_buffer
            .saturating_sub(self.reasm.buffered_bytes());
        let Some(tracker) = self.tracker.as_mut() else {
            return Flow::Continue;
        };
        if !tracker.is_tsn_acceptable(tsn) {
            self.stats.data_chunks_refused += 1;
            return Flow::Continue;
        }
        let next_expected = tracker.cumulative_tsn_ack().next();
        let len = chunk.payload.len();
        // RFC 9260 §6.2 window rule. The advertised window leaves out a
        // reserve (`rwnd_reserve`) that only the next in-sequence chunk may
        // use, so reordered data can never wedge the association (nor can
        // a zero window probe be refused while reassembly waits for the
        // very fragment it carries); every other chunk gets what a_rwnd
        // offered, which is all a sender that honours it can have in
        // flight.
        let headroom = if tsn == next_expected {
            0
        } else {
            rwnd_reserve(self.config.receive_buffer, self.max_packet_size)
        };
        // The chunk that fills the cumulative gap releases what is held above
        // it, so it may use this association's own buffer even when the
        // endpoint budget is spent: otherwise peers that fill the budget with
        // data that never completes would wedge an association that took more
        // than its fair share while memory was free (the overshoot is bounded
        // by this association's buffer).
        let window = if tsn == next_expected && tracker.has_gaps() {
            window.max(own_window)
        } else {
            window
        };
        if len + headroom > window && !tracker.has_received(tsn) {
            // Within what the last SACK offered, the sender was entitled
            // to send it: counted apart from chunks beyond the offer.
            if self.accepted_since_sack + len <= self.advertised_rwnd {
                self.stats.data_chunks_dropped += 1;
            } else {
                self.stats.data_chunks_refused += 1;
            }
            tracker.force_sack();
            return Flow::Continue;
        }
        if !tracker.observe(tsn, immediate) {
            self.stats.duplicate_chunks_received += 1;
            return Flow::Continue;
        }
        self.accepted_since_sack += len;
        // RFC 9260 §6.5: a DATA chunk for a stream that does not exist is
        // acknowledged, reported with Invalid Stream Identifier, and
        // discarded.
        if chunk.stream.0 >= inbound {
            reports.push(ErrorCause::InvalidStreamIdentifier(
                InvalidStreamIdentifier {
                    stream: chunk.stream,
                },
            ));
            return Flow::Continue;
        }
        self.reasm.add(now, tsn, chunk);
        Flow::Continue
    }

    /// The a_rwnd to put in a SACK: the receive window less the reserve
    /// kept for the chunk that fills the cumulative gap (see
    /// [`rwnd_reserve`]), so that everything a sender may have in flight
    /// under this window is accepted on arrival (RFC 9260 §6.2: the
    /// receiver "advertises" buffer it has).
    pub(crate) fn advertised_window(&self, mem: MemoryGauge) -> usize {
        self.receive_window(mem).saturating_sub(rwnd_reserve(
            self.config.receive_buffer,
            self.max_packet_size,
        ))
    }

    /// The receive window: the association's free buffer, bounded by the
    /// endpoint's memory budget, but never below this association's fair
    /// share of that budget.
    pub(crate) fn receive_window(&self, mem: MemoryGauge) -> usize {
        let held = self.reasm.buffered_bytes();
        let own = self.config.receive_buffer.saturating_sub(held);
        let endpoint_free = mem.budget.saturating_sub(mem.used);
        let fair = (mem.budget / mem.associations.max(1))
            .min(self.config.receive_buffer)
            .saturating_sub(held);
        own.min(endpoint_free).max(fair)
    }

    fn handle_sack(&mut self, now: Instant, sack: &Sack) {
        self.stats.sacks_received += 1;
        self.zero_window_answered = (sack.a_rwnd as usize) < self.max_packet_size;
        let Some(rtq) = self.rtq.as_mut() else {
            return;
        };
        let outcome = match rtq.handle_sack(now, sack) {
            Ok(o) => o,
            Err(e) => {
                // RFC 9260 §6.2.1: a cumulative ack beyond what was sent is
                // a protocol violation.
                let msg = format!("bad SACK: {e}");
                self.protocol_violation(now, &msg);
                return;
            }
        };
        if let Some(rtt) = outcome.rtt_sample {
            self.rto.observe(rtt);
            if let Some(srtt) = self.rto.srtt() {
                self.events.push_back(Event::RttUpdated {
                    association: self.handle,
                    srtt,
                });
            }
        }
        if outcome.bytes_acked > 0 || outcome.cum_advanced {
            // RFC 9260 §8.3: "When an outstanding TSN is acknowledged [...]
            // the endpoint SHOULD clear the error counter".
            self.note_peer_alive();
        }
        if outcome.entered_fast_recovery {
            self.stats.fast_retransmits += 1;
        }
        let rto = self.rto.rto();
        let srtt = self.rto.srtt();
        if let Some(rtq) = self.rtq.as_mut() {
            rtq.set_srtt(srtt);
            rtq.on_sack_processed(now, rto, &outcome);
        }
        self.abandon_messages(outcome.abandoned);
        self.forward_tsn_due |= self.negotiated.is_some_and(|n| n.caps.partial_reliability);
        self.schedule_zero_window_probe(now);
    }

    /// Messages PR-SCTP abandoned in the retransmission queue (RFC 3758
    /// §3.5): their unsent rest is dropped and the application told.
    fn abandon_messages(&mut self, keys: Vec<MessageKey>) {
        for key in keys {
            self.send.abandon_message(&key);
            self.events.push_back(Event::MessageAbandoned {
                association: self.handle,
                stream: key.stream,
                ppid: key.ppid,
            });
        }
    }

    /// RFC 9260 §6.1 A: "The sender SHOULD send the first zero window probe
    /// after 1 RTO when it detects that the receiver has closed its window
    /// and SHOULD increase the probe interval exponentially afterwards."
    /// Called after every SACK: with the peer's window at zero and nothing
    /// in flight, the next probe waits one RTO, doubled for every probe
    /// already sent into the closed window (at most RTO.Max); any opening
    /// of the window ends probing. A probe in flight is covered by T3-rtx,
    /// which backs off on its own.
    fn schedule_zero_window_probe(&mut self, now: Instant) {
        let Some(q) = self.rtq.as_ref() else {
            return;
        };
        if q.peer_rwnd() > 0 {
            self.zero_window_probe_at = None;
            self.zero_window_probes = 0;
        } else if q.outstanding_bytes() == 0 && self.zero_window_probe_at.is_none() {
            let wait = self
                .rto
                .rto()
                .saturating_mul(1 << self.zero_window_probes.min(16))
                .min(self.config.rto_max);
            self.zero_window_probe_at = Some(now + wait);
        }
    }

    /// Whether new data is held back because the next zero window probe is
    /// not due yet (see [`Self::schedule_zero_window_probe`]).
    pub(crate) fn zero_window_probe_pending(&self, now: Instant) -> bool {
        self.zero_window_probe_at.is_some_and(|at| now < at)
            && self
                .rtq
                .as_ref()
                .is_some_and(|q| q.peer_rwnd() == 0 && q.outstanding_bytes() == 0)
    }

    fn note_peer_alive(&mut self) {
        self.error_count = 0;
        if !self.path_reachable {
            self.path_reachable = true;
            self.events.push_back(Event::PathChanged {
                association: self.handle,
                reachable: true,
            });
        }
    }

    /// One more consecutive timeout; fails the association past
    /// Association.Max.Retrans (RFC 9260 §8.1) and reports the path past
    /// Path.Max.Retrans (§8.2). Returns false if the association died.
    fn note_timeout(&mut self, now: Instant) -> bool {
        self.error_count += 1;
        if self.error_count > self.config.path_max_retransmissions && self.path_reachable {
            self.path_reachable = false;
            self.events.push_back(Event::PathChanged {
                association: self.handle,
                reachable: false,
            });
        }
        if self.error_count > self.config.max_retransmissions {
            self.terminate(now, CloseReason::Unreachable);
            return false;
        }
        true
    }

    fn handle_heartbeat_ack(&mut self, now: Instant, info: &HeartbeatInfo) {
        let Some((nonce, sent, _)) = self.heartbeat.outstanding else {
            return;
        };
        if info.0.len() != 8 || info.0[..] != nonce.to_be_bytes() {
            return;
        }
        self.heartbeat.outstanding = None;
        // RFC 9260 §8.3: "The receiver of the HEARTBEAT ACK SHOULD also
        // perform an RTT measurement for that destination transport address
        // using the time value carried in the HEARTBEAT ACK chunk."
        self.rto.observe(now.saturating_duration_since(sent));
        if let Some(srtt) = self.rto.srtt() {
            self.events.push_back(Event::RttUpdated {
                association: self.handle,
                srtt,
            });
        }
        self.note_peer_alive();
        self.schedule_heartbeat(now);
    }

    fn schedule_heartbeat(&mut self, now: Instant) {
        // RFC 9260 §8.3: "HB.interval + RTO" after the path went idle.
        self.heartbeat.next = self
            .config
            .heartbeat_interval
            .map(|i| now + i + self.rto.rto());
    }

    fn handle_shutdown(&mut self, now: Instant, cum_ack: Tsn) {
        match self.state {
            State::Established
            | State::ShutdownPending
            | State::ShutdownSent { .. }
            | State::ShutdownReceived => {}
            _ => return,
        }
        // RFC 9260 §9.2: the SHUTDOWN's Cumulative TSN Ack acknowledges data
        // like a SACK without gap blocks.
        let a_rwnd = self.rtq.as_ref().map_or(0, |q| q.peer_rwnd());
        self.handle_sack(now, &Sack::new(cum_ack, a_rwnd, &[], &[]));
        // In SHUTDOWN-RECEIVED the peer repeats its SHUTDOWN for every
        // packet of our remaining DATA (§9.2: "While in the SHUTDOWN-SENT
        // state, the SHUTDOWN sender MUST immediately respond to each
        // received packet containing one or more DATA chunks with a SHUTDOWN
        // chunk"): only its acknowledgement is news.
        if matches!(self.state, State::Closed | State::ShutdownReceived) {
            return;
        }
        if let State::ShutdownSent { .. } = self.state {
            // Both sides sent SHUTDOWN: RFC 9260 §9.2 "If an endpoint is in
            // the SHUTDOWN-SENT state and receives a SHUTDOWN chunk from its
            // peer, the endpoint MUST respond immediately with a SHUTDOWN
            // ACK to its peer, and move into the SHUTDOWN-ACK-SENT state
            // restarting its T2-shutdown timer."
            self.enter_shutdown_ack_sent(now);
            return;
        }
        self.state = State::ShutdownReceived;
        self.events.push_back(Event::ShutdownReceived {
            association: self.handle,
        });
    }

    fn handle_shutdown_ack(&mut self, now: Instant) {
        match self.state {
            // RFC 9260 §9.2: "Upon the receipt of the SHUTDOWN ACK, the
            // SHUTDOWN sender MUST stop the T2-shutdown timer, send a
            // SHUTDOWN COMPLETE chunk to its peer, and remove all record of
            // the association."
            State::ShutdownSent { .. } | State::ShutdownAckSent { .. } => {
                self.shutdown_complete = true;
                self.terminate(now, CloseReason::Shutdown);
            }
            _ => {}
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

    fn handle_forward_tsn(&mut self, f: ForwardTsn) {
        let Some(t) = self.tracker.as_mut() else {
            return;
        };
        t.handle_forward_tsn(f.new_cumulative_tsn);
        self.reasm.handle_forward_tsn(
            f.new_cumulative_tsn,
            f.streams().map(|s: ForwardTsnStream| (s.stream, s.ssn)),
        );
    }

    fn handle_iforward_tsn(&mut self, f: IForwardTsn) {
        let Some(t) = self.tracker.as_mut() else {
            return;
        };
        t.handle_forward_tsn(f.new_cumulative_tsn);
        self.reasm.handle_iforward_tsn(
            f.new_cumulative_tsn,
            f.entries()
                .map(|e: IForwardTsnStream| (e.stream, e.unordered, e.mid)),
        );
    }

    /// Handles an INIT ACK in COOKIE-WAIT (RFC 9260 §5.1 C). The endpoint
    /// has checked the verification tag.
    pub(crate) fn handle_init_ack(&mut self, now: Instant, ack: &InitAck) {
        if !matches!(self.state, State::CookieWait { .. }) {
            // RFC 9260 §5.2.3: discard.
            return;
        }
        if let Err(fault) = ack.check() {
            // An INIT ACK with a zero tag or stream count, or a host name:
            // ABORT (RFC 9260 §3.3.3, §3.3.2.1). The peer's tag may be 0; the
            // ABORT then reflects ours (T bit), which the peer can verify.
            let cause = fault
                .abort_cause(true)
                .unwrap_or(ErrorCause::InvalidMandatoryParameter(
                    crate::cause::InvalidMandatoryParameter,
                ));
            self.peer_tag = ack.initiate_tag;
            self.abort = Some(Abort::with_cause(ack.initiate_tag.0 == 0, &cause));
            self.terminate(now, CloseReason::ProtocolError(cause));
            return;
        }
        let cookie = match ack.state_cookie() {
            Some(Ok(c)) => c.0,
            _ => {
                // RFC 9260 §3.3.10.2: Missing Mandatory Parameter.
                let cause = ErrorCause::MissingMandatoryParameter(
                    crate::cause::MissingMandatoryParameter::new(&[
                        crate::param::ParamType::STATE_COOKIE,
                    ]),
                );
                self.peer_tag = ack.initiate_tag;
                self.abort = Some(Abort::with_cause(false, &cause));
                self.terminate(now, CloseReason::ProtocolError(cause));
                return;
            }
        };
        self.peer_tag = ack.initiate_tag;
        self.peer_addresses = PeerAddresses::from_params(&ack.params, self.remote.ip());
        let n = Self::negotiate(&self.config, ack);
        self.start_data_path(now, n);
        // Unrecognized parameters whose high bits ask for a report go back
        // in an ERROR bundled with the COOKIE ECHO (RFC 9260 §3.2.1, §3.3.3).
        let unrecognized = unrecognized_params(&ack.params);
        let error = (!unrecognized.is_empty()).then(|| {
            let mut v = Vec::new();
            for p in &unrecognized {
                p.write(&mut v);
            }
            ErrorChunk::new([&ErrorCause::UnrecognizedParameters(
                UnrecognizedParameters { params: v.into() },
            )])
        });
        self.state = State::CookieEchoed {
            cookie,
            error,
            t1_cookie: Timer {
                deadline: now + self.rto.rto(),
                count: 0,
            },
            send: true,
            sent_at: None,
        };
    }

    /// Restart (RFC 9260 §5.2.4 action A): the peer came back with new tags.
    pub(crate) fn restart(&mut self, now: Instant, c: &CookieContents) {
        let lost = self.rtq.as_ref().map_or(0, |q| usize::from(!q.is_empty()));
        let _ = lost;
        self.send = SendQueue::new(
            self.config.outbound_streams,
            SendQueueConfig {
                buffer_limit: self.config.send_buffer,
            },
        );
        self.control.clear();
        self.reports.clear();
        self.abort = None;
        self.forward_tsn_due = false;
        self.error_count = 0;
        self.heartbeat.outstanding = None;
        self.local_tie_tag = 0;
        self.peer_tie_tag = 0;
        // "the existing session is treated the same as if it received an
        // ABORT chunk followed by a new COOKIE ECHO chunk": as after an
        // ABORT, messages that arrived whole (and were acknowledged) stay
        // readable and incomplete ones are released as aborted, before the
        // new incarnation's data path replaces the reassembly queue.
        self.reasm.abort_all();
        while let Some(d) = self.reasm.poll() {
            self.carried.push_back(d);
        }
        self.establish_from_cookie(now, c);
        // establish_from_cookie reported Connected; a restart is reported as
        // such instead (RFC 9260 §5.2.4: "report the restart to the ULP").
        if let Some(Event::Connected { .. }) = self.events.back() {
            self.events.pop_back();
        }
        self.events.push_back(Event::Restarted {
            association: self.handle,
        });
    }

    /// Setup collision resolved in our favour (RFC 9260 §5.2.4 action B).
    pub(crate) fn collision_established(&mut self, now: Instant, c: &CookieContents) {
        let was_connected = self.state.is_established_or_later();
        self.peer_tag = c.peer_tag;
        // Without a data path yet, or when the cookie describes another
        // one (the peer's initial TSN differs: the association the peer now
        // believes in wins), start it from the cookie.
        let stale = self.tracker.is_none()
            || self
                .negotiated
                .is_none_or(|n| n.peer_initial_tsn != c.peer_initial_tsn);
        if stale {
            self.start_data_path(now, Negotiated::from_cookie(c));
        }
        if !was_connected {
            self.state = State::Established;
            self.emit_connected();
        }
        self.control.push_back(Chunk::CookieAck(CookieAck));
    }

    /// Both tags match (RFC 9260 §5.2.4 action D).
    /// Remembers the State Cookie the endpoint accepted for this
    /// association (see [`Self::is_own_cookie`]).
    pub(crate) fn remember_cookie(&mut self, cookie: &[u8]) {
        self.cookie_mac = CookieSecrets::mac_of(cookie);
    }

    /// Whether `cookie` is the one this association was created from (its
    /// MAC, checked when it was accepted), and the association is up: a
    /// COOKIE ECHO retransmitted because every COOKIE ACK was lost, which
    /// may arrive after its signing secret rotated away.
    pub(crate) fn is_own_cookie(&self, cookie: &[u8]) -> bool {
        self.state.is_established_or_later()
            && self.cookie_mac.is_some()
            && CookieSecrets::mac_of(cookie) == self.cookie_mac
    }

    /// RFC 9260 §5.2.4 Table 2 row D for a cookie that no longer verifies
    /// but is this association's own ([`Self::is_own_cookie`]): the peer
    /// is still in COOKIE-ECHOED; answer with COOKIE ACK.
    pub(crate) fn resend_cookie_ack(&mut self) {
        self.control.push_back(Chunk::CookieAck(CookieAck));
    }

    pub(crate) fn duplicate_cookie(&mut self, now: Instant, c: &CookieContents) {
        if !self.state.is_established_or_later() {
            if self.negotiated.is_none() {
                self.start_data_path(now, Negotiated::from_cookie(c));
            }
            self.state = State::Established;
            self.emit_connected();
        }
        self.control.push_back(Chunk::CookieAck(CookieAck));
    }

    /// RFC 9260 §9.2: INIT in SHUTDOWN-ACK-SENT: resend the SHUTDOWN ACK.
    pub(crate) fn resend_shutdown_ack(&mut self) {
        if let State::ShutdownAckSent { send, .. } = &mut self.state {
            *send = true;
        }
    }

    /// RFC 9260 §5.2.4 A in SHUTDOWN-ACK-SENT: "it MUST NOT set up a new
    /// association but instead resend the SHUTDOWN ACK and send an ERROR
    /// chunk with a 'Cookie Received While Shutting Down' error cause".
    pub(crate) fn cookie_while_shutting_down(&mut self) {
        self.resend_shutdown_ack();
        self.control.push_back(Chunk::Error(ErrorChunk::new([
            &ErrorCause::CookieReceivedWhileShuttingDown(
                crate::cause::CookieReceivedWhileShuttingDown,
            ),
        ])));
    }

    /// Ensures the tie-tags exist (RFC 9260 §5.2.1, §5.2.2) and returns them.
    pub(crate) fn tie_tags(&mut self, mut random: impl FnMut() -> u32) -> (u32, u32) {
        if self.local_tie_tag == 0 {
            self.local_tie_tag = random();
            self.peer_tie_tag = random();
        }
        (self.local_tie_tag, self.peer_tie_tag)
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

    /// Moves the graceful shutdown along once all data is acknowledged
    /// (RFC 9260 §9.2).
    fn progress_shutdown(&mut self, now: Instant) {
        let all_acked = self.send.is_empty() && self.rtq.as_ref().is_none_or(|q| q.is_empty());
        match self.state {
            State::ShutdownPending if all_acked => {
                // "[...] the endpoint MUST send a SHUTDOWN chunk to its peer
                // containing in the Cumulative TSN Ack field the last
                // sequential TSN it has received from the peer. It MUST then
                // start the T2-shutdown timer and enter the SHUTDOWN-SENT
                // state."
                self.state = State::ShutdownSent {
                    t2_shutdown: Timer {
                        deadline: now + self.rto.rto(),
                        count: 0,
                    },
                    send: true,
                };
                self.shutdown_guard = Some(now + self.config.shutdown_guard);
            }
            State::ShutdownReceived if all_acked => self.enter_shutdown_ack_sent(now),
            _ => {}
        }
    }

    fn enter_shutdown_ack_sent(&mut self, now: Instant) {
        self.state = State::ShutdownAckSent {
            t2_shutdown: Timer {
                deadline: now + self.rto.rto(),
                count: 0,
            },
            send: true,
        };
    }

    // ----- timers --------------------------------------------------------

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has work.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut add = |d: Option<Instant>| {
            if let Some(d) = d {
                t = Some(t.map_or(d, |x| x.min(d)));
            }
        };
        match &self.state {
            State::CookieWait { t1_init, .. } => add(Some(t1_init.deadline)),
            State::CookieEchoed { t1_cookie, .. } => add(Some(t1_cookie.deadline)),
            State::ShutdownSent { t2_shutdown, .. }
            | State::ShutdownAckSent { t2_shutdown, .. } => add(Some(t2_shutdown.deadline)),
            State::Closed => return None,
            _ => {}
        }
        add(self.shutdown_guard);
        if let Some(q) = &self.rtq {
            add(q.t3_deadline());
            add(q.loss_timer_deadline());
        }
        if let Some(tr) = &self.tracker {
            add(tr.sack_deadline());
        }
        add(self.reasm.deadline());
        add(self.send.next_expiry());
        if !self.send.is_empty() {
            add(self.zero_window_probe_at);
        }
        if self.state.is_established_or_later() {
            add(self.heartbeat.next);
            add(self.heartbeat.outstanding.map(|(_, _, to)| to));
        }
        t
    }

    /// Handles every timer due at `now`. Calling it early is harmless.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.handle_state_timers(now);
        if matches!(self.state, State::Closed) {
            return;
        }
        // The zero window probe is due: from now on nothing holds it back
        // (and the timer must not fire again).
        if self.zero_window_probe_at.is_some_and(|at| at <= now) {
            self.zero_window_probe_at = None;
        }
        if self.shutdown_guard.is_some_and(|d| d <= now) {
            // RFC 9260 §9.2: "If the timer expires, the endpoint MUST send an
            // ABORT chunk".
            self.abort = Some(Abort::default());
            self.terminate(now, CloseReason::ShutdownGuardExpired);
            return;
        }
        if let Some(q) = self.rtq.as_mut()
            && q.t3_deadline().is_some_and(|d| d <= now)
        {
            self.stats.t3_expirations += 1;
            // RFC 9260 §6.3.3 E1-E3 (the queue) and E2 (back off the RTO).
            let abandoned = q.handle_t3_expiry(now);
            self.rto.backoff();
            let rto = self.rto.rto();
            if let Some(q) = self.rtq.as_mut() {
                q.restart_t3(now, rto);
            }
            self.abandon_messages(abandoned);
            // RFC 9260 §6.1 A: "If the sender continues to receive SACK
            // chunks from the peer while doing zero window probing, the
            // unacknowledged window probes SHOULD NOT increment the error
            // counter for the association or any destination transport
            // address. This is because the receiver MAY keep its window
            // closed for an indefinite time." (The RTO still backs off: the
            // probe interval grows exponentially.)
            let answered = std::mem::take(&mut self.zero_window_answered);
            if !answered && !self.note_timeout(now) {
                return;
            }
            self.forward_tsn_due |= self.negotiated.is_some_and(|n| n.caps.partial_reliability);
        }
        if let Some(q) = self.rtq.as_mut()
            && q.loss_timer_deadline().is_some_and(|d| d <= now)
        {
            // RACK's reordering timer and the tail loss probe (RFC 8985
            // §6.3, §7.3; see `crate::tx::loss`).
            let out = q.handle_loss_timer(now);
            self.stats.fast_retransmits += u64::from(out.entered_fast_recovery);
            self.stats.loss_probes += u64::from(out.probe);
            self.abandon_messages(out.abandoned);
            self.forward_tsn_due |= self.negotiated.is_some_and(|n| n.caps.partial_reliability);
        }
        if let Some(t) = self.tracker.as_mut() {
            t.handle_timeout(now);
        }
        self.reasm.handle_timeout(now);
        for msg in self.send.expire(now) {
            self.events.push_back(Event::MessageAbandoned {
                association: self.handle,
                stream: msg.stream,
                ppid: msg.ppid,
            });
        }
        self.handle_heartbeat_timers(now);
    }

    fn handle_state_timers(&mut self, now: Instant) {
        let rto_max = self.config.rto_max;
        let max_init = self.config.max_init_retransmits;
        let expired = match &mut self.state {
            State::CookieWait {
                t1_init: t, send, ..
            }
            | State::CookieEchoed {
                t1_cookie: t, send, ..
            } if t.deadline <= now => {
                // RFC 9260 §5.1 C / D and §6.3.3: retransmit with backed-off
                // RTO; give up after Max.Init.Retransmits.
                t.count += 1;
                if t.count > max_init {
                    Some(CloseReason::HandshakeTimeout)
                } else {
                    *send = true;
                    None
                }
            }
            State::ShutdownSent {
                t2_shutdown: t,
                send,
            }
            | State::ShutdownAckSent {
                t2_shutdown: t,
                send,
            } if t.deadline <= now => {
                // RFC 9260 §9.2: T2 retransmissions count against
                // Association.Max.Retrans.
                t.count += 1;
                *send = true;
                None
            }
            _ => return,
        };
        if let Some(reason) = expired {
            self.terminate(now, reason);
            return;
        }
        self.rto.backoff();
        let rto = self.rto.rto().min(rto_max);
        let is_t2 = matches!(
            self.state,
            State::ShutdownSent { .. } | State::ShutdownAckSent { .. }
        );
        match &mut self.state {
            State::CookieWait { t1_init: t, .. }
            | State::CookieEchoed { t1_cookie: t, .. }
            | State::ShutdownSent { t2_shutdown: t, .. }
            | State::ShutdownAckSent { t2_shutdown: t, .. } => t.deadline = now + rto,
            _ => {}
        }
        if is_t2 {
            self.note_timeout(now);
        }
    }

    fn handle_heartbeat_timers(&mut self, now: Instant) {
        if !self.state.is_established_or_later() {
            return;
        }
        if let Some((_, _, timeout)) = self.heartbeat.outstanding
            && timeout <= now
        {
            // RFC 9260 §8.3: "An endpoint SHOULD increment the respective
            // error counter of the destination transport address each time a
            // HEARTBEAT chunk is sent to that address and not acknowledged
            // within one RTO."
            self.heartbeat.outstanding = None;
            self.rto.backoff();
            if !self.note_timeout(now) {
                return;
            }
            // §8.3 recommends a HEARTBEAT "once per RTO of that destination
            // address plus the protocol parameter 'HB.interval' [...] and
            // exponential backoff of the RTO if the previous HEARTBEAT chunk
            // is unanswered". Our reading for the one path we have: once a
            // HEARTBEAT went unanswered the path is potentially failed
            // (RFC 7829 with PFMR = 0), and a potentially-failed destination
            // is probed once per (backed-off) RTO without HB.interval, so the
            // next HEARTBEAT goes now. Failure detection then takes the sum
            // of the backed-off RTOs, not that plus Association.Max.Retrans
            // heartbeat intervals.
            self.heartbeat.send = true;
        }
        if self.heartbeat.next.is_some_and(|n| n <= now) {
            let idle = self.rtq.as_ref().is_none_or(|q| q.is_empty());
            if idle && self.heartbeat.outstanding.is_none() {
                self.heartbeat.send = true;
            }
            self.schedule_heartbeat(now);
        }
    }

    /// Called when a packet carrying data or an acknowledgement went out
    /// or came in: the path is not idle, so the heartbeat waits.
    fn path_active(&mut self, now: Instant) {
        if self.heartbeat.outstanding.is_none() {
            self.schedule_heartbeat(now);
        }
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
    pub(crate) fn wants_to_send(&self) -> bool {
        self.abort.is_some()
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

/// Receive buffer never offered in a_rwnd: out-of-order chunks may use the
/// window only up to it, and the chunk that fills the cumulative gap always
/// finds room in it, so reordered data can never wedge the association.
/// One packet, or half a buffer smaller than a packet.
pub(crate) fn rwnd_reserve(receive_buffer: usize, max_packet_size: usize) -> usize {
    max_packet_size.min(receive_buffer / 2)
}

/// The a_rwnd of INIT and INIT ACK: the whole receive buffer but for
/// [`rwnd_reserve`].
pub(crate) fn initial_a_rwnd(cfg: &AssociationConfig, max_packet_size: usize) -> u32 {
    let w = cfg
        .receive_buffer
        .saturating_sub(rwnd_reserve(cfg.receive_buffer, max_packet_size));
    u32::try_from(w).unwrap_or(u32::MAX)
}

/// The peer's parameters that this endpoint does not recognise and whose
/// high bits ask for a report (RFC 9260 §3.2.1), processing stopping at the
/// first whose bits say stop.
pub(crate) fn unrecognized_params(params: &Params) -> Vec<RawParam> {
    let mut out = Vec::new();
    for p in params.iter() {
        if is_recognized_param(p.typ) {
            continue;
        }
        let action = p.typ.unknown_action();
        if action.reports() {
            out.push(p.clone());
        }
        if action.stops() {
            break;
        }
    }
    out
}

/// The parameters a receiver processes (RFC 9260 §3.2.1): all of them up
/// to, not including, the first unrecognised one whose high bits say stop.
pub(crate) fn processed_params(params: &Params) -> impl Iterator<Item = RawParam> + '_ {
    params
        .iter()
        .take_while(|p| is_recognized_param(p.typ) || !p.typ.unknown_action().stops())
}

/// Parameter types this endpoint understands in INIT / INIT ACK.
pub(crate) fn is_recognized_param(t: crate::param::ParamType) -> bool {
    use crate::param::ParamType as P;
    matches!(
        t,
        P::IPV4_ADDRESS
            | P::IPV6_ADDRESS
            | P::STATE_COOKIE
            | P::UNRECOGNIZED_PARAMETER
            | P::COOKIE_PRESERVATIVE
            | P::HOST_NAME_ADDRESS
            | P::SUPPORTED_ADDRESS_TYPES
            | P::ECN_CAPABLE
            | P::SUPPORTED_EXTENSIONS
            | P::FORWARD_TSN_SUPPORTED
    )
}

/// Wraps each unrecognised parameter for an INIT ACK (RFC 9260 §3.3.3.1).
pub(crate) fn unrecognized_param_list(params: &Params) -> Vec<UnrecognizedParameter> {
    unrecognized_params(params)
        .iter()
        .map(UnrecognizedParameter::from_param)
        .collect()
}
