//! Recordings review through the real server (R-REC-3, R-OPS-6): a call placed with sipp and
//! recorded is found by its caller number, its audio is fetched with an HTTP range and in
//! full (matching its SHA-256), a viewer is refused the audio, and the audit log names the
//! listen and the refusal with the recording's id.

use std::io::Read;
use std::time::Duration;

use madoguchi_tests::audio::finished_recordings;
use madoguchi_tests::ivr::{create_token, Api};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{server_bin, Server, ServerOptions};
use sha2::{Digest, Sha256};

/// The caller number of `tests/sipp/caller.xml`.
const CALLER: &str = "0462009999";

fn viewer_token(data: &std::path::Path) -> String {
    let out = std::process::Command::new(server_bin())
        .args([
            "token", "create", "--role", "viewer", "--label", "miru", "--data",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// GET with a bearer token and optional Range → (status, headers we read, body bytes).
fn fetch(url: &str, token: &str, range: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut req = agent
        .get(url)
        .set("Authorization", &format!("Bearer {token}"));
    if let Some(r) = range {
        req = req.set("Range", r);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = resp.status();
    let content_range = resp.header("Content-Range").map(str::to_string);
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    (status, content_range, body)
}

#[test]
fn a_recorded_call_is_found_by_caller_heard_with_ranges_and_audited() {
    let data = tempfile::tempdir().unwrap();
    let admin = create_token(data.path()).unwrap();
    let viewer = viewer_token(data.path());
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    })
    .unwrap();
    let desk = Device::answering(server.sip, "1001", "zama1001").unwrap();
    Sipp::new("caller.xml", server.sip)
        .service("1001")
        .set("hold_ms", "1500")
        .run()
        .unwrap();
    desk.finish().unwrap();
    finished_recordings(&data.path().join("recordings"), 1);
    assert!(
        server.wait_log("recording metadata stored", 1, Duration::from_secs(30)),
        "{}",
        server.log_text()
    );
    let api = Api::new(server.http, &admin);
    // Indexed with its metadata: found by the caller's number.
    let (status, found) = api.get(&format!("/recordings?caller={CALLER}")).unwrap();
    assert_eq!(status, 200, "{found}");
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    assert!(found.get("next").is_some());
    let item = &items[0];
    let id = item["id"].as_str().unwrap().to_string();
    assert_eq!(item["caller"], CALLER);
    assert_eq!(item["did"], "1001");
    assert_eq!(item["user"], "1001");
    assert_eq!(item["complete"], true);
    let (_, none) = api.get("/recordings?caller=0000000000").unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());
    let today = item["start"].as_str().unwrap()[..10].to_string();
    let (_, by_day) = api
        .get(&format!(
            "/recordings?from={today}&to={today}&did=1001&user=1001"
        ))
        .unwrap();
    assert_eq!(by_day["items"][0]["id"], id.as_str());

    // The audio: a range (206), then the whole file, whose SHA-256 is the stored one.
    let url = format!("http://{}/api/v1/recordings/{id}/audio", server.http);
    let (status, content_range, part) = fetch(&url, &admin, Some("bytes=0-43"));
    assert_eq!(status, 206);
    assert_eq!(&part[..4], b"RIFF");
    assert_eq!(part.len(), 44);
    let size = item["size"].as_u64().unwrap();
    assert_eq!(
        content_range.as_deref(),
        Some(format!("bytes 0-43/{size}").as_str())
    );
    let (status, _, whole) = fetch(&url, &admin, None);
    assert_eq!(status, 200);
    assert_eq!(whole.len() as u64, size);
    assert_eq!(
        hex::encode(Sha256::digest(&whole)),
        item["sha256"].as_str().unwrap()
    );
    let (status, _, _) = fetch(&url, &admin, Some(&format!("bytes={size}-")));
    assert_eq!(status, 416);
    // A viewer may see the metadata but not hear it.
    let (status, _, _) = fetch(&url, &viewer, None);
    assert_eq!(status, 403);

    // The audit log names the listen (by the admin token) and the refusal, with the id.
    let (status, log) = api.get(&format!("/audit?object={id}")).unwrap();
    assert_eq!(status, 200, "{log}");
    let entries = log["items"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["action"] == "recording.listen"
            && e["who"].as_str().unwrap().starts_with("tests (")
            && e["object"] == format!("recording:{id}").as_str()
            && e["source"] == "127.0.0.1"),
        "{log}"
    );
    let (_, denied) = api.get("/audit?action=denied").unwrap();
    assert!(
        denied["items"].as_array().unwrap().iter().any(|e| e["who"]
            .as_str()
            .unwrap()
            .starts_with("miru (")
            && e["detail"]["path"].as_str().unwrap().contains(&id)),
        "{denied}"
    );
}
