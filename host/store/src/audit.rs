//! The append-only audit log (`store.audit`): who did what to which object, when and from
//! where (R-OPS-6). Every listen to a recording, every login and every change of a setting
//! appends one entry.
//!
//! There is deliberately no function that changes or removes an entry: [`Store::append_audit`]
//! and [`Store::query_audit`] are the whole API. Keys are `(at_unix_ms, seq)`, so a time range
//! is one range scan and the newest entries are read from the end; `seq` (from a counter kept
//! in the same transaction) makes every key unique and keeps append order within one
//! millisecond.
//!
//! ```no_run
//! # fn f(store: &madoguchi_store::Store) -> Result<(), madoguchi_store::StoreError> {
//! use madoguchi_store::audit::NewAudit;
//! store.append_audit(&NewAudit {
//!     who: "retention",
//!     action: "recording.purge",
//!     object: "recording:1798938900-abc",
//!     source: "system",
//!     detail: serde_json::json!({"reason": "retain_days=90"}),
//! })?;
//! # Ok(()) }
//! ```

use redb::{ReadableTable, TableDefinition, TableError};
use serde::{Deserialize, Serialize};

use crate::error::db;
use crate::{Store, StoreError};

/// `(at_unix_ms, seq)` → JSON [`AuditEntry`].
const AUDIT: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("store.audit");
/// `"seq"` → the last sequence number handed out.
const AUDIT_SEQ: TableDefinition<&str, u64> = TableDefinition::new("store.audit_seq");

/// Longest field accepted (longer text is cut, never refused: an audit entry is never lost
/// because a name was long).
const MAX_FIELD: usize = 512;

/// Rows one query looks at before it answers with what it found and a cursor to go on.
const MAX_SCAN: usize = 200_000;

/// What a caller appends.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    /// The user name, the token's `label (id)`, or a subsystem (`retention`, `cli`).
    pub who: &'a str,
    /// A dotted verb: `recording.listen`, `scenario.publish`, `login-failed`, `denied`.
    pub action: &'a str,
    /// `kind:name`, e.g. `recording:1798938900-abc`, `scenario:zama-mynumber`.
    pub object: &'a str,
    /// The peer address, or `cli` / `system`.
    pub source: &'a str,
    /// Anything else worth keeping (a reason, a version); `null` when nothing.
    pub detail: serde_json::Value,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at_unix_ms: u64,
    pub who: String,
    pub action: String,
    pub object: String,
    pub source: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// Filters of [`Store::query_audit`]; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Entries at or after this instant.
    pub from_ms: Option<u64>,
    /// Entries strictly before this instant.
    pub to_ms: Option<u64>,
    /// Exact actor.
    pub who: Option<String>,
    /// Exact action, or a prefix when it ends with `.` (`recording.`).
    pub action: Option<String>,
    /// Substring of the object (`RECORDING_ID` finds `recording:RECORDING_ID`).
    pub object: Option<String>,
    /// Paging: only entries before this key (the `next` of the previous page).
    pub before: Option<(u64, u64)>,
    /// At most this many entries (at least 1).
    pub limit: usize,
}

/// A page of entries, newest first, and where the next page starts (if there may be one).
#[derive(Debug, Clone, Default)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next: Option<(u64, u64)>,
}

impl AuditQuery {
    fn matches(&self, e: &AuditEntry) -> bool {
        if self.who.as_deref().is_some_and(|w| w != e.who) {
            return false;
        }
        if let Some(a) = &self.action {
            let ok = if a.ends_with('.') {
                e.action.starts_with(a.as_str())
            } else {
                e.action == *a
            };
            if !ok {
                return false;
            }
        }
        if self
            .object
            .as_deref()
            .is_some_and(|o| !e.object.contains(o))
        {
            return false;
        }
        true
    }
}

fn cut(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Store {
    /// Appends an entry stamped with the current time and returns its sequence number.
    /// One durable transaction: once this returns `Ok`, the entry survives a crash.
    pub fn append_audit(&self, e: &NewAudit<'_>) -> Result<u64, StoreError> {
        self.append_audit_at(e, now_ms())
    }

    /// [`Store::append_audit`] at a given instant (tests and imports).
    pub fn append_audit_at(&self, e: &NewAudit<'_>, at_unix_ms: u64) -> Result<u64, StoreError> {
        let tx = self.db().begin_write().map_err(db)?;
        let seq = {
            let mut counter = tx.open_table(AUDIT_SEQ).map_err(db)?;
            let seq = counter
                .get("seq")
                .map_err(db)?
                .map(|v| v.value())
                .unwrap_or(0)
                + 1;
            counter.insert("seq", seq).map_err(db)?;
            let entry = AuditEntry {
                seq,
                at_unix_ms,
                who: cut(e.who),
                action: cut(e.action),
                object: cut(e.object),
                source: cut(e.source),
                detail: e.detail.clone(),
            };
            let bytes = serde_json::to_vec(&entry).map_err(|source| StoreError::Codec {
                table: "store.audit".into(),
                key: seq.to_string(),
                source,
            })?;
            let mut t = tx.open_table(AUDIT).map_err(db)?;
            t.insert((at_unix_ms, seq), bytes.as_slice()).map_err(db)?;
            seq
        };
        tx.commit().map_err(db)?;
        Ok(seq)
    }

    /// Entries matching `q`, newest first. Looks at no more than a bounded number of rows
    /// per call: when it stops early, `next` says where to go on.
    pub fn query_audit(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        let limit = q.limit.max(1);
        let tx = self.db().begin_read().map_err(db)?;
        let table = match tx.open_table(AUDIT) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(AuditPage::default()),
            Err(e) => return Err(db(e)),
        };
        let lo = (q.from_ms.unwrap_or(0), 0u64);
        let mut hi = (q.to_ms.unwrap_or(u64::MAX), 0u64);
        if let Some(b) = q.before {
            hi = hi.min(b);
        }
        let mut page = AuditPage::default();
        if lo >= hi {
            return Ok(page);
        }
        for (scanned, row) in table.range(lo..hi).map_err(db)?.rev().enumerate() {
            let (k, v) = row.map_err(db)?;
            let key = k.value();
            if scanned >= MAX_SCAN {
                page.next = Some(key_after(key));
                break;
            }
            let entry: AuditEntry =
                serde_json::from_slice(v.value()).map_err(|source| StoreError::Codec {
                    table: "store.audit".into(),
                    key: format!("{}-{}", key.0, key.1),
                    source,
                })?;
            if !q.matches(&entry) {
                continue;
            }
            if page.entries.len() == limit {
                page.next = Some(key_after(key));
                break;
            }
            page.entries.push(entry);
        }
        Ok(page)
    }
}

/// The exclusive upper bound that still includes `key` (the cursor names the first row
/// not yet returned).
fn key_after(key: (u64, u64)) -> (u64, u64) {
    match key.1.checked_add(1) {
        Some(s) => (key.0, s),
        None => (key.0 + 1, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(who: &'a str, action: &'a str, object: &'a str) -> NewAudit<'a> {
        NewAudit {
            who,
            action,
            object,
            source: "127.0.0.1",
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn append_query_filter_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert!(s
            .query_audit(&AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .entries
            .is_empty());
        let base = 1_798_000_000_000;
        for i in 0..30u64 {
            let who = if i % 2 == 0 { "alice" } else { "bob" };
            let action = if i % 3 == 0 {
                "recording.listen"
            } else {
                "scenario.publish"
            };
            let obj = format!("recording:rec-{i}");
            // Two entries share each millisecond: seq keeps them apart and in order.
            let seq = s
                .append_audit_at(&entry(who, action, &obj), base + i / 2)
                .unwrap();
            assert_eq!(seq, i + 1);
        }
        let all = |q: AuditQuery| {
            let mut out = Vec::new();
            let mut q = q;
            for _ in 0..100 {
                let page = s.query_audit(&q).unwrap();
                out.extend(page.entries.into_iter().map(|e| e.seq));
                match page.next {
                    Some(n) => q.before = Some(n),
                    None => return out,
                }
            }
            panic!("paging did not end");
        };
        let q = |limit| AuditQuery {
            limit,
            ..Default::default()
        };
        assert_eq!(all(q(7)), (1..=30).rev().collect::<Vec<_>>());
        assert_eq!(all(q(100)).len(), 30);
        let alice = all(AuditQuery {
            who: Some("alice".into()),
            ..q(4)
        });
        assert_eq!(
            alice,
            (1..=30).rev().filter(|s| s % 2 == 1).collect::<Vec<_>>()
        );
        let listens = all(AuditQuery {
            action: Some("recording.".into()),
            ..q(3)
        });
        assert_eq!(listens.len(), 10);
        assert!(all(AuditQuery {
            action: Some("recording".into()),
            ..q(3)
        })
        .is_empty());
        assert_eq!(
            all(AuditQuery {
                object: Some("rec-17".into()),
                ..q(3)
            }),
            vec![18]
        );
        // Time range: [base+5, base+10) holds seq 11..=20.
        assert_eq!(
            all(AuditQuery {
                from_ms: Some(base + 5),
                to_ms: Some(base + 10),
                ..q(3)
            }),
            (11..=20).rev().collect::<Vec<_>>()
        );
    }

    #[test]
    fn entries_survive_reopening_and_long_fields_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let long = "あ".repeat(400);
        {
            let s = Store::open(dir.path()).unwrap();
            s.append_audit(&entry("carol", "login", &long)).unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let seq = s.append_audit(&entry("carol", "logout", "")).unwrap();
        assert_eq!(seq, 2);
        let page = s
            .query_audit(&AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.entries.len(), 2);
        assert_eq!(page.entries[1].action, "login");
        assert!(page.entries[1].object.len() <= MAX_FIELD + "…".len());
        assert!(page.entries[0].at_unix_ms > 1_700_000_000_000);
    }
}
