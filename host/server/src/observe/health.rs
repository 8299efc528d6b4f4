//! `GET /health` (the process answers), `GET /ready` (it can take calls) and `GET /metrics`,
//! all without a token: on the admin HTTP port, and also on `[server] health_http` when set
//! (a separate address for a load balancer or Prometheus, away from the admin API).
//!
//! Ready means: the store answers a read, every SIP listener is bound, the published
//! scenarios' plugins are loaded, and the recordings' disk has more than
//! `[server] min_free_disk_mb` free. `/ready` answers 503 with the failing checks named.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use madoguchi_store::Store;
use serde_json::json;

/// What `/ready` checks. Cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    pub store: Store,
    pub recordings: PathBuf,
    pub min_free_bytes: u64,
    pub listeners_bound: Arc<AtomicBool>,
    pub plugins_loaded: Arc<AtomicBool>,
}

impl Readiness {
    pub fn new(store: Store, recordings: PathBuf, min_free_bytes: u64) -> Readiness {
        Readiness {
            store,
            recordings,
            min_free_bytes,
            listeners_bound: Arc::new(AtomicBool::new(false)),
            plugins_loaded: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Each check by name, with whether it passed and what was seen.
    pub fn checks(&self) -> Vec<(&'static str, bool, String)> {
        let store = match self.store.db().begin_read() {
            Ok(_) => (true, "open".to_string()),
            Err(e) => (false, e.to_string()),
        };
        let disk = match super::metrics::free_bytes(&self.recordings) {
            Some(free) => (
                free > self.min_free_bytes,
                format!("{} MiB free", free / (1024 * 1024)),
            ),
            None => (false, format!("cannot stat {}", self.recordings.display())),
        };
        let flag = |b: &AtomicBool, yes: &str, no: &str| {
            let v = b.load(Ordering::Relaxed);
            (v, if v { yes } else { no }.to_string())
        };
        let listeners = flag(&self.listeners_bound, "bound", "not bound yet");
        let plugins = flag(
            &self.plugins_loaded,
            "loaded",
            "some published scenarios are not live",
        );
        vec![
            ("store", store.0, store.1),
            ("listeners", listeners.0, listeners.1),
            ("plugins", plugins.0, plugins.1),
            ("disk", disk.0, disk.1),
        ]
    }
}

/// The three routes, without any token check.
pub fn router(ready: Readiness) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})) }),
        )
        .route(
            "/ready",
            get(move || {
                let ready = ready.clone();
                async move {
                    let checks = tokio::task::spawn_blocking(move || ready.checks())
                        .await
                        .unwrap_or_default();
                    let ok = !checks.is_empty() && checks.iter().all(|c| c.1);
                    metrics::gauge!("madoguchi_ready").set(if ok { 1.0 } else { 0.0 });
                    let body = json!({
                        "ready": ok,
                        "checks": checks.iter().map(|(name, pass, detail)| {
                            json!({"name": name, "ok": pass, "detail": detail})
                        }).collect::<Vec<_>>(),
                    });
                    let status = if ok {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    (status, Json(body))
                }
            }),
        )
        .route("/metrics", get(metrics_text))
}

async fn metrics_text() -> Response {
    let text = tokio::task::spawn_blocking(super::metrics::render)
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
