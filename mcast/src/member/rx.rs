//! The member's group receive path (draft §"Receiving MDATA", §"Wrap-Safe
//! Comparison of MTSNs", §"Abandoning Group Messages"): MDATA from either
//! path, deduplicated by MTSN, reassembled per (stream, U, MID) and
//! delivered whole, ordered messages in order per group stream.
//!
//! It reuses core's receive machinery, which was built for this: MTSNs are
//! tracked by a [`DataTracker`] (a sliding cumulative ack, gap blocks and
//! duplicates, wrap-safe for ever because every comparison is against the
//! cumulative ack) and messages are reassembled by an interleaved
//! [`ReassemblyQueue`] (MDATA has the I-DATA layout). Two things are the
//! extension's own:
//!
//! - chunks reach reassembly in MTSN order, once the cumulative ack has
//!   passed them. A fragment without B whose message's first fragment was
//!   not fed before it belongs to a message that began before the member's
//!   Start MTSN, and is discarded (step 5 of §"Receiving MDATA");
//! - a late joiner's first ordered message on a stream has some MID m, not
//!   0. MIDs are translated to the member's own numbering (MID - m, so the
//!   queue always starts at 0) and back on delivery, which keeps the queue's
//!   serial comparisons valid whatever m is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use mcsctp_core::chunk::GapBlock;
use mcsctp_core::rx::data_tracker::{DataTracker, DataTrackerConfig};
use mcsctp_core::rx::reassembly::{
    Delivery, DeliveryKind, Origin, ReassemblyConfig, ReassemblyQueue,
};
use mcsctp_core::serial::{Mid, StreamId, Tsn};
use mcsctp_core::user_data::UserDataChunk;

use crate::Mtsn;

/// Limits of a member's group receive path.
#[derive(Debug, Clone)]
pub struct GroupReceiverConfig {
    /// Mcast.Mtsn.Reach: MTSNs further than this ahead of the cumulative
    /// ack are discarded, and the Highest Known MTSN never goes beyond it.
    pub reach: u32,
    /// Mcast.Member.ReceiveBuffer: octets of MDATA held before delivery
    /// (what a_grwnd advertises), and the reassembly limits.
    pub reassembly: ReassemblyConfig,
    /// Octets of MDATA kept before the Start MTSN is known.
    pub early_limit: usize,
}

impl Default for GroupReceiverConfig {
    fn default() -> Self {
        Self {
            reach: crate::defaults::MTSN_REACH,
            reassembly: ReassemblyConfig {
                buffer_limit: crate::defaults::MEMBER_RECEIVE_BUFFER as usize,
                ..ReassemblyConfig::default()
            },
            early_limit: 64 * 1024,
        }
    }
}

/// What became of one MDATA chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A new MTSN: stored.
    New,
    /// Held already (received or abandoned): recorded as a duplicate.
    Duplicate,
    /// Kept until the Start MTSN is known.
    Early,
    /// Dropped: out of reach, before the start, or no buffer.
    Discarded,
}

/// What an MSACK reports about MTSNs (draft §"MSACK").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReport {
    /// Cumulative MTSN Ack.
    pub cumulative: Mtsn,
    /// Reported Through: the highest MTSN the gap report covers.
    pub reported_through: Mtsn,
    /// Gap Ack Blocks relative to `cumulative`, lowest first.
    pub gap_blocks: Vec<GapBlock>,
    /// Duplicate MTSNs since the previous report.
    pub duplicates: Vec<Mtsn>,
    /// a_grwnd: free octets of the group receive buffer.
    pub a_grwnd: u32,
}

/// A member's group receive state.
#[derive(Debug)]
pub struct GroupReceiver {
    cfg: GroupReceiverConfig,
    /// The Initial MTSN of the Multicast-Group parameter (only for early
    /// buffering: it is stale by the time the Start MTSN is known).
    initial: Mtsn,
    tracker: Option<DataTracker>,
    /// The cumulative ack, unwrapped (mirrors the tracker's).
    cum: u64,
    /// Chunks received ahead of the cumulative ack, by unwrapped MTSN.
    pending: BTreeMap<u64, UserDataChunk>,
    pending_bytes: usize,
    /// Chunks that arrived before the Start MTSN was known.
    early: Vec<(Mtsn, UserDataChunk)>,
    early_bytes: usize,
    reasm: ReassemblyQueue,
    /// Messages whose first fragment was fed and whose last was not:
    /// (stream, unordered, MID).
    open: HashSet<(u16, bool, u32)>,
    /// Per (stream, unordered): the group MID that is the member's 0.
    first_mid: HashMap<(u16, bool), u32>,
    /// The MTSN of the first fragment of each message in reassembly, by
    /// (stream, unordered, the member's MID), for unicast-first barriers
    /// (draft §"Semantics": they hold messages by that MTSN).
    first_mtsn: HashMap<(u16, bool, u32), Mtsn>,
    /// Highest Known MTSN, kept only while ahead of the cumulative ack.
    highest_known: Option<Mtsn>,
    /// Group Received Count (draft §"MSACK"): MDATA chunks from the group
    /// path, duplicates included, modulo 2^32.
    pub group_received: u32,
    /// The MTSN of the MDATA chunk most recently received on the
    /// association.
    pub last_unicast: Option<Mtsn>,
    /// New MDATA chunks since the last [`take_ack`](Self::take_ack).
    new_since_ack: u32,
    /// Times a new gap opened (an MTSN arrived, or became known, beyond
    /// the highest received plus one).
    gaps_opened: u64,
    /// Octets of group messages delivered that the application has not
    /// read yet ([`set_unread`](Self::set_unread)).
    unread: usize,
}

impl GroupReceiver {
    /// A receiver for a group whose Multicast-Group parameter announced
    /// `initial`; it delivers nothing until [`set_start`](Self::set_start).
    pub fn new(cfg: GroupReceiverConfig, initial: Mtsn) -> Self {
        let reasm = ReassemblyQueue::new(cfg.reassembly.clone(), true);
        Self {
            cfg,
            initial,
            tracker: None,
            cum: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            early: Vec::new(),
            early_bytes: 0,
            reasm,
            open: HashSet::new(),
            first_mid: HashMap::new(),
            first_mtsn: HashMap::new(),
            highest_known: None,
            group_received: 0,
            last_unicast: None,
            new_since_ack: 0,
            gaps_opened: 0,
            unread: 0,
        }
    }

    /// Whether the Start MTSN is known.
    pub fn started(&self) -> bool {
        self.tracker.is_some()
    }

    /// The member's Start MTSN arrived (draft §"Server: Start MTSN"): the
    /// cumulative ack becomes `start - 1`, and chunks kept early are
    /// processed (those not ahead of it are dropped). A second call (a
    /// retransmitted Start parameter) changes nothing.
    pub fn set_start(&mut self, now: Instant, start: Mtsn) {
        if self.tracker.is_some() {
            return;
        }
        let cfg = DataTrackerConfig {
            max_gap_blocks: usize::from(u16::MAX),
            max_dup_tsns: 64,
            max_tsn_window: self.cfg.reach,
            immediate_ack_on_first_data: false,
            ..DataTrackerConfig::default()
        };
        self.tracker = Some(DataTracker::new(Tsn(start.0), cfg));
        // Unwrapped, with the tracker's cumulative ack in its low bits.
        self.cum = (1 << 33) + u64::from(start.0.wrapping_sub(1));
        self.early_bytes = 0;
        for (mtsn, chunk) in std::mem::take(&mut self.early) {
            self.on_mdata(now, mtsn, chunk, None);
        }
    }

    /// The cumulative MTSN ack (the sliding base), once started.
    pub fn cumulative(&self) -> Option<Mtsn> {
        self.tracker
            .as_ref()
            .map(|t| Mtsn(t.cumulative_tsn_ack().0))
    }

    /// Processes one MDATA chunk (draft §"Receiving MDATA" steps 2-5).
    /// `via_group` is true for a chunk of a group packet (counted in the
    /// Group Received Count), false for one from the association.
    pub fn on_mdata(
        &mut self,
        now: Instant,
        mtsn: Mtsn,
        chunk: UserDataChunk,
        path: Option<Path>,
    ) -> Received {
        match path {
            Some(Path::Group) => self.group_received = self.group_received.wrapping_add(1),
            Some(Path::Association) => self.last_unicast = Some(mtsn),
            None => {}
        }
        let Some(tracker) = self.tracker.as_mut() else {
            // Step 2: before the start, keep what may belong to us.
            let len = chunk.payload.len();
            if mtsn.is_at_or_after(self.initial) && self.early_bytes + len <= self.cfg.early_limit {
                self.early_bytes += len;
                self.early.push((mtsn, chunk));
                return Received::Early;
            }
            return Received::Discarded;
        };
        // Step 3: wrap-safe, against the cumulative ack only.
        let cum = Mtsn(tracker.cumulative_tsn_ack().0);
        let ahead = mtsn.0.wrapping_sub(cum.0);
        if ahead == 0 || ahead > 1 << 31 {
            // At or behind the base: a duplicate if within reach below.
            if cum.0.wrapping_sub(mtsn.0) < self.cfg.reach {
                tracker.observe(Tsn(mtsn.0), false);
                return Received::Duplicate;
            }
            return Received::Discarded;
        }
        if ahead > self.cfg.reach {
            return Received::Discarded;
        }
        if tracker.has_received(Tsn(mtsn.0)) {
            tracker.observe(Tsn(mtsn.0), false);
            return Received::Duplicate;
        }
        let len = chunk.payload.len();
        let limit = self.cfg.reassembly.buffer_limit;
        let full = self.pending_bytes + self.reasm.buffered_bytes() + self.unread + len > limit;
        if full && (ahead != 1 || self.unread + len > limit) {
            // Step 3: no buffer, and not the chunk that moves the base (or
            // the application's unread messages alone fill the buffer:
            // moving the base would only add to them).
            return Received::Discarded;
        }
        let highest = tracker.highest_received_tsn().0;
        if mtsn.0.wrapping_sub(highest).wrapping_sub(1) < 1 << 31
            && mtsn.0 != highest.wrapping_add(1)
        {
            self.gaps_opened += 1;
        }
        tracker.observe(Tsn(mtsn.0), false);
        self.new_since_ack += 1;
        self.pending.insert(self.cum + u64::from(ahead), chunk);
        self.pending_bytes += len;
        self.raise_highest_known(mtsn);
        self.advance(now);
        Received::New
    }

    /// Raises the Highest Known MTSN (from MDATA, MSYNC Highest MTSN Sent or
    /// a D=0 BARRIER), never beyond the reach (draft step 4).
    pub fn raise_highest_known(&mut self, mtsn: Mtsn) {
        let Some(cum) = self.cumulative() else {
            return;
        };
        let ahead = mtsn.0.wrapping_sub(cum.0);
        if ahead == 0 || ahead > self.cfg.reach {
            return;
        }
        match self.highest_known {
            Some(h) if h.is_after(cum) && !mtsn.is_after(h) => {}
            _ => {
                self.highest_known = Some(mtsn);
                let received = self
                    .tracker
                    .as_ref()
                    .map(|t| Mtsn(t.highest_received_tsn().0));
                if received.is_some_and(|r| mtsn.is_after(r)) {
                    self.gaps_opened += 1;
                }
            }
        }
    }

    /// How many times a new gap has opened: a loss report is due when this
    /// moves (draft §"Acknowledgement: MSACK Timing and Feedback Scaling",
    /// "Loss reports").
    pub fn gaps_opened(&self) -> u64 {
        self.gaps_opened
    }

    /// Whether some MTSN the member knows was sent is missing.
    pub fn has_missing(&self) -> bool {
        let Some(t) = self.tracker.as_ref() else {
            return false;
        };
        let cum = Mtsn(t.cumulative_tsn_ack().0);
        t.has_gaps()
            || self
                .highest_known
                .is_some_and(|h| h.is_after(cum) && h.is_after(Mtsn(t.highest_received_tsn().0)))
    }

    /// The MTSNs reported missing now: those after the cumulative ack up to
    /// the Highest Known MTSN that are not held, at most `max` of them.
    pub fn missing(&self, max: usize) -> Vec<Mtsn> {
        let Some(t) = self.tracker.as_ref() else {
            return Vec::new();
        };
        let Some(top) = self.reported_through() else {
            return Vec::new();
        };
        let cum = t.cumulative_tsn_ack().0;
        let n = top.0.wrapping_sub(cum);
        (1..=n)
            .map(|i| Mtsn(cum.wrapping_add(i)))
            .filter(|m| !t.has_received(Tsn(m.0)))
            .take(max)
            .collect()
    }

    /// Reported Through before truncation: the highest MTSN the member
    /// knows the server has sent, received or announced (the Highest Known
    /// MTSN), never below the cumulative ack; once started.
    pub fn reported_through(&self) -> Option<Mtsn> {
        let t = self.tracker.as_ref()?;
        let cum = Mtsn(t.cumulative_tsn_ack().0);
        let highest = Mtsn(t.highest_received_tsn().0);
        Some(match self.highest_known {
            Some(h) if h.is_after(highest) => h,
            _ => highest,
        })
        .map(|m| if m.is_after(cum) { m } else { cum })
    }

    /// What an MSACK reports now, with at most `max_blocks` gap blocks and
    /// `max_dups` duplicates (draft §"MSACK": when the blocks do not all
    /// fit, Reported Through is lowered to the end of the last one, so
    /// that truncation never reports a held MTSN missing). Resets the
    /// count of new chunks. `None` before the start.
    pub fn take_ack(&mut self, max_blocks: usize, max_dups: usize) -> Option<AckReport> {
        let through = self.reported_through()?;
        let free = self.free_buffer();
        let t = self.tracker.as_mut()?;
        let mut info = t.take_ack();
        let cum = Mtsn(info.cumulative_tsn_ack.0);
        let mut reported_through = through;
        if info.gap_blocks.len() > max_blocks {
            info.gap_blocks.truncate(max_blocks);
            let end = info.gap_blocks.last().map_or(0, |b| u32::from(b.end));
            reported_through = cum.wrapping_add(end);
        }
        info.dup_tsns.truncate(max_dups);
        self.new_since_ack = 0;
        Some(AckReport {
            cumulative: cum,
            reported_through,
            gap_blocks: info.gap_blocks,
            duplicates: info.dup_tsns.into_iter().map(|t| Mtsn(t.0)).collect(),
            a_grwnd: u32::try_from(free).unwrap_or(u32::MAX),
        })
    }

    /// New MDATA chunks since the last [`take_ack`](Self::take_ack).
    pub fn new_since_ack(&self) -> u32 {
        self.new_since_ack
    }

    /// Abandonment (the Forward parameter, draft §"Abandoning Group
    /// Messages"): every MTSN up to `new_cumulative` not received is
    /// abandoned, and each skip point (stream, unordered, MID) ends the
    /// messages of its stream up to that MID. Received chunks at or below
    /// the new base still reach reassembly first.
    pub fn apply_forward(
        &mut self,
        now: Instant,
        new_cumulative: Mtsn,
        skips: impl IntoIterator<Item = (StreamId, bool, Mid)>,
    ) {
        let Some(t) = self.tracker.as_mut() else {
            return;
        };
        let cum = t.cumulative_tsn_ack().0;
        let ahead = new_cumulative.0.wrapping_sub(cum);
        // MTSNs the abandonment covers that never arrived: each one may
        // stand for a skipped message (core's plausibility check).
        let mut unreceived = 0;
        if ahead == 0 || ahead > self.cfg.reach {
            // Old, or beyond anything the server could have sent us.
        } else {
            unreceived = t.unreceived_through(Tsn(new_cumulative.0));
            t.handle_forward_tsn(Tsn(new_cumulative.0));
            self.advance(now);
        }
        let mut entries = Vec::new();
        for (stream, unordered, mid) in skips {
            let key = (stream.0, unordered);
            match self.first_mid.get(&key) {
                Some(&first) => {
                    entries.push((stream, unordered, Mid(mid.0.wrapping_sub(first))));
                }
                None => {
                    // The stream's first message is the one after the
                    // skip point.
                    self.first_mid.insert(key, mid.0.wrapping_add(1));
                }
            }
            self.open.retain(|&(s, u, m)| {
                !(s == stream.0 && u == unordered && Mid(m).is_at_or_before(mid))
            });
        }
        if !entries.is_empty() {
            let new_cum = self
                .tracker
                .as_ref()
                .map_or(Tsn(0), |t| t.cumulative_tsn_ack());
            // The control state comes over the member's own association;
            // a skip core finds implausible is ignored (the server sends
            // its control state again until echoed).
            if let Err(e) = self
                .reasm
                .handle_iforward_tsn(new_cum, unreceived, entries.into_iter())
            {
                tracing::debug!(error = %e, "implausible group skip ignored");
            }
        }
    }

    /// Feeds reassembly with every chunk the cumulative ack has passed, in
    /// MTSN order.
    fn advance(&mut self, now: Instant) {
        let Some(t) = self.tracker.as_ref() else {
            return;
        };
        let new_cum = t.cumulative_tsn_ack().0;
        let moved = new_cum.wrapping_sub(self.cum as u32);
        self.cum += u64::from(moved);
        if let Some(h) = self.highest_known
            && !h.is_after(Mtsn(new_cum))
        {
            self.highest_known = None;
        }
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.cum {
                break;
            }
            let mtsn = Mtsn(*entry.key() as u32);
            let chunk = entry.remove();
            self.pending_bytes -= chunk.payload.len();
            self.feed(now, mtsn, chunk);
        }
    }

    /// One chunk, in MTSN order, into reassembly (draft step 5).
    fn feed(&mut self, now: Instant, mtsn: Mtsn, mut chunk: UserDataChunk) {
        let key = (chunk.stream.0, chunk.flags.is_unordered());
        let id = (key.0, key.1, chunk.mid.0);
        if chunk.flags.is_begin() {
            self.first_mid.entry(key).or_insert(chunk.mid.0);
            if !chunk.flags.is_end() {
                self.open.insert(id);
            }
        } else if !self.open.contains(&id) {
            // Its first fragment was never fed: the message began before
            // the Start MTSN (or was abandoned). Not ours to deliver.
            return;
        } else if chunk.flags.is_end() {
            self.open.remove(&id);
        }
        let Some(&first) = self.first_mid.get(&key) else {
            return;
        };
        chunk.mid = Mid(chunk.mid.0.wrapping_sub(first));
        if chunk.flags.is_begin() {
            if self.first_mtsn.len() >= FIRST_MTSN_PRUNE {
                // Messages that never completed (skipped, or dropped by
                // the reassembly timer) leave entries behind: those far
                // behind the base go.
                let cum = Mtsn(self.cum as u32);
                let reach = self.cfg.reach;
                self.first_mtsn
                    .retain(|_, m| cum.0.wrapping_sub(m.0) < reach);
            }
            self.first_mtsn.insert((key.0, key.1, chunk.mid.0), mtsn);
        }
        // The reassembly queue only orders by it; the MTSN is the TSN.
        self.reasm.add(now, Tsn(0), chunk);
    }

    /// The next whole group message, marked as the extension's, with the
    /// group's own MID.
    pub fn poll_delivery(&mut self) -> Option<Delivery> {
        self.poll_delivery_at().map(|(_, d)| d)
    }

    /// [`poll_delivery`](Self::poll_delivery), with the MTSN of the
    /// message's first fragment (when known: always, unless the message was
    /// kept in reassembly through a huge number of others).
    pub fn poll_delivery_at(&mut self) -> Option<(Option<Mtsn>, Delivery)> {
        let mut d = self.reasm.poll()?;
        // Every piece of a message delivered in pieces names its first
        // MTSN; the entry goes with the last.
        let key = (d.stream.0, d.unordered, d.mid.0);
        let first_mtsn = match d.kind {
            DeliveryKind::Piece {
                end_of_record: false,
                ..
            } => self.first_mtsn.get(&key).copied(),
            _ => self.first_mtsn.remove(&key),
        };
        if let Some(&first) = self.first_mid.get(&(d.stream.0, d.unordered)) {
            d.mid = Mid(d.mid.0.wrapping_add(first));
        }
        d.origin = Origin::Extension;
        Some((first_mtsn, d))
    }

    /// Octets of MDATA held (out of order, in reassembly, or undelivered).
    pub fn buffered_bytes(&self) -> usize {
        self.pending_bytes + self.reasm.buffered_bytes() + self.early_bytes
    }

    fn free_buffer(&self) -> usize {
        self.cfg
            .reassembly
            .buffer_limit
            .saturating_sub(self.buffered_bytes() + self.unread)
    }

    /// Octets of this group's messages delivered that the application has
    /// not read yet: they count against the receive buffer (a_grwnd and the
    /// step-3 discard), so that a member whose application stops reading
    /// closes its window instead of buffering without bound.
    pub fn set_unread(&mut self, octets: usize) {
        self.unread = octets;
    }

    /// The reassembly timer (incomplete messages, draft §"Receiving MDATA").
    pub fn deadline(&self) -> Option<Instant> {
        self.reasm.deadline()
    }

    /// Handles the reassembly timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.reasm.handle_timeout(now);
    }
}

/// Entries of the first-fragment MTSNs beyond which the stale ones are
/// pruned.
const FIRST_MTSN_PRUNE: usize = 4096;

/// Which path an MDATA chunk came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// A group packet.
    Group,
    /// The member's association (a repair or fallback data).
    Association,
}

#[cfg(test)]
mod tests;
