//! Initialization collisions, RFC 9260 §5.2: INIT in COOKIE-WAIT and
//! COOKIE-ECHOED (§5.2.1), unexpected INIT in the other states (§5.2.2,
//! §9.2), unexpected INIT ACK (§5.2.3), every row of the COOKIE ECHO table
//! of §5.2.4 (Table 2), duplicate COOKIE ACK (§5.2.5), and simultaneous
//! open and peer restart between two real endpoints.
//!
//! Tie-tags are as RFC 9260 defines them: random values kept in the TCB and
//! copied into the cookie, never the verification tags themselves. Table 2
//! compares the cookie's tags and tie-tags against the TCB:
//!
//! ```text
//!  Local Tag | Peer's Tag | Local-Tie-Tag | Peer's-Tie-Tag | Action
//!      X     |     X      |       M       |       M        |  (A) restart
//!      M     |     X      |       A       |       A        |  (B) collision
//!      M     |     0      |       A       |       A        |  (B) collision
//!      X     |     M      |       0       |       0        |  (C) late cookie
//!      M     |     M      |       A       |       A        |  (D) duplicate
//!  X: does not match the TCB, M: matches, 0: none, A: any.
//!  Any other combination: silently discard.
//! ```

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;
use common::script::{self, Out, Session, Wire, cookie_tie_tags};
use common::{A, Pair, Z, addr};
use mcsctp_core::cause::{CookieReceivedWhileShuttingDown, ErrorCause, RestartWithNewAddresses};
use mcsctp_core::chunk::{Chunk, ChunkType, CookieAck, CookieEcho, InitAck, Shutdown};
use mcsctp_core::config::EndpointConfig;
use mcsctp_core::endpoint::{Endpoint, SendOptions};
use mcsctp_core::event::Event;
use mcsctp_core::param::{Ipv4Address, Params, WireParam};
use mcsctp_core::serial::{Ppid, StreamId, Tsn};

const SEC: Duration = Duration::from_secs(1);

fn init_ack_of(out: &Out) -> InitAck {
    match out.only() {
        Chunk::InitAck(a) => a.clone(),
        _ => panic!("INIT ACK expected, got {:?}", out.types()),
    }
}

fn cookie_of(ack: &InitAck) -> Bytes {
    ack.state_cookie().expect("cookie").expect("parses").0
}

fn echo(cookie: Bytes) -> Chunk {
    Chunk::CookieEcho(CookieEcho { cookie })
}

/// The endpoint connects; the script has only read its INIT. Returns the
/// INIT's tag and TSN.
fn endpoint_in_cookie_wait(w: &mut Wire) -> (u32, Tsn, mcsctp_core::event::AssociationHandle) {
    let h =
        w.ep.connect(w.now, w.remote, script::SCRIPT_PORT)
            .expect("connect");
    let Chunk::Init(init) = w.out_one().only().clone() else {
        panic!("INIT");
    };
    (init.initiate_tag.0, init.initial_tsn, h)
}

/// The endpoint answered with a lone COOKIE ACK carrying `tag` and
/// association `h` is ESTABLISHED and reported as connected.
fn assert_cookie_ack_establishes(
    w: &Wire,
    out: &Out,
    h: mcsctp_core::event::AssociationHandle,
    tag: u32,
) {
    assert_eq!(out.types(), vec![ChunkType::COOKIE_ACK]);
    assert_eq!(out.tag(), tag);
    assert_eq!(w.state(h), Some("ESTABLISHED"));
    assert_eq!(w.connected(), Some(h));
}

/// Data from the script, tagged `tag`, reaches the application and is
/// acknowledged with a SACK tagged with the script's tag.
fn data_flows(w: &mut Wire, s: &mut Session, tag: u32) {
    let tsn = s.next_tsn;
    let d = s.data(0, 0, b"after");
    w.send(tag, &[d]);
    let got = w.ep.poll_recv().expect("delivered");
    assert_eq!(got.delivery.payload, Bytes::from_static(b"after"));
    let outs = w.advance_collect(SEC);
    let sack = outs
        .iter()
        .find_map(|o| {
            o.chunks.iter().find_map(|c| match c {
                Chunk::Sack(k) => Some((o.tag(), k.cumulative_tsn_ack)),
                _ => None,
            })
        })
        .expect("a SACK");
    assert_eq!(sack, (s.my_tag, tsn));
}

// ----- two real endpoints ----------------------------------------------------

#[test]
fn simultaneous_open_yields_one_established_association_on_each_side() {
    let mut p = Pair::with_defaults(11);
    p.a().log = true;
    p.z().log = true;
    let now = p.net.now();
    // A -> INIT -> Z and Z -> INIT -> A at the same instant.
    let ha = p.a().ep.connect(now, addr(Z), 9899).expect("connect");
    let hz = p.z().ep.connect(now, addr(A), 9899).expect("connect");
    let (a, z) = (p.a, p.z);
    p.net
        .run_until_cond(
            |n| !n.node(a).connected().is_empty() && !n.node(z).connected().is_empty(),
            Duration::from_secs(10),
        )
        .expect("both up");
    // Let every straggler (COOKIE ACKs, retransmissions) play out.
    p.net.run_for(5 * SEC).expect("runs");
    assert_eq!(p.net.node(a).connected(), vec![ha]);
    assert_eq!(p.net.node(z).connected(), vec![hz]);
    assert_eq!(p.a().ep.association_count(), 1);
    assert_eq!(p.z().ep.association_count(), 1);
    assert_eq!(p.a().ep.association_state(ha), Some("ESTABLISHED"));
    assert_eq!(p.z().ep.association_state(hz), Some("ESTABLISHED"));
    for n in [a, z] {
        assert!(p.net.node(n).sent_first(ChunkType::ABORT).is_empty());
        assert!(p.net.node(n).closed().is_empty());
    }
    let now = p.net.now();
    p.a()
        .ep
        .send(
            now,
            ha,
            StreamId(0),
            Ppid(1),
            Bytes::from_static(b"a->z"),
            SendOptions::default(),
        )
        .expect("send");
    p.z()
        .ep
        .send(
            now,
            hz,
            StreamId(0),
            Ppid(1),
            Bytes::from_static(b"z->a"),
            SendOptions::default(),
        )
        .expect("send");
    p.net
        .run_until_cond(
            |n| n.node(a).received.len() == 1 && n.node(z).received.len() == 1,
            Duration::from_secs(5),
        )
        .expect("data flows");
    assert_eq!(p.net.node(z).received[0].delivery.payload, &b"a->z"[..]);
    assert_eq!(p.net.node(a).received[0].delivery.payload, &b"z->a"[..]);
}

#[test]
fn restarted_peer_is_reported_and_data_flows_with_the_new_tags() {
    let mut p = Pair::with_defaults(12);
    let (ha, _) = p.connect();
    // Z crashes and comes back: same address and port, fresh state.
    let now = p.net.now();
    let mut cfg = EndpointConfig::with_seed(0x5eed);
    cfg.port = 9899;
    p.z().ep = Endpoint::new(cfg, now).expect("endpoint");
    p.z().events.clear();
    let hz = p.z().ep.connect(now, addr(A), 9899).expect("connect");
    let (a, z) = (p.a, p.z);
    p.net
        .run_until_cond(
            |n| !n.node(z).connected().is_empty(),
            Duration::from_secs(10),
        )
        .expect("Z up again");
    // RFC 9260 §5.2.4 (A): A reports a restart, not a new association.
    let restarts: Vec<_> = p
        .net
        .node(a)
        .events
        .iter()
        .filter(|e| matches!(e, Event::Restarted { association } if *association == ha))
        .collect();
    assert_eq!(restarts.len(), 1);
    assert_eq!(p.net.node(a).connected(), vec![ha]);
    assert_eq!(p.a().ep.association_count(), 1);
    assert_eq!(p.a().ep.association_state(ha), Some("ESTABLISHED"));
    let now = p.net.now();
    p.a()
        .ep
        .send(
            now,
            ha,
            StreamId(1),
            Ppid(0),
            Bytes::from_static(b"hello again"),
            SendOptions::default(),
        )
        .expect("send");
    p.z()
        .ep
        .send(
            now,
            hz,
            StreamId(1),
            Ppid(0),
            Bytes::from_static(b"back"),
            SendOptions::default(),
        )
        .expect("send");
    p.net
        .run_until_cond(
            |n| n.node(z).received.len() == 1 && n.node(a).received.len() == 1,
            Duration::from_secs(5),
        )
        .expect("data flows");
    assert_eq!(
        p.net.node(z).received[0].delivery.payload,
        &b"hello again"[..]
    );
    assert_eq!(p.net.node(a).received[0].delivery.payload, &b"back"[..]);
    assert!(p.net.node(a).closed().is_empty());
}

// ----- §5.2.1: INIT in COOKIE-WAIT and COOKIE-ECHOED --------------------------

#[test]
fn init_in_cookie_wait_is_answered_with_our_original_tag_and_no_tie_tags() {
    let mut w = Wire::with_defaults();
    let (e_tag, e_tsn, h) = endpoint_in_cookie_wait(&mut w);
    // script -> INIT -> endpoint (COOKIE-WAIT)
    w.send(0, &[Chunk::Init(script::init(0x51, 100, Params::empty()))]);
    let out = w.out_one();
    let ack = init_ack_of(&out);
    assert_eq!(out.tag(), 0x51, "tagged with the INIT's Initiate Tag");
    assert_eq!(ack.initiate_tag.0, e_tag, "our original tag, unchanged");
    assert_eq!(ack.initial_tsn, e_tsn);
    assert_eq!(cookie_tie_tags(&cookie_of(&ack)), (0, 0));
    // State, T1-init and TCB unchanged: the INIT is retransmitted on time.
    assert_eq!(w.state(h), Some("COOKIE-WAIT"));
    let later = w.advance_collect(SEC);
    assert_eq!(later.len(), 1);
    let Chunk::Init(again) = later[0].only() else {
        panic!("INIT retransmission");
    };
    assert_eq!(again.initiate_tag.0, e_tag);
}

/// The endpoint has sent its COOKIE ECHO for the script's INIT ACK (tag
/// `s1`, listing `addrs`).
fn endpoint_in_cookie_echoed(
    w: &mut Wire,
    s1: u32,
    addrs: Params,
) -> (u32, Tsn, mcsctp_core::event::AssociationHandle) {
    let (e_tag, e_tsn, h) = endpoint_in_cookie_wait(w);
    w.send(
        e_tag,
        &[Chunk::InitAck(script::init_ack(
            s1,
            500,
            b"the script's cookie",
            addrs,
        ))],
    );
    assert_eq!(w.out_one().types(), vec![ChunkType::COOKIE_ECHO]);
    assert_eq!(w.state(h), Some("COOKIE-ECHOED"));
    (e_tag, e_tsn, h)
}

#[test]
fn init_in_cookie_echoed_is_answered_with_our_original_tag_and_random_tie_tags() {
    let mut w = Wire::with_defaults();
    let (e_tag, e_tsn, h) = endpoint_in_cookie_echoed(&mut w, 0x61, Params::empty());
    w.send(0, &[Chunk::Init(script::init(0x62, 200, Params::empty()))]);
    let out = w.out_one();
    let ack = init_ack_of(&out);
    assert_eq!(out.tag(), 0x62);
    assert_eq!(ack.initiate_tag.0, e_tag);
    assert_eq!(ack.initial_tsn, e_tsn);
    let ties = cookie_tie_tags(&cookie_of(&ack));
    assert!(ties.0 != 0 && ties.1 != 0, "tie-tags populated: {ties:x?}");
    for t in [ties.0, ties.1] {
        assert!(![e_tag, 0x61, 0x62].contains(&t), "tie-tags are not tags");
    }
    // The same tie-tags for the next INIT: they live in the TCB.
    w.send(0, &[Chunk::Init(script::init(0x63, 300, Params::empty()))]);
    let again = init_ack_of(&w.out_one());
    assert_eq!(cookie_tie_tags(&cookie_of(&again)), ties);
    // Nothing else changed: T1-cookie still fires.
    assert_eq!(w.state(h), Some("COOKIE-ECHOED"));
    let later = w.advance_collect(SEC);
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].types(), vec![ChunkType::COOKIE_ECHO]);
    assert_eq!(later[0].tag(), 0x61);
}

#[test]
fn init_in_cookie_echoed_that_adds_an_address_is_aborted() {
    let mut w = Wire::with_defaults();
    let listed = Params::builder()
        .with(&Ipv4Address(Ipv4Addr::new(10, 0, 0, 2)))
        .build();
    let (_, _, h) = endpoint_in_cookie_echoed(&mut w, 0x71, listed);
    let new = Ipv4Address(Ipv4Addr::new(192, 0, 2, 9));
    let init = script::init(
        0x72,
        1,
        Params::builder()
            .with(&Ipv4Address(Ipv4Addr::new(10, 0, 0, 2)))
            .with(&new)
            .build(),
    );
    w.send(0, &[Chunk::Init(init)]);
    let out = w.out_one();
    // RFC 9260 §5.2.1: "An ABORT chunk SHOULD be sent in response that MAY
    // include the error 'Restart of an association with new addresses'."
    assert_eq!(out.tag(), 0x72);
    let Chunk::Abort(abort) = out.only() else {
        panic!("ABORT expected, got {:?}", out.types());
    };
    assert!(!abort.reflected_tag);
    let mut v = Vec::new();
    new.write(&mut v);
    assert_eq!(
        out.causes(),
        vec![ErrorCause::RestartWithNewAddresses(
            RestartWithNewAddresses {
                addresses: Bytes::from(v)
            }
        )]
    );
    // "NO changes should be made to the existing association."
    assert_eq!(w.state(h), Some("COOKIE-ECHOED"));
    assert_eq!(
        w.advance_collect(SEC)[0].types(),
        vec![ChunkType::COOKIE_ECHO]
    );
}

// ----- §5.2.2, §9.2: unexpected INIT in the other states -------------------

#[test]
fn unexpected_init_in_established_gets_a_new_tag_and_tie_tags_and_changes_nothing() {
    let mut w = Wire::with_defaults();
    let mut s = w.accept(script::init(0x81, 1000, Params::empty()));
    w.send(0, &[Chunk::Init(script::init(0x82, 5000, Params::empty()))]);
    let out = w.out_one();
    let ack = init_ack_of(&out);
    // "The outbound SCTP packet containing this INIT ACK chunk MUST carry a
    // Verification Tag value equal to the Initiate Tag found in the
    // unexpected INIT chunk. And the INIT ACK chunk MUST contain a new
    // Initiate Tag".
    assert_eq!(out.tag(), 0x82);
    assert_ne!(ack.initiate_tag.0, s.ep_tag);
    assert_ne!(ack.initiate_tag.0, 0);
    let ties = cookie_tie_tags(&cookie_of(&ack));
    assert!(ties.0 != 0 && ties.1 != 0);
    for t in [ties.0, ties.1] {
        assert!(![s.ep_tag, s.my_tag, 0x82, ack.initiate_tag.0].contains(&t));
    }
    // The association is untouched and still talks with the old tags.
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    assert_eq!(w.ep.association_count(), 1);
    let tag = s.ep_tag;
    data_flows(&mut w, &mut s, tag);
}

#[test]
fn unexpected_init_that_adds_an_address_is_aborted_with_restart_with_new_addresses() {
    let mut w = Wire::with_defaults();
    let s = w.accept(script::init(0x91, 1, Params::empty()));
    let new = Ipv4Address(Ipv4Addr::new(198, 51, 100, 1));
    w.send(
        0,
        &[Chunk::Init(script::init(
            0x92,
            1,
            Params::builder().with(&new).build(),
        ))],
    );
    let out = w.out_one();
    assert_eq!(out.tag(), 0x92, "the unexpected INIT's Initiate Tag");
    let Chunk::Abort(abort) = out.only() else {
        panic!("ABORT");
    };
    assert!(!abort.reflected_tag);
    let mut v = Vec::new();
    new.write(&mut v);
    assert_eq!(
        out.causes(),
        vec![ErrorCause::RestartWithNewAddresses(
            RestartWithNewAddresses {
                addresses: Bytes::from(v)
            }
        )]
    );
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    assert!(
        w.take_events()
            .iter()
            .all(|e| !matches!(e, Event::Closed { .. }))
    );
}

/// Puts the endpoint into SHUTDOWN-ACK-SENT: the script sends SHUTDOWN.
fn shutdown_ack_sent(w: &mut Wire, s: &Session) {
    w.send(
        s.ep_tag,
        &[Chunk::Shutdown(Shutdown {
            cumulative_tsn_ack: Tsn(s.ep_tsn.0.wrapping_sub(1)),
            flags: 0,
        })],
    );
    let out = w.out_one();
    assert_eq!(out.types(), vec![ChunkType::SHUTDOWN_ACK]);
    assert_eq!(w.state(s.handle), Some("SHUTDOWN-ACK-SENT"));
}

#[test]
fn init_in_shutdown_ack_sent_resends_the_shutdown_ack() {
    let mut w = Wire::with_defaults();
    let s = w.accept(script::init(0xa1, 1, Params::empty()));
    shutdown_ack_sent(&mut w, &s);
    // RFC 9260 §9.2: "it SHOULD discard the INIT chunk and retransmit the
    // SHUTDOWN ACK chunk."
    w.send(0, &[Chunk::Init(script::init(0xa2, 1, Params::empty()))]);
    let out = w.out_one();
    assert_eq!(out.types(), vec![ChunkType::SHUTDOWN_ACK]);
    assert_eq!(out.tag(), 0xa1);
    assert_eq!(w.state(s.handle), Some("SHUTDOWN-ACK-SENT"));
}

// ----- §5.2.3: unexpected INIT ACK ---------------------------------------------

#[test]
fn unexpected_init_ack_is_discarded() {
    // In ESTABLISHED.
    let mut w = Wire::with_defaults();
    let s = w.accept(script::init(0xb1, 1, Params::empty()));
    let stray = script::init_ack(0xb2, 9, b"stray", Params::empty());
    w.send(s.ep_tag, &[Chunk::InitAck(stray.clone())]);
    assert!(w.out().is_empty());
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    // And in COOKIE-ECHOED: no second COOKIE ECHO, the first one's timer
    // still runs.
    let mut w = Wire::with_defaults();
    let (e_tag, _, h) = endpoint_in_cookie_echoed(&mut w, 0xb3, Params::empty());
    w.send(e_tag, &[Chunk::InitAck(stray)]);
    assert!(w.out().is_empty());
    assert_eq!(w.state(h), Some("COOKIE-ECHOED"));
    let later = w.advance_collect(SEC);
    assert_eq!(
        later[0].tag(),
        0xb3,
        "the original COOKIE ECHO is retransmitted"
    );
}

// ----- §5.2.4, Table 2 -----------------------------------------------------------

#[test]
fn row_a_peer_restart_gets_new_tags_and_is_reported() {
    let mut w = Wire::with_defaults();
    let s1 = w.accept(script::init(0xc1, 1000, Params::empty()));
    w.take_events();
    // The script "restarts": a new INIT with a new tag and TSN.
    w.send(0, &[Chunk::Init(script::init(0xc2, 7000, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    let new_ep_tag = ack.initiate_tag.0;
    // X X M M
    w.send(new_ep_tag, &[echo(cookie_of(&ack))]);
    let out = w.out_one();
    assert_eq!(out.types(), vec![ChunkType::COOKIE_ACK]);
    assert_eq!(out.tag(), 0xc2, "the new peer tag");
    let evs = w.take_events();
    assert!(evs.contains(&Event::Restarted {
        association: s1.handle
    }));
    assert!(
        !evs.iter()
            .any(|e| matches!(e, Event::Connected { .. } | Event::Closed { .. })),
        "{evs:?}"
    );
    assert_eq!(w.state(s1.handle), Some("ESTABLISHED"));
    assert_eq!(w.ep.association_count(), 1);
    // Data flows on the new tags and TSNs ...
    let mut s2 = Session {
        my_tag: 0xc2,
        ep_tag: new_ep_tag,
        next_tsn: Tsn(7000),
        ep_tsn: ack.initial_tsn,
        handle: s1.handle,
    };
    data_flows(&mut w, &mut s2, new_ep_tag);
    // ... and the endpoint sends with the new tag.
    w.ep.send(
        w.now,
        s1.handle,
        StreamId(0),
        Ppid(0),
        Bytes::from_static(b"x"),
        SendOptions::default(),
    )
    .expect("send");
    let outs = w.out();
    assert!(!outs.is_empty());
    assert!(outs.iter().all(|o| o.tag() == 0xc2));
    // The old tag is dead.
    let mut old = s1;
    let stale = old.data(0, 1, b"old");
    let before = w.ep.stats().bad_tag;
    w.send(s1.ep_tag, &[stale]);
    assert!(w.ep.poll_recv().is_none());
    assert!(w.out().is_empty(), "silently");
    assert_eq!(w.ep.stats().bad_tag, before + 1);
}

#[test]
fn row_a_in_shutdown_ack_sent_resends_shutdown_ack_and_reports_the_cookie() {
    let mut w = Wire::with_defaults();
    let s = w.accept(script::init(0xd1, 1, Params::empty()));
    // A restart's cookie, made while ESTABLISHED ...
    w.send(0, &[Chunk::Init(script::init(0xd2, 1, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    // ... arrives in SHUTDOWN-ACK-SENT.
    shutdown_ack_sent(&mut w, &s);
    w.send(ack.initiate_tag.0, &[echo(cookie_of(&ack))]);
    let outs = w.out();
    let types: Vec<ChunkType> = outs.iter().flat_map(Out::types).collect();
    assert_eq!(types, vec![ChunkType::SHUTDOWN_ACK, ChunkType::ERROR]);
    assert_eq!(
        outs.iter().flat_map(Out::causes).collect::<Vec<_>>(),
        vec![ErrorCause::CookieReceivedWhileShuttingDown(
            CookieReceivedWhileShuttingDown
        )]
    );
    // "it MUST NOT set up a new association"
    assert_eq!(w.state(s.handle), Some("SHUTDOWN-ACK-SENT"));
    assert!(
        !w.take_events()
            .iter()
            .any(|e| matches!(e, Event::Restarted { .. }))
    );
}

#[test]
fn row_b_local_tag_matches_peer_tag_differs_enters_established() {
    // M X A A: the endpoint is COOKIE-ECHOED with peer tag 0xe1; the script
    // restarted its side of the handshake with a new INIT (tag 0xe2).
    let mut w = Wire::with_defaults();
    let (e_tag, _, h) = endpoint_in_cookie_echoed(&mut w, 0xe1, Params::empty());
    w.send(0, &[Chunk::Init(script::init(0xe2, 4000, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    w.send(e_tag, &[echo(cookie_of(&ack))]);
    let out = w.out_one();
    // "update its peer's Verification Tag from the State Cookie, stop any
    // init or cookie timers that may be running, and send a COOKIE ACK".
    assert_cookie_ack_establishes(&w, &out, h, 0xe2);
    let later = w.advance_collect(5 * SEC);
    assert!(
        later
            .iter()
            .all(|o| !o.types().contains(&ChunkType::COOKIE_ECHO))
    );
    let mut s = Session {
        my_tag: 0xe2,
        ep_tag: e_tag,
        next_tsn: Tsn(4000),
        ep_tsn: ack.initial_tsn,
        handle: h,
    };
    data_flows(&mut w, &mut s, e_tag);
}

#[test]
fn row_b_local_tag_matches_peer_tag_unknown_enters_established() {
    // M 0 A A: the endpoint is COOKIE-WAIT (no peer tag yet) and answers
    // the script's INIT; the script's COOKIE ECHO establishes.
    let mut w = Wire::with_defaults();
    let (e_tag, _, h) = endpoint_in_cookie_wait(&mut w);
    w.send(0, &[Chunk::Init(script::init(0xf1, 300, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    w.send(e_tag, &[echo(cookie_of(&ack))]);
    let out = w.out_one();
    assert_cookie_ack_establishes(&w, &out, h, 0xf1);
    // T1-init stopped: no INIT goes out any more.
    let later = w.advance_collect(5 * SEC);
    assert!(later.iter().all(|o| !o.types().contains(&ChunkType::INIT)));
    let mut s = Session {
        my_tag: 0xf1,
        ep_tag: e_tag,
        next_tsn: Tsn(300),
        ep_tsn: ack.initial_tsn,
        handle: h,
    };
    data_flows(&mut w, &mut s, e_tag);
}

/// A cookie the endpoint made statelessly (no TCB: tie-tags 0) for an INIT
/// with tag `peer`; then an association with the script (peer tag 0x1b1)
/// set up by the endpoint. Returns the cookie, its tag and the session.
fn late_stateless_cookie(w: &mut Wire, peer: u32) -> (Bytes, u32, Session) {
    w.send(0, &[Chunk::Init(script::init(peer, 1, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    assert_eq!(cookie_tie_tags(&cookie_of(&ack)), (0, 0));
    assert_eq!(w.ep.association_count(), 0, "no state for an INIT");
    let s = w.connect(script::init_ack(0x1b1, 800, b"c", Params::empty()));
    (cookie_of(&ack), ack.initiate_tag.0, s)
}

#[test]
fn row_c_late_cookie_is_silently_discarded() {
    // X M 0 0
    let mut w = Wire::with_defaults();
    let (cookie, tag, s) = late_stateless_cookie(&mut w, 0x1b1);
    assert_ne!(tag, s.ep_tag);
    w.take_events();
    w.send(tag, &[echo(cookie)]);
    assert!(w.out().is_empty());
    assert!(w.take_events().is_empty());
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    assert_eq!(w.ep.association_count(), 1);
}

#[test]
fn unlisted_combinations_are_silently_discarded() {
    // X X 0 0: a stale cookie for another peer tag.
    let mut w = Wire::with_defaults();
    let (cookie, tag, s) = late_stateless_cookie(&mut w, 0x1c1);
    w.take_events();
    w.send(tag, &[echo(cookie)]);
    assert!(w.out().is_empty());
    assert!(w.take_events().is_empty());
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));

    // X M M M: an INIT with the current peer tag answered in ESTABLISHED
    // (new local tag, tie-tags), its cookie echoed.
    let mut w = Wire::with_defaults();
    let mut s = w.accept(script::init(0x1d1, 1, Params::empty()));
    w.send(0, &[Chunk::Init(script::init(0x1d1, 1, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    w.take_events();
    w.send(ack.initiate_tag.0, &[echo(cookie_of(&ack))]);
    assert!(w.out().is_empty());
    assert!(w.take_events().is_empty());
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
    let tag = s.ep_tag;
    data_flows(&mut w, &mut s, tag);
}

#[test]
fn row_d_both_tags_match_acknowledges_the_cookie() {
    // In ESTABLISHED: a retransmitted COOKIE ECHO is answered again.
    let mut w = Wire::with_defaults();
    w.send(0, &[Chunk::Init(script::init(0x2a1, 1, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    w.send(ack.initiate_tag.0, &[echo(cookie_of(&ack))]);
    assert_eq!(w.out_one().types(), vec![ChunkType::COOKIE_ACK]);
    let h = w.connected().expect("up");
    w.take_events();
    w.send(ack.initiate_tag.0, &[echo(cookie_of(&ack))]);
    let out = w.out_one();
    assert_eq!(out.types(), vec![ChunkType::COOKIE_ACK]);
    assert_eq!(out.tag(), 0x2a1);
    assert!(w.take_events().is_empty(), "no second Connected");
    assert_eq!(w.ep.association_count(), 1);
    assert_eq!(w.state(h), Some("ESTABLISHED"));

    // In COOKIE-ECHOED (a collision in which both sides kept their tags):
    // the cookie establishes.
    let mut w = Wire::with_defaults();
    let (e_tag, _, h) = endpoint_in_cookie_wait(&mut w);
    w.send(0, &[Chunk::Init(script::init(0x2b1, 60, Params::empty()))]);
    let ack = init_ack_of(&w.out_one());
    w.send(
        e_tag,
        &[Chunk::InitAck(script::init_ack(
            0x2b1,
            60,
            b"theirs",
            Params::empty(),
        ))],
    );
    assert_eq!(w.out_one().types(), vec![ChunkType::COOKIE_ECHO]);
    w.send(e_tag, &[echo(cookie_of(&ack))]);
    let out = w.out_one();
    assert_cookie_ack_establishes(&w, &out, h, 0x2b1);
    // The script's COOKIE ACK for the endpoint's COOKIE ECHO is then a
    // duplicate (§5.2.5) and changes nothing.
    w.take_events();
    w.send(e_tag, &[Chunk::CookieAck(CookieAck)]);
    assert!(w.out().is_empty());
    assert!(w.take_events().is_empty());
}

// ----- §5.2.5 ----------------------------------------------------------------------

#[test]
fn duplicate_cookie_ack_is_discarded() {
    let mut w = Wire::with_defaults();
    let s = w.connect(script::init_ack(0x3a1, 1, b"cookie", Params::empty()));
    w.take_events();
    w.send(s.ep_tag, &[Chunk::CookieAck(CookieAck)]);
    assert!(w.out().is_empty());
    assert!(w.take_events().is_empty());
    assert_eq!(w.state(s.handle), Some("ESTABLISHED"));
}

#[test]
fn restart_keeps_messages_received_but_not_yet_read() {
    let mut p = Pair::with_defaults(13);
    let (ha, hz) = p.connect();
    p.a().auto_recv = false;
    let now = p.net.now();
    p.z()
        .ep
        .send(
            now,
            hz,
            StreamId(0),
            Ppid(0),
            Bytes::from_static(b"acknowledged"),
            SendOptions::default(),
        )
        .expect("send");
    let a = p.a;
    p.net
        .run_until_cond(
            |n| n.node(a).ep.receive_buffered(ha) == Some(12),
            Duration::from_secs(5),
        )
        .expect("arrived");
    p.net.run_for(SEC).expect("SACKed");
    // Z restarts before A's application reads.
    let now = p.net.now();
    let mut cfg = EndpointConfig::with_seed(0xbeef);
    cfg.port = 9899;
    p.z().ep = Endpoint::new(cfg, now).expect("endpoint");
    p.z().events.clear();
    p.z().ep.connect(now, addr(A), 9899).expect("connect");
    let z = p.z;
    p.net
        .run_until_cond(
            |n| !n.node(z).connected().is_empty(),
            Duration::from_secs(10),
        )
        .expect("Z up again");
    assert!(
        p.net
            .node(a)
            .events
            .contains(&Event::Restarted { association: ha })
    );
    // The message the old Z had delivered (and A acknowledged) is still
    // there for the application.
    let r = p.a().ep.poll_recv().expect("kept");
    assert_eq!(r.association, ha);
    assert_eq!(r.delivery.payload, &b"acknowledged"[..]);
}
