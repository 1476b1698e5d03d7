//! Simulator overhead per delivered packet: unicast with and without payload
//! digests, and a multicast fan-out to 8 members.
//!
//! `cargo bench -p mcsctp-sim --bench network`. Every group reports
//! `Throughput::Elements` of the packets the network delivers in one run, so
//! criterion prints packets per second; the time per packet is its inverse.
//! Each run is checked to deliver exactly the expected number of packets, so
//! a figure always describes a complete run.

// `criterion_group!` generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mcsctp_sim::{Datagram, LinkConfig, Network, Node};

/// Data packets the sender sends in one run.
const PACKETS: u64 = 20_000;

/// Keeps `window` packets in flight to `dst`, sending one more per echo,
/// until `total` have been sent. The receiver echoes everything, so every
/// data packet costs the simulator two deliveries.
struct Blaster {
    addr: SocketAddr,
    dst: SocketAddr,
    payload: Bytes,
    total: u64,
    sent: u64,
    to_send: u64,
    echo: bool,
    echoes: Vec<SocketAddr>,
}

impl Blaster {
    fn new(addr: SocketAddr, dst: SocketAddr, window: u64, total: u64, echo: bool) -> Self {
        Self {
            addr,
            dst,
            payload: Bytes::from(vec![0x5a; 1200]),
            total,
            sent: 0,
            to_send: if echo { 0 } else { window },
            echo,
            echoes: Vec::new(),
        }
    }
}

impl Node for Blaster {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, remote: SocketAddr, _: Bytes) {
        if self.echo {
            self.echoes.push(remote);
        } else {
            self.to_send += 1;
        }
    }
    fn poll_transmit(&mut self, _: Instant) -> Option<Datagram> {
        if let Some(to) = self.echoes.pop() {
            return Some(Datagram::new(self.addr, to, self.payload.clone()));
        }
        if self.to_send > 0 && self.sent < self.total {
            self.to_send -= 1;
            self.sent += 1;
            return Some(Datagram::new(self.addr, self.dst, self.payload.clone()));
        }
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
}

fn a() -> SocketAddr {
    "10.0.0.1:9899".parse().unwrap()
}

fn b() -> SocketAddr {
    "10.0.0.2:9899".parse().unwrap()
}

/// A unicast pair: `PACKETS` data packets A -> B, each echoed B -> A.
fn unicast(digest_payloads: bool) -> Network<Blaster> {
    let mut net = Network::new(1);
    net.set_digest_payloads(digest_payloads);
    net.set_default_link(LinkConfig {
        jitter: Duration::from_micros(100),
        ..LinkConfig::DEFAULT
    });
    net.add_node(Blaster::new(a(), b(), 256, PACKETS, false), &[a()])
        .unwrap();
    net.add_node(Blaster::new(b(), a(), 0, 0, true), &[b()])
        .unwrap();
    net
}

const MEMBERS: u8 = 8;

/// One sender, 8 members; the first member echoes (unicast) each copy,
/// which clocks the sender.
fn fan_out() -> Network<Blaster> {
    let group: SocketAddr = "239.1.1.1:9899".parse().unwrap();
    let mut net = Network::new(2);
    net.add_node(Blaster::new(a(), group, 64, PACKETS, false), &[a()])
        .unwrap();
    for i in 0..MEMBERS {
        let addr = SocketAddr::from(([10, 0, 1, i], 9899));
        let m = net
            .add_node(Blaster::new(addr, a(), 0, 0, i == 0), &[addr])
            .unwrap();
        net.join(m, group).unwrap();
    }
    net
}

/// Runs `net` until nothing is left to do and checks it delivered
/// `expected` packets.
fn run(mut net: Network<Blaster>, expected: u64) -> Network<Blaster> {
    net.set_step_limit(u64::MAX);
    net.run_until_idle(Duration::from_secs(1_000_000)).unwrap();
    assert_eq!(net.stats().delivered, expected, "an incomplete run");
    net
}

/// A bench's name, its network and the packets one run delivers.
type Case = (&'static str, fn() -> Network<Blaster>, u64);

fn bench(c: &mut Criterion) {
    let cases: [Case; 3] = [
        ("unicast_1200B_window256", || unicast(true), 2 * PACKETS),
        (
            "unicast_1200B_window256_lengths_only_digest",
            || unicast(false),
            2 * PACKETS,
        ),
        (
            "multicast_1200B_1_to_8",
            fan_out,
            PACKETS * (u64::from(MEMBERS) + 1),
        ),
    ];
    let mut g = c.benchmark_group("sim");
    g.sample_size(20);
    for (name, setup, delivered) in cases {
        g.throughput(Throughput::Elements(delivered));
        g.bench_function(name, |bch| {
            bch.iter_batched(setup, |net| run(net, delivered), BatchSize::LargeInput);
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
