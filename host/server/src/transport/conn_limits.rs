//! Bounds on stream connections (SIP over TCP and WebSocket): how many in total and per
//! source, how long a message may take to arrive once begun (header deadline) and how long
//! a connection may stay silent (idle timeout). A refused or timed-out connection is closed;
//! the log says so once a minute per source.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The settings (from `[limits]`).
#[derive(Debug, Clone)]
pub struct ConnConfig {
    pub max_connections: usize,
    pub max_connections_per_source: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_message_bytes: usize,
}

impl Default for ConnConfig {
    fn default() -> Self {
        let l = crate::limits::LimitsSection::default();
        ConnConfig::from(&l)
    }
}

impl From<&crate::limits::LimitsSection> for ConnConfig {
    fn from(l: &crate::limits::LimitsSection) -> Self {
        ConnConfig {
            max_connections: l.max_connections,
            max_connections_per_source: l.max_connections_per_source,
            header_timeout: Duration::from_millis(l.header_timeout_ms),
            idle_timeout: Duration::from_millis(l.idle_timeout_ms),
            max_message_bytes: l.max_message_bytes,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
    logged: HashMap<IpAddr, Instant>,
}

/// Shared by every stream listener.
#[derive(Debug)]
pub struct ConnGate {
    pub config: ConnConfig,
    counts: Mutex<Counts>,
}

/// Holds one connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct ConnPermit {
    gate: Arc<ConnGate>,
    ip: IpAddr,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut c = self.gate.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_source.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_source.remove(&self.ip);
            }
        }
    }
}

impl ConnPermit {
    /// The gate (its settings apply to this connection).
    pub fn gate(&self) -> Arc<ConnGate> {
        self.gate.clone()
    }
}

impl ConnGate {
    pub fn new(config: ConnConfig) -> Arc<ConnGate> {
        Arc::new(ConnGate {
            config,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection from `ip`, or `None` (close it).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnPermit> {
        let mut c = self.lock();
        let mine = c.per_source.get(&ip).copied().unwrap_or(0);
        let why = if c.total >= self.config.max_connections {
            Some("max_connections")
        } else if mine >= self.config.max_connections_per_source {
            Some("max_connections_per_source")
        } else {
            None
        };
        if let Some(limit) = why {
            drop(c);
            self.log_once(ip, limit);
            return None;
        }
        c.total += 1;
        *c.per_source.entry(ip).or_insert(0) += 1;
        Some(ConnPermit {
            gate: self.clone(),
            ip,
        })
    }

    /// Logs that a limit acted on `ip`, at most once a minute per source.
    pub fn log_once(&self, ip: IpAddr, limit: &str) {
        let now = Instant::now();
        let mut c = self.lock();
        if c.logged.len() > 10_000 {
            c.logged
                .retain(|_, t| now.duration_since(*t) < Duration::from_secs(60));
        }
        let due = c
            .logged
            .get(&ip)
            .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(60));
        if due {
            c.logged.insert(ip, now);
            drop(c);
            tracing::warn!(%ip, limit, "stream connection closed by a limit (logged once a minute per source)");
        }
    }

    /// Open connections.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.lock().total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_source_and_in_total_and_freed_on_drop() {
        let gate = ConnGate::new(ConnConfig {
            max_connections: 3,
            max_connections_per_source: 2,
            ..ConnConfig::default()
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let p1 = gate.admit(a).unwrap();
        let _p2 = gate.admit(a).unwrap();
        assert!(gate.admit(a).is_none(), "per source");
        let _p3 = gate.admit(b).unwrap();
        assert!(gate.admit(b).is_none(), "in total");
        drop(p1);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(b).is_some());
    }
}
