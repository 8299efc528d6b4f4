//! Unit tests of the B2BUA on synthetic time.

use super::responses::best_final;
use super::*;

use madoguchi_sip::message::{SipMessage, Transport};
use madoguchi_sip::parse::{parse_datagram, parse_uri, Limits};

fn invite() -> Request {
    let raw = "INVITE sip:1001@127.0.0.1:5060 SIP/2.0\r\n\
               Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKring1\r\n\
               From: <sip:0462009999@127.0.0.1>;tag=c1\r\nTo: <sip:1001@127.0.0.1>\r\n\
               Call-ID: ring-1@test\r\nCSeq: 1 INVITE\r\n\
               Contact: <sip:0462009999@127.0.0.1:5070>\r\nMax-Forwards: 70\r\n\
               Content-Length: 0\r\n\r\n";
    match parse_datagram(raw.as_bytes(), &Limits::default()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn device(port: u16) -> Target {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    Target {
        uri: parse_uri(&format!("sip:1001@{addr}")).unwrap(),
        peer: Peer::new(Transport::Udp, addr),
        local_addr: ([127, 0, 0, 1], 5060).into(),
        presented: None,
    }
}

/// The B2BUA's ring timeout stands in for Timer C: devices that ring and never answer
/// are cancelled after 60 s and the caller hears 480, not a second earlier.
#[test]
fn devices_that_never_answer_are_cancelled_and_the_caller_hears_480() {
    let mut b = B2bua::<u32>::new("test");
    let t0 = Instant::now();
    let caller = Peer::new(Transport::Udp, ([127, 0, 0, 1], 5070).into());
    let local = ([127, 0, 0, 1], 5060).into();
    let id = b
        .on_invite(
            7,
            invite(),
            caller,
            local,
            vec![device(5081), device(5082)],
            None,
            t0,
        )
        .unwrap();
    let mut invites = Vec::new();
    while let Some(a) = b.poll_action() {
        if let Action::Request { token, request, .. } = a {
            assert_eq!(request.method, Method::Invite);
            invites.push(token);
        }
    }
    assert_eq!(invites.len(), 2, "both devices ring");
    assert_eq!(b.poll_timeout(), Some(t0 + DEFAULT_RING_TIMEOUT));
    b.handle_timeout(t0 + DEFAULT_RING_TIMEOUT - Duration::from_millis(1));
    assert!(b.poll_action().is_none(), "nothing before the deadline");
    b.handle_timeout(t0 + DEFAULT_RING_TIMEOUT);
    let (mut status, mut cancelled, mut ended) = (None, Vec::new(), false);
    while let Some(a) = b.poll_action() {
        match a {
            Action::Respond { stx: 7, response } => status = Some(response.status),
            Action::Cancel { token } => cancelled.push(token),
            Action::Ended { call, .. } if call == id => ended = true,
            _ => {}
        }
    }
    assert_eq!(status, Some(480));
    cancelled.sort_by_key(|t| format!("{t:?}"));
    invites.sort_by_key(|t| format!("{t:?}"));
    assert_eq!(cancelled, invites, "every ringing device is cancelled");
    assert!(ended);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn best_final_prefers_busy_and_6xx() {
    assert_eq!(best_final(&[486, 480]), 486);
    assert_eq!(best_final(&[603, 486]), 603);
    assert_eq!(best_final(&[408, 408]), 480);
    assert_eq!(best_final(&[404, 500]), 404);
}

/// A carrier that challenges the INVITE gets it again with the digest answer (next CSeq,
/// new branch); the same challenge a second time is the caller's final answer.
#[test]
fn a_trunk_challenge_is_answered_once() {
    let mut b = B2bua::<u32>::new("test");
    let t0 = Instant::now();
    let caller = Peer::new(Transport::Udp, ([127, 0, 0, 1], 5070).into());
    let mut carrier = device(5080);
    carrier.presented = Some(Box::new(Presented {
        from: NameAddr::new(parse_uri("sip:0462000000@127.0.0.1:5080").unwrap()),
        to: NameAddr::new(parse_uri("sip:09012345678@127.0.0.1:5080").unwrap()),
        headers: vec![],
        credentials: Some(("0462000000".into(), madoguchi_trunk::Secret::new("pw"))),
    }));
    b.on_invite(
        7,
        invite(),
        caller,
        ([127, 0, 0, 1], 5060).into(),
        vec![carrier],
        None,
        t0,
    )
    .unwrap();
    let first = loop {
        if let Some(Action::Request { token, request, .. }) = b.poll_action() {
            break (token, request);
        }
    };
    let challenge = |req: &Request| {
        let mut r = Response::for_request(req, 407, "Proxy Authentication Required");
        r.headers.push(
            "Proxy-Authenticate",
            r#"Digest realm="carrier", nonce="n1", qop="auth", algorithm=MD5"#,
        );
        r
    };
    b.on_response(first.0, challenge(&first.1));
    let second = match b.poll_action() {
        Some(Action::Request { token, request, .. }) => (token, request),
        other => panic!("expected the INVITE again, got {other:?}"),
    };
    assert_eq!(second.0, first.0);
    assert_eq!(second.1.cseq().unwrap().seq, 2);
    assert_ne!(
        second.1.top_via().unwrap().branch(),
        first.1.top_via().unwrap().branch()
    );
    let auth = second.1.headers.get("Proxy-Authorization").unwrap();
    assert!(
        auth.contains("username=\"0462000000\"") && !auth.contains("pw\""),
        "{auth}"
    );
    b.on_response(second.0, challenge(&second.1));
    let mut status = None;
    while let Some(a) = b.poll_action() {
        if let Action::Respond { response, .. } = a {
            status = Some(response.status);
        }
    }
    assert_eq!(status, Some(407));
}
