//! Precedence for a day: special opening > one-off closure > year-end closure
//! > national holiday > weekly hours. Each test pits two adjacent levels.

mod common;

use common::t;
use madoguchi_calendar::{Schedule, State};

/// City-hall-like desk with every kind of rule, aimed at a few test days.
fn desk() -> Schedule {
    let json = r#"{
      "destinations": {
        "desk": {
          "weekly": {"mon": ["08:30-12:00", "13:00-17:15"], "tue": ["08:30-17:15"],
                     "wed": ["08:30-17:15"], "thu": ["08:30-17:15"], "fri": ["08:30-17:15"]},
          "closed_on_national_holidays": true,
          "year_end_closure": true,
          "closures": [
            {"date": "2026-12-04", "name": "庁舎設備点検"},
            {"date": "2026-12-30", "until": "2027-01-05", "name": "システム更新"},
            {"date": "2026-11-23", "name": "臨時休業"},
            {"date": "2027-02-10", "until": "2027-02-12", "name": "選挙準備"}
          ],
          "special_openings": [
            {"date": "2026-11-29", "hours": ["09:00-12:00"], "name": "休日交付"},
            {"date": "2026-12-04", "hours": ["13:00-15:00"]},
            {"date": "2027-01-02", "hours": ["10:00-11:00"]},
            {"date": "2027-02-11", "hours": ["09:00-10:00"]}
          ]
        }
      }
    }"#;
    let s: Schedule = serde_json::from_str(json).unwrap();
    s.validate().unwrap();
    s
}

fn state(s: &Schedule, at: &str) -> State {
    s.status("desk", t(at)).unwrap().state
}

#[test]
fn special_opening_beats_weekly_hours_on_a_sunday() {
    let s = desk();
    assert_eq!(state(&s, "2026-11-29T09:00"), State::Open);
    let after = s.status("desk", t("2026-11-29T12:00")).unwrap();
    assert_eq!(after.state, State::Closed);
    assert_eq!(after.next_open, Some(t("2026-11-30T08:30")));
    // Before the special hours, next_open is the special opening itself.
    let before = s.status("desk", t("2026-11-28T18:00")).unwrap();
    assert_eq!(before.next_open, Some(t("2026-11-29T09:00")));
}

#[test]
fn special_opening_beats_one_off_closure() {
    let s = desk();
    assert_eq!(state(&s, "2026-12-04T14:00"), State::Open);
    // The special opening replaces the day: regular morning hours do not apply,
    // and outside the special hours the state is Closed, not the closure.
    assert_eq!(state(&s, "2026-12-04T09:00"), State::Closed);
}

#[test]
fn special_opening_beats_year_end_and_holiday() {
    let s = desk();
    // 2027-01-02 is inside the year-end closure and the システム更新 closure.
    assert_eq!(state(&s, "2027-01-02T10:30"), State::Open);
    // 2027-02-11 建国記念の日, inside the 選挙準備 closure.
    assert_eq!(state(&s, "2027-02-11T09:30"), State::Open);
    assert_eq!(
        state(&s, "2027-02-12T09:30"),
        State::SpecialClosure("選挙準備".into())
    );
}

#[test]
fn one_off_closure_beats_year_end_and_holiday() {
    let s = desk();
    assert_eq!(
        state(&s, "2026-12-31T10:00"),
        State::SpecialClosure("システム更新".into())
    );
    assert_eq!(
        state(&s, "2026-11-23T10:00"),
        State::SpecialClosure("臨時休業".into())
    );
    // The closure runs to 1/5, past the year-end closure.
    let st = s.status("desk", t("2027-01-05T10:00")).unwrap();
    assert_eq!(st.state, State::SpecialClosure("システム更新".into()));
    assert_eq!(st.next_open, Some(t("2027-01-06T08:30")));
}

#[test]
fn year_end_beats_holiday() {
    let s = desk();
    // 12/29 is outside the closure; 1/1 (元日) is inside it, so use another
    // schedule without closures to see year-end beat 元日.
    assert_eq!(state(&s, "2026-12-29T10:00"), State::YearEnd);
    let mut plain = desk();
    plain.destinations.get_mut("desk").unwrap().closures.clear();
    plain
        .destinations
        .get_mut("desk")
        .unwrap()
        .special_openings
        .clear();
    assert_eq!(state(&plain, "2027-01-01T10:00"), State::YearEnd);
}

#[test]
fn holiday_beats_weekly_hours_and_flag_matters() {
    let mut s = desk();
    s.destinations.get_mut("desk").unwrap().closures.clear();
    assert_eq!(
        state(&s, "2026-11-23T10:00"),
        State::Holiday("勤労感謝の日".into())
    );
    s.destinations
        .get_mut("desk")
        .unwrap()
        .closed_on_national_holidays = false;
    assert_eq!(state(&s, "2026-11-23T10:00"), State::Open);
}

#[test]
fn lunch_break_and_open_until() {
    let s = desk();
    let st = s.status("desk", t("2026-11-30T11:00")).unwrap();
    assert_eq!(st.open_until, Some(t("2026-11-30T12:00")));
    let lunch = s.status("desk", t("2026-11-30T12:30")).unwrap();
    assert_eq!(lunch.state, State::Closed);
    assert_eq!(lunch.next_open, Some(t("2026-11-30T13:00")));
}

#[test]
fn hours_on_reports_the_winning_rule() {
    let s = desk();
    let d = |x: &str| x.parse().unwrap();
    let h = s.hours_on("desk", d("2026-12-04")).unwrap();
    assert_eq!(h.closed_reason, None);
    assert_eq!(h.ranges.len(), 1);
    assert_eq!(h.ranges[0].to_string(), "13:00-15:00");
    let h = s.hours_on("desk", d("2026-12-29")).unwrap();
    assert_eq!(h.closed_reason, Some(State::YearEnd));
    assert!(h.ranges.is_empty());
}

#[test]
fn overrides_feed_the_holiday_rule() {
    let mut s = desk();
    let d = "2026-11-26".parse().unwrap();
    s.holiday_overrides.set_holiday(d, "臨時の祝日");
    assert_eq!(
        state(&s, "2026-11-26T10:00"),
        State::Holiday("臨時の祝日".into())
    );
    s.holiday_overrides
        .set_not_holiday("2026-11-03".parse().unwrap());
    assert_eq!(state(&s, "2026-11-03T10:00"), State::Open);
}

#[test]
fn open_until_joins_midnight_handover() {
    let json = r#"{"destinations": {"night": {
        "weekly": {"fri": ["18:00-24:00"], "sat": ["00:00-24:00"], "sun": ["00:00-06:00", "06:00-09:00"]},
        "closed_on_national_holidays": false, "year_end_closure": false}}}"#;
    let s: Schedule = serde_json::from_str(json).unwrap();
    s.validate().unwrap();
    let st = s.status("night", t("2026-11-27T20:00")).unwrap();
    assert_eq!(st.state, State::Open);
    assert_eq!(st.open_until, Some(t("2026-11-29T09:00")));
    let st = s.status("night", t("2026-11-29T09:00")).unwrap();
    assert_eq!(st.next_open, Some(t("2026-12-04T18:00")));
}

#[test]
fn never_open_gives_no_next_open() {
    let json = r#"{"destinations": {"gone": {"closed_on_national_holidays": true, "year_end_closure": true}}}"#;
    let s: Schedule = serde_json::from_str(json).unwrap();
    s.validate().unwrap();
    let st = s.status("gone", t("2026-11-25T10:00")).unwrap();
    assert_eq!(st.state, State::Closed);
    assert_eq!(st.next_open, None);
}
