//! Queue history on disk: each caller's passage through a queue as one record in redb
//! (`queue.calls`), so reports cover any period and survive restarts (R-OPS-5); and each
//! member's log-in and pause (`queue.members`), so a restart does not log staff back in or
//! end their break.
//!
//! The core feeds the ACD's events to a [`Ledger`] on its own thread of control and hands
//! the records to a write-behind thread, which batches bursts into one transaction: the
//! SIP path never waits on the disk.

use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;

use madoguchi_acd::history::{period_key_range, summarize, Interval, Ledger, QueueCallRecord};
use madoguchi_acd::{Acd, EventKind, PeriodStats, Presence};
use madoguchi_store::{Store, StoreError};
use serde_json::{json, Value};
use tracing::{info, warn};

/// The table of [`QueueCallRecord`]s, keyed by [`QueueCallRecord::key`].
pub const QUEUE_CALLS_TABLE: &str = "queue.calls";

/// Each queue member's [`Presence`], keyed by user.
pub const QUEUE_MEMBERS_TABLE: &str = "queue.members";

/// The most records one report reads (about a year of a busy municipal queue).
pub const REPORT_MAX_RECORDS: usize = 1_000_000;

/// What the write-behind thread writes.
#[derive(Debug)]
enum Write {
    Call(QueueCallRecord),
    Presence(String, Presence),
}

/// Follows queue events and member presences and stores what changed.
#[derive(Debug)]
pub struct QueueHistory {
    ledger: Ledger,
    tx: std_mpsc::Sender<Write>,
    /// Presences as last written, and the ACD's change counter then.
    presences: HashMap<String, Presence>,
    presence_changes: Option<u64>,
}

impl QueueHistory {
    /// Starts the write-behind thread for `store`.
    pub fn start(store: Store) -> std::io::Result<QueueHistory> {
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("queue-history".into())
            .spawn(move || write_behind(store, rx))?;
        Ok(QueueHistory {
            ledger: Ledger::new(),
            tx,
            presences: HashMap::new(),
            presence_changes: None,
        })
    }

    /// Takes one ACD event of `caller` (at the system clock's now).
    pub fn observe(&mut self, caller: &str, kind: EventKind, detail: &Value) {
        let now_ms = super::unix_now_ms();
        if let Some(record) = self.ledger.observe(caller, kind, detail, now_ms) {
            let _ = self.tx.send(Write::Call(record));
        }
    }

    /// Stores the presences that changed since the last call (cheap when none did).
    pub fn sync_presences(&mut self, acd: &Acd) {
        if self.presence_changes == Some(acd.presence_changes()) {
            return;
        }
        self.presence_changes = Some(acd.presence_changes());
        for (member, p) in acd.presences() {
            if self.presences.get(member) != Some(&p) {
                self.presences.insert(member.to_string(), p.clone());
                let _ = self.tx.send(Write::Presence(member.to_string(), p));
            }
        }
    }
}

/// Applies the kept presences to freshly configured queues; members with none kept log in.
pub fn restore_presences(
    acd: &mut Acd,
    store: &Store,
    now: std::time::Instant,
) -> Result<(), StoreError> {
    let kept: HashMap<String, Presence> = store
        .list_json::<Presence>(QUEUE_MEMBERS_TABLE)?
        .into_iter()
        .collect();
    let members: Vec<String> = acd.presences().map(|(m, _)| m.to_string()).collect();
    for m in members {
        let p = kept.get(&m).cloned().unwrap_or(Presence::In);
        if let Err(e) = acd.restore_presence(&m, &p, now) {
            warn!(member = m, error = %e, "cannot restore the member's presence");
        }
    }
    Ok(())
}

/// Writes what comes, a burst per transaction (within a burst the latest version of a
/// record or presence wins).
fn write_behind(store: Store, rx: std_mpsc::Receiver<Write>) {
    while let Ok(first) = rx.recv() {
        let mut calls: HashMap<String, QueueCallRecord> = HashMap::new();
        let mut presences: HashMap<String, Presence> = HashMap::new();
        let mut take = |w: Write| match w {
            Write::Call(r) => {
                calls.insert(r.key(), r);
            }
            Write::Presence(m, p) => {
                presences.insert(m, p);
            }
        };
        take(first);
        for _ in 0..511 {
            match rx.try_recv() {
                Ok(w) => take(w),
                Err(_) => break,
            }
        }
        let mut stored_calls = 0;
        let mut stored_presences = Vec::new();
        if !calls.is_empty() {
            let rows: Vec<(String, QueueCallRecord)> = calls.into_iter().collect();
            match store.put_json_many(QUEUE_CALLS_TABLE, &rows) {
                Ok(()) => stored_calls = rows.len(),
                Err(e) => warn!(records = rows.len(), error = %e, "cannot store queue history"),
            }
        }
        if !presences.is_empty() {
            let mut rows: Vec<(String, Presence)> = presences.into_iter().collect();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            match store.put_json_many(QUEUE_MEMBERS_TABLE, &rows) {
                Ok(()) => stored_presences = rows,
                Err(e) => warn!(members = rows.len(), error = %e, "cannot store member presences"),
            }
        }
        // One line per batch, naming each presence stored (`1002:out`): what tests (and
        // operators) wait for before a crash.
        if stored_calls > 0 || !stored_presences.is_empty() {
            let presences: Vec<String> = stored_presences
                .iter()
                .map(|(m, p)| format!("{m}:{}", p.name()))
                .collect();
            info!(
                calls = stored_calls,
                presences = %presences.join(","),
                "queue history stored"
            );
        }
    }
}

/// The report of `queue` for callers who entered in `[from_ms, to_ms)`, in intervals of
/// `interval_ms` (0: one interval), with the period's total.
pub fn report(
    store: &Store,
    queue: &str,
    from_ms: u64,
    to_ms: u64,
    interval_ms: u64,
) -> Result<Report, StoreError> {
    let (lo, hi) = period_key_range(queue, from_ms, to_ms);
    let rows: Vec<(String, QueueCallRecord)> =
        store.range_json(QUEUE_CALLS_TABLE, &lo, &hi, REPORT_MAX_RECORDS)?;
    let records: Vec<QueueCallRecord> = rows.into_iter().map(|(_, r)| r).collect();
    Ok(Report {
        truncated: records.len() >= REPORT_MAX_RECORDS,
        total: summarize(&records, from_ms, to_ms, 0)
            .into_iter()
            .next()
            .map(|i| i.stats)
            .unwrap_or_default(),
        intervals: summarize(&records, from_ms, to_ms, interval_ms),
    })
}

/// A queue's figures over a period.
#[derive(Debug)]
pub struct Report {
    pub total: PeriodStats,
    pub intervals: Vec<Interval>,
    /// The period held more than [`REPORT_MAX_RECORDS`] callers; later ones are missing.
    pub truncated: bool,
}

/// A period's counters with the figures derived from them, as the API shows them.
pub fn stats_json(s: &PeriodStats) -> Value {
    json!({
        "offered": s.offered,
        "answered": s.answered,
        "answered_within_service_level": s.answered_within_sl,
        "abandoned": s.abandoned,
        "to_fallback": s.to_fallback,
        "missed_offers": s.missed_offers,
        "service_level": s.service_level(),
        "average_wait_ms": s.average_wait_ms(),
        "average_talk_ms": s.average_talk_ms(),
        "average_abandon_wait_ms": s.average_abandon_wait_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_stored_records_and_a_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut h = QueueHistory::start(store.clone()).unwrap();
        let q = json!({ "queue": "mynumber" });
        h.observe("c1", EventKind::QueueEnter, &q);
        h.observe(
            "c1",
            EventKind::QueueAnswered,
            &json!({ "queue": "mynumber", "member": "1001", "wait_ms": 4000, "within_service_level": true }),
        );
        h.observe("c2", EventKind::QueueEnter, &q);
        h.observe(
            "c2",
            EventKind::QueueAbandoned,
            &json!({ "queue": "mynumber", "wait_ms": 9000 }),
        );
        h.observe(
            "c1",
            EventKind::QueueCallEnded,
            &json!({ "queue": "mynumber", "talk_ms": 60000 }),
        );
        // Dropping the sender lets the thread finish its last batch.
        drop(h);
        let now = crate::core::unix_now_ms();
        let mut stored = 0;
        // The redb commit: at least 30 s on a loaded host (returns as soon as it is seen).
        for _ in 0..3000 {
            stored = store
                .list_json::<QueueCallRecord>(QUEUE_CALLS_TABLE)
                .unwrap()
                .len();
            if stored == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            stored, 2,
            "one record per caller, the answered one updated in place"
        );
        let r = report(&store, "mynumber", now - 60_000, now + 60_000, 3_600_000).unwrap();
        assert_eq!(
            (r.total.offered, r.total.answered, r.total.abandoned),
            (2, 1, 1)
        );
        assert_eq!(r.total.average_talk_ms(), Some(60_000.0));
        assert_eq!(stats_json(&r.total)["service_level"], json!(0.5));
        assert!(!r.truncated);
        let other = report(&store, "other", now - 60_000, now + 60_000, 0).unwrap();
        assert_eq!(other.total.offered, 0);
    }

    #[test]
    fn presences_are_kept_and_restored_and_new_members_log_in() {
        use madoguchi_acd::{MemberState, QueueConfig};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = std::time::Instant::now();
        let queue = || QueueConfig::new("section", &["1001", "1002", "1003"], "scenario");
        let mut acd = Acd::new();
        acd.configure(queue(), now).unwrap();
        restore_presences(&mut acd, &store, now).unwrap();
        assert_eq!(acd.member_state("1003"), Some(MemberState::Available));
        acd.member_pause("1001", "研修", now).unwrap();
        acd.member_logout("1002", now).unwrap();
        let mut h = QueueHistory::start(store.clone()).unwrap();
        h.sync_presences(&acd);
        // Unchanged since: nothing more is sent.
        h.sync_presences(&acd);
        drop(h);
        let mut kept = 0;
        // The redb commit: at least 30 s on a loaded host (returns as soon as it is seen).
        for _ in 0..3000 {
            kept = store
                .list_json::<Presence>(QUEUE_MEMBERS_TABLE)
                .unwrap()
                .len();
            if kept == 3 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(kept, 3);
        // The restart: a new machine with a fourth member.
        let mut fresh = Acd::new();
        let mut q = queue();
        q.members.push("1004".into());
        fresh.configure(q, now).unwrap();
        restore_presences(&mut fresh, &store, now).unwrap();
        assert_eq!(
            fresh.member_state("1001"),
            Some(MemberState::Paused {
                reason: "研修".into()
            })
        );
        assert_eq!(fresh.member_state("1002"), Some(MemberState::LoggedOut));
        assert_eq!(fresh.member_state("1003"), Some(MemberState::Available));
        assert_eq!(fresh.member_state("1004"), Some(MemberState::Available));
    }
}
