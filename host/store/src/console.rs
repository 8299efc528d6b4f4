//! Console users (`store.console_users`) and their login sessions (`store.sessions`).
//!
//! A console user is a person who logs into the web console with a name and a password
//! (SIP users are phones; tokens are scripts). Passwords are hashed with argon2id (a
//! memory-hard KDF, OWASP's first choice) in PHC string form; the password itself never
//! reaches the disk. Sessions are random 32-byte secrets of which only the SHA-256 is
//! stored, like tokens, so a copy of the database opens no session.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::db;
use crate::{Role, Store, StoreError};

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("store.console_users");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("store.sessions");

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// A console user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleUser {
    pub name: String,
    pub role: Role,
    /// argon2id PHC string (`$argon2id$v=19$m=…`).
    pub password_hash: String,
    #[serde(default)]
    pub disabled: bool,
    pub created_unix: u64,
}

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    /// The anti-CSRF token the browser sends back in `X-CSRF-Token`.
    pub csrf: String,
    pub created_unix_ms: u64,
    pub last_seen_unix_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn codec(table: &str, key: &str, source: serde_json::Error) -> StoreError {
    StoreError::Codec {
        table: table.into(),
        key: key.into(),
        source,
    }
}

/// Checks a console user name: 1..=64 characters, no spaces or control characters.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err(StoreError::Invalid(
            "a console user name has 1 to 64 characters".into(),
        ));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(StoreError::Invalid(
            "a console user name has no spaces or control characters".into(),
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(StoreError::Invalid(format!(
            "a console password has at least {MIN_PASSWORD} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches a PHC hash (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that a login for an unknown
/// name takes as long as one with a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

impl Store {
    /// Adds a console user; fails if the name is taken.
    pub fn add_console_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<ConsoleUser, StoreError> {
        check_name(name)?;
        let user = ConsoleUser {
            name: name.to_string(),
            role,
            password_hash: hash_password(password)?,
            disabled: false,
            created_unix: now_ms() / 1000,
        };
        let bytes = serde_json::to_vec(&user).map_err(|e| codec("store.console_users", name, e))?;
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(USERS).map_err(db)?;
            if t.get(name).map_err(db)?.is_some() {
                return Err(StoreError::UserExists(name.to_string()));
            }
            t.insert(name, bytes.as_slice()).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(user)
    }

    /// One console user.
    pub fn console_user(&self, name: &str) -> Result<Option<ConsoleUser>, StoreError> {
        let tx = self.db().begin_read().map_err(db)?;
        let t = match tx.open_table(USERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db(e)),
        };
        match t.get(name).map_err(db)? {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| codec("store.console_users", name, e)),
            None => Ok(None),
        }
    }

    /// Every console user, by name.
    pub fn list_console_users(&self) -> Result<Vec<ConsoleUser>, StoreError> {
        let tx = self.db().begin_read().map_err(db)?;
        let t = match tx.open_table(USERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db(e)),
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(db)? {
            let (k, v) = row.map_err(db)?;
            out.push(
                serde_json::from_slice(v.value())
                    .map_err(|e| codec("store.console_users", k.value(), e))?,
            );
        }
        Ok(out)
    }

    /// Changes a console user's role, disabled flag or password (each when `Some`).
    /// Disabling a user or changing the password ends the user's sessions.
    pub fn update_console_user(
        &self,
        name: &str,
        role: Option<Role>,
        disabled: Option<bool>,
        password: Option<&str>,
    ) -> Result<ConsoleUser, StoreError> {
        let hash = password.map(hash_password).transpose()?;
        let tx = self.db().begin_write().map_err(db)?;
        let user = {
            let mut t = tx.open_table(USERS).map_err(db)?;
            let mut user: ConsoleUser = match t.get(name).map_err(db)? {
                Some(v) => serde_json::from_slice(v.value())
                    .map_err(|e| codec("store.console_users", name, e))?,
                None => return Err(StoreError::NoSuchUser(name.to_string())),
            };
            if let Some(r) = role {
                user.role = r;
            }
            if let Some(d) = disabled {
                user.disabled = d;
            }
            if let Some(h) = hash.clone() {
                user.password_hash = h;
            }
            let bytes =
                serde_json::to_vec(&user).map_err(|e| codec("store.console_users", name, e))?;
            t.insert(name, bytes.as_slice()).map_err(db)?;
            user
        };
        if disabled == Some(true) || hash.is_some() {
            let mut s = tx.open_table(SESSIONS).map_err(db)?;
            let mine: Vec<String> = s
                .iter()
                .map_err(db)?
                .filter_map(|r| r.ok())
                .filter(|(_, v)| {
                    serde_json::from_slice::<Session>(v.value()).is_ok_and(|x| x.user == name)
                })
                .map(|(k, _)| k.value().to_string())
                .collect();
            for k in mine {
                s.remove(k.as_str()).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(user)
    }

    /// Starts a session for `user`: returns its secret (for the cookie) and the session.
    pub fn create_session(&self, user: &str) -> Result<(String, Session), StoreError> {
        let secret = random_hex(32);
        let now = now_ms();
        let session = Session {
            user: user.to_string(),
            csrf: random_hex(24),
            created_unix_ms: now,
            last_seen_unix_ms: now,
        };
        self.put_session(&sha_hex(&secret), &session)?;
        Ok((secret, session))
    }

    fn put_session(&self, key: &str, s: &Session) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(s).map_err(|e| codec("store.sessions", key, e))?;
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(SESSIONS).map_err(db)?;
            t.insert(key, bytes.as_slice()).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// The session a cookie secret names (malformed or unknown: `None`).
    pub fn session(&self, secret: &str) -> Result<Option<Session>, StoreError> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let key = sha_hex(secret);
        let tx = self.db().begin_read().map_err(db)?;
        let t = match tx.open_table(SESSIONS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db(e)),
        };
        match t.get(key.as_str()).map_err(db)? {
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| codec("store.sessions", &key, e)),
            None => Ok(None),
        }
    }

    /// Writes a session back as given (its `last_seen_unix_ms` set by the caller, which does
    /// this at most once a minute).
    pub fn save_session(&self, secret: &str, s: &Session) -> Result<(), StoreError> {
        self.put_session(&sha_hex(secret), s)
    }

    /// Ends a session (logout or expiry). `true` if it existed.
    pub fn end_session(&self, secret: &str) -> Result<bool, StoreError> {
        let key = sha_hex(secret);
        let tx = self.db().begin_write().map_err(db)?;
        let existed = {
            let mut t = tx.open_table(SESSIONS).map_err(db)?;
            let existed = t.remove(key.as_str()).map_err(db)?.is_some();
            existed
        };
        tx.commit().map_err(db)?;
        Ok(existed)
    }

    /// Removes sessions last used before `idle_before_ms` or created before
    /// `created_before_ms`; returns how many.
    pub fn purge_sessions(
        &self,
        idle_before_ms: u64,
        created_before_ms: u64,
    ) -> Result<usize, StoreError> {
        let tx = self.db().begin_write().map_err(db)?;
        let n = {
            let mut t = tx.open_table(SESSIONS).map_err(db)?;
            let stale: Vec<String> = t
                .iter()
                .map_err(db)?
                .filter_map(|r| r.ok())
                .filter(|(_, v)| {
                    serde_json::from_slice::<Session>(v.value()).map_or(true, |s| {
                        s.last_seen_unix_ms < idle_before_ms
                            || s.created_unix_ms < created_before_ms
                    })
                })
                .map(|(k, _)| k.value().to_string())
                .collect();
            for k in &stale {
                t.remove(k.as_str()).map_err(db)?;
            }
            stale.len()
        };
        tx.commit().map_err(db)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_passwords_and_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert!(s
            .add_console_user("a b", Role::Admin, "long enough")
            .is_err());
        assert!(s.add_console_user("kanri", Role::Admin, "short").is_err());
        let u = s
            .add_console_user("kanri", Role::Admin, "正しいパスワード")
            .unwrap();
        assert!(u.password_hash.starts_with("$argon2id$"));
        assert!(matches!(
            s.add_console_user("kanri", Role::Viewer, "another one"),
            Err(StoreError::UserExists(_))
        ));
        assert!(verify_password(&u.password_hash, "正しいパスワード"));
        assert!(!verify_password(&u.password_hash, "wrong password"));
        assert!(!verify_password("garbage", "x"));
        assert!(!verify_password(dummy_hash(), "x"));

        let (secret, sess) = s.create_session("kanri").unwrap();
        assert_eq!(s.session(&secret).unwrap(), Some(sess.clone()));
        assert_eq!(s.session("nothex").unwrap(), None);
        assert_eq!(s.session(&"0".repeat(64)).unwrap(), None);
        // A new password ends the sessions.
        s.update_console_user("kanri", None, None, Some("新しいパスワード"))
            .unwrap();
        assert_eq!(s.session(&secret).unwrap(), None);
        let (secret, _) = s.create_session("kanri").unwrap();
        let u = s
            .update_console_user("kanri", Some(Role::Auditor), None, None)
            .unwrap();
        assert_eq!(u.role, Role::Auditor);
        assert!(s.session(&secret).unwrap().is_some());
        assert!(s.end_session(&secret).unwrap());
        assert!(!s.end_session(&secret).unwrap());
        let (_, _) = s.create_session("kanri").unwrap();
        assert_eq!(s.purge_sessions(u64::MAX, 0).unwrap(), 1);
        assert_eq!(s.list_console_users().unwrap().len(), 1);
        assert!(matches!(
            s.update_console_user("nobody", None, Some(true), None),
            Err(StoreError::NoSuchUser(_))
        ));
        // The password is not in the file.
        drop(s);
        let raw = std::fs::read(dir.path().join(crate::FILE_NAME)).unwrap();
        let needle = "新しいパスワード".as_bytes();
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
    }
}
