//! Console login: `POST /login`, `POST /logout`, `GET /session`.
//!
//! A login checks the name and argon2 password hash on the blocking pool (a memory-hard
//! hash takes tens of ms), throttles failures per source address ([`super::throttle`]),
//! and answers with two cookies: the HttpOnly, SameSite=Strict session cookie (Secure under
//! HTTPS) and a readable one with the anti-CSRF token, which the console echoes in
//! `X-CSRF-Token` on every change. Every login, failure, lock-out and logout is audited.

use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use madoguchi_store::console::{dummy_hash, verify_password};
use madoguchi_store::Role;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Caller, ABSOLUTE_MS, CSRF_COOKIE, IDLE_MS, SESSION_COOKIE};
use super::error::{blocking, ApiError, JsonBody};
use super::throttle::{Throttle, Verdict};
use super::{audit, jst, ApiState};

/// The console's own state: login throttling, and the recording listens already audited.
#[derive(Debug, Default)]
#[allow(dead_code)] // the recordings routes (next step) read the rest
pub struct Access {
    /// Where recordings' WAV files are (`DATA/recordings`); `None`: this server keeps none.
    pub recordings_dir: Option<std::path::PathBuf>,
    /// Always mark cookies `Secure` (behind a TLS proxy that does not say
    /// `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    pub throttle: Mutex<Throttle>,
    /// `(who, recording id)` → when a listen was last audited (ms), so that a player's
    /// seeking (many Range requests) is one audited listen.
    pub listens: Mutex<std::collections::HashMap<(String, String), u64>>,
}

impl Access {
    /// The state of a server whose recordings are in `dir`.
    pub fn new(recordings_dir: Option<std::path::PathBuf>) -> Access {
        Access {
            recordings_dir,
            ..Access::default()
        }
    }
}

/// The peer of a request that came over HTTPS (the HTTPS listener's connect info): such
/// requests get `Secure` cookies.
#[derive(Debug, Clone, Copy)]
pub struct HttpsPeer(pub SocketAddr);

/// The peer address of a request's extensions (`in-process` without one).
pub fn peer(ext: &axum::http::Extensions) -> String {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .or_else(|| {
            ext.get::<ConnectInfo<HttpsPeer>>()
                .map(|c| c.0 .0.ip().to_string())
        })
        .unwrap_or_else(|| "in-process".into())
}

/// Whether the request came over the HTTPS listener.
pub fn via_https(ext: &axum::http::Extensions) -> bool {
    ext.get::<ConnectInfo<HttpsPeer>>().is_some()
}

/// The peer address of the request (`in-process` without one).
#[derive(Debug, Clone)]
pub struct Source(pub String, pub bool);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(
            peer(&parts.extensions),
            via_https(&parts.extensions),
        ))
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    user: String,
    password: String,
}

fn session_json(name: &str, role: Role, csrf: Option<&str>, expires_ms: Option<u64>) -> Value {
    json!({
        "user": name,
        "role": role,
        "kind": if csrf.is_some() { "session" } else { "token" },
        "csrf": csrf,
        "expires": expires_ms.map(jst::format_ms),
        "permissions": role.permissions(),
    })
}

fn secure(state: &ApiState, https: bool, headers: &HeaderMap) -> bool {
    https
        || state.access.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie_header(
    name: &str,
    value: &str,
    max_age_s: u64,
    http_only: bool,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age_s}; SameSite=Strict");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn object(user: &str) -> String {
    format!("console-user:{user}")
}

/// `POST /login` `{"user", "password"}`.
pub async fn login(
    State(state): State<ApiState>,
    Source(source, https): Source,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response, ApiError> {
    let now = crate::core::unix_now_ms();
    let tried = Caller {
        name: body.user.chars().take(64).collect(),
        role: Role::Viewer,
        source: source.clone(),
        session: None,
    };
    let verdict = state
        .access
        .throttle
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .check(&source, now);
    let delay_ms = match verdict {
        Verdict::Locked { retry_after_s } => {
            audit::after_change(
                &state,
                &tried,
                "login-locked",
                &object(&tried.name),
                json!({"retry_after_s": retry_after_s}),
            )
            .await;
            let mut resp = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "ログインの失敗が続いたため、この端末からのログインを{}分間停止しています (too many failed logins from this address: locked for {retry_after_s} s)",
                    retry_after_s.div_ceil(60)
                ),
            )
            .with("retry_after_s", retry_after_s)
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(resp);
        }
        Verdict::Proceed { delay_ms } => delay_ms,
    };
    if delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
    }
    let store = state.store.clone();
    let (user, password) = (body.user.clone(), body.password);
    let found = blocking(move || {
        let u = store.console_user(&user)?.filter(|u| !u.disabled);
        let hash = u
            .as_ref()
            .map_or(dummy_hash(), |u| u.password_hash.as_str());
        let ok = verify_password(hash, &password);
        Ok(u.filter(|_| ok))
    })
    .await?;
    let Some(user) = found else {
        let locked = state
            .access
            .throttle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .failed(&source, crate::core::unix_now_ms());
        audit::after_change(
            &state,
            &tried,
            "login-failed",
            &object(&tried.name),
            json!({"locked": locked}),
        )
        .await;
        return Err(ApiError::unauthorized(
            "ユーザー名またはパスワードが違います (wrong user name or password)",
            false,
        ));
    };
    state
        .access
        .throttle
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .succeeded(&source);
    let store = state.store.clone();
    let name = user.name.clone();
    let (secret, session) = blocking(move || Ok(store.create_session(&name)?)).await?;
    let caller = Caller {
        name: user.name.clone(),
        role: user.role,
        source,
        session: None,
    };
    audit::after_change(
        &state,
        &caller,
        "login",
        &object(&user.name),
        json!({"role": user.role}),
    )
    .await;
    let expires = (session.created_unix_ms + IDLE_MS).min(session.created_unix_ms + ABSOLUTE_MS);
    let secure = secure(&state, https, &headers);
    let max_age = ABSOLUTE_MS / 1000;
    let mut resp = Json(session_json(
        &user.name,
        user.role,
        Some(&session.csrf),
        Some(expires),
    ))
    .into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(SESSION_COOKIE, &secret, max_age, true, secure),
    );
    h.append(
        header::SET_COOKIE,
        cookie_header(CSRF_COOKIE, &session.csrf, max_age, false, secure),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `POST /logout`: ends the session (cookie + CSRF token), clears the cookies. 204.
pub async fn logout(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Source(_, https): Source,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(s) = &caller.session {
        let store = state.store.clone();
        let secret = s.secret.clone();
        blocking(move || Ok(store.end_session(&secret)?)).await?;
        audit::after_change(
            &state,
            &caller,
            "logout",
            &object(&caller.name),
            Value::Null,
        )
        .await;
    }
    let secure = secure(&state, https, &headers);
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookie_header(SESSION_COOKIE, "", 0, true, secure),
    );
    h.append(
        header::SET_COOKIE,
        cookie_header(CSRF_COOKIE, "", 0, false, secure),
    );
    Ok(resp)
}

/// `GET /session`: who is logged in, their role, permissions and CSRF token.
pub async fn show(Extension(caller): Extension<Caller>) -> Json<Value> {
    Json(session_json(
        &caller.name,
        caller.role,
        caller.session.as_ref().map(|s| s.csrf.as_str()),
        caller.session.as_ref().map(|s| s.expires_unix_ms),
    ))
}
