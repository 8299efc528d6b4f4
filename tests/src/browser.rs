//! Browser tests: runs a test file of the `tests/browser/` npm package (real Chromium, driven
//! by playwright-core; see `tests/browser/lib/harness.mjs`) against a server a Rust test
//! started, and fails when the file exits non-zero. `scripts/setup` installs Debian's
//! `chromium`, `fonts-noto-cjk` and the package's `node_modules` (`npm ci`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{repo_root, Server};

/// One browser test file and what it is told.
pub struct BrowserTest {
    file: String,
    env: Vec<(String, String)>,
    limit: Duration,
}

/// Where screenshots go: `target/browser/` (beside the build, kept as test output).
pub fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let target = if target.is_relative() {
        repo_root().join(target)
    } else {
        target
    };
    target.join("browser")
}

impl BrowserTest {
    /// `file` is a path under `tests/browser/`, e.g. `"console-login.mjs"`. The file gets
    /// `MADOGUCHI_HTTP` (`http://ADDR`) and `MADOGUCHI_SIP` of `server`.
    pub fn new(file: &str, server: &Server) -> BrowserTest {
        BrowserTest {
            file: file.into(),
            env: vec![
                ("MADOGUCHI_HTTP".into(), format!("http://{}", server.http)),
                ("MADOGUCHI_SIP".into(), server.sip.to_string()),
            ],
            // A bound for a loaded 2-core host, not a measurement.
            limit: Duration::from_secs(240),
        }
    }

    /// Passes an environment variable to the test file (read it as `env.vars.NAME`).
    pub fn env(mut self, key: &str, value: impl Into<String>) -> BrowserTest {
        self.env.push((key.into(), value.into()));
        self
    }

    /// An admin bearer token for the file's API calls (`env.token`).
    pub fn token(self, token: &str) -> BrowserTest {
        self.env("MADOGUCHI_TOKEN", token)
    }

    /// Reserves `n` (SIP port, media port) pairs for sipp calls the file places itself
    /// (`placeCall` in the harness reads them from `MADOGUCHI_SIPP_PORTS`), so they never
    /// collide with other tests' ports.
    pub fn sipp_ports(self, n: usize) -> BrowserTest {
        let ports: Vec<String> = (0..n)
            .map(|_| format!("{}:{}", crate::free_port(), crate::free_media_port()))
            .collect();
        self.env("MADOGUCHI_SIPP_PORTS", ports.join(","))
    }

    /// The whole run's time limit (default 240 s).
    pub fn limit(mut self, limit: Duration) -> BrowserTest {
        self.limit = limit;
        self
    }

    /// Runs `node tests/browser/FILE` and waits for it; `Err` with everything it printed
    /// when it exits non-zero or runs past the limit. Returns its output when it passes.
    pub fn run(self) -> Result<String> {
        let dir = repo_root().join("tests/browser");
        if !dir.join("node_modules/playwright-core").is_dir() {
            bail!(
                "{}/node_modules/playwright-core is missing: run ./scripts/setup (it runs `npm ci` there)",
                dir.display()
            );
        }
        let out = tempfile::NamedTempFile::new()?;
        let mut cmd = Command::new("node");
        cmd.arg(dir.join(&self.file))
            .current_dir(&dir)
            .env("MADOGUCHI_SHOTS", screenshots_dir())
            // The file's own limit fires first and takes screenshots of what it saw.
            .env(
                "MADOGUCHI_BROWSER_MS",
                (self.limit.as_millis().saturating_sub(10_000)).to_string(),
            )
            .stdin(Stdio::null())
            .stdout(out.as_file().try_clone()?)
            .stderr(out.as_file().try_clone()?);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .context("run node (scripts/setup installs nodejs)")?;
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break Some(s);
            }
            if start.elapsed() > self.limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = std::fs::read_to_string(out.path()).unwrap_or_default();
        // Shown with --nocapture, and in the failure output of cargo test otherwise.
        println!("{text}");
        match status {
            Some(s) if s.success() => Ok(text),
            Some(s) => bail!("browser test {} failed ({s}):\n{text}", self.file),
            None => bail!(
                "browser test {} did not finish within {:?}:\n{text}",
                self.file,
                self.limit
            ),
        }
    }
}
