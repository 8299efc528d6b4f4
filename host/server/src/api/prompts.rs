//! Prompt audio: upload (raw WAV body, the words in `?text=`), list, metadata, audio.
//!
//! The body is the WAV file itself rather than JSON with base64, so `curl --data-binary
//! @greeting.wav` works and a 2 MB recording is not inflated by a third. The prompt store
//! refuses anything the media engine cannot play (422, naming the prompt and the reason).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use madoguchi_scenario::PromptInfo;
use serde::Deserialize;

use super::auth::Caller;
use super::error::{blocking, ApiError, QueryParams};
use super::ApiState;

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// What the recording says (required: the console and test plans show it).
    text: Option<String>,
}

/// `POST /prompts/{id}?text=…` with the WAV as body: 201 with the prompt's metadata.
pub async fn upload(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<UploadQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<PromptInfo>), ApiError> {
    let Some(text) = q.text.filter(|t| !t.trim().is_empty()) else {
        return Err(ApiError::bad_request(format!(
            "prompt {id:?}: give the words of the recording as ?text=…"
        )));
    };
    if body.is_empty() {
        return Err(ApiError::bad_request(format!(
            "prompt {id:?}: empty body; send the WAV file as the request body"
        )));
    }
    let prompts = state.prompts.clone();
    let who = caller.who();
    let info = blocking(move || Ok(prompts.upload(&id, &body, &text, &who)?)).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `GET /prompts`: every prompt's metadata.
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<PromptInfo>>, ApiError> {
    Ok(Json(state.prompts.list()?))
}

/// `GET /prompts/{id}`.
pub async fn meta(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<PromptInfo>, ApiError> {
    state
        .prompts
        .get(&id)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no prompt {id:?}")))
}

/// `GET /prompts/{id}/audio`: the WAV as uploaded.
pub async fn audio(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let info = state
        .prompts
        .get(&id)?
        .ok_or_else(|| ApiError::not_found(format!("no prompt {id:?}")))?;
    let wav = state.prompts.audio(&info.sha256)?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], wav).into_response())
}
