//! Errors of the dialog layer, each mapped to the response a UAS sends for it.

use crate::parse::ParseError;

/// Why a message could not be applied to a dialog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// A header the dialog needs (From, To, Call-ID, CSeq, Contact…) is malformed or absent.
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
    /// A dialog needs tags on both sides; this message lacks the one it must carry.
    #[error("missing tag")]
    MissingTag,
    /// Only 101–299 responses to INVITE create dialogs.
    #[error("status {0} does not create a dialog")]
    NotDialogCreating(u16),
    /// Call-ID or tags do not match this dialog.
    #[error("message does not belong to this dialog")]
    NotInDialog,
    /// The request's CSeq is lower than the last one seen from the peer (RFC 3261 §12.2.2).
    #[error("CSeq {got} is below the dialog's remote sequence {last}")]
    OutOfOrder { got: u32, last: u32 },
}

impl DialogError {
    /// The status a UAS answers a request with when it fails with this error.
    pub fn status_code(&self) -> u16 {
        match self {
            DialogError::Malformed(_) | DialogError::MissingTag => 400,
            DialogError::NotDialogCreating(_) => 500,
            DialogError::NotInDialog => 481,
            DialogError::OutOfOrder { .. } => 500,
        }
    }
}
