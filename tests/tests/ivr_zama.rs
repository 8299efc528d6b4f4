//! Every branch of the Zama hotline demo over real SIP: a sipp caller dials the DID and
//! presses RFC 4733 keys; city hall is the queue `mynumber`, whose staff (1001–1012) all
//! register one sipp UAS as their device, and the call center is
//! another sipp UAS at `--callcenter-uri`. For each row of the branch table
//! (`examples/zama-mynumber/README.md`) the test checks where the call ended (the call
//! record's outcome, and the INVITE in the receiving UA's message log), which node it ended
//! at and which prompts were played (event log), and that transferred calls were recorded.
//!
//! Rows run concurrently per clock setting, one server per setting (`--clock`), so the
//! whole table takes about as long as its longest call.

use std::path::{Path, PathBuf};
use std::time::Duration;

use madoguchi_tests::ivr::{
    call_id, create_token, ivr_server_args, prompts_heard, zama_bundle, Api, IvrCaller,
};
use madoguchi_tests::sipp::{Device, Sipp, SippRun};
use madoguchi_tests::{free_port, Server, ServerOptions};

const DID: &str = "0462000000";

/// The city hall section's staff in these tests: members of the queue `mynumber`.
const STAFF: [(&str, &str); 12] = [
    ("1001", "zama1001"),
    ("1002", "zama1002"),
    ("1003", "zama1003"),
    ("1004", "zama1004"),
    ("1005", "zama1005"),
    ("1006", "zama1006"),
    ("1007", "zama1007"),
    ("1008", "zama1008"),
    ("1009", "zama1009"),
    ("1010", "zama1010"),
    ("1011", "zama1011"),
    ("1012", "zama1012"),
];

const WED_10: &str = "2027-01-06T10:00:00+09:00";
const WED_0845: &str = "2027-01-06T08:45:00+09:00";
const WED_1715: &str = "2027-01-06T17:15:00+09:00";
const WED_1730: &str = "2027-01-06T17:30:00+09:00";
const MON_0830: &str = "2027-01-04T08:30:00+09:00";
const SAT_10: &str = "2027-01-09T10:00:00+09:00";
const HOLIDAY_10: &str = "2027-02-11T10:00:00+09:00";
const YEAR_END_10: &str = "2026-12-31T10:00:00+09:00";
const NIGHT: &str = "2027-01-06T20:00:00+09:00";

/// Where a row must end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    CityHall,
    CallCenter,
    /// The server hangs up after this node.
    Hangup(&'static str),
}

/// A demo deployment on one clock: server, the staff device, call-center UA.
struct Zama {
    server: Server,
    api: Api,
    dir: tempfile::TempDir,
    device: Option<Device>,
    device_log: PathBuf,
    callcenter: Option<SippRun>,
    callcenter_log: PathBuf,
}

/// A UAS sipp (answers every call at once) writing its messages to `log`.
fn uas(scenario: &str, server: std::net::SocketAddr, port: Option<u16>, log: &Path) -> Sipp {
    let mut s = Sipp::new(scenario, server)
        .option("-m", "1000")
        .option("-timeout", "600s")
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&log.display().to_string());
    if scenario == "device_answer.xml" {
        s = s.set("answer_ms", "0");
    }
    if let Some(p) = port {
        s = s.option("-p", &p.to_string());
    }
    s
}

impl Zama {
    /// `device`/`callcenter`: the sipp scenario each answers with (None: not there).
    fn start(clock: &str, device: Option<&str>, callcenter: Option<&str>) -> Zama {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let token = create_token(&data).unwrap();
        let (_, scenario) = zama_bundle();
        let cc_port = free_port();
        let callcenter_log = dir.path().join("callcenter.log");
        // City hall is the queue `mynumber`: enough staff that every caller of a test finds
        // one free (each takes one call at a time), no wrap-up, and a short maximum wait so
        // the failure routes are reached quickly.
        let members: Vec<String> = STAFF.iter().map(|(u, _)| format!("{u:?}")).collect();
        let config = dir.path().join("madoguchi.toml");
        std::fs::write(
            &config,
            format!(
                "[[queue]]\nname = \"mynumber\"\nmembers = [{}]\nfallback = \"scenario\"\nwrap_up_ms = 0\nmax_wait_ms = 12000\nring_timeout_ms = 8000\n",
                members.join(", ")
            ),
        )
        .unwrap();
        let server = Server::start(ServerOptions {
            data: Some(data),
            users: STAFF.to_vec(),
            extra_args: [
                ivr_server_args(Some(&config), &scenario),
                vec![
                    "--clock".into(),
                    clock.into(),
                    "--callcenter-uri".into(),
                    format!("sip:callcenter@127.0.0.1:{cc_port}"),
                ],
            ]
            .concat(),
            ..ServerOptions::default()
        })
        .unwrap();
        let callcenter = callcenter.map(|sc| {
            uas(sc, server.sip, Some(cc_port), &callcenter_log)
                .set("user", "callcenter")
                .spawn()
                .unwrap()
        });
        let device_log = dir.path().join("device.log");
        // One UAS answers for every staff member: each registers it as their device.
        let device = device.map(|sc| {
            let uas = uas(sc, server.sip, None, &device_log);
            let port = uas.port();
            let device = Device::start(server.sip, STAFF[0].0, STAFF[0].1, uas).unwrap();
            for (user, pass) in &STAFF[1..] {
                Sipp::new("register.xml", server.sip)
                    .user(user, pass)
                    .set("contact_port", &port.to_string())
                    .run()
                    .unwrap();
            }
            device
        });
        let api = Api::new(server.http, &token);
        Zama {
            server,
            api,
            dir,
            device,
            device_log,
            callcenter,
            callcenter_log,
        }
    }
}

impl Drop for Zama {
    fn drop(&mut self) {
        drop(self.device.take());
        drop(self.callcenter.take());
    }
}

/// Prompt lengths (ms) of the menus, from the WAVs: when to press the next key.
fn prompt_ms(id: &str) -> u64 {
    let (_, scenario) = zama_bundle();
    let wav = scenario.parent().unwrap().join(format!("prompts/{id}.wav"));
    let bytes = std::fs::metadata(&wav).unwrap().len();
    (bytes.saturating_sub(44)) * 1000 / 16000
}

/// Key times for a row of the table: `keys` as in the README (`-` = no input). The first
/// key comes 2.5 s into the main menu prompt (after notice and greeting); a key is pressed
/// 3 s into the menu it answers (barge-in); after `-` the next key waits for the
/// re-prompt (prompt + 5 s timeout + the timeout prompt). A key sent before the menu
/// collects is dropped, so each lands a second or more later than needed, for a server
/// running behind. Returns the presses and how long the caller then waits for the call
/// to settle.
fn plan(keys: &str) -> (Vec<(u64, char)>, u64) {
    let menu_ms = |m: &str| prompt_ms(m);
    let mut menu = "menu-main";
    let mut presses = Vec::new();
    let mut wait = prompt_ms("notice") + prompt_ms("greeting") + 2500;
    let mut trailing = 0;
    for k in keys.split_whitespace() {
        if k == "-" {
            // This window passes without a key; the re-prompt follows.
            wait += menu_ms(menu) + 5000 + prompt_ms("menu-timeout");
            trailing = menu_ms(menu) + 5000;
            continue;
        }
        let c = k.chars().next().unwrap();
        presses.push((wait, c));
        trailing = 0;
        wait = 3000;
        menu = match (menu, c) {
            ("menu-main", '1') => "menu-apply",
            ("menu-main", '9') => "menu-main",
            ("menu-apply", '3') => "menu-proxy",
            (m, _) => m,
        };
    }
    // After the last key: announcements and the transfer (or the hang-up) take this long at
    // most; a caller whose call was transferred hangs up then.
    let settle = if presses.is_empty() { wait } else { 0 } + trailing + 45_000;
    (presses, settle)
}

/// Runs the rows of one clock setting concurrently and checks each.
fn run_rows(zama: &Zama, rows: &[(&str, &str, End)]) {
    let mut runs = Vec::new();
    for (n, (name, keys, end)) in rows.iter().enumerate() {
        let (presses, settle) = plan(keys);
        let number = format!("09000{:05}", n + 1);
        let caller = IvrCaller::new(name, &number, &presses, settle);
        let run = caller.spawn(zama.server.sip, DID, zama.dir.path()).unwrap();
        runs.push((name, keys, end, number, run));
    }
    let mut failures = Vec::new();
    for (name, keys, end, number, run) in runs {
        if let Err(e) = run.wait() {
            let errors =
                std::fs::read_to_string(zama.dir.path().join(format!("{name}-errors.log")))
                    .unwrap_or_default();
            failures.push(format!(
                "{name} ({keys}): caller failed: {e:#}\nsipp errors:\n{errors}"
            ));
            continue;
        }
        if let Err(e) = check_row(zama, name, *end, &number) {
            failures.push(format!("{name} ({keys}): {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}\n--- server log (tail) ---\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n"),
        tail(&zama.server.log_text(), 60)
    );
}

fn check_row(zama: &Zama, name: &str, end: End, number: &str) -> Result<(), String> {
    let record = zama.api.call(&call_id(name)).map_err(|e| e.to_string())?;
    let outcome = record["outcome"].as_str().unwrap_or_default();
    let heard = prompts_heard(&record);
    if heard.first().map(String::as_str) != Some("notice")
        || heard.get(1).map(String::as_str) != Some("greeting")
    {
        return Err(format!(
            "the call did not start with notice, greeting: {heard:?}"
        ));
    }
    let nodes: Vec<&str> = record["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "node")
        .filter_map(|e| e["node"].as_str())
        .collect();
    let invited = |log: &Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("From:") && l.contains(&format!("sip:{number}@")))
    };
    match end {
        End::CityHall | End::CallCenter => {
            let (want, log) = match end {
                End::CityHall => ("transferred:queue:mynumber", &zama.device_log),
                _ => ("transferred:external:callcenter", &zama.callcenter_log),
            };
            if outcome != want {
                return Err(format!(
                    "outcome {outcome}, want {want}; nodes {nodes:?}; heard {heard:?}"
                ));
            }
            let announce = match end {
                End::CityHall => "transfer-cityhall",
                _ => "transfer-callcenter",
            };
            if heard.last().map(String::as_str) != Some(announce) {
                return Err(format!(
                    "the last prompt before the transfer was not {announce}: {heard:?}"
                ));
            }
            if !invited(log) {
                return Err(format!("{} got no INVITE from {number}", log.display()));
            }
            let file = record["recording"].as_str().unwrap_or_default();
            let path = zama.server.data.join("recordings").join(file);
            if file.is_empty() || !wait_for(&path) {
                return Err(format!("no recording {file:?} for a transferred call"));
            }
        }
        End::Hangup(node) => {
            if outcome != "hangup" {
                return Err(format!(
                    "outcome {outcome}, want hangup at {node}; nodes {nodes:?}; heard {heard:?}"
                ));
            }
            if nodes.last() != Some(&node) {
                return Err(format!(
                    "ended at {:?}, want {node}; nodes {nodes:?}",
                    nodes.last()
                ));
            }
            // The caller heard that node's whole announcement, last.
            let words = node_prompts(node);
            if !heard.ends_with(&words) {
                return Err(format!(
                    "{node} announces {words:?}, the caller heard {heard:?}"
                ));
            }
            let closed = ["-closed", "-holiday", "-year-end"]
                .iter()
                .any(|s| node.ends_with(s));
            if closed && (invited(&zama.device_log) || invited(&zama.callcenter_log)) {
                return Err("a closed destination was called".into());
            }
        }
    }
    Ok(())
}

/// The prompts an announce node of the demo scenario plays (its `prompts` config).
fn node_prompts(node: &str) -> Vec<String> {
    let (_, scenario) = zama_bundle();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(scenario).unwrap()).unwrap();
    match &doc["nodes"][node]["config"]["prompts"] {
        serde_json::Value::String(p) => vec![p.clone()],
        serde_json::Value::Array(ps) => ps
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect(),
        other => panic!("{node} has no prompt list: {other}"),
    }
}

/// Waits (at most 30 s: finishing means an fsync, slow on a busy disk) for a finished
/// recording to appear.
fn wait_for(path: &Path) -> bool {
    for _ in 0..300 {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 44) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn both_answer(clock: &str) -> Zama {
    Zama::start(clock, Some("device_answer.xml"), Some("device_answer.xml"))
}

use End::{CallCenter, CityHall, Hangup};

#[test]
fn weekday_daytime_every_key_at_every_level() {
    let zama = both_answer(WED_10);
    run_rows(
        &zama,
        &[
            ("wd-1-1", "1 1", CallCenter),
            ("wd-1-2", "1 2", CityHall),
            ("wd-1-3-1", "1 3 1", CityHall),
            ("wd-1-3-2", "1 3 2", CityHall),
            ("wd-1-3-3", "1 3 3", CallCenter),
            ("wd-2", "2", CityHall),
            ("wd-3", "3", CityHall),
            ("wd-4", "4", CityHall),
            ("wd-9-2", "9 2", CityHall),
            ("wd-5-2", "5 2", CityHall),
            ("wd-x-3", "- 3", CityHall),
            ("wd-7-8", "7 8", CallCenter),
            ("wd-x-x", "- -", CallCenter),
            ("wd-1-0-0", "1 0 0", CallCenter),
            ("wd-1-3-x-x", "1 3 - -", CallCenter),
        ],
    );
}

#[test]
fn early_morning_late_afternoon_and_night() {
    let morning = both_answer(WED_0845);
    let closing = both_answer(WED_1715);
    let evening = both_answer(WED_1730);
    let night = both_answer(NIGHT);
    std::thread::scope(|s| {
        s.spawn(|| {
            run_rows(
                &morning,
                &[
                    ("am-2", "2", CityHall),
                    ("am-1-1", "1 1", Hangup("callcenter-closed")),
                    ("am-7-8", "7 8", Hangup("callcenter-closed")),
                ],
            )
        });
        s.spawn(|| run_rows(&closing, &[("close-2", "2", Hangup("cityhall-closed"))]));
        s.spawn(|| {
            run_rows(
                &evening,
                &[
                    ("pm-2", "2", Hangup("cityhall-closed")),
                    ("pm-1-3-1", "1 3 1", Hangup("cityhall-closed")),
                    ("pm-1-1", "1 1", CallCenter),
                    ("pm-4", "4", Hangup("lost-closed")),
                ],
            )
        });
        s.spawn(|| {
            run_rows(
                &night,
                &[
                    ("night-x-x", "- -", Hangup("callcenter-closed")),
                    ("night-4", "4", Hangup("lost-closed")),
                ],
            )
        });
    });
}

#[test]
fn weekend_holiday_year_end_and_the_first_morning_after() {
    let saturday = both_answer(SAT_10);
    let holiday = both_answer(HOLIDAY_10);
    let year_end = both_answer(YEAR_END_10);
    let monday = both_answer(MON_0830);
    std::thread::scope(|s| {
        s.spawn(|| {
            run_rows(
                &saturday,
                &[
                    ("sat-3", "3", Hangup("cityhall-closed")),
                    ("sat-1-3-3", "1 3 3", CallCenter),
                    ("sat-4", "4", Hangup("lost-closed")),
                ],
            )
        });
        s.spawn(|| {
            run_rows(
                &holiday,
                &[
                    ("hol-1-2", "1 2", Hangup("cityhall-holiday")),
                    ("hol-4", "4", Hangup("lost-holiday")),
                    ("hol-1-1", "1 1", CallCenter),
                ],
            )
        });
        s.spawn(|| {
            run_rows(
                &year_end,
                &[
                    ("ye-2", "2", Hangup("cityhall-year-end")),
                    ("ye-4", "4", Hangup("lost-year-end")),
                    ("ye-1-1", "1 1", Hangup("callcenter-year-end")),
                ],
            )
        });
        s.spawn(|| run_rows(&monday, &[("mon-3", "3", CityHall)]));
    });
}

#[test]
fn busy_and_unreachable_destinations_take_their_failure_routes() {
    // Every staff device busy (486) and the call center busy: the queue keeps the caller
    // until its maximum wait, then the failure routes.
    let busy = Zama::start(WED_10, Some("device_busy.xml"), Some("device_busy.xml"));
    // No staff device registered: the queue cannot ring anyone; the same routes.
    let absent = Zama::start(WED_10, None, None);
    std::thread::scope(|s| {
        s.spawn(|| {
            run_rows(
                &busy,
                &[
                    ("busy-2", "2", Hangup("busy")),
                    ("busy-1-1", "1 1", Hangup("busy")),
                    ("busy-4", "4", Hangup("lost-unavailable")),
                ],
            )
        });
        s.spawn(|| {
            run_rows(
                &absent,
                &[
                    ("absent-2", "2", Hangup("busy")),
                    ("absent-4", "4", Hangup("lost-unavailable")),
                ],
            )
        });
    });
}
