//! TCP listener: one reader and one writer task per connection. Messages are framed by
//! Content-Length (mandatory on streams); a framing error closes the connection, since a
//! stream cannot be resynchronised.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use madoguchi_sip::message::Transport;
use madoguchi_sip::parse::{frame_stream, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{EdgeStats, Inbound, Peer};
use crate::acl::Acl;

/// Messages queued to one connection before we consider it stuck.
const WRITE_QUEUE: usize = 256;

type ConnTable = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>;

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
        tokio::spawn(connection(
            listener,
            stream,
            from,
            core.clone(),
            conns.clone(),
            stats.clone(),
        ));
    }
}

async fn connection(
    listener: usize,
    stream: TcpStream,
    from: SocketAddr,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
    stats: Arc<EdgeStats>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    if let Ok(mut t) = conns.lock() {
        t.insert(from, tx);
    }
    let writer = tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
    });
    let limits = Limits::default();
    let mut buf = BytesMut::with_capacity(8192);
    'read: loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            // CRLF keepalives between messages (RFC 5626 §3.5.1).
            let skip = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            buf.advance(skip);
            if buf.is_empty() {
                break;
            }
            match frame_stream(&buf, &limits) {
                Ok(Some(len)) => {
                    let data = buf.split_to(len).freeze();
                    let inbound = Inbound {
                        listener,
                        peer: Peer {
                            transport: Transport::Tcp,
                            addr: from,
                        },
                        data,
                    };
                    if core.send(inbound).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => {
                    if buf.len() > limits.max_message_bytes {
                        tracing::debug!(peer = %from, "tcp message too large; closing");
                        break 'read;
                    }
                    break;
                }
                Err(e) => {
                    tracing::debug!(peer = %from, error = %e, "tcp framing error; closing");
                    break 'read;
                }
            }
        }
    }
    if let Ok(mut t) = conns.lock() {
        t.remove(&from);
    }
    writer.abort();
    let _ = stats;
}
