//! Recordings review (R-REC-3, R-OPS-6): search, metadata with the call's event log, the
//! audio with HTTP ranges (a browser seeks), a mono mix for listening, deletion with a
//! reason. Every search, view, listen, download and deletion is audited before it is
//! answered: a read that cannot be audited is refused.

use std::io::{Read, Seek, SeekFrom};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::{blocking, ApiError, QueryParams};
use super::{audit, jst, ApiState};
use crate::core::media::{RecordingMeta, RECORDINGS_TABLE};
use crate::recordings::audio::{open_audio, AudioError, MonoMix};
use crate::recordings::{self, Filter, Indexed};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// A player's later range requests within this long after an audited listen are the same
/// listen.
const LISTEN_DEDUP_MS: u64 = 10 * 60 * 1000;
/// Bytes per chunk streamed to the client.
const CHUNK: usize = 64 * 1024;

/// A recording as the API shows it.
pub fn item_json(r: &Indexed) -> Value {
    json!({
        "id": r.id,
        "call_id": r.call_id,
        "start": jst::format_ms(r.start_unix * 1000),
        "start_unix": r.start_unix,
        "duration_ms": r.duration_ms,
        "caller": r.caller,
        "callee": r.callee,
        "did": r.did,
        "user": r.user,
        "scenario": r.scenario,
        "direction": r.direction,
        "size": r.size,
        "sha256": r.sha256,
        "complete": r.complete,
        "repaired": r.repaired,
        "problems": r.problems,
        "call": format!("/api/v1/calls/{}", r.call_id),
        "audio": format!("/api/v1/recordings/{}/audio", r.id),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    from: Option<String>,
    to: Option<String>,
    caller: Option<String>,
    did: Option<String>,
    user: Option<String>,
    scenario: Option<String>,
    direction: Option<String>,
    /// Seconds.
    min_duration: Option<u64>,
    complete: Option<String>,
    repaired: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn flag(name: &str, v: Option<String>) -> Result<Option<bool>, ApiError> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some("true" | "1" | "yes") => Ok(Some(true)),
        Some("false" | "0" | "no") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name}={other:?}: use true or false"
        ))),
    }
}

fn cursor(s: &str) -> Result<(u64, String), ApiError> {
    let bad = || ApiError::bad_request(format!("cursor={s:?} is not a cursor this API gave"));
    let (start, id) = s.split_once(':').ok_or_else(bad)?;
    Ok((start.parse().map_err(|_| bad())?, id.to_string()))
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `GET /recordings?from&to&caller&did&user&scenario&direction&min_duration&complete&repaired&limit&cursor`.
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    QueryParams(p): QueryParams<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let bound = |name: &str, v: &Option<String>, end: bool| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| jst::parse_bound(name, s, end).map(|ms| ms.div_ceil(1000)))
            .transpose()
    };
    let f = Filter {
        from: bound("from", &p.from, false)?,
        to: bound("to", &p.to, true)?,
        caller: nonempty(p.caller),
        did: nonempty(p.did),
        user: nonempty(p.user),
        scenario: nonempty(p.scenario),
        direction: nonempty(p.direction),
        min_duration_ms: p.min_duration.map(|s| s.saturating_mul(1000)),
        complete: flag("complete", p.complete)?,
        repaired: flag("repaired", p.repaired)?,
        before: p.cursor.as_deref().map(cursor).transpose()?,
        limit: p.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let detail = json!({
        "from": f.from, "to": f.to, "caller": f.caller, "did": f.did, "user": f.user,
        "scenario": f.scenario, "direction": f.direction,
    });
    audit::append(&state, &caller, "recording.search", "recording:", detail).await?;
    let store = state.store.clone();
    let page = blocking(move || Ok(recordings::search(&store, &f)?)).await?;
    Ok(Json(json!({
        "items": page.items.iter().map(item_json).collect::<Vec<_>>(),
        "next": page.next.map(|(s, id)| format!("{s}:{id}")),
    })))
}

fn no_recording(id: &str) -> ApiError {
    ApiError::not_found(format!("no recording {id:?}"))
}

async fn find(state: &ApiState, id: &str) -> Result<Indexed, ApiError> {
    if !recordings::audio::valid_id(id) {
        return Err(no_recording(id));
    }
    let store = state.store.clone();
    let key = id.to_string();
    blocking(move || Ok(recordings::get(&store, &key)?))
        .await?
        .ok_or_else(|| no_recording(id))
}

/// `GET /recordings/{id}`: the item, the RTP figures of its legs, and the call record with
/// its event log (null for calls that did not go through a scenario).
pub async fn show(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = find(&state, &id).await?;
    audit::append(
        &state,
        &caller,
        "recording.view",
        &format!("recording:{id}"),
        Value::Null,
    )
    .await?;
    let store = state.store.clone();
    let (file_name, call_id) = (row.file_name.clone(), row.call_id.clone());
    let (meta, record) = blocking(move || {
        let meta: Option<RecordingMeta> = store.get_json(RECORDINGS_TABLE, &file_name)?;
        let record = recordings::call_record(&store, &call_id);
        Ok((meta, record))
    })
    .await?;
    let mut v = item_json(&row);
    v["legs"] = json!(meta.map(|m| m.legs).unwrap_or_default());
    v["call_record"] = json!(record);
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioParams {
    /// `mono`: one channel mixing both sides.
    mix: Option<String>,
    /// `1`/`true`: `Content-Disposition: attachment` (a download, audited as such).
    download: Option<String>,
}

/// What a `Range` header asks for, against a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Ranged {
    /// No (usable) range: the whole body, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part(u64, u64),
    /// Outside the body: 416.
    Unsatisfiable,
}

/// Parses a single `bytes=` range (RFC 9110 §14.1.2). Several ranges or a malformed header
/// get the whole body, as the RFC allows.
pub fn parse_range(h: Option<&str>, len: u64) -> Ranged {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ranged::Whole;
    };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>(), b.parse::<u64>()) {
        // bytes=-N: the last N bytes.
        (Err(_), Ok(n)) if a.is_empty() => {
            if n == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part(len.saturating_sub(n), len - 1)
            }
        }
        (Ok(s), _) if s >= len => Ranged::Unsatisfiable,
        (Ok(s), Err(_)) if b.is_empty() => Ranged::Part(s, len - 1),
        (Ok(s), Ok(e)) if e >= s => Ranged::Part(s, e.min(len - 1)),
        _ => Ranged::Whole,
    }
}

/// `20270104-101500_09012345678.wav`: Japan time of the start and the caller.
fn download_name(r: &Indexed, mono: bool) -> String {
    let caller: String = r
        .caller
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '-')
        .take(32)
        .collect();
    let caller = if caller.is_empty() {
        "unknown".into()
    } else {
        caller
    };
    let suffix = if mono { "_mono" } else { "" };
    format!("{}_{caller}{suffix}.wav", jst::compact(r.start_unix))
}

fn audio_error(e: AudioError) -> ApiError {
    match e {
        AudioError::BadId(id) | AudioError::NotFound(id) => {
            ApiError::not_found(format!("no audio for recording {id:?}"))
        }
        e @ AudioError::Format(..) => ApiError::unprocessable(e.to_string()),
        e @ AudioError::Io(..) => ApiError::internal(e.to_string()),
        e @ AudioError::Sealed(..) => ApiError::unprocessable(e.to_string()),
    }
}

/// Whether this listen must be audited: always, except a player's later range requests
/// (not starting at byte 0) from the same person within [`LISTEN_DEDUP_MS`].
fn must_audit(state: &ApiState, who: &str, id: &str, starts_at_zero: bool) -> bool {
    let now = crate::core::unix_now_ms();
    let mut seen = state
        .access
        .listens
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (who.to_string(), id.to_string());
    let recent = seen
        .get(&key)
        .is_some_and(|t| now.saturating_sub(*t) < LISTEN_DEDUP_MS);
    if !starts_at_zero && recent {
        return false;
    }
    if seen.len() > 10_000 {
        seen.retain(|_, t| now.saturating_sub(*t) < LISTEN_DEDUP_MS);
    }
    seen.insert(key, now);
    true
}

/// `GET /recordings/{id}/audio[?mix=mono][&download=1]`: `audio/wav`, ranges → 206, a
/// range past the end → 416.
pub async fn audio(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<AudioParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mono = match p.mix.as_deref() {
        None | Some("") | Some("stereo") => false,
        Some("mono") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mix={other:?}: use mix=mono (or leave it out for both channels)"
            )))
        }
    };
    let download = flag("download", p.download)?.unwrap_or(false);
    let row = find(&state, &id).await?;
    let Some(dir) = state.access.recordings_dir.clone() else {
        return Err(no_recording(&id));
    };
    // Open first (404 and 416 need the length), then audit, then send.
    let key = id.clone();
    let sealing = crate::protect::recording_key(state.store.master_key());
    let (mut reader, len) = blocking(move || {
        let f = open_audio(&dir, &key, Some(&sealing)).map_err(audio_error)?;
        let len = f.len();
        let r: Box<dyn ReadSeek> = if mono {
            let m = MonoMix::new(f, len, &key).map_err(audio_error)?;
            let len = m.len();
            return Ok((Box::new(m) as Box<dyn ReadSeek>, len));
        } else {
            Box::new(f)
        };
        Ok((r, len))
    })
    .await?;
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        len,
    );
    if range == Ranged::Unsatisfiable {
        let mut resp = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the range is outside the recording's {len} bytes"),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(resp);
    }
    let (start, end) = match range {
        Ranged::Part(s, e) => (s, e),
        _ => (0, len.saturating_sub(1)),
    };
    let action = if download {
        "recording.download"
    } else {
        "recording.listen"
    };
    if must_audit(&state, &caller.who(), &id, start == 0) {
        let detail = json!({"mix": if mono { "mono" } else { "stereo" }, "range": headers.get(header::RANGE).and_then(|v| v.to_str().ok())});
        audit::append(&state, &caller, action, &format!("recording:{id}"), detail).await?;
    }
    let count = if len == 0 { 0 } else { end - start + 1 };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = reader.seek(SeekFrom::Start(start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = count;
        while left > 0 {
            let mut buf = vec![0u8; CHUNK.min(left as usize)];
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return; // the client went away
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    let status = if matches!(range, Ranged::Part(..)) {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let disposition = format!(
        "{}; filename=\"{}\"",
        if download { "attachment" } else { "inline" },
        download_name(&row, mono)
    );
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    reason: String,
}

/// `DELETE /recordings/{id}` `{"reason": "…"}` (admin): removes the audio and metadata,
/// keeps a tombstone and the audit entry with the reason.
pub async fn delete(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let reason = serde_json::from_slice::<DeleteBody>(&body)
        .ok()
        .map(|b| b.reason.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "say why the recording is deleted: send {\"reason\": \"…\"} as the body",
            )
        })?;
    find(&state, &id).await?;
    let Some(dir) = state.access.recordings_dir.clone() else {
        return Err(no_recording(&id));
    };
    let store = state.store.clone();
    let (who, source) = (caller.who(), caller.source.clone());
    let key = id.clone();
    let deleted = blocking(move || {
        recordings::delete_recording(
            &store,
            &dir,
            &key,
            &who,
            &source,
            "recording.delete",
            &reason,
        )
        .map_err(|e| ApiError::internal(format!("cannot delete recording {key}: {e}")))
    })
    .await?;
    match deleted {
        Some(_) => Ok(Json(json!({"deleted": id}))),
        None => Err(no_recording(&id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |h: &str| parse_range(Some(h), 1000);
        assert_eq!(parse_range(None, 1000), Ranged::Whole);
        assert_eq!(r("bytes=0-"), Ranged::Part(0, 999));
        assert_eq!(r("bytes=100-199"), Ranged::Part(100, 199));
        assert_eq!(r("bytes=900-5000"), Ranged::Part(900, 999));
        assert_eq!(r("bytes=-100"), Ranged::Part(900, 999));
        assert_eq!(r("bytes=-5000"), Ranged::Part(0, 999));
        assert_eq!(r("bytes=1000-"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=5000-6000"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-6"), Ranged::Whole);
        assert_eq!(r("bytes=20-10"), Ranged::Whole);
        assert_eq!(r("items=0-1"), Ranged::Whole);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Ranged::Unsatisfiable);
    }
}
