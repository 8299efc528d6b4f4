//! Call queues: live state and period figures (R-OPS-5), and members' log-in, log-out and
//! pause (R-OPS-2) — the same changes the `*45`/`*46` feature codes make from a phone.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use serde_json::json;

use super::error::{blocking, ApiError, JsonBody, QueryParams};
use super::ApiState;
use crate::core::queue_history::{report, stats_json};

/// `GET /queues`: every queue with its live snapshot and period statistics.
pub async fn list(State(state): State<ApiState>) -> Json<Value> {
    Json(state.hooks.queues())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    /// `login`, `logout`, `pause` or `unpause`.
    action: String,
    /// Why (for `pause`), shown in the console.
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /queues/members/{user}` `{"action": "pause", "reason": "昼休み"}`: 409 with the
/// reason when the change is refused (not a member, unknown action).
pub async fn member(
    State(state): State<ApiState>,
    Path(user): Path<String>,
    JsonBody(body): JsonBody<MemberChange>,
) -> Result<Json<Value>, ApiError> {
    let v = state
        .hooks
        .queue_member(&user, &body.action, body.reason.as_deref())
        .map_err(ApiError::conflict)?;
    Ok(Json(v))
}

/// Reports are in Japan time (Asia/Tokyo has no daylight saving: +09:00 all year).
const REPORT_OFFSET: time::UtcOffset = match time::UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("+09:00 is a valid offset"),
};
const HOUR_MS: u64 = 3_600_000;
pub(super) const DAY_MS: u64 = 24 * HOUR_MS;
/// The longest period one report covers.
pub(super) const MAX_REPORT_DAYS: u64 = 400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// First day (`2027-01-04`, Japan time) or an RFC 3339 instant; default today.
    from: Option<String>,
    /// Last day, included (`2027-01-31`), or an RFC 3339 instant, excluded; default: the
    /// day `from` names.
    to: Option<String>,
    /// `hour`, `day` or `all`; default `hour` up to two days, `day` beyond.
    interval: Option<String>,
}

/// `GET /queues/{name}/history?from=2027-01-04&to=2027-01-31&interval=day`: the queue's
/// figures (offered, answered, abandoned, fallback, service level, average wait and talk)
/// for callers who entered in the period, per interval and in total, from the stored
/// history: reports survive restarts.
pub async fn history(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    let known = state.hooks.queues()["queues"]
        .as_array()
        .is_some_and(|qs| qs.iter().any(|x| x["name"] == name.as_str()));
    if !known {
        return Err(ApiError::not_found(format!("no queue {name:?}")));
    }
    let now_ms = crate::core::unix_now_ms();
    let from = match q.from.as_deref() {
        Some(s) => parse_bound(s, false)?,
        None => day_start(now_ms),
    };
    let to = match q.to.as_deref() {
        Some(s) => parse_bound(s, true)?,
        None => from + DAY_MS,
    };
    if to <= from {
        return Err(ApiError::bad_request("`to` must come after `from`"));
    }
    if to - from > MAX_REPORT_DAYS * DAY_MS {
        return Err(ApiError::bad_request(format!(
            "a report covers at most {MAX_REPORT_DAYS} days"
        )));
    }
    let interval = q.interval.unwrap_or_else(|| {
        if to - from <= 2 * DAY_MS {
            "hour"
        } else {
            "day"
        }
        .into()
    });
    let step = match interval.as_str() {
        "hour" => HOUR_MS,
        "day" => DAY_MS,
        "all" => 0,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown interval {other:?}: hour, day or all"
            )))
        }
    };
    let store = state.store.clone();
    let queue = name.clone();
    let report = blocking(move || {
        report(&store, &queue, from, to, step).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await?;
    let intervals: Vec<Value> = report
        .intervals
        .iter()
        .map(|i| {
            let mut v = stats_json(&i.stats);
            v["start"] = json!(rfc3339(i.start_unix_ms));
            v
        })
        .collect();
    Ok(Json(json!({
        "queue": name,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "interval": interval,
        "total": stats_json(&report.total),
        "intervals": intervals,
        "truncated": report.truncated,
    })))
}

/// Start of the Japan-time day holding `unix_ms`.
pub(super) fn day_start(unix_ms: u64) -> u64 {
    let offset = REPORT_OFFSET.whole_seconds() as u64 * 1000;
    (unix_ms + offset) / DAY_MS * DAY_MS - offset
}

/// A date (start of that Japan-time day; with `end`, the start of the next) or an RFC 3339
/// instant, as Unix ms.
pub(super) fn parse_bound(s: &str, end: bool) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{s:?} is neither a date such as 2027-01-04 nor a time such as 2027-01-04T09:00:00+09:00"
        ))
    };
    // A bare date is exactly ten characters; anything longer must be a full instant.
    let date = if s.len() == 10 {
        time::Date::parse(s, &time::format_description::well_known::Iso8601::DATE).ok()
    } else {
        None
    };
    let dt = match date {
        Some(d) => {
            let start = d.midnight().assume_offset(REPORT_OFFSET);
            if end {
                start + time::Duration::DAY
            } else {
                start
            }
        }
        None => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| bad())?,
    };
    u64::try_from(dt.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

/// Unix ms as a Japan-time RFC 3339 string.
fn rfc3339(unix_ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .map(|t| t.to_offset(REPORT_OFFSET))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_japan_time_days_or_instants() {
        // 2027-01-04 00:00 +09:00 is 2027-01-03T15:00:00Z.
        let jan4 = 1_798_988_400_000;
        assert_eq!(parse_bound("2027-01-04", false).unwrap(), jan4);
        assert_eq!(parse_bound("2027-01-04", true).unwrap(), jan4 + DAY_MS);
        assert_eq!(
            parse_bound("2027-01-04T09:30:00+09:00", true).unwrap(),
            jan4 + 9 * HOUR_MS + 30 * 60_000
        );
        assert!(parse_bound("yesterday", false).is_err());
        assert_eq!(day_start(jan4 + 23 * HOUR_MS), jan4);
        assert_eq!(day_start(jan4 + DAY_MS), jan4 + DAY_MS);
        assert_eq!(rfc3339(jan4), "2027-01-04T00:00:00+09:00");
    }
}
