//! `GET /scenarios/{name}/analytics?from=2027-01-04&to=2027-01-31`: how callers went through
//! a scenario in a period (Japan-time days, or RFC 3339 instants), folded from the stored
//! call records ([`crate::ivr::analytics`]).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::Json;
use madoguchi_scenario::Scenario;
use redb::{TableDefinition, TableError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{blocking, ApiError, QueryParams};
use super::queues::{day_start, parse_bound, DAY_MS, MAX_REPORT_DAYS};
use super::ApiState;
use crate::ivr::analytics::Analytics;
use crate::ivr::log::{CallRecord, CALLS_TABLE};

const CALLS: TableDefinition<&str, &[u8]> = TableDefinition::new(CALLS_TABLE);
/// Records one report reads at most (a bound on one request's work).
const MAX_RECORDS: usize = 500_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// First day (`2027-01-04`, Japan time) or an RFC 3339 instant; default today.
    from: Option<String>,
    /// Last day, included, or an RFC 3339 instant, excluded; default: the day `from` names.
    to: Option<String>,
}

pub async fn analytics(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<AnalyticsQuery>,
) -> Result<Json<Value>, ApiError> {
    let from = match q.from.as_deref() {
        Some(s) => parse_bound(s, false)?,
        None => day_start(crate::core::unix_now_ms()),
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
    if state.scenarios.live(&name)?.is_none() && state.scenarios.get(&name, 1)?.is_none() {
        return Err(ApiError::not_found(format!("no scenario {name:?}")));
    }
    blocking(move || {
        let mut a = Analytics::default();
        let mut docs: HashMap<u32, Option<Scenario>> = HashMap::new();
        let mut truncated = false;
        let tx = state
            .store
            .db()
            .begin_read()
            .map_err(|e| ApiError::internal(format!("store: {e}")))?;
        match tx.open_table(CALLS) {
            Ok(table) => {
                let (lo, hi) = (format!("{from:016}"), format!("{to:016}"));
                let rows = table
                    .range::<&str>(lo.as_str()..hi.as_str())
                    .map_err(|e| ApiError::internal(format!("store: {e}")))?;
                for (n, row) in rows.enumerate() {
                    if n == MAX_RECORDS {
                        truncated = true;
                        break;
                    }
                    let (_, v) = row.map_err(|e| ApiError::internal(format!("store: {e}")))?;
                    let Ok(rec) = serde_json::from_slice::<CallRecord>(v.value()) else {
                        continue;
                    };
                    if rec.scenario != name {
                        continue;
                    }
                    let doc = docs.entry(rec.scenario_version).or_insert_with(|| {
                        state
                            .scenarios
                            .get(&name, rec.scenario_version)
                            .ok()
                            .flatten()
                            .map(|s| s.scenario)
                    });
                    a.add(&rec, doc.as_ref());
                }
            }
            Err(TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(ApiError::internal(format!("store: {e}"))),
        }
        Ok(Json(json!({
            "scenario": name,
            "from": crate::ivr::plan::rfc3339(from, 9 * 3600),
            "to": crate::ivr::plan::rfc3339(to, 9 * 3600),
            "calls": a.calls,
            "versions": a.versions,
            "nodes": a.nodes,
            "destinations": a.destinations,
            "endings": a.endings,
            "funnel": a.funnel(),
            "truncated": truncated,
        })))
    })
    .await
}
