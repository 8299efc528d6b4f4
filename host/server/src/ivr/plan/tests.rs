//! Branch enumeration on small scenarios whose branches are counted by hand, with the real
//! built-in plugins (`scripts/build-plugins` puts them in `target/plugins`).

use std::collections::BTreeSet;

use serde_json::json;

use super::sim::{SimScenario, Stimulus};
use super::{build, parse_date, Plan};

fn scenario(doc: serde_json::Value) -> SimScenario {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/plugins");
    let resolve = super::dir_resolver(dir).expect("runtime");
    SimScenario::new(serde_json::from_value(doc).expect("scenario"), &resolve)
        .expect("plugins in target/plugins (run scripts/build-plugins)")
}

fn doc(nodes: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    let mut d = json!({
        "schema": "madoguchi.scenario/v1", "name": "t", "dids": ["100"], "start": "start",
        "prompts": {
            "menu": {"text": "メニュー"}, "bad": {"text": "無効"}, "quiet": {"text": "無入力"},
            "a": {"text": "エー"}, "b": {"text": "ビー"}, "c": {"text": "シー"}, "d": {"text": "ディー"}
        },
        "nodes": nodes,
    });
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    d
}

fn leaf(prompt: &str) -> serde_json::Value {
    json!({"plugin": "announce@0.1.0", "config": {"prompts": prompt}})
}

fn ids(plan: &Plan) -> BTreeSet<String> {
    plan.branches.iter().map(|b| b.id.clone()).collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn plan_of(sc: &SimScenario) -> Plan {
    build(sc, None, parse_date("2027-01-04").unwrap())
}

#[test]
fn a_menu_has_its_keys_invalid_no_input_and_retries_exhausted() {
    let sc = scenario(doc(
        json!({
            "start": {"plugin": "menu@0.1.0", "config": {
                "prompt": "menu", "options": {"1": "a", "2": "b"},
                "invalid_prompt": "bad", "timeout_prompt": "quiet", "retries": 1, "fallback": "c"},
                "exits": ["a", "b", "c"]},
            "a": leaf("a"), "b": leaf("b"), "c": leaf("c"),
        }),
        json!({}),
    ));
    let plan = plan_of(&sc);
    // By hand: keys 1 and 2; an invalid key and silence asked again (2); an invalid key and
    // silence after the retry, to the fallback (2); each leaf hangs up after its prompt (3).
    assert_eq!(
        ids(&plan),
        set(&[
            "start|key:1|node:a",
            "start|key:2|node:b",
            "start|invalid|again",
            "start|no-input|again",
            "start|invalid|node:c",
            "start|no-input|node:c",
            "a|auto|hangup",
            "b|auto|hangup",
            "c|auto|hangup",
        ])
    );
    assert_eq!(plan.coverage_percent(), 100.0);
    assert!(plan.unreachable.is_empty(), "{:?}", plan.unreachable);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    // Row 1 is key 1, and the caller hears the default notice, the menu, then a.
    let r = &plan.rows[0];
    assert_eq!(r.steps, vec![Stimulus::Keys { keys: "1".into() }]);
    let heard: Vec<&str> = r
        .expected
        .prompts
        .iter()
        .map(|h| h.prompt.as_str())
        .collect();
    assert_eq!(heard[1..], ["menu", "a"]);
    assert_eq!(r.expected.prompts[2].text, "エー");
    assert!(r.expected.recorded);
    // A retry plays the invalid prompt before the menu again.
    let retry = plan
        .rows
        .iter()
        .find(|r| r.covers.iter().any(|c| c == "start|invalid|again"))
        .unwrap();
    let heard: Vec<&str> = retry
        .expected
        .prompts
        .iter()
        .map(|h| h.prompt.as_str())
        .collect();
    assert_eq!(heard[1..4], ["menu", "bad", "menu"]);
}

fn calendar() -> serde_json::Value {
    json!({"plugin": "japan-calendar@0.1.0", "config": {
        "utc_offset_minutes": 540,
        "destinations": {"desk": {
            "weekly": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
                       "thu": ["09:00-17:00"], "fri": ["09:00-17:00"]},
            "closed_on_national_holidays": true, "year_end_closure": true}}}})
}

#[test]
fn an_hours_node_has_every_schedule_answer_and_the_minutes_around_its_hours() {
    let sc = scenario(doc(
        json!({
            "start": {"plugin": "hours@0.1.0", "config": {
                "schedule": "s", "destination": "desk", "open": "a", "closed": "b",
                "holiday": "c", "year_end": "d"},
                "exits": ["a", "b", "c", "d"]},
            "a": leaf("a"), "b": leaf("b"), "c": leaf("c"), "d": leaf("d"),
        }),
        json!({"schedules": {"s": calendar()}}),
    ));
    let plan = plan_of(&sc);
    // By hand: open, closed, a holiday, the year-end closure (4); the minute before 09:00
    // and 09:00, 16:59 and 17:00 (4); each leaf after its prompt (4). The calendar has no
    // special closure, so that answer never comes.
    assert_eq!(
        ids(&plan),
        set(&[
            "start|schedule:s/desk:open|node:a",
            "start|schedule:s/desk:closed|node:b",
            "start|schedule:s/desk:holiday|node:c",
            "start|schedule:s/desk:year-end|node:d",
            "start|schedule:s/desk:closed@before-open-09:00|node:b",
            "start|schedule:s/desk:open@opens-09:00|node:a",
            "start|schedule:s/desk:open@last-open-17:00|node:a",
            "start|schedule:s/desk:closed@closes-17:00|node:b",
            "a|auto|hangup",
            "b|auto|hangup",
            "c|auto|hangup",
            "d|auto|hangup",
        ])
    );
    let at = |id: &str| {
        plan.rows
            .iter()
            .find(|r| r.branches.iter().any(|b| b == id))
            .map(|r| r.at.clone())
            .unwrap()
    };
    assert!(
        at("start|schedule:s/desk:closed@before-open-09:00|node:b").ends_with("T08:59:00+09:00")
    );
    assert!(at("start|schedule:s/desk:open@opens-09:00|node:a").ends_with("T09:00:00+09:00"));
    assert!(at("start|schedule:s/desk:open@last-open-17:00|node:a").ends_with("T16:59:00+09:00"));
    // 2027-02-11 is 建国記念の日 (a Thursday), the first weekday holiday from 2027-01-04
    // after 2027-01-11 (成人の日, a Monday): either is a holiday row.
    let h = at("start|schedule:s/desk:holiday|node:c");
    assert!(
        h.starts_with("2027-01-11") || h.starts_with("2027-02-11"),
        "{h}"
    );
    assert_eq!(plan.coverage_percent(), 100.0);
    assert!(plan.unreachable.is_empty(), "{:?}", plan.unreachable);
}

#[test]
fn a_transfer_has_every_outcome() {
    let sc = scenario(doc(
        json!({
            "start": {"plugin": "transfer@0.1.0", "config": {
                "target": {"user": "1001"}, "busy": "a", "no_answer": "a", "failed": "b"},
                "exits": ["a", "b"]},
            "a": leaf("a"), "b": leaf("b"),
        }),
        json!({}),
    ));
    let plan = plan_of(&sc);
    assert_eq!(
        ids(&plan),
        set(&[
            "start|transfer:answered|transferred:user:1001",
            "start|transfer:busy|node:a",
            "start|transfer:no-answer|node:a",
            "start|transfer:failed|node:b",
            "a|auto|hangup",
            "b|auto|hangup",
        ])
    );
    assert_eq!(plan.rows.len(), 4);
}

#[test]
fn unreachable_exits_and_loops_without_input_are_reported() {
    // a and b send the call to each other with no input; "c" is an exit nothing takes.
    let sc = scenario(doc(
        json!({
            "start": {"plugin": "announce@0.1.0", "config": {"prompts": "a", "next": "b"},
                      "exits": ["b", "c"]},
            "b": {"plugin": "announce@0.1.0", "config": {"prompts": "b", "next": "start"},
                  "exits": ["start"]},
            "c": leaf("c"),
        }),
        json!({}),
    ));
    let plan = plan_of(&sc);
    assert!(
        plan.problems
            .iter()
            .any(|p| p.message.contains("loop without input")),
        "{:?}",
        plan.problems
    );
    assert!(
        plan.unreachable.iter().any(|f| f.path == "nodes.c"),
        "{:?}",
        plan.unreachable
    );
    assert!(
        plan.unreachable
            .iter()
            .any(|f| f.path == "nodes.start.exits" && f.message.contains("\"c\"")),
        "{:?}",
        plan.unreachable
    );
}
