//! mcsctp: userspace SCTP over UDP (RFC 6951) with reliable IP multicast.
//!
//! The protocol engines live in [`mcsctp_core`] (unicast SCTP) and
//! [`mcsctp_mcast`] (the multicast extension); this crate will hold the tokio
//! runtime, the public async API and the `mcsctp` command-line tool.

pub use mcsctp_core as core;
pub use mcsctp_mcast as mcast;
