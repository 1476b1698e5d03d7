//! Sans-IO SCTP for mcsctp.
//!
//! This crate holds the unicast protocol engine of mcsctp: the complete
//! RFC 9260 wire codec (with I-DATA and I-FORWARD-TSN of RFC 8260 and
//! FORWARD-TSN of RFC 3758), the association state machine (handshake,
//! data transfer with congestion control, PR-SCTP, shutdown and abort,
//! failure detection) and the [`endpoint::Endpoint`] that routes packets to
//! associations by tag and peer. It never touches a socket, the clock or
//! global randomness: time comes in as `now` on every call and randomness
//! from the seed in [`config::EndpointConfig`].
//!
//! Parsing is zero-copy and allocation-free: [`packet::Packet::parse`] takes
//! a [`bytes::Bytes`], checks the CRC32c, every chunk length, the padding and
//! the bundling rules, and yields [`chunk::RawChunk`] views whose values are
//! slices of the same buffer; [`chunk::Chunk::parse`] turns one into a typed
//! chunk. Serialising goes through [`packet::PacketBuilder`] into a
//! caller-owned `Vec<u8>`.
//!
//! # Extension seam
//!
//! The multicast extension (crate `mcsctp-mcast`) defines its chunks and
//! parameters without editing this crate: it implements
//! [`chunk::WireChunk`] and [`param::WireParam`] for its own types, receives
//! them as [`chunk::Chunk::Unknown`] / [`param::Param::Unknown`] raw values,
//! tells the packet parser which of its types carry user data
//! ([`packet::ParseOptions::extra_data_types`]), and bundles them with
//! [`packet::PacketBuilder::add`]. Inside an endpoint it is an
//! [`extension::Extension`]: registered chunk and parameter types, INIT /
//! INIT ACK parameters and its own State Cookie field, chunks with COOKIE
//! ECHO and after COOKIE ACK, its chunks in packet order with look-ahead,
//! its data within each association's congestion window, timers, held
//! deliveries, acks and closure (`core/tests/extension_hooks.rs` drives a
//! toy extension through every hook). Congestion control is a
//! [`congestion::Controller`] that knows nothing of TSNs or associations:
//! an association builds its own from
//! [`config::AssociationConfig::congestion`], and the extension can drive
//! one for a group window.
//!
//! ```
//! use bytes::Bytes;
//! use mcsctp_core::chunk::{Chunk, CookieAck, WireChunk};
//! use mcsctp_core::packet::{build_packet, CommonHeader, Packet};
//! use mcsctp_core::serial::VerificationTag;
//!
//! let header = CommonHeader { src_port: 5000, dst_port: 5001, verification_tag: VerificationTag(7) };
//! let bytes = build_packet(header, &[Chunk::CookieAck(CookieAck)]).unwrap();
//! let packet = Packet::parse(Bytes::from(bytes)).unwrap();
//! assert_eq!(packet.header().dst_port, 5001);
//! let raw = packet.chunks().next().unwrap();
//! assert_eq!(Chunk::parse(raw).unwrap(), Chunk::CookieAck(CookieAck));
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod association;
pub mod cause;
pub mod chunk;
pub mod config;
pub mod congestion;
mod cookie;
pub mod endpoint;
pub mod event;
pub mod extension;
pub mod packet;
pub mod param;
mod rng;
pub mod rx;
pub mod serial;
mod tlv;
pub mod tx;
pub mod user_data;

pub use tlv::TlvError;
