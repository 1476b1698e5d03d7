//! Simulator overhead per packet. Prints, asserts nothing about timing.
//!
//! `cargo test -p mcsctp-sim --release --test bench -- --nocapture` for
//! meaningful numbers; `MCSCTP_SIM_BENCH_PACKETS` sets the packet count.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_sim::{Datagram, LinkConfig, Network, Node};

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
    received: u64,
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
            received: 0,
        }
    }
}

impl Node for Blaster {
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, remote: SocketAddr, _: Bytes) {
        self.received += 1;
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

fn packets() -> u64 {
    let default = if cfg!(debug_assertions) {
        100_000
    } else {
        2_000_000
    };
    std::env::var("MCSCTP_SIM_BENCH_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn measure(name: &str, net: &mut Network<Blaster>) {
    let wall = Instant::now();
    net.set_step_limit(u64::MAX);
    net.run_until_idle(Duration::from_secs(1_000_000)).unwrap();
    let ns = wall.elapsed().as_nanos() as f64;
    let s = net.stats();
    println!(
        "{name}: {} packets delivered in {:.3} s wall, {:.0} ns/packet ({:?} simulated)",
        s.delivered,
        ns / 1e9,
        ns / s.delivered.max(1) as f64,
        net.elapsed()
    );
}

fn a() -> SocketAddr {
    "10.0.0.1:9899".parse().unwrap()
}

fn b() -> SocketAddr {
    "10.0.0.2:9899".parse().unwrap()
}

#[test]
fn reports_ns_per_packet_unicast() {
    let n = packets() / 2;
    let mut net = Network::new(1);
    net.set_default_link(LinkConfig {
        jitter: Duration::from_micros(100),
        ..LinkConfig::DEFAULT
    });
    net.add_node(Blaster::new(a(), b(), 256, n, false), &[a()])
        .unwrap();
    net.add_node(Blaster::new(b(), a(), 0, 0, true), &[b()])
        .unwrap();
    measure("unicast window 256, 1200 B", &mut net);
}

#[test]
fn reports_ns_per_packet_unicast_without_payload_digest() {
    let n = packets() / 2;
    let mut net = Network::new(1);
    net.set_digest_payloads(false);
    net.add_node(Blaster::new(a(), b(), 256, n, false), &[a()])
        .unwrap();
    net.add_node(Blaster::new(b(), a(), 0, 0, true), &[b()])
        .unwrap();
    measure("unicast window 256, 1200 B, lengths-only digest", &mut net);
}

#[test]
fn reports_ns_per_packet_multicast_fan_out() {
    // One sender, 8 members; the first member echoes (unicast) each copy,
    // which clocks the sender.
    let members = 8u8;
    let n = packets() / u64::from(members + 1);
    let group: SocketAddr = "239.1.1.1:9899".parse().unwrap();
    let mut net = Network::new(2);
    net.add_node(Blaster::new(a(), group, 64, n, false), &[a()])
        .unwrap();
    for i in 0..members {
        let addr = SocketAddr::from(([10, 0, 1, i], 9899));
        let m = net
            .add_node(Blaster::new(addr, a(), 0, 0, i == 0), &[addr])
            .unwrap();
        net.join(m, group).unwrap();
    }
    measure("multicast 1 -> 8 members, 1200 B", &mut net);
}
