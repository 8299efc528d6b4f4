//! SIP parser: bytes → [`SipMessage`](crate::message::SipMessage), strict (RFC 3261 §25 ABNF), bounded by [`Limits`],
//! never panicking. Errors carry the response to send ([`Rejected::reply`]).
//!
//! Accepted beyond the letter of the ABNF, as robust stacks do: bare-LF line ends, a
//! datagram whose head ends without the empty line, a status line without a reason
//! phrase, and unbracketed IPv6 `received` values (RFC 5118 §4.5).
//!
//! | function | input |
//! |---|---|
//! | [`parse_datagram`] | one UDP datagram, or one frame cut by [`frame_stream`] |
//! | [`frame_stream`] | the front of a TCP/TLS receive buffer |
//! | [`parse_uri`], [`parse_via_list`], [`parse_name_addr`], [`parse_name_addr_list`], [`parse_contact_list`], [`parse_cseq`] | one (unfolded) header value |

mod datagram;
mod head;
mod lex;
mod name_addr;
mod params;
mod reject;
mod scalar;
mod stream;
mod uri;
mod via;

pub use datagram::parse_datagram;
pub use head::keepalive_len;
pub use name_addr::{parse_contact_list, parse_name_addr, parse_name_addr_list};
pub use scalar::{
    check_call_id, parse_content_length, parse_cseq, parse_max_forwards, parse_media_type,
    parse_token_list,
};
pub use stream::frame_stream;
pub use uri::parse_uri;
pub use via::parse_via_list;

pub(crate) use reject::add_to_tag;

use crate::message::Response;

/// Why a message or header could not be parsed. Each variant names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A header the operation needs is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// The request or status line is malformed (answered 400).
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// A well-formed SIP version other than 2.0 (answered 505).
    #[error("SIP version not supported")]
    Version,
    /// A header line is malformed (no colon, bad name, bare CR, not UTF-8, …).
    #[error("malformed header line: {0}")]
    HeaderLine(&'static str),
    /// A header value does not match its grammar.
    #[error("malformed {header} header: {why}")]
    Header {
        /// The header (or header family) whose value is malformed.
        header: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A URI does not match RFC 3261 §19.1 / RFC 5118.
    #[error("malformed URI: {0}")]
    Uri(&'static str),
    /// Content-Length is malformed, repeated, or larger than the data (answered 400).
    #[error("bad Content-Length: {0}")]
    ContentLength(&'static str),
    /// The body exceeds [`Limits::max_body_bytes`] (answered 413).
    #[error("body larger than the configured limit")]
    BodyTooLarge,
    /// The message or its header count exceeds [`Limits`] (answered 513).
    #[error("{0} exceeds the configured limit")]
    TooLarge(&'static str),
}

/// Size limits that keep a hostile peer from making us allocate without bound.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest datagram / stream frame accepted (bigger: 513, from a salvaged prefix).
    pub max_message_bytes: usize,
    /// Most header field lines (more: 513).
    pub max_headers: usize,
    /// Largest body (bigger Content-Length or UDP remainder: 413).
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
    /// The 4xx/5xx to send back, when the message was a request (other than ACK) whose Via
    /// could be salvaged; `None` means drop silently (malformed responses and ACKs,
    /// unrecoverable garbage).
    pub reply: Option<Response>,
}
