//! Times shown to people: RFC 3339 in Japan time (the city's clock), e.g.
//! `2027-01-04T10:00:00+09:00`.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

/// Unix seconds → `2027-01-04T10:00:00+09:00`.
pub fn rfc3339_jst(unix_secs: u64) -> String {
    rfc3339_jst_ms(unix_secs.saturating_mul(1000))
}

/// Unix milliseconds → `2027-01-04T10:00:00.123+09:00` (no fraction when it is zero).
pub fn rfc3339_jst_ms(unix_ms: u64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(|t| t.to_offset(JST))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_ms.to_string())
}

/// `2027-01-04T10:00:00+09:00` (any offset) → Unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japan_time() {
        assert_eq!(rfc3339_jst(0), "1970-01-01T09:00:00+09:00");
        assert_eq!(rfc3339_jst_ms(1_500), "1970-01-01T09:00:01.5+09:00");
        assert_eq!(parse_rfc3339_ms("1970-01-01T09:00:01+09:00"), Some(1_000));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
