//! The UAC side: answering a carrier's (or any server's) digest challenge, e.g. when the PBX
//! registers its SIP trunk (R-PBX-4). Also what the tests use to play a phone.

use super::digest::{response_qop_auth, Algorithm, ResponseInput};
use super::params::{parse_auth_params, quote};

/// A digest challenge from `WWW-Authenticate` / `Proxy-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    pub opaque: Option<String>,
    /// The server offered `qop=auth`; if not, the RFC 2069 form is used.
    pub qop_auth: bool,
    pub stale: bool,
}

/// Parses one challenge; `None` if it is not a Digest challenge we can answer.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let p = parse_auth_params(value).ok()?;
    if !p.is_digest() {
        return None;
    }
    let algorithm = match p.get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::from_token(a)?,
    };
    let qop_auth = match p.get("qop") {
        Some(q) => {
            if !q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")) {
                return None; // only auth-int offered
            }
            true
        }
        None => false,
    };
    Some(Challenge {
        realm: p.get("realm")?.to_string(),
        nonce: p.get("nonce")?.to_string(),
        algorithm,
        opaque: p.get("opaque").map(str::to_string),
        qop_auth,
        stale: p
            .get("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true")),
    })
}

/// The best challenge among several header values: SHA-256 over MD5 (RFC 8760 §2.4).
pub fn choose_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let all: Vec<Challenge> = values.into_iter().filter_map(parse_challenge).collect();
    all.iter()
        .find(|c| c.algorithm == Algorithm::Sha256)
        .or_else(|| all.first())
        .cloned()
}

/// The `Authorization` value answering `ch`. `cnonce` should be random per nonce and `nc`
/// count up from 1 for each request sent with the same nonce.
pub fn authorization(
    ch: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> String {
    let ha1 = ch.algorithm.hash_hex(&[username, &ch.realm, password]);
    let nc_s = format!("{nc:08x}");
    let response = if ch.qop_auth {
        response_qop_auth(&ResponseInput {
            algorithm: ch.algorithm,
            ha1: &ha1,
            nonce: &ch.nonce,
            nc: &nc_s,
            cnonce,
            method,
            uri,
        })
    } else {
        let ha2 = ch.algorithm.hash_hex(&[method, uri]);
        ch.algorithm.hash_hex(&[&ha1, &ch.nonce, &ha2])
    };
    let mut v = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\", algorithm={}",
        quote(username),
        quote(&ch.realm),
        quote(&ch.nonce),
        quote(uri),
        ch.algorithm.as_str()
    );
    if ch.qop_auth {
        v.push_str(&format!(", qop=auth, nc={nc_s}, cnonce={}", quote(cnonce)));
    }
    if let Some(o) = &ch.opaque {
        v.push_str(&format!(", opaque={}", quote(o)));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_sha256_and_reproduces_rfc7616() {
        let md5 = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let sha = md5.replace("algorithm=MD5", "algorithm=SHA-256");
        let ch = choose_challenge([md5, sha.as_str()]).unwrap();
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let v = authorization(
            &ch,
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        );
        let p = parse_auth_params(&v).unwrap();
        assert_eq!(
            p.get("response"),
            Some("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        );
        assert_eq!(
            p.get("opaque"),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        assert_eq!(choose_challenge([md5]).unwrap().algorithm, Algorithm::Md5);
    }

    #[test]
    fn rfc2069_form_without_qop() {
        let ch = parse_challenge(
            r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#,
        )
        .unwrap();
        assert!(!ch.qop_auth);
        let v = authorization(
            &ch,
            "Mufasa",
            "CircleOfLife",
            "GET",
            "/dir/index.html",
            "x",
            1,
        );
        // RFC 2069 §2.4 example (password "CircleOfLife"; value as corrected by its errata).
        assert!(
            v.contains("response=\"1949323746fe6a43ef61f9606e7febea\""),
            "{v}"
        );
        assert!(!v.contains("qop"));
    }

    #[test]
    fn unanswerable_challenges() {
        assert_eq!(parse_challenge("Basic realm=\"x\""), None);
        assert_eq!(
            parse_challenge("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\""),
            None
        );
        assert_eq!(
            parse_challenge("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256"),
            None
        );
        assert_eq!(parse_challenge("Digest realm=\"x\""), None);
        assert!(
            parse_challenge("Digest realm=\"x\", nonce=\"n\", stale=TRUE")
                .unwrap()
                .stale
        );
    }
}
