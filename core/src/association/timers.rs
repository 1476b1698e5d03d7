//! The association's timers: when the next one is due, and what each does
//! when it fires (T1-init, T1-cookie, T2-shutdown, T5 guard, T3-rtx,
//! RACK's reordering timer and the tail loss probe, delayed SACK,
//! reassembly and send-queue lifetimes, heartbeats).

use super::*;

impl Association {
    // ----- timers --------------------------------------------------------
    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has work.
    pub(crate) fn poll_timeout(&self, ext: &dyn Extension) -> Option<Instant> {
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
            add(ext.association_timeout(self.handle));
        }
        t
    }

    /// Handles every timer due at `now`. Calling it early is harmless.
    pub(crate) fn handle_timeout(&mut self, now: Instant, ext: &mut dyn Extension) {
        self.handle_state_timers(now);
        if matches!(self.state, State::Closed) || self.ext_abort(now) {
            return;
        }
        if self.state.is_established_or_later()
            && ext
                .association_timeout(self.handle)
                .is_some_and(|d| d <= now)
        {
            ext.handle_association_timeout(&mut ext_cx!(self, now, false));
            if self.ext_abort(now) {
                return;
            }
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

    pub(super) fn handle_state_timers(&mut self, now: Instant) {
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
}
