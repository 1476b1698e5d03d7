//! Two endpoints talk through a hostile wire (drops, duplicates, reordering,
//! corrupted and truncated packets with valid checksums, forged chunks with
//! the right verification tag, arbitrary time jumps, application sends,
//! closes and aborts), driven by scripts drawn from a seeded generator.
//! The same driver is the cargo-fuzz target `endpoint`
//! (`fuzz/fuzz_targets/endpoint.rs`); this test runs a bounded number of
//! seeds in CI. Invariants checked: no panic, timers that make progress,
//! datagrams within the packet size, receive memory bounded, and, in a
//! clean phase after every script, a fresh batch delivered byte-identical
//! both ways over the surviving association or, where the script ended
//! it and both sides saw the end, over a new one (see `support/mitm.rs`).
//!
//! One known core limit (`KNOWN_OVERLOAD` in `support/mitm.rs`: more
//! interleaved I-DATA messages than a small buffer can hold whole) is
//! tolerated by the driver and counted here; none of the CI seeds needs it.
//! The two core bugs the scripts found are pinned by the tests below the
//! seeded ones.

#[path = "support/mitm.rs"]
mod mitm;

/// xorshift64*: deterministic and dependency-free.
fn next(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// A script biased the way a useful one looks: a connect first, then
/// mostly deliveries and sends, with the hostile operations sprinkled in.
fn script(seed: u64, len: usize) -> Vec<u8> {
    let mut st = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = vec![next(&mut st) as u8, 0x00];
    while v.len() < len {
        let r = next(&mut st);
        let op = match r % 200 {
            0..=99 => 1,     // deliver
            100..=139 => 10, // send
            140..=149 => 12, // read
            150..=159 => 9,  // advance
            160..=167 => 3,  // drop
            168..=173 => 4,  // duplicate
            174..=179 => 5,  // reorder
            180..=185 => 6,  // corrupt
            186..=188 => 7,  // truncate
            189..=194 => 8,  // inject
            195..=196 => 0,  // connect (again, or from the other side)
            197 => 13,       // close
            198 => 14,       // abort
            _ => 15,         // small time step
        };
        let side = if r >> 8 & 1 == 1 { 0x80 } else { 0 };
        v.push(op | side | ((r >> 16) as u8 & 0x70));
        // Exactly the operands the driver reads for this operation.
        let operands = match op {
            6 => 3,
            7 | 9 => 2,
            8 => {
                let words = (r >> 32) as u8 % 8;
                v.push(words);
                usize::from(words) * 4
            }
            10 => 4,
            _ => 0,
        };
        for _ in 0..operands {
            v.push(next(&mut st) as u8);
        }
    }
    v
}

/// Scripts per test run (bounded for CI; the fuzz target explores beyond).
const SEEDS: u64 = 3000;

/// What a run of scripts added up to.
#[derive(Debug, Default)]
struct Totals {
    scripts: usize,
    connected: usize,
    delivered: usize,
    datagrams: usize,
    sent: usize,
    closed: usize,
    with_data: usize,
    /// Clean-phase batches over the association that lived through the
    /// script, and over a new one.
    survived: usize,
    reconnected: usize,
    /// Scripts in which the known limit bit (tolerated, see `mitm.rs`).
    overloaded: usize,
    /// Scripts whose association lost a batch message to the timeout and
    /// then ended (doomed by the script).
    timed_out_then_ended: usize,
    /// Simulated time of the longest clean phase.
    longest_clean_phase: std::time::Duration,
}

impl Totals {
    fn add(&mut self, o: &mitm::Outcome) {
        self.scripts += 1;
        self.connected += o.connected;
        self.delivered += o.delivered;
        self.datagrams += o.datagrams;
        self.sent += o.sent;
        self.closed += o.closed;
        self.with_data += usize::from(o.delivered > 0);
        self.survived += usize::from(o.survived);
        self.reconnected += usize::from(o.reconnected);
        self.overloaded += usize::from(o.overloaded > 0);
        self.timed_out_then_ended += usize::from(o.timed_out_then_ended);
        self.longest_clean_phase = self.longest_clean_phase.max(o.clean_time);
        // The batch arrived over the surviving association or a new one.
        assert!(o.survived != o.reconnected, "{o:?}");
    }
}

#[test]
fn endpoints_survive_a_hostile_wire() {
    let mut t = Totals::default();
    for seed in 0..SEEDS {
        t.add(&mitm::run(&script(seed, 1000)));
    }
    eprintln!("{t:?}");
    // The scripts must reach the data path, not just bounce off the
    // handshake: nearly all connect and deliver messages, and some
    // associations end (by close, abort or a hostile packet).
    let n = SEEDS as usize;
    assert!(t.connected >= 2 * n, "{t:?}");
    assert!(t.with_data >= n * 9 / 10, "{t:?}");
    assert!(t.closed > 0, "{t:?}");
    // The clean phase: both outcomes occur (today about 40 % survive; the
    // generator closes and aborts often).
    assert!(t.survived >= n / 4 && t.reconnected > 0, "{t:?}");
    // The known limit stays the rare exception it is (none of these seeds;
    // it was about 3.5 % before the completion reserve, see mitm.rs).
    assert!(t.overloaded <= n / 1000, "{t:?}");
}

#[test]
fn arbitrary_scripts_never_panic() {
    // Unbiased bytes too: every operation, operand and configuration flag.
    // Most of these never connect before the clean phase, which then
    // connects: the endpoints must still work after whatever the bytes did.
    let mut t = Totals::default();
    for seed in 0..SEEDS {
        let mut st = seed ^ 0xdead_beef;
        let v: Vec<u8> = (0..400).map(|_| next(&mut st) as u8).collect();
        t.add(&mitm::run(&v));
    }
    eprintln!("{t:?}");
    let n = SEEDS as usize;
    assert!(t.survived >= n / 4 && t.reconnected >= n / 4, "{t:?}");
    assert!(t.overloaded <= n / 1000, "{t:?}");
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Was a core bug (tolerated by the driver in about 100 of the 3 000 CI
/// seeds): on a perfect wire a receiver with a 4 KiB buffer
/// (`max_message_size` 3000) released a batch message as `Aborted { reason:
/// Timeout }`: its buffer was full of data that could not complete, so the
/// fragment the message waited for was refused until the
/// incomplete-message timeout. Three scripts, minimised from the
/// generator's seeds 67, 92 and 2340: the starts of two interleaved I-DATA
/// messages that may only be delivered whole (Truncate; now completed with
/// the completion reserve), late fragments of an unordered I-DATA message
/// released before, arriving after its tombstone expired (Pieces; now
/// recognised by their TSN and dropped), and DATA with Truncate (fixed
/// before, kept as a regression script). The
/// deterministic form without the driver is
/// `interleaved_messages_larger_than_the_receive_buffer_all_arrive` in
/// `interleaving_and_pr.rs`.
#[test]
fn small_buffers_never_starve_a_live_batch_message() {
    for script in [
        "5760c10161680481d522082030fb3e860768ad91b7d4339a",
        "6308058f96ecb9b563fea98c19f55bf8d1d75f1d13c081209181c1cae76aa7b7f8031f1b8accb1f1a10967876a28712b1b715101f9b94e11d5a672cc71b943aca321212979",
        "11d09bb529022cf141e1490d81013a382118f5c3773b6c7aeaef764ea181315924358af253c48ffc",
    ] {
        mitm::run_strict(&hex(script));
    }
}

/// Was a core weakness (not in the CI seeds; about 1 script in 8 000
/// beyond them): the wire corrupts the stream entry of a FORWARD-TSN (RFC
/// 3758, CRC fixed, right tag) so that it skips stream 0 far beyond
/// anything sent. The receiver moved stream 0's next expected SSN there,
/// and from then on dropped every ordered message of that stream as "a
/// fragment of a passed message", silently: the sender saw them
/// acknowledged, the association stayed up, the batch's ordered messages
/// never arrived. Now the skip is checked against what the sender can have
/// abandoned (one unreceived TSN per skipped message the receiver holds
/// nothing of) and refused with a Protocol Violation ABORT: the
/// association ends on both sides and the batch goes over a new one.
/// Script minimised from the generator's seed 18203 (DATA, PR-SCTP,
/// Pieces).
#[test]
fn a_corrupted_forward_tsn_ends_the_association_instead_of_dropping_messages() {
    let o = mitm::run_strict(&hex(
        "24000441031182e23bd03e1e437d5aa1881ff73804b2489001b8490a09d7ab0d6496058dd1fa8c61cfd8\
         fee0515a77713aead31351e11301c1e15a33333e5b6191c13a93cd285e51064e01d8c175c149ee417a5d\
         129a909141e108073c19a5dee932e47e96b22fdfb600a60cd74a38cedf65ba224c975309e1c146d637",
    ));
    assert!(o.reconnected && !o.survived, "{o:?}");
}

/// Not a test: prints eight generated scripts as hex, one per line
/// (`SEED name hex`), for `fuzz/make-seeds.sh` to write into
/// `fuzz/seeds/endpoint/`.
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
