//! Sandbox tests with guests that misbehave on purpose (`tests/guests/`,
//! built by `scripts/build-plugins`): each misbehaviour is contained as a
//! typed error, and calls running at the same time are unaffected.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use madoguchi_plugin_host::bindings::types::{Action, Event, Prompt};
use madoguchi_plugin_host::{CallContext, LoadError, Plugin, PluginError, Runtime, RuntimeConfig};

/// The default runtime: a 10 ms CPU budget per call.
fn runtime() -> Runtime {
    runtime_with_budget(RuntimeConfig::default().call_deadline)
}

/// For misbehaviours that are not about time: a budget no slow CI host can
/// exhaust, so the error names the misbehaviour and not the clock (growing
/// 16 MiB or lifting a large answer in an unoptimised debug host takes real
/// CPU time).
fn runtime_with_budget(call_deadline: Duration) -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 32,
        call_deadline,
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

    let rt = runtime_with_budget(Duration::from_secs(5));
    let p = rt
        .load("guest-misbehave@1", &built("guest-misbehave"))
        .unwrap();
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
    let modes = ["loop", "alloc", "panic", "huge-state"];
    let done: Arc<Vec<AtomicUsize>> = Arc::new(modes.map(|_| AtomicUsize::new(0)).into());
    let mut threads = vec![];
    for (i, mode) in modes.into_iter().enumerate() {
        let (bad, stop, done) = (bad.clone(), stop.clone(), done.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = misbehave(&bad, mode);
                done[i].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Good calls go on until every kind of misbehaviour has happened at
    // least twice while they ran (counted, not timed; bounded so a stuck
    // thread fails the test instead of hanging it). Each one must succeed.
    let cfg = r#"{"prompt": "m", "options": {"1": "a"}, "fallback": "op"}"#;
    let all_misbehaved = || done.iter().all(|n| n.load(Ordering::Relaxed) >= 2);
    let mut calls = 0;
    while (calls < 200 || !all_misbehaved()) && calls < 20_000 {
        let step = menu
            .node_step(&ctx(), &input(cfg), &Event::Digits("1".into()))
            .unwrap();
        assert_eq!(step.actions, vec![Action::Goto("a".into())]);
        calls += 1;
        if calls >= 200 {
            // Enough back to back: leave the cores to the misbehaving threads.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let counts: Vec<usize> = done.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    assert!(
        counts.iter().all(|&n| n >= 2),
        "misbehaviours {counts:?} during {calls} good calls"
    );
}
