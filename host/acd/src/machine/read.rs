//! Reading the queues: member states, positions, live snapshots, period counters and the
//! expected wait.

use std::time::Instant;

use super::{ms_since, Acd};
use crate::command::{CallerId, MemberState};
use crate::config::QueueConfig;
use crate::member::{Member, Presence};
use crate::stats::{MemberCounts, PeriodStats, QueueSnapshot};

impl Acd {
    /// A member's state (`None` for a user in no queue and on no call).
    pub fn member_state(&self, member: &str) -> Option<MemberState> {
        self.members.get(member).map(Member::state)
    }

    /// Log-in and pause of every member of some queue, in name order: what a host keeps
    /// across restarts (calls are not kept: they end with the process).
    pub fn presences(&self) -> impl Iterator<Item = (&str, Presence)> {
        self.members
            .iter()
            .filter(|(name, _)| self.in_any_queue(name))
            .map(|(name, m)| (name.as_str(), m.presence()))
    }

    /// A counter that changes whenever some member's [`Presence`] may have changed.
    pub fn presence_changes(&self) -> u64 {
        self.presence_changes
    }

    /// Restores a member's log-in and pause (at start, from what was kept).
    pub fn restore_presence(
        &mut self,
        member: &str,
        presence: &Presence,
        now: Instant,
    ) -> Result<(), crate::AcdError> {
        match presence {
            Presence::In => {
                self.member_login(member, now)?;
                self.member_unpause(member, now)
            }
            Presence::Paused { reason } => {
                self.member_login(member, now)?;
                self.member_pause(member, reason, now)
            }
            Presence::Out => self.member_logout(member, now),
        }
    }

    /// The caller's place in its queue (1 = next), while waiting.
    pub fn position(&self, caller: &CallerId) -> Option<usize> {
        let w = self.waiters.get(caller)?;
        let q = self.queues.get(&w.queue)?;
        q.waiting.iter().position(|c| c == caller).map(|i| i + 1)
    }

    /// The configuration of a queue.
    pub fn queue_config(&self, queue: &str) -> Option<&QueueConfig> {
        self.queues.get(queue).map(|q| &q.cfg)
    }

    /// Names of the configured queues.
    pub fn queue_names(&self) -> impl Iterator<Item = &str> {
        self.queues.keys().map(String::as_str)
    }

    /// The queue right now.
    pub fn snapshot(&self, queue: &str, now: Instant) -> Option<QueueSnapshot> {
        let q = self.queues.get(queue)?;
        let longest_wait_ms = q
            .waiting
            .iter()
            .filter_map(|c| self.waiters.get(c))
            .map(|w| ms_since(now, w.arrived))
            .max()
            .unwrap_or(0);
        let mut counts = MemberCounts::default();
        let members: Vec<(String, MemberState)> = q
            .cfg
            .members
            .iter()
            .map(|m| {
                let s = self.member_state(m).unwrap_or(MemberState::LoggedOut);
                counts.add(&s);
                (m.clone(), s)
            })
            .collect();
        Some(QueueSnapshot {
            queue: queue.to_string(),
            waiting: q.waiting.len(),
            longest_wait_ms,
            counts,
            members,
        })
    }

    /// The queue's counters for the current period.
    pub fn period_stats(&self, queue: &str) -> Option<&PeriodStats> {
        self.queues.get(queue).map(|q| &q.stats)
    }

    /// Starts a new reporting period for every queue (read the counters first).
    pub fn reset_period(&mut self) {
        for q in self.queues.values_mut() {
            q.stats.reset_period();
        }
    }

    /// Expected wait of the caller at `position` in `queue`, in ms:
    /// `average handle time × position / serving members`, where the handle time is talk +
    /// wrap-up of the queue's last [`HISTORY_LEN`](crate::HISTORY_LEN) finished calls and the serving members
    /// are those logged in and not paused (`position / members` handle times pass before
    /// a member is free for this caller). `None` without history or without serving members.
    pub fn expected_wait_ms(&self, queue: &str, position: usize) -> Option<u64> {
        let q = self.queues.get(queue)?;
        if q.history.is_empty() {
            return None;
        }
        let serving = q
            .cfg
            .members
            .iter()
            .filter_map(|m| self.members.get(m))
            .filter(|m| m.logged_in && m.paused.is_none())
            .count();
        if serving == 0 {
            return None;
        }
        let avg = q.history.iter().map(|&h| u128::from(h)).sum::<u128>() / q.history.len() as u128;
        let est = avg * position as u128 / serving as u128;
        Some(u64::try_from(est).unwrap_or(u64::MAX))
    }
}
