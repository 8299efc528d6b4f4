//! Proleptic Gregorian dates and local wall-clock times, without a date crate.
//!
//! Day arithmetic goes through a day count since 1970-01-01 using Howard
//! Hinnant's `days_from_civil` / `civil_from_days`, which are exact for the
//! whole supported range (years 1..=9999) and need no tables.

use std::fmt;
use std::str::FromStr;

/// Smallest supported year (keeps `Display` to four digits).
pub const MIN_YEAR: i32 = 1;
/// Largest supported year.
pub const MAX_YEAR: i32 = 9999;

/// Why a date or time could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// The year is outside `MIN_YEAR..=MAX_YEAR`.
    #[error("year {0} is outside 1..=9999")]
    YearOutOfRange(i64),
    /// The month is not 1..=12.
    #[error("month {0} is not 1..=12")]
    BadMonth(u8),
    /// The day does not exist in that month (e.g. February 30).
    #[error("day {day} does not exist in {year:04}-{month:02}")]
    BadDay {
        /// Year of the rejected date.
        year: i32,
        /// Month of the rejected date.
        month: u8,
        /// The rejected day of month.
        day: u8,
    },
    /// Hour, minute or second out of range (hour 0..=23, minute and second 0..=59).
    #[error("time {hour:02}:{minute:02}:{second:02} is not a valid wall-clock time")]
    BadTime {
        /// Rejected hour.
        hour: u8,
        /// Rejected minute.
        minute: u8,
        /// Rejected second.
        second: u8,
    },
    /// Text was not of the form `YYYY-MM-DD` (or `YYYY-MM-DDTHH:MM[:SS]`).
    #[error("cannot parse {0:?} as a date (expected YYYY-MM-DD)")]
    Syntax(String),
}

/// Day of the week, Monday first (ISO 8601 order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// 月曜日
    Monday,
    /// 火曜日
    Tuesday,
    /// 水曜日
    Wednesday,
    /// 木曜日
    Thursday,
    /// 金曜日
    Friday,
    /// 土曜日
    Saturday,
    /// 日曜日
    Sunday,
}

impl Weekday {
    /// All weekdays, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// 0 for Monday … 6 for Sunday.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Short lowercase English key used in the JSON config (`"mon"` … `"sun"`).
    pub fn key(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self.index()]
    }

    /// Parses a config key: `mon`/`monday` … `sun`/`sunday`, case-insensitive.
    pub fn from_key(key: &str) -> Option<Weekday> {
        let k = key.trim().to_ascii_lowercase();
        Weekday::ALL
            .into_iter()
            .find(|w| k == w.key() || k == format!("{:?}", w).to_ascii_lowercase())
    }
}

/// A calendar date (proleptic Gregorian), always valid once built.
///
/// Ordering is chronological.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1..=12) of `year`; 0 for a bad month.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// Builds a date, rejecting impossible ones (month 13, February 30, year 0).
    pub fn new(year: i32, month: u8, day: u8) -> Result<Date, DateError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(DateError::YearOutOfRange(year.into()));
        }
        if !(1..=12).contains(&month) {
            return Err(DateError::BadMonth(month));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(DateError::BadDay { year, month, day });
        }
        Ok(Date { year, month, day })
    }

    /// Year (e.g. 2026).
    pub fn year(self) -> i32 {
        self.year
    }

    /// Month, 1..=12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// Day of month, 1..=31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(self.year.into(), self.month.into(), self.day.into())
    }

    /// Inverse of [`Date::days_since_epoch`]; fails outside years 1..=9999.
    pub fn from_days_since_epoch(days: i64) -> Result<Date, DateError> {
        // Bound first so the arithmetic below cannot overflow.
        const LO: i64 = -719_162; // 0001-01-01
        const HI: i64 = 2_932_896; // 9999-12-31
        if !(LO..=HI).contains(&days) {
            return Err(DateError::YearOutOfRange(if days < LO {
                0
            } else {
                10_000
            }));
        }
        let (y, m, d) = civil_from_days(days);
        // In range by the bound check, so the conversions cannot truncate.
        Date::new(y as i32, m as u8, d as u8)
    }

    /// The date `n` days later (earlier if negative), or `None` past year 9999 / before year 1.
    pub fn checked_add_days(self, n: i64) -> Option<Date> {
        Date::from_days_since_epoch(self.days_since_epoch().checked_add(n)?).ok()
    }

    /// The following day, or `None` after 9999-12-31.
    pub fn next_day(self) -> Option<Date> {
        self.checked_add_days(1)
    }

    /// The previous day, or `None` before 0001-01-01.
    pub fn prev_day(self) -> Option<Date> {
        self.checked_add_days(-1)
    }

    /// Day of the week.
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday (index 3).
        Weekday::ALL[(self.days_since_epoch() + 3).rem_euclid(7) as usize]
    }

    /// The `n`-th (1-based) given weekday of a month, e.g. the 2nd Monday of
    /// January for 成人の日. `None` if the month has no such day.
    pub fn nth_weekday(year: i32, month: u8, weekday: Weekday, n: u8) -> Option<Date> {
        let first = Date::new(year, month, 1).ok()?;
        let offset = (weekday.index() + 7 - first.weekday().index()) % 7;
        let day = 1 + offset as u32 + 7 * (u32::from(n).checked_sub(1)?);
        let day = u8::try_from(day).ok()?;
        Date::new(year, month, day).ok()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl FromStr for Date {
    type Err = DateError;

    /// Parses `YYYY-MM-DD` (month and day may have one digit).
    fn from_str(s: &str) -> Result<Date, DateError> {
        parse_ymd(s, '-').ok_or_else(|| DateError::Syntax(s.to_owned()))?
    }
}

/// Splits `Y<sep>M<sep>D` into numbers and validates; `None` on a syntax error.
pub(crate) fn parse_ymd(s: &str, sep: char) -> Option<Result<Date, DateError>> {
    let mut parts = s.trim().split(sep);
    let y = parts.next()?;
    let m = parts.next()?;
    let d = parts.next()?;
    if parts.next().is_some() || y.len() != 4 || !(1..=2).contains(&m.len()) {
        return None;
    }
    if !(1..=2).contains(&d.len()) {
        return None;
    }
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(y) && all_digits(m) && all_digits(d)) {
        return None;
    }
    Some(Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A local wall-clock date-time (no zone attached: the caller has already
/// applied the configured offset, Asia/Tokyo = +09:00 by default).
///
/// Ordering is chronological.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
}

/// Japan Standard Time offset in minutes (UTC+09:00, no daylight saving).
pub const JST_OFFSET_MINUTES: i32 = 9 * 60;

impl LocalDateTime {
    /// Builds a date-time; hour 0..=23, minute and second 0..=59.
    pub fn new(date: Date, hour: u8, minute: u8, second: u8) -> Result<LocalDateTime, DateError> {
        if hour > 23 || minute > 59 || second > 59 {
            return Err(DateError::BadTime {
                hour,
                minute,
                second,
            });
        }
        Ok(LocalDateTime {
            date,
            hour,
            minute,
            second,
        })
    }

    /// Midnight at the start of `date`.
    pub fn start_of(date: Date) -> LocalDateTime {
        LocalDateTime {
            date,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }

    /// Converts a Unix timestamp to local time at a fixed UTC offset in
    /// minutes (use [`JST_OFFSET_MINUTES`] for Japan). Fails only outside
    /// years 1..=9999.
    pub fn from_unix_seconds(
        secs: i64,
        utc_offset_minutes: i32,
    ) -> Result<LocalDateTime, DateError> {
        let local = secs
            .checked_add(i64::from(utc_offset_minutes) * 60)
            .ok_or(DateError::YearOutOfRange(i64::MAX))?;
        let date = Date::from_days_since_epoch(local.div_euclid(86_400))?;
        let sod = local.rem_euclid(86_400);
        // sod < 86400, so each component fits in u8.
        Ok(LocalDateTime {
            date,
            hour: (sod / 3600) as u8,
            minute: (sod / 60 % 60) as u8,
            second: (sod % 60) as u8,
        })
    }

    /// Inverse of [`LocalDateTime::from_unix_seconds`].
    pub fn to_unix_seconds(self, utc_offset_minutes: i32) -> i64 {
        self.date.days_since_epoch() * 86_400 + i64::from(self.seconds_of_day())
            - i64::from(utc_offset_minutes) * 60
    }

    /// The calendar date.
    pub fn date(self) -> Date {
        self.date
    }

    /// Hour, 0..=23.
    pub fn hour(self) -> u8 {
        self.hour
    }

    /// Minute, 0..=59.
    pub fn minute(self) -> u8 {
        self.minute
    }

    /// Second, 0..=59.
    pub fn second(self) -> u8 {
        self.second
    }

    /// Seconds since local midnight, 0..86400.
    pub fn seconds_of_day(self) -> u32 {
        u32::from(self.hour) * 3600 + u32::from(self.minute) * 60 + u32::from(self.second)
    }

    /// `date` at `minutes` after midnight; 1440 rolls to the next day's 00:00.
    /// `None` past year 9999.
    pub(crate) fn at_minute(date: Date, minutes: u16) -> Option<LocalDateTime> {
        if minutes >= 1440 {
            return Some(LocalDateTime::start_of(date.next_day()?));
        }
        Some(LocalDateTime {
            date,
            hour: (minutes / 60) as u8,
            minute: (minutes % 60) as u8,
            second: 0,
        })
    }
}

impl fmt::Display for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )
    }
}

impl fmt::Debug for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalDateTime({self})")
    }
}

impl FromStr for LocalDateTime {
    type Err = DateError;

    /// Parses `YYYY-MM-DDTHH:MM[:SS]` (a space may replace the `T`).
    fn from_str(s: &str) -> Result<LocalDateTime, DateError> {
        let syntax = || DateError::Syntax(s.to_owned());
        let (d, t) = s.trim().split_once(['T', ' ']).ok_or_else(syntax)?;
        let date: Date = d.parse()?;
        let mut it = t.split(':');
        let mut num = |required: bool| -> Result<u8, DateError> {
            match it.next() {
                Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| syntax())
                }
                None if !required => Ok(0),
                _ => Err(syntax()),
            }
        };
        let (h, m, sec) = (num(true)?, num(true)?, num(false)?);
        if it.next().is_some() {
            return Err(syntax());
        }
        LocalDateTime::new(date, h, m, sec)
    }
}

impl serde::Serialize for LocalDateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for LocalDateTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LocalDateTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, dd: u8) -> Date {
        Date::new(y, m, dd).unwrap()
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(Date::new(2026, 2, 29).is_err());
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(1900, 2, 29).is_err());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert!(Date::new(2026, 13, 1).is_err());
        assert!(Date::new(2026, 4, 31).is_err());
        assert!(Date::new(0, 1, 1).is_err());
        assert!(Date::new(10_000, 1, 1).is_err());
    }

    #[test]
    fn epoch_round_trip_over_whole_range() {
        assert_eq!(d(1970, 1, 1).days_since_epoch(), 0);
        let mut cur = d(1, 1, 1);
        let mut n = cur.days_since_epoch();
        // Walk every 97th day across the range to keep the test fast but dense.
        while let Some(next) = cur.checked_add_days(97) {
            n += 97;
            assert_eq!(next.days_since_epoch(), n);
            assert_eq!(Date::from_days_since_epoch(n).unwrap(), next);
            assert!(next > cur);
            cur = next;
        }
        assert!(d(9999, 12, 31).next_day().is_none());
        assert!(d(1, 1, 1).prev_day().is_none());
    }

    #[test]
    fn weekdays_known() {
        assert_eq!(d(1970, 1, 1).weekday(), Weekday::Thursday);
        assert_eq!(d(2026, 11, 25).weekday(), Weekday::Wednesday);
        assert_eq!(d(2027, 1, 4).weekday(), Weekday::Monday);
        assert_eq!(d(1948, 7, 20).weekday(), Weekday::Tuesday);
        assert_eq!(d(2000, 2, 29).weekday(), Weekday::Tuesday);
    }

    #[test]
    fn nth_weekday() {
        assert_eq!(
            Date::nth_weekday(2026, 1, Weekday::Monday, 2),
            Some(d(2026, 1, 12))
        );
        assert_eq!(
            Date::nth_weekday(2026, 9, Weekday::Monday, 3),
            Some(d(2026, 9, 21))
        );
        assert_eq!(Date::nth_weekday(2026, 2, Weekday::Monday, 5), None);
        assert_eq!(Date::nth_weekday(2026, 2, Weekday::Monday, 0), None);
    }

    #[test]
    fn parse_and_display() {
        assert_eq!("2026-11-23".parse::<Date>().unwrap(), d(2026, 11, 23));
        assert_eq!("2026-1-3".parse::<Date>().unwrap(), d(2026, 1, 3));
        assert!("2026-02-30".parse::<Date>().is_err());
        assert!("26-02-01".parse::<Date>().is_err());
        assert!("2026-02-01x".parse::<Date>().is_err());
        assert!("+026-02-01".parse::<Date>().is_err());
        assert_eq!(d(2026, 1, 3).to_string(), "2026-01-03");
        let t: LocalDateTime = "2026-11-23T08:30".parse().unwrap();
        assert_eq!(t.to_string(), "2026-11-23T08:30:00");
        assert!("2026-11-23T24:00".parse::<LocalDateTime>().is_err());
        assert!("2026-11-23T8:30".parse::<LocalDateTime>().is_err());
    }

    #[test]
    fn unix_seconds_with_offset() {
        // 2026-11-24T15:00:00Z is 2026-11-25T00:00:00+09:00.
        let t = LocalDateTime::from_unix_seconds(1_795_532_400, JST_OFFSET_MINUTES).unwrap();
        assert_eq!(t.to_string(), "2026-11-25T00:00:00");
        assert_eq!(t.to_unix_seconds(JST_OFFSET_MINUTES), 1_795_532_400);
        let t = LocalDateTime::from_unix_seconds(-1, 0).unwrap();
        assert_eq!(t.to_string(), "1969-12-31T23:59:59");
        assert!(LocalDateTime::from_unix_seconds(i64::MAX, 540).is_err());
        assert!(LocalDateTime::from_unix_seconds(i64::MIN, -540).is_err());
    }

    #[test]
    fn weekday_keys() {
        assert_eq!(Weekday::from_key("Mon"), Some(Weekday::Monday));
        assert_eq!(Weekday::from_key("sunday"), Some(Weekday::Sunday));
        assert_eq!(Weekday::from_key("mo"), None);
    }
}
