//! A loaded plugin and its instances. An instance lives in its own `Store`
//! with its own memory cap; every call gets a fresh epoch deadline; any
//! failure poisons the instance so it is never entered again.

use std::sync::Arc;

use wasmtime::Store;

use crate::answer;
use crate::bindings::types::{
    CallFacts, Event, LocalDatetime, NodeInput, RecordingDecision, ScheduleAnswer, Step,
};
use crate::bindings::{node, recording, schedule};
use crate::error::PluginError;
use crate::kind::PluginKind;
use crate::runtime::Runtime;
use crate::state::{truncate_utf8, CallContext, HostState};

pub(crate) enum Pre {
    Node(node::IvrNodePre<HostState>),
    Schedule(schedule::SchedulePre<HostState>),
    Recording(recording::RecordingPolicyPre<HostState>),
}

/// A compiled, linked plugin, ready to instantiate. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) inner: Arc<PluginInner>,
}

pub(crate) struct PluginInner {
    pub runtime: Runtime,
    pub name: Arc<str>,
    pub sha256: String,
    pub kind: PluginKind,
    pub size: usize,
    pub pre: Pre,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .field("sha256", &self.inner.sha256)
            .finish()
    }
}

enum Bound {
    Node(node::IvrNode),
    Schedule(schedule::Schedule),
    Recording(recording::RecordingPolicy),
}

/// One live instance of a plugin, for one call. Reusable across steps of
/// that call until a call fails; drop it when the call ends.
pub struct Instance {
    plugin: Plugin,
    store: Store<HostState>,
    bound: Bound,
    poisoned: bool,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.plugin.inner.name)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl Plugin {
    /// `name@version` (or whatever name it was loaded under).
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    pub fn kind(&self) -> PluginKind {
        self.inner.kind
    }
    /// SHA-256 of the component bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }
    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.inner.size
    }
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    fn err_name(&self) -> String {
        self.inner.name.to_string()
    }

    /// A fresh instance from the `InstancePre` (pooling allocator: cheap).
    pub fn instantiate(&self, ctx: &CallContext) -> Result<Instance, PluginError> {
        let rt = &self.inner.runtime.inner;
        let state = HostState::new(
            self.inner.name.clone(),
            ctx,
            ctx.clock.clone().unwrap_or_else(|| rt.config.clock.clone()),
            rt.config.utc_offset_secs,
            rt.config.memory_limit_bytes,
            self.inner.kind == PluginKind::Node,
        );
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_callback(|mut s| {
            Ok(if s.data_mut().deadline.expired() {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::Continue(1)
            })
        });
        store.data_mut().deadline.start(rt.config.call_deadline);
        store.set_epoch_deadline(rt.deadline_ticks);
        let bound = match &self.inner.pre {
            Pre::Node(p) => p.instantiate(&mut store).map(Bound::Node),
            Pre::Schedule(p) => p.instantiate(&mut store).map(Bound::Schedule),
            Pre::Recording(p) => p.instantiate(&mut store).map(Bound::Recording),
        };
        match bound {
            Ok(bound) => Ok(Instance {
                plugin: self.clone(),
                store,
                bound,
                poisoned: false,
            }),
            Err(e) => Err(match classify(self, &store, e) {
                PluginError::Trap { plugin, message }
                | PluginError::BadAnswer {
                    plugin,
                    reason: message,
                } => PluginError::Instantiate { plugin, message },
                other => other,
            }),
        }
    }

    /// Ask the plugin whether `config` is acceptable (any kind).
    pub fn validate_config(&self, ctx: &CallContext, config: &str) -> Result<(), PluginError> {
        self.instantiate(ctx)?.validate_config(config)
    }

    /// Instantiate and run one node step.
    pub fn node_step(
        &self,
        ctx: &CallContext,
        input: &NodeInput,
        event: &Event,
    ) -> Result<Step, PluginError> {
        self.instantiate(ctx)?.handle(input, event)
    }

    /// Instantiate and ask a schedule plugin.
    pub fn check_schedule(
        &self,
        ctx: &CallContext,
        config: &str,
        destination: &str,
        at: LocalDatetime,
    ) -> Result<ScheduleAnswer, PluginError> {
        self.instantiate(ctx)?.check(config, destination, at)
    }

    /// Instantiate and ask a recording policy plugin.
    pub fn decide_recording(
        &self,
        ctx: &CallContext,
        config: &str,
        facts: &CallFacts,
    ) -> Result<RecordingDecision, PluginError> {
        self.instantiate(ctx)?.decide(config, facts)
    }

    /// [`Plugin::node_step`] on tokio's blocking pool, so a slow plugin
    /// (up to its deadline) never stalls the async executor.
    pub async fn node_step_async(
        &self,
        ctx: CallContext,
        input: NodeInput,
        event: Event,
    ) -> Result<Step, PluginError> {
        let p = self.clone();
        self.blocking(move || p.node_step(&ctx, &input, &event))
            .await
    }

    /// [`Plugin::check_schedule`] on tokio's blocking pool.
    pub async fn check_schedule_async(
        &self,
        ctx: CallContext,
        config: String,
        destination: String,
        at: LocalDatetime,
    ) -> Result<ScheduleAnswer, PluginError> {
        let p = self.clone();
        self.blocking(move || p.check_schedule(&ctx, &config, &destination, at))
            .await
    }

    /// [`Plugin::decide_recording`] on tokio's blocking pool.
    pub async fn decide_recording_async(
        &self,
        ctx: CallContext,
        config: String,
        facts: CallFacts,
    ) -> Result<RecordingDecision, PluginError> {
        let p = self.clone();
        self.blocking(move || p.decide_recording(&ctx, &config, &facts))
            .await
    }

    /// [`Plugin::validate_config`] on tokio's blocking pool.
    pub async fn validate_config_async(
        &self,
        ctx: CallContext,
        config: String,
    ) -> Result<(), PluginError> {
        let p = self.clone();
        self.blocking(move || p.validate_config(&ctx, &config))
            .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, PluginError> + Send + 'static,
    ) -> Result<T, PluginError> {
        tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
            Err(PluginError::Cancelled {
                plugin: self.err_name(),
                message: e.to_string(),
            })
        })
    }
}

/// Turn a wasmtime error from a call into the typed error: the limiter's
/// flag says "memory", an epoch interrupt says "deadline", another trap is a
/// trap (with the guest's stderr, where std puts the panic message), and a
/// non-trap error while lifting the answer means the answer was malformed.
fn classify(plugin: &Plugin, store: &Store<HostState>, e: wasmtime::Error) -> PluginError {
    let name = plugin.err_name();
    let rt = &plugin.inner.runtime.inner.config;
    if store.data().limiter.hit {
        return PluginError::MemoryLimit {
            plugin: name,
            limit_bytes: rt.memory_limit_bytes,
        };
    }
    if store.data().deadline.hit {
        return PluginError::Deadline {
            plugin: name,
            limit_ms: rt.call_deadline.as_millis() as u64,
        };
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => {
            let mut message = trap.to_string();
            if let Some(logged) = &store.data().last_error_log {
                message = format!("{message}; last error logged: {logged}");
            }
            if let Some(stderr) = store.data().stderr_text() {
                message = format!("{message}; stderr: {stderr}");
            }
            PluginError::Trap {
                plugin: name,
                message,
            }
        }
        None => PluginError::BadAnswer {
            plugin: name,
            reason: format!("malformed answer: {e:#}"),
        },
    }
}

impl Instance {
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Run one guest call with a fresh deadline; on any failure poison the instance.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&Bound, &mut Store<HostState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, PluginError> {
        if self.poisoned {
            return Err(PluginError::Poisoned {
                plugin: self.plugin.err_name(),
            });
        }
        let rt = &self.plugin.inner.runtime.inner;
        self.store
            .data_mut()
            .deadline
            .start(rt.config.call_deadline);
        self.store.set_epoch_deadline(rt.deadline_ticks);
        // Counted in the server's /metrics (a no-op without a recorder).
        let outcome = |o: &'static str| {
            metrics::counter!("madoguchi_plugin_calls_total", "outcome" => o).increment(1);
        };
        match f(&self.bound, &mut self.store) {
            Ok(Ok(v)) => {
                outcome("ok");
                Ok(v)
            }
            Ok(Err(message)) => {
                outcome("error");
                Err(PluginError::Failed {
                    plugin: self.plugin.err_name(),
                    message: truncate_utf8(message, 1024),
                })
            }
            Err(e) => {
                self.poisoned = true;
                let err = classify(&self.plugin, &self.store, e);
                match &err {
                    PluginError::Deadline { .. } => {
                        outcome("deadline");
                        metrics::counter!("madoguchi_plugin_deadline_kills_total").increment(1);
                    }
                    PluginError::MemoryLimit { .. } => outcome("memory"),
                    _ => outcome("trap"),
                }
                Err(err)
            }
        }
    }

    fn wrong_kind(&self, expected: PluginKind) -> PluginError {
        PluginError::WrongKind {
            plugin: self.plugin.err_name(),
            expected,
            found: self.plugin.kind(),
        }
    }

    fn bad(&mut self, reason: String) -> PluginError {
        self.poisoned = true;
        PluginError::BadAnswer {
            plugin: self.plugin.err_name(),
            reason,
        }
    }

    /// Ask whether `config` is acceptable; `Failed` carries the plugin's reason.
    pub fn validate_config(&mut self, config: &str) -> Result<(), PluginError> {
        self.call(|b, s| match b {
            Bound::Node(n) => n.madoguchi_ivr_node_api().call_validate_config(s, config),
            Bound::Schedule(n) => n
                .madoguchi_ivr_schedule_api()
                .call_validate_config(s, config),
            Bound::Recording(n) => n
                .madoguchi_ivr_recording_api()
                .call_validate_config(s, config),
        })
    }

    /// Feed a node one event; the answer is checked before it is returned.
    pub fn handle(&mut self, input: &NodeInput, event: &Event) -> Result<Step, PluginError> {
        if !matches!(self.bound, Bound::Node(_)) {
            return Err(self.wrong_kind(PluginKind::Node));
        }
        let step = self.call(|b, s| match b {
            Bound::Node(n) => n.madoguchi_ivr_node_api().call_handle(s, input, event),
            _ => unreachable!("kind checked above"),
        })?;
        let limits = &self.plugin.inner.runtime.inner.config.answer_limits;
        match answer::check_step(&step, limits) {
            Ok(()) => Ok(step),
            Err(reason) => Err(self.bad(reason)),
        }
    }

    /// Ask a schedule plugin about `destination` at local time `at`.
    pub fn check(
        &mut self,
        config: &str,
        destination: &str,
        at: LocalDatetime,
    ) -> Result<ScheduleAnswer, PluginError> {
        if !matches!(self.bound, Bound::Schedule(_)) {
            return Err(self.wrong_kind(PluginKind::Schedule));
        }
        let a = self.call(|b, s| match b {
            Bound::Schedule(n) => {
                n.madoguchi_ivr_schedule_api()
                    .call_check(s, config, destination, at)
            }
            _ => unreachable!("kind checked above"),
        })?;
        let limits = &self.plugin.inner.runtime.inner.config.answer_limits;
        match answer::check_schedule(&a, limits) {
            Ok(()) => Ok(a),
            Err(reason) => Err(self.bad(reason)),
        }
    }

    /// Ask a recording policy plugin about a call.
    pub fn decide(
        &mut self,
        config: &str,
        facts: &CallFacts,
    ) -> Result<RecordingDecision, PluginError> {
        if !matches!(self.bound, Bound::Recording(_)) {
            return Err(self.wrong_kind(PluginKind::Recording));
        }
        let d = self.call(|b, s| match b {
            Bound::Recording(n) => n
                .madoguchi_ivr_recording_api()
                .call_decide(s, config, facts),
            _ => unreachable!("kind checked above"),
        })?;
        let limits = &self.plugin.inner.runtime.inner.config.answer_limits;
        match answer::check_recording(&d, limits) {
            Ok(()) => Ok(d),
            Err(reason) => Err(self.bad(reason)),
        }
    }
}
