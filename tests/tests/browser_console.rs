//! The web console in real Chromium (tests/browser/console.mjs) against `madoguchi demo`:
//! log in (a wrong password refused), publish and roll back a scenario from the console with
//! calls taking each version and both changes in the audit log, the year-end closure on the
//! hours calendar, every page loading in Japanese (and once in English). Screenshots of every
//! page in target/browser/console-*.png.

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
    let record = Api::new(server.http, token.trim())
        .call(&call_id("recorded"))
        .unwrap();
    assert_eq!(record["caller"], CALLER, "{record}");
    BrowserTest::new("console.mjs", &server)
        .token(token.trim())
        .env("CALLER", CALLER)
        .env("DID", DID)
        .env("CONSOLE_USER", "admin")
        .env("CONSOLE_PASSWORD", password.trim())
        .sipp_ports(2)
        .run()
        .unwrap();
}
