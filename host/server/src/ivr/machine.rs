//! One call's walk through a scenario, as a sans-IO state machine.
//!
//! The machine asks node plugins what to do (through [`NodeRunner`], so tests need no Wasm),
//! runs their actions in order and turns them into [`Command`]s for the glue (play, collect
//! timers, transfer, hang up). The glue feeds back what happened ([`IvrMachine::on_digit`],
//! [`IvrMachine::on_play_done`], [`IvrMachine::on_transfer_failed`], …) with the time, and
//! calls [`IvrMachine::handle_timeout`] at [`IvrMachine::poll_timeout`]. Every step lands in
//! the call's [`EventLog`].
//!
//! Failure policy (never dead air): a node whose plugin fails, answers nonsense or goes to an
//! undeclared exit continues at its `on_error` node, then the scenario's `fallback`, then the
//! host's apology and hang-up.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use madoguchi_media::collect::{CollectResult, CollectSpec as MediaCollect, DigitCollector};
use madoguchi_plugin_host::bindings::types::{
    Action, CallFacts, CollectSpec, Event, NodeInput, Prompt, Step, TransferFailure, TransferTarget,
};
use serde_json::json;

use super::log::EventLog;

/// How many nodes a call may pass through without waiting for the caller: a `goto` loop in a
/// scenario must not spin the host.
const MAX_HOPS_WITHOUT_WAIT: u32 = 64;

/// The scenario as the machine sees it.
pub trait Graph {
    fn start(&self) -> &str;
    /// The scenario's default route for failing nodes.
    fn fallback(&self) -> Option<&str>;
    fn exists(&self, node: &str) -> bool;
    fn exits(&self, node: &str) -> &[String];
    fn on_error(&self, node: &str) -> Option<&str>;
    /// The node's config, as the JSON text the plugin gets.
    fn config(&self, node: &str) -> &str;
}

/// Runs one step of a node's plugin.
pub trait NodeRunner {
    fn step(&mut self, node: &str, input: &NodeInput, event: &Event) -> Result<Step, String>;
}

/// What the glue must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Play prompts; report the end with [`IvrMachine::on_play_done`] and this token.
    Play {
        token: u64,
        prompts: Vec<Prompt>,
        barge_in: bool,
    },
    /// Stop what is playing (a key interrupted a collect prompt).
    StopPlayback,
    /// Connect the caller; report failure with [`IvrMachine::on_transfer_failed`] or success
    /// with [`IvrMachine::on_transfer_connected`].
    Transfer(TransferTarget),
    StartRecording,
    StopRecording,
    /// Play the host's apology, then hang up.
    Apologise,
    /// Hang up.
    Hangup,
}

/// How the IVR part of a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Transferred(String),
    HungUp,
    Apologised,
    CallerHungUp,
}

#[derive(Debug)]
enum Waiting {
    /// Running actions (nothing outstanding).
    Nothing,
    /// A play; `last` when it was the step's last action (the node hears prompt-finished).
    Play {
        token: u64,
        last: bool,
    },
    /// A collect: prompts (if any) playing, then digits.
    Collect {
        spec: CollectSpec,
        token: Option<u64>,
        collector: Option<DigitCollector>,
    },
    Transfer,
    Done(Outcome),
}

/// One call in a scenario.
pub struct IvrMachine {
    facts: CallFacts,
    node: String,
    node_state: String,
    pending: VecDeque<Action>,
    waiting: Waiting,
    next_token: u64,
    hops: u32,
    out: VecDeque<Command>,
    log: EventLog,
}

impl IvrMachine {
    /// A call answered at `now`; `facts.variables` may carry host-set variables.
    pub fn new(facts: CallFacts, log: EventLog) -> Self {
        IvrMachine {
            facts,
            node: String::new(),
            node_state: String::new(),
            pending: VecDeque::new(),
            waiting: Waiting::Nothing,
            next_token: 1,
            hops: 0,
            out: VecDeque::new(),
            log,
        }
    }

    /// Enter the scenario's start node.
    pub fn start(&mut self, g: &dyn Graph, r: &mut dyn NodeRunner, now: Instant) {
        let start = g.start().to_string();
        self.enter(g, r, &start, now);
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.out.pop_front()
    }

    /// A call variable a node set (`set-variable`), or the host did.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.facts
            .variables
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every call variable, in the order they were (last) set.
    pub fn variables(&self) -> &[(String, String)] {
        &self.facts.variables
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn log_mut(&mut self) -> &mut EventLog {
        &mut self.log
    }

    /// The node the call is at.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// What the node at hand saved at its last step (its retry count, say).
    pub fn node_state(&self) -> &str {
        &self.node_state
    }

    /// `Some` once the IVR part is over.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.waiting {
            Waiting::Done(o) => Some(o),
            _ => None,
        }
    }

    /// When [`IvrMachine::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.waiting {
            Waiting::Collect {
                collector: Some(c), ..
            } => c.next_deadline(),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, g: &dyn Graph, r: &mut dyn NodeRunner, now: Instant) {
        let result = match &mut self.waiting {
            Waiting::Collect {
                collector: Some(c), ..
            } => c.poll(now),
            _ => None,
        };
        if let Some(res) = result {
            self.collected(g, r, res, now);
        }
    }

    /// A key from the caller.
    pub fn on_digit(&mut self, g: &dyn Graph, r: &mut dyn NodeRunner, digit: char, now: Instant) {
        self.log
            .push(now, "digit", None, json!({ "digit": digit.to_string() }));
        let Waiting::Collect {
            spec,
            token,
            collector,
        } = &mut self.waiting
        else {
            return;
        };
        if token.take().is_some() {
            // Barge-in: the prompt stops and this key starts the input.
            self.out.push_back(Command::StopPlayback);
        }
        let c = collector.get_or_insert_with(|| DigitCollector::new(media_spec(spec), now));
        c.on_digit(digit, now);
        if let Some(res) = c.poll(now) {
            self.collected(g, r, res, now);
        }
    }

    /// A play finished (to the end, or interrupted/stopped).
    pub fn on_play_done(
        &mut self,
        g: &dyn Graph,
        r: &mut dyn NodeRunner,
        token: u64,
        now: Instant,
    ) {
        match &mut self.waiting {
            Waiting::Play { token: t, last } if *t == token => {
                let last = *last;
                self.waiting = Waiting::Nothing;
                if last {
                    self.feed(g, r, Event::PromptFinished, now);
                } else {
                    self.run_actions(g, r, now);
                }
            }
            Waiting::Collect {
                spec,
                token: t,
                collector,
            } if *t == Some(token) => {
                *t = None;
                if collector.is_none() {
                    *collector = Some(DigitCollector::new(media_spec(spec), now));
                }
            }
            _ => {}
        }
    }

    /// The transfer connected: the IVR part is over.
    pub fn on_transfer_connected(&mut self, target: &str, now: Instant) {
        self.log.push(
            now,
            "transfer-connected",
            Some(&self.node),
            json!({ "target": target }),
        );
        self.waiting = Waiting::Done(Outcome::Transferred(target.to_string()));
    }

    /// The transfer failed: the node decides what next.
    pub fn on_transfer_failed(
        &mut self,
        g: &dyn Graph,
        r: &mut dyn NodeRunner,
        why: TransferFailure,
        now: Instant,
    ) {
        if !matches!(self.waiting, Waiting::Transfer) {
            return;
        }
        self.log.push(
            now,
            "transfer-failed",
            Some(&self.node),
            json!({ "reason": failure_name(why) }),
        );
        self.waiting = Waiting::Nothing;
        self.pending.clear();
        self.feed(g, r, Event::TransferFailed(why), now);
    }

    /// The caller hung up.
    pub fn on_caller_hangup(&mut self, now: Instant) {
        if self.outcome().is_none() {
            self.log
                .push(now, "caller-hangup", Some(&self.node), json!({}));
            self.waiting = Waiting::Done(Outcome::CallerHungUp);
        }
    }

    fn collected(
        &mut self,
        g: &dyn Graph,
        r: &mut dyn NodeRunner,
        res: CollectResult,
        now: Instant,
    ) {
        let Waiting::Collect { spec, .. } = &self.waiting else {
            return;
        };
        let min = spec.min_digits as usize;
        let event = match res {
            CollectResult::Complete(d) if d.chars().count() >= min.max(1) => Event::Digits(d),
            CollectResult::Timeout { digits, .. }
                if !digits.is_empty() && digits.chars().count() >= min.max(1) =>
            {
                Event::Digits(digits)
            }
            _ => Event::NoInput,
        };
        match &event {
            Event::Digits(d) => {
                self.log
                    .push(now, "input", Some(&self.node), json!({ "digits": d }))
            }
            _ => self.log.push(now, "no-input", Some(&self.node), json!({})),
        }
        self.waiting = Waiting::Nothing;
        self.feed(g, r, event, now);
    }

    fn enter(&mut self, g: &dyn Graph, r: &mut dyn NodeRunner, node: &str, now: Instant) {
        self.hops += 1;
        if self.hops > MAX_HOPS_WITHOUT_WAIT {
            self.log.push(
                now,
                "error",
                Some(node),
                json!({ "message": "too many nodes without waiting for the caller (a goto loop?)" }),
            );
            self.give_up(now);
            return;
        }
        self.node = node.to_string();
        self.node_state.clear();
        self.pending.clear();
        self.log.push(now, "node", Some(node), json!({}));
        self.feed(g, r, Event::Entered, now);
    }

    /// Gives the node an event and runs the actions it answers.
    fn feed(&mut self, g: &dyn Graph, r: &mut dyn NodeRunner, event: Event, now: Instant) {
        let node = self.node.clone();
        let input = NodeInput {
            facts: self.facts.clone(),
            config: g.config(&node).to_string(),
            state: std::mem::take(&mut self.node_state),
        };
        match r.step(&node, &input, &event) {
            Ok(step) => {
                self.node_state = step.state;
                self.pending = step.actions.into();
                if self.pending.is_empty() {
                    self.failed(g, r, "the node answered no action", now);
                } else {
                    self.run_actions(g, r, now);
                }
            }
            Err(e) => self.failed(g, r, &e, now),
        }
    }

    /// Runs queued actions until one must wait.
    fn run_actions(&mut self, g: &dyn Graph, r: &mut dyn NodeRunner, now: Instant) {
        while let Some(action) = self.pending.pop_front() {
            let last = self.pending.is_empty();
            match action {
                Action::Play(prompts) => {
                    let token = self.play(prompts, false, now);
                    self.waiting = Waiting::Play { token, last };
                    return;
                }
                Action::Collect(spec) => {
                    if !last {
                        self.failed(g, r, "collect must be the last action of a step", now);
                        return;
                    }
                    self.hops = 0;
                    let token = if spec.prompts.is_empty() {
                        None
                    } else {
                        Some(self.play(spec.prompts.clone(), true, now))
                    };
                    let collector = token
                        .is_none()
                        .then(|| DigitCollector::new(media_spec(&spec), now));
                    self.waiting = Waiting::Collect {
                        spec,
                        token,
                        collector,
                    };
                    return;
                }
                Action::Goto(to) => {
                    if !g.exits(&self.node).contains(&to) || !g.exists(&to) {
                        let msg = format!("goto {to:?} is not one of the node's exits");
                        self.failed(g, r, &msg, now);
                        return;
                    }
                    self.log
                        .push(now, "branch", Some(&self.node), json!({ "to": to }));
                    self.enter(g, r, &to, now);
                    return;
                }
                Action::Transfer(target) => {
                    self.hops = 0;
                    self.log.push(
                        now,
                        "transfer",
                        Some(&self.node),
                        json!({ "target": target_name(&target) }),
                    );
                    self.pending.clear();
                    self.waiting = Waiting::Transfer;
                    self.out.push_back(Command::Transfer(target));
                    return;
                }
                Action::StartRecording => self.out.push_back(Command::StartRecording),
                Action::StopRecording => self.out.push_back(Command::StopRecording),
                Action::SetVariable((k, v)) => {
                    self.facts.variables.retain(|(name, _)| *name != k);
                    self.facts.variables.push((k, v));
                }
                Action::Hangup => {
                    self.log.push(now, "hangup", Some(&self.node), json!({}));
                    self.pending.clear();
                    self.waiting = Waiting::Done(Outcome::HungUp);
                    self.out.push_back(Command::Hangup);
                    return;
                }
            }
        }
        // Actions ran out without anything to wait for (only variables or recording).
        self.failed(
            g,
            r,
            "the step ended without play, collect, goto, transfer or hangup",
            now,
        );
    }

    fn play(&mut self, prompts: Vec<Prompt>, barge_in: bool, now: Instant) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        self.log.push(
            now,
            "play",
            Some(&self.node),
            json!({ "prompts": prompts.iter().map(prompt_name).collect::<Vec<_>>() }),
        );
        self.out.push_back(Command::Play {
            token,
            prompts,
            barge_in,
        });
        token
    }

    /// The current node failed: `on_error`, then the scenario fallback, then the apology.
    fn failed(&mut self, g: &dyn Graph, r: &mut dyn NodeRunner, message: &str, now: Instant) {
        let node = self.node.clone();
        self.log
            .push(now, "error", Some(&node), json!({ "message": message }));
        tracing::warn!(node, message, "IVR node failed");
        self.pending.clear();
        self.waiting = Waiting::Nothing;
        let next = g
            .on_error(&node)
            .filter(|n| *n != node && g.exists(n))
            .or_else(|| g.fallback().filter(|n| *n != node && g.exists(n)))
            .map(str::to_string);
        match next {
            Some(n) => {
                self.log.push(
                    now,
                    "branch",
                    Some(&node),
                    json!({ "to": n, "on_error": true }),
                );
                self.enter(g, r, &n, now);
            }
            None => self.give_up(now),
        }
    }

    fn give_up(&mut self, now: Instant) {
        let node = self.node.clone();
        self.log.push(
            now,
            "apology",
            Some(&node),
            json!({ "text": super::APOLOGY_TEXT }),
        );
        self.pending.clear();
        self.waiting = Waiting::Done(Outcome::Apologised);
        self.out.push_back(Command::Apologise);
    }
}

fn media_spec(s: &CollectSpec) -> MediaCollect {
    MediaCollect {
        max_digits: s.max_digits.max(1) as usize,
        terminator: s.terminator,
        first_digit_timeout: Duration::from_millis(u64::from(s.first_digit_timeout_ms)),
        inter_digit_timeout: Duration::from_millis(u64::from(s.inter_digit_timeout_ms)),
    }
}

/// A prompt as the event log names it.
pub fn prompt_name(p: &Prompt) -> String {
    match p {
        Prompt::Asset(id) => id.clone(),
        Prompt::Text(t) => format!("text:{t}"),
        Prompt::Digits(d) => format!("digits:{d}"),
        Prompt::Silence(ms) => format!("silence:{ms}"),
    }
}

/// A transfer target as the event log names it (`user:1001`, `queue:x`, `external:callcenter`).
pub fn target_name(t: &TransferTarget) -> String {
    match t {
        TransferTarget::User(u) => format!("user:{u}"),
        TransferTarget::Queue(q) => format!("queue:{q}"),
        TransferTarget::External(e) => format!("external:{e}"),
    }
}

fn failure_name(f: TransferFailure) -> &'static str {
    match f {
        TransferFailure::Busy => "busy",
        TransferFailure::NoAnswer => "no-answer",
        TransferFailure::Failed => "failed",
    }
}
