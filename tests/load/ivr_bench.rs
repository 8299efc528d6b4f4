//! IVR load benchmark (a program, not a test): sipp callers at stepped rates through the
//! `bench` scenario (`tests/scenarios/bench/`: answer → 0.3 s recording notice → 0.3 s menu →
//! key 1 → transfer to staff user 1001, a sipp UAS answering at once → connected → the caller
//! hangs up), then how quickly a published version takes over under a steady load. Prints
//! figures; asserts nothing about time.
//!
//! ```sh
//! tests/load/run-ivr-bench                       # release build; rates 10 25 50 100, 10 s each
//! tests/load/run-ivr-bench 5 10 --seconds 5 --swaps 3 --swap-rate 5
//! ```
//!
//! Per rate: calls attempted, succeeded and failed (sipp's statistics), setups per second
//! achieved, p50/p95 of INVITE sent by the caller → transfer INVITE received by the device
//! (from both sipp message logs; the caller's scripted 0.3 s notice, menu and key at
//! `KEY_AT_MS` are inside it, so "key → device" subtracts the key's time after the ACK),
//! p50/p95 of INVITE → 200 OK, and the server's CPU and RSS.
//!
//! Then `--swaps` times: publish version 2 (then roll back to 1) while callers arrive at
//! `--swap-rate`/s, and time (a) the publish API call, (b) from its response to the first
//! call record written on the new version (records are written when the IVR part of a call
//! ends, about a second after it starts) and (c) from its response to the start of the first
//! call that ran the new version (negative: the call started while the API call was still
//! answering). Every run is bounded (sipp `-m` and `-timeout`, polls with deadlines).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use madoguchi_tests::ivr::{caller_pcap, create_token, ivr_server_args, Api};
use madoguchi_tests::load::{cpu_seconds, num_cpus, percentile, read_trace, rss_mib, sipp_counts};
use madoguchi_tests::sipp::{Device, Sipp, SippRun};
use madoguchi_tests::{free_port, repo_root, Server, ServerOptions};
use serde_json::{json, Value};

const DID: &str = "0462999999";
/// The key (1) goes in after the notice and the menu prompt; the caller hangs up 1 s after
/// the transfer is connected.
const KEY_AT_MS: u64 = 800;
const HANG_UP_AT_MS: u64 = 2_500;

struct Args {
    rates: Vec<u32>,
    seconds: u32,
    swaps: u32,
    swap_rate: u32,
}

fn parse_args() -> Args {
    let mut args = Args {
        rates: Vec::new(),
        seconds: 10,
        swaps: 5,
        swap_rate: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |d: u32| it.next().and_then(|s| s.parse().ok()).unwrap_or(d);
        match a.as_str() {
            "--seconds" => args.seconds = num(10),
            "--swaps" => args.swaps = num(5),
            "--swap-rate" => args.swap_rate = num(10),
            n => match n.parse() {
                Ok(r) => args.rates.push(r),
                Err(_) => eprintln!("ignored argument {n:?}"),
            },
        }
    }
    if args.rates.is_empty() {
        args.rates = vec![10, 25, 50, 100];
    }
    args.rates.retain(|r| (1..=1000).contains(r));
    args.seconds = args.seconds.clamp(1, 120);
    args.swaps = args.swaps.min(20);
    args.swap_rate = args.swap_rate.clamp(1, 200);
    args
}

fn bench_dir() -> PathBuf {
    repo_root().join("tests/scenarios/bench")
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One message of a sipp message log (`-trace_msg`).
struct Logged {
    /// Unix time in ms (sipp prints local time; both logs come from this machine, so only
    /// differences matter).
    at_ms: f64,
    sent: bool,
    /// First word of the start line: `INVITE`, `ACK`, `SIP/2.0`, …
    method: String,
    /// The From URI's user part.
    from_user: String,
    /// For responses: the status code.
    status: u16,
}

fn read_log(path: &Path) -> Vec<Logged> {
    read_trace(path)
        .into_iter()
        .map(|m| Logged {
            at_ms: m.at_ms,
            sent: m.sent,
            method: m.word(0).to_string(),
            status: m.word(1).parse().unwrap_or(0),
            from_user: m
                .header("From", "f")
                .and_then(|v| v.split("sip:").nth(1))
                .and_then(|u| u.split('@').next())
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

/// The first time per From user of the messages `keep` selects.
fn first_by_user(log: &[Logged], keep: impl Fn(&Logged) -> bool) -> HashMap<&str, f64> {
    let mut out: HashMap<&str, f64> = HashMap::new();
    for m in log.iter().filter(|m| keep(m)) {
        out.entry(m.from_user.as_str()).or_insert(m.at_ms);
    }
    out
}

fn p50_p95(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.total_cmp(b));
    match (percentile(&v, 50.0), percentile(&v, 95.0)) {
        (Some(a), Some(b)) => format!("{a:>6.0}/{b:<6.0}"),
        _ => format!("{:>13}", "-"),
    }
}

/// The running deployment: server with `bench` v1 live, v2 stored, device 1001 and the call
/// center answering.
struct Bench {
    server: Server,
    api: Api,
    dir: tempfile::TempDir,
    device_log: PathBuf,
    _device: Device,
    _callcenter: SippRun,
}

fn uas(server: SocketAddr, port: Option<u16>) -> Sipp {
    let mut s = Sipp::new("device_answer.xml", server)
        .set("answer_ms", "0")
        .option("-m", "100000000")
        .option("-timeout", "3600s")
        .option("-l", "100000");
    if let Some(p) = port {
        s = s.option("-p", &p.to_string());
    }
    s
}

impl Bench {
    fn start() -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let token = create_token(&data).expect("admin token");
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
        .expect("start the server (build target/plugins with scripts/build-plugins)");
        let callcenter = uas(server.sip, Some(cc_port))
            .set("user", "callcenter")
            .spawn()
            .expect("call center UAS");
        let device_log = dir.path().join("device.log");
        let device = Device::start(
            server.sip,
            "1001",
            "zama1001",
            uas(server.sip, None)
                .arg("-trace_msg")
                .arg("-message_file")
                .arg(&device_log.display().to_string()),
        )
        .expect("register device 1001");
        let api = Api::new(server.http, &token);
        let bench = Bench {
            server,
            api,
            dir,
            device_log,
            _device: device,
            _callcenter: callcenter,
        };
        bench.store_v2();
        bench
    }

    /// Uploads version 2 and its new prompt without publishing it.
    fn store_v2(&self) {
        let doc: Value = serde_json::from_slice(
            &std::fs::read(bench_dir().join("scenario-v2.json")).expect("scenario-v2.json"),
        )
        .expect("scenario-v2.json is JSON");
        let wav = std::fs::read(bench_dir().join("prompts/menu-v2.wav")).expect("menu-v2.wav");
        let (status, body) = self
            .api
            .send_bytes("POST", "/prompts/menu-v2?text=v2", "audio/wav", &wav)
            .expect("upload menu-v2");
        assert_eq!(status, 201, "prompt upload: {body}");
        let (status, body) = self
            .api
            .send("POST", "/scenarios?why=ivr-bench", &doc)
            .expect("upload v2");
        assert_eq!(status, 201, "v2 upload: {body}");
        assert_eq!(body["version"], 2, "v2 upload: {body}");
    }

    /// sipp callers pressing 1: `rate`/s, `calls` in all, From users `{number}{call}`.
    fn callers(&self, tag: &str, number: &str, rate: u32, calls: u32, limit_s: u32) -> Sipp {
        let pcap = self.dir.path().join(format!("{tag}.pcap"));
        let stream = caller_pcap(&[(KEY_AT_MS, '1')], HANG_UP_AT_MS).expect("caller pcap");
        std::fs::write(&pcap, stream).expect("write pcap");
        let template =
            std::fs::read_to_string(bench_dir().join("caller.xml")).expect("caller.xml template");
        let xml = self.dir.path().join(format!("{tag}.xml"));
        std::fs::write(
            &xml,
            template
                .replace("@PCAP@", &pcap.display().to_string())
                .replace("@HOLD@", &HANG_UP_AT_MS.to_string())
                .replace("@NUMBER@", number),
        )
        .expect("write caller.xml");
        Sipp::from_path(&xml, self.server.sip)
            .service(DID)
            .option("-r", &rate.to_string())
            .option("-m", &calls.to_string())
            .option("-l", &(rate * 10).max(50).to_string())
            .option("-timeout", &format!("{limit_s}s"))
            .arg("-cid_str")
            .arg(&format!("{tag}-%u"))
    }

    /// One rate step; prints its row.
    fn step(&self, index: usize, rate: u32, seconds: u32) {
        let tag = format!("step{index}");
        let number = format!("09{:02}", index + 1);
        let total = rate * seconds;
        let csv = self.dir.path().join(format!("{tag}.csv"));
        let caller_log = self.dir.path().join(format!("{tag}.log"));
        let sipp = self
            .callers(&tag, &number, rate, total, seconds * 3 + 30)
            .arg("-trace_stat")
            .arg("-stf")
            .arg(&csv.display().to_string())
            .arg("-fd")
            .arg("1")
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&caller_log.display().to_string());
        let pid = self.server.pid();
        let cpu0 = cpu_seconds(pid);
        let t0 = Instant::now();
        let mut run = sipp.spawn().expect("spawn sipp");
        let mut peak_rss: f64 = 0.0;
        let result = loop {
            if let Some(r) = run.try_finish() {
                break r;
            }
            peak_rss = peak_rss.max(rss_mib(pid));
            std::thread::sleep(Duration::from_millis(200));
        };
        let wall = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu0;
        let (ok, failed) = sipp_counts(&csv);

        let caller = read_log(&caller_log);
        let device = read_log(&self.device_log);
        let invite = first_by_user(&caller, |m| m.sent && m.method == "INVITE");
        let answered = first_by_user(&caller, |m| !m.sent && m.status == 200);
        let ack = first_by_user(&caller, |m| m.sent && m.method == "ACK");
        let at_device = first_by_user(&device, |m| {
            !m.sent && m.method == "INVITE" && m.from_user.starts_with(number.as_str())
        });
        let mut to_device = Vec::new();
        let mut key_to_device = Vec::new();
        let mut to_answer = Vec::new();
        for (user, sent) in &invite {
            if let Some(a) = answered.get(user) {
                to_answer.push(a - sent);
            }
            if let Some(d) = at_device.get(user) {
                to_device.push(d - sent);
                if let Some(k) = ack.get(user) {
                    key_to_device.push(d - (k + KEY_AT_MS as f64));
                }
            }
        }
        // Achieved rate: INVITEs sent per second over the step's sending span.
        let mut sends: Vec<f64> = invite.values().copied().collect();
        sends.sort_by(|a, b| a.total_cmp(b));
        let achieved = match (sends.first(), sends.last()) {
            (Some(a), Some(b)) if b > a => (sends.len() - 1) as f64 * 1000.0 / (b - a),
            _ => 0.0,
        };
        println!(
            "{rate:>6} {total:>9} {ok:>9} {failed:>6} {achieved:>9.1} {} {} {} {:>6.1} {:>8.1}{}",
            p50_p95(to_answer),
            p50_p95(to_device),
            p50_p95(key_to_device),
            100.0 * cpu / wall,
            peak_rss,
            match &result {
                Err(_) if failed == 0 && ok < total as u64 => "  (sipp stopped early)",
                _ => "",
            }
        );
    }

    /// The newest call records (newest first).
    fn recent_calls(&self) -> Vec<Value> {
        match self.api.get("/calls?limit=200") {
            Ok((200, body)) => body["calls"].as_array().cloned().unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Every call record whose Call-ID starts with `prefix` (pages through `/calls`, bounded).
    fn records(&self, prefix: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut before: Option<String> = None;
        for _ in 0..200 {
            let path = match &before {
                Some(k) => format!("/calls?limit=1000&before={k}"),
                None => "/calls?limit=1000".to_string(),
            };
            let Ok((200, body)) = self.api.get(&path) else {
                break;
            };
            for r in body["calls"].as_array().into_iter().flatten() {
                if r["call_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with(prefix))
                {
                    out.push(r.clone());
                }
            }
            match body["next"].as_str() {
                Some(k) => before = Some(k.to_string()),
                None => break,
            }
        }
        out
    }

    /// Makes `version` live (publish 2 / roll back to 1) and measures how it takes over.
    /// Returns the change (`before`, `after` Unix ms around the API call) and the takeover
    /// ms (response → first record on it, response → first call start on it).
    fn swap(&self, version: u32, n: u32) -> Option<(Change, f64, f64)> {
        let (path, why) = if version == 2 {
            ("/scenarios/bench/publish", format!("ivr-bench swap {n}"))
        } else {
            ("/scenarios/bench/rollback", format!("ivr-bench back {n}"))
        };
        let before = unix_ms();
        let (status, body) = self
            .api
            .send("POST", path, &json!({"version": version, "why": why}))
            .ok()?;
        let after = unix_ms();
        if status != 200 {
            eprintln!("{path} → {status} {body}");
            return None;
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let calls = self.recent_calls();
            let on_new = calls.iter().filter(|r| {
                r["scenario_version"] == version
                    && r["started_unix_ms"].as_i64().unwrap_or(0) >= before
            });
            if let Some(first_start) = on_new.filter_map(|r| r["started_unix_ms"].as_i64()).min() {
                let seen = unix_ms();
                let change = Change {
                    before,
                    after,
                    version,
                };
                return Some((change, (seen - after) as f64, (first_start - after) as f64));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("no call on version {version} within 15 s of the change");
        None
    }
}

/// One publish or rollback: the Unix ms around its API call and the version made live.
#[derive(Debug, Clone, Copy)]
struct Change {
    before: i64,
    after: i64,
    version: u32,
}

/// Counts, over the steady load's call records: (recorded, not transferred, started during
/// an API call, started after a change's response but on the previous version).
fn takeover_counts(records: &[Value], changes: &[Change]) -> (usize, usize, usize, usize) {
    let (mut failed, mut during, mut stale) = (0, 0, 0);
    for r in records {
        if !r["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("transferred:"))
        {
            failed += 1;
        }
        let started = r["started_unix_ms"].as_i64().unwrap_or(0);
        if changes
            .iter()
            .any(|c| (c.before..=c.after).contains(&started))
        {
            during += 1;
            continue;
        }
        let live = changes
            .iter()
            .rev()
            .find(|c| c.after < started)
            .map_or(1, |c| c.version);
        if r["scenario_version"] != live {
            stale += 1;
        }
    }
    (records.len(), failed, during, stale)
}

fn min_median_max(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.total_cmp(b));
    match (v.first(), percentile(&v, 50.0), v.last()) {
        (Some(a), Some(m), Some(b)) => format!("{a:>7.0} {m:>7.0} {b:>7.0}"),
        _ => "no samples".into(),
    }
}

fn main() {
    let args = parse_args();
    println!(
        "madoguchi IVR benchmark: {} cores, scenario bench (notice 0.3 s, menu 0.3 s, key 1 at {KEY_AT_MS} ms, caller hangs up at {HANG_UP_AT_MS} ms), rates {:?}/s, {} s per step",
        num_cpus(),
        args.rates,
        args.seconds
    );
    let bench = Bench::start();
    println!(
        "\n{:>6} {:>9} {:>9} {:>6} {:>9} {:>13} {:>13} {:>13} {:>6} {:>8}",
        "rate/s",
        "attempted",
        "succeeded",
        "failed",
        "setups/s",
        "answer p50/95",
        "→dev p50/95",
        "key→dev 50/95",
        "CPU%",
        "RSS MiB"
    );
    for (i, &rate) in args.rates.iter().enumerate() {
        bench.step(i, rate, args.seconds);
        std::thread::sleep(Duration::from_secs(1));
    }
    println!(
        "setups/s = INVITEs sent per second over the step; latencies in ms: answer = INVITE → 200 at the caller; →dev = caller's INVITE → transfer INVITE at device 1001 (includes the scripted notice, menu and key); key→dev = key pressed (ACK + {KEY_AT_MS} ms) → transfer INVITE at the device (includes the key's 140 ms RFC 4733 event and the 0.2 s \"connecting\" announcement); CPU% of one core over the step, peak RSS while it ran"
    );

    if args.swaps == 0 {
        return;
    }
    // A steady load long enough for every change, one change every 3 s from 2 s in.
    let gap = Duration::from_secs(3);
    let span = 2 + args.swaps * 2 * 3 + 4;
    let steady = bench
        .callers(
            "swap",
            "0999",
            args.swap_rate,
            args.swap_rate * span,
            span + 60,
        )
        .spawn()
        .expect("spawn the steady load");
    let t0 = Instant::now();
    let mut publish = (Vec::new(), Vec::new(), Vec::new());
    let mut rollback = (Vec::new(), Vec::new(), Vec::new());
    let mut changes = Vec::new();
    let mut at = Duration::from_secs(2);
    for n in 1..=args.swaps {
        for (version, into) in [(2, &mut publish), (1, &mut rollback)] {
            // Up to 1 s of jitter, so the change does not fall at the same phase of the
            // callers' arrivals every time.
            let jitter = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() % 1_000_000_000 / 1_000_000);
            std::thread::sleep(
                (at + Duration::from_millis(jitter.into())).saturating_sub(t0.elapsed()),
            );
            at += gap;
            if let Some((change, seen, start)) = bench.swap(version, n) {
                into.0.push((change.after - change.before) as f64);
                into.1.push(seen);
                into.2.push(start);
                changes.push(change);
            }
        }
    }
    let load = steady.wait();
    let (recorded, failed, during, stale) = takeover_counts(&bench.records("swap-"), &changes);
    println!(
        "\nswap under a steady {}/s load, {} repetitions (ms; min median max){}",
        args.swap_rate,
        args.swaps,
        if load.is_err() {
            "  (sipp reported failed calls)"
        } else {
            ""
        }
    );
    for (label, (api, seen, start)) in [("publish v2", publish), ("rollback to v1", rollback)] {
        println!("  {label:<15} API call             {}", min_median_max(api));
        println!(
            "  {label:<15} → first record on it {}",
            min_median_max(seen)
        );
        println!(
            "  {label:<15} → first call start   {}",
            min_median_max(start)
        );
    }
    println!(
        "  steady-load calls: {recorded} recorded, {failed} not transferred, {during} started during an API call, {stale} started after a change's response on the previous version"
    );
    println!(
        "  (→ first record: records are written when a call's IVR part ends, ~1.1 s after it starts; → first call start: at {}/s a call arrives every {} ms)",
        args.swap_rate,
        1000 / args.swap_rate
    );
}
