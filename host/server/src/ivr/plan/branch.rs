//! Branches: the ways out of a node a test plan must cover. A branch is (node, what made the
//! call leave it, where it went), read off a simulated call's event log.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::sim::{SimRun, StatusKind, Stimulus, TransferOutcome};

/// A minute around an opening or closing time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoundaryKind {
    /// The minute before the opening time (still closed).
    BeforeOpen,
    /// The opening minute.
    Opens,
    /// The last minute before the closing time (still open).
    LastOpen,
    /// The closing minute.
    Closes,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Boundary {
    pub kind: BoundaryKind,
    /// The opening or closing time the minute is next to, `HH:MM`.
    pub time: String,
}

/// What made the call leave a node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    /// Nothing from outside: the node went on by itself (an announcement ended).
    Auto,
    /// A key sequence the menu takes.
    Key {
        keys: String,
    },
    /// A key the menu does not take.
    Invalid,
    NoInput,
    /// The answer of a schedule.
    Schedule {
        schedule: String,
        destination: String,
        status: StatusKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        boundary: Option<Boundary>,
    },
    Transfer {
        outcome: TransferOutcome,
        /// The target is a call queue (no answer = the queue's wait ran out).
        queue: bool,
    },
}

/// Where the call went.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "to", rename_all = "kebab-case")]
pub enum To {
    Node(String),
    /// The same menu asked again (a retry).
    Again,
    Hangup,
    Transferred(String),
    Apology,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Branch {
    pub node: String,
    pub trigger: Trigger,
    pub to: To,
}

/// A step of a simulated call before it is classified.
#[derive(Debug, Clone)]
pub struct Segment {
    pub node: String,
    pub trigger: RawTrigger,
    pub to: To,
    /// The node failed (plugin error, loop without input) and this is its error route.
    pub error: Option<String>,
    /// The index of the stimulus that made the call leave (into the run's marks).
    pub stimulus: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum RawTrigger {
    Auto,
    Stimulus(Stimulus),
    Schedule {
        schedule: String,
        destination: String,
        status: StatusKind,
    },
}

/// The segments of a run, in order.
pub fn segments(run: &SimRun) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut node = String::new();
    let mut visit: Option<usize> = None;
    let mut trigger = RawTrigger::Auto;
    let mut error: Option<String> = None;
    let mut marks = run.marks.iter().enumerate().peekable();
    let mut stim: Option<usize> = None;
    for (i, e) in run.log.iter().enumerate() {
        while let Some((mi, m)) = marks.next_if(|(_, m)| m.log_pos <= i) {
            if matches!(trigger, RawTrigger::Stimulus(_)) {
                out.push(Segment {
                    node: node.clone(),
                    trigger: trigger.clone(),
                    to: To::Again,
                    error: error.take(),
                    stimulus: stim,
                });
            }
            trigger = RawTrigger::Stimulus(m.stimulus.clone());
            stim = Some(mi);
        }
        let mut emit = |to: To, trigger: &mut RawTrigger, error: &mut Option<String>| {
            out.push(Segment {
                node: node.clone(),
                trigger: std::mem::replace(trigger, RawTrigger::Auto),
                to,
                error: error.take(),
                stimulus: stim.take(),
            });
        };
        match e.kind.as_str() {
            "node" => {
                let v = visit.map_or(0, |v| v + 1);
                visit = Some(v);
                node = e.node.clone().unwrap_or_default();
                trigger = match run.queries.iter().find(|q| q.visit == v) {
                    Some(q) => RawTrigger::Schedule {
                        schedule: q.schedule.clone(),
                        destination: q.destination.clone(),
                        status: q.status.kind.clone(),
                    },
                    None => RawTrigger::Auto,
                };
            }
            "error" => {
                error = Some(
                    e.detail["message"]
                        .as_str()
                        .unwrap_or("the node failed")
                        .to_string(),
                )
            }
            "branch" => {
                let to = e.detail["to"].as_str().unwrap_or_default().to_string();
                emit(To::Node(to), &mut trigger, &mut error);
            }
            "hangup" => emit(To::Hangup, &mut trigger, &mut error),
            "transfer-connected" => {
                let t = e.detail["target"].as_str().unwrap_or_default().to_string();
                emit(To::Transferred(t), &mut trigger, &mut error);
            }
            "apology" => emit(To::Apology, &mut trigger, &mut error),
            _ => {}
        }
    }
    // A stimulus given at the last menu that asked again.
    for (mi, m) in marks {
        if matches!(trigger, RawTrigger::Stimulus(_)) {
            out.push(Segment {
                node: node.clone(),
                trigger: trigger.clone(),
                to: To::Again,
                error: error.take(),
                stimulus: stim,
            });
        }
        trigger = RawTrigger::Stimulus(m.stimulus.clone());
        stim = Some(mi);
    }
    if matches!(trigger, RawTrigger::Stimulus(_)) && run.pending.is_some() {
        out.push(Segment {
            node,
            trigger,
            to: To::Again,
            error,
            stimulus: stim,
        });
    }
    out
}

/// What the classification knows: the keys each menu takes (found by probing it when it
/// asks for the first time), the boundary minute of the time a run used, and which
/// transfer nodes target a queue.
#[derive(Debug, Default, Clone)]
pub struct Classifier {
    pub valid_keys: HashMap<String, BTreeSet<String>>,
    pub boundaries: BTreeMap<(String, String), Boundary>,
    pub queue_nodes: BTreeSet<String>,
}

impl Classifier {
    pub fn branch(&self, s: &Segment) -> Branch {
        let trigger = match &s.trigger {
            RawTrigger::Auto => Trigger::Auto,
            RawTrigger::Schedule {
                schedule,
                destination,
                status,
            } => Trigger::Schedule {
                schedule: schedule.clone(),
                destination: destination.clone(),
                status: status.clone(),
                boundary: self
                    .boundaries
                    .get(&(schedule.clone(), destination.clone()))
                    .cloned(),
            },
            RawTrigger::Stimulus(Stimulus::NoInput) => Trigger::NoInput,
            RawTrigger::Stimulus(Stimulus::Keys { keys }) => match self.valid_keys.get(&s.node) {
                Some(valid) if !valid.contains(keys) => Trigger::Invalid,
                _ => Trigger::Key { keys: keys.clone() },
            },
            RawTrigger::Stimulus(Stimulus::Transfer { outcome }) => Trigger::Transfer {
                outcome: *outcome,
                queue: self.queue_nodes.contains(&s.node),
            },
        };
        Branch {
            node: s.node.clone(),
            trigger,
            to: s.to.clone(),
        }
    }

    pub fn branches(&self, run: &SimRun) -> Vec<Branch> {
        segments(run).iter().map(|s| self.branch(s)).collect()
    }
}

/// Japanese first, English second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Branch {
    /// A stable id, e.g. `main|key:1|node:apply-menu`, which names the branch in reports.
    pub fn id(&self) -> String {
        let trigger = match &self.trigger {
            Trigger::Auto => "auto".to_string(),
            Trigger::Key { keys } => format!("key:{keys}"),
            Trigger::Invalid => "invalid".into(),
            Trigger::NoInput => "no-input".into(),
            Trigger::Schedule {
                schedule,
                destination,
                status,
                boundary,
            } => {
                let b = boundary.as_ref().map_or(String::new(), |b| {
                    let k = match b.kind {
                        BoundaryKind::BeforeOpen => "before-open",
                        BoundaryKind::Opens => "opens",
                        BoundaryKind::LastOpen => "last-open",
                        BoundaryKind::Closes => "closes",
                    };
                    format!("@{k}-{}", b.time)
                });
                format!("schedule:{schedule}/{destination}:{}{b}", status.name())
            }
            Trigger::Transfer { outcome, .. } => format!("transfer:{}", outcome.name()),
        };
        let to = match &self.to {
            To::Node(n) => format!("node:{n}"),
            To::Again => "again".into(),
            To::Hangup => "hangup".into(),
            To::Transferred(t) => format!("transferred:{t}"),
            To::Apology => "apology".into(),
        };
        format!("{}|{trigger}|{to}", self.node)
    }

    /// The branch in words: `main: キー 1 → apply-menu`.
    pub fn label(&self, lang: Lang) -> String {
        let ja = lang == Lang::Ja;
        let retry_over = matches!(self.trigger, Trigger::Invalid | Trigger::NoInput)
            && !matches!(self.to, To::Again);
        let trigger = match &self.trigger {
            Trigger::Auto => (if ja { "案内後" } else { "after its prompts" }).to_string(),
            Trigger::Key { keys } => {
                if ja {
                    format!("キー {keys}")
                } else {
                    format!("key {keys}")
                }
            }
            Trigger::Invalid => (if ja { "無効なキー" } else { "invalid key" }).to_string(),
            Trigger::NoInput => (if ja { "無入力" } else { "no input" }).to_string(),
            Trigger::Schedule {
                destination,
                status,
                boundary,
                ..
            } => {
                let s = match (status, ja) {
                    (StatusKind::Open, true) => "受付時間内",
                    (StatusKind::Closed, true) => "受付時間外",
                    (StatusKind::Holiday, true) => "祝日",
                    (StatusKind::YearEnd, true) => "年末年始",
                    (StatusKind::SpecialClosure, true) => "臨時休業",
                    (StatusKind::Error, true) => "スケジュール照会エラー",
                    (StatusKind::Open, false) => "open",
                    (StatusKind::Closed, false) => "closed",
                    (StatusKind::Holiday, false) => "holiday",
                    (StatusKind::YearEnd, false) => "year-end closure",
                    (StatusKind::SpecialClosure, false) => "special closure",
                    (StatusKind::Error, false) => "schedule error",
                };
                let b = boundary.as_ref().map_or(String::new(), |b| {
                    let k = match (&b.kind, ja) {
                        (BoundaryKind::BeforeOpen, true) => "開始 1 分前",
                        (BoundaryKind::Opens, true) => "開始時刻",
                        (BoundaryKind::LastOpen, true) => "終了 1 分前",
                        (BoundaryKind::Closes, true) => "終了時刻",
                        (BoundaryKind::BeforeOpen, false) => "minute before opening",
                        (BoundaryKind::Opens, false) => "opening minute",
                        (BoundaryKind::LastOpen, false) => "last minute before closing",
                        (BoundaryKind::Closes, false) => "closing minute",
                    };
                    format!(" ({k} {})", b.time)
                });
                format!("{destination} {s}{b}")
            }
            Trigger::Transfer { outcome, queue } => {
                let s = match (outcome, ja, queue) {
                    (TransferOutcome::Answered, true, _) => "転送先が応答",
                    (TransferOutcome::Busy, true, _) => "転送先が話中",
                    (TransferOutcome::NoAnswer, true, false) => "転送先が無応答",
                    (TransferOutcome::NoAnswer, true, true) => "転送先が無応答・待ち呼超過",
                    (TransferOutcome::Failed, true, _) => "転送失敗",
                    (TransferOutcome::Answered, false, _) => "transfer answered",
                    (TransferOutcome::Busy, false, _) => "transfer busy",
                    (TransferOutcome::NoAnswer, false, false) => "transfer not answered",
                    (TransferOutcome::NoAnswer, false, true) => {
                        "transfer not answered / queue overflow"
                    }
                    (TransferOutcome::Failed, false, _) => "transfer failed",
                };
                s.to_string()
            }
        };
        let retry = if retry_over {
            if ja {
                " (再試行の上限)"
            } else {
                " (retries exhausted)"
            }
        } else {
            ""
        };
        format!("{}: {trigger}{retry} → {}", self.node, self.to.label(lang))
    }
}

impl To {
    pub fn label(&self, lang: Lang) -> String {
        let ja = lang == Lang::Ja;
        match self {
            To::Node(n) => n.clone(),
            To::Again => (if ja { "再入力" } else { "asked again" }).into(),
            To::Hangup => (if ja { "切断" } else { "hang up" }).into(),
            To::Transferred(t) => {
                if ja {
                    format!("転送 {t}")
                } else {
                    format!("transferred to {t}")
                }
            }
            To::Apology => (if ja {
                "お詫び・切断"
            } else {
                "apology, hang up"
            })
            .into(),
        }
    }
}
