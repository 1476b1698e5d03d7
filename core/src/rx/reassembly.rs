//! Reassembly of user messages and their per-association delivery
//! (RFC 9260 §6.5, §6.6, §6.9; RFC 8260 §2.1, §2.3.2; RFC 3758 §3.6).
//!
//! [`ReassemblyQueue`] takes the *new* fragments of one association (the
//! [`DataTracker`](super::DataTracker) filtered duplicates) and hands out
//! [`Delivery`] items: whole messages, pieces of oversized or
//! partially-delivered messages, and explicit refused / truncated / aborted
//! events. It is independent of the association and of the wire encoding:
//! the multicast extension reuses it for MDATA (I-DATA layout, the MTSN
//! passed as the TSN).
//!
//! # Identity of a message
//!
//! * I-DATA (`interleaved`): `(stream, U, MID)`; fragments ordered by FSN,
//!   the first (B) having FSN 0. RFC 8260 §2.1: "The sender uses two
//!   counters for each outgoing stream, one for ordered messages, one for
//!   unordered messages. All of these counters are independent and
//!   initially 0." -- so unordered MIDs are a space of their own.
//! * ordered DATA: `(stream, SSN)`; fragments ordered by TSN.
//! * unordered DATA: no identifier on the wire (RFC 9260 §3.3.1: for U=1
//!   "the receiver MUST ignore the Stream Sequence Number field"), so a
//!   message is the run of consecutive TSNs from its B fragment to its E
//!   fragment (RFC 9260 §6.9: the sender "MUST assign, in sequence, a
//!   separate TSN to each of the DATA chunks in the series"). Fragments whose
//!   B fragment has not arrived wait as orphans; an E fragment seen before an
//!   earlier one is provisional and moves back when the earlier E arrives.
//!
//! Positions inside a message are unwrapped TSNs (DATA) or unwrapped FSNs
//! (I-DATA, unwrapped relative to the next fragment to deliver, since RFC
//! 8260 lets the FSN "wrap completely multiple times").
//!
//! # Delivery rules
//!
//! * A message is *at its turn* when it is unordered (RFC 9260 §6.6: "it
//!   MUST bypass the ordering mechanism and immediately deliver the data to
//!   the upper layer (after reassembly if the user data is fragmented by the
//!   data sender)"), or ordered with the next expected SSN / MID of its
//!   stream. Every decision below is taken only at a message's turn, so
//!   ordered deliveries (including refused / truncated / aborted events)
//!   appear in SSN / MID order and a message never waits for another stream.
//! * Whole messages of one fragment are delivered zero-copy (the fragment's
//!   `Bytes`); longer ones are concatenated once, when delivered.
//! * Oversized messages follow [`OversizePolicy`]. Every [`Delivery`] names
//!   its stream and SSN / MID, and at most one message per stream is being
//!   delivered in pieces at any time, so pieces of two messages of one stream
//!   never interleave and nothing is ever glued.
//!
//! # In-order fast path
//!
//! The common case -- while no message is held, the next message of an
//! ordered stream arrives fragment by fragment in order (DATA: consecutive
//! TSNs, RFC 9260 §6.9; I-DATA: FSN 0, 1, ..., RFC 8260 §2.1) -- skips the
//! general structure: its fragments go onto one append-only list (reused
//! from message to message), the message goes out when its E fragment
//! arrives, and a whole message at its turn goes straight out. It takes
//! only what the general path would decide the same way: a message below
//! every oversize decision (`partial_delivery_point`, `max_message_size`).
//! Anything else -- a fragment out of order, another message, a timer, a
//! FORWARD-TSN, buffer pressure -- first moves the message into the
//! general structure, exactly as the general path would have built it, and
//! carries on there.
//!
//! # Pieces (partial delivery)
//!
//! With [`OversizePolicy::Pieces`] a message at its turn starts being
//! delivered in pieces (each at most `max_message_size`, the last flagged
//! `end_of_record`) when
//!
//! 1. it is complete and larger than `max_message_size`; or
//! 2. its contiguous prefix (from the B fragment) reaches
//!    `min(partial_delivery_point, max_message_size)`: it is oversized, or
//!    big enough that holding it whole would choke the window -- RFC 9260
//!    §6.9: "If the data receiver runs out of buffer space while still
//!    waiting for more fragments to complete the reassembly of the message,
//!    it SHOULD dispatch part of its inbound message through a partial
//!    delivery API [...], freeing some of its receive buffer space so that
//!    the rest of the message can be received."; or
//! 3. the buffer is nearly full (less than two of the largest fragments seen
//!    would still fit), nothing waits to be polled, and it has the largest
//!    contiguous prefix of the incomplete messages at their turn. Without
//!    this, I-DATA messages of several streams, each below the partial
//!    delivery point, could fill the window together and wait forever for
//!    fragments the closed window keeps out.
//!
//! Once in pieces, each newly contiguous run of fragments is delivered as it
//! arrives, so a message larger than the receive window completes.
//!
//! # Bounds
//!
//! Payload bytes held are bounded by the association's window
//! ([`ReassemblyQueue::buffered_bytes`] feeds its `a_rwnd`); empty
//! fragments are dropped (RFC 9260 §6.2 requires an ABORT for them, the
//! association's job). Refused / truncated / aborted / abandoned unordered
//! messages leave a payload-free tombstone that swallows their late
//! fragments; tombstones expire after `incomplete_message_timeout`, when all
//! fragments have been seen, or oldest-first beyond `max_tombstones`.
//! Late fragments of ordered messages are recognised by their SSN / MID
//! being behind the stream's next expected one; late fragments of unordered
//! ones, once their tombstone is gone, by their TSN (see
//! [`ReassemblyQueue::set_cumulative_tsn`]), so that a fragment of a message
//! already released never starts a message that cannot complete.
//!
//! # Completion reserve
//!
//! With I-DATA a sender interleaves the fragments of messages of several
//! streams (RFC 8260 §1, the point of interleaving), so the window can fill
//! with the beginnings of messages of which none is complete. With
//! [`OversizePolicy::Refuse`] or [`OversizePolicy::Truncate`] a message is
//! only ever delivered whole, so nothing then frees the buffer: the window
//! stays closed, the sender may send only the chunk next in TSN order (a
//! zero window probe, RFC 9260 §6.1 A), and refusing it wedges the
//! association until the incomplete-message timeout aborts the messages --
//! on a perfect link, with the sender alive. No rule inside the buffer can
//! avoid that: the chunks arrive in TSN order, every one of them already
//! acknowledged cumulatively (RFC 9260 §6.2 forbids reneging on those), so
//! the receiver must hold all of them until one message completes. Hence
//! [`ReassemblyQueue::completion_reserve`]: when the buffer is full of
//! incomplete messages and nothing waits for the application, the chunk
//! that is next in TSN order may use up to `max_message_size` bytes beyond
//! `buffer_limit`. It is never advertised in `a_rwnd` and never used by
//! out-of-order data, so no data the window promised is ever dropped, and
//! the association holds at most `buffer_limit + max_message_size` bytes.
//! Since `buffer_limit >= max_message_size`, interleaved messages whose
//! sizes add up to at most that sum, any two among them, always complete;
//! [`OversizePolicy::Pieces`] needs no reserve, it delivers a prefix to make
//! room (RFC 9260 §6.9).
//!
//! # Plausible skips
//!
//! A FORWARD-TSN / I-FORWARD-TSN moves an ordered stream's next expected
//! SSN / MID past the messages the sender abandoned (RFC 3758 §3.6, RFC
//! 8260 §2.3.2). Every one of them had a TSN (SSNs / MIDs are assigned with
//! the first fragment's TSN), and every TSN at or below the cumulative TSN
//! arrived, so each skipped message the receiver has nothing of must own a
//! TSN the new cumulative TSN covers that never arrived. A skip beyond that
//! count plus the messages held cannot come from a peer that shares the
//! receiver's view (a corrupted entry, say): applying it would drop every
//! later message of the stream as "passed", silently, so it is refused
//! ([`ImplausibleSkip`]) and the association ends with a Protocol Violation.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tracing::{debug, trace};

use crate::serial::{Fsn, Mid, Ppid, Ssn, StreamId, Tsn, Unwrapper};
use crate::user_data::UserDataChunk;

/// What to do with a message larger than `max_message_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OversizePolicy {
    /// Discard it (fragments held and still to come) and deliver one
    /// [`DeliveryKind::Refused`] event in its place.
    Refuse,
    /// Deliver its first `max_message_size` bytes as
    /// [`DeliveryKind::Truncated`] and discard the rest.
    Truncate,
    /// Deliver it in [`DeliveryKind::Piece`]s of at most `max_message_size`
    /// bytes, `end_of_record` on the last. The default: it is the only
    /// policy that loses no data and lets a message larger than the receive
    /// buffer complete (partial delivery needs it too).
    #[default]
    Pieces,
}

/// Configuration of a [`ReassemblyQueue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// Largest message delivered whole. Default 256 KiB.
    pub max_message_size: usize,
    /// What happens to larger messages. Default [`OversizePolicy::Pieces`].
    pub oversize_policy: OversizePolicy,
    /// The association's receive buffer: user-data bytes held (incomplete
    /// plus complete-undelivered). The association advertises
    /// `buffer_limit - buffered_bytes()` as `a_rwnd`. Default 1 MiB.
    pub buffer_limit: usize,
    /// ([`OversizePolicy::Pieces`] only) an incomplete message at its turn
    /// whose contiguous prefix reaches this many bytes starts being delivered
    /// in pieces. Default `buffer_limit / 2`.
    pub partial_delivery_point: usize,
    /// A message at its turn that stays incomplete this long without a new
    /// fragment arriving (its sender stalled, not merely slow) is released
    /// as [`DeliveryKind::Aborted`]. Time during which messages the
    /// application has not read leave no room for another fragment (it
    /// stopped reading) does not count. Default 30 s; `None` never times out.
    pub incomplete_message_timeout: Option<Duration>,
    /// Most tombstones kept for discarded unordered messages (and skip
    /// markers of abandoned ordered ones). Default 1024.
    pub max_tombstones: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        let buffer_limit = 1 << 20;
        Self {
            max_message_size: 256 * 1024,
            oversize_policy: OversizePolicy::Pieces,
            buffer_limit,
            partial_delivery_point: buffer_limit / 2,
            incomplete_message_timeout: Some(Duration::from_secs(30)),
            max_tombstones: 1024,
        }
    }
}

/// A [`ReassemblyConfig`] that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReassemblyConfigError {
    /// `max_message_size` is 0.
    ZeroMaxMessageSize,
    /// With [`OversizePolicy::Refuse`] or [`OversizePolicy::Truncate`] a
    /// message must fit the buffer to be judged: one larger than
    /// `buffer_limit` could never complete, and the association would stall.
    BufferBelowMaxMessageSize {
        /// The configured buffer.
        buffer_limit: usize,
        /// The configured maximum message size.
        max_message_size: usize,
    },
    /// With [`OversizePolicy::Pieces`], `partial_delivery_point` must be in
    /// `1..=buffer_limit`, or a message larger than the buffer never starts.
    PartialDeliveryPointOutOfRange {
        /// The configured point.
        partial_delivery_point: usize,
        /// The configured buffer.
        buffer_limit: usize,
    },
}

impl fmt::Display for ReassemblyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroMaxMessageSize => write!(f, "max_message_size must be at least 1"),
            Self::BufferBelowMaxMessageSize {
                buffer_limit,
                max_message_size,
            } => write!(
                f,
                "buffer_limit {buffer_limit} is below max_message_size {max_message_size}: \
                 refuse/truncate need a whole maximum-size message to fit"
            ),
            Self::PartialDeliveryPointOutOfRange {
                partial_delivery_point,
                buffer_limit,
            } => write!(
                f,
                "partial_delivery_point {partial_delivery_point} must be in 1..={buffer_limit}"
            ),
        }
    }
}

impl std::error::Error for ReassemblyConfigError {}

impl ReassemblyConfig {
    /// Checks that the configuration can work: the association should
    /// refuse to start with one that fails.
    pub fn validate(&self) -> Result<(), ReassemblyConfigError> {
        if self.max_message_size == 0 {
            return Err(ReassemblyConfigError::ZeroMaxMessageSize);
        }
        match self.oversize_policy {
            OversizePolicy::Refuse | OversizePolicy::Truncate => {
                if self.buffer_limit < self.max_message_size {
                    return Err(ReassemblyConfigError::BufferBelowMaxMessageSize {
                        buffer_limit: self.buffer_limit,
                        max_message_size: self.max_message_size,
                    });
                }
            }
            OversizePolicy::Pieces => {
                if self.partial_delivery_point == 0
                    || self.partial_delivery_point > self.buffer_limit
                {
                    return Err(ReassemblyConfigError::PartialDeliveryPointOutOfRange {
                        partial_delivery_point: self.partial_delivery_point,
                        buffer_limit: self.buffer_limit,
                    });
                }
            }
        }
        Ok(())
    }
}

/// A FORWARD-TSN / I-FORWARD-TSN entry that skips more messages of an
/// ordered stream than the peer can have abandoned (see "Plausible skips" in
/// the module documentation). Nothing of the chunk was applied; the
/// association should end with a Protocol Violation (RFC 9260 §3.3.10.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImplausibleSkip {
    /// The stream of the (first) entry found implausible.
    pub stream: StreamId,
    /// The SSN (DATA) or MID (I-DATA) the entry skips to.
    pub to: u32,
    /// The stream's next expected SSN / MID.
    pub next: u32,
    /// Messages the whole chunk skips that the receiver has nothing of.
    pub unexplained: u64,
    /// TSNs up to the new cumulative TSN that never arrived: at most that
    /// many such messages can have been abandoned.
    pub unreceived: u64,
}

impl fmt::Display for ImplausibleSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(I-)FORWARD-TSN skips stream {} from {} to {}: {} messages unaccounted for, \
             only {} TSNs missing up to the new cumulative TSN",
            self.stream.0, self.next, self.to, self.unexplained, self.unreceived
        )
    }
}

impl std::error::Error for ImplausibleSkip {}

/// Why a partly received message was released unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AbortReason {
    /// The association ended ([`ReassemblyQueue::abort_all`]).
    AssociationEnded,
    /// No fragment of it arrived for `incomplete_message_timeout`.
    Timeout,
    /// The sender abandoned it (FORWARD-TSN / I-FORWARD-TSN) after pieces of
    /// it had been delivered.
    Abandoned,
}

/// What a [`Delivery`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryKind {
    /// A whole message.
    Message,
    /// Part of a message; pieces of one message come in order, `first` on
    /// the first and `end_of_record` on the last.
    Piece {
        /// The first piece of the message.
        first: bool,
        /// The last piece: the message is complete.
        end_of_record: bool,
    },
    /// The first `max_message_size` bytes of a larger message; the rest was
    /// discarded. `original_len` is known when the whole message had arrived.
    Truncated {
        /// The message's full length, if known.
        original_len: Option<usize>,
    },
    /// The message exceeded `max_message_size` and was discarded; the
    /// payload is empty. `len_seen` bytes of it had arrived.
    Refused {
        /// Bytes of the message received when it was refused.
        len_seen: usize,
    },
    /// A partly received message released unfinished. The payload is empty:
    /// only contiguous data is ever delivered, as pieces; `delivered` bytes
    /// of it went out that way before.
    Aborted {
        /// Bytes of the message delivered before (as pieces).
        delivered: usize,
        /// Why.
        reason: AbortReason,
    },
}

/// One item for the application: a message, a piece of one, or an event
/// about one, always naming the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Stream.
    pub stream: StreamId,
    /// Payload Protocol Identifier (from the first fragment).
    pub ppid: Ppid,
    /// Sent unordered.
    pub unordered: bool,
    /// What this is.
    pub kind: DeliveryKind,
    /// SSN of a DATA message (as sent; meaningless when unordered), 0 with
    /// I-DATA.
    pub ssn: Ssn,
    /// MID of an I-DATA message, 0 with DATA.
    pub mid: Mid,
    /// The bytes (empty for refused and aborted messages).
    pub payload: Bytes,
    /// Who delivered it: the association's own DATA / I-DATA, or a protocol
    /// extension through [`Context::deliver`](crate::extension::Context::deliver).
    pub origin: Origin,
}

/// Where a [`Delivery`] comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The association's own DATA or I-DATA.
    #[default]
    Association,
    /// A protocol extension (for the multicast extension: a group message).
    Extension,
}

/// A message's key: identity and, within an ordered stream, its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// Ordered DATA (`seq` = SSN) or I-DATA (`seq` = MID).
    Ordered { stream: u16, seq: u32 },
    /// Unordered I-DATA.
    UnorderedMid { stream: u16, mid: u32 },
    /// Unordered DATA, by the unwrapped TSN of its B fragment.
    UnorderedTsn { stream: u16, begin: u64 },
}

impl Key {
    fn stream(self) -> u16 {
        match self {
            Self::Ordered { stream, .. }
            | Self::UnorderedMid { stream, .. }
            | Self::UnorderedTsn { stream, .. } => stream,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Msg(Key),
    Orphan { stream: u16, pos: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting fragments.
    Assembling,
    /// Being delivered in pieces.
    Pieces,
    /// Discarded: no payload, swallows late fragments (unordered), or marks
    /// an abandoned number to skip (ordered).
    Sink,
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    stream: StreamId,
    ppid: Ppid,
    unordered: bool,
    ssn: Ssn,
    mid: Mid,
}

impl Meta {
    fn of(c: &UserDataChunk) -> Self {
        Self {
            stream: c.stream,
            ppid: c.ppid,
            unordered: c.flags.is_unordered(),
            ssn: c.ssn,
            mid: c.mid,
        }
    }

    fn delivery(&self, kind: DeliveryKind, payload: Bytes) -> Delivery {
        Delivery {
            stream: self.stream,
            ppid: self.ppid,
            unordered: self.unordered,
            kind,
            ssn: self.ssn,
            mid: self.mid,
            payload,
            origin: Origin::Association,
        }
    }
}

#[derive(Debug)]
struct Frag {
    data: Bytes,
    end: bool,
}

/// A message being assembled (or delivered in pieces, or discarded).
#[derive(Debug)]
struct Message {
    meta: Meta,
    /// When a fragment of it last arrived: the incomplete-message timeout
    /// counts from here, so a message that arrives slowly (a lossy path, a
    /// closed window) is not mistaken for one whose sender stalled.
    last_progress: Instant,
    /// When its first fragment arrived.
    started: Instant,
    /// Fragments not yet delivered, by position.
    frags: BTreeMap<u64, Frag>,
    /// Position of the B fragment, once known (always 0 with I-DATA).
    begin: Option<u64>,
    /// Position of the E fragment, once known.
    end: Option<u64>,
    /// First position not yet delivered (meaningful once `begin` is known).
    next: u64,
    /// First missing position at or after `next`.
    contig_to: u64,
    /// Bytes in `frags` at positions `next..contig_to`.
    contig_bytes: usize,
    /// Bytes in `frags`.
    held: usize,
    /// Bytes ever received for this message.
    total_seen: usize,
    /// Fragments ever received for this message.
    frag_count: u64,
    /// Bytes delivered as pieces.
    delivered: usize,
    state: State,
    /// The armed timer's instant (incomplete timeout, or tombstone expiry).
    timer: Option<Instant>,
}

impl Message {
    fn new(now: Instant, c: &UserDataChunk, begin: Option<u64>) -> Self {
        let start = begin.unwrap_or(0);
        Self {
            meta: Meta::of(c),
            last_progress: now,
            started: now,
            frags: BTreeMap::new(),
            begin,
            end: None,
            next: start,
            contig_to: start,
            contig_bytes: 0,
            held: 0,
            total_seen: 0,
            frag_count: 0,
            delivered: 0,
            state: State::Assembling,
            timer: None,
        }
    }

    fn is_complete(&self) -> bool {
        self.begin.is_some() && self.end.is_some_and(|e| self.contig_to > e)
    }

    /// All fragments of a discarded message have been seen.
    fn sink_done(&self) -> bool {
        match (self.begin, self.end) {
            (Some(b), Some(e)) => e >= b && self.frag_count > e - b,
            _ => false,
        }
    }

    fn extend_contig(&mut self) {
        if self.begin.is_none() {
            return;
        }
        while let Some(f) = self.frags.get(&self.contig_to) {
            if self.end.is_some_and(|e| self.contig_to > e) {
                break;
            }
            self.contig_bytes += f.data.len();
            self.contig_to += 1;
        }
    }

    /// Offers a fragment at `pos`; true if it was taken. With
    /// `speculative_end` (unordered DATA) an E flag can move the end down and
    /// push fragments above it into `evicted`; otherwise conflicting
    /// fragments are dropped.
    #[allow(clippy::too_many_arguments)]
    fn offer(
        &mut self,
        pos: u64,
        begin_flag: bool,
        end_flag: bool,
        ppid: Ppid,
        data: Bytes,
        speculative_end: bool,
        evicted: &mut Vec<(u64, Frag)>,
    ) -> bool {
        let len = data.len();
        if self.state == State::Sink {
            self.frag_count += 1;
            self.total_seen = self.total_seen.saturating_add(len);
            if begin_flag && self.begin.is_none() {
                self.begin = Some(pos);
            }
            if end_flag && self.end.is_none_or(|e| speculative_end && pos < e) {
                self.end = Some(pos);
            }
            return true;
        }
        if self.begin.is_some() && pos < self.next {
            return false;
        }
        if self.frags.contains_key(&pos) {
            return false;
        }
        match self.begin {
            Some(b) if begin_flag && b != pos => return false,
            Some(b) if !begin_flag && b == pos => return false,
            _ => {}
        }
        if let Some(e) = self.end
            && pos > e
        {
            return false;
        }
        if end_flag {
            if self.end.is_some_and(|e| !(speculative_end && pos < e)) {
                return false;
            }
            // Everything above the end is not this message's.
            let tail = self.frags.split_off(&(pos + 1));
            for (p, f) in tail {
                self.held -= f.data.len();
                if speculative_end {
                    evicted.push((p, f));
                }
            }
            self.end = Some(pos);
        }
        if begin_flag {
            if self.begin.is_none() {
                // Fragments below the B fragment cannot be this message's.
                let above = self.frags.split_off(&pos);
                let below = std::mem::replace(&mut self.frags, above);
                for f in below.values() {
                    self.held -= f.data.len();
                }
                self.begin = Some(pos);
                self.next = pos;
                self.contig_to = pos;
                self.contig_bytes = 0;
            }
            self.meta.ppid = ppid;
        }
        self.held += len;
        self.total_seen = self.total_seen.saturating_add(len);
        self.frag_count += 1;
        self.frags.insert(
            pos,
            Frag {
                data,
                end: end_flag,
            },
        );
        self.extend_contig();
        true
    }
}

/// The message of the in-order fast path (see the module documentation);
/// its fragments are in [`ReassemblyQueue::in_order_parts`].
#[derive(Debug)]
struct InOrder {
    stream: u16,
    /// SSN (DATA) or MID (I-DATA).
    seq: u32,
    meta: Meta,
    /// Position of the B fragment (its TSN unwrapped; 0 with I-DATA).
    begin: u64,
    /// Position the next fragment must have.
    next_pos: u64,
    /// Bytes held.
    len: usize,
    started: Instant,
    last_progress: Instant,
    /// The incomplete-message timer, as the general path arms it.
    timer: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct OrderedStream {
    /// Next SSN / MID to deliver.
    next: u32,
    /// FORWARD-TSN skipped everything before this number: missing ones are
    /// not waited for.
    skip_to: Option<u32>,
}

#[derive(Debug)]
struct Orphan {
    frag: Frag,
    expires: Option<Instant>,
}

/// Unordered DATA of one stream: messages by B position, and fragments whose
/// B fragment has not arrived.
#[derive(Debug, Default)]
struct UnorderedData {
    begins: BTreeSet<u64>,
    orphans: BTreeMap<u64, Orphan>,
}

/// The last progress of a held, incomplete message.
fn m_progress(msgs: &BTreeMap<Key, Message>, key: Key) -> Option<Instant> {
    msgs.get(&key)
        .filter(|m| !m.is_complete())
        .map(|m| m.last_progress)
}

/// Serial comparison of SSNs (16 bits, DATA) or MIDs (32 bits, I-DATA).
fn seq_before(interleaved: bool, a: u32, b: u32) -> bool {
    if interleaved {
        Mid(a).is_before(Mid(b))
    } else {
        Ssn(a as u16).is_before(Ssn(b as u16))
    }
}

/// Whether `to` lies 1 ..= half the space ahead of `from` (a skip target
/// set from `from` may be exactly half the space ahead).
fn seq_ahead(interleaved: bool, from: u32, to: u32) -> bool {
    let half = if interleaved {
        Mid::HALF
    } else {
        u32::from(Ssn::HALF)
    };
    let d = seq_distance(interleaved, from, to);
    d != 0 && d <= half
}

fn seq_next(interleaved: bool, a: u32) -> u32 {
    if interleaved {
        a.wrapping_add(1)
    } else {
        u32::from((a as u16).wrapping_add(1))
    }
}

fn seq_distance(interleaved: bool, from: u32, to: u32) -> u32 {
    if interleaved {
        to.wrapping_sub(from)
    } else {
        u32::from((to as u16).wrapping_sub(from as u16))
    }
}

/// The first `limit` bytes of `parts` as one `Bytes`, zero-copy when the
/// first part suffices.
fn concat(parts: Vec<Bytes>, limit: usize) -> Bytes {
    concat_slice(&parts, limit)
}

/// [`concat`] of borrowed parts.
fn concat_slice(parts: &[Bytes], limit: usize) -> Bytes {
    if let Some(first) = parts.first()
        && (first.len() >= limit || parts.len() == 1)
    {
        return first.slice(..limit.min(first.len()));
    }
    let mut b = BytesMut::with_capacity(limit);
    for p in parts {
        let room = limit - b.len();
        if room == 0 {
            break;
        }
        b.extend_from_slice(&p[..room.min(p.len())]);
    }
    b.freeze()
}

/// Splits `parts` into pieces of at most `max` bytes (zero-copy when a
/// piece comes from one part).
fn split_parts(parts: Vec<Bytes>, max: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut cur_len = 0;
    for mut p in parts {
        while !p.is_empty() {
            let take = p.split_to((max - cur_len).min(p.len()));
            cur_len += take.len();
            cur.push(take);
            if cur_len == max {
                out.push(concat(std::mem::take(&mut cur), cur_len));
                cur_len = 0;
            }
        }
    }
    if cur_len > 0 {
        out.push(concat(cur, cur_len));
    }
    out
}

/// Reassembles one association's fragments into [`Delivery`] items.
#[derive(Debug)]
pub struct ReassemblyQueue {
    cfg: ReassemblyConfig,
    interleaved: bool,
    tsn: Unwrapper,
    msgs: BTreeMap<Key, Message>,
    ordered: BTreeMap<u16, OrderedStream>,
    udata: BTreeMap<u16, UnorderedData>,
    /// Messages at their turn (not tombstones).
    eligible: BTreeSet<Key>,
    /// Per stream, the message being delivered in pieces.
    locks: BTreeMap<u16, Key>,
    timers: BTreeSet<(Instant, Timer)>,
    /// Tombstones, oldest first (may hold stale keys; `sink_count` is exact).
    sinks: VecDeque<Key>,
    sink_count: usize,
    /// Ordered streams whose head may have become deliverable.
    dirty: BTreeSet<u16>,
    /// Streams whose pieces lock was released.
    unlocked: BTreeSet<u16>,
    ready: VecDeque<Delivery>,
    ready_bytes: usize,
    /// Payload bytes in `msgs` and orphans.
    held_bytes: usize,
    max_frag: usize,
    now_hint: Option<Instant>,
    /// The receiver's cumulative TSN, when the association tells it
    /// ([`ReassemblyQueue::set_cumulative_tsn`]).
    cum_tsn: Option<Tsn>,
    /// When the last fragment arrived while the window was closed to the
    /// sender's next fragment (or a timeout released a message to open
    /// it): incomplete messages were held back by the window until then,
    /// not stalled by their sender.
    closed_arrival: Option<Instant>,
    /// The message on the in-order fast path, if any (never while `msgs`
    /// holds anything).
    in_order: Option<InOrder>,
    /// Its fragments, in order; kept allocated between messages.
    in_order_parts: Vec<Bytes>,
    /// Tests compare the queue with and without the fast path.
    #[cfg(test)]
    fast_path_off: bool,
}

impl ReassemblyQueue {
    /// A queue for one association; `interleaved` when I-DATA was
    /// negotiated (RFC 8260), else DATA.
    pub fn new(cfg: ReassemblyConfig, interleaved: bool) -> Self {
        Self {
            cfg,
            interleaved,
            tsn: Unwrapper::new(),
            msgs: BTreeMap::new(),
            ordered: BTreeMap::new(),
            udata: BTreeMap::new(),
            eligible: BTreeSet::new(),
            locks: BTreeMap::new(),
            timers: BTreeSet::new(),
            sinks: VecDeque::new(),
            sink_count: 0,
            dirty: BTreeSet::new(),
            unlocked: BTreeSet::new(),
            ready: VecDeque::new(),
            ready_bytes: 0,
            held_bytes: 0,
            max_frag: 0,
            now_hint: None,
            cum_tsn: None,
            closed_arrival: None,
            in_order: None,
            in_order_parts: Vec::new(),
            #[cfg(test)]
            fast_path_off: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ReassemblyConfig {
        &self.cfg
    }

    fn max(&self) -> usize {
        self.cfg.max_message_size.max(1)
    }

    /// The receiver's Cumulative TSN Ack Point (RFC 9260 §6.2): every TSN at
    /// or before `cum` arrived (or a FORWARD-TSN skipped it). The
    /// association passes it before each [`ReassemblyQueue::add`], after the
    /// data tracker observed the fragment's TSN. It lets the queue recognise
    /// a late fragment of an unordered message it has already released
    /// (refused, truncated, timed out, abandoned) after the message's
    /// tombstone is gone: the fragment's first fragment lies at or below
    /// `cum`, so it arrived, and the message is not held. Without it such a
    /// fragment would start a message that can never complete and hold
    /// buffer until it times out. A queue never told keeps that behaviour.
    pub fn set_cumulative_tsn(&mut self, cum: Tsn) {
        self.cum_tsn = Some(cum);
    }

    /// Bytes beyond `buffer_limit` that the chunk next in TSN order (the one
    /// that advances the cumulative TSN) may use now: the completion reserve
    /// (see the module documentation), available with I-DATA under
    /// [`OversizePolicy::Refuse`] or [`OversizePolicy::Truncate`] while
    /// incomplete messages are held and nothing waits to be polled, up to
    /// `max_message_size` bytes in all. Never part of the advertised
    /// window. 0 otherwise.
    pub fn completion_reserve(&self) -> usize {
        if !self.interleaved
            || self.cfg.oversize_policy == OversizePolicy::Pieces
            || !self.ready.is_empty()
            || self.held_bytes == 0
        {
            return 0;
        }
        let limit = self.cfg.buffer_limit;
        limit
            .saturating_add(self.max())
            .saturating_sub(self.held_bytes.max(limit))
    }

    /// Receive buffer a new fragment would take (what
    /// [`ReassemblyQueue::buffered_bytes`] grows by when it is added): its
    /// length, or less when [`ReassemblyQueue::add`] would discard it
    /// because its message was already delivered, released or skipped (a
    /// fragment behind its stream's next SSN / MID, swallowed by a
    /// tombstone, or late by its TSN: 0), or when it settles an oversized
    /// message at its turn ([`OversizePolicy::Refuse`]: the whole message
    /// is discarded, 0; [`OversizePolicy::Truncate`]: its first
    /// `max_message_size` bytes replace what is held of it). The association
    /// checks this against its window before accepting the chunk (RFC 9260
    /// §6.2) when the chunk's length does not fit: refusing a chunk that
    /// needs no room could wedge the association while the window is closed
    /// (it may be the chunk next in TSN order, which the sender repeats
    /// until it is acknowledged).
    pub fn room_needed(&self, tsn: Tsn, chunk: &UserDataChunk) -> usize {
        let len = chunk.payload.len();
        if self.discards(tsn, chunk) {
            return 0;
        }
        self.settles_oversized(tsn, chunk)
            .map_or(len, |r| r.min(len))
    }

    /// If `chunk` joins a message at its turn that it makes oversized under
    /// Refuse or Truncate, what the buffer then grows by at most (see
    /// [`ReassemblyQueue::room_needed`]). Only middle fragments are judged:
    /// a B or E flag can move the message's bounds and drop fragments held
    /// outside them, so that what is held no longer adds up.
    fn settles_oversized(&self, tsn: Tsn, chunk: &UserDataChunk) -> Option<usize> {
        let policy = self.cfg.oversize_policy;
        if policy == OversizePolicy::Pieces || chunk.flags.is_begin() || chunk.flags.is_end() {
            return None;
        }
        let il = self.interleaved;
        let s = chunk.stream.0;
        let key = match (il, chunk.flags.is_unordered()) {
            (true, false) => Key::Ordered {
                stream: s,
                seq: chunk.mid.0,
            },
            (false, false) => Key::Ordered {
                stream: s,
                seq: u32::from(chunk.ssn.0),
            },
            (true, true) => Key::UnorderedMid {
                stream: s,
                mid: chunk.mid.0,
            },
            (false, true) => {
                let begin = self.udata_owner(s, self.tsn.peek(tsn.0))?;
                Key::UnorderedTsn { stream: s, begin }
            }
        };
        let max = self.max();
        let len = chunk.payload.len();
        if let Some(f) = &self.in_order
            && key
                == (Key::Ordered {
                    stream: f.stream,
                    seq: f.seq,
                })
        {
            // As below, for the message on the fast path: at its turn, all
            // of it contiguous, `len` bytes held and seen.
            let pos = if il {
                u64::from(chunk.fsn.0)
            } else {
                self.tsn.peek(tsn.0)
            };
            return match policy {
                OversizePolicy::Refuse => (f.len.saturating_add(len) > max).then_some(0),
                _ => (pos == f.next_pos && f.len + len >= max).then(|| max.saturating_sub(f.len)),
            };
        }
        if !self.eligible.contains(&key) {
            return None;
        }
        let m = self.msgs.get(&key)?;
        if m.state != State::Assembling {
            return None;
        }
        match policy {
            // Refused once more than the maximum arrived (or, complete,
            // held): what is held and this fragment are more.
            OversizePolicy::Refuse => (m.held.saturating_add(len) > max).then_some(0),
            _ => {
                // Truncate: settled once the contiguous prefix reaches the
                // maximum; only a fragment that extends it can do that.
                let pos = if il {
                    let d = chunk.fsn.0.wrapping_sub(m.next as u32);
                    (d < Fsn::HALF).then(|| m.next + u64::from(d))?
                } else {
                    self.tsn.peek(tsn.0)
                };
                if m.begin.is_none() || pos != m.contig_to || m.frags.contains_key(&pos) {
                    return None;
                }
                let mut contig = m.contig_bytes + len;
                let mut p = pos;
                while contig < max && m.end.is_none_or(|e| p < e) {
                    p += 1;
                    match m.frags.get(&p) {
                        Some(f) => contig += f.data.len(),
                        None => break,
                    }
                }
                (contig >= max).then(|| max.saturating_sub(m.held))
            }
        }
    }

    /// Whether [`ReassemblyQueue::add`] would hold nothing of `chunk` (a
    /// conservative answer: `false` when unsure).
    fn discards(&self, tsn: Tsn, chunk: &UserDataChunk) -> bool {
        if chunk.payload.is_empty() {
            return true;
        }
        let il = self.interleaved;
        let s = chunk.stream.0;
        let is_sink = |key| self.msgs.get(&key).map(|m| m.state == State::Sink);
        if !chunk.flags.is_unordered() {
            let seq = if il {
                chunk.mid.0
            } else {
                u32::from(chunk.ssn.0)
            };
            let key = Key::Ordered { stream: s, seq };
            let Some(st) = self.ordered.get(&s) else {
                return false;
            };
            return match is_sink(key) {
                Some(sink) => sink || seq_before(il, seq, st.next),
                None => {
                    seq_before(il, seq, st.next)
                        || st.skip_to.is_some_and(|k| {
                            seq_ahead(il, st.next, k)
                                && seq_distance(il, st.next, seq) < seq_distance(il, st.next, k)
                        })
                }
            };
        }
        if il {
            let key = Key::UnorderedMid {
                stream: s,
                mid: chunk.mid.0,
            };
            let fsn = chunk.fsn.0;
            return match is_sink(key) {
                Some(sink) => sink,
                None => {
                    !chunk.flags.is_begin()
                        && fsn != 0
                        && fsn < Fsn::HALF
                        && self.arrived(Tsn(tsn.0.wrapping_sub(fsn)))
                }
            };
        }
        if chunk.flags.is_begin() {
            return false;
        }
        let pos = self.tsn.peek(tsn.0);
        match self.udata_owner(s, pos) {
            Some(begin) => is_sink(Key::UnorderedTsn { stream: s, begin }) == Some(true),
            None => self.arrived(Tsn(tsn.0.wrapping_sub(1))),
        }
    }

    /// Whether `tsn` is known to have arrived (or been skipped): it is at or
    /// below the cumulative TSN (see [`ReassemblyQueue::set_cumulative_tsn`]).
    fn arrived(&self, tsn: Tsn) -> bool {
        self.cum_tsn.is_some_and(|cum| tsn.is_at_or_before(cum))
    }

    /// Adds a *new* fragment (the data tracker already filtered duplicates)
    /// received at `now` with `tsn`. DATA fragments are ordered by TSN;
    /// I-DATA ones by (stream, U, MID, FSN). Malformed fragments (empty,
    /// conflicting B/E, stale numbers) are dropped.
    pub fn add(&mut self, now: Instant, tsn: Tsn, chunk: UserDataChunk) {
        self.now_hint = Some(now);
        if chunk.payload.is_empty() {
            // RFC 9260 §6.2 / RFC 8260 §2.1: a DATA / I-DATA chunk without
            // user data calls for an ABORT ("No User Data"); that is the
            // association's decision, here it is simply not kept.
            debug!(
                tsn = tsn.0,
                stream = chunk.stream.0,
                "empty fragment dropped"
            );
            return;
        }
        if self.closed_to_next_fragment() {
            self.closed_arrival = Some(now);
        }
        self.max_frag = self.max_frag.max(chunk.payload.len());
        let pos = (!self.interleaved).then(|| self.tsn.unwrap(tsn.0));
        if chunk.flags.is_unordered() {
            self.leave_in_order();
            match pos {
                None => self.add_unordered_mid(now, tsn, chunk),
                Some(pos) => self.add_unordered_data(now, tsn, pos, chunk),
            }
        } else if let Some(chunk) = self.add_in_order(now, pos, chunk) {
            self.add_ordered(now, pos, chunk);
        }
        self.pump();
    }

    /// Whether an incomplete message of `len` bytes is below every
    /// oversize decision of [`ReassemblyQueue::process`] (see the module
    /// documentation): the in-order fast path may hold it.
    fn below_decisions(&self, len: usize) -> bool {
        let max = self.max();
        match self.cfg.oversize_policy {
            OversizePolicy::Pieces => len < self.cfg.partial_delivery_point.min(max).max(1),
            OversizePolicy::Refuse => len <= max,
            OversizePolicy::Truncate => len < max,
        }
    }

    /// The in-order fast path for an ordered fragment at position `pos`
    /// (DATA; the FSN with I-DATA). Returns the fragment if the general
    /// path must take it (having moved the fast path's message there).
    fn add_in_order(
        &mut self,
        now: Instant,
        pos: Option<u64>,
        chunk: UserDataChunk,
    ) -> Option<UserDataChunk> {
        #[cfg(test)]
        if self.fast_path_off {
            return Some(chunk);
        }
        let il = self.interleaved;
        let s = chunk.stream.0;
        let seq = if il {
            chunk.mid.0
        } else {
            u32::from(chunk.ssn.0)
        };
        let at = pos.unwrap_or(u64::from(chunk.fsn.0));
        let len = chunk.payload.len();
        if let Some(f) = &self.in_order {
            if f.stream == s && f.seq == seq && !chunk.flags.is_begin() && at == f.next_pos {
                let total = f.len + len;
                if chunk.flags.is_end() {
                    if total <= self.max() {
                        // The message is complete and within the maximum.
                        let held = f.len;
                        let meta = f.meta;
                        self.in_order = None;
                        self.in_order_parts.push(chunk.payload);
                        let payload = concat_slice(&self.in_order_parts, total);
                        self.in_order_parts.clear();
                        self.held_bytes -= held;
                        self.push(meta.delivery(DeliveryKind::Message, payload));
                        if let Some(st) = self.ordered.get_mut(&s) {
                            st.next = seq_next(il, seq);
                        }
                        return None;
                    }
                } else if self.below_decisions(total)
                    && let Some(f) = self.in_order.as_mut()
                {
                    f.len = total;
                    f.next_pos += 1;
                    f.last_progress = f.last_progress.max(now);
                    self.in_order_parts.push(chunk.payload);
                    self.held_bytes += len;
                    return None;
                }
            }
            self.leave_in_order();
            return Some(chunk);
        }
        // No message on the fast path: this one may start it if it is its
        // stream's next and nothing else is held.
        if !chunk.flags.is_begin() || !self.msgs.is_empty() || (il && chunk.fsn.0 != 0) {
            return Some(chunk);
        }
        let st = self.ordered.entry(s).or_insert(OrderedStream {
            next: 0,
            skip_to: None,
        });
        if st.next != seq || st.skip_to.is_some() {
            return Some(chunk);
        }
        if chunk.flags.is_end() {
            // A whole message at its turn: straight out, zero-copy (locks
            // are only held by messages in `msgs`).
            st.next = seq_next(il, seq);
            self.emit_single(chunk);
            return None;
        }
        if !self.below_decisions(len) {
            return Some(chunk);
        }
        self.in_order = Some(InOrder {
            stream: s,
            seq,
            meta: Meta::of(&chunk),
            begin: at,
            next_pos: at + 1,
            len,
            started: now,
            last_progress: now,
            timer: self
                .cfg
                .incomplete_message_timeout
                .and_then(|t| now.checked_add(t)),
        });
        self.in_order_parts.push(chunk.payload);
        self.held_bytes += len;
        None
    }

    /// Moves the fast path's message, if any, into the general structure,
    /// as the general path would have built it from the same fragments.
    fn leave_in_order(&mut self) {
        let Some(f) = self.in_order.take() else {
            return;
        };
        let key = Key::Ordered {
            stream: f.stream,
            seq: f.seq,
        };
        let mut frags = BTreeMap::new();
        let mut count = 0;
        for (p, data) in (f.begin..).zip(self.in_order_parts.drain(..)) {
            frags.insert(p, Frag { data, end: false });
            count += 1;
        }
        let m = Message {
            meta: f.meta,
            last_progress: f.last_progress,
            started: f.started,
            frags,
            begin: Some(f.begin),
            end: None,
            next: f.begin,
            contig_to: f.next_pos,
            contig_bytes: f.len,
            held: f.len,
            total_seen: f.len,
            frag_count: count,
            delivered: 0,
            state: State::Assembling,
            timer: f.timer,
        };
        self.msgs.insert(key, m);
        self.eligible.insert(key);
        if let Some(at) = f.timer {
            self.timers.insert((at, Timer::Msg(key)));
        }
    }

    /// The next item for the application, in the order items became
    /// deliverable.
    pub fn poll(&mut self) -> Option<Delivery> {
        let d = self.ready.pop_front()?;
        self.ready_bytes -= d.payload.len();
        if self.ready.is_empty() {
            // The application drained the queue: if the buffer is still
            // full of incomplete data, partial delivery may free it.
            self.pump();
        }
        Some(d)
    }

    /// Whether [`ReassemblyQueue::poll`] has something.
    pub fn has_deliverable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// User-data bytes held: incomplete messages, complete ones waiting for
    /// their turn, and deliveries not yet polled. The association derives
    /// `a_rwnd` from it.
    pub fn buffered_bytes(&self) -> usize {
        self.held_bytes + self.ready_bytes
    }

    /// The earliest incomplete-message (or tombstone) timeout.
    pub fn deadline(&self) -> Option<Instant> {
        let general = self.timers.first().map(|(t, _)| *t);
        match self.in_order.as_ref().and_then(|f| f.timer) {
            Some(t) => Some(general.map_or(t, |g| g.min(t))),
            None => general,
        }
    }

    /// Releases messages at their turn that received no fragment for
    /// `incomplete_message_timeout` as
    /// [`DeliveryKind::Aborted`] (`reason: Timeout`) and forgets expired
    /// tombstones. Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now_hint = Some(now);
        if self.deadline().is_some_and(|t| t <= now) {
            self.leave_in_order();
        }
        // Messages whose timer fired, the one that began first first.
        let mut expired: Vec<(Instant, Key)> = Vec::new();
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Msg(key) => {
                    let Some(m) = self.msgs.get_mut(&key) else {
                        continue;
                    };
                    if m.timer != Some(at) {
                        continue;
                    }
                    m.timer = None;
                    if m.state == State::Sink {
                        self.remove_sink(key);
                        continue;
                    }
                    expired.push((m.started, key));
                }
                Timer::Orphan { stream, pos } => {
                    let expired = self
                        .udata
                        .get(&stream)
                        .and_then(|u| u.orphans.get(&pos))
                        .is_some_and(|o| o.expires == Some(at));
                    if expired {
                        debug!(stream, "fragment without a first fragment timed out");
                        self.take_orphan(stream, pos);
                    }
                }
            }
        }
        expired.sort_unstable();
        for (_, key) in expired {
            self.expire_message(now, key);
        }
        self.pump();
    }

    /// The incomplete-message timer of `key` fired: re-arms it if the
    /// message is slow or held back rather than stalled, else releases it
    /// (or, when incomplete messages keep the window closed, the one of
    /// them that began first) as aborted.
    fn expire_message(&mut self, now: Instant, key: Key) {
        let Some(t) = self.cfg.incomplete_message_timeout else {
            return;
        };
        // Whether messages the application has not read leave the window
        // too small for the sender's next fragment: then no fragment can
        // come, and a message waiting for one is held back by this side (an
        // application that stopped reading), not stalled by its sender.
        let frag = self.max_frag.max(1);
        let window_closed = self.cfg.buffer_limit.saturating_sub(self.ready_bytes) < frag;
        // Whether the window is closed at all, held fragments of incomplete
        // messages included.
        let flow_controlled = self.closed_to_next_fragment();
        // While fragments still come into a closed window (one at a time:
        // the chunk next in TSN order, taking the room kept for it or the
        // completion reserve), the sender is alive and flow-controlled, and
        // this message's next fragment may queue behind those of the
        // messages interleaved with it: its clock does not run.
        let progress = match self.closed_arrival {
            Some(a) => m_progress(&self.msgs, key).map(|p| p.max(a)),
            None => m_progress(&self.msgs, key),
        };
        let Some(progress) = progress else {
            return;
        };
        let due = match progress.checked_add(t) {
            // A fragment arrived since the timer was armed: the message is
            // slow, not stalled. Wait from there.
            Some(due) if due > now => Some(due),
            // The reader keeps the window closed: start counting again once
            // it has had a chance to reopen.
            _ if window_closed => now.checked_add(t),
            _ => None,
        };
        if let Some(due) = due {
            if let Some(m) = self.msgs.get_mut(&key) {
                m.timer = Some(due);
                self.timers.insert((due, Timer::Msg(key)));
            }
            return;
        }
        let mut victim = key;
        if flow_controlled {
            // Incomplete messages keep the window closed and nothing came
            // for a whole timeout: only a release can open it. The message
            // that began first goes (it has held the buffer longest); the
            // others were held back by the closed window, not by their
            // sender, and get a full timeout from now in the room it leaves.
            victim = self
                .eligible
                .iter()
                .filter_map(|k| self.msgs.get(k).map(|m| (m, *k)))
                .filter(|(m, _)| m.state != State::Sink && !m.is_complete())
                .min_by_key(|(m, k)| (m.started, *k))
                .map_or(key, |(_, k)| k);
            self.closed_arrival = Some(now);
            if victim != key
                && let Some(due) = now.checked_add(t)
                && let Some(m) = self.msgs.get_mut(&key)
            {
                m.timer = Some(due);
                self.timers.insert((due, Timer::Msg(key)));
            }
        }
        if let Some(old) = self.msgs.get_mut(&victim).and_then(|m| m.timer.take()) {
            self.timers.remove(&(old, Timer::Msg(victim)));
        }
        self.release_timed_out(victim);
    }

    /// Whether the receive buffer (incomplete messages and unread
    /// deliveries) leaves less than the largest fragment seen: the window is
    /// closed to the sender's next fragment.
    fn closed_to_next_fragment(&self) -> bool {
        self.cfg
            .buffer_limit
            .saturating_sub(self.held_bytes + self.ready_bytes)
            < self.max_frag.max(1)
    }

    /// Releases an incomplete message as [`AbortReason::Timeout`].
    fn release_timed_out(&mut self, key: Key) {
        let Some(m) = self.msgs.get(&key) else {
            return;
        };
        debug!(stream = key.stream(), "incomplete message timed out");
        let d = m.meta.delivery(
            DeliveryKind::Aborted {
                delivered: m.delivered,
                reason: AbortReason::Timeout,
            },
            Bytes::new(),
        );
        self.push(d);
        self.retire(key, true);
    }

    /// FORWARD-TSN (DATA associations; RFC 3758 §3.6): the sender abandoned
    /// everything up to `new_cum`, and on each listed ordered stream the
    /// messages up to the listed SSN. Incomplete messages whose missing
    /// fragments are covered are dropped (with [`AbortReason::Abandoned`] if
    /// pieces of them were delivered), complete ones are still delivered in
    /// order, each listed stream's next expected SSN moves past the listed
    /// one, and whatever becomes deliverable is delivered. An out-of-date
    /// FORWARD-TSN (at or behind the cumulative TSN) changes nothing.
    ///
    /// `unreceived` is how many TSNs after the receiver's cumulative TSN, up
    /// to `new_cum`, never arrived
    /// ([`DataTracker::unreceived_through`](super::DataTracker::unreceived_through)).
    /// A chunk whose stream entries skip more messages than that and the
    /// messages held can account for is refused whole, nothing applied
    /// (see "Plausible skips" in the module documentation).
    pub fn handle_forward_tsn(
        &mut self,
        new_cum: Tsn,
        unreceived: u64,
        streams: impl Iterator<Item = (StreamId, Ssn)>,
    ) -> Result<(), ImplausibleSkip> {
        if self.interleaved {
            debug!("FORWARD-TSN on an I-DATA association ignored");
            return Ok(());
        }
        self.leave_in_order();
        let skips = Self::farthest_skips(
            false,
            streams.map(|(stream, ssn)| (stream.0, u32::from(ssn.0))),
        );
        self.check_skips(&skips, unreceived)?;
        let nc = self.tsn.unwrap(new_cum.0);
        // RFC 3758 §3.6: the receiver "MUST first update its cumulative TSN
        // point [...]" -- whatever is missing at or below it will never come.
        // A message is abandoned if its first missing fragment is covered
        // (with the B fragment missing: if its lowest fragment is at most one
        // above the new cumulative TSN). Sent messages are abandoned whole.
        let doomed: Vec<Key> = self
            .msgs
            .iter()
            .filter(|(k, m)| {
                !matches!(k, Key::UnorderedMid { .. })
                    && m.state != State::Sink
                    && !m.is_complete()
                    && match m.begin {
                        Some(_) => m.contig_to <= nc,
                        None => m.frags.keys().next().is_some_and(|&p| p <= nc + 1),
                    }
            })
            .map(|(k, _)| *k)
            .collect();
        for k in doomed {
            self.abandon(k);
        }
        // Tombstones wholly covered are no longer needed.
        let covered: Vec<Key> = self
            .msgs
            .iter()
            .filter(|(k, m)| {
                matches!(k, Key::UnorderedTsn { .. })
                    && m.state == State::Sink
                    && m.end.is_some_and(|e| e <= nc)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in covered {
            self.remove_sink(k);
        }
        // Orphans at or below the new cumulative TSN, and a run of them right
        // above it (their B fragment lies below: abandoned), go.
        let streams_with_orphans: Vec<u16> = self.udata.keys().copied().collect();
        for s in streams_with_orphans {
            let below: Vec<u64> = self
                .udata
                .get(&s)
                .map(|u| u.orphans.range(..=nc).map(|(p, _)| *p).collect())
                .unwrap_or_default();
            for p in below {
                self.take_orphan(s, p);
            }
            let mut p = nc + 1;
            while let Some(o) = self.take_orphan(s, p) {
                if o.frag.end {
                    break;
                }
                p += 1;
            }
        }
        for (s, last) in skips {
            self.skip_ordered(s, last);
        }
        self.pump();
        Ok(())
    }

    /// I-FORWARD-TSN (I-DATA associations; RFC 8260 §2.3.2): each entry
    /// abandons the messages of `stream` up to and including `mid` in the
    /// ordered or (U) unordered MID space. Incomplete ones are dropped (with
    /// [`AbortReason::Abandoned`] if pieces of them were delivered), complete
    /// ordered ones are still delivered in order, and the stream's next
    /// expected MID moves past `mid`. Entries already passed change nothing.
    /// `unreceived` and the refusal of implausible ordered entries are as
    /// for [`ReassemblyQueue::handle_forward_tsn`].
    pub fn handle_iforward_tsn(
        &mut self,
        new_cum: Tsn,
        unreceived: u64,
        entries: impl Iterator<Item = (StreamId, bool, Mid)>,
    ) -> Result<(), ImplausibleSkip> {
        if !self.interleaved {
            debug!("I-FORWARD-TSN on a DATA association ignored");
            return Ok(());
        }
        self.leave_in_order();
        trace!(new_cum = new_cum.0, "I-FORWARD-TSN");
        let entries: Vec<(StreamId, bool, Mid)> = entries.collect();
        let skips = Self::farthest_skips(
            true,
            entries
                .iter()
                .filter(|e| !e.1)
                .map(|&(stream, _, mid)| (stream.0, mid.0)),
        );
        self.check_skips(&skips, unreceived)?;
        for (stream, unordered, mid) in entries {
            let s = stream.0;
            if unordered {
                let doomed: Vec<Key> = self
                    .msgs
                    .range(
                        Key::UnorderedMid { stream: s, mid: 0 }
                            ..=Key::UnorderedMid {
                                stream: s,
                                mid: u32::MAX,
                            },
                    )
                    .filter(|(k, m)| {
                        matches!(k, Key::UnorderedMid { mid: km, .. } if Mid(*km).is_at_or_before(mid))
                            && m.state != State::Sink
                            && !m.is_complete()
                    })
                    .map(|(k, _)| *k)
                    .collect();
                for k in doomed {
                    self.abandon(k);
                }
            }
        }
        for (s, last) in skips {
            self.skip_ordered(s, last);
        }
        self.pump();
        Ok(())
    }

    /// Ordered skip entries, one per stream: the one reaching farthest
    /// (serially) if a stream is listed twice.
    fn farthest_skips(
        interleaved: bool,
        entries: impl Iterator<Item = (u16, u32)>,
    ) -> Vec<(u16, u32)> {
        let mut out: BTreeMap<u16, u32> = BTreeMap::new();
        for (s, last) in entries {
            out.entry(s)
                .and_modify(|e| {
                    if seq_before(interleaved, *e, last) {
                        *e = last;
                    }
                })
                .or_insert(last);
        }
        out.into_iter().collect()
    }

    /// The first number of ordered stream `s` neither passed nor skipped
    /// yet: its next expected one, or a pending skip target beyond it.
    fn skip_start(&self, s: u16) -> u32 {
        let il = self.interleaved;
        match self.ordered.get(&s) {
            Some(st) => match st.skip_to {
                Some(k) if seq_ahead(il, st.next, k) => k,
                _ => st.next,
            },
            None => 0,
        }
    }

    /// Refuses skips that the messages held and the `unreceived` TSNs cannot
    /// account for (see "Plausible skips" in the module documentation): each
    /// skipped message of which nothing (no fragment, no marker) is held
    /// needs a TSN of its own that never arrived.
    fn check_skips(&self, skips: &[(u16, u32)], unreceived: u64) -> Result<(), ImplausibleSkip> {
        let il = self.interleaved;
        let mut unexplained: u64 = 0;
        for &(s, last) in skips {
            let start = self.skip_start(s);
            if seq_before(il, last, start) {
                continue;
            }
            let span = u64::from(seq_distance(il, start, last)) + 1;
            let held = self
                .msgs
                .range(
                    Key::Ordered { stream: s, seq: 0 }..=Key::Ordered {
                        stream: s,
                        seq: u32::MAX,
                    },
                )
                .filter(|(k, _)| {
                    matches!(k, Key::Ordered { seq, .. }
                        if u64::from(seq_distance(il, start, *seq)) < span)
                })
                .count() as u64;
            unexplained += span.saturating_sub(held);
            if unexplained > unreceived {
                debug!(
                    stream = s,
                    next = start,
                    to = last,
                    unexplained,
                    unreceived,
                    "implausible FORWARD-TSN skip refused"
                );
                return Err(ImplausibleSkip {
                    stream: StreamId(s),
                    to: last,
                    next: start,
                    unexplained,
                    unreceived,
                });
            }
        }
        Ok(())
    }

    /// The association died: every incomplete message becomes an
    /// [`DeliveryKind::Aborted`] delivery (`reason: AssociationEnded`);
    /// complete undelivered messages are still delivered (per ordered stream
    /// in SSN / MID order, past any gap: no message that arrived whole is
    /// lost). Afterwards the queue holds nothing but those deliveries.
    pub fn abort_all(&mut self) {
        self.leave_in_order();
        let aborted = |delivered| DeliveryKind::Aborted {
            delivered,
            reason: AbortReason::AssociationEnded,
        };
        // Close open records first.
        let in_pieces: Vec<Key> = self
            .msgs
            .iter()
            .filter(|(_, m)| m.state == State::Pieces)
            .map(|(k, _)| *k)
            .collect();
        for k in in_pieces {
            if let Some(m) = self.msgs.remove(&k) {
                self.held_bytes -= m.held;
                self.push(m.meta.delivery(aborted(m.delivered), Bytes::new()));
            }
        }
        let unordered: Vec<Key> = self
            .msgs
            .keys()
            .filter(|k| !matches!(k, Key::Ordered { .. }))
            .copied()
            .collect();
        for k in unordered {
            self.release_at_end(k);
        }
        let streams: Vec<(u16, u32)> = self.ordered.iter().map(|(s, st)| (*s, st.next)).collect();
        for (s, next) in streams {
            let il = self.interleaved;
            let mut keys: Vec<(u32, Key)> = self
                .msgs
                .range(
                    Key::Ordered { stream: s, seq: 0 }..=Key::Ordered {
                        stream: s,
                        seq: u32::MAX,
                    },
                )
                .filter_map(|(k, _)| match k {
                    Key::Ordered { seq, .. } => Some((seq_distance(il, next, *seq), *k)),
                    _ => None,
                })
                .collect();
            keys.sort_unstable();
            for (_, k) in keys {
                self.release_at_end(k);
            }
        }
        self.msgs.clear();
        self.ordered.clear();
        self.udata.clear();
        self.eligible.clear();
        self.locks.clear();
        self.timers.clear();
        self.sinks.clear();
        self.sink_count = 0;
        self.dirty.clear();
        self.unlocked.clear();
        self.held_bytes = 0;
    }

    /// `abort_all` for one message: deliver it if complete, else abort it.
    fn release_at_end(&mut self, k: Key) {
        let Some(m) = self.msgs.remove(&k) else {
            return;
        };
        self.held_bytes -= m.held;
        match m.state {
            State::Sink => {}
            _ if m.is_complete() => {
                let parts = m.frags.into_values().map(|f| f.data).collect();
                self.emit_whole(m.meta, parts, m.held, m.total_seen);
            }
            _ => self.push(m.meta.delivery(
                DeliveryKind::Aborted {
                    delivered: m.delivered,
                    reason: AbortReason::AssociationEnded,
                },
                Bytes::new(),
            )),
        }
    }

    // ----- adding fragments -------------------------------------------------

    fn add_ordered(&mut self, now: Instant, pos: Option<u64>, chunk: UserDataChunk) {
        let il = self.interleaved;
        let s = chunk.stream.0;
        let seq = if il {
            chunk.mid.0
        } else {
            u32::from(chunk.ssn.0)
        };
        let st = *self.ordered.entry(s).or_insert(OrderedStream {
            next: 0,
            skip_to: None,
        });
        let key = Key::Ordered { stream: s, seq };
        let exists = self.msgs.contains_key(&key);
        // Only a skip target still ahead of the stream counts: once `next`
        // has reached it, every number from `next` on is a live message.
        let skipped = |k| {
            seq_ahead(il, st.next, k)
                && seq_distance(il, st.next, seq) < seq_distance(il, st.next, k)
        };
        if seq_before(il, seq, st.next) || (!exists && st.skip_to.is_some_and(skipped)) {
            debug!(
                stream = s,
                seq,
                next = st.next,
                "fragment of a passed message dropped"
            );
            return;
        }
        if !exists
            && seq == st.next
            && chunk.is_complete_message()
            && self.single_ok(s, chunk.payload.len())
        {
            // In-order whole message: straight out, zero-copy.
            self.emit_single(chunk);
            if let Some(st) = self.ordered.get_mut(&s) {
                st.next = seq_next(il, seq);
            }
            self.dirty.insert(s);
            return;
        }
        if self.add_fragment(now, key, pos, chunk, false) && seq == st.next {
            self.make_eligible(key);
            self.process(key);
        }
    }

    fn add_unordered_mid(&mut self, now: Instant, tsn: Tsn, chunk: UserDataChunk) {
        let s = chunk.stream.0;
        let key = Key::UnorderedMid {
            stream: s,
            mid: chunk.mid.0,
        };
        // RFC 8260 §2.1: fragments are numbered by FSN from 0 and sent in
        // that order, so fragment `fsn` follows its first fragment by at
        // least `fsn` TSNs.
        let fsn = chunk.fsn.0;
        if !chunk.flags.is_begin()
            && fsn != 0
            && fsn < Fsn::HALF
            && !self.msgs.contains_key(&key)
            && self.arrived(Tsn(tsn.0.wrapping_sub(fsn)))
        {
            debug!(
                stream = s,
                mid = chunk.mid.0,
                fsn,
                "late fragment of a released message dropped"
            );
            return;
        }
        if !self.msgs.contains_key(&key)
            && chunk.is_complete_message()
            && self.single_ok(s, chunk.payload.len())
        {
            self.emit_single(chunk);
            return;
        }
        if self.add_fragment(now, key, None, chunk, false) {
            self.make_eligible(key);
            self.process(key);
        }
    }

    /// Adds a fragment to the message `key` (created if needed); false if
    /// dropped or swallowed by a tombstone.
    fn add_fragment(
        &mut self,
        now: Instant,
        key: Key,
        pos: Option<u64>,
        chunk: UserDataChunk,
        speculative_end: bool,
    ) -> bool {
        let created = !self.msgs.contains_key(&key);
        if created {
            let begin = self.interleaved.then_some(0);
            self.msgs.insert(key, Message::new(now, &chunk, begin));
        }
        let pos = match pos {
            Some(p) => Some(p),
            None => self.msgs.get(&key).and_then(|m| {
                // Unwrap the FSN relative to the next position to deliver.
                let d = chunk.fsn.0.wrapping_sub(m.next as u32);
                (d < Fsn::HALF).then(|| m.next + u64::from(d))
            }),
        };
        let took = match pos {
            Some(p) => self.offer_to(key, p, &chunk, chunk.payload.clone(), speculative_end),
            None => None,
        };
        match took {
            Some((true, _)) => {}
            _ => {
                debug!(stream = chunk.stream.0, flags = %chunk.flags, "conflicting or stale fragment dropped");
                if created {
                    self.msgs.remove(&key);
                }
                return false;
            }
        }
        if let Some(m) = self.msgs.get(&key)
            && m.state == State::Sink
        {
            if !matches!(key, Key::Ordered { .. }) && m.sink_done() {
                self.remove_sink(key);
            }
            return false;
        }
        true
    }

    /// Offers a fragment to an existing message, keeping `held_bytes` right.
    /// Returns (taken, fragments evicted above a new end).
    fn offer_to(
        &mut self,
        key: Key,
        pos: u64,
        chunk: &UserDataChunk,
        data: Bytes,
        speculative_end: bool,
    ) -> Option<(bool, Vec<(u64, Frag)>)> {
        self.offer_raw(
            key,
            pos,
            chunk.flags.is_begin(),
            chunk.flags.is_end(),
            chunk.ppid,
            data,
            speculative_end,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn offer_raw(
        &mut self,
        key: Key,
        pos: u64,
        begin: bool,
        end: bool,
        ppid: Ppid,
        data: Bytes,
        speculative_end: bool,
    ) -> Option<(bool, Vec<(u64, Frag)>)> {
        let m = self.msgs.get_mut(&key)?;
        let before = m.held;
        let mut evicted = Vec::new();
        let took = m.offer(pos, begin, end, ppid, data, speculative_end, &mut evicted);
        if took && let Some(now) = self.now_hint {
            // O(1): an armed timer is moved lazily, when it fires.
            m.last_progress = m.last_progress.max(now);
        }
        let after = m.held;
        self.held_bytes = self.held_bytes - before + after;
        Some((took, evicted))
    }

    /// The unordered DATA message whose TSN run may contain `pos`: the one
    /// with the highest B position below it, unless its end is known to lie
    /// before `pos`.
    fn udata_owner(&self, s: u16, pos: u64) -> Option<u64> {
        let b = *self.udata.get(&s)?.begins.range(..pos).next_back()?;
        let m = self.msgs.get(&Key::UnorderedTsn {
            stream: s,
            begin: b,
        })?;
        m.end.is_none_or(|e| pos <= e).then_some(b)
    }

    fn add_unordered_data(&mut self, now: Instant, tsn: Tsn, pos: u64, chunk: UserDataChunk) {
        let s = chunk.stream.0;
        let owner = self.udata_owner(s, pos);
        if !chunk.flags.is_begin() {
            let Some(b) = owner else {
                // RFC 9260 §6.9: the fragments of a message have consecutive
                // TSNs, so the one before a middle or last fragment is its
                // predecessor. At or below the cumulative TSN it arrived,
                // and no message holds it: the message was released.
                if self.arrived(Tsn(tsn.0.wrapping_sub(1))) {
                    debug!(stream = s, "late fragment of a released message dropped");
                    return;
                }
                self.add_orphan(
                    s,
                    pos,
                    Frag {
                        end: chunk.flags.is_end(),
                        data: chunk.payload,
                    },
                    now,
                );
                return;
            };
            let key = Key::UnorderedTsn {
                stream: s,
                begin: b,
            };
            let data = chunk.payload.clone();
            let Some((took, evicted)) = self.offer_to(key, pos, &chunk, data, true) else {
                return;
            };
            for (p, f) in evicted {
                self.add_orphan(s, p, f, now);
            }
            let sink = self
                .msgs
                .get(&key)
                .map(|m| (m.state == State::Sink, m.sink_done()));
            match sink {
                Some((true, true)) => self.remove_sink(key),
                Some((false, _)) if took => self.process(key),
                _ => {}
            }
            return;
        }

        // A B fragment at a position already taken (a duplicate the tracker
        // did not filter) would corrupt the owner's bookkeeping: drop it.
        let taken = self.msgs.contains_key(&Key::UnorderedTsn {
            stream: s,
            begin: pos,
        }) || owner.is_some_and(|b| {
            self.msgs
                .get(&Key::UnorderedTsn {
                    stream: s,
                    begin: b,
                })
                .is_some_and(|m| pos < m.contig_to || m.frags.contains_key(&pos))
        });
        if taken {
            debug!(stream = s, "duplicate first fragment dropped");
            return;
        }
        if chunk.flags.is_end() && owner.is_none() && self.single_ok(s, chunk.payload.len()) {
            self.emit_single(chunk);
            return;
        }
        // A new message starts at `pos`: the owner's fragments from `pos` on
        // belong to it or to later messages, and an end the owner assumed
        // beyond `pos` was a later message's.
        let mut moved: Vec<(u64, Frag)> = Vec::new();
        if let Some(b) = owner {
            let okey = Key::UnorderedTsn {
                stream: s,
                begin: b,
            };
            if let Some(m) = self.msgs.get_mut(&okey) {
                if m.end.is_some_and(|e| e >= pos) {
                    m.end = None;
                }
                let tail = m.frags.split_off(&pos);
                for (p, f) in tail {
                    m.held -= f.data.len();
                    self.held_bytes -= f.data.len();
                    moved.push((p, f));
                }
            }
        }
        let key = Key::UnorderedTsn {
            stream: s,
            begin: pos,
        };
        self.msgs.insert(key, Message::new(now, &chunk, Some(pos)));
        let limit = {
            let u = self.udata.entry(s).or_default();
            u.begins.insert(pos);
            u.begins
                .range(pos + 1..)
                .next()
                .copied()
                .unwrap_or(u64::MAX)
        };
        let is_end = chunk.flags.is_end();
        let data = chunk.payload.clone();
        self.offer_to(key, pos, &chunk, data, true);
        // Adopt the fragments that follow, up to the first E.
        let orphan_pos: Vec<u64> = self
            .udata
            .get(&s)
            .map(|u| u.orphans.range(pos + 1..limit).map(|(p, _)| *p).collect())
            .unwrap_or_default();
        let mut cands: Vec<(u64, Option<Frag>)> = moved
            .into_iter()
            .map(|(p, f)| (p, Some(f)))
            .chain(orphan_pos.into_iter().map(|p| (p, None)))
            .collect();
        cands.sort_by_key(|c| c.0);
        let mut done = is_end;
        for (p, f) in cands {
            let frag = match f {
                Some(f) => f,
                None if done => continue,
                None => match self.take_orphan(s, p) {
                    Some(o) => o.frag,
                    None => continue,
                },
            };
            if done {
                self.add_orphan(s, p, frag, now);
                continue;
            }
            let end = frag.end;
            if let Some((took, evicted)) =
                self.offer_raw(key, p, false, end, Ppid(0), frag.data, true)
            {
                for (ep, ef) in evicted {
                    self.add_orphan(s, ep, ef, now);
                }
                done = took && end;
            }
        }
        self.make_eligible(key);
        self.process(key);
    }

    fn add_orphan(&mut self, s: u16, pos: u64, frag: Frag, now: Instant) {
        let expires = self
            .cfg
            .incomplete_message_timeout
            .and_then(|t| now.checked_add(t));
        let u = self.udata.entry(s).or_default();
        if u.orphans.contains_key(&pos) {
            return;
        }
        self.held_bytes += frag.data.len();
        u.orphans.insert(pos, Orphan { frag, expires });
        if let Some(at) = expires {
            self.timers.insert((at, Timer::Orphan { stream: s, pos }));
        }
    }

    fn take_orphan(&mut self, s: u16, pos: u64) -> Option<Orphan> {
        let o = self.udata.get_mut(&s)?.orphans.remove(&pos)?;
        self.held_bytes -= o.frag.data.len();
        if let Some(at) = o.expires {
            self.timers.remove(&(at, Timer::Orphan { stream: s, pos }));
        }
        Some(o)
    }

    // ----- delivering --------------------------------------------------------

    fn push(&mut self, d: Delivery) {
        self.ready_bytes += d.payload.len();
        self.ready.push_back(d);
    }

    /// Whether a whole one-fragment message of `len` bytes on stream `s` can
    /// go out now (pieces of an oversized one must wait for the stream's
    /// pieces lock).
    fn single_ok(&self, s: u16, len: usize) -> bool {
        len <= self.max()
            || self.cfg.oversize_policy != OversizePolicy::Pieces
            || !self.locks.contains_key(&s)
    }

    fn emit_single(&mut self, chunk: UserDataChunk) {
        let len = chunk.payload.len();
        trace!(stream = chunk.stream.0, len, "whole message");
        let meta = Meta::of(&chunk);
        if len <= self.max() {
            // The common case, once per message: no parts list to allocate.
            self.push(meta.delivery(DeliveryKind::Message, chunk.payload));
            return;
        }
        self.emit_whole(meta, vec![chunk.payload], len, len);
    }

    /// Delivers a complete message of `total` bytes according to the policy.
    fn emit_whole(&mut self, meta: Meta, parts: Vec<Bytes>, total: usize, total_seen: usize) {
        let max = self.max();
        if total <= max {
            self.push(meta.delivery(DeliveryKind::Message, concat(parts, total)));
            return;
        }
        match self.cfg.oversize_policy {
            OversizePolicy::Refuse => self.push(meta.delivery(
                DeliveryKind::Refused {
                    len_seen: total_seen,
                },
                Bytes::new(),
            )),
            OversizePolicy::Truncate => self.push(meta.delivery(
                DeliveryKind::Truncated {
                    original_len: Some(total),
                },
                concat(parts, max),
            )),
            OversizePolicy::Pieces => {
                let pieces = split_parts(parts, max);
                let n = pieces.len();
                for (i, p) in pieces.into_iter().enumerate() {
                    self.push(meta.delivery(
                        DeliveryKind::Piece {
                            first: i == 0,
                            end_of_record: i + 1 == n,
                        },
                        p,
                    ));
                }
            }
        }
    }

    fn make_eligible(&mut self, key: Key) {
        let Some(m) = self.msgs.get_mut(&key) else {
            return;
        };
        if m.state == State::Sink || !self.eligible.insert(key) {
            return;
        }
        if let Some(at) = self
            .cfg
            .incomplete_message_timeout
            .and_then(|t| m.last_progress.checked_add(t))
            && m.timer.is_none()
        {
            m.timer = Some(at);
            self.timers.insert((at, Timer::Msg(key)));
        }
    }

    fn try_lock(&mut self, key: Key) -> bool {
        let s = key.stream();
        match self.locks.get(&s) {
            None => {
                self.locks.insert(s, key);
                true
            }
            Some(k) => *k == key,
        }
    }

    /// Decides what to do with a message at its turn.
    fn process(&mut self, key: Key) {
        let max = self.max();
        let Some(m) = self.msgs.get(&key) else {
            return;
        };
        match m.state {
            State::Sink => {}
            State::Pieces => self.emit_pieces(key),
            State::Assembling => {
                let complete = m.is_complete();
                let policy = self.cfg.oversize_policy;
                if complete && (m.held <= max || policy != OversizePolicy::Pieces) {
                    let parts = m.frags.values().map(|f| f.data.clone()).collect();
                    let (meta, held, seen) = (m.meta, m.held, m.total_seen);
                    self.emit_whole(meta, parts, held, seen);
                    self.retire(key, false);
                    return;
                }
                match policy {
                    OversizePolicy::Refuse => {
                        if m.total_seen > max {
                            let d = m.meta.delivery(
                                DeliveryKind::Refused {
                                    len_seen: m.total_seen,
                                },
                                Bytes::new(),
                            );
                            debug!(
                                stream = key.stream(),
                                len_seen = m.total_seen,
                                "message refused"
                            );
                            self.push(d);
                            self.retire(key, true);
                        }
                    }
                    OversizePolicy::Truncate => {
                        if m.contig_bytes >= max {
                            let parts = m
                                .frags
                                .range(m.next..m.contig_to)
                                .map(|(_, f)| f.data.clone())
                                .collect();
                            let d = m.meta.delivery(
                                DeliveryKind::Truncated { original_len: None },
                                concat(parts, max),
                            );
                            self.push(d);
                            self.retire(key, true);
                        }
                    }
                    OversizePolicy::Pieces => {
                        let point = self.cfg.partial_delivery_point.min(max).max(1);
                        if (complete || m.contig_bytes >= point) && self.try_lock(key) {
                            self.start_pieces(key);
                        }
                    }
                }
            }
        }
    }

    fn start_pieces(&mut self, key: Key) {
        if let Some(m) = self.msgs.get_mut(&key) {
            trace!(
                stream = key.stream(),
                contiguous = m.contig_bytes,
                "partial delivery starts"
            );
            m.state = State::Pieces;
        }
        self.emit_pieces(key);
    }

    /// Delivers the contiguous fragments of a message in pieces mode.
    fn emit_pieces(&mut self, key: Key) {
        let max = self.max();
        loop {
            let Some(m) = self.msgs.get_mut(&key) else {
                return;
            };
            if m.next >= m.contig_to {
                return;
            }
            let mut parts = Vec::new();
            let mut size = 0;
            let mut ended = false;
            while m.next < m.contig_to && size < max {
                let pos = m.next;
                let room = max - size;
                let Some(f) = m.frags.get_mut(&pos) else {
                    break;
                };
                if f.data.len() > room {
                    parts.push(f.data.split_to(room));
                    size += room;
                } else if let Some(f) = m.frags.remove(&pos) {
                    size += f.data.len();
                    parts.push(f.data);
                    m.next += 1;
                    if f.end {
                        ended = true;
                        break;
                    }
                }
            }
            if size == 0 {
                return;
            }
            m.held -= size;
            m.contig_bytes -= size;
            let first = m.delivered == 0;
            m.delivered += size;
            let d = m.meta.delivery(
                DeliveryKind::Piece {
                    first,
                    end_of_record: ended,
                },
                concat(parts, size),
            );
            self.held_bytes -= size;
            self.push(d);
            if ended {
                self.retire(key, false);
                return;
            }
        }
    }

    /// Removes a finished message (delivered, refused, truncated, aborted).
    /// An ordered stream moves to its next number (late fragments of the
    /// message are then behind it); an unordered message whose fragments
    /// may still come (`late`) leaves a tombstone.
    fn retire(&mut self, key: Key, late: bool) {
        let Some(mut m) = self.msgs.remove(&key) else {
            return;
        };
        self.held_bytes -= m.held;
        self.eligible.remove(&key);
        if let Some(t) = m.timer.take() {
            self.timers.remove(&(t, Timer::Msg(key)));
        }
        let s = key.stream();
        if self.locks.get(&s) == Some(&key) {
            self.locks.remove(&s);
            self.unlocked.insert(s);
            self.dirty.insert(s);
        }
        match key {
            Key::Ordered { stream, seq } => {
                let il = self.interleaved;
                if let Some(st) = self.ordered.get_mut(&stream)
                    && st.next == seq
                {
                    st.next = seq_next(il, seq);
                }
                self.dirty.insert(stream);
            }
            Key::UnorderedMid { .. } | Key::UnorderedTsn { .. } => {
                if late && !m.sink_done() {
                    m.frags.clear();
                    m.held = 0;
                    m.contig_bytes = 0;
                    m.state = State::Sink;
                    if let (Some(t), Some(now)) =
                        (self.cfg.incomplete_message_timeout, self.now_hint)
                        && let Some(at) = now.checked_add(t)
                    {
                        m.timer = Some(at);
                        self.timers.insert((at, Timer::Msg(key)));
                    }
                    self.msgs.insert(key, m);
                    self.add_sink(key);
                } else if let Key::UnorderedTsn { stream, begin } = key
                    && let Some(u) = self.udata.get_mut(&stream)
                {
                    u.begins.remove(&begin);
                }
            }
        }
    }

    /// The sender abandoned an incomplete message.
    fn abandon(&mut self, key: Key) {
        let Some(m) = self.msgs.get(&key) else {
            return;
        };
        if m.delivered > 0 {
            let d = m.meta.delivery(
                DeliveryKind::Aborted {
                    delivered: m.delivered,
                    reason: AbortReason::Abandoned,
                },
                Bytes::new(),
            );
            self.push(d);
        }
        trace!(stream = key.stream(), "abandoned message dropped");
        match key {
            Key::Ordered { stream, seq } => {
                if self.ordered.get(&stream).is_some_and(|st| st.next == seq) {
                    self.retire(key, false);
                } else {
                    self.make_marker(key);
                }
            }
            _ => self.retire(key, true),
        }
    }

    /// Turns an ordered message that is not at its turn into a payload-free
    /// marker: when the stream reaches its number, it skips it.
    fn make_marker(&mut self, key: Key) {
        let Some(m) = self.msgs.get_mut(&key) else {
            return;
        };
        let held = m.held;
        m.frags.clear();
        m.held = 0;
        m.contig_bytes = 0;
        m.state = State::Sink;
        let timer = m.timer.take();
        self.held_bytes -= held;
        if let Some(t) = timer {
            self.timers.remove(&(t, Timer::Msg(key)));
        }
        self.eligible.remove(&key);
        self.add_sink(key);
    }

    fn add_sink(&mut self, key: Key) {
        self.sink_count += 1;
        self.sinks.push_back(key);
        while self.sink_count > self.cfg.max_tombstones {
            let Some(k) = self.sinks.pop_front() else {
                break;
            };
            if self.msgs.get(&k).is_some_and(|m| m.state == State::Sink) {
                debug!(stream = k.stream(), "tombstone evicted");
                self.remove_sink(k);
            }
        }
        if self.sinks.len() > 2 * self.cfg.max_tombstones + 16 {
            let msgs = &self.msgs;
            self.sinks
                .retain(|k| msgs.get(k).is_some_and(|m| m.state == State::Sink));
        }
    }

    fn remove_sink(&mut self, key: Key) {
        let Some(m) = self.msgs.remove(&key) else {
            return;
        };
        self.sink_count = self.sink_count.saturating_sub(1);
        if let Some(t) = m.timer {
            self.timers.remove(&(t, Timer::Msg(key)));
        }
        if let Key::UnorderedTsn { stream, begin } = key
            && let Some(u) = self.udata.get_mut(&stream)
        {
            u.begins.remove(&begin);
        }
    }

    /// Abandons ordered messages of stream `s` up to `last` and lets the
    /// stream skip past it.
    fn skip_ordered(&mut self, s: u16, last: u32) {
        let il = self.interleaved;
        let next = self
            .ordered
            .entry(s)
            .or_insert(OrderedStream {
                next: 0,
                skip_to: None,
            })
            .next;
        if seq_before(il, last, next) {
            return;
        }
        let span = seq_distance(il, next, last);
        let doomed: Vec<Key> = self
            .msgs
            .range(
                Key::Ordered { stream: s, seq: 0 }..=Key::Ordered {
                    stream: s,
                    seq: u32::MAX,
                },
            )
            .filter(|(k, m)| {
                matches!(k, Key::Ordered { seq, .. } if seq_distance(il, next, *seq) <= span)
                    && m.state != State::Sink
                    && !m.is_complete()
            })
            .map(|(k, _)| *k)
            .collect();
        for k in doomed {
            self.abandon(k);
        }
        let target = seq_next(il, last);
        if let Some(st) = self.ordered.get_mut(&s) {
            let next = st.next;
            st.skip_to = Some(match st.skip_to {
                Some(old)
                    if seq_ahead(il, next, old)
                        && seq_distance(il, next, target) < seq_distance(il, next, old) =>
                {
                    old
                }
                _ => target,
            });
        }
        self.dirty.insert(s);
    }

    /// Delivers what has become deliverable on dirty streams, then relieves
    /// buffer pressure.
    fn pump(&mut self) {
        loop {
            while let Some(s) = self.dirty.pop_first() {
                self.advance(s);
            }
            if let Some(s) = self.unlocked.pop_first() {
                let mid_range = Key::UnorderedMid { stream: s, mid: 0 }..=Key::UnorderedMid {
                    stream: s,
                    mid: u32::MAX,
                };
                let tsn_range = Key::UnorderedTsn {
                    stream: s,
                    begin: 0,
                }..=Key::UnorderedTsn {
                    stream: s,
                    begin: u64::MAX,
                };
                let keys: Vec<Key> = self
                    .eligible
                    .range(mid_range)
                    .chain(self.eligible.range(tsn_range))
                    .copied()
                    .collect();
                for k in keys {
                    if self.locks.contains_key(&s) {
                        break;
                    }
                    self.process(k);
                }
                continue;
            }
            if !self.relieve_pressure() {
                break;
            }
        }
    }

    /// Delivers the ordered stream `s` from its next expected number on.
    fn advance(&mut self, s: u16) {
        let il = self.interleaved;
        loop {
            let Some(mut st) = self.ordered.get(&s).copied() else {
                return;
            };
            if st.skip_to.is_some_and(|k| !seq_ahead(il, st.next, k)) {
                // Deliveries carried the stream up to (or past) the skip
                // target: it is spent. Left in place it would make every
                // later number look skipped.
                st.skip_to = None;
                if let Some(o) = self.ordered.get_mut(&s) {
                    o.skip_to = None;
                }
            }
            let key = Key::Ordered {
                stream: s,
                seq: st.next,
            };
            match self.msgs.get(&key).map(|m| m.state) {
                Some(State::Sink) => {
                    self.remove_sink(key);
                    if let Some(st) = self.ordered.get_mut(&s) {
                        st.next = seq_next(il, st.next);
                    }
                }
                Some(_) => {
                    self.make_eligible(key);
                    self.process(key);
                    if self.ordered.get(&s).is_none_or(|n| n.next == st.next) {
                        return;
                    }
                }
                None => {
                    let Some(skip) = st.skip_to else {
                        return;
                    };
                    if !seq_ahead(il, st.next, skip) {
                        if let Some(st) = self.ordered.get_mut(&s) {
                            st.skip_to = None;
                        }
                        return;
                    }
                    // Nothing more will come before `skip`: jump to the next
                    // message held, or to `skip`.
                    let target = self.first_held_seq(s, st.next, skip).unwrap_or(skip);
                    if let Some(st) = self.ordered.get_mut(&s) {
                        st.next = target;
                        if target == skip {
                            st.skip_to = None;
                        }
                    }
                }
            }
        }
    }

    /// The held number of stream `s` closest after `from`, before `to`.
    fn first_held_seq(&self, s: u16, from: u32, to: u32) -> Option<u32> {
        let il = self.interleaved;
        let span = seq_distance(il, from, to);
        self.msgs
            .range(
                Key::Ordered { stream: s, seq: 0 }..=Key::Ordered {
                    stream: s,
                    seq: u32::MAX,
                },
            )
            .filter_map(|(k, _)| match k {
                Key::Ordered { seq, .. } => {
                    let d = seq_distance(il, from, *seq);
                    (d < span).then_some((d, *seq))
                }
                _ => None,
            })
            .min()
            .map(|(_, seq)| seq)
    }

    /// When the buffer is nearly full of incomplete data and nothing waits to
    /// be polled, starts partial delivery of the incomplete message at its
    /// turn with the largest contiguous prefix.
    fn relieve_pressure(&mut self) -> bool {
        if self.cfg.oversize_policy != OversizePolicy::Pieces
            || !self.ready.is_empty()
            || self.held_bytes == 0
        {
            return false;
        }
        let threshold = self
            .cfg
            .buffer_limit
            .saturating_sub(self.max_frag.saturating_mul(2));
        if self.held_bytes < threshold {
            return false;
        }
        self.leave_in_order();
        let mut best: Option<(usize, Key)> = None;
        for k in &self.eligible {
            let Some(m) = self.msgs.get(k) else {
                continue;
            };
            if m.state != State::Assembling || m.is_complete() || m.contig_bytes == 0 {
                continue;
            }
            if self.locks.get(&k.stream()).is_some_and(|h| h != k) {
                continue;
            }
            if best.is_none_or(|(b, _)| m.contig_bytes > b) {
                best = Some((m.contig_bytes, *k));
            }
        }
        let Some((_, k)) = best else {
            return false;
        };
        debug!(
            stream = k.stream(),
            held = self.held_bytes,
            "receive buffer full: partial delivery"
        );
        self.try_lock(k);
        self.start_pieces(k);
        true
    }
}

#[cfg(test)]
mod tests;
