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
        id_map(
            v,
            "schedules",
            "schedule",
            false,
            out,
            |key, value, path, out| plugin_use(value, path, &format!("schedule {key:?}"), out),
        );
    }
    if let Some(v) = top.get("prompts") {
        id_map(
            v,
            "prompts",
            "prompt",
            false,
            out,
            |key, value, path, out| prompt(value, path, key, out),
        );
    }
    if let Some(v) = top.get("nodes") {
        id_map(v, "nodes", "node", true, out, |key, value, path, out| {
            node(value, path, key, out)
        });
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

/// An object keyed by ids; checks each key, then calls `entry(key, value, path)`.
fn id_map(
    v: &Value,
    path: &str,
    what: &str,
    non_empty: bool,
    out: &mut Vec<Problem>,
    mut entry: impl FnMut(&str, &Value, &str, &mut Vec<Problem>),
) {
    let Value::Object(map) = v else {
        out.push(Problem::error(
            path,
            format!(
                "{path} must be an object of {what} id → {what}, found {}",
                kind(v)
            ),
        ));
        return;
    };
    if non_empty && map.is_empty() {
        out.push(Problem::error(
            path,
            format!("{path} must define at least one {what}"),
        ));
    }
    for (key, value) in map {
        let p = join(path, key);
        if !is_id(key) {
            out.push(Problem::error(
                &p,
                format!("{what} id {key:?} is invalid ({ID_RULE})"),
            ));
        }
        entry(key, value, &p, out);
    }
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

#[cfg(test)]
mod tests {
    //! The JSON Schema, these field tables and the serde model must agree:
    //! each test fails when one of them gains, loses or re-requires a field.
    use super::*;
    use crate::model::{Node, PluginUse, PromptDef, Scenario};
    use serde::de::DeserializeOwned;
    use serde_json::json;

    const SCHEMA_TEXT: &str = include_str!("../../../schemas/scenario-v1.schema.json");

    fn schema() -> Value {
        serde_json::from_str(SCHEMA_TEXT).expect("schemas/scenario-v1.schema.json is JSON")
    }

    fn names(fields: &[Field], required_only: bool) -> Vec<String> {
        let mut v: Vec<String> = fields
            .iter()
            .filter(|f| f.required || !required_only)
            .map(|f| f.name.to_string())
            .collect();
        v.sort();
        v
    }

    fn schema_fields(object: &Value) -> (Vec<String>, Vec<String>) {
        let mut props: Vec<String> = object["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect();
        props.sort();
        let mut required: Vec<String> = object["required"]
            .as_array()
            .expect("required")
            .iter()
            .map(|v| v.as_str().expect("string").to_string())
            .collect();
        required.sort();
        assert_eq!(object["additionalProperties"], json!(false));
        (props, required)
    }

    /// `full` has every field; removing each must fail serde exactly when the
    /// field table says it is required, and an extra field must always fail.
    fn serde_agrees<T: DeserializeOwned + serde::Serialize>(fields: &[Field], full: Value) {
        let parsed: T = serde_json::from_value(full.clone()).expect("full sample parses");
        let mut keys: Vec<String> = full.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, names(fields, false), "sample covers every field");
        let back = serde_json::to_value(&parsed).unwrap();
        let mut back_keys: Vec<String> = back.as_object().unwrap().keys().cloned().collect();
        back_keys.sort();
        assert_eq!(back_keys, keys, "serde model has exactly these fields");
        for f in fields {
            let mut v = full.clone();
            v.as_object_mut().unwrap().remove(f.name);
            let ok = serde_json::from_value::<T>(v).is_ok();
            assert_eq!(
                ok, !f.required,
                "field {:?} required={}",
                f.name, f.required
            );
        }
        let mut extra = full;
        extra
            .as_object_mut()
            .unwrap()
            .insert("extra".into(), json!(1));
        assert!(serde_json::from_value::<T>(extra).is_err());
    }

    #[test]
    fn schema_matches_field_tables() {
        let s = schema();
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        for (object, fields) in [
            (&s, SCENARIO_FIELDS),
            (&s["$defs"]["plugin_use"], PLUGIN_USE_FIELDS),
            (&s["$defs"]["prompt"], PROMPT_FIELDS),
            (&s["$defs"]["node"], NODE_FIELDS),
        ] {
            let (props, required) = schema_fields(object);
            assert_eq!(props, names(fields, false));
            assert_eq!(required, names(fields, true));
        }
        assert_eq!(s["properties"]["schema"]["const"], SCHEMA_V1);
    }

    #[test]
    fn schema_patterns_are_the_ones_checked_here() {
        let s = schema();
        let d = &s["$defs"];
        assert_eq!(
            s["properties"]["name"]["pattern"],
            "^[a-z0-9][a-z0-9-]{0,63}$"
        );
        assert_eq!(d["id"]["pattern"], "^[A-Za-z0-9_-]{1,64}$");
        assert_eq!(d["did"]["pattern"], "^\\+?[0-9]{2,20}$");
        assert_eq!(
            d["plugin_ref"]["pattern"],
            "^[a-z0-9][a-z0-9_-]{0,63}@[0-9][0-9A-Za-z.+-]{0,31}$"
        );
        assert_eq!(s["properties"]["dids"]["minItems"], 1);
        assert_eq!(s["properties"]["nodes"]["minProperties"], 1);
    }

    #[test]
    fn serde_model_matches_field_tables() {
        let plugin_use = json!({"plugin": "japan-calendar@0.1.0", "config": {"tz": "Asia/Tokyo"}});
        serde_agrees::<PluginUse>(PLUGIN_USE_FIELDS, plugin_use.clone());
        serde_agrees::<PromptDef>(PROMPT_FIELDS, json!({"text": "はい", "file": "p/a.wav"}));
        let node = json!({"plugin": "menu@0.1.0", "config": {}, "exits": ["b"], "on_error": "b"});
        serde_agrees::<Node>(NODE_FIELDS, node.clone());
        serde_agrees::<Scenario>(
            SCENARIO_FIELDS,
            json!({
                "schema": SCHEMA_V1, "name": "n", "title": "t", "dids": ["0462000000"],
                "start": "a", "fallback": "b", "recording_policy": plugin_use,
                "schedules": {"zama": plugin_use}, "prompts": {"p": {"text": "x"}},
                "nodes": {"a": node, "b": {"plugin": "announce@0.1.0", "config": null}}
            }),
        );
    }

    #[test]
    fn walker_reports_every_problem_with_a_path() {
        let mut out = Vec::new();
        check(
            &json!({
                "schema": "madoguchi.scenario/v2", "name": "Zama", "dids": ["046-200", "12", "12"],
                "start": 3, "fallback": "a b", "extra": true,
                "schedules": {"zama": {"plugin": "cal"}},
                "prompts": {"p": {"text": "x", "file": "../p.wav"}, "q.r": {"text": "y"}},
                "nodes": {"a": {"plugin": "menu@0.1.0", "config": {}, "exits": ["b", 7], "on_eror": "b"}}
            }),
            &mut out,
        );
        let paths: Vec<&str> = out.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "extra",
                "schema",
                "name",
                "dids[0]",
                "dids[2]",
                "start",
                "fallback",
                "schedules.zama.config",
                "schedules.zama.plugin",
                "prompts.p.file",
                "prompts.q.r",
                "nodes.a.on_eror",
                "nodes.a.exits[1]",
            ]
        );
        assert!(out.iter().all(Problem::is_error));
        assert!(
            out[11]
                .message
                .contains("node \"a\" has an unknown field \"on_eror\""),
            "{}",
            out[11].message
        );
    }

    #[test]
    fn the_document_must_be_an_object() {
        let mut out = Vec::new();
        check(&json!([1]), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, "");
        assert!(out[0].message.contains("must be an object, found an array"));
    }
}
