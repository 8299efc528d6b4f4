//! SIP URI equality (RFC 3261 §19.1.4), which decides whether a Contact refreshes an
//! existing binding or adds a new one.

use crate::message::{percent_decode, Uri};

/// Parameters that, present in one URI, must be present and equal in the other.
const STRICT_PARAMS: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

/// RFC 3261 §19.1.4 comparison: scheme, unescaped user (case-sensitive), host
/// (case-insensitive), explicit port; URI parameters present in both must match
/// (case-insensitively) and `user`/`ttl`/`method`/`maddr`/`transport` must be in both or
/// neither; `?headers` must be the same set.
pub fn uri_eq(a: &Uri, b: &Uri) -> bool {
    if a.scheme != b.scheme {
        return false;
    }
    if !a.is_sip() {
        return a.opaque == b.opaque;
    }
    if a.user_unescaped() != b.user_unescaped()
        || a.password.as_deref().map(percent_decode) != b.password.as_deref().map(percent_decode)
        || a.host != b.host
        || a.port != b.port
    {
        return false;
    }
    let norm = |v: Option<&str>| v.map(|v| percent_decode(v).to_ascii_lowercase());
    for (name, va) in &a.params {
        match b.param(name) {
            Some(vb) if norm(va.as_deref()) != norm(vb) => return false,
            Some(_) => {}
            None if STRICT_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name)) => return false,
            None => {}
        }
    }
    for name in STRICT_PARAMS {
        if b.param(name).is_some() && a.param(name).is_none() {
            return false;
        }
    }
    headers_set(a.headers.as_deref()) == headers_set(b.headers.as_deref())
}

/// `?h1=v1&h2=v2` as a sorted list of (lower-case name, unescaped value).
fn headers_set(h: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = h
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(n).to_ascii_lowercase(), percent_decode(v))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_uri;

    fn eq(a: &str, b: &str) -> bool {
        let (a, b) = (parse_uri(a).unwrap(), parse_uri(b).unwrap());
        let r = uri_eq(&a, &b);
        assert_eq!(r, uri_eq(&b, &a), "symmetric");
        r
    }

    #[test]
    fn rfc3261_equal_examples() {
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    #[test]
    fn rfc3261_unequal_examples() {
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com:6000;transport=tcp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq("sips:bob@biloxi.com", "sip:bob@biloxi.com"));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
    }
}
