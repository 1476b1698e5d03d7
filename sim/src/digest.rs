//! A fixed, dependency-free 64-bit hash for trace digests and hash maps.
//!
//! The digest must be identical across runs, machines and Rust versions, so
//! neither `std`'s `DefaultHasher` (unspecified algorithm) nor a randomly
//! keyed `RandomState` will do. The state update is FxHash-shaped,
//! `h = (rotl(h, 5) ^ w) * K`, applied to 64-bit words. For a fixed input
//! word it is a bijection of the state, and for a fixed state a bijection of
//! the word, so two record streams of the same shape that differ in a single
//! word are guaranteed to end in different digests; the final SplitMix64
//! mixer spreads that difference over every bit. Payload bytes are hashed in
//! eight independent lanes (64 bytes per round) so that long packets are not
//! bound by the latency of one multiply chain.

use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::SocketAddr;

const K: u64 = 0x517c_c1b7_2722_0a95;

/// Initial lane states (hex digits of pi).
const LANE_SEEDS: [u64; 8] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
];

/// One word into a state.
#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

#[inline(always)]
fn word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// Feeds an address to `f` as one (IPv4) or four (IPv6) words that
/// identify it completely.
#[inline]
pub(crate) fn addr_words(a: &SocketAddr, mut f: impl FnMut(u64)) {
    match a {
        SocketAddr::V4(v4) => {
            f(4 << 48 | u64::from(v4.port()) << 32 | u64::from(v4.ip().to_bits()));
        }
        SocketAddr::V6(v6) => {
            let ip = v6.ip().to_bits();
            f(6 << 48 | u64::from(v6.port()) << 32 | u64::from(v6.scope_id()));
            f(u64::from(v6.flowinfo()));
            f(ip as u64);
            f((ip >> 64) as u64);
        }
    }
}

/// A socket address as a hash-map key, hashed in one word for IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddrKey(pub(crate) SocketAddr);

impl Hash for AddrKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        addr_words(&self.0, |w| state.write_u64(w));
    }
}

/// The running digest of a simulation trace.
#[derive(Debug, Clone)]
pub(crate) struct TraceHasher {
    h: u64,
}

impl TraceHasher {
    pub(crate) fn new() -> Self {
        Self {
            h: 0xcbf2_9ce4_8422_2325,
        }
    }

    #[inline]
    pub(crate) fn u64(&mut self, w: u64) {
        self.h = mix(self.h, w);
    }

    pub(crate) fn addr(&mut self, a: &SocketAddr) {
        addr_words(a, |w| self.u64(w));
    }

    /// Length-prefixed bytes.
    pub(crate) fn bytes(&mut self, data: &[u8]) {
        self.u64(data.len() as u64);
        // Eight independent lanes keep eight multiplies in flight at once.
        let mut lanes = LANE_SEEDS;
        let mut blocks = data.chunks_exact(64);
        for b in &mut blocks {
            for (lane, w) in lanes.iter_mut().zip(b.chunks_exact(8)) {
                *lane = mix(*lane, word(w));
            }
        }
        for w in blocks.remainder().chunks(8) {
            lanes[0] = mix(lanes[0], word(w));
        }
        for l in lanes {
            self.u64(l);
        }
    }

    pub(crate) fn finish(&self) -> u64 {
        // SplitMix64 finaliser: a bijection, so distinct states stay distinct.
        let mut z = self.h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A fixed-key hasher for the simulator's internal hash maps (lookups only;
/// nothing iterates them, so their order can never leak into a trace).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    h: u64,
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            self.h = mix(self.h, word(c));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.h = mix(self.h, u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.h = mix(self.h, u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.h = mix(self.h, u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.h = mix(self.h, i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.h = mix(self.h, i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.h
    }
}

/// `HashMap` with the fixed-key hasher.
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(data: &[u8]) -> u64 {
        let mut h = TraceHasher::new();
        h.bytes(data);
        h.finish()
    }

    #[test]
    fn any_single_byte_change_changes_the_digest() {
        let base: Vec<u8> = (0..100u8).collect();
        let d0 = digest_of(&base);
        for i in 0..base.len() {
            let mut m = base.clone();
            m[i] ^= 1;
            assert_ne!(digest_of(&m), d0, "byte {i}");
        }
    }

    #[test]
    fn trailing_zero_bytes_change_the_digest() {
        assert_ne!(digest_of(&[1, 2, 3]), digest_of(&[1, 2, 3, 0]));
        assert_ne!(digest_of(&[]), digest_of(&[0]));
    }

    #[test]
    fn digest_is_pinned() {
        // The digest algorithm is part of the simulator's reproducibility
        // contract: recorded digests of failing runs must stay comparable.
        let mut h = TraceHasher::new();
        h.u64(1);
        h.addr(&"10.0.0.1:9899".parse().unwrap());
        h.addr(&"[2001:db8::1]:9899".parse().unwrap());
        h.bytes(b"the quick brown fox jumps over the lazy dog");
        assert_eq!(h.finish(), PINNED);
    }

    const PINNED: u64 = 9_539_553_440_320_572_460;
}
