//! Secure WebSocket listener (`wss:`, RFC 7118 over TLS): TCP accept past the allow-list,
//! the TLS handshake ([`super::tls::TlsAcceptor`]), then the WebSocket transport
//! ([`super::ws::connection`]) on the TLS stream, as `Transport::Wss`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use madoguchi_sip::message::Transport;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::stream::ConnTable;
use super::tls::TlsAcceptor;
use super::{EdgeStats, Inbound};
use crate::acl::Acl;

/// Accepts connections forever.
pub async fn run(
    listener: usize,
    socket: TcpListener,
    acl: Acl,
    tls: TlsAcceptor,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
    stats: Arc<EdgeStats>,
) {
    loop {
        let (stream, from) = match socket.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "wss accept failed");
                continue;
            }
        };
        if !acl.allows(from.ip()) {
            stats.denied_by_acl.fetch_add(1, Relaxed);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (tls, core, conns) = (tls.clone(), core.clone(), conns.clone());
        tokio::spawn(async move {
            match tls.accept(stream).await {
                Ok(s) => {
                    super::ws::connection(listener, s, from, Transport::Wss, core, conns).await
                }
                Err(e) => tracing::debug!(peer = %from, error = %e, "wss: TLS handshake failed"),
            }
        });
    }
}
