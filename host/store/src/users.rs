//! SIP users (`store.users`): one JSON [`UserRecord`] per extension.
//!
//! Only digest HA1 values are stored (`H(user:realm:password)` for MD5 and SHA-256); the
//! caller computes them with `madoguchi_sip::auth::ha1_md5`/`ha1_sha256`, so a password never
//! reaches this crate or the disk.

use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use crate::error::db;
use crate::{Store, StoreError, USERS};

/// A SIP user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user part of the AOR and the digest username, e.g. `"2001"`.
    pub extension: String,
    pub display_name: String,
    /// Digest realm the HA1s were computed for; changing it requires a new password.
    pub realm: String,
    /// Lower-case hex MD5(`extension:realm:password`), 32 chars.
    pub ha1_md5: String,
    /// Lower-case hex SHA-256(`extension:realm:password`), 64 chars.
    pub ha1_sha256: String,
    pub created_unix: u64,
    /// A disabled user cannot authenticate (the account and its history remain).
    pub disabled: bool,
}

impl UserRecord {
    fn validate(&self) -> Result<(), StoreError> {
        if self.extension.is_empty() || self.extension.len() > 64 {
            return Err(StoreError::Invalid("extension must be 1..=64 bytes".into()));
        }
        if self.extension.chars().any(|c| c.is_control() || c == ' ') {
            return Err(StoreError::Invalid(
                "extension must not contain spaces or control characters".into(),
            ));
        }
        validate_ha1(&self.ha1_md5, 32, "ha1_md5")?;
        validate_ha1(&self.ha1_sha256, 64, "ha1_sha256")
    }
}

fn validate_ha1(v: &str, len: usize, field: &str) -> Result<(), StoreError> {
    if v.len() == len && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{field} must be {len} lower-case hex digits"
        )))
    }
}

fn codec(key: &str, source: serde_json::Error) -> StoreError {
    StoreError::Codec {
        table: "store.users".into(),
        key: key.to_string(),
        source,
    }
}

impl Store {
    /// The stored form: the HA1s sealed with the master key (bound to the extension and the
    /// algorithm), so the store alone does not let anyone answer a digest challenge.
    fn encode(&self, u: &UserRecord) -> Result<Vec<u8>, StoreError> {
        let sealer = &self.inner.ha1;
        let sealed = UserRecord {
            ha1_md5: sealer.seal(&ha1_context(&u.extension, "md5"), &u.ha1_md5),
            ha1_sha256: sealer.seal(&ha1_context(&u.extension, "sha256"), &u.ha1_sha256),
            ..u.clone()
        };
        serde_json::to_vec(&sealed).map_err(|e| codec(&u.extension, e))
    }

    /// Reads a stored user, opening its sealed HA1s (values an older version stored in
    /// clear are read as they are; [`Store::open`] seals them).
    fn decode(&self, key: &str, bytes: &[u8]) -> Result<UserRecord, StoreError> {
        let mut u: UserRecord = serde_json::from_slice(bytes).map_err(|e| codec(key, e))?;
        for (field, alg) in [(&mut u.ha1_md5, "md5"), (&mut u.ha1_sha256, "sha256")] {
            if field.starts_with(crate::keys::SEALED_PREFIX) {
                *field = self
                    .inner
                    .ha1
                    .open(&ha1_context(&u.extension, alg), field)
                    .map_err(|why| StoreError::Sealed {
                        what: format!("{alg} HA1 of user {key}"),
                        why,
                    })?;
            }
        }
        Ok(u)
    }

    /// Seals every HA1 still stored in clear (a store from before sealing). One transaction.
    pub(crate) fn seal_clear_users(&self) -> Result<(), StoreError> {
        let clear: Vec<String> = {
            let tx = self.db().begin_read().map_err(db)?;
            let t = tx.open_table(USERS).map_err(db)?;
            let mut v = Vec::new();
            for row in t.iter().map_err(db)? {
                let (k, val) = row.map_err(db)?;
                let text = String::from_utf8_lossy(val.value());
                if !text.contains(crate::keys::SEALED_PREFIX) {
                    v.push(k.value().to_string());
                }
            }
            v
        };
        if clear.is_empty() {
            return Ok(());
        }
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(USERS).map_err(db)?;
            for ext in &clear {
                let user = match t.get(ext.as_str()).map_err(db)? {
                    Some(v) => self.decode(ext, v.value())?,
                    None => continue,
                };
                let bytes = self.encode(&user)?;
                t.insert(ext.as_str(), bytes.as_slice()).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        tracing::info!(users = clear.len(), "sealed digest HA1s stored in clear");
        Ok(())
    }

    /// Re-seals every user's HA1s under `new` (key rotation). One transaction: a crash
    /// leaves every user under the old key or every user under the new one.
    pub fn reseal_users(&self, new: &crate::MasterKey) -> Result<usize, StoreError> {
        let users = self.list_users()?;
        let sealer = crate::keys::Sealer::new(new, "ha1");
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(USERS).map_err(db)?;
            for u in &users {
                let sealed = UserRecord {
                    ha1_md5: sealer.seal(&ha1_context(&u.extension, "md5"), &u.ha1_md5),
                    ha1_sha256: sealer.seal(&ha1_context(&u.extension, "sha256"), &u.ha1_sha256),
                    ..u.clone()
                };
                let bytes = serde_json::to_vec(&sealed).map_err(|e| codec(&u.extension, e))?;
                t.insert(u.extension.as_str(), bytes.as_slice())
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(users.len())
    }
}

fn ha1_context(extension: &str, alg: &str) -> String {
    format!("store.users\0{extension}\0{alg}")
}

impl Store {
    /// Adds a user; fails with [`StoreError::UserExists`] if the extension is taken.
    pub fn add_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        user.validate()?;
        let bytes = self.encode(user)?;
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(USERS).map_err(db)?;
            if t.get(user.extension.as_str()).map_err(db)?.is_some() {
                return Err(StoreError::UserExists(user.extension.clone()));
            }
            t.insert(user.extension.as_str(), bytes.as_slice())
                .map_err(db)?;
        }
        crate::error::commit(tx)
    }

    /// The user with this extension, if any.
    pub fn get_user(&self, extension: &str) -> Result<Option<UserRecord>, StoreError> {
        let tx = self.db().begin_read().map_err(db)?;
        let t = tx.open_table(USERS).map_err(db)?;
        let found = t.get(extension).map_err(db)?;
        found.map(|v| self.decode(extension, v.value())).transpose()
    }

    /// All users, ordered by extension.
    pub fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let tx = self.db().begin_read().map_err(db)?;
        let t = tx.open_table(USERS).map_err(db)?;
        let mut out = Vec::with_capacity(t.len().map_err(db)? as usize);
        for row in t.iter().map_err(db)? {
            let (k, v) = row.map_err(db)?;
            out.push(self.decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Replaces a user's HA1s (the caller hashes the new password for the user's realm).
    pub fn set_password(
        &self,
        extension: &str,
        ha1_md5: &str,
        ha1_sha256: &str,
    ) -> Result<(), StoreError> {
        self.update_user(extension, |u| {
            u.ha1_md5 = ha1_md5.to_string();
            u.ha1_sha256 = ha1_sha256.to_string();
        })
    }

    /// Enables or disables a user.
    pub fn set_disabled(&self, extension: &str, disabled: bool) -> Result<(), StoreError> {
        self.update_user(extension, |u| u.disabled = disabled)
    }

    /// Removes a user; [`StoreError::NoSuchUser`] if absent. Their registrations are kept
    /// until they expire or the caller removes them with `put_bindings(aor, &[])`.
    pub fn remove_user(&self, extension: &str) -> Result<(), StoreError> {
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(USERS).map_err(db)?;
            if t.remove(extension).map_err(db)?.is_none() {
                return Err(StoreError::NoSuchUser(extension.to_string()));
            }
        }
        crate::error::commit(tx)
    }

    /// Read-modify-write of one user inside a single write transaction.
    fn update_user(
        &self,
        extension: &str,
        change: impl FnOnce(&mut UserRecord),
    ) -> Result<(), StoreError> {
        let tx = self.db().begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(USERS).map_err(db)?;
            let mut user = match t.get(extension).map_err(db)? {
                Some(v) => self.decode(extension, v.value())?,
                None => return Err(StoreError::NoSuchUser(extension.to_string())),
            };
            change(&mut user);
            user.validate()?;
            let bytes = self.encode(&user)?;
            t.insert(extension, bytes.as_slice()).map_err(db)?;
        }
        crate::error::commit(tx)
    }
}
