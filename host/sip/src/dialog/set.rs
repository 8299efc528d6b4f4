//! The dialogs one INVITE of ours creates. A proxy downstream may fork it, so several
//! early dialogs (one per To-tag) can exist at once and more than one branch may answer
//! 2xx (RFC 3261 §12.1.2, §13.2.2.4): the first 2xx confirms its dialog, any later 2xx
//! from another branch must be ACKed and then ended with BYE.

use super::{Dialog, DialogError, DialogState};
use crate::message::{HeaderAccess, Method, Request, Response};

/// What a response to the INVITE did to the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForkEvent {
    /// No dialog change (100 Trying, or a 1xx without To-tag).
    Nothing,
    /// A 1xx with To-tag: an early dialog with this remote tag (new or known).
    Early { remote_tag: String, new: bool },
    /// The first 2xx: this dialog is now confirmed (ACK it).
    Confirmed { remote_tag: String },
    /// The confirmed dialog's 2xx again: resend the ACK.
    Retransmission { remote_tag: String },
    /// A 2xx from another branch after one was confirmed: ACK it, then send BYE on it.
    ExtraConfirmed { remote_tag: String },
    /// A 300–699 final before any 2xx: every early dialog is gone.
    Failed { status: u16 },
}

/// Dialogs created by one INVITE we sent.
#[derive(Debug, Clone)]
pub struct DialogSet {
    invite: Request,
    dialogs: Vec<Dialog>,
    confirmed: Option<usize>,
}

impl DialogSet {
    /// Keeps the INVITE (the dialogs take From, CSeq and the Request-URI from it).
    pub fn new(invite: Request) -> DialogSet {
        DialogSet {
            invite,
            dialogs: Vec::new(),
            confirmed: None,
        }
    }

    pub fn invite(&self) -> &Request {
        &self.invite
    }

    /// All dialogs, early and confirmed.
    pub fn dialogs(&self) -> &[Dialog] {
        &self.dialogs
    }

    pub fn get(&self, remote_tag: &str) -> Option<&Dialog> {
        self.dialogs
            .iter()
            .find(|d| d.id().remote_tag == remote_tag)
    }

    pub fn get_mut(&mut self, remote_tag: &str) -> Option<&mut Dialog> {
        self.dialogs
            .iter_mut()
            .find(|d| d.id().remote_tag == remote_tag)
    }

    /// The dialog the first 2xx confirmed.
    pub fn confirmed(&self) -> Option<&Dialog> {
        // `confirmed` always indexes `dialogs`: dialogs are only ever appended, and cleared
        // only while nothing is confirmed.
        self.confirmed.map(|i| &self.dialogs[i])
    }

    /// Hands out the confirmed dialog (dropping the early ones).
    pub fn into_confirmed(mut self) -> Option<Dialog> {
        let i = self.confirmed?;
        Some(self.dialogs.swap_remove(i))
    }

    /// Applies a response to the INVITE.
    pub fn on_response(&mut self, resp: &Response) -> Result<ForkEvent, DialogError> {
        let status = resp.status;
        if status >= 300 {
            if self.confirmed.is_none() {
                self.dialogs.clear();
            }
            return Ok(ForkEvent::Failed { status });
        }
        let Some(tag) = resp.to_hdr()?.tag().map(str::to_string) else {
            return if status < 200 {
                Ok(ForkEvent::Nothing)
            } else {
                Err(DialogError::MissingTag)
            };
        };
        if status == 100 {
            return Ok(ForkEvent::Nothing);
        }
        let pos = self.dialogs.iter().position(|d| d.id().remote_tag == tag);
        if status < 200 {
            let new = pos.is_none();
            if new {
                self.dialogs.push(Dialog::uac(&self.invite, resp)?);
            }
            return Ok(ForkEvent::Early {
                remote_tag: tag,
                new,
            });
        }
        match (pos, self.confirmed) {
            (Some(i), Some(c)) if i == c => Ok(ForkEvent::Retransmission { remote_tag: tag }),
            (Some(i), None) => {
                self.dialogs[i].on_response(&Method::Invite, resp)?;
                self.confirmed = Some(i);
                Ok(ForkEvent::Confirmed { remote_tag: tag })
            }
            (None, None) => {
                self.dialogs.push(Dialog::uac(&self.invite, resp)?);
                self.confirmed = Some(self.dialogs.len() - 1);
                Ok(ForkEvent::Confirmed { remote_tag: tag })
            }
            (Some(i), Some(_)) => {
                if self.dialogs[i].state() == DialogState::Early {
                    self.dialogs[i].on_response(&Method::Invite, resp)?;
                    Ok(ForkEvent::ExtraConfirmed { remote_tag: tag })
                } else {
                    Ok(ForkEvent::Retransmission { remote_tag: tag })
                }
            }
            (None, Some(_)) => {
                self.dialogs.push(Dialog::uac(&self.invite, resp)?);
                Ok(ForkEvent::ExtraConfirmed { remote_tag: tag })
            }
        }
    }
}
