//! Digest authentication for a registrar / UAS (RFC 8760 SHA-256 and MD5, with RFC 7616 and
//! RFC 2617 semantics, `qop=auth`), sans-IO.
//!
//! [`Authenticator::check`] takes a request, the time and a lookup from username to HA1 and
//! returns what to do: let it through, challenge it (401/407) or refuse it (403).
//!
//! Rules that protect users:
//! - Only HA1s are stored ([`ha1_md5`], [`ha1_sha256`]), never passwords.
//! - A 401 never reveals whether a user exists: unknown users get the same challenge, and a
//!   response from one is checked against a dummy HA1 and refused exactly like a wrong
//!   password (same 403, same work).
//! - Nonces are self-validating ([`nonce`]): no memory per challenge. Expired nonces with a
//!   correct digest get `stale=true`; nonce counts are checked for replay in bounded memory.
//! - Anything that is not a well-formed Digest answer to our realm (unknown scheme as in
//!   RFC 4475 regaut01, garbage, other realm, unsupported algorithm or qop) gets a plain
//!   challenge: it is not counted as a failed password.
//!
//! What a caller still does: check that the authenticated user may act for the To/From
//! AOR, feed [`AuthResult::Forbidden`] to [`crate::guard`] as a failure, and drop credentials
//! of disabled users in `lookup_ha1`. The `uri` parameter is used as sent and not compared
//! with the Request-URI (proxies and NATs rewrite it; nonce counts already stop replays).

pub mod client;
mod digest;
pub mod nonce;
mod params;

use std::sync::Mutex;

use rand::Rng;

pub use digest::{ha1_md5, ha1_sha256, response_qop_auth, Algorithm, ResponseInput};
pub use params::{parse_auth_params, quote, AuthParams, ParamsError};

use crate::message::{HeaderName, Request, Response};
use crate::registrar::reply::response_to;
use digest::{ct_eq, hmac_sha256};
use nonce::{NcCheck, NonceCheck, NonceSigner, ReplayTracker};

/// Which pair of headers and status the authenticator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// Registrar / UAS: `Authorization` → 401 with `WWW-Authenticate`.
    Www,
    /// Proxy: `Proxy-Authorization` → 407 with `Proxy-Authenticate`.
    Proxy,
}

/// Settings of an [`Authenticator`].
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The digest realm (usually the SIP domain).
    pub realm: String,
    /// How long a nonce stays fresh; afterwards a correct answer gets `stale=true`.
    pub nonce_lifetime_secs: u64,
    /// How many nonces' counts are remembered for replay detection (see [`ReplayTracker`]).
    pub replay_capacity: usize,
    pub kind: ChallengeKind,
    /// Challenges offered, in order of preference (RFC 8760 §2.4). Some UAs (sipp, older
    /// desk phones) answer only the first challenge and only know MD5: list MD5 first for
    /// them.
    pub algorithms: Vec<Algorithm>,
}

impl AuthConfig {
    /// Defaults for a registrar in `realm`: 300 s nonces, 16 384 tracked nonces, 401.
    pub fn new(realm: &str) -> AuthConfig {
        AuthConfig {
            realm: realm.to_string(),
            nonce_lifetime_secs: 300,
            replay_capacity: 16_384,
            kind: ChallengeKind::Www,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }
}

/// Who was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedUser {
    /// The digest `username` (our extension).
    pub username: String,
    pub algorithm: Algorithm,
}

/// The outcome of [`Authenticator::check`].
#[derive(Debug, Clone)]
pub enum AuthResult {
    /// Credentials verified; process the request.
    Authorized(AuthorizedUser),
    /// Send this 401/407 (a fresh challenge; `stale=true` when only the nonce was old).
    /// Not a failed password attempt.
    Challenge(Response),
    /// Send this 403: wrong password or unknown user (indistinguishable by design).
    /// Count it as a failure for brute-force protection.
    Forbidden(Response),
}

/// Digest authenticator for one realm; one instance serves the whole server (`Send + Sync`,
/// share it in an `Arc`). The only shared state, the replay tracker, sits behind a short
/// internal lock taken after the digest verified, so `lookup_ha1` (a store read) never runs
/// under a lock.
pub struct Authenticator {
    config: AuthConfig,
    signer: NonceSigner,
    replay: Mutex<ReplayTracker>,
    secret: [u8; 32],
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("tracked_nonces", &self.tracker().len())
            .finish_non_exhaustive()
    }
}

/// The fields of a Digest answer we need, validated.
struct DigestAnswer<'a> {
    username: &'a str,
    nonce: &'a str,
    uri: &'a str,
    response: String,
    algorithm: Algorithm,
    cnonce: &'a str,
    nc_raw: &'a str,
    nc: u32,
}

impl Authenticator {
    /// `secret` is the store's server secret (32 random bytes, stable across restarts).
    /// An empty `config.algorithms` means the default (a 401 always carries a challenge).
    pub fn new(mut config: AuthConfig, secret: [u8; 32]) -> Authenticator {
        if config.algorithms.is_empty() {
            config.algorithms = AuthConfig::new(&config.realm).algorithms;
        }
        config.algorithms.dedup();
        Authenticator {
            signer: NonceSigner::new(secret, &config.realm, config.nonce_lifetime_secs),
            replay: Mutex::new(ReplayTracker::new(config.replay_capacity)),
            config,
            secret,
        }
    }

    /// The replay tracker; a panic elsewhere while holding it cannot leave it inconsistent
    /// (each update is a single map operation), so a poisoned lock is simply taken over.
    fn tracker(&self) -> std::sync::MutexGuard<'_, ReplayTracker> {
        self.replay.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Checks the request's credentials. `lookup_ha1(username, algorithm)` returns the
    /// user's lower-case hex HA1 for that algorithm, or `None` for unknown/disabled users.
    pub fn check<F>(&self, req: &Request, now_unix: u64, lookup_ha1: F) -> AuthResult
    where
        F: FnOnce(&str, Algorithm) -> Option<String>,
    {
        let header = match self.config.kind {
            ChallengeKind::Www => HeaderName::AUTHORIZATION,
            ChallengeKind::Proxy => HeaderName::PROXY_AUTHORIZATION,
        };
        let parsed: Vec<AuthParams> = req
            .headers
            .get_all(header)
            .filter_map(|v| parse_auth_params(v).ok())
            .filter(|p| p.is_digest() && p.get("realm") == Some(self.config.realm.as_str()))
            .collect();
        // Answers with an algorithm we did not offer are challenged again (an admin who
        // turned MD5 off means it).
        let Some(answer) = parsed
            .iter()
            .filter_map(digest_answer)
            .find(|a| self.config.algorithms.contains(&a.algorithm))
        else {
            return AuthResult::Challenge(self.challenge(req, now_unix, false));
        };

        let nonce_state = self.signer.check(answer.nonce, now_unix);
        if nonce_state == NonceCheck::Invalid {
            return AuthResult::Challenge(self.challenge(req, now_unix, false));
        }

        // Same work whether or not the user exists: the dummy is always computed.
        let dummy = self.dummy_ha1(answer.username, answer.algorithm);
        let ha1 = lookup_ha1(answer.username, answer.algorithm)
            .filter(|h| h.len() == answer.algorithm.hex_len())
            .map(|h| h.to_ascii_lowercase())
            .unwrap_or(dummy);
        let expected = response_qop_auth(&ResponseInput {
            algorithm: answer.algorithm,
            ha1: &ha1,
            nonce: answer.nonce,
            nc: answer.nc_raw,
            cnonce: answer.cnonce,
            method: req.method.as_str(),
            uri: answer.uri,
        });
        if !ct_eq(expected.as_bytes(), answer.response.as_bytes()) {
            return AuthResult::Forbidden(response_to(req, 403));
        }
        let issued_unix = match nonce_state {
            NonceCheck::Fresh { issued_unix } => issued_unix,
            NonceCheck::Stale | NonceCheck::Invalid => {
                return AuthResult::Challenge(self.challenge(req, now_unix, true))
            }
        };
        let verdict = self.tracker().check_and_record(
            answer.nonce,
            issued_unix,
            answer.nc,
            now_unix,
            self.config.nonce_lifetime_secs,
        );
        match verdict {
            NcCheck::Accept => AuthResult::Authorized(AuthorizedUser {
                username: answer.username.to_string(),
                algorithm: answer.algorithm,
            }),
            NcCheck::Replay => AuthResult::Challenge(self.challenge(req, now_unix, true)),
        }
    }

    /// The algorithms offered, in order of preference.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.config.algorithms
    }

    /// Why a request with credentials was challenged again instead of checked: the
    /// `algorithm=` of a Digest answer to our realm that names an algorithm we did not
    /// offer (or one we do not know). `None` when the request carries no such answer, or
    /// carries one we can check. For a log line that tells the operator the phone and the
    /// server disagree (RFC 8760 §2.4: a UAC answers the first challenge it supports).
    pub fn unoffered_answer(&self, req: &Request) -> Option<String> {
        let header = match self.config.kind {
            ChallengeKind::Www => HeaderName::AUTHORIZATION,
            ChallengeKind::Proxy => HeaderName::PROXY_AUTHORIZATION,
        };
        let answers: Vec<AuthParams> = req
            .headers
            .get_all(header)
            .filter_map(|v| parse_auth_params(v).ok())
            .filter(|p| p.is_digest() && p.get("realm") == Some(self.config.realm.as_str()))
            .collect();
        if answers.is_empty() {
            return None;
        }
        let mut unoffered = None;
        for p in &answers {
            let token = p.get("algorithm").unwrap_or("MD5");
            match Algorithm::from_token(token) {
                Some(a) if self.config.algorithms.contains(&a) => return None,
                _ => unoffered = unoffered.or_else(|| Some(token.to_string())),
            }
        }
        unoffered
    }

    /// A 401/407 with one challenge per configured algorithm sharing one fresh nonce, in
    /// order of preference (RFC 8760 §2.4; by default SHA-256, then MD5).
    pub fn challenge(&self, req: &Request, now_unix: u64, stale: bool) -> Response {
        let (status, header) = match self.config.kind {
            ChallengeKind::Www => (401, HeaderName::WWW_AUTHENTICATE),
            ChallengeKind::Proxy => (407, HeaderName::PROXY_AUTHENTICATE),
        };
        let nonce = self.signer.issue(now_unix, rand::thread_rng().gen());
        let mut resp = response_to(req, status);
        for &alg in &self.config.algorithms {
            let mut v = format!(
                "Digest realm={}, nonce=\"{nonce}\", algorithm={}, qop=\"auth\"",
                quote(&self.config.realm),
                alg.as_str()
            );
            if stale {
                v.push_str(", stale=true");
            }
            resp.headers.push(header, v);
        }
        resp
    }

    /// A per-user stand-in HA1 that no password produces (keyed by the server secret, so it
    /// is stable for a username and unguessable).
    fn dummy_ha1(&self, username: &str, alg: Algorithm) -> String {
        let mac = hmac_sha256(
            &self.secret,
            &[
                b"dummy-ha1\0",
                alg.as_str().as_bytes(),
                b"\0",
                username.as_bytes(),
            ],
        );
        let mut h = hex::encode(mac);
        h.truncate(alg.hex_len());
        h
    }
}

/// Validates a parsed Digest answer; `None` means "challenge again", never "forbidden".
fn digest_answer(p: &AuthParams) -> Option<DigestAnswer<'_>> {
    let algorithm = match p.get("algorithm") {
        None => Algorithm::Md5, // RFC 2617 §3.2.2: absent means MD5.
        Some(a) => Algorithm::from_token(a)?,
    };
    if !p.get("qop")?.eq_ignore_ascii_case("auth") {
        return None;
    }
    let nc_raw = p.get("nc")?;
    if nc_raw.len() != 8 {
        return None;
    }
    let nc = u32::from_str_radix(nc_raw, 16).ok()?;
    let response = p.get("response")?.to_ascii_lowercase();
    if response.len() != algorithm.hex_len() {
        return None;
    }
    let username = p.get("username")?;
    if username.is_empty() || username.len() > 128 {
        return None;
    }
    Some(DigestAnswer {
        username,
        nonce: p.get("nonce")?,
        uri: p.get("uri")?,
        response,
        algorithm,
        cnonce: p.get("cnonce").filter(|c| !c.is_empty())?,
        nc_raw,
        nc,
    })
}

#[cfg(test)]
mod tests;
