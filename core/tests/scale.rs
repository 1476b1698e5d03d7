//! One endpoint carries 10 000 associations (the seed's LDAP server: "A
//! typical LDAP server might have thousands of clients and low millisecond
//! response time requirements"). Every client connects, sends one request
//! and reads the answer; then the associations sit idle, and the heap the
//! server endpoint holds for them is measured: a counting global allocator
//! records the bytes freed when the server endpoint is dropped.

// A `GlobalAlloc` implementation is `unsafe` by definition; it only forwards
// to `System` and counts bytes on the measuring thread.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::{Endpoint, Received, SendOptions};
use mcsctp_core::event::{AssociationHandle, Event};
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_sim::{Datagram, Network, Node, NodeId};

struct Counting;

thread_local! {
    // Per thread: only what the measuring thread frees while the gate is
    // open counts. Const-initialised, no destructors: never allocates.
    static GATE: Cell<bool> = const { Cell::new(false) };
    static FREED: Cell<usize> = const { Cell::new(0) };
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn gated() -> bool {
    GATE.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if gated() {
            let _ = ALLOCATED.try_with(|n| n.set(n.get() + layout.size()));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if gated() {
            let _ = FREED.try_with(|n| n.set(n.get() + layout.size()));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if gated() {
            let _ = FREED.try_with(|n| n.set(n.get() + layout.size()));
            let _ = ALLOCATED.try_with(|n| n.set(n.get() + new_size));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes (allocated, freed) while `f` runs on this thread.
fn measure(f: impl FnOnce()) -> (usize, usize) {
    FREED.with(|n| n.set(0));
    ALLOCATED.with(|n| n.set(0));
    GATE.with(|g| g.set(true));
    f();
    GATE.with(|g| g.set(false));
    (ALLOCATED.with(Cell::get), FREED.with(Cell::get))
}

/// A lean endpoint node: 10 000 of them must fit in memory.
struct Host {
    ep: Endpoint,
    addr: SocketAddr,
    buf: Vec<u8>,
    connected: Vec<AssociationHandle>,
    closed: usize,
    received: Vec<Received>,
}

impl Host {
    fn new(config: EndpointConfig, addr: SocketAddr, now: Instant) -> Self {
        Self {
            ep: Endpoint::new(config, now).expect("valid config"),
            addr,
            buf: Vec::with_capacity(2048),
            connected: Vec::new(),
            closed: 0,
            received: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            match e {
                Event::Connected { association, .. } => self.connected.push(association),
                Event::Closed { .. } => self.closed += 1,
                _ => {}
            }
        }
        while let Some(r) = self.ep.poll_recv() {
            self.received.push(r);
        }
    }
}

impl Node for Host {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        self.ep.handle_datagram(now, local, remote, data);
        self.drain();
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.buf.clear();
        let t = self.ep.poll_transmit(now, &mut self.buf)?;
        self.drain();
        Some(Datagram {
            src: self.addr,
            dst: t.destination,
            data: Bytes::copy_from_slice(&self.buf[..t.len]),
            segment_size: t.segment_size,
        })
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.ep.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.drain();
    }
}

const CLIENTS: usize = 10_000;

fn client_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 1 + (i / 256) as u8, (i % 256) as u8, 1], 9899))
}

#[test]
fn one_endpoint_carries_ten_thousand_associations() {
    let mut net: Network<Host> = Network::new(10_000);
    // Payload hashing is not what this test is about.
    net.set_digest_payloads(false);
    let start = net.now();
    let server_addr: SocketAddr = "10.0.0.2:9899".parse().expect("addr");
    let server_cfg = EndpointConfig::with_seed(1);
    let server = net
        .add_node(
            Host::new(server_cfg.clone(), server_addr, start),
            &[server_addr],
        )
        .expect("server");
    let mut clients: Vec<(NodeId, AssociationHandle)> = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let mut cfg = EndpointConfig::with_seed(1000 + i as u64);
        cfg.accept_incoming = false;
        let addr = client_addr(i);
        let id = net
            .add_node(Host::new(cfg, addr, start), &[addr])
            .expect("client");
        let h = net
            .node_mut(id)
            .ep
            .connect(start, server_addr, 9899)
            .expect("connect");
        clients.push((id, h));
    }
    net.set_step_limit(50_000_000);
    net.run_until_cond(
        |n| n.node(server).connected.len() == CLIENTS,
        Duration::from_secs(60),
    )
    .expect("every client connects");
    // Each client sends one request; the server answers each.
    let now = net.now();
    for (i, &(id, h)) in clients.iter().enumerate() {
        let req = Bytes::from(format!("search uid={i:05}").into_bytes());
        net.node_mut(id)
            .ep
            .send(now, h, StreamId(0), Ppid(389), req, SendOptions::default())
            .expect("request");
    }
    let mut answered = 0;
    net.run_until_cond(
        |n| {
            let now = n.now();
            let requests = std::mem::take(&mut n.node_mut(server).received);
            for r in requests {
                let mut reply = b"result ".to_vec();
                reply.extend_from_slice(&r.delivery.payload);
                n.node_mut(server)
                    .ep
                    .send(
                        now,
                        r.association,
                        StreamId(0),
                        Ppid(389),
                        Bytes::from(reply),
                        SendOptions::default(),
                    )
                    .expect("reply");
                answered += 1;
            }
            answered == CLIENTS
        },
        Duration::from_secs(60),
    )
    .expect("every request answered");
    net.run_until_cond(
        |n| {
            clients
                .iter()
                .all(|&(id, _)| n.node(id).received.len() == 1)
        },
        Duration::from_secs(60),
    )
    .expect("every reply delivered");
    for (i, &(id, _)) in clients.iter().enumerate() {
        let r = &net.node(id).received[0];
        assert_eq!(
            &r.delivery.payload[..],
            format!("result search uid={i:05}").as_bytes()
        );
    }
    // Let the delayed SACKs go out and the associations fall idle.
    net.run_for(Duration::from_secs(1)).expect("runs");
    let ep = &net.node(server).ep;
    assert_eq!(ep.association_count(), CLIENTS);
    assert_eq!(ep.memory_used(), 0, "nothing received is held");
    assert_eq!(net.node(server).closed, 0);
    for &h in net.node(server).connected.iter().take(100) {
        assert_eq!(ep.association_state(h), Some("ESTABLISHED"));
    }

    // The server endpoint's heap: what dropping it frees, minus what an
    // endpoint without associations holds.
    let fresh = Endpoint::new(server_cfg.clone(), net.now()).expect("endpoint");
    let (_, empty_endpoint) =
        measure(|| drop(Endpoint::new(server_cfg.clone(), start).expect("endpoint")));
    let old = std::mem::replace(&mut net.node_mut(server).ep, fresh);
    let (_, freed) = measure(|| drop(old));
    let per_association = (freed - empty_endpoint) / CLIENTS;
    println!(
        "server endpoint: {freed} heap bytes for {CLIENTS} idle associations \
         ({empty_endpoint} without any): {per_association} bytes per idle association; \
         simulated {:.2} s, {} packets",
        (net.now() - start).as_secs_f64(),
        net.stats().delivered
    );
    // The bound: an idle association keeps its TCB (tags, TSNs, timers, RTO
    // state), its empty send, retransmission and reassembly queues and the
    // per-stream state of the streams it used, and the endpoint's slot, tag
    // and peer maps and timer entry -- a few KiB. 16 KiB each would make
    // 10 000 clients cost 160 MB; a bound of 8 KiB keeps it under 80 MB.
    assert!(
        per_association < 8 << 10,
        "{per_association} bytes per idle association"
    );
}
