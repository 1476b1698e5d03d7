//! Retransmission timeout estimator (RFC 9260 §6.3.1,
//! <https://www.rfc-editor.org/rfc/rfc9260#section-6.3.1>), with the
//! backoff of §6.3.3 E2.
//!
//! Arithmetic is done on integer nanoseconds with exact fractions, so a
//! sequence of samples gives the same RTO on every platform.
//!
//! Clock granularity: RFC 9260 §6.3.1 puts no requirement on the
//! granularity G beyond pointing at RFC 6298 §4. We follow RFC 6298 §2.3,
//! `RTO <- SRTT + max(G, K*RTTVAR)` with K = 4, so a perfectly steady path
//! (RTTVAR decaying to 0) never yields RTO = SRTT, and choose
//! G = 1 ms by default: the resolution of the runtime's timers (tokio),
//! which is what actually bounds how precisely a timeout can fire.

use core::time::Duration;

/// An exact fraction `num / den` (for RTO.Alpha and RTO.Beta).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    /// Numerator.
    pub num: u32,
    /// Denominator (0 is treated as 1).
    pub den: u32,
}

impl Fraction {
    /// `num / den`.
    pub const fn new(num: u32, den: u32) -> Self {
        Self { num, den }
    }

    /// Numerator and denominator, with the fraction clamped into [0, 1].
    fn parts(self) -> (u128, u128) {
        let den = u128::from(self.den.max(1));
        let num = u128::from(self.num).min(den);
        (num, den)
    }
}

/// RTO parameters (RFC 9260 §16 defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtoConfig {
    /// RTO.Initial: the RTO before the first measurement (C1). 1 s.
    pub initial: Duration,
    /// RTO.Min: lower clamp (C6). 1 s; LANs and tests may go lower.
    pub min: Duration,
    /// RTO.Max: upper clamp (C7) and cap for backoff (E2). 60 s.
    pub max: Duration,
    /// RTO.Alpha: gain of SRTT. 1/8.
    pub alpha: Fraction,
    /// RTO.Beta: gain of RTTVAR. 1/4.
    pub beta: Fraction,
    /// Clock granularity G (see the module docs). 1 ms.
    pub granularity: Duration,
}

impl Default for RtoConfig {
    fn default() -> Self {
        // RFC 9260 §16: "RTO.Initial: 1 second, RTO.Min: 1 second,
        // RTO.Max: 60 seconds, ... RTO.Alpha: 1/8, RTO.Beta: 1/4".
        Self {
            initial: Duration::from_secs(1),
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            alpha: Fraction::new(1, 8),
            beta: Fraction::new(1, 4),
            granularity: Duration::from_millis(1),
        }
    }
}

/// The RTO estimator of one destination.
#[derive(Debug, Clone)]
pub struct Rto {
    cfg: RtoConfig,
    /// (SRTT, RTTVAR) in nanoseconds, once a measurement was made.
    state: Option<(u128, u128)>,
    rto: Duration,
}

fn nanos(d: Duration) -> u128 {
    d.as_nanos()
}

fn from_nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

impl Rto {
    /// A new estimator: RTO = RTO.Initial (C1).
    pub fn new(cfg: RtoConfig) -> Self {
        // C1: "Until an RTT measurement has been made for a packet sent to
        // the given destination transport address, set RTO to the protocol
        // parameter 'RTO.Initial'."
        let rto = cfg.initial.min(cfg.max);
        Self {
            cfg,
            state: None,
            rto,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RtoConfig {
        &self.cfg
    }

    /// Feeds one RTT measurement R (rules C2, C3, C6, C7). The caller
    /// applies Karn's rule (C5); the retransmission queue does.
    pub fn observe(&mut self, rtt: Duration) {
        let r = nanos(rtt);
        let (srtt, rttvar) = match self.state {
            // C2: "When the first RTT measurement R is made, set
            // SRTT <- R, RTTVAR <- R/2, and RTO <- SRTT + 4 * RTTVAR."
            None => (r, r / 2),
            // C3: "RTTVAR <- (1 - RTO.Beta) * RTTVAR + RTO.Beta * |SRTT - R'|
            // SRTT <- (1 - RTO.Alpha) * SRTT + RTO.Alpha * R' [...] The value
            // of SRTT used in the update to RTTVAR is its value before
            // updating SRTT itself using the second assignment."
            Some((srtt, rttvar)) => {
                let (bn, bd) = self.cfg.beta.parts();
                let (an, ad) = self.cfg.alpha.parts();
                let rttvar = ((bd - bn) * rttvar + bn * srtt.abs_diff(r)) / bd;
                let srtt = ((ad - an) * srtt + an * r) / ad;
                (srtt, rttvar)
            }
        };
        self.state = Some((srtt, rttvar));
        let var = (4 * rttvar).max(nanos(self.cfg.granularity));
        self.rto = self.clamp(from_nanos(srtt.saturating_add(var)));
    }

    fn clamp(&self, rto: Duration) -> Duration {
        // C6: "Whenever RTO is computed, if it is less than RTO.Min seconds,
        // then it is rounded up to RTO.Min seconds."
        // C7: "A maximum value MAY be placed on RTO provided it is at least
        // RTO.max seconds."
        rto.max(self.cfg.min).min(self.cfg.max)
    }

    /// The current RTO.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// E2: "set RTO <- RTO * 2 ('back off the timer'). The maximum value
    /// discussed in rule C7 above (RTO.max) MAY be used to provide an upper
    /// bound to this doubling operation." The next measurement collapses it
    /// back (§6.3.3, after E4).
    pub fn backoff(&mut self) {
        self.rto = self.rto.saturating_mul(2).min(self.cfg.max);
    }

    /// SRTT, once a measurement was made.
    pub fn srtt(&self) -> Option<Duration> {
        self.state.map(|(s, _)| from_nanos(s))
    }

    /// RTTVAR, once a measurement was made.
    pub fn rttvar(&self) -> Option<Duration> {
        self.state.map(|(_, v)| from_nanos(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn lan() -> RtoConfig {
        RtoConfig {
            min: ms(10),
            ..RtoConfig::default()
        }
    }

    #[test]
    fn starts_at_rto_initial() {
        let rto = Rto::new(RtoConfig::default());
        assert_eq!(rto.rto(), Duration::from_secs(1));
        assert_eq!(rto.srtt(), None);
    }

    #[test]
    fn follows_the_rfc_arithmetic_for_a_sample_sequence() {
        let mut rto = Rto::new(lan());
        // C2: R = 100 ms -> SRTT 100, RTTVAR 50, RTO 100 + 200 = 300.
        rto.observe(ms(100));
        assert_eq!(rto.srtt(), Some(ms(100)));
        assert_eq!(rto.rttvar(), Some(ms(50)));
        assert_eq!(rto.rto(), ms(300));
        // C3: R' = 200 ms -> RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5,
        // SRTT = 7/8*100 + 1/8*200 = 112.5, RTO = 112.5 + 250 = 362.5.
        rto.observe(ms(200));
        assert_eq!(rto.rttvar(), Some(Duration::from_micros(62_500)));
        assert_eq!(rto.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(rto.rto(), Duration::from_micros(362_500));
        // R' = 80 ms -> RTTVAR = 3/4*62.5 + 1/4*32.5 = 55,
        // SRTT = 7/8*112.5 + 1/8*80 = 108.4375, RTO = 108.4375 + 220.
        rto.observe(ms(80));
        assert_eq!(rto.rttvar(), Some(ms(55)));
        assert_eq!(rto.srtt(), Some(Duration::from_nanos(108_437_500)));
        assert_eq!(rto.rto(), Duration::from_nanos(328_437_500));
    }

    #[test]
    fn clamps_to_rto_min_and_rto_max() {
        let mut rto = Rto::new(RtoConfig::default());
        rto.observe(ms(10)); // 10 + 20 = 30 ms < RTO.Min
        assert_eq!(rto.rto(), Duration::from_secs(1));
        rto.observe(Duration::from_secs(100));
        assert_eq!(rto.rto(), Duration::from_secs(60));
    }

    #[test]
    fn granularity_bounds_the_variance_term_on_a_steady_path() {
        let cfg = RtoConfig {
            min: Duration::ZERO,
            ..RtoConfig::default()
        };
        let mut rto = Rto::new(cfg);
        for _ in 0..200 {
            rto.observe(ms(20));
        }
        // RTTVAR decays geometrically to (almost) 0; RTO = SRTT + G.
        assert_eq!(rto.srtt(), Some(ms(20)));
        assert!(rto.rttvar().is_some_and(|v| v < Duration::from_micros(1)));
        assert_eq!(rto.rto(), ms(21));
    }

    #[test]
    fn backoff_doubles_up_to_rto_max_and_a_sample_collapses_it() {
        let mut rto = Rto::new(lan());
        rto.observe(ms(100));
        rto.backoff();
        assert_eq!(rto.rto(), ms(600));
        for _ in 0..10 {
            rto.backoff();
        }
        assert_eq!(rto.rto(), Duration::from_secs(60));
        rto.observe(ms(100));
        // RTTVAR = 3/4*50 + 0 = 37.5; SRTT 100; RTO = 250 ms.
        assert_eq!(rto.rto(), ms(250));
    }

    #[test]
    fn huge_samples_do_not_overflow() {
        let mut rto = Rto::new(RtoConfig::default());
        rto.observe(Duration::MAX);
        rto.observe(Duration::ZERO);
        rto.observe(Duration::MAX);
        assert_eq!(rto.rto(), Duration::from_secs(60));
    }
}
