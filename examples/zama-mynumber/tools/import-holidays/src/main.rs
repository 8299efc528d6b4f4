//! `zama-import-holidays <syukujitsu.csv> <first-year>`: print the
//! `holiday_overrides` list that `madoguchi_calendar` makes of the official
//! holiday file, keeping only the rows from `first-year` on.
//!
//! The crate's own import (`HolidayOverrides::import_official`, which
//! `Schedule::import_syukujitsu_csv` calls) makes the list authoritative for
//! the span it covers; cutting the 1955.. history first keeps the scenario
//! small while the years the hotline runs in still come from the official
//! data (outside the span the crate computes the holidays itself).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use madoguchi_calendar::{parse_syukujitsu_csv, HolidayOverrides};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, first_year] = &args[..] else {
        eprintln!("usage: zama-import-holidays <syukujitsu.csv> <first-year>");
        return ExitCode::from(2);
    };
    let Ok(first_year) = first_year.parse::<i32>() else {
        eprintln!("first-year: {first_year:?} is not a year");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows = match parse_syukujitsu_csv(&bytes) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let kept: Vec<_> = rows
        .into_iter()
        .filter(|(d, _)| d.year() >= first_year)
        .collect();
    if kept.is_empty() {
        eprintln!("{path}: no holidays from {first_year} on");
        return ExitCode::FAILURE;
    }
    let mut overrides = HolidayOverrides::new();
    overrides.import_official(&kept);
    match serde_json::to_string(&overrides) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write the overrides: {e}");
            ExitCode::FAILURE
        }
    }
}
