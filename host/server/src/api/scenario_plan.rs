//! A scenario version's acceptance test plan, and "what would a caller hear at T", computed
//! with the server's own plugins (the same components live calls run).
//!
//! - `GET /scenarios/{name}/test-plan[?version=N&from=YYYY-MM-DD]`: the plan (JSON, as
//!   `madoguchi scenario test-plan --format json` saves it) of the live version or of `N`.
//! - `GET /scenarios/{name}/simulate?at=RFC3339[&keys=1,2&transfers=busy&version=N]`: the
//!   path, the prompts with their words and the ending, without placing a call.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::error::{blocking, ApiError, QueryParams};
use super::ApiState;
use crate::ivr::plan::{self, sim::SimScenario};

#[derive(Debug, Deserialize)]
pub struct PlanQuery {
    version: Option<u32>,
    /// The first day rows may run at (default: today in Japan).
    from: Option<String>,
}

/// The stored version `version` (or the live one) of `name`, ready to simulate.
fn load(
    state: &ApiState,
    name: &str,
    version: Option<u32>,
) -> Result<(SimScenario, u32), ApiError> {
    let version = match version {
        Some(v) => v,
        None => state
            .scenarios
            .live(name)?
            .map(|l| l.version)
            .ok_or_else(|| ApiError::not_found(format!("scenario {name:?} has no live version")))?,
    };
    let stored = state.scenarios.get(name, version)?.ok_or_else(|| {
        ApiError::not_found(format!("scenario {name:?} has no version {version}"))
    })?;
    let registry = state.plugins.clone();
    let resolve = move |r: &str| registry.get(r).map_err(|e| e.to_string());
    let sc = SimScenario::new(stored.scenario, &resolve).map_err(ApiError::unprocessable)?;
    Ok((sc, version))
}

/// `GET /scenarios/{name}/test-plan`.
pub async fn test_plan(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<PlanQuery>,
) -> Result<Json<Value>, ApiError> {
    let from = match q.from.as_deref() {
        Some(f) => plan::parse_date(f).map_err(ApiError::bad_request)?,
        None => plan::today(madoguchi_plugin_host::clock::JST_OFFSET_SECS),
    };
    blocking(move || {
        let (sc, version) = load(&state, &name, q.version)?;
        let p = plan::build(&sc, Some(version), from);
        Ok(Json(
            serde_json::to_value(p).map_err(|e| ApiError::internal(e.to_string()))?,
        ))
    })
    .await
}

#[derive(Debug, Deserialize)]
pub struct SimulateQuery {
    /// RFC 3339, e.g. `2027-01-06T10:00:00+09:00`.
    at: String,
    /// One input per menu, comma-separated; `-` is silence. After them: silence.
    #[serde(default)]
    keys: String,
    /// How each transfer ends, in order (`answered`, `busy`, `no-answer`, `failed`); after
    /// them: answered.
    #[serde(default)]
    transfers: String,
    version: Option<u32>,
}

/// `GET /scenarios/{name}/simulate`.
pub async fn simulate(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    QueryParams(q): QueryParams<SimulateQuery>,
) -> Result<Json<Value>, ApiError> {
    let at = crate::ivr::setup::parse_instant(&q.at).map_err(ApiError::bad_request)?;
    let keys: Vec<String> = split(&q.keys);
    let transfers = split(&q.transfers)
        .iter()
        .map(|t| {
            plan::sim::TransferOutcome::parse(t).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "transfers: {t:?} is not answered, busy, no-answer or failed"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    blocking(move || {
        let (sc, version) = load(&state, &name, q.version)?;
        let mut v = plan::simulate_path(&sc, at, &keys, &transfers);
        v["version"] = serde_json::json!(version);
        Ok(Json(v))
    })
    .await
}

fn split(s: &str) -> Vec<String> {
    if s.trim().is_empty() {
        return Vec::new();
    }
    s.split(',').map(|k| k.trim().to_string()).collect()
}
