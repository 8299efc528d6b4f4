//! Symmetric RTP: which datagrams count as the peer's media (sans-IO).
//!
//! The SDP `c=`/`m=` address is only where we START sending; behind NAT the
//! peer's packets come from elsewhere, so we latch onto the source address
//! (and SSRC) of the first valid packet and send there from then on
//! (symmetric RTP, RFC 4961 practice). After that:
//!
//! * a packet from another address is dropped ("unexpected source") unless
//!   the latched source has been silent for [`FilterConfig::addr_silence`]
//!   AND the newcomer sent [`FilterConfig::confirm_packets`] packets in a
//!   row: a NAT rebinding re-latches, a spoofer next to a talking peer never does;
//! * a new SSRC from the latched address (SBC failover, re-INVITE) takes
//!   over under the same rule with the shorter [`FilterConfig::ssrc_silence`];
//!   packets of several SSRCs interleaved (a flood) are dropped ("foreign
//!   SSRC") and cannot make the receiver flip between sources.
//!
//! The signalling side resets the latch when a re-INVITE moves the media.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Re-latch rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterConfig {
    /// Silence of the latched source before another address may take over.
    pub addr_silence: Duration,
    /// Silence of the latched SSRC before another SSRC from the same address may take over.
    pub ssrc_silence: Duration,
    /// Consecutive packets the newcomer must send.
    pub confirm_packets: u32,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            addr_silence: Duration::from_secs(1),
            ssrc_silence: Duration::from_millis(60),
            confirm_packets: 3,
        }
    }
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The peer's media. `latched` is true when the source address was
    /// (re)learnt by this packet: send to it from now on.
    Accept {
        /// The source address is new.
        latched: bool,
    },
    /// From an address that is not the peer's.
    UnexpectedSource,
    /// From the peer's address but with an SSRC that has not taken over.
    ForeignSsrc,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    addr: SocketAddr,
    ssrc: u32,
    last: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    addr: SocketAddr,
    ssrc: u32,
    count: u32,
}

/// Per-leg source filter.
#[derive(Debug, Clone, Default)]
pub struct SourceFilter {
    cfg: FilterConfig,
    current: Option<Current>,
    candidate: Option<Candidate>,
}

impl SourceFilter {
    /// New filter, nothing latched.
    pub fn new(cfg: FilterConfig) -> Self {
        SourceFilter {
            cfg,
            current: None,
            candidate: None,
        }
    }

    /// Forget the latched source (signalling moved the media).
    pub fn reset(&mut self) {
        self.current = None;
        self.candidate = None;
    }

    /// The address we latched onto, if any.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.current.map(|c| c.addr)
    }

    /// Judge a packet that parsed as RTP with a negotiated payload type.
    pub fn check(&mut self, from: SocketAddr, ssrc: u32, now: Instant) -> Verdict {
        let Some(cur) = self.current.as_mut() else {
            self.current = Some(Current {
                addr: from,
                ssrc,
                last: now,
            });
            return Verdict::Accept { latched: true };
        };
        if cur.addr == from && cur.ssrc == ssrc {
            cur.last = now;
            self.candidate = None;
            return Verdict::Accept { latched: false };
        }
        let same_addr = cur.addr == from;
        let cand = match self.candidate.as_mut() {
            Some(c) if c.addr == from && c.ssrc == ssrc => {
                c.count = c.count.saturating_add(1);
                *c
            }
            _ => {
                let c = Candidate {
                    addr: from,
                    ssrc,
                    count: 1,
                };
                self.candidate = Some(c);
                c
            }
        };
        let needed = if same_addr {
            self.cfg.ssrc_silence
        } else {
            self.cfg.addr_silence
        };
        if cand.count >= self.cfg.confirm_packets
            && now.saturating_duration_since(cur.last) >= needed
        {
            *cur = Current {
                addr: from,
                ssrc,
                last: now,
            };
            self.candidate = None;
            return Verdict::Accept {
                latched: !same_addr,
            };
        }
        if same_addr {
            Verdict::ForeignSsrc
        } else {
            Verdict::UnexpectedSource
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn first_packet_latches_then_strangers_are_dropped_while_the_peer_talks() {
        let t0 = Instant::now();
        let mut f = SourceFilter::new(FilterConfig::default());
        assert_eq!(f.check(addr(1), 7, t0), Verdict::Accept { latched: true });
        for i in 1..100u64 {
            let now = t0 + Duration::from_millis(20 * i);
            assert_eq!(f.check(addr(1), 7, now), Verdict::Accept { latched: false });
            assert_eq!(f.check(addr(2), 9, now), Verdict::UnexpectedSource);
        }
        assert_eq!(f.latched(), Some(addr(1)));
    }

    #[test]
    fn nat_rebinding_relatches_after_silence_and_confirmation() {
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        let mut f = SourceFilter::new(FilterConfig::default());
        f.check(addr(1), 7, t0);
        // Same stream, new port: too early.
        assert_eq!(f.check(addr(3), 7, ms(500)), Verdict::UnexpectedSource);
        assert_eq!(f.check(addr(3), 7, ms(1000)), Verdict::UnexpectedSource);
        assert_eq!(
            f.check(addr(3), 7, ms(1020)),
            Verdict::Accept { latched: true }
        );
        assert_eq!(f.latched(), Some(addr(3)));
        assert_eq!(f.check(addr(1), 7, ms(1040)), Verdict::UnexpectedSource);
    }

    #[test]
    fn interleaved_ssrc_flood_never_takes_over_but_a_clean_switch_does() {
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        let mut f = SourceFilter::new(FilterConfig::default());
        f.check(addr(1), 7, t0);
        for i in 1..50u64 {
            assert_eq!(
                f.check(addr(1), 7, ms(20 * i)),
                Verdict::Accept { latched: false }
            );
            assert_eq!(
                f.check(addr(1), 1000 + i as u32, ms(20 * i)),
                Verdict::ForeignSsrc
            );
            assert_eq!(f.check(addr(1), 8, ms(20 * i + 1)), Verdict::ForeignSsrc);
        }
        // SSRC 7 (last heard at 980 ms) stops; 8 continues (its 1st in-a-row at 981 ms):
        // its third consecutive packet, >= 60 ms into the silence, takes over.
        assert_eq!(f.check(addr(1), 8, ms(1020)), Verdict::ForeignSsrc);
        assert_eq!(
            f.check(addr(1), 8, ms(1040)),
            Verdict::Accept { latched: false }
        );
        assert_eq!(f.check(addr(1), 7, ms(1060)), Verdict::ForeignSsrc);
    }

    #[test]
    fn reset_relearns_immediately() {
        let t0 = Instant::now();
        let mut f = SourceFilter::new(FilterConfig::default());
        f.check(addr(1), 7, t0);
        f.reset();
        assert_eq!(f.latched(), None);
        assert_eq!(f.check(addr(2), 5, t0), Verdict::Accept { latched: true });
    }
}
