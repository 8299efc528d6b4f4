//! The API's error answer: a status and `{"error": "...", "problems": [...]?}`.
//!
//! Every failure of the layers below maps to one status here, so the handlers just use `?`:
//! bad input 400, unknown thing 404, conflict with stored state 409, a document or component
//! that is well-formed but not acceptable 422, our own failures 500 (logged, and answered
//! without internals beyond the message).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use madoguchi_plugin_host::RegistryError;
use madoguchi_scenario::{Problem, Report, ScenarioError};
use madoguchi_store::StoreError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Validation problems, when a scenario was refused.
    pub problems: Option<Vec<Problem>>,
    /// 401 only: the `WWW-Authenticate` challenge says the token was bad, not absent.
    invalid_token: bool,
    /// More members of the JSON answer (`"expired": true`, `"retry_after_s": 30`).
    extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// The same error with `prefix` before its message (what was being done).
    pub fn prefixed(mut self, prefix: impl std::fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            problems: None,
            invalid_token: false,
            extra: serde_json::Map::new(),
        }
    }
    /// The same error with one more member in its JSON answer.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }
    /// A 401 for a session that has expired (`"expired": true`, so the console says so).
    pub fn with_expired(self) -> Self {
        self.with("expired", true)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    /// 401; `invalid` when a token was presented but is unknown or revoked (RFC 6750 §3).
    pub fn unauthorized(message: impl Into<String>, invalid: bool) -> Self {
        ApiError {
            invalid_token: invalid,
            ..Self::new(StatusCode::UNAUTHORIZED, message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "admin API: {}", self.message);
        }
        let mut body = serde_json::json!({ "error": self.message });
        for (k, v) in self.extra {
            body[k] = v;
        }
        if let Some(p) = &self.problems {
            body["problems"] = serde_json::to_value(p).unwrap_or_default();
        }
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.invalid_token {
                r#"Bearer realm="madoguchi", error="invalid_token""#
            } else {
                r#"Bearer realm="madoguchi""#
            };
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}

impl From<Report> for ApiError {
    fn from(r: Report) -> Self {
        let errors = r.errors().count();
        let first = r
            .errors()
            .next()
            .map(|p| match p.path.as_str() {
                "" => p.message.clone(),
                path => format!("{path}: {}", p.message),
            })
            .unwrap_or_default();
        let message = match errors {
            0 => "scenario refused".to_string(),
            1 => format!("scenario refused: {first}"),
            n => format!("scenario refused with {n} errors; first: {first}"),
        };
        ApiError {
            problems: Some(r.problems),
            ..Self::unprocessable(message)
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(_) | StoreError::BadTableName(_) => {
                Self::bad_request(e.to_string())
            }
            _ => Self::internal(e.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        use RegistryError as E;
        let status = match &e {
            E::InvalidName(_) | E::InvalidVersion(_) | E::InvalidReference(_) => {
                StatusCode::BAD_REQUEST
            }
            E::Load(_) | E::ConfigRejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::Exists { .. } | E::InUse { .. } => StatusCode::CONFLICT,
            E::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

impl From<ScenarioError> for ApiError {
    fn from(e: ScenarioError) -> Self {
        use ScenarioError as E;
        let status = match &e {
            E::NotFound { .. } | E::NoAudio { .. } => StatusCode::NOT_FOUND,
            E::NotPublished { .. } | E::NotEarlier { .. } | E::DidTaken { .. } => {
                StatusCode::CONFLICT
            }
            E::NotAudio { .. } | E::DocumentMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::BadId { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

/// A blocking task that panicked or was cancelled.
impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(format!("background task failed: {e}"))
    }
}

/// Runs `f` on the blocking pool (plugin compilation, `validate-config` calls, big writes).
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

/// A JSON request body whose failures (unreadable, not JSON, wrong shape) are [`ApiError`]s
/// naming the problem, so every error answer of the API has the same JSON shape. The
/// content type is not checked: `curl -d '{"version": 2}'` works as is.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
    }
}

/// `Query<T>` with an [`ApiError`] rejection (400 naming the bad parameter).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for QueryParams<T>
{
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryParams(v)),
            Err(r) => Err(ApiError::bad_request(r.body_text())),
        }
    }
}
