//! A whole call through two transaction layers and their dialogs, on synthetic time:
//! INVITE → 180 → 200 → ACK, re-INVITE (hold) from the callee, BYE from the caller.

mod transaction_common;

use madoguchi_sip::dialog::{Dialog, DialogId, DialogSet, DialogState, ForkEvent};
use madoguchi_sip::message::{HeaderAccess, Host, Method, Request, Response, Transport, Via};
use madoguchi_sip::transaction::{ClientTxId, ServerTxId, TxConfig, TxEvent};
use madoguchi_sip::transport_rules::new_via;
use transaction_common::*;

fn via(ip: &str) -> Via {
    new_via(
        Transport::Udp,
        Host::V4(ip.parse().unwrap()),
        5060,
        &mut rand::thread_rng(),
    )
}

/// Takes the first event matching `f` from an agent's log.
fn take<T>(a: &mut Agent, mut f: impl FnMut(&TxEvent) -> Option<T>) -> T {
    let i = a
        .events
        .iter()
        .position(|(_, e)| f(e).is_some())
        .unwrap_or_else(|| panic!("{}: no such event in {:?}", a.name, a.events));
    let (_, e) = a.events.remove(i);
    f(&e).unwrap()
}

fn request_event(e: &TxEvent, m: Method) -> Option<(ServerTxId, Request)> {
    match e {
        TxEvent::Request { tx, request, .. } if request.method == m => Some((*tx, request.clone())),
        _ => None,
    }
}

fn response_event(e: &TxEvent, id: ClientTxId, status: u16) -> Option<Response> {
    match e {
        TxEvent::Response { tx, response } if *tx == id && response.status == status => {
            Some(response.clone())
        }
        _ => None,
    }
}

#[test]
fn invite_ringing_answer_hold_and_bye() {
    let mut p = Pair::new(TxConfig::default());

    // Alice calls.
    let inv = invite("z9hG4bKflow1", "flow-1", 1);
    let inv_tx =
        p.a.layer
            .send_request(inv.clone(), p.peer_b(), p.now)
            .unwrap();
    let mut set = DialogSet::new(inv.clone());
    p.settle();

    // Bob rings after 1 s (the layer sent 100 Trying at 200 ms meanwhile).
    let (bob_inv_tx, bob_inv) = take(&mut p.b, |e| request_event(e, Method::Invite));
    let mut bob = Dialog::uas(&bob_inv, "bobtag").unwrap();
    p.run_until(ms(1_000));
    let mut ringing = Response::for_request(&bob_inv, 180, "Ringing");
    bob.tag_response(&mut ringing);
    p.b.layer.send_response(bob_inv_tx, ringing, p.now).unwrap();
    p.settle();
    let r100 = take(&mut p.a, |e| response_event(e, inv_tx, 100));
    assert_eq!(set.on_response(&r100).unwrap(), ForkEvent::Nothing);
    let r180 = take(&mut p.a, |e| response_event(e, inv_tx, 180));
    assert_eq!(
        set.on_response(&r180).unwrap(),
        ForkEvent::Early {
            remote_tag: "bobtag".into(),
            new: true
        }
    );

    // Bob answers at 3 s.
    p.run_until(ms(3_000));
    let mut ok = Response::for_request(&bob_inv, 200, "OK");
    bob.tag_response(&mut ok);
    ok.headers.push("Contact", "<sip:bob@192.0.2.2:5060>");
    p.b.layer.send_response(bob_inv_tx, ok, p.now).unwrap();
    bob.confirm();
    p.settle();
    let r200 = take(&mut p.a, |e| response_event(e, inv_tx, 200));
    assert_eq!(
        set.on_response(&r200).unwrap(),
        ForkEvent::Confirmed {
            remote_tag: "bobtag".into()
        }
    );
    let mut alice = set.into_confirmed().unwrap();
    assert_eq!(alice.state(), DialogState::Confirmed);
    let ack = alice.ack(1, &via("192.0.2.1"));
    p.a.layer
        .send_2xx_ack(inv_tx, &ack, p.peer_b(), p.now)
        .unwrap();
    p.settle();
    let (ack_for, ack_req) = take(&mut p.b, |e| match e {
        TxEvent::Ack {
            invite, request, ..
        } => Some((*invite, request.clone())),
        _ => None,
    });
    assert_eq!(ack_for, Some(bob_inv_tx));
    bob.on_request(&ack_req).unwrap();
    assert_eq!(p.b.sent_times("SIP/2.0 100"), [200]);
    assert_eq!(
        p.b.sent_times("SIP/2.0 200"),
        [3_000],
        "ACK came before any 2xx retransmission"
    );

    // Bob puts Alice on hold with a re-INVITE.
    p.run_until(ms(10_000));
    let reinv = bob.request(Method::Invite, &via("192.0.2.2"));
    let reinv_tx = p.b.layer.send_request(reinv, p.peer_a(), p.now).unwrap();
    p.settle();
    let (a_reinv_tx, a_reinv) = take(&mut p.a, |e| request_event(e, Method::Invite));
    assert_eq!(
        DialogId::from_incoming_request(&a_reinv).unwrap(),
        *alice.id()
    );
    alice.on_request(&a_reinv).unwrap();
    let mut ok = Response::for_request(&a_reinv, 200, "OK");
    ok.headers.push("Contact", "<sip:alice@192.0.2.1:5060>");
    p.a.layer.send_response(a_reinv_tx, ok, p.now).unwrap();
    p.settle();
    let reinv_ok = take(&mut p.b, |e| response_event(e, reinv_tx, 200));
    bob.on_response(&Method::Invite, &reinv_ok).unwrap();
    let seq = reinv_ok.cseq().unwrap().seq;
    assert_eq!(seq, 1, "Bob's first request in the dialog");
    let ack = bob.ack(seq, &via("192.0.2.2"));
    p.b.layer
        .send_2xx_ack(reinv_tx, &ack, p.peer_a(), p.now)
        .unwrap();
    p.settle();
    assert!(matches!(
        take(&mut p.a, |e| match e {
            TxEvent::Ack { invite, .. } => Some(*invite),
            _ => None,
        }),
        Some(t) if t == a_reinv_tx
    ));

    // Alice hangs up.
    p.run_until(ms(20_000));
    let bye = alice.request(Method::Bye, &via("192.0.2.1"));
    assert_eq!(bye.cseq().unwrap().seq, 2);
    let bye_tx = p.a.layer.send_request(bye, p.peer_b(), p.now).unwrap();
    p.settle();
    let (b_bye_tx, b_bye) = take(&mut p.b, |e| request_event(e, Method::Bye));
    bob.on_request(&b_bye).unwrap();
    p.b.layer
        .send_response(b_bye_tx, Response::for_request(&b_bye, 200, "OK"), p.now)
        .unwrap();
    p.settle();
    take(&mut p.a, |e| response_event(e, bye_tx, 200));

    // Nothing else happened, and every transaction drains.
    p.run_until(ms(60_000));
    assert!(p.a.events.is_empty(), "{:?}", p.a.events);
    assert!(p.b.events.is_empty(), "{:?}", p.b.events);
    assert!(p.a.layer.is_empty() && p.b.layer.is_empty());
    assert_eq!(p.a.layer.poll_timeout(), None);
}
