//! R-PBX-1 and the registrar's guard against a running server: a listener answers only the
//! networks on its allow-list, and a source that keeps failing digest authentication is
//! first slowed, then not answered at all, even with the right password.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use madoguchi_tests::sipp::Sipp;
use madoguchi_tests::{Server, ServerOptions};

/// Only 127.0.0.1 may talk to the listener (other loopback addresses stand for the rest of
/// the network). The guard is shortened so the test needs seconds, not minutes.
const CONFIG: &str = r#"
[[listener]]
name = "city-lan"
transport = "udp"
address = "{sip}"
allow = ["127.0.0.1/32"]

[registrar.guard]
delay_after = 2
block_after = 4
first_delay_ms = 1500
max_delay_ms = 3000
window_minutes = 10
block_minutes = 1
"#;

/// Sends OPTIONS from `from` and returns the status line of the answer, if one came
/// within `wait` (long where an answer is expected, for a busy machine; short where
/// silence is, since silence always takes the whole wait).
fn options_from(from: &str, server: SocketAddr, n: u32, wait: Duration) -> Option<String> {
    let sock = UdpSocket::bind((from, 0)).unwrap();
    sock.set_read_timeout(Some(wait)).unwrap();
    let local = sock.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKacl{n}\r\n\
         From: <sip:probe@{local}>;tag=a{n}\r\nTo: <sip:{server}>\r\nCall-ID: acl-{n}@test\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(msg.as_bytes(), server).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = sock.recv_from(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..len]).to_string();
    text.lines().next().map(str::to_string)
}

/// How long to wait for an answer that must come, and for one that must not.
const ANSWER: Duration = Duration::from_secs(10);
const SILENCE: Duration = Duration::from_millis(1500);

/// The server with [`CONFIG`] (UDP only).
fn start() -> Server {
    Server::start(ServerOptions {
        config: Some(CONFIG.into()),
        tcp: false,
        ..ServerOptions::default()
    })
    .unwrap()
}

#[test]
fn a_listener_answers_only_its_allow_list() {
    let server = start();
    assert_eq!(
        options_from("127.0.0.1", server.sip, 1, ANSWER).as_deref(),
        Some("SIP/2.0 200 OK")
    );
    // Not on the list: no answer at all, not even an error (nothing to probe).
    assert_eq!(options_from("127.0.0.2", server.sip, 2, SILENCE), None);
    assert_eq!(options_from("127.0.0.9", server.sip, 3, SILENCE), None);
    // Still serving the allowed network.
    assert!(options_from("127.0.0.1", server.sip, 4, ANSWER).is_some());
}

#[test]
fn password_guessing_is_slowed_then_blocked() {
    let server = start();
    let guess = |user: &str| {
        Sipp::new("register_bad.xml", server.sip)
            .user(user, "guess")
            .option("-timeout", "10s")
            .run()
    };
    // (Each guess may take 10 s: long enough for an answer on a busy machine.)
    // Three wrong answers are refused, a known and an unknown user alike; the third only
    // after the first delay (a lower bound: a slow machine cannot make it fail).
    guess("1001").unwrap();
    guess("9999").unwrap();
    let t = std::time::Instant::now();
    guess("1001").unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "the third refusal came after {:?}, not delayed",
        t.elapsed()
    );
    // The fourth blocks the source: no refusal comes back.
    assert!(guess("1001").is_err(), "the fourth failure was answered");
    // Blocked: even the right password gets no answer from this address now.
    let right = Sipp::new("register.xml", server.sip)
        .user("1001", "zama1001")
        .option("-timeout", "4s");
    let port = right.port().to_string();
    assert!(right.set("contact_port", &port).run().is_err());
    assert!(
        server.log_text().contains("source blocked"),
        "the block is logged"
    );
}
