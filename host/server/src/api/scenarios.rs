//! Scenarios: validate, upload a new version (optionally publishing it), list, show, get a
//! version's document, publish and roll back.
//!
//! Every change records the token's label and id as `who`. After a publish or rollback the
//! server is told ([`super::ApiHooks::published`]) so new calls take the live version at
//! once; calls in progress keep the version they started with.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use madoguchi_scenario::{Problem, Validated};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::env::RegistryEnv;
use super::error::{blocking, ApiError, JsonBody, QueryParams};
use super::ApiState;

/// Validates `body` against the uploaded plugins and prompts (on the blocking pool: this
/// runs plugins' `validate-config`).
async fn check(state: &ApiState, body: Bytes) -> Result<(Validated, Bytes), ApiError> {
    let plugins = state.plugins.clone();
    let prompts = state.prompts.clone();
    blocking(move || {
        let env = RegistryEnv::new(&plugins, &prompts);
        let v = madoguchi_scenario::validate(&body, &env)?;
        Ok((v, body))
    })
    .await
}

fn warnings(v: &Validated) -> Vec<Problem> {
    v.warnings.clone()
}

/// `POST /scenarios/validate`: 200 `{"name", "warnings": [...]}` or 422 with `problems`.
pub async fn validate(State(state): State<ApiState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let (v, _) = check(&state, body).await?;
    Ok(Json(json!({
        "valid": true,
        "name": v.scenario.name,
        "warnings": warnings(&v),
    })))
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// Publish the new version at once.
    #[serde(default)]
    publish: bool,
    /// Why (recorded with the upload and, with `publish`, the publish).
    why: Option<String>,
}

/// `POST /scenarios[?publish=true&why=…]` with the document as body: 201 with the new
/// version's metadata plus `warnings` and `published` (the audit entry, or null). If the
/// upload succeeds but the publish is refused (a DID bound elsewhere), the version stays
/// stored and the answer is the publish error, saying which version was stored.
pub async fn upload(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    QueryParams(q): QueryParams<UploadQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (v, body) = check(&state, body).await?;
    let who = caller.who();
    let why = q.why.unwrap_or_default();
    let answer = blocking(move || {
        let name = v.scenario.name.as_str();
        let meta = state.scenarios.upload(&v, &body, &who, &why)?;
        let mut answer = json!(meta);
        answer["warnings"] = json!(warnings(&v));
        answer["published"] = Value::Null;
        if q.publish {
            // Checked above, outside the lock: a plugin may have been removed since.
            let _live = state.lock_live_changes();
            if let Some(gone) = v
                .scenario
                .plugin_refs()
                .find(|r| !matches!(state.plugins.meta(r), Ok(Some(_))))
            {
                return Err(ApiError::conflict(format!(
                    "uploaded as version {} but not published: plugin {gone} was removed meanwhile",
                    meta.version
                )));
            }
            let entry = state
                .scenarios
                .publish(name, meta.version, &who, &why)
                .map_err(|e| {
                    ApiError::from(e).prefixed(format_args!(
                        "uploaded as version {} but not published",
                        meta.version
                    ))
                })?;
            state.hooks.published(name);
            answer["published"] = json!(entry);
        }
        Ok(answer)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `GET /scenarios`: `[{"name", "live", "latest"}]`.
pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for name in state.scenarios.names()? {
        let live = state.scenarios.live(&name)?.map(|p| p.version);
        let latest = state.scenarios.versions(&name)?.last().map(|m| m.version);
        out.push(json!({"name": name, "live": live, "latest": latest}));
    }
    Ok(Json(Value::Array(out)))
}

/// `GET /scenarios/{name}`: `{"name", "live": {version, by, at_unix, why}|null,
/// "versions": [...], "audit": [...]}`.
pub async fn show(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let versions = state.scenarios.versions(&name)?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("no scenario {name:?}")));
    }
    Ok(Json(json!({
        "name": name,
        "live": state.scenarios.live(&name)?,
        "versions": versions,
        "audit": state.scenarios.audit(Some(&name))?,
    })))
}

/// `GET /scenarios/{name}/versions/{v}`: the document exactly as uploaded.
pub async fn document(
    State(state): State<ApiState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let version: u32 = version.parse().map_err(|_| {
        ApiError::bad_request(format!("version {version:?} is not a version number"))
    })?;
    let stored = state.scenarios.get(&name, version)?.ok_or_else(|| {
        ApiError::not_found(format!("scenario {name:?} has no version {version}"))
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        stored.document,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishBody {
    version: u32,
    #[serde(default)]
    why: String,
}

/// `POST /scenarios/{name}/publish` `{"version": N, "why": "..."}`: 200 with the audit entry.
pub async fn publish(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<PublishBody>,
) -> Result<Json<Value>, ApiError> {
    make_live(state, caller, name, body, Action::Publish).await
}

/// `POST /scenarios/{name}/rollback` `{"version": N, "why": "..."}`: 200 with the audit entry.
pub async fn rollback(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<PublishBody>,
) -> Result<Json<Value>, ApiError> {
    make_live(state, caller, name, body, Action::Rollback).await
}

enum Action {
    Publish,
    Rollback,
}

/// Publishes or rolls back, then tells the server (which loads the version's plugins: both
/// on the blocking pool). The version is validated again first: a plugin or prompt it needs
/// may have been removed since it was uploaded (only live versions pin their plugins), and
/// a version that cannot load must not become the one the DIDs point at.
async fn make_live(
    state: ApiState,
    caller: Caller,
    name: String,
    body: PublishBody,
    action: Action,
) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let who = caller.who();
        let s = &state.scenarios;
        let _live = state.lock_live_changes();
        if let Some(stored) = s.get(&name, body.version)? {
            let env = RegistryEnv::new(&state.plugins, &state.prompts);
            madoguchi_scenario::validate(stored.document.as_bytes(), &env).map_err(|r| {
                ApiError::from(r).prefixed(format_args!(
                    "version {} of {name:?} can no longer go live",
                    body.version
                ))
            })?;
        }
        let entry = match action {
            Action::Publish => s.publish(&name, body.version, &who, &body.why)?,
            Action::Rollback => s.rollback(&name, body.version, &who, &body.why)?,
        };
        state.hooks.published(&name);
        Ok(Json(json!(entry)))
    })
    .await
}
