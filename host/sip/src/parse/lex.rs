//! Character classes and a byte cursor for the RFC 3261 §25 grammar.
//!
//! Header values reach the typed parsers already unfolded, so "LWS" here is
//! a run of SP / HTAB; CR and LF inside a value are always an error.

/// `token` characters (RFC 3261 §25.1).
pub(crate) fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// `word` characters (Call-ID): token plus the separators that are allowed there.
pub(crate) fn is_word(c: u8) -> bool {
    is_token(c)
        || matches!(
            c,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// `unreserved` = alphanum / mark.
pub(crate) fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

pub(crate) fn is_wsp(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// True when `s` is a non-empty token.
pub(crate) fn is_token_str(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// A position in a header value. All methods are total: running off the end
/// yields `None`/`false`, never a panic.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Cursor<'a> {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    #[cfg(test)]
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// The text consumed since `start` (a value previously returned by [`Cursor::pos`]).
    pub(crate) fn since(&self, start: usize) -> &'a str {
        self.s.get(start..self.pos).unwrap_or("")
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Consumes `c` if it is next.
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips SP/HTAB; returns whether any was skipped.
    pub(crate) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_wsp) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// `SWS c SWS` (SEMI, COMMA, EQUAL, SLASH, COLON of §25.1).
    pub(crate) fn eat_sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.eat(c) {
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes the longest run of bytes matching `f` (ASCII predicates only, so the
    /// slice boundaries are char boundaries).
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let b = self.s.as_bytes();
        while self.pos < b.len() && f(b[self.pos]) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token);
        (!t.is_empty()).then_some(t)
    }

    /// A `quoted-string` starting at the cursor; returns (raw text incl. quotes, unescaped
    /// content). `None` when unterminated or when it contains CR/LF.
    pub(crate) fn quoted_string(&mut self) -> Option<(&'a str, String)> {
        let start = self.pos;
        if !self.eat(b'"') {
            return None;
        }
        let mut out = Vec::new();
        let b = self.s.as_bytes();
        while self.pos < b.len() {
            let c = b[self.pos];
            match c {
                b'"' => {
                    self.pos += 1;
                    let raw = &self.s[start..self.pos];
                    // The content came from a &str and escapes only drop ASCII backslashes.
                    let text = String::from_utf8(out).ok()?;
                    return Some((raw, text));
                }
                b'\\' => {
                    let n = *b.get(self.pos + 1)?;
                    if n == b'\r' || n == b'\n' || n > 0x7f {
                        self.pos = start;
                        return None;
                    }
                    out.push(n);
                    self.pos += 2;
                }
                // qdtext: no raw control characters except HTAB (they must be quoted-pairs).
                c if (c < 0x20 && c != b'\t') || c == 0x7f => break,
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos = start;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_string_unescapes_and_keeps_raw() {
        let mut c = Cursor::new(r#""J Rosenberg \\\"" <x>"#);
        let (raw, text) = c.quoted_string().unwrap();
        assert_eq!(raw, r#""J Rosenberg \\\"""#);
        assert_eq!(text, r#"J Rosenberg \""#);
        assert_eq!(c.rest(), " <x>");
    }

    #[test]
    fn unterminated_quote_is_rejected_without_moving() {
        let mut c = Cursor::new("\"Mr. J. User <sip:j@x>");
        assert!(c.quoted_string().is_none());
        assert_eq!(c.pos(), 0);
        let mut c = Cursor::new("\"ends in backslash\\");
        assert!(c.quoted_string().is_none());
    }

    #[test]
    fn separators_allow_surrounding_whitespace() {
        let mut c = Cursor::new("  ;  x");
        assert!(c.eat_sep(b';'));
        assert_eq!(c.rest(), "x");
        let mut c = Cursor::new("  x");
        assert!(!c.eat_sep(b';'));
        assert_eq!(c.pos(), 0);
    }
}
