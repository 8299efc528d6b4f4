//! What an operator has to find a fault, over real SIP (sipp) against the real server:
//! `/health`, `/ready` and `/metrics` without a token (also on `[observe] health_http`),
//! `promtool check metrics` (Debian's prometheus) passing on the output while counters move
//! as calls are placed; a searchable call record for answered, refused and unanswered calls
//! (with the SIP code), the calls in progress with their state, and the SIP trace of a
//! failed call.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use madoguchi_tests::ivr::{create_token, Api};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{free_port, Server, ServerOptions};

/// GET without a token → (status, body).
fn get_open(base: &str, path: &str) -> (u16, String) {
    let r = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
        .get(&format!("{base}{path}"))
        .call();
    match r {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
        Err(e) => panic!("GET {path}: {e}"),
    }
}

/// Runs `promtool check metrics` on the text; panics with its complaints.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus: scripts/setup)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample `name{labels}` (labels as printed, e.g. `kind="user",outcome="answered"`).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Polls the API until `path` gives a list `key` with at least `n` entries.
fn wait_list(api: &Api, path: &str, key: &str, n: usize) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let (status, body) = api.get(path).unwrap();
        if status == 200 && body[key].as_array().is_some_and(|a| a.len() >= n) {
            return body;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{path}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn health_metrics_call_records_and_sip_trace() {
    let data = tempfile::tempdir().unwrap();
    for (u, p) in [
        ("1001", "zama1001"),
        ("1002", "zama1002"),
        ("1003", "zama1003"),
    ] {
        madoguchi_tests::add_user(data.path(), u, p).unwrap();
    }
    let token = create_token(data.path()).unwrap();
    let probes = format!("127.0.0.1:{}", free_port());
    let server = Server::start(ServerOptions {
        users: vec![],
        data: Some(data.path().to_path_buf()),
        config: Some(format!("[observe]\nhealth_http = \"{probes}\"\n")),
        ..ServerOptions::default()
    })
    .unwrap();
    let base = format!("http://{}", server.http);
    let api = Api::new(server.http, &token);

    // Health and readiness without a token, on the HTTP port and on the probe address.
    for b in [base.clone(), format!("http://{probes}")] {
        let (s, body) = get_open(&b, "/health");
        assert_eq!(s, 200, "{body}");
        let (s, body) = get_open(&b, "/ready");
        assert_eq!(s, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let names: Vec<&str> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["store", "listeners", "plugins", "disk"], "{body}");
    }
    // The probe address serves only the probes.
    let (s, _) = get_open(&format!("http://{probes}"), "/api/v1/calls");
    assert_eq!(s, 404);
    let (s, before) = get_open(&base, "/metrics");
    assert_eq!(s, 200);
    promtool_check(&before);

    // An answered call (1001 → 1002's device), a refused one (unknown 9999: 404), one to a
    // user without devices (1003: 480).
    let device = Device::answering(server.sip, "1002", "zama1002").unwrap();
    Sipp::new("caller.xml", server.sip)
        .service("1002")
        .set("hold_ms", "300")
        .option("-cid_str", "obs-answered@test")
        .run()
        .unwrap();
    device.finish().unwrap();
    Sipp::new("caller_not_found.xml", server.sip)
        .service("9999")
        .option("-cid_str", "obs-404@test")
        .run()
        .unwrap();
    Sipp::new("caller_unavailable.xml", server.sip)
        .service("1003")
        .option("-cid_str", "obs-480@test")
        .run()
        .unwrap();

    // Every one has a record, found by the search filters.
    let all = wait_list(&api, "/calls?from=2020-01-01", "calls", 3);
    let refused = wait_list(&api, "/calls?outcome=refused", "calls", 2);
    let statuses: Vec<u64> = refused["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["status"].as_u64())
        .collect();
    assert!(
        statuses.contains(&404) && statuses.contains(&480),
        "{refused}\nall: {all}"
    );
    let by_number = wait_list(&api, "/calls?number=1003", "calls", 1);
    assert_eq!(
        by_number["calls"].as_array().unwrap().len(),
        1,
        "{by_number}"
    );
    let answered = wait_list(&api, "/calls?user=1002&outcome=answered", "calls", 1);
    let rec = &answered["calls"][0];
    assert_eq!(rec["call_id"], "obs-answered@test", "{rec}");
    assert_eq!(rec["kind"], "user");
    assert!(
        rec["recording"]
            .as_str()
            .is_some_and(|r| r.ends_with(".wav")),
        "linked to its recording: {rec}"
    );
    assert!(
        rec["started_at"]
            .as_str()
            .is_some_and(|t| t.ends_with("+09:00")),
        "{rec}"
    );
    // Nothing matches a future period.
    let (s, none) = api.get("/calls?from=2099-01-01").unwrap();
    assert_eq!(s, 200);
    assert_eq!(none["calls"].as_array().unwrap().len(), 0);
    let (s, bad) = api.get("/calls?from=yesterday").unwrap();
    assert_eq!(s, 400, "{bad}");

    // The SIP trace of the failed call: its INVITE in and the 404 out.
    let (s, trace) = api.get("/calls/obs-404@test/sip").unwrap();
    assert_eq!(s, 200, "{trace}");
    let msgs = trace["messages"].as_array().unwrap();
    assert!(
        msgs.iter()
            .any(|m| m["dir"] == "in" && m["method"] == "INVITE" && m["kind"] == "request"),
        "{trace}"
    );
    assert!(
        msgs.iter().any(|m| m["dir"] == "out" && m["status"] == 404),
        "{trace}"
    );
    // The answered call's trace shows the device leg too (its own Call-ID).
    let (_, trace) = api.get("/calls/obs-answered@test/sip").unwrap();
    let legs: std::collections::BTreeSet<&str> = trace["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["leg"].as_str())
        .collect();
    assert!(legs.len() >= 2, "caller and device legs: {trace}");
    let (s, _) = api.get("/calls/nobody@test/sip").unwrap();
    assert_eq!(s, 404);

    // A call in progress is listed with its state.
    let device = Device::answering(server.sip, "1002", "zama1002").unwrap();
    let caller = Sipp::new("caller.xml", server.sip)
        .service("1002")
        .set("hold_ms", "4000")
        .option("-cid_str", "obs-live@test")
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        let (_, live) = api.get("/calls/live").unwrap();
        let talking = live["calls"].as_array().is_some_and(|a| {
            a.iter()
                .any(|c| c["call_id"] == "obs-live@test" && c["state"] == "answered")
        });
        if talking {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{live}");
        std::thread::sleep(Duration::from_millis(100));
    }
    caller.wait().unwrap();
    device.finish().unwrap();

    // The counters moved, and the text still passes promtool.
    let t0 = Instant::now();
    let after = loop {
        let (_, text) = get_open(&base, "/metrics");
        if sample(
            &text,
            "madoguchi_calls_total",
            &["kind=\"user\"", "outcome=\"answered\""],
        ) >= 2.0
        {
            break text;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    promtool_check(&after);
    assert!(
        sample(&after, "madoguchi_calls_total", &["outcome=\"refused\""]) >= 2.0,
        "{after}"
    );
    let invites = |t: &str| {
        sample(
            t,
            "madoguchi_sip_requests_total",
            &["dir=\"in\"", "method=\"INVITE\""],
        )
    };
    assert!(invites(&after) >= invites(&before) + 4.0, "{after}");
    assert!(
        sample(
            &after,
            "madoguchi_sip_responses_total",
            &["dir=\"out\"", "class=\"4xx\""]
        ) >= 2.0
    );
    assert!(
        sample(&after, "madoguchi_registrations", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, "madoguchi_recordings_total", &[]) >= 1.0,
        "{after}"
    );
    assert!(
        after.contains("madoguchi_rtp_packets_received_total"),
        "{after}"
    );
    assert!(sample(&after, "madoguchi_recordings_disk_free_bytes", &[]) > 0.0);
    assert!(
        sample(&after, "madoguchi_store_write_seconds_count", &[]) > 0.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "madoguchi_calls_active", &[]),
        0.0,
        "{after}"
    );
}
