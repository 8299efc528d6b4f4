//! SIP over WebSocket (RFC 7118): one WebSocket per connection, one SIP message per
//! WebSocket message, the `sip` subprotocol required at the handshake.
//!
//! The framing (masking, fragmentation, control frames, UTF-8 of text frames, close
//! handshake, size limits) is tungstenite's, a well-kept RFC 6455 implementation; this file
//! only moves SIP messages between a WebSocket and the core. [`connection`] is generic over
//! the byte stream, so TLS (`wss:`) wraps a `TcpStream` and hands the TLS stream here.
//!
//! A WebSocket client is reached over its own connection: the connection is registered in
//! the shared stream table under the peer's address, exactly like a TCP connection, and the
//! registrar binds the flow (`ws:ADDR:PORT`), whatever the client's Contact says.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use madoguchi_sip::message::Transport;
use madoguchi_sip::parse::Limits;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::{EdgeStats, Inbound, Peer};
use crate::acl::Acl;

/// Messages queued to one connection before we consider it stuck.
const WRITE_QUEUE: usize = 256;
/// A client that has not finished its HTTP upgrade by then is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The subprotocol RFC 7118 registers.
pub const SUBPROTOCOL: &str = "sip";

type ConnTable = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>;

/// Accepts WebSocket connections forever (plain `ws:`).
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
                tracing::warn!(error = %e, "ws accept failed");
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
            Transport::Ws,
            core.clone(),
            conns.clone(),
        ));
    }
}

/// Whether a `Sec-WebSocket-Protocol` request header offers `sip` (a comma-separated list,
/// tokens compared case-insensitively).
pub fn offers_sip(header: Option<&str>) -> bool {
    header.is_some_and(|h| {
        h.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(SUBPROTOCOL))
    })
}

/// The handshake callback: the `sip` subprotocol or a 400.
#[allow(clippy::result_large_err)]
fn negotiate(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| offers_sip(Some(v)));
    if !offered {
        let mut err = ErrorResponse::new(Some("the sip WebSocket subprotocol is required".into()));
        *err.status_mut() = StatusCode::BAD_REQUEST;
        return Err(err);
    }
    resp.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(resp)
}

/// Serves one connection on any byte stream (plain TCP for `ws:`, a TLS stream for `wss:`):
/// handshake within [`HANDSHAKE_TIMEOUT`], then every text or binary message to the core as
/// one SIP message, and what the core sends back as text messages.
pub async fn connection<S>(
    listener: usize,
    stream: S,
    from: SocketAddr,
    transport: Transport,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve(
        listener,
        stream,
        from,
        transport,
        core,
        conns,
        HANDSHAKE_TIMEOUT,
    )
    .await
}

async fn serve<S>(
    listener: usize,
    stream: S,
    from: SocketAddr,
    transport: Transport,
    core: mpsc::Sender<Inbound>,
    conns: ConnTable,
    handshake_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let max = Limits::default().max_message_bytes;
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let accepted = tokio::time::timeout(
        handshake_timeout,
        tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(config)),
    )
    .await;
    let ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::info!(peer = %from, error = %e, "websocket handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(peer = %from, "websocket handshake not completed in time; closed");
            return;
        }
    };
    tracing::debug!(peer = %from, "websocket connected");
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    if let Ok(mut t) = conns.lock() {
        t.insert(from, tx);
    }
    let writer = tokio::spawn(async move {
        while let Some(data) = rx.recv().await {
            let msg = match String::from_utf8(data.to_vec()) {
                Ok(text) => Message::text(text),
                Err(e) => Message::binary(e.into_bytes()),
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut complained = false;
    while let Some(msg) = source.next().await {
        let data = match msg {
            Ok(Message::Text(t)) => Bytes::from(t),
            // RFC 7118 §5.2 allows SIP in binary frames: the core's parser decides.
            Ok(Message::Binary(b)) => {
                if !complained {
                    complained = true;
                    tracing::info!(peer = %from, "binary websocket frame: parsed as SIP (logged once per connection)");
                }
                b
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => continue, // ping/pong are answered by tungstenite
            Err(e) => {
                // Oversized message, bad frame, bad UTF-8 in a text frame: the stream cannot
                // be trusted any more.
                tracing::info!(peer = %from, error = %e, "websocket error; closing the connection");
                break;
            }
        };
        // CRLF keepalives (RFC 5626 §3.5.1) need no processing.
        if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            continue;
        }
        let inbound = Inbound {
            listener,
            peer: Peer {
                transport: transport.clone(),
                addr: from,
            },
            data,
        };
        if core.send(inbound).await.is_err() {
            break;
        }
    }
    if let Ok(mut t) = conns.lock() {
        t.remove(&from);
    }
    writer.abort();
    tracing::debug!(peer = %from, "websocket closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_subprotocol_is_found_in_a_list() {
        assert!(offers_sip(Some("sip")));
        assert!(offers_sip(Some("chat, SIP")));
        assert!(!offers_sip(Some("sips")));
        assert!(!offers_sip(Some("")));
        assert!(!offers_sip(None));
    }

    /// Real handshakes and frames over an in-memory byte stream (no socket): the seam TLS
    /// uses is the same generic `connection`.
    #[tokio::test]
    async fn frames_reach_the_core_and_replies_go_back_as_text() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (core_tx, mut core_rx) = mpsc::channel(8);
        let conns: ConnTable = Arc::default();
        let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        tokio::spawn(connection(
            0,
            server_io,
            from,
            Transport::Ws,
            core_tx,
            conns.clone(),
        ));
        let mut req = "ws://127.0.0.1/".into_client_request().unwrap();
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("sip"));
        let (mut ws, resp) = tokio_tungstenite::client_async(req, client_io)
            .await
            .unwrap();
        assert_eq!(resp.headers()["sec-websocket-protocol"], "sip");
        ws.send(Message::text("OPTIONS sip:x SIP/2.0\r\n\r\n"))
            .await
            .unwrap();
        ws.send(Message::text("\r\n\r\n")).await.unwrap(); // keepalive: dropped
        ws.send(Message::binary(b"garbage".to_vec())).await.unwrap();
        let first = core_rx.recv().await.unwrap();
        assert_eq!(first.peer.transport, Transport::Ws);
        assert_eq!(&first.data[..7], b"OPTIONS");
        let second = core_rx.recv().await.unwrap();
        assert_eq!(&second.data[..], b"garbage");
        // The core answers through the connection table.
        let tx = conns.lock().unwrap().get(&from).cloned().unwrap();
        tx.send(Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"))
            .await
            .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert!(matches!(reply, Message::Text(ref t) if t.starts_with("SIP/2.0 200")));
        // Oversized: the connection is closed and forgotten.
        let big = "X".repeat(Limits::default().max_message_bytes + 1);
        let _ = ws.send(Message::text(big)).await;
        for _ in 0..100 {
            if conns.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(conns.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn handshake_without_sip_subprotocol_is_refused() {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (core_tx, _core_rx) = mpsc::channel(8);
        let conns: ConnTable = Arc::default();
        tokio::spawn(connection(
            0,
            server_io,
            "127.0.0.1:40001".parse().unwrap(),
            Transport::Ws,
            core_tx,
            conns.clone(),
        ));
        let req = "ws://127.0.0.1/".into_client_request().unwrap();
        let err = tokio_tungstenite::client_async(req, client_io)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("400"), "{err}");
        assert!(conns.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
        let (_client_io, server_io) = tokio::io::duplex(1024);
        let (core_tx, _core_rx) = mpsc::channel(8);
        let task = tokio::spawn(serve(
            0,
            server_io,
            "127.0.0.1:40002".parse().unwrap(),
            Transport::Ws,
            core_tx,
            Arc::default(),
            Duration::from_millis(50),
        ));
        let done = tokio::time::timeout(Duration::from_secs(10), task).await;
        assert!(
            done.is_ok(),
            "connection task still waiting for a handshake"
        );
    }
}
