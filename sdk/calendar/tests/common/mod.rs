//! Shared fixtures: the Zama City demo schedule.
#![allow(dead_code)]

use madoguchi_calendar::{LocalDateTime, Schedule};

/// The Zama demo facts: city hall weekdays 08:30-17:15 except national
/// holidays and 12/29-1/3; call center every day 09:00-18:00 except 12/29-1/3.
pub const ZAMA_JSON: &str = r#"{
  "destinations": {
    "city-hall": {
      "weekly": {
        "mon": ["08:30-17:15"], "tue": ["08:30-17:15"], "wed": ["08:30-17:15"],
        "thu": ["08:30-17:15"], "fri": ["08:30-17:15"]
      },
      "closed_on_national_holidays": true,
      "year_end_closure": true
    },
    "call-center": {
      "weekly": {
        "mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "wed": ["09:00-18:00"],
        "thu": ["09:00-18:00"], "fri": ["09:00-18:00"], "sat": ["09:00-18:00"],
        "sun": ["09:00-18:00"]
      },
      "closed_on_national_holidays": false,
      "year_end_closure": true
    }
  }
}"#;

pub fn zama() -> Schedule {
    let s: Schedule = serde_json::from_str(ZAMA_JSON).expect("Zama JSON parses");
    s.validate().expect("Zama schedule is valid");
    s
}

pub fn t(s: &str) -> LocalDateTime {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}
