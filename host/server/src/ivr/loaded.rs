//! A published scenario version made ready for calls: its plugins compiled, its prompts
//! decoded, its schedules wired. Immutable and shared (`Arc`) by every call that started on
//! it, which is how a call keeps its version (and plugin versions, and audio) while newer
//! versions are published.

use std::collections::HashMap;
use std::sync::Arc;

use madoguchi_media::prompt::Prompt as Audio;
use madoguchi_plugin_host::bindings::types::Prompt;
use madoguchi_plugin_host::Plugin;
use madoguchi_plugin_host::{PluginKind, PluginSchedules, Registry};
use madoguchi_scenario::Scenario;

use super::machine::Graph;

/// One node, ready.
pub struct LoadedNode {
    pub plugin: Plugin,
    pub config: String,
    pub exits: Vec<String>,
    pub on_error: Option<String>,
}

/// A scenario version ready for calls.
pub struct LoadedScenario {
    pub name: String,
    pub version: u32,
    pub dids: Vec<String>,
    start: String,
    fallback: Option<String>,
    nodes: HashMap<String, LoadedNode>,
    prompts: HashMap<String, Audio>,
    by_text: HashMap<String, String>,
    pub schedules: Arc<PluginSchedules>,
    pub recording_policy: Option<(Plugin, String)>,
}

impl std::fmt::Debug for LoadedScenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// A prompt of the version: its words and the hash of its audio.
pub struct PromptRef<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub sha256: &'a str,
}

impl LoadedScenario {
    /// Loads every plugin and prompt a version needs; the first that is missing or broken
    /// is the error (the version is then not taken live).
    pub fn build<'a>(
        version: u32,
        scenario: &Scenario,
        prompts: impl IntoIterator<Item = PromptRef<'a>>,
        registry: &Registry,
        audio: &dyn Fn(&str) -> Result<Vec<u8>, String>,
    ) -> Result<LoadedScenario, String> {
        let plugin = |reference: &str, kind: PluginKind, path: &str| -> Result<Plugin, String> {
            let p = registry
                .get(reference)
                .map_err(|e| format!("{path}: plugin {reference}: {e}"))?;
            if p.kind() != kind {
                return Err(format!(
                    "{path}: plugin {reference} is a {:?} plugin, not {kind:?}",
                    p.kind()
                ));
            }
            Ok(p)
        };
        let mut nodes = HashMap::new();
        for (id, n) in &scenario.nodes {
            nodes.insert(
                id.clone(),
                LoadedNode {
                    plugin: plugin(&n.plugin, PluginKind::Node, &format!("nodes.{id}"))?,
                    config: n.config_string(),
                    exits: n.exits.clone(),
                    on_error: n.on_error.clone(),
                },
            );
        }
        let schedules = Arc::new(PluginSchedules::new());
        for (name, s) in &scenario.schedules {
            let p = plugin(
                &s.plugin,
                PluginKind::Schedule,
                &format!("schedules.{name}"),
            )?;
            schedules
                .insert(name, p, s.config_string())
                .map_err(|e| format!("schedules.{name}: {e}"))?;
        }
        let recording_policy = match &scenario.recording_policy {
            Some(r) => Some((
                plugin(&r.plugin, PluginKind::Recording, "recording_policy")?,
                r.config_string(),
            )),
            None => None,
        };
        let mut decoded = HashMap::new();
        let mut by_text = HashMap::new();
        for p in prompts {
            let bytes = audio(p.sha256).map_err(|e| format!("prompts.{}: {e}", p.id))?;
            let a = Audio::from_wav_bytes(&bytes)
                .map_err(|e| format!("prompts.{}: not usable audio: {e}", p.id))?;
            decoded.insert(p.id.to_string(), a);
            by_text
                .entry(p.text.to_string())
                .or_insert_with(|| p.id.to_string());
        }
        Ok(LoadedScenario {
            name: scenario.name.clone(),
            version,
            dids: scenario.dids.clone(),
            start: scenario.start.clone(),
            fallback: scenario.fallback.clone(),
            nodes,
            prompts: decoded,
            by_text,
            schedules,
            recording_policy,
        })
    }

    /// The plugin of a node.
    pub fn node(&self, id: &str) -> Option<&LoadedNode> {
        self.nodes.get(id)
    }

    /// The audio of a prompt list; prompts it cannot render are named in the error list
    /// (and skipped: the caller hears the rest).
    pub fn audio(&self, prompts: &[Prompt]) -> (Vec<Audio>, Vec<String>) {
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for p in prompts {
            match p {
                Prompt::Asset(id) => match self.prompts.get(id) {
                    Some(a) => out.push(a.clone()),
                    None => missing.push(id.clone()),
                },
                Prompt::Text(t) => match self
                    .by_text
                    .get(t)
                    .and_then(|id| self.prompts.get(id))
                    .cloned()
                    .or_else(|| super::builtin_by_text(t))
                {
                    Some(a) => out.push(a),
                    None => missing.push(format!("text:{t}")),
                },
                Prompt::Digits(d) => {
                    for c in d.chars() {
                        match self.prompts.get(&format!("digit-{c}")) {
                            Some(a) => out.push(a.clone()),
                            None => missing.push(format!("digit-{c}")),
                        }
                    }
                }
                Prompt::Silence(ms) => {
                    let n = (*ms).min(60_000) as usize * 8;
                    out.push(Audio::from_pcm(vec![0; n]));
                }
            }
        }
        (out, missing)
    }
}

impl Graph for LoadedScenario {
    fn start(&self) -> &str {
        &self.start
    }
    fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }
    fn exists(&self, node: &str) -> bool {
        self.nodes.contains_key(node)
    }
    fn exits(&self, node: &str) -> &[String] {
        self.nodes
            .get(node)
            .map(|n| n.exits.as_slice())
            .unwrap_or(&[])
    }
    fn on_error(&self, node: &str) -> Option<&str> {
        self.nodes.get(node).and_then(|n| n.on_error.as_deref())
    }
    fn config(&self, node: &str) -> &str {
        self.nodes
            .get(node)
            .map(|n| n.config.as_str())
            .unwrap_or("{}")
    }
}
