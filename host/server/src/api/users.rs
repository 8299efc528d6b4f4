//! `GET /users`: the staff extensions and the devices registered for each, read from the
//! store (the registrar writes its bindings there within moments of every REGISTER), for the
//! console's users page. Never a password hash: only what an operator may see.

use axum::extract::State;
use axum::Json;
use madoguchi_sip::registrar::Binding;
use serde_json::{json, Value};

use super::error::{blocking, ApiError};
use super::ApiState;

/// The user part of an AOR such as `sip:1001@example.jp` (or the AOR itself).
fn user_of(aor: &str) -> &str {
    let rest = aor
        .strip_prefix("sips:")
        .or_else(|| aor.strip_prefix("sip:"))
        .unwrap_or(aor);
    rest.split('@').next().unwrap_or(rest)
}

pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let bindings = state.store.all_bindings::<Binding>()?;
        let users = state
            .store
            .list_users()?
            .into_iter()
            .map(|u| {
                let devices: Vec<Value> = bindings
                    .iter()
                    .filter(|(aor, _)| user_of(aor) == u.extension)
                    .flat_map(|(_, list)| list.iter())
                    .filter(|b| b.expires_at_unix > now)
                    .map(|b| {
                        json!({
                            "contact": b.contact,
                            "source": b.source,
                            "user_agent": b.user_agent,
                            "expires_unix": b.expires_at_unix,
                        })
                    })
                    .collect();
                json!({
                    "user": u.extension,
                    "name": u.display_name,
                    "disabled": u.disabled,
                    "created_unix": u.created_unix,
                    "devices": devices,
                })
            })
            .collect::<Vec<_>>();
        Ok(Json(json!({ "users": users })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::user_of;

    #[test]
    fn the_user_part_of_an_aor() {
        assert_eq!(user_of("sip:1001@127.0.0.1"), "1001");
        assert_eq!(user_of("sips:1002@example.jp"), "1002");
        assert_eq!(user_of("1003"), "1003");
    }
}
