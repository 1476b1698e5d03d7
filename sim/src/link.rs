//! Link configuration, link identities and statistics.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use crate::digest::addr_words;
use crate::node::NodeId;

/// How one directed link treats the packets that cross it.
///
/// Probabilities are per packet and drawn from the network's seeded RNG;
/// values outside `[0, 1]` are clamped and NaN counts as 0. The stages a
/// packet passes, in order: MTU check, bandwidth queue, loss, duplication,
/// reordering, delay + jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` for each packet. A
    /// link with jitter can reorder; one without jitter or reordering is FIFO.
    pub jitter: Duration,
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a packet that survived loss arrives twice.
    pub duplicate: f64,
    /// Probability that a packet is held back by
    /// [`reorder_extra`](Self::reorder_extra), so later packets overtake it.
    pub reorder: f64,
    /// The extra delay of a reordered packet.
    pub reorder_extra: Duration,
    /// Largest UDP payload the link carries; larger packets are dropped
    /// (counted in [`Stats::dropped_mtu`]).
    pub mtu: usize,
    /// Serialisation rate in bits per second of UDP payload (`None`:
    /// unlimited). Packets queue FIFO behind each other; `Some(0)` passes
    /// nothing (every packet counts as a queue drop).
    pub bandwidth_bps: Option<u64>,
    /// Drop-tail limit of the bandwidth queue, in bytes waiting to be
    /// serialised (the packet in service included). Only used with
    /// [`bandwidth_bps`](Self::bandwidth_bps).
    pub queue_limit_bytes: usize,
}

impl LinkConfig {
    /// The default link: 10 ms delay, no jitter, loss, duplication or
    /// reordering, MTU 65 535, unlimited bandwidth, 1 MiB queue.
    pub const DEFAULT: LinkConfig = LinkConfig {
        delay: Duration::from_millis(10),
        jitter: Duration::ZERO,
        loss: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        reorder_extra: Duration::from_millis(20),
        mtu: 65_535,
        bandwidth_bps: None,
        queue_limit_bytes: 1 << 20,
    };

    /// This config with every packet lost: a cut cable.
    pub fn cut(self) -> Self {
        Self { loss: 1.0, ..self }
    }
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One end of a link override: a whole node or one of its addresses.
///
/// A multicast group address is also a valid destination: it applies to
/// every member's copy of datagrams sent to that group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// Every address of this node.
    Node(NodeId),
    /// This one address.
    Addr(SocketAddr),
}

impl From<NodeId> for Endpoint {
    fn from(n: NodeId) -> Self {
        Endpoint::Node(n)
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(a: SocketAddr) -> Self {
        Endpoint::Addr(a)
    }
}

/// Packet counters, for the whole network or one directed link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams handed to the network. Network-wide this counts each GSO
    /// segment once and each multicast datagram once; per link it counts the
    /// copies that entered that link.
    pub sent: u64,
    /// Datagrams handed to a node's `handle_datagram` (duplicates included).
    pub delivered: u64,
    /// Dropped by random loss.
    pub dropped_loss: u64,
    /// Dropped for being larger than the link MTU.
    pub dropped_mtu: u64,
    /// Dropped because the bandwidth queue was full.
    pub dropped_queue: u64,
    /// Addressed to a unicast address no node owns, to a multicast group no
    /// node has joined, or to an address or group its receiver gave up
    /// while the packet was in flight. Network-wide only.
    pub undeliverable: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Deliveries overtaken on their link by a packet sent later.
    pub reordered: u64,
    /// Payload bytes delivered.
    pub bytes_delivered: u64,
    /// Largest backlog of a bandwidth queue, in bytes waiting to be
    /// serialised right after a packet joined it (that packet included).
    /// A maximum, not a count: summed stats keep the largest, and
    /// [`Network::reset_queue_peaks`](crate::Network::reset_queue_peaks)
    /// starts it again.
    pub queue_peak_bytes: u64,
}

impl Stats {
    /// All drops together: loss, MTU, queue and undeliverable.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_mtu + self.dropped_queue + self.undeliverable
    }

    pub(crate) fn add(&mut self, o: &Stats) {
        self.sent += o.sent;
        self.delivered += o.delivered;
        self.dropped_loss += o.dropped_loss;
        self.dropped_mtu += o.dropped_mtu;
        self.dropped_queue += o.dropped_queue;
        self.undeliverable += o.undeliverable;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.bytes_delivered += o.bytes_delivered;
        self.queue_peak_bytes = self.queue_peak_bytes.max(o.queue_peak_bytes);
    }
}

impl std::fmt::Display for Stats {
    /// One line for test logs, e.g. `sent=100 delivered=95 lost=5 mtu=0
    /// queue=0 undeliverable=0 duplicated=0 reordered=2 bytes=9500
    /// queue_peak=0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent={} delivered={} lost={} mtu={} queue={} undeliverable={} duplicated={} reordered={} bytes={} queue_peak={}",
            self.sent,
            self.delivered,
            self.dropped_loss,
            self.dropped_mtu,
            self.dropped_queue,
            self.undeliverable,
            self.duplicated,
            self.reordered,
            self.bytes_delivered,
            self.queue_peak_bytes
        )
    }
}

/// Identity of a directed link: who sends, from and to which address, and
/// which node receives (for multicast, `dst` is the group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkKey {
    pub(crate) from: NodeId,
    pub(crate) to: NodeId,
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
}

impl Hash for LinkKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.from.0) << 32 | u64::from(self.to.0));
        addr_words(&self.src, |w| state.write_u64(w));
        addr_words(&self.dst, |w| state.write_u64(w));
    }
}

/// State of one directed link.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) key: LinkKey,
    pub(crate) cfg: LinkConfig,
    /// Simulated time (ns) at which the bandwidth queue empties.
    pub(crate) busy_until: u64,
    /// Earliest arrival for the next in-order packet (keeps the link FIFO
    /// when its delay shrinks mid-run).
    pub(crate) fifo_floor: u64,
    /// Highest send sequence delivered so far (reorder detection).
    pub(crate) max_delivered: u64,
    pub(crate) stats: Stats,
}

impl Link {
    pub(crate) fn new(key: LinkKey, cfg: LinkConfig) -> Self {
        Self {
            key,
            cfg,
            busy_until: 0,
            fifo_floor: 0,
            max_delivered: 0,
            stats: Stats::default(),
        }
    }

    pub(crate) fn matches(&self, src: &Endpoint, dst: &Endpoint) -> bool {
        let s = match src {
            Endpoint::Node(n) => *n == self.key.from,
            Endpoint::Addr(a) => *a == self.key.src,
        };
        let d = match dst {
            Endpoint::Node(n) => *n == self.key.to,
            Endpoint::Addr(a) => *a == self.key.dst,
        };
        s && d
    }
}

/// Nanoseconds needed to serialise `len` bytes at `bps` (rounded up).
pub(crate) fn tx_time_ns(len: usize, bps: u64) -> u64 {
    let bits = len as u128 * 8 * 1_000_000_000;
    let ns = bits.div_ceil(u128::from(bps));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// Bytes still waiting to be serialised when the queue is busy for
/// `remaining_ns` more (rounded up).
pub(crate) fn backlog_bytes(remaining_ns: u64, bps: u64) -> u64 {
    let b = (u128::from(remaining_ns) * u128::from(bps)).div_ceil(8_000_000_000);
    u64::try_from(b).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialisation_time_of_1250_bytes_at_10_mbps_is_one_ms() {
        assert_eq!(tx_time_ns(1250, 10_000_000), 1_000_000);
        assert_eq!(backlog_bytes(1_000_000, 10_000_000), 1250);
    }
}
