//! The web console at `/console/`: static HTML, CSS and JavaScript modules embedded in the
//! binary at compile time (`include_bytes!`), served with a strict Content-Security-Policy.
//! Nothing is fetched from outside (closed network): no CDN, no web fonts, no build step.
//! The pages call the same `/api/v1` routes as scripts do, with the session cookie and the
//! CSRF header (see `console/js/api.js`). `/` leads to `/console/`.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file: its path under `/console/`, its media type and its bytes.
struct Asset {
    path: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $mime:expr),* $(,)?) => {
        &[$(Asset {
            path: $path,
            mime: $mime,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console (host/server/console/). A missing file fails the build.
static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "js/main.js" => JS,
    "js/api.js" => JS,
    "js/i18n.js" => JS,
    "js/fmt.js" => JS,
    "js/dom.js" => JS,
    "js/wav.js" => JS,
    "js/graph.js" => JS,
    "js/diff.js" => JS,
    "pages/login.js" => JS,
    "pages/dashboard.js" => JS,
    "pages/calls.js" => JS,
    "pages/recordings.js" => JS,
    "pages/scenarios.js" => JS,
    "pages/prompts.js" => JS,
    "pages/hours.js" => JS,
    "pages/users.js" => JS,
    "pages/queues.js" => JS,
    "pages/audit.js" => JS,
};

/// Only this origin; no inline script; media and images may come from blob: URLs (the
/// recording player decodes the WAV it fetched once).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn serve(asset: &Asset) -> Response {
    let mut res = (StatusCode::OK, asset.bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    // Small files, and a new binary must never be shadowed by a cached old page.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

async fn index() -> Response {
    serve(find("index.html").expect("index.html is embedded"))
}

async fn asset(Path(path): Path<String>) -> Response {
    match find(&path) {
        Some(a) => serve(a),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no console file {path:?}"),
        )
            .into_response(),
    }
}

/// `/` (303 to `/console/`), `/console` (308 to `/console/`), `/console/` and its files.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_non_empty_and_paths_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in ASSETS {
            assert!(!a.bytes.is_empty(), "{} is empty", a.path);
            assert!(seen.insert(a.path), "{} twice", a.path);
        }
    }

    #[test]
    fn the_page_is_japanese_and_loads_nothing_from_outside() {
        let html = std::str::from_utf8(find("index.html").unwrap().bytes).unwrap();
        assert!(html.contains("<html lang=\"ja\">"));
        for a in ASSETS {
            let text = String::from_utf8_lossy(a.bytes);
            for outside in ["http://", "https://", "//cdn", "fonts.googleapis"] {
                // The SVG namespace is an identifier, not a fetch.
                let text = text.replace("http://www.w3.org/2000/svg", "");
                assert!(!text.contains(outside), "{} mentions {outside}", a.path);
            }
        }
    }

    #[test]
    fn every_module_imported_is_embedded() {
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(a.bytes).unwrap();
            let dir = a.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    find(&target).is_some(),
                    "{} imports {spec} ({target}), not embedded",
                    a.path
                );
            }
        }
    }
}
