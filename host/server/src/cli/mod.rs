//! Command-line subcommands other than `serve`.
pub mod console_user;
pub mod key;
pub mod out;
pub mod plugin;
pub mod recording;
pub mod scenario;
pub mod scenario_plan;
pub mod token;
pub mod user;
