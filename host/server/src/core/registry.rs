//! Registration state as the core sees it: users and their devices' bindings, cached in
//! memory for the call path and written behind to the embedded store, so a restart does not
//! log phones out while a slow disk never stalls SIP processing.

use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use madoguchi_sip::auth::{AuthConfig, AuthResult, Authenticator};
use madoguchi_sip::guard::{Admission, Guard, GuardConfig, Penalty};
use madoguchi_sip::message::{reason_phrase, HeaderAccess, Request, Response, Transport, Uri};
use madoguchi_sip::parse::parse_uri;
use madoguchi_sip::registrar::{self, Binding, RegistrarConfig};
use madoguchi_store::{Store, UserRecord};
use tracing::{info, warn};

use super::challenge_watch::{ChallengeWatch, Unanswered};
use super::unix_now;
use crate::transport::Peer;

/// What to do with the answer to an authenticated request (REGISTER, or an INVITE from a
/// local user).
#[derive(Debug)]
pub enum GuardedReply {
    Now(Response),
    /// Hold a failed-auth 403 this long (brute-force slowing).
    After(Duration, Response),
    /// The source is blocked: send nothing.
    Drop,
}

/// Users, bindings, the authenticator and the brute-force guard.
pub struct Registry {
    /// Origin of the guard's millisecond clock.
    epoch: Instant,
    users: HashMap<String, UserRecord>,
    bindings: HashMap<String, Vec<Binding>>,
    auth: Authenticator,
    guard: Guard,
    config: RegistrarConfig,
    persist: std_mpsc::Sender<(String, Vec<Binding>)>,
    /// Challenges sent and not yet answered, for the log line an operator needs when a
    /// phone cannot use the algorithms offered.
    watch: ChallengeWatch,
    /// Sources that may call users without authenticating (trunks, this host).
    trusted: Vec<ipnet::IpNet>,
}

impl Registry {
    /// Loads users and bindings from the store and starts the write-behind thread.
    pub fn load(
        store: Store,
        realm: &str,
        algorithms: Vec<madoguchi_sip::auth::Algorithm>,
        config: RegistrarConfig,
        guard: GuardConfig,
    ) -> anyhow::Result<Registry> {
        let users = store
            .list_users()?
            .into_iter()
            .map(|u| (u.extension.clone(), u))
            .collect::<HashMap<_, _>>();
        let now = unix_now();
        let mut bindings: HashMap<String, Vec<Binding>> = HashMap::new();
        for (aor, list) in store.all_bindings::<Binding>()? {
            let live: Vec<Binding> = list
                .into_iter()
                .filter(|b| b.expires_at_unix > now)
                .collect();
            if !live.is_empty() {
                bindings.insert(aor, live);
            }
        }
        info!(
            users = users.len(),
            registered = bindings.len(),
            "registry loaded from the store"
        );
        let (tx, rx) = std_mpsc::channel::<(String, Vec<Binding>)>();
        let writer_store = store.clone();
        std::thread::Builder::new()
            .name("binding-writer".into())
            .spawn(move || write_behind(writer_store, rx))?;
        Ok(Registry {
            epoch: Instant::now(),
            users,
            bindings,
            auth: Authenticator::new(
                AuthConfig {
                    algorithms,
                    ..AuthConfig::new(realm)
                },
                store.server_secret(),
            ),
            guard: Guard::new(guard),
            config,
            persist: tx,
            watch: ChallengeWatch::default(),
            trusted: Vec::new(),
        })
    }

    pub fn user_exists(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| !u.disabled)
    }

    /// Every live device of a user: the Contact URI (the Request-URI) and where to send.
    pub fn contacts_of(&self, user: &str) -> Vec<(Uri, Peer)> {
        let now = unix_now();
        self.bindings
            .get(user)
            .map(|list| {
                list.iter()
                    .filter(|b| b.expires_at_unix > now)
                    .filter_map(|b| {
                        let uri = parse_uri(&b.contact).ok()?;
                        let source = peer_of(&b.source)?;
                        let peer = reach(&uri, source);
                        Some((uri, peer))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Handles a REGISTER end to end: guard, digest, registrar rules, persistence.
    pub fn register(&mut self, req: &Request, source: &Peer, now: Instant) -> GuardedReply {
        let now_unix = unix_now();
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let ip = source.addr.ip();
        if self.guard.admit(ip, now_ms) == Admission::Drop {
            return GuardedReply::Drop;
        }
        let (result, asked) = self.authenticate(req, source, now_unix, now);
        let user = match result {
            AuthResult::Authorized(u) => u.username,
            AuthResult::Challenge(resp) => return GuardedReply::Now(for_flow(resp, source)),
            AuthResult::Forbidden(resp) => {
                return self.penalise(ip, asked.as_deref(), now_ms, resp);
            }
        };
        // The authenticated user may only register its own address of record.
        let aor = req
            .to_hdr()
            .ok()
            .and_then(|t| t.uri.user_unescaped())
            .unwrap_or_default();
        if aor != user {
            let resp = Response::for_request(req, 403, reason_phrase(403));
            return self.penalise(ip, Some(&user), now_ms, resp);
        }
        self.guard.record_success(ip, Some(&user), now_ms);
        let current = self.bindings.get(&aor).cloned().unwrap_or_default();
        let source_text = format!(
            "{}:{}",
            source.transport.as_str().to_ascii_lowercase(),
            source.addr
        );
        let outcome = registrar::process(req, &current, &self.config, now_unix, &source_text);
        if outcome.new_bindings != current {
            if outcome.new_bindings.is_empty() {
                self.bindings.remove(&aor);
            } else {
                self.bindings
                    .insert(aor.clone(), outcome.new_bindings.clone());
            }
            let _ = self.persist.send((aor, outcome.new_bindings));
            self.update_gauges();
        }
        GuardedReply::Now(outcome.response)
    }

    /// Digest check for a request that claims to come from a local user (an INVITE with
    /// `From: <sip:1001@…>`): the caller must prove it, so nobody calls as a staff member.
    /// Requests from identities that are not local users (callers reaching us through a
    /// trunk or a public number) pass. `None` = go ahead.
    pub fn check_local_caller(
        &mut self,
        req: &Request,
        source: &Peer,
        now: Instant,
    ) -> Option<GuardedReply> {
        let claimed = req.from_hdr().ok().and_then(|f| f.uri.user_unescaped())?;
        if !self.users.contains_key(&claimed) {
            return None;
        }
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let ip = source.addr.ip();
        if self.guard.admit(ip, now_ms) == Admission::Drop {
            return Some(GuardedReply::Drop);
        }
        let (result, _) = self.authenticate(req, source, unix_now(), now);
        match result {
            AuthResult::Authorized(u) if u.username == claimed => {
                self.guard.record_success(ip, Some(&claimed), now_ms);
                None
            }
            AuthResult::Authorized(_) => {
                let resp = Response::for_request(req, 403, reason_phrase(403));
                Some(self.penalise(ip, Some(&claimed), now_ms, resp))
            }
            AuthResult::Challenge(resp) => Some(GuardedReply::Now(for_flow(resp, source))),
            AuthResult::Forbidden(resp) => Some(self.penalise(ip, Some(&claimed), now_ms, resp)),
        }
    }

    /// Sources that may call users without digest authentication.
    pub fn set_trusted(&mut self, trusted: Vec<ipnet::IpNet>) {
        self.trusted = trusted;
    }

    /// A call to a user (not to a public number) from a caller that is not a local user:
    /// unless its source is trusted (a trunk, this host), it must authenticate as some local
    /// user first. Known and unknown extensions therefore get the same challenge, so an
    /// unauthenticated scanner (`svwar -m INVITE`) learns nothing. `None` = go ahead.
    pub fn check_unknown_caller(
        &mut self,
        req: &Request,
        source: &Peer,
        now: Instant,
    ) -> Option<GuardedReply> {
        let ip = source.addr.ip();
        if self.trusted.iter().any(|n| n.contains(&ip)) || self.claims_local_user(req) {
            return None;
        }
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let (result, asked) = self.authenticate(req, source, unix_now(), now);
        match result {
            AuthResult::Authorized(u) => {
                self.guard.record_success(ip, Some(&u.username), now_ms);
                None
            }
            AuthResult::Challenge(resp) => Some(GuardedReply::Now(for_flow(resp, source))),
            AuthResult::Forbidden(resp) => Some(self.penalise(ip, asked.as_deref(), now_ms, resp)),
        }
    }

    /// Whether the From names a local user (such a caller was authenticated as that user by
    /// [`Registry::check_local_caller`]).
    fn claims_local_user(&self, req: &Request) -> bool {
        req.from_hdr()
            .ok()
            .and_then(|f| f.uri.user_unescaped())
            .is_some_and(|u| self.users.contains_key(&u))
    }

    /// Whether a source is blocked: a blocked source gets no answer to anything.
    pub fn admits(&self, ip: std::net::IpAddr, now: Instant) -> bool {
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        self.guard.admit(ip, now_ms) == Admission::Allow
    }

    /// The digest check, with the bookkeeping behind the interop log lines: a challenge
    /// is watched until answered, and an answer naming an algorithm we did not offer is
    /// said so at once.
    fn authenticate(
        &mut self,
        req: &Request,
        source: &Peer,
        now_unix: u64,
        now: Instant,
    ) -> (AuthResult, Option<String>) {
        let call_id = req.call_id().unwrap_or_default().to_string();
        let has_credentials = req.headers.get("Authorization").is_some()
            || req.headers.get("Proxy-Authorization").is_some();
        if has_credentials {
            self.watch.answered(&call_id);
        }
        let now_ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        let ip = source.addr.ip();
        let users = &self.users;
        let guard = &mut self.guard;
        let mut asked = None;
        let result = self.auth.check(req, now_unix, |name, alg| {
            asked = Some(name.to_string());
            // The guard's per-user gate: credentials for a user under attack are checked at
            // most once per back-off interval (from sources other than its own phones); the
            // others are refused unchecked, against a stand-in HA1, so the answer and its
            // timing are those of a wrong password.
            if !guard.gate_user(ip, name, now_ms) {
                return None;
            }
            let u = users.get(name).filter(|u| !u.disabled)?;
            Some(match alg {
                madoguchi_sip::auth::Algorithm::Md5 => u.ha1_md5.clone(),
                _ => u.ha1_sha256.clone(),
            })
        });
        if let AuthResult::Challenge(_) = &result {
            let agent = req.headers.get("User-Agent").unwrap_or("-").to_string();
            let offered = self
                .auth
                .algorithms()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let claimed = if req.method.as_str() == "REGISTER" {
                req.to_hdr().ok().and_then(|t| t.uri.user_unescaped())
            } else {
                req.from_hdr().ok().and_then(|f| f.uri.user_unescaped())
            }
            .unwrap_or_default();
            if let Some(alg) = self.auth.unoffered_answer(req) {
                if self.watch.may_warn(source.addr, &agent, now) {
                    warn!(
                        peer = %source.addr,
                        user = %claimed,
                        user_agent = %agent,
                        answered = %alg,
                        offered = %offered,
                        "a phone answered the digest challenge with an algorithm the server did \
                         not offer; set server.digest_algorithms (or the listener's) to include it"
                    );
                }
            }
            self.watch.challenged(
                &call_id,
                Unanswered {
                    source: source.addr,
                    method: req.method.as_str().to_string(),
                    user: claimed,
                    user_agent: agent,
                    offered,
                },
                now,
            );
        }
        (result, asked)
    }

    fn penalise(
        &mut self,
        ip: std::net::IpAddr,
        user: Option<&str>,
        now_ms: u64,
        resp: Response,
    ) -> GuardedReply {
        match self.guard.record_failure(ip, user, now_ms) {
            Penalty::None => GuardedReply::Now(resp),
            Penalty::Delay { ms } => GuardedReply::After(Duration::from_millis(ms), resp),
            Penalty::Block { .. } => {
                crate::observe::metrics::limit_acted("auth_guard_block");
                warn!(%ip, "source blocked after repeated authentication failures");
                GuardedReply::Drop
            }
        }
    }

    fn update_gauges(&self) {
        let devices: usize = self.bindings.values().map(Vec::len).sum();
        metrics::gauge!("madoguchi_registrations").set(devices as f64);
        metrics::gauge!("madoguchi_registered_users").set(self.bindings.len() as f64);
    }

    /// Drops expired bindings from memory (the store is purged by the writer thread).
    pub fn housekeeping(&mut self) {
        let now = unix_now();
        let mut changed = Vec::new();
        for (aor, list) in self.bindings.iter_mut() {
            let before = list.len();
            list.retain(|b| b.expires_at_unix > now);
            if list.len() != before {
                changed.push((aor.clone(), list.clone()));
            }
        }
        self.bindings.retain(|_, l| !l.is_empty());
        let now_ms = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_millis() as u64;
        self.guard.sweep(now_ms);
        self.update_gauges();
        for u in self.watch.sweep(Instant::now()) {
            metrics::counter!("madoguchi_sip_auth_challenges_unanswered_total").increment(1);
            warn!(
                peer = %u.source,
                user = %u.user,
                user_agent = %u.user_agent,
                method = %u.method,
                offered = %u.offered,
                "a phone was sent a digest challenge and answered none of them within 10 s: \
                 it may not support the algorithms offered (e.g. baresip 1.0 and sipp do MD5 \
                 only), or it has no password set"
            );
        }
        for c in changed {
            let _ = self.persist.send(c);
        }
    }
}

/// Orders a challenge's algorithms for the client's transport. Over UDP/TCP the preferred
/// algorithm comes first (sipp and desk phones answer the first challenge). JsSIP, the
/// browser stack on WebSocket, keeps only the LAST `WWW-Authenticate`/`Proxy-Authenticate`
/// and knows only MD5: over WebSocket the MD5 challenge goes last (clients that pick the
/// strongest still see SHA-256).
fn for_flow(mut resp: Response, source: &Peer) -> Response {
    if !matches!(source.transport, Transport::Ws | Transport::Wss) {
        return resp;
    }
    for name in ["WWW-Authenticate", "Proxy-Authenticate"] {
        let values: Vec<String> = resp.headers.get_all(name).map(str::to_string).collect();
        if values.len() < 2 {
            continue;
        }
        let is_md5 = |v: &String| {
            let v = v.to_ascii_lowercase();
            v.contains("algorithm=md5") && !v.contains("algorithm=md5-sess")
        };
        let (md5, other): (Vec<String>, Vec<String>) = values.into_iter().partition(is_md5);
        resp.headers.remove(name);
        for v in other.into_iter().chain(md5) {
            resp.headers.push(name, v);
        }
    }
    resp
}

/// Writes binding changes to redb, coalescing bursts per AOR.
fn write_behind(store: Store, rx: std_mpsc::Receiver<(String, Vec<Binding>)>) {
    while let Ok(first) = rx.recv() {
        let mut batch: HashMap<String, Vec<Binding>> = HashMap::new();
        batch.insert(first.0, first.1);
        while let Ok((aor, list)) = rx.try_recv() {
            batch.insert(aor, list);
        }
        let mut stored = 0;
        for (aor, list) in batch.iter() {
            match store.put_bindings(aor, list) {
                Ok(()) => stored += 1,
                Err(e) => warn!(aor, error = %e, "cannot persist bindings"),
            }
        }
        // One line per batch: what tests (and operators) wait for before a crash.
        if stored > 0 {
            info!(aors = stored, "bindings stored");
        }
    }
}

/// Where to send requests for a binding. A device whose Contact names the address its
/// REGISTER came from (same IP) is reached at its Contact's port; one behind NAT (the
/// Contact names a private address we did not hear from) is reached where it registered
/// from, through the pinhole its REGISTER opened. Connection-oriented bindings always use
/// the connection they registered on.
fn reach(contact: &Uri, source: Peer) -> Peer {
    if source.is_reliable() {
        return source;
    }
    match contact.host.ip() {
        Some(ip) if ip == source.addr.ip() => {
            let port = contact.port.unwrap_or(5060);
            Peer {
                transport: source.transport,
                addr: std::net::SocketAddr::new(ip, port),
            }
        }
        _ => source,
    }
}

/// `"udp:127.0.0.1:5062"` → a peer.
fn peer_of(source: &str) -> Option<Peer> {
    let (t, addr) = source.split_once(':')?;
    let transport = match t {
        "udp" => Transport::Udp,
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        "ws" => Transport::Ws,
        "wss" => Transport::Wss,
        _ => return None,
    };
    Some(Peer {
        transport,
        addr: addr.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_uses_contact_port_without_nat_and_source_behind_nat() {
        let src = peer_of("udp:127.0.0.1:6000").unwrap();
        let same_host = parse_uri("sip:1001@127.0.0.1:7000").unwrap();
        assert_eq!(reach(&same_host, src.clone()).addr.port(), 7000);
        let private = parse_uri("sip:1001@192.168.1.20:5060").unwrap();
        assert_eq!(reach(&private, src.clone()), src);
        let tcp = peer_of("tcp:127.0.0.1:6001").unwrap();
        assert_eq!(reach(&same_host, tcp.clone()), tcp);
    }

    #[test]
    fn websocket_clients_get_the_md5_challenge_last() {
        let mut r = Response {
            status: 401,
            reason: "Unauthorized".into(),
            headers: Default::default(),
            body: Default::default(),
        };
        r.headers
            .push("WWW-Authenticate", "Digest realm=\"m\", algorithm=MD5");
        r.headers
            .push("WWW-Authenticate", "Digest realm=\"m\", algorithm=SHA-256");
        let ws = peer_of("ws:127.0.0.1:6000").unwrap();
        let got = for_flow(r.clone(), &ws);
        let order: Vec<&str> = got.headers.get_all("WWW-Authenticate").collect();
        assert!(
            order[0].contains("SHA-256") && order[1].contains("MD5"),
            "{order:?}"
        );
        let udp = peer_of("udp:127.0.0.1:6000").unwrap();
        let got = for_flow(r, &udp);
        assert!(got.headers.get("WWW-Authenticate").unwrap().contains("MD5"));
    }

    #[test]
    fn peer_from_source_text() {
        let p = peer_of("udp:127.0.0.1:5062").unwrap();
        assert_eq!(p.transport, Transport::Udp);
        assert_eq!(p.addr.port(), 5062);
        assert!(peer_of("udp:[::1]:5060").is_some());
        assert!(peer_of("carrier-pigeon:1.2.3.4:1").is_none());
    }
}
