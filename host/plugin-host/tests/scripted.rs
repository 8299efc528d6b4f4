//! `madoguchi plugin test`'s library side: scripted calls and transcripts;
//! and the recording-policy fallback.

mod common;

use common::*;
use madoguchi_plugin_host::bindings::types::{Prompt, RecordFrom};
use madoguchi_plugin_host::recording::{decide_or_fallback, DEFAULT_NOTICE_JA};
use madoguchi_plugin_host::scripted::{run, ScriptError};
use madoguchi_plugin_host::{CallContext, PluginError, Runtime, RuntimeConfig};

#[test]
fn menu_transcript() {
    let cfg = r#"{"prompt": "menu-main", "options": {"1": "payments"}, "invalid_prompt": "invalid",
                  "retries": 1, "fallback": "operator", "variable": "choice"}"#;
    let events = r#"["entered", {"digits": "9"}, "no-input", {"digits": "1"}]"#;
    let out = run(&built("menu"), cfg, events).unwrap();
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "validate-config: ok",
            "> entered",
            "  collect 1..1 digits, first 5000 ms, between 3000 ms, prompts [asset:menu-main]",
            "> digits \"9\"",
            "  collect 1..1 digits, first 5000 ms, between 3000 ms, prompts [asset:invalid, asset:menu-main]",
            "> no-input",
            "  goto operator",
            "> digits \"1\"",
            "  set-variable choice = \"1\"",
            "  goto payments",
        ]
    );
    assert!(out.starts_with("plugin: ivr-node world, sha256 "), "{out}");
}

#[test]
fn hours_with_scripted_schedules_and_variables() {
    let cfg = r#"{"schedule": "city-hall", "destination": "mynumber", "open": "menu", "closed": "closed-msg", "holiday": "holiday-msg"}"#;
    let events = r#"{"schedules": {"city-hall": {"holiday": "元日"}}, "call": {"caller": "anonymous"}, "events": ["entered"]}"#;
    let out = run(&built("hours"), cfg, events).unwrap();
    assert!(
        out.contains("  set-variable schedule_status = \"holiday\"\n"),
        "{out}"
    );
    assert!(
        out.contains("  set-variable schedule_reason = \"元日\"\n"),
        "{out}"
    );
    assert!(out.ends_with("  goto holiday-msg\n"), "{out}");
}

#[test]
fn schedule_and_recording_transcripts() {
    let cal = r#"{"destinations": {"desk": {"weekly": {"mon": ["08:30-17:15"], "tue": ["08:30-17:15"],
        "wed": ["08:30-17:15"], "thu": ["08:30-17:15"], "fri": ["08:30-17:15"]},
        "closed_on_national_holidays": true, "year_end_closure": true}}}"#;
    let events = r#"[{"destination": "desk", "at": "2026-12-31T10:00"}, {"destination": "desk", "at": "2026-11-23T09:00"}]"#;
    let out = run(&built("japan-calendar"), cal, events).unwrap();
    assert!(out.contains("> desk at 2026-12-31T10:00:00\n  year-end closure 年末年始, next open 2027-01-04T08:30:00\n"), "{out}");
    assert!(
        out.contains("  holiday 勤労感謝の日, next open 2026-11-24T08:30:00\n"),
        "{out}"
    );

    let out = run(&built("record-all"), "{}", "[]").unwrap();
    assert!(
        out.contains(&format!(
            "record from answer, notice [text:{DEFAULT_NOTICE_JA:?}], keep 90 days"
        )),
        "{out}"
    );
}

#[test]
fn misbehaviour_is_printed_and_the_run_goes_on() {
    let cfg = r#"{"mode": "loop"}"#;
    let out = run(
        &built("guest-misbehave"),
        cfg,
        r#"["entered", "prompt-finished"]"#,
    )
    .unwrap();
    assert!(out.contains("  ! plugin under-test exceeded its 10 ms deadline (the IVR takes the node's fallback route)\n"), "{out}");
    assert!(out.ends_with("> prompt-finished\n  hangup\n"), "{out}");
}

#[test]
fn bad_inputs_are_errors() {
    assert!(matches!(
        run(b"nope", "{}", "[]"),
        Err(ScriptError::Load(_))
    ));
    assert!(
        matches!(run(&built("menu"), "{}", "[]"), Err(ScriptError::Config(m)) if m.contains("prompt"))
    );
    let cfg = r#"{"prompt": "m", "options": {"1": "a"}, "fallback": "op"}"#;
    assert!(matches!(
        run(&built("menu"), cfg, r#"["dance"]"#),
        Err(ScriptError::Events(_))
    ));
    assert!(matches!(
        run(&built("menu"), cfg, "{"),
        Err(ScriptError::Events(_))
    ));
    assert!(matches!(
        run(&built("menu"), cfg, r#"{"now": "yesterday", "events": []}"#),
        Err(ScriptError::Events(_))
    ));
}

#[test]
fn a_broken_recording_policy_means_record_with_the_default_notice() {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 4,
        ..Default::default()
    })
    .unwrap();
    let wat = format!(
        r#"(module {PRELUDE}
             (func (export "madoguchi:ivr/recording-api@0.1.0#validate-config") (param i32 i32) (result i32) (i32.const 1200))
             (func (export "madoguchi:ivr/recording-api@0.1.0#decide") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) unreachable))"#
    );
    let broken = rt
        .load("broken@1", &component("recording-policy", &wat, None))
        .unwrap();
    let (d, err) = decide_or_fallback(&broken, &CallContext::new("c"), "{}", &facts());
    assert!(matches!(err, Some(PluginError::Trap { .. })));
    assert!(d.record);
    assert_eq!(d.from, RecordFrom::Answer);
    assert_eq!(d.notice, vec![Prompt::Text(DEFAULT_NOTICE_JA.into())]);
    let ok = rt.load("rec@1", &recording_always()).unwrap();
    let (d, err) = decide_or_fallback(&ok, &CallContext::new("c"), "{}", &facts());
    assert!(err.is_none() && d.retention_days == 90);
}
