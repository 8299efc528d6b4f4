//! The real built-in plugins and the hello-node example, as built by
//! `scripts/build-plugins`, driven through the host runtime.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use madoguchi_plugin_host::bindings::types::{
    Action, CollectSpec, Event, LocalDatetime, Prompt, RecordFrom, ScheduleAnswer, ScheduleStatus,
    Step, TransferFailure, TransferTarget,
};
use madoguchi_plugin_host::clock::{parse_local, FixedClock, JST_OFFSET_SECS};
use madoguchi_plugin_host::{
    CallContext, Plugin, PluginError, PluginKind, PluginSchedules, Runtime, RuntimeConfig,
    ScheduleSource,
};

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 16,
        ..Default::default()
    })
    .unwrap()
}

fn load(rt: &Runtime, name: &str) -> Plugin {
    rt.load(name, &built(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Run a node through events, carrying its state like the IVR engine does.
fn drive(p: &Plugin, ctx: &CallContext, config: &str, events: &[Event]) -> Vec<Step> {
    let mut state = String::new();
    let mut vars: Vec<(String, String)> = vec![];
    events
        .iter()
        .map(|e| {
            let mut i = input_with(config, &state, &[]);
            i.facts.variables = vars.clone();
            let step = p
                .node_step(ctx, &i, e)
                .unwrap_or_else(|err| panic!("{e:?}: {err}"));
            state = step.state.clone();
            for a in &step.actions {
                if let Action::SetVariable((k, v)) = a {
                    vars.push((k.clone(), v.clone()));
                }
            }
            step
        })
        .collect()
}

fn ctx() -> CallContext {
    CallContext::new("call-42")
}

#[test]
fn hello_node_example_greets_then_hangs_up() {
    let rt = runtime();
    let p = load(&rt, "hello-node");
    assert_eq!(p.kind(), PluginKind::Node);
    let cfg = r#"{"greeting": "こんにちは"}"#;
    p.validate_config(&ctx(), cfg).unwrap();
    let steps = drive(&p, &ctx(), cfg, &[Event::Entered, Event::PromptFinished]);
    assert_eq!(
        steps[0].actions,
        vec![Action::Play(vec![Prompt::Text("こんにちは".into())])]
    );
    assert_eq!(steps[1].actions, vec![Action::Hangup]);
    // A config without the greeting is refused, naming the field.
    let err = p.validate_config(&ctx(), "{}").unwrap_err();
    assert!(
        matches!(&err, PluginError::Failed { message, .. } if message.contains("greeting")),
        "{err}"
    );
    // An event it does not handle is an error (the IVR takes the fallback).
    assert!(matches!(
        p.node_step(&ctx(), &input(cfg), &Event::NoInput),
        Err(PluginError::Failed { .. })
    ));
}

const MENU: &str = r#"{"prompt": "menu-main", "options": {"1": "payments", "2": "reissue"},
    "invalid_prompt": {"asset": "menu-invalid"}, "timeout_prompt": [{"text": "もう一度"}],
    "retries": 2, "fallback": "operator", "variable": "choice"}"#;

fn collect_prompts(step: &Step) -> &CollectSpec {
    match step.actions.last() {
        Some(Action::Collect(c)) => c,
        other => panic!("expected collect, got {other:?}"),
    }
}

#[test]
fn menu_routes_retries_and_falls_back() {
    let rt = runtime();
    let p = load(&rt, "menu");
    p.validate_config(&ctx(), MENU).unwrap();
    let steps = drive(
        &p,
        &ctx(),
        MENU,
        &[Event::Entered, Event::Digits("2".into())],
    );
    let c = collect_prompts(&steps[0]);
    assert_eq!(c.prompts, vec![Prompt::Asset("menu-main".into())]);
    assert_eq!((c.min_digits, c.max_digits, c.terminator), (1, 1, None));
    assert_eq!(
        steps[1].actions,
        vec![
            Action::SetVariable(("choice".into(), "2".into())),
            Action::Goto("reissue".into())
        ]
    );

    // invalid, silence, invalid: two retries then the fallback.
    let steps = drive(
        &p,
        &ctx(),
        MENU,
        &[
            Event::Entered,
            Event::Digits("9".into()),
            Event::NoInput,
            Event::Digits("7".into()),
        ],
    );
    assert_eq!(
        collect_prompts(&steps[1]).prompts,
        vec![
            Prompt::Asset("menu-invalid".into()),
            Prompt::Asset("menu-main".into())
        ]
    );
    assert_eq!(
        collect_prompts(&steps[2]).prompts,
        vec![
            Prompt::Text("もう一度".into()),
            Prompt::Asset("menu-main".into())
        ]
    );
    assert_eq!(steps[3].actions, vec![Action::Goto("operator".into())]);
}

#[test]
fn menu_multi_digit_uses_the_terminator() {
    let rt = runtime();
    let p = load(&rt, "menu");
    let cfg = r#"{"prompt": "enter-code", "options": {"101": "a", "2": "b"}, "fallback": "op", "max_digits": 4}"#;
    p.validate_config(&ctx(), cfg).unwrap();
    let steps = drive(
        &p,
        &ctx(),
        cfg,
        &[Event::Entered, Event::Digits("101".into())],
    );
    let c = collect_prompts(&steps[0]);
    assert_eq!((c.max_digits, c.terminator), (4, Some('#')));
    assert_eq!(steps[1].actions, vec![Action::Goto("a".into())]);
}

#[test]
fn menu_rejects_bad_configs_naming_the_field() {
    let rt = runtime();
    let p = load(&rt, "menu");
    for (cfg, needle) in [
        (
            r#"{"prompt": "m", "options": {}, "fallback": "op"}"#,
            "options",
        ),
        (
            r#"{"prompt": "m", "options": {"12": "x"}, "fallback": "op"}"#,
            "max_digits",
        ),
        (
            r#"{"prompt": "m", "options": {"a": "x"}, "fallback": "op"}"#,
            "options",
        ),
        (r#"{"prompt": "m", "options": {"1": "x"}}"#, "fallback"),
        (
            r#"{"prompt": "m", "options": {"1": "x"}, "fallback": "op", "colour": 1}"#,
            "colour",
        ),
        ("not json", "invalid config"),
    ] {
        match p.validate_config(&ctx(), cfg) {
            Err(PluginError::Failed { message, .. }) => {
                assert!(message.contains(needle), "{cfg}: {message}")
            }
            other => panic!("{cfg}: expected Failed, got {other:?}"),
        }
    }
}

#[test]
fn announce_plays_then_goes_on() {
    let rt = runtime();
    let p = load(&rt, "announce");
    let cfg =
        r#"{"prompts": ["closed-1", {"silence": 300}, {"digits": "0462511111"}], "next": "bye"}"#;
    p.validate_config(&ctx(), cfg).unwrap();
    let steps = drive(&p, &ctx(), cfg, &[Event::Entered, Event::PromptFinished]);
    assert_eq!(
        steps[0].actions,
        vec![Action::Play(vec![
            Prompt::Asset("closed-1".into()),
            Prompt::Silence(300),
            Prompt::Digits("0462511111".into())
        ])]
    );
    assert_eq!(steps[1].actions, vec![Action::Goto("bye".into())]);
    let steps = drive(&p, &ctx(), r#"{"prompts": "x"}"#, &[Event::PromptFinished]);
    assert_eq!(steps[0].actions, vec![Action::Hangup]);
    assert!(p.validate_config(&ctx(), r#"{"prompts": []}"#).is_err());
}

#[test]
fn transfer_targets_and_failure_routes() {
    let rt = runtime();
    let p = load(&rt, "transfer");
    let cfg = r#"{"target": {"queue": "mynumber"}, "announce": "connecting", "busy": "busy-msg", "failed": "sorry"}"#;
    p.validate_config(&ctx(), cfg).unwrap();
    let steps = drive(
        &p,
        &ctx(),
        cfg,
        &[
            Event::Entered,
            Event::TransferFailed(TransferFailure::Busy),
            Event::TransferFailed(TransferFailure::NoAnswer),
            Event::TransferFailed(TransferFailure::Failed),
        ],
    );
    assert_eq!(
        steps[0].actions,
        vec![
            Action::Play(vec![Prompt::Asset("connecting".into())]),
            Action::SetVariable(("queue.priority".into(), "0".into())),
            Action::Transfer(TransferTarget::Queue("mynumber".into()))
        ]
    );
    assert_eq!(steps[1].actions, vec![Action::Goto("busy-msg".into())]);
    assert_eq!(steps[2].actions, vec![Action::Goto("sorry".into())]);
    assert_eq!(steps[3].actions, vec![Action::Goto("sorry".into())]);
    let user = drive(
        &p,
        &ctx(),
        r#"{"target": {"user": "1001"}}"#,
        &[Event::Entered, Event::TransferFailed(TransferFailure::Busy)],
    );
    assert_eq!(
        user[0].actions,
        vec![Action::Transfer(TransferTarget::User("1001".into()))]
    );
    assert_eq!(user[1].actions, vec![Action::Hangup]);
    let ext = drive(
        &p,
        &ctx(),
        r#"{"target": {"external": "+81462511111"}}"#,
        &[Event::Entered],
    );
    assert_eq!(
        ext[0].actions,
        vec![Action::Transfer(TransferTarget::External(
            "+81462511111".into()
        ))]
    );
    let err = p
        .validate_config(&ctx(), r#"{"target": {"external": "call me"}}"#)
        .unwrap_err();
    assert!(err.to_string().contains("neither a phone number"), "{err}");
    // A destination the host routes by name (the call center) is fine.
    p.validate_config(&ctx(), r#"{"target": {"external": "callcenter"}}"#)
        .unwrap();
    // A queue caller's priority travels as the call variable the host reads.
    let urgent = drive(
        &p,
        &ctx(),
        r#"{"target": {"queue": "mynumber"}, "priority": 5}"#,
        &[Event::Entered],
    );
    assert_eq!(
        urgent[0].actions,
        vec![
            Action::SetVariable(("queue.priority".into(), "5".into())),
            Action::Transfer(TransferTarget::Queue("mynumber".into()))
        ]
    );
    for (bad, why) in [
        (
            r#"{"target": {"queue": "q"}, "priority": 10}"#,
            "between 0 and 9",
        ),
        (
            r#"{"target": {"user": "1001"}, "priority": 1}"#,
            "only a queue",
        ),
    ] {
        let err = p.validate_config(&ctx(), bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn record_all_records_from_answer_with_the_notice() {
    let rt = runtime();
    let p = load(&rt, "record-all");
    assert_eq!(p.kind(), PluginKind::Recording);
    p.validate_config(&ctx(), "{}").unwrap();
    let d = p.decide_recording(&ctx(), "{}", &facts()).unwrap();
    assert!(d.record);
    assert_eq!(d.from, RecordFrom::Answer);
    assert_eq!(
        d.notice,
        vec![Prompt::Text(
            "この通話は、サービス向上のため録音させていただきます。".into()
        )]
    );
    assert_eq!(d.retention_days, 90);
    let d = p
        .decide_recording(
            &ctx(),
            r#"{"notice": "rec-notice", "from": "transfer", "retention_days": 30}"#,
            &facts(),
        )
        .unwrap();
    assert_eq!((d.from, d.retention_days), (RecordFrom::Transfer, 30));
    assert_eq!(d.notice, vec![Prompt::Asset("rec-notice".into())]);
    assert!(p.validate_config(&ctx(), r#"{"notice": []}"#).is_err());
}

/// A fixed answer per schedule name, for driving `hours`.
struct Fixed(HashMap<String, ScheduleAnswer>);

impl ScheduleSource for Fixed {
    fn query(&self, schedule: &str, _destination: &str) -> Result<ScheduleAnswer, String> {
        self.0
            .get(schedule)
            .cloned()
            .ok_or_else(|| format!("no schedule {schedule:?}"))
    }
}

#[test]
fn hours_branches_on_each_schedule_answer() {
    let rt = runtime();
    let p = load(&rt, "hours");
    let cfg = |s: &str| {
        format!(
            r#"{{"schedule": "{s}", "destination": "mynumber", "open": "menu", "closed": "closed-msg",
                "holiday": "holiday-msg", "year_end": "year-end-msg"}}"#
        )
    };
    let next = LocalDatetime {
        year: 2027,
        month: 1,
        day: 4,
        hour: 8,
        minute: 30,
        second: 0,
    };
    let answers: HashMap<String, ScheduleAnswer> = [
        ("open", ScheduleStatus::Open, None),
        ("closed", ScheduleStatus::Closed, Some(next)),
        (
            "holiday",
            ScheduleStatus::Holiday("元日".into()),
            Some(next),
        ),
        (
            "year-end",
            ScheduleStatus::YearEndClosure("年末年始".into()),
            Some(next),
        ),
        (
            "closure",
            ScheduleStatus::SpecialClosure("庁舎点検".into()),
            None,
        ),
    ]
    .into_iter()
    .map(|(k, status, next_open)| (k.to_string(), ScheduleAnswer { status, next_open }))
    .collect();
    let ctx = ctx().with_schedules(Arc::new(Fixed(answers)));
    let goto = |s: &str| {
        let step = p.node_step(&ctx, &input(&cfg(s)), &Event::Entered).unwrap();
        (step.actions.last().cloned().unwrap(), step.actions)
    };
    assert_eq!(goto("open").0, Action::Goto("menu".into()));
    assert_eq!(goto("closed").0, Action::Goto("closed-msg".into()));
    let (last, all) = goto("holiday");
    assert_eq!(last, Action::Goto("holiday-msg".into()));
    assert!(all.contains(&Action::SetVariable((
        "schedule_reason".into(),
        "元日".into()
    ))));
    assert!(all.contains(&Action::SetVariable((
        "schedule_next_open".into(),
        "2027-01-04T08:30".into()
    ))));
    assert_eq!(goto("year-end").0, Action::Goto("year-end-msg".into()));
    // No special_closure route: falls back to closed.
    assert_eq!(goto("closure").0, Action::Goto("closed-msg".into()));
    // A missing schedule takes the error route (default: closed).
    let (last, all) = goto("nonexistent");
    assert_eq!(last, Action::Goto("closed-msg".into()));
    assert!(all.contains(&Action::SetVariable((
        "schedule_status".into(),
        "error".into()
    ))));
}

const ZAMA: &str = r#"{
  "destinations": {
    "mynumber": {
      "weekly": {"mon": ["08:30-17:15"], "tue": ["08:30-17:15"], "wed": ["08:30-17:15"],
                 "thu": ["08:30-17:15"], "fri": ["08:30-17:15"]},
      "closed_on_national_holidays": true,
      "year_end_closure": true,
      "closures": [{"date": "2026-12-07", "name": "システム停止"}],
      "special_openings": [{"date": "2026-12-13", "hours": ["09:00-12:00"], "name": "休日交付"}]
    }
  }
}"#;

#[test]
fn japan_calendar_answers_holidays_year_end_and_closures() {
    let rt = runtime();
    let p = load(&rt, "japan-calendar");
    assert_eq!(p.kind(), PluginKind::Schedule);
    p.validate_config(&ctx(), ZAMA).unwrap();
    let at = |s: &str| parse_local(s).unwrap();
    let check = |s: &str| p.check_schedule(&ctx(), ZAMA, "mynumber", at(s)).unwrap();
    assert_eq!(check("2026-11-25T10:00").status, ScheduleStatus::Open);
    let closed = check("2026-11-25T18:00");
    assert_eq!(closed.status, ScheduleStatus::Closed);
    assert_eq!(closed.next_open, Some(at("2026-11-26T08:30")));
    assert_eq!(
        check("2026-11-23T10:00").status,
        ScheduleStatus::Holiday("勤労感謝の日".into())
    );
    let ye = check("2026-12-30T10:00");
    assert_eq!(ye.status, ScheduleStatus::YearEndClosure("年末年始".into()));
    assert_eq!(ye.next_open, Some(at("2027-01-04T08:30")));
    assert_eq!(
        check("2026-12-07T10:00").status,
        ScheduleStatus::SpecialClosure("システム停止".into())
    );
    assert_eq!(check("2026-12-13T10:00").status, ScheduleStatus::Open);
    // Holidays of any year are computed: 成人の日 2031 is the second Monday of January.
    assert_eq!(
        check("2031-01-13T10:00").status,
        ScheduleStatus::Holiday("成人の日".into())
    );
    assert!(matches!(
        p.check_schedule(&ctx(), ZAMA, "nowhere", at("2026-11-25T10:00")),
        Err(PluginError::Failed { .. })
    ));
    let bad = r#"{"destinations": {"x": {"weekly": {"mon": ["17:00-09:00"]}, "closed_on_national_holidays": true, "year_end_closure": true}}}"#;
    assert!(matches!(
        p.validate_config(&ctx(), bad),
        Err(PluginError::Failed { .. })
    ));
}

#[test]
fn hours_over_japan_calendar_end_to_end() {
    // The clock says 2027-01-02 10:00 JST: the year-end closure.
    let clock = Arc::new(
        FixedClock::at_local(parse_local("2027-01-02T10:00").unwrap(), JST_OFFSET_SECS).unwrap(),
    );
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 16,
        clock,
        ..Default::default()
    })
    .unwrap();
    let hours = load(&rt, "hours");
    let cal = load(&rt, "japan-calendar");
    let schedules = PluginSchedules::new();
    schedules
        .insert("city-hall", cal, ZAMA.to_string())
        .unwrap();
    let ctx = CallContext::new("call-7").with_schedules(Arc::new(schedules));
    let cfg = r#"{"schedule": "city-hall", "destination": "mynumber", "open": "menu", "closed": "closed-msg", "year_end": "year-end-msg"}"#;
    let step = hours.node_step(&ctx, &input(cfg), &Event::Entered).unwrap();
    assert_eq!(
        step.actions.last(),
        Some(&Action::Goto("year-end-msg".into()))
    );
    assert!(step.actions.contains(&Action::SetVariable((
        "schedule_next_open".into(),
        "2027-01-04T08:30".into()
    ))));
}
