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
//! | [`server::ext`] | the server's [`mcsctp_core::extension::Extension`]: §"Server: Start MTSN", §"Control State", §"Group Authentication" (signing, key changes), §"Measuring the Group Path", §"Backlog Limits and Eviction", §"Plain SCTP Peers", §"Sending BARRIER" |
//! | [`member::rx`] | §"Receiving MDATA" (on core's `DataTracker` and `ReassemblyQueue`) |
//! | [`member::ext`] | the member's [`mcsctp_core::extension::Extension`]: §"Client: INIT and Join", §"Receiving Group Packets" (source, MAC, chunk checks), §"Acknowledgement: MSACK Timing and Feedback Scaling", §"Receiving BARRIER" |
//!
//! The simulator tests (`mcast/tests/group_sim.rs`,
//! `mcast/tests/hostile_members.rs`) drive servers, members and plain SCTP
//! peers through `mcsctp-sim`. Not built yet: the group congestion window
//! and acker (the group path is bounded by the group window and the
//! members' a_grwnd only), BARRIER D=1, group abandonment (Forward), and
//! the runtime (sockets, joins) of the next issue.

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
