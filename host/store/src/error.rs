//! The store's error type.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database engine (redb) failed: I/O, a corrupt file, or the file is open elsewhere.
    /// (Boxed: redb's error is large and this type travels through every `Result`.)
    #[error("database error: {0}")]
    Db(Box<redb::Error>),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The file was written by a newer madoguchi whose schema we do not understand.
    #[error("store schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: u64, supported: u64 },
    /// A stored value could not be (de)serialised; the key names where.
    #[error("bad stored value in {table}/{key}: {source}")]
    Codec {
        table: String,
        key: String,
        source: serde_json::Error,
    },
    /// `add_user` for an extension that already exists.
    #[error("user {0} already exists")]
    UserExists(String),
    /// The user named does not exist.
    #[error("no such user {0}")]
    NoSuchUser(String),
    /// A record failed validation before it was written (the message says which field).
    #[error("invalid record: {0}")]
    Invalid(String),
    /// A generic-API call named a table in the store's own `store.` namespace or without an
    /// `owner.` prefix (see the crate docs for the naming convention).
    #[error("table name {0:?} is reserved or not of the form owner.table")]
    BadTableName(String),
    /// The master key could not be read or created.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// A sealed value could not be opened (another master key, or altered).
    #[error("cannot open the sealed {what}: {why}")]
    Sealed { what: String, why: String },
}

/// Converts any of redb's specific error types into [`StoreError::Db`].
pub(crate) fn db<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

/// Commits a write transaction and records how long the commit (its fsync) took in
/// `madoguchi_store_write_seconds`.
pub(crate) fn commit(tx: redb::WriteTransaction) -> Result<(), StoreError> {
    let t0 = std::time::Instant::now();
    let r = tx.commit().map_err(db);
    metrics::histogram!("madoguchi_store_write_seconds").record(t0.elapsed().as_secs_f64());
    r
}
