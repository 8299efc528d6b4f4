//! Call records (`ivr.calls`, written by the IVR core) and the calls in progress.
//!
//! Keys are `{started_unix_ms:016}-{call_id}`, so key order is start order and the newest
//! calls are read from the end of the table without loading the rest. Records are returned
//! exactly as stored: the IVR core owns their shape.

use axum::extract::{Path, State};
use axum::Json;
use redb::{ReadableTable, TableDefinition, TableError};
use serde::Deserialize;
use serde_json::Value;

use super::error::{blocking, ApiError, QueryParams};
use super::ApiState;

/// The table the IVR core writes one JSON record per call into, and its index by Call-ID.
pub use crate::ivr::log::{CALLS_BY_ID_TABLE, CALLS_TABLE};
const CALLS: TableDefinition<&str, &[u8]> = TableDefinition::new(CALLS_TABLE);

/// Answers are capped so one request cannot read the whole history.
const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 50;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// How many records (default 50, at most 1000).
    limit: Option<usize>,
    /// Paging: only records whose key sorts before this one (the `next` of the last page).
    before: Option<String>,
}

/// `GET /calls?limit=N&before=KEY`: `{"calls": [...newest first], "next": KEY|null}`.
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let store = state.store.clone();
    blocking(move || {
        let tx = store.db().begin_read().map_err(db)?;
        let table = match tx.open_table(CALLS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => {
                return Ok(Json(serde_json::json!({"calls": [], "next": null})))
            }
            Err(e) => return Err(db(e)),
        };
        let rows = match q.before.as_deref() {
            Some(b) => table.range::<&str>(..b).map_err(db)?,
            None => table.iter().map_err(db)?,
        };
        let mut calls = Vec::new();
        let mut last_key = None;
        for row in rows.rev().take(limit) {
            let (k, v) = row.map_err(db)?;
            calls.push(decode(k.value(), v.value())?);
            last_key = Some(k.value().to_string());
        }
        let next = if calls.len() == limit { last_key } else { None };
        Ok(Json(serde_json::json!({"calls": calls, "next": next})))
    })
    .await
}

/// `GET /calls/{call_id}`: the record of one call.
pub async fn one(
    State(state): State<ApiState>,
    Path(call_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        // The index first; records stored before it existed are found by a scan.
        let indexed: Option<String> = store
            .get_json(CALLS_BY_ID_TABLE, &call_id)
            .map_err(|e| ApiError::internal(format!("store: {e}")))?;
        if let Some(key) = indexed {
            let record: Option<Value> = store
                .get_json(CALLS_TABLE, &key)
                .map_err(|e| ApiError::internal(format!("store: {e}")))?;
            if let Some(r) = record {
                return Ok(Json(r));
            }
        }
        let tx = store.db().begin_read().map_err(db)?;
        let table = match tx.open_table(CALLS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Err(no_call(&call_id)),
            Err(e) => return Err(db(e)),
        };
        // The id is not a key prefix: scan from the newest (the likely ones) backwards.
        for row in table.iter().map_err(db)?.rev() {
            let (k, v) = row.map_err(db)?;
            if key_call_id(k.value()) == Some(call_id.as_str()) {
                return decode(k.value(), v.value()).map(Json);
            }
        }
        Err(no_call(&call_id))
    })
    .await
}

/// `GET /calls/live`: what the server says is in progress.
pub async fn live(State(state): State<ApiState>) -> Json<Value> {
    Json(state.hooks.live_calls())
}

/// The call id part of a `{ms:016}-{call_id}` key.
fn key_call_id(key: &str) -> Option<&str> {
    let (ms, id) = key.split_at_checked(16)?;
    (ms.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
    id.strip_prefix('-')
}

fn decode(key: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("call record {key} is not JSON: {e}")))
}

fn no_call(id: &str) -> ApiError {
    ApiError::not_found(format!("no call record {id:?}"))
}

fn db(e: impl Into<redb::Error>) -> ApiError {
    ApiError::internal(format!("store: {}", e.into()))
}

#[cfg(test)]
mod tests {
    use super::key_call_id;

    #[test]
    fn call_ids_from_keys() {
        assert_eq!(key_call_id("0001764000000000-abc-1"), Some("abc-1"));
        assert_eq!(key_call_id("0001764000000000abc"), None);
        assert_eq!(key_call_id("short"), None);
        assert_eq!(key_call_id("x001764000000000-a"), None);
    }
}
