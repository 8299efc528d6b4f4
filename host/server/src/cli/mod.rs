//! Command-line subcommands other than `serve`.
pub mod plugin;
pub mod recording;
pub mod user;
