//! SIP messages: our own small types, so the parser behind them can be replaced.
//!
//! A message keeps its header fields as text in wire order ([`Headers`]); the
//! fields the stack acts on are parsed into typed views on demand
//! ([`Via`], [`NameAddr`], [`CSeq`], [`ContactList`]). Printing always writes
//! a correct `Content-Length` for the body.

mod headers;
mod method;
mod typed;
mod uri;

pub use headers::{Header, HeaderName, Headers};
pub use method::Method;
pub use typed::{CSeq, ContactList, NameAddr, Transport, Via, MAGIC_COOKIE};
pub use uri::{percent_decode, Host, Scheme, Uri};

use bytes::Bytes;
use std::fmt::Write as _;

use crate::parse::{self, ParseError};

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// Either kind of message, as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipMessage {
    Request(Request),
    Response(Response),
}

/// Typed access to the header fields every message has. Errors name the header.
pub trait HeaderAccess {
    fn headers(&self) -> &Headers;
    fn headers_mut(&mut self) -> &mut Headers;

    fn call_id(&self) -> Option<&str> {
        self.headers().get(HeaderName::CALL_ID).map(str::trim)
    }

    fn cseq(&self) -> Result<CSeq, ParseError> {
        let v = self
            .headers()
            .get(HeaderName::CSEQ)
            .ok_or(ParseError::MissingHeader(HeaderName::CSEQ))?;
        parse::parse_cseq(v)
    }

    /// Every Via value, top first (comma-separated values are split).
    fn vias(&self) -> Result<Vec<Via>, ParseError> {
        let mut out = Vec::new();
        for v in self.headers().get_all(HeaderName::VIA) {
            out.extend(parse::parse_via_list(v)?);
        }
        Ok(out)
    }

    fn top_via(&self) -> Result<Via, ParseError> {
        self.vias()?
            .into_iter()
            .next()
            .ok_or(ParseError::MissingHeader(HeaderName::VIA))
    }

    #[allow(clippy::wrong_self_convention)] // "From" the header, not a conversion
    fn from_hdr(&self) -> Result<NameAddr, ParseError> {
        let v = self
            .headers()
            .get(HeaderName::FROM)
            .ok_or(ParseError::MissingHeader(HeaderName::FROM))?;
        parse::parse_name_addr(v)
    }

    fn to_hdr(&self) -> Result<NameAddr, ParseError> {
        let v = self
            .headers()
            .get(HeaderName::TO)
            .ok_or(ParseError::MissingHeader(HeaderName::TO))?;
        parse::parse_name_addr(v)
    }

    /// Contacts from every Contact field; `None` when there is no Contact.
    fn contacts(&self) -> Result<Option<ContactList>, ParseError> {
        let mut addrs = Vec::new();
        let mut any = false;
        for v in self.headers().get_all(HeaderName::CONTACT) {
            any = true;
            match parse::parse_contact_list(v)? {
                ContactList::Wildcard => return Ok(Some(ContactList::Wildcard)),
                ContactList::Addrs(a) => addrs.extend(a),
            }
        }
        Ok(any.then_some(ContactList::Addrs(addrs)))
    }

    /// Record-Route / Route values in order (each a name-addr).
    fn route_set(&self, name: &str) -> Result<Vec<NameAddr>, ParseError> {
        let mut out = Vec::new();
        for v in self.headers().get_all(name) {
            out.extend(parse::parse_name_addr_list(v)?);
        }
        Ok(out)
    }
}

impl HeaderAccess for Request {
    fn headers(&self) -> &Headers {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
}

impl HeaderAccess for Response {
    fn headers(&self) -> &Headers {
        &self.headers
    }
    fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }
}

impl Request {
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Serialises with a correct Content-Length (any existing one is replaced).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        write_headers(&mut head, &self.headers, self.body.len());
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

impl Response {
    /// A response to `req` carrying the fields RFC 3261 §8.2.6.2 copies: Via (all),
    /// From, To, Call-ID, CSeq. The caller adds a To-tag where needed.
    pub fn for_request(req: &Request, status: u16, reason: &str) -> Response {
        let mut headers = Headers::new();
        for h in req.headers.iter() {
            if h.name.is(HeaderName::VIA)
                || h.name.is(HeaderName::FROM)
                || h.name.is(HeaderName::TO)
                || h.name.is(HeaderName::CALL_ID)
                || h.name.is(HeaderName::CSEQ)
            {
                headers.push(h.name.as_str(), h.value.clone());
            }
        }
        Response {
            status,
            reason: reason.to_string(),
            headers,
            body: Bytes::new(),
        }
    }

    /// Serialises with a correct Content-Length (any existing one is replaced).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        write_headers(&mut head, &self.headers, self.body.len());
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl SipMessage {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SipMessage::Request(r) => r.to_bytes(),
            SipMessage::Response(r) => r.to_bytes(),
        }
    }

    pub fn call_id(&self) -> Option<&str> {
        match self {
            SipMessage::Request(r) => r.call_id(),
            SipMessage::Response(r) => r.call_id(),
        }
    }
}

fn write_headers(out: &mut String, headers: &Headers, body_len: usize) {
    for h in headers.iter() {
        if h.name.is(HeaderName::CONTENT_LENGTH) {
            continue;
        }
        let _ = write!(out, "{}: {}\r\n", h.name, h.value);
    }
    let _ = write!(out, "Content-Length: {body_len}\r\n\r\n");
}

/// Standard reason phrase for a status code (used when we originate responses).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Unknown",
    }
}
