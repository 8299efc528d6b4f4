//! The whole REGISTER path as the server wires it, on a real redb file: guard → auth (HA1s
//! from the store, nonce secret from the store) → registrar → store; then a restart.

use std::net::IpAddr;

use madoguchi_sip::auth::client::{authorization, choose_challenge};
use madoguchi_sip::auth::{ha1_md5, ha1_sha256, Algorithm, AuthConfig, AuthResult, Authenticator};
use madoguchi_sip::guard::{Admission, Guard, GuardConfig, Penalty};
use madoguchi_sip::message::{Request, Response, SipMessage};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::registrar::{aor_of, process, Binding, RegistrarConfig};
use madoguchi_store::{Store, UserRecord};

const REALM: &str = "pbx.example";
const T0: u64 = 1_795_570_386;

fn register(call_id: &str, cseq: u32, contact: &str, authorization: Option<&str>) -> Request {
    let mut text = format!(
        "REGISTER sip:pbx.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:2001@pbx.example>;tag=a1\r\n\
         To: <sip:2001@pbx.example>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: {contact}\r\n"
    );
    if let Some(a) = authorization {
        text.push_str(&format!("Authorization: {a}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(text.as_bytes(), &Limits::default()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// What the server's REGISTER handler does; `None` = dropped by the guard.
struct Server {
    store: Store,
    auth: Authenticator,
    guard: Guard,
}

impl Server {
    fn new(store: Store) -> Server {
        Server {
            auth: Authenticator::new(AuthConfig::new(REALM), store.server_secret()),
            guard: Guard::new(GuardConfig::default()),
            store,
        }
    }

    fn handle(&mut self, req: &Request, ip: IpAddr, now: u64) -> Option<(Response, Penalty)> {
        let now_ms = now * 1000;
        if self.guard.admit(ip, now_ms) == Admission::Drop {
            return None;
        }
        let store = &self.store;
        let result = self.auth.check(req, now, |user, alg| {
            let u = store
                .get_user(user)
                .ok()
                .flatten()
                .filter(|u| !u.disabled)?;
            Some(match alg {
                Algorithm::Md5 => u.ha1_md5,
                Algorithm::Sha256 => u.ha1_sha256,
            })
        });
        match result {
            AuthResult::Challenge(r) => Some((r, Penalty::None)),
            AuthResult::Forbidden(r) => {
                let p = self.guard.record_failure(ip, None, now_ms);
                Some((r, p))
            }
            AuthResult::Authorized(user) => {
                self.guard.record_success(ip, Some(&user.username), now_ms);
                let aor = aor_of(req).unwrap();
                assert_eq!(aor, format!("sip:{}@{REALM}", user.username));
                let current: Vec<Binding> = self.store.get_bindings(&aor).unwrap();
                let out = process(
                    req,
                    &current,
                    &RegistrarConfig::default(),
                    now,
                    &format!("udp:{ip}:5062"),
                );
                if out.changed {
                    self.store.put_bindings(&aor, &out.new_bindings).unwrap();
                }
                Some((out.response, Penalty::None))
            }
        }
    }
}

fn add_user(store: &Store) {
    store
        .add_user(&UserRecord {
            extension: "2001".into(),
            display_name: "Zama Desk 1".into(),
            realm: REALM.into(),
            ha1_md5: ha1_md5("2001", REALM, "correct horse"),
            ha1_sha256: ha1_sha256("2001", REALM, "correct horse"),
            created_unix: T0,
            disabled: false,
        })
        .unwrap();
}

fn login(server: &mut Server, call_id: &str, contact: &str, password: &str, now: u64) -> Response {
    let ip: IpAddr = "192.0.2.4".parse().unwrap();
    let (challenge, _) = server
        .handle(&register(call_id, 1, contact, None), ip, now)
        .unwrap();
    assert_eq!(challenge.status, 401);
    let ch = choose_challenge(challenge.headers.get_all("WWW-Authenticate")).unwrap();
    let a = authorization(
        &ch,
        "2001",
        password,
        "REGISTER",
        "sip:pbx.example",
        "c0ffee",
        1,
    );
    server
        .handle(&register(call_id, 2, contact, Some(&a)), ip, now)
        .unwrap()
        .0
}

#[test]
fn two_devices_register_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        add_user(&store);
        let mut server = Server::new(store);
        let ok = login(
            &mut server,
            "desk",
            "<sip:2001@10.0.0.5:5060>",
            "correct horse",
            T0,
        );
        assert_eq!(ok.status, 200);
        let ok = login(
            &mut server,
            "app",
            "<sip:2001@203.0.113.7:41000;transport=tcp>",
            "correct horse",
            T0 + 5,
        );
        assert_eq!(ok.status, 200);
        assert_eq!(ok.headers.count("Contact"), 2);
    }
    let store = Store::open(dir.path()).unwrap();
    let b: Vec<Binding> = store.get_bindings("sip:2001@pbx.example").unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(b[1].source, "udp:192.0.2.4:5062");
    assert_eq!(
        store.purge_expired(T0 + 3600).unwrap(),
        1,
        "desk lapses first"
    );
}

#[test]
fn password_guessing_is_slowed_then_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    add_user(&store);
    let mut server = Server::new(store);
    let ip: IpAddr = "198.51.100.66".parse().unwrap();
    let mut penalties = Vec::new();
    for i in 0..12u32 {
        let now = T0 + u64::from(i);
        let Some((challenge, _)) = server.handle(
            &register("x", 2 * i + 1, "<sip:2001@1.2.3.4>", None),
            ip,
            now,
        ) else {
            penalties.push(None);
            continue;
        };
        let ch = choose_challenge(challenge.headers.get_all("WWW-Authenticate")).unwrap();
        let a = authorization(
            &ch,
            "2001",
            &format!("guess{i}"),
            "REGISTER",
            "sip:pbx.example",
            "c",
            1,
        );
        let got = server.handle(
            &register("x", 2 * i + 2, "<sip:2001@1.2.3.4>", Some(&a)),
            ip,
            now,
        );
        if let Some((resp, _)) = &got {
            assert_eq!(resp.status, 403);
        }
        penalties.push(got.map(|(_, p)| p));
    }
    assert_eq!(penalties[0], Some(Penalty::None));
    assert!(matches!(penalties[3], Some(Penalty::Delay { .. })));
    assert!(matches!(penalties[9], Some(Penalty::Block { .. })));
    assert_eq!(penalties[10], None, "blocked source is dropped");
    // The real user from elsewhere still gets in.
    assert_eq!(
        login(
            &mut server,
            "desk",
            "<sip:2001@10.0.0.5>",
            "correct horse",
            T0 + 20
        )
        .status,
        200
    );
}

#[test]
fn disabled_users_are_refused_like_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    add_user(&store);
    store.set_disabled("2001", true).unwrap();
    let mut server = Server::new(store);
    assert_eq!(
        login(&mut server, "d", "<sip:2001@10.0.0.5>", "correct horse", T0).status,
        403
    );
}
