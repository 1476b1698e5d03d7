//! A scripted peer: it crafts packets with the codec, feeds them straight
//! into one [`Endpoint`] and parses what the endpoint answers. Two real
//! endpoints never produce the odd packets (a late cookie, a restarted
//! peer's INIT, a chunk with a made-up type) on demand; a script does, and
//! can then read every field of the reply.
//!
//! Time is explicit: `now` moves only through [`Wire::advance`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mcsctp_core::cause::ErrorCause;
use mcsctp_core::chunk::{
    Chunk, ChunkType, CookieAck, CookieEcho, Data, DataFlags, Init, InitAck, InitCommon, RawChunk,
    WireChunk,
};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::Endpoint;
use mcsctp_core::event::{AssociationHandle, Event};
use mcsctp_core::packet::{CommonHeader, Packet, build_packet};
use mcsctp_core::param::{Params, StateCookie};
use mcsctp_core::serial::{Ppid, Ssn, StreamId, Tsn, VerificationTag};

/// The endpoint under test.
pub const EP: &str = "10.0.0.1:9899";
/// The script.
pub const SCRIPT: &str = "10.0.0.2:9899";
/// The script's SCTP port.
pub const SCRIPT_PORT: u16 = 5000;

/// One packet the endpoint sent.
#[derive(Debug, Clone)]
pub struct Out {
    pub to: SocketAddr,
    pub header: CommonHeader,
    pub chunks: Vec<Chunk>,
    pub raw: Vec<RawChunk>,
    pub at: Instant,
}

impl Out {
    pub fn types(&self) -> Vec<ChunkType> {
        self.raw.iter().map(|c| c.typ).collect()
    }

    pub fn tag(&self) -> u32 {
        self.header.verification_tag.0
    }

    /// The packet's only chunk.
    pub fn only(&self) -> &Chunk {
        assert_eq!(
            self.chunks.len(),
            1,
            "one chunk expected in {:?}",
            self.types()
        );
        &self.chunks[0]
    }

    /// Causes of every ERROR and ABORT chunk in the packet.
    pub fn causes(&self) -> Vec<ErrorCause> {
        self.chunks
            .iter()
            .flat_map(|c| match c {
                Chunk::Error(e) => e.causes.typed().map(|c| c.expect("cause")).collect(),
                Chunk::Abort(a) => a.causes.typed().map(|c| c.expect("cause")).collect(),
                _ => Vec::new(),
            })
            .collect()
    }
}

/// What a scripted association knows.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// The script's own tag: what the endpoint puts in its packets.
    pub my_tag: u32,
    /// The endpoint's tag: what the script puts in its packets.
    pub ep_tag: u32,
    /// The script's next TSN.
    pub next_tsn: Tsn,
    /// The endpoint's initial TSN.
    pub ep_tsn: Tsn,
    /// The association's handle at the endpoint.
    pub handle: AssociationHandle,
}

impl Session {
    /// A complete DATA chunk carrying `payload` with the next TSN.
    pub fn data(&mut self, stream: u16, ssn: u16, payload: &[u8]) -> Chunk {
        let tsn = self.next_tsn;
        self.next_tsn = tsn.next();
        data(tsn, stream, ssn, payload)
    }
}

/// A complete (B and E) DATA chunk.
pub fn data(tsn: Tsn, stream: u16, ssn: u16, payload: &[u8]) -> Chunk {
    Chunk::Data(Data {
        flags: DataFlags::COMPLETE,
        tsn,
        stream: StreamId(stream),
        ssn: Ssn(ssn),
        ppid: Ppid(0),
        user_data: Bytes::copy_from_slice(payload),
    })
}

/// An INIT as a script sends it.
pub fn init(tag: u32, tsn: u32, params: Params) -> Init {
    Init(InitCommon {
        initiate_tag: VerificationTag(tag),
        a_rwnd: 1 << 20,
        outbound_streams: 16,
        inbound_streams: 16,
        initial_tsn: Tsn(tsn),
        params,
    })
}

/// An INIT ACK as a script sends it, with `cookie` as its State Cookie.
pub fn init_ack(tag: u32, tsn: u32, cookie: &[u8], more: Params) -> InitAck {
    let mut p = Params::builder().with(&StateCookie(Bytes::copy_from_slice(cookie)));
    for raw in more.iter() {
        p = p.with_raw(&raw);
    }
    InitAck(InitCommon {
        initiate_tag: VerificationTag(tag),
        a_rwnd: 1 << 20,
        outbound_streams: 16,
        inbound_streams: 16,
        initial_tsn: Tsn(tsn),
        params: p.build(),
    })
}

/// The tie-tags a State Cookie carries. The cookie is signed, not
/// encrypted; `core/src/cookie.rs` documents its layout (local tie-tag at
/// byte 40, peer's tie-tag at byte 44). Tests read them because RFC 9260
/// keeps tie-tags out of every other field on the wire.
pub fn cookie_tie_tags(cookie: &[u8]) -> (u32, u32) {
    let be =
        |o: usize| u32::from_be_bytes([cookie[o], cookie[o + 1], cookie[o + 2], cookie[o + 3]]);
    (be(40), be(44))
}

/// The endpoint under test, driven by hand.
pub struct Wire {
    pub ep: Endpoint,
    pub start: Instant,
    pub now: Instant,
    /// The endpoint's address.
    pub local: SocketAddr,
    /// The script's address.
    pub remote: SocketAddr,
    pub events: Vec<Event>,
    buf: Vec<u8>,
}

impl Wire {
    pub fn new(cfg: EndpointConfig) -> Self {
        // Any instant will do as the epoch: time moves only by `advance`.
        #[allow(clippy::disallowed_methods)]
        let start = Instant::now();
        Self {
            ep: Endpoint::new(cfg, start).expect("valid config"),
            start,
            now: start,
            local: EP.parse().expect("address"),
            remote: SCRIPT.parse().expect("address"),
            events: Vec::new(),
            buf: Vec::new(),
        }
    }

    pub fn with_defaults() -> Self {
        Self::new(EndpointConfig::with_seed(7))
    }

    /// The endpoint's SCTP port.
    pub fn port(&self) -> u16 {
        self.ep.config().port
    }

    /// A header from the script to the endpoint.
    pub fn header(&self, tag: u32) -> CommonHeader {
        CommonHeader {
            src_port: SCRIPT_PORT,
            dst_port: self.port(),
            verification_tag: VerificationTag(tag),
        }
    }

    /// Sends a packet of `chunks` tagged `tag` from the script's address.
    pub fn send(&mut self, tag: u32, chunks: &[Chunk]) {
        let bytes = build_packet(self.header(tag), chunks).expect("builds");
        self.send_bytes(self.remote, bytes);
    }

    /// Delivers raw bytes from `from` to the endpoint's address.
    pub fn send_bytes(&mut self, from: SocketAddr, bytes: Vec<u8>) {
        self.ep
            .handle_datagram(self.now, self.local, from, Bytes::from(bytes));
        self.drain_events();
    }

    /// Every packet the endpoint wants to send now.
    pub fn out(&mut self) -> Vec<Out> {
        let mut v = Vec::new();
        loop {
            self.buf.clear();
            let Some(t) = self.ep.poll_transmit(self.now, &mut self.buf) else {
                break;
            };
            let bytes = Bytes::copy_from_slice(&self.buf[..t.len]);
            let p = Packet::parse(bytes).expect("the endpoint sends valid packets");
            let raw: Vec<RawChunk> = p.chunks().collect();
            let chunks = raw
                .iter()
                .map(|c| Chunk::parse(c.clone()).expect("chunk parses"))
                .collect();
            v.push(Out {
                to: t.destination,
                header: *p.header(),
                chunks,
                raw,
                at: self.now,
            });
        }
        self.drain_events();
        v
    }

    /// The one packet the endpoint sends now.
    pub fn out_one(&mut self) -> Out {
        let mut v = self.out();
        assert_eq!(
            v.len(),
            1,
            "one packet expected, got {:?}",
            v.iter().map(Out::types).collect::<Vec<_>>()
        );
        v.remove(0)
    }

    /// Moves time on by `d`, firing every timer due on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.ep.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.ep.handle_timeout(self.now);
        }
        self.now = end;
        self.ep.handle_timeout(self.now);
        self.drain_events();
    }

    /// Moves time on by `d` collecting what is sent on the way (at the
    /// instant it is sent).
    pub fn advance_collect(&mut self, d: Duration) -> Vec<Out> {
        let end = self.now + d;
        let mut v = self.out();
        while let Some(t) = self.ep.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.ep.handle_timeout(self.now);
            v.extend(self.out());
        }
        self.now = end;
        self.ep.handle_timeout(self.now);
        v.extend(self.out());
        v
    }

    pub fn drain_events(&mut self) {
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
    }

    /// Takes the events seen so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.drain_events();
        std::mem::take(&mut self.events)
    }

    /// The script connects (it is the client): INIT, INIT ACK, COOKIE ECHO,
    /// COOKIE ACK. Returns what both sides know.
    pub fn accept(&mut self, init: Init) -> Session {
        let my_tag = init.initiate_tag.0;
        let next_tsn = init.initial_tsn;
        // script -> INIT -> endpoint
        self.send(0, &[Chunk::Init(init)]);
        // endpoint -> INIT ACK -> script
        let out = self.out_one();
        assert_eq!(out.tag(), my_tag);
        let Chunk::InitAck(ack) = out.only().clone() else {
            panic!("INIT ACK expected, got {:?}", out.types());
        };
        let cookie = ack
            .state_cookie()
            .expect("cookie")
            .expect("cookie parses")
            .0;
        // script -> COOKIE ECHO -> endpoint
        self.send(
            ack.initiate_tag.0,
            &[Chunk::CookieEcho(CookieEcho { cookie })],
        );
        // endpoint -> COOKIE ACK -> script
        let out = self.out_one();
        assert_eq!(out.types(), vec![ChunkType::COOKIE_ACK]);
        assert_eq!(out.tag(), my_tag);
        let handle = self.connected().expect("connected");
        Session {
            my_tag,
            ep_tag: ack.initiate_tag.0,
            next_tsn,
            ep_tsn: ack.initial_tsn,
            handle,
        }
    }

    /// The endpoint connects to the script, which answers with `init_ack`'s
    /// tag and parameters and then a COOKIE ACK.
    pub fn connect(&mut self, ack: InitAck) -> Session {
        let handle = self
            .ep
            .connect(self.now, self.remote, SCRIPT_PORT)
            .expect("connect");
        // endpoint -> INIT -> script
        let out = self.out_one();
        assert_eq!(out.tag(), 0);
        let Chunk::Init(init) = out.only().clone() else {
            panic!("INIT expected, got {:?}", out.types());
        };
        let my_tag = ack.initiate_tag.0;
        let next_tsn = ack.initial_tsn;
        // script -> INIT ACK -> endpoint
        self.send(init.initiate_tag.0, &[Chunk::InitAck(ack)]);
        // endpoint -> COOKIE ECHO -> script
        let out = self.out_one();
        assert_eq!(out.types()[0], ChunkType::COOKIE_ECHO);
        assert_eq!(out.tag(), my_tag);
        // script -> COOKIE ACK -> endpoint
        self.send(init.initiate_tag.0, &[Chunk::CookieAck(CookieAck)]);
        assert_eq!(self.connected(), Some(handle));
        Session {
            my_tag,
            ep_tag: init.initiate_tag.0,
            next_tsn,
            ep_tsn: init.initial_tsn,
            handle,
        }
    }

    /// The last association that reported Connected.
    pub fn connected(&self) -> Option<AssociationHandle> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Connected { association, .. } => Some(*association),
            _ => None,
        })
    }

    pub fn state(&self, h: AssociationHandle) -> Option<&'static str> {
        self.ep.association_state(h)
    }
}

/// A raw chunk of any type, for unknown and deliberately broken chunks.
pub fn raw_chunk(typ: u8, flags: u8, value: &[u8]) -> Chunk {
    Chunk::Unknown(RawChunk {
        typ: ChunkType(typ),
        flags,
        value: Bytes::copy_from_slice(value),
    })
}

/// The bytes of a chunk as it sits in a packet (header and value, no
/// padding): what an Unrecognized Chunk Type cause carries.
pub fn chunk_bytes<C: WireChunk>(c: &C) -> Vec<u8> {
    let mut v = Vec::new();
    c.write(&mut v);
    v.truncate(c.encoded_len());
    v
}
