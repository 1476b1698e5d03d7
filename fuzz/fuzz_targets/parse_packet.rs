//! Arbitrary bytes -> `Packet::parse_with`, checksum off (and once with the
//! checksum on, after fixing it up so the parse gets past the CRC), then
//! walk everything reachable from the packet: every chunk raw and typed,
//! INIT/INIT ACK parameters typed, ABORT/ERROR causes typed, SACK gap blocks
//! and duplicate TSNs, FORWARD-TSN entries, both formatters. Must never
//! panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/support/walk.rs"]
mod walk;

fuzz_target!(|data: &[u8]| {
    // Checksum off, on (almost always rejected: exercises the CRC path) and
    // off with extension data types registered.
    walk::exercise(data, false);
    if data.len() >= 12 {
        let mut fixed = data.to_vec();
        walk::fix_crc(&mut fixed);
        if let Ok(p) = mcsctp_core::packet::Packet::parse(bytes::Bytes::from(fixed)) {
            walk::walk_packet(&p, &Default::default(), false);
        }
    }
});
