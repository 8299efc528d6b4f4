//! Prompts: constructors, and a serde form for prompts in configurations.
//!
//! In a configuration a prompt is written as a bare string (an asset id) or
//! as one of `{"asset": "id"}`, `{"text": "…"}`, `{"digits": "123"}`,
//! `{"silence": 500}`; a prompt list is one prompt or an array of them.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::types::Prompt;

/// An uploaded audio asset by id.
pub fn asset(id: &str) -> Prompt {
    Prompt::Asset(id.to_string())
}
/// Text for the host's TTS (or a pre-recorded rendering of it).
pub fn text(s: &str) -> Prompt {
    Prompt::Text(s.to_string())
}
/// Digits read one by one.
pub fn digits(s: &str) -> Prompt {
    Prompt::Digits(s.to_string())
}
/// Silence in milliseconds.
pub fn silence(ms: u32) -> Prompt {
    Prompt::Silence(ms)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum Tagged {
    Asset(String),
    Text(String),
    Digits(String),
    Silence(u32),
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OnePrompt {
    Asset(String),
    Tagged(Tagged),
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(OnePrompt),
    Many(Vec<OnePrompt>),
}

/// A list of prompts as written in a configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompts(pub Vec<Prompt>);

impl Prompts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The prompts, for an action.
    pub fn to_vec(&self) -> Vec<Prompt> {
        self.0.clone()
    }
}

impl<'de> serde::Deserialize<'de> for Prompts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let one = |p: OnePrompt| match p {
            OnePrompt::Asset(id) => Prompt::Asset(id),
            OnePrompt::Tagged(Tagged::Asset(id)) => Prompt::Asset(id),
            OnePrompt::Tagged(Tagged::Text(s)) => Prompt::Text(s),
            OnePrompt::Tagged(Tagged::Digits(s)) => Prompt::Digits(s),
            OnePrompt::Tagged(Tagged::Silence(ms)) => Prompt::Silence(ms),
        };
        Ok(Prompts(match OneOrMany::deserialize(d)? {
            OneOrMany::One(p) => alloc::vec![one(p)],
            OneOrMany::Many(ps) => ps.into_iter().map(one).collect(),
        }))
    }
}

impl From<Prompt> for Prompts {
    fn from(p: Prompt) -> Self {
        Prompts(alloc::vec![p])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Prompts, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn every_config_form() {
        assert_eq!(parse(r#""menu""#).unwrap().0, [asset("menu")]);
        assert_eq!(
            parse(r#"["a", {"asset": "b"}, {"text": "こんにちは"}, {"digits": "12#"}, {"silence": 250}]"#)
                .unwrap()
                .0,
            [asset("a"), asset("b"), text("こんにちは"), digits("12#"), silence(250)]
        );
        assert!(parse("[]").unwrap().is_empty());
        assert!(parse(r#"{"tts": "x"}"#).is_err());
        assert!(parse("42").is_err());
    }
}
