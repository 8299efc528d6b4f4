//! The times a plan's rows run at: found by asking the scenario's schedule plugins, so
//! every answer a schedule gives (open, closed, holiday, year-end closure, special closure)
//! and the minutes around each opening and closing time get a row.
//!
//! One week from the first Monday on or after the reference date, every 15 minutes, then
//! each change refined to the minute; then 400 days at the usual time of day for holidays
//! and closures.

use std::collections::{BTreeMap, BTreeSet};

use super::branch::{Boundary, BoundaryKind};
use super::sim::{SimScenario, Status, StatusKind};

/// A (schedule, destination) the scenario's nodes ask about.
pub type Pair = (String, String);

/// A time rows may run at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub at_ms: u64,
    /// For the pairs whose opening or closing minute this is.
    pub boundaries: BTreeMap<Pair, Boundary>,
    /// Every pair's answer at that time.
    pub statuses: Vec<Status>,
}

/// Candidates are told apart by every pair's answer and the boundary they stand for.
type SeenKey = (Vec<StatusKind>, Vec<(Pair, Boundary)>);

const MINUTE: u64 = 60_000;
const QUARTER: u64 = 15 * MINUTE;
const DAY: u64 = 24 * 60 * MINUTE;
const DAYS_SCANNED: u64 = 400;

/// Midnight (local) of `date` in Unix ms.
fn midnight(date: time::Date, offset_secs: i32) -> u64 {
    let offset = time::UtcOffset::from_whole_seconds(offset_secs).unwrap_or(time::UtcOffset::UTC);
    let t = time::PrimitiveDateTime::new(date, time::Time::MIDNIGHT).assume_offset(offset);
    u64::try_from(t.unix_timestamp()).unwrap_or(0) * 1000
}

fn statuses(sc: &SimScenario, pairs: &[Pair], at: u64) -> Vec<Status> {
    pairs
        .iter()
        .map(|(s, d)| Status::of(&sc.schedule_at(s, d, at)))
        .collect()
}

fn kinds(v: &[Status]) -> Vec<StatusKind> {
    v.iter().map(|s| s.kind.clone()).collect()
}

fn hhmm(at: u64, offset_secs: i32) -> String {
    let local = (at as i64 + i64::from(offset_secs) * 1000).rem_euclid(DAY as i64) as u64;
    format!("{:02}:{:02}", local / 3_600_000, (local / MINUTE) % 60)
}

/// The candidate times for `pairs`, the usual time first (the one most pairs are open at).
/// Without pairs: one time, noon of the first Monday.
pub fn candidates(sc: &SimScenario, pairs: &[Pair], reference: time::Date) -> Vec<Candidate> {
    let off = sc.utc_offset_secs;
    let mut monday = reference;
    while monday.weekday() != time::Weekday::Monday {
        monday = monday.next_day().unwrap_or(monday);
    }
    let week0 = midnight(monday, off);
    if pairs.is_empty() {
        return vec![Candidate {
            at_ms: week0 + 13 * 3_600_000,
            boundaries: BTreeMap::new(),
            statuses: Vec::new(),
        }];
    }
    let grid: Vec<u64> = (0..7 * 96).map(|k| week0 + k * QUARTER).collect();
    let answers: Vec<Vec<Status>> = grid.iter().map(|&t| statuses(sc, pairs, t)).collect();
    let open_count = |v: &[Status]| v.iter().filter(|s| s.kind == StatusKind::Open).count();

    // Runs of the same answers over the week; each run's middle is a plain time for them.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for k in 0..grid.len() {
        match runs.last_mut() {
            Some((_, end)) if kinds(&answers[*end]) == kinds(&answers[k]) && *end + 1 == k => {
                *end = k
            }
            _ => runs.push((k, k)),
        }
    }
    let middle = |(a, b): (usize, usize)| {
        // On the hour when the run allows it.
        let mid = grid[(a + b) / 2];
        let hour = mid - mid % 3_600_000;
        if hour >= grid[a] {
            hour
        } else {
            mid
        }
    };
    let best = runs
        .iter()
        .copied()
        .max_by_key(|&(a, b)| (open_count(&answers[a]), b - a, std::cmp::Reverse(a)))
        .expect("a week has runs");
    let usual = middle(best);
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen: BTreeSet<SeenKey> = BTreeSet::new();
    let mut add = |at: u64, boundaries: BTreeMap<Pair, Boundary>, out: &mut Vec<Candidate>| {
        let st = statuses(sc, pairs, at);
        let key = (
            kinds(&st),
            boundaries
                .iter()
                .map(|(p, b)| (p.clone(), b.clone()))
                .collect(),
        );
        if seen.insert(key) {
            out.push(Candidate {
                at_ms: at,
                boundaries,
                statuses: st,
            });
        }
    };
    add(usual, BTreeMap::new(), &mut out);
    for &r in &runs {
        add(middle(r), BTreeMap::new(), &mut out);
    }
    // The minutes around each opening and closing time, per pair.
    for (p, pair) in pairs.iter().enumerate() {
        let mut done: BTreeSet<(BoundaryKind, String)> = BTreeSet::new();
        for k in 1..grid.len() {
            let (before, after) = (&answers[k - 1][p].kind, &answers[k][p].kind);
            let opening = match (before, after) {
                (StatusKind::Closed, StatusKind::Open) => true,
                (StatusKind::Open, StatusKind::Closed) => false,
                _ => continue,
            };
            // The first minute with the new answer.
            let mut m = grid[k - 1] + MINUTE;
            while m < grid[k] && Status::of(&sc.schedule_at(&pair.0, &pair.1, m)).kind == *before {
                m += MINUTE;
            }
            let time = hhmm(m, off);
            let (k_before, k_at) = if opening {
                (BoundaryKind::BeforeOpen, BoundaryKind::Opens)
            } else {
                (BoundaryKind::LastOpen, BoundaryKind::Closes)
            };
            if !done.insert((k_at.clone(), time.clone())) {
                continue;
            }
            for (at, kind) in [(m - MINUTE, k_before), (m, k_at)] {
                let b = Boundary {
                    kind,
                    time: time.clone(),
                };
                add(at, BTreeMap::from([(pair.clone(), b)]), &mut out);
            }
        }
    }
    // Holidays, the year-end closure, special closures: the usual time of day, every day.
    let time_of_day = usual - week0;
    let day0 = midnight(reference, off);
    for d in 0..DAYS_SCANNED {
        add(
            day0 + d * DAY + time_of_day % DAY,
            BTreeMap::new(),
            &mut out,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hhmm;

    #[test]
    fn minutes_in_japan_time() {
        // 2026-12-28T23:30:00Z is 08:30 in Tokyo.
        assert_eq!(hhmm(1_798_500_600_000, 9 * 3600), "08:30");
    }
}
