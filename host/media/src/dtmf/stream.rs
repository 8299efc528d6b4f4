//! One digit stream per call from RFC 4733, SIP INFO and in-band detection.
//!
//! De-duplication policy (a phone may send the same key press as RFC 4733
//! AND leave the tones in the audio, or an SBC may add INFO):
//!
//! 1. Once an RFC 4733 digit has been accepted, in-band detections are
//!    ignored for the rest of the call: the phone is known to signal out of
//!    band, and in-band detection then only adds echo risk.
//! 2. A digit equal to the last accepted one, from a different source, whose
//!    key-down time is within [`CROSS_SOURCE_WINDOW`] of the accepted one's,
//!    is the same press seen twice and is dropped.
//!
//! Digits from one source are never merged with each other (that source's
//! own receiver already de-duplicates), so "55" pressed quickly stays "55".

use std::time::{Duration, Instant};

/// Key-down times closer than this, same digit, different source = one press.
pub const CROSS_SOURCE_WINDOW: Duration = Duration::from_millis(300);

/// Where a digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DigitSource {
    /// RFC 4733 telephone-event.
    Rfc4733,
    /// SIP INFO.
    SipInfo,
    /// Tones in the audio.
    Inband,
}

/// A de-duplicated digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DigitEvent {
    /// The key.
    pub digit: char,
    /// Key-down time relative to the stream start (call answer).
    pub at: Duration,
    /// Which source delivered it first.
    pub source: DigitSource,
}

/// Merges the three digit sources of one call leg.
#[derive(Debug, Clone)]
pub struct DigitStream {
    start: Instant,
    last: Option<(char, Instant, DigitSource)>,
    rfc4733_seen: bool,
    /// Digits dropped as cross-source duplicates or ignored in-band detections.
    pub suppressed: u64,
}

impl DigitStream {
    /// New stream; `start` is the reference for [`DigitEvent::at`].
    pub fn new(start: Instant) -> Self {
        DigitStream {
            start,
            last: None,
            rfc4733_seen: false,
            suppressed: 0,
        }
    }

    /// Offer a digit. `key_down` is the best estimate of when the key was
    /// pressed: [`super::ReceivedEvent::started`] for RFC 4733, detection
    /// time minus ~40 ms for in-band, arrival time for INFO.
    pub fn on_digit(
        &mut self,
        digit: char,
        source: DigitSource,
        key_down: Instant,
    ) -> Option<DigitEvent> {
        if source == DigitSource::Inband && self.rfc4733_seen {
            self.suppressed += 1;
            return None;
        }
        if let Some((d, t, s)) = self.last {
            let apart = if key_down > t {
                key_down - t
            } else {
                t - key_down
            };
            if d == digit && s != source && apart < CROSS_SOURCE_WINDOW {
                self.suppressed += 1;
                if source == DigitSource::Rfc4733 {
                    self.rfc4733_seen = true;
                }
                // The press now belongs to this source, so its next press of
                // the same key is not mistaken for a cross-source echo.
                self.last = Some((digit, key_down, source));
                return None;
            }
        }
        if source == DigitSource::Rfc4733 {
            self.rfc4733_seen = true;
        }
        self.last = Some((digit, key_down, source));
        Some(DigitEvent {
            digit,
            at: key_down.saturating_duration_since(self.start),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, m: u64) -> Instant {
        t0 + Duration::from_millis(m)
    }

    #[test]
    fn phone_sending_both_yields_single_digits() {
        let t0 = Instant::now();
        let mut s = DigitStream::new(t0);
        // Key '5' at 1000 ms: in-band sees it first, RFC 4733 reports at key-up with the same start.
        let a = s.on_digit('5', DigitSource::Inband, ms(t0, 1010)).unwrap();
        assert_eq!(
            (a.digit, a.at, a.source),
            ('5', Duration::from_millis(1010), DigitSource::Inband)
        );
        assert_eq!(s.on_digit('5', DigitSource::Rfc4733, ms(t0, 1000)), None);
        // From now on in-band is ignored entirely.
        assert_eq!(s.on_digit('5', DigitSource::Inband, ms(t0, 1300)), None);
        assert!(s
            .on_digit('5', DigitSource::Rfc4733, ms(t0, 1300))
            .is_some());
        assert_eq!(s.on_digit('7', DigitSource::Inband, ms(t0, 2000)), None);
        assert!(s
            .on_digit('7', DigitSource::Rfc4733, ms(t0, 2000))
            .is_some());
        assert_eq!(s.suppressed, 3);
    }

    #[test]
    fn same_source_repeats_and_distant_cross_source_are_kept() {
        let t0 = Instant::now();
        let mut s = DigitStream::new(t0);
        assert!(s.on_digit('1', DigitSource::Inband, ms(t0, 0)).is_some());
        assert!(s.on_digit('1', DigitSource::Inband, ms(t0, 150)).is_some());
        assert!(s.on_digit('1', DigitSource::SipInfo, ms(t0, 900)).is_some());
        assert_eq!(s.on_digit('1', DigitSource::Inband, ms(t0, 950)), None);
        assert!(s.on_digit('2', DigitSource::Inband, ms(t0, 1000)).is_some());
    }
}
