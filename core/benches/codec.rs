//! Wire codec throughput: parse and build of full-MTU packets, a SACK with
//! 16 gap blocks, CRC32c, each next to a `memcpy` of the same bytes.
//!
//! `cargo bench -p mcsctp-core --bench codec`; results in BENCHMARKS.md.
//! Every group reports `Throughput::Bytes` of the packet, so criterion prints
//! GB/s and the `memcpy` line of the same group is the baseline.

// `criterion_group!` generates an undocumented `pub fn benches`.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use mcsctp_core::chunk::{Chunk, Data, DataFlags, GapBlock, Sack};
use mcsctp_core::packet::{CommonHeader, Packet, PacketBuilder, checksum};
use mcsctp_core::serial::{Ppid, Ssn, StreamId, Tsn, VerificationTag};

/// 1500-byte IP MTU minus the IPv4 (20) and UDP (8) headers.
const MAX_PACKET: usize = 1500 - 20 - 8;

fn header() -> CommonHeader {
    CommonHeader {
        src_port: 5000,
        dst_port: 5001,
        verification_tag: VerificationTag(0x1234_5678),
    }
}

fn data(tsn: u32, len: usize) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::COMPLETE,
        tsn: Tsn(tsn),
        stream: StreamId(1),
        ssn: Ssn(tsn as u16),
        ppid: Ppid(51),
        user_data: Bytes::from(vec![0xA5; len]),
    })
}

/// As many DATA chunks of `len` bytes of user data as fit one packet.
fn fill(len: usize) -> Vec<Chunk> {
    let chunk = 16 + len.next_multiple_of(4);
    let n = (MAX_PACKET - 12) / chunk;
    (0..n as u32).map(|i| data(1000 + i, len)).collect()
}

fn build_into(out: &mut Vec<u8>, chunks: &[Chunk]) -> usize {
    out.clear();
    let mut b = PacketBuilder::new(out, header(), MAX_PACKET);
    for c in chunks {
        b.add_chunk(c).expect("fits");
    }
    b.finish()
}

/// `Packet::parse` (CRC included), every chunk walked and typed, what a
/// receiver reads of each touched.
fn parse_and_walk(bytes: &Bytes) -> u64 {
    let pkt = Packet::parse(bytes.clone()).expect("valid");
    let mut acc = 0u64;
    for raw in pkt.chunks() {
        match Chunk::parse(raw).expect("valid") {
            Chunk::Data(d) => acc += u64::from(d.tsn.0) + d.user_data.len() as u64,
            Chunk::Sack(s) => {
                acc += u64::from(s.cumulative_tsn_ack.0);
                for g in s.gap_blocks() {
                    acc += u64::from(g.start) + u64::from(g.end);
                }
                for t in s.dup_tsns() {
                    acc ^= u64::from(t.0);
                }
            }
            other => acc += other.encoded_len() as u64,
        }
    }
    acc
}

/// parse / build / crc32c / memcpy of one packet kind, side by side.
fn packet_group(g: &mut BenchmarkGroup<'_, WallTime>, chunks: &[Chunk]) {
    let mut out = Vec::with_capacity(MAX_PACKET);
    let len = build_into(&mut out, chunks);
    // A shared `Bytes` (cloned once), as a receive path holds it: cloning it
    // per iteration is a refcount increment, not an allocation.
    let wire = Bytes::from(out.clone());
    drop(wire.clone());
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("parse", |b| b.iter(|| parse_and_walk(black_box(&wire))));
    g.bench_function("build", |b| {
        b.iter(|| build_into(black_box(&mut out), black_box(chunks)))
    });
    g.bench_function("crc32c", |b| b.iter(|| checksum(black_box(&wire))));
    let mut dst = vec![0u8; len];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&wire[..]));
            black_box(&mut dst);
        })
    });
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("data_12x100B");
    packet_group(&mut g, &fill(100));
    g.finish();

    // The largest single DATA chunk a 1472-byte packet holds: 1472 - 12
    // (common header) - 16 (DATA header) = 1444 bytes of user data.
    let mut g = c.benchmark_group("data_1x1444B");
    packet_group(&mut g, &[data(1, MAX_PACKET - 12 - 16)]);
    g.finish();

    let gaps: Vec<GapBlock> = (0..16)
        .map(|i| GapBlock {
            start: 2 + 4 * i,
            end: 3 + 4 * i,
        })
        .collect();
    let dups = [Tsn(990), Tsn(991), Tsn(995), Tsn(999)];
    let sack = Chunk::Sack(Sack::new(Tsn(1000), 65536, &gaps, &dups));
    let mut g = c.benchmark_group("sack_16gaps_4dups");
    packet_group(&mut g, std::slice::from_ref(&sack));
    // Constructing the SACK too (two small Vecs) as a sender does each time.
    let mut out = Vec::with_capacity(MAX_PACKET);
    g.bench_function("new+build", |b| {
        b.iter(|| {
            let s = Chunk::Sack(Sack::new(Tsn(1000), 65536, black_box(&gaps), &dups));
            build_into(&mut out, std::slice::from_ref(&s))
        })
    });
    g.finish();

    let buf: Vec<u8> = (0..1500u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut dst = vec![0u8; buf.len()];
    let mut g = c.benchmark_group("raw_1500B");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("crc32c", |b| b.iter(|| checksum(black_box(&buf))));
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&buf[..]));
            black_box(&mut dst);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = codec
}
criterion_main!(benches);
