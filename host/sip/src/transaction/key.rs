//! Transaction matching keys (RFC 3261 §17.1.3 for responses, §17.2.3 for requests).

use crate::message::{CSeq, HeaderAccess, Host, Method, Request, Via, MAGIC_COOKIE};
use crate::parse::ParseError;

/// Client transactions are found by the top Via branch of a response plus its CSeq method
/// (§17.1.3): the method tells an INVITE from the CANCEL that shares its branch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub branch: String,
    pub method: Method,
}

/// Server transactions. ACK is keyed as INVITE so it finds the INVITE it acknowledges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// §17.2.3 with a magic-cookie branch: branch + sent-by + method.
    Branch {
        branch: String,
        host: Host,
        port: Option<u16>,
        method: Method,
    },
    /// RFC 2543 fallback (no branch, or one without a usable `z9hG4bK` id): Request-URI,
    /// From tag, Call-ID, CSeq number and top Via. The To tag is left out so that the ACK
    /// (which carries our tag) and the CANCEL find the INVITE; retransmissions of one
    /// request carry the same To anyway.
    Legacy {
        call_id: String,
        cseq: u32,
        from_tag: Option<String>,
        uri: String,
        via: String,
        method: Method,
    },
}

/// True when a branch is an RFC 3261 transaction id: the cookie plus at least one more
/// character. RFC 4475 "badbranch" (a bare `z9hG4bK`) falls back to RFC 2543 rules.
pub(crate) fn is_rfc3261_branch(branch: &str) -> bool {
    branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE)
}

/// Method as used in keys: ACK matches its INVITE.
fn key_method(m: &Method) -> Method {
    match m {
        Method::Ack => Method::Invite,
        other => other.clone(),
    }
}

/// The server key of `req` whose top Via and CSeq are already parsed; `as_method` overrides
/// the method (CANCEL looks up its INVITE with `Some(Invite)`).
pub(crate) fn server_key(
    req: &Request,
    via: &Via,
    cseq: &CSeq,
    as_method: Option<Method>,
) -> Result<ServerKey, ParseError> {
    let method = as_method.unwrap_or_else(|| key_method(&req.method));
    if let Some(branch) = via.branch().filter(|b| is_rfc3261_branch(b)) {
        return Ok(ServerKey::Branch {
            branch: branch.to_string(),
            host: via.host.clone(),
            port: via.port,
            method,
        });
    }
    let from = req.from_hdr()?;
    // Compared without what our own transport stamped on it, so the request the TU holds
    // (stamped) still finds its transaction.
    let mut via = via.clone();
    via.params
        .retain(|(n, _)| !n.eq_ignore_ascii_case("received") && !n.eq_ignore_ascii_case("rport"));
    Ok(ServerKey::Legacy {
        call_id: req.call_id().unwrap_or_default().to_string(),
        cseq: cseq.seq,
        from_tag: from.tag().map(str::to_string),
        uri: req.uri.to_string(),
        via: via.to_string(),
        method,
    })
}
