//! The Zama City demo facts (R-IVR-2: announcements depend on service hours).

mod common;

use common::{t, zama};
use madoguchi_calendar::{State, Weekday};

#[test]
fn city_hall_open_first_working_day_of_2027() {
    let s = zama();
    let at = t("2027-01-04T10:00");
    assert_eq!(at.date().weekday(), Weekday::Monday);
    let st = s.status("city-hall", at).unwrap();
    assert_eq!(st.state, State::Open);
    assert_eq!(st.next_open, None);
    assert_eq!(st.open_until, Some(t("2027-01-04T17:15")));
}

#[test]
fn new_year_eve_is_year_end_for_both() {
    let s = zama();
    for dest in ["city-hall", "call-center"] {
        let st = s.status(dest, t("2026-12-31T10:00")).unwrap();
        assert_eq!(st.state, State::YearEnd, "{dest}");
    }
    assert_eq!(
        s.status("city-hall", t("2026-12-31T10:00"))
            .unwrap()
            .next_open,
        Some(t("2027-01-04T08:30"))
    );
    assert_eq!(
        s.status("call-center", t("2026-12-31T10:00"))
            .unwrap()
            .next_open,
        Some(t("2027-01-04T09:00"))
    );
    // Boundaries of the closure: 12/28 is a normal Monday, 1/3 still closed.
    assert_eq!(
        s.status("city-hall", t("2026-12-28T16:00")).unwrap().state,
        State::Open
    );
    assert_eq!(
        s.status("call-center", t("2027-01-03T12:00"))
            .unwrap()
            .state,
        State::YearEnd
    );
    assert_eq!(
        s.status("call-center", t("2026-12-29T00:00"))
            .unwrap()
            .state,
        State::YearEnd
    );
}

#[test]
fn labour_thanksgiving_city_hall_holiday_call_center_open() {
    let s = zama();
    let at = t("2026-11-23T10:00");
    let hall = s.status("city-hall", at).unwrap();
    assert_eq!(hall.state, State::Holiday("勤労感謝の日".into()));
    assert_eq!(hall.next_open, Some(t("2026-11-24T08:30")));
    let cc = s.status("call-center", at).unwrap();
    assert_eq!(cc.state, State::Open);
    assert_eq!(cc.open_until, Some(t("2026-11-23T18:00")));
}

#[test]
fn saturday_closed_next_open_monday_morning() {
    let s = zama();
    let at = t("2026-11-28T11:00");
    assert_eq!(at.date().weekday(), Weekday::Saturday);
    let st = s.status("city-hall", at).unwrap();
    assert_eq!(st.state, State::Closed);
    assert_eq!(st.next_open, Some(t("2026-11-30T08:30")));
    assert_eq!(st.open_until, None);
}

#[test]
fn closing_and_opening_instants() {
    let s = zama();
    let st = s.status("city-hall", t("2026-11-25T17:15:00")).unwrap();
    assert_eq!(st.state, State::Closed);
    assert_eq!(st.next_open, Some(t("2026-11-26T08:30")));
    assert_eq!(
        s.status("city-hall", t("2026-11-25T17:14:59"))
            .unwrap()
            .state,
        State::Open
    );
    assert_eq!(
        s.status("city-hall", t("2026-11-25T08:30:00"))
            .unwrap()
            .state,
        State::Open
    );
    let early = s.status("city-hall", t("2026-11-25T08:29:59")).unwrap();
    assert_eq!(early.state, State::Closed);
    assert_eq!(early.next_open, Some(t("2026-11-25T08:30")));
}

#[test]
fn citizens_holiday_and_golden_week() {
    let s = zama();
    // 2026-09-22 国民の休日 between 敬老の日 and 秋分の日: closed 9/19-9/23, opens Thu 9/24.
    let st = s.status("city-hall", t("2026-09-19T09:00")).unwrap();
    assert_eq!(st.state, State::Closed);
    assert_eq!(st.next_open, Some(t("2026-09-24T08:30")));
    let st = s.status("city-hall", t("2026-09-22T09:00")).unwrap();
    assert_eq!(st.state, State::Holiday("休日".into()));
    // Golden Week 2026: 5/6 is the substitute for 5/3 (Sunday).
    let st = s.status("city-hall", t("2026-05-02T09:00")).unwrap();
    assert_eq!(st.next_open, Some(t("2026-05-07T08:30")));
}

#[test]
fn unknown_destination_is_an_error() {
    let e = zama().status("library", t("2026-11-25T10:00")).unwrap_err();
    assert_eq!(e.to_string(), "unknown destination \"library\"");
}
