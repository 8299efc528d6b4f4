//! The prompt store: WAV only, content-addressed, survives reopening.

mod common;

use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use common::{wav, FakeClock};
use madoguchi_scenario::{PromptStore, ScenarioError};
use madoguchi_store::Store;

fn open(root: &std::path::Path) -> PromptStore {
    let store = Store::open(&root.join("data")).unwrap();
    std::fs::create_dir_all(root.join("prompts")).unwrap();
    let dir = Dir::open_ambient_dir(root.join("prompts"), ambient_authority()).unwrap();
    PromptStore::open_with_clock(&store, dir, Arc::new(FakeClock::default())).unwrap()
}

fn files(root: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("prompts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn upload_get_list_and_audio() {
    let tmp = tempfile::tempdir().unwrap();
    let p = open(tmp.path());
    let bytes = wav(3);
    let info = p
        .upload("greeting", &bytes, "お電話ありがとうございます。", "yamada")
        .unwrap();
    assert_eq!(info.id, "greeting");
    assert_eq!(info.duration_ms, 100);
    assert_eq!(info.bytes, bytes.len() as u64);
    assert_eq!(info.uploaded_by, "yamada");
    assert_eq!(info.sha256.len(), 64);
    assert_eq!(p.get("greeting").unwrap(), Some(info.clone()));
    assert_eq!(p.get("other").unwrap(), None);
    assert_eq!(p.list().unwrap(), vec![info.clone()]);
    assert_eq!(p.audio(&info.sha256).unwrap(), bytes);
    assert_eq!(files(tmp.path()), vec![format!("{}.wav", info.sha256)]);
}

#[test]
fn non_wav_bytes_are_refused_and_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let p = open(tmp.path());
    let err = p
        .upload("greeting", b"ID3\x03 an mp3", "x", "yamada")
        .unwrap_err();
    match &err {
        ScenarioError::NotAudio { id, reason } => {
            assert_eq!(id, "greeting");
            assert!(reason.contains("RIFF"), "{reason}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("\"greeting\""));
    assert!(p.upload("empty", &[], "x", "y").is_err());
    assert_eq!(p.get("greeting").unwrap(), None);
    assert!(p.list().unwrap().is_empty());
    assert!(files(tmp.path()).is_empty());
}

#[test]
fn ids_and_hashes_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let p = open(tmp.path());
    for bad in ["", "../x", "a b", &"a".repeat(65)] {
        assert!(
            matches!(
                p.upload(bad, &wav(1), "x", "y"),
                Err(ScenarioError::BadId { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        p.audio("../../etc/passwd"),
        Err(ScenarioError::BadId { .. })
    ));
    assert!(matches!(
        p.audio(&"A".repeat(64)),
        Err(ScenarioError::BadId { .. })
    ));
    assert!(matches!(
        p.audio(&"a".repeat(64)),
        Err(ScenarioError::NoAudio { .. })
    ));
}

#[test]
fn same_audio_is_stored_once_and_reupload_keeps_old_audio() {
    let tmp = tempfile::tempdir().unwrap();
    let p = open(tmp.path());
    let a = p.upload("digit-1", &wav(5), "いち", "y").unwrap();
    let b = p.upload("one", &wav(5), "いち", "y").unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(files(tmp.path()).len(), 1);
    // Replacing a prompt's audio keeps the old file for versions that pinned it.
    let c = p.upload("digit-1", &wav(7), "いち", "y").unwrap();
    assert_ne!(c.sha256, a.sha256);
    assert_eq!(p.get("digit-1").unwrap().unwrap().sha256, c.sha256);
    assert_eq!(p.audio(&a.sha256).unwrap(), wav(5));
    assert_eq!(files(tmp.path()).len(), 2);
}

#[test]
fn corrupted_audio_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let p = open(tmp.path());
    let info = p.upload("greeting", &wav(3), "x", "y").unwrap();
    std::fs::write(
        tmp.path()
            .join("prompts")
            .join(format!("{}.wav", info.sha256)),
        b"tampered",
    )
    .unwrap();
    assert!(matches!(
        p.audio(&info.sha256),
        Err(ScenarioError::Corrupt { .. })
    ));
}

#[test]
fn reopening_keeps_prompts() {
    let tmp = tempfile::tempdir().unwrap();
    let info = open(tmp.path())
        .upload("greeting", &wav(3), "x", "y")
        .unwrap();
    let p = open(tmp.path());
    assert_eq!(p.get("greeting").unwrap(), Some(info.clone()));
    assert_eq!(p.audio(&info.sha256).unwrap(), wav(3));
}
