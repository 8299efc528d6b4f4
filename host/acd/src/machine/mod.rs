//! The queues, their waiting callers and their members, as one sans-IO state machine.
//!
//! Every input carries the time; after each one the machine settles (expires timers, sends
//! callers to fallback, makes offers, announces, reports member state changes) and queues
//! [`Command`]s for [`Acd::poll_command`]. The host calls [`Acd::handle_timeout`] at
//! [`Acd::poll_timeout`]; every deadline there is consumed by that call, so a driver that
//! loops on it never spins.

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::command::{CallerId, Command, EventKind, FallbackReason, OfferFailure, OfferId};
use crate::config::QueueConfig;
use crate::error::AcdError;
use crate::member::Member;
use crate::stats::PeriodStats;

mod read;
mod settle;

/// How many finished calls the expected-wait estimate averages over.
pub const HISTORY_LEN: usize = 20;

/// The reason given to a member paused for missing too many offers.
pub const AUTO_PAUSE_REASON: &str = "no answer";

/// What happened to an arriving caller. The [`Command`]s queued by the same call are what
/// the host acts on (a refusal also queues [`Command::ToFallback`]); this is for the
/// caller of [`Acd::caller_arrives`] to log or test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// In the queue at `position` (1 = next), or already being offered when 1.
    Queued { position: usize },
    /// Not queued; the caller goes to `route`.
    Refused {
        route: String,
        reason: FallbackReason,
    },
}

struct Queue {
    cfg: QueueConfig,
    /// Callers in service order: priority (high first), then arrival.
    waiting: Vec<CallerId>,
    /// Index into `cfg.members` where round-robin looks first.
    rr_next: usize,
    /// Whether some member was logged in when last checked (leave-when-empty fires on the
    /// change to none).
    staffed: bool,
    /// Handle times (talk + wrap-up) of the last [`HISTORY_LEN`] finished calls.
    history: VecDeque<u64>,
    stats: PeriodStats,
}

struct Waiter {
    queue: String,
    priority: u8,
    seq: u64,
    arrived: Instant,
    offer: Option<OfferId>,
    next_announce: Option<Instant>,
}

struct Offer {
    caller: CallerId,
    queue: String,
    /// Members still ringing.
    members: Vec<String>,
    deadline: Instant,
    ring_timeout_ms: u64,
    auto_pause_after: u32,
}

struct Connected {
    queue: String,
    member: String,
    since: Instant,
    wrap_up_ms: u64,
}

/// The automatic call distributor: every queue, waiting caller and member.
#[derive(Default)]
pub struct Acd {
    queues: BTreeMap<String, Queue>,
    members: BTreeMap<String, Member>,
    waiters: BTreeMap<CallerId, Waiter>,
    connected: BTreeMap<CallerId, Connected>,
    offers: BTreeMap<OfferId, Offer>,
    next_offer: OfferId,
    next_seq: u64,
    out: VecDeque<Command>,
    /// Bumped whenever a member logs in or out, pauses or unpauses: hosts that keep
    /// presences compare it instead of scanning every member on every turn.
    presence_changes: u64,
}

impl std::fmt::Debug for Acd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acd")
            .field("queues", &self.queues.len())
            .field("members", &self.members.len())
            .field("waiting", &self.waiters.len())
            .field("connected", &self.connected.len())
            .field("offers", &self.offers.len())
            .finish()
    }
}

fn after(now: Instant, ms: u64) -> Instant {
    // Configured durations are capped at one day, so this cannot overflow in practice.
    now.checked_add(Duration::from_millis(ms)).unwrap_or(now)
}

fn ms_since(now: Instant, then: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(then).as_millis()).unwrap_or(u64::MAX)
}

impl Acd {
    pub fn new() -> Self {
        Acd {
            next_offer: 1,
            ..Acd::default()
        }
    }

    // ---- configuration -------------------------------------------------------------

    /// Adds or replaces a queue. A replaced queue keeps its waiting callers, statistics and
    /// history; offers already ringing finish under the old settings. Runs the structural
    /// checks of [`QueueConfig::validate`] (the host runs the directory checks before).
    pub fn configure(&mut self, cfg: QueueConfig, now: Instant) -> Result<(), AcdError> {
        cfg.validate(&|_| true, &|_| true)
            .map_err(AcdError::InvalidConfig)?;
        for m in &cfg.members {
            self.members
                .entry(m.clone())
                .or_insert_with(|| Member::new(now));
        }
        match self.queues.get_mut(&cfg.name) {
            Some(q) => {
                q.rr_next %= cfg.members.len().max(1);
                q.cfg = cfg;
            }
            None => {
                let staffed = cfg
                    .members
                    .iter()
                    .any(|m| self.members.get(m).is_some_and(|m| m.logged_in));
                self.queues.insert(
                    cfg.name.clone(),
                    Queue {
                        cfg,
                        waiting: Vec::new(),
                        rr_next: 0,
                        staffed,
                        history: VecDeque::new(),
                        stats: PeriodStats::default(),
                    },
                );
            }
        }
        self.settle(now);
        Ok(())
    }

    /// Removes a queue; its waiting callers go to its fallback route. Connected calls are
    /// unaffected.
    pub fn remove_queue(&mut self, name: &str, now: Instant) -> Result<(), AcdError> {
        let waiting = self
            .queues
            .get(name)
            .ok_or_else(|| AcdError::UnknownQueue(name.to_string()))?
            .waiting
            .clone();
        for c in waiting {
            self.send_to_fallback(&c, FallbackReason::QueueRemoved, now);
        }
        self.queues.remove(name);
        self.settle(now);
        Ok(())
    }

    // ---- callers ---------------------------------------------------------------------

    /// A caller is transferred to `queue`; higher `priority` is served first.
    pub fn caller_arrives(
        &mut self,
        queue: &str,
        caller: CallerId,
        priority: u8,
        now: Instant,
    ) -> Result<Admission, AcdError> {
        if self.waiters.contains_key(&caller) || self.connected.contains_key(&caller) {
            return Err(AcdError::DuplicateCaller(caller.0));
        }
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| AcdError::UnknownQueue(queue.to_string()))?;
        q.stats.offered += 1;
        let staffed = q
            .cfg
            .members
            .iter()
            .any(|m| self.members.get(m).is_some_and(|m| m.logged_in));
        if !staffed && !q.cfg.join_empty {
            let route = q.cfg.fallback.clone();
            q.stats.to_fallback += 1;
            self.event(
                &caller,
                EventKind::QueueFallback,
                json!({ "queue": queue, "route": route, "reason": FallbackReason::JoinEmpty, "wait_ms": 0 }),
            );
            self.out.push_back(Command::ToFallback {
                caller,
                route: route.clone(),
                reason: FallbackReason::JoinEmpty,
            });
            return Ok(Admission::Refused {
                route,
                reason: FallbackReason::JoinEmpty,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = (Reverse(priority), seq);
        let at = q.waiting.partition_point(|c| {
            self.waiters
                .get(c)
                .is_some_and(|w| (Reverse(w.priority), w.seq) < key)
        });
        q.waiting.insert(at, caller.clone());
        let every = q.cfg.announce_every_ms;
        self.waiters.insert(
            caller.clone(),
            Waiter {
                queue: queue.to_string(),
                priority,
                seq,
                arrived: now,
                offer: None,
                next_announce: (every > 0).then(|| after(now, every)),
            },
        );
        self.event(
            &caller,
            EventKind::QueueEnter,
            json!({ "queue": queue, "priority": priority, "position": at + 1 }),
        );
        self.settle(now);
        // Announce at entry only to a caller that is really waiting: one offered at once
        // hears ringing, not "you are number 1".
        if self.waiters.get(&caller).is_some_and(|w| w.offer.is_none()) {
            self.announce(&caller);
        }
        let position = self.position(&caller).unwrap_or(1);
        Ok(Admission::Queued { position })
    }

    /// The caller hung up (or was taken elsewhere by the host): abandoned when waiting,
    /// the end of the call when connected.
    pub fn caller_leaves(&mut self, caller: &CallerId, now: Instant) -> Result<(), AcdError> {
        if self.connected.contains_key(caller) {
            return self.call_ended(caller, now);
        }
        let w = self
            .waiters
            .get(caller)
            .ok_or_else(|| AcdError::UnknownCaller(caller.0.clone()))?;
        let wait = ms_since(now, w.arrived);
        let queue = w.queue.clone();
        self.remove_waiter(caller);
        if let Some(q) = self.queues.get_mut(&queue) {
            q.stats.abandoned += 1;
            q.stats.abandon_wait_ms += wait;
        }
        self.event(
            caller,
            EventKind::QueueAbandoned,
            json!({ "queue": queue, "wait_ms": wait }),
        );
        self.settle(now);
        Ok(())
    }

    /// The connected queue call ended (either side hung up): counts the talk time and starts
    /// the member's wrap-up. A caller still waiting counts as abandoned.
    pub fn call_ended(&mut self, caller: &CallerId, now: Instant) -> Result<(), AcdError> {
        let Some(c) = self.connected.remove(caller) else {
            return self.caller_leaves(caller, now);
        };
        let talk = ms_since(now, c.since);
        if let Some(q) = self.queues.get_mut(&c.queue) {
            q.stats.ended += 1;
            q.stats.total_talk_ms += talk;
            if q.history.len() == HISTORY_LEN {
                q.history.pop_front();
            }
            q.history.push_back(talk.saturating_add(c.wrap_up_ms));
        }
        if let Some(m) = self.members.get_mut(&c.member) {
            if m.queue_call.as_ref() == Some(caller) {
                m.queue_call = None;
                m.idle_since = now;
                m.wrap_until = (c.wrap_up_ms > 0).then(|| after(now, c.wrap_up_ms));
            }
        }
        self.event(
            caller,
            EventKind::QueueCallEnded,
            json!({ "queue": c.queue, "member": c.member, "talk_ms": talk }),
        );
        self.settle(now);
        Ok(())
    }

    // ---- members -----------------------------------------------------------------------

    /// The member starts taking queue calls (feature code or API).
    pub fn member_login(&mut self, member: &str, now: Instant) -> Result<(), AcdError> {
        self.presence_changes += 1;
        let m = self.queue_member(member, now)?;
        if !m.logged_in {
            m.logged_in = true;
            m.idle_since = now;
            m.misses = 0;
        }
        self.settle(now);
        Ok(())
    }

    /// The member stops taking queue calls; an offer ringing it is withdrawn.
    pub fn member_logout(&mut self, member: &str, now: Instant) -> Result<(), AcdError> {
        self.queue_member(member, now)?.logged_in = false;
        self.presence_changes += 1;
        self.withdraw(member);
        self.settle(now);
        Ok(())
    }

    /// The member takes a break; an offer ringing it is withdrawn. A pause during a call
    /// takes effect when the call ends.
    pub fn member_pause(
        &mut self,
        member: &str,
        reason: &str,
        now: Instant,
    ) -> Result<(), AcdError> {
        self.queue_member(member, now)?.paused = Some(reason.to_string());
        self.presence_changes += 1;
        self.withdraw(member);
        self.settle(now);
        Ok(())
    }

    /// The member is back from a break (also clears an automatic "no answer" pause).
    pub fn member_unpause(&mut self, member: &str, now: Instant) -> Result<(), AcdError> {
        self.presence_changes += 1;
        let m = self.queue_member(member, now)?;
        m.paused = None;
        m.misses = 0;
        self.settle(now);
        Ok(())
    }

    /// The user started a call that did not come from a queue (direct, outbound). Counted,
    /// so overlapping calls need one [`Acd::member_free`] each. Any user may be reported.
    pub fn member_busy(&mut self, member: &str, now: Instant) {
        let m = self
            .members
            .entry(member.to_string())
            .or_insert_with(|| Member::new(now));
        m.direct_calls = m.direct_calls.saturating_add(1);
        self.withdraw(member);
        self.settle(now);
    }

    /// A call reported by [`Acd::member_busy`] ended.
    pub fn member_free(&mut self, member: &str, now: Instant) {
        let in_queue = self.in_any_queue(member);
        if let Some(m) = self.members.get_mut(member) {
            if m.direct_calls > 0 {
                m.direct_calls -= 1;
                if m.direct_calls == 0 {
                    m.idle_since = now;
                }
            }
            // Users that belong to no queue are tracked only while on a call.
            if !in_queue && m.direct_calls == 0 && !m.logged_in {
                self.members.remove(member);
            }
        }
        self.settle(now);
    }

    // ---- offers ------------------------------------------------------------------------

    /// A device of `member` answered the offer: the others stop ringing, the caller is
    /// connected. [`AcdError::StaleOffer`] means the host must hang up that member's leg.
    pub fn offer_answered(
        &mut self,
        offer_id: OfferId,
        member: &str,
        now: Instant,
    ) -> Result<(), AcdError> {
        let stale = || AcdError::StaleOffer {
            offer_id,
            member: member.to_string(),
        };
        if !self
            .offers
            .get(&offer_id)
            .is_some_and(|o| o.members.iter().any(|m| m == member))
        {
            return Err(stale());
        }
        let Some(offer) = self.offers.remove(&offer_id) else {
            return Err(stale());
        };
        let others: Vec<String> = offer
            .members
            .iter()
            .filter(|m| *m != member)
            .cloned()
            .collect();
        for m in &offer.members {
            if let Some(m) = self.members.get_mut(m) {
                m.ringing = None;
            }
        }
        if !others.is_empty() {
            self.out.push_back(Command::CancelOffer {
                offer_id,
                members: others,
            });
        }
        let caller = offer.caller;
        let arrived = self.waiters.get(&caller).map_or(now, |w| w.arrived);
        self.remove_waiter(&caller);
        let wait = ms_since(now, arrived);
        let mut wrap_up_ms = 0;
        let mut within_sl = false;
        if let Some(q) = self.queues.get_mut(&offer.queue) {
            q.stats.answered += 1;
            q.stats.total_wait_ms += wait;
            within_sl = wait <= q.cfg.service_level_ms;
            if within_sl {
                q.stats.answered_within_sl += 1;
            }
            wrap_up_ms = q.cfg.wrap_up_ms;
        }
        if let Some(m) = self.members.get_mut(member) {
            m.queue_call = Some(caller.clone());
            m.misses = 0;
        }
        self.connected.insert(
            caller.clone(),
            Connected {
                queue: offer.queue.clone(),
                member: member.to_string(),
                since: now,
                wrap_up_ms,
            },
        );
        self.out.push_back(Command::Connect {
            caller: caller.clone(),
            member: member.to_string(),
            offer_id,
        });
        self.event(
            &caller,
            EventKind::QueueAnswered,
            json!({
                "queue": offer.queue,
                "member": member,
                "offer_id": offer_id,
                "wait_ms": wait,
                "within_service_level": within_sl,
            }),
        );
        self.settle(now);
        Ok(())
    }

    /// The offer to `member` failed. The member rests one ring timeout before its next
    /// offer; no-answer and error count as misses towards the automatic pause. When no
    /// member of the offer is left ringing, the caller is back at its place in the queue.
    pub fn offer_failed(
        &mut self,
        offer_id: OfferId,
        member: &str,
        reason: OfferFailure,
        now: Instant,
    ) -> Result<(), AcdError> {
        if !self
            .offers
            .get(&offer_id)
            .is_some_and(|o| o.members.iter().any(|m| m == member))
        {
            return Err(AcdError::StaleOffer {
                offer_id,
                member: member.to_string(),
            });
        }
        self.fail_member(offer_id, member, reason, now);
        self.settle(now);
        Ok(())
    }

    // ---- time --------------------------------------------------------------------------

    /// When [`Acd::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let offers = self.offers.values().map(|o| o.deadline);
        let members = self.members.values().filter_map(Member::next_deadline);
        let callers = self.waiters.values().flat_map(|w| {
            let max_wait = self.queues.get(&w.queue).and_then(|q| {
                // A ringing caller's max wait is checked when the offer ends.
                (q.cfg.max_wait_ms > 0 && w.offer.is_none())
                    .then(|| after(w.arrived, q.cfg.max_wait_ms))
            });
            [w.next_announce, max_wait].into_iter().flatten()
        });
        offers.chain(members).chain(callers).min()
    }

    /// Runs everything due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.settle(now);
    }

    /// The next thing the host must do.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.out.pop_front()
    }
}
