//! Many calls through two layers, with real serialization and parsing in between, at
//! 1,000 new calls per synthetic second: every transaction and timer drains afterwards.
//! Prints the wall-clock rate (run with `--release --nocapture` for a meaningful figure).

mod transaction_common;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use madoguchi_sip::message::{HeaderAccess, Method, Request, Response, SipMessage};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::transaction::{Output, Peer, TransactionLayer, TxConfig, TxEvent};
use transaction_common::*;

const CALLS: u32 = 5_000;

struct Side {
    layer: TransactionLayer,
    me: Peer,
}

/// Bob's TU: ring and answer at once; answer BYE 200.
fn bob_tu(l: &mut TransactionLayer, e: TxEvent, now: Instant) {
    if let TxEvent::Request { tx, request, .. } = e {
        match request.method {
            Method::Invite => {
                let mut r = Response::for_request(&request, 180, "Ringing");
                let to = format!("{};tag=b", request.headers.get("To").unwrap());
                r.headers.set("To", to.clone());
                l.send_response(tx, r, now).unwrap();
                let mut ok = Response::for_request(&request, 200, "OK");
                ok.headers.set("To", to);
                ok.headers.push("Contact", "<sip:bob@192.0.2.2>");
                l.send_response(tx, ok, now).unwrap();
            }
            _ => l
                .send_response(tx, Response::for_request(&request, 200, "OK"), now)
                .unwrap(),
        }
    }
}

/// Alice's TU: ACK each 2xx to INVITE and hang up with BYE.
fn alice_tu(l: &mut TransactionLayer, e: TxEvent, now: Instant, bob: &Peer, n: &mut u32) {
    if let TxEvent::Response { tx, response } = e {
        if response.status == 200 && response.cseq().unwrap().method == Method::Invite {
            let call_id = response.call_id().unwrap().to_string();
            let mut ack = Request::new(Method::Ack, response.to_hdr().unwrap().uri);
            ack.headers.push(
                "Via",
                format!("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa{call_id}"),
            );
            ack.headers.push("Max-Forwards", "70");
            ack.headers
                .push("From", response.headers.get("From").unwrap());
            ack.headers.push("To", response.headers.get("To").unwrap());
            ack.headers.push("Call-ID", call_id.clone());
            ack.headers.push("CSeq", "1 ACK");
            l.send_2xx_ack(tx, &ack, bob.clone(), now).unwrap();
            let mut bye = request("BYE", &format!("z9hG4bKb{call_id}"), &call_id, 2);
            bye.headers.set("To", response.headers.get("To").unwrap());
            l.send_request(bye, bob.clone(), now).unwrap();
            *n += 1;
        }
    }
}

#[test]
fn thousands_of_calls_drain_completely() {
    let t0 = Instant::now();
    let mut a = Side {
        layer: TransactionLayer::new(TxConfig::default()),
        me: Peer::udp(addr(ALICE)),
    };
    let mut b = Side {
        layer: TransactionLayer::new(TxConfig::default()),
        me: Peer::udp(addr(BOB)),
    };
    let limits = Limits::default();
    let mut wire: VecDeque<(bool, bytes::Bytes)> = VecDeque::new();
    let mut answered = 0u32;
    let mut datagrams = 0u64;
    let started = Instant::now();
    let mut now = t0;
    let end = t0 + Duration::from_millis(CALLS as u64) + Duration::from_secs(60);
    let mut next_call = 0u32;
    loop {
        if next_call < CALLS && now >= t0 + Duration::from_millis(next_call as u64) {
            let r = invite(
                &format!("z9hG4bKi{next_call}"),
                &format!("call{next_call}"),
                1,
            );
            a.layer.send_request(r, b.me.clone(), now).unwrap();
            next_call += 1;
        }
        // Shuttle until quiet.
        loop {
            let mut moved = false;
            while let Some(o) = a.layer.poll_output() {
                moved = true;
                match o {
                    Output::Transmit(t) => wire.push_back((true, t.bytes)),
                    Output::Event(e) => alice_tu(&mut a.layer, e, now, &b.me, &mut answered),
                }
            }
            while let Some(o) = b.layer.poll_output() {
                moved = true;
                match o {
                    Output::Transmit(t) => wire.push_back((false, t.bytes)),
                    Output::Event(e) => bob_tu(&mut b.layer, e, now),
                }
            }
            while let Some((to_b, bytes)) = wire.pop_front() {
                moved = true;
                datagrams += 1;
                let m: SipMessage = parse_datagram(&bytes, &limits).unwrap();
                if to_b {
                    let _ = b.layer.handle_incoming(m, a.me.clone(), now);
                } else {
                    let _ = a.layer.handle_incoming(m, b.me.clone(), now);
                }
            }
            if !moved {
                break;
            }
        }
        let next_start = (next_call < CALLS).then(|| t0 + Duration::from_millis(next_call as u64));
        let next = [a.layer.poll_timeout(), b.layer.poll_timeout(), next_start]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= end => {
                now = t.max(now);
                a.layer.handle_timeout(now);
                b.layer.handle_timeout(now);
            }
            _ => break,
        }
    }
    let wall = started.elapsed();
    assert_eq!(answered, CALLS);
    assert!(a.layer.is_empty(), "alice has {} left", a.layer.len());
    assert!(b.layer.is_empty(), "bob has {} left", b.layer.len());
    assert_eq!(a.layer.poll_timeout(), None);
    assert_eq!(b.layer.poll_timeout(), None);
    // 6 datagrams per call: INVITE, 180, 200, ACK, BYE, 200 — no retransmission on a
    // lossless link with replies inside T1 (the 100 Trying is not needed either).
    assert_eq!(datagrams, 6 * CALLS as u64);
    println!(
        "{CALLS} calls ({datagrams} datagrams, serialized and parsed) in {wall:?}: {:.0} call setups/s on one core",
        CALLS as f64 / wall.as_secs_f64()
    );
}
