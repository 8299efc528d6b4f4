//! Bearer-token authentication and role checks for every `/api/v1` route but health.
//!
//! The role a request needs follows from its method and route, in one place ([`required`]),
//! so a new route cannot forget its check: reads need `viewer`, validating a scenario and
//! uploading a prompt need `operator`, everything else needs `admin`.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use madoguchi_store::{Role, TokenMeta};

use super::error::ApiError;
use super::ApiState;

/// The token that authorised the request; handlers take it as `Extension<Caller>` to
/// attribute changes.
#[derive(Debug, Clone)]
pub struct Caller(pub TokenMeta);

impl Caller {
    /// How the audit log names whoever made a change.
    pub fn who(&self) -> String {
        self.0.actor()
    }
}

/// The least role allowed to call `method` on `route` (the matched route pattern).
pub fn required(method: &Method, route: &str) -> Role {
    if method == Method::GET || method == Method::HEAD {
        return Role::Viewer;
    }
    let operator_routes = [
        "/prompts/{id}",
        "/scenarios/validate",
        "/queues/members/{user}",
    ];
    if method == Method::POST && operator_routes.iter().any(|r| route.ends_with(r)) {
        return Role::Operator;
    }
    Role::Admin
}

/// Middleware: 401 without a valid token, 403 when its role is too low; otherwise the
/// request goes on with a [`Caller`] extension.
pub async fn require_token(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    let Some(secret) = presented else {
        return ApiError::unauthorized(
            "missing bearer token: send Authorization: Bearer mdg_… (madoguchi token create)",
            false,
        )
        .into_response();
    };
    let token = match state.store.check_token(secret) {
        Ok(Some(t)) => t,
        Ok(None) => {
            tracing::warn!(path = %req.uri().path(), "admin API: invalid or revoked token");
            return ApiError::unauthorized("invalid or revoked token", true).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let need = required(req.method(), &route);
    if token.role < need {
        return ApiError::forbidden(format!(
            "{} {} needs the {need} role; token {} is {}",
            req.method(),
            route,
            token.id,
            token.role
        ))
        .into_response();
    }
    req.extensions_mut().insert(Caller(token));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_route() {
        assert_eq!(required(&Method::GET, "/api/v1/scenarios"), Role::Viewer);
        assert_eq!(
            required(&Method::POST, "/api/v1/prompts/{id}"),
            Role::Operator
        );
        assert_eq!(
            required(&Method::POST, "/api/v1/scenarios/validate"),
            Role::Operator
        );
        assert_eq!(required(&Method::POST, "/api/v1/scenarios"), Role::Admin);
        assert_eq!(
            required(&Method::DELETE, "/api/v1/plugins/{name}/{version}"),
            Role::Admin
        );
        assert_eq!(required(&Method::PUT, "/api/v1/test/clock"), Role::Admin);
    }
}
