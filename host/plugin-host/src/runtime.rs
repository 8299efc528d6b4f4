//! The engine: one wasmtime `Engine` with the pooling allocator and epoch
//! interruption, an epoch ticker thread, one `Linker` per plugin kind, and
//! compilation with an on-disk artifact cache.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::config::RuntimeConfig;
use crate::error::LoadError;
use crate::kind::{detect_kind, PluginKind};
use crate::plugin::{Plugin, PluginInner, Pre};
use crate::state::HostState;

/// The engine could not be set up (bad limits in [`RuntimeConfig`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// wasmtime rejected the configuration.
    #[error("wasm engine setup failed: {0}")]
    Engine(String),
    /// The epoch ticker thread could not be started.
    #[error("cannot start the epoch ticker: {0}")]
    Ticker(std::io::Error),
}

/// Loads and runs plugins. Cheap to clone; one per process.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .finish()
    }
}

pub(crate) struct RuntimeInner {
    pub engine: Engine,
    pub config: RuntimeConfig,
    pub deadline_ticks: u64,
    linkers: [Linker<HostState>; 3],
    _ticker: Ticker,
}

/// Bumps the engine epoch every tick so deadlines fire; stopped on drop.
struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// SHA-256 of a component, lowercase hex: its identity in the cache and the registry.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Runtime {
    /// Build the engine, the linkers and start the epoch ticker.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine_err = |e: wasmtime::Error| RuntimeError::Engine(format!("{e:#}"));
        let n = config.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(4))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(2))
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_memory_size(config.memory_limit_bytes)
            // Freeing an instance's memory is an madvise; batching them
            // cut instantiate+step time by about a quarter in the bench.
            .decommit_batch_size(16);
        let mut wcfg = wasmtime::Config::new();
        wcfg.wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wcfg).map_err(engine_err)?;

        let mut node = Linker::new(&engine);
        bindings::node::IvrNode::add_to_linker::<_, HasSelf<HostState>>(&mut node, |s| s)
            .map_err(engine_err)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut node).map_err(engine_err)?;
        let mut schedule = Linker::new(&engine);
        bindings::schedule::Schedule::add_to_linker::<_, HasSelf<HostState>>(&mut schedule, |s| s)
            .map_err(engine_err)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut schedule).map_err(engine_err)?;
        let mut recording = Linker::new(&engine);
        bindings::recording::RecordingPolicy::add_to_linker::<_, HasSelf<HostState>>(
            &mut recording,
            |s| s,
        )
        .map_err(engine_err)?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut recording).map_err(engine_err)?;

        let tick = config.epoch_tick.max(Duration::from_micros(100));
        let deadline_ticks = config
            .call_deadline
            .as_micros()
            .div_ceil(tick.as_micros())
            .max(1) as u64;
        let ticker = Ticker::start(engine.clone(), tick).map_err(RuntimeError::Ticker)?;
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                engine,
                config,
                deadline_ticks,
                linkers: [node, schedule, recording],
                _ticker: ticker,
            }),
        })
    }

    /// The configuration this runtime runs with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Check, compile (or fetch from the cache) and link a component.
    /// `name` (usually `name@version`) labels its errors and log lines.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let limit = self.inner.config.max_component_bytes;
        if bytes.len() > limit {
            return Err(LoadError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        check_header(bytes)?;
        let sha256 = sha256_hex(bytes);
        let component = self.compile(&sha256, bytes)?;
        let kind = detect_kind(&self.inner.engine, &component)?;
        let linker = &self.inner.linkers[kind as usize];
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Imports {
                kind,
                message: format!("{e:#}"),
            })?;
        let exports = |e: wasmtime::Error| LoadError::Exports {
            kind,
            message: format!("{e:#}"),
        };
        let pre = match kind {
            PluginKind::Node => Pre::Node(bindings::node::IvrNodePre::new(pre).map_err(exports)?),
            PluginKind::Schedule => {
                Pre::Schedule(bindings::schedule::SchedulePre::new(pre).map_err(exports)?)
            }
            PluginKind::Recording => {
                Pre::Recording(bindings::recording::RecordingPolicyPre::new(pre).map_err(exports)?)
            }
        };
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                runtime: self.clone(),
                name: Arc::from(name),
                sha256,
                kind,
                size: bytes.len(),
                pre,
            }),
        })
    }

    /// Compile once per component: reuse the cached artifact when its
    /// SHA-256 and this engine's settings match, else compile and store it.
    fn compile(&self, sha256: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        let engine = &self.inner.engine;
        let Some(dir) = &self.inner.config.cache_dir else {
            return Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")));
        };
        let file = format!("{sha256}-{}.cwasm", engine_fingerprint(engine));
        if let Ok(artifact) = dir.read(&file) {
            // SAFETY: `Component::deserialize` runs the bytes as native code.
            // They come from the cache directory, which only this host writes
            // (see `RuntimeConfig::cache_dir`), under a name that binds the
            // source's SHA-256 and the engine settings; wasmtime also checks
            // its own version/settings header and refuses a mismatch, in which
            // case we fall through and recompile.
            #[allow(unsafe_code)]
            let cached = unsafe { Component::deserialize(engine, &artifact) };
            match cached {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!(file, "discarding unusable cached artifact: {e:#}"),
            }
        }
        let component =
            Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        match component.serialize() {
            Ok(artifact) => {
                // Write then rename so a concurrent reader never sees half a file.
                let tmp = format!("{file}.tmp{}", std::process::id());
                let written = dir
                    .create(&tmp)
                    .and_then(|mut f| {
                        f.write_all(&artifact)?;
                        // On disk before the rename, so a crash never leaves a torn artifact.
                        f.sync_all()
                    })
                    .and_then(|()| dir.rename(&tmp, dir, &file));
                if let Err(e) = written {
                    tracing::warn!(file, "cannot cache compiled plugin: {e}");
                    let _ = dir.remove_file(&tmp);
                }
            }
            Err(e) => tracing::warn!("cannot serialize compiled plugin: {e:#}"),
        }
        Ok(component)
    }
}

/// A short stable digest of the engine's compilation settings, so artifacts
/// from another wasmtime version or configuration are never even opened.
fn engine_fingerprint(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Component binaries start `\0asm` + version 0x0d + layer 1; core modules
/// have layer 0. Checked first so the upload error says what is wrong.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    match (bytes[6], bytes[7]) {
        (1, 0) => Ok(()),
        (0, 0) => Err(LoadError::CoreModule),
        _ => Err(LoadError::NotWasm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_check_names_the_problem() {
        assert_eq!(check_header(b"hello"), Err(LoadError::NotWasm));
        assert_eq!(check_header(b"\0asm\x01\0\0\0"), Err(LoadError::CoreModule));
        assert_eq!(check_header(b"\0asm\x0d\0\x01\0"), Ok(()));
    }
}
