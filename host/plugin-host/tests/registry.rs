//! Plugin registry: content-addressed storage, upload checks, listing,
//! removal with pinning, config validation naming the node.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use madoguchi_plugin_host::bindings::types::Event;
use madoguchi_plugin_host::{
    CallContext, LoadError, PluginKind, Registry, RegistryError, Runtime, RuntimeConfig,
};

struct Fixture {
    dir: tempfile::TempDir,
    registry: Registry,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("components")).unwrap();
    let registry = open(&dir);
    Fixture { dir, registry }
}

fn open(dir: &tempfile::TempDir) -> Registry {
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 8,
        ..Default::default()
    })
    .unwrap();
    let db = Arc::new(redb::Database::create(dir.path().join("meta.redb")).unwrap());
    let comp = cap_std::fs::Dir::open_ambient_dir(
        dir.path().join("components"),
        cap_std::ambient_authority(),
    )
    .unwrap();
    Registry::open(rt, db, comp).unwrap()
}

fn files(f: &Fixture) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(f.dir.path().join("components"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn upload_list_get_and_remove() {
    let f = fixture();
    let bytes = node("(i32.const 1024)");
    let meta = f
        .registry
        .upload("ok", "1.0.0", &bytes, Some("{}"))
        .unwrap();
    assert_eq!(meta.kind, PluginKind::Node);
    assert_eq!(meta.reference(), "ok@1.0.0");
    assert_eq!(files(&f), vec![format!("{}.wasm", meta.sha256)]);
    // Same bytes again: idempotent. Same bytes under another version: one file.
    assert_eq!(
        f.registry.upload("ok", "1.0.0", &bytes, None).unwrap(),
        meta
    );
    f.registry.upload("ok", "1.0.1", &bytes, None).unwrap();
    assert_eq!(files(&f).len(), 1);
    f.registry
        .upload("sched", "0.1.0", &schedule_open(), None)
        .unwrap();
    let refs: Vec<String> = f
        .registry
        .list()
        .unwrap()
        .iter()
        .map(|m| m.reference())
        .collect();
    assert_eq!(refs, ["ok@1.0.0", "ok@1.0.1", "sched@0.1.0"]);

    // Survives a restart: a new registry over the same store loads and runs it.
    drop(f.registry);
    let registry = open(&f.dir);
    let p = registry.get("ok@1.0.0").unwrap();
    p.node_step(&CallContext::new("c"), &input("{}"), &Event::Entered)
        .unwrap();

    // Pinned versions stay; unpinned go; the file goes with the last user.
    let pinned: HashSet<String> = ["ok@1.0.0".to_string()].into();
    assert!(matches!(
        registry.remove("ok@1.0.0", &pinned),
        Err(RegistryError::InUse { .. })
    ));
    registry.remove("ok@1.0.1", &pinned).unwrap();
    assert_eq!(
        files(&Fixture {
            dir: f.dir,
            registry
        })
        .len(),
        2
    );
}

#[test]
fn removing_the_last_version_deletes_the_file_and_running_calls_continue() {
    let f = fixture();
    f.registry
        .upload("ok", "1", &node("(i32.const 1024)"), None)
        .unwrap();
    let running = f.registry.get("ok@1").unwrap();
    f.registry.remove("ok@1", &HashSet::new()).unwrap();
    assert!(files(&f).is_empty());
    assert!(matches!(
        f.registry.get("ok@1"),
        Err(RegistryError::NotFound { .. })
    ));
    assert!(matches!(
        f.registry.remove("ok@1", &HashSet::new()),
        Err(RegistryError::NotFound { .. })
    ));
    // The plugin a call already holds keeps working.
    running
        .node_step(&CallContext::new("c"), &input("{}"), &Event::Entered)
        .unwrap();
}

#[test]
fn bad_uploads_are_refused_and_change_nothing() {
    let f = fixture();
    let good = node("(i32.const 1024)");
    f.registry.upload("ok", "1", &good, None).unwrap();
    let before = (f.registry.list().unwrap(), files(&f));

    let err = f
        .registry
        .upload("junk", "1", b"not wasm at all", None)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Load(LoadError::NotWasm)),
        "{err}"
    );
    let core = wat::parse_str("(module)").unwrap();
    let err = f.registry.upload("core", "1", &core, None).unwrap_err();
    assert!(err.to_string().contains("not a component"), "{err}");
    let err = f
        .registry
        .upload("ok", "2", &good, Some(r#"{"bad": true}"#))
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::ConfigRejected { message, .. } if message == "want {}"),
        "{err}"
    );
    let other = node("unreachable");
    let err = f.registry.upload("ok", "1", &other, None).unwrap_err();
    assert!(matches!(err, RegistryError::Exists { .. }), "{err}");
    assert!(matches!(
        f.registry.upload("../etc", "1", &good, None),
        Err(RegistryError::InvalidName(_))
    ));
    assert!(matches!(
        f.registry.upload("ok", "x/y", &good, None),
        Err(RegistryError::InvalidVersion(_))
    ));

    assert_eq!((f.registry.list().unwrap(), files(&f)), before);
    // And what was there still runs.
    let p = f.registry.get("ok@1").unwrap();
    p.node_step(&CallContext::new("c"), &input("{}"), &Event::Entered)
        .unwrap();
}

#[test]
fn oversized_upload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 2,
        max_component_bytes: 1024,
        ..Default::default()
    })
    .unwrap();
    let db = Arc::new(redb::Database::create(dir.path().join("m.redb")).unwrap());
    let comp =
        cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
    let registry = Registry::open(rt, db, comp).unwrap();
    let err = registry
        .upload("big", "1", &node("(i32.const 1024)"), None)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Load(LoadError::TooLarge { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("over the 1024 byte limit"),
        "{err}"
    );
}

#[test]
fn scenario_configs_are_validated_naming_the_node() {
    let f = fixture();
    f.registry
        .upload("ok", "1", &node("(i32.const 1024)"), None)
        .unwrap();
    f.registry
        .validate_configs([("welcome", "ok@1", "{}"), ("menu", "ok@1", "{}")])
        .unwrap();
    let err = f
        .registry
        .validate_configs([("welcome", "ok@1", "{}"), ("main-menu", "ok@1", "[1]")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"node "main-menu": config for ok@1 rejected: want {}"#
    );
    let err = f
        .registry
        .validate_configs([("x", "missing@1", "{}")])
        .unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }));
}

#[test]
fn a_tampered_component_file_is_detected() {
    let f = fixture();
    let meta = f
        .registry
        .upload("ok", "1", &node("(i32.const 1024)"), None)
        .unwrap();
    drop(f.registry);
    std::fs::write(
        f.dir
            .path()
            .join("components")
            .join(format!("{}.wasm", meta.sha256)),
        b"evil",
    )
    .unwrap();
    let registry = open(&f.dir);
    assert!(matches!(
        registry.get("ok@1"),
        Err(RegistryError::Corrupt { .. })
    ));
}
