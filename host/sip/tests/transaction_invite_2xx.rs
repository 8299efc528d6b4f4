//! 2xx to INVITE: UAS retransmission until ACK (RFC 3261 §13.3.1.4), the 64*T1 give-up,
//! UAC ACK repetition for retransmitted 2xx and forks (RFC 6026 Accepted states).

mod transaction_common;

use madoguchi_sip::message::{HeaderAccess, Method, Request, SipMessage, Transport};
use madoguchi_sip::transaction::{
    ClientState, ClientTxId, ServerState, ServerTxId, TxConfig, TxEvent,
};
use madoguchi_sip::transport_rules::new_via;
use transaction_common::*;

/// Alice sends an INVITE to Bob; returns both transaction ids after delivery.
fn call(p: &mut Pair, branch: &str) -> (Request, ClientTxId, ServerTxId) {
    let r = invite(branch, "call-1", 1);
    let ctx =
        p.a.layer
            .send_request(r.clone(), p.peer_b(), p.now)
            .unwrap();
    p.settle();
    let stx =
        p.b.events
            .iter()
            .find_map(|(_, e)| match e {
                TxEvent::Request { tx, .. } => Some(*tx),
                _ => None,
            })
            .expect("bob saw the INVITE");
    (r, ctx, stx)
}

/// The ACK Alice's TU builds for a 2xx: new branch, same CSeq number.
fn ack_for(r: &Request, to_tag: &str) -> Request {
    let mut rng = rand::thread_rng();
    let via = new_via(
        Transport::Udp,
        madoguchi_sip::message::Host::V4("192.0.2.1".parse().unwrap()),
        5060,
        &mut rng,
    );
    let mut ack = Request::new(Method::Ack, r.uri.clone());
    ack.headers.push("Via", via.to_string());
    ack.headers.push("Max-Forwards", "70");
    ack.headers.push("From", r.headers.get("From").unwrap());
    ack.headers.push(
        "To",
        format!("{};tag={to_tag}", r.headers.get("To").unwrap()),
    );
    ack.headers.push("Call-ID", r.call_id().unwrap());
    ack.headers
        .push("CSeq", format!("{} ACK", r.cseq().unwrap().seq));
    ack
}

#[test]
fn uas_retransmits_2xx_until_ack_then_ack_reaches_tu_once() {
    let mut p = Pair::new(TxConfig::default());
    let (r, ctx, stx) = call(&mut p, "z9hG4bK2xx1");
    // Alice's TU is slow to ACK: nothing is sent until 2 s.
    p.b.layer
        .send_response(stx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    p.settle();
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Accepted));
    assert_eq!(p.a.layer.client_state(ctx), Some(ClientState::Accepted));
    p.run_until(ms(2_000));
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0, 500, 1500]);
    // The 2xx retransmissions were absorbed by Alice's Accepted transaction: one event.
    let oks = p
        .a
        .events
        .iter()
        .filter(|(_, e)| matches!(e, TxEvent::Response { response, .. } if response.status == 200))
        .count();
    assert_eq!(oks, 1);
    let ack = ack_for(&r, "b1");
    p.a.layer
        .send_2xx_ack(ctx, &ack, p.peer_b(), p.now)
        .unwrap();
    p.settle();
    let acks: Vec<_> =
        p.b.events
            .iter()
            .filter_map(|(t, e)| match e {
                TxEvent::Ack { invite, .. } => Some((*t, *invite)),
                _ => None,
            })
            .collect();
    assert_eq!(acks, [(ms(2_000), Some(stx))]);
    // The same ACK again (the UAC answering a late 2xx retransmission) is absorbed.
    p.b.layer
        .handle_incoming(SipMessage::Request(ack.clone()), p.peer_a(), p.now)
        .unwrap();
    p.settle();
    let n =
        p.b.events
            .iter()
            .filter(|(_, e)| matches!(e, TxEvent::Ack { .. }))
            .count();
    assert_eq!(n, 1);
    p.run_until(ms(10_000));
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0, 500, 1500]);
    // The INVITE transaction lingers for Timer L (64*T1) then goes, without AckTimeout.
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Accepted));
    p.run_until(ms(32_000));
    assert_eq!(p.b.layer.server_state(stx), None);
    assert!(!p
        .b
        .events
        .iter()
        .any(|(_, e)| matches!(e, TxEvent::AckTimeout { .. })));
}

#[test]
fn uac_repeats_its_ack_for_each_retransmitted_2xx() {
    let mut p = Pair::new(TxConfig::default());
    let (r, ctx, stx) = call(&mut p, "z9hG4bK2xx2");
    // Bob never sees Alice's ACKs, so he keeps retransmitting the 200.
    p.a.deliver = Box::new(|m| !matches!(m, SipMessage::Request(r) if r.method == Method::Ack));
    p.b.layer
        .send_response(stx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    p.settle();
    p.a.layer
        .send_2xx_ack(ctx, &ack_for(&r, "b1"), p.peer_b(), p.now)
        .unwrap();
    p.run_until(ms(4_000));
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0, 500, 1500, 3500]);
    // Each retransmitted 200 got the stored ACK again, and no new event.
    assert_eq!(p.a.sent_times("ACK"), [0, 500, 1500, 3500]);
    let oks =
        p.a.events
            .iter()
            .filter(|(_, e)| matches!(e, TxEvent::Response { .. }))
            .count();
    assert_eq!(oks, 1);
}

#[test]
fn uas_gives_up_after_64_t1_without_ack() {
    let mut p = Pair::new(TxConfig::default());
    let (r, _ctx, stx) = call(&mut p, "z9hG4bK2xx3");
    p.run_until(ms(100));
    p.b.layer
        .send_response(stx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    p.run_until(ms(60_000));
    let rel: Vec<u64> =
        p.b.sent_times("SIP/2.0 200")
            .iter()
            .map(|t| t - 100)
            .collect();
    assert_eq!(
        rel,
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    let gave_up: Vec<_> =
        p.b.events
            .iter()
            .filter_map(|(t, e)| match e {
                TxEvent::AckTimeout { tx, status } => Some((*t, *tx, *status)),
                _ => None,
            })
            .collect();
    assert_eq!(gave_up, [(ms(32_100), stx, 200)]);
    assert_eq!(p.b.layer.server_state(stx), None);
}

#[test]
fn invite_retransmission_after_2xx_is_absorbed() {
    let mut p = Pair::new(TxConfig::default());
    let (r, _ctx, stx) = call(&mut p, "z9hG4bK2xx4");
    p.b.layer
        .send_response(stx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    p.settle();
    p.b.layer
        .handle_incoming(SipMessage::Request(r.clone()), p.peer_a(), p.now)
        .unwrap();
    p.settle();
    let requests =
        p.b.events
            .iter()
            .filter(|(_, e)| matches!(e, TxEvent::Request { .. }))
            .count();
    assert_eq!(requests, 1);
    // Not resent on the INVITE either (the 2xx has its own schedule).
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0]);
}

#[test]
fn second_2xx_from_another_fork_is_reported_and_late_2xx_is_stray() {
    let mut p = Pair::new(TxConfig::default());
    let r = invite("z9hG4bK2xx5", "call-5", 1);
    let dest = madoguchi_sip::transaction::Peer::udp(addr("192.0.2.99:5060"));
    let ctx =
        p.a.layer
            .send_request(r.clone(), dest.clone(), p.now)
            .unwrap();
    let ok1 = SipMessage::Response(answer(&r, 200, Some("fork1")));
    let ok2 = SipMessage::Response(answer(&r, 200, Some("fork2")));
    p.a.layer
        .handle_incoming(ok1.clone(), dest.clone(), p.now)
        .unwrap();
    p.a.layer
        .handle_incoming(ok1.clone(), dest.clone(), p.now)
        .unwrap();
    p.a.layer.handle_incoming(ok2, dest.clone(), p.now).unwrap();
    p.settle();
    let tags: Vec<String> =
        p.a.events
            .iter()
            .filter_map(|(_, e)| match e {
                TxEvent::Response { tx, response } if *tx == ctx => {
                    Some(response.to_hdr().unwrap().tag().unwrap().to_string())
                }
                _ => None,
            })
            .collect();
    assert_eq!(tags, ["fork1", "fork2"]);
    // Timer M: the transaction ends 64*T1 after the first 2xx.
    p.run_until(ms(31_999));
    assert_eq!(p.a.layer.client_state(ctx), Some(ClientState::Accepted));
    p.run_until(ms(32_000));
    assert_eq!(p.a.layer.client_state(ctx), None);
    p.a.take_events();
    p.a.layer.handle_incoming(ok1, dest, p.now).unwrap();
    p.settle();
    assert!(matches!(
        p.a.events[..],
        [(_, TxEvent::StrayResponse { .. })]
    ));
}

#[test]
fn no_2xx_retransmission_over_tcp_by_default_but_give_up_still_runs() {
    let mut p = Pair::with_transport(TxConfig::default(), Transport::Tcp);
    let (r, ctx, stx) = call(&mut p, "z9hG4bK2xx6");
    p.a.deliver = Box::new(|_| false);
    p.b.layer
        .send_response(stx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    p.run_until(ms(40_000));
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0]);
    assert_eq!(p.a.sent_times("INVITE"), [0]);
    assert!(p
        .b
        .events
        .iter()
        .any(|(t, e)| *t == ms(32_000) && matches!(e, TxEvent::AckTimeout { status: 200, .. })));
    let _ = ctx;

    let cfg = TxConfig {
        retransmit_2xx_on_reliable: true,
        ..TxConfig::default()
    };
    let mut p = Pair::with_transport(cfg, Transport::Tcp);
    let (r, _ctx, stx) = call(&mut p, "z9hG4bK2xx7");
    p.a.deliver = Box::new(|_| false);
    p.b.layer
        .send_response(stx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    p.run_until(ms(4_000));
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0, 500, 1500, 3500]);
}

#[test]
fn second_final_response_is_refused() {
    let mut p = Pair::new(TxConfig::default());
    let (r, _ctx, stx) = call(&mut p, "z9hG4bK2xx8");
    p.b.layer
        .send_response(stx, answer(&r, 486, Some("b1")), p.now)
        .unwrap();
    let err =
        p.b.layer
            .send_response(stx, answer(&r, 200, Some("b1")), p.now)
            .unwrap_err();
    assert_eq!(err, madoguchi_sip::transaction::TxError::InvalidState);
    let err =
        p.b.layer
            .send_response(stx, answer(&r, 99, None), p.now)
            .unwrap_err();
    assert_eq!(err, madoguchi_sip::transaction::TxError::InvalidStatus(99));
}
