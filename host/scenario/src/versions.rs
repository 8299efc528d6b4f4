//! Stored scenario versions, the live version of each name, the DID bindings
//! and the audit trail, in four redb tables of the shared store:
//!
//! | table | key | value |
//! |---|---|---|
//! | `scenario.versions` | `name/0000000007` | JSON record: meta, document text, prompt snapshot |
//! | `scenario.live` | name | JSON [`PublishedRef`] |
//! | `scenario.dids` | canonical DID ([`crate::canonical_did`]) | name |
//! | `scenario.audit` | sequence number | JSON [`AuditEntry`] |
//!
//! Every operation is one write transaction, so publish checks and moves all
//! DIDs, flips the live version and appends its audit entry together, or (on
//! a conflict or crash) changes nothing. Versions are written once and never
//! modified.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use madoguchi_store::Store;
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{Clock, SystemClock};
use crate::did::canonical_did;
use crate::error::{db, ScenarioError};
use crate::model::Scenario;
use crate::prompts::PromptInfo;
use crate::validate::Validated;

const VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("scenario.versions");
const LIVE: TableDefinition<&str, &[u8]> = TableDefinition::new("scenario.live");
const DIDS: TableDefinition<&str, &str> = TableDefinition::new("scenario.dids");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("scenario.audit");

/// What is known about one stored version without reading its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// Scenario name.
    pub name: String,
    /// 1, 2, … per name.
    pub version: u32,
    /// The document's title.
    #[serde(default)]
    pub title: Option<String>,
    /// The DIDs as the document spells them.
    pub dids: Vec<String>,
    /// SHA-256 of the document text, lowercase hex.
    pub sha256: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When, in Unix seconds.
    pub uploaded_unix: u64,
    /// The uploader's note.
    #[serde(default)]
    pub comment: String,
}

/// One stored version in full.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    /// Its metadata.
    pub meta: VersionMeta,
    /// The document text exactly as uploaded.
    pub document: String,
    /// The document parsed.
    pub scenario: Scenario,
    /// The prompts' audio as validated at upload (what calls of this version play).
    pub prompts: BTreeMap<String, PromptInfo>,
}

/// The live version of a name, and who put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedRef {
    /// The live version.
    pub version: u32,
    /// Who published (or rolled back to) it.
    pub by: String,
    /// When, in Unix seconds.
    pub at_unix: u64,
    /// Why, as they said.
    pub why: String,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// A new version was stored.
    Upload,
    /// A version was made live.
    Publish,
    /// An earlier version was made live again.
    Rollback,
    /// The name stopped answering its DIDs.
    Unpublish,
}

impl AuditAction {
    /// `upload`, `publish`, `rollback` or `unpublish`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Upload => "upload",
            AuditAction::Publish => "publish",
            AuditAction::Rollback => "rollback",
            AuditAction::Unpublish => "unpublish",
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change to the scenarios, in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, … across all names: the order of changes.
    pub seq: u64,
    /// What happened.
    pub action: AuditAction,
    /// Scenario name.
    pub name: String,
    /// The version uploaded, made live, or (unpublish) taken down.
    pub version: u32,
    /// The version live before the change, if any (`None` for uploads).
    pub previous: Option<u32>,
    /// Who.
    pub who: String,
    /// When, in Unix seconds.
    pub at_unix: u64,
    /// Why (for uploads, the comment).
    pub why: String,
}

/// The stored record of a version (key `name/0000000007`).
#[derive(Serialize, Deserialize)]
struct VersionRecord {
    meta: VersionMeta,
    document: String,
    prompts: BTreeMap<String, PromptInfo>,
}

/// Versions, live pointers, DID bindings and audit trail of all scenarios.
#[derive(Clone)]
pub struct ScenarioStore {
    store: Store,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ScenarioStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScenarioStore").finish_non_exhaustive()
    }
}

fn version_key(name: &str, version: u32) -> String {
    format!("{name}/{version:010}")
}

/// Keys of `name`'s versions: `name/` up to (not including) `name0`
/// (`0` sorts right after `/`, and names cannot contain `/`).
fn version_range(name: &str) -> (String, String) {
    (format!("{name}/"), format!("{name}0"))
}

fn corrupt(what: impl Into<String>, e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Corrupt {
        what: what.into(),
        reason: e.to_string(),
    }
}

fn to_json<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, ScenarioError> {
    serde_json::to_vec(v).map_err(|e| corrupt(what, e))
}

fn from_json<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, ScenarioError> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(what, e))
}

impl ScenarioStore {
    /// Opens the scenario tables in `store` (creating them on first use).
    pub fn open(store: &Store) -> Result<ScenarioStore, ScenarioError> {
        Self::open_with_clock(store, Arc::new(SystemClock))
    }

    /// As [`ScenarioStore::open`], with the clock that stamps uploads and publishes.
    pub fn open_with_clock(
        store: &Store,
        clock: Arc<dyn Clock>,
    ) -> Result<ScenarioStore, ScenarioError> {
        let s = ScenarioStore {
            store: store.clone(),
            clock,
        };
        s.write(|tx| {
            tx.open_table(VERSIONS).map_err(db)?;
            tx.open_table(LIVE).map_err(db)?;
            tx.open_table(DIDS).map_err(db)?;
            tx.open_table(AUDIT).map_err(db)?;
            Ok(())
        })?;
        Ok(s)
    }

    /// Runs `f` in one write transaction: committed if it succeeds, aborted
    /// (nothing changed) if it fails.
    fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<T, ScenarioError>,
    ) -> Result<T, ScenarioError> {
        let tx = self.store.db().begin_write().map_err(db)?;
        match f(&tx) {
            Ok(v) => {
                tx.commit().map_err(db)?;
                Ok(v)
            }
            Err(e) => {
                if let Err(abort) = tx.abort() {
                    tracing::warn!("aborting a scenario transaction failed: {abort}");
                }
                Err(e)
            }
        }
    }

    /// Stores a validated document as the next version of its name.
    /// `raw_json` is the text that was validated; it is kept as uploaded.
    pub fn upload(
        &self,
        v: &Validated,
        raw_json: &[u8],
        who: &str,
        comment: &str,
    ) -> Result<VersionMeta, ScenarioError> {
        let name = v.scenario.name.clone();
        let mismatch = || ScenarioError::DocumentMismatch { name: name.clone() };
        let document = std::str::from_utf8(raw_json).map_err(|_| mismatch())?;
        match serde_json::from_str::<Scenario>(document) {
            Ok(parsed) if parsed == v.scenario => {}
            _ => return Err(mismatch()),
        }
        let now = self.clock.now_unix();
        let meta = self.write(|tx| {
            let mut versions = tx.open_table(VERSIONS).map_err(db)?;
            let (from, to) = version_range(&name);
            let last = versions
                .range(from.as_str()..to.as_str())
                .map_err(db)?
                .next_back()
                .transpose()
                .map_err(db)?
                .map(|(_, v)| from_json::<VersionRecord>(&name, v.value()).map(|r| r.meta.version))
                .transpose()?
                .unwrap_or(0);
            let meta = VersionMeta {
                name: name.clone(),
                version: last + 1,
                title: v.scenario.title.clone(),
                dids: v.scenario.dids.clone(),
                sha256: hex::encode(Sha256::digest(raw_json)),
                uploaded_by: who.to_string(),
                uploaded_unix: now,
                comment: comment.to_string(),
            };
            let record = VersionRecord {
                meta: meta.clone(),
                document: document.to_string(),
                prompts: v.prompts.clone(),
            };
            let key = version_key(&name, meta.version);
            versions
                .insert(key.as_str(), to_json(&key, &record)?.as_slice())
                .map_err(db)?;
            let mut audit = tx.open_table(AUDIT).map_err(db)?;
            append_audit(
                &mut audit,
                AuditAction::Upload,
                &name,
                meta.version,
                None,
                who,
                now,
                comment,
            )?;
            Ok(meta)
        })?;
        tracing::info!(
            name,
            version = meta.version,
            who,
            "scenario version uploaded"
        );
        Ok(meta)
    }

    /// Version `version` of `name`, if stored.
    pub fn get(&self, name: &str, version: u32) -> Result<Option<StoredVersion>, ScenarioError> {
        let tx = self.store.db().begin_read().map_err(db)?;
        let t = tx.open_table(VERSIONS).map_err(db)?;
        let key = version_key(name, version);
        let Some(v) = t.get(key.as_str()).map_err(db)? else {
            return Ok(None);
        };
        let record: VersionRecord = from_json(&key, v.value())?;
        let scenario = serde_json::from_str(&record.document).map_err(|e| corrupt(&key, e))?;
        Ok(Some(StoredVersion {
            meta: record.meta,
            document: record.document,
            scenario,
            prompts: record.prompts,
        }))
    }

    /// Every version of `name`, oldest first (empty for an unknown name).
    pub fn versions(&self, name: &str) -> Result<Vec<VersionMeta>, ScenarioError> {
        let tx = self.store.db().begin_read().map_err(db)?;
        let t = tx.open_table(VERSIONS).map_err(db)?;
        let (from, to) = version_range(name);
        let mut out = Vec::new();
        for row in t.range(from.as_str()..to.as_str()).map_err(db)? {
            let (k, v) = row.map_err(db)?;
            out.push(from_json::<VersionRecord>(k.value(), v.value())?.meta);
        }
        Ok(out)
    }

    /// Every scenario name with at least one version, sorted.
    pub fn names(&self) -> Result<Vec<String>, ScenarioError> {
        let tx = self.store.db().begin_read().map_err(db)?;
        let t = tx.open_table(VERSIONS).map_err(db)?;
        let mut names = BTreeSet::new();
        for row in t.iter().map_err(db)? {
            let (k, _) = row.map_err(db)?;
            if let Some((name, _)) = k.value().split_once('/') {
                names.insert(name.to_string());
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Makes `version` of `name` live: binds its DIDs (all free or already
    /// `name`'s, else [`ScenarioError::DidTaken`] and nothing changes), frees
    /// the DIDs only the previous live version had, records who and why.
    /// Publishing the live version again is allowed and recorded.
    pub fn publish(
        &self,
        name: &str,
        version: u32,
        who: &str,
        why: &str,
    ) -> Result<AuditEntry, ScenarioError> {
        self.make_live(AuditAction::Publish, name, version, who, why)
    }

    /// Publishes an earlier version again (it must be older than the live one).
    pub fn rollback(
        &self,
        name: &str,
        version: u32,
        who: &str,
        why: &str,
    ) -> Result<AuditEntry, ScenarioError> {
        self.make_live(AuditAction::Rollback, name, version, who, why)
    }

    fn make_live(
        &self,
        action: AuditAction,
        name: &str,
        version: u32,
        who: &str,
        why: &str,
    ) -> Result<AuditEntry, ScenarioError> {
        let now = self.clock.now_unix();
        let entry = self.write(|tx| {
            let versions = tx.open_table(VERSIONS).map_err(db)?;
            let key = version_key(name, version);
            let record: VersionRecord = match versions.get(key.as_str()).map_err(db)? {
                Some(v) => from_json(&key, v.value())?,
                None => {
                    return Err(ScenarioError::NotFound {
                        name: name.to_string(),
                        version,
                    })
                }
            };
            let mut live = tx.open_table(LIVE).map_err(db)?;
            let previous = read_live(&live, name)?.map(|p| p.version);
            if action == AuditAction::Rollback {
                let live_version = previous.ok_or_else(|| ScenarioError::NotPublished {
                    name: name.to_string(),
                })?;
                if version >= live_version {
                    return Err(ScenarioError::NotEarlier {
                        name: name.to_string(),
                        version,
                        live: live_version,
                    });
                }
            }
            let wanted: BTreeMap<String, &str> = record
                .meta
                .dids
                .iter()
                .map(|d| (canonical_did(d), d.as_str()))
                .collect();
            let mut dids = tx.open_table(DIDS).map_err(db)?;
            for (canonical, written) in &wanted {
                if let Some(owner) = dids.get(canonical.as_str()).map_err(db)? {
                    if owner.value() != name {
                        return Err(ScenarioError::DidTaken {
                            did: (*written).to_string(),
                            owner: owner.value().to_string(),
                        });
                    }
                }
            }
            for stale in owned_dids(&dids, name)?.difference(&wanted.keys().cloned().collect()) {
                dids.remove(stale.as_str()).map_err(db)?;
            }
            for canonical in wanted.keys() {
                dids.insert(canonical.as_str(), name).map_err(db)?;
            }
            let published = PublishedRef {
                version,
                by: who.to_string(),
                at_unix: now,
                why: why.to_string(),
            };
            live.insert(name, to_json(name, &published)?.as_slice())
                .map_err(db)?;
            let mut audit = tx.open_table(AUDIT).map_err(db)?;
            append_audit(&mut audit, action, name, version, previous, who, now, why)
        })?;
        tracing::info!(name, version, who, action = %action, "scenario made live");
        Ok(entry)
    }

    /// Takes `name` down: its DIDs are freed and it has no live version.
    pub fn unpublish(&self, name: &str, who: &str, why: &str) -> Result<AuditEntry, ScenarioError> {
        let now = self.clock.now_unix();
        let entry = self.write(|tx| {
            let mut live = tx.open_table(LIVE).map_err(db)?;
            let previous = read_live(&live, name)?.ok_or_else(|| ScenarioError::NotPublished {
                name: name.to_string(),
            })?;
            live.remove(name).map_err(db)?;
            let mut dids = tx.open_table(DIDS).map_err(db)?;
            for did in owned_dids(&dids, name)? {
                dids.remove(did.as_str()).map_err(db)?;
            }
            let mut audit = tx.open_table(AUDIT).map_err(db)?;
            append_audit(
                &mut audit,
                AuditAction::Unpublish,
                name,
                previous.version,
                Some(previous.version),
                who,
                now,
                why,
            )
        })?;
        tracing::info!(name, who, "scenario unpublished");
        Ok(entry)
    }

    /// The live version of `name`, if published.
    pub fn live(&self, name: &str) -> Result<Option<PublishedRef>, ScenarioError> {
        let tx = self.store.db().begin_read().map_err(db)?;
        let t = tx.open_table(LIVE).map_err(db)?;
        read_live(&t, name)
    }

    /// Every published name with its live version, sorted by name.
    pub fn all_live(&self) -> Result<Vec<(String, u32)>, ScenarioError> {
        let tx = self.store.db().begin_read().map_err(db)?;
        let t = tx.open_table(LIVE).map_err(db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(db)? {
            let (k, v) = row.map_err(db)?;
            let p: PublishedRef = from_json(k.value(), v.value())?;
            out.push((k.value().to_string(), p.version));
        }
        Ok(out)
    }

    /// The published scenario (name, live version) answering `did`, in either
    /// Japanese spelling (`+81462000000` or `0462000000`).
    pub fn resolve_did(&self, did: &str) -> Result<Option<(String, u32)>, ScenarioError> {
        let tx = self.store.db().begin_read().map_err(db)?;
        let dids = tx.open_table(DIDS).map_err(db)?;
        let Some(owner) = dids.get(canonical_did(did).as_str()).map_err(db)? else {
            return Ok(None);
        };
        let name = owner.value().to_string();
        let live = tx.open_table(LIVE).map_err(db)?;
        Ok(read_live(&live, &name)?.map(|p| (name, p.version)))
    }

    /// Plugin references (`name@version`) used by live versions: the plugin
    /// registry must not remove these.
    pub fn pinned_plugins(&self) -> Result<BTreeSet<String>, ScenarioError> {
        let mut pinned = BTreeSet::new();
        for (name, version) in self.all_live()? {
            if let Some(v) = self.get(&name, version)? {
                pinned.extend(v.scenario.plugin_refs().map(str::to_string));
            }
        }
        Ok(pinned)
    }

    /// The audit trail in order, of one name or of all.
    pub fn audit(&self, name: Option<&str>) -> Result<Vec<AuditEntry>, ScenarioError> {
        let tx = self.store.db().begin_read().map_err(db)?;
        let t = tx.open_table(AUDIT).map_err(db)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(db)? {
            let (k, v) = row.map_err(db)?;
            let entry: AuditEntry = from_json(&format!("audit entry {}", k.value()), v.value())?;
            if name.is_none_or(|n| n == entry.name) {
                out.push(entry);
            }
        }
        Ok(out)
    }
}

fn read_live(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
) -> Result<Option<PublishedRef>, ScenarioError> {
    t.get(name)
        .map_err(db)?
        .map(|v| from_json(name, v.value()))
        .transpose()
}

/// The canonical DIDs bound to `name`.
fn owned_dids(
    t: &Table<&'static str, &'static str>,
    name: &str,
) -> Result<BTreeSet<String>, ScenarioError> {
    let mut out = BTreeSet::new();
    for row in t.iter().map_err(db)? {
        let (did, owner) = row.map_err(db)?;
        if owner.value() == name {
            out.insert(did.value().to_string());
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn append_audit(
    t: &mut Table<u64, &'static [u8]>,
    action: AuditAction,
    name: &str,
    version: u32,
    previous: Option<u32>,
    who: &str,
    at_unix: u64,
    why: &str,
) -> Result<AuditEntry, ScenarioError> {
    let seq = t.last().map_err(db)?.map_or(1, |(k, _)| k.value() + 1);
    let entry = AuditEntry {
        seq,
        action,
        name: name.to_string(),
        version,
        previous,
        who: who.to_string(),
        at_unix,
        why: why.to_string(),
    };
    t.insert(seq, to_json("audit entry", &entry)?.as_slice())
        .map_err(db)?;
    Ok(entry)
}
