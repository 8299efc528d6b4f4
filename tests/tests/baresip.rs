//! baresip (Debian's 1.0.0) as a staff phone against the real server (R-PBX-2): it
//! registers with digest auth as 1002, answers a call placed by sipp, sends and receives
//! DTMF during the call, and places a call to a sipp device.
//!
//! baresip picks its SIP address from the interface of the default route and gives up
//! without one. Each test therefore runs inside a private network namespace whose default
//! route goes through loopback ([`in_private_netns`]): baresip then uses 127.0.0.1 and no
//! packet can leave the machine.
//!
//! baresip 1.0 links libre 1.1, whose digest client refuses any challenge naming an
//! algorithm other than MD5 with ENOSYS and thereby fails the whole 401 ("Register:
//! Function not implemented"), even when an MD5 challenge sits beside it. The server's
//! default is therefore MD5 alone, and every test here runs it with its default flags;
//! [`baresip_cannot_use_a_sha256_challenge_and_the_server_says_so`] shows what the default
//! avoids and the log line an operator gets when a phone answers no challenge.
//!
//! baresip 1.0 sends DTMF only as RFC 4733 telephone-events (its account has no dtmfmode),
//! but it takes an INFO with `application/dtmf-relay`; so the INFO direction tested is
//! caller to baresip, through the server's in-dialog relay.
//!
//! Configuration templates live in `tests/baresip/`; baresip is driven through its
//! `ctrl_tcp` module (netstring JSON commands) and observed through its console output
//! with the SIP trace on (`-s`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use madoguchi_tests::rtp_sink::RtpSink;
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{free_port, in_private_netns, repo_root, Server, ServerOptions};

/// Upper bound for one whole test, namespace set-up included.
const TEST_LIMIT: Duration = Duration::from_secs(120);

/// A server with its default flags (digest: MD5 alone, see the module docs).
fn default_server() -> Server {
    Server::start(ServerOptions::default()).unwrap()
}

/// One baresip process with its own config directory; killed on drop.
struct Baresip {
    child: Child,
    user: String,
    /// Where baresip's SIP socket listens (tells its own messages apart in the trace).
    sip: SocketAddr,
    ctrl: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Baresip {
    /// Writes the config from `tests/baresip/`, starts baresip and waits until the server
    /// has accepted its REGISTER. `params` are extra account parameters
    /// (`answermode=auto`, …).
    fn start(server: SocketAddr, user: &str, password: &str, params: &str) -> Result<Baresip> {
        let phone = Baresip::spawn(server, user, password, params)?;
        // baresip prints "1002@127.0.0.1: {0/UDP/v4} 200 OK () [1 binding]" once the
        // registrar has said 200 to the authenticated REGISTER.
        let registered = format!("{user}@");
        phone.wait_for("registration accepted", Duration::from_secs(10), |l| {
            l.starts_with(&registered) && l.contains("} 200 OK")
        })?;
        Ok(phone)
    }

    /// Starts baresip without waiting for its registration.
    fn spawn(server: SocketAddr, user: &str, password: &str, params: &str) -> Result<Baresip> {
        let dir = tempfile::tempdir()?;
        let tone = dir.path().join("tone.wav");
        std::fs::write(&tone, tone_wav(440.0, 8000, Duration::from_secs(30)))?;
        let sip_listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let ctrl: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
        let vars = [
            ("SIP_LISTEN", sip_listen.to_string()),
            ("CTRL_LISTEN", ctrl.to_string()),
            ("TONE_WAV", tone.display().to_string()),
            ("USER", user.to_string()),
            ("PASSWORD", password.to_string()),
            ("REGISTRAR", server.to_string()),
            ("PARAMS", params.to_string()),
        ];
        for file in ["config", "accounts"] {
            fill_template(
                &repo_root().join("tests/baresip").join(file),
                &dir.path().join(file),
                &vars,
            )?;
        }
        // -s: SIP trace on the console (what the assertions read); -t: a backstop should
        // the drop guard never run.
        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .args(["-s", "-t", "300"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn baresip (Debian package baresip-core: scripts/setup)")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().expect("log lock").push(line);
                }
            });
        }
        Ok(Baresip {
            child,
            user: user.to_string(),
            sip: sip_listen,
            ctrl,
            log,
            _dir: dir,
        })
    }

    /// Everything baresip printed so far (colour codes stripped).
    fn log_text(&self) -> String {
        let text = self.log.lock().expect("log lock").join("\n");
        text.replace("\u{1b}[36;1m", "")
            .replace("\u{1b}[31m", "")
            .replace("\u{1b}[;m", "")
    }

    /// Polls the console output until a line satisfies `pred`.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> Result<()> {
        let start = Instant::now();
        loop {
            if self.log.lock().expect("log lock").iter().any(|l| pred(l)) {
                return Ok(());
            }
            if start.elapsed() > limit {
                bail!(
                    "baresip {}: no {what} within {limit:?}; its output:\n{}",
                    self.user,
                    tail(&self.log_text(), 120)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The SIP messages in the trace (`-s`), in order.
    fn sip_trace(&self) -> Vec<Traced> {
        let lines = self.log.lock().expect("log lock").clone();
        let me = self.sip.to_string();
        let mut out = Vec::new();
        for (k, line) in lines.iter().enumerate() {
            // "UDP 127.0.0.1:5070 -> 127.0.0.1:15060", then the start line, then headers.
            let Some((from, _to)) = line.strip_prefix("UDP ").and_then(|r| r.split_once(" -> "))
            else {
                continue;
            };
            let Some(start) = lines.get(k + 1) else {
                continue;
            };
            let cseq_method = lines[k + 1..]
                .iter()
                .take_while(|l| !l.trim().is_empty())
                .find_map(|l| l.strip_prefix("CSeq:"))
                .and_then(|v| v.split_whitespace().nth(1))
                .unwrap_or_default()
                .to_string();
            out.push(Traced {
                sent: from.trim() == me,
                start: start.clone(),
                cseq_method,
            });
        }
        out
    }

    /// Polls the SIP trace for a message baresip `sent` (or received) whose start line
    /// begins with `start` and whose CSeq names `method`.
    fn wait_sip(&self, sent: bool, start: &str, method: &str, limit: Duration) -> Result<()> {
        let begin = Instant::now();
        loop {
            if self
                .sip_trace()
                .iter()
                .any(|m| m.sent == sent && m.start.starts_with(start) && m.cseq_method == method)
            {
                return Ok(());
            }
            if begin.elapsed() > limit {
                let dir = if sent { "sent" } else { "received" };
                bail!(
                    "baresip {} {dir} no {start:?} for {method} within {limit:?}",
                    self.user
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Number of console lines containing `needle`.
    fn count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// One `ctrl_tcp` command (a menu command such as `dial`, `hangup`, `sndcode`); fails
    /// unless baresip answers `"ok":true`.
    fn command(&self, command: &str, params: &str) -> Result<String> {
        if [command, params].iter().any(|s| s.contains(['"', '\\'])) {
            bail!("command text must not need JSON escaping: {command} {params}");
        }
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let token = format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let json = format!(r#"{{"command":"{command}","params":"{params}","token":"{token}"}}"#);
        let mut tcp = TcpStream::connect_timeout(&self.ctrl, Duration::from_secs(5))?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        tcp.write_all(format!("{}:{json},", json.len()).as_bytes())?;
        // The connection also carries events; read netstrings until our response.
        for _ in 0..100 {
            let msg = read_netstring(&mut tcp)
                .with_context(|| format!("baresip ctrl_tcp answer to {command}"))?;
            if msg.contains(r#""response":true"#) && msg.contains(&token) {
                if !msg.contains(r#""ok":true"#) {
                    bail!("baresip refused {command} {params}: {msg}");
                }
                return Ok(msg);
            }
        }
        bail!("baresip sent no response to {command}")
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One SIP message in baresip's trace.
#[derive(Debug)]
struct Traced {
    /// Sent by baresip (otherwise received).
    sent: bool,
    /// Request or status line.
    start: String,
    /// The method named in CSeq.
    cseq_method: String,
}

/// `LEN:payload,` (the framing `ctrl_tcp` uses).
fn read_netstring(r: &mut impl Read) -> Result<String> {
    let mut len = 0usize;
    let mut byte = [0u8; 1];
    loop {
        r.read_exact(&mut byte)?;
        match byte[0] {
            b':' => break,
            d @ b'0'..=b'9' if len < 1_000_000 => len = len * 10 + usize::from(d - b'0'),
            other => bail!("bad netstring length byte {other:#x}"),
        }
    }
    let mut body = vec![0u8; len + 1];
    r.read_exact(&mut body)?;
    if body.pop() != Some(b',') {
        bail!("netstring not terminated by ','");
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Copies `template` to `out`, replacing each `{{NAME}}`; fails on any name left over.
fn fill_template(template: &Path, out: &Path, vars: &[(&str, String)]) -> Result<()> {
    let mut text =
        std::fs::read_to_string(template).with_context(|| template.display().to_string())?;
    for (name, value) in vars {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    let unfilled: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("{{"))
        .collect();
    if !unfilled.is_empty() {
        bail!(
            "{}: unfilled template fields in {unfilled:?}",
            template.display()
        );
    }
    std::fs::write(out, text)?;
    Ok(())
}

/// A mono 16-bit PCM WAV file holding a sine tone: baresip's microphone. aufile needs the
/// call's 8 kHz rate, and baresip hangs up when the file ends ("audio error (0,end of
/// file)"), so it must outlast every call.
fn tone_wav(freq: f64, rate: u32, length: Duration) -> Vec<u8> {
    let samples = (f64::from(rate) * length.as_secs_f64()) as u32;
    let data_len = samples * 2;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for n in 0..samples {
        let v = (std::f64::consts::TAU * freq * f64::from(n) / f64::from(rate)).sin() * 8000.0;
        w.extend_from_slice(&(v as i16).to_le_bytes());
    }
    w
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What went wrong, with both sides' output.
fn context(what: &str, server: &Server, phone: &Baresip) -> String {
    format!(
        "{what}\n--- baresip ---\n{}\n--- server ---\n{}",
        tail(&phone.log_text(), 150),
        tail(&server.log_text(), 60)
    )
}

#[test]
fn baresip_registers_and_answers_a_call() {
    in_private_netns("baresip_registers_and_answers_a_call", TEST_LIMIT, || {
        let server = default_server();
        let phone = Baresip::start(server.sip, "1002", "zama1002", "answermode=auto").unwrap();
        let start = Instant::now();
        // caller_hold.xml fails unless the call is answered 200, takes the ACK, and its BYE after
        // hold_ms gets a 200.
        Sipp::new("caller_hold.xml", server.sip)
            .service("1002")
            .set("hold_ms", "1000")
            .run()
            .with_context(|| context("the call to baresip failed", &server, &phone))
            .unwrap();
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(1),
            "the call lasted only {took:?}"
        );
        // And baresip itself took part in every step: INVITE in, 200 out, ACK in, BYE in,
        // 200 out (the last may trail sipp's exit by a moment).
        let steps = [
            (false, "INVITE sip:1002", "INVITE"),
            (true, "SIP/2.0 200", "INVITE"),
            (false, "ACK sip:1002", "ACK"),
            (false, "BYE sip:1002", "BYE"),
            (true, "SIP/2.0 200", "BYE"),
        ];
        for (sent, start, method) in steps {
            phone
                .wait_sip(sent, start, method, Duration::from_secs(10))
                .with_context(|| context("baresip's part of the call", &server, &phone))
                .unwrap();
        }
        assert!(
            phone.count("Call established: sip:0462009999@") > 0,
            "{}",
            context("not established", &server, &phone)
        );
    });
}

/// What the MD5 default avoids: offered SHA-256 beside MD5, baresip 1.0 gives up on the
/// 401 ("Function not implemented") and never registers, and the server logs one line that
/// names the phone, its User-Agent and the algorithms offered.
#[test]
fn baresip_cannot_use_a_sha256_challenge_and_the_server_says_so() {
    in_private_netns(
        "baresip_cannot_use_a_sha256_challenge_and_the_server_says_so",
        TEST_LIMIT,
        || {
            let server = Server::start(ServerOptions {
                extra_args: vec!["--digest-algorithms".into(), "SHA-256,MD5".into()],
                ..ServerOptions::default()
            })
            .unwrap();
            let phone = Baresip::spawn(server.sip, "1002", "zama1002", "answermode=auto").unwrap();
            // The watch gives a phone 10 s to answer and is swept every 5 s.
            let needle = "answered none of them";
            assert!(
                server.wait_log(needle, 1, Duration::from_secs(40)),
                "{}",
                context("no log line for the unanswered challenge", &server, &phone)
            );
            let text = server.log_text();
            let line = text.lines().find(|l| l.contains(needle)).unwrap();
            assert!(
                line.contains("baresip") && line.contains("SHA-256, MD5") && line.contains("1002"),
                "{line}"
            );
            assert_eq!(
                phone.count("} 200 OK"),
                0,
                "{}",
                context("baresip registered after all", &server, &phone)
            );
            // Logged once, not once per retry.
            assert_eq!(text.matches(needle).count(), 1);
        },
    );
}

/// Proof that the answering test can fail: a phone that rings but never answers leaves
/// the sipp caller without its 200.
#[test]
fn a_baresip_that_does_not_answer_fails_the_caller() {
    in_private_netns(
        "a_baresip_that_does_not_answer_fails_the_caller",
        TEST_LIMIT,
        || {
            let server = default_server();
            let phone =
                Baresip::start(server.sip, "1002", "zama1002", "answermode=manual").unwrap();
            let result = Sipp::new("caller_hold.xml", server.sip)
                .service("1002")
                .set("hold_ms", "1000")
                .arg("-timeout")
                .arg("4s")
                .run();
            assert!(
                result.is_err(),
                "{}",
                context("the caller passed though nobody answered", &server, &phone)
            );
            phone
                .wait_for("incoming call", Duration::from_secs(10), |l| {
                    l.contains("Incoming call from")
                })
                .unwrap();
            assert_eq!(phone.count("Call established"), 0);
        },
    );
}

#[test]
fn baresip_sends_rfc4733_dtmf_in_a_call() {
    in_private_netns("baresip_sends_rfc4733_dtmf_in_a_call", TEST_LIMIT, || {
        let server = default_server();
        let phone = Baresip::start(server.sip, "1002", "zama1002", "answermode=auto").unwrap();
        let rtp = RtpSink::start();
        let caller = Sipp::new("caller_rtp.xml", server.sip)
            .service("1002")
            .set("rtp_port", &rtp.port.to_string())
            // Long enough for both keys, sent over baresip's control connection, on a
            // loaded host.
            .set("hold_ms", "6000")
            .spawn()
            .unwrap();
        phone
            .wait_for("established call", Duration::from_secs(10), |l| {
                l.contains("Call established")
            })
            .unwrap();
        // RFC 4733 telephone-events (payload type 101, from the offer) go straight to the
        // caller's media port: the server passes SDP through.
        phone.command("sndcode", "1").unwrap();
        phone.command("sndcode", "#").unwrap();
        let start = Instant::now();
        while rtp.digits(101) != "1#" && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The caller's verdict first: it explains most other failures.
        caller
            .wait()
            .with_context(|| context("the caller failed", &server, &phone))
            .unwrap();
        let what = format!(
            "telephone-events at the caller: {:?} (timestamp, event, end)",
            rtp.events(101)
        );
        assert_eq!(rtp.digits(101), "1#", "{}", context(&what, &server, &phone));
        assert!(
            rtp.count(0) > 10,
            "baresip sent only {} PCMU packets",
            rtp.count(0)
        );
    });
}

/// baresip 1.0 cannot send INFO DTMF, but it takes `application/dtmf-relay` INFO; the
/// caller's INFO must cross the server to it.
#[test]
fn caller_info_dtmf_reaches_baresip() {
    in_private_netns("caller_info_dtmf_reaches_baresip", TEST_LIMIT, || {
        let server = default_server();
        let phone = Baresip::start(server.sip, "1002", "zama1002", "answermode=auto").unwrap();
        Sipp::new("caller_info.xml", server.sip)
            .service("1002")
            .set("info_digit", "5")
            .set("hold_ms", "500")
            .run()
            .with_context(|| context("the INFO caller failed", &server, &phone))
            .unwrap();
        phone
            .wait_for("INFO digit", Duration::from_secs(10), |l| {
                l.contains("received DTMF: '5'")
            })
            .with_context(|| context("the relayed INFO did not reach baresip", &server, &phone))
            .unwrap();
    });
}

#[test]
fn baresip_calls_a_sipp_device() {
    in_private_netns("baresip_calls_a_sipp_device", TEST_LIMIT, || {
        let server = default_server();
        let device = Device::start(
            server.sip,
            "1001",
            "zama1001",
            Sipp::new("device_answer.xml", server.sip).set("answer_ms", "200"),
        )
        .unwrap();
        let phone = Baresip::start(server.sip, "1002", "zama1002", "answermode=manual").unwrap();
        phone
            .command("dial", &format!("sip:1001@{}", server.sip))
            .unwrap();
        phone
            .wait_for("established call", Duration::from_secs(10), |l| {
                l.contains("Call established: sip:1001@")
            })
            .with_context(|| context("baresip's call to 1001 was not answered", &server, &phone))
            .unwrap();
        // The call itself: held for a second, then baresip hangs up.
        std::thread::sleep(Duration::from_secs(1));
        phone.command("hangup", "").unwrap();
        // device_answer.xml fails unless the BYE reaches it (and it answers 200).
        device
            .finish()
            .with_context(|| context("the device did not see the call end", &server, &phone))
            .unwrap();
        let steps = [
            (true, "INVITE sip:1001@", "INVITE"),
            (false, "SIP/2.0 200", "INVITE"),
            (true, "ACK ", "ACK"),
            (true, "BYE ", "BYE"),
            (false, "SIP/2.0 200", "BYE"),
        ];
        for (sent, start, method) in steps {
            phone
                .wait_sip(sent, start, method, Duration::from_secs(10))
                .with_context(|| context("baresip's call", &server, &phone))
                .unwrap();
        }
    });
}

/// baresip presses keys (RFC 4733) in a call the host answers itself (the line test, `*97`):
/// the host's DTMF detection gets them in order.
#[test]
fn baresip_keys_reach_a_host_answered_call() {
    in_private_netns(
        "baresip_keys_reach_a_host_answered_call",
        TEST_LIMIT,
        || {
            let server = default_server();
            let phone =
                Baresip::start(server.sip, "1002", "zama1002", "answermode=manual").unwrap();
            phone
                .command("dial", &format!("sip:*97@{}", server.sip))
                .unwrap();
            phone
                .wait_for("established call", Duration::from_secs(10), |l| {
                    l.contains("Call established")
                })
                .with_context(|| context("the line test did not answer", &server, &phone))
                .unwrap();
            for key in ["4", "2", "#"] {
                phone.command("sndcode", key).unwrap();
                std::thread::sleep(Duration::from_millis(300));
            }
            // Hang up once the host has taken all three keys (bounded; a lost key shows in
            // the result checked below).
            server.wait_log("line test: key", 3, Duration::from_secs(10));
            phone.command("hangup", "").unwrap();
            let t0 = Instant::now();
            let finished = loop {
                let log = server.log_text();
                if let Some(l) = log.lines().find(|l| l.contains("line test finished")) {
                    break l.to_string();
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "{}",
                    context("no line test result", &server, &phone)
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            assert!(finished.contains("digits=42#"), "keys in order: {finished}");
        },
    );
}

/// baresip with `mediaenc=srtp-mand` (SDES-SRTP, RTP/SAVP) as 1002, a user whose calls must be
/// encrypted, calls a plain sipp phone: the host answers its SRTP offer, decrypts, relays
/// plain RTP to the other leg and records the decrypted audio: the caller's channel holds
/// baresip's 440 Hz tone.
#[test]
fn baresip_srtp_call_is_recorded_decrypted() {
    in_private_netns(
        "baresip_srtp_call_is_recorded_decrypted",
        TEST_LIMIT,
        || {
            let server = Server::start(ServerOptions {
                config: Some("[media]\nsrtp_required_users = [\"1002\"]\n".into()),
                ..ServerOptions::default()
            })
            .unwrap();
            let device = Device::start(
                server.sip,
                "1001",
                "zama1001",
                Sipp::new("device_answer.xml", server.sip).set("answer_ms", "200"),
            )
            .unwrap();
            let phone = Baresip::start(
                server.sip,
                "1002",
                "zama1002",
                "answermode=manual;mediaenc=srtp-mand",
            )
            .unwrap();
            phone
                .command("dial", &format!("sip:1001@{}", server.sip))
                .unwrap();
            phone
                .wait_for("established call", Duration::from_secs(10), |l| {
                    l.contains("Call established: sip:1001@")
                })
                .with_context(|| context("baresip's SRTP call was not answered", &server, &phone))
                .unwrap();
            std::thread::sleep(Duration::from_secs(3));
            phone.command("hangup", "").unwrap();
            device
                .finish()
                .with_context(|| context("the device did not see the call end", &server, &phone))
                .unwrap();
            // Both offer and answer were RTP/SAVP with SDES keys.
            let log = phone.log_text();
            assert!(
                log.matches("RTP/SAVP").count() >= 2 && log.contains("a=crypto:"),
                "{}",
                context(
                    "no SDES-SRTP offer and answer in baresip's trace",
                    &server,
                    &phone
                )
            );
            let wav =
                madoguchi_tests::audio::finished_recordings(&server.data.join("recordings"), 1);
            let (left, _right) = madoguchi_tests::audio::channels(&wav[0]);
            let (tone, off) = (
                madoguchi_tests::audio::power(&left, 440.0),
                madoguchi_tests::audio::power(&left, 1777.0),
            );
            println!(
                "caller channel: 440 Hz {tone:.3e}, off-tone {off:.3e}, {} samples",
                left.len()
            );
            assert!(
                tone > 1e9 && tone > 100.0 * off,
                "{}",
                context(
                    &format!("the recording lacks baresip's decrypted tone: 440 Hz {tone:.3e}, off-tone {off:.3e}"),
                    &server,
                    &phone
                )
            );
        },
    );
}
