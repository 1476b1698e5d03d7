//! Sans-IO reliable IP multicast extension to SCTP.
//!
//! The extension is specified by the Internet-Draft in `draft/`
//! (draft-mcsctp-tsvwg-sctp-multicast). This crate builds on the wire codec
//! and association engine of `mcsctp-core` through its extension seam: its
//! chunks and parameters implement [`mcsctp_core::chunk::WireChunk`] and
//! [`mcsctp_core::param::WireParam`], arrive from core as
//! [`mcsctp_core::chunk::Chunk::Unknown`] / [`mcsctp_core::param::Param::Unknown`]
//! raw values, and are bundled with core's
//! [`mcsctp_core::packet::PacketBuilder`] — core itself knows nothing of
//! groups.
//!
//! So far: the MDATA chunk and the Multicast-Capable parameter. The group
//! sender and member state machines follow.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod chunk;
pub mod member;
pub mod param;
pub mod server;

mcsctp_core::serial_number!(
    /// Multicast TSN: the group path's own 32-bit serial number space
    /// (draft §"The MTSN Number Space"), separate from every
    /// association's TSNs.
    pub Mtsn(u32)
);
