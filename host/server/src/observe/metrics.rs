//! The server's metrics, rendered for `GET /metrics` in the Prometheus text format.
//!
//! Any code records through the `metrics` facade (`metrics::counter!(…).increment(1)`,
//! `gauge!`, `histogram!`); without an installed recorder (unit tests) that is a no-op.
//! [`install`] sets the one recorder of the process (`metrics-exporter-prometheus`, without
//! its own HTTP listener: axum serves the text). Every metric gets its HELP text in
//! [`describe`]: add one line there with each new metric (the promtool test fails on a
//! metric without HELP). Names: `madoguchi_` prefix, counters end in `_total`, units in the
//! name, labels of low cardinality only (never a Call-ID or a phone number).
//!
//! Values that belong to state owned elsewhere (free disk, queues) are read at scrape time
//! by [`Scrape`] hooks.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// A function run before each render, to set gauges from state owned elsewhere.
pub type Scrape = Box<dyn Fn() + Send + Sync>;

static SCRAPES: OnceLock<Mutex<Vec<Scrape>>> = OnceLock::new();

/// Seconds buckets for latencies (store writes, plugin calls): 0.5 ms to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder (a test harness's) may already be installed: then ours
            // still renders what is recorded through `handle` users… which is nothing, so
            // say so in the log rather than failing the server.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            describe();
            handle
        })
        .clone()
}

/// Adds a hook run before every render.
pub fn on_scrape(f: Scrape) {
    SCRAPES
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(f);
}

/// The text for `GET /metrics`.
pub fn render() -> String {
    if let Some(hooks) = SCRAPES.get() {
        for f in hooks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            f();
        }
    }
    install().render()
}

/// A limit acted (a call refused, a flood dropped, …): `limit` names which, e.g.
/// `"calls_per_source"`. For the limits helper (i14) and anyone else.
pub fn limit_acted(limit: &'static str) {
    metrics::counter!("madoguchi_limits_acted_total", "limit" => limit).increment(1);
}

/// The HELP text of every metric. One line per metric; keep them sorted by area.
fn describe() {
    // Calls.
    describe_gauge!(
        "madoguchi_calls_active",
        "Calls in progress (B2BUA and host-answered)"
    );
    describe_counter!(
        "madoguchi_calls_total",
        "Calls ended, by kind (user, ivr, line_test, feature, transfer) and outcome (answered, unanswered, refused, failed)"
    );
    describe_gauge!(
        "madoguchi_registrations",
        "Registered devices (live bindings)"
    );
    describe_gauge!(
        "madoguchi_registered_users",
        "Users with at least one live binding"
    );
    // SIP.
    describe_counter!(
        "madoguchi_sip_requests_total",
        "SIP requests by direction (in, out) and method"
    );
    describe_counter!(
        "madoguchi_sip_responses_total",
        "SIP responses by direction (in, out), CSeq method and class (1xx..6xx)"
    );
    describe_counter!(
        "madoguchi_sip_rejected_total",
        "Inbound SIP messages that could not be parsed or validated"
    );
    describe_gauge!(
        "madoguchi_sip_trace_bytes",
        Unit::Bytes,
        "Memory held by the per-call SIP traces"
    );
    describe_gauge!(
        "madoguchi_sip_transactions",
        "SIP transactions alive in the transaction layer"
    );
    describe_counter!(
        "madoguchi_sip_auth_challenges_unanswered_total",
        "Digest challenges no request with credentials followed within 10 s"
    );
    // Media.
    describe_gauge!(
        "madoguchi_rtp_legs",
        "RTP legs open (two per anchored call)"
    );
    describe_counter!(
        "madoguchi_rtp_packets_received_total",
        "RTP packets received on finished legs"
    );
    describe_counter!(
        "madoguchi_rtp_packets_lost_total",
        "RTP packets lost (sequence gaps) on finished legs"
    );
    describe_histogram!(
        "madoguchi_rtp_jitter_seconds",
        Unit::Seconds,
        "Interarrival jitter (RFC 3550) of each finished leg"
    );
    describe_gauge!("madoguchi_recordings_active", "Recordings being written");
    describe_counter!(
        "madoguchi_recording_bytes_total",
        Unit::Bytes,
        "Bytes of finished recordings"
    );
    describe_counter!("madoguchi_recordings_total", "Recordings finished");
    describe_gauge!(
        "madoguchi_recordings_disk_free_bytes",
        Unit::Bytes,
        "Free space (for unprivileged users) on the recordings' file system"
    );
    // Plugins.
    describe_counter!(
        "madoguchi_plugin_calls_total",
        "Plugin node steps run, by outcome (ok, error, deadline, trap)"
    );
    describe_counter!(
        "madoguchi_plugin_deadline_kills_total",
        "Plugin calls stopped at their deadline"
    );
    // Queues.
    describe_gauge!("madoguchi_queue_waiting", "Callers waiting, per queue");
    describe_gauge!(
        "madoguchi_queue_longest_wait_seconds",
        Unit::Seconds,
        "How long the longest-waiting caller has waited, per queue"
    );
    // Store.
    describe_histogram!(
        "madoguchi_store_write_seconds",
        Unit::Seconds,
        "Time of one write transaction on the embedded store (commit included)"
    );
    // Limits, trunks (their owners record them).
    describe_counter!(
        "madoguchi_limits_acted_total",
        "Times a limit refused or dropped something, per limit"
    );
    describe_gauge!(
        "madoguchi_trunk_up",
        "1 when the trunk is up (registered or reachable), per trunk"
    );
    describe_counter!(
        "madoguchi_trunk_calls_total",
        "Calls through a trunk, by trunk, direction and outcome"
    );
    // Process.
    describe_gauge!("madoguchi_up", "1 while the server runs");
    describe_gauge!("madoguchi_ready", "1 when /ready answers 200");
}

/// Sets `madoguchi_recordings_disk_free_bytes` from `dir` at each scrape.
pub fn watch_disk(dir: PathBuf) {
    on_scrape(Box::new(move || {
        if let Some(free) = free_bytes(&dir) {
            gauge!("madoguchi_recordings_disk_free_bytes").set(free as f64);
        }
    }));
}

/// Free bytes for unprivileged users on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_of_a_real_directory() {
        let d = tempfile::tempdir().unwrap();
        assert!(free_bytes(d.path()).unwrap() > 0);
        assert_eq!(free_bytes(&d.path().join("missing")), None);
    }

    #[test]
    fn rendered_text_has_help_and_type_for_recorded_metrics() {
        install();
        metrics::counter!("madoguchi_sip_requests_total", "dir" => "in", "method" => "OPTIONS")
            .increment(2);
        limit_acted("test_limit");
        let text = render();
        assert!(
            text.contains("# HELP madoguchi_sip_requests_total"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE madoguchi_sip_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains("madoguchi_limits_acted_total{limit=\"test_limit\"} 1"),
            "{text}"
        );
    }
}
