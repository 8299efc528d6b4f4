//! Prompts (announcements, music on hold) and the per-call player that
//! turns a queue of them into one 20 ms frame per pacing tick.

use crate::resample;
use crate::wav::{self, PromptError, WavEncoding};
use std::collections::VecDeque;
use std::sync::Arc;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;

/// An announcement, decoded ONCE to 8 kHz mono 16-bit PCM when it is added
/// and shared between calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    samples: Arc<[i16]>,
    converted: bool,
}

impl Prompt {
    /// Decode a WAV file: 8 kHz mono PCM/A-law/μ-law is used as is; other
    /// rates and channel counts are converted here (see [`crate::resample`]).
    pub fn from_wav_bytes(bytes: &[u8]) -> Result<Prompt, PromptError> {
        let w = wav::read_wav(bytes)?;
        let mono = if w.channels == 1 {
            w.samples
        } else {
            resample::downmix(&w.samples, w.channels)
        };
        let converted = w.channels != 1
            || w.sample_rate != resample::TARGET_RATE
            || w.encoding == WavEncoding::Pcm8;
        let pcm = resample::to_8k(&mono, w.sample_rate);
        if pcm.is_empty() {
            return Err(PromptError::Empty);
        }
        Ok(Prompt {
            samples: pcm.into(),
            converted,
        })
    }

    /// Wrap 8 kHz mono samples (generated tones, tests).
    pub fn from_pcm(samples: Vec<i16>) -> Prompt {
        Prompt {
            samples: samples.into(),
            converted: false,
        }
    }

    /// 8 kHz samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// Length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 / 8
    }

    /// Whether the source needed conversion (rate, channels or 8-bit).
    pub fn was_converted(&self) -> bool {
        self.converted
    }
}

/// One entry in the play queue.
#[derive(Debug, Clone)]
pub struct PlayRequest {
    /// Caller-chosen id, echoed in events.
    pub id: u64,
    /// What to play.
    pub prompt: Prompt,
    /// Barge-in: a key press stops this prompt.
    pub stop_on_digit: bool,
    /// Repeat until stopped (music on hold).
    pub looped: bool,
}

/// What the player reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerEvent {
    /// Played to the end.
    Finished(u64),
    /// Stopped by a key press (barge-in).
    Interrupted(u64),
    /// Removed by [`PromptPlayer::stop`] or [`PromptPlayer::play_now`].
    Stopped(u64),
}

/// What to send while nothing is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleFill {
    /// Digital silence.
    Silence,
    /// Low-level white noise of this peak amplitude (keeps phones and SBCs
    /// that treat silence as a dead line happy).
    ComfortNoise(i16),
}

/// Per-call prompt queue producing 160-sample frames.
#[derive(Debug)]
pub struct PromptPlayer {
    queue: VecDeque<PlayRequest>,
    pos: usize,
    idle: IdleFill,
    events: VecDeque<PlayerEvent>,
    noise: u32,
}

impl PromptPlayer {
    /// Empty player.
    pub fn new(idle: IdleFill) -> Self {
        PromptPlayer {
            queue: VecDeque::new(),
            pos: 0,
            idle,
            events: VecDeque::new(),
            noise: 0x1234_5678,
        }
    }

    /// Append to the queue.
    pub fn enqueue(&mut self, req: PlayRequest) {
        self.queue.push_back(req);
    }

    /// Replace everything queued (reported as `Stopped`) with `req`.
    pub fn play_now(&mut self, req: PlayRequest) {
        self.stop();
        self.queue.push_back(req);
    }

    /// Stop and clear everything.
    pub fn stop(&mut self) {
        for r in self.queue.drain(..) {
            self.events.push_back(PlayerEvent::Stopped(r.id));
        }
        self.pos = 0;
    }

    /// True when nothing is queued.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// A key was pressed: stop the current prompt and every queued one if
    /// the current one allows barge-in. Returns whether anything stopped.
    pub fn on_digit(&mut self) -> bool {
        if !self.queue.front().is_some_and(|r| r.stop_on_digit) {
            return false;
        }
        let mut kept = VecDeque::new();
        for r in self.queue.drain(..) {
            if r.stop_on_digit {
                self.events.push_back(PlayerEvent::Interrupted(r.id));
            } else {
                kept.push_back(r);
            }
        }
        self.queue = kept;
        self.pos = 0;
        true
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<PlayerEvent> {
        self.events.pop_front()
    }

    fn fill_idle(&mut self, out: &mut [i16]) {
        match self.idle {
            IdleFill::Silence => out.fill(0),
            IdleFill::ComfortNoise(level) => {
                let span = level.max(0) as u32 * 2 + 1;
                for s in out {
                    self.noise ^= self.noise << 13;
                    self.noise ^= self.noise >> 17;
                    self.noise ^= self.noise << 5;
                    *s = (self.noise % span) as i16 - level.max(0);
                }
            }
        }
    }

    /// Produce the next 20 ms frame. Prompts follow each other without a gap.
    /// Returns true if any prompt audio is in the frame.
    pub fn next_frame(&mut self, out: &mut [i16; FRAME]) -> bool {
        self.fill(out)
    }

    /// Fill `out` with the next `out.len()` samples (e.g. 240 for a
    /// negotiated ptime of 30 ms). Returns true if any prompt audio is in it.
    pub fn fill(&mut self, out: &mut [i16]) -> bool {
        let len = out.len();
        let mut filled = 0;
        let mut any = false;
        while filled < len {
            let Some(cur) = self.queue.front() else {
                let rest = &mut out[filled..];
                self.fill_idle(rest);
                break;
            };
            let src = cur.prompt.samples();
            let n = (src.len() - self.pos.min(src.len())).min(len - filled);
            out[filled..filled + n].copy_from_slice(&src[self.pos..self.pos + n]);
            filled += n;
            self.pos += n;
            any |= n > 0;
            if self.pos >= src.len() {
                self.pos = 0;
                if !cur.looped || src.is_empty() {
                    let id = cur.id;
                    self.queue.pop_front();
                    self.events.push_back(PlayerEvent::Finished(id));
                }
            }
        }
        any
    }

    /// Advance as if `n` frames had been played (pacer skipped them).
    pub fn skip_frames(&mut self, n: u64) {
        let mut scratch = [0i16; FRAME];
        for _ in 0..n.min(50 * 60) {
            self.next_frame(&mut scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: u64, len: usize, value: i16, barge: bool) -> PlayRequest {
        PlayRequest {
            id,
            prompt: Prompt::from_pcm(vec![value; len]),
            stop_on_digit: barge,
            looped: false,
        }
    }

    fn events(p: &mut PromptPlayer) -> Vec<PlayerEvent> {
        std::iter::from_fn(|| p.poll_event()).collect()
    }

    #[test]
    fn queue_plays_gapless_then_idles_with_comfort_noise() {
        let mut p = PromptPlayer::new(IdleFill::ComfortNoise(3));
        p.enqueue(req(1, 200, 100, false));
        p.enqueue(req(2, 100, 200, false));
        let mut f = [0i16; FRAME];
        assert!(p.next_frame(&mut f));
        assert!(f.iter().all(|&s| s == 100));
        assert!(p.next_frame(&mut f));
        assert!(f[..40].iter().all(|&s| s == 100) && f[40..140].iter().all(|&s| s == 200));
        assert!(f[140..].iter().all(|&s| s.abs() <= 3));
        assert_eq!(
            events(&mut p),
            [PlayerEvent::Finished(1), PlayerEvent::Finished(2)]
        );
        assert!(!p.next_frame(&mut f));
        assert!(f.iter().all(|&s| s.abs() <= 3) && f.iter().any(|&s| s != 0));
        let mut quiet = PromptPlayer::new(IdleFill::Silence);
        quiet.next_frame(&mut f);
        assert_eq!(f, [0; FRAME]);
    }

    #[test]
    fn barge_in_stops_only_interruptible_prompts() {
        let mut p = PromptPlayer::new(IdleFill::Silence);
        p.enqueue(req(1, 8000, 1, true));
        p.enqueue(req(2, 8000, 2, true));
        p.enqueue(req(3, 160, 3, false));
        let mut f = [0i16; FRAME];
        p.next_frame(&mut f);
        assert!(p.on_digit());
        assert_eq!(
            events(&mut p),
            [PlayerEvent::Interrupted(1), PlayerEvent::Interrupted(2)]
        );
        p.next_frame(&mut f);
        assert!(f.iter().all(|&s| s == 3));
        // Non-interruptible prompt ignores keys.
        p.enqueue(req(4, 8000, 4, false));
        assert!(!p.on_digit());
        p.next_frame(&mut f);
        assert_eq!(f[0], 4);
    }

    #[test]
    fn other_ptimes_fill_any_length() {
        let mut p = PromptPlayer::new(IdleFill::Silence);
        p.enqueue(req(1, 300, 5, false));
        let mut f30 = [0i16; 240];
        assert!(p.fill(&mut f30));
        assert!(f30.iter().all(|&s| s == 5));
        assert!(p.fill(&mut f30));
        assert!(f30[..60].iter().all(|&s| s == 5) && f30[60..].iter().all(|&s| s == 0));
        assert_eq!(p.poll_event(), Some(PlayerEvent::Finished(1)));
    }

    #[test]
    fn music_on_hold_loops_until_stopped() {
        let mut p = PromptPlayer::new(IdleFill::Silence);
        p.enqueue(PlayRequest {
            id: 9,
            prompt: Prompt::from_pcm((0..100).collect()),
            stop_on_digit: false,
            looped: true,
        });
        let mut f = [0i16; FRAME];
        p.next_frame(&mut f);
        assert_eq!(f[99], 99);
        assert_eq!(f[100], 0);
        assert_eq!(f[159], 59);
        p.skip_frames(1000);
        assert!(p.poll_event().is_none());
        p.stop();
        assert_eq!(events(&mut p), [PlayerEvent::Stopped(9)]);
        assert!(p.is_idle());
    }

    #[test]
    fn from_wav_converts_once_and_reports_reasons() {
        let stereo_44k: Vec<i16> = (0..44_100 * 2)
            .map(|i| if i % 2 == 0 { 1000 } else { 3000 })
            .collect();
        let p = Prompt::from_wav_bytes(&crate::wav::pcm16_file(2, 44_100, &stereo_44k)).unwrap();
        assert!(p.was_converted());
        assert!((p.duration_ms() as i64 - 1000).abs() <= 1);
        assert!(p.samples()[500..7500]
            .iter()
            .all(|&s| (s - 2000).abs() <= 2));
        let native = Prompt::from_wav_bytes(&crate::wav::pcm16_file(1, 8000, &[1; 800])).unwrap();
        assert!(!native.was_converted());
        assert_eq!(
            Prompt::from_wav_bytes(b"hello").unwrap_err(),
            PromptError::NotRiff
        );
    }
}
