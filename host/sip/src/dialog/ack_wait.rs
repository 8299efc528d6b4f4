//! The UAS side of a 2xx to INVITE (RFC 3261 §13.3.1.4): retransmit the 2xx at T1, 2*T1,
//! … capped at T2 until the ACK arrives; give up after 64*T1, after which the TU ends the
//! dialog with BYE. A pure schedule: the caller passes the time in and sends.
//!
//! [`TransactionLayer`](crate::transaction::TransactionLayer) runs one of these for each
//! 2xx it sends on an INVITE server transaction, so the driver has a single run loop; the
//! give-up surfaces as [`TxEvent::AckTimeout`](crate::transaction::TxEvent::AckTimeout).

use std::time::{Duration, Instant};

/// What the caller must do when the schedule's deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckWaitAction {
    /// Nothing due yet (or already acknowledged).
    Idle,
    /// Send the 2xx again.
    Retransmit,
    /// 64*T1 passed without ACK: stop, and end the dialog.
    GiveUp,
}

/// Retransmission schedule of one 2xx.
#[derive(Debug, Clone)]
pub struct AckWait {
    next_retransmit: Option<Instant>,
    interval: Duration,
    t2: Duration,
    give_up_at: Instant,
    acked: bool,
    gave_up: bool,
}

impl AckWait {
    /// Starts when the 2xx is first sent at `now`. `retransmit` is false on reliable
    /// transports when configured so (then only the 64*T1 give-up runs).
    pub fn new(now: Instant, t1: Duration, t2: Duration, retransmit: bool) -> AckWait {
        AckWait {
            next_retransmit: retransmit.then(|| now + t1),
            interval: t1,
            t2,
            give_up_at: now + t1 * 64,
            acked: false,
            gave_up: false,
        }
    }

    /// When the next retransmission is due, if any.
    pub fn retransmit_at(&self) -> Option<Instant> {
        self.next_retransmit
            .filter(|_| !self.acked && !self.gave_up)
    }

    /// When we give up waiting for the ACK (64*T1 after the first send).
    pub fn give_up_at(&self) -> Instant {
        self.give_up_at
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.acked || self.gave_up {
            return None;
        }
        Some(match self.retransmit_at() {
            Some(r) if r < self.give_up_at => r,
            _ => self.give_up_at,
        })
    }

    /// Records the ACK; true when it is the first one (later ones are retransmissions).
    pub fn on_ack(&mut self) -> bool {
        !std::mem::replace(&mut self.acked, true)
    }

    pub fn is_acked(&self) -> bool {
        self.acked
    }

    /// Advances the schedule to `now`.
    pub fn poll(&mut self, now: Instant) -> AckWaitAction {
        if self.acked || self.gave_up {
            return AckWaitAction::Idle;
        }
        if now >= self.give_up_at {
            self.gave_up = true;
            return AckWaitAction::GiveUp;
        }
        match self.next_retransmit {
            Some(at) if now >= at => {
                // Scheduled from the due time, not from `now`, so a late poll does not
                // stretch the schedule.
                self.interval = (self.interval * 2).min(self.t2);
                self.next_retransmit = Some(at + self.interval);
                AckWaitAction::Retransmit
            }
            _ => AckWaitAction::Idle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_t2_then_gives_up_at_64_t1() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = AckWait::new(t0, ms(500), ms(4000), true);
        let mut sends = Vec::new();
        while let Some(at) = w.next_deadline() {
            match w.poll(at) {
                AckWaitAction::Retransmit => sends.push((at - t0).as_millis()),
                AckWaitAction::GiveUp => {
                    assert_eq!(at - t0, ms(32_000));
                    break;
                }
                AckWaitAction::Idle => panic!("deadline without action"),
            }
        }
        assert_eq!(
            sends,
            [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
    }

    #[test]
    fn ack_stops_everything() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = AckWait::new(t0, ms(500), ms(4000), true);
        assert_eq!(w.poll(t0 + ms(500)), AckWaitAction::Retransmit);
        assert!(w.on_ack());
        assert!(!w.on_ack());
        assert_eq!(w.next_deadline(), None);
        assert_eq!(w.poll(t0 + ms(40_000)), AckWaitAction::Idle);
    }

    #[test]
    fn without_retransmit_only_gives_up() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut w = AckWait::new(t0, ms(500), ms(4000), false);
        assert_eq!(w.next_deadline(), Some(t0 + ms(32_000)));
        assert_eq!(w.poll(t0 + ms(31_999)), AckWaitAction::Idle);
        assert_eq!(w.poll(t0 + ms(32_000)), AckWaitAction::GiveUp);
    }
}
