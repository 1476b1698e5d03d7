//! Captures open in Wireshark's tools.
//!
//! These tests need `tshark` (and `text2pcap`). Without them they check
//! what they can without the tools, then say `SKIPPED` (see
//! [`mcsctp_sim::skip`]); under CI (`CI=true`) a missing tool is a failure.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Toy, addr, group};
use mcsctp_sim::skip::skip;
use mcsctp_sim::{Network, TEXT2PCAP_TIME_FORMAT};

/// Whether `tool` runs; if not, the test is skipped (a failure under CI).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(format_args!("{tool} does not run (apt-get install tshark)"));
    }
    ok
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mcsctp-sim-{}-{name}", std::process::id()))
}

/// Unicast IPv4 both ways, multicast to two members, IPv6, and a mixed
/// IPv4 -> IPv6 packet.
fn captured_run() -> Network<Toy> {
    let v6a: SocketAddr = "[2001:db8::1]:9899".parse().unwrap();
    let v6b: SocketAddr = "[2001:db8::2]:5000".parse().unwrap();
    let mut net = Network::new(1);
    net.enable_capture();
    let a = net
        .add_node(Toy::new(addr(1)).echoing(3), &[addr(1)])
        .unwrap();
    let b = net
        .add_node(Toy::new(addr(2)).echoing(3), &[addr(2)])
        .unwrap();
    let c = net.add_node(Toy::new(v6a), &[v6a]).unwrap();
    net.add_node(Toy::new(v6b), &[v6b]).unwrap();
    net.join(b, group()).unwrap();
    net.join(c, group()).unwrap();
    net.node_mut(a).send_numbered(addr(2), 1, 100);
    net.node_mut(a).send_numbered(group(), 2, 333);
    net.node_mut(a).send_numbered(v6b, 1, 64);
    net.node_mut(c).send_numbered(v6b, 2, 1200);
    net.node_mut(c).send_sized(v6b, 7); // odd length: checksum padding
    net.run_until_idle(Duration::from_secs(1)).unwrap();
    net
}

/// Runs tshark on `path` with checksum validation on and returns one line
/// per packet: `ip.version ip.checksum.status udp.checksum.status`.
fn tshark_fields(path: &PathBuf) -> Vec<String> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-T", "fields", "-e", "ip.version", "-e", "ipv6.version"])
        .args([
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "udp.length",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn check_lines(net: &Network<Toy>, lines: &[String]) {
    let cap = net.captured();
    assert_eq!(lines.len(), cap.len(), "{lines:?}");
    for (line, p) in lines.iter().zip(cap) {
        let f: Vec<&str> = line.split('\t').collect();
        let v4 = p.src.is_ipv4() && p.dst.is_ipv4();
        // Checksum status 1 = "Good" in Wireshark.
        if v4 {
            assert_eq!(f[0], "4", "{line}");
            assert_eq!(f[2], "1", "bad IPv4 checksum: {line}");
        } else {
            assert_eq!(f[1], "6", "{line}");
        }
        assert_eq!(f[3], "1", "bad UDP checksum: {line}");
        assert_eq!(f[4], (p.data.len() + 8).to_string(), "{line}");
    }
}

#[test]
fn pcap_file_opens_in_tshark_with_valid_checksums() {
    let net = captured_run();
    assert!(net.captured().len() >= 10);
    if !have("tshark") {
        return;
    }
    let path = temp_path("capture.pcap");
    assert_eq!(net.write_pcap_file(&path).unwrap(), 0);
    let lines = tshark_fields(&path);
    std::fs::remove_file(&path).ok();
    check_lines(&net, &lines);
}

#[test]
fn text2pcap_dump_converts_and_opens_in_tshark() {
    let net = captured_run();
    let mut text = Vec::new();
    assert_eq!(net.write_text2pcap(&mut text).unwrap(), 0);
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("1970-01-01 00:00:00.010000000\n000000 02 00 00 00"));
    if !have("text2pcap") || !have("tshark") {
        return;
    }
    let txt = temp_path("dump.txt");
    let pcap = temp_path("dump.pcap");
    std::fs::write(&txt, &text).unwrap();
    let out = Command::new("text2pcap")
        .args(["-q", "-t", TEXT2PCAP_TIME_FORMAT])
        .arg(&txt)
        .arg(&pcap)
        .output()
        .expect("run text2pcap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = tshark_fields(&pcap);
    std::fs::remove_file(&txt).ok();
    std::fs::remove_file(&pcap).ok();
    check_lines(&net, &lines);
}

#[test]
fn capture_records_what_each_node_received() {
    let net = captured_run();
    let cap = net.captured();
    assert_eq!(cap.len() as u64, net.stats().delivered);
    assert!(cap.windows(2).all(|w| w[0].at <= w[1].at));
    let mc: Vec<_> = cap.iter().filter(|p| p.dst == group()).collect();
    assert_eq!(mc.len(), 4, "2 datagrams x 2 members");
}
