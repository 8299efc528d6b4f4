//! One member's state, shared by every queue it belongs to: a member on any call (queue or
//! direct) is busy everywhere.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::command::{CallerId, MemberState, OfferId};

/// What a member chose (log-in and pause), as opposed to what calls make it: the part of
/// its state worth keeping across a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "presence", rename_all = "kebab-case")]
pub enum Presence {
    /// Logged in and taking queue calls.
    In,
    /// Logged in, taking no queue calls, for `reason`.
    Paused { reason: String },
    /// Logged out.
    Out,
}

impl Presence {
    /// Its short name, as logs and the live state show it.
    pub fn name(&self) -> &'static str {
        match self {
            Presence::In => "in",
            Presence::Paused { .. } => "paused",
            Presence::Out => "out",
        }
    }
}

/// The independent facts about a member; [`Member::state`] derives the one state shown.
/// They are kept apart because they overlap: a member can pause during a call, take a
/// direct call in wrap-up, or log out while ringing.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub logged_in: bool,
    pub paused: Option<String>,
    /// The offer ringing this member's devices.
    pub ringing: Option<OfferId>,
    /// The queue caller this member is talking to.
    pub queue_call: Option<CallerId>,
    /// Calls the host reported that did not come from a queue.
    pub direct_calls: u32,
    pub wrap_until: Option<Instant>,
    /// No offer before this: set after a failed offer so that a device that errors at once
    /// is not re-offered in a tight loop.
    pub rest_until: Option<Instant>,
    /// When the member's last call ended (or it logged in): longest-idle picks the oldest.
    pub idle_since: Instant,
    /// Consecutive missed offers (no answer, error); reset by answering or unpausing.
    pub misses: u32,
    /// The state last announced with `MemberStateChanged`.
    pub reported: MemberState,
}

impl Member {
    pub fn new(now: Instant) -> Self {
        Member {
            logged_in: false,
            paused: None,
            ringing: None,
            queue_call: None,
            direct_calls: 0,
            wrap_until: None,
            rest_until: None,
            idle_since: now,
            misses: 0,
            reported: MemberState::LoggedOut,
        }
    }

    /// Log-in and pause, apart from calls.
    pub fn presence(&self) -> Presence {
        match (&self.paused, self.logged_in) {
            (_, false) => Presence::Out,
            (Some(reason), true) => Presence::Paused {
                reason: reason.clone(),
            },
            (None, true) => Presence::In,
        }
    }

    pub fn on_call(&self) -> bool {
        self.queue_call.is_some() || self.direct_calls > 0
    }

    /// The state shown to supervisors. A member resting after a failed offer shows as
    /// available (it is, for direct calls) though it gets no queue offer yet.
    pub fn state(&self) -> MemberState {
        if !self.logged_in {
            MemberState::LoggedOut
        } else if self.on_call() {
            MemberState::OnCall
        } else if self.ringing.is_some() {
            MemberState::Ringing
        } else if let Some(reason) = &self.paused {
            MemberState::Paused {
                reason: reason.clone(),
            }
        } else if self.wrap_until.is_some() {
            MemberState::WrapUp
        } else {
            MemberState::Available
        }
    }

    /// Whether a queue caller may be offered to this member now.
    pub fn can_take_offer(&self) -> bool {
        self.state() == MemberState::Available && self.rest_until.is_none()
    }

    /// Drops timers that have run out, so that each deadline wakes the host once.
    pub fn expire_timers(&mut self, now: Instant) {
        if self.wrap_until.is_some_and(|t| t <= now) {
            self.wrap_until = None;
        }
        if self.rest_until.is_some_and(|t| t <= now) {
            self.rest_until = None;
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.wrap_until, self.rest_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
