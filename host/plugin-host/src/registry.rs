//! The plugin registry: uploaded components stored content-addressed
//! (`<sha256>.wasm` in a directory the registry owns) and indexed by
//! `name@version` in redb tables prefixed `plugin_`.
//!
//! An upload is checked completely before anything is stored (size, is a
//! component, exports one known world at a compatible version, links
//! against the host, and optionally its `validate-config` accepts a config),
//! so a refused upload changes nothing. Versions are immutable: the same
//! `name@version` with other bytes is refused. A version pinned by a
//! published scenario cannot be removed; the caller says which are pinned.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableTable, TableDefinition};

use crate::error::{LoadError, PluginError};
use crate::kind::PluginKind;
use crate::plugin::Plugin;
use crate::runtime::{sha256_hex, Runtime};
use crate::state::CallContext;

/// `name@version` → JSON [`PluginMeta`].
const VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("plugin_versions");

/// What the registry knows about one uploaded plugin version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PluginMeta {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    /// SHA-256 of the component, hex: also its file name in the store.
    pub sha256: String,
    pub size: u64,
    pub uploaded_unix_ms: u64,
}

impl PluginMeta {
    /// `name@version`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Plugin names are 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
    #[error("invalid plugin name {0:?}: use 1-64 of a-z, 0-9, '-', '_'")]
    InvalidName(String),
    /// Versions are 1–32 of `0-9 A-Z a-z . + -`, starting with a digit.
    #[error("invalid plugin version {0:?}: use a version such as 1.0.0")]
    InvalidVersion(String),
    /// A reference is `name@version`.
    #[error("invalid plugin reference {0:?}: expected name@version")]
    InvalidReference(String),
    /// The component is not an acceptable plugin.
    #[error("plugin refused: {0}")]
    Load(#[from] LoadError),
    /// The plugin's `validate-config` rejected a configuration (or failed on it).
    #[error("{}config for {plugin} rejected: {message}", node.as_ref().map(|n| format!("node {n:?}: ")).unwrap_or_default())]
    ConfigRejected {
        node: Option<String>,
        plugin: String,
        message: String,
    },
    /// This `name@version` is already stored with different bytes.
    #[error("{reference} already exists with different content; upload a new version")]
    Exists { reference: String },
    /// No such `name@version`.
    #[error("no plugin {reference}")]
    NotFound { reference: String },
    /// A published scenario uses this version.
    #[error("{reference} is used by a published scenario and cannot be removed")]
    InUse { reference: String },
    /// The stored component no longer matches its recorded SHA-256.
    #[error("stored component of {reference} is corrupt: {reason}")]
    Corrupt { reference: String, reason: String },
    /// The metadata database failed.
    #[error("plugin database: {0}")]
    Db(Box<redb::Error>),
    /// The component store failed.
    #[error("plugin store: {0}")]
    Io(#[from] std::io::Error),
}

fn db_err(e: impl Into<redb::Error>) -> RegistryError {
    RegistryError::Db(Box::new(e.into()))
}

fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn valid_version(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'+' || b == b'-')
}

/// Split and check `name@version`.
pub fn parse_reference(reference: &str) -> Result<(&str, &str), RegistryError> {
    let (name, version) = reference
        .split_once('@')
        .ok_or_else(|| RegistryError::InvalidReference(reference.to_string()))?;
    if !valid_name(name) {
        return Err(RegistryError::InvalidName(name.to_string()));
    }
    if !valid_version(version) {
        return Err(RegistryError::InvalidVersion(version.to_string()));
    }
    Ok((name, version))
}

/// Uploaded plugins: metadata in redb, components in a directory.
pub struct Registry {
    runtime: Runtime,
    db: Arc<Database>,
    dir: cap_std::fs::Dir,
    loaded: Mutex<HashMap<String, Plugin>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// Open the registry over `db` (creating its tables) and the component
    /// directory `dir`.
    pub fn open(
        runtime: Runtime,
        db: Arc<Database>,
        dir: cap_std::fs::Dir,
    ) -> Result<Self, RegistryError> {
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(VERSIONS).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Self {
            runtime,
            db,
            dir,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// Check and store a component as `name@version`. With `config`, the
    /// plugin's `validate-config` must accept it too. Uploading the same
    /// bytes again is a no-op returning the stored metadata.
    pub fn upload(
        &self,
        name: &str,
        version: &str,
        bytes: &[u8],
        config: Option<&str>,
    ) -> Result<PluginMeta, RegistryError> {
        let reference = format!("{name}@{version}");
        parse_reference(&reference)?;
        let sha256 = sha256_hex(bytes);
        if let Some(existing) = self.meta(&reference)? {
            if existing.sha256 == sha256 {
                return Ok(existing);
            }
            return Err(RegistryError::Exists { reference });
        }
        let plugin = self.runtime.load(&reference, bytes)?;
        if let Some(config) = config {
            check_config(&plugin, None, config)?;
        }
        self.store_file(&sha256, bytes)?;
        let meta = PluginMeta {
            name: name.to_string(),
            version: version.to_string(),
            kind: plugin.kind(),
            sha256,
            size: bytes.len() as u64,
            uploaded_unix_ms: self.runtime.config().clock.now_unix_ms(),
        };
        let json = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = tx.open_table(VERSIONS).map_err(db_err)?;
            // Re-check inside the write transaction: a concurrent upload may have won.
            if let Some(v) = t.get(reference.as_str()).map_err(db_err)? {
                let other: Result<PluginMeta, _> = serde_json::from_slice(v.value());
                if other.is_ok_and(|o| o.sha256 != meta.sha256) {
                    return Err(RegistryError::Exists { reference });
                }
            }
            t.insert(reference.as_str(), json.as_slice())
                .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reference, plugin);
        Ok(meta)
    }

    /// Writes `<sha>.wasm` once, atomically (the name is the content).
    fn store_file(&self, sha256: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let name = format!("{sha256}.wasm");
        Ok(madoguchi_store::files::write_content_addressed(
            &self.dir, &name, bytes,
        )?)
    }

    /// Metadata of `name@version`, if stored.
    pub fn meta(&self, reference: &str) -> Result<Option<PluginMeta>, RegistryError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(VERSIONS).map_err(db_err)?;
        let Some(v) = t.get(reference).map_err(db_err)? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| RegistryError::Corrupt {
                reference: reference.to_string(),
                reason: format!("metadata: {e}"),
            })
    }

    /// Every stored plugin version, ordered by reference.
    pub fn list(&self) -> Result<Vec<PluginMeta>, RegistryError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(VERSIONS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            match serde_json::from_slice(v.value()) {
                Ok(meta) => out.push(meta),
                Err(e) => tracing::warn!(
                    reference = k.value(),
                    "skipping unreadable plugin metadata: {e}"
                ),
            }
        }
        Ok(out)
    }

    /// The loaded plugin `name@version` (compiled once, then shared).
    pub fn get(&self, reference: &str) -> Result<Plugin, RegistryError> {
        if let Some(p) = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(reference)
        {
            return Ok(p.clone());
        }
        let meta = self
            .meta(reference)?
            .ok_or_else(|| RegistryError::NotFound {
                reference: reference.to_string(),
            })?;
        let bytes = self.dir.read(format!("{}.wasm", meta.sha256))?;
        let actual = sha256_hex(&bytes);
        if actual != meta.sha256 {
            return Err(RegistryError::Corrupt {
                reference: reference.to_string(),
                reason: format!("SHA-256 is {actual}, expected {}", meta.sha256),
            });
        }
        let plugin = self.runtime.load(reference, &bytes)?;
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reference.to_string(), plugin.clone());
        Ok(plugin)
    }

    /// Check each node's config with its plugin's `validate-config`, for a
    /// scenario upload: `(node id, plugin reference, config JSON)`. The
    /// first rejection names the node.
    pub fn validate_configs<'a>(
        &self,
        nodes: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<(), RegistryError> {
        for (node, reference, config) in nodes {
            let plugin = self.get(reference)?;
            check_config(&plugin, Some(node), config)?;
        }
        Ok(())
    }

    /// Remove `name@version` unless `pinned` (the references used by
    /// published scenarios) contains it. Calls already running keep their
    /// instance; the component file goes when no version refers to it.
    pub fn remove(
        &self,
        reference: &str,
        pinned: &HashSet<String>,
    ) -> Result<PluginMeta, RegistryError> {
        parse_reference(reference)?;
        if pinned.contains(reference) {
            return Err(RegistryError::InUse {
                reference: reference.to_string(),
            });
        }
        let meta = self
            .meta(reference)?
            .ok_or_else(|| RegistryError::NotFound {
                reference: reference.to_string(),
            })?;
        let tx = self.db.begin_write().map_err(db_err)?;
        let still_used = {
            let mut t = tx.open_table(VERSIONS).map_err(db_err)?;
            t.remove(reference).map_err(db_err)?;
            let mut used = false;
            for row in t.iter().map_err(db_err)? {
                let (_, v) = row.map_err(db_err)?;
                if serde_json::from_slice::<PluginMeta>(v.value())
                    .is_ok_and(|m| m.sha256 == meta.sha256)
                {
                    used = true;
                    break;
                }
            }
            used
        };
        tx.commit().map_err(db_err)?;
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(reference);
        if !still_used {
            if let Err(e) = self.dir.remove_file(format!("{}.wasm", meta.sha256)) {
                tracing::warn!(reference, "cannot delete component file: {e}");
            }
        }
        Ok(meta)
    }
}

fn check_config(plugin: &Plugin, node: Option<&str>, config: &str) -> Result<(), RegistryError> {
    let rejected = |message: String| RegistryError::ConfigRejected {
        node: node.map(str::to_string),
        plugin: plugin.name().to_string(),
        message,
    };
    match plugin.validate_config(&CallContext::new("validate-config"), config) {
        Ok(()) => Ok(()),
        Err(PluginError::Failed { message, .. }) => Err(rejected(message)),
        Err(other) => Err(rejected(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(parse_reference("menu@1.0.0").unwrap(), ("menu", "1.0.0"));
        assert!(matches!(
            parse_reference("menu"),
            Err(RegistryError::InvalidReference(_))
        ));
        assert!(matches!(
            parse_reference("Menu@1"),
            Err(RegistryError::InvalidName(_))
        ));
        assert!(matches!(
            parse_reference("../x@1"),
            Err(RegistryError::InvalidName(_))
        ));
        assert!(matches!(
            parse_reference("menu@v1"),
            Err(RegistryError::InvalidVersion(_))
        ));
        assert!(matches!(
            parse_reference("menu@1/.."),
            Err(RegistryError::InvalidVersion(_))
        ));
    }
}
