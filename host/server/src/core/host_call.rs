//! Calls the host answers itself (the IVR, the line test) run in their own task and talk to
//! the SIP core through these two message types: the core tells the task what the caller's
//! dialog did ([`HostMsg`]); the task asks the core for SIP work ([`HostReq`]).

use std::time::Duration;

use madoguchi_plugin_host::bindings::types::TransferTarget;
use madoguchi_rtp::{Leg, Recording};

use super::media::CallFacts;

/// From the SIP core to a host-answered call's task.
#[derive(Debug)]
pub enum HostMsg {
    /// A SIP INFO carrying a digit.
    Info { body: String, content_type: String },
    /// The caller hung up.
    Stop,
    /// The transfer asked for with [`HostReq::Transfer`] was answered: hand the media over
    /// with [`HostReq::Adopt`].
    TransferAnswered { call: u64 },
    /// The transfer did not connect (SIP status of the best failure).
    TransferFailed { status: u16 },
    /// The transfer went to a call queue: the caller waits (hold music) at `position`.
    Queued { position: usize },
    /// The periodic waiting announcement: position (1 = next) and expected wait.
    QueueAnnounce {
        position: Option<usize>,
        expected_wait_ms: Option<u64>,
    },
    /// A queue event for the call's event log.
    QueueEvent {
        kind: String,
        detail: serde_json::Value,
    },
}

/// The call variable a node sets (e.g. the `transfer` plugin's `priority`) to place the
/// caller ahead of others in a queue: 0 (default) to 9.
pub const QUEUE_PRIORITY: &str = "queue.priority";

/// From a host-answered call's task to the SIP core.
pub enum HostReq {
    /// End the call from our side (BYE).
    Hangup { call_id: String },
    /// Ring `target` with `offer` (the SDP of the task's device-side leg).
    Transfer {
        call_id: String,
        target: TransferTarget,
        offer: super::b2bua::DeviceOffer,
        ring_timeout: Duration,
        /// For a queue: higher is served first (the call variable [`QUEUE_PRIORITY`]).
        priority: u8,
    },
    /// The transfer was answered: the core bridges and owns the legs from now on (and
    /// finishes the recording when the call ends).
    Adopt { call: u64, media: Box<AdoptedMedia> },
}

/// What a transfer hands over to the SIP core.
pub struct AdoptedMedia {
    pub facts: CallFacts,
    pub caller: Leg,
    pub device: Leg,
    pub recording: Option<(Recording, u64)>,
    /// Start recording now (the policy said "from transfer").
    pub record_now: bool,
}

impl std::fmt::Debug for HostReq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostReq::Hangup { call_id } => write!(f, "Hangup({call_id})"),
            HostReq::Transfer {
                call_id, target, ..
            } => write!(f, "Transfer({call_id}, {target:?})"),
            HostReq::Adopt { call, .. } => write!(f, "Adopt({call})"),
        }
    }
}

/// The SIP status of a failed transfer as the node sees it.
pub fn failure_of(status: u16) -> madoguchi_plugin_host::bindings::types::TransferFailure {
    use madoguchi_plugin_host::bindings::types::TransferFailure;
    match status {
        486 | 600 | 603 => TransferFailure::Busy,
        408 | 480 | 487 => TransferFailure::NoAnswer,
        _ => TransferFailure::Failed,
    }
}
