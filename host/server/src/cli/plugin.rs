//! `madoguchi plugin test`: run a plugin component against a scripted call and print what
//! it answers, so integrators can try a plugin before uploading it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Feed a component the events of a scripted call and print its actions.
    Test {
        /// The plugin component (`.wasm`), e.g. built by `scripts/build-plugin`.
        component: PathBuf,
        /// The node's configuration (JSON file) as a scenario would give it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The scripted events (JSON file).
        #[arg(long)]
        events: Option<PathBuf>,
    },
}

pub fn run(cmd: PluginCommand) -> Result<()> {
    match cmd {
        PluginCommand::Test {
            component,
            config,
            events,
        } => {
            let bytes = std::fs::read(&component)
                .with_context(|| format!("cannot read component {}", component.display()))?;
            let read = |p: &Option<PathBuf>, default: &str| -> Result<String> {
                match p {
                    Some(p) => std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display())),
                    None => Ok(default.to_string()),
                }
            };
            let config = read(&config, "{}")?;
            let events = read(&events, "[]")?;
            let transcript = madoguchi_plugin_host::scripted::run(&bytes, &config, &events)
                .with_context(|| format!("plugin {} failed", component.display()))?;
            print!("{transcript}");
            Ok(())
        }
    }
}
