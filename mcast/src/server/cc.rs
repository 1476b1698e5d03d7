//! The group congestion window (draft §"Flow and Congestion Control of the
//! Group Path", §"Group Congestion Window"): PGMCC adapted. One member, the
//! acker, clocks a window `cwnd_g` with its MSACKs; the window itself is
//! computed by core's [`Controller`] (by default core's `Westwood`: RFC
//! 9260 §7.2's growth, a reduction to the measured bandwidth-delay product
//! and none for a loss that found no queue), the same trait the unicast
//! path uses. This module does the bookkeeping the
//! controller leaves to its sender: which group-path transmissions the
//! acker has not acknowledged (the outstanding data), Fast Recovery and its
//! exit point, the burst limit, and the acker's silence.
//!
//! MTSNs here are the sender's unwrapped `u64`s (see [`super::group`]).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use mcsctp_core::congestion::{Ack, CongestionEvent, Controller};

use super::acks::AckSet;

/// The group path's congestion state.
#[derive(Debug)]
pub(crate) struct GroupWindow {
    controller: Box<dyn Controller>,
    mtu: usize,
    /// Whether an acker is selected (the window is then clocked by it).
    clocked: bool,
    /// Group-path transmissions the acker has not acknowledged: MTSN and
    /// user-data octets.
    flight: BTreeMap<u64, usize>,
    flight_bytes: usize,
    /// Fast Recovery until the acker's cumulative ack reaches this MTSN
    /// (an anchor, draft §"Wrap-Safe Comparison of MTSNs": unwrapped).
    recovery: Option<u64>,
    /// Group packets sent since the acker's last MSACK.
    burst: u32,
    max_burst: u32,
    /// Acknowledgements an acker's MSACK stands for in slow start (its Ack
    /// Spacing): draft "in slow start cwnd_g grows by the acknowledged
    /// octets, up to Mcast.Msack.AckerPackets * MTU per MSACK".
    acker_packets: u32,
    /// Without an acker: octets sent on the group path, and when, over the
    /// last round trip (the window then limits what goes out per round
    /// trip).
    recent: VecDeque<(Instant, usize)>,
    recent_bytes: usize,
    /// Congestion events (Fast Recovery entries and acker timeouts).
    pub(crate) congestion_events: u64,
}

impl GroupWindow {
    pub(crate) fn new(
        controller: Box<dyn Controller>,
        mtu: usize,
        max_burst: u32,
        acker_packets: u32,
    ) -> Self {
        Self {
            controller,
            mtu: mtu.max(1),
            clocked: false,
            flight: BTreeMap::new(),
            flight_bytes: 0,
            recovery: None,
            burst: 0,
            max_burst: max_burst.max(1),
            acker_packets: acker_packets.max(1),
            recent: VecDeque::new(),
            recent_bytes: 0,
            congestion_events: 0,
        }
    }

    /// cwnd_g in octets of user data.
    pub(crate) fn cwnd(&self) -> usize {
        self.controller.window()
    }

    /// ssthresh_g.
    pub(crate) fn ssthresh(&self) -> usize {
        self.controller.ssthresh()
    }

    /// Octets outstanding for the acker (or sent in the last round trip
    /// without one).
    pub(crate) fn flight(&self) -> usize {
        if self.clocked {
            self.flight_bytes
        } else {
            self.recent_bytes
        }
    }

    /// Without an acker: the sends of the last round trip that aged out
    /// leave the window.
    pub(crate) fn prune_recent(&mut self, now: Instant, rtt: Duration) {
        while let Some(&(at, len)) = self.recent.front() {
            if now < at + rtt {
                break;
            }
            self.recent.pop_front();
            self.recent_bytes -= len;
        }
    }

    /// Whether the group path may carry another packet now (draft: "may
    /// transmit on the group path only while it is below cwnd_g, sends at
    /// most Mcast.CC.MaxBurst packets in response to one MSACK"). `rtt`
    /// is SRTT_g, the span of the window without an acker.
    pub(crate) fn may_send(&mut self, now: Instant, rtt: Duration) -> bool {
        if self.clocked {
            return self.flight_bytes < self.cwnd() && self.burst < self.max_burst;
        }
        self.prune_recent(now, rtt);
        self.recent_bytes < self.cwnd()
    }

    /// Without an acker, when the window opens again (the oldest send of
    /// the last round trip ages out).
    pub(crate) fn reopens_at(&self, rtt: Duration) -> Option<Instant> {
        if self.clocked || self.recent_bytes < self.cwnd() {
            return None;
        }
        self.recent.front().map(|&(at, _)| at + rtt)
    }

    /// A group packet went out.
    pub(crate) fn on_packet(&mut self) {
        self.burst = self.burst.saturating_add(1);
    }

    /// MTSN `t` of `len` octets was transmitted on the group path (a first
    /// transmission or a multicast repair); `acked` whether the acker has
    /// it already.
    pub(crate) fn on_sent(&mut self, now: Instant, t: u64, len: usize, acked: bool) {
        self.controller.on_sent(now, len);
        if !self.clocked {
            self.recent.push_back((now, len));
            self.recent_bytes += len;
        } else if !acked && self.flight.insert(t, len).is_none() {
            self.flight_bytes += len;
        }
    }

    /// A new acker (or none): the outstanding data is recomputed from its
    /// acknowledgement state (draft: "On an acker switch, cwnd_g is kept
    /// and the outstanding data is recomputed from the new acker's
    /// acknowledgement state"). `sent` lists the group-path MTSNs still
    /// held, with their octets.
    pub(crate) fn set_acker(
        &mut self,
        acks: Option<&AckSet>,
        sent: impl Iterator<Item = (u64, usize)>,
    ) {
        self.flight.clear();
        self.flight_bytes = 0;
        self.recovery = None;
        self.burst = 0;
        self.clocked = acks.is_some();
        if let Some(acks) = acks {
            for (t, len) in sent.filter(|(t, _)| !acks.has(*t)) {
                self.flight.insert(t, len);
                self.flight_bytes += len;
            }
        }
    }

    /// An MSACK from the acker, after its acknowledgement state was
    /// updated: `acks`, its `through` (Reported Through, unwrapped),
    /// `highest` the highest MTSN sent, `rtt` the sample it gave.
    pub(crate) fn on_acker_ack(
        &mut self,
        now: Instant,
        acks: &AckSet,
        through: u64,
        highest: u64,
        rtt: Option<Duration>,
        srtt: Option<Duration>,
    ) {
        let flight_before = self.flight_bytes;
        let cum = acks.cum();
        let mut acked = 0usize;
        // Everything through the cumulative ack is acknowledged.
        let rest = self.flight.split_off(&(cum + 1));
        for len in std::mem::replace(&mut self.flight, rest).into_values() {
            acked += len;
        }
        // Between the cumulative ack and Reported Through: acknowledged by
        // a gap block, or reported missing (lost: it leaves the flight, as
        // a chunk marked for retransmission does in RFC 9260 §7.2.4).
        let mut lost_after_recovery = false;
        let mut lost = 0usize;
        let beyond = self.flight.split_off(&(through.max(cum) + 1));
        for (t, len) in std::mem::replace(&mut self.flight, beyond) {
            if acks.has(t) {
                acked += len;
            } else {
                lost += len;
                lost_after_recovery |= self.recovery.is_none_or(|r| t > r);
            }
        }
        self.flight_bytes -= acked + lost;
        // RFC 9260 §7.2.4 step 4 analogue: Fast Recovery ends when the
        // cumulative ack reaches its exit point.
        if self.recovery.is_some_and(|r| cum >= r) {
            self.recovery = None;
        }
        // The MSACK stands for up to Ack Spacing acknowledgements: each
        // reported separately, so slow start grows by up to one MTU each.
        // Whether the window was fully used is decided once, for the
        // MSACK: each acknowledgement it stands for would have found the
        // window as full.
        let full = flight_before >= self.controller.window();
        let pieces = acked
            .div_ceil(self.mtu)
            .clamp(1, self.acker_packets as usize);
        for i in 0..pieces {
            let share = acked / pieces + usize::from(i < acked % pieces);
            let flight_before = if full {
                flight_before.max(self.controller.window())
            } else {
                flight_before
            };
            self.controller.on_ack(
                now,
                &Ack {
                    bytes_acked: share,
                    flight_before,
                    cum_advanced: acked > 0,
                    in_fast_recovery: self.recovery.is_some(),
                    nothing_outstanding: self.flight_bytes == 0,
                    rtt_sample: if i == 0 { rtt } else { None },
                    srtt,
                },
            );
        }
        // Draft: "When an MSACK from the acker reports missing an MTSN
        // first transmitted on the group path after the current recovery
        // point, the server sets ssthresh_g = max(cwnd_g / 2, 4 * MTU),
        // cwnd_g = ssthresh_g, and the recovery point to the highest MTSN
        // transmitted".
        if lost_after_recovery {
            self.controller
                .on_congestion_event(now, CongestionEvent::FastRetransmit);
            self.recovery = Some(highest);
            self.congestion_events += 1;
        }
        self.burst = 0;
    }

    /// The acker was silent for RTO_acker with data outstanding (draft:
    /// "ssthresh_g = max(cwnd_g / 2, 4 * MTU) and cwnd_g = MTU"); what was
    /// outstanding is presumed lost.
    pub(crate) fn on_acker_timeout(&mut self, now: Instant) {
        self.controller
            .on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        self.flight.clear();
        self.flight_bytes = 0;
        self.recovery = None;
        self.burst = 0;
        self.congestion_events += 1;
    }

    /// MTSNs through `mctsn` were released (every active member, the acker
    /// included, has them).
    pub(crate) fn released_through(&mut self, mctsn: u64) {
        if self
            .flight
            .first_key_value()
            .is_some_and(|(t, _)| *t <= mctsn)
        {
            let rest = self.flight.split_off(&(mctsn + 1));
            for len in std::mem::replace(&mut self.flight, rest).into_values() {
                self.flight_bytes -= len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcsctp_core::congestion::{ControllerFactory, Rfc9260RenoConfig};

    #[allow(clippy::disallowed_methods)] // an arbitrary origin; time is driven
    fn window() -> (GroupWindow, Instant) {
        let now = Instant::now();
        let c = Rfc9260RenoConfig::default().build(now, 1200, 1 << 20);
        (GroupWindow::new(c, 1200, 8, 2), now)
    }

    #[test]
    fn the_acker_clocks_the_window_and_a_loss_halves_it_once_per_recovery() {
        let (mut w, now) = window();
        let mut acks = AckSet::new(99);
        w.set_acker(Some(&acks), std::iter::empty());
        let initial = w.cwnd();
        // RFC 9260 §7.2.1: min(4 * MTU, max(2 * MTU, 4404)).
        assert_eq!(initial, 4404);
        // Four full chunks fill the window (one may exceed it).
        for t in 100..104 {
            assert!(w.may_send(now, Duration::from_millis(1)));
            w.on_sent(now, t, 1200, false);
            w.on_packet();
        }
        assert!(!w.may_send(now, Duration::from_millis(1)));
        // The acker acknowledges two: slow start, up to two MTUs.
        acks.ack_through(101);
        w.on_acker_ack(now, &acks, 101, 103, None, None);
        assert_eq!(w.flight(), 2400);
        assert_eq!(w.cwnd(), initial + 2400);
        // It reports 102 missing, 103 received: one reduction.
        acks.ack_range(103, 103);
        w.on_acker_ack(now, &acks, 103, 110, None, None);
        assert_eq!(w.flight(), 0);
        let reduced = w.cwnd();
        assert_eq!(reduced, ((initial + 2400) / 2).max(4800));
        assert_eq!(w.congestion_events, 1);
        // Another loss before the recovery point (110): no second cut.
        for t in 104..108 {
            w.on_sent(now, t, 1100, false);
        }
        acks.ack_range(105, 107);
        w.on_acker_ack(now, &acks, 107, 110, None, None);
        assert_eq!(w.congestion_events, 1);
        assert_eq!(w.cwnd(), reduced);
    }

    #[test]
    fn the_burst_limit_holds_until_the_next_msack_and_silence_collapses_the_window() {
        let (mut w, now) = window();
        let acks = AckSet::new(0);
        w.set_acker(Some(&acks), [(1, 100), (2, 100)].into_iter());
        assert_eq!(w.flight(), 200);
        for _ in 0..8 {
            assert!(w.may_send(now, Duration::ZERO));
            w.on_packet();
        }
        assert!(!w.may_send(now, Duration::ZERO), "eight packets per MSACK");
        w.on_acker_ack(now, &acks, 0, 2, None, None);
        assert!(w.may_send(now, Duration::ZERO));
        w.on_acker_timeout(now);
        assert_eq!((w.cwnd(), w.flight()), (1200, 0));
    }

    #[test]
    fn without_an_acker_the_window_limits_each_round_trip() {
        let (mut w, now) = window();
        let rtt = Duration::from_millis(1);
        let mut t = 0;
        while w.may_send(now, rtt) {
            w.on_sent(now, t, 1000, false);
            t += 1;
        }
        assert_eq!(t, 5, "4404 octets of window: five 1000-octet sends");
        assert_eq!(w.reopens_at(rtt), Some(now + rtt));
        assert!(w.may_send(now + rtt, rtt));
    }
}
