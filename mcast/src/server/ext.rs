//! The server's [`Extension`]: one group on a server endpoint. It offers
//! the group in INIT ACKs (draft §"Multicast-Group Parameter"), creates a
//! member per association whose COOKIE ECHO carries an MREACH
//! (§"Server: Start MTSN"), sends the member's control state in MSYNCs on
//! its association (§"Control State"), sends group packets (MDATA and
//! MSYNC) to the group address (§"Transport of Group Packets"), repairs
//! and serves fallback members over their associations, and hands every
//! group message to peers without the extension as ordinary user messages
//! (§"Plain SCTP Peers").
//!
//! Round-trip times are measured per member from MSACK timestamps, and
//! every timer is derived from them (§"Round-Trip Time and Timers"); the
//! group path runs under a congestion window clocked by one member, the
//! acker, chosen as the member with the lowest predicted throughput, while
//! the others acknowledge sparsely (§"Group Congestion Window",
//! §"Acknowledgement: MSACK Timing and Feedback Scaling").
//!
//! Group messages may have a lifetime: what expires before every member
//! has it is abandoned and skipped with I-FORWARD-TSN semantics
//! (§"Abandoning Group Messages").
//!
//! Group packets are authenticated with the group key, which changes
//! whenever a member becomes GONE (§"Group Authentication"; the keys are in
//! `server/keys.rs`); members that make no progress or fall too far behind
//! are evicted with an End of Membership (§"Backlog Limits and Eviction").
//!
//! Unicast messages are ordered against group messages with BARRIER, in
//! both directions (§"BARRIER"): [`GroupServer::send_after_group`] (D=0,
//! group first) and [`GroupServer::send_before_group`] (D=1, unicast
//! first).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::chunk::{InitCommon, RawChunk, WireChunk};
use mcsctp_core::event::{AssociationHandle, CloseReason, Transmit};
use mcsctp_core::extension::{
    ChunkVerdict, Context, Establishment, Extension, InitAckExtras, Registration, Room,
};
use mcsctp_core::packet::{CommonHeader, PacketBuilder};
use mcsctp_core::param::WireParam;
use mcsctp_core::serial::{Ppid, StreamId, VerificationTag};
use mcsctp_core::tx::rto::{Fraction, Rto, RtoConfig};
use mcsctp_core::tx::send_queue::{OutgoingMessage, SendError};
use mcsctp_core::user_data::UserDataChunk;

use super::group::{GroupSender, GroupSenderConfig, MemberEvent, MemberKind, MemberStats};
use super::keys::GroupKeys;
use crate::Mtsn;
use crate::auth::{GroupAuth, GroupSigner};
use crate::chunk::msync::{
    EndOfMembership, EndReason, Feedback, Forward, ForwardEntry, Msync, MsyncParam, Start,
};
use crate::chunk::{self as mchunk, Barrier, McastChunk, Mdata};
use crate::chunk::{Mreach, ReachStatus};
use crate::defaults::DurationRule;
use crate::param::MulticastCapable;
use crate::param::{GroupAddresses, MulticastGroup, StreamRange};

/// Settings of a group.
#[derive(Debug, Clone)]
pub struct GroupServerConfig {
    /// Group address and UDP port.
    pub group: SocketAddr,
    /// The server's own address (the source of group packets).
    pub source: IpAddr,
    /// The group verification tag (never 0).
    pub group_tag: VerificationTag,
    /// The sender's limits; its `streams` group streams are 0..streams.
    pub sender: GroupSenderConfig,
    /// Largest group packet.
    pub max_packet: usize,
    /// Floor of the group-path MSYNC interval while anything is unresolved
    /// (Mcast.Sync.Interval = max(4 * SRTT_g, this)).
    pub sync_interval: Duration,
    /// Floor of the MSYNC after the last MDATA, the tail-loss probe
    /// (Mcast.Sync.TailDelay = max(2 * SRTT_g, this)).
    pub tail_delay: Duration,
    /// Group messages queued for a peer without the extension, at most
    /// (beyond, the peer is dropped from the group with an event).
    pub plain_backlog: usize,
    /// Mcast.Fallback.Window: group-path chunks a loss measurement spans.
    pub fallback_window: u64,
    /// Mcast.Fallback.LossThreshold.
    pub fallback_threshold: f64,
    /// Mcast.Fallback.MinEvents: loss events a measurement window needs to
    /// send a member to fallback.
    pub fallback_min_events: u32,
    /// Mcast.Return.LossThreshold.
    pub return_threshold: f64,
    /// Assoc.Max.Retrans for the control state: unanswered retransmissions
    /// after which the member's association is aborted (draft §"Control
    /// State" step 3; RFC 9260's default, 10).
    pub control_max_retrans: u32,
    /// Mcast.Group.Authenticate: every group packet begins with an AUTH
    /// chunk keyed with the group key, and the A flag is offered (draft
    /// §"Group Authentication"). On by default.
    pub authenticate: bool,
    /// Seed of the group keys. The runtime fills it from the operating
    /// system's randomness, as it does the endpoint's seed; a test fixes it
    /// to replay a run. All zero by default.
    pub key_seed: [u8; 32],
    /// Mcast.Key.RekeyTimeout (of SRTT_g): how long a key change waits for
    /// every member's acknowledgement.
    pub rekey_timeout: DurationRule,
    /// Mcast.Member.ProgressTimeout (of SRTT_k): a member with a backlog
    /// whose cumulative ack stands still this long is evicted.
    pub progress_timeout: DurationRule,
    /// Mcast.Member.MaxBacklog: octets of backlog a member may have.
    pub member_max_backlog: u64,
    /// Mcast.Group.MaxBacklog: octets of backlog all members may have
    /// together.
    pub group_max_backlog: u64,
    /// Mcast.Barrier.MaxRetrans: retransmissions of a unicast-first
    /// barrier's message to a member without acknowledgement after which
    /// the member's association is aborted (draft §"Sending BARRIER").
    pub barrier_max_retrans: u32,
}

impl GroupServerConfig {
    /// A group at `group`, sent from `source`, with defaults.
    pub fn new(group: SocketAddr, source: IpAddr, group_tag: VerificationTag) -> Self {
        Self {
            group,
            source,
            group_tag,
            sender: GroupSenderConfig::default(),
            max_packet: 1200,
            sync_interval: crate::defaults::SYNC_INTERVAL.floor,
            tail_delay: crate::defaults::SYNC_TAIL_DELAY.floor,
            plain_backlog: 4096,
            fallback_window: u64::from(crate::defaults::FALLBACK_WINDOW),
            fallback_threshold: crate::defaults::FALLBACK_LOSS_THRESHOLD,
            fallback_min_events: crate::defaults::FALLBACK_MIN_EVENTS,
            return_threshold: crate::defaults::RETURN_LOSS_THRESHOLD,
            control_max_retrans: 10,
            authenticate: crate::defaults::GROUP_AUTHENTICATE,
            key_seed: [0; 32],
            rekey_timeout: crate::defaults::KEY_REKEY_TIMEOUT,
            progress_timeout: crate::defaults::MEMBER_PROGRESS_TIMEOUT,
            member_max_backlog: crate::defaults::MEMBER_MAX_BACKLOG,
            group_max_backlog: crate::defaults::GROUP_MAX_BACKLOG,
            barrier_max_retrans: crate::defaults::BARRIER_MAX_RETRANS,
        }
    }
}

/// What the server's application hears about members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEvent {
    /// A member's state changed (joined, fallback, return...).
    Member(AssociationHandle, MemberKind),
    /// A member or plain peer was removed: it fell too far behind or made
    /// no progress (draft §"Backlog Limits and Eviction"), or the
    /// application removed it. A member's membership ends with an End of
    /// Membership in its control state; its association stays up.
    Removed(AssociationHandle),
    /// A peer without the extension gets the group's messages as DATA.
    PlainJoined(AssociationHandle),
    /// A member or plain peer left (its association ended, or the member
    /// resigned).
    Left(AssociationHandle),
    /// A key change began (draft §"Group Authentication"): the group key of
    /// this epoch was created and sent to every member.
    KeyChangeStarted(u16),
    /// The key change ended: group packets are authenticated with the key
    /// of this epoch, and the previous key left every control state.
    KeyChanged(u16),
    /// The member had not acknowledged the new key when the change ended:
    /// it was moved to fallback, and returns once it acknowledges the key.
    KeyNotAcknowledged(AssociationHandle),
}

/// A member's measured path ([`GroupServer::member_path`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberPath {
    /// SRTT_k, once measured from MSACK timestamps.
    pub srtt: Option<Duration>,
    /// p_k, the estimate of the member's group-path loss ratio (0 to 1).
    pub loss: f64,
}

/// What a unicast message for a member waits for before it is handed to
/// the member's association (draft §"Sending BARRIER"). The messages of a
/// member leave in the order the application sent them.
#[derive(Debug)]
enum Gate {
    /// D=0: every group message of this position ([`GroupSender::position`])
    /// has all its MTSNs.
    AfterGroup(Vec<(u16, u64)>),
    /// D=1: the barrier of this mark was created (it has its M).
    BeforeGroup(u32),
    /// Nothing: an association the group does not reach.
    Open,
}

/// A unicast message behind a [`Gate`].
type Gated = (Gate, OutgoingMessage);

/// A unicast-first barrier of one member (draft §"Sending BARRIER", D=1),
/// by the extension mark of its unicast message U.
#[derive(Debug)]
struct BeforeHold {
    member: AssociationHandle,
    /// M, once the barrier is created.
    mtsn: Option<Mtsn>,
    /// The TSN of U's first fragment, once it was sent.
    tsn: Option<mcsctp_core::serial::Tsn>,
    /// Transmissions of that fragment (each with the BARRIER).
    sent: u32,
    /// Whether the group waits for the member to acknowledge that TSN.
    holding: bool,
    /// Whether U was handed to the member's association.
    handed: bool,
    /// Once every fragment of U has a TSN: an upper bound of its last.
    last: Option<mcsctp_core::serial::Tsn>,
}

/// A unicast-first request whose barrier is not created yet: the group's
/// position when the application asked, the place of the fence behind it
/// ([`GroupSender::fence`]), and the marks of its members' barriers.
#[derive(Debug)]
struct BeforeRequest {
    position: Vec<(u16, u64)>,
    fence: u64,
    marks: Vec<u32>,
}

/// What a plain peer's queue holds (draft §"Abandonment, Fallback and
/// Plain Peers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainItem {
    /// A group message.
    Group,
    /// A unicast-first message (D=1): the group messages after it wait.
    UnicastFirst,
    /// A group-first message (D=0): it waits until the peer's cumulative
    /// TSN ack covers every TSN of the group messages before it.
    AfterGroup,
}

/// A plain peer's group-first message waiting at the head of its queue:
/// for the group message with `mark` (the last one before it) to have
/// every fragment sent, then for the cumulative TSN ack to reach `last`.
#[derive(Debug)]
struct PlainAfter {
    mark: u32,
    /// An upper bound of the TSN of that message's last fragment, once
    /// every fragment was sent.
    last: Option<mcsctp_core::serial::Tsn>,
    /// The peer acknowledged them all: the message may go.
    done: bool,
}

impl PlainAfter {
    /// Updates the wait from the association's state (`cum`: its
    /// cumulative TSN ack); whether it is over.
    fn update(&mut self, cx: &Context<'_>, cum: Option<mcsctp_core::serial::Tsn>) -> bool {
        if self.mark == 0 {
            self.done = true;
        }
        if !self.done && self.last.is_none() && !cx.is_queued(self.mark) {
            self.last = cx
                .next_tsn()
                .map(|t| mcsctp_core::serial::Tsn(t.0.wrapping_sub(1)));
        }
        if let (Some(last), Some(cum)) = (self.last, cum)
            && !last.is_after(cum)
        {
            self.done = true;
        }
        self.done
    }
}

/// A unicast-first message on a plain peer's association (draft
/// §"Abandonment, Fallback and Plain Peers"): the group messages behind it
/// wait until the cumulative TSN ack covers every TSN that carries it.
#[derive(Debug)]
struct PlainWait {
    mark: u32,
    /// An upper bound of the TSN of its last fragment, once every fragment
    /// was sent.
    last: Option<mcsctp_core::serial::Tsn>,
}

/// Per-member control state (draft §"Control State").
#[derive(Debug)]
struct Ctl {
    seq: u32,
    echoed: u32,
    start: Mtsn,
    /// When the control state goes again if not echoed (one RTO after it
    /// was sent), and whether that time has come.
    resend_at: Option<Instant>,
    resend_due: bool,
    /// (Sync Sequence, Group Received Count) of the previous MSACK with
    /// the S flag, for the return measurement.
    last_snapshot: Option<(u32, u32)>,
    /// The current measurement window: chunks the server sent on the
    /// group path, chunks the member received there.
    expected: u64,
    received: u64,
    /// SRTT_k, RTTVAR_k and RTO_k (draft §"Round-Trip Time and Timers").
    rtt: Rto,
    /// The last Timestamp Echo used (each is used once).
    last_echo: Option<u32>,
    /// p_k, the loss estimate of the group path (draft §"Group Congestion
    /// Window").
    loss: f64,
    /// The Feedback values in the member's control state.
    feedback: Feedback,
    /// The current measurement window's start and its loss events (losses
    /// less than SRTT_k after an event's first belong to it, draft
    /// §"Measuring the Group Path").
    window_start: Option<Instant>,
    loss_events: u32,
    event_at: Option<Instant>,
    /// The member's state as last seen, when it last fell back, when it
    /// last entered MULTICAST from RETURNING, and its hold-down time H
    /// (draft §"Moving to Fallback").
    kind: Option<MemberKind>,
    fell_back_at: Option<Instant>,
    multicast_since: Option<Instant>,
    returned: bool,
    holddown: Duration,
    /// The skip points of the control state last sent, with its Control
    /// Sequence Number.
    forward: Option<(u32, Vec<ForwardEntry>)>,
    /// The Control Sequence Number last sent, how often it was sent again,
    /// and the wait before the next retransmission.
    sent_seq: Option<u32>,
    resends: u32,
    resend_interval: Duration,
    /// The Control Sequence Number that first carried the newest group key
    /// (the member holds that key once it echoes this number or a later
    /// one).
    key_seq: u32,
    /// The membership ended with this End of Membership (the member is
    /// GONE); the control state goes on until it is echoed.
    ended: Option<EndReason>,
    /// Retransmissions of an ended member's control state.
    retries: u32,
    /// The member's acknowledged count when it last advanced, when, and
    /// whether it had a backlog then (for Mcast.Member.ProgressTimeout).
    progress: (u64, Instant, bool),
}

impl Ctl {
    /// Draft §"Moving to Fallback" step 4, the hold-down time H: "if the
    /// member comes from RETURNING, or from MULTICAST less than
    /// Mcast.Return.StableTime after it last entered MULTICAST from
    /// RETURNING, H becomes the smaller of 2 * H and Mcast.Return.MaxTime;
    /// otherwise H becomes Mcast.Return.MinTime".
    fn kind_changed(&mut self, now: Instant, kind: MemberKind) {
        use crate::defaults as d;
        match kind {
            MemberKind::Fallback => {
                let unstable = self.kind == Some(MemberKind::Returning)
                    || (self.kind == Some(MemberKind::Multicast)
                        && self
                            .multicast_since
                            .is_some_and(|t| now < t + d::RETURN_STABLE_TIME));
                self.holddown = if unstable {
                    (self.holddown * 2).min(d::RETURN_MAX_TIME)
                } else {
                    d::RETURN_MIN_TIME
                };
                self.fell_back_at = Some(now);
            }
            // A return (RETURNING entered from FALLBACK, not the joining
            // member's confirmation) that completes.
            MemberKind::Returning => self.returned = self.kind == Some(MemberKind::Fallback),
            MemberKind::Multicast if self.kind == Some(MemberKind::Returning) && self.returned => {
                self.multicast_since = Some(now);
            }
            _ => {}
        }
        self.kind = Some(kind);
    }

    /// A group-path loss seen at `now`: a new loss event unless within
    /// SRTT_k of the current event's first loss.
    fn note_loss_event(&mut self, now: Instant) {
        let srtt = self.rtt.srtt().unwrap_or(crate::defaults::RTO_MIN);
        if self.event_at.is_none_or(|at| now >= at + srtt) {
            self.event_at = Some(now);
            self.loss_events += 1;
        }
    }

    /// T_k = 1 / (SRTT_k * sqrt(max(p_k, Mcast.CC.MinLoss))), per second.
    fn throughput(&self, srtt_floor: Duration) -> f64 {
        let srtt = self
            .rtt
            .srtt()
            .unwrap_or(srtt_floor)
            .max(Duration::from_micros(1));
        1.0 / (srtt.as_secs_f64() * self.loss.max(crate::defaults::CC_MIN_LOSS).sqrt())
    }
}

/// Whether Control Sequence Number `echo` is `seq` or later (serial).
fn covers(echo: u32, seq: u32) -> bool {
    echo.wrapping_sub(seq) < 1 << 31
}

/// Retransmissions of an ended member's control state before the server
/// forgets it (RFC 9260's Assoc.Max.Retrans default).
const END_MAX_RETRANS: u32 = 10;

/// How often, at most, backlogs are measured when new MTSNs go out (they
/// are also measured on every MSACK and timer).
const BACKLOG_CHECK: Duration = Duration::from_millis(1);

/// The server side of the extension, one group.
#[derive(Debug)]
pub struct GroupServer {
    cfg: GroupServerConfig,
    sender: GroupSender<AssociationHandle>,
    members: BTreeMap<AssociationHandle, Ctl>,
    /// Associations whose cookie offered the group and whose MREACH has not
    /// arrived yet.
    awaiting: BTreeSet<AssociationHandle>,
    /// Peers without the extension, with the group messages and unicast
    /// messages ordered against them not yet handed to their association.
    plain: BTreeMap<AssociationHandle, VecDeque<(PlainItem, OutgoingMessage)>>,
    /// Plain peers whose group messages wait for a unicast-first message.
    plain_wait: BTreeMap<AssociationHandle, PlainWait>,
    /// Per plain peer, the mark of the last group message handed to its
    /// association (what a group-first message waits for).
    plain_last_group: BTreeMap<AssociationHandle, u32>,
    /// Plain peers whose group-first message (D=0) at the head of their
    /// queue waits for the group messages before it to be acknowledged.
    plain_after: BTreeMap<AssociationHandle, PlainAfter>,
    sync_seq: u32,
    /// Group chunks sent before each recent group-path MSYNC.
    sent_before_sync: VecDeque<(u32, u64)>,
    next_sync: Option<Instant>,
    /// The MSYNC timer fired; the MSYNC goes with the next group packet
    /// (the timer is consumed so that a runtime that cannot send now does
    /// not see it in the past again).
    sync_due: bool,
    epoch: Option<Instant>,
    wake: Vec<AssociationHandle>,
    events: VecDeque<GroupEvent>,
    /// Unicast messages with a barrier (D=0 or D=1), per member, in order.
    after_group: BTreeMap<AssociationHandle, VecDeque<Gated>>,
    /// Unicast-first barriers, by the mark of their unicast message.
    before: BTreeMap<u32, BeforeHold>,
    /// Unicast-first requests not created yet, oldest first.
    requests: VecDeque<BeforeRequest>,
    /// Members whose unicast-first message was retransmitted
    /// Mcast.Barrier.MaxRetrans times without acknowledgement: their
    /// association is aborted at once (from this instant).
    barrier_aborts: BTreeMap<AssociationHandle, Instant>,
    /// A member left while a unicast-first barrier held the group for it:
    /// the hold lasts until this many key changes have completed, so that
    /// the member (which may not have learnt that it left) cannot
    /// authenticate the group messages the barrier held.
    barrier_rekey: Option<u64>,
    /// Extension marks of barrier messages: the member, the MTSN they wait
    /// for, and the TSN of their first fragment once sent (the mark is
    /// forgotten when a SACK covers it).
    marks: BTreeMap<u32, (AssociationHandle, Mtsn, Option<mcsctp_core::serial::Tsn>)>,
    next_mark: u32,
    /// SRTT_g: the largest SRTT_k of the active members (of the joined
    /// ones if none is active), once measured.
    srtt_g: Option<Duration>,
    /// The timers derived from it.
    sync_interval: Duration,
    tail_delay: Duration,
    /// The median T_k of the active members (the slow-member rule).
    median_throughput: Option<f64>,
    /// When the acker last sent an MSACK (its silence collapses cwnd_g).
    acker_heard: Option<Instant>,
    /// The group keys (draft §"Group Authentication").
    keys: GroupKeys,
    /// The current key, keyed for signing, and its epoch.
    signer: Option<(u16, GroupSigner)>,
    /// This endpoint's SCTP port, from its members' associations: both
    /// ports of every group packet (draft §"Transport of Group Packets").
    sctp_port: Option<u16>,
    /// When backlogs were last measured.
    backlog_checked: Option<Instant>,
    /// A member became GONE where no clock was at hand (its association
    /// closed): the key change begins at the next timeout.
    gone_pending: bool,
    /// Octets the server put on the group path.
    pub bytes_multicast: u64,
    /// Octets of MDATA and control the server put on associations.
    pub bytes_unicast: u64,
}

impl GroupServer {
    /// A group with no member.
    pub fn new(cfg: GroupServerConfig) -> Self {
        let (sync_interval, tail_delay) = (cfg.sync_interval, cfg.tail_delay);
        Self {
            sender: GroupSender::new(cfg.sender.clone()),
            keys: GroupKeys::new(cfg.key_seed),
            signer: None,
            sctp_port: None,
            backlog_checked: None,
            gone_pending: false,
            cfg,
            members: BTreeMap::new(),
            awaiting: BTreeSet::new(),
            plain: BTreeMap::new(),
            sync_seq: 0,
            sent_before_sync: VecDeque::new(),
            next_sync: None,
            sync_due: false,
            epoch: None,
            wake: Vec::new(),
            events: VecDeque::new(),
            after_group: BTreeMap::new(),
            before: BTreeMap::new(),
            requests: VecDeque::new(),
            barrier_aborts: BTreeMap::new(),
            barrier_rekey: None,
            plain_wait: BTreeMap::new(),
            plain_last_group: BTreeMap::new(),
            plain_after: BTreeMap::new(),
            marks: BTreeMap::new(),
            next_mark: 0,
            srtt_g: None,
            sync_interval,
            tail_delay,
            median_throughput: None,
            acker_heard: None,
            bytes_multicast: 0,
            bytes_unicast: 0,
        }
    }

    /// Sends a group message to every member and plain peer.
    pub fn send(
        &mut self,
        now: Instant,
        stream: StreamId,
        ppid: Ppid,
        payload: Bytes,
    ) -> Result<(), SendError> {
        self.send_message(now, OutgoingMessage::new(stream, ppid, payload))
    }

    /// Queues a group message for every plain peer.
    fn queue_plain(&mut self, msg: impl Fn() -> OutgoingMessage) {
        for (h, q) in &mut self.plain {
            q.push_back((PlainItem::Group, msg()));
            self.wake.push(*h);
        }
        // A plain peer that cannot take the group's messages as fast as
        // they come is dropped from the group, with an event, rather than
        // buffered without bound.
        let limit = self.cfg.plain_backlog;
        let slow: Vec<AssociationHandle> = self
            .plain
            .iter()
            .filter(|(_, q)| q.len() > limit)
            .map(|(h, _)| *h)
            .collect();
        for h in slow {
            self.plain.remove(&h);
            self.plain_wait.remove(&h);
            self.plain_after.remove(&h);
            self.plain_last_group.remove(&h);
            self.events.push_back(GroupEvent::Removed(h));
        }
    }

    /// Sends a group message with options (draft §"Abandoning Group
    /// Messages"): `msg.unordered`, and `msg.lifetime`, after which the
    /// message is abandoned for every member that does not have it yet
    /// (members skip it with I-FORWARD-TSN semantics; plain peers through
    /// their association's PR-SCTP, if negotiated). Its other options are
    /// ignored.
    pub fn send_message(&mut self, now: Instant, msg: OutgoingMessage) -> Result<(), SendError> {
        let (stream, ppid, payload) = (msg.stream, msg.ppid, msg.payload.clone());
        let (unordered, lifetime) = (msg.unordered, msg.lifetime);
        self.sender.send_message(now, msg)?;
        self.queue_plain(|| {
            let mut m = OutgoingMessage::new(stream, ppid, payload.clone());
            m.unordered = unordered;
            m.lifetime = lifetime;
            m
        });
        Ok(())
    }

    /// Sends a unicast message to one member that it must not deliver
    /// before every group message sent before it (BARRIER D=0, draft
    /// §"BARRIER": "invalidate by multicast, then reply by unicast"). The
    /// message waits until those group messages have all their MTSNs, then
    /// goes out on the member's association with a BARRIER before its
    /// first fragment in every transmission; behind a unicast-first message
    /// ([`send_before_group`](Self::send_before_group)) it also waits until
    /// the member's cumulative TSN ack covers that message whole. A peer
    /// without the extension (draft §"Abandonment, Fallback and Plain
    /// Peers") gets it as an ordinary message once its
    /// cumulative TSN ack covers every TSN of the group messages sent
    /// before it (the group messages after it wait behind it).
    pub fn send_after_group(
        &mut self,
        member: AssociationHandle,
        stream: StreamId,
        ppid: Ppid,
        payload: Bytes,
    ) {
        if let Some(q) = self.plain.get_mut(&member) {
            q.push_back((
                PlainItem::AfterGroup,
                OutgoingMessage::new(stream, ppid, payload),
            ));
            self.wake.push(member);
            return;
        }
        let position = self.sender.position();
        self.after_group.entry(member).or_default().push_back((
            Gate::AfterGroup(position),
            OutgoingMessage::new(stream, ppid, payload),
        ));
        self.wake.push(member);
    }

    /// Sends a unicast message U to each of `members` that they must
    /// deliver before every group message sent after it (BARRIER D=1,
    /// draft §"Sending BARRIER": "the application sends U (to one or more
    /// members), then group message G"), e.g. a snapshot or a grant
    /// followed by group updates.
    ///
    /// The barrier is created once every group message sent before this
    /// call has all its MTSNs; group messages sent after it wait (they get
    /// no MTSN) until then, and U waits too. M is then the next MTSN, and U
    /// goes out on each member's association with a BARRIER (D=1, MTSN M)
    /// before its first fragment in every transmission. From then on the
    /// group assigns no new MTSN until every member that was sent such a
    /// BARRIER has acknowledged U's first fragment (cumulative TSN or Gap
    /// Ack Block); retransmissions and unicast traffic go on. A member
    /// whose copy of that fragment was retransmitted
    /// Mcast.Barrier.MaxRetrans times without acknowledgement has its
    /// association aborted, which releases its part of the hold.
    ///
    /// A plain peer (draft §"Abandonment, Fallback and Plain Peers") gets U
    /// as an ordinary message; the group messages after it wait until the
    /// peer's cumulative TSN ack covers every TSN that carries U. An
    /// association whose membership ended, or that the group does not
    /// reach, gets U as it is. U is reliable and ordered on `stream`.
    pub fn send_before_group(
        &mut self,
        now: Instant,
        members: &[AssociationHandle],
        stream: StreamId,
        ppid: Ppid,
        payload: Bytes,
    ) {
        let msg = || OutgoingMessage::new(stream, ppid, payload.clone());
        let mut marks = Vec::new();
        for &h in members {
            if let Some(q) = self.plain.get_mut(&h) {
                q.push_back((PlainItem::UnicastFirst, msg()));
                self.wake.push(h);
                continue;
            }
            let member = self.awaiting.contains(&h)
                || self.members.get(&h).is_some_and(|c| c.ended.is_none());
            let gate = if member {
                let mark = self.new_mark();
                self.before.insert(
                    mark,
                    BeforeHold {
                        member: h,
                        mtsn: None,
                        tsn: None,
                        sent: 0,
                        holding: false,
                        handed: false,
                        last: None,
                    },
                );
                marks.push(mark);
                Gate::BeforeGroup(mark)
            } else {
                Gate::Open
            };
            self.after_group
                .entry(h)
                .or_default()
                .push_back((gate, msg()));
            self.wake.push(h);
        }
        if !marks.is_empty() {
            let position = self.sender.position();
            let fence = self.sender.fence();
            self.requests.push_back(BeforeRequest {
                position,
                fence,
                marks,
            });
            self.advance_barriers(now);
        }
    }

    /// Whether a unicast-first message U already handed to the
    /// association of `cx` is not yet acknowledged whole (by the
    /// cumulative TSN ack). A group-first message behind it waits for
    /// that (draft §"Sending BARRIER"): its group prefix may hold group
    /// messages the member holds back until U is delivered, and waiting in
    /// the member's receive buffer it could take the room U still needs.
    fn unfinished_before(&mut self, cx: &Context<'_>) -> bool {
        let h = cx.association();
        let cum = cx.cumulative_tsn_ack();
        let next = cx.next_tsn();
        let mut unfinished = false;
        for (&mark, b) in self.before.iter_mut() {
            if b.member != h || !b.handed {
                continue;
            }
            if b.last.is_none()
                && !cx.is_queued(mark)
                && let Some(n) = next
            {
                // Every fragment of U has a TSN before the next one.
                b.last = Some(mcsctp_core::serial::Tsn(n.0.wrapping_sub(1)));
            }
            unfinished |= match (b.last, cum) {
                (Some(l), Some(c)) => l.is_after(c),
                _ => true,
            };
        }
        unfinished
    }

    /// A fresh extension mark (never 0).
    fn new_mark(&mut self) -> u32 {
        loop {
            self.next_mark = self.next_mark.wrapping_add(1).max(1);
            if !self.marks.contains_key(&self.next_mark)
                && !self.before.contains_key(&self.next_mark)
                && !self.plain_wait.values().any(|w| w.mark == self.next_mark)
                && !self.plain_last_group.values().any(|m| *m == self.next_mark)
                && !self.plain_after.values().any(|w| w.mark == self.next_mark)
            {
                return self.next_mark;
            }
        }
    }

    /// Draft §"Sending BARRIER", D=1: creates the barriers of the oldest
    /// requests whose earlier group messages all have their MTSNs (M is
    /// the next MTSN; the hold starts), lets the group messages sent
    /// between that request and the next one into the send queue, and
    /// sets the hold from the barriers still unacknowledged.
    fn advance_barriers(&mut self, now: Instant) {
        while let Some(r) = self.requests.front() {
            if self.sender.prefix_end(&r.position).is_none() {
                break;
            }
            let Some(r) = self.requests.pop_front() else {
                break;
            };
            let m = self.sender.next_mtsn();
            for mark in r.marks {
                let Some(b) = self.before.get_mut(&mark) else {
                    continue;
                };
                b.mtsn = Some(m);
                // Only a member still in the group holds it.
                b.holding = self.awaiting.contains(&b.member)
                    || self
                        .members
                        .get(&b.member)
                        .is_some_and(|c| c.ended.is_none());
                self.wake.push(b.member);
            }
            let upto = self.requests.front().map(|n| n.fence);
            self.sender.release_held(now, upto);
        }
        self.update_barrier_hold();
    }

    /// The hold is in effect while a created barrier waits for its
    /// acknowledgement, or for the key change after a member left with one.
    fn update_barrier_hold(&mut self) {
        if self
            .barrier_rekey
            .is_some_and(|n| !self.cfg.authenticate || self.keys.changes() >= n)
        {
            self.barrier_rekey = None;
        }
        let hold = self.barrier_rekey.is_some()
            || self.before.values().any(|b| b.holding && b.mtsn.is_some());
        self.sender.set_barrier_hold(hold);
    }

    /// Member `h` leaves the group (its association ended, or its
    /// membership) while a unicast-first barrier waits for it: its part of
    /// the hold is released once the key change its departure starts has
    /// completed (draft §"Sending BARRIER": the member may not learn that
    /// it left, an ABORT or End of Membership being lost, and must not
    /// authenticate the group messages the barrier held).
    fn barrier_member_left(&mut self, h: AssociationHandle) {
        let mut held = false;
        for b in self.before.values_mut().filter(|b| b.member == h) {
            held |= b.holding && b.mtsn.is_some();
            b.holding = false;
        }
        if held && self.cfg.authenticate {
            // A change in progress may have given it the next key: the one
            // after it is needed.
            let need = self.keys.changes() + if self.keys.next().is_some() { 2 } else { 1 };
            self.barrier_rekey = Some(self.barrier_rekey.map_or(need, |n| n.max(need)));
        }
        self.update_barrier_hold();
    }

    /// Whether some unicast-first barrier holds the group (draft §"Sending
    /// MDATA" condition 4).
    pub fn barrier_hold(&self) -> bool {
        self.sender.barrier_hold()
    }

    /// A member's state and figures.
    pub fn member(&self, a: AssociationHandle) -> Option<MemberStats> {
        self.sender.member(a)
    }

    /// A member's measured path: SRTT_k and p_k (draft §"Round-Trip Time
    /// and Timers", §"Group Congestion Window").
    pub fn member_path(&self, a: AssociationHandle) -> Option<MemberPath> {
        self.members.get(&a).map(|c| MemberPath {
            srtt: c.rtt.srtt(),
            loss: c.loss,
        })
    }

    /// Unicast messages queued for `member` behind the group
    /// ([`send_after_group`](Self::send_after_group)) that its association
    /// has not taken yet.
    pub fn after_group_queued(&self, member: AssociationHandle) -> usize {
        self.after_group.get(&member).map_or(0, VecDeque::len)
    }

    /// The members and plain peers (not those whose membership ended).
    pub fn members(&self) -> impl Iterator<Item = AssociationHandle> + '_ {
        self.members
            .iter()
            .filter(|(_, c)| c.ended.is_none())
            .map(|(h, _)| h)
            .chain(self.plain.keys())
            .copied()
    }

    /// Ends a member's membership (draft §"Member Leave, Removal, Abort,
    /// Restart and Failure", Removal): End of Membership (reason 1) in its
    /// control state, retransmitted until echoed; the member is GONE at
    /// once, which starts a key change. Its association stays up.
    pub fn remove(&mut self, now: Instant, member: AssociationHandle) {
        self.end_membership(now, member, EndReason::Removed);
        self.pump_sender_events(now);
    }

    /// The epoch of the key that authenticates group packets now, if the
    /// group is authenticated.
    pub fn key_epoch(&self) -> Option<u16> {
        self.cfg.authenticate.then(|| self.keys.current().key_epoch)
    }

    /// Whether a key change is in progress.
    pub fn is_rekeying(&self) -> bool {
        self.keys.next().is_some()
    }

    /// Key changes completed since the group was created.
    pub fn key_changes(&self) -> u64 {
        self.keys.changes()
    }

    /// Octets of a member's backlog (draft §"Backlog Limits and Eviction").
    pub fn backlog_bytes(&self, member: AssociationHandle) -> Option<usize> {
        self.sender.backlog_bytes(member)
    }

    /// Whether everything sent has been acknowledged by every member and
    /// handed to every plain peer's association. A member that is not
    /// active (JOINING, FALLBACK, RETURNING) does not hold back buffer
    /// release, but what it still lacks is in its backlog (draft
    /// §"Presumed Reachable", §"Backlog Limits and Eviction"): the group
    /// is not idle until that is acknowledged too (or the member is gone).
    pub fn is_idle(&self) -> bool {
        !self.sender.has_queued()
            && self.sender.buffered_bytes() == 0
            && self
                .members
                .keys()
                .all(|h| !self.sender.has_unicast(*h) && !self.sender.has_backlog(*h))
            && self.plain.values().all(VecDeque::is_empty)
            && self.plain_wait.is_empty()
            && self.requests.is_empty()
            && self.after_group.is_empty()
            && !self.sender.barrier_hold()
    }

    /// The group sender (figures).
    pub fn sender(&self) -> &GroupSender<AssociationHandle> {
        &self.sender
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<GroupEvent> {
        self.events.pop_front()
    }

    fn timestamp(&mut self, now: Instant) -> u32 {
        let e = *self.epoch.get_or_insert(now);
        now.saturating_duration_since(e).as_micros() as u32
    }

    /// Members with new skip points get their control state again.
    fn send_forwards(&mut self) {
        for h in self.sender.take_forward_due() {
            if let Some(ctl) = self.members.get_mut(&h) {
                ctl.seq = ctl.seq.wrapping_add(1);
                ctl.resend_due = true;
                self.wake.push(h);
            }
        }
    }

    fn pump_sender_events(&mut self, now: Instant) {
        self.send_forwards();
        while let Some(e) = self.sender.poll_event() {
            match e {
                MemberEvent::Changed(h, k) => {
                    if let Some(c) = self.members.get_mut(&h) {
                        c.kind_changed(now, k);
                    }
                    self.events.push_back(GroupEvent::Member(h, k));
                }
                // Out of reach (draft §"Backlog Limits and Eviction"):
                // evicted, reason 3.
                MemberEvent::Removed(h) => self.end_membership(now, h, EndReason::BacklogLimit),
            }
        }
    }

    /// Draft §"Member Leave, Removal, Abort, Restart and Failure": "The
    /// server stops counting the member (it is GONE) when it adds the End
    /// of Membership" to its control state. Every member that becomes GONE
    /// starts a key change.
    fn end_membership(&mut self, now: Instant, h: AssociationHandle, reason: EndReason) {
        let Some(c) = self.members.get_mut(&h) else {
            return;
        };
        if c.ended.is_some() {
            return;
        }
        c.ended = Some(reason);
        self.bump(h);
        self.sender.remove_member(h);
        // No longer a member: its unicast-first barriers hold nothing once
        // it can no longer read the group.
        self.barrier_member_left(h);
        self.events.push_back(match reason {
            EndReason::ResignAcknowledged => GroupEvent::Left(h),
            _ => GroupEvent::Removed(h),
        });
        self.member_gone(now);
    }

    /// The member's control state changed: a new Control Sequence Number,
    /// sent at once (draft §"Control State" step 2).
    fn bump(&mut self, h: AssociationHandle) {
        if let Some(c) = self.members.get_mut(&h) {
            c.seq = c.seq.wrapping_add(1);
            c.resend_due = true;
            c.retries = 0;
            self.wake.push(h);
        }
    }

    /// Draft §"Group Authentication": a member became GONE; a new key
    /// unless a change is in progress (then another change follows it).
    fn member_gone(&mut self, now: Instant) {
        if !self.cfg.authenticate {
            return;
        }
        let deadline = now
            + self
                .cfg
                .rekey_timeout
                .apply(self.srtt_g.unwrap_or_default());
        if self.keys.member_gone(deadline) {
            self.key_change_started();
            self.next_sync.get_or_insert(now);
        }
    }

    /// The members that are not GONE.
    fn live_members(&self) -> Vec<AssociationHandle> {
        self.members
            .iter()
            .filter(|(_, c)| c.ended.is_none())
            .map(|(h, _)| *h)
            .collect()
    }

    /// "The server creates the next key and adds it to the control state of
    /// every member that is not GONE".
    fn key_change_started(&mut self) {
        let hs = self.live_members();
        for h in hs {
            self.bump(h);
            if let Some(c) = self.members.get_mut(&h) {
                c.key_seq = c.seq;
            }
        }
        if let Some(k) = self.keys.next() {
            self.events
                .push_back(GroupEvent::KeyChangeStarted(k.key_epoch));
        }
    }

    /// "[...] until every such member has echoed a Control Sequence Number
    /// that covers the new key, or until Mcast.Key.RekeyTimeout has passed.
    /// It then authenticates with the new key and removes the old one from
    /// the control state. A member that had not acknowledged the new key in
    /// time is moved to FALLBACK".
    fn check_key_change(&mut self, now: Instant) {
        let Some(deadline) = self.keys.deadline() else {
            return;
        };
        let late: Vec<AssociationHandle> = self
            .members
            .iter()
            .filter(|(_, c)| c.ended.is_none() && !covers(c.echoed, c.key_seq))
            .map(|(h, _)| *h)
            .collect();
        if !late.is_empty() && now < deadline {
            return;
        }
        for &h in &late {
            self.events.push_back(GroupEvent::KeyNotAcknowledged(h));
            self.sender.fall_back(h);
            self.wake.push(h);
        }
        let again = self.keys.finish();
        let hs = self.live_members();
        for h in hs {
            self.bump(h);
        }
        self.events
            .push_back(GroupEvent::KeyChanged(self.keys.current().key_epoch));
        if again {
            self.member_gone(now);
        }
    }

    /// Whether the member holds the newest group key (or the group is not
    /// authenticated).
    fn has_key(&self, h: AssociationHandle) -> bool {
        !self.cfg.authenticate
            || self
                .members
                .get(&h)
                .is_some_and(|c| covers(c.echoed, c.key_seq))
    }

    /// Draft §"Backlog Limits and Eviction": a member that is not active
    /// is evicted when its backlog exceeds Mcast.Member.MaxBacklog, or when
    /// it has a backlog and its cumulative ack has not advanced for
    /// Mcast.Member.ProgressTimeout; while all backlogs together exceed
    /// Mcast.Group.MaxBacklog, the largest is evicted.
    fn enforce_backlogs(&mut self, now: Instant) {
        self.backlog_checked = Some(now);
        let mut evict = Vec::new();
        let mut sizes = Vec::new();
        for (&h, c) in self.members.iter_mut() {
            if c.ended.is_some() {
                continue;
            }
            let Some(st) = self.sender.member(h) else {
                continue;
            };
            if st.kind == MemberKind::Multicast {
                c.progress = (st.acked, now, false);
                continue;
            }
            let backlog = self.sender.backlog_bytes(h).unwrap_or(0) as u64;
            // The timeout runs from the first check that finds the member
            // with a backlog and no progress since the one before.
            if st.acked != c.progress.0 || backlog == 0 || !c.progress.2 {
                c.progress = (st.acked, now, backlog > 0);
            } else if now
                >= c.progress.1
                    + self
                        .cfg
                        .progress_timeout
                        .apply(c.rtt.srtt().unwrap_or_default())
            {
                evict.push((h, EndReason::NoProgress));
                continue;
            }
            if backlog > self.cfg.member_max_backlog {
                evict.push((h, EndReason::BacklogLimit));
                continue;
            }
            sizes.push((backlog, h));
        }
        let mut total: u64 = sizes.iter().map(|(b, _)| b).sum();
        sizes.sort();
        while total > self.cfg.group_max_backlog {
            let Some((b, h)) = sizes.pop() else {
                break;
            };
            total -= b;
            evict.push((h, EndReason::BacklogLimit));
        }
        for (h, reason) in evict {
            self.end_membership(now, h, reason);
        }
    }

    /// [`Self::enforce_backlogs`], at most every [`BACKLOG_CHECK`].
    fn check_backlogs(&mut self, now: Instant) {
        if self
            .backlog_checked
            .is_none_or(|t| now >= t + BACKLOG_CHECK)
        {
            self.enforce_backlogs(now);
        }
    }

    /// When the next member would be evicted for lack of progress.
    fn progress_deadline(&self) -> Option<Instant> {
        self.sender
            .members_not_multicast()
            .filter_map(|h| self.members.get(&h))
            .filter(|c| c.ended.is_none())
            .map(|c| {
                c.progress.1
                    + self
                        .cfg
                        .progress_timeout
                        .apply(c.rtt.srtt().unwrap_or_default())
            })
            .min()
    }

    /// The member's control state in an MSYNC on its association (draft
    /// §"Control State" steps 2 and 3): a new Control Sequence Number waits
    /// RTO_k for its echo, each retransmission of the same number twice as
    /// long as the one before, up to Mcast.RTO.Max.
    fn control_msync(&mut self, now: Instant, h: AssociationHandle) -> Option<RawChunk> {
        let ts = self.timestamp(now);
        let highest = self.sender.highest_sent();
        let mctsn = self.sender.mctsn();
        let forward = self.sender.forward(h);
        let ctl = self.members.get_mut(&h)?;
        let fb = ctl.feedback;
        if ctl.sent_seq == Some(ctl.seq) {
            ctl.resends += 1;
            ctl.resend_interval = (ctl.resend_interval * 2).min(crate::defaults::RTO_MAX);
        } else {
            ctl.sent_seq = Some(ctl.seq);
            ctl.resends = 0;
            ctl.resend_interval = ctl.rtt.rto();
        }
        ctl.resend_at = Some(now + ctl.resend_interval.max(crate::defaults::RTO_MIN));
        ctl.resend_due = false;
        let m = Msync::new(self.sync_seq, highest, mctsn, ts, ctl.seq);
        if let Some(reason) = ctl.ended {
            // A GONE member's control state is its End of Membership.
            ctl.retries += 1;
            return Some(
                m.with_param(&MsyncParam::End(EndOfMembership { reason }))
                    .to_raw(),
            );
        }
        let mut m = m
            .with_param(&MsyncParam::Start(Start {
                start_mtsn: ctl.start,
            }))
            .with_param(&MsyncParam::Feedback(fb));
        // Abandoned messages (draft §"Abandoning Group Messages"): the
        // Forward stays in the control state until echoed.
        ctl.forward = None;
        if let Some((cum, entries)) = forward {
            m = m.with_param(&MsyncParam::Forward(Forward::new(cum, &entries)));
            ctl.forward = Some((ctl.seq, entries));
        }
        // Draft §"Group Authentication": the current key and, during a
        // change, the next one; they travel together, so the member's keys
        // are exactly these.
        if self.cfg.authenticate {
            for k in self.keys.control_keys() {
                m = m.with_param(&MsyncParam::GroupKey(k.clone()));
            }
        }
        Some(m.to_raw())
    }

    fn on_mreach(&mut self, cx: &mut Context<'_>, r: Mreach) {
        let h = cx.association();
        if r.group_tag != self.cfg.group_tag {
            return;
        }
        if !self.awaiting.remove(&h) {
            // Draft §"Member Leave, Removal, Abort, Restart and Failure",
            // Leave: RESIGN ends the membership (End of Membership, reason
            // 2); after that, the End of Membership is sent again.
            if r.status == ReachStatus::Resign {
                if self.members.get(&h).is_some_and(|c| c.ended.is_some()) {
                    self.bump(h);
                } else {
                    self.end_membership(cx.now(), h, EndReason::ResignAcknowledged);
                    self.pump_sender_events(cx.now());
                }
            }
            return;
        }
        let kind = match r.status {
            ReachStatus::Joined => MemberKind::Joining,
            ReachStatus::Resign => return,
            _ => MemberKind::Fallback,
        };
        self.sctp_port.get_or_insert(cx.sctp_ports().0);
        let start = self.sender.add_member(cx.now(), h, kind);
        self.members.insert(
            h,
            Ctl {
                seq: 1,
                echoed: 0,
                start,
                resend_at: None,
                resend_due: false,
                last_snapshot: None,
                expected: 0,
                received: 0,
                rtt: Rto::new(RtoConfig {
                    initial: cx.rto(),
                    min: crate::defaults::RTO_MIN,
                    max: crate::defaults::RTO_MAX,
                    alpha: Fraction::new(1, 8),
                    beta: Fraction::new(1, 4),
                    // A data-centre fabric's round trips are tens of
                    // microseconds; RTO.Min bounds RTO_k anyway.
                    granularity: Duration::from_micros(10),
                }),
                last_echo: None,
                loss: 0.0,
                feedback: self.feedback_for(false, None),
                window_start: None,
                loss_events: 0,
                event_at: None,
                forward: None,
                kind: None,
                fell_back_at: None,
                multicast_since: None,
                returned: false,
                holddown: crate::defaults::RETURN_MIN_TIME,
                sent_seq: None,
                resends: 0,
                resend_interval: cx.rto(),
                key_seq: 1,
                ended: None,
                retries: 0,
                progress: (0, cx.now(), false),
            },
        );
        if let Some(c) = self.members.get(&h) {
            let delay = Duration::from_micros(u64::from(c.feedback.ack_delay_us));
            self.sender.set_member_ack_delay(h, delay);
        }
        if let Some(c) = self.control_msync(cx.now(), h) {
            self.bytes_unicast += c.len() as u64;
            cx.send_chunk(c);
        }
        self.pump_sender_events(cx.now());
        // A joining member needs group-path MSYNCs to be confirmed.
        self.next_sync.get_or_insert(cx.now());
    }

    fn on_msack(&mut self, cx: &mut Context<'_>, m: crate::chunk::Msack) {
        let h = cx.association();
        let now = cx.now();
        if m.group_tag != self.cfg.group_tag {
            return;
        }
        let ts_now = self.timestamp(now);
        let Some(ctl) = self.members.get_mut(&h) else {
            return;
        };
        if m.control_echo.wrapping_sub(ctl.echoed) < 1 << 31 {
            ctl.echoed = m.control_echo;
        }
        if ctl.ended.is_some() {
            // GONE: only the echo of its End of Membership matters.
            return;
        }
        let echoed_forward = ctl
            .forward
            .take_if(|(seq, _)| ctl.echoed.wrapping_sub(*seq) < 1 << 31)
            .map(|(_, entries)| entries);
        // RTT sample (draft §"Round-Trip Time and Timers"): "R = now -
        // Timestamp Echo - Ack Delay [...] provided the echoed Timestamp is
        // one it sent no longer ago than Mcast.RTO.Max times 4 and R is not
        // negative, and uses each echoed Timestamp at most once per
        // member".
        let max_age = (crate::defaults::RTO_MAX * 4).as_micros() as u32;
        let age = ts_now.wrapping_sub(m.timestamp_echo);
        let r = age.wrapping_sub(m.ack_delay_us);
        if m.timestamp_echo != 0
            && ctl.last_echo != Some(m.timestamp_echo)
            && age <= max_age
            && r <= age
        {
            ctl.last_echo = Some(m.timestamp_echo);
            let sample = Duration::from_micros(u64::from(r));
            ctl.rtt.observe(sample);
            if let (Some(srtt), Some(rttvar)) = (ctl.rtt.srtt(), ctl.rtt.rttvar()) {
                self.sender.on_member_rtt(h, sample, srtt, rttvar);
            }
        }
        let snapshot = m.sync.map(|s| (s.last_sync_sequence, s.group_received));
        let prev = ctl.last_snapshot;
        if snapshot.is_some() {
            ctl.last_snapshot = snapshot;
        }
        let gaps: Vec<(u16, u16)> = m.gap_blocks().map(|b| (b.start, b.end)).collect();
        let outcome = self.sender.on_ack(
            now,
            h,
            m.cumulative_mtsn_ack,
            m.reported_through,
            &gaps,
            m.a_grwnd,
        );
        if let Some(entries) = echoed_forward {
            self.sender.forward_echoed(h, &entries);
        }
        // Unicast MDATA acknowledged leaves the association's window
        // (draft §"Loss Detection for Unicast MDATA").
        cx.data_acked(outcome.unicast_acked_bytes);
        // The group path measured from the server's own sends (draft
        // §"Measuring the Group Path"): chunks the member received between
        // two MSYNCs against chunks the server sent between them.
        if let (Some((s1, r1)), Some((s2, r2))) = (prev, snapshot)
            && s1 != s2
        {
            let sent = |s: u32| {
                self.sent_before_sync
                    .iter()
                    .find(|(q, _)| *q == s)
                    .map(|(_, n)| *n)
            };
            if let (Some(n1), Some(n2)) = (sent(s1), sent(s2))
                && let Some(ctl) = self.members.get_mut(&h)
            {
                let e = n2.saturating_sub(n1);
                // Duplicates on the group path count as received too.
                let g = u64::from(r2.wrapping_sub(r1));
                ctl.expected += e;
                ctl.received += g;
                // p_k (draft §"Group Congestion Window"): "an interval loss
                // rate l = 1 - min(G, E) / E, and p_k := p_k +
                // Mcast.CC.LossGain * (l - p_k)".
                if e > 0 {
                    let l = 1.0 - g.min(e) as f64 / e as f64;
                    ctl.loss += crate::defaults::CC_LOSS_GAIN * (l - ctl.loss);
                }
                ctl.window_start.get_or_insert(now);
                if g < e {
                    ctl.note_loss_event(now);
                }
            }
        }
        if (!gaps.is_empty() || m.reported_through != m.cumulative_mtsn_ack)
            && let Some(ctl) = self.members.get_mut(&h)
        {
            ctl.note_loss_event(now);
        }
        if self.sender.acker() == Some(h) {
            self.acker_heard = Some(now);
        }
        self.judge_path(now, h);
        if m.joined
            && self.sender.member(h).map(|x| x.kind) == Some(MemberKind::Joining)
            && snapshot.is_some()
            && self.has_key(h)
        {
            // It received a group-path MSYNC sent after it was created.
            self.sender.confirm(h);
        }
        self.check_key_change(now);
        self.check_backlogs(now);
        self.pump_sender_events(now);
        self.consider_acker(now, h);
        // An MSACK changes what this member is owed (repairs, fallback
        // data); other members' queues change on timers (and key changes,
        // which wake whom they move).
        if self.sender.has_unicast(h) {
            self.wake.push(h);
        }
    }

    /// Draft §"Measuring the Group Path": once a window's worth of group
    /// chunks was sent, the member's loss over it decides: above the
    /// fallback threshold, with enough loss events, a multicast member
    /// falls back; at or below the return threshold a member in fallback
    /// returns.
    fn judge_path(&mut self, now: Instant, h: AssociationHandle) {
        let window = self.cfg.fallback_window.max(1);
        let Some(ctl) = self.members.get_mut(&h) else {
            return;
        };
        // A window spans at least W items and Mcast.Fallback.MinTime.
        let min_time = crate::defaults::FALLBACK_MIN_TIME.apply(ctl.rtt.srtt().unwrap_or_default());
        if ctl.expected < window || ctl.window_start.is_none_or(|t| now < t + min_time) {
            return;
        }
        let got = ctl.received.min(ctl.expected);
        let loss = 1.0 - got as f64 / ctl.expected as f64;
        // "at least Mcast.Fallback.MinEvents loss events: a burst of losses
        // in one round trip is one event, and does not send a healthy
        // member to fallback".
        let events = ctl.loss_events;
        ctl.expected = 0;
        ctl.received = 0;
        ctl.window_start = None;
        ctl.loss_events = 0;
        // Draft §"Moving to Fallback": "a measurement window closes with a
        // loss rate above Mcast.Fallback.LossThreshold and at least
        // Mcast.Fallback.MinEvents loss events". Without the events, group
        // packets reordered around an MSYNC (which shift a few items from
        // one side of the member's snapshot to the other) can show a member
        // that lost nothing above the threshold.
        let lossy = loss > self.cfg.fallback_threshold && events >= self.cfg.fallback_min_events;
        // The slow-member rule (draft §"Moving to Fallback"): a member whose
        // T_k stayed below Mcast.Fallback.SlowFactor times the median of
        // the active members for a measurement window cannot set the
        // group's rate.
        // Draft §"Returning to Multicast": not before the hold-down time H
        // has passed since it fell back.
        let held_down = ctl.fell_back_at.is_some_and(|t| now < t + ctl.holddown);
        let slow = self.median_throughput.is_some_and(|med| {
            ctl.throughput(crate::defaults::RTO_MIN) < crate::defaults::FALLBACK_SLOW_FACTOR * med
        });
        match self.sender.member(h).map(|m| m.kind) {
            Some(MemberKind::Multicast | MemberKind::Returning) if lossy || slow => {
                self.sender.fall_back(h);
            }
            // Draft §"Returning to Multicast": "in an authenticated group,
            // the member has acknowledged the current group key".
            Some(MemberKind::Fallback)
                if loss <= self.cfg.return_threshold && !held_down && self.has_key(h) =>
            {
                self.sender.member_reached(h);
            }
            _ => {}
        }
    }

    /// Ack Period P (draft §"Acknowledgement: MSACK Timing and Feedback
    /// Scaling"): Mcast.Msack.Period, "raised if necessary to the number of
    /// joined members divided by Mcast.Msack.MaxRate".
    fn ack_period(&self) -> Duration {
        use crate::defaults as d;
        let base = d::MSACK_PERIOD.apply(self.srtt_g.unwrap_or_default());
        let joined = self.members.len() as u64;
        let by_rate = Duration::from_nanos(joined * 1_000_000_000 / u64::from(d::MSACK_MAX_RATE));
        base.max(by_rate)
    }

    /// A member's Feedback values (draft table "Feedback values").
    fn feedback_for(&self, acker: bool, srtt_k: Option<Duration>) -> Feedback {
        use crate::defaults as d;
        let us = |t: Duration| t.as_micros().min(u128::from(u32::MAX)) as u32;
        let period = self.ack_period();
        if acker {
            Feedback {
                ack_spacing: d::MSACK_ACKER_PACKETS,
                ack_delay_us: us(d::MSACK_DELAY.apply(srtt_k.unwrap_or_default())),
                ack_period_us: us(period),
                loss_report_delay_us: 0,
            }
        } else {
            // Wp: the group window in packets.
            let wp = (self.cfg.sender.window_bytes / self.cfg.max_packet.max(1)) as u64;
            Feedback {
                ack_spacing: d::MSACK_SPACING.apply(wp).min(u64::from(u16::MAX)) as u16,
                ack_delay_us: us(period),
                ack_period_us: us(period),
                loss_report_delay_us: us(d::MSACK_LOSS_DELAY.apply(self.srtt_g.unwrap_or_default())),
            }
        }
    }

    /// Sends member `h` new Feedback values if its role changed or a value
    /// moved by more than a quarter (draft §"Acknowledgement: MSACK Timing
    /// and Feedback Scaling").
    fn update_feedback(&mut self, h: AssociationHandle) {
        let acker = self.sender.acker() == Some(h);
        let Some(srtt_k) = self.members.get(&h).map(|c| c.rtt.srtt()) else {
            return;
        };
        let want = self.feedback_for(acker, srtt_k);
        let Some(ctl) = self.members.get_mut(&h) else {
            return;
        };
        let have = ctl.feedback;
        let moved = |a: u32, b: u32| a.abs_diff(b) > a.max(b) / 4;
        let changed = (have.loss_report_delay_us == 0) != (want.loss_report_delay_us == 0)
            || moved(have.ack_spacing.into(), want.ack_spacing.into())
            || moved(have.ack_delay_us, want.ack_delay_us)
            || moved(have.ack_period_us, want.ack_period_us)
            || moved(have.loss_report_delay_us, want.loss_report_delay_us);
        if changed {
            ctl.feedback = want;
            ctl.seq = ctl.seq.wrapping_add(1);
            // Sent with the next packet on the association.
            ctl.resend_due = true;
            self.wake.push(h);
            let delay = Duration::from_micros(u64::from(want.ack_delay_us));
            self.sender.set_member_ack_delay(h, delay);
        }
    }

    /// After an MSACK from `h`: it becomes the acker if there is none, or if
    /// its T_k is below Mcast.CC.AckerSwitch times the acker's (draft
    /// §"Group Congestion Window").
    fn consider_acker(&mut self, now: Instant, h: AssociationHandle) {
        let active =
            |s: &Self, x: AssociationHandle| s.sender.member(x).is_some_and(|m| m.kind.is_active());
        match self.sender.acker() {
            Some(a) if a == h || !active(self, h) => {}
            Some(a) => {
                let floor = self.srtt_g.unwrap_or(crate::defaults::RTO_MIN);
                let (Some(ta), Some(th)) = (
                    self.members.get(&a).map(|c| c.throughput(floor)),
                    self.members.get(&h).map(|c| c.throughput(floor)),
                ) else {
                    return;
                };
                if th < crate::defaults::CC_ACKER_SWITCH * ta {
                    self.switch_acker(now, Some(h));
                }
            }
            None => self.select_acker(now),
        }
    }

    /// Selects the active member with the smallest T_k as the acker.
    fn select_acker(&mut self, now: Instant) {
        let floor = self.srtt_g.unwrap_or(crate::defaults::RTO_MIN);
        let best = self
            .members
            .iter()
            .filter(|(h, _)| self.sender.member(**h).is_some_and(|m| m.kind.is_active()))
            .map(|(h, c)| (*h, c.throughput(floor)))
            .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
            .map(|(h, _)| h);
        self.switch_acker(now, best);
    }

    fn switch_acker(&mut self, now: Instant, new: Option<AssociationHandle>) {
        let old = self.sender.acker();
        self.sender.set_acker(now, new);
        let new = self.sender.acker();
        if old == new {
            return;
        }
        self.acker_heard = Some(now);
        for h in [old, new].into_iter().flatten() {
            self.update_feedback(h);
        }
    }

    /// RTO of the acker, for its silence (draft §"Group Congestion
    /// Window": RTO_acker).
    fn acker_deadline(&self) -> Option<Instant> {
        let a = self.sender.acker()?;
        if self.sender.congestion().flight == 0 {
            return None;
        }
        Some(self.acker_heard? + self.members.get(&a)?.rtt.rto())
    }

    /// Draft §"Round-Trip Time and Timers": SRTT_g and everything derived
    /// from it, the median T_k, the acker if there is none, and the
    /// members' Feedback values. Run with the group-path MSYNCs, at least
    /// once per Mcast.Sync.Interval while data is outstanding.
    fn refresh(&mut self, now: Instant) {
        use crate::defaults as d;
        let active: Vec<AssociationHandle> = self
            .members
            .keys()
            .copied()
            .filter(|h| self.sender.member(*h).is_some_and(|m| m.kind.is_active()))
            .collect();
        let pool: Vec<AssociationHandle> = if active.is_empty() {
            self.members.keys().copied().collect()
        } else {
            active.clone()
        };
        self.srtt_g = pool
            .iter()
            .filter_map(|h| self.members.get(h).and_then(|c| c.rtt.srtt()))
            .max();
        let g = self.srtt_g.unwrap_or_default();
        let derive = |rule: d::DurationRule, floor: Duration| g.mul_f64(rule.factor).max(floor);
        self.sync_interval = derive(d::SYNC_INTERVAL, self.cfg.sync_interval);
        self.tail_delay = derive(d::SYNC_TAIL_DELAY, self.cfg.tail_delay);
        let floors = &self.cfg.sender;
        self.sender.set_timers(
            derive(d::MEMBER_STALL_TIMEOUT, floors.stall_timeout),
            derive(d::JOIN_CONFIRM_TIMEOUT, floors.confirm_timeout),
        );
        self.sender.set_srtt_g(g.max(d::RTO_MIN));
        let floor = self.srtt_g.unwrap_or(d::RTO_MIN);
        let mut t: Vec<f64> = active
            .iter()
            .filter_map(|h| self.members.get(h).map(|c| c.throughput(floor)))
            .collect();
        self.median_throughput = (t.len() >= 3).then(|| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        });
        if self.sender.acker().is_none() {
            self.select_acker(now);
        }
        let all: Vec<AssociationHandle> = self.members.keys().copied().collect();
        for h in all {
            self.update_feedback(h);
        }
    }

    /// Draft §"Abandonment, Fallback and Plain Peers": a plain peer's group
    /// messages and unicast-first messages go to its association in order,
    /// except that the group messages after a unicast-first message U wait
    /// until the peer "has acknowledged every TSN that carries U" (by its
    /// cumulative TSN ack, so that U is deliverable before they leave).
    fn poll_plain(&mut self, cx: &mut Context<'_>) {
        let h = cx.association();
        if let Some(w) = self.plain_wait.get_mut(&h) {
            if w.last.is_none() && !cx.is_queued(w.mark) {
                // Every fragment of U has a TSN before the next one.
                w.last = cx
                    .next_tsn()
                    .map(|t| mcsctp_core::serial::Tsn(t.0.wrapping_sub(1)));
            }
            if let (Some(last), Some(cum)) = (w.last, cx.cumulative_tsn_ack())
                && !last.is_after(cum)
            {
                self.plain_wait.remove(&h);
            }
        }
        loop {
            let waiting = self.plain_wait.contains_key(&h);
            let Some(q) = self.plain.get_mut(&h) else {
                return;
            };
            let Some((item, m)) = q.front() else {
                return;
            };
            let item = *item;
            // A later U may pass the wait: it waits for itself, and its
            // TSNs come after those of the one before.
            if (waiting && item != PlainItem::UnicastFirst)
                || m.payload.len() > cx.send_buffer_available()
            {
                return;
            }
            if item == PlainItem::AfterGroup {
                // Draft §"Abandonment, Fallback and Plain Peers", D=0: "it
                // does not send U
                // until the peer has acknowledged (by cumulative TSN)
                // every TSN that carries G".
                let mark = self.plain_last_group.get(&h).copied().unwrap_or(0);
                let w = self.plain_after.entry(h).or_insert(PlainAfter {
                    mark,
                    last: None,
                    done: false,
                });
                if !w.update(cx, cx.cumulative_tsn_ack()) {
                    return;
                }
                self.plain_after.remove(&h);
            }
            let Some(q) = self.plain.get_mut(&h) else {
                return;
            };
            let Some((_, mut m)) = q.pop_front() else {
                return;
            };
            match item {
                PlainItem::UnicastFirst => {
                    let mark = self.new_mark();
                    m.extension_mark = mark;
                    self.plain_wait.insert(h, PlainWait { mark, last: None });
                }
                PlainItem::Group => {
                    let mark = self.new_mark();
                    m.extension_mark = mark;
                    self.plain_last_group.insert(h, mark);
                }
                PlainItem::AfterGroup => {}
            }
            if cx.send_message(m).is_err() {
                return;
            }
        }
    }

    fn wake_unicast(&mut self) {
        for h in self.members.keys() {
            if self.sender.has_unicast(*h) {
                self.wake.push(*h);
            }
        }
    }
}

impl Extension for GroupServer {
    fn registration(&self) -> Registration {
        Registration::new(
            &mchunk::ALL,
            &[mchunk::MDATA, mchunk::BARRIER],
            &[MulticastCapable::PARAM_TYPE, MulticastGroup::PARAM_TYPE],
        )
        // A BARRIER chunk: header and 12 octets.
        .with_prefix_len(16)
    }

    fn prefix_chunk(
        &mut self,
        cx: &mut Context<'_>,
        mark: u32,
        tsn: mcsctp_core::serial::Tsn,
        _first: &UserDataChunk,
    ) -> Option<RawChunk> {
        if let Some(b) = self.before.get_mut(&mark) {
            // Draft §"Sending BARRIER": the BARRIER goes "immediately
            // before the DATA or I-DATA chunk carrying the first fragment of
            // U", with "every retransmission of that chunk". Core asks once
            // per transmission, which counts them.
            let mtsn = b.mtsn?;
            b.tsn = Some(tsn);
            b.sent = b.sent.saturating_add(1);
            if b.holding && b.sent > 1 + self.cfg.barrier_max_retrans {
                self.barrier_aborts.entry(b.member).or_insert(cx.now());
                self.wake.push(b.member);
            }
            return Some(
                Barrier {
                    unicast_first: true,
                    group_tag: self.cfg.group_tag,
                    tsn,
                    mtsn,
                }
                .to_raw(),
            );
        }
        let entry = self.marks.get_mut(&mark)?;
        entry.2 = Some(tsn);
        let mtsn = entry.1;
        Some(
            Barrier {
                unicast_first: false,
                group_tag: self.cfg.group_tag,
                tsn,
                mtsn,
            }
            .to_raw(),
        )
    }

    fn on_sack(&mut self, cx: &mut Context<'_>, cum: mcsctp_core::serial::Tsn) {
        let h = cx.association();
        self.marks
            .retain(|_, (a, _, tsn)| *a != h || tsn.is_none_or(|t| t.is_after(cum)));
        // Draft §"Sending BARRIER", D=1: the member's part of the hold ends
        // once it "has acknowledged, by its cumulative TSN or a Gap Ack
        // Block, the TSN the BARRIER names".
        let mut released = false;
        for b in self.before.values_mut().filter(|b| b.member == h) {
            if b.holding
                && let Some(t) = b.tsn
                && (!t.is_after(cum) || cx.is_acked(t) == Some(true))
            {
                b.holding = false;
                released = true;
            }
        }
        // Once the cumulative ack passed every fragment of U no
        // retransmission of it can happen: the barrier is forgotten.
        let _ = self.unfinished_before(cx);
        self.before
            .retain(|_, b| b.member != h || b.last.is_none_or(|l| l.is_after(cum)));
        if self.after_group.contains_key(&h) {
            self.wake.push(h);
        }
        if released {
            self.barrier_aborts.remove(&h);
            self.advance_barriers(cx.now());
        }
        if self.plain_wait.contains_key(&h) {
            self.wake.push(h);
        }
        if let Some(w) = self.plain_after.get_mut(&h)
            && w.update(cx, Some(cum))
        {
            self.wake.push(h);
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.advance_barriers(now);
        if !self.sender.any_joined() {
            // Nobody to send to on the group path: new MTSNs still get
            // assigned (for members in fallback) and released.
            while let Some((_, _)) = self.sender.poll_new(now, usize::MAX) {}
            self.wake_unicast();
            return None;
        }
        // Draft §"Transport of Group Packets": both SCTP ports are the
        // server's (a joined member implies an association that gave it).
        let port = self.sctp_port?;
        let header = CommonHeader {
            src_port: port,
            dst_port: port,
            verification_tag: self.cfg.group_tag,
        };
        let start = buf.len();
        let mut b = PacketBuilder::new(buf, header, self.cfg.max_packet);
        // Draft §"Group Packet Format": "If the A flag [...] is set, the
        // first chunk is an AUTH chunk computed with the group key".
        let auth = self.cfg.authenticate;
        if auth
            && b.add(&GroupAuth::placeholder(self.keys.current().key_epoch))
                .is_err()
        {
            return None;
        }
        let sync_due = self.sync_due || self.next_sync.is_some_and(|t| t <= now);
        if sync_due {
            self.refresh(now);
            self.sync_seq = self.sync_seq.wrapping_add(1);
            self.sent_before_sync
                .push_back((self.sync_seq, self.sender.group_chunks_sent));
            while self.sent_before_sync.len() > 4096 {
                self.sent_before_sync.pop_front();
            }
            let ts = self.timestamp(now);
            let m = Msync::new(
                self.sync_seq,
                self.sender.highest_sent(),
                self.sender.mctsn(),
                ts,
                0,
            );
            if b.add(&m).is_ok() {
                self.sync_due = false;
                // Draft §"MSYNC: Tail Loss, Timestamps and Late Join": also
                // while "a key change is in progress".
                let busy = self.sender.buffered_bytes() > 0
                    || self.sender.has_queued()
                    || self.keys.next().is_some()
                    || self.members.keys().any(|h| {
                        self.sender
                            .member(*h)
                            .is_some_and(|s| s.kind != MemberKind::Multicast)
                    });
                self.next_sync = busy.then_some(now + self.sync_interval);
            }
        }
        let mut new = false;
        let mut data = false;
        // Draft §"Group Congestion Window": new data and multicast repairs
        // only while cwnd_g and the burst limit allow; MSYNCs always.
        let may_send = self.sender.may_send_group(now);
        if may_send && self.sender.congestion().flight == 0 {
            // RTO_acker runs while data is outstanding: from here if
            // nothing was (an idle acker has been silent for no reason).
            self.acker_heard = Some(now);
        }
        loop {
            let room = b.remaining();
            if !may_send {
                break;
            }
            if room < 20 + 4 + 16 {
                break;
            }
            let next = match self.sender.poll_group_repair(now) {
                Some(r) => Some(r),
                None => {
                    // A new fragment only if one fits what is left.
                    // A fragment sized to what is left (MDATA header 20,
                    // padding up to 3).
                    let r = self.sender.poll_new(now, room - 20 - 3);
                    new |= r.is_some();
                    r
                }
            };
            let Some((mtsn, c)) = next else {
                break;
            };
            let d = Mdata::from_fragment(mtsn, &c);
            if b.add(&d).is_err() {
                // Does not fit: it goes in the next packet as a repair
                // would; a fragment is sized to fit an empty packet.
                break;
            }
            data = true;
        }
        if data {
            self.sender.on_group_packet(now);
        }
        if new {
            // Barrier messages whose group prefix is now assigned may go,
            // and unicast-first barriers may be created.
            self.advance_barriers(now);
            self.wake.extend(self.after_group.keys().copied());
            self.next_sync = Some(
                self.next_sync
                    .map_or(now + self.tail_delay, |t| t.min(now + self.tail_delay)),
            );
            // New MTSNs are owed by unicast to the members in fallback only.
            self.wake.extend(self.sender.fallback_members());
        }
        if new {
            self.check_backlogs(now);
            self.pump_sender_events(now);
        }
        if b.chunk_count() <= usize::from(auth) {
            return None;
        }
        let len = if auth {
            b.finish_without_checksum()
        } else {
            b.finish()
        };
        if auth {
            // Draft §"Group Authentication": the HMAC over the AUTH chunk
            // with a zero HMAC and every chunk after it, keyed with the
            // current epoch's key; then the CRC32c.
            let current = self.keys.current();
            if self
                .signer
                .as_ref()
                .is_none_or(|(e, _)| *e != current.key_epoch)
            {
                self.signer = GroupSigner::new(&current.key).map(|s| (current.key_epoch, s));
            }
            let signed = self
                .signer
                .as_ref()
                .map(|(_, s)| s.sign(&mut buf[start..start + len]));
            if !matches!(signed, Some(Ok(()))) {
                buf.truncate(start);
                return None;
            }
        }
        self.bytes_multicast += len as u64;
        Some(Transmit {
            destination: self.cfg.group,
            len,
            segment_size: None,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // Queued messages need no timer: the runtime polls for packets after
        // every input (an application call or an MSACK that opens the
        // window).
        [
            self.sender.poll_timeout(),
            self.sender.next_expiry(),
            self.next_sync,
            self.sender.group_reopens_at(),
            self.acker_deadline(),
            self.keys.deadline(),
            self.progress_deadline(),
            // Due at once (any time in the past).
            self.epoch.filter(|_| self.gone_pending),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.acker_deadline().is_some_and(|t| t <= now) {
            // Draft §"Group Congestion Window": "When no MSACK arrives from
            // the acker for RTO_acker while group data is outstanding for
            // it, [...] cwnd_g = MTU, and selects the acker anew."
            self.sender.acker_timeout(now);
            if let Some(c) = self.sender.acker().and_then(|a| self.members.get_mut(&a)) {
                c.rtt.backoff();
            }
            self.acker_heard = Some(now);
            self.select_acker(now);
        }
        if self.next_sync.is_some_and(|t| t <= now) {
            self.next_sync = None;
            self.sync_due = true;
        }
        self.sender.group_window_timeout(now);
        self.sender.expire(now);
        // Abandoned messages complete barrier positions too.
        self.advance_barriers(now);
        self.sender.handle_timeout(now);
        self.sender.drain_retransmitted(&mut self.wake);
        if std::mem::take(&mut self.gone_pending) {
            self.member_gone(now);
        }
        self.check_key_change(now);
        self.enforce_backlogs(now);
        self.pump_sender_events(now);
        self.wake_unicast();
    }

    fn drain_wakeups(&mut self, out: &mut Vec<AssociationHandle>) {
        out.append(&mut self.wake);
    }

    fn init_ack_params(&self, _remote: SocketAddr, init: &InitCommon) -> InitAckExtras {
        let capable = matches!(init.params.find::<MulticastCapable>(), Some(Ok(c)) if c.version == MulticastCapable::VERSION);
        if !capable {
            return InitAckExtras {
                params: Vec::new(),
                cookie: Bytes::from_static(b"P"),
            };
        }
        let addresses = match (self.cfg.group.ip(), self.cfg.source) {
            (IpAddr::V4(g), IpAddr::V4(s)) => GroupAddresses::V4 {
                group: g,
                source: s,
            },
            (IpAddr::V6(g), IpAddr::V6(s)) => GroupAddresses::V6 {
                group: g,
                source: s,
            },
            _ => {
                return InitAckExtras {
                    params: Vec::new(),
                    cookie: Bytes::from_static(b"P"),
                };
            }
        };
        let streams = self.cfg.sender.streams.max(1);
        let p = MulticastGroup::new(
            self.cfg.group_tag,
            self.sender.next_mtsn(),
            self.cfg.group.port(),
            self.cfg.authenticate,
            false,
            100,
            addresses,
            &[StreamRange {
                first: StreamId(0),
                last: StreamId(streams - 1),
            }],
        );
        let mut cookie = b"M".to_vec();
        cookie.extend_from_slice(&self.cfg.group_tag.0.to_be_bytes());
        InitAckExtras {
            params: vec![p.to_raw()],
            cookie: cookie.into(),
        }
    }

    fn on_established(&mut self, cx: &mut Context<'_>, how: Establishment<'_>) {
        let h = cx.association();
        let cookie = match how {
            Establishment::Accepted { cookie } | Establishment::Restarted { cookie } => cookie,
            Establishment::Repeated { .. } => {
                // The same member: send its control state again.
                if let Some(c) = self.control_msync(cx.now(), h) {
                    cx.send_chunk(c);
                }
                return;
            }
            _ => return,
        };
        if cookie.first() == Some(&b'M')
            && cookie.get(1..5) == Some(&self.cfg.group_tag.0.to_be_bytes()[..])
        {
            self.awaiting.insert(h);
        } else {
            self.plain.insert(h, VecDeque::new());
            self.events.push_back(GroupEvent::PlainJoined(h));
        }
    }

    fn handle_chunk(
        &mut self,
        cx: &mut Context<'_>,
        chunk: &RawChunk,
        _next: Option<&RawChunk>,
    ) -> ChunkVerdict {
        let h = cx.association();
        if cx.foreign() || !(self.members.contains_key(&h) || self.awaiting.contains(&h)) {
            return ChunkVerdict::Unrecognized;
        }
        match McastChunk::parse(chunk) {
            Some(Ok(McastChunk::Mreach(r))) => self.on_mreach(cx, r),
            Some(Ok(McastChunk::Msack(m))) => self.on_msack(cx, m),
            _ => {}
        }
        ChunkVerdict::Continue
    }

    fn poll_chunks(&mut self, cx: &mut Context<'_>, room: Room, out: &mut Vec<RawChunk>) {
        let h = cx.association();
        let now = cx.now();
        // Unicast MDATA abandoned in flight leaves the window.
        let released = self.sender.take_unicast_released(h);
        if released > 0 {
            cx.data_left_flight(released);
        }
        // Unicast messages behind a barrier, in order: a D=0 one once its
        // group prefix has its MTSNs, a D=1 one once its barrier exists.
        let plain = self.plain.contains_key(&h);
        let mut unfinished = !plain && self.unfinished_before(cx);
        while let Some((gate, msg)) = self.after_group.get(&h).and_then(|q| q.front()) {
            let mark = match gate {
                Gate::AfterGroup(position) => {
                    let Some(m) = self.sender.prefix_end(position) else {
                        break;
                    };
                    if unfinished {
                        break;
                    }
                    (!plain).then_some((None, m))
                }
                Gate::BeforeGroup(mark) => match self.before.get(mark) {
                    Some(b) if b.mtsn.is_none() => break,
                    Some(_) => Some((Some(*mark), Mtsn(0))),
                    None => None,
                },
                Gate::Open => None,
            };
            // Only a message the send buffer takes leaves the queue (one
            // refused after it was taken was lost, silently, and the
            // next one on its stream went ahead of it).
            if msg.payload.len() > cx.send_buffer_available() {
                break;
            }
            let Some((_, mut msg)) = self.after_group.get_mut(&h).and_then(|q| q.pop_front())
            else {
                break;
            };
            let before = mark.and_then(|(b, _)| b);
            msg.extension_mark = match mark {
                Some((Some(before), _)) => before,
                Some((None, m)) => {
                    let mark = self.new_mark();
                    self.marks.insert(mark, (h, m, None));
                    mark
                }
                None => 0,
            };
            let sent = cx.send_message(msg).is_ok();
            if let Some(b) = before.and_then(|mark| self.before.get_mut(&mark)) {
                if sent {
                    b.handed = true;
                    unfinished = true;
                } else if b.holding {
                    // The association takes no more user data (it is
                    // shutting down) or refused U: the member would go
                    // without U while the group goes on. Its association
                    // is aborted, as for a U never acknowledged (draft
                    // §"Sending BARRIER"), which ends its part of the hold.
                    self.barrier_aborts.entry(h).or_insert(cx.now());
                    self.wake.push(h);
                }
            }
            if !sent {
                break;
            }
        }
        if self.after_group.get(&h).is_some_and(VecDeque::is_empty) {
            self.after_group.remove(&h);
        }
        // Group messages for a peer without the extension.
        if self.plain.contains_key(&h) {
            self.poll_plain(cx);
            return;
        }
        // Control state not echoed in time: again (draft §"Control
        // State" step 3).
        let resend = self
            .members
            .get(&h)
            .is_some_and(|c| c.echoed != c.seq && c.resend_due);
        let mut space = room.packet;
        if resend && let Some(c) = self.control_msync(now, h) {
            space = space.saturating_sub(c.len().next_multiple_of(4));
            self.bytes_unicast += c.len() as u64;
            out.push(c);
        }
        // Repairs and fallback data, within the association's windows and
        // the packet: a chunk taken here is sent now. (One that had to wait
        // in core's queue for a later packet could be acknowledged by its
        // group copy meanwhile, taken off the flight before it was counted
        // in it, and then counted for ever.)
        let mut window = room.window;
        while space > 20 + 16 {
            let fits = window.min(space).saturating_sub(20);
            let Some((mtsn, c)) = self.sender.poll_unicast(now, h, fits) else {
                break;
            };
            let d = Mdata::from_fragment(mtsn, &c).to_raw();
            let len = d.len();
            window = window.saturating_sub(len);
            space = space.saturating_sub(len.next_multiple_of(4));
            self.bytes_unicast += len as u64;
            out.push(d);
        }
    }

    fn has_chunks(&self, a: AssociationHandle) -> bool {
        self.after_group
            .get(&a)
            .and_then(|q| q.front())
            .is_some_and(|(g, _)| match g {
                Gate::AfterGroup(p) => {
                    self.sender.prefix_end(p).is_some()
                        && (self.plain.contains_key(&a)
                            || !self.before.values().any(|b| b.member == a && b.handed))
                }
                Gate::BeforeGroup(mark) => self.before.get(mark).is_none_or(|b| b.mtsn.is_some()),
                Gate::Open => true,
            })
            || self.sender.has_unicast(a)
            || self.sender.has_unicast_released(a)
            || self.plain.get(&a).is_some_and(|q| {
                q.front().is_some_and(|(item, _)| match item {
                    PlainItem::UnicastFirst => true,
                    PlainItem::Group => !self.plain_wait.contains_key(&a),
                    PlainItem::AfterGroup => {
                        !self.plain_wait.contains_key(&a)
                            && self.plain_after.get(&a).is_none_or(|w| w.done)
                    }
                })
            })
            || self
                .members
                .get(&a)
                .is_some_and(|c| c.echoed != c.seq && c.resend_due)
    }

    fn association_timeout(&self, a: AssociationHandle) -> Option<Instant> {
        if let Some(&at) = self.barrier_aborts.get(&a) {
            return Some(at);
        }
        let c = self.members.get(&a)?;
        (c.echoed != c.seq && !c.resend_due)
            .then_some(c.resend_at)
            .flatten()
    }

    fn handle_association_timeout(&mut self, cx: &mut Context<'_>) {
        let h = cx.association();
        if self.barrier_aborts.remove(&h).is_some() {
            // Draft §"Sending BARRIER": "If the chunk that carries U's
            // first fragment has been retransmitted Mcast.Barrier.MaxRetrans
            // times to a member without being acknowledged, the server
            // aborts that member's association (with a "User-Initiated
            // Abort" cause whose reason says so)"; on_closed releases its
            // part of the hold.
            cx.abort(b"mcsctp: unicast-first barrier not acknowledged");
            return;
        }
        let limit = self.cfg.control_max_retrans;
        if let Some(c) = self.members.get_mut(&h)
            && c.resend_at.is_some_and(|t| t <= cx.now())
        {
            if c.ended.is_some() && c.retries > END_MAX_RETRANS {
                // An End of Membership that is never echoed: the membership
                // is over either way; stop sending it.
                c.echoed = c.seq;
                c.resend_at = None;
                return;
            }
            if c.resends >= limit {
                // Draft §"Control State" step 3: "After Assoc.Max.Retrans
                // unanswered retransmissions it considers the association
                // failed and aborts it." (on_closed removes the member.)
                c.resend_at = None;
                cx.abort(b"mcsctp: group control state not acknowledged");
                return;
            }
            c.resend_due = true;
            self.wake.push(h);
        }
    }

    fn on_closed(&mut self, association: AssociationHandle, _reason: &CloseReason) {
        self.awaiting.remove(&association);
        self.after_group.remove(&association);
        // Its unicast-first barriers end with it (the guarantee holds
        // trivially for an association that is gone, once the member can
        // no longer read the group).
        self.barrier_member_left(association);
        self.before.retain(|_, b| b.member != association);
        self.barrier_aborts.remove(&association);
        self.plain_wait.remove(&association);
        self.plain_after.remove(&association);
        self.plain_last_group.remove(&association);
        self.marks.retain(|_, (a, _, _)| *a != association);
        let member = self.members.remove(&association);
        let was = member.is_some() | self.plain.remove(&association).is_some();
        self.sender.remove_member(association);
        // The association is gone: what it had in flight no longer counts.
        let _ = self.sender.take_unicast_released(association);
        if was {
            self.events.push_back(GroupEvent::Left(association));
        }
        // The association ended: a member not GONE before becomes GONE
        // now, which changes the key (draft §"Member Leave, Removal, Abort,
        // Restart and Failure"). `on_closed` has no clock: the change
        // begins at the next timeout, due at once.
        if member.is_some_and(|c| c.ended.is_none()) {
            self.gone_pending = true;
        }
    }
}
