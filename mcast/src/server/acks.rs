//! What one member has acknowledged, as the server keeps it (draft
//! §"Processing an MSACK"): a cumulative ack and the ranges above it, in the
//! server's unwrapped MTSN space. Acknowledgements are never taken back.

use std::collections::VecDeque;

/// Acknowledged MTSNs of one member, unwrapped.
#[derive(Debug, Clone)]
pub(crate) struct AckSet {
    /// Every MTSN at or below is acknowledged (or not the member's).
    cum: u64,
    /// Acknowledged ranges above `cum + 1`, sorted, disjoint, inclusive.
    ranges: VecDeque<(u64, u64)>,
}

impl AckSet {
    /// Nothing acknowledged above `cum`.
    pub(crate) fn new(cum: u64) -> Self {
        Self {
            cum,
            ranges: VecDeque::new(),
        }
    }

    /// The cumulative ack.
    pub(crate) fn cum(&self) -> u64 {
        self.cum
    }

    /// Whether `t` is acknowledged.
    pub(crate) fn has(&self, t: u64) -> bool {
        if t <= self.cum {
            return true;
        }
        let i = self.ranges.partition_point(|r| r.1 < t);
        self.ranges.get(i).is_some_and(|r| r.0 <= t)
    }

    /// Acknowledges everything up to `t`. Returns how many MTSNs became
    /// acknowledged.
    pub(crate) fn ack_through(&mut self, t: u64) -> u64 {
        if t <= self.cum {
            return 0;
        }
        let mut newly = t - self.cum;
        // Ranges at or below t were already counted.
        while let Some(&(s, e)) = self.ranges.front() {
            if s > t + 1 {
                break;
            }
            self.ranges.pop_front();
            let covered_end = e.min(t);
            newly -= covered_end + 1 - s;
            if e > t {
                self.cum = e;
                self.merge();
                return newly;
            }
        }
        self.cum = t;
        self.merge();
        newly
    }

    /// Acknowledges `start..=end`. Returns how many became acknowledged.
    pub(crate) fn ack_range(&mut self, start: u64, end: u64) -> u64 {
        if end <= self.cum || start > end {
            return 0;
        }
        let start = start.max(self.cum + 1);
        if start == self.cum + 1 {
            return self.ack_through(end);
        }
        // Count what is new, then merge.
        let mut newly = end - start + 1;
        let mut s = start;
        let mut e = end;
        let mut kept = VecDeque::with_capacity(self.ranges.len() + 1);
        for &(rs, re) in &self.ranges {
            if re + 1 < s || rs > e + 1 {
                kept.push_back((rs, re));
                continue;
            }
            // Overlapping or adjacent: subtract the overlap, absorb.
            let os = rs.max(start);
            let oe = re.min(end);
            if os <= oe {
                newly -= oe - os + 1;
            }
            s = s.min(rs);
            e = e.max(re);
        }
        let i = kept.partition_point(|r| r.1 < s);
        kept.insert(i, (s, e));
        self.ranges = kept;
        newly
    }

    fn merge(&mut self) {
        while let Some(&(s, e)) = self.ranges.front() {
            if s > self.cum + 1 {
                break;
            }
            self.ranges.pop_front();
            self.cum = self.cum.max(e);
        }
    }

    /// MTSNs in `cum+1..=through` not acknowledged, at most `max`.
    pub(crate) fn missing(&self, through: u64, max: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut t = self.cum + 1;
        for &(s, e) in &self.ranges {
            while t < s && t <= through && out.len() < max {
                out.push(t);
                t += 1;
            }
            t = t.max(e + 1);
            if t > through || out.len() >= max {
                return out;
            }
        }
        while t <= through && out.len() < max {
            out.push(t);
            t += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_into_the_cumulative_ack_and_count_once() {
        let mut a = AckSet::new(10);
        assert_eq!(a.ack_range(13, 14), 2);
        assert_eq!(a.ack_range(14, 16), 2);
        assert_eq!(a.missing(20, 10), vec![11, 12, 17, 18, 19, 20]);
        assert_eq!(a.ack_through(12), 2);
        assert_eq!(a.cum(), 16, "the ranges joined the base");
        assert_eq!(a.ack_range(12, 15), 0, "nothing taken twice");
        assert!(a.has(16) && !a.has(17));
        assert_eq!(a.ack_range(19, 19), 1);
        assert_eq!(a.ack_through(20), 3, "17, 18 and 20; 19 counted before");
        assert_eq!(a.cum(), 20);
    }

    #[test]
    fn counts_match_a_naive_model() {
        // Deterministic pseudo-random operations against a bitmap.
        let mut a = AckSet::new(0);
        let mut bits = vec![false; 400];
        let mut x: u64 = 12345;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = 1 + (x >> 33) % 390;
            let len = (x >> 20) % 8;
            let through = (x >> 40).is_multiple_of(4);
            let naive: u64 = if through {
                (1..=s).filter(|&i| !bits[i as usize]).count() as u64
            } else {
                (s..=s + len).filter(|&i| !bits[i as usize]).count() as u64
            };
            let got = if through {
                a.ack_through(s)
            } else {
                a.ack_range(s, s + len)
            };
            if through {
                (1..=s).for_each(|i| bits[i as usize] = true);
            } else {
                (s..=s + len).for_each(|i| bits[i as usize] = true);
            }
            assert_eq!(got, naive);
            for i in 1..399u64 {
                assert_eq!(a.has(i), bits[i as usize], "MTSN {i}");
            }
        }
    }
}
