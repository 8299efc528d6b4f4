//! `*( SEMI generic-param )` as used after Via sent-by and after name-addr / addr-spec.

use super::lex::{is_token, Cursor};
use super::ParseError;

/// Parameter list in wire order; flag parameters have no value.
pub(crate) type Params = Vec<(String, Option<String>)>;

/// Characters of an unquoted `gen-value` (token / host); `:` admits the unbracketed
/// IPv6 `received` values that RFC 5118 §4.5 tells parsers to accept.
fn is_gen_value(c: u8) -> bool {
    is_token(c) || matches!(c, b':' | b'[' | b']')
}

/// Parses `*( SEMI param )` at the cursor. Quoted values are kept with their quotes so the
/// header prints back unchanged. `header` names the header in errors.
pub(crate) fn parse_params(c: &mut Cursor<'_>, header: &'static str) -> Result<Params, ParseError> {
    let bad = |why| ParseError::Header { header, why };
    let mut out = Params::new();
    while c.eat_sep(b';') {
        let name = c.token().ok_or(bad("empty parameter name"))?;
        let value = if c.eat_sep(b'=') {
            let v = if c.peek() == Some(b'"') {
                c.quoted_string()
                    .ok_or(bad("unterminated quoted parameter"))?
                    .0
            } else {
                c.take_while(is_gen_value)
            };
            if v.is_empty() {
                return Err(bad("empty parameter value"));
            }
            Some(v.to_string())
        } else {
            None
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lws_around_separators() {
        let mut c = Cursor::new(" ;   tag    = 1918181833n ; lr");
        let p = parse_params(&mut c, "To").unwrap();
        assert_eq!(
            p,
            vec![
                ("tag".to_string(), Some("1918181833n".to_string())),
                ("lr".to_string(), None)
            ]
        );
        assert!(c.at_end());
    }

    #[test]
    fn quoted_value_kept_raw() {
        let mut c = Cursor::new(";p=\"a;b\\\"c\"");
        let p = parse_params(&mut c, "From").unwrap();
        assert_eq!(p[0].1.as_deref(), Some("\"a;b\\\"c\""));
    }

    #[test]
    fn empty_names_and_values_fail() {
        for bad in [";;", ";", ";=x", ";a=", ";a=\"open"] {
            let mut c = Cursor::new(bad);
            assert!(parse_params(&mut c, "Via").is_err(), "{bad:?}");
        }
    }
}
