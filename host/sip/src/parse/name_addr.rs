//! From / To / Contact / Route values: `name-addr` or `addr-spec`, then header parameters
//! (RFC 3261 §20.10, §25.1).
//!
//! An addr-spec without `<>` ends at the first `;`, `,` or whitespace: its parameters
//! belong to the header, not the URI, and a URI carrying `?headers` there is rejected
//! (RFC 4475 regbadct, cparam01).

use super::lex::Cursor;
use super::params::{parse_params, Params};
use super::uri::parse_uri;
use super::ParseError;
use crate::message::{ContactList, NameAddr};

/// Parses a single-valued From / To value (anything after it is an error).
pub fn parse_name_addr(v: &str) -> Result<NameAddr, ParseError> {
    let mut c = Cursor::new(v);
    let na = element(&mut c, "From/To")?;
    c.skip_ws();
    if !c.at_end() {
        return Err(bad("From/To", "unexpected characters after address"));
    }
    Ok(na)
}

/// Parses a comma-separated list of name-addr / addr-spec values (Route, Record-Route, …).
pub fn parse_name_addr_list(v: &str) -> Result<Vec<NameAddr>, ParseError> {
    list(v, "Route")
}

/// Parses a Contact value: `*` or a list of addresses with their parameters.
pub fn parse_contact_list(v: &str) -> Result<ContactList, ParseError> {
    if v.trim_matches([' ', '\t']) == "*" {
        return Ok(ContactList::Wildcard);
    }
    let addrs = list(v, "Contact")?;
    for a in &addrs {
        for (n, val) in &a.params {
            let val = val.as_deref().unwrap_or("");
            if n.eq_ignore_ascii_case("q") && !is_qvalue(val) {
                return Err(bad("Contact", "bad q value"));
            }
            if n.eq_ignore_ascii_case("expires")
                && (val.is_empty() || !val.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(bad("Contact", "bad expires value"));
            }
        }
    }
    Ok(ContactList::Addrs(addrs))
}

fn bad(header: &'static str, why: &'static str) -> ParseError {
    ParseError::Header { header, why }
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn is_qvalue(v: &str) -> bool {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    frac.len() <= 3
        && frac.bytes().all(|b| b.is_ascii_digit())
        && match int {
            "0" => true,
            "1" => frac.bytes().all(|b| b == b'0'),
            _ => false,
        }
}

fn list(v: &str, header: &'static str) -> Result<Vec<NameAddr>, ParseError> {
    let mut c = Cursor::new(v);
    let mut out = Vec::new();
    loop {
        out.push(element(&mut c, header)?);
        if !c.eat_sep(b',') {
            break;
        }
    }
    c.skip_ws();
    if !c.at_end() {
        return Err(bad(header, "unexpected characters after address"));
    }
    Ok(out)
}

/// One `( name-addr / addr-spec ) *( SEMI param )`.
fn element(c: &mut Cursor<'_>, header: &'static str) -> Result<NameAddr, ParseError> {
    c.skip_ws();
    let mut display = None;
    let bracketed = if c.peek() == Some(b'"') {
        let (_, text) = c
            .quoted_string()
            .ok_or(bad(header, "unterminated quoted display name"))?;
        display = Some(text);
        c.skip_ws();
        if !c.eat(b'<') {
            return Err(bad(header, "display name not followed by <URI>"));
        }
        true
    } else if c.eat(b'<') {
        true
    } else {
        // `*(token LWS)` then LAQUOT, or else an addr-spec.
        let save = c.pos();
        let mut words = Vec::new();
        while let Some(t) = c.token() {
            words.push(t);
            let ws = c.skip_ws();
            if !ws || c.peek() == Some(b'<') {
                break;
            }
        }
        if !words.is_empty() && c.eat(b'<') {
            display = Some(words.join(" "));
            true
        } else {
            c.set_pos(save);
            false
        }
    };
    let uri = if bracketed {
        let start = c.pos();
        c.take_while(|b| b != b'>');
        let text = c.since(start);
        if !c.eat(b'>') {
            return Err(bad(header, "missing '>'"));
        }
        parse_uri(text)?
    } else {
        let start = c.pos();
        c.take_while(|b| !matches!(b, b';' | b',' | b' ' | b'\t'));
        let text = c.since(start);
        if text.contains('?') {
            return Err(bad(header, "URI with headers must be enclosed in <>"));
        }
        parse_uri(text)?
    };
    let params: Params = parse_params(c, header)?;
    Ok(NameAddr {
        display,
        uri,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Host, Scheme};

    fn na(s: &str) -> NameAddr {
        parse_name_addr(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let a = na("sip:caller@example.net;tag=134161461246");
        assert_eq!(a.uri.params, vec![]);
        assert_eq!(a.tag(), Some("134161461246"));
        let a = na("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(a.tag(), Some("1918181833n"));
        assert_eq!(a.uri.host, Host::Domain("chair-dnrc.example.com".into()));
    }

    #[test]
    fn quoted_display_with_escapes() {
        let a = na(r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#);
        assert_eq!(a.display.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(a.tag(), Some("98asjd8"));
        let a = na("\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:x@example.com>");
        assert_eq!(a.display.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
        // Printing escapes the control characters so the output parses back.
        assert_eq!(na(&a.to_string()), a);
    }

    #[test]
    fn token_display_names() {
        let a = na("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u{440}\u{430}\";tag=_token~1'+`*%!-.");
        assert_eq!(a.display.as_deref(), Some("token1~` token2'+_ token3*%!.-"));
        assert_eq!(a.tag(), Some("_token~1'+`*%!-."));
        let a = na("caller<sip:caller@example.com>;tag=323");
        assert_eq!(a.display.as_deref(), Some("caller"));
    }

    #[test]
    fn other_schemes_in_headers() {
        assert_eq!(
            na("isbn:2983792873").uri.scheme,
            Scheme::Other("isbn".into())
        );
        assert_eq!(
            na("<http://www.example.com>;tag=3234233")
                .uri
                .opaque
                .as_deref(),
            Some("//www.example.com")
        );
    }

    #[test]
    fn rfc4475_invalid_name_addrs() {
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Watson, Thomas <sip:t.watson@example.org>",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "<sip:x@example.com",
            "\"x\" sip:x@example.com",
            "<sip:a@example.com>, <sip:b@example.com>",
            "",
        ] {
            assert!(parse_name_addr(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn contact_lists() {
        assert_eq!(parse_contact_list(" * ").unwrap(), ContactList::Wildcard);
        let ContactList::Addrs(a) = parse_contact_list(
            "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33, <sip:b@example.com>;expires=60",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].display.as_deref(), Some("Quoted string \"\""));
        assert_eq!(a[0].param("q"), Some(Some("0.33")));
        assert_eq!(a[1].param("expires"), Some(Some("60")));
        let ContactList::Addrs(a) =
            parse_contact_list("sip:+19725552222@gw1.example.net;unknownparam").unwrap()
        else {
            panic!()
        };
        assert_eq!(a[0].param("unknownparam"), Some(None));
        assert!(a[0].uri.params.is_empty());
        let ContactList::Addrs(a) =
            parse_contact_list("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap()
        else {
            panic!()
        };
        assert_eq!(a[0].uri.param("unknownparam"), Some(None));
        assert!(parse_contact_list("<sip:a@b>;q=2").is_err());
        assert!(parse_contact_list("<sip:a@b>;expires=soon").is_err());
        assert!(parse_contact_list("*, <sip:a@b>").is_err());
    }

    #[test]
    fn route_lists() {
        let r = parse_name_addr_list(
            "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>, <sip:[2001:db8::1];lr>",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].uri.param("lr"), Some(None));
    }
}
