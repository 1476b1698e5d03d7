//! The shared simulation harness of mcsctp's tests and benchmarks
//! (unpublished).
//!
//! - [`group`]: a server endpoint with a `GroupServer`, members with a
//!   `GroupMember` and plain SCTP peers in one [`mcsctp_sim::Network`]
//!   ([`group::Peer`], [`group::build`], [`group::connect_all`],
//!   [`group::run`]), and the message payload every receiver checks
//!   independently of the implementation ([`group::payload`]). Used by
//!   `mcast/tests/group_sim.rs`.
//! - [`rig`]: what a measurement adds to the server node: an application
//!   that sends a workload, the server's access link (a rate-limited
//!   egress queue with back-pressure), packet counters, and a recording of
//!   every call into the server endpoint that [`rig::replay`] plays back
//!   into a fresh endpoint (to time the server alone).
//! - [`compare`]: the multicast group against the same workload sent as N
//!   unicast associations (fan-out), on the same links: the cases, the
//!   figures and the targets of issue 10 item 7. Used by
//!   `benches/group_vs_fanout.rs` and `tests/group_vs_fanout.rs`.
//! - [`alloc`]: a counting global allocator that attributes live heap to
//!   the calls into one endpoint, per thread (`mcast/tests/server_memory.rs`).

pub mod alloc;
pub mod compare;
pub mod group;
pub mod rig;
