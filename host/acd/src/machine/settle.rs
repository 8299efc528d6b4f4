//! How the machine comes to rest after each input: timers, fallbacks, offers, announcements
//! and member state reports, plus the bookkeeping the inputs share.

use std::cmp::Reverse;
use std::time::Instant;

use serde_json::json;

use super::{after, ms_since, Acd, Offer, AUTO_PAUSE_REASON};
use crate::command::{CallerId, Command, EventKind, FallbackReason, OfferFailure, OfferId};
use crate::config::Strategy;
use crate::error::AcdError;
use crate::member::Member;

impl Acd {
    pub(super) fn in_any_queue(&self, member: &str) -> bool {
        self.queues
            .values()
            .any(|q| q.cfg.members.iter().any(|m| m == member))
    }

    pub(super) fn queue_member(
        &mut self,
        member: &str,
        now: Instant,
    ) -> Result<&mut Member, AcdError> {
        if !self.in_any_queue(member) {
            return Err(AcdError::NotAMember(member.to_string()));
        }
        Ok(self
            .members
            .entry(member.to_string())
            // Every configured member gets an entry in `configure`; this is for safety.
            .or_insert_with(|| Member::new(now)))
    }

    pub(super) fn event(&mut self, caller: &CallerId, kind: EventKind, detail: serde_json::Value) {
        self.out.push_back(Command::Event {
            caller: caller.clone(),
            kind,
            detail,
        });
    }

    /// Takes a caller out of the waiting structures, cancelling its offer.
    pub(super) fn remove_waiter(&mut self, caller: &CallerId) {
        let Some(w) = self.waiters.remove(caller) else {
            return;
        };
        if let Some(q) = self.queues.get_mut(&w.queue) {
            q.waiting.retain(|c| c != caller);
        }
        if let Some(id) = w.offer {
            if let Some(o) = self.offers.remove(&id) {
                for m in &o.members {
                    if let Some(m) = self.members.get_mut(m) {
                        m.ringing = None;
                    }
                }
                if !o.members.is_empty() {
                    self.out.push_back(Command::CancelOffer {
                        offer_id: id,
                        members: o.members,
                    });
                }
            }
        }
    }

    /// Stops ringing `member` without counting a miss (it logged out, paused or took
    /// another call).
    pub(super) fn withdraw(&mut self, member: &str) {
        let Some(id) = self.members.get_mut(member).and_then(|m| m.ringing.take()) else {
            return;
        };
        self.out.push_back(Command::CancelOffer {
            offer_id: id,
            members: vec![member.to_string()],
        });
        self.drop_from_offer(id, member);
    }

    /// Removes `member` from the offer; an offer with nobody left ringing ends and its
    /// caller is back to waiting (at its place: the queue order never changed).
    pub(super) fn drop_from_offer(&mut self, id: OfferId, member: &str) {
        let Some(o) = self.offers.get_mut(&id) else {
            return;
        };
        o.members.retain(|m| m != member);
        if o.members.is_empty() {
            let caller = o.caller.clone();
            self.offers.remove(&id);
            if let Some(w) = self.waiters.get_mut(&caller) {
                w.offer = None;
            }
        }
    }

    pub(super) fn fail_member(
        &mut self,
        id: OfferId,
        member: &str,
        reason: OfferFailure,
        now: Instant,
    ) {
        let Some(o) = self.offers.get(&id) else {
            return;
        };
        let (caller, queue) = (o.caller.clone(), o.queue.clone());
        let (ring_timeout_ms, auto_pause_after) = (o.ring_timeout_ms, o.auto_pause_after);
        let mut auto_paused = false;
        if let Some(m) = self.members.get_mut(member) {
            m.ringing = None;
            m.rest_until = Some(after(now, ring_timeout_ms));
            if reason != OfferFailure::Busy {
                m.misses = m.misses.saturating_add(1);
                if auto_pause_after > 0 && m.misses >= auto_pause_after && m.paused.is_none() {
                    m.paused = Some(AUTO_PAUSE_REASON.to_string());
                    auto_paused = true;
                    self.presence_changes += 1;
                    tracing::info!(
                        member,
                        misses = m.misses,
                        "queue member paused automatically"
                    );
                }
            }
        }
        if reason != OfferFailure::Busy {
            if let Some(q) = self.queues.get_mut(&queue) {
                q.stats.missed_offers += 1;
            }
        }
        self.event(
            &caller,
            EventKind::QueueNoAnswer,
            json!({ "queue": queue, "member": member, "offer_id": id, "reason": reason, "auto_paused": auto_paused }),
        );
        self.drop_from_offer(id, member);
    }

    pub(super) fn send_to_fallback(
        &mut self,
        caller: &CallerId,
        reason: FallbackReason,
        now: Instant,
    ) {
        let Some(w) = self.waiters.get(caller) else {
            return;
        };
        let wait = ms_since(now, w.arrived);
        let queue = w.queue.clone();
        self.remove_waiter(caller);
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        q.stats.to_fallback += 1;
        let route = q.cfg.fallback.clone();
        tracing::info!(%caller, queue, route, ?reason, "queue caller to fallback");
        self.event(
            caller,
            EventKind::QueueFallback,
            json!({ "queue": queue, "route": route, "reason": reason, "wait_ms": wait }),
        );
        self.out.push_back(Command::ToFallback {
            caller: caller.clone(),
            route,
            reason,
        });
    }

    pub(super) fn announce(&mut self, caller: &CallerId) {
        let Some(w) = self.waiters.get(caller) else {
            return;
        };
        let Some(q) = self.queues.get(&w.queue) else {
            return;
        };
        let pos = q
            .waiting
            .iter()
            .position(|c| c == caller)
            .map_or(1, |i| i + 1);
        let expected = self.expected_wait_ms(&w.queue, pos);
        let position = q.cfg.announce_position.then_some(pos);
        self.event(
            caller,
            EventKind::QueuePosition,
            json!({ "position": pos, "expected_wait_ms": expected }),
        );
        self.out.push_back(Command::Announce {
            caller: caller.clone(),
            position,
            expected_wait_ms: expected,
        });
    }

    /// Brings the machine to rest at `now`; run after every input.
    pub(super) fn settle(&mut self, now: Instant) {
        for m in self.members.values_mut() {
            m.expire_timers(now);
        }
        self.expire_offers(now);
        self.leave_empty_queues(now);
        self.expire_waits(now);
        self.dispatch(now);
        self.announce_due(now);
        self.report_member_states();
    }

    pub(super) fn expire_offers(&mut self, now: Instant) {
        let due: Vec<OfferId> = self
            .offers
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(members) = self.offers.get(&id).map(|o| o.members.clone()) else {
                continue;
            };
            self.out.push_back(Command::CancelOffer {
                offer_id: id,
                members: members.clone(),
            });
            for m in members {
                self.fail_member(id, &m, OfferFailure::NoAnswer, now);
            }
        }
    }

    pub(super) fn leave_empty_queues(&mut self, now: Instant) {
        let mut leaving = Vec::new();
        for q in self.queues.values_mut() {
            let staffed = q
                .cfg
                .members
                .iter()
                .any(|m| self.members.get(m).is_some_and(|m| m.logged_in));
            if q.staffed && !staffed && q.cfg.leave_when_empty {
                leaving.extend(q.waiting.iter().cloned());
            }
            q.staffed = staffed;
        }
        for c in leaving {
            self.send_to_fallback(&c, FallbackReason::LeaveEmpty, now);
        }
    }

    pub(super) fn expire_waits(&mut self, now: Instant) {
        let due: Vec<CallerId> = self
            .waiters
            .iter()
            .filter(|(_, w)| {
                w.offer.is_none()
                    && self.queues.get(&w.queue).is_some_and(|q| {
                        q.cfg.max_wait_ms > 0 && after(w.arrived, q.cfg.max_wait_ms) <= now
                    })
            })
            .map(|(c, _)| c.clone())
            .collect();
        for c in due {
            self.send_to_fallback(&c, FallbackReason::MaxWait, now);
        }
    }

    /// Offers waiting callers to free members until no offer can be made. Across queues a
    /// member that belongs to several is offered the caller of highest priority, then the
    /// one that arrived first.
    pub(super) fn dispatch(&mut self, now: Instant) {
        loop {
            let mut heads: Vec<((Reverse<u8>, u64), String, CallerId)> = self
                .queues
                .iter()
                .filter_map(|(name, q)| {
                    let c = q
                        .waiting
                        .iter()
                        .find(|c| self.waiters.get(*c).is_some_and(|w| w.offer.is_none()))?;
                    let w = self.waiters.get(c)?;
                    Some(((Reverse(w.priority), w.seq), name.clone(), c.clone()))
                })
                .collect();
            heads.sort();
            let mut offered = false;
            for (_, queue, caller) in heads {
                let picks = self.select(&queue);
                if !picks.is_empty() {
                    self.make_offer(&queue, caller, picks, now);
                    offered = true;
                    break;
                }
            }
            if !offered {
                break;
            }
        }
    }

    /// The member(s) the queue's strategy offers its next caller to.
    pub(super) fn select(&mut self, queue: &str) -> Vec<String> {
        let Some(q) = self.queues.get_mut(queue) else {
            return Vec::new();
        };
        let free = |m: &String| self.members.get(m).is_some_and(Member::can_take_offer);
        match q.cfg.strategy {
            Strategy::RingAll => q.cfg.members.iter().filter(|m| free(m)).cloned().collect(),
            Strategy::LongestIdle => q
                .cfg
                .members
                .iter()
                .filter(|m| free(m))
                .min_by_key(|m| self.members.get(*m).map(|m| m.idle_since))
                .cloned()
                .into_iter()
                .collect(),
            Strategy::RoundRobin => {
                let n = q.cfg.members.len();
                let found = (0..n)
                    .map(|i| (q.rr_next + i) % n)
                    .find(|&i| free(&q.cfg.members[i]));
                match found {
                    Some(i) => {
                        q.rr_next = (i + 1) % n;
                        vec![q.cfg.members[i].clone()]
                    }
                    None => Vec::new(),
                }
            }
        }
    }

    pub(super) fn make_offer(
        &mut self,
        queue: &str,
        caller: CallerId,
        members: Vec<String>,
        now: Instant,
    ) {
        let Some(q) = self.queues.get(queue) else {
            return;
        };
        let id = self.next_offer;
        self.next_offer += 1;
        for m in &members {
            if let Some(m) = self.members.get_mut(m) {
                m.ringing = Some(id);
            }
        }
        if let Some(w) = self.waiters.get_mut(&caller) {
            w.offer = Some(id);
        }
        self.offers.insert(
            id,
            Offer {
                caller: caller.clone(),
                queue: queue.to_string(),
                members: members.clone(),
                deadline: after(now, q.cfg.ring_timeout_ms),
                ring_timeout_ms: q.cfg.ring_timeout_ms,
                auto_pause_after: q.cfg.auto_pause_after_misses,
            },
        );
        tracing::debug!(%caller, queue, offer_id = id, ?members, "queue offer");
        self.out.push_back(Command::Offer {
            offer_id: id,
            caller: caller.clone(),
            members: members.clone(),
        });
        self.event(
            &caller,
            EventKind::QueueOffered,
            json!({ "queue": queue, "offer_id": id, "members": members }),
        );
    }

    pub(super) fn announce_due(&mut self, now: Instant) {
        let due: Vec<CallerId> = self
            .waiters
            .iter()
            .filter(|(_, w)| w.next_announce.is_some_and(|t| t <= now))
            .map(|(c, _)| c.clone())
            .collect();
        for c in due {
            let Some(w) = self.waiters.get_mut(&c) else {
                continue;
            };
            let every = self
                .queues
                .get(&w.queue)
                .map_or(0, |q| q.cfg.announce_every_ms);
            w.next_announce = (every > 0).then(|| after(now, every));
            // A caller being offered hears ringing; its next announcement comes later.
            if w.offer.is_none() {
                self.announce(&c);
            }
        }
    }

    pub(super) fn report_member_states(&mut self) {
        for (name, m) in self.members.iter_mut() {
            let s = m.state();
            if s != m.reported {
                m.reported = s.clone();
                self.out.push_back(Command::MemberStateChanged {
                    member: name.clone(),
                    state: s,
                });
            }
        }
    }
}
