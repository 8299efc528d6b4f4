//! `madoguchi demo`, as the README's quick start runs it: the Zama scenario is installed and
//! live on DID 0462000000 with no other set-up, the demo users exist, and the call center
//! is staff user 1003 on the same server (a softphone registered as 1003 plays it).

use madoguchi_tests::ivr::{call_id, prompts_heard, Api, IvrCaller};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{server_bin, Server, ServerOptions};

/// The Japan-time date of a Unix time in ms, `YYYY-MM-DD` (days to civil date, after
/// Howard Hinnant's algorithm).
fn jst_date(unix_ms: u64) -> String {
    let days = ((unix_ms / 1000 + 9 * 3600) / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `madoguchi scenario ARGS…` against the demo's API; its stdout as JSON.
fn scenario_cli(http: std::net::SocketAddr, token: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(server_bin())
        .arg("scenario")
        .args(args)
        .arg("--api")
        .arg(format!("http://{http}"))
        .env("MADOGUCHI_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scenario {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "scenario {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn the_demo_answers_the_did_and_reaches_the_call_center_on_1003() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(ServerOptions {
        subcommand: "demo",
        users: vec![],
        data: Some(data.path().to_path_buf()),
        extra_args: vec![
            "--clock".into(),
            "2027-01-06T10:00:00+09:00".into(),
            // Its own plugin cache (not the one test servers share), to see it filled.
            "--plugin-cache".into(),
            data.path().join("plugin-cache").display().to_string(),
        ],
        ..ServerOptions::default()
    })
    .unwrap();
    // The demo's self-signed TLS certificate, made in its data directory, fingerprint logged.
    let cert = data.path().join("tls/self-signed-cert.pem");
    let fp = madoguchi_tests::tls_sip::pem_fingerprint(&cert).unwrap();
    assert!(
        server.log_text().contains(&fp),
        "the demo logs its certificate's fingerprint"
    );
    // The plugins were compiled once and kept by SHA-256 for the next start.
    let cached = std::fs::read_dir(data.path().join("plugin-cache"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        })
        .count();
    assert!(cached >= 5, "{cached} compiled plugins cached");
    // The demo wrote its admin token.
    let token = std::fs::read_to_string(data.path().join("admin-token")).unwrap();
    let api = Api::new(server.http, token.trim());
    let log = data.path().join("cc.log");
    let callcenter = Device::start(
        server.sip,
        "1003",
        "zama1003",
        Sipp::new("device_answer.xml", server.sip)
            .set("answer_ms", "0")
            .option("-timeout", "120s")
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&log.display().to_string()),
    )
    .unwrap();
    // Main menu 1 (application), then 1 (how to apply): the call center. The first key
    // comes 2.4 s into the main menu (after the 4.1 s notice and the 4.5 s greeting), the
    // second 3 s into the next menu: a key sent before a menu collects is dropped, so each
    // has a second or more to spare for a server running behind.
    let wait = 11_000;
    IvrCaller::new("demo", "0462001234", &[(wait, '1'), (3000, '1')], 20_000)
        .spawn(server.sip, "0462000000", data.path())
        .unwrap()
        .wait()
        .unwrap();
    let record = api.call(&call_id("demo")).unwrap();
    assert_eq!(
        record["outcome"], "transferred:external:callcenter",
        "{record}"
    );
    assert_eq!(record["scenario"], "zama-mynumber");
    // The caller's RTP over the IVR part is in the record: what came in (sipp's stream, no
    // loss on loopback) and what the host sent (notice, greeting, menu).
    let leg = &record["caller_leg"];
    assert!(leg["rtp"]["packets"].as_u64().unwrap() > 100, "{leg}");
    assert_eq!(leg["rtp"]["lost"], 0, "{leg}");
    assert!(leg["sent"].as_u64().unwrap() > 100, "{leg}");
    callcenter.finish().unwrap();

    // "What would a caller hear": the simulation (same engine and plugins, no call) says
    // exactly the prompts this live call played.
    let sim = scenario_cli(
        server.http,
        token.trim(),
        &[
            "simulate",
            "zama-mynumber",
            "--at",
            "2027-01-06T10:00:00+09:00",
            "--keys",
            "1,1",
            "--json",
        ],
    );
    let simulated: Vec<&str> = sim["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(simulated, prompts_heard(&record), "{sim}");
    assert_eq!(sim["ending"]["target"], "external:callcenter", "{sim}");

    // The live version's acceptance test plan: every branch covered, nothing unreachable;
    // the demo's holidays, year-end closure and the minutes around 08:30 and 17:15 among them.
    let plan = scenario_cli(
        server.http,
        token.trim(),
        &[
            "test-plan",
            "zama-mynumber",
            "--format",
            "json",
            "--from",
            "2027-01-04",
        ],
    );
    assert_eq!(plan["coverage_percent"], 100.0);
    assert_eq!(
        plan["unreachable"],
        serde_json::json!([]),
        "{}",
        plan["unreachable"]
    );
    assert_eq!(
        plan["problems"],
        serde_json::json!([]),
        "{}",
        plan["problems"]
    );
    let ids: Vec<&str> = plan["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    for id in [
        "main|key:3|node:cityhall-hours",
        "main|invalid|node:callcenter-hours",
        "main|no-input|again",
        "cityhall-hours|schedule:zama/cityhall:holiday|node:cityhall-holiday",
        "cityhall-hours|schedule:zama/cityhall:year-end|node:cityhall-year-end",
        "cityhall-hours|schedule:zama/cityhall:closed@before-open-08:30|node:cityhall-closed",
        "cityhall-hours|schedule:zama/cityhall:closed@closes-17:15|node:cityhall-closed",
        "lost-transfer|transfer:busy|node:lost-unavailable",
    ] {
        assert!(ids.contains(&id), "{id} not in the plan: {ids:?}");
    }

    // Analytics around the record's real start time: this one call.
    let start = record["started_unix_ms"].as_u64().unwrap();
    let (from, to) = (jst_date(start - 86_400_000), jst_date(start + 86_400_000));
    let stats = scenario_cli(
        server.http,
        token.trim(),
        &[
            "analytics",
            "zama-mynumber",
            "--from",
            &from,
            "--to",
            &to,
            "--json",
        ],
    );
    assert_eq!(stats["calls"], 1, "{stats}");
    assert_eq!(
        stats["nodes"]["main"]["keys"],
        serde_json::json!({"1": 1}),
        "{stats}"
    );
    assert_eq!(
        stats["destinations"]["external:callcenter"]["answered"], 1,
        "{stats}"
    );

    let invite = std::fs::read_to_string(&log).unwrap();
    assert!(
        invite.contains("sip:0462001234@"),
        "the call center saw the caller's number"
    );
}

#[test]
fn jst_dates() {
    assert_eq!(jst_date(1_799_197_200_000), "2027-01-06"); // 10:00 JST
    assert_eq!(jst_date(1_798_500_600_000), "2026-12-29"); // 08:30 JST, 23:30 UTC the day before
}
