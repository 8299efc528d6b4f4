//! The scenario document (`madoguchi.scenario/v1`) as serde types.
//!
//! These types are what a stored, validated version deserialises into. They
//! reject unknown fields so a misspelt optional field (`on_eror`) is an error
//! instead of a silently ignored setting. Maps are `BTreeMap` so iteration
//! (and so every report) is in a stable order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only value of the `schema` field this crate understands.
pub const SCHEMA_V1: &str = "madoguchi.scenario/v1";

/// One scenario document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Always [`SCHEMA_V1`].
    pub schema: String,
    /// `[a-z0-9][a-z0-9-]{0,63}`; versions are numbered per name.
    pub name: String,
    /// Shown in the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Numbers this scenario answers (at least one).
    pub dids: Vec<String>,
    /// Id of the first node.
    pub start: String,
    /// Node used when a failing node has no `on_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The `recording-policy` plugin; absent = record everything after the default notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_policy: Option<PluginUse>,
    /// Schedule name → `schedule` plugin, queried by nodes by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedules: BTreeMap<String, PluginUse>,
    /// Prompt id → the words it says and where its audio comes from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prompts: BTreeMap<String, PromptDef>,
    /// Node id → node (at least one).
    pub nodes: BTreeMap<String, Node>,
}

impl Scenario {
    /// Every plugin (`name@version`) it names: nodes, schedules, recording policy.
    pub fn plugin_refs(&self) -> impl Iterator<Item = &str> {
        self.nodes
            .values()
            .map(|n| n.plugin.as_str())
            .chain(self.schedules.values().map(|p| p.plugin.as_str()))
            .chain(self.recording_policy.iter().map(|p| p.plugin.as_str()))
    }
}

/// A plugin with its configuration (schedules, recording policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginUse {
    /// `name@version` of an uploaded plugin.
    pub plugin: String,
    /// Any JSON; the plugin receives it as text.
    pub config: serde_json::Value,
}

impl PluginUse {
    /// The config as compact JSON text: exactly what the plugin receives.
    pub fn config_string(&self) -> String {
        self.config.to_string()
    }
}

/// A prompt: what it says, and optionally the WAV file next to the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptDef {
    /// The words of the recording (console, test plans, `text(t)` lookups).
    pub text: String,
    /// WAV path relative to the scenario file; absent when uploaded through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One IVR node: an `ivr-node` plugin, its config and where it may go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// `name@version` of an `ivr-node` plugin.
    pub plugin: String,
    /// Any JSON; the plugin receives it as text.
    pub config: serde_json::Value,
    /// Node ids this node may `goto`; empty = a leaf (hangs up or transfers).
    #[serde(default)]
    pub exits: Vec<String>,
    /// Where the call goes if the plugin traps, times out or answers nonsense.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

impl Node {
    /// The config as compact JSON text: exactly what the plugin receives.
    pub fn config_string(&self) -> String {
        self.config.to_string()
    }

    /// A leaf has no exits: the call ends (or leaves the IVR) there.
    pub fn is_leaf(&self) -> bool {
        self.exits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_string_is_compact_json() {
        let node: Node = serde_json::from_value(json!({
            "plugin": "menu@0.1.0",
            "config": {"prompt": "menu-main", "options": {"1": "apply"}}
        }))
        .unwrap();
        let text = node.config_string();
        assert!(!text.contains(' ') && !text.contains('\n'), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, node.config);
        assert!(node.is_leaf());
        assert_eq!(node.on_error, None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_value::<Node>(json!({
            "plugin": "menu@0.1.0", "config": {}, "on_eror": "x"
        }))
        .unwrap_err();
        assert!(err.to_string().contains("on_eror"), "{err}");
    }
}
