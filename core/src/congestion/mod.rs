//! Congestion control as a pluggable controller: RFC 9260 §7.2
//! (<https://www.rfc-editor.org/rfc/rfc9260#section-7.2>) by default.
//!
//! A [`Controller`] owns one congestion window (cwnd) and whatever state
//! its algorithm needs (ssthresh, partial_bytes_acked, ...). It never sees
//! TSNs, chunks or associations: whoever sends the data -- the unicast
//! [`RetransmissionQueue`](crate::tx::RetransmissionQueue), or the multicast
//! extension for a group window driven by its own acknowledgements -- does
//! the bookkeeping of what is outstanding, decides when Fast Recovery
//! starts and ends (RFC 9260 §7.2.4 ties its exit to a TSN) and reports to
//! the controller in bytes:
//!
//! - [`on_sent`](Controller::on_sent) for every transmission,
//! - [`on_ack`](Controller::on_ack) once per acknowledgement (a SACK),
//! - [`on_congestion_event`](Controller::on_congestion_event) when Fast
//!   Recovery is entered or the retransmission timer expires,
//! - [`on_idle`](Controller::on_idle) before sending after a silence,
//!
//! and asks [`window`](Controller::window) how much may be in flight. The
//! sender applies the window (RFC 9260 §6.1 B lets new data exceed it by
//! up to PMDCS − 1 bytes; §7.2.4 step 3 lets one packet of fast
//! retransmissions ignore it); the controller only computes it.
//!
//! Windows and acknowledged amounts count **user-data bytes** (the payload
//! of DATA / I-DATA chunks, as the retransmission queue counts its flight
//! size); the MTU is the path MTU in packet bytes, as RFC 9260's formulas
//! use it.
//!
//! [`AssociationConfig::congestion`](crate::config::AssociationConfig::congestion)
//! holds the [`ControllerFactory`] every association builds its controller
//! from; [`Rfc9260RenoConfig`] (RFC 9260 §7.2) is the default,
//! [`CubicConfig`] (RFC 9438) and [`WestwoodConfig`] (TCP Westwood+, for
//! paths whose losses are not all congestion) the alternatives.
//!
//! # Driving a controller by hand
//!
//! ```
//! use std::time::{Duration, Instant};
//! use mcsctp_core::congestion::{
//!     Ack, CongestionEvent, Controller, ControllerFactory, Rfc9260RenoConfig,
//! };
//!
//! let mut now = Instant::now(); // the caller's clock
//! let mtu = 1200;
//! // The receiver advertised 64 KiB: the initial ssthresh (§7.2.1).
//! let mut cc = Rfc9260RenoConfig::default().build(now, mtu, 65_536);
//! // §7.2.1: min(4 * MTU, max(2 * MTU, 4404)).
//! assert_eq!(cc.window(), 4404);
//!
//! // A full window goes out; one acknowledgement covers 2400 bytes of it.
//! cc.on_sent(now, 4404);
//! now += Duration::from_millis(20);
//! cc.on_ack(now, &Ack {
//!     bytes_acked: 2400,
//!     flight_before: 4404,
//!     cum_advanced: true,
//!     ..Ack::default()
//! });
//! // Slow start: cwnd grows by min(bytes acknowledged, MTU).
//! assert_eq!(cc.window(), 4404 + 1200);
//!
//! // Three miss indications: the sender enters Fast Recovery.
//! cc.on_congestion_event(now, CongestionEvent::FastRetransmit);
//! // §7.2.3: ssthresh = max(cwnd / 2, 4 * MTU), cwnd = ssthresh.
//! assert_eq!((cc.window(), cc.ssthresh()), (4800, 4800));
//!
//! // The retransmission timer expires: cwnd = 1 MTU.
//! cc.on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
//! assert_eq!((cc.window(), cc.ssthresh()), (1200, 4800));
//! ```

pub mod cubic;
mod reno;
pub mod westwood;

use core::any::Any;
use core::fmt;
use std::time::{Duration, Instant};

pub use cubic::{Cubic, CubicConfig};
pub use reno::{Rfc9260Reno, Rfc9260RenoConfig};
pub use westwood::{Westwood, WestwoodConfig};

/// One acknowledgement, as a [`Controller`] sees it: what it acknowledged
/// and in which state it found the sender.
///
/// Built by the sender for every acknowledgement it processes (RFC 9260
/// §6.2.1: a SACK; for the multicast extension, whatever acknowledges data
/// sent under the group window), including one that acknowledges nothing
/// new (`bytes_acked == 0`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ack {
    /// User-data bytes this acknowledgement newly acknowledged, cumulatively
    /// or selectively (RFC 9260 §7.2.2: "the total number of bytes of all
    /// new chunks acknowledged in that SACK, including chunks acknowledged
    /// by the new Cumulative TSN Ack and by Gap Ack Blocks").
    pub bytes_acked: usize,
    /// The flight size before the acknowledgement arrived (§7.2.1 and
    /// §7.2.2 grow cwnd only if the window was fully used: "before the
    /// arrival of the SACK the sender had cwnd or more bytes of data
    /// outstanding").
    pub flight_before: usize,
    /// Whether the cumulative acknowledgement point advanced.
    pub cum_advanced: bool,
    /// Whether the sender is in Fast Recovery after this acknowledgement
    /// (§7.2.4: the exit, when the acknowledgement reaches the exit point,
    /// is applied first; entering is reported separately, after `on_ack`,
    /// as [`CongestionEvent::FastRetransmit`]).
    pub in_fast_recovery: bool,
    /// Whether nothing is outstanding after this acknowledgement: all data
    /// sent is acknowledged or abandoned (§7.2.2: "When all of the data
    /// transmitted by the sender has been acknowledged by the receiver,
    /// partial_bytes_acked is initialized to 0").
    pub nothing_outstanding: bool,
    /// The round-trip time measured from this acknowledgement (§6.3.1), if
    /// any.
    pub rtt_sample: Option<Duration>,
    /// The sender's smoothed round-trip time (SRTT, §6.3.1) before this
    /// acknowledgement's sample, if measured.
    pub srtt: Option<Duration>,
}

/// Why the window must shrink (RFC 9260 §7.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CongestionEvent {
    /// Loss detected from acknowledgements (three miss indications,
    /// §7.2.4, or time-based detection): the sender enters Fast Recovery.
    /// §7.2.4 step 2: "If not in Fast Recovery, adjust the ssthresh and
    /// cwnd [...] according to the formula described in Section 7.2.3".
    /// Reported once per recovery episode: "While in Fast Recovery, the
    /// ssthresh and cwnd SHOULD NOT change for any destinations due to a
    /// subsequent Fast Recovery event".
    FastRetransmit,
    /// The retransmission timer (T3-rtx) expired (§6.3.3 E1 with §7.2.3:
    /// "When the T3-rtx timer expires on an address, SCTP SHOULD perform
    /// slow start"). Leaves Fast Recovery if the sender was in it.
    RetransmissionTimeout,
}

/// A congestion controller for one path (or one multicast group): RFC
/// 9260 §7.2's window, computed from what the sender reports.
///
/// Object safe; modelled on quinn-proto's `congestion::Controller`. See the
/// [module docs](self) for the calling sequence and an example. Every
/// method must accept any input without panicking (the values derive from
/// what peers send).
pub trait Controller: fmt::Debug + Send + Sync {
    /// `bytes` of user data were transmitted (new or retransmitted) at
    /// `now`. (The retransmission queue reports a chunk when it hands it
    /// out; one that then does not fit its packet, a packet-building
    /// fault, has been reported already.)
    fn on_sent(&mut self, now: Instant, bytes: usize) {
        let _ = (now, bytes);
    }

    /// An acknowledgement was processed (§7.2.1, §7.2.2; §7.2.4: "the cwnd
    /// adjustment rules defined in Section 7.2.1 and Section 7.2.2 MUST be
    /// applied first", before a Fast Recovery it starts).
    fn on_ack(&mut self, now: Instant, ack: &Ack);

    /// Congestion was detected (§7.2.3).
    fn on_congestion_event(&mut self, now: Instant, event: CongestionEvent);

    /// The sender is about to transmit data after not transmitting any for
    /// `idle`, at least one `rto` (§7.2.1: "When the endpoint does not
    /// transmit data on a given transport address, the cwnd of the
    /// transport address SHOULD be adjusted to max(cwnd/2, 4*MTU) per
    /// RTO."). The default does nothing.
    fn on_idle(&mut self, now: Instant, idle: Duration, rto: Duration) {
        let _ = (now, idle, rto);
    }

    /// The path MTU changed (path MTU discovery); `mtu` is at least 1.
    fn on_mtu_update(&mut self, mtu: usize);

    /// The congestion window (cwnd): bytes of user data that may be in
    /// flight.
    fn window(&self) -> usize;

    /// The slow-start threshold (ssthresh), for statistics; a controller
    /// without one reports `usize::MAX`.
    fn ssthresh(&self) -> usize;

    /// The window the controller started with (§7.2.1's initial cwnd).
    fn initial_window(&self) -> usize;

    /// A copy of this controller, state included.
    fn clone_box(&self) -> Box<dyn Controller>;

    /// For downcasting to the concrete controller (its own statistics).
    fn as_any(&self) -> &dyn Any;
}

impl Clone for Box<dyn Controller> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Builds a [`Controller`] for each new association (or group): the
/// configured algorithm with its parameters.
pub trait ControllerFactory: fmt::Debug + Send + Sync {
    /// A controller for a path whose MTU (the largest SCTP packet) is
    /// `mtu`, towards a receiver that advertised `receive_window` bytes
    /// (RFC 9260 §7.2.1: "The initial value of ssthresh SHOULD be
    /// arbitrarily high (e.g., the size of the largest possible advertised
    /// window)"; the unicast path passes the peer's a_rwnd from its INIT
    /// or INIT ACK).
    fn build(&self, now: Instant, mtu: usize, receive_window: usize) -> Box<dyn Controller>;
}
