//! Time-based loss detection (RACK) and tail loss probes (TLP), after
//! RFC 8985 (<https://www.rfc-editor.org/rfc/rfc8985>), for SCTP's TSNs.
//!
//! RFC 9260's loss detection is the three-miss-indication rule of §7.2.4,
//! and its only other repair is T3-rtx, at RTO.Min = 1 s or more. Two
//! kinds of loss never collect three miss indications:
//!
//! - a lost **fast retransmission**: §7.2.4 step 5 makes the chunk
//!   "ineligible for a subsequent Fast Retransmit", so it waits for T3;
//! - losses at the **tail** of a burst: no later data produces the SACKs
//!   that would report them.
//!
//! On a data-centre path one T3 is a silence of thousands of round trips.
//! RFC 8985 solves both for TCP, and its rules carry over to SCTP with the
//! TSN in place of the sequence number:
//!
//! - **RACK** (§6): "a packet is lost if some packet sent sufficiently
//!   later has been delivered". The retransmission queue remembers, for
//!   the chunk most recently *sent* among those acknowledged (cumulatively
//!   or by a gap block), its send time; a chunk still outstanding that was
//!   sent before it is lost once it stays unacknowledged for `RACK.rtt +
//!   reo_wnd` after it was sent. A retransmission gets a new send time,
//!   so a lost retransmission is detected like any other loss.
//! - **TLP** (§7): when no SACK arrives for two smoothed round trips while
//!   data is outstanding, the sender retransmits the highest outstanding
//!   chunk once (a probe), without touching cwnd; the SACK it elicits
//!   lets RACK find the rest.
//!
//! RACK here adds to §7.2.4, it does not replace it: three miss
//! indications still mark a chunk (RFC 9260's SHOULD), and RACK may mark
//! it earlier or mark what §7.2.4 never will. Every mark enters Fast
//! Recovery as §7.2.4 step 2 says; a TLP probe does not (RFC 8985 §7.4's
//! cwnd reduction after a probe repaired a loss is not implemented: the
//! probe is one packet). T3-rtx stays the safety net.

use core::time::Duration;
use std::time::Instant;

/// RFC 8985 §6.2 step 4: DSACK rounds after which reo_wnd decays back.
const REO_WND_PERSIST: u32 = 16;

/// RACK state of one destination (RFC 8985 §6.1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Rack {
    /// RACK.xmit_ts and RACK.end_seq: send time and transmission number
    /// ([`Xmit`]) of the most recently sent chunk that was acknowledged.
    newest: Option<(Instant, Xmit)>,
    /// RACK.rtt: the RTT measured on that chunk.
    rtt: Duration,
    /// The smallest RTT seen on a chunk sent once.
    min_rtt: Option<Duration>,
    /// Whether a chunk was ever acknowledged after one sent later than it,
    /// without having been retransmitted: reordering on the path.
    reordering_seen: bool,
    /// RACK.reo_wnd_mult (§6.2 step 4), grown by duplicate TSN reports.
    reo_wnd_mult: u32,
    /// RACK.reo_wnd_persist.
    reo_wnd_persist: u32,
    /// RACK.advanced: `newest` moved since the last detection pass.
    advanced: bool,
}

impl Rack {
    /// §6.2 steps 1-3 for one chunk newly acknowledged at `now`, sent at
    /// `sent_at` (its latest transmission), `transmissions` times.
    ///
    /// Step 2 skips an acknowledgement that "could be for the original
    /// transmission" of a retransmitted segment; TCP tells them apart with
    /// timestamps, SCTP cannot, and an RTT longer than the minimum does not
    /// prove the ack was for the retransmission (a queue may hold the first
    /// copy that long). Taken as proof, one spurious retransmission makes
    /// every chunk queued behind it look lost. So only chunks sent once
    /// move RACK, as Karn's rule keeps them out of the RTO (RFC 9260
    /// §6.3.1 C5); a lost retransmission is still found once a chunk sent
    /// after it is acknowledged, or by the tail loss probe.
    pub(crate) fn on_acked(
        &mut self,
        now: Instant,
        sent_at: Instant,
        xmit: Xmit,
        transmissions: u32,
    ) {
        if transmissions != 1 {
            return;
        }
        let rtt = now.saturating_duration_since(sent_at);
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        match self.newest {
            Some((_, n)) if xmit < n => {
                // Acknowledged after a chunk sent later than it, never
                // retransmitted: the path reorders (§6.2 step 3's
                // RACK.reordering_seen).
                self.reordering_seen = true;
            }
            _ => {
                self.newest = Some((sent_at, xmit));
                self.rtt = rtt;
                self.advanced = true;
            }
        }
    }

    /// §6.2 step 4: the peer reported a duplicate TSN (SCTP's DSACK).
    pub(crate) fn on_duplicate_reported(&mut self) {
        self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1).min(64);
        self.reo_wnd_persist = REO_WND_PERSIST;
    }

    /// §6.2 step 4: a loss recovery ended.
    pub(crate) fn on_recovery_exit(&mut self) {
        if self.reo_wnd_persist > 0 {
            self.reo_wnd_persist -= 1;
            if self.reo_wnd_persist == 0 {
                self.reo_wnd_mult = 0;
            }
        }
    }

    /// RACK.reo_wnd (§6.2 step 5, with the aggressive setting of Linux's
    /// implementation): 0 in Fast Recovery on a path that never reordered,
    /// otherwise `min(mult * min_rtt / 4, srtt)`, mult starting at 1.
    pub(crate) fn reo_wnd(&self, in_recovery: bool, srtt: Option<Duration>) -> Duration {
        if in_recovery && !self.reordering_seen {
            return Duration::ZERO;
        }
        let Some(min_rtt) = self.min_rtt else {
            return Duration::ZERO;
        };
        let w = (min_rtt / 4).saturating_mul(self.reo_wnd_mult.max(1));
        srtt.map_or(w, |s| w.min(s))
    }

    /// Whether detection has something new to look at, clearing the flag.
    pub(crate) fn take_advanced(&mut self) -> bool {
        core::mem::take(&mut self.advanced)
    }

    /// §6.2 step 5 for one outstanding chunk: `Some(deadline)` if it was
    /// sent before the newest acknowledged chunk (lost once `now` reaches
    /// the deadline), `None` if RACK cannot judge it yet.
    pub(crate) fn deadline(
        &self,
        sent_at: Instant,
        xmit: Xmit,
        reo_wnd: Duration,
    ) -> Option<Instant> {
        let (_, n) = self.newest?;
        (xmit < n).then(|| sent_at + self.rtt + reo_wnd)
    }

    /// The transmission number of the newest acknowledged chunk, if any.
    #[cfg(test)]
    fn newest_xmit(&self) -> Option<Xmit> {
        self.newest.map(|(_, n)| n)
    }

    /// The smallest RTT measured.
    #[cfg(test)]
    fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }
}

/// The order in which chunks went onto the wire: every transmission and
/// retransmission takes the next number. RFC 8985 §6.2's
/// `RACK_sent_after` compares send times and breaks ties by sequence
/// number; a sans-IO sender builds many packets at one instant, and the
/// retransmission of a low TSN may follow new data sent at the same
/// instant, so a number, not the clock or the TSN, orders them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Xmit(pub(crate) u64);

/// The probe timeout of RFC 8985 §7.2: `2 * SRTT`, plus the peer's
/// delayed-SACK allowance when a single packet is outstanding (its SACK
/// may legitimately wait for it), never below `floor`.
pub(crate) fn probe_timeout(
    srtt: Duration,
    one_packet_outstanding: bool,
    peer_sack_delay: Duration,
    floor: Duration,
) -> Duration {
    let mut pto = srtt.saturating_mul(2);
    if one_packet_outstanding {
        pto = pto.saturating_add(peer_sack_delay);
    }
    pto.max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[allow(clippy::disallowed_methods)] // tests need some Instant
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn a_chunk_sent_before_the_newest_acked_one_is_lost_after_rtt_plus_reo_wnd() {
        let t = t0();
        let mut r = Rack::default();
        // TSN 5 sent at t+1, acked at t+11: RACK.rtt = 10 ms.
        r.on_acked(t + ms(11), t + ms(1), Xmit(5), 1);
        assert!(r.take_advanced());
        let reo = r.reo_wnd(false, Some(ms(10)));
        assert_eq!(reo, ms(10) / 4);
        // TSN 4 sent at t: lost at t + 10 ms + reo_wnd.
        assert_eq!(r.deadline(t, Xmit(4), reo), Some(t + ms(10) + reo));
        // TSN 6, sent later than TSN 5, cannot be judged.
        assert_eq!(r.deadline(t + ms(2), Xmit(6), reo), None);
        // Same instant: the transmission number decides.
        assert!(r.deadline(t + ms(1), Xmit(3), reo).is_some());
        assert!(r.deadline(t + ms(1), Xmit(7), reo).is_none());
    }

    #[test]
    fn a_retransmission_sent_after_the_newest_ack_is_judged_by_later_acks() {
        let t = t0();
        let mut r = Rack::default();
        r.on_acked(t + ms(10), t, Xmit(2), 1);
        // A chunk first sent as transmission 1 was retransmitted at t+20 as
        // transmission 3: RACK cannot judge it against transmission 2 ...
        assert_eq!(r.deadline(t + ms(20), Xmit(3), Duration::ZERO), None);
        // ... until a chunk sent after the retransmission is acknowledged.
        r.on_acked(t + ms(31), t + ms(21), Xmit(9), 1);
        assert_eq!(
            r.deadline(t + ms(20), Xmit(3), Duration::ZERO),
            Some(t + ms(30))
        );
    }

    #[test]
    fn acks_of_retransmitted_chunks_do_not_move_rack() {
        let t = t0();
        let mut r = Rack::default();
        r.on_acked(t + ms(10), t, Xmit(1), 1);
        // TSN 2 retransmitted at t+15 and acknowledged 5 ms later: the ack
        // may be for its first copy, still queued somewhere.
        r.on_acked(t + ms(20), t + ms(15), Xmit(2), 2);
        assert_eq!(r.newest_xmit(), Some(Xmit(1)));
    }

    #[test]
    fn reordering_and_duplicates_widen_the_window_and_it_decays() {
        let t = t0();
        let mut r = Rack::default();
        r.on_acked(t + ms(8), t + ms(4), Xmit(5), 1);
        assert_eq!(r.min_rtt(), Some(ms(4)));
        // No reordering seen: zero window in recovery.
        assert_eq!(r.reo_wnd(true, Some(ms(8))), Duration::ZERO);
        // TSN 3, sent before 5, acknowledged after it: reordering.
        r.on_acked(t + ms(9), t + ms(3), Xmit(3), 1);
        assert_eq!(r.reo_wnd(true, Some(ms(8))), ms(1));
        r.on_duplicate_reported();
        r.on_duplicate_reported();
        assert_eq!(r.reo_wnd(false, Some(ms(8))), ms(2));
        // Capped at SRTT.
        assert_eq!(r.reo_wnd(false, Some(ms(1))), ms(1));
        for _ in 0..REO_WND_PERSIST {
            r.on_recovery_exit();
        }
        assert_eq!(r.reo_wnd(false, Some(ms(8))), ms(1));
    }

    #[test]
    fn probe_timeout_is_two_srtt_plus_the_sack_delay_for_a_lone_packet() {
        assert_eq!(probe_timeout(ms(5), false, ms(200), ms(1)), ms(10));
        assert_eq!(probe_timeout(ms(5), true, ms(200), ms(1)), ms(210));
        assert_eq!(
            probe_timeout(Duration::from_micros(50), false, ms(200), ms(1)),
            ms(1)
        );
    }
}
