//! Whether IPv4 multicast works on `lo` here, and how a test that needs it
//! skips when it does not, shared by the integration tests that use groups
//! (`group_loopback.rs`, `cli_group.rs`), included with `#[path]`.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// Reports a test that cannot run here: `SKIPPED: <name>: <why>` on stderr
/// (and appended to the file named by `MCSCTP_SKIP_LOG`); with `CI=true`
/// it fails instead.
pub(crate) fn skip(name: &str, reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name}: prerequisites missing (CI=true): {reason}");
    }
    let line = format!("SKIPPED: {name}: {reason}");
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(path) = std::env::var_os("MCSCTP_SKIP_LOG") {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
    }
}

/// A group address of this test process: 239.255.x.`n` with x from the
/// process id, and `port`, so that concurrent runs do not share a group.
pub(crate) fn group_addr(n: u8, port: u16) -> SocketAddr {
    let pid = std::process::id();
    let ip = Ipv4Addr::new(239, 255, (pid % 251) as u8, n);
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

/// Whether IPv4 multicast sent on `lo` to group `g` comes back to a socket
/// that joined the group on `lo` (plain sockets, 2 s at most).
pub(crate) fn multicast_on_lo_works(g: SocketAddr) -> Result<(), String> {
    let SocketAddr::V4(g4) = g else {
        return Err("not IPv4".into());
    };
    let rx =
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| e.to_string())?;
    rx.set_reuse_address(true).map_err(|e| e.to_string())?;
    rx.bind(&g.into()).map_err(|e| format!("bind {g}: {e}"))?;
    rx.join_multicast_v4(g4.ip(), &Ipv4Addr::LOCALHOST)
        .map_err(|e| format!("join {g} on lo: {e}"))?;
    let rx: UdpSocket = rx.into();
    rx.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let tx =
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(|e| e.to_string())?;
    tx.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .map_err(|e| e.to_string())?;
    tx.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
        .map_err(|e| e.to_string())?;
    tx.set_multicast_loop_v4(true).map_err(|e| e.to_string())?;
    tx.send_to(b"probe", &g.into())
        .map_err(|e| format!("send to {g}: {e}"))?;
    let mut buf = [0u8; 16];
    match rx.recv_from(&mut buf) {
        Ok((5, _)) if &buf[..5] == b"probe" => Ok(()),
        Ok(_) => Err("a different datagram arrived".into()),
        Err(e) => Err(format!("multicast sent on lo did not come back: {e}")),
    }
}
