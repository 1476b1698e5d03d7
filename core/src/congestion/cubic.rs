//! CUBIC (RFC 9438, <https://www.rfc-editor.org/rfc/rfc9438>) on SCTP's
//! byte-counting window.
//!
//! CUBIC replaces RFC 9260 §7.2.2's linear congestion avoidance with a
//! window that follows a cubic function of the time since the last
//! reduction, and reduces the window by β_cubic = 0.7 instead of 1/2.
//! Everything else is SCTP's, as in [`Rfc9260Reno`](super::Rfc9260Reno):
//! the initial window and slow start of RFC 9260 §7.2.1 (RFC 9438 §4.10
//! leaves the slow-start algorithm open), no growth during Fast Recovery,
//! cwnd = 1 MTU after T3-rtx (§7.2.3, as RFC 9438 §4.8 "follows Reno").
//!
//! Where this adaptation chooses:
//!
//! - SMSS, the unit of RFC 9438's formulas, is the path MTU, the unit of
//!   RFC 9260's increments; windows are in bytes, so `C` is applied as
//!   `C × MTU` bytes per s³.
//! - ssthresh never goes below RFC 9260 §7.2.3's `4 × MTU` (RFC 9438 §4.6
//!   has a floor of 2 segments on cwnd).
//! - When a congestion avoidance stage starts at or above `W_max` (the
//!   first one after slow start, or one whose start the 4 × MTU floor
//!   lifted), `W_max` is taken as that window and `K = 0`, as RFC 9438
//!   §4.8 does after a timeout (and Linux in all these cases).
//! - §4.4 and §4.5 increment cwnd by `(target − cwnd) / cwnd` "for each
//!   received new ACK"; here the increment is per segment's worth of
//!   bytes acknowledged, `(target − cwnd) × bytes_acked / cwnd`, as SCTP
//!   counts bytes (RFC 9260 §7.2) and one SACK usually covers two
//!   packets. Linux counts acknowledged segments the same way.
//! - §5.8: "CUBIC does not increase its congestion window if a flow is
//!   application limited. Per Section 4.2, it is required that t in
//!   Figure 1 not include application-limited periods, such as idle
//!   periods". The window grows only on acknowledgements that found it
//!   fully used (RFC 9260's own condition); `t` stands still between
//!   acknowledgements that did not, and over an idle period reported by
//!   [`Controller::on_idle`].
//! - Not implemented: HyStart++ (RFC 9438 §4.10 allows RFC 9260's slow
//!   start), undoing spurious reductions (§4.9).

use core::any::Any;
use std::time::{Duration, Instant};

use super::{Ack, CongestionEvent, Controller, ControllerFactory};

/// RFC 9438 §5.1: "C SHOULD be set to 0.4" (segments per s³).
pub const C: f64 = 0.4;
/// RFC 9438 §4.6: β_cubic, the multiplicative decrease factor, 0.7.
pub const BETA_CUBIC: f64 = 0.7;
/// RFC 9438 §4.3: `α_cubic = 3 × (1 − β_cubic) / (1 + β_cubic)`, the
/// additive increase (segments per RTT) of the Reno-friendly estimate.
pub const ALPHA_CUBIC: f64 = 3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC);

/// Parameters of [`Cubic`], selected with
/// `AssociationConfig::congestion = Arc::new(CubicConfig::default())`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CubicConfig {
    /// Initial cwnd in bytes; `None` is RFC 9260 §7.2.1's
    /// `min(4*MTU, max(2*MTU, 4404))`.
    pub initial_window: Option<usize>,
    /// RFC 9438 §4.7 fast convergence: after a loss below the previous
    /// `W_max`, aim lower, releasing bandwidth to newer flows. On by
    /// default.
    pub fast_convergence: bool,
}

impl Default for CubicConfig {
    fn default() -> Self {
        Self {
            initial_window: None,
            fast_convergence: true,
        }
    }
}

impl ControllerFactory for CubicConfig {
    fn build(&self, _now: Instant, mtu: usize, receive_window: usize) -> Box<dyn Controller> {
        Box::new(Cubic::new(self, mtu, receive_window))
    }
}

/// The current congestion avoidance stage (RFC 9438 §4.2).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Epoch {
    /// t_epoch, moved forward over application-limited time (§5.8).
    start: Instant,
    /// K, seconds (§4.2).
    k: f64,
}

/// RFC 9438 CUBIC congestion control, on SCTP's slow start and
/// byte-counted windows (see the [module docs](self) for the adaptation).
#[derive(Debug, Clone, PartialEq)]
pub struct Cubic {
    mtu: usize,
    fast_convergence: bool,
    /// cwnd in bytes, fractional (the per-ack increments of §4.4 are
    /// fractions of a byte at large windows).
    cwnd: f64,
    ssthresh: usize,
    initial_window: usize,
    /// W_max (bytes): the window before the last reduction, or lower with
    /// fast convergence; 0 before the first.
    w_max: f64,
    /// cwnd_prior (bytes): cwnd before the last reduction (§4.6).
    cwnd_prior: f64,
    /// W_est (bytes), the Reno-friendly estimate (§4.3).
    w_est: f64,
    epoch: Option<Epoch>,
    /// The next stage follows a timeout (§4.8: K = 0, W_max = cwnd_epoch).
    after_timeout: bool,
    /// The last acknowledgement processed, for §5.8's frozen time.
    last_ack: Option<Instant>,
}

/// Largest window kept (bytes), so that the float state stays finite and
/// converts back to `usize` exactly enough.
fn max_window() -> f64 {
    usize::MAX as f64
}

impl Cubic {
    /// A controller for a path with MTU `mtu` towards a receiver that
    /// advertised `receive_window` bytes (the initial ssthresh, RFC 9260
    /// §7.2.1).
    pub fn new(config: &CubicConfig, mtu: usize, receive_window: usize) -> Self {
        let mtu = mtu.max(1);
        let cwnd = config
            .initial_window
            .unwrap_or_else(|| mtu.saturating_mul(4).min(mtu.saturating_mul(2).max(4404)));
        Self {
            mtu,
            fast_convergence: config.fast_convergence,
            cwnd: cwnd as f64,
            ssthresh: receive_window,
            initial_window: cwnd,
            w_max: 0.0,
            cwnd_prior: 0.0,
            w_est: 0.0,
            epoch: None,
            after_timeout: false,
            last_ack: None,
        }
    }

    /// W_max in bytes (RFC 9438 §4.2, §4.7).
    pub fn w_max(&self) -> usize {
        self.w_max as usize
    }

    /// K in seconds of the current congestion avoidance stage (RFC 9438
    /// §4.2), if one has started.
    pub fn k(&self) -> Option<f64> {
        self.epoch.map(|e| e.k)
    }

    /// The Reno-friendly estimate W_est in bytes (RFC 9438 §4.3).
    pub fn w_est(&self) -> usize {
        self.w_est as usize
    }

    /// §4.2's `t` at `now`: the time since the current congestion
    /// avoidance stage started, application-limited and idle time left out
    /// (§5.8); `None` outside congestion avoidance.
    pub fn elapsed(&self, now: Instant) -> Option<Duration> {
        self.epoch.map(|e| now.saturating_duration_since(e.start))
    }

    /// W_cubic(t) in bytes for `t` seconds into the current stage (RFC
    /// 9438 §4.2, Figure 1): `C × (t − K)³ + W_max`.
    pub fn w_cubic(&self, t: f64) -> Option<f64> {
        self.epoch.map(|e| self.w_cubic_at(e, t))
    }

    fn smss(&self) -> f64 {
        self.mtu as f64
    }

    fn w_cubic_at(&self, e: Epoch, t: f64) -> f64 {
        let d = t - e.k;
        (C * self.smss() * d * d * d + self.w_max)
            .max(0.0)
            .min(max_window())
    }

    /// §4.6 and §4.7 on a congestion event: W_max, cwnd_prior, ssthresh.
    fn reduce(&mut self) {
        // §4.7: "if (cwnd < W_max and fast convergence enabled) { W_max =
        // cwnd * (1 + β_cubic) / 2 } else { W_max = cwnd }".
        self.w_max = if self.fast_convergence && self.cwnd < self.w_max {
            self.cwnd * (1.0 + BETA_CUBIC) / 2.0
        } else {
            self.cwnd
        };
        // §4.6: "ssthresh = cwnd * β_cubic; cwnd_prior = cwnd"; with RFC
        // 9260 §7.2.3's floor of 4*MTU.
        self.cwnd_prior = self.cwnd;
        let reduced = (self.cwnd * BETA_CUBIC) as usize;
        self.ssthresh = reduced.max(self.mtu.saturating_mul(4));
        self.epoch = None;
    }

    /// Starts a congestion avoidance stage at `now` (§4.2, §4.3, §4.8).
    fn start_epoch(&mut self, now: Instant) -> Epoch {
        if self.after_timeout || self.cwnd >= self.w_max {
            // §4.8: "K is set to 0, and W_max is set to the congestion
            // window size at the beginning of the current congestion
            // avoidance stage" (after a timeout; here also when the stage
            // starts above W_max).
            self.w_max = self.cwnd;
            self.after_timeout = false;
        }
        // §4.2: "K = cubic_root((W_max - cwnd_epoch) / C)".
        let k = ((self.w_max - self.cwnd) / (C * self.smss())).cbrt();
        // §4.3: "W_est = cwnd_epoch" at the start of the stage.
        self.w_est = self.cwnd;
        let e = Epoch { start: now, k };
        self.epoch = Some(e);
        e
    }

    /// Congestion avoidance on one acknowledgement (§4.2–§4.5).
    fn avoid_congestion(&mut self, now: Instant, ack: &Ack) {
        let e = match self.epoch {
            Some(e) => e,
            None => self.start_epoch(now),
        };
        let acked = ack.bytes_acked as f64;
        let smss = self.smss();
        // §4.3: "W_est = W_est + α_cubic * segments_acked / cwnd", and
        // "Once W_est has grown to reach the cwnd at the time of most
        // recently setting ssthresh -- that is, W_est >= cwnd_prior -- the
        // sender SHOULD set α_cubic to 1".
        let alpha = if self.w_est >= self.cwnd_prior {
            1.0
        } else {
            ALPHA_CUBIC
        };
        self.w_est = (self.w_est + alpha * smss * acked / self.cwnd.max(1.0)).min(max_window());
        let t = now.saturating_duration_since(e.start).as_secs_f64();
        if self.w_cubic_at(e, t) < self.w_est {
            // §4.3: "CUBIC checks whether W_cubic(t) is less than W_est.
            // If so, CUBIC is in the Reno-friendly region and cwnd SHOULD
            // be set to W_est at each reception of a new ACK." (Never
            // lowered by it: §4.2 "chooses the larger of the two values".)
            self.cwnd = self.cwnd.max(self.w_est);
            return;
        }
        // §4.2: target = W_cubic(t + RTT), within [cwnd, 1.5 * cwnd];
        // "RTT is the smoothed round-trip time".
        let rtt = ack.srtt.or(ack.rtt_sample).unwrap_or(Duration::ZERO);
        let target = self
            .w_cubic_at(e, t + rtt.as_secs_f64())
            .max(self.cwnd)
            .min(1.5 * self.cwnd);
        // §4.4 and §4.5: "cwnd MUST be incremented by (target - cwnd) /
        // cwnd for each received new ACK"; here per segment's worth of
        // bytes acknowledged (see the module docs).
        let grown = self.cwnd + (target - self.cwnd) * acked / self.cwnd.max(1.0);
        self.cwnd = grown.min(max_window());
    }
}

impl Controller for Cubic {
    fn on_ack(&mut self, now: Instant, ack: &Ack) {
        let cwnd = self.window();
        let limited = ack.flight_before >= cwnd;
        let since_last = self.last_ack.map(|at| now.saturating_duration_since(at));
        self.last_ack = Some(now);
        if ack.bytes_acked == 0 || ack.in_fast_recovery {
            return;
        }
        if cwnd <= self.ssthresh {
            // RFC 9260 §7.2.1's slow start (see `Rfc9260Reno`).
            if limited {
                let grown = self.cwnd + ack.bytes_acked.min(self.mtu) as f64;
                self.cwnd = grown.min(max_window());
            }
            return;
        }
        if !limited {
            // §5.8: no growth, and the stage's clock stands still.
            if let (Some(e), Some(d)) = (self.epoch.as_mut(), since_last) {
                e.start = e.start.checked_add(d).unwrap_or(e.start);
            }
            return;
        }
        self.avoid_congestion(now, ack);
    }

    fn on_congestion_event(&mut self, _now: Instant, event: CongestionEvent) {
        self.reduce();
        match event {
            // §4.6: "cwnd = max(ssthresh, 2)" (the floor is 4 MTU here).
            CongestionEvent::FastRetransmit => self.cwnd = self.ssthresh as f64,
            // §4.8: "CUBIC follows Reno to reduce cwnd [...] but sets
            // ssthresh using β_cubic"; RFC 9260 §7.2.3: cwnd = 1*MTU.
            CongestionEvent::RetransmissionTimeout => {
                self.cwnd = self.mtu as f64;
                self.after_timeout = true;
            }
        }
    }

    /// §5.8: an idle period is not part of `t`.
    fn on_idle(&mut self, _now: Instant, idle: Duration, _rto: Duration) {
        if let Some(e) = self.epoch.as_mut() {
            // The acknowledgement clock does not see the silence: the
            // first acknowledgement after it may find the window full.
            e.start = e.start.checked_add(idle).unwrap_or(e.start);
        }
        // Not counted again by the next application-limited ack.
        self.last_ack = None;
    }

    fn on_mtu_update(&mut self, mtu: usize) {
        self.mtu = mtu.max(1);
    }

    fn window(&self) -> usize {
        self.cwnd as usize
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
    use crate::congestion::{Rfc9260Reno, Rfc9260RenoConfig};

    const MTU: usize = 1000;
    const M: f64 = MTU as f64;

    #[allow(clippy::disallowed_methods)] // tests need some Instant
    fn t0() -> Instant {
        Instant::now()
    }

    fn cubic(initial: usize, receive_window: usize) -> Cubic {
        let cfg = CubicConfig {
            initial_window: Some(initial),
            ..CubicConfig::default()
        };
        Cubic::new(&cfg, MTU, receive_window)
    }

    /// An acknowledgement of `bytes` with the window full.
    fn full(c: &Cubic, bytes: usize, rtt: Duration) -> Ack {
        Ack {
            bytes_acked: bytes,
            flight_before: c.window(),
            cum_advanced: true,
            srtt: Some(rtt),
            ..Ack::default()
        }
    }

    /// A saturated sender: one window acknowledged per `rtt`, two MTUs per
    /// acknowledgement (delayed SACK), acknowledgements evenly spread.
    /// Returns the time after the window.
    fn round(c: &mut Cubic, now: Instant, rtt: Duration) -> Instant {
        let mut left = c.window();
        let acks = left.div_ceil(2 * MTU).max(1);
        let step = rtt / acks as u32;
        let mut at = now;
        while left > 0 {
            at += step;
            let bytes = left.min(2 * MTU);
            left -= bytes;
            let a = full(c, bytes, rtt);
            c.on_ack(at, &a);
        }
        now + rtt
    }

    /// A loss at 100 MTU, then the acknowledgement that leaves cwnd ==
    /// ssthresh (slow start, RFC 9260's `cwnd <= ssthresh`) and the one
    /// that starts congestion avoidance at `now`.
    fn after_loss_at_100(now: Instant, rtt: Duration) -> Cubic {
        let mut c = cubic(100 * MTU, 1 << 30);
        c.on_congestion_event(now, CongestionEvent::FastRetransmit);
        let a = full(&c, MTU, rtt);
        c.on_ack(now, &a);
        assert_eq!(c.window(), 71 * MTU);
        let a = full(&c, MTU, rtt);
        c.on_ack(now, &a);
        assert!(c.k().is_some());
        c
    }

    #[test]
    fn constants_are_rfc_9438s() {
        assert_eq!((C, BETA_CUBIC), (0.4, 0.7));
        // §4.3: α_cubic = 3 × (1 − β_cubic) / (1 + β_cubic) ≈ 0.53.
        assert!((ALPHA_CUBIC - 0.9 / 1.7).abs() < 1e-12);
        assert!((ALPHA_CUBIC - 0.5294).abs() < 1e-4);
    }

    #[test]
    fn loss_reduces_by_beta_cubic_and_fast_convergence_lowers_w_max() {
        let now = t0();
        let mut c = cubic(100 * MTU, 1 << 30);
        // §4.6: ssthresh = cwnd × 0.7, cwnd = ssthresh; W_max = cwnd.
        c.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!(
            (c.window(), c.ssthresh(), c.w_max()),
            (70 * MTU, 70 * MTU, 100 * MTU)
        );
        // A second loss below W_max: §4.7, W_max = cwnd × (1 + β) / 2.
        c.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!((c.window(), c.w_max()), (49 * MTU, 59_500));
        // Without fast convergence W_max is the window at the loss.
        let mut c = Cubic::new(
            &CubicConfig {
                initial_window: Some(100 * MTU),
                fast_convergence: false,
            },
            MTU,
            1 << 30,
        );
        c.on_congestion_event(now, CongestionEvent::FastRetransmit);
        c.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!((c.window(), c.w_max()), (49 * MTU, 70 * MTU));
        // RFC 9260 §7.2.3's floor: ssthresh >= 4 MTU.
        let mut c = cubic(5 * MTU, 1 << 30);
        c.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!((c.window(), c.ssthresh()), (4 * MTU, 4 * MTU));
    }

    #[test]
    fn k_and_w_cubic_follow_figure_1_and_2() {
        let now = t0();
        let c = after_loss_at_100(now, Duration::from_millis(100));
        // §4.2: K = cubic_root((W_max − cwnd_epoch) / C), in segments:
        // cwnd_epoch = 71, W_max = 100.
        let k = c.k().unwrap();
        assert!((k - (29.0f64 / 0.4).cbrt()).abs() < 1e-9, "{k}");
        assert!((k - 4.1698).abs() < 1e-4);
        // W_cubic(t) = C × (t − K)³ + W_max.
        let w = |t: f64| c.w_cubic(t).unwrap();
        assert!((w(0.0) - 71.0 * M).abs() < 1e-6, "starts at cwnd_epoch");
        assert!((w(k) - 100.0 * M).abs() < 1e-6, "reaches W_max at K");
        assert!((w(k + 2.0) - (100.0 + 0.4 * 8.0) * M).abs() < 1e-6);
        assert!((w(k - 1.0) - (100.0 - 0.4) * M).abs() < 1e-6);
    }

    #[test]
    fn the_window_follows_w_cubic_concave_then_convex() {
        let now = t0();
        let rtt = Duration::from_millis(100);
        let mut c = after_loss_at_100(now, rtt);
        let k = c.k().unwrap();
        let mut at = now;
        let mut last = c.window();
        let mut growth = Vec::new();
        while at < now + Duration::from_secs(12) {
            at = round(&mut c, at, rtt);
            let t = c.elapsed(at).unwrap().as_secs_f64();
            let w = c.window() as f64;
            // cwnd chases W_cubic(t + RTT) one round trip at a time: never
            // beyond it (or beyond W_est in the Reno-friendly region, §4.3),
            // never more than a round trip's growth behind.
            let lo = c.w_cubic(t - 0.1).unwrap() - 2.0 * M;
            let hi = c.w_cubic(t + 0.1).unwrap().max(c.w_est() as f64) + 1.0;
            assert!(lo <= w && w <= hi, "t {t:.1}: {lo} <= {w} <= {hi}");
            // Below W_max the Reno-friendly estimate trails.
            assert!(c.w_est() < c.window() || t > k - 0.5, "t {t:.1}");
            growth.push((t, c.window() - last));
            last = c.window();
        }
        // Concave: growth per RTT shrinks towards K; convex: grows after.
        let at = |x: f64| {
            growth
                .iter()
                .find(|(t, _)| *t >= x)
                .map(|&(_, g)| g)
                .unwrap()
        };
        assert!(at(0.5) > at(2.0) && at(2.0) > at(k), "{growth:?}");
        assert!(at(k + 1.0) > at(k + 0.5), "{growth:?}");
        // Past K + 1.5 s the Reno-friendly estimate (now at α = 1, one
        // MTU per round trip) leads for a while; the convex curve then
        // outgrows it.
        let reno = at(k + 2.5);
        assert!(reno.abs_diff(MTU) < 10, "{growth:?}");
        assert!(at(11.0) > 2 * MTU, "{growth:?}");
        // The plateau: near W_max around K.
        let plateau = growth.iter().filter(|(t, _)| (t - k).abs() < 0.5).count();
        assert!(plateau >= 4);
    }

    #[test]
    fn growth_per_ack_is_capped_at_half_the_window() {
        let now = t0();
        let rtt = Duration::from_millis(100);
        let mut c = after_loss_at_100(now, rtt);
        // Long after K, W_cubic(t + RTT) is far above 1.5 × cwnd: §4.2's
        // target is 1.5 × cwnd, and (target − cwnd) / cwnd per segment
        // adds half of what the acknowledgement covers.
        let later = now + Duration::from_secs(1000);
        let w = c.window();
        let a = full(&c, 10 * MTU, rtt);
        c.on_ack(later, &a);
        assert_eq!(c.window(), w + 5 * MTU);
    }

    #[test]
    fn reno_friendly_region_grows_like_aimd_alpha_cubic_then_one_mtu() {
        let now = t0();
        // A short round trip: the cubic function barely moves in one, the
        // Reno-friendly estimate grows α_cubic segments per window.
        let rtt = Duration::from_millis(1);
        let mut c = cubic(20 * MTU, 1 << 30);
        c.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!(c.window(), 14 * MTU);
        let mut at = now;
        at = round(&mut c, at, rtt);
        // Slow start took cwnd over ssthresh; the stage starts.
        let start = c.window();
        let mut per_round = Vec::new();
        for _ in 0..60 {
            let before = c.w_est();
            at = round(&mut c, at, rtt);
            // §4.3: in the Reno-friendly region cwnd = W_est.
            assert!(
                c.window().abs_diff(c.w_est()) <= 1,
                "{} {}",
                c.window(),
                c.w_est()
            );
            per_round.push((before, c.w_est() - before));
        }
        assert!(start > 14 * MTU);
        for &(w_est, g) in &per_round {
            let g = g as f64 / M;
            if (w_est as f64) < 20.0 * M - 2.0 * M {
                // Below cwnd_prior: α_cubic per window.
                assert!((g - ALPHA_CUBIC).abs() < 0.06, "{w_est}: {g}");
            } else if (w_est as f64) > 20.0 * M {
                // §4.3: α_cubic = 1 once W_est >= cwnd_prior.
                assert!((g - 1.0).abs() < 0.1, "{w_est}: {g}");
            }
        }
        assert!(per_round.last().unwrap().0 > 22 * MTU, "{per_round:?}");
    }

    #[test]
    fn timeout_collapses_to_one_mtu_and_the_next_stage_has_k_zero() {
        let now = t0();
        let rtt = Duration::from_millis(50);
        let mut c = cubic(100 * MTU, 1 << 30);
        c.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        // §4.8: ssthresh by β_cubic; cwnd as Reno (RFC 9260: 1 MTU).
        assert_eq!((c.window(), c.ssthresh()), (MTU, 70 * MTU));
        // RFC 9260 slow start up to ssthresh, then congestion avoidance
        // with K = 0 and W_max = cwnd_epoch.
        let mut at = now;
        while c.k().is_none() {
            at = round(&mut c, at, rtt);
        }
        assert_eq!(c.k(), Some(0.0));
        assert!(
            c.w_max() > 70 * MTU && c.w_max() < 72 * MTU,
            "{}",
            c.w_max()
        );
    }

    #[test]
    fn slow_start_is_rfc_9260s() {
        let now = t0();
        let mut c = Cubic::new(&CubicConfig::default(), 1500, 1 << 20);
        let mut r = Rfc9260Reno::new(&Rfc9260RenoConfig::default(), 1500, 1 << 20);
        assert_eq!(c.window(), 4404);
        assert_eq!(c.initial_window(), r.initial_window());
        for (acked, flight) in [(600, 4404), (3000, 5004), (1000, 10), (1500, 6504)] {
            let a = Ack {
                bytes_acked: acked,
                flight_before: flight,
                ..Ack::default()
            };
            c.on_ack(now, &a);
            r.on_ack(now, &a);
            assert_eq!(c.window(), r.window());
        }
        // No growth in Fast Recovery either.
        let a = Ack {
            bytes_acked: 1500,
            flight_before: 1 << 20,
            in_fast_recovery: true,
            ..Ack::default()
        };
        c.on_ack(now, &a);
        assert_eq!(c.window(), r.window());
    }

    #[test]
    fn application_limited_and_idle_time_is_not_part_of_t() {
        let now = t0();
        let rtt = Duration::from_millis(100);
        let mut c = after_loss_at_100(now, rtt);
        let w = c.window();
        // Ten seconds of acknowledgements that found the window not full.
        let mut at = now;
        for _ in 0..100 {
            at += rtt;
            let a = Ack {
                flight_before: w / 2,
                ..full(&c, 2 * MTU, rtt)
            };
            c.on_ack(at, &a);
        }
        assert_eq!(c.window(), w, "§5.8: no growth");
        assert_eq!(c.elapsed(at), Some(Duration::ZERO), "t stood still");
        // Then a silence reported by the sender.
        at += Duration::from_secs(30);
        c.on_idle(at, Duration::from_secs(30), Duration::from_secs(1));
        assert_eq!(c.elapsed(at), Some(Duration::ZERO));
        at += rtt;
        let a = full(&c, 2 * MTU, rtt);
        c.on_ack(at, &a);
        assert_eq!(c.elapsed(at), Some(rtt));
        assert!(c.window() < w + MTU, "{} vs {w}", c.window());
    }

    #[test]
    fn any_input_is_safe() {
        let now = t0();
        for (mtu, init, rw) in [
            (0, Some(0), 0),
            (usize::MAX, Some(usize::MAX), usize::MAX),
            (1, None, 0),
            (usize::MAX, Some(1), 0),
        ] {
            let cfg = CubicConfig {
                initial_window: init,
                ..CubicConfig::default()
            };
            let mut c = Cubic::new(&cfg, mtu, rw);
            for i in 0..50u32 {
                let a = Ack {
                    bytes_acked: [0, 1, usize::MAX][i as usize % 3],
                    flight_before: [0, usize::MAX][i as usize % 2],
                    srtt: Some([Duration::ZERO, Duration::MAX][i as usize % 2]),
                    ..Ack::default()
                };
                let at = now + Duration::from_secs(u64::from(i) * 1_000_000);
                c.on_ack(at, &a);
                if i % 7 == 0 {
                    c.on_congestion_event(at, CongestionEvent::FastRetransmit);
                }
                if i % 11 == 0 {
                    c.on_congestion_event(at, CongestionEvent::RetransmissionTimeout);
                    c.on_idle(at, Duration::MAX, Duration::ZERO);
                }
                let _ = (c.window(), c.ssthresh(), c.w_max(), c.w_est(), c.k());
            }
            c.on_mtu_update(0);
            assert!(c.clone_box().as_any().downcast_ref::<Cubic>().is_some());
        }
    }
}
