//! The multicast state machines under a hostile wire: a server endpoint
//! with a [`GroupServer`] and one or two member endpoints with a
//! [`GroupMember`] are connected and joined to the group, then an input
//! byte string is read as a script of operations on them and on the
//! datagrams between them — deliver, drop, duplicate, reorder, corrupt or
//! truncate (CRC32c fixed), mutate one field of a real chunk to an extreme
//! value (MTSNs, lengths, stream ids, fragment flags, Forward entries,
//! Feedback values, Control Sequence Numbers...), forge typed extension
//! chunks (MDATA, MSYNC with its parameters, MSACK, MREACH, BARRIER) or raw
//! chunk bytes behind a chosen verification tag, and send them from a
//! member's, a stranger's or the server's address to the server, a member
//! or the group address; replay old datagrams; let time pass; and the
//! applications' sends (group messages, unicast messages, unicast messages
//! behind a BARRIER, member to server), reads, closes and aborts.
//!
//! Shared by the cargo-fuzz target `mcast_endpoint`
//! (`fuzz/fuzz_targets/mcast_endpoint.rs`) and the seeded test
//! `mcast/tests/hostile_wire.rs`, so both exercise the same surface (the
//! way core shares `core/tests/support/mitm.rs`). The first input byte
//! picks the configuration (one or two members; the group's first MTSN at
//! 0, just below 2^32 or 2^31; small buffers; small fragments; group
//! authentication off; I-DATA; a small group window). Forged and altered packets
//! carry a correct CRC32c, so they reach the state machines. Set
//! `MCAST_WIRE_TRACE` to print every operation, datagram and delivery.
//!
//! # Invariants
//!
//! Checked on every run, whatever the script did:
//!
//! - nothing panics;
//! - **the group path never elicits a reply on it**: right after a
//!   datagram arrives at a member on the group address, the member sends
//!   no ABORT and no ERROR chunk (draft §"Receiving Group Packets"), and a
//!   member never sends anything to a non-unicast address;
//! - after `handle_timeout(now)` the next timeout is later than `now` (a
//!   runtime would otherwise spin) and every datagram fits its packet size;
//! - **memory is bounded**: the server's group buffer holds at most the
//!   group window plus one fragment; each member's backlog at the server
//!   at most two copies of what the group sent; each member's group
//!   receive path at most its receive buffer, its early buffer and, per
//!   group stream, one message below the partial delivery point (draft
//!   §"Receiving MDATA" step 3 takes the chunk that moves the cumulative
//!   ack even into a full buffer, and MTSN-ordered reassembly has at most
//!   one incomplete message per stream); each member association at most
//!   its receive buffer, its completion reserve and the group receive
//!   buffer (group messages delivered and not read count against the
//!   group window); and, while nothing forged reached the member, at most
//!   one BARRIER hold per message sent behind the group and not yet
//!   delivered.
//!
//! Checked while nothing forged or altered could have reached the state
//! in question (see [`Taint`]: forged group-path MDATA is indistinguishable
//! from the server's in a group configured without authentication, a forged
//! chunk behind an association's own verification tag is an on-path
//! attacker RFC 9260 does not defend against, and a replayed COOKIE ECHO
//! can re-create an ended association with its old tags and TSNs, RFC 9260
//! §5.1.5 — a core limit, counted as a forgery here):
//!
//! - every message the server sent that a member delivered was delivered
//!   **at most once, byte-identical**, on its stream, with the right
//!   origin (group messages marked as the extension's, or as ordinary DATA
//!   to a member the server did not place in the group), group messages
//!   in order per stream; likewise for the member's messages at the server;
//! - **BARRIER**: a unicast message sent behind the group
//!   ([`GroupServer::send_after_group`]) is delivered only after every
//!   group message sent before it, while the member is a member (draft
//!   §"Semantics" (b)); and no group message sent after a unicast
//!   message sent before the group
//!   ([`GroupServer::send_before_group`], to a member of the group) is
//!   delivered before it, while the member is in the group and that
//!   message was sent on its current association;
//! - **nothing is lost silently**: a clean phase ends every script (the
//!   wire becomes perfect, time runs on by the endpoints' own timers) in
//!   which every message sent to a live member arrives — group messages
//!   from its start on, unicast messages sent on its current association,
//!   the member's messages at the server — and then a fresh batch as well,
//!   over the association that lived through the script or, when it ended
//!   on both sides, over a new one. A message released unfinished
//!   (`Aborted`: a reported loss, e.g. after a time jump beyond the
//!   incomplete-message timeout) is accounted for, not required, and so is
//!   what an association restart (RFC 9260 §5.2.4) lost.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::chunk::ChunkType;
use mcsctp_core::chunk::DataFlags;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::{Endpoint, SendOptions};
use mcsctp_core::event::{AssociationHandle, Event};
use mcsctp_core::packet::{COMMON_HEADER_LEN, checksum};
use mcsctp_core::rx::reassembly::{Delivery, DeliveryKind, Origin};
use mcsctp_core::serial::{Fsn, Mid, Ppid, StreamId, Tsn, VerificationTag};

use crate::Mtsn;
use crate::chunk::msync::{
    EndOfMembership, EndReason, Feedback, Forward, ForwardEntry, GroupKey, MsyncParam,
    MsyncParamType, RawMsyncParam, Start,
};
use crate::chunk::{
    self as mchunk, Barrier, McastChunk, Mdata, Mreach, Msack, MsackGapBlock, Msync, ReachReason,
    ReachStatus, SyncSnapshot,
};
use crate::member::ext::{GroupMember, GroupMemberConfig};
use crate::member::rx::GroupReceiverConfig;
use crate::server::ext::{GroupEvent, GroupServer, GroupServerConfig};
use crate::server::group::MemberKind;

/// The server's address.
pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 9899);
/// The group's address and UDP port.
pub const GROUP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3)), 9907);
/// A host that is neither the server nor a member.
pub const STRANGER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 66)), 9899);
/// The group verification tag.
pub const GROUP_TAG: VerificationTag = VerificationTag(0x6A1F_0C33);

/// Member `i`'s address.
pub fn member_addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2 + i as u8)), 9899)
}

/// The group's streams (the server's default).
const GROUP_STREAMS: usize = 16;
/// Datagrams held on the wire at most; more are dropped.
const WIRE_CAP: usize = 512;
/// Operations applied at most per script.
const MAX_OPS: usize = 4096;
/// Application sends applied at most per script (bounds the work).
const MAX_SENDS: usize = 256;
/// Datagrams kept for replays.
const HISTORY: usize = 32;
/// Sizes of the script's messages: one fragment, a packet's worth, several
/// packets (with the small-fragment configuration, dozens of MTSNs).
const SIZES: [usize; 8] = [4, 17, 100, 1000, 1150, 1500, 3000, 9000];
/// Simulated time the clean phase may take: a member stalled at the
/// server falls back within Mcast.Member.StallTimeout, an association with
/// data-centre timers fails within 10 × RTO.Max, a joining member is
/// confirmed or falls back within Mcast.Join.ConfirmTimeout, an
/// incomplete group message is released after its incomplete-message
/// timeout (30 s), and an association whose peer forgot it while nothing
/// was sent is noticed at the next heartbeat (30 s, then 10 × RTO.Max);
/// then a handshake and the batch.
const CLEAN_TIME: Duration = Duration::from_secs(90);
/// Rounds of the clean phase at most (each delivers what is on the wire,
/// then time jumps to the next timer, often a millisecond away).
const CLEAN_ROUNDS: usize = 200_000;
/// Simulated time and rounds of the clean phase when nothing is required
/// of it (a forgery may have touched what it would check): it still runs
/// the endpoints on for a while, bounded tightly to keep the fuzzer fast.
const LOOSE_CLEAN_TIME: Duration = Duration::from_secs(2);
const LOOSE_CLEAN_ROUNDS: usize = 500;
/// Transmits taken from one endpoint per pump at most (a storm fails the
/// run rather than hanging it).
const PUMP_LIMIT: usize = 20_000;

/// Whether to print every operation, datagram and delivery to stderr (set
/// `MCAST_WIRE_TRACE`, to follow a crash the fuzzer found).
fn tracing_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MCAST_WIRE_TRACE").is_some())
}

/// A packet's tag and chunks, the extension's typed, for the trace.
fn describe_packet(p: &[u8]) -> String {
    let chunks: Vec<String> = chunk_offsets(p)
        .iter()
        .map(|&(at, typ, len)| {
            let value = p.get(at + 4..(at + len).min(p.len())).unwrap_or(&[]);
            let raw = mcsctp_core::chunk::RawChunk {
                typ: ChunkType(typ),
                flags: p[at + 1],
                value: Bytes::copy_from_slice(value),
            };
            match McastChunk::parse(&raw) {
                Some(Ok(c)) => c.to_string(),
                _ => format!("type {typ:#04x} length {len}"),
            }
        })
        .collect();
    format!("tag {:x?} {chunks:?}", header_tag(p))
}

/// The instant every script starts at. Read once from the wall clock as an
/// arbitrary origin (an `Instant` cannot be made otherwise); from then on
/// time moves only by the script's operations.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    #[allow(clippy::disallowed_methods)]
    *EPOCH.get_or_init(Instant::now)
}

/// Where a datagram is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Server,
    Member(usize),
}

/// A datagram on the wire or in the history.
#[derive(Debug, Clone)]
struct Dgram {
    node: Node,
    /// The address it arrives at (the member's own or the group's).
    local: SocketAddr,
    remote: SocketAddr,
    bytes: Vec<u8>,
    /// As an endpoint sent it.
    pristine: bool,
}

/// What kind of message an id names (its top four bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Group = 1,
    Unicast = 2,
    AfterGroup = 3,
    ToServer = 4,
    BeforeGroup = 5,
}

fn msg_id(kind: Kind, n: usize) -> u32 {
    (kind as u32) << 28 | n as u32
}

/// A message's payload: its id, then a pattern from it, so a receiver
/// checks content without asking the sender.
fn payload(id: u32, len: usize) -> Bytes {
    let mut v = Vec::with_capacity(len.max(4));
    v.extend_from_slice(&id.to_be_bytes());
    let mut x = u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v.truncate(len.max(4));
    v.into()
}

/// One message an application sent.
#[derive(Debug, Clone, Copy)]
struct Sent {
    len: usize,
    stream: u16,
    /// The member (unicast kinds) or the sender (to the server).
    member: usize,
    /// For a message behind the group: group messages sent before it.
    prefix: usize,
    /// The association it was sent on (the sender's handle): it is owed
    /// while that association lives.
    assoc: Option<AssociationHandle>,
    /// Sent behind the group (BARRIER D=0).
    behind: bool,
    /// Sent before the group (BARRIER D=1) to a member of the group: the
    /// group messages from `prefix` on wait for it.
    before: bool,
}

impl Sent {
    /// The kind of a unicast message.
    fn kind(&self) -> Kind {
        if self.behind {
            Kind::AfterGroup
        } else if self.before {
            Kind::BeforeGroup
        } else {
            Kind::Unicast
        }
    }
}

/// What could have touched the state the strict checks look at.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Taint {
    /// An MDATA chunk the server did not send reached a member on the group
    /// path of a group without authentication (it is taken for the
    /// server's). With the group MAC a member refuses it.
    pub group_data: bool,
    /// A forged or altered packet behind a member association's own
    /// verification tag reached the member.
    pub member_assoc: bool,
    /// Likewise at the server.
    pub server_assoc: bool,
}

impl Taint {
    /// The members' deliveries must be exact.
    fn member_strict(self) -> bool {
        !self.group_data && !self.member_assoc
    }

    /// Nothing could have caused a loss: the clean phase must deliver.
    fn live(self) -> bool {
        !self.group_data && !self.member_assoc && !self.server_assoc
    }
}

/// What a script did (statistics; the invariants are checked inside).
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Datagrams handed to an endpoint.
    pub datagrams: usize,
    /// Of those, on the group path.
    pub group_inputs: usize,
    /// Forged or altered datagrams handed to an endpoint.
    pub forged: usize,
    /// Group messages the server accepted (script and clean phase).
    pub group_sent: usize,
    /// Messages delivered whole to members and the server.
    pub delivered: usize,
    /// Deliveries released unfinished (`Aborted`).
    pub aborted: usize,
    /// What the script's forgeries could have touched.
    pub taint: Taint,
    /// The clean phase had to deliver everything, and did.
    pub live: bool,
    /// Member associations opened anew (script or clean phase).
    pub reconnected: usize,
    /// Member associations that ended (as the members saw it).
    pub closed: usize,
    /// Members moved to fallback, and back.
    pub fallbacks: usize,
    /// Returns to multicast.
    pub returns: usize,
    /// Members the server removed.
    pub removed: usize,
    /// Simulated time of the clean phase.
    pub clean_time: Duration,
}

/// One member endpoint and what it received.
struct Member {
    ep: Endpoint<GroupMember>,
    addr: SocketAddr,
    assoc: Option<AssociationHandle>,
    /// The host joined the IP group (it receives group datagrams).
    joined: bool,
    reading: bool,
    /// The tag the server writes to this member, and the one the member
    /// writes to the server (learned from the wire).
    my_tag: Option<u32>,
    peer_tag: Option<u32>,
    /// Every tag either side of its associations has used: a forged packet
    /// behind one of them may be accepted.
    tags: Vec<u32>,
    /// Group messages from this index on must arrive (its start).
    expect_from: usize,
    /// The server's association of its current membership, and whether
    /// that association restarted (its next membership is a new one).
    membership: Option<AssociationHandle>,
    restarted: bool,
    /// Per group message: 0 not yet, 1 delivered, 2 released unfinished.
    group_got: Vec<u8>,
    /// Unicast messages (by id): delivered or released.
    unicast_got: BTreeMap<u32, u8>,
    /// Per group stream, the last group message delivered.
    last_in_stream: BTreeMap<u16, usize>,
    /// Messages delivered in pieces, so far: (origin, stream, ppid).
    pieces: BTreeMap<(bool, u16, u32), Vec<u8>>,
    /// The association's group receive buffer and early buffer.
    group_buffer: usize,
    early_limit: usize,
    /// Its partial delivery point (a message at its turn that reaches it
    /// goes to the application in pieces).
    partial_delivery: usize,
    /// The association receive buffer and completion reserve.
    assoc_buffer: usize,
}

/// The whole world of one script.
struct World {
    server: Endpoint<GroupServer>,
    members: Vec<Member>,
    now: Instant,
    wire: VecDeque<Dgram>,
    history: VecDeque<Dgram>,
    buf: Vec<u8>,
    group: Vec<Sent>,
    unicast: Vec<Sent>,
    to_server: Vec<Sent>,
    /// Messages from members the server received, by id.
    server_got: BTreeMap<u32, u8>,
    server_pieces: BTreeMap<(bool, u16, u32), Vec<u8>>,
    sends: usize,
    taint: Taint,
    outcome: Outcome,
    /// Bases for extreme values, learned from the wire.
    last_mtsn: u32,
    last_mid: u32,
    last_tsn: u32,
    last_sync_seq: u32,
    last_ctl_seq: u32,
    last_msack_cum: u32,
    /// The largest MDATA payload seen, and the group payload octets sent.
    max_fragment: usize,
    group_octets: usize,
    /// Group packets carry the group MAC (a forgery without the key is
    /// refused by the members).
    authenticated: bool,
    /// Limits of the configuration.
    window_bytes: usize,
    group_max_packet: usize,
    max_packet: usize,
}

/// Reads the script.
struct Script<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// An extreme value for a 32-bit field whose real value is `c`.
fn extreme32(c: u32, sel: u8, raw: u32) -> u32 {
    match sel % 20 {
        0 => c.wrapping_add(1),
        1 => c.wrapping_sub(1),
        2 => c.wrapping_add(2),
        3 => c.wrapping_add(0x7FFF_FFFF),
        4 => c.wrapping_add(0x8000_0000),
        5 => c.wrapping_add(65_535),
        6 => c.wrapping_add(65_536),
        7 => c.wrapping_sub(65_535),
        8 => c.wrapping_sub(65_536),
        9 => 0,
        10 => 1,
        11 => u32::MAX,
        12 => 0x7FFF_FFFF,
        13 => 0x8000_0000,
        14 => c.wrapping_add(32_768),
        15 => c.wrapping_add(u32::from(raw as u8)),
        16 => c.wrapping_sub(u32::from(raw as u8)),
        17 => c,
        _ => raw,
    }
}

/// An extreme value for a 16-bit field.
fn extreme16(c: u16, sel: u8, raw: u16) -> u16 {
    match sel % 12 {
        0 => c.wrapping_add(1),
        1 => c.wrapping_sub(1),
        2 => 0,
        3 => u16::MAX,
        4 => 0x8000,
        5 => 0x7FFF,
        6 => 15,
        7 => 16,
        8 => c.wrapping_add(4),
        9 => c.wrapping_sub(4),
        10 => c,
        _ => raw,
    }
}

/// The chunks of a packet: (offset, type, length field), walking the
/// length fields as far as they hold.
fn chunk_offsets(p: &[u8]) -> Vec<(usize, u8, usize)> {
    let mut out = Vec::new();
    let mut at = COMMON_HEADER_LEN;
    while at + 4 <= p.len() {
        let len = usize::from(u16::from_be_bytes([p[at + 2], p[at + 3]]));
        out.push((at, p[at], len));
        if len < 4 {
            break;
        }
        at += len.next_multiple_of(4);
    }
    out
}

fn fix_crc(p: &mut [u8]) {
    if p.len() >= COMMON_HEADER_LEN {
        p[8..12].fill(0);
        let crc = checksum(p);
        p[8..12].copy_from_slice(&crc.to_le_bytes());
    }
}

fn header_tag(p: &[u8]) -> Option<u32> {
    p.get(4..8)
        .map(|t| u32::from_be_bytes([t[0], t[1], t[2], t[3]]))
}

/// A packet with the given header and chunks, CRC fixed.
fn packet(src_port: u16, dst_port: u16, tag: u32, chunks: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(COMMON_HEADER_LEN + chunks.len());
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&tag.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(chunks);
    fix_crc(&mut p);
    p
}

fn encode(c: &McastChunk) -> Vec<u8> {
    let mut out = Vec::new();
    c.write(&mut out);
    out
}

/// Runs one script. Panics on a broken invariant (see the module
/// documentation); the [`Outcome`] is statistics.
pub fn run(data: &[u8]) -> Outcome {
    let Some((&flags, rest)) = data.split_first() else {
        return Outcome::default();
    };
    let mut w = World::new(flags);
    w.setup();
    let mut s = Script { data: rest, pos: 0 };
    for _ in 0..MAX_OPS {
        if s.done() {
            break;
        }
        w.op(&mut s);
        w.pump();
    }
    w.clean_phase();
    w.outcome.taint = w.taint;
    w.outcome
}

impl World {
    /// The first byte picks the configuration: one or two members, the
    /// group's first MTSN (0, just below the wrap, just below 2^31, or
    /// anywhere), small buffers, small fragments, the acker's feedback
    /// settings (immediate loss reports, every packet acknowledged), I-DATA
    /// on the associations, a small group window.
    fn new(flags: u8) -> Self {
        let now = epoch();
        let members = 1 + usize::from(flags & 1);
        let initial = match flags >> 1 & 3 {
            0 => 0,
            1 => u32::MAX - 20,
            2 => 0x7FFF_FFF0,
            _ => 0x9E37_79B9,
        };
        let small = flags & 8 != 0;
        let small_fragments = flags & 16 != 0;
        let unauthenticated = flags & 32 != 0;
        let idata = flags & 64 != 0;
        let small_window = flags & 128 != 0;
        let assoc = |c: &mut EndpointConfig| {
            c.association.rto_min = Duration::from_millis(1);
            c.association.rto_initial = Duration::from_millis(10);
            c.association.rto_max = Duration::from_millis(200);
            c.association.delayed_ack = Duration::from_micros(200);
            c.association.interleaving = idata;
            if small {
                c.association.receive_buffer = 16 << 10;
                c.association.send_buffer = 64 << 10;
            }
        };
        let mut cfg = GroupServerConfig::new(GROUP, SERVER.ip(), GROUP_TAG);
        cfg.sender.initial_mtsn = Mtsn(initial);
        if small_fragments {
            cfg.sender.max_fragment = 300;
        }
        if small_window {
            cfg.sender.window_chunks = 16;
            cfg.sender.window_bytes = 8 << 10;
        }
        // Group packets are authenticated by default; without it a forged
        // group packet is taken for the server's (see `Taint`).
        cfg.authenticate = !unauthenticated;
        let window_bytes = cfg.sender.window_bytes;
        let group_max_packet = cfg.max_packet;
        let mut sc = EndpointConfig::with_seed(0x5EED);
        assoc(&mut sc);
        let max_packet = sc.max_packet_size;
        let server = Endpoint::with_extension(sc, now, GroupServer::new(cfg))
            .expect("valid server configuration");
        let members = (0..members)
            .map(|i| {
                let mut c = EndpointConfig::with_seed(100 + i as u64);
                assoc(&mut c);
                c.accept_incoming = false;
                let mut receiver = GroupReceiverConfig::default();
                if small {
                    receiver.reassembly.buffer_limit = 16 << 10;
                    receiver.reassembly.partial_delivery_point = 8 << 10;
                    receiver.early_limit = 4 << 10;
                }
                let group_buffer = receiver.reassembly.buffer_limit;
                let early_limit = receiver.early_limit;
                let partial_delivery = receiver.reassembly.partial_delivery_point;
                let assoc_buffer = c.association.receive_buffer + c.association.max_message_size;
                let ext = GroupMember::new(GroupMemberConfig {
                    receiver,
                    seed: 7 + i as u64,
                });
                Member {
                    ep: Endpoint::with_extension(c, now, ext).expect("valid member configuration"),
                    addr: member_addr(i),
                    assoc: None,
                    joined: false,
                    reading: true,
                    my_tag: None,
                    peer_tag: None,
                    tags: Vec::new(),
                    expect_from: 0,
                    membership: None,
                    restarted: false,
                    group_got: Vec::new(),
                    unicast_got: BTreeMap::new(),
                    last_in_stream: BTreeMap::new(),
                    pieces: BTreeMap::new(),
                    group_buffer,
                    early_limit,
                    partial_delivery,
                    assoc_buffer,
                }
            })
            .collect();
        Self {
            server,
            members,
            now,
            wire: VecDeque::new(),
            history: VecDeque::new(),
            buf: Vec::with_capacity(1 << 16),
            group: Vec::new(),
            unicast: Vec::new(),
            to_server: Vec::new(),
            server_got: BTreeMap::new(),
            server_pieces: BTreeMap::new(),
            sends: 0,
            taint: Taint::default(),
            outcome: Outcome::default(),
            last_mtsn: initial,
            last_mid: 0,
            last_tsn: 0,
            last_sync_seq: 0,
            last_ctl_seq: 0,
            last_msack_cum: initial.wrapping_sub(1),
            max_fragment: 0,
            group_octets: 0,
            authenticated: !unauthenticated,
            window_bytes,
            group_max_packet,
            max_packet,
        }
    }

    /// Connects every member on a perfect wire until each has its Start
    /// MTSN and the server counts it as a member.
    fn setup(&mut self) {
        for i in 0..self.members.len() {
            self.connect(i);
        }
        let ok = self.settle(Duration::from_secs(2), |w| {
            w.members.iter().all(|m| m.ep.extension().any_started())
                && w.server.extension().members().count() == w.members.len()
        });
        assert!(ok, "setup: the members did not join on a perfect wire");
    }

    fn connect(&mut self, i: usize) {
        let now = self.now;
        let m = &mut self.members[i];
        if m.ep.connect(now, SERVER, SERVER.port()).is_ok() {
            m.joined = false;
        }
    }

    /// Runs a perfect wire (every datagram delivered in order, time jumping
    /// to the next timer when nothing is in flight) until `done` or `limit`.
    fn settle(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let start = self.now;
        for _ in 0..CLEAN_ROUNDS {
            self.pump();
            let mut budget = 200_000;
            while let Some(d) = self.wire.pop_front() {
                self.deliver(d);
                self.pump();
                budget -= 1;
                assert!(budget > 0, "datagram storm on a perfect wire");
            }
            if done(self) {
                return true;
            }
            let Some(t) = self.next_timeout() else {
                return false;
            };
            if t.saturating_duration_since(start) > limit {
                return false;
            }
            let by = t.saturating_duration_since(self.now);
            self.advance(by);
        }
        false
    }

    fn next_timeout(&mut self) -> Option<Instant> {
        let mut t = self.server.poll_timeout();
        for m in &mut self.members {
            t = match (t, m.ep.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        t
    }

    // ----- the script ----------------------------------------------------

    fn op(&mut self, s: &mut Script<'_>) {
        let op = s.byte();
        if tracing_on() {
            eprintln!(
                "t={:?} op {op:#04x}: {} on the wire, {:?}",
                self.now - epoch(),
                self.wire.len(),
                self.taint
            );
        }
        let hi = op >> 4;
        let who = usize::from(op >> 7) % self.members.len();
        match op & 0x0f {
            0 => {
                for _ in 0..=(hi & 7) {
                    if let Some(d) = self.wire.pop_front() {
                        self.deliver(d);
                    }
                }
            }
            1 => {
                if let Some(d) = self.wire.pop_front() {
                    self.deliver(d);
                }
            }
            2 => {
                self.wire.pop_front();
            }
            3 => {
                if let Some(d) = self.wire.front().cloned()
                    && self.wire.len() < WIRE_CAP
                {
                    self.wire.push_back(d);
                }
            }
            4 => {
                let j = 1 + usize::from(hi & 7);
                if self.wire.len() > j {
                    self.wire.swap(0, j);
                }
            }
            5 => {
                // Corrupt one byte past the common header, fix the CRC.
                let at = usize::from(s.u16());
                let v = s.byte() | 1;
                if let Some(mut d) = self.wire.pop_front() {
                    if d.bytes.len() > COMMON_HEADER_LEN {
                        let i = COMMON_HEADER_LEN + at % (d.bytes.len() - COMMON_HEADER_LEN);
                        d.bytes[i] ^= v;
                        fix_crc(&mut d.bytes);
                    }
                    d.pristine = false;
                    self.deliver_altered(d);
                }
            }
            6 => {
                // Truncate (CRC fixed, or left wrong).
                let at = usize::from(s.u16());
                if let Some(mut d) = self.wire.pop_front() {
                    let keep = at % (d.bytes.len() + 1);
                    d.bytes
                        .truncate(keep.max(COMMON_HEADER_LEN.min(d.bytes.len())));
                    if at & 1 == 0 {
                        fix_crc(&mut d.bytes);
                    }
                    d.pristine = false;
                    self.deliver_altered(d);
                }
            }
            7 => self.mutate(s, hi),
            8 => {
                // Typed chunks; their fields come from a length-prefixed
                // block, so that the script stays aligned whatever the
                // kind reads.
                let kind = s.byte();
                let path = s.byte();
                let n = usize::from(s.byte());
                let block = s.take(n).to_vec();
                self.forge(
                    kind,
                    path,
                    &mut Script {
                        data: &block,
                        pos: 0,
                    },
                    who,
                );
            }
            9 => {
                // Raw chunk bytes behind a chosen header.
                let path = s.byte();
                let n = usize::from(s.byte() % 64) * 4;
                let body = s.take(n).to_vec();
                let tag = body.get(..4).map_or(0x5EED_0000 | u32::from(path), |b| {
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
                });
                let d = self.path(path, who, &body, tag);
                self.deliver_altered(d);
            }
            10 => {
                // Replay an old datagram, where it went or elsewhere.
                let k = usize::from(s.byte());
                let path = s.byte();
                if !self.history.is_empty() {
                    let mut d = self.history[k % self.history.len()].clone();
                    // A known core limit, not the extension's: an old COOKIE
                    // ECHO within Valid.Cookie.Life re-creates an association
                    // that has ended, with its old tags and TSNs (RFC 9260
                    // §5.1.5 does not prevent it), and old duplicates are new
                    // to that incarnation. Such a replay counts as a forgery.
                    if chunk_offsets(&d.bytes)
                        .first()
                        .is_some_and(|c| c.1 == ChunkType::COOKIE_ECHO.0)
                    {
                        d.pristine = false;
                    }
                    if path & 0x80 != 0 {
                        let (node, local, remote) = self.route_of(path, who);
                        if (node, local, remote) != (d.node, d.local, d.remote) {
                            d.node = node;
                            d.local = local;
                            d.remote = remote;
                            d.pristine = false;
                        }
                    }
                    self.deliver_altered(d);
                }
            }
            11 => {
                let n = u64::from(s.u16());
                let unit = match hi & 3 {
                    0 => 1,
                    1 => 50,
                    2 => 1_000,
                    _ => 50_000,
                };
                self.advance(Duration::from_micros(n * unit));
            }
            12 => {
                let a = s.byte();
                let b = s.byte();
                self.group_send(u16::from(a % 17), SIZES[usize::from(b) % SIZES.len()]);
            }
            13 => {
                let a = s.byte();
                let b = s.byte();
                self.app(hi & 7, who, a, b);
            }
            14 => self.advance(Duration::from_micros(u64::from(hi) * 100)),
            _ => {
                // Everything on the wire, in order.
                let n = self.wire.len();
                for _ in 0..n {
                    if let Some(d) = self.wire.pop_front() {
                        self.deliver(d);
                    }
                }
            }
        }
    }

    /// A destination and source for an injected packet: to the group
    /// address (every member that joined), a member or the server; from the
    /// peer, a stranger or a non-unicast address.
    fn route_of(&self, path: u8, who: usize) -> (Node, SocketAddr, SocketAddr) {
        let from = |peer: SocketAddr| match path >> 2 & 3 {
            0 | 1 => peer,
            2 => STRANGER,
            _ => GROUP,
        };
        match path & 3 {
            0 | 1 => (Node::Member(who), GROUP, from(SERVER)),
            2 => (Node::Member(who), self.members[who].addr, from(SERVER)),
            _ => (Node::Server, SERVER, from(self.members[who].addr)),
        }
    }

    /// A forged packet with `chunks` on the path `path` selects, with the
    /// verification tag it selects (the right one for the path, the group
    /// tag, 0, the other direction's, or `other`).
    fn path(&self, path: u8, who: usize, chunks: &[u8], other: u32) -> Dgram {
        let (node, local, remote) = self.route_of(path, who);
        let m = &self.members[who];
        let right = match node {
            Node::Server => m.peer_tag.unwrap_or(0),
            Node::Member(_) if local == GROUP => GROUP_TAG.0,
            Node::Member(_) => m.my_tag.unwrap_or(0),
        };
        let tag = match path >> 4 & 7 {
            0..=3 => right,
            4 => GROUP_TAG.0,
            5 => 0,
            6 => match node {
                Node::Server => m.my_tag.unwrap_or(0),
                Node::Member(_) => m.peer_tag.unwrap_or(0),
            },
            _ => other,
        };
        let (sp, dp) = if local == GROUP && path & 0x80 == 0 {
            (GROUP.port(), GROUP.port())
        } else {
            (9899, 9899)
        };
        Dgram {
            node,
            local,
            remote,
            bytes: packet(sp, dp, tag, chunks),
            pristine: false,
        }
    }

    /// Changes one field of one chunk of the next real datagram to an
    /// extreme value, fixes the CRC and delivers it.
    fn mutate(&mut self, s: &mut Script<'_>, hi: u8) {
        let which = s.byte();
        let field = s.byte();
        let sel = s.byte();
        let raw = s.u32();
        let Some(mut d) = self.wire.pop_front() else {
            return;
        };
        let chunks = chunk_offsets(&d.bytes);
        // Prefer the extension's chunks: the fuzzer's bytes pick among them.
        let ext: Vec<_> = chunks
            .iter()
            .copied()
            .filter(|c| mchunk::is_extension_type(ChunkType(c.1)))
            .collect();
        let pool = if ext.is_empty() || hi & 1 != 0 {
            &chunks
        } else {
            &ext
        };
        if let Some(&(at, _, len)) = pool.get(usize::from(which) % pool.len().max(1)) {
            let p = &mut d.bytes;
            let end = (at + len).min(p.len());
            match field % 8 {
                0 => p[at + 1] ^= sel | 1,
                1 => {
                    // The chunk's length.
                    let c = u16::from_be_bytes([p[at + 2], p[at + 3]]);
                    let v = extreme16(c, sel, raw as u16);
                    p[at + 2..at + 4].copy_from_slice(&v.to_be_bytes());
                }
                2 | 3 => {
                    // A 16-bit field (stream ids, parameter types and
                    // lengths, gap block offsets).
                    let words = (end.saturating_sub(at + 4)) / 2;
                    if words > 0 {
                        let o = at + 4 + 2 * (usize::from(field >> 3) % words.min(32));
                        let c = u16::from_be_bytes([p[o], p[o + 1]]);
                        let v = extreme16(c, sel, raw as u16);
                        p[o..o + 2].copy_from_slice(&v.to_be_bytes());
                    }
                }
                _ => {
                    // A 32-bit field (MTSNs, MIDs, tags, sequence numbers,
                    // Forward entries, Feedback values).
                    let words = (end.saturating_sub(at + 4)) / 4;
                    if words > 0 {
                        let o = at + 4 + 4 * (usize::from(field >> 3) % words.min(16));
                        let c = u32::from_be_bytes([p[o], p[o + 1], p[o + 2], p[o + 3]]);
                        let v = extreme32(c, sel, raw);
                        p[o..o + 4].copy_from_slice(&v.to_be_bytes());
                    }
                }
            }
            fix_crc(p);
            d.pristine = false;
        }
        if hi & 2 != 0 {
            // Delivered elsewhere too.
            let (node, local, remote) = self.route_of(raw as u8, 0);
            d.node = node;
            d.local = local;
            d.remote = remote;
        }
        self.deliver_altered(d);
    }

    /// Forges typed extension chunks with fields from the script, around
    /// the values real traffic has now, and sends them on a chosen path.
    fn forge(&mut self, kind: u8, path: u8, s: &mut Script<'_>, who: usize) {
        let mut chunks = Vec::new();
        for _ in 0..=(kind >> 6) {
            let c = match (kind & 0x1f) % 5 {
                0 => {
                    let f = s.byte();
                    let mtsn = extreme32(self.last_mtsn, s.byte(), s.u32());
                    let stream = u16::from(s.byte() % 20);
                    let mid = extreme32(self.last_mid, s.byte(), u32::from(s.byte()));
                    let fsn = u32::from(s.byte() % 8);
                    let len = usize::from(s.u16() % 1400);
                    McastChunk::Mdata(Mdata {
                        flags: DataFlags(f & 0x0f),
                        mtsn: Mtsn(mtsn),
                        stream: StreamId(stream),
                        mid: Mid(mid),
                        ppid: Ppid(0xF0F0_0000 | u32::from(f)),
                        fsn: Fsn(fsn),
                        user_data: Bytes::from(vec![0xEE; len]),
                    })
                }
                1 => {
                    let control = if kind & 32 != 0 {
                        0
                    } else {
                        extreme32(self.last_ctl_seq, s.byte(), s.u32())
                    };
                    let mut m = Msync::new(
                        extreme32(self.last_sync_seq, s.byte(), s.u32()),
                        Mtsn(extreme32(self.last_mtsn, s.byte(), s.u32())),
                        Mtsn(extreme32(self.last_mtsn, s.byte(), s.u32())),
                        s.u32(),
                        control,
                    );
                    let params = s.byte();
                    if params & 1 != 0 {
                        let start = extreme32(self.last_mtsn, s.byte(), s.u32());
                        m = m.with_param(&MsyncParam::Start(Start {
                            start_mtsn: Mtsn(start),
                        }));
                    }
                    if params & 2 != 0 {
                        let cum = extreme32(self.last_mtsn, s.byte(), s.u32());
                        let n = usize::from(s.byte() % 4);
                        let entries: Vec<ForwardEntry> = (0..n)
                            .map(|_| ForwardEntry {
                                stream: StreamId(u16::from(s.byte() % 20)),
                                unordered: s.byte() & 1 != 0,
                                mid: Mid(extreme32(self.last_mid, s.byte(), s.u32())),
                            })
                            .collect();
                        m = m.with_param(&MsyncParam::Forward(Forward::new(Mtsn(cum), &entries)));
                    }
                    if params & 4 != 0 {
                        let v = |s: &mut Script<'_>| extreme32(1_000, s.byte(), s.u32());
                        m = m.with_param(&MsyncParam::Feedback(Feedback {
                            ack_spacing: extreme16(4, s.byte(), s.u16()),
                            ack_delay_us: v(s),
                            ack_period_us: v(s),
                            loss_report_delay_us: v(s),
                        }));
                    }
                    if params & 8 != 0 {
                        m = m.with_param(&MsyncParam::End(EndOfMembership {
                            reason: EndReason::from_u16(s.u16() % 8),
                        }));
                    }
                    if params & 16 != 0 {
                        let len = usize::from(s.byte() % 48);
                        m = m.with_param(&MsyncParam::GroupKey(GroupKey {
                            key_epoch: s.u16(),
                            hmac_id: s.u16() % 4,
                            key: Bytes::from(vec![0x55; len]),
                        }));
                    }
                    if params & 32 != 0 {
                        let typ = MsyncParamType(s.u16());
                        let len = usize::from(s.byte() % 16);
                        m = m.with_param(&MsyncParam::Unknown(RawMsyncParam {
                            typ,
                            value: Bytes::from(vec![0xAA; len]),
                        }));
                    }
                    McastChunk::Msync(m)
                }
                2 => {
                    let f = s.byte();
                    let cum = extreme32(self.last_msack_cum, s.byte(), s.u32());
                    let through = extreme32(cum, s.byte(), s.u32());
                    let gaps: Vec<MsackGapBlock> = (0..s.byte() % 8)
                        .map(|_| MsackGapBlock {
                            start: extreme16(1, s.byte(), s.u16()),
                            end: extreme16(2, s.byte(), s.u16()),
                        })
                        .collect();
                    let dups: Vec<Mtsn> = (0..s.byte() % 4)
                        .map(|_| Mtsn(extreme32(cum, s.byte(), s.u32())))
                        .collect();
                    let sync = (f & 2 != 0).then(|| SyncSnapshot {
                        last_sync_sequence: extreme32(self.last_sync_seq, s.byte(), s.u32()),
                        group_received: s.u32(),
                        sync_received: s.u32(),
                    });
                    McastChunk::Msack(Msack::new(
                        f & 1 != 0,
                        if f & 4 == 0 {
                            GROUP_TAG
                        } else {
                            VerificationTag(s.u32())
                        },
                        Mtsn(cum),
                        Mtsn(through),
                        extreme32(1 << 20, s.byte(), s.u32()),
                        extreme32(self.last_ctl_seq, s.byte(), s.u32()),
                        s.u32(),
                        s.u32(),
                        (f & 8 != 0).then(|| Mtsn(extreme32(cum, s.byte(), s.u32()))),
                        sync,
                        &gaps,
                        &dups,
                    ))
                }
                3 => McastChunk::Mreach(Mreach {
                    group_tag: if kind & 32 == 0 {
                        GROUP_TAG
                    } else {
                        VerificationTag(s.u32())
                    },
                    status: ReachStatus::from_u8(s.byte() % 5),
                    reason: ReachReason::from_u8(s.byte() % 8),
                }),
                _ => McastChunk::Barrier(Barrier {
                    unicast_first: kind & 32 != 0,
                    group_tag: GROUP_TAG,
                    tsn: Tsn(extreme32(self.last_tsn, s.byte(), s.u32())),
                    mtsn: Mtsn(extreme32(self.last_mtsn, s.byte(), s.u32())),
                }),
            };
            chunks.extend_from_slice(&encode(&c));
        }
        let other = s.u32();
        let d = self.path(path, who, &chunks, other);
        self.deliver_altered(d);
    }

    /// A group message from the server's application.
    fn group_send(&mut self, stream: u16, len: usize) {
        if self.sends >= MAX_SENDS {
            return;
        }
        self.sends += 1;
        let id = msg_id(Kind::Group, self.group.len());
        let now = self.now;
        let ok = self
            .server
            .extension_mut()
            .send(now, StreamId(stream), Ppid(id), payload(id, len))
            .is_ok();
        if tracing_on() {
            eprintln!("  group send {id:#x} stream {stream} {len} octets: {ok}");
        }
        if ok {
            self.group.push(Sent {
                len,
                stream,
                member: 0,
                prefix: 0,
                assoc: None,
                behind: false,
                before: false,
            });
            self.group_octets += len;
            self.outcome.group_sent += 1;
        }
    }

    /// The server's association with member `i`.
    fn server_assoc(&self, i: usize) -> Option<AssociationHandle> {
        let addr = self.members[i].addr;
        self.server
            .associations()
            .find(|&h| self.server.remote_address(h) == Some(addr))
    }

    /// The other application operations.
    fn app(&mut self, what: u8, who: usize, a: u8, b: u8) {
        let now = self.now;
        let len = SIZES[usize::from(b) % SIZES.len()];
        match what {
            0 | 1 => {
                // Server to member: plain, behind the group, or (with the
                // high bit of `a`) before the group.
                if self.sends >= MAX_SENDS {
                    return;
                }
                let Some(h) = self.server_assoc(who) else {
                    return;
                };
                self.sends += 1;
                let kind = match (what, a & 0x80 != 0) {
                    (0, _) => Kind::Unicast,
                    (_, false) => Kind::AfterGroup,
                    (_, true) => Kind::BeforeGroup,
                };
                let id = msg_id(kind, self.unicast.len());
                let stream = u16::from(a % 4);
                // A member of the group when U is sent: its barrier holds.
                let in_group = self.server.extension().member(h).is_some();
                let ok = if kind == Kind::BeforeGroup {
                    self.server.extension_mut().send_before_group(
                        now,
                        &[h],
                        StreamId(stream),
                        Ppid(id),
                        payload(id, len),
                    );
                    true
                } else if what == 0 {
                    self.server
                        .send(
                            now,
                            h,
                            StreamId(stream),
                            Ppid(id),
                            payload(id, len),
                            SendOptions::default(),
                        )
                        .is_ok()
                } else {
                    self.server.extension_mut().send_after_group(
                        h,
                        StreamId(stream),
                        Ppid(id),
                        payload(id, len),
                    );
                    true
                };
                if tracing_on() {
                    eprintln!(
                        "  unicast send {id:#x} stream {stream} {len} octets on {h:?} ({:?}): {ok}",
                        self.server.association_state(h)
                    );
                }
                if ok {
                    self.unicast.push(Sent {
                        len,
                        stream,
                        member: who,
                        prefix: self.group.len(),
                        assoc: Some(h),
                        behind: kind == Kind::AfterGroup,
                        before: kind == Kind::BeforeGroup && in_group,
                    });
                }
            }
            2 => {
                if self.sends >= MAX_SENDS {
                    return;
                }
                let Some(h) = self.members[who].assoc else {
                    return;
                };
                self.sends += 1;
                let id = msg_id(Kind::ToServer, self.to_server.len());
                let stream = u16::from(a % 4);
                let ok = self.members[who]
                    .ep
                    .send(
                        now,
                        h,
                        StreamId(stream),
                        Ppid(id),
                        payload(id, len),
                        SendOptions::default(),
                    )
                    .is_ok();
                if ok {
                    self.to_server.push(Sent {
                        len,
                        stream,
                        member: who,
                        prefix: 0,
                        assoc: Some(h),
                        behind: false,
                        before: false,
                    });
                }
            }
            3 => {
                let m = &mut self.members[who];
                m.reading = !m.reading;
            }
            4 => {
                let m = &mut self.members[who];
                if let Some(h) = m.assoc {
                    let _ = m.ep.abort(now, h, b"fuzz");
                }
            }
            5 => {
                if let Some(h) = self.server_assoc(who) {
                    let _ = self.server.abort(now, h, b"fuzz");
                }
            }
            6 => {
                let m = &mut self.members[who];
                if let Some(h) = m.assoc {
                    let _ = m.ep.close(now, h);
                }
            }
            _ => {
                if self.members[who].assoc.is_none()
                    && self.members[who].ep.association_count() == 0
                {
                    self.connect(who);
                    self.outcome.reconnected += 1;
                }
            }
        }
    }

    // ----- the wire ------------------------------------------------------

    /// Moves every datagram the endpoints want to send onto the wire, hands
    /// the members' joins to them, and reads what the applications read.
    fn pump(&mut self) {
        for _ in 0..PUMP_LIMIT {
            self.buf.clear();
            let now = self.now;
            let Some(t) = self.server.poll_transmit(now, &mut self.buf) else {
                break;
            };
            let bytes = self.buf[..t.len].to_vec();
            self.route(None, t.destination, bytes);
        }
        self.server_events();
        for i in 0..self.members.len() {
            self.pump_member(i, None);
        }
        self.read_all();
    }

    /// Moves member `i`'s datagrams to the wire; with `group_input`, right
    /// after a datagram arrived on the group path: nothing it sends may be
    /// an ABORT or an ERROR.
    fn pump_member(&mut self, i: usize, group_input: Option<&[u8]>) {
        for _ in 0..PUMP_LIMIT {
            self.buf.clear();
            let now = self.now;
            let Some(t) = self.members[i].ep.poll_transmit(now, &mut self.buf) else {
                break;
            };
            let bytes = self.buf[..t.len].to_vec();
            if let Some(input) = group_input {
                for (_, typ, _) in chunk_offsets(&bytes) {
                    assert!(
                        typ != ChunkType::ABORT.0 && typ != ChunkType::ERROR.0,
                        "member {i} answered a group packet with chunk type {typ:#04x} to {}: \
                         {bytes:02x?} after {input:02x?}",
                        t.destination
                    );
                }
            }
            self.route(Some(i), t.destination, bytes);
        }
        self.member_events(i);
    }

    /// Puts one transmitted datagram on the wire (fanned out to the members
    /// that joined, for the group address), learning tags and sequence
    /// numbers from it.
    fn route(&mut self, from: Option<usize>, to: SocketAddr, bytes: Vec<u8>) {
        let limit = if to == GROUP {
            self.group_max_packet
        } else {
            self.max_packet
        };
        assert!(
            bytes.len() <= limit,
            "datagram of {} bytes to {to}, limit {limit}",
            bytes.len()
        );
        self.learn(from, to, &bytes);
        let remote = from.map_or(SERVER, |i| self.members[i].addr);
        let mut out = Vec::new();
        match from {
            Some(i) => {
                assert!(
                    !is_non_unicast(to.ip()),
                    "member {i} sent a datagram to the non-unicast address {to}"
                );
                if to == SERVER {
                    out.push((Node::Server, SERVER));
                }
            }
            None if to == GROUP => {
                for (i, m) in self.members.iter().enumerate() {
                    if m.joined {
                        out.push((Node::Member(i), GROUP));
                    }
                }
            }
            None => {
                if let Some(i) = self.members.iter().position(|m| m.addr == to) {
                    out.push((Node::Member(i), to));
                }
            }
        }
        for (node, local) in out {
            let d = Dgram {
                node,
                local,
                remote,
                bytes: bytes.clone(),
                pristine: true,
            };
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(d.clone());
            if self.wire.len() < WIRE_CAP {
                self.wire.push_back(d);
            }
        }
    }

    /// Learns the verification tags and the current sequence numbers from a
    /// datagram an endpoint sent.
    fn learn(&mut self, from: Option<usize>, to: SocketAddr, bytes: &[u8]) {
        let Some(tag) = header_tag(bytes) else {
            return;
        };
        // An ABORT or SHUTDOWN COMPLETE with the T bit carries the
        // receiver's own tag, or any tag an out-of-the-blue packet had.
        let reflected = chunk_offsets(bytes).first().is_some_and(|&(at, typ, _)| {
            (typ == ChunkType::ABORT.0 || typ == ChunkType::SHUTDOWN_COMPLETE.0)
                && bytes[at + 1] & 1 != 0
        });
        if tag != 0 && to != GROUP && !reflected {
            let m = match from {
                Some(i) => {
                    self.members[i].peer_tag = Some(tag);
                    Some(&mut self.members[i])
                }
                None => self.members.iter_mut().find(|m| m.addr == to),
            };
            if let Some(m) = m {
                if from.is_none() {
                    m.my_tag = Some(tag);
                }
                if !m.tags.contains(&tag) {
                    m.tags.push(tag);
                }
            }
        }
        for (at, typ, len) in chunk_offsets(bytes) {
            let Some(v) = bytes.get(at + 4..(at + len).min(bytes.len())) else {
                continue;
            };
            let be32 = |o: usize| {
                v.get(o..o + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            };
            match ChunkType(typ) {
                mchunk::MDATA => {
                    if let (Some(t), Some(mid)) = (be32(0), be32(8)) {
                        self.last_mtsn = t;
                        self.last_mid = mid;
                        self.max_fragment = self.max_fragment.max(v.len().saturating_sub(16));
                    }
                }
                mchunk::MSYNC => {
                    if let (Some(seq), Some(ctl)) = (be32(0), be32(16)) {
                        if ctl == 0 {
                            self.last_sync_seq = seq;
                        } else {
                            self.last_ctl_seq = ctl;
                        }
                    }
                }
                mchunk::MSACK => {
                    if let Some(cum) = be32(4) {
                        self.last_msack_cum = cum;
                    }
                }
                ChunkType::DATA | ChunkType::IDATA => {
                    if let Some(t) = be32(0) {
                        self.last_tsn = t;
                    }
                }
                _ => {}
            }
        }
    }

    /// Delivers a datagram that may be forged or altered: first decides what
    /// it could touch ([`Taint`]).
    fn deliver_altered(&mut self, d: Dgram) {
        if !d.pristine {
            self.outcome.forged += 1;
            self.classify(&d);
        }
        self.deliver(d);
    }

    /// What a forged or altered datagram could touch. On the group path:
    /// only an MDATA chunk behind the group tag (the member takes it for
    /// the server's; any other chunk there is only a hint). On an
    /// association: anything from the peer's address behind a tag the
    /// receiver could accept (its own, 0 for an INIT, the peer's with the T
    /// bit).
    fn classify(&mut self, d: &Dgram) {
        let Some(tag) = header_tag(&d.bytes) else {
            return;
        };
        match d.node {
            Node::Member(_) if d.local == GROUP => {
                if !self.authenticated
                    && tag == GROUP_TAG.0
                    && chunk_offsets(&d.bytes)
                        .iter()
                        .any(|c| ChunkType(c.1) == mchunk::MDATA)
                {
                    self.taint.group_data = true;
                }
            }
            Node::Member(i) => {
                let m = &self.members[i];
                if d.remote.ip() == SERVER.ip() && (tag == 0 || m.tags.contains(&tag)) {
                    self.taint.member_assoc = true;
                }
            }
            Node::Server => {
                if let Some(m) = self.members.iter().find(|m| m.addr.ip() == d.remote.ip())
                    && (tag == 0 || m.tags.contains(&tag))
                {
                    self.taint.server_assoc = true;
                }
            }
        }
    }

    fn deliver(&mut self, d: Dgram) {
        if tracing_on() {
            eprintln!(
                "  {:?} at {} from {} ({}): {}",
                d.node,
                d.local,
                d.remote,
                if d.pristine { "as sent" } else { "forged" },
                describe_packet(&d.bytes)
            );
        }
        self.outcome.datagrams += 1;
        let now = self.now;
        let input = d.bytes.clone();
        let bytes = Bytes::from(d.bytes);
        match d.node {
            Node::Server => {
                self.server.handle_datagram(now, d.local, d.remote, bytes);
                self.server_events();
            }
            Node::Member(i) => {
                if d.local == GROUP {
                    // What the member had to send before is not an answer.
                    self.pump_member(i, None);
                }
                self.members[i]
                    .ep
                    .handle_datagram(now, d.local, d.remote, bytes);
                if d.local == GROUP {
                    self.outcome.group_inputs += 1;
                    self.pump_member(i, Some(&input));
                } else {
                    self.member_events(i);
                }
            }
        }
        self.check_memory();
    }

    /// Lets `by` pass and fires every timer due.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for _ in 0..64 {
            match self.server.poll_timeout() {
                Some(t) if t <= now => self.server.handle_timeout(now),
                _ => break,
            }
        }
        if let Some(t) = self.server.poll_timeout() {
            assert!(
                t > now,
                "server: timeout {t:?} still due after handle_timeout"
            );
        }
        self.server_events();
        for i in 0..self.members.len() {
            let m = &mut self.members[i];
            for _ in 0..64 {
                match m.ep.poll_timeout() {
                    Some(t) if t <= now => m.ep.handle_timeout(now),
                    _ => break,
                }
            }
            if let Some(t) = m.ep.poll_timeout() {
                assert!(
                    t > now,
                    "member {i}: timeout {t:?} still due after handle_timeout"
                );
            }
            self.member_events(i);
        }
        self.check_memory();
    }

    fn server_events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            if let Event::Restarted { association } = e {
                // RFC 9260 §5.2.4: data in flight was lost with the old
                // incarnation; the messages sent to it are not owed, and
                // its membership starts anew.
                for s in &mut self.unicast {
                    if s.assoc == Some(association) {
                        s.assoc = None;
                    }
                }
                if let Some(i) = self.member_of(association) {
                    self.members[i].restarted = true;
                }
            }
        }
        while let Some(e) = self.server.extension_mut().poll_event() {
            match e {
                GroupEvent::Member(h, kind) => {
                    if let Some(i) = self.member_of(h) {
                        let m = &mut self.members[i];
                        if m.membership != Some(h) || m.restarted {
                            // A new membership (its first state, joining or
                            // in fallback): the messages queued from now on
                            // are the member's (its Start MTSN is the next
                            // one the group assigns).
                            m.membership = Some(h);
                            m.restarted = false;
                            m.expect_from = self.group.len();
                        }
                    }
                    if kind == MemberKind::Fallback {
                        self.outcome.fallbacks += 1;
                    }
                }
                GroupEvent::Removed(h) => {
                    self.outcome.removed += 1;
                    if let Some(i) = self.member_of(h) {
                        self.members[i].expect_from = usize::MAX;
                    }
                }
                GroupEvent::Left(h) => {
                    // The membership ended (a resignation acknowledged, or
                    // the association ended): nothing of the group is owed
                    // any more, and BARRIERs release (draft §"Semantics"
                    // (b)).
                    if let Some(i) = self.member_of(h) {
                        self.members[i].expect_from = usize::MAX;
                    }
                }
                GroupEvent::PlainJoined(_)
                | GroupEvent::KeyChangeStarted(_)
                | GroupEvent::KeyChanged(_)
                | GroupEvent::KeyNotAcknowledged(_) => {}
            }
        }
        let returns: u64 = self
            .server
            .extension()
            .members()
            .filter_map(|h| self.server.extension().member(h))
            .map(|m| m.returns)
            .sum();
        self.outcome.returns = self.outcome.returns.max(returns as usize);
    }

    fn member_of(&self, h: AssociationHandle) -> Option<usize> {
        let addr = self.server.remote_address(h)?;
        self.members.iter().position(|m| m.addr == addr)
    }

    fn member_events(&mut self, i: usize) {
        let m = &mut self.members[i];
        while let Some(e) = m.ep.poll_event() {
            match e {
                Event::Connected { association, .. } => m.assoc = Some(association),
                Event::Restarted { association } => {
                    m.assoc = Some(association);
                    for s in &mut self.to_server {
                        if s.member == i && s.assoc == Some(association) {
                            s.assoc = None;
                        }
                    }
                }
                Event::Closed { association, .. } if m.assoc == Some(association) => {
                    m.assoc = None;
                    self.outcome.closed += 1;
                }
                _ => {}
            }
        }
        while let Some(j) = m.ep.extension_mut().poll_join() {
            m.joined = true;
            m.ep.extension_mut().join_result(j.association, true);
        }
        while m.ep.extension_mut().poll_event().is_some() {}
    }

    // ----- what arrives --------------------------------------------------

    fn read_all(&mut self) {
        for i in 0..self.members.len() {
            if !self.members[i].reading {
                continue;
            }
            for _ in 0..100_000 {
                let Some(r) = self.members[i].ep.poll_recv() else {
                    break;
                };
                self.member_received(i, r.association, &r.delivery);
            }
        }
        for _ in 0..100_000 {
            let Some(r) = self.server.poll_recv() else {
                break;
            };
            self.server_received(&r.delivery);
        }
    }

    /// Reassembles pieces; returns the whole message once it is complete.
    fn whole(
        pieces: &mut BTreeMap<(bool, u16, u32), Vec<u8>>,
        key: (bool, u16, u32),
        d: &Delivery,
    ) -> Option<Vec<u8>> {
        match d.kind {
            DeliveryKind::Message => Some(d.payload.to_vec()),
            DeliveryKind::Piece {
                first,
                end_of_record,
            } => {
                let mut so_far = if first {
                    Vec::new()
                } else {
                    pieces.remove(&key).unwrap_or_default()
                };
                so_far.extend_from_slice(&d.payload);
                if end_of_record {
                    Some(so_far)
                } else {
                    pieces.insert(key, so_far);
                    None
                }
            }
            _ => {
                pieces.remove(&key);
                None
            }
        }
    }

    fn member_received(&mut self, i: usize, assoc: AssociationHandle, d: &Delivery) {
        if tracing_on() {
            eprintln!(
                "  member {i} reads {:?} stream {} PPID {:#x} {:?}, {} octets",
                d.origin,
                d.stream.0,
                d.ppid.0,
                d.kind,
                d.payload.len()
            );
        }
        let strict = self.taint.member_strict();
        let group = d.origin == Origin::Extension;
        let key = (group, d.stream.0, d.ppid.0);
        if matches!(
            d.kind,
            DeliveryKind::Aborted { .. }
                | DeliveryKind::Truncated { .. }
                | DeliveryKind::Refused { .. }
        ) {
            // Released unfinished: a reported loss; the message is
            // accounted for (and must not arrive again).
            self.outcome.aborted += 1;
            self.members[i].pieces.remove(&key);
            let id = d.ppid.0;
            let n = (id & 0x0FFF_FFFF) as usize;
            let named = match id >> 28 {
                1 => self.group.get(n).is_some_and(|s| s.stream == d.stream.0),
                2 | 3 | 5 => self
                    .unicast
                    .get(n)
                    .is_some_and(|s| s.member == i && s.stream == d.stream.0),
                _ => false,
            };
            // Without its PPID (the first fragment never came), it is the
            // oldest message of its stream not accounted for (ordered).
            let (group, n) = if named {
                (id >> 28 == 1, Some(n))
            } else if group {
                let m = &self.members[i];
                let from = m.expect_from.min(self.group.len());
                let n = (from..self.group.len()).find(|&k| {
                    self.group[k].stream == d.stream.0 && m.group_got.get(k).is_none_or(|&g| g == 0)
                });
                (true, n)
            } else {
                let server_side = self.server_assoc(i);
                let m = &self.members[i];
                let n = self.unicast.iter().enumerate().position(|(k, s)| {
                    s.member == i
                        && s.stream == d.stream.0
                        && s.assoc == server_side
                        && !m.unicast_got.contains_key(&msg_id(Kind::Unicast, k))
                        && !m.unicast_got.contains_key(&msg_id(Kind::AfterGroup, k))
                        && !m.unicast_got.contains_key(&msg_id(Kind::BeforeGroup, k))
                });
                (false, n)
            };
            let m = &mut self.members[i];
            match (group, n) {
                (true, Some(n)) => {
                    if m.group_got.len() <= n {
                        m.group_got.resize(n + 1, 0);
                    }
                    if m.group_got[n] == 0 {
                        m.group_got[n] = 2;
                    }
                }
                (false, Some(n)) => {
                    let kind = self.unicast[n].kind();
                    m.unicast_got.entry(msg_id(kind, n)).or_insert(2);
                }
                _ => {}
            }
            return;
        }
        let Some(bytes) = Self::whole(&mut self.members[i].pieces, key, d) else {
            return;
        };
        let id = bytes
            .get(..4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let n = (id & 0x0FFF_FFFF) as usize;
        let sent = match id >> 28 {
            1 => self.group.get(n).map(|s| (Kind::Group, *s)),
            2 | 3 | 5 => self.unicast.get(n).filter(|s| s.member == i).map(|s| {
                let k = match id >> 28 {
                    2 => Kind::Unicast,
                    3 => Kind::AfterGroup,
                    _ => Kind::BeforeGroup,
                };
                (k, *s)
            }),
            _ => None,
        };
        let Some((kind, sent)) = sent else {
            assert!(
                !strict,
                "member {i} delivered a message nobody sent: {} bytes, origin {:?}, stream {}",
                bytes.len(),
                d.origin,
                d.stream.0
            );
            return;
        };
        // A member the server did not place in the group (it saw no
        // Multicast-Capable parameter, e.g. in a corrupted INIT) is a plain
        // peer: it gets the group's messages as DATA (draft §"Plain SCTP
        // Peers").
        // A forgery at the server (a mangled INIT, say) can also make it
        // take the member for a plain peer while the member keeps its group
        // state: then only the origin differs.
        let plain = self.members[i].ep.extension().held(assoc).is_none() || self.taint.server_assoc;
        let exact = bytes == payload(id, sent.len).as_ref()
            && d.stream.0 == sent.stream
            && (group == (kind == Kind::Group) || (plain && !group));
        assert!(
            exact || !strict,
            "member {i}: message {id:#x} delivered altered ({} bytes of {}, stream {} of {}, \
             origin {:?})",
            bytes.len(),
            sent.len,
            d.stream.0,
            sent.stream,
            d.origin
        );
        self.outcome.delivered += 1;
        let m = &mut self.members[i];
        if kind == Kind::Group {
            if m.group_got.len() <= n {
                m.group_got.resize(n + 1, 0);
            }
            assert!(
                m.group_got[n] == 0 || !strict,
                "member {i}: group message {n} delivered twice (before: {})",
                m.group_got[n]
            );
            m.group_got[n] = 1;
            // BARRIER D=1: no group message sent after a unicast-first
            // message U before U, while the member is in the group and U
            // was sent on its current association (draft §"Semantics").
            if strict && m.expect_from != usize::MAX && m.ep.extension().held(assoc).is_some() {
                let server_side = self
                    .server
                    .associations()
                    .find(|&h| self.server.remote_address(h) == Some(m.addr));
                for (k, u) in self.unicast.iter().enumerate() {
                    if u.member == i
                        && u.before
                        && u.prefix <= n
                        && u.assoc.is_some()
                        && u.assoc == server_side
                    {
                        assert!(
                            m.unicast_got.contains_key(&msg_id(Kind::BeforeGroup, k)),
                            "member {i}: group message {n} overtook the unicast-first message \
                             {:#x} sent before it",
                            msg_id(Kind::BeforeGroup, k)
                        );
                    }
                }
            }
            let last = m.last_in_stream.insert(sent.stream, n);
            assert!(
                last.is_none_or(|l| l < n) || !strict,
                "member {i}: group message {n} on stream {} after {last:?}",
                sent.stream
            );
        } else {
            let before = m.unicast_got.insert(id, 1);
            assert!(
                before.is_none() || !strict,
                "member {i}: unicast message {id:#x} delivered twice"
            );
            // BARRIER D=0: every group message sent before it first, while
            // the member is a member (draft §"Semantics": "or (b) the member
            // is no longer a member of the group", e.g. once it closed).
            let member = m.ep.extension().held(assoc).is_some();
            if kind == Kind::AfterGroup && strict && member && m.expect_from != usize::MAX {
                for k in m.expect_from..sent.prefix {
                    assert!(
                        m.group_got.get(k).is_some_and(|&g| g != 0),
                        "member {i}: message {id:#x} behind the group overtook group \
                         message {k} (prefix {}..{})",
                        m.expect_from,
                        sent.prefix
                    );
                }
            }
        }
    }

    fn server_received(&mut self, d: &Delivery) {
        let strict = !self.taint.server_assoc;
        let key = (false, d.stream.0, d.ppid.0);
        if matches!(
            d.kind,
            DeliveryKind::Aborted { .. }
                | DeliveryKind::Truncated { .. }
                | DeliveryKind::Refused { .. }
        ) {
            self.outcome.aborted += 1;
            self.server_pieces.remove(&key);
            let id = d.ppid.0;
            let n = (id & 0x0FFF_FFFF) as usize;
            let named = id >> 28 == Kind::ToServer as u32
                && self
                    .to_server
                    .get(n)
                    .is_some_and(|s| s.stream == d.stream.0);
            let n = if named {
                Some(n)
            } else {
                // The oldest message of its stream not accounted for.
                (0..self.to_server.len()).find(|&k| {
                    self.to_server[k].stream == d.stream.0
                        && !self.server_got.contains_key(&msg_id(Kind::ToServer, k))
                })
            };
            if let Some(n) = n {
                self.server_got
                    .entry(msg_id(Kind::ToServer, n))
                    .or_insert(2);
            }
            return;
        }
        let Some(bytes) = Self::whole(&mut self.server_pieces, key, d) else {
            return;
        };
        let id = bytes
            .get(..4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let n = (id & 0x0FFF_FFFF) as usize;
        let sent = (id >> 28 == Kind::ToServer as u32)
            .then(|| self.to_server.get(n))
            .flatten();
        let Some(sent) = sent.copied() else {
            assert!(
                !strict,
                "the server delivered a message nobody sent ({} bytes)",
                bytes.len()
            );
            return;
        };
        assert!(
            (bytes == payload(id, sent.len).as_ref() && d.stream.0 == sent.stream) || !strict,
            "server: message {id:#x} delivered altered"
        );
        let before = self.server_got.insert(id, 1);
        assert!(
            before.is_none() || !strict,
            "server: message {id:#x} delivered twice"
        );
        self.outcome.delivered += 1;
    }

    /// The memory bounds (see the module documentation).
    fn check_memory(&self) {
        let g = self.server.extension();
        let held = g.sender().buffered_bytes();
        let frag = self.max_fragment.max(1500);
        assert!(
            held <= self.window_bytes + frag,
            "server: group buffer {held} octets, window {} + one fragment",
            self.window_bytes
        );
        for h in g.members() {
            if let Some((_, octets)) = g.sender().backlog(h) {
                assert!(
                    octets <= 2 * self.group_octets + frag,
                    "server: a member's backlog holds {octets} octets; the group sent {}",
                    self.group_octets
                );
            }
        }
        for (i, m) in self.members.iter().enumerate() {
            for h in m.ep.associations() {
                if let Some((rx, holds)) = m.ep.extension().held(h) {
                    // A BARRIER holds one unicast message each: at most
                    // those sent behind the group and not delivered yet.
                    let pending = self
                        .unicast
                        .iter()
                        .enumerate()
                        .filter(|(n, s)| {
                            s.member == i
                                && s.behind
                                && !m.unicast_got.contains_key(&msg_id(Kind::AfterGroup, *n))
                        })
                        .count();
                    assert!(
                        holds <= pending || !self.taint.member_strict(),
                        "member {i}: {holds} BARRIER holds, {pending} messages sent behind the \
                         group undelivered"
                    );
                    assert!(
                        rx <= m.group_buffer
                            + m.early_limit
                            + GROUP_STREAMS * (m.partial_delivery + frag),
                        "member {i}: group receive path holds {rx} octets, buffer {} + early {} + \
                         {GROUP_STREAMS} streams × (partial delivery point {} + a fragment)",
                        m.group_buffer,
                        m.early_limit,
                        m.partial_delivery
                    );
                }
                let assoc = m.ep.receive_buffered(h).unwrap_or(0);
                assert!(
                    assoc <= m.assoc_buffer + m.group_buffer + 2 * frag,
                    "member {i}: association holds {assoc} received octets, buffers {} + {}",
                    m.assoc_buffer,
                    m.group_buffer
                );
            }
        }
    }

    // ----- the clean phase -----------------------------------------------

    /// Whether member `i` is a live member: its association is up on both
    /// sides and the server counts it.
    fn alive(&self, i: usize) -> bool {
        let m = &self.members[i];
        let Some(h) = m.assoc else {
            return false;
        };
        // A member once it has its Start MTSN; a plain peer (the server
        // did not place it in the group) as soon as its association is up;
        // a member the server removed (End of Membership) too, owed only
        // its unicast messages.
        let started = m.ep.extension().held(h).is_none() || m.ep.extension().any_started();
        let removed = m.expect_from == usize::MAX;
        (started || removed)
            && self
                .server_assoc(i)
                .is_some_and(|s| removed || self.server.extension().members().any(|x| x == s))
    }

    /// Whether member `i`'s association ended on both sides (and the
    /// member's endpoint let go of it): it may connect anew.
    fn gone(&self, i: usize) -> bool {
        let m = &self.members[i];
        m.assoc.is_none() && m.ep.association_count() == 0 && self.server_assoc(i).is_none()
    }

    /// Whether everything owed has arrived: group messages from each live
    /// member's start, unicast messages sent on its current association,
    /// the messages it sent on that association at the server.
    fn all_arrived(&self) -> bool {
        (0..self.members.len()).all(|i| self.alive(i) && self.missing(i).is_empty())
    }

    /// What member `i` is owed and has not got: group message numbers, and
    /// ids of unicast messages to it and from it.
    fn missing(&self, i: usize) -> Vec<u32> {
        let m = &self.members[i];
        let mut out = Vec::new();
        if m.expect_from != usize::MAX {
            for k in m.expect_from..self.group.len() {
                if m.group_got.get(k).is_none_or(|&g| g == 0) {
                    out.push(msg_id(Kind::Group, k));
                }
            }
        }
        let server_side = self.server_assoc(i);
        for (n, s) in self.unicast.iter().enumerate() {
            let ids = [
                msg_id(Kind::Unicast, n),
                msg_id(Kind::AfterGroup, n),
                msg_id(Kind::BeforeGroup, n),
            ];
            if s.member == i
                && s.assoc.is_some()
                && s.assoc == server_side
                && !ids.iter().any(|id| m.unicast_got.contains_key(id))
            {
                out.push(ids[0]);
            }
        }
        for (n, s) in self.to_server.iter().enumerate() {
            let id = msg_id(Kind::ToServer, n);
            if s.member == i
                && s.assoc.is_some()
                && s.assoc == m.assoc
                && !self.server_got.contains_key(&id)
            {
                out.push(id);
            }
        }
        out
    }

    /// The clean phase (see the module documentation).
    fn clean_phase(&mut self) {
        for m in &mut self.members {
            m.reading = true;
        }
        let start = self.now;
        let live = self.taint.live();
        let (limit, rounds) = if live {
            (CLEAN_TIME, CLEAN_ROUNDS)
        } else {
            (LOOSE_CLEAN_TIME, LOOSE_CLEAN_ROUNDS)
        };
        // Phase 1: everything the script sent, over the associations that
        // lived; members whose association ended on both sides reconnect.
        // Messages lost with an ended association are not owed.
        let mut fresh_sent = false;
        for _ in 0..rounds {
            for i in 0..self.members.len() {
                if self.gone(i) {
                    self.connect(i);
                    self.outcome.reconnected += 1;
                }
            }
            self.pump();
            let mut budget = 200_000;
            while let Some(d) = self.wire.pop_front() {
                self.deliver(d);
                self.pump();
                budget -= 1;
                assert!(budget > 0, "clean phase: datagram storm");
            }
            self.read_all();
            let everyone = (0..self.members.len()).all(|i| self.alive(i));
            if everyone && !fresh_sent {
                // Phase 2: a fresh batch, owed to everyone.
                self.sends = 0;
                for (k, size) in [1usize, 1500, 5000].into_iter().enumerate() {
                    self.group_send(k as u16, size.max(4));
                }
                for i in 0..self.members.len() {
                    self.app(1, i, 2, 3);
                    self.app(0, i, 1, 1);
                    self.app(2, i, 0, 4);
                }
                fresh_sent = true;
                continue;
            }
            if fresh_sent && self.all_arrived() {
                self.outcome.live = live;
                self.outcome.clean_time = self.now - start;
                return;
            }
            let Some(t) = self.next_timeout() else {
                if (0..self.members.len()).any(|i| self.gone(i)) {
                    continue;
                }
                break;
            };
            if t.saturating_duration_since(start) > limit {
                break;
            }
            let by = t.saturating_duration_since(self.now);
            self.advance(by);
        }
        self.outcome.clean_time = self.now - start;
        assert!(
            !live,
            "clean phase: after {:?} on a perfect wire not everything arrived: {}",
            self.now - start,
            self.describe()
        );
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "{} group messages, {} unicast, {} to the server (got {}); ",
            self.group.len(),
            self.unicast.len(),
            self.to_server.len(),
            self.server_got.len()
        );
        for (i, m) in self.members.iter().enumerate() {
            let missing: Vec<String> = self
                .missing(i)
                .iter()
                .map(|id| format!("{id:#x}"))
                .collect();
            let kind = self
                .server_assoc(i)
                .and_then(|h| self.server.extension().member(h));
            let congestion = self.server_assoc(i).map(|h| {
                (
                    self.server.congestion(h),
                    self.server.send_buffer_available(h),
                    self.server.extension().sender().backlog(h),
                )
            });
            let states: Vec<_> =
                m.ep.associations()
                    .map(|h| (h, m.ep.association_state(h)))
                    .collect();
            s.push_str(&format!(
                "member {i}: endpoint holds {states:?}; assoc {:?} (server side {:?}, {kind:?}, \
                 (cwnd, ssthresh, flight), send buffer free, backlog {congestion:?}), \
                 started {}, joined {}, \
                 expect from {}, missing {missing:?}, unicast got {:?}, held {:?}; ",
                m.assoc,
                self.server_assoc(i),
                m.ep.extension().any_started(),
                m.joined,
                m.expect_from,
                m.unicast_got,
                m.assoc.and_then(|h| m.ep.extension().held(h)),
            ));
        }
        s
    }
}

/// Whether `ip` is a non-unicast address (IPv4 multicast or broadcast,
/// IPv6 multicast).
fn is_non_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}
