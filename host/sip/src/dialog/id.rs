//! Dialog identifiers (RFC 3261 §12): Call-ID plus the two tags, seen from our side.

use std::fmt;

use super::DialogError;
use crate::message::{HeaderAccess, HeaderName, Request, Response};
use crate::parse::ParseError;

/// Identifies a dialog from our point of view: the local tag is the one we chose.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

fn call_id<M: HeaderAccess>(m: &M) -> Result<String, DialogError> {
    Ok(m.call_id()
        .ok_or(ParseError::MissingHeader(HeaderName::CALL_ID))?
        .to_string())
}

impl DialogId {
    /// For a request we received: local tag from To (ours), remote from From.
    /// Fails with [`DialogError::MissingTag`] for an out-of-dialog request (no To tag).
    pub fn from_incoming_request(req: &Request) -> Result<DialogId, DialogError> {
        let remote = req.from_hdr()?.tag().map(str::to_string);
        let local = req.to_hdr()?.tag().map(str::to_string);
        Ok(DialogId {
            call_id: call_id(req)?,
            local_tag: local.ok_or(DialogError::MissingTag)?,
            remote_tag: remote.unwrap_or_default(),
        })
    }

    /// For a response to a request we sent: local tag from From, remote from To.
    pub fn from_response(resp: &Response) -> Result<DialogId, DialogError> {
        let local = resp.from_hdr()?.tag().map(str::to_string);
        let remote = resp.to_hdr()?.tag().map(str::to_string);
        Ok(DialogId {
            call_id: call_id(resp)?,
            local_tag: local.ok_or(DialogError::MissingTag)?,
            remote_tag: remote.ok_or(DialogError::MissingTag)?,
        })
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};l={};r={}",
            self.call_id, self.local_tag, self.remote_tag
        )
    }
}
