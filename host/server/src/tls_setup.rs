//! TLS at start-up: the certificate of each `tls` SIP listener and of HTTPS (files from the
//! config, else the self-signed one in the data directory), their reload watcher, and the
//! HTTPS listener for the admin API and console.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tracing::info;

use crate::config::{Config, ListenerConfig, TransportKind};
use crate::tls_config::TlsSection;
use crate::transport::certs::{ensure_self_signed, server_config, CertSet, ReloadingCert};
use crate::transport::tls::TlsAcceptor;

/// The certificates of this server, made or loaded once per file pair.
pub struct TlsCerts {
    set: CertSet,
    section: TlsSection,
    data_dir: PathBuf,
    /// Addresses the self-signed certificate names besides loopback.
    ips: Vec<IpAddr>,
}

impl TlsCerts {
    pub fn new(cfg: &Config) -> TlsCerts {
        let mut ips: Vec<IpAddr> = cfg.listeners.iter().map(|l| l.address.ip()).collect();
        if let Some(a) = cfg.server.https {
            ips.push(a.ip());
        }
        TlsCerts {
            set: CertSet::default(),
            section: cfg.tls.clone(),
            data_dir: cfg.server.data_dir.clone(),
            ips,
        }
    }

    fn cert(&mut self, files: Option<(PathBuf, PathBuf)>) -> Result<Arc<ReloadingCert>> {
        let (cert, key) = match files {
            Some(f) => f,
            None => ensure_self_signed(&self.data_dir, &self.ips)?,
        };
        self.set.get(&cert, &key)
    }

    /// The handshake side of a `tls` or `wss` SIP listener.
    pub fn sip_acceptor(&mut self, l: &ListenerConfig) -> Result<TlsAcceptor> {
        let cert = self.cert(self.section.files_for(l))?;
        info!(listener = %l.name, sha256 = %cert.fingerprint(), "SIP TLS certificate");
        let alpn: &[&[u8]] = match l.transport {
            TransportKind::Wss => &[b"http/1.1"],
            _ => &[],
        };
        Ok(TlsAcceptor::new(server_config(cert, alpn)?))
    }

    /// The demo's certificate (`[tls]`'s, else the self-signed one, made now), with its
    /// fingerprint logged, so `tls:` and `--https` have it ready.
    pub fn demo_certificate(&mut self) -> Result<()> {
        let cert = self.cert(self.section.default_files())?;
        info!(sha256 = %cert.fingerprint(), "demo TLS certificate (DATA/tls/ unless [tls] names one)");
        Ok(())
    }

    /// The rustls configuration of HTTPS (HTTP/1.1 and h2 by ALPN).
    pub fn https_config(&mut self) -> Result<Arc<ServerConfig>> {
        let cert = self.cert(self.section.default_files())?;
        info!(sha256 = %cert.fingerprint(), "HTTPS certificate");
        server_config(cert, &[b"h2", b"http/1.1"])
    }

    /// Starts watching the files for changes (and SIGHUP).
    pub fn watch(self) {
        self.set.watch();
    }
}

/// An HTTPS listener for `axum::serve`: TCP accepts, handshakes on their own tasks (a slow
/// or silent client holds up no one), finished TLS streams handed over a channel.
pub struct HttpsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl HttpsListener {
    pub async fn bind(addr: SocketAddr, config: Arc<ServerConfig>) -> Result<HttpsListener> {
        let socket = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind HTTPS on {addr}"))?;
        let local = socket.local_addr()?;
        let acceptor = TlsAcceptor::new(config);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, from) = match socket.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!(error = %e, "https accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(s) => {
                            let _ = tx.send((s, from)).await;
                        }
                        Err(e) => {
                            tracing::debug!(peer = %from, error = %e, "HTTPS handshake failed")
                        }
                    }
                });
            }
        });
        Ok(HttpsListener { local, ready })
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            // The accept task never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Serves `app` over HTTPS on `addr` with the server's HTTPS certificate.
impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, HttpsListener>>
    for crate::api::session::HttpsPeer
{
    fn connect_info(s: axum::serve::IncomingStream<'_, HttpsListener>) -> Self {
        crate::api::session::HttpsPeer(*s.remote_addr())
    }
}

pub async fn serve_https(addr: SocketAddr, certs: &mut TlsCerts, app: axum::Router) -> Result<()> {
    let listener = HttpsListener::bind(addr, certs.https_config()?).await?;
    info!(addr = %listener.local, "admin API listening (https)");
    tokio::spawn(async move {
        // Peer addresses reach the handlers (the audit log records them).
        let app = app.into_make_service_with_connect_info::<crate::api::session::HttpsPeer>();
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}
