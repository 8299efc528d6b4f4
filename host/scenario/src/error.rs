//! The crate's error type for stored prompts and scenario versions.
//! (Validation problems are not errors of this type: see [`crate::Report`].)

use madoguchi_store::StoreError;

/// Why a prompt or scenario store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// No such version of the scenario (or no scenario of that name).
    #[error("scenario {name:?} has no version {version}")]
    NotFound { name: String, version: u32 },
    /// Rollback or unpublish of a scenario that has no live version.
    #[error("scenario {name:?} is not published")]
    NotPublished { name: String },
    /// Rollback to a version that is not older than the live one.
    #[error("cannot roll {name:?} back to version {version}: the live version is {live}; roll back only to an earlier version")]
    NotEarlier {
        name: String,
        version: u32,
        live: u32,
    },
    /// A DID of the version is bound to another published scenario.
    #[error("DID {did} is already bound to published scenario {owner:?}")]
    DidTaken { did: String, owner: String },
    /// Uploaded prompt bytes are not a WAV file the media engine can play.
    #[error("prompt {id:?} is not usable audio: {reason}")]
    NotAudio { id: String, reason: String },
    /// An id, name or hash does not have the required form.
    #[error("invalid {kind} {value:?}: {expected}")]
    BadId {
        /// What was being named ("prompt id", "sha256", "scenario name").
        kind: &'static str,
        /// The offending value.
        value: String,
        /// The form it must have.
        expected: &'static str,
    },
    /// `upload` was given a document whose text does not parse to the validated scenario.
    #[error("the uploaded text of scenario {name:?} does not match the validated document")]
    DocumentMismatch { name: String },
    /// No stored audio has this SHA-256.
    #[error("no prompt audio with SHA-256 {sha256}")]
    NoAudio { sha256: String },
    /// A stored record or file is unreadable or does not match its hash.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
    /// The shared store failed (generic JSON tables).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The database engine failed (boxed: redb's error is large).
    #[error("scenario database: {0}")]
    Db(Box<redb::Error>),
    /// The prompt audio directory failed.
    #[error("prompt audio store: {0}")]
    Io(#[from] std::io::Error),
}

/// Converts any of redb's specific error types into [`ScenarioError::Db`].
pub(crate) fn db<E: Into<redb::Error>>(e: E) -> ScenarioError {
    ScenarioError::Db(Box::new(e.into()))
}
