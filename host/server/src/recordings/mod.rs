//! Recordings review (R-REC-3): the search index over the recordings' metadata, and the one
//! door to their audio ([`audio::open_audio`]).
//!
//! The metadata itself stays where the recorder writes it (`media.recordings`, one
//! [`RecordingMeta`] per file, see `core::media`). This module keeps an index beside it,
//! in redb tables keyed for range scans, so that a search stays fast at 100,000 recordings
//! and more:
//!
//! | table | key | value |
//! |---|---|---|
//! | `recordings.by_time` | `(start_unix, id)` | JSON [`Indexed`] |
//! | `recordings.by_caller` | `(caller, start_unix, id)` | `()` |
//! | `recordings.by_did` | `(did, start_unix, id)` | `()` |
//! | `recordings.by_user` | `(user, start_unix, id)` | `()` |
//! | `recordings.ids` | `id` | `start_unix` |
//! | `recordings.deleted` | `id` | JSON tombstone (who, when, why, sha256) |
//!
//! A search walks one of these newest first (the most selective the filters allow) and
//! checks the other filters on the indexed row. A recording is indexed when its metadata is
//! stored ([`index_recording`], from `core::media::finish_recording`), and at start-up any
//! stored recording the index lacks is added ([`spawn_reindex`]).

pub mod audio;
mod query;

use redb::{ReadableTable, TableDefinition, TableError};
use serde::{Deserialize, Serialize};

use madoguchi_store::{NewAudit, Store, StoreError};

use crate::core::media::{RecordingMeta, RECORDINGS_TABLE};
use crate::ivr::log::{CallRecord, CALLS_BY_ID_TABLE, CALLS_TABLE};

pub use query::{search, Filter};

pub(crate) const BY_TIME: TableDefinition<(u64, &str), &[u8]> =
    TableDefinition::new("recordings.by_time");
pub(crate) const BY_CALLER: TableDefinition<(&str, u64, &str), ()> =
    TableDefinition::new("recordings.by_caller");
pub(crate) const BY_DID: TableDefinition<(&str, u64, &str), ()> =
    TableDefinition::new("recordings.by_did");
pub(crate) const BY_USER: TableDefinition<(&str, u64, &str), ()> =
    TableDefinition::new("recordings.by_user");
const IDS: TableDefinition<&str, u64> = TableDefinition::new("recordings.ids");
const DELETED: TableDefinition<&str, &[u8]> = TableDefinition::new("recordings.deleted");

/// What the index keeps about one recording (the search answer's fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indexed {
    pub id: String,
    pub file_name: String,
    pub call_id: String,
    pub start_unix: u64,
    pub duration_ms: u64,
    pub caller: String,
    pub callee: String,
    pub did: String,
    /// The extension or queue member who talked with the caller, when known.
    pub user: Option<String>,
    /// The scenario the call went through (calls from the network).
    pub scenario: Option<String>,
    /// `inbound` (through a scenario), `internal` (user to user) or `service` (line test).
    pub direction: String,
    pub size: u64,
    pub sha256: String,
    pub complete: bool,
    pub repaired: bool,
    pub problems: Vec<String>,
}

/// A recording id from its file name (`NAME.wav` → `NAME`).
pub fn id_of(file_name: &str) -> &str {
    file_name.strip_suffix(".wav").unwrap_or(file_name)
}

/// Who talked with the caller, from the call record: the user a transfer reached, or the
/// queue member who answered.
fn user_of(record: &CallRecord) -> Option<String> {
    if let Some(u) = record.outcome.strip_prefix("transferred:user:") {
        return Some(u.to_string());
    }
    record.events.iter().rev().find_map(|e| {
        ["member", "user", "answered_by"]
            .iter()
            .find_map(|k| e.detail.get(k).and_then(|v| v.as_str()))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    })
}

/// The index row of a recording, with what its call record adds (scenario, user).
pub fn indexed(meta: &RecordingMeta, record: Option<&CallRecord>) -> Indexed {
    let (direction, scenario, mut user) = if let Some(s) = meta.callee.strip_prefix("ivr:") {
        ("inbound", Some(s.to_string()), None)
    } else if meta.callee == "line-test" {
        ("service", None, None)
    } else if meta.callee.starts_with("outbound:") || meta.callee.starts_with("onnet:") {
        // A staff member's call out (through a trunk, or on-net): the caller is the user.
        (
            "outbound",
            None,
            Some(meta.caller.clone()).filter(|c| !c.is_empty()),
        )
    } else {
        (
            "internal",
            None,
            Some(meta.callee.clone()).filter(|c| !c.is_empty()),
        )
    };
    let scenario = record
        .map(|r| r.scenario.clone())
        .filter(|s| !s.is_empty())
        .or(scenario);
    if let Some(u) = record.and_then(user_of) {
        user = Some(u);
    }
    Indexed {
        id: id_of(&meta.file_name).to_string(),
        file_name: meta.file_name.clone(),
        call_id: meta.call_id.clone(),
        start_unix: meta.started_unix,
        duration_ms: meta.duration_ms,
        caller: meta.caller.clone(),
        callee: meta.callee.clone(),
        did: meta.did.clone(),
        user,
        scenario,
        direction: direction.into(),
        size: meta.bytes,
        sha256: meta.sha256.clone(),
        complete: meta.complete,
        repaired: meta
            .problems
            .iter()
            .any(|p| p.starts_with("repaired after")),
        problems: meta.problems.clone(),
    }
}

fn db(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

fn codec(key: &str, source: serde_json::Error) -> StoreError {
    StoreError::Codec {
        table: "recordings.by_time".into(),
        key: key.into(),
        source,
    }
}

/// The call record of `call_id`, if the IVR stored one.
pub fn call_record(store: &Store, call_id: &str) -> Option<CallRecord> {
    let key: String = store.get_json(CALLS_BY_ID_TABLE, call_id).ok().flatten()?;
    store.get_json(CALLS_TABLE, &key).ok().flatten()
}

/// Adds or replaces rows in one transaction (one disk sync for the lot).
pub fn put_many(store: &Store, rows: &[Indexed]) -> Result<(), StoreError> {
    let tx = store.db().begin_write().map_err(db)?;
    {
        let mut by_time = tx.open_table(BY_TIME).map_err(db)?;
        let mut by_caller = tx.open_table(BY_CALLER).map_err(db)?;
        let mut by_did = tx.open_table(BY_DID).map_err(db)?;
        let mut by_user = tx.open_table(BY_USER).map_err(db)?;
        let mut ids = tx.open_table(IDS).map_err(db)?;
        for row in rows {
            let id = row.id.as_str();
            // A row indexed before (a repaired file, a re-index) is replaced whole.
            let old_start = ids.get(id).map_err(db)?.map(|v| v.value());
            if let Some(start) = old_start {
                let old = by_time.remove((start, id)).map_err(db)?;
                if let Some(old) = old {
                    if let Ok(o) = serde_json::from_slice::<Indexed>(old.value()) {
                        by_caller
                            .remove((o.caller.as_str(), start, id))
                            .map_err(db)?;
                        by_did.remove((o.did.as_str(), start, id)).map_err(db)?;
                        if let Some(u) = &o.user {
                            by_user.remove((u.as_str(), start, id)).map_err(db)?;
                        }
                    }
                }
            }
            let bytes = serde_json::to_vec(row).map_err(|e| codec(id, e))?;
            let start = row.start_unix;
            by_time.insert((start, id), bytes.as_slice()).map_err(db)?;
            by_caller
                .insert((row.caller.as_str(), start, id), ())
                .map_err(db)?;
            by_did
                .insert((row.did.as_str(), start, id), ())
                .map_err(db)?;
            if let Some(u) = &row.user {
                by_user.insert((u.as_str(), start, id), ()).map_err(db)?;
            }
            ids.insert(id, start).map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}

/// Indexes a finished (or repaired) recording. Called where its metadata is stored.
pub fn index_recording(store: &Store, meta: &RecordingMeta) -> Result<(), StoreError> {
    let record = call_record(store, &meta.call_id);
    put_many(store, &[indexed(meta, record.as_ref())])
}

/// One recording's index row.
pub fn get(store: &Store, id: &str) -> Result<Option<Indexed>, StoreError> {
    let tx = store.db().begin_read().map_err(db)?;
    let ids = match tx.open_table(IDS) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(db(e)),
    };
    let Some(start) = ids.get(id).map_err(db)?.map(|v| v.value()) else {
        return Ok(None);
    };
    let by_time = tx.open_table(BY_TIME).map_err(db)?;
    let row = by_time.get((start, id)).map_err(db)?;
    row.map(|v| serde_json::from_slice(v.value()).map_err(|e| codec(id, e)))
        .transpose()
}

/// Adds every stored recording the index lacks (or whose file changed since). Returns how
/// many were added. Runs in batches, so a large history is a few transactions.
pub fn reindex(store: &Store) -> Result<usize, StoreError> {
    let all = store.list_json::<RecordingMeta>(RECORDINGS_TABLE)?;
    let mut batch = Vec::new();
    let mut added = 0;
    for (_, meta) in all {
        // A recording still in progress (or lost to a crash before the repair) has no hash yet.
        if meta.sha256.is_empty() {
            continue;
        }
        let id = id_of(&meta.file_name);
        let fresh = get(store, id)?.is_some_and(|r| r.sha256 == meta.sha256);
        if fresh {
            continue;
        }
        let record = call_record(store, &meta.call_id);
        batch.push(indexed(&meta, record.as_ref()));
        if batch.len() == 1000 {
            put_many(store, &batch)?;
            added += batch.len();
            batch.clear();
        }
    }
    put_many(store, &batch)?;
    Ok(added + batch.len())
}

/// Runs [`reindex`] on a blocking thread (start-up must not wait for it).
pub fn spawn_reindex(store: Store) {
    tokio::task::spawn_blocking(move || match reindex(&store) {
        Ok(0) => {}
        Ok(n) => tracing::info!(added = n, "recordings index brought up to date"),
        Err(e) => tracing::warn!(error = %e, "recordings index not brought up to date"),
    });
}

/// A deleted recording's tombstone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deleted {
    pub id: String,
    pub by: String,
    pub at_unix_ms: u64,
    pub reason: String,
    pub sha256: String,
}

/// Deletes recording `id`: its audio file, its metadata and index rows; keeps a tombstone
/// and appends the audit entry (`action`: `recording.delete` from the API, `recording.purge`
/// from retention). `Ok(None)` if no such recording.
pub fn delete_recording(
    store: &Store,
    dir: &std::path::Path,
    id: &str,
    who: &str,
    source: &str,
    action: &str,
    reason: &str,
) -> Result<Option<Indexed>, DeleteError> {
    let Some(row) = get(store, id)? else {
        return Ok(None);
    };
    // The entry first: a deletion that cannot be audited does not happen.
    store.append_audit(&NewAudit {
        who,
        action,
        object: &format!("recording:{id}"),
        source,
        detail: serde_json::json!({
            "reason": reason,
            "sha256": row.sha256,
            "caller": row.caller,
            "start_unix": row.start_unix,
        }),
    })?;
    audio::remove_audio(dir, id)?;
    let tomb = Deleted {
        id: id.to_string(),
        by: who.to_string(),
        at_unix_ms: crate::core::unix_now_ms(),
        reason: reason.to_string(),
        sha256: row.sha256.clone(),
    };
    let tx = store.db().begin_write().map_err(db)?;
    {
        let start = row.start_unix;
        tx.open_table(BY_TIME)
            .map_err(db)?
            .remove((start, id))
            .map_err(db)?;
        tx.open_table(BY_CALLER)
            .map_err(db)?
            .remove((row.caller.as_str(), start, id))
            .map_err(db)?;
        tx.open_table(BY_DID)
            .map_err(db)?
            .remove((row.did.as_str(), start, id))
            .map_err(db)?;
        if let Some(u) = &row.user {
            tx.open_table(BY_USER)
                .map_err(db)?
                .remove((u.as_str(), start, id))
                .map_err(db)?;
        }
        tx.open_table(IDS).map_err(db)?.remove(id).map_err(db)?;
        let bytes = serde_json::to_vec(&tomb).map_err(|e| codec(id, e))?;
        tx.open_table(DELETED)
            .map_err(db)?
            .insert(id, bytes.as_slice())
            .map_err(db)?;
    }
    tx.commit().map_err(db)?;
    store.remove_json(RECORDINGS_TABLE, &row.file_name)?;
    Ok(Some(row))
}

/// Why a deletion failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audio(#[from] audio::AudioError),
}
