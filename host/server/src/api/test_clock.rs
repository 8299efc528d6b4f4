//! `PUT /test/clock`: move the clock schedules and plugins see, in test mode only, so a test
//! plan can call "on a holiday at 10:00" without waiting for one.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiError, JsonBody};
use super::ApiState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetClock {
    /// RFC 3339 instant, e.g. `2027-01-04T10:00:00+09:00`.
    at: String,
}

/// Sets the clock through the server; 409 with its reason when it refuses (not in test
/// mode, or an instant it cannot read).
pub async fn set(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<SetClock>,
) -> Result<Json<Value>, ApiError> {
    state
        .hooks
        .set_clock(&body.at)
        .map_err(ApiError::conflict)?;
    Ok(Json(serde_json::json!({"clock": body.at})))
}
