//! Queue history on disk: each caller's passage through a queue as one record in redb
//! (`queue.calls`), so reports cover any period and survive restarts (R-OPS-5).
//!
//! The core feeds the ACD's events to a [`Ledger`] on its own thread of control and hands
//! the records to a write-behind thread, which batches bursts into one transaction: the
//! SIP path never waits on the disk.

use std::collections::HashMap;
use std::sync::mpsc as std_mpsc;

use madoguchi_acd::history::{period_key_range, summarize, Interval, Ledger, QueueCallRecord};
use madoguchi_acd::{EventKind, PeriodStats};
use madoguchi_store::{Store, StoreError};
use serde_json::{json, Value};
use tracing::warn;

/// The table of [`QueueCallRecord`]s, keyed by [`QueueCallRecord::key`].
pub const QUEUE_CALLS_TABLE: &str = "queue.calls";

/// The most records one report reads (about a year of a busy municipal queue).
pub const REPORT_MAX_RECORDS: usize = 1_000_000;

/// Follows queue events and stores the records they settle.
#[derive(Debug)]
pub struct QueueHistory {
    ledger: Ledger,
    tx: std_mpsc::Sender<QueueCallRecord>,
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
        })
    }

    /// Takes one ACD event of `caller` (at the system clock's now).
    pub fn observe(&mut self, caller: &str, kind: EventKind, detail: &Value) {
        if let Some(record) = self
            .ledger
            .observe(caller, kind, detail, super::unix_now_ms())
        {
            let _ = self.tx.send(record);
        }
    }
}

/// Writes records as they come, a burst per transaction (the latest version of a record
/// wins within a burst).
fn write_behind(store: Store, rx: std_mpsc::Receiver<QueueCallRecord>) {
    while let Ok(first) = rx.recv() {
        let mut batch: HashMap<String, QueueCallRecord> = HashMap::new();
        batch.insert(first.key(), first);
        while let Ok(r) = rx.try_recv() {
            batch.insert(r.key(), r);
            if batch.len() >= 512 {
                break;
            }
        }
        let rows: Vec<(String, QueueCallRecord)> = batch.into_iter().collect();
        if let Err(e) = store.put_json_many(QUEUE_CALLS_TABLE, &rows) {
            warn!(records = rows.len(), error = %e, "cannot store queue history");
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
        for _ in 0..200 {
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
}
