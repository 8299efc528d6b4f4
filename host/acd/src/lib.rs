//! The call queue (ACD) of madoguchi, as a sans-IO state machine (R-PBX-3).
//!
//! A queue is a transfer target: a named group of member users (the city hall My Number
//! section). A caller transferred to it is offered to a free member (the SIP layer rings
//! all of that member's devices, R-PBX-2) or waits, hearing hold music, its position and the
//! expected wait, until a member is free, its maximum wait passes, or the queue empties.
//!
//! [`Acd`] never reads a clock, opens a socket or sleeps: the host feeds it inputs with the
//! time, drains [`Command`]s with [`Acd::poll_command`], and calls [`Acd::handle_timeout`]
//! at [`Acd::poll_timeout`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use madoguchi_acd::{Acd, CallerId, Command, QueueConfig};
//!
//! let t0 = Instant::now(); // the host's clock, read by the host
//! let mut acd = Acd::new();
//! acd.configure(QueueConfig::new("mynumber", &["sato", "suzuki"], "call-center"), t0).unwrap();
//! acd.member_login("sato", t0).unwrap();
//! acd.caller_arrives("mynumber", CallerId::new("call-1"), 0, t0).unwrap();
//! let mut offer = None;
//! while let Some(cmd) = acd.poll_command() {
//!     if let Command::Offer { offer_id, members, .. } = cmd {
//!         assert_eq!(members, ["sato"]);
//!         offer = Some(offer_id);
//!     }
//! }
//! acd.offer_answered(offer.unwrap(), "sato", t0 + Duration::from_secs(3)).unwrap();
//! assert!(std::iter::from_fn(|| acd.poll_command())
//!     .any(|c| matches!(c, Command::Connect { .. })));
//! ```
//!
//! Panic policy: no input panics; unknown callers, members, queues and stale offers are
//! refused with an [`AcdError`] and change nothing.
#![forbid(unsafe_code)]

mod command;
mod config;
mod error;
pub mod history;
mod machine;
mod member;
mod stats;

#[cfg(test)]
mod machine_tests;

pub use command::{
    CallerId, Command, EventKind, FallbackReason, MemberState, OfferFailure, OfferId,
};
pub use config::{QueueConfig, Strategy, MAX_DURATION_MS, MIN_RING_TIMEOUT_MS};
pub use error::AcdError;
pub use machine::{Acd, Admission, AUTO_PAUSE_REASON, HISTORY_LEN};
pub use member::Presence;
pub use stats::{MemberCounts, PeriodStats, QueueSnapshot};
