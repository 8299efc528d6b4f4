//! Checks on what plugins answer. A plugin is untrusted: its answer is
//! checked against the contract (sizes, action order, digit specs) before
//! anything acts on it, so a bad answer becomes a typed error, never a
//! half-run step.

use crate::bindings::types::{
    Action, CollectSpec, Prompt, RecordingDecision, ScheduleAnswer, ScheduleStatus, Step,
    TransferTarget,
};

/// What one answer may contain.
#[derive(Debug, Clone)]
pub struct AnswerLimits {
    /// Actions in one step.
    pub max_actions: usize,
    /// Prompts in one `play`, `collect` or notice.
    pub max_prompts: usize,
    /// Bytes in any one string (prompt text, node id, variable value, ...).
    pub max_string: usize,
    /// Bytes of saved node state.
    pub max_state: usize,
    /// Longest timeout a `collect` may ask for, in ms.
    pub max_timeout_ms: u32,
    /// Longest silence prompt, in ms.
    pub max_silence_ms: u32,
}

impl Default for AnswerLimits {
    fn default() -> Self {
        Self {
            max_actions: 32,
            max_prompts: 32,
            max_string: 4096,
            max_state: 64 * 1024,
            max_timeout_ms: 120_000,
            max_silence_ms: 60_000,
        }
    }
}

/// Check a node step: sizes, and the action order the WIT promises the host
/// can run (`collect` last, nothing after `goto` / `hangup` / `transfer`, and
/// the step must end in something that waits or leaves).
pub fn check_step(step: &Step, l: &AnswerLimits) -> Result<(), String> {
    if step.state.len() > l.max_state {
        return Err(format!(
            "state is {} bytes, over {}",
            step.state.len(),
            l.max_state
        ));
    }
    if step.actions.is_empty() {
        return Err("no actions: a step must play, collect, go to, transfer or hang up".into());
    }
    if step.actions.len() > l.max_actions {
        return Err(format!(
            "{} actions, over {}",
            step.actions.len(),
            l.max_actions
        ));
    }
    let last = step.actions.len() - 1;
    for (i, a) in step.actions.iter().enumerate() {
        let what = || format!("action {i}");
        match a {
            Action::Play(p) => check_prompts(p, l).map_err(|e| format!("{}: {e}", what()))?,
            Action::Collect(c) => {
                check_collect(c, l).map_err(|e| format!("{}: {e}", what()))?;
                if i != last {
                    return Err(format!("{}: collect must be the last action", what()));
                }
            }
            Action::Goto(node) => {
                check_id(node, l).map_err(|e| format!("{}: goto {e}", what()))?;
                if i != last {
                    return Err(format!("{}: goto must be the last action", what()));
                }
            }
            Action::Transfer(t) => {
                let target = match t {
                    TransferTarget::User(s)
                    | TransferTarget::Queue(s)
                    | TransferTarget::External(s) => s,
                };
                check_id(target, l).map_err(|e| format!("{}: transfer target {e}", what()))?;
                if i != last {
                    return Err(format!("{}: transfer must be the last action", what()));
                }
            }
            Action::Hangup => {
                if i != last {
                    return Err(format!("{}: hangup must be the last action", what()));
                }
            }
            Action::SetVariable((k, v)) => {
                check_id(k, l).map_err(|e| format!("{}: variable name {e}", what()))?;
                check_len(v, l).map_err(|e| format!("{}: variable value {e}", what()))?;
            }
            Action::StartRecording | Action::StopRecording => {}
        }
    }
    match step.actions[last] {
        Action::Play(_)
        | Action::Collect(_)
        | Action::Goto(_)
        | Action::Transfer(_)
        | Action::Hangup => Ok(()),
        _ => Err("the last action must play, collect, go to, transfer or hang up".into()),
    }
}

fn check_len(s: &str, l: &AnswerLimits) -> Result<(), String> {
    if s.len() > l.max_string {
        return Err(format!("is {} bytes, over {}", s.len(), l.max_string));
    }
    Ok(())
}

/// Identifiers (node ids, targets, variable names) must be non-empty, short
/// and free of control characters: they end up in logs and lookups.
fn check_id(s: &str, l: &AnswerLimits) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 256.min(l.max_string) {
        return Err(format!("is {} bytes long", s.len()));
    }
    if s.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(())
}

/// Check a prompt list (sizes and silence lengths).
pub fn check_prompts(prompts: &[Prompt], l: &AnswerLimits) -> Result<(), String> {
    if prompts.len() > l.max_prompts {
        return Err(format!("{} prompts, over {}", prompts.len(), l.max_prompts));
    }
    for p in prompts {
        match p {
            Prompt::Asset(s) => check_id(s, l).map_err(|e| format!("asset id {e}"))?,
            Prompt::Text(s) => check_len(s, l).map_err(|e| format!("prompt text {e}"))?,
            Prompt::Digits(s) => {
                check_len(s, l)?;
                if !s
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
                {
                    return Err(format!(
                        "digits prompt {s:?} has characters other than 0-9*#"
                    ));
                }
            }
            Prompt::Silence(ms) if *ms > l.max_silence_ms => {
                return Err(format!("silence of {ms} ms, over {}", l.max_silence_ms));
            }
            Prompt::Silence(_) => {}
        }
    }
    Ok(())
}

fn check_collect(c: &CollectSpec, l: &AnswerLimits) -> Result<(), String> {
    check_prompts(&c.prompts, l)?;
    if c.max_digits == 0 || c.max_digits > 32 {
        return Err(format!("max-digits {} not in 1..=32", c.max_digits));
    }
    if c.min_digits > c.max_digits {
        return Err(format!(
            "min-digits {} over max-digits {}",
            c.min_digits, c.max_digits
        ));
    }
    if let Some(t) = c.terminator {
        if !(t.is_ascii_digit() || t == '*' || t == '#') {
            return Err(format!("terminator {t:?} is not a DTMF key"));
        }
    }
    for (name, ms) in [
        ("first-digit-timeout-ms", c.first_digit_timeout_ms),
        ("inter-digit-timeout-ms", c.inter_digit_timeout_ms),
    ] {
        if ms == 0 || ms > l.max_timeout_ms {
            return Err(format!("{name} {ms} not in 1..={}", l.max_timeout_ms));
        }
    }
    Ok(())
}

/// Check a schedule answer.
pub fn check_schedule(a: &ScheduleAnswer, l: &AnswerLimits) -> Result<(), String> {
    match &a.status {
        ScheduleStatus::Holiday(s)
        | ScheduleStatus::YearEndClosure(s)
        | ScheduleStatus::SpecialClosure(s) => {
            check_len(s, l).map_err(|e| format!("closure name {e}"))?
        }
        ScheduleStatus::Open | ScheduleStatus::Closed => {}
    }
    if let Some(n) = &a.next_open {
        if crate::clock::local_to_unix_ms(*n, 0).is_none() {
            return Err(format!("next-open {n:?} is not a valid date-time"));
        }
    }
    Ok(())
}

/// Check a recording decision.
pub fn check_recording(d: &RecordingDecision, l: &AnswerLimits) -> Result<(), String> {
    check_prompts(&d.notice, l).map_err(|e| format!("notice: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(actions: Vec<Action>) -> Step {
        Step {
            actions,
            state: String::new(),
        }
    }

    fn collect() -> CollectSpec {
        CollectSpec {
            prompts: vec![],
            min_digits: 1,
            max_digits: 1,
            terminator: None,
            first_digit_timeout_ms: 5000,
            inter_digit_timeout_ms: 3000,
        }
    }

    #[test]
    fn accepts_the_usual_shapes() {
        let l = AnswerLimits::default();
        check_step(
            &step(vec![
                Action::Play(vec![Prompt::Asset("a".into())]),
                Action::Collect(collect()),
            ]),
            &l,
        )
        .unwrap();
        check_step(
            &step(vec![
                Action::SetVariable(("k".into(), "v".into())),
                Action::Goto("n".into()),
            ]),
            &l,
        )
        .unwrap();
        check_step(
            &step(vec![
                Action::StartRecording,
                Action::Transfer(TransferTarget::Queue("q".into())),
            ]),
            &l,
        )
        .unwrap();
    }

    #[test]
    fn rejects_bad_orders_and_sizes() {
        let l = AnswerLimits::default();
        let bad = [
            step(vec![]),
            step(vec![Action::Collect(collect()), Action::Hangup]),
            step(vec![Action::Hangup, Action::Goto("x".into())]),
            step(vec![Action::StartRecording]),
            step(vec![Action::Goto(String::new())]),
            step(vec![Action::Play(vec![Prompt::Digits("12a".into())])]),
            step(vec![Action::Collect(CollectSpec {
                max_digits: 0,
                ..collect()
            })]),
            step(vec![Action::Collect(CollectSpec {
                min_digits: 3,
                max_digits: 2,
                ..collect()
            })]),
            step(vec![Action::Collect(CollectSpec {
                terminator: Some('x'),
                ..collect()
            })]),
            step(vec![Action::Collect(CollectSpec {
                first_digit_timeout_ms: 0,
                ..collect()
            })]),
            step(vec![Action::Play(vec![Prompt::Text("x".repeat(5000))])]),
            Step {
                actions: vec![Action::Hangup],
                state: "s".repeat(70_000),
            },
            step(vec![Action::Play(vec![]); 33]),
        ];
        for s in bad {
            assert!(check_step(&s, &l).is_err(), "accepted {s:?}");
        }
    }
}
