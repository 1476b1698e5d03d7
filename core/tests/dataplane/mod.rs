//! Shared data-plane workload for the simulation tests: messages whose
//! sizes, streams and bytes derive from a seed (generated when sent,
//! checked by hash when received, never stored), and a receiver-side
//! checker that proves exactly-once, in-order-per-ordered-stream,
//! byte-identical delivery, reassembling pieces of partially delivered
//! messages on the way.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use mcsctp_core::endpoint::{Endpoint, SendOptions};
use mcsctp_core::event::AssociationHandle;
use mcsctp_core::rx::{Delivery, DeliveryKind};
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_sim::SimRng;

use crate::common::{Pair, Z, addr};

/// A connects to Z (as [`Pair::connect`]), waiting up to `limit` of
/// simulated time: over a very lossy link the handshake may need several
/// backed-off INIT / COOKIE ECHO retransmissions.
pub fn connect_within(
    p: &mut Pair,
    limit: std::time::Duration,
) -> (AssociationHandle, AssociationHandle) {
    let now = p.net.now();
    let z_port = p.net.node(p.z).ep.config().port;
    let h = p
        .net
        .node_mut(p.a)
        .ep
        .connect(now, addr(Z), z_port)
        .expect("connect");
    let (a, z) = (p.a, p.z);
    let r = p.net.run_until_cond(
        |n| !n.node(a).connected().is_empty() && !n.node(z).connected().is_empty(),
        limit,
    );
    r.unwrap_or_else(|e| {
        panic!(
            "seed {}: handshake did not complete: {e}; A events {:?}, Z events {:?}",
            p.net.seed(),
            p.net.node(a).events,
            p.net.node(z).events
        )
    });
    let hz = p.net.node(z).connected()[0];
    (h, hz)
}

/// Largest message of the workload: 256 KiB.
pub const MAX_LEN: usize = 256 << 10;
/// Messages at least this long carry their index and length in their
/// first bytes.
pub const HEADER_LEN: usize = 12;

/// What the sender and the checker both know of one message.
#[derive(Debug, Clone, Copy)]
pub struct MsgMeta {
    pub len: u32,
    pub stream: u16,
    pub unordered: bool,
    pub hash: u64,
}

/// A streaming 64-bit hash: the result does not depend on how the bytes
/// were split into pieces.
#[derive(Debug, Clone)]
pub struct StreamHash {
    h: u64,
    pending: [u8; 8],
    npending: usize,
    len: u64,
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Default for StreamHash {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamHash {
    pub fn new() -> Self {
        Self {
            h: 0x243f_6a88_85a3_08d3,
            pending: [0; 8],
            npending: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn word(&mut self, w: u64) {
        self.h = (self.h.rotate_left(23) ^ w).wrapping_mul(K);
    }

    pub fn write(&mut self, mut b: &[u8]) {
        self.len += b.len() as u64;
        if self.npending > 0 {
            let take = (8 - self.npending).min(b.len());
            self.pending[self.npending..self.npending + take].copy_from_slice(&b[..take]);
            self.npending += take;
            b = &b[take..];
            if self.npending < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.pending);
            self.word(w);
            self.npending = 0;
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.word(w);
        }
        let rest = chunks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.npending = rest.len();
    }

    pub fn finish(&self) -> u64 {
        let mut h = self.h;
        if self.npending > 0 {
            let mut a = [0u8; 8];
            a[..self.npending].copy_from_slice(&self.pending[..self.npending]);
            h = (h.rotate_left(23) ^ u64::from_le_bytes(a)).wrapping_mul(K);
        }
        h ^= self.len;
        // SplitMix64 finaliser.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

pub fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = StreamHash::new();
    h.write(b);
    h.finish()
}

/// A message length drawn log-uniformly from 1 ..= `max`.
pub fn log_uniform_len(rng: &mut SimRng, max: usize) -> usize {
    let l = rng.next_f64() * ((max as f64) + 1.0).ln();
    (l.exp() as usize).clamp(1, max)
}

/// The bytes of message `idx` of direction `dir` of run `seed`.
pub fn payload(seed: u64, dir: u8, idx: u32, len: usize) -> Bytes {
    let mut v = vec![0u8; len];
    let mut x = seed ^ (u64::from(dir) << 56) ^ (u64::from(idx) << 20) ^ 0x5851_f42d_4c95_7f2d;
    let mut next = || {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut chunks = v.chunks_exact_mut(8);
    for c in &mut chunks {
        c.copy_from_slice(&next().to_le_bytes());
    }
    let rest = chunks.into_remainder();
    let w = next().to_le_bytes();
    let n = rest.len();
    rest.copy_from_slice(&w[..n]);
    if len >= HEADER_LEN {
        v[0..4].copy_from_slice(&idx.to_le_bytes());
        v[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        v[8..12].copy_from_slice(&u32::from(dir).to_le_bytes());
    }
    Bytes::from(v)
}

/// PPID of a message: identifies the stream and the ordering, so a
/// misrouted message shows.
pub fn ppid_of(stream: u16, unordered: bool) -> Ppid {
    Ppid(0x1000_0000 | u32::from(stream) << 1 | u32::from(unordered))
}

/// Generates and sends one direction's messages as the send buffer allows.
pub struct Sender {
    pub seed: u64,
    pub dir: u8,
    rng: SimRng,
    pub total: u32,
    pub sent: u32,
    streams: u16,
    unordered_share: f64,
    max_len: usize,
    /// The next message, drawn but not yet accepted by the endpoint.
    next: Option<(u32, u16, bool)>,
    pub metas: Vec<MsgMeta>,
}

impl Sender {
    pub fn new(
        seed: u64,
        dir: u8,
        total: u32,
        streams: u16,
        unordered_share: f64,
        max_len: usize,
    ) -> Self {
        Self {
            seed,
            dir,
            rng: SimRng::new(seed ^ 0xd1b5_4a32_d192_ed03 ^ u64::from(dir)),
            total,
            sent: 0,
            streams,
            unordered_share,
            max_len,
            next: None,
            metas: Vec::with_capacity(total as usize),
        }
    }

    pub fn done(&self) -> bool {
        self.sent == self.total
    }

    /// Queues messages until the send buffer is full or all are sent;
    /// returns how many were queued. `checker` learns each one.
    pub fn pump(
        &mut self,
        ep: &mut Endpoint,
        now: std::time::Instant,
        h: AssociationHandle,
        checker: &mut Checker,
    ) -> u32 {
        let mut n = 0;
        while self.sent < self.total {
            let (len, stream, unordered) = *self.next.get_or_insert_with(|| {
                let len = log_uniform_len(&mut self.rng, self.max_len) as u32;
                let stream = self.rng.below(u64::from(self.streams)) as u16;
                let unordered = self.rng.chance(self.unordered_share);
                (len, stream, unordered)
            });
            if ep.send_buffer_available(h).unwrap_or(0) < len as usize {
                break;
            }
            let idx = self.sent;
            let data = payload(self.seed, self.dir, idx, len as usize);
            let meta = MsgMeta {
                len,
                stream,
                unordered,
                hash: hash_bytes(&data),
            };
            ep.send(
                now,
                h,
                StreamId(stream),
                ppid_of(stream, unordered),
                data,
                SendOptions {
                    unordered,
                    ..SendOptions::default()
                },
            )
            .expect("send accepted when the buffer has room");
            self.next = None;
            self.metas.push(meta);
            checker.expect(idx, meta);
            self.sent += 1;
            n += 1;
        }
        n
    }
}

/// A record being delivered in pieces.
#[derive(Debug)]
struct Record {
    unordered: bool,
    hash: StreamHash,
    head: Vec<u8>,
}

/// Checks one direction's deliveries against what was sent.
#[derive(Debug)]
pub struct Checker {
    pub dir: u8,
    metas: Vec<MsgMeta>,
    delivered: Vec<bool>,
    pub delivered_count: u32,
    pub bytes: u64,
    /// Ordered messages per stream, in send (= SSN / MID) order.
    ordered: HashMap<u16, VecDeque<u32>>,
    /// Unordered messages too short to carry their index, by content.
    short_unordered: HashMap<(u16, u32, u64), Vec<u32>>,
    /// Open piece records per stream.
    records: HashMap<u16, Record>,
    pub pieces: u64,
}

impl Checker {
    pub fn new(dir: u8) -> Self {
        Self {
            dir,
            metas: Vec::new(),
            delivered: Vec::new(),
            delivered_count: 0,
            bytes: 0,
            ordered: HashMap::new(),
            short_unordered: HashMap::new(),
            records: HashMap::new(),
            pieces: 0,
        }
    }

    /// Message `idx` was sent.
    pub fn expect(&mut self, idx: u32, m: MsgMeta) {
        assert_eq!(idx as usize, self.metas.len());
        self.metas.push(m);
        self.delivered.push(false);
        if !m.unordered {
            self.ordered.entry(m.stream).or_default().push_back(idx);
        } else if (m.len as usize) < HEADER_LEN {
            self.short_unordered
                .entry((m.stream, m.len, m.hash))
                .or_default()
                .push(idx);
        }
    }

    /// Everything sent was delivered.
    pub fn complete(&self) -> bool {
        self.delivered_count as usize == self.metas.len()
    }

    pub fn sent(&self) -> usize {
        self.metas.len()
    }

    /// Checks one delivery; panics with `ctx` on any violation.
    pub fn deliver(&mut self, d: &Delivery, ctx: &dyn Fn() -> String) {
        let s = d.stream.0;
        match d.kind {
            DeliveryKind::Message => {
                // A whole ordered message while an ordered record is open
                // on its stream would be out of order.
                let inside = !d.unordered && self.records.get(&s).is_some_and(|r| !r.unordered);
                assert!(
                    !inside,
                    "{}: whole ordered message inside an open ordered record on stream {s}",
                    ctx()
                );
                let head = &d.payload[..d.payload.len().min(HEADER_LEN)];
                self.finish(
                    s,
                    d.unordered,
                    d.ppid,
                    d.payload.len(),
                    hash_bytes(&d.payload),
                    head,
                    ctx,
                );
            }
            DeliveryKind::Piece {
                first,
                end_of_record,
            } => {
                self.pieces += 1;
                assert!(
                    !d.payload.is_empty(),
                    "{}: empty piece on stream {s}",
                    ctx()
                );
                if first {
                    let old = self.records.insert(
                        s,
                        Record {
                            unordered: d.unordered,
                            hash: StreamHash::new(),
                            head: Vec::new(),
                        },
                    );
                    assert!(
                        old.is_none(),
                        "{}: a new record started on stream {s} before the last ended",
                        ctx()
                    );
                }
                let r = self
                    .records
                    .get_mut(&s)
                    .unwrap_or_else(|| panic!("{}: piece without a first piece", ctx()));
                assert_eq!(r.unordered, d.unordered, "{}: piece flag changed", ctx());
                r.hash.write(&d.payload);
                if r.head.len() < HEADER_LEN {
                    let take = (HEADER_LEN - r.head.len()).min(d.payload.len());
                    r.head.extend_from_slice(&d.payload[..take]);
                }
                if end_of_record {
                    let r = self.records.remove(&s).expect("record");
                    let len = r.hash.len as usize;
                    self.finish(s, r.unordered, d.ppid, len, r.hash.finish(), &r.head, ctx);
                }
            }
            other => panic!("{}: unexpected delivery {other:?} on stream {s}", ctx()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        stream: u16,
        unordered: bool,
        ppid: Ppid,
        len: usize,
        hash: u64,
        head: &[u8],
        ctx: &dyn Fn() -> String,
    ) {
        assert_eq!(
            ppid,
            ppid_of(stream, unordered),
            "{}: PPID does not match stream {stream} / unordered {unordered}",
            ctx()
        );
        let idx = if !unordered {
            let q = self.ordered.entry(stream).or_default();
            let Some(idx) = q.pop_front() else {
                panic!(
                    "{}: ordered message on stream {stream} that was never sent (or delivered twice)",
                    ctx()
                );
            };
            if len >= HEADER_LEN {
                let got = u32::from_le_bytes(head[0..4].try_into().expect("4"));
                assert_eq!(
                    got,
                    idx,
                    "{}: stream {stream} delivered message {got} where {idx} was due (out of order or duplicate)",
                    ctx()
                );
            }
            idx
        } else if len >= HEADER_LEN {
            let idx = u32::from_le_bytes(head[0..4].try_into().expect("4"));
            assert!(
                (idx as usize) < self.metas.len(),
                "{}: unordered message {idx} was never sent",
                ctx()
            );
            idx
        } else {
            let key = (stream, len as u32, hash);
            let v = self.short_unordered.get_mut(&key);
            match v.and_then(|v| v.pop()) {
                Some(i) => i,
                None => panic!(
                    "{}: short unordered message ({len} B) on stream {stream} matches nothing outstanding",
                    ctx()
                ),
            }
        };
        let m = self.metas[idx as usize];
        assert!(
            !self.delivered[idx as usize],
            "{}: message {idx} delivered twice",
            ctx()
        );
        assert_eq!(
            (m.stream, m.unordered, m.len as usize),
            (stream, unordered, len),
            "{}: message {idx}: stream/unordered/length differ",
            ctx()
        );
        assert_eq!(m.hash, hash, "{}: message {idx}: bytes differ", ctx());
        self.delivered[idx as usize] = true;
        self.delivered_count += 1;
        self.bytes += len as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_hash_ignores_split_points() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 + 7) as u8).collect();
        let whole = hash_bytes(&data);
        for split in [1, 3, 7, 8, 9, 500, 999] {
            let mut h = StreamHash::new();
            for c in data.chunks(split) {
                h.write(c);
            }
            assert_eq!(h.finish(), whole, "split {split}");
        }
    }
}
