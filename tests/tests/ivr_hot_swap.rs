//! Hot swap under load: while sipp callers walk the `bench` scenario's menu
//! (`tests/scenarios/bench/`), version 2 is uploaded and published through the admin API and
//! later version 1 is rolled back to. No call may fail, a call keeps the version it started
//! with to its end, and new calls take the live version at once. The event log says which
//! version each call ran (its first event and the menu prompt it heard) and the outcome says
//! where its key took it, which differs between the versions.
//!
//! Also: broken uploads are refused with the node or field named, and the live version keeps
//! answering.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use madoguchi_tests::ivr::{caller_pcap, create_token, ivr_server_args, prompts_heard, Api};
use madoguchi_tests::sipp::{Device, Sipp, SippRun};
use madoguchi_tests::{free_port, repo_root, Server, ServerOptions};
use serde_json::{json, Value};

const DID: &str = "0462999999";
const STAFF: &str = "transferred:user:1001";
const CALLCENTER: &str = "transferred:external:callcenter";
/// Per key: calls per second and calls in all (2 keys → 60 calls over ~30 s).
const RATE: u32 = 1;
const CALLS_PER_KEY: u32 = 30;
/// When the key is pressed (ms after answer: after the 0.3 s notice and the 0.3 s menu
/// prompt, with about a second to spare for a server running behind, since a key sent
/// before the menu collects is dropped; still before the menu's 2 s timeout) and when the
/// caller hangs up (the call stays connected ~3 s after the transfer).
const KEY_AT_MS: u64 = 1_500;
const HANG_UP_AT_MS: u64 = 5_000;
/// A call's scenario version is chosen when its INVITE is handled and its start time is
/// taken just after, on the IVR task: this much slack covers that gap (a loaded host has
/// taken a quarter of a second), on top of the API call's own duration, when deciding
/// whether a call started before or after a change. Two calls start a second, so each
/// change leaves 2-3 s of calls unchecked: some 34 calls on v1 and 14 on v2 stay checked.
const SLACK_MS: u64 = 1_000;

fn bench_dir() -> PathBuf {
    repo_root().join("tests/scenarios/bench")
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The bench deployment: server with version 1 live, staff device 1001 and the call center
/// (both sipp UAS answering every call at once).
struct Bench {
    server: Server,
    api: Api,
    dir: tempfile::TempDir,
    _device: Device,
    _callcenter: SippRun,
}

/// A UAS answering up to `calls` calls at once.
fn uas(server: SocketAddr, port: Option<u16>, calls: u32) -> Sipp {
    let mut s = Sipp::new("device_answer.xml", server)
        .set("answer_ms", "0")
        .option("-m", &calls.to_string())
        .option("-timeout", "600s");
    if let Some(p) = port {
        s = s.option("-p", &p.to_string());
    }
    s
}

impl Bench {
    fn start() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let token = create_token(&data).unwrap();
        let cc_port = free_port();
        let server = Server::start(ServerOptions {
            data: Some(data),
            extra_args: ivr_server_args(None, &bench_dir().join("scenario.json"))
                .into_iter()
                .chain([
                    "--callcenter-uri".into(),
                    format!("sip:callcenter@127.0.0.1:{cc_port}"),
                ])
                .collect(),
            ..ServerOptions::default()
        })
        .unwrap();
        let callcenter = uas(server.sip, Some(cc_port), 1000)
            .set("user", "callcenter")
            .spawn()
            .unwrap();
        let device =
            Device::start(server.sip, "1001", "zama1001", uas(server.sip, None, 1000)).unwrap();
        let api = Api::new(server.http, &token);
        Bench {
            server,
            api,
            dir,
            _device: device,
            _callcenter: callcenter,
        }
    }

    /// Uploads the prompts version 2 adds (version 1's came from disk with `--scenario`).
    fn upload_v2_prompts(&self) {
        let wav = std::fs::read(bench_dir().join("prompts/menu-v2.wav")).unwrap();
        let text = v2()["prompts"]["menu-v2"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, body) = self
            .api
            .send_bytes(
                "POST",
                &format!("/prompts/menu-v2?text={}", percent(&text)),
                "audio/wav",
                &wav,
            )
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }

    /// Starts `calls` callers at `rate`/s pressing `key`; Call-IDs `{prefix}-1`, `{prefix}-2`, …
    fn callers(&self, prefix: &str, key: char, rate: u32, calls: u32) -> SippRun {
        let pcap = self.dir.path().join(format!("{prefix}.pcap"));
        std::fs::write(
            &pcap,
            caller_pcap(&[(KEY_AT_MS, key)], HANG_UP_AT_MS).unwrap(),
        )
        .unwrap();
        let xml = self.dir.path().join(format!("{prefix}.xml"));
        let template = std::fs::read_to_string(bench_dir().join("caller.xml")).unwrap();
        let number = format!("0900{}", if key == '1' { 1 } else { 2 });
        std::fs::write(
            &xml,
            template
                .replace("@PCAP@", &pcap.display().to_string())
                .replace("@HOLD@", &HANG_UP_AT_MS.to_string())
                .replace("@NUMBER@", &number),
        )
        .unwrap();
        Sipp::from_path(&xml, self.server.sip)
            .service(DID)
            .option("-m", &calls.to_string())
            .option("-r", &rate.to_string())
            // sipp's default limit on simultaneous calls assumes short calls and would slow
            // the rate down.
            .option("-l", "500")
            .option("-timeout", "120s")
            .arg("-cid_str")
            .arg(&format!("{prefix}-%u"))
            .spawn()
            .unwrap()
    }

    /// Every call record whose Call-ID starts with one of `prefixes`, waiting (bounded) until
    /// `want` of them are there.
    fn records(&self, prefixes: &[&str], want: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = self.api.get("/calls?limit=1000&kind=ivr").unwrap();
            assert_eq!(status, 200, "{body}");
            let found: Vec<Value> = body["calls"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| {
                    let id = r["call_id"].as_str().unwrap_or_default();
                    prefixes.iter().any(|p| id.starts_with(&format!("{p}-")))
                })
                .cloned()
                .collect();
            if found.len() >= want || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Percent-encodes a query value (the prompt texts are Japanese).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn v2() -> Value {
    serde_json::from_slice(&std::fs::read(bench_dir().join("scenario-v2.json")).unwrap()).unwrap()
}

fn v1() -> Value {
    serde_json::from_slice(&std::fs::read(bench_dir().join("scenario.json")).unwrap()).unwrap()
}

/// An API call and the wall-clock window (Unix ms) it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let before = unix_ms();
    let out = f();
    (out, before, unix_ms())
}

/// Which version a call must have run, from its start time and the change windows
/// (`(from, to, version live after)`, in order); `None` when it started inside a window.
fn expected_version(started: u64, changes: &[(u64, u64, u32)]) -> Option<u32> {
    let mut version = 1;
    for &(from, to, after) in changes {
        if started + SLACK_MS < from {
            return Some(version);
        }
        if started <= to + SLACK_MS {
            return None;
        }
        version = after;
    }
    Some(version)
}

/// Checks one call record against the version it must have run; `None` = only that it
/// succeeded. Returns the problem, if any.
fn check_call(record: &Value, want: Option<u32>) -> Result<(), String> {
    let id = record["call_id"].as_str().unwrap_or_default();
    let outcome = record["outcome"].as_str().unwrap_or_default();
    if !outcome.starts_with("transferred:") {
        return Err(format!("{id}: outcome {outcome}: {record}"));
    }
    if !record["recording"]
        .as_str()
        .is_some_and(|f| f.ends_with(".wav"))
    {
        return Err(format!("{id}: not recorded: {record}"));
    }
    let first = &record["events"][0];
    let version = record["scenario_version"].as_u64().unwrap_or(0) as u32;
    if first["kind"] != "version"
        || first["detail"]["scenario"] != "bench"
        || first["detail"]["version"] != json!(version)
    {
        return Err(format!("{id}: first event is not its version: {first}"));
    }
    let Some(want) = want else { return Ok(()) };
    if version != want {
        return Err(format!(
            "{id}: ran version {version}, want {want} (started {})",
            record["started_unix_ms"]
        ));
    }
    // What the caller heard and where key 1 / key 2 took it tell the versions apart.
    // v1: key 1 → staff, key 2 → call center; v2 swaps them and has its own menu prompt.
    let key_one = id.starts_with("k1-");
    let menu = if want == 2 { "menu-v2" } else { "menu" };
    let dest = if key_one == (want == 1) {
        STAFF
    } else {
        CALLCENTER
    };
    let heard = prompts_heard(record);
    if heard.first().map(String::as_str) != Some("notice") || !heard.iter().any(|p| p == menu) {
        return Err(format!(
            "{id} (v{want}): heard {heard:?}, want notice then {menu}"
        ));
    }
    if heard.iter().any(|p| p.starts_with("menu") && p != menu) {
        return Err(format!(
            "{id} (v{want}): heard the other version's menu: {heard:?}"
        ));
    }
    if outcome != dest {
        return Err(format!("{id} (v{want}): outcome {outcome}, want {dest}"));
    }
    Ok(())
}

#[test]
fn publish_and_rollback_under_load_keep_every_call_on_its_version() {
    let bench = Bench::start();
    bench.upload_v2_prompts();
    let api = &bench.api;
    let t0 = Instant::now();
    let ones = bench.callers("k1", '1', RATE, CALLS_PER_KEY);
    let twos = bench.callers("k2", '2', RATE, CALLS_PER_KEY);

    // Publish version 2 a third of the way in, roll back to 1 two thirds in, calls in flight
    // each time (every call lasts HANG_UP_AT_MS, two start every second). Callers start on
    // whole seconds from t0, so each change also races two arriving calls: those are only
    // checked for success.
    std::thread::sleep(Duration::from_secs(10).saturating_sub(t0.elapsed()));
    let ((status, published), p_from, p_to) = timed(|| {
        api.send(
            "POST",
            "/scenarios?publish=true&why=hot-swap%20test%3A%20v2",
            &v2(),
        )
        .unwrap()
    });
    assert_eq!(status, 201, "{published}");
    assert_eq!(published["version"], 2, "{published}");
    assert_eq!(published["published"]["version"], 2, "{published}");
    println!("publish v2 took {} ms", p_to - p_from);
    let (_, live) = api.get("/calls/live").unwrap();
    assert_eq!(live["scenarios"][0]["version"], 2, "{live}");

    // Roll back 20 s in, or 10 s after the publish answered if it was slow (a publish took
    // 4.6 s on a loaded machine): either way both versions get a phase of their own.
    let rollback_at = Duration::from_secs(20).max(t0.elapsed() + Duration::from_secs(10));
    std::thread::sleep(rollback_at.saturating_sub(t0.elapsed()));
    let ((status, rolled), r_from, r_to) = timed(|| {
        api.send(
            "POST",
            "/scenarios/bench/rollback",
            &json!({"version": 1, "why": "hot-swap test: back to v1"}),
        )
        .unwrap()
    });
    assert_eq!(status, 200, "{rolled}");
    println!("rollback to v1 took {} ms", r_to - r_from);

    let callers = [("key 1", ones.wait()), ("key 2", twos.wait())];
    println!("callers done after {:?}", t0.elapsed());
    let total = (2 * CALLS_PER_KEY) as usize;
    let records = bench.records(&["k1", "k2"], total);
    let changes = [(p_from, p_to, 2), (r_from, r_to, 1)];
    let mut failures: Vec<String> = callers
        .into_iter()
        .filter_map(|(who, r)| r.err().map(|e| format!("sipp callers ({who}): {e:#}")))
        .collect();
    if records.len() != total {
        failures.push(format!("{} call records, want {total}", records.len()));
    }
    // Calls per expected version (0: started during a change) and key (k1, k2).
    let mut per_version_key = [[0usize; 2]; 3];
    for r in &records {
        let want = expected_version(r["started_unix_ms"].as_u64().unwrap_or(0), &changes);
        let v = want.map_or(0, |v| v as usize);
        let key = usize::from(r["call_id"].as_str().is_some_and(|id| id.starts_with("k2")));
        per_version_key[v][key] += 1;
        if let Err(e) = check_call(r, want) {
            failures.push(e);
        }
    }
    // Calls were in progress at each change: started before it and ended after it.
    let in_flight = |from: u64, to: u64| {
        records
            .iter()
            .filter(|r| {
                r["started_unix_ms"].as_u64().unwrap_or(u64::MAX) < from
                    && r["ended_unix_ms"].as_u64().unwrap_or(0) > to
            })
            .count()
    };
    let (at_publish, at_rollback) = (in_flight(p_from, p_to), in_flight(r_from, r_to));
    let starts: Vec<u64> = records
        .iter()
        .filter_map(|r| r["started_unix_ms"].as_u64())
        .collect();
    let first = starts.iter().min().copied().unwrap_or(0);
    println!(
        "{} calls started over {} ms: {} on v1 (before the publish or after the rollback), {} on v2, {} during a change (only checked for success); IVR parts in flight at the publish: {at_publish}, at the rollback: {at_rollback}",
        records.len(),
        starts.iter().max().copied().unwrap_or(0) - first,
        per_version_key[1].iter().sum::<usize>(),
        per_version_key[2].iter().sum::<usize>(),
        per_version_key[0].iter().sum::<usize>()
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}\n--- server log (tail) ---\n{}",
        failures.len(),
        failures.join("\n"),
        tail(&bench.server.log_text(), 40)
    );
    // Each version had calls of both keys checked strictly (about 20 calls per 10 s phase;
    // the calls that race a change are only checked for success).
    assert!(
        [1, 2]
            .iter()
            .all(|&v| per_version_key[v].iter().all(|&n| n >= 5)),
        "calls per version and key (k1, k2): {per_version_key:?}"
    );

    // The audit says who changed what and why.
    let (status, show) = api.get("/scenarios/bench").unwrap();
    assert_eq!(status, 200, "{show}");
    assert_eq!(show["live"]["version"], 1, "{show}");
    assert_eq!(show["live"]["why"], "hot-swap test: back to v1", "{show}");
    let audit = show["audit"].as_array().unwrap();
    let entry = |action: &str, version: u32| {
        audit
            .iter()
            .rev()
            .find(|e| e["action"] == action && e["version"] == version)
            .unwrap_or_else(|| panic!("no {action} of v{version} in the audit: {show}"))
    };
    let publish = entry("publish", 2);
    assert_eq!(publish["why"], "hot-swap test: v2", "{publish}");
    assert_eq!(publish["previous"], 1, "{publish}");
    assert!(
        publish["who"].as_str().unwrap().starts_with("tests ("),
        "{publish}"
    );
    let rollback = entry("rollback", 1);
    assert_eq!(rollback["previous"], 2, "{rollback}");
    assert!(
        rollback["who"].as_str().unwrap().starts_with("tests ("),
        "{rollback}"
    );
    assert!(rollback["seq"].as_u64() > publish["seq"].as_u64());
}

/// Uploads `body` (raw bytes) as a scenario and returns the 422's text.
fn refused(api: &Api, body: &[u8]) -> String {
    let (status, answer) = api
        .send_bytes(
            "POST",
            "/scenarios?publish=true&why=broken",
            "application/json",
            body,
        )
        .unwrap();
    assert_eq!(status, 422, "{answer}");
    answer.to_string()
}

#[test]
fn broken_versions_are_refused_by_name_and_calls_keep_the_live_version() {
    let bench = Bench::start();
    let api = &bench.api;

    // A dangling exit, a config the plugin rejects, an undefined prompt: each named, with
    // the node and field.
    let mut broken = v1();
    broken["title"] = json!("broken v3");
    broken["nodes"]["staff"]["exits"] = json!(["sorry", "nowhere"]);
    broken["nodes"]["menu"]["config"]["max_digits"] = json!(99);
    broken["nodes"]["callcenter"]["config"]["announce"] = json!("no-such-prompt");
    let text = refused(api, broken.to_string().as_bytes());
    for needle in [
        "nodes.staff.exits",
        "nowhere",
        "max_digits",
        "nodes.menu",
        "no-such-prompt",
        "nodes.callcenter.config.announce",
    ] {
        assert!(text.contains(needle), "{needle:?} not named in {text}");
    }
    // One problem at a time names its node too.
    let mut rejected = v1();
    rejected["nodes"]["menu"]["config"]["options"] = json!({"1x": "staff"});
    let text = refused(api, rejected.to_string().as_bytes());
    assert!(text.contains("nodes.menu") && text.contains("1x"), "{text}");

    // Not JSON at all: refused, with where it broke.
    let mut bytes = serde_json::to_vec_pretty(&v1()).unwrap();
    bytes.truncate(bytes.len() / 2);
    let text = refused(api, &bytes);
    assert!(text.contains("line"), "no position in {text}");

    // Nothing was stored and version 1 is still live.
    let (status, show) = api.get("/scenarios/bench").unwrap();
    assert_eq!(status, 200);
    assert_eq!(show["live"]["version"], 1, "{show}");
    assert_eq!(show["versions"].as_array().unwrap().len(), 1, "{show}");

    // A call placed now runs version 1 to its transfer.
    let run = bench.callers("after", '1', 1, 1);
    run.wait().unwrap();
    let records = bench.records(&["after"], 1);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["scenario_version"], 1, "{r}");
    assert_eq!(r["events"][0]["detail"]["version"], 1, "{r}");
    assert_eq!(r["outcome"], STAFF, "{r}");
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[test]
fn change_windows_classify_calls() {
    let changes = [(10_000, 10_100, 2), (20_000, 20_050, 1)];
    assert_eq!(expected_version(5_000, &changes), Some(1));
    assert_eq!(expected_version(10_000 - SLACK_MS - 1, &changes), Some(1));
    assert_eq!(expected_version(10_000 - SLACK_MS, &changes), None);
    assert_eq!(expected_version(10_050, &changes), None);
    assert_eq!(expected_version(10_100 + SLACK_MS, &changes), None);
    assert_eq!(expected_version(10_100 + SLACK_MS + 1, &changes), Some(2));
    assert_eq!(expected_version(20_000 - SLACK_MS - 1, &changes), Some(2));
    assert_eq!(expected_version(20_000 - SLACK_MS, &changes), None);
    assert_eq!(expected_version(20_010, &changes), None);
    assert_eq!(expected_version(20_050 + SLACK_MS + 1, &changes), Some(1));
    assert_eq!(expected_version(25_000, &changes), Some(1));
}
