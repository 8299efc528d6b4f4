//! Office-hours schedules: "is destination X open at local time T, and if
//! not, why and when does it next open?"

mod compile;
mod config;
mod hours;
mod status;

pub use compile::{ConfigError, ConfigProblem, ValidationErrors};
pub use config::{Closure, Destination, Schedule, SpecialOpening};
pub use hours::TimeRange;
pub use status::{DayHours, State, Status, NEXT_OPEN_HORIZON_DAYS};

use crate::csv::CsvError;
use crate::date::{Date, DateError, LocalDateTime};

/// Why a schedule question could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// No destination with that id is configured.
    #[error("unknown destination {0:?}")]
    UnknownDestination(String),
    /// The destination's configuration is invalid (run [`Schedule::validate`]
    /// at load time to catch this early).
    #[error("invalid configuration: {0}")]
    Invalid(ValidationErrors),
}

impl Schedule {
    /// A schedule with no destinations, Japan time and no holiday overrides.
    pub fn new() -> Schedule {
        Schedule {
            utc_offset_minutes: crate::JST_OFFSET_MINUTES,
            destinations: Default::default(),
            holiday_overrides: Default::default(),
        }
    }

    /// Checks every field of every destination; `Err` lists every problem,
    /// each naming its destination and field. Call it once after loading.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        compile::validate(self)
    }

    /// Whether `destination` is open at local time `at`, why not if closed,
    /// and when it next opens (see [`Status`]). Precedence for a day:
    /// special opening > one-off closure > year-end closure > national
    /// holiday > weekly hours.
    pub fn status(&self, destination: &str, at: LocalDateTime) -> Result<Status, ScheduleError> {
        let compiled = self.compiled(destination)?;
        Ok(status::status(&compiled, &self.holiday_overrides, at))
    }

    /// The hours of `destination` on `date` after applying the precedence
    /// (e.g. for announcing "today's hours are …").
    pub fn hours_on(&self, destination: &str, date: Date) -> Result<DayHours, ScheduleError> {
        let compiled = self.compiled(destination)?;
        Ok(status::day_hours(&compiled, &self.holiday_overrides, date))
    }

    /// The holiday name on `date` (computed, or from the overrides).
    pub fn holiday(&self, date: Date) -> Option<&str> {
        self.holiday_overrides.holiday(date)
    }

    /// Converts a Unix timestamp to local time with this schedule's UTC offset.
    pub fn local_time(&self, unix_seconds: i64) -> Result<LocalDateTime, DateError> {
        LocalDateTime::from_unix_seconds(unix_seconds, self.utc_offset_minutes)
    }

    /// Imports a Cabinet Office `syukujitsu.csv` into the holiday overrides,
    /// authoritative for the dates it spans.
    pub fn import_syukujitsu_csv(&mut self, bytes: &[u8]) -> Result<(), CsvError> {
        let list = crate::csv::parse_syukujitsu_csv(bytes)?;
        self.holiday_overrides.import_official(&list);
        Ok(())
    }

    fn compiled(&self, destination: &str) -> Result<compile::Compiled, ScheduleError> {
        let d = self
            .destinations
            .get(destination)
            .ok_or_else(|| ScheduleError::UnknownDestination(destination.to_owned()))?;
        compile::compile(destination, d).map_err(|e| ScheduleError::Invalid(ValidationErrors(e)))
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::new()
    }
}
