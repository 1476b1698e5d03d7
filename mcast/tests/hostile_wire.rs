//! The multicast state machines under a hostile wire: a server with a
//! `GroupServer` and one or two members with a `GroupMember`, joined, then
//! scripts of operations drawn from a seeded generator — drops,
//! duplicates, reordering, corrupted, truncated and field-mutated packets
//! with valid checksums, forged MDATA / MSYNC / MSACK / MREACH / BARRIER
//! chunks and raw chunk bytes behind chosen tags from member, stranger
//! and server addresses to the server, a member or the group address,
//! replays, time jumps, group, unicast and barrier sends, closes and
//! aborts — and a clean phase in which everything owed must arrive.
//!
//! The driver is `mcsctp_mcast::fuzzing::group_wire` (feature `fuzzing`),
//! the same code as the cargo-fuzz target `mcast_endpoint`
//! (`fuzz/fuzz_targets/mcast_endpoint.rs`); this test runs a bounded
//! number of seeds in CI. The driver checks every invariant itself and
//! panics on a broken one (its module documentation lists them); the
//! totals here check that the scripts reach the interesting states at
//! all.
//!
//! CI tier: `cargo test -p mcsctp-mcast --profile simtest --test
//! hostile_wire`. Full tier (ignored):
//!
//! ```text
//! cargo test -p mcsctp-mcast --profile simtest --test hostile_wire -- --ignored
//! ```

use mcsctp_mcast::fuzzing::group_wire::{self, Outcome};

/// xorshift64*: deterministic and dependency-free.
fn next(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Appends `n` random bytes.
fn push_random(v: &mut Vec<u8>, n: usize, st: &mut u64) {
    for _ in 0..n {
        v.push(next(st) as u8);
    }
}

/// A script biased the way a useful one looks: mostly deliveries, sends
/// and small time steps, with the hostile operations sprinkled in. Odd
/// seeds are *benign*: only what cannot touch the checked state (drops,
/// duplicates, reordering, replays on their own path, non-data forgeries
/// on the group path and from strangers, time, sends, closes, aborts), so
/// that the clean phase must deliver everything; even seeds use every
/// operation.
fn script(seed: u64, len: usize) -> Vec<u8> {
    let mut st = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let benign = seed % 2 == 1;
    let mut v = vec![next(&mut st) as u8];
    while v.len() < len {
        let r = next(&mut st);
        let hi = (r >> 16) as u8 & 0xf0;
        match r % 200 {
            0..=69 => v.push(1 | hi),
            70..=84 => v.push(hi & 0x70), // deliver up to 8
            85..=89 => v.push(15),        // flush
            90..=93 => v.push(2 | hi),    // drop
            94..=96 => v.push(3 | hi),    // duplicate
            97..=100 => v.push(4 | hi),   // reorder
            101..=125 => {
                v.push(12);
                push_random(&mut v, 2, &mut st);
            }
            126..=139 => {
                // unicast, barrier, member to server
                v.push(13 | (hi & 0x80) | ((r >> 40) as u8 % 3) << 4);
                push_random(&mut v, 2, &mut st);
            }
            140..=141 => {
                // reading on/off, aborts, close, reconnect
                v.push(13 | (hi & 0x80) | (3 + (r >> 40) as u8 % 5) << 4);
                push_random(&mut v, 2, &mut st);
            }
            142..=159 => v.push(14 | hi),
            160..=169 => {
                v.push(11 | (hi & 0xb0)); // µs, 50 µs, 1 ms units
                v.push(0);
                v.push(next(&mut st) as u8);
            }
            170..=174 => {
                v.push(10 | hi);
                v.push(next(&mut st) as u8);
                let path = next(&mut st) as u8;
                v.push(if benign { path & 0x7f } else { path });
            }
            175..=189 => {
                // Forged typed chunks.
                let mut kind = next(&mut st) as u8;
                let mut path = next(&mut st) as u8;
                if benign {
                    // No MDATA; on the group path, or from a stranger.
                    kind = (1 + (r >> 32) as u8 % 4) | (kind & 0x20);
                    if path & 2 != 0 {
                        path = (path & !0x0c) | 0x08;
                    }
                }
                v.push(8 | hi);
                v.push(kind);
                v.push(path);
                let n = 8 + (r >> 48) as usize % 64;
                v.push(n as u8);
                push_random(&mut v, n, &mut st);
            }
            _ if benign => v.push(1),
            190..=192 => {
                v.push(5 | hi);
                push_random(&mut v, 3, &mut st);
            }
            193..=194 => {
                v.push(6 | hi);
                push_random(&mut v, 2, &mut st);
            }
            195..=198 => {
                v.push(7 | hi);
                push_random(&mut v, 7, &mut st);
            }
            _ => {
                v.push(9 | hi);
                v.push(next(&mut st) as u8);
                let words = (r >> 40) as u8 % 8;
                v.push(words);
                push_random(&mut v, usize::from(words) * 4, &mut st);
            }
        }
    }
    v
}

/// What a run of scripts added up to.
#[derive(Debug, Default)]
struct Totals {
    scripts: usize,
    live: usize,
    strict_members: usize,
    datagrams: usize,
    group_inputs: usize,
    forged: usize,
    group_sent: usize,
    delivered: usize,
    aborted: usize,
    reconnected: usize,
    closed: usize,
    fallbacks: usize,
    returns: usize,
    removed: usize,
    longest_clean_phase: std::time::Duration,
}

impl Totals {
    fn add(&mut self, o: &Outcome) {
        self.scripts += 1;
        self.live += usize::from(o.live);
        self.strict_members += usize::from(!o.taint.group_data && !o.taint.member_assoc);
        self.datagrams += o.datagrams;
        self.group_inputs += o.group_inputs;
        self.forged += o.forged;
        self.group_sent += o.group_sent;
        self.delivered += o.delivered;
        self.aborted += o.aborted;
        self.reconnected += o.reconnected;
        self.closed += o.closed;
        self.fallbacks += o.fallbacks;
        self.returns += o.returns;
        self.removed += o.removed;
        self.longest_clean_phase = self.longest_clean_phase.max(o.clean_time);
    }
}

fn run_seeds(seeds: std::ops::Range<u64>, len: usize) -> Totals {
    let mut t = Totals::default();
    for seed in seeds {
        t.add(&group_wire::run(&script(seed, len)));
    }
    eprintln!("{t:?}");
    t
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Scripts per CI run.
const SEEDS: u64 = 200;

#[test]
fn group_endpoints_survive_a_hostile_wire() {
    let t = run_seeds(0..SEEDS, 600);
    let n = SEEDS as usize;
    // The benign half is held to liveness, and the data path is reached.
    // (About 94 % of the benign half on main: a replayed COOKIE ECHO or an
    // eviction's aftermath can leave a run unchecked.)
    assert!(t.live >= n / 2 * 4 / 5, "{t:?}");
    assert!(t.forged > n && t.group_inputs > 10 * n, "{t:?}");
    assert!(t.delivered > t.group_sent, "{t:?}");
    assert!(
        t.fallbacks > 0 && t.closed > 0 && t.reconnected > 0,
        "{t:?}"
    );
}

#[test]
fn arbitrary_scripts_never_panic() {
    // Unbiased bytes too: every operation, operand and configuration.
    let mut t = Totals::default();
    for seed in 0..SEEDS {
        let mut st = seed ^ 0xdead_beef;
        let v: Vec<u8> = (0..400).map(|_| next(&mut st) as u8).collect();
        t.add(&group_wire::run(&v));
    }
    eprintln!("{t:?}");
    assert!(t.forged > 0, "{t:?}");
}

#[test]
#[ignore = "full tier: cargo test -p mcsctp-mcast --profile simtest --test hostile_wire -- --ignored"]
fn full_tier_hostile_wire() {
    let t = run_seeds(0..20_000, 1200);
    assert!(t.live >= 10_000 * 4 / 5, "{t:?}");
}

/// Not a test: prints eight generated scripts as hex, one per line
/// (`SEED name hex`), for `fuzz/make-seeds.sh` to write into
/// `fuzz/seeds/mcast_endpoint/`.
#[test]
#[ignore = "helper for fuzz/make-seeds.sh"]
fn print_fuzz_seeds() {
    for seed in 0..8u64 {
        let hex: String = script(seed, 1000)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        println!("SEED script-{seed} {hex}");
    }
}

// ----- what the scripts found ----------------------------------------------
//
// Each was a protocol bug in the server or member code, found by this
// driver; the scripts below fail without the fix (the driver panics).

/// Was a server bug, twice: a timer of the group path stayed due after
/// `handle_timeout` until the next `poll_transmit` moved it, and with
/// nothing to send `poll_transmit` never did: a runtime that waits for
/// `poll_timeout` spins. First the MSYNC timer (tail-loss probe and sync
/// interval; fixed on main by 0bf7742 independently), then the group
/// congestion window's reopen time (without an acker the sends of the last
/// round trip aged out only when the next group packet was built). Any
/// script showed them; this one sends a group message and lets 2 ms pass.
#[test]
fn the_group_timers_are_not_due_after_handle_timeout() {
    let o = group_wire::run(&hex("000c00022b0002"));
    assert!(o.live, "{o:?}");
}

/// Was a member bug: a retransmission of a unicast message U with its
/// BARRIER (D=0) that arrives after U was delivered left a hold on U's
/// (stream, SSN) that nothing ever removed: held state growing with every
/// late duplicate, and after the stream's SSNs wrap, a hold on an
/// unrelated message. The script sends a group message and a message
/// behind it, delivers both, then replays one datagram of the history
/// (each in turn): the driver's bound (holds at most the messages behind
/// the group not yet delivered) caught the replayed BARRIER.
#[test]
fn a_barrier_retransmitted_after_its_message_was_delivered_holds_nothing() {
    for k in 0..32u8 {
        let mut v = hex("000c00021d00030f");
        v.extend_from_slice(&[0x0a, k, 0x00, 0x0f]);
        let o = group_wire::run(&v);
        // The driver's bound applied (nothing forged reached the member).
        assert!(!o.taint.group_data && !o.taint.member_assoc, "{o:?}");
    }
}

/// Was a server bug (fixed on main independently by 0bf7742): every
/// unicast MDATA transmission added to the association's flight, but an
/// acknowledgement took an MTSN off only once, so each retransmission of a
/// repair or fallback chunk leaked its octets, and a member in fallback
/// ended with a window used up by nothing. On main the script found a
/// member bug as well: the stalled member was evicted (End of Membership)
/// while a unicast message behind a BARRIER waited for group MTSNs that
/// would never come, and that message and everything after it on its
/// stream stayed held for ever. A BARRIER now releases when the
/// membership ends (draft §"Semantics", D=0 (b)). Minimised from the
/// generator's seed 1371 (one member, a lossy group path).
#[test]
fn unicast_retransmissions_do_not_leak_the_association_window() {
    let o = group_wire::run(&hex(
        "6e9aea38d8037d448252ce09c1b7eb695eeb0b851f20b8b88f4093622626ecec9074a358bfbefb78\
         8334573d8c16454253e810a6342cbc9919df9a9c5430a6abfaa89f6a372f6a091b3b0112c821f824\
         12030303b78e286204d1b78fb9f43436b49b0c54d9910ce0130d3a75e1f1210c40d3d1e10822ca12\
         b39e36e75eb4e7b40ce5c25201b1b1410fe39de6b1010c712c3b037e310c83c6e2720ce003a1a12d\
         7b118b002f8dd2dde20c925f",
    ));
    assert!(o.live && o.fallbacks > 0, "{o:?}");
}

/// Was a server bug, the same leak another way: a repair or fallback chunk
/// taken from the member's queue that did not fit the packet being built
/// waited in core's queue for a later one; its group copy could be
/// acknowledged meanwhile, which took the chunk off the flight before it
/// was counted in it, and then it was counted for ever. Now a chunk is
/// taken only when it fits the packet, so it is sent at once. Minimised
/// from the generator's seed 1371 (1000 octets) on an older base, where
/// it failed without the fix; on this base the run takes another path and
/// passes either way, but the mechanism (a chunk taken but not sent) is
/// unchanged.
#[test]
fn unicast_mdata_is_taken_only_when_it_fits_the_packet() {
    let o = group_wire::run(&hex(
        "6d0c4fc73802da1b39e63f17d661b6a9648fa2f1ed42e20c900b21814d46bb5b5c01300cea6fb84b\
         141215b5438f80f0de376fbe3379bf5c57cfa6513d2e910c97467e0c28565e4802ab21f07f4f612d\
         ed6be9197ef6665552f3e7bcd0a16d576016af980ef8d92e4e3ce1730c1e07a821c826743d90e785\
         f3fc4b79a85322d95f617a2ddd19a1ca07968a602ecb53c131e1beee61415261610f0f3b09310f1d\
         d98648015b126a46dc7f20407a0c95c4d4ad2b2551210c71fce101da097eb821e041787abdc88864\
         98b0e20f30002b313f0a728c7b3ccec7549fc223e9dc4264f200afceca9786c67b8b375930ce42c9\
         792527a106b370e0c4ce412a29fcfc1b2142822be8b188023b43f53221b4aaf2382d41428bfbf025\
         96034b08eeeeef239582aae43a1c07cde08ce0cf612ce2dffe600bbfe489b25ba372eaf5ab7b1c02\
         c0cfbce72c08f5738d39ee15410fc1512802e03b9ce3e0bcf020781b3a1189b24e13add59a0dac95\
         308ab45a610031918101811b00d05e010c40ec1d2b294ef1101d3b78ab00810121fe712021823101\
         1a03781d45a7c10191",
    ));
    assert!(o.live, "{o:?}");
}

/// Was a server bug: a member evicted or otherwise removed while its
/// association lives on (End of Membership) took its unicast MDATA in
/// flight with it out of the group sender, and those octets stayed in the
/// association's flight for ever: the window it shares with DATA never
/// opened again, and every later unicast message to that peer stalled on
/// a perfect wire (about 1 in 60 of the generator's scripts on this
/// base). Now the sender keeps them for the association, and the next
/// `poll_chunks` takes them out of the window. Minimised from the
/// generator's seed 13 (1000 octets).
#[test]
fn an_evicted_member_s_unicast_in_flight_leaves_the_association_window() {
    let o = group_wire::run(&hex(
        "fa0c33879da4642b00c52aaf68c823a8167a3d3712b62489a46c6fd28d6b39e73b0085515191d158\
         24353696387f81a3435e65938363159b067534b883bc95a679a5753fe741a6bfb55278508dc84eb8\
         ce1bf29c2f9ea1d5007ec1261a42f6debd3b21",
    ));
    assert!(o.live && o.removed > 0, "{o:?}");
}

/// Was a member bug, with the previous fix: after End of Membership a
/// retransmitted BARRIER still registered a hold (the prefix it names will
/// never come; draft §"Semantics" (b) releases it), which nothing removed.
/// Now a member no longer a member ignores BARRIERs. Minimised from the
/// generator's seed 5 (1000 octets).
#[test]
fn no_barrier_holds_after_end_of_membership() {
    let o = group_wire::run(&hex(
        "e2581525593d97bee88a5e1d7553531dd7e52331a4eaacbd6c6fa8aac87161c10cbf1ec823cd3f89\
         4a49937a0499fc1b8e9202345fd3a9f6b87d4d57ea28a150b580fc1197a9cb50a78d551096c6e1d8\
         1738bab498dc3911175aa50c11d10c91513bc12058011d306d93eb3c769a23146995701fd7c12351\
         79190c64408a06f8a62f3b6bbdae398d137873a814c68a4248580f156f8a717e0c8307b80294167d\
         c43a65054a1cd380e065bbffa0625d93e47c2ac1619da130bb9fde1bb1",
    ));
    assert!(!o.taint.group_data && !o.taint.member_assoc, "{o:?}");
}

/// Was a member bug: a_grwnd and the member's discard rule (draft
/// §"Receiving MDATA" step 3) counted only what the group receive path
/// held, not the group messages delivered to the application and not read
/// yet. A member whose application stopped reading kept advertising its
/// whole buffer, so the server kept sending and the member buffered group
/// messages without bound (here 200 messages of 9000 octets, a 16 KiB
/// group buffer: the driver's bound broke at about 300 000 octets). Now
/// unread messages count against the buffer: the member's window closes
/// and memory stays bounded.
#[test]
fn a_member_that_stops_reading_closes_its_window() {
    // Small buffers; member 0 stops reading; 200 group messages of 9000
    // octets, the wire flushed and 20 ms let pass after each.
    let mut v = vec![0x08u8, 0x3d, 0, 0];
    for i in 0..200u8 {
        v.extend_from_slice(&[12, i % 16, 7, 15, 0xbb, 0, 20, 15]);
    }
    let o = group_wire::run(&v);
    assert!(o.group_sent >= 200, "{o:?}");
}

/// Was a server bug (found by the fuzz target on main): a unicast message
/// sent behind the group ([`send_after_group`]) was taken from its queue
/// before the association's send buffer was asked; when the buffer was
/// full the message was dropped, silently, and the next one on its stream
/// went out in its place (a gap in an ordered stream the member never
/// saw). Now a message leaves the queue only when the buffer takes it. The
/// script: small buffers, one group message, then twenty messages of 9000
/// octets behind it into a 64 KiB send buffer.
///
/// [`send_after_group`]: mcsctp_mcast::server::ext::GroupServer::send_after_group
#[test]
fn messages_behind_the_group_wait_for_room_in_the_send_buffer() {
    let o = group_wire::run(&hex(
        "080c00031d01071d01071d01071d01071d01071d01071d01071d01071d01071d01071d01071d0107\
         1d01071d01071d01071d01071d01071d01071d01071d01070f0f0f",
    ));
    assert!(o.live, "{o:?}");
}

/// Was a member bug, found when BARRIER D=1 joined the scripts: a
/// unicast-first message U delivered in pieces (it exceeds the member's
/// partial delivery point) released its barrier with its first piece, and
/// a group message sent after U was delivered before U was complete. U is
/// now delivered with its last piece. The generator's seed 39.
#[test]
fn a_unicast_first_message_in_pieces_holds_the_group_until_its_last_piece() {
    let o = group_wire::run(&script(39, 600));
    assert!(o.group_sent > 0, "{o:?}");
}

/// Was a member bug, found the same way: a group message held back by a
/// D=1 barrier is complete but not delivered, and a D=0 barrier whose
/// group prefix contains it took the prefix for complete (its MTSNs were
/// all received) and let its unicast message overtake it. A D=0 prefix
/// now also waits for the group messages a D=1 barrier holds. The
/// generator's seed 815.
#[test]
fn a_group_first_barrier_waits_for_group_messages_a_unicast_first_one_holds() {
    let o = group_wire::run(&script(815, 600));
    assert!(o.group_sent > 0, "{o:?}");
}

/// Was a member deadlock, found the same way: a D=0 message U2 for a
/// member, sent after a D=1 message U1 (its group prefix then holds group
/// messages the member keeps back until U1 is delivered), filled the
/// member's receive buffer together with the messages behind it on its
/// stream while fragments of U1 were still to come, and there was no room
/// left for them. A group-first message now waits at the server until the
/// unicast-first messages before it are acknowledged whole; and group
/// messages below every D=1 barrier's MTSN are no longer held behind
/// those at or above it. The generator's seed 12423 (1200 operations).
#[test]
fn a_group_first_message_behind_a_unicast_first_one_does_not_wedge_the_member() {
    let o = group_wire::run(&script(12_423, 1200));
    assert!(o.live, "{o:?}");
}

/// Was a server bug, found the same way: a D=1 message whose association
/// stopped taking user data (its peer was shutting down) before the
/// barrier was created was dropped and its barrier taken for complete, so
/// the group went on and the member, still in the group, delivered a
/// later group message without it. Such a member's association is now
/// aborted, as one that never acknowledges U. The generator's seed 37
/// (1200 operations).
#[test]
fn a_unicast_first_message_the_association_refuses_aborts_it() {
    let o = group_wire::run(&script(37, 1200));
    assert!(o.group_sent > 0, "{o:?}");
}
