//! CANCEL (RFC 3261 §9) and its races with final responses.

mod transaction_common;

use madoguchi_sip::message::{HeaderAccess, Method, Request, SipMessage};
use madoguchi_sip::transaction::{
    CancelOutcome, ClientState, ClientTxId, ServerState, ServerTxId, Timer, TxConfig, TxError,
    TxEvent,
};
use transaction_common::*;

fn no_auto_trying() -> TxConfig {
    TxConfig {
        trying_delay: None,
        ..TxConfig::default()
    }
}

fn call(p: &mut Pair) -> (Request, ClientTxId, ServerTxId) {
    let r = invite("z9hG4bKcan1", "call-c", 1);
    let (ctx, stx) = p.send_to_bob(&r);
    (r, ctx, stx)
}

/// Bob's view of the CANCEL: (its own tx, the INVITE it found).
fn bobs_cancel(p: &Pair) -> Option<(ServerTxId, Option<ServerTxId>, Request)> {
    p.b.events.iter().find_map(|(_, e)| match e {
        TxEvent::Cancel {
            tx,
            invite,
            request,
            ..
        } => Some((*tx, *invite, request.clone())),
        _ => None,
    })
}

/// Statuses of the responses Alice's TU saw on `tx`.
fn statuses(p: &Pair, ctx: ClientTxId) -> Vec<u16> {
    p.a.events
        .iter()
        .filter_map(|(_, e)| match e {
            TxEvent::Response { tx, response } if *tx == ctx => Some(response.status),
            _ => None,
        })
        .collect()
}

#[test]
fn cancel_before_any_response_waits_for_a_provisional_then_487_ends_the_invite() {
    let mut p = Pair::new(no_auto_trying());
    let (r, ctx, stx) = call(&mut p);
    assert_eq!(p.a.layer.cancel(ctx, p.now), Ok(CancelOutcome::Deferred));
    p.run_until(ms(1_000));
    assert!(
        p.a.sent_times("CANCEL").is_empty(),
        "§9.1: no CANCEL before a provisional"
    );
    p.b.layer
        .send_response(stx, answer(&r, 180, Some("b1")), p.now)
        .unwrap();
    p.settle();
    assert_eq!(p.a.sent_times("CANCEL"), [1_000]);
    let (cancel_tx, invite, cancel) = bobs_cancel(&p).expect("bob saw the CANCEL");
    assert_eq!(invite, Some(stx));
    assert_eq!(p.b.layer.server_tx_for_cancel(&cancel), Some(stx));
    // Bob's TU: 200 to the CANCEL, 487 to the INVITE (§9.2).
    p.b.layer
        .send_response(cancel_tx, Response200::of(&cancel), p.now)
        .unwrap();
    p.b.layer
        .send_response(stx, answer(&r, 487, Some("b1")), p.now)
        .unwrap();
    p.settle();
    // Alice's TU saw 180 and 487, not the CANCEL's 200; the 487 was ACKed by the layer.
    assert_eq!(statuses(&p, ctx), [180, 487]);
    assert!(!p
        .a
        .events
        .iter()
        .any(|(_, e)| matches!(e, TxEvent::Response { tx, .. } if *tx != ctx)));
    assert_eq!(p.a.sent_times("ACK"), [1_000]);
    assert_eq!(p.a.layer.client_state(ctx), Some(ClientState::Completed));
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Confirmed));
    // INVITE retransmissions: 0 and 500 (Timer A) until the 180.
    assert_eq!(p.a.sent_times("INVITE"), [0, 500]);
}

#[test]
fn cancel_after_200_the_2xx_wins_and_the_uac_acks_then_byes() {
    let mut p = Pair::new(TxConfig::default());
    let (r, ctx, stx) = call(&mut p);
    p.b.layer
        .send_response(stx, answer(&r, 180, Some("b1")), p.now)
        .unwrap();
    p.settle();
    // They cross: Bob answers 200 while Alice cancels.
    p.b.layer
        .send_response(stx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    assert_eq!(p.a.layer.cancel(ctx, p.now), Ok(CancelOutcome::Sent));
    p.settle();
    assert_eq!(statuses(&p, ctx), [180, 200]);
    let (cancel_tx, invite, cancel) = bobs_cancel(&p).unwrap();
    assert_eq!(invite, Some(stx));
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Accepted));
    // Too late for 487: the INVITE already has its final response.
    p.b.layer
        .send_response(cancel_tx, Response200::of(&cancel), p.now)
        .unwrap();
    assert_eq!(
        p.b.layer
            .send_response(stx, answer(&r, 487, Some("b1")), p.now),
        Err(TxError::InvalidState)
    );
    // A later cancel() call is a no-op.
    assert_eq!(p.a.layer.cancel(ctx, p.now), Ok(CancelOutcome::TooLate));
    // Alice's TU must ACK the 2xx, then BYE.
    let mut ack = r.clone();
    ack.method = Method::Ack;
    ack.headers
        .set("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKack1");
    ack.headers.set("To", "<sip:bob@192.0.2.2>;tag=b1");
    ack.headers.set("CSeq", "1 ACK");
    p.a.layer
        .send_2xx_ack(ctx, &ack, p.peer_b(), p.now)
        .unwrap();
    let mut bye = request("BYE", "z9hG4bKbye1", "call-c", 2);
    bye.headers.set("To", "<sip:bob@192.0.2.2>;tag=b1");
    let bye_tx = p.a.layer.send_request(bye, p.peer_b(), p.now).unwrap();
    p.settle();
    assert!(p
        .b
        .events
        .iter()
        .any(|(_, e)| matches!(e, TxEvent::Ack { invite: Some(t), .. } if *t == stx)));
    let bye_stx =
        p.b.events
            .iter()
            .find_map(|(_, e)| match e {
                TxEvent::Request { tx, request, .. } if request.method == Method::Bye => Some(*tx),
                _ => None,
            })
            .expect("bob got the BYE");
    p.b.layer
        .send_response(
            bye_stx,
            Response200::of_req(&p.b.events, Method::Bye),
            p.now,
        )
        .unwrap();
    p.settle();
    assert!(p
        .a
        .events
        .iter()
        .any(|(_, e)| matches!(e, TxEvent::Response { tx, response } if *tx == bye_tx && response.status == 200)));
}

#[test]
fn cancel_crossing_a_486_gets_no_487_and_the_486_is_acked() {
    let mut p = Pair::new(TxConfig::default());
    let (r, ctx, stx) = call(&mut p);
    p.b.layer
        .send_response(stx, answer(&r, 180, Some("b1")), p.now)
        .unwrap();
    p.settle();
    p.b.layer
        .send_response(stx, answer(&r, 486, Some("b1")), p.now)
        .unwrap();
    assert_eq!(p.a.layer.cancel(ctx, p.now), Ok(CancelOutcome::Sent));
    p.settle();
    // Bob got the CANCEL for an INVITE already answered 486: he answers 200 only.
    let (cancel_tx, invite, cancel) = bobs_cancel(&p).unwrap();
    assert_eq!(invite, Some(stx));
    p.b.layer
        .send_response(cancel_tx, Response200::of(&cancel), p.now)
        .unwrap();
    p.settle();
    assert_eq!(statuses(&p, ctx), [180, 486]);
    assert_eq!(p.a.sent_times("ACK"), [0]);
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Confirmed));
    // Everything drains: CANCEL client tx after Timer K, INVITE after D, Bob after I/J.
    p.run_until(ms(40_000));
    assert!(p.a.layer.is_empty(), "alice still has {}", p.a.layer.len());
    assert!(p.b.layer.is_empty(), "bob still has {}", p.b.layer.len());
    assert!(!p
        .a
        .events
        .iter()
        .any(|(_, e)| matches!(e, TxEvent::Timeout { .. })));
}

#[test]
fn cancel_without_any_final_times_out_64_t1_after_the_cancel() {
    let mut p = Pair::new(TxConfig::default());
    let (r, ctx, stx) = call(&mut p);
    p.b.layer
        .send_response(stx, answer(&r, 180, Some("b1")), p.now)
        .unwrap();
    // Bob's TU is dead: it answers neither the CANCEL nor the INVITE.
    p.run_until(ms(1_000));
    assert_eq!(p.a.layer.cancel(ctx, p.now), Ok(CancelOutcome::Sent));
    p.run_until(ms(60_000));
    let timeouts: Vec<_> =
        p.a.events
            .iter()
            .filter_map(|(t, e)| match e {
                TxEvent::Timeout { tx, timer } => Some((*t, *tx, *timer)),
                _ => None,
            })
            .collect();
    // Only the INVITE's guard is reported, not the CANCEL's own Timer F.
    assert_eq!(timeouts, [(ms(33_000), ctx, Timer::CancelNoFinal)]);
    assert_eq!(p.a.layer.client_state(ctx), None);
}

#[test]
fn deferred_cancel_is_dropped_when_a_final_arrives_first() {
    let mut p = Pair::new(no_auto_trying());
    let (r, ctx, stx) = call(&mut p);
    assert_eq!(p.a.layer.cancel(ctx, p.now), Ok(CancelOutcome::Deferred));
    p.b.layer
        .send_response(stx, answer(&r, 603, Some("b1")), p.now)
        .unwrap();
    p.run_until(ms(40_000));
    assert!(p.a.sent_times("CANCEL").is_empty());
    assert_eq!(statuses(&p, ctx), [603]);
}

#[test]
fn cancel_for_an_unknown_invite_is_reported_without_match() {
    let mut p = Pair::new(TxConfig::default());
    let mut c = invite("z9hG4bKnone", "call-x", 1);
    c.method = Method::Cancel;
    c.headers.set("CSeq", "1 CANCEL");
    p.b.layer
        .handle_incoming(SipMessage::Request(c), p.peer_a(), p.now)
        .unwrap();
    p.settle();
    assert!(matches!(
        p.b.events[..],
        [(_, TxEvent::Cancel { invite: None, .. })]
    ));
}

#[test]
fn cancel_is_refused_for_non_invite_and_unknown_transactions() {
    let mut p = Pair::new(TxConfig::default());
    let tx =
        p.a.layer
            .send_request(request("OPTIONS", "z9hG4bKopt", "c", 1), p.peer_b(), p.now)
            .unwrap();
    assert_eq!(p.a.layer.cancel(tx, p.now), Err(TxError::NotInvite));
    p.run_until(ms(40_000));
    assert_eq!(
        p.a.layer.cancel(tx, p.now),
        Err(TxError::UnknownTransaction)
    );
}

/// Small builders for Bob's replies.
struct Response200;

impl Response200 {
    fn of(r: &Request) -> madoguchi_sip::message::Response {
        madoguchi_sip::message::Response::for_request(r, 200, "OK")
    }

    fn of_req(
        events: &[(std::time::Duration, TxEvent)],
        method: Method,
    ) -> madoguchi_sip::message::Response {
        let r = events
            .iter()
            .find_map(|(_, e)| match e {
                TxEvent::Request { request, .. } if request.method == method => Some(request),
                _ => None,
            })
            .unwrap();
        assert!(r.call_id().is_some());
        Self::of(r)
    }
}
