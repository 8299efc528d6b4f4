//! The web console in real Chromium against `madoguchi demo`. tests/browser/console.mjs:
//! log in (a wrong password refused), publish and roll back a scenario from the console with
//! calls taking each version and both changes in the audit log, the year-end closure on the
//! hours calendar, every page loading in Japanese (and once in English).
//! tests/browser/console-recordings.mjs: the recorded call found by its caller number,
//! played in the page (its time advances), downloaded with the API's SHA-256, the listen in
//! the audit log under the user's name, a viewer refused (403). Screenshots of every page in
//! target/browser/console-*.png.

use std::time::{Duration, Instant};

use madoguchi_tests::browser::BrowserTest;
use madoguchi_tests::ivr::{call_id, Api, IvrCaller};
use madoguchi_tests::{Server, ServerOptions};

const CALLER: &str = "0467001234";
const DID: &str = "0462000000";

#[test]
fn the_console_in_chromium() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(ServerOptions {
        subcommand: "demo",
        users: vec![],
        data: Some(data.path().to_path_buf()),
        // A Wednesday in office hours.
        extra_args: vec!["--clock".into(), "2027-01-06T10:00:00+09:00".into()],
        ..ServerOptions::default()
    })
    .unwrap();
    let token = std::fs::read_to_string(data.path().join("admin-token")).unwrap();
    let password = std::fs::read_to_string(data.path().join("console-password"))
        .expect("madoguchi demo writes the console admin's password");
    // A recorded call from a number nobody else uses: the notice (4.1 s), then recording
    // while the greeting plays.
    IvrCaller::new("recorded", CALLER, &[], 9_000)
        .spawn(server.sip, DID, data.path())
        .unwrap()
        .wait()
        .unwrap();
    let api = Api::new(server.http, token.trim());
    let record = api.call(&call_id("recorded")).unwrap();
    assert_eq!(record["caller"], CALLER, "{record}");
    // Its recording is listed once the file is finished (fsync on a busy disk: bounded wait).
    let t0 = Instant::now();
    loop {
        let (status, body) = api.get(&format!("/recordings?caller={CALLER}")).unwrap();
        if status == 200 && body["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no recording listed for {CALLER}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    BrowserTest::new("console.mjs", &server)
        .token(token.trim())
        .env("CALLER", CALLER)
        .env("DID", DID)
        .env("CONSOLE_USER", "admin")
        .env("CONSOLE_PASSWORD", password.trim())
        .sipp_ports(2)
        .run()
        .unwrap();
    BrowserTest::new("console-recordings.mjs", &server)
        .token(token.trim())
        .env("CALLER", CALLER)
        .env("CONSOLE_USER", "admin")
        .env("CONSOLE_PASSWORD", password.trim())
        .run()
        .unwrap();
}
