//! Association setup (RFC 9260 §5,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-5>): the INIT this side
//! sends and the parameters it negotiates, the INIT ACK in COOKIE-WAIT, the
//! State Cookie's outcomes for an association that exists (§5.2: restart,
//! collision, duplicate, tie-tags), and the start of the data path.

use super::*;

impl Association {
    /// The parameters this endpoint puts in its INIT or INIT ACK; an
    /// extension's registered chunk types are listed in Supported
    /// Extensions too (RFC 5061 §4.2.7).
    pub(crate) fn local_params(config: &AssociationConfig, reg: &Registration) -> ParamsBuilder {
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
        exts.extend_from_slice(&reg.chunk_types);
        let mut b = Params::builder();
        if !exts.is_empty() {
            b = b.with(&SupportedExtensions::new(&exts));
        }
        if config.partial_reliability {
            b = b.with(&ForwardTsnSupported);
        }
        b
    }

    pub(super) fn make_init(&self) -> Init {
        let mut b = Self::local_params(&self.config, &self.registration);
        for p in &self.ext.init_params {
            b = b.with_raw(p);
        }
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
    pub(crate) fn negotiate(
        config: &AssociationConfig,
        reg: &Registration,
        peer: &InitCommon,
    ) -> Negotiated {
        // RFC 9260 §3.2.1: an unrecognised parameter whose high bits say
        // "stop" ends the processing of the chunk's parameters: nothing
        // after it takes part in the negotiation.
        let processed: Vec<RawParam> = processed_params(&peer.params, reg).collect();
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
    pub(super) fn start_data_path(&mut self, now: Instant, n: Negotiated) {
        self.negotiated = Some(n);
        self.tracker = Some(DataTracker::new(
            n.peer_initial_tsn,
            DataTrackerConfig {
                delayed_ack_timeout: self.config.delayed_ack,
                ..DataTrackerConfig::default()
            },
        ));
        let cc = self.config.congestion.build(
            now,
            self.max_packet_size,
            usize::try_from(n.peer_a_rwnd).unwrap_or(usize::MAX),
        );
        self.rtq = Some(RetransmissionQueue::with_controller(
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
            cc,
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

    pub(super) fn establish_from_cookie(&mut self, now: Instant, c: &CookieContents) {
        self.peer_tag = c.peer_tag;
        self.my_tag = c.local_tag;
        self.my_initial_tsn = c.local_initial_tsn;
        self.start_data_path(now, Negotiated::from_cookie(c));
        self.state = State::Established;
        self.control.push_back(Chunk::CookieAck(CookieAck));
        self.emit_connected();
    }

    pub(super) fn emit_connected(&mut self) {
        if let Some(n) = self.negotiated {
            self.events.push_back(Event::Connected {
                association: self.handle,
                remote: self.remote,
                outbound_streams: n.outbound_streams,
                inbound_streams: n.inbound_streams,
            });
        }
    }

    /// Handles an INIT ACK in COOKIE-WAIT (RFC 9260 §5.1 C). The endpoint
    /// has checked the verification tag.
    pub(crate) fn handle_init_ack(&mut self, now: Instant, ack: &InitAck, ext: &mut dyn Extension) {
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
        let n = Self::negotiate(&self.config, &self.registration, ack);
        self.start_data_path(now, n);
        // Unrecognized parameters whose high bits ask for a report go back
        // in an ERROR bundled with the COOKIE ECHO (RFC 9260 §3.2.1, §3.3.3).
        let unrecognized = unrecognized_params(&ack.params, &self.registration);
        let error = (!unrecognized.is_empty()).then(|| {
            let mut v = Vec::new();
            for p in &unrecognized {
                p.write(&mut v);
            }
            ErrorChunk::new([&ErrorCause::UnrecognizedParameters(
                UnrecognizedParameters { params: v.into() },
            )])
        });
        ext.on_init_ack(&mut ext_cx!(self, now, false), ack);
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
                mark_reserve: self.registration.prefix_len,
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
        self.carried.extend(self.ext.held.drain(..));
        while let Some(d) = self.reasm.poll() {
            self.carried.push_back(d);
        }
        // The extension's chunks and data in flight belonged to the old
        // incarnation (it hears of the restart: `Establishment::Restarted`).
        self.ext.outgoing.clear();
        self.ext.flight = 0;
        self.ext_marks.clear();
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
}

/// The peer's parameters that this endpoint does not recognise and whose
/// high bits ask for a report (RFC 9260 §3.2.1), processing stopping at the
/// first whose bits say stop.
pub(crate) fn unrecognized_params(params: &Params, reg: &Registration) -> Vec<RawParam> {
    let mut out = Vec::new();
    for p in params.iter() {
        if is_recognized_param(p.typ, reg) {
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
pub(crate) fn processed_params<'a>(
    params: &'a Params,
    reg: &'a Registration,
) -> impl Iterator<Item = RawParam> + 'a {
    params
        .iter()
        .take_while(|p| is_recognized_param(p.typ, reg) || !p.typ.unknown_action().stops())
}

/// Parameter types this endpoint understands in INIT / INIT ACK: core's
/// and the extension's.
pub(crate) fn is_recognized_param(t: crate::param::ParamType, reg: &Registration) -> bool {
    use crate::param::ParamType as P;
    reg.has_param(t)
        || matches!(
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
pub(crate) fn unrecognized_param_list(
    params: &Params,
    reg: &Registration,
) -> Vec<UnrecognizedParameter> {
    unrecognized_params(params, reg)
        .iter()
        .map(UnrecognizedParameter::from_param)
        .collect()
}
