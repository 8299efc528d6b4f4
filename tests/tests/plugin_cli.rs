//! `madoguchi plugin test`: integrators run a built plugin component against a scripted call.

use std::path::PathBuf;
use std::process::Command;

use madoguchi_tests::{repo_root, server_bin};

fn component(name: &str) -> PathBuf {
    let p = repo_root()
        .join("target/plugins")
        .join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} missing: run scripts/build-plugins (scripts/test does)",
        p.display()
    );
    p
}

fn plugin_test(component: &PathBuf, config: &str, events: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let (c, e) = (
        dir.path().join("config.json"),
        dir.path().join("events.json"),
    );
    std::fs::write(&c, config).unwrap();
    std::fs::write(&e, events).unwrap();
    let out = Command::new(server_bin())
        .args(["plugin", "test"])
        .arg(component)
        .arg("--config")
        .arg(&c)
        .arg("--events")
        .arg(&e)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn menu_plugin_walks_a_scripted_call() {
    let config =
        r#"{"prompt":"menu-main","options":{"1":"apply","2":"renew"},"fallback":"callcenter"}"#;
    let (ok, out) = plugin_test(&component("menu"), config, r#"["entered", {"digits":"2"}]"#);
    assert!(ok, "{out}");
    assert!(out.contains("collect 1..1 digits"), "{out}");
    assert!(out.contains("goto renew"), "{out}");
}

#[test]
fn hello_node_example_runs() {
    let (ok, out) = plugin_test(
        &component("hello-node"),
        r#"{"greeting":"hello"}"#,
        r#"["entered"]"#,
    );
    assert!(ok, "{out}");
    assert!(out.contains("> entered"), "{out}");
}

#[test]
fn a_bad_config_or_a_non_component_is_refused_with_the_reason() {
    let (ok, out) = plugin_test(&component("menu"), r#"{"options":{}}"#, r#"["entered"]"#);
    assert!(!ok && out.contains("config"), "{out}");
    let not_wasm = repo_root().join("README.md");
    let (ok, out) = plugin_test(&not_wasm, "{}", "[]");
    assert!(!ok && out.contains("README.md"), "{out}");
}
