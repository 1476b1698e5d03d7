//! Deterministic network simulator for the mcsctp sans-IO crates.
//!
//! A [`Network`] holds [`Node`]s (sans-IO endpoints: datagrams in through
//! `handle_datagram`, out through `poll_transmit`, timers through
//! `poll_timeout` / `handle_timeout`) and moves their datagrams over
//! simulated links with delay, jitter, loss, duplication, reordering, MTU
//! and bandwidth limits ([`LinkConfig`]), unicast and multicast. The
//! network owns the clock and jumps it from event to event, so a simulated
//! minute takes microseconds and nothing ever sleeps. All randomness comes
//! from one seed: the same seed gives the same run, fingerprinted by
//! [`Network::digest`].
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use mcsctp_sim::{Datagram, LinkConfig, Network, Node};
//!
//! /// Echoes every datagram back to its sender.
//! #[derive(Default)]
//! struct Echo {
//!     out: Vec<Datagram>,
//!     got: Vec<(Duration, Bytes)>,
//!     start: Option<Instant>,
//! }
//!
//! impl Node for Echo {
//!     fn handle_datagram(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: Bytes) {
//!         let t = now - *self.start.get_or_insert(now);
//!         self.got.push((t, data.clone()));
//!         if data.as_ref() == b"ping" {
//!             self.out.push(Datagram::new(local, remote, &b"pong"[..]));
//!         }
//!     }
//!     fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
//!         self.out.pop()
//!     }
//!     fn poll_timeout(&mut self) -> Option<Instant> {
//!         None
//!     }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//! }
//!
//! let a_addr: SocketAddr = "10.0.0.1:9899".parse().unwrap();
//! let b_addr: SocketAddr = "10.0.0.2:9899".parse().unwrap();
//! let mut net = Network::new(1);
//! net.set_default_link(LinkConfig { delay: Duration::from_millis(25), ..LinkConfig::DEFAULT });
//! let a = net.add_node(Echo::default(), &[a_addr]).unwrap();
//! let b = net.add_node(Echo::default(), &[b_addr]).unwrap();
//!
//! // Application calls go through node_mut; the next step picks them up.
//! net.node_mut(a).out.push(Datagram::new(a_addr, b_addr, &b"ping"[..]));
//! net.run_until_cond(|net| !net.node(a).got.is_empty(), Duration::from_secs(1)).unwrap();
//!
//! assert_eq!(net.node(a).got[0].1.as_ref(), b"pong");
//! assert_eq!(net.elapsed(), Duration::from_millis(50)); // one round trip
//! assert_eq!(net.stats().delivered, 2);
//! ```
//!
//! Multicast: [`Network::join`] a group address; a datagram sent to it
//! reaches every member through that member's own link, and
//! [`Network::set_group_link`] makes the multicast path to one member differ
//! from its unicast path. Networks mixing node types use
//! `Network<`[`BoxedNode`]`>` with [`Network::node_as`] to get nodes back
//! typed. Captures open in Wireshark ([`Network::write_pcap_file`]).
//!
//! # Design notes
//!
//! - **Clock.** `Network::new` reads `Instant::now()` once as the epoch;
//!   simulated time is a `u64` of nanoseconds since then. Traces and the
//!   digest use that number, never an `Instant`, so two runs compare equal.
//!   Timeouts more than 100 years out count as "no timeout".
//! - **Order.** Events run in time order. At equal times timers fire before
//!   packets arrive; timers in node order, packets in send order. A node's
//!   timeout in the past fires at the current time.
//! - **Polling.** After each event the node involved is drained
//!   (`poll_transmit` until `None`, then `poll_timeout`). Nodes borrowed via
//!   [`Network::node_mut`] are marked and drained at the start of the next
//!   step, so application calls can't be forgotten.
//! - **Links.** A link is identified by (sending node, source address,
//!   destination address or group, receiving node), so every path of a
//!   multihomed pair and every member of a group has its own queue, FIFO
//!   state and [`Stats`]. Its [`LinkConfig`] is resolved from the overrides
//!   (most specific first, see [`Network::set_link`]) when the link is
//!   created or an override changes, not per packet. The packet pipeline:
//!   MTU → bandwidth queue (drop-tail) → loss → duplication → reorder →
//!   delay + jitter. Lost packets did use the bandwidth; duplicates do
//!   not. Without jitter and reordering a link stays FIFO even when its
//!   delay is lowered mid-run.
//! - **Counting reorder.** `reordered` counts deliveries that arrive after
//!   a packet sent later on the same link, whatever caused it (reorder or
//!   jitter); it equals the number of inversions a receiver sees.
//! - **Determinism.** One xoshiro256** stream ([`SimRng`]) drawn in a fixed
//!   order; hash maps use a fixed hasher and are never iterated; everything
//!   iterated is a `Vec` or `BTreeMap`. The digest algorithm is fixed
//!   (a word-wise multiply-rotate hash, see `digest.rs`) and pinned by a
//!   test, as is the RNG's output.
//! - **Stuck nodes.** [`ZERO_PROGRESS_LIMIT`] consecutive timer firings
//!   without the node's timeout moving past now, or
//!   [`TRANSMIT_FLOOD_LIMIT`] datagrams from one drain, end the run with
//!   [`Stalled`] naming the node; every `run_*` call is also bounded by
//!   simulated time and a step count.
//! - **Cost.** A binary heap of `(arrival, seq)` keys over a slab of
//!   packets, no allocation per packet beyond what the node does, `Bytes`
//!   clones (reference counts) for duplicates and fan-out. Roughly
//!   100–160 ns per delivered packet in release builds on a shared 2-vCPU
//!   VM (`cargo bench -p mcsctp-sim --bench network`);
//!   [`Network::set_digest_payloads`]`(false)` skips hashing payload bytes.
//!
//! Test support beside the simulator: [`skip`] is how a test that needs
//! something outside the process (root, tshark, usrsctp) says it did not
//! run.

mod capture;
mod digest;
mod link;
mod network;
mod node;
mod rng;
pub mod skip;

pub use capture::{CapturedPacket, write_pcap_udp};
pub use link::{Endpoint, LinkConfig, Stats};
pub use network::{
    ConfigError, DEFAULT_STEP_LIMIT, Network, Stalled, TRANSMIT_FLOOD_LIMIT, ZERO_PROGRESS_LIMIT,
};
pub use node::{AnyNode, BoxedNode, Datagram, Node, NodeId};
pub use rng::SimRng;

/// The `text2pcap -t` format matching [`Network::write_text2pcap`]'s
/// timestamps.
pub const TEXT2PCAP_TIME_FORMAT: &str = capture::TEXT2PCAP_TIME_FORMAT;
