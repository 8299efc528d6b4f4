//! The `store.meta` table: schema version and server secret.

use rand::RngCore;
use redb::{Database, ReadableTable};

use crate::error::db;
use crate::{StoreError, META, REGISTRATIONS, SCHEMA_VERSION, USERS};

const KEY_SCHEMA: &str = "schema_version";
const KEY_SECRET: &str = "server_secret";

/// Creates the store's tables, checks or writes the schema version and returns the secret
/// (generated on first open). One write transaction, so a crash during first open leaves
/// either nothing or everything.
pub(crate) fn initialise(database: &Database) -> Result<[u8; 32], StoreError> {
    let tx = database.begin_write().map_err(db)?;
    let secret = {
        let mut meta = tx.open_table(META).map_err(db)?;
        tx.open_table(USERS).map_err(db)?;
        tx.open_table(REGISTRATIONS).map_err(db)?;

        let found = meta
            .get(KEY_SCHEMA)
            .map_err(db)?
            .map(|v| decode_u64(v.value()));
        match found {
            Some(Some(v)) if v > SCHEMA_VERSION => {
                return Err(StoreError::SchemaTooNew {
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
            Some(Some(_)) => {}
            Some(None) => {
                return Err(StoreError::Invalid(
                    "store.meta schema_version is not 8 bytes".into(),
                ))
            }
            None => {
                meta.insert(KEY_SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice())
                    .map_err(db)?;
            }
        }

        let existing: Option<Vec<u8>> = meta
            .get(KEY_SECRET)
            .map_err(db)?
            .map(|v| v.value().to_vec());
        match existing {
            Some(bytes) => bytes.as_slice().try_into().map_err(|_| {
                StoreError::Invalid("store.meta server_secret is not 32 bytes".into())
            })?,
            None => {
                let mut s = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut s);
                meta.insert(KEY_SECRET, s.as_slice()).map_err(db)?;
                s
            }
        }
    };
    tx.commit().map_err(db)?;
    Ok(secret)
}

fn decode_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.redb");
        {
            let database = Database::create(&path).unwrap();
            let tx = database.begin_write().unwrap();
            {
                let mut meta = tx.open_table(META).unwrap();
                meta.insert(KEY_SCHEMA, 99u64.to_be_bytes().as_slice())
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        let database = Database::create(&path).unwrap();
        match initialise(&database) {
            Err(StoreError::SchemaTooNew { found: 99, .. }) => {}
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
}
