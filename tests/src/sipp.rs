//! Running sipp (Debian's `sip-tester`) scenarios from `tests/sipp/` against the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use anyhow::{bail, Context, Result};

use crate::{free_port, repo_root};

/// One sipp process playing a scenario file.
pub struct Sipp {
    args: Vec<String>,
    scenario: String,
    port: u16,
    cwd: Option<PathBuf>,
}

impl Sipp {
    /// `scenario` is a file name in `tests/sipp/`.
    pub fn new(scenario: &str, server: SocketAddr) -> Sipp {
        let path: PathBuf = repo_root().join("tests/sipp").join(scenario);
        let port = free_port();
        let args = vec![
            server.to_string(),
            "-sf".into(),
            path.display().to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-m".into(),
            "1".into(),
            "-nostdin".into(),
            "-timeout".into(),
            "30s".into(),
            "-timeout_error".into(),
            "-max_recv_loops".into(),
            "1000".into(),
            "-mp".into(),
            free_port().to_string(),
        ];
        Sipp {
            args,
            scenario: scenario.to_string(),
            port,
            cwd: None,
        }
    }

    /// Runs sipp in `dir` (files a scenario names, such as pcaps, are found there).
    pub fn cwd(mut self, dir: &std::path::Path) -> Sipp {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// The local SIP port this sipp uses.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Digest credentials (`-au`/`-ap`) and the `user` scenario variable.
    pub fn user(self, user: &str, password: &str) -> Sipp {
        self.set("user", user)
            .arg("-au")
            .arg(user)
            .arg("-ap")
            .arg(password)
    }

    /// `-set name value` (scenario variable).
    pub fn set(mut self, name: &str, value: &str) -> Sipp {
        self.args.extend(["-set".into(), name.into(), value.into()]);
        self
    }

    /// Any other sipp arguments.
    pub fn arg(mut self, a: &str) -> Sipp {
        self.args.push(a.into());
        self
    }

    /// The user part dialled (`-s`).
    pub fn service(self, s: &str) -> Sipp {
        self.arg("-s").arg(s)
    }

    pub fn spawn(&self) -> Result<SippRun> {
        let mut cmd = Command::new("sipp");
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let child = cmd
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn sipp (install Debian's sip-tester: scripts/setup)")?;
        Ok(SippRun {
            child: Some(child),
            scenario: self.scenario.clone(),
        })
    }

    /// Runs to completion; fails with sipp's output unless the scenario passed.
    pub fn run(&self) -> Result<()> {
        self.spawn()?.wait()
    }
}

/// A sipp process in flight; killed if dropped unfinished.
pub struct SippRun {
    child: Option<Child>,
    scenario: String,
}

impl SippRun {
    /// Non-blocking: `Some(result)` once sipp has exited (as [`SippRun::wait`] would say).
    pub fn try_finish(&mut self) -> Option<Result<()>> {
        let exited = self
            .child
            .as_mut()
            .map(|c| matches!(c.try_wait(), Ok(Some(_))))
            .unwrap_or(true);
        if exited {
            let run = SippRun {
                child: self.child.take(),
                scenario: self.scenario.clone(),
            };
            Some(run.wait())
        } else {
            None
        }
    }

    /// Waits (bounded by sipp's own -timeout) and checks the exit code (0 = all calls passed).
    pub fn wait(mut self) -> Result<()> {
        let child = self.child.take().expect("child present");
        let out: Output = child.wait_with_output()?;
        if out.status.code() != Some(0) {
            bail!(
                "sipp {} failed ({:?}):\n{}\n{}",
                self.scenario,
                out.status,
                tail(&String::from_utf8_lossy(&out.stdout), 40),
                tail(&String::from_utf8_lossy(&out.stderr), 20)
            );
        }
        Ok(())
    }
}

impl Drop for SippRun {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A staff device: a UAS sipp playing `scenario`, registered for `user` by a second sipp
/// (register.xml) whose Contact points at the UAS.
pub struct Device {
    pub uas: SippRun,
}

impl Device {
    /// Starts the UAS, registers it (waiting for the 200), and returns.
    pub fn start(server: SocketAddr, user: &str, password: &str, scenario: Sipp) -> Result<Device> {
        let port = scenario.port();
        let uas = scenario.set("user", user).spawn()?;
        Sipp::new("register.xml", server)
            .user(user, password)
            .set("contact_port", &port.to_string())
            .run()
            .context("device registration")?;
        Ok(Device { uas })
    }

    /// A device that answers its one call at once (`device_answer.xml`, no ringing delay).
    pub fn answering(server: SocketAddr, user: &str, password: &str) -> Result<Device> {
        Device::start(
            server,
            user,
            password,
            Sipp::new("device_answer.xml", server).set("answer_ms", "0"),
        )
    }

    /// Waits for the UAS scenario to finish and checks it passed.
    pub fn finish(self) -> Result<()> {
        self.uas.wait()
    }
}
