//! Call-queue benchmark (a program, not a test; issue #6): one queue of `--members` staff
//! (users 1001…, all registered to ONE sipp UAS that answers at once, talks `--talk-ms` and
//! then hangs up), `wrap_up_ms = 0`, no maximum wait in practice, announcements every
//! `--announce-ms`. `--callers` callers (one sipp process, `-r`/`-m`) arrive at `--rate`/s,
//! go straight into the queue and wait with hold music and announcements, sending RTP the
//! whole time. Members therefore take calls at a steady `members / talk time` per second.
//! Prints figures; asserts nothing about time.
//!
//! ```sh
//! tests/load/run-queue-bench                      # 500 callers, 20 members, 50/s, 4 s talk
//! tests/load/run-queue-bench --callers 200 --members 20 --rate 50 --talk-ms 4000
//! ```
//!
//! Figures: peak waiting callers (`GET /queues` every 500 ms), the server's CPU% (per 500 ms
//! poll: peak, at the peak of waiting, and over the run) and RSS (peak and at the peak of
//! waiting), the time from a member becoming free (its device sends BYE) to the next
//! caller's INVITE reaching that member's device (from the device's sipp message log,
//! p50/p95/max), and the queue's period statistics at the end. The member's BYE is the
//! start of the measured gap, so the gap includes the BYE's trip to the server. Every run
//! is bounded: sipp `-m` and `-timeout`, a deadline on the polling loop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use madoguchi_tests::audio::tone_wav;
use madoguchi_tests::ivr::{caller_pcap, create_token, Api};
use madoguchi_tests::load::{cpu_seconds, num_cpus, percentile, read_trace, rss_mib, sipp_counts};
use madoguchi_tests::sipp::{Sipp, SippRun};
use madoguchi_tests::{add_user, repo_root, Server, ServerOptions};
use serde_json::{json, Value};

const DID: &str = "0462777777";
const QUEUE: &str = "bench";
/// Registrations ask for 300 s; the bench refreshes them well before they lapse.
const REREGISTER_EVERY: Duration = Duration::from_secs(200);
/// The queue's service-level target (answered within this wait).
const SERVICE_LEVEL_MS: u64 = 20_000;
const POLL: Duration = Duration::from_millis(500);

struct Args {
    callers: u32,
    members: u32,
    rate: u32,
    talk_ms: u64,
    announce_ms: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        callers: 500,
        members: 20,
        rate: 50,
        talk_ms: 4_000,
        announce_ms: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |d: u64| it.next().and_then(|s| s.parse().ok()).unwrap_or(d);
        match a.as_str() {
            "--callers" => args.callers = num(500) as u32,
            "--members" => args.members = num(20) as u32,
            "--rate" => args.rate = num(50) as u32,
            "--talk-ms" => args.talk_ms = num(4_000),
            "--announce-ms" => args.announce_ms = num(10_000),
            other => eprintln!("ignored argument {other:?}"),
        }
    }
    args.callers = args.callers.clamp(1, 5_000);
    args.members = args.members.clamp(1, 200);
    args.rate = args.rate.clamp(1, 500);
    args.talk_ms = args.talk_ms.clamp(200, 120_000);
    args.announce_ms = args.announce_ms.clamp(1_000, 600_000);
    args
}

/// The scenario (as the Zama hotline: recording notice, then straight into the queue; the
/// queue's fallback is an announcement).
fn write_scenario(dir: &Path) -> PathBuf {
    let prompts = dir.join("prompts");
    std::fs::create_dir_all(&prompts).expect("prompts dir");
    std::fs::write(prompts.join("notice.wav"), tone_wav(440.0, 400)).expect("notice.wav");
    std::fs::write(prompts.join("full.wav"), tone_wav(660.0, 400)).expect("full.wav");
    let doc = json!({
        "schema": "madoguchi.scenario/v1",
        "name": "queue-bench",
        "dids": [DID],
        "start": "section",
        "recording_policy": {"plugin": "record-all@0.1.0", "config": {"notice": "notice"}},
        "prompts": {
            "notice": {"text": "(録音のお知らせ)", "file": "prompts/notice.wav"},
            "full": {"text": "(ただいま混み合っております)", "file": "prompts/full.wav"},
        },
        "nodes": {
            "section": {"plugin": "transfer@0.1.0",
                        "config": {"target": {"queue": QUEUE}, "busy": "full", "no_answer": "full", "failed": "full"},
                        "exits": ["full"]},
            "full": {"plugin": "announce@0.1.0", "config": {"prompts": "full"}},
        },
    });
    let path = dir.join("scenario.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).expect("json")).expect("scenario");
    path
}

/// The member devices' UAS: answers at once, talks `@TALK@` ms, then hangs up (From/To of
/// its BYE are the INVITE's To/From, captured on arrival). One process serves every
/// member: each registers this UAS's port, and the request-URI names the member.
const MEMBER_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="queue member: answer, talk, hang up">
  <recv request="INVITE" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/>
    </action>
  </recv>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:member@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=member 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16

    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <pause milliseconds="@TALK@"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: [$me];tag=[pid]SIPpTag[call_number]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"#;

/// One message of the member UAS's message log (`-trace_msg`).
struct Logged {
    at_ms: f64,
    sent: bool,
    /// First word of the start line (`INVITE`, `BYE`, `SIP/2.0`, …).
    method: String,
    /// For requests: the request-URI's user part (the member, on INVITEs).
    uri_user: String,
    call_id: String,
}

fn read_log(path: &Path) -> Vec<Logged> {
    read_trace(path)
        .into_iter()
        .map(|m| Logged {
            at_ms: m.at_ms,
            sent: m.sent,
            method: m.word(0).to_string(),
            uri_user: m
                .word(1)
                .strip_prefix("sip:")
                .and_then(|u| u.split('@').next())
                .unwrap_or_default()
                .to_string(),
            call_id: m.header("Call-ID", "i").unwrap_or_default().to_string(),
        })
        .collect()
}

/// Per member, the gaps (ms) from its device's BYE ending a call to the next INVITE that
/// reached it; also the calls each member took.
fn free_to_offer(log: &[Logged]) -> (Vec<f64>, HashMap<String, usize>) {
    let mut member_of: HashMap<&str, &str> = HashMap::new();
    // (member, at, is_invite), first occurrence per Call-ID (retransmissions ignored).
    let mut events: Vec<(&str, f64, bool)> = Vec::new();
    let mut seen_bye: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for m in log {
        if !m.sent && m.method == "INVITE" && !member_of.contains_key(m.call_id.as_str()) {
            member_of.insert(&m.call_id, &m.uri_user);
            events.push((&m.uri_user, m.at_ms, true));
        } else if m.sent && m.method == "BYE" && seen_bye.insert(&m.call_id) {
            if let Some(member) = member_of.get(m.call_id.as_str()) {
                events.push((member, m.at_ms, false));
            }
        }
    }
    events.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut last_bye: HashMap<&str, f64> = HashMap::new();
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut gaps = Vec::new();
    for (member, at, invite) in events {
        if invite {
            *taken.entry(member.to_string()).or_default() += 1;
            if let Some(bye) = last_bye.remove(member) {
                gaps.push(at - bye);
            }
        } else {
            last_bye.insert(member, at);
        }
    }
    (gaps, taken)
}

/// Registers `user` at the member UAS's port. Retried: sipp picks its media ports next to a
/// free one it was given, and those neighbours are sometimes taken.
fn registration(server: &Server, user: &str, port: u16) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        let r = Sipp::new("register.xml", server.sip)
            .user(user, &password(user))
            .set("contact_port", &port.to_string())
            .run();
        tries += 1;
        if r.is_ok() || tries == 3 {
            return r;
        }
    }
}

fn password(user: &str) -> String {
    format!("qbench-{user}")
}

/// What the 500 ms polls saw.
#[derive(Default)]
struct Watch {
    peak_waiting: u64,
    peak_waiting_at_s: f64,
    cpu_at_peak_waiting: f64,
    rss_at_peak_waiting: f64,
    peak_cpu: f64,
    peak_rss: f64,
    polls_failed: u32,
}

fn main() {
    let a = parse_args();
    // Expected drain: every caller answered at members/talk per second after arriving.
    let rounds = a.callers.div_ceil(a.members) as u64;
    let arrival_ms = a.callers as u64 * 1000 / a.rate as u64;
    let expected_ms = rounds * a.talk_ms + arrival_ms;
    // The caller's patience (its BYE timeout, and its RTP stream's length): twice the
    // expected longest wait plus the talk, and 30 s.
    let hold_ms = 2 * expected_ms + a.talk_ms + 30_000;
    let limit = Duration::from_millis(hold_ms + arrival_ms + 60_000);
    println!(
        "madoguchi queue benchmark: {} cores; queue {QUEUE}: {} members (one sipp UAS, answer at once, talk {} ms, member hangs up), wrap-up 0, announcements every {} ms; {} callers at {}/s (one sipp, RTP all along, patience {} s); expected drain ≈ {:.0} s, bound {:.0} s",
        num_cpus(),
        a.members,
        a.talk_ms,
        a.announce_ms,
        a.callers,
        a.rate,
        hold_ms / 1000,
        expected_ms as f64 / 1000.0,
        limit.as_secs_f64()
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let token = create_token(&data).expect("admin token");
    let members: Vec<String> = (0..a.members).map(|i| format!("{}", 1001 + i)).collect();
    for m in &members {
        add_user(&data, m, &password(m)).expect("user add");
    }
    let member_list = members
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let config = dir.path().join("madoguchi.toml");
    std::fs::write(
        &config,
        format!(
            "[[queue]]\nname = \"{QUEUE}\"\nmembers = [{member_list}]\nfallback = \"scenario\"\n\
             wrap_up_ms = 0\nmax_wait_ms = {}\nannounce_every_ms = {}\nring_timeout_ms = 15000\n\
             service_level_ms = {SERVICE_LEVEL_MS}\n",
            hold_ms * 2,
            a.announce_ms
        ),
    )
    .expect("config");
    let scenario = write_scenario(dir.path());
    let server = Server::start(ServerOptions {
        data: Some(data),
        users: Vec::new(),
        extra_args: vec![
            "--config".into(),
            config.display().to_string(),
            "--plugins".into(),
            repo_root().join("target/plugins").display().to_string(),
            "--scenario".into(),
            scenario.display().to_string(),
        ],
        ..ServerOptions::default()
    })
    .expect("start the server (build target/plugins with scripts/build-plugins)");
    let api = Api::new(server.http, &token);
    let pid = server.pid();

    // The members' device: one UAS, every member registered to its port.
    let member_xml = dir.path().join("member.xml");
    std::fs::write(
        &member_xml,
        MEMBER_XML.replace("@TALK@", &a.talk_ms.to_string()),
    )
    .expect("member.xml");
    let device_log = dir.path().join("members.log");
    let uas = Sipp::from_path(&member_xml, server.sip)
        .option("-m", &a.callers.to_string())
        .option("-l", &(a.members * 4).max(100).to_string())
        .option("-timeout", &format!("{}s", limit.as_secs()))
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&device_log.display().to_string());
    let uas_port = uas.port();
    let _uas: SippRun = uas.spawn().expect("member UAS");
    for m in &members {
        registration(&server, m, uas_port).expect("register a member");
    }
    let mut registered_at = Instant::now();

    // The callers: one sipp at a rate, RTP (silence) for their whole patience.
    let pcap = dir.path().join("caller.pcap");
    std::fs::write(&pcap, caller_pcap(&[], hold_ms).expect("pcap")).expect("write pcap");
    let template = std::fs::read_to_string(repo_root().join("tests/scenarios/bench/caller.xml"))
        .expect("caller.xml template");
    let caller_xml = dir.path().join("caller.xml");
    std::fs::write(
        &caller_xml,
        template
            .replace("@PCAP@", &pcap.display().to_string())
            .replace("@HOLD@", &hold_ms.to_string())
            .replace("@NUMBER@", "0900"),
    )
    .expect("caller.xml");
    let csv = dir.path().join("callers.csv");
    let callers = Sipp::from_path(&caller_xml, server.sip)
        .service(DID)
        .option("-r", &a.rate.to_string())
        .option("-m", &a.callers.to_string())
        .option("-l", &a.callers.to_string())
        .option("-timeout", &format!("{}s", limit.as_secs()))
        .arg("-cid_str")
        .arg("qb-%u")
        .arg("-trace_stat")
        .arg("-stf")
        .arg(&csv.display().to_string())
        .arg("-fd")
        .arg("1");

    println!(
        "\n{:>6} {:>8} {:>8} {:>9} {:>6} {:>8}",
        "t s", "waiting", "on call", "answered", "CPU%", "RSS MiB"
    );
    let t0 = Instant::now();
    let cpu0 = cpu_seconds(pid);
    let mut run = callers.spawn().expect("spawn the callers");
    let mut w = Watch::default();
    let (mut last_cpu, mut last_at) = (cpu0, Instant::now());
    let mut next_print = Duration::ZERO;
    let result = loop {
        if let Some(r) = run.try_finish() {
            break Some(r);
        }
        if t0.elapsed() > limit + Duration::from_secs(30) {
            break None;
        }
        std::thread::sleep(POLL);
        let (cpu, now) = (cpu_seconds(pid), Instant::now());
        let cpu_pct = 100.0 * (cpu - last_cpu) / now.duration_since(last_at).as_secs_f64();
        (last_cpu, last_at) = (cpu, now);
        let rss = rss_mib(pid);
        w.peak_cpu = w.peak_cpu.max(cpu_pct);
        w.peak_rss = w.peak_rss.max(rss);
        let q = match api.get("/queues") {
            Ok((200, body)) => body["queues"][0].clone(),
            _ => {
                w.polls_failed += 1;
                Value::Null
            }
        };
        let waiting = q["live"]["waiting"].as_u64().unwrap_or(0);
        if waiting > w.peak_waiting {
            w.peak_waiting = waiting;
            w.peak_waiting_at_s = t0.elapsed().as_secs_f64();
            w.cpu_at_peak_waiting = cpu_pct;
            w.rss_at_peak_waiting = rss;
        }
        if t0.elapsed() >= next_print {
            next_print += Duration::from_secs(5);
            println!(
                "{:>6.1} {waiting:>8} {:>8} {:>9} {cpu_pct:>6.1} {rss:>8.1}",
                t0.elapsed().as_secs_f64(),
                q["live"]["counts"]["on_call"].as_u64().unwrap_or(0),
                q["period"]["answered"].as_u64().unwrap_or(0),
            );
        }
        if registered_at.elapsed() > REREGISTER_EVERY {
            for m in &members {
                if let Err(e) = registration(&server, m, uas_port) {
                    eprintln!("re-registering {m}: {e}");
                }
            }
            registered_at = Instant::now();
        }
    };
    let wall = t0.elapsed().as_secs_f64();
    let cpu_avg = 100.0 * (cpu_seconds(pid) - cpu0) / wall;
    // The last members' BYEs are in flight when the last caller finishes.
    std::thread::sleep(Duration::from_secs(1));
    let final_q = api
        .get("/queues")
        .map(|(_, b)| b["queues"][0].clone())
        .unwrap_or(Value::Null);
    let (ok, failed) = sipp_counts(&csv);

    println!(
        "\ncallers: {} offered by sipp, {ok} succeeded, {failed} failed{}; run {wall:.1} s",
        a.callers,
        match &result {
            None => " (the bench's deadline stopped the run)".to_string(),
            Some(Err(_)) => " (sipp reported failed calls)".to_string(),
            Some(Ok(())) => String::new(),
        }
    );
    println!(
        "peak waiting callers: {} (at {:.1} s); server CPU% of one core at that poll {:.1}, RSS {:.1} MiB",
        w.peak_waiting, w.peak_waiting_at_s, w.cpu_at_peak_waiting, w.rss_at_peak_waiting
    );
    println!(
        "server CPU%: peak per 500 ms poll {:.1}, over the run {cpu_avg:.1}; peak RSS {:.1} MiB{}",
        w.peak_cpu,
        w.peak_rss,
        if w.polls_failed > 0 {
            format!("; {} queue polls failed", w.polls_failed)
        } else {
            String::new()
        }
    );

    let log = read_log(&device_log);
    let (mut gaps, taken) = free_to_offer(&log);
    gaps.sort_by(|x, y| x.total_cmp(y));
    let (min_taken, max_taken) = (
        members
            .iter()
            .map(|m| taken.get(m).copied().unwrap_or(0))
            .min()
            .unwrap_or(0),
        taken.values().copied().max().unwrap_or(0),
    );
    match (
        percentile(&gaps, 50.0),
        percentile(&gaps, 95.0),
        gaps.last(),
    ) {
        (Some(p50), Some(p95), Some(max)) => println!(
            "member free (its BYE sent) → next caller's INVITE at its device: p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms over {} hand-offs",
            gaps.len()
        ),
        _ => println!("member free → next INVITE: no hand-offs in the device log"),
    }
    println!(
        "calls per member: {} INVITEs at the devices, min {min_taken}, max {max_taken}",
        taken.values().sum::<usize>()
    );

    let p = &final_q["period"];
    let ms = |v: &Value| {
        v.as_f64()
            .map_or("-".to_string(), |x| format!("{:.1} s", x / 1000.0))
    };
    println!(
        "queue period: offered {}, answered {}, abandoned {}, to fallback {}, missed offers {}; average wait {}, average talk {}, service level {} (within {} s)",
        p["offered"],
        p["answered"],
        p["abandoned"],
        p["to_fallback"],
        p["missed_offers"],
        ms(&final_q["average_wait_ms"]),
        ms(&final_q["average_talk_ms"]),
        final_q["service_level"]
            .as_f64()
            .map_or("-".to_string(), |x| format!("{:.1} %", 100.0 * x)),
        SERVICE_LEVEL_MS / 1000,
    );
}
