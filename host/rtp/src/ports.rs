//! RTP/RTCP port pairs from the configured range: bounded, freed on drop.
//!
//! Pairs are handed out round-robin (a just-freed pair goes to the back of
//! the queue) so stray packets of a finished call rarely reach the next one.

use crate::MediaError;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

/// Free even RTP ports (RTCP = RTP + 1).
#[derive(Debug)]
pub(crate) struct PortPool {
    free: VecDeque<u16>,
    total: usize,
}

impl PortPool {
    /// Every even port `p` of `range` with `p + 1` also inside.
    pub(crate) fn new(range: RangeInclusive<u16>) -> Result<Self, MediaError> {
        let (start, end) = (*range.start(), *range.end());
        let first = start.saturating_add(start % 2);
        let free: VecDeque<u16> = (first..end).step_by(2).collect();
        if free.is_empty() {
            return Err(MediaError::EmptyPortRange(range));
        }
        let total = free.len();
        Ok(PortPool { free, total })
    }

    pub(crate) fn total(&self) -> usize {
        self.total
    }
}

/// A bound RTP/RTCP socket pair and the lease that returns its port to the pool.
#[derive(Debug)]
pub(crate) struct BoundPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub lease: PortLease,
}

/// Returns its port to the pool when dropped (after the sockets, which the
/// leg task drops first because they are declared before the lease).
#[derive(Debug)]
pub(crate) struct PortLease {
    pool: Arc<Mutex<PortPool>>,
    port: u16,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pool.lock() {
            p.free.push_back(self.port);
        }
    }
}

/// Take a free pair and bind both sockets on `ip`. Ports another process
/// holds are skipped (and go back to the queue); at most one pass over the pool.
pub(crate) fn bind_pair(pool: &Arc<Mutex<PortPool>>, ip: IpAddr) -> Result<BoundPair, MediaError> {
    let attempts = pool.lock().map(|p| p.total()).unwrap_or(0);
    let mut last_err = None;
    for _ in 0..attempts {
        let port = {
            let mut p = pool.lock().map_err(|_| MediaError::PortsExhausted)?;
            match p.free.pop_front() {
                Some(port) => port,
                None => break,
            }
        };
        let lease = PortLease {
            pool: pool.clone(),
            port,
        };
        let bound = UdpSocket::bind(SocketAddr::new(ip, port)).and_then(|rtp| {
            let rtcp = UdpSocket::bind(SocketAddr::new(ip, port + 1))?;
            rtp.set_nonblocking(true)?;
            rtcp.set_nonblocking(true)?;
            Ok((rtp, rtcp))
        });
        match bound {
            Ok((rtp, rtcp)) => return Ok(BoundPair { rtp, rtcp, lease }),
            Err(e) => {
                tracing::debug!(port, error = %e, "RTP port pair busy, trying the next");
                last_err = Some(e);
                // `lease` drops here and re-queues the port at the back.
            }
        }
    }
    Err(match last_err {
        Some(e) => MediaError::Bind(e),
        None => MediaError::PortsExhausted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn pairs_are_even_and_inside_the_range() {
        let p = PortPool::new(30001..=30010).unwrap();
        assert_eq!(p.free, [30002, 30004, 30006, 30008]);
        assert_eq!(PortPool::new(30000..=30001).unwrap().free, [30000]);
        assert!(PortPool::new(30001..=30002).is_err());
        assert!(PortPool::new(65535..=65535).is_err());
        assert_eq!(PortPool::new(65534..=65535).unwrap().free, [65534]);
    }

    #[test]
    fn exhaustion_and_release() {
        let pool = Arc::new(Mutex::new(PortPool::new(31200..=31203).unwrap()));
        let a = bind_pair(&pool, LO).unwrap();
        let b = bind_pair(&pool, LO).unwrap();
        assert!(matches!(
            bind_pair(&pool, LO),
            Err(MediaError::PortsExhausted)
        ));
        let port_a = a.rtp.local_addr().unwrap().port();
        assert_eq!(a.rtcp.local_addr().unwrap().port(), port_a + 1);
        drop(a);
        let c = bind_pair(&pool, LO).unwrap();
        assert_eq!(c.rtp.local_addr().unwrap().port(), port_a);
        drop((b, c));
        assert_eq!(pool.lock().unwrap().free.len(), 2);
    }

    #[test]
    fn ports_held_by_someone_else_are_skipped() {
        let squatter = UdpSocket::bind((LO, 31301)).unwrap(); // RTCP of the first pair
        let pool = Arc::new(Mutex::new(PortPool::new(31300..=31303).unwrap()));
        let a = bind_pair(&pool, LO).unwrap();
        assert_eq!(a.rtp.local_addr().unwrap().port(), 31302);
        // Only the squatted pair is left: binding fails with the OS error, not "exhausted".
        assert!(matches!(bind_pair(&pool, LO), Err(MediaError::Bind(_))));
        drop(squatter);
        assert_eq!(
            bind_pair(&pool, LO)
                .unwrap()
                .rtp
                .local_addr()
                .unwrap()
                .port(),
            31300
        );
    }
}
