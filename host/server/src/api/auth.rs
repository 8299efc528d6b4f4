//! Authentication and permission checks for every `/api/v1` route but the public ones
//! (health, login, the OpenAPI document).
//!
//! Two ways in: a bearer token (scripts, `madoguchi token create`) or the console's session
//! cookie (people, `POST /api/v1/login`). With the cookie, every state-changing request
//! must also send the session's anti-CSRF token in `X-CSRF-Token` (double submit: a page of
//! another site can make the browser send the cookie, but cannot read the token).
//!
//! The permission a request needs follows from its method and route, in one place
//! ([`required`]), so a new route cannot forget its check. A refusal is 403 and is itself
//! written to the audit log.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use madoguchi_store::{Permission, Role, TokenMeta};

use super::error::ApiError;
use super::ApiState;

/// Name of the HttpOnly session cookie.
pub const SESSION_COOKIE: &str = "madoguchi_session";
/// Name of the cookie JavaScript reads the anti-CSRF token from.
pub const CSRF_COOKIE: &str = "madoguchi_csrf";
/// The header a cookie-authenticated state change must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long without a request…
pub const IDLE_MS: u64 = 30 * 60 * 1000;
/// …and this long after login in any case.
pub const ABSOLUTE_MS: u64 = 12 * 60 * 60 * 1000;
/// A session's last use is written at most this often (a write per request would cost a
/// disk sync each).
const TOUCH_EVERY_MS: u64 = 60 * 1000;

/// Whoever made the request; handlers take it as `Extension<Caller>` to check and
/// attribute what they do.
#[derive(Debug, Clone)]
pub struct Caller {
    /// How the audit log names them: a console user's name, or a token's `label (id)`.
    pub name: String,
    pub role: Role,
    /// The peer address (`in-process` when there is none, as in the router tests).
    pub source: String,
    /// Set for a console session (not for tokens).
    pub session: Option<SessionInfo>,
}

/// What a cookie-authenticated request knows about its session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub secret: String,
    pub csrf: String,
    pub expires_unix_ms: u64,
}

impl Caller {
    /// How the audit log names whoever made a change.
    pub fn who(&self) -> String {
        self.name.clone()
    }

    /// A token's caller.
    pub fn token(t: &TokenMeta, source: String) -> Caller {
        Caller {
            name: t.actor(),
            role: t.role,
            source,
            session: None,
        }
    }
}

/// The permission needed to call `method` on `route` (the matched route pattern).
pub fn required(method: &Method, route: &str) -> Permission {
    let route = route.strip_prefix("/api/v1").unwrap_or(route);
    let read = method == Method::GET || method == Method::HEAD;
    if route == "/audit" {
        return Permission::AuditRead;
    }
    if route.starts_with("/recordings") {
        return match (read, route.ends_with("/audio")) {
            (true, true) => Permission::RecordingsListen,
            (true, false) => Permission::RecordingsRead,
            _ if method == Method::DELETE => Permission::RecordingsDelete,
            _ => Permission::Admin,
        };
    }
    if route == "/session" || route == "/logout" {
        return Permission::Read;
    }
    if route.starts_with("/console-users") {
        return Permission::Admin;
    }
    if read {
        return Permission::Read;
    }
    if method == Method::POST && route == "/queues/members/{user}" {
        return Permission::QueuesManage;
    }
    let operator_routes = ["/prompts/{id}", "/scenarios/validate"];
    if method == Method::POST && operator_routes.contains(&route) {
        return Permission::Operate;
    }
    Permission::Admin
}

/// The peer address of a request, as the audit log writes it.
pub fn source_of(req: &Request) -> String {
    super::session::peer(req.extensions())
}

/// The value of cookie `name`, if the request has it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
}

fn now_ms() -> u64 {
    crate::core::unix_now_ms()
}

/// Who sent this request: a bearer token, else a live session cookie (with its CSRF token
/// on state changes). The error is the answer to send.
pub fn authenticate(state: &ApiState, req: &Request, source: String) -> Result<Caller, ApiError> {
    let headers = req.headers();
    if let Some(secret) = bearer(headers) {
        return match state.store.check_token(secret)? {
            Some(t) => Ok(Caller::token(&t, source)),
            None => {
                tracing::warn!(path = %req.uri().path(), "admin API: invalid or revoked token");
                Err(ApiError::unauthorized("invalid or revoked token", true))
            }
        };
    }
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Err(ApiError::unauthorized(
            "not logged in: log in at /console/ or send Authorization: Bearer mdg_… \
             (madoguchi token create)",
            false,
        ));
    };
    let expired = || {
        ApiError::unauthorized(
            "セッションの有効期限が切れました。もう一度ログインしてください (session expired: log in again)",
            false,
        )
        .with_expired()
    };
    let Some(session) = state.store.session(secret)? else {
        return Err(expired());
    };
    let now = now_ms();
    let expires = (session.last_seen_unix_ms + IDLE_MS).min(session.created_unix_ms + ABSOLUTE_MS);
    if now >= expires {
        let _ = state.store.end_session(secret);
        return Err(expired());
    }
    let user = match state.store.console_user(&session.user)? {
        Some(u) if !u.disabled => u,
        _ => {
            let _ = state.store.end_session(secret);
            return Err(expired());
        }
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if sent != Some(session.csrf.as_str()) {
            return Err(ApiError::forbidden(
                "CSRF token missing or wrong: send the session's csrf value in X-CSRF-Token",
            ));
        }
    }
    let info = SessionInfo {
        secret: secret.to_string(),
        csrf: session.csrf.clone(),
        expires_unix_ms: (now + IDLE_MS).min(session.created_unix_ms + ABSOLUTE_MS),
    };
    if now.saturating_sub(session.last_seen_unix_ms) >= TOUCH_EVERY_MS {
        let store = state.store.clone();
        let secret = secret.to_string();
        let mut session = session;
        session.last_seen_unix_ms = now;
        tokio::task::spawn_blocking(move || store.save_session(&secret, &session));
    }
    Ok(Caller {
        name: user.name,
        role: user.role,
        source,
        session: Some(info),
    })
}

/// Middleware: 401 without a valid token or session, 403 (audited) when the role lacks the
/// route's permission or a cookie request lacks its CSRF token; otherwise the request goes
/// on with a [`Caller`] extension.
pub async fn require_auth(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let source = source_of(&req);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let caller = match authenticate(&state, &req, source) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let need = required(req.method(), &route);
    if !caller.role.can(need) {
        let detail = serde_json::json!({
            "method": req.method().as_str(),
            "path": req.uri().path(),
            "needs": need,
            "role": caller.role,
        });
        let object = format!("route:{} {route}", req.method());
        if let Err(e) = super::audit::append(&state, &caller, "denied", &object, detail).await {
            tracing::warn!(error = %e.message, "a refusal could not be audited");
        }
        return ApiError::forbidden(format!(
            "{} {} needs the {need} permission, which the {} role does not have ({})",
            req.method(),
            route,
            caller.role,
            caller.name
        ))
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_by_route() {
        let p = |m: Method, r: &str| required(&m, r);
        assert_eq!(p(Method::GET, "/api/v1/scenarios"), Permission::Read);
        assert_eq!(p(Method::POST, "/api/v1/prompts/{id}"), Permission::Operate);
        assert_eq!(
            p(Method::POST, "/api/v1/scenarios/validate"),
            Permission::Operate
        );
        assert_eq!(p(Method::POST, "/api/v1/scenarios"), Permission::Admin);
        assert_eq!(
            p(Method::DELETE, "/api/v1/plugins/{name}/{version}"),
            Permission::Admin
        );
        assert_eq!(p(Method::PUT, "/api/v1/test/clock"), Permission::Admin);
        assert_eq!(
            p(Method::POST, "/api/v1/queues/members/{user}"),
            Permission::QueuesManage
        );
        assert_eq!(p(Method::GET, "/api/v1/audit"), Permission::AuditRead);
        assert_eq!(
            p(Method::GET, "/api/v1/recordings"),
            Permission::RecordingsRead
        );
        assert_eq!(
            p(Method::GET, "/api/v1/recordings/{id}"),
            Permission::RecordingsRead
        );
        assert_eq!(
            p(Method::GET, "/api/v1/recordings/{id}/audio"),
            Permission::RecordingsListen
        );
        assert_eq!(
            p(Method::DELETE, "/api/v1/recordings/{id}"),
            Permission::RecordingsDelete
        );
        assert_eq!(p(Method::GET, "/api/v1/console-users"), Permission::Admin);
        assert_eq!(p(Method::POST, "/api/v1/logout"), Permission::Read);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; madoguchi_session=abc ; madoguchi_csrf=x"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
