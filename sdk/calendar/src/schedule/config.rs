//! The JSON configuration model, kept as the operator wrote it (times and
//! dates as strings) so that [`Schedule::validate`] can report every mistake
//! with its destination and field instead of stopping at the first serde error.

use std::collections::BTreeMap;

use crate::overrides::HolidayOverrides;
use crate::JST_OFFSET_MINUTES;

/// Opening hours of every destination plus the holiday data they share.
/// See the crate docs for the JSON format and an example.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Offset of local time from UTC in minutes, used by
    /// [`Schedule::local_time`]; default 540 (Asia/Tokyo, +09:00).
    #[serde(default = "default_offset")]
    pub utc_offset_minutes: i32,
    /// Destinations by id (e.g. `"city-hall"`), in id order.
    pub destinations: BTreeMap<String, Destination>,
    /// Holiday overrides (e.g. an imported `syukujitsu.csv`) applied on top of
    /// the computed national holidays.
    #[serde(default, skip_serializing_if = "HolidayOverrides::is_empty")]
    pub holiday_overrides: HolidayOverrides,
}

fn default_offset() -> i32 {
    JST_OFFSET_MINUTES
}

/// When one destination (a desk, a call center, a queue) is open.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Regular hours per weekday: keys `mon` … `sun` (or `monday` …),
    /// values lists of `HH:MM-HH:MM` ranges. A missing day is closed.
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<String>>,
    /// Closed all day on national holidays (computed or overridden). Required,
    /// so that forgetting it cannot silently open a city hall on 元日.
    pub closed_on_national_holidays: bool,
    /// Closed 12/29 through 1/3 (年末年始, the municipal year-end closure). Required.
    pub year_end_closure: bool,
    /// One-off whole-day closures (e.g. 庁舎設備点検).
    #[serde(default)]
    pub closures: Vec<Closure>,
    /// Days open with their own hours, whatever else applies (e.g. a Sunday
    /// opening for My Number Card pick-up).
    #[serde(default)]
    pub special_openings: Vec<SpecialOpening>,
}

/// A one-off closure of one day or an inclusive range of days.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    /// First closed day, `YYYY-MM-DD`.
    pub date: String,
    /// Last closed day (inclusive), `YYYY-MM-DD`; absent for a single day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Reason given to callers, e.g. `庁舎設備点検`.
    pub name: String,
}

/// A day with its own opening hours, replacing everything else for that day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialOpening {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Opening hours that day, `HH:MM-HH:MM` each; at least one.
    pub hours: Vec<String>,
    /// Optional label for operators (e.g. `休日交付`); not used in decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
