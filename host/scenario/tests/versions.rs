//! Versions, publish, rollback, DID bindings and the audit trail.

mod common;

use std::sync::Arc;

use common::{named, validated, zama, FakeClock};
use madoguchi_scenario::{AuditAction, ScenarioError, ScenarioStore};
use madoguchi_store::Store;
use serde_json::json;

fn open(dir: &std::path::Path) -> ScenarioStore {
    let store = Store::open(dir).unwrap();
    ScenarioStore::open_with_clock(&store, Arc::new(FakeClock::default())).unwrap()
}

/// Uploads `v` and returns its version number.
fn upload(s: &ScenarioStore, v: &serde_json::Value) -> u32 {
    let (checked, raw) = validated(v);
    s.upload(&checked, &raw, "yamada", "test").unwrap().version
}

#[test]
fn versions_are_numbered_per_name_and_never_change() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    assert_eq!(upload(&s, &zama()), 1);
    let mut v2 = zama();
    v2["title"] = json!("v2");
    let (checked, raw) = validated(&v2);
    let meta = s.upload(&checked, &raw, "suzuki", "new title").unwrap();
    assert_eq!(meta.version, 2);
    assert_eq!(meta.uploaded_by, "suzuki");
    assert_eq!(meta.comment, "new title");
    assert_eq!(upload(&s, &named("other", &["100"])), 1);

    let first = s.get("zama-mynumber", 1).unwrap().unwrap();
    assert_eq!(first.document.as_bytes(), common::bytes(&zama()));
    assert_eq!(
        first.scenario.title.as_deref(),
        Some("座間市 マイナンバーカード専用ダイヤル")
    );
    assert_eq!(first.prompts.len(), 9);
    let second = s.get("zama-mynumber", 2).unwrap().unwrap();
    assert_eq!(second.document.as_bytes(), raw);
    assert_eq!(second.scenario, checked.scenario);
    assert!(s.get("zama-mynumber", 3).unwrap().is_none());
    let listed: Vec<u32> = s
        .versions("zama-mynumber")
        .unwrap()
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(listed, vec![1, 2]);
    assert_eq!(s.names().unwrap(), vec!["other", "zama-mynumber"]);
    assert!(s.versions("nobody").unwrap().is_empty());
}

#[test]
fn text_that_is_not_the_validated_document_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    let (checked, _) = validated(&zama());
    let other = common::bytes(&named("other", &["100"]));
    assert!(matches!(
        s.upload(&checked, &other, "y", ""),
        Err(ScenarioError::DocumentMismatch { .. })
    ));
    assert!(s.names().unwrap().is_empty());
    assert!(s.audit(None).unwrap().is_empty());
}

#[test]
fn publish_binds_dids_in_both_spellings() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    upload(&s, &zama());
    assert_eq!(s.resolve_did("0462000000").unwrap(), None);
    let e = s.publish("zama-mynumber", 1, "yamada", "go live").unwrap();
    assert_eq!(
        (e.action, e.version, e.previous),
        (AuditAction::Publish, 1, None)
    );
    let want = Some(("zama-mynumber".to_string(), 1));
    assert_eq!(s.resolve_did("0462000000").unwrap(), want);
    assert_eq!(s.resolve_did("+81462000000").unwrap(), want);
    assert_eq!(s.resolve_did("+81462000001").unwrap(), want);
    assert_eq!(s.resolve_did("0462000001").unwrap(), want);
    assert_eq!(s.resolve_did("0462000002").unwrap(), None);
    let live = s.live("zama-mynumber").unwrap().unwrap();
    assert_eq!(
        (live.version, live.by.as_str(), live.why.as_str()),
        (1, "yamada", "go live")
    );
    assert_eq!(
        s.all_live().unwrap(),
        vec![("zama-mynumber".to_string(), 1)]
    );
    assert!(matches!(
        s.publish("zama-mynumber", 7, "y", ""),
        Err(ScenarioError::NotFound { version: 7, .. })
    ));
    // Publishing the live version again is allowed and recorded.
    let again = s
        .publish("zama-mynumber", 1, "suzuki", "re-publish")
        .unwrap();
    assert_eq!(again.previous, Some(1));
}

#[test]
fn a_taken_did_refuses_publish_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    upload(&s, &zama());
    s.publish("zama-mynumber", 1, "yamada", "").unwrap();
    // Same number, international spelling, in another scenario.
    upload(&s, &named("pension", &["0463000000", "+81462000000"]));
    let audit_before = s.audit(None).unwrap();
    let err = s.publish("pension", 1, "suzuki", "").unwrap_err();
    match &err {
        ScenarioError::DidTaken { did, owner } => {
            assert_eq!(did, "+81462000000");
            assert_eq!(owner, "zama-mynumber");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("zama-mynumber"));
    // Nothing moved: not even the free DID 0463000000 was bound.
    assert_eq!(s.live("pension").unwrap(), None);
    assert_eq!(s.resolve_did("0463000000").unwrap(), None);
    assert_eq!(
        s.resolve_did("0462000000").unwrap(),
        Some(("zama-mynumber".into(), 1))
    );
    assert_eq!(s.audit(None).unwrap(), audit_before);

    // A version of pension without the conflict publishes.
    assert_eq!(upload(&s, &named("pension", &["0463000000"])), 2);
    s.publish("pension", 2, "suzuki", "").unwrap();
    assert_eq!(
        s.resolve_did("0463000000").unwrap(),
        Some(("pension".into(), 2))
    );
}

#[test]
fn a_conflicting_publish_of_a_live_name_keeps_its_previous_version() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    upload(&s, &named("a", &["100", "101"]));
    upload(&s, &named("b", &["200"]));
    s.publish("a", 1, "y", "").unwrap();
    s.publish("b", 1, "y", "").unwrap();
    // a v2 drops 101 and wants b's 200: refused, a stays at v1 with 101.
    upload(&s, &named("a", &["100", "200"]));
    assert!(matches!(
        s.publish("a", 2, "y", ""),
        Err(ScenarioError::DidTaken { .. })
    ));
    assert_eq!(s.live("a").unwrap().unwrap().version, 1);
    assert_eq!(s.resolve_did("101").unwrap(), Some(("a".into(), 1)));
    assert_eq!(s.resolve_did("200").unwrap(), Some(("b".into(), 1)));
}

#[test]
fn publish_moves_dids_and_rollback_restores_them() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    upload(&s, &named("a", &["100", "101"]));
    upload(&s, &named("a", &["100", "102"]));
    s.publish("a", 1, "y", "first").unwrap();
    s.publish("a", 2, "y", "second").unwrap();
    assert_eq!(s.resolve_did("101").unwrap(), None, "dropped DID is freed");
    assert_eq!(s.resolve_did("102").unwrap(), Some(("a".into(), 2)));
    assert_eq!(s.resolve_did("100").unwrap(), Some(("a".into(), 2)));

    assert!(matches!(
        s.rollback("a", 2, "y", ""),
        Err(ScenarioError::NotEarlier {
            version: 2,
            live: 2,
            ..
        })
    ));
    assert!(matches!(
        s.rollback("a", 3, "y", ""),
        Err(ScenarioError::NotFound { version: 3, .. })
    ));
    let e = s.rollback("a", 1, "suzuki", "v2 broke the menu").unwrap();
    assert_eq!(
        (e.action, e.version, e.previous),
        (AuditAction::Rollback, 1, Some(2))
    );
    assert_eq!(s.resolve_did("101").unwrap(), Some(("a".into(), 1)));
    assert_eq!(s.resolve_did("102").unwrap(), None);
    assert_eq!(s.live("a").unwrap().unwrap().why, "v2 broke the menu");
}

#[test]
fn unpublish_frees_dids() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    upload(&s, &named("a", &["100"]));
    assert!(matches!(
        s.unpublish("a", "y", ""),
        Err(ScenarioError::NotPublished { .. })
    ));
    assert!(matches!(
        s.rollback("a", 1, "y", ""),
        Err(ScenarioError::NotPublished { .. })
    ));
    s.publish("a", 1, "y", "").unwrap();
    let e = s.unpublish("a", "y", "service ended").unwrap();
    assert_eq!(
        (e.action, e.version, e.previous),
        (AuditAction::Unpublish, 1, Some(1))
    );
    assert_eq!(s.resolve_did("100").unwrap(), None);
    assert_eq!(s.live("a").unwrap(), None);
    assert!(s.all_live().unwrap().is_empty());
    // The DID is free for another scenario now.
    upload(&s, &named("b", &["100"]));
    s.publish("b", 1, "y", "").unwrap();
}

#[test]
fn audit_records_every_change_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    upload(&s, &named("a", &["100"]));
    upload(&s, &named("b", &["200"]));
    upload(&s, &named("a", &["100"]));
    s.publish("a", 2, "y", "p").unwrap();
    s.rollback("a", 1, "y", "r").unwrap();
    s.unpublish("a", "y", "u").unwrap();
    let all = s.audit(None).unwrap();
    let summary: Vec<(u64, &str, &str, u32)> = all
        .iter()
        .map(|e| (e.seq, e.action.as_str(), e.name.as_str(), e.version))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "upload", "a", 1),
            (2, "upload", "b", 1),
            (3, "upload", "a", 2),
            (4, "publish", "a", 2),
            (5, "rollback", "a", 1),
            (6, "unpublish", "a", 1),
        ]
    );
    assert!(all.windows(2).all(|w| w[0].at_unix < w[1].at_unix));
    assert_eq!(s.audit(Some("b")).unwrap().len(), 1);
    assert_eq!(serde_json::to_value(&all[4]).unwrap()["action"], "rollback");
}

#[test]
fn reopening_the_store_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let s = open(tmp.path());
        upload(&s, &zama());
        upload(&s, &named("a", &["100"]));
        s.publish("zama-mynumber", 1, "y", "").unwrap();
    }
    let s = open(tmp.path());
    assert_eq!(s.names().unwrap(), vec!["a", "zama-mynumber"]);
    assert_eq!(
        s.resolve_did("+81462000000").unwrap(),
        Some(("zama-mynumber".into(), 1))
    );
    assert_eq!(s.audit(None).unwrap().len(), 3);
    assert_eq!(
        s.get("zama-mynumber", 1)
            .unwrap()
            .unwrap()
            .document
            .as_bytes(),
        common::bytes(&zama())
    );
    // Numbering continues after a restart.
    assert_eq!(upload(&s, &named("a", &["100"])), 2);
    assert_eq!(s.audit(None).unwrap().last().unwrap().seq, 4);
}

#[test]
fn live_versions_pin_their_plugins() {
    let tmp = tempfile::tempdir().unwrap();
    let s = open(tmp.path());
    upload(&s, &zama());
    assert!(s.pinned_plugins().unwrap().is_empty());
    s.publish("zama-mynumber", 1, "y", "").unwrap();
    let pinned: Vec<String> = s.pinned_plugins().unwrap().into_iter().collect();
    assert_eq!(
        pinned,
        vec![
            "announce@0.1.0",
            "hours@0.1.0",
            "japan-calendar@0.1.0",
            "menu@0.1.0",
            "record-all@0.1.0",
            "transfer@0.1.0"
        ]
    );
}
