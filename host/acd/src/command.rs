//! What goes in and comes out of the [`crate::Acd`]: identifiers, member states and the
//! commands the host carries out.

use serde::{Deserialize, Serialize};

/// A caller in a queue: the host's call ID of the caller's leg.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallerId(pub String);

impl CallerId {
    pub fn new(id: impl Into<String>) -> Self {
        CallerId(id.into())
    }
}

impl std::fmt::Display for CallerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies one offer (one caller ringing one or more members); never reused.
pub type OfferId = u64;

/// A member's state, the same in every queue it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum MemberState {
    /// Logged in, not paused, not on a call: can be offered a caller.
    Available,
    /// A queue caller is ringing the member's devices.
    Ringing,
    /// On a call, from a queue or direct.
    OnCall,
    /// Finishing the paperwork of a queue call; no offers until it ends.
    WrapUp,
    /// Logged in but taking no queue calls.
    Paused {
        /// Why (the member's own reason, or "no answer" when paused automatically).
        reason: String,
    },
    /// Not taking queue calls at all.
    LoggedOut,
}

impl MemberState {
    /// A short name for logs and statistics keys.
    pub fn name(&self) -> &'static str {
        match self {
            MemberState::Available => "available",
            MemberState::Ringing => "ringing",
            MemberState::OnCall => "on-call",
            MemberState::WrapUp => "wrap-up",
            MemberState::Paused { .. } => "paused",
            MemberState::LoggedOut => "logged-out",
        }
    }
}

/// How an offer to a member failed, as the SIP layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OfferFailure {
    /// Every device answered busy: the member is on a call the host had not reported.
    /// The member rests one ring timeout but this is not a miss.
    Busy,
    /// No device answered within the ring timeout: a miss.
    NoAnswer,
    /// The devices returned errors (or no device is registered): a miss.
    Error,
}

impl OfferFailure {
    fn name(self) -> &'static str {
        match self {
            OfferFailure::Busy => "busy",
            OfferFailure::NoAnswer => "no-answer",
            OfferFailure::Error => "error",
        }
    }
}

impl std::fmt::Display for OfferFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a caller leaves the queue for its fallback route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FallbackReason {
    /// Waited `max_wait_ms`.
    MaxWait,
    /// Arrived while no member was logged in and the queue does not `join_empty`.
    JoinEmpty,
    /// The last logged-in member logged out and the queue has `leave_when_empty`.
    LeaveEmpty,
    /// The queue was removed from the configuration.
    QueueRemoved,
}

/// What the caller's event log records about the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Entered the queue (`queue`, `priority`, `position`).
    QueueEnter,
    /// Told its position (`position`, `expected_wait_ms`).
    QueuePosition,
    /// Offered to members (`offer_id`, `members`).
    QueueOffered,
    /// A member answered (`member`, `wait_ms`, `within_service_level`).
    QueueAnswered,
    /// A member did not take the offer (`member`, `reason`, `auto_paused`).
    QueueNoAnswer,
    /// Hung up while waiting (`wait_ms`).
    QueueAbandoned,
    /// Sent to the fallback route (`route`, `reason`, `wait_ms`).
    QueueFallback,
    /// The connected call ended (`member`, `talk_ms`).
    QueueCallEnded,
}

impl EventKind {
    /// The kind as the call's event log spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::QueueEnter => "queue-enter",
            EventKind::QueuePosition => "queue-position",
            EventKind::QueueOffered => "queue-offered",
            EventKind::QueueAnswered => "queue-answered",
            EventKind::QueueNoAnswer => "queue-no-answer",
            EventKind::QueueAbandoned => "queue-abandoned",
            EventKind::QueueFallback => "queue-fallback",
            EventKind::QueueCallEnded => "queue-call-ended",
        }
    }
}

/// What the host must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Ring every registered device of each listed member with the caller (the SIP layer
    /// forks). Report back with [`crate::Acd::offer_answered`] or
    /// [`crate::Acd::offer_failed`] per member.
    Offer {
        offer_id: OfferId,
        caller: CallerId,
        /// Ring-all: every free member at once; other strategies: one.
        members: Vec<String>,
    },
    /// Stop ringing these members for this offer (another answered, the ring timeout
    /// passed, or the caller left).
    CancelOffer {
        offer_id: OfferId,
        members: Vec<String>,
    },
    /// Bridge the caller with the member whose leg answered the offer.
    Connect {
        caller: CallerId,
        member: String,
        offer_id: OfferId,
    },
    /// Play the waiting announcement over the hold music. `position` (1 = next) is `None`
    /// when the queue does not announce positions; `expected_wait_ms` is `None` until the
    /// queue has history.
    Announce {
        caller: CallerId,
        position: Option<usize>,
        expected_wait_ms: Option<u64>,
    },
    /// Take the caller out of the queue (stop the hold music) and route it to `route`.
    ToFallback {
        caller: CallerId,
        route: String,
        reason: FallbackReason,
    },
    /// A member's state changed (for the console and the member's phone display).
    MemberStateChanged { member: String, state: MemberState },
    /// Append to the caller's event log.
    Event {
        caller: CallerId,
        kind: EventKind,
        detail: serde_json::Value,
    },
}
