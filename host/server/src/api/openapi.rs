//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document generated from the code.
//!
//! The paths and methods are read from the router's own route table (the `.route(…)` calls
//! of `api/mod.rs`, compiled in), so a route added there is in the document without another
//! edit; the permission each operation needs comes from [`super::auth::required`], the same
//! function the middleware enforces. Summaries and query parameters come from [`DOCS`] where
//! a route has them. A test sends every documented operation to the real router (none may
//! be unrouted) and checks that every `.route(…)` is documented.

use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::required;

/// The route table's source.
const ROUTER_SOURCE: &str = include_str!("mod.rs");

/// `(method, path)` of every route of [`super::router`], from its source.
pub fn routes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = ROUTER_SOURCE;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        // The call's text up to its closing parenthesis.
        let mut depth = 1;
        let mut end = rest.len();
        for (j, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &rest[..end];
        let Some(path) = call.split('"').nth(1).filter(|p| p.starts_with('/')) else {
            continue;
        };
        let path = format!("/api/v1{path}");
        for m in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{m}(");
            let found = call.match_indices(&needle).any(|(k, _)| {
                k == 0
                    || !call[..k]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if found {
                out.push((m.to_string(), path.clone()));
            }
        }
    }
    out
}

/// Summaries and query parameters: `(method, path, summary, query parameters)`.
const DOCS: &[(&str, &str, &str, &[&str])] = &[
    (
        "post",
        "/api/v1/login",
        "Log in to the console (sets the session and CSRF cookies)",
        &[],
    ),
    ("post", "/api/v1/logout", "End the console session", &[]),
    (
        "get",
        "/api/v1/session",
        "Who is logged in: user, role, permissions, CSRF token",
        &[],
    ),
    (
        "get",
        "/api/v1/audit",
        "Read the append-only audit log, newest first",
        &["from", "to", "user", "action", "object", "limit", "cursor"],
    ),
    (
        "get",
        "/api/v1/recordings",
        "Search recordings, newest first",
        &[
            "from",
            "to",
            "caller",
            "did",
            "user",
            "scenario",
            "direction",
            "min_duration",
            "complete",
            "repaired",
            "limit",
            "cursor",
        ],
    ),
    (
        "get",
        "/api/v1/recordings/{id}",
        "A recording's metadata and its call's event log",
        &[],
    ),
    (
        "get",
        "/api/v1/recordings/{id}/audio",
        "A recording's audio (audio/wav, HTTP Range)",
        &["mix", "download"],
    ),
    (
        "delete",
        "/api/v1/recordings/{id}",
        "Delete a recording, with a reason",
        &[],
    ),
    ("get", "/api/v1/console-users", "List console users", &[]),
    ("post", "/api/v1/console-users", "Add a console user", &[]),
    (
        "patch",
        "/api/v1/console-users/{name}",
        "Change a console user's role, disable, reset password",
        &[],
    ),
    (
        "post",
        "/api/v1/scenarios/validate",
        "Validate a scenario document",
        &[],
    ),
    (
        "post",
        "/api/v1/scenarios",
        "Upload a scenario version (and publish it)",
        &["publish", "why"],
    ),
    ("get", "/api/v1/scenarios", "List scenarios", &[]),
    (
        "get",
        "/api/v1/scenarios/{name}",
        "A scenario's versions, live version and audit",
        &[],
    ),
    (
        "post",
        "/api/v1/scenarios/{name}/publish",
        "Publish a version",
        &[],
    ),
    (
        "post",
        "/api/v1/scenarios/{name}/rollback",
        "Roll back to an earlier version",
        &[],
    ),
    (
        "get",
        "/api/v1/calls",
        "Call records, newest first",
        &["limit", "before"],
    ),
    ("get", "/api/v1/calls/live", "Calls in progress", &[]),
    (
        "get",
        "/api/v1/calls/{call_id}",
        "One call record with its event log",
        &[],
    ),
    (
        "get",
        "/api/v1/queues",
        "Call queues: live state and figures",
        &[],
    ),
    (
        "post",
        "/api/v1/queues/members/{user}",
        "Log a queue member in or out, pause",
        &[],
    ),
    (
        "get",
        "/api/v1/queues/{name}/history",
        "A queue's report per hour or day",
        &["from", "to", "interval"],
    ),
    (
        "put",
        "/api/v1/test/clock",
        "Set the test clock (test mode only)",
        &[],
    ),
];

fn operation(method: &str, path: &str) -> Value {
    let doc = DOCS.iter().find(|(m, p, _, _)| *m == method && *p == path);
    let summary = doc.map_or_else(
        || {
            format!(
                "{} {}",
                method.to_uppercase(),
                path.trim_start_matches("/api/v1")
            )
        },
        |d| d.2.to_string(),
    );
    let mut params: Vec<Value> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    for q in doc.map_or(&[][..], |d| d.3) {
        params.push(
            json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
        );
    }
    let http_method = axum::http::Method::from_bytes(method.to_uppercase().as_bytes())
        .unwrap_or(axum::http::Method::GET);
    let public =
        path == "/api/v1/login" || path == "/api/v1/health" || path.ends_with("openapi.json");
    let mut op = json!({
        "operationId": format!("{method}{}", path.trim_start_matches("/api/v1").replace(['/', '{', '}', '-'], "_")),
        "summary": summary,
        "parameters": params,
        "responses": {
            "200": {"description": "OK"},
            "400": {"description": "Bad input", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "Not logged in / no token"},
            "403": {"description": "The role lacks the permission (audited)"},
            "404": {"description": "Unknown object"},
        },
    });
    if public {
        op["security"] = json!([]);
    } else {
        op["x-permission"] = json!(required(&http_method, path));
    }
    if path.ends_with("/audio") {
        op["responses"]["206"] = json!({"description": "Partial content (Range)"});
        op["responses"]["416"] = json!({"description": "Range not satisfiable"});
        op["responses"]["200"]["content"] = json!({"audio/wav": {}});
    }
    op
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut all = routes();
    all.push(("get".into(), "/api/v1/health".into()));
    all.push(("get".into(), "/api/v1/openapi.json".into()));
    for (m, p) in all {
        let entry = paths.entry(p.clone()).or_insert_with(|| json!({}));
        entry[m.as_str()] = operation(&m, &p);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "madoguchi admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "IVR / cloud PBX admin API. Authenticate with `Authorization: Bearer mdg_…` \
                (madoguchi token create) or the console session cookie from POST /api/v1/login, \
                plus X-CSRF-Token on changes. `x-permission` names what each operation needs; \
                roles: admin, supervisor, operator, auditor, viewer.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": super::auth::SESSION_COOKIE},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Method, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[test]
    fn the_route_table_is_read() {
        let r = routes();
        assert!(r.contains(&("get".into(), "/api/v1/recordings/{id}/audio".into())));
        assert!(r.contains(&("delete".into(), "/api/v1/recordings/{id}".into())));
        assert!(r.contains(&("post".into(), "/api/v1/login".into())));
        assert!(r.contains(&("patch".into(), "/api/v1/console-users/{name}".into())));
        assert!(r.contains(&("get".into(), "/api/v1/plugins/{name}/{version}".into())));
        assert!(r.contains(&("delete".into(), "/api/v1/plugins/{name}/{version}".into())));
        // Every `.route(` call of the table yields at least one operation.
        let calls = ROUTER_SOURCE.matches(".route(").count();
        let paths: std::collections::BTreeSet<&str> = r.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(paths.len(), calls, "{paths:?}");
    }

    /// Every operation of the document reaches a handler of the real router (an unrouted
    /// path is axum's empty 404, a wrong method 405), and every documented operation is in
    /// the document: the two cannot drift apart.
    #[tokio::test]
    async fn every_route_of_the_router_is_in_the_document() {
        let f = super::super::tests::fixture();
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for (m, p) in routes() {
            assert!(paths[&p].get(&m).is_some(), "{m} {p} not documented");
        }
        let mut checked = 0;
        for (path, ops) in paths {
            if path == "/api/v1/health" {
                continue; // served by `serve` beside this router
            }
            for (m, _) in ops.as_object().unwrap() {
                let uri = path
                    .split('/')
                    .map(|s| if s.starts_with('{') { "x" } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
                let req = axum::http::Request::builder()
                    .method(method)
                    .uri(&uri)
                    .header("authorization", format!("Bearer {}", f.admin))
                    .body(Body::empty())
                    .unwrap();
                let resp = f.app.clone().oneshot(req).await.unwrap();
                let status = resp.status();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {uri}");
                assert!(
                    !(status == StatusCode::NOT_FOUND && body.is_empty()),
                    "{m} {uri} is documented but not routed"
                );
                checked += 1;
            }
        }
        assert!(checked >= 35, "{checked}");
    }
}
