//! One SIP connection over any byte stream (TCP, TLS): a reader that frames messages by
//! Content-Length (mandatory on streams) and a writer task fed by the core. A framing error
//! closes the connection, since a stream cannot be resynchronised.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use madoguchi_sip::parse::{frame_stream, Limits};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::conn_limits::ConnPermit;
use super::{EdgeStats, Inbound, Peer};

/// Messages queued to one connection before we consider it stuck.
const WRITE_QUEUE: usize = 256;

/// The open connections by remote address: where the core's sends to stream peers go.
pub type ConnTable = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>;

/// Serves one connection until it closes. `peer` names the transport (`Tcp`, `Tls`) and
/// the remote address; the connection is registered in `conns` while it lives. `permit`
/// holds its place under `[limits]` and brings the limits' settings (header deadline, idle
/// timeout, message size); without one the defaults apply.
pub async fn serve_stream<S>(
    listener: usize,
    stream: S,
    peer: Peer,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
    stats: Arc<EdgeStats>,
    permit: Option<ConnPermit>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let from = peer.addr;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    if let Ok(mut t) = conns.lock() {
        t.insert(from, tx);
    }
    let writer = tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
            // TLS buffers records: push each message out now.
            if wr.flush().await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let config = permit
        .as_ref()
        .map(|p| p.gate().config.clone())
        .unwrap_or_default();
    let gate = permit.as_ref().map(|p| p.gate());
    let limits = Limits {
        max_message_bytes: config.max_message_bytes,
        ..Limits::default()
    };
    let mut buf = BytesMut::with_capacity(8192);
    // When the message now in `buf` began (its header deadline runs from there).
    let mut begun: Option<tokio::time::Instant> = None;
    let closed_by = |limit: &str| match &gate {
        Some(g) => g.log_once(from.ip(), limit),
        None => tracing::debug!(peer = %from, limit, "stream connection closed by a limit"),
    };
    'read: loop {
        let deadline = match begun {
            Some(t) => t + config.header_timeout,
            None => tokio::time::Instant::now() + config.idle_timeout,
        };
        match tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
            Err(_) => {
                closed_by(if begun.is_some() {
                    "header_timeout_ms"
                } else {
                    "idle_timeout_ms"
                });
                break;
            }
        }
        loop {
            // CRLF keepalives between messages (RFC 5626 §3.5.1).
            let skip = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            buf.advance(skip);
            if buf.is_empty() {
                begun = None;
                break;
            }
            begun.get_or_insert_with(tokio::time::Instant::now);
            match frame_stream(&buf, &limits) {
                Ok(Some(len)) => {
                    begun = None;
                    let data = buf.split_to(len).freeze();
                    let inbound = Inbound {
                        listener,
                        peer: peer.clone(),
                        data,
                    };
                    if core.send(inbound).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => {
                    if buf.len() > limits.max_message_bytes {
                        closed_by("max_message_bytes");
                        break 'read;
                    }
                    break;
                }
                Err(e) => {
                    tracing::debug!(peer = %from, error = %e, "stream framing error; closing");
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
    drop(permit);
}
