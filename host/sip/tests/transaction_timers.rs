//! Every RFC 3261 transaction timer fires at the right time, with exact counts.

mod transaction_common;

use madoguchi_sip::message::{SipMessage, Transport};
use madoguchi_sip::transaction::{ClientState, Peer, ServerState, Timer, TxConfig, TxEvent};
use transaction_common::*;

/// An address where nobody listens: everything sent there is lost.
fn void() -> Peer {
    Peer::udp(addr("192.0.2.99:5060"))
}

#[test]
fn timer_a_doubles_without_cap_and_timer_b_fires_at_64_t1() {
    let mut p = Pair::new(TxConfig::default());
    let tx =
        p.a.layer
            .send_request(invite("z9hG4bKa1", "c1", 1), void(), p.now)
            .unwrap();
    p.run_until(ms(31_999));
    assert_eq!(p.a.layer.client_state(tx), Some(ClientState::Calling));
    assert!(p.a.events.is_empty());
    p.run_until(ms(40_000));
    // RFC 3261 §17.1.1.2: A starts at T1 and doubles each time (no T2 cap for INVITE).
    assert_eq!(
        p.a.sent_times("INVITE"),
        [0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    let ev = p.a.take_events();
    assert_eq!(ev.len(), 1);
    assert!(
        matches!(ev[0], (t, TxEvent::Timeout { tx: id, timer: Timer::B }) if t == ms(32_000) && id == tx)
    );
    assert_eq!(p.a.layer.client_state(tx), None);
    assert!(p.a.layer.is_empty());
}

#[test]
fn timer_e_doubles_to_t2_and_timer_f_fires_at_64_t1() {
    let mut p = Pair::new(TxConfig::default());
    let tx =
        p.a.layer
            .send_request(request("OPTIONS", "z9hG4bKe1", "c1", 1), void(), p.now)
            .unwrap();
    p.run_until(ms(40_000));
    assert_eq!(
        p.a.sent_times("OPTIONS"),
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    let ev = p.a.take_events();
    assert_eq!(ev.len(), 1);
    assert!(
        matches!(ev[0], (t, TxEvent::Timeout { tx: id, timer: Timer::F }) if t == ms(32_000) && id == tx)
    );
}

#[test]
fn timer_e_runs_at_t2_in_proceeding() {
    let mut p = Pair::new(TxConfig::default());
    // Bob answers 100 at 100 ms and never more.
    let r = request("OPTIONS", "z9hG4bKe2", "c1", 1);
    let tx = p.a.layer.send_request(r.clone(), void(), p.now).unwrap();
    p.run_until(ms(100));
    p.a.layer
        .handle_incoming(
            SipMessage::Response(answer(&r, 100, None)),
            p.peer_b(),
            p.now,
        )
        .unwrap();
    p.run_until(ms(20_000));
    assert_eq!(p.a.layer.client_state(tx), Some(ClientState::Proceeding));
    // E was due at 500 (set in Trying); from then on every T2.
    assert_eq!(
        p.a.sent_times("OPTIONS"),
        [0, 500, 4500, 8500, 12500, 16500]
    );
    p.run_until(ms(32_000));
    assert_eq!(p.a.layer.client_state(tx), None);
}

#[test]
fn timer_d_is_32s_on_udp_and_absorbs_final_retransmissions() {
    let mut p = Pair::new(TxConfig::default());
    let r = invite("z9hG4bKd1", "c1", 1);
    let tx = p.a.layer.send_request(r.clone(), void(), p.now).unwrap();
    p.run_until(ms(100));
    let busy = SipMessage::Response(answer(&r, 486, Some("b1")));
    p.a.layer
        .handle_incoming(busy.clone(), p.peer_b(), p.now)
        .unwrap();
    p.settle();
    assert_eq!(p.a.layer.client_state(tx), Some(ClientState::Completed));
    // The ACK went to where the INVITE went, at once.
    assert_eq!(p.a.sent_times("ACK"), [100]);
    // A retransmitted 486 is answered with the same ACK, and not reported again.
    p.run_until(ms(5_000));
    p.a.layer.handle_incoming(busy, p.peer_b(), p.now).unwrap();
    p.settle();
    assert_eq!(p.a.sent_times("ACK"), [100, 5000]);
    let responses =
        p.a.events
            .iter()
            .filter(|(_, e)| matches!(e, TxEvent::Response { .. }))
            .count();
    assert_eq!(responses, 1);
    // No INVITE retransmission after the final response.
    assert_eq!(p.a.sent_times("INVITE"), [0]);
    p.run_until(ms(32_099));
    assert_eq!(p.a.layer.client_state(tx), Some(ClientState::Completed));
    p.run_until(ms(32_100));
    assert_eq!(p.a.layer.client_state(tx), None);
}

#[test]
fn timer_d_is_zero_on_tcp() {
    let mut p = Pair::with_transport(TxConfig::default(), Transport::Tcp);
    let r = invite("z9hG4bKd2", "c1", 1);
    let dest = Peer::tcp(addr("192.0.2.99:5060"));
    let tx =
        p.a.layer
            .send_request(r.clone(), dest.clone(), p.now)
            .unwrap();
    let busy = SipMessage::Response(answer(&r, 486, Some("b1")));
    p.a.layer.handle_incoming(busy, dest, p.now).unwrap();
    p.settle();
    assert_eq!(p.a.layer.client_state(tx), None);
    assert_eq!(p.a.sent_times("ACK"), [0]);
}

#[test]
fn timer_k_is_t4_on_udp_and_zero_on_tcp() {
    let mut p = Pair::new(TxConfig::default());
    let r = request("OPTIONS", "z9hG4bKk1", "c1", 1);
    let tx = p.a.layer.send_request(r.clone(), void(), p.now).unwrap();
    p.run_until(ms(200));
    let ok = SipMessage::Response(answer(&r, 200, Some("b1")));
    p.a.layer
        .handle_incoming(ok.clone(), p.peer_b(), p.now)
        .unwrap();
    p.run_until(ms(5_199));
    assert_eq!(p.a.layer.client_state(tx), Some(ClientState::Completed));
    // Retransmitted final absorbed: one Response event only.
    p.a.layer.handle_incoming(ok, p.peer_b(), p.now).unwrap();
    p.settle();
    assert_eq!(p.a.events.len(), 1);
    p.run_until(ms(5_200));
    assert_eq!(p.a.layer.client_state(tx), None);
    // Retransmission stopped at the response: only 0 (sent) before 200 ms.
    assert_eq!(p.a.sent_times("OPTIONS"), [0]);

    let mut p = Pair::with_transport(TxConfig::default(), Transport::Tcp);
    let dest = Peer::tcp(addr("192.0.2.99:5060"));
    let tx =
        p.a.layer
            .send_request(r.clone(), dest.clone(), p.now)
            .unwrap();
    let ok = SipMessage::Response(answer(&r, 200, Some("b1")));
    p.a.layer.handle_incoming(ok, dest, p.now).unwrap();
    assert_eq!(p.a.layer.client_state(tx), None);
}

/// Delivers `r` to bob as if alice sent it, and returns bob's new server transaction.
fn bob_receives(
    p: &mut Pair,
    r: madoguchi_sip::message::Request,
) -> madoguchi_sip::transaction::ServerTxId {
    p.b.layer
        .handle_incoming(SipMessage::Request(r), p.peer_a(), p.now)
        .unwrap();
    p.settle();
    match p.b.events.last() {
        Some((_, TxEvent::Request { tx, .. })) => *tx,
        other => panic!("expected a Request event, got {other:?}"),
    }
}

#[test]
fn timer_g_doubles_to_t2_and_timer_h_reports_missing_ack() {
    let mut p = Pair::new(TxConfig::default());
    // Alice's side never ACKs: drop what she would send.
    p.a.deliver = Box::new(|_| false);
    let r = invite("z9hG4bKg1", "c1", 1);
    let tx = bob_receives(&mut p, r.clone());
    p.run_until(ms(50));
    p.b.layer
        .send_response(tx, answer(&r, 486, Some("b1")), p.now)
        .unwrap();
    p.run_until(ms(40_000));
    let rel: Vec<u64> =
        p.b.sent_times("SIP/2.0 486")
            .iter()
            .map(|t| t - 50)
            .collect();
    assert_eq!(
        rel,
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    let timeouts: Vec<_> =
        p.b.events
            .iter()
            .filter_map(|(t, e)| match e {
                TxEvent::AckTimeout { tx: id, status } => Some((*t, *id, *status)),
                _ => None,
            })
            .collect();
    assert_eq!(timeouts, [(ms(32_050), tx, 486)]);
    assert_eq!(p.b.layer.server_state(tx), None);
    // 100 Trying was not sent: the TU answered within 200 ms.
    assert!(p.b.sent_times("SIP/2.0 100").is_empty());
}

#[test]
fn ack_stops_timer_g_and_timer_i_is_t4_on_udp() {
    let mut p = Pair::new(TxConfig::default());
    let r = invite("z9hG4bKi1", "c1", 1);
    let (ctx, stx) = p.send_to_bob(&r);
    // Lose the first 486 so one retransmission (Timer G) happens, at 500 ms.
    let mut lost = 0;
    p.b.deliver = Box::new(move |m| {
        if matches!(m, SipMessage::Response(r) if r.status == 486) && lost == 0 {
            lost += 1;
            return false;
        }
        true
    });
    // A 180 first puts Alice in Proceeding, so her Timer A does not muddle the count.
    p.b.layer
        .send_response(stx, answer(&r, 180, Some("b1")), p.now)
        .unwrap();
    p.b.layer
        .send_response(stx, answer(&r, 486, Some("b1")), p.now)
        .unwrap();
    p.settle();
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Completed));
    assert_eq!(p.a.layer.client_state(ctx), Some(ClientState::Proceeding));
    p.run_until(ms(500));
    // Alice got it, ACKed; Bob is Confirmed and stops retransmitting.
    assert_eq!(p.a.layer.client_state(ctx), Some(ClientState::Completed));
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Confirmed));
    p.run_until(ms(5_499));
    assert_eq!(p.b.layer.server_state(stx), Some(ServerState::Confirmed));
    p.run_until(ms(5_500));
    assert_eq!(p.b.layer.server_state(stx), None);
    assert_eq!(p.b.sent_times("SIP/2.0 486"), [0, 500]);
    // The ACK never reached Bob's TU (it belongs to the transaction).
    assert!(!p
        .b
        .events
        .iter()
        .any(|(_, e)| matches!(e, TxEvent::Ack { .. })));
}

#[test]
fn timer_i_is_zero_on_tcp() {
    let mut p = Pair::with_transport(TxConfig::default(), Transport::Tcp);
    let r = invite("z9hG4bKi2", "c1", 1);
    let (ctx, stx) = p.send_to_bob(&r);
    p.b.layer
        .send_response(stx, answer(&r, 486, Some("b1")), p.now)
        .unwrap();
    p.settle();
    assert_eq!(p.b.layer.server_state(stx), None);
    assert_eq!(p.a.layer.client_state(ctx), None);
    assert!(p.a.layer.is_empty() && p.b.layer.is_empty());
}

#[test]
fn timer_j_is_64_t1_on_udp_and_resends_final() {
    let mut p = Pair::new(TxConfig::default());
    p.a.deliver = Box::new(|_| false);
    let r = request("OPTIONS", "z9hG4bKj1", "c1", 1);
    let tx = bob_receives(&mut p, r.clone());
    p.b.layer
        .send_response(tx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    p.run_until(ms(10_000));
    // A retransmitted request gets the final again, and is not a new event.
    p.b.layer
        .handle_incoming(SipMessage::Request(r.clone()), p.peer_a(), p.now)
        .unwrap();
    p.settle();
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0, 10_000]);
    assert_eq!(p.b.events.len(), 1);
    p.run_until(ms(31_999));
    assert_eq!(p.b.layer.server_state(tx), Some(ServerState::Completed));
    p.run_until(ms(32_000));
    assert_eq!(p.b.layer.server_state(tx), None);
    // No response retransmission on its own for non-INVITE.
    assert_eq!(p.b.sent_times("SIP/2.0 200"), [0, 10_000]);
}

#[test]
fn timer_j_is_zero_on_tcp() {
    let mut p = Pair::with_transport(TxConfig::default(), Transport::Tcp);
    let r = request("OPTIONS", "z9hG4bKj2", "c1", 1);
    let tx = bob_receives(&mut p, r.clone());
    p.b.layer
        .send_response(tx, answer(&r, 200, Some("b1")), p.now)
        .unwrap();
    assert_eq!(p.b.layer.server_state(tx), None);
}

#[test]
fn trying_is_sent_after_200ms_when_the_tu_is_silent() {
    let mut p = Pair::new(TxConfig::default());
    let r = invite("z9hG4bKt1", "c1", 1);
    let ctx =
        p.a.layer
            .send_request(r.clone(), p.peer_b(), p.now)
            .unwrap();
    p.run_until(ms(199));
    assert!(p.b.sent_times("SIP/2.0 100").is_empty());
    p.run_until(ms(200));
    assert_eq!(p.b.sent_times("SIP/2.0 100"), [200]);
    // The 100 stopped Timer A: no INVITE retransmission at 500 ms.
    p.run_until(ms(10_000));
    assert_eq!(p.a.sent_times("INVITE"), [0]);
    assert_eq!(p.a.layer.client_state(ctx), Some(ClientState::Proceeding));
    // And Timer B no longer runs in Proceeding.
    p.run_until(ms(60_000));
    assert_eq!(p.a.layer.client_state(ctx), Some(ClientState::Proceeding));
}

#[test]
fn no_trying_when_the_tu_rings_first() {
    let mut p = Pair::new(TxConfig::default());
    let r = invite("z9hG4bKt2", "c1", 1);
    let tx = bob_receives(&mut p, r.clone());
    p.run_until(ms(150));
    p.b.layer
        .send_response(tx, answer(&r, 180, Some("b1")), p.now)
        .unwrap();
    p.run_until(ms(1_000));
    assert!(p.b.sent_times("SIP/2.0 100").is_empty());
    assert_eq!(p.b.sent_times("SIP/2.0 180"), [150]);
}

#[test]
fn trying_delay_is_configurable_and_can_be_disabled() {
    let cfg = TxConfig {
        trying_delay: None,
        ..TxConfig::default()
    };
    let mut p = Pair::new(cfg);
    let r = invite("z9hG4bKt3", "c1", 1);
    bob_receives(&mut p, r);
    p.run_until(ms(5_000));
    assert!(p.b.sent_times("SIP/2.0 100").is_empty());
}

#[test]
fn custom_t1_t2_scale_the_timers() {
    let cfg = TxConfig {
        t1: ms(100),
        t2: ms(400),
        ..TxConfig::default()
    };
    let mut p = Pair::new(cfg);
    let tx =
        p.a.layer
            .send_request(request("OPTIONS", "z9hG4bKc1", "c1", 1), void(), p.now)
            .unwrap();
    p.run_until(ms(10_000));
    assert_eq!(
        p.a.sent_times("OPTIONS"),
        [
            0, 100, 300, 700, 1100, 1500, 1900, 2300, 2700, 3100, 3500, 3900, 4300, 4700, 5100,
            5500, 5900, 6300
        ]
    );
    assert!(
        matches!(p.a.events[..], [(t, TxEvent::Timeout { tx: id, timer: Timer::F })] if t == ms(6_400) && id == tx)
    );
}

#[test]
fn an_unanswered_non_invite_is_dropped_after_64_t1() {
    let mut p = Pair::new(TxConfig::default());
    let r = request("OPTIONS", "z9hG4bKu1", "c1", 1);
    let tx = bob_receives(&mut p, r.clone());
    p.run_until(ms(31_999));
    assert_eq!(p.b.layer.server_state(tx), Some(ServerState::Trying));
    p.run_until(ms(32_000));
    assert_eq!(p.b.layer.server_state(tx), None);
    assert_eq!(
        p.b.layer
            .send_response(tx, answer(&r, 200, Some("b1")), p.now),
        Err(madoguchi_sip::transaction::TxError::UnknownTransaction)
    );
}
