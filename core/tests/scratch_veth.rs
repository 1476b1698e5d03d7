#![allow(missing_docs, dead_code, unreachable_pub)]
mod common;
use bytes::Bytes;
use common::Pair;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::SendOptions;
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_sim::LinkConfig;
use std::time::Duration;

#[test]
fn veth_like() {
    for seed in 0..3 {
        let mut a = EndpointConfig::default();
        a.association.send_buffer = 64 << 20;
        a.max_packet_size = 1472;
        a.association.interleaving = false;
        a.association.receive_buffer = 132544;
        let mut z = a.clone();
        z.association.send_buffer = 1 << 20;
        let mut p = Pair::new(seed, a, z);
        p.net.set_default_link(LinkConfig {
            delay: Duration::from_micros(50),
            loss: 0.01,
            bandwidth_bps: Some(4_000_000_000),
            queue_limit_bytes: 512 << 10,
            ..LinkConfig::DEFAULT
        });
        let (h, hz) = p.connect();
        let t0 = p.net.now();
        let n = 50000usize;
        for i in 0..n {
            p.a()
                .ep
                .send(
                    t0,
                    h,
                    StreamId(0),
                    Ppid(0),
                    Bytes::from(vec![i as u8; 1200]),
                    SendOptions::default(),
                )
                .unwrap();
        }
        let zid = p.z;
        p.net
            .run_until_cond(
                |nn| nn.node(zid).received.len() >= n,
                Duration::from_secs(1000),
            )
            .unwrap();
        let el = p.net.now() - t0;
        let sa = p.a().ep.association_stats(h).unwrap();
        let sz = p.z().ep.association_stats(hz).unwrap();
        println!(
            "seed {seed}: {:.1} MB/s virt ({:?}); pkts {} rtx {} fr {} t3 {} probes {} | z dups {} refused {} sacks {}",
            (n * 1200) as f64 / el.as_secs_f64() / 1e6,
            el,
            sa.packets_sent,
            sa.data_chunks_retransmitted,
            sa.fast_retransmits,
            sa.t3_expirations,
            sa.loss_probes,
            sz.duplicate_chunks_received,
            sz.data_chunks_refused,
            sz.sacks_sent
        );
    }
}
