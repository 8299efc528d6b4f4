//! One dialog (RFC 3261 §12): who we are, who they are, where requests go, CSeq counters.

use super::{DialogError, DialogId};
use crate::message::{
    CSeq, ContactList, HeaderAccess, HeaderName, Method, NameAddr, Request, Response, Uri, Via,
};
use crate::parse::ParseError;

/// Early (after a 1xx with To-tag) or confirmed (after the 2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// Which side of the dialog-creating INVITE we were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Uac,
    Uas,
}

/// Dialog state as RFC 3261 §12.1 defines it, plus the local Contact we advertise.
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    role: Role,
    /// Our From (UAC) / To (UAS) value, with our tag.
    local_uri: NameAddr,
    /// Their address, with their tag.
    remote_uri: NameAddr,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
    local_seq: u32,
    remote_seq: Option<u32>,
    local_contact: Option<NameAddr>,
}

/// The first Contact URI, if any.
fn contact_uri<M: HeaderAccess>(m: &M) -> Result<Option<Uri>, ParseError> {
    Ok(match m.contacts()? {
        Some(ContactList::Addrs(a)) => a.into_iter().next().map(|c| c.uri),
        _ => None,
    })
}

/// Methods whose Contact replaces the remote target (RFC 3261 §12.2, RFC 3311, RFC 6665).
fn is_target_refresh(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

impl Dialog {
    /// UAC side (§12.1.2): from the INVITE we sent and a 101–299 response with a To-tag.
    /// Route set = Record-Route reversed; remote target = Contact (falling back to the
    /// Request-URI when a broken peer sends none). A 1xx makes an early dialog.
    pub fn uac(invite: &Request, resp: &Response) -> Result<Dialog, DialogError> {
        if !(101..300).contains(&resp.status) {
            return Err(DialogError::NotDialogCreating(resp.status));
        }
        let id = DialogId::from_response(resp)?;
        let mut route_set = resp.route_set(HeaderName::RECORD_ROUTE)?;
        route_set.reverse();
        Ok(Dialog {
            id,
            state: if resp.status < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            role: Role::Uac,
            local_uri: invite.from_hdr()?,
            remote_uri: resp.to_hdr()?,
            remote_target: contact_uri(resp)?.unwrap_or_else(|| invite.uri.clone()),
            route_set,
            local_seq: invite.cseq()?.seq,
            remote_seq: None,
            local_contact: None,
        })
    }

    /// UAS side (§12.1.1): from an INVITE we answer with To-tag `local_tag`. Starts early;
    /// call [`confirm`](Self::confirm) when sending the 2xx. Route set = Record-Route in
    /// order; remote target = Contact (or the From URI when absent).
    pub fn uas(invite: &Request, local_tag: &str) -> Result<Dialog, DialogError> {
        let from = invite.from_hdr()?;
        let mut to = invite.to_hdr()?;
        to.set_param("tag", Some(local_tag.to_string()));
        let call_id = invite
            .call_id()
            .ok_or(ParseError::MissingHeader(HeaderName::CALL_ID))?
            .to_string();
        Ok(Dialog {
            id: DialogId {
                call_id,
                local_tag: local_tag.to_string(),
                remote_tag: from.tag().unwrap_or_default().to_string(),
            },
            state: DialogState::Early,
            role: Role::Uas,
            remote_target: contact_uri(invite)?.unwrap_or_else(|| from.uri.clone()),
            local_uri: to,
            remote_uri: from,
            route_set: invite.route_set(HeaderName::RECORD_ROUTE)?,
            local_seq: 0,
            remote_seq: Some(invite.cseq()?.seq),
            local_contact: None,
        })
    }

    pub fn id(&self) -> &DialogId {
        &self.id
    }
    pub fn state(&self) -> DialogState {
        self.state
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }
    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }
    pub fn local_uri(&self) -> &NameAddr {
        &self.local_uri
    }
    pub fn remote_uri(&self) -> &NameAddr {
        &self.remote_uri
    }

    /// The Contact we put in target-refresh requests (re-INVITE, UPDATE…).
    pub fn set_local_contact(&mut self, contact: NameAddr) {
        self.local_contact = Some(contact);
    }

    /// UAS: the 2xx went out.
    pub fn confirm(&mut self) {
        self.state = DialogState::Confirmed;
    }

    /// Puts our tag into a response's To (UAS answering the dialog-creating INVITE).
    pub fn tag_response(&self, resp: &mut Response) {
        resp.headers.set(HeaderName::TO, self.local_uri.to_string());
    }

    /// Where requests in this dialog are sent first: the top route, else the remote target
    /// (§12.2.1.1, §8.1.2). The driver resolves it to a [`crate::transaction::Peer`].
    pub fn next_hop(&self) -> &Uri {
        self.route_set
            .first()
            .map(|r| &r.uri)
            .unwrap_or(&self.remote_target)
    }

    /// A response (UAC side) to a request we sent in this dialog, or to the INVITE that
    /// created it. A 2xx to INVITE confirms an early dialog and recomputes the route set
    /// (§13.2.2.4); a 2xx to a target-refresh request updates the remote target.
    pub fn on_response(&mut self, method: &Method, resp: &Response) -> Result<(), DialogError> {
        let id = DialogId::from_response(resp)?;
        if id.call_id != self.id.call_id
            || id.local_tag != self.id.local_tag
            || id.remote_tag != self.id.remote_tag
        {
            return Err(DialogError::NotInDialog);
        }
        if !resp.is_success() {
            return Ok(());
        }
        if *method == Method::Invite && self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
            let mut rs = resp.route_set(HeaderName::RECORD_ROUTE)?;
            rs.reverse();
            self.route_set = rs;
        }
        if is_target_refresh(method) {
            if let Some(uri) = contact_uri(resp)? {
                self.remote_target = uri;
            }
        }
        Ok(())
    }

    /// A request the peer sent in this dialog (UAS side of it). Checks the dialog id and
    /// CSeq order (lower than the last → [`DialogError::OutOfOrder`], answer 500), then
    /// applies a target refresh. ACK and CANCEL reuse their INVITE's CSeq and skip the check.
    pub fn on_request(&mut self, req: &Request) -> Result<(), DialogError> {
        let id = DialogId::from_incoming_request(req)?;
        if id.call_id != self.id.call_id
            || id.local_tag != self.id.local_tag
            || id.remote_tag != self.id.remote_tag
        {
            return Err(DialogError::NotInDialog);
        }
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let seq = req.cseq()?.seq;
        if let Some(last) = self.remote_seq {
            if seq < last {
                return Err(DialogError::OutOfOrder { got: seq, last });
            }
        }
        self.remote_seq = Some(seq);
        if is_target_refresh(&req.method) {
            if let Some(uri) = contact_uri(req)? {
                self.remote_target = uri;
            }
        }
        Ok(())
    }

    /// A new in-dialog request (BYE, re-INVITE, INFO, UPDATE…) with the next local CSeq,
    /// routed per §12.2.1.1 (loose routing; strict routers get the old treatment), carrying
    /// `via` as its only Via. Not for ACK (use [`ack`](Self::ack)) or CANCEL.
    pub fn request(&mut self, method: Method, via: &Via) -> Request {
        self.local_seq = self.local_seq.wrapping_add(1);
        let seq = self.local_seq;
        self.build(method, seq, via)
    }

    /// The ACK for a 2xx to the INVITE with CSeq number `invite_seq` (§13.2.2.4): same
    /// CSeq number, method ACK, a new branch in `via`.
    pub fn ack(&self, invite_seq: u32, via: &Via) -> Request {
        self.build(Method::Ack, invite_seq, via)
    }

    fn build(&self, method: Method, seq: u32, via: &Via) -> Request {
        let strict = self
            .route_set
            .first()
            .is_some_and(|r| r.uri.param("lr").is_none());
        // `strict` implies a first route, so the indexing below cannot fail.
        let (uri, routes): (Uri, Vec<String>) = if strict {
            let mut routes: Vec<String> =
                self.route_set[1..].iter().map(|r| r.to_string()).collect();
            routes.push(NameAddr::new(self.remote_target.clone()).to_string());
            (self.route_set[0].uri.clone(), routes)
        } else {
            (
                self.remote_target.clone(),
                self.route_set.iter().map(|r| r.to_string()).collect(),
            )
        };
        let refresh = is_target_refresh(&method);
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.push(HeaderName::VIA, via.to_string());
        h.push(HeaderName::MAX_FORWARDS, "70");
        for r in routes {
            h.push(HeaderName::ROUTE, r);
        }
        h.push(HeaderName::FROM, self.local_uri.to_string());
        h.push(HeaderName::TO, self.remote_uri.to_string());
        h.push(HeaderName::CALL_ID, self.id.call_id.clone());
        h.push(HeaderName::CSEQ, CSeq { seq, method }.to_string());
        if refresh {
            if let Some(c) = &self.local_contact {
                h.push(HeaderName::CONTACT, c.to_string());
            }
        }
        req
    }
}
