//! Per-instance host state: what a plugin's imports can reach. This is the
//! whole of a plugin's authority: a clock, a bounded log, for nodes a
//! schedule query, and (lazily, for std guests) an empty WASI context.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{clock, log, schedules, types};
use crate::clock::{unix_ms_to_local, Clock};

/// Log lines one instance may write; more are dropped so a plugin cannot
/// flood the host's logs.
const LOG_LINES_PER_INSTANCE: u32 = 64;
/// Longest log line kept, in bytes.
const LOG_LINE_MAX: usize = 1024;
/// Bytes of stderr kept from a std guest (its panic message lands there).
const STDERR_CAPTURE: usize = 4096;

/// Answers named schedule queries for node plugins (the `schedules` import).
/// The IVR engine provides one per deployment, usually a
/// [`crate::PluginSchedules`] over the configured schedule plugins.
pub trait ScheduleSource: Send + Sync {
    /// Ask `schedule` about `destination` now; `Err` names the problem.
    fn query(&self, schedule: &str, destination: &str) -> Result<types::ScheduleAnswer, String>;
}

/// Who a plugin call is for.
#[derive(Clone, Default)]
pub struct CallContext {
    /// Attached to the plugin's log lines.
    pub call_id: String,
    /// Named schedules a node may query; `None` makes every query fail.
    pub schedules: Option<Arc<dyn ScheduleSource>>,
    /// The clock this call's plugins see instead of the runtime's (a simulated call at a
    /// chosen time: test plans, "what would a caller hear at T").
    pub clock: Option<Arc<dyn Clock>>,
}

impl CallContext {
    pub fn new(call_id: impl Into<String>) -> Self {
        Self {
            call_id: call_id.into(),
            schedules: None,
            clock: None,
        }
    }
    pub fn with_schedules(mut self, schedules: Arc<dyn ScheduleSource>) -> Self {
        self.schedules = Some(schedules);
        self
    }
    /// Puts this call's plugins on their own clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
}

impl std::fmt::Debug for CallContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("call_id", &self.call_id)
            .field("schedules", &self.schedules.is_some())
            .field("own_clock", &self.clock.is_some())
            .finish()
    }
}

/// Memory and table caps, remembering whether the plugin hit one so the
/// resulting trap can be reported as [`crate::PluginError::MemoryLimit`].
pub(crate) struct Limiter {
    pub memory_cap: usize,
    pub table_cap: usize,
    pub hit: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Refuse rather than trap: `memory.grow` returns -1 and a careful
        // guest can recover; a careless one aborts and we report the cap.
        if desired > self.memory_cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// The budget of the call in progress. The epoch ticker measures wall time,
/// which on a busy 2-core host also counts time the thread spent preempted;
/// so when the epoch deadline fires we check the thread's CPU time and let a
/// call that has not used its budget go on, up to a hard wall-time cap.
pub(crate) struct CallDeadline {
    pub limit: Duration,
    wall_cap: Duration,
    started_wall: Instant,
    /// Thread CPU time at the start (`None` if the OS cannot tell: wall time only).
    started_cpu: Option<Duration>,
    pub hit: bool,
}

/// A call may take this many times its CPU budget in wall time, never more.
/// Generous on purpose: a preempted plugin costs nothing, and failing calls
/// because the host is overloaded would only add to the trouble; the cap is
/// a backstop should the thread CPU clock misbehave.
const WALL_CAP_FACTOR: u32 = 100;

impl CallDeadline {
    fn new(limit: Duration) -> Self {
        Self {
            limit,
            wall_cap: limit * WALL_CAP_FACTOR,
            started_wall: Instant::now(),
            started_cpu: None,
            hit: false,
        }
    }

    /// Start the budget of a new call (on the thread that makes it).
    pub fn start(&mut self, limit: Duration) {
        *self = Self::new(limit);
        self.started_cpu = ThreadTime::try_now().ok().map(|t| t.as_duration());
    }

    /// Called by the epoch callback: has the call used up its budget?
    pub fn expired(&mut self) -> bool {
        let cpu = match (self.started_cpu, ThreadTime::try_now()) {
            (Some(start), Ok(now)) => now.as_duration().saturating_sub(start),
            _ => Duration::MAX,
        };
        self.hit = cpu >= self.limit || self.started_wall.elapsed() >= self.wall_cap;
        self.hit
    }
}

/// WASI with nothing in it: no preopened dirs, no env, no args, no sockets,
/// stdin empty, stdout discarded, stderr captured (bounded) for diagnostics.
struct EmptyWasi {
    ctx: WasiCtx,
    table: ResourceTable,
}

pub(crate) struct HostState {
    pub plugin: Arc<str>,
    pub call_id: Arc<str>,
    pub clock: Arc<dyn Clock>,
    pub utc_offset_secs: i32,
    pub schedules: Option<Arc<dyn ScheduleSource>>,
    pub allow_schedules: bool,
    pub limiter: Limiter,
    pub deadline: CallDeadline,
    log_lines_left: u32,
    /// The last error-level log line: the SDK's panic handler logs the
    /// panic there just before trapping, so the trap can say why.
    pub last_error_log: Option<String>,
    wasi: Option<Box<EmptyWasi>>,
    stderr: Option<MemoryOutputPipe>,
}

impl HostState {
    pub fn new(
        plugin: Arc<str>,
        ctx: &CallContext,
        clock: Arc<dyn Clock>,
        utc_offset_secs: i32,
        memory_cap: usize,
        allow_schedules: bool,
    ) -> Self {
        Self {
            plugin,
            call_id: Arc::from(ctx.call_id.as_str()),
            clock,
            utc_offset_secs,
            schedules: ctx.schedules.clone(),
            allow_schedules,
            limiter: Limiter {
                memory_cap,
                table_cap: 100_000,
                hit: false,
            },
            deadline: CallDeadline::new(Duration::ZERO),
            log_lines_left: LOG_LINES_PER_INSTANCE,
            last_error_log: None,
            wasi: None,
            stderr: None,
        }
    }

    /// What a std guest wrote to stderr (its panic message), if anything.
    pub fn stderr_text(&self) -> Option<String> {
        let bytes = self.stderr.as_ref()?.contents();
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        (!text.is_empty()).then_some(text)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Built on first use: most plugins never touch WASI, and building a
        // context costs more than instantiating a small component.
        if self.wasi.is_none() {
            let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
            self.stderr = Some(stderr.clone());
            let mut b = WasiCtxBuilder::new();
            b.stderr(stderr)
                .allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false);
            self.wasi = Some(Box::new(EmptyWasi {
                ctx: b.build(),
                table: ResourceTable::new(),
            }));
        }
        let w = self.wasi.as_mut().expect("initialised just above");
        WasiCtxView {
            ctx: &mut w.ctx,
            table: &mut w.table,
        }
    }
}

impl types::Host for HostState {}

impl clock::Host for HostState {
    fn now(&mut self) -> types::LocalDatetime {
        unix_ms_to_local(self.clock.now_unix_ms(), self.utc_offset_secs)
    }
    fn now_unix_ms(&mut self) -> u64 {
        self.clock.now_unix_ms()
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        if level == log::Level::Error {
            self.last_error_log = Some(truncate_utf8(message.clone(), LOG_LINE_MAX));
        }
        if self.log_lines_left == 0 {
            return;
        }
        self.log_lines_left -= 1;
        let msg = truncate_utf8(message, LOG_LINE_MAX);
        let (plugin, call_id) = (&*self.plugin, &*self.call_id);
        match level {
            log::Level::Trace => tracing::trace!(plugin, call_id, "{msg}"),
            log::Level::Debug => tracing::debug!(plugin, call_id, "{msg}"),
            log::Level::Info => tracing::info!(plugin, call_id, "{msg}"),
            log::Level::Warn => tracing::warn!(plugin, call_id, "{msg}"),
            log::Level::Error => tracing::error!(plugin, call_id, "{msg}"),
        }
    }
}

impl schedules::Host for HostState {
    fn query(
        &mut self,
        schedule: String,
        destination: String,
    ) -> Result<types::ScheduleAnswer, String> {
        if !self.allow_schedules {
            return Err("schedule queries are only available to ivr-node plugins".into());
        }
        match &self.schedules {
            Some(s) => s.query(&schedule, &destination),
            None => Err(format!("no schedule named {schedule:?} is configured")),
        }
    }
}

/// Cut `s` to at most `max` bytes on a char boundary, marking the cut with `…`.
pub(crate) fn truncate_utf8(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}
