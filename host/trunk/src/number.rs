//! Japanese telephone numbers: parse what users dial and what carriers send, keep one form
//! inside (E.164, `+81462000000`), give the national form (`0462000000`) at the edges.
//!
//! Accepted spellings: national `0462000000`, E.164 `+81462000000` (or `81462000000` as
//! some carriers send it), `tel:` URIs with visual separators (`tel:+81-46-200-0000`),
//! `sip:`/`sips:` URIs (their user part), international `010…`, short codes (`110`, `171`,
//! `#7119`), and the `184` (withhold) / `186` (present) prefixes before any of them.
//! Anything else is refused with a [`NumberError`] before a trunk sees it.

use std::fmt;

/// What kind of number it is (decides the default outbound policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NumberKind {
    /// 0AB-J geographic number (10 digits), e.g. 046-200-0000.
    Fixed,
    /// 070/080/090 (and 020 M2M) mobile numbers, 11 digits.
    Mobile,
    /// 050 IP phone numbers, 11 digits.
    Ip,
    /// 0120 (10 digits) and 0800 (11 digits) free dial.
    TollFree,
    /// 0570 navi dial (shared cost).
    Navi,
    /// 0990 (dial Q2) and 0180 (mass calling): charged beyond the call; refused by default.
    Premium,
    /// 110 police, 118 coast guard, 119 fire and ambulance: always allowed.
    Emergency,
    /// Other short codes (1XY such as 171, 177; `#` numbers such as #7119).
    Special,
    /// Outside Japan (dialled 010… or +CC with CC ≠ 81): refused by default.
    International,
}

impl NumberKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            NumberKind::Fixed => "fixed",
            NumberKind::Mobile => "mobile",
            NumberKind::Ip => "ip",
            NumberKind::TollFree => "toll-free",
            NumberKind::Navi => "navi",
            NumberKind::Premium => "premium",
            NumberKind::Emergency => "emergency",
            NumberKind::Special => "special",
            NumberKind::International => "international",
        }
    }
}

/// Caller-ID presentation asked for with a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Presentation {
    /// No prefix: the trunk's or line's default.
    #[default]
    Default,
    /// `184`: withhold (非通知).
    Withhold,
    /// `186`: present (通知).
    Present,
}

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("empty number")]
    Empty,
    #[error("not a telephone number: unexpected character {0:?}")]
    BadCharacter(char),
    #[error("not a telephone number URI")]
    BadUri,
    #[error("a {kind} number has {expected} digits, this one has {got}")]
    BadLength {
        kind: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("unknown number range {0}")]
    UnknownRange(String),
    #[error("international number too short or too long ({0} digits)")]
    BadInternational(usize),
    #[error("carrier selection prefixes (00XY) are not accepted")]
    CarrierPrefix,
}

/// A parsed number: E.164 digits for real numbers, the code itself for short codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    kind: NumberKind,
    /// E.164 without `+` (e.g. `81462000000`), or the short code (`110`, `#7119`).
    digits: String,
}

/// A dialled string: the number and the presentation prefix in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialled {
    pub number: PhoneNumber,
    pub presentation: Presentation,
}

impl PhoneNumber {
    /// Parses a number or a `tel:`/`sip:` URI without a 184/186 prefix.
    pub fn parse(input: &str) -> Result<PhoneNumber, NumberError> {
        let raw = strip_uri(input)?;
        parse_plain(&raw)
    }

    /// Builds a short code or an E.164 number from parts (trusted callers only).
    pub fn kind(&self) -> NumberKind {
        self.kind
    }

    /// Short codes (emergency, 1XY, `#…`) have no E.164 form.
    pub fn is_short(&self) -> bool {
        matches!(self.kind, NumberKind::Emergency | NumberKind::Special)
    }

    /// `+81462000000`; a short code as it is.
    pub fn e164(&self) -> String {
        if self.is_short() {
            self.digits.clone()
        } else {
            format!("+{}", self.digits)
        }
    }

    /// What a Japanese carrier expects: `0462000000`, `0101212…` for other countries, a short
    /// code as it is.
    pub fn national(&self) -> String {
        if self.is_short() {
            self.digits.clone()
        } else if let Some(nsn) = self.digits.strip_prefix("81") {
            format!("0{nsn}")
        } else {
            format!("010{}", self.digits)
        }
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164())
    }
}

impl Dialled {
    /// Parses what a user dialled: an optional 184/186 prefix, then a number.
    pub fn parse(input: &str) -> Result<Dialled, NumberError> {
        let raw = strip_uri(input)?;
        for (prefix, presentation) in [
            ("184", Presentation::Withhold),
            ("186", Presentation::Present),
        ] {
            if let Some(rest) = raw.strip_prefix(prefix).filter(|r| !r.is_empty()) {
                return Ok(Dialled {
                    number: parse_plain(rest)?,
                    presentation,
                });
            }
        }
        Ok(Dialled {
            number: parse_plain(&raw)?,
            presentation: Presentation::Default,
        })
    }
}

/// The user part of a `sip:` URI or the number of a `tel:` URI, without visual separators
/// (`-`, `.`, `(`, `)`, spaces) and parameters; a bare number as it is, minus separators.
fn strip_uri(input: &str) -> Result<String, NumberError> {
    let s = input.trim().trim_start_matches('<').trim_end_matches('>');
    let lower = s.get(..5).map(str::to_ascii_lowercase).unwrap_or_default();
    let body = if lower.starts_with("tel:") {
        let rest = &s[4..];
        rest.split(';').next().unwrap_or("")
    } else if lower.starts_with("sip:") || lower.starts_with("sips:") {
        let rest = &s[s.find(':').map_or(0, |i| i + 1)..];
        let Some((user, _host)) = rest.split_once('@') else {
            return Err(NumberError::BadUri);
        };
        // user=phone style: `sip:+81-46-200-0000;isub=1@host`.
        user.split(';').next().unwrap_or("")
    } else {
        s
    };
    let decoded = body.replace("%23", "#");
    let cleaned: String = decoded
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    if cleaned.is_empty() {
        return Err(NumberError::Empty);
    }
    Ok(cleaned)
}

fn all_digits(s: &str) -> Result<(), NumberError> {
    match s.chars().find(|c| !c.is_ascii_digit()) {
        Some(c) => Err(NumberError::BadCharacter(c)),
        None => Ok(()),
    }
}

fn parse_plain(s: &str) -> Result<PhoneNumber, NumberError> {
    if s.is_empty() {
        return Err(NumberError::Empty);
    }
    if let Some(code) = s.strip_prefix('#') {
        all_digits(code)?;
        if code.len() != 4 {
            return Err(NumberError::BadLength {
                kind: "#",
                expected: 4,
                got: code.len(),
            });
        }
        return Ok(PhoneNumber {
            kind: NumberKind::Special,
            digits: s.to_string(),
        });
    }
    if let Some(e164) = s.strip_prefix('+') {
        all_digits(e164)?;
        return from_e164(e164);
    }
    all_digits(s)?;
    if let Some(intl) = s.strip_prefix("010") {
        return international(intl);
    }
    if s.starts_with("00") {
        return Err(NumberError::CarrierPrefix);
    }
    if let Some(nsn) = s.strip_prefix('0') {
        return national(nsn);
    }
    if s.starts_with("81") && s.len() >= 11 {
        // E.164 without the `+`, as some carriers send it.
        return from_e164(s);
    }
    if s.len() == 3 && s.starts_with('1') {
        let kind = match s {
            "110" | "118" | "119" => NumberKind::Emergency,
            _ => NumberKind::Special,
        };
        return Ok(PhoneNumber {
            kind,
            digits: s.to_string(),
        });
    }
    Err(NumberError::UnknownRange(s.chars().take(4).collect()))
}

/// `+CC…` digits (without the plus).
fn from_e164(digits: &str) -> Result<PhoneNumber, NumberError> {
    match digits.strip_prefix("81") {
        Some(nsn) => {
            if nsn.starts_with('0') {
                // +81 0… : the trunk prefix must be dropped in E.164.
                return Err(NumberError::UnknownRange(format!("+81{}", &nsn[..1])));
            }
            national(nsn)
        }
        None => international(digits),
    }
}

fn international(digits: &str) -> Result<PhoneNumber, NumberError> {
    all_digits(digits)?;
    // E.164: at most 15 digits; the shortest real numbers (CC + subscriber) have about 7.
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(NumberError::BadInternational(digits.len()));
    }
    Ok(PhoneNumber {
        kind: NumberKind::International,
        digits: digits.to_string(),
    })
}

/// A national significant number (the digits after the trunk prefix 0).
fn national(nsn: &str) -> Result<PhoneNumber, NumberError> {
    let full = nsn.len() + 1; // with the leading 0, as Japanese lengths are counted
    let (kind, expected) = if nsn.starts_with("120") {
        (NumberKind::TollFree, 10)
    } else if nsn.starts_with("800") {
        (NumberKind::TollFree, 11)
    } else if nsn.starts_with("570") {
        (NumberKind::Navi, 10)
    } else if nsn.starts_with("990") || nsn.starts_with("180") {
        (NumberKind::Premium, 10)
    } else if ["70", "80", "90", "20"].iter().any(|p| nsn.starts_with(p)) {
        (NumberKind::Mobile, 11)
    } else if nsn.starts_with("50") {
        (NumberKind::Ip, 11)
    } else if nsn.starts_with('0') {
        return Err(NumberError::CarrierPrefix);
    } else if nsn.starts_with("60") {
        // 060 (FMC) is allocated to nobody in use; refuse rather than guess.
        return Err(NumberError::UnknownRange(format!("0{}", &nsn[..2])));
    } else if nsn.is_empty() {
        return Err(NumberError::Empty);
    } else {
        (NumberKind::Fixed, 10)
    };
    if full != expected {
        return Err(NumberError::BadLength {
            kind: kind.as_str(),
            expected,
            got: full,
        });
    }
    Ok(PhoneNumber {
        kind,
        digits: format!("81{nsn}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use NumberKind::*;

    /// input → (kind, E.164, national)
    const GOOD: &[(&str, NumberKind, &str, &str)] = &[
        ("0462000000", Fixed, "+81462000000", "0462000000"),
        ("+81462000000", Fixed, "+81462000000", "0462000000"),
        ("81462000000", Fixed, "+81462000000", "0462000000"),
        ("046-200-0000", Fixed, "+81462000000", "0462000000"),
        ("tel:+81-46-200-0000", Fixed, "+81462000000", "0462000000"),
        (
            "tel:0462000000;phone-context=+81",
            Fixed,
            "+81462000000",
            "0462000000",
        ),
        (
            "sip:0462000000@127.0.0.1:5080",
            Fixed,
            "+81462000000",
            "0462000000",
        ),
        (
            "<sip:+81462000000@carrier.example;user=phone>",
            Fixed,
            "+81462000000",
            "0462000000",
        ),
        ("0312345678", Fixed, "+81312345678", "0312345678"),
        ("0112345678", Fixed, "+81112345678", "0112345678"),
        ("09012345678", Mobile, "+819012345678", "09012345678"),
        ("080-1234-5678", Mobile, "+818012345678", "08012345678"),
        ("07012345678", Mobile, "+817012345678", "07012345678"),
        ("02012345678", Mobile, "+812012345678", "02012345678"),
        ("05012345678", Ip, "+815012345678", "05012345678"),
        ("0120123456", TollFree, "+81120123456", "0120123456"),
        ("08001234567", TollFree, "+818001234567", "08001234567"),
        ("0570123456", Navi, "+81570123456", "0570123456"),
        ("0990123456", Premium, "+81990123456", "0990123456"),
        ("0180123456", Premium, "+81180123456", "0180123456"),
        ("110", Emergency, "110", "110"),
        ("118", Emergency, "118", "118"),
        ("119", Emergency, "119", "119"),
        ("171", Special, "171", "171"),
        ("#7119", Special, "#7119", "#7119"),
        ("sip:%237119@host", Special, "#7119", "#7119"),
        (
            "0101212555010",
            International,
            "+1212555010",
            "0101212555010",
        ),
        (
            "+14155550100",
            International,
            "+14155550100",
            "01014155550100",
        ),
        (
            "+442079460000",
            International,
            "+442079460000",
            "010442079460000",
        ),
    ];

    #[test]
    fn table_of_japanese_numbers() {
        for (input, kind, e164, national) in GOOD {
            let n = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.kind(), *kind, "{input}");
            assert_eq!(n.e164(), *e164, "{input}");
            assert_eq!(n.national(), *national, "{input}");
            // The national form parses back to the same number.
            assert_eq!(PhoneNumber::parse(&n.national()).unwrap(), n, "{input}");
        }
    }

    const BAD: &[&str] = &[
        "",
        "   ",
        "046200000",     // 9 digits
        "04620000000",   // 11 digits for a fixed number
        "0901234567",    // 10 digits for a mobile number
        "050123456789",  // 12
        "012012345",     // toll free, 9 digits
        "0800123456",    // 0800 needs 11
        "+810462000000", // trunk prefix inside E.164
        "+81",
        "0033010112345678", // carrier selection
        "00",
        "06012345678",
        "12",
        "1234",
        "#71",
        "046200000a",
        "+1-800-FLOWERS",
        "010123",
        "0100462000000",
        "sip:host.example",
        "tel:",
        "abc",
        "9999",
    ];

    #[test]
    fn malformed_numbers_are_refused() {
        for input in BAD {
            assert!(
                PhoneNumber::parse(input).is_err(),
                "{input:?} should be refused, got {:?}",
                PhoneNumber::parse(input)
            );
            assert!(Dialled::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn presentation_prefixes() {
        let d = Dialled::parse("18409012345678").unwrap();
        assert_eq!(d.presentation, Presentation::Withhold);
        assert_eq!(d.number.national(), "09012345678");
        let d = Dialled::parse("1860462000000").unwrap();
        assert_eq!(d.presentation, Presentation::Present);
        assert_eq!(d.number.kind(), Fixed);
        let d = Dialled::parse("184110").unwrap();
        assert_eq!(d.presentation, Presentation::Withhold);
        assert_eq!(d.number.kind(), Emergency);
        let d = Dialled::parse("sip:184010442079460000@pbx").unwrap();
        assert_eq!(d.number.kind(), International);
        // 184 alone is a short code of its own, not a prefix.
        let d = Dialled::parse("184").unwrap();
        assert_eq!(d.presentation, Presentation::Default);
        assert_eq!(d.number.kind(), Special);
        assert!(Dialled::parse("184046").is_err());
        assert_eq!(
            Dialled::parse("0462000000").unwrap().presentation,
            Presentation::Default
        );
    }

    #[test]
    fn errors_say_why() {
        assert_eq!(
            PhoneNumber::parse("0901234567").unwrap_err().to_string(),
            "a mobile number has 11 digits, this one has 10"
        );
        assert_eq!(
            PhoneNumber::parse("00330101").unwrap_err(),
            NumberError::CarrierPrefix
        );
    }
}
