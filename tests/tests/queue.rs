//! The call queue over real SIP (issue #6): two staff users, one of them on two devices;
//! callers arrive while both are on calls and wait with hold music and announcements; when
//! a staff call ends the longest-waiting caller goes to that member; a caller who hangs up
//! while waiting is counted abandoned; one who waits past the maximum goes to the fallback
//! route; the member's two devices ring together and the one that does not answer is
//! cancelled.

use std::path::Path;
use std::time::Duration;

use madoguchi_tests::audio::{channels, finished_recordings, power, tone_wav};
use madoguchi_tests::ivr::{call_id, create_token, ivr_server_args, prompts_heard, Api, IvrCaller};
use madoguchi_tests::rtp_sink::RtpSink;
use madoguchi_tests::sipp::{Device, Sipp, SippRun};
use madoguchi_tests::{Server, ServerOptions};
use serde_json::{json, Value};

const DID: &str = "0462333333";

/// The scenario: notice, then straight into the queue; when the queue gives up, "full".
fn write_scenario(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::write(dir.join("prompts/notice.wav"), tone_wav(440.0, 400)).unwrap();
    std::fs::write(dir.join("prompts/full.wav"), tone_wav(660.0, 400)).unwrap();
    let doc = json!({
        "schema": "madoguchi.scenario/v1",
        "name": "queue-test",
        "dids": [DID],
        "start": "section",
        "recording_policy": {"plugin": "record-all@0.1.0", "config": {"notice": "notice"}},
        "prompts": {
            "notice": {"text": "(録音のお知らせ)", "file": "prompts/notice.wav"},
            "full": {"text": "(ただいま混み合っております)", "file": "prompts/full.wav"},
        },
        "nodes": {
            "section": {"plugin": "transfer@0.1.0",
                        "config": {"target": {"queue": "section"}, "busy": "full", "no_answer": "full", "failed": "full"},
                        "exits": ["full"]},
            "full": {"plugin": "announce@0.1.0", "config": {"prompts": "full"}},
        },
    });
    let path = dir.join("scenario.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

/// A scenario whose menu sends key 1 to the queue as it is and key 2 with priority 5.
fn write_priority_scenario(dir: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::write(dir.join("prompts/menu.wav"), tone_wav(440.0, 400)).unwrap();
    let to_queue = |priority: u8| {
        json!({"plugin": "transfer@0.1.0",
               "config": {"target": {"queue": "section"}, "priority": priority}})
    };
    let doc = json!({
        "schema": "madoguchi.scenario/v1",
        "name": "queue-priority",
        "dids": [DID],
        "start": "menu",
        "prompts": {"menu": {"text": "(1 一般、2 優先)", "file": "prompts/menu.wav"}},
        "nodes": {
            "menu": {"plugin": "menu@0.1.0",
                     "config": {"prompt": "menu", "options": {"1": "normal", "2": "urgent"}, "fallback": "normal"},
                     "exits": ["normal", "urgent"]},
            "normal": to_queue(0),
            "urgent": to_queue(5),
        },
    });
    let path = dir.join("scenario.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

/// A staff device UAS logging its messages to `log`.
fn device(server: &Server, scenario: &str, answer_ms: Option<&str>, log: &Path) -> Sipp {
    let mut s = Sipp::new(scenario, server.sip)
        .option("-m", "10")
        .option("-timeout", "180s")
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&log.display().to_string());
    if let Some(ms) = answer_ms {
        s = s.set("answer_ms", ms);
    }
    s
}

fn saw(log: &Path, method: &str, number: &str) -> bool {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    // sipp's message log: one block per message; find a request of `method` from `number`.
    text.split("----------------------------------------------- ")
        .any(|block| {
            block
                .lines()
                .any(|l| l.starts_with(&format!("{method} sip:")))
                && block.contains(&format!("sip:{number}@"))
        })
}

/// Polls `GET /queues` until `ok` holds for the first queue's live state (`what` names the
/// state for the failure), for at most 30 s (a bound for a loaded host, not a measurement).
fn wait_live(api: &Api, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let t0 = std::time::Instant::now();
    loop {
        let (_, q) = api.get("/queues").unwrap();
        let live = q["queues"][0]["live"].clone();
        if ok(&live) {
            return live;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "never {what}: {live}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `member`'s state (`"on-call"`, `"paused"`...) in a queue's live state.
fn member_state(live: &Value, member: &str) -> String {
    live["members"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m[0] == member)
        .and_then(|m| m[1]["state"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The number of callers waiting (ringing offers included) in a queue's live state.
fn waiting(live: &Value) -> u64 {
    live["waiting"].as_u64().unwrap_or(0)
}

/// A test's data directory, admin token, queue config and scenario, and the server on them.
struct Setup {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    token: String,
    config: std::path::PathBuf,
    scenario: std::path::PathBuf,
}

impl Setup {
    /// `queue` is the `[[queue]]` table; `write` puts the scenario into the directory.
    fn new(queue: &str, write: fn(&Path) -> std::path::PathBuf) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let token = create_token(&data).unwrap();
        let config = dir.path().join("madoguchi.toml");
        std::fs::write(&config, format!("[[queue]]\n{queue}")).unwrap();
        let scenario = write(dir.path());
        Setup {
            dir,
            data,
            token,
            config,
            scenario,
        }
    }

    /// Starts the server (creating the staff users unless `restart`).
    fn start(&self, restart: bool) -> Server {
        let mut opts = ServerOptions {
            data: Some(self.data.clone()),
            extra_args: ivr_server_args(Some(&self.config), &self.scenario),
            ..ServerOptions::default()
        };
        if restart {
            opts.users = vec![];
        }
        Server::start(opts).unwrap()
    }

    fn api(&self, server: &Server) -> Api {
        Api::new(server.http, &self.token)
    }
}

#[test]
fn callers_wait_in_order_and_go_to_the_first_free_member() {
    let setup = Setup::new(
        "name = \"section\"\nmembers = [\"1001\", \"1002\"]\nfallback = \"scenario\"\n\
         wrap_up_ms = 0\nmax_wait_ms = 25000\nannounce_every_ms = 6000\nring_timeout_ms = 15000\n",
        write_scenario,
    );
    let (dir, data) = (&setup.dir, &setup.data);
    let server = setup.start(false);
    let api = setup.api(&server);
    // 1001 on one device; 1002 on two: one answers after a second, the other only rings.
    let log_a = dir.path().join("1001.log");
    let log_b1 = dir.path().join("1002-b1.log");
    let log_b2 = dir.path().join("1002-b2.log");
    let _a = Device::start(
        server.sip,
        "1001",
        "zama1001",
        device(&server, "device_answer.xml", Some("0"), &log_a),
    )
    .unwrap();
    let _b1 = Device::start(
        server.sip,
        "1002",
        "zama1002",
        device(&server, "device_answer.xml", Some("1000"), &log_b1),
    )
    .unwrap();
    let _b2 = Device::start(
        server.sip,
        "1002",
        "zama1002",
        device(&server, "device_ring.xml", None, &log_b2),
    )
    .unwrap();

    // 1002 pauses (through the API) so that the first caller goes to 1001.
    let (status, body) = api
        .send(
            "POST",
            "/queues/members/1002",
            &json!({"action": "pause", "reason": "準備中"}),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let call = |name: &str, number: &str, hold_ms: u64| -> SippRun {
        IvrCaller::new(name, number, &[], hold_ms)
            .spawn(server.sip, DID, dir.path())
            .unwrap()
    };
    // Each step waits for the queue to show the previous one done (at most 30 s each). Caller
    // 1 holds long enough to still talk to 1001 when callers 3 to 5 have all queued, and
    // not so long that caller 3 (queued after it was connected) reaches the 25 s maximum
    // wait. Caller 4 holds long enough to be seen waiting with them before it gives up
    // (nobody can take it: caller 3 is ahead of it for 1001, and 1002's call lasts a
    // minute) and short of the maximum wait.
    let c1 = call("q1", "0900000001", 21_000);
    wait_live(&api, "1001 on a call with caller 1", |l| {
        member_state(l, "1001") == "on-call"
    });
    let (status, _) = api
        .send(
            "POST",
            "/queues/members/1002",
            &json!({"action": "unpause"}),
        )
        .unwrap();
    assert_eq!(status, 200);
    let c2 = call("q2", "0900000002", 60_000);
    wait_live(&api, "1002 on a call with caller 2", |l| {
        member_state(l, "1002") == "on-call" && waiting(l) == 0
    });
    // Both staff are on calls now: three callers wait, in this order.
    let c3 = call("q3", "0900000003", 45_000);
    wait_live(&api, "caller 3 waiting", |l| waiting(l) == 1);
    // Caller 4 only listens, at a socket of this test's: what reaches it there is what it
    // heard, packet by packet.
    let ear = RtpSink::start();
    let c4 = IvrCaller::new("q4", "0900000004", &[], 16_000)
        .listening_at(ear.port)
        .spawn(server.sip, DID, dir.path())
        .unwrap();
    wait_live(&api, "caller 4 waiting", |l| waiting(l) == 2);
    let c5 = call("q5", "0900000005", 60_000);
    let live = wait_live(&api, "three callers waiting while both staff talk", |l| {
        waiting(l) == 3
    });
    assert_eq!(
        (member_state(&live, "1001"), member_state(&live, "1002")),
        ("on-call".to_string(), "on-call".to_string()),
        "three callers wait while both staff talk: {live}"
    );
    for run in [c1, c2, c3, c4, c5] {
        run.wait().unwrap();
    }

    // Caller 1 talked to 1001; caller 2 rang both of 1002's devices, b1 answered and b2
    // was cancelled.
    assert!(saw(&log_a, "INVITE", "0900000001"));
    assert!(saw(&log_b1, "INVITE", "0900000002"));
    assert!(
        saw(&log_b2, "INVITE", "0900000002"),
        "both devices of 1002 rang"
    );
    assert!(
        saw(&log_b2, "CANCEL", "0900000002"),
        "the device that did not answer stopped"
    );
    // When caller 1 hung up, 1001 got the longest-waiting caller: 3 (not 5).
    assert!(saw(&log_a, "INVITE", "0900000003"));
    for (name, outcome) in [
        ("q1", "transferred:queue:section"),
        ("q2", "transferred:queue:section"),
        ("q3", "transferred:queue:section"),
        ("q4", "caller-hangup"),
        ("q5", "hangup"),
    ] {
        let r = api.call(&call_id(name)).unwrap();
        assert_eq!(r["outcome"], outcome, "{name}: {r}");
    }
    // Waiting callers heard the hold announcement (position included) from the queue.
    let r3 = api.call(&call_id("q3")).unwrap();
    let heard = prompts_heard(&r3);
    assert!(heard.iter().any(|p| p == "queue-wait"), "{heard:?}");
    assert!(
        heard.iter().any(|p| p.starts_with("queue-position-")),
        "{heard:?}"
    );
    let kinds: Vec<&str> = r3["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.iter().any(|k| k.starts_with("queue-")),
        "queue events in the log: {kinds:?}"
    );
    // What caller 4 heard while waiting: the hold music (its first note, C5 at 523 Hz), in
    // the packets that reached it and in its recording's right channel, and no trace of it
    // on the recording's caller channel. Windows of 0.2 s (a third of a note) in which C5
    // stands far above its neighbour at 560 Hz (speech has both; the music's note only the
    // one).
    let c5_windows = |x: &[f64]| {
        x.chunks(1600)
            .filter(|w| power(w, 523.25) > 10.0 * power(w, 560.0).max(1.0))
            .count()
    };
    let received = ear.ulaw_audio();
    let at_caller = c5_windows(&received);
    println!(
        "hold music (C5) in {at_caller} windows of 0.2 s of the {:.1} s caller 4 received",
        received.len() as f64 / 8000.0
    );
    assert!(
        at_caller >= 2,
        "hold music in {at_caller} windows of what caller 4 received ({} µ-law packets)",
        ear.count(0)
    );
    let r4 = api.call(&call_id("q4")).unwrap();
    let file = data
        .join("recordings")
        .join(r4["recording"].as_str().unwrap());
    let (left, right) = channels(
        &finished_recordings(file.parent().unwrap(), 5)
            .into_iter()
            .find(|f| *f == file)
            .unwrap(),
    );
    let (heard, sent) = (c5_windows(&right), c5_windows(&left));
    println!("hold music (C5) in {heard} windows of 0.2 s of the recording's right channel");
    assert!(
        heard >= 2,
        "hold music in {heard} windows of the recording's other side"
    );
    assert_eq!(sent, 0, "the music leaked into the caller channel");
    // Caller 5 waited past the maximum and went to the scenario's "full" route.
    let r5 = api.call(&call_id("q5")).unwrap();
    assert!(prompts_heard(&r5).ends_with(&["full".to_string()]), "{r5}");
    // The numbers: 5 offered, 3 answered, 1 abandoned.
    let (_, q) = api.get("/queues").unwrap();
    let period = &q["queues"][0]["period"];
    assert_eq!(period["offered"], 5, "{q}");
    assert_eq!(period["answered"], 3, "{q}");
    assert_eq!(period["abandoned"], 1, "{q}");
    assert_eq!(period["to_fallback"], 1, "{q}");

    // The same figures from the stored history (written behind the SIP path)...
    let history = || {
        let mut last = Value::Null;
        for _ in 0..300 {
            let (status, h) = api.get("/queues/section/history?interval=all").unwrap();
            assert_eq!(status, 200, "{h}");
            if h["total"]["offered"] == 5 {
                return h;
            }
            last = h;
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the history never showed 5 callers: {last}");
    };
    let before = history();
    let total = &before["total"];
    assert_eq!(
        (
            &total["answered"],
            &total["abandoned"],
            &total["to_fallback"]
        ),
        (&json!(3), &json!(1), &json!(1)),
        "{before}"
    );
    assert_eq!(
        before["intervals"].as_array().map(Vec::len),
        Some(1),
        "{before}"
    );
    // ...which survive a crash: kill -9, start again on the same data, same report.
    let mut server = server;
    server.kill9();
    let again = setup.start(true);
    let api = setup.api(&again);
    let (_, after) = api.get("/queues/section/history?interval=all").unwrap();
    assert_eq!(after["total"], before["total"], "{after}");
    let (status, _) = api.get("/queues/nosuch/history").unwrap();
    assert_eq!(status, 404);
    let (status, bad) = api
        .get("/queues/section/history?from=2027-01-05&to=2027-01-04")
        .unwrap();
    assert_eq!(status, 400, "{bad}");
}

#[test]
fn members_log_out_and_pause_with_feature_codes() {
    let setup = Setup::new(
        "name = \"section\"\nmembers = [\"1001\", \"1002\"]\nfallback = \"scenario\"\n",
        write_scenario,
    );
    let server = setup.start(false);
    let api = setup.api(&server);
    let state = |user: &str| -> serde_json::Value {
        let (_, q) = api.get("/queues").unwrap();
        q["queues"][0]["live"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m[0] == user)
            .map(|m| m[1].clone())
            .unwrap_or_else(|| panic!("{user} not in {q}"))
    };
    let dial = |code: &str| {
        Sipp::new("feature_code.xml", server.sip)
            .user("1001", "zama1001")
            .service(code)
            .run()
            .unwrap()
    };
    assert!(
        state("1001").to_string().contains("available"),
        "{}",
        state("1001")
    );
    dial("*45");
    assert!(
        state("1001").to_string().contains("logged"),
        "{}",
        state("1001")
    );
    dial("*45");
    assert!(
        state("1001").to_string().contains("available"),
        "{}",
        state("1001")
    );
    dial("*46");
    assert!(
        state("1001").to_string().contains("paused"),
        "{}",
        state("1001")
    );
    dial("*46");
    assert!(
        state("1001").to_string().contains("available"),
        "{}",
        state("1001")
    );

    // Log-in and pause survive a restart: 1001 pauses by phone, 1002 logs out by the API.
    dial("*46");
    let (status, body) = api
        .send(
            "POST",
            "/queues/members/1002",
            &json!({ "action": "logout" }),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    // Presences are written behind the SIP path, in order: once 1002's log-out is stored
    // (the last change), so is 1001's pause before it. Crash only then.
    assert!(
        server.wait_log("1002:out", 1, Duration::from_secs(30)),
        "{}",
        server.log_text()
    );
    let mut server = server;
    server.kill9();
    let again = setup.start(true);
    let api = setup.api(&again);
    let (_, q) = api.get("/queues").unwrap();
    let members = &q["queues"][0]["live"]["members"];
    assert_eq!(members[0][0], "1001", "{q}");
    assert_eq!(members[0][1]["state"], "paused", "{q}");
    assert_eq!(members[1][0], "1002", "{q}");
    assert_eq!(members[1][1]["state"], "logged-out", "{q}");
}

/// A caller the menu sends to the queue with a higher priority goes ahead of one who has
/// waited longer: the free member is offered the urgent caller first.
#[test]
fn a_priority_caller_goes_ahead_of_longer_waiting_ones() {
    let setup = Setup::new(
        "name = \"section\"\nmembers = [\"1001\"]\nfallback = \"scenario\"\n\
         wrap_up_ms = 0\nmax_wait_ms = 60000\nring_timeout_ms = 15000\n",
        write_priority_scenario,
    );
    let dir = &setup.dir;
    let server = setup.start(false);
    let api = setup.api(&server);
    let log = dir.path().join("1001.log");
    let _staff = Device::start(
        server.sip,
        "1001",
        "zama1001",
        device(&server, "device_answer.xml", Some("0"), &log),
    )
    .unwrap();
    let call = |name: &str, number: &str, key: char, hold_ms: u64| -> SippRun {
        IvrCaller::new(name, number, &[(6000, key)], hold_ms)
            .spawn(server.sip, DID, dir.path())
            .unwrap()
    };
    // Keys after the built-in recording notice (4.8 s). 1001 talks to the first caller;
    // meanwhile an ordinary caller, then an urgent one, start waiting (each step waits for
    // the queue to show the previous one, at most 30 s each). The first caller holds long
    // enough for both to have queued (each takes over 6 s); the ordinary one still waits
    // when the first call ends, and gives up before the urgent one's call ends.
    let first = call("p1", "0900000011", '1', 24_000);
    wait_live(&api, "1001 on a call with the first caller", |l| {
        member_state(l, "1001") == "on-call" && waiting(l) == 0
    });
    let ordinary = call("p2", "0900000012", '1', 26_000);
    wait_live(&api, "the ordinary caller waiting", |l| waiting(l) == 1);
    let urgent = call("p3", "0900000013", '2', 28_000);
    let live = wait_live(&api, "both callers waiting", |l| waiting(l) == 2);
    assert_eq!(
        member_state(&live, "1001"),
        "on-call",
        "both wait while 1001 talks to the first caller: {live}"
    );
    for run in [first, ordinary, urgent] {
        run.wait().unwrap();
    }
    assert!(
        saw(&log, "INVITE", "0900000011"),
        "{}",
        api.call(&call_id("p1")).unwrap()
    );
    assert!(
        saw(&log, "INVITE", "0900000013"),
        "the urgent caller reached 1001"
    );
    assert!(
        !saw(&log, "INVITE", "0900000012"),
        "the ordinary caller was not offered while the urgent one waited"
    );
    for (name, outcome) in [
        ("p1", "transferred:queue:section"),
        ("p2", "caller-hangup"),
        ("p3", "transferred:queue:section"),
    ] {
        let r = api.call(&call_id(name)).unwrap();
        assert_eq!(r["outcome"], outcome, "{name}: {r}");
    }
}

/// A queue that cannot work is refused when the server starts, with every problem named.
#[test]
fn a_bad_queue_config_is_refused_at_start_naming_the_problems() {
    let refusal = |queue: &str| -> String {
        let setup = Setup::new(queue, write_scenario);
        Server::start(ServerOptions {
            data: Some(setup.data.clone()),
            extra_args: ivr_server_args(Some(&setup.config), &setup.scenario),
            ..ServerOptions::default()
        })
        .err()
        .unwrap_or_else(|| panic!("the server took the queue {queue:?}"))
        .to_string()
    };
    let err =
        refusal("name = \"section\"\nmembers = [\"1001\", \"1999\"]\nfallback = \"nowhere\"\n");
    for named in ["queue section", "1999", "nowhere"] {
        assert!(err.contains(named), "{named:?} not named in: {err}");
    }
    let err = refusal("name = \"empty\"\nmembers = []\nfallback = \"scenario\"\n");
    assert!(err.contains("queue empty"), "{err}");
}
