//! UDP port helpers shared by the integration tests that start processes
//! (`cli.rs`, `scale_echo.rs`, the usrsctp interop harness), included with
//! `#[path]`. Waiting for a server to bind replaces sleeping and hoping: on
//! a loaded machine a process may take longer than any fixed sleep to
//! start, and a client started before its server has bound can even be
//! handed the server's port as its own ephemeral one.

#![allow(dead_code)]

use std::collections::HashSet;
use std::net::UdpSocket;
use std::sync::Mutex;

/// A UDP port that is free on the IPv4 and IPv6 wildcards right now, never
/// handed out twice by this process. (usrsctp binds both wildcards.)
pub(crate) fn free_udp_port() -> u16 {
    static USED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..1000 {
        let Ok(s) = UdpSocket::bind("0.0.0.0:0") else {
            continue;
        };
        let Ok(a) = s.local_addr() else { continue };
        drop(s);
        let p = a.port();
        if UdpSocket::bind(("::", p)).is_err() {
            continue;
        }
        let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
        if used.get_or_insert_with(HashSet::new).insert(p) {
            return p;
        }
    }
    panic!("no free UDP port");
}

/// Whether some socket of this host is bound to UDP port `port` (any
/// address, IPv4 or IPv6), read from `/proc/net/udp{,6}`.
pub(crate) fn udp_port_bound(port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    ["/proc/net/udp", "/proc/net/udp6"].iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|s| {
            s.lines().skip(1).any(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|a| a.ends_with(&suffix))
            })
        })
    })
}

/// The UDP ports process `pid` has bound (IPv4 and IPv6), found through
/// the socket inodes among its file descriptors. A server started with
/// port 0 is asked for its port this way, so no other process can take
/// the port between choosing and binding it.
pub(crate) fn udp_ports_of(pid: u32) -> Vec<u16> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes: HashSet<String> = fds
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut ports = Vec::new();
    for f in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(s) = std::fs::read_to_string(f) else {
            continue;
        };
        for l in s.lines().skip(1) {
            let cols: Vec<&str> = l.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if cols.len() > 9 && inodes.contains(cols[9]) {
                let port = cols[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                ports.extend(port);
            }
        }
    }
    ports
}
