//! User data transfer (RFC 9260 §6,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-6>): DATA / I-DATA
//! received and the receive window offered (§6.2), SACKs received (§6.2.1)
//! with their effect on retransmission and PR-SCTP abandonment, zero window
//! probing (§6.1 A), and FORWARD-TSN / I-FORWARD-TSN (RFC 3758 §3.6, RFC
//! 8260 §2.3). Sending is `output.rs`.

use super::*;

impl Association {
    pub(super) fn handle_user_data(
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
            .saturating_sub(self.own_buffered());
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
        // The chunk next in TSN order may also use the reassembly's
        // completion reserve (never advertised): without it, interleaved
        // I-DATA messages that may only be delivered whole could fill the
        // buffer with none of them complete (see
        // `ReassemblyQueue::completion_reserve`).
        let window = if tsn == next_expected {
            window + self.reasm.completion_reserve()
        } else {
            window
        };
        // A fragment of a message already released, or one that settles an
        // oversized message, may need less room than its length.
        if len + headroom > window
            && self.reasm.room_needed(tsn, &chunk) + headroom > window
            && !tracker.has_received(tsn)
        {
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
        let cum = tracker.cumulative_tsn_ack();
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
        self.reasm.set_cumulative_tsn(cum);
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
        let held = self.own_buffered();
        let own = self.config.receive_buffer.saturating_sub(held);
        let endpoint_free = mem.budget.saturating_sub(mem.used);
        let fair = (mem.budget / mem.associations.max(1))
            .min(self.config.receive_buffer)
            .saturating_sub(held);
        own.min(endpoint_free).max(fair)
    }

    pub(super) fn handle_sack(&mut self, now: Instant, sack: &Sack) {
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
    pub(super) fn abandon_messages(&mut self, keys: Vec<MessageKey>) {
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
    pub(super) fn schedule_zero_window_probe(&mut self, now: Instant) {
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

    /// A skip the receiver's state cannot account for (a corrupted stream
    /// entry) is a protocol violation: applied, it would drop later
    /// messages of the stream silently.
    pub(super) fn handle_forward_tsn(&mut self, now: Instant, f: ForwardTsn) -> Flow {
        let Some(t) = self.tracker.as_mut() else {
            return Flow::Continue;
        };
        let unreceived = t.unreceived_through(f.new_cumulative_tsn);
        let skips = f.streams().map(|s: ForwardTsnStream| (s.stream, s.ssn));
        if let Err(e) = self
            .reasm
            .handle_forward_tsn(f.new_cumulative_tsn, unreceived, skips)
        {
            self.protocol_violation(now, &e.to_string());
            return Flow::Stop;
        }
        t.handle_forward_tsn(f.new_cumulative_tsn);
        Flow::Continue
    }

    /// As [`Self::handle_forward_tsn`].
    pub(super) fn handle_iforward_tsn(&mut self, now: Instant, f: IForwardTsn) -> Flow {
        let Some(t) = self.tracker.as_mut() else {
            return Flow::Continue;
        };
        let unreceived = t.unreceived_through(f.new_cumulative_tsn);
        let skips = f
            .entries()
            .map(|e: IForwardTsnStream| (e.stream, e.unordered, e.mid));
        if let Err(e) = self
            .reasm
            .handle_iforward_tsn(f.new_cumulative_tsn, unreceived, skips)
        {
            self.protocol_violation(now, &e.to_string());
            return Flow::Stop;
        }
        t.handle_forward_tsn(f.new_cumulative_tsn);
        Flow::Continue
    }
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
