//! Outgoing user messages, fragmentation and the stream scheduler.
//!
//! Messages wait here, whole, until the association asks for the next
//! fragment with [`SendQueue::produce`]. Fragments are zero-copy
//! [`Bytes::slice`]s of the message.
//!
//! # Scheduling
//!
//! Round robin over the streams that have data (RFC 8260 §3.2, the
//! Round-Robin Scheduler SCTP_SS_RR, paraphrased: streams are served in
//! turn, so that one stream cannot starve another).
//!
//! - With I-DATA (`interleaving`), the turn passes after every *fragment*:
//!   RFC 8260 §1 motivates I-DATA by the head-of-line blocking a large
//!   message on one stream causes to messages on other streams;
//!   scheduling per fragment is what removes it.
//! - With plain DATA, the turn passes after every *message*: RFC 9260
//!   §6.9 (fragmentation) has the fragments of one message carry
//!   consecutive TSNs, so once the first fragment of a message is
//!   produced, the rest follow before anything else.
//!
//! # Sequence numbers
//!
//! The SSN (DATA) or MID (I-DATA) is assigned when a message's *first
//! fragment* is produced, never at enqueue. A message that is dropped
//! before it was sent (expired, or on a stream removed by
//! [`SendQueue::set_outbound_streams`]) thus consumes no number. This is not
//! just thrift: such a message has no TSN, so no FORWARD-TSN (RFC 3758 §3.2,
//! whose New Cumulative TSN is what makes the receiver act) could ever tell
//! the receiver to skip its SSN, and an ordered stream would stall on the
//! hole forever.
//!
//! - DATA, ordered: the stream's next SSN (16 bits, wrapping).
//! - DATA, unordered: SSN 0 (RFC 9260 §3.3.1: the receiver ignores the
//!   SSN of a chunk with the U bit set; we send 0).
//! - I-DATA: RFC 8260 §2.1, MID: "The sender uses two counters for each
//!   outgoing stream: one for ordered messages, one for unordered
//!   messages. All of these counters are independent and initially 0. They
//!   are incremented by 1 for each user message." FSN 0, 1, 2, ... per
//!   fragment (the first fragment carries the PPID in its place on the wire).

use core::fmt;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};

use crate::chunk::DataFlags;
use crate::serial::{Fsn, Mid, Ppid, Ssn, StreamId};
use crate::user_data::UserDataChunk;

/// Send queue parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendQueueConfig {
    /// Bytes of unsent user data the queue holds at most. A message larger
    /// than this is refused with [`SendError::TooLarge`]. Default 1 MiB.
    pub buffer_limit: usize,
    /// Room kept free before the first fragment of a message with an
    /// [`OutgoingMessage::extension_mark`], for the extension's prefix
    /// chunk (see [`Registration::prefix_len`](crate::extension::Registration::prefix_len)).
    pub mark_reserve: usize,
}

impl Default for SendQueueConfig {
    fn default() -> Self {
        Self {
            buffer_limit: 1 << 20,
            mark_reserve: 0,
        }
    }
}

/// A user message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Stream.
    pub stream: StreamId,
    /// Payload Protocol Identifier.
    pub ppid: Ppid,
    /// The message; never empty.
    pub payload: Bytes,
    /// Deliver unordered (U bit).
    pub unordered: bool,
    /// RFC 3758 timed reliability: abandon the message if it is not
    /// acknowledged this long after it was enqueued.
    pub lifetime: Option<Duration>,
    /// RFC 7496 limited retransmissions: abandon the message rather than
    /// retransmit one of its fragments more often than this.
    pub max_retransmissions: Option<u32>,
    /// An opaque value for the endpoint's protocol extension, 0 for none:
    /// every transmission of the message's first fragment is preceded by
    /// the chunk [`Extension::prefix_chunk`](crate::extension::Extension::prefix_chunk)
    /// gives for it.
    pub extension_mark: u32,
}

impl OutgoingMessage {
    /// An ordered, fully reliable message.
    pub fn new(stream: StreamId, ppid: Ppid, payload: Bytes) -> Self {
        Self {
            stream,
            ppid,
            payload,
            unordered: false,
            lifetime: None,
            max_retransmissions: None,
            extension_mark: 0,
        }
    }
}

/// Why a message was refused. API misuse or back-pressure, never a peer
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The stream is not below the number of outbound streams.
    InvalidStream {
        /// The stream asked for.
        stream: StreamId,
        /// Number of outbound streams.
        outbound: u16,
    },
    /// SCTP cannot carry an empty user message (RFC 9260 §3.3.1: a DATA
    /// chunk carries at least one byte).
    EmptyMessage,
    /// Not enough room now; retry once the queue drained.
    BufferFull {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes available now.
        available: usize,
    },
    /// The message is larger than the whole buffer and can never be queued.
    TooLarge {
        /// Message length.
        len: usize,
        /// The buffer limit.
        limit: usize,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidStream { stream, outbound } => write!(
                f,
                "stream {stream} is not below the {outbound} outbound streams"
            ),
            Self::EmptyMessage => f.write_str("empty user message"),
            Self::BufferFull { needed, available } => write!(
                f,
                "send buffer full: {needed} bytes needed, {available} available"
            ),
            Self::TooLarge { len, limit } => write!(
                f,
                "message of {len} bytes exceeds the send buffer limit of {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// Identity of a message that has started sending, for PR-SCTP
/// abandonment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageKey {
    /// Stream.
    pub stream: StreamId,
    /// U bit.
    pub unordered: bool,
    /// SSN (DATA, ordered; 0 otherwise).
    pub ssn: Ssn,
    /// MID (I-DATA; 0 with DATA).
    pub mid: Mid,
    /// Queue-wide message number in enqueue order. It tells apart
    /// unordered DATA messages, which all share SSN 0 and MID 0.
    pub seq: u64,
    /// The message's Payload Protocol Identifier, so that an abandoned
    /// message can be reported to the application by more than its stream.
    pub ppid: Ppid,
}

/// A fragment ready to be given a TSN by the retransmission queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Produced {
    /// The fragment.
    pub chunk: UserDataChunk,
    /// When the message's lifetime ends (RFC 3758), if it has one.
    pub expires_at: Option<Instant>,
    /// RFC 7496 limit of the message, if any.
    pub max_retransmissions: Option<u32>,
    /// [`OutgoingMessage::extension_mark`].
    pub extension_mark: u32,
    /// The message the fragment belongs to.
    pub message: MessageKey,
}

#[derive(Debug)]
struct Pending {
    msg: OutgoingMessage,
    seq: u64,
    expires_at: Option<Instant>,
    /// Bytes already produced.
    offset: usize,
    /// (SSN, MID) once the first fragment was produced.
    started: Option<(Ssn, Mid)>,
    next_fsn: u32,
}

impl Pending {
    fn remaining(&self) -> usize {
        self.msg.payload.len() - self.offset
    }
}

#[derive(Debug, Default)]
struct StreamState {
    queue: VecDeque<Pending>,
    next_ssn: Ssn,
    next_ordered_mid: Mid,
    next_unordered_mid: Mid,
}

/// Outgoing messages of one association, per stream, with the scheduler.
#[derive(Debug)]
pub struct SendQueue {
    cfg: SendQueueConfig,
    outbound: u16,
    streams: BTreeMap<u16, StreamState>,
    /// Streams with queued messages, for the round robin.
    active: BTreeSet<u16>,
    /// The round robin resumes at the first active stream >= this
    /// (0..=65536).
    rr_next: u32,
    /// DATA only: the stream whose message is half produced.
    current: Option<u16>,
    /// Unstarted messages with a lifetime, by (deadline, seq).
    expiries: BTreeMap<(Instant, u64), u16>,
    /// Messages dropped by `produce` because they expired; handed out by
    /// `expire`. Still counted in `buffered` until then, so memory stays
    /// within the buffer limit.
    expired: Vec<(Instant, OutgoingMessage)>,
    buffered: usize,
    next_seq: u64,
}

impl SendQueue {
    /// An empty queue for `outbound_streams` streams.
    pub fn new(outbound_streams: u16, cfg: SendQueueConfig) -> Self {
        Self {
            cfg,
            outbound: outbound_streams,
            streams: BTreeMap::new(),
            active: BTreeSet::new(),
            rr_next: 0,
            current: None,
            expiries: BTreeMap::new(),
            expired: Vec::new(),
            buffered: 0,
            next_seq: 0,
        }
    }

    /// Number of outbound streams.
    pub fn outbound_streams(&self) -> u16 {
        self.outbound
    }

    /// Sets the number of outbound streams, e.g. after the handshake to
    /// min(our OS, peer's MIS) (RFC 9260 §5.1.1). Messages queued on
    /// streams `>= n` are removed and returned whole (as enqueued), in
    /// stream then enqueue order, so the association can report them as
    /// unsent. The SSN/MID counters of removed streams are dropped.
    pub fn set_outbound_streams(&mut self, n: u16) -> Vec<OutgoingMessage> {
        self.outbound = n;
        let removed = self.streams.split_off(&n);
        let mut out = Vec::new();
        for (sid, st) in removed {
            self.active.remove(&sid);
            if self.current == Some(sid) {
                self.current = None;
            }
            for p in st.queue {
                self.buffered -= p.remaining();
                if let Some(at) = p.expires_at {
                    self.expiries.remove(&(at, p.seq));
                }
                out.push(p.msg);
            }
        }
        out
    }

    /// Queues a message.
    pub fn enqueue(&mut self, now: Instant, msg: OutgoingMessage) -> Result<(), SendError> {
        if msg.stream.0 >= self.outbound {
            return Err(SendError::InvalidStream {
                stream: msg.stream,
                outbound: self.outbound,
            });
        }
        let len = msg.payload.len();
        if len == 0 {
            return Err(SendError::EmptyMessage);
        }
        if len > self.cfg.buffer_limit {
            return Err(SendError::TooLarge {
                len,
                limit: self.cfg.buffer_limit,
            });
        }
        if len > self.available() {
            return Err(SendError::BufferFull {
                needed: len,
                available: self.available(),
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let expires_at = msg.lifetime.and_then(|l| now.checked_add(l));
        let sid = msg.stream.0;
        if let Some(at) = expires_at {
            self.expiries.insert((at, seq), sid);
        }
        self.buffered += len;
        self.streams
            .entry(sid)
            .or_default()
            .queue
            .push_back(Pending {
                msg,
                seq,
                expires_at,
                offset: 0,
                started: None,
                next_fsn: 0,
            });
        self.active.insert(sid);
        Ok(())
    }

    /// The stream the scheduler serves next, if any has data.
    fn pick_stream(&self, interleaving: bool) -> Option<u16> {
        if !interleaving && let Some(cur) = self.current {
            return Some(cur);
        }
        let start = u16::try_from(self.rr_next).unwrap_or(0);
        self.active
            .range(start..)
            .next()
            .or_else(|| self.active.iter().next())
            .copied()
    }

    /// Next fragment to send: at most `max_payload` bytes of user data
    /// (never empty; `None` when `max_payload` is 0 or nothing is queued).
    ///
    /// `interleaving` is whether I-DATA was negotiated; it must not change
    /// during an association. All fragments but the last of a message are
    /// `max_payload` long as long as the caller passes the same value; a
    /// smaller value (to fill the rest of a packet) is honoured.
    ///
    /// Unsent messages whose lifetime passed are dropped here instead of
    /// being sent; [`SendQueue::expire`] hands them out.
    pub fn produce(
        &mut self,
        now: Instant,
        max_payload: usize,
        interleaving: bool,
    ) -> Option<Produced> {
        self.produce_packed(now, max_payload, 0, interleaving)
    }

    /// Like [`produce`](Self::produce), but does not *start* a message of at
    /// most `whole_limit` bytes (one that would travel whole in an empty
    /// packet) when it does not fit `max_payload`: splitting it just to
    /// fill the end of a packet costs a chunk header, a reassembly at the
    /// receiver, and makes one lost packet hurt two messages. `None` then
    /// means "start a new packet".
    pub fn produce_packed(
        &mut self,
        now: Instant,
        max_payload: usize,
        whole_limit: usize,
        interleaving: bool,
    ) -> Option<Produced> {
        if max_payload == 0 {
            return None;
        }
        loop {
            let sid = self.pick_stream(interleaving)?;
            let Some(st) = self.streams.get_mut(&sid) else {
                // Inconsistent bookkeeping; repair rather than panic.
                self.active.remove(&sid);
                self.current = None;
                continue;
            };
            let Some(head) = st.queue.front_mut() else {
                self.active.remove(&sid);
                self.current = None;
                continue;
            };
            if head.started.is_none() && head.expires_at.is_some_and(|at| at <= now) {
                if let Some(p) = st.queue.pop_front()
                    && let Some(at) = p.expires_at
                {
                    self.expiries.remove(&(at, p.seq));
                    // Stays counted in `buffered` until handed out.
                    self.expired.push((at, p.msg));
                }
                if st.queue.is_empty() {
                    self.active.remove(&sid);
                }
                continue;
            }
            // A marked message's first fragment leaves room for the
            // extension's prefix chunk before it.
            let max_payload = if head.started.is_none() && head.msg.extension_mark != 0 {
                match max_payload.checked_sub(self.cfg.mark_reserve) {
                    Some(m) if m > 0 => m,
                    _ => return None,
                }
            } else {
                max_payload
            };
            if head.started.is_none()
                && head.msg.payload.len() > max_payload
                && head.msg.payload.len() <= whole_limit
            {
                return None;
            }
            let (ssn, mid) = match head.started {
                Some(v) => v,
                None => {
                    let v = match (interleaving, head.msg.unordered) {
                        (false, false) => {
                            let ssn = st.next_ssn;
                            st.next_ssn = ssn.next();
                            (ssn, Mid(0))
                        }
                        (false, true) => (Ssn(0), Mid(0)),
                        (true, false) => {
                            let mid = st.next_ordered_mid;
                            st.next_ordered_mid = mid.next();
                            (Ssn(0), mid)
                        }
                        (true, true) => {
                            let mid = st.next_unordered_mid;
                            st.next_unordered_mid = mid.next();
                            (Ssn(0), mid)
                        }
                    };
                    head.started = Some(v);
                    if let Some(at) = head.expires_at {
                        // Once started, the retransmission queue watches
                        // the lifetime (it knows what was acknowledged).
                        self.expiries.remove(&(at, head.seq));
                    }
                    v
                }
            };
            let total = head.msg.payload.len();
            let len = head.remaining().min(max_payload);
            let begin = head.offset == 0;
            let end = head.offset + len == total;
            let payload = if end {
                // The last fragment takes the message's own reference (the
                // message leaves the queue below) instead of a new one.
                let mut rest = std::mem::take(&mut head.msg.payload);
                rest.advance(head.offset);
                rest
            } else {
                head.msg.payload.slice(head.offset..head.offset + len)
            };
            let fsn = if interleaving {
                Fsn(head.next_fsn)
            } else {
                Fsn(0)
            };
            head.offset += len;
            head.next_fsn = head.next_fsn.wrapping_add(1);
            let produced = Produced {
                chunk: UserDataChunk {
                    stream: head.msg.stream,
                    ssn,
                    mid,
                    fsn,
                    ppid: head.msg.ppid,
                    flags: DataFlags::new(begin, end, head.msg.unordered),
                    payload,
                },
                expires_at: head.expires_at,
                max_retransmissions: head.msg.max_retransmissions,
                extension_mark: head.msg.extension_mark,
                message: MessageKey {
                    stream: head.msg.stream,
                    unordered: head.msg.unordered,
                    ssn,
                    mid,
                    seq: head.seq,
                    ppid: head.msg.ppid,
                },
            };
            self.buffered -= len;
            if end {
                st.queue.pop_front();
                if st.queue.is_empty() {
                    self.active.remove(&sid);
                }
                self.current = None;
                self.rr_next = u32::from(sid) + 1;
            } else if interleaving {
                self.rr_next = u32::from(sid) + 1;
            } else {
                self.current = Some(sid);
            }
            return Some(produced);
        }
    }

    /// Unsent bytes of the message the scheduler serves next (the rest of
    /// it, if it was started), and the length of the message queued behind
    /// it on the same stream, if any: what the association sizes the next
    /// packet by.
    pub fn next_message_remaining(&self, interleaving: bool) -> Option<(usize, Option<usize>)> {
        let sid = self.pick_stream(interleaving)?;
        let q = &self.streams.get(&sid)?.queue;
        let head = q.front()?.remaining();
        Some((head, q.get(1).map(|p| p.msg.payload.len())))
    }

    /// Bytes of user data not yet produced (including expired messages not
    /// yet handed out by [`SendQueue::expire`]).
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Messages queued, partly produced and expired-but-not-handed-out ones
    /// included.
    pub fn message_count(&self) -> usize {
        self.streams
            .values()
            .map(|st| st.queue.len())
            .sum::<usize>()
            + self.expired.len()
    }

    /// Whether a message with extension mark `mark` still has bytes
    /// waiting for their first transmission (a walk of every stream's
    /// queue).
    pub fn has_mark(&self, mark: u32) -> bool {
        self.streams
            .values()
            .any(|st| st.queue.iter().any(|p| p.msg.extension_mark == mark))
    }

    /// Whether no message is queued (expired ones included).
    pub fn is_empty(&self) -> bool {
        self.active.is_empty() && self.expired.is_empty()
    }

    /// Bytes [`SendQueue::enqueue`] accepts now.
    pub fn available(&self) -> usize {
        self.cfg.buffer_limit.saturating_sub(self.buffered)
    }

    /// PR-SCTP: the retransmission queue abandoned `key` (RFC 3758 §3.5
    /// A3: "all other TSN's within that fragmented message MUST be
    /// abandoned at the same time"); drops its unsent rest. Returns
    /// whether something was dropped. The association must call this for
    /// every abandoned message before it produces again, so that no
    /// fragment of an abandoned message is sent after the FORWARD-TSN.
    pub fn abandon_message(&mut self, key: &MessageKey) -> bool {
        let sid = key.stream.0;
        let Some(st) = self.streams.get_mut(&sid) else {
            return false;
        };
        let Some(head) = st.queue.front() else {
            return false;
        };
        // Only the head of a stream can have started.
        let matches = head.seq == key.seq
            && head.started == Some((key.ssn, key.mid))
            && head.msg.unordered == key.unordered;
        if !matches {
            return false;
        }
        if let Some(p) = st.queue.pop_front() {
            self.buffered -= p.remaining();
        }
        if st.queue.is_empty() {
            self.active.remove(&sid);
        }
        if self.current == Some(sid) {
            self.current = None;
            self.rr_next = u32::from(sid) + 1;
        }
        true
    }

    /// Drops the messages whose lifetime ended before their first fragment
    /// was sent, and returns them (as enqueued) so the association can
    /// report them as abandoned. They consumed no SSN/MID and no TSN, so
    /// the peer needs no FORWARD-TSN for them.
    pub fn expire(&mut self, now: Instant) -> Vec<OutgoingMessage> {
        let mut out: Vec<OutgoingMessage> = Vec::new();
        for (_, msg) in self.expired.drain(..) {
            self.buffered -= msg.payload.len();
            out.push(msg);
        }
        while let Some((&(at, seq), &sid)) = self.expiries.first_key_value() {
            if at > now {
                break;
            }
            self.expiries.remove(&(at, seq));
            let Some(st) = self.streams.get_mut(&sid) else {
                continue;
            };
            if let Some(pos) = st
                .queue
                .iter()
                .position(|p| p.seq == seq && p.started.is_none())
                && let Some(p) = st.queue.remove(pos)
            {
                self.buffered -= p.remaining();
                out.push(p.msg);
            }
            if st.queue.is_empty() {
                self.active.remove(&sid);
            }
        }
        out
    }

    /// When [`SendQueue::expire`] next has something to do.
    pub fn next_expiry(&self) -> Option<Instant> {
        let queued = self.expiries.first_key_value().map(|(&(at, _), _)| at);
        let dropped = self.expired.iter().map(|(at, _)| *at).min();
        match (queued, dropped) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(stream: u16, len: usize) -> OutgoingMessage {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        OutgoingMessage::new(StreamId(stream), Ppid(51), Bytes::from(payload))
    }

    #[allow(clippy::disallowed_methods)] // tests need some Instant
    fn t0() -> Instant {
        Instant::now()
    }

    fn q(streams: u16) -> SendQueue {
        SendQueue::new(streams, SendQueueConfig::default())
    }

    fn drain(q: &mut SendQueue, now: Instant, max: usize, il: bool) -> Vec<Produced> {
        std::iter::from_fn(|| q.produce(now, max, il)).collect()
    }

    #[test]
    fn fragments_to_max_payload_with_begin_and_end_flags() {
        let now = t0();
        let mut q = q(4);
        let m = msg(1, 2500);
        let whole = m.payload.clone();
        q.enqueue(now, m).unwrap();
        assert_eq!(q.buffered_bytes(), 2500);
        let frags = drain(&mut q, now, 1000, false);
        let lens: Vec<_> = frags.iter().map(|p| p.chunk.payload.len()).collect();
        assert_eq!(lens, [1000, 1000, 500]);
        let flags: Vec<_> = frags
            .iter()
            .map(|p| (p.chunk.flags.is_begin(), p.chunk.flags.is_end()))
            .collect();
        assert_eq!(flags, [(true, false), (false, false), (false, true)]);
        let joined: Vec<u8> = frags
            .iter()
            .flat_map(|p| p.chunk.payload.to_vec())
            .collect();
        assert_eq!(joined, whole.to_vec());
        // Zero-copy: the fragment points into the message's buffer.
        assert_eq!(frags[1].chunk.payload.as_ptr(), whole[1000..].as_ptr());
        assert!(frags.iter().all(|p| p.chunk.ppid == Ppid(51)));
        assert_eq!(q.buffered_bytes(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn honours_a_smaller_max_payload_and_never_produces_empty_fragments() {
        let now = t0();
        let mut q = q(1);
        q.enqueue(now, msg(0, 10)).unwrap();
        assert!(q.produce(now, 0, false).is_none());
        let a = q.produce(now, 3, false).unwrap();
        let b = q.produce(now, 100, false).unwrap();
        assert_eq!((a.chunk.payload.len(), b.chunk.payload.len()), (3, 7));
        assert!(b.chunk.flags.is_end());
        assert!(q.produce(now, 100, false).is_none());
    }

    #[test]
    fn assigns_ssns_per_stream_and_wraps() {
        let now = t0();
        let mut q = q(2);
        q.streams.entry(0).or_default().next_ssn = Ssn(65535);
        for _ in 0..3 {
            q.enqueue(now, msg(0, 5)).unwrap();
        }
        q.enqueue(now, msg(1, 5)).unwrap();
        let mut unordered = msg(0, 5);
        unordered.unordered = true;
        q.enqueue(now, unordered).unwrap();
        let ssns: Vec<_> = drain(&mut q, now, 100, false)
            .iter()
            .map(|p| {
                (
                    p.chunk.stream.0,
                    p.chunk.ssn.0,
                    p.chunk.mid.0,
                    p.chunk.flags.is_unordered(),
                )
            })
            .collect();
        // Round robin per message: 0, 1, 0, 0, 0(unordered).
        assert_eq!(
            ssns,
            [
                (0, 65535, 0, false),
                (1, 0, 0, false),
                (0, 0, 0, false),
                (0, 1, 0, false),
                (0, 0, 0, true),
            ]
        );
    }

    #[test]
    fn assigns_separate_ordered_and_unordered_mids_and_fsns_with_idata() {
        let now = t0();
        let mut q = q(1);
        q.streams.entry(0).or_default().next_ordered_mid = Mid(u32::MAX);
        let mut u = msg(0, 3);
        u.unordered = true;
        q.enqueue(now, msg(0, 3)).unwrap();
        q.enqueue(now, u.clone()).unwrap();
        q.enqueue(now, msg(0, 3)).unwrap();
        q.enqueue(now, u).unwrap();
        let got: Vec<_> = drain(&mut q, now, 2, true)
            .iter()
            .map(|p| {
                (
                    p.chunk.flags.is_unordered(),
                    p.chunk.mid.0,
                    p.chunk.fsn.0,
                    p.chunk.ssn.0,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (false, u32::MAX, 0, 0),
                (false, u32::MAX, 1, 0),
                (true, 0, 0, 0),
                (true, 0, 1, 0),
                (false, 0, 0, 0),
                (false, 0, 1, 0),
                (true, 1, 0, 0),
                (true, 1, 1, 0),
            ]
        );
    }

    #[test]
    fn interleaves_round_robin_per_fragment_across_three_streams_with_idata() {
        let now = t0();
        let mut q = SendQueue::new(
            4,
            SendQueueConfig {
                buffer_limit: 2 << 20,
                ..SendQueueConfig::default()
            },
        );
        q.enqueue(now, msg(1, 1 << 20)).unwrap();
        q.enqueue(now, msg(2, 100)).unwrap();
        q.enqueue(now, msg(3, 2000)).unwrap();
        let order: Vec<_> = (0..6)
            .map(|_| {
                let p = q.produce(now, 1200, true).unwrap();
                (p.chunk.stream.0, p.chunk.fsn.0)
            })
            .collect();
        // The 100 B message on stream 2 goes before the 2nd fragment of
        // the 1 MiB message on stream 1 that was enqueued first.
        assert_eq!(order, [(1, 0), (2, 0), (3, 0), (1, 1), (3, 1), (1, 2)]);
    }

    #[test]
    fn does_not_interleave_messages_without_idata() {
        let now = t0();
        let mut q = q(4);
        q.enqueue(now, msg(1, 3000)).unwrap();
        q.enqueue(now, msg(2, 100)).unwrap();
        q.enqueue(now, msg(1, 10)).unwrap();
        let order: Vec<_> = drain(&mut q, now, 1200, false)
            .iter()
            .map(|p| (p.chunk.stream.0, p.chunk.ssn.0, p.chunk.payload.len()))
            .collect();
        // All of stream 1's first message, then the turn passes to 2.
        assert_eq!(
            order,
            [
                (1, 0, 1200),
                (1, 0, 1200),
                (1, 0, 600),
                (2, 0, 100),
                (1, 1, 10)
            ]
        );
    }

    #[test]
    fn enforces_buffer_limit_too_large_invalid_stream_and_empty() {
        let now = t0();
        let mut q = SendQueue::new(
            2,
            SendQueueConfig {
                buffer_limit: 1000,
                ..SendQueueConfig::default()
            },
        );
        assert_eq!(
            q.enqueue(now, msg(2, 1)),
            Err(SendError::InvalidStream {
                stream: StreamId(2),
                outbound: 2
            })
        );
        assert_eq!(q.enqueue(now, msg(0, 0)), Err(SendError::EmptyMessage));
        assert_eq!(
            q.enqueue(now, msg(0, 1001)),
            Err(SendError::TooLarge {
                len: 1001,
                limit: 1000
            })
        );
        q.enqueue(now, msg(0, 700)).unwrap();
        assert_eq!(q.available(), 300);
        assert_eq!(
            q.enqueue(now, msg(1, 301)),
            Err(SendError::BufferFull {
                needed: 301,
                available: 300
            })
        );
        // Producing frees room.
        q.produce(now, 500, false).unwrap();
        assert_eq!(q.available(), 800);
        q.enqueue(now, msg(1, 301)).unwrap();
        assert!(SendError::EmptyMessage.to_string().contains("empty"));
    }

    #[test]
    fn drops_messages_that_expire_before_their_first_fragment() {
        let t0 = t0();
        let mut q = q(2);
        let mut short = msg(0, 50);
        short.lifetime = Some(Duration::from_millis(100));
        q.enqueue(t0, short).unwrap();
        q.enqueue(t0, msg(0, 20)).unwrap();
        assert_eq!(q.next_expiry(), Some(t0 + Duration::from_millis(100)));
        assert!(q.expire(t0 + Duration::from_millis(99)).is_empty());
        let gone = q.expire(t0 + Duration::from_millis(100));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].payload.len(), 50);
        assert_eq!(q.next_expiry(), None);
        assert_eq!(q.buffered_bytes(), 20);
        // The expired message consumed no SSN.
        let p = q.produce(t0, 100, false).unwrap();
        assert_eq!(p.chunk.ssn, Ssn(0));
    }

    #[test]
    fn produce_skips_expired_messages_and_expire_reports_them() {
        let t0 = t0();
        let mut q = q(1);
        let mut m = msg(0, 50);
        m.lifetime = Some(Duration::from_millis(10));
        q.enqueue(t0, m).unwrap();
        q.enqueue(t0, msg(0, 5)).unwrap();
        let later = t0 + Duration::from_millis(20);
        let p = q.produce(later, 100, false).unwrap();
        assert_eq!((p.chunk.payload.len(), p.chunk.ssn), (5, Ssn(0)));
        assert_eq!(q.buffered_bytes(), 50);
        assert_eq!(q.message_count(), 1);
        assert_eq!(q.next_expiry(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(q.expire(later).len(), 1);
        assert_eq!(q.buffered_bytes(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn started_messages_are_not_expired_by_the_send_queue() {
        let t0 = t0();
        let mut q = q(1);
        let mut m = msg(0, 300);
        m.lifetime = Some(Duration::from_millis(10));
        q.enqueue(t0, m).unwrap();
        let first = q.produce(t0, 100, false).unwrap();
        assert_eq!(first.expires_at, Some(t0 + Duration::from_millis(10)));
        assert!(q.expire(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(q.buffered_bytes(), 200);
    }

    #[test]
    fn abandon_message_drops_the_unsent_rest() {
        let now = t0();
        let mut q = q(2);
        q.enqueue(now, msg(0, 300)).unwrap();
        q.enqueue(now, msg(0, 10)).unwrap();
        let first = q.produce(now, 100, false).unwrap();
        let mut wrong = first.message;
        wrong.seq += 1;
        assert!(!q.abandon_message(&wrong));
        assert!(q.abandon_message(&first.message));
        assert!(!q.abandon_message(&first.message));
        assert_eq!(q.buffered_bytes(), 10);
        let next = q.produce(now, 100, false).unwrap();
        assert!(next.chunk.flags.is_begin() && next.chunk.flags.is_end());
        assert_eq!(next.chunk.ssn, Ssn(1));
    }

    #[test]
    fn reducing_outbound_streams_returns_their_messages() {
        let now = t0();
        let mut q = q(10);
        q.enqueue(now, msg(1, 10)).unwrap();
        q.enqueue(now, msg(7, 20)).unwrap();
        q.enqueue(now, msg(9, 30)).unwrap();
        let back = q.set_outbound_streams(5);
        let streams: Vec<_> = back.iter().map(|m| m.stream.0).collect();
        assert_eq!(streams, [7, 9]);
        assert_eq!(q.buffered_bytes(), 10);
        assert_eq!(q.outbound_streams(), 5);
        assert!(matches!(
            q.enqueue(now, msg(5, 1)),
            Err(SendError::InvalidStream { .. })
        ));
        assert_eq!(drain(&mut q, now, 100, false).len(), 1);
    }
}
