//! Semantic checks a UAS (or registrar, or forwarding B2BUA) applies to a request that
//! parsed, in the order of RFC 3261 §8.2, each returning the response to send.
//!
//! Together with [`crate::parse::parse_datagram`] (whose [`crate::parse::Rejected`]
//! carries the 400/413/505/513 for unparseable requests) this is the single place that
//! decides RFC 4475 status codes: a server calls the parser, then [`check_request`],
//! and sends whatever response comes back.

use crate::message::{reason_phrase, HeaderAccess, HeaderName, Method, Request, Response, Scheme};
use crate::parse::{self, ParseError};

/// What this element supports; decides 416/420/415/406/483/501.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Option tags we implement (compared case-insensitively with Require).
    pub supported_extensions: Vec<String>,
    /// Body media types we can process (`type/subtype`, lower-case), sent in `Accept` on 415.
    pub accepted_content_types: Vec<String>,
    /// Accept `tel:` Request-URIs (otherwise 416 like any non-SIP scheme).
    pub allow_tel: bool,
    /// Reject a request without Max-Forwards with 400. RFC 3261 §8.1.1.6 makes it a
    /// MUST for senders but RFC 4475 inv2543 expects RFC 2543 peers to be accepted, so
    /// this is off by default.
    pub require_max_forwards: bool,
    /// We forward requests (proxy / B2BUA leg): Max-Forwards 0 → 483, and Proxy-Require
    /// is checked like Require. A plain UAS processes Max-Forwards 0 (RFC 4475 zeromf).
    pub forwarding: bool,
    /// Methods we implement, sent in `Allow`; others get 501 (unknown) or 405 (known).
    /// Empty disables the check.
    pub allowed_methods: Vec<Method>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            supported_extensions: Vec::new(),
            accepted_content_types: vec!["application/sdp".to_string()],
            allow_tel: false,
            require_max_forwards: false,
            forwarding: false,
            allowed_methods: Vec::new(),
        }
    }
}

/// Header fields that may occur at most once (RFC 3261 §7.3.1, table 2).
const SINGLE_VALUED: [&str; 8] = [
    HeaderName::TO,
    HeaderName::FROM,
    HeaderName::CALL_ID,
    HeaderName::CSEQ,
    HeaderName::MAX_FORWARDS,
    HeaderName::CONTENT_LENGTH,
    HeaderName::CONTENT_TYPE,
    HeaderName::EXPIRES,
];

/// Checks a parsed request; `Err` holds the final response to send.
///
/// An `Err` for an `ACK` must be logged and dropped, never sent: ACK is not answered
/// (RFC 3261 §17.2.1, §17.2.3).
pub fn check_request(req: &Request, policy: &Policy) -> Result<(), Response> {
    let fail = |status: u16, reason: &str| Err(reply(req, status, reason));

    // 400: the fields every request needs, once each, and consistent (RFC 4475 §3.1.2, §3.3).
    let mut mandatory = vec![
        HeaderName::TO,
        HeaderName::FROM,
        HeaderName::CALL_ID,
        HeaderName::CSEQ,
        HeaderName::VIA,
    ];
    if policy.require_max_forwards {
        mandatory.push(HeaderName::MAX_FORWARDS);
    }
    for name in mandatory {
        if req.headers.count(name) == 0 {
            return fail(400, &format!("Missing {name} Header"));
        }
    }
    for name in SINGLE_VALUED {
        if req.headers.count(name) > 1 {
            return fail(400, &format!("Multiple {name} Values"));
        }
    }
    let Ok(cseq) = req.cseq() else {
        return fail(400, "Malformed CSeq");
    };
    if cseq.method != req.method {
        return fail(400, "CSeq Method Does Not Match Request Method");
    }
    if req.vias().is_err() || req.from_hdr().is_err() || req.to_hdr().is_err() {
        return fail(400, "Malformed Header");
    }
    if let Some(cl) = req.headers.get(HeaderName::CONTENT_LENGTH) {
        if parse::parse_content_length(cl) != Ok(req.body.len()) {
            return fail(400, "Content-Length Mismatch");
        }
    }
    if req.uri.headers.is_some() && req.uri.is_sip() {
        return fail(400, "Headers Not Allowed In Request-URI");
    }
    let max_forwards = match req.headers.get(HeaderName::MAX_FORWARDS) {
        Some(v) => match parse::parse_max_forwards(v) {
            Ok(n) => Some(n),
            Err(_) => return fail(400, "Malformed Max-Forwards"),
        },
        None => None,
    };

    // §8.2.1: method.
    if !policy.allowed_methods.is_empty() && !policy.allowed_methods.contains(&req.method) {
        let status = match req.method {
            Method::Extension(_) => 501,
            _ => 405,
        };
        let mut r = reply(req, status, reason_phrase(status));
        r.headers
            .push(HeaderName::ALLOW, join(&policy.allowed_methods));
        return Err(r);
    }

    // §8.2.2.1: Request-URI scheme.
    let scheme_ok = match req.uri.scheme {
        Scheme::Sip | Scheme::Sips => true,
        Scheme::Tel => policy.allow_tel,
        Scheme::Other(_) => false,
    };
    if !scheme_ok {
        return fail(416, reason_phrase(416));
    }

    // §16.3 step 3: hop limit, when we would forward.
    if policy.forwarding && max_forwards == Some(0) {
        return fail(483, reason_phrase(483));
    }

    // §8.2.2.3: Require (not for CANCEL / ACK), and Proxy-Require when forwarding.
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        let mut unsupported = Vec::new();
        let mut names = vec![HeaderName::REQUIRE];
        if policy.forwarding {
            names.push(HeaderName::PROXY_REQUIRE);
        }
        for name in names {
            for v in req.headers.get_all(name) {
                let Ok(tags) = parse::parse_token_list(v, "Require") else {
                    return fail(400, &format!("Malformed {name}"));
                };
                for t in tags {
                    let known = policy
                        .supported_extensions
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(&t));
                    if !known && !unsupported.contains(&t) {
                        unsupported.push(t);
                    }
                }
            }
        }
        if !unsupported.is_empty() {
            let mut r = reply(req, 420, reason_phrase(420));
            r.headers
                .push(HeaderName::UNSUPPORTED, unsupported.join(", "));
            return Err(r);
        }
    }

    // §8.2.3: content.
    match req.headers.get(HeaderName::CONTENT_TYPE) {
        None if !req.body.is_empty() => return fail(400, "Missing Content-Type Header"),
        None => {}
        Some(ct) => {
            let Ok(media) = parse::parse_media_type(ct) else {
                return fail(400, "Malformed Content-Type");
            };
            let ok = policy
                .accepted_content_types
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&media));
            if !ok && !req.body.is_empty() {
                let mut r = reply(req, 415, reason_phrase(415));
                r.headers
                    .push(HeaderName::ACCEPT, policy.accepted_content_types.join(", "));
                return Err(r);
            }
        }
    }

    // §21.4.7 / RFC 4475 sdp01: an INVITE whose Accept excludes SDP cannot be answered.
    if req.method == Method::Invite {
        if let Some(accept) = accept_list(req) {
            if !accept.iter().any(|m| media_covers(m, "application/sdp")) {
                let mut r = reply(req, 406, reason_phrase(406));
                r.headers
                    .push(HeaderName::ACCEPT, policy.accepted_content_types.join(", "));
                return Err(r);
            }
        }
    }
    Ok(())
}

/// Checks the fields every response needs (Via, From, To, Call-ID, CSeq, each parseable and
/// the single-valued ones once). A response that fails is dropped (RFC 4475 §3.1.2.5).
pub fn check_response(resp: &Response) -> Result<(), ParseError> {
    for name in [
        HeaderName::VIA,
        HeaderName::FROM,
        HeaderName::TO,
        HeaderName::CALL_ID,
        HeaderName::CSEQ,
    ] {
        if resp.headers.count(name) == 0 {
            return Err(ParseError::MissingHeader(name));
        }
    }
    for name in SINGLE_VALUED {
        if resp.headers.count(name) > 1 {
            return Err(ParseError::Header {
                header: name,
                why: "more than one value",
            });
        }
    }
    resp.cseq()?;
    resp.vias()?;
    resp.from_hdr()?;
    resp.to_hdr()?;
    Ok(())
}

/// A response to `req` (Via, From, To, Call-ID, CSeq copied; To tag added if missing).
pub fn reply(req: &Request, status: u16, reason: &str) -> Response {
    let mut r = Response::for_request(req, status, reason);
    parse::add_to_tag(&mut r.headers);
    r
}

fn join(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The media ranges of every Accept field (parameters dropped); `None` when absent.
fn accept_list(req: &Request) -> Option<Vec<String>> {
    let mut any = false;
    let mut out = Vec::new();
    for v in req.headers.get_all(HeaderName::ACCEPT) {
        any = true;
        for item in v.split(',') {
            let range = item.split(';').next().unwrap_or("").trim();
            if !range.is_empty() {
                out.push(range.to_ascii_lowercase());
            }
        }
    }
    any.then_some(out)
}

/// Whether a media range (`*/*`, `type/*`, `type/subtype`) covers `media`.
fn media_covers(range: &str, media: &str) -> bool {
    if range == "*/*" || range == media {
        return true;
    }
    match (range.strip_suffix("/*"), media.split_once('/')) {
        (Some(t), Some((mt, _))) => t == mt,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::SipMessage;
    use crate::parse::{parse_datagram, Limits};

    fn req(s: &str) -> Request {
        match parse_datagram(s.as_bytes(), &Limits::default()) {
            Ok(SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    const BASE: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nMax-Forwards: 70\r\n";

    fn msg(start: &str, cseq: &str, extra: &str, body: &str) -> Request {
        req(&format!(
            "{start}\r\n{BASE}CSeq: {cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    #[test]
    fn plain_request_passes() {
        let r = msg("OPTIONS sip:a@b SIP/2.0", "1 OPTIONS", "", "");
        assert!(check_request(&r, &Policy::default()).is_ok());
    }

    #[test]
    fn method_mismatch_and_missing() {
        let r = msg("OPTIONS sip:a@b SIP/2.0", "1 INVITE", "", "");
        let e = check_request(&r, &Policy::default()).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.headers.get("To").unwrap().contains(";tag="));
        let r = req("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 OPTIONS\r\n\r\n");
        assert_eq!(
            check_request(&r, &Policy::default()).unwrap_err().status,
            400
        );
    }

    #[test]
    fn max_forwards_policy() {
        let r = req("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n");
        assert!(check_request(&r, &Policy::default()).is_ok());
        let strict = Policy {
            require_max_forwards: true,
            ..Policy::default()
        };
        assert_eq!(check_request(&r, &strict).unwrap_err().status, 400);
        let zero = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nMax-Forwards: 0\r\n\r\n".replace("OPTIONS sip", "INVITE sip");
        let fwd = Policy {
            forwarding: true,
            ..Policy::default()
        };
        assert_eq!(check_request(&req(&zero), &fwd).unwrap_err().status, 483);
        assert!(check_request(&req(&zero), &Policy::default()).is_ok());
    }

    #[test]
    fn require_and_content() {
        let r = msg(
            "OPTIONS sip:a@b SIP/2.0",
            "1 OPTIONS",
            "Require: foo, 100rel\r\nProxy-Require: bar\r\n",
            "",
        );
        let p = Policy {
            supported_extensions: vec!["100rel".into()],
            ..Policy::default()
        };
        let e = check_request(&r, &p).unwrap_err();
        assert_eq!(e.status, 420);
        assert_eq!(e.headers.get("Unsupported"), Some("foo"));
        let p = Policy {
            forwarding: true,
            ..p
        };
        let e = check_request(&r, &p).unwrap_err();
        assert_eq!(e.headers.get("Unsupported"), Some("foo, bar"));

        let r = msg(
            "INVITE sip:a@b SIP/2.0",
            "1 INVITE",
            "Content-Type: text/x-foo\r\n",
            "hi",
        );
        let e = check_request(&r, &Policy::default()).unwrap_err();
        assert_eq!(
            (e.status, e.headers.get("Accept")),
            (415, Some("application/sdp"))
        );
        let r = msg("INVITE sip:a@b SIP/2.0", "1 INVITE", "", "hi");
        assert_eq!(
            check_request(&r, &Policy::default()).unwrap_err().status,
            400
        );
    }

    #[test]
    fn accept_must_cover_sdp_for_invite() {
        for (accept, ok) in [
            ("text/nobodyKnowsThis", false),
            ("application/*", true),
            ("*/*;q=0.1", true),
            ("text/plain, application/sdp", true),
        ] {
            let r = msg(
                "INVITE sip:a@b SIP/2.0",
                "1 INVITE",
                &format!("Accept: {accept}\r\n"),
                "",
            );
            assert_eq!(
                check_request(&r, &Policy::default()).is_ok(),
                ok,
                "{accept}"
            );
        }
    }

    #[test]
    fn schemes_and_methods() {
        let r = msg("OPTIONS tel:+81312345678 SIP/2.0", "1 OPTIONS", "", "");
        assert_eq!(
            check_request(&r, &Policy::default()).unwrap_err().status,
            416
        );
        let p = Policy {
            allow_tel: true,
            ..Policy::default()
        };
        assert!(check_request(&r, &p).is_ok());
        let r = msg("OPTIONS sip:a@b?Route=x SIP/2.0", "1 OPTIONS", "", "");
        assert_eq!(
            check_request(&r, &Policy::default()).unwrap_err().status,
            400
        );
        let p = Policy {
            allowed_methods: vec![Method::Invite, Method::Options],
            ..Policy::default()
        };
        let r = msg("FOO sip:a@b SIP/2.0", "1 FOO", "", "");
        let e = check_request(&r, &p).unwrap_err();
        assert_eq!(
            (e.status, e.headers.get("Allow")),
            (501, Some("INVITE, OPTIONS"))
        );
        let r = msg("BYE sip:a@b SIP/2.0", "1 BYE", "", "");
        assert_eq!(check_request(&r, &p).unwrap_err().status, 405);
    }

    #[test]
    fn content_length_must_match_body() {
        let mut r = msg("OPTIONS sip:a@b SIP/2.0", "1 OPTIONS", "", "");
        r.body = bytes::Bytes::from_static(b"xx");
        assert_eq!(
            check_request(&r, &Policy::default()).unwrap_err().status,
            400
        );
    }
}
