//! Acceptance: the computation reproduces the Cabinet Office list exactly.
//!
//! Reads `shared/data/syukujitsu.csv` beside the checkout (`/work/shared` next
//! to `/work/main`; CI clones main with shared/ beside it the same way).

use std::collections::BTreeMap;
use std::path::PathBuf;

use madoguchi_calendar::{
    holidays_in_year, national_holiday, parse_syukujitsu_csv, Date, HolidayOverrides,
};

fn official() -> Vec<(Date, String)> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/syukujitsu.csv");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the official holiday list is missing: cannot read {} ({e}); \
             it is expected at shared/data/syukujitsu.csv beside the repository checkout",
            path.display()
        )
    });
    parse_syukujitsu_csv(&bytes).expect("official list parses")
}

#[test]
fn official_file_shape() {
    let list = official();
    assert_eq!(list.first().unwrap().0, Date::new(1955, 1, 1).unwrap());
    assert_eq!(list.last().unwrap().0, Date::new(2027, 11, 23).unwrap());
    assert!(list.len() > 1000, "only {} rows", list.len());
}

#[test]
fn every_day_matches_the_official_list() {
    let list = official();
    let first = list.first().unwrap().0;
    let last = list.last().unwrap().0;
    let official: BTreeMap<Date, &str> = list.iter().map(|(d, n)| (*d, n.as_str())).collect();

    let mut mismatches = Vec::new();
    let mut day = first;
    let mut days = 0;
    while day <= last {
        let computed = national_holiday(day);
        let expected = official.get(&day).copied();
        if computed != expected {
            mismatches.push(format!(
                "{day}: computed {computed:?}, official {expected:?}"
            ));
        }
        days += 1;
        day = day.next_day().unwrap();
    }
    assert!(days > 26_000);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );

    // The per-year listing agrees with the per-day lookup.
    for year in first.year()..=last.year() {
        for (d, name) in holidays_in_year(year) {
            if d <= last {
                assert_eq!(official.get(&d).copied(), Some(name), "{d}");
            }
        }
    }
}

#[test]
fn importing_the_official_list_changes_nothing_in_its_span() {
    let list = official();
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/syukujitsu.csv");
    let o = HolidayOverrides::from_syukujitsu_csv(&std::fs::read(path).unwrap()).unwrap();
    for (d, n) in &list {
        assert_eq!(o.holiday(*d), Some(n.as_str()));
    }
    // After the span, the computation continues (2027-12-23 is not a holiday
    // since 2019; 2028-01-01 is 元日).
    assert_eq!(o.holiday(Date::new(2028, 1, 1).unwrap()), Some("元日"));
    assert_eq!(
        o.holidays_in_year(2026),
        holidays_in_year(2026)
            .into_iter()
            .map(|(d, n)| (d, n.to_owned()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn schedule_import_keeps_answers() {
    use madoguchi_calendar::{Schedule, State};
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/syukujitsu.csv");
    let json = r#"{"destinations": {"hall": {"weekly": {"mon": ["08:30-17:15"]},
        "closed_on_national_holidays": true, "year_end_closure": true}}}"#;
    let mut s: Schedule = serde_json::from_str(json).unwrap();
    s.import_syukujitsu_csv(&std::fs::read(path).unwrap())
        .unwrap();
    assert!(s.holiday_overrides.len() > 1000);
    let st = s
        .status("hall", "2026-09-21T10:00".parse().unwrap())
        .unwrap();
    assert_eq!(st.state, State::Holiday("敬老の日".into()));
    // The imported list survives a JSON round trip (it is part of the config).
    let again: Schedule = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
    assert!(s.import_syukujitsu_csv(b"not,the header\n").is_err());
}
