//! UDP listener: receive loop with the allow-list check at the edge.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;
use madoguchi_sip::message::Transport;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{EdgeStats, Inbound, Peer};
use crate::acl::Acl;

/// Largest datagram we read; bigger ones are truncated by the kernel and then rejected by
/// the parser's Content-Length check.
const MAX_DATAGRAM: usize = 65_535;

/// Reads datagrams forever and hands the allowed ones to the core.
pub async fn run(
    listener: usize,
    socket: Arc<UdpSocket>,
    acl: Acl,
    core: mpsc::Sender<Inbound>,
    stats: Arc<EdgeStats>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP port-unreachable from an earlier send shows up here on Linux; not fatal.
                tracing::trace!(error = %e, "udp recv error");
                continue;
            }
        };
        if !acl.allows(from.ip()) {
            stats.denied_by_acl.fetch_add(1, Relaxed);
            continue;
        }
        // Keepalives (CRLF, RFC 5626) need no processing.
        if buf[..n].iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue;
        }
        let inbound = Inbound {
            listener,
            peer: Peer {
                transport: Transport::Udp,
                addr: from,
            },
            data: Bytes::copy_from_slice(&buf[..n]),
        };
        if core.try_send(inbound).is_err() {
            stats.dropped_core_busy.fetch_add(1, Relaxed);
        }
    }
}
