//! Packet capture: pcap files and text2pcap hex dumps of delivered packets.
//!
//! The simulator carries bare UDP payloads, so each captured packet is
//! wrapped in an IPv4 (or IPv6) and UDP header with valid checksums. A
//! packet between an IPv4 and an IPv6 address is written as IPv6 with the
//! IPv4 address mapped (`::ffff:a.b.c.d`). Timestamps are the simulated
//! elapsed time, i.e. the run starts at 1970-01-01 00:00:00.

use std::io::{self, Write};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;

use crate::node::NodeId;

/// A packet as it was handed to its receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedPacket {
    /// Simulated time of delivery since the start of the run.
    pub at: Duration,
    /// The sender's address.
    pub src: SocketAddr,
    /// The receiver's local address (the group, for a multicast copy).
    pub dst: SocketAddr,
    /// The receiving node.
    pub node: NodeId,
    /// The UDP payload.
    pub data: Bytes,
}

/// `LINKTYPE_RAW`: each record starts with an IPv4 or IPv6 header.
const LINKTYPE_RAW: u32 = 101;
/// Magic of a pcap file with nanosecond timestamps.
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const SNAPLEN: u32 = 262_144;

/// Internet checksum accumulation (RFC 1071) over `data`, added to `sum`.
fn sum16(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(u16::from_be_bytes([*last, 0]));
    }
    // Fold often enough that a 64 KiB packet cannot overflow.
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

fn fold(sum: u32) -> u16 {
    let mut s = sum;
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn v6(a: &SocketAddr) -> Ipv6Addr {
    match a {
        SocketAddr::V4(v) => v.ip().to_ipv6_mapped(),
        SocketAddr::V6(v) => *v.ip(),
    }
}

/// Appends an IP + UDP + payload packet to `out`; `false` (nothing written)
/// when the payload is too large for an IP packet.
pub(crate) fn build_ip_udp(
    out: &mut Vec<u8>,
    src: &SocketAddr,
    dst: &SocketAddr,
    payload: &[u8],
) -> bool {
    let udp_len = payload.len() + 8;
    let Ok(udp_len16) = u16::try_from(udp_len) else {
        return false;
    };
    let mut udp = [0u8; 8];
    udp[0..2].copy_from_slice(&src.port().to_be_bytes());
    udp[2..4].copy_from_slice(&dst.port().to_be_bytes());
    udp[4..6].copy_from_slice(&udp_len16.to_be_bytes());
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            let Ok(total) = u16::try_from(udp_len + 20) else {
                return false;
            };
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip[6] = 0x40; // DF
            ip[8] = 64; // TTL
            ip[9] = 17; // UDP
            ip[12..16].copy_from_slice(&s.ip().octets());
            ip[16..20].copy_from_slice(&d.ip().octets());
            let c = fold(sum16(0, &ip));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            let mut pseudo = [0u8; 12];
            pseudo[0..8].copy_from_slice(&ip[12..20]);
            pseudo[9] = 17;
            pseudo[10..12].copy_from_slice(&udp_len16.to_be_bytes());
            let mut c = fold(sum16(sum16(sum16(0, &pseudo), &udp), payload));
            if c == 0 {
                c = 0xffff;
            }
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            out.extend_from_slice(&ip);
        }
        _ => {
            let (s, d) = (v6(src), v6(dst));
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&udp_len16.to_be_bytes());
            ip[6] = 17;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            let mut pseudo = [0u8; 40];
            pseudo[0..32].copy_from_slice(&ip[8..40]);
            pseudo[32..36].copy_from_slice(&(udp_len as u32).to_be_bytes());
            pseudo[39] = 17;
            let mut c = fold(sum16(sum16(sum16(0, &pseudo), &udp), payload));
            if c == 0 {
                c = 0xffff;
            }
            udp[6..8].copy_from_slice(&c.to_be_bytes());
            out.extend_from_slice(&ip);
        }
    }
    out.extend_from_slice(&udp);
    out.extend_from_slice(payload);
    true
}

/// Writes `packets` as a pcap file (nanosecond timestamps, raw IP).
/// Returns how many packets were too large to be written.
pub(crate) fn write_pcap<W: Write>(w: &mut W, packets: &[CapturedPacket]) -> io::Result<usize> {
    write_pcap_udp(
        w,
        packets
            .iter()
            .map(|p| (p.at, p.src, p.dst, p.data.as_ref())),
    )
}

/// Writes UDP datagrams that did not come from a simulation (test vectors,
/// say) as a pcap file like [`Network::write_pcap`](crate::Network::write_pcap)'s:
/// each item is (time since the start, source, destination, UDP payload),
/// wrapped in an IPv4 (or IPv6) and UDP header with valid checksums.
/// Returns how many datagrams were too large for an IP packet and left out.
pub fn write_pcap_udp<'a, W: Write>(
    w: &mut W,
    packets: impl IntoIterator<Item = (Duration, SocketAddr, SocketAddr, &'a [u8])>,
) -> io::Result<usize> {
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&PCAP_MAGIC_NS.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    hdr.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    hdr.extend_from_slice(&SNAPLEN.to_le_bytes());
    hdr.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    w.write_all(&hdr)?;
    let mut skipped = 0;
    let mut buf = Vec::with_capacity(2048);
    for (at, src, dst, data) in packets {
        buf.clear();
        buf.extend_from_slice(&[0u8; 16]);
        if !build_ip_udp(&mut buf, &src, &dst, data) {
            skipped += 1;
            continue;
        }
        let len = (buf.len() - 16) as u32;
        let secs = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        buf[0..4].copy_from_slice(&secs.to_le_bytes());
        buf[4..8].copy_from_slice(&at.subsec_nanos().to_le_bytes());
        buf[8..12].copy_from_slice(&len.min(SNAPLEN).to_le_bytes());
        buf[12..16].copy_from_slice(&len.to_le_bytes());
        let end = 16 + len.min(SNAPLEN) as usize;
        w.write_all(&buf[..end])?;
    }
    Ok(skipped)
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: u64) -> (u64, u64, u64) {
    let z = z + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The `-t` format that [`write_text2pcap`] timestamps use.
pub(crate) const TEXT2PCAP_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S.%f";

/// Writes `packets` as text2pcap input: per packet a timestamp line, then
/// an offset-prefixed hex dump of a dummy Ethernet II frame around the
/// IP + UDP packet. Returns how many packets were too large to be written.
pub(crate) fn write_text2pcap<W: Write>(
    w: &mut W,
    packets: &[CapturedPacket],
) -> io::Result<usize> {
    writeln!(
        w,
        "# mcsctp-sim capture; convert with: text2pcap -t '{TEXT2PCAP_TIME_FORMAT}' THIS_FILE out.pcap"
    )?;
    let mut skipped = 0;
    let mut buf = Vec::with_capacity(2048);
    for p in packets {
        buf.clear();
        buf.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
        let v4 = matches!((p.src, p.dst), (SocketAddr::V4(_), SocketAddr::V4(_)));
        buf.extend_from_slice(if v4 { &[0x08, 0x00] } else { &[0x86, 0xdd] });
        if !build_ip_udp(&mut buf, &p.src, &p.dst, &p.data) {
            skipped += 1;
            continue;
        }
        let secs = p.at.as_secs();
        let (y, mo, d) = civil_from_days(secs / 86_400);
        let sod = secs % 86_400;
        writeln!(
            w,
            "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{:09}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60,
            p.at.subsec_nanos()
        )?;
        for (i, line) in buf.chunks(16).enumerate() {
            write!(w, "{:06x}", i * 16)?;
            for b in line {
                write!(w, " {b:02x}")?;
            }
            writeln!(w)?;
        }
        writeln!(w)?;
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies_to_zero() {
        let mut out = Vec::new();
        let s: SocketAddr = "10.0.0.1:9899".parse().unwrap();
        let d: SocketAddr = "10.0.0.2:9899".parse().unwrap();
        assert!(build_ip_udp(&mut out, &s, &d, b"hello"));
        assert_eq!(out.len(), 20 + 8 + 5);
        assert_eq!(fold(sum16(0, &out[..20])), 0);
        // UDP checksum over pseudo header + segment also verifies to zero.
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&out[12..20]);
        pseudo.extend_from_slice(&[0, 17, 0, 13]);
        assert_eq!(fold(sum16(sum16(0, &pseudo), &out[20..])), 0);
    }

    #[test]
    fn oversized_payload_is_not_written() {
        let mut out = Vec::new();
        let s: SocketAddr = "10.0.0.1:1".parse().unwrap();
        assert!(!build_ip_udp(&mut out, &s, &s, &vec![0u8; 65_535]));
        assert!(out.is_empty());
    }

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }
}
