//! The association state machine under a hostile wire: the input is a
//! script of operations on two endpoints and the datagrams between them
//! (deliver, drop, duplicate, reorder, corrupt or truncate with a valid
//! CRC, inject chunks with the right verification tag, time jumps,
//! application sends, close, abort), then a clean phase that must deliver
//! a fresh batch of messages byte-identical both ways. `mitm::run` checks
//! every invariant itself and panics on a broken one; its `Outcome` is
//! statistics only. See `core/tests/support/mitm.rs`, shared with the
//! seeded test `core/tests/hostile_wire.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/support/mitm.rs"]
mod mitm;

fuzz_target!(|data: &[u8]| {
    let _ = mitm::run(data);
});
