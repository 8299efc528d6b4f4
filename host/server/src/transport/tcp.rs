//! TCP listener: accepts connections past the allow-list and serves each with the stream
//! transport ([`super::stream`]).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use madoguchi_sip::message::Transport;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::stream::{serve_stream, ConnTable};
use super::{EdgeStats, Inbound, Peer};
use crate::acl::Acl;

/// Accepts connections forever.
pub async fn run(
    listener: usize,
    socket: TcpListener,
    acl: Acl,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
    stats: Arc<EdgeStats>,
) {
    loop {
        let (stream, from) = match socket.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                continue;
            }
        };
        if !acl.allows(from.ip()) {
            stats.denied_by_acl.fetch_add(1, Relaxed);
            continue;
        }
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
        ));
    }
}
