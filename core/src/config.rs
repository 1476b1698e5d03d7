//! Endpoint and association configuration, with the RFC 9260 §16 protocol
//! parameters as defaults.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::congestion::{ControllerFactory, Rfc9260RenoConfig};
use crate::rx::reassembly::{OversizePolicy, ReassemblyConfig};

/// Configuration of an [`Endpoint`](crate::endpoint::Endpoint).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// Seed of the endpoint's random number generator (verification tags,
    /// initial TSNs, cookie secrets). The runtime draws it from the
    /// operating system; tests fix it to replay a run.
    pub seed: [u8; 32],
    /// The SCTP port this endpoint owns.
    pub port: u16,
    /// Largest SCTP packet (common header included) sent on any path: the
    /// path MTU minus the IP and UDP headers. 1452 fits a 1500-byte link
    /// under IPv6 and IPv4 alike.
    pub max_packet_size: usize,
    /// Whether INITs from peers are answered (a server). Clients that only
    /// connect may refuse them.
    pub accept_incoming: bool,
    /// Valid.Cookie.Life (RFC 9260 §16: 60 s).
    pub cookie_lifetime: Duration,
    /// Largest increment a peer's Cookie Preservative may add (RFC 9260
    /// §5.2.6 leaves the bound to the implementation).
    pub max_cookie_preservative: Duration,
    /// How often the cookie secret changes (RFC 9260 §5.1.3 "SHOULD be
    /// changed reasonably frequently"). Must be at least the cookie
    /// lifetime: the previous secret is kept, so a cookie stays verifiable
    /// for at least one rotation period.
    pub cookie_secret_rotation: Duration,
    /// Most associations the endpoint holds; INITs beyond are answered with
    /// ABORT (Out of Resource) only once their cookie returns, so that INIT
    /// floods still cost nothing.
    pub max_associations: usize,
    /// Endpoint-wide bound on received user data held for all associations
    /// (reassembly plus undelivered messages). Each association is always
    /// allowed its fair share, so deliberately stalled peers cannot starve
    /// the others.
    pub receive_memory_budget: usize,
    /// Out-of-the-blue packets answered with ABORT or SHUTDOWN COMPLETE per
    /// second (RFC 9260 §8.4 responses are unauthenticated; a bound keeps
    /// the endpoint from becoming a reflector).
    pub ootb_responses_per_second: u32,
    /// Configuration of every association.
    pub association: AssociationConfig,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            seed: [0; 32],
            port: 9899,
            max_packet_size: 1452,
            accept_incoming: true,
            cookie_lifetime: Duration::from_secs(60),
            max_cookie_preservative: Duration::from_secs(10),
            cookie_secret_rotation: Duration::from_secs(60),
            max_associations: 65_536,
            receive_memory_budget: 256 << 20,
            ootb_responses_per_second: 100,
            association: AssociationConfig::default(),
        }
    }
}

impl EndpointConfig {
    /// A default configuration with the given RNG seed.
    pub fn with_seed(seed: u64) -> Self {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        Self {
            seed: s,
            ..Self::default()
        }
    }

    /// Checks the values for consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.port == 0 {
            return Err(ConfigError::Invalid(
                "SCTP port 0 is not a port (RFC 9260 §3.1)",
            ));
        }
        if self.max_packet_size < 256 || self.max_packet_size > 65_535 {
            return Err(ConfigError::Invalid(
                "max_packet_size must be within 256..=65535",
            ));
        }
        if self.cookie_secret_rotation < self.cookie_lifetime {
            return Err(ConfigError::Invalid(
                "cookie_secret_rotation must be at least cookie_lifetime",
            ));
        }
        if self.max_associations == 0 {
            return Err(ConfigError::Invalid("max_associations must be positive"));
        }
        self.association.validate()
    }
}

/// Configuration of each association.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AssociationConfig {
    /// Outbound streams requested (OS); the peer's MIS may lower it.
    pub outbound_streams: u16,
    /// Inbound streams accepted (MIS).
    pub max_inbound_streams: u16,
    /// RTO.Initial (RFC 9260 §16: 1 s).
    pub rto_initial: Duration,
    /// RTO.Min (RFC 9260 §16: 1 s).
    pub rto_min: Duration,
    /// RTO.Max (RFC 9260 §16: 60 s).
    pub rto_max: Duration,
    /// Max.Init.Retransmits (RFC 9260 §16: 8).
    pub max_init_retransmits: u32,
    /// Association.Max.Retrans (RFC 9260 §16: 10).
    pub max_retransmissions: u32,
    /// Path.Max.Retrans (RFC 9260 §16: 5): past it the (single) path is
    /// reported unreachable; the association fails at
    /// `max_retransmissions`.
    pub path_max_retransmissions: u32,
    /// HB.interval (RFC 9260 §16: 30 s); `None` disables heartbeats.
    pub heartbeat_interval: Option<Duration>,
    /// Delayed SACK timeout (RFC 9260 §6.2: at most 500 ms, 200 ms
    /// recommended).
    pub delayed_ack: Duration,
    /// Max.Burst (RFC 9260 §16: 4).
    pub max_burst: u32,
    /// T5-shutdown-guard (RFC 9260 §9.2: 5 × RTO.Max suggested).
    pub shutdown_guard: Duration,
    /// Bytes of unsent user data an association may queue.
    pub send_buffer: usize,
    /// Per-association receive buffer (the advertised window's ceiling).
    pub receive_buffer: usize,
    /// Largest message delivered whole.
    pub max_message_size: usize,
    /// What happens to a message larger than `max_message_size`.
    pub oversize_policy: OversizePolicy,
    /// With [`OversizePolicy::Pieces`]: an incomplete message holding this
    /// many bytes starts being delivered in pieces (`None`: half the
    /// receive buffer).
    pub partial_delivery_point: Option<usize>,
    /// A message that stays incomplete this long without a new fragment
    /// arriving, while its sender lives, is released with an
    /// aborted-message event.
    pub incomplete_message_timeout: Option<Duration>,
    /// Offer I-DATA (RFC 8260).
    pub interleaving: bool,
    /// Offer PR-SCTP (RFC 3758).
    pub partial_reliability: bool,
    /// Detect losses by time as well as by miss indications, and probe for
    /// tail losses (RACK-TLP, RFC 8985; see the README), so that a lost
    /// retransmission or a loss at the end of a burst costs round trips,
    /// not an RTO. Off: RFC 9260 §7.2.4 and T3-rtx alone.
    pub rack_tlp: bool,
    /// Congestion control (RFC 9260 §7.2): builds each association's
    /// [`Controller`](crate::congestion::Controller) when its data path
    /// opens. Default: [`Rfc9260RenoConfig`], RFC 9260's own algorithm.
    pub congestion: Arc<dyn ControllerFactory>,
    /// Test device (cargo feature `test-devices`, off by default): deliver
    /// serially across associations once one starts a partial delivery, as
    /// lksctp did. Exists so that the test of the seed's scenario
    /// (`core/tests/seed_scenario.rs`) can show it would fail without
    /// per-association delivery.
    #[cfg(feature = "test-devices")]
    pub lksctp_serial_partial_delivery: bool,
}

impl Default for AssociationConfig {
    fn default() -> Self {
        Self {
            outbound_streams: 16,
            max_inbound_streams: 16,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_secs(1),
            rto_max: Duration::from_secs(60),
            max_init_retransmits: 8,
            max_retransmissions: 10,
            path_max_retransmissions: 5,
            heartbeat_interval: Some(Duration::from_secs(30)),
            delayed_ack: Duration::from_millis(200),
            max_burst: 4,
            shutdown_guard: Duration::from_secs(300),
            send_buffer: 1 << 20,
            receive_buffer: 1 << 20,
            max_message_size: 256 << 10,
            oversize_policy: OversizePolicy::Pieces,
            partial_delivery_point: None,
            // Twice RTO.Max: a live association under heavy loss may go an
            // RTO.Max without progress on a message more than once.
            incomplete_message_timeout: Some(Duration::from_secs(120)),
            interleaving: true,
            partial_reliability: true,
            rack_tlp: true,
            congestion: Arc::new(Rfc9260RenoConfig::default()),
            #[cfg(feature = "test-devices")]
            lksctp_serial_partial_delivery: false,
        }
    }
}

impl AssociationConfig {
    /// Checks the values for consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.outbound_streams == 0 || self.max_inbound_streams == 0 {
            return Err(ConfigError::Invalid("stream counts must be positive"));
        }
        if self.rto_min > self.rto_max || self.rto_initial > self.rto_max {
            return Err(ConfigError::Invalid(
                "RTO values must satisfy min <= max and initial <= max",
            ));
        }
        if self.delayed_ack > Duration::from_millis(500) {
            return Err(ConfigError::Invalid(
                "delayed_ack must not exceed 500 ms (RFC 9260 §6.2)",
            ));
        }
        if self.receive_buffer < 1500 || self.send_buffer == 0 {
            return Err(ConfigError::Invalid("buffers are too small"));
        }
        self.reassembly_config()
            .validate()
            .map_err(|_| ConfigError::Invalid(
                "with the Refuse or Truncate policy the receive buffer must hold a whole max_message_size message",
            ))
    }

    pub(crate) fn reassembly_config(&self) -> ReassemblyConfig {
        ReassemblyConfig {
            max_message_size: self.max_message_size,
            oversize_policy: self.oversize_policy,
            buffer_limit: self.receive_buffer,
            partial_delivery_point: self
                .partial_delivery_point
                .unwrap_or(self.receive_buffer / 2),
            incomplete_message_timeout: self.incomplete_message_timeout,
            ..ReassemblyConfig::default()
        }
    }
}

/// A configuration value out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// What is wrong.
    Invalid(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(s) => write!(f, "invalid configuration: {s}"),
        }
    }
}

impl std::error::Error for ConfigError {}
