//! Command-line subcommands other than `serve`.
pub mod plugin;
pub mod recording;
pub mod scenario;
pub mod token;
pub mod user;
