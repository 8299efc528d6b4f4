//! All trunks of the server with their registration and keepalive machines, plus the call
//! center's routes: one sans-IO object the SIP core polls and feeds, and the admin API
//! reads and changes (behind one short lock).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use madoguchi_sip::message::{HeaderAccess, Request, Response};
use madoguchi_sip::parse::parse_uri;

use crate::config::{CallCenterConfig, ConfigError, OnNetRoute, OutboundRule, TrunkConfig};
use crate::keepalive::{fmt_addr, Health, Keepalive};
use crate::register::{RegStatus, Registration};
use crate::route::Plan;

/// Which machine an outgoing request belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    Register(String),
    /// OPTIONS to a trunk (by name) or a call-center URI route (`route:URI`).
    Options(String, u32),
}

/// A request to send: where and for what.
#[derive(Debug)]
pub struct Send {
    pub token: Token,
    pub request: Request,
    pub dest: SocketAddr,
}

#[derive(Debug)]
struct Entry {
    cfg: TrunkConfig,
    proxy: SocketAddr,
    registration: Option<Registration>,
    keepalive: Option<Keepalive>,
}

impl Entry {
    /// The keepalive's verdict; without one, a registered trunk is up while registered and
    /// down after a failed registration.
    fn health(&self, now: Instant) -> Health {
        if let Some(k) = &self.keepalive {
            return k.health();
        }
        match self.registration.as_ref().map(|r| r.status(now)) {
            Some(st) if st.registered => Health::Up,
            Some(st) if st.last_error.is_some() => Health::Down,
            _ => Health::Unknown,
        }
    }
}

/// One call-center route, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcRoute {
    /// Where the INVITE goes.
    pub uri: String,
    pub dest: SocketAddr,
    /// The keepalive's view (Unknown when it has none).
    pub health: Health,
    /// The trunk it goes through, if it is one.
    pub trunk: Option<String>,
}

/// Status of one trunk, for the API (never the password).
#[derive(Debug, Clone)]
pub struct TrunkStatus {
    pub name: String,
    pub proxy: SocketAddr,
    pub registers: bool,
    pub registration: Option<RegStatus>,
    pub health: Health,
    pub health_error: Option<String>,
    pub dids: Vec<String>,
    pub caller_id: String,
}

/// The trunks, the outbound rules, on-net routes and the call center's routes.
#[derive(Debug, Default)]
pub struct TrunkSet {
    entries: BTreeMap<String, Entry>,
    /// Config order (the first trunk is the default route).
    order: Vec<String>,
    rules: Vec<OutboundRule>,
    onnet: Vec<OnNetRoute>,
    callcenter: CallCenterConfig,
    /// Keepalives of call-center routes that are URIs, by URI.
    cc_keepalives: BTreeMap<String, Keepalive>,
    plan: Plan,
}

impl TrunkSet {
    pub fn new(
        rules: Vec<OutboundRule>,
        onnet: Vec<OnNetRoute>,
        callcenter: CallCenterConfig,
    ) -> TrunkSet {
        TrunkSet {
            rules,
            onnet,
            callcenter,
            ..TrunkSet::default()
        }
    }

    /// Adds or replaces a trunk (its machines start over). `local` is our address towards
    /// its proxy.
    pub fn upsert(
        &mut self,
        cfg: TrunkConfig,
        local: SocketAddr,
        now: Instant,
    ) -> Result<(), ConfigError> {
        cfg.check()?;
        let proxy = cfg.proxy_addr()?;
        let registration = cfg
            .registers()
            .then(|| Registration::new(&cfg, proxy, local, now));
        let keepalive = (cfg.keepalive_secs > 0).then(|| {
            let uri = parse_uri(&format!("sip:{}", fmt_addr(proxy))).expect("IP:port URI");
            Keepalive::new(
                uri,
                local,
                Duration::from_secs(cfg.keepalive_secs.into()),
                now,
            )
        });
        let name = cfg.name.clone();
        if !self.order.contains(&name) {
            self.order.push(name.clone());
        }
        self.entries.insert(
            name,
            Entry {
                cfg,
                proxy,
                registration,
                keepalive,
            },
        );
        self.rebuild_plan();
        Ok(())
    }

    /// Removes a trunk; false if there was none of that name.
    pub fn remove(&mut self, name: &str) -> bool {
        self.order.retain(|n| n != name);
        let had = self.entries.remove(name).is_some();
        self.rebuild_plan();
        had
    }

    /// Starts the keepalives of the call center's URI routes.
    pub fn start_callcenter(
        &mut self,
        local_for: impl Fn(SocketAddr) -> Option<SocketAddr>,
        now: Instant,
    ) {
        let interval = Duration::from_secs(self.callcenter.keepalive_secs.max(1).into());
        for r in &self.callcenter.routes {
            if self.entries.contains_key(r) || self.callcenter.keepalive_secs == 0 {
                continue;
            }
            let Ok(uri) = parse_uri(r) else { continue };
            let Some(dest) = uri_dest(&uri) else { continue };
            let Some(local) = local_for(dest) else {
                continue;
            };
            let mut target = uri.clone();
            target.user = None;
            self.cc_keepalives
                .insert(r.clone(), Keepalive::new(target, local, interval, now));
        }
    }

    fn rebuild_plan(&mut self) {
        self.plan = Plan {
            trunks: self
                .order
                .iter()
                .filter_map(|n| self.entries.get(n).map(|e| e.cfg.clone()))
                .collect(),
            rules: self.rules.clone(),
            onnet: self.onnet.clone(),
        };
    }

    /// The routing plan (trunks in config order, rules, on-net routes).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn get(&self, name: &str) -> Option<&TrunkConfig> {
        self.entries.get(name).map(|e| &e.cfg)
    }

    pub fn proxy_of(&self, name: &str) -> Option<SocketAddr> {
        self.entries.get(name).map(|e| e.proxy)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The trunk an inbound request from `ip` comes from (static peering allow-list or
    /// the registration proxy's address).
    pub fn trunk_for_source(&self, ip: std::net::IpAddr) -> Option<&TrunkConfig> {
        self.order
            .iter()
            .filter_map(|n| self.entries.get(n))
            .map(|e| &e.cfg)
            .find(|c| c.allows(ip))
    }

    /// The trunk whose `dids` list this number (national form).
    pub fn trunk_owning_did(&self, national: &str) -> Option<&TrunkConfig> {
        self.entries.values().map(|e| &e.cfg).find(|c| {
            c.did_numbers()
                .is_ok_and(|ds| ds.iter().any(|d| d.national() == national))
        })
    }

    /// The call center's routes in order, with their health.
    pub fn callcenter_routes(&self, now: Instant) -> Vec<CcRoute> {
        self.callcenter
            .routes
            .iter()
            .filter_map(|r| {
                if let Some(e) = self.entries.get(r) {
                    let uri = format!("sip:{}@{}", self.callcenter.number, fmt_addr(e.proxy));
                    return Some(CcRoute {
                        uri,
                        dest: e.proxy,
                        health: e.health(now),
                        trunk: Some(r.clone()),
                    });
                }
                let uri = parse_uri(r).ok()?;
                Some(CcRoute {
                    dest: uri_dest(&uri)?,
                    uri: r.clone(),
                    health: self
                        .cc_keepalives
                        .get(r)
                        .map_or(Health::Unknown, |k| k.health()),
                    trunk: None,
                })
            })
            .collect()
    }

    pub fn has_callcenter(&self) -> bool {
        !self.callcenter.routes.is_empty()
    }

    /// A call through route `uri` (a call-center route) failed with `status`.
    pub fn route_failed(&mut self, dest: SocketAddr, status: u16) {
        for e in self.entries.values_mut().filter(|e| e.proxy == dest) {
            if let Some(k) = e.keepalive.as_mut() {
                k.observe_call_failure(status);
            }
        }
        for (r, k) in self.cc_keepalives.iter_mut() {
            if parse_uri(r).ok().and_then(|u| uri_dest(&u)) == Some(dest) {
                k.observe_call_failure(status);
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .values()
            .flat_map(|e| {
                [
                    e.registration.as_ref().and_then(|r| r.poll_timeout()),
                    e.keepalive.as_ref().map(|k| k.poll_timeout()),
                ]
            })
            .chain(self.cc_keepalives.values().map(|k| Some(k.poll_timeout())))
            .flatten()
            .min()
    }

    /// Requests due now.
    pub fn poll_requests(&mut self, now: Instant) -> Vec<Send> {
        let mut out = Vec::new();
        for (name, e) in self.entries.iter_mut() {
            if let Some(req) = e.registration.as_mut().and_then(|r| r.poll_request(now)) {
                out.push(Send {
                    token: Token::Register(name.clone()),
                    request: req,
                    dest: e.proxy,
                });
            }
            if let Some(req) = e.keepalive.as_mut().and_then(|k| k.poll_request(now)) {
                let seq = req.cseq().map(|c| c.seq).unwrap_or(0);
                out.push(Send {
                    token: Token::Options(name.clone(), seq),
                    request: req,
                    dest: e.proxy,
                });
            }
        }
        for (r, k) in self.cc_keepalives.iter_mut() {
            if let Some(req) = k.poll_request(now) {
                let seq = req.cseq().map(|c| c.seq).unwrap_or(0);
                let Some(dest) = uri_dest(&req.uri) else {
                    continue;
                };
                out.push(Send {
                    token: Token::Options(format!("route:{r}"), seq),
                    request: req,
                    dest,
                });
            }
        }
        out
    }

    /// A final response to one of our requests; may give a request to send at once.
    pub fn on_response(&mut self, token: &Token, resp: &Response, now: Instant) -> Option<Send> {
        match token {
            Token::Register(name) => {
                let e = self.entries.get_mut(name)?;
                let req = e.registration.as_mut()?.on_response(resp, now)?;
                Some(Send {
                    token: token.clone(),
                    request: req,
                    dest: e.proxy,
                })
            }
            Token::Options(name, seq) => {
                if let Some(k) = self.keepalive_mut(name) {
                    k.on_response(*seq, resp.status, &resp.reason);
                }
                None
            }
        }
    }

    /// One of our requests timed out or could not be sent.
    pub fn on_failure(&mut self, token: &Token, why: &str, now: Instant) {
        match token {
            Token::Register(name) => {
                if let Some(r) = self
                    .entries
                    .get_mut(name)
                    .and_then(|e| e.registration.as_mut())
                {
                    r.on_failure(now, why);
                }
            }
            Token::Options(name, _) => {
                if let Some(k) = self.keepalive_mut(name) {
                    k.on_failure(why);
                }
            }
        }
    }

    fn keepalive_mut(&mut self, name: &str) -> Option<&mut Keepalive> {
        match name.strip_prefix("route:") {
            Some(r) => self.cc_keepalives.get_mut(r),
            None => self.entries.get_mut(name)?.keepalive.as_mut(),
        }
    }

    /// Every trunk's state, in config order.
    pub fn status(&self, now: Instant) -> Vec<TrunkStatus> {
        self.order
            .iter()
            .filter_map(|n| self.entries.get(n))
            .map(|e| TrunkStatus {
                name: e.cfg.name.clone(),
                proxy: e.proxy,
                registers: e.registration.is_some(),
                registration: e.registration.as_ref().map(|r| r.status(now)),
                health: e.health(now),
                health_error: e
                    .keepalive
                    .as_ref()
                    .and_then(|k| k.last_error().map(str::to_string)),
                dids: e.cfg.dids.clone(),
                caller_id: e.cfg.caller_id.clone(),
            })
            .collect()
    }
}

/// UDP destination of a URI with an IP host.
fn uri_dest(uri: &madoguchi_sip::message::Uri) -> Option<SocketAddr> {
    Some(SocketAddr::new(uri.host.ip()?, uri.port.unwrap_or(5060)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn trunk(name: &str, port: u16, register: bool) -> TrunkConfig {
        TrunkConfig {
            name: name.into(),
            proxy: format!("127.0.0.1:{port}"),
            username: if register {
                "0462000000".into()
            } else {
                String::new()
            },
            password: Secret::new(if register { "pw" } else { "" }),
            register: Some(register),
            domain: None,
            expires: 600,
            dids: vec!["0462000000".into()],
            caller_id: "0462000000".into(),
            allow: vec!["127.0.0.9/32".parse().unwrap()],
            did_from: Default::default(),
            identity: Default::default(),
            number_format: Default::default(),
            keepalive_secs: 10,
            retry_secs: 30,
        }
    }

    #[test]
    fn polls_feeds_and_reports() {
        let t0 = Instant::now();
        let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let mut s = TrunkSet::new(
            vec![],
            vec![],
            CallCenterConfig {
                routes: vec!["cc1".into(), "sip:cc@127.0.0.1:5092".into()],
                number: "callcenter".into(),
                keepalive_secs: 5,
            },
        );
        s.upsert(trunk("carrier", 5080, true), local, t0).unwrap();
        s.upsert(trunk("cc1", 5091, false), local, t0).unwrap();
        s.start_callcenter(|_| Some(local), t0);
        assert_eq!(s.poll_timeout(), Some(t0));
        let sends = s.poll_requests(t0);
        // REGISTER + OPTIONS for carrier, OPTIONS for cc1, OPTIONS for the URI route.
        assert_eq!(sends.len(), 4, "{sends:?}");
        let reg = sends
            .iter()
            .find(|x| matches!(x.token, Token::Register(_)))
            .unwrap();
        assert_eq!(reg.dest, "127.0.0.1:5080".parse().unwrap());
        let ok = Response::for_request(&reg.request, 200, "OK");
        assert!(s.on_response(&reg.token, &ok, t0).is_none());
        let st = s.status(t0);
        assert_eq!(st.len(), 2);
        assert!(st[0].registration.as_ref().unwrap().registered);
        assert!(!st[1].registers);
        // Call-center routes: the trunk one, then the URI one.
        for x in &sends {
            if let Token::Options(n, _) = &x.token {
                if n == "cc1" {
                    s.on_failure(&x.token, "timeout", t0);
                } else {
                    let r = Response::for_request(&x.request, 200, "OK");
                    s.on_response(&x.token, &r, t0);
                }
            }
        }
        let routes = s.callcenter_routes(t0);
        assert_eq!(routes[0].uri, "sip:callcenter@127.0.0.1:5091");
        assert_eq!(routes[0].health, Health::Down);
        assert_eq!(routes[1].health, Health::Up);
        s.route_failed("127.0.0.1:5092".parse().unwrap(), 503);
        assert_eq!(s.callcenter_routes(t0)[1].health, Health::Down);
        // Allow-list and DIDs.
        assert_eq!(
            s.trunk_for_source("127.0.0.9".parse().unwrap())
                .map(|t| t.name.as_str()),
            Some("carrier")
        );
        assert!(s.trunk_for_source("10.0.0.1".parse().unwrap()).is_none());
        assert_eq!(s.trunk_owning_did("0462000000").unwrap().name, "carrier");
        assert_eq!(s.plan().trunks.len(), 2);
        assert!(s.remove("carrier"));
        assert!(!s.remove("carrier"));
        assert_eq!(s.plan().trunks[0].name, "cc1");
    }
}
