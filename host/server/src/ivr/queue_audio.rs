//! What a caller waiting in a queue hears: hold music, and the waiting announcement with the
//! position ("あなたは2番目にお待ちいただいております") and the expected wait. The
//! announcements are the host's own (`assets/queue/`, rendered by
//! `assets/make-queue-prompts` from `assets/queue-prompts.tsv`).

use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::OnceLock;

use madoguchi_media::prompt::Prompt as Audio;

macro_rules! assets {
    ($($id:literal),* $(,)?) => {
        &[$(($id, include_bytes!(concat!("../../assets/queue/", $id, ".wav")) as &[u8])),*]
    };
}

const ASSETS: &[(&str, &[u8])] = assets![
    "queue-wait",
    "queue-position-1",
    "queue-position-2",
    "queue-position-3",
    "queue-position-4",
    "queue-position-5",
    "queue-position-6",
    "queue-position-7",
    "queue-position-8",
    "queue-position-9",
    "queue-expected-1",
    "queue-expected-2",
    "queue-expected-3",
    "queue-expected-4",
    "queue-expected-5",
    "queue-expected-6",
    "queue-expected-7",
    "queue-expected-8",
    "queue-expected-9",
    "queue-expected-10",
];

fn decoded() -> &'static HashMap<&'static str, Audio> {
    static AUDIO: OnceLock<HashMap<&'static str, Audio>> = OnceLock::new();
    AUDIO.get_or_init(|| {
        ASSETS
            .iter()
            .filter_map(|(id, bytes)| Some((*id, Audio::from_wav_bytes(bytes).ok()?)))
            .collect()
    })
}

/// The waiting announcement: "busy, please wait", the position when known (1–9), the
/// expected wait in whole minutes when known (1–10). Returns the audio and the ids played.
pub fn announcement(
    position: Option<usize>,
    expected_wait_ms: Option<u64>,
) -> (Vec<Audio>, Vec<String>) {
    let mut ids = vec!["queue-wait".to_string()];
    if let Some(p) = position.filter(|p| (1..=9).contains(p)) {
        ids.push(format!("queue-position-{p}"));
    }
    if let Some(ms) = expected_wait_ms {
        let minutes = ms.div_ceil(60_000).clamp(1, 10);
        ids.push(format!("queue-expected-{minutes}"));
    }
    let audio = ids
        .iter()
        .filter_map(|id| decoded().get(id.as_str()).cloned())
        .collect();
    (audio, ids)
}

/// Hold music: a quiet, slow four-note chime (C E G E), synthesised (no licensed audio).
pub fn hold_music() -> Audio {
    static MUSIC: OnceLock<Audio> = OnceLock::new();
    MUSIC
        .get_or_init(|| {
            let notes = [523.25, 659.25, 783.99, 659.25];
            let mut pcm = Vec::new();
            for f in notes {
                let n = 8000 * 6 / 10;
                for i in 0..n {
                    let t = i as f64 / 8000.0;
                    let env = (1.0 - i as f64 / n as f64).powi(2);
                    pcm.push((3000.0 * env * (2.0 * PI * f * t).sin()) as i16);
                }
                pcm.extend(std::iter::repeat_n(0, 8000 / 5));
            }
            pcm.extend(std::iter::repeat_n(0, 8000));
            Audio::from_pcm(pcm)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_announcement_decodes() {
        assert_eq!(decoded().len(), ASSETS.len());
    }

    #[test]
    fn the_announcement_says_position_and_minutes() {
        let (audio, ids) = announcement(Some(2), Some(90_000));
        assert_eq!(ids, ["queue-wait", "queue-position-2", "queue-expected-2"]);
        assert_eq!(audio.len(), 3);
        let (_, ids) = announcement(Some(12), None);
        assert_eq!(ids, ["queue-wait"]);
    }
}
