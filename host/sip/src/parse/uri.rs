//! URIs (RFC 3261 §19.1, §25.1) and hosts, including the IPv6 cases of RFC 5118.
//!
//! SIP/SIPS URIs are split into parts with escapes kept raw (so they print back
//! exactly); `tel` and every other scheme keep their text after `scheme:` in
//! `opaque`, validated only as `absoluteURI` characters (that is all we need to
//! answer 416 or pass them through).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::lex::is_unreserved;
use super::ParseError;
use crate::message::{Host, Scheme, Uri};

fn err(why: &'static str) -> ParseError {
    ParseError::Uri(why)
}

/// Parses a URI. Whitespace anywhere (LWS inside a URI, RFC 4475 lwsruri) and
/// `<...>` around it (ltgtruri) are errors.
pub fn parse_uri(v: &str) -> Result<Uri, ParseError> {
    if v.is_empty() {
        return Err(err("empty"));
    }
    if v.bytes().any(|c| c <= b' ' || c == 0x7f) {
        return Err(err("whitespace or control character"));
    }
    if v.starts_with('<') {
        return Err(err("enclosed in <>"));
    }
    let colon = v.find(':').ok_or(err("no scheme"))?;
    let scheme = &v[..colon];
    let rest = &v[colon + 1..];
    let first = scheme.bytes().next().ok_or(err("empty scheme"))?;
    if !first.is_ascii_alphabetic()
        || !scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(err("bad scheme"));
    }
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "sip" => Scheme::Sip,
        "sips" => Scheme::Sips,
        "tel" => Scheme::Tel,
        other => Scheme::Other(other.to_string()),
    };
    match scheme {
        Scheme::Sip | Scheme::Sips => parse_sip_rest(scheme, rest),
        _ => {
            if rest.is_empty() || !rest.bytes().all(is_uric) {
                return Err(err("bad opaque part"));
            }
            check_escapes(rest)?;
            Ok(Uri {
                scheme,
                user: None,
                password: None,
                host: Host::Domain(String::new()),
                port: None,
                params: Vec::new(),
                headers: None,
                opaque: Some(rest.to_string()),
            })
        }
    }
}

/// `uric` of RFC 2396 (reserved / unreserved / escaped), plus the brackets of IPv6 hosts.
fn is_uric(c: u8) -> bool {
    is_unreserved(c)
        || matches!(
            c,
            b';' | b'/'
                | b'?'
                | b':'
                | b'@'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b'%'
                | b'['
                | b']'
        )
}

fn is_user_char(c: u8) -> bool {
    is_unreserved(c)
        || matches!(
            c,
            b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/'
        )
}

fn is_password_char(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_param_char(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_header_char(c: u8) -> bool {
    is_unreserved(c) || matches!(c, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// Every `%` must start a `%XX` escape (RFC 4475 esc01/escnull are valid; a lone `%` is not).
fn check_escapes(s: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(err("bad %-escape"));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn parse_sip_rest(scheme: Scheme, rest: &str) -> Result<Uri, ParseError> {
    // '@' cannot occur in host, params or headers, so the first one ends the userinfo.
    let (userinfo, after) = match rest.find('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            let (u, p) = match ui.find(':') {
                Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                None => (ui, None),
            };
            if u.is_empty() || !u.bytes().all(is_user_char) {
                return Err(err("bad user part"));
            }
            check_escapes(u)?;
            if let Some(p) = p {
                if !p.bytes().all(is_password_char) {
                    return Err(err("bad password"));
                }
                check_escapes(p)?;
            }
            (Some(u.to_string()), p.map(str::to_string))
        }
    };
    let (hostport, tail) = split_hostport(after)?;
    let (host, port) = parse_hostport(hostport)?;
    let (params_str, headers) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    let mut params = Vec::new();
    if !params_str.is_empty() {
        // params_str starts with ';'.
        for p in params_str[1..].split(';') {
            let (n, v) = match p.find('=') {
                Some(e) => (&p[..e], Some(&p[e + 1..])),
                None => (p, None),
            };
            if n.is_empty() || !n.bytes().all(is_param_char) {
                return Err(err("bad parameter name"));
            }
            check_escapes(n)?;
            if let Some(v) = v {
                if v.is_empty() || !v.bytes().all(is_param_char) {
                    return Err(err("bad parameter value"));
                }
                check_escapes(v)?;
            }
            params.push((n.to_string(), v.map(str::to_string)));
        }
    }
    if let Some(h) = headers {
        for field in h.split('&') {
            let (n, v) = field.split_once('=').ok_or(err("header without '='"))?;
            if n.is_empty() || !n.bytes().all(is_header_char) || !v.bytes().all(is_header_char) {
                return Err(err("bad header part"));
            }
            check_escapes(n)?;
            check_escapes(v)?;
        }
    }
    Ok(Uri {
        scheme,
        user,
        password,
        host,
        port,
        params,
        headers: headers.map(str::to_string),
        opaque: None,
    })
}

/// Splits `host[:port]` from the `;params?headers` that follow it.
fn split_hostport(s: &str) -> Result<(&str, &str), ParseError> {
    let end = if s.starts_with('[') {
        let close = s.find(']').ok_or(err("unclosed IPv6 reference"))?;
        close
            + 1
            + s[close + 1..]
                .find([';', '?'])
                .unwrap_or(s.len() - close - 1)
    } else {
        s.find([';', '?']).unwrap_or(s.len())
    };
    Ok((&s[..end], &s[end..]))
}

/// `host [":" port]` with no whitespace (URIs).
pub(crate) fn parse_hostport(s: &str) -> Result<(Host, Option<u16>), ParseError> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or(err("unclosed IPv6 reference"))?;
        let after = &s[close + 1..];
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(err("junk after IPv6 reference"))?,
            ),
        };
        (&s[..=close], port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = parse_host(host)?;
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

pub(crate) fn parse_port(p: &str) -> Result<u16, ParseError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
        return Err(err("bad port"));
    }
    p.parse().map_err(|_| err("port out of range"))
}

/// `hostname / IPv4address / IPv6reference`.
pub(crate) fn parse_host(h: &str) -> Result<Host, ParseError> {
    if let Some(inner) = h.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or(err("unclosed IPv6 reference"))?;
        return inner
            .parse::<Ipv6Addr>()
            .map(Host::V6)
            .map_err(|_| err("bad IPv6 address"));
    }
    if h.is_empty() {
        return Err(err("empty host"));
    }
    if h.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return h
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| err("bad IPv4 address"));
    }
    if !is_hostname(h) {
        return Err(err("bad host name"));
    }
    Ok(Host::Domain(h.to_ascii_lowercase()))
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]`, toplabel starting with a letter.
fn is_hostname(h: &str) -> bool {
    let h = h.strip_suffix('.').unwrap_or(h);
    if h.is_empty() || h.len() > 255 {
        return false;
    }
    let labels: Vec<&str> = h.split('.').collect();
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    labels.iter().all(|l| label_ok(l))
        && labels
            .last()
            .and_then(|l| l.bytes().next())
            .is_some_and(|c| c.is_ascii_alphabetic())
}

/// An IP address as a Via `received` value: IPv4, or IPv6 with or without brackets (RFC 5118 §4.5).
pub(crate) fn parse_received(v: &str) -> Result<Host, ParseError> {
    if v.starts_with('[') {
        return parse_host(v);
    }
    if let Ok(a) = v.parse::<Ipv4Addr>() {
        return Ok(Host::V4(a));
    }
    v.parse::<Ipv6Addr>()
        .map(Host::V6)
        .map_err(|_| err("received is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Uri {
        parse_uri(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn simple_sip_uri() {
        let u = ok("sip:alice@Example.COM:5070;transport=tcp;lr?subject=x&priority=urgent");
        assert_eq!(u.scheme, Scheme::Sip);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.host, Host::Domain("example.com".into()));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some(Some("tcp")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers.as_deref(), Some("subject=x&priority=urgent"));
    }

    #[test]
    fn escapes_are_kept_raw() {
        let u = ok("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user.as_deref(), Some("sips%3Auser%40example.com"));
        assert_eq!(u.user_unescaped().as_deref(), Some("sips:user@example.com"));
        let u = ok("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(u.params[0], ("%6C%72".to_string(), None));
        ok("sip:null-%00-null@example.com");
        assert!(parse_uri("sip:bad%zzescape@example.com").is_err());
    }

    #[test]
    fn unusual_user_and_password() {
        let u = ok("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        let u = ok("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
    }

    #[test]
    fn rfc5118_ipv6_hosts() {
        let u = ok("sip:[2001:db8::10]");
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, None);
        // §4.4: the last group belongs to the address, not a port.
        let u = ok("sip:[2001:db8::10:5070]");
        assert_eq!(u.host, Host::V6("2001:db8::10:5070".parse().unwrap()));
        assert_eq!(u.port, None);
        let u = ok("sip:[2001:db8::10]:5070");
        assert_eq!(u.port, Some(5070));
        ok("sip:user@[2001:db8::192.0.2.1]");
        ok("sip:ted@[::ffff:192.0.2.2]");
        // §4.10: three colons are not an IPv6 address; §4.2: brackets are mandatory.
        assert!(parse_uri("sip:user@[2001:db8:::192.0.2.1]").is_err());
        assert!(parse_uri("sip:2001:db8::10").is_err());
        assert!(parse_uri("sip:[2001:db8::10").is_err());
        assert!(parse_uri("sip:[2001:db8::10]x").is_err());
    }

    #[test]
    fn other_schemes_are_opaque() {
        let u = ok("nobodyKnowsThisScheme:totallyopaquecontent");
        assert_eq!(u.scheme, Scheme::Other("nobodyknowsthisscheme".into()));
        assert_eq!(u.opaque.as_deref(), Some("totallyopaquecontent"));
        let u = ok("soap.beep://192.0.2.103:3002");
        assert_eq!(u.opaque.as_deref(), Some("//192.0.2.103:3002"));
        let u = ok("tel:+81-3-1234-5678;phone-context=example.jp");
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(
            u.to_string(),
            "tel:+81-3-1234-5678;phone-context=example.jp"
        );
    }

    #[test]
    fn malformed_uris_are_rejected() {
        for bad in [
            "",
            "<sip:user@example.com>",
            "sip:user@example.com; lr",
            "sip:user@example.com lr",
            "sip:",
            "sip:@example.com",
            "sip:user@",
            "sip:user@exa mple.com",
            "sip:user@example.com:99999",
            "sip:user@example.com:",
            "sip:user@-bad.com",
            "sip:user@1.2.3.256",
            "sip:user@example.com;;lr",
            "sip:user@example.com;x=",
            "sip:user@example.com?noequals",
            "1sip:x",
            "sip:user@exa_mple.com",
        ] {
            assert!(parse_uri(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "sip:alice@example.com:5060;transport=udp",
            "sips:[2001:db8::1]:5061;maddr=[2001:db8::2]",
            "sip:u:pw@192.0.2.1?Route=%3Csip:example.com%3E",
        ] {
            assert_eq!(ok(s).to_string(), s);
        }
    }
}
