//! Opening-hour ranges such as `08:30-17:15`.

use std::fmt;

/// A half-open span of local time within one day: open from `start`
/// (inclusive) to `end` (exclusive), so `08:30-17:15` is open at 08:30:00 and
/// closed at 17:15:00. `end` may be `24:00` (midnight at the end of the day).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

/// Why a range string was rejected (wrapped into a config error with its field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RangeError {
    /// Not `HH:MM-HH:MM`, or an hour/minute out of range.
    Syntax,
    /// `end` is not after `start`.
    EndNotAfterStart,
}

/// Minutes in a day; the largest valid `end`.
pub(crate) const DAY_MINUTES: u16 = 24 * 60;

impl TimeRange {
    /// Builds a range from minutes after midnight; `None` unless
    /// `start < end <= 1440`.
    pub fn from_minutes(start: u16, end: u16) -> Option<TimeRange> {
        (start < end && end <= DAY_MINUTES).then_some(TimeRange { start, end })
    }

    /// Opening time, minutes after midnight.
    pub fn start_minute(self) -> u16 {
        self.start
    }

    /// Closing time (exclusive), minutes after midnight; 1440 = 24:00.
    pub fn end_minute(self) -> u16 {
        self.end
    }

    /// Whether second-of-day `sod` falls inside the range.
    pub fn contains_second(self, sod: u32) -> bool {
        u32::from(self.start) * 60 <= sod && sod < u32::from(self.end) * 60
    }

    /// Whether the two ranges share any instant (touching ends do not).
    pub fn overlaps(self, other: TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Parses `HH:MM-HH:MM` (hours may have one digit; `–`, `~` or `〜` may
    /// replace `-`; spaces around the separator are allowed).
    pub(crate) fn parse(s: &str) -> Result<TimeRange, RangeError> {
        let (a, b) = s
            .split_once(['-', '–', '~', '〜'])
            .ok_or(RangeError::Syntax)?;
        let start = parse_hm(a.trim(), false).ok_or(RangeError::Syntax)?;
        let end = parse_hm(b.trim(), true).ok_or(RangeError::Syntax)?;
        TimeRange::from_minutes(start, end).ok_or(RangeError::EndNotAfterStart)
    }
}

/// `H:MM` or `HH:MM` to minutes; `24:00` only when `allow_24` (an end time).
fn parse_hm(s: &str, allow_24: bool) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(h) && digits(m)) || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if allow_24 => Some(DAY_MINUTES),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

impl fmt::Debug for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeRange({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let r = TimeRange::parse("08:30-17:15").unwrap();
        assert_eq!((r.start_minute(), r.end_minute()), (510, 1035));
        assert_eq!(r.to_string(), "08:30-17:15");
        assert_eq!(
            TimeRange::parse("9:00 〜 18:00").unwrap().to_string(),
            "09:00-18:00"
        );
        assert_eq!(TimeRange::parse("00:00-24:00").unwrap().end_minute(), 1440);
    }

    #[test]
    fn rejects_bad_ranges() {
        for bad in [
            "",
            "08:30",
            "8-17",
            "08:60-09:00",
            "24:00-24:00",
            "08:30-25:00",
            "a:bc-12:00",
            "08:30-17:15-18:00",
            "008:30-09:00",
        ] {
            assert_eq!(TimeRange::parse(bad), Err(RangeError::Syntax), "{bad}");
        }
        assert_eq!(
            TimeRange::parse("17:15-08:30"),
            Err(RangeError::EndNotAfterStart)
        );
        assert_eq!(
            TimeRange::parse("08:30-08:30"),
            Err(RangeError::EndNotAfterStart)
        );
    }

    #[test]
    fn half_open() {
        let r = TimeRange::parse("08:30-17:15").unwrap();
        assert!(!r.contains_second(510 * 60 - 1));
        assert!(r.contains_second(510 * 60));
        assert!(r.contains_second(1035 * 60 - 1));
        assert!(!r.contains_second(1035 * 60));
        let touching = TimeRange::parse("17:15-18:00").unwrap();
        assert!(!r.overlaps(touching));
        assert!(r.overlaps(TimeRange::parse("17:00-18:00").unwrap()));
    }
}
