//! Sans-IO reliable IP multicast extension to SCTP.
//!
//! The extension is specified by the Internet-Draft in `draft/`; this crate
//! builds on the wire codec and association engine of `mcsctp-core` through
//! its extension seam (its own chunk and parameter types implementing
//! [`mcsctp_core::chunk::WireChunk`] and [`mcsctp_core::param::WireParam`]).
