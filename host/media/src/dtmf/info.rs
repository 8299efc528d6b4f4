//! DTMF carried in SIP INFO bodies.

use super::{event_to_digit, DtmfError, DIGITS};

/// A digit from a SIP INFO request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    /// The key.
    pub digit: char,
    /// `Duration=` in ms, when given.
    pub duration_ms: Option<u32>,
}

fn parse_signal(s: &str) -> Result<char, DtmfError> {
    let s = s.trim();
    let mut chars = s.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        let up = c.to_ascii_uppercase();
        if DIGITS.contains(&up) {
            return Ok(up);
        }
    }
    // Some gateways send event codes ("Signal=11" for '#').
    s.parse::<u8>()
        .ok()
        .and_then(event_to_digit)
        .ok_or_else(|| DtmfError::NotADigit(s.chars().take(16).collect()))
}

/// Parse an INFO body given its Content-Type (parameters ignored).
pub fn parse_info(content_type: &str, body: &str) -> Result<InfoDigit, DtmfError> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/dtmf-relay" => {
            let mut digit = None;
            let mut duration_ms = None;
            for line in body.lines() {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                match k.trim().to_ascii_lowercase().as_str() {
                    "signal" => digit = Some(parse_signal(v)?),
                    "duration" => duration_ms = v.trim().parse().ok(),
                    _ => {}
                }
            }
            Ok(InfoDigit {
                digit: digit.ok_or(DtmfError::NoSignal)?,
                duration_ms,
            })
        }
        "application/dtmf" => Ok(InfoDigit {
            digit: parse_signal(body)?,
            duration_ms: None,
        }),
        _ => Err(DtmfError::UnsupportedContentType(
            ct.chars().take(64).collect(),
        )),
    }
}

/// `application/dtmf-relay` body for sending a digit.
pub fn format_dtmf_relay(digit: char, duration_ms: u32) -> String {
    format!(
        "Signal={}\r\nDuration={duration_ms}\r\n",
        digit.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(
            parse_info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
            Ok(InfoDigit {
                digit: '5',
                duration_ms: Some(160)
            })
        );
        assert_eq!(
            parse_info(
                "Application/DTMF-Relay; charset=x",
                "signal= #\nduration = 250"
            )
            .unwrap()
            .digit,
            '#'
        );
        assert_eq!(
            parse_info("application/dtmf-relay", "Signal=11\r\n")
                .unwrap()
                .digit,
            '#'
        );
        assert_eq!(
            parse_info("application/dtmf-relay", "Signal=a\r\n")
                .unwrap()
                .digit,
            'A'
        );
        assert_eq!(
            parse_info("application/dtmf-relay", "Duration=100"),
            Err(DtmfError::NoSignal)
        );
        assert!(matches!(
            parse_info("application/dtmf-relay", "Signal=X"),
            Err(DtmfError::NotADigit(_))
        ));
        let body = format_dtmf_relay('*', 160);
        assert_eq!(
            parse_info("application/dtmf-relay", &body).unwrap().digit,
            '*'
        );
    }

    #[test]
    fn dtmf_bodies_and_unknown_types() {
        assert_eq!(parse_info("application/dtmf", "5").unwrap().digit, '5');
        assert_eq!(
            parse_info("application/dtmf", " 10\r\n").unwrap().digit,
            '*'
        );
        assert!(matches!(
            parse_info("text/plain", "5"),
            Err(DtmfError::UnsupportedContentType(_))
        ));
        assert!(parse_info("application/dtmf", "").is_err());
        assert!(parse_info("application/dtmf", "99").is_err());
    }
}
