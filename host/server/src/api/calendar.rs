//! `GET /scenarios/{name}/calendar?month=YYYY-MM[&version=N]`: a month of every schedule
//! destination of a scenario's version (the live one by default), day by day, as the
//! `japan-calendar` schedule plugin decides it (computed with `madoguchi-calendar`, the same
//! crate the plugin is built from). The console's hours page colours its calendar from this.

use axum::extract::{Path, State};
use axum::Json;
use madoguchi_calendar::{days_in_month, Date, Schedule, State as DayState};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{blocking, ApiError, QueryParams};
use super::ApiState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarQuery {
    /// `YYYY-MM` (Japan time).
    month: String,
    /// A stored version; the live one when absent.
    version: Option<u32>,
}

/// Parses `YYYY-MM`.
fn parse_month(s: &str) -> Option<(i32, u8)> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let y: i32 = y.parse().ok()?;
    let m: u8 = m.parse().ok()?;
    Date::new(y, m, 1).ok().map(|_| (y, m))
}

/// One day of one destination: `state` is `open`, `closed` (no hours that weekday),
/// `holiday`, `year_end` or `special_closure`; `name` the holiday's or closure's name.
fn day_json(schedule: &Schedule, destination: &str, date: Date) -> Result<Value, ApiError> {
    let hours = schedule
        .hours_on(destination, date)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (state, name) = match &hours.closed_reason {
        None if hours.ranges.is_empty() => ("closed", None),
        None => ("open", None),
        Some(DayState::Holiday(n)) => ("holiday", Some(n.clone())),
        Some(DayState::SpecialClosure(n)) => ("special_closure", Some(n.clone())),
        Some(DayState::YearEnd) => ("year_end", None),
        Some(_) => ("closed", None),
    };
    Ok(json!({
        "date": format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day()),
        "weekday": date.weekday().key(),
        "state": state,
        "name": name,
        // The national holiday of that day even when another rule closed it (元日 in 年末年始).
        "holiday": schedule.holiday(date),
        "hours": hours.ranges.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    }))
}

pub async fn month(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<CalendarQuery>,
) -> Result<Json<Value>, ApiError> {
    let (year, month) = parse_month(&q.month)
        .ok_or_else(|| ApiError::bad_request(format!("month {:?} is not YYYY-MM", q.month)))?;
    blocking(move || {
        let version = match q.version {
            Some(v) => v,
            None => state
                .scenarios
                .live(&name)?
                .map(|p| p.version)
                .ok_or_else(|| {
                    ApiError::not_found(format!("scenario {name:?} has no live version"))
                })?,
        };
        let stored = state.scenarios.get(&name, version)?.ok_or_else(|| {
            ApiError::not_found(format!("scenario {name:?} has no version {version}"))
        })?;
        let doc: Value = serde_json::from_str(&stored.document)
            .map_err(|e| ApiError::bad_request(format!("stored document: {e}")))?;
        let mut schedules = Vec::new();
        if let Some(map) = doc.get("schedules").and_then(Value::as_object) {
            for (sname, s) in map {
                let plugin = s.get("plugin").and_then(Value::as_str).unwrap_or("");
                let config = s.get("config").cloned().unwrap_or(Value::Null);
                let schedule: Schedule = match serde_json::from_value(config) {
                    Ok(s) => s,
                    Err(e) => {
                        schedules.push(json!({"name": sname, "plugin": plugin,
                            "error": format!("not a japan-calendar schedule: {e}")}));
                        continue;
                    }
                };
                let mut destinations = Vec::new();
                for (dname, dest) in &schedule.destinations {
                    let mut days = Vec::new();
                    for d in 1..=days_in_month(year, month) {
                        let date = Date::new(year, month, d)
                            .map_err(|e| ApiError::bad_request(e.to_string()))?;
                        days.push(day_json(&schedule, dname, date)?);
                    }
                    destinations.push(json!({
                        "name": dname,
                        "weekly": dest.weekly,
                        "closed_on_national_holidays": dest.closed_on_national_holidays,
                        "year_end_closure": dest.year_end_closure,
                        "days": days,
                    }));
                }
                schedules
                    .push(json!({"name": sname, "plugin": plugin, "destinations": destinations}));
            }
        }
        Ok(Json(json!({
            "scenario": name,
            "version": version,
            "month": format!("{year:04}-{month:02}"),
            "schedules": schedules,
        })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zama() -> Schedule {
        serde_json::from_value(json!({
            "destinations": {
                "cityhall": {
                    "weekly": {"mon": ["08:30-17:15"], "tue": ["08:30-17:15"], "wed": ["08:30-17:15"],
                               "thu": ["08:30-17:15"], "fri": ["08:30-17:15"]},
                    "closed_on_national_holidays": true,
                    "year_end_closure": true,
                    "closures": [{"date": "2027-01-15", "name": "庁舎設備点検"}]
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn new_years_day_and_new_years_eve_are_year_end_closures() {
        let s = zama();
        let d = day_json(&s, "cityhall", Date::new(2027, 1, 1).unwrap()).unwrap();
        assert_eq!(d["state"], "year_end");
        assert_eq!(d["holiday"], "元日");
        let d = day_json(&s, "cityhall", Date::new(2026, 12, 31).unwrap()).unwrap();
        assert_eq!(d["state"], "year_end");
        let d = day_json(&s, "cityhall", Date::new(2027, 1, 4).unwrap()).unwrap();
        assert_eq!(
            (d["state"].as_str(), d["hours"][0].as_str()),
            (Some("open"), Some("08:30-17:15"))
        );
        let d = day_json(&s, "cityhall", Date::new(2027, 1, 11).unwrap()).unwrap();
        assert_eq!(
            (d["state"].as_str(), d["name"].as_str()),
            (Some("holiday"), Some("成人の日"))
        );
        let d = day_json(&s, "cityhall", Date::new(2027, 1, 9).unwrap()).unwrap();
        assert_eq!(
            (d["state"].as_str(), d["weekday"].as_str()),
            (Some("closed"), Some("sat"))
        );
        let d = day_json(&s, "cityhall", Date::new(2027, 1, 15).unwrap()).unwrap();
        assert_eq!(
            (d["state"].as_str(), d["name"].as_str()),
            (Some("special_closure"), Some("庁舎設備点検"))
        );
    }

    #[test]
    fn months_are_parsed_strictly() {
        assert_eq!(parse_month("2027-01"), Some((2027, 1)));
        assert_eq!(parse_month("2027-13"), None);
        assert_eq!(parse_month("2027-1"), None);
        assert_eq!(parse_month("202701"), None);
    }
}
