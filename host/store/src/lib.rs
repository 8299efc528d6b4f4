//! madoguchi's embedded store: one redb file (`madoguchi.redb`) in the data directory.
//!
//! What lives here: SIP users (only digest HA1s, never passwords), the current registrations
//! of every address-of-record, and the server secret that signs digest nonces. Other crates
//! keep their own tables in the same file through the generic API ([`Store::put_json`] and
//! friends) or directly through [`Store::db`].
//!
//! # Guarantees
//! - Every write is one ACID redb transaction; a crash leaves the previous or the new state,
//!   never a torn one (redb's copy-on-write B-trees with checksummed commits).
//! - Reads are MVCC snapshots: many readers (every call looks up bindings) run in parallel
//!   and never wait for a writer; writers serialise among themselves.
//! - [`Store`] is `Clone + Send + Sync` (an `Arc` inside); clone it into every task.
//!
//! # Table naming convention
//! Table names are `owner.table`, with `owner` the crate or subsystem that owns the table
//! (`server.calls`, `ivr.schedules`, `admin.audit`). The `store.` prefix is reserved for the
//! tables defined here. Values are JSON (serde_json) so that adding an optional field
//! (`#[serde(default)]`) never needs a migration; keys are UTF-8 strings.
//!
//! # Registrations and layering
//! This crate does not depend on `madoguchi-sip`. The registration API is generic over any
//! serde type: the SIP registrar's `Binding` goes in and comes back out as JSON. The one field
//! the store reads itself is `expires_at_unix` (a `u64`), used by [`Store::purge_expired`].
#![forbid(unsafe_code)]

pub mod audit;
mod bindings;
pub mod console;
mod error;
pub mod files;
mod generic;
pub mod keys;
mod meta;
pub mod tokens;
mod users;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, TableDefinition};

pub use audit::{AuditEntry, AuditPage, AuditQuery, NewAudit};
pub use console::{ConsoleUser, Session};
pub use error::StoreError;
pub use keys::{KeyError, KeySource, MasterKey};
pub use tokens::{Permission, Role, TokenMeta};
pub use users::UserRecord;

/// File name of the database inside the data directory.
pub const FILE_NAME: &str = "madoguchi.redb";

/// The schema version this build writes. Bumped when a stored layout changes incompatibly;
/// opening a newer file fails with [`StoreError::SchemaTooNew`] instead of misreading it.
pub const SCHEMA_VERSION: u64 = 1;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("store.meta");
pub(crate) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("store.users");
pub(crate) const REGISTRATIONS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("store.registrations");

/// Handle to the open store. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    secret: [u8; 32],
    master: MasterKey,
    /// Seals the users' digest HA1s (key derived from the master key for "ha1").
    ha1: keys::Sealer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// redb's page cache. Its default (1 GiB) lets a server's memory grow with the call records
/// it writes; the hot data (users, bindings, live scenarios) is a few MiB, and older call
/// records are read rarely (the console), so a small cache keeps memory flat under load.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

impl Store {
    /// Opens (creating if absent) `data_dir/madoguchi.redb` with the master key found as
    /// [`MasterKey::resolve`] says (environment, `MADOGUCHI_MASTER_KEY_FILE`, else
    /// `data_dir/master.key`, generated when absent).
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        private_dir(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let (key, _) = MasterKey::resolve(data_dir, None)?;
        Store::open_with_key(data_dir, key)
    }

    /// Opens (creating if absent) `data_dir/madoguchi.redb`, creates the store's tables,
    /// checks the schema version and creates the server secret on first open. The data
    /// directory is made 0700 and the database file 0600 (set explicitly, from creation,
    /// whatever the umask). Users whose HA1s an older version stored in clear are sealed
    /// with `key` now.
    pub fn open_with_key(data_dir: &Path, key: MasterKey) -> Result<Store, StoreError> {
        private_dir(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(FILE_NAME);
        private_file(&path).map_err(|source| StoreError::DataDir {
            path: path.clone(),
            source,
        })?;
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(error::db)?;
        let secret = meta::initialise(&db)?;
        let store = Store {
            inner: Arc::new(Inner {
                db: Arc::new(db),
                secret,
                ha1: keys::Sealer::new(&key, "ha1"),
                master: key,
            }),
        };
        store.seal_clear_users()?;
        Ok(store)
    }

    /// The master key this store was opened with (the recordings' keys derive from it).
    pub fn master_key(&self) -> &MasterKey {
        &self.inner.master
    }

    /// The underlying redb database, for crates that want typed tables of their own
    /// (name them `owner.table`, see the crate docs).
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The database as a shared handle, for components that keep it (the plugin registry).
    pub fn shared_db(&self) -> Arc<Database> {
        self.inner.db.clone()
    }

    /// The 32-byte server secret (random, created on first open, stable across restarts).
    /// Used to sign digest nonces so they validate without server-side state.
    pub fn server_secret(&self) -> [u8; 32] {
        self.inner.secret
    }
}

/// Creates `dir` (and missing parents) with mode 0700, and sets 0700 on it if it existed:
/// the data directory holds personal data (call records, recordings), so no other local
/// account may list or open anything in it. Set explicitly, never left to the umask.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 if absent, and sets 0600 on it if it existed with
/// another mode (a store written by an older version was 0644).
pub fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
            if mode != 0o600 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_clone_send_sync() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<Store>();
    }

    #[test]
    fn the_data_dir_is_0700_and_the_store_0600_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        // A directory an older version left open.
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _s = Store::open_with_key(&data, MasterKey::generate()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(FILE_NAME)), 0o600);
    }
}
