//! A call record for every call, and the list of calls in progress.
//!
//! The IVR writes the record of the part of a call it answers (`ivr::log`). This log covers
//! the rest, in the same store table (`ivr.calls`, keyed `{started_ms:016}-{id}`), so one
//! search finds every call:
//! - calls between users, answered or not, with the recording's file name;
//! - the legs of transfers and queue offers out of the IVR (`kind` `transfer` / `queue`,
//!   keyed `{call_id}#leg{n}` so that the IVR's record keeps the Call-ID);
//! - calls refused before any device rang (unknown number 404, no device 480, …) with the
//!   SIP code; a digest challenge (401/407) is not a refusal;
//! - host-answered calls other than the IVR (line test, feature codes).
//!
//! The core calls it synchronously; records go to the store on tokio's blocking pool, so
//! the SIP loop never waits on disk. It also keeps the metrics of calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use madoguchi_store::Store;
use serde::Serialize;
use serde_json::{json, Value};
use tracing::warn;

use super::unix_now_ms;
use crate::ivr::log::{CALLS_BY_ID_TABLE, CALLS_TABLE};
use crate::observe::time::rfc3339_jst_ms;

/// Who a call is between.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Parties {
    /// The caller's number (From user part).
    pub caller: String,
    /// What was dialled (Request-URI user part): a user, a DID, a feature code.
    pub callee: String,
    /// The DID when the call came to a scenario's number.
    pub did: String,
    /// The user (staff member) the call rang or reached.
    pub user: String,
}

impl Parties {
    /// From an INVITE's From and Request-URI.
    pub fn of(req: &madoguchi_sip::message::Request) -> Parties {
        use madoguchi_sip::message::HeaderAccess;
        let caller = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user_unescaped())
            .unwrap_or_default();
        let callee = req.uri.user_unescaped().unwrap_or_default();
        Parties {
            caller,
            callee,
            ..Parties::default()
        }
    }
}

/// A call in progress, as `GET /api/v1/calls/live` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveCall {
    pub call_id: String,
    /// `user`, `transfer`, `queue`, `ivr`, `line_test`, `feature`.
    pub kind: &'static str,
    /// `ringing`, `answered` (talking), `ivr` (in the scenario), `host` (line test…).
    pub state: &'static str,
    #[serde(flatten)]
    pub parties: Parties,
    pub started_unix_ms: u64,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_unix_ms: Option<u64>,
    #[serde(skip)]
    status: Option<u16>,
}

/// The calls in progress, shared with the admin API.
#[derive(Debug, Default)]
pub struct LiveCalls {
    calls: Mutex<HashMap<String, LiveCall>>,
}

impl LiveCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveCall>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every call in progress, oldest first.
    pub fn list(&self) -> Vec<LiveCall> {
        let mut v: Vec<LiveCall> = self.lock().values().cloned().collect();
        v.sort_by_key(|c| c.started_unix_ms);
        v
    }
}

/// See the module docs.
pub struct CallLog {
    live: Arc<LiveCalls>,
    /// B2BUA call id → its key in `live`.
    by_b2bua: HashMap<u64, String>,
    store: Option<Store>,
}

/// The outcome of a call that was not answered, from the final status the caller got.
pub fn outcome_of(answered: bool, status: Option<u16>) -> &'static str {
    match (answered, status) {
        (true, _) => "answered",
        (false, Some(408 | 480 | 487)) | (false, None) => "unanswered",
        (false, Some(_)) => "refused",
    }
}

impl CallLog {
    pub fn new(store: Option<Store>) -> CallLog {
        CallLog {
            live: Arc::default(),
            by_b2bua: HashMap::new(),
            store,
        }
    }

    /// The live list, for the API.
    pub fn live(&self) -> Arc<LiveCalls> {
        self.live.clone()
    }

    fn gauge(&self) {
        metrics::gauge!("madoguchi_calls_active").set(self.live.lock().len() as f64);
    }

    /// A B2BUA call started: `kind` is `user`, `transfer` or `queue`.
    pub fn b2bua_started(&mut self, id: u64, call_id: &str, kind: &'static str, parties: Parties) {
        let key = if kind == "user" {
            call_id.to_string()
        } else {
            format!("{call_id}#leg{id}")
        };
        let now = unix_now_ms();
        self.live.lock().insert(
            key.clone(),
            LiveCall {
                call_id: call_id.to_string(),
                kind,
                state: "ringing",
                parties,
                started_unix_ms: now,
                started_at: rfc3339_jst_ms(now),
                answered_unix_ms: None,
                status: None,
            },
        );
        self.by_b2bua.insert(id, key);
        self.gauge();
    }

    /// A device answered B2BUA call `id`.
    pub fn answered(&mut self, id: u64) {
        if let Some(key) = self.by_b2bua.get(&id) {
            if let Some(c) = self.live.lock().get_mut(key) {
                c.state = "answered";
                c.answered_unix_ms = Some(unix_now_ms());
            }
        }
    }

    /// A host-answered call started (`ivr`, `line_test`, `feature`).
    pub fn host_started(&mut self, call_id: &str, kind: &'static str, parties: Parties) {
        let now = unix_now_ms();
        self.live.lock().insert(
            call_id.to_string(),
            LiveCall {
                call_id: call_id.to_string(),
                kind,
                state: if kind == "ivr" { "ivr" } else { "host" },
                parties,
                started_unix_ms: now,
                started_at: rfc3339_jst_ms(now),
                answered_unix_ms: Some(now),
                status: None,
            },
        );
        self.gauge();
    }

    /// A host-answered call ended (or was handed to the B2BUA after a transfer). The IVR
    /// writes its own record; the others get one here.
    pub fn host_ended(&mut self, call_id: &str, reason: &str) {
        let Some(c) = self.live.lock().remove(call_id) else {
            return;
        };
        self.gauge();
        if c.kind != "ivr" {
            metrics::counter!("madoguchi_calls_total", "kind" => c.kind, "outcome" => "answered")
                .increment(1);
            self.write(&c.call_id.clone(), &c, "answered", reason, None);
        } else {
            metrics::counter!("madoguchi_calls_total", "kind" => "ivr", "outcome" => "answered")
                .increment(1);
        }
    }

    /// The caller of `call_id` got a final answer to its INVITE. A call this log does not
    /// know (refused before the B2BUA took it) gets its record now.
    pub fn final_status(&mut self, call_id: &str, status: u16, parties: impl FnOnce() -> Parties) {
        if status < 300 || status == 401 || status == 407 {
            return;
        }
        let mut live = self.live.lock();
        if let Some(c) = live.get_mut(call_id) {
            c.status = Some(status);
            return;
        }
        drop(live);
        let now = unix_now_ms();
        let call = LiveCall {
            call_id: call_id.to_string(),
            kind: "user",
            state: "ringing",
            parties: parties(),
            started_unix_ms: now,
            started_at: rfc3339_jst_ms(now),
            answered_unix_ms: None,
            status: Some(status),
        };
        // Nothing rang: whatever the code (404, 480 without devices, 403…), it was refused.
        let outcome = "refused";
        metrics::counter!("madoguchi_calls_total", "kind" => "user", "outcome" => outcome)
            .increment(1);
        self.write(
            call_id,
            &call,
            outcome,
            "refused before ringing",
            Some(status),
        );
    }

    /// B2BUA call `id` ended.
    pub fn b2bua_ended(&mut self, id: u64, reason: &str, recording: Option<String>) {
        let Some(key) = self.by_b2bua.remove(&id) else {
            return;
        };
        let Some(c) = self.live.lock().remove(&key) else {
            return;
        };
        self.gauge();
        let outcome = outcome_of(c.answered_unix_ms.is_some(), c.status);
        metrics::counter!("madoguchi_calls_total", "kind" => c.kind, "outcome" => outcome)
            .increment(1);
        let status = c.status;
        let mut record = record_json(&key, &c, outcome, reason, status);
        record["recording"] = json!(recording);
        self.put(&key, record);
    }

    fn write(&self, key: &str, c: &LiveCall, outcome: &str, reason: &str, status: Option<u16>) {
        let record = record_json(key, c, outcome, reason, status);
        self.put(key, record);
    }

    fn put(&self, index_key: &str, record: Value) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let started = record["started_unix_ms"].as_u64().unwrap_or(0);
        let key = format!("{started:016}-{index_key}");
        let index_key = index_key.to_string();
        let job = move || {
            if let Err(e) =
                store.put_json_indexed(CALLS_TABLE, &key, &record, CALLS_BY_ID_TABLE, &index_key)
            {
                warn!(key, error = %e, "call record not stored");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(job);
            }
            Err(_) => job(),
        }
    }
}

/// The stored record of a call this log wrote.
fn record_json(id: &str, c: &LiveCall, outcome: &str, reason: &str, status: Option<u16>) -> Value {
    let ended = unix_now_ms();
    json!({
        "call_id": c.call_id,
        "id": id,
        "kind": c.kind,
        "caller": c.parties.caller,
        "callee": c.parties.callee,
        "did": c.parties.did,
        "user": c.parties.user,
        "started_unix_ms": c.started_unix_ms,
        "answered_unix_ms": c.answered_unix_ms,
        "ended_unix_ms": ended,
        "outcome": outcome,
        "status": status,
        "reason": reason,
        "recording": Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties(user: &str) -> Parties {
        Parties {
            caller: "1001".into(),
            callee: user.into(),
            did: String::new(),
            user: user.into(),
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome_of(true, Some(487)), "answered");
        assert_eq!(outcome_of(false, Some(487)), "unanswered");
        assert_eq!(outcome_of(false, Some(480)), "unanswered");
        assert_eq!(outcome_of(false, Some(486)), "refused");
        assert_eq!(outcome_of(false, Some(404)), "refused");
    }

    #[test]
    fn live_list_follows_the_calls() {
        let mut log = CallLog::new(None);
        let live = log.live();
        log.b2bua_started(7, "a@x", "user", parties("1002"));
        log.host_started("b@x", "ivr", parties("0462000000"));
        let l = live.list();
        assert_eq!(l.len(), 2);
        assert_eq!(
            l.iter().find(|c| c.call_id == "a@x").unwrap().state,
            "ringing"
        );
        log.answered(7);
        assert_eq!(
            live.list()
                .iter()
                .find(|c| c.call_id == "a@x")
                .unwrap()
                .state,
            "answered"
        );
        // A challenge is not an outcome; a busy answer is remembered for the record.
        log.final_status("a@x", 401, || parties("x"));
        log.final_status("a@x", 486, || parties("x"));
        log.b2bua_ended(7, "caller hung up", None);
        log.host_ended("b@x", "hangup");
        assert!(live.list().is_empty());
        // A transfer leg is listed apart from the IVR part of the same Call-ID.
        log.host_started("c@x", "ivr", parties("0462000000"));
        log.b2bua_started(8, "c@x", "queue", parties("1001"));
        assert_eq!(live.list().len(), 2);
    }
}
