//! Two endpoints talk through a hostile wire (drops, duplicates, reordering,
//! corrupted and truncated packets with valid checksums, forged chunks with
//! the right verification tag, arbitrary time jumps, application sends,
//! closes and aborts), driven by scripts drawn from a seeded generator.
//! The same driver is the cargo-fuzz target `endpoint`
//! (`fuzz/fuzz_targets/endpoint.rs`); this test runs a bounded number of
//! seeds in CI. Invariants checked: no panic, timers that make progress,
//! datagrams within the packet size, receive memory within budget (see
//! `support/mitm.rs`).

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

#[test]
fn endpoints_survive_a_hostile_wire() {
    let mut total = mitm::Outcome::default();
    let mut with_data = 0;
    for seed in 0..SEEDS {
        let o = mitm::run(&script(seed, 1000));
        total.connected += o.connected;
        total.delivered += o.delivered;
        total.datagrams += o.datagrams;
        total.sent += o.sent;
        total.closed += o.closed;
        with_data += usize::from(o.delivered > 0);
    }
    eprintln!("{with_data} of {SEEDS} scripts delivered data: {total:?}");
    // The scripts must reach the data path, not just bounce off the
    // handshake: nearly all connect and deliver messages, and some
    // associations end (by close, abort or a hostile packet).
    assert!(total.connected >= 2 * SEEDS as usize, "{total:?}");
    assert!(
        with_data >= SEEDS as usize * 9 / 10,
        "only {with_data} of {SEEDS} scripts delivered data: {total:?}"
    );
    assert!(total.closed > 0, "{total:?}");
}

#[test]
fn arbitrary_scripts_never_panic() {
    // Unbiased bytes too: every operation, operand and configuration flag.
    for seed in 0..SEEDS {
        let mut st = seed ^ 0xdead_beef;
        let v: Vec<u8> = (0..400).map(|_| next(&mut st) as u8).collect();
        let _ = mitm::run(&v);
    }
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
