//! Media of the calls the B2BUA bridges: two host legs per call (caller side, device side),
//! bridged once a device answers and recorded as a stereo WAV (caller left, the other side
//! right, R-REC-1). Teardown and the recording's final write run in their own task, so the
//! SIP loop never waits on disk.

use std::collections::HashMap;

use madoguchi_media::recording::RecordingError;
use madoguchi_rtp::{bridge, Bridge, Leg, MediaError, MediaRuntime, Recording};
use madoguchi_store::Store;
use serde::Serialize;
use tracing::{info, warn};

use super::b2bua::Side;
use super::unix_now;

/// The store table holding one [`RecordingMeta`] per recording, keyed by file name.
pub const RECORDINGS_TABLE: &str = "media.recordings";

/// What is kept about a finished recording (R-REC-1, R-REC-3).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct RecordingMeta {
    pub file_name: String,
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    /// The number dialled (the DID for calls from the network).
    #[serde(default)]
    pub did: String,
    pub started_unix: u64,
    pub ended_unix: u64,
    pub duration_ms: u64,
    pub bytes: u64,
    pub sha256: String,
    /// False when audio was lost (disk full, queue overflow) or the file was repaired after
    /// a crash.
    pub complete: bool,
    pub problems: Vec<String>,
    /// RTP statistics of the call's legs at the end (loss, jitter, drops, pacing).
    #[serde(default)]
    pub legs: Vec<serde_json::Value>,
}

/// Who and what a recorded call is about.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    pub did: String,
}

/// One anchored call's media.
pub struct CallMedia {
    pub facts: CallFacts,
    pub caller: Leg,
    pub device: Leg,
    pub bridge: Option<Bridge>,
    pub recording: Option<(Recording, u64)>,
}

impl CallMedia {
    /// Reads what the legs reported since the last look (so their queues never fill) and
    /// says whether a browser (WebRTC) leg has gone silent past its RTP timeout: a browser
    /// that vanished (tab closed, network gone) ends the call instead of holding it open.
    pub fn browser_gone(&mut self) -> bool {
        let mut gone = false;
        for leg in [&mut self.caller, &mut self.device] {
            let webrtc = leg.is_webrtc();
            for _ in 0..256 {
                match leg.events().try_recv() {
                    Ok(madoguchi_rtp::LegEvent::RtpTimeout) if webrtc => gone = true,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        gone
    }
}

/// The anchored calls, by B2BUA call id.
pub struct MediaCalls {
    pub runtime: MediaRuntime,
    pub calls: HashMap<u64, CallMedia>,
    store: Store,
    /// Which calls must use SDES-SRTP.
    pub srtp: super::srtp_rules::SrtpRules,
}

impl MediaCalls {
    /// Takes over the runtime; recordings that the runtime repaired at start-up (left
    /// unfinished by a crash) get their call record completed and marked incomplete.
    pub fn new(runtime: MediaRuntime, store: Store) -> MediaCalls {
        for r in runtime.repaired() {
            let mut meta = store
                .get_json::<RecordingMeta>(RECORDINGS_TABLE, &r.file_name)
                .ok()
                .flatten()
                .unwrap_or_else(|| RecordingMeta {
                    file_name: r.file_name.clone(),
                    ..RecordingMeta::default()
                });
            meta.duration_ms = r.duration_ms;
            meta.bytes = r.bytes;
            meta.sha256 = r.sha256.clone();
            meta.complete = false;
            meta.ended_unix = meta.started_unix + r.duration_ms / 1000;
            meta.problems = vec!["repaired after an unclean stop".into()];
            meta.problems.extend(r.problems.iter().cloned());
            if let Err(e) = store.put_json(RECORDINGS_TABLE, &r.file_name, &meta) {
                warn!(file = %r.file_name, error = %e, "cannot mark the repaired recording in its call record");
            } else if let Err(e) = crate::recordings::index_recording(&store, &meta) {
                warn!(file = %r.file_name, error = %e, "repaired recording not indexed");
            }
        }
        MediaCalls {
            runtime,
            calls: HashMap::new(),
            store,
            srtp: Default::default(),
        }
    }

    /// The device answered: take its SDP answer and bridge the two legs.
    pub fn answered(&mut self, call: u64, device_sdp: &[u8]) {
        let Some(cm) = self.calls.get_mut(&call) else {
            return;
        };
        if let Err(e) = cm.device.accept_answer(device_sdp) {
            warn!(call, error = %e, "device answer SDP not usable");
        }
        match bridge(&cm.caller, &cm.device) {
            Ok(b) => cm.bridge = Some(b),
            Err(e) => warn!(call, error = %e, "cannot bridge"),
        }
    }

    /// Starts recording the caller's leg (left: caller, right: what the caller hears).
    pub async fn start_recording(&mut self, call: u64) {
        let rec = {
            let Some(cm) = self.calls.get(&call) else {
                return;
            };
            begin_recording(&self.store, &cm.caller, &cm.facts).await
        };
        if let Some(cm) = self.calls.get_mut(&call) {
            cm.recording = rec;
        }
    }

    /// The store, for other host-answered calls that record.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// The host's answer to a re-offer (hold/resume) on one side.
    pub fn reoffer(&mut self, call: u64, side: Side, sdp: &[u8]) -> Result<String, ()> {
        let cm = self.calls.get_mut(&call).ok_or(())?;
        let leg = match side {
            Side::A => &cm.caller,
            Side::B => &cm.device,
        };
        leg.update_remote(sdp)
            .map_err(|e| warn!(call, error = %e, "re-offer refused"))
    }

    /// The call is over: unbridge, finish the recording, store its metadata, close legs.
    pub fn ended(&mut self, call: u64) {
        let Some(cm) = self.calls.remove(&call) else {
            return;
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            drop(cm.bridge);
            if let Some((rec, started)) = cm.recording {
                let legs = vec![leg_stats(&cm.caller).await, leg_stats(&cm.device).await];
                finish_recording(store, rec, started, &cm.facts, legs).await;
            }
            cm.caller.close().await;
            cm.device.close().await;
        });
    }
}

/// Stops a recording and completes its call record in the store.
pub async fn finish_recording(
    store: Store,
    rec: Recording,
    started: u64,
    facts: &CallFacts,
    legs: Vec<serde_json::Value>,
) {
    let call_id = facts.call_id.as_str();
    match rec.stop().await {
        Ok(sum) => {
            let meta = RecordingMeta {
                file_name: sum.file_name.clone(),
                call_id: facts.call_id.clone(),
                caller: facts.caller.clone(),
                callee: facts.callee.clone(),
                did: facts.did.clone(),
                legs,
                started_unix: started,
                ended_unix: unix_now(),
                duration_ms: sum.duration_ms,
                bytes: sum.bytes,
                sha256: sum.sha256.clone(),
                complete: sum.complete,
                problems: sum.problems.clone(),
            };
            info!(call_id, file = %sum.file_name, bytes = sum.bytes, duration_ms = sum.duration_ms, complete = sum.complete, "recording finished");
            let key = meta.file_name.clone();
            let res = tokio::task::spawn_blocking(move || {
                store.put_json(RECORDINGS_TABLE, &key, &meta)?;
                // The search index (a failure here is repaired by the next start's re-index).
                if let Err(e) = crate::recordings::index_recording(&store, &meta) {
                    warn!(file = %key, error = %e, "recording not indexed yet");
                }
                Ok::<_, madoguchi_store::StoreError>(())
            })
            .await;
            if matches!(res, Ok(Ok(()))) {
                info!(call_id, "recording metadata stored");
            } else {
                warn!(call_id, "recording metadata not stored");
            }
        }
        Err(e) => warn!(call_id, error = %e, "recording did not finish cleanly"),
    }
}

/// Starts recording `leg` as `NAME.wav` and writes the call record's first version (so a
/// crash leaves it pointing at the repairable file). `None` if recording could not start;
/// the call goes on.
pub async fn begin_recording(
    store: &Store,
    leg: &Leg,
    facts: &CallFacts,
) -> Option<(Recording, u64)> {
    let call_id = facts.call_id.as_str();
    let started = unix_now();
    let base = format!("{started}-{}", sanitize(call_id));
    // A second recording of the call within the same second (stopped and started again)
    // takes the next free suffix: a recording is never overwritten.
    let mut attempt = 1;
    let (name, result) = loop {
        let name = match attempt {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        };
        match leg.record(&name).await {
            Err(MediaError::Recording(RecordingError::Exists(_))) if attempt < 10 => attempt += 1,
            result => break (name, result),
        }
    };
    match result {
        Ok(rec) => {
            info!(call_id, file = %name, "recording");
            let meta = RecordingMeta {
                file_name: format!("{name}.wav"),
                call_id: facts.call_id.clone(),
                caller: facts.caller.clone(),
                callee: facts.callee.clone(),
                did: facts.did.clone(),
                started_unix: started,
                problems: vec!["in progress".into()],
                ..RecordingMeta::default()
            };
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store.put_json(RECORDINGS_TABLE, &meta.file_name.clone(), &meta)
            });
            Some((rec, started))
        }
        Err(e) => {
            // Never silently unrecorded (R-REC-1): an alarm in the log, a counter, and a call
            // record that says so (key `unrecorded/…`, no file).
            let n = UNRECORDED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            tracing::error!(call_id, error = %e, unrecorded_calls = n, "ALARM: recording could not start; the call goes on UNRECORDED");
            let meta = RecordingMeta {
                file_name: String::new(),
                call_id: facts.call_id.clone(),
                caller: facts.caller.clone(),
                callee: facts.callee.clone(),
                did: facts.did.clone(),
                started_unix: started,
                ended_unix: started,
                complete: false,
                problems: vec![format!(
                    "recording could not start ({e}); the call went on unrecorded"
                )],
                ..RecordingMeta::default()
            };
            let store = store.clone();
            let key = format!("unrecorded/{base}");
            tokio::task::spawn_blocking(move || store.put_json(RECORDINGS_TABLE, &key, &meta));
            None
        }
    }
}

/// Calls whose recording could not start since the process began (for /metrics).
pub static UNRECORDED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A leg's RTP statistics as JSON for the call record (null if the leg is gone).
pub async fn leg_stats(leg: &Leg) -> serde_json::Value {
    match leg.stats().await {
        Ok(s) => serde_json::to_value(&s).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    }
}

/// File-name-safe form of a Call-ID.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitize_keeps_names_safe() {
        assert_eq!(super::sanitize("a1@b/../c d"), "a1_b_.._c_d");
    }
}
