//! The master key: the one secret kept **outside** the store, so that reading `madoguchi.redb`
//! (a backup, a copied file, another local account) is not enough to log in as a user or to
//! listen to a call.
//!
//! Where it comes from, first found wins:
//! 1. `MADOGUCHI_MASTER_KEY`: 64 hex digits in the environment (a secrets manager, systemd
//!    `LoadCredential`…);
//! 2. the key file named by the config (`[security] master_key_file`) or by
//!    `MADOGUCHI_MASTER_KEY_FILE`;
//! 3. `DATA/master.key`, generated (32 random bytes as hex, mode 0600) on first start so the
//!    demo works out of the box. Production keeps it elsewhere (another disk, a secrets
//!    mount), so that the data directory alone opens nothing.
//!
//! What it protects: each user's digest HA1s (sealed with XChaCha20-Poly1305 under a key
//! derived for that purpose) and each recording's file key (wrapped under another derived
//! key; see `madoguchi_media::recording::sealed`). Key rotation (`madoguchi key rotate`)
//! re-seals the HA1s and re-wraps the file keys; audio is never re-encrypted.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Environment variable holding the key itself (64 hex digits).
pub const ENV_KEY: &str = "MADOGUCHI_MASTER_KEY";
/// Environment variable naming a key file.
pub const ENV_KEY_FILE: &str = "MADOGUCHI_MASTER_KEY_FILE";
/// The default key file inside the data directory (generated when absent).
pub const DEFAULT_KEY_FILE: &str = "master.key";

/// Why the master key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{origin}: the master key must be 64 hex digits (32 bytes)")]
    Malformed { origin: String },
    #[error("cannot read the master key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the master key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the master key file {path} is readable by other accounts (mode {mode:o}); chmod 600 it"
    )]
    Exposed { path: PathBuf, mode: u32 },
}

/// 32 secret bytes. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    bytes: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id())
    }
}

/// Where the key in use came from, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    Generated(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => write!(f, "${ENV_KEY}"),
            KeySource::File(p) => write!(f, "{}", p.display()),
            KeySource::Generated(p) => write!(f, "{} (generated)", p.display()),
        }
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey { bytes }
    }

    /// A fresh random key.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        MasterKey { bytes }
    }

    /// Parses 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str, origin: &str) -> Result<MasterKey, KeyError> {
        let t = text.trim();
        let bad = || KeyError::Malformed {
            origin: origin.to_string(),
        };
        if t.len() != 64 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(t.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(MasterKey { bytes })
    }

    pub fn to_hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A short public name for the key (16 hex digits), safe to log and to store: files and
    /// users record which key sealed them, so a wrong key gives a clear error.
    pub fn id(&self) -> String {
        let h = Sha256::new()
            .chain_update(b"madoguchi key id\0")
            .chain_update(self.bytes)
            .finalize();
        h[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key for one purpose (`"ha1"`, `"recordings"`), so no two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"madoguchi key derivation\0")
            .chain_update(purpose.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.bytes)
            .finalize()
            .into()
    }

    /// Finds the key (see the module docs). `configured` is the config's key file, if any.
    pub fn resolve(
        data_dir: &Path,
        configured: Option<&Path>,
    ) -> Result<(MasterKey, KeySource), KeyError> {
        if let Ok(v) = std::env::var(ENV_KEY) {
            return Ok((MasterKey::from_hex(&v, ENV_KEY)?, KeySource::Env));
        }
        let named = configured
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(ENV_KEY_FILE).map(PathBuf::from));
        if let Some(path) = named {
            return Ok((MasterKey::read_file(&path)?, KeySource::File(path)));
        }
        let path = data_dir.join(DEFAULT_KEY_FILE);
        match MasterKey::read_file(&path) {
            Ok(k) => Ok((k, KeySource::File(path))),
            Err(KeyError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let k = MasterKey::generate();
                k.write_new_file(&path)?;
                Ok((k, KeySource::Generated(path)))
            }
            Err(e) => Err(e),
        }
    }

    /// Reads a key file; refuses one that other accounts can read.
    pub fn read_file(path: &Path) -> Result<MasterKey, KeyError> {
        let read = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read)?;
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Exposed {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        MasterKey::from_hex(&text, &path.display().to_string())
    }

    /// Writes the key to a new file, mode 0600 from its creation (never the umask's), synced.
    pub fn write_new_file(&self, path: &Path) -> Result<(), KeyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let create = |source| KeyError::Create {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::private_dir(parent).map_err(create)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(create)?;
        f.write_all(format!("{}\n", self.to_hex()).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(create)
    }
}

/// Sealed values: XChaCha20-Poly1305 with a random 192-bit nonce, bound to what they belong
/// to (`context`, e.g. the user's extension) so a sealed value cannot be moved to another
/// record. Text form: `sealed1:KEYID:HEX(nonce | ciphertext | tag)`.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

pub(crate) const SEALED_PREFIX: &str = "sealed1:";

impl Sealer {
    pub(crate) fn new(master: &MasterKey, purpose: &str) -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new(&master.derive(purpose).into()),
            key_id: master.id(),
        }
    }

    pub(crate) fn seal(&self, context: &str, plain: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a short value cannot fail");
        let mut out = format!("{SEALED_PREFIX}{}:", self.key_id);
        for b in nonce.iter().chain(ct.iter()) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

    /// `Err` names why: another key, or a damaged/altered value.
    pub(crate) fn open(&self, context: &str, sealed: &str) -> Result<String, String> {
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or("not a sealed value")?;
        let (key_id, hex) = rest.split_once(':').ok_or("malformed sealed value")?;
        if key_id != self.key_id {
            return Err(format!(
                "sealed with master key {key_id}, but the key in use is {}",
                self.key_id
            ));
        }
        if hex.len() % 2 != 0 || hex.len() < 2 * (24 + 16) {
            return Err("malformed sealed value".into());
        }
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| "malformed sealed value")?;
        let (nonce, ct) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| "sealed value altered or damaged (authentication failed)")?;
        String::from_utf8(plain).map_err(|_| "sealed value is not text".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_generated_key_file_is_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (k, src) = MasterKey::resolve(&data, None).unwrap();
        let path = data.join(DEFAULT_KEY_FILE);
        assert_eq!(src, KeySource::Generated(path.clone()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        let (again, src) = MasterKey::resolve(&data, None).unwrap();
        assert_eq!(again, k);
        assert_eq!(src, KeySource::File(path.clone()));
        // A key file other accounts can read is refused.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MasterKey::resolve(&data, None),
            Err(KeyError::Exposed { .. })
        ));
    }

    #[test]
    fn sealed_values_need_the_key_and_their_context() {
        let k = MasterKey::generate();
        let s = Sealer::new(&k, "ha1");
        let sealed = s.seal("1001", "abcdef");
        assert!(!sealed.contains("abcdef"));
        assert_eq!(s.open("1001", &sealed).unwrap(), "abcdef");
        assert!(s.open("1002", &sealed).is_err(), "bound to its record");
        let other = Sealer::new(&MasterKey::generate(), "ha1");
        assert!(other
            .open("1001", &sealed)
            .unwrap_err()
            .contains("master key"));
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert!(s
            .open("1001", &String::from_utf8(flipped).unwrap())
            .unwrap_err()
            .contains("altered"));
        assert_ne!(k.derive("ha1"), k.derive("recordings"));
        assert_eq!(format!("{k:?}"), format!("MasterKey({})", k.id()));
    }

    #[test]
    fn hex_keys_parse_strictly() {
        let k = MasterKey::generate();
        assert_eq!(MasterKey::from_hex(&k.to_hex(), "t").unwrap(), k);
        assert!(MasterKey::from_hex("abc", "t").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32), "t").is_err());
    }
}
