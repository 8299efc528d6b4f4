//! Plugin components: upload (raw `.wasm` body), list, metadata, removal.
//!
//! The registry checks a component completely before storing it (is a component, exports
//! one known world, links against the host), so a refused upload answers 422 with the
//! reason and stores nothing. Removal is refused (409) while a live scenario version uses
//! the plugin: calls in progress would lose it mid-call otherwise.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use madoguchi_plugin_host::PluginMeta;

use super::auth::Caller;
use super::error::{blocking, ApiError};
use super::ApiState;

/// `POST /plugins/{name}/{version}`: 201 with the stored metadata (200 if these exact bytes
/// were already stored under that reference).
pub async fn upload(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<PluginMeta>), ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty body: send the component (.wasm) bytes as the request body",
        ));
    }
    let reference = format!("{name}@{version}");
    let existed = state.plugins.meta(&reference).ok().flatten().is_some();
    let registry = state.plugins.clone();
    let meta = blocking(move || Ok(registry.upload(&name, &version, &body, None)?)).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        tracing::info!(plugin = %reference, kind = %meta.kind, who = %caller.who(), "plugin uploaded");
        StatusCode::CREATED
    };
    Ok((status, Json(meta)))
}

/// `GET /plugins`: every stored version, ordered by reference.
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<PluginMeta>>, ApiError> {
    Ok(Json(state.plugins.list()?))
}

/// `GET /plugins/{name}/{version}`.
pub async fn meta(
    State(state): State<ApiState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PluginMeta>, ApiError> {
    let reference = format!("{name}@{version}");
    madoguchi_plugin_host::parse_reference(&reference)?;
    state
        .plugins
        .meta(&reference)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no plugin {reference}")))
}

/// `DELETE /plugins/{name}/{version}`: 200 with the removed metadata; 409 while a live
/// scenario version uses it.
pub async fn remove(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PluginMeta>, ApiError> {
    let reference = format!("{name}@{version}");
    let meta = blocking(move || {
        let _live = state.lock_live_changes();
        let pinned = state.scenarios.pinned_plugins()?.into_iter().collect();
        Ok(state.plugins.remove(&reference, &pinned)?)
    })
    .await?;
    tracing::info!(plugin = %meta.reference(), who = %caller.who(), "plugin removed");
    Ok(Json(meta))
}
