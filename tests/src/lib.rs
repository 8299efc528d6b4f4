//! Shared helpers for the integration tests: start the real `madoguchi` binary on free
//! loopback ports with a fresh data directory, and drive real SIP peers (sipp, baresip)
//! against it. Nothing here fakes a SIP peer.

pub mod audio;
pub mod browser;
pub mod ivr;
pub mod load;
pub mod ports;
pub mod rtp_sink;
pub mod signal;
pub mod sipp;
pub mod tls_sip;

pub use ports::{free_media_port, free_port};

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `../shared` beside the checkout: conformance messages, holiday list.
pub fn shared_dir() -> PathBuf {
    let p = repo_root().join("../shared");
    assert!(
        p.is_dir(),
        "shared material not found at {} (CI clones it beside the repo)",
        p.display()
    );
    p
}

/// The `madoguchi` binary built by the same cargo invocation (scripts/test builds it first).
pub fn server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("MADOGUCHI_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-binary> or target/<profile>/<bench-binary>
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    for candidate in [
        dir.join("madoguchi"),
        dir.parent()
            .map(|p| p.join("madoguchi"))
            .unwrap_or_default(),
    ] {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("madoguchi binary not found near {}: build it with `cargo build -p madoguchi` (scripts/test does)", exe.display())
}

/// A running server; killed on drop. Its log is kept for assertions and failure output.
pub struct Server {
    child: Child,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    log: Arc<Mutex<Vec<String>>>,
    /// The threads copying stdout and stderr into `log`; they end when the process does.
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// What to start.
pub struct ServerOptions {
    pub subcommand: &'static str,
    pub extra_args: Vec<String>,
    pub users: Vec<(&'static str, &'static str)>,
    pub data: Option<PathBuf>,
    pub tcp: bool,
    /// Reuse a port (restart tests); a free one otherwise.
    pub sip_port: Option<u16>,
    /// A config file's text (`--config`); `{sip}` stands for the SIP address chosen. When it
    /// has its own `[[listener]]`s, no `--sip` flags are passed (they would replace them).
    pub config: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            subcommand: "serve",
            // The server's defaults: sipp, baresip and linphone register with them.
            extra_args: vec![],
            users: vec![
                ("1001", "zama1001"),
                ("1002", "zama1002"),
                ("1003", "zama1003"),
            ],
            data: None,
            tcp: true,
            sip_port: None,
            config: None,
        }
    }
}

impl Server {
    /// Creates the users with the CLI (real redb file), then starts the server and waits
    /// until it answers SIP OPTIONS.
    pub fn start(opts: ServerOptions) -> Result<Server> {
        let (tmp, data) = match &opts.data {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        for (user, pass) in &opts.users {
            add_user(&data, user, pass)?;
        }
        let port = opts.sip_port.unwrap_or_else(free_port);
        let http_port = free_port();
        let sip: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let http: SocketAddr = format!("127.0.0.1:{http_port}").parse()?;
        let mut cmd = Command::new(server_bin());
        cmd.arg(opts.subcommand)
            .arg("--data")
            .arg(&data)
            .arg("--http")
            .arg(http.to_string());
        let own_listeners = match &opts.config {
            Some(text) => {
                let path = data.join("test-config.toml");
                std::fs::write(&path, text.replace("{sip}", &sip.to_string()))?;
                cmd.arg("--config").arg(&path);
                text.contains("[[listener]]")
            }
            None => false,
        };
        if !own_listeners {
            cmd.arg("--sip").arg(format!("udp:{sip}"));
            if opts.tcp {
                cmd.arg("--sip").arg(format!("tcp:{sip}"));
            }
        }
        cmd.args(&opts.extra_args)
            // Compiled plugins shared by every test server (a debug build compiles the
            // bundled plugins in ~10 s of CPU; from the cache it takes milliseconds).
            .env(
                "MADOGUCHI_PLUGIN_CACHE",
                repo_root().join("target/test-plugin-cache"),
            )
            .env(
                "RUST_LOG",
                std::env::var("MADOGUCHI_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("spawn madoguchi")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if std::env::var_os("MADOGUCHI_TEST_ECHO").is_some() {
                        eprintln!("[server] {line}");
                    }
                    log.lock().expect("log lock").push(line);
                }
            }));
        }
        let mut server = Server {
            child,
            sip,
            http,
            data,
            _tmp: tmp,
            log,
            readers,
        };
        // A bound, not a measurement: a server compiling its plugins on a loaded machine is slow.
        server.wait_ready(Duration::from_secs(90))?;
        Ok(server)
    }

    /// Polls with SIP OPTIONS until a 200 comes back.
    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut n = 0;
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                // The readers end at the pipes' end: then the log holds the last words.
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                bail!(
                    "server exited ({status}) before it answered; log:\n{}",
                    self.log_text()
                );
            }
            n += 1;
            let local = sock.local_addr()?;
            let msg = format!(
                "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKready{n}\r\nFrom: <sip:probe@{local}>;tag=p{n}\r\nTo: <sip:{sip}>\r\nCall-ID: ready-{n}@test\r\nCSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                sip = self.sip
            );
            let _ = sock.send_to(msg.as_bytes(), self.sip);
            let mut buf = [0u8; 4096];
            if let Ok((len, _)) = sock.recv_from(&mut buf) {
                if buf[..len].starts_with(b"SIP/2.0 200") {
                    return Ok(());
                }
            }
        }
        bail!(
            "server did not answer OPTIONS within {limit:?}; log:\n{}",
            self.log_text()
        )
    }

    /// Everything the server printed so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// Waits until the server's log holds `needle` `count` times; false if it did not
    /// within `bound` (a bound for a loaded host, not a measurement).
    pub fn wait_log(&self, needle: &str, count: usize, bound: Duration) -> bool {
        let t0 = Instant::now();
        loop {
            if self.log_text().matches(needle).count() >= count {
                return true;
            }
            if t0.elapsed() > bound {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id (for CPU and memory figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server hard (SIGKILL), as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `madoguchi user add EXT --name … --password-stdin --data DIR`.
pub fn add_user(data: &Path, user: &str, pass: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new(server_bin())
        .args([
            "user",
            "add",
            user,
            "--name",
            &format!("職員 {user}"),
            "--password-stdin",
            "--data",
        ])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{pass}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "user add {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Set (to the test's name) in the copy of a test that runs inside the private namespace.
const NETNS_TEST: &str = "MADOGUCHI_NETNS_TEST";

/// Runs the test `name` (the `#[test]` fn calling this) inside a private network namespace
/// whose only interface is loopback, with the default route through loopback: peers that
/// pick their address from the default route (baresip) then choose 127.0.0.1, and not one
/// packet can leave the machine. Outside the namespace this re-executes the test binary
/// under `unshare --net` and fails unless the inner run passes within `limit`; inside it
/// calls `body`.
pub fn in_private_netns(name: &str, limit: Duration, body: impl FnOnce()) {
    if std::env::var(NETNS_TEST).as_deref() == Ok(name) {
        body();
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false);
    let out_file = tempfile::NamedTempFile::new().expect("temp file for the inner run's output");
    let mut cmd = Command::new("unshare");
    if root {
        cmd.arg("--net");
    } else {
        cmd.args(["--user", "--map-root-user", "--net"]);
    }
    let mut child = cmd
        .args([
            "--",
            "sh",
            "-c",
            "ip link set lo up && ip route add default dev lo && exec \"$0\" \"$@\"",
        ])
        .arg(std::env::current_exe().expect("current exe"))
        // --include-ignored: this outer run was selected, so the inner copy must run too.
        .args([
            "--exact",
            name,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(NETNS_TEST, name)
        .stdin(Stdio::null())
        .stdout(
            out_file
                .as_file()
                .try_clone()
                .expect("share the output file"),
        )
        .stderr(
            out_file
                .as_file()
                .try_clone()
                .expect("share the output file"),
        )
        .spawn()
        .expect("run unshare (util-linux) and ip (iproute2): scripts/setup installs them");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the inner run") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(out_file.path()).unwrap_or_default();
    println!("{text}");
    match status {
        Some(s) => assert!(
            s.success(),
            "{name} failed inside its network namespace ({s}):\n{text}"
        ),
        None => {
            panic!("{name} did not finish within {limit:?} inside its network namespace:\n{text}")
        }
    }
    // The inner libtest prints this only when it found and ran the test.
    assert!(
        text.contains("1 passed"),
        "{name}: the inner run did not run the test:\n{text}"
    );
}
