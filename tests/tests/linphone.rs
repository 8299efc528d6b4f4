//! Linphone (Debian's `linphone-cli` 5.1, `linphonec`) against the real server with its
//! default flags: it registers with digest auth, answers a call placed by sipp and places
//! a call to a sipp device (R-PBX-2). And when the server offers SHA-256 beside MD5,
//! linphone answers the SHA-256 challenge (RFC 8760): the algorithm is kept for the phones
//! that can use it.
//!
//! linphonec is driven headless through its standard input (the commands `register`,
//! `autoanswer`, `call`, `status`), with WAV files in place of a sound card
//! (`soundcard use files`). Its SIP socket is UDP only, on a port the test picks. Each test
//! runs in a private network namespace like baresip's ([`in_private_netns`]), so nothing
//! can leave the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{free_media_port, free_port, in_private_netns, Server, ServerOptions};

const TEST_LIMIT: Duration = Duration::from_secs(120);

/// One linphonec process with its own home and config; killed on drop.
struct Linphone {
    child: Child,
    stdin: ChildStdin,
    log: Arc<Mutex<Vec<String>>>,
    dir: tempfile::TempDir,
}

impl Linphone {
    /// Starts linphonec (UDP on a free port, no TCP/TLS, files for sound) and registers
    /// `user` at `server`, waiting until linphonec reports the registration.
    fn start(server: SocketAddr, user: &str, password: &str) -> Result<Linphone> {
        let dir = tempfile::tempdir()?;
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".local/share/linphone"))?;
        let rc = dir.path().join("linphonerc");
        std::fs::write(
            &rc,
            format!(
                "[sip]\nsip_port={}\nsip_tcp_port=-1\nsip_tls_port=-1\n\
                 [rtp]\naudio_rtp_port={}\n[sound]\nechocancellation=0\n[net]\nipv6=0\n",
                free_port(),
                free_media_port()
            ),
        )?;
        let log_file = dir.path().join("linphone.log");
        let mut child = Command::new("linphonec")
            .arg("-c")
            .arg(&rc)
            .args(["-d", "6", "-l"])
            .arg(&log_file)
            .env("HOME", &home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn linphonec (Debian package linphone-cli: scripts/setup)")?;
        let stdin = child.stdin.take().context("linphonec stdin")?;
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
        let mut phone = Linphone {
            child,
            stdin,
            log,
            dir,
        };
        phone.cmd("soundcard use files")?;
        phone.cmd(&format!(
            "register sip:{user}@{server} sip:{server} {password}"
        ))?;
        let t0 = Instant::now();
        loop {
            phone.cmd("status register")?;
            std::thread::sleep(Duration::from_millis(300));
            if phone.count("registered, identity=") > 0 {
                return Ok(phone);
            }
            if t0.elapsed() > Duration::from_secs(15) {
                bail!("linphone did not register:\n{}", phone.log_text());
            }
        }
    }

    fn cmd(&mut self, line: &str) -> Result<()> {
        writeln!(self.stdin, "{line}").context("write to linphonec")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    fn count(&self, needle: &str) -> usize {
        self.log_text().matches(needle).count()
    }

    /// linphonec's own debug log (SIP messages included).
    fn debug_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("linphone.log")).unwrap_or_default()
    }

    /// Waits until `needle` has been printed `times` times.
    fn wait_for(&self, what: &str, needle: &str, times: usize, limit: Duration) -> Result<()> {
        let t0 = Instant::now();
        while self.count(needle) < times {
            if t0.elapsed() > limit {
                bail!("linphone: no {what} within {limit:?}:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        let _ = self.cmd("quit");
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(2) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn context(what: &str, server: &Server, phone: &Linphone) -> String {
    let text = server.log_text();
    let tail: Vec<&str> = text.lines().rev().take(60).collect();
    format!(
        "{what}\n--- linphonec ---\n{}\n--- server ---\n{}",
        phone.log_text(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}

#[test]
fn linphone_registers_answers_and_calls_with_default_flags() {
    in_private_netns(
        "linphone_registers_answers_and_calls_with_default_flags",
        TEST_LIMIT,
        || {
            let server = Server::start(ServerOptions::default()).unwrap();
            let mut phone = Linphone::start(server.sip, "1002", "zama1002").unwrap();
            phone.cmd("autoanswer enable").unwrap();
            // sipp calls 1002; caller_hold.xml fails unless linphone answers 200, and its
            // BYE after hold_ms gets a 200.
            Sipp::new("caller_hold.xml", server.sip)
                .service("1002")
                .set("hold_ms", "1000")
                .run()
                .with_context(|| context("the call to linphone failed", &server, &phone))
                .unwrap();
            // linphone calls 1001 (a sipp device that answers and hangs up): its INVITE
            // is challenged (a local user must prove who it is) and it answers MD5.
            let device = Device::answering(server.sip, "1001", "zama1001").unwrap();
            phone.cmd(&format!("call sip:1001@{}", server.sip)).unwrap();
            phone
                .wait_for("connected call", "connected.", 2, Duration::from_secs(15))
                .with_context(|| context("linphone's call", &server, &phone))
                .unwrap();
            // The device's scenario ends with the BYE linphone sends.
            phone.cmd("terminate").unwrap();
            device
                .finish()
                .with_context(|| context("the call from linphone failed", &server, &phone))
                .unwrap();
        },
    );
}

/// Offered SHA-256 first (and MD5 beside it), linphone answers SHA-256.
#[test]
fn linphone_answers_sha256_when_offered() {
    in_private_netns("linphone_answers_sha256_when_offered", TEST_LIMIT, || {
        let server = Server::start(ServerOptions {
            extra_args: vec!["--digest-algorithms".into(), "SHA-256,MD5".into()],
            ..ServerOptions::default()
        })
        .unwrap();
        let phone = Linphone::start(server.sip, "1002", "zama1002").unwrap();
        let debug = phone.debug_log();
        let answer = debug
            .lines()
            .find(|l| l.starts_with("Authorization:") || l.contains("Authorization: Digest"))
            .unwrap_or_else(|| panic!("{}", context("no Authorization sent", &server, &phone)));
        assert!(
            answer.contains("algorithm=SHA-256"),
            "linphone answered {answer}"
        );
    });
}
