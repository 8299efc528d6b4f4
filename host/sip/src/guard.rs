//! Brute-force protection for digest authentication, sans-IO (time in milliseconds is an
//! input).
//!
//! Counting: failed authentications (a 403 from [`crate::auth`]) per source address, per
//! username and per (source, username) pair, in fixed windows of [`GuardConfig::window_ms`].
//! Challenges (401) are not failures. The three counts are independent: a success for one
//! user takes back only that source's failures *for that user* (a mistyped password on a
//! phone), never its failures for another user, so "8 wrong guesses for 1002, one good
//! REGISTER as 1001" cannot reset the source (issue 14).
//!
//! Escalation for a source: after `delay_after` failures in a window each further 403 is
//! delayed (the caller holds the response for [`Penalty::Delay`]; it doubles per failure up
//! to `max_delay_ms`); at `block_after` the source is blocked for `block_ms`.
//!
//! Blocking means **silent drop**: [`Guard::admit`] answers [`Admission::Drop`] and the caller
//! sends nothing, to any method. A scanner learns nothing and costs us nothing, and the 408
//! an honest phone sees in the same NAT is no worse than a 403.
//!
//! Per username we never block (that would let anyone lock a user out), but after
//! `user_delay_after` failures the user's credentials are **checked at most once per back-off
//! interval** ([`Guard::gate_user`]), whatever the source: guesses sent in parallel from many
//! addresses are refused unchecked (the same 403, so the guesser cannot tell), not merely
//! answered late. Sources that authenticated as the user before (its phones) are exempt, so
//! an attack on a user does not log its own devices out.
//!
//! Memory is bounded ([`GuardConfig::max_sources`], [`GuardConfig::max_users`]): when a
//! table is full, idle entries are swept, then the least recently seen eighth is dropped,
//! sparing active blocks while any unblocked entry remains. IPv6 sources are counted per /64
//! (one subscriber's prefix), so rotating addresses inside a prefix gains nothing, and IPv4-
//! mapped IPv6 counts as the IPv4 address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};

/// Thresholds and limits. Defaults suit a PBX with a few hundred phones.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Length of a counting window.
    pub window_ms: u64,
    /// Failures from a source within a window before responses are delayed.
    pub delay_after: u32,
    /// Failures from a source within a window that block it.
    pub block_after: u32,
    /// First delay; doubles with each further failure.
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// How long a block lasts.
    pub block_ms: u64,
    /// Failures for one username (from any source) before its credentials are checked at
    /// most once per back-off interval.
    pub user_delay_after: u32,
    /// Maximum tracked sources / usernames (the pair table holds up to `max_sources`).
    pub max_sources: usize,
    pub max_users: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            window_ms: 10 * 60_000,
            delay_after: 3,
            block_after: 10,
            base_delay_ms: 500,
            max_delay_ms: 8_000,
            block_ms: 30 * 60_000,
            user_delay_after: 5,
            max_sources: 65_536,
            max_users: 65_536,
        }
    }
}

/// Whether to process a request at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allow,
    /// The source is blocked: drop the request without answering.
    Drop,
}

/// What to do with the 403 after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    /// Send it now.
    None,
    /// Send it after `ms` milliseconds.
    Delay { ms: u64 },
    /// The source is now blocked until `until_ms`: do not send it.
    Block { until_ms: u64 },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start_ms: u64,
    failures: u32,
    blocked_until_ms: Option<u64>,
    last_seen_ms: u64,
    /// Users only: the earliest time the next credentials may be checked.
    next_check_ms: u64,
}

impl Entry {
    fn blocked_at(&self, now_ms: u64) -> bool {
        self.blocked_until_ms.is_some_and(|u| now_ms < u)
    }

    fn live_at(&self, now_ms: u64, window_ms: u64) -> bool {
        self.blocked_at(now_ms) || now_ms.saturating_sub(self.window_start_ms) < window_ms
    }
}

/// A bounded map of counters.
#[derive(Debug)]
struct Table<K> {
    map: HashMap<K, Entry>,
    cap: usize,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(cap: usize) -> Table<K> {
        Table {
            map: HashMap::new(),
            cap: cap.max(8),
        }
    }

    /// The live entry for `key` (`None` once its window has passed).
    fn live(&self, key: &K, now_ms: u64, window_ms: u64) -> Option<&Entry> {
        self.map.get(key).filter(|e| e.live_at(now_ms, window_ms))
    }

    /// Counts one failure and returns the entry.
    fn fail(&mut self, key: &K, now_ms: u64, window_ms: u64) -> &mut Entry {
        if !self.map.contains_key(key) && self.map.len() >= self.cap {
            self.make_room(now_ms, window_ms);
        }
        let e = self.map.entry(key.clone()).or_insert(Entry {
            window_start_ms: now_ms,
            failures: 0,
            blocked_until_ms: None,
            last_seen_ms: now_ms,
            next_check_ms: 0,
        });
        if e.blocked_until_ms.is_some_and(|u| now_ms >= u)
            || now_ms.saturating_sub(e.window_start_ms) >= window_ms
        {
            e.window_start_ms = now_ms;
            e.failures = 0;
            e.blocked_until_ms = None;
            e.next_check_ms = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last_seen_ms = now_ms;
        e
    }

    /// Takes `n` failures back (a success for the pair that made them).
    fn forgive(&mut self, key: &K, n: u32) {
        if let Some(e) = self.map.get_mut(key) {
            e.failures = e.failures.saturating_sub(n);
            if e.failures == 0 && e.blocked_until_ms.is_none() {
                self.map.remove(key);
            }
        }
    }

    fn make_room(&mut self, now_ms: u64, window_ms: u64) {
        self.map.retain(|_, e| e.live_at(now_ms, window_ms));
        if self.map.len() < self.cap {
            return;
        }
        // Victims: least recently seen, unblocked first.
        let mut order: Vec<(bool, u64, K)> = self
            .map
            .iter()
            .map(|(k, e)| (e.blocked_at(now_ms), e.last_seen_ms, k.clone()))
            .collect();
        order.sort_unstable_by_key(|(blocked, seen, _)| (*blocked, *seen));
        for (_, _, k) in order.into_iter().take(self.cap / 8) {
            self.map.remove(&k);
        }
    }

    fn sweep(&mut self, now_ms: u64, window_ms: u64) {
        self.map.retain(|_, e| e.live_at(now_ms, window_ms));
    }
}

/// Sources that authenticated as a user, remembered per user (a few each).
const KNOWN_SOURCES_PER_USER: usize = 4;

/// Failure counters per source, per user and per pair. One instance per server.
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    sources: Table<IpAddr>,
    users: Table<String>,
    pairs: Table<(IpAddr, String)>,
    /// Per user, the sources that authenticated as it (exempt from its check gate).
    known: HashMap<String, Vec<IpAddr>>,
}

/// The key a source is counted under: IPv4 as is, IPv6 by /64.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Usernames are attacker-chosen: bound the key size.
fn user_key(user: &str) -> String {
    let mut end = user.len().min(64);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    user[..end].to_string()
}

impl Guard {
    pub fn new(config: GuardConfig) -> Guard {
        Guard {
            sources: Table::new(config.max_sources),
            users: Table::new(config.max_users),
            pairs: Table::new(config.max_sources),
            known: HashMap::new(),
            config,
        }
    }

    /// Call before any work on a request from `ip`, whatever its method.
    pub fn admit(&self, ip: IpAddr, now_ms: u64) -> Admission {
        match self.sources.map.get(&source_key(ip)) {
            Some(e) if e.blocked_at(now_ms) => Admission::Drop,
            _ => Admission::Allow,
        }
    }

    /// Call just before verifying credentials for `user` from `ip`: `true` = check them,
    /// `false` = refuse them unchecked (answer exactly as for a wrong password, and count the
    /// failure). Once a user has `user_delay_after` failures in the window, one check is
    /// allowed per back-off interval, shared by every source but the user's own phones.
    pub fn gate_user(&mut self, ip: IpAddr, user: &str, now_ms: u64) -> bool {
        let c = &self.config;
        let key = user_key(user);
        if self
            .known
            .get(&key)
            .is_some_and(|k| k.contains(&source_key(ip)))
        {
            return true;
        }
        let Some(e) = self.users.map.get_mut(&key) else {
            return true;
        };
        if !e.live_at(now_ms, c.window_ms) || e.failures < c.user_delay_after {
            return true;
        }
        if now_ms < e.next_check_ms {
            return false;
        }
        let wait = backoff(c, e.failures.saturating_add(1), c.user_delay_after);
        e.next_check_ms = now_ms.saturating_add(wait.max(c.base_delay_ms));
        true
    }

    /// Records a failed authentication (`user` as claimed in the credentials, if any).
    pub fn record_failure(&mut self, ip: IpAddr, user: Option<&str>, now_ms: u64) -> Penalty {
        let c = &self.config;
        let key = source_key(ip);
        let src = self.sources.fail(&key, now_ms, c.window_ms);
        if src.failures >= c.block_after {
            let until_ms = now_ms.saturating_add(c.block_ms);
            src.blocked_until_ms = Some(until_ms);
            tracing::warn!(%ip, failures = src.failures, "blocking source after failed authentications");
            return Penalty::Block { until_ms };
        }
        let mut delay = backoff(c, src.failures, c.delay_after);
        if let Some(u) = user {
            let u = user_key(u);
            self.pairs.fail(&(key, u.clone()), now_ms, c.window_ms);
            let ue = self.users.fail(&u, now_ms, c.window_ms);
            delay = delay.max(backoff(c, ue.failures, c.user_delay_after));
        }
        if delay == 0 {
            Penalty::None
        } else {
            Penalty::Delay { ms: delay }
        }
    }

    /// Records a successful authentication of `user` from `ip`: takes back the failures this
    /// source made for this user (from the source's and the user's counts), never any other,
    /// and never lifts a block. The source is remembered as one of the user's own.
    pub fn record_success(&mut self, ip: IpAddr, user: Option<&str>, now_ms: u64) {
        let Some(u) = user else { return };
        let key = source_key(ip);
        let u = user_key(u);
        let pair = (key, u.clone());
        let n = self
            .pairs
            .live(&pair, now_ms, self.config.window_ms)
            .map_or(0, |e| e.failures);
        self.pairs.map.remove(&pair);
        if n > 0 {
            self.sources.forgive(&key, n);
            self.users.forgive(&u, n);
        }
        if !self.known.contains_key(&u) && self.known.len() >= self.config.max_users.max(8) {
            // Full: only users under attack need the exemption.
            let users = &self.users.map;
            self.known.retain(|name, _| users.contains_key(name));
            if self.known.len() >= self.config.max_users.max(8) {
                self.known.clear();
            }
        }
        let list = self.known.entry(u).or_default();
        if !list.contains(&key) {
            if list.len() >= KNOWN_SOURCES_PER_USER {
                list.remove(0);
            }
            list.push(key);
        }
    }

    /// Drops idle entries; call now and then (e.g. once a minute) to return memory early.
    pub fn sweep(&mut self, now_ms: u64) {
        let w = self.config.window_ms;
        self.sources.sweep(now_ms, w);
        self.users.sweep(now_ms, w);
        self.pairs.sweep(now_ms, w);
    }

    /// (tracked sources, tracked users), for metrics.
    pub fn tracked(&self) -> (usize, usize) {
        (self.sources.map.len(), self.users.map.len())
    }
}

/// Delay for the `failures`-th failure when delays start after `after`.
fn backoff(c: &GuardConfig, failures: u32, after: u32) -> u64 {
    if failures <= after {
        return 0;
    }
    let exp = (failures - after - 1).min(20);
    c.base_delay_ms.saturating_mul(1 << exp).min(c.max_delay_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn guard() -> Guard {
        Guard::new(GuardConfig::default())
    }

    #[test]
    fn failures_escalate_from_none_to_delay_to_block() {
        let mut g = guard();
        let a = ip("198.51.100.7");
        let mut t = 0;
        let mut seen = Vec::new();
        for _ in 0..10 {
            assert_eq!(g.admit(a, t), Admission::Allow);
            seen.push(g.record_failure(a, None, t));
            t += 1000;
        }
        assert_eq!(&seen[..3], &[Penalty::None; 3]);
        assert_eq!(seen[3], Penalty::Delay { ms: 500 });
        assert_eq!(seen[4], Penalty::Delay { ms: 1000 });
        assert_eq!(seen[7], Penalty::Delay { ms: 8000 }, "capped");
        assert_eq!(seen[8], Penalty::Delay { ms: 8000 });
        let until = 9000 + 30 * 60_000;
        assert_eq!(seen[9], Penalty::Block { until_ms: until });
        assert_eq!(g.admit(a, t), Admission::Drop);
        assert_eq!(g.admit(a, until - 1), Admission::Drop);
        assert_eq!(
            g.admit(ip("198.51.100.8"), t),
            Admission::Allow,
            "only that source"
        );
        assert_eq!(g.admit(a, until), Admission::Allow, "block expires");
        // After expiry the count starts over.
        assert_eq!(g.record_failure(a, None, until), Penalty::None);
    }

    #[test]
    fn window_expiry_resets_the_count() {
        let mut g = guard();
        let a = ip("198.51.100.7");
        for i in 0..3 {
            assert_eq!(g.record_failure(a, None, i), Penalty::None);
        }
        assert!(matches!(
            g.record_failure(a, None, 10),
            Penalty::Delay { .. }
        ));
        let later = 10 * 60_000 + 1;
        assert_eq!(g.record_failure(a, None, later), Penalty::None);
    }

    #[test]
    fn a_success_takes_back_only_that_users_failures_from_that_source() {
        let mut g = guard();
        let a = ip("203.0.113.9");
        for i in 0..3 {
            g.record_failure(a, Some("2001"), i);
        }
        g.record_success(a, Some("2001"), 10);
        assert_eq!(g.tracked(), (0, 0), "a mistyped password is forgiven");
        assert_eq!(g.record_failure(a, Some("2001"), 11), Penalty::None);
    }

    /// Issue 14: 8 wrong guesses for 1002, one good REGISTER as 1001, repeated, never
    /// blocked. Now the good REGISTER forgives nothing of 1002's, so the source is blocked at
    /// its 10th failure.
    #[test]
    fn the_reset_bypass_sequence_is_blocked() {
        let mut g = guard();
        let a = ip("198.51.100.20");
        let mut t = 0;
        let mut failures = 0;
        let blocked_at = 'outer: loop {
            for _ in 0..8 {
                if g.admit(a, t) == Admission::Drop {
                    break 'outer failures;
                }
                assert!(g.gate_user(a, "1002", t) || failures >= 5);
                failures += 1;
                g.record_failure(a, Some("1002"), t);
                t += 10;
            }
            if g.admit(a, t) == Admission::Drop {
                break failures;
            }
            g.record_success(a, Some("1001"), t);
            t += 10;
            assert!(failures < 100, "never blocked");
        };
        assert_eq!(blocked_at, 10);
        // A later success does not lift the block either.
        g.record_success(a, Some("1001"), t);
        assert_eq!(g.admit(a, t + 1), Admission::Drop);
    }

    #[test]
    fn a_success_does_not_clear_failures_made_by_other_sources() {
        let mut g = guard();
        for i in 0..5u8 {
            g.record_failure(IpAddr::from([192, 0, 2, i]), Some("2001"), u64::from(i));
        }
        // The real user logs in from its own phone.
        g.record_success(ip("10.0.0.5"), Some("2001"), 10);
        assert_eq!(g.tracked().1, 1, "2001's failures from the attackers stay");
        assert!(matches!(
            g.record_failure(ip("192.0.2.9"), Some("2001"), 11),
            Penalty::Delay { .. }
        ));
    }

    /// Issue 14: three addresses guessing in parallel found a password in 0.01 s, because
    /// the per-user delay only held refusals back. Now the credentials stop being checked.
    #[test]
    fn parallel_guesses_from_many_sources_are_throttled_before_they_are_checked() {
        let mut g = guard();
        let attackers = [ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")];
        let mut checked = 0;
        let mut sent = 0;
        // 100 guesses from each, 1 ms apart, without waiting for answers.
        for t in 0..300u64 {
            let src = attackers[(t % 3) as usize];
            if g.admit(src, t) == Admission::Drop {
                continue;
            }
            sent += 1;
            if g.gate_user(src, "1002", t) {
                checked += 1;
            }
            g.record_failure(src, Some("1002"), t);
        }
        assert!(checked <= 6, "{checked} guesses checked");
        assert_eq!(sent, 30, "each source is blocked at its 10th failure");
        for a in attackers {
            assert_eq!(g.admit(a, 301), Admission::Drop);
        }
        // Over a longer, slower attack the checks stay one per back-off interval.
        let mut slow = Guard::new(GuardConfig {
            block_after: u32::MAX,
            ..GuardConfig::default()
        });
        let mut checked = 0;
        for t in (0..60_000u64).step_by(10) {
            let src = IpAddr::from([198, 51, 100, (t / 10 % 200) as u8]);
            if slow.gate_user(src, "1002", t) {
                checked += 1;
            }
            slow.record_failure(src, Some("1002"), t);
        }
        assert!(checked < 20, "{checked} checks in a minute");
    }

    #[test]
    fn the_users_own_phone_is_not_gated_during_an_attack() {
        let mut g = guard();
        let phone = ip("10.0.0.5");
        g.record_success(phone, Some("2001"), 0);
        for i in 0..20u8 {
            g.record_failure(IpAddr::from([192, 0, 2, i]), Some("2001"), u64::from(i));
        }
        assert!(
            g.gate_user(ip("192.0.2.99"), "2001", 30),
            "one check per interval"
        );
        assert!(!g.gate_user(ip("192.0.2.98"), "2001", 31));
        assert!(g.gate_user(phone, "2001", 30));
        assert!(g.gate_user(phone, "2001", 31));
        // Another user is not affected.
        assert!(g.gate_user(ip("192.0.2.99"), "2002", 30));
    }

    #[test]
    fn a_user_attacked_from_many_sources_is_delayed_but_never_blocked() {
        let mut g = guard();
        let mut last = Penalty::None;
        for i in 0..50u32 {
            let src = IpAddr::from([192, 0, 2, i as u8]);
            last = g.record_failure(src, Some("2001"), u64::from(i));
            assert!(!matches!(last, Penalty::Block { .. }));
        }
        assert_eq!(last, Penalty::Delay { ms: 8000 });
        // The real user, from a clean source, is still admitted.
        assert_eq!(g.admit(ip("10.0.0.5"), 100), Admission::Allow);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        assert_eq!(source_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(source_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        let mut g = guard();
        for i in 0..10u16 {
            let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, i, i, i));
            g.record_failure(v6, None, u64::from(i));
        }
        assert_eq!(g.admit(ip("2001:db8:1:2::99"), 20), Admission::Drop);
        assert_eq!(g.admit(ip("2001:db8:1:3::1"), 20), Admission::Allow);
    }

    #[test]
    fn rotating_sources_cannot_grow_memory() {
        let mut g = Guard::new(GuardConfig {
            max_sources: 1000,
            max_users: 1000,
            ..GuardConfig::default()
        });
        let blocked = ip("198.51.100.1");
        for t in 0..10 {
            g.record_failure(blocked, None, t);
        }
        for i in 0..200_000u32 {
            let src = IpAddr::from(i.wrapping_add(0x0a00_0000).to_be_bytes());
            g.record_failure(
                src,
                Some(&format!("user{i}{}", "x".repeat(200))),
                100 + u64::from(i),
            );
            let (s, u) = g.tracked();
            assert!(s <= 1000 && u <= 1000, "{s} {u}");
        }
        assert_eq!(
            g.admit(blocked, 200_100),
            Admission::Drop,
            "blocks survive eviction"
        );
    }

    #[test]
    fn sweep_returns_memory_but_keeps_blocks() {
        let mut g = guard();
        let a = ip("198.51.100.1");
        for t in 0..10 {
            g.record_failure(a, None, t);
        }
        g.record_failure(ip("198.51.100.2"), Some("x"), 0);
        g.sweep(11 * 60_000);
        assert_eq!(g.tracked(), (1, 0));
        assert_eq!(g.admit(a, 11 * 60_000), Admission::Drop);
    }

    #[test]
    fn long_unicode_usernames_are_truncated_safely() {
        assert_eq!(user_key(&"é".repeat(100)).len(), 64);
        assert_eq!(user_key("2001"), "2001");
    }
}
