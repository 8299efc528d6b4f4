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
// The reply travels in the error by design (the caller sends it); errors are the rare path.
#[allow(clippy::result_large_err)]
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

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::message::HeaderAccess;

    const HDRS: &str = "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nTo: <sip:a@b.example.com>\r\nFrom: <sip:c@d.example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n";

    fn parse(s: &[u8]) -> Result<SipMessage, Rejected> {
        parse_datagram(s, &Limits::default())
    }

    fn status_of(s: &str) -> Option<u16> {
        parse(s.as_bytes()).unwrap_err().reply.map(|r| r.status)
    }

    #[test]
    fn request_line_is_strict() {
        for (line, status) in [
            ("OPTIONS  sip:a@b SIP/2.0", 400),
            ("OPTIONS sip:a@b SIP/2.0 ", 400),
            ("OPTIONS sip:a@b; lr SIP/2.0", 400),
            ("OPTIONS <sip:a@b> SIP/2.0", 400),
            ("OPTIONS sip:a@b SIP/7.0", 505),
            ("OPTIONS sip:a@b HTTP/1.1", 400),
            ("OPTIONS sip:a@b SIP/2", 400),
            ("OPT@ONS sip:a@b SIP/2.0", 400),
            ("OPTIONS\tsip:a@b SIP/2.0", 400),
        ] {
            let m = format!("{line}\r\n{HDRS}\r\n");
            assert_eq!(status_of(&m), Some(status), "{line:?}");
        }
        let m = format!("OPTIONS sip:a@b sip/2.0\r\n{HDRS}\r\n");
        assert!(parse(m.as_bytes()).is_ok(), "version is case-insensitive");
    }

    #[test]
    fn status_lines() {
        let ok = |l: &str| parse(format!("{l}\r\n{HDRS}\r\n").as_bytes());
        let SipMessage::Response(r) = ok("SIP/2.0 180 Ringing Now").unwrap() else {
            panic!()
        };
        assert_eq!((r.status, r.reason.as_str()), (180, "Ringing Now"));
        assert!(ok("SIP/2.0 100 ").is_ok());
        assert!(ok("SIP/2.0 100").is_ok());
        for bad in [
            "SIP/2.0 4294967301 x",
            "SIP/2.0 99 x",
            "SIP/2.0 700 x",
            "SIP/2.0 2000 x",
            "SIP/3.0 200 OK",
        ] {
            let e = ok(bad).unwrap_err();
            assert!(e.reply.is_none(), "responses are never answered: {bad}");
        }
    }

    #[test]
    fn compact_names_folding_and_bare_lf() {
        let m = b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\nv: SIP/2.0/UDP h\n ;branch=z9hG4bK1\nt: <sip:a@b>\nf: <sip:c@d>;tag=1\ni: x\nCSeq: 1\n\tOPTIONS\nl: 0\n\n";
        let SipMessage::Request(r) = parse(m).unwrap() else {
            panic!()
        };
        assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(r.call_id(), Some("x"));
        assert_eq!(r.headers.get("Content-Length"), Some("0"));
        assert_eq!(r.cseq().unwrap().seq, 1);
    }

    #[test]
    fn content_length_rules() {
        let with =
            |cl: &str, body: &str| format!("OPTIONS sip:a@b SIP/2.0\r\n{HDRS}{cl}\r\n{body}");
        // Trailing octets past Content-Length are ignored on UDP.
        let SipMessage::Request(r) =
            parse(with("Content-Length: 2\r\n", "hello").as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(&r.body[..], b"he");
        // Without Content-Length the body is the rest of the datagram.
        let SipMessage::Request(r) = parse(with("", "hello").as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(&r.body[..], b"hello");
        for cl in [
            "Content-Length: 6\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: 99999999999999999999999\r\n",
            "Content-Length: 1\r\nl: 1\r\n",
            "Content-Length: x\r\n",
        ] {
            assert_eq!(status_of(&with(cl, "hello")), Some(400), "{cl:?}");
        }
    }

    #[test]
    fn limits_give_413_and_513() {
        let small = Limits {
            max_message_bytes: 400,
            max_headers: 8,
            max_body_bytes: 4,
        };
        let m = format!("OPTIONS sip:a@b SIP/2.0\r\n{HDRS}\r\nhello");
        let e = parse_datagram(m.as_bytes(), &small).unwrap_err();
        assert_eq!(
            (e.error, e.reply.unwrap().status),
            (ParseError::BodyTooLarge, 413)
        );
        let m = format!(
            "OPTIONS sip:a@b SIP/2.0\r\n{HDRS}{}\r\n",
            "X: y\r\n".repeat(4)
        );
        let e = parse_datagram(m.as_bytes(), &small).unwrap_err();
        assert_eq!(e.reply.unwrap().status, 513);
        let m = format!("OPTIONS sip:a@b SIP/2.0\r\n{HDRS}\r\n{}", "x".repeat(500));
        let e = parse_datagram(m.as_bytes(), &small).unwrap_err();
        assert_eq!(
            (e.error, e.reply.unwrap().status),
            (ParseError::TooLarge("message"), 513)
        );
    }

    #[test]
    fn checked_headers_are_validated() {
        for bad in [
            "Via: SIP/2.0/UDP h;;\r\n",
            "To: \"open <sip:a@b>\r\n",
            "Contact: sip:a@b?x=y\r\n",
            "Max-Forwards: 256\r\n",
            "Call-ID: a b\r\n",
            "Content-Type: sdp\r\n",
            "Route: <sip:a@b\r\n",
            "CSeq: 4294967296 OPTIONS\r\n",
        ] {
            let m = format!("OPTIONS sip:a@b SIP/2.0\r\n{HDRS}{bad}\r\n");
            assert_eq!(status_of(&m), Some(400), "{bad:?}");
        }
        // Unknown headers pass through untouched.
        let m = format!("OPTIONS sip:a@b SIP/2.0\r\n{HDRS}X-Odd: ;;,,\"\r\n\r\n");
        assert!(parse(m.as_bytes()).is_ok());
    }

    #[test]
    fn garbage_is_dropped_without_reply() {
        for g in [
            &b""[..],
            b"\r\n\r\n",
            b"\xff\xfe",
            b"hello",
            b"INVITE",
            b"\0\0\0\0",
        ] {
            let e = parse(g).unwrap_err();
            assert!(e.reply.is_none(), "{g:?}");
        }
    }

    #[test]
    fn print_then_parse_round_trips() {
        let m = format!(
            "INVITE sip:Alice@EXAMPLE.com;transport=udp SIP/2.0\r\n{}Max-Forwards: 70\r\nContact: \"A \\\"q\\\"\" <sip:a@[2001:db8::1]:5060>;expires=60\r\nX-Custom:  folded\r\n  value \r\nContent-Type: application/sdp\r\nl: 3\r\n\r\nv=0",
            HDRS.replace("OPTIONS", "INVITE")
        );
        let first = parse(m.as_bytes()).unwrap();
        let printed = first.to_bytes();
        let second = parse(&printed).unwrap();
        assert_eq!(first, second);
        assert_eq!(printed, second.to_bytes());
    }
}
