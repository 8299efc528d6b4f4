//! Acceptance test plans generated from a scenario (R-OPS-3): every branch of a version with
//! its plugins, and rows (one call each) that cover them all, with what the caller hears.
//!
//! - [`sim`]: one simulated call on the real [`crate::ivr::machine::IvrMachine`] and plugins.
//! - [`branch`]: what a branch is, read off a simulated call's event log.
//! - [`times`]: the times rows run at, from the schedule plugins' own answers.
//! - [`explore`]: finds the branches and the rows that cover them.
//! - [`render`]: the sheet (Markdown, CSV, JSON; Japanese or English).
//! - [`simulate_path`]: "what would a caller hear at T" for given keys.

pub mod branch;
pub mod explore;
pub mod render;
pub mod sim;
#[cfg(test)]
mod tests;
pub mod times;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use branch::{Branch, Lang};
use sim::{SimRun, SimScenario, Stimulus};

/// The words of the host's apology, as a plan shows them.
pub const APOLOGY: &str = crate::ivr::APOLOGY_TEXT;

/// The schema of a saved plan (`test-plan --format json`).
pub const PLAN_SCHEMA: &str = "madoguchi.test-plan/v1";

/// A prompt the caller hears.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heard {
    /// The prompt as the event log names it (`menu-main`, `text:…`).
    pub prompt: String,
    /// Its words.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// How the call leaves the IVR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ending {
    /// Connected to `target` (`queue:mynumber`, `user:1001`, `external:callcenter`).
    Transferred { target: String, node: String },
    /// The scenario hung up after `node`.
    Hangup { node: String },
    /// The host's apology, then hang-up (the scenario could not go on).
    Apology { node: String },
    /// Still waiting (a simulation whose keys ran out).
    Waiting { node: String },
}

impl Ending {
    pub fn of(run: &SimRun) -> Ending {
        use crate::ivr::machine::Outcome;
        let node = run.last_node.clone();
        match &run.outcome {
            Some(Outcome::Transferred(t)) => Ending::Transferred {
                target: t.clone(),
                node,
            },
            Some(Outcome::HungUp) => Ending::Hangup { node },
            Some(Outcome::Apologised) => Ending::Apology { node },
            Some(Outcome::CallerHungUp) | None => Ending::Waiting { node },
        }
    }

    #[allow(dead_code)] // read by the live test runner
    /// As the call record's `outcome` says it: `transferred:queue:x`, `hangup`, `apology`.
    pub fn record_outcome(&self) -> String {
        match self {
            Ending::Transferred { target, .. } => format!("transferred:{target}"),
            Ending::Hangup { .. } => "hangup".into(),
            Ending::Apology { .. } => "apology".into(),
            Ending::Waiting { .. } => "caller-hangup".into(),
        }
    }

    #[allow(dead_code)] // read by the live test runner
    pub fn node(&self) -> &str {
        match self {
            Ending::Transferred { node, .. }
            | Ending::Hangup { node }
            | Ending::Apology { node }
            | Ending::Waiting { node } => node,
        }
    }

    pub fn label(&self, lang: Lang) -> String {
        let ja = lang == Lang::Ja;
        match self {
            Ending::Transferred { target, .. } => {
                if ja {
                    format!("転送: {target}")
                } else {
                    format!("transferred to {target}")
                }
            }
            Ending::Hangup { node } => {
                if ja {
                    format!("切断 ({node} の案内後)")
                } else {
                    format!("hang up after {node}")
                }
            }
            Ending::Apology { node } => {
                if ja {
                    format!("お詫びの後に切断 ({node})")
                } else {
                    format!("apology, then hang up ({node})")
                }
            }
            Ending::Waiting { node } => {
                if ja {
                    format!("入力待ち ({node})")
                } else {
                    format!("waiting for input at {node}")
                }
            }
        }
    }
}

/// What a row expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// In order, the recording notice first.
    pub prompts: Vec<Heard>,
    pub ending: Ending,
    /// Nodes entered, in order.
    pub nodes: Vec<String>,
    /// The call is recorded.
    pub recorded: bool,
}

impl Expected {
    pub fn of(sc: &SimScenario, run: &SimRun) -> Expected {
        Expected {
            prompts: run
                .heard()
                .into_iter()
                .map(|(node, prompt)| Heard {
                    text: sc.words(&prompt),
                    prompt,
                    node,
                })
                .collect(),
            ending: Ending::of(run),
            nodes: run.path(),
            recorded: run.recorded,
        }
    }
}

/// One test: a call at a time with its inputs, and what it must give.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub no: usize,
    /// RFC 3339 in Japan time, e.g. `2027-01-06T10:00:00+09:00`.
    pub at: String,
    pub steps: Vec<Stimulus>,
    /// Ids of the branches this row is the first to cover.
    pub covers: Vec<String>,
    /// Ids of every branch the call takes.
    pub branches: Vec<String>,
    pub expected: Expected,
}

/// A branch of the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchInfo {
    pub id: String,
    pub node: String,
    pub label_ja: String,
    pub label_en: String,
    pub branch: Branch,
}

/// Something the plan says about the scenario (an exit no call takes, a loop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// JSON path in the scenario (`nodes.main.exits`), or empty.
    pub path: String,
    pub message: String,
}

/// A test plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub schema: String,
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The version it was made from, when it came from the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The first day rows may run at (`YYYY-MM-DD`).
    pub reference_date: String,
    pub branches: Vec<BranchInfo>,
    pub rows: Vec<Row>,
    /// Exits and nodes no call can reach.
    pub unreachable: Vec<Finding>,
    /// Loops without input, paths that never end, nodes that fail.
    pub problems: Vec<Finding>,
}

impl Plan {
    /// Branches covered by at least one row.
    pub fn covered(&self) -> BTreeSet<&str> {
        self.rows
            .iter()
            .flat_map(|r| r.branches.iter().map(String::as_str))
            .collect()
    }

    /// Percent of the branches the rows cover.
    pub fn coverage_percent(&self) -> f64 {
        if self.branches.is_empty() {
            return 100.0;
        }
        let covered = self.covered();
        let n = self
            .branches
            .iter()
            .filter(|b| covered.contains(b.id.as_str()))
            .count();
        100.0 * n as f64 / self.branches.len() as f64
    }
}

/// Formats Unix ms as RFC 3339 at the given offset.
pub fn rfc3339(at_ms: u64, offset_secs: i32) -> String {
    let offset = time::UtcOffset::from_whole_seconds(offset_secs).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp((at_ms / 1000) as i64)
        .map(|t| t.to_offset(offset))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Today in Japan time (the default reference date).
pub fn today(offset_secs: i32) -> time::Date {
    let offset = time::UtcOffset::from_whole_seconds(offset_secs).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::now_utc().to_offset(offset).date()
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<time::Date, String> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s.trim(), &f)
        .map_err(|e| format!("{s:?} is not a date such as 2027-01-04: {e}"))
}

/// Builds the plan of a scenario (version `version` if it came from the store).
pub fn build(sc: &SimScenario, version: Option<u32>, reference: time::Date) -> Plan {
    let ex = explore::explore(sc, reference);
    let mut all: BTreeSet<Branch> = BTreeSet::new();
    let mut order: Vec<Branch> = Vec::new();
    let mut rows = Vec::new();
    for (i, f) in ex.rows.iter().enumerate() {
        let mut covers = Vec::new();
        for b in &f.branches {
            if all.insert(b.clone()) {
                order.push(b.clone());
                covers.push(b.id());
            }
        }
        rows.push(Row {
            no: i + 1,
            at: rfc3339(ex.candidates[f.candidate].at_ms, sc.utc_offset_secs),
            steps: f.stimuli.clone(),
            covers,
            branches: f.branches.iter().map(Branch::id).collect(),
            expected: Expected::of(sc, &f.run),
        });
    }
    let branches = order
        .into_iter()
        .map(|b| BranchInfo {
            id: b.id(),
            node: b.node.clone(),
            label_ja: b.label(Lang::Ja),
            label_en: b.label(Lang::En),
            branch: b,
        })
        .collect();
    let (exits, entered) = explore::taken(&ex.rows);
    let mut unreachable = Vec::new();
    for (id, node) in &sc.scenario.nodes {
        if !entered.contains(id) {
            unreachable.push(Finding {
                path: format!("nodes.{id}"),
                message: format!(
                    "no call reaches node {id:?} (by any key, time or transfer outcome)"
                ),
            });
            continue;
        }
        for exit in &node.exits {
            if !exits.get(id).is_some_and(|e| e.contains(exit)) {
                unreachable.push(Finding {
                    path: format!("nodes.{id}.exits"),
                    message: format!(
                        "no call leaves node {id:?} for exit {exit:?} (by any key, time or transfer outcome)"
                    ),
                });
            }
        }
    }
    let mut problems: Vec<Finding> = Vec::new();
    for (node, message) in ex.problems {
        let f = Finding {
            path: if node.is_empty() {
                String::new()
            } else {
                format!("nodes.{node}")
            },
            message,
        };
        if !problems.contains(&f) {
            problems.push(f);
        }
    }
    Plan {
        schema: PLAN_SCHEMA.into(),
        scenario: sc.scenario.name.clone(),
        title: sc.scenario.title.clone(),
        version,
        reference_date: reference.to_string(),
        branches,
        rows,
        unreachable,
        problems,
    }
}

/// "What would a caller hear at `at_ms`": `keys` one per menu (`-` or empty = silence),
/// then silence; transfers end as `transfers` says, in order, then answered.
pub fn simulate_path(
    sc: &SimScenario,
    at_ms: u64,
    keys: &[String],
    transfers: &[sim::TransferOutcome],
) -> serde_json::Value {
    let mut stimuli: Vec<Stimulus> = Vec::new();
    let (mut k, mut t) = (keys.iter(), transfers.iter());
    let mut run = sim::simulate(sc, at_ms, &stimuli);
    // Bounded: a caller who keeps silent is let go by every menu after its retries.
    for _ in 0..64 {
        match &run.pending {
            None => break,
            Some(sim::Pending::Collect { .. }) => stimuli.push(match k.next() {
                Some(s) if !s.trim().is_empty() && s.trim() != "-" => Stimulus::Keys {
                    keys: s.trim().to_string(),
                },
                _ => Stimulus::NoInput,
            }),
            Some(sim::Pending::Transfer { .. }) => stimuli.push(Stimulus::Transfer {
                outcome: t.next().copied().unwrap_or(sim::TransferOutcome::Answered),
            }),
        }
        run = sim::simulate(sc, at_ms, &stimuli);
    }
    let classifier = branch::Classifier::default();
    let expected = Expected::of(sc, &run);
    serde_json::json!({
        "scenario": sc.scenario.name,
        "at": rfc3339(at_ms, sc.utc_offset_secs),
        "steps": stimuli,
        "path": expected.nodes,
        "prompts": expected.prompts,
        "ending": expected.ending,
        "recorded": expected.recorded,
        "branches": classifier.branches(&run).iter().map(|b| serde_json::json!({
            "id": b.id(), "label_ja": b.label(Lang::Ja), "label_en": b.label(Lang::En),
        })).collect::<Vec<_>>(),
        "schedule": run.queries.iter().map(|q| serde_json::json!({
            "schedule": q.schedule, "destination": q.destination,
            "status": q.status.kind.name(), "name": q.status.name,
        })).collect::<Vec<_>>(),
        "error": run.error,
    })
}

/// Plugins from a directory of components (`NAME.wasm` serves `NAME@any-version`), as
/// `scripts/build-plugins` leaves them in `target/plugins`: for plans of a scenario file.
/// Compiled components are kept in `DIR/.cache` (by SHA-256) when it can be written.
pub fn dir_resolver(
    dir: std::path::PathBuf,
) -> Result<impl Fn(&str) -> Result<madoguchi_plugin_host::Plugin, String>, String> {
    use madoguchi_plugin_host::{Runtime, RuntimeConfig};
    let cache = dir.join(".cache");
    let cache_dir = std::fs::create_dir_all(&cache).ok().and_then(|_| {
        cap_std::fs::Dir::open_ambient_dir(&cache, cap_std::ambient_authority()).ok()
    });
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir,
        ..RuntimeConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let cache = std::sync::Mutex::new(std::collections::HashMap::new());
    Ok(move |reference: &str| {
        let (name, _) =
            madoguchi_plugin_host::parse_reference(reference).map_err(|e| e.to_string())?;
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(name) {
            return Ok(Clone::clone(p));
        }
        let path = dir.join(format!("{name}.wasm"));
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read {} ({e}); see --plugins", path.display()))?;
        let p = runtime.load(reference, &bytes).map_err(|e| e.to_string())?;
        cache.insert(name.to_string(), p.clone());
        Ok(p)
    })
}
