//! mcsctp: userspace SCTP over UDP (RFC 6951) with reliable IP multicast.
//!
//! This crate is the runtime: a tokio driver around the sans-IO protocol
//! engines of [`mcsctp_core`] (unicast SCTP) and [`mcsctp_mcast`] (the
//! multicast extension), the public async API, and the `mcsctp` CLI.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mcsctp::Error> {
//! use mcsctp::{Config, Endpoint};
//!
//! // A server on UDP port 9899, SCTP port 7.
//! let server = Endpoint::bind(Config::new("127.0.0.1:9899".parse().unwrap(), 7))?;
//! // A client on an ephemeral UDP port.
//! let client = Endpoint::bind(Config::new("127.0.0.1:0".parse().unwrap(), 5000))?;
//! let assoc = client.connect(server.local_addr(), 7).await?;
//! assoc.send(0, bytes::Bytes::from_static(b"hello")).await?;
//! let msg = server.recv().await?;
//! assert_eq!(&msg.data[..], b"hello");
//! # Ok(()) }
//! ```

pub use mcsctp_core as core;
pub use mcsctp_mcast as mcast;

pub mod coherency;
mod endpoint;
pub mod group;
mod udp;

pub use endpoint::{
    Association, AssociationId, Config, Endpoint, Error, Message, SendParams, SentStats,
};
pub use group::{
    Group, GroupConfig, GroupSendParams, Interface, MemberFigures, MemberInfo, MemberKind,
    MembershipEvent, MulticastConfig,
};
pub use mcsctp_core::event::{CloseReason, Event};
pub use mcsctp_core::rx::DeliveryKind;

/// The default UDP encapsulation port (RFC 6951 §5.1, IANA "sctp-tunneling").
pub const DEFAULT_UDP_PORT: u16 = 9899;
