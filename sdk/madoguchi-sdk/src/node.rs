//! IVR nodes (world `ivr-node`, feature `node`).
//!
//! The host feeds a node events; for each the node answers actions through
//! [`Cx`]. The host runs them in order: `goto`, `hangup` and a transfer that
//! connects end the node; `collect` must come last and is answered with
//! `digits` or `no_input`; a step ending in `play` is answered with
//! `prompt_finished`. An event the node does nothing for is an error, and
//! the IVR takes the node's fallback route.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::digits::Collect;
use crate::types::{
    Action, CallFacts, Event, NodeInput, Prompt, Step, TransferFailure, TransferTarget,
};

/// Context of one node step: the call, your config and state, and the
/// actions you answer.
pub type Ctx<'a, N> = Cx<'a, <N as Node>::Config, <N as Node>::State>;

/// An IVR node. Every method has a default; override what you need.
pub trait Node {
    /// The node's configuration, parsed from the scenario's JSON.
    type Config: DeserializeOwned;
    /// What the node remembers between events of one call.
    type State: Serialize + DeserializeOwned + Default;

    /// Check a parsed configuration at scenario upload.
    fn validate(_config: &Self::Config) -> Result<(), String> {
        Ok(())
    }
    /// The call arrived at this node.
    fn entered(_cx: &mut Ctx<'_, Self>) -> Result<(), String> {
        Ok(())
    }
    /// Digits collected by the last `collect`.
    fn digits(_cx: &mut Ctx<'_, Self>, _digits: &str) -> Result<(), String> {
        Ok(())
    }
    /// The last `collect` timed out without enough digits.
    fn no_input(_cx: &mut Ctx<'_, Self>) -> Result<(), String> {
        Ok(())
    }
    /// The prompts of a step that ended in `play` finished.
    fn prompt_finished(_cx: &mut Ctx<'_, Self>) -> Result<(), String> {
        Ok(())
    }
    /// A transfer did not connect.
    fn transfer_failed(_cx: &mut Ctx<'_, Self>, _why: TransferFailure) -> Result<(), String> {
        Ok(())
    }
}

/// The call, the node's config and state, and the actions being answered.
#[derive(Debug)]
pub struct Cx<'a, C, S> {
    pub facts: &'a CallFacts,
    pub config: &'a C,
    /// Saved after this step and given back at the next event of the call.
    pub state: S,
    actions: Vec<Action>,
}

impl<C, S> Cx<'_, C, S> {
    /// Play prompts.
    pub fn play(&mut self, prompts: impl IntoIterator<Item = Prompt>) -> &mut Self {
        self.actions
            .push(Action::Play(prompts.into_iter().collect()));
        self
    }
    /// Collect digits (must be the last action).
    pub fn collect(&mut self, collect: Collect) -> &mut Self {
        self.actions.push(Action::Collect(collect.0));
        self
    }
    /// Continue at another node (ends the node).
    pub fn goto(&mut self, node: &str) -> &mut Self {
        self.actions.push(Action::Goto(node.to_string()));
        self
    }
    /// Transfer the call (ends the node unless it fails).
    pub fn transfer(&mut self, target: TransferTarget) -> &mut Self {
        self.actions.push(Action::Transfer(target));
        self
    }
    pub fn transfer_to_user(&mut self, user: &str) -> &mut Self {
        self.transfer(TransferTarget::User(user.to_string()))
    }
    pub fn transfer_to_queue(&mut self, queue: &str) -> &mut Self {
        self.transfer(TransferTarget::Queue(queue.to_string()))
    }
    pub fn transfer_to_number(&mut self, e164: &str) -> &mut Self {
        self.transfer(TransferTarget::External(e164.to_string()))
    }
    pub fn start_recording(&mut self) -> &mut Self {
        self.actions.push(Action::StartRecording);
        self
    }
    pub fn stop_recording(&mut self) -> &mut Self {
        self.actions.push(Action::StopRecording);
        self
    }
    /// Set a call variable, visible to later nodes.
    pub fn set_var(&mut self, name: &str, value: &str) -> &mut Self {
        self.actions
            .push(Action::SetVariable((name.to_string(), value.to_string())));
        self
    }
    /// End the call.
    pub fn hangup(&mut self) -> &mut Self {
        self.actions.push(Action::Hangup);
        self
    }
    /// A call variable's latest value.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.facts
            .variables
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The actions answered so far.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }
}

/// `validate-config` for node `N`.
pub fn validate<N: Node>(config: &str) -> Result<(), String> {
    N::validate(&crate::parse_config(config)?)
}

/// `handle` for node `N`. Plain Rust: call it from native unit tests too.
pub fn run<N: Node>(input: NodeInput, event: Event) -> Result<Step, String> {
    let config: N::Config = crate::parse_config(&input.config)?;
    let state = if input.state.is_empty() {
        N::State::default()
    } else {
        serde_json::from_str(&input.state).map_err(|e| format!("saved state unreadable: {e}"))?
    };
    let mut cx = Cx {
        facts: &input.facts,
        config: &config,
        state,
        actions: Vec::new(),
    };
    let what = match event {
        Event::Entered => N::entered(&mut cx).map(|()| "entered"),
        Event::Digits(d) => N::digits(&mut cx, &d).map(|()| "digits"),
        Event::NoInput => N::no_input(&mut cx).map(|()| "no-input"),
        Event::PromptFinished => N::prompt_finished(&mut cx).map(|()| "prompt-finished"),
        Event::TransferFailed(why) => N::transfer_failed(&mut cx, why).map(|()| "transfer-failed"),
    }?;
    if cx.actions.is_empty() {
        return Err(format!("the node has nothing to do on {what}"));
    }
    let state =
        serde_json::to_string(&cx.state).map_err(|e| format!("state not serialisable: {e}"))?;
    Ok(Step {
        actions: cx.actions,
        state,
    })
}

/// Export a type implementing [`Node`] as this component's `ivr-node` world.
#[macro_export]
macro_rules! export_node {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __MadoguchiNodeExport;
        impl $crate::bindings::node::exports::madoguchi::ivr::node_api::Guest for __MadoguchiNodeExport {
            fn validate_config(config: $crate::__rt::String) -> $crate::__rt::Result<(), $crate::__rt::String> {
                $crate::node::validate::<$ty>(&config)
            }
            fn handle(
                input: $crate::types::NodeInput,
                event: $crate::types::Event,
            ) -> $crate::__rt::Result<$crate::types::Step, $crate::__rt::String> {
                $crate::node::run::<$ty>(input, event)
            }
        }
        $crate::bindings::node::__export_ivr_node!(__MadoguchiNodeExport with_types_in $crate::bindings::node);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[derive(serde::Deserialize)]
    struct Config {
        next: String,
    }

    #[derive(Default, serde::Serialize, serde::Deserialize)]
    struct Count {
        n: u32,
    }

    struct Counter;

    impl Node for Counter {
        type Config = Config;
        type State = Count;
        fn validate(c: &Config) -> Result<(), String> {
            if c.next.is_empty() {
                return Err("next: empty".into());
            }
            Ok(())
        }
        fn digits(cx: &mut Ctx<'_, Self>, d: &str) -> Result<(), String> {
            cx.state.n += 1;
            if d == "#" {
                let next = cx.config.next.as_str();
                cx.set_var("count", &alloc::format!("{}", cx.state.n))
                    .goto(next);
            } else {
                cx.collect(Collect::digits(1));
            }
            Ok(())
        }
    }

    fn input(state: &str) -> NodeInput {
        NodeInput {
            facts: CallFacts {
                call_id: "c".into(),
                caller: "anonymous".into(),
                did: "+81".into(),
                variables: vec![("lang".into(), "ja".into())],
            },
            config: r#"{"next": "done"}"#.into(),
            state: state.into(),
        }
    }

    #[test]
    fn state_carries_and_actions_come_back_in_order() {
        let s1 = run::<Counter>(input(""), Event::Digits("1".into())).unwrap();
        assert_eq!(s1.state, r#"{"n":1}"#);
        assert!(
            matches!(s1.actions.as_slice(), [Action::Collect(c)] if c.max_digits == 1 && c.min_digits == 1)
        );
        let s2 = run::<Counter>(input(&s1.state), Event::Digits("#".into())).unwrap();
        assert_eq!(
            s2.actions,
            vec![
                Action::SetVariable(("count".into(), "2".into())),
                Action::Goto("done".into())
            ]
        );
    }

    #[test]
    fn unhandled_events_bad_config_and_bad_state_are_errors() {
        let e = run::<Counter>(input(""), Event::Entered).unwrap_err();
        assert_eq!(e, "the node has nothing to do on entered");
        assert!(validate::<Counter>(r#"{"next": ""}"#)
            .unwrap_err()
            .contains("next"));
        assert!(validate::<Counter>("{}")
            .unwrap_err()
            .starts_with("invalid config"));
        assert!(run::<Counter>(input("{broken"), Event::NoInput)
            .unwrap_err()
            .contains("saved state"));
    }

    #[test]
    fn variables_read_latest_value() {
        let i = input("");
        let cx: Cx<'_, (), ()> = Cx {
            facts: &i.facts,
            config: &(),
            state: (),
            actions: Vec::new(),
        };
        assert_eq!(cx.var("lang"), Some("ja"));
        assert_eq!(cx.var("nope"), None);
    }
}
