//! Inline components for host tests: a core module written in WAT, wrapped
//! into a component for one of our worlds by `wit-component`. No guest
//! toolchain needed, and the WIT is the real `wit/` package.
#![allow(dead_code)]

use std::path::PathBuf;

use madoguchi_plugin_host::bindings::types::{CallFacts, NodeInput};

pub fn wit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit")
}

/// Wrap `core_wat` into a component of `world`. `extra_wit` (optional) is an
/// extra package pushed after `wit/`, for worlds the contract does not have.
pub fn component(world: &str, core_wat: &str, extra_wit: Option<&str>) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(wit_dir()).expect("wit/ parses");
    let pkg = match extra_wit {
        Some(src) => resolve
            .push_str("extra.wit", src)
            .expect("extra wit parses"),
        None => pkg,
    };
    let world = resolve
        .select_world(&[pkg], Some(world))
        .expect("world exists");
    let mut module = wat::parse_str(core_wat).expect("core wat parses");
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embed");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("module")
        .validate(true)
        .encode()
        .expect("encode component")
}

/// A bump allocator, a memory, and canned answers in data segments:
/// - 1024: `ok(step { actions: [hangup], state: "" })`
/// - 1200: `ok(())`, 1216: `err("want {}")`
/// - 1400: a step whose action has discriminant 42 (malformed)
/// - 1600: a step `[hangup, hangup]` (well-formed, breaks the order rule)
/// - 1800: a step with a 1.2 MB state at 65536 (caller grows memory first)
/// - 1900: a step whose state points outside memory
pub const PRELUDE: &str = r#"
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.xor (i32.sub (local.get 2) (i32.const 1)) (i32.const -1))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (block
      (br_if 0 (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
      (br_if 0 (i32.ne (memory.grow (i32.add (i32.shr_u (i32.sub (global.get $heap)
          (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1))) (i32.const -1)))
      unreachable)
    (local.get $p))
  (data (i32.const 1024) "\00\00\00\00\4c\04\00\00\01\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 1100) "\07")
  (data (i32.const 1200) "\00\00\00\00")
  (data (i32.const 1216) "\01\00\00\00\14\05\00\00\07\00\00\00")
  (data (i32.const 1300) "want {}")
  (data (i32.const 1400) "\00\00\00\00\dc\05\00\00\01\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 1500) "\2a")
  (data (i32.const 1600) "\00\00\00\00\a4\06\00\00\02\00\00\00\00\00\00\00\00\00\00\00")
  (data (i32.const 1700) "\07")
  (data (i32.const 1732) "\07")
  (data (i32.const 1800) "\00\00\00\00\4c\04\00\00\01\00\00\00\00\00\01\00\80\4f\12\00")
  (data (i32.const 1900) "\00\00\00\00\4c\04\00\00\01\00\00\00\00\00\ff\7f\64\00\00\00")
"#;

/// A node component: `validate-config` accepts exactly `{}`; `handle` runs `handle_body`.
pub fn node(handle_body: &str) -> Vec<u8> {
    node_with_imports("", handle_body)
}

pub fn node_with_imports(imports: &str, handle_body: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
  {imports}
  {PRELUDE}
  (func (export "madoguchi:ivr/node-api@0.1.0#validate-config") (param i32 i32) (result i32)
    (if (result i32) (i32.eq (local.get 1) (i32.const 2)) (then (i32.const 1200)) (else (i32.const 1216))))
  (func (export "madoguchi:ivr/node-api@0.1.0#handle")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    {handle_body})
)"#
    );
    component("ivr-node", &wat, None)
}

/// A schedule component answering `ok(open, next-open: none)`.
pub fn schedule_open() -> Vec<u8> {
    let wat = format!(
        r#"(module
  {PRELUDE}
  (func (export "madoguchi:ivr/schedule-api@0.1.0#validate-config") (param i32 i32) (result i32) (i32.const 1200))
  (func (export "madoguchi:ivr/schedule-api@0.1.0#check")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 4000))
)"#
    );
    component("schedule", &wat, None)
}

/// A recording policy answering `ok(record: true, from: answer, notice: [], retention: 90)`.
pub fn recording_always() -> Vec<u8> {
    let wat = format!(
        r#"(module
  {PRELUDE}
  (data (i32.const 4100) "\00\00\00\00\01\00\00\00\00\00\00\00\00\00\00\00\5a\00\00\00")
  (func (export "madoguchi:ivr/recording-api@0.1.0#validate-config") (param i32 i32) (result i32) (i32.const 1200))
  (func (export "madoguchi:ivr/recording-api@0.1.0#decide")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (i32.const 4100))
)"#
    );
    component("recording-policy", &wat, None)
}

pub fn input(config: &str) -> NodeInput {
    NodeInput {
        facts: facts(),
        config: config.into(),
        state: String::new(),
    }
}

pub fn facts() -> CallFacts {
    CallFacts {
        call_id: "call-1".into(),
        caller: "+81462520000".into(),
        did: "+81462511111".into(),
        variables: vec![],
    }
}

/// A component built by `scripts/build-plugins` (`target/plugins/<name>.wasm`).
/// Missing is a failure, not a skip: the test suite builds them first.
pub fn built(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/plugins")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run scripts/build-plugins first to build the plugins and test guests",
            path.display()
        )
    })
}

/// A node input with `config`, `state` and call variables.
pub fn input_with(config: &str, state: &str, variables: &[(&str, &str)]) -> NodeInput {
    let mut i = input(config);
    i.state = state.into();
    i.facts.variables = variables
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    i
}
