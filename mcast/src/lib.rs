//! Sans-IO reliable IP multicast extension to SCTP.
//!
//! The extension is specified by the Internet-Draft in `draft/`
//! (draft-mcsctp-tsvwg-sctp-multicast-01). This crate builds on the wire
//! codec and association engine of `mcsctp-core` through its extension
//! seam: its chunks and parameters implement
//! [`mcsctp_core::chunk::WireChunk`] and [`mcsctp_core::param::WireParam`],
//! arrive from core as [`mcsctp_core::chunk::Chunk::Unknown`] /
//! [`mcsctp_core::param::Param::Unknown`] raw values, and are bundled with
//! core's [`mcsctp_core::packet::PacketBuilder`] — core itself knows nothing
//! of groups.
//!
//! The modules mirror the draft's sections:
//!
//! | module | draft section |
//! |---|---|
//! | [`chunk`] | §"New Parameters and Chunks": MDATA, MSACK, MSYNC (and its parameters), BARRIER, MREACH |
//! | [`param`] | §"Multicast-Capable Parameter", §"Multicast-Group Parameter" |
//! | [`auth`] | §"Group Authentication": the AUTH chunk of group packets and the group MAC |
//! | [`defaults`] | §"Protocol Parameters": every named default, read from one place |
//! | [`Mtsn`] | §"The MTSN Number Space", §"Wrap-Safe Comparison of MTSNs" |
//! | [`server::group`] | §"Sending MDATA", §"Repair", §"Multicast Cumulative TSN, Buffer Release and the Group Window", §"Hold-Back Policy", §"Backlog Limits and Eviction" |
//! | [`server::ext`] | the server's [`mcsctp_core::extension::Extension`]: §"Server: Start MTSN", §"Control State", §"Measuring the Group Path", §"Plain SCTP Peers", §"Sending BARRIER" |
//! | [`member::rx`] | §"Receiving MDATA" (on core's `DataTracker` and `ReassemblyQueue`) |
//! | [`member::ext`] | the member's [`mcsctp_core::extension::Extension`]: §"Client: INIT and Join", §"Acknowledgement: MSACK Timing and Feedback Scaling", §"Receiving BARRIER" |
//!
//! The simulator tests (`mcast/tests/group_sim.rs`,
//! `mcast/tests/barrier_unicast_first.rs`,
//! `mcast/tests/hostile_members.rs`) drive servers, members and plain SCTP
//! peers through `mcsctp-sim`; the `mcsctp` crate's `group` module runs
//! them over real sockets (joins, group sockets).
//!
//! # Example
//!
//! A server endpoint with a [`server::ext::GroupServer`], a client
//! endpoint with a [`member::ext::GroupMember`], and a hand-made network
//! in which every datagram arrives at once: the member connects, the
//! runtime's IP-level join is simulated, and a message sent once to the
//! group arrives through the member's ordinary receive path, marked as a
//! group message.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//!
//! use bytes::Bytes;
//! use mcsctp_core::config::EndpointConfig;
//! use mcsctp_core::endpoint::Endpoint;
//! use mcsctp_core::rx::reassembly::Origin;
//! use mcsctp_core::serial::{Ppid, StreamId, VerificationTag};
//! use mcsctp_mcast::member::ext::{GroupMember, GroupMemberConfig};
//! use mcsctp_mcast::server::ext::{GroupServer, GroupServerConfig};
//!
//! let server_addr: SocketAddr = "10.0.0.1:9899".parse().unwrap();
//! let member_addr: SocketAddr = "10.0.0.2:9899".parse().unwrap();
//! let group: SocketAddr = "239.1.2.3:9907".parse().unwrap();
//! let mut now = Instant::now(); // any origin: time is driven by hand
//!
//! // The server: one group, sent from its own address.
//! let cfg = GroupServerConfig::new(group, server_addr.ip(), VerificationTag(0x6A1F_0C33));
//! let mut server =
//!     Endpoint::with_extension(EndpointConfig::with_seed(1), now, GroupServer::new(cfg))
//!         .unwrap();
//! // The member: an ordinary client that offers the extension.
//! let mut mcfg = EndpointConfig::with_seed(2);
//! mcfg.accept_incoming = false;
//! let member_ext = GroupMember::new(GroupMemberConfig::default());
//! let mut member = Endpoint::with_extension(mcfg, now, member_ext).unwrap();
//! member.connect(now, server_addr, 9899).unwrap();
//!
//! let mut sent = false;
//! let mut got = Vec::new();
//! for _ in 0..10_000 {
//!     // The runtime joins the IP group when the member asks.
//!     while let Some(j) = member.extension_mut().poll_join() {
//!         member.extension_mut().join_result(j.association, true);
//!     }
//!     // Every datagram arrives at once: unicast ones, and the group's,
//!     // which the member receives on the group address.
//!     let mut buf = Vec::new();
//!     let mut moved = false;
//!     while let Some(t) = server.poll_transmit(now, &mut buf) {
//!         let data = Bytes::copy_from_slice(&buf[..t.len]);
//!         member.handle_datagram(now, t.destination, server_addr, data);
//!         buf.clear();
//!         moved = true;
//!     }
//!     while let Some(t) = member.poll_transmit(now, &mut buf) {
//!         let data = Bytes::copy_from_slice(&buf[..t.len]);
//!         server.handle_datagram(now, t.destination, member_addr, data);
//!         buf.clear();
//!         moved = true;
//!     }
//!     // Once the member is in the group, send one message to the group.
//!     if !sent && member.extension().any_started() {
//!         let payload = Bytes::from_static(b"invalidate key 42");
//!         server.extension_mut().send(now, StreamId(0), Ppid(0), payload).unwrap();
//!         sent = true;
//!     }
//!     while let Some(r) = member.poll_recv() {
//!         got.push(r.delivery);
//!     }
//!     if !got.is_empty() {
//!         break;
//!     }
//!     if !moved {
//!         // Nothing in flight: on to the next timer.
//!         let next = [server.poll_timeout(), member.poll_timeout()].into_iter().flatten().min();
//!         now = next.unwrap_or(now + Duration::from_millis(1)).max(now);
//!         server.handle_timeout(now);
//!         member.handle_timeout(now);
//!     }
//! }
//! assert_eq!(got.len(), 1);
//! assert_eq!(&got[0].payload[..], b"invalidate key 42");
//! assert_eq!(got[0].origin, Origin::Extension, "marked as a group message");
//! // Nobody lost anything: the server's buffer is released.
//! # for _ in 0..1000 {
//! #     let mut buf = Vec::new();
//! #     while let Some(t) = member.poll_transmit(now, &mut buf) {
//! #         let data = Bytes::copy_from_slice(&buf[..t.len]);
//! #         server.handle_datagram(now, t.destination, member_addr, data);
//! #         buf.clear();
//! #     }
//! #     while let Some(t) = server.poll_transmit(now, &mut buf) {
//! #         let data = Bytes::copy_from_slice(&buf[..t.len]);
//! #         member.handle_datagram(now, t.destination, server_addr, data);
//! #         buf.clear();
//! #     }
//! #     if server.extension().sender().buffered_bytes() == 0 { break; }
//! #     now = [server.poll_timeout(), member.poll_timeout()].into_iter().flatten().min().unwrap_or(now).max(now);
//! #     server.handle_timeout(now);
//! #     member.handle_timeout(now);
//! # }
//! assert_eq!(server.extension().sender().buffered_bytes(), 0);
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod chunk;
pub mod defaults;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod member;
pub mod param;
pub mod server;

mcsctp_core::serial_number!(
    /// Multicast TSN: the group path's own 32-bit serial number space
    /// (draft §"The MTSN Number Space"), separate from every
    /// association's TSNs.
    ///
    /// Draft §"Wrap-Safe Comparison of MTSNs": MTSNs are compared only
    /// against a sliding base, within [`Mtsn::REACH`]; see
    /// [`Mtsn::is_ahead_of`].
    pub Mtsn(u32)
);

impl Mtsn {
    /// Mcast.Mtsn.Reach (draft §"Wrap-Safe Comparison of MTSNs"): the
    /// reach of a 16-bit gap block offset, and of every MTSN comparison.
    pub const REACH: u32 = defaults::MTSN_REACH;

    /// Draft §"Wrap-Safe Comparison of MTSNs": "An MTSN t is ahead of a
    /// base b if (t - b) modulo 2^32 is between 1 and Mcast.Mtsn.Reach
    /// (65535 [...]) inclusive. Otherwise it is not ahead".
    #[inline]
    pub const fn is_ahead_of(self, base: Self) -> bool {
        let d = self.0.wrapping_sub(base.0);
        d != 0 && d <= Self::REACH
    }
}
