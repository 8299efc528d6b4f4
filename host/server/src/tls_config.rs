//! `[tls]`: where the certificate of `tls` SIP listeners and of HTTPS comes from.
//!
//! A certificate and key named here (or on a listener) are PEM files, reloaded when they
//! change; with none, the server makes a self-signed certificate in its data directory.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Deserialize;

use crate::config::{ListenerConfig, TransportKind};

/// `[tls]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// Certificate chain (PEM, leaf first) for every TLS listener and HTTPS without its own.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

impl TlsSection {
    /// Both files or neither, here and on each listener; certificates only on `tls` ones.
    pub fn check(&self, origin: &str, listeners: &[ListenerConfig]) -> Result<()> {
        if self.cert.is_some() != self.key.is_some() {
            bail!("{origin}: tls.cert and tls.key go together (both or neither)");
        }
        for l in listeners {
            if l.cert.is_some() != l.key.is_some() {
                bail!(
                    "{origin}: listener {} {}: cert and key go together (both or neither)",
                    l.name,
                    l.address
                );
            }
            if l.cert.is_some() && !matches!(l.transport, TransportKind::Tls | TransportKind::Wss) {
                bail!(
                    "{origin}: listener {} {}: cert and key are for tls and wss listeners only",
                    l.name,
                    l.address
                );
            }
        }
        Ok(())
    }

    /// The files a `tls` listener uses (its own, else `[tls]`'s); None: self-signed.
    pub fn files_for(&self, l: &ListenerConfig) -> Option<(PathBuf, PathBuf)> {
        match (&l.cert, &l.key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            _ => self.default_files(),
        }
    }

    /// `[tls]`'s own files, if any.
    pub fn default_files(&self) -> Option<(PathBuf, PathBuf)> {
        Some((self.cert.clone()?, self.key.clone()?))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn cert_without_key_is_refused() {
        let err = Config::parse("[tls]\ncert = \"/x.pem\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tls.cert and tls.key"), "{err}");
        let text = "[[listener]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\ncert = \"a\"\nkey = \"b\"\n";
        let err = Config::parse(text, "t").unwrap_err().to_string();
        assert!(err.contains("tls and wss listeners only"), "{err}");
    }

    #[test]
    fn tls_listener_with_files_parses() {
        let text = "[tls]\ncert = \"/etc/c.pem\"\nkey = \"/etc/k.pem\"\n[server]\nhttps = \"127.0.0.1:8443\"\n[[listener]]\ntransport = \"tls\"\naddress = \"127.0.0.1:5061\"\n";
        let cfg = Config::parse(text, "t").unwrap();
        let files = cfg.tls.files_for(&cfg.listeners[0]).unwrap();
        assert_eq!(files.0, std::path::PathBuf::from("/etc/c.pem"));
        assert!(cfg.server.https.is_some());
    }
}
