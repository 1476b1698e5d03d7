//! The member's [`Extension`]: a client endpoint that joins the group its
//! server offers (draft §"Client: INIT and Join"), receives group packets
//! and repairs (§"Receiving MDATA"), and acknowledges them with MSACK
//! (§"Acknowledgement: MSACK Timing and Feedback Scaling").
//!
//! The IP-level join belongs to the runtime (the kernel does IGMP/MLD):
//! the extension asks for it ([`GroupMember::poll_join`]) and holds the
//! COOKIE ECHO until the runtime says how it went
//! ([`GroupMember::join_result`]); the MREACH bundled with the COOKIE ECHO
//! reports it.
//!
//! Group packets are checked before any of their chunks is looked at
//! (draft §"Receiving Group Packets"): source address, group tag, the
//! group MAC with the keys the control state brought
//! (§"Group Authentication"), and the chunk types; a packet that fails is
//! counted ([`Discards`]) and dropped silently.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mcsctp_core::chunk::{InitCommon, RawChunk, WireChunk};
use mcsctp_core::event::{AssociationHandle, CloseReason};
use mcsctp_core::extension::{ChunkVerdict, Context, Establishment, Extension, Registration, Room};
use mcsctp_core::packet::Packet;
use mcsctp_core::param::{RawParam, WireParam};
use mcsctp_core::rx::reassembly::{Delivery, DeliveryKind, Origin};
use mcsctp_core::serial::{Mid, Ssn};

use super::rx::{GroupReceiver, GroupReceiverConfig, Path};
use crate::Mtsn;
use crate::auth::KeyRing;
use crate::chunk::msync::{Feedback, Msync};
use crate::chunk::{self as mchunk, McastChunk, Mdata};
use crate::chunk::{Mreach, ReachReason, ReachStatus};
use crate::chunk::{Msack, MsackGapBlock, SyncSnapshot};
use crate::param::MulticastCapable;
use crate::param::MulticastGroup;

/// A join the runtime should perform: the host joins `group` on the
/// interface towards `source`, and a socket receives datagrams sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinRequest {
    /// The association the group belongs to.
    pub association: AssociationHandle,
    /// Group address and UDP port.
    pub group: SocketAddr,
    /// The server's address (the source of group packets).
    pub source: std::net::IpAddr,
}

/// What the member's application hears about its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// The server offered a group on the association.
    Offered(AssociationHandle, SocketAddr),
    /// The Start MTSN arrived: group messages flow.
    Started(AssociationHandle, Mtsn),
    /// The server ended the membership (End of Membership reason).
    Ended(AssociationHandle, u16),
}

/// Group packets a member discarded silently (draft §"Receiving Group
/// Packets"), by the step that refused them. None of them is ever
/// answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discards {
    /// Step 1: the IP source address is not the group's Source Address.
    pub source: u64,
    /// Step 4: the group is authenticated and the packet has no AUTH chunk
    /// first, or one that does not verify with a key the member holds.
    pub unauthenticated: u64,
    /// Step 5: a chunk other than the leading AUTH, MDATA and MSYNC, or an
    /// MSYNC with parameters or a Control Sequence Number.
    pub malformed: u64,
    /// Step 3: an SCTP port of the common header is not the server's port
    /// of the member's association.
    pub ports: u64,
}

/// Settings of a member endpoint.
#[derive(Debug, Clone, Default)]
pub struct GroupMemberConfig {
    /// The group receive path.
    pub receiver: GroupReceiverConfig,
    /// Seed of the jitter of loss reports and periodic MSACKs.
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Pending,
    Joined,
    Failed,
}

/// One group, joined through one association.
#[derive(Debug)]
struct Membership {
    group: MulticastGroup,
    addr: SocketAddr,
    join: Join,
    rx: GroupReceiver,
    control_echo: u32,
    feedback: Option<Feedback>,
    /// The most recent MSYNC timestamp and when it arrived.
    last_timestamp: Option<(u32, Instant)>,
    sync: Option<SyncSnapshot>,
    sync_received: u32,
    /// An MSACK is to go out now.
    due: bool,
    /// When the first new chunk since the last MSACK arrived.
    first_new: Option<Instant>,
    /// A loss report is scheduled for then.
    loss_report_at: Option<Instant>,
    /// [`GroupReceiver::gaps_opened`] when the last MSACK was built: the
    /// acker reports each new gap once, at once.
    reported_gaps: u64,
    /// Packets that carried new MDATA since the last MSACK (Ack Spacing
    /// counts packets, not chunks), and whether the packet being
    /// processed has.
    new_packets: u32,
    new_in_packet: bool,
    /// The same for MDATA that came on the association beyond every MTSN
    /// the member knew of (fallback data, not repairs), which
    /// is acknowledged as DATA is (RFC 9260 §6.2):
    /// packets since the last MSACK, whether the packet being processed
    /// carried any, and when the delayed MSACK for one such packet is due.
    new_assoc_packets: u32,
    new_assoc_in_packet: bool,
    assoc_ack_at: Option<Instant>,
    /// When the last MDATA or MSYNC came on the group path.
    last_group_rx: Option<Instant>,
    /// The next periodic MSACK.
    period_at: Option<Instant>,
    /// A group-caused MSACK (regular or loss report) of a member that is
    /// not the acker, after its jitter and rate limit (draft §"Rate
    /// limits").
    group_msack_at: Option<Instant>,
    /// When the last group-caused MSACK went out.
    last_group_msack: Option<Instant>,
    /// BARRIER D=0 holds: the unicast message (stream, unordered, SSN or
    /// MID) waits until the cumulative MTSN ack reaches the MTSN.
    holds: Vec<(u16, bool, u32, Mtsn)>,
    /// BARRIER D=1 anchors: group messages whose first fragment has an
    /// MTSN at or after M wait until the unicast message U is delivered.
    anchors: Vec<Anchor>,
    /// Group messages held back by an anchor, in delivery order (every
    /// group message behind the first one held waits too), and their
    /// octets (counted in the group receive buffer).
    held_group: VecDeque<(Option<Mtsn>, Delivery)>,
    held_group_bytes: usize,
    /// Figures for the application.
    received_group: u64,
    duplicates: u64,
    ended: bool,
    /// The source of group packets (the Source Address, or the server's
    /// address if that is unspecified).
    source: IpAddr,
    /// The server's SCTP port on the association: both ports of a group
    /// packet (draft §"Transport of Group Packets").
    server_port: u16,
    /// An MREACH RESIGN to send (draft §"Member Leave, Removal, Abort,
    /// Restart and Failure").
    resign: Option<Resign>,
    /// The group keys of the control state (draft §"Group
    /// Authentication").
    keys: KeyRing,
    /// Group packets refused.
    discards: Discards,
}

impl Membership {
    /// Whether a D=1 barrier holds back the group message whose first
    /// fragment has MTSN `first`: one at or after its M (wrap-safe: the
    /// anchors live only until their unicast message is delivered, far
    /// within 2^31 MTSNs).
    fn holds_back(&self, first: Option<Mtsn>) -> bool {
        first.is_some_and(|t| self.anchors.iter().any(|a| t.is_at_or_after(a.mtsn)))
    }

    /// Draft §"Semantics", D=0: whether the group prefix through `mtsn` is
    /// complete: every MTSN up to it received or abandoned, and no group
    /// message among them still undelivered. (Messages are delivered as
    /// soon as they are complete, except those a D=1 barrier holds back:
    /// a held message whose first fragment is at or before `mtsn` may end
    /// within the prefix.)
    fn prefix_done(&self, mtsn: Mtsn) -> bool {
        self.rx
            .cumulative()
            .is_some_and(|cum| cum.0.wrapping_sub(mtsn.0) < 1 << 31)
            && self
                .held_group
                .iter()
                .all(|(first, _)| first.is_some_and(|f| f.is_after(mtsn)))
    }
}

/// A unicast-first barrier at the member (draft §"Semantics", D=1): U, by
/// its place on the association, and M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Anchor {
    stream: u16,
    unordered: bool,
    /// SSN (DATA) or MID (I-DATA) of U.
    seq: u32,
    /// Whether `seq` is a MID (I-DATA) rather than an SSN.
    mid: bool,
    mtsn: Mtsn,
}

impl Anchor {
    /// Whether delivery `d` of the association is U itself (its last piece,
    /// if it comes in pieces; or its release as truncated, refused or
    /// aborted), or (U being
    /// ordered) a later message of U's stream, which the association
    /// delivers only once U was delivered or skipped (FORWARD-TSN or
    /// I-FORWARD-TSN: U was abandoned).
    fn passed_by(&self, d: &Delivery) -> bool {
        if d.origin != Origin::Association || d.stream.0 != self.stream {
            return false;
        }
        if d.unordered != self.unordered {
            return false;
        }
        let seq = if self.mid {
            d.mid.0
        } else {
            u32::from(d.ssn.0)
        };
        if seq == self.seq {
            // Delivered in pieces, U is delivered with its last piece.
            return !matches!(
                d.kind,
                DeliveryKind::Piece {
                    end_of_record: false,
                    ..
                }
            );
        }
        if self.unordered {
            return false;
        }
        if self.mid {
            Mid(seq).is_after(Mid(self.seq))
        } else {
            Ssn(seq as u16).is_after(Ssn(self.seq as u16))
        }
    }
}

/// Unicast-first barriers a member keeps at most (each waits for one
/// undelivered unicast message).
const MAX_ANCHORS: usize = 4096;

/// A resignation in progress: the member leaves (retransmitted every RTO
/// until the End of Membership arrives), or answers a removal (once).
#[derive(Debug, Clone, Copy)]
struct Resign {
    /// Send an MREACH RESIGN with the next packet.
    due: bool,
    /// Times sent.
    sends: u32,
    /// When to send it again (a leave only).
    again_at: Option<Instant>,
    /// An answer to an End of Membership: sent once.
    answer: bool,
}

/// Retransmissions of a leave's MREACH RESIGN before the member aborts the
/// association (the draft's Assoc.Max.Retrans bound, RFC 9260's default).
const RESIGN_MAX_RETRANS: u32 = 10;

/// The member side of the extension.
#[derive(Debug)]
pub struct GroupMember {
    cfg: GroupMemberConfig,
    groups: BTreeMap<AssociationHandle, Membership>,
    joins: VecDeque<JoinRequest>,
    wake: Vec<AssociationHandle>,
    events: VecDeque<MemberEvent>,
    rng: u64,
}

impl GroupMember {
    /// A member endpoint's extension.
    pub fn new(cfg: GroupMemberConfig) -> Self {
        let rng = cfg.seed | 1;
        Self {
            cfg,
            groups: BTreeMap::new(),
            joins: VecDeque::new(),
            wake: Vec::new(),
            events: VecDeque::new(),
            rng,
        }
    }

    /// The next IP-level join to perform.
    pub fn poll_join(&mut self) -> Option<JoinRequest> {
        self.joins.pop_front()
    }

    /// How the join of the association's group went; releases the COOKIE
    /// ECHO (draft §"Client: INIT and Join").
    pub fn join_result(&mut self, association: AssociationHandle, joined: bool) {
        if let Some(m) = self.groups.get_mut(&association) {
            m.join = if joined { Join::Joined } else { Join::Failed };
            self.wake.push(association);
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MemberEvent> {
        self.events.pop_front()
    }

    /// Leaves the association's group and keeps the association (draft
    /// §"Member Leave, Removal, Abort, Restart and Failure", Leave): an
    /// MREACH RESIGN goes with the association's next packet and again
    /// every RTO until the End of Membership arrives (after ten
    /// retransmissions the association is aborted); from now on no group
    /// message is delivered and no MSACK sent. [`MemberEvent::Ended`]
    /// tells when the server has answered; the runtime then leaves the IP
    /// group ([`Self::is_member`] turns false). Returns false if there is
    /// no group, or it has ended or is being left already.
    pub fn leave(&mut self, association: AssociationHandle) -> bool {
        let Some(m) = self.groups.get_mut(&association) else {
            return false;
        };
        if m.ended || m.resign.is_some() {
            return false;
        }
        m.resign = Some(Resign {
            due: true,
            sends: 0,
            again_at: None,
            answer: false,
        });
        m.due = false;
        self.wake.push(association);
        true
    }

    /// Whether the association is in a group that has not ended (the
    /// runtime keeps the IP membership while this holds).
    pub fn is_member(&self, association: AssociationHandle) -> bool {
        self.groups
            .get(&association)
            .is_some_and(|m| !m.ended && m.resign.is_none_or(|r| r.answer))
    }

    /// Group messages received on the group path, and duplicates, of the
    /// association's group.
    pub fn figures(&self, association: AssociationHandle) -> Option<(u64, u64)> {
        self.groups
            .get(&association)
            .map(|m| (m.received_group, m.duplicates))
    }

    /// Group packets of the association's group discarded, by reason.
    pub fn discards(&self, association: AssociationHandle) -> Option<Discards> {
        self.groups.get(&association).map(|m| m.discards)
    }

    /// The epochs of the group keys the member holds for the association's
    /// group, oldest first (never the keys).
    pub fn key_epochs(&self, association: AssociationHandle) -> Option<Vec<u16>> {
        self.groups.get(&association).map(|m| m.keys.epochs())
    }

    /// Draft §"Receiving Group Packets", steps 1, 4 and 5 (core checked the
    /// checksum, step 2, and the caller the tag, step 3): whether the
    /// member processes the packet.
    fn accept_group_packet(m: &mut Membership, remote: SocketAddr, packet: &Packet) -> bool {
        if remote.ip() != m.source {
            m.discards.source += 1;
            return false;
        }
        // Step 3: both SCTP ports are the server's port of the association
        // (the tag was checked by the caller).
        let header = packet.header();
        if header.src_port != m.server_port || header.dst_port != m.server_port {
            m.discards.ports += 1;
            return false;
        }
        let auth = m.group.authenticated;
        if auth && m.keys.verify(packet.as_bytes()).is_err() {
            m.discards.unauthenticated += 1;
            return false;
        }
        let well_formed = packet.chunks().enumerate().all(|(i, c)| {
            if i == 0 && auth {
                // The AUTH chunk just verified.
                return true;
            }
            match c.typ {
                mchunk::MDATA => true,
                mchunk::MSYNC => matches!(
                    McastChunk::parse(&c),
                    Some(Ok(McastChunk::Msync(s))) if s.is_group_form()
                ),
                _ => false,
            }
        });
        if !well_formed {
            m.discards.malformed += 1;
        }
        well_formed
    }

    /// Whether some group of this endpoint has its Start MTSN (group
    /// messages flow).
    pub fn any_started(&self) -> bool {
        self.groups.values().any(|m| m.rx.started())
    }

    /// Octets of MDATA the association's group receive path holds (out of
    /// order, in reassembly, or kept before the Start MTSN), and the number
    /// of unicast messages BARRIERs hold back: figures for memory bounds.
    /// Group messages held by unicast-first barriers count in the octets.
    pub fn held(&self, association: AssociationHandle) -> Option<(usize, usize)> {
        self.groups
            .get(&association)
            .map(|m| (m.rx.buffered_bytes() + m.held_group_bytes, m.holds.len()))
    }

    /// The unicast-first barriers (D=1) of the association's group that
    /// hold group messages back, and the group messages they hold.
    pub fn held_by_barriers(&self, association: AssociationHandle) -> Option<(usize, usize)> {
        self.groups
            .get(&association)
            .map(|m| (m.anchors.len(), m.held_group.len()))
    }

    fn jitter(&mut self, max: Duration) -> Duration {
        // xorshift64*: deterministic from the seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let max_ns = max.as_nanos().min(u128::from(u64::MAX)) as u64;
        if max_ns == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(r % max_ns)
    }

    /// MSACK triggers after new data or a loss (draft §"Acknowledgement").
    fn after_input(&mut self, h: AssociationHandle, now: Instant) {
        let Some(m) = self.groups.get(&h) else {
            return;
        };
        if m.ended || m.resign.is_some() {
            // Leaving or gone: no MSACK.
            return;
        }
        let Some(fb) = m.feedback else {
            return;
        };
        let missing = m.rx.has_missing();
        let spacing_reached = m.new_packets >= u32::from(fb.spacing());
        let loss_delay = Duration::from_micros(u64::from(fb.loss_report_delay_us));
        let wait = if missing && m.loss_report_at.is_none() && !loss_delay.is_zero() {
            Some(self.jitter(loss_delay))
        } else {
            None
        };
        let Some(m) = self.groups.get_mut(&h) else {
            return;
        };
        if loss_delay.is_zero() && m.rx.gaps_opened() != m.reported_gaps {
            // The acker reports a new loss at once (once: while a repair is
            // on its way, its regular MSACKs repeat the report).
            m.due = true;
        }
        // Draft §"Acknowledgement", new MDATA on the association (not a
        // repair): acknowledged as DATA is (RFC 9260 §6.2), for at least
        // every second packet and
        // within Mcast.Msack.Delay's floor of the first, whatever the
        // Feedback values: it is the association's congestion window that
        // this MSACK opens, and a member in fallback gets everything
        // this way.
        if m.new_assoc_packets >= 2 {
            m.due = true;
        } else if m.new_assoc_packets == 1 && m.assoc_ack_at.is_none() {
            m.assoc_ack_at = Some(now + crate::defaults::MSACK_DELAY.floor);
        }
        if spacing_reached {
            if loss_delay.is_zero() {
                m.due = true;
            } else {
                self.schedule_group_msack(h, now, true);
            }
        }
        let Some(m) = self.groups.get_mut(&h) else {
            return;
        };
        if let Some(w) = wait {
            m.loss_report_at = Some(now + w);
        }
        if !missing {
            // A repair arrived: the scheduled report is cancelled.
            m.loss_report_at = None;
        }
        if m.rx.new_since_ack() > 0 && m.first_new.is_none() {
            m.first_new = Some(now);
        }
        if m.period_at.is_none() {
            let period = Duration::from_micros(u64::from(fb.ack_period_us));
            m.period_at = Some(now + period);
        }
    }

    /// A group-caused MSACK of a member that is not the acker (draft
    /// §"Acknowledgement: MSACK Timing and Feedback Scaling"): a regular
    /// acknowledgement waits a further random time up to a quarter of the
    /// Ack Period, and no two such MSACKs go less than a quarter of the Ack
    /// Period apart, "whatever the group path carries".
    /// A loss report (`regular` false) goes at once unless the rate limit
    /// holds it.
    fn schedule_group_msack(&mut self, h: AssociationHandle, now: Instant, regular: bool) {
        let Some(quarter) = self
            .groups
            .get(&h)
            .and_then(|m| m.feedback)
            .map(|f| Duration::from_micros(u64::from(f.ack_period_us)) / 4)
        else {
            return;
        };
        let jitter = if regular {
            self.jitter(quarter)
        } else {
            Duration::ZERO
        };
        let Some(m) = self.groups.get_mut(&h) else {
            return;
        };
        let earliest = m.last_group_msack.map_or(now, |t| (t + quarter).max(now));
        let at = (now + jitter).max(earliest);
        m.group_msack_at = Some(m.group_msack_at.map_or(at, |t| t.min(at)));
    }

    /// Hands complete group messages to the application, except that a
    /// group message whose first fragment has an MTSN at or after the M of
    /// an unreleased D=1 barrier waits (draft §"Semantics", D=1). Held
    /// messages keep their order among themselves; a later message of an
    /// ordered group stream has a later MTSN, so it is held too. Group
    /// messages below every M are not held behind them: holding them as
    /// well could close a cycle with a D=0 barrier (its unicast message
    /// waiting for them, the D=1 barrier's unicast message behind it on
    /// its stream). Held messages count in the group receive buffer, which
    /// bounds them.
    fn deliver_all(m: &mut Membership, cx: &mut Context<'_>) {
        if !m.held_group.is_empty() {
            let held = std::mem::take(&mut m.held_group);
            for (first, d) in held {
                if m.holds_back(first) {
                    m.held_group.push_back((first, d));
                } else {
                    m.held_group_bytes -= d.payload.len();
                    cx.deliver(d);
                }
            }
        }
        while let Some((first, d)) = m.rx.poll_delivery_at() {
            if m.holds_back(first) {
                m.held_group_bytes += d.payload.len();
                m.held_group.push_back((first, d));
            } else {
                cx.deliver(d);
            }
        }
    }

    fn build_msack(&mut self, h: AssociationHandle, now: Instant, room: usize) -> Option<RawChunk> {
        let m = self.groups.get_mut(&h)?;
        // Header, fixed fields; each block 4 octets, each duplicate 4.
        let fixed = 4 + Msack::HEADER_LEN;
        let space = room.checked_sub(fixed)? / 4;
        // Up to 16 duplicates get room of their own (a quarter of it at
        // most): giving every word to gap blocks first left none for them in
        // any packet of a normal MTU (draft §"MSACK": duplicates are
        // omitted only when they do not fit).
        let dups = (space / 4).min(16);
        let blocks = (space - dups).min(512);
        let report = m.rx.take_ack(blocks, dups)?;
        let (ts, delay) = m.last_timestamp.map_or((0, 0), |(ts, at)| {
            let d = now.saturating_duration_since(at).as_micros();
            (ts, d.min(u128::from(u32::MAX)) as u32)
        });
        let gaps: Vec<MsackGapBlock> = report
            .gap_blocks
            .iter()
            .map(|b| MsackGapBlock {
                start: b.start,
                end: b.end,
            })
            .collect();
        let msack = Msack::new(
            m.join == Join::Joined,
            m.group.group_tag,
            report.cumulative,
            report.reported_through,
            report.a_grwnd,
            m.control_echo,
            ts,
            delay,
            m.rx.last_unicast,
            m.sync,
            &gaps,
            &report.duplicates,
        );
        m.due = false;
        m.reported_gaps = m.rx.gaps_opened();
        m.new_packets = 0;
        m.new_assoc_packets = 0;
        m.assoc_ack_at = None;
        m.first_new = None;
        m.loss_report_at = None;
        m.group_msack_at = None;
        let period = m.feedback.map_or(Duration::from_millis(20), |f| {
            Duration::from_micros(u64::from(f.ack_period_us))
        });
        m.period_at = Some(now + period);
        Some(msack.to_raw())
    }

    fn on_msync(&mut self, cx: &mut Context<'_>, sync: Msync) {
        let h = cx.association();
        let now = cx.now();
        let foreign = cx.foreign();
        let Some(m) = self.groups.get_mut(&h) else {
            return;
        };
        // Draft §"MSYNC: Tail Loss, Timestamps and Late Join": a group-path
        // MSYNC whose Sync Sequence Number is not ahead of the last one is
        // a reordered or replayed copy (the group MAC does not stop
        // replays): ignored, so that it moves neither the snapshot the
        // server measures the group path with nor the timestamp it takes
        // RTT samples from.
        if foreign
            && m.sync.is_some_and(|last| {
                sync.sync_sequence
                    .wrapping_sub(last.last_sync_sequence)
                    .wrapping_sub(1)
                    >= 1 << 31
            })
        {
            return;
        }
        m.last_timestamp = Some((sync.timestamp, now));
        if foreign {
            m.last_group_rx = Some(now);
            // Group path: no parameters allowed (draft §"Receiving Group
            // Packets"); counts for the server's measurement.
            if !sync.is_group_form() {
                return;
            }
            m.sync_received = m.sync_received.wrapping_add(1);
            m.sync = Some(SyncSnapshot {
                last_sync_sequence: sync.sync_sequence,
                group_received: m.rx.group_received,
                sync_received: m.sync_received,
            });
            m.rx.raise_highest_known(sync.highest_mtsn_sent);
        } else {
            // Control state, processed once per new Control Sequence
            // Number (draft §"Control State").
            let newer = sync.control_sequence.wrapping_sub(m.control_echo);
            if newer == 0 || newer > 1 << 31 {
                return;
            }
            m.control_echo = sync.control_sequence;
            if let Some(fb) = sync.feedback() {
                m.feedback = Some(fb);
            }
            if let Some(start) = sync.start()
                && !m.rx.started()
            {
                m.rx.set_start(now, start);
                self.events.push_back(MemberEvent::Started(h, start));
            }
            if let Some(f) = sync.forward() {
                let skips: Vec<_> = f
                    .entries()
                    .map(|e| (e.stream, e.unordered, e.mid))
                    .collect();
                m.rx.apply_forward(now, f.new_cumulative_mtsn, skips);
            }
            // Draft §"Group Authentication": the keys of one control state
            // travel together and replace those held.
            let keys: Vec<_> = sync.group_keys().collect();
            m.keys.replace(&keys);
            if let Some(end) = sync.end_of_membership() {
                if !m.ended {
                    // A leave is acknowledged; a removal is answered with
                    // RESIGN, once (draft §"Member Leave", Removal).
                    m.resign = match m.resign {
                        Some(r) if !r.answer => None,
                        _ => Some(Resign {
                            due: true,
                            sends: 0,
                            again_at: None,
                            answer: true,
                        }),
                    };
                    self.events
                        .push_back(MemberEvent::Ended(h, end.reason.to_u16()));
                }
                m.ended = true;
                m.keys.clear();
            }
            m.rx.raise_highest_known(sync.highest_mtsn_sent);
            m.due = true;
        }
        Self::deliver_all(m, cx);
    }

    /// Draft §"Receiving BARRIER": a BARRIER on the association must be
    /// 16 octets long, carry the group's tag, and be followed in the packet
    /// by the DATA or I-DATA chunk with the B bit that carries the TSN it
    /// names; otherwise "it discards the packet and aborts the association
    /// with a "Protocol Violation" cause". If that chunk is a duplicate the
    /// BARRIER is ignored ("it was recorded with the first copy");
    /// otherwise it is recorded before the chunk is processed: D=0 holds
    /// the unicast message until the group prefix through M is complete,
    /// D=1 holds the group messages from M on until the unicast message is
    /// delivered (§"Semantics").
    fn on_barrier(
        &mut self,
        cx: &mut Context<'_>,
        chunk: &RawChunk,
        next: Option<&RawChunk>,
    ) -> ChunkVerdict {
        let h = cx.association();
        let Some(m) = self.groups.get_mut(&h) else {
            return ChunkVerdict::Continue;
        };
        let b = match McastChunk::parse(chunk) {
            Some(Ok(McastChunk::Barrier(b))) if b.group_tag == m.group.group_tag => b,
            _ => {
                cx.abort_protocol_violation(b"BARRIER of a wrong length or group");
                return ChunkVerdict::Stop;
            }
        };
        // U, by its place on the association (SSN with DATA, MID with
        // I-DATA).
        let u = match next.cloned().map(mcsctp_core::chunk::Chunk::parse) {
            Some(Ok(mcsctp_core::chunk::Chunk::Data(d)))
                if d.tsn == b.tsn && d.flags.is_begin() =>
            {
                (
                    d.stream.0,
                    d.flags.is_unordered(),
                    u32::from(d.ssn.0),
                    false,
                )
            }
            Some(Ok(mcsctp_core::chunk::Chunk::IData(d)))
                if d.tsn == b.tsn && d.flags.is_begin() =>
            {
                (d.stream.0, d.flags.is_unordered(), d.mid.0, true)
            }
            _ => {
                cx.abort_protocol_violation(b"BARRIER not followed by the first fragment it names");
                return ChunkVerdict::Stop;
            }
        };
        // Step 2: a duplicate of U's first fragment; the barrier was
        // recorded with the first copy (and may have been released since:
        // recording it again would hold for ever).
        if cx.has_received(b.tsn) != Some(false) || m.ended {
            return ChunkVerdict::Continue;
        }
        if b.unicast_first {
            let a = Anchor {
                stream: u.0,
                unordered: u.1,
                seq: u.2,
                mid: u.3,
                mtsn: b.mtsn,
            };
            if !m.anchors.contains(&a) {
                if m.anchors.len() >= MAX_ANCHORS {
                    // Memory stays bounded whatever the server does: this
                    // many unicast messages with barriers not yet
                    // delivered is no server keeping its promise.
                    cx.abort_protocol_violation(b"too many unicast-first BARRIERs outstanding");
                    return ChunkVerdict::Stop;
                }
                m.anchors.push(a);
            }
            return ChunkVerdict::Continue;
        }
        // D=0. A barrier whose group prefix is already complete holds
        // nothing.
        if m.prefix_done(b.mtsn) {
            return ChunkVerdict::Continue;
        }
        let key = (u.0, u.1, u.2);
        if !m.holds.iter().any(|x| (x.0, x.1, x.2) == key) {
            m.holds.push((key.0, key.1, key.2, b.mtsn));
        }
        m.rx.raise_highest_known(b.mtsn);
        ChunkVerdict::Continue
    }

    fn on_mdata(&mut self, cx: &mut Context<'_>, d: Mdata) {
        let h = cx.association();
        let Some(m) = self.groups.get_mut(&h) else {
            return;
        };
        if !m.group.is_group_stream(d.stream) || m.resign.is_some_and(|r| !r.answer) {
            // Leaving: no group message is delivered any more.
            return;
        }
        let now = cx.now();
        let path = if cx.foreign() {
            m.received_group += 1;
            m.last_group_rx = Some(now);
            Path::Group
        } else {
            Path::Association
        };
        let mtsn = d.mtsn;
        // Acknowledged as DATA: new data beyond every MTSN the member knew
        // of (what a member in fallback gets), not a repair of a gap or of
        // a tail the group path announced; and anything, once the group
        // path has brought nothing for an Ack Period (a member the group
        // path does not reach catches up on its backlog at the
        // association's pace).
        let period = m.feedback.map_or(Duration::from_millis(20), |f| {
            Duration::from_micros(u64::from(f.ack_period_us))
        });
        let beyond = m.rx.reported_through().is_none_or(|h| mtsn.is_after(h))
            || m.last_group_rx
                .is_none_or(|t| now.saturating_duration_since(t) > period);
        m.rx.set_unread(cx.delivered_unread() + m.held_group_bytes);
        match m.rx.on_mdata(cx.now(), mtsn, d.into_fragment(), Some(path)) {
            super::rx::Received::Duplicate => m.duplicates += 1,
            super::rx::Received::New => {
                m.new_in_packet = true;
                m.new_assoc_in_packet |= path == Path::Association && beyond;
            }
            _ => {}
        }
        Self::deliver_all(m, cx);
    }
}

impl Extension for GroupMember {
    fn registration(&self) -> Registration {
        Registration::new(
            &mchunk::ALL,
            &[mchunk::MDATA, mchunk::BARRIER],
            &[MulticastCapable::PARAM_TYPE, MulticastGroup::PARAM_TYPE],
        )
    }

    fn claim_packet(
        &mut self,
        _now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        packet: &Packet,
    ) -> Option<AssociationHandle> {
        let tag = packet.header().verification_tag;
        let (h, m) = self
            .groups
            .iter_mut()
            .find(|(_, m)| m.group.group_tag == tag && m.addr.port() == local.port() && !m.ended)?;
        Self::accept_group_packet(m, remote, packet).then_some(*h)
    }

    fn drain_wakeups(&mut self, out: &mut Vec<AssociationHandle>) {
        out.append(&mut self.wake);
    }

    fn init_params(&mut self, _a: AssociationHandle, _remote: SocketAddr) -> Vec<RawParam> {
        let cap = MulticastCapable {
            version: MulticastCapable::VERSION,
            ipv4: true,
            ipv6: true,
        };
        vec![cap.to_raw()]
    }

    fn on_init_ack(&mut self, cx: &mut Context<'_>, init_ack: &InitCommon) {
        let Some(Ok(group)) = init_ack.params.find::<MulticastGroup>() else {
            return;
        };
        let addr = SocketAddr::new(group.addresses.group(), group.port);
        let source = group.addresses.source();
        let source = if source.is_unspecified() {
            cx.remote().ip()
        } else {
            source
        };
        let h = cx.association();
        self.joins.push_back(JoinRequest {
            association: h,
            group: addr,
            source,
        });
        self.events.push_back(MemberEvent::Offered(h, addr));
        let rx = GroupReceiver::new(self.cfg.receiver.clone(), group.initial_mtsn);
        self.groups.insert(
            h,
            Membership {
                group,
                addr,
                join: Join::Pending,
                rx,
                control_echo: 0,
                feedback: None,
                last_timestamp: None,
                sync: None,
                sync_received: 0,
                due: false,
                first_new: None,
                loss_report_at: None,
                reported_gaps: 0,
                new_packets: 0,
                new_in_packet: false,
                new_assoc_packets: 0,
                new_assoc_in_packet: false,
                assoc_ack_at: None,
                last_group_rx: None,
                period_at: None,
                group_msack_at: None,
                last_group_msack: None,
                holds: Vec::new(),
                anchors: Vec::new(),
                held_group: VecDeque::new(),
                held_group_bytes: 0,
                received_group: 0,
                duplicates: 0,
                ended: false,
                source,
                server_port: cx.sctp_ports().1,
                resign: None,
                keys: KeyRing::new(),
                discards: Discards::default(),
            },
        );
    }

    fn cookie_echo(&mut self, cx: &mut Context<'_>, bundle: &mut Vec<RawChunk>) -> bool {
        let Some(m) = self.groups.get(&cx.association()) else {
            return true;
        };
        let (status, reason) = match m.join {
            Join::Pending => return false,
            Join::Joined => (ReachStatus::Joined, ReachReason::Unspecified),
            Join::Failed => (ReachStatus::JoinFailed, ReachReason::Unspecified),
        };
        bundle.push(
            Mreach {
                group_tag: m.group.group_tag,
                status,
                reason,
            }
            .to_raw(),
        );
        true
    }

    fn on_established(&mut self, _cx: &mut Context<'_>, _how: Establishment<'_>) {}

    fn handle_chunk(
        &mut self,
        cx: &mut Context<'_>,
        chunk: &RawChunk,
        next: Option<&RawChunk>,
    ) -> ChunkVerdict {
        let h = cx.association();
        if !self.groups.contains_key(&h) {
            return ChunkVerdict::Unrecognized;
        }
        if chunk.typ == mchunk::BARRIER && !cx.foreign() {
            let verdict = self.on_barrier(cx, chunk, next);
            if verdict != ChunkVerdict::Continue {
                return verdict;
            }
            if self.groups.get(&h).is_some_and(|m| !m.holds.is_empty()) {
                self.wake.push(h);
            }
            return verdict;
        }
        let Some(Ok(parsed)) = McastChunk::parse(chunk) else {
            // Malformed: ignored (never an ERROR on the group path).
            return ChunkVerdict::Continue;
        };
        match parsed {
            McastChunk::Mdata(d) => self.on_mdata(cx, d),
            McastChunk::Msync(s) => self.on_msync(cx, s),
            // The server-bound chunks, and anything else from the group
            // path: ignored.
            _ => {}
        }
        if next.is_none()
            && let Some(m) = self.groups.get_mut(&h)
            && std::mem::take(&mut m.new_in_packet)
        {
            // The packet's last chunk: one more packet with new MDATA.
            m.new_packets = m.new_packets.saturating_add(1);
            if std::mem::take(&mut m.new_assoc_in_packet) {
                m.new_assoc_packets = m.new_assoc_packets.saturating_add(1);
            }
        }
        self.after_input(h, cx.now());
        // Group progress may release held unicast messages.
        if self.groups.get(&h).is_some_and(|m| !m.holds.is_empty()) {
            self.wake.push(h);
        }
        ChunkVerdict::Continue
    }

    fn hold_delivery(&mut self, cx: &mut Context<'_>, d: &Delivery) -> bool {
        let Some(m) = self.groups.get_mut(&cx.association()) else {
            return false;
        };
        // SSN with DATA, MID with I-DATA; the other is 0.
        let seq = d.mid.0.max(u32::from(d.ssn.0));
        let Some(i) = m
            .holds
            .iter()
            .position(|&(s, u, q, _)| s == d.stream.0 && u == d.unordered && q == seq)
        else {
            return false;
        };
        let target = m.holds[i].3;
        // Released once every MTSN through the barrier's is received (or
        // abandoned) and the group messages among them delivered, or once
        // the member is no longer a member (draft §"Semantics", D=0 (b):
        // after End of Membership the prefix will never come). A group
        // message a D=1 barrier holds back is not delivered yet: one that
        // may end at or before the MTSN holds this message too.
        let reached = m.ended || m.prefix_done(target);
        if reached {
            m.holds.remove(i);
        }
        !reached
    }

    fn on_delivered(&mut self, cx: &mut Context<'_>, d: &Delivery) {
        let Some(m) = self.groups.get_mut(&cx.association()) else {
            return;
        };
        // Draft §"Semantics", D=1: U was delivered (or, U being ordered, a
        // later message of its stream was, so U was delivered or skipped):
        // the group messages it held go now.
        let before = m.anchors.len();
        m.anchors.retain(|a| !a.passed_by(d));
        if m.anchors.len() != before {
            Self::deliver_all(m, cx);
        }
    }

    fn poll_chunks(&mut self, cx: &mut Context<'_>, room: Room, out: &mut Vec<RawChunk>) {
        let h = cx.association();
        if let Some(m) = self.groups.get_mut(&h)
            && let Some(r) = m.resign.as_mut()
        {
            if r.due && room.packet >= 4 + Mreach::VALUE_LEN {
                out.push(
                    Mreach {
                        group_tag: m.group.group_tag,
                        status: ReachStatus::Resign,
                        reason: ReachReason::ApplicationRequest,
                    }
                    .to_raw(),
                );
                r.due = false;
                r.sends += 1;
                if r.answer {
                    m.resign = None;
                } else {
                    // Every RTO, doubled per retransmission (RFC 9260
                    // §6.3.3 E2's backoff).
                    let wait = cx.rto() * (1 << (r.sends - 1).min(6));
                    r.again_at = Some(cx.now() + wait.min(crate::defaults::RTO_MAX));
                }
            }
            // Leaving: no MSACK.
            return;
        }
        let due = self
            .groups
            .get(&h)
            .is_some_and(|m| m.due && m.rx.started() && !m.ended);
        if let Some(m) = self.groups.get_mut(&h) {
            m.rx.set_unread(cx.delivered_unread() + m.held_group_bytes);
        }
        if due && let Some(c) = self.build_msack(h, cx.now(), room.packet) {
            out.push(c);
        }
    }

    fn has_chunks(&self, a: AssociationHandle) -> bool {
        self.groups.get(&a).is_some_and(|m| {
            m.resign.is_some_and(|r| r.due)
                || (m.resign.is_none() && !m.ended && m.due && m.rx.started())
        })
    }

    fn association_timeout(&self, a: AssociationHandle) -> Option<Instant> {
        let m = self.groups.get(&a)?;
        if let Some(r) = m.resign {
            // Leaving: only the RESIGN's retransmission runs.
            return r.again_at;
        }
        let delay = m
            .feedback
            .map(|f| Duration::from_micros(u64::from(f.ack_delay_us)));
        [
            m.first_new.zip(delay).map(|(f, d)| f + d),
            m.loss_report_at,
            m.assoc_ack_at,
            m.period_at,
            m.group_msack_at,
            m.rx.deadline(),
            m.resign.and_then(|r| r.again_at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_association_timeout(&mut self, cx: &mut Context<'_>) {
        let h = cx.association();
        let now = cx.now();
        let Some(m) = self.groups.get_mut(&h) else {
            return;
        };
        if let Some(r) = m.resign.as_mut() {
            if r.again_at.is_some_and(|t| t <= now) {
                r.again_at = None;
                if r.sends > RESIGN_MAX_RETRANS {
                    // No End of Membership after every retransmission: the
                    // draft's bound, then the association goes.
                    m.resign = None;
                    m.ended = true;
                    cx.abort(b"mcsctp: group resignation not acknowledged");
                    return;
                }
                r.due = true;
                self.wake.push(h);
            }
            return;
        }
        m.rx.handle_timeout(now);
        Self::deliver_all(m, cx);
        let delay = m
            .feedback
            .map(|f| Duration::from_micros(u64::from(f.ack_delay_us)));
        let acker = m.feedback.is_some_and(|f| f.loss_report_delay_us == 0);
        // (regular acknowledgement, loss report) caused by the group path.
        let mut caused = (false, false);
        if m.first_new.zip(delay).is_some_and(|(f, d)| f + d <= now) {
            m.first_new = None;
            caused.0 = true;
        }
        if m.loss_report_at.is_some_and(|t| t <= now) {
            m.loss_report_at = None;
            caused.1 = m.rx.has_missing();
        }
        if m.group_msack_at.is_some_and(|t| t <= now) {
            m.group_msack_at = None;
            m.last_group_msack = Some(now);
            m.due = true;
        }
        if m.period_at.is_some_and(|t| t <= now) {
            m.period_at = None;
            m.due = true;
        }
        if m.assoc_ack_at.is_some_and(|t| t <= now) {
            m.assoc_ack_at = None;
            m.due = true;
        }
        if caused.0 || caused.1 {
            if acker {
                m.due = true;
            } else if !m.due {
                self.schedule_group_msack(h, now, !caused.1);
            }
        }
        if self.groups.get(&h).is_some_and(|m| m.due) {
            self.wake.push(h);
        }
    }

    fn on_closed(&mut self, association: AssociationHandle, _reason: &CloseReason) {
        self.groups.remove(&association);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use mcsctp_core::serial::{Ppid, StreamId};

    use super::*;

    fn delivery(stream: u16, unordered: bool, ssn: u16, mid: u32, kind: DeliveryKind) -> Delivery {
        Delivery {
            stream: StreamId(stream),
            ppid: Ppid(0),
            unordered,
            kind,
            ssn: Ssn(ssn),
            mid: Mid(mid),
            payload: Bytes::new(),
            origin: Origin::Association,
        }
    }

    fn anchor(seq: u32, mid: bool, unordered: bool) -> Anchor {
        Anchor {
            stream: 3,
            unordered,
            seq,
            mid,
            mtsn: Mtsn(100),
        }
    }

    /// Draft §"Semantics", D=1: U is delivered whole, or with its last
    /// piece; a later message of U's ordered stream is delivered only after
    /// U was delivered or skipped; nothing else releases the barrier.
    #[test]
    fn a_unicast_first_barrier_releases_when_its_message_is_delivered_or_passed() {
        let whole = DeliveryKind::Message;
        let first_piece = DeliveryKind::Piece {
            first: true,
            end_of_record: false,
        };
        let last_piece = DeliveryKind::Piece {
            first: false,
            end_of_record: true,
        };
        // I-DATA: by MID.
        let a = anchor(7, true, false);
        assert!(a.passed_by(&delivery(3, false, 0, 7, whole)));
        assert!(!a.passed_by(&delivery(3, false, 0, 7, first_piece)));
        assert!(a.passed_by(&delivery(3, false, 0, 7, last_piece)));
        assert!(a.passed_by(&delivery(3, false, 0, 8, whole)), "a later one");
        assert!(
            !a.passed_by(&delivery(3, false, 0, 6, whole)),
            "an earlier one"
        );
        assert!(
            !a.passed_by(&delivery(4, false, 0, 7, whole)),
            "another stream"
        );
        assert!(!a.passed_by(&delivery(3, true, 0, 7, whole)), "unordered");
        let mut group = delivery(3, false, 0, 7, whole);
        group.origin = Origin::Extension;
        assert!(!a.passed_by(&group), "a group message");
        // DATA: by SSN, serial across the wrap.
        let a = anchor(u32::from(u16::MAX), false, false);
        assert!(a.passed_by(&delivery(3, false, u16::MAX, 0, whole)));
        assert!(
            a.passed_by(&delivery(3, false, 0, 0, whole)),
            "after the wrap"
        );
        assert!(!a.passed_by(&delivery(3, false, u16::MAX - 1, 0, whole)));
        // Unordered: only U itself.
        let a = anchor(5, true, true);
        assert!(a.passed_by(&delivery(3, true, 0, 5, whole)));
        assert!(!a.passed_by(&delivery(3, true, 0, 6, whole)));
    }
}
