//! Rule 6, second half: finding the prompts a plugin config refers to.
//!
//! A config is opaque JSON, so references are found by convention: under
//! keys named `prompt`, `prompts`, `*_prompt`, `announce` or `notice`, at any
//! depth, a bare string or `{"asset": id}` names a prompt; arrays (and
//! objects without `asset`, e.g. `{"intro": "x", "retry": "y"}`) of those too.

use serde_json::Value;

use crate::problem::{index, join};

/// One prompt reference found in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PromptRef {
    /// The prompt id referred to.
    pub id: String,
    /// JSON path of the string, below the config's own path.
    pub path: String,
}

/// Whether `key` holds prompt references.
pub(crate) fn is_prompt_key(key: &str) -> bool {
    matches!(key, "prompt" | "prompts" | "announce" | "notice") || key.ends_with("_prompt")
}

/// Every prompt reference in `config`, whose own path is `path`.
pub(crate) fn find(config: &Value, path: &str) -> Vec<PromptRef> {
    let mut out = Vec::new();
    // Explicit stack, so the walk's depth never depends on the document's.
    let mut todo = vec![(config, path.to_string(), false)];
    while let Some((v, p, under_key)) = todo.pop() {
        match v {
            Value::String(s) if under_key => out.push(PromptRef {
                id: s.clone(),
                path: p,
            }),
            Value::Object(map) if under_key && map.contains_key("asset") => {
                if let Some(Value::String(id)) = map.get("asset") {
                    out.push(PromptRef {
                        id: id.clone(),
                        path: join(&p, "asset"),
                    });
                }
            }
            Value::Object(map) => {
                for (k, child) in map.iter().rev() {
                    todo.push((child, join(&p, k), under_key || is_prompt_key(k)));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate().rev() {
                    todo.push((child, index(&p, i), under_key));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(v: Value) -> Vec<(String, String)> {
        find(&v, "nodes.n.config")
            .into_iter()
            .map(|r| (r.id, r.path))
            .collect()
    }

    #[test]
    fn finds_references_by_key_convention() {
        let found = ids(json!({
            "prompt": "menu-main",
            "prompts": ["a", {"asset": "b"}],
            "retry_prompt": {"asset": "c", "repeat": 2},
            "options": {"1": {"announce": "d"}, "2": "apply"},
            "notice": {"first": "e", "again": ["f"]},
            "next": "main",
            "text": "お電話ありがとうございます",
            "prompt_count": 3
        }));
        assert_eq!(
            found,
            vec![
                ("f".into(), "nodes.n.config.notice.again[0]".into()),
                ("e".into(), "nodes.n.config.notice.first".into()),
                ("d".into(), "nodes.n.config.options.1.announce".into()),
                ("menu-main".into(), "nodes.n.config.prompt".into()),
                ("a".into(), "nodes.n.config.prompts[0]".into()),
                ("b".into(), "nodes.n.config.prompts[1].asset".into()),
                ("c".into(), "nodes.n.config.retry_prompt.asset".into()),
            ]
        );
    }

    #[test]
    fn other_keys_and_non_strings_are_not_references() {
        assert!(
            ids(json!({"next": "main", "prompt_count": "3", "prompt": 3, "asset": "x"})).is_empty()
        );
        assert!(ids(json!("greeting")).is_empty());
    }
}
