//! TCP Westwood+ (Mascolo et al., "TCP Westwood: end-to-end bandwidth
//! estimation for efficient transport over wired and wireless networks",
//! 2001; Grieco and Mascolo, "Performance evaluation and comparison of
//! Westwood+, New Reno, and Vegas TCP congestion control", 2004): RFC 9260
//! §7.2's window with an adaptive decrease.
//!
//! Growth is [`Rfc9260Reno`]'s (slow start, congestion avoidance). What
//! changes is the reduction: instead of halving cwnd on a loss, the sender
//! sets ssthresh to its estimate of the bandwidth it is getting times the
//! smallest round-trip time it has seen, `BWE * RTT_min`, the window that
//! fills the path without a queue. Under congestion the acknowledged rate
//! is the bottleneck's share and the new window drains the queue, as a
//! halving would; under losses that are not congestion (a receiver's own
//! drops, a lossy last hop) the acknowledged rate is what was sent and
//! the window hardly moves. The multicast extension uses it for its group
//! window, where one member's random losses would otherwise set the rate of
//! the whole group (draft §"Group Congestion Window").
//!
//! A loss that finds the window no more than the filter's lag (eight MTUs)
//! and an eighth above `BWE * RTT_min` is not taken as congestion at all:
//! no queue has built up (TCP Veno's test, Fu and Liew 2003, on Westwood+'s
//! estimate), and cwnd and ssthresh are kept.
//!
//! The bandwidth estimate is Westwood+'s: the bytes acknowledged over each
//! interval of one smoothed round-trip time, filtered with a gain of 1/8.
//! A controller that has no estimate yet (no round-trip time, no full
//! interval) reduces as RFC 9260 does.

use core::any::Any;
use std::time::{Duration, Instant};

use super::reno::{Rfc9260Reno, Rfc9260RenoConfig};
use super::{Ack, CongestionEvent, Controller, ControllerFactory};

/// The shortest bandwidth-sampling interval, whatever the round-trip time.
const MIN_INTERVAL: Duration = Duration::from_micros(20);

/// Parameters of [`Westwood`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WestwoodConfig {
    /// The growth's parameters (RFC 9260 §7.2.1, §7.2.2).
    pub reno: Rfc9260RenoConfig,
}

impl ControllerFactory for WestwoodConfig {
    fn build(&self, now: Instant, mtu: usize, receive_window: usize) -> Box<dyn Controller> {
        Box::new(Westwood::new(self, now, mtu, receive_window))
    }
}

/// TCP Westwood+ on RFC 9260 §7.2's window (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Westwood {
    reno: Rfc9260Reno,
    mtu: usize,
    /// Filtered bandwidth estimate, bytes per second (0: none yet).
    bwe: f64,
    /// Smallest round-trip time sample.
    rtt_min: Option<Duration>,
    /// The latest smoothed round-trip time the sender reported.
    srtt: Option<Duration>,
    /// Bytes acknowledged since `sample_start`.
    acked: usize,
    sample_start: Instant,
    last_ack: Option<Instant>,
    random_losses: u64,
}

impl Westwood {
    /// A controller for a path with MTU `mtu` towards a receiver that
    /// advertised `receive_window` bytes.
    pub fn new(config: &WestwoodConfig, now: Instant, mtu: usize, receive_window: usize) -> Self {
        Self {
            reno: Rfc9260Reno::new(&config.reno, mtu, receive_window),
            mtu: mtu.max(1),
            bwe: 0.0,
            rtt_min: None,
            srtt: None,
            acked: 0,
            sample_start: now,
            last_ack: None,
            random_losses: 0,
        }
    }

    /// The bandwidth estimate in bytes per second, if there is one.
    pub fn bandwidth(&self) -> Option<f64> {
        (self.bwe > 0.0).then_some(self.bwe)
    }

    /// The smallest round-trip time seen.
    pub fn rtt_min(&self) -> Option<Duration> {
        self.rtt_min
    }

    /// Losses judged not to be congestion (see
    /// [`Controller::on_congestion_event`]).
    pub fn random_losses(&self) -> u64 {
        self.random_losses
    }

    /// How far the window may be above `BWE * RTT_min` with no queue:
    /// the lag of the bandwidth filter while congestion avoidance grows
    /// the window by one MTU per round trip (eight MTUs for a gain of 1/8),
    /// and an eighth of the window for the noise of the samples.
    fn queue_allowance(&self, target: usize) -> usize {
        self.mtu.saturating_mul(8).saturating_add(target / 8)
    }

    /// `BWE * RTT_min` in bytes, at least 4 MTUs (RFC 9260 §7.2.3's floor),
    /// if both are known.
    fn target(&self) -> Option<usize> {
        let bdp = self.bandwidth()? * self.rtt_min?.as_secs_f64();
        let floor = self.mtu.saturating_mul(4);
        Some((bdp.min(usize::MAX as f64) as usize).max(floor))
    }
}

impl Controller for Westwood {
    fn on_sent(&mut self, now: Instant, bytes: usize) {
        self.reno.on_sent(now, bytes);
    }

    fn on_ack(&mut self, now: Instant, ack: &Ack) {
        self.reno.on_ack(now, ack);
        if let Some(r) = ack.rtt_sample.filter(|r| !r.is_zero()) {
            self.rtt_min = Some(self.rtt_min.map_or(r, |m| m.min(r)));
        }
        if let Some(s) = ack.srtt.or(ack.rtt_sample) {
            self.srtt = Some(s);
        }
        let Some(srtt) = self.srtt else {
            return;
        };
        if self
            .last_ack
            .is_none_or(|at| now.saturating_duration_since(at) > srtt.saturating_mul(2))
        {
            // After a silence the interval opens with this acknowledgement
            // (the time without data does not count, nor do the bytes this
            // one acknowledges, delivered over an unknown time).
            self.last_ack = Some(now);
            self.sample_start = now;
            self.acked = 0;
            return;
        }
        self.last_ack = Some(now);
        self.acked = self.acked.saturating_add(ack.bytes_acked);
        let elapsed = now.saturating_duration_since(self.sample_start);
        if elapsed >= srtt.max(MIN_INTERVAL) {
            // Westwood+: one sample per round trip, low-pass filtered.
            let sample = self.acked as f64 / elapsed.as_secs_f64();
            self.bwe = if self.bwe > 0.0 {
                (7.0 * self.bwe + sample) / 8.0
            } else {
                sample
            };
            self.acked = 0;
            self.sample_start = now;
        }
    }

    fn on_congestion_event(&mut self, now: Instant, event: CongestionEvent) {
        let (before, ssthresh) = (self.reno.window(), self.reno.ssthresh());
        let target = self.target();
        if event == CongestionEvent::FastRetransmit
            && let Some(target) = target
            && before <= target.saturating_add(self.queue_allowance(target))
        {
            // TCP Veno's loss discrimination (Fu and Liew, IEEE JSAC 21(2),
            // 2003), on Westwood+'s estimate: the window holds no more than
            // a few packets beyond the bandwidth-delay product, so no queue
            // has built up and the loss is not congestion. The window is
            // kept (slow start, if the sender was in it, goes on).
            self.random_losses += 1;
            self.reno.set_window(before, ssthresh);
            return;
        }
        // RFC 9260 §7.2.3's reduction, then ssthresh = BWE * RTT_min where
        // known; a loss never opens the window.
        self.reno.on_congestion_event(now, event);
        if let Some(target) = target {
            let cwnd = match event {
                CongestionEvent::FastRetransmit => target.min(before),
                _ => self.reno.window(),
            };
            self.reno.set_window(cwnd, target);
        }
    }

    fn on_idle(&mut self, now: Instant, idle: Duration, rto: Duration) {
        self.reno.on_idle(now, idle, rto);
    }

    fn on_mtu_update(&mut self, mtu: usize) {
        self.mtu = mtu.max(1);
        self.reno.on_mtu_update(mtu);
    }

    fn window(&self) -> usize {
        self.reno.window()
    }

    fn ssthresh(&self) -> usize {
        self.reno.ssthresh()
    }

    fn initial_window(&self) -> usize {
        self.reno.initial_window()
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

    const MTU: usize = 1200;

    fn full_ack(bytes: usize, flight: usize, rtt: Option<Duration>) -> Ack {
        Ack {
            bytes_acked: bytes,
            flight_before: flight,
            cum_advanced: true,
            rtt_sample: rtt,
            srtt: rtt,
            ..Ack::default()
        }
    }

    /// Drives `rounds` round trips of `rtt` at `per_rtt` bytes each.
    fn run(w: &mut Westwood, now: &mut Instant, rtt: Duration, per_rtt: usize, rounds: u32) {
        for _ in 0..rounds {
            *now += rtt;
            let flight = w.window();
            w.on_ack(*now, &full_ack(per_rtt, flight, Some(rtt)));
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // an arbitrary origin; time is driven
    fn a_loss_sets_the_window_to_the_measured_bandwidth_delay_product() {
        let mut now = Instant::now();
        let mut w = Westwood::new(&WestwoodConfig::default(), now, MTU, 1 << 30);
        // No estimate yet: RFC 9260's halving, with its 4 MTU floor.
        w.reno.set_window(40 * MTU, 1 << 30);
        w.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!(w.window(), 20 * MTU);
        // 100 us round trips, 30 000 bytes acknowledged in each: 300 MB/s,
        // a BDP of 30 000 bytes.
        let rtt = Duration::from_micros(100);
        run(&mut w, &mut now, rtt, 30_000, 40);
        let bwe = w.bandwidth().expect("an estimate");
        assert!((bwe - 3.0e8).abs() < 1.0e6, "{bwe}");
        // A window far above the BDP (a queue) comes down to it.
        w.reno.set_window(100_000, 50_000);
        w.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert!((29_000..=30_000).contains(&w.window()), "{}", w.window());
        assert_eq!(w.ssthresh(), w.window());
        // A window at the BDP (a random loss, no queue) stays there, where
        // RFC 9260 would halve it; so does one within the allowance.
        w.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert!(w.window() >= 29_000, "{}", w.window());
        w.reno.set_window(30_000 + 8 * MTU + 3_700, 20_000);
        w.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!(
            (w.window(), w.ssthresh()),
            (30_000 + 8 * MTU + 3_700, 20_000)
        );
        assert_eq!(w.random_losses(), 2);
        // A loss never opens the window.
        w.reno.set_window(10_000, 50_000);
        w.on_congestion_event(now, CongestionEvent::FastRetransmit);
        assert_eq!(w.window(), 10_000);
        // A timeout still collapses it to one MTU, ssthresh to the BDP.
        w.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        assert_eq!(w.window(), MTU);
        assert!(w.ssthresh() >= 29_000);
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // an arbitrary origin; time is driven
    fn any_input_is_accepted() {
        let mut now = Instant::now();
        let mut w = Westwood::new(&WestwoodConfig::default(), now, 0, 0);
        for (i, b) in [0usize, 1, usize::MAX, 7].into_iter().enumerate() {
            now += Duration::from_micros(i as u64);
            w.on_ack(now, &full_ack(b, usize::MAX, Some(Duration::ZERO)));
            w.on_ack(now, &full_ack(b, 0, Some(Duration::MAX)));
            w.on_congestion_event(now, CongestionEvent::FastRetransmit);
            w.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
            w.on_mtu_update(0);
            assert!(w.window() >= 1);
        }
    }
}
