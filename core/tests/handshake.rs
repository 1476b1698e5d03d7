//! The four-way handshake (RFC 9260 §5.1) under loss of each of its
//! packets, its timers, the stale-cookie retry (§5.2.6), and the refusals
//! of malformed INIT and INIT ACK chunks (§3.3.2, §3.3.3, §3.2.1).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::script::{self, Wire};
use common::{DropRule, Pair, Z, addr};
use mcsctp_core::cause::{
    CauseCode, ErrorCause, InvalidMandatoryParameter, MissingMandatoryParameter, StaleCookie,
    UnresolvableAddress,
};
use mcsctp_core::chunk::{Chunk, ChunkType, InitAck, InitCommon};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::event::{CloseReason, Event};
use mcsctp_core::param::{
    HostNameAddress, ParamType, Params, RawParam, UnrecognizedParameter, WireParam,
};
use mcsctp_core::serial::{Tsn, VerificationTag};
use mcsctp_sim::LinkConfig;

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// A pair whose peers log what they send.
fn logged_pair(seed: u64, a: EndpointConfig, z: EndpointConfig) -> Pair {
    let mut p = Pair::new(seed, a, z);
    p.a().log = true;
    p.z().log = true;
    p
}

/// A connects to Z; returns when A and when Z reported Connected
/// (simulated time since the start).
fn connect_timed(p: &mut Pair) -> (Duration, Duration) {
    let now = p.net.now();
    p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    let (a, z) = (p.a, p.z);
    let at = p
        .run_until_both(|peer| !peer.connected().is_empty(), Duration::from_secs(60))
        .expect("handshake completes");
    assert_eq!(p.net.node(a).connected().len(), 1, "one Connected at A");
    assert_eq!(p.net.node(z).connected().len(), 1, "one Connected at Z");
    assert_eq!(p.net.node(a).ep.association_count(), 1);
    assert_eq!(p.net.node(z).ep.association_count(), 1);
    at
}

/// Send times (since the start) of `typ` packets by a peer.
fn send_times(p: &Pair, node: mcsctp_sim::NodeId, typ: ChunkType) -> Vec<Duration> {
    let start = p.net.start();
    p.net
        .node(node)
        .sent_first(typ)
        .iter()
        .map(|s| s.at - start)
        .collect()
}

#[test]
fn lost_init_is_retransmitted_after_rto_initial() {
    let mut p = logged_pair(1, EndpointConfig::default(), EndpointConfig::default());
    p.a().drops.push(DropRule::nth(ChunkType::INIT, 1));
    // A -> INIT (lost); T1-init expires after RTO.Initial = 1 s; A -> INIT -> Z ...
    let (a_up, z_up) = connect_timed(&mut p);
    assert_eq!(
        send_times(&p, p.a, ChunkType::INIT),
        vec![Duration::ZERO, SEC]
    );
    assert_eq!(z_up, SEC + 30 * MS);
    assert_eq!(a_up, SEC + 40 * MS);
}

#[test]
fn lost_init_ack_is_recovered_by_the_init_retransmission() {
    let mut p = logged_pair(2, EndpointConfig::default(), EndpointConfig::default());
    p.z().drops.push(DropRule::nth(ChunkType::INIT_ACK, 1));
    let (a_up, _) = connect_timed(&mut p);
    assert_eq!(
        send_times(&p, p.a, ChunkType::INIT),
        vec![Duration::ZERO, SEC]
    );
    // Z answered both INITs statelessly.
    assert_eq!(
        send_times(&p, p.z, ChunkType::INIT_ACK),
        vec![10 * MS, SEC + 10 * MS]
    );
    assert_eq!(a_up, SEC + 40 * MS);
}

#[test]
fn lost_cookie_echo_is_retransmitted_by_t1_cookie() {
    let mut p = logged_pair(3, EndpointConfig::default(), EndpointConfig::default());
    p.a().drops.push(DropRule::nth(ChunkType::COOKIE_ECHO, 1));
    let (a_up, z_up) = connect_timed(&mut p);
    // COOKIE ECHO at 20 ms (lost), T1-cookie = RTO.Initial later.
    assert_eq!(
        send_times(&p, p.a, ChunkType::COOKIE_ECHO),
        vec![20 * MS, SEC + 20 * MS]
    );
    assert_eq!(send_times(&p, p.a, ChunkType::INIT).len(), 1);
    assert_eq!(z_up, SEC + 30 * MS);
    assert_eq!(a_up, SEC + 40 * MS);
}

#[test]
fn lost_cookie_ack_is_recovered_by_the_cookie_echo_retransmission() {
    let mut p = logged_pair(4, EndpointConfig::default(), EndpointConfig::default());
    p.z().drops.push(DropRule::nth(ChunkType::COOKIE_ACK, 1));
    let (a_up, z_up) = connect_timed(&mut p);
    // Z is up as soon as the cookie is accepted; the retransmitted COOKIE
    // ECHO matches both tags (RFC 9260 §5.2.4 action D) and is answered by
    // another COOKIE ACK without a second association.
    assert_eq!(z_up, 30 * MS);
    assert_eq!(
        send_times(&p, p.a, ChunkType::COOKIE_ECHO),
        vec![20 * MS, SEC + 20 * MS]
    );
    assert_eq!(
        send_times(&p, p.z, ChunkType::COOKIE_ACK),
        vec![30 * MS, SEC + 30 * MS]
    );
    assert_eq!(a_up, SEC + 40 * MS);
}

#[test]
fn cookie_echo_retransmitted_past_the_cookie_lifetime_still_completes_the_handshake() {
    // Z accepted the first COOKIE ECHO, but its COOKIE ACKs keep getting
    // lost until A's retransmitted cookie is older than its lifetime. That
    // cookie matches both tags of Z's association (Table 2 row D): Z must
    // answer with COOKIE ACK, not refuse it as stale (which would leave A
    // in COOKIE-ECHOED forever against an association that is up).
    let mut z_cfg = EndpointConfig::default();
    z_cfg.cookie_lifetime = Duration::from_secs(2);
    z_cfg.cookie_secret_rotation = Duration::from_secs(2);
    let mut p = logged_pair(40, EndpointConfig::default(), z_cfg);
    for n in 1..=3 {
        p.z().drops.push(DropRule::nth(ChunkType::COOKIE_ACK, n));
    }
    let (a_up, z_up) = connect_timed(&mut p);
    assert_eq!(z_up, 30 * MS);
    // COOKIE ECHOs at 20 ms, +1 s, +2 s, +4 s (RTO doubling): the last two
    // are past the 2 s lifetime.
    assert_eq!(
        send_times(&p, p.a, ChunkType::COOKIE_ECHO),
        vec![20 * MS, SEC + 20 * MS, 3 * SEC + 20 * MS, 7 * SEC + 20 * MS]
    );
    assert_eq!(a_up, 7 * SEC + 40 * MS);
    assert!(
        send_times(&p, p.z, ChunkType::ERROR).is_empty(),
        "no Stale Cookie error for a duplicate cookie"
    );
}

#[test]
fn cookie_echo_retransmitted_after_the_secret_rotated_still_completes_the_handshake() {
    // Z's COOKIE ACKs to the first six COOKIE ECHOs (0 s to 31 s) are
    // lost; the seventh (63 s) arrives after Z changed its cookie secret
    // twice (every 10 s here, at its heartbeat timers), when the secret
    // that signed the cookie is gone. Z must still recognise its own
    // association's cookie and answer it, and A must answer Z's heartbeats
    // meanwhile (§8.3), or Z gives up on A while A gives up on the
    // handshake: the livelock the bulk tier once hid behind RTO.Max = 10 s.
    let mut z_cfg = EndpointConfig::default();
    z_cfg.cookie_lifetime = 10 * SEC;
    z_cfg.cookie_secret_rotation = 10 * SEC;
    let mut p = logged_pair(41, EndpointConfig::default(), z_cfg);
    for n in 1..=6 {
        p.z().drops.push(DropRule::nth(ChunkType::COOKIE_ACK, n));
    }
    let now = p.net.now();
    p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    let (a_up, z_up) = p
        .run_until_both(|peer| !peer.connected().is_empty(), 600 * SEC)
        .expect("handshake completes");
    assert_eq!(z_up, 30 * MS);
    let echoes = send_times(&p, p.a, ChunkType::COOKIE_ECHO);
    assert_eq!(echoes.len(), 7, "{echoes:?}");
    assert!(echoes[6] > 60 * SEC, "{echoes:?}");
    assert_eq!(a_up, echoes[6] + 20 * MS);
    // Z's heartbeats were answered while A was in COOKIE-ECHOED.
    let hb_acks = send_times(&p, p.a, ChunkType::HEARTBEAT_ACK);
    assert!(
        hb_acks.iter().any(|&t| t < a_up),
        "A answered no HEARTBEAT before it was up: {hb_acks:?}"
    );
    assert!(p.z().closed().is_empty(), "Z gave up: {:?}", p.z().closed());
    // And data flows.
    let (a, z) = (p.a, p.z);
    let h = p.net.node(a).connected()[0];
    let now = p.net.now();
    p.a().send_simple(now, h, Bytes::from_static(b"after all"));
    p.net
        .run_until_cond(|n| !n.node(z).received.is_empty(), 10 * SEC)
        .expect("delivered");
}

#[test]
fn t1_init_doubles_and_gives_up_after_max_init_retransmits() {
    let mut a_cfg = EndpointConfig::default();
    a_cfg.association.max_init_retransmits = 3;
    let mut p = logged_pair(5, a_cfg, EndpointConfig::default());
    let (a, z) = (p.a, p.z);
    p.net.set_link(a, z, LinkConfig::DEFAULT.cut());
    let now = p.net.now();
    let h = p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    p.net
        .run_until_cond(|n| !n.node(a).closed().is_empty(), Duration::from_secs(60))
        .expect("gives up");
    // INIT at 0, then after 1, 2 and 4 s (RFC 9260 §6.3.3 E2 backoff): one
    // original and Max.Init.Retransmits = 3 retransmissions; the fourth
    // expiry (8 s later) ends the attempt.
    assert_eq!(
        send_times(&p, a, ChunkType::INIT),
        vec![Duration::ZERO, SEC, 3 * SEC, 7 * SEC]
    );
    assert_eq!(p.net.elapsed(), 15 * SEC);
    assert_eq!(
        p.net.node(a).closed(),
        vec![&Event::Closed {
            association: h,
            reason: CloseReason::HandshakeTimeout,
            unsent_messages: 0,
        }]
    );
    assert_eq!(p.net.node(a).ep.association_count(), 0);
}

#[test]
fn t1_cookie_gives_up_after_max_init_retransmits() {
    let mut a_cfg = EndpointConfig::default();
    a_cfg.association.max_init_retransmits = 2;
    let mut p = logged_pair(6, a_cfg, EndpointConfig::default());
    for n in 1..=3 {
        p.a().drops.push(DropRule::nth(ChunkType::COOKIE_ECHO, n));
    }
    let a = p.a;
    let now = p.net.now();
    p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    p.net
        .run_until_cond(|n| !n.node(a).closed().is_empty(), Duration::from_secs(60))
        .expect("gives up");
    assert_eq!(
        send_times(&p, a, ChunkType::COOKIE_ECHO),
        vec![20 * MS, SEC + 20 * MS, 3 * SEC + 20 * MS]
    );
    assert!(matches!(
        p.net.node(a).closed()[0],
        Event::Closed {
            reason: CloseReason::HandshakeTimeout,
            ..
        }
    ));
}

#[test]
fn stale_cookie_is_retried_with_a_cookie_preservative() {
    // Z's cookies live 10 ms; the COOKIE ECHO reaches Z 20 ms after Z
    // made the cookie.
    let mut z_cfg = EndpointConfig::default();
    z_cfg.cookie_lifetime = 10 * MS;
    let mut p = logged_pair(7, EndpointConfig::default(), z_cfg);
    let (a_up, _) = connect_timed(&mut p);

    // Z -> ERROR (Stale Cookie, 10 ms too old) -> A, tagged with A's tag.
    let errs = p.net.node(p.z).sent_first(ChunkType::ERROR);
    assert_eq!(errs.len(), 1);
    let pkt = errs[0].packet();
    let a_tag = {
        let inits = p.net.node(p.a).sent_first(ChunkType::INIT);
        let Ok(Chunk::Init(i)) = Chunk::parse(inits[0].packet().chunks().next().expect("chunk"))
        else {
            panic!("INIT");
        };
        i.initiate_tag
    };
    assert_eq!(pkt.header().verification_tag, a_tag);
    let Ok(Chunk::Error(e)) = Chunk::parse(pkt.chunks().next().expect("chunk")) else {
        panic!("ERROR");
    };
    let causes: Vec<_> = e.causes.typed().map(Result::unwrap).collect();
    assert_eq!(
        causes,
        vec![ErrorCause::StaleCookie(StaleCookie {
            staleness_us: 10_000
        })]
    );

    // A -> INIT with Cookie Preservative -> Z. The increment is the
    // staleness plus the measured COOKIE ECHO / ERROR round trip (20 ms):
    // 30 ms, within RFC 9260 §5.2.6's "no more than 1 second beyond the
    // measured RTT".
    let inits = p.net.node(p.a).sent_first(ChunkType::INIT);
    assert_eq!(inits.len(), 2);
    assert_eq!(inits[1].at - p.net.start(), 40 * MS);
    let raw = inits[1].packet().chunks().next().expect("chunk");
    let Ok(Chunk::Init(init)) = Chunk::parse(raw) else {
        panic!("INIT");
    };
    let pres = init
        .params
        .iter()
        .find(|p| p.typ == ParamType::COOKIE_PRESERVATIVE)
        .expect("Cookie Preservative present");
    // Type 9, length 8, Suggested Cookie Life-Span Increment 30 ms.
    assert_eq!(&pres.to_bytes()[..], &[0, 9, 0, 8, 0, 0, 0, 30]);
    // The first INIT had none.
    let raw = p.net.node(p.a).sent_first(ChunkType::INIT)[0]
        .packet()
        .chunks()
        .next()
        .expect("chunk");
    let Ok(Chunk::Init(first)) = Chunk::parse(raw) else {
        panic!("INIT");
    };
    assert!(!first.params.contains(ParamType::COOKIE_PRESERVATIVE));
    // Z honoured it: the second cookie (20 ms old, 10 + 30 ms of life) is
    // accepted.
    assert_eq!(a_up, 80 * MS);
    assert_eq!(p.net.node(p.z).ep.stats().cookies_refused, 1);
}

// ----- malformed INIT / INIT ACK, against a scripted peer -------------------

fn abort_of(out: &script::Out) -> (bool, Vec<ErrorCause>) {
    let Chunk::Abort(a) = out.only() else {
        panic!("ABORT expected, got {:?}", out.types());
    };
    (a.reflected_tag, out.causes())
}

#[test]
fn init_with_host_name_address_is_aborted_with_unresolvable_address() {
    let mut w = Wire::with_defaults();
    let host = HostNameAddress::new("peer.example");
    let init = script::init(0x1111, 1, Params::builder().with(&host).build());
    w.send(0, &[Chunk::Init(init)]);
    let out = w.out_one();
    // RFC 9260 §8.4 (3): the ABORT carries the INIT's Initiate Tag, T bit
    // clear.
    assert_eq!(out.tag(), 0x1111);
    let (t, causes) = abort_of(&out);
    assert!(!t);
    let mut whole = Vec::new();
    host.write(&mut whole);
    assert_eq!(
        causes,
        vec![ErrorCause::UnresolvableAddress(UnresolvableAddress {
            address: Bytes::from(whole)
        })]
    );
    assert_eq!(w.ep.association_count(), 0);
}

#[test]
fn init_with_zero_initiate_tag_is_silently_discarded() {
    let mut w = Wire::with_defaults();
    w.send(0, &[Chunk::Init(script::init(0, 1, Params::empty()))]);
    assert!(w.out().is_empty());
    assert_eq!(w.ep.stats().init_acks_sent, 0);
}

#[test]
fn init_with_zero_stream_counts_is_aborted_with_invalid_mandatory_parameter() {
    let mut w = Wire::with_defaults();
    for (os, mis) in [(0, 16), (16, 0)] {
        let mut init = script::init(0x2222, 1, Params::empty());
        init.outbound_streams = os;
        init.inbound_streams = mis;
        w.send(0, &[Chunk::Init(init)]);
        let out = w.out_one();
        assert_eq!(out.tag(), 0x2222);
        let (t, causes) = abort_of(&out);
        assert!(!t);
        assert_eq!(
            causes,
            vec![ErrorCause::InvalidMandatoryParameter(
                InvalidMandatoryParameter
            )]
        );
    }
    assert_eq!(w.ep.association_count(), 0);
}

#[test]
fn init_ack_without_state_cookie_is_aborted_with_missing_mandatory_parameter() {
    let mut w = Wire::with_defaults();
    let h =
        w.ep.connect(w.now, w.remote, script::SCRIPT_PORT)
            .expect("connect");
    let Chunk::Init(init) = w.out_one().only().clone() else {
        panic!("INIT");
    };
    let ack = InitAck(InitCommon {
        initiate_tag: VerificationTag(0x3333),
        a_rwnd: 65536,
        outbound_streams: 4,
        inbound_streams: 4,
        initial_tsn: Tsn(9),
        params: Params::empty(),
    });
    w.send(init.initiate_tag.0, &[Chunk::InitAck(ack)]);
    let out = w.out_one();
    assert_eq!(out.tag(), 0x3333, "the INIT ACK's Initiate Tag");
    let (t, causes) = abort_of(&out);
    assert!(!t);
    assert_eq!(
        causes,
        vec![ErrorCause::MissingMandatoryParameter(
            MissingMandatoryParameter::new(&[ParamType::STATE_COOKIE])
        )]
    );
    assert!(w.take_events().iter().any(|e| matches!(
        e,
        Event::Closed { association, reason: CloseReason::ProtocolError(c), .. }
            if *association == h && c.code() == CauseCode::MISSING_MANDATORY_PARAMETER
    )));
    assert_eq!(w.ep.association_count(), 0);
}

fn unknown_param(typ: u16) -> RawParam {
    RawParam {
        typ: ParamType(typ),
        value: Bytes::from(typ.to_be_bytes().repeat(3)),
    }
}

fn params(list: &[RawParam]) -> Params {
    let mut b = Params::builder();
    for p in list {
        b = b.with_raw(p);
    }
    b.build()
}

#[test]
fn unrecognized_init_parameters_with_report_bits_come_back_in_the_init_ack() {
    // RFC 9260 §3.2.1: 10 skip, 11 skip and report, 01 stop and report
    // (what follows it is not looked at), 00 stop silently.
    for (list, reported) in [
        (vec![0x8f01, 0xcf01, 0x4f01, 0xcf02], vec![0xcf01, 0x4f01]),
        (vec![0xcf01, 0x0f01, 0xcf02], vec![0xcf01]),
    ] {
        let mut w = Wire::with_defaults();
        let sent: Vec<RawParam> = list.iter().map(|&t| unknown_param(t)).collect();
        w.send(0, &[Chunk::Init(script::init(0x4444, 1, params(&sent)))]);
        let out = w.out_one();
        let Chunk::InitAck(ack) = out.only() else {
            panic!("INIT ACK");
        };
        let echoed: Vec<RawParam> = ack
            .params
            .iter()
            .filter(|p| p.typ == ParamType::UNRECOGNIZED_PARAMETER)
            .map(|p| {
                UnrecognizedParameter::from_raw(&p)
                    .expect("parses")
                    .param()
                    .expect("wraps a whole parameter")
            })
            .collect();
        let expected: Vec<RawParam> = reported.iter().map(|&t| unknown_param(t)).collect();
        assert_eq!(echoed, expected, "INIT listing {list:x?}");
        // The association still comes up.
        let cookie = ack.state_cookie().expect("cookie").expect("parses").0;
        w.send(
            ack.initiate_tag.0,
            &[Chunk::CookieEcho(mcsctp_core::chunk::CookieEcho { cookie })],
        );
        assert_eq!(w.out_one().types(), vec![ChunkType::COOKIE_ACK]);
    }
}

#[test]
fn parameters_after_an_unrecognized_stop_parameter_do_not_negotiate_anything() {
    // RFC 9260 §3.2.1 "01 - Stop processing this parameter, do not process
    // any further parameters within this chunk": I-DATA listed after such
    // a parameter is not negotiated; listed before it, it is.
    use mcsctp_core::endpoint::SendOptions;
    use mcsctp_core::param::{ForwardTsnSupported, SupportedExtensions, WireParam};
    use mcsctp_core::serial::{Ppid, StreamId};
    let exts = SupportedExtensions::new(&[
        ChunkType::FORWARD_TSN,
        ChunkType::IDATA,
        ChunkType::IFORWARD_TSN,
    ])
    .to_raw();
    let ftsn = ForwardTsnSupported.to_raw();
    let stop = unknown_param(0x4f01);
    for (list, idata) in [
        (vec![stop.clone(), exts.clone(), ftsn.clone()], false),
        (vec![exts, ftsn, stop], true),
    ] {
        let mut w = Wire::with_defaults();
        w.send(0, &[Chunk::Init(script::init(0x4444, 1, params(&list)))]);
        let out = w.out_one();
        let Chunk::InitAck(ack) = out.only() else {
            panic!("INIT ACK");
        };
        let cookie = ack.state_cookie().expect("cookie").expect("parses").0;
        w.send(
            ack.initiate_tag.0,
            &[Chunk::CookieEcho(mcsctp_core::chunk::CookieEcho { cookie })],
        );
        assert_eq!(w.out_one().types(), vec![ChunkType::COOKIE_ACK]);
        let h = w.connected().expect("association");
        let now = w.now;
        w.ep.send(
            now,
            h,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"x"),
            SendOptions::default(),
        )
        .expect("send");
        let want = if idata {
            ChunkType::IDATA
        } else {
            ChunkType::DATA
        };
        assert_eq!(
            w.out_one().types(),
            vec![want],
            "I-DATA negotiated: {idata}"
        );
    }
}

#[test]
fn unrecognized_init_ack_parameters_are_reported_with_the_cookie_echo() {
    let mut w = Wire::with_defaults();
    w.ep.connect(w.now, w.remote, script::SCRIPT_PORT)
        .expect("connect");
    let Chunk::Init(init) = w.out_one().only().clone() else {
        panic!("INIT");
    };
    let extra = [
        unknown_param(0xcf01),
        unknown_param(0x8f01),
        unknown_param(0x4f01),
        unknown_param(0xcf02),
    ];
    let ack = script::init_ack(0x5555, 77, b"opaque cookie", params(&extra));
    w.send(init.initiate_tag.0, &[Chunk::InitAck(ack)]);
    let out = w.out_one();
    // RFC 9260 §3.2.2: the ERROR is bundled with, and after, the COOKIE ECHO.
    assert_eq!(out.types(), vec![ChunkType::COOKIE_ECHO, ChunkType::ERROR]);
    assert_eq!(out.tag(), 0x5555);
    let mut listed = Vec::new();
    for p in [&extra[0], &extra[2]] {
        p.write(&mut listed);
    }
    assert_eq!(
        out.causes(),
        vec![ErrorCause::UnrecognizedParameters(
            mcsctp_core::cause::UnrecognizedParameters {
                params: Bytes::from(listed)
            }
        )]
    );
}

#[test]
fn peer_can_reconnect_while_the_closed_association_still_holds_unread_messages() {
    let mut p = Pair::with_defaults(8);
    let (ha, hz_old) = p.connect();
    p.z().auto_recv = false;
    let now = p.net.now();
    p.a()
        .ep
        .send(
            now,
            ha,
            mcsctp_core::serial::StreamId(0),
            mcsctp_core::serial::Ppid(0),
            Bytes::from_static(b"unread"),
            mcsctp_core::endpoint::SendOptions::default(),
        )
        .expect("send");
    p.a().ep.close(now, ha).expect("close");
    let (a, z) = (p.a, p.z);
    p.net
        .run_until_cond(
            |n| !n.node(a).closed().is_empty() && !n.node(z).closed().is_empty(),
            Duration::from_secs(10),
        )
        .expect("closed");
    // Z's application has not read the message: the old association is
    // gone as far as the protocol is concerned, but its delivery waits.
    assert_eq!(p.z().ep.association_state(hz_old), Some("CLOSED"));
    // A connects again, and gets a new association.
    p.a().events.clear();
    p.z().events.clear();
    let now = p.net.now();
    let ha2 = p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    assert_ne!(ha2, ha);
    p.net
        .run_until_cond(
            |n| !n.node(a).connected().is_empty() && !n.node(z).connected().is_empty(),
            Duration::from_secs(10),
        )
        .expect("a new association comes up");
    let hz_new = p.net.node(z).connected()[0];
    assert_ne!(hz_new, hz_old);
    // The old message is still there, on the old handle.
    let r = p.z().ep.poll_recv().expect("the old message");
    assert_eq!(r.association, hz_old);
    assert_eq!(r.delivery.payload, &b"unread"[..]);
    assert_eq!(p.z().ep.association_count(), 1);
}

#[test]
fn init_refused_with_abort_ends_the_attempt() {
    // Z takes no incoming associations: its ABORT carries A's Initiate Tag
    // with the T bit clear (RFC 9260 §8.4 (3)), which A accepts in
    // COOKIE-WAIT.
    let mut z_cfg = EndpointConfig::default();
    z_cfg.accept_incoming = false;
    let mut p = logged_pair(9, EndpointConfig::default(), z_cfg);
    let a = p.a;
    let now = p.net.now();
    let h = p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    p.net
        .run_until_cond(|n| !n.node(a).closed().is_empty(), Duration::from_secs(5))
        .expect("refused");
    assert_eq!(p.net.elapsed(), 20 * MS);
    assert_eq!(
        p.net.node(a).closed(),
        vec![&Event::Closed {
            association: h,
            reason: CloseReason::AbortedByPeer(vec![]),
            unsent_messages: 0,
        }]
    );
    assert_eq!(send_times(&p, a, ChunkType::INIT).len(), 1);
}

#[test]
fn init_ack_with_zero_initiate_tag_ends_the_attempt() {
    // RFC 9260 §3.3.3: "If the value of the Initiate Tag in a received INIT
    // ACK chunk is found to be 0, the receiver MUST destroy the association
    // discarding its TCB. The receiver MAY send an ABORT for debugging
    // purpose." Having no peer tag to use, the ABORT reflects our own (T bit).
    let mut w = Wire::with_defaults();
    let h =
        w.ep.connect(w.now, w.remote, script::SCRIPT_PORT)
            .expect("connect");
    let Chunk::Init(init) = w.out_one().only().clone() else {
        panic!("INIT");
    };
    let ack = script::init_ack(0, 5, b"cookie", Params::empty());
    w.send(init.initiate_tag.0, &[Chunk::InitAck(ack)]);
    for out in w.out() {
        let (t, _) = abort_of(&out);
        assert!(t);
        assert_eq!(out.tag(), init.initiate_tag.0);
    }
    assert!(w.take_events().iter().any(|e| matches!(
        e,
        Event::Closed { association, reason: CloseReason::ProtocolError(c), .. }
            if *association == h && c.code() == CauseCode::INVALID_MANDATORY_PARAMETER
    )));
    assert_eq!(w.ep.association_count(), 0);
}

#[test]
fn cookies_that_stay_stale_end_the_attempt_after_max_init_retransmits() {
    // Z's cookies live 10 ms and it grants no Cookie Preservative: every
    // cookie arrives stale. RFC 9260 §5.2.6 leaves the retry open; A counts
    // the retries against Max.Init.Retransmits instead of looping forever.
    let mut a_cfg = EndpointConfig::default();
    a_cfg.association.max_init_retransmits = 3;
    let mut z_cfg = EndpointConfig::default();
    z_cfg.cookie_lifetime = 10 * MS;
    z_cfg.max_cookie_preservative = Duration::ZERO;
    let mut p = logged_pair(10, a_cfg, z_cfg);
    let a = p.a;
    let now = p.net.now();
    let h = p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    p.net
        .run_until_cond(|n| !n.node(a).closed().is_empty(), Duration::from_secs(60))
        .expect("gives up");
    // The first INIT and three retries, each answered with Stale Cookie.
    assert_eq!(send_times(&p, a, ChunkType::INIT).len(), 4);
    assert_eq!(p.net.node(p.z).sent_first(ChunkType::ERROR).len(), 4);
    assert_eq!(
        p.net.node(a).closed(),
        vec![&Event::Closed {
            association: h,
            reason: CloseReason::HandshakeTimeout,
            unsent_messages: 0,
        }]
    );
}
