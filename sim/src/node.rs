//! What the simulator drives: the [`Node`] trait and its datagrams.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

/// Index of a node in a [`Network`](crate::Network), returned by
/// [`Network::add_node`](crate::Network::add_node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's position in insertion order (0 for the first node).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// One UDP datagram (or a GSO batch of them) handed out by a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source address; normally one the sending node owns.
    pub src: SocketAddr,
    /// Destination: a unicast address some node owns, or a multicast group.
    pub dst: SocketAddr,
    /// The UDP payload (for SCTP over UDP, one SCTP packet).
    pub data: Bytes,
    /// GSO: when `Some(s)`, `data` is several datagrams of `s` bytes each
    /// (the last may be shorter), and the network sends them one by one.
    /// `None`, `Some(0)` and `Some(s)` with `s >= data.len()` all mean a
    /// single datagram.
    pub segment_size: Option<usize>,
}

impl Datagram {
    /// A single datagram from `src` to `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr, data: impl Into<Bytes>) -> Self {
        Self {
            src,
            dst,
            data: data.into(),
            segment_size: None,
        }
    }
}

/// A sans-IO endpoint the simulator can drive.
///
/// After every input (datagram, timeout, or a test's
/// [`node_mut`](crate::Network::node_mut) access) the network calls
/// [`poll_transmit`](Node::poll_transmit) until it returns `None`, then
/// [`poll_timeout`](Node::poll_timeout).
pub trait Node {
    /// A datagram arrives at `local` from `remote`. For a multicast copy
    /// `local` is the group address, so the node can tell the two apart.
    fn handle_datagram(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: Bytes);

    /// The next datagram this node wants to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram>;

    /// When the node next wants [`handle_timeout`](Node::handle_timeout)
    /// called. A time in the past means "now".
    fn poll_timeout(&mut self) -> Option<Instant>;

    /// The time returned by [`poll_timeout`](Node::poll_timeout) has come.
    /// Calling it early must be harmless.
    fn handle_timeout(&mut self, now: Instant);
}

impl<N: Node + ?Sized> Node for Box<N> {
    fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    ) {
        (**self).handle_datagram(now, local, remote, data);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        (**self).poll_transmit(now)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
}

/// A [`Node`] that can be downcast, for networks mixing node types.
///
/// Implemented for every `'static` node. Build a `Network<BoxedNode>`, add
/// nodes with `Box::new(...)`, and get them back typed with
/// [`Network::node_as`](crate::Network::node_as) /
/// [`Network::node_as_mut`](crate::Network::node_as_mut). (A test that knows
/// its node types up front can also use an `enum` implementing [`Node`].)
pub trait AnyNode: Node + Any {
    /// `self` as `&dyn Any`.
    fn as_any(&self) -> &dyn Any;
    /// `self` as `&mut dyn Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Node + Any> AnyNode for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A type-erased node, for networks that mix protocol stacks.
pub type BoxedNode = Box<dyn AnyNode>;
