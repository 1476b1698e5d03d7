//! Toy nodes shared by the simulator's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use mcsctp_sim::{Datagram, Node};

/// `10.0.0.n:9899`.
pub fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n], 9899))
}

/// Multicast group `239.1.1.1:9899`.
pub fn group() -> SocketAddr {
    SocketAddr::from(([239, 1, 1, 1], 9899))
}

/// A payload of `size` bytes (at least 8) whose first 8 bytes are `seq`.
pub fn numbered(seq: u64, size: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(size.max(8));
    b.put_u64(seq);
    b.resize(size.max(8), seq as u8);
    b.freeze()
}

/// One datagram as a toy node saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub at: Instant,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub seq: u64,
    pub len: usize,
}

/// A do-everything toy: sends what it is told, records what arrives,
/// optionally echoes (ping-pong, up to `echo_limit` replies), and
/// optionally ticks a periodic timer.
#[derive(Debug)]
pub struct Toy {
    pub addr: SocketAddr,
    pub out: VecDeque<Datagram>,
    pub arrivals: Vec<Arrival>,
    pub echo: bool,
    pub echo_limit: u64,
    pub echoed: u64,
    pub period: Option<Duration>,
    pub next_tick: Option<Instant>,
    pub ticks: Vec<Instant>,
    next_seq: u64,
}

impl Toy {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            out: VecDeque::new(),
            arrivals: Vec::new(),
            echo: false,
            echo_limit: u64::MAX,
            echoed: 0,
            period: None,
            next_tick: None,
            ticks: Vec::new(),
            next_seq: 0,
        }
    }

    /// Echoes up to `limit` datagrams back to their sender.
    pub fn echoing(mut self, limit: u64) -> Self {
        self.echo = true;
        self.echo_limit = limit;
        self
    }

    /// Ticks every `period` (starting one period after it is first polled).
    pub fn ticking(mut self, period: Duration) -> Self {
        self.period = Some(period);
        self
    }

    /// Queues `n` numbered datagrams of `size` bytes to `dst`.
    pub fn send_numbered(&mut self, dst: SocketAddr, n: u64, size: usize) {
        for _ in 0..n {
            let d = Datagram::new(self.addr, dst, numbered(self.next_seq, size));
            self.next_seq += 1;
            self.out.push_back(d);
        }
    }

    /// Queues one datagram of exactly `size` bytes (may be under 8).
    pub fn send_sized(&mut self, dst: SocketAddr, size: usize) {
        self.out
            .push_back(Datagram::new(self.addr, dst, vec![0xab; size]));
    }

    /// Sequence numbers in arrival order.
    pub fn seqs(&self) -> Vec<u64> {
        self.arrivals.iter().map(|a| a.seq).collect()
    }
}

impl Node for Toy {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        let seq = data.get(..8).map_or(u64::MAX, |b| {
            u64::from_be_bytes(b.try_into().unwrap_or([0xff; 8]))
        });
        self.arrivals.push(Arrival {
            at: now,
            local,
            remote,
            seq,
            len: data.len(),
        });
        if self.echo && self.echoed < self.echo_limit {
            self.echoed += 1;
            // Reply from the address it arrived at (unicast) or our own.
            let src = if local.ip().is_multicast() {
                self.addr
            } else {
                local
            };
            self.out.push_back(Datagram::new(src, remote, data));
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if let (Some(p), None) = (self.period, self.next_tick) {
            self.next_tick = Some(now + p);
        }
        self.out.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.next_tick
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let (Some(p), Some(t)) = (self.period, self.next_tick)
            && now >= t
        {
            self.ticks.push(now);
            self.next_tick = Some(t + p);
        }
    }
}

/// A broken node whose timeout is always "now" and never moves on.
#[derive(Debug, Default)]
pub struct StuckTimer {
    pub at: Option<Instant>,
    pub fired: u64,
}

impl Node for StuckTimer {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: Bytes) {}
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.at.get_or_insert(now);
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.at
    }
    fn handle_timeout(&mut self, _: Instant) {
        self.fired += 1;
    }
}

/// A node that only counts what it receives (a second node type for
/// heterogeneous networks).
#[derive(Debug, Default)]
pub struct Counter {
    pub received: u64,
    pub bytes: u64,
}

impl Node for Counter {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, data: Bytes) {
        self.received += 1;
        self.bytes += data.len() as u64;
    }
    fn poll_transmit(&mut self, _: Instant) -> Option<Datagram> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

/// Number of arrivals whose sequence number is below one seen earlier.
pub fn inversions(seqs: &[u64]) -> u64 {
    let mut max = None;
    let mut n = 0;
    for &s in seqs {
        match max {
            Some(m) if s < m => n += 1,
            _ => max = Some(s),
        }
    }
    n
}
