//! The group sender's core (draft §"Sending MDATA", §"Repair",
//! §"Multicast Cumulative TSN, Buffer Release and the Group Window",
//! §"Unicast Fallback and Return", §"Backlog Limits and Eviction"),
//! independent of how chunks reach the wire: which MTSN goes next, which
//! member needs what by unicast, what is repaired by multicast, what is
//! released, and which member changes state.
//!
//! Group messages are fragmented by core's [`SendQueue`] in its I-DATA
//! mode (one message at a time per group stream, MIDs per stream and
//! ordering, fragments of different streams interleaved), exactly the
//! layout MDATA carries. MTSNs are assigned when a fragment is first
//! transmitted. Internally every MTSN is an unwrapped `u64` whose low 32
//! bits are the wire value, so nothing here compares across a wrap; wire
//! MTSNs from members are mapped back against a sliding base (the
//! member's cumulative ack).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::congestion::{ControllerFactory, WestwoodConfig};
use mcsctp_core::event::AssociationHandle;
use mcsctp_core::serial::{Mid, Ppid, StreamId};
use mcsctp_core::tx::send_queue::{
    MessageKey, OutgoingMessage, SendError, SendQueue, SendQueueConfig,
};
use mcsctp_core::user_data::UserDataChunk;

use super::acks::AckSet;
use super::cc::GroupWindow;
use crate::Mtsn;

/// A member, named by its association.
pub type MemberId = AssociationHandle;

/// Where a member stands (draft §"Member States at the Server").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// Joined, presumed reachable: repaired by unicast, never holds the
    /// group back, not yet confirmed (draft §"Presumed Reachable").
    Joining,
    /// Confirmed, catching up: active for MTSNs from its return point on.
    Returning,
    /// Active on the group path.
    Multicast,
    /// Receives every MTSN over its association.
    Fallback,
}

impl MemberKind {
    /// Whether the member holds the group back (buffer release, windows,
    /// repair counting).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Multicast | Self::Returning)
    }
}

/// Settings of one group's sender (the draft's Protocol Parameters; the
/// runtime derives the timers from RTT).
#[derive(Debug, Clone)]
pub struct GroupSenderConfig {
    /// The first MTSN the group assigns.
    pub initial_mtsn: Mtsn,
    /// Number of group streams.
    pub streams: u16,
    /// Octets of user data in one MDATA chunk at most.
    pub max_fragment: usize,
    /// Mcast.Group.WindowChunks.
    pub window_chunks: u64,
    /// Mcast.Group.WindowBytes.
    pub window_bytes: usize,
    /// Octets of group messages queued before the first transmission.
    pub send_buffer: usize,
    /// Mcast.Repair.MulticastCount.
    pub repair_count: usize,
    /// Mcast.Repair.MulticastFraction.
    pub repair_fraction: f64,
    /// Mcast.Repair.MulticastCap.
    pub repair_cap: usize,
    /// Mcast.Member.MaxBacklog: MTSNs a member may owe before it is
    /// removed (it never blocks the group).
    pub max_backlog: u64,
    /// Mcast.Mtsn.Reach.
    pub reach: u64,
    /// Mcast.Member.StallTimeout: how long the MCTSN may stand still with
    /// MDATA outstanding before the active members holding it back are
    /// moved to fallback (draft §"Hold-Back Policy").
    pub stall_timeout: Duration,
    /// Mcast.Join.ConfirmTimeout: a joining member whose reception is not
    /// confirmed in this time goes to fallback (draft §"Presumed
    /// Reachable").
    pub confirm_timeout: Duration,
    /// The algorithm of the group congestion window cwnd_g (draft §"Group
    /// Congestion Window": TCP Westwood+ on RFC 9260 §7.2, clocked by the
    /// acker, by default; core's
    /// [`Controller`](mcsctp_core::congestion::Controller) trait, so
    /// RFC 9260's Reno, CUBIC or an application's own controller fits as
    /// well).
    pub congestion: Arc<dyn ControllerFactory>,
    /// Mcast.Group.MaxPacket: the group path's MTU for the window.
    pub max_packet: usize,
    /// Mcast.CC.MaxBurst.
    pub max_burst: u32,
    /// Mcast.Msack.AckerPackets.
    pub acker_packets: u32,
}

/// The draft's defaults (crate::defaults), the RTT-derived ones at their
/// floors until the runtime measures the group.
impl Default for GroupSenderConfig {
    fn default() -> Self {
        use crate::defaults as d;
        Self {
            initial_mtsn: Mtsn(0),
            streams: 16,
            // An MDATA chunk fits any group packet with its common header
            // and an AUTH chunk (draft §"MDATA").
            max_fragment: d::GROUP_MAX_PACKET - 12 - crate::auth::GROUP_AUTH_LEN - 20,
            window_chunks: u64::from(d::GROUP_WINDOW_CHUNKS),
            window_bytes: d::GROUP_WINDOW_BYTES.floor as usize,
            send_buffer: 8 << 20,
            repair_count: d::REPAIR_MULTICAST_COUNT as usize,
            repair_fraction: d::REPAIR_MULTICAST_FRACTION,
            repair_cap: d::REPAIR_MULTICAST_CAP as usize,
            max_backlog: u64::from(d::MTSN_REACH),
            reach: u64::from(d::MTSN_REACH),
            stall_timeout: d::MEMBER_STALL_TIMEOUT.floor,
            confirm_timeout: d::JOIN_CONFIRM_TIMEOUT.floor,
            congestion: Arc::new(WestwoodConfig::default()),
            max_packet: d::GROUP_MAX_PACKET,
            max_burst: d::CC_MAX_BURST,
            acker_packets: u32::from(d::MSACK_ACKER_PACKETS),
        }
    }
}

/// One assigned MTSN, kept until released.
#[derive(Debug)]
struct Slot<K> {
    chunk: UserDataChunk,
    /// When the MTSN was assigned (first transmitted).
    assigned_at: Instant,
    /// `assigned_bytes` once this MTSN was assigned.
    bytes_through: u64,
    /// Active members that reported it missing since its last group-path
    /// transmission.
    reporters: Vec<K>,
    /// The last group-path retransmission (a multicast repair), if any.
    group_sent_at: Option<Instant>,
    /// Abandoned (draft §"Abandoning Group Messages"): it holds nobody
    /// back and is never transmitted again.
    abandoned: bool,
}

/// A message with a lifetime that has MTSNs (draft §"Abandoning Group
/// Messages").
#[derive(Debug)]
struct Expiring {
    key: MessageKey,
    expires_at: Instant,
    /// Its first and latest MTSN.
    first: u64,
    last: u64,
    /// Whether its last fragment has an MTSN.
    complete: bool,
}

/// The server's state of one member.
#[derive(Debug)]
struct Member {
    kind: MemberKind,
    /// The member's first MTSN (unwrapped).
    start: u64,
    /// For a returning member: active from here on.
    return_from: u64,
    /// When a joining member was created (for its confirmation timeout).
    joined_at: Instant,
    acks: AckSet,
    a_grwnd: u32,
    /// MTSNs owed by unicast, in order of need, and the chunk of each.
    unicast: VecDeque<(u64, UserDataChunk)>,
    /// When each MTSN was last sent by unicast (so a report does not
    /// repeat a repair still in flight).
    unicast_sent: BTreeMap<u64, Instant>,
    /// How long a copy sent to the member (by unicast, or a multicast
    /// repair) counts as in flight: SRTT_k + 4 * RTTVAR_k (draft §"Unicast
    /// or Multicast"); Mcast.RTO.Min until the first sample.
    repair_age: Duration,
    /// RTO_k for unicast MDATA (draft §"Loss Detection for Unicast MDATA":
    /// one retransmission timer, as T3-rtx), ten Mcast.RTO.Min before the
    /// first sample; the timer's expiry and its backoff.
    rto: Duration,
    /// The member's Ack Delay (its Feedback): an MSACK that acknowledges
    /// unicast MDATA may come that much later than a SACK would.
    ack_delay: Duration,
    rtx_at: Option<Instant>,
    rtx_backoff: u32,
    /// After the timer expired, as with cwnd = 1 MTU after T3-rtx (RFC
    /// 9260 §7.2.3): one chunk may go (`Some(false)`), then nothing
    /// (`Some(true)`) until unicast data is acknowledged.
    rtx_probe: Option<bool>,
    /// SRTT_k, and a round-trip sample not yet given to the group window.
    srtt: Option<Duration>,
    rtt_sample: Option<Duration>,
    /// Chunks the member may still need that the group buffer no longer
    /// holds (its backlog, draft §"Backlog Limits and Eviction"): released
    /// while it was not active, or sent to it by unicast.
    held: BTreeMap<u64, UserDataChunk>,
    /// Unwrapped byte count of the group's MDATA through the member's
    /// cumulative ack (for its outstanding octets).
    acked_bytes_mark: u64,
    /// Repairs sent to it, unicast.
    repairs: u64,
    fallbacks: u64,
    returns: u64,
    /// Abandoned messages that concern it, per group stream and U: MID and
    /// first MTSN, in order (draft §"Abandoning Group Messages"); kept
    /// until the member echoes a control state whose skip point covers
    /// them.
    skips: BTreeMap<(u16, bool), VecDeque<(Mid, u64)>>,
    /// Octets of unicast MDATA abandoned while in flight on its
    /// association, not yet taken out of that association's window.
    released_unicast: usize,
}

/// Something the application hears about a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberEvent<K> {
    /// Now in a new state.
    Changed(K, MemberKind),
    /// Removed: it fell more than the backlog limit behind.
    Removed(K),
}

/// What one MSACK did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// MTSNs newly acknowledged.
    pub newly_acked: u64,
    /// Octets of MDATA chunks sent to the member by unicast that are now
    /// acknowledged (they leave the association's congestion window).
    pub unicast_acked_bytes: usize,
}

/// Per-member figures for the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberStats {
    /// State.
    pub kind: MemberKind,
    /// MTSNs acknowledged since the start.
    pub acked: u64,
    /// Unicast repairs sent.
    pub repairs: u64,
    /// Times moved to fallback.
    pub fallbacks: u64,
    /// Times returned to multicast.
    pub returns: u64,
}

/// The group congestion window's figures (draft §"Group Congestion
/// Window").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCongestion {
    /// cwnd_g, octets of user data.
    pub cwnd: usize,
    /// ssthresh_g.
    pub ssthresh: usize,
    /// Outstanding octets (unacknowledged by the acker).
    pub flight: usize,
    /// Window reductions (Fast Recovery entries and acker timeouts).
    pub events: u64,
}

/// The group sender's core.
#[derive(Debug)]
pub struct GroupSender<K = MemberId> {
    cfg: GroupSenderConfig,
    queue: SendQueue,
    /// The next MTSN to assign, unwrapped (low 32 bits are the wire value).
    next: u64,
    /// Multicast cumulative TSN, unwrapped: everything at or below is
    /// released.
    mctsn: u64,
    /// Slots of `mctsn + 1 .. next`, in order.
    slots: VecDeque<Slot<K>>,
    slot_bytes: usize,
    /// Octets of MDATA assigned since the group began (running total).
    assigned_bytes: u64,
    members: BTreeMap<K, Member>,
    /// MTSNs to retransmit on the group path.
    group_repairs: VecDeque<u64>,
    events: VecDeque<MemberEvent<K>>,
    /// Per group stream: messages queued so far, and how many of them have
    /// all their MTSNs (a stream carries one message at a time, so they
    /// complete in order); `last_end` is the MTSN of the latest last
    /// fragment (for BARRIER D=0, draft §"Sending BARRIER").
    stream_counts: BTreeMap<u16, (u64, u64)>,
    last_end: Option<u64>,
    /// MDATA chunks put on the group path (first transmissions and
    /// repairs).
    pub group_chunks_sent: u64,
    /// Group-path retransmissions.
    pub group_repairs_sent: u64,
    /// Messages with a lifetime that have MTSNs, by queue sequence number.
    expiring: BTreeMap<u64, Expiring>,
    /// Abandoned MTSNs a member may still lack (pruned once every member's
    /// cumulative ack passed them).
    abandoned: BTreeSet<u64>,
    /// Members that have new skip points to be told of.
    forward_due: BTreeSet<K>,
    /// Group messages abandoned (those that had MTSNs).
    pub messages_abandoned: u64,
    /// Members in fallback (every new MTSN is queued for them by unicast).
    fallback: BTreeSet<K>,
    /// Members RETURNING, and JOINING members with their confirmation
    /// deadline: kept so that neither an MSACK nor a timer poll visits
    /// every member.
    returning: BTreeSet<K>,
    joining: BTreeMap<K, Instant>,
    /// Members with unicast MDATA outstanding: when their retransmission
    /// timer expires; and those whose timer expired since the caller last
    /// asked (they have a retransmission queued).
    rtx: BTreeMap<K, Instant>,
    rtx_woken: Vec<K>,
    /// The group congestion window (built at the first use, when the time
    /// is known) and its acker.
    window: Option<GroupWindow>,
    acker: Option<K>,
    /// SRTT_g: the span of the window without an acker.
    srtt_g: Duration,
    /// Octets of unicast MDATA in flight to members removed while their
    /// association lives on (End of Membership): they leave its window
    /// with [`take_unicast_released`](Self::take_unicast_released).
    orphaned: BTreeMap<K, usize>,
    /// Group messages the application sent behind a unicast-first barrier
    /// that is not created yet (draft §"Sending BARRIER", D=1): they get no
    /// MTSN before it exists, so that their MTSNs are at or above its M.
    /// With when they were sent (their lifetime runs from then).
    held: VecDeque<(Instant, OutgoingMessage)>,
    held_bytes: usize,
    /// Messages ever put in `held` (a running count that names a place in
    /// it).
    held_total: u64,
    /// New messages go to `held` even when it is empty.
    fenced: bool,
    /// A unicast-first barrier hold is in effect: no new MTSN (draft
    /// §"Sending MDATA" condition 4).
    barrier_hold: bool,
}

impl<K: Copy + Ord + std::fmt::Debug> GroupSender<K> {
    /// A sender with no member.
    pub fn new(cfg: GroupSenderConfig) -> Self {
        let next = (1u64 << 33) + u64::from(cfg.initial_mtsn.0);
        let queue = SendQueue::new(
            cfg.streams,
            SendQueueConfig {
                buffer_limit: cfg.send_buffer,
                ..SendQueueConfig::default()
            },
        );
        Self {
            held: VecDeque::new(),
            held_bytes: 0,
            held_total: 0,
            fenced: false,
            barrier_hold: false,
            queue,
            next,
            mctsn: next - 1,
            slots: VecDeque::new(),
            slot_bytes: 0,
            assigned_bytes: 0,
            members: BTreeMap::new(),
            group_repairs: VecDeque::new(),
            events: VecDeque::new(),
            orphaned: BTreeMap::new(),
            stream_counts: BTreeMap::new(),
            last_end: None,
            group_chunks_sent: 0,
            group_repairs_sent: 0,
            expiring: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            forward_due: BTreeSet::new(),
            messages_abandoned: 0,
            fallback: BTreeSet::new(),
            returning: BTreeSet::new(),
            joining: BTreeMap::new(),
            rtx: BTreeMap::new(),
            rtx_woken: Vec::new(),
            window: None,
            acker: None,
            srtt_g: crate::defaults::RTO_MIN,
            cfg,
        }
    }

    fn wire(u: u64) -> Mtsn {
        Mtsn(u as u32)
    }

    fn window(&mut self, now: Instant) -> &mut GroupWindow {
        let cfg = &self.cfg;
        self.window.get_or_insert_with(|| {
            GroupWindow::new(
                cfg.congestion.build(now, cfg.max_packet, cfg.window_bytes),
                cfg.max_packet,
                cfg.max_burst,
                cfg.acker_packets,
            )
        })
    }

    /// The acker (draft §"Group Congestion Window").
    pub fn acker(&self) -> Option<K> {
        self.acker
    }

    /// Makes `acker` the acker (an active member; anything else clears
    /// it): cwnd_g is kept, the outstanding data recomputed from its
    /// acknowledgement state.
    pub fn set_acker(&mut self, now: Instant, acker: Option<K>) {
        let acker = acker.filter(|id| self.members.get(id).is_some_and(|m| m.kind.is_active()));
        if acker == self.acker && self.window.is_some() {
            return;
        }
        self.acker = acker;
        self.window(now);
        let base = self.mctsn + 1;
        let sent = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| (base + i as u64, s.chunk.payload.len()));
        let acks = acker.and_then(|id| self.members.get(&id)).map(|m| &m.acks);
        if let Some(w) = self.window.as_mut() {
            w.set_acker(acks, sent);
        }
    }

    /// SRTT_g, which spans the group window while there is no acker.
    pub fn set_srtt_g(&mut self, srtt_g: Duration) {
        self.srtt_g = srtt_g.max(Duration::from_micros(1));
    }

    /// Sets the timers the caller derives from round-trip times (draft
    /// §"Round-Trip Time and Timers"): Mcast.Member.StallTimeout and
    /// Mcast.Join.ConfirmTimeout.
    pub fn set_timers(&mut self, stall: Duration, confirm: Duration) {
        self.cfg.stall_timeout = stall;
        self.cfg.confirm_timeout = confirm;
    }

    /// A round-trip sample of member `id` and its SRTT_k and RTTVAR_k
    /// after it (draft §"Round-Trip Time and Timers"): a copy sent to it
    /// counts as in flight for SRTT_k + 4 * RTTVAR_k, RTO_k without its
    /// floor (§"Unicast or Multicast"); the acker's samples reach the group
    /// window with its next MSACK.
    pub fn on_member_rtt(&mut self, id: K, sample: Duration, srtt: Duration, rttvar: Duration) {
        if let Some(m) = self.members.get_mut(&id) {
            m.srtt = Some(srtt);
            m.rtt_sample = Some(sample);
            m.rto = (srtt + rttvar * 4).clamp(crate::defaults::RTO_MIN, crate::defaults::RTO_MAX);
            m.repair_age = (srtt + rttvar * 4)
                .max(Duration::from_micros(10))
                .min(crate::defaults::RTO_MAX);
        }
    }

    /// Member `id`'s Ack Delay (its Feedback value): its unicast
    /// retransmission timer waits RTO_k plus that (draft §"Loss Detection
    /// for Unicast MDATA"; RFC 9260's RTO.Min of one second covers a
    /// delayed SACK the same way).
    pub fn set_member_ack_delay(&mut self, id: K, delay: Duration) {
        if let Some(m) = self.members.get_mut(&id) {
            m.ack_delay = delay.min(crate::defaults::RTO_MAX);
        }
    }

    /// Whether the group congestion window lets another group packet go
    /// now (draft §"Group Congestion Window").
    pub fn may_send_group(&mut self, now: Instant) -> bool {
        let rtt = self.srtt_g;
        self.window(now).may_send(now, rtt)
    }

    /// A group packet went out (for the burst limit).
    pub fn on_group_packet(&mut self, now: Instant) {
        self.window(now).on_packet();
    }

    /// Without an acker, when the window lets the group path send again.
    pub fn group_reopens_at(&self) -> Option<Instant> {
        self.window.as_ref()?.reopens_at(self.srtt_g)
    }

    /// The [`group_reopens_at`](Self::group_reopens_at) timer: the sends
    /// that aged out leave the window now, so that the instant is never in
    /// the past after the caller's `handle_timeout` (it moved only when the
    /// next group packet was built, and with nothing to send a runtime
    /// waiting for it spun).
    pub fn group_window_timeout(&mut self, now: Instant) {
        let rtt = self.srtt_g;
        if let Some(w) = self.window.as_mut() {
            w.prune_recent(now, rtt);
        }
    }

    /// The acker was silent for its RTO with group data outstanding (draft
    /// §"Group Congestion Window"): cwnd_g collapses to one MTU and the
    /// caller selects the acker anew.
    pub fn acker_timeout(&mut self, now: Instant) {
        self.window(now).on_acker_timeout(now);
    }

    /// The group congestion window's figures.
    pub fn congestion(&self) -> GroupCongestion {
        self.window
            .as_ref()
            .map_or_else(GroupCongestion::default, |w| GroupCongestion {
                cwnd: w.cwnd(),
                ssthresh: w.ssthresh(),
                flight: w.flight(),
                events: w.congestion_events,
            })
    }

    /// The next MTSN the group will assign (a new member's Start MTSN).
    pub fn next_mtsn(&self) -> Mtsn {
        Self::wire(self.next)
    }

    /// The highest MTSN assigned (Highest MTSN Sent).
    pub fn highest_sent(&self) -> Mtsn {
        Self::wire(self.next - 1)
    }

    /// The multicast cumulative TSN.
    pub fn mctsn(&self) -> Mtsn {
        Self::wire(self.mctsn)
    }

    /// Octets of MDATA held in the group buffer.
    pub fn buffered_bytes(&self) -> usize {
        self.slot_bytes
    }

    /// Queues a group message.
    pub fn send(
        &mut self,
        now: Instant,
        stream: StreamId,
        ppid: Ppid,
        payload: Bytes,
        unordered: bool,
    ) -> Result<(), SendError> {
        let mut msg = OutgoingMessage::new(stream, ppid, payload);
        msg.unordered = unordered;
        self.send_message(now, msg)
    }

    /// Queues a group message with its options: U, and a lifetime after
    /// which it is abandoned for every member unless all have it (draft
    /// §"Abandoning Group Messages", PR-SCTP's timed reliability, RFC 3758
    /// §4). Other options of [`OutgoingMessage`] are ignored.
    pub fn send_message(&mut self, now: Instant, msg: OutgoingMessage) -> Result<(), SendError> {
        let mut m = OutgoingMessage::new(msg.stream, msg.ppid, msg.payload);
        m.unordered = msg.unordered;
        m.lifetime = msg.lifetime;
        let stream = m.stream;
        if self.fenced || !self.held.is_empty() {
            // Behind a barrier not created yet: checked as the queue would
            // check it, and counted in its buffer.
            let len = m.payload.len();
            let outbound = self.queue.outbound_streams();
            if stream.0 >= outbound {
                return Err(SendError::InvalidStream { stream, outbound });
            }
            if len == 0 {
                return Err(SendError::EmptyMessage);
            }
            if len > self.cfg.send_buffer {
                return Err(SendError::TooLarge {
                    len,
                    limit: self.cfg.send_buffer,
                });
            }
            let available = self.queue.available().saturating_sub(self.held_bytes);
            if len > available {
                return Err(SendError::BufferFull {
                    needed: len,
                    available,
                });
            }
            self.held_bytes += len;
            self.held_total += 1;
            self.held.push_back((now, m));
        } else {
            self.queue.enqueue(now, m)?;
        }
        self.stream_counts.entry(stream.0).or_default().0 += 1;
        Ok(())
    }

    /// Draft §"Sending BARRIER", D=1: from now on group messages wait
    /// outside the send queue (they get no MTSN) until
    /// [`release_held`](Self::release_held) lets them in. Returns the place
    /// of the fence: the number of messages held so far, ever.
    pub fn fence(&mut self) -> u64 {
        self.fenced = true;
        self.held_total
    }

    /// Lets the held messages before place `upto` (a value of
    /// [`fence`](Self::fence)) into the send queue, in order; with `None`
    /// every held message, and the fence is lifted.
    pub fn release_held(&mut self, now: Instant, upto: Option<u64>) {
        let keep = upto.map_or(0, |u| self.held_total.saturating_sub(u)) as usize;
        while self.held.len() > keep {
            let Some((at, mut m)) = self.held.pop_front() else {
                break;
            };
            self.held_bytes -= m.payload.len();
            let stream = m.stream.0;
            // Its lifetime runs from when the application sent it.
            let mut expired = false;
            if let Some(l) = m.lifetime {
                let left = l.saturating_sub(now.saturating_duration_since(at));
                expired = left.is_zero();
                m.lifetime = Some(left);
            }
            // The buffer was reserved when it was held, so only an expired
            // message is refused: it never gets an MTSN, and completes its
            // stream's count for barrier positions.
            if expired || self.queue.enqueue(now, m).is_err() {
                self.stream_counts.entry(stream).or_default().1 += 1;
            }
        }
        if upto.is_none() {
            self.fenced = false;
        }
    }

    /// Sets or clears the unicast-first barrier hold (draft §"Sending
    /// MDATA" condition 4, §"Sending BARRIER": the server "MUST NOT assign
    /// M or any later MTSN" until every member that was sent the BARRIER
    /// acknowledged its unicast message). Retransmissions go on.
    pub fn set_barrier_hold(&mut self, hold: bool) {
        self.barrier_hold = hold;
    }

    /// Whether a unicast-first barrier hold is in effect.
    pub fn barrier_hold(&self) -> bool {
        self.barrier_hold
    }

    /// Abandons the messages whose lifetime has ended (draft §"Abandoning
    /// Group Messages"): those never started are dropped (they have no
    /// MTSN and no MID, and leave no gap); a message with MTSNs that some
    /// member still lacks is abandoned for every member at once: never
    /// transmitted again on any path, released from the group buffer and
    /// every backlog, and its skip point is queued for the members it
    /// concerns.
    pub fn expire(&mut self, now: Instant) {
        for m in self.queue.expire(now) {
            // No MTSN: it will never complete; a barrier behind it does not
            // wait for it.
            self.stream_counts.entry(m.stream.0).or_default().1 += 1;
        }
        let due: Vec<u64> = self
            .expiring
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(seq, _)| *seq)
            .collect();
        let mut any = false;
        for seq in due {
            let Some(e) = self.expiring.remove(&seq) else {
                continue;
            };
            let lacking = !e.complete
                || self
                    .members
                    .values()
                    .any(|m| (e.first.max(m.start)..=e.last).any(|t| !m.acks.has(t)));
            if lacking {
                self.abandon(&e);
                any = true;
            }
        }
        if any {
            self.release();
        }
    }

    /// When [`GroupSender::expire`] has something to do next.
    pub fn next_expiry(&self) -> Option<Instant> {
        let queued = self.queue.next_expiry();
        let assigned = self.expiring.values().map(|e| e.expires_at).min();
        [queued, assigned].into_iter().flatten().min()
    }

    fn abandon(&mut self, e: &Expiring) {
        // The unsent rest of the message is dropped; it completes the
        // stream's message for barrier positions.
        if !e.complete && self.queue.abandon_message(&e.key) {
            self.stream_counts.entry(e.key.stream.0).or_default().1 += 1;
        }
        let range = e.first..=e.last;
        for t in range.clone() {
            if t > self.mctsn
                && let Some(s) = self.slots.get_mut((t - self.mctsn - 1) as usize)
            {
                s.abandoned = true;
                s.reporters.clear();
            }
        }
        self.messages_abandoned += 1;
        self.group_repairs.retain(|t| !range.contains(t));
        self.abandoned.extend(range.clone());
        for (id, m) in &mut self.members {
            m.unicast.retain(|(t, _)| !range.contains(t));
            // What was sent by unicast and is now abandoned leaves the
            // association's flight as if acknowledged (RFC 3758 §3.5 A1).
            for (t, _) in m.unicast_sent.range(range.clone()) {
                m.released_unicast += m.held.get(t).map_or(0, |c| 20 + c.payload.len());
            }
            m.held.retain(|t, _| !range.contains(t));
            m.unicast_sent.retain(|t, _| !range.contains(t));
            // It concerns every member whose Start MTSN was fixed no later
            // than the message's first MTSN.
            if m.start <= e.first {
                m.skips
                    .entry((e.key.stream.0, e.key.unordered))
                    .or_default()
                    .push_back((e.key.mid, e.first));
                self.forward_due.insert(*id);
            }
        }
    }

    /// Members with skip points they have not been told of yet (their
    /// control state must go again).
    pub fn take_forward_due(&mut self) -> Vec<K> {
        std::mem::take(&mut self.forward_due).into_iter().collect()
    }

    /// Member `id`'s Forward (draft §"Abandoning Group Messages"): its New
    /// Cumulative MTSN and the skip points whose first fragment is at or
    /// below it; `None` if it has nothing to skip.
    pub fn forward(&self, id: K) -> Option<(Mtsn, Vec<crate::chunk::msync::ForwardEntry>)> {
        let m = self.members.get(&id)?;
        if m.skips.is_empty() {
            return None;
        }
        // "the highest MTSN such that every MTSN ahead of k's Cumulative
        // MTSN Ack up to it is acknowledged by k or abandoned".
        let mut cum = m.acks.cum();
        while cum + 1 < self.next && (m.acks.has(cum + 1) || self.abandoned.contains(&(cum + 1))) {
            cum += 1;
        }
        // Per stream and U, "the highest MID among the abandoned messages
        // [...] provided the first fragment of that message is at or below
        // the New Cumulative MTSN" (a stream's messages are abandoned in
        // order, so the last such entry).
        let entries = m
            .skips
            .iter()
            .filter_map(|(&(stream, unordered), list)| {
                let (mid, _) = list.iter().take_while(|(_, first)| *first <= cum).last()?;
                Some(crate::chunk::msync::ForwardEntry {
                    stream: StreamId(stream),
                    unordered,
                    mid: *mid,
                })
            })
            .collect();
        Some((Self::wire(cum), entries))
    }

    /// The member echoed a control state that carried `entries`: those skip
    /// points are done (unless a later abandonment replaced them).
    pub fn forward_echoed(&mut self, id: K, entries: &[crate::chunk::msync::ForwardEntry]) {
        if let Some(m) = self.members.get_mut(&id) {
            for e in entries {
                let key = (e.stream.0, e.unordered);
                if let Some(list) = m.skips.get_mut(&key) {
                    // Everything up to the echoed skip point is done.
                    if let Some(i) = list.iter().position(|(mid, _)| *mid == e.mid) {
                        list.drain(..=i);
                    }
                    if list.is_empty() {
                        m.skips.remove(&key);
                    }
                }
            }
        }
        // Abandoned MTSNs every member has passed are forgotten.
        if let Some(low) = self.members.values().map(|m| m.acks.cum()).min() {
            let keep = self.abandoned.split_off(&(low + 1));
            self.abandoned = keep;
        }
    }

    /// Where the group stands now, as a barrier's position: per stream, the
    /// messages queued so far.
    pub fn position(&self) -> Vec<(u16, u64)> {
        self.stream_counts.iter().map(|(s, c)| (*s, c.0)).collect()
    }

    /// For a D=0 barrier behind the group messages of `position`: the MTSN
    /// through which the group prefix runs, once every one of them has all
    /// its MTSNs (draft §"Sending BARRIER": a barrier is created only then);
    /// `None` while some are still queued.
    pub fn prefix_end(&self, position: &[(u16, u64)]) -> Option<Mtsn> {
        let done = position
            .iter()
            .all(|(s, n)| self.stream_counts.get(s).is_some_and(|c| c.1 >= *n));
        done.then(|| self.last_end.map_or(Self::wire(self.next - 1), Self::wire))
    }

    /// Whether messages wait for their first transmission.
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty() || !self.held.is_empty()
    }

    /// Adds a member whose Start MTSN is the next MTSN (draft §"Server:
    /// Start MTSN"). Returns that Start MTSN.
    pub fn add_member(&mut self, now: Instant, id: K, kind: MemberKind) -> Mtsn {
        let start = self.next;
        self.members.insert(
            id,
            Member {
                kind,
                start,
                return_from: start,
                joined_at: now,
                acks: AckSet::new(start - 1),
                a_grwnd: u32::MAX,
                unicast: VecDeque::new(),
                unicast_sent: BTreeMap::new(),
                repair_age: crate::defaults::RTO_MIN,
                rto: crate::defaults::RTO_MIN * 10,
                ack_delay: Duration::ZERO,
                rtx_at: None,
                rtx_backoff: 0,
                rtx_probe: None,
                srtt: None,
                rtt_sample: None,
                held: BTreeMap::new(),
                acked_bytes_mark: self.assigned_bytes,
                repairs: 0,
                fallbacks: 0,
                returns: 0,
                skips: BTreeMap::new(),
                released_unicast: 0,
            },
        );
        self.index(id, None, Some(kind), now);
        self.events.push_back(MemberEvent::Changed(id, kind));
        Self::wire(start)
    }

    /// Removes a member (leave, abort, failure); its share of the window is
    /// released at once.
    pub fn remove_member(&mut self, id: K) {
        if self.acker == Some(id) {
            self.clear_acker();
        }
        if self.forget(id) {
            self.release();
        }
    }

    /// Drops a member; what it had in flight by unicast is kept for its
    /// association's window (the association may outlive the membership).
    fn forget(&mut self, id: K) -> bool {
        self.rtx.remove(&id);
        let Some(m) = self.members.remove(&id) else {
            return false;
        };
        self.index(id, Some(m.kind), None, m.joined_at);
        let in_flight = m
            .unicast_sent
            .keys()
            .map(|t| m.held.get(t).map_or(0, |c| 20 + c.payload.len()))
            .sum::<usize>()
            + m.released_unicast;
        if in_flight > 0 {
            *self.orphaned.entry(id).or_default() += in_flight;
        }
        true
    }

    /// A member's state and figures.
    pub fn member(&self, id: K) -> Option<MemberStats> {
        self.members.get(&id).map(|m| MemberStats {
            kind: m.kind,
            acked: m.acks.cum() + 1 - m.start,
            repairs: m.repairs,
            fallbacks: m.fallbacks,
            returns: m.returns,
        })
    }

    /// A member's backlog: the chunks it is owed by unicast or may still
    /// need that the group buffer no longer holds, as (entries, octets of
    /// user data); figures for memory bounds.
    pub fn backlog(&self, id: K) -> Option<(usize, usize)> {
        self.members.get(&id).map(|m| {
            let octets = m
                .unicast
                .iter()
                .map(|(_, c)| c.payload.len())
                .sum::<usize>()
                + m.held.values().map(|c| c.payload.len()).sum::<usize>();
            (m.unicast.len() + m.held.len(), octets)
        })
    }

    /// The next membership event.
    pub fn poll_event(&mut self) -> Option<MemberEvent<K>> {
        self.events.pop_front()
    }

    /// The octets of member `id`'s backlog (draft §"Backlog Limits and
    /// Eviction": "the set of MTSNs ahead of its Cumulative MTSN Ack that
    /// it has not acknowledged [...]; its size is the octets of their
    /// chunks"): those still in the group buffer and those the server keeps
    /// for it alone. Costs a walk of the group buffer and of what it keeps.
    pub fn backlog_bytes(&self, id: K) -> Option<usize> {
        let m = self.members.get(&id)?;
        let kept: usize = m
            .held
            .range(..=self.mctsn)
            .map(|(_, c)| c.payload.len())
            .sum();
        let buffered: usize = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| (self.mctsn + 1 + i as u64, s))
            .filter(|(t, _)| *t >= m.start && !m.acks.has(*t))
            .map(|(_, s)| s.chunk.payload.len())
            .sum();
        Some(kept + buffered)
    }

    /// Whether some member is joined to the IP group (the group path then
    /// carries every MTSN, draft §"Sending MDATA").
    pub fn any_joined(&self) -> bool {
        !self.members.is_empty()
    }

    fn active_count(&self) -> usize {
        self.members.values().filter(|m| m.kind.is_active()).count()
    }

    /// Whether a new MTSN of `len` octets may be assigned now (draft
    /// §"Sending MDATA" conditions 1-3; the congestion window is the
    /// caller's).
    fn may_assign(&self, len: usize) -> bool {
        if self.barrier_hold {
            return false;
        }
        if self.next - self.mctsn > self.cfg.window_chunks {
            return false;
        }
        if self.slot_bytes > 0 && self.slot_bytes + len > self.cfg.window_bytes {
            return false;
        }
        // Outstanding octets of a member: everything assigned after its
        // cumulative ack (gap-acknowledged chunks included: an upper bound).
        self.members.values().all(|m| {
            if !m.kind.is_active() {
                return true;
            }
            let outstanding = self.assigned_bytes.saturating_sub(m.acked_bytes_mark) as usize;
            outstanding == 0 || outstanding + len <= m.a_grwnd as usize
        })
    }

    /// Assigns the next MTSN to the next fragment, if the windows allow,
    /// and returns it for the group path. Members in fallback get it queued
    /// for unicast; a member that would be more than the reach behind is
    /// removed first.
    /// `max_payload` bounds the fragment (what the packet being built has
    /// room for).
    pub fn poll_new(&mut self, now: Instant, max_payload: usize) -> Option<(Mtsn, UserDataChunk)> {
        let max_payload = max_payload.min(self.cfg.max_fragment);
        if max_payload == 0 || !self.may_assign(max_payload.min(self.queue.buffered_bytes())) {
            return None;
        }
        let p = self.queue.produce(now, max_payload, true)?;
        let t = self.next;
        self.evict_out_of_reach(t);
        self.next += 1;
        self.slot_bytes += p.chunk.payload.len();
        self.assigned_bytes += p.chunk.payload.len() as u64;
        self.slots.push_back(Slot {
            assigned_at: now,
            bytes_through: self.assigned_bytes,
            chunk: p.chunk.clone(),
            reporters: Vec::new(),
            group_sent_at: None,
            abandoned: false,
        });
        if let Some(at) = p.expires_at {
            let e = self.expiring.entry(p.message.seq).or_insert(Expiring {
                key: p.message,
                expires_at: at,
                first: t,
                last: t,
                complete: false,
            });
            e.last = t;
            e.complete = p.chunk.flags.is_end();
        }
        self.group_chunks_sent += 1;
        let len = p.chunk.payload.len();
        self.window(now).on_sent(now, t, len, false);
        if p.chunk.flags.is_end() {
            self.stream_counts.entry(p.chunk.stream.0).or_default().1 += 1;
            self.last_end = Some(t);
        }
        for id in &self.fallback {
            if let Some(m) = self.members.get_mut(id) {
                m.unicast.push_back((t, p.chunk.clone()));
            }
        }
        if self.slots.len() == 1 {
            // Behind a held MTSN a new one cannot be released.
            self.release();
        }
        Some((Self::wire(t), p.chunk))
    }

    fn evict_out_of_reach(&mut self, t: u64) {
        let limit = self.cfg.reach.min(self.cfg.max_backlog);
        let gone: Vec<K> = self
            .members
            .iter()
            .filter(|(_, m)| t.saturating_sub(m.acks.cum()) > limit)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if self.acker == Some(id) {
                self.clear_acker();
            }
            self.forget(id);
            self.events.push_back(MemberEvent::Removed(id));
        }
    }

    /// The chunk of MTSN `t` for member `id`: from the group buffer, or
    /// from the member's backlog.
    fn chunk_for(&self, id: K, t: u64) -> Option<UserDataChunk> {
        if t > self.mctsn && t < self.next {
            return self
                .slots
                .get((t - self.mctsn - 1) as usize)
                .filter(|s| !s.abandoned)
                .map(|s| s.chunk.clone());
        }
        let m = self.members.get(&id)?;
        m.held.get(&t).cloned().or_else(|| {
            m.unicast
                .iter()
                .find(|(u, _)| *u == t)
                .map(|(_, c)| c.clone())
        })
    }

    /// `assigned_bytes` as it was when MTSN `t` was assigned, if the group
    /// buffer still knows (else the value at the MCTSN, a lower bound).
    fn bytes_through(&self, t: u64) -> u64 {
        if t > self.mctsn
            && let Some(s) = self.slots.get((t - self.mctsn - 1) as usize)
        {
            return s.bytes_through;
        }
        self.slots.front().map_or(self.assigned_bytes, |s| {
            s.bytes_through - s.chunk.payload.len() as u64
        })
    }

    /// An MSACK from `id` (draft §"Processing an MSACK"): `cumulative`,
    /// `reported_through`, gap blocks relative to `cumulative`, a_grwnd.
    /// Returns whether anything was newly acknowledged.
    pub fn on_ack(
        &mut self,
        now: Instant,
        id: K,
        cumulative: Mtsn,
        reported_through: Mtsn,
        gaps: &[(u16, u16)],
        a_grwnd: u32,
    ) -> AckOutcome {
        let highest = self.next - 1;
        let mut out = AckOutcome::default();
        let Some(m) = self.members.get_mut(&id) else {
            return out;
        };
        // Map the wire cumulative ack against the member's base; an older
        // one (reordered MSACK) is ignored, one beyond what was sent too.
        let base = m.acks.cum();
        let fwd = cumulative.0.wrapping_sub(base as u32);
        if u64::from(fwd) > self.cfg.reach {
            return out;
        }
        let cum = base + u64::from(fwd);
        if cum > highest {
            return out;
        }
        m.a_grwnd = a_grwnd;
        let mut newly = m.acks.ack_through(cum);
        let mut received = cum;
        for &(s, e) in gaps {
            let (s, e) = (cum + u64::from(s), (cum + u64::from(e)).min(highest));
            newly += m.acks.ack_range(s, e);
            received = received.max(e);
        }
        let through = cum + u64::from(reported_through.0.wrapping_sub(cumulative.0));
        let through = if through > cum + self.cfg.reach {
            cum
        } else {
            through.min(highest)
        };
        // Acknowledged unicast sends and backlog entries are done.
        let acked_cum = m.acks.cum();
        let acks = &m.acks;
        for (t, _) in m.unicast_sent.iter().filter(|(t, _)| acks.has(**t)) {
            // The MDATA chunk's length: header 20 plus the user data.
            out.unicast_acked_bytes += m.held.get(t).map_or(0, |c| 20 + c.payload.len());
        }
        m.unicast_sent.retain(|&t, _| !acks.has(t));
        m.unicast.retain(|(t, _)| !acks.has(*t));
        m.held.retain(|&t, _| !acks.has(t));
        if m.unicast_sent.is_empty() {
            // R2: everything outstanding is acknowledged.
            m.rtx_at = None;
            m.rtx_backoff = 0;
            self.rtx.remove(&id);
        }
        if out.unicast_acked_bytes > 0 {
            m.rtx_probe = None;
        }
        if !m.unicast_sent.is_empty() && out.unicast_acked_bytes > 0 {
            // R3: new unicast data acknowledged, more outstanding.
            m.rtx_backoff = 0;
            let at = now + m.rto + m.ack_delay;
            m.rtx_at = Some(at);
            self.rtx.insert(id, at);
        }
        if self.acker == Some(id)
            && let Some(w) = self.window.as_mut()
        {
            w.on_acker_ack(now, &m.acks, through, highest, m.rtt_sample.take(), m.srtt);
        }
        let missing = m.acks.missing(through, 4096);
        let kind = m.kind;
        let mark = self.bytes_through(acked_cum);
        if let Some(m) = self.members.get_mut(&id) {
            m.acked_bytes_mark = m.acked_bytes_mark.max(mark);
        }
        let start = self.members.get(&id).map_or(0, |m| m.start);
        let newest = self.assigned_at(received).map(|at| (received, at));
        for t in missing {
            if t < start {
                continue;
            }
            self.on_missing(now, id, kind, t, newest);
        }
        // Only an acknowledgement of the MTSN after the MCTSN (or of a
        // returning member, which may become active) can release anything.
        let front = self.mctsn + 1;
        if self
            .members
            .get(&id)
            .is_none_or(|m| m.acks.has(front) || m.kind == MemberKind::Returning)
        {
            self.release();
        }
        out.newly_acked = newly;
        out
    }

    /// When MTSN `t` was first sent on the group path, while the group
    /// buffer holds it.
    fn assigned_at(&self, t: u64) -> Option<Instant> {
        t.checked_sub(self.mctsn + 1)
            .and_then(|i| self.slots.get(i as usize))
            .map(|s| s.assigned_at)
    }

    /// One MTSN reported missing by a member (draft §"Unicast or
    /// Multicast"); `newest` is the highest MTSN the member has received
    /// and when it was first sent.
    fn on_missing(
        &mut self,
        now: Instant,
        id: K,
        kind: MemberKind,
        t: u64,
        newest: Option<(u64, Instant)>,
    ) {
        // "a member that reports an abandoned MTSN missing gets it [the
        // Forward] sent again at once".
        if self.abandoned.contains(&t) {
            if self.members.get(&id).is_some_and(|m| !m.skips.is_empty()) {
                self.forward_due.insert(id);
            }
            return;
        }
        let a = self.active_count();
        let threshold = self
            .cfg
            .repair_count
            .max(((self.cfg.repair_fraction * a as f64).ceil() as usize).min(self.cfg.repair_cap));
        let age = self
            .members
            .get(&id)
            .map_or(Duration::ZERO, |m| m.repair_age);
        if let Some(sent) = self.assigned_at(t) {
            // Draft §"Unicast or Multicast", lost or still on its way: as
            // RACK (RFC 8985) does, t is lost once the member has received
            // an MTSN first sent at least a reordering window (a quarter of
            // the repair age) after it. Without that evidence (t reported
            // after an MSYNC raised the member's Highest Known MTSN, the
            // copy may still be in flight) it is lost only a repair age
            // after it was sent.
            let overtaken = newest.is_some_and(|(u, at)| u > t && at >= sent + age / 4);
            if !overtaken && now < sent + age {
                return;
            }
        }
        if t > self.mctsn
            && let Some(slot) = self.slots.get_mut((t - self.mctsn - 1) as usize)
        {
            // A multicast repair still in flight answers it (draft
            // §"Unicast or Multicast": reports less than the member's
            // repair age after the group-path retransmission).
            if slot.group_sent_at.is_some_and(|at| now < at + age) {
                return;
            }
            if kind.is_active() && threshold <= a && !slot.reporters.contains(&id) {
                slot.reporters.push(id);
                if slot.reporters.len() >= threshold {
                    // Enough members miss it: once on the group path.
                    slot.reporters.clear();
                    slot.group_sent_at = Some(now);
                    self.group_repairs.push_back(t);
                    return;
                }
            }
        }
        // Below the threshold: this reporter is repaired by unicast at once.
        self.repair_unicast(now, id, t);
    }

    /// Queues MTSN `t` for `id` on its association, unless a copy sent to
    /// it less than its repair age ago may still arrive (draft §"Unicast or
    /// Multicast", §"Loss Detection for Unicast MDATA").
    fn repair_unicast(&mut self, now: Instant, id: K, t: u64) {
        let Some(chunk) = self.chunk_for(id, t) else {
            return;
        };
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if m.unicast.iter().any(|(u, _)| *u == t) {
            return;
        }
        if let Some(&at) = m.unicast_sent.get(&t)
            && now < at + m.repair_age
        {
            return;
        }
        m.unicast.push_back((t, chunk));
        m.repairs += 1;
    }

    /// Stall, confirmation and unicast retransmission timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_stall(now);
        self.retransmit_unicast(now);
        let unconfirmed: Vec<K> = self
            .joining
            .iter()
            .filter(|(_, at)| now >= **at + self.cfg.confirm_timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in unconfirmed {
            self.move_to_fallback(id);
        }
    }

    /// Draft §"Loss Detection for Unicast MDATA": the retransmission timer
    /// of a member's unicast MDATA expired (as T3-rtx, RFC 9260 §6.3.3 E1
    /// and E3): the earliest outstanding MTSN is sent again and the timer
    /// backs off. Without it a lost last chunk (or a lost last report of
    /// it) would wait for ever: nothing later makes the member report it.
    fn retransmit_unicast(&mut self, now: Instant) {
        let due: Vec<K> = self
            .rtx
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(m) = self.members.get_mut(&id) else {
                self.rtx.remove(&id);
                continue;
            };
            if m.unicast_sent.is_empty() {
                m.rtx_at = None;
                m.rtx_backoff = 0;
                self.rtx.remove(&id);
                continue;
            }
            // E3 as RFC 9260 applies it: every outstanding chunk is taken as
            // lost. It leaves the association's flight (else lost chunks
            // could fill the window their retransmissions need) and is
            // queued again, ahead of new data, in MTSN order.
            let lost = std::mem::take(&mut m.unicast_sent);
            let mut again = Vec::with_capacity(lost.len());
            for t in lost.into_keys() {
                if let Some(c) = m.held.get(&t) {
                    m.released_unicast += 20 + c.payload.len();
                    if !m.unicast.iter().any(|(u, _)| *u == t) {
                        again.push((t, c.clone()));
                    }
                }
            }
            m.repairs += again.len() as u64;
            m.rtx_probe = Some(false);
            for e in again.into_iter().rev() {
                m.unicast.push_front(e);
            }
            self.rtx_woken.push(id);
            m.rtx_backoff = (m.rtx_backoff + 1).min(16);
            let wait = (m.rto * (1 << m.rtx_backoff)).min(crate::defaults::RTO_MAX);
            let at = now + wait + m.ack_delay;
            m.rtx_at = Some(at);
            self.rtx.insert(id, at);
        }
    }

    /// Members with a unicast retransmission queued by the timer since the
    /// last call: the caller lets their associations send.
    pub fn drain_retransmitted(&mut self, out: &mut Vec<K>) {
        out.append(&mut self.rtx_woken);
    }

    /// The earliest stall, confirmation or retransmission check.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let stall = self
            .slots
            .front()
            .map(|s| s.assigned_at + self.cfg.stall_timeout);
        let confirm = self
            .joining
            .values()
            .min()
            .map(|at| *at + self.cfg.confirm_timeout);
        let rtx = self.rtx.values().min().copied();
        [stall, confirm, rtx].into_iter().flatten().min()
    }

    /// Draft §"Hold-Back Policy": no member holds the group back for
    /// longer than the stall timeout. The active members that have not
    /// acknowledged the MTSN after the MCTSN are moved to fallback, with
    /// everything they still need queued for unicast.
    fn check_stall(&mut self, now: Instant) {
        let Some(oldest) = self.slots.front() else {
            return;
        };
        if now < oldest.assigned_at + self.cfg.stall_timeout {
            return;
        }
        let t = self.mctsn + 1;
        let stuck: Vec<K> = self
            .members
            .iter()
            .filter(|(_, m)| m.kind.is_active() && !m.acks.has(t))
            .map(|(id, _)| *id)
            .collect();
        for id in stuck {
            self.move_to_fallback(id);
        }
        self.release();
    }

    /// The next MTSN to retransmit on the group path.
    pub fn poll_group_repair(&mut self, now: Instant) -> Option<(Mtsn, UserDataChunk)> {
        while let Some(t) = self.group_repairs.pop_front() {
            if t > self.mctsn
                && let Some(c) = self
                    .slots
                    .get((t - self.mctsn - 1) as usize)
                    .map(|s| s.chunk.clone())
            {
                self.group_repairs_sent += 1;
                self.group_chunks_sent += 1;
                let acked = self
                    .acker
                    .and_then(|a| self.members.get(&a))
                    .is_some_and(|m| m.acks.has(t));
                self.window(now).on_sent(now, t, c.payload.len(), acked);
                return Some((Self::wire(t), c));
            }
        }
        None
    }

    /// The next MTSN owed to `id` by unicast that fits `window` octets of
    /// user data.
    pub fn poll_unicast(
        &mut self,
        now: Instant,
        id: K,
        window: usize,
    ) -> Option<(Mtsn, UserDataChunk)> {
        let m = self.members.get_mut(&id)?;
        let (_, c) = m.unicast.front()?;
        // The probe holds while it is outstanding (acknowledged, or
        // abandoned, it no longer is).
        if c.payload.len() > window || (m.rtx_probe == Some(true) && !m.unicast_sent.is_empty()) {
            return None;
        }
        let (t, c) = m.unicast.pop_front()?;
        if m.rtx_probe.is_some() {
            m.rtx_probe = Some(true);
        }
        if m.unicast_sent.insert(t, now).is_some() {
            // Sent again: the earlier copy leaves the association's flight
            // (the new one is counted), as a retransmitted chunk counts
            // once in RFC 9260's flight size; the acknowledgement gives
            // back one copy.
            m.released_unicast += 20 + c.payload.len();
        }
        // Kept until acknowledged: it may have to be sent again.
        m.held.insert(t, c.clone());
        if m.rtx_at.is_none() {
            // RFC 9260 §6.3.2 R1: the timer starts with the first
            // outstanding chunk.
            let at = now + m.rto * (1 << m.rtx_backoff.min(16)) + m.ack_delay;
            m.rtx_at = Some(at);
            self.rtx.insert(id, at);
        }
        Some((Self::wire(t), c))
    }

    /// Octets of `id`'s unicast MDATA that were abandoned in flight: the
    /// caller takes them out of the association's window.
    pub fn take_unicast_released(&mut self, id: K) -> usize {
        self.members
            .get_mut(&id)
            .map_or(0, |m| std::mem::take(&mut m.released_unicast))
            + self.orphaned.remove(&id).unwrap_or(0)
    }

    /// The members in fallback: each new MTSN is owed to them by unicast.
    pub fn fallback_members(&self) -> impl Iterator<Item = K> + '_ {
        self.fallback.iter().copied()
    }

    /// The members that are not MULTICAST (JOINING, FALLBACK, RETURNING),
    /// without visiting the others.
    pub fn members_not_multicast(&self) -> impl Iterator<Item = K> + '_ {
        self.fallback
            .iter()
            .chain(&self.returning)
            .chain(self.joining.keys())
            .copied()
    }

    /// Whether `id` has abandoned unicast octets to take out of its window.
    pub fn has_unicast_released(&self, id: K) -> bool {
        self.members
            .get(&id)
            .is_some_and(|m| m.released_unicast > 0)
            || self.orphaned.contains_key(&id)
    }

    /// Whether `id` is owed something by unicast.
    pub fn has_unicast(&self, id: K) -> bool {
        self.members.get(&id).is_some_and(|m| !m.unicast.is_empty())
    }

    /// Whether `id` keeps released MTSNs it has not acknowledged (its
    /// backlog outside the group buffer: a member that was not active when
    /// they were released).
    pub fn has_backlog(&self, id: K) -> bool {
        self.members.get(&id).is_some_and(|m| !m.held.is_empty())
    }

    /// Moves a member to fallback (draft §"Moving to Fallback": the caller
    /// measures the group path from the member's counters and its own
    /// sends). Everything the member still needs goes to its unicast queue.
    pub fn fall_back(&mut self, id: K) {
        if self
            .members
            .get(&id)
            .is_some_and(|m| m.kind != MemberKind::Fallback)
        {
            self.move_to_fallback(id);
            self.release();
        }
    }

    /// Moves a member to fallback: everything it still needs is queued for
    /// unicast (draft §"Moving to Fallback").
    fn move_to_fallback(&mut self, id: K) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        let owed: Vec<u64> = m.acks.missing(self.next - 1, usize::MAX);
        let chunks: Vec<(u64, UserDataChunk)> = owed
            .into_iter()
            .filter(|&t| t >= self.members[&id].start)
            .filter_map(|t| self.chunk_for(id, t).map(|c| (t, c)))
            .collect();
        if let Some(m) = self.members.get_mut(&id) {
            let mut all: BTreeMap<u64, UserDataChunk> = m.unicast.drain(..).collect();
            all.extend(chunks);
            m.unicast = all.into_iter().collect();
            m.fallbacks += 1;
        }
        self.set_kind(id, MemberKind::Fallback);
    }

    /// Evidence that the group path reaches a joining member (draft
    /// §"Presumed Reachable": an MSACK naming a group-path MSYNC sent
    /// after it was created): it enters the active set through RETURNING,
    /// for MTSNs from the next one on.
    pub fn confirm(&mut self, id: K) {
        let next = self.next;
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if m.kind != MemberKind::Joining {
            return;
        }
        m.return_from = next;
        self.set_kind(id, MemberKind::Returning);
        self.release();
    }

    /// Evidence that the group path reaches a member in fallback again
    /// (draft §"Returning to Multicast": the caller measures it from the
    /// member's group-path counters): it is active again for MTSNs from the
    /// next one on, and keeps its unicast backlog.
    pub fn member_reached(&mut self, id: K) {
        let next = self.next;
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if m.kind != MemberKind::Fallback {
            return;
        }
        m.return_from = next;
        m.returns += 1;
        self.set_kind(id, MemberKind::Returning);
    }

    fn set_kind(&mut self, id: K, kind: MemberKind) {
        if let Some(m) = self.members.get_mut(&id)
            && m.kind != kind
        {
            let (old, joined_at) = (m.kind, m.joined_at);
            m.kind = kind;
            self.index(id, Some(old), Some(kind), joined_at);
            self.events.push_back(MemberEvent::Changed(id, kind));
            if !kind.is_active() && self.acker == Some(id) {
                self.clear_acker();
            }
        }
    }

    /// Keeps the per-state sets in step with a member's state change
    /// (`None`: not a member).
    fn index(
        &mut self,
        id: K,
        old: Option<MemberKind>,
        new: Option<MemberKind>,
        joined_at: Instant,
    ) {
        match old {
            Some(MemberKind::Fallback) => {
                self.fallback.remove(&id);
            }
            Some(MemberKind::Returning) => {
                self.returning.remove(&id);
            }
            Some(MemberKind::Joining) => {
                self.joining.remove(&id);
            }
            _ => {}
        }
        match new {
            Some(MemberKind::Fallback) => {
                self.fallback.insert(id);
            }
            Some(MemberKind::Returning) => {
                self.returning.insert(id);
            }
            Some(MemberKind::Joining) => {
                self.joining.insert(id, joined_at);
            }
            _ => {}
        }
    }

    /// The acker stopped being active (or left): none until the caller
    /// selects another.
    fn clear_acker(&mut self) {
        self.acker = None;
        if let Some(w) = self.window.as_mut() {
            w.set_acker(None, std::iter::empty());
        }
    }

    /// Releases what every active member acknowledged (draft §"Multicast
    /// Cumulative TSN"). A returning member whose backlog is complete
    /// becomes a multicast member.
    fn release(&mut self) {
        let done: Vec<K> = self
            .returning
            .iter()
            .filter(|id| {
                self.members
                    .get(id)
                    .is_some_and(|m| m.acks.cum() + 1 >= m.return_from)
            })
            .copied()
            .collect();
        for id in done {
            self.set_kind(id, MemberKind::Multicast);
        }
        while !self.slots.is_empty() {
            let t = self.mctsn + 1;
            let abandoned = self.slots.front().is_some_and(|s| s.abandoned);
            let held = !abandoned
                && self.members.values().any(|m| {
                    let counts = match m.kind {
                        MemberKind::Multicast => t >= m.start,
                        MemberKind::Returning => t >= m.return_from,
                        _ => false,
                    };
                    counts && !m.acks.has(t)
                });
            if held {
                break;
            }
            if let Some(s) = self.slots.pop_front() {
                self.slot_bytes -= s.chunk.payload.len();
                // Members for which the MTSN did not count keep what they
                // still need (their backlog).
                for m in self.members.values_mut().filter(|_| !s.abandoned) {
                    let counted = match m.kind {
                        MemberKind::Multicast => true,
                        MemberKind::Returning => t >= m.return_from,
                        _ => false,
                    };
                    if !counted && t >= m.start && !m.acks.has(t) {
                        m.held.insert(t, s.chunk.clone());
                    }
                }
            }
            self.mctsn = t;
        }
        if let Some(w) = self.window.as_mut() {
            w.released_through(self.mctsn);
        }
    }
}

#[cfg(test)]
mod tests;
