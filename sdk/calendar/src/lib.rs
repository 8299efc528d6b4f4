//! Japanese national holidays and office-hours schedules for madoguchi.
//!
//! Answers "is destination X open at local date-time T (Asia/Tokyo)? If not,
//! why (closed / holiday / special closure / year-end), and when does it next
//! open?". Used by the `japan-calendar` schedule plugin (a wasm32-wasip2
//! component) and by the `hours` IVR logic.
//!
//! The crate is pure: no IO, no clock reads, no `unsafe`. The caller passes
//! the time in, either as a [`LocalDateTime`] or as Unix seconds converted
//! with [`LocalDateTime::from_unix_seconds`] / [`Schedule::local_time`]
//! (offset in minutes; Japan is [`JST_OFFSET_MINUTES`] = 540, no DST).
//!
//! # Holidays
//!
//! [`national_holiday`] and [`holidays_in_year`] compute the holidays of any
//! year 1948-2150 under the Act on National Holidays with its history:
//! fixed days and their renamings, the Happy Monday moves (2000/2003), the
//! equinox days by the standard approximation, 振替休日 (since 1973-04-12,
//! extended in 2007), 国民の休日 (since 1985-12-27), the one-off days of
//! 1959, 1989, 1990, 1993 and 2019, and the 2020/2021 Olympic moves.
//! Names are spelled as the Cabinet Office `syukujitsu.csv` spells them:
//! substitute and citizens' holidays are both `休日` there, so
//! [`national_holiday_detail`] also gives the [`HolidayKind`] and a
//! descriptive [`Holiday::full_name`] (`振替休日`, `国民の休日`,
//! `天皇の即位の日`, …). The test suite checks every day 1955-01-01 ..=
//! 2027-11-23 against the official list.
//!
//! ```
//! use madoguchi_calendar::{national_holiday, national_holiday_detail, Date};
//! let d = Date::new(2026, 9, 22).unwrap();
//! assert_eq!(national_holiday(d), Some("休日"));
//! assert_eq!(national_holiday_detail(d).unwrap().full_name, "国民の休日");
//! assert_eq!(national_holiday(Date::new(2026, 11, 23).unwrap()), Some("勤労感謝の日"));
//! ```
//!
//! A future law change is loaded as data, not code: [`parse_syukujitsu_csv`]
//! reads the official file (Shift_JIS, CRLF; UTF-8 re-saves accepted) and
//! [`HolidayOverrides::import_official`] makes it authoritative for the span
//! of dates it covers, the computation applying outside it.
//!
//! # Schedules
//!
//! A [`Schedule`] is deserialized from JSON (with `serde_json` or any serde
//! format), checked once with [`Schedule::validate`], then queried with
//! [`Schedule::status`]. Each destination has:
//!
//! | field | meaning |
//! |---|---|
//! | `weekly` | `{"mon": ["08:30-17:15"], …}`; keys `mon`…`sun` (or full names); a missing day is closed; ranges are half-open (open at 08:30:00, closed at 17:15:00); `24:00` may end a range; ranges cannot cross midnight |
//! | `closed_on_national_holidays` | required bool: closed all day on holidays (computed or overridden) |
//! | `year_end_closure` | required bool: closed 12/29 through 1/3 (年末年始) |
//! | `closures` | one-off whole-day closures: `{"date": "YYYY-MM-DD", "until": "YYYY-MM-DD" (optional, inclusive), "name": "…"}` |
//! | `special_openings` | `{"date": "YYYY-MM-DD", "hours": ["09:00-12:00"], "name": "…" (optional)}`: that day has exactly these hours |
//!
//! Schedule-wide fields: `utc_offset_minutes` (default 540) and
//! `holiday_overrides`, a list of `{"date": "YYYY-MM-DD", "name": "…"}`
//! where `"name": null` means "not a holiday" (see [`HolidayOverrides`]).
//! Unknown fields are rejected so that typos do not pass silently.
//!
//! **Precedence for a day**, highest first: special opening > one-off
//! closure > year-end closure > national holiday > weekly hours. So a
//! special opening on a holiday opens the office for its hours (and outside
//! them the state is [`State::Closed`], not the holiday); a closure inside
//! the year-end period reports the closure's name.
//!
//! [`Status::next_open`] is set when closed: the next opening within
//! [`NEXT_OPEN_HORIZON_DAYS`] (400) days, or `None`. [`Status::open_until`]
//! is set when open: when this opening ends.
//!
//! ```
//! use madoguchi_calendar::{LocalDateTime, Schedule, State};
//!
//! let json = r#"{
//!   "utc_offset_minutes": 540,
//!   "destinations": {
//!     "city-hall": {
//!       "weekly": {
//!         "mon": ["08:30-17:15"], "tue": ["08:30-17:15"], "wed": ["08:30-17:15"],
//!         "thu": ["08:30-17:15"], "fri": ["08:30-17:15"]
//!       },
//!       "closed_on_national_holidays": true,
//!       "year_end_closure": true,
//!       "closures": [{"date": "2026-12-05", "until": "2026-12-06", "name": "庁舎設備点検"}],
//!       "special_openings": [{"date": "2026-12-13", "hours": ["09:00-12:00"], "name": "休日交付"}]
//!     },
//!     "call-center": {
//!       "weekly": {
//!         "mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "wed": ["09:00-18:00"],
//!         "thu": ["09:00-18:00"], "fri": ["09:00-18:00"], "sat": ["09:00-18:00"],
//!         "sun": ["09:00-18:00"]
//!       },
//!       "closed_on_national_holidays": false,
//!       "year_end_closure": true
//!     }
//!   },
//!   "holiday_overrides": []
//! }"#;
//! let schedule: Schedule = serde_json::from_str(json).unwrap();
//! schedule.validate().unwrap();
//!
//! let at: LocalDateTime = "2026-11-23T10:00".parse().unwrap(); // 勤労感謝の日
//! let s = schedule.status("city-hall", at).unwrap();
//! assert_eq!(s.state, State::Holiday("勤労感謝の日".into()));
//! assert_eq!(s.next_open.unwrap().to_string(), "2026-11-24T08:30:00");
//! assert!(schedule.status("call-center", at).unwrap().state.is_open());
//!
//! // From Unix time: 2026-11-24T01:00:00Z is 10:00 in Japan.
//! let at = schedule.local_time(1_795_482_000).unwrap();
//! assert_eq!(at.to_string(), "2026-11-24T10:00:00");
//! ```
//!
//! # Errors and panics
//!
//! Configuration problems come back from [`Schedule::validate`] as
//! [`ValidationErrors`], each [`ConfigError`] naming the destination and
//! field (`destination "city-hall", weekly.mon[1]: range 11:00-12:00
//! overlaps 08:30-17:15`). Bad CSV gives a [`CsvError`] naming the line.
//! No input (JSON, CSV bytes, timestamps) makes the crate panic.

#![forbid(unsafe_code)]

mod csv;
mod date;
mod holidays;
mod overrides;
mod schedule;

pub use csv::{parse_syukujitsu_csv, CsvError, SYUKUJITSU_HEADER};
pub use date::{
    days_in_month, is_leap_year, Date, DateError, LocalDateTime, Weekday, JST_OFFSET_MINUTES,
    MAX_YEAR, MIN_YEAR,
};
pub use holidays::{
    autumnal_equinox_day, holiday_details_in_year, holidays_in_year, national_holiday,
    national_holiday_detail, vernal_equinox_day, Holiday, HolidayKind, FIRST_YEAR, LAST_YEAR,
};
pub use overrides::{HolidayOverrides, OverrideEntry, OverrideError};
pub use schedule::{
    Closure, ConfigError, ConfigProblem, DayHours, Destination, Schedule, ScheduleError,
    SpecialOpening, State, Status, TimeRange, ValidationErrors, NEXT_OPEN_HORIZON_DAYS,
};
