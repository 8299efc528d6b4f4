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

/// How many records one search reads at most (a filter that matches nothing stops here).
const MAX_SCAN: usize = 200_000;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// How many records (default 50, at most 1000).
    limit: Option<usize>,
    /// Paging: only records whose key sorts before this one (the `next` of the last page).
    before: Option<String>,
    /// Calls that started at or after this time: RFC 3339 or a Japan date `2027-01-04`.
    from: Option<String>,
    /// Calls that started before this time (RFC 3339, or a Japan date: up to its end).
    to: Option<String>,
    /// A number anywhere: the caller, what was dialled, the DID or the user.
    number: Option<String>,
    /// The DID (scenario number) dialled.
    did: Option<String>,
    /// The staff user the call rang or reached (also an IVR transfer to that user).
    user: Option<String>,
    /// The outcome, e.g. `answered`, `unanswered`, `refused`, `caller-hangup`,
    /// `transferred` (a prefix: `transferred` matches `transferred:user:1001`).
    outcome: Option<String>,
    /// `user`, `transfer`, `queue`, `line_test`, `feature`, or `ivr` (the IVR's records).
    kind: Option<String>,
}

/// A time bound: RFC 3339, or `YYYY-MM-DD` in Japan time (`end` = the day after).
fn bound_ms(text: &str, end: bool) -> Result<u64, ApiError> {
    if let Some(ms) = crate::observe::time::parse_rfc3339_ms(text) {
        return Ok(ms);
    }
    let day = format!("{}T00:00:00+09:00", text.trim());
    match crate::observe::time::parse_rfc3339_ms(&day) {
        Some(ms) if end => Ok(ms + 86_400_000),
        Some(ms) => Ok(ms),
        None => Err(ApiError::bad_request(format!(
            "{text:?} is neither an RFC 3339 time (2027-01-04T10:00:00+09:00) nor a date (2027-01-04)"
        ))),
    }
}

impl ListQuery {
    fn is_filtered(&self) -> bool {
        self.number.is_some()
            || self.did.is_some()
            || self.user.is_some()
            || self.outcome.is_some()
            || self.kind.is_some()
    }

    fn matches(&self, r: &Value) -> bool {
        let field = |name: &str| r.get(name).and_then(Value::as_str).unwrap_or("");
        let outcome = field("outcome");
        // The IVR's records have no `kind`.
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("ivr");
        if let Some(k) = &self.kind {
            if kind != k {
                return false;
            }
        }
        if let Some(o) = &self.outcome {
            if !outcome.starts_with(o.as_str()) {
                return false;
            }
        }
        if let Some(d) = &self.did {
            if field("did") != d {
                return false;
            }
        }
        if let Some(u) = &self.user {
            let reached = field("user") == u
                || outcome
                    .strip_prefix("transferred:user:")
                    .is_some_and(|x| x == u);
            if !reached {
                return false;
            }
        }
        if let Some(n) = &self.number {
            let any = ["caller", "callee", "did", "user"]
                .iter()
                .any(|f| field(f).contains(n.as_str()));
            if !any {
                return false;
            }
        }
        true
    }
}

/// Adds `started_at` / `ended_at` (RFC 3339, Japan time) beside the Unix milliseconds.
fn with_times(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        for (ms, at) in [
            ("started_unix_ms", "started_at"),
            ("answered_unix_ms", "answered_at"),
            ("ended_unix_ms", "ended_at"),
        ] {
            if let Some(t) = m.get(ms).and_then(Value::as_u64) {
                m.insert(
                    at.into(),
                    Value::String(crate::observe::time::rfc3339_jst_ms(t)),
                );
            }
        }
    }
    v
}

/// `GET /calls?limit=N&before=KEY&from=…&to=…&number=…&did=…&user=…&outcome=…&kind=…`:
/// `{"calls": [...newest first], "next": KEY|null}`. Every call has a record: calls between
/// users, IVR calls, transfer and queue legs, unanswered and refused calls (with `status`).
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let from = q.from.as_deref().map(|t| bound_ms(t, false)).transpose()?;
    let to = q.to.as_deref().map(|t| bound_ms(t, true)).transpose()?;
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
        let low = from.map(|ms| format!("{ms:016}")).unwrap_or_default();
        let mut high = to.map(|ms| format!("{ms:016}"));
        if let Some(b) = q.before.clone() {
            high = Some(match high {
                Some(h) if h < b => h,
                _ => b,
            });
        }
        let rows = match high.as_deref() {
            Some(h) if h > low.as_str() => table.range::<&str>(low.as_str()..h).map_err(db)?,
            Some(_) => return Ok(Json(serde_json::json!({"calls": [], "next": null}))),
            None => table.range::<&str>(low.as_str()..).map_err(db)?,
        };
        let mut calls = Vec::new();
        let mut last_key = None;
        let filtered = q.is_filtered();
        for row in rows.rev().take(MAX_SCAN) {
            let (k, v) = row.map_err(db)?;
            let record = decode(k.value(), v.value())?;
            last_key = Some(k.value().to_string());
            if filtered && !q.matches(&record) {
                continue;
            }
            calls.push(with_times(record));
            if calls.len() == limit {
                break;
            }
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
                return Ok(Json(with_times(r)));
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
                return decode(k.value(), v.value()).map(|r| Json(with_times(r)));
            }
        }
        Err(no_call(&call_id))
    })
    .await
}

/// `GET /calls/{call_id}/sip`: the call's SIP messages in and out (every leg), as kept by
/// the bounded trace (see `observe::trace`); 404 once it has expired.
pub async fn sip_trace(
    State(state): State<ApiState>,
    Path(call_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .trace
        .as_ref()
        .and_then(|t| t.get(&call_id))
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no SIP trace for call {call_id:?}")))
}

/// `GET /calls/live`: the calls in progress with their state (`calls`, oldest first) and
/// what else the server says is live (the scenarios by DID).
pub async fn live(State(state): State<ApiState>) -> Json<Value> {
    let mut v = state.hooks.live_calls();
    let calls = state
        .live
        .as_ref()
        .map(|l| serde_json::to_value(l.list()).unwrap_or_default())
        .unwrap_or_else(|| serde_json::json!([]));
    if let Value::Object(m) = &mut v {
        m.insert("calls".into(), calls);
    }
    Json(v)
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
