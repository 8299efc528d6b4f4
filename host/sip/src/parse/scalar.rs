//! Single-token header values: CSeq, Content-Length, Max-Forwards, Call-ID, Content-Type.

use super::lex::{is_token, is_token_str, is_word, Cursor};
use super::ParseError;
use crate::message::{CSeq, Method};

fn bad(header: &'static str, why: &'static str) -> ParseError {
    ParseError::Header { header, why }
}

/// `1*DIGIT` into a bounded integer; overflow is an error, not a wrap.
fn digits<T: std::str::FromStr>(v: &str, header: &'static str) -> Result<T, ParseError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(header, "not a number"));
    }
    let trimmed = v.trim_start_matches('0');
    let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
    trimmed.parse().map_err(|_| bad(header, "number too large"))
}

/// `CSeq = 1*DIGIT LWS Method`; the number must fit 32 bits (RFC 3261 §8.1.1.5).
pub fn parse_cseq(v: &str) -> Result<CSeq, ParseError> {
    let mut c = Cursor::new(v);
    c.skip_ws();
    let n = c.take_while(|b| b.is_ascii_digit());
    let seq: u32 = digits(n, "CSeq")?;
    if !c.skip_ws() {
        return Err(bad("CSeq", "missing whitespace before method"));
    }
    let m = c.token().ok_or(bad("CSeq", "missing method"))?;
    c.skip_ws();
    if !c.at_end() {
        return Err(bad("CSeq", "unexpected characters after method"));
    }
    Ok(CSeq {
        seq,
        method: Method::from_token(m),
    })
}

/// `Content-Length = 1*DIGIT`. Negative or overlarge values are errors (RFC 4475 ncl).
pub fn parse_content_length(v: &str) -> Result<usize, ParseError> {
    let v = v.trim_matches([' ', '\t']);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::ContentLength("not a non-negative number"));
    }
    let t = v.trim_start_matches('0');
    let t = if t.is_empty() { "0" } else { t };
    t.parse()
        .map_err(|_| ParseError::ContentLength("number too large"))
}

/// `Max-Forwards = 1*DIGIT`, 0–255 (RFC 4475 scalar02 sends 300).
pub fn parse_max_forwards(v: &str) -> Result<u8, ParseError> {
    digits(v.trim_matches([' ', '\t']), "Max-Forwards")
}

/// `callid = word [ "@" word ]`.
pub fn check_call_id(v: &str) -> Result<(), ParseError> {
    let v = v.trim_matches([' ', '\t']);
    let (a, b) = match v.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word);
    if word(a) && b.is_none_or(word) {
        Ok(())
    } else {
        Err(bad("Call-ID", "not word[@word]"))
    }
}

/// A `media-type` (`type "/" subtype *( SEMI m-parameter )`), returned lower-cased without
/// parameters, e.g. `application/sdp`.
pub fn parse_media_type(v: &str) -> Result<String, ParseError> {
    let mut c = Cursor::new(v);
    c.skip_ws();
    let t = c.token().ok_or(bad("Content-Type", "missing type"))?;
    if !c.eat_sep(b'/') {
        return Err(bad("Content-Type", "missing '/'"));
    }
    let s = c.token().ok_or(bad("Content-Type", "missing subtype"))?;
    super::params::parse_params(&mut c, "Content-Type")?;
    c.skip_ws();
    if !c.at_end() {
        return Err(bad("Content-Type", "unexpected characters"));
    }
    Ok(format!(
        "{}/{}",
        t.to_ascii_lowercase(),
        s.to_ascii_lowercase()
    ))
}

/// Splits a comma-separated list of tokens (Require, Supported, Allow …); empty items are errors.
pub fn parse_token_list(v: &str, header: &'static str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    for item in v.split(',') {
        let item = item.trim_matches([' ', '\t']);
        if !is_token_str(item) {
            return Err(bad(header, "not a token list"));
        }
        out.push(item.to_string());
    }
    Ok(out)
}

/// Whether a method token is well-formed.
pub(crate) fn is_method(m: &str) -> bool {
    !m.is_empty() && m.bytes().all(is_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_forms() {
        let c = parse_cseq("0009 INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, Method::Invite));
        let c = parse_cseq("139122385 !interesting-Method0123456789_*+`.%indeed'~").unwrap();
        assert_eq!(
            c.method,
            Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into())
        );
        assert_eq!(parse_cseq("4294967295 ACK").unwrap().seq, u32::MAX);
        for bad in [
            "36893488147419103232 REGISTER",
            "4294967296 ACK",
            "INVITE",
            "1INVITE",
            "1 INVITE extra",
            "-1 INVITE",
            "1 ",
            "",
        ] {
            assert!(parse_cseq(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn content_length() {
        assert_eq!(parse_content_length(" 0150 ").unwrap(), 150);
        assert!(parse_content_length("-999").is_err());
        assert!(parse_content_length("99999999999999999999999").is_err());
        assert!(parse_content_length("").is_err());
        assert!(parse_content_length("1 2").is_err());
    }

    #[test]
    fn max_forwards() {
        assert_eq!(parse_max_forwards("0068").unwrap(), 68);
        assert_eq!(parse_max_forwards("255").unwrap(), 255);
        assert!(parse_max_forwards("300").is_err());
        assert!(parse_max_forwards("x").is_err());
    }

    #[test]
    fn call_id() {
        check_call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").unwrap();
        check_call_id("abc").unwrap();
        assert!(check_call_id("a b").is_err());
        assert!(check_call_id("a@b@c").is_err());
        assert!(check_call_id("").is_err());
    }

    #[test]
    fn media_types() {
        assert_eq!(
            parse_media_type("Application/SDP ; charset=utf-8").unwrap(),
            "application/sdp"
        );
        assert_eq!(
            parse_media_type("multipart/mixed;boundary=\"x y\"").unwrap(),
            "multipart/mixed"
        );
        assert!(parse_media_type("application").is_err());
        assert!(parse_media_type("application/sdp junk").is_err());
    }

    #[test]
    fn token_lists() {
        assert_eq!(
            parse_token_list("100rel , timer", "Require").unwrap(),
            ["100rel", "timer"]
        );
        assert!(parse_token_list("a,,b", "Require").is_err());
    }
}
