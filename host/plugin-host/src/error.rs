//! Typed errors. A plugin fault is never a host fault: every way a guest can
//! misbehave ends as a [`PluginError`] that the caller turns into a fallback.

/// Why a call into a plugin did not produce a usable answer.
///
/// Every variant is contained: the instance that failed is dropped, other
/// instances and calls are unaffected. Callers take the fallback (the IVR
/// the node's fallback route, recording "record with the default notice").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The call ran past its epoch deadline (an infinite loop or a slow plugin).
    #[error("plugin {plugin} exceeded its {limit_ms} ms deadline")]
    Deadline { plugin: String, limit_ms: u64 },
    /// The plugin tried to grow its memory (or tables) past the cap.
    #[error("plugin {plugin} exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit { plugin: String, limit_bytes: usize },
    /// The plugin trapped (panic, unreachable, out-of-bounds access, ...).
    #[error("plugin {plugin} trapped: {message}")]
    Trap { plugin: String, message: String },
    /// The plugin answered `err(message)`: it declined to handle the call.
    #[error("plugin {plugin} failed: {message}")]
    Failed { plugin: String, message: String },
    /// The answer broke the contract (too big, malformed, impossible action order).
    #[error("plugin {plugin} gave a bad answer: {reason}")]
    BadAnswer { plugin: String, reason: String },
    /// The plugin could not be instantiated (instance pool exhausted, start trapped).
    #[error("plugin {plugin} could not be instantiated: {message}")]
    Instantiate { plugin: String, message: String },
    /// The plugin is not of the kind the caller asked for.
    #[error("plugin {plugin} is a {found} plugin, not a {expected} plugin")]
    WrongKind {
        plugin: String,
        expected: crate::PluginKind,
        found: crate::PluginKind,
    },
    /// An earlier call on this instance failed; it must not be used again.
    #[error("plugin {plugin} instance is unusable after an earlier failure")]
    Poisoned { plugin: String },
    /// The blocking worker running the call went away (runtime shutting down).
    #[error("plugin call for {plugin} was cancelled: {message}")]
    Cancelled { plugin: String, message: String },
}

impl PluginError {
    /// The `name@version` of the plugin at fault.
    pub fn plugin(&self) -> &str {
        match self {
            Self::Deadline { plugin, .. }
            | Self::MemoryLimit { plugin, .. }
            | Self::Trap { plugin, .. }
            | Self::Failed { plugin, .. }
            | Self::BadAnswer { plugin, .. }
            | Self::Instantiate { plugin, .. }
            | Self::WrongKind { plugin, .. }
            | Self::Poisoned { plugin }
            | Self::Cancelled { plugin, .. } => plugin,
        }
    }
}

/// Why a component could not be loaded as a plugin. Each message names the
/// problem so an upload can be refused with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Larger than the configured upload limit.
    #[error("component is {size} bytes, over the {limit} byte limit")]
    TooLarge { size: usize, limit: usize },
    /// A core Wasm module, not a component (build with `scripts/build-plugin`).
    #[error("this is a core Wasm module, not a component; build it with scripts/build-plugin")]
    CoreModule,
    /// Not Wasm at all.
    #[error("not a Wasm component (bad magic/version header)")]
    NotWasm,
    /// Wasmtime refused to compile it (malformed or uses unsupported features).
    #[error("component does not compile: {0}")]
    Compile(String),
    /// It exports none of the plugin worlds.
    #[error("component exports no madoguchi plugin world (exports: {exports:?}); expected one of madoguchi:ivr/node-api, schedule-api, recording-api @{}", crate::WIT_VERSION)]
    UnknownWorld { exports: Vec<String> },
    /// It exports more than one plugin world.
    #[error("component exports more than one plugin world: {exports:?}")]
    MultipleWorlds { exports: Vec<String> },
    /// It exports a plugin world at a version this host cannot run.
    #[error(
        "component exports {export}, incompatible with this host's madoguchi:ivr@{}",
        crate::WIT_VERSION
    )]
    IncompatibleVersion { export: String },
    /// It imports something the host does not give plugins (files, network, ...).
    #[error("component imports something a {kind} plugin is not given: {message}")]
    Imports {
        kind: crate::PluginKind,
        message: String,
    },
    /// Its exports do not have the types of the world they claim.
    #[error("component's {kind} exports do not match the WIT contract: {message}")]
    Exports {
        kind: crate::PluginKind,
        message: String,
    },
}
