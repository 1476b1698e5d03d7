//! TSN tracking and SACK generation for the data receiver (RFC 9260 §6.2,
//! §6.7, §6.8; RFC 3758 §3.6 for FORWARD-TSN).
//!
//! [`DataTracker`] knows nothing of streams or messages: it records which
//! TSNs arrived, says whether a TSN is new or a duplicate, builds SACKs (gap
//! blocks relative to the cumulative TSN, duplicate TSNs) and decides *when*
//! a SACK is due (delayed-ack timer, every second packet, immediately on
//! loss, on duplicates and on the I bit). The multicast extension reuses it
//! unchanged as its multicast-TSN tracker (an MSACK carries the same fields
//! as a SACK: see [`DataTracker::take_ack`]).
//!
//! # How the association drives it
//!
//! For every packet that carries DATA / I-DATA (or FORWARD-TSN):
//!
//! 1. for each data chunk: if [`DataTracker::is_tsn_acceptable`] is false
//!    drop the chunk; else [`DataTracker::observe`] and hand the chunk to
//!    reassembly only if it returned `true`;
//! 2. for a FORWARD-TSN: [`DataTracker::handle_forward_tsn`];
//! 3. at the end of the packet: [`DataTracker::observe_packet_end`];
//! 4. if [`DataTracker::should_send_sack_now`], bundle
//!    [`DataTracker::make_sack`] into the next packet; otherwise arm the
//!    `delayed_sack` timer at [`DataTracker::sack_deadline`] and call
//!    [`DataTracker::handle_timeout`] when it fires.
//!
//! # Representation
//!
//! TSNs are unwrapped to `u64` relative to the cumulative TSN (valid because
//! every accepted TSN lies within `max_tsn_window` of it). TSNs received
//! above the cumulative TSN are kept as a sorted deque of disjoint,
//! non-adjacent inclusive ranges, so in-order arrival is O(1) (the
//! cumulative TSN just advances) and reordering costs O(log n) plus a rare
//! shift, with `n` the number of holes, never the number of TSNs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tracing::{debug, trace};

use crate::chunk::{GapBlock, Sack};
use crate::serial::Tsn;

/// Configuration of a [`DataTracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTrackerConfig {
    /// Delayed-SACK timeout. RFC 9260 §6.2: an acknowledgement "SHOULD be
    /// generated within 200 ms of the arrival of any unacknowledged DATA
    /// chunk". Default 200 ms.
    pub delayed_ack_timeout: Duration,
    /// Most Gap Ack Blocks put in one SACK (lowest TSNs first), bounding the
    /// SACK's size. Default 64 (4 + 12 + 64 * 4 = 272 bytes).
    pub max_gap_blocks: usize,
    /// Most duplicate TSNs remembered (and reported) between two SACKs.
    /// Default 32.
    pub max_dup_tsns: usize,
    /// TSNs more than this far ahead of the cumulative TSN are refused
    /// ([`DataTracker::is_tsn_acceptable`] is false). Bounds the gap-range
    /// list. Default 65536.
    pub max_tsn_window: u32,
    /// SACK the very first DATA chunk at once. RFC 9260 §5.1: "After the
    /// reception of the first DATA chunk in an association the endpoint MUST
    /// immediately respond with a SACK to acknowledge the DATA chunk."
    /// Default true; the multicast extension may turn it off for MTSNs.
    pub immediate_ack_on_first_data: bool,
}

impl Default for DataTrackerConfig {
    fn default() -> Self {
        Self {
            delayed_ack_timeout: Duration::from_millis(200),
            max_gap_blocks: 64,
            max_dup_tsns: 32,
            max_tsn_window: 65536,
            immediate_ack_on_first_data: true,
        }
    }
}

/// What a SACK (or the extension's MSACK) reports, taken from the tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckInfo {
    /// Cumulative TSN Ack.
    pub cumulative_tsn_ack: Tsn,
    /// Gap Ack Blocks, lowest first, offsets relative to the cumulative TSN.
    pub gap_blocks: Vec<GapBlock>,
    /// Duplicate TSNs received since the previous acknowledgement.
    pub dup_tsns: Vec<Tsn>,
}

/// Delayed-acknowledgement state (as in dcSCTP's data tracker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AckState {
    /// Nothing unacknowledged.
    Idle,
    /// The current packet brought the first unacknowledged data; the timer
    /// starts at the end of the packet.
    BecomingDelayed,
    /// One packet is unacknowledged; the `delayed_sack` timer runs.
    Delayed { deadline: Instant },
    /// A SACK is due now.
    Immediate,
}

/// Tracks received TSNs and decides when and what to acknowledge.
#[derive(Debug, Clone)]
pub struct DataTracker {
    cfg: DataTrackerConfig,
    /// Cumulative TSN Ack, unwrapped.
    cum: u64,
    /// Received TSNs above `cum + 1`, as sorted, disjoint, non-adjacent
    /// inclusive ranges (every `start >= cum + 2`).
    ranges: VecDeque<(u64, u64)>,
    /// Duplicates since the last SACK (at most `max_dup_tsns`).
    dups: Vec<Tsn>,
    ack: AckState,
    seen_data: bool,
    packet_new: bool,
    packet_dup: bool,
}

/// Where unwrapped TSNs start, so that numbers up to 2^31 below the
/// initial cumulative TSN stay representable.
const UNWRAP_BASE: u64 = 1 << 33;

impl DataTracker {
    /// A tracker for a peer whose first TSN is `peer_initial_tsn` (its INIT
    /// or INIT-ACK "Initial TSN"): the cumulative TSN starts at
    /// `peer_initial_tsn - 1`.
    pub fn new(peer_initial_tsn: Tsn, cfg: DataTrackerConfig) -> Self {
        Self {
            cfg,
            cum: UNWRAP_BASE + u64::from(peer_initial_tsn.0.wrapping_sub(1)),
            ranges: VecDeque::new(),
            dups: Vec::new(),
            ack: AckState::Idle,
            seen_data: false,
            packet_new: false,
            packet_dup: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DataTrackerConfig {
        &self.cfg
    }

    /// Signed distance from the cumulative TSN to `tsn` (serial arithmetic).
    fn offset(&self, tsn: Tsn) -> i64 {
        i64::from(tsn.0.wrapping_sub(self.cum as u32) as i32)
    }

    /// Whether a DATA / I-DATA chunk with this TSN may be processed: false
    /// when it lies more than `max_tsn_window` ahead of the cumulative TSN
    /// (the association then drops the chunk unacknowledged). TSNs at or
    /// below the cumulative TSN are acceptable: they are duplicates and get
    /// reported as such.
    pub fn is_tsn_acceptable(&self, tsn: Tsn) -> bool {
        self.offset(tsn) <= i64::from(self.cfg.max_tsn_window)
    }

    /// Whether `tsn` was received already (at or below the cumulative TSN,
    /// or inside a gap-acknowledged range): a chunk carrying it is a
    /// duplicate.
    pub fn has_received(&self, tsn: Tsn) -> bool {
        let off = self.offset(tsn);
        if off <= 0 {
            return true;
        }
        let abs = self.cum.wrapping_add_signed(off);
        let i = self.ranges.partition_point(|r| r.1 < abs);
        self.ranges.get(i).is_some_and(|r| r.0 <= abs)
    }

    /// Records a DATA / I-DATA TSN. Returns true if it is new (hand the chunk
    /// to reassembly), false if it is a duplicate (recorded for the SACK's
    /// duplicate list) or unacceptable. `immediate` is the chunk's I bit.
    pub fn observe(&mut self, tsn: Tsn, immediate: bool) -> bool {
        let off = self.offset(tsn);
        if off > i64::from(self.cfg.max_tsn_window) {
            debug!(
                tsn = tsn.0,
                cum = self.cum as u32,
                "TSN beyond the receive window ignored"
            );
            return false;
        }
        let highest_before = self.highest();
        let had_gaps = !self.ranges.is_empty();
        let abs = self.cum.wrapping_add_signed(off);
        let is_new = if off <= 0 {
            false
        } else if off == 1 {
            self.cum = abs;
            self.merge_front();
            true
        } else {
            self.insert_range(abs)
        };

        // RFC 7053 §5.2 (now RFC 9260 §3.3.1, I bit): "Upon receipt of an
        // SCTP packet containing a DATA chunk with the I bit set, the receiver
        // SHOULD NOT delay the sending of the corresponding SACK chunk, i.e.,
        // the receiver SHOULD immediately respond with the corresponding SACK
        // chunk."
        if immediate {
            self.ack = AckState::Immediate;
        }

        if !is_new {
            // RFC 9260 §6.2: "When a packet arrives with duplicate DATA
            // chunk(s) and with no new DATA chunk(s), the endpoint MUST
            // immediately send a SACK chunk with no delay." Decided at the
            // end of the packet; the TSN goes into the duplicate list
            // ("The duplicate TSN number(s) SHOULD be reported in the SACK
            // chunk as duplicate."), bounded by `max_dup_tsns`.
            self.packet_dup = true;
            if self.dups.len() < self.cfg.max_dup_tsns {
                self.dups.push(tsn);
            }
            trace!(tsn = tsn.0, "duplicate TSN");
            return false;
        }
        self.packet_new = true;

        let filled_gap = had_gaps && abs < highest_before;
        if !self.ranges.is_empty() {
            // RFC 9260 §6.7: "Upon the reception of a new DATA chunk, an
            // endpoint shall examine the continuity of the TSNs received. If
            // the endpoint detects a gap in the received DATA chunk sequence,
            // it SHOULD send a SACK chunk with Gap Ack Blocks immediately. The
            // data receiver continues sending a SACK chunk after receipt of
            // each SCTP packet that doesn't fill the gap."
            self.ack = AckState::Immediate;
        } else if filled_gap {
            // RFC 9260 §6.2 follows the delayed-ack guidelines of RFC 5681
            // §4.2, which say "an ACK SHOULD be generated immediately when an
            // incoming segment fills in all or part of a gap": tell the sender
            // at once that its retransmission arrived.
            self.ack = AckState::Immediate;
        }
        if !self.seen_data {
            self.seen_data = true;
            if self.cfg.immediate_ack_on_first_data {
                // RFC 9260 §5.1: "After the reception of the first DATA chunk
                // in an association the endpoint MUST immediately respond with
                // a SACK to acknowledge the DATA chunk."
                self.ack = AckState::Immediate;
            }
        }
        // RFC 9260 §6.2: "Specifically, an acknowledgement SHOULD be
        // generated for at least every second packet (not every second DATA
        // chunk) received and SHOULD be generated within 200 ms of the
        // arrival of any unacknowledged DATA chunk."
        self.note_data_arrival();
        true
    }

    /// Delayed-ack rule for an arriving DATA (or FORWARD-TSN) chunk.
    fn note_data_arrival(&mut self) {
        match self.ack {
            AckState::Idle => self.ack = AckState::BecomingDelayed,
            AckState::Delayed { .. } => self.ack = AckState::Immediate,
            AckState::BecomingDelayed | AckState::Immediate => {}
        }
    }

    /// Call at the end of every packet that contained DATA / I-DATA (or
    /// FORWARD-TSN) chunks, accepted or not: drives the "every second
    /// packet" rule, starts the delayed-SACK timer, and applies the
    /// duplicates-only rule.
    pub fn observe_packet_end(&mut self, now: Instant) {
        if self.packet_dup && !self.packet_new {
            self.ack = AckState::Immediate;
        }
        if self.ack == AckState::BecomingDelayed {
            // (A timeout too large for the clock degrades to "SACK now".)
            self.ack = match now.checked_add(self.cfg.delayed_ack_timeout) {
                Some(deadline) => AckState::Delayed { deadline },
                None => AckState::Immediate,
            };
        }
        self.packet_dup = false;
        self.packet_new = false;
    }

    /// Whether a SACK is due now (check after
    /// [`DataTracker::observe_packet_end`] or
    /// [`DataTracker::handle_timeout`]).
    pub fn should_send_sack_now(&self) -> bool {
        self.ack == AckState::Immediate
    }

    /// When the delayed-SACK timer fires, if it runs.
    pub fn sack_deadline(&self) -> Option<Instant> {
        match self.ack {
            AckState::Delayed { deadline } => Some(deadline),
            _ => None,
        }
    }

    /// Fires the delayed-SACK timer if `now` has reached it; afterwards
    /// [`DataTracker::should_send_sack_now`] is true. Calling it early is
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let AckState::Delayed { deadline } = self.ack
            && now >= deadline
        {
            self.ack = AckState::Immediate;
        }
    }

    /// Asks for a SACK now (e.g. the association needs the cumulative TSN in
    /// a SHUTDOWN, or the window opened).
    pub fn force_sack(&mut self) {
        self.ack = AckState::Immediate;
    }

    /// Cumulative TSN Ack: every TSN up to it was received (or abandoned by
    /// FORWARD-TSN).
    pub fn cumulative_tsn_ack(&self) -> Tsn {
        Tsn(self.cum as u32)
    }

    /// The highest TSN received (the cumulative TSN when there is no gap).
    /// RFC 9260 §6.2 uses it when the window is zero: "the receiver MUST
    /// drop any new incoming DATA chunk with a TSN larger than the largest
    /// TSN received so far".
    pub fn highest_received_tsn(&self) -> Tsn {
        Tsn(self.highest() as u32)
    }

    /// Whether some TSN above the cumulative TSN is missing.
    pub fn has_gaps(&self) -> bool {
        !self.ranges.is_empty()
    }

    fn highest(&self) -> u64 {
        self.ranges.back().map_or(self.cum, |r| r.1)
    }

    /// The Gap Ack Blocks as they stand (lowest first, at most
    /// `max_gap_blocks`), relative to the cumulative TSN.
    pub fn gap_blocks(&self) -> Vec<GapBlock> {
        let mut out = Vec::with_capacity(self.ranges.len().min(self.cfg.max_gap_blocks));
        for &(start, end) in self.ranges.iter().take(self.cfg.max_gap_blocks) {
            // RFC 9260 §3.3.4: offsets are 16 bits "relative to the
            // Cumulative TSN Ack"; a range starting beyond 65535 cannot be
            // expressed (the window default keeps this theoretical).
            let (Ok(s), e) = (u16::try_from(start - self.cum), end - self.cum) else {
                break;
            };
            let e = u16::try_from(e).unwrap_or(u16::MAX);
            out.push(GapBlock { start: s, end: e });
        }
        out
    }

    /// Takes what an acknowledgement reports (cumulative TSN, gap blocks,
    /// duplicates since the last one) and resets the delayed-ack state, as
    /// sending a SACK does. Used by [`DataTracker::make_sack`] and by the
    /// multicast extension for MSACK.
    pub fn take_ack(&mut self) -> AckInfo {
        self.ack = AckState::Idle;
        AckInfo {
            cumulative_tsn_ack: self.cumulative_tsn_ack(),
            gap_blocks: self.gap_blocks(),
            dup_tsns: std::mem::take(&mut self.dups),
        }
    }

    /// Builds the SACK to send now: gap blocks relative to the cumulative
    /// TSN (lowest first, at most `max_gap_blocks`), the duplicate TSNs since
    /// the last SACK (then cleared). Resets the delayed-ack state: the caller
    /// must send it.
    pub fn make_sack(&mut self, a_rwnd: u32) -> Sack {
        let a = self.take_ack();
        Sack::new(a.cumulative_tsn_ack, a_rwnd, &a.gap_blocks, &a.dup_tsns)
    }

    /// How many TSNs after the cumulative TSN, up to and including `tsn`,
    /// have not arrived: 0 if `tsn` is at or behind the cumulative TSN. For
    /// a FORWARD-TSN (RFC 3758 §3.6), ask before
    /// [`DataTracker::handle_forward_tsn`]: the messages it skips that the
    /// receiver has nothing of each own one of these TSNs (see
    /// [`ReassemblyQueue::handle_forward_tsn`](super::ReassemblyQueue::handle_forward_tsn)).
    pub fn unreceived_through(&self, tsn: Tsn) -> u64 {
        let off = self.offset(tsn);
        if off <= 0 {
            return 0;
        }
        let end = self.cum + off as u64;
        let received: u64 = self
            .ranges
            .iter()
            .take_while(|r| r.0 <= end)
            .map(|r| r.1.min(end) - r.0 + 1)
            .sum();
        off as u64 - received
    }

    /// A FORWARD-TSN / I-FORWARD-TSN (RFC 3758 §3.6) moved the peer's
    /// cumulative TSN to `new_cumulative_tsn`.
    pub fn handle_forward_tsn(&mut self, new_cumulative_tsn: Tsn) {
        let off = self.offset(new_cumulative_tsn);
        if off <= 0 {
            // RFC 3758 §3.6: "Note, if the "New Cumulative TSN" value carried
            // in the arrived FORWARD TSN chunk is found to be behind or at the
            // current cumulative TSN point, the data receiver MUST treat this
            // FORWARD TSN as out-of-date and MUST NOT update its Cumulative
            // TSN. The receiver SHOULD send a SACK to its peer (the sender of
            // the FORWARD TSN) since such a duplicate may indicate the
            // previous SACK was lost in the network."
            self.ack = AckState::Immediate;
            return;
        }
        // RFC 3758 §3.6: "When a FORWARD TSN chunk arrives, the data receiver
        // MUST first update its cumulative TSN point to the value carried in
        // the FORWARD TSN chunk, and then MUST further advance its cumulative
        // TSN point locally if possible".
        self.cum += off as u64;
        while let Some(front) = self.ranges.front_mut() {
            if front.1 <= self.cum {
                self.ranges.pop_front();
            } else {
                if front.0 <= self.cum {
                    front.0 = self.cum + 1;
                }
                break;
            }
        }
        self.merge_front();
        self.packet_new = true;
        // RFC 3758 §3.6: "Any time a FORWARD TSN chunk arrives, for the
        // purposes of sending a SACK, the receiver MUST follow the same rules
        // as if a DATA chunk had been received (i.e., follow the delayed sack
        // rules specified in [RFC 2960] Section 6.2)." -- gaps left above the
        // new cumulative TSN therefore still mean "SACK now" (§6.7).
        if self.ranges.is_empty() {
            self.note_data_arrival();
        } else {
            self.ack = AckState::Immediate;
        }
    }

    /// If the first range now touches the cumulative TSN, absorb it.
    fn merge_front(&mut self) {
        if let Some(&(start, end)) = self.ranges.front()
            && start == self.cum + 1
        {
            self.cum = end;
            self.ranges.pop_front();
        }
    }

    /// Inserts `abs` (> cum + 1) into the ranges; false if already present.
    fn insert_range(&mut self, abs: u64) -> bool {
        // First range whose end is >= abs - 1 (could absorb abs at its end).
        let i = self.ranges.partition_point(|r| r.1 + 1 < abs);
        if let Some(r) = self.ranges.get(i)
            && r.0 <= abs
            && abs <= r.1
        {
            return false;
        }
        let joins_prev = self.ranges.get(i).is_some_and(|r| r.1 + 1 == abs);
        // The range after (index i, or i + 1 when i is the one abs extends).
        let next_i = if joins_prev { i + 1 } else { i };
        let joins_next = self.ranges.get(next_i).is_some_and(|r| r.0 == abs + 1);
        match (joins_prev, joins_next) {
            (true, true) => {
                let next_end = self.ranges[next_i].1;
                self.ranges[i].1 = next_end;
                self.ranges.remove(next_i);
            }
            (true, false) => self.ranges[i].1 = abs,
            (false, true) => self.ranges[next_i].0 = abs,
            (false, false) => self.ranges.insert(i, (abs, abs)),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arbitrary origin for the virtual clock: only durations matter.
    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    fn tracker(initial: u32) -> DataTracker {
        DataTracker::new(Tsn(initial), DataTrackerConfig::default())
    }

    /// A tracker that already acknowledged its first packet, so the
    /// first-DATA rule does not mask the rule under test.
    fn warmed(initial: u32) -> (DataTracker, Instant) {
        let now = epoch();
        let mut t = tracker(initial);
        assert!(t.observe(Tsn(initial), false));
        t.observe_packet_end(now);
        assert!(
            t.should_send_sack_now(),
            "first DATA is acknowledged at once"
        );
        t.make_sack(1000);
        (t, now)
    }

    fn gaps(t: &DataTracker) -> Vec<(u16, u16)> {
        t.gap_blocks().iter().map(|g| (g.start, g.end)).collect()
    }

    #[test]
    fn cumulative_tsn_starts_one_below_the_initial_tsn() {
        let t = tracker(100);
        assert_eq!(t.cumulative_tsn_ack(), Tsn(99));
        assert_eq!(tracker(0).cumulative_tsn_ack(), Tsn(u32::MAX));
    }

    #[test]
    fn in_order_arrival_advances_the_cumulative_tsn() {
        let mut t = tracker(10);
        for tsn in 10..20 {
            assert!(t.observe(Tsn(tsn), false));
        }
        assert_eq!(t.cumulative_tsn_ack(), Tsn(19));
        assert!(!t.has_gaps());
        assert!(t.gap_blocks().is_empty());
    }

    #[test]
    fn reordered_tsns_make_gap_blocks_that_close_when_filled() {
        let mut t = tracker(10);
        assert!(t.observe(Tsn(10), false));
        assert!(t.observe(Tsn(12), false));
        assert!(t.observe(Tsn(13), false));
        assert!(t.observe(Tsn(16), false));
        assert_eq!(t.cumulative_tsn_ack(), Tsn(10));
        assert_eq!(gaps(&t), vec![(2, 3), (6, 6)]);
        assert!(t.observe(Tsn(15), false));
        assert_eq!(gaps(&t), vec![(2, 3), (5, 6)]);
        assert!(t.observe(Tsn(14), false), "joins two ranges");
        assert_eq!(gaps(&t), vec![(2, 6)]);
        assert!(t.observe(Tsn(11), false));
        assert_eq!(t.cumulative_tsn_ack(), Tsn(16));
        assert!(!t.has_gaps());
        assert_eq!(t.highest_received_tsn(), Tsn(16));
    }

    #[test]
    fn duplicates_are_reported_once_per_sack_and_bounded() {
        let mut t = tracker(1);
        assert!(t.observe(Tsn(1), false));
        assert!(t.observe(Tsn(3), false));
        assert!(!t.observe(Tsn(1), false), "at or below cum");
        assert!(!t.observe(Tsn(3), false), "inside a gap block");
        let sack = t.make_sack(500);
        assert_eq!(sack.dup_tsns().collect::<Vec<_>>(), vec![Tsn(1), Tsn(3)]);
        assert_eq!(sack.a_rwnd, 500);
        assert_eq!(t.make_sack(500).dup_count(), 0, "cleared after a SACK");

        for _ in 0..100 {
            t.observe(Tsn(1), false);
        }
        assert_eq!(t.make_sack(0).dup_count(), 32);
    }

    #[test]
    fn gap_blocks_are_relative_to_cum_across_the_tsn_wrap() {
        let mut t = tracker(u32::MAX - 2);
        assert!(t.observe(Tsn(u32::MAX - 2), false));
        assert!(t.observe(Tsn(u32::MAX), false));
        assert!(t.observe(Tsn(1), false));
        assert!(t.observe(Tsn(2), false));
        assert_eq!(t.cumulative_tsn_ack(), Tsn(u32::MAX - 2));
        assert_eq!(gaps(&t), vec![(2, 2), (4, 5)]);
        let sack = t.make_sack(1);
        assert_eq!(sack.cumulative_tsn_ack, Tsn(u32::MAX - 2));
        let blocks: Vec<_> = sack.gap_blocks().collect();
        assert_eq!(blocks[1].first(sack.cumulative_tsn_ack), Tsn(1));
        assert_eq!(blocks[1].last(sack.cumulative_tsn_ack), Tsn(2));
        assert!(t.observe(Tsn(u32::MAX - 1), false));
        assert!(t.observe(Tsn(0), false));
        assert_eq!(t.cumulative_tsn_ack(), Tsn(2));
        assert!(!t.has_gaps());
    }

    #[test]
    fn gap_block_count_is_bounded_lowest_first() {
        let cfg = DataTrackerConfig {
            max_gap_blocks: 3,
            ..DataTrackerConfig::default()
        };
        let mut t = DataTracker::new(Tsn(0), cfg);
        for tsn in (2..20).step_by(2) {
            t.observe(Tsn(tsn), false);
        }
        assert_eq!(gaps(&t), vec![(3, 3), (5, 5), (7, 7)]);
    }

    #[test]
    fn tsns_beyond_the_window_are_refused() {
        let cfg = DataTrackerConfig {
            max_tsn_window: 100,
            ..DataTrackerConfig::default()
        };
        let mut t = DataTracker::new(Tsn(1000), cfg);
        assert!(t.is_tsn_acceptable(Tsn(1099)));
        assert!(t.is_tsn_acceptable(Tsn(999)), "a duplicate is acceptable");
        assert!(t.is_tsn_acceptable(Tsn(500)), "an old duplicate too");
        assert!(!t.is_tsn_acceptable(Tsn(1100)));
        assert!(!t.observe(Tsn(1100), false), "observe refuses it as well");
        assert!(!t.has_gaps());
        assert_eq!(
            t.make_sack(0).dup_count(),
            0,
            "and does not call it a duplicate"
        );
    }

    #[test]
    fn sacks_every_second_packet() {
        let (mut t, now) = warmed(1);
        assert!(t.observe(Tsn(2), false));
        assert!(t.observe(Tsn(3), false));
        t.observe_packet_end(now);
        assert!(!t.should_send_sack_now(), "one packet: delayed");
        assert!(t.sack_deadline().is_some());
        assert!(t.observe(Tsn(4), false));
        t.observe_packet_end(now);
        assert!(t.should_send_sack_now(), "second packet: SACK now");
        let sack = t.make_sack(100);
        assert_eq!(sack.cumulative_tsn_ack, Tsn(4));
        assert!(!t.should_send_sack_now());
        assert_eq!(t.sack_deadline(), None);
    }

    #[test]
    fn delayed_sack_timer_fires_after_200_ms() {
        let (mut t, now) = warmed(1);
        assert!(t.observe(Tsn(2), false));
        t.observe_packet_end(now);
        let deadline = t.sack_deadline().expect("timer runs");
        assert_eq!(deadline, now + Duration::from_millis(200));
        t.handle_timeout(now + Duration::from_millis(199));
        assert!(!t.should_send_sack_now(), "early call is harmless");
        t.handle_timeout(deadline);
        assert!(t.should_send_sack_now());
        assert_eq!(t.sack_deadline(), None);
    }

    #[test]
    fn first_data_chunk_is_acknowledged_immediately() {
        let mut t = tracker(7);
        assert!(t.observe(Tsn(7), false));
        t.observe_packet_end(epoch());
        assert!(t.should_send_sack_now());

        let mut m = DataTracker::new(
            Tsn(7),
            DataTrackerConfig {
                immediate_ack_on_first_data: false,
                ..DataTrackerConfig::default()
            },
        );
        assert!(m.observe(Tsn(7), false));
        m.observe_packet_end(epoch());
        assert!(!m.should_send_sack_now(), "can be turned off (MTSN use)");
    }

    #[test]
    fn sacks_immediately_on_a_gap_and_while_gaps_exist() {
        let (mut t, now) = warmed(1);
        assert!(t.observe(Tsn(3), false));
        t.observe_packet_end(now);
        assert!(t.should_send_sack_now(), "gap detected");
        t.make_sack(0);
        assert!(t.observe(Tsn(4), false));
        t.observe_packet_end(now);
        assert!(
            t.should_send_sack_now(),
            "packet that does not fill the gap"
        );
    }

    #[test]
    fn sacks_immediately_when_a_gap_is_filled() {
        let (mut t, now) = warmed(1);
        assert!(t.observe(Tsn(3), false));
        t.observe_packet_end(now);
        t.make_sack(0);
        assert!(t.observe(Tsn(2), false));
        t.observe_packet_end(now);
        assert!(!t.has_gaps());
        assert!(t.should_send_sack_now(), "retransmission filled the gap");
    }

    #[test]
    fn sacks_immediately_on_a_packet_of_only_duplicates() {
        let (mut t, now) = warmed(1);
        assert!(!t.observe(Tsn(1), false));
        t.observe_packet_end(now);
        assert!(t.should_send_sack_now());
        let sack = t.make_sack(0);
        assert_eq!(sack.dup_tsns().collect::<Vec<_>>(), vec![Tsn(1)]);

        // Duplicates bundled with new data follow the normal delayed rule.
        assert!(!t.observe(Tsn(1), false));
        assert!(t.observe(Tsn(2), false));
        t.observe_packet_end(now);
        assert!(!t.should_send_sack_now());
        assert_eq!(t.make_sack(0).dup_count(), 1);
    }

    #[test]
    fn immediate_bit_asks_for_a_sack_now() {
        let (mut t, now) = warmed(1);
        assert!(t.observe(Tsn(2), true));
        t.observe_packet_end(now);
        assert!(t.should_send_sack_now());
    }

    #[test]
    fn force_sack_makes_a_sack_due() {
        let (mut t, _) = warmed(1);
        assert!(!t.should_send_sack_now());
        t.force_sack();
        assert!(t.should_send_sack_now());
    }

    #[test]
    fn forward_tsn_advances_cum_and_drops_covered_gap_blocks() {
        let (mut t, now) = warmed(1);
        for tsn in [3, 4, 6, 9, 10] {
            assert!(t.observe(Tsn(tsn), false));
        }
        t.make_sack(0);
        t.handle_forward_tsn(Tsn(5));
        // cum 5, then 6 was received: cum 6; 9-10 remain.
        assert_eq!(t.cumulative_tsn_ack(), Tsn(6));
        assert_eq!(gaps(&t), vec![(3, 4)]);
        assert!(t.should_send_sack_now(), "gaps remain: SACK now");
        t.make_sack(0);

        t.handle_forward_tsn(Tsn(9));
        assert_eq!(t.cumulative_tsn_ack(), Tsn(10), "advances locally past 10");
        assert!(!t.has_gaps());
        t.observe_packet_end(now);
        assert!(!t.should_send_sack_now(), "delayed rules like a DATA chunk");
        assert!(t.sack_deadline().is_some());

        assert!(
            !t.observe(Tsn(8), false),
            "abandoned TSN arriving late is a duplicate"
        );
    }

    #[test]
    fn unreceived_through_counts_the_holes_up_to_a_tsn() {
        let (mut t, _) = warmed(1);
        for tsn in [3, 4, 6, 9, 10] {
            assert!(t.observe(Tsn(tsn), false));
        }
        // cum 1; 2, 5, 7, 8 missing below 10.
        assert_eq!(t.unreceived_through(Tsn(1)), 0, "at the cumulative TSN");
        assert_eq!(t.unreceived_through(Tsn(0)), 0, "behind it");
        assert_eq!(t.unreceived_through(Tsn(2)), 1);
        assert_eq!(t.unreceived_through(Tsn(4)), 1);
        assert_eq!(t.unreceived_through(Tsn(8)), 4);
        assert_eq!(t.unreceived_through(Tsn(10)), 4);
        assert_eq!(t.unreceived_through(Tsn(12)), 6);
    }

    #[test]
    fn outdated_forward_tsn_is_ignored_but_sacked() {
        let (mut t, _) = warmed(1);
        assert!(t.observe(Tsn(2), false));
        t.make_sack(0);
        t.handle_forward_tsn(Tsn(2));
        assert_eq!(t.cumulative_tsn_ack(), Tsn(2));
        assert!(t.should_send_sack_now());
    }

    #[test]
    fn forward_tsn_across_the_wrap() {
        let mut t = tracker(u32::MAX - 1);
        assert!(t.observe(Tsn(u32::MAX - 1), false));
        assert!(t.observe(Tsn(2), false));
        t.handle_forward_tsn(Tsn(1));
        assert_eq!(t.cumulative_tsn_ack(), Tsn(2));
    }

    proptest::proptest! {
        /// The range structure agrees with a plain set of received TSNs.
        #[test]
        fn ranges_match_a_naive_model(
            initial in proptest::prelude::any::<u32>(),
            offsets in proptest::collection::vec(0u32..300, 1..300),
            forward in proptest::option::of(0u32..300),
        ) {
            let cfg = DataTrackerConfig {
                max_gap_blocks: 1000,
                ..DataTrackerConfig::default()
            };
            let mut t = DataTracker::new(Tsn(initial), cfg);
            let mut seen = std::collections::BTreeSet::new();
            let mut cum: u32 = 0; // offset of the first TSN not yet cumulative
            for (i, off) in offsets.iter().enumerate() {
                let tsn = Tsn(initial.wrapping_add(*off));
                let new = t.observe(tsn, false);
                proptest::prop_assert_eq!(new, *off >= cum && seen.insert(*off));
                while seen.contains(&cum) {
                    cum += 1;
                }
                if i == offsets.len() / 2 && let Some(f) = forward && f >= cum {
                    let holes = (cum..=f).filter(|x| !seen.contains(x)).count() as u64;
                    proptest::prop_assert_eq!(
                        t.unreceived_through(Tsn(initial.wrapping_add(f))),
                        holes
                    );
                    t.handle_forward_tsn(Tsn(initial.wrapping_add(f)));
                    for x in cum..=f {
                        seen.insert(x);
                    }
                    while seen.contains(&cum) {
                        cum += 1;
                    }
                }
                proptest::prop_assert_eq!(t.cumulative_tsn_ack(), Tsn(initial.wrapping_add(cum).wrapping_sub(1)));
                // Gap blocks list exactly the received offsets above cum.
                let mut from_blocks = Vec::new();
                for g in t.gap_blocks() {
                    for o in g.start..=g.end {
                        from_blocks.push(cum + u32::from(o) - 1);
                    }
                }
                let above: Vec<u32> = seen.range(cum..).copied().collect();
                proptest::prop_assert_eq!(from_blocks, above);
            }
        }
    }
}
