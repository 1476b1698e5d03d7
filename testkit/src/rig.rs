//! What a measurement adds to the server node of a simulation.
//!
//! A [`Rig`] on an [`EpNode`](crate::group::EpNode) gives the server:
//!
//! - a [`Source`]: the application, which hands message `i` (a prepared
//!   [`payload`](crate::group::payload)) to the group, or to every
//!   association (fan-out), either as fast as the send buffers take them or
//!   one every `interval`;
//! - an [`Egress`]: the server's access link, a FIFO drained at a fixed
//!   rate. The endpoint is asked for its next packet only while less than
//!   `limit_bytes` wait in it, as a sender blocked on a full socket buffer
//!   would be; so every packet the server sends, to the group or to one
//!   association, takes its turn on the same link;
//! - [`Counters`] of what the server sends (group and unicast, packets
//!   that carry user data) and receives;
//! - a [`Recording`] of every call into the endpoint, with its simulated
//!   time, that [`replay`] plays back into a fresh endpoint built the same
//!   way: the endpoint is deterministic, so the replay makes the very same
//!   packets (checked), and timing it times the server endpoint alone,
//!   without the simulator, the members or the harness.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{DefaultHasher, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::chunk::ChunkType;
use mcsctp_core::endpoint::Endpoint;
use mcsctp_core::event::AssociationHandle;
use mcsctp_core::extension::{Extension, NoExtension};
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_core::tx::send_queue::SendError;
use mcsctp_mcast::member::ext::GroupMember;
use mcsctp_mcast::server::ext::GroupServer;
use mcsctp_sim::Datagram;

/// Stream and PPID of every workload message.
const STREAM: StreamId = StreamId(0);
const PPID: Ppid = Ppid(51);

/// An extension that may send group messages.
pub trait GroupSend: Extension {
    /// Hands a group message to the extension: `false` if its send buffer
    /// has no room now (or it has no group).
    fn group_send(&mut self, now: Instant, payload: Bytes) -> bool;
}

impl GroupSend for GroupServer {
    fn group_send(&mut self, now: Instant, payload: Bytes) -> bool {
        match self.send(now, STREAM, PPID, payload) {
            Ok(()) => true,
            Err(SendError::BufferFull { .. }) => false,
            Err(e) => panic!("group send: {e:?}"),
        }
    }
}

impl GroupSend for GroupMember {
    fn group_send(&mut self, _now: Instant, _payload: Bytes) -> bool {
        false
    }
}

impl GroupSend for NoExtension {
    fn group_send(&mut self, _now: Instant, _payload: Bytes) -> bool {
        false
    }
}

/// One call into the server endpoint.
#[derive(Debug, Clone)]
pub enum Call {
    /// `handle_datagram`.
    Datagram {
        /// Local address.
        local: SocketAddr,
        /// Remote address.
        remote: SocketAddr,
        /// The datagram.
        data: Bytes,
    },
    /// `handle_timeout`.
    Timeout,
    /// One `poll_transmit`: the length it returned and a hash of the bytes.
    Transmit {
        /// `None`: nothing to send.
        len: Option<usize>,
        /// Hash of the packet.
        hash: u64,
    },
    /// `poll_timeout`.
    PollTimeout,
    /// `poll_recv` until `None`, then `poll_event` until `None`.
    Drain,
    /// [`GroupSend::group_send`] and whether it was taken.
    Group {
        /// The message.
        payload: Bytes,
        /// What the call returned.
        taken: bool,
    },
    /// `Endpoint::send` on one association (fan-out).
    Send {
        /// The association.
        association: AssociationHandle,
        /// The message.
        payload: Bytes,
    },
}

/// Every call into the server endpoint, with its simulated time since the
/// rig's epoch.
#[derive(Debug, Default)]
pub struct Recording {
    /// The calls, in order.
    pub calls: Vec<(Duration, Call)>,
    /// Where the measured phase begins ([`Rig::start`]).
    pub mark: usize,
}

fn hash(b: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(b);
    h.finish()
}

/// Plays `calls` into `ep` (built as the recorded endpoint was, at
/// `epoch`), each at `epoch` plus its recorded time, and returns the
/// octets it sent. With `check`, every packet must be the recorded one
/// (length and hash), or this panics; without, only the lengths are
/// compared.
pub fn replay<X: GroupSend>(
    ep: &mut Endpoint<X>,
    epoch: Instant,
    calls: &[(Duration, Call)],
    buf: &mut Vec<u8>,
    check: bool,
) -> u64 {
    let mut sent = 0u64;
    for (k, (at, call)) in calls.iter().enumerate() {
        let now = epoch + *at;
        match call {
            Call::Datagram {
                local,
                remote,
                data,
            } => {
                ep.handle_datagram(now, *local, *remote, data.clone());
            }
            Call::Timeout => ep.handle_timeout(now),
            Call::Transmit { len, hash: h } => {
                buf.clear();
                let t = ep.poll_transmit(now, buf).map(|t| t.len);
                assert_eq!(t, *len, "replay call {k}: another packet length");
                if let Some(l) = t {
                    assert!(
                        !check || hash(&buf[..l]) == *h,
                        "replay call {k}: other packet bytes"
                    );
                    sent += l as u64;
                }
            }
            Call::PollTimeout => {
                ep.poll_timeout();
            }
            Call::Drain => {
                while ep.poll_recv().is_some() {}
                while ep.poll_event().is_some() {}
            }
            Call::Group { payload, taken } => {
                let t = ep.extension_mut().group_send(now, payload.clone());
                assert_eq!(t, *taken, "replay call {k}: group send");
            }
            Call::Send {
                association,
                payload,
            } => {
                ep.send(
                    now,
                    *association,
                    STREAM,
                    PPID,
                    payload.clone(),
                    Default::default(),
                )
                .unwrap_or_else(|e| panic!("replay call {k}: send: {e:?}"));
            }
        }
    }
    sent
}

/// The server's access link: a FIFO drained at `rate_bps` (bits of UDP
/// payload per second, as [`mcsctp_sim::LinkConfig::bandwidth_bps`]
/// counts them). A packet leaves when its last bit is serialised.
#[derive(Debug)]
pub struct Egress {
    /// The rate; `None`: packets leave at once.
    pub rate_bps: Option<u64>,
    /// The endpoint is polled only while fewer octets than this wait.
    pub limit_bytes: usize,
    queue: VecDeque<(Instant, Datagram)>,
    queued: usize,
    busy_until: Option<Instant>,
    /// Most octets that ever waited.
    pub peak_bytes: usize,
}

impl Egress {
    /// An idle link.
    pub fn new(rate_bps: Option<u64>, limit_bytes: usize) -> Self {
        Self {
            rate_bps,
            limit_bytes,
            queue: VecDeque::new(),
            queued: 0,
            busy_until: None,
            peak_bytes: 0,
        }
    }

    fn has_room(&self) -> bool {
        self.queued < self.limit_bytes
    }

    fn push(&mut self, now: Instant, d: Datagram) {
        let len = d.data.len();
        let depart = match self.rate_bps {
            None => now,
            Some(bps) => {
                let start = self.busy_until.map_or(now, |b| b.max(now));
                let ns = (len as u128 * 8 * 1_000_000_000).div_ceil(u128::from(bps.max(1)));
                start + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
            }
        };
        self.busy_until = Some(depart);
        self.queued += len;
        self.peak_bytes = self.peak_bytes.max(self.queued);
        self.queue.push_back((depart, d));
    }

    fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        if self.queue.front().is_none_or(|(t, _)| *t > now) {
            return None;
        }
        let (_, d) = self.queue.pop_front()?;
        self.queued -= d.data.len();
        Some(d)
    }

    fn next_departure(&self) -> Option<Instant> {
        self.queue.front().map(|(t, _)| *t)
    }
}

/// The server's application: message `i` is `payloads[i]`.
#[derive(Debug)]
pub struct Source {
    payloads: Vec<Bytes>,
    /// `None`: as fast as the send buffers take them; else message `i` is
    /// due `i * interval` after the start.
    pub interval: Option<Duration>,
    start: Option<Instant>,
    /// Send to the group ([`GroupSend`]) rather than to every association.
    group: bool,
    next: usize,
    cursors: BTreeMap<AssociationHandle, usize>,
    /// Messages due at the last sweep over every association.
    swept: usize,
    /// Remote addresses of the datagrams received since the last top-up,
    /// and the association of each remote address.
    touched: Vec<SocketAddr>,
    by_remote: HashMap<SocketAddr, AssociationHandle>,
    due_at_last: usize,
    /// Sends (message, association) that came later than their time
    /// because the send buffer was full (paced sources).
    pub late: u64,
}

impl Source {
    /// A source of `payloads`, to the group or fanned out to every
    /// association; it sends nothing before [`Rig::start`].
    pub fn new(payloads: Vec<Bytes>, interval: Option<Duration>, group: bool) -> Self {
        Self {
            payloads,
            interval,
            start: None,
            group,
            next: 0,
            cursors: BTreeMap::new(),
            swept: 0,
            touched: Vec::new(),
            by_remote: HashMap::new(),
            due_at_last: 0,
            late: 0,
        }
    }

    /// Messages in the workload.
    pub fn messages(&self) -> usize {
        self.payloads.len()
    }

    /// When message `i` is due (after the start).
    pub fn due_time(&self, i: usize) -> Option<Instant> {
        let s = self.start?;
        Some(match self.interval {
            None => s,
            Some(iv) => s + iv * i as u32,
        })
    }

    fn due(&self, now: Instant) -> usize {
        let Some(s) = self.start else { return 0 };
        let m = self.payloads.len();
        match self.interval {
            None => m,
            Some(iv) => {
                let n = now.saturating_duration_since(s).as_nanos() / iv.as_nanos().max(1);
                m.min(n as usize + 1)
            }
        }
    }

    fn next_time(&self) -> Option<Instant> {
        let iv = self.interval?;
        (self.due_at_last < self.payloads.len())
            .then(|| self.start.map(|s| s + iv * self.due_at_last as u32))
            .flatten()
    }

    fn is_late(&self, i: usize, now: Instant) -> bool {
        self.interval.is_some() && self.due_time(i).is_some_and(|t| now > t)
    }

    fn top_up<X: GroupSend>(
        &mut self,
        now: Instant,
        ep: &mut Endpoint<X>,
        rec: &mut Option<Recording>,
        at: Duration,
    ) {
        let due = self.due(now);
        self.due_at_last = due;
        if self.group {
            while self.next < due {
                let p = self.payloads[self.next].clone();
                let taken = ep.extension_mut().group_send(now, p.clone());
                if let Some(r) = rec {
                    r.calls.push((at, Call::Group { payload: p, taken }));
                }
                if !taken {
                    break;
                }
                if self.is_late(self.next, now) {
                    self.late += 1;
                }
                self.next += 1;
            }
            return;
        }
        // Fan-out: every association when a new message fell due, else
        // only those a datagram just came from (a SACK is what frees a send
        // buffer), so that a step costs O(1) however many there are.
        let hs: Vec<AssociationHandle> = if due > self.swept {
            self.swept = due;
            self.touched.clear();
            let hs: Vec<AssociationHandle> = ep.associations().collect();
            for &h in &hs {
                if let Some(a) = ep.remote_address(h) {
                    self.by_remote.insert(a, h);
                }
            }
            hs
        } else {
            let by_remote = &self.by_remote;
            self.touched
                .drain(..)
                .filter_map(|a| by_remote.get(&a).copied())
                .collect()
        };
        for h in hs {
            let mut c = self.cursors.get(&h).copied().unwrap_or(0);
            while c < due {
                let p = &self.payloads[c];
                if ep.send_buffer_available(h).unwrap_or(0) < p.len() {
                    break;
                }
                ep.send(now, h, STREAM, PPID, p.clone(), Default::default())
                    .unwrap_or_else(|e| panic!("fan-out send: {e:?}"));
                if let Some(r) = rec {
                    r.calls.push((
                        at,
                        Call::Send {
                            association: h,
                            payload: p.clone(),
                        },
                    ));
                }
                if self.is_late(c, now) {
                    self.late += 1;
                }
                c += 1;
            }
            self.cursors.insert(h, c);
        }
    }
}

/// What the server sent and received (since [`Rig::start`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Packets to the group address, and their octets (SCTP packet,
    /// common header onward: the UDP payload).
    pub group_packets: u64,
    /// See `group_packets`.
    pub group_bytes: u64,
    /// Packets to the group that carry MDATA.
    pub group_data_packets: u64,
    /// Packets to one peer, and their octets.
    pub unicast_packets: u64,
    /// See `unicast_packets`.
    pub unicast_bytes: u64,
    /// Packets to one peer that carry DATA, I-DATA or MDATA.
    pub unicast_data_packets: u64,
    /// Packets the server received.
    pub received_packets: u64,
}

impl Counters {
    /// Every packet the server sent.
    pub fn packets(&self) -> u64 {
        self.group_packets + self.unicast_packets
    }

    /// Every octet the server sent.
    pub fn bytes(&self) -> u64 {
        self.group_bytes + self.unicast_bytes
    }
}

/// Whether an SCTP packet carries a chunk of user data (DATA, I-DATA or
/// MDATA), from its chunk headers.
pub fn carries_user_data(p: &[u8]) -> bool {
    let mut off = 12;
    while let Some(h) = p.get(off..off + 4) {
        let t = ChunkType(h[0]);
        if t == ChunkType::DATA || t == ChunkType::IDATA || t == mcsctp_mcast::chunk::MDATA {
            return true;
        }
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if len < 4 {
            return false;
        }
        off += len.next_multiple_of(4);
    }
    false
}

/// A measurement's additions to the server node (see the module docs).
#[derive(Debug)]
pub struct Rig {
    /// Recorded times count from here (the network's start).
    pub epoch: Instant,
    /// The server's access link.
    pub egress: Egress,
    /// The application.
    pub source: Source,
    /// What the server sent and received.
    pub counters: Counters,
    /// Every call into the endpoint, if recording.
    pub recording: Option<Recording>,
    endpoint_timeout: Option<Instant>,
    /// When the endpoint last handled its timeout.
    handled_at: Option<Instant>,
}

impl Rig {
    /// A rig; `record` keeps every call into the endpoint.
    pub fn new(epoch: Instant, egress: Egress, source: Source, record: bool) -> Self {
        Self {
            epoch,
            egress,
            source,
            counters: Counters::default(),
            recording: record.then(Recording::default),
            endpoint_timeout: None,
            handled_at: None,
        }
    }

    /// Starts the measured phase: the application begins, the counters
    /// restart, and the recording marks where the phase begins.
    pub fn start(&mut self, now: Instant) {
        self.source.start = Some(now);
        self.counters = Counters::default();
        if let Some(r) = &mut self.recording {
            r.mark = r.calls.len();
        }
    }

    pub(crate) fn record(&mut self, now: Instant, call: Call) {
        if let Some(r) = &mut self.recording {
            r.calls
                .push((now.saturating_duration_since(self.epoch), call));
        }
    }

    pub(crate) fn received(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &Bytes,
    ) {
        self.counters.received_packets += 1;
        if !self.source.group && self.source.start.is_some() {
            self.source.touched.push(remote);
        }
        self.record(
            now,
            Call::Datagram {
                local,
                remote,
                data: data.clone(),
            },
        );
    }

    pub(crate) fn endpoint_due(&mut self, now: Instant) -> bool {
        let due = self.endpoint_timeout.is_some_and(|t| t <= now);
        if due {
            self.handled_at = Some(now);
        }
        due
    }

    pub(crate) fn poll_timeout(&mut self, endpoint: Option<Instant>) -> Option<Instant> {
        if let Some(r) = &mut self.recording {
            r.calls.push((Duration::ZERO, Call::PollTimeout));
        }
        self.endpoint_timeout = endpoint;
        // A timer the endpoint was already asked to handle, still due
        // while the link has no room, is work only `poll_transmit` can do
        // (the group server's MSYNC time is such a timer): a runtime
        // blocked on a full socket waits for room, which comes at the next
        // departure, rather than spin on it.
        let endpoint =
            endpoint.filter(|t| self.egress.has_room() || self.handled_at.is_none_or(|h| h < *t));
        [
            endpoint,
            self.egress.next_departure(),
            self.source.next_time(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub(crate) fn poll_transmit<X: GroupSend>(
        &mut self,
        now: Instant,
        ep: &mut Endpoint<X>,
        addr: SocketAddr,
        buf: &mut Vec<u8>,
    ) -> Option<Datagram> {
        let at = now.saturating_duration_since(self.epoch);
        self.source.top_up(now, ep, &mut self.recording, at);
        loop {
            if let Some(d) = self.egress.pop_due(now) {
                return Some(d);
            }
            if !self.egress.has_room() {
                return None;
            }
            buf.clear();
            let t = ep.poll_transmit(now, buf);
            if let Some(r) = &mut self.recording {
                let len = t.as_ref().map(|t| t.len);
                let h = len.map_or(0, |l| hash(&buf[..l]));
                r.calls.push((at, Call::Transmit { len, hash: h }));
            }
            let t = t?;
            let d = Datagram::new(addr, t.destination, Bytes::copy_from_slice(&buf[..t.len]));
            let data = carries_user_data(&d.data);
            let n = d.data.len() as u64;
            let c = &mut self.counters;
            if t.destination.ip().is_multicast() {
                c.group_packets += 1;
                c.group_bytes += n;
                c.group_data_packets += u64::from(data);
            } else {
                c.unicast_packets += 1;
                c.unicast_bytes += n;
                c.unicast_data_packets += u64::from(data);
            }
            self.egress.push(now, d);
        }
    }
}
