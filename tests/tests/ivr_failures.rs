//! Never dead air: a node plugin that fails during a call (runs past its deadline, panics,
//! answers nonsense) sends the call to the node's `on_error`, else the scenario's
//! `fallback`, else the host's apology and a polite hang-up. Everything is set up through
//! the admin API (plugin, prompt and scenario uploads) over a real server, and bad uploads
//! are refused with the problem named while the live version stays live.

use std::path::Path;

use madoguchi_tests::audio::tone_wav;
use madoguchi_tests::ivr::{call_id, create_token, zama_bundle, Api, IvrCaller};
use madoguchi_tests::{repo_root, Server, ServerOptions};
use serde_json::json;

/// A scenario whose start node misbehaves as `mode`.
fn scenario(
    name: &str,
    did: &str,
    mode: &str,
    on_error: bool,
    fallback: bool,
) -> serde_json::Value {
    let mut start = json!({
        "plugin": "misbehave@1.0.0",
        "config": {"mode": mode},
        "exits": [],
    });
    if on_error {
        start["on_error"] = json!("rescue");
    }
    let mut doc = json!({
        "schema": "madoguchi.scenario/v1",
        "name": name,
        "dids": [did],
        "start": "start",
        "recording_policy": {"plugin": "record-all@0.1.0", "config": {"notice": "tone"}},
        "prompts": {"tone": {"text": "(試験音)"}},
        "nodes": {
            "start": start,
            "rescue": {"plugin": "announce@0.1.0", "config": {"prompts": "tone"}},
        },
    });
    if fallback {
        doc["fallback"] = json!("rescue");
    }
    doc
}

fn setup() -> (Server, Api, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let token = create_token(&dir).unwrap();
    let (plugins, _) = zama_bundle();
    let server = Server::start(ServerOptions {
        data: Some(dir),
        extra_args: vec!["--plugins".into(), plugins.display().to_string()],
        ..ServerOptions::default()
    })
    .unwrap();
    let api = Api::new(server.http, &token);
    let wasm = std::fs::read(repo_root().join("target/plugins/guest-misbehave.wasm")).unwrap();
    let (status, body) = api
        .send_bytes(
            "POST",
            "/plugins/misbehave/1.0.0",
            "application/wasm",
            &wasm,
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = api
        .send_bytes(
            "POST",
            "/prompts/tone?text=(試験音)",
            "audio/wav",
            &tone_wav(440.0, 500),
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    (server, api, tmp)
}

fn publish(api: &Api, doc: &serde_json::Value) {
    let (status, body) = api
        .send("POST", "/scenarios?publish=true&why=test", doc)
        .unwrap();
    assert_eq!(status, 201, "{body}");
}

/// Calls `did` without pressing anything and returns the call record.
fn call(server: &Server, api: &Api, name: &str, did: &str, dir: &Path) -> serde_json::Value {
    IvrCaller::new(name, "0462009999", &[], 15_000)
        .spawn(server.sip, did, dir)
        .unwrap()
        .wait()
        .unwrap();
    api.call(&call_id(name)).unwrap()
}

fn errors(record: &serde_json::Value) -> Vec<String> {
    record["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "error")
        .map(|e| {
            e["detail"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn last_node(record: &serde_json::Value) -> String {
    record["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "node")
        .and_then(|e| e["node"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_failing_plugin_goes_to_on_error_then_fallback_then_the_apology() {
    let (server, api, _data) = setup();
    let dir = tempfile::tempdir().unwrap();
    publish(&api, &scenario("loops", "0462111111", "loop", true, false));
    publish(
        &api,
        &scenario("panics", "0462111112", "panic", false, true),
    );
    publish(
        &api,
        &scenario("nonsense", "0462111113", "many-actions", false, false),
    );

    // Past its deadline → the node's on_error.
    let r = call(&server, &api, "loop", "0462111111", dir.path());
    assert_eq!(r["outcome"], "hangup", "{r}");
    assert_eq!(last_node(&r), "rescue");
    assert!(
        errors(&r)[0].contains("deadline") || errors(&r)[0].contains("ms"),
        "{r}"
    );

    // A panic, no on_error → the scenario's fallback.
    let r = call(&server, &api, "panic", "0462111112", dir.path());
    assert_eq!(r["outcome"], "hangup", "{r}");
    assert_eq!(last_node(&r), "rescue");
    assert!(!errors(&r).is_empty());

    // Too many actions, no route at all → the host's apology, then the host hangs up.
    let r = call(&server, &api, "nonsense", "0462111113", dir.path());
    assert_eq!(r["outcome"], "apology", "{r}");
    let apology = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "apology")
        .expect("apology event");
    assert!(apology["detail"]["text"]
        .as_str()
        .unwrap()
        .contains("申し訳"));
    // Every call was recorded after its notice, failures included.
    for name in ["loop", "panic", "nonsense"] {
        let rec = api.call(&call_id(name)).unwrap();
        assert!(rec["recording"]
            .as_str()
            .is_some_and(|f| f.ends_with(".wav")));
    }
}

#[test]
fn bad_uploads_are_refused_by_name_and_the_live_version_stays() {
    let (server, api, _data) = setup();
    let dir = tempfile::tempdir().unwrap();
    let good = scenario("steady", "0462111120", "loop", true, false);
    publish(&api, &good);

    // A prompt that is not audio.
    let (status, body) = api
        .send_bytes(
            "POST",
            "/prompts/notwav?text=x",
            "audio/wav",
            b"this is not a wav file",
        )
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("notwav"), "{body}");

    // A plugin that is not a component.
    let (status, body) = api
        .send_bytes(
            "POST",
            "/plugins/junk/1.0.0",
            "application/wasm",
            b"\0asm garbage",
        )
        .unwrap();
    assert_eq!(status, 422, "{body}");

    // A missing plugin, a dangling exit, an undefined prompt: each named.
    let mut bad = good.clone();
    bad["nodes"]["rescue"]["plugin"] = json!("nosuch@9.9.9");
    bad["nodes"]["start"]["exits"] = json!(["nowhere"]);
    bad["nodes"]["rescue"]["config"]["prompts"] = json!("undefined-prompt");
    let (status, body) = api.send("POST", "/scenarios?publish=true", &bad).unwrap();
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    for needle in ["nosuch@9.9.9", "nowhere", "undefined-prompt"] {
        assert!(text.contains(needle), "{needle} not named in {text}");
    }

    // The live version is still version 1, and calls run it.
    let (status, body) = api.get("/scenarios/steady").unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["live"]["version"], 1, "{body}");
    let r = call(&server, &api, "steady", "0462111120", dir.path());
    assert_eq!(r["scenario_version"], 1);
    assert_eq!(r["outcome"], "hangup");
}
