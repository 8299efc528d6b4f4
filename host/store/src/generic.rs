//! A small key → JSON API for other crates' tables (`owner.table`, see the crate docs).
//!
//! Each call is its own transaction. Crates that need several writes to be atomic, range
//! scans or non-JSON types use [`Store::db`] and redb directly, with the same naming rule.

use redb::{ReadableTable, TableDefinition, TableError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::db;
use crate::{Store, StoreError};

/// Checks `owner.table` form and keeps callers out of the reserved `store.` namespace.
fn check_name(table: &str) -> Result<TableDefinition<'_, &'static str, &'static [u8]>, StoreError> {
    let ok = match table.split_once('.') {
        Some((owner, name)) => {
            !owner.is_empty()
                && !name.is_empty()
                && owner != "store"
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => false,
    };
    if ok {
        Ok(TableDefinition::new(table))
    } else {
        Err(StoreError::BadTableName(table.to_string()))
    }
}

fn codec(table: &str, key: &str, source: serde_json::Error) -> StoreError {
    StoreError::Codec {
        table: table.into(),
        key: key.into(),
        source,
    }
}

impl Store {
    /// Writes `value` as JSON under `key` in `table` (created on first write).
    pub fn put_json<T: Serialize>(
        &self,
        table: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let def = check_name(table)?;
        let bytes = serde_json::to_vec(value).map_err(|e| codec(table, key, e))?;
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(def).map_err(db)?;
            t.insert(key, bytes.as_slice()).map_err(db)?;
        }
        crate::error::commit(tx)
    }

    /// Writes several `(key, value)` pairs to `table` in one transaction: all or none, and
    /// one disk sync for the lot (write-behind threads batch bursts this way).
    pub fn put_json_many<T: Serialize>(
        &self,
        table: &str,
        rows: &[(String, T)],
    ) -> Result<(), StoreError> {
        let def = check_name(table)?;
        let encoded = rows
            .iter()
            .map(|(k, v)| serde_json::to_vec(v).map_err(|e| codec(table, k, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(def).map_err(db)?;
            for ((key, _), bytes) in rows.iter().zip(&encoded) {
                t.insert(key.as_str(), bytes.as_slice()).map_err(db)?;
            }
        }
        crate::error::commit(tx)
    }

    /// Writes `value` under `key` in `table` and, in the same transaction, `key` under
    /// `index_key` in `index_table`: a record and its secondary index never disagree.
    pub fn put_json_indexed<T: Serialize>(
        &self,
        table: &str,
        key: &str,
        value: &T,
        index_table: &str,
        index_key: &str,
    ) -> Result<(), StoreError> {
        let def = check_name(table)?;
        let index = check_name(index_table)?;
        let bytes = serde_json::to_vec(value).map_err(|e| codec(table, key, e))?;
        let key_json = serde_json::to_vec(key).map_err(|e| codec(index_table, index_key, e))?;
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(def).map_err(db)?;
            t.insert(key, bytes.as_slice()).map_err(db)?;
            let mut i = tx.open_table(index).map_err(db)?;
            i.insert(index_key, key_json.as_slice()).map_err(db)?;
        }
        crate::error::commit(tx)
    }

    /// Reads `key` from `table`; `None` if the key or the table does not exist.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        table: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let def = check_name(table)?;
        let tx = self.db().begin_read().map_err(db)?;
        let t = match tx.open_table(def) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db(e)),
        };
        let found = t.get(key).map_err(db)?;
        found
            .map(|v| serde_json::from_slice(v.value()).map_err(|e| codec(table, key, e)))
            .transpose()
    }

    /// Removes `key` from `table`; returns whether it was there.
    pub fn remove_json(&self, table: &str, key: &str) -> Result<bool, StoreError> {
        let def = check_name(table)?;
        let tx = self.db().begin_write().map_err(db)?;
        let existed = {
            let mut t = tx.open_table(def).map_err(db)?;
            let removed = t.remove(key).map_err(db)?;
            removed.is_some()
        };
        crate::error::commit(tx)?;
        Ok(existed)
    }

    /// Every `(key, value)` of `table` in key order (empty if the table does not exist).
    pub fn list_json<T: DeserializeOwned>(
        &self,
        table: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let def = check_name(table)?;
        let tx = self.db().begin_read().map_err(db)?;
        let t = match tx.open_table(def) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db(e)),
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(db)? {
            let (k, v) = row.map_err(db)?;
            let key = k.value().to_string();
            let value = serde_json::from_slice(v.value()).map_err(|e| codec(table, &key, e))?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// The `(key, value)` pairs of `table` with `from <= key < to`, in key order, at most
    /// `limit` of them (empty if the table does not exist).
    pub fn range_json<T: DeserializeOwned>(
        &self,
        table: &str,
        from: &str,
        to: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let def = check_name(table)?;
        let tx = self.db().begin_read().map_err(db)?;
        let t = match tx.open_table(def) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db(e)),
        };
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        for row in t.range(from..to).map_err(db)?.take(limit) {
            let (k, v) = row.map_err(db)?;
            let key = k.value().to_string();
            let value = serde_json::from_slice(v.value()).map_err(|e| codec(table, &key, e))?;
            out.push((key, value));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn table_names_follow_the_convention() {
        assert!(check_name("server.calls").is_ok());
        assert!(check_name("ivr.schedule_v2").is_ok());
        assert!(check_name("store.users").is_err());
        assert!(check_name("calls").is_err());
        assert!(check_name(".x").is_err());
        assert!(check_name("a.").is_err());
        assert!(check_name("a b.c").is_err());
    }

    #[test]
    fn batches_are_written_together_and_ranges_read_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path()).unwrap();
        let rows: Vec<(String, u32)> = ["q/3", "q/1", "r/1", "q/2"]
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), i as u32))
            .collect();
        store.put_json_many("test.rows", &rows).unwrap();
        let got: Vec<(String, u32)> = store.range_json("test.rows", "q/", "q/9", 10).unwrap();
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["q/1", "q/2", "q/3"]);
        assert_eq!(got[0].1, 1);
        let first_two: Vec<(String, u32)> = store.range_json("test.rows", "q/", "q/9", 2).unwrap();
        assert_eq!(first_two.len(), 2);
        let none: Vec<(String, u32)> = store.range_json("test.none", "a", "z", 10).unwrap();
        assert!(none.is_empty());
        let backwards: Vec<(String, u32)> = store.range_json("test.rows", "z", "a", 10).unwrap();
        assert!(backwards.is_empty());
    }

    #[test]
    fn an_indexed_record_is_found_through_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path()).unwrap();
        store
            .put_json_indexed("test.calls", "0001-abc", &7u32, "test.calls_by_id", "abc")
            .unwrap();
        let key: String = store.get_json("test.calls_by_id", "abc").unwrap().unwrap();
        assert_eq!(key, "0001-abc");
        assert_eq!(store.get_json::<u32>("test.calls", &key).unwrap(), Some(7));
        assert!(store
            .put_json_indexed("test.calls", "k", &1u32, "store.bad", "k")
            .is_err());
    }
}
