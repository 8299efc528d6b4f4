//! SIP parser. PLACEHOLDER API (owner: the parser work); every function here is replaced
//! by the real implementation. Signatures are the contract the rest of the crate uses.

use crate::message::{CSeq, ContactList, NameAddr, Response, SipMessage, Uri, Via};

/// Why a message or header could not be parsed. Each variant names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A header the operation needs is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// Not yet implemented (placeholder; removed by the parser work).
    #[error("parser not implemented yet")]
    Unimplemented,
}

/// Size limits that keep a hostile peer from making us allocate without bound.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            max_headers: 128,
            max_body_bytes: 32 * 1024,
        }
    }
}

/// A datagram (or stream frame) that could not be accepted.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub error: ParseError,
    /// The 4xx/5xx to send back, when the message was a request whose Via could be salvaged;
    /// `None` means drop silently (malformed responses, unrecoverable garbage).
    pub reply: Option<Response>,
}

/// Parses one message from a UDP datagram (trailing octets past Content-Length are ignored).
pub fn parse_datagram(_buf: &[u8], _limits: &Limits) -> Result<SipMessage, Rejected> {
    Err(Rejected {
        error: ParseError::Unimplemented,
        reply: None,
    })
}

pub fn parse_cseq(_v: &str) -> Result<CSeq, ParseError> {
    Err(ParseError::Unimplemented)
}
pub fn parse_via_list(_v: &str) -> Result<Vec<Via>, ParseError> {
    Err(ParseError::Unimplemented)
}
pub fn parse_name_addr(_v: &str) -> Result<NameAddr, ParseError> {
    Err(ParseError::Unimplemented)
}
pub fn parse_name_addr_list(_v: &str) -> Result<Vec<NameAddr>, ParseError> {
    Err(ParseError::Unimplemented)
}
pub fn parse_contact_list(_v: &str) -> Result<ContactList, ParseError> {
    Err(ParseError::Unimplemented)
}
pub fn parse_uri(_v: &str) -> Result<Uri, ParseError> {
    Err(ParseError::Unimplemented)
}
