//! The multicast extension's wire codec (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"New Parameters and Chunks"): arbitrary bytes parsed as a packet with
//! the extension's data chunk types registered (checksum off, on, and on
//! after fixing the CRC so the parse gets past it); every extension chunk
//! (MDATA, BARRIER, MSYNC and its parameters, MSACK, MREACH), the AUTH chunk
//! of group packets and the Multicast-Capable / Multicast-Group parameters
//! of INIT and INIT ACK are typed, walked, re-encoded and parsed again, and
//! the packet is rebuilt whenever the sender's bundling rules allow. The
//! same bytes are also tried as a bare chunk value of every extension type
//! (first byte: flags) and checked against the group MAC. Must never panic.
//! The walk is `mcsctp_mcast::fuzzing`, shared with
//! `mcast/tests/proptest_codec.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mcsctp_mcast::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::exercise_packet(data, true);
    if data.len() >= 12 {
        let mut fixed = data.to_vec();
        let crc = mcsctp_core::packet::checksum(&fixed);
        fixed[8..12].copy_from_slice(&crc.to_le_bytes());
        fuzzing::exercise_packet(&fixed, true);
    }
    if let Some((&flags, value)) = data.split_first() {
        fuzzing::walk_values(flags, value);
    }
});
