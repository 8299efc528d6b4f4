//! A queue's history, call by call, for reports over any period (R-OPS-5).
//!
//! The live [`PeriodStats`](crate::PeriodStats) counters die with the process and cover one
//! period. A supervisor asks "how did the queue do this morning, hour by hour" or "last
//! month": so each caller's passage through a queue becomes one [`QueueCallRecord`], which
//! the host stores, and [`summarize`] folds stored records into intervals.
//!
//! [`Ledger`] turns the machine's [`Command::Event`](crate::Command::Event)s into records.
//! It is sans-IO like the machine: the host passes the wall-clock time in and writes the
//! records it returns (again, under the same key, when a record changes).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::command::EventKind;
use crate::stats::PeriodStats;

/// How a caller's time in a queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Connected to a member (the talk time follows when the call ends).
    Answered,
    /// Hung up while waiting.
    Abandoned,
    /// Sent to the queue's fallback route (maximum wait, empty queue).
    Fallback,
}

/// One caller's passage through one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueCallRecord {
    pub queue: String,
    /// The caller's Call-ID.
    pub caller: String,
    /// When the caller entered the queue (Unix ms): the record's place in reports.
    pub entered_unix_ms: u64,
    pub outcome: Outcome,
    /// Who answered.
    #[serde(default)]
    pub member: Option<String>,
    /// Waiting time until answer, abandon or fallback.
    pub wait_ms: u64,
    /// Answered within the queue's service level.
    #[serde(default)]
    pub within_service_level: bool,
    /// Talk time, once the answered call has ended.
    #[serde(default)]
    pub talk_ms: Option<u64>,
    /// Why the caller went to the fallback route (`max-wait`, `join-empty`, …).
    #[serde(default)]
    pub fallback_reason: Option<String>,
    /// Offers members did not take (no answer, device error) while this caller waited.
    #[serde(default)]
    pub missed_offers: u32,
}

impl QueueCallRecord {
    /// The storage key: by queue, then entry time, so one queue's period is one key range
    /// (see [`period_key_range`]).
    pub fn key(&self) -> String {
        format!(
            "{}/{:016}/{}",
            self.queue, self.entered_unix_ms, self.caller
        )
    }
}

/// The key range `[start, end)` holding `queue`'s records of callers who entered in
/// `[from_unix_ms, to_unix_ms)`.
pub fn period_key_range(queue: &str, from_unix_ms: u64, to_unix_ms: u64) -> (String, String) {
    (
        format!("{queue}/{from_unix_ms:016}/"),
        format!("{queue}/{to_unix_ms:016}/"),
    )
}

/// A caller still in a queue (or talking to a member), as far as its record is known.
#[derive(Debug)]
struct Open {
    record: QueueCallRecord,
    /// Whether an outcome was reached (the record is then written).
    settled: bool,
}

/// Follows queue events and yields a record to store whenever a caller's record changes.
#[derive(Debug, Default)]
pub struct Ledger {
    open: HashMap<String, Open>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Callers followed now (waiting, or answered and still talking).
    pub fn open_len(&self) -> usize {
        self.open.len()
    }

    /// Takes one queue event of `caller` that happened at `now_unix_ms`. Returns the
    /// caller's record when it reached an outcome or changed after one (store it, replacing
    /// the previous version under the same key).
    pub fn observe(
        &mut self,
        caller: &str,
        kind: EventKind,
        detail: &Value,
        now_unix_ms: u64,
    ) -> Option<QueueCallRecord> {
        let queue = detail.get("queue").and_then(Value::as_str).unwrap_or("");
        let num = |k: &str| detail.get(k).and_then(Value::as_u64).unwrap_or(0);
        match kind {
            EventKind::QueueEnter => {
                self.open.insert(
                    caller.to_string(),
                    Open {
                        record: QueueCallRecord {
                            queue: queue.to_string(),
                            caller: caller.to_string(),
                            entered_unix_ms: now_unix_ms,
                            // Provisional: nothing is written before an outcome.
                            outcome: Outcome::Abandoned,
                            member: None,
                            wait_ms: 0,
                            within_service_level: false,
                            talk_ms: None,
                            fallback_reason: None,
                            missed_offers: 0,
                        },
                        settled: false,
                    },
                );
                None
            }
            EventKind::QueueNoAnswer => {
                if let Some(o) = self.open.get_mut(caller) {
                    o.record.missed_offers += 1;
                }
                None
            }
            EventKind::QueueAnswered => {
                let o = self.open.get_mut(caller)?;
                o.record.outcome = Outcome::Answered;
                o.record.member = detail
                    .get("member")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                o.record.wait_ms = num("wait_ms");
                o.record.within_service_level = detail
                    .get("within_service_level")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                o.settled = true;
                Some(o.record.clone())
            }
            EventKind::QueueAbandoned => {
                let mut o = self.open.remove(caller)?;
                o.record.outcome = Outcome::Abandoned;
                o.record.wait_ms = num("wait_ms");
                Some(o.record)
            }
            EventKind::QueueFallback => {
                // A caller refused at the door (join-empty) never entered: its record
                // starts and ends here.
                let mut record = match self.open.remove(caller) {
                    Some(o) => o.record,
                    None => QueueCallRecord {
                        queue: queue.to_string(),
                        caller: caller.to_string(),
                        entered_unix_ms: now_unix_ms,
                        outcome: Outcome::Fallback,
                        member: None,
                        wait_ms: 0,
                        within_service_level: false,
                        talk_ms: None,
                        fallback_reason: None,
                        missed_offers: 0,
                    },
                };
                record.outcome = Outcome::Fallback;
                record.wait_ms = num("wait_ms");
                record.fallback_reason = detail
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Some(record)
            }
            EventKind::QueueCallEnded => {
                let mut o = self.open.remove(caller)?;
                if !o.settled {
                    return None;
                }
                o.record.talk_ms = Some(num("talk_ms"));
                Some(o.record)
            }
            EventKind::QueuePosition | EventKind::QueueOffered => None,
        }
    }
}

/// One interval of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// Start of the interval (Unix ms); it ends where the next begins.
    pub start_unix_ms: u64,
    pub stats: PeriodStats,
}

/// Folds records into intervals of `interval_ms` from `from_unix_ms` up to `to_unix_ms`
/// (the last may be shorter), each caller counted in the interval it entered the queue.
/// Records outside the period are ignored. `interval_ms` of 0 means one interval.
pub fn summarize<'a>(
    records: impl IntoIterator<Item = &'a QueueCallRecord>,
    from_unix_ms: u64,
    to_unix_ms: u64,
    interval_ms: u64,
) -> Vec<Interval> {
    let span = to_unix_ms.saturating_sub(from_unix_ms);
    let step = if interval_ms == 0 {
        span.max(1)
    } else {
        interval_ms
    };
    let n = span.div_ceil(step).max(1) as usize;
    let mut out: Vec<Interval> = (0..n)
        .map(|i| Interval {
            start_unix_ms: from_unix_ms + i as u64 * step,
            stats: PeriodStats::default(),
        })
        .collect();
    for r in records {
        if r.entered_unix_ms < from_unix_ms || r.entered_unix_ms >= to_unix_ms {
            continue;
        }
        let i = ((r.entered_unix_ms - from_unix_ms) / step) as usize;
        let Some(s) = out.get_mut(i).map(|iv| &mut iv.stats) else {
            continue;
        };
        add(s, r);
    }
    out
}

/// Adds one caller to a period's counters, as the live machine would have.
fn add(s: &mut PeriodStats, r: &QueueCallRecord) {
    s.offered += 1;
    s.missed_offers += u64::from(r.missed_offers);
    match r.outcome {
        Outcome::Answered => {
            s.answered += 1;
            s.total_wait_ms += r.wait_ms;
            if r.within_service_level {
                s.answered_within_sl += 1;
            }
            if let Some(talk) = r.talk_ms {
                s.ended += 1;
                s.total_talk_ms += talk;
            }
        }
        Outcome::Abandoned => {
            s.abandoned += 1;
            s.abandon_wait_ms += r.wait_ms;
        }
        Outcome::Fallback => s.to_fallback += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(
        l: &mut Ledger,
        caller: &str,
        kind: EventKind,
        detail: Value,
        at: u64,
    ) -> Option<QueueCallRecord> {
        l.observe(caller, kind, &detail, at)
    }

    #[test]
    fn an_answered_call_is_written_at_answer_and_again_with_its_talk_time() {
        let mut l = Ledger::new();
        let q = json!({ "queue": "mynumber" });
        assert!(ev(&mut l, "c1", EventKind::QueueEnter, q.clone(), 1_000).is_none());
        assert!(ev(&mut l, "c1", EventKind::QueueOffered, q.clone(), 1_000).is_none());
        assert!(ev(&mut l, "c1", EventKind::QueueNoAnswer, q.clone(), 16_000).is_none());
        let r = ev(
            &mut l,
            "c1",
            EventKind::QueueAnswered,
            json!({ "queue": "mynumber", "member": "1001", "wait_ms": 18_000, "within_service_level": true }),
            19_000,
        )
        .unwrap();
        assert_eq!(r.outcome, Outcome::Answered);
        assert_eq!(
            (r.entered_unix_ms, r.wait_ms, r.missed_offers),
            (1_000, 18_000, 1)
        );
        assert_eq!(r.member.as_deref(), Some("1001"));
        assert_eq!(r.talk_ms, None);
        let ended = ev(
            &mut l,
            "c1",
            EventKind::QueueCallEnded,
            json!({ "queue": "mynumber", "talk_ms": 95_000 }),
            114_000,
        )
        .unwrap();
        // Same key: the stored record is replaced, not doubled.
        assert_eq!(ended.key(), r.key());
        assert_eq!(ended.talk_ms, Some(95_000));
        assert_eq!(l.open_len(), 0);
    }

    #[test]
    fn abandon_and_fallback_close_the_record_and_join_empty_needs_no_entry() {
        let mut l = Ledger::new();
        ev(
            &mut l,
            "a",
            EventKind::QueueEnter,
            json!({ "queue": "q" }),
            0,
        );
        let a = ev(
            &mut l,
            "a",
            EventKind::QueueAbandoned,
            json!({ "queue": "q", "wait_ms": 7_000 }),
            7_000,
        )
        .unwrap();
        assert_eq!((a.outcome, a.wait_ms), (Outcome::Abandoned, 7_000));
        let f = ev(
            &mut l,
            "b",
            EventKind::QueueFallback,
            json!({ "queue": "q", "reason": "join-empty", "wait_ms": 0 }),
            9_000,
        )
        .unwrap();
        assert_eq!((f.outcome, f.entered_unix_ms), (Outcome::Fallback, 9_000));
        assert_eq!(f.fallback_reason.as_deref(), Some("join-empty"));
        assert_eq!(l.open_len(), 0);
        // Events of callers it never saw change nothing.
        assert!(ev(
            &mut l,
            "zz",
            EventKind::QueueAnswered,
            json!({ "queue": "q" }),
            1
        )
        .is_none());
        assert!(ev(
            &mut l,
            "zz",
            EventKind::QueueCallEnded,
            json!({ "queue": "q" }),
            1
        )
        .is_none());
    }

    fn rec(
        entered: u64,
        outcome: Outcome,
        wait: u64,
        sl: bool,
        talk: Option<u64>,
    ) -> QueueCallRecord {
        QueueCallRecord {
            queue: "q".into(),
            caller: format!("c{entered}"),
            entered_unix_ms: entered,
            outcome,
            member: None,
            wait_ms: wait,
            within_service_level: sl,
            talk_ms: talk,
            fallback_reason: None,
            missed_offers: 0,
        }
    }

    #[test]
    fn summarize_counts_each_caller_in_the_interval_it_entered() {
        const H: u64 = 3_600_000;
        let records = [
            rec(10, Outcome::Answered, 10_000, true, Some(60_000)),
            rec(H - 1, Outcome::Answered, 50_000, false, None),
            rec(H, Outcome::Abandoned, 30_000, false, None),
            rec(H + 5, Outcome::Fallback, 120_000, false, None),
            rec(2 * H + 1, Outcome::Answered, 1, true, Some(1)), // after the period
        ];
        let out = summarize(&records, 0, 2 * H, H);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].start_unix_ms, H);
        let first = out[0].stats;
        assert_eq!(
            (first.offered, first.answered, first.answered_within_sl),
            (2, 2, 1)
        );
        assert_eq!(first.average_wait_ms(), Some(30_000.0));
        assert_eq!(first.average_talk_ms(), Some(60_000.0));
        assert_eq!(first.service_level(), Some(0.5));
        let second = out[1].stats;
        assert_eq!(
            (second.offered, second.abandoned, second.to_fallback),
            (2, 1, 1)
        );
        assert_eq!(second.average_abandon_wait_ms(), Some(30_000.0));
        assert_eq!(second.service_level(), Some(0.0));
        // One interval for the whole period; an empty period still has its interval.
        assert_eq!(summarize(&records, 0, 2 * H, 0)[0].stats.offered, 4);
        assert_eq!(summarize(&[], 5, 5, H).len(), 1);
    }

    #[test]
    fn keys_sort_by_queue_then_time_within_the_period_range() {
        let a = rec(999, Outcome::Abandoned, 0, false, None);
        let b = rec(1_000, Outcome::Abandoned, 0, false, None);
        assert!(a.key() < b.key());
        let (lo, hi) = period_key_range("q", 1_000, 2_000);
        assert!(a.key() < lo && lo <= b.key() && b.key() < hi);
        // Another queue whose name starts the same never falls in the range.
        let mut other = b.clone();
        other.queue = "q2".into();
        assert!(!(lo <= other.key() && other.key() < hi));
    }
}
