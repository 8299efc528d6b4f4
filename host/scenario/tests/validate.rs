//! Upload rules 1–6, each with a failing and a passing document.

mod common;

use common::{bytes, zama, FakeEnv};
use madoguchi_scenario::{validate, PluginKind, Report, Severity};
use serde_json::{json, Value};

fn check(v: &Value) -> Result<madoguchi_scenario::Validated, Report> {
    validate(&bytes(v), &FakeEnv::complete())
}

fn refused(v: &Value) -> Report {
    match check(v) {
        Ok(_) => panic!("document was accepted"),
        Err(r) => r,
    }
}

/// The error at `path`, whose message must contain every word of `words`.
fn assert_error(r: &Report, path: &str, words: &[&str]) {
    let p = r
        .at(path)
        .unwrap_or_else(|| panic!("no problem at {path:?} in:\n{r}"));
    assert_eq!(p.severity, Severity::Error, "{p}");
    for w in words {
        assert!(p.message.contains(w), "{w:?} not in {p}");
    }
}

#[test]
fn realistic_three_level_menu_passes() {
    let v = check(&zama()).unwrap_or_else(|r| panic!("{r}"));
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    assert_eq!(v.scenario.name, "zama-mynumber");
    assert_eq!(v.scenario.nodes.len(), 9);
    assert_eq!(v.scenario.nodes["main"].exits.len(), 4);
    assert_eq!(v.prompts.len(), 9);
    assert_eq!(
        v.prompts["notice"].text,
        "この通話は、サービス向上のため録音させていただきます。"
    );
}

// Rule 1: shape.

#[test]
fn syntax_errors_give_line_and_column() {
    let r = validate(b"{\n  \"name\": \"x\",\n  oops\n}", &FakeEnv::complete()).unwrap_err();
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].path, "");
    assert!(r.problems[0].message.contains("line 3, column 3"), "{r}");
    let r = validate(b"", &FakeEnv::complete()).unwrap_err();
    assert!(r.problems[0].message.contains("ends too early"), "{r}");
    let r = validate(&[0xff, 0xfe], &FakeEnv::complete()).unwrap_err();
    assert_eq!(r.problems.len(), 1);
}

#[test]
fn structure_problems_are_all_reported_with_paths() {
    let mut v = zama();
    v["name"] = json!("Zama City");
    v["dids"] = json!(["046-200-0000", "0462000000", "0462000000"]);
    v["nodes"]["main"]["on_eror"] = json!("callcenter");
    v["nodes"]["apply"]["exits"][1] = json!(2);
    v["nodes"]["greeting"]["plugin"] = json!("announce");
    v["prompts"]["notice"]["file"] = json!("../../etc/notice.wav");
    v.as_object_mut().unwrap().remove("start");
    let r = refused(&v);
    assert_error(&r, "start", &["missing the required field \"start\""]);
    assert_error(&r, "name", &["\"Zama City\""]);
    assert_error(&r, "dids[0]", &["046-200-0000", "hyphens"]);
    assert_error(&r, "dids[2]", &["listed twice", "dids[1]"]);
    assert_error(
        &r,
        "nodes.main.on_eror",
        &["node \"main\"", "unknown field \"on_eror\""],
    );
    assert_error(
        &r,
        "nodes.apply.exits[1]",
        &["node \"apply\"", "must be a string"],
    );
    assert_error(
        &r,
        "nodes.greeting.plugin",
        &["node \"greeting\"", "name@version"],
    );
    assert_error(&r, "prompts.notice.file", &["prompt \"notice\"", ".."]);
    assert!(r.errors().count() >= 8, "{r}");
}

#[test]
fn wrong_schema_and_empty_lists_are_refused() {
    let mut v = zama();
    v["schema"] = json!("madoguchi.scenario/v2");
    v["dids"] = json!([]);
    v["nodes"] = json!({});
    let r = refused(&v);
    assert_error(&r, "schema", &["madoguchi.scenario/v1"]);
    assert_error(&r, "dids", &["at least one"]);
    assert_error(&r, "nodes", &["at least one node"]);
}

#[test]
fn a_node_defined_twice_is_an_error() {
    let text = String::from_utf8(bytes(&zama())).unwrap();
    let doubled = text.replacen(
        "\"nodes\": {",
        "\"nodes\": {\n    \"main\": {\"plugin\": \"announce@0.1.0\", \"config\": {}},",
        1,
    );
    assert_ne!(doubled, text);
    let r = validate(doubled.as_bytes(), &FakeEnv::complete()).unwrap_err();
    assert_error(
        &r,
        "nodes.main",
        &["\"main\" is given more than once in nodes"],
    );
}

// Rule 2: plugins.

#[test]
fn plugins_must_be_uploaded_of_the_right_kind_and_accept_the_config() {
    let mut v = zama();
    v["nodes"]["callcenter"]["plugin"] = json!("transfer@9.9.9");
    v["schedules"]["zama"]["plugin"] = json!("announce@0.1.0");
    v["nodes"]["apply"]["config"] = json!({"prompt": "menu-apply"});
    let r = refused(&v);
    assert_error(
        &r,
        "nodes.callcenter",
        &["node \"callcenter\"", "transfer@9.9.9", "no such plugin"],
    );
    assert_error(
        &r,
        "schedules.zama",
        &["schedule \"zama\"", "ivr-node", "expected schedule"],
    );
    assert_error(
        &r,
        "nodes.apply",
        &["node \"apply\"", "menu@0.1.0", "missing field `options`"],
    );
    assert_eq!(r.errors().count(), 3, "{r}");
}

#[test]
fn the_plugin_receives_the_config_as_compact_json() {
    struct Recorder(std::cell::RefCell<Vec<(String, PluginKind, String)>>);
    impl madoguchi_scenario::Environment for Recorder {
        fn check_plugin(&self, r: &str, k: PluginKind, c: &str) -> Result<(), String> {
            self.0.borrow_mut().push((r.into(), k, c.into()));
            Ok(())
        }
        fn prompt(&self, id: &str) -> Option<madoguchi_scenario::PromptInfo> {
            Some(common::info(id, ""))
        }
    }
    let env = Recorder(Default::default());
    let v = validate(&bytes(&zama()), &env).unwrap();
    let calls = env.0.into_inner();
    assert_eq!(calls.len(), 11);
    let greeting = calls.iter().find(|c| c.2.contains("\"next\"")).unwrap();
    assert_eq!(greeting.0, "announce@0.1.0");
    assert_eq!(greeting.1, PluginKind::Node);
    assert_eq!(greeting.2, v.scenario.nodes["greeting"].config_string());
    assert!(calls.iter().any(|c| c.1 == PluginKind::RecordingPolicy));
    assert!(calls.iter().any(|c| c.1 == PluginKind::Schedule));
}

// Rule 3: references.

#[test]
fn every_reference_names_a_node() {
    let mut v = zama();
    v["start"] = json!("welcome");
    v["fallback"] = json!("sorry");
    v["nodes"]["main"]["exits"][2] = json!("mian");
    v["nodes"]["apply"]["on_error"] = json!("operator");
    let r = refused(&v);
    assert_error(&r, "start", &["\"welcome\""]);
    assert_error(&r, "fallback", &["\"sorry\""]);
    assert_error(&r, "nodes.main.exits[2]", &["node \"main\"", "\"mian\""]);
    assert_error(
        &r,
        "nodes.apply.on_error",
        &["node \"apply\"", "\"operator\""],
    );
}

// Rule 4: reachability.

#[test]
fn unreachable_nodes_are_warnings_not_errors() {
    let mut v = zama();
    v["nodes"]["old-menu"] = json!({"plugin": "announce@0.1.0", "config": {}});
    let ok = check(&v).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(ok.warnings.len(), 1);
    assert_eq!(ok.warnings[0].path, "nodes.old-menu");
    assert_eq!(ok.warnings[0].severity, Severity::Warning);
    assert!(ok.warnings[0]
        .message
        .contains("\"old-menu\" cannot be reached from start \"greeting\""));
    // The fallback is reachable through nodes without on_error.
    assert!(!ok.warnings.iter().any(|w| w.path == "nodes.apology"));
}

#[test]
fn the_fallback_is_unreachable_when_every_node_has_on_error() {
    let v = json!({
        "schema": "madoguchi.scenario/v1", "name": "tiny", "dids": ["100"], "start": "a",
        "fallback": "b",
        "nodes": {"a": {"plugin": "announce@0.1.0", "config": {}, "on_error": "a"},
                  "b": {"plugin": "announce@0.1.0", "config": {}}}
    });
    let ok = check(&v).unwrap();
    assert_eq!(ok.warnings.len(), 1, "{:?}", ok.warnings);
    assert_eq!(ok.warnings[0].path, "nodes.b");
}

// Rule 5: every path ends.

#[test]
fn a_loop_with_no_way_out_is_an_error_naming_its_nodes() {
    let mut v = zama();
    // apply ⇄ office with no leaf: the menu can only go round.
    v["nodes"]["apply"]["exits"] = json!(["office", "main"]);
    v["nodes"]["office"]["exits"] = json!(["apply"]);
    v["nodes"]["main"]["exits"] = json!(["apply", "main"]);
    let r = refused(&v);
    assert_error(
        &r,
        "nodes.apply",
        &[
            "\"apply\"",
            "\"main\"",
            "\"office\"",
            "loop with no way out",
        ],
    );
    // greeting only leads into that loop.
    assert_error(&r, "nodes.greeting", &["never ends"]);
    assert_eq!(r.errors().count(), 2, "{r}");
}

#[test]
fn a_self_loop_whose_only_way_out_is_on_error_is_an_error() {
    let mut v = zama();
    v["nodes"]["card-pickup"]["exits"] = json!(["card-pickup"]);
    v["nodes"]["card-pickup"]["on_error"] = json!("callcenter");
    let r = refused(&v);
    assert_error(
        &r,
        "nodes.card-pickup",
        &["\"card-pickup\"", "loop with no way out"],
    );
}

#[test]
fn loops_with_a_way_out_pass() {
    // main → main (repeat) and apply → main already loop; both reach leaves.
    let ok = check(&zama()).unwrap();
    assert!(ok.scenario.nodes["main"]
        .exits
        .contains(&"main".to_string()));
}

// Rule 6: prompts.

#[test]
fn every_prompt_needs_audio() {
    let mut env = FakeEnv::complete();
    env.prompts.remove("notice");
    env.prompts.remove("greeting");
    let r = validate(&bytes(&zama()), &env).unwrap_err();
    assert_error(
        &r,
        "prompts.notice",
        &["prompt \"notice\"", "prompts/notice.wav"],
    );
    assert_error(
        &r,
        "prompts.greeting",
        &["prompt \"greeting\"", "POST /api/v1/prompts/greeting"],
    );
    assert_eq!(r.errors().count(), 2, "{r}");
}

#[test]
fn referenced_prompts_must_be_defined() {
    let mut v = zama();
    v["nodes"]["greeting"]["config"]["prompts"] = json!(["greeting", {"asset": "welcome"}]);
    v["nodes"]["main"]["config"]["retry_prompt"] = json!("menu-retry");
    v["nodes"]["callcenter"]["config"]["announce"] = json!({"asset": "hold-on"});
    v["recording_policy"]["config"]["notice"] = json!("recording");
    // Keys that are not prompt keys are not references.
    v["nodes"]["office"]["config"]["message"] = json!("not-a-prompt");
    let r = refused(&v);
    assert_error(
        &r,
        "nodes.greeting.config.prompts[1].asset",
        &["node \"greeting\"", "\"welcome\""],
    );
    assert_error(
        &r,
        "nodes.main.config.retry_prompt",
        &["node \"main\"", "\"menu-retry\""],
    );
    assert_error(
        &r,
        "nodes.callcenter.config.announce.asset",
        &["\"hold-on\""],
    );
    assert_error(
        &r,
        "recording_policy.config.notice",
        &["recording_policy", "\"recording\""],
    );
    assert_eq!(r.errors().count(), 4, "{r}");
}

#[test]
fn report_prints_one_problem_per_line() {
    let mut v = zama();
    v["start"] = json!("welcome");
    v["nodes"]["old"] = json!({"plugin": "announce@0.1.0", "config": {}});
    let r = refused(&v);
    let text = r.to_string();
    assert_eq!(text.lines().count(), r.problems.len());
    assert!(
        text.lines()
            .any(|l| l
                == "error: start: start names node \"welcome\", which is not defined in nodes"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("warning: nodes.old: ")),
        "{text}"
    );
    let as_error: &dyn std::error::Error = &r;
    assert_eq!(as_error.to_string(), text);
}
