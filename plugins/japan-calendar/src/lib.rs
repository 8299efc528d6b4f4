//! `japan-calendar`: a schedule over `madoguchi-calendar`.
//!
//! Weekly opening hours per destination, Japanese national holidays
//! computed for any year, the official `syukujitsu.csv` as holiday
//! overrides, the municipal year-end closure (12/29–1/3), one-off closures
//! and special openings. The config is a `madoguchi_calendar::Schedule` in
//! JSON (see that crate's docs); to load `syukujitsu.csv`, the host runs
//! `Schedule::import_syukujitsu_csv` and stores the resulting config.

use madoguchi_calendar::{Date, LocalDateTime, Schedule as Calendar, State};
use madoguchi_sdk::schedule::Schedule;
use madoguchi_sdk::types::{LocalDatetime, ScheduleAnswer, ScheduleStatus};

/// Name given to the year-end closure in answers.
const YEAR_END: &str = "年末年始";

pub struct JapanCalendar;

fn to_wit(t: LocalDateTime) -> LocalDatetime {
    let d = t.date();
    LocalDatetime {
        year: d.year(),
        month: d.month(),
        day: d.day(),
        hour: t.hour(),
        minute: t.minute(),
        second: t.second(),
    }
}

impl Schedule for JapanCalendar {
    type Config = Calendar;

    fn validate(config: &Calendar) -> Result<(), String> {
        if config.destinations.is_empty() {
            return Err("destinations: at least one destination is needed".into());
        }
        config.validate().map_err(|e| e.to_string())
    }

    fn check(
        config: &Calendar,
        destination: &str,
        at: LocalDatetime,
    ) -> Result<ScheduleAnswer, String> {
        let date = Date::new(at.year, at.month, at.day).map_err(|e| format!("bad date: {e}"))?;
        let at = LocalDateTime::new(date, at.hour, at.minute, at.second)
            .map_err(|e| format!("bad time: {e}"))?;
        let s = config.status(destination, at).map_err(|e| e.to_string())?;
        let status = match s.state {
            State::Open => ScheduleStatus::Open,
            State::Closed => ScheduleStatus::Closed,
            State::Holiday(name) => ScheduleStatus::Holiday(name),
            State::SpecialClosure(name) => ScheduleStatus::SpecialClosure(name),
            State::YearEnd => ScheduleStatus::YearEndClosure(YEAR_END.into()),
            // `State` is non-exhaustive: a state this plugin does not know is "closed".
            _ => ScheduleStatus::Closed,
        };
        Ok(ScheduleAnswer {
            status,
            next_open: s.next_open.map(to_wit),
        })
    }
}

madoguchi_sdk::export_schedule!(JapanCalendar);
