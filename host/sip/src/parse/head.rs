//! Splits the start line and header fields off a message: CRLF or bare-LF line ends,
//! folded continuation lines unfolded to one SP, `name *WSP ":"` field names.

use super::lex::{is_token, is_wsp};
use super::{Limits, ParseError};

/// The head of a message, borrowed from the input buffer.
#[derive(Debug)]
pub(crate) struct Head<'a> {
    pub start_line: &'a [u8],
    /// (name as written, unfolded and trimmed value).
    pub fields: Vec<(&'a str, String)>,
    /// Offset of the first body octet.
    pub body_start: usize,
}

/// Number of leading CR / LF octets (keepalives and stray line ends before a start line,
/// which RFC 3261 §7.5 says to ignore).
pub fn keepalive_len(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count()
}

/// Iterates lines ending in LF (an optional CR before it is stripped), yielding
/// (line, offset after the LF). A final unterminated fragment is yielded with `None`.
fn next_line(buf: &[u8], pos: usize) -> Option<(&[u8], Option<usize>)> {
    let rest = buf.get(pos..)?;
    if rest.is_empty() {
        return None;
    }
    match rest.iter().position(|b| *b == b'\n') {
        Some(lf) => {
            let line = &rest[..lf];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Some((line, Some(pos + lf + 1)))
        }
        None => Some((rest, None)),
    }
}

/// Splits the head. With `datagram` set, a buffer that ends right after a header line
/// (no empty line) is accepted as a message without body; a stream framer never allows
/// that because more octets may follow.
pub(crate) fn split_head<'a>(
    buf: &'a [u8],
    limits: &Limits,
    datagram: bool,
) -> Result<Head<'a>, ParseError> {
    let (start_line, mut pos) = match next_line(buf, 0) {
        Some((l, Some(next))) if !l.is_empty() => (l, next),
        _ => return Err(ParseError::StartLine("missing or unterminated start line")),
    };
    if start_line.contains(&b'\r') {
        return Err(ParseError::StartLine("bare CR"));
    }
    let mut fields: Vec<(&'a str, Vec<u8>)> = Vec::new();
    loop {
        let Some((line, next)) = next_line(buf, pos) else {
            if datagram && pos == buf.len() {
                break;
            }
            return Err(ParseError::HeaderLine("header section not terminated"));
        };
        let Some(next) = next else {
            return Err(ParseError::HeaderLine("header section not terminated"));
        };
        pos = next;
        if line.is_empty() {
            break;
        }
        if line.contains(&b'\r') {
            return Err(ParseError::HeaderLine("bare CR"));
        }
        if is_wsp(line[0]) {
            let (_, value) = fields
                .last_mut()
                .ok_or(ParseError::HeaderLine("continuation line without a field"))?;
            let cont = trim_wsp(line);
            if !cont.is_empty() {
                if !value.is_empty() {
                    value.push(b' ');
                }
                value.extend_from_slice(cont);
            }
            continue;
        }
        if fields.len() >= limits.max_headers {
            return Err(ParseError::TooLarge("too many header fields"));
        }
        let colon = line
            .iter()
            .position(|b| *b == b':')
            .ok_or(ParseError::HeaderLine("field without ':'"))?;
        let name = trim_wsp_end(&line[..colon]);
        if name.is_empty() || !name.iter().all(|b| is_token(*b)) {
            return Err(ParseError::HeaderLine("field name is not a token"));
        }
        // Token characters are ASCII, so this cannot fail.
        let name = std::str::from_utf8(name).map_err(|_| ParseError::HeaderLine("name"))?;
        fields.push((name, trim_wsp(&line[colon + 1..]).to_vec()));
    }
    let fields = fields
        .into_iter()
        .map(|(n, v)| {
            let v =
                String::from_utf8(v).map_err(|_| ParseError::HeaderLine("value is not UTF-8"))?;
            Ok((n, v))
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    Ok(Head {
        start_line,
        fields,
        body_start: pos,
    })
}

fn trim_wsp(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !is_wsp(*b)).unwrap_or(s.len());
    trim_wsp_end(&s[start..])
}

fn trim_wsp_end(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|b| !is_wsp(*b)).map_or(0, |p| p + 1);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<Head<'_>, ParseError> {
        split_head(s.as_bytes(), &Limits::default(), true)
    }

    #[test]
    fn folding_and_mixed_line_ends() {
        let text = "OPTIONS sip:a@b SIP/2.0\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\nX:\r\n\r\nbody";
        let h = head(text).unwrap();
        assert_eq!(h.start_line, b"OPTIONS sip:a@b SIP/2.0");
        assert_eq!(
            h.fields[0],
            (
                "Via",
                "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw".to_string()
            )
        );
        assert_eq!(h.fields[1], ("X", String::new()));
        assert_eq!(&text[h.body_start..], "body");
    }

    #[test]
    fn header_errors() {
        assert!(head("OPTIONS sip:a@b SIP/2.0\r\n folded-first\r\n\r\n").is_err());
        assert!(head("OPTIONS sip:a@b SIP/2.0\r\nNoColon\r\n\r\n").is_err());
        assert!(head("OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n").is_err());
        assert!(head("OPTIONS sip:a@b SIP/2.0\r\nA: x\ry\r\n\r\n").is_err());
        assert!(head("OPTIONS sip:a@b SIP/2.0\r\nA: x").is_err());
        let bad_utf8 = b"OPTIONS sip:a@b SIP/2.0\r\nA: \xff\r\n\r\n";
        assert!(split_head(bad_utf8, &Limits::default(), true).is_err());
        assert!(head("").is_err());
        // A datagram may end right after the last field line.
        assert!(head("OPTIONS sip:a@b SIP/2.0\nA: x\n").is_ok());
        assert!(split_head(
            b"OPTIONS sip:a@b SIP/2.0\nA: x\n",
            &Limits::default(),
            false
        )
        .is_err());
    }

    #[test]
    fn header_count_limit() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let r = split_head(
            b"M sip:a@b SIP/2.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
            &limits,
            true,
        );
        assert_eq!(
            r.unwrap_err(),
            ParseError::TooLarge("too many header fields")
        );
    }
}
