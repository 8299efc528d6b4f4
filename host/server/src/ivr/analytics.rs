//! How callers went through a scenario (R-OPS-5), folded from stored call records: per node,
//! how often it was reached and how calls left it (each key, invalid keys, no input, hung up
//! there); per transfer destination, offered, answered, busy, no answer, failed, abandoned;
//! and the funnel from the first node to each ending.
//!
//! Pure: the API reads the records of a period ([`super::log::CALLS_TABLE`] is keyed by start
//! time) and hands them to [`Analytics::add`].

use std::collections::{BTreeMap, BTreeSet};

use madoguchi_scenario::Scenario;
use serde::Serialize;

use super::log::CallRecord;

/// One node's figures.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    /// Times a call entered the node.
    pub reached: u64,
    /// Calls that entered it at least once.
    pub calls: u64,
    /// Keys that took the call out of the node, with how often.
    pub keys: BTreeMap<String, u64>,
    /// Keys the node does not take (it asked again or gave up).
    pub invalid: u64,
    pub no_input: u64,
    /// Callers who hung up while at this node.
    pub hung_up: u64,
    /// Where calls went next, with how often.
    pub next: BTreeMap<String, u64>,
}

/// One transfer destination's figures (`queue:mynumber`, `external:callcenter`, …).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationStats {
    pub offered: u64,
    pub answered: u64,
    pub busy: u64,
    pub no_answer: u64,
    pub failed: u64,
    /// The caller hung up while it rang or waited in the queue.
    pub abandoned: u64,
}

/// The figures of one scenario over a period.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Analytics {
    pub calls: u64,
    /// Calls per version of the scenario.
    pub versions: BTreeMap<u32, u64>,
    pub nodes: BTreeMap<String, NodeStats>,
    pub destinations: BTreeMap<String, DestinationStats>,
    /// Calls per ending: `transferred:queue:x`, `hangup:NODE`, `apology:NODE`,
    /// `caller-hangup:NODE`.
    pub endings: BTreeMap<String, u64>,
}

/// The keys a node's config offers (`options` of the `menu` plugin), when it says.
fn options(scenario: Option<&Scenario>, node: &str) -> Option<BTreeSet<String>> {
    let n = scenario?.nodes.get(node)?;
    let o = n.config.get("options")?.as_object()?;
    Some(o.keys().cloned().collect())
}

impl Analytics {
    /// Adds one call. `scenario` (the version the call ran) tells valid keys from invalid
    /// ones; without it, a key after which the node asked again counts as invalid.
    pub fn add(&mut self, rec: &CallRecord, scenario: Option<&Scenario>) {
        self.calls += 1;
        *self.versions.entry(rec.scenario_version).or_default() += 1;
        let mut node = String::new();
        let mut seen_nodes = BTreeSet::new();
        // The keys given at this node and not yet resolved.
        let mut input: Option<String> = None;
        let mut transfer: Option<String> = None;
        let mut caller_hung_up = false;
        for e in &rec.events {
            let at = e.node.clone().unwrap_or_else(|| node.clone());
            match e.kind.as_str() {
                "node" => {
                    node = at.clone();
                    input = None;
                    let s = self.nodes.entry(at.clone()).or_default();
                    s.reached += 1;
                    if seen_nodes.insert(at) {
                        s.calls += 1;
                    }
                }
                "input" => {
                    let digits = e.detail["digits"].as_str().unwrap_or_default().to_string();
                    if let Some(prev) = input.replace(digits) {
                        // A second input at the same visit: the first was not taken.
                        let _ = prev;
                        self.nodes.entry(at.clone()).or_default().invalid += 1;
                    }
                    let valid = options(scenario, &at);
                    if let (Some(valid), Some(d)) = (valid, input.as_ref()) {
                        if !valid.contains(d) {
                            self.nodes.entry(at.clone()).or_default().invalid += 1;
                            input = None;
                        }
                    }
                }
                "no-input" => {
                    if input.take().is_some() {
                        self.nodes.entry(at.clone()).or_default().invalid += 1;
                    }
                    self.nodes.entry(at).or_default().no_input += 1;
                }
                "branch" => {
                    let to = e.detail["to"].as_str().unwrap_or_default().to_string();
                    let s = self.nodes.entry(at).or_default();
                    if let Some(d) = input.take() {
                        *s.keys.entry(d).or_default() += 1;
                    }
                    *s.next.entry(to).or_default() += 1;
                }
                "transfer" => {
                    let t = e.detail["target"].as_str().unwrap_or_default().to_string();
                    self.destinations.entry(t.clone()).or_default().offered += 1;
                    transfer = Some(t);
                }
                "transfer-connected" => {
                    if let Some(t) = transfer.take() {
                        self.destinations.entry(t).or_default().answered += 1;
                    }
                }
                "transfer-failed" => {
                    if let Some(t) = transfer.take() {
                        let d = self.destinations.entry(t).or_default();
                        match e.detail["reason"].as_str() {
                            Some("busy") => d.busy += 1,
                            Some("no-answer") => d.no_answer += 1,
                            _ => d.failed += 1,
                        }
                    }
                }
                "caller-hangup" => {
                    caller_hung_up = true;
                    if let Some(t) = transfer.take() {
                        self.destinations.entry(t).or_default().abandoned += 1;
                    }
                }
                _ => {}
            }
        }
        // A key pressed just before hanging up, with nothing after it: still pending, not
        // counted as a way out.
        let ending = match rec.outcome.as_str() {
            o if o.starts_with("transferred:") => o.to_string(),
            "hangup" | "apology" => format!("{}:{node}", rec.outcome),
            _ => {
                caller_hung_up = true;
                format!("caller-hangup:{node}")
            }
        };
        if caller_hung_up && !node.is_empty() {
            self.nodes.entry(node).or_default().hung_up += 1;
        }
        *self.endings.entry(ending).or_default() += 1;
    }

    /// The funnel: calls that reached each node (in order of how many), then the endings.
    pub fn funnel(&self) -> serde_json::Value {
        let mut nodes: Vec<(&String, &NodeStats)> = self.nodes.iter().collect();
        nodes.sort_by(|a, b| b.1.calls.cmp(&a.1.calls).then(a.0.cmp(b.0)));
        let share = |n: u64| {
            if self.calls == 0 {
                0.0
            } else {
                (1000.0 * n as f64 / self.calls as f64).round() / 10.0
            }
        };
        serde_json::json!({
            "calls": self.calls,
            "nodes": nodes.iter().map(|(id, s)| serde_json::json!({
                "node": id, "calls": s.calls, "percent": share(s.calls),
            })).collect::<Vec<_>>(),
            "endings": self.endings.iter().map(|(e, n)| serde_json::json!({
                "ending": e, "calls": n, "percent": share(*n),
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    //! Five calls through the Zama scenario, their event logs made by the real IVR machine
    //! and plugins (the simulator), folded and checked against counts made by hand.

    use super::*;
    use crate::ivr::log::LogEntry;
    use crate::ivr::plan::sim::{simulate, SimScenario, Stimulus, TransferOutcome};

    fn zama() -> SimScenario {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let doc: Scenario = serde_json::from_slice(
            &std::fs::read(root.join("examples/zama-mynumber/scenario.json")).unwrap(),
        )
        .unwrap();
        let resolve = crate::ivr::plan::dir_resolver(root.join("target/plugins")).unwrap();
        SimScenario::new(doc, &resolve).expect("plugins (scripts/build-plugins)")
    }

    /// A call record of a simulated call; one still waiting ends with the caller hanging up.
    fn call(sc: &SimScenario, id: &str, stimuli: &[Stimulus]) -> CallRecord {
        // Wednesday 2027-01-06 10:00 JST: city hall and the call center are open.
        let run = simulate(sc, 1_799_197_200_000, stimuli);
        let mut events = run.log.clone();
        let outcome = match crate::ivr::plan::Ending::of(&run) {
            crate::ivr::plan::Ending::Transferred { target, .. } => format!("transferred:{target}"),
            crate::ivr::plan::Ending::Hangup { .. } => "hangup".into(),
            crate::ivr::plan::Ending::Apology { .. } => "apology".into(),
            crate::ivr::plan::Ending::Waiting { node } => {
                events.push(LogEntry {
                    t_ms: 99_000,
                    kind: "caller-hangup".into(),
                    node: Some(node),
                    detail: serde_json::Value::Null,
                });
                "caller-hangup".into()
            }
        };
        CallRecord {
            call_id: id.into(),
            scenario: "zama-mynumber".into(),
            scenario_version: 3,
            outcome,
            events,
            ..Default::default()
        }
    }

    fn keys(k: &str) -> Stimulus {
        Stimulus::Keys { keys: k.into() }
    }
    fn transfer(outcome: TransferOutcome) -> Stimulus {
        Stimulus::Transfer { outcome }
    }

    #[test]
    fn five_calls_counted_by_hand() {
        let sc = zama();
        let calls = [
            // 1 → 1: the call center answers.
            call(
                &sc,
                "a",
                &[keys("1"), keys("1"), transfer(TransferOutcome::Answered)],
            ),
            // 5 (invalid), then 2: city hall's queue answers.
            call(
                &sc,
                "b",
                &[keys("5"), keys("2"), transfer(TransferOutcome::Answered)],
            ),
            // Silence twice: the call center, busy.
            call(
                &sc,
                "c",
                &[
                    Stimulus::NoInput,
                    Stimulus::NoInput,
                    transfer(TransferOutcome::Busy),
                ],
            ),
            // 4 (lost card): hangs up while the queue rings.
            call(&sc, "d", &[keys("4")]),
            // Hangs up at the main menu.
            call(&sc, "e", &[]),
        ];
        let mut a = Analytics::default();
        for c in &calls {
            a.add(c, Some(&sc.scenario));
        }
        assert_eq!(a.calls, 5);
        assert_eq!(a.versions, BTreeMap::from([(3, 5)]));
        let main = &a.nodes["main"];
        assert_eq!((main.reached, main.calls), (5, 5));
        assert_eq!(
            main.keys,
            BTreeMap::from([("1".into(), 1), ("2".into(), 1), ("4".into(), 1)])
        );
        assert_eq!(main.invalid, 1);
        assert_eq!(main.no_input, 2);
        assert_eq!(main.hung_up, 1);
        assert_eq!(
            main.next,
            BTreeMap::from([
                ("apply-menu".into(), 1),
                ("cityhall-hours".into(), 1),
                ("callcenter-hours".into(), 1),
                ("lost-hours".into(), 1),
            ])
        );
        assert_eq!(
            a.nodes["greeting"].next,
            BTreeMap::from([("main".into(), 5)])
        );
        assert_eq!(
            a.nodes["apply-menu"].keys,
            BTreeMap::from([("1".into(), 1)])
        );
        assert_eq!(a.nodes["lost-transfer"].hung_up, 1);
        assert_eq!(
            a.destinations["external:callcenter"],
            DestinationStats {
                offered: 2,
                answered: 1,
                busy: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            a.destinations["queue:mynumber"],
            DestinationStats {
                offered: 2,
                answered: 1,
                abandoned: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            a.endings,
            BTreeMap::from([
                ("transferred:external:callcenter".into(), 1),
                ("transferred:queue:mynumber".into(), 1),
                ("hangup:busy".into(), 1),
                ("caller-hangup:lost-transfer".into(), 1),
                ("caller-hangup:main".into(), 1),
            ])
        );
        let funnel = a.funnel();
        assert_eq!(funnel["nodes"][0]["calls"], 5);
        assert_eq!(funnel["endings"].as_array().unwrap().len(), 5);
    }
}
