//! Deadlines of all transactions in one min-heap, so a timeout costs O(log n) and never
//! scans the table. Entries are not removed when a transaction stops or reschedules a
//! timer; instead each popped entry is checked against the transaction's current deadline
//! for that slot ("lazy deletion"). Every deadline lies at most 64*T1 ahead, so stale
//! entries drain on their own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::TxRef;

/// Which of a transaction's independent timers an entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Slot {
    /// A, E (client requests), G and 2xx retransmission (server responses).
    Retransmit,
    /// B, D, F, K, M, CANCEL guard (client); H, I, J, L (server).
    Timeout,
    /// The automatic 100 Trying of an INVITE server transaction.
    Trying,
}

#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Reverse<(Instant, TxRef, Slot)>>,
}

impl TimerHeap {
    pub fn schedule(&mut self, at: Instant, tx: TxRef, slot: Slot) {
        self.heap.push(Reverse((at, tx, slot)));
    }

    pub fn peek(&self) -> Option<(Instant, TxRef, Slot)> {
        self.heap.peek().map(|Reverse(e)| *e)
    }

    pub fn pop(&mut self) -> Option<(Instant, TxRef, Slot)> {
        self.heap.pop().map(|Reverse(e)| e)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}
