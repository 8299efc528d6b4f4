//! The line-test number (`*97` by default, `[services] line_test`): the host answers, plays a
//! tone, beeps for every key it hears and logs the keys in order; the call is recorded like
//! any other. Staff and the help desk dial it to check a phone's audio and DTMF path
//! (R-OPS-4), and the tests use it to prove the media path of a call the host answers itself.

use std::f64::consts::PI;
use std::time::Duration;

use madoguchi_media::prompt::Prompt;
use madoguchi_rtp::{Leg, LegEvent, Recording};
use madoguchi_store::Store;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::host_call::{HostMsg, HostReq};
use super::media::{finish_recording, leg_stats, CallFacts};

/// The longest a line test may last before the host hangs up.
const MAX_DURATION: Duration = Duration::from_secs(600);

/// A sine tone as a prompt (8 kHz, about -14 dBFS).
pub fn tone(freq: f64, ms: u32) -> Prompt {
    let n = ms as usize * 8;
    Prompt::from_pcm(
        (0..n)
            .map(|i| (6000.0 * (2.0 * PI * freq * i as f64 / 8000.0).sin()) as i16)
            .collect(),
    )
}

/// Runs one line test until the caller hangs up, the line goes dead or time runs out; in the
/// last two cases it asks the engine (through `hangup`) to send BYE.
pub async fn run(
    call_id: String,
    mut leg: Leg,
    mut control: mpsc::Receiver<HostMsg>,
    hangup: mpsc::Sender<HostReq>,
    recording: Option<(Recording, u64, Store, CallFacts)>,
) {
    leg.play(vec![tone(440.0, 1000)], false);
    let mut digits = String::new();
    let deadline = tokio::time::sleep(MAX_DURATION);
    tokio::pin!(deadline);
    let hang_up = loop {
        tokio::select! {
            ev = leg.events().recv() => match ev {
                Some(LegEvent::Digit(d)) => {
                    digits.push(d.digit);
                    info!(call_id, digit = %d.digit, source = ?d.source, "line test: key");
                    leg.play(vec![tone(880.0, 150)], false);
                }
                Some(LegEvent::RtpTimeout) => {
                    warn!(call_id, "line test: no audio from the caller; hanging up");
                    break true;
                }
                Some(_) => {}
                None => break false,
            },
            msg = control.recv() => match msg {
                Some(HostMsg::Info { body, content_type }) => {
                    if let Err(e) = leg.dtmf_from_info(&body, &content_type) {
                        warn!(call_id, error = %e, "line test: unusable INFO");
                    }
                }
                Some(HostMsg::Stop) | None => break false,
                Some(_) => {}
            },
            _ = &mut deadline => break true,
        }
    };
    info!(call_id, digits = %digits, "line test finished");
    if hang_up {
        let _ = hangup
            .send(HostReq::Hangup {
                call_id: call_id.clone(),
            })
            .await;
    }
    if let Some((rec, started, store, facts)) = recording {
        let legs = vec![leg_stats(&leg).await];
        finish_recording(store, rec, started, &facts, legs).await;
    }
    leg.close().await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn tone_has_the_asked_length() {
        assert_eq!(super::tone(440.0, 1000).duration_ms(), 1000);
        assert_eq!(super::tone(880.0, 150).samples().len(), 1200);
    }
}
