//! `/api/v1/trunks`: every trunk's state (registered, last error, next attempt, health;
//! never the password), and changes at run time (`PUT` adds or replaces one, `DELETE`
//! removes one). A change starts the trunk's machines over at once; it lasts until the
//! server restarts with its configuration file.

use std::time::Instant;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};
use madoguchi_trunk::set::TrunkStatus;
use madoguchi_trunk::TrunkConfig;
use serde_json::{json, Value};

use super::TrunkHandle;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, JsonBody};
use crate::core::unix_now_ms;

/// Milliseconds since the epoch of a monotonic instant (`now` ↔ `now_ms`).
fn at_ms(t: Instant, now: Instant, now_ms: u64) -> u64 {
    if t >= now {
        now_ms + (t - now).as_millis() as u64
    } else {
        now_ms.saturating_sub((now - t).as_millis() as u64)
    }
}

fn status_json(s: &TrunkStatus, now: Instant, now_ms: u64) -> Value {
    let reg = s.registration.as_ref();
    json!({
        "name": s.name,
        "proxy": s.proxy.to_string(),
        "register": s.registers,
        "registered": reg.map(|r| r.registered),
        "expires_at_ms": reg.and_then(|r| r.expires_at).map(|t| at_ms(t, now, now_ms)),
        "last_error": reg.and_then(|r| r.last_error.clone()),
        "failures": reg.map(|r| r.failures),
        "next_attempt_ms": reg.and_then(|r| r.next_attempt).map(|t| at_ms(t, now, now_ms)),
        "health": s.health,
        "health_error": s.health_error,
        "dids": s.dids,
        "caller_id": s.caller_id,
    })
}

/// `GET /trunks`: `{"trunks": [...], "callcenter": [...routes with health]}`.
pub async fn list(Extension(trunks): Extension<TrunkHandle>) -> Json<Value> {
    let (now, now_ms) = (Instant::now(), unix_now_ms());
    let set = trunks.lock();
    let list: Vec<Value> = set
        .status(now)
        .iter()
        .map(|s| status_json(s, now, now_ms))
        .collect();
    let cc: Vec<Value> = set
        .callcenter_routes(now)
        .iter()
        .map(|r| json!({"uri": r.uri, "trunk": r.trunk, "health": r.health}))
        .collect();
    Json(json!({ "trunks": list, "callcenter": cc }))
}

/// `GET /trunks/{name}`.
pub async fn one(
    Extension(trunks): Extension<TrunkHandle>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (now, now_ms) = (Instant::now(), unix_now_ms());
    let set = trunks.lock();
    set.status(now)
        .iter()
        .find(|s| s.name == name)
        .map(|s| Json(status_json(s, now, now_ms)))
        .ok_or_else(|| ApiError::not_found(format!("no trunk {name:?}")))
}

/// `PUT /trunks/{name}` with the `[[trunk]]` keys as JSON: adds or replaces the trunk.
pub async fn put(
    Extension(trunks): Extension<TrunkHandle>,
    caller: Option<Extension<Caller>>,
    Path(name): Path<String>,
    JsonBody(mut body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let obj = body
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("expected a JSON object with the [[trunk]] keys"))?;
    match obj.get("name") {
        None => {
            obj.insert("name".into(), Value::String(name.clone()));
        }
        Some(n) if n.as_str() == Some(&name) => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "name in the body differs from the path",
            ))
        }
    }
    // Checked before deserialising, so no error message can ever quote a password.
    if obj.get("password").is_some_and(|p| !p.is_string()) {
        return Err(ApiError::bad_request("password: expected a string"));
    }
    let cfg: TrunkConfig = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("bad trunk: {e}")))?;
    let proxy = cfg
        .proxy_addr()
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let local = trunks
        .local_for(proxy)
        .ok_or_else(|| ApiError::unprocessable("no UDP listener of the proxy's address family"))?;
    let existed = {
        let mut set = trunks.lock();
        let existed = set.get(&name).is_some();
        set.upsert(cfg, local, Instant::now())
            .map_err(|e| ApiError::unprocessable(e.to_string()))?;
        existed
    };
    trunks.kick.notify_one();
    let who = caller.map(|Extension(c)| c.name).unwrap_or_default();
    tracing::info!(trunk = %name, who, replaced = existed, "trunk changed through the API");
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let (now, now_ms) = (Instant::now(), unix_now_ms());
    let set = trunks.lock();
    let s = set.status(now).into_iter().find(|s| s.name == name);
    Ok((
        status,
        Json(s.map(|s| status_json(&s, now, now_ms)).unwrap_or_default()),
    ))
}

/// `DELETE /trunks/{name}`.
pub async fn remove(
    Extension(trunks): Extension<TrunkHandle>,
    caller: Option<Extension<Caller>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !trunks.lock().remove(&name) {
        return Err(ApiError::not_found(format!("no trunk {name:?}")));
    }
    trunks.kick.notify_one();
    let who = caller.map(|Extension(c)| c.name).unwrap_or_default();
    tracing::info!(trunk = %name, who, "trunk removed through the API");
    Ok(Json(json!({ "removed": name })))
}
