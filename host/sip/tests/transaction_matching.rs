//! Request/response matching (RFC 3261 §17.1.3, §17.2.3, RFC 2543 fallback), absorption of
//! retransmissions, the table bound, Via stamping and reply routing, input errors.

mod transaction_common;

use madoguchi_sip::message::{HeaderAccess, SipMessage, Transport};
use madoguchi_sip::transaction::{
    Output, Peer, ServerState, TransactionLayer, TxConfig, TxError, TxEvent, TxRef,
};
use std::time::Instant;
use transaction_common::*;

/// Everything the layer has to say right now.
fn drain(l: &mut TransactionLayer) -> Vec<Output> {
    std::iter::from_fn(|| l.poll_output()).collect()
}

fn first_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// After RFC 4475 "inv2543": an RFC 2543 INVITE (no branch, no From tag, no Max-Forwards).
const INV2543: &str = "INVITE sip:UserB@example.com SIP/2.0
Via: SIP/2.0/UDP iftgw.example.com
From: <sip:+13035551111@ift.client.example.net;user=phone>
Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>
To: sip:+16505552222@ss1.example.net;user=phone
Call-ID: inv2543.1717@ift.client.example.com
CSeq: 56 INVITE
Content-Type: application/sdp
Content-Length: 0

";

/// RFC 4475 "badbranch": the branch is the bare magic cookie.
const BADBRANCH: &str = "OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK
Accept: application/sdp
Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n
CSeq: 8 OPTIONS
l: 0

";

fn src() -> Peer {
    Peer::udp(addr("192.0.2.50:5060"))
}

#[test]
fn rfc2543_invite_retransmission_ack_and_cancel_match_without_branch() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let inv = req(INV2543);
    l.handle_incoming(SipMessage::Request(inv.clone()), src(), t0)
        .unwrap();
    let out = drain(&mut l);
    let (stx, stamped) = match &out[..] {
        [Output::Event(TxEvent::Request { tx, request, .. })] => (*tx, request.clone()),
        other => panic!("{other:?}"),
    };
    // Domain sent-by → received stamped; the reply goes to the source IP, port 5060.
    assert_eq!(
        stamped.top_via().unwrap().param("received"),
        Some(Some("192.0.2.50"))
    );
    // Retransmission: absorbed (no event, nothing to resend yet).
    l.handle_incoming(SipMessage::Request(inv.clone()), src(), t0)
        .unwrap();
    assert!(drain(&mut l).is_empty());
    // CANCEL finds the INVITE by the 2543 rules (same URI, From, Call-ID, CSeq number, Via).
    let mut cancel = inv.clone();
    cancel.method = madoguchi_sip::message::Method::Cancel;
    cancel.headers.set("CSeq", "56 CANCEL");
    assert_eq!(l.server_tx_for_cancel(&cancel), Some(stx));
    // A 486, then the 2543 ACK (same Via, To with our tag) is absorbed by the transaction.
    let mut busy = madoguchi_sip::message::Response::for_request(&stamped, 486, "Busy Here");
    busy.headers
        .set("To", "<sip:+16505552222@ss1.example.net;user=phone>;tag=x1");
    l.send_response(stx, busy, t0).unwrap();
    let out = drain(&mut l);
    match &out[..] {
        [Output::Transmit(t)] => {
            assert_eq!(first_line(&t.bytes), "SIP/2.0 486 Busy Here");
            assert_eq!(t.peer.addr, addr("192.0.2.50:5060"));
        }
        other => panic!("{other:?}"),
    }
    let mut ack = inv.clone();
    ack.method = madoguchi_sip::message::Method::Ack;
    ack.headers.set("CSeq", "56 ACK");
    ack.headers
        .set("To", "<sip:+16505552222@ss1.example.net;user=phone>;tag=x1");
    l.handle_incoming(SipMessage::Request(ack), src(), t0)
        .unwrap();
    assert!(
        drain(&mut l).is_empty(),
        "the ACK belongs to the transaction"
    );
    assert_eq!(l.server_state(stx), Some(ServerState::Confirmed));
}

#[test]
fn rfc2543_different_cseq_is_a_new_transaction() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let inv = req(INV2543);
    l.handle_incoming(SipMessage::Request(inv.clone()), src(), t0)
        .unwrap();
    let mut other = inv;
    other.headers.set("CSeq", "57 INVITE");
    l.handle_incoming(SipMessage::Request(other), src(), t0)
        .unwrap();
    let n = drain(&mut l)
        .iter()
        .filter(|o| matches!(o, Output::Event(TxEvent::Request { .. })))
        .count();
    assert_eq!(n, 2);
    assert_eq!(l.len(), 2);
}

#[test]
fn bare_cookie_branch_falls_back_to_rfc2543_matching() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let opt = req(BADBRANCH);
    l.handle_incoming(SipMessage::Request(opt.clone()), src(), t0)
        .unwrap();
    let stx = match &drain(&mut l)[..] {
        [Output::Event(TxEvent::Request { tx, .. })] => *tx,
        other => panic!("{other:?}"),
    };
    l.send_response(
        stx,
        madoguchi_sip::message::Response::for_request(&opt, 200, "OK"),
        t0,
    )
    .unwrap();
    assert_eq!(drain(&mut l).len(), 1);
    // Same request again: the final is resent, no new transaction.
    l.handle_incoming(SipMessage::Request(opt.clone()), src(), t0)
        .unwrap();
    let out = drain(&mut l);
    assert!(matches!(&out[..], [Output::Transmit(t)] if first_line(&t.bytes) == "SIP/2.0 200 OK"));
    // Another request with the same bare cookie but another Call-ID is NOT a retransmission.
    let mut other = opt;
    other.headers.set("Call-ID", "another");
    l.handle_incoming(SipMessage::Request(other), src(), t0)
        .unwrap();
    assert!(matches!(
        &drain(&mut l)[..],
        [Output::Event(TxEvent::Request { .. })]
    ));
}

#[test]
fn same_branch_from_another_sent_by_is_another_transaction() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let a = request("OPTIONS", "z9hG4bKsame", "c1", 1);
    let mut b = a.clone();
    b.headers
        .set("Via", "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKsame");
    l.handle_incoming(SipMessage::Request(a), src(), t0)
        .unwrap();
    l.handle_incoming(SipMessage::Request(b), src(), t0)
        .unwrap();
    assert_eq!(l.len(), 2);
}

#[test]
fn responses_match_by_branch_and_cseq_method() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let r = invite("z9hG4bKm1", "c1", 1);
    let tx = l.send_request(r.clone(), src(), t0).unwrap();
    drain(&mut l);
    // Right branch but CSeq method CANCEL: not this transaction.
    let mut wrong = answer(&r, 200, Some("x"));
    wrong.headers.set("CSeq", "1 CANCEL");
    l.handle_incoming(SipMessage::Response(wrong), src(), t0)
        .unwrap();
    assert!(matches!(
        &drain(&mut l)[..],
        [Output::Event(TxEvent::StrayResponse { .. })]
    ));
    l.handle_incoming(SipMessage::Response(answer(&r, 180, Some("x"))), src(), t0)
        .unwrap();
    assert!(
        matches!(&drain(&mut l)[..], [Output::Event(TxEvent::Response { tx: id, .. })] if *id == tx)
    );
}

#[test]
fn server_resends_last_provisional_on_retransmitted_invite() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let r = invite("z9hG4bKp1", "c1", 1);
    l.handle_incoming(SipMessage::Request(r.clone()), src(), t0)
        .unwrap();
    let stx = match &drain(&mut l)[..] {
        [Output::Event(TxEvent::Request { tx, .. })] => *tx,
        other => panic!("{other:?}"),
    };
    l.send_response(stx, answer(&r, 180, Some("b")), t0)
        .unwrap();
    drain(&mut l);
    l.handle_incoming(SipMessage::Request(r.clone()), src(), t0)
        .unwrap();
    let out = drain(&mut l);
    assert!(
        matches!(&out[..], [Output::Transmit(t)] if first_line(&t.bytes) == "SIP/2.0 180 Ringing")
    );
    // Non-INVITE in Trying: a retransmission is absorbed silently.
    let o = request("OPTIONS", "z9hG4bKp2", "c2", 1);
    l.handle_incoming(SipMessage::Request(o.clone()), src(), t0)
        .unwrap();
    drain(&mut l);
    l.handle_incoming(SipMessage::Request(o), src(), t0)
        .unwrap();
    assert!(drain(&mut l).is_empty());
}

#[test]
fn table_bound_answers_503_and_refuses_new_client_transactions() {
    let t0 = Instant::now();
    let cfg = TxConfig {
        max_transactions: 2,
        ..TxConfig::default()
    };
    let mut l = TransactionLayer::new(cfg);
    for i in 0..2 {
        l.handle_incoming(
            SipMessage::Request(invite(&format!("z9hG4bKb{i}"), "c", 1)),
            src(),
            t0,
        )
        .unwrap();
    }
    drain(&mut l);
    let third = invite("z9hG4bKb2", "c", 1);
    assert_eq!(
        l.handle_incoming(SipMessage::Request(third.clone()), src(), t0),
        Err(TxError::TableFull)
    );
    let out = drain(&mut l);
    match &out[..] {
        [Output::Transmit(t)] => {
            assert_eq!(first_line(&t.bytes), "SIP/2.0 503 Service Unavailable");
            assert_eq!(t.origin, TxRef::Stateless);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(l.len(), 2);
    assert_eq!(
        l.send_request(invite("z9hG4bKb3", "c", 1), src(), t0),
        Err(TxError::TableFull)
    );
    // Retransmissions of existing transactions still work at the bound.
    l.handle_incoming(SipMessage::Request(invite("z9hG4bKb0", "c", 1)), src(), t0)
        .unwrap();
    assert!(drain(&mut l).is_empty());
}

#[test]
fn rport_is_filled_and_responses_follow_the_nat_binding() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let mut r = request("OPTIONS", "z9hG4bKnat", "c1", 1);
    r.headers
        .set("Via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKnat;rport");
    let nat = Peer::udp(addr("203.0.113.9:40123"));
    l.handle_incoming(SipMessage::Request(r), nat, t0).unwrap();
    let (stx, stamped) = match drain(&mut l).pop() {
        Some(Output::Event(TxEvent::Request { tx, request, .. })) => (tx, request),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        stamped.headers.get("Via"),
        Some("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKnat;rport=40123;received=203.0.113.9")
    );
    let resp = madoguchi_sip::message::Response::for_request(&stamped, 200, "OK");
    l.send_response(stx, resp, t0).unwrap();
    match drain(&mut l).pop() {
        Some(Output::Transmit(t)) => {
            assert_eq!(t.peer, Peer::udp(addr("203.0.113.9:40123")));
            let m = parse_bytes(&t.bytes);
            assert!(
                String::from_utf8_lossy(&m.to_bytes()).contains("rport=40123;received=203.0.113.9")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tcp_responses_go_back_on_the_same_connection() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let mut r = request("OPTIONS", "z9hG4bKtcp", "c1", 1);
    r.headers
        .set("Via", "SIP/2.0/TCP 10.0.0.5:5060;branch=z9hG4bKtcp");
    let conn = Peer::new(Transport::Tcp, addr("203.0.113.9:50000"));
    l.handle_incoming(SipMessage::Request(r.clone()), conn.clone(), t0)
        .unwrap();
    let stx = match drain(&mut l).pop() {
        Some(Output::Event(TxEvent::Request { tx, .. })) => tx,
        other => panic!("{other:?}"),
    };
    l.send_response(
        stx,
        madoguchi_sip::message::Response::for_request(&r, 200, "OK"),
        t0,
    )
    .unwrap();
    assert!(matches!(drain(&mut l).pop(), Some(Output::Transmit(t)) if t.peer == conn));
}

#[test]
fn malformed_requests_are_refused_without_panicking() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let mut r = request("OPTIONS", "z9hG4bKbad", "c1", 1);
    r.headers.set("CSeq", "1 INVITE");
    assert_eq!(
        l.handle_incoming(SipMessage::Request(r), src(), t0),
        Err(TxError::CSeqMethodMismatch)
    );
    assert!(
        matches!(drain(&mut l).pop(), Some(Output::Transmit(t)) if first_line(&t.bytes).starts_with("SIP/2.0 400"))
    );
    let mut r = request("OPTIONS", "z9hG4bKbad2", "c1", 1);
    r.headers.remove("Via");
    assert!(l
        .handle_incoming(SipMessage::Request(r), src(), t0)
        .is_err());
    assert!(drain(&mut l).is_empty());
    assert!(l.is_empty());
}

#[test]
fn send_request_checks_its_input() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let mut r = request("OPTIONS", "nocookie", "c1", 1);
    assert_eq!(
        l.send_request(r.clone(), src(), t0),
        Err(TxError::MissingBranch)
    );
    r = request("OPTIONS", "z9hG4bKok", "c1", 1);
    l.send_request(r.clone(), src(), t0).unwrap();
    assert_eq!(l.send_request(r, src(), t0), Err(TxError::Duplicate));
    let mut ack = request("ACK", "z9hG4bKack", "c1", 1);
    ack.headers.set("CSeq", "1 ACK");
    assert_eq!(
        l.send_request(ack, src(), t0),
        Err(TxError::AckNotATransaction)
    );
}

#[test]
fn transport_error_ends_the_transaction_and_tells_the_tu() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let tx = l
        .send_request(
            invite("z9hG4bKte", "c1", 1),
            Peer::tcp(addr("192.0.2.9:5060")),
            t0,
        )
        .unwrap();
    let origin = match drain(&mut l).pop() {
        Some(Output::Transmit(t)) => t.origin,
        other => panic!("{other:?}"),
    };
    assert_eq!(origin, TxRef::Client(tx));
    l.handle_transport_error(origin, t0);
    assert!(
        matches!(drain(&mut l)[..], [Output::Event(TxEvent::TransportError { tx: TxRef::Client(id) })] if id == tx)
    );
    assert!(l.is_empty());
    assert_eq!(l.poll_timeout(), None, "stale timers are skipped");
}

#[test]
fn a_stray_ack_goes_to_the_tu() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(TxConfig::default());
    let mut ack = request("ACK", "z9hG4bKstray", "c1", 1);
    ack.headers.set("CSeq", "1 ACK");
    ack.headers.set("To", "<sip:bob@192.0.2.2>;tag=zz");
    l.handle_incoming(SipMessage::Request(ack), src(), t0)
        .unwrap();
    assert!(matches!(
        drain(&mut l)[..],
        [Output::Event(TxEvent::Ack { invite: None, .. })]
    ));
    assert!(l.is_empty());
}
