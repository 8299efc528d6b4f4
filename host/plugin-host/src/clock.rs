//! The clock plugins see. Plugins never read the host's clock themselves: the
//! runtime hands them this one, so tests can fix the time and deployments
//! can choose the time zone (Asia/Tokyo by default; Japan has no DST, so a
//! fixed UTC offset is exact).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::bindings::types::LocalDatetime;

/// UTC offset of Asia/Tokyo in seconds.
pub const JST_OFFSET_SECS: i32 = 9 * 3600;

/// A source of "now" in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_unix_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to, for tests and scripted runs.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicU64);

impl FixedClock {
    pub fn new(unix_ms: u64) -> Self {
        Self(AtomicU64::new(unix_ms))
    }
    /// A fixed clock at the given local time in the given UTC offset.
    /// Returns `None` for an impossible date.
    pub fn at_local(dt: LocalDatetime, utc_offset_secs: i32) -> Option<Self> {
        Some(Self::new(local_to_unix_ms(dt, utc_offset_secs)?))
    }
    pub fn set(&self, unix_ms: u64) {
        self.0.store(unix_ms, Ordering::Relaxed);
    }
}

impl Clock for FixedClock {
    fn now_unix_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Local date-time of `unix_ms` at `utc_offset_secs`.
pub fn unix_ms_to_local(unix_ms: u64, utc_offset_secs: i32) -> LocalDatetime {
    let offset =
        time::UtcOffset::from_whole_seconds(utc_offset_secs).unwrap_or(time::UtcOffset::UTC);
    let secs = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX);
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    LocalDatetime {
        year: t.year(),
        month: u8::from(t.month()),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
        second: t.second(),
    }
}

/// Unix milliseconds of a local date-time at `utc_offset_secs`; `None` if the
/// date-time does not exist or is before 1970.
pub fn local_to_unix_ms(dt: LocalDatetime, utc_offset_secs: i32) -> Option<u64> {
    let offset = time::UtcOffset::from_whole_seconds(utc_offset_secs).ok()?;
    let date =
        time::Date::from_calendar_date(dt.year, time::Month::try_from(dt.month).ok()?, dt.day)
            .ok()?;
    let tod = time::Time::from_hms(dt.hour, dt.minute, dt.second).ok()?;
    let ts = time::PrimitiveDateTime::new(date, tod)
        .assume_offset(offset)
        .unix_timestamp();
    u64::try_from(ts).ok()?.checked_mul(1000)
}

/// Parse `YYYY-MM-DDTHH:MM[:SS]` (local time, no zone).
pub fn parse_local(s: &str) -> Option<LocalDatetime> {
    let (date, tod) = s.trim().split_once(['T', ' '])?;
    let mut d = date.split('-');
    let year = d.next()?.parse().ok()?;
    let month = d.next()?.parse().ok()?;
    let day = d.next()?.parse().ok()?;
    let mut t = tod.split(':');
    let hour = t.next()?.parse().ok()?;
    let minute = t.next()?.parse().ok()?;
    let second = t.next().map(str::parse).transpose().ok()?.unwrap_or(0);
    let dt = LocalDatetime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    };
    // Round-trip through `time` to reject 2026-02-30 and 25:00.
    local_to_unix_ms(dt, 0).map(|_| dt)
}

/// Format as `YYYY-MM-DDTHH:MM:SS`.
pub fn format_local(dt: &LocalDatetime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_round_trip() {
        let dt = parse_local("2026-12-29T08:30:00").unwrap();
        let ms = local_to_unix_ms(dt, JST_OFFSET_SECS).unwrap();
        // 2026-12-28T23:30:00Z
        assert_eq!(ms, 1_798_500_600_000);
        assert_eq!(unix_ms_to_local(ms, JST_OFFSET_SECS), dt);
        assert_eq!(format_local(&dt), "2026-12-29T08:30:00");
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(parse_local("2026-02-30T10:00").is_none());
        assert!(parse_local("2026-01-01T25:00").is_none());
        assert!(parse_local("garbage").is_none());
    }
}
