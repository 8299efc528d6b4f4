//! `record-all`: record every call from answer, after a notice (R-REC-2).
//!
//! Config (all optional):
//! `{"notice": <prompts>, "from": "answer" | "transfer", "retention_days": 90}`.
//! The default notice is the text
//! 「この通話は、サービス向上のため録音させていただきます。」.
#![no_std]
extern crate alloc;

use alloc::string::String;

use madoguchi_sdk::prompt::Prompts;
use madoguchi_sdk::recording::{RecordingPolicy, DEFAULT_NOTICE_JA};
use madoguchi_sdk::types::{CallFacts, RecordFrom, RecordingDecision};

#[derive(serde::Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum From {
    #[default]
    Answer,
    Transfer,
}

fn default_retention() -> u32 {
    90
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    notice: Option<Prompts>,
    #[serde(default)]
    from: From,
    #[serde(default = "default_retention")]
    retention_days: u32,
}

pub struct RecordAll;

impl RecordingPolicy for RecordAll {
    type Config = Config;

    fn validate(c: &Config) -> Result<(), String> {
        if c.notice.as_ref().is_some_and(Prompts::is_empty) {
            return Err(
                "notice: an empty notice is not allowed (R-REC-2); omit it for the default".into(),
            );
        }
        if c.retention_days > 3650 {
            return Err("retention_days: more than 10 years".into());
        }
        Ok(())
    }

    fn decide(c: &Config, _facts: &CallFacts) -> Result<RecordingDecision, String> {
        Ok(RecordingDecision {
            record: true,
            from: match c.from {
                From::Answer => RecordFrom::Answer,
                From::Transfer => RecordFrom::Transfer,
            },
            notice: match &c.notice {
                Some(p) => p.to_vec(),
                None => alloc::vec![madoguchi_sdk::prompt::text(DEFAULT_NOTICE_JA)],
            },
            retention_days: c.retention_days,
        })
    }
}

madoguchi_sdk::export_recording_policy!(RecordAll);
