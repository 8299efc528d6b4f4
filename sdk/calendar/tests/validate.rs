//! `Schedule::validate` names the destination and field of every problem.

mod common;

use madoguchi_calendar::{ConfigProblem, Schedule, ScheduleError};

fn problems(json: &str) -> Vec<(Option<String>, String, ConfigProblem)> {
    let s: Schedule = serde_json::from_str(json).unwrap();
    s.validate()
        .unwrap_err()
        .0
        .into_iter()
        .map(|e| (e.destination, e.field, e.problem))
        .collect()
}

fn one(weekly: &str) -> String {
    format!(
        r#"{{"destinations": {{"hall": {{"weekly": {weekly},
           "closed_on_national_holidays": true, "year_end_closure": true}}}}}}"#
    )
}

#[test]
fn overlapping_ranges() {
    let p = problems(&one(r#"{"mon": ["08:30-17:15", "12:00-13:00"]}"#));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0.as_deref(), Some("hall"));
    assert_eq!(p[0].1, "weekly.mon[1]");
    assert!(matches!(p[0].2, ConfigProblem::Overlap(..)));
}

#[test]
fn end_before_start_and_bad_time() {
    let p = problems(&one(
        r#"{"tue": ["17:15-08:30", "8.30-9.00", "09:00-25:00"]}"#,
    ));
    let fields: Vec<_> = p.iter().map(|x| x.1.as_str()).collect();
    assert_eq!(fields, ["weekly.tue[0]", "weekly.tue[1]", "weekly.tue[2]"]);
    assert!(matches!(p[0].2, ConfigProblem::EndBeforeStart(_)));
    assert!(matches!(p[1].2, ConfigProblem::BadTime(_)));
    assert!(matches!(p[2].2, ConfigProblem::BadTime(_)));
}

#[test]
fn unknown_and_duplicate_weekday() {
    let p = problems(&one(
        r#"{"mon": ["09:00-10:00"], "monday": ["11:00-12:00"], "funday": []}"#,
    ));
    assert!(p
        .iter()
        .any(|x| x.1 == "weekly.funday" && x.2 == ConfigProblem::UnknownWeekday("funday".into())));
    assert!(p
        .iter()
        .any(|x| x.1 == "weekly.monday" && matches!(x.2, ConfigProblem::DuplicateWeekday(_))));
}

#[test]
fn closures_and_special_openings() {
    let json = r#"{"utc_offset_minutes": 9999, "destinations": {"cc": {
        "weekly": {}, "closed_on_national_holidays": false, "year_end_closure": false,
        "closures": [{"date": "2026-12-10", "until": "2026-12-01", "name": "点検"},
                     {"date": "2026-02-30", "name": "x"},
                     {"date": "2026-12-11", "name": " "}],
        "special_openings": [{"date": "2026-12-13", "hours": []},
                             {"date": "2026-12-13", "hours": ["09:00-12:00"]},
                             {"date": "2026/12/14", "hours": ["9-12"]}]}}}"#;
    let p = problems(json);
    let fields: Vec<_> = p.iter().map(|x| (x.0.as_deref(), x.1.as_str())).collect();
    assert_eq!(
        fields,
        [
            (None, "utc_offset_minutes"),
            (Some("cc"), "closures[0].until"),
            (Some("cc"), "closures[1].date"),
            (Some("cc"), "closures[2].name"),
            (Some("cc"), "special_openings[0].hours"),
            (Some("cc"), "special_openings[1].date"),
            (Some("cc"), "special_openings[2].date"),
            (Some("cc"), "special_openings[2].hours[0]"),
        ]
    );
}

#[test]
fn messages_are_readable() {
    let s: Schedule =
        serde_json::from_str(&one(r#"{"mon": ["08:30-17:15", "11:00-12:00"]}"#)).unwrap();
    let e = s.validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        "1 problem(s) in the schedule: destination \"hall\", weekly.mon[1]: range 11:00-12:00 overlaps 08:30-17:15"
    );
    // status() on the invalid destination reports the same problem.
    let err = s.status("hall", common::t("2026-11-30T10:00")).unwrap_err();
    assert!(matches!(err, ScheduleError::Invalid(_)));
}

#[test]
fn touching_ranges_are_fine_and_json_round_trips() {
    let s: Schedule =
        serde_json::from_str(&one(r#"{"mon": ["08:30-12:00", "12:00-17:15"]}"#)).unwrap();
    s.validate().unwrap();
    let again: Schedule = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(again, s);
    assert_eq!(again.utc_offset_minutes, 540);
}

#[test]
fn typos_and_missing_flags_are_rejected_by_serde() {
    let typo = r#"{"destinations": {"h": {"closed_on_national_holidays": true,
        "year_end_closure": true, "year_end_closures": true}}}"#;
    assert!(serde_json::from_str::<Schedule>(typo).is_err());
    let missing = r#"{"destinations": {"h": {"year_end_closure": true}}}"#;
    let e = serde_json::from_str::<Schedule>(missing).unwrap_err();
    assert!(e.to_string().contains("closed_on_national_holidays"), "{e}");
}
