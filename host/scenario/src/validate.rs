//! Checking a document at upload: rules 1–6 of `docs/scenario-format.md`
//! (rule 7, DIDs bound elsewhere, is checked at publish by the store).
//!
//! Every problem is collected, not just the first, each with its JSON path.
//! What the crate cannot know itself (which plugins are uploaded, whether a
//! prompt has audio) comes from an [`Environment`] the caller supplies: the
//! server adapts its plugin registry and [`crate::PromptStore`], the CLI its
//! local files.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::{PluginUse, Scenario};
use crate::patterns::{is_id, is_plugin_ref};
use crate::problem::{join, Problem, Report};
use crate::prompt_refs;
use crate::prompts::PromptInfo;
use crate::{graph, structure, syntax};

/// Which plugin world a reference must implement (the server maps this to its
/// registry's kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// An IVR node (`ivr-node` world).
    Node,
    /// A schedule (`schedule` world).
    Schedule,
    /// A recording policy (`recording-policy` world).
    RecordingPolicy,
}

impl PluginKind {
    /// The WIT world name, as the plugin registry reports kinds.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::Node => "ivr-node",
            PluginKind::Schedule => "schedule",
            PluginKind::RecordingPolicy => "recording-policy",
        }
    }
}

/// What validation needs to know about the world outside the document.
pub trait Environment {
    /// `Ok` if `reference` (`name@version`) is an uploaded plugin of `kind` and its
    /// `validate-config` accepts `config` (compact JSON); otherwise why not, in
    /// words for the user (the caller adds the node id).
    fn check_plugin(&self, reference: &str, kind: PluginKind, config: &str) -> Result<(), String>;

    /// The audio of prompt `id`, if it has any (uploaded, or a decodable file).
    fn prompt(&self, id: &str) -> Option<PromptInfo>;
}

/// A document that passed every upload rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The parsed document.
    pub scenario: Scenario,
    /// Problems that do not block the upload (unreachable nodes, repeated exits).
    pub warnings: Vec<Problem>,
    /// The audio of every prompt as validated: stored with the version so a call
    /// keeps the audio it started with even if a prompt is uploaded again.
    pub prompts: BTreeMap<String, PromptInfo>,
}

/// Checks `json` against rules 1–6; on success the parsed scenario, its
/// warnings and a snapshot of its prompts' audio, otherwise every problem found.
pub fn validate(json: &[u8], env: &dyn Environment) -> Result<Validated, Report> {
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => {
            return Err(Report {
                problems: vec![syntax_problem(&e)],
            })
        }
    };
    let mut problems = Vec::new();
    syntax::duplicate_keys(json, &mut problems);
    structure::check(&value, &mut problems);
    let scenario: Scenario = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => {
            // The structure check reports everything serde refuses, with paths;
            // this is a safety net should the two ever disagree.
            if !problems.iter().any(Problem::is_error) {
                problems.push(Problem::error(
                    "",
                    format!("the document does not match the scenario format: {e}"),
                ));
            }
            return Err(Report { problems });
        }
    };
    graph::check(&scenario, &mut problems);
    plugins(&scenario, env, &mut problems);
    let prompts = prompts(&scenario, env, &mut problems);
    if problems.iter().any(Problem::is_error) {
        return Err(Report { problems });
    }
    Ok(Validated {
        scenario,
        warnings: problems,
        prompts,
    })
}

fn syntax_problem(e: &serde_json::Error) -> Problem {
    let what = match e.classify() {
        serde_json::error::Category::Io | serde_json::error::Category::Data => "not valid JSON",
        serde_json::error::Category::Syntax => "JSON syntax error",
        serde_json::error::Category::Eof => "the JSON ends too early",
    };
    Problem::error(
        "",
        format!("{what} at line {}, column {}: {e}", e.line(), e.column()),
    )
}

/// Every plugin use of the document: (path, who for messages, plugin, kind).
fn plugin_uses(s: &Scenario) -> Vec<(String, String, &str, PluginKind, &Value)> {
    let mut uses = Vec::new();
    if let Some(p) = &s.recording_policy {
        uses.push(use_of(
            "recording_policy".into(),
            "recording_policy".into(),
            p,
            PluginKind::RecordingPolicy,
        ));
    }
    for (name, p) in &s.schedules {
        uses.push(use_of(
            join("schedules", name),
            format!("schedule {name:?}"),
            p,
            PluginKind::Schedule,
        ));
    }
    for (id, n) in &s.nodes {
        uses.push((
            join("nodes", id),
            format!("node {id:?}"),
            n.plugin.as_str(),
            PluginKind::Node,
            &n.config,
        ));
    }
    uses
}

fn use_of(
    path: String,
    who: String,
    p: &PluginUse,
    kind: PluginKind,
) -> (String, String, &str, PluginKind, &Value) {
    (path, who, p.plugin.as_str(), kind, &p.config)
}

/// Rule 2: each plugin is uploaded, of the right kind, and accepts its config.
fn plugins(s: &Scenario, env: &dyn Environment, out: &mut Vec<Problem>) {
    for (path, who, reference, kind, config) in plugin_uses(s) {
        // A malformed reference was reported by the structure check.
        if !is_plugin_ref(reference) {
            continue;
        }
        if let Err(why) = env.check_plugin(reference, kind, &config.to_string()) {
            out.push(Problem::error(
                path,
                format!("{who}: plugin {reference}: {why}"),
            ));
        }
    }
}

/// Rule 6: every prompt has audio, and every prompt a config names is defined.
fn prompts(
    s: &Scenario,
    env: &dyn Environment,
    out: &mut Vec<Problem>,
) -> BTreeMap<String, PromptInfo> {
    let mut snapshot = BTreeMap::new();
    for (id, def) in s.prompts.iter().filter(|(id, _)| is_id(id)) {
        match env.prompt(id) {
            Some(info) => {
                snapshot.insert(id.clone(), info);
            }
            None => {
                let message = match &def.file {
                    Some(file) => format!(
                        "prompt {id:?} has no audio: file {file:?} is missing or not a WAV file, and no prompt {id:?} was uploaded"
                    ),
                    None => format!(
                        "prompt {id:?} has no audio: upload it first (POST /api/v1/prompts/{id}) or give its \"file\""
                    ),
                };
                out.push(Problem::error(join("prompts", id), message));
            }
        }
    }
    for (path, who, _, _, config) in plugin_uses(s) {
        for r in prompt_refs::find(config, &join(&path, "config")) {
            if !s.prompts.contains_key(&r.id) {
                out.push(Problem::error(
                    r.path,
                    format!("{who}: prompt {:?} is not defined in prompts", r.id),
                ));
            }
        }
    }
    snapshot
}
