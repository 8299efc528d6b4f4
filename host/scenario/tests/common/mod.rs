//! Fixtures shared by the integration tests: a fake environment (plugin
//! registry and prompt audio), a realistic three-level menu, WAV bytes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use madoguchi_scenario::{validate, Clock, Environment, PluginKind, PromptInfo, Validated};
use serde_json::{json, Value};

/// Plugins and prompt audio as a server would know them.
pub struct FakeEnv {
    pub plugins: HashMap<String, PluginKind>,
    pub prompts: HashMap<String, PromptInfo>,
}

impl FakeEnv {
    /// Every plugin and prompt the realistic document uses.
    pub fn complete() -> FakeEnv {
        let plugins = [
            ("announce@0.1.0", PluginKind::Node),
            ("menu@0.1.0", PluginKind::Node),
            ("hours@0.1.0", PluginKind::Node),
            ("transfer@0.1.0", PluginKind::Node),
            ("japan-calendar@0.1.0", PluginKind::Schedule),
            ("record-all@0.1.0", PluginKind::RecordingPolicy),
        ]
        .into_iter()
        .map(|(r, k)| (r.to_string(), k))
        .collect();
        let prompts = zama()["prompts"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, def)| (id.clone(), info(id, def["text"].as_str().unwrap())))
            .collect();
        FakeEnv { plugins, prompts }
    }
}

impl Environment for FakeEnv {
    fn check_plugin(&self, reference: &str, kind: PluginKind, config: &str) -> Result<(), String> {
        match self.plugins.get(reference) {
            None => Err("no such plugin is uploaded".into()),
            Some(k) if *k != kind => Err(format!(
                "is a {} plugin, expected {}",
                k.world(),
                kind.world()
            )),
            // The menu plugin's validate-config wants options.
            Some(_) if reference.starts_with("menu@") && !config.contains("\"options\"") => {
                Err("config: missing field `options`".into())
            }
            Some(_) => Ok(()),
        }
    }

    fn prompt(&self, id: &str) -> Option<PromptInfo> {
        self.prompts.get(id).cloned()
    }
}

pub fn info(id: &str, text: &str) -> PromptInfo {
    PromptInfo {
        id: id.to_string(),
        text: text.to_string(),
        sha256: format!("{:064x}", id.len()),
        duration_ms: 1500,
        bytes: 24_044,
        uploaded_by: "tester".into(),
        uploaded_unix: 1_790_000_000,
    }
}

/// A realistic scenario: greeting → main menu → apply menu → office hours,
/// with transfer leaves, a fallback and a recording notice.
pub fn zama() -> Value {
    json!({
        "schema": "madoguchi.scenario/v1",
        "name": "zama-mynumber",
        "title": "座間市 マイナンバーカード専用ダイヤル",
        "dids": ["0462000000", "+81462000001"],
        "start": "greeting",
        "fallback": "apology",
        "recording_policy": {"plugin": "record-all@0.1.0", "config": {"notice": "notice"}},
        "schedules": {
            "zama": {"plugin": "japan-calendar@0.1.0",
                     "config": {"timezone": "Asia/Tokyo", "weekly": {"mon-fri": ["08:30-17:15"]}}}
        },
        "prompts": {
            "notice": {"text": "この通話は、サービス向上のため録音させていただきます。", "file": "prompts/notice.wav"},
            "greeting": {"text": "お電話ありがとうございます。座間市マイナンバーカード専用ダイヤルです。"},
            "menu-main": {"text": "申請は1を、カードの受け取りは2を押してください。"},
            "menu-apply": {"text": "オンライン申請は1を、窓口での申請は2を、前のメニューに戻るには9を押してください。"},
            "apply-online": {"text": "オンライン申請の方法をショートメッセージでお送りします。"},
            "office-closed": {"text": "ただいまの時間は受付を終了しております。"},
            "card-pickup": {"text": "カードの受け取りには予約が必要です。"},
            "transferring": {"text": "担当者におつなぎします。"},
            "apology": {"text": "申し訳ございません。もう一度おかけ直しください。"}
        },
        "nodes": {
            "greeting": {"plugin": "announce@0.1.0", "config": {"prompts": ["greeting"], "next": "main"},
                         "exits": ["main"]},
            "main": {"plugin": "menu@0.1.0",
                     "config": {"prompt": "menu-main", "options": {"1": "apply", "2": "card-pickup", "9": "main"},
                                "fallback": "callcenter"},
                     "exits": ["apply", "card-pickup", "main", "callcenter"], "on_error": "callcenter"},
            "apply": {"plugin": "menu@0.1.0",
                      "config": {"prompt": {"asset": "menu-apply"}, "options": {"1": "apply-online", "2": "office", "9": "main"}},
                      "exits": ["apply-online", "office", "main"], "on_error": "callcenter"},
            "apply-online": {"plugin": "announce@0.1.0", "config": {"prompts": ["apply-online"]}},
            "office": {"plugin": "hours@0.1.0",
                       "config": {"schedule": "zama", "open": "callcenter", "closed": "office-closed"},
                       "exits": ["callcenter", "office-closed"]},
            "office-closed": {"plugin": "announce@0.1.0", "config": {"prompts": "office-closed"}},
            "card-pickup": {"plugin": "announce@0.1.0", "config": {"prompts": ["card-pickup"]}},
            "callcenter": {"plugin": "transfer@0.1.0",
                           "config": {"to": "sip:callcenter@zama.example", "announce": "transferring"}},
            "apology": {"plugin": "announce@0.1.0", "config": {"prompts": "apology"}}
        }
    })
}

pub fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

/// Validates `v` (which must pass) against the complete environment.
pub fn validated(v: &Value) -> (Validated, Vec<u8>) {
    let raw = bytes(v);
    let checked = validate(&raw, &FakeEnv::complete()).unwrap_or_else(|r| panic!("{r}"));
    (checked, raw)
}

/// The realistic document under another name and DIDs.
pub fn named(name: &str, dids: &[&str]) -> Value {
    let mut v = zama();
    v["name"] = json!(name);
    v["dids"] = json!(dids);
    v
}

/// A short 8 kHz mono 16-bit WAV (0.1 s), varied by `seed`.
pub fn wav(seed: i16) -> Vec<u8> {
    let samples: Vec<i16> = (0..800).map(|i| (i as i16).wrapping_mul(seed)).collect();
    madoguchi_media::wav::pcm16_file(1, 8000, &samples)
}

/// A clock the test advances.
#[derive(Default)]
pub struct FakeClock(pub AtomicU64);

impl Clock for FakeClock {
    fn now_unix(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1_790_000_000
    }
}
