//! `madoguchi recording list|export|verify`. `list` prints the recordings' call records (one
//! JSON object per line) from the store, so the server must be stopped. `export` and `verify`
//! read only the recordings directory and the master key, so they work while it runs.
//! Recordings are personal data (R-OPS-6): the console and API that show them to staff come
//! with access control and a listening audit.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use madoguchi_media::recording::{open_recording, RecordingKey};
use madoguchi_store::{MasterKey, Store};

use crate::core::media::{RecordingMeta, RECORDINGS_TABLE};

#[derive(Debug, Subcommand)]
pub enum RecordingCommand {
    /// Print every recording's metadata as JSON lines.
    List,
    /// Write a recording as a plain WAV (decrypted, every segment authenticated). A file
    /// that was altered is refused and nothing is written.
    Export {
        /// The recording's file name (`NAME.wav`) or id (`NAME`).
        name: String,
        /// Where to write the WAV (`-` = standard output).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Check that every finished recording decrypts and authenticates; lists the bad ones.
    Verify,
}

/// The recordings key, from the master key found as the server finds it (without opening
/// the store).
pub fn key_for(data: &Path) -> Result<RecordingKey> {
    let (key, _) = MasterKey::resolve(data, None).context("cannot get the master key")?;
    Ok(crate::protect::recording_key(&key))
}

fn recordings(data: &Path) -> Result<cap_std::fs::Dir> {
    let dir = data.join("recordings");
    cap_std::fs::Dir::open_ambient_dir(&dir, cap_std::ambient_authority())
        .with_context(|| format!("cannot open {}", dir.display()))
}

pub fn run(cmd: RecordingCommand, data: &Path) -> Result<()> {
    match cmd {
        RecordingCommand::List => {
            let store = Store::open(data)
                .with_context(|| format!("cannot open the store in {}", data.display()))?;
            let mut out = std::io::stdout().lock();
            for (_, meta) in store.list_json::<RecordingMeta>(RECORDINGS_TABLE)? {
                let mut v = serde_json::to_value(&meta)?;
                for (unix, at) in [("started_unix", "started_at"), ("ended_unix", "ended_at")] {
                    if let Some(t) = v.get(unix).and_then(serde_json::Value::as_u64) {
                        v[at] = crate::observe::time::rfc3339_jst(t).into();
                    }
                }
                // `madoguchi recording list | head`: a closed pipe ends the listing quietly.
                if !super::out::line(&mut out, &serde_json::to_string(&v)?)? {
                    return Ok(());
                }
            }
        }
        RecordingCommand::Export { name, out } => {
            let file = if name.ends_with(".wav") {
                name
            } else {
                format!("{name}.wav")
            };
            if file.contains('/') || file.starts_with('.') {
                bail!("{file:?} is not a recording name");
            }
            let key = key_for(data)?;
            let dir = recordings(data)?;
            let audio = open_recording(&dir, &file, Some(&key))
                .with_context(|| format!("cannot open recording {file}"))?;
            // Read (and authenticate) everything before writing anything.
            let wav = audio
                .read_all()
                .with_context(|| format!("recording {file} refused"))?;
            if out.as_os_str() == "-" {
                std::io::stdout().write_all(&wav)?;
            } else {
                std::fs::write(&out, &wav)
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
        }
        RecordingCommand::Verify => {
            let key = key_for(data)?;
            let dir = recordings(data)?;
            let mut names: Vec<String> = dir
                .entries()?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".wav"))
                .collect();
            names.sort();
            let mut bad = 0;
            for n in &names {
                let checked = open_recording(&dir, n, Some(&key))
                    .map_err(anyhow::Error::from)
                    .and_then(|a| {
                        let sealed = a.is_sealed();
                        a.read_all()?;
                        Ok(sealed)
                    });
                match checked {
                    Ok(sealed) => println!("ok\t{}\t{n}", if sealed { "sealed" } else { "plain" }),
                    Err(e) => {
                        bad += 1;
                        println!("BAD\t{n}\t{e:#}");
                    }
                }
            }
            if bad > 0 {
                bail!("{bad} of {} recordings failed the check", names.len());
            }
        }
    }
    Ok(())
}
