//! The B2BUA's view of one leg's dialog: enough state to send in-dialog requests (BYE,
//! re-INVITE, ACK) and to recognise requests that belong to it.

use std::net::SocketAddr;

use madoguchi_sip::message::{
    HeaderAccess, HeaderName, Method, NameAddr, Request, Response, Transport, Uri, Via,
};
use madoguchi_sip::transaction::Peer;

use super::ids;

/// One side of a call as a dialog (RFC 3261 §12), from our point of view.
#[derive(Debug, Clone)]
pub struct LegDialog {
    pub call_id: String,
    /// Our From (UAC) or To (UAS) value, with our tag.
    pub local: NameAddr,
    /// The peer's address-of-record header value, with its tag once known.
    pub remote: NameAddr,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: Uri,
    /// Route set from Record-Route, in the order requests must carry it.
    pub route_set: Vec<NameAddr>,
    pub local_cseq: u32,
    /// Highest CSeq the peer has used (requests must increase it).
    pub remote_cseq: u32,
    /// The transport address the peer is reached at (symmetric: where it sent from).
    pub peer: Peer,
    /// Our own address on the listener that talks to this peer (Via, Contact).
    pub local_addr: SocketAddr,
}

impl LegDialog {
    /// A new request inside the dialog with the next local CSeq (for ACK pass the INVITE's
    /// CSeq number with `cseq_override`).
    pub fn request(&mut self, method: Method, cseq_override: Option<u32>) -> Request {
        let cseq = match cseq_override {
            Some(n) => n,
            None => {
                self.local_cseq += 1;
                self.local_cseq
            }
        };
        let mut req = Request::new(method.clone(), self.remote_target.clone());
        let via = our_via(self.peer.transport.clone(), self.local_addr);
        let h = req.headers_mut();
        h.push(HeaderName::VIA, via.to_string());
        h.push(HeaderName::MAX_FORWARDS, "70");
        for r in &self.route_set {
            h.push(HeaderName::ROUTE, r.to_string());
        }
        h.push(HeaderName::FROM, self.local.to_string());
        h.push(HeaderName::TO, self.remote.to_string());
        h.push(HeaderName::CALL_ID, self.call_id.clone());
        h.push(HeaderName::CSEQ, format!("{cseq} {method}"));
        h.push(
            HeaderName::CONTACT,
            contact_for(self.local_addr).to_string(),
        );
        req
    }
}

/// A fresh top Via for a request we send from `local`.
pub fn our_via(transport: Transport, local: SocketAddr) -> Via {
    Via {
        transport,
        host: local.ip().into(),
        port: Some(local.port()),
        params: vec![
            ("branch".into(), Some(ids::branch())),
            ("rport".into(), None),
        ],
    }
}

/// Our Contact for dialogs on a listener.
pub fn contact_for(local: SocketAddr) -> NameAddr {
    NameAddr::new(Uri::sip(
        Some("madoguchi"),
        local.ip().into(),
        Some(local.port()),
    ))
}

/// The remote target a peer asked for (its Contact), or `fallback` when it gave none.
pub fn contact_uri<M: HeaderAccess>(msg: &M, fallback: &Uri) -> Uri {
    match msg.contacts() {
        Ok(Some(madoguchi_sip::message::ContactList::Addrs(a))) if !a.is_empty() => {
            a[0].uri.clone()
        }
        _ => fallback.clone(),
    }
}

/// Route set of a UAS dialog: Record-Route as received.
pub fn uas_route_set(req: &Request) -> Vec<NameAddr> {
    req.route_set(HeaderName::RECORD_ROUTE).unwrap_or_default()
}

/// Route set of a UAC dialog: Record-Route of the 2xx, reversed.
pub fn uac_route_set(resp: &Response) -> Vec<NameAddr> {
    let mut r = resp.route_set(HeaderName::RECORD_ROUTE).unwrap_or_default();
    r.reverse();
    r
}
