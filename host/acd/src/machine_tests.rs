//! Scenario tests with synthetic time: a base `Instant` plus offsets in ms, no sleeps.

use std::time::{Duration, Instant};

use crate::{
    Acd, AcdError, Admission, CallerId, Command, EventKind, FallbackReason, MemberState,
    OfferFailure, OfferId, QueueConfig, Strategy,
};

struct H {
    acd: Acd,
    t0: Instant,
}

fn c(id: &str) -> CallerId {
    CallerId::new(id)
}

fn cfg(members: &[&str], strategy: Strategy) -> QueueConfig {
    let mut q = QueueConfig::new("q", members, "call-center");
    q.strategy = strategy;
    q
}

impl H {
    fn new(q: QueueConfig) -> Self {
        let t0 = Instant::now();
        let mut acd = Acd::new();
        acd.configure(q, t0).unwrap();
        H { acd, t0 }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn drain(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.acd.poll_command()).collect()
    }

    fn login(&mut self, members: &[&str], ms: u64) {
        for m in members {
            self.acd.member_login(m, self.at(ms)).unwrap();
        }
    }

    fn arrive(&mut self, caller: &str, prio: u8, ms: u64) -> Admission {
        self.acd
            .caller_arrives("q", c(caller), prio, self.at(ms))
            .unwrap()
    }

    fn tick(&mut self, ms: u64) {
        self.acd.handle_timeout(self.at(ms));
    }
}

fn offers(cmds: &[Command]) -> Vec<(OfferId, String, Vec<String>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Offer {
                offer_id,
                caller,
                members,
            } => Some((*offer_id, caller.0.clone(), members.clone())),
            _ => None,
        })
        .collect()
}

fn one_offer(cmds: &[Command]) -> (OfferId, String, Vec<String>) {
    let o = offers(cmds);
    assert_eq!(o.len(), 1, "expected one offer in {cmds:#?}");
    o.into_iter().next().unwrap()
}

fn fallbacks(cmds: &[Command]) -> Vec<(String, FallbackReason)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::ToFallback { caller, reason, .. } => Some((caller.0.clone(), *reason)),
            _ => None,
        })
        .collect()
}

fn events(cmds: &[Command], caller: &str) -> Vec<EventKind> {
    cmds.iter()
        .filter_map(|cmd| match cmd {
            Command::Event {
                caller: c, kind, ..
            } if c.0 == caller => Some(*kind),
            _ => None,
        })
        .collect()
}

fn announces(cmds: &[Command]) -> Vec<(String, Option<usize>, Option<u64>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Announce {
                caller,
                position,
                expected_wait_ms,
            } => Some((caller.0.clone(), *position, *expected_wait_ms)),
            _ => None,
        })
        .collect()
}

/// Answers `offer` by `member` at `ms` and returns the commands.
fn answer(h: &mut H, offer: OfferId, member: &str, ms: u64) -> Vec<Command> {
    h.acd.offer_answered(offer, member, h.at(ms)).unwrap();
    h.drain()
}

// ---- order and priority ------------------------------------------------------------------

#[test]
fn first_free_member_gets_the_longest_waiting_caller() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 100);
    h.arrive("b", 0, 200);
    h.arrive("c", 0, 300);
    let cmds = h.drain();
    assert!(offers(&cmds).is_empty());
    assert_eq!(h.acd.position(&c("c")), Some(3));

    h.acd.member_free("m1", h.at(1_000));
    let (id, caller, members) = one_offer(&h.drain());
    assert_eq!((caller.as_str(), members), ("a", vec!["m1".to_string()]));
    answer(&mut h, id, "m1", 2_000);
    assert_eq!(h.acd.position(&c("b")), Some(1));
    h.acd.call_ended(&c("a"), h.at(5_000)).unwrap();
    h.tick(15_000); // wrap-up (10 s) over
    let (_, caller, _) = one_offer(&h.drain());
    assert_eq!(caller, "b");
}

#[test]
fn higher_priority_is_served_first_then_arrival_order() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 100);
    h.arrive("b", 0, 200);
    assert_eq!(h.arrive("vip", 5, 300), Admission::Queued { position: 1 });
    h.arrive("vip2", 5, 400);
    assert_eq!(h.acd.position(&c("vip2")), Some(2));
    assert_eq!(h.acd.position(&c("a")), Some(3));
    h.drain();
    h.acd.member_free("m1", h.at(1_000));
    assert_eq!(one_offer(&h.drain()).1, "vip");
}

#[test]
fn a_member_in_two_queues_takes_the_longest_waiting_caller_of_both() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    let mut other = QueueConfig::new("q2", &["m1"], "call-center");
    other.join_empty = true;
    h.acd.configure(other, h.t0).unwrap();
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.acd
        .caller_arrives("q2", c("early"), 0, h.at(100))
        .unwrap();
    h.arrive("late", 0, 200);
    h.drain();
    h.acd.member_free("m1", h.at(1_000));
    assert_eq!(one_offer(&h.drain()).1, "early");
}

// ---- wrap-up and member states -----------------------------------------------------------

#[test]
fn wrap_up_holds_the_next_offer_until_it_ends() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.announce_every_ms = 0;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    h.arrive("a", 0, 0);
    let (id, _, _) = one_offer(&h.drain());
    answer(&mut h, id, "m1", 1_000);
    assert_eq!(h.acd.member_state("m1"), Some(MemberState::OnCall));
    h.arrive("b", 0, 2_000);
    h.acd.call_ended(&c("a"), h.at(30_000)).unwrap();
    let cmds = h.drain();
    assert!(offers(&cmds).is_empty());
    assert!(cmds.contains(&Command::MemberStateChanged {
        member: "m1".into(),
        state: MemberState::WrapUp
    }));
    assert_eq!(h.acd.poll_timeout(), Some(h.at(40_000)));
    h.tick(39_999);
    assert!(offers(&h.drain()).is_empty());
    h.tick(40_000);
    assert_eq!(one_offer(&h.drain()).1, "b");
}

#[test]
fn pause_during_a_call_takes_effect_when_it_ends() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.wrap_up_ms = 0;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    h.arrive("a", 0, 0);
    let (id, _, _) = one_offer(&h.drain());
    answer(&mut h, id, "m1", 1_000);
    h.acd.member_pause("m1", "lunch", h.at(2_000)).unwrap();
    assert_eq!(h.acd.member_state("m1"), Some(MemberState::OnCall));
    h.arrive("b", 0, 3_000);
    h.acd.call_ended(&c("a"), h.at(4_000)).unwrap();
    assert!(offers(&h.drain()).is_empty());
    assert_eq!(
        h.acd.member_state("m1"),
        Some(MemberState::Paused {
            reason: "lunch".into()
        })
    );
    h.acd.member_unpause("m1", h.at(5_000)).unwrap();
    assert_eq!(one_offer(&h.drain()).1, "b");
}

#[test]
fn unknown_members_callers_and_queues_are_refused() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    let t = h.at(0);
    assert_eq!(
        h.acd.member_login("stranger", t),
        Err(AcdError::NotAMember("stranger".into()))
    );
    assert_eq!(
        h.acd.caller_arrives("nope", c("a"), 0, t),
        Err(AcdError::UnknownQueue("nope".into()))
    );
    assert_eq!(
        h.acd.caller_leaves(&c("ghost"), t),
        Err(AcdError::UnknownCaller("ghost".into()))
    );
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", t);
    h.arrive("a", 0, 0);
    assert_eq!(
        h.acd.caller_arrives("q", c("a"), 0, t),
        Err(AcdError::DuplicateCaller("a".into()))
    );
    // A user outside every queue may be reported busy/free without growing the state.
    h.acd.member_busy("other", t);
    assert_eq!(h.acd.member_state("other"), Some(MemberState::LoggedOut));
    h.acd.member_free("other", t);
    assert_eq!(h.acd.member_state("other"), None);
}

// ---- no answer, errors, auto-pause -------------------------------------------------------

#[test]
fn no_answer_skips_to_the_next_member_and_the_caller_keeps_its_place() {
    let mut h = H::new(cfg(&["m1", "m2"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.login(&["m2"], 10);
    h.acd.member_busy("m2", h.at(20));
    h.arrive("a", 0, 100);
    let (id1, _, members) = one_offer(&h.drain());
    assert_eq!(members, ["m1"]);
    h.arrive("b", 0, 200);
    h.acd.member_free("m2", h.at(300));
    // m2 is free but the head caller is ringing m1: b is offered to m2.
    let (id_b, caller, members) = one_offer(&h.drain());
    assert_eq!((caller.as_str(), members), ("b", vec!["m2".to_string()]));
    h.acd
        .offer_failed(id_b, "m2", OfferFailure::NoAnswer, h.at(5_000))
        .unwrap();
    h.drain();
    assert_eq!(h.acd.poll_timeout(), Some(h.at(20_100)));
    h.tick(20_100); // a's ring timeout on m1
    let cmds = h.drain();
    assert!(cmds.contains(&Command::CancelOffer {
        offer_id: id1,
        members: vec!["m1".into()]
    }));
    assert!(events(&cmds, "a").contains(&EventKind::QueueNoAnswer));
    assert_eq!(h.acd.position(&c("a")), Some(1), "a keeps its place");
    // Both members rest one ring timeout after their miss; m2's rest ends first and it
    // gets the head caller, a.
    h.tick(25_000);
    let (_, caller, members) = one_offer(&h.drain());
    assert_eq!((caller.as_str(), members), ("a", vec!["m2".to_string()]));
}

#[test]
fn repeated_misses_pause_the_member_automatically() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.auto_pause_after_misses = 2;
    q.max_wait_ms = 0;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    h.arrive("a", 0, 0);
    one_offer(&h.drain());
    h.tick(20_000); // miss 1
    h.drain();
    h.tick(40_000); // rest over: second offer
    one_offer(&h.drain());
    h.tick(60_000); // miss 2: paused
    let cmds = h.drain();
    let paused = MemberState::Paused {
        reason: crate::AUTO_PAUSE_REASON.into(),
    };
    assert!(cmds.contains(&Command::MemberStateChanged {
        member: "m1".into(),
        state: paused.clone()
    }));
    assert_eq!(h.acd.member_state("m1"), Some(paused));
    h.tick(200_000);
    assert!(
        offers(&h.drain()).is_empty(),
        "a paused member is not offered"
    );
    h.acd.member_unpause("m1", h.at(200_001)).unwrap();
    assert_eq!(one_offer(&h.drain()).1, "a");
}

#[test]
fn a_device_error_is_not_retried_in_a_tight_loop() {
    let mut h = H::new(cfg(&["m1"], Strategy::RingAll));
    h.login(&["m1"], 0);
    h.arrive("a", 0, 0);
    let (id, _, _) = one_offer(&h.drain());
    h.acd
        .offer_failed(id, "m1", OfferFailure::Error, h.at(5))
        .unwrap();
    assert!(offers(&h.drain()).is_empty());
    // Nothing due before the rest ends (the periodic announcement aside).
    assert_eq!(h.acd.poll_timeout(), Some(h.at(20_005)));
    h.tick(20_004);
    assert!(offers(&h.drain()).is_empty());
    h.tick(20_005);
    let (id2, _, _) = one_offer(&h.drain());
    assert_ne!(id2, id, "offer IDs are never reused");
    // A stale report about the old offer is refused and changes nothing.
    assert!(matches!(
        h.acd
            .offer_failed(id, "m1", OfferFailure::Error, h.at(20_006)),
        Err(AcdError::StaleOffer { .. })
    ));
}

#[test]
fn busy_answers_rest_the_member_but_are_not_misses() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.auto_pause_after_misses = 1;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    h.arrive("a", 0, 0);
    let (id, _, _) = one_offer(&h.drain());
    h.acd
        .offer_failed(id, "m1", OfferFailure::Busy, h.at(10))
        .unwrap();
    assert_eq!(h.acd.member_state("m1"), Some(MemberState::Available));
    assert_eq!(h.acd.period_stats("q").unwrap().missed_offers, 0);
    h.tick(20_010);
    assert_eq!(one_offer(&h.drain()).1, "a");
}

// ---- max wait, join-empty, leave-when-empty ----------------------------------------------

#[test]
fn max_wait_sends_the_caller_to_fallback() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.max_wait_ms = 60_000;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 1_000);
    h.drain();
    h.tick(60_999);
    assert!(fallbacks(&h.drain()).is_empty());
    h.tick(61_000);
    let cmds = h.drain();
    assert_eq!(
        fallbacks(&cmds),
        [("a".to_string(), FallbackReason::MaxWait)]
    );
    assert!(cmds.contains(&Command::ToFallback {
        caller: c("a"),
        route: "call-center".into(),
        reason: FallbackReason::MaxWait
    }));
    assert_eq!(h.acd.position(&c("a")), None);
    assert_eq!(h.acd.period_stats("q").unwrap().to_fallback, 1);
}

#[test]
fn max_wait_lets_a_ringing_offer_finish() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.max_wait_ms = 30_000;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 0);
    h.acd.member_free("m1", h.at(25_000));
    let (id, _, _) = one_offer(&h.drain());
    h.tick(30_000);
    assert!(fallbacks(&h.drain()).is_empty(), "ringing is not cut off");
    h.acd
        .offer_failed(id, "m1", OfferFailure::NoAnswer, h.at(35_000))
        .unwrap();
    assert_eq!(
        fallbacks(&h.drain()),
        [("a".to_string(), FallbackReason::MaxWait)]
    );
}

#[test]
fn join_empty_off_refuses_callers_when_nobody_is_logged_in() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    let adm = h.arrive("a", 0, 0);
    assert_eq!(
        adm,
        Admission::Refused {
            route: "call-center".into(),
            reason: FallbackReason::JoinEmpty
        }
    );
    let cmds = h.drain();
    assert_eq!(
        fallbacks(&cmds),
        [("a".to_string(), FallbackReason::JoinEmpty)]
    );
    assert_eq!(events(&cmds, "a"), [EventKind::QueueFallback]);
    // A paused member is logged in: the queue is not empty.
    h.login(&["m1"], 1);
    h.acd.member_pause("m1", "meeting", h.at(2)).unwrap();
    assert_eq!(h.arrive("b", 0, 3), Admission::Queued { position: 1 });
}

#[test]
fn join_empty_on_waits_for_the_first_login() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.join_empty = true;
    let mut h = H::new(q);
    assert_eq!(h.arrive("a", 0, 0), Admission::Queued { position: 1 });
    assert!(offers(&h.drain()).is_empty());
    h.login(&["m1"], 5_000);
    assert_eq!(one_offer(&h.drain()).1, "a");
}

#[test]
fn leave_when_empty_sends_waiting_callers_to_fallback_when_the_last_member_logs_out() {
    let mut h = H::new(cfg(&["m1", "m2"], Strategy::LongestIdle));
    h.login(&["m1", "m2"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.acd.member_busy("m2", h.at(0));
    h.arrive("a", 0, 10);
    h.arrive("b", 0, 20);
    h.drain();
    h.acd.member_logout("m1", h.at(100)).unwrap();
    assert!(fallbacks(&h.drain()).is_empty(), "m2 is still logged in");
    h.acd.member_logout("m2", h.at(200)).unwrap();
    assert_eq!(
        fallbacks(&h.drain()),
        [
            ("a".to_string(), FallbackReason::LeaveEmpty),
            ("b".to_string(), FallbackReason::LeaveEmpty)
        ]
    );
}

#[test]
fn leave_when_empty_off_keeps_callers_waiting() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.leave_when_empty = false;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 10);
    h.acd.member_logout("m1", h.at(100)).unwrap();
    assert!(fallbacks(&h.drain()).is_empty());
    assert_eq!(h.acd.position(&c("a")), Some(1));
}

// ---- strategies --------------------------------------------------------------------------

#[test]
fn ring_all_offers_every_free_member_and_cancels_the_others_on_answer() {
    let mut h = H::new(cfg(&["m1", "m2", "m3"], Strategy::RingAll));
    h.login(&["m1", "m2", "m3"], 0);
    h.acd.member_pause("m3", "break", h.at(0)).unwrap();
    h.arrive("a", 0, 0);
    let (id, _, members) = one_offer(&h.drain());
    assert_eq!(members, ["m1", "m2"]);
    assert_eq!(h.acd.member_state("m2"), Some(MemberState::Ringing));
    let cmds = answer(&mut h, id, "m2", 3_000);
    let cancel = cmds.iter().position(|c| {
        *c == Command::CancelOffer {
            offer_id: id,
            members: vec!["m1".into()],
        }
    });
    let connect = cmds.iter().position(|c| {
        *c == Command::Connect {
            caller: c_("a"),
            member: "m2".into(),
            offer_id: id,
        }
    });
    assert!(cancel.unwrap() < connect.unwrap(), "{cmds:#?}");
    assert_eq!(h.acd.member_state("m1"), Some(MemberState::Available));
    // m1 answering too late is told the offer is over.
    assert!(matches!(
        h.acd.offer_answered(id, "m1", h.at(3_001)),
        Err(AcdError::StaleOffer { .. })
    ));
}

fn c_(id: &str) -> CallerId {
    c(id)
}

#[test]
fn ring_all_one_member_failing_leaves_the_others_ringing() {
    let mut h = H::new(cfg(&["m1", "m2"], Strategy::RingAll));
    h.login(&["m1", "m2"], 0);
    h.arrive("a", 0, 0);
    let (id, _, _) = one_offer(&h.drain());
    h.acd
        .offer_failed(id, "m1", OfferFailure::Error, h.at(10))
        .unwrap();
    assert!(offers(&h.drain()).is_empty(), "still ringing m2");
    answer(&mut h, id, "m2", 2_000);
    assert_eq!(h.acd.member_state("m2"), Some(MemberState::OnCall));
}

#[test]
fn longest_idle_picks_the_member_whose_last_call_ended_first() {
    let mut q = cfg(&["m1", "m2", "m3"], Strategy::LongestIdle);
    q.wrap_up_ms = 0;
    let mut h = H::new(q);
    h.login(&["m1", "m2", "m3"], 0);
    for m in ["m1", "m2", "m3"] {
        h.acd.member_busy(m, h.at(0));
    }
    h.acd.member_free("m3", h.at(1_000));
    h.acd.member_free("m1", h.at(2_000));
    h.acd.member_free("m2", h.at(3_000));
    h.drain();
    h.arrive("a", 0, 4_000);
    assert_eq!(one_offer(&h.drain()).2, ["m3"]);
    h.arrive("b", 0, 4_001);
    assert_eq!(one_offer(&h.drain()).2, ["m1"]);
}

#[test]
fn round_robin_rotates_through_the_members() {
    let mut q = cfg(&["m1", "m2", "m3"], Strategy::RoundRobin);
    q.wrap_up_ms = 0;
    let mut h = H::new(q);
    h.login(&["m1", "m2", "m3"], 0);
    let mut got = Vec::new();
    for (i, caller) in ["a", "b", "c", "d"].iter().enumerate() {
        let t = 1_000 * i as u64;
        h.arrive(caller, 0, t);
        let (id, _, members) = one_offer(&h.drain());
        got.push(members[0].clone());
        answer(&mut h, id, &members[0], t + 1);
        h.acd.call_ended(&c(caller), h.at(t + 2)).unwrap();
        h.drain();
    }
    assert_eq!(got, ["m1", "m2", "m3", "m1"]);
}

#[test]
fn a_member_on_a_direct_call_is_skipped_in_every_queue() {
    let mut h = H::new(cfg(&["m1", "m2"], Strategy::RoundRobin));
    h.acd
        .configure(QueueConfig::new("q2", &["m1"], "call-center"), h.t0)
        .unwrap();
    h.login(&["m1", "m2"], 0);
    h.acd.member_busy("m1", h.at(10));
    assert_eq!(h.acd.member_state("m1"), Some(MemberState::OnCall));
    h.arrive("a", 0, 20);
    assert_eq!(one_offer(&h.drain()).2, ["m2"]);
    h.acd.caller_arrives("q2", c("b"), 0, h.at(30)).unwrap();
    assert!(offers(&h.drain()).is_empty());
    h.acd.member_free("m1", h.at(40));
    assert_eq!(one_offer(&h.drain()).1, "b");
}

#[test]
fn a_direct_call_while_ringing_withdraws_the_offer_without_a_miss() {
    let mut h = H::new(cfg(&["m1", "m2"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.login(&["m2"], 5);
    h.arrive("a", 0, 10);
    let (id, _, members) = one_offer(&h.drain());
    assert_eq!(members, ["m1"]);
    h.acd.member_busy("m1", h.at(20));
    let cmds = h.drain();
    assert!(cmds.contains(&Command::CancelOffer {
        offer_id: id,
        members: vec!["m1".into()]
    }));
    assert_eq!(one_offer(&cmds).2, ["m2"]);
    assert_eq!(h.acd.period_stats("q").unwrap().missed_offers, 0);
}

// ---- abandon -----------------------------------------------------------------------------

#[test]
fn a_caller_hanging_up_while_ringing_cancels_the_offer() {
    let mut h = H::new(cfg(&["m1", "m2"], Strategy::RingAll));
    h.login(&["m1", "m2"], 0);
    h.arrive("a", 0, 0);
    let (id, _, _) = one_offer(&h.drain());
    h.acd.caller_leaves(&c("a"), h.at(4_000)).unwrap();
    let cmds = h.drain();
    assert!(cmds.contains(&Command::CancelOffer {
        offer_id: id,
        members: vec!["m1".into(), "m2".into()]
    }));
    assert!(events(&cmds, "a").contains(&EventKind::QueueAbandoned));
    assert_eq!(h.acd.member_state("m1"), Some(MemberState::Available));
    let s = h.acd.period_stats("q").unwrap();
    assert_eq!((s.abandoned, s.abandon_wait_ms), (1, 4_000));
    assert!(matches!(
        h.acd.offer_answered(id, "m1", h.at(4_001)),
        Err(AcdError::StaleOffer { .. })
    ));
}

// ---- announcements and expected wait -----------------------------------------------------

#[test]
fn announcements_at_entry_and_periodically_with_position() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 0);
    h.arrive("b", 0, 1_000);
    let cmds = h.drain();
    assert_eq!(
        announces(&cmds),
        [("a".into(), Some(1), None), ("b".into(), Some(2), None)]
    );
    assert_eq!(
        events(&cmds, "b"),
        [EventKind::QueueEnter, EventKind::QueuePosition]
    );
    assert_eq!(h.acd.poll_timeout(), Some(h.at(30_000)));
    h.tick(30_000);
    assert_eq!(announces(&h.drain()), [("a".into(), Some(1), None)]);
    h.acd.caller_leaves(&c("a"), h.at(30_500)).unwrap();
    h.tick(31_000);
    assert_eq!(announces(&h.drain()), [("b".into(), Some(1), None)]);
}

#[test]
fn a_caller_offered_at_once_hears_no_position() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.arrive("a", 0, 0);
    let cmds = h.drain();
    assert!(announces(&cmds).is_empty());
    assert_eq!(
        events(&cmds, "a"),
        [EventKind::QueueEnter, EventKind::QueueOffered]
    );
}

#[test]
fn expected_wait_comes_from_the_handle_time_of_past_calls() {
    let mut q = cfg(&["m1", "m2"], Strategy::LongestIdle);
    q.wrap_up_ms = 10_000;
    q.announce_position = false;
    let mut h = H::new(q);
    h.login(&["m1", "m2"], 0);
    assert_eq!(h.acd.expected_wait_ms("q", 1), None, "no history yet");
    // Two calls: talk 50 s and 70 s, so handle times 60 s and 80 s, average 70 s.
    for (caller, talk) in [("a", 50_000u64), ("b", 70_000)] {
        h.arrive(caller, 0, 0);
        let (id, _, members) = one_offer(&h.drain());
        answer(&mut h, id, &members[0], 0);
        h.acd.call_ended(&c(caller), h.at(talk)).unwrap();
    }
    h.drain();
    // 70 s × position / 2 serving members.
    assert_eq!(h.acd.expected_wait_ms("q", 3), Some(105_000));
    h.acd.member_busy("m1", h.at(100_000));
    h.acd.member_busy("m2", h.at(100_000));
    h.arrive("c", 0, 100_000);
    assert_eq!(announces(&h.drain()), [("c".into(), None, Some(35_000))]);
    h.acd.member_pause("m2", "break", h.at(100_001)).unwrap();
    assert_eq!(h.acd.expected_wait_ms("q", 1), Some(70_000));
}

// ---- statistics --------------------------------------------------------------------------

#[test]
fn period_statistics_service_level_and_averages() {
    let mut q = cfg(&["m1"], Strategy::LongestIdle);
    q.wrap_up_ms = 0;
    q.service_level_ms = 20_000;
    let mut h = H::new(q);
    h.login(&["m1"], 0);
    // a: answered after 10 s, talks 60 s.
    h.arrive("a", 0, 0);
    let (id, _, _) = one_offer(&h.drain());
    answer(&mut h, id, "m1", 10_000);
    // b waits during a's call: answered after 40 s, talks 30 s.
    h.arrive("b", 0, 30_000);
    h.acd.call_ended(&c("a"), h.at(70_000)).unwrap();
    let (id, _, _) = one_offer(&h.drain());
    answer(&mut h, id, "m1", 70_000);
    // c abandons after 5 s; d goes to fallback at max wait.
    h.arrive("c", 0, 71_000);
    h.acd.caller_leaves(&c("c"), h.at(76_000)).unwrap();
    h.arrive("d", 0, 80_000);
    h.tick(380_000);
    h.acd.call_ended(&c("b"), h.at(100_000)).unwrap();
    let s = *h.acd.period_stats("q").unwrap();
    assert_eq!(
        (
            s.offered,
            s.answered,
            s.answered_within_sl,
            s.abandoned,
            s.to_fallback
        ),
        (4, 2, 1, 1, 1)
    );
    assert_eq!(s.service_level(), Some(0.25));
    assert_eq!(s.average_wait_ms(), Some(25_000.0));
    assert_eq!(s.average_talk_ms(), Some(45_000.0));
    assert_eq!(s.average_abandon_wait_ms(), Some(5_000.0));
    h.acd.reset_period();
    let s = h.acd.period_stats("q").unwrap();
    assert_eq!(s.offered, 0);
    assert_eq!(s.service_level(), None);
    assert_eq!(s.average_wait_ms(), None);
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(json["answered_within_sl"], 0);
}

#[test]
fn live_snapshot_counts_waiting_callers_and_members_by_state() {
    let mut h = H::new(cfg(&["m1", "m2", "m3", "m4"], Strategy::LongestIdle));
    h.login(&["m1", "m2", "m3"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.acd.member_pause("m2", "training", h.at(0)).unwrap();
    h.acd.member_busy("m3", h.at(0));
    h.arrive("a", 0, 1_000);
    h.arrive("b", 0, 4_000);
    let snap = h.acd.snapshot("q", h.at(10_000)).unwrap();
    assert_eq!((snap.waiting, snap.longest_wait_ms), (2, 9_000));
    assert_eq!(
        (
            snap.counts.on_call,
            snap.counts.paused,
            snap.counts.logged_out,
            snap.counts.available
        ),
        (2, 1, 1, 0)
    );
    assert_eq!(snap.members[3], ("m4".into(), MemberState::LoggedOut));
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["members"][1][1]["state"], "paused");
    assert_eq!(json["members"][1][1]["reason"], "training");
}

// ---- configuration -----------------------------------------------------------------------

#[test]
fn validation_names_the_queue_and_each_bad_member_or_field() {
    let mut q = QueueConfig::new("mynumber", &["sato", "ghost", "sato"], "nowhere");
    q.ring_timeout_ms = 0;
    let errs = q
        .validate(&|u| u == "sato", &|r| r == "call-center")
        .unwrap_err();
    assert_eq!(
        errs,
        [
            "queue \"mynumber\": member \"ghost\" is not a known user",
            "queue \"mynumber\": member \"sato\" is listed twice",
            "queue \"mynumber\": fallback route \"nowhere\" does not resolve",
            "queue \"mynumber\": ring_timeout_ms must be at least 1000",
        ]
    );
    let empty = QueueConfig::new("mynumber", &[], "call-center");
    assert_eq!(
        empty.validate(&|_| true, &|_| true).unwrap_err(),
        ["queue \"mynumber\": has no members"]
    );
    let mut acd = Acd::new();
    assert!(matches!(
        acd.configure(empty, Instant::now()),
        Err(AcdError::InvalidConfig(_))
    ));
    assert!(QueueConfig::new("q", &["sato"], "call-center")
        .validate(&|_| true, &|_| true)
        .is_ok());
    assert_eq!(
        QueueConfig::new("my/number", &["sato"], "call-center")
            .validate(&|_| true, &|_| true)
            .unwrap_err(),
        ["queue \"my/number\": the name may only use letters, digits, '-' and '_' (at most 64)"]
    );
}

#[test]
fn config_reads_with_defaults_and_refuses_unknown_fields() {
    let q: QueueConfig = serde_json::from_str(
        r#"{"name":"mynumber","members":["sato"],"fallback":"call-center","strategy":"ring-all"}"#,
    )
    .unwrap();
    assert_eq!(q.strategy, Strategy::RingAll);
    let defaults = QueueConfig::new("mynumber", &["sato"], "call-center");
    assert_eq!(
        (
            q.ring_timeout_ms,
            q.wrap_up_ms,
            q.max_wait_ms,
            q.announce_every_ms
        ),
        (20_000, 10_000, 300_000, 30_000)
    );
    assert_eq!(
        (
            q.auto_pause_after_misses,
            q.service_level_ms,
            q.join_empty,
            q.leave_when_empty
        ),
        (3, 20_000, false, true)
    );
    assert_eq!(defaults.strategy, Strategy::LongestIdle);
    let err = serde_json::from_str::<QueueConfig>(
        r#"{"name":"q","members":["a"],"fallback":"f","ring_timeout":5}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("ring_timeout"), "{err}");
}

#[test]
fn reconfiguring_a_live_queue_keeps_its_waiting_callers() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 0);
    h.arrive("b", 0, 10);
    h.drain();
    let mut q = cfg(&["m1", "m2"], Strategy::RingAll);
    q.max_wait_ms = 100_000;
    h.acd.configure(q, h.at(1_000)).unwrap();
    assert_eq!(h.acd.position(&c("b")), Some(2));
    h.login(&["m2"], 2_000);
    let (id, caller, members) = one_offer(&h.drain());
    assert_eq!((caller.as_str(), members), ("a", vec!["m2".to_string()]));
    answer(&mut h, id, "m2", 3_000);
    h.tick(100_010);
    assert_eq!(
        fallbacks(&h.drain()),
        [("b".to_string(), FallbackReason::MaxWait)]
    );
}

#[test]
fn removing_a_queue_sends_its_callers_to_fallback() {
    let mut h = H::new(cfg(&["m1"], Strategy::LongestIdle));
    h.login(&["m1"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.arrive("a", 0, 0);
    h.drain();
    h.acd.remove_queue("q", h.at(5)).unwrap();
    assert_eq!(
        fallbacks(&h.drain()),
        [("a".to_string(), FallbackReason::QueueRemoved)]
    );
    assert_eq!(h.acd.queue_names().count(), 0);
}

// ---- the driver loop never spins ---------------------------------------------------------

#[test]
fn every_deadline_is_consumed_by_handle_timeout() {
    let mut q = cfg(&["m1", "m2"], Strategy::RingAll);
    q.auto_pause_after_misses = 0;
    q.max_wait_ms = 200_000;
    let mut h = H::new(q);
    h.login(&["m1", "m2"], 0);
    h.arrive("a", 0, 0);
    h.arrive("b", 0, 7);
    let mut wakeups = 0;
    let mut last = h.t0;
    while let Some(t) = h.acd.poll_timeout() {
        assert!(t >= last, "deadline went backwards");
        h.acd.handle_timeout(t);
        h.drain();
        assert!(
            h.acd.poll_timeout().is_none_or(|n| n > t),
            "deadline not consumed"
        );
        last = t;
        wakeups += 1;
        assert!(wakeups < 100, "too many wakeups");
    }
    // Nobody answers: both callers end at fallback after their max wait.
    assert_eq!(h.acd.period_stats("q").unwrap().to_fallback, 2);
}

// ---- the call's event log ----------------------------------------------------------------

#[test]
fn every_queue_step_lands_in_the_callers_event_log() {
    let mut q = cfg(&["m1", "m2"], Strategy::LongestIdle);
    q.auto_pause_after_misses = 1;
    let mut h = H::new(q);
    h.login(&["m1", "m2"], 0);
    h.acd.member_busy("m1", h.at(0));
    h.acd.member_busy("m2", h.at(0));
    let mut log = Vec::new();
    h.arrive("a", 0, 0);
    log.extend(h.drain());
    h.acd.member_free("m1", h.at(1_000));
    log.extend(h.drain());
    let (id, _, _) = one_offer(&log);
    h.tick(21_000); // m1 does not answer: auto-paused after one miss
    h.acd.member_free("m2", h.at(22_000));
    log.extend(h.drain());
    let id2 = offers(&log)[1].0;
    assert_ne!(id, id2);
    log.extend(answer(&mut h, id2, "m2", 25_000));
    // The caller hanging up after the connect ends the call.
    h.acd.caller_leaves(&c("a"), h.at(85_000)).unwrap();
    log.extend(h.drain());
    assert_eq!(
        events(&log, "a"),
        [
            EventKind::QueueEnter,
            EventKind::QueuePosition,
            EventKind::QueueOffered,
            EventKind::QueueNoAnswer,
            EventKind::QueueOffered,
            EventKind::QueueAnswered,
            EventKind::QueueCallEnded,
        ]
    );
    let detail = |kind: EventKind| {
        log.iter()
            .find_map(|cmd| match cmd {
                Command::Event {
                    kind: k, detail, ..
                } if *k == kind => Some(detail.clone()),
                _ => None,
            })
            .unwrap()
    };
    let no_answer = detail(EventKind::QueueNoAnswer);
    assert_eq!(no_answer["member"], "m1");
    assert_eq!(no_answer["reason"], "no-answer");
    assert_eq!(no_answer["auto_paused"], true);
    assert_eq!(detail(EventKind::QueueAnswered)["wait_ms"], 25_000);
    assert_eq!(detail(EventKind::QueueCallEnded)["talk_ms"], 60_000);
    assert_eq!(EventKind::QueueNoAnswer.as_str(), "queue-no-answer");
    assert_eq!(
        serde_json::to_value(EventKind::QueueNoAnswer).unwrap(),
        "queue-no-answer"
    );
    let s = h.acd.period_stats("q").unwrap();
    assert_eq!((s.ended, s.total_talk_ms, s.missed_offers), (1, 60_000, 1));
}

// ---- presence kept across restarts ------------------------------------------------------

#[test]
fn presence_is_log_in_and_pause_apart_from_calls_and_restores() {
    use crate::Presence;
    let mut h = H::new(cfg(&["sato", "suzuki", "tanaka"], Strategy::LongestIdle));
    h.login(&["sato", "suzuki"], 0);
    h.acd.member_pause("suzuki", "昼休み", h.at(0)).unwrap();
    // sato takes a call: its presence is still "in", and pausing mid-call shows as paused.
    h.arrive("c1", 0, 10);
    let (offer, _, _) = one_offer(&h.drain());
    h.acd.offer_answered(offer, "sato", h.at(20)).unwrap();
    let got: Vec<(String, Presence)> = h.acd.presences().map(|(m, p)| (m.to_string(), p)).collect();
    assert_eq!(
        got,
        [
            ("sato".to_string(), Presence::In),
            (
                "suzuki".to_string(),
                Presence::Paused {
                    reason: "昼休み".into()
                }
            ),
            ("tanaka".to_string(), Presence::Out),
        ]
    );
    let changes = h.acd.presence_changes();
    h.acd.member_pause("sato", "研修", h.at(30)).unwrap();
    assert!(h.acd.presence_changes() > changes);
    assert_eq!(h.acd.member_state("sato"), Some(MemberState::OnCall));
    assert!(h.acd.presences().any(|(m, p)| m == "sato"
        && p == Presence::Paused {
            reason: "研修".into()
        }));

    // A new machine (a restart) given the kept presences is in the same state.
    let mut fresh = H::new(cfg(&["sato", "suzuki", "tanaka"], Strategy::LongestIdle));
    for (m, p) in &got {
        fresh.acd.restore_presence(m, p, fresh.at(0)).unwrap();
    }
    assert_eq!(fresh.acd.member_state("sato"), Some(MemberState::Available));
    assert_eq!(
        fresh.acd.member_state("suzuki"),
        Some(MemberState::Paused {
            reason: "昼休み".into()
        })
    );
    assert_eq!(
        fresh.acd.member_state("tanaka"),
        Some(MemberState::LoggedOut)
    );
    // Users in no queue are never restored.
    assert!(matches!(
        fresh
            .acd
            .restore_presence("ghost", &Presence::In, fresh.at(0)),
        Err(AcdError::NotAMember(_))
    ));
}
