//! Digit collection for IVR menus and number entry ("enter your 4-digit
//! code, then #"), as a sans-IO state machine driven by digits and time.

use std::time::{Duration, Instant};

/// What to collect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectSpec {
    /// Complete after this many digits (0 = no limit: terminator or timeout only).
    pub max_digits: usize,
    /// Key that ends input early (usually `#`); not included in the result.
    pub terminator: Option<char>,
    /// How long to wait for the first key.
    pub first_digit_timeout: Duration,
    /// How long to wait for each following key.
    pub inter_digit_timeout: Duration,
}

/// Which timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TimeoutKind {
    /// No key at all.
    FirstDigit,
    /// Input stopped part-way.
    InterDigit,
}

/// Outcome of a collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CollectResult {
    /// `max_digits` reached or the terminator pressed.
    Complete(String),
    /// A timer expired; `digits` holds what was entered so far.
    Timeout {
        /// Digits collected before the timeout.
        digits: String,
        /// Which timer expired.
        kind: TimeoutKind,
    },
}

/// Collects digits per a [`CollectSpec`]. Feed digits with
/// [`DigitCollector::on_digit`], call [`DigitCollector::poll`] after every
/// digit and when [`DigitCollector::next_deadline`] passes.
#[derive(Debug, Clone)]
pub struct DigitCollector {
    spec: CollectSpec,
    digits: String,
    deadline: Instant,
    result: Option<CollectResult>,
    delivered: bool,
}

impl DigitCollector {
    /// Start collecting at `now` (the end of the prompt, usually).
    pub fn new(spec: CollectSpec, now: Instant) -> Self {
        let deadline = now + spec.first_digit_timeout;
        DigitCollector {
            spec,
            digits: String::new(),
            deadline,
            result: None,
            delivered: false,
        }
    }

    /// Digits so far.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// A key was pressed at `now`. Ignored once a result exists.
    pub fn on_digit(&mut self, digit: char, now: Instant) {
        if self.result.is_some() {
            return;
        }
        if Some(digit) == self.spec.terminator {
            self.deadline = now;
            self.result = Some(CollectResult::Complete(std::mem::take(&mut self.digits)));
            return;
        }
        self.digits.push(digit);
        if self.spec.max_digits != 0 && self.digits.len() >= self.spec.max_digits {
            self.deadline = now;
            self.result = Some(CollectResult::Complete(std::mem::take(&mut self.digits)));
        } else {
            self.deadline = now + self.spec.inter_digit_timeout;
        }
    }

    /// The result, once (later calls return `None`).
    pub fn poll(&mut self, now: Instant) -> Option<CollectResult> {
        if self.delivered {
            return None;
        }
        if self.result.is_none() && now >= self.deadline {
            let kind = if self.digits.is_empty() {
                TimeoutKind::FirstDigit
            } else {
                TimeoutKind::InterDigit
            };
            self.result = Some(CollectResult::Timeout {
                digits: std::mem::take(&mut self.digits),
                kind,
            });
        }
        let r = self.result.clone();
        self.delivered = r.is_some();
        r
    }

    /// When to call [`DigitCollector::poll`] next (`None` once finished).
    pub fn next_deadline(&self) -> Option<Instant> {
        // Once complete, `deadline` holds the completion time: poll at once.
        (!self.delivered).then_some(self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max: usize, term: Option<char>) -> CollectSpec {
        CollectSpec {
            max_digits: max,
            terminator: term,
            first_digit_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
        }
    }

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn completes_on_max_digits() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(spec(3, Some('#')), t0);
        for (i, d) in "123".chars().enumerate() {
            assert_eq!(c.poll(at(t0, i as u64 * 500)), None);
            c.on_digit(d, at(t0, i as u64 * 500 + 100));
        }
        assert_eq!(
            c.poll(at(t0, 1300)),
            Some(CollectResult::Complete("123".into()))
        );
        c.on_digit('4', at(t0, 1400));
        assert_eq!(c.poll(at(t0, 99_000)), None);
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn completes_on_terminator_without_it() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(spec(10, Some('#')), t0);
        c.on_digit('4', at(t0, 100));
        c.on_digit('2', at(t0, 200));
        c.on_digit('#', at(t0, 300));
        assert_eq!(c.next_deadline(), Some(at(t0, 300)));
        assert_eq!(
            c.poll(at(t0, 300)),
            Some(CollectResult::Complete("42".into()))
        );
    }

    #[test]
    fn first_digit_timeout_exactly_at_deadline() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(spec(4, None), t0);
        assert_eq!(c.next_deadline(), Some(at(t0, 5000)));
        assert_eq!(c.poll(at(t0, 4999)), None);
        assert_eq!(
            c.poll(at(t0, 5000)),
            Some(CollectResult::Timeout {
                digits: String::new(),
                kind: TimeoutKind::FirstDigit
            })
        );
        assert_eq!(c.poll(at(t0, 6000)), None);
    }

    #[test]
    fn inter_digit_timeout_restarts_on_each_digit() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(spec(0, Some('#')), t0);
        c.on_digit('9', at(t0, 4000)); // just inside the first-digit timeout
        assert_eq!(c.next_deadline(), Some(at(t0, 7000)));
        c.on_digit('8', at(t0, 6900));
        assert_eq!(c.poll(at(t0, 9899)), None);
        assert_eq!(
            c.poll(at(t0, 9900)),
            Some(CollectResult::Timeout {
                digits: "98".into(),
                kind: TimeoutKind::InterDigit
            })
        );
    }

    #[test]
    fn terminator_alone_is_an_empty_completion() {
        let t0 = Instant::now();
        let mut c = DigitCollector::new(spec(4, Some('#')), t0);
        c.on_digit('#', at(t0, 10));
        assert_eq!(
            c.poll(at(t0, 10)),
            Some(CollectResult::Complete(String::new()))
        );
    }
}
