//! Graceful shutdown (RFC 9260 §9.2,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-9.2>): SHUTDOWN,
//! SHUTDOWN ACK and the states between them.

use super::*;

impl Association {
    pub(super) fn handle_shutdown(&mut self, now: Instant, cum_ack: Tsn) {
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

    pub(super) fn handle_shutdown_ack(&mut self, now: Instant) {
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

    /// RFC 9260 §9.2: INIT in SHUTDOWN-ACK-SENT: resend the SHUTDOWN ACK.
    pub(crate) fn resend_shutdown_ack(&mut self) {
        if let State::ShutdownAckSent { send, .. } = &mut self.state {
            *send = true;
        }
    }

    /// Moves the graceful shutdown along once all data is acknowledged
    /// (RFC 9260 §9.2).
    pub(super) fn progress_shutdown(&mut self, now: Instant) {
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

    pub(super) fn enter_shutdown_ack_sent(&mut self, now: Instant) {
        self.state = State::ShutdownAckSent {
            t2_shutdown: Timer {
                deadline: now + self.rto.rto(),
                count: 0,
            },
            send: true,
        };
    }
}
