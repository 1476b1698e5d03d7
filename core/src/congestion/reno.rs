//! RFC 9260 §7.2's congestion control: SCTP's byte-counting Reno
//! (<https://www.rfc-editor.org/rfc/rfc9260#section-7.2>).

use core::any::Any;
use std::time::{Duration, Instant};

use super::{Ack, CongestionEvent, Controller, ControllerFactory};

/// The most halvings one idle period applies (the window reaches its
/// floor long before).
const MAX_IDLE_HALVINGS: u128 = 64;

/// Parameters of [`Rfc9260Reno`]; the [`ControllerFactory`] that
/// [`AssociationConfig::congestion`](crate::config::AssociationConfig::congestion)
/// holds by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rfc9260RenoConfig {
    /// Initial cwnd in bytes; `None` is RFC 9260 §7.2.1's
    /// `min(4*MTU, max(2*MTU, 4404))`.
    pub initial_window: Option<usize>,
    /// Apply §7.2.1's "When the endpoint does not transmit data on a given
    /// transport address, the cwnd of the transport address SHOULD be
    /// adjusted to max(cwnd/2, 4*MTU) per RTO" (see
    /// [`Controller::on_idle`]). Off by default: mcsctp has not applied it
    /// so far, and the default keeps that behaviour.
    pub idle_decay: bool,
}

impl ControllerFactory for Rfc9260RenoConfig {
    fn build(&self, _now: Instant, mtu: usize, receive_window: usize) -> Box<dyn Controller> {
        Box::new(Rfc9260Reno::new(self, mtu, receive_window))
    }
}

/// RFC 9260 §7.2: slow start (§7.2.1), congestion avoidance with
/// partial_bytes_acked (§7.2.2) and the window reductions of §7.2.3 on
/// Fast Recovery entry (§7.2.4) and on T3-rtx expiry.
///
/// Unlike TCP's Reno it counts bytes, not acknowledgements: slow start
/// grows cwnd by at most one MTU per acknowledgement, congestion avoidance
/// by one MTU per cwnd of acknowledged data, and only while the window is
/// fully used. Fast Recovery does not inflate cwnd; while in it cwnd does
/// not grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfc9260Reno {
    mtu: usize,
    cwnd: usize,
    ssthresh: usize,
    partial_bytes_acked: usize,
    initial_window: usize,
    idle_decay: bool,
}

impl Rfc9260Reno {
    /// A controller for a path with MTU `mtu` towards a receiver that
    /// advertised `receive_window` bytes.
    pub fn new(config: &Rfc9260RenoConfig, mtu: usize, receive_window: usize) -> Self {
        let mtu = mtu.max(1);
        // §7.2.1: "The initial cwnd before data transmission MUST be set to
        // min(4 * MTU, max(2 * MTU, 4404))." (RFC 4960 had 4380, three TCP
        // segments; 4404 is three SCTP payloads of a 1500-byte IPv4
        // packet.)
        let cwnd = config
            .initial_window
            .unwrap_or_else(|| mtu.saturating_mul(4).min(mtu.saturating_mul(2).max(4404)));
        Self {
            mtu,
            cwnd,
            // §7.2.1: "The initial value of ssthresh SHOULD be arbitrarily
            // high (e.g., the size of the largest possible advertised
            // window)." We take the receiver's advertised window.
            ssthresh: receive_window,
            partial_bytes_acked: 0,
            initial_window: cwnd,
            idle_decay: config.idle_decay,
        }
    }

    /// partial_bytes_acked (§7.2.2).
    pub fn partial_bytes_acked(&self) -> usize {
        self.partial_bytes_acked
    }

    /// Sets cwnd and ssthresh (for a controller built on this one that
    /// reduces differently, [`super::Westwood`]).
    pub(crate) fn set_window(&mut self, cwnd: usize, ssthresh: usize) {
        self.cwnd = cwnd.max(1);
        self.ssthresh = ssthresh;
        self.partial_bytes_acked = 0;
    }

    /// §7.2.3's ssthresh: `max(cwnd/2, 4*MTU)`.
    fn reduced(&self) -> usize {
        (self.cwnd / 2).max(self.mtu.saturating_mul(4))
    }
}

impl Controller for Rfc9260Reno {
    fn on_ack(&mut self, _now: Instant, ack: &Ack) {
        if ack.bytes_acked > 0 {
            if self.cwnd <= self.ssthresh {
                // §7.2.1: "When cwnd is less than or equal to ssthresh, an
                // SCTP endpoint MUST use the slow-start algorithm to
                // increase cwnd only if the current congestion window is
                // being fully utilized and the data sender is not in Fast
                // Recovery. Only when these two conditions are met can the
                // cwnd be increased; otherwise, the cwnd MUST NOT be
                // increased. If these conditions are met, then cwnd MUST be
                // increased by, at most, the lesser of 1) the total size of
                // the previously outstanding DATA chunk(s) acknowledged, and
                // 2) the destination's path MTU."
                if ack.flight_before >= self.cwnd && !ack.in_fast_recovery {
                    self.cwnd = self.cwnd.saturating_add(ack.bytes_acked.min(self.mtu));
                }
            } else {
                // §7.2.2: "Whenever cwnd is greater than ssthresh, upon each
                // SACK arrival, increase partial_bytes_acked by the total
                // number of bytes of all new chunks acknowledged in that
                // SACK, including chunks acknowledged by the new Cumulative
                // TSN Ack and by Gap Ack Blocks."
                self.partial_bytes_acked = self.partial_bytes_acked.saturating_add(ack.bytes_acked);
                if self.partial_bytes_acked >= self.cwnd {
                    if ack.flight_before >= self.cwnd {
                        // "When partial_bytes_acked is greater than or equal
                        // to cwnd and before the arrival of the SACK the
                        // sender had cwnd or more bytes of data outstanding
                        // [...], partial_bytes_acked is reset to
                        // (partial_bytes_acked - cwnd). Next, cwnd is
                        // increased by MTU."
                        self.partial_bytes_acked -= self.cwnd;
                        self.cwnd = self.cwnd.saturating_add(self.mtu);
                    } else {
                        // "[...] had less than cwnd bytes of data
                        // outstanding [...], reset partial_bytes_acked to
                        // cwnd."
                        self.partial_bytes_acked = self.cwnd;
                    }
                }
            }
        }
        // §7.2.2: "When all of the data transmitted by the sender has been
        // acknowledged by the receiver, partial_bytes_acked is initialized
        // to 0."
        if ack.nothing_outstanding {
            self.partial_bytes_acked = 0;
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, event: CongestionEvent) {
        match event {
            // §7.2.4 step 2 with §7.2.3: "ssthresh = max(cwnd/2, 4*MTU),
            // cwnd = ssthresh, partial_bytes_acked = 0".
            CongestionEvent::FastRetransmit => {
                self.ssthresh = self.reduced();
                self.cwnd = self.ssthresh;
            }
            // §7.2.3: "When the T3-rtx timer expires on an address, SCTP
            // SHOULD perform slow start by: ssthresh = max(cwnd/2, 4*MTU),
            // cwnd = 1*MTU, partial_bytes_acked = 0".
            CongestionEvent::RetransmissionTimeout => {
                self.ssthresh = self.reduced();
                self.cwnd = self.mtu;
            }
        }
        self.partial_bytes_acked = 0;
    }

    /// §7.2.1, with [`Rfc9260RenoConfig::idle_decay`]: `max(cwnd/2,
    /// 4*MTU)` once per whole `rto` in `idle`. A window already below
    /// 4*MTU (after a T3-rtx expiry) is left as it is: the rule is a
    /// decay, not a reason to send more after a silence.
    fn on_idle(&mut self, _now: Instant, idle: Duration, rto: Duration) {
        if !self.idle_decay {
            return;
        }
        let periods = idle.as_nanos() / rto.as_nanos().max(1);
        for _ in 0..periods.min(MAX_IDLE_HALVINGS) {
            let decayed = self.reduced();
            if decayed >= self.cwnd {
                break;
            }
            self.cwnd = decayed;
        }
    }

    fn on_mtu_update(&mut self, mtu: usize) {
        self.mtu = mtu.max(1);
    }

    fn window(&self) -> usize {
        self.cwnd
    }

    fn ssthresh(&self) -> usize {
        self.ssthresh
    }

    fn initial_window(&self) -> usize {
        self.initial_window
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MTU: usize = 1000;

    #[allow(clippy::disallowed_methods)] // tests need some Instant
    fn t0() -> Instant {
        Instant::now()
    }

    fn reno(receive_window: usize) -> Rfc9260Reno {
        Rfc9260Reno::new(&Rfc9260RenoConfig::default(), MTU, receive_window)
    }

    fn ack(bytes_acked: usize, flight_before: usize) -> Ack {
        Ack {
            bytes_acked,
            flight_before,
            cum_advanced: true,
            ..Ack::default()
        }
    }

    #[test]
    fn initial_window_and_ssthresh_follow_7_2_1() {
        let mk = |mtu| Rfc9260Reno::new(&Rfc9260RenoConfig::default(), mtu, 1 << 20);
        assert_eq!(mk(1000).window(), 4000);
        assert_eq!(mk(1500).window(), 4404);
        assert_eq!(mk(2000).window(), 4404);
        assert_eq!(mk(9000).window(), 18_000);
        assert_eq!(mk(0).window(), 4, "an MTU of 0 is taken as 1");
        let r = mk(1500);
        assert_eq!((r.initial_window(), r.ssthresh()), (4404, 1 << 20));
        let cfg = Rfc9260RenoConfig {
            initial_window: Some(12_345),
            ..Rfc9260RenoConfig::default()
        };
        let r = cfg.build(t0(), 1500, 77);
        assert_eq!(
            (r.window(), r.initial_window(), r.ssthresh()),
            (12_345, 12_345, 77)
        );
    }

    #[test]
    fn slow_start_grows_by_at_most_one_mtu_per_ack_when_the_window_is_full() {
        let now = t0();
        let mut r = reno(1 << 20);
        // Fully used: + min(bytes acknowledged, MTU).
        r.on_ack(now, &ack(600, 4000));
        assert_eq!(r.window(), 4600);
        r.on_ack(now, &ack(3000, 4600));
        assert_eq!(r.window(), 5600);
        // Not fully used: no growth.
        r.on_ack(now, &ack(1000, 5599));
        assert_eq!(r.window(), 5600);
        // In Fast Recovery: no growth.
        r.on_ack(
            now,
            &Ack {
                in_fast_recovery: true,
                ..ack(1000, 9000)
            },
        );
        assert_eq!(r.window(), 5600);
        // Acknowledging nothing changes nothing.
        r.on_ack(now, &ack(0, 9000));
        assert_eq!(r.window(), 5600);
        // Growth without a cumulative advance (gap-acknowledged bytes).
        r.on_ack(
            now,
            &Ack {
                cum_advanced: false,
                ..ack(1000, 5600)
            },
        );
        assert_eq!(r.window(), 6600);
        assert_eq!(r.partial_bytes_acked(), 0);
    }

    #[test]
    fn cwnd_equal_to_ssthresh_is_still_slow_start() {
        let now = t0();
        let mut r = reno(4000);
        assert_eq!(r.window(), 4000);
        r.on_ack(now, &ack(1000, 4000));
        assert_eq!((r.window(), r.partial_bytes_acked()), (5000, 0));
    }

    #[test]
    fn congestion_avoidance_adds_one_mtu_per_window_of_acknowledged_bytes() {
        let now = t0();
        let mut r = reno(4000);
        r.on_ack(now, &ack(1000, 4000));
        assert_eq!(r.window(), 5000);
        // cwnd > ssthresh: partial_bytes_acked collects.
        r.on_ack(now, &ack(3000, 5000));
        assert_eq!((r.window(), r.partial_bytes_acked()), (5000, 3000));
        // Reaches cwnd with the window full: cwnd += MTU, pba -= cwnd.
        r.on_ack(now, &ack(2500, 5000));
        assert_eq!((r.window(), r.partial_bytes_acked()), (6000, 500));
        // Reaches cwnd with the window not full: pba = cwnd, no growth.
        r.on_ack(now, &ack(6000, 5999));
        assert_eq!((r.window(), r.partial_bytes_acked()), (6000, 6000));
        // The next acknowledgement with a full window grows it.
        r.on_ack(now, &ack(1, 6000));
        assert_eq!((r.window(), r.partial_bytes_acked()), (7000, 1));
        // Everything acknowledged: pba back to 0.
        r.on_ack(
            now,
            &Ack {
                nothing_outstanding: true,
                ..ack(100, 100)
            },
        );
        assert_eq!((r.window(), r.partial_bytes_acked()), (7000, 0));
    }

    #[test]
    fn fast_retransmit_halves_and_timeout_collapses_to_one_mtu() {
        let now = t0();
        let mut r = reno(1 << 20);
        for _ in 0..5 {
            let w = r.window();
            r.on_ack(now, &ack(MTU, w));
        }
        assert_eq!(r.window(), 9000);
        r.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!(
            (r.window(), r.ssthresh(), r.partial_bytes_acked()),
            (4500, 4500, 0)
        );
        // A small window halves to the 4*MTU floor.
        r.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!((r.window(), r.ssthresh()), (4000, 4000));
        r.on_ack(now, &ack(MTU, 4000));
        r.on_ack(now, &ack(700, 5000));
        assert_eq!((r.window(), r.partial_bytes_acked()), (5000, 700));
        r.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        assert_eq!(
            (r.window(), r.ssthresh(), r.partial_bytes_acked()),
            (1000, 4000, 0)
        );
        // Slow start from 1 MTU again.
        r.on_ack(now, &ack(MTU, 1000));
        assert_eq!(r.window(), 2000);
    }

    #[test]
    fn idle_decay_is_off_by_default_and_halves_per_rto_when_on() {
        let now = t0();
        let rto = Duration::from_secs(1);
        let mut r = reno(1 << 20);
        for _ in 0..12 {
            let w = r.window();
            r.on_ack(now, &ack(MTU, w));
        }
        assert_eq!(r.window(), 16_000);
        r.on_idle(now, 10 * rto, rto);
        assert_eq!(r.window(), 16_000, "off by default");

        let cfg = Rfc9260RenoConfig {
            idle_decay: true,
            ..Rfc9260RenoConfig::default()
        };
        let mut r = Rfc9260Reno::new(&cfg, MTU, 1 << 20);
        for _ in 0..12 {
            let w = r.window();
            r.on_ack(now, &ack(MTU, w));
        }
        r.on_idle(now, rto / 2, rto);
        assert_eq!(r.window(), 16_000, "less than one RTO");
        r.on_idle(now, rto + rto / 2, rto);
        assert_eq!(r.window(), 8000, "one RTO: one halving");
        r.on_idle(now, 3 * rto, rto);
        assert_eq!(r.window(), 4000, "floor 4*MTU");
        r.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        r.on_idle(now, 5 * rto, rto);
        assert_eq!(r.window(), 1000, "never raised");
        r.on_idle(now, Duration::MAX, Duration::ZERO);
        assert_eq!(r.window(), 1000, "any input");
    }

    #[test]
    fn mtu_update_moves_the_floors() {
        let now = t0();
        let mut r = reno(1 << 20);
        r.on_mtu_update(0);
        r.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        assert_eq!((r.window(), r.ssthresh()), (1, 2000));
        r.on_mtu_update(1500);
        r.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!((r.window(), r.ssthresh()), (6000, 6000));
        r.on_ack(now, &ack(5000, 6000));
        assert_eq!(r.window(), 7500);
    }

    #[test]
    fn extreme_values_never_overflow() {
        let now = t0();
        let cfg = Rfc9260RenoConfig {
            initial_window: Some(usize::MAX),
            ..Rfc9260RenoConfig::default()
        };
        let mut r = Rfc9260Reno::new(&cfg, usize::MAX, usize::MAX);
        r.on_ack(now, &ack(usize::MAX, usize::MAX));
        assert_eq!(r.window(), usize::MAX);
        let mut r = Rfc9260Reno::new(&cfg, usize::MAX, 0);
        r.on_ack(now, &ack(usize::MAX, usize::MAX));
        r.on_ack(now, &ack(usize::MAX, 0));
        r.on_congestion_event(now, CongestionEvent::FastRetransmit);
        r.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        assert_eq!(r.window(), usize::MAX);
        let c = r.clone_box();
        assert_eq!(c.window(), r.window());
        assert!(c.as_any().downcast_ref::<Rfc9260Reno>().is_some());
    }
}
