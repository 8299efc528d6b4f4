//! Call queues: live state and period figures (R-OPS-5), and members' log-in, log-out and
//! pause (R-OPS-2) — the same changes the `*45`/`*46` feature codes make from a phone.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiError, JsonBody};
use super::ApiState;

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
