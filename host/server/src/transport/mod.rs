//! The network edge: tokio tasks that own the SIP sockets. They only move bytes; all SIP
//! logic runs in the core task ([`crate::core`]), which they feed through a bounded channel.

pub mod certs;
pub mod conn_limits;
pub mod stream;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod ws;
pub mod wss;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use madoguchi_sip::message::Transport;
pub use madoguchi_sip::transaction::Peer;

/// One datagram or stream frame for the core, already past the listener's allow-list.
#[derive(Debug)]
pub struct Inbound {
    /// Index of the listener in the configuration.
    pub listener: usize,
    pub peer: Peer,
    pub data: Bytes,
}

/// Counters the edge keeps (exposed later through metrics).
#[derive(Debug, Default)]
pub struct EdgeStats {
    pub denied_by_acl: std::sync::atomic::AtomicU64,
    pub dropped_core_busy: std::sync::atomic::AtomicU64,
    pub send_errors: std::sync::atomic::AtomicU64,
}

/// Handles the core uses to send: the UDP sockets and the open stream connections
/// (TCP, TLS).
#[derive(Clone)]
pub struct Sender {
    udp: Arc<Vec<(SocketAddr, Arc<UdpSocket>)>>,
    tcp: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>,
    /// Our stream listeners' addresses (Via and Contact of requests to stream peers).
    streams: Arc<Vec<(Transport, SocketAddr)>>,
    pub stats: Arc<EdgeStats>,
    /// Counts and traces every message sent (and, through the core, received).
    tap: Option<crate::observe::sip_tap::Tap>,
}

impl Sender {
    pub fn new(stats: Arc<EdgeStats>) -> Sender {
        Sender {
            udp: Arc::new(Vec::new()),
            tcp: Arc::new(Mutex::new(HashMap::new())),
            streams: Arc::new(Vec::new()),
            stats,
            tap: None,
        }
    }

    pub(crate) fn with_tap(mut self, tap: crate::observe::sip_tap::Tap) -> Sender {
        self.tap = Some(tap);
        self
    }

    /// The tap, for the core to show it what came in.
    pub fn tap(&self) -> Option<&crate::observe::sip_tap::Tap> {
        self.tap.as_ref()
    }

    pub(crate) fn with_udp(mut self, sockets: Vec<(SocketAddr, Arc<UdpSocket>)>) -> Sender {
        self.udp = Arc::new(sockets);
        self
    }

    pub(crate) fn with_streams(mut self, listeners: Vec<(Transport, SocketAddr)>) -> Sender {
        self.streams = Arc::new(listeners);
        self
    }

    pub(crate) fn tcp_table(&self) -> Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>> {
        self.tcp.clone()
    }

    /// The local address we send from for this peer (goes into our Via and Contact).
    pub fn local_addr_for(&self, peer: &Peer) -> Option<SocketAddr> {
        match peer.transport {
            Transport::Udp => self
                .udp
                .iter()
                .find(|(a, _)| a.is_ipv4() == peer.addr.is_ipv4())
                .map(|(a, _)| *a),
            _ => self
                .streams
                .iter()
                .find(|(k, a)| *k == peer.transport && a.is_ipv4() == peer.addr.is_ipv4())
                .map(|(_, a)| *a),
        }
    }

    /// Sends without waiting. UDP goes straight out of the matching socket; TCP goes to the
    /// connection's writer task (a connection we do not have is an error: we do not dial
    /// out over TCP yet).
    pub fn send(&self, peer: &Peer, data: Bytes) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(tap) = &self.tap {
            tap.seen(
                crate::observe::trace::Direction::Out,
                peer.transport.as_str(),
                peer.addr,
                &data,
            );
        }
        match peer.transport {
            Transport::Udp => {
                let Some((_, sock)) = self
                    .udp
                    .iter()
                    .find(|(a, _)| a.is_ipv4() == peer.addr.is_ipv4())
                else {
                    self.stats.send_errors.fetch_add(1, Relaxed);
                    return;
                };
                match sock.try_send_to(&data, peer.addr) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let sock = sock.clone();
                        let addr = peer.addr;
                        tokio::spawn(async move {
                            let _ = sock.send_to(&data, addr).await;
                        });
                    }
                    Err(e) => {
                        self.stats.send_errors.fetch_add(1, Relaxed);
                        tracing::debug!(peer = %peer.addr, error = %e, "udp send failed");
                    }
                }
            }
            _ => {
                let tx = self
                    .tcp
                    .lock()
                    .ok()
                    .and_then(|t| t.get(&peer.addr).cloned());
                match tx {
                    Some(tx) => {
                        if tx.try_send(data).is_err() {
                            self.stats.send_errors.fetch_add(1, Relaxed);
                        }
                    }
                    None => {
                        self.stats.send_errors.fetch_add(1, Relaxed);
                        tracing::debug!(peer = %peer.addr, "no tcp connection to peer");
                    }
                }
            }
        }
    }
}
