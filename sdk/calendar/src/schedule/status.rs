//! Deciding open/closed for one day and searching forward for the next opening.
//!
//! Precedence for a day, highest first:
//! special opening > one-off closure > year-end closure > national holiday >
//! weekly hours.

use super::compile::Compiled;
use super::hours::{TimeRange, DAY_MINUTES};
use crate::date::{Date, LocalDateTime};
use crate::overrides::HolidayOverrides;

/// How far [`crate::Schedule::status`] looks ahead for the next opening.
pub const NEXT_OPEN_HORIZON_DAYS: i64 = 400;

/// Open, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", content = "name", rename_all = "snake_case")]
#[non_exhaustive]
pub enum State {
    /// Within opening hours (regular or special opening).
    Open,
    /// Outside that day's opening hours (including a weekday with none).
    Closed,
    /// Closed all day for a national holiday; the name as in the Cabinet
    /// Office list (or the override), e.g. `勤労感謝の日`, `休日`.
    Holiday(String),
    /// Closed all day by a one-off closure; its configured name.
    SpecialClosure(String),
    /// Closed all day for the year-end closure (年末年始, 12/29-1/3).
    YearEnd,
}

impl State {
    /// Whether this is [`State::Open`].
    pub fn is_open(&self) -> bool {
        matches!(self, State::Open)
    }
}

/// Answer of [`crate::Schedule::status`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Open, or why not.
    pub state: State,
    /// When closed: the next moment it opens, within
    /// [`NEXT_OPEN_HORIZON_DAYS`] days; `None` if it does not open in that
    /// window. Always `None` when open.
    pub next_open: Option<LocalDateTime>,
    /// When open: when this opening ends (touching ranges, including across
    /// midnight via `24:00`/`00:00`, are joined). Always `None` when closed.
    pub open_until: Option<LocalDateTime>,
}

/// What one day looks like for a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayHours {
    /// `Some` when the whole day is closed for a reason (holiday, closure,
    /// year-end); then `ranges` is empty.
    pub closed_reason: Option<State>,
    /// Opening ranges that day, sorted (empty when closed all day).
    pub ranges: Vec<TimeRange>,
}

/// Whether 12/29..=1/3.
fn in_year_end(d: Date) -> bool {
    (d.month() == 12 && d.day() >= 29) || (d.month() == 1 && d.day() <= 3)
}

/// The plan for `date`, applying the precedence above.
pub(crate) fn day_hours(c: &Compiled, holidays: &HolidayOverrides, date: Date) -> DayHours {
    let closed = |reason| DayHours {
        closed_reason: Some(reason),
        ranges: Vec::new(),
    };
    if let Some(r) = c.special_openings.get(&date) {
        return DayHours {
            closed_reason: None,
            ranges: r.clone(),
        };
    }
    if let Some((_, _, name)) = c
        .closures
        .iter()
        .find(|(a, b, _)| (*a..=*b).contains(&date))
    {
        return closed(State::SpecialClosure(name.clone()));
    }
    if c.year_end_closure && in_year_end(date) {
        return closed(State::YearEnd);
    }
    if c.closed_on_national_holidays {
        if let Some(name) = holidays.holiday(date) {
            return closed(State::Holiday(name.to_owned()));
        }
    }
    DayHours {
        closed_reason: None,
        ranges: c.weekly[date.weekday().index()].clone(),
    }
}

/// Status at `at`.
pub(crate) fn status(c: &Compiled, holidays: &HolidayOverrides, at: LocalDateTime) -> Status {
    let today = day_hours(c, holidays, at.date());
    let sod = at.seconds_of_day();
    if let Some(r) = today.ranges.iter().find(|r| r.contains_second(sod)) {
        return Status {
            state: State::Open,
            next_open: None,
            open_until: open_until(c, holidays, at.date(), *r),
        };
    }
    // Later today (a range starting after `at`), else the first range of a later day.
    let later_today = today
        .ranges
        .iter()
        .find(|r| u32::from(r.start_minute()) * 60 > sod)
        .and_then(|r| LocalDateTime::at_minute(at.date(), r.start_minute()));
    let next_open = later_today.or_else(|| {
        (1..=NEXT_OPEN_HORIZON_DAYS).find_map(|n| {
            let date = at.date().checked_add_days(n)?;
            let first = *day_hours(c, holidays, date).ranges.first()?;
            LocalDateTime::at_minute(date, first.start_minute())
        })
    });
    Status {
        state: today.closed_reason.unwrap_or(State::Closed),
        next_open,
        open_until: None,
    }
}

/// End of the opening that contains `range` on `date`, following touching
/// ranges and midnight hand-overs for at most the horizon.
fn open_until(
    c: &Compiled,
    holidays: &HolidayOverrides,
    mut date: Date,
    range: TimeRange,
) -> Option<LocalDateTime> {
    let mut end = range.end_minute();
    let mut ranges = day_hours(c, holidays, date).ranges;
    let mut days = 0;
    loop {
        if let Some(next) = ranges.iter().find(|r| r.start_minute() == end) {
            end = next.end_minute();
            continue;
        }
        if end < DAY_MINUTES || days >= NEXT_OPEN_HORIZON_DAYS {
            break;
        }
        let Some(tomorrow) = date.next_day() else {
            break;
        };
        let next = day_hours(c, holidays, tomorrow).ranges;
        if next.first().map(|r| r.start_minute()) != Some(0) {
            break;
        }
        date = tomorrow;
        ranges = next;
        end = 0;
        days += 1;
    }
    LocalDateTime::at_minute(date, end)
}
