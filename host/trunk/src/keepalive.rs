//! OPTIONS keepalive with a health state, sans-IO: every `interval` it asks for an OPTIONS
//! to the peer; any answer below 500 means up, a 5xx/408 or no answer within `timeout`
//! means down. A route that is down is skipped by failover until it answers again.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use madoguchi_sip::message::{HeaderAccess, HeaderName, Method, Request, Transport, Uri};
use madoguchi_sip::transport_rules::new_via;
use rand::Rng;

/// A peer's health as the keepalive sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No answer or failure yet.
    Unknown,
    Up,
    Down,
}

#[derive(Debug)]
pub struct Keepalive {
    uri: Uri,
    local: SocketAddr,
    interval: Duration,
    timeout: Duration,
    next: Instant,
    /// The OPTIONS out, and when we stop waiting for it.
    waiting: Option<(u32, Instant)>,
    call_id: String,
    cseq: u32,
    health: Health,
    last_error: Option<String>,
}

impl Keepalive {
    /// A keepalive that sends its first OPTIONS at `now`. `uri` is the peer's (e.g.
    /// `sip:127.0.0.1:5080`), `local` our address towards it.
    pub fn new(uri: Uri, local: SocketAddr, interval: Duration, now: Instant) -> Keepalive {
        Keepalive {
            uri,
            local,
            interval: interval.max(Duration::from_secs(1)),
            // Well below Timer F (32 s): a dead route is known before a caller needs it.
            timeout: interval.clamp(Duration::from_secs(1), Duration::from_secs(5)),
            next: now,
            waiting: None,
            call_id: format!("ka-{:016x}@madoguchi", rand::thread_rng().gen::<u64>()),
            cseq: 0,
            health: Health::Unknown,
            last_error: None,
        }
    }

    pub fn health(&self) -> Health {
        self.health
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn poll_timeout(&self) -> Instant {
        match self.waiting {
            Some((_, until)) => until.min(self.next),
            None => self.next,
        }
    }

    /// The OPTIONS to send now, if one is due; also notices an OPTIONS left unanswered.
    pub fn poll_request(&mut self, now: Instant) -> Option<Request> {
        if let Some((_, until)) = self.waiting {
            if now >= until {
                self.waiting = None;
                self.mark(Health::Down, Some("no answer to OPTIONS".into()));
            }
        }
        if now < self.next || self.waiting.is_some() {
            return None;
        }
        self.next = now + self.interval;
        self.cseq += 1;
        self.waiting = Some((self.cseq, now + self.timeout));
        let mut req = Request::new(Method::Options, self.uri.clone());
        let via = new_via(
            Transport::Udp,
            self.local.ip().into(),
            self.local.port(),
            &mut rand::thread_rng(),
        );
        let h = req.headers_mut();
        h.push(HeaderName::VIA, via.to_string());
        h.push(HeaderName::MAX_FORWARDS, "70");
        h.push(
            HeaderName::FROM,
            format!("<sip:keepalive@{}>;tag={}", fmt_addr(self.local), self.cseq),
        );
        h.push(HeaderName::TO, format!("<{}>", self.uri));
        h.push(HeaderName::CALL_ID, self.call_id.clone());
        h.push(HeaderName::CSEQ, format!("{} OPTIONS", self.cseq));
        h.push(HeaderName::ACCEPT, "application/sdp");
        Some(req)
    }

    /// A final answer to OPTIONS number `cseq`.
    pub fn on_response(&mut self, cseq: u32, status: u16, reason: &str) {
        if self.waiting.is_some_and(|(c, _)| c == cseq) {
            self.waiting = None;
        }
        if status >= 500 || status == 408 {
            self.mark(
                Health::Down,
                Some(format!("OPTIONS answered {status} {reason}")),
            );
        } else if status >= 200 {
            self.mark(Health::Up, None);
        }
    }

    /// The OPTIONS could not be sent or timed out in the transaction layer.
    pub fn on_failure(&mut self, why: &str) {
        self.waiting = None;
        self.mark(Health::Down, Some(why.to_string()));
    }

    /// What a call through this peer learned: a 5xx/408 or timeout marks it down at once.
    pub fn observe_call_failure(&mut self, status: u16) {
        self.mark(Health::Down, Some(format!("call answered {status}")));
    }

    fn mark(&mut self, h: Health, err: Option<String>) {
        self.health = h;
        if err.is_some() || h == Health::Up {
            self.last_error = err;
        }
    }
}

pub(crate) fn fmt_addr(a: SocketAddr) -> String {
    match a {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ka(t0: Instant) -> Keepalive {
        Keepalive::new(
            madoguchi_sip::parse::parse_uri("sip:127.0.0.1:5080").unwrap(),
            "127.0.0.1:5060".parse().unwrap(),
            Duration::from_secs(10),
            t0,
        )
    }

    #[test]
    fn up_down_by_answers_and_silence() {
        let t0 = Instant::now();
        let mut k = ka(t0);
        assert_eq!(k.health(), Health::Unknown);
        let r = k.poll_request(t0).unwrap();
        assert_eq!(r.method, Method::Options);
        let seq = r.cseq().unwrap().seq;
        assert!(k.poll_request(t0).is_none());
        k.on_response(seq, 200, "OK");
        assert_eq!(k.health(), Health::Up);
        // 404/405 still prove the peer is alive.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(k.poll_timeout(), t1);
        let r = k.poll_request(t1).unwrap();
        k.on_response(r.cseq().unwrap().seq, 405, "Method Not Allowed");
        assert_eq!(k.health(), Health::Up);
        // Silence: down after 5 s, not 32.
        let t2 = t1 + Duration::from_secs(10);
        k.poll_request(t2).unwrap();
        assert_eq!(k.poll_timeout(), t2 + Duration::from_secs(5));
        assert!(k.poll_request(t2 + Duration::from_secs(5)).is_none());
        assert_eq!(k.health(), Health::Down);
        assert_eq!(k.last_error(), Some("no answer to OPTIONS"));
        // 503 is down; the next 200 brings it back.
        let t3 = t2 + Duration::from_secs(10);
        let r = k.poll_request(t3).unwrap();
        k.on_response(r.cseq().unwrap().seq, 503, "Service Unavailable");
        assert_eq!(k.health(), Health::Down);
        let t4 = t3 + Duration::from_secs(10);
        let r = k.poll_request(t4).unwrap();
        k.on_response(r.cseq().unwrap().seq, 200, "OK");
        assert_eq!(k.health(), Health::Up);
        assert_eq!(k.last_error(), None);
        k.observe_call_failure(408);
        assert_eq!(k.health(), Health::Down);
    }
}
