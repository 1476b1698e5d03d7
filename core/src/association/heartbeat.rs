//! Failure detection and heartbeats (RFC 9260 §8.1-§8.3,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-8>): the error counter,
//! path reachability, HEARTBEAT timing and HEARTBEAT ACK.

use super::*;

impl Association {
    pub(super) fn note_peer_alive(&mut self) {
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
    pub(super) fn note_timeout(&mut self, now: Instant) -> bool {
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

    pub(super) fn handle_heartbeat_ack(&mut self, now: Instant, info: &HeartbeatInfo) {
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

    pub(super) fn schedule_heartbeat(&mut self, now: Instant) {
        // RFC 9260 §8.3: "HB.interval + RTO" after the path went idle.
        self.heartbeat.next = self
            .config
            .heartbeat_interval
            .map(|i| now + i + self.rto.rto());
    }

    pub(super) fn handle_heartbeat_timers(&mut self, now: Instant) {
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
    pub(super) fn path_active(&mut self, now: Instant) {
        if self.heartbeat.outstanding.is_none() {
            self.schedule_heartbeat(now);
        }
    }
}
