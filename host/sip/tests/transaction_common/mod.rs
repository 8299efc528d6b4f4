//! Test harness for the transaction and dialog layers: a synthetic clock and two
//! in-process endpoints whose datagrams are serialized, parsed and delivered to each
//! other (like str0m's tests/common.rs). Nothing here opens a socket or sleeps.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use madoguchi_sip::message::{Request, Response, SipMessage, Transport};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::transaction::{
    ClientTxId, Output, Peer, ServerTxId, TransactionLayer, Transmit, TxConfig, TxEvent,
};

pub const ALICE: &str = "192.0.2.1:5060";
pub const BOB: &str = "192.0.2.2:5060";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Parses a message written with `\n` line ends (converted to CRLF).
pub fn msg(text: &str) -> SipMessage {
    let wire = text.replace("\r\n", "\n").replace('\n', "\r\n");
    match parse_datagram(wire.as_bytes(), &Limits::default()) {
        Ok(m) => m,
        Err(e) => panic!("test message does not parse: {:?}\n{wire}", e.error),
    }
}

pub fn req(text: &str) -> Request {
    match msg(text) {
        SipMessage::Request(r) => r,
        SipMessage::Response(_) => panic!("expected a request"),
    }
}

pub fn parse_bytes(b: &[u8]) -> SipMessage {
    parse_datagram(b, &Limits::default()).expect("layer emitted unparsable bytes")
}

/// An INVITE from alice (192.0.2.1) to bob, with the given branch and CSeq.
pub fn invite(branch: &str, call_id: &str, cseq: u32) -> Request {
    req(&format!(
        "INVITE sip:bob@192.0.2.2 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}
Max-Forwards: 70
From: <sip:alice@192.0.2.1>;tag=a1
To: <sip:bob@192.0.2.2>
Call-ID: {call_id}
CSeq: {cseq} INVITE
Contact: <sip:alice@192.0.2.1:5060>
Content-Length: 0

"
    ))
}

/// A non-INVITE request (OPTIONS, BYE, …) from alice.
pub fn request(method: &str, branch: &str, call_id: &str, cseq: u32) -> Request {
    req(&format!(
        "{method} sip:bob@192.0.2.2 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}
Max-Forwards: 70
From: <sip:alice@192.0.2.1>;tag=a1
To: <sip:bob@192.0.2.2>
Call-ID: {call_id}
CSeq: {cseq} {method}
Content-Length: 0

"
    ))
}

/// A response to `r` with a To-tag (except for 100).
pub fn answer(r: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut resp = Response::for_request(r, status, madoguchi_sip::message::reason_phrase(status));
    if let Some(tag) = to_tag {
        let to = resp.headers.get("To").unwrap().to_string();
        resp.headers.set("To", format!("{to};tag={tag}"));
        resp.headers
            .push("Contact", format!("<sip:{tag}@192.0.2.2:5060>"));
    }
    resp
}

/// One endpoint: a layer plus everything it emitted, stamped with the synthetic time.
pub struct Agent {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub layer: TransactionLayer,
    pub sent: Vec<(Duration, Transmit)>,
    pub events: Vec<(Duration, TxEvent)>,
    /// Datagrams from this agent are dropped while this returns false.
    pub deliver: Box<dyn FnMut(&SipMessage) -> bool>,
}

impl Agent {
    pub fn new(name: &'static str, a: &str, cfg: TxConfig) -> Agent {
        Agent {
            name,
            addr: addr(a),
            layer: TransactionLayer::new(cfg),
            sent: Vec::new(),
            events: Vec::new(),
            deliver: Box::new(|_| true),
        }
    }

    /// Takes all events seen so far.
    pub fn take_events(&mut self) -> Vec<(Duration, TxEvent)> {
        std::mem::take(&mut self.events)
    }

    /// Sent datagrams whose first line starts with `prefix` (e.g. "INVITE", "SIP/2.0 200").
    pub fn sent_times(&self, prefix: &str) -> Vec<u64> {
        self.sent
            .iter()
            .filter(|(_, t)| t.bytes.starts_with(prefix.as_bytes()))
            .map(|(at, _)| at.as_millis() as u64)
            .collect()
    }
}

/// Two agents on a synthetic clock, UDP or TCP between them, zero network delay.
pub struct Pair {
    pub t0: Instant,
    pub now: Instant,
    pub a: Agent,
    pub b: Agent,
    pub transport: Transport,
}

impl Pair {
    pub fn new(cfg: TxConfig) -> Pair {
        Pair::with_transport(cfg, Transport::Udp)
    }

    pub fn with_transport(cfg: TxConfig, transport: Transport) -> Pair {
        let t0 = Instant::now();
        Pair {
            t0,
            now: t0,
            a: Agent::new("alice", ALICE, cfg.clone()),
            b: Agent::new("bob", BOB, cfg),
            transport,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Where `b` is, as `a` sees it.
    pub fn peer_b(&self) -> Peer {
        Peer::new(self.transport.clone(), self.b.addr)
    }

    pub fn peer_a(&self) -> Peer {
        Peer::new(self.transport.clone(), self.a.addr)
    }

    /// Delivers outputs back and forth until both sides are quiet.
    /// Alice sends `r` to Bob and everything settles; returns Alice's client transaction and
    /// the server transaction Bob's first event opened.
    pub fn send_to_bob(&mut self, r: &Request) -> (ClientTxId, ServerTxId) {
        let ctx = self
            .a
            .layer
            .send_request(r.clone(), self.peer_b(), self.now)
            .unwrap();
        self.settle();
        let stx = match self.b.events.first() {
            Some((_, TxEvent::Request { tx, .. })) => *tx,
            other => panic!("expected a Request event, got {other:?}"),
        };
        (ctx, stx)
    }

    pub fn settle(&mut self) {
        loop {
            let mut moved = false;
            for from_a in [true, false] {
                let (src, dst) = if from_a {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                let at = self.now - self.t0;
                while let Some(out) = src.layer.poll_output() {
                    moved = true;
                    match out {
                        Output::Event(e) => src.events.push((at, e)),
                        Output::Transmit(t) => {
                            src.sent.push((at, t.clone()));
                            if t.peer.addr != dst.addr {
                                continue; // sent elsewhere: lost
                            }
                            let m = parse_bytes(&t.bytes);
                            if (src.deliver)(&m) {
                                let from = Peer::new(self.transport.clone(), src.addr);
                                let _ = dst.layer.handle_incoming(m, from, self.now);
                            }
                        }
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The earliest deadline of either side.
    pub fn next_timeout(&mut self) -> Option<Instant> {
        match (self.a.layer.poll_timeout(), self.b.layer.poll_timeout()) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        }
    }

    /// Runs timers (and deliveries) up to `t0 + at`, then sets the clock there.
    pub fn run_until(&mut self, at: Duration) {
        let end = self.t0 + at;
        self.settle();
        while let Some(next) = self.next_timeout() {
            if next > end {
                break;
            }
            self.now = next.max(self.now);
            self.a.layer.handle_timeout(self.now);
            self.b.layer.handle_timeout(self.now);
            self.settle();
        }
        self.now = end.max(self.now);
        self.settle();
    }

    /// Runs until neither side has a timer left (or `limit` passes).
    pub fn run_to_quiet(&mut self, limit: Duration) {
        self.run_until(limit);
    }
}
