//! RFC 3261 dialogs (§12, §13).
//!
//! (docs below)

mod ack_wait;
mod error;
mod id;
mod set;
mod state;

pub use ack_wait::{AckWait, AckWaitAction};
pub use error::DialogError;
pub use id::DialogId;
pub use set::{DialogSet, ForkEvent};
pub use state::{Dialog, DialogState, Role};
