use super::*;
use crate::message::{Host, Method, Uri};

const REALM: &str = "pbx.example";
const SECRET: [u8; 32] = [42; 32];
const T0: u64 = 1_790_000_000;

fn register() -> Request {
    let mut r = Request::new(
        Method::Register,
        Uri::sip(None, Host::Domain(REALM.into()), None),
    );
    r.headers
        .push("Via", "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK77");
    r.headers.push("From", "<sip:2001@pbx.example>;tag=f1");
    r.headers.push("To", "<sip:2001@pbx.example>");
    r.headers.push("Call-ID", "call-1");
    r.headers.push("CSeq", "1 REGISTER");
    r
}

fn auth() -> Authenticator {
    Authenticator::new(AuthConfig::new(REALM), SECRET)
}

/// The users this test server knows: 2001 / "s3cret".
fn lookup(user: &str, alg: Algorithm) -> Option<String> {
    (user == "2001").then(|| match alg {
        Algorithm::Md5 => ha1_md5(user, REALM, "s3cret"),
        Algorithm::Sha256 => ha1_sha256(user, REALM, "s3cret"),
    })
}

fn nonce_of(challenge: &Response) -> String {
    let v = challenge.headers.get("WWW-Authenticate").unwrap();
    parse_auth_params(v)
        .unwrap()
        .get("nonce")
        .unwrap()
        .to_string()
}

/// What a UA would send: Authorization for `user`/`password` answering `nonce`.
fn answer(user: &str, password: &str, alg: Algorithm, nonce: &str, nc: u32) -> String {
    let ha1 = alg.hash_hex(&[user, REALM, password]);
    let nc = format!("{nc:08x}");
    let uri = "sip:pbx.example";
    let response = response_qop_auth(&ResponseInput {
        algorithm: alg,
        ha1: &ha1,
        nonce,
        nc: &nc,
        cnonce: "0a4f113b",
        method: "REGISTER",
        uri,
    });
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm={}, cnonce=\"0a4f113b\", qop=auth, nc={nc}",
        alg.as_str()
    )
}

fn with_auth(value: &str) -> Request {
    let mut r = register();
    r.headers.push("Authorization", value);
    r
}

fn expect_challenge(r: AuthResult, stale: bool) -> Response {
    match r {
        AuthResult::Challenge(resp) => {
            assert_eq!(resp.status, 401);
            let v = resp.headers.get("WWW-Authenticate").unwrap();
            assert_eq!(parse_auth_params(v).unwrap().get("stale").is_some(), stale);
            resp
        }
        other => panic!("expected challenge, got {other:?}"),
    }
}

#[test]
fn no_credentials_get_both_challenges_sha256_first() {
    let a = auth();
    let resp = expect_challenge(a.check(&register(), T0, lookup), false);
    let ch: Vec<_> = resp
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| parse_auth_params(v).unwrap())
        .collect();
    assert_eq!(ch.len(), 2);
    assert_eq!(ch[0].get("algorithm"), Some("SHA-256"));
    assert_eq!(ch[1].get("algorithm"), Some("MD5"));
    for c in &ch {
        assert!(c.is_digest());
        assert_eq!(c.get("realm"), Some(REALM));
        assert_eq!(c.get("qop"), Some("auth"));
    }
    assert_eq!(ch[0].get("nonce"), ch[1].get("nonce"));
    assert!(resp.headers.get("To").unwrap().contains(";tag="));
    assert_eq!(resp.headers.get("Call-ID"), Some("call-1"));
}

#[test]
fn correct_answers_are_authorized_for_both_algorithms() {
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let a = auth();
        let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
        let req = with_auth(&answer("2001", "s3cret", alg, &nonce, 1));
        match a.check(&req, T0 + 1, lookup) {
            AuthResult::Authorized(u) => {
                assert_eq!(u.username, "2001");
                assert_eq!(u.algorithm, alg);
            }
            other => panic!("{alg:?}: {other:?}"),
        }
    }
}

#[test]
fn wrong_password_and_unknown_user_look_the_same() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let wrong = a.check(
        &with_auth(&answer("2001", "guess", Algorithm::Sha256, &nonce, 1)),
        T0,
        lookup,
    );
    let unknown = a.check(
        &with_auth(&answer("9999", "guess", Algorithm::Sha256, &nonce, 1)),
        T0,
        lookup,
    );
    let (AuthResult::Forbidden(w), AuthResult::Forbidden(u)) = (wrong, unknown) else {
        panic!("both must be Forbidden");
    };
    assert_eq!(w.status, 403);
    assert_eq!(w.status, u.status);
    assert_eq!(w.reason, u.reason);
    let names = |r: &Response| {
        r.headers
            .iter()
            .map(|h| h.name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&w), names(&u));
    assert!(w.headers.get("WWW-Authenticate").is_none());

    // And the unauthenticated first request is answered identically for both users.
    let mut r1 = register();
    r1.headers.set("From", "<sip:9999@pbx.example>;tag=f1");
    let c1 = expect_challenge(a.check(&r1, T0, lookup), false);
    let c2 = expect_challenge(a.check(&register(), T0, lookup), false);
    assert_eq!(names(&c1), names(&c2));
}

#[test]
fn a_lookup_that_returns_a_malformed_ha1_never_authorizes() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let req = with_auth(&answer("2001", "s3cret", Algorithm::Md5, &nonce, 1));
    // A SHA-256 HA1 handed back for an MD5 request (length mismatch) is treated as absent.
    let r = a.check(&req, T0, |_, _| Some(ha1_sha256("2001", REALM, "s3cret")));
    assert!(matches!(r, AuthResult::Forbidden(_)));
}

#[test]
fn replayed_nonce_count_is_challenged_with_stale() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let first = with_auth(&answer("2001", "s3cret", Algorithm::Sha256, &nonce, 1));
    assert!(matches!(
        a.check(&first, T0, lookup),
        AuthResult::Authorized(_)
    ));
    expect_challenge(a.check(&first, T0 + 1, lookup), true);
    let next = with_auth(&answer("2001", "s3cret", Algorithm::Sha256, &nonce, 2));
    assert!(matches!(
        a.check(&next, T0 + 2, lookup),
        AuthResult::Authorized(_)
    ));
}

#[test]
fn expired_nonce_gets_stale_only_with_the_right_password() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let later = T0 + 301;
    let good = with_auth(&answer("2001", "s3cret", Algorithm::Sha256, &nonce, 1));
    let fresh = expect_challenge(a.check(&good, later, lookup), true);
    assert_ne!(nonce_of(&fresh), nonce);
    let bad = with_auth(&answer("2001", "nope", Algorithm::Sha256, &nonce, 1));
    assert!(matches!(
        a.check(&bad, later, lookup),
        AuthResult::Forbidden(_)
    ));
    // The new nonce works.
    let retry = with_auth(&answer(
        "2001",
        "s3cret",
        Algorithm::Sha256,
        &nonce_of(&fresh),
        1,
    ));
    assert!(matches!(
        a.check(&retry, later, lookup),
        AuthResult::Authorized(_)
    ));
}

#[test]
fn nonces_survive_a_restart_with_the_same_secret() {
    let nonce = nonce_of(&expect_challenge(
        auth().check(&register(), T0, lookup),
        false,
    ));
    let restarted = auth();
    let req = with_auth(&answer("2001", "s3cret", Algorithm::Md5, &nonce, 1));
    assert!(matches!(
        restarted.check(&req, T0 + 5, lookup),
        AuthResult::Authorized(_)
    ));
    let other = Authenticator::new(AuthConfig::new(REALM), [1; 32]);
    expect_challenge(other.check(&req, T0 + 5, lookup), false);
}

#[test]
fn forged_nonce_is_just_challenged() {
    let a = auth();
    let req = with_auth(&answer(
        "2001",
        "s3cret",
        Algorithm::Sha256,
        &"0".repeat(64),
        1,
    ));
    expect_challenge(a.check(&req, T0, lookup), false);
}

#[test]
fn rfc4475_regaut01_unknown_scheme_gets_a_normal_challenge() {
    let a = auth();
    let req = with_auth("NoOneKnowsThisScheme opaque-data=here");
    let resp = expect_challenge(a.check(&req, T0, lookup), false);
    assert_eq!(resp.headers.count("WWW-Authenticate"), 2);
}

#[test]
fn unusable_digest_answers_are_challenged_not_forbidden() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let good = answer("2001", "s3cret", Algorithm::Sha256, &nonce, 1);
    let variants = [
        good.replace("realm=\"pbx.example\"", "realm=\"other\""),
        good.replace("qop=auth", "qop=auth-int"),
        good.replace(", qop=auth", ""),
        good.replace("algorithm=SHA-256", "algorithm=SHA-256-sess"),
        good.replace("nc=00000001", "nc=1"),
        good.replace("nc=00000001", "nc=zzzzzzzz"),
        good.replace("cnonce=\"0a4f113b\"", "cnonce=\"\""),
        good.replace("username=\"2001\"", "username=\"\""),
        good.replace("response=\"", "response=\"ab"),
        good.replace("uri=", "url="),
        "Digest".to_string(),
        "Digest ,,,".to_string(),
        "Digest realm=\"pbx.example\", nonce=\"unterminated".to_string(),
        "\u{0}\u{1}garbage=\"".to_string(),
        String::new(),
    ];
    for v in &variants {
        match a.check(&with_auth(v), T0, lookup) {
            AuthResult::Challenge(r) => assert_eq!(r.status, 401, "{v}"),
            other => panic!("{v}: expected challenge, got {other:?}"),
        }
    }
}

#[test]
fn the_digest_among_several_authorization_headers_is_used() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let mut req = register();
    req.headers.push("Authorization", "Basic Zm9vOmJhcg==");
    req.headers.push(
        "Authorization",
        answer("2001", "x", Algorithm::Md5, &nonce, 1).replace(REALM, "elsewhere"),
    );
    req.headers.push(
        "Authorization",
        answer("2001", "s3cret", Algorithm::Md5, &nonce, 1),
    );
    assert!(matches!(
        a.check(&req, T0, lookup),
        AuthResult::Authorized(_)
    ));
}

#[test]
fn uppercase_hex_response_is_accepted() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let v = answer("2001", "s3cret", Algorithm::Md5, &nonce, 1);
    let p = parse_auth_params(&v).unwrap();
    let resp = p.get("response").unwrap();
    let v = v.replace(resp, &resp.to_ascii_uppercase());
    assert!(matches!(
        a.check(&with_auth(&v), T0, lookup),
        AuthResult::Authorized(_)
    ));
}

#[test]
fn proxy_kind_uses_407_and_proxy_headers() {
    let mut cfg = AuthConfig::new(REALM);
    cfg.kind = ChallengeKind::Proxy;
    let a = Authenticator::new(cfg, SECRET);
    let mut req = register();
    req.method = Method::Invite;
    req.headers.set("CSeq", "1 INVITE");
    let AuthResult::Challenge(ch) = a.check(&req, T0, lookup) else {
        panic!("expected 407");
    };
    assert_eq!(ch.status, 407);
    let v = ch.headers.get("Proxy-Authenticate").unwrap();
    let nonce = parse_auth_params(v)
        .unwrap()
        .get("nonce")
        .unwrap()
        .to_string();
    // An Authorization (not Proxy-Authorization) header is ignored by a proxy.
    let ans = answer("2001", "s3cret", Algorithm::Md5, &nonce, 1).replace("REGISTER", "INVITE");
    let ha1 = ha1_md5("2001", REALM, "s3cret");
    let response = response_qop_auth(&ResponseInput {
        algorithm: Algorithm::Md5,
        ha1: &ha1,
        nonce: &nonce,
        nc: "00000001",
        cnonce: "0a4f113b",
        method: "INVITE",
        uri: "sip:pbx.example",
    });
    let p = parse_auth_params(&ans).unwrap();
    let ans = ans.replace(p.get("response").unwrap(), &response);
    let mut wrong_header = req.clone();
    wrong_header.headers.push("Authorization", ans.clone());
    assert!(matches!(
        a.check(&wrong_header, T0, lookup),
        AuthResult::Challenge(_)
    ));
    req.headers.push("Proxy-Authorization", ans);
    assert!(matches!(
        a.check(&req, T0, lookup),
        AuthResult::Authorized(_)
    ));
}

#[test]
fn authenticator_is_shareable_across_tasks() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Authenticator>();
}

#[test]
fn mutated_credentials_never_panic_and_only_authorize_when_equivalent() {
    let a = auth();
    let nonce = nonce_of(&expect_challenge(a.check(&register(), T0, lookup), false));
    let good = answer("2001", "s3cret", Algorithm::Sha256, &nonce, 1);
    let good_params = parse_auth_params(&good).unwrap();
    let bytes = good.as_bytes();
    let mut nc = 2u32;
    for i in 0..bytes.len() {
        for b in [b'"', b'\\', b',', b'=', b' ', b'0', b'f', b'A', 0xff] {
            let mut v = bytes.to_vec();
            v[i] = b;
            // Give each attempt a fresh count so replay protection does not mask the result.
            let s = String::from_utf8_lossy(&v).replace("nc=00000001", &format!("nc={nc:08x}"));
            nc += 1;
            if let AuthResult::Authorized(_) = a.check(&with_auth(&s), T0, lookup) {
                let mut p = parse_auth_params(&s).unwrap();
                p.params.retain(|(n, _)| n != "nc");
                let mut g = good_params.clone();
                g.params.retain(|(n, _)| n != "nc");
                // Only case changes of the hex response or of names are allowed to pass.
                for ((n1, v1), (n2, v2)) in p.params.iter().zip(&g.params) {
                    assert!(n1.eq_ignore_ascii_case(n2), "{s}");
                    assert!(v1.eq_ignore_ascii_case(v2), "{s}");
                }
            }
        }
    }
}

#[test]
fn offered_algorithms_are_configurable_and_enforced() {
    let mut cfg = AuthConfig::new(REALM);
    cfg.algorithms = vec![Algorithm::Md5];
    let a = Authenticator::new(cfg, SECRET);
    let ch = expect_challenge(a.check(&register(), T0, lookup), false);
    let offered: Vec<_> = ch
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| {
            parse_auth_params(v)
                .unwrap()
                .get("algorithm")
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(offered, ["MD5"]);
    let nonce = nonce_of(&ch);
    // A correct SHA-256 answer is not accepted when SHA-256 is not offered.
    let sha = with_auth(&answer("2001", "s3cret", Algorithm::Sha256, &nonce, 1));
    expect_challenge(a.check(&sha, T0, lookup), false);
    // ... and the reason is there for the log line.
    assert_eq!(a.unoffered_answer(&sha).as_deref(), Some("SHA-256"));
    assert_eq!(a.unoffered_answer(&register()), None);
    let md5 = with_auth(&answer("2001", "s3cret", Algorithm::Md5, &nonce, 2));
    assert_eq!(a.unoffered_answer(&md5), None);
    assert!(matches!(
        a.check(&md5, T0, lookup),
        AuthResult::Authorized(_)
    ));

    // MD5 preferred first, both offered.
    let mut cfg = AuthConfig::new(REALM);
    cfg.algorithms = vec![Algorithm::Md5, Algorithm::Sha256];
    let ch = expect_challenge(
        Authenticator::new(cfg, SECRET).check(&register(), T0, lookup),
        false,
    );
    let first = ch.headers.get("WWW-Authenticate").unwrap();
    assert_eq!(
        parse_auth_params(first).unwrap().get("algorithm"),
        Some("MD5")
    );

    // Empty means the default, never a 401 without challenges.
    let mut cfg = AuthConfig::new(REALM);
    cfg.algorithms.clear();
    let ch = expect_challenge(
        Authenticator::new(cfg, SECRET).check(&register(), T0, lookup),
        false,
    );
    assert_eq!(ch.headers.count("WWW-Authenticate"), 2);
}
