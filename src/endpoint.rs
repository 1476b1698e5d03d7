//! The async endpoint: a one-to-many SCTP socket over UDP.
//!
//! One driver task per endpoint owns the UDP socket and runs the sans-IO
//! [`mcsctp_core::endpoint::Endpoint`]: it feeds it received datagrams and
//! timer expirations and sends what it produces. The handles
//! ([`Endpoint`], [`Association`]) lock the shared state briefly, call into
//! the core, and wake the driver. Every future here is cancellation-safe:
//! a send either queued its message before it returned `Ready` or did
//! nothing; a receive removes a message only when it returns it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::SendOptions;
use mcsctp_core::event::{ApiError, AssociationHandle, CloseReason, Event};
use mcsctp_core::rx::reassembly::Origin;
use mcsctp_core::rx::{Delivery, DeliveryKind};
use mcsctp_core::serial::{Ppid, StreamId};
use mcsctp_core::tx::SendError as CoreSendError;
use tokio::sync::Notify;
use tracing::{Instrument, debug, info_span, warn};

use crate::group::{
    Group, GroupConfig, GroupSockets, JoinPlan, MulticastConfig, RtExt, ServerGroup,
};
use crate::udp::{Udp, UdpOptions};

/// The sans-IO endpoint the runtime drives: plain, a group member, or a
/// group server.
pub(crate) type CoreEndpoint = mcsctp_core::endpoint::Endpoint<RtExt>;

/// Configuration of an [`Endpoint`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Local UDP address (RFC 6951 encapsulation port; 9899 by default).
    pub bind: SocketAddr,
    /// The sans-IO endpoint's configuration; `core.port` is the SCTP port.
    /// [`Endpoint::bind`] replaces `core.seed` with randomness from the
    /// operating system.
    pub core: EndpointConfig,
    /// UDP socket receive buffer (SO_RCVBUF), bytes.
    pub udp_recv_buffer: usize,
    /// UDP socket send buffer (SO_SNDBUF), bytes.
    pub udp_send_buffer: usize,
    /// Multicast on: the endpoint offers the multicast extension in every
    /// INIT it sends and joins the groups servers offer (see
    /// [`crate::group`]). Off (`None`) by default.
    pub multicast: Option<MulticastConfig>,
}

impl Config {
    /// An endpoint with SCTP port `sctp_port` (0: an ephemeral one) on UDP
    /// address `bind`. Its RNG is seeded from the operating system when it
    /// binds.
    pub fn new(bind: SocketAddr, sctp_port: u16) -> Self {
        let mut core = EndpointConfig::default();
        core.port = sctp_port;
        Self {
            bind,
            core,
            udp_recv_buffer: 4 << 20,
            udp_send_buffer: 4 << 20,
            multicast: None,
        }
    }
}

/// A message (or piece of one) received on an association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The association it came on.
    pub association: AssociationId,
    /// Stream.
    pub stream: u16,
    /// Payload protocol identifier.
    pub ppid: u32,
    /// The bytes.
    pub data: Bytes,
    /// Whether it was sent unordered.
    pub unordered: bool,
    /// Whole message, piece (with end-of-record), truncated, refused or
    /// aborted (see [`DeliveryKind`]).
    pub kind: DeliveryKind,
    /// A group message (multicast, or a repair or fallback copy of one on
    /// the association). A peer without the extension gets group messages
    /// as ordinary DATA: for it this is false.
    pub group: bool,
}

impl Message {
    fn from_delivery(association: AssociationHandle, d: Delivery) -> Self {
        Self {
            association: AssociationId(association),
            stream: d.stream.0,
            ppid: d.ppid.0,
            data: d.payload,
            unordered: d.unordered,
            kind: d.kind,
            group: d.origin == Origin::Extension,
        }
    }

    /// Whether this ends a message (a whole message or the last piece).
    pub fn is_end_of_record(&self) -> bool {
        matches!(
            self.kind,
            DeliveryKind::Message
                | DeliveryKind::Truncated { .. }
                | DeliveryKind::Piece {
                    end_of_record: true,
                    ..
                }
        )
    }
}

/// Identifies an association of an endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssociationId(pub AssociationHandle);

impl fmt::Debug for AssociationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AssociationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why an operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Socket error.
    Io(io::Error),
    /// The association ended.
    Closed(CloseReason),
    /// The endpoint is shutting down.
    EndpointClosed,
    /// The core refused the call.
    Api(ApiError),
    /// The operating system has no randomness to give (the reason is
    /// `getrandom`'s). An endpoint refuses to run without it: its
    /// verification tags, initial TSNs and cookie secret would be
    /// guessable (RFC 9260 §5.3.1, §11.2).
    NoRandomness(String),
    /// A group address that is not a multicast address.
    NotMulticast(std::net::IpAddr),
    /// No interface of this host has that name or address.
    InterfaceNotFound(String),
    /// The interface cannot carry multicast (no MULTICAST flag).
    InterfaceWithoutMulticast(String),
    /// The group cannot be made as asked (the reason says why).
    InvalidGroup(String),
    /// The association is not a member of the group.
    NotAMember(AssociationId),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Closed(r) => write!(f, "association closed: {r}"),
            Self::EndpointClosed => f.write_str("endpoint closed"),
            Self::Api(e) => write!(f, "{e}"),
            Self::NoRandomness(e) => write!(
                f,
                "the operating system has no randomness ({e}): refusing to run an SCTP \
                 endpoint whose verification tags and cookie secret would be guessable"
            ),
            Self::NotMulticast(a) => write!(f, "{a} is not a multicast address"),
            Self::InterfaceNotFound(i) => write!(f, "no network interface {i}"),
            Self::InterfaceWithoutMulticast(i) => {
                write!(f, "network interface {i} does not support multicast")
            }
            Self::InvalidGroup(why) => write!(f, "cannot create the group: {why}"),
            Self::NotAMember(a) => write!(f, "association {a} is not a member of the group"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

/// A source of randomness: `getrandom::fill`, or a test's stand-in.
pub(crate) type RandomFill = fn(&mut [u8]) -> Result<(), getrandom::Error>;

/// Closed associations remembered for late callers.
const CLOSED_MEMORY: usize = 4096;
/// Events kept for [`Endpoint::next_event`].
const EVENT_QUEUE: usize = 4096;

pub(crate) struct State {
    pub(crate) core: CoreEndpoint,
    /// The group this endpoint serves, if any.
    pub(crate) group: Option<ServerGroup>,
    /// Associations this side started (their Connected is not "incoming").
    initiated: HashSet<AssociationHandle>,
    connected: HashSet<AssociationHandle>,
    /// Associations this endpoint initiated that were established and have
    /// closed before `connect` saw them up (a peer that sends everything
    /// and shuts down at once): `connect` still succeeds, and the messages
    /// they delivered can be read.
    connected_then_closed: HashSet<AssociationHandle>,
    incoming: VecDeque<AssociationHandle>,
    closed: HashMap<AssociationHandle, CloseReason>,
    closed_order: VecDeque<AssociationHandle>,
    events: VecDeque<Event>,
    events_dropped: u64,
    /// User handles alive (Endpoint clones and Associations); the driver
    /// stops when it reaches zero.
    handles: usize,
    pub(crate) shutting_down: bool,
    pub(crate) driver_done: bool,
    /// Another handle to the endpoint's UDP socket, for socket options set
    /// from the API (a group's multicast options); closed with the driver,
    /// so the port is free once the endpoint has stopped.
    pub(crate) socket: Option<socket2::Socket>,
    io_error: Option<io::ErrorKind>,
    /// What the driver's socket sent, copied from the driver after each
    /// round.
    sent: SentStats,
    /// A new [`MulticastConfig::receive_loss`] and the seed of its drops,
    /// for the driver to take ([`Endpoint::set_multicast_loss`]).
    receive_loss_change: Option<(f64, u64)>,
}

impl State {
    /// Why association `h` can no longer be used, if it cannot: it closed
    /// (with its reason), or the driver stopped.
    pub(crate) fn ended(&self, h: AssociationHandle) -> Option<Error> {
        if let Some(r) = self.closed.get(&h) {
            Some(Error::Closed(r.clone()))
        } else if self.driver_done {
            Some(Error::EndpointClosed)
        } else {
            None
        }
    }

    fn route_events(&mut self) {
        if let Some(g) = &mut self.group {
            g.route(self.core.extension_mut());
        }
        while let Some(e) = self.core.poll_event() {
            match &e {
                Event::Connected { association, .. } => {
                    self.connected.insert(*association);
                    if !self.initiated.contains(association) {
                        self.incoming.push_back(*association);
                    }
                }
                Event::Closed {
                    association,
                    reason,
                    ..
                } => {
                    if self.connected.remove(association) && self.initiated.contains(association) {
                        self.connected_then_closed.insert(*association);
                    }
                    self.initiated.remove(association);
                    self.closed.insert(*association, reason.clone());
                    self.closed_order.push_back(*association);
                    while self.closed_order.len() > CLOSED_MEMORY {
                        if let Some(old) = self.closed_order.pop_front() {
                            self.closed.remove(&old);
                            self.connected_then_closed.remove(&old);
                        }
                    }
                }
                _ => {}
            }
            if self.events.len() >= EVENT_QUEUE {
                self.events.pop_front();
                self.events_dropped += 1;
            }
            self.events.push_back(e);
        }
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Wakes the driver: something to send, or shut down.
    pub(crate) driver: Notify,
    /// Wakes API waiters: anything changed.
    changed: Notify,
    pub(crate) local: SocketAddr,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a bug in this crate; the state
        // is still consistent enough to shut down, so keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until `f` returns `Some`, re-checking after every change.
    pub(crate) async fn wait<T>(&self, mut f: impl FnMut(&mut State) -> Option<T>) -> T {
        // Fast path, no waiter registered: a receiver draining queued
        // messages or a sender with room in its buffer never touches the
        // Notify's waiter list.
        if let Some(v) = f(&mut self.lock()) {
            return v;
        }
        loop {
            let mut notified = pin!(self.changed.notified());
            notified.as_mut().enable();
            if let Some(v) = f(&mut self.lock()) {
                return v;
            }
            notified.await;
        }
    }

    /// Waits until `take` yields an item, or fails once the driver has
    /// stopped.
    pub(crate) async fn wait_item<T>(
        &self,
        mut take: impl FnMut(&mut State) -> Option<T>,
    ) -> Result<T, Error> {
        self.wait(|st| match take(st) {
            Some(v) => Some(Ok(v)),
            None => st.driver_done.then_some(Err(Error::EndpointClosed)),
        })
        .await
    }

    pub(crate) fn acquire(self: &Arc<Self>) {
        self.lock().handles += 1;
    }

    pub(crate) fn release(&self) {
        let mut st = self.lock();
        st.handles -= 1;
        if st.handles == 0 {
            st.shutting_down = true;
            drop(st);
            self.driver.notify_one();
        }
    }
}

/// Datagrams and octets an endpoint's UDP socket accepted for sending
/// ([`Endpoint::sent`]), by destination. Octets are UDP payloads (whole
/// SCTP packets), without IP and UDP headers; datagrams dropped on a send
/// error are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentStats {
    /// Datagrams sent to a multicast address: a group server's group
    /// packets.
    pub multicast_datagrams: u64,
    /// Octets of those.
    pub multicast_octets: u64,
    /// Datagrams sent to a unicast address: associations' packets (group
    /// repairs and fallback data included) and answers to stray packets.
    pub unicast_datagrams: u64,
    /// Octets of those.
    pub unicast_octets: u64,
}

impl SentStats {
    fn count(&mut self, dest: SocketAddr, datagrams: usize, octets: usize) {
        let (d, o) = if dest.ip().is_multicast() {
            (&mut self.multicast_datagrams, &mut self.multicast_octets)
        } else {
            (&mut self.unicast_datagrams, &mut self.unicast_octets)
        };
        *d += datagrams as u64;
        *o += octets as u64;
    }
}

/// A one-to-many SCTP endpoint: many associations over one UDP socket.
///
/// Cloning gives another handle to the same endpoint. When every
/// [`Endpoint`] and [`Association`] handle is dropped, the endpoint aborts
/// its associations, sends the ABORTs, and its driver task ends.
pub struct Endpoint {
    shared: Arc<Shared>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("local", &self.shared.local)
            .finish_non_exhaustive()
    }
}

impl Clone for Endpoint {
    fn clone(&self) -> Self {
        self.shared.acquire();
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shared.release();
    }
}

impl Endpoint {
    /// Seeds the endpoint's RNG from the operating system, binds the UDP
    /// socket and starts the endpoint's driver task. Must be called inside
    /// a tokio runtime. Fails with [`Error::NoRandomness`] if the
    /// operating system has no randomness, before binding anything, and
    /// with [`Error::InterfaceNotFound`] or
    /// [`Error::InterfaceWithoutMulticast`] if [`Config::multicast`] names
    /// an interface that cannot be used.
    pub fn bind(config: Config) -> Result<Self, Error> {
        Self::bind_with_randomness(config, getrandom::fill)
    }

    /// [`Endpoint::bind`] with `fill` as the source of randomness (a seam
    /// for the tests of its failure).
    fn bind_with_randomness(mut config: Config, fill: RandomFill) -> Result<Self, Error> {
        // RFC 9260 §5.3.1: tags must be unpredictable, and the cookie secret
        // (§5.1.3) secret. No fallback: a clock-based seed is guessable.
        let random = |buf: &mut [u8]| fill(buf).map_err(|e| Error::NoRandomness(e.to_string()));
        random(&mut config.core.seed)?;
        if config.core.port == 0 {
            // SCTP port 0 is not a port (RFC 9260 §3.1): pick an ephemeral
            // one at random, as a kernel would for an unbound socket (RFC
            // 6056).
            let mut b = [0u8; 2];
            random(&mut b)?;
            config.core.port = 49152 + u16::from_le_bytes(b) % 16384;
        }
        let opts = UdpOptions {
            recv_buffer: config.udp_recv_buffer,
            send_buffer: config.udp_send_buffer,
        };
        // A member endpoint: its interface is looked up before anything is
        // bound, so a wrong name fails here, clearly.
        let (ext, plan) = match config.multicast {
            None => (RtExt::Plain(mcsctp_core::extension::NoExtension), None),
            Some(m) => {
                let interface =
                    crate::group::choose_interface(m.interface.as_ref(), config.bind.ip())?;
                let mut member = m.member;
                let mut s = [0u8; 8];
                random(&mut s)?;
                member.seed = u64::from_le_bytes(s);
                random(&mut s)?;
                let loss = crate::group::InjectedLoss::new(m.receive_loss, u64::from_le_bytes(s));
                let ext = RtExt::Member(Box::new(mcsctp_mcast::member::ext::GroupMember::new(
                    member,
                )));
                (
                    ext,
                    Some(JoinPlan {
                        interface,
                        opts,
                        loss,
                    }),
                )
            }
        };
        let udp = Udp::bind(config.bind, opts)?;
        let local = udp.local_addr()?;
        let socket = udp.try_clone_socket()?;
        let port = config.core.port;
        let core = CoreEndpoint::with_extension(config.core, Instant::now(), ext)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                core,
                group: None,
                socket: Some(socket),
                initiated: HashSet::new(),
                connected: HashSet::new(),
                connected_then_closed: HashSet::new(),
                incoming: VecDeque::new(),
                closed: HashMap::new(),
                closed_order: VecDeque::new(),
                events: VecDeque::new(),
                events_dropped: 0,
                handles: 1,
                shutting_down: false,
                driver_done: false,
                io_error: None,
                sent: SentStats::default(),
                receive_loss_change: None,
            }),
            driver: Notify::new(),
            changed: Notify::new(),
            local,
        });
        let span = info_span!("endpoint", %local, sctp_port = port);
        tokio::spawn(drive(shared.clone(), udp, plan).instrument(span));
        Ok(Self { shared })
    }

    /// Makes this endpoint the server of the multicast group `group` (IP
    /// multicast address and UDP port): every association it accepts from
    /// then on is offered the group (see [`crate::group`]). Call it before
    /// the endpoint has any association; one group per endpoint.
    ///
    /// Fails with [`Error::NotMulticast`] if `group` is no multicast
    /// address, [`Error::InterfaceNotFound`] or
    /// [`Error::InterfaceWithoutMulticast`] for a bad
    /// [`GroupConfig::interface`], and [`Error::InvalidGroup`] otherwise
    /// (family or port mismatch, a second group, existing associations, a
    /// member endpoint, a wildcard-bound endpoint without an interface).
    pub fn create_group(&self, group: SocketAddr, config: GroupConfig) -> Result<Group, Error> {
        crate::group::create_group(&self.shared, group, config, getrandom::fill)
    }

    /// The UDP address the endpoint is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// The endpoint's SCTP port.
    pub fn sctp_port(&self) -> u16 {
        self.shared.lock().core.config().port
    }

    /// Opens an association to the SCTP endpoint at `sctp_port` reachable
    /// through the UDP address `remote`, and waits until it is up.
    pub async fn connect(&self, remote: SocketAddr, sctp_port: u16) -> Result<Association, Error> {
        let h = {
            let mut st = self.shared.lock();
            if st.shutting_down {
                return Err(Error::EndpointClosed);
            }
            let h = st.core.connect(Instant::now(), remote, sctp_port)?;
            st.initiated.insert(h);
            h
        };
        self.shared.driver.notify_one();
        let assoc = Association::new(self.shared.clone(), h);
        self.shared
            .wait(|st| {
                if st.connected.contains(&h) || st.connected_then_closed.remove(&h) {
                    Some(Ok(()))
                } else {
                    st.ended(h).map(Err)
                }
            })
            .await?;
        Ok(assoc)
    }

    /// Waits for the next association a peer opened.
    pub async fn accept(&self) -> Result<Association, Error> {
        let h = self.shared.wait_item(|st| st.incoming.pop_front()).await?;
        Ok(Association::new(self.shared.clone(), h))
    }

    /// Receives the next message from any association. Associations are
    /// served round-robin; one delivering a long message in pieces never
    /// holds up the others.
    pub async fn recv(&self) -> Result<Message, Error> {
        let r = self.shared.wait_item(|st| st.core.poll_recv()).await?;
        // Reading opened window: let the driver send a window update.
        self.shared.driver.notify_one();
        Ok(Message::from_delivery(r.association, r.delivery))
    }

    /// Next association event (up, down, restart, path, abandoned
    /// messages). At most 4096 are queued; older ones are dropped.
    pub async fn next_event(&self) -> Result<Event, Error> {
        self.shared.wait_item(|st| st.events.pop_front()).await
    }

    /// A handle to an association of this endpoint by id.
    pub fn association(&self, id: AssociationId) -> Association {
        Association::new(self.shared.clone(), id.0)
    }

    /// Number of live associations.
    pub fn association_count(&self) -> usize {
        self.shared.lock().core.association_count()
    }

    /// Counters of the sans-IO endpoint.
    pub fn stats(&self) -> mcsctp_core::endpoint::EndpointStats {
        self.shared.lock().core.stats()
    }

    /// What the endpoint's socket has sent so far, split by destination:
    /// group packets (to a multicast address) and everything else
    /// (associations' packets to their peers).
    pub fn sent(&self) -> SentStats {
        self.shared.lock().sent
    }

    /// For tests, benchmarks and demos only: changes a member endpoint's
    /// [`MulticastConfig::receive_loss`] while it runs (0 to 1; 1 drops
    /// every group datagram, so the server moves the member to unicast
    /// fallback, and 0 afterwards lets it return). No effect on an endpoint
    /// without [`Config::multicast`].
    pub fn set_multicast_loss(&self, share: f64) {
        let mut seed = [0u8; 8];
        // A test knob: a fixed seed will do if there is no randomness.
        let seed = match getrandom::fill(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => 0x9E37_79B9_7F4A_7C15,
        };
        self.shared.lock().receive_loss_change = Some((share, seed));
        self.shared.driver.notify_one();
    }

    /// Aborts every association, sends the ABORTs, and stops the driver.
    pub async fn shutdown(&self) {
        self.shared.lock().shutting_down = true;
        self.shared.driver.notify_one();
        self.shared.wait(|st| st.driver_done.then_some(())).await;
    }
}

/// One association of an [`Endpoint`].
///
/// Dropping the handle does not close the association (one-to-many: it
/// stays on the endpoint); call [`close`](Self::close) or
/// [`abort`](Self::abort).
pub struct Association {
    shared: Arc<Shared>,
    handle: AssociationHandle,
}

impl fmt::Debug for Association {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Association({:?})", self.handle)
    }
}

impl Clone for Association {
    fn clone(&self) -> Self {
        Self::new(self.shared.clone(), self.handle)
    }
}

impl Drop for Association {
    fn drop(&mut self) {
        self.shared.release();
    }
}

/// Options of [`Association::send_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendParams {
    /// Payload protocol identifier.
    pub ppid: u32,
    /// Unordered delivery.
    pub unordered: bool,
    /// PR-SCTP timed reliability (RFC 3758).
    pub lifetime: Option<Duration>,
    /// PR-SCTP limited retransmissions (RFC 7496).
    pub max_retransmissions: Option<u32>,
}

impl Association {
    fn new(shared: Arc<Shared>, handle: AssociationHandle) -> Self {
        shared.acquire();
        Self { shared, handle }
    }

    /// This association's id (as carried by [`Message::association`]).
    pub fn id(&self) -> AssociationId {
        AssociationId(self.handle)
    }

    /// The peer's UDP address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.shared.lock().core.remote_address(self.handle)
    }

    /// Sends an ordered message with PPID 0 on `stream`.
    pub async fn send(&self, stream: u16, data: Bytes) -> Result<(), Error> {
        self.send_with(stream, data, SendParams::default()).await
    }

    /// Sends a message, waiting while the send buffer is full
    /// (backpressure). Cancellation-safe: if the future is dropped before
    /// it completes, nothing was queued.
    pub async fn send_with(&self, stream: u16, data: Bytes, p: SendParams) -> Result<(), Error> {
        let h = self.handle;
        let opts = SendOptions {
            unordered: p.unordered,
            lifetime: p.lifetime,
            max_retransmissions: p.max_retransmissions,
            ..SendOptions::default()
        };
        self.shared
            .wait(|st| {
                // Also when the driver has stopped: a full send buffer
                // would never drain, and the send would wait forever.
                if let Some(e) = st.ended(h) {
                    return Some(Err(e));
                }
                match st.core.send(
                    Instant::now(),
                    h,
                    StreamId(stream),
                    Ppid(p.ppid),
                    data.clone(),
                    opts,
                ) {
                    Ok(()) => Some(Ok(())),
                    Err(ApiError::Send(CoreSendError::BufferFull { .. })) => None,
                    Err(e) => Some(Err(Error::Api(e))),
                }
            })
            .await?;
        self.shared.driver.notify_one();
        Ok(())
    }

    /// Receives the next message of this association.
    pub async fn recv(&self) -> Result<Message, Error> {
        let h = self.handle;
        let d = self
            .shared
            .wait(|st| {
                if let Some(d) = st.core.poll_recv_on(h) {
                    Some(Ok(d))
                } else {
                    st.ended(h).map(Err)
                }
            })
            .await?;
        self.shared.driver.notify_one();
        Ok(Message::from_delivery(h, d))
    }

    /// Graceful shutdown (RFC 9260 §9.2): queued data is delivered first.
    /// Waits until the association is closed.
    pub async fn close(&self) -> Result<(), Error> {
        {
            let mut st = self.shared.lock();
            if !st.closed.contains_key(&self.handle) {
                st.core.close(Instant::now(), self.handle)?;
            }
        }
        self.shared.driver.notify_one();
        match self.closed().await {
            CloseReason::Shutdown => Ok(()),
            r => Err(Error::Closed(r)),
        }
    }

    /// Aborts the association at once, telling the peer `reason`.
    pub fn abort(&self, reason: &[u8]) {
        {
            let mut st = self.shared.lock();
            let _ = st.core.abort(Instant::now(), self.handle, reason);
        }
        self.shared.driver.notify_one();
    }

    /// Waits until the association has closed and says why.
    pub async fn closed(&self) -> CloseReason {
        let h = self.handle;
        self.shared
            .wait(|st| {
                st.closed.get(&h).cloned().or_else(|| {
                    // Gone without a recorded reason: the endpoint stopped.
                    st.driver_done.then_some(CloseReason::AbortedLocally)
                })
            })
            .await
    }

    /// Counters of this association, while it lives.
    pub fn stats(&self) -> Option<mcsctp_core::endpoint::AssociationStats> {
        self.shared.lock().core.association_stats(self.handle)
    }

    /// Smoothed RTT and RTO.
    pub fn rtt(&self) -> Option<(Option<Duration>, Duration)> {
        self.shared.lock().core.rtt(self.handle)
    }

    /// Congestion window, slow-start threshold and bytes in flight, once
    /// the association is up.
    pub fn congestion(&self) -> Option<(usize, usize, usize)> {
        self.shared.lock().core.congestion(self.handle)
    }

    /// What the member side knows of the group the server offered on this
    /// association: `None` if the endpoint is not a member
    /// ([`Config::multicast`] unset) or no group was offered.
    pub fn member_figures(&self) -> Option<crate::group::MemberFigures> {
        crate::group::member_figures(&self.shared.lock(), self.handle)
    }

    /// Leaves the group the server offered on this association and keeps
    /// the association (draft §"Member Leave, Removal, Abort, Restart and
    /// Failure", Leave): the server is told (MREACH RESIGN, sent again
    /// until it answers), no group message is delivered from now on, and
    /// the endpoint leaves the IP group once the server has answered.
    /// Unicast goes on as before. Returns false if the endpoint is not a
    /// member ([`Config::multicast`] unset), no group was offered, or the
    /// membership has ended or is being left already.
    pub fn leave_group(&self) -> bool {
        let left = {
            let mut st = self.shared.lock();
            st.core
                .extension_mut()
                .member_mut()
                .is_some_and(|m| m.leave(self.handle))
        };
        if left {
            self.shared.driver.notify_one();
        }
        left
    }

    /// Whether this association is in a group that has not ended and that
    /// it is not leaving ([`leave_group`](Self::leave_group)).
    pub fn is_group_member(&self) -> bool {
        self.shared
            .lock()
            .core
            .extension()
            .member()
            .is_some_and(|m| m.is_member(self.handle))
    }

    /// Bytes of user data the send buffer takes now.
    pub fn send_buffer_available(&self) -> Option<usize> {
        self.shared.lock().core.send_buffer_available(self.handle)
    }
}

/// The driver: receives, runs timers, sends, and routes events.
async fn drive(shared: Arc<Shared>, mut udp: Udp, plan: Option<JoinPlan>) {
    let mut groups = GroupSockets::default();
    // MulticastConfig::receive_loss (tests and benchmarks).
    let mut injected_loss = plan.as_ref().and_then(|p| p.loss.clone());
    let mut sleep = pin!(tokio::time::sleep(Duration::from_secs(3600)));
    let mut out = Out::new(udp.max_gso_segments());
    let mut received = Vec::with_capacity(crate::udp::BATCH);
    let local = shared.local;
    loop {
        let mut woken = pin!(shared.driver.notified());
        woken.as_mut().enable();
        let done = poll_fn(|cx| {
            let mut st = shared.lock();
            let now = Instant::now();
            // Receive a few batches, then let the other work run. What the
            // core has to send is collected after every datagram and sent
            // (in GSO batches) after every received batch: a receiver then
            // acknowledges every second packet (RFC 9260 §6.2) instead of
            // once per batch, which keeps the sender's flight from
            // draining to zero between batches (Max.Burst lets it send
            // only 4 packets per SACK once nothing is in flight), and a
            // sender answers each SACK, all in one system call per batch.
            let mut flush_error = None;
            // Whether the socket reported "nothing more" (and so will wake
            // this task when datagrams arrive). After 8 full batches it has
            // not: the task must be polled again by itself, or datagrams
            // already queued would wait for an unrelated wakeup (a timer,
            // the application), stalling the association.
            let mut drained = false;
            for _ in 0..8 {
                received.clear();
                match udp.poll_recv(cx, |dst, src, data| received.push((dst, src, data))) {
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => {
                        // ICMP-induced errors (ECONNREFUSED) surface here;
                        // they concern one peer only.
                        debug!(error = %e, "receive error");
                        continue;
                    }
                    Poll::Pending => {
                        drained = true;
                        break;
                    }
                }
                for (dst, src, data) in received.drain(..) {
                    let local = SocketAddr::new(dst.unwrap_or(local.ip()), local.port());
                    st.core.handle_datagram(now, local, src, data);
                    if flush_error.is_none()
                        && let Err(e) = out.collect(cx, &mut st.core, &udp, now)
                    {
                        flush_error = Some(e);
                    }
                }
                if flush_error.is_none()
                    && let Err(e) = out.flush(cx, &mut st.core, &udp, now)
                {
                    flush_error = Some(e);
                }
            }
            if let Some((share, seed)) = st.receive_loss_change.take() {
                injected_loss = crate::group::InjectedLoss::new(share, seed);
            }
            // Group packets (a member endpoint), received on the group's
            // own socket: the core sees them arrive at the group address.
            for g in &mut groups.sockets {
                let mut group_drained = false;
                for _ in 0..8 {
                    received.clear();
                    match g
                        .udp
                        .poll_recv(cx, |_, src, data| received.push((None, src, data)))
                    {
                        Poll::Ready(Ok(_)) => {}
                        Poll::Ready(Err(e)) => {
                            debug!(error = %e, "group receive error");
                            continue;
                        }
                        Poll::Pending => {
                            group_drained = true;
                            break;
                        }
                    }
                    for (_, src, data) in received.drain(..) {
                        if injected_loss.as_mut().is_some_and(|l| l.drop_next()) {
                            continue;
                        }
                        st.core.handle_datagram(now, g.group, src, data);
                    }
                    if flush_error.is_none()
                        && let Err(e) = out.flush(cx, &mut st.core, &udp, now)
                    {
                        flush_error = Some(e);
                    }
                }
                // As for the endpoint's socket: more may be queued.
                drained &= group_drained;
            }
            // Joins the member asked for (an INIT ACK offered a group): the
            // COOKIE ECHO waits for their outcome and goes out below.
            if let Some(plan) = &plan {
                groups.perform_joins(st.core.extension_mut(), plan);
            }
            if let Some(e) = flush_error {
                st.io_error = Some(e.kind());
                warn!(error = %e, "send error");
            }
            if st.shutting_down && !out.aborting {
                out.aborting = true;
                let hs: Vec<_> = st.core.associations().collect();
                for h in hs {
                    let _ = st.core.abort(now, h, b"endpoint closed");
                }
            }
            if st.core.poll_timeout().is_some_and(|t| t <= now) {
                st.core.handle_timeout(now);
            }
            let flushed = match out.flush(cx, &mut st.core, &udp, now) {
                Ok(f) => f,
                Err(e) => {
                    st.io_error = Some(e.kind());
                    warn!(error = %e, "send error");
                    true
                }
            };
            st.sent = out.sent;
            st.route_events();
            if !groups.sockets.is_empty() {
                let core = &st.core;
                // A group is left when its association ends, or when the
                // membership ended (leave, removal).
                groups.prune(|h| {
                    core.remote_address(h).is_some()
                        && core.extension().member().is_none_or(|m| m.is_member(h))
                });
            }
            shared.changed.notify_waiters();
            if st.shutting_down && flushed && st.core.association_count() == 0 {
                st.driver_done = true;
                st.socket = None;
                return Poll::Ready(true);
            }
            if let Some(t) = st.core.poll_timeout() {
                sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(t.max(now)));
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
            }
            drop(st);
            if woken.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            if !drained {
                // Let the application's tasks run, then receive more.
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await;
        if done {
            shared.changed.notify_waiters();
            break;
        }
    }
    debug!("driver stopped");
}

/// Outgoing datagrams, coalesced into GSO batches: consecutive packets to
/// one destination of one size (the last may be shorter), sent with one
/// system call. A batch goes out as soon as it is complete (full, or the
/// next packet cannot join it); the batch still open at the end of a
/// driver round goes out in [`Out::flush`]. So the SACKs a receiver writes
/// for a burst of DATA (one per second packet) and the DATA a sender
/// writes for a burst of SACKs leave in one `sendmsg` each.
struct Out {
    /// The batch's packets, back to back.
    buf: Vec<u8>,
    batch: Option<Batch>,
    /// A packet that could not join the batch: it starts the next one.
    carry: Vec<u8>,
    carry_dest: Option<SocketAddr>,
    max_segments: usize,
    aborting: bool,
    /// What was sent.
    sent: SentStats,
}

/// Largest GSO batch: one UDP datagram's worth (65535 bytes less the IPv6
/// and UDP headers), or the kernel refuses it (EMSGSIZE).
const MAX_GSO_BYTES: usize = 65_535 - 40 - 8;

struct Batch {
    dest: SocketAddr,
    /// Segment size: the size of the first packet.
    seg: usize,
    n: usize,
    /// No more packets join: send it before taking more from the core.
    closed: bool,
}

impl Out {
    fn new(max_segments: usize) -> Self {
        Self {
            buf: Vec::with_capacity(64 * 1024),
            batch: None,
            carry: Vec::with_capacity(2048),
            carry_dest: None,
            max_segments: max_segments.clamp(1, 64),
            aborting: false,
            sent: SentStats::default(),
        }
    }

    /// Takes what the core has to send into batches, sending the complete
    /// ones. Returns false if the socket is full (the driver is woken when
    /// it drains; nothing is lost).
    fn collect(
        &mut self,
        cx: &mut std::task::Context<'_>,
        core: &mut CoreEndpoint,
        udp: &Udp,
        now: Instant,
    ) -> io::Result<bool> {
        loop {
            if self.batch.as_ref().is_some_and(|b| b.closed) && !self.send_batch(cx, udp)? {
                return Ok(false);
            }
            let before = self.buf.len();
            let Some(t) = core.poll_transmit(now, &mut self.buf) else {
                return Ok(true);
            };
            let max = self.max_segments;
            match &mut self.batch {
                None => {
                    self.batch = Some(Batch {
                        dest: t.destination,
                        seg: t.len,
                        n: 1,
                        closed: max == 1 || 2 * t.len > MAX_GSO_BYTES,
                    });
                }
                Some(b) if b.dest == t.destination && t.len <= b.seg => {
                    b.n += 1;
                    b.closed = t.len < b.seg || b.n >= max || (b.n + 1) * b.seg > MAX_GSO_BYTES;
                }
                Some(b) => {
                    self.carry.extend_from_slice(&self.buf[before..]);
                    self.buf.truncate(before);
                    self.carry_dest = Some(t.destination);
                    b.closed = true;
                }
            }
        }
    }

    /// Sends everything the core has, the open batch included. Returns
    /// false if the socket is full.
    fn flush(
        &mut self,
        cx: &mut std::task::Context<'_>,
        core: &mut CoreEndpoint,
        udp: &Udp,
        now: Instant,
    ) -> io::Result<bool> {
        if !self.collect(cx, core, udp, now)? {
            return Ok(false);
        }
        while self.batch.is_some() {
            if !self.send_batch(cx, udp)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Sends the batch; then the carried packet, if any, becomes the next
    /// (open) batch. Returns false if the socket is full.
    fn send_batch(&mut self, cx: &mut std::task::Context<'_>, udp: &Udp) -> io::Result<bool> {
        let Some(b) = &self.batch else {
            return Ok(true);
        };
        let seg = (b.n > 1).then_some(b.seg);
        let r = match udp.poll_send(cx, b.dest, &self.buf, seg) {
            Poll::Pending => return Ok(false),
            Poll::Ready(Ok(())) => {
                self.sent.count(b.dest, b.n, self.buf.len());
                Ok(true)
            }
            Poll::Ready(Err(e)) => {
                // A path without GSO fails the batch (EIO, EINVAL) and
                // quinn-udp turns segmentation off: follow it. The dropped
                // packets are retransmitted by SCTP.
                self.max_segments = udp.max_gso_segments().clamp(1, 64);
                if is_transient(&e) {
                    debug!(error = %e, dest = %b.dest, "datagram dropped");
                    Ok(true)
                } else {
                    Err(e)
                }
            }
        };
        self.buf.clear();
        self.batch = None;
        if let Some(dest) = self.carry_dest.take() {
            std::mem::swap(&mut self.buf, &mut self.carry);
            self.batch = Some(Batch {
                dest,
                seg: self.buf.len(),
                n: 1,
                closed: self.max_segments == 1 || 2 * self.buf.len() > MAX_GSO_BYTES,
            });
        }
        r
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::InvalidInput
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_randomness(_: &mut [u8]) -> Result<(), getrandom::Error> {
        Err(getrandom::Error::UNSUPPORTED)
    }

    fn constant_randomness(buf: &mut [u8]) -> Result<(), getrandom::Error> {
        buf.fill(0xab);
        Ok(())
    }

    #[tokio::test]
    async fn bind_fails_without_os_randomness() {
        let cfg = Config::new("127.0.0.1:0".parse().expect("addr"), 5000);
        let e = Endpoint::bind_with_randomness(cfg, no_randomness).expect_err("bound");
        assert!(matches!(e, Error::NoRandomness(_)), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("operating system has no randomness") && msg.contains("guessable"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn randomness_is_checked_before_the_socket_is_bound() {
        // 192.0.2.1 (TEST-NET-1) is no address of this host: binding it
        // fails, but the missing randomness is reported first.
        let cfg = Config::new("192.0.2.1:0".parse().expect("addr"), 0);
        let e = Endpoint::bind_with_randomness(cfg, no_randomness).expect_err("bound");
        assert!(matches!(e, Error::NoRandomness(_)), "{e:?}");
        let cfg = Config::new("192.0.2.1:0".parse().expect("addr"), 0);
        let e = Endpoint::bind_with_randomness(cfg, constant_randomness).expect_err("bound");
        assert!(matches!(e, Error::Io(_)), "{e:?}");
    }

    #[tokio::test]
    async fn seed_and_ephemeral_port_come_from_the_randomness_source() {
        let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"), 0);
        cfg.core.seed = [0; 32];
        let ep = Endpoint::bind_with_randomness(cfg, constant_randomness).expect("bind");
        assert_eq!(ep.shared.lock().core.config().seed, [0xab; 32]);
        assert_eq!(ep.sctp_port(), 49152 + 0xabab % 16384);
    }
}
