//! A recording in progress inside a leg task: places audio on the stereo
//! timeline by its instant and hands chunks to the writer thread without waiting.

use madoguchi_media::recording::{Channel, RecordingSummary, RecordingWriter, StereoMixer};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How often mixed audio moves to the writer. Every hand-over wakes the
/// writer thread (futex + write syscall); at 1,000 recorded calls 100 ms
/// cost ~10 % of a core, 500 ms a fifth of that. 250 ms keeps what a `kill -9`
/// can lose (this plus the latency margin) well under a second.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Largest distance between a relayed packet's timestamp-based position and its arrival before re-anchoring.
const MAX_SKEW: Duration = Duration::from_millis(200);

/// What `Leg::record` hands to the task.
#[derive(Debug)]
pub(crate) struct RecStart {
    pub id: u64,
    pub writer: RecordingWriter,
    pub start: Instant,
    pub done: oneshot::Sender<RecordingSummary>,
}

#[derive(Debug)]
pub(crate) struct RecState {
    pub id: u64,
    writer: RecordingWriter,
    mixer: StereoMixer,
    start: Instant,
    next_flush: Instant,
    latency: Duration,
    done: oneshot::Sender<RecordingSummary>,
    /// (incoming SSRC, RTP timestamp, instant) anchoring relayed audio on the timeline.
    relay_anchor: Option<(u32, u32, Instant)>,
}

fn samples_between(from: Instant, to: Instant) -> u64 {
    (to.saturating_duration_since(from).as_nanos() * 8000 / 1_000_000_000) as u64
}

impl RecState {
    pub fn new(s: RecStart, latency: Duration) -> Self {
        metrics::gauge!("madoguchi_recordings_active").increment(1.0);
        RecState {
            id: s.id,
            writer: s.writer,
            mixer: StereoMixer::new(10_000),
            start: s.start,
            next_flush: s.start + FLUSH_EVERY,
            latency,
            done: s.done,
            relay_anchor: None,
        }
    }

    /// Put `pcm`, whose first sample belongs to instant `at`, on `channel`.
    /// Audio from before the recording started is cut off.
    pub fn push(&mut self, channel: Channel, at: Instant, pcm: &[i16]) {
        if at >= self.start {
            self.mixer
                .push_at_sample(channel, samples_between(self.start, at), pcm);
        } else {
            let early = samples_between(at, self.start) as usize;
            if early < pcm.len() {
                self.mixer.push_at_sample(channel, 0, &pcm[early..]);
            }
        }
    }

    /// Instant of a relayed packet's first sample: its RTP timestamp measured
    /// from an anchor (so network jitter does not smear the audio), re-anchored
    /// on a new source or when it drifts from the arrival time.
    pub fn relay_instant(&mut self, ssrc: u32, ts: u32, arrived: Instant) -> Instant {
        if let Some((s, ts0, t0)) = self.relay_anchor {
            if s == ssrc {
                let d = ts.wrapping_sub(ts0) as i32 as i64;
                let off = Duration::from_nanos(d.unsigned_abs() * 125_000);
                let at = if d >= 0 {
                    Some(t0 + off)
                } else {
                    t0.checked_sub(off)
                };
                if let Some(at) = at {
                    let skew = if at > arrived {
                        at - arrived
                    } else {
                        arrived - at
                    };
                    if skew < MAX_SKEW {
                        return at;
                    }
                }
            }
        }
        self.relay_anchor = Some((ssrc, ts, arrived));
        arrived
    }

    pub fn next_flush(&self) -> Instant {
        self.next_flush
    }

    /// Move everything older than the latency margin to the writer (never blocks).
    pub fn flush(&mut self, now: Instant) {
        if now < self.next_flush {
            return;
        }
        self.next_flush = now + FLUSH_EVERY;
        let until = samples_between(self.start, now.checked_sub(self.latency).unwrap_or(now));
        if let Some(chunk) = self.mixer.take_until_sample(until) {
            self.writer.write(chunk);
        }
    }

    /// Finish on a blocking thread; the summary goes to the `Recording` handle
    /// (and an incomplete one raises an alarm in the log).
    pub fn finish(mut self, call_id: &str) {
        // Pad with silence up to the moment recording stops, so the file is as long as the
        // part of the call it covers even when nobody spoke at the end.
        let until = samples_between(self.start, Instant::now());
        if let Some(chunk) = self.mixer.take_until_sample(until) {
            self.writer.write(chunk);
        }
        if let Some(chunk) = self.mixer.finish() {
            self.writer.write(chunk);
        }
        let stats = self.mixer.stats();
        let call_id = call_id.to_owned();
        let (writer, done) = (self.writer, self.done);
        let job = move || {
            let summary = writer.finish();
            metrics::gauge!("madoguchi_recordings_active").decrement(1.0);
            metrics::counter!("madoguchi_recordings_total").increment(1);
            metrics::counter!("madoguchi_recording_bytes_total").increment(summary.bytes);
            if summary.complete {
                tracing::info!(call_id, file = %summary.file_name, ms = summary.duration_ms, "recording finished");
            } else {
                tracing::error!(call_id, file = %summary.file_name, problems = ?summary.problems,
                    late_samples = stats.late_samples, "ALARM: recording incomplete");
            }
            let _ = done.send(summary);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(job);
            }
            Err(_) => {
                std::thread::spawn(job);
            }
        }
    }
}
