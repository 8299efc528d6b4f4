//! Requests the transaction layer derives from a request it sent: the ACK for a non-2xx
//! final response (RFC 3261 §17.1.1.3) and CANCEL (§9.1).

use crate::message::{CSeq, HeaderAccess, HeaderName, Method, Request, Response};
use crate::parse::ParseError;

/// Copies the fields that ACK and CANCEL share with the request they follow: Request-URI,
/// the top Via only (same branch), Route set, From, Call-ID, Max-Forwards, CSeq number.
fn derived(req: &Request, method: Method, to: &str) -> Result<Request, ParseError> {
    let cseq = req.cseq()?;
    let mut out = Request::new(method.clone(), req.uri.clone());
    let top_via = req.top_via()?;
    out.headers.push(HeaderName::VIA, top_via.to_string());
    out.headers.push(HeaderName::MAX_FORWARDS, "70");
    for r in req.headers.get_all(HeaderName::ROUTE) {
        out.headers.push(HeaderName::ROUTE, r);
    }
    let from = req
        .headers
        .get(HeaderName::FROM)
        .ok_or(ParseError::MissingHeader(HeaderName::FROM))?;
    out.headers.push(HeaderName::FROM, from);
    out.headers.push(HeaderName::TO, to);
    let call_id = req
        .call_id()
        .ok_or(ParseError::MissingHeader(HeaderName::CALL_ID))?;
    out.headers.push(HeaderName::CALL_ID, call_id);
    out.headers.push(
        HeaderName::CSEQ,
        CSeq {
            seq: cseq.seq,
            method,
        }
        .to_string(),
    );
    Ok(out)
}

/// The ACK a client INVITE transaction sends for a 300–699 response: To is taken from the
/// response (it carries the UAS tag), everything else from the INVITE.
pub fn ack_for_non2xx(invite: &Request, response: &Response) -> Result<Request, ParseError> {
    let to = response
        .headers
        .get(HeaderName::TO)
        .ok_or(ParseError::MissingHeader(HeaderName::TO))?;
    derived(invite, Method::Ack, to)
}

/// CANCEL for a pending request: same Request-URI, top Via (branch), Route, From, To,
/// Call-ID and CSeq number, method CANCEL.
pub fn cancel_for(request: &Request) -> Result<Request, ParseError> {
    let to = request
        .headers
        .get(HeaderName::TO)
        .ok_or(ParseError::MissingHeader(HeaderName::TO))?;
    derived(request, Method::Cancel, to)
}

/// A response to `req` with the Timestamp copied (§8.2.6.1), as the automatic 100 Trying.
pub(crate) fn trying_for(req: &Request) -> Response {
    let mut resp = Response::for_request(req, 100, "Trying");
    if let Some(ts) = req.headers.get("Timestamp") {
        resp.headers.push("Timestamp", ts);
    }
    resp
}
