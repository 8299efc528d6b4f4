//! The IVR: published scenario versions, ready for calls, looked up by DID; the per-call
//! state machine ([`machine`]) and its IO glue ([`task`]).
//!
//! Hot swap: the DID table maps to `Arc<LoadedScenario>`. Publishing builds the new version
//! completely (plugins compiled, prompts decoded) before it swaps the table entries in one
//! write; a call holds the `Arc` it started with, so it keeps its version until it ends.

pub mod analytics;
pub mod loaded;
pub mod log;
pub mod machine;
#[cfg(test)]
mod machine_tests;
pub mod plan;
pub mod queue_audio;
pub mod setup;
pub mod task;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use madoguchi_plugin_host::Registry;
use madoguchi_scenario::{canonical_did, PromptStore, ScenarioStore};
use tracing::{info, warn};

use loaded::{LoadedScenario, PromptRef};

/// The live scenarios of this server.
pub struct Ivr {
    scenarios: Arc<ScenarioStore>,
    prompts: Arc<PromptStore>,
    registry: Arc<Registry>,
    by_did: RwLock<HashMap<String, Arc<LoadedScenario>>>,
}

impl Ivr {
    pub fn new(
        scenarios: Arc<ScenarioStore>,
        prompts: Arc<PromptStore>,
        registry: Arc<Registry>,
    ) -> Ivr {
        Ivr {
            scenarios,
            prompts,
            registry,
            by_did: RwLock::new(HashMap::new()),
        }
    }

    /// The scenario version a new call to `did` takes.
    pub fn for_did(&self, did: &str) -> Option<Arc<LoadedScenario>> {
        let key = canonical_did(did);
        self.by_did
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }

    /// Loads a version of a scenario.
    pub fn load(&self, name: &str, version: u32) -> Result<LoadedScenario, String> {
        let stored = self
            .scenarios
            .get(name, version)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("scenario {name} version {version} not found"))?;
        let prompts = stored.prompts.iter().map(|(id, p)| PromptRef {
            id,
            text: &p.text,
            sha256: &p.sha256,
        });
        let audio = |sha: &str| self.prompts.audio(sha).map_err(|e| e.to_string());
        LoadedScenario::build(version, &stored.scenario, prompts, &self.registry, &audio)
    }

    /// Re-reads which versions are live and swaps the DID table to them. A version that
    /// cannot be loaded keeps its previous table entries (calls go on as before) and is
    /// reported.
    pub fn refresh(&self) -> Result<(), String> {
        let live = self.scenarios.all_live().map_err(|e| e.to_string())?;
        let current = self
            .by_did
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut table: HashMap<String, Arc<LoadedScenario>> = HashMap::new();
        let mut problems = Vec::new();
        for (name, version) in live {
            let already = current
                .values()
                .find(|s| s.name == name && s.version == version)
                .cloned();
            let loaded = match already {
                Some(l) => l,
                None => match self.load(&name, version) {
                    Ok(l) => {
                        info!(scenario = %name, version, dids = ?l.dids, "scenario version live");
                        Arc::new(l)
                    }
                    Err(e) => {
                        warn!(scenario = %name, version, error = %e, "scenario version cannot be loaded; keeping the previous one");
                        problems.push(format!("{name}@{version}: {e}"));
                        for (did, s) in &current {
                            if s.name == name {
                                table.insert(did.clone(), s.clone());
                            }
                        }
                        continue;
                    }
                },
            };
            for did in &loaded.dids {
                table.insert(canonical_did(did), loaded.clone());
            }
        }
        *self.by_did.write().unwrap_or_else(|p| p.into_inner()) = table;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Live versions by DID (for the status API).
    pub fn live(&self) -> Vec<(String, String, u32)> {
        let mut v: Vec<_> = self
            .by_did
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(did, s)| (did.clone(), s.name.clone(), s.version))
            .collect();
        v.sort();
        v
    }
}

/// The words of the host's apology (`assets/apology.wav`, rendered with espeak-ng from a
/// kana reading).
pub const APOLOGY_TEXT: &str = "申し訳ございません。ただいまお電話をおつなぎできません。恐れ入りますが、しばらくたってからおかけ直しください。";

/// The host's apology: played when a scenario cannot go on (never dead air).
pub fn apology() -> madoguchi_media::prompt::Prompt {
    builtin(include_bytes!("../../assets/apology.wav"))
}

/// Audio the host has for a text when the scenario has no prompt with those words: the
/// default recording notice (R-REC-2: a policy that falls back still gives its notice) and
/// the apology.
pub fn builtin_by_text(text: &str) -> Option<madoguchi_media::prompt::Prompt> {
    if text == madoguchi_plugin_host::recording::DEFAULT_NOTICE_JA {
        Some(builtin(include_bytes!("../../assets/recording-notice.wav")))
    } else if text == APOLOGY_TEXT {
        Some(apology())
    } else {
        None
    }
}

fn builtin(wav: &[u8]) -> madoguchi_media::prompt::Prompt {
    madoguchi_media::prompt::Prompt::from_wav_bytes(wav)
        .unwrap_or_else(|_| madoguchi_media::prompt::Prompt::from_pcm(vec![0; 8000]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_builtin_notice_and_apology_decode() {
        let notice = super::builtin_by_text(madoguchi_plugin_host::recording::DEFAULT_NOTICE_JA)
            .expect("notice");
        assert!(notice.duration_ms() > 2000, "{}", notice.duration_ms());
        assert!(super::apology().duration_ms() > 2000);
    }
}
