//! Running sipp (Debian's `sip-tester`) scenarios from `tests/sipp/` against the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::{free_media_port, free_port, repo_root};

/// One sipp process playing a scenario file.
#[derive(Debug, Clone)]
pub struct Sipp {
    args: Vec<String>,
    scenario: String,
    port: u16,
    cwd: Option<PathBuf>,
}

impl Sipp {
    /// `scenario` is a file name in `tests/sipp/`.
    pub fn new(scenario: &str, server: SocketAddr) -> Sipp {
        Sipp::from_path(&repo_root().join("tests/sipp").join(scenario), server)
    }

    /// A scenario file anywhere (tests that write their own).
    pub fn from_path(path: &std::path::Path, server: SocketAddr) -> Sipp {
        let scenario = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
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
            free_media_port().to_string(),
        ];
        Sipp {
            args,
            scenario,
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

    /// Sets `flag`'s value, replacing the one `new` chose (`-m`, `-timeout`, `-p`).
    pub fn option(mut self, flag: &str, value: &str) -> Sipp {
        match self.args.iter().position(|a| a == flag) {
            Some(i) if i + 1 < self.args.len() => self.args[i + 1] = value.to_string(),
            _ => self.args.extend([flag.to_string(), value.to_string()]),
        }
        if flag == "-p" {
            if let Ok(p) = value.parse() {
                self.port = p;
            }
        }
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
        // Output goes to files, not pipes: sipp redraws its screen every second, and a long
        // call would fill a pipe nobody reads until the end and stall sipp.
        let stdout = tempfile::tempfile()?;
        let stderr = tempfile::tempfile()?;
        let child = cmd
            .args(&self.args)
            .stdout(Stdio::from(stdout.try_clone()?))
            .stderr(Stdio::from(stderr.try_clone()?))
            .spawn()
            .context("spawn sipp (install Debian's sip-tester: scripts/setup)")?;
        Ok(SippRun {
            child: Some(child),
            scenario: self.scenario.clone(),
            output: Some((stdout, stderr)),
        })
    }

    /// Runs to completion; fails with sipp's output unless the scenario passed.
    pub fn run(&self) -> Result<()> {
        match self.spawn()?.wait() {
            // Another process took one of the ports between our check and sipp's bind (the
            // suite runs many sipps at once): once more on fresh ports. Anything else fails.
            Err(e) if e.to_string().contains("Address already in use") => self
                .clone()
                .option("-p", &free_port().to_string())
                .option("-mp", &free_media_port().to_string())
                .spawn()?
                .wait(),
            other => other,
        }
    }
}

/// A sipp process in flight; killed if dropped unfinished.
pub struct SippRun {
    child: Option<Child>,
    scenario: String,
    output: Option<(std::fs::File, std::fs::File)>,
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
                output: self.output.take(),
            };
            Some(run.wait())
        } else {
            None
        }
    }

    /// Waits (bounded by sipp's own -timeout) and checks the exit code (0 = all calls passed).
    pub fn wait(mut self) -> Result<()> {
        let mut child = self.child.take().expect("child present");
        let status = child.wait()?;
        if status.code() != Some(0) {
            let read = |f: Option<&std::fs::File>| {
                use std::io::{Read, Seek};
                let mut text = String::new();
                if let Some(mut f) = f {
                    let _ = f.rewind();
                    let _ = f.read_to_string(&mut text);
                }
                text
            };
            let out = self.output.take();
            bail!(
                "sipp {} failed ({status:?}):\n{}\n{}",
                self.scenario,
                tail(&read(out.as_ref().map(|o| &o.0)), 40),
                tail(&read(out.as_ref().map(|o| &o.1)), 20)
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
