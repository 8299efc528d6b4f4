//! `madoguchi`: the IVR and cloud PBX server and its command line.
#![forbid(unsafe_code)]

mod acl;
mod api;
mod cli;
mod config;
mod console;
mod core;
mod ivr;
mod limits;
mod observe;
mod phone;
mod protect;
mod recordings;
mod serve;
mod tls_config;
mod tls_setup;
mod transport;
mod trunks;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// madoguchi (窓口): Wasm-plugin IVR and cloud PBX.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Run the demo on loopback: demo users 1001-1003 (passwords zama1001…) and the server.
    Demo(serve::ServeArgs),
    /// Work with Wasm plugins.
    Plugin {
        #[command(subcommand)]
        command: cli::plugin::PluginCommand,
    },
    /// Call recordings.
    Recording {
        #[command(subcommand)]
        command: cli::recording::RecordingCommand,
        /// Data directory (the embedded store lives here).
        #[arg(long, global = true, default_value = "data")]
        data: PathBuf,
    },
    /// The master key that seals users' secrets and recordings (run with the server stopped).
    Key {
        #[command(subcommand)]
        command: cli::key::KeyCommand,
        /// Data directory (the embedded store lives here).
        #[arg(long, global = true, default_value = "data")]
        data: PathBuf,
    },
    /// Admin API bearer tokens (opens the store directly: run with the server stopped).
    Token {
        #[command(subcommand)]
        command: cli::token::TokenCommand,
        /// Data directory (the embedded store lives here).
        #[arg(long, global = true, default_value = "data")]
        data: PathBuf,
    },
    /// People who log into the web console (opens the store directly: run with the server
    /// stopped).
    ConsoleUser {
        #[command(subcommand)]
        command: cli::console_user::ConsoleUserCommand,
        /// Data directory (the embedded store lives here).
        #[arg(long, global = true, default_value = "data")]
        data: PathBuf,
    },
    /// Validate, upload, publish and roll back IVR scenarios through a running server's API.
    Scenario(cli::scenario::ScenarioArgs),
    /// Manage SIP users (staff extensions).
    User {
        #[command(subcommand)]
        command: cli::user::UserCommand,
        /// Data directory (the embedded store lives here).
        #[arg(long, global = true, default_value = "data")]
        data: PathBuf,
    },
}

/// Errors are printed once, as `error: what (cause: …)`, and the exit status is 1.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args, false),
        Command::Demo(args) => serve::run(args, true),
        Command::User { command, data } => cli::user::run(command, &data),
        Command::Plugin { command } => cli::plugin::run(command),
        Command::Recording { command, data } => cli::recording::run(command, &data),
        Command::Key { command, data } => cli::key::run(command, &data),
        Command::Token { command, data } => cli::token::run(command, &data),
        Command::ConsoleUser { command, data } => cli::console_user::run(command, &data),
        Command::Scenario(args) => cli::scenario::run(args),
    }
}
