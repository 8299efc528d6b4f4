//! The browser softphone at `/phone/`: static assets embedded in the binary (no CDN), and
//! `config.json` naming the SIP WebSocket listener the page registers on.

use std::net::SocketAddr;

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};

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

/// `/phone/…` routes. `ws` is the first `ws:` listener (the page connects to it).
pub fn router(ws: Option<SocketAddr>, callcenter: Option<String>) -> Router {
    let config = serde_json::json!({
        "ws": ws.map(|a| format!("ws://{a}")),
        "callcenter": callcenter,
    });
    Router::new()
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
