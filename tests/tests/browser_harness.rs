//! The browser-test harness checks itself against a real server: Debian's chromium starts
//! with the team's flags (tests/browser/lib/harness.mjs), reaches the server's HTTP port on
//! loopback, renders Japanese with a CJK font and writes a screenshot to target/browser/;
//! `/` leads to the console's login page, served from the binary, and nothing is fetched
//! from outside.

use madoguchi_tests::browser::{screenshots_dir, BrowserTest};
use madoguchi_tests::{Server, ServerOptions};

#[test]
fn chromium_reaches_the_server_and_renders_japanese() {
    let server = Server::start(ServerOptions {
        users: vec![],
        ..ServerOptions::default()
    })
    .unwrap();
    let _ = std::fs::remove_file(screenshots_dir().join("console-login.png"));
    let out = BrowserTest::new("harness-smoke.mjs", &server)
        .run()
        .unwrap();
    assert!(out.contains("harness-smoke: passed"), "{out}");
    assert!(screenshots_dir().join("console-login.png").is_file());
}
