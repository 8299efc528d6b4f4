//! Console users through the API (admin only): list, add, change role, disable, reset the
//! password. Every change is audited; password hashes never leave the store.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use madoguchi_store::{ConsoleUser, Role};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{blocking, ApiError, JsonBody};
use super::{audit, jst, ApiState};

fn user_json(u: &ConsoleUser) -> Value {
    json!({
        "name": u.name,
        "role": u.role,
        "disabled": u.disabled,
        "created": jst::format_ms(u.created_unix * 1000),
    })
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    s.parse::<Role>()
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `GET /console-users`.
pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    let users = blocking(move || Ok(store.list_console_users()?)).await?;
    Ok(Json(
        json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    role: String,
    password: String,
}

/// `POST /console-users` `{"name", "role", "password"}`: 201; 409 if the name is taken.
pub async fn add(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let role = parse_role(&body.role)?;
    let store = state.store.clone();
    let user = blocking(move || {
        store
            .add_console_user(&body.name, role, &body.password)
            .map_err(|e| match e {
                madoguchi_store::StoreError::UserExists(n) => {
                    ApiError::conflict(format!("console user {n} already exists"))
                }
                e => e.into(),
            })
    })
    .await?;
    audit::after_change(
        &state,
        &caller,
        "console-user.add",
        &format!("console-user:{}", user.name),
        json!({"role": role}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    role: Option<String>,
    disabled: Option<bool>,
    password: Option<String>,
}

/// `PATCH /console-users/{name}` `{"role"?, "disabled"?, "password"?}`.
pub async fn change(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Change>,
) -> Result<Json<Value>, ApiError> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    let detail = json!({
        "role": role,
        "disabled": body.disabled,
        "password_reset": body.password.is_some(),
    });
    let store = state.store.clone();
    let n = name.clone();
    let user = blocking(move || {
        store
            .update_console_user(&n, role, body.disabled, body.password.as_deref())
            .map_err(|e| match e {
                madoguchi_store::StoreError::NoSuchUser(n) => {
                    ApiError::not_found(format!("no console user {n}"))
                }
                e => e.into(),
            })
    })
    .await?;
    audit::after_change(
        &state,
        &caller,
        "console-user.change",
        &format!("console-user:{name}"),
        detail,
    )
    .await;
    Ok(Json(user_json(&user)))
}
