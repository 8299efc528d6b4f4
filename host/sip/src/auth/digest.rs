//! Digest arithmetic (RFC 7616 §3.4, RFC 8760): HA1/HA2/response for MD5 and SHA-256,
//! HMAC-SHA-256 for nonce signatures, and a constant-time comparison.

use md5::Md5;
use sha2::{Digest, Sha256};

/// A digest hash algorithm we accept (RFC 8760 for SIP). `-sess` variants are not offered
/// and not accepted: SIP UAs practically never use them and they add state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `SHA-256`, offered first (RFC 8760 §2.2: the stronger one first).
    Sha256,
    /// `MD5`, still what most deployed phones implement.
    Md5,
}

impl Algorithm {
    /// Token as written in the `algorithm=` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    /// Parses an `algorithm=` value, case-insensitively. `None` for anything unsupported.
    pub fn from_token(t: &str) -> Option<Algorithm> {
        if t.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else if t.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else {
            None
        }
    }

    /// Length of the lower-case hex digest.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Md5 => 32,
        }
    }

    /// Lower-case hex of H(`parts` joined by `:`).
    pub fn hash_hex(self, parts: &[&str]) -> String {
        fn run<D: Digest>(parts: &[&str]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p.as_bytes());
            }
            hex::encode(d.finalize())
        }
        match self {
            Algorithm::Sha256 => run::<Sha256>(parts),
            Algorithm::Md5 => run::<Md5>(parts),
        }
    }
}

/// HA1 for MD5: hex MD5(`user:realm:password`). Store this, never the password.
pub fn ha1_md5(user: &str, realm: &str, password: &str) -> String {
    Algorithm::Md5.hash_hex(&[user, realm, password])
}

/// HA1 for SHA-256: hex SHA-256(`user:realm:password`).
pub fn ha1_sha256(user: &str, realm: &str, password: &str) -> String {
    Algorithm::Sha256.hash_hex(&[user, realm, password])
}

/// The inputs of one digest `response` computation with `qop=auth`.
#[derive(Debug, Clone, Copy)]
pub struct ResponseInput<'a> {
    pub algorithm: Algorithm,
    /// Hex HA1 for `algorithm`.
    pub ha1: &'a str,
    pub nonce: &'a str,
    /// The `nc` value exactly as sent (8 hex digits).
    pub nc: &'a str,
    pub cnonce: &'a str,
    /// The SIP method of the request (`REGISTER`, `INVITE`, …).
    pub method: &'a str,
    /// The `uri` parameter exactly as sent.
    pub uri: &'a str,
}

/// `response = H(HA1:nonce:nc:cnonce:auth:H(method:uri))` (RFC 7616 §3.4.1, qop=auth).
pub fn response_qop_auth(i: &ResponseInput<'_>) -> String {
    let ha2 = i.algorithm.hash_hex(&[i.method, i.uri]);
    i.algorithm
        .hash_hex(&[i.ha1, i.nonce, i.nc, i.cnonce, "auth", &ha2])
}

/// HMAC-SHA-256 (RFC 2104) over the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// Compares without an early exit, so timing does not reveal how many leading bytes matched.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7616 §3.9.1.
    const NONCE_7616: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE_7616: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const REALM_7616: &str = "http-auth@example.org";

    fn rfc7616(algorithm: Algorithm) -> String {
        let ha1 = algorithm.hash_hex(&["Mufasa", REALM_7616, "Circle of Life"]);
        response_qop_auth(&ResponseInput {
            algorithm,
            ha1: &ha1,
            nonce: NONCE_7616,
            nc: "00000001",
            cnonce: CNONCE_7616,
            method: "GET",
            uri: "/dir/index.html",
        })
    }

    #[test]
    fn rfc7616_sha256_example() {
        assert_eq!(
            rfc7616(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn rfc7616_md5_example() {
        assert_eq!(rfc7616(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc2617_example() {
        let ha1 = ha1_md5("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        let r = response_qop_auth(&ResponseInput {
            algorithm: Algorithm::Md5,
            ha1: &ha1,
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            nc: "00000001",
            cnonce: "0a4f113b",
            method: "GET",
            uri: "/dir/index.html",
        });
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn ha1_sha256_matches_hash_of_joined_fields() {
        assert_eq!(
            ha1_sha256("Mufasa", REALM_7616, "Circle of Life"),
            Algorithm::Sha256.hash_hex(&["Mufasa:http-auth@example.org:Circle of Life"])
        );
        assert_eq!(ha1_sha256("a", "b", "c").len(), 64);
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_rfc4231_case_6_long_key() {
        let key = [0xaau8; 131];
        let mac = hmac_sha256(
            &key,
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn algorithm_tokens() {
        assert_eq!(Algorithm::from_token("sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_token("Md5"), Some(Algorithm::Md5));
        assert_eq!(Algorithm::from_token("MD5-sess"), None);
        assert_eq!(Algorithm::from_token("SHA-512-256"), None);
    }
}
