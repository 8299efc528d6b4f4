//! Finds every branch of a scenario by driving simulated calls, and picks the rows (one
//! path each) that cover them all.
//!
//! Depth first from the start: at each point a call waits (a menu, a transfer, the time a
//! first schedule is asked at), every alternative is simulated; each alternative that takes
//! a branch no row covers yet is followed to the end of the call, the others are dropped
//! (and when none is new, the plainest one is followed so the path still ends). A menu's
//! keys are found by pressing each key once when it first asks: the keys it leaves by are
//! its options, one of the others stands for every invalid key.

use std::collections::{BTreeMap, BTreeSet};

use super::branch::{Branch, Classifier, To};
use super::sim::{simulate, Pending, SimRun, SimScenario, Stimulus, TransferOutcome};
use super::times::{candidates, Candidate, Pair};

const KEYS: [&str; 12] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"];
/// Stimuli one path may take; longer means the menu never lets the caller out.
const MAX_STEPS: usize = 40;
/// Prefixes one plan may look at (a bound against huge scenarios).
const MAX_PREFIXES: usize = 20_000;

/// A path found: its time and stimuli, and the simulated call.
pub struct Found {
    pub candidate: usize,
    pub stimuli: Vec<Stimulus>,
    pub run: SimRun,
    pub branches: Vec<Branch>,
}

pub struct Exploration {
    pub candidates: Vec<Candidate>,
    pub rows: Vec<Found>,
    /// Things that stop a path from ending, node failures.
    pub problems: Vec<(String, String)>,
}

struct Prefix {
    candidate: Option<usize>,
    stimuli: Vec<Stimulus>,
}

pub fn explore(sc: &SimScenario, reference: time::Date) -> Exploration {
    let mut classifier = Classifier::default();
    for (id, n) in &sc.scenario.nodes {
        if n.config
            .get("target")
            .and_then(|t| t.get("queue"))
            .is_some()
        {
            classifier.queue_nodes.insert(id.clone());
        }
    }
    // The pairs asked about are only known once calls ask: explore until no new one shows.
    let mut pairs: Vec<Pair> = Vec::new();
    for _ in 0..4 {
        let cands = candidates(sc, &pairs, reference);
        let ex = run(sc, cands, classifier.clone());
        let mut seen: BTreeSet<Pair> = pairs.iter().cloned().collect();
        for f in &ex.rows {
            for q in &f.run.queries {
                seen.insert((q.schedule.clone(), q.destination.clone()));
            }
        }
        if seen.len() == pairs.len() {
            return ex;
        }
        pairs = seen.into_iter().collect();
    }
    let cands = candidates(sc, &pairs, reference);
    run(sc, cands, classifier)
}

fn run(sc: &SimScenario, cands: Vec<Candidate>, mut classifier: Classifier) -> Exploration {
    let mut covered: BTreeSet<Branch> = BTreeSet::new();
    // Where calls wait, with what the node saved: a menu after one retry is not the menu
    // after two, and the branch behind the last retry shows only from there.
    let mut states: BTreeSet<(String, String)> = BTreeSet::new();
    let mut rows = Vec::new();
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut stack = vec![Prefix {
        candidate: None,
        stimuli: Vec::new(),
    }];
    let sim = |cand: Option<usize>, stimuli: &[Stimulus]| {
        simulate(sc, cands[cand.unwrap_or(0)].at_ms, stimuli)
    };
    let with_time = |cl: &Classifier, cand: Option<usize>| {
        let mut c = cl.clone();
        c.boundaries = cands[cand.unwrap_or(0)].boundaries.clone();
        c
    };
    let mut looked = 0;
    while let Some(p) = stack.pop() {
        looked += 1;
        if looked > MAX_PREFIXES {
            problems.push((
                String::new(),
                format!("the scenario has more than {MAX_PREFIXES} paths to look at; the plan is cut short"),
            ));
            break;
        }
        let run = sim(p.candidate, &p.stimuli);
        if let Some(e) = &run.error {
            problems.push((run.last_node.clone(), e.clone()));
            continue;
        }
        let mut children: Vec<Prefix> = Vec::new();
        if p.candidate.is_none() && !run.queries.is_empty() {
            // The first schedule question: the time the call runs at is chosen here. The
            // usual time stays (earlier choices were judged at it).
            for (i, c) in cands.iter().enumerate() {
                let r = simulate(sc, c.at_ms, &p.stimuli);
                let cl = with_time(&classifier, Some(i));
                let new: Vec<Branch> = cl
                    .branches(&r)
                    .into_iter()
                    .filter(|b| !covered.contains(b))
                    .collect();
                if i == 0 || !new.is_empty() {
                    covered.extend(new);
                    children.push(Prefix {
                        candidate: Some(i),
                        stimuli: p.stimuli.clone(),
                    });
                }
            }
        } else {
            match &run.pending {
                None => {
                    let branches = with_time(&classifier, p.candidate).branches(&run);
                    covered.extend(branches.iter().cloned());
                    for seg in super::branch::segments(&run) {
                        let Some(msg) = seg.error else { continue };
                        let what = if msg.contains("without waiting") {
                            format!("loop without input: {msg}")
                        } else {
                            format!("the node fails ({msg}); the call takes its error route")
                        };
                        problems.push((seg.node.clone(), what));
                    }
                    rows.push(Found {
                        candidate: p.candidate.unwrap_or(0),
                        stimuli: p.stimuli,
                        run,
                        branches,
                    });
                    continue;
                }
                Some(_) if p.stimuli.len() >= MAX_STEPS => {
                    problems.push((
                        run.last_node.clone(),
                        format!("a path of {MAX_STEPS} inputs has not ended: a menu loop with no way out"),
                    ));
                    continue;
                }
                Some(Pending::Collect { node, fresh }) => {
                    if *fresh && !classifier.valid_keys.contains_key(node) {
                        let mut valid = BTreeSet::new();
                        for k in KEYS {
                            let mut s = p.stimuli.clone();
                            s.push(Stimulus::Keys { keys: k.into() });
                            let r = sim(p.candidate, &s);
                            let n = s.len() - 1;
                            let left = super::branch::segments(&r)
                                .iter()
                                .find(|seg| seg.stimulus == Some(n))
                                .is_some_and(|seg| seg.node == *node && seg.to != To::Again);
                            if left {
                                valid.insert(k.to_string());
                            }
                        }
                        classifier.valid_keys.insert(node.clone(), valid);
                    }
                    let valid = classifier.valid_keys.get(node).cloned().unwrap_or_default();
                    let mut alts: Vec<Stimulus> = KEYS
                        .iter()
                        .filter(|k| valid.contains(**k))
                        .map(|k| Stimulus::Keys {
                            keys: k.to_string(),
                        })
                        .collect();
                    if let Some(k) = KEYS.iter().find(|k| !valid.contains(**k)) {
                        alts.push(Stimulus::Keys {
                            keys: k.to_string(),
                        });
                    }
                    alts.push(Stimulus::NoInput);
                    children = choose(
                        &p,
                        alts,
                        &run,
                        &classifier,
                        (&mut covered, &mut states),
                        &sim,
                        &with_time,
                    );
                }
                Some(Pending::Transfer { .. }) => {
                    let alts = TransferOutcome::ALL
                        .into_iter()
                        .map(|outcome| Stimulus::Transfer { outcome })
                        .collect();
                    children = choose(
                        &p,
                        alts,
                        &run,
                        &classifier,
                        (&mut covered, &mut states),
                        &sim,
                        &with_time,
                    );
                }
            }
        }
        // Depth first, in the order found.
        stack.extend(children.into_iter().rev());
    }
    Exploration {
        candidates: cands,
        rows,
        problems,
    }
}

/// What the exploration has seen: branches, and waiting points with the node's state.
type Seen<'a> = (&'a mut BTreeSet<Branch>, &'a mut BTreeSet<(String, String)>);

/// The alternatives worth following: those with a new branch or that wait somewhere new,
/// or else the plainest one (the first that leaves for a node the call has not been at).
fn choose(
    p: &Prefix,
    alts: Vec<Stimulus>,
    run: &SimRun,
    classifier: &Classifier,
    (covered, states): Seen<'_>,
    sim: &dyn Fn(Option<usize>, &[Stimulus]) -> SimRun,
    with_time: &dyn Fn(&Classifier, Option<usize>) -> Classifier,
) -> Vec<Prefix> {
    let visited: BTreeSet<String> = run.path().into_iter().collect();
    let cl = with_time(classifier, p.candidate);
    let mut children = Vec::new();
    let mut plain: Option<Vec<Stimulus>> = None;
    let mut first: Option<Vec<Stimulus>> = None;
    for a in alts {
        let mut s = p.stimuli.clone();
        s.push(a);
        let r = sim(p.candidate, &s);
        let branches = cl.branches(&r);
        let new: Vec<Branch> = branches
            .iter()
            .filter(|b| !covered.contains(*b))
            .cloned()
            .collect();
        if first.is_none() {
            first = Some(s.clone());
        }
        let n = s.len() - 1;
        let onward = super::branch::segments(&r)
            .into_iter()
            .find(|seg| seg.stimulus == Some(n))
            .is_some_and(|b| match &b.to {
                To::Node(n) => !visited.contains(n),
                To::Again => false,
                _ => true,
            });
        if plain.is_none() && onward {
            plain = Some(s.clone());
        }
        let new_state = r
            .pending_state
            .as_ref()
            .is_some_and(|st| !states.contains(st));
        if !new.is_empty() || new_state {
            covered.extend(new);
            states.extend(r.pending_state.clone());
            children.push(Prefix {
                candidate: p.candidate,
                stimuli: s,
            });
        }
    }
    if children.is_empty() {
        if let Some(s) = plain.or(first) {
            children.push(Prefix {
                candidate: p.candidate,
                stimuli: s,
            });
        }
    }
    children
}

/// Every exit of every node some branch takes, and the nodes some path enters.
pub fn taken(rows: &[Found]) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut exits: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut entered = BTreeSet::new();
    for f in rows {
        for b in &f.branches {
            if let To::Node(n) = &b.to {
                exits.entry(b.node.clone()).or_default().insert(n.clone());
            }
        }
        entered.extend(f.run.path());
    }
    (exits, entered)
}
