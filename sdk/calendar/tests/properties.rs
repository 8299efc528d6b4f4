//! Property-style sweeps: next_open is never in the past and is really open;
//! open_until is really the first closed instant.

mod common;

use common::zama;
use madoguchi_calendar::{Date, LocalDateTime, Schedule, State};

/// Deterministic pseudo-random sequence (xorshift), no extra dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check(s: &Schedule, dest: &str, at: LocalDateTime) {
    let st = s.status(dest, at).unwrap();
    if st.state == State::Open {
        assert_eq!(st.next_open, None);
        let until = st.open_until.expect("open has an end");
        assert!(until > at, "{dest} {at}: open_until {until}");
        assert!(
            !s.status(dest, until).unwrap().state.is_open(),
            "{dest} {at}: still open at {until}"
        );
        let just_before =
            LocalDateTime::from_unix_seconds(until.to_unix_seconds(0) - 1, 0).unwrap();
        assert!(s.status(dest, just_before).unwrap().state.is_open());
    } else {
        assert_eq!(st.open_until, None);
        let next = st
            .next_open
            .unwrap_or_else(|| panic!("{dest} {at}: never opens"));
        assert!(next >= at, "{dest} {at}: next_open {next} in the past");
        assert_eq!(
            s.status(dest, next).unwrap().state,
            State::Open,
            "{dest} {at} -> {next}"
        );
        // Nothing opens in between: one second before next_open is closed
        // (unless next_open is the query time itself, impossible when closed).
        let before = LocalDateTime::from_unix_seconds(next.to_unix_seconds(0) - 1, 0).unwrap();
        if before >= at {
            assert!(
                !s.status(dest, before).unwrap().state.is_open(),
                "{dest} {at}: open at {before}"
            );
        }
    }
}

#[test]
fn next_open_is_future_and_open_for_random_times_2025_2028() {
    let s = zama();
    let start = LocalDateTime::start_of(Date::new(2025, 1, 1).unwrap()).to_unix_seconds(0);
    let span = 4 * 366 * 86_400;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let secs = start + (rng.next() % span) as i64;
        let at = LocalDateTime::from_unix_seconds(secs, 0).unwrap();
        for dest in ["city-hall", "call-center"] {
            check(&s, dest, at);
        }
    }
}

#[test]
fn every_quarter_hour_of_year_end_and_golden_week() {
    let s = zama();
    for (from, days) in [("2026-12-26", 12), ("2027-04-28", 10), ("2026-09-18", 7)] {
        let d0: Date = from.parse().unwrap();
        for n in 0..days {
            let d = d0.checked_add_days(n).unwrap();
            for q in 0..96u8 {
                let at = LocalDateTime::new(d, q / 4, (q % 4) * 15, 0).unwrap();
                for dest in ["city-hall", "call-center"] {
                    check(&s, dest, at);
                }
            }
        }
    }
}

#[test]
fn city_hall_is_never_open_on_a_holiday_weekend_or_year_end_1955_2027() {
    let s = zama();
    let mut d = Date::new(1955, 1, 1).unwrap();
    let end = Date::new(2027, 12, 31).unwrap();
    let mut open_days = 0;
    while d <= end {
        let noon = LocalDateTime::new(d, 12, 0, 0).unwrap();
        let st = s.status("city-hall", noon).unwrap();
        let weekend = d.weekday().index() >= 5;
        let year_end = (d.month() == 12 && d.day() >= 29) || (d.month() == 1 && d.day() <= 3);
        let holiday = s.holiday(d).is_some();
        assert_eq!(
            st.state.is_open(),
            !(weekend || year_end || holiday),
            "{d}: {st:?}"
        );
        open_days += usize::from(st.state.is_open());
        d = d.next_day().unwrap();
    }
    assert!(open_days > 17_000, "{open_days}");
}

#[test]
fn extreme_dates_do_not_panic() {
    let json = r#"{"destinations": {"always": {"weekly": {"mon": ["00:00-24:00"],
        "tue": ["00:00-24:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"],
        "fri": ["00:00-24:00"], "sat": ["00:00-24:00"], "sun": ["00:00-24:00"]},
        "closed_on_national_holidays": true, "year_end_closure": false}}}"#;
    let s: Schedule = serde_json::from_str(json).unwrap();
    for at in [
        "9999-12-31T23:59:59",
        "0001-01-01T00:00:00",
        "2150-12-31T12:00:00",
    ] {
        let at: LocalDateTime = at.parse().unwrap();
        let st = s.status("always", at).unwrap();
        assert!(st.state.is_open(), "{at}");
    }
    // Holidays close it; the next opening is the following midnight.
    let st = s
        .status("always", "2027-01-01T12:00".parse().unwrap())
        .unwrap();
    assert_eq!(st.state, State::Holiday("元日".into()));
    assert_eq!(st.next_open, Some("2027-01-02T00:00".parse().unwrap()));
    // Open across the 2026-12-31 / 2027-01-01 boundary? No: 元日 closes at midnight.
    let st = s
        .status("always", "2026-12-31T20:00".parse().unwrap())
        .unwrap();
    assert_eq!(st.open_until, Some("2027-01-01T00:00".parse().unwrap()));
}
