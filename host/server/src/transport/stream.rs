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

use super::{EdgeStats, Inbound, Peer};

/// Messages queued to one connection before we consider it stuck.
const WRITE_QUEUE: usize = 256;

/// The open connections by remote address: where the core's sends to stream peers go.
pub type ConnTable = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>;

/// Serves one connection until it closes. `peer` names the transport (`Tcp`, `Tls`) and
/// the remote address; the connection is registered in `conns` while it lives.
pub async fn serve_stream<S>(
    listener: usize,
    stream: S,
    peer: Peer,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
    stats: Arc<EdgeStats>,
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
                        peer: peer.clone(),
                        data,
                    };
                    if core.send(inbound).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => {
                    if buf.len() > limits.max_message_bytes {
                        tracing::debug!(peer = %from, "stream message too large; closing");
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
}
