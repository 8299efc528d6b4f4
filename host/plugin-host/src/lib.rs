//! (in progress)
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
