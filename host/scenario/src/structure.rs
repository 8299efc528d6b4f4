//! Rule 1: the document has the shape of `schemas/scenario-v1.schema.json`
//! (types, required fields, patterns, no unknown fields).
//!
//! Checked by walking the JSON value rather than by serde alone, because serde
//! stops at the first mistake and a person fixing a document wants all of them,
//! each with its path. The field tables below are the single list that the
//! JSON Schema and the serde model are tested against, so the three cannot drift.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::did::is_valid_did;
use crate::model::SCHEMA_V1;
use crate::patterns::{is_id, is_plugin_ref, is_relative_path, is_scenario_name};
use crate::problem::{index, join, Problem};

/// A field of an object in the document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub name: &'static str,
    pub required: bool,
}

const fn req(name: &'static str) -> Field {
    Field {
        name,
        required: true,
    }
}

const fn opt(name: &'static str) -> Field {
    Field {
        name,
        required: false,
    }
}

/// Top level of the document.
pub(crate) const SCENARIO_FIELDS: &[Field] = &[
    req("schema"),
    req("name"),
    opt("title"),
    req("dids"),
    req("start"),
    opt("fallback"),
    opt("recording_policy"),
    opt("schedules"),
    opt("prompts"),
    req("nodes"),
];
/// `recording_policy` and each schedule.
pub(crate) const PLUGIN_USE_FIELDS: &[Field] = &[req("plugin"), req("config")];
/// Each prompt.
pub(crate) const PROMPT_FIELDS: &[Field] = &[req("text"), opt("file")];
/// Each node.
pub(crate) const NODE_FIELDS: &[Field] =
    &[req("plugin"), req("config"), opt("exits"), opt("on_error")];

const ID_RULE: &str = "1-64 of A-Z, a-z, 0-9, '_', '-'";

/// Appends a problem for every structural mistake in `doc`.
pub(crate) fn check(doc: &Value, out: &mut Vec<Problem>) {
    let Some(top) = object(doc, "", "the document", SCENARIO_FIELDS, out) else {
        return;
    };
    if let Some(s) = field_str(top, "", "schema", out) {
        if s != SCHEMA_V1 {
            out.push(Problem::error(
                "schema",
                format!("schema must be {SCHEMA_V1:?}, found {s:?}"),
            ));
        }
    }
    if let Some(s) = field_str(top, "", "name", out) {
        if !is_scenario_name(s) {
            out.push(Problem::error(
                "name",
                format!("scenario name {s:?} is invalid: use 1-64 of a-z, 0-9, '-', starting with a letter or digit"),
            ));
        }
    }
    field_str(top, "", "title", out);
    if let Some(v) = top.get("dids") {
        dids(v, out);
    }
    node_ref(top, "", "start", "start", out);
    node_ref(top, "", "fallback", "fallback", out);
    if let Some(v) = top.get("recording_policy") {
        plugin_use(v, "recording_policy", "recording_policy", out);
    }
    if let Some(v) = top.get("schedules") {
        for (key, value, path) in id_map(v, "schedules", "schedule", false, out) {
            plugin_use(value, &path, &format!("schedule {key:?}"), out);
        }
    }
    if let Some(v) = top.get("prompts") {
        for (key, value, path) in id_map(v, "prompts", "prompt", false, out) {
            prompt(value, &path, key, out);
        }
    }
    if let Some(v) = top.get("nodes") {
        for (key, value, path) in id_map(v, "nodes", "node", true, out) {
            node(value, &path, key, out);
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An object with exactly the allowed fields; reports missing and unknown ones.
fn object<'a>(
    v: &'a Value,
    path: &str,
    what: &str,
    fields: &[Field],
    out: &mut Vec<Problem>,
) -> Option<&'a Map<String, Value>> {
    let Value::Object(map) = v else {
        out.push(Problem::error(
            path,
            format!("{what} must be an object, found {}", kind(v)),
        ));
        return None;
    };
    for f in fields.iter().filter(|f| f.required) {
        if !map.contains_key(f.name) {
            out.push(Problem::error(
                join(path, f.name),
                format!("{what} is missing the required field {:?}", f.name),
            ));
        }
    }
    for key in map.keys() {
        if !fields.iter().any(|f| f.name == key) {
            let allowed: Vec<&str> = fields.iter().map(|f| f.name).collect();
            out.push(Problem::error(
                join(path, key),
                format!(
                    "{what} has an unknown field {key:?} (allowed: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Some(map)
}

/// `map[key]` if present; an error unless it is a string.
fn field_str<'a>(
    map: &'a Map<String, Value>,
    path: &str,
    key: &str,
    out: &mut Vec<Problem>,
) -> Option<&'a str> {
    let v = map.get(key)?;
    string(v, &join(path, key), &format!("field {key:?}"), out)
}

fn string<'a>(v: &'a Value, path: &str, what: &str, out: &mut Vec<Problem>) -> Option<&'a str> {
    match v {
        Value::String(s) => Some(s),
        other => {
            out.push(Problem::error(
                path,
                format!("{what} must be a string, found {}", kind(other)),
            ));
            None
        }
    }
}

/// A string field naming a node (existence is rule 3, checked later).
fn node_ref(map: &Map<String, Value>, path: &str, key: &str, what: &str, out: &mut Vec<Problem>) {
    if let Some(s) = field_str(map, path, key, out) {
        if !is_id(s) {
            out.push(Problem::error(
                join(path, key),
                format!("{what} {s:?} is not a valid node id ({ID_RULE})"),
            ));
        }
    }
}

fn dids(v: &Value, out: &mut Vec<Problem>) {
    let Value::Array(items) = v else {
        out.push(Problem::error(
            "dids",
            format!(
                "dids must be an array of numbers as strings, found {}",
                kind(v)
            ),
        ));
        return;
    };
    if items.is_empty() {
        out.push(Problem::error("dids", "dids must list at least one number"));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("dids", i);
        let Some(did) = string(item, &path, "a DID", out) else {
            continue;
        };
        if !is_valid_did(did) {
            out.push(Problem::error(
                &path,
                format!("DID {did:?} is invalid: use 2-20 digits with an optional leading '+', no spaces or hyphens"),
            ));
        }
        if let Some(first) = seen.insert(did, i) {
            seen.insert(did, first);
            out.push(Problem::error(
                &path,
                format!("DID {did:?} is listed twice (also dids[{first}])"),
            ));
        }
    }
}

/// An object keyed by ids; yields `(key, value, path)` for each entry.
fn id_map<'a>(
    v: &'a Value,
    path: &str,
    what: &str,
    non_empty: bool,
    out: &mut Vec<Problem>,
) -> Vec<(&'a str, &'a Value, String)> {
    let Value::Object(map) = v else {
        out.push(Problem::error(
            path,
            format!(
                "{path} must be an object of {what} id → {what}, found {}",
                kind(v)
            ),
        ));
        return Vec::new();
    };
    if non_empty && map.is_empty() {
        out.push(Problem::error(
            path,
            format!("{path} must define at least one {what}"),
        ));
    }
    let mut entries = Vec::new();
    for (key, value) in map {
        let p = join(path, key);
        if !is_id(key) {
            out.push(Problem::error(
                &p,
                format!("{what} id {key:?} is invalid ({ID_RULE})"),
            ));
        }
        entries.push((key.as_str(), value, p));
    }
    entries
}

fn plugin_ref(map: &Map<String, Value>, path: &str, what: &str, out: &mut Vec<Problem>) {
    if let Some(r) = field_str(map, path, "plugin", out) {
        if !is_plugin_ref(r) {
            out.push(Problem::error(
                join(path, "plugin"),
                format!("{what}: plugin reference {r:?} is invalid: expected name@version, e.g. menu@0.1.0"),
            ));
        }
    }
}

fn plugin_use(v: &Value, path: &str, what: &str, out: &mut Vec<Problem>) {
    if let Some(map) = object(v, path, what, PLUGIN_USE_FIELDS, out) {
        plugin_ref(map, path, what, out);
    }
}

fn prompt(v: &Value, path: &str, id: &str, out: &mut Vec<Problem>) {
    let what = format!("prompt {id:?}");
    let Some(map) = object(v, path, &what, PROMPT_FIELDS, out) else {
        return;
    };
    field_str(map, path, "text", out);
    if let Some(file) = field_str(map, path, "file", out) {
        if !is_relative_path(file) {
            out.push(Problem::error(
                join(path, "file"),
                format!("{what}: file {file:?} must be a path relative to the scenario file, without '..'"),
            ));
        }
    }
}

fn node(v: &Value, path: &str, id: &str, out: &mut Vec<Problem>) {
    let what = format!("node {id:?}");
    let Some(map) = object(v, path, &what, NODE_FIELDS, out) else {
        return;
    };
    plugin_ref(map, path, &what, out);
    if let Some(exits) = map.get("exits") {
        let exits_path = join(path, "exits");
        match exits {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = index(&exits_path, i);
                    let exit_what = format!("exit {i} of {what}");
                    if let Some(s) = string(item, &p, &exit_what, out) {
                        if !is_id(s) {
                            out.push(Problem::error(
                                &p,
                                format!("{exit_what}: {s:?} is not a valid node id ({ID_RULE})"),
                            ));
                        }
                    }
                }
            }
            other => out.push(Problem::error(
                exits_path,
                format!(
                    "{what}: exits must be an array of node ids, found {}",
                    kind(other)
                ),
            )),
        }
    }
    node_ref(map, path, "on_error", &format!("{what}: on_error"), out);
}
