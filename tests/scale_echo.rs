//! Scale over real sockets: one `mcsctp echo-server` process serves 1 000
//! concurrent client associations on loopback, every one echoing
//! correctly, and the server's resident memory per association is
//! measured from /proc (printed; bounded by an assertion).

#[path = "support/ports.rs"]
mod ports;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use mcsctp::{Config, Endpoint};
use tokio::time::timeout;

const CLIENTS: usize = 1000;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
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
    let rss_before = rss_kib(server.0.id());

    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"), 20000 + i as u16);
        cfg.udp_recv_buffer = 64 << 10;
        cfg.udp_send_buffer = 64 << 10;
        clients.push(Endpoint::bind(cfg).expect("bind client"));
    }
    // Connect all, at most 200 handshakes in flight at a time.
    let mut assocs = Vec::with_capacity(CLIENTS);
    for chunk in clients.chunks(200) {
        let futs = chunk
            .iter()
            .map(|c| timeout(Duration::from_secs(30), c.connect(server_addr, 7)));
        for r in futures_join(futs).await {
            assocs.push(r.expect("connect in time").expect("connect"));
        }
    }
    assert_eq!(assocs.len(), CLIENTS);
    // Every association echoes its own message.
    let echoes = assocs.iter().enumerate().map(|(i, a)| async move {
        let msg = Bytes::from(format!("client {i} says hello"));
        a.send(0, msg.clone()).await.expect("send");
        let m = timeout(Duration::from_secs(30), a.recv())
            .await
            .expect("echo in time")
            .expect("recv");
        assert_eq!(m.data, msg, "association {i}");
    });
    futures_join(echoes).await;

    let rss_after = rss_kib(server.0.id());
    let per_assoc = (rss_after.saturating_sub(rss_before)) * 1024 / CLIENTS as u64;
    println!(
        "echo-server RSS: {rss_before} KiB idle, {rss_after} KiB with {CLIENTS} associations: {per_assoc} bytes per association"
    );
    assert!(per_assoc < 64 * 1024, "{per_assoc} bytes per association");
    drop(assocs);
    drop(clients);
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
