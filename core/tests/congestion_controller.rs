//! A congestion controller installed through
//! `AssociationConfig::congestion` is the one an association uses: a toy
//! fixed-window controller caps the flight and the packets per round trip,
//! and every hook of the `Controller` trait is driven by a real
//! association (RFC 9260 §7.2, with the window computed outside the core).

mod common;

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{DropTsn, Pair};
use mcsctp_core::chunk::ChunkType;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::congestion::{Ack, CongestionEvent, Controller, ControllerFactory, CubicConfig};
use mcsctp_core::event::AssociationHandle;
use mcsctp_sim::LinkConfig;

/// Packet size of the default endpoint configuration.
const MTU: usize = 1452;
/// I-DATA payload that fills a packet: 1452 - 12 - 20.
const CHUNK: usize = 1420;
/// One-way delay of the simulated link.
const DELAY: Duration = Duration::from_millis(25);
const MIB: usize = 1 << 20;

/// What the toy controller was told.
#[derive(Debug, Default)]
struct Calls {
    built: Mutex<Vec<(usize, usize)>>,
    sent: AtomicUsize,
    sent_bytes: AtomicUsize,
    acks: AtomicUsize,
    acked_bytes: AtomicUsize,
    /// Acks that found the sender in Fast Recovery.
    acks_in_recovery: AtomicUsize,
    fast_retransmits: AtomicUsize,
    timeouts: AtomicUsize,
    idles: Mutex<Vec<(Duration, Duration)>>,
}

/// Keeps cwnd at a fixed number of bytes, whatever happens, and counts the
/// calls.
#[derive(Debug, Clone)]
struct FixedWindow {
    window: usize,
    calls: Arc<Calls>,
}

impl Controller for FixedWindow {
    fn on_sent(&mut self, _now: Instant, bytes: usize) {
        self.calls.sent.fetch_add(1, Ordering::Relaxed);
        self.calls.sent_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn on_ack(&mut self, _now: Instant, ack: &Ack) {
        self.calls.acks.fetch_add(1, Ordering::Relaxed);
        self.calls
            .acked_bytes
            .fetch_add(ack.bytes_acked, Ordering::Relaxed);
        if ack.in_fast_recovery {
            self.calls.acks_in_recovery.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_congestion_event(&mut self, _now: Instant, event: CongestionEvent) {
        let counter = match event {
            CongestionEvent::FastRetransmit => &self.calls.fast_retransmits,
            CongestionEvent::RetransmissionTimeout => &self.calls.timeouts,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn on_idle(&mut self, _now: Instant, idle: Duration, rto: Duration) {
        self.calls.idles.lock().unwrap().push((idle, rto));
    }

    fn on_mtu_update(&mut self, _mtu: usize) {}

    fn window(&self) -> usize {
        self.window
    }

    fn ssthresh(&self) -> usize {
        usize::MAX
    }

    fn initial_window(&self) -> usize {
        self.window
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct FixedWindowFactory {
    window: usize,
    calls: Arc<Calls>,
}

impl ControllerFactory for FixedWindowFactory {
    fn build(&self, _now: Instant, mtu: usize, receive_window: usize) -> Box<dyn Controller> {
        self.calls.built.lock().unwrap().push((mtu, receive_window));
        Box::new(FixedWindow {
            window: self.window,
            calls: Arc::clone(&self.calls),
        })
    }
}

/// A with `factory` (or the default controller), Z with the default; a
/// 50 ms round trip without loss or bandwidth limit, so only cwnd and the
/// peer's 1 MiB window bound the flight.
fn pair(factory: Option<Arc<FixedWindowFactory>>) -> (Pair, AssociationHandle) {
    let mut a = EndpointConfig::default();
    if let Some(f) = factory {
        a.association.congestion = f;
    }
    let mut p = Pair::new(11, a, EndpointConfig::default());
    p.net.set_default_link(LinkConfig {
        delay: DELAY,
        ..LinkConfig::DEFAULT
    });
    let (ha, _) = p.connect();
    p.a().log = true;
    (p, ha)
}

fn send(p: &mut Pair, h: AssociationHandle, count: usize) {
    let now = p.net.now();
    for i in 0..count {
        p.a().send_simple(now, h, Bytes::from(vec![i as u8; CHUNK]));
    }
}

/// Runs until Z holds `total` messages; returns the largest flight size A
/// reported on the way, checking `cwnd` against the controller's window.
fn run_to(p: &mut Pair, h: AssociationHandle, total: usize, window: Option<usize>) -> usize {
    let (a, z) = (p.a, p.z);
    let mut max_flight = 0;
    let mut steps = 0u64;
    while p.net.node(z).received.len() < total {
        assert!(p.net.step(), "went idle");
        let (cwnd, _, flight) = p.net.node(a).ep.congestion(h).expect("alive");
        if let Some(w) = window {
            assert_eq!(cwnd, w, "the association reports the controller's window");
        }
        max_flight = max_flight.max(flight);
        steps += 1;
        assert!(steps < 1_000_000, "step bound");
    }
    max_flight
}

/// Runs until A has nothing in flight: the last SACK arrived.
fn settle(p: &mut Pair, h: AssociationHandle) {
    let a = p.a;
    p.net
        .run_until_cond(
            |n| n.node(a).ep.congestion(h).is_some_and(|c| c.2 == 0),
            Duration::from_secs(10),
        )
        .expect("all acknowledged");
}

/// Most DATA-carrying packets A sent within any one round trip.
fn max_data_packets_per_rtt(p: &mut Pair) -> usize {
    let rtt = 2 * DELAY;
    let times: Vec<Instant> = p
        .a()
        .sent
        .iter()
        .filter(|s| s.chunks.contains(&ChunkType::IDATA))
        .map(|s| s.at)
        .collect();
    let mut most = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= rtt {
            lo += 1;
        }
        most = most.max(hi - lo + 1);
    }
    most
}

#[test]
fn a_fixed_window_controller_caps_flight_and_packets_per_round_trip() {
    const PACKETS: usize = 4;
    const MESSAGES: usize = 200;
    let calls = Arc::new(Calls::default());
    let window = PACKETS * CHUNK;
    let (mut p, ha) = pair(Some(Arc::new(FixedWindowFactory {
        window,
        calls: Arc::clone(&calls),
    })));
    // Built once, when the data path opened, for the association's MTU and
    // the peer's a_rwnd (its 1 MiB buffer less the packet it keeps back).
    assert_eq!(*calls.built.lock().unwrap(), [(MTU, MIB - MTU)]);
    assert_eq!(
        p.net.node(p.a).ep.congestion(ha),
        Some((window, usize::MAX, 0))
    );

    let start = p.net.elapsed();
    send(&mut p, ha, MESSAGES);
    let max_flight = run_to(&mut p, ha, MESSAGES, Some(window));
    let fixed_time = p.net.elapsed() - start;
    settle(&mut p, ha);
    // RFC 9260 §6.1 B: new data only while the flight is below cwnd; with
    // whole-packet chunks that is exactly cwnd.
    assert_eq!(max_flight, window);
    let per_rtt = max_data_packets_per_rtt(&mut p);
    assert_eq!(per_rtt, PACKETS, "packets per round trip");
    assert_eq!(calls.sent.load(Ordering::Relaxed), MESSAGES);
    assert_eq!(calls.sent_bytes.load(Ordering::Relaxed), MESSAGES * CHUNK);
    assert_eq!(calls.acked_bytes.load(Ordering::Relaxed), MESSAGES * CHUNK);

    // The same transfer under RFC 9260's own controller opens far wider.
    let (mut d, hd) = pair(None);
    let start = d.net.elapsed();
    send(&mut d, hd, MESSAGES);
    let default_flight = run_to(&mut d, hd, MESSAGES, None);
    let default_time = d.net.elapsed() - start;
    let default_per_rtt = max_data_packets_per_rtt(&mut d);
    println!(
        "fixed window: flight <= {max_flight}, {per_rtt} packets/RTT, {fixed_time:?}; \
         RFC 9260: flight <= {default_flight}, {default_per_rtt} packets/RTT, {default_time:?}"
    );
    assert!(default_flight >= 4 * window, "{default_flight}");
    assert!(default_per_rtt >= 4 * PACKETS, "{default_per_rtt}");
    assert!(
        fixed_time > 2 * default_time,
        "{fixed_time:?} vs {default_time:?}"
    );
}

#[test]
fn every_controller_hook_is_driven_by_the_association() {
    let calls = Arc::new(Calls::default());
    let window = 8 * CHUNK;
    let (mut p, ha) = pair(Some(Arc::new(FixedWindowFactory {
        window,
        calls: Arc::clone(&calls),
    })));
    let (a, z) = (p.a, p.z);

    // A lost chunk: Fast Recovery, reported once, and acks inside it.
    p.a().drop_tsns.push(DropTsn::new(10, 1));
    send(&mut p, ha, 40);
    run_to(&mut p, ha, 40, Some(window));
    let stats = p.net.node(a).ep.association_stats(ha).expect("alive");
    assert_eq!(stats.fast_retransmits, 1);
    assert_eq!(calls.fast_retransmits.load(Ordering::Relaxed), 1);
    assert!(calls.acks_in_recovery.load(Ordering::Relaxed) > 0);
    assert!(calls.acks.load(Ordering::Relaxed) >= 40 / 2);
    assert_eq!(calls.timeouts.load(Ordering::Relaxed), 0);

    // The path fails until T3-rtx expires.
    p.net.set_link_both(a, z, LinkConfig::DEFAULT.cut());
    send(&mut p, ha, 10);
    while p
        .net
        .node(a)
        .ep
        .association_stats(ha)
        .expect("alive")
        .t3_expirations
        == 0
    {
        assert!(p.net.step());
    }
    assert_eq!(calls.timeouts.load(Ordering::Relaxed), 1);
    p.net.clear_link(a, z);
    p.net.clear_link(z, a);
    run_to(&mut p, ha, 50, Some(window));

    // Everything acknowledged; silence for several RTOs, then new data.
    settle(&mut p, ha);
    assert!(calls.idles.lock().unwrap().is_empty());
    let (_, rto) = p.net.node(a).ep.rtt(ha).expect("alive");
    let quiet = p.net.now();
    p.net.run_for(4 * rto).expect("runs");
    send(&mut p, ha, 1);
    run_to(&mut p, ha, 51, Some(window));
    settle(&mut p, ha);
    let idles = calls.idles.lock().unwrap().clone();
    assert_eq!(idles.len(), 1, "{idles:?}");
    let (idle, idle_rto) = idles[0];
    assert!(idle >= 4 * rto && idle >= idle_rto, "{idle:?} {idle_rto:?}");
    assert!(p.net.now() - quiet >= 4 * rto);

    // Every transmission, first or not, was reported in bytes.
    let stats = p.net.node(a).ep.association_stats(ha).expect("alive");
    let chunks = (stats.data_chunks_sent + stats.data_chunks_retransmitted) as usize;
    assert_eq!(calls.sent.load(Ordering::Relaxed), chunks);
    assert_eq!(calls.sent_bytes.load(Ordering::Relaxed), chunks * CHUNK);
    assert_eq!(calls.acked_bytes.load(Ordering::Relaxed), 51 * CHUNK);
    assert_eq!(calls.built.lock().unwrap().len(), 1);
}

/// CUBIC (RFC 9438) selected in the configuration is the controller the
/// association uses: its first Fast Retransmit reduces cwnd by β_cubic =
/// 0.7 where RFC 9260's would halve it, and a lossy transfer completes.
#[test]
fn cubic_selected_in_the_config_reduces_by_beta_cubic() {
    let mut a = EndpointConfig::default();
    a.association.congestion = Arc::new(CubicConfig::default());
    a.association.send_buffer = 4 * MIB;
    let mut p = Pair::new(5, a, EndpointConfig::default());
    let (ha, _) = p.connect();
    let (a, z) = (p.a, p.z);
    let cong = |p: &Pair| p.net.node(a).ep.congestion(ha).expect("alive");
    // RFC 9260 §7.2.1's initial window, ssthresh the peer's a_rwnd.
    assert_eq!(cong(&p), (4404, MIB - MTU, 0));

    // The 60th data packet is lost.
    p.a().drop_tsns.push(DropTsn::new(59, 1));
    const MESSAGES: usize = 2000;
    send(&mut p, ha, MESSAGES);
    let stats = |p: &Pair| p.net.node(a).ep.association_stats(ha).expect("alive");
    let mut before = cong(&p);
    while stats(&p).fast_retransmits == 0 {
        before = cong(&p);
        assert!(p.net.step());
    }
    let after = cong(&p);
    // The SACK may first grow cwnd by up to one MTU (slow start, RFC 9260
    // §7.2.1); then RFC 9438 §4.6: ssthresh = cwnd × 0.7, cwnd = ssthresh.
    assert_eq!(after.0, after.1, "{before:?} -> {after:?}");
    let lo = (before.0 as f64 * 0.7) as usize;
    let hi = ((before.0 + MTU) as f64 * 0.7) as usize;
    assert!((lo..=hi).contains(&after.0), "{before:?} -> {after:?}");
    assert!(after.0 > before.0 * 6 / 10, "not RFC 9260's halving");

    // Over a lossy link with a bottleneck, everything arrives.
    p.net.set_default_link(LinkConfig {
        delay: DELAY,
        loss: 0.01,
        bandwidth_bps: Some(50_000_000),
        queue_limit_bytes: 256 << 10,
        ..LinkConfig::DEFAULT
    });
    let n = run_to(&mut p, ha, MESSAGES, None);
    assert!(n > 0);
    for (i, r) in p.net.node(z).received.iter().enumerate() {
        assert_eq!(r.delivery.payload.len(), CHUNK);
        assert_eq!(r.delivery.payload[0], i as u8, "message {i}");
    }
    assert!(stats(&p).fast_retransmits > 1);
}
