//! Scale over real sockets: one `mcsctp echo-server` process serves 1 100
//! concurrent client associations on loopback, every one echoing
//! correctly, and the server's resident memory per idle association is
//! measured from /proc and bounded.
//!
//! The figure is a difference between two settled measurements with the
//! same one-time costs in both: RSS with 100 warm-up associations (code
//! paged in, runtime and allocator arenas grown) and RSS with 1 000 more,
//! all idle after their echo, divided by 1 000. It is signed: if RSS
//! shrinks, the negative figure is what is printed.

#[path = "support/ports.rs"]
mod ports;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use mcsctp::{Config, Endpoint};
use tokio::time::timeout;

/// Associations set up before the first measurement.
const WARM_UP: usize = 100;
/// Associations measured.
const CLIENTS: usize = 1000;
/// The bound a user would accept for an idle association.
const MAX_BYTES_PER_ASSOCIATION: i64 = 16 * 1024;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> i64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// The process's RSS once it has stopped moving: the same value in 10
/// samples 20 ms apart, waiting at most 5 s (then the last sample, and
/// whether it settled).
async fn settled_rss_kib(pid: u32) -> (i64, bool) {
    let mut last = rss_kib(pid);
    let mut same = 0;
    for _ in 0..250 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = rss_kib(pid);
        if now == last {
            same += 1;
            if same == 10 {
                return (now, true);
            }
        } else {
            same = 0;
            last = now;
        }
    }
    (last, false)
}

/// `n` client endpoints (SCTP ports from `first_port`), each connected to
/// `server` (at most 200 handshakes in flight) and echoing one message.
async fn echoing_clients(
    server: SocketAddr,
    first_port: u16,
    n: usize,
) -> (Vec<Endpoint>, Vec<mcsctp::Association>) {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"), first_port + i as u16);
        cfg.udp_recv_buffer = 64 << 10;
        cfg.udp_send_buffer = 64 << 10;
        clients.push(Endpoint::bind(cfg).expect("bind client"));
    }
    let mut assocs = Vec::with_capacity(n);
    for chunk in clients.chunks(200) {
        let futs = chunk
            .iter()
            .map(|c| timeout(Duration::from_secs(30), c.connect(server, 7)));
        for r in futures_join(futs).await {
            assocs.push(r.expect("connect in time").expect("connect"));
        }
    }
    assert_eq!(assocs.len(), n);
    // Every association echoes its own message.
    let echoes = assocs.iter().enumerate().map(|(i, a)| async move {
        let msg = Bytes::from(format!("client {first_port}+{i} says hello"));
        a.send(0, msg.clone()).await.expect("send");
        let m = timeout(Duration::from_secs(30), a.recv())
            .await
            .expect("echo in time")
            .expect("recv");
        assert_eq!(m.data, msg, "association {first_port}+{i}");
    });
    futures_join(echoes).await;
    (clients, assocs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_endpoint_echoes_for_a_thousand_associations() {
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_mcsctp"))
            .args(["echo-server", "--port", "7", "--bind", "127.0.0.1"])
            .args(["--local-udp-port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn echo-server"),
    );
    // Wait (bounded) until it has bound its UDP socket; the kernel chose
    // the port.
    let mut port = None;
    for _ in 0..2000 {
        port = ports::udp_ports_of(server.0.id()).first().copied();
        if port.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let port = port.expect("echo-server did not bind UDP");
    let server_addr = format!("127.0.0.1:{port}").parse().expect("addr");
    let pid = server.0.id();
    let rss_idle = rss_kib(pid);

    let warm = echoing_clients(server_addr, 20000, WARM_UP).await;
    let (rss_before, settled_before) = settled_rss_kib(pid).await;
    let measured = echoing_clients(server_addr, 20000 + WARM_UP as u16, CLIENTS).await;
    let (rss_after, settled_after) = settled_rss_kib(pid).await;

    let per_assoc = (rss_after - rss_before) * 1024 / CLIENTS as i64;
    println!(
        "echo-server RSS: {rss_idle} KiB idle, {rss_before} KiB with {WARM_UP} associations \
         (settled: {settled_before}), {rss_after} KiB with {} (settled: {settled_after}): \
         {per_assoc} bytes per idle association",
        WARM_UP + CLIENTS
    );
    assert!(
        per_assoc <= MAX_BYTES_PER_ASSOCIATION,
        "{per_assoc} bytes per idle association, bound {MAX_BYTES_PER_ASSOCIATION}"
    );
    drop(measured);
    drop(warm);
}

/// Awaits all futures concurrently (a tiny join_all without a dependency).
async fn futures_join<F: std::future::Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("completed")).collect()
}
