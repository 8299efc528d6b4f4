//! Building responses that a UAS originates: RFC 3261 §8.2.6.2 copies plus a To-tag.

use sha2::{Digest, Sha256};

use crate::message::{reason_phrase, HeaderAccess, HeaderName, Request, Response};

/// A response to `req` with the standard reason phrase and a To-tag added when the request
/// had none. The tag is derived from Call-ID, From and CSeq, so a retransmitted request gets
/// the identical response (no state needed to stay consistent).
pub(crate) fn response_to(req: &Request, status: u16) -> Response {
    let mut resp = Response::for_request(req, status, reason_phrase(status));
    if let Some(to) = req.headers.get(HeaderName::TO) {
        if !has_tag(req, to) {
            let tag = derive_tag(req);
            resp.headers
                .set(HeaderName::TO, format!("{};tag={tag}", to.trim_end()));
        }
    }
    resp
}

fn has_tag(req: &Request, raw_to: &str) -> bool {
    if let Ok(to) = req.to_hdr() {
        return to.tag().is_some();
    }
    // Without a parsed view: header parameters follow the closing `>` (name-addr) or start
    // at the first `;` (addr-spec, where a URI cannot carry parameters).
    let lower = raw_to.to_ascii_lowercase();
    let params = match lower.rfind('>') {
        Some(i) => &lower[i..],
        None => &lower[..],
    };
    params.split(';').skip(1).any(|p| {
        let name = p.split('=').next().unwrap_or("").trim();
        name == "tag"
    })
}

fn derive_tag(req: &Request) -> String {
    let mut h = Sha256::new();
    h.update(b"madoguchi-to-tag\0");
    for name in [HeaderName::CALL_ID, HeaderName::FROM, HeaderName::CSEQ] {
        h.update(req.headers.get(name).unwrap_or("").as_bytes());
        h.update(b"\0");
    }
    hex::encode(&h.finalize()[..6])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Host, Method, Uri};

    fn req(to: &str) -> Request {
        let mut r = Request::new(
            Method::Register,
            Uri::sip(None, Host::Domain("example.com".into()), None),
        );
        r.headers.push("Via", "SIP/2.0/UDP h;branch=z9hG4bK1");
        r.headers.push("From", "<sip:a@example.com>;tag=1");
        r.headers.push("To", to);
        r.headers.push("Call-ID", "c1");
        r.headers.push("CSeq", "1 REGISTER");
        r
    }

    #[test]
    fn adds_a_stable_tag_once() {
        let a = response_to(&req("<sip:a@example.com>"), 200);
        let b = response_to(&req("<sip:a@example.com>"), 200);
        let to = a.headers.get("To").unwrap();
        assert!(to.starts_with("<sip:a@example.com>;tag="), "{to}");
        assert_eq!(to, b.headers.get("To").unwrap());
        assert_eq!(a.reason, "OK");
        assert_eq!(a.headers.get("Call-ID"), Some("c1"));

        let plain = response_to(&req("sip:a@example.com"), 401);
        assert!(plain
            .headers
            .get("To")
            .unwrap()
            .starts_with("sip:a@example.com;tag="));
    }

    #[test]
    fn keeps_an_existing_tag() {
        for to in ["<sip:a@example.com>;tag=xyz", "sip:a@example.com;TAG=xyz"] {
            let r = response_to(&req(to), 200);
            assert_eq!(r.headers.get("To"), Some(to));
        }
        // `tag` inside the URI of a name-addr is not a header tag.
        let r = response_to(&req("<sip:a@example.com;tag=u>"), 200);
        assert!(r.headers.get("To").unwrap().contains(">;tag="));
    }
}
