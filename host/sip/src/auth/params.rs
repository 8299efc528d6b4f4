//! Parsing of `Authorization` / `WWW-Authenticate` values: `Scheme name=value, name="quoted"`.
//!
//! Hostile input is the norm here (scanners send anything), so the parser is a small
//! byte-level state machine that never panics and bounds what it allocates: at most
//! [`MAX_PARAMS`] parameters, each value at most [`MAX_VALUE`] bytes.

/// More parameters than any digest header has; beyond this the header is garbage.
pub const MAX_PARAMS: usize = 24;
/// Longest parameter value accepted (a nonce or cnonce is far shorter).
pub const MAX_VALUE: usize = 1024;

/// Why a credentials/challenge value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamsError {
    /// No scheme token at the start.
    #[error("missing auth scheme")]
    NoScheme,
    /// A parameter name was expected but something else was found.
    #[error("expected a parameter name at byte {0}")]
    ExpectedName(usize),
    /// `name` not followed by `=`.
    #[error("expected '=' at byte {0}")]
    ExpectedEquals(usize),
    /// A quoted string ran to the end of the input.
    #[error("unterminated quoted string")]
    Unterminated,
    /// Something other than `,` after a value.
    #[error("expected ',' at byte {0}")]
    ExpectedComma(usize),
    /// More than `MAX_PARAMS` (24) parameters or a value longer than `MAX_VALUE` (1024 bytes).
    #[error("header too large")]
    TooLarge,
    /// The same parameter twice (RFC 7616 §3.4: each at most once).
    #[error("duplicate parameter {0}")]
    Duplicate(String),
    /// A value that is not valid UTF-8 after unescaping.
    #[error("invalid UTF-8 in a parameter")]
    BadUtf8,
}

/// A parsed credentials or challenge value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams {
    /// The scheme as written (`Digest`); compare case-insensitively.
    pub scheme: String,
    /// `(lower-cased name, unquoted value)` in order.
    pub params: Vec<(String, String)>,
}

impl AuthParams {
    /// A parameter's value by (case-insensitive) name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for the `Digest` scheme.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
                // Not RFC 3261 token characters, but unquoted in the wild (base64 nonces,
                // `uri=sip:a@b` from broken UAs); accepting them is harmless.
                | b'/' | b'=' | b':' | b'@'
        )
}

fn is_name(b: u8) -> bool {
    is_token(b) && b != b'=' && b != b'/' && b != b':' && b != b'@'
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// Parses `Scheme param, param, …`. An empty parameter list is allowed (`Basic`).
pub fn parse_auth_params(value: &str) -> Result<AuthParams, ParamsError> {
    let s = value.as_bytes();
    let mut i = skip_ws(s, 0);
    let start = i;
    while i < s.len() && is_name(s[i]) {
        i += 1;
    }
    if i == start {
        return Err(ParamsError::NoScheme);
    }
    let scheme = value[start..i].to_string();
    let mut params: Vec<(String, String)> = Vec::new();
    i = skip_ws(s, i);
    while i < s.len() {
        // Name.
        let ns = i;
        while i < s.len() && is_name(s[i]) {
            i += 1;
        }
        if i == ns {
            return Err(ParamsError::ExpectedName(i));
        }
        let name = value[ns..i].to_ascii_lowercase();
        i = skip_ws(s, i);
        if s.get(i) != Some(&b'=') {
            return Err(ParamsError::ExpectedEquals(i));
        }
        i = skip_ws(s, i + 1);
        // Value: quoted-string (with `\` escapes) or token.
        let val = if s.get(i) == Some(&b'"') {
            i += 1;
            let mut out = Vec::new();
            loop {
                match s.get(i) {
                    None => return Err(ParamsError::Unterminated),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => match s.get(i + 1) {
                        Some(&c) => {
                            out.push(c);
                            i += 2;
                        }
                        None => return Err(ParamsError::Unterminated),
                    },
                    Some(&c) => {
                        out.push(c);
                        i += 1;
                    }
                }
                if out.len() > MAX_VALUE {
                    return Err(ParamsError::TooLarge);
                }
            }
            String::from_utf8(out).map_err(|_| ParamsError::BadUtf8)?
        } else {
            let vs = i;
            while i < s.len() && is_token(s[i]) {
                i += 1;
            }
            if i - vs > MAX_VALUE {
                return Err(ParamsError::TooLarge);
            }
            value[vs..i].to_string()
        };
        if params.iter().any(|(n, _)| *n == name) {
            return Err(ParamsError::Duplicate(name));
        }
        if params.len() == MAX_PARAMS {
            return Err(ParamsError::TooLarge);
        }
        params.push((name, val));
        i = skip_ws(s, i);
        match s.get(i) {
            None => break,
            Some(b',') => i = skip_ws(s, i + 1),
            Some(_) => return Err(ParamsError::ExpectedComma(i)),
        }
    }
    Ok(AuthParams { scheme, params })
}

/// Writes `s` as a quoted-string, escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let p = parse_auth_params(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\",\r\n uri=\"/dir/index.html\", \
             algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
             cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
             response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        )
        .unwrap();
        assert!(p.is_digest());
        assert_eq!(p.get("USERNAME"), Some("Mufasa"));
        assert_eq!(p.get("algorithm"), Some("SHA-256"));
        assert_eq!(p.get("nc"), Some("00000001"));
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.params.len(), 10);
    }

    #[test]
    fn escapes_and_case() {
        let p = parse_auth_params(r#"dIgEsT UserName="a\"b\\c", REALM=x"#).unwrap();
        assert!(p.is_digest());
        assert_eq!(p.get("username"), Some("a\"b\\c"));
        assert_eq!(p.get("realm"), Some("x"));
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
    }

    #[test]
    fn unknown_scheme_from_rfc4475_regaut01() {
        let p = parse_auth_params("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!p.is_digest());
        assert_eq!(p.get("opaque-data"), Some("here"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "   ",
            "=",
            "Digest =x",
            "Digest a",
            "Digest a=\"unterminated",
            "Digest a=\"x\\",
            "Digest a=b c=d",
            "Digest a=1, a=2",
            "Digest a=\"\u{0}\", ,",
            "\"Digest\" a=b",
            "Digest a=b,,",
        ] {
            assert!(parse_auth_params(bad).is_err(), "{bad:?} should fail");
        }
        let many = format!(
            "Digest {}",
            (0..100)
                .map(|i| format!("p{i}=1"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(parse_auth_params(&many), Err(ParamsError::TooLarge));
        let long = format!("Digest a=\"{}\"", "x".repeat(5000));
        assert_eq!(parse_auth_params(&long), Err(ParamsError::TooLarge));
    }

    #[test]
    fn every_prefix_and_byte_flip_is_safe() {
        let good = r#"Digest username="2001", realm="pbx", nonce="abc", uri="sip:pbx", response="00", qop=auth, nc=00000001, cnonce="x\"y""#;
        for end in 0..=good.len() {
            if good.is_char_boundary(end) {
                let _ = parse_auth_params(&good[..end]);
            }
        }
        let bytes = good.as_bytes();
        for i in 0..bytes.len() {
            for b in [b'"', b'\\', b',', b'=', b' ', 0xff] {
                let mut v = bytes.to_vec();
                v[i] = b;
                let s = String::from_utf8_lossy(&v);
                let _ = parse_auth_params(&s);
            }
        }
    }
}
