//! Undoing UDP GSO in a loopback capture.
//!
//! mcsctp sends batches of equal-sized SCTP packets with one `sendmsg`
//! (UDP GSO, `UDP_SEGMENT`). On `lo` the packet tap sees the batch before
//! the kernel cuts it into datagrams, so the capture holds one large "UDP
//! datagram" whose payload is several SCTP packets back to back; Wireshark
//! decodes it as one SCTP packet with a bad checksum. The peer never sees
//! that super-packet: it receives the segments. This module rewrites the
//! capture into what went over the wire: each super-packet is split at its
//! segment size, found as the first chunk boundary at which the bytes so
//! far carry a valid CRC32c (the kernel cuts every segment but the last at
//! exactly that size). Everything else is copied unchanged, so a packet that
//! really is corrupt stays corrupt and tshark still reports it.
//!
//! Probe datagrams (to or from `drop_port`, used to see that the capture
//! is running) are removed.

use mcsctp::core::packet::checksum;

/// The rewritten capture.
pub(crate) struct Split {
    /// A classic pcap file.
    pub(crate) pcap: Vec<u8>,
    /// GSO super-packets that were split.
    pub(crate) superpackets: usize,
    /// Datagrams they were split into.
    pub(crate) segments: usize,
    /// Probe datagrams removed.
    pub(crate) probes: usize,
}

struct Endian(bool);

impl Endian {
    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.0 {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
    fn put_u32(&self, out: &mut Vec<u8>, v: u32) {
        if self.0 {
            out.extend_from_slice(&v.to_be_bytes());
        } else {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Rewrites a classic pcap (Ethernet or Linux cooked link type).
pub(crate) fn split_gso(input: &[u8], drop_port: u16) -> Result<Split, String> {
    if input.len() < 24 {
        return Err(format!("pcap too short ({} bytes)", input.len()));
    }
    let magic = u32::from_le_bytes([input[0], input[1], input[2], input[3]]);
    let e = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => Endian(false),
        0xd4c3_b2a1 | 0x4d3c_b2a1 => Endian(true),
        _ => return Err(format!("not a classic pcap file (magic {magic:#010x})")),
    };
    let link_header = match e.u32(&input[20..24]) {
        1 => 14,   // Ethernet: EtherType at 12
        113 => 16, // Linux cooked (SLL): protocol at 14
        l => return Err(format!("unsupported link type {l}")),
    };
    let mut out = Split {
        pcap: input[..24].to_vec(),
        superpackets: 0,
        segments: 0,
        probes: 0,
    };
    let mut off = 24;
    while off < input.len() {
        if off + 16 > input.len() {
            return Err(format!("truncated record header at {off}"));
        }
        let rec = &input[off..off + 16];
        let incl = e.u32(&rec[8..12]) as usize;
        let orig = e.u32(&rec[12..16]) as usize;
        let Some(frame) = input.get(off + 16..off + 16 + incl) else {
            return Err(format!("truncated record at {off}"));
        };
        off += 16 + incl;
        match classify(frame, link_header, incl == orig, drop_port) {
            Frame::Probe => out.probes += 1,
            Frame::Keep => {
                out.pcap.extend_from_slice(rec);
                out.pcap.extend_from_slice(frame);
            }
            Frame::Split { l3, l4, end, seg } => {
                out.superpackets += 1;
                for s in frame[l4 + 8..end].chunks(seg) {
                    let f = rebuild(frame, link_header, l3, l4, s);
                    out.pcap.extend_from_slice(&rec[..8]);
                    e.put_u32(&mut out.pcap, f.len() as u32);
                    e.put_u32(&mut out.pcap, f.len() as u32);
                    out.pcap.extend_from_slice(&f);
                    out.segments += 1;
                }
            }
        }
    }
    Ok(out)
}

enum Frame {
    Probe,
    Keep,
    /// IP header at `l3`, UDP header at `l4`, UDP payload ends at `end`,
    /// segment size `seg`.
    Split {
        l3: usize,
        l4: usize,
        end: usize,
        seg: usize,
    },
}

fn classify(frame: &[u8], link_header: usize, complete: bool, drop_port: u16) -> Frame {
    let Some(ethertype) = frame
        .get(link_header - 2..link_header)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
    else {
        return Frame::Keep;
    };
    let l3 = link_header;
    let (l4, end) = match ethertype {
        0x0800 => {
            let Some(ip) = frame.get(l3..l3 + 20) else {
                return Frame::Keep;
            };
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            if ip[9] != 17 || ihl < 20 {
                return Frame::Keep;
            }
            (l3 + ihl, (l3 + total).min(frame.len()))
        }
        0x86dd => {
            let Some(ip) = frame.get(l3..l3 + 40) else {
                return Frame::Keep;
            };
            let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            if ip[6] != 17 {
                return Frame::Keep;
            }
            (l3 + 40, (l3 + 40 + payload).min(frame.len()))
        }
        _ => return Frame::Keep,
    };
    let Some(udp) = frame.get(l4..l4 + 8) else {
        return Frame::Keep;
    };
    let sport = u16::from_be_bytes([udp[0], udp[1]]);
    let dport = u16::from_be_bytes([udp[2], udp[3]]);
    if sport == drop_port || dport == drop_port {
        return Frame::Probe;
    }
    if !complete || end < l4 + 8 + 16 {
        return Frame::Keep;
    }
    let sctp = &frame[l4 + 8..end];
    let stored = |p: &[u8]| u32::from_le_bytes([p[8], p[9], p[10], p[11]]);
    if checksum(sctp) == stored(sctp) {
        return Frame::Keep;
    }
    // Walk the chunks of the first packet; at each boundary, see whether
    // the bytes so far are a whole SCTP packet.
    let mut at = 12;
    while at + 4 <= sctp.len() {
        let len = usize::from(u16::from_be_bytes([sctp[at + 2], sctp[at + 3]]));
        if len < 4 {
            break;
        }
        at += len.div_ceil(4) * 4;
        if at >= sctp.len() {
            break;
        }
        if checksum(&sctp[..at]) == stored(sctp) {
            return Frame::Split {
                l3,
                l4,
                end,
                seg: at,
            };
        }
    }
    Frame::Keep
}

/// One segment as the kernel would have sent it: the same link and IP
/// headers with lengths (and the IPv4 header checksum) fixed, the UDP
/// checksum left out (0: none, valid for IPv4; tshark does not check it).
fn rebuild(frame: &[u8], link_header: usize, l3: usize, l4: usize, seg: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(l4 + 8 + seg.len());
    f.extend_from_slice(&frame[..l4 + 4]);
    let udp_len = 8 + seg.len();
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(seg);
    let ethertype = u16::from_be_bytes([frame[link_header - 2], frame[link_header - 1]]);
    if ethertype == 0x0800 {
        let total = (l4 - l3 + udp_len) as u16;
        f[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
        f[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
        let sum = ipv4_header_checksum(&f[l3..l4]);
        f[l3 + 10..l3 + 12].copy_from_slice(&sum.to_be_bytes());
    } else {
        let payload = (l4 - l3 - 40 + udp_len) as u16;
        f[l3 + 4..l3 + 6].copy_from_slice(&payload.to_be_bytes());
    }
    f
}

fn ipv4_header_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
