//! Admin API bearer tokens (`api.tokens`).
//!
//! A token's secret is `mdg_` followed by 64 hex digits (32 random bytes from the OS). Only
//! the SHA-256 of the whole secret is stored, as the table key, so a copy of the database
//! does not hand out working tokens. Checking a presented secret hashes it and looks the hash
//! up: the lookup's timing depends only on a hash the caller cannot steer, which is what keeps
//! it safe against timing attacks without a constant-time compare over every token.
//!
//! A token's public id is the first 8 hex digits of that hash; it names the token in lists,
//! logs and `revoke`, and is unique among stored tokens (creation draws again on a clash).

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Store, StoreError};

/// Table holding `sha256(secret)` hex → JSON [`TokenMeta`].
pub const TABLE: &str = "api.tokens";

/// Every secret starts with this, so leaked tokens are easy to grep for and recognise.
pub const PREFIX: &str = "mdg_";

/// What a token or console user may do. Roles are not a ladder (an auditor reads the audit
/// log, which an operator may not; an operator changes scenarios, which an auditor may not):
/// what each role allows is [`Role::can`], one table for the whole server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only (settings, call records, recording metadata; never audio or the audit log).
    Viewer,
    /// Read, plus day-to-day changes: scenario validation, prompts, hours, queue members.
    Operator,
    /// Everything.
    Admin,
    /// Queues, calls and listening to recordings.
    Supervisor,
    /// Reads the audit log and recording metadata, never audio.
    Auditor,
}

/// One thing a request may need (see the permission matrix in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Read settings, call records and queues.
    Read,
    /// Search recordings and read their metadata.
    RecordingsRead,
    /// Hear or download recording audio.
    RecordingsListen,
    /// Delete a recording.
    RecordingsDelete,
    /// Read the audit log.
    AuditRead,
    /// Log queue members in and out, pause them.
    QueuesManage,
    /// Day-to-day changes: validate scenarios, upload prompts, hours and holidays.
    Operate,
    /// Everything else (publishing, plugins, users, the test clock).
    Admin,
}

impl Permission {
    /// Every permission, in the order of the documented matrix.
    pub const ALL: [Permission; 8] = [
        Permission::Read,
        Permission::RecordingsRead,
        Permission::RecordingsListen,
        Permission::RecordingsDelete,
        Permission::AuditRead,
        Permission::QueuesManage,
        Permission::Operate,
        Permission::Admin,
    ];

    /// The kebab-case name used in JSON and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::RecordingsRead => "recordings-read",
            Permission::RecordingsListen => "recordings-listen",
            Permission::RecordingsDelete => "recordings-delete",
            Permission::AuditRead => "audit-read",
            Permission::QueuesManage => "queues-manage",
            Permission::Operate => "operate",
            Permission::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Supervisor,
        Role::Operator,
        Role::Auditor,
        Role::Viewer,
    ];

    /// The lower-case name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
        }
    }

    /// The permission matrix: whether this role may do `p`.
    pub fn can(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Supervisor => matches!(
                p,
                P::Read | P::RecordingsRead | P::RecordingsListen | P::QueuesManage
            ),
            Role::Operator => matches!(
                p,
                P::Read | P::RecordingsRead | P::QueuesManage | P::Operate
            ),
            Role::Auditor => matches!(p, P::Read | P::RecordingsRead | P::AuditRead),
            Role::Viewer => matches!(p, P::Read | P::RecordingsRead),
        }
    }

    /// What this role may do.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|p| self.can(*p))
            .collect()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            "supervisor" => Ok(Role::Supervisor),
            "auditor" => Ok(Role::Auditor),
            other => Err(StoreError::Invalid(format!(
                "unknown role {other:?}: use admin, supervisor, operator, auditor or viewer"
            ))),
        }
    }
}

/// What is known about a token; never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMeta {
    /// First 8 hex digits of the secret's SHA-256.
    pub id: String,
    pub role: Role,
    /// Free text saying whose or what for (e.g. `"ci deploy"`); recorded as the actor.
    pub label: String,
    pub created_unix: u64,
    /// Who created it (the CLI records the OS user or `"cli"`).
    pub created_by: String,
}

impl TokenMeta {
    /// How changes made with this token are attributed: `label (id)`, or the id alone.
    pub fn actor(&self) -> String {
        if self.label.is_empty() {
            format!("token {}", self.id)
        } else {
            format!("{} ({})", self.label, self.id)
        }
    }
}

fn hash_hex(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Store {
    /// Creates a token and returns its secret (shown once; only its hash is kept) and meta.
    pub fn create_token(
        &self,
        role: Role,
        label: &str,
        created_by: &str,
    ) -> Result<(String, TokenMeta), StoreError> {
        if label.len() > 128 || label.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "token label must be at most 128 bytes without control characters".into(),
            ));
        }
        let existing = self.list_tokens()?;
        // A clash of 8-hex-digit ids is rare but would make `revoke` ambiguous: draw again.
        for _ in 0..16 {
            let mut raw = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut raw);
            let secret = format!("{PREFIX}{}", hex(&raw));
            let hash = hash_hex(&secret);
            let id = hash[..8].to_string();
            if existing.iter().any(|t| t.id == id) {
                continue;
            }
            let meta = TokenMeta {
                id,
                role,
                label: label.to_string(),
                created_unix: now_unix(),
                created_by: created_by.to_string(),
            };
            self.put_json(TABLE, &hash, &meta)?;
            return Ok((secret, meta));
        }
        Err(StoreError::Invalid(
            "could not draw a token id that is not taken".into(),
        ))
    }

    /// The token a presented secret belongs to, or `None` if it is unknown or revoked.
    /// Malformed input is simply unknown (this is fed straight from HTTP headers).
    pub fn check_token(&self, secret: &str) -> Result<Option<TokenMeta>, StoreError> {
        if !secret.starts_with(PREFIX) || secret.len() != PREFIX.len() + 64 {
            return Ok(None);
        }
        self.get_json(TABLE, &hash_hex(secret))
    }

    /// Every token, ordered by id.
    pub fn list_tokens(&self) -> Result<Vec<TokenMeta>, StoreError> {
        let mut v: Vec<TokenMeta> = self
            .list_json::<TokenMeta>(TABLE)?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    /// Revokes the token with this id (see [`TokenMeta::id`]); it stops working at once.
    /// Fails with [`StoreError::Invalid`] if no token has that id.
    pub fn revoke_token(&self, id: &str) -> Result<TokenMeta, StoreError> {
        let rows = self.list_json::<TokenMeta>(TABLE)?;
        let Some((hash, meta)) = rows.into_iter().find(|(_, m)| m.id == id) else {
            return Err(StoreError::Invalid(format!("no token with id {id:?}")));
        };
        self.remove_json(TABLE, &hash)?;
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn create_check_list_revoke() {
        let (_d, s) = store();
        let (secret, meta) = s.create_token(Role::Admin, "ci", "tester").unwrap();
        assert!(secret.starts_with("mdg_"));
        assert_eq!(secret.len(), 4 + 64);
        assert!(secret[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(meta.id, hash_hex(&secret)[..8]);
        assert_eq!(meta.role, Role::Admin);
        assert_eq!(meta.created_by, "tester");
        assert!(meta.created_unix > 1_700_000_000);

        assert_eq!(s.check_token(&secret).unwrap(), Some(meta.clone()));
        let (other, _) = s.create_token(Role::Viewer, "", "tester").unwrap();
        assert_ne!(other, secret);
        assert_eq!(s.list_tokens().unwrap().len(), 2);

        assert_eq!(s.revoke_token(&meta.id).unwrap(), meta);
        assert_eq!(s.check_token(&secret).unwrap(), None);
        assert!(s.check_token(&other).unwrap().is_some());
        assert!(s.revoke_token(&meta.id).is_err());
        assert_eq!(s.list_tokens().unwrap().len(), 1);
    }

    #[test]
    fn the_secret_is_not_stored() {
        let (dir, s) = store();
        let (secret, _) = s.create_token(Role::Operator, "x", "y").unwrap();
        drop(s);
        let raw = std::fs::read(dir.path().join(crate::FILE_NAME)).unwrap();
        let needle = &secret.as_bytes()[4..];
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn malformed_and_unknown_secrets_are_refused() {
        let (_d, s) = store();
        let (secret, _) = s.create_token(Role::Admin, "", "y").unwrap();
        for bad in [
            "",
            "mdg_",
            "Bearer x",
            &secret[..secret.len() - 1],
            &secret.to_uppercase(),
            &format!("{secret}0"),
            &format!("mdg_{}", "0".repeat(64)),
        ] {
            assert_eq!(s.check_token(bad).unwrap(), None, "{bad:?}");
        }
    }

    #[test]
    fn roles_round_trip_lowercase() {
        assert_eq!(
            serde_json::to_string(&Role::Operator).unwrap(),
            "\"operator\""
        );
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        assert!("root".parse::<Role>().is_err());
        // Tables on the command line pad it.
        assert_eq!(format!("{:<8}|", Role::Admin), "admin   |");
    }

    #[test]
    fn the_permission_matrix() {
        use Permission as P;
        // Everybody reads settings and recording metadata.
        for r in Role::ALL {
            assert!(r.can(P::Read) && r.can(P::RecordingsRead), "{r}");
        }
        let listeners: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can(P::RecordingsListen))
            .collect();
        assert_eq!(listeners, [Role::Admin, Role::Supervisor]);
        let auditors: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can(P::AuditRead))
            .collect();
        assert_eq!(auditors, [Role::Admin, Role::Auditor]);
        assert!(!Role::Auditor.can(P::RecordingsListen));
        assert!(!Role::Supervisor.can(P::RecordingsDelete));
        assert!(Role::Operator.can(P::Operate) && !Role::Operator.can(P::Admin));
        assert!(Role::Supervisor.can(P::QueuesManage) && !Role::Supervisor.can(P::Operate));
        assert_eq!(Role::Admin.permissions(), P::ALL.to_vec());
        assert_eq!(Role::Viewer.permissions(), [P::Read, P::RecordingsRead]);
        assert_eq!(
            serde_json::to_string(&P::RecordingsListen).unwrap(),
            "\"recordings-listen\""
        );
    }

    #[test]
    fn labels_are_checked() {
        let (_d, s) = store();
        assert!(s.create_token(Role::Admin, "a\nb", "y").is_err());
        assert!(s.create_token(Role::Admin, &"x".repeat(129), "y").is_err());
        assert!(s.list_tokens().unwrap().is_empty());
    }
}
