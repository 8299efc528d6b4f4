//! Data protection at rest (issue 14): the master key, the store opened with it, the
//! private recordings directory and the key that seals recordings.
//!
//! - The data directory is 0700, the store and every recording 0600, set explicitly.
//! - The master key never lives in the store: `$MADOGUCHI_MASTER_KEY`, the key file named by
//!   `[security] master_key_file` or `$MADOGUCHI_MASTER_KEY_FILE`, else `DATA/master.key`
//!   (generated 0600 on first start, so the demo works as it is; keep it elsewhere in
//!   production). It seals the users' digest HA1s and wraps each recording's file key.
//! - `[recordings] encrypt = true` (the default) seals new recordings; reading goes through
//!   [`madoguchi_media::recording::open_recording`], which decrypts and checks every segment.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use madoguchi_media::recording::RecordingKey;
use madoguchi_store::{MasterKey, Store};
use serde::Deserialize;
use tracing::info;

/// `[security]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySection {
    /// The master key file (64 hex digits, mode 0600). Unset: `$MADOGUCHI_MASTER_KEY`,
    /// `$MADOGUCHI_MASTER_KEY_FILE`, else `DATA/master.key` (generated when absent).
    pub master_key_file: Option<PathBuf>,
}

/// `[recordings]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingsSection {
    /// Seal recordings at rest (per-file key, AEAD segments). Off writes plain WAV.
    pub encrypt: bool,
    /// Default retention in days for recordings whose policy names none (0 = keep).
    pub retain_days: u32,
}

impl Default for RecordingsSection {
    fn default() -> Self {
        RecordingsSection {
            encrypt: true,
            retain_days: 0,
        }
    }
}

/// Finds the master key and opens the store with it; logs where the key came from (its id,
/// never the key).
pub fn open_store(data_dir: &Path, security: &SecuritySection) -> Result<Store> {
    madoguchi_store::private_dir(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let (key, source) = MasterKey::resolve(data_dir, security.master_key_file.as_deref())
        .context("cannot get the master key")?;
    info!(key = %key.id(), from = %source, "master key loaded");
    Store::open_with_key(data_dir, key)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))
}

/// The key that wraps recordings' file keys (derived from the master key).
pub fn recording_key(master: &MasterKey) -> RecordingKey {
    RecordingKey::new(master.derive("recordings"))
}

/// `DATA/recordings`, created 0700 (set again if it existed), opened as a capability.
pub fn recordings_dir(data_dir: &Path) -> Result<(PathBuf, cap_std::fs::Dir)> {
    let dir = data_dir.join("recordings");
    madoguchi_store::private_dir(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let cap = cap_std::fs::Dir::open_ambient_dir(&dir, cap_std::ambient_authority())
        .with_context(|| format!("cannot open {}", dir.display()))?;
    Ok((dir, cap))
}
