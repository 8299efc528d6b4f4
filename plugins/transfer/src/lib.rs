//! `transfer`: connect the caller to a user, a queue or an external number,
//! with a route for each way it can fail. An external target is an E.164 number
//! (through the carrier trunk) or a destination name the host routes (`callcenter`).
//!
//! Config:
//! `{"target": {"user": "1001"} | {"queue": "mynumber"} | {"external": "+81…" or "callcenter"},
//!   "announce": <prompts>?, "busy": "node"?, "no_answer": "node"?, "failed": "node"?,
//!   "priority": 0-9?}`.
//! `busy` and `no_answer` fall back to `failed`; with no route the call ends. `priority` (queue
//! targets only) places the caller ahead of callers with a lower one; it travels to the host
//! as the call variable `queue.priority`.
#![no_std]
extern crate alloc;

use alloc::string::String;

use madoguchi_sdk::node::{Ctx, Node};
use madoguchi_sdk::prompt::Prompts;
use madoguchi_sdk::types::{TransferFailure, TransferTarget};

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    User(String),
    Queue(String),
    External(String),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    target: Target,
    #[serde(default)]
    announce: Prompts,
    busy: Option<String>,
    no_answer: Option<String>,
    failed: Option<String>,
    priority: Option<u8>,
}

pub struct Transfer;

fn is_e164(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl Node for Transfer {
    type Config = Config;
    type State = ();

    fn validate(config: &Config) -> Result<(), String> {
        match &config.target {
            Target::User(s) | Target::Queue(s) if s.is_empty() => {
                return Err("target: empty name".into())
            }
            Target::External(n) if !is_e164(n) && !is_route_name(n) => {
                return Err(alloc::format!(
                    "target: {n:?} is neither a phone number (E.164, e.g. +81462511111) nor a destination name the host routes (e.g. callcenter)"
                ));
            }
            _ => {}
        }
        match (&config.target, config.priority) {
            (_, None) | (Target::Queue(_), Some(0..=9)) => {}
            (Target::Queue(_), Some(p)) => {
                return Err(alloc::format!("priority: {p} is not between 0 and 9"))
            }
            (_, Some(_)) => return Err("priority: only a queue target has one".into()),
        }
        for (field, route) in [
            ("busy", &config.busy),
            ("no_answer", &config.no_answer),
            ("failed", &config.failed),
        ] {
            if route.as_deref() == Some("") {
                return Err(alloc::format!("{field}: empty node id"));
            }
        }
        Ok(())
    }

    fn entered(cx: &mut Ctx<Self>) -> Result<(), String> {
        if !cx.config.announce.is_empty() {
            cx.play(cx.config.announce.to_vec());
        }
        let target = match &cx.config.target {
            Target::User(u) => TransferTarget::User(u.clone()),
            Target::Queue(q) => TransferTarget::Queue(q.clone()),
            Target::External(n) => TransferTarget::External(n.clone()),
        };
        // Always for a queue, so an earlier transfer's priority never carries over.
        if matches!(cx.config.target, Target::Queue(_)) {
            let p = cx.config.priority.unwrap_or(0);
            cx.set_var("queue.priority", &alloc::format!("{p}"));
        }
        cx.transfer(target);
        Ok(())
    }

    fn transfer_failed(cx: &mut Ctx<Self>, why: TransferFailure) -> Result<(), String> {
        let c = cx.config;
        let route = match why {
            TransferFailure::Busy => c.busy.as_ref().or(c.failed.as_ref()),
            TransferFailure::NoAnswer => c.no_answer.as_ref().or(c.failed.as_ref()),
            TransferFailure::Failed => c.failed.as_ref(),
        };
        match route {
            Some(node) => cx.goto(node),
            None => cx.hangup(),
        };
        Ok(())
    }
}

madoguchi_sdk::export_node!(Transfer);

/// A named external destination the host maps to a route (`callcenter`): lowercase ASCII
/// letters, digits and `-`, starting with a letter.
fn is_route_name(n: &str) -> bool {
    n.len() <= 64
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
