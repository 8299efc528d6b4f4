//! One INVITE, several answering branches (RFC 3261 §12.1.2, §13.2.2.4): early dialogs per
//! To-tag, the first 2xx wins, later 2xx must be ACKed and ended.

mod transaction_common;

use madoguchi_sip::dialog::{DialogSet, DialogState, ForkEvent};
use transaction_common::*;

#[test]
fn forked_provisionals_create_separate_early_dialogs() {
    let r = invite("z9hG4bKfork", "fork-1", 1);
    let mut set = DialogSet::new(r.clone());
    assert_eq!(
        set.on_response(&answer(&r, 100, None)).unwrap(),
        ForkEvent::Nothing
    );
    assert_eq!(
        set.on_response(&answer(&r, 180, Some("x"))).unwrap(),
        ForkEvent::Early {
            remote_tag: "x".into(),
            new: true
        }
    );
    assert_eq!(
        set.on_response(&answer(&r, 183, Some("y"))).unwrap(),
        ForkEvent::Early {
            remote_tag: "y".into(),
            new: true
        }
    );
    assert_eq!(
        set.on_response(&answer(&r, 180, Some("x"))).unwrap(),
        ForkEvent::Early {
            remote_tag: "x".into(),
            new: false
        }
    );
    assert_eq!(set.dialogs().len(), 2);
    assert!(set
        .dialogs()
        .iter()
        .all(|d| d.state() == DialogState::Early));
    assert!(set.confirmed().is_none());

    // y answers first: its early dialog is confirmed.
    assert_eq!(
        set.on_response(&answer(&r, 200, Some("y"))).unwrap(),
        ForkEvent::Confirmed {
            remote_tag: "y".into()
        }
    );
    assert_eq!(set.confirmed().unwrap().id().remote_tag, "y");
    assert_eq!(set.get("y").unwrap().state(), DialogState::Confirmed);
    assert_eq!(set.get("x").unwrap().state(), DialogState::Early);
    // Its 2xx again: a retransmission (re-send the ACK).
    assert_eq!(
        set.on_response(&answer(&r, 200, Some("y"))).unwrap(),
        ForkEvent::Retransmission {
            remote_tag: "y".into()
        }
    );
    // x answers too: ACK and BYE it.
    assert_eq!(
        set.on_response(&answer(&r, 200, Some("x"))).unwrap(),
        ForkEvent::ExtraConfirmed {
            remote_tag: "x".into()
        }
    );
    assert_eq!(set.get("x").unwrap().state(), DialogState::Confirmed);
    // And a third branch never seen early.
    assert_eq!(
        set.on_response(&answer(&r, 200, Some("z"))).unwrap(),
        ForkEvent::ExtraConfirmed {
            remote_tag: "z".into()
        }
    );
    assert_eq!(set.dialogs().len(), 3);
    let winner = set.into_confirmed().unwrap();
    assert_eq!(winner.id().remote_tag, "y");
}

#[test]
fn a_2xx_without_earlier_provisional_confirms_directly() {
    let r = invite("z9hG4bKfork2", "fork-2", 1);
    let mut set = DialogSet::new(r.clone());
    assert_eq!(
        set.on_response(&answer(&r, 200, Some("q"))).unwrap(),
        ForkEvent::Confirmed {
            remote_tag: "q".into()
        }
    );
    assert_eq!(set.dialogs().len(), 1);
}

#[test]
fn a_failure_before_any_2xx_ends_every_early_dialog() {
    let r = invite("z9hG4bKfork3", "fork-3", 1);
    let mut set = DialogSet::new(r.clone());
    set.on_response(&answer(&r, 180, Some("x"))).unwrap();
    set.on_response(&answer(&r, 180, Some("y"))).unwrap();
    assert_eq!(
        set.on_response(&answer(&r, 486, Some("y"))).unwrap(),
        ForkEvent::Failed { status: 486 }
    );
    assert!(set.dialogs().is_empty());
    assert!(set.into_confirmed().is_none());
}

#[test]
fn a_2xx_without_to_tag_is_an_error() {
    let r = invite("z9hG4bKfork4", "fork-4", 1);
    let mut set = DialogSet::new(r.clone());
    assert!(set.on_response(&answer(&r, 200, None)).is_err());
}
