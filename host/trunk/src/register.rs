//! The trunk's registration (RFC 3261 §10) as a sans-IO machine: it says when to send a
//! REGISTER and what it is, answers digest challenges, refreshes before expiry and backs
//! off after failures. The glue sends its requests through the transaction layer and feeds
//! back the final responses and timeouts; the machine never waits on anything.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use madoguchi_sip::auth::client::{authorization, choose_challenge, Challenge};
use madoguchi_sip::message::{HeaderAccess, HeaderName, Method, Request, Response, Transport};
use madoguchi_sip::parse::parse_uri;
use madoguchi_sip::transport_rules::new_via;
use rand::Rng;

use crate::config::{Secret, TrunkConfig};

/// The longest back-off between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1800);
/// Challenges answered in a row for one registration attempt (a stale nonce may need one
/// more); beyond it the credentials are taken as refused.
const MAX_AUTH_ROUNDS: u32 = 2;

/// What the API shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegStatus {
    pub registered: bool,
    /// Until when the carrier holds our binding.
    pub expires_at: Option<Instant>,
    pub last_error: Option<String>,
    pub next_attempt: Option<Instant>,
    pub failures: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting to send at `next`.
    Waiting,
    /// A REGISTER is out.
    InFlight { auth_rounds: u32 },
}

/// One trunk's registration.
#[derive(Debug)]
pub struct Registration {
    username: String,
    password: Secret,
    domain: String,
    proxy: SocketAddr,
    local: SocketAddr,
    expires: u32,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: State,
    next: Option<Instant>,
    challenge: Option<(Challenge, bool)>,
    nc: u32,
    registered_until: Option<Instant>,
    last_error: Option<String>,
    failures: u32,
    retry: Duration,
}

impl Registration {
    /// A registration that sends its first REGISTER at `now`. `local` is our address on
    /// the listener that reaches the proxy (Via and Contact).
    pub fn new(cfg: &TrunkConfig, proxy: SocketAddr, local: SocketAddr, now: Instant) -> Self {
        let mut rng = rand::thread_rng();
        Registration {
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            domain: cfg.domain(),
            proxy,
            local,
            expires: cfg.expires,
            call_id: format!("reg-{:016x}@madoguchi", rng.gen::<u64>()),
            from_tag: format!("{:012x}", rng.gen::<u64>() & 0xffff_ffff_ffff),
            cseq: 0,
            state: State::Waiting,
            next: Some(now),
            challenge: None,
            nc: 0,
            registered_until: None,
            last_error: None,
            failures: 0,
            retry: Duration::from_secs(u64::from(cfg.retry_secs.max(1))),
        }
    }

    /// The REGISTER's Call-ID (the glue can tell its responses apart).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting => self.next,
            State::InFlight { .. } => None,
        }
    }

    /// The REGISTER to send now, if one is due.
    pub fn poll_request(&mut self, now: Instant) -> Option<Request> {
        if self.state != State::Waiting || self.next.is_none_or(|t| t > now) {
            return None;
        }
        self.state = State::InFlight { auth_rounds: 0 };
        self.next = None;
        Some(self.build())
    }

    fn build(&mut self) -> Request {
        self.cseq += 1;
        let uri = parse_uri(&format!("sip:{}", self.domain))
            .or_else(|_| parse_uri(&format!("sip:{}", self.proxy)))
            .expect("an IP address and port make a SIP URI");
        let mut req = Request::new(Method::Register, uri.clone());
        let via = new_via(
            Transport::Udp,
            self.local.ip().into(),
            self.local.port(),
            &mut rand::thread_rng(),
        );
        let aor = format!("<sip:{}@{}>", self.username, self.domain);
        let local = match self.local {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        let h = req.headers_mut();
        h.push(HeaderName::VIA, via.to_string());
        h.push(HeaderName::MAX_FORWARDS, "70");
        h.push(HeaderName::FROM, format!("{aor};tag={}", self.from_tag));
        h.push(HeaderName::TO, aor);
        h.push(HeaderName::CALL_ID, self.call_id.clone());
        h.push(HeaderName::CSEQ, format!("{} REGISTER", self.cseq));
        h.push(
            HeaderName::CONTACT,
            format!("<sip:{}@{local}>", self.username),
        );
        h.push(HeaderName::EXPIRES, self.expires.to_string());
        h.push(
            HeaderName::ALLOW,
            "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE",
        );
        if let Some((ch, proxy_auth)) = &self.challenge {
            self.nc += 1;
            let cnonce = format!("{:016x}", rand::thread_rng().gen::<u64>());
            let value = authorization(
                ch,
                &self.username,
                self.password.expose(),
                "REGISTER",
                &uri.to_string(),
                &cnonce,
                self.nc,
            );
            let name = if *proxy_auth {
                HeaderName::PROXY_AUTHORIZATION
            } else {
                HeaderName::AUTHORIZATION
            };
            h.push(name, value);
        }
        req
    }

    /// A final response to our REGISTER. Returns the next request when it must go at once
    /// (an answered challenge, a longer expiry after 423).
    pub fn on_response(&mut self, resp: &Response, now: Instant) -> Option<Request> {
        let State::InFlight { auth_rounds } = self.state else {
            return None;
        };
        if resp.is_provisional() {
            return None;
        }
        match resp.status {
            200..=299 => {
                let granted = granted_expires(resp, self.expires);
                if granted == 0 {
                    self.fail(now, "the registrar granted no expiry".into());
                    return None;
                }
                self.registered_until = Some(now + Duration::from_secs(granted.into()));
                self.last_error = None;
                self.failures = 0;
                self.state = State::Waiting;
                self.next = Some(now + refresh_after(granted));
                None
            }
            401 | 407 => {
                let proxy = resp.status == 407;
                let header = if proxy {
                    HeaderName::PROXY_AUTHENTICATE
                } else {
                    HeaderName::WWW_AUTHENTICATE
                };
                let Some(ch) = choose_challenge(resp.headers.get_all(header)) else {
                    self.fail(
                        now,
                        format!("{} without a digest challenge we can answer", resp.status),
                    );
                    return None;
                };
                if auth_rounds >= MAX_AUTH_ROUNDS
                    || (auth_rounds > 0 && !ch.stale && self.same_nonce(&ch))
                {
                    self.fail(
                        now,
                        format!("{} {}: credentials refused", resp.status, resp.reason),
                    );
                    return None;
                }
                if !self.same_nonce(&ch) {
                    self.nc = 0;
                }
                self.challenge = Some((ch, proxy));
                self.state = State::InFlight {
                    auth_rounds: auth_rounds + 1,
                };
                Some(self.build())
            }
            423 => {
                let min = resp
                    .headers
                    .get(HeaderName::MIN_EXPIRES)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > self.expires && *m <= 86_400);
                match min {
                    Some(m) if auth_rounds < 4 => {
                        self.expires = m;
                        self.state = State::InFlight {
                            auth_rounds: auth_rounds + 1,
                        };
                        Some(self.build())
                    }
                    _ => {
                        self.fail(now, "423 without a usable Min-Expires".into());
                        None
                    }
                }
            }
            s => {
                self.fail(now, format!("{s} {}", resp.reason));
                None
            }
        }
    }

    /// Our REGISTER got no answer (Timer F) or could not be sent.
    pub fn on_failure(&mut self, now: Instant, why: &str) {
        if matches!(self.state, State::InFlight { .. }) {
            self.fail(now, why.to_string());
        }
    }

    fn same_nonce(&self, ch: &Challenge) -> bool {
        self.challenge
            .as_ref()
            .is_some_and(|(c, _)| c.nonce == ch.nonce && c.realm == ch.realm)
    }

    fn fail(&mut self, now: Instant, error: String) {
        self.failures += 1;
        let backoff = self
            .retry
            .saturating_mul(1u32 << (self.failures - 1).min(16))
            .min(MAX_BACKOFF);
        self.last_error = Some(error);
        self.challenge = None;
        self.state = State::Waiting;
        self.next = Some(now + backoff);
    }

    pub fn status(&self, now: Instant) -> RegStatus {
        RegStatus {
            registered: self.registered_until.is_some_and(|t| t > now),
            expires_at: self.registered_until.filter(|t| *t > now),
            last_error: self.last_error.clone(),
            next_attempt: self.next,
            failures: self.failures,
        }
    }
}

/// The expiry the registrar granted: the `expires` param of our Contact, else Expires.
fn granted_expires(resp: &Response, asked: u32) -> u32 {
    let from_contact = resp
        .headers
        .get_all(HeaderName::CONTACT)
        .flat_map(|v| v.split(','))
        .find_map(|c| {
            c.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("expires")
                    .then(|| v.trim().parse::<u32>().ok())
                    .flatten()
            })
        });
    from_contact
        .or_else(|| {
            resp.headers
                .get(HeaderName::EXPIRES)
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(asked)
}

/// When to refresh a binding granted for `secs`: a minute before it ends, or halfway for
/// short ones, so a lost REGISTER still has time for its retransmissions.
pub fn refresh_after(secs: u32) -> Duration {
    let s = u64::from(secs);
    Duration::from_secs(if s > 120 { s - 60 } else { (s / 2).max(1) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_sip::auth::parse_auth_params;

    fn cfg() -> TrunkConfig {
        toml_trunk(
            r#"name = "carrier"
proxy = "127.0.0.1:5080"
username = "0462000000"
password = "pw-of-the-carrier"
dids = ["0462000000"]
expires = 600
retry_secs = 10"#,
        )
    }

    fn toml_trunk(body: &str) -> TrunkConfig {
        #[derive(serde::Deserialize)]
        struct F {
            trunk: Vec<TrunkConfig>,
        }
        let f: F = toml::from_str(&format!("[[trunk]]\n{body}")).unwrap();
        f.trunk.into_iter().next().unwrap()
    }

    fn reply(req: &Request, status: u16, extra: &[(&str, &str)]) -> Response {
        let mut r = Response::for_request(req, status, "X");
        for (k, v) in extra {
            r.headers.push(k, *v);
        }
        r
    }

    fn machine(t0: Instant) -> Registration {
        let c = cfg();
        Registration::new(
            &c,
            c.proxy_addr().unwrap(),
            "127.0.0.1:5060".parse().unwrap(),
            t0,
        )
    }

    const CHALLENGE: &str = r#"Digest realm="carrier", nonce="abc", qop="auth", algorithm=MD5"#;

    #[test]
    fn registers_with_digest_and_refreshes_before_expiry() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let r1 = m.poll_request(t0).unwrap();
        assert!(m.poll_request(t0).is_none(), "one REGISTER in flight");
        assert_eq!(r1.method, Method::Register);
        assert_eq!(r1.uri.to_string(), "sip:127.0.0.1:5080");
        assert!(r1.headers.get(HeaderName::AUTHORIZATION).is_none());
        let text = String::from_utf8(r1.to_bytes()).unwrap();
        assert!(
            text.contains("Contact: <sip:0462000000@127.0.0.1:5060>"),
            "{text}"
        );
        assert!(!text.contains("pw-of-the-carrier"));
        let r2 = m
            .on_response(&reply(&r1, 401, &[("WWW-Authenticate", CHALLENGE)]), t0)
            .unwrap();
        let auth = r2.headers.get(HeaderName::AUTHORIZATION).unwrap();
        let p = parse_auth_params(auth).unwrap();
        assert_eq!(p.get("username"), Some("0462000000"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert!(!auth.contains("pw-of-the-carrier"));
        assert_eq!(r2.call_id(), r1.call_id());
        assert_eq!(r2.cseq().unwrap().seq, r1.cseq().unwrap().seq + 1);
        assert!(m
            .on_response(&reply(&r2, 200, &[("Expires", "600")]), t0)
            .is_none());
        let st = m.status(t0);
        assert!(st.registered);
        assert_eq!(st.last_error, None);
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(540)));
        assert!(m.poll_request(t0 + Duration::from_secs(539)).is_none());
        // The refresh reuses the nonce with the next count.
        let t1 = t0 + Duration::from_secs(540);
        let r3 = m.poll_request(t1).unwrap();
        let p = parse_auth_params(r3.headers.get(HeaderName::AUTHORIZATION).unwrap()).unwrap();
        assert_eq!(p.get("nc"), Some("00000002"));
        // A short grant in the Contact wins over Expires; refreshed halfway.
        m.on_response(
            &reply(
                &r3,
                200,
                &[
                    ("Contact", "<sip:0462000000@127.0.0.1:5060>;expires=60"),
                    ("Expires", "600"),
                ],
            ),
            t1,
        );
        assert_eq!(m.poll_timeout(), Some(t1 + Duration::from_secs(30)));
        assert!(m.status(t1 + Duration::from_secs(59)).registered);
        assert!(!m.status(t1 + Duration::from_secs(60)).registered);
    }

    #[test]
    fn refused_credentials_back_off_doubling() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let r1 = m.poll_request(t0).unwrap();
        let r2 = m
            .on_response(&reply(&r1, 401, &[("WWW-Authenticate", CHALLENGE)]), t0)
            .unwrap();
        // The same nonce challenged again: the password is wrong; no loop.
        assert!(m
            .on_response(&reply(&r2, 401, &[("WWW-Authenticate", CHALLENGE)]), t0)
            .is_none());
        let st = m.status(t0);
        assert!(!st.registered);
        assert!(st.last_error.unwrap().contains("credentials refused"));
        assert_eq!(st.next_attempt, Some(t0 + Duration::from_secs(10)));
        // 403 next time: 20 s; then a timeout: 40 s.
        let t1 = t0 + Duration::from_secs(10);
        let r = m.poll_request(t1).unwrap();
        m.on_response(&reply(&r, 403, &[]), t1);
        assert_eq!(m.status(t1).last_error.as_deref(), Some("403 X"));
        assert_eq!(m.poll_timeout(), Some(t1 + Duration::from_secs(20)));
        let t2 = t1 + Duration::from_secs(20);
        m.poll_request(t2).unwrap();
        m.on_failure(t2, "no answer (timeout)");
        assert_eq!(m.poll_timeout(), Some(t2 + Duration::from_secs(40)));
        assert_eq!(m.status(t2).failures, 3);
        // Capped at 30 minutes.
        let mut t = t2 + Duration::from_secs(40);
        for _ in 0..20 {
            m.poll_request(t).unwrap();
            m.on_failure(t, "no answer (timeout)");
            t = m.poll_timeout().unwrap();
        }
        assert_eq!(m.status(t).next_attempt, Some(t));
        let r = m.poll_request(t).unwrap();
        m.on_failure(t, "x");
        assert_eq!(m.poll_timeout(), Some(t + MAX_BACKOFF));
        // Success resets the back-off and the error.
        let t3 = t + MAX_BACKOFF;
        let r = {
            let _ = r;
            m.poll_request(t3).unwrap()
        };
        m.on_response(&reply(&r, 200, &[]), t3);
        let st = m.status(t3);
        assert!(st.registered && st.last_error.is_none() && st.failures == 0);
    }

    #[test]
    fn stale_nonce_is_answered_and_423_raises_the_expiry() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let r1 = m.poll_request(t0).unwrap();
        let r2 = m
            .on_response(&reply(&r1, 407, &[("Proxy-Authenticate", CHALLENGE)]), t0)
            .unwrap();
        assert!(r2.headers.get(HeaderName::PROXY_AUTHORIZATION).is_some());
        let stale = r#"Digest realm="carrier", nonce="new", qop="auth", stale=true"#;
        let r3 = m
            .on_response(&reply(&r2, 407, &[("Proxy-Authenticate", stale)]), t0)
            .unwrap();
        let p =
            parse_auth_params(r3.headers.get(HeaderName::PROXY_AUTHORIZATION).unwrap()).unwrap();
        assert_eq!(p.get("nonce"), Some("new"));
        assert_eq!(p.get("nc"), Some("00000001"));
        let r4 = m
            .on_response(&reply(&r3, 423, &[("Min-Expires", "1200")]), t0)
            .unwrap();
        assert_eq!(r4.headers.get(HeaderName::EXPIRES), Some("1200"));
        m.on_response(&reply(&r4, 200, &[]), t0);
        assert!(m.status(t0).registered);
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(1140)));
    }

    #[test]
    fn responses_when_nothing_is_out_are_ignored() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        let r = m.poll_request(t0).unwrap();
        m.on_response(&reply(&r, 200, &[]), t0);
        assert!(m.on_response(&reply(&r, 500, &[]), t0).is_none());
        m.on_failure(t0, "late");
        assert!(m.status(t0).registered);
        assert_eq!(m.status(t0).failures, 0);
    }
}
