//! Timer values and limits (RFC 3261 §17, Table 4).

use std::time::Duration;

/// Transaction-layer settings. `Default` gives the RFC 3261 values.
#[derive(Debug, Clone)]
pub struct TxConfig {
    /// RTT estimate; base of timers A, B, E, F, G, H, J, L, M.
    pub t1: Duration,
    /// Cap for non-INVITE request and INVITE final-response retransmission intervals.
    pub t2: Duration,
    /// How long the network may hold a message; timers I and K on unreliable transports.
    pub t4: Duration,
    /// Timer D on unreliable transports (RFC 3261: at least 32 s); zero on reliable ones.
    pub timer_d: Duration,
    /// An INVITE server transaction sends 100 Trying itself when the TU has sent no
    /// provisional response this long after the request arrived (§17.2.1); `None` disables.
    pub trying_delay: Option<Duration>,
    /// Upper bound on live transactions (client + server). Requests beyond it are answered
    /// 503 statelessly and `send_request` fails, so a flood cannot exhaust memory.
    pub max_transactions: usize,
    /// Retransmit a 2xx to INVITE until ACK also over reliable transports. RFC 3261
    /// §13.3.1.4 does so for the sake of unreliable hops behind a proxy; our peers on
    /// TCP/TLS are end devices, so the default is off.
    pub retransmit_2xx_on_reliable: bool,
}

impl Default for TxConfig {
    fn default() -> Self {
        TxConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            trying_delay: Some(Duration::from_millis(200)),
            max_transactions: 100_000,
            retransmit_2xx_on_reliable: false,
        }
    }
}

impl TxConfig {
    /// 64*T1: timers B, F, H, J (unreliable), L, M and the CANCEL guard.
    pub fn timeout_64t1(&self) -> Duration {
        self.t1 * 64
    }
}
