//! `menu`: play a prompt, collect a choice, go to the node it maps to.
//! Invalid choices and silence get their own prompts and a retry; after
//! `retries` failed attempts the call goes to `fallback`.
//!
//! Config:
//! ```json
//! {"prompt": "menu-main", "options": {"1": "payments", "2": "reissue"},
//!  "invalid_prompt": "menu-invalid", "timeout_prompt": "menu-timeout",
//!  "retries": 2, "fallback": "operator",
//!  "max_digits": 1, "terminator": "#", "timeout_ms": 5000, "inter_digit_timeout_ms": 3000,
//!  "variable": "menu_choice"}
//! ```
//! Only `prompt`, `options` and `fallback` are required. With `max_digits`
//! above 1 the caller may end early with the terminator (default `#`).
//! `variable`, if set, receives the chosen option.
#![no_std]
extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use madoguchi_sdk::digits::{is_key, is_keys, Collect};
use madoguchi_sdk::node::{Ctx, Node};
use madoguchi_sdk::prompt::Prompts;

fn default_retries() -> u8 {
    2
}
fn default_max_digits() -> u8 {
    1
}
fn default_timeout() -> u32 {
    5000
}
fn default_inter_digit() -> u32 {
    3000
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    prompt: Prompts,
    options: BTreeMap<String, String>,
    #[serde(default)]
    invalid_prompt: Prompts,
    #[serde(default)]
    timeout_prompt: Prompts,
    /// Further attempts after the first one.
    #[serde(default = "default_retries")]
    retries: u8,
    fallback: String,
    #[serde(default = "default_max_digits")]
    max_digits: u8,
    #[serde(default)]
    terminator: Option<char>,
    #[serde(default = "default_timeout")]
    timeout_ms: u32,
    #[serde(default = "default_inter_digit")]
    inter_digit_timeout_ms: u32,
    #[serde(default)]
    variable: Option<String>,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Failed attempts so far.
    failures: u8,
}

pub struct Menu;

impl Config {
    fn collect(&self, prompts: Vec<madoguchi_sdk::types::Prompt>) -> Collect {
        let mut c = Collect::digits(self.max_digits)
            .first_digit_timeout_ms(self.timeout_ms)
            .inter_digit_timeout_ms(self.inter_digit_timeout_ms)
            .prompts(prompts);
        if self.max_digits > 1 {
            c = c.terminator(self.terminator.unwrap_or('#'));
        }
        c
    }
}

/// Count a failed attempt: retry with `extra` before the menu prompt, or
/// give up to the fallback.
fn retry(cx: &mut Ctx<Menu>, extra: &Prompts) {
    cx.state.failures = cx.state.failures.saturating_add(1);
    if cx.state.failures > cx.config.retries {
        cx.goto(&cx.config.fallback);
        return;
    }
    let mut prompts = extra.to_vec();
    prompts.extend(cx.config.prompt.to_vec());
    cx.collect(cx.config.collect(prompts));
}

impl Node for Menu {
    type Config = Config;
    type State = State;

    fn validate(c: &Config) -> Result<(), String> {
        if c.prompt.is_empty() {
            return Err("prompt: at least one prompt is needed".into());
        }
        if c.options.is_empty() {
            return Err("options: at least one option is needed".into());
        }
        if !(1..=16).contains(&c.max_digits) {
            return Err(format!("max_digits: {} not in 1..=16", c.max_digits));
        }
        let term = c.terminator.unwrap_or('#');
        if !is_key(term) {
            return Err(format!("terminator: {term:?} is not a phone key"));
        }
        for (key, node) in &c.options {
            if !is_keys(key) || key.contains(term) && c.max_digits > 1 {
                return Err(format!(
                    "options: {key:?} is not a key sequence the caller can dial"
                ));
            }
            if key.chars().count() > usize::from(c.max_digits) {
                return Err(format!(
                    "options: {key:?} is longer than max_digits {}",
                    c.max_digits
                ));
            }
            if node.is_empty() {
                return Err(format!("options: {key:?} goes to an empty node id"));
            }
        }
        if c.fallback.is_empty() {
            return Err("fallback: empty node id".into());
        }
        if c.retries > 9 {
            return Err(format!("retries: {} is more than 9", c.retries));
        }
        if c.timeout_ms == 0 || c.inter_digit_timeout_ms == 0 {
            return Err("timeouts must be above 0 ms".into());
        }
        Ok(())
    }

    fn entered(cx: &mut Ctx<Self>) -> Result<(), String> {
        cx.collect(cx.config.collect(cx.config.prompt.to_vec()));
        Ok(())
    }

    fn digits(cx: &mut Ctx<Self>, digits: &str) -> Result<(), String> {
        match cx.config.options.get(digits) {
            Some(node) => {
                if let Some(var) = &cx.config.variable {
                    cx.set_var(var, digits);
                }
                cx.goto(node);
            }
            None => retry(cx, &cx.config.invalid_prompt),
        }
        Ok(())
    }

    fn no_input(cx: &mut Ctx<Self>) -> Result<(), String> {
        retry(cx, &cx.config.timeout_prompt);
        Ok(())
    }
}

madoguchi_sdk::export_node!(Menu);
