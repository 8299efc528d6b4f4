//! Why the queue refused an input.

/// An input the [`crate::Acd`] could not apply. None of these change the machine's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcdError {
    /// The queue configuration failed its structural checks; one message per problem.
    #[error("invalid queue configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// No queue of that name is configured.
    #[error("no queue named {0:?}")]
    UnknownQueue(String),
    /// The user is not a member of any queue, so it has no queue state to change.
    #[error("user {0:?} is not a member of any queue")]
    NotAMember(String),
    /// The caller is already in a queue or connected through one.
    #[error("caller {0:?} is already in a queue")]
    DuplicateCaller(String),
    /// The caller is not waiting in, nor connected through, any queue.
    #[error("caller {0:?} is not in a queue")]
    UnknownCaller(String),
    /// The offer is over (answered elsewhere, timed out, or the caller left), or the member
    /// was not part of it: the host must hang up that member's leg.
    #[error("offer {offer_id} to {member:?} is not ringing")]
    StaleOffer {
        /// The offer the host reported on.
        offer_id: u64,
        /// The member the host reported on.
        member: String,
    },
}
