//! TLS certificates for the SIP `tls` listeners and HTTPS: loaded from PEM files, reloaded
//! without a restart when the files change (polled) or on SIGHUP, or made self-signed in the
//! data directory when none is configured.
//!
//! The rustls `ServerConfig` stays the same for the life of a listener; its certificate
//! resolver ([`ReloadingCert`]) swaps the certificate under it, so each new handshake gets
//! the newest one and connections already open keep theirs.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context, Result};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// How often the certificate files are checked for a change.
const POLL: Duration = Duration::from_secs(2);

/// The SHA-256 fingerprint of a DER certificate, as `AB:CD:…` (RFC 4572 style).
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What identifies one version of the files: modification time, length and inode of each
/// (a file renamed into place has a new inode even when written in the same clock tick).
type Stamp = Option<[(SystemTime, u64, u64); 2]>;

fn stamp(cert: &Path, key: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let one = |p: &Path| {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len(), m.ino()))
    };
    Some([one(cert)?, one(key)?])
}

/// Reads a certificate chain and its key, and checks that they belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("TLS certificate {}: bad PEM", cert.display()))?;
    if chain.is_empty() {
        return Err(anyhow!(
            "TLS certificate {}: no CERTIFICATE block",
            cert.display()
        ));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read TLS key {} (PEM private key)", key.display()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)
        .with_context(|| format!("TLS key {}: unsupported key type", key.display()))?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match().map_err(|e| {
        anyhow!(
            "TLS key {} does not belong to certificate {}: {e}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(ck)
}

/// A certificate read from two files, swapped when they change.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The stamp last loaded or last tried (a broken pair is not retried, nor logged
    /// again, until a file changes once more).
    tried: Mutex<Stamp>,
}

impl ReloadingCert {
    /// Loads the pair now (an error here stops the server start: the files are named).
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<ReloadingCert>> {
        let before = stamp(cert_file, key_file);
        let ck = load_certified_key(cert_file, key_file)?;
        info!(
            cert = %cert_file.display(),
            sha256 = %fingerprint(&ck.cert[0]),
            "TLS certificate loaded"
        );
        Ok(Arc::new(ReloadingCert {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            current: RwLock::new(Arc::new(ck)),
            tried: Mutex::new(before),
        }))
    }

    /// The fingerprint of the certificate served now.
    pub fn fingerprint(&self) -> String {
        let ck = self.current.read().map(|c| c.clone());
        ck.map(|c| fingerprint(&c.cert[0])).unwrap_or_default()
    }

    /// Reloads when the files changed since the last try (or always, when `force`).
    /// A pair that fails to load keeps the old certificate in service.
    pub fn reload(&self, force: bool) -> bool {
        let now = stamp(&self.cert_file, &self.key_file);
        {
            let Ok(mut tried) = self.tried.lock() else {
                return false;
            };
            if !force && *tried == now {
                return false;
            }
            *tried = now;
        }
        match load_certified_key(&self.cert_file, &self.key_file) {
            Ok(ck) => {
                let sha256 = fingerprint(&ck.cert[0]);
                if let Ok(mut cur) = self.current.write() {
                    *cur = Arc::new(ck);
                }
                info!(cert = %self.cert_file.display(), %sha256, "TLS certificate reloaded");
                true
            }
            Err(e) => {
                warn!(error = %format!("{e:#}"), "TLS certificate not reloaded; the previous one stays in service");
                false
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// A rustls server configuration serving `cert`, offering `alpn` (e.g. `h2`, `http/1.1`).
pub fn server_config(cert: Arc<ReloadingCert>, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// Every certificate the server serves, by file pair: one [`ReloadingCert`] per pair.
#[derive(Default)]
pub struct CertSet {
    certs: Vec<Arc<ReloadingCert>>,
}

impl CertSet {
    /// The certificate for this file pair, loading it the first time.
    pub fn get(&mut self, cert: &Path, key: &Path) -> Result<Arc<ReloadingCert>> {
        if let Some(c) = self
            .certs
            .iter()
            .find(|c| c.cert_file == cert && c.key_file == key)
        {
            return Ok(c.clone());
        }
        let c = ReloadingCert::load(cert, key)?;
        self.certs.push(c.clone());
        Ok(c)
    }

    /// Polls the files every two seconds and reloads every certificate on SIGHUP.
    pub fn watch(self) {
        if self.certs.is_empty() {
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                let force = tokio::select! {
                    _ = tick.tick() => false,
                    Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
                };
                if force {
                    info!("SIGHUP: reloading TLS certificates");
                }
                for c in &self.certs {
                    c.reload(force);
                }
            }
        });
    }
}

/// The self-signed certificate in `DATA/tls/` (made on first use, kept across restarts so
/// phones that trusted it keep trusting it): names `localhost`, loopback and `ips`. The key
/// file is owner-only. Returns the (certificate, key) paths.
pub fn ensure_self_signed(data_dir: &Path, ips: &[IpAddr]) -> Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("tls");
    let cert = dir.join("self-signed-cert.pem");
    let key = dir.join("self-signed-key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut names = vec!["localhost".to_string()];
    let mut all_ips: Vec<IpAddr> =
        vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    for ip in ips {
        if !ip.is_unspecified() && !all_ips.contains(ip) {
            all_ips.push(*ip);
        }
    }
    names.extend(all_ips.iter().map(|ip| ip.to_string()));
    let mut params = rcgen::CertificateParams::new(names).context("self-signed certificate")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "madoguchi (self-signed)");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let pair = rcgen::KeyPair::generate().context("self-signed key")?;
    let made = params
        .self_signed(&pair)
        .context("self-signed certificate")?;
    write_new(&key, pair.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert, made.pem().as_bytes(), 0o644)?;
    info!(
        cert = %cert.display(),
        sha256 = %fingerprint(made.der()),
        "made a self-signed TLS certificate (configure [tls] cert and key for a real one)"
    );
    Ok((cert, key))
}

/// Writes a file that must not exist yet, with `mode`, durably.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_and_reloads_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ensure_self_signed(dir.path(), &["10.0.0.1".parse().unwrap()]).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let again = ensure_self_signed(dir.path(), &[]).unwrap();
        assert_eq!(again, (cert.clone(), key.clone()));
        let rc = ReloadingCert::load(&cert, &key).unwrap();
        let first = rc.fingerprint();
        assert_eq!(first.len(), 32 * 3 - 1);
        assert!(!rc.reload(false), "unchanged files are not reloaded");
        // A new pair in another directory, moved over the old files.
        let other = tempfile::tempdir().unwrap();
        let (c2, k2) = ensure_self_signed(other.path(), &[]).unwrap();
        std::fs::rename(&c2, &cert).unwrap();
        // Certificate new, key old: refused, the old one stays.
        assert!(!rc.reload(true));
        assert_eq!(rc.fingerprint(), first);
        std::fs::rename(&k2, &key).unwrap();
        assert!(rc.reload(false));
        assert_ne!(rc.fingerprint(), first);
    }

    #[test]
    fn garbage_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("c.pem");
        let k = dir.path().join("k.pem");
        std::fs::write(&c, "not pem").unwrap();
        std::fs::write(&k, "not pem").unwrap();
        let err = format!("{:#}", ReloadingCert::load(&c, &k).unwrap_err());
        assert!(err.contains("c.pem"), "{err}");
    }
}
