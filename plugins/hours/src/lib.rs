//! `hours`: branch on a named schedule's answer, so each destination gets
//! its own closed announcement (R-IVR-2).
//!
//! Config:
//! ```json
//! {"schedule": "city-hall", "destination": "mynumber",
//!  "open": "menu", "closed": "closed-msg",
//!  "holiday": "holiday-msg", "year_end": "year-end-msg",
//!  "special_closure": "closure-msg", "on_error": "closed-msg"}
//! ```
//! `holiday`, `year_end` and `special_closure` default to `closed`;
//! `on_error` (the schedule is missing or failed) defaults to `closed`.
//! Before leaving, the node sets call variables `schedule_status`
//! (`open`, `closed`, `holiday`, `year-end`, `special-closure`, `error`),
//! `schedule_reason` (the holiday or closure name) and `schedule_next_open`
//! (`YYYY-MM-DDTHH:MM`) for the announcement nodes that follow.
#![no_std]
extern crate alloc;

use alloc::format;
use alloc::string::String;

use madoguchi_sdk::host;
use madoguchi_sdk::node::{Ctx, Node};
use madoguchi_sdk::types::ScheduleStatus;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    schedule: String,
    destination: String,
    open: String,
    closed: String,
    holiday: Option<String>,
    year_end: Option<String>,
    special_closure: Option<String>,
    on_error: Option<String>,
}

pub struct Hours;

impl Node for Hours {
    type Config = Config;
    type State = ();

    fn validate(c: &Config) -> Result<(), String> {
        for (field, v) in [
            ("schedule", &c.schedule),
            ("destination", &c.destination),
            ("open", &c.open),
            ("closed", &c.closed),
        ] {
            if v.is_empty() {
                return Err(format!("{field}: must not be empty"));
            }
        }
        for (field, v) in [
            ("holiday", &c.holiday),
            ("year_end", &c.year_end),
            ("special_closure", &c.special_closure),
            ("on_error", &c.on_error),
        ] {
            if v.as_deref() == Some("") {
                return Err(format!("{field}: empty node id"));
            }
        }
        Ok(())
    }

    fn entered(cx: &mut Ctx<Self>) -> Result<(), String> {
        let c = cx.config;
        let or_closed = |o: &Option<String>| o.clone().unwrap_or_else(|| c.closed.clone());
        let (status, reason, next) = match host::query_schedule(&c.schedule, &c.destination) {
            Ok(answer) => {
                let (status, reason, next) = match answer.status {
                    ScheduleStatus::Open => ("open", String::new(), c.open.clone()),
                    ScheduleStatus::Closed => ("closed", String::new(), c.closed.clone()),
                    ScheduleStatus::Holiday(n) => ("holiday", n, or_closed(&c.holiday)),
                    ScheduleStatus::YearEndClosure(n) => ("year-end", n, or_closed(&c.year_end)),
                    ScheduleStatus::SpecialClosure(n) => {
                        ("special-closure", n, or_closed(&c.special_closure))
                    }
                };
                if let Some(t) = answer.next_open {
                    let at = format!(
                        "{:04}-{:02}-{:02}T{:02}:{:02}",
                        t.year, t.month, t.day, t.hour, t.minute
                    );
                    cx.set_var("schedule_next_open", &at);
                }
                (status, reason, next)
            }
            Err(e) => {
                host::warn(&format!("schedule {:?} failed: {e}", c.schedule));
                ("error", String::new(), or_closed(&c.on_error))
            }
        };
        cx.set_var("schedule_status", status);
        if !reason.is_empty() {
            cx.set_var("schedule_reason", &reason);
        }
        cx.goto(&next);
        Ok(())
    }
}

madoguchi_sdk::export_node!(Hours);
