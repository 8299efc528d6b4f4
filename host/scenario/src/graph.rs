//! Rules 3–5 on the `goto` graph: every reference names a node, every node
//! can be reached (warning), and every path ends at a leaf (a node without
//! exits, which hangs up or transfers).
//!
//! Edges: a node's `exits` and its `on_error`; a node without `on_error`
//! also leads to the scenario's `fallback` (where its failures go). Only
//! `exits` count as a way out for rule 5: error routes are not a caller's
//! way through the menu, so a loop whose only exit is a failure traps callers.

use std::collections::{BTreeMap, HashSet, VecDeque};

use crate::model::Scenario;
use crate::patterns::is_id;
use crate::problem::{index, join, Problem};

/// Appends the problems of rules 3, 4 and 5.
pub(crate) fn check(s: &Scenario, out: &mut Vec<Problem>) {
    references(s, out);
    let g = Graph::new(s);
    let reachable = g.reachable(s);
    for (i, id) in g.ids.iter().enumerate() {
        if !reachable[i] {
            out.push(Problem::warning(
                join("nodes", id),
                format!("node {id:?} cannot be reached from start {:?} (through exits, on_error or fallback)", s.start),
            ));
        }
    }
    never_ending(&g, &reachable, out);
}

/// Rule 3: every `start`, `fallback`, exit and `on_error` names a node.
/// Malformed ids were already reported by the structure check.
fn references(s: &Scenario, out: &mut Vec<Problem>) {
    let missing = |id: &str| is_id(id) && !s.nodes.contains_key(id);
    if missing(&s.start) {
        out.push(Problem::error(
            "start",
            format!(
                "start names node {:?}, which is not defined in nodes",
                s.start
            ),
        ));
    }
    if let Some(f) = s.fallback.as_deref().filter(|f| missing(f)) {
        out.push(Problem::error(
            "fallback",
            format!("fallback names node {f:?}, which is not defined in nodes"),
        ));
    }
    for (id, node) in &s.nodes {
        let path = join("nodes", id);
        let mut seen = HashSet::new();
        for (i, exit) in node.exits.iter().enumerate() {
            let p = index(&join(&path, "exits"), i);
            if missing(exit) {
                out.push(Problem::error(
                    p,
                    format!("node {id:?}: exit {exit:?} is not defined in nodes"),
                ));
            } else if !seen.insert(exit) {
                out.push(Problem::warning(
                    p,
                    format!("node {id:?}: exit {exit:?} is listed more than once"),
                ));
            }
        }
        if let Some(e) = node.on_error.as_deref().filter(|e| missing(e)) {
            out.push(Problem::error(
                join(&path, "on_error"),
                format!("node {id:?}: on_error names node {e:?}, which is not defined in nodes"),
            ));
        }
    }
}

/// Nodes by index (in id order) with their existing edges.
struct Graph<'a> {
    ids: Vec<&'a str>,
    /// Exit edges to existing nodes.
    exits: Vec<Vec<usize>>,
    /// Exit, `on_error` and implied `fallback` edges.
    all: Vec<Vec<usize>>,
    /// The node lists an exit that does not exist (already an error).
    dangling: Vec<bool>,
    pos: BTreeMap<&'a str, usize>,
}

impl<'a> Graph<'a> {
    fn new(s: &'a Scenario) -> Graph<'a> {
        let ids: Vec<&str> = s.nodes.keys().map(String::as_str).collect();
        let pos: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let fallback = s.fallback.as_deref().and_then(|f| pos.get(f).copied());
        let mut g = Graph {
            exits: Vec::with_capacity(ids.len()),
            all: Vec::with_capacity(ids.len()),
            dangling: Vec::with_capacity(ids.len()),
            ids,
            pos,
        };
        for node in s.nodes.values() {
            let exits: Vec<usize> = node
                .exits
                .iter()
                .filter_map(|e| g.pos.get(e.as_str()).copied())
                .collect();
            g.dangling.push(exits.len() < node.exits.len());
            let mut all = exits.clone();
            match &node.on_error {
                Some(e) => all.extend(g.pos.get(e.as_str()).copied()),
                None => all.extend(fallback),
            }
            g.exits.push(exits);
            g.all.push(all);
        }
        g
    }

    /// Rule 4: breadth-first from `start` over every edge.
    fn reachable(&self, s: &Scenario) -> Vec<bool> {
        let mut seen = vec![false; self.ids.len()];
        let mut queue: VecDeque<usize> = self
            .pos
            .get(s.start.as_str())
            .copied()
            .into_iter()
            .collect();
        while let Some(n) = queue.pop_front() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            queue.extend(self.all[n].iter().copied().filter(|m| !seen[*m]));
        }
        seen
    }

    /// Nodes that can reach a leaf through exits (backwards from the leaves).
    /// A node with a dangling exit counts as ending: rule 3 reports it already.
    fn can_end(&self) -> Vec<bool> {
        let n = self.ids.len();
        let mut preds = vec![Vec::new(); n];
        for (from, tos) in self.exits.iter().enumerate() {
            for &to in tos {
                preds[to].push(from);
            }
        }
        let mut ends = vec![false; n];
        let mut queue: VecDeque<usize> = (0..n)
            .filter(|&i| self.exits[i].is_empty() || self.dangling[i])
            .collect();
        while let Some(i) = queue.pop_front() {
            if std::mem::replace(&mut ends[i], true) {
                continue;
            }
            queue.extend(preds[i].iter().copied().filter(|p| !ends[*p]));
        }
        ends
    }
}

/// Rule 5: every reachable node can reach a leaf. Reports each loop with no
/// way out once (naming all its nodes), and each node that only leads into one.
fn never_ending(g: &Graph<'_>, reachable: &[bool], out: &mut Vec<Problem>) {
    let ends = g.can_end();
    let stuck: Vec<bool> = (0..g.ids.len()).map(|i| reachable[i] && !ends[i]).collect();
    if !stuck.contains(&true) {
        return;
    }
    let mut in_loop = vec![false; g.ids.len()];
    for scc in strongly_connected(&g.exits, &stuck) {
        let is_loop = scc.len() > 1 || g.exits[scc[0]].contains(&scc[0]);
        if !is_loop {
            continue;
        }
        let names: Vec<String> = scc.iter().map(|&i| format!("{:?}", g.ids[i])).collect();
        for &i in &scc {
            in_loop[i] = true;
        }
        out.push(Problem::error(
            join("nodes", g.ids[scc[0]]),
            format!(
                "nodes {} loop with no way out: none of them can reach a node without exits (one that hangs up or transfers)",
                names.join(", ")
            ),
        ));
    }
    for i in (0..g.ids.len()).filter(|&i| stuck[i] && !in_loop[i]) {
        out.push(Problem::error(
            join("nodes", g.ids[i]),
            format!(
                "node {:?} never ends: every exit leads into a loop with no way out",
                g.ids[i]
            ),
        ));
    }
}

/// Tarjan's algorithm, iterative (documents are untrusted: no recursion depth
/// proportional to their size), over the nodes with `member[i]`. Each
/// component comes out sorted by index, components in no particular order.
fn strongly_connected(edges: &[Vec<usize>], member: &[bool]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut idx = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in (0..n).filter(|&i| member[i]) {
        if idx[root] != UNSEEN {
            continue;
        }
        // (node, position in its edge list)
        let mut work = vec![(root, 0usize)];
        idx[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(top) = work.last_mut() {
            let v = top.0;
            if let Some(&w) = edges[v].get(top.1) {
                top.1 += 1;
                if !member[w] {
                    continue;
                }
                if idx[w] == UNSEEN {
                    idx[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(idx[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == idx[v] {
                let mut scc = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                scc.sort_unstable();
                out.push(scc);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strongly_connected;

    #[test]
    fn tarjan_finds_components() {
        // 0 → 1 → 2 → 0, 2 → 3, 3 → 3, 4 alone
        let edges = vec![vec![1], vec![2], vec![0, 3], vec![3], vec![]];
        let mut sccs = strongly_connected(&edges, &[true; 5]);
        sccs.sort();
        assert_eq!(sccs, vec![vec![0, 1, 2], vec![3], vec![4]]);
        // Non-members are ignored.
        let mut sccs = strongly_connected(&edges, &[true, true, false, true, true]);
        sccs.sort();
        assert_eq!(sccs, vec![vec![0], vec![1], vec![3], vec![4]]);
    }

    #[test]
    fn tarjan_handles_long_chains_without_recursion() {
        let n = 200_000;
        let edges: Vec<Vec<usize>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
        let sccs = strongly_connected(&edges, &vec![true; n]);
        assert_eq!(sccs.len(), 1);
        assert_eq!(sccs[0].len(), n);
    }
}
