//! Host runtime tests with inline WAT components: every limit next to what
//! it protects, typed errors, and the load checks. No guest toolchain needed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use cpu_time::ThreadTime;

use common::*;
use madoguchi_plugin_host::bindings::types::{
    Action, Event, LocalDatetime, RecordFrom, ScheduleStatus,
};
use madoguchi_plugin_host::clock::FixedClock;
use madoguchi_plugin_host::{
    CallContext, LoadError, PluginError, PluginKind, Runtime, RuntimeConfig,
};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 16,
        ..Default::default()
    })
    .unwrap()
}

fn ctx() -> CallContext {
    CallContext::new("call-1")
}

#[test]
fn node_answers_and_validates_config() {
    let rt = runtime();
    let p = rt.load("ok@1", &node("(i32.const 1024)")).unwrap();
    assert_eq!(p.kind(), PluginKind::Node);
    let step = p.node_step(&ctx(), &input("{}"), &Event::Entered).unwrap();
    assert_eq!(step.actions, vec![Action::Hangup]);
    p.validate_config(&ctx(), "{}").unwrap();
    match p.validate_config(&ctx(), "{\"x\":1}") {
        Err(PluginError::Failed { message, .. }) => assert_eq!(message, "want {}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    // One instance serves several steps of a call.
    let mut inst = p.instantiate(&ctx()).unwrap();
    for _ in 0..3 {
        inst.handle(&input("{}"), &Event::Digits("1".into()))
            .unwrap();
    }
}

#[test]
fn infinite_loop_hits_the_deadline_and_poisons_the_instance() {
    let rt = runtime();
    let p = rt
        .load("loop@1", &node("(loop $l (br $l)) (i32.const 1024)"))
        .unwrap();
    let mut inst = p.instantiate(&ctx()).unwrap();
    let cpu = ThreadTime::now();
    let err = inst.handle(&input("{}"), &Event::Entered).unwrap_err();
    let used = cpu.elapsed();
    assert!(
        matches!(err, PluginError::Deadline { limit_ms: 10, .. }),
        "{err:?}"
    );
    // The budget is CPU time, so the call used at least that much of it
    // (no wall-clock assertion: a loaded CI host only makes that longer).
    assert!(used >= Duration::from_millis(10), "{used:?}");
    assert!(matches!(
        inst.handle(&input("{}"), &Event::Entered),
        Err(PluginError::Poisoned { .. })
    ));
}

#[test]
fn the_budget_is_per_call_not_per_instance() {
    let rt = runtime();
    // About 1 ms of CPU per call: many calls on one instance add up to far
    // more than the 10 ms budget, but each call is well within it.
    let spin = "(local.set 0 (i32.const 2000000))
                (loop $l (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if $l (local.get 0)))
                (i32.const 1024)";
    let p = rt.load("spin@1", &node(spin)).unwrap();
    let mut inst = p.instantiate(&ctx()).unwrap();
    // Call until the instance has used 3x the per-call budget in CPU time
    // (bounded): every call must still succeed. Measured in thread CPU
    // time, like the budget itself, so a preempted test thread changes
    // nothing.
    let cpu = ThreadTime::now();
    let mut calls = 0;
    while cpu.elapsed() < Duration::from_millis(30) && calls < 100_000 {
        inst.handle(&input("{}"), &Event::Entered).unwrap();
        calls += 1;
    }
    assert!(
        cpu.elapsed() >= Duration::from_millis(30),
        "{calls} calls used only {:?} of CPU",
        cpu.elapsed()
    );
}

#[test]
fn unbounded_growth_hits_the_memory_cap() {
    let rt = runtime();
    let body =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable";
    let p = rt.load("grow@1", &node(body)).unwrap();
    let err = p
        .node_step(&ctx(), &input("{}"), &Event::Entered)
        .unwrap_err();
    assert!(
        matches!(err, PluginError::MemoryLimit { limit_bytes, .. } if limit_bytes == 16 << 20),
        "{err:?}"
    );
}

#[test]
fn trap_is_a_typed_error() {
    let rt = runtime();
    let p = rt.load("trap@1", &node("unreachable")).unwrap();
    let err = p
        .node_step(&ctx(), &input("{}"), &Event::Entered)
        .unwrap_err();
    assert!(
        matches!(&err, PluginError::Trap { message, .. } if message.contains("unreachable")),
        "{err:?}"
    );
    assert_eq!(err.plugin(), "trap@1");
}

#[test]
fn malformed_and_contract_breaking_answers_are_bad_answers() {
    let rt = runtime();
    for (name, body) in [
        ("bad-discriminant", "(i32.const 1400)"),
        ("bad-order", "(i32.const 1600)"),
        (
            "huge-state",
            "(drop (memory.grow (i32.const 20))) (i32.const 1800)",
        ),
        ("out-of-bounds", "(i32.const 1900)"),
    ] {
        let p = rt.load(name, &node(body)).unwrap();
        let err = p
            .node_step(&ctx(), &input("{}"), &Event::Entered)
            .unwrap_err();
        assert!(
            matches!(err, PluginError::BadAnswer { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn clock_import_sees_the_configured_clock() {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 4,
        clock: Arc::new(FixedClock::new(1_234_567)),
        ..Default::default()
    })
    .unwrap();
    let imports = r#"(import "madoguchi:ivr/clock@0.1.0" "now-unix-ms" (func $now (result i64)))
                     (import "madoguchi:ivr/log@0.1.0" "log" (func $log (param i32 i32 i32)))"#;
    let body = "(call $log (i32.const 2) (i32.const 1300) (i32.const 7))
                (if (result i32) (i64.eq (call $now) (i64.const 1234567)) (then (i32.const 1024)) (else unreachable))";
    let p = rt
        .load("clock@1", &node_with_imports(imports, body))
        .unwrap();
    p.node_step(&ctx(), &input("{}"), &Event::Entered).unwrap();
}

#[test]
fn schedule_and_recording_worlds_and_wrong_kind() {
    let rt = runtime();
    let s = rt.load("sched@1", &schedule_open()).unwrap();
    assert_eq!(s.kind(), PluginKind::Schedule);
    let at = LocalDatetime {
        year: 2026,
        month: 11,
        day: 25,
        hour: 10,
        minute: 0,
        second: 0,
    };
    let a = s.check_schedule(&ctx(), "{}", "main", at).unwrap();
    assert_eq!(a.status, ScheduleStatus::Open);
    assert_eq!(a.next_open, None);
    let r = rt.load("rec@1", &recording_always()).unwrap();
    let d = r.decide_recording(&ctx(), "{}", &facts()).unwrap();
    assert!(d.record);
    assert_eq!(d.from, RecordFrom::Answer);
    assert_eq!(d.retention_days, 90);
    let err = s
        .node_step(&ctx(), &input("{}"), &Event::Entered)
        .unwrap_err();
    assert!(matches!(
        err,
        PluginError::WrongKind {
            expected: PluginKind::Node,
            found: PluginKind::Schedule,
            ..
        }
    ));
}

#[test]
fn uploads_that_are_not_plugins_are_refused_with_a_reason() {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 4,
        max_component_bytes: 64 * 1024,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        rt.load("x", b"PK\x03\x04 a zip file").unwrap_err(),
        LoadError::NotWasm
    );
    let core = wat::parse_str("(module)").unwrap();
    assert_eq!(rt.load("x", &core).unwrap_err(), LoadError::CoreModule);
    let big = vec![0u8; 65 * 1024];
    assert!(matches!(
        rt.load("x", &big),
        Err(LoadError::TooLarge { .. })
    ));
    let mut truncated = node("(i32.const 1024)");
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(
        rt.load("x", &truncated),
        Err(LoadError::Compile(_))
    ));

    let other = r#"package example:other; interface greeter { greet: func() -> string; } world w { export greeter; }"#;
    let wrong = component(
        "w",
        r#"(module (memory (export "memory") 1)
             (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0))
             (func (export "example:other/greeter#greet") (result i32) (i32.const 1024)))"#,
        Some(other),
    );
    let err = rt.load("x", &wrong).unwrap_err();
    assert!(
        matches!(&err, LoadError::UnknownWorld { exports } if exports == &["example:other/greeter"]),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("exports no madoguchi plugin world"));

    let newer = std::fs::read_to_string(wit_dir().join("ivr.wit"))
        .unwrap()
        .replace("@0.1.0;", "@0.2.0;");
    let body = format!(
        r#"(module {PRELUDE}
             (func (export "madoguchi:ivr/schedule-api@0.2.0#validate-config") (param i32 i32) (result i32) (i32.const 1200))
             (func (export "madoguchi:ivr/schedule-api@0.2.0#check") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 4000)))"#
    );
    let v2 = component("schedule", &body, Some(&newer));
    assert!(matches!(
        rt.load("x", &v2),
        Err(LoadError::IncompatibleVersion { .. })
    ));

    let both = r#"package test:both; world both {
        export madoguchi:ivr/schedule-api@0.1.0; export madoguchi:ivr/recording-api@0.1.0; }"#;
    let body = format!(
        r#"(module {PRELUDE}
             (func (export "madoguchi:ivr/schedule-api@0.1.0#validate-config") (param i32 i32) (result i32) (i32.const 1200))
             (func (export "madoguchi:ivr/schedule-api@0.1.0#check") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 4000))
             (func (export "madoguchi:ivr/recording-api@0.1.0#validate-config") (param i32 i32) (result i32) (i32.const 1200))
             (func (export "madoguchi:ivr/recording-api@0.1.0#decide") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 4100)))"#
    );
    let two = component("both", &body, Some(both));
    assert!(matches!(
        rt.load("x", &two),
        Err(LoadError::MultipleWorlds { .. })
    ));
}

#[test]
fn a_schedule_plugin_may_not_import_the_schedules_interface() {
    let rt = runtime();
    let world = r#"package test:sneaky; world w {
        import madoguchi:ivr/schedules@0.1.0; export madoguchi:ivr/schedule-api@0.1.0; }"#;
    let body = format!(
        r#"(module
             (import "madoguchi:ivr/schedules@0.1.0" "query" (func (param i32 i32 i32 i32 i32)))
             {PRELUDE}
             (func (export "madoguchi:ivr/schedule-api@0.1.0#validate-config") (param i32 i32) (result i32) (i32.const 1200))
             (func (export "madoguchi:ivr/schedule-api@0.1.0#check") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 4000)))"#
    );
    let c = component("w", &body, Some(world));
    assert!(matches!(
        rt.load("x", &c),
        Err(LoadError::Imports {
            kind: PluginKind::Schedule,
            ..
        })
    ));
}

#[test]
fn a_runaway_call_does_not_disturb_concurrent_calls() {
    let rt = runtime();
    let looping = rt
        .load("loop@1", &node("(loop $l (br $l)) (i32.const 1024)"))
        .unwrap();
    let ok = rt.load("ok@1", &node("(i32.const 1024)")).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let bad = std::thread::spawn(move || {
        let mut deadlines = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let e = looping.node_step(&CallContext::new("bad"), &input("{}"), &Event::Entered);
            assert!(matches!(e, Err(PluginError::Deadline { .. })));
            deadlines += 1;
        }
        deadlines
    });
    // Every good call succeeds while the runaway keeps hitting its deadline
    // (latency is a benchmark's business: `benches/`, not a timed test).
    for _ in 0..2000 {
        let step = ok.node_step(&ctx(), &input("{}"), &Event::Entered).unwrap();
        assert_eq!(step.actions, vec![Action::Hangup]);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let deadlines = bad.join().unwrap();
    assert!(deadlines >= 1);
}

#[test]
fn an_exhausted_instance_pool_is_a_typed_error() {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 2,
        ..Default::default()
    })
    .unwrap();
    let p = rt.load("ok@1", &node("(i32.const 1024)")).unwrap();
    let a = p.instantiate(&ctx()).unwrap();
    let b = p.instantiate(&ctx()).unwrap();
    let third = p.instantiate(&ctx());
    assert!(
        matches!(third, Err(PluginError::Instantiate { .. })),
        "{third:?}"
    );
    drop((a, b));
    p.instantiate(&ctx()).unwrap();
}

#[test]
fn compiled_artifacts_are_cached_by_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let open =
        || cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
    let bytes = node("(i32.const 1024)");
    let sha = madoguchi_plugin_host::sha256_hex(&bytes);
    {
        let rt = Runtime::new(RuntimeConfig {
            max_instances: 2,
            cache_dir: Some(open()),
            ..Default::default()
        })
        .unwrap();
        rt.load("ok@1", &bytes).unwrap();
    }
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with(&sha) && files[0].ends_with(".cwasm"));
    // A second runtime loads from the cache, and the plugin still runs.
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 2,
        cache_dir: Some(open()),
        ..Default::default()
    })
    .unwrap();
    let p = rt.load("ok@1", &bytes).unwrap();
    p.node_step(&ctx(), &input("{}"), &Event::Entered).unwrap();
    // A corrupted artifact is discarded and recompiled.
    std::fs::write(dir.path().join(&files[0]), b"garbage").unwrap();
    let p = rt.load("ok@1", &bytes).unwrap();
    p.node_step(&ctx(), &input("{}"), &Event::Entered).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn async_calls_run_off_the_executor() {
    // A 2 s budget: the runaway call surely outlives the timer below.
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 4,
        call_deadline: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let looping = rt
        .load("loop@1", &node("(loop $l (br $l)) (i32.const 1024)"))
        .unwrap();
    let ok = rt.load("ok@1", &node("(i32.const 1024)")).unwrap();
    let bad = tokio::spawn(async move {
        looping
            .node_step_async(ctx(), input("{}"), Event::Entered)
            .await
    });
    // This single-threaded executor still runs a 1 ms timer while the call
    // burns its budget on the blocking pool.
    let tick = tokio::time::timeout(
        Duration::from_millis(200),
        tokio::time::sleep(Duration::from_millis(1)),
    )
    .await;
    assert!(tick.is_ok());
    assert!(!bad.is_finished());
    assert!(matches!(
        bad.await.unwrap(),
        Err(PluginError::Deadline { limit_ms: 2000, .. })
    ));
    let step = ok
        .node_step_async(ctx(), input("{}"), Event::Entered)
        .await
        .unwrap();
    assert_eq!(step.actions, vec![Action::Hangup]);
}

#[test]
fn handles_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Runtime>();
    send_sync::<madoguchi_plugin_host::Plugin>();
    send_sync::<madoguchi_plugin_host::Registry>();
    send_sync::<madoguchi_plugin_host::PluginSchedules>();
    // An instance serves one call at a time but may move between worker threads.
    send::<madoguchi_plugin_host::Instance>();
}
