//! The Wireshark dissector `dissector/mcsctp.lua` against this crate's own
//! codecs: tshark, with the script loaded, must decode every chunk and
//! parameter of the extension to the values this crate parses from the
//! same bytes, field by field, with no malformed packet, expert item or Lua
//! error, and nothing on stderr.
//!
//! Two captures: a simulated group (members with group-path loss, so
//! MSACK gap blocks and repairs; MSYNCs on both paths; a BARRIER D=0 from
//! `GroupServer::send_after_group`; a removal, so End of Membership and a
//! key change; a plain peer), and the draft's example
//! packets (appendix "Example Packets"), whose decoded fields are also
//! checked against the values the draft's text and tables give.
//!
//! Needs `tshark`; without it the tests say `SKIPPED` (see
//! [`mcsctp_sim::skip`]), and fail under CI (`CI=true`).

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use mcsctp_core::chunk::{Chunk, ChunkType, RawChunk};
use mcsctp_core::packet::Packet;
use mcsctp_core::param::{ParamType, SupportedExtensions, WireParam};
use mcsctp_core::serial::{Ppid, StreamId, VerificationTag};
use mcsctp_mcast::Mtsn;
use mcsctp_mcast::chunk::msync::MsyncParam;
use mcsctp_mcast::chunk::{self as mchunk, McastChunk};
use mcsctp_mcast::fuzzing::options;
use mcsctp_mcast::param::{GroupAddresses, MulticastCapable, MulticastGroup, StreamRange};
use mcsctp_sim::skip::skip;
use mcsctp_sim::write_pcap_udp;
use mcsctp_testkit::group::{
    build, connect_all, got_of, group_addr, handles, payload, scenario, server,
};

/// Every field the tests compare, in the order of tshark's `-e` options.
const FIELDS: &[&str] = &[
    "mcsctp.group_packet",
    "mcsctp.chunk_type",
    "mcsctp.chunk_flags",
    "mcsctp.chunk_length",
    "mcsctp.mdata.e",
    "mcsctp.mdata.b",
    "mcsctp.mdata.u",
    "mcsctp.mdata.i",
    "mcsctp.mdata.mtsn",
    "mcsctp.mdata.stream",
    "mcsctp.mdata.mid",
    "mcsctp.mdata.ppid",
    "mcsctp.mdata.fsn",
    "mcsctp.mdata.data_length",
    "mcsctp.mdata.data",
    "mcsctp.barrier.d",
    "mcsctp.barrier.group_tag",
    "mcsctp.barrier.tsn",
    "mcsctp.barrier.mtsn",
    "mcsctp.msync.sync_seq",
    "mcsctp.msync.highest_mtsn",
    "mcsctp.msync.mctsn",
    "mcsctp.msync.timestamp",
    "mcsctp.msync.control_seq",
    "mcsctp.msync.param_type",
    "mcsctp.msync.param_length",
    "mcsctp.msync.start.mtsn",
    "mcsctp.msync.forward.new_cum_mtsn",
    "mcsctp.msync.forward.stream",
    "mcsctp.msync.forward.u",
    "mcsctp.msync.forward.mid",
    "mcsctp.msync.key.epoch",
    "mcsctp.msync.key.hmac_id",
    "mcsctp.msync.key.key",
    "mcsctp.msync.feedback.ack_spacing",
    "mcsctp.msync.feedback.ack_delay",
    "mcsctp.msync.feedback.ack_period",
    "mcsctp.msync.feedback.loss_report_delay",
    "mcsctp.msync.end.reason",
    "mcsctp.msack.j",
    "mcsctp.msack.u",
    "mcsctp.msack.s",
    "mcsctp.msack.group_tag",
    "mcsctp.msack.cum_mtsn_ack",
    "mcsctp.msack.reported_through",
    "mcsctp.msack.a_grwnd",
    "mcsctp.msack.gap_count",
    "mcsctp.msack.dup_count",
    "mcsctp.msack.control_echo",
    "mcsctp.msack.timestamp_echo",
    "mcsctp.msack.ack_delay",
    "mcsctp.msack.last_unicast_mtsn",
    "mcsctp.msack.last_sync_seq",
    "mcsctp.msack.group_received",
    "mcsctp.msack.sync_received",
    "mcsctp.msack.gap_start",
    "mcsctp.msack.gap_end",
    "mcsctp.msack.gap_first_mtsn",
    "mcsctp.msack.gap_last_mtsn",
    "mcsctp.msack.missing_first",
    "mcsctp.msack.missing_last",
    "mcsctp.msack.dup_mtsn",
    "mcsctp.mreach.group_tag",
    "mcsctp.mreach.status",
    "mcsctp.mreach.reason",
    "mcsctp.auth.key_epoch",
    "mcsctp.auth.hmac_id",
    "mcsctp.auth.hmac",
    "mcsctp.supported_chunk",
    "mcsctp.supported_all",
    "mcsctp.mcap.version",
    "mcsctp.mcap.ipv4",
    "mcsctp.mcap.ipv6",
    "mcsctp.mgroup.group_tag",
    "mcsctp.mgroup.initial_mtsn",
    "mcsctp.mgroup.port",
    "mcsctp.mgroup.family",
    "mcsctp.mgroup.a",
    "mcsctp.mgroup.s",
    "mcsctp.mgroup.sync_interval",
    "mcsctp.mgroup.range_count",
    "mcsctp.mgroup.group_addr",
    "mcsctp.mgroup.source_addr",
    "mcsctp.mgroup.group_addr6",
    "mcsctp.mgroup.source_addr6",
    "mcsctp.mgroup.first_stream",
    "mcsctp.mgroup.last_stream",
];

/// Fields that must be absent from every frame: errors of any dissector.
const ERROR_FIELDS: &[&str] = &["_ws.malformed", "_ws.expert", "_ws.lua.error"];

/// One frame's decoded (or expected) values: field -> values in order.
type Fields = BTreeMap<String, Vec<String>>;

/// A datagram to capture: source, destination, UDP payload.
type Datagram = (SocketAddr, SocketAddr, Bytes);

fn lua_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dissector/mcsctp.lua")
}

/// Whether tshark runs; if not, the test is skipped (a failure under CI).
fn have_tshark() -> bool {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip("tshark not installed (apt-get install tshark)");
    }
    ok
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mcsctp-dissector-{}-{name}", std::process::id()))
}

fn write_pcap(path: &Path, packets: &[Datagram]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create the pcap"));
    let skipped = write_pcap_udp(
        &mut f,
        packets
            .iter()
            .enumerate()
            .map(|(i, (s, d, b))| (Duration::from_millis(i as u64), *s, *d, b.as_ref())),
    )
    .expect("write the pcap");
    std::io::Write::flush(&mut f).unwrap();
    assert_eq!(skipped, 0);
}

/// Runs tshark with the dissector on `pcap` and returns, per frame, the
/// values of [`FIELDS`] and [`ERROR_FIELDS`] and the Info column. Fails
/// the test on a non-zero exit or anything on stderr but tshark's
/// warning about running as root.
fn tshark(pcap: &Path) -> Vec<(Fields, String)> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .arg("-X")
        .arg(format!("lua_script:{}", lua_script().display()))
        .args(["-d", "udp.port==9899,sctp"])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-E", "separator=/t", "-e", "_ws.col.Info"]);
    for f in FIELDS.iter().chain(ERROR_FIELDS) {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Running as user"))
        .collect();
    assert!(
        out.status.success() && complaints.is_empty(),
        "tshark failed ({}): {stderr}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            let info = cols.next().unwrap_or_default().to_owned();
            let mut fields = Fields::new();
            for (name, v) in FIELDS.iter().chain(ERROR_FIELDS).zip(cols) {
                if !v.is_empty() {
                    fields.insert(
                        (*name).to_owned(),
                        v.split(',').map(str::to_owned).collect(),
                    );
                }
            }
            (fields, info)
        })
        .collect()
}

/// Collects expected values for one frame.
#[derive(Default)]
struct Expect(Fields);

impl Expect {
    fn push(&mut self, field: &str, v: impl ToString) {
        assert!(FIELDS.contains(&field), "{field} is not in FIELDS");
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(v.to_string());
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn flag(v: bool) -> u8 {
    u8::from(v)
}

fn is_group_destination(dst: &SocketAddr) -> bool {
    dst.port() == mcsctp_mcast::defaults::GROUP_PORT || dst.ip().is_multicast()
}

/// What the dissector must show for one packet, from this crate's parsers
/// (independently of the script): every chunk and parameter of the
/// extension, field by field.
fn expected(data: &Bytes, dst: &SocketAddr) -> Fields {
    let p = Packet::parse_with(data.clone(), &options(true))
        .unwrap_or_else(|e| panic!("captured packet does not parse: {e}"));
    let group_packet = is_group_destination(dst);
    let mut e = Expect::default();
    let mut ours = false;
    for (index, raw) in p.chunks().enumerate() {
        if let Some(parsed) = McastChunk::parse(&raw) {
            ours = true;
            let c = parsed.unwrap_or_else(|err| panic!("{:?}: {err}", raw.typ));
            e.push("mcsctp.chunk_type", raw.typ.0);
            e.push("mcsctp.chunk_flags", format!("0x{:02x}", raw.flags));
            e.push("mcsctp.chunk_length", 4 + raw.value.len());
            expect_chunk(&mut e, &raw, &c);
        } else if raw.typ == ChunkType::AUTH && index == 0 && group_packet {
            ours = true;
            let v = &raw.value;
            e.push("mcsctp.auth.key_epoch", u16::from_be_bytes([v[0], v[1]]));
            e.push("mcsctp.auth.hmac_id", u16::from_be_bytes([v[2], v[3]]));
            e.push("mcsctp.auth.hmac", hex(&v[4..]));
        } else if raw.typ == ChunkType::INIT || raw.typ == ChunkType::INIT_ACK {
            ours |= expect_init_params(&mut e, raw);
        }
    }
    if ours {
        e.push("mcsctp.group_packet", flag(group_packet));
    }
    e.0
}

fn expect_chunk(e: &mut Expect, raw: &RawChunk, c: &McastChunk) {
    match c {
        McastChunk::Mdata(m) => {
            let f = raw.flags;
            e.push("mcsctp.mdata.e", f & 1);
            e.push("mcsctp.mdata.b", f >> 1 & 1);
            e.push("mcsctp.mdata.u", f >> 2 & 1);
            e.push("mcsctp.mdata.i", f >> 3 & 1);
            e.push("mcsctp.mdata.mtsn", m.mtsn.0);
            e.push("mcsctp.mdata.stream", m.stream.0);
            e.push("mcsctp.mdata.mid", m.mid.0);
            if f & 2 != 0 {
                e.push("mcsctp.mdata.ppid", m.ppid.0);
            } else {
                e.push("mcsctp.mdata.fsn", m.fsn.0);
            }
            e.push("mcsctp.mdata.data_length", m.user_data.len());
            e.push("mcsctp.mdata.data", hex(&m.user_data));
        }
        McastChunk::Barrier(b) => {
            e.push("mcsctp.barrier.d", flag(b.unicast_first));
            e.push(
                "mcsctp.barrier.group_tag",
                format!("0x{:08x}", b.group_tag.0),
            );
            e.push("mcsctp.barrier.tsn", b.tsn.0);
            e.push("mcsctp.barrier.mtsn", b.mtsn.0);
        }
        McastChunk::Msync(m) => {
            e.push("mcsctp.msync.sync_seq", m.sync_sequence);
            e.push("mcsctp.msync.highest_mtsn", m.highest_mtsn_sent.0);
            e.push("mcsctp.msync.mctsn", m.mctsn.0);
            e.push("mcsctp.msync.timestamp", m.timestamp);
            e.push("mcsctp.msync.control_seq", m.control_sequence);
            for (rp, param) in m.raw_params().zip(m.params()) {
                e.push("mcsctp.msync.param_type", format!("0x{:04x}", rp.typ.0));
                e.push("mcsctp.msync.param_length", 4 + rp.value.len());
                match param {
                    MsyncParam::Start(s) => e.push("mcsctp.msync.start.mtsn", s.start_mtsn.0),
                    MsyncParam::Forward(f) => {
                        e.push("mcsctp.msync.forward.new_cum_mtsn", f.new_cumulative_mtsn.0);
                        for entry in f.entries() {
                            e.push("mcsctp.msync.forward.stream", entry.stream.0);
                            e.push("mcsctp.msync.forward.u", flag(entry.unordered));
                            e.push("mcsctp.msync.forward.mid", entry.mid.0);
                        }
                    }
                    MsyncParam::GroupKey(k) => {
                        e.push("mcsctp.msync.key.epoch", k.key_epoch);
                        e.push("mcsctp.msync.key.hmac_id", k.hmac_id);
                        e.push("mcsctp.msync.key.key", hex(&k.key));
                    }
                    MsyncParam::Feedback(f) => {
                        e.push("mcsctp.msync.feedback.ack_spacing", f.ack_spacing);
                        e.push("mcsctp.msync.feedback.ack_delay", f.ack_delay_us);
                        e.push("mcsctp.msync.feedback.ack_period", f.ack_period_us);
                        e.push(
                            "mcsctp.msync.feedback.loss_report_delay",
                            f.loss_report_delay_us,
                        );
                    }
                    MsyncParam::End(_) => e.push(
                        "mcsctp.msync.end.reason",
                        u16::from_be_bytes([rp.value[0], rp.value[1]]),
                    ),
                    other => panic!("unexpected MSYNC parameter {other:?}"),
                }
            }
        }
        McastChunk::Msack(m) => {
            e.push("mcsctp.msack.j", flag(m.joined));
            e.push("mcsctp.msack.u", flag(m.last_unicast_mtsn.is_some()));
            e.push("mcsctp.msack.s", flag(m.sync.is_some()));
            e.push("mcsctp.msack.group_tag", format!("0x{:08x}", m.group_tag.0));
            let cum = m.cumulative_mtsn_ack.0;
            let through = m.reported_through.0;
            e.push("mcsctp.msack.cum_mtsn_ack", cum);
            e.push("mcsctp.msack.reported_through", through);
            e.push("mcsctp.msack.a_grwnd", m.a_grwnd);
            e.push("mcsctp.msack.gap_count", m.gap_count());
            e.push("mcsctp.msack.dup_count", m.dup_count());
            e.push("mcsctp.msack.control_echo", m.control_echo);
            e.push("mcsctp.msack.timestamp_echo", m.timestamp_echo);
            e.push("mcsctp.msack.ack_delay", m.ack_delay_us);
            e.push(
                "mcsctp.msack.last_unicast_mtsn",
                m.last_unicast_mtsn.map_or(0, |t| t.0),
            );
            let s = m.sync.unwrap_or_default();
            e.push("mcsctp.msack.last_sync_seq", s.last_sync_sequence);
            e.push("mcsctp.msack.group_received", s.group_received);
            e.push("mcsctp.msack.sync_received", s.sync_received);
            // Missing: ahead of the cumulative ack, up to Reported
            // Through, in no gap block (draft §"MSACK").
            let mut next = cum.wrapping_add(1);
            for g in m.gap_blocks() {
                let (first, last) = (
                    g.first(m.cumulative_mtsn_ack).0,
                    g.last(m.cumulative_mtsn_ack).0,
                );
                e.push("mcsctp.msack.gap_start", g.start);
                e.push("mcsctp.msack.gap_end", g.end);
                e.push("mcsctp.msack.gap_first_mtsn", first);
                e.push("mcsctp.msack.gap_last_mtsn", last);
                if first != next {
                    e.push("mcsctp.msack.missing_first", next);
                    e.push("mcsctp.msack.missing_last", first.wrapping_sub(1));
                }
                next = last.wrapping_add(1);
            }
            let ahead = through.wrapping_sub(cum);
            if (1..=65_535).contains(&ahead)
                && through.wrapping_sub(next) < 65_536
                && next != through.wrapping_add(1)
            {
                e.push("mcsctp.msack.missing_first", next);
                e.push("mcsctp.msack.missing_last", through);
            }
            for d in m.dup_mtsns() {
                e.push("mcsctp.msack.dup_mtsn", d.0);
            }
        }
        McastChunk::Mreach(m) => {
            e.push(
                "mcsctp.mreach.group_tag",
                format!("0x{:08x}", m.group_tag.0),
            );
            e.push("mcsctp.mreach.status", raw.value[4]);
            e.push("mcsctp.mreach.reason", raw.value[5]);
        }
        other => panic!("unexpected chunk {other:?}"),
    }
}

/// The extension's parameters of an INIT or INIT ACK; whether there were
/// any.
fn expect_init_params(e: &mut Expect, raw: RawChunk) -> bool {
    let common = match Chunk::parse(raw).expect("INIT or INIT ACK parses") {
        Chunk::Init(i) => i.0,
        Chunk::InitAck(i) => i.0,
        _ => unreachable!(),
    };
    let mut ours = false;
    for rp in common.params.iter() {
        if rp.typ == ParamType(0x8008) {
            let ext = common
                .params
                .find::<SupportedExtensions>()
                .expect("present")
                .expect("valid");
            let listed: Vec<u8> = rp
                .value
                .iter()
                .copied()
                .filter(|t| mchunk::ALL.contains(&ChunkType(*t)))
                .collect();
            if !listed.is_empty() {
                ours = true;
                for t in &listed {
                    e.push("mcsctp.supported_chunk", t);
                }
                let all = mchunk::ALL.iter().all(|t| ext.supports(*t));
                e.push("mcsctp.supported_all", flag(all));
            }
        } else if rp.typ == MulticastCapable::TYPE {
            ours = true;
            let c = MulticastCapable::from_raw(&rp).expect("valid Multicast-Capable");
            e.push("mcsctp.mcap.version", c.version);
            e.push("mcsctp.mcap.ipv4", flag(c.ipv4));
            e.push("mcsctp.mcap.ipv6", flag(c.ipv6));
        } else if rp.typ == MulticastGroup::TYPE {
            ours = true;
            let g = MulticastGroup::from_raw(&rp).expect("valid Multicast-Group");
            e.push(
                "mcsctp.mgroup.group_tag",
                format!("0x{:08x}", g.group_tag.0),
            );
            e.push("mcsctp.mgroup.initial_mtsn", g.initial_mtsn.0);
            e.push("mcsctp.mgroup.port", g.port);
            let v4 = g.addresses.group().is_ipv4();
            e.push("mcsctp.mgroup.family", if v4 { 4 } else { 6 });
            e.push("mcsctp.mgroup.a", flag(g.authenticated));
            e.push("mcsctp.mgroup.s", flag(g.source_specific));
            e.push("mcsctp.mgroup.sync_interval", g.sync_interval_ms);
            e.push("mcsctp.mgroup.range_count", g.stream_ranges().len());
            let (ga, sa) = if v4 {
                ("mcsctp.mgroup.group_addr", "mcsctp.mgroup.source_addr")
            } else {
                ("mcsctp.mgroup.group_addr6", "mcsctp.mgroup.source_addr6")
            };
            e.push(ga, g.addresses.group());
            e.push(sa, g.addresses.source());
            for r in g.stream_ranges() {
                e.push("mcsctp.mgroup.first_stream", r.first.0);
                e.push("mcsctp.mgroup.last_stream", r.last.0);
            }
        }
    }
    ours
}

/// Decodes `packets` with tshark and compares every frame with
/// [`expected`]; returns the decoded frames for further checks.
fn decode_and_compare(name: &str, packets: &[Datagram]) -> Vec<(Fields, String)> {
    let path = temp_path(name);
    write_pcap(&path, packets);
    let frames = tshark(&path);
    std::fs::remove_file(&path).ok();
    assert_eq!(frames.len(), packets.len(), "one line per frame");
    for (i, ((got, info), (src, dst, data))) in frames.iter().zip(packets).enumerate() {
        let frame = i + 1;
        for f in ERROR_FIELDS {
            assert!(
                !got.contains_key(*f),
                "frame {frame} ({src} -> {dst}, {info}): {f} = {:?}",
                got[*f]
            );
        }
        let want = expected(data, dst);
        let got_fields: Fields = got
            .iter()
            .filter(|(k, _)| !k.starts_with("_ws"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if got_fields != want {
            let keys: std::collections::BTreeSet<&String> =
                got_fields.keys().chain(want.keys()).collect();
            let diff: Vec<String> = keys
                .into_iter()
                .filter(|k| got_fields.get(*k) != want.get(*k))
                .map(|k| {
                    format!(
                        "{k}: tshark {:?}, expected {:?}",
                        got_fields.get(k),
                        want.get(k)
                    )
                })
                .collect();
            panic!(
                "frame {frame} ({src} -> {dst}, {info}):\n  {}",
                diff.join("\n  ")
            );
        }
        assert!(
            !info.contains("RESERVED"),
            "frame {frame}: the Info column names every chunk: {info}"
        );
    }
    frames
}

/// All values of `field` over `frames`.
fn values<'a>(frames: &'a [(Fields, String)], field: &str) -> Vec<&'a str> {
    frames
        .iter()
        .filter_map(|(f, _)| f.get(field))
        .flatten()
        .map(String::as_str)
        .collect()
}

/// A group of two members (one losing 20 % of the group path), and a plain
/// peer, captured from before the handshakes: 60 group messages, some of
/// them two fragments long, then a unicast reply after the group (BARRIER
/// D=0) to every member; then the server removes the lossy member (End of
/// Membership, and a key change for the other).
#[test]
fn tshark_decodes_a_simulated_group_as_the_codecs_do() {
    if !have_tshark() {
        return;
    }
    let mut s = scenario(3, vec![0.0, 0.2]);
    s.plain = 1;
    s.messages = 0;
    // Enough group-path duplication for MSACK duplicates in a short run.
    s.duplicate = 0.05;
    let mut w = build(&s);
    w.net.enable_capture();
    connect_all(&mut w);
    let _ = w.net.run_for(Duration::from_millis(20));
    let hs = handles(&mut w);
    let total = 60u32;
    for i in 0..total {
        let now = w.net.now();
        // Every tenth message is larger than a packet: two fragments.
        let size = if i % 10 == 9 { 1800 } else { 200 };
        server(&mut w.net, w.server)
            .ep
            .extension_mut()
            .send(now, StreamId(0), Ppid(1234), payload(i, size))
            .unwrap();
        let _ = w.net.run_for(Duration::from_micros(100));
    }
    for &h in &hs {
        server(&mut w.net, w.server)
            .ep
            .extension_mut()
            .send_after_group(h, StreamId(1), Ppid(7), Bytes::from_static(b"reply"));
    }
    let everyone: Vec<_> = w.members.iter().chain(&w.plain).copied().collect();
    let want = |id| {
        if w.members.contains(&id) {
            total as usize + 1
        } else {
            total as usize
        }
    };
    let wants: Vec<(mcsctp_sim::NodeId, usize)> =
        everyone.iter().map(|&id| (id, want(id))).collect();
    w.net
        .run_until_cond(
            |net| wants.iter().all(|&(id, n)| got_of(net, id).len() >= n),
            Duration::from_secs(10),
        )
        .expect("every member gets every message and its reply");
    let _ = w.net.run_for(Duration::from_millis(50));
    // The server removes the lossy member: End of Membership in its
    // control state, and a key change for the other one (Group Key with
    // the next epoch).
    let now = w.net.now();
    server(&mut w.net, w.server)
        .ep
        .extension_mut()
        .remove(now, hs[1]);
    let _ = w.net.run_for(Duration::from_millis(100));

    let packets: Vec<Datagram> = w
        .net
        .captured()
        .iter()
        .map(|p| (p.src, p.dst, p.data.clone()))
        .collect();
    let frames = decode_and_compare("group.pcap", &packets);

    // The run covers what the dissector is for.
    let group = group_addr();
    let types = values(&frames, "mcsctp.chunk_type");
    for (t, name) in [
        (65, "MDATA"),
        (66, "BARRIER"),
        (131, "MSYNC"),
        (195, "MSACK"),
        (196, "MREACH"),
    ] {
        assert!(
            types.contains(&t.to_string().as_str()),
            "no {name} in the capture"
        );
    }
    assert!(
        values(&frames, "mcsctp.msack.gap_start").len() > 1,
        "group-path loss shows as MSACK gap blocks"
    );
    assert!(!values(&frames, "mcsctp.msack.missing_first").is_empty());
    assert!(
        !values(&frames, "mcsctp.msack.dup_mtsn").is_empty(),
        "group-path duplication shows as MSACK duplicates"
    );
    assert!(!values(&frames, "mcsctp.mdata.fsn").is_empty(), "fragments");
    assert!(
        values(&frames, "mcsctp.barrier.d")
            .iter()
            .all(|d| *d == "0")
    );
    assert!(values(&frames, "mcsctp.barrier.d").len() >= hs.len());
    assert!(!values(&frames, "mcsctp.msync.start.mtsn").is_empty());
    assert!(!values(&frames, "mcsctp.msync.feedback.ack_spacing").is_empty());
    assert!(!values(&frames, "mcsctp.msync.key.key").is_empty());
    assert_eq!(
        values(&frames, "mcsctp.msync.end.reason").first(),
        Some(&"1"),
        "End of Membership, removed by the server's application"
    );
    assert!(
        values(&frames, "mcsctp.msync.key.epoch").contains(&"2"),
        "the key change after the removal"
    );
    // Repairs: MDATA on an association (not to the group).
    let repairs = frames
        .iter()
        .zip(&packets)
        .filter(|((f, _), (_, dst, _))| f.contains_key("mcsctp.mdata.mtsn") && *dst != group)
        .count();
    assert!(repairs > 0, "no MDATA repair on an association");
    // Group packets: to the group's port, marked, authenticated.
    let group_frames: Vec<_> = frames
        .iter()
        .zip(&packets)
        .filter(|(_, (_, dst, _))| *dst == group)
        .map(|(f, _)| f)
        .collect();
    assert!(!group_frames.is_empty());
    for (f, info) in group_frames {
        assert_eq!(f["mcsctp.group_packet"], ["1"], "{info}");
        assert_eq!(f["mcsctp.auth.key_epoch"].len(), 1, "{info}");
    }
    // Every member's INIT ACK places it in the group of the testkit's
    // server configuration.
    let mut init_acks = 0;
    for (f, _) in &frames {
        if let Some(port) = f.get("mcsctp.mgroup.port") {
            init_acks += 1;
            assert_eq!(port, &["9907"]);
            assert_eq!(f["mcsctp.mgroup.group_addr"], ["239.1.2.3"]);
            assert_eq!(f["mcsctp.mgroup.source_addr"], ["10.0.0.1"]);
            assert_eq!(f["mcsctp.mgroup.group_tag"], ["0x6a1f0c33"]);
        }
    }
    assert_eq!(init_acks, s.losses.len(), "one INIT ACK per member");
    // The plain peer's packets decode too (and carry nothing of ours).
    let plain_addr = mcsctp_testkit::group::member_addr(s.losses.len());
    let plain_frames = frames
        .iter()
        .zip(&packets)
        .filter(|(_, (src, dst, _))| *src == plain_addr || *dst == plain_addr)
        .count();
    assert!(plain_frames > 0);
}

/// The draft's example packets decode to the values of the draft's text
/// and tables (appendix "Example Packets").
#[test]
fn tshark_decodes_the_draft_examples() {
    if !have_tshark() {
        return;
    }
    let draft = common::draft_text();
    let anchors = common::example_anchors(&draft);
    let server: SocketAddr = "10.0.0.1:9899".parse().unwrap();
    let member: SocketAddr = "10.0.0.2:9899".parse().unwrap();
    let group = SocketAddr::new(IpAddr::from([239, 1, 2, 3]), 9907);
    // Group packets from another UDP port than 9899: only the script's
    // registration of the group port makes them SCTP.
    let group_source: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let packets: Vec<Datagram> = anchors
        .iter()
        .map(|a| {
            let bytes = Bytes::from(common::example(&draft, a));
            let (src, dst) = match a.as_str() {
                "ex-mdata" => (group_source, group),
                // To a unicast address: a group packet by its UDP port.
                "ex-msync" => (group_source, SocketAddr::new(member.ip(), 9907)),
                "ex-mcap" | "ex-mreach" | "ex-msack" => (member, server),
                _ => (server, member),
            };
            (src, dst, bytes)
        })
        .collect();
    let frames = decode_and_compare("examples.pcap", &packets);
    let by_anchor: BTreeMap<&str, &Fields> = anchors
        .iter()
        .map(String::as_str)
        .zip(frames.iter().map(|(f, _)| f))
        .collect();
    let get =
        |a: &str, f: &str| -> Vec<String> { by_anchor[a].get(f).cloned().unwrap_or_default() };
    let check = |a: &str, f: &str, want: &[&str]| {
        assert_eq!(get(a, f), want, "{a}: {f}");
    };
    // INIT with Multicast-Capable: Version 1, flags 0x03.
    check("ex-mcap", "mcsctp.mcap.version", &["1"]);
    check("ex-mcap", "mcsctp.mcap.ipv4", &["1"]);
    check("ex-mcap", "mcsctp.mcap.ipv6", &["1"]);
    check(
        "ex-mcap",
        "mcsctp.supported_chunk",
        &["65", "66", "131", "195", "196"],
    );
    check("ex-mcap", "mcsctp.supported_all", &["1"]);
    // INIT ACK with Multicast-Group.
    check("ex-mgroup", "mcsctp.mgroup.group_tag", &["0x6a1f0c33"]);
    check("ex-mgroup", "mcsctp.mgroup.initial_mtsn", &["976"]);
    check("ex-mgroup", "mcsctp.mgroup.port", &["9907"]);
    check("ex-mgroup", "mcsctp.mgroup.family", &["4"]);
    check("ex-mgroup", "mcsctp.mgroup.a", &["1"]);
    check("ex-mgroup", "mcsctp.mgroup.s", &["1"]);
    check("ex-mgroup", "mcsctp.mgroup.sync_interval", &["100"]);
    check("ex-mgroup", "mcsctp.mgroup.range_count", &["2"]);
    check("ex-mgroup", "mcsctp.mgroup.group_addr", &["239.1.2.3"]);
    check("ex-mgroup", "mcsctp.mgroup.source_addr", &["10.0.0.1"]);
    check("ex-mgroup", "mcsctp.mgroup.first_stream", &["1", "8"]);
    check("ex-mgroup", "mcsctp.mgroup.last_stream", &["1", "15"]);
    // COOKIE ECHO with MREACH: group tag, JOINED, reason 0.
    check("ex-mreach", "mcsctp.chunk_length", &["12"]);
    check("ex-mreach", "mcsctp.mreach.group_tag", &["0x6a1f0c33"]);
    check("ex-mreach", "mcsctp.mreach.status", &["1"]);
    check("ex-mreach", "mcsctp.mreach.reason", &["0"]);
    // COOKIE ACK with the control state (table "Control state example").
    check("ex-start", "mcsctp.chunk_length", &["92"]);
    check("ex-start", "mcsctp.msync.sync_seq", &["40"]);
    check("ex-start", "mcsctp.msync.highest_mtsn", &["999"]);
    check("ex-start", "mcsctp.msync.mctsn", &["996"]);
    check("ex-start", "mcsctp.msync.timestamp", &["100000000"]);
    check("ex-start", "mcsctp.msync.control_seq", &["1"]);
    check(
        "ex-start",
        "mcsctp.msync.param_type",
        &["0x0001", "0x0004", "0x0003"],
    );
    check("ex-start", "mcsctp.msync.param_length", &["8", "20", "40"]);
    check("ex-start", "mcsctp.msync.start.mtsn", &["1000"]);
    check("ex-start", "mcsctp.msync.feedback.ack_spacing", &["219"]);
    check("ex-start", "mcsctp.msync.feedback.ack_delay", &["1000"]);
    check("ex-start", "mcsctp.msync.feedback.ack_period", &["1000"]);
    check(
        "ex-start",
        "mcsctp.msync.feedback.loss_report_delay",
        &["500"],
    );
    check("ex-start", "mcsctp.msync.key.epoch", &["1"]);
    check("ex-start", "mcsctp.msync.key.hmac_id", &["3"]);
    let key: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    check("ex-start", "mcsctp.msync.key.key", &[key.as_str()]);
    // Group packet with MDATA (table "MDATA example").
    check("ex-mdata", "mcsctp.group_packet", &["1"]);
    check("ex-mdata", "mcsctp.auth.key_epoch", &["1"]);
    check("ex-mdata", "mcsctp.auth.hmac_id", &["3"]);
    check("ex-mdata", "mcsctp.chunk_flags", &["0x03"]);
    check("ex-mdata", "mcsctp.chunk_length", &["32"]);
    check("ex-mdata", "mcsctp.mdata.b", &["1"]);
    check("ex-mdata", "mcsctp.mdata.e", &["1"]);
    check("ex-mdata", "mcsctp.mdata.u", &["0"]);
    check("ex-mdata", "mcsctp.mdata.i", &["0"]);
    check("ex-mdata", "mcsctp.mdata.mtsn", &["1000"]);
    check("ex-mdata", "mcsctp.mdata.stream", &["1"]);
    check("ex-mdata", "mcsctp.mdata.mid", &["17"]);
    check("ex-mdata", "mcsctp.mdata.ppid", &["0"]);
    check("ex-mdata", "mcsctp.mdata.data_length", &["12"]);
    check(
        "ex-mdata",
        "mcsctp.mdata.data",
        &[hex(b"INVALIDATE k").as_str()],
    );
    // Group packet with MSYNC.
    check("ex-msync", "mcsctp.group_packet", &["1"]);
    check("ex-msync", "mcsctp.msync.sync_seq", &["41"]);
    check("ex-msync", "mcsctp.msync.highest_mtsn", &["1004"]);
    check("ex-msync", "mcsctp.msync.mctsn", &["996"]);
    check("ex-msync", "mcsctp.msync.timestamp", &["100001000"]);
    check("ex-msync", "mcsctp.msync.control_seq", &["0"]);
    check("ex-msync", "mcsctp.msync.param_type", &[]);
    // MSACK (table "MSACK example").
    check("ex-msack", "mcsctp.chunk_flags", &["0x05"]);
    check("ex-msack", "mcsctp.chunk_length", &["60"]);
    check("ex-msack", "mcsctp.msack.j", &["1"]);
    check("ex-msack", "mcsctp.msack.u", &["0"]);
    check("ex-msack", "mcsctp.msack.s", &["1"]);
    check("ex-msack", "mcsctp.msack.group_tag", &["0x6a1f0c33"]);
    check("ex-msack", "mcsctp.msack.cum_mtsn_ack", &["999"]);
    check("ex-msack", "mcsctp.msack.reported_through", &["1004"]);
    check("ex-msack", "mcsctp.msack.a_grwnd", &["4194048"]);
    check("ex-msack", "mcsctp.msack.gap_count", &["1"]);
    check("ex-msack", "mcsctp.msack.dup_count", &["1"]);
    check("ex-msack", "mcsctp.msack.control_echo", &["1"]);
    check("ex-msack", "mcsctp.msack.timestamp_echo", &["100001000"]);
    check("ex-msack", "mcsctp.msack.ack_delay", &["180"]);
    check("ex-msack", "mcsctp.msack.last_unicast_mtsn", &["0"]);
    check("ex-msack", "mcsctp.msack.last_sync_seq", &["41"]);
    check("ex-msack", "mcsctp.msack.group_received", &["412"]);
    check("ex-msack", "mcsctp.msack.sync_received", &["37"]);
    check("ex-msack", "mcsctp.msack.gap_start", &["2"]);
    check("ex-msack", "mcsctp.msack.gap_end", &["5"]);
    check("ex-msack", "mcsctp.msack.gap_first_mtsn", &["1001"]);
    check("ex-msack", "mcsctp.msack.gap_last_mtsn", &["1004"]);
    // "From it the server reads that MTSN 1000 is missing for A."
    check("ex-msack", "mcsctp.msack.missing_first", &["1000"]);
    check("ex-msack", "mcsctp.msack.missing_last", &["1000"]);
    check("ex-msack", "mcsctp.msack.dup_mtsn", &["998"]);
    // BARRIER with I-DATA: D=0, TSN 5501, MTSN 1000.
    check("ex-barrier", "mcsctp.chunk_type", &["66"]);
    check("ex-barrier", "mcsctp.chunk_length", &["16"]);
    check("ex-barrier", "mcsctp.barrier.d", &["0"]);
    check("ex-barrier", "mcsctp.barrier.group_tag", &["0x6a1f0c33"]);
    check("ex-barrier", "mcsctp.barrier.tsn", &["5501"]);
    check("ex-barrier", "mcsctp.barrier.mtsn", &["1000"]);
    // MSYNC with a Forward parameter.
    check("ex-forward", "mcsctp.chunk_length", &["40"]);
    check("ex-forward", "mcsctp.msync.sync_seq", &["44"]);
    check("ex-forward", "mcsctp.msync.highest_mtsn", &["1010"]);
    check("ex-forward", "mcsctp.msync.mctsn", &["1003"]);
    check("ex-forward", "mcsctp.msync.timestamp", &["100066000"]);
    check("ex-forward", "mcsctp.msync.control_seq", &["2"]);
    check("ex-forward", "mcsctp.msync.param_type", &["0x0002"]);
    check("ex-forward", "mcsctp.msync.param_length", &["16"]);
    check("ex-forward", "mcsctp.msync.forward.new_cum_mtsn", &["1007"]);
    check("ex-forward", "mcsctp.msync.forward.stream", &["8"]);
    check("ex-forward", "mcsctp.msync.forward.u", &["0"]);
    check("ex-forward", "mcsctp.msync.forward.mid", &["5"]);
    // The Info column names the chunks.
    let infos: Vec<&str> = frames.iter().map(|(_, i)| i.as_str()).collect();
    assert!(infos[anchors.iter().position(|a| a == "ex-msack").unwrap()].contains("MSACK"));
    assert!(infos[anchors.iter().position(|a| a == "ex-barrier").unwrap()].contains("BARRIER"));
}

/// Truncated and corrupted copies of the draft's examples: the script
/// reads nothing beyond a chunk or parameter's end and marks bad lengths
/// with an expert item, so tshark shows no Lua error (the SCTP
/// dissector's own malformed-packet reports are allowed here).
#[test]
fn truncated_and_corrupted_packets_cause_no_lua_error() {
    if !have_tshark() {
        return;
    }
    let draft = common::draft_text();
    let server: SocketAddr = "10.0.0.1:9899".parse().unwrap();
    let group = SocketAddr::new(IpAddr::from([239, 1, 2, 3]), 9907);
    let mut packets: Vec<Datagram> = Vec::new();
    for a in common::example_anchors(&draft) {
        let bytes = common::example(&draft, &a);
        // Every truncation at a multiple of 2 octets past the header.
        for len in (12..bytes.len()).step_by(2) {
            packets.push((server, group, Bytes::copy_from_slice(&bytes[..len])));
        }
        // Each 16-bit word past the common header set to 0, 1, 0x0fff
        // and 0xffff in turn: lengths, counts, types and families alike.
        for at in (12..bytes.len() - 1).step_by(2) {
            for v in [0u16, 1, 0x0fff, 0xffff] {
                let mut b = bytes.clone();
                b[at..at + 2].copy_from_slice(&v.to_be_bytes());
                packets.push((server, group, Bytes::from(b)));
            }
        }
    }
    let path = temp_path("corrupt.pcap");
    write_pcap(&path, &packets);
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .arg("-X")
        .arg(format!("lua_script:{}", lua_script().display()))
        .args(["-T", "fields", "-e", "frame.number", "-e", "_ws.lua.error"])
        .args(["-e", "_ws.expert.message"])
        .output()
        .expect("run tshark");
    std::fs::remove_file(&path).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && stderr
                .lines()
                .all(|l| l.trim().is_empty() || l.starts_with("Running as user")),
        "tshark failed: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), packets.len());
    let mut flagged = 0;
    for line in lines {
        let mut cols = line.split('\t');
        let frame = cols.next().unwrap_or_default();
        let err = cols.next().unwrap_or_default();
        assert!(err.is_empty(), "frame {frame}: {err}");
        if cols
            .next()
            .is_some_and(|m| m.contains("the draft requires"))
        {
            flagged += 1;
        }
    }
    // The script's own length checks fire (an MREACH, BARRIER, MSACK or
    // parameter whose Length is not the draft's).
    assert!(flagged > 0, "no bad length flagged");
}

/// An IPv6 group: the draft's INIT ACK example with its Multicast-Group
/// parameter replaced by one for ff3e::8000:1 from 2001:db8::1.
#[test]
fn tshark_decodes_an_ipv6_multicast_group_parameter() {
    if !have_tshark() {
        return;
    }
    let group: std::net::Ipv6Addr = "ff3e::8000:1".parse().unwrap();
    let source: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let param = MulticastGroup::new(
        VerificationTag(0x1234_5678),
        Mtsn(4_294_967_000),
        9907,
        false,
        true,
        250,
        GroupAddresses::V6 { group, source },
        &[StreamRange {
            first: StreamId(0),
            last: StreamId(3),
        }],
    )
    .to_raw()
    .to_bytes();
    let draft = common::draft_text();
    let mut b = common::example(&draft, "ex-mgroup");
    // The Multicast-Group parameter is the last one, at octet 0x40.
    assert_eq!(&b[0x40..0x42], &[0xc0, 0x0a]);
    b.truncate(0x40);
    b.extend_from_slice(&param);
    let chunk_len = u16::try_from(b.len() - 12).unwrap();
    b[14..16].copy_from_slice(&chunk_len.to_be_bytes());
    let crc = mcsctp_core::packet::checksum(&b);
    b[8..12].copy_from_slice(&crc.to_le_bytes());
    let server: SocketAddr = "[2001:db8::1]:9899".parse().unwrap();
    let member: SocketAddr = "[2001:db8::2]:9899".parse().unwrap();
    let frames = decode_and_compare("ipv6.pcap", &[(server, member, Bytes::from(b))]);
    let f = &frames[0].0;
    assert_eq!(f["mcsctp.mgroup.family"], ["6"]);
    assert_eq!(f["mcsctp.mgroup.group_addr6"], ["ff3e::8000:1"]);
    assert_eq!(f["mcsctp.mgroup.source_addr6"], ["2001:db8::1"]);
    assert_eq!(f["mcsctp.mgroup.initial_mtsn"], ["4294967000"]);
    assert_eq!(f["mcsctp.mgroup.a"], ["0"]);
    assert_eq!(f["mcsctp.mgroup.first_stream"], ["0"]);
    assert_eq!(f["mcsctp.mgroup.last_stream"], ["3"]);
}
