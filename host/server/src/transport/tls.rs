//! TLS listener (`tls:` in `--sip`, `sips:` URIs, Via `TLS`): TCP accept past the allow-list,
//! the rustls handshake on its own task (bounded in time, so a silent client holds nothing
//! but its socket), then the same stream transport as TCP ([`super::stream`]).

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use madoguchi_sip::message::Transport;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use super::stream::{serve_stream, ConnTable};
use super::{EdgeStats, Inbound, Peer};
use crate::acl::Acl;

/// A handshake that has not finished by then is dropped.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Server side of TLS handshakes, with the listener's (reloading) certificate. Cloned
/// freely; `wss:` uses it under the WebSocket handshake.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
}

impl TlsAcceptor {
    pub fn new(config: Arc<ServerConfig>) -> TlsAcceptor {
        TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(config),
        }
    }

    /// The TLS handshake on an accepted connection, bounded in time.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        match tokio::time::timeout(HANDSHAKE_LIMIT, self.inner.accept(tcp)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake took too long",
            )),
        }
    }
}

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
                tracing::warn!(error = %e, "tls accept failed");
                continue;
            }
        };
        if !acl.allows(from.ip()) {
            stats.denied_by_acl.fetch_add(1, Relaxed);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (tls, core, conns, stats) = (tls.clone(), core.clone(), conns.clone(), stats.clone());
        tokio::spawn(async move {
            let stream = match tls.accept(stream).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(peer = %from, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let peer = Peer {
                transport: Transport::Tls,
                addr: from,
            };
            serve_stream(listener, stream, peer, core, conns, stats, None).await;
        });
    }
}
