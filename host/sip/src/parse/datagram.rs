//! One whole message from a datagram (or a frame cut by [`super::frame_stream`]).

use bytes::Bytes;

use super::head::{keepalive_len, split_head, Head};
use super::name_addr::{parse_contact_list, parse_name_addr, parse_name_addr_list};
use super::reject::reject;
use super::scalar::{
    check_call_id, is_method, parse_content_length, parse_cseq, parse_max_forwards,
    parse_media_type,
};
use super::uri::parse_uri;
use super::via::parse_via_list;
use super::{Limits, ParseError, Rejected};
use crate::message::{HeaderName, Headers, Method, Request, Response, SipMessage};

/// Parses one message from a UDP datagram.
///
/// Octets past `Content-Length` are ignored (RFC 4475 dblreq); without `Content-Length`
/// the body is the rest of the datagram (RFC 3261 §18.3). Leading CR/LF are skipped.
/// The header fields the stack acts on (Via, From, To, Contact, CSeq, Call-ID,
/// Max-Forwards, Content-Type, Route, Record-Route) are checked here, so their typed
/// accessors cannot fail later; semantic checks are in [`crate::validate`].
pub fn parse_datagram(buf: &[u8], limits: &Limits) -> Result<SipMessage, Rejected> {
    let buf = &buf[keepalive_len(buf)..];
    if buf.len() > limits.max_message_bytes {
        let prefix = &buf[..limits.max_message_bytes];
        return Err(reject(prefix, limits, ParseError::TooLarge("message")));
    }
    parse_inner(buf, limits).map_err(|e| reject(buf, limits, e))
}

fn parse_inner(buf: &[u8], limits: &Limits) -> Result<SipMessage, ParseError> {
    let head = split_head(buf, limits, true)?;
    let start =
        std::str::from_utf8(head.start_line).map_err(|_| ParseError::StartLine("not UTF-8"))?;
    let is_response = start
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
    let start_line = if is_response {
        StartLine::Status(status_line(start)?)
    } else {
        StartLine::Request(request_line(start)?)
    };
    let headers = check_fields(&head)?;
    let body = body(buf, &head, &headers, limits)?;
    Ok(match start_line {
        StartLine::Request((method, uri)) => SipMessage::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        StartLine::Status((status, reason)) => SipMessage::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    })
}

enum StartLine {
    Request((Method, crate::message::Uri)),
    Status((u16, String)),
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; Ok(false) for a well-formed other version.
fn version_is_2_0(v: &str) -> Result<bool, ParseError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let rest = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .and(v.get(4..))
        .ok_or(ParseError::StartLine("bad SIP version"))?;
    match rest.split_once('.') {
        Some((a, b)) if digits(a) && digits(b) => Ok(rest == "2.0"),
        _ => Err(ParseError::StartLine("bad SIP version")),
    }
}

/// `Method SP Request-URI SP SIP-Version`, single SPs, nothing trailing (RFC 4475
/// lwsstart, trws, lwsruri, ltgtruri).
fn request_line(line: &str) -> Result<(Method, crate::message::Uri), ParseError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine(
            "request line is not exactly Method SP URI SP Version",
        ));
    };
    if !version_is_2_0(version)? {
        return Err(ParseError::Version);
    }
    if !is_method(method) {
        return Err(ParseError::StartLine("method is not a token"));
    }
    let uri = parse_uri(uri)?;
    Ok((Method::from_token(method), uri))
}

/// `SIP-Version SP Status-Code SP Reason-Phrase`. A missing reason (and its SP) is tolerated.
fn status_line(line: &str) -> Result<(u16, String), ParseError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    let reason = parts.next().unwrap_or("");
    if !version_is_2_0(version)? {
        return Err(ParseError::Version);
    }
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::StartLine("status code is not 3 digits"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| ParseError::StartLine("bad status code"))?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::StartLine("status code out of range"));
    }
    if reason.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ParseError::StartLine("control character in reason phrase"));
    }
    Ok((status, reason.to_string()))
}

/// Builds [`Headers`] and checks the syntax of every field the stack itself reads.
fn check_fields(head: &Head<'_>) -> Result<Headers, ParseError> {
    let mut headers = Headers::new();
    for (name, value) in &head.fields {
        let hn = HeaderName::new(name);
        let v = value.as_str();
        if hn.is(HeaderName::VIA) {
            parse_via_list(v)?;
        } else if hn.is(HeaderName::FROM) || hn.is(HeaderName::TO) {
            parse_name_addr(v)?;
        } else if hn.is(HeaderName::CONTACT) {
            parse_contact_list(v)?;
        } else if hn.is(HeaderName::ROUTE) || hn.is(HeaderName::RECORD_ROUTE) {
            parse_name_addr_list(v)?;
        } else if hn.is(HeaderName::CSEQ) {
            parse_cseq(v)?;
        } else if hn.is(HeaderName::CALL_ID) {
            check_call_id(v)?;
        } else if hn.is(HeaderName::MAX_FORWARDS) {
            parse_max_forwards(v)?;
        } else if hn.is(HeaderName::CONTENT_TYPE) {
            parse_media_type(v)?;
        } else if hn.is(HeaderName::CONTENT_LENGTH) {
            parse_content_length(v)?;
        }
        headers.push(hn.as_str(), value.clone());
    }
    Ok(headers)
}

/// Cuts the body by Content-Length (at most one field; RFC 4475 mcl01, clerr, ncl).
fn body(
    buf: &[u8],
    head: &Head<'_>,
    headers: &Headers,
    limits: &Limits,
) -> Result<Bytes, ParseError> {
    let available = buf.len().saturating_sub(head.body_start);
    let len = match headers.count(HeaderName::CONTENT_LENGTH) {
        0 => available,
        1 => {
            let v = headers.get(HeaderName::CONTENT_LENGTH).unwrap_or("");
            let n = parse_content_length(v)?;
            if n > limits.max_body_bytes {
                return Err(ParseError::BodyTooLarge);
            }
            if n > available {
                return Err(ParseError::ContentLength("larger than the datagram"));
            }
            n
        }
        _ => return Err(ParseError::ContentLength("more than one Content-Length")),
    };
    if len > limits.max_body_bytes {
        return Err(ParseError::BodyTooLarge);
    }
    let body = buf
        .get(head.body_start..head.body_start + len)
        .ok_or(ParseError::ContentLength("larger than the datagram"))?;
    Ok(Bytes::copy_from_slice(body))
}
