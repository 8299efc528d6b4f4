//! Write madoguchi plugins in Rust.
//!
//! A plugin is a Wasm component implementing one world of the
//! `madoguchi:ivr@0.1.0` WIT package (`wit/` at the repository root). This
//! crate gives you one trait per world, each method with a default, typed
//! helpers for prompts, digit collection and actions, and a macro that
//! exports your type:
//!
//! | world              | feature     | trait                            | export macro              |
//! |--------------------|-------------|----------------------------------|---------------------------|
//! | `ivr-node`         | `node`      | `node::Node`                     | `export_node!`            |
//! | `schedule`         | `schedule`  | `schedule::Schedule`             | `export_schedule!`        |
//! | `recording-policy` | `recording` | `recording::RecordingPolicy`     | `export_recording_policy!`|
//!
//! Enable exactly one world feature per plugin crate. The crate is
//! `#![no_std]` + `alloc`; with the default `rt` feature it also supplies the
//! global allocator and a panic handler (which logs the panic through the
//! host, then traps), so a `no_std` plugin needs nothing else. Plugins that
//! use `std` turn `rt` off.
//!
//! Configuration comes from the scenario as JSON and is parsed into your
//! `Config` type with serde; a parse error or your `validate` rejecting it
//! refuses the scenario at upload. Node state survives between the events of
//! one call as JSON of your `State` type.
//!
//! Build with `scripts/build-plugin <dir>`, try with
//! `madoguchi plugin test <component> --config … --events …`.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod bindings;
pub mod digits;
pub mod host;
#[cfg(feature = "node")]
pub mod node;
pub mod prompt;
#[cfg(feature = "recording")]
pub mod recording;
mod rt;
#[cfg(feature = "schedule")]
pub mod schedule;

/// The WIT types shared by all worlds (`madoguchi:ivr/types`).
pub use bindings::base::madoguchi::ivr::types;

/// A `Config` for plugins that take no configuration: accepts any JSON.
pub type NoConfig = serde::de::IgnoredAny;

/// Parse a JSON configuration, naming the problem on failure.
pub fn parse_config<C: serde::de::DeserializeOwned>(
    config: &str,
) -> Result<C, alloc::string::String> {
    let config = if config.trim().is_empty() {
        "{}"
    } else {
        config
    };
    serde_json::from_str(config).map_err(|e| alloc::format!("invalid config: {e}"))
}

#[doc(hidden)]
pub mod __rt {
    pub use alloc::string::String;
    pub use core::result::Result;
}
