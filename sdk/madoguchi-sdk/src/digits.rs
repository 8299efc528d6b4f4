//! DTMF digits and collection specs.

use alloc::vec::Vec;

use crate::types::{CollectSpec, Prompt};

/// Is `c` a DTMF key (`0-9`, `*`, `#`)?
pub fn is_key(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

/// Is `s` made of DTMF keys only (and not empty)?
pub fn is_keys(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_key)
}

/// Builder for a `collect` action. Defaults: 1 digit, 5 s for the first,
/// 3 s between digits, no terminator, no prompts.
#[derive(Debug, Clone)]
pub struct Collect(pub CollectSpec);

impl Collect {
    /// Collect up to `max` digits (at least one).
    pub fn digits(max: u8) -> Self {
        Collect(CollectSpec {
            prompts: Vec::new(),
            min_digits: 1,
            max_digits: max.max(1),
            terminator: None,
            first_digit_timeout_ms: 5000,
            inter_digit_timeout_ms: 3000,
        })
    }
    pub fn min(mut self, n: u8) -> Self {
        self.0.min_digits = n;
        self
    }
    /// A key that ends input early (not included in the digits), usually `#`.
    pub fn terminator(mut self, key: char) -> Self {
        self.0.terminator = Some(key);
        self
    }
    pub fn first_digit_timeout_ms(mut self, ms: u32) -> Self {
        self.0.first_digit_timeout_ms = ms;
        self
    }
    pub fn inter_digit_timeout_ms(mut self, ms: u32) -> Self {
        self.0.inter_digit_timeout_ms = ms;
        self
    }
    /// Prompts played while waiting (a key press interrupts them).
    pub fn prompts(mut self, prompts: Vec<Prompt>) -> Self {
        self.0.prompts = prompts;
        self
    }
}
