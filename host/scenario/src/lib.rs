//! IVR scenarios: the document model (`madoguchi.scenario/v1`, see
//! `docs/scenario-format.md`), its validation, and versioned storage with
//! atomic publish and rollback.
//!
//! The flow at upload: [`validate`] a document against an [`Environment`]
//! (plugin registry, prompt audio) → [`ScenarioStore::upload`] stores it as the
//! next version → [`ScenarioStore::publish`] binds its DIDs. Calls look up
//! [`ScenarioStore::resolve_did`] and then [`ScenarioStore::get`] the version,
//! whose prompt snapshot names the audio to fetch with [`PromptStore::audio`].
//!
//! ```
//! use madoguchi_scenario::{validate, Environment, PluginKind, PromptInfo};
//!
//! struct Everything;
//! impl Environment for Everything {
//!     fn check_plugin(&self, _: &str, _: PluginKind, _: &str) -> Result<(), String> { Ok(()) }
//!     fn prompt(&self, _: &str) -> Option<PromptInfo> { None }
//! }
//!
//! let doc = br#"{"schema": "madoguchi.scenario/v1", "name": "demo", "dids": ["100"],
//!     "start": "menu", "nodes": {
//!         "menu": {"plugin": "menu@0.1.0", "config": {"options": {"9": "menu"}}, "exits": ["menu"]}}}"#;
//! let report = validate(doc, &Everything).unwrap_err();
//! assert_eq!(report.to_string(), "error: nodes.menu: nodes \"menu\" loop with no way out: \
//!     none of them can reach a node without exits (one that hangs up or transfers)");
//! ```
#![forbid(unsafe_code)]

mod clock;
mod did;
mod error;
mod graph;
mod model;
mod patterns;
mod problem;
mod prompt_refs;
mod prompts;
mod structure;
mod syntax;
mod validate;
mod versions;

pub use clock::{Clock, SystemClock};
pub use did::{canonical_did, is_valid_did};
pub use error::ScenarioError;
pub use model::{Node, PluginUse, PromptDef, Scenario, SCHEMA_V1};
pub use patterns::{is_id, is_plugin_ref, is_scenario_name};
pub use problem::{Problem, Report, Severity};
pub use prompts::{PromptInfo, PromptStore, PROMPTS_TABLE};
pub use validate::{validate, Environment, PluginKind, Validated};
pub use versions::{
    AuditAction, AuditEntry, PublishedRef, ScenarioStore, StoredVersion, VersionMeta,
};
