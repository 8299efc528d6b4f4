//! TCP listener: accepts connections past the allow-list and serves each with the stream
//! transport ([`super::stream`]).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use madoguchi_sip::message::Transport;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::conn_limits::ConnGate;
use super::stream::{serve_stream, ConnTable};
use super::{EdgeStats, Inbound, Peer};
use crate::acl::Acl;

/// Accepts connections forever. Accept errors (out of descriptors) back off, doubling from
/// 10 ms to 1 s, instead of spinning; connections over a limit are closed at once.
pub async fn run(
    listener: usize,
    socket: TcpListener,
    acl: Acl,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
    stats: Arc<EdgeStats>,
    gate: Arc<ConnGate>,
) {
    let mut backoff = std::time::Duration::from_millis(10);
    let mut last_log: Option<std::time::Instant> = None;
    loop {
        let (stream, from) = match socket.accept().await {
            Ok(x) => {
                backoff = std::time::Duration::from_millis(10);
                x
            }
            Err(e) => {
                if last_log.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(10)) {
                    last_log = Some(std::time::Instant::now());
                    tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "tcp accept failed; backing off (logged once per 10 s)");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
                continue;
            }
        };
        if !acl.allows(from.ip()) {
            stats.denied_by_acl.fetch_add(1, Relaxed);
            continue;
        }
        let Some(permit) = gate.admit(from.ip()) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let peer = Peer {
            transport: Transport::Tcp,
            addr: from,
        };
        tokio::spawn(serve_stream(
            listener,
            stream,
            peer,
            core.clone(),
            conns.clone(),
            stats.clone(),
            Some(permit),
        ));
    }
}
