//! `announce`: play prompts, then go on to the next node (or hang up).
//!
//! Config: `{"prompts": <prompts>, "next": "node-id"}`; without `next` the
//! call ends after the prompts.
#![no_std]
extern crate alloc;

use alloc::string::String;

use madoguchi_sdk::node::{Ctx, Node};
use madoguchi_sdk::prompt::Prompts;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    prompts: Prompts,
    #[serde(default)]
    next: Option<String>,
}

pub struct Announce;

impl Node for Announce {
    type Config = Config;
    type State = ();

    fn validate(config: &Config) -> Result<(), String> {
        if config.prompts.is_empty() {
            return Err("prompts: at least one prompt is needed".into());
        }
        if config.next.as_deref() == Some("") {
            return Err("next: empty node id".into());
        }
        Ok(())
    }

    fn entered(cx: &mut Ctx<Self>) -> Result<(), String> {
        cx.play(cx.config.prompts.to_vec());
        Ok(())
    }

    fn prompt_finished(cx: &mut Ctx<Self>) -> Result<(), String> {
        match &cx.config.next {
            Some(next) => cx.goto(next),
            None => cx.hangup(),
        };
        Ok(())
    }
}

madoguchi_sdk::export_node!(Announce);
