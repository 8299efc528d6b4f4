//! A simulated call: the real [`IvrMachine`] and the scenario's real plugins, on a synthetic
//! clock, with a simulated media leg (every prompt plays to its end at once) and scripted
//! caller stimuli (keys, silence, the transfer's outcome).
//!
//! This is what a test plan row, `scenario simulate` and the live test's expectations are
//! computed with: the same engine and the same plugin components as a live call, so the plan
//! says what a caller hears, not what a second model of the scenario thinks they hear.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use madoguchi_plugin_host::bindings::types::{
    CallFacts, Event, NodeInput, ScheduleAnswer, ScheduleStatus, Step, TransferFailure,
};
use madoguchi_plugin_host::clock::{unix_ms_to_local, FixedClock, JST_OFFSET_SECS};
use madoguchi_plugin_host::{CallContext, Plugin, PluginKind, ScheduleSource};
use madoguchi_scenario::Scenario;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ivr::log::{EventLog, LogEntry};
use crate::ivr::machine::{prompt_name, target_name, Graph, IvrMachine, NodeRunner, Outcome};

/// A scenario version with its plugins, ready to simulate.
pub struct SimScenario {
    pub scenario: Scenario,
    configs: HashMap<String, String>,
    nodes: HashMap<String, Plugin>,
    schedules: Arc<Answers>,
    recording: Option<(Plugin, String)>,
    /// The deployment's UTC offset (Asia/Tokyo).
    pub utc_offset_secs: i32,
}

/// The schedule plugins, and their answers so far: a plan asks the same few times over and
/// over, and a schedule's answer depends only on the time.
struct Answers {
    plugins: HashMap<String, (Plugin, String)>,
    utc_offset_secs: i32,
    memo: Mutex<HashMap<AnswerKey, Result<ScheduleAnswer, String>>>,
}

/// (schedule, destination, Unix ms).
type AnswerKey = (String, String, u64);

/// Answers kept at most (then forgotten at once: a bound, not a cache policy).
const MAX_MEMO: usize = 100_000;

impl Answers {
    fn at(&self, name: &str, destination: &str, at_ms: u64) -> Result<ScheduleAnswer, String> {
        let key = (name.to_string(), destination.to_string(), at_ms);
        if let Some(a) = self
            .memo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return a.clone();
        }
        let answer = match self.plugins.get(name) {
            Some((plugin, config)) => plugin
                .check_schedule(
                    &CallContext::new(format!("schedule:{name}")),
                    config,
                    destination,
                    unix_ms_to_local(at_ms, self.utc_offset_secs),
                )
                .map_err(|e| e.to_string()),
            None => Err(format!("no schedule named {name:?}")),
        };
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if memo.len() >= MAX_MEMO {
            memo.clear();
        }
        memo.insert(key, answer.clone());
        answer
    }
}

impl SimScenario {
    /// Resolves every plugin the scenario names (`name@version`) with `resolve`.
    pub fn new(
        scenario: Scenario,
        resolve: &dyn Fn(&str) -> Result<Plugin, String>,
    ) -> Result<SimScenario, String> {
        let get = |r: &str, kind: PluginKind, path: &str| -> Result<Plugin, String> {
            let p = resolve(r).map_err(|e| format!("{path}: plugin {r}: {e}"))?;
            if p.kind() != kind {
                return Err(format!("{path}: plugin {r} is a {} plugin", p.kind()));
            }
            Ok(p)
        };
        let mut nodes = HashMap::new();
        let mut configs = HashMap::new();
        for (id, n) in &scenario.nodes {
            nodes.insert(
                id.clone(),
                get(&n.plugin, PluginKind::Node, &format!("nodes.{id}"))?,
            );
            configs.insert(id.clone(), n.config_string());
        }
        let mut schedules = HashMap::new();
        for (name, s) in &scenario.schedules {
            let p = get(
                &s.plugin,
                PluginKind::Schedule,
                &format!("schedules.{name}"),
            )?;
            schedules.insert(name.clone(), (p, s.config_string()));
        }
        let recording = match &scenario.recording_policy {
            Some(r) => Some((
                get(&r.plugin, PluginKind::Recording, "recording_policy")?,
                r.config_string(),
            )),
            None => None,
        };
        Ok(SimScenario {
            scenario,
            configs,
            nodes,
            schedules: Arc::new(Answers {
                plugins: schedules,
                utc_offset_secs: JST_OFFSET_SECS,
                memo: Mutex::new(HashMap::new()),
            }),
            recording,
            utc_offset_secs: JST_OFFSET_SECS,
        })
    }

    /// The words of a prompt as the event log names it (`menu-main`, `text:…`).
    pub fn words(&self, name: &str) -> String {
        if let Some(t) = name.strip_prefix("text:") {
            return t.to_string();
        }
        if let Some(d) = name.strip_prefix("digits:") {
            return d.to_string();
        }
        if name.starts_with("silence:") {
            return String::new();
        }
        self.scenario
            .prompts
            .get(name)
            .map(|p| p.text.clone())
            .unwrap_or_default()
    }

    /// Asks schedule `name` about `destination` at `at_ms` (outside any call).
    pub fn schedule_at(
        &self,
        name: &str,
        destination: &str,
        at_ms: u64,
    ) -> Result<ScheduleAnswer, String> {
        self.schedules.at(name, destination, at_ms)
    }
}

impl Graph for SimScenario {
    fn start(&self) -> &str {
        &self.scenario.start
    }
    fn fallback(&self) -> Option<&str> {
        self.scenario.fallback.as_deref()
    }
    fn exists(&self, node: &str) -> bool {
        self.scenario.nodes.contains_key(node)
    }
    fn exits(&self, node: &str) -> &[String] {
        self.scenario
            .nodes
            .get(node)
            .map(|n| n.exits.as_slice())
            .unwrap_or(&[])
    }
    fn on_error(&self, node: &str) -> Option<&str> {
        self.scenario
            .nodes
            .get(node)
            .and_then(|n| n.on_error.as_deref())
    }
    fn config(&self, node: &str) -> &str {
        self.configs.get(node).map(String::as_str).unwrap_or("{}")
    }
}

/// How a transfer ends, as a test row drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferOutcome {
    Answered,
    Busy,
    NoAnswer,
    Failed,
}

impl TransferOutcome {
    pub const ALL: [TransferOutcome; 4] = [
        TransferOutcome::Answered,
        TransferOutcome::Busy,
        TransferOutcome::NoAnswer,
        TransferOutcome::Failed,
    ];
    pub fn name(self) -> &'static str {
        match self {
            TransferOutcome::Answered => "answered",
            TransferOutcome::Busy => "busy",
            TransferOutcome::NoAnswer => "no-answer",
            TransferOutcome::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<TransferOutcome> {
        TransferOutcome::ALL
            .into_iter()
            .find(|o| o.name() == s.trim())
    }
}

/// What the caller (or the destination) does at a point where the call waits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Stimulus {
    /// Keys pressed at a menu (after its prompt).
    Keys { keys: String },
    /// Silence until the menu gives up waiting.
    NoInput,
    /// How the transfer the call waits on ends.
    Transfer { outcome: TransferOutcome },
}

/// Where a simulated call stopped for want of a stimulus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Collecting keys at `node`; `fresh` when no stimulus was given at this visit yet.
    Collect { node: String, fresh: bool },
    /// Waiting for a transfer to `target` from `node`.
    Transfer { node: String, target: String },
}

/// One schedule query a node made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The node visit (0 = the first node entered) that asked.
    pub visit: usize,
    pub schedule: String,
    pub destination: String,
    pub status: Status,
}

/// A schedule's answer, by kind, with the holiday or closure name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusKind {
    Open,
    Closed,
    Holiday,
    YearEnd,
    SpecialClosure,
    Error,
}

impl StatusKind {
    pub fn name(&self) -> &'static str {
        match self {
            StatusKind::Open => "open",
            StatusKind::Closed => "closed",
            StatusKind::Holiday => "holiday",
            StatusKind::YearEnd => "year-end",
            StatusKind::SpecialClosure => "special-closure",
            StatusKind::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    /// The holiday's or closure's name.
    pub name: String,
}

impl Status {
    pub fn of(answer: &Result<ScheduleAnswer, String>) -> Status {
        let (kind, name) = match answer {
            Ok(a) => match &a.status {
                ScheduleStatus::Open => (StatusKind::Open, String::new()),
                ScheduleStatus::Closed => (StatusKind::Closed, String::new()),
                ScheduleStatus::Holiday(n) => (StatusKind::Holiday, n.clone()),
                ScheduleStatus::YearEndClosure(n) => (StatusKind::YearEnd, n.clone()),
                ScheduleStatus::SpecialClosure(n) => (StatusKind::SpecialClosure, n.clone()),
            },
            Err(e) => (StatusKind::Error, e.clone()),
        };
        Status { kind, name }
    }
}

/// A stimulus as it was applied: before log entry `log_pos`, at node visit `visit`.
#[derive(Debug, Clone)]
pub struct Mark {
    pub log_pos: usize,
    pub visit: usize,
    pub stimulus: Stimulus,
}

/// The result of one simulated call.
#[derive(Debug, Clone)]
pub struct SimRun {
    /// The call's event log, as a live call would store it.
    pub log: Vec<LogEntry>,
    pub marks: Vec<Mark>,
    pub queries: Vec<Query>,
    /// `Some` when the call waits for a stimulus the script did not give.
    pub pending: Option<Pending>,
    /// The node and what it saved, where the call waits (`None` once it ended).
    pub pending_state: Option<(String, String)>,
    /// How the IVR part ended (`None` while pending).
    pub outcome: Option<Outcome>,
    /// The node the call was at last.
    pub last_node: String,
    /// The recording policy records this call.
    pub recorded: bool,
    /// The simulation could not go on (a stimulus of the wrong kind, a call that waits on
    /// nothing, too many steps).
    pub error: Option<String>,
}

impl SimRun {
    /// Prompt names heard, in order (the notice first), with the node that played them.
    pub fn heard(&self) -> Vec<(Option<String>, String)> {
        let mut out = Vec::new();
        for e in &self.log {
            match e.kind.as_str() {
                "notice" | "play" => {
                    for p in e.detail["prompts"].as_array().into_iter().flatten() {
                        if let Some(p) = p.as_str() {
                            out.push((e.node.clone(), p.to_string()));
                        }
                    }
                }
                "apology" => out.push((e.node.clone(), format!("text:{}", super::APOLOGY))),
                _ => {}
            }
        }
        out
    }

    /// Nodes entered, in order.
    pub fn path(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|e| e.kind == "node")
            .filter_map(|e| e.node.clone())
            .collect()
    }
}

#[derive(Default)]
struct Trace {
    /// Node visits so far (each `Entered` event starts one).
    visits: usize,
    queries: Vec<Query>,
}

struct SimSchedules {
    answers: Arc<Answers>,
    at_ms: u64,
    trace: Arc<Mutex<Trace>>,
}

impl ScheduleSource for SimSchedules {
    fn query(&self, schedule: &str, destination: &str) -> Result<ScheduleAnswer, String> {
        let answer = self.answers.at(schedule, destination, self.at_ms);
        let mut t = self.trace.lock().unwrap_or_else(|p| p.into_inner());
        let visit = t.visits.saturating_sub(1);
        t.queries.push(Query {
            visit,
            schedule: schedule.to_string(),
            destination: destination.to_string(),
            status: Status::of(&answer),
        });
        answer
    }
}

struct SimRunner<'a> {
    sc: &'a SimScenario,
    ctx: CallContext,
    trace: Arc<Mutex<Trace>>,
}

impl NodeRunner for SimRunner<'_> {
    fn step(&mut self, node: &str, input: &NodeInput, event: &Event) -> Result<Step, String> {
        if matches!(event, Event::Entered) {
            self.trace.lock().unwrap_or_else(|p| p.into_inner()).visits += 1;
        }
        let plugin = self
            .sc
            .nodes
            .get(node)
            .ok_or_else(|| format!("no node {node:?}"))?;
        plugin
            .node_step(&self.ctx, input, event)
            .map_err(|e| e.to_string())
    }
}

/// Most machine turns one simulated call may take (a bound, not a expectation).
const MAX_TURNS: usize = 2000;
/// How long a simulated prompt plays (the plan needs the order, not the length).
const PLAY_TIME: Duration = Duration::from_secs(1);
/// Between two keys of one input.
const KEY_GAP: Duration = Duration::from_millis(200);

/// Runs one call at `at_ms` (Unix milliseconds) with the given stimuli, until it ends or
/// waits for a stimulus the script does not have.
pub fn simulate(sc: &SimScenario, at_ms: u64, stimuli: &[Stimulus]) -> SimRun {
    let trace = Arc::new(Mutex::new(Trace::default()));
    let schedules = Arc::new(SimSchedules {
        answers: sc.schedules.clone(),
        at_ms,
        trace: trace.clone(),
    });
    let ctx = CallContext::new("simulated")
        .with_schedules(schedules)
        .with_clock(Arc::new(FixedClock::new(at_ms)));
    let facts = CallFacts {
        call_id: "simulated".into(),
        caller: "anonymous".into(),
        did: sc.scenario.dids.first().cloned().unwrap_or_default(),
        variables: Vec::new(),
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut log = EventLog::new(t0);
    let decision = match &sc.recording {
        Some((plugin, config)) => {
            madoguchi_plugin_host::recording::decide_or_fallback(plugin, &ctx, config, &facts).0
        }
        None => madoguchi_plugin_host::recording::fallback_decision(),
    };
    if decision.record && !decision.notice.is_empty() {
        log.push(
            now,
            "notice",
            None,
            json!({ "prompts": decision.notice.iter().map(prompt_name).collect::<Vec<_>>() }),
        );
        now += PLAY_TIME;
    }
    let mut runner = SimRunner {
        sc,
        ctx,
        trace: trace.clone(),
    };
    let mut m = IvrMachine::new(facts, log);
    m.start(sc, &mut runner, now);
    let mut next = 0;
    let mut marks: Vec<Mark> = Vec::new();
    let mut transfer: Option<String> = None;
    let mut pending = None;
    let mut error = None;
    let visit = |trace: &Arc<Mutex<Trace>>| {
        trace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .visits
            .saturating_sub(1)
    };
    for turn in 0.. {
        if turn == MAX_TURNS {
            error = Some(format!("the call did not end within {MAX_TURNS} steps"));
            break;
        }
        let mut plays = Vec::new();
        while let Some(c) = m.poll_command() {
            match c {
                crate::ivr::machine::Command::Play { token, .. } => plays.push(token),
                crate::ivr::machine::Command::Transfer(t) => transfer = Some(target_name(&t)),
                _ => {}
            }
        }
        if !plays.is_empty() {
            for token in plays {
                now += PLAY_TIME;
                m.on_play_done(sc, &mut runner, token, now);
            }
            continue;
        }
        if m.outcome().is_some() {
            break;
        }
        let node = m.node().to_string();
        if let Some(target) = transfer.clone() {
            match stimuli.get(next) {
                Some(s @ Stimulus::Transfer { outcome }) => {
                    marks.push(Mark {
                        log_pos: m.log().entries().len(),
                        visit: visit(&trace),
                        stimulus: s.clone(),
                    });
                    next += 1;
                    transfer = None;
                    now += PLAY_TIME;
                    match outcome {
                        TransferOutcome::Answered => m.on_transfer_connected(&target, now),
                        TransferOutcome::Busy => {
                            m.on_transfer_failed(sc, &mut runner, TransferFailure::Busy, now)
                        }
                        TransferOutcome::NoAnswer => {
                            m.on_transfer_failed(sc, &mut runner, TransferFailure::NoAnswer, now)
                        }
                        TransferOutcome::Failed => {
                            m.on_transfer_failed(sc, &mut runner, TransferFailure::Failed, now)
                        }
                    }
                }
                Some(other) => {
                    error = Some(format!(
                        "at node {node:?} the call waits for its transfer to {target}, but the script gives {other:?}"
                    ));
                    break;
                }
                None => {
                    pending = Some(Pending::Transfer { node, target });
                    break;
                }
            }
            continue;
        }
        let Some(deadline) = m.poll_timeout() else {
            error = Some(format!("at node {node:?} the call waits for nothing"));
            break;
        };
        let v = visit(&trace);
        match stimuli.get(next) {
            Some(s @ Stimulus::Keys { keys }) => {
                let pos = m.log().entries().len();
                marks.push(Mark {
                    log_pos: pos,
                    visit: v,
                    stimulus: s.clone(),
                });
                next += 1;
                for k in keys.chars() {
                    now += KEY_GAP;
                    m.on_digit(sc, &mut runner, k, now);
                }
                // Fewer keys than the menu takes: it decides at the inter-digit timeout.
                let decided = m.log().entries()[pos..]
                    .iter()
                    .any(|e| e.kind == "input" || e.kind == "no-input");
                if !decided {
                    if let Some(t) = m.poll_timeout() {
                        now = now.max(t);
                        m.handle_timeout(sc, &mut runner, now);
                    }
                }
            }
            Some(s @ Stimulus::NoInput) => {
                marks.push(Mark {
                    log_pos: m.log().entries().len(),
                    visit: v,
                    stimulus: s.clone(),
                });
                next += 1;
                now = now.max(deadline);
                m.handle_timeout(sc, &mut runner, now);
            }
            Some(other) => {
                error = Some(format!(
                    "at node {node:?} the call waits for keys, but the script gives {other:?}"
                ));
                break;
            }
            None => {
                let fresh = !marks.iter().any(|mk| mk.visit == v);
                pending = Some(Pending::Collect { node, fresh });
                break;
            }
        }
    }
    let pending_state = pending
        .is_some()
        .then(|| (m.node().to_string(), m.node_state().to_string()));
    let queries = std::mem::take(&mut trace.lock().unwrap_or_else(|p| p.into_inner()).queries);
    SimRun {
        log: m.log().entries().to_vec(),
        marks,
        queries,
        outcome: m.outcome().cloned(),
        pending,
        pending_state,
        last_node: m.node().to_string(),
        recorded: decision.record,
        error,
    }
}
