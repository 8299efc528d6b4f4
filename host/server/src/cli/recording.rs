//! `madoguchi recording list`: the recordings' call records (one JSON object per line), read
//! from the store while the server is stopped. Recordings are personal data (R-OPS-6): the
//! console and API that show them to staff come with access control and a listening audit.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;
use madoguchi_store::Store;

use crate::core::media::{RecordingMeta, RECORDINGS_TABLE};

#[derive(Debug, Subcommand)]
pub enum RecordingCommand {
    /// Print every recording's metadata as JSON lines.
    List,
}

pub fn run(cmd: RecordingCommand, data: &Path) -> Result<()> {
    let store = Store::open(data)
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    match cmd {
        RecordingCommand::List => {
            for (_, meta) in store.list_json::<RecordingMeta>(RECORDINGS_TABLE)? {
                println!("{}", serde_json::to_string(&meta)?);
            }
        }
    }
    Ok(())
}
