//! Registrations (`store.registrations`): per address-of-record, the JSON array of its
//! current bindings.
//!
//! Generic over the binding type so this crate does not depend on the SIP crate; the only
//! field read here is `expires_at_unix` (see [`Store::purge_expired`]).

use redb::ReadableTable;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::db;
use crate::{Store, StoreError, REGISTRATIONS};

const TABLE: &str = "store.registrations";

fn codec(key: &str, source: serde_json::Error) -> StoreError {
    StoreError::Codec {
        table: TABLE.into(),
        key: key.to_string(),
        source,
    }
}

impl Store {
    /// Replaces every binding of `aor` in one transaction; an empty slice removes the AOR.
    pub fn put_bindings<B: Serialize>(&self, aor: &str, bindings: &[B]) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(bindings).map_err(|e| codec(aor, e))?;
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(REGISTRATIONS).map_err(db)?;
            if bindings.is_empty() {
                t.remove(aor).map_err(db)?;
            } else {
                t.insert(aor, bytes.as_slice()).map_err(db)?;
            }
        }
        crate::error::commit(tx)
    }

    /// The stored bindings of `aor` (empty if none). Expired ones are included until
    /// [`Store::purge_expired`] runs; the registrar ignores them by time anyway.
    pub fn get_bindings<B: DeserializeOwned>(&self, aor: &str) -> Result<Vec<B>, StoreError> {
        let tx = self.db().begin_read().map_err(db)?;
        let t = tx.open_table(REGISTRATIONS).map_err(db)?;
        let found = t.get(aor).map_err(db)?;
        match found {
            Some(v) => serde_json::from_slice(v.value()).map_err(|e| codec(aor, e)),
            None => Ok(Vec::new()),
        }
    }

    /// Every AOR with its bindings, ordered by AOR.
    pub fn all_bindings<B: DeserializeOwned>(&self) -> Result<Vec<(String, Vec<B>)>, StoreError> {
        let tx = self.db().begin_read().map_err(db)?;
        let t = tx.open_table(REGISTRATIONS).map_err(db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(db)? {
            let (k, v) = row.map_err(db)?;
            let aor = k.value().to_string();
            let list = serde_json::from_slice(v.value()).map_err(|e| codec(&aor, e))?;
            out.push((aor, list));
        }
        Ok(out)
    }

    /// Removes every binding whose `expires_at_unix <= now_unix` (and AORs left empty) in one
    /// transaction; returns how many bindings were removed. Entries without a numeric
    /// `expires_at_unix` are kept: the store never deletes data it does not understand.
    pub fn purge_expired(&self, now_unix: u64) -> Result<usize, StoreError> {
        let tx = self.db().begin_write().map_err(db)?;
        let mut removed = 0;
        {
            let mut t = tx.open_table(REGISTRATIONS).map_err(db)?;
            let mut changes: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
            for row in t.iter().map_err(db)? {
                let (k, v) = row.map_err(db)?;
                let aor = k.value().to_string();
                let list: Vec<serde_json::Value> =
                    serde_json::from_slice(v.value()).map_err(|e| codec(&aor, e))?;
                let before = list.len();
                let kept: Vec<_> = list
                    .into_iter()
                    .filter(
                        |b| match b.get("expires_at_unix").and_then(|e| e.as_u64()) {
                            Some(at) => at > now_unix,
                            None => true,
                        },
                    )
                    .collect();
                if kept.len() != before {
                    removed += before - kept.len();
                    changes.push((aor, kept));
                }
            }
            for (aor, kept) in changes {
                if kept.is_empty() {
                    t.remove(aor.as_str()).map_err(db)?;
                } else {
                    let bytes = serde_json::to_vec(&kept).map_err(|e| codec(&aor, e))?;
                    t.insert(aor.as_str(), bytes.as_slice()).map_err(db)?;
                }
            }
        }
        crate::error::commit(tx)?;
        if removed > 0 {
            tracing::debug!(removed, "purged expired registrations");
        }
        Ok(removed)
    }
}
