//! Plugin runtime benchmark (a program, not a timed test):
//!
//!     scripts/build-plugins
//!     cargo bench -p madoguchi-plugin-host --bench plugin_bench
//!
//! Prints compile time per plugin, instantiation time from `InstancePre`,
//! time per node step (on a live instance, and fresh instance + step), and
//! steps/s on every core. Targets: instantiation <= 20 µs, step <= 5 µs.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use madoguchi_plugin_host::bindings::types::Event;
use madoguchi_plugin_host::{CallContext, Plugin, Runtime, RuntimeConfig};

const PLUGINS: &[&str] = &[
    "hello-node",
    "menu",
    "announce",
    "transfer",
    "hours",
    "record-all",
    "japan-calendar",
];
const MENU: &str = r#"{"prompt": "menu-main", "options": {"1": "payments", "2": "reissue"}, "fallback": "operator"}"#;

fn per_iter(total: Duration, n: u32) -> String {
    format!("{:.2} µs", total.as_secs_f64() * 1e6 / f64::from(n))
}

fn time_n(n: u32, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed()
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = Runtime::new(RuntimeConfig {
        max_instances: 64,
        ..Default::default()
    })
    .expect("runtime");
    println!("plugin runtime benchmark ({cores} cores)");
    println!("\ncompile (Component::new + link, no cache):");
    let mut menu: Option<Plugin> = None;
    for name in PLUGINS {
        let bytes = common::built(name);
        let t = Instant::now();
        let p = rt.load(name, &bytes).expect("load");
        println!(
            "  {name:<16} {:>7} bytes  {:>8.1} ms",
            bytes.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
        if *name == "menu" {
            menu = Some(p);
        }
    }
    let menu = menu.expect("menu built");
    let wat = rt
        .load("wat-node", &common::node("(i32.const 1024)"))
        .expect("wat node");
    let ctx = CallContext::new("bench");
    let input = common::input(MENU);
    let digit = Event::Digits("1".into());
    let n = 20_000;

    println!("\ninstantiate from InstancePre (pooling allocator), mean of {n}:");
    for (label, p) in [("menu (Rust, no_std)", &menu), ("inline WAT node", &wat)] {
        for _ in 0..1000 {
            drop(p.instantiate(&ctx).unwrap());
        }
        let d = time_n(n, || drop(p.instantiate(&ctx).unwrap()));
        println!("  {label:<22} {}   (target <= 20 µs)", per_iter(d, n));
    }

    println!("\nnode step, mean of {n}:");
    let mut inst = menu.instantiate(&ctx).unwrap();
    for _ in 0..1000 {
        inst.handle(&input, &digit).unwrap();
    }
    let d = time_n(n, || {
        inst.handle(&input, &digit).unwrap();
    });
    println!(
        "  menu, live instance     {}   (target <= 5 µs)",
        per_iter(d, n)
    );
    let mut winst = wat.instantiate(&ctx).unwrap();
    let d = time_n(n, || {
        winst.handle(&common::input("{}"), &digit).unwrap();
    });
    println!("  WAT node, live instance {}", per_iter(d, n));
    let d = time_n(n, || {
        menu.node_step(&ctx, &input, &digit).unwrap();
    });
    println!("  menu, instantiate+step  {}", per_iter(d, n));

    println!("\nthroughput on {cores} threads (1 s each):");
    for fresh in [false, true] {
        let total: u64 = std::thread::scope(|s| {
            let hs: Vec<_> = (0..cores)
                .map(|_| {
                    let (menu, input, digit, ctx) =
                        (menu.clone(), input.clone(), digit.clone(), ctx.clone());
                    s.spawn(move || {
                        let mut inst = menu.instantiate(&ctx).unwrap();
                        let t = Instant::now();
                        let mut k = 0u64;
                        while t.elapsed() < Duration::from_secs(1) {
                            for _ in 0..100 {
                                if fresh {
                                    menu.node_step(&ctx, &input, &digit).unwrap();
                                } else {
                                    inst.handle(&input, &digit).unwrap();
                                }
                            }
                            k += 100;
                        }
                        k
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        let label = if fresh {
            "fresh instance per step"
        } else {
            "live instance per call"
        };
        println!("  {label:<24} {total:>9} steps/s");
    }
}
