//! REGISTER processing (RFC 3261 §10.3) for several devices per user at once (R-PBX-2),
//! as a pure function of the request, the AOR's current bindings and the time.
//!
//! ```text
//!  store.get_bindings(aor) ─┐
//!  REGISTER (authorized) ───┼─► registrar::process ─► RegisterOutcome { response, new_bindings, changed }
//!  now, source address  ────┘                              │ changed → store.put_bindings(aor, &new_bindings)
//! ```
//!
//! Authentication and "may this user register this AOR" are the caller's job
//! ([`crate::auth`], then compare the user with [`aor_of`]).
//!
//! Policy decisions (what a serious PBX does):
//! - **Too many contacts**: at most [`RegistrarConfig::max_contacts`] bindings (default 10).
//!   A new device evicts the binding refreshed longest ago — usually a phone that rebooted
//!   behind NAT and left a dead binding (Asterisk's `remove_existing`). A REGISTER that alone
//!   carries more contacts than the maximum is refused with 403.
//! - Binding identity: RFC 5626 `+sip.instance` (+ `reg-id`) when present, else the contact URI
//!   compared per RFC 3261 §19.1.4. A re-REGISTER from the same instance replaces its old
//!   contact (new NAT port) instead of adding one.
//! - Expiry: Contact `expires` param, else the Expires header, else the default (3600);
//!   nonzero below the minimum → 423 with Min-Expires; above the maximum → capped.
//! - Ordering: same Call-ID with a CSeq not higher than stored → 500, nothing changed
//!   (RFC 3261 §10.3 step 7: "the update MUST be aborted and the request fails").
//! - All-or-nothing: any error leaves the bindings as they were (minus lapsed ones).
//! - RFC 5626 `Require: outbound` and flow tokens are not implemented; instance and reg-id
//!   are kept so the B2BUA can fork to one flow per device.

mod binding;
mod date;
mod process;
pub(crate) mod reply;
mod uri_eq;

pub use binding::Binding;
pub use date::http_date;
pub use process::{aor_of, process, RegisterOutcome};
pub use uri_eq::uri_eq;

/// Registrar limits.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Maximum bindings per AOR (devices per user).
    pub max_contacts: usize,
    /// Expiry when neither the contact nor the request gives one.
    pub default_expires: u32,
    /// Shortest accepted nonzero expiry (shorter → 423). RFC 3261 recommends ≥ 60 s; NAT
    /// keep-alive is the UA's job (RFC 5626 CRLF pings), not frequent re-registration.
    pub min_expires: u32,
    /// Longest expiry granted (longer requests are shortened to this).
    pub max_expires: u32,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            max_contacts: 10,
            default_expires: 3600,
            min_expires: 60,
            max_expires: 7200,
        }
    }
}
