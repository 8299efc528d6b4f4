//! Validation: turns a [`Destination`] as written into checked, typed rules,
//! collecting every problem with the destination and field it came from.

use std::collections::BTreeMap;
use std::fmt;

use super::config::{Destination, Schedule};
use super::hours::{RangeError, TimeRange};
use crate::date::{Date, DateError, Weekday};

/// One problem in a schedule configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {problem}", match destination { Some(d) => format!("destination {d:?}, "), None => String::new() })]
pub struct ConfigError {
    /// The destination id, or `None` for schedule-wide fields.
    pub destination: Option<String>,
    /// The field path, e.g. `weekly.mon[1]` or `closures[0].until`.
    pub field: String,
    /// What is wrong.
    pub problem: ConfigProblem,
}

/// What is wrong with a configuration field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// A `weekly` key is not a weekday name.
    #[error("unknown weekday {0:?} (use mon, tue, wed, thu, fri, sat, sun)")]
    UnknownWeekday(String),
    /// Two `weekly` keys name the same day (e.g. `mon` and `monday`).
    #[error("{0:?} is listed twice")]
    DuplicateWeekday(Weekday),
    /// A time range is not `HH:MM-HH:MM` with a valid time on each side.
    #[error("bad time range {0:?} (expected HH:MM-HH:MM, 00:00 to 24:00)")]
    BadTime(String),
    /// A time range ends before (or when) it starts; ranges cannot cross midnight.
    #[error("range {0:?} ends before it starts (split ranges that cross midnight at 24:00)")]
    EndBeforeStart(String),
    /// Two ranges of the same day overlap.
    #[error("range {0} overlaps {1}")]
    Overlap(TimeRange, TimeRange),
    /// A date field is not a valid `YYYY-MM-DD` date.
    #[error("{0}")]
    BadDate(DateError),
    /// A closure's `until` is before its `date`.
    #[error("closure ends on {until}, before it starts on {date}")]
    ClosureEndsBeforeStart {
        /// First day.
        date: Date,
        /// Last day as given.
        until: Date,
    },
    /// A name is empty.
    #[error("name must not be empty")]
    EmptyName,
    /// A special opening lists no hours.
    #[error("a special opening needs at least one range of hours")]
    NoHours,
    /// Two special openings are on the same day.
    #[error("another special opening is already on {0}")]
    DuplicateSpecialOpening(Date),
    /// The UTC offset is beyond ±14:00.
    #[error("UTC offset {0} minutes is outside -840..=840")]
    BadUtcOffset(i32),
}

/// Every problem found by [`Schedule::validate`] (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ConfigError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the schedule: ", self.0.len())?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// A validated destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Compiled {
    /// Ranges per weekday (Monday first), sorted and non-overlapping.
    pub weekly: [Vec<TimeRange>; 7],
    pub closed_on_national_holidays: bool,
    pub year_end_closure: bool,
    /// `(first, last, name)`, inclusive, in config order (first match wins).
    pub closures: Vec<(Date, Date, String)>,
    /// Sorted, non-overlapping ranges per special-opening day.
    pub special_openings: BTreeMap<Date, Vec<TimeRange>>,
}

/// Collects errors for one destination.
struct Ctx<'a> {
    destination: Option<&'a str>,
    errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    fn err(&mut self, field: impl Into<String>, problem: ConfigProblem) {
        self.errors.push(ConfigError {
            destination: self.destination.map(str::to_owned),
            field: field.into(),
            problem,
        });
    }

    fn date(&mut self, field: String, text: &str) -> Option<Date> {
        text.parse()
            .map_err(|e| self.err(field, ConfigProblem::BadDate(e)))
            .ok()
    }

    /// Parses a list of ranges, reporting syntax and overlap problems.
    fn ranges(&mut self, field: &str, texts: &[String]) -> Vec<TimeRange> {
        let mut out: Vec<TimeRange> = Vec::with_capacity(texts.len());
        for (i, t) in texts.iter().enumerate() {
            match TimeRange::parse(t) {
                Ok(r) => {
                    if let Some(prev) = out.iter().find(|p| p.overlaps(r)) {
                        self.err(format!("{field}[{i}]"), ConfigProblem::Overlap(r, *prev));
                    } else {
                        out.push(r);
                    }
                }
                Err(RangeError::Syntax) => {
                    self.err(format!("{field}[{i}]"), ConfigProblem::BadTime(t.clone()))
                }
                Err(RangeError::EndNotAfterStart) => self.err(
                    format!("{field}[{i}]"),
                    ConfigProblem::EndBeforeStart(t.clone()),
                ),
            }
        }
        out.sort();
        out
    }
}

/// Validates one destination; `Err` holds every problem found.
pub(crate) fn compile(id: &str, d: &Destination) -> Result<Compiled, Vec<ConfigError>> {
    let mut cx = Ctx {
        destination: Some(id),
        errors: Vec::new(),
    };
    let mut weekly: [Vec<TimeRange>; 7] = Default::default();
    let mut seen = [false; 7];
    for (key, texts) in &d.weekly {
        let field = format!("weekly.{key}");
        let Some(day) = Weekday::from_key(key) else {
            cx.err(field, ConfigProblem::UnknownWeekday(key.clone()));
            continue;
        };
        if std::mem::replace(&mut seen[day.index()], true) {
            cx.err(field, ConfigProblem::DuplicateWeekday(day));
            continue;
        }
        weekly[day.index()] = cx.ranges(&field, texts);
    }

    let mut closures = Vec::with_capacity(d.closures.len());
    for (i, c) in d.closures.iter().enumerate() {
        let first = cx.date(format!("closures[{i}].date"), &c.date);
        let last = match &c.until {
            Some(u) => cx.date(format!("closures[{i}].until"), u),
            None => first,
        };
        if c.name.trim().is_empty() {
            cx.err(format!("closures[{i}].name"), ConfigProblem::EmptyName);
        }
        if let (Some(first), Some(last)) = (first, last) {
            if last < first {
                cx.err(
                    format!("closures[{i}].until"),
                    ConfigProblem::ClosureEndsBeforeStart {
                        date: first,
                        until: last,
                    },
                );
            } else {
                closures.push((first, last, c.name.trim().to_owned()));
            }
        }
    }

    let mut special_openings = BTreeMap::new();
    for (i, s) in d.special_openings.iter().enumerate() {
        let date = cx.date(format!("special_openings[{i}].date"), &s.date);
        if s.hours.is_empty() {
            cx.err(
                format!("special_openings[{i}].hours"),
                ConfigProblem::NoHours,
            );
        }
        let ranges = cx.ranges(&format!("special_openings[{i}].hours"), &s.hours);
        if let Some(date) = date {
            if special_openings.insert(date, ranges).is_some() {
                cx.err(
                    format!("special_openings[{i}].date"),
                    ConfigProblem::DuplicateSpecialOpening(date),
                );
            }
        }
    }

    if !cx.errors.is_empty() {
        return Err(cx.errors);
    }
    Ok(Compiled {
        weekly,
        closed_on_national_holidays: d.closed_on_national_holidays,
        year_end_closure: d.year_end_closure,
        closures,
        special_openings,
    })
}

/// Validates schedule-wide fields and every destination.
pub(crate) fn validate(s: &Schedule) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    if !(-840..=840).contains(&s.utc_offset_minutes) {
        errors.push(ConfigError {
            destination: None,
            field: "utc_offset_minutes".into(),
            problem: ConfigProblem::BadUtcOffset(s.utc_offset_minutes),
        });
    }
    for (id, d) in &s.destinations {
        if id.trim().is_empty() {
            errors.push(ConfigError {
                destination: Some(id.clone()),
                field: "destinations".into(),
                problem: ConfigProblem::EmptyName,
            });
        }
        if let Err(e) = compile(id, d) {
            errors.extend(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}
