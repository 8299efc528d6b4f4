//! Sandbox tests with guests that misbehave on purpose (`tests/guests/`,
//! built by `scripts/build-plugins`): each misbehaviour is contained as a
//! typed error, and calls running at the same time are unaffected.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use madoguchi_plugin_host::bindings::types::{Action, Event, Prompt};
use madoguchi_plugin_host::{CallContext, LoadError, Plugin, PluginError, Runtime, RuntimeConfig};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 32,
        ..Default::default()
    })
    .unwrap()
}

fn ctx() -> CallContext {
    CallContext::new("call-sandbox")
}

fn misbehave(p: &Plugin, mode: &str) -> PluginError {
    let cfg = format!(r#"{{"mode": "{mode}"}}"#);
    p.node_step(&ctx(), &input(&cfg), &Event::Entered)
        .expect_err(mode)
}

#[test]
fn each_misbehaviour_is_a_typed_error() {
    let rt = runtime();
    let p = rt
        .load("guest-misbehave@1", &built("guest-misbehave"))
        .unwrap();

    // The loop ends by its deadline (a hang would never return here).
    let e = misbehave(&p, "loop");
    assert!(
        matches!(e, PluginError::Deadline { limit_ms: 10, .. }),
        "{e:?}"
    );

    let e = misbehave(&p, "alloc");
    assert!(matches!(e, PluginError::MemoryLimit { .. }), "{e:?}");

    let e = misbehave(&p, "panic");
    assert!(
        matches!(&e, PluginError::Trap { message, .. } if message.contains("panicking on purpose")),
        "{e:?}"
    );

    for mode in ["huge-state", "many-actions", "bad-order"] {
        let e = misbehave(&p, mode);
        assert!(matches!(e, PluginError::BadAnswer { .. }), "{mode}: {e:?}");
    }

    // The plugin itself still works for a well-behaved event.
    let step = p
        .node_step(
            &ctx(),
            &input(r#"{"mode": "loop"}"#),
            &Event::PromptFinished,
        )
        .unwrap();
    assert_eq!(step.actions, vec![Action::Hangup]);
}

#[test]
fn a_component_exporting_another_world_is_refused() {
    let rt = runtime();
    match rt.load("guest-wrong-world@1", &built("guest-wrong-world")) {
        Err(LoadError::UnknownWorld { exports }) => {
            assert_eq!(exports, vec!["example:greeter/greet@1.0.0"])
        }
        other => panic!("expected UnknownWorld, got {other:?}"),
    }
}

#[test]
fn a_std_guest_finds_no_files_env_or_network() {
    let rt = runtime();
    let p = rt.load("guest-nosy@1", &built("guest-nosy")).unwrap();
    let step = p.node_step(&ctx(), &input("{}"), &Event::Entered).unwrap();
    let Some(Action::Play(prompts)) = step.actions.first() else {
        panic!("{step:?}")
    };
    let found: Vec<&str> = prompts
        .iter()
        .map(|p| match p {
            Prompt::Text(t) => t.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            "file:denied",
            "dir:denied",
            "env:0",
            "args:0",
            "tcp:denied",
            "dns:denied"
        ]
    );
}

#[test]
fn misbehaving_calls_do_not_disturb_calls_running_at_the_same_time() {
    let rt = runtime();
    let bad = rt
        .load("guest-misbehave@1", &built("guest-misbehave"))
        .unwrap();
    let menu = rt.load("menu@1", &built("menu")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = vec![];
    for mode in ["loop", "alloc", "panic", "huge-state"] {
        let (bad, stop) = (bad.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let _ = misbehave(&bad, mode);
                n += 1;
            }
            n
        }));
    }
    let cfg = r#"{"prompt": "m", "options": {"1": "a"}, "fallback": "op"}"#;
    let t = Instant::now();
    let mut calls = 0;
    while t.elapsed() < Duration::from_millis(800) {
        let step = menu
            .node_step(&ctx(), &input(cfg), &Event::Digits("1".into()))
            .unwrap();
        assert_eq!(step.actions, vec![Action::Goto("a".into())]);
        calls += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        assert!(t.join().unwrap() >= 1);
    }
    assert!(calls >= 10, "only {calls} good calls in 800 ms");
}
