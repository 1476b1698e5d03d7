//! `dcsctp` (the Rust dcSCTP) as a simulator node.
//!
//! A dcSCTP socket holds one association. Input goes in through
//! `handle_input`, time through `advance_time` (a `SocketTime` counted
//! from the socket's creation: here, from the network's epoch), and
//! everything else comes out of `poll_event`: `SendPacket` for the wire,
//! `OnConnected` / `OnClosed` / `OnAborted` for the application, and
//! received messages through `get_next_message`.
//!
//! As published, dcsctp formats every packet it sends or receives as a hex
//! string for its log (`logging::log_packet`) whether or not a logger is
//! installed; that cost is part of every number measured through it.
//! `scripts/bench-engines.sh` builds the benchmark a second time with a
//! copy of dcsctp where that one call is gated, and measures both.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_sim::{Datagram, Node};

// The engine through `super::dcsctp_crate` and the rest of the harness
// through `crate::interop`, so that `benches/bulk.rs` can compile this
// file a second time against a patched dcsctp (see `interop/mod.rs`).
use super::dcsctp_crate::api::{
    DcSctpSocket, ErrorKind, Message, Options, PpId, SendError, SendOptions, SocketEvent,
    SocketTime, StreamId,
};
use crate::interop::{Closed, Common, MAX_PACKET, Msg, PPID, SCTP_PORT, Stack, Wire};

pub struct DcNode {
    pub sock: Box<dyn DcSctpSocket>,
    epoch: Instant,
    local: SocketAddr,
    remote: SocketAddr,
    out: VecDeque<Bytes>,
    c: Common,
    /// Streams sent on, to add up dcsctp's buffered amounts.
    streams: Vec<u16>,
    /// dcsctp's send-queue limits (`Options::max_send_buffer_size`,
    /// `per_stream_send_queue_limit`).
    send_limit: usize,
    stream_limit: usize,
    connected: bool,
    /// Non-fatal errors dcsctp reported (`OnError`), for diagnosis.
    pub errors: Vec<(ErrorKind, String)>,
    wire: Wire,
}

impl DcNode {
    /// dcsctp's options for the interop runs: port 5000, 1200-byte packets,
    /// I-DATA offered or not.
    pub fn options(interleaving: bool) -> Options {
        Options {
            local_port: SCTP_PORT,
            remote_port: SCTP_PORT,
            mtu: MAX_PACKET,
            enable_message_interleaving: interleaving,
            ..Options::default()
        }
    }

    /// [`options`](Self::options) (DATA) with the receive window of the
    /// other engines in the benchmark, 1 MiB (dcsctp's default is 5 MiB).
    pub fn bench_options() -> Options {
        Options {
            max_receiver_window_buffer_size: crate::interop::RECEIVE_WINDOW,
            ..Self::options(false)
        }
    }

    pub fn new(
        name: &str,
        options: &Options,
        epoch: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Self {
        Self {
            sock: super::dcsctp_crate::new_socket(name, options),
            epoch,
            local,
            remote,
            out: VecDeque::new(),
            c: Common::new(),
            streams: Vec::new(),
            send_limit: options.max_send_buffer_size,
            stream_limit: options.per_stream_send_queue_limit,
            connected: false,
            errors: Vec::new(),
            wire: Wire::default(),
        }
    }

    fn time(&self, now: Instant) -> SocketTime {
        SocketTime::zero() + now.saturating_duration_since(self.epoch)
    }

    fn service(&mut self) {
        loop {
            while let Some(e) = self.sock.poll_event() {
                match e {
                    SocketEvent::SendPacket(p) => {
                        self.wire.record(&p);
                        self.out.push_back(Bytes::from(p));
                    }
                    SocketEvent::OnConnected() => self.connected = true,
                    SocketEvent::OnClosed() => {
                        self.c.closed.get_or_insert(Closed::Graceful);
                    }
                    SocketEvent::OnAborted(kind, reason) => {
                        self.c
                            .closed
                            .get_or_insert(if kind == ErrorKind::PeerReported {
                                Closed::AbortedByPeer(reason)
                            } else {
                                Closed::Failed(format!("{kind:?}: {reason}"))
                            });
                    }
                    SocketEvent::OnError(kind, reason) => self.errors.push((kind, reason)),
                    _ => {}
                }
            }
            while let Some(m) = self.sock.get_next_message() {
                self.c
                    .inbox
                    .push(m.stream_id.0, m.ppid.0, Bytes::from(m.payload));
            }
            if !self.pump() {
                break;
            }
        }
    }

    /// Hands queued messages to the socket; whether any was taken.
    ///
    /// dcsctp takes a message's payload as an owned `Vec<u8>` and drops it
    /// when it refuses the send, so the adapter checks dcsctp's own
    /// admission rule first (`validate_send`: refused once the buffered
    /// total or the stream's reaches its limit) and then moves the payload
    /// in; `Vec::from(Bytes)` reuses the allocation when the `Bytes` is the
    /// only owner of a vector, as in the benchmark.
    fn pump(&mut self) -> bool {
        if !self.connected || self.c.closed.is_some() {
            return false;
        }
        let mut any = false;
        while let Some(m) = self.c.pending.front() {
            let total: usize = self
                .streams
                .iter()
                .map(|&s| self.sock.buffered_amount(StreamId(s)))
                .sum();
            if total >= self.send_limit
                || self.sock.buffered_amount(StreamId(m.stream)) >= self.stream_limit
            {
                break;
            }
            let m = self.c.pending.pop_front().expect("front");
            if !self.streams.contains(&m.stream) {
                self.streams.push(m.stream);
            }
            let opts = SendOptions {
                unordered: m.unordered,
                ..SendOptions::default()
            };
            let msg = Message::new(StreamId(m.stream), PpId(PPID), Vec::from(m.payload));
            match self.sock.send(msg, &opts) {
                Ok(()) => any = true,
                Err(e @ SendError::ResourceExhaustion) => {
                    panic!("dcsctp refused a send the adapter thought it takes: {e}")
                }
                Err(e) => panic!("dcsctp refused a send: {e}"),
            }
        }
        any
    }
}

impl Node for DcNode {
    fn handle_datagram(
        &mut self,
        now: Instant,
        _local: SocketAddr,
        _remote: SocketAddr,
        data: Bytes,
    ) {
        self.wire.incoming(&data);
        let t = self.time(now);
        self.sock.advance_time(t);
        self.sock.handle_input(&data);
        self.service();
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if self.out.is_empty() && !self.c.pending.is_empty() {
            let t = self.time(now);
            self.sock.advance_time(t);
            self.service();
        }
        let data = self.out.pop_front()?;
        Some(Datagram::new(self.local, self.remote, data))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let t = self.sock.poll_timeout();
        if t == SocketTime::infinite_future() {
            return None;
        }
        let d: Duration = t - SocketTime::zero();
        Some(self.epoch + d)
    }

    fn handle_timeout(&mut self, now: Instant) {
        let t = self.time(now);
        self.sock.advance_time(t);
        self.service();
    }
}

impl Stack for DcNode {
    fn common(&self) -> &Common {
        &self.c
    }

    fn common_mut(&mut self) -> &mut Common {
        &mut self.c
    }

    fn connect(&mut self, now: Instant) {
        let t = self.time(now);
        self.sock.advance_time(t);
        self.sock.connect();
        self.service();
    }

    fn submit(&mut self, _now: Instant, m: Msg) {
        self.c.pending.push_back(m);
    }

    fn is_connected(&self) -> bool {
        self.connected
    }

    fn shutdown(&mut self, now: Instant) {
        let t = self.time(now);
        self.sock.advance_time(t);
        self.service();
        self.sock.shutdown();
        self.service();
    }

    /// `close()` sends ABORT (User-Initiated Abort, "Close called").
    fn abort(&mut self, now: Instant) {
        let t = self.time(now);
        self.sock.advance_time(t);
        self.c.closed.get_or_insert(Closed::AbortedLocally);
        self.sock.close();
        self.service();
    }

    fn wire(&self) -> &Wire {
        &self.wire
    }

    fn wire_mut(&mut self) -> &mut Wire {
        &mut self.wire
    }
}
