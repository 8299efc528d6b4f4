//! Self-validating nonces and nonce-count replay tracking.
//!
//! A nonce is 64 hex digits: `timestamp(8 bytes) ‖ random(8) ‖ HMAC-SHA-256(secret,
//! timestamp ‖ random ‖ realm)[..16]`. The server keeps no state per challenge, so a flood of
//! unauthenticated REGISTERs costs no memory; the signature proves we issued it, the
//! timestamp gives its age (expired → `stale=true`). The secret lives in the store, so nonces
//! stay valid across a restart.
//!
//! Replay protection (RFC 7616 §3.4.5 `nc`) needs state, but only for nonces that were used
//! in a *successful* authentication, so an attacker without a password cannot grow it; it is
//! bounded anyway, see [`ReplayTracker`].

use std::collections::HashMap;

use super::digest::{ct_eq, hmac_sha256};

/// Hex length of a nonce we issue.
pub const NONCE_LEN: usize = 64;
/// Nonces dated this far in the future are rejected (tolerates no clock skew: we made them).
const FUTURE_SLACK_SECS: u64 = 5;

/// Verdict on a nonce presented in credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours and young enough; carries the issue time.
    Fresh { issued_unix: u64 },
    /// Ours but older than the lifetime: answer with `stale=true` if the digest is right.
    Stale,
    /// Not ours (forged, other realm, malformed, from the future).
    Invalid,
}

/// Issues and verifies nonces with the server secret.
#[derive(Clone)]
pub struct NonceSigner {
    secret: [u8; 32],
    realm: String,
    lifetime_secs: u64,
}

impl std::fmt::Debug for NonceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceSigner")
            .field("realm", &self.realm)
            .field("lifetime_secs", &self.lifetime_secs)
            .finish_non_exhaustive()
    }
}

impl NonceSigner {
    pub fn new(secret: [u8; 32], realm: &str, lifetime_secs: u64) -> NonceSigner {
        NonceSigner {
            secret,
            realm: realm.to_string(),
            lifetime_secs,
        }
    }

    fn mac(&self, ts: &[u8; 8], salt: &[u8; 8]) -> [u8; 16] {
        let full = hmac_sha256(&self.secret, &[ts, salt, self.realm.as_bytes()]);
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A new nonce issued at `now_unix`; `salt` makes simultaneous nonces distinct.
    pub fn issue(&self, now_unix: u64, salt: [u8; 8]) -> String {
        let ts = now_unix.to_be_bytes();
        let mac = self.mac(&ts, &salt);
        let mut out = String::with_capacity(NONCE_LEN);
        out.push_str(&hex::encode(ts));
        out.push_str(&hex::encode(salt));
        out.push_str(&hex::encode(mac));
        out
    }

    /// Checks signature and age.
    pub fn check(&self, nonce: &str, now_unix: u64) -> NonceCheck {
        if nonce.len() != NONCE_LEN {
            return NonceCheck::Invalid;
        }
        let Ok(raw) = hex::decode(nonce) else {
            return NonceCheck::Invalid;
        };
        let mut ts = [0u8; 8];
        let mut salt = [0u8; 8];
        ts.copy_from_slice(&raw[0..8]);
        salt.copy_from_slice(&raw[8..16]);
        if !ct_eq(&self.mac(&ts, &salt), &raw[16..32]) {
            return NonceCheck::Invalid;
        }
        let issued = u64::from_be_bytes(ts);
        if issued > now_unix.saturating_add(FUTURE_SLACK_SECS) {
            NonceCheck::Invalid
        } else if now_unix.saturating_sub(issued) > self.lifetime_secs {
            NonceCheck::Stale
        } else {
            NonceCheck::Fresh {
                issued_unix: issued,
            }
        }
    }
}

/// Verdict on a nonce count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcCheck {
    /// First use of this count: accept.
    Accept,
    /// Already seen, or too old to tell: reject (answer with a fresh, `stale=true` challenge so
    /// an honest client that merely reordered requests retries transparently).
    Replay,
}

/// Width of the out-of-order window: counts up to this far below the highest seen are
/// accepted once each (requests sent in parallel over UDP may arrive reordered).
const WINDOW: u32 = 64;

#[derive(Debug, Clone, Copy)]
struct Seen {
    issued_unix: u64,
    highest: u32,
    /// Bit `k` set ⇔ count `highest - k` was seen.
    bits: u64,
}

/// Remembers which nonce counts were used, per nonce, in bounded memory.
///
/// When full, the oldest-issued nonces are forgotten and a watermark remembers their issue
/// time: any nonce issued at or before the watermark that is not tracked is treated as a
/// replay (the client gets `stale=true` and a new nonce). So forgetting never reopens a
/// replay hole; it only costs an extra round trip.
#[derive(Debug)]
pub struct ReplayTracker {
    seen: HashMap<String, Seen>,
    capacity: usize,
    watermark: Option<u64>,
}

impl ReplayTracker {
    pub fn new(capacity: usize) -> ReplayTracker {
        ReplayTracker {
            seen: HashMap::new(),
            capacity: capacity.max(1),
            watermark: None,
        }
    }

    /// Number of nonces tracked.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records `nc` for `nonce` if it is new. Call only after the digest verified.
    pub fn check_and_record(
        &mut self,
        nonce: &str,
        issued_unix: u64,
        nc: u32,
        now_unix: u64,
        lifetime_secs: u64,
    ) -> NcCheck {
        if nc == 0 {
            return NcCheck::Replay;
        }
        if let Some(s) = self.seen.get_mut(nonce) {
            return if nc > s.highest {
                let shift = nc - s.highest;
                s.bits = if shift >= WINDOW { 0 } else { s.bits << shift };
                s.bits |= 1;
                s.highest = nc;
                NcCheck::Accept
            } else {
                let back = s.highest - nc;
                if back >= WINDOW || s.bits & (1u64 << back) != 0 {
                    NcCheck::Replay
                } else {
                    s.bits |= 1u64 << back;
                    NcCheck::Accept
                }
            };
        }
        if self.watermark.is_some_and(|w| issued_unix <= w) {
            return NcCheck::Replay;
        }
        if self.seen.len() >= self.capacity {
            self.make_room(now_unix, lifetime_secs);
            if self.watermark.is_some_and(|w| issued_unix <= w) {
                return NcCheck::Replay;
            }
        }
        self.seen.insert(
            nonce.to_string(),
            Seen {
                issued_unix,
                highest: nc,
                bits: 1,
            },
        );
        NcCheck::Accept
    }

    /// Drops expired nonces (they fail the age check anyway); if that is not enough, forgets
    /// the oldest eighth and raises the watermark to cover them. Amortised O(1) per insert.
    fn make_room(&mut self, now_unix: u64, lifetime_secs: u64) {
        let cutoff = now_unix.saturating_sub(lifetime_secs);
        self.seen.retain(|_, s| s.issued_unix >= cutoff);
        if self.seen.len() < self.capacity {
            return;
        }
        let mut times: Vec<u64> = self.seen.values().map(|s| s.issued_unix).collect();
        times.sort_unstable();
        let k = (self.capacity / 8).max(1).min(times.len()) - 1;
        let mark = times[k];
        self.seen.retain(|_, s| s.issued_unix > mark);
        self.watermark = Some(self.watermark.map_or(mark, |w| w.max(mark)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> NonceSigner {
        NonceSigner::new([7u8; 32], "pbx.example", 300)
    }

    #[test]
    fn issued_nonce_validates_and_ages() {
        let s = signer();
        let n = s.issue(1000, [1; 8]);
        assert_eq!(n.len(), NONCE_LEN);
        assert_eq!(s.check(&n, 1000), NonceCheck::Fresh { issued_unix: 1000 });
        assert_eq!(s.check(&n, 1300), NonceCheck::Fresh { issued_unix: 1000 });
        assert_eq!(s.check(&n, 1301), NonceCheck::Stale);
        assert_eq!(s.check(&n, 990), NonceCheck::Invalid, "from the future");
        assert_ne!(n, s.issue(1000, [2; 8]));
    }

    #[test]
    fn forged_or_foreign_nonces_are_invalid() {
        let s = signer();
        let n = s.issue(1000, [1; 8]);
        let other_realm = NonceSigner::new([7u8; 32], "other", 300);
        assert_eq!(other_realm.check(&n, 1000), NonceCheck::Invalid);
        let other_secret = NonceSigner::new([8u8; 32], "pbx.example", 300);
        assert_eq!(other_secret.check(&n, 1000), NonceCheck::Invalid);
        // Moving the timestamp forward breaks the signature.
        let mut forged = n.clone();
        forged.replace_range(0..16, &hex::encode(2000u64.to_be_bytes()));
        assert_eq!(s.check(&forged, 2000), NonceCheck::Invalid);
        for bad in ["", "zz", &"g".repeat(64), &n[..63], "é".repeat(32).as_str()] {
            assert_eq!(s.check(bad, 1000), NonceCheck::Invalid);
        }
    }

    #[test]
    fn nonce_counts_are_used_once_with_a_reorder_window() {
        let mut t = ReplayTracker::new(100);
        let n = "n1";
        assert_eq!(t.check_and_record(n, 10, 1, 10, 300), NcCheck::Accept);
        assert_eq!(t.check_and_record(n, 10, 1, 10, 300), NcCheck::Replay);
        assert_eq!(t.check_and_record(n, 10, 3, 10, 300), NcCheck::Accept);
        assert_eq!(
            t.check_and_record(n, 10, 2, 10, 300),
            NcCheck::Accept,
            "reordered"
        );
        assert_eq!(t.check_and_record(n, 10, 2, 10, 300), NcCheck::Replay);
        assert_eq!(t.check_and_record(n, 10, 100, 10, 300), NcCheck::Accept);
        assert_eq!(
            t.check_and_record(n, 10, 36, 10, 300),
            NcCheck::Replay,
            "outside window"
        );
        assert_eq!(t.check_and_record(n, 10, 37, 10, 300), NcCheck::Accept);
        assert_eq!(t.check_and_record(n, 10, 0, 10, 300), NcCheck::Replay);
        assert_eq!(t.check_and_record("n2", 10, 1, 10, 300), NcCheck::Accept);
    }

    #[test]
    fn tracker_is_bounded_and_never_reopens_a_replay() {
        let mut t = ReplayTracker::new(64);
        for i in 0..10_000u64 {
            let accepted = t.check_and_record(&format!("n{i}"), i, 1, i, 1_000_000);
            assert_eq!(accepted, NcCheck::Accept, "fresh nonce {i}");
            assert!(t.len() <= 64);
        }
        // An evicted nonce replayed with nc=1 is refused, not accepted as new.
        assert_eq!(
            t.check_and_record("n5", 5, 1, 10_000, 1_000_000),
            NcCheck::Replay
        );
        // A recent one is still tracked precisely.
        assert_eq!(
            t.check_and_record("n9999", 9999, 1, 10_000, 1_000_000),
            NcCheck::Replay
        );
        assert_eq!(
            t.check_and_record("n9999", 9999, 2, 10_000, 1_000_000),
            NcCheck::Accept
        );
    }

    #[test]
    fn expired_nonces_are_swept_first() {
        let mut t = ReplayTracker::new(4);
        for i in 0..4u64 {
            t.check_and_record(&format!("old{i}"), 0, 1, 0, 300);
        }
        // At t=1000 all four are past their lifetime: swept without raising the watermark.
        assert_eq!(
            t.check_and_record("new", 1000, 1, 1000, 300),
            NcCheck::Accept
        );
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.check_and_record("other", 999, 1, 1000, 300),
            NcCheck::Accept
        );
    }
}
