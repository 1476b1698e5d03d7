//! The multicast state machines under a hostile wire (draft-mcsctp-tsvwg-
//! sctp-multicast-01): a server endpoint with a `GroupServer` and one or two
//! member endpoints with a `GroupMember`, joined to the group, then a script
//! of operations — deliveries, drops, duplicates, reordering, corrupted,
//! truncated and field-mutated packets (CRC fixed), forged MDATA / MSYNC /
//! MSACK / MREACH / BARRIER chunks and raw chunk bytes behind chosen tags
//! from member, stranger and server addresses to the server, a member or
//! the group address, replays, time jumps, sends, closes and aborts — and a
//! clean phase in which everything owed must arrive. The driver checks
//! every invariant itself and panics on a broken one: no reply on the
//! group path, bounded memory, timers that make progress, exactly-once and
//! byte-identical delivery, BARRIER order and liveness wherever nothing
//! forged could have touched them. It is `mcsctp_mcast::fuzzing::
//! group_wire`, shared with the seeded test `mcast/tests/hostile_wire.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mcsctp_mcast::fuzzing::group_wire;

fuzz_target!(|data: &[u8]| {
    let _ = group_wire::run(data);
});
