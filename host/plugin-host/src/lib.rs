//! Runs madoguchi's sandboxed Wasm plugins: IVR nodes, schedules and
//! recording policies.
//!
//! # The contract
//!
//! `wit/ivr.wit` at the repository root is the WIT package
//! `madoguchi:ivr@0.1.0`, one world per plugin kind ([`PluginKind`]):
//!
//! | world              | exports                              | imports                    |
//! |--------------------|--------------------------------------|----------------------------|
//! | `ivr-node`         | `node-api` (`validate-config`, `handle`) | `clock`, `log`, `schedules` |
//! | `schedule`         | `schedule-api` (`validate-config`, `check`) | `clock`, `log`          |
//! | `recording-policy` | `recording-api` (`validate-config`, `decide`) | `clock`, `log`        |
//!
//! The Rust types of the contract are in [`bindings::types`] (`Event`,
//! `Action`, `Step`, `NodeInput`, `ScheduleAnswer`, `RecordingDecision`, …).
//! A plugin has no ambient authority: its imports are all it can reach.
//! Guests built for `wasm32-wasip2` (std) also get an empty WASI context,
//! built only if they touch it: no files, no env, no args, no sockets,
//! stdout discarded, stderr captured (4 KiB) for trap messages.
//!
//! # The runtime
//!
//! One [`Runtime`] per process: a wasmtime engine with the component model,
//! the pooling allocator ([`RuntimeConfig::max_instances`] slots), and one
//! linker per kind. [`Runtime::load`] checks a component (size, is a
//! component, exports exactly one plugin world at a compatible version,
//! imports only what its kind is given), compiles it once — cached on disk
//! by SHA-256 in [`RuntimeConfig::cache_dir`] — and pre-links it into an
//! `InstancePre`. A [`Plugin`] instantiates cheaply from that; an
//! [`Instance`] lives in its own store for one call and may serve several
//! steps of it.
//!
//! Every call into a plugin gets a fresh deadline (default 10 ms) and each
//! instance a memory cap (default 16 MiB). The deadline is an epoch
//! deadline (a ticker thread bumps the epoch every 1 ms) checked against the
//! thread's CPU time, so a healthy plugin preempted on a busy host is not
//! killed (wall time is capped at 100× the budget as a backstop). Whatever a
//! plugin does wrong — loop, allocate without bound, trap, answer something
//! malformed or against the contract ([`answer`]) — ends as a typed
//! [`PluginError`], the instance is poisoned, and nothing else is affected.
//! The caller takes its fallback: the IVR the node's fallback route; a
//! failed recording policy means "record, with the default notice"
//! ([`recording::decide_or_fallback`]).
//!
//! Calls are synchronous and short. From async code use the `*_async`
//! methods of [`Plugin`], which run the call on tokio's blocking pool so a
//! plugin never stalls the executor.
//!
//! ```no_run
//! use madoguchi_plugin_host::bindings::types::{CallFacts, Event, NodeInput};
//! use madoguchi_plugin_host::{CallContext, Runtime, RuntimeConfig};
//!
//! let rt = Runtime::new(RuntimeConfig::default())?;
//! let menu = rt.load("menu@1.0.0", &std::fs::read("target/plugins/menu.wasm")?)?;
//! let config = r#"{"prompt": "menu-main", "options": {"1": "payments"}, "fallback": "operator"}"#;
//! menu.validate_config(&CallContext::new("upload"), config)?;
//! let mut node = menu.instantiate(&CallContext::new("call-1"))?;
//! let mut input = NodeInput {
//!     facts: CallFacts { call_id: "call-1".into(), caller: "+81462520000".into(),
//!                        did: "+81462511111".into(), variables: vec![] },
//!     config: config.into(),
//!     state: String::new(),
//! };
//! let step = node.handle(&input, &Event::Entered)?;   // collect 1 digit
//! input.state = step.state;
//! let step = node.handle(&input, &Event::Digits("1".into()))?; // goto payments
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Around it
//!
//! - [`Registry`]: uploaded components, content-addressed on disk, indexed
//!   by `name@version` in redb (`plugin_versions`), refused on upload with a
//!   reason, removable unless pinned by a published scenario.
//! - [`PluginSchedules`]: named schedules backed by schedule plugins, what
//!   a node's `schedules.query` reaches (give it in [`CallContext`]).
//! - [`scripted::run`]: the library side of `madoguchi plugin test`.
//! - [`clock`]: the plugin clock (Asia/Tokyo by default; fixed in tests).
// Not `forbid`: the one `unsafe` is `Component::deserialize` of this host's
// own compilation cache, justified where it is (runtime.rs).
#![deny(unsafe_code)]
pub mod answer;
pub mod bindings;
pub mod clock;
mod config;
mod error;
mod kind;
mod plugin;
pub mod recording;
mod registry;
mod runtime;
mod schedules;
pub mod scripted;
mod state;

pub use config::RuntimeConfig;
pub use error::{LoadError, PluginError};
pub use kind::{PluginKind, WIT_VERSION};
pub use plugin::{Instance, Plugin};
pub use registry::{parse_reference, PluginMeta, Registry, RegistryError};
pub use runtime::{sha256_hex, Runtime, RuntimeError};
pub use schedules::PluginSchedules;
pub use state::{CallContext, ScheduleSource};
