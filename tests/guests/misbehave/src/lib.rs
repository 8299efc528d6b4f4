//! An IVR node that misbehaves the way its config says, on `entered`:
//! `loop` spins forever, `alloc` allocates without bound, `panic` panics,
//! `huge-state` answers 1 MB of state (the limit is 64 KiB), `many-actions` 100 actions (the limit is 32),
//! `bad-order` a `collect` followed by a `goto`. Other events hang up.
#![no_std]
extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use madoguchi_sdk::digits::Collect;
use madoguchi_sdk::node::{Ctx, Node};
use madoguchi_sdk::prompt;

#[derive(serde::Deserialize)]
pub struct Config {
    mode: String,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct State {
    blob: String,
}

pub struct Misbehave;

impl Node for Misbehave {
    type Config = Config;
    type State = State;

    fn entered(cx: &mut Ctx<Self>) -> Result<(), String> {
        match cx.config.mode.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut chunk = Vec::with_capacity(1 << 20);
                    chunk.resize(1 << 20, 1u8);
                    hoard.push(core::hint::black_box(chunk));
                }
            }
            "panic" => panic!("misbehave: panicking on purpose"),
            "huge-state" => {
                cx.state.blob = "x".repeat(1 << 20);
                cx.hangup();
            }
            "many-actions" => {
                for _ in 0..100 {
                    cx.play([prompt::silence(1)]);
                }
            }
            "bad-order" => {
                cx.collect(Collect::digits(1)).goto("next");
            }
            other => return Err(alloc::format!("unknown mode {other:?}")),
        }
        Ok(())
    }

    fn prompt_finished(cx: &mut Ctx<Self>) -> Result<(), String> {
        cx.hangup();
        Ok(())
    }
}

madoguchi_sdk::export_node!(Misbehave);
