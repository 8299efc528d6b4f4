//! The numbers a supervisor reads about a queue (R-OPS-5): a live snapshot and counters for
//! the current reporting period.

use serde::{Deserialize, Serialize};

use crate::command::MemberState;

/// How many members are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCounts {
    pub available: usize,
    pub ringing: usize,
    pub on_call: usize,
    pub wrap_up: usize,
    pub paused: usize,
    pub logged_out: usize,
}

impl MemberCounts {
    /// Counts one member in `state`.
    pub fn add(&mut self, state: &MemberState) {
        match state {
            MemberState::Available => self.available += 1,
            MemberState::Ringing => self.ringing += 1,
            MemberState::OnCall => self.on_call += 1,
            MemberState::WrapUp => self.wrap_up += 1,
            MemberState::Paused { .. } => self.paused += 1,
            MemberState::LoggedOut => self.logged_out += 1,
        }
    }
}

/// A queue right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    pub queue: String,
    /// Callers waiting (including those whose offer is ringing).
    pub waiting: usize,
    /// How long the longest-waiting caller has waited; 0 when nobody waits.
    pub longest_wait_ms: u64,
    pub counts: MemberCounts,
    /// Every member in configured order with its state.
    pub members: Vec<(String, MemberState)>,
}

/// Counters for one reporting period; the host decides the period (hour, day) and calls
/// [`PeriodStats::reset_period`] at its start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodStats {
    /// Callers that arrived at the queue (including those refused by join-empty).
    pub offered: u64,
    /// Callers connected to a member.
    pub answered: u64,
    /// Answered within the queue's `service_level_ms`.
    pub answered_within_sl: u64,
    /// Callers who hung up while waiting.
    pub abandoned: u64,
    /// Sum of how long abandoning callers had waited.
    pub abandon_wait_ms: u64,
    /// Callers sent to the fallback route (max wait, empty queue, queue removed).
    pub to_fallback: u64,
    /// Sum of answered callers' waits.
    pub total_wait_ms: u64,
    /// Queue calls that ended (talk time known).
    pub ended: u64,
    /// Sum of ended calls' talk time.
    pub total_talk_ms: u64,
    /// Offers a member missed (no answer or error).
    pub missed_offers: u64,
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl PeriodStats {
    /// Share of callers whose wait ended this period (answered, abandoned or sent to
    /// fallback) who were answered within the service level; `None` before any did.
    pub fn service_level(&self) -> Option<f64> {
        ratio(
            self.answered_within_sl,
            self.answered + self.abandoned + self.to_fallback,
        )
    }

    /// Average wait of answered callers, in ms.
    pub fn average_wait_ms(&self) -> Option<f64> {
        ratio(self.total_wait_ms, self.answered)
    }

    /// Average talk time of ended queue calls, in ms.
    pub fn average_talk_ms(&self) -> Option<f64> {
        ratio(self.total_talk_ms, self.ended)
    }

    /// Average wait before abandoning, in ms.
    pub fn average_abandon_wait_ms(&self) -> Option<f64> {
        ratio(self.abandon_wait_ms, self.abandoned)
    }

    /// Starts a new period: every counter back to zero.
    pub fn reset_period(&mut self) {
        *self = PeriodStats::default();
    }
}
