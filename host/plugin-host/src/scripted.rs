//! Run a plugin against a scripted call and print what it answers: the
//! library side of `madoguchi plugin test <component> --config … --events …`.
//!
//! The events file is JSON, either a bare array of events or an object:
//!
//! ```json
//! {
//!   "call": {"caller": "+81462520000", "did": "+81462511111", "variables": {"lang": "ja"}},
//!   "now": "2026-12-30T10:00:00",
//!   "schedules": {"city-hall": "open", "other": {"holiday": "元日"}},
//!   "events": ["entered", {"digits": "1"}, "no-input", "prompt-finished", {"transfer-failed": "busy"}]
//! }
//! ```
//!
//! `now` fixes the plugin clock (local time, Asia/Tokyo); `schedules` gives
//! fixed answers to a node's schedule queries (`open`, `closed`,
//! `{"holiday": name}`, `{"year-end": name}`, `{"special-closure": name}`).
//! For a schedule plugin each event is `{"destination": "…", "at": "…"}`;
//! a recording policy is asked once, about `call`. Node state and
//! `set-variable`s carry from one event to the next as in a real call.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::bindings::types::{
    Action, CallFacts, Event, NodeInput, Prompt, RecordFrom, RecordingDecision, ScheduleAnswer,
    ScheduleStatus, TransferFailure, TransferTarget,
};
use crate::clock::{format_local, local_to_unix_ms, parse_local, FixedClock};
use crate::config::RuntimeConfig;
use crate::error::LoadError;
use crate::kind::PluginKind;
use crate::runtime::{Runtime, RuntimeError};
use crate::state::{CallContext, ScheduleSource};

/// Why a scripted run could not be done (plugin misbehaviour during the run
/// is printed in the transcript, not returned).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScriptError {
    /// The events file is not valid.
    #[error("events: {0}")]
    Events(String),
    /// The component is not a usable plugin.
    #[error("component: {0}")]
    Load(#[from] LoadError),
    /// The plugin rejected the configuration.
    #[error("config rejected: {0}")]
    Config(String),
    /// The runtime could not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Call {
    #[serde(default = "default_caller")]
    caller: String,
    #[serde(default = "default_did")]
    did: String,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

fn default_caller() -> String {
    "+81462520000".into()
}
fn default_did() -> String {
    "+81462511111".into()
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum FixedStatus {
    Open,
    Closed,
    Holiday(String),
    YearEnd(String),
    SpecialClosure(String),
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ScriptEvent {
    Entered,
    Digits(String),
    NoInput,
    PromptFinished,
    TransferFailed(ScriptFailure),
}

#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum ScriptFailure {
    Busy,
    NoAnswer,
    Failed,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleQuery {
    destination: String,
    at: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    #[serde(default)]
    call: Option<Call>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    schedules: HashMap<String, FixedStatus>,
    #[serde(default)]
    events: Vec<serde_json::Value>,
}

struct FixedSchedules(HashMap<String, ScheduleAnswer>);

impl ScheduleSource for FixedSchedules {
    fn query(&self, schedule: &str, _destination: &str) -> Result<ScheduleAnswer, String> {
        self.0
            .get(schedule)
            .cloned()
            .ok_or_else(|| format!("no schedule {schedule:?} in the script"))
    }
}

fn events_err(e: impl std::fmt::Display) -> ScriptError {
    ScriptError::Events(e.to_string())
}

/// Run `component` with `config_json` against the scripted call in
/// `events_json`; returns the printed transcript.
pub fn run(component: &[u8], config_json: &str, events_json: &str) -> Result<String, ScriptError> {
    let value: serde_json::Value = serde_json::from_str(events_json).map_err(events_err)?;
    let script: Script = match value {
        serde_json::Value::Array(events) => Script {
            call: None,
            now: None,
            schedules: HashMap::new(),
            events,
        },
        other => serde_json::from_value(other).map_err(events_err)?,
    };
    let mut config = RuntimeConfig {
        max_instances: 4,
        ..Default::default()
    };
    if let Some(now) = &script.now {
        let local = parse_local(now)
            .ok_or_else(|| events_err(format!("now: {now:?} is not YYYY-MM-DDTHH:MM[:SS]")))?;
        let ms = local_to_unix_ms(local, config.utc_offset_secs)
            .ok_or_else(|| events_err("now: before 1970"))?;
        config.clock = Arc::new(FixedClock::new(ms));
    }
    let rt = Runtime::new(config)?;
    let plugin = rt.load("under-test", component)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plugin: {} world, sha256 {}, {} bytes",
        plugin.kind().world(),
        &plugin.sha256()[..12],
        plugin.size()
    );
    let call = script.call.unwrap_or_else(|| Call {
        caller: default_caller(),
        did: default_did(),
        variables: BTreeMap::new(),
    });
    let ctx = CallContext::new("scripted-call").with_schedules(Arc::new(FixedSchedules(
        script
            .schedules
            .into_iter()
            .map(|(k, s)| {
                let status = match s {
                    FixedStatus::Open => ScheduleStatus::Open,
                    FixedStatus::Closed => ScheduleStatus::Closed,
                    FixedStatus::Holiday(n) => ScheduleStatus::Holiday(n),
                    FixedStatus::YearEnd(n) => ScheduleStatus::YearEndClosure(n),
                    FixedStatus::SpecialClosure(n) => ScheduleStatus::SpecialClosure(n),
                };
                (
                    k,
                    ScheduleAnswer {
                        status,
                        next_open: None,
                    },
                )
            })
            .collect(),
    )));
    if let Err(e) = plugin.validate_config(&ctx, config_json) {
        return Err(ScriptError::Config(e.to_string()));
    }
    let _ = writeln!(out, "validate-config: ok");
    let mut facts = CallFacts {
        call_id: "scripted-call".into(),
        caller: call.caller,
        did: call.did,
        variables: call.variables.into_iter().collect(),
    };
    match plugin.kind() {
        PluginKind::Node => {
            let mut state = String::new();
            for (i, raw) in script.events.into_iter().enumerate() {
                let ev: ScriptEvent = serde_json::from_value(raw)
                    .map_err(|e| events_err(format!("event {i}: {e}")))?;
                let event = match ev {
                    ScriptEvent::Entered => Event::Entered,
                    ScriptEvent::Digits(d) => Event::Digits(d),
                    ScriptEvent::NoInput => Event::NoInput,
                    ScriptEvent::PromptFinished => Event::PromptFinished,
                    ScriptEvent::TransferFailed(f) => Event::TransferFailed(match f {
                        ScriptFailure::Busy => TransferFailure::Busy,
                        ScriptFailure::NoAnswer => TransferFailure::NoAnswer,
                        ScriptFailure::Failed => TransferFailure::Failed,
                    }),
                };
                let _ = writeln!(out, "> {}", describe_event(&event));
                let input = NodeInput {
                    facts: facts.clone(),
                    config: config_json.to_string(),
                    state: state.clone(),
                };
                match plugin.node_step(&ctx, &input, &event) {
                    Ok(step) => {
                        for a in &step.actions {
                            let _ = writeln!(out, "  {}", describe_action(a));
                            if let Action::SetVariable(kv) = a {
                                facts.variables.push(kv.clone());
                            }
                        }
                        state = step.state;
                    }
                    Err(e) => {
                        let _ = writeln!(out, "  ! {e} (the IVR takes the node's fallback route)");
                    }
                }
            }
        }
        PluginKind::Schedule => {
            for (i, raw) in script.events.into_iter().enumerate() {
                let q: ScheduleQuery = serde_json::from_value(raw)
                    .map_err(|e| events_err(format!("event {i}: {e}")))?;
                let at = parse_local(&q.at)
                    .ok_or_else(|| events_err(format!("event {i}: bad time {:?}", q.at)))?;
                let _ = writeln!(out, "> {} at {}", q.destination, format_local(&at));
                match plugin.check_schedule(&ctx, config_json, &q.destination, at) {
                    Ok(a) => {
                        let _ = writeln!(out, "  {}", describe_schedule(&a));
                    }
                    Err(e) => {
                        let _ = writeln!(out, "  ! {e}");
                    }
                }
            }
        }
        PluginKind::Recording => {
            let _ = writeln!(out, "> call from {} to {}", facts.caller, facts.did);
            match plugin.decide_recording(&ctx, config_json, &facts) {
                Ok(d) => {
                    let _ = writeln!(out, "  {}", describe_recording(&d));
                }
                Err(e) => {
                    let d = crate::recording::fallback_decision();
                    let _ = writeln!(out, "  ! {e}\n  fallback: {}", describe_recording(&d));
                }
            }
        }
    }
    Ok(out)
}

/// One-line description of an event.
pub fn describe_event(e: &Event) -> String {
    match e {
        Event::Entered => "entered".into(),
        Event::Digits(d) => format!("digits {d:?}"),
        Event::NoInput => "no-input".into(),
        Event::PromptFinished => "prompt-finished".into(),
        Event::TransferFailed(f) => format!("transfer-failed {f:?}").to_lowercase(),
    }
}

/// One-line description of a prompt.
pub fn describe_prompt(p: &Prompt) -> String {
    match p {
        Prompt::Asset(a) => format!("asset:{a}"),
        Prompt::Text(t) => format!("text:{t:?}"),
        Prompt::Digits(d) => format!("digits:{d}"),
        Prompt::Silence(ms) => format!("silence:{ms}ms"),
    }
}

fn prompts(ps: &[Prompt]) -> String {
    ps.iter()
        .map(describe_prompt)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One-line description of an action, as `plugin test` prints it.
pub fn describe_action(a: &Action) -> String {
    match a {
        Action::Play(ps) => format!("play [{}]", prompts(ps)),
        Action::Collect(c) => {
            let mut s = format!(
                "collect {}..{} digits, first {} ms, between {} ms",
                c.min_digits, c.max_digits, c.first_digit_timeout_ms, c.inter_digit_timeout_ms
            );
            if let Some(t) = c.terminator {
                let _ = write!(s, ", ends with {t}");
            }
            if !c.prompts.is_empty() {
                let _ = write!(s, ", prompts [{}]", prompts(&c.prompts));
            }
            s
        }
        Action::Goto(n) => format!("goto {n}"),
        Action::Transfer(TransferTarget::User(u)) => format!("transfer to user {u}"),
        Action::Transfer(TransferTarget::Queue(q)) => format!("transfer to queue {q}"),
        Action::Transfer(TransferTarget::External(n)) => format!("transfer to number {n}"),
        Action::StartRecording => "start-recording".into(),
        Action::StopRecording => "stop-recording".into(),
        Action::SetVariable((k, v)) => format!("set-variable {k} = {v:?}"),
        Action::Hangup => "hangup".into(),
    }
}

/// One-line description of a schedule answer.
pub fn describe_schedule(a: &ScheduleAnswer) -> String {
    let mut s = match &a.status {
        ScheduleStatus::Open => "open".to_string(),
        ScheduleStatus::Closed => "closed".to_string(),
        ScheduleStatus::Holiday(n) => format!("holiday {n}"),
        ScheduleStatus::YearEndClosure(n) => format!("year-end closure {n}"),
        ScheduleStatus::SpecialClosure(n) => format!("special closure {n}"),
    };
    if let Some(n) = &a.next_open {
        let _ = write!(s, ", next open {}", format_local(n));
    }
    s
}

/// One-line description of a recording decision.
pub fn describe_recording(d: &RecordingDecision) -> String {
    if !d.record {
        return "do not record".into();
    }
    let from = match d.from {
        RecordFrom::Answer => "answer",
        RecordFrom::Transfer => "transfer",
    };
    format!(
        "record from {from}, notice [{}], keep {} days",
        prompts(&d.notice),
        d.retention_days
    )
}
