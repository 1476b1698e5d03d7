//! The UDP socket of an endpoint (RFC 6951 encapsulation): created with
//! socket2 (buffer sizes, `IPV6_V6ONLY`), driven through tokio, with batched
//! I/O from `quinn-udp` — `recvmmsg` and GRO on receive, GSO or `sendmmsg`
//! on send where the kernel has them, single datagrams where it does not.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::task::{Context, Poll};

use bytes::Bytes;
use quinn_udp::{RecvMeta, Transmit, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams read per receive call (quinn-udp's batch size on Linux).
pub(crate) const BATCH: usize = quinn_udp::BATCH_SIZE;

/// Largest UDP payload read per datagram slot: with GRO the kernel may
/// coalesce several datagrams into one slot.
const SLOT: usize = 64 * 1024;

/// A bound UDP socket with batched I/O.
#[derive(Debug)]
pub(crate) struct Udp {
    socket: UdpSocket,
    state: UdpSocketState,
    bufs: Vec<Vec<u8>>,
    metas: Vec<RecvMeta>,
}

/// Socket options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UdpOptions {
    pub(crate) recv_buffer: usize,
    pub(crate) send_buffer: usize,
}

impl Udp {
    /// Binds `addr` (IPv6 sockets are v6-only, so an IPv4 and an IPv6
    /// endpoint can share a port number).
    pub(crate) fn bind(addr: SocketAddr, opts: UdpOptions) -> io::Result<Self> {
        let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if addr.is_ipv6() {
            sock.set_only_v6(true)?;
        }
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        Self::from_socket(sock, opts)
    }

    /// Wraps a bound, non-blocking socket (a group socket prepared by
    /// `group.rs`, or the endpoint's own).
    pub(crate) fn from_socket(sock: Socket, opts: UdpOptions) -> io::Result<Self> {
        let std_sock: std::net::UdpSocket = sock.into();
        let state = UdpSocketState::new((&std_sock).into())?;
        // Best effort: the kernel caps these at rmem_max / wmem_max.
        let _ = state.set_recv_buffer_size((&std_sock).into(), opts.recv_buffer);
        let _ = state.set_send_buffer_size((&std_sock).into(), opts.send_buffer);
        let socket = UdpSocket::from_std(std_sock)?;
        Ok(Self {
            socket,
            state,
            bufs: (0..BATCH).map(|_| vec![0u8; SLOT]).collect(),
            metas: vec![RecvMeta::default(); BATCH],
        })
    }

    /// Another handle to the same socket (for socket options set from the
    /// API while the driver owns the socket).
    pub(crate) fn try_clone_socket(&self) -> io::Result<Socket> {
        socket2::SockRef::from(&self.socket).try_clone()
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Largest number of segments one GSO send may carry (1: no GSO).
    pub(crate) fn max_gso_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    /// Receives a batch: calls `f(local_ip, remote, datagram)` for every
    /// datagram, each copied into its own exactly-sized `Bytes` so that a
    /// message held by the application pins only its own datagram.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(Option<std::net::IpAddr>, SocketAddr, Bytes),
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.socket.poll_recv_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
            let Self {
                socket,
                state,
                bufs,
                metas,
            } = self;
            let mut iovs: Vec<IoSliceMut<'_>> =
                bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect();
            let res = socket.try_io(Interest::READABLE, || {
                state.recv((&*socket).into(), &mut iovs, metas)
            });
            match res {
                Ok(n) => {
                    let mut count = 0;
                    for (meta, buf) in metas.iter().zip(bufs.iter()).take(n) {
                        let stride = if meta.stride == 0 {
                            meta.len
                        } else {
                            meta.stride
                        };
                        for seg in buf[..meta.len].chunks(stride.max(1)) {
                            f(meta.dst_ip, meta.addr, Bytes::copy_from_slice(seg));
                            count += 1;
                        }
                    }
                    return Poll::Ready(Ok(count));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Sends one datagram, or a GSO batch when `segment_size` is set.
    /// Errors other than "would block" drop the datagram: SCTP retransmits,
    /// and an unreachable peer must not stop the endpoint.
    pub(crate) fn poll_send(
        &self,
        cx: &mut Context<'_>,
        destination: SocketAddr,
        contents: &[u8],
        segment_size: Option<usize>,
    ) -> Poll<io::Result<()>> {
        let t = Transmit {
            destination,
            ecn: None,
            contents,
            segment_size,
            src_ip: None,
        };
        loop {
            match self.socket.poll_send_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
            match self.socket.try_io(Interest::WRITABLE, || {
                self.state.try_send((&self.socket).into(), &t)
            }) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}
