//! Hello world: greet the caller with the configured text, then hang up.
#![no_std]
extern crate alloc;

use alloc::string::String;
use madoguchi_sdk::node::{Ctx, Node};
use madoguchi_sdk::prompt;

#[derive(serde::Deserialize)]
pub struct Config {
    greeting: String,
}

pub struct Hello;

impl Node for Hello {
    type Config = Config;
    type State = ();

    fn entered(cx: &mut Ctx<Self>) -> Result<(), String> {
        cx.play([prompt::text(&cx.config.greeting)]);
        Ok(())
    }

    fn prompt_finished(cx: &mut Ctx<Self>) -> Result<(), String> {
        cx.hangup();
        Ok(())
    }
}

madoguchi_sdk::export_node!(Hello);
