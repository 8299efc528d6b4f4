//! Uploaded prompts: audio stored content-addressed (`<sha256>.wav` in a
//! directory this store owns), metadata by prompt id in table
//! `scenario.prompts`.
//!
//! Uploading an id again replaces its metadata but never deletes audio: a
//! stored scenario version keeps the [`PromptInfo`] (and so the SHA-256) it
//! was validated with, and calls running it must still find that file.

use std::sync::Arc;

use madoguchi_media::prompt::Prompt;
use madoguchi_store::Store;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{Clock, SystemClock};
use crate::error::ScenarioError;
use crate::patterns::{is_id, is_sha256_hex};

/// Table of prompt metadata: id → JSON [`PromptInfo`].
pub const PROMPTS_TABLE: &str = "scenario.prompts";

/// One uploaded prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptInfo {
    /// Prompt id (`[A-Za-z0-9_-]{1,64}`), as documents refer to it.
    pub id: String,
    /// The words of the recording.
    pub text: String,
    /// SHA-256 of the WAV file, lowercase hex: also its file name.
    pub sha256: String,
    /// Length after decoding, in milliseconds.
    pub duration_ms: u64,
    /// Size of the WAV file.
    pub bytes: u64,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When, in Unix seconds.
    pub uploaded_unix: u64,
}

/// Prompt metadata in the shared store, audio in a directory.
pub struct PromptStore {
    store: Store,
    dir: cap_std::fs::Dir,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PromptStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptStore").finish_non_exhaustive()
    }
}

impl PromptStore {
    /// Opens the prompt store over `store` and the audio directory `dir`.
    pub fn open(store: &Store, dir: cap_std::fs::Dir) -> Result<PromptStore, ScenarioError> {
        Self::open_with_clock(store, dir, Arc::new(SystemClock))
    }

    /// As [`PromptStore::open`], with the clock that stamps uploads.
    pub fn open_with_clock(
        store: &Store,
        dir: cap_std::fs::Dir,
        clock: Arc<dyn Clock>,
    ) -> Result<PromptStore, ScenarioError> {
        // Fail at open, not at first upload, if the table is unreadable.
        store.list_json::<PromptInfo>(PROMPTS_TABLE)?;
        Ok(PromptStore {
            store: store.clone(),
            dir,
            clock,
        })
    }

    /// Stores `wav` as prompt `id` saying `text`. The bytes must decode as a
    /// WAV file the media engine can play; nothing is stored otherwise.
    pub fn upload(
        &self,
        id: &str,
        wav: &[u8],
        text: &str,
        who: &str,
    ) -> Result<PromptInfo, ScenarioError> {
        check_id(id)?;
        let prompt = Prompt::from_wav_bytes(wav).map_err(|e| ScenarioError::NotAudio {
            id: id.to_string(),
            reason: e.to_string(),
        })?;
        let sha256 = hex::encode(Sha256::digest(wav));
        self.store_file(&sha256, wav)?;
        let info = PromptInfo {
            id: id.to_string(),
            text: text.to_string(),
            sha256,
            duration_ms: prompt.duration_ms(),
            bytes: wav.len() as u64,
            uploaded_by: who.to_string(),
            uploaded_unix: self.clock.now_unix(),
        };
        self.store.put_json(PROMPTS_TABLE, id, &info)?;
        tracing::info!(id, sha256 = %info.sha256, who, "prompt uploaded");
        Ok(info)
    }

    /// Writes `<sha>.wav` once, atomically (the name is the content).
    fn store_file(&self, sha256: &str, bytes: &[u8]) -> Result<(), ScenarioError> {
        let name = format!("{sha256}.wav");
        Ok(madoguchi_store::files::write_content_addressed(
            &self.dir, &name, bytes,
        )?)
    }

    /// The prompt `id`, if uploaded.
    pub fn get(&self, id: &str) -> Result<Option<PromptInfo>, ScenarioError> {
        check_id(id)?;
        Ok(self.store.get_json(PROMPTS_TABLE, id)?)
    }

    /// Every uploaded prompt, by id.
    pub fn list(&self) -> Result<Vec<PromptInfo>, ScenarioError> {
        Ok(self
            .store
            .list_json::<PromptInfo>(PROMPTS_TABLE)?
            .into_iter()
            .map(|(_, info)| info)
            .collect())
    }

    /// The WAV file with this SHA-256 (64 lowercase hex digits), checked
    /// against its hash before it is returned.
    pub fn audio(&self, sha256: &str) -> Result<Vec<u8>, ScenarioError> {
        if !is_sha256_hex(sha256) {
            return Err(ScenarioError::BadId {
                kind: "sha256",
                value: sha256.to_string(),
                expected: "64 lowercase hex digits",
            });
        }
        let bytes = match self.dir.read(format!("{sha256}.wav")) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ScenarioError::NoAudio {
                    sha256: sha256.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != sha256 {
            return Err(ScenarioError::Corrupt {
                what: format!("prompt audio {sha256}.wav"),
                reason: format!("its SHA-256 is {actual}"),
            });
        }
        Ok(bytes)
    }
}

fn check_id(id: &str) -> Result<(), ScenarioError> {
    if is_id(id) {
        Ok(())
    } else {
        Err(ScenarioError::BadId {
            kind: "prompt id",
            value: id.to_string(),
            expected: "1-64 of A-Z, a-z, 0-9, '_', '-'",
        })
    }
}
