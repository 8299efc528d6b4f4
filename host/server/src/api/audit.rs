//! The audit log through the API: [`append`] for handlers (who, from where, what, which
//! object) and `GET /audit` to read it. The log itself is the store's append-only table
//! (`madoguchi_store::audit`); nothing here or anywhere else edits or deletes an entry.

use axum::extract::State;
use axum::Json;
use madoguchi_store::{AuditEntry, AuditQuery, NewAudit};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{blocking, ApiError, QueryParams};
use super::jst;
use super::ApiState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Appends an audit entry for `caller` (on the blocking pool: it waits for a disk sync).
/// Handlers that serve personal data call this *before* answering and refuse when it fails,
/// so that no read goes unaudited.
pub async fn append(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    object: &str,
    detail: Value,
) -> Result<u64, ApiError> {
    let store = state.store.clone();
    let (who, source) = (caller.who(), caller.source.clone());
    let (action, object) = (action.to_string(), object.to_string());
    blocking(move || {
        store
            .append_audit(&NewAudit {
                who: &who,
                action: &action,
                object: &object,
                source: &source,
                detail,
            })
            .map_err(|e| ApiError::internal(format!("cannot write the audit log: {e}")))
    })
    .await
}

/// [`append`] after a change already made: a failure is logged, the answer stands.
pub async fn after_change(
    state: &ApiState,
    caller: &Caller,
    action: &str,
    object: &str,
    detail: Value,
) {
    if let Err(e) = append(state, caller, action, object, detail).await {
        tracing::error!(action, object, error = %e.message, "change not audited");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Date (Japan time) or RFC 3339 instant.
    from: Option<String>,
    /// Date (included) or RFC 3339 instant (excluded).
    to: Option<String>,
    /// Exact actor.
    user: Option<String>,
    /// Exact action, or a prefix ending in `.`.
    action: Option<String>,
    /// Substring of the object (a recording id finds its entries).
    object: Option<String>,
    limit: Option<usize>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

/// An entry as the API shows it (`at` in Japan time).
pub fn entry_json(e: &AuditEntry) -> Value {
    json!({
        "seq": e.seq,
        "at": jst::format_ms(e.at_unix_ms),
        "at_unix_ms": e.at_unix_ms,
        "who": e.who,
        "action": e.action,
        "object": e.object,
        "source": e.source,
        "detail": e.detail,
    })
}

fn parse_cursor(s: &str) -> Result<(u64, u64), ApiError> {
    let bad = || ApiError::bad_request(format!("cursor={s:?} is not a cursor this API gave"));
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// `GET /audit?from=&to=&user=&action=&object=&limit=&cursor=`:
/// `{"items": [...newest first], "next": CURSOR|null}`.
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(p): QueryParams<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let q = AuditQuery {
        from_ms: p
            .from
            .as_deref()
            .map(|s| jst::parse_bound("from", s, false))
            .transpose()?,
        to_ms: p
            .to
            .as_deref()
            .map(|s| jst::parse_bound("to", s, true))
            .transpose()?,
        who: p.user.filter(|s| !s.is_empty()),
        action: p.action.filter(|s| !s.is_empty()),
        object: p.object.filter(|s| !s.is_empty()),
        before: p.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let store = state.store.clone();
    let page = blocking(move || Ok(store.query_audit(&q)?)).await?;
    Ok(Json(json!({
        "items": page.entries.iter().map(entry_json).collect::<Vec<_>>(),
        "next": page.next.map(|(a, b)| format!("{a}-{b}")),
    })))
}

/// Routes whose handlers write their own, more precise entries (or that change nothing).
fn self_audited(route: &str) -> bool {
    route.starts_with("/recordings")
        || route.starts_with("/console-users")
        || matches!(route, "/login" | "/logout" | "/scenarios/validate")
}

/// The audit action and object of a change: `scenario.publish`, `scenario:zama-mynumber`.
/// Known routes by name; any other (a route added later) as `{kind}.{verb}` with the path
/// parameters as the object, so no change goes unaudited.
pub fn describe(method: &axum::http::Method, route: &str, path: &str) -> (String, String) {
    use axum::http::Method;
    let route = route.strip_prefix("/api/v1").unwrap_or(route);
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let pat: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    let act: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let params: Vec<&str> = pat
        .iter()
        .zip(&act)
        .filter(|(p, _)| p.starts_with('{'))
        .map(|(_, a)| *a)
        .collect();
    let literals: Vec<&str> = pat
        .iter()
        .copied()
        .filter(|p| !p.starts_with('{'))
        .collect();
    let kind = literals
        .first()
        .map(|k| k.strip_suffix('s').unwrap_or(k))
        .unwrap_or("api")
        .to_string();
    let verb = match (method, route) {
        (&Method::POST, "/scenarios") => "upload".to_string(),
        (&Method::POST, "/plugins/{name}/{version}") => "upload".to_string(),
        (&Method::POST, "/prompts/{id}") => "upload".to_string(),
        (&Method::POST, "/queues/members/{user}") => "member".to_string(),
        _ if literals.len() > 1 => literals[1..].join("-"),
        (m, _) => match *m {
            Method::POST => "add",
            Method::PUT => "set",
            Method::PATCH => "change",
            Method::DELETE => "remove",
            _ => "change",
        }
        .to_string(),
    };
    let object = match route {
        "/plugins/{name}/{version}" => format!("plugin:{}", params.join("@")),
        "/queues/members/{user}" => format!("queue-member:{}", params.join("/")),
        _ => format!("{kind}:{}", params.join("/")),
    };
    (format!("{kind}.{verb}"), object)
}

/// Keys of a JSON body never copied into the audit log.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["password", "secret", "token", "pin"]
        .iter()
        .any(|s| k.contains(s))
}

/// Largest JSON body whose members are copied into the entry (publish reasons, queue
/// actions); bigger bodies (documents, audio) are named by the route and query alone.
const BODY_DETAIL_MAX: usize = 4096;

/// Middleware (inside the authentication): every successful change made through the API is
/// appended to the audit log, with the route, the query and the members of a small JSON
/// body (passwords and secrets left out).
pub async fn audit_changes(
    State(state): State<ApiState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let short = route.strip_prefix("/api/v1").unwrap_or(&route).to_string();
    let caller = req.extensions().get::<Caller>().cloned();
    let (Some(caller), false) = (
        caller,
        matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) || self_audited(&short),
    ) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let small = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n <= BODY_DETAIL_MAX);
    let (req, body) = if small {
        let (parts, body) = req.into_parts();
        match axum::body::to_bytes(body, BODY_DETAIL_MAX).await {
            Ok(bytes) => {
                let v: Option<Value> = serde_json::from_slice(&bytes).ok();
                (
                    axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)),
                    v,
                )
            }
            Err(_) => {
                return ApiError::bad_request("request body could not be read").into_response()
            }
        }
    } else {
        (req, None)
    };
    let resp = next.run(req).await;
    if resp.status().is_success() {
        let (action, object) = describe(&method, &route, &path);
        let mut detail =
            json!({"method": method.as_str(), "path": path, "status": resp.status().as_u16()});
        if let Some(q) = query {
            detail["query"] = Value::String(q);
        }
        if let Some(Value::Object(m)) = body {
            let kept: serde_json::Map<String, Value> =
                m.into_iter().filter(|(k, _)| !secret_key(k)).collect();
            detail["body"] = Value::Object(kept);
        }
        after_change(&state, &caller, &action, &object, detail).await;
    }
    resp
}

use axum::response::IntoResponse as _;

#[cfg(test)]
mod tests {
    use super::describe;
    use axum::http::Method;

    #[test]
    fn actions_and_objects_of_changes() {
        let d = |m: Method, r: &str, p: &str| describe(&m, r, p);
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/scenarios/{name}/publish",
                "/api/v1/scenarios/zama/publish"
            ),
            ("scenario.publish".into(), "scenario:zama".into())
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/scenarios/{name}/rollback",
                "/api/v1/scenarios/zama/rollback"
            ),
            ("scenario.rollback".into(), "scenario:zama".into())
        );
        assert_eq!(
            d(Method::POST, "/api/v1/scenarios", "/api/v1/scenarios"),
            ("scenario.upload".into(), "scenario:".into())
        );
        assert_eq!(
            d(
                Method::DELETE,
                "/api/v1/plugins/{name}/{version}",
                "/api/v1/plugins/menu/1.0.0"
            ),
            ("plugin.remove".into(), "plugin:menu@1.0.0".into())
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/prompts/{id}",
                "/api/v1/prompts/greeting"
            ),
            ("prompt.upload".into(), "prompt:greeting".into())
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/queues/members/{user}",
                "/api/v1/queues/members/1001"
            ),
            ("queue.member".into(), "queue-member:1001".into())
        );
        assert_eq!(
            d(Method::PUT, "/api/v1/test/clock", "/api/v1/test/clock"),
            ("test.clock".into(), "test:".into())
        );
        // A route added later still gets an entry.
        assert_eq!(
            d(
                Method::PUT,
                "/api/v1/hours/{dest}",
                "/api/v1/hours/cityhall"
            ),
            ("hour.set".into(), "hour:cityhall".into())
        );
    }
}
