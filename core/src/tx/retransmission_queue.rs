//! Outstanding data: SACK processing, retransmission, the T3-rtx timer,
//! the congestion window and the PR-SCTP sender side, for one destination.
//!
//! RFC 9260 §6.1 (<https://www.rfc-editor.org/rfc/rfc9260#section-6.1>),
//! §6.2.1, §6.3 and §7.2; RFC 3758 §3.5 (PR-SCTP), RFC 7496 §3.1 (limited
//! retransmissions), RFC 8260 §2.3 (I-FORWARD-TSN).
//!
//! # Driving it
//!
//! The association owns the RTO estimator ([`crate::tx::Rto`]: it also
//! serves T1, T2 and heartbeats, and takes HEARTBEAT-ACK samples) and
//! passes the current RTO in wherever the T3-rtx timer may (re)start. The
//! queue decides *when* (rules R1–R4 of §6.3.2, §7.2.4 step 4, RFC 3758
//! C5); the association supplies *how long*:
//!
//! 1. SACK: `handle_sack(now, &sack)`; an `Err` is a protocol violation
//!    (ABORT). Feed `outcome.rtt_sample` to the `Rto`, then
//!    `on_sack_processed(now, rto.rto(), &outcome)` (applies R3/R4 with
//!    the updated RTO; R2 was applied already). Drop the unsent rest of
//!    every message in `outcome.abandoned`
//!    ([`crate::tx::SendQueue::abandon_message`]), then call
//!    `forward_tsn(now, interleaving)` and bundle the FORWARD-TSN /
//!    I-FORWARD-TSN it returns, if any.
//! 2. When `now >= t3_deadline()`: `handle_t3_expiry(now)` (E1, E3;
//!    harmless before the deadline), drop the rest of the messages it
//!    returns, `rto.backoff()` (E2), `restart_t3(now, rto.rto())`, then
//!    `forward_tsn(now, interleaving)` (RFC 3758 A5).
//! 3. Filling a packet: while `has_retransmissions()`,
//!    `chunks_to_retransmit(now, room)`; then, while
//!    `available_window() > 0`, produce a fragment of at most
//!    `min(available_window(), room − header)` bytes and `add_sent` it.
//!    A chunk that turned out not to fit the packet goes back with
//!    `retransmit_later(tsn)`. After sending anything,
//!    `start_t3_if_idle(now, rto.rto())` (R1, and the §7.2.4 step 4
//!    restart when the earliest outstanding chunk was retransmitted).
//!
//! Every method that takes an RTO also remembers it; `forward_tsn` uses
//! the last one to honour RFC 3758 C5 ("the sender MUST assure that at
//! least one T3-rtx timer is running").
//!
//! # Congestion control
//!
//! The window comes from a [`Controller`] (RFC 9260 §7.2's
//! [`Rfc9260Reno`] unless the association was configured otherwise). The
//! queue keeps what only it can know -- the flight size, the Fast Recovery
//! exit point (a TSN), which chunks were lost -- and reports to the
//! controller in bytes: every transmission (`on_sent`), every SACK
//! (`on_ack`, before a Fast Recovery the SACK starts, §7.2.4), Fast
//! Recovery entry and T3-rtx expiry (`on_congestion_event`), and new data
//! after at least one RTO without transmitting (`on_idle`). It applies the
//! window itself: rule B of §6.1, the cwnd limit on retransmissions (§6.1
//! C) and the one packet of a Fast Retransmit that ignores it (§7.2.4 step
//! 3).
//!
//! # Choices where the RFCs leave room
//!
//! - Flight size, rwnd and cwnd count **user-data bytes** (payload), as the
//!   Linux and FreeBSD stacks do; the 16/20-byte chunk headers are not
//!   counted. `available_window()` is therefore directly a `max_payload`.
//! - PMDCS (§6.1 B) is taken as `mtu − 12 − 20` (common header and the
//!   larger I-DATA chunk header), so the MUST of rule B holds for both
//!   encodings.
//! - Max.Burst (§6.1 D) is a budget of `max_burst × mtu` bytes of new data
//!   per transmission opportunity; it is refilled by every SACK, every T3
//!   expiry and whenever nothing is in flight.
//! - RTT is timed on one chunk at a time (the first new chunk sent while no
//!   measurement runs), so there is at most one sample per round trip
//!   (§6.3.1 C4), and any retransmission of a TSN at or below it cancels the
//!   measurement (C5, Karn). The sample is returned in
//!   [`SackOutcome::rtt_sample`] for the association's `Rto`.
//! - T3 expiry leaves Fast Recovery (as Linux does; RFC 9260 is silent):
//!   otherwise cwnd would stay pinned at 1 MTU until the old exit point is
//!   acknowledged.
//! - Chunks marked for retransmission (fast or T3) leave the flight size and
//!   are added back to rwnd (§6.2.1 C) until they are sent again.
//! - Duplicate TSNs in SACKs are not used (RFC 9260 §7.2.2 counting of
//!   duplicate bytes into partial_bytes_acked is not implemented).
//! - The idle-period cwnd decay of §7.2.1 ("SHOULD be adjusted to
//!   max(cwnd/2, 4*MTU) per RTO") is the controller's: `on_idle` is called
//!   when a new fragment goes out at least one RTO after the last
//!   transmission, so the window it leaves applies from the next fragment
//!   on. [`Rfc9260Reno`] applies the decay only with
//!   [`Rfc9260RenoConfig::idle_decay`], off by default.
//! - PR-SCTP: chunk lifetimes and retransmission limits are evaluated on
//!   every SACK and T3 expiry, and before a chunk is marked for
//!   retransmission; the Advanced.Peer.Ack.Point moves over gap-acknowledged
//!   chunks too but only ever stops on an abandoned one.

use core::fmt;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use tracing::debug;

use crate::chunk::{ForwardTsn, ForwardTsnStream, IForwardTsn, IForwardTsnStream, Sack};
use crate::congestion::{Ack, CongestionEvent, Controller, Rfc9260Reno, Rfc9260RenoConfig};
use crate::serial::{Mid, Ssn, StreamId, Tsn};
use crate::tx::loss::{Rack, Xmit, probe_timeout};
use crate::tx::rto::RtoConfig;
use crate::tx::send_queue::{MessageKey, Produced};
use crate::user_data::UserDataChunk;

/// SCTP common header length (RFC 9260 §3.1).
const COMMON_HEADER_LEN: usize = 12;
/// I-DATA chunk header length, the larger of DATA (16) and I-DATA (20).
const MAX_DATA_HEADER_LEN: usize = 20;

/// Parameters of the retransmission queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmissionConfig {
    /// Path MTU: the SCTP packet size, used by the cwnd formulas. 1200.
    pub mtu: usize,
    /// Max.Burst (RFC 9260 §16: 4); 0 disables the limit.
    pub max_burst: u32,
    /// Initial cwnd of the [`Rfc9260Reno`] controller that
    /// [`RetransmissionQueue::new`] builds; `None` is RFC 9260 §7.2.1's
    /// `min(4*MTU, max(2*MTU, 4404))`. Not used by
    /// [`RetransmissionQueue::with_controller`].
    pub initial_cwnd: Option<usize>,
    /// Miss indications that trigger Fast Retransmit (§7.2.4: 3).
    pub fast_retransmit_threshold: u32,
    /// Length of the data chunk header on the wire: 16 for DATA, 20 for
    /// I-DATA; used to fit retransmissions into `max_bytes`.
    pub chunk_header_len: usize,
    /// Whether PR-SCTP (RFC 3758) was negotiated. Without it lifetimes and
    /// retransmission limits are ignored: abandoning data the peer cannot
    /// be told to skip would stall the association.
    pub partial_reliability: bool,
    /// How long the peer may delay a SACK (RFC 9260 §6.2: 200 ms
    /// recommended): a tail loss probe waits that much longer when one
    /// packet is outstanding (RFC 8985 §7.2's WCDelAckT).
    pub peer_sack_delay: Duration,
    /// Shortest tail loss probe timeout: the runtime's timer resolution.
    pub min_probe_timeout: Duration,
    /// Time-based loss detection and tail loss probes (RFC 8985, see
    /// `core/src/tx/loss.rs`) beside RFC 9260's rules; off, loss is detected
    /// by three miss indications and T3-rtx alone.
    pub rack_tlp: bool,
}

impl Default for RetransmissionConfig {
    fn default() -> Self {
        Self {
            mtu: 1200,
            max_burst: 4,
            initial_cwnd: None,
            fast_retransmit_threshold: 3,
            chunk_header_len: 16,
            partial_reliability: false,
            peer_sack_delay: Duration::from_millis(200),
            min_probe_timeout: Duration::from_millis(1),
            rack_tlp: true,
        }
    }
}

/// What a SACK did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SackOutcome {
    /// The SACK was older than the current cumulative ack and was dropped
    /// (RFC 9260 §6.2.1 D i); nothing else changed.
    pub ignored: bool,
    /// RTT measured from this SACK (already fed to the RTO estimator).
    pub rtt_sample: Option<Duration>,
    /// The Cumulative TSN Ack Point advanced.
    pub cum_advanced: bool,
    /// User-data bytes newly acknowledged (cumulatively or by gap blocks).
    pub bytes_acked: usize,
    /// Everything sent is cumulatively acknowledged.
    pub all_acked: bool,
    /// Fast Recovery was entered.
    pub entered_fast_recovery: bool,
    /// Fast Recovery was left.
    pub exited_fast_recovery: bool,
    /// Chunks are waiting for retransmission.
    pub retransmit_pending: bool,
    /// Messages newly abandoned (PR-SCTP); drop their unsent rest.
    pub abandoned: Vec<MessageKey>,
    /// What `on_sack_processed` must do with T3-rtx.
    t3: T3Action,
}

/// What [`RetransmissionQueue::handle_loss_timer`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LossTimerOutcome {
    /// RACK's reordering timer marked chunks lost.
    pub marked: bool,
    /// Fast Recovery was entered.
    pub entered_fast_recovery: bool,
    /// A tail loss probe was queued.
    pub probe: bool,
    /// Messages newly abandoned (PR-SCTP); drop their unsent rest.
    pub abandoned: Vec<MessageKey>,
}

/// A T3-rtx (re)start decided by the queue, waiting for the RTO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum T3Action {
    #[default]
    None,
    /// Start if not running (R1, R4).
    StartIfIdle,
    /// Restart (R3, §7.2.4 step 4).
    Restart,
}

/// A SACK that is a protocol violation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SackError {
    /// The Cumulative TSN Ack acknowledges a TSN that was never sent.
    CumulativeTsnAckBeyondSent {
        /// The SACK's Cumulative TSN Ack.
        cumulative_tsn_ack: Tsn,
        /// The highest TSN sent so far.
        highest_sent: Tsn,
    },
}

impl fmt::Display for SackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CumulativeTsnAckBeyondSent {
                cumulative_tsn_ack,
                highest_sent,
            } => write!(
                f,
                "SACK cumulative TSN ack {cumulative_tsn_ack} is beyond the highest TSN sent {highest_sent}"
            ),
        }
    }
}

impl std::error::Error for SackError {}

/// What a FORWARD-TSN (RFC 3758 §3.2) or I-FORWARD-TSN (RFC 8260 §2.3)
/// must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTsnInfo {
    /// New Cumulative TSN (the Advanced.Peer.Ack.Point).
    pub new_cumulative_tsn: Tsn,
    /// FORWARD-TSN: per stream, the largest SSN of an abandoned ordered
    /// message (unordered messages are not listed), by stream. Empty with
    /// I-DATA.
    pub ssns: Vec<(StreamId, Ssn)>,
    /// I-FORWARD-TSN: per (stream, U flag), the largest MID abandoned.
    /// Empty with DATA.
    pub mids: Vec<(StreamId, bool, Mid)>,
}

impl ForwardTsnInfo {
    /// As a FORWARD-TSN chunk.
    pub fn to_forward_tsn(&self) -> ForwardTsn {
        let streams: Vec<ForwardTsnStream> = self
            .ssns
            .iter()
            .map(|&(stream, ssn)| ForwardTsnStream { stream, ssn })
            .collect();
        ForwardTsn::new(self.new_cumulative_tsn, &streams)
    }

    /// As an I-FORWARD-TSN chunk.
    pub fn to_iforward_tsn(&self) -> IForwardTsn {
        let entries: Vec<IForwardTsnStream> = self
            .mids
            .iter()
            .map(|&(stream, unordered, mid)| IForwardTsnStream {
                stream,
                unordered,
                mid,
            })
            .collect();
        IForwardTsn::new(self.new_cumulative_tsn, &entries)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Sent, not acknowledged.
    Outstanding,
    /// Acknowledged by a gap block (may be reneged).
    Acked,
    /// Abandoned by PR-SCTP.
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Marked by Fast Retransmit (§7.2.4).
    Fast,
    /// Marked by T3-rtx expiry (§6.3.3 E3).
    Timeout,
}

#[derive(Debug, Clone)]
struct Sent {
    chunk: UserDataChunk,
    key: MessageKey,
    state: State,
    mark: Option<Mark>,
    /// Counted in the flight size.
    in_flight: bool,
    sent_at: Instant,
    /// Place of the latest transmission in the order of all of them (RACK).
    xmit: Xmit,
    transmissions: u32,
    miss_indications: u32,
    /// §7.2.4 step 5: "ineligible for a subsequent Fast Retransmit".
    fast_retransmitted: bool,
    expires_at: Option<Instant>,
    max_retransmissions: Option<u32>,
}

impl Sent {
    fn len(&self) -> usize {
        self.chunk.payload.len()
    }
}

/// Sent user data of one association (one destination), with the T3-rtx
/// timer and the window of a congestion [`Controller`].
#[derive(Debug)]
pub struct RetransmissionQueue {
    cfg: RetransmissionConfig,
    /// The last RTO the association passed in (for RFC 3758 C5).
    last_rto: Duration,
    /// A T3 (re)start waiting for `start_t3_if_idle`.
    t3_pending: T3Action,
    next_tsn: Tsn,
    /// Cumulative TSN Ack Point.
    cum_ack: Tsn,
    /// Every TSN in `cum_ack+1 .. next_tsn`, in order.
    chunks: VecDeque<Sent>,
    /// Chunks with a retransmission mark.
    marked: usize,
    flight: usize,
    rwnd: usize,
    /// Congestion control (RFC 9260 §7.2): cwnd and ssthresh.
    cc: Box<dyn Controller>,
    /// When data was last transmitted (§7.2.1's idle periods).
    last_sent: Option<Instant>,
    /// Fast Recovery exit point, while in Fast Recovery.
    fast_recovery_exit: Option<Tsn>,
    /// One packet of fast retransmissions may ignore cwnd (§7.2.4 step 3).
    fast_rtx_pending: bool,
    t3: Option<Instant>,
    /// New-data bytes sent in the current transmission opportunity.
    burst_used: usize,
    /// The TSN being timed for an RTT measurement.
    rtt_probe: Option<Tsn>,
    /// RFC 3758 Advanced.Peer.Ack.Point; never before `cum_ack`.
    adv_peer_ack: Tsn,
    /// Whether some chunk beyond the cumulative ack point is acknowledged by
    /// a gap block: only then can a SACK renege on one, so the reneging
    /// walk over all outstanding chunks is skipped otherwise (it dominated
    /// SACK processing with a large flight and no loss).
    gap_acked: bool,
    /// Chunks in `chunks` with a lifetime: without any, the per-SACK
    /// lifetime check is skipped instead of walking the whole queue.
    timed: usize,
    /// Time-based loss detection (see `core/src/tx/loss.rs`).
    rack: Rack,
    /// RACK's reordering timer (RFC 8985 §6.3): the earliest instant an
    /// outstanding chunk RACK is waiting on counts as lost.
    rack_timer: Option<Instant>,
    /// The tail loss probe timer (RFC 8985 §7.2).
    pto: Option<Instant>,
    /// A probe went out and no SACK acknowledged new data since: no
    /// second probe (RFC 8985 §7.3).
    probe_out: bool,
    /// The association's smoothed RTT, for the probe timeout and RACK.
    srtt: Option<Duration>,
    /// The next transmission's [`Xmit`].
    next_xmit: u64,
    /// The last SACK closed the window without reporting a gap: the peer
    /// is out of buffer, not missing data, and zero window probing (RFC
    /// 9260 §6.1 A) rather than a tail loss probe is the way on.
    window_closed: bool,
}

impl RetransmissionQueue {
    /// A queue whose first DATA chunk gets `our_initial_tsn`, for a peer
    /// that advertised `peer_a_rwnd` in its INIT or INIT-ACK, with RFC
    /// 9260 §7.2's congestion control ([`Rfc9260Reno`], initial cwnd
    /// `cfg.initial_cwnd`).
    pub fn new(our_initial_tsn: Tsn, peer_a_rwnd: u32, cfg: RetransmissionConfig) -> Self {
        let reno = Rfc9260RenoConfig {
            initial_window: cfg.initial_cwnd,
            ..Rfc9260RenoConfig::default()
        };
        let rwnd = usize::try_from(peer_a_rwnd).unwrap_or(usize::MAX);
        let cc = Box::new(Rfc9260Reno::new(&reno, cfg.mtu, rwnd));
        Self::with_controller(our_initial_tsn, peer_a_rwnd, cfg, cc)
    }

    /// As [`new`](Self::new), with the congestion controller `cc` (built
    /// for `cfg.mtu` and `peer_a_rwnd`, see
    /// [`ControllerFactory::build`](crate::congestion::ControllerFactory::build)).
    pub fn with_controller(
        our_initial_tsn: Tsn,
        peer_a_rwnd: u32,
        cfg: RetransmissionConfig,
        cc: Box<dyn Controller>,
    ) -> Self {
        let rwnd = usize::try_from(peer_a_rwnd).unwrap_or(usize::MAX);
        Self {
            cfg,
            last_rto: RtoConfig::default().initial,
            t3_pending: T3Action::None,
            next_tsn: our_initial_tsn,
            cum_ack: our_initial_tsn.wrapping_sub(1),
            chunks: VecDeque::new(),
            marked: 0,
            flight: 0,
            rwnd,
            cc,
            last_sent: None,
            fast_recovery_exit: None,
            fast_rtx_pending: false,
            t3: None,
            burst_used: 0,
            rtt_probe: None,
            adv_peer_ack: our_initial_tsn.wrapping_sub(1),
            gap_acked: false,
            timed: 0,
            rack: Rack::default(),
            rack_timer: None,
            pto: None,
            probe_out: false,
            srtt: None,
            next_xmit: 0,
            window_closed: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RetransmissionConfig {
        &self.cfg
    }

    /// Updates the path MTU (PMTU discovery).
    pub fn set_mtu(&mut self, mtu: usize) {
        self.cfg.mtu = mtu.max(1);
        self.cc.on_mtu_update(self.cfg.mtu);
    }

    /// The congestion controller.
    pub fn controller(&self) -> &dyn Controller {
        &*self.cc
    }

    fn mtu(&self) -> usize {
        self.cfg.mtu.max(1)
    }

    /// PMDCS in payload bytes (see the module docs).
    fn pmdcs(&self) -> usize {
        self.mtu()
            .saturating_sub(COMMON_HEADER_LEN + MAX_DATA_HEADER_LEN)
            .max(1)
    }

    fn wire_size(&self, len: usize) -> usize {
        self.cfg.chunk_header_len + len.next_multiple_of(4)
    }

    fn tsn_at(&self, index: usize) -> Tsn {
        // `index < chunks.len()`, which stays far below 2^31.
        self.cum_ack.wrapping_add(index as u32 + 1)
    }

    /// The TSN the next new fragment gets.
    pub fn next_tsn(&self) -> Tsn {
        self.next_tsn
    }

    /// The Cumulative TSN Ack Point.
    pub fn cumulative_tsn_ack(&self) -> Tsn {
        self.cum_ack
    }

    /// Whether the peer acknowledged `tsn`, by the cumulative TSN ack or a
    /// Gap Ack Block (RFC 9260 §6.2.1), or it was abandoned and passed by
    /// a FORWARD-TSN (RFC 3758); `None` for a TSN not sent yet.
    pub fn is_acked(&self, tsn: Tsn) -> Option<bool> {
        if !tsn.is_after(self.cum_ack) {
            return Some(true);
        }
        if !tsn.is_before(self.next_tsn) {
            return None;
        }
        let i = self.cum_ack.distance_to(tsn) as usize - 1;
        self.chunks.get(i).map(|c| c.state == State::Acked)
    }

    /// Applies a T3 decision with `rto`.
    fn apply_t3(&mut self, now: Instant, rto: Duration, action: T3Action) {
        self.last_rto = rto;
        match action {
            T3Action::None => {}
            T3Action::StartIfIdle => {
                if self.t3.is_none() {
                    self.t3 = Some(now + rto);
                }
            }
            T3Action::Restart => self.t3 = Some(now + rto),
        }
    }

    /// After sending: R1 ("Every time a DATA chunk is sent to any address
    /// (including a retransmission), if the T3-rtx timer of that address
    /// is not running, start it running so that it will expire after the
    /// RTO of that address.") and, if the earliest outstanding chunk was
    /// just retransmitted, the restart of §7.2.4 step 4.
    pub fn start_t3_if_idle(&mut self, now: Instant, rto: Duration) {
        let action = match self.t3_pending {
            T3Action::Restart => T3Action::Restart,
            _ if self.has_unacked() => T3Action::StartIfIdle,
            _ => T3Action::None,
        };
        self.t3_pending = T3Action::None;
        self.apply_t3(now, rto, action);
        self.arm_probe(now);
    }

    /// Restarts T3-rtx with `rto` if anything is outstanding (after a T3
    /// expiry and the RTO backoff, E2/E4), stops it otherwise.
    pub fn restart_t3(&mut self, now: Instant, rto: Duration) {
        self.last_rto = rto;
        self.t3 =
            (self.has_unacked() || self.adv_peer_ack.is_after(self.cum_ack)).then(|| now + rto);
    }

    /// Applies the T3-rtx rules R3 and R4 of a processed SACK with the RTO
    /// updated from its RTT sample (R2 was applied by `handle_sack`).
    pub fn on_sack_processed(&mut self, now: Instant, rto: Duration, outcome: &SackOutcome) {
        self.apply_t3(now, rto, outcome.t3);
        if outcome.bytes_acked > 0 || outcome.cum_advanced {
            self.arm_probe(now);
        }
    }

    /// The association's smoothed RTT (RFC 9260 §6.3.1 SRTT), for the tail
    /// loss probe timeout. Call after every RTT measurement.
    pub fn set_srtt(&mut self, srtt: Option<Duration>) {
        self.srtt = srtt;
    }

    /// RFC 8985 §7.2: (re)schedules the tail loss probe after sending data
    /// or a SACK that acknowledged some, unless a probe is out already or
    /// T3-rtx would fire first. Unlike RFC 8985 the probe is also armed
    /// during Fast Recovery: a lost retransmission behind a full window has
    /// no later data for RACK to compare with, and a probe is all that
    /// repairs it before T3.
    fn arm_probe(&mut self, now: Instant) {
        self.pto = None;
        if !self.cfg.rack_tlp || self.probe_out || self.window_closed || !self.has_unacked() {
            return;
        }
        let Some(srtt) = self.srtt else {
            return;
        };
        // The peer may delay its SACK for a lone packet, but not while it
        // holds data above a gap (RFC 9260 §6.7: a receiver that sees a gap
        // SACKs at once).
        let lone_packet = self.flight <= self.pmdcs() && !self.gap_acked;
        let at = now
            + probe_timeout(
                srtt,
                lone_packet,
                self.cfg.peer_sack_delay,
                self.cfg.min_probe_timeout,
            );
        if self.t3.is_none_or(|t3| at < t3) {
            self.pto = Some(at);
        }
    }

    /// When [`handle_loss_timer`](Self::handle_loss_timer) has work: RACK's
    /// reordering timer or the tail loss probe.
    pub fn loss_timer_deadline(&self) -> Option<Instant> {
        match (self.rack_timer, self.pto) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// RACK's reordering timer (RFC 8985 §6.3) and the tail loss probe
    /// (§7.3). Harmless before the deadline. Chunks found lost or the probe
    /// are marked for retransmission; send them with
    /// [`chunks_to_retransmit`](Self::chunks_to_retransmit).
    pub fn handle_loss_timer(&mut self, now: Instant) -> LossTimerOutcome {
        let mut out = LossTimerOutcome::default();
        if self.rack_timer.is_some_and(|at| at <= now) {
            let all = [(0, self.chunks.len())];
            out.marked = self.rack_detect(now, &all, &mut out.abandoned);
            if out.marked {
                out.entered_fast_recovery = self.enter_fast_recovery(now);
            }
        }
        if self.pto.is_some_and(|at| at <= now) {
            self.pto = None;
            // §7.3: "If [no] new segment can be sent [...] retransmit the
            // highest-sequence segment sent so far". New data would have
            // been sent already if the windows allowed it.
            let highest = (0..self.chunks.len()).rev().find(|&i| {
                let c = &self.chunks[i];
                c.state == State::Outstanding && c.mark.is_none()
            });
            if let Some(i) = highest {
                let freed = self.leave_flight(i);
                self.rwnd = self.rwnd.saturating_add(freed);
                self.set_mark(i, Some(Mark::Fast));
                self.fast_rtx_pending = true;
                self.probe_out = true;
                out.probe = true;
            }
        }
        out
    }

    /// Whether some chunk is neither acknowledged nor abandoned.
    fn has_unacked(&self) -> bool {
        self.chunks.iter().any(|c| c.state == State::Outstanding)
    }

    /// `bytes` of an extension's data on the association were acknowledged
    /// (the extension's own acknowledgement, e.g. the multicast
    /// extension's MSACK for MDATA sent here); `flight_before` is the
    /// flight, the association's and the extension's, before those
    /// acknowledgements, `extension_flight` what the extension still has
    /// outstanding. The controller grows the window as for acknowledged
    /// DATA (RFC 9260 §7.2.1, §7.2.2); no RTT sample and no cumulative
    /// TSN change of the association's own.
    pub fn on_extension_ack(
        &mut self,
        now: Instant,
        bytes: usize,
        flight_before: usize,
        extension_flight: usize,
    ) {
        // The extension's chunks are whole messages' fragments: a flight
        // within one PMDCS of cwnd could take no further chunk (§6.1 B
        // allows overshooting cwnd only while the flight is below it), so
        // the window counts as fully used (§7.2.1, §7.2.2).
        let cwnd = self.cc.window();
        let flight_before = if flight_before + self.pmdcs() > cwnd {
            flight_before.max(cwnd)
        } else {
            flight_before
        };
        self.cc.on_ack(
            now,
            &Ack {
                bytes_acked: bytes,
                flight_before,
                cum_advanced: true,
                in_fast_recovery: self.fast_recovery_exit.is_some(),
                nothing_outstanding: !self.has_unacked() && extension_flight == 0,
                rtt_sample: None,
                srtt: self.srtt,
            },
        );
    }

    /// Bytes of new user data the windows allow now; 0 while
    /// retransmissions are pending. Ask again before every fragment.
    pub fn available_window(&self) -> usize {
        // §6.1 C: "before sending new DATA chunks, the sender MUST first
        // transmit any outstanding DATA chunks that are marked for
        // retransmission (limited by the current cwnd)."
        if self.marked > 0 {
            return 0;
        }
        let pmdcs = self.pmdcs();
        // §6.1 B: "the sender MUST NOT transmit new data to a given
        // transport address if it has cwnd + (PMDCS - 1) or more bytes of
        // data outstanding to that transport address. If data is
        // available, the sender SHOULD exceed cwnd by up to (PMDCS - 1)
        // bytes on a new data transmission if the flightsize does not
        // exceed the cwnd."
        let cwnd = self.cc.window();
        let cwnd_room = if self.flight < cwnd {
            (cwnd - self.flight).saturating_add(pmdcs - 1)
        } else {
            0
        };
        // §6.1 A: "the data sender MUST NOT transmit new data [...] if its
        // peer's rwnd indicates that the peer has no buffer space [...].
        // However, regardless of the value of rwnd (including if it is 0),
        // the data sender can always have one DATA chunk in flight to the
        // receiver if allowed by cwnd (see rule B, below)."
        let rwnd_room = if self.flight == 0 {
            self.rwnd.max(pmdcs)
        } else {
            self.rwnd
        };
        // §6.1 D: "When the time comes for the sender to transmit new DATA
        // chunks, the protocol parameter Max.Burst SHOULD be used to limit
        // the number of packets sent. The limit MAY be applied by
        // adjusting cwnd temporarily, as follows: if ((flightsize +
        // Max.Burst * MTU) < cwnd) cwnd = flightsize + Max.Burst * MTU".
        let burst_room = if self.cfg.max_burst == 0 {
            usize::MAX
        } else {
            let limit = (self.cfg.max_burst as usize).saturating_mul(self.mtu());
            let used = if self.flight == 0 { 0 } else { self.burst_used };
            limit.saturating_sub(used)
        };
        cwnd_room.min(rwnd_room).min(burst_room)
    }

    /// Records a newly sent fragment and returns its TSN.
    pub fn add_sent(&mut self, now: Instant, produced: Produced) -> Tsn {
        if self.flight == 0 {
            self.burst_used = 0;
        }
        // §7.2.1: "When the endpoint does not transmit data on a given
        // transport address, the cwnd of the transport address SHOULD be
        // adjusted to max(cwnd/2, 4*MTU) per RTO." Left to the controller.
        if let Some(last) = self.last_sent {
            let idle = now.saturating_duration_since(last);
            if idle >= self.last_rto {
                self.cc.on_idle(now, idle, self.last_rto);
            }
        }
        self.last_sent = Some(now);
        let tsn = self.next_tsn;
        self.next_tsn = tsn.next();
        let len = produced.chunk.payload.len();
        let pr = self.cfg.partial_reliability;
        let expires_at = produced.expires_at.filter(|_| pr);
        self.timed += usize::from(expires_at.is_some());
        self.chunks.push_back(Sent {
            chunk: produced.chunk,
            key: produced.message,
            state: State::Outstanding,
            mark: None,
            in_flight: true,
            sent_at: now,
            xmit: Xmit(self.next_xmit),
            transmissions: 1,
            miss_indications: 0,
            fast_retransmitted: false,
            expires_at,
            max_retransmissions: produced.max_retransmissions.filter(|_| pr),
        });
        self.next_xmit += 1;
        self.flight += len;
        self.cc.on_sent(now, len);
        // §6.2.1 B: "Any time a DATA chunk is transmitted (or
        // retransmitted) to a peer, the endpoint subtracts the data size of
        // the chunk from the rwnd of that peer."
        self.rwnd = self.rwnd.saturating_sub(len);
        self.burst_used += len;
        if self.rtt_probe.is_none() {
            self.rtt_probe = Some(tsn);
        }
        // R1 is applied by `start_t3_if_idle` once the packet is built.
        tsn
    }

    fn set_mark(&mut self, i: usize, mark: Option<Mark>) {
        let Some(c) = self.chunks.get_mut(i) else {
            return;
        };
        match (c.mark.is_some(), mark.is_some()) {
            (false, true) => self.marked += 1,
            (true, false) => self.marked -= 1,
            _ => {}
        }
        c.mark = mark;
    }

    fn leave_flight(&mut self, i: usize) -> usize {
        let Some(c) = self.chunks.get_mut(i) else {
            return 0;
        };
        if c.in_flight {
            c.in_flight = false;
            self.flight -= c.len();
            c.len()
        } else {
            0
        }
    }

    /// Index of the earliest outstanding (unacknowledged, not abandoned)
    /// chunk.
    fn first_outstanding(&self) -> Option<usize> {
        self.chunks
            .iter()
            .position(|c| c.state == State::Outstanding)
    }

    /// Whether chunks wait for retransmission.
    pub fn has_retransmissions(&self) -> bool {
        self.marked > 0
    }

    /// A chunk handed out by `add_sent` or `chunks_to_retransmit` did not
    /// make it into a packet: it leaves the flight and waits for
    /// retransmission again, and that attempt is not counted.
    pub fn retransmit_later(&mut self, tsn: Tsn) {
        let d = self.cum_ack.distance_to(tsn) as usize;
        if d == 0 || d > self.chunks.len() {
            return;
        }
        let i = d - 1;
        let c = &self.chunks[i];
        if c.state != State::Outstanding || c.mark.is_some() {
            return;
        }
        let freed = self.leave_flight(i);
        self.rwnd = self.rwnd.saturating_add(freed);
        self.burst_used = self.burst_used.saturating_sub(freed);
        let c = &mut self.chunks[i];
        c.transmissions = c.transmissions.saturating_sub(1);
        if self.rtt_probe == Some(tsn) {
            self.rtt_probe = None;
        }
        self.set_mark(i, Some(Mark::Timeout));
    }

    /// Messages with chunks not yet cumulatively acknowledged (and not
    /// abandoned), e.g. to report how many were lost at close.
    pub fn message_count(&self) -> usize {
        let mut seqs: Vec<u64> = self
            .chunks
            .iter()
            .filter(|c| c.state != State::Abandoned)
            .map(|c| c.key.seq)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        seqs.len()
    }

    /// Chunks due for retransmission, fitting `max_bytes` on the wire
    /// (chunk header plus padded payload each): after a Fast Retransmit,
    /// one packet of the earliest fast-marked chunks regardless of cwnd
    /// (§7.2.4 step 3); otherwise the earliest marked chunks limited by
    /// cwnd (§6.1 C; after T3 expiry with cwnd = 1 MTU that is one packet,
    /// §6.3.3 E3). Marks them retransmitted: no RTT is measured from them
    /// (Karn).
    pub fn chunks_to_retransmit(
        &mut self,
        now: Instant,
        max_bytes: usize,
    ) -> Vec<(Tsn, UserDataChunk)> {
        let mut out = Vec::new();
        if self.marked == 0 {
            self.fast_rtx_pending = false;
            return out;
        }
        let first = self.first_outstanding();
        let mut used = 0;
        let mut restart = false;
        let fast_only =
            self.fast_rtx_pending && self.chunks.iter().any(|c| c.mark == Some(Mark::Fast));
        for i in 0..self.chunks.len() {
            let c = &self.chunks[i];
            let Some(mark) = c.mark else { continue };
            if fast_only && mark != Mark::Fast {
                continue;
            }
            let len = c.len();
            // §7.2.4 step 3: "When a Fast Retransmit is being performed,
            // the sender SHOULD ignore the value of cwnd and SHOULD NOT
            // delay retransmission for this packet."
            if !fast_only && self.flight > 0 && self.flight + len > self.cc.window() {
                break;
            }
            let size = self.wire_size(len);
            if used + size > max_bytes {
                break;
            }
            used += size;
            self.set_mark(i, None);
            let tsn = self.tsn_at(i);
            let c = &mut self.chunks[i];
            c.in_flight = true;
            c.transmissions = c.transmissions.saturating_add(1);
            c.sent_at = now;
            c.xmit = Xmit(self.next_xmit);
            self.next_xmit += 1;
            c.miss_indications = 0;
            let chunk = c.chunk.clone();
            self.flight += len;
            self.rwnd = self.rwnd.saturating_sub(len);
            self.cc.on_sent(now, len);
            self.last_sent = Some(now);
            // C5: "RTT measurements SHOULD only be made using a chunk with
            // TSN r if no chunk with TSN less than or equal to r is
            // retransmitted since r is first sent."
            if self.rtt_probe.is_some_and(|p| tsn.is_at_or_before(p)) {
                self.rtt_probe = None;
            }
            restart |= Some(i) == first;
            out.push((tsn, chunk));
        }
        if !fast_only || !out.is_empty() {
            self.fast_rtx_pending = false;
        }
        if restart {
            // §7.2.4 step 4: "Restart the T3-rtx timer only if [...] the
            // endpoint is retransmitting the first outstanding DATA chunk
            // sent to that address." Applied by `start_t3_if_idle`.
            self.t3_pending = T3Action::Restart;
        }
        out
    }

    /// Whether PR-SCTP says chunk `i` must be abandoned rather than
    /// retransmitted.
    fn must_abandon(&self, i: usize, now: Instant) -> bool {
        let Some(c) = self.chunks.get(i) else {
            return false;
        };
        // RFC 3758 §3.5 (timed reliability: the lifetime has passed) and
        // RFC 7496 §3.1 (limited retransmissions: it was already
        // retransmitted the allowed number of times).
        c.expires_at.is_some_and(|at| at <= now)
            || c.max_retransmissions
                .is_some_and(|max| c.transmissions.saturating_sub(1) >= max)
    }

    /// Abandons every chunk of the message of chunk `i` (RFC 3758 §3.5
    /// A3: "When a TSN is 'abandoned', if it is part of a fragmented
    /// message, all other TSN's within that fragmented message MUST be
    /// abandoned at the same time.").
    fn abandon_message_of(&mut self, i: usize, out: &mut Vec<MessageKey>) {
        let Some(key) = self.chunks.get(i).map(|c| c.key) else {
            return;
        };
        for j in 0..self.chunks.len() {
            if self.chunks[j].key != key || self.chunks[j].state == State::Abandoned {
                continue;
            }
            self.leave_flight(j);
            self.set_mark(j, None);
            self.chunks[j].state = State::Abandoned;
            if self.rtt_probe == Some(self.tsn_at(j)) {
                self.rtt_probe = None;
            }
        }
        if !out.contains(&key) {
            out.push(key);
        }
    }

    /// Marks outstanding chunk `i` lost (§7.2.4 step 1, or RACK), or
    /// abandons its message if PR-SCTP says so. True if it was marked.
    fn mark_lost(&mut self, i: usize, now: Instant, abandoned: &mut Vec<MessageKey>) -> bool {
        if self.must_abandon(i, now) {
            self.abandon_message_of(i, abandoned);
            return false;
        }
        // Step 1: "Mark the DATA chunk(s) with three miss indications for
        // retransmission." Step 5: "Mark the DATA chunk(s) as being fast
        // retransmitted and thus ineligible for a subsequent Fast
        // Retransmit."
        self.chunks[i].fast_retransmitted = true;
        self.leave_flight(i);
        self.set_mark(i, Some(Mark::Fast));
        true
    }

    /// §7.2.4 step 2 after chunks were marked: enters Fast Recovery unless
    /// in it, and lets one packet of them ignore cwnd (step 3). True if
    /// Fast Recovery was entered.
    fn enter_fast_recovery(&mut self, now: Instant) -> bool {
        self.fast_rtx_pending = true;
        if self.fast_recovery_exit.is_some() {
            return false;
        }
        // §7.2.4 step 2: "If not in Fast Recovery, adjust the ssthresh and
        // cwnd of the destination address(es) to which the missing DATA
        // chunks were last sent, according to the formula described in
        // Section 7.2.3." (The controller's.) "If not in Fast Recovery,
        // enter Fast Recovery and mark the highest outstanding TSN as the
        // Fast Recovery exit point." "While in Fast Recovery, the ssthresh
        // and cwnd SHOULD NOT change for any destinations due to a
        // subsequent Fast Recovery event".
        self.cc
            .on_congestion_event(now, CongestionEvent::FastRetransmit);
        self.fast_recovery_exit = Some(self.next_tsn.wrapping_sub(1));
        true
    }

    /// RFC 8985 §6.2 step 5 over the chunks in the index ranges `within`
    /// (in order): marks lost every outstanding chunk sent before the newest
    /// acknowledged one whose time is up, and sets the reordering timer for
    /// the others. True if it marked any.
    fn rack_detect(
        &mut self,
        now: Instant,
        within: &[(usize, usize)],
        abandoned: &mut Vec<MessageKey>,
    ) -> bool {
        self.rack_timer = None;
        let reo_wnd = self
            .rack
            .reo_wnd(self.fast_recovery_exit.is_some(), self.srtt);
        let mut marked = false;
        for &(lo, hi) in within {
            for i in lo..hi.min(self.chunks.len()) {
                let c = &self.chunks[i];
                if c.state != State::Outstanding || c.mark.is_some() {
                    continue;
                }
                let Some(deadline) = self.rack.deadline(c.sent_at, c.xmit, reo_wnd) else {
                    if c.transmissions == 1 {
                        // First transmissions go out in TSN order: every
                        // later one was sent after the newest acknowledged
                        // chunk too.
                        return marked;
                    }
                    continue;
                };
                if now >= deadline {
                    marked |= self.mark_lost(i, now, abandoned);
                } else {
                    self.rack_timer = Some(self.rack_timer.map_or(deadline, |t| t.min(deadline)));
                }
            }
        }
        marked
    }

    /// Processes a SACK (RFC 9260 §6.2.1, §7.2.1–7.2.4, RFC 3758 §3.5 C1).
    pub fn handle_sack(&mut self, now: Instant, sack: &Sack) -> Result<SackOutcome, SackError> {
        let cum = sack.cumulative_tsn_ack;
        let d = self.cum_ack.distance_to(cum) as usize;
        if d > self.chunks.len() {
            if cum.is_before(self.cum_ack) {
                // §6.2.1 D i: "If Cumulative TSN Ack is less than the
                // Cumulative TSN Ack Point, then drop the SACK chunk."
                debug!(cum = cum.0, cum_ack = self.cum_ack.0, "stale SACK dropped");
                return Ok(SackOutcome {
                    ignored: true,
                    ..SackOutcome::default()
                });
            }
            // A Cumulative TSN Ack beyond the highest TSN sent is a
            // protocol violation; the association ABORTs.
            debug!(
                cum = cum.0,
                next_tsn = self.next_tsn.0,
                "SACK acks unsent TSN"
            );
            return Err(SackError::CumulativeTsnAckBeyondSent {
                cumulative_tsn_ack: cum,
                highest_sent: self.next_tsn.wrapping_sub(1),
            });
        }
        let len = self.chunks.len();
        let mut out = SackOutcome::default();
        let before_flight = self.flight;
        let was_in_fr = self.fast_recovery_exit.is_some();
        let first_before = self.first_outstanding();

        // Gap blocks as index ranges into `chunks`, clipped to what was
        // sent, sorted and merged: any garbage costs O(n log n + len).
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut bad_blocks = 0usize;
        for g in sack.gap_blocks() {
            if g.start == 0 || g.start > g.end {
                bad_blocks += 1;
                continue;
            }
            // TSN cum_ack + m is index m - 1, and cum = cum_ack + d, so
            // TSN cum + k is index d + k - 1 (k >= 1).
            let lo = d + usize::from(g.start) - 1;
            let hi = d + usize::from(g.end) - 1;
            if lo >= len {
                bad_blocks += 1;
                continue;
            }
            ranges.push((lo, hi.min(len - 1)));
        }
        if bad_blocks > 0 {
            debug!(bad_blocks, "ignored invalid or out-of-range gap ack blocks");
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }

        // Acknowledge: cumulatively 0..d, then the gap ranges.
        let mut htna: Option<usize> = None;
        let mut first_acked = false;
        let mut rtt_sample = None;
        for i in (0..d).chain(merged.iter().flat_map(|&(lo, hi)| lo..=hi)) {
            if self.chunks[i].state != State::Outstanding {
                continue;
            }
            let tsn = self.tsn_at(i);
            self.leave_flight(i);
            self.set_mark(i, None);
            let c = &mut self.chunks[i];
            c.state = State::Acked;
            out.bytes_acked += c.len();
            self.rack.on_acked(now, c.sent_at, c.xmit, c.transmissions);
            htna = Some(i);
            first_acked |= Some(i) == first_before;
            if self.rtt_probe == Some(tsn) {
                self.rtt_probe = None;
                // C5 (Karn): "RTT measurements MUST NOT be made using
                // chunks that were retransmitted".
                if c.transmissions == 1 {
                    rtt_sample = Some(now.saturating_duration_since(c.sent_at));
                }
            }
        }
        out.rtt_sample = rtt_sample;

        // §6.2.1 D iii: chunks previously acknowledged by a gap block and
        // missing now were reneged. Only up to the highest TSN this SACK
        // reports (as FreeBSD's sctp_check_for_revoked does): a receiver
        // lists its lowest gap blocks first and stops at its limit, so
        // what lies beyond its last block is unreported, not missing.
        // Taking it for reneged retransmitted whole windows of data the
        // peer held whenever a burst of losses made more gaps than a SACK
        // lists. A SACK without gap blocks reports everything.
        let reported_end = merged.last().map_or(len, |&(_, hi)| hi + 1);
        // What the SACK reports missing, as index ranges: the holes between
        // the cumulative ack and its gap blocks. Only chunks there can be
        // reneged, struck or found lost below; walking the holes instead
        // of every chunk keeps a SACK's cost to the size of its report,
        // not of the flight (a 1 MiB window holds 10 000 small chunks).
        let mut holes: Vec<(usize, usize)> = Vec::with_capacity(merged.len() + 1);
        let mut from = d;
        for &(lo, hi) in &merged {
            if lo > from {
                holes.push((from, lo));
            }
            from = from.max(hi + 1);
        }
        if merged.is_empty() {
            holes.push((d, len));
        }
        let mut reneged: Vec<usize> = Vec::new();
        let may_renege = self.gap_acked;
        self.gap_acked = !merged.is_empty() || (may_renege && reported_end < len);
        if may_renege {
            for &(lo, hi) in &holes {
                for i in lo..hi {
                    if self.chunks[i].state == State::Acked {
                        self.chunks[i].state = State::Outstanding;
                        reneged.push(i);
                    }
                }
            }
        }

        // §7.2.4: "For each incoming SACK, miss indications are incremented
        // only for missing TSNs prior to the highest TSN newly acknowledged
        // in the SACK. [...] If an endpoint is in Fast Recovery and a SACK
        // arrives that advances the Cumulative TSN Ack Point, the miss
        // indications are incremented for all TSNs reported missing in the
        // SACK."
        let limit = if was_in_fr && d > 0 {
            merged.last().map(|&(_, hi)| hi)
        } else {
            htna
        };
        let mut newly_marked = false;
        let mut abandoned = Vec::new();
        let mut strike = |q: &mut Self, i: usize, abandoned: &mut Vec<MessageKey>| {
            let c = &mut q.chunks[i];
            if c.state != State::Outstanding || c.mark.is_some() {
                return;
            }
            c.miss_indications = c.miss_indications.saturating_add(1);
            if c.miss_indications < q.cfg.fast_retransmit_threshold || c.fast_retransmitted {
                return;
            }
            newly_marked |= q.mark_lost(i, now, abandoned);
        };
        if let Some(limit) = limit {
            for &(lo, hi) in &holes {
                for i in lo..hi.min(limit) {
                    strike(self, i, &mut abandoned);
                }
            }
        }
        for &i in &reneged {
            // D iii: "Count one miss indication towards Fast Retransmit"
            // (unless the loop above already did).
            if limit.is_none_or(|l| i >= l) {
                strike(self, i, &mut abandoned);
            }
        }
        // RFC 8985 §6.2: time-based detection, for what three miss
        // indications will never catch (see `crate::tx::loss`). An SCTP
        // duplicate TSN report is RACK's DSACK.
        if sack.dup_tsns().len() > 0 {
            self.rack.on_duplicate_reported();
        }
        if self.rack.take_advanced() && self.cfg.rack_tlp {
            // And what lies beyond the SACK's last block: an earlier SACK
            // may have acknowledged chunks there (RACK's newest among
            // them) that this one, at its block limit, does not list.
            let mut within = holes.clone();
            if reported_end < len && !merged.is_empty() {
                within.push((reported_end, len));
            }
            newly_marked |= self.rack_detect(now, &within, &mut abandoned);
        }

        // §6.2.1 D iv: "If the Cumulative TSN Ack matches or exceeds the
        // Fast Recovery exitpoint (Section 7.2.4), Fast Recovery is
        // exited."
        if let Some(exit) = self.fast_recovery_exit
            && d > 0
            && cum.is_at_or_after(exit)
        {
            self.fast_recovery_exit = None;
            out.exited_fast_recovery = true;
            self.rack.on_recovery_exit();
        }

        if out.bytes_acked > 0 {
            // RFC 8985 §7.3: a new probe may go out once the last one was
            // answered.
            self.probe_out = false;
        }

        // Advance the Cumulative TSN Ack Point.
        for _ in 0..d {
            if let Some(c) = self.chunks.pop_front() {
                self.marked -= usize::from(c.mark.is_some());
                self.timed -= usize::from(c.expires_at.is_some());
            }
        }
        self.cum_ack = cum;
        out.cum_advanced = d > 0;
        // RFC 3758 §3.5 C1: "If (Advanced.Peer.Ack.Point < SackCumAck),
        // then update Advanced.Peer.Ack.Point to be equal to SackCumAck."
        self.adv_peer_ack = self.adv_peer_ack.serial_max(cum);

        // PR-SCTP timed reliability: abandon what outlived its lifetime.
        if self.cfg.partial_reliability && self.timed > 0 {
            for i in 0..self.chunks.len() {
                let c = &self.chunks[i];
                if c.state == State::Outstanding && c.expires_at.is_some_and(|at| at <= now) {
                    self.abandon_message_of(i, &mut abandoned);
                }
            }
        }

        let any_outstanding = self.chunks.iter().any(|c| c.state == State::Outstanding);
        // §7.2.4: "if the received SACK also acknowledges new DATA chunks
        // and advances the Cumulative TSN Ack Point, the cwnd adjustment
        // rules defined in Section 7.2.1 and Section 7.2.2 MUST be applied
        // first." (RFC 9260 §7.2.1 grows cwnd on newly acknowledged bytes
        // without a cumulative advance too.) The controller also resets
        // partial_bytes_acked when nothing is outstanding (§7.2.2).
        self.cc.on_ack(
            now,
            &Ack {
                bytes_acked: out.bytes_acked,
                flight_before: before_flight,
                cum_advanced: d > 0,
                in_fast_recovery: self.fast_recovery_exit.is_some(),
                nothing_outstanding: !any_outstanding,
                rtt_sample,
                srtt: self.srtt,
            },
        );
        if newly_marked {
            out.entered_fast_recovery = self.enter_fast_recovery(now);
        }

        // §6.2.1 D ii: "Set rwnd equal to the newly received a_rwnd minus
        // the number of bytes still outstanding after processing the
        // Cumulative TSN Ack and the Gap Ack Blocks." Chunks marked for
        // retransmission are not counted (§6.2.1 C).
        let a_rwnd = usize::try_from(sack.a_rwnd).unwrap_or(usize::MAX);
        self.rwnd = a_rwnd.saturating_sub(self.flight);
        self.window_closed = a_rwnd < self.pmdcs() && merged.is_empty();

        // T3-rtx.
        out.t3 = if !any_outstanding {
            // R2: "Whenever all outstanding data sent to an address have
            // been acknowledged, turn off the T3-rtx timer of that
            // address."
            self.t3 = None;
            T3Action::None
        } else if first_acked {
            // R3: "Whenever a SACK chunk is received that acknowledges the
            // DATA chunk with the earliest outstanding TSN for that
            // address, restart the T3-rtx timer for that address with its
            // current RTO (if there is still outstanding data on that
            // address)."
            T3Action::Restart
        } else {
            // R4: "Whenever a SACK chunk is received missing a TSN that was
            // previously acknowledged via a Gap Ack Block, start the T3-rtx
            // for the destination address to which the DATA chunk was
            // originally transmitted if it is not already running." We
            // start it in any case where outstanding data has no timer.
            T3Action::StartIfIdle
        };

        // A SACK is a new transmission opportunity (Max.Burst).
        self.burst_used = 0;
        out.all_acked = self.chunks.is_empty();
        out.retransmit_pending = self.marked > 0;
        out.abandoned = abandoned;
        Ok(out)
    }

    /// T3-rtx expiry (RFC 9260 §6.3.3 E1, E3, §7.2.3; RFC 3758 §3.5 A5).
    /// Harmless before the deadline. Returns the messages abandoned by
    /// PR-SCTP. The association then backs off its RTO (E2) and calls
    /// [`RetransmissionQueue::restart_t3`] and
    /// [`RetransmissionQueue::forward_tsn`].
    pub fn handle_t3_expiry(&mut self, now: Instant) -> Vec<MessageKey> {
        match self.t3 {
            Some(at) if now >= at => {}
            _ => return Vec::new(),
        }
        self.t3 = None;
        // E1 with §7.2.3: "When the T3-rtx timer expires on an address,
        // SCTP SHOULD perform slow start by: ssthresh = max(cwnd/2, 4*MTU),
        // cwnd = 1*MTU, partial_bytes_acked = 0". The controller's.
        self.cc
            .on_congestion_event(now, CongestionEvent::RetransmissionTimeout);
        self.fast_recovery_exit = None;
        self.fast_rtx_pending = false;
        self.t3_pending = T3Action::None;
        self.rtt_probe = None;
        self.burst_used = 0;
        self.pto = None;
        self.rack_timer = None;
        self.probe_out = false;
        // E3: every outstanding chunk is marked for retransmission; the
        // first packet's worth goes out via `chunks_to_retransmit` (cwnd =
        // 1 MTU), "Any DATA chunks that were sent to the address for which
        // the T3-rtx timer expired but did not fit in one MTU (rule E3
        // above) should be marked for retransmission and sent as soon as
        // cwnd allows (normally, when a SACK arrives)."
        let mut abandoned = Vec::new();
        for i in 0..self.chunks.len() {
            if self.chunks[i].state != State::Outstanding {
                continue;
            }
            if self.cfg.partial_reliability && self.must_abandon(i, now) {
                self.abandon_message_of(i, &mut abandoned);
                continue;
            }
            // §6.2.1 C: "Any time a DATA chunk is marked for
            // retransmission, either via T3-rtx timer expiration (Section
            // 6.3.3) or via Fast Retransmit (Section 7.2.4), add the data
            // size of those chunks to the rwnd."
            let freed = self.leave_flight(i);
            self.rwnd = self.rwnd.saturating_add(freed);
            self.set_mark(i, Some(Mark::Timeout));
        }
        abandoned
    }

    /// RFC 3758 §3.5 C2–C5: advances the Advanced.Peer.Ack.Point over
    /// abandoned chunks and, when it is beyond the Cumulative TSN Ack
    /// Point, returns what the FORWARD-TSN (DATA) or I-FORWARD-TSN
    /// (`interleaving`) must carry. Call after every SACK and T3 expiry;
    /// `None` means no FORWARD-TSN is needed.
    pub fn forward_tsn(&mut self, now: Instant, interleaving: bool) -> Option<ForwardTsnInfo> {
        // C2: "Try to further advance the 'Advanced.Peer.Ack.Point'
        // locally, that is, to move 'Advanced.Peer.Ack.Point' up as long as
        // the chunk next in the out-queue space is marked as 'abandoned'".
        let start = self.cum_ack.distance_to(self.adv_peer_ack) as usize;
        let mut end = start.min(self.chunks.len());
        let mut i = end;
        while let Some(c) = self.chunks.get(i) {
            match c.state {
                State::Abandoned => end = i + 1,
                State::Acked => {}
                State::Outstanding => break,
            }
            i += 1;
        }
        if end == 0 {
            return None;
        }
        self.adv_peer_ack = self.tsn_at(end - 1);
        // C3: "If, after step C1 and C2, the 'Advanced.Peer.Ack.Point' is
        // greater than the Cumulative TSN ACK carried in the received SACK,
        // the data sender MUST send the data receiver a FORWARD TSN chunk
        // containing the latest value of the 'Advanced.Peer.Ack.Point'."
        // C4/C5 (and RFC 8260 §2.3 for I-FORWARD-TSN): per stream, the
        // largest SSN (ordered DATA only) or MID (per U) skipped.
        let mut ssns: BTreeMap<u16, Ssn> = BTreeMap::new();
        let mut mids: BTreeMap<(u16, bool), Mid> = BTreeMap::new();
        for c in self.chunks.range(..end) {
            if c.state != State::Abandoned {
                continue;
            }
            if interleaving {
                mids.entry((c.key.stream.0, c.key.unordered))
                    .and_modify(|m| *m = m.serial_max(c.key.mid))
                    .or_insert(c.key.mid);
            } else if !c.key.unordered {
                ssns.entry(c.key.stream.0)
                    .and_modify(|s| *s = s.serial_max(c.key.ssn))
                    .or_insert(c.key.ssn);
            }
        }
        // RFC 3758 §3.5 C5: "If a FORWARD TSN is sent, the sender MUST
        // assure that at least one T3-rtx timer is running."
        if self.t3.is_none() {
            self.t3 = Some(now + self.last_rto);
        }
        Some(ForwardTsnInfo {
            new_cumulative_tsn: self.adv_peer_ack,
            ssns: ssns
                .into_iter()
                .map(|(s, ssn)| (StreamId(s), ssn))
                .collect(),
            mids: mids
                .into_iter()
                .map(|((s, unordered), mid)| (StreamId(s), unordered, mid))
                .collect(),
        })
    }

    /// When T3-rtx expires; `None` when it is not running.
    pub fn t3_deadline(&self) -> Option<Instant> {
        self.t3
    }

    /// Flight size: user-data bytes sent and neither acknowledged,
    /// abandoned nor marked for retransmission.
    pub fn outstanding_bytes(&self) -> usize {
        self.flight
    }

    /// Congestion window, bytes (the controller's window).
    pub fn cwnd(&self) -> usize {
        self.cc.window()
    }

    /// Slow-start threshold, bytes (the controller's).
    pub fn ssthresh(&self) -> usize {
        self.cc.ssthresh()
    }

    /// The peer's receive window as the sender tracks it (§6.2.1): the last
    /// a_rwnd minus what is in flight.
    pub fn peer_rwnd(&self) -> u32 {
        u32::try_from(self.rwnd).unwrap_or(u32::MAX)
    }

    /// partial_bytes_acked (§7.2.2) of an [`Rfc9260Reno`] controller; 0
    /// with any other.
    pub fn partial_bytes_acked(&self) -> usize {
        self.cc
            .as_any()
            .downcast_ref::<Rfc9260Reno>()
            .map_or(0, Rfc9260Reno::partial_bytes_acked)
    }

    /// Whether everything sent was cumulatively acknowledged.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Whether in Fast Recovery (§7.2.4).
    pub fn in_fast_recovery(&self) -> bool {
        self.fast_recovery_exit.is_some()
    }

    /// Flight size recomputed from the chunks (invariant checks).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn recomputed_flight(&self) -> usize {
        self.chunks
            .iter()
            .filter(|c| c.state == State::Outstanding && c.mark.is_none() && c.in_flight)
            .map(Sent::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;
    use crate::chunk::{DataFlags, GapBlock};
    use crate::serial::{Fsn, Ppid};
    use crate::tx::rto::Rto;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// MTU 1000, Max.Burst 8 (out of the way), PR-SCTP on.
    fn cfg() -> RetransmissionConfig {
        RetransmissionConfig {
            mtu: 1000,
            max_burst: 8,
            partial_reliability: true,
            ..RetransmissionConfig::default()
        }
    }

    fn sack(cum: u32, gaps: &[(u16, u16)], a_rwnd: u32) -> Sack {
        let gaps: Vec<_> = gaps
            .iter()
            .map(|&(start, end)| GapBlock { start, end })
            .collect();
        Sack::new(Tsn(cum), a_rwnd, &gaps, &[])
    }

    /// The queue driven the way the association drives it, with the
    /// association's `Rto`.
    struct H {
        q: RetransmissionQueue,
        rto: Rto,
        now: Instant,
        seq: u64,
    }

    /// RTO.Min 10 ms.
    fn rto_cfg() -> RtoConfig {
        RtoConfig {
            min: ms(10),
            ..RtoConfig::default()
        }
    }

    #[allow(clippy::disallowed_methods)] // tests need some Instant
    fn t0() -> Instant {
        Instant::now()
    }

    #[derive(Default)]
    struct Msg {
        stream: u16,
        unordered: bool,
        ssn: u16,
        mid: u32,
        lifetime: Option<Duration>,
        max_rtx: Option<u32>,
    }

    impl H {
        fn new(cfg: RetransmissionConfig) -> Self {
            Self::with_rwnd(cfg, 1_000_000)
        }

        fn with_rwnd(cfg: RetransmissionConfig, a_rwnd: u32) -> Self {
            Self::at(RetransmissionQueue::new(Tsn(1), a_rwnd, cfg))
        }

        fn at(q: RetransmissionQueue) -> Self {
            Self {
                q,
                rto: Rto::new(rto_cfg()),
                now: t0(),
                seq: 0,
            }
        }

        fn advance(&mut self, d: Duration) {
            self.now += d;
        }

        /// Sends one message of `frags` fragments of `len` bytes.
        fn send_msg(&mut self, m: &Msg, frags: usize, len: usize) -> Vec<Tsn> {
            let seq = self.seq;
            self.seq += 1;
            (0..frags)
                .map(|f| {
                    let key = MessageKey {
                        stream: StreamId(m.stream),
                        unordered: m.unordered,
                        ssn: Ssn(m.ssn),
                        mid: Mid(m.mid),
                        seq,
                        ppid: Ppid(0),
                    };
                    let p = Produced {
                        chunk: UserDataChunk {
                            stream: key.stream,
                            ssn: key.ssn,
                            mid: key.mid,
                            fsn: Fsn(f as u32),
                            ppid: Ppid(0),
                            flags: DataFlags::new(f == 0, f + 1 == frags, m.unordered),
                            payload: Bytes::from(vec![0u8; len]),
                        },
                        expires_at: m.lifetime.map(|l| self.now + l),
                        max_retransmissions: m.max_rtx,
                        extension_mark: 0,
                        message: key,
                    };
                    let tsn = self.q.add_sent(self.now, p);
                    self.q.start_t3_if_idle(self.now, self.rto.rto());
                    tsn
                })
                .collect()
        }

        /// SACK processing as the association does it.
        fn sack_raw(&mut self, cum: u32, gaps: &[(u16, u16)], a_rwnd: u32) -> SackOutcome {
            self.try_sack(cum, gaps, a_rwnd).unwrap()
        }

        fn try_sack(
            &mut self,
            cum: u32,
            gaps: &[(u16, u16)],
            a_rwnd: u32,
        ) -> Result<SackOutcome, SackError> {
            let out = self.q.handle_sack(self.now, &sack(cum, gaps, a_rwnd))?;
            if let Some(r) = out.rtt_sample {
                self.rto.observe(r);
            }
            self.q.on_sack_processed(self.now, self.rto.rto(), &out);
            Ok(out)
        }

        /// T3 expiry as the association handles it.
        fn t3(&mut self) -> Vec<MessageKey> {
            let abandoned = self.q.handle_t3_expiry(self.now);
            self.rto.backoff();
            self.q.restart_t3(self.now, self.rto.rto());
            abandoned
        }

        fn send(&mut self, len: usize) -> Tsn {
            let ssn = self.seq as u16;
            self.send_msg(
                &Msg {
                    ssn,
                    ..Msg::default()
                },
                1,
                len,
            )[0]
        }

        /// Sends `len`-byte chunks while the window allows.
        fn fill(&mut self, len: usize) -> Vec<u32> {
            let mut out = Vec::new();
            while self.q.available_window() >= len {
                out.push(self.send(len).0);
            }
            out
        }

        fn sack(&mut self, cum: u32, gaps: &[(u16, u16)]) -> SackOutcome {
            self.advance(ms(10));
            let out = self.sack_raw(cum, gaps, 1_000_000);
            assert_eq!(self.q.outstanding_bytes(), self.q.recomputed_flight());
            out
        }

        fn rtx(&mut self, max_bytes: usize) -> Vec<u32> {
            let out: Vec<u32> = self
                .q
                .chunks_to_retransmit(self.now, max_bytes)
                .into_iter()
                .map(|(t, _)| t.0)
                .collect();
            if !out.is_empty() {
                self.q.start_t3_if_idle(self.now, self.rto.rto());
            }
            out
        }

        /// (cwnd, ssthresh, partial_bytes_acked, flight)
        fn cc(&self) -> (usize, usize, usize, usize) {
            (
                self.q.cwnd(),
                self.q.ssthresh(),
                self.q.partial_bytes_acked(),
                self.q.outstanding_bytes(),
            )
        }
    }

    #[test]
    fn initial_cwnd_follows_rfc9260_formula() {
        let mk = |mtu| {
            RetransmissionQueue::new(
                Tsn(0),
                1 << 20,
                RetransmissionConfig {
                    mtu,
                    ..RetransmissionConfig::default()
                },
            )
            .cwnd()
        };
        assert_eq!(mk(1000), 4000);
        assert_eq!(mk(1500), 4404);
        assert_eq!(mk(2000), 4404);
        assert_eq!(mk(9000), 18000);
        let q = RetransmissionQueue::new(
            Tsn(0),
            1 << 20,
            RetransmissionConfig {
                initial_cwnd: Some(12345),
                ..RetransmissionConfig::default()
            },
        );
        assert_eq!((q.cwnd(), q.ssthresh()), (12345, 1 << 20));
    }

    /// Slow start, fast retransmit and fast recovery, congestion avoidance
    /// and a T3 expiry, with exact cwnd / ssthresh / partial_bytes_acked /
    /// flight size after every step. MTU 1000, 1000-byte chunks, so PMDCS
    /// is 968 and rule B lets the flight reach exactly cwnd.
    #[test]
    fn congestion_control_trace_matches_rfc9260() {
        // RFC 9260's rules alone: RACK would mark 13 as soon as Fast
        // Recovery starts.
        let mut h = H::new(RetransmissionConfig {
            rack_tlp: false,
            ..cfg()
        });
        let ss = 1_000_000;
        // Slow start from the initial cwnd min(4*1000, max(2000, 4404)).
        assert_eq!(h.cc(), (4000, ss, 0, 0));
        assert_eq!(h.fill(1000), [1, 2, 3, 4]);
        assert_eq!(h.cc(), (4000, ss, 0, 4000));
        // Fully utilised: cwnd += min(bytes acked, MTU).
        h.sack(2, &[]);
        assert_eq!(h.cc(), (5000, ss, 0, 2000));
        assert_eq!(h.fill(1000), [5, 6, 7]);
        h.sack(4, &[]);
        assert_eq!(h.cc(), (6000, ss, 0, 3000));
        assert_eq!(h.fill(1000), [8, 9, 10]);
        h.sack(7, &[]);
        assert_eq!(h.cc(), (7000, ss, 0, 3000));
        assert_eq!(h.fill(1000), [11, 12, 13, 14]);
        h.sack(10, &[]);
        assert_eq!(h.cc(), (8000, ss, 0, 4000));
        assert_eq!(h.fill(1000), [15, 16, 17, 18]);
        assert_eq!(h.cc(), (8000, ss, 0, 8000));

        // TSNs 11 and 13 are lost. The application sends nothing more.
        // 1st miss indication for 11 (HTNA 12). RFC 9260 §7.2.1 grows cwnd
        // on newly acked bytes even without a cum-ack advance.
        let o = h.sack(10, &[(2, 2)]);
        assert!(!o.entered_fast_recovery && !o.cum_advanced);
        assert_eq!(o.bytes_acked, 1000);
        assert_eq!(h.cc(), (9000, ss, 0, 7000));
        // 2nd for 11, 1st for 13; window no longer fully used: no growth.
        h.sack(10, &[(2, 2), (4, 4)]);
        assert_eq!(h.cc(), (9000, ss, 0, 6000));
        // 3rd for 11: fast retransmit, ssthresh = max(9000/2, 4*1000),
        // cwnd = ssthresh; 11 leaves the flight.
        let o = h.sack(10, &[(2, 2), (4, 5)]);
        assert!(o.entered_fast_recovery && o.retransmit_pending);
        assert!(h.q.in_fast_recovery());
        assert_eq!(h.cc(), (4500, 4500, 0, 4000));
        assert_eq!(h.q.available_window(), 0, "retransmissions go first");
        assert_eq!(h.rtx(1500), [11]);
        assert_eq!(h.rtx(1500), Vec::<u32>::new());
        assert_eq!(h.cc(), (4500, 4500, 0, 5000));
        // 3rd miss for 13 inside Fast Recovery: retransmitted, no further
        // reduction.
        let o = h.sack(10, &[(2, 2), (4, 6)]);
        assert!(!o.entered_fast_recovery && o.retransmit_pending);
        assert_eq!(h.cc(), (4500, 4500, 0, 3000));
        assert_eq!(h.rtx(1500), [13]);
        assert_eq!(h.cc(), (4500, 4500, 0, 4000));
        // Cum ack 16 is below the exit point 18: still in recovery, and no
        // growth in recovery.
        let o = h.sack(16, &[]);
        assert_eq!(o.bytes_acked, 2000);
        assert!(h.q.in_fast_recovery());
        assert_eq!(h.cc(), (4500, 4500, 0, 2000));
        // Exit at 18; window was not fully used: no growth.
        let o = h.sack(18, &[]);
        assert!(o.exited_fast_recovery && o.all_acked);
        assert!(!h.q.in_fast_recovery());
        assert_eq!(h.cc(), (4500, 4500, 0, 0));

        // cwnd == ssthresh is still slow start (cwnd <= ssthresh).
        assert_eq!(h.fill(1000), [19, 20, 21, 22, 23]);
        h.sack(20, &[]);
        assert_eq!(h.cc(), (5500, 4500, 0, 3000));
        // Congestion avoidance: one MTU per cwnd of acknowledged data.
        assert_eq!(h.fill(1000), [24, 25, 26]);
        h.sack(23, &[]);
        assert_eq!(h.cc(), (5500, 4500, 3000, 3000));
        assert_eq!(h.fill(1000), [27, 28, 29]);
        h.sack(26, &[]);
        assert_eq!(h.cc(), (6500, 4500, 500, 3000));

        // T3 expiry: ssthresh = max(6500/2, 4000), cwnd = 1 MTU, all
        // outstanding marked; one packet goes out.
        let rto = h.rto.rto();
        let deadline = h.q.t3_deadline().unwrap();
        assert!(h.q.handle_t3_expiry(deadline - ms(1)).is_empty());
        assert_eq!(h.q.cwnd(), 6500, "early call is harmless");
        h.now = deadline;
        assert!(h.t3().is_empty());
        assert_eq!(h.cc(), (1000, 4000, 0, 0));
        assert_eq!(h.rto.rto(), rto * 2);
        assert_eq!(h.q.t3_deadline(), Some(h.now + rto * 2), "E2/R1 restart");
        assert_eq!(h.rtx(1500), [27]);
        assert_eq!(h.rtx(1500), Vec::<u32>::new(), "cwnd allows one packet");
        assert_eq!(h.cc(), (1000, 4000, 0, 1000));
        assert_eq!(h.q.t3_deadline(), Some(h.now + rto * 2));
        // Slow start again: 27 acked (no RTT sample, Karn), 28 and 29 go.
        let o = h.sack(27, &[]);
        assert_eq!(o.rtt_sample, None);
        assert_eq!(h.cc(), (2000, 4000, 0, 0));
        assert_eq!(h.rtx(3000), [28, 29]);
    }

    #[test]
    fn fast_retransmit_ignores_cwnd_for_one_packet() {
        let mut h = H::new(RetransmissionConfig {
            initial_cwnd: Some(20_000),
            max_burst: 0,
            ..cfg()
        });
        assert_eq!(h.fill(1000).len(), 20);
        for end in 2..=4 {
            h.sack(0, &[(2, end)]);
        }
        // ssthresh = max(21000/2, 4000); the flight (16000) exceeds cwnd.
        assert_eq!(h.cc(), (10_500, 10_500, 0, 16_000));
        // The fast retransmission goes anyway, bounded by the packet room.
        assert_eq!(h.rtx(100), Vec::<u32>::new(), "does not fit");
        assert_eq!(h.rtx(1016), [1]);
        assert_eq!(h.q.outstanding_bytes(), 17_000);
    }

    #[test]
    fn retransmit_later_puts_an_unsent_chunk_back_without_counting_it() {
        let mut h = H::with_rwnd(cfg(), 10_000);
        let tsn = h.send(300);
        h.send(200);
        assert_eq!(h.q.message_count(), 2);
        // The chunk did not fit its packet after all.
        h.q.retransmit_later(tsn);
        assert!(h.q.has_retransmissions());
        assert_eq!(h.q.available_window(), 0, "it goes before new data");
        assert_eq!(h.q.outstanding_bytes(), 200);
        assert_eq!(h.q.peer_rwnd(), 10_000 - 200);
        h.q.retransmit_later(tsn); // already waiting: no effect
        h.q.retransmit_later(Tsn(99)); // unknown: ignored
        assert_eq!(h.rtx(1500), [1]);
        assert_eq!(h.q.outstanding_bytes(), 500);
        // Its one real transmission is its first: it may give an RTT sample.
        h.advance(ms(7));
        let o = h.sack_raw(2, &[], 10_000);
        assert!(o.all_acked);
        assert_eq!(h.q.message_count(), 0);
    }

    #[test]
    fn cumulative_ack_removes_chunks_and_updates_rwnd() {
        let mut h = H::with_rwnd(cfg(), 10_000);
        h.send(100);
        h.send(200);
        h.send(300);
        assert_eq!(h.q.peer_rwnd(), 10_000 - 600);
        assert_eq!(h.q.next_tsn(), Tsn(4));
        h.advance(ms(1));
        let o = h.sack_raw(2, &[], 5000);
        assert!(o.cum_advanced && !o.all_acked);
        assert_eq!(o.bytes_acked, 300);
        assert_eq!(h.q.cumulative_tsn_ack(), Tsn(2));
        // rwnd = a_rwnd - flight (§6.2.1 D ii).
        assert_eq!(h.q.peer_rwnd(), 5000 - 300);
        // The same SACK again changes nothing.
        let o = h.sack_raw(2, &[], 5000);
        assert_eq!((o.bytes_acked, o.cum_advanced), (0, false));
        let o = h.sack_raw(3, &[], 5000);
        assert!(o.all_acked && h.q.is_empty());
        assert_eq!(h.q.t3_deadline(), None);
    }

    #[test]
    fn stale_sack_is_ignored() {
        let mut h = H::new(cfg());
        for _ in 0..4 {
            h.send(100);
        }
        h.sack(3, &[]);
        let rwnd = h.q.peer_rwnd();
        let o = h.sack_raw(1, &[(1, 3)], 7);
        assert!(o.ignored);
        assert_eq!(h.q.peer_rwnd(), rwnd);
        assert_eq!(h.q.cumulative_tsn_ack(), Tsn(3));
        assert_eq!(h.q.outstanding_bytes(), 100);
    }

    #[test]
    fn sack_beyond_highest_tsn_sent_is_a_protocol_violation() {
        let mut h = H::new(cfg());
        h.send(100);
        h.send(100);
        let e = h.q.handle_sack(h.now, &sack(3, &[], 1000)).unwrap_err();
        assert_eq!(
            e,
            SackError::CumulativeTsnAckBeyondSent {
                cumulative_tsn_ack: Tsn(3),
                highest_sent: Tsn(2)
            }
        );
        assert!(e.to_string().contains("beyond"));
        assert!(
            h.q.handle_sack(h.now, &sack(2_000_000_000, &[], 1000))
                .is_err()
        );
        // Nothing changed.
        assert_eq!(h.q.outstanding_bytes(), 200);
        // Nothing sent at all: cum ack of the initial TSN is a violation.
        let mut q = RetransmissionQueue::new(Tsn(u32::MAX), 1000, cfg());
        assert!(q.handle_sack(h.now, &sack(u32::MAX, &[], 1000)).is_err());
        assert!(
            !q.handle_sack(h.now, &sack(u32::MAX - 1, &[], 1000))
                .unwrap()
                .ignored
        );
    }

    #[test]
    fn garbage_gap_blocks_are_ignored_safely() {
        let mut h = H::new(cfg());
        for _ in 0..6 {
            h.send(100); // TSNs 1..=6
        }
        // start 0, start > end, beyond the highest TSN sent, overlapping and
        // out of order: only TSNs 3, 4 and 6 are acknowledged.
        let o = h.sack(
            1,
            &[(0, 3), (4, 2), (9, 12), (3, 3), (2, 3), (2, 2), (5, 40_000)],
        );
        assert_eq!(o.bytes_acked, 400); // 1, 3, 4, 6
        assert_eq!(h.q.outstanding_bytes(), 200); // 2 and 5
        // 65535 blocks each covering everything.
        let all: Vec<_> = (0..u16::MAX).map(|_| (1u16, u16::MAX)).collect();
        let o = h.sack(1, &all);
        assert_eq!(o.bytes_acked, 200);
        assert_eq!(h.q.outstanding_bytes(), 0);
        assert!(!h.q.is_empty(), "gap acks do not free chunks");
        assert!(h.sack(6, &[]).all_acked);
    }

    #[test]
    fn reneged_gap_ack_counts_a_miss_and_keeps_t3_running() {
        let mut h = H::new(cfg());
        for _ in 0..5 {
            h.send(100);
        }
        h.sack(0, &[(2, 5)]); // 2..=5 acked by gap
        assert_eq!(h.q.outstanding_bytes(), 100);
        // Peer reneged on 3 and 4 (below the highest TSN it reports).
        let o = h.sack(0, &[(2, 2), (5, 5)]);
        assert_eq!(o.bytes_acked, 0);
        assert!(h.q.t3_deadline().is_some());
        // Later re-acked: counted again.
        let o = h.sack(0, &[(2, 5)]);
        assert_eq!(o.bytes_acked, 200);
    }

    #[test]
    fn what_a_sack_does_not_reach_is_not_reneged() {
        let mut h = H::new(cfg());
        for _ in 0..5 {
            h.send(100);
        }
        h.sack(0, &[(2, 2), (4, 5)]);
        // A receiver that lists only its first gap block (its limit) says
        // nothing of 4 and 5: when it lists them again, nothing is newly
        // acknowledged.
        h.sack(0, &[(2, 2)]);
        let o = h.sack(0, &[(2, 2), (4, 5)]);
        assert_eq!(o.bytes_acked, 0);
        // A SACK without gap blocks reports everything: 2, 4 and 5 were
        // reneged, and count when acknowledged again.
        h.sack(0, &[]);
        let o = h.sack(0, &[(2, 2), (4, 5)]);
        assert_eq!(o.bytes_acked, 300);
    }

    #[test]
    fn karn_takes_no_rtt_sample_from_retransmitted_chunks() {
        let mut h = H::new(cfg());
        h.send(100);
        let deadline = h.q.t3_deadline().unwrap();
        h.now = deadline;
        h.t3();
        assert_eq!(h.rtx(1500), [1]);
        h.advance(ms(30));
        let o = h.sack_raw(1, &[], 100_000);
        assert_eq!(o.rtt_sample, None);
        assert_eq!(h.rto.srtt(), None);
        // A chunk sent once gives a sample; it collapses the backed-off RTO.
        h.send(100);
        h.advance(ms(40));
        let o = h.sack_raw(2, &[], 100_000);
        assert_eq!(o.rtt_sample, Some(ms(40)));
        assert_eq!(h.rto.srtt(), Some(ms(40)));
        assert_eq!(h.rto.rto(), ms(120));
    }

    #[test]
    fn one_rtt_measurement_per_round_trip() {
        let mut h = H::new(cfg());
        h.send(100); // timed
        h.advance(ms(5));
        h.send(100); // not timed: a measurement is running
        h.advance(ms(20));
        let o = h.sack_raw(1, &[], 100_000);
        assert_eq!(o.rtt_sample, Some(ms(25)));
        let o = h.sack_raw(2, &[], 100_000);
        assert_eq!(o.rtt_sample, None);
    }

    #[test]
    fn retransmitting_a_lower_tsn_cancels_the_rtt_measurement() {
        let mut h = H::new(RetransmissionConfig {
            initial_cwnd: Some(10_000),
            ..cfg()
        });
        for _ in 0..5 {
            h.send(100); // 1..=5, 1 timed
        }
        assert!(h.sack(1, &[]).rtt_sample.is_some());
        h.send(100); // 6, timed
        // 2 is lost: three miss indications (HTNA 3, 4, 5).
        for end in 2..=4 {
            h.sack(1, &[(2, end)]);
        }
        assert_eq!(h.rtx(1500), [2]);
        // C5: 2 <= 6 was retransmitted after 6 was sent: no sample from 6.
        let o = h.sack(6, &[]);
        assert!(o.all_acked);
        assert_eq!(o.rtt_sample, None);
    }

    #[test]
    fn t3_is_started_on_send_restarted_on_earliest_ack_and_stopped_when_all_acked() {
        let mut h = H::new(cfg());
        let rto = h.rto.rto();
        assert_eq!(h.q.t3_deadline(), None);
        h.send(100);
        let t0 = h.now;
        assert_eq!(h.q.t3_deadline(), Some(t0 + rto));
        h.advance(ms(5));
        h.send(100); // R1: already running, not restarted
        assert_eq!(h.q.t3_deadline(), Some(t0 + rto));
        h.advance(ms(5));
        let o = h.sack_raw(1, &[], 100_000);
        // R3 with the RTO updated by the 10 ms sample: 10 + 4*5 -> RTO.Min.
        assert_eq!(o.rtt_sample, Some(ms(10)));
        assert_eq!(h.q.t3_deadline(), Some(h.now + h.rto.rto()));
        assert_eq!(h.rto.rto(), ms(30));
        h.advance(ms(5));
        h.sack_raw(2, &[], 100_000);
        assert_eq!(h.q.t3_deadline(), None); // R2
    }

    #[test]
    fn zero_window_allows_exactly_one_chunk_in_flight() {
        let mut h = H::with_rwnd(cfg(), 0);
        assert_eq!(h.q.peer_rwnd(), 0);
        // Probe: one chunk may be in flight whatever the rwnd.
        assert_eq!(h.q.available_window(), 968);
        h.send(500);
        assert_eq!(h.q.available_window(), 0);
        // Still zero after the SACK that acks nothing new.
        let o = h.sack_raw(0, &[], 0);
        assert_eq!(o.bytes_acked, 0);
        assert_eq!(h.q.available_window(), 0);
        // Acked with a zero window: the next probe may go.
        h.sack_raw(1, &[], 0);
        assert_eq!(h.q.available_window(), 968);
        h.send(968);
        assert_eq!(h.q.available_window(), 0);
        // The window opens.
        h.sack_raw(2, &[], 3000);
        assert_eq!(h.q.available_window(), 3000);
    }

    #[test]
    fn max_burst_limits_new_data_per_transmission_opportunity() {
        let mut h = H::new(RetransmissionConfig {
            max_burst: 2,
            initial_cwnd: Some(10_000),
            ..cfg()
        });
        assert_eq!(h.fill(500), [1, 2, 3, 4]); // 2 * MTU of new data
        assert_eq!(h.q.available_window(), 0);
        h.sack(1, &[]); // refills the budget
        assert_eq!(h.fill(500), [5, 6, 7, 8]);
        // Disabled with 0.
        let mut h = H::new(RetransmissionConfig {
            max_burst: 0,
            initial_cwnd: Some(10_000),
            ..cfg()
        });
        assert_eq!(h.fill(1000).len(), 10);
    }

    #[test]
    fn retransmissions_fit_max_bytes_with_headers_and_padding() {
        let mut h = H::new(RetransmissionConfig {
            initial_cwnd: Some(10_000),
            ..cfg()
        });
        for _ in 0..3 {
            h.send(101); // 16 + 104 = 120 bytes on the wire each
        }
        h.now = h.q.t3_deadline().unwrap();
        h.t3();
        assert!(h.q.has_retransmissions());
        assert_eq!(h.rtx(239), [1]);
        assert_eq!(h.rtx(240), [2, 3]);
        assert!(!h.q.has_retransmissions());
    }

    #[test]
    fn lifetime_expiry_abandons_whole_messages_and_forward_tsn_carries_largest_ssn() {
        let mut h = H::new(RetransmissionConfig {
            initial_cwnd: Some(20_000),
            ..cfg()
        });
        let ttl = Some(ms(100));
        // TSN 1: stream 1 SSN 0 (reliable); 2-4: stream 1 SSN 1 in three
        // fragments, TTL; 5: stream 1 SSN 2, TTL; 6: stream 2 SSN 7 TTL
        // unordered; 7: stream 3 SSN 0 reliable.
        h.send_msg(
            &Msg {
                stream: 1,
                ..Msg::default()
            },
            1,
            100,
        );
        let frag = h.send_msg(
            &Msg {
                stream: 1,
                ssn: 1,
                lifetime: ttl,
                ..Msg::default()
            },
            3,
            100,
        );
        assert_eq!(frag, [Tsn(2), Tsn(3), Tsn(4)]);
        h.send_msg(
            &Msg {
                stream: 1,
                ssn: 2,
                lifetime: ttl,
                ..Msg::default()
            },
            1,
            100,
        );
        h.send_msg(
            &Msg {
                stream: 2,
                ssn: 0,
                unordered: true,
                lifetime: ttl,
                ..Msg::default()
            },
            1,
            100,
        );
        h.send_msg(
            &Msg {
                stream: 3,
                ..Msg::default()
            },
            1,
            100,
        );
        // Before the lifetime: nothing to forward.
        h.sack(1, &[(3, 3)]); // 1 cum, 4 by gap
        assert_eq!(h.q.forward_tsn(h.now, false), None);
        h.advance(ms(100));
        let o = h.sack_raw(1, &[(3, 3), (6, 6)], 100_000);
        // SSN 1 (fragments 2, 3 and the gap-acked 4), SSN 2 and the
        // unordered one; TSN 7 was acked by the gap block.
        assert_eq!(o.abandoned.len(), 3);
        assert!(o.abandoned.iter().all(|k| k.ssn.0 <= 2 && k.stream.0 <= 2));
        assert_eq!(h.q.outstanding_bytes(), 0);
        assert_eq!(h.q.outstanding_bytes(), h.q.recomputed_flight());
        let f = h.q.forward_tsn(h.now, false).unwrap();
        assert_eq!(f.new_cumulative_tsn, Tsn(6));
        assert_eq!(f.ssns, [(StreamId(1), Ssn(2))]);
        assert!(f.mids.is_empty());
        assert_eq!(f.to_forward_tsn().new_cumulative_tsn, Tsn(6));
        // C5: a T3-rtx timer runs while the FORWARD-TSN is unacknowledged.
        assert!(h.q.t3_deadline().is_some());
        // The peer moves its cumulative ack to 7 (it had 7).
        let o = h.sack_raw(7, &[], 100_000);
        assert!(o.all_acked);
        assert_eq!(h.q.forward_tsn(h.now, false), None);
        assert_eq!(h.q.t3_deadline(), None);
    }

    #[test]
    fn forward_tsn_stops_at_an_outstanding_chunk() {
        let mut h = H::new(cfg());
        let ttl = Some(ms(10));
        h.send_msg(
            &Msg {
                ssn: 0,
                lifetime: ttl,
                ..Msg::default()
            },
            1,
            100,
        ); // 1
        h.send_msg(
            &Msg {
                ssn: 1,
                ..Msg::default()
            },
            1,
            100,
        ); // 2 reliable
        h.send_msg(
            &Msg {
                ssn: 2,
                lifetime: ttl,
                ..Msg::default()
            },
            1,
            100,
        ); // 3
        h.advance(ms(10));
        let o = h.sack_raw(0, &[], 100_000);
        assert_eq!(o.abandoned.len(), 2);
        let f = h.q.forward_tsn(h.now, false).unwrap();
        assert_eq!(f.new_cumulative_tsn, Tsn(1));
        assert_eq!(f.ssns, [(StreamId(0), Ssn(0))]);
        // 2 arrives; the point moves over it to 3.
        h.sack_raw(0, &[(2, 2)], 100_000);
        let f = h.q.forward_tsn(h.now, false).unwrap();
        assert_eq!(f.new_cumulative_tsn, Tsn(3));
        assert_eq!(f.ssns, [(StreamId(0), Ssn(2))]);
    }

    #[test]
    fn max_retransmissions_zero_abandons_on_t3_and_builds_iforward_tsn() {
        let mut h = H::new(cfg());
        let m = |stream, unordered, mid| Msg {
            stream,
            unordered,
            mid,
            max_rtx: Some(0),
            ..Msg::default()
        };
        h.send_msg(&m(4, true, 7), 2, 100); // 1, 2
        h.send_msg(&m(4, true, 8), 1, 100); // 3
        h.send_msg(&m(4, false, 3), 1, 100); // 4
        h.send_msg(
            &Msg {
                stream: 5,
                mid: 1,
                ..Msg::default()
            },
            1,
            100,
        ); // 5 reliable
        h.now = h.q.t3_deadline().unwrap();
        let abandoned = h.t3();
        assert_eq!(abandoned.len(), 3);
        assert_eq!(h.rtx(1500), [5]);
        let f = h.q.forward_tsn(h.now, true).unwrap();
        assert_eq!(f.new_cumulative_tsn, Tsn(4));
        assert!(f.ssns.is_empty());
        assert_eq!(
            f.mids,
            [(StreamId(4), false, Mid(3)), (StreamId(4), true, Mid(8))]
        );
        let chunk = f.to_iforward_tsn();
        assert_eq!(
            chunk.entries().collect::<Vec<_>>(),
            [
                IForwardTsnStream {
                    stream: StreamId(4),
                    unordered: false,
                    mid: Mid(3)
                },
                IForwardTsnStream {
                    stream: StreamId(4),
                    unordered: true,
                    mid: Mid(8)
                },
            ]
        );
    }

    #[test]
    fn max_retransmissions_abandons_instead_of_fast_retransmitting() {
        let mut h = H::new(cfg());
        h.send_msg(
            &Msg {
                max_rtx: Some(1),
                ..Msg::default()
            },
            1,
            100,
        ); // 1
        for _ in 0..3 {
            h.send(100);
        }
        // First loss: retransmitted once (allowed).
        for end in 2..=4 {
            h.sack(0, &[(2, end)]);
        }
        assert_eq!(h.rtx(1500), [1]);
        // Lost again: T3; the limit of 1 retransmission is reached.
        h.now = h.q.t3_deadline().unwrap();
        let abandoned = h.t3();
        assert_eq!(abandoned.len(), 1);
        assert!(!h.q.has_retransmissions());
        // 2..=4 are only gap-acked: the point stops on the abandoned 1.
        assert_eq!(
            h.q.forward_tsn(h.now, false).unwrap().new_cumulative_tsn,
            Tsn(1)
        );
    }

    #[test]
    fn without_partial_reliability_lifetimes_are_ignored() {
        let mut h = H::new(RetransmissionConfig {
            partial_reliability: false,
            ..cfg()
        });
        h.send_msg(
            &Msg {
                lifetime: Some(ms(1)),
                max_rtx: Some(0),
                ..Msg::default()
            },
            1,
            100,
        );
        h.now = h.q.t3_deadline().unwrap();
        assert!(h.t3().is_empty());
        assert_eq!(h.rtx(1500), [1]);
        assert_eq!(h.q.forward_tsn(h.now, false), None);
    }

    #[test]
    fn works_across_the_tsn_wrap() {
        let mut h = H::at(RetransmissionQueue::new(Tsn(u32::MAX - 1), 100_000, cfg()));
        assert_eq!(h.fill(1000), [u32::MAX - 1, u32::MAX, 0, 1]);
        let o = h.sack(0, &[(2, 2)]);
        assert_eq!(o.bytes_acked, 4000 - 1000);
        assert_eq!(h.q.outstanding_bytes(), 1000);
        assert!(h.sack(1, &[]).all_acked);
        assert_eq!(h.q.next_tsn(), Tsn(2));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Send(u16, bool, bool),
        Sack {
            cum_off: i64,
            gaps: Vec<(u16, u16)>,
            a_rwnd: u32,
        },
        RandomSack(u32, Vec<(u16, u16)>),
        Advance(u16),
        T3,
        Retransmit(u16),
        RetransmitLater(u8),
        ForwardTsn(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1u16..1500, any::<bool>(), any::<bool>()).prop_map(|(l, t, r)| Op::Send(l, t, r)),
            4 => (-3i64..40, prop::collection::vec((0u16..40, 0u16..40), 0..6), 0u32..200_000)
                .prop_map(|(cum_off, gaps, a_rwnd)| Op::Sack { cum_off, gaps, a_rwnd }),
            1 => (any::<u32>(), prop::collection::vec(any::<(u16, u16)>(), 0..4))
                .prop_map(|(c, g)| Op::RandomSack(c, g)),
            2 => (0u16..3000).prop_map(Op::Advance),
            1 => Just(Op::T3),
            2 => (0u16..4000).prop_map(Op::Retransmit),
            1 => (0u8..20).prop_map(Op::RetransmitLater),
            1 => any::<bool>().prop_map(Op::ForwardTsn),
        ]
    }

    proptest! {
        #[test]
        fn random_sacks_never_panic_and_keep_the_flight_size_consistent(
            initial in any::<u32>(),
            ops in prop::collection::vec(op(), 1..120),
        ) {
            let mut h = H::at(RetransmissionQueue::new(Tsn(initial), 50_000, cfg()));
            for op in ops {
                match op {
                    Op::Send(len, ttl, limited) => {
                        if h.q.available_window() > 0 {
                            let len = usize::from(len).min(h.q.available_window());
                            let m = Msg {
                                ssn: h.seq as u16,
                                lifetime: ttl.then(|| ms(500)),
                                max_rtx: limited.then_some(1),
                                ..Msg::default()
                            };
                            h.send_msg(&m, 1 + len % 3, len);
                        }
                    }
                    Op::Sack { cum_off, gaps, a_rwnd } => {
                        let cum = h.q.cumulative_tsn_ack().0.wrapping_add_signed(cum_off as i32);
                        let _ = h.try_sack(cum, &gaps, a_rwnd);
                    }
                    Op::RandomSack(cum, gaps) => {
                        let _ = h.try_sack(cum, &gaps, cum);
                    }
                    Op::Advance(d) => h.advance(ms(u64::from(d))),
                    Op::T3 => {
                        if let Some(at) = h.q.t3_deadline() {
                            h.now = h.now.max(at);
                            h.t3();
                        }
                    }
                    Op::Retransmit(max) => {
                        h.rtx(usize::from(max));
                    }
                    Op::RetransmitLater(off) => {
                        let tsn = h.q.cumulative_tsn_ack().wrapping_add(u32::from(off));
                        h.q.retransmit_later(tsn);
                        prop_assert!(h.q.message_count() <= h.q.chunks.len());
                    }
                    Op::ForwardTsn(il) => {
                        if let Some(f) = h.q.forward_tsn(h.now, il) {
                            prop_assert!(f.new_cumulative_tsn.is_after(h.q.cumulative_tsn_ack()));
                        }
                    }
                }
                prop_assert_eq!(h.q.outstanding_bytes(), h.q.recomputed_flight());
                prop_assert_eq!(h.q.marked, h.q.chunks.iter().filter(|c| c.mark.is_some()).count());
                prop_assert!(h.q.cwnd() >= 1000);
                prop_assert_eq!(
                    h.q.cumulative_tsn_ack().distance_to(h.q.next_tsn()) as usize,
                    h.q.chunks.len() + 1
                );
                let has_outstanding = h.q.chunks.iter().any(|c| c.state == State::Outstanding);
                // Between a T3 expiry and the retransmission the timer is off
                // (R1 restarts it when the chunk goes out).
                if has_outstanding && !h.q.has_retransmissions() {
                    prop_assert!(h.q.t3_deadline().is_some());
                }
            }
        }
    }
}
