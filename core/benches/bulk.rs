//! Bulk transfer through the simulator, mcsctp beside two independent SCTP
//! engines from crates.io (`sctp-proto`, `dcsctp`) and beside a `memcpy` of
//! the same bytes.
//!
//! `cargo bench -p mcsctp-core --bench bulk`; results in BENCHMARKS.md.
//!
//! For each engine, two endpoints of that engine are connected once through
//! the simulator (1 ms one-way delay, no bandwidth limit, 0 % or 1 % random
//! loss); each iteration then sends one batch of messages from A to B and
//! runs the network until B has read them all. What one iteration costs is
//! everything both endpoints and the simulator do for that batch, on one
//! core: so the MB/s printed (`Throughput::Bytes` of user data) are "per
//! core". Messages are built before the clock starts; each engine gets
//! them the way its API takes them without copying where it can (mcsctp
//! and sctp-proto `Bytes`, dcsctp an owned `Vec<u8>` reusing the
//! allocation), and the receiver reads each message once without keeping
//! it.
//!
//! Path MTU 1200: mcsctp `max_packet_size: 1200`, dcsctp `mtu: 1200`,
//! sctp-proto `max_payload_size: 1172` (its packet size is that + 28). The
//! link itself takes any size, because sctp-proto as published overshoots
//! its setting by up to 16 bytes plus padding (see
//! `tests/interop/proto_node.rs`). dcsctp as published formats every packet
//! as hex for its log even with no logger installed; that is measured too.

// `criterion_group!` generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/interop/mod.rs"]
mod interop;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use interop::dcsctp_node::DcNode;
use interop::proto_node::{ProtoNode, ProtoOptions};
use interop::{Duo, McNode, Msg, Stack};
use mcsctp_sim::LinkConfig;

/// Message size and messages per iteration (about 3 MB of user data).
const SIZES: [(usize, usize); 3] = [(100, 30_000), (1200, 2_500), (65_536, 48)];
const LOSSES: [(f64, &str); 2] = [(0.0, "0%"), (0.01, "1%")];

fn bench_link(loss: f64) -> LinkConfig {
    LinkConfig {
        delay: Duration::from_millis(1),
        loss,
        ..LinkConfig::DEFAULT
    }
}

/// A fresh batch: every payload its own allocation, so that engines taking
/// ownership can do so without a copy.
fn batch(size: usize, count: usize) -> Vec<Msg> {
    (0..count)
        .map(|i| Msg {
            stream: 1,
            unordered: false,
            payload: interop::payload(0x42, i, size),
        })
        .collect()
}

fn seed_of(a: SocketAddr) -> u64 {
    match a.ip() {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(v6) => u128::from(v6) as u64,
    }
}

fn bench_engine<S: Stack>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    loss: f64,
    size: usize,
    count: usize,
    make: impl Fn(Instant, SocketAddr, SocketAddr) -> S,
) {
    let mut d: Duo<S, S> = Duo::new(7, bench_link(loss), &make, &make);
    d.net.set_digest_payloads(false);
    d.connect(true);
    d.b().set_keep(false);
    g.bench_function(name, |b| {
        b.iter_batched(
            || batch(size, count),
            |msgs| {
                d.transfer_owned(msgs, Vec::new(), Duration::from_secs(3600))
                    .expect("transfer")
            },
            BatchSize::PerIteration,
        );
    });
    // (A filtered-out benchmark sent nothing beyond the handshake.)
    let stats = d.net.stats();
    assert!(loss == 0.0 || stats.sent < 100 || stats.dropped_loss > 0);
}

fn bulk(c: &mut Criterion) {
    for (size, count) in SIZES {
        for (loss, loss_name) in LOSSES {
            let label = if size % 1024 == 0 {
                format!("{}KiB", size / 1024)
            } else {
                format!("{size}B")
            };
            let mut g = c.benchmark_group(format!("bulk/{label}/loss{loss_name}"));
            g.throughput(Throughput::Bytes((size * count) as u64));
            g.sampling_mode(SamplingMode::Flat);
            g.sample_size(10);
            g.warm_up_time(Duration::from_secs(1));
            g.measurement_time(Duration::from_secs(4));

            if loss == 0.0 {
                let msgs = batch(size, count);
                let mut dst = vec![0u8; size];
                g.bench_function("memcpy", |b| {
                    b.iter(|| {
                        for m in &msgs {
                            dst.copy_from_slice(&m.payload);
                            black_box(&mut dst);
                        }
                    });
                });
            }
            bench_engine(
                &mut g,
                "mcsctp",
                loss,
                size,
                count,
                |epoch, local, remote| {
                    // A seed per node; DATA, as the other two use here.
                    let mut cfg = McNode::config(seed_of(local));
                    cfg.association.interleaving = false;
                    McNode::new(cfg, epoch, local, remote)
                },
            );
            let proto = ProtoOptions::as_published();
            bench_engine(
                &mut g,
                "sctp-proto",
                loss,
                size,
                count,
                |_, local, remote| ProtoNode::new(&proto, local, remote),
            );
            bench_engine(
                &mut g,
                "dcsctp",
                loss,
                size,
                count,
                |epoch, local, remote| {
                    DcNode::new("dcsctp", &DcNode::options(false), epoch, local, remote)
                },
            );
            g.finish();
        }
    }
}

criterion_group!(benches, bulk);
criterion_main!(benches);
