//! The router end to end through `tower::ServiceExt::oneshot`: a real store in a temporary
//! directory, the real plugin registry with the built-in plugins (`scripts/build-plugins`
//! builds them into `target/plugins/`), real scenario and prompt stores, and fake hooks.

use std::future::IntoFuture as _;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use madoguchi_plugin_host::{Registry, Runtime, RuntimeConfig};
use madoguchi_scenario::{PromptStore, ScenarioStore};
use madoguchi_store::{Role, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{router, ApiHooks, ApiState};

#[derive(Default)]
struct FakeHooks {
    published: Mutex<Vec<String>>,
    clock: Mutex<Option<String>>,
    test_mode: bool,
}

impl ApiHooks for FakeHooks {
    fn published(&self, name: &str) {
        self.published.lock().unwrap().push(name.to_string());
    }
    fn set_clock(&self, rfc3339: &str) -> Result<(), String> {
        if !self.test_mode {
            return Err("the clock can be set only in test mode".into());
        }
        *self.clock.lock().unwrap() = Some(rfc3339.to_string());
        Ok(())
    }
    fn live_calls(&self) -> Value {
        json!([{"call_id": "live-1"}])
    }
}

pub(super) struct Fixture {
    pub(super) _dir: tempfile::TempDir,
    pub(super) app: Router,
    pub(super) state: ApiState,
    pub(super) store: Store,
    hooks: Arc<FakeHooks>,
    pub(super) admin: String,
    pub(super) operator: String,
    pub(super) viewer: String,
}

fn built(name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/plugins")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run scripts/build-plugins first",
            path.display()
        )
    })
}

fn subdir(root: &std::path::Path, name: &str) -> cap_std::fs::Dir {
    let p = root.join(name);
    std::fs::create_dir_all(&p).unwrap();
    cap_std::fs::Dir::open_ambient_dir(&p, cap_std::ambient_authority()).unwrap()
}

fn fixture_with(test_mode: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        max_instances: 8,
        ..Default::default()
    })
    .unwrap();
    let plugin_db = Arc::new(redb::Database::create(dir.path().join("plugins.redb")).unwrap());
    let plugins = Registry::open(runtime, plugin_db, subdir(dir.path(), "components")).unwrap();
    let scenarios = ScenarioStore::open(&store).unwrap();
    let prompts = PromptStore::open(&store, subdir(dir.path(), "prompts")).unwrap();
    let hooks = Arc::new(FakeHooks {
        test_mode,
        ..Default::default()
    });
    let state = ApiState {
        store: store.clone(),
        plugins: Arc::new(plugins),
        scenarios: Arc::new(scenarios),
        prompts: Arc::new(prompts),
        hooks: hooks.clone(),
        live_changes: Arc::default(),
        access: Arc::new(super::Access::new(Some(dir.path().join("recordings")))),
        trace: None,
        live: None,
    };
    let token = |role, label| store.create_token(role, label, "test").unwrap().0;
    Fixture {
        admin: token(Role::Admin, "alice"),
        operator: token(Role::Operator, "olga"),
        viewer: token(Role::Viewer, "victor"),
        app: router(state.clone()),
        state,
        store,
        hooks,
        _dir: dir,
    }
}

pub(super) fn fixture() -> Fixture {
    fixture_with(false)
}

/// An 8 kHz mono 16-bit PCM WAV of `n` samples of a square wave.
pub(super) fn wav(n: usize) -> Vec<u8> {
    let data_len = (n * 2) as u32;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // PCM
    v.extend_from_slice(&1u16.to_le_bytes()); // mono
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&16000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..n {
        let s: i16 = if (i / 10) % 2 == 0 { 8000 } else { -8000 };
        v.extend_from_slice(&s.to_le_bytes());
    }
    v
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Fixture {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, Some(&self.viewer), Body::empty())
            .await
    }

    async fn admin_post(&self, uri: &str, body: impl Into<Body>) -> Answer {
        self.call(Method::POST, uri, Some(&self.admin), body).await
    }

    /// Uploads the plugins and the prompt the test scenario uses.
    async fn setup_scenario_deps(&self) {
        for p in ["announce", "menu"] {
            let a = self
                .admin_post(&format!("/api/v1/plugins/{p}/0.1.0"), built(p))
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
        }
        let a = self
            .admin_post("/api/v1/prompts/hello?text=%E3%81%93%E3%82%93", wav(800))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    }
}

/// A valid two-node scenario: a menu that goes to an announcement (a leaf).
fn scenario(name: &str, did: &str) -> Value {
    json!({
        "schema": "madoguchi.scenario/v1",
        "name": name,
        "dids": [did],
        "start": "main",
        "prompts": {"hello": {"text": "こん"}},
        "nodes": {
            "main": {"plugin": "menu@0.1.0",
                     "config": {"prompt": "hello", "options": {"1": "bye"}, "fallback": "bye"},
                     "exits": ["bye"]},
            "bye": {"plugin": "announce@0.1.0", "config": {"prompts": "hello"}}
        }
    })
}

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge() {
    let f = fixture();
    for token in [None, Some("mdg_nope"), Some("")] {
        let a = f
            .call(Method::GET, "/api/v1/scenarios", token, Body::empty())
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let challenge = a.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(a.json()["error"].as_str().unwrap().contains("token"));
    }
    // A revoked token stops working at once.
    let id = f.store.check_token(&f.viewer).unwrap().unwrap().id;
    assert_eq!(f.get("/api/v1/scenarios").await.status, StatusCode::OK);
    f.store.revoke_token(&id).unwrap();
    assert_eq!(
        f.get("/api/v1/scenarios").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn roles_are_enforced() {
    let f = fixture();
    let doc = scenario("t", "0462000001").to_string();
    let a = f
        .call(
            Method::POST,
            "/api/v1/scenarios",
            Some(&f.viewer),
            doc.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.json()["error"].as_str().unwrap().contains("admin"));
    let a = f
        .call(
            Method::POST,
            "/api/v1/plugins/announce/0.1.0",
            Some(&f.operator),
            built("announce"),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // Operators upload prompts; viewers do not.
    let a = f
        .call(
            Method::POST,
            "/api/v1/prompts/p1?text=x",
            Some(&f.viewer),
            wav(100),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = f
        .call(
            Method::POST,
            "/api/v1/prompts/p1?text=x",
            Some(&f.operator),
            wav(100),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    assert!(a.json()["uploaded_by"].as_str().unwrap().contains("olga"));
    let a = f
        .call(
            Method::PUT,
            "/api/v1/test/clock",
            Some(&f.operator),
            json!({"at": "2027-01-04T10:00:00+09:00"}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_json_is_422_naming_the_line() {
    let f = fixture();
    let doc = "{\n  \"schema\": \"madoguchi.scenario/v1\",\n  \"name\": \"x\"\n  \"dids\": []\n}";
    for uri in ["/api/v1/scenarios/validate", "/api/v1/scenarios"] {
        let a = f.admin_post(uri, doc).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        let j = a.json();
        assert!(j["error"].as_str().unwrap().contains("line 4"), "{j}");
        let problems = j["problems"].as_array().unwrap();
        assert_eq!(problems[0]["severity"], "error");
        assert!(problems[0]["message"].as_str().unwrap().contains("line 4"));
    }
    assert_eq!(f.get("/api/v1/scenarios").await.json(), json!([]));
}

#[tokio::test]
async fn dangling_exit_is_422_naming_the_node() {
    let f = fixture();
    f.setup_scenario_deps().await;
    let mut doc = scenario("t", "0462000001");
    doc["nodes"]["main"]["exits"] = json!(["bye", "nowhere"]);
    let a = f.admin_post("/api/v1/scenarios", doc.to_string()).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let j = a.json();
    let p = j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "nodes.main.exits[1]")
        .unwrap_or_else(|| panic!("no problem at nodes.main.exits[1]: {j}"));
    assert!(p["message"].as_str().unwrap().contains("nowhere"), "{p}");
    assert!(f.hooks.published.lock().unwrap().is_empty());
}

#[tokio::test]
async fn missing_plugin_and_rejected_config_name_the_node() {
    let f = fixture();
    f.setup_scenario_deps().await;
    let mut doc = scenario("t", "0462000001");
    doc["nodes"]["bye"]["config"] = json!({"prompts": []});
    doc["nodes"]["main"]["plugin"] = json!("transfer@9.9.9");
    let a = f
        .call(
            Method::POST,
            "/api/v1/scenarios/validate",
            Some(&f.operator),
            doc.to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let j = a.json();
    let text = j["problems"].to_string();
    assert!(
        text.contains("nodes.bye") && text.contains("at least one prompt"),
        "{j}"
    );
    assert!(
        text.contains("nodes.main") && text.contains("not uploaded"),
        "{j}"
    );
}

#[tokio::test]
async fn upload_publish_rollback_and_hooks() {
    let f = fixture();
    f.setup_scenario_deps().await;
    let doc = scenario("zama", "0462000001").to_string();

    let a = f
        .call(
            Method::POST,
            "/api/v1/scenarios/validate",
            Some(&f.operator),
            doc.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    assert_eq!(a.json()["warnings"], json!([]));

    let a = f.admin_post("/api/v1/scenarios", doc.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    assert_eq!(a.json()["version"], 1);
    assert!(a.json()["published"].is_null());
    assert!(f.hooks.published.lock().unwrap().is_empty());

    let a = f
        .admin_post("/api/v1/scenarios?publish=true&why=go%20live", doc.clone())
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    assert_eq!(a.json()["version"], 2);
    assert!(!a.json()["published"].is_null());
    assert_eq!(*f.hooks.published.lock().unwrap(), vec!["zama"]);

    let list = f.get("/api/v1/scenarios").await.json();
    assert_eq!(list, json!([{"name": "zama", "live": 2, "latest": 2}]));

    let a = f
        .admin_post(
            "/api/v1/scenarios/zama/rollback",
            json!({"version": 1, "why": "bad prompt"}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    assert_eq!(*f.hooks.published.lock().unwrap(), vec!["zama", "zama"]);

    let show = f.get("/api/v1/scenarios/zama").await.json();
    assert_eq!(show["live"]["version"], 1);
    assert_eq!(show["live"]["why"], "bad prompt");
    assert_eq!(show["versions"].as_array().unwrap().len(), 2);
    let audit = show["audit"].to_string();
    assert!(
        audit.contains("bad prompt") && audit.contains("alice"),
        "{audit}"
    );

    let a = f.get("/api/v1/scenarios/zama/versions/2").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, doc.as_bytes());
    assert_eq!(
        f.get("/api/v1/scenarios/zama/versions/7").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.get("/api/v1/scenarios/nope").await.status,
        StatusCode::NOT_FOUND
    );

    // Publishing a version that does not exist, or with a malformed body.
    let a = f
        .admin_post(
            "/api/v1/scenarios/zama/publish",
            json!({"version": 9}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.json());
    let a = f
        .admin_post("/api/v1/scenarios/zama/publish", "{\"v\": 1}")
        .await;
    assert!(a.status.is_client_error());
    assert!(a.json()["error"].is_string());

    // A second scenario claiming the same DID cannot be published.
    let other = scenario("other", "0462000001").to_string();
    let a = f.admin_post("/api/v1/scenarios?publish=true", other).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.json());
    assert!(a.json()["error"].as_str().unwrap().contains("0462000001"));
    assert_eq!(f.hooks.published.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn plugins_upload_list_and_delete_refused_while_live() {
    let f = fixture();
    f.setup_scenario_deps().await;
    // Not a component: 422 with the reason, nothing stored.
    let a = f
        .admin_post("/api/v1/plugins/junk/1.0.0", &b"not wasm at all"[..])
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.json()["error"].as_str().unwrap().contains("refused"));
    let a = f
        .admin_post("/api/v1/plugins/Bad/1.0.0", built("announce"))
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // The same bytes again: 200, same meta. Other bytes under the same version: 409.
    let a = f
        .admin_post("/api/v1/plugins/announce/0.1.0", built("announce"))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = f
        .admin_post("/api/v1/plugins/announce/0.1.0", built("menu"))
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);

    let list = f.get("/api/v1/plugins").await.json();
    let refs: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}@{}",
                m["name"].as_str().unwrap(),
                m["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(refs, ["announce@0.1.0", "menu@0.1.0"]);
    assert_eq!(
        f.get("/api/v1/plugins/menu/0.1.0").await.json()["kind"],
        "node"
    );

    let doc = scenario("zama", "0462000001").to_string();
    let a = f.admin_post("/api/v1/scenarios?publish=true", doc).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    let a = f
        .call(
            Method::DELETE,
            "/api/v1/plugins/menu/0.1.0",
            Some(&f.admin),
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.json());
    assert!(a.json()["error"].as_str().unwrap().contains("menu@0.1.0"));

    // A plugin no live version uses goes.
    let a = f
        .admin_post("/api/v1/plugins/transfer/0.1.0", built("transfer"))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = f
        .call(
            Method::DELETE,
            "/api/v1/plugins/transfer/0.1.0",
            Some(&f.admin),
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    assert_eq!(
        f.get("/api/v1/plugins/transfer/0.1.0").await.status,
        StatusCode::NOT_FOUND
    );

    // A stored version whose plugin was removed after its upload cannot go live: the publish
    // is refused naming the plugin, and version 1 stays live.
    let a = f
        .admin_post("/api/v1/plugins/announce/0.2.0", built("announce"))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let mut doc = scenario("zama", "0462000001");
    doc["nodes"]["bye"]["plugin"] = json!("announce@0.2.0");
    let a = f.admin_post("/api/v1/scenarios", doc.to_string()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    assert_eq!(a.json()["version"], 2);
    let a = f
        .call(
            Method::DELETE,
            "/api/v1/plugins/announce/0.2.0",
            Some(&f.admin),
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    let a = f
        .admin_post(
            "/api/v1/scenarios/zama/publish",
            json!({"version": 2}).to_string(),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.json());
    let error = a.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("announce@0.2.0") && error.contains("version 2"),
        "{error}"
    );
    assert_eq!(
        f.get("/api/v1/scenarios/zama").await.json()["live"]["version"],
        1
    );
}

#[tokio::test]
async fn prompts_refuse_non_wav_and_serve_audio() {
    let f = fixture();
    let a = f
        .admin_post("/api/v1/prompts/notice?text=x", &b"RIFF....not a wav"[..])
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.json()["error"].as_str().unwrap().contains("notice"));
    let a = f.admin_post("/api/v1/prompts/notice", wav(80)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.json()["error"].as_str().unwrap().contains("text"));
    assert_eq!(
        f.get("/api/v1/prompts/notice").await.status,
        StatusCode::NOT_FOUND
    );

    let audio = wav(1600);
    let a = f
        .admin_post(
            "/api/v1/prompts/notice?text=%E9%8C%B2%E9%9F%B3",
            audio.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    assert_eq!(a.json()["duration_ms"], 200);
    assert_eq!(a.json()["text"], "録音");
    let meta = f.get("/api/v1/prompts/notice").await.json();
    assert_eq!(meta["bytes"], audio.len());
    assert_eq!(
        f.get("/api/v1/prompts")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let a = f.get("/api/v1/prompts/notice/audio").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(a.body, audio);
}

#[tokio::test]
async fn calls_newest_first_by_id_and_live() {
    let f = fixture();
    assert_eq!(
        f.get("/api/v1/calls").await.json(),
        json!({"calls": [], "next": null})
    );
    for (ms, id) in [(1000u64, "a-1"), (3000, "c-3"), (2000, "b-2")] {
        let rec = json!({"call_id": id, "started_unix_ms": ms, "events": [{"kind": "x"}]});
        f.store
            .put_json("ivr.calls", &format!("{ms:016}-{id}"), &rec)
            .unwrap();
    }
    let all = f.get("/api/v1/calls").await.json();
    let ids: Vec<&str> = all["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c-3", "b-2", "a-1"]);
    assert!(all["next"].is_null());

    let page = f.get("/api/v1/calls?limit=2").await.json();
    assert_eq!(page["calls"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap().to_string();
    let rest = f
        .get(&format!("/api/v1/calls?limit=2&before={next}"))
        .await
        .json();
    assert_eq!(rest["calls"][0]["call_id"], "a-1");
    assert!(rest["next"].is_null());

    let one = f.get("/api/v1/calls/b-2").await.json();
    assert_eq!(one["events"][0]["kind"], "x");
    assert_eq!(
        f.get("/api/v1/calls/zz").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.get("/api/v1/calls?limit=abc").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        f.get("/api/v1/calls/live").await.json(),
        json!([{"call_id": "live-1"}])
    );
}

#[tokio::test]
async fn test_clock_only_in_test_mode() {
    let body = json!({"at": "2027-01-04T10:00:00+09:00"}).to_string();
    let f = fixture();
    let a = f
        .call(
            Method::PUT,
            "/api/v1/test/clock",
            Some(&f.admin),
            body.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.json()["error"].as_str().unwrap().contains("test mode"));

    let f = fixture_with(true);
    let a = f
        .call(Method::PUT, "/api/v1/test/clock", Some(&f.admin), body)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    assert_eq!(
        f.hooks.clock.lock().unwrap().as_deref(),
        Some("2027-01-04T10:00:00+09:00")
    );
}

/// `madoguchi scenario …` against this router served on a loopback port.
fn cli(f: &Fixture, rt: &tokio::runtime::Runtime, args: &[&str]) -> anyhow::Result<()> {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: crate::cli::scenario::ScenarioArgs,
    }
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(axum::serve(listener, f.app.clone()).into_future());
    let mut argv = vec!["scenario", "--api", &api, "--token", &f.admin];
    argv.extend_from_slice(args);
    let parsed = <Cli as clap::Parser>::try_parse_from(argv)?;
    crate::cli::scenario::run(parsed.args)
}

#[test]
fn cli_uploads_the_prompt_files_then_the_scenario() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let f = fixture();
    for p in ["announce", "menu"] {
        f.state.plugins.upload(p, "0.1.0", &built(p), None).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("audio")).unwrap();
    std::fs::write(dir.path().join("audio/hello.wav"), wav(400)).unwrap();
    let mut doc = scenario("cli", "0462000005");
    doc["prompts"]["hello"]["file"] = json!("audio/hello.wav");
    let file = dir.path().join("scenario.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let file = file.to_str().unwrap();

    // Without the prompt uploaded, validation names the prompt and fails.
    let err = cli(&f, &rt, &["validate", file]).unwrap_err();
    assert!(err.to_string().contains("prompts.hello"), "{err:#}");
    assert!(f.state.prompts.get("hello").unwrap().is_none());

    cli(&f, &rt, &["upload", file, "--publish", "--why", "first"]).unwrap();
    let prompt = f.state.prompts.get("hello").unwrap().unwrap();
    assert!(prompt.uploaded_by.contains("alice"), "{prompt:?}");
    assert_eq!(prompt.text, "こん");
    let live = f.state.scenarios.live("cli").unwrap().unwrap();
    assert_eq!((live.version, live.why.as_str()), (1, "first"));
    assert_eq!(*f.hooks.published.lock().unwrap(), vec!["cli"]);
    cli(&f, &rt, &["validate", file]).unwrap();

    cli(&f, &rt, &["upload", file]).unwrap();
    cli(&f, &rt, &["publish", "cli", "2"]).unwrap();
    cli(&f, &rt, &["rollback", "cli", "1", "--why", "oops"]).unwrap();
    assert_eq!(f.state.scenarios.live("cli").unwrap().unwrap().version, 1);
    cli(&f, &rt, &["list"]).unwrap();

    // A dangling exit: the command fails and says where.
    doc["nodes"]["main"]["exits"] = json!(["bye", "gone"]);
    std::fs::write(file, doc.to_string()).unwrap();
    let err = cli(&f, &rt, &["upload", file]).unwrap_err();
    assert!(err.to_string().contains("nodes.main.exits[1]"), "{err:#}");
    // A prompt file that is not there.
    doc["prompts"]["hello"]["file"] = json!("audio/missing.wav");
    std::fs::write(file, doc.to_string()).unwrap();
    let err = cli(&f, &rt, &["upload", file]).unwrap_err();
    assert!(format!("{err:#}").contains("missing.wav"), "{err:#}");
    assert_eq!(f.state.scenarios.versions("cli").unwrap().len(), 2);
}

/// The live version's test plan and a simulated call, from the server's own plugins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_plan_and_simulate_of_the_live_version() {
    let f = fixture();
    f.setup_scenario_deps().await;
    let doc = scenario("plan", "0462000002").to_string();
    let a = f.admin_post("/api/v1/scenarios?publish=true", doc).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());

    let plan = f
        .get("/api/v1/scenarios/plan/test-plan?from=2027-01-04")
        .await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.json());
    let plan = plan.json();
    assert_eq!(plan["version"], 1);
    // Key 1; invalid and silence asked again, then to the fallback; bye after its prompt.
    let ids: Vec<&str> = plan["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert!(ids.contains(&"main|key:1|node:bye"), "{ids:?}");

    let sim = f
        .get("/api/v1/scenarios/plan/simulate?at=2027-01-06T10%3A00%3A00%2B09%3A00&keys=2,1")
        .await;
    assert_eq!(sim.status, StatusCode::OK, "{}", sim.json());
    let sim = sim.json();
    let heard: Vec<&str> = sim["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["prompt"].as_str().unwrap())
        .collect();
    // The default notice, the menu, the menu again after a wrong key (no invalid prompt
    // configured), then bye.
    assert_eq!(heard[1..], ["hello", "hello", "hello"]);
    assert_eq!(sim["path"], json!(["main", "bye"]));
    assert_eq!(sim["ending"], json!({"kind": "hangup", "node": "bye"}));
    assert_eq!(sim["prompts"][1]["text"], "こん");

    let bad = f.get("/api/v1/scenarios/plan/simulate?at=tomorrow").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let none = f.get("/api/v1/scenarios/nope/test-plan").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

/// Analytics of a period read the stored call records of that scenario only.
#[tokio::test]
async fn analytics_fold_the_period_of_one_scenario() {
    let f = fixture();
    f.setup_scenario_deps().await;
    let doc = scenario("flow", "0462000003").to_string();
    let a = f.admin_post("/api/v1/scenarios?publish=true", doc).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json());
    // 2027-01-06 10:00 JST = 1_799_197_200_000; the day before; another scenario.
    let day = 1_799_197_200_000u64;
    let calls = [
        (day, "in-1", "flow", "1", "hangup"),
        (day + 60_000, "in-2", "flow", "7", "caller-hangup"),
        (day - 86_400_000, "before", "flow", "1", "hangup"),
        (day + 120_000, "other", "elsewhere", "1", "hangup"),
    ];
    for (ms, id, sc, key, outcome) in calls {
        let mut events = vec![
            json!({"t_ms": 0, "kind": "node", "node": "main"}),
            json!({"t_ms": 1, "kind": "input", "node": "main", "detail": {"digits": key}}),
        ];
        if key == "1" {
            events.push(
                json!({"t_ms": 2, "kind": "branch", "node": "main", "detail": {"to": "bye"}}),
            );
            events.push(json!({"t_ms": 3, "kind": "node", "node": "bye"}));
            events.push(json!({"t_ms": 4, "kind": "hangup", "node": "bye"}));
        } else {
            events.push(json!({"t_ms": 5, "kind": "caller-hangup", "node": "main"}));
        }
        let rec = json!({"call_id": id, "caller": "x", "did": "0462000003", "scenario": sc,
            "scenario_version": 1, "started_unix_ms": ms, "ended_unix_ms": ms + 5,
            "outcome": outcome, "events": events});
        f.store
            .put_json("ivr.calls", &format!("{ms:016}-{id}"), &rec)
            .unwrap();
    }
    let a = f
        .get("/api/v1/scenarios/flow/analytics?from=2027-01-06&to=2027-01-06")
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    let a = a.json();
    assert_eq!(a["calls"], 2);
    assert_eq!(a["nodes"]["main"]["reached"], 2);
    assert_eq!(a["nodes"]["main"]["keys"], json!({"1": 1}));
    // 7 is not one of the menu's options.
    assert_eq!(a["nodes"]["main"]["invalid"], 1);
    assert_eq!(a["nodes"]["main"]["hung_up"], 1);
    assert_eq!(
        a["endings"],
        json!({"hangup:bye": 1, "caller-hangup:main": 1})
    );
    let none = f.get("/api/v1/scenarios/nope/analytics").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}
