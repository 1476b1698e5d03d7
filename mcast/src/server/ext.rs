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
//! Not yet here (see the issue notes): group authentication (AUTH), the
//! PGMCC-style group congestion window and acker, BARRIER sending, and
//! abandonment.

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
use mcsctp_core::tx::send_queue::{OutgoingMessage, SendError};
use mcsctp_core::user_data::UserDataChunk;

use super::group::{GroupSender, GroupSenderConfig, MemberEvent, MemberKind, MemberStats};
use crate::Mtsn;
use crate::chunk::msync::{Feedback, Msync, MsyncParam, Start};
use crate::chunk::{self as mchunk, Barrier, McastChunk, Mdata};
use crate::chunk::{Mreach, ReachStatus};
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
    /// Group-path MSYNC interval while anything is unresolved.
    pub sync_interval: Duration,
    /// MSYNC after the last MDATA (tail-loss probe).
    pub tail_delay: Duration,
    /// The members' acknowledgement settings.
    pub feedback: Feedback,
    /// Group messages queued for a peer without the extension, at most
    /// (beyond, the peer is dropped from the group with an event).
    pub plain_backlog: usize,
    /// Mcast.Fallback.Window: group-path chunks a loss measurement spans.
    pub fallback_window: u64,
    /// Mcast.Fallback.LossThreshold.
    pub fallback_threshold: f64,
    /// Mcast.Return.LossThreshold.
    pub return_threshold: f64,
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
            sync_interval: Duration::from_millis(5),
            tail_delay: Duration::from_millis(1),
            feedback: Feedback {
                ack_spacing: 4,
                ack_delay_us: 1_000,
                ack_period_us: 20_000,
                loss_report_delay_us: 500,
            },
            plain_backlog: 4096,
            fallback_window: u64::from(crate::defaults::FALLBACK_WINDOW),
            fallback_threshold: crate::defaults::FALLBACK_LOSS_THRESHOLD,
            return_threshold: crate::defaults::RETURN_LOSS_THRESHOLD,
        }
    }
}

/// What the server's application hears about members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEvent {
    /// A member's state changed (joined, fallback, return...).
    Member(AssociationHandle, MemberKind),
    /// A member or plain peer was removed (it fell too far behind).
    Removed(AssociationHandle),
    /// A peer without the extension gets the group's messages as DATA.
    PlainJoined(AssociationHandle),
    /// A member or plain peer left (its association ended).
    Left(AssociationHandle),
}

/// A unicast message behind the group messages queued before it: the
/// group's position then ([`GroupSender::position`]) and the message.
type AfterGroup = (Vec<(u16, u64)>, OutgoingMessage);

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
    srtt: Option<Duration>,
}

/// The server side of the extension, one group.
#[derive(Debug)]
pub struct GroupServer {
    cfg: GroupServerConfig,
    sender: GroupSender<AssociationHandle>,
    members: BTreeMap<AssociationHandle, Ctl>,
    /// Associations whose cookie offered the group and whose MREACH has not
    /// arrived yet.
    awaiting: BTreeSet<AssociationHandle>,
    /// Peers without the extension, with the group messages not yet handed
    /// to their association.
    plain: BTreeMap<AssociationHandle, VecDeque<OutgoingMessage>>,
    sync_seq: u32,
    /// Group chunks sent before each recent group-path MSYNC.
    sent_before_sync: VecDeque<(u32, u64)>,
    next_sync: Option<Instant>,
    epoch: Option<Instant>,
    wake: Vec<AssociationHandle>,
    events: VecDeque<GroupEvent>,
    /// Unicast messages that must follow the group messages queued before
    /// them (BARRIER D=0), per member, in order.
    after_group: BTreeMap<AssociationHandle, VecDeque<AfterGroup>>,
    /// Extension marks of barrier messages: the member, the MTSN they wait
    /// for, and the TSN of their first fragment once sent (the mark is
    /// forgotten when a SACK covers it).
    marks: BTreeMap<u32, (AssociationHandle, Mtsn, Option<mcsctp_core::serial::Tsn>)>,
    next_mark: u32,
    /// Octets the server put on the group path.
    pub bytes_multicast: u64,
    /// Octets of MDATA and control the server put on associations.
    pub bytes_unicast: u64,
}

impl GroupServer {
    /// A group with no member.
    pub fn new(cfg: GroupServerConfig) -> Self {
        Self {
            sender: GroupSender::new(cfg.sender.clone()),
            cfg,
            members: BTreeMap::new(),
            awaiting: BTreeSet::new(),
            plain: BTreeMap::new(),
            sync_seq: 0,
            sent_before_sync: VecDeque::new(),
            next_sync: None,
            epoch: None,
            wake: Vec::new(),
            events: VecDeque::new(),
            after_group: BTreeMap::new(),
            marks: BTreeMap::new(),
            next_mark: 0,
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
        self.sender
            .send(now, stream, ppid, payload.clone(), false)?;
        for (h, q) in &mut self.plain {
            q.push_back(OutgoingMessage::new(stream, ppid, payload.clone()));
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
            self.events.push_back(GroupEvent::Removed(h));
        }
        Ok(())
    }

    /// Sends a unicast message to one member that it must not deliver
    /// before every group message sent before it (BARRIER D=0, draft
    /// §"BARRIER": "invalidate by multicast, then reply by unicast"). The
    /// message waits until those group messages have all their MTSNs, then
    /// goes out on the member's association with a BARRIER before its
    /// first fragment in every transmission. A peer without the extension
    /// gets the message as it is (no ordering across its streams is
    /// promised to it).
    pub fn send_after_group(
        &mut self,
        member: AssociationHandle,
        stream: StreamId,
        ppid: Ppid,
        payload: Bytes,
    ) {
        let position = self.sender.position();
        self.after_group
            .entry(member)
            .or_default()
            .push_back((position, OutgoingMessage::new(stream, ppid, payload)));
        self.wake.push(member);
    }

    /// A member's state and figures.
    pub fn member(&self, a: AssociationHandle) -> Option<MemberStats> {
        self.sender.member(a)
    }

    /// The members and plain peers.
    pub fn members(&self) -> impl Iterator<Item = AssociationHandle> + '_ {
        self.members.keys().chain(self.plain.keys()).copied()
    }

    /// Whether everything sent has been acknowledged by every member and
    /// handed to every plain peer's association.
    pub fn is_idle(&self) -> bool {
        !self.sender.has_queued()
            && self.sender.buffered_bytes() == 0
            && self.members.keys().all(|h| !self.sender.has_unicast(*h))
            && self.plain.values().all(VecDeque::is_empty)
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

    fn pump_sender_events(&mut self) {
        while let Some(e) = self.sender.poll_event() {
            self.events.push_back(match e {
                MemberEvent::Changed(h, k) => GroupEvent::Member(h, k),
                MemberEvent::Removed(h) => {
                    self.members.remove(&h);
                    GroupEvent::Removed(h)
                }
            });
        }
    }

    fn control_msync(
        &mut self,
        now: Instant,
        rto: Duration,
        h: AssociationHandle,
    ) -> Option<RawChunk> {
        let ts = self.timestamp(now);
        let highest = self.sender.highest_sent();
        let mctsn = self.sender.mctsn();
        let fb = self.cfg.feedback;
        let ctl = self.members.get_mut(&h)?;
        ctl.resend_at = Some(now + rto.max(Duration::from_millis(1)));
        ctl.resend_due = false;
        let m = Msync::new(self.sync_seq, highest, mctsn, ts, ctl.seq)
            .with_param(&MsyncParam::Start(Start {
                start_mtsn: ctl.start,
            }))
            .with_param(&MsyncParam::Feedback(fb));
        Some(m.to_raw())
    }

    fn on_mreach(&mut self, cx: &mut Context<'_>, r: Mreach) {
        let h = cx.association();
        if r.group_tag != self.cfg.group_tag || !self.awaiting.remove(&h) {
            return;
        }
        let kind = match r.status {
            ReachStatus::Joined => MemberKind::Joining,
            ReachStatus::Resign => return,
            _ => MemberKind::Fallback,
        };
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
                srtt: None,
            },
        );
        if let Some(c) = self.control_msync(cx.now(), cx.rto(), h) {
            self.bytes_unicast += c.len() as u64;
            cx.send_chunk(c);
        }
        self.pump_sender_events();
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
        // RTT sample (draft §"Round-Trip Time and Timers").
        if m.timestamp_echo != 0 {
            let r = ts_now
                .wrapping_sub(m.timestamp_echo)
                .wrapping_sub(m.ack_delay_us);
            if r < 1 << 31 {
                let sample = Duration::from_micros(u64::from(r));
                ctl.srtt = Some(ctl.srtt.map_or(sample, |s| (s * 7 + sample) / 8));
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
                ctl.expected += n2.saturating_sub(n1);
                // Duplicates on the group path count as received too.
                ctl.received += u64::from(r2.wrapping_sub(r1));
            }
        }
        self.judge_path(h);
        if m.joined
            && self.sender.member(h).map(|x| x.kind) == Some(MemberKind::Joining)
            && snapshot.is_some()
        {
            // It received a group-path MSYNC sent after it was created.
            self.sender.confirm(h);
        }
        self.pump_sender_events();
        self.wake_unicast();
    }

    /// Draft §"Measuring the Group Path": once a window's worth of group
    /// chunks was sent, the member's loss over it decides: above the
    /// fallback threshold a multicast member falls back; at or below the
    /// return threshold a member in fallback returns.
    fn judge_path(&mut self, h: AssociationHandle) {
        let window = self.cfg.fallback_window.max(1);
        let Some(ctl) = self.members.get_mut(&h) else {
            return;
        };
        if ctl.expected < window {
            return;
        }
        let got = ctl.received.min(ctl.expected);
        let loss = 1.0 - got as f64 / ctl.expected as f64;
        ctl.expected = 0;
        ctl.received = 0;
        match self.sender.member(h).map(|m| m.kind) {
            Some(MemberKind::Multicast | MemberKind::Returning)
                if loss > self.cfg.fallback_threshold =>
            {
                self.sender.fall_back(h);
            }
            Some(MemberKind::Fallback) if loss <= self.cfg.return_threshold => {
                self.sender.member_reached(h);
            }
            _ => {}
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
        _cx: &mut Context<'_>,
        mark: u32,
        tsn: mcsctp_core::serial::Tsn,
        _first: &UserDataChunk,
    ) -> Option<RawChunk> {
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
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        if !self.sender.any_joined() {
            // Nobody to send to on the group path: new MTSNs still get
            // assigned (for members in fallback) and released.
            while let Some((_, _)) = self.sender.poll_new(now, usize::MAX) {}
            self.wake_unicast();
            return None;
        }
        let header = CommonHeader {
            src_port: self.cfg.group.port(),
            dst_port: self.cfg.group.port(),
            verification_tag: self.cfg.group_tag,
        };
        let mut b = PacketBuilder::new(buf, header, self.cfg.max_packet);
        let sync_due = self.next_sync.is_some_and(|t| t <= now);
        if sync_due {
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
                let busy = self.sender.buffered_bytes() > 0
                    || self.sender.has_queued()
                    || self.members.keys().any(|h| {
                        self.sender
                            .member(*h)
                            .is_some_and(|s| s.kind != MemberKind::Multicast)
                    });
                self.next_sync = busy.then_some(now + self.cfg.sync_interval);
            }
        }
        let mut new = false;
        loop {
            let room = b.remaining();
            if room < 20 + 4 + 16 {
                break;
            }
            let next = match self.sender.poll_group_repair() {
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
        }
        if new {
            // Barrier messages whose group prefix is now assigned may go.
            self.wake.extend(self.after_group.keys().copied());
            self.next_sync = Some(self.next_sync.map_or(now + self.cfg.tail_delay, |t| {
                t.min(now + self.cfg.tail_delay)
            }));
            self.wake_unicast();
        }
        if b.is_empty() {
            return None;
        }
        let len = b.finish();
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
        [self.sender.poll_timeout(), self.next_sync]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.sender.handle_timeout(now);
        self.pump_sender_events();
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
            false,
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
                if let Some(c) = self.control_msync(cx.now(), cx.rto(), h) {
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
        // Unicast messages behind a barrier, once their group prefix has
        // its MTSNs.
        if let Some(q) = self.after_group.get_mut(&h) {
            let plain = self.plain.contains_key(&h);
            while let Some((position, _)) = q.front() {
                let Some(m) = self.sender.prefix_end(position) else {
                    break;
                };
                let Some((_, mut msg)) = q.pop_front() else {
                    break;
                };
                if !plain {
                    self.next_mark = self.next_mark.wrapping_add(1).max(1);
                    self.marks.insert(self.next_mark, (h, m, None));
                    msg.extension_mark = self.next_mark;
                }
                if cx.send_message(msg).is_err() {
                    break;
                }
            }
            if q.is_empty() {
                self.after_group.remove(&h);
            }
        }
        // Group messages for a peer without the extension.
        if let Some(q) = self.plain.get_mut(&h) {
            while let Some(m) = q.front() {
                if m.payload.len() > cx.send_buffer_available() {
                    break;
                }
                if let Some(m) = q.pop_front()
                    && cx.send_message(m).is_err()
                {
                    break;
                }
            }
            return;
        }
        // Control state not echoed in time: again (draft §"Control
        // State" step 3).
        let resend = self
            .members
            .get(&h)
            .is_some_and(|c| c.echoed != c.seq && c.resend_due);
        let mut space = room.packet;
        if resend && let Some(c) = self.control_msync(now, cx.rto(), h) {
            space = space.saturating_sub(c.len().next_multiple_of(4));
            self.bytes_unicast += c.len() as u64;
            out.push(c);
        }
        // Repairs and fallback data, within the association's windows.
        let mut window = room.window;
        while space > 20 + 16 {
            let Some((mtsn, c)) = self.sender.poll_unicast(now, h, window.saturating_sub(20))
            else {
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
            .is_some_and(|(p, _)| self.sender.prefix_end(p).is_some())
            || self.sender.has_unicast(a)
            || self.plain.get(&a).is_some_and(|q| !q.is_empty())
            || self
                .members
                .get(&a)
                .is_some_and(|c| c.echoed != c.seq && c.resend_due)
    }

    fn association_timeout(&self, a: AssociationHandle) -> Option<Instant> {
        let c = self.members.get(&a)?;
        (c.echoed != c.seq && !c.resend_due)
            .then_some(c.resend_at)
            .flatten()
    }

    fn handle_association_timeout(&mut self, cx: &mut Context<'_>) {
        let h = cx.association();
        if let Some(c) = self.members.get_mut(&h)
            && c.resend_at.is_some_and(|t| t <= cx.now())
        {
            c.resend_due = true;
            self.wake.push(h);
        }
    }

    fn on_closed(&mut self, association: AssociationHandle, _reason: &CloseReason) {
        self.awaiting.remove(&association);
        self.after_group.remove(&association);
        self.marks.retain(|_, (a, _, _)| *a != association);
        let was =
            self.members.remove(&association).is_some() | self.plain.remove(&association).is_some();
        self.sender.remove_member(association);
        if was {
            self.events.push_back(GroupEvent::Left(association));
        }
    }
}
