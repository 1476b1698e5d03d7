//! Arbitrary bytes parsed with the checksum off; every chunk that parses to
//! a typed `Chunk` is serialised with `Chunk::write` and parsed again and
//! must come back equal (likewise every typed parameter and error cause);
//! the packet is rebuilt with `PacketBuilder` whenever the sender's bundling
//! rules allow, must parse (checksum on) to the same chunks, and rebuilding
//! that is byte-identical.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mcsctp_core::packet::Packet;

#[path = "../../core/tests/support/walk.rs"]
mod walk;

fuzz_target!(|data: &[u8]| {
    for opts in walk::option_sets() {
        if opts.verify_checksum {
            continue;
        }
        if let Ok(p) = Packet::parse_with(Bytes::copy_from_slice(data), &opts) {
            walk::walk_packet(&p, &opts, true);
        }
    }
});
