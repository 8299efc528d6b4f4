//! The error response for a request that could not be parsed, built from whatever
//! Via / From / To / Call-ID / CSeq can be salvaged from the raw header lines.

use std::hash::{Hash, Hasher};

use super::head::keepalive_len;
use super::lex::{is_token, is_wsp, Cursor};
use super::name_addr::parse_name_addr;
use super::via::via_parm;
use super::{Limits, ParseError, Rejected};
use crate::message::{reason_phrase, HeaderName, Headers, Response};

/// The status a parse error is answered with.
pub(crate) fn status_for(e: &ParseError) -> u16 {
    match e {
        ParseError::Version => 505,
        ParseError::BodyTooLarge => 413,
        ParseError::TooLarge(_) => 513,
        _ => 400,
    }
}

/// Turns a parse error into a [`Rejected`], with a reply when `buf` holds a request whose
/// top Via can be salvaged.
pub(crate) fn reject(buf: &[u8], limits: &Limits, error: ParseError) -> Rejected {
    let reply = salvage_reply(buf, limits, status_for(&error));
    Rejected { error, reply }
}

fn salvage_reply(buf: &[u8], limits: &Limits, status: u16) -> Option<Response> {
    let buf = &buf[keepalive_len(buf)..];
    let mut lines = buf
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next()?;
    if start.len() >= 4 && start[..4].eq_ignore_ascii_case(b"SIP/") {
        return None; // a response: never answered
    }
    if start.starts_with(b"ACK ") {
        return None; // an ACK is never answered either (RFC 3261 §17.1.1.3)
    }
    let mut fields: Vec<(HeaderName, String)> = Vec::new();
    let mut current: Option<(HeaderName, String)> = None;
    for line in lines.take(limits.max_headers.saturating_mul(4)) {
        if line.is_empty() {
            break;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            current = None;
            continue;
        };
        if line.bytes().next().is_some_and(is_wsp) {
            if let Some((_, v)) = current.as_mut() {
                v.push(' ');
                v.push_str(line.trim_matches([' ', '\t']));
            }
            continue;
        }
        if let Some(done) = current.take() {
            fields.push(done);
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token) {
            continue;
        }
        let hn = HeaderName::new(name);
        if [
            HeaderName::VIA,
            HeaderName::FROM,
            HeaderName::TO,
            HeaderName::CALL_ID,
            HeaderName::CSEQ,
        ]
        .iter()
        .any(|n| hn.is(n))
        {
            current = Some((hn, value.trim_matches([' ', '\t']).to_string()));
        }
    }
    if let Some(done) = current.take() {
        fields.push(done);
    }
    // Without a usable top Via there is nowhere to send the reply.
    let (_, top_via) = fields.iter().find(|(n, _)| n.is(HeaderName::VIA))?;
    let mut c = Cursor::new(top_via);
    via_parm(&mut c, false).ok()?;

    let mut headers = Headers::new();
    for (name, value) in fields {
        headers.push(name.as_str(), value);
    }
    add_to_tag(&mut headers);
    Some(Response {
        status,
        reason: reason_phrase(status).to_string(),
        headers,
        body: bytes::Bytes::new(),
    })
}

/// Adds a To tag (RFC 3261 §8.2.6.2) when the To parses and has none. The tag is derived
/// from the request's identifiers, so retransmissions get the same reply.
pub(crate) fn add_to_tag(headers: &mut Headers) {
    let Some(to) = headers.get(HeaderName::TO) else {
        return;
    };
    let Ok(parsed) = parse_name_addr(to) else {
        return;
    };
    if parsed.tag().is_some() {
        return;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for name in [
        HeaderName::CALL_ID,
        HeaderName::CSEQ,
        HeaderName::FROM,
        HeaderName::VIA,
    ] {
        headers.get(name).hash(&mut h);
    }
    let tag = format!("{to};tag={:016x}", h.finish());
    headers.set(HeaderName::TO, tag);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(s: &str) -> Option<Response> {
        salvage_reply(s.as_bytes(), &Limits::default(), 400)
    }

    #[test]
    fn salvages_raw_fields_and_tags_to() {
        let r = reply("INVITE <sip:x> SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;;,\r\nTo: sip:a@example.com\r\nFrom: sip:b@example.com;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\r\n").unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(r.headers.get("Via"), Some("SIP/2.0/UDP 192.0.2.1;;,"));
        assert!(r
            .headers
            .get("To")
            .unwrap()
            .starts_with("sip:a@example.com;tag="));
        assert_eq!(r.headers.get("Max-Forwards"), None);
        assert_eq!(r.headers.len(), 5);
    }

    #[test]
    fn tag_is_stable_and_existing_tag_kept() {
        let m =
            "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n\r\n";
        assert_eq!(
            reply(m).unwrap().headers.get("To"),
            reply(m).unwrap().headers.get("To")
        );
        let m = "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>;tag=9\r\n\r\n";
        assert_eq!(reply(m).unwrap().headers.get("To"), Some("<sip:a@b>;tag=9"));
    }

    #[test]
    fn no_reply_without_via_or_for_responses() {
        assert!(reply("INVITE sip:x SIP/2.0\r\nTo: sip:a@b\r\n\r\n").is_none());
        assert!(reply("INVITE sip:x SIP/2.0\r\nVia: garbage\r\n\r\n").is_none());
        assert!(reply("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n").is_none());
        assert!(reply("ACK sip:x SIP/2.0 \r\nVia: SIP/2.0/UDP h\r\n\r\n").is_none());
        assert!(reply("").is_none());
    }
}
