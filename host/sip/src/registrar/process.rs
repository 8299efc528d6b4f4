//! The REGISTER state transition: request × current bindings × now → response + bindings.

use crate::message::{ContactList, HeaderAccess, HeaderName, NameAddr, Request, Response, Uri};
use crate::parse::{parse_uri, ParseError};

use super::binding::Binding;
use super::date::http_date;
use super::reply::response_to;
use super::uri_eq::uri_eq;
use super::RegistrarConfig;

/// What to send and what to store after a REGISTER.
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    /// 200 listing every current binding, or the error (400, 403, 423, 500).
    pub response: Response,
    /// The AOR's bindings after this request: store these. On error they are the old ones
    /// minus lapsed bindings.
    pub new_bindings: Vec<Binding>,
    /// Whether `new_bindings` differs from the `current` passed in (skip the write if not).
    pub changed: bool,
}

/// The address-of-record a REGISTER is for: the To URI reduced to `scheme:user@host`
/// (user unescaped, host lower-case, no port or parameters) — the key for the store and
/// what the caller compares with the authenticated user.
pub fn aor_of(req: &Request) -> Result<String, ParseError> {
    let to = req.to_hdr()?;
    Ok(aor_key(&to.uri))
}

fn aor_key(uri: &Uri) -> String {
    match uri.user_unescaped() {
        Some(u) => format!("{}:{}@{}", uri.scheme.as_str(), u, uri.host),
        None => format!("{}:{}", uri.scheme.as_str(), uri.host),
    }
}

/// A refusal: status plus extra header fields.
struct Refusal {
    status: u16,
    extra: Vec<(&'static str, String)>,
}

impl Refusal {
    fn status(status: u16) -> Refusal {
        Refusal {
            status,
            extra: Vec::new(),
        }
    }
}

/// Processes an (already authenticated) REGISTER for the AOR whose current bindings are
/// `current`. `source` is where it came from (`udp:192.0.2.4:5062`).
pub fn process(
    req: &Request,
    current: &[Binding],
    config: &RegistrarConfig,
    now_unix: u64,
    source: &str,
) -> RegisterOutcome {
    let live: Vec<Binding> = current
        .iter()
        .filter(|b| b.expires_at_unix > now_unix)
        .cloned()
        .collect();
    let lapsed = live.len() != current.len();
    match apply(req, live.clone(), config, now_unix, source) {
        Ok((bindings, written)) => {
            let mut response = response_to(req, 200);
            for b in &bindings {
                response
                    .headers
                    .push(HeaderName::CONTACT, b.contact_value(now_unix));
            }
            response.headers.push("Date", http_date(now_unix));
            RegisterOutcome {
                response,
                new_bindings: bindings,
                changed: written || lapsed,
            }
        }
        Err(refusal) => {
            let mut response = response_to(req, refusal.status);
            for (n, v) in refusal.extra {
                response.headers.push(n, v);
            }
            RegisterOutcome {
                response,
                new_bindings: live,
                changed: lapsed,
            }
        }
    }
}

/// RFC 3261 §10.3 steps 6–7 over the live bindings. Returns the bindings and whether any
/// were written.
fn apply(
    req: &Request,
    mut bindings: Vec<Binding>,
    config: &RegistrarConfig,
    now: u64,
    source: &str,
) -> Result<(Vec<Binding>, bool), Refusal> {
    let bad = |_| Refusal::status(400);
    let call_id = req
        .call_id()
        .filter(|c| !c.is_empty())
        .ok_or(Refusal::status(400))?
        .to_string();
    let cseq = req.cseq().map_err(bad)?.seq;
    let header_expires = match req.headers.get(HeaderName::EXPIRES) {
        Some(v) => Some(delta_seconds(v).ok_or(Refusal::status(400))?),
        None => None,
    };
    let user_agent = req
        .headers
        .get(HeaderName::USER_AGENT)
        .map(|u| u.trim().chars().take(256).collect::<String>());

    let contacts = match req.contacts().map_err(bad)? {
        None => return Ok((bindings, false)), // a query
        Some(ContactList::Wildcard) => {
            // `Contact: *` must stand alone with `Expires: 0` (§10.2.2, §10.3 step 6).
            if req.headers.count(HeaderName::CONTACT) != 1 || header_expires != Some(0) {
                return Err(Refusal::status(400));
            }
            for b in &bindings {
                check_order(b, &call_id, cseq)?;
            }
            let written = !bindings.is_empty();
            return Ok((Vec::new(), written));
        }
        Some(ContactList::Addrs(a)) => a,
    };
    if contacts.is_empty() {
        return Err(Refusal::status(400));
    }

    // Validate everything before changing anything (all-or-nothing).
    let mut wanted = Vec::with_capacity(contacts.len());
    for c in &contacts {
        let expires = contact_expires(c, header_expires, config)?;
        wanted.push((c, expires));
    }
    if wanted.iter().filter(|(_, e)| *e > 0).count() > config.max_contacts {
        return Err(Refusal::status(403));
    }

    let mut touched: Vec<bool> = vec![false; bindings.len()];
    let mut written = false;
    for (c, expires) in wanted {
        let candidate = new_binding(c, expires, now, &call_id, cseq, source, &user_agent);
        let found = bindings
            .iter()
            .position(|b| same_binding(b, &candidate, &c.uri));
        match found {
            Some(i) => {
                if !touched[i] {
                    check_order(&bindings[i], &call_id, cseq)?;
                }
                written = true;
                if expires == 0 {
                    bindings.remove(i);
                    touched.remove(i);
                } else {
                    bindings[i] = candidate;
                    touched[i] = true;
                }
            }
            None if expires == 0 => {}
            None => {
                written = true;
                bindings.push(candidate);
                touched.push(true);
            }
        }
    }

    // Over the limit: evict the untouched bindings refreshed longest ago.
    while bindings.len() > config.max_contacts {
        let victim = bindings
            .iter()
            .enumerate()
            .filter(|(i, _)| !touched[*i])
            .min_by_key(|(_, b)| (b.updated_unix, b.expires_at_unix))
            .map(|(i, _)| i);
        // Unreachable with the 403 check above (touched ≤ max), but never loop forever.
        let Some(i) = victim else { break };
        tracing::info!(contact = %bindings[i].contact, "evicting oldest binding: too many contacts");
        bindings.remove(i);
        touched.remove(i);
    }
    Ok((bindings, written))
}

/// §10.3 step 7: a stored binding from the same Call-ID may only be changed by a higher CSeq.
fn check_order(b: &Binding, call_id: &str, cseq: u32) -> Result<(), Refusal> {
    if b.call_id == call_id && cseq <= b.cseq {
        Err(Refusal::status(500))
    } else {
        Ok(())
    }
}

/// Does `candidate` (built from `uri`) name the same binding as stored `b`?
fn same_binding(b: &Binding, candidate: &Binding, uri: &Uri) -> bool {
    match (&candidate.instance, &b.instance) {
        (Some(ci), Some(bi)) => ci == bi && candidate.reg_id == b.reg_id,
        _ => match parse_uri(&b.contact) {
            Ok(stored) => uri_eq(&stored, uri),
            Err(_) => b.contact == candidate.contact,
        },
    }
}

/// Expiry granted for one contact, or the refusal for the whole request.
fn contact_expires(
    c: &NameAddr,
    header: Option<u64>,
    config: &RegistrarConfig,
) -> Result<u64, Refusal> {
    let asked = match c.param("expires") {
        Some(Some(v)) => delta_seconds(v).ok_or(Refusal::status(400))?,
        Some(None) => return Err(Refusal::status(400)),
        None => header.unwrap_or(u64::from(config.default_expires)),
    };
    if asked == 0 {
        return Ok(0);
    }
    if asked < u64::from(config.min_expires) {
        return Err(Refusal {
            status: 423,
            extra: vec![(HeaderName::MIN_EXPIRES, config.min_expires.to_string())],
        });
    }
    Ok(asked.min(u64::from(config.max_expires)))
}

/// `delta-seconds`: digits only; huge values saturate (RFC 3261 §20.19 says treat as 2^32-1).
fn delta_seconds(v: &str) -> Option<u64> {
    let v = v.trim();
    if v.is_empty() || v.len() > 40 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        v.parse::<u64>()
            .unwrap_or(u64::MAX)
            .min(u64::from(u32::MAX)),
    )
}

fn new_binding(
    c: &NameAddr,
    expires: u64,
    now: u64,
    call_id: &str,
    cseq: u32,
    source: &str,
    user_agent: &Option<String>,
) -> Binding {
    let mut q = None;
    let mut instance = None;
    let mut reg_id = None;
    let mut params = Vec::new();
    for (n, v) in &c.params {
        let lname = n.to_ascii_lowercase();
        match (lname.as_str(), v) {
            ("expires", _) => {}
            ("q", Some(v)) => q = v.parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)),
            ("+sip.instance", Some(v)) => instance = Some(unquote(v)),
            ("reg-id", Some(v)) => reg_id = v.parse::<u32>().ok(),
            _ => params.push((n.clone(), v.clone())),
        }
    }
    if instance.is_none() {
        reg_id = None;
    }
    Binding {
        contact: c.uri.to_string(),
        expires_at_unix: now.saturating_add(expires),
        call_id: call_id.to_string(),
        cseq,
        q,
        instance,
        reg_id,
        source: source.to_string(),
        user_agent: user_agent.clone(),
        params,
        updated_unix: now,
    }
}

/// Strips the quotes (and backslash escapes) of a quoted parameter value as the parser keeps it.
fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut esc = false;
            for ch in inner.chars() {
                if esc || ch != '\\' {
                    out.push(ch);
                    esc = false;
                } else {
                    esc = true;
                }
            }
            out
        }
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_seconds_grammar() {
        assert_eq!(delta_seconds("3600"), Some(3600));
        assert_eq!(delta_seconds(" 0 "), Some(0));
        assert_eq!(
            delta_seconds("99999999999999999999999"),
            Some(u64::from(u32::MAX))
        );
        for bad in ["", "-1", "1.5", "0x10", "12a", &"9".repeat(41)] {
            assert_eq!(delta_seconds(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unquote_strips_quotes_and_escapes() {
        assert_eq!(unquote("\"<urn:uuid:1>\""), "<urn:uuid:1>");
        assert_eq!(unquote(r#""a\"b""#), "a\"b");
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(unquote("\""), "\"");
    }

    #[test]
    fn aor_key_normalises() {
        let u = parse_uri("sip:%32001@PBX.Example:5070;transport=tcp").unwrap();
        assert_eq!(aor_key(&u), "sip:2001@pbx.example");
        let u = parse_uri("sip:pbx.example").unwrap();
        assert_eq!(aor_key(&u), "sip:pbx.example");
    }
}
