//! Store tests on a real redb file in a temporary directory.

use madoguchi_store::{Store, StoreError, UserRecord, FILE_NAME};
use serde::{Deserialize, Serialize};

/// Stand-in for the registrar's binding (the store only reads `expires_at_unix`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TestBinding {
    contact: String,
    expires_at_unix: u64,
    source: String,
}

fn b(contact: &str, at: u64) -> TestBinding {
    TestBinding {
        contact: contact.into(),
        expires_at_unix: at,
        source: "udp:127.0.0.1:5062".into(),
    }
}

fn user(ext: &str) -> UserRecord {
    UserRecord {
        extension: ext.into(),
        display_name: format!("User {ext}"),
        realm: "pbx.example".into(),
        ha1_md5: "0".repeat(32),
        ha1_sha256: "a".repeat(64),
        created_unix: 1_700_000_000,
        disabled: false,
    }
}

#[test]
fn open_creates_the_file_and_a_stable_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let s1 = Store::open(&data).unwrap();
    assert!(data.join(FILE_NAME).exists());
    let secret = s1.server_secret();
    assert_ne!(secret, [0u8; 32]);
    drop(s1);
    let s2 = Store::open(&data).unwrap();
    assert_eq!(s2.server_secret(), secret, "secret survives a restart");

    let other = tempfile::tempdir().unwrap();
    let s3 = Store::open(other.path()).unwrap();
    assert_ne!(s3.server_secret(), secret, "each installation gets its own");
}

#[test]
fn users_crud() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.add_user(&user("2001")).unwrap();
    store.add_user(&user("1001")).unwrap();
    match store.add_user(&user("2001")) {
        Err(StoreError::UserExists(e)) => assert_eq!(e, "2001"),
        other => panic!("expected UserExists, got {other:?}"),
    }
    assert_eq!(store.get_user("2001").unwrap(), Some(user("2001")));
    assert_eq!(store.get_user("9999").unwrap(), None);
    let exts: Vec<_> = store
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.extension)
        .collect();
    assert_eq!(exts, ["1001", "2001"]);

    store
        .set_password("2001", &"1".repeat(32), &"2".repeat(64))
        .unwrap();
    let u = store.get_user("2001").unwrap().unwrap();
    assert_eq!(u.ha1_md5, "1".repeat(32));
    assert_eq!(u.ha1_sha256, "2".repeat(64));
    assert!(matches!(
        store.set_password("2001", "not-hex", &"2".repeat(64)),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.set_password("9999", &"1".repeat(32), &"2".repeat(64)),
        Err(StoreError::NoSuchUser(_))
    ));
    store.set_disabled("2001", true).unwrap();
    assert!(store.get_user("2001").unwrap().unwrap().disabled);

    store.remove_user("2001").unwrap();
    assert_eq!(store.get_user("2001").unwrap(), None);
    assert!(matches!(
        store.remove_user("2001"),
        Err(StoreError::NoSuchUser(_))
    ));
}

#[test]
fn invalid_users_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut u = user("");
    assert!(matches!(store.add_user(&u), Err(StoreError::Invalid(_))));
    u = user("2001");
    u.ha1_md5 = "ABCDEF".repeat(6)[..32].to_string(); // upper case
    assert!(matches!(store.add_user(&u), Err(StoreError::Invalid(_))));
    assert_eq!(store.list_users().unwrap(), vec![]);
}

#[test]
fn bindings_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.add_user(&user("2001")).unwrap();
        store
            .put_bindings(
                "sip:2001@pbx.example",
                &[
                    b("sip:2001@10.0.0.5:5060", 2000),
                    b("sip:2001@10.0.0.6", 3000),
                ],
            )
            .unwrap();
        // `store` is dropped here without any explicit close, like a killed process after commit.
    }
    let store = Store::open(dir.path()).unwrap();
    let got: Vec<TestBinding> = store.get_bindings("sip:2001@pbx.example").unwrap();
    assert_eq!(
        got,
        [
            b("sip:2001@10.0.0.5:5060", 2000),
            b("sip:2001@10.0.0.6", 3000)
        ]
    );
    assert!(store.get_user("2001").unwrap().is_some());
}

#[test]
fn bindings_put_get_all_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let none: Vec<TestBinding> = store.get_bindings("sip:x@y").unwrap();
    assert!(none.is_empty());

    store
        .put_bindings("sip:a@d", &[b("sip:a@1", 100), b("sip:a@2", 200)])
        .unwrap();
    store.put_bindings("sip:b@d", &[b("sip:b@1", 150)]).unwrap();
    let all: Vec<(String, Vec<TestBinding>)> = store.all_bindings().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].0, "sip:a@d");

    // At t=150: sip:a@1 (100) and sip:b@1 (150, expiring exactly now) go.
    assert_eq!(store.purge_expired(150).unwrap(), 2);
    let all: Vec<(String, Vec<TestBinding>)> = store.all_bindings().unwrap();
    assert_eq!(all, vec![("sip:a@d".to_string(), vec![b("sip:a@2", 200)])]);
    assert_eq!(store.purge_expired(150).unwrap(), 0);

    // Empty slice removes the AOR.
    store.put_bindings::<TestBinding>("sip:a@d", &[]).unwrap();
    let all: Vec<(String, Vec<TestBinding>)> = store.all_bindings().unwrap();
    assert!(all.is_empty());
}

#[test]
fn purge_keeps_entries_it_does_not_understand() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let odd = serde_json::json!([{ "contact": "x" }, { "contact": "y", "expires_at_unix": 5 }]);
    store
        .put_bindings("sip:o@d", odd.as_array().unwrap())
        .unwrap();
    assert_eq!(store.purge_expired(10).unwrap(), 1);
    let left: Vec<serde_json::Value> = store.get_bindings("sip:o@d").unwrap();
    assert_eq!(left, vec![serde_json::json!({ "contact": "x" })]);
}

#[test]
fn generic_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get_json::<u32>("ivr.counters", "a").unwrap(), None);
    assert!(store.list_json::<u32>("ivr.counters").unwrap().is_empty());
    store.put_json("ivr.counters", "b", &2u32).unwrap();
    store.put_json("ivr.counters", "a", &1u32).unwrap();
    assert_eq!(store.get_json::<u32>("ivr.counters", "a").unwrap(), Some(1));
    assert_eq!(
        store.list_json::<u32>("ivr.counters").unwrap(),
        vec![("a".to_string(), 1), ("b".to_string(), 2)]
    );
    assert!(store.remove_json("ivr.counters", "a").unwrap());
    assert!(!store.remove_json("ivr.counters", "a").unwrap());
    assert!(matches!(
        store.put_json("store.users", "x", &1u32),
        Err(StoreError::BadTableName(_))
    ));
    // A type mismatch is a clear codec error, not a panic.
    store.put_json("ivr.counters", "s", &"text").unwrap();
    assert!(matches!(
        store.get_json::<u32>("ivr.counters", "s"),
        Err(StoreError::Codec { .. })
    ));
}

#[test]
fn readers_run_in_parallel_with_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.put_bindings("sip:r@d", &[b("sip:r@1", 1)]).unwrap();
    // Hold a read snapshot open while writing: MVCC means neither blocks the other.
    let snapshot = store.db().begin_read().unwrap();
    store.put_bindings("sip:r@d", &[b("sip:r@1", 2)]).unwrap();
    drop(snapshot);

    let readers: Vec<_> = (0..4)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let got: Vec<TestBinding> = s.get_bindings("sip:r@d").unwrap();
                    assert_eq!(got.len(), 1);
                    assert!(got[0].expires_at_unix >= 2);
                }
            })
        })
        .collect();
    for i in 3..50 {
        store.put_bindings("sip:r@d", &[b("sip:r@1", i)]).unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    let got: Vec<TestBinding> = store.get_bindings("sip:r@d").unwrap();
    assert_eq!(got[0].expires_at_unix, 49);
}

#[test]
fn a_second_open_of_the_same_file_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let _s = Store::open(dir.path()).unwrap();
    assert!(matches!(Store::open(dir.path()), Err(StoreError::Db(_))));
}

/// Issue 14: the store held each user's MD5 HA1 in clear, enough to authenticate as the
/// user. Now the file alone gives nothing: the HA1s are sealed with the master key, which
/// lives outside it.
#[test]
fn digest_secrets_are_sealed_with_a_key_outside_the_store() {
    use madoguchi_store::MasterKey;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = MasterKey::generate();
    let mut u = user("1001");
    u.ha1_md5 = "5f4dcc3b5aa765d61d8327deb882cf99".into();
    {
        let s = Store::open_with_key(&data, key.clone()).unwrap();
        s.add_user(&u).unwrap();
        assert_eq!(s.get_user("1001").unwrap().unwrap(), u);
    }
    let raw = std::fs::read(data.join(FILE_NAME)).unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains(&u.ha1_md5), "MD5 HA1 in clear in the file");
    assert!(
        !text.contains(&u.ha1_sha256),
        "SHA-256 HA1 in clear in the file"
    );
    // Another key opens the store but not the secrets, and says why.
    let other = Store::open_with_key(&data, MasterKey::generate()).unwrap();
    let err = other.get_user("1001").unwrap_err().to_string();
    assert!(err.contains("master key"), "{err}");
    drop(other);
    // Rotation: re-sealed under a new key, readable with it only.
    let s = Store::open_with_key(&data, key).unwrap();
    let new = MasterKey::generate();
    assert_eq!(s.reseal_users(&new).unwrap(), 1);
    drop(s);
    let s = Store::open_with_key(&data, new).unwrap();
    assert_eq!(s.get_user("1001").unwrap().unwrap(), u);
}
