//! What the endpoint hands to the application: datagrams to send, events,
//! and errors of the API.

use core::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::cause::ErrorCause;
use crate::serial::{Ppid, StreamId};
use crate::tx::send_queue::SendError;

/// Names one association of an endpoint. Handles are never reused while
/// the endpoint lives (a generation counter guards recycled slots).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssociationHandle {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Debug for AssociationHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "assoc#{}.{}", self.index, self.generation)
    }
}

impl fmt::Display for AssociationHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A datagram to send: `len` bytes written at the end of the caller's
/// buffer, for `destination` (IP address and UDP port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// Bytes written into the buffer.
    pub len: usize,
    /// When `Some(s)`, the bytes are several datagrams of `s` bytes each
    /// (the last one may be shorter), ready for UDP GSO.
    pub segment_size: Option<usize>,
}

/// Why an association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Graceful shutdown completed (RFC 9260 §9.2).
    Shutdown,
    /// The peer sent an ABORT, with its causes.
    AbortedByPeer(Vec<ErrorCause>),
    /// The local application aborted.
    AbortedLocally,
    /// This endpoint aborted because of a peer's protocol error.
    ProtocolError(ErrorCause),
    /// Association.Max.Retrans consecutive retransmission timeouts or
    /// unacknowledged heartbeats (RFC 9260 §8.1).
    Unreachable,
    /// The handshake failed: Max.Init.Retransmits exceeded.
    HandshakeTimeout,
    /// The T5-shutdown-guard timer expired.
    ShutdownGuardExpired,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shutdown => f.write_str("shut down"),
            Self::AbortedByPeer(c) if c.is_empty() => f.write_str("aborted by peer"),
            Self::AbortedByPeer(c) => {
                f.write_str("aborted by peer:")?;
                for x in c {
                    write!(f, " {x}")?;
                }
                Ok(())
            }
            Self::AbortedLocally => f.write_str("aborted locally"),
            Self::ProtocolError(c) => write!(f, "protocol error: {c}"),
            Self::Unreachable => f.write_str("peer unreachable"),
            Self::HandshakeTimeout => f.write_str("handshake timed out"),
            Self::ShutdownGuardExpired => f.write_str("shutdown guard timer expired"),
        }
    }
}

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The association is up (COMMUNICATION UP, RFC 9260 §10.2).
    Connected {
        /// Which association.
        association: AssociationHandle,
        /// The peer's address (IP and UDP port).
        remote: SocketAddr,
        /// Negotiated outbound streams.
        outbound_streams: u16,
        /// Negotiated inbound streams.
        inbound_streams: u16,
    },
    /// The peer restarted (RFC 9260 §5.2.4 action A): data in flight was
    /// lost; the association continues with fresh sequence numbers.
    Restarted {
        /// Which association.
        association: AssociationHandle,
    },
    /// The association ended; its handle is dead after this event.
    Closed {
        /// Which association.
        association: AssociationHandle,
        /// Why.
        reason: CloseReason,
        /// Messages queued or in flight that were never acknowledged.
        unsent_messages: usize,
    },
    /// The peer started a graceful shutdown: it sends no more data.
    ShutdownReceived {
        /// Which association.
        association: AssociationHandle,
    },
    /// The path crossed Path.Max.Retrans (unreachable) or came back.
    PathChanged {
        /// Which association.
        association: AssociationHandle,
        /// Whether the peer is reachable now.
        reachable: bool,
    },
    /// The peer reported an error in an ERROR chunk.
    PeerError {
        /// Which association.
        association: AssociationHandle,
        /// The cause.
        cause: ErrorCause,
    },
    /// A message was abandoned by PR-SCTP before it was acknowledged.
    MessageAbandoned {
        /// Which association.
        association: AssociationHandle,
        /// Its stream.
        stream: StreamId,
        /// Its payload protocol identifier.
        ppid: Ppid,
    },
    /// A new round-trip time estimate is available.
    RttUpdated {
        /// Which association.
        association: AssociationHandle,
        /// Smoothed RTT.
        srtt: Duration,
    },
}

/// Errors of the endpoint's API (never caused by a peer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// No such association (closed, or a handle of another endpoint).
    UnknownAssociation,
    /// The association is shutting down or closed: no new data.
    Closing,
    /// The send was refused.
    Send(SendError),
    /// The endpoint already holds `max_associations`.
    TooManyAssociations,
    /// The configuration is invalid.
    Config(crate::config::ConfigError),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownAssociation => f.write_str("unknown association"),
            Self::Closing => f.write_str("association is shutting down"),
            Self::Send(e) => write!(f, "send failed: {e}"),
            Self::TooManyAssociations => f.write_str("too many associations"),
            Self::Config(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<SendError> for ApiError {
    fn from(e: SendError) -> Self {
        Self::Send(e)
    }
}
