//! The IVR machine on a synthetic clock, with scripted nodes instead of Wasm plugins.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use madoguchi_plugin_host::bindings::types::{
    Action, CallFacts, CollectSpec, Event, NodeInput, Prompt, Step, TransferFailure, TransferTarget,
};

use super::log::EventLog;
use super::machine::{Command, Graph, IvrMachine, NodeRunner, Outcome};

/// A scenario graph: node → (exits, on_error).
struct TestGraph {
    nodes: HashMap<&'static str, (Vec<String>, Option<&'static str>)>,
    fallback: Option<&'static str>,
}

impl TestGraph {
    fn new(nodes: &[(&'static str, &[&str], Option<&'static str>)]) -> Self {
        TestGraph {
            nodes: nodes
                .iter()
                .map(|(id, exits, on_error)| {
                    (
                        *id,
                        (exits.iter().map(|e| e.to_string()).collect(), *on_error),
                    )
                })
                .collect(),
            fallback: None,
        }
    }
}

impl Graph for TestGraph {
    fn start(&self) -> &str {
        "start"
    }
    fn fallback(&self) -> Option<&str> {
        self.fallback
    }
    fn exists(&self, node: &str) -> bool {
        self.nodes.contains_key(node)
    }
    fn exits(&self, node: &str) -> &[String] {
        self.nodes.get(node).map(|n| n.0.as_slice()).unwrap_or(&[])
    }
    fn on_error(&self, node: &str) -> Option<&str> {
        self.nodes.get(node).and_then(|n| n.1)
    }
    fn config(&self, _node: &str) -> &str {
        "{}"
    }
}

type Script = Box<dyn FnMut(&NodeInput, &Event) -> Result<Vec<Action>, String>>;

/// Nodes as closures; records every (node, event) it was asked.
#[derive(Default)]
struct Scripted {
    nodes: HashMap<&'static str, Script>,
    asked: Vec<(String, Event)>,
}

impl Scripted {
    fn node(
        mut self,
        id: &'static str,
        f: impl FnMut(&NodeInput, &Event) -> Result<Vec<Action>, String> + 'static,
    ) -> Self {
        self.nodes.insert(id, Box::new(f));
        self
    }
}

impl NodeRunner for Scripted {
    fn step(&mut self, node: &str, input: &NodeInput, event: &Event) -> Result<Step, String> {
        self.asked.push((node.to_string(), event.clone()));
        let f = self
            .nodes
            .get_mut(node)
            .ok_or_else(|| format!("no script for {node}"))?;
        Ok(Step {
            actions: f(input, event)?,
            state: String::new(),
        })
    }
}

fn facts() -> CallFacts {
    CallFacts {
        call_id: "c1".into(),
        caller: "0462009999".into(),
        did: "0462000000".into(),
        variables: Vec::new(),
    }
}

fn collect(prompt: &str, max: u8, min: u8) -> Action {
    Action::Collect(CollectSpec {
        prompts: vec![Prompt::Asset(prompt.into())],
        min_digits: min,
        max_digits: max,
        terminator: Some('#'),
        first_digit_timeout_ms: 5000,
        inter_digit_timeout_ms: 3000,
    })
}

fn commands(m: &mut IvrMachine) -> Vec<Command> {
    std::iter::from_fn(|| m.poll_command()).collect()
}

fn play_token(cmds: &[Command]) -> u64 {
    cmds.iter()
        .find_map(|c| match c {
            Command::Play { token, .. } => Some(*token),
            _ => None,
        })
        .expect("a play command")
}

fn kinds(m: &IvrMachine) -> Vec<String> {
    m.log().entries().iter().map(|e| e.kind.clone()).collect()
}

/// greeting (play, goto menu) → menu (collect; "1" → transfer, else hang up).
fn menu_scenario() -> (TestGraph, Scripted) {
    let g = TestGraph::new(&[
        ("start", &["menu"], None),
        ("menu", &["staff", "bye"], None),
        ("staff", &["bye"], None),
        ("bye", &[], None),
    ]);
    let r = Scripted::default()
        .node("start", |_, ev| match ev {
            Event::Entered => Ok(vec![
                Action::Play(vec![Prompt::Asset("greeting".into())]),
                Action::Goto("menu".into()),
            ]),
            _ => Err("unexpected".into()),
        })
        .node("menu", |_, ev| match ev {
            Event::Entered => Ok(vec![collect("menu", 1, 1)]),
            Event::Digits(d) if d == "1" => Ok(vec![Action::Goto("staff".into())]),
            _ => Ok(vec![Action::Goto("bye".into())]),
        })
        .node("staff", |_, ev| match ev {
            Event::Entered => Ok(vec![Action::Transfer(TransferTarget::User("1001".into()))]),
            Event::TransferFailed(_) => Ok(vec![Action::Goto("bye".into())]),
            _ => Err("unexpected".into()),
        })
        .node("bye", |_, _| {
            Ok(vec![
                Action::Play(vec![Prompt::Asset("goodbye".into())]),
                Action::Hangup,
            ])
        });
    (g, r)
}

#[test]
fn a_call_walks_play_goto_collect_and_transfer() {
    let (g, mut r) = menu_scenario();
    let t0 = Instant::now();
    let mut m = IvrMachine::new(facts(), EventLog::new(t0));
    m.start(&g, &mut r, t0);
    let cmds = commands(&mut m);
    // The greeting plays first; the goto waits for it.
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let greeting = play_token(&cmds);
    m.on_play_done(&g, &mut r, greeting, t0 + Duration::from_secs(3));
    let cmds = commands(&mut m);
    assert!(
        matches!(&cmds[0], Command::Play { barge_in: true, prompts, .. } if prompts == &vec![Prompt::Asset("menu".into())]),
        "{cmds:?}"
    );
    m.on_digit(&g, &mut r, '1', t0 + Duration::from_secs(4));
    let cmds = commands(&mut m);
    assert_eq!(
        cmds,
        vec![
            Command::StopPlayback,
            Command::Transfer(TransferTarget::User("1001".into()))
        ]
    );
    m.on_transfer_connected("user:1001", t0 + Duration::from_secs(6));
    assert_eq!(m.outcome(), Some(&Outcome::Transferred("user:1001".into())));
    assert_eq!(
        kinds(&m),
        [
            "node",
            "play",
            "branch",
            "node",
            "play",
            "digit",
            "input",
            "branch",
            "node",
            "transfer",
            "transfer-connected"
        ]
    );
    // Times are from the call's start.
    let input = m
        .log()
        .entries()
        .iter()
        .find(|e| e.kind == "input")
        .unwrap();
    assert_eq!(input.t_ms, 4000);
}

#[test]
fn silence_after_the_prompt_is_no_input_at_the_first_digit_timeout() {
    let (g, mut r) = menu_scenario();
    let t0 = Instant::now();
    let mut m = IvrMachine::new(facts(), EventLog::new(t0));
    m.start(&g, &mut r, t0);
    let greeting = play_token(&commands(&mut m));
    m.on_play_done(&g, &mut r, greeting, t0);
    let menu = play_token(&commands(&mut m));
    // While the prompt plays no timer runs.
    assert_eq!(m.poll_timeout(), None);
    let end = t0 + Duration::from_secs(10);
    m.on_play_done(&g, &mut r, menu, end);
    assert_eq!(m.poll_timeout(), Some(end + Duration::from_millis(5000)));
    m.handle_timeout(&g, &mut r, end + Duration::from_millis(4999));
    assert_eq!(m.node(), "menu");
    m.handle_timeout(&g, &mut r, end + Duration::from_millis(5000));
    assert_eq!(m.node(), "bye");
    assert!(r.asked.contains(&("menu".to_string(), Event::NoInput)));
}

#[test]
fn fewer_digits_than_the_minimum_are_no_input() {
    let g = TestGraph::new(&[("start", &["start"], None)]);
    let mut r = Scripted::default().node("start", |_, ev| match ev {
        Event::Entered => Ok(vec![Action::Collect(CollectSpec {
            prompts: vec![],
            min_digits: 4,
            max_digits: 8,
            terminator: Some('#'),
            first_digit_timeout_ms: 5000,
            inter_digit_timeout_ms: 2000,
        })]),
        _ => Ok(vec![Action::Hangup]),
    });
    let t0 = Instant::now();
    let mut m = IvrMachine::new(facts(), EventLog::new(t0));
    m.start(&g, &mut r, t0);
    m.on_digit(&g, &mut r, '1', t0 + Duration::from_millis(100));
    m.on_digit(&g, &mut r, '2', t0 + Duration::from_millis(200));
    m.on_digit(&g, &mut r, '#', t0 + Duration::from_millis(300));
    assert_eq!(r.asked.last().unwrap().1, Event::NoInput);
    assert_eq!(m.outcome(), Some(&Outcome::HungUp));
}

#[test]
fn a_failing_node_goes_to_on_error_then_fallback_then_apology() {
    let mut g = TestGraph::new(&[
        ("start", &[], Some("rescue")),
        ("rescue", &[], None),
        ("default", &[], None),
    ]);
    let failing = || Scripted::default().node("start", |_, _| Err("trap".into()));
    // on_error first.
    let mut r = failing().node("rescue", |_, _| Ok(vec![Action::Hangup]));
    let mut m = IvrMachine::new(facts(), EventLog::new(Instant::now()));
    m.start(&g, &mut r, Instant::now());
    assert_eq!(m.node(), "rescue");
    assert!(kinds(&m).contains(&"error".to_string()));
    // Without on_error: the scenario's fallback.
    g.nodes.get_mut("start").unwrap().1 = None;
    g.fallback = Some("default");
    let mut r = failing().node("default", |_, _| Ok(vec![Action::Hangup]));
    let mut m = IvrMachine::new(facts(), EventLog::new(Instant::now()));
    m.start(&g, &mut r, Instant::now());
    assert_eq!(m.node(), "default");
    // Neither: the host's apology, never dead air.
    g.fallback = None;
    let mut r = failing();
    let mut m = IvrMachine::new(facts(), EventLog::new(Instant::now()));
    m.start(&g, &mut r, Instant::now());
    assert_eq!(commands(&mut m), vec![Command::Apologise]);
    assert_eq!(m.outcome(), Some(&Outcome::Apologised));
}

#[test]
fn goto_outside_the_declared_exits_is_a_node_failure() {
    let g = TestGraph::new(&[
        ("start", &["ok"], Some("ok")),
        ("ok", &[], None),
        ("secret", &[], None),
    ]);
    let mut r = Scripted::default()
        .node("start", |_, _| Ok(vec![Action::Goto("secret".into())]))
        .node("ok", |_, _| Ok(vec![Action::Hangup]));
    let mut m = IvrMachine::new(facts(), EventLog::new(Instant::now()));
    m.start(&g, &mut r, Instant::now());
    assert_eq!(m.node(), "ok");
    let err = m
        .log()
        .entries()
        .iter()
        .find(|e| e.kind == "error")
        .unwrap();
    assert!(err.detail["message"].as_str().unwrap().contains("secret"));
}

#[test]
fn a_goto_loop_without_waiting_ends_in_the_apology() {
    let g = TestGraph::new(&[("start", &["other"], None), ("other", &["start"], None)]);
    let mut r = Scripted::default()
        .node("start", |_, _| Ok(vec![Action::Goto("other".into())]))
        .node("other", |_, _| Ok(vec![Action::Goto("start".into())]));
    let mut m = IvrMachine::new(facts(), EventLog::new(Instant::now()));
    m.start(&g, &mut r, Instant::now());
    assert_eq!(m.outcome(), Some(&Outcome::Apologised));
    assert!(r.asked.len() <= 65, "bounded: {}", r.asked.len());
}

#[test]
fn a_failed_transfer_is_reported_to_its_node() {
    let (g, mut r) = menu_scenario();
    let t0 = Instant::now();
    let mut m = IvrMachine::new(facts(), EventLog::new(t0));
    m.start(&g, &mut r, t0);
    let greeting = play_token(&commands(&mut m));
    m.on_play_done(&g, &mut r, greeting, t0);
    commands(&mut m);
    m.on_digit(&g, &mut r, '1', t0);
    commands(&mut m);
    m.on_transfer_failed(&g, &mut r, TransferFailure::Busy, t0);
    assert!(r
        .asked
        .contains(&("staff".into(), Event::TransferFailed(TransferFailure::Busy))));
    assert_eq!(m.node(), "bye");
    // The goodbye plays before the hang-up.
    let cmds = commands(&mut m);
    assert!(
        matches!(cmds.as_slice(), [Command::Play { .. }]),
        "{cmds:?}"
    );
    m.on_play_done(&g, &mut r, play_token(&cmds), t0);
    assert_eq!(commands(&mut m), vec![Command::Hangup]);
}

#[test]
fn variables_set_by_a_node_reach_the_next_nodes() {
    let g = TestGraph::new(&[("start", &["next"], None), ("next", &[], None)]);
    let mut r = Scripted::default()
        .node("start", |_, _| {
            Ok(vec![
                Action::SetVariable(("choice".into(), "2".into())),
                Action::Goto("next".into()),
            ])
        })
        .node("next", |input, _| {
            assert_eq!(
                input.facts.variables,
                vec![("choice".to_string(), "2".to_string())]
            );
            Ok(vec![Action::Hangup])
        });
    let mut m = IvrMachine::new(facts(), EventLog::new(Instant::now()));
    m.start(&g, &mut r, Instant::now());
    assert_eq!(m.outcome(), Some(&Outcome::HungUp));
}

#[test]
fn the_caller_hanging_up_ends_the_ivr_part() {
    let (g, mut r) = menu_scenario();
    let mut m = IvrMachine::new(facts(), EventLog::new(Instant::now()));
    m.start(&g, &mut r, Instant::now());
    m.on_caller_hangup(Instant::now());
    assert_eq!(m.outcome(), Some(&Outcome::CallerHungUp));
    assert_eq!(kinds(&m).last().unwrap(), "caller-hangup");
}
