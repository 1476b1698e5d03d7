//! The simulator's pseudo-random number generator.
//!
//! xoshiro256** (Blackman and Vigna, <https://prng.di.unimi.it/>) seeded
//! through SplitMix64. It is written out here rather than taken from `rand`
//! so that the sequence a seed produces can never change with a dependency
//! upgrade: a failing seed stays reproducible forever. The known-answer tests
//! at the bottom pin both algorithms.

/// A small, fast, seedable PRNG (xoshiro256**), not for cryptography.
///
/// ```
/// use mcsctp_sim::SimRng;
/// let mut a = SimRng::new(7);
/// let mut b = SimRng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRng {
    s: [u64; 4],
}

/// One step of SplitMix64: advances `state` and returns the next output.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SimRng {
    /// A generator whose state is four SplitMix64 outputs of `seed`.
    ///
    /// Every seed, zero included, gives a valid (non-zero) state.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Self::from_state(s)
    }

    /// A generator with this raw xoshiro256** state (an all-zero state,
    /// which would only ever yield zeros, is replaced by `new(0)`'s).
    pub fn from_state(s: [u64; 4]) -> Self {
        if s == [0; 4] {
            return Self::new(0);
        }
        Self { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform `f64` in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)`; `0` when `n == 0`.
    ///
    /// Uses the widening-multiply method; its bias is below `n / 2^64`,
    /// far beneath anything a simulation can observe.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// `true` with probability `p`.
    ///
    /// `p <= 0` (or NaN) is never true and `p >= 1` always is; neither
    /// consumes randomness, so cutting a link with loss 1.0 leaves the
    /// random stream of the other links untouched.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        if p >= 1.0 {
            true
        } else if p > 0.0 {
            self.next_f64() < p
        } else {
            false
        }
    }

    /// A new generator seeded from this one, for an independent stream
    /// (for example a per-node protocol seed).
    pub fn fork(&mut self) -> SimRng {
        SimRng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_reference_outputs() {
        // Reference: Vigna's splitmix64.c with x = 0.
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut s), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(splitmix64(&mut s), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn xoshiro256starstar_matches_reference_outputs() {
        // Reference vector for state [1, 2, 3, 4] (as used by rand_xoshiro).
        let mut r = SimRng::from_state([1, 2, 3, 4]);
        let expected = [
            11520u64,
            0,
            1509978240,
            1215971899390074240,
            1216172134540287360,
            607988272756665600,
            16172922978634559625,
            8476171486693032832,
            10595114339597558777,
            2904607092377533576,
        ];
        for e in expected {
            assert_eq!(r.next_u64(), e);
        }
    }

    #[test]
    fn seed_sequence_never_changes() {
        // Pinned so that any change to seeding is noticed: recorded traces of
        // failing seeds would otherwise stop reproducing.
        let mut r = SimRng::new(42);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, PINNED_SEED_42);
    }

    const PINNED_SEED_42: [u64; 3] = [
        1_546_998_764_402_558_742,
        6_990_951_692_964_543_102,
        12_544_586_762_248_559_009,
    ];

    #[test]
    fn below_stays_in_range_and_zero_bound_gives_zero() {
        let mut r = SimRng::new(1);
        for n in [1u64, 2, 3, 10, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn chance_extremes_consume_no_randomness() {
        let mut a = SimRng::new(9);
        let b = a.clone();
        assert!(a.chance(1.0));
        assert!(!a.chance(0.0));
        assert!(!a.chance(f64::NAN));
        assert!(!a.chance(-1.0));
        assert_eq!(a, b);
    }

    #[test]
    fn next_f64_is_in_unit_interval() {
        let mut r = SimRng::new(3);
        for _ in 0..10_000 {
            let x = r.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
