//! The browser softphone at `/phone/`: static assets embedded in the binary (no CDN), and
//! `config.json` naming the SIP WebSocket listener the page registers on.

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;

use crate::api::ApiState;

const INDEX: &str = include_str!("../assets/phone/index.html");
const JS: &str = include_str!("../assets/phone/phone.js");
const CSS: &str = include_str!("../assets/phone/phone.css");
/// JsSIP 3.13.8 from npm, bundled for the browser (see `assets/phone/vendor/VENDOR.md`).
const JSSIP: &str = include_str!("../assets/phone/vendor/jssip-3.13.8.min.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /phone/status.json` with HTTP Basic (extension and SIP password, checked against
/// the stored digest HA1): the callers waiting in the queues this member belongs to. A
/// wrong password is answered after a second, to slow guessing.
async fn status(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let Some((ext, password)) = basic(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let user = state.store.get_user(&ext).ok().flatten();
    let ok = user.is_some_and(|u| {
        !u.disabled && madoguchi_sip::auth::ha1_md5(&ext, &u.realm, &password) == u.ha1_md5
    });
    if !ok {
        tracing::info!(extension = %ext, "softphone status: wrong extension or password");
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let queues = state.hooks.queues();
    let mut waiting = 0;
    let mut names = Vec::new();
    for q in queues["queues"].as_array().into_iter().flatten() {
        let member = q["live"]["members"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m[0].as_str() == Some(ext.as_str()));
        if member {
            waiting += q["live"]["waiting"].as_u64().unwrap_or(0);
            names.push(q["name"].clone());
        }
    }
    Json(serde_json::json!({ "waiting": waiting, "queues": names })).into_response()
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = value.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// `/phone/…` routes. `ws` is the first `ws:` listener (the page connects to it).
pub fn router(ws: Option<SocketAddr>, callcenter: Option<String>, state: ApiState) -> Router {
    let config = serde_json::json!({
        "ws": ws.map(|a| format!("ws://{a}")),
        "callcenter": callcenter,
        "status": true,
    });
    Router::new()
        .route("/phone/status.json", get(status).with_state(state))
        .route("/phone", get(|| async { Redirect::permanent("/phone/") }))
        .route(
            "/phone/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/phone/phone.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/phone/phone.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/phone/vendor/jssip-3.13.8.min.js",
            get(|| async { asset("text/javascript; charset=utf-8", JSSIP) }),
        )
        .route(
            "/phone/config.json",
            get(move || {
                let c = config.clone();
                async move { Json(c) }
            }),
        )
}
