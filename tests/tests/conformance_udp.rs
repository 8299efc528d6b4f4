//! RFC 4475 and RFC 5118 torture messages sent over UDP to a running server.
//!
//! The messages name documentation addresses (192.0.2.x, 2001:db8::, example.com,
//! 255.255.255.255) in their Via headers and URIs. So that not one packet can leave the
//! machine, the test re-runs itself inside a new network namespace that has only a loopback
//! interface (`unshare --net`, or `--user --map-root-user --net` when not root).
//!
//! Expectations come from `../shared/conformance/rfc4475/MANIFEST.tsv`: invalid requests get
//! exactly the status the RFC names, malformed responses get no answer, valid messages are
//! processed (answered with something other than 400/505), and the server is alive at the
//! end.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use madoguchi_tests::{shared_dir, Server, ServerOptions};

const IN_NETNS: &str = "MADOGUCHI_IN_NETNS";

#[test]
fn torture_messages_over_udp_in_a_private_network_namespace() {
    if std::env::var_os(IN_NETNS).is_some() {
        run_inside();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let root = is_root();
    let mut cmd = Command::new("unshare");
    if root {
        cmd.arg("--net");
    } else {
        cmd.args(["--user", "--map-root-user", "--net"]);
    }
    let out = cmd
        .args(["--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([
            "--exact",
            "torture_messages_over_udp_in_a_private_network_namespace",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(IN_NETNS, "1")
        .output()
        .expect("run unshare (util-linux) — scripts/setup installs it");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "conformance run inside the namespace failed:\n{text}"
    );
    assert!(
        text.contains("conformance: "),
        "the inner run did not report: {text}"
    );
}

/// True when running as root (no user namespace needed).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// What the manifest says should happen to a message.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Status(u16),
    /// Processed normally: some answer that is not a syntax rejection.
    Processed,
    /// No answer at all (malformed or unroutable responses).
    Silence,
    /// The RFC leaves it to the element (e.g. an invalid Date): anything but a crash.
    Any,
}

fn expectation(file: &str, handling: &str) -> Expect {
    let h = handling.trim();
    if file == "intmeth.dat" {
        return Expect::Status(501);
    }
    // A well-formed response that matches none of our transactions is dropped.
    if h.starts_with("drop") || h.contains("do not forward") || h.contains("(response)") {
        return Expect::Silence;
    }
    if h.starts_with("proxy 483; UAS processes") {
        return Expect::Status(200);
    }
    if h.starts_with("registrar 401") {
        return Expect::Status(401);
    }
    if h.starts_with("invalid Date") {
        return Expect::Any;
    }
    // "200, store binding": our registrar first asks for credentials, which is processing.
    if h.starts_with("200") {
        return Expect::Processed;
    }
    if let Some(code) = h.get(..3).and_then(|c| c.parse::<u16>().ok()) {
        return Expect::Status(code);
    }
    Expect::Processed
}

fn run_inside() {
    let shared = shared_dir();
    let manifest =
        std::fs::read_to_string(shared.join("conformance/rfc4475/MANIFEST.tsv")).unwrap();
    let start = || {
        Server::start(ServerOptions {
            users: vec![("1001", "zama1001")],
            ..ServerOptions::default()
        })
        .unwrap()
    };
    let mut server = start();
    let mut transactions_seen = std::collections::HashSet::new();
    // Responses go to the Via's port (5060, or 5061 for TLS, when none is given) at the
    // address the request came from (received=).
    let mut sockets: Vec<UdpSocket> = Vec::new();
    let mut probe_port = None;
    for port in [5060u16, 5061, 5050, 6050, 19823] {
        let s = UdpSocket::bind(("127.0.0.1", port)).expect("bind a Via port inside the namespace");
        s.set_nonblocking(true).unwrap();
        if port == 5060 {
            probe_port = Some(s.local_addr().unwrap());
        }
        sockets.push(s);
    }
    assert!(probe_port.is_some());
    let mut failures = Vec::new();
    let mut seen = 0;
    let mut cases: Vec<(String, Expect)> = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 {
            continue;
        }
        cases.push((
            format!("rfc4475/{}", cols[1]),
            expectation(cols[1], cols[4]),
        ));
    }
    // RFC 5118 (IPv6), as the parser test expects (`host/sip/tests/conformance_parse.rs`):
    // the two invalid references (§4.2, §4.10) and the two SDP messages whose
    // Content-Length overstates the body the RFC text yields get 400; the rest are processed.
    for entry in std::fs::read_dir(shared.join("conformance/rfc5118")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if !name.ends_with(".dat") {
            continue;
        }
        let e = match name.as_str() {
            "ipv6-bad.dat"
            | "ipv6-bug-abnf-3-colons.dat"
            | "ipv6-in-sdp.dat"
            | "mult-ip-in-sdp.dat" => Expect::Status(400),
            _ => Expect::Processed,
        };
        cases.push((format!("rfc5118/{name}"), e));
    }
    for (rel, expect) in &cases {
        let bytes = std::fs::read(shared.join("conformance").join(rel)).unwrap();
        // Several torture messages share a branch and sent-by: to the server a later one is a
        // retransmission of the earlier transaction (correctly). Give each a fresh server then.
        if !transactions_seen.insert(transaction_key(&bytes)) {
            server = start();
            transactions_seen.clear();
            transactions_seen.insert(transaction_key(&bytes));
        }
        drain(&sockets);
        sockets[0].send_to(&bytes, server.sip).unwrap();
        let call_id = call_id_of(&bytes);
        // An answer is awaited up to 10 s on a loaded host (the wait ends at the first final
        // response); silence is only watched for a while, and for a message whose answer
        // does not matter a short look is enough.
        let wait = Duration::from_millis(match expect {
            Expect::Silence => 400,
            Expect::Any => 1500,
            Expect::Status(_) | Expect::Processed => 10_000,
        });
        let got = collect_final(&sockets, call_id.as_deref(), wait);
        seen += 1;
        let ok = match (expect, got) {
            (Expect::Status(want), Some(s)) => *want == s,
            (Expect::Status(_), None) => false,
            (Expect::Processed, Some(s)) => s != 400 && s != 505,
            (Expect::Processed, None) => false,
            (Expect::Silence, got) => got.is_none(),
            (Expect::Any, _) => true,
        };
        println!(
            "{rel:<40} expected {expect:?}, got {got:?}{}",
            if ok { "" } else { "   <-- MISMATCH" }
        );
        if !ok {
            failures.push(format!("{rel}: expected {expect:?}, got {got:?}"));
        }
    }
    // Still alive and answering after all of that.
    let mut alive = false;
    for n in 0..10 {
        let msg = format!(
            "OPTIONS sip:{0} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKalive{n}\r\nFrom: <sip:t@127.0.0.1>;tag=a{n}\r\nTo: <sip:{0}>\r\nCall-ID: alive{n}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            server.sip
        );
        sockets[0].send_to(msg.as_bytes(), server.sip).unwrap();
        if collect_final(
            &sockets,
            Some(&format!("alive{n}")),
            Duration::from_millis(500),
        ) == Some(200)
        {
            alive = true;
            break;
        }
    }
    assert!(
        alive,
        "server stopped answering after the torture messages; log:\n{}",
        server.log_text()
    );
    println!(
        "conformance: {seen} messages, {} mismatches",
        failures.len()
    );
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

fn drain(sockets: &[UdpSocket]) {
    let mut buf = [0u8; 65535];
    for s in sockets {
        while s.recv_from(&mut buf).is_ok() {}
    }
}

/// Roughly the RFC 3261 §17.2.3 key: the top Via line and the method of the request line.
fn transaction_key(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let method = text.split(' ').next().unwrap_or("").to_string();
    let via = text
        .lines()
        .find(|l| {
            let n = l.split(':').next().unwrap_or("").trim();
            n.eq_ignore_ascii_case("via") || n.eq_ignore_ascii_case("v")
        })
        .unwrap_or("")
        .to_string();
    format!("{method} {via}")
}

/// The Call-ID of a raw message (long or compact header name), to tell its answers apart
/// from retransmissions of earlier answers.
fn call_id_of(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes).lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
            .then(|| value.trim().to_string())
    })
}

/// The last final (>= 200) status with this Call-ID received on any socket within `wait`,
/// or any status seen when no final came.
fn collect_final(sockets: &[UdpSocket], call_id: Option<&str>, wait: Duration) -> Option<u16> {
    let start = Instant::now();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut last_final = None;
    let mut buf = [0u8; 65535];
    while start.elapsed() < wait {
        let mut got = false;
        for s in sockets {
            while let Ok((n, _)) = s.recv_from(&mut buf) {
                got = true;
                let text = String::from_utf8_lossy(&buf[..n]);
                if call_id.is_some() && call_id_of(&buf[..n]).as_deref() != call_id {
                    continue;
                }
                if let Some(code) = text
                    .strip_prefix("SIP/2.0 ")
                    .and_then(|r| r.get(..3))
                    .and_then(|c| c.parse::<u16>().ok())
                {
                    *statuses.entry(code).or_default() += 1;
                    if code >= 200 {
                        last_final = Some(code);
                    }
                }
            }
        }
        if last_final.is_some() {
            // One more short look for retransmissions, then done.
            std::thread::sleep(Duration::from_millis(20));
            return last_final;
        }
        if !got {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    last_final.or_else(|| statuses.keys().max().copied())
}
