//! Japan time for the API's query parameters and answers (Asia/Tokyo: +09:00 all year, no
//! daylight saving).

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{OffsetDateTime, UtcOffset};

use super::error::ApiError;

/// +09:00.
pub const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("+09:00 is a valid offset"),
};

/// A query bound as Unix ms: a date `2027-01-04` (the start of that day in Japan; with
/// `end`, the start of the next, so `to=2027-01-04` includes the whole day) or an RFC 3339
/// instant. `param` names the parameter in the error.
pub fn parse_bound(param: &str, s: &str, end: bool) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{param}={s:?} is neither a date such as 2027-01-04 nor a time such as \
             2027-01-04T09:00:00+09:00"
        ))
    };
    let s = s.trim();
    let dt = if s.len() == 10 {
        let d = time::Date::parse(s, &Iso8601::DATE).map_err(|_| bad())?;
        let start = d.midnight().assume_offset(JST);
        if end {
            start + time::Duration::DAY
        } else {
            start
        }
    } else {
        OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?
    };
    u64::try_from(dt.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

/// Unix ms as RFC 3339 in Japan time, `2027-01-04T10:15:00+09:00` (ms only when not zero).
pub fn format_ms(ms: u64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(JST);
    let t = if ms.is_multiple_of(1000) {
        t
    } else {
        t.replace_millisecond((ms % 1000) as u16).unwrap_or(t)
    };
    t.format(&Rfc3339).unwrap_or_default()
}

/// `20270104-101500` (Japan time), for file names.
#[allow(dead_code)] // the recordings' download names (next step)
pub fn compact(unix_s: u64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix_s as i64)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(JST);
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants() {
        // 2027-01-04T00:00:00+09:00 = 2027-01-03T15:00:00Z.
        let start = parse_bound("from", "2027-01-04", false).unwrap();
        assert_eq!(format_ms(start), "2027-01-04T00:00:00+09:00");
        assert_eq!(
            parse_bound("to", "2027-01-04", true).unwrap(),
            start + 86_400_000
        );
        assert_eq!(
            parse_bound("from", "2027-01-03T15:00:00Z", false).unwrap(),
            start
        );
        assert!(parse_bound("from", "yesterday", false)
            .unwrap_err()
            .message
            .contains("from=\"yesterday\""));
        assert_eq!(format_ms(start + 1500), "2027-01-04T00:00:01.5+09:00");
        assert_eq!(
            compact(start / 1000 + 10 * 3600 + 15 * 60),
            "20270104-101500"
        );
    }
}
