//! Transport-layer rules the transaction layer relies on (RFC 3261 §18, RFC 3581):
//! stamping `received`/`rport` on requests we receive, choosing where a response goes,
//! where a request for an IP URI goes, and creating the top Via (with a fresh branch)
//! for requests we send.

use std::net::{IpAddr, SocketAddr};

use rand::Rng;

use crate::message::{
    HeaderAccess, HeaderName, Headers, Host, Request, Scheme, Transport, Uri, Via, MAGIC_COOKIE,
};
use crate::parse::{self, ParseError};
use crate::transaction::Peer;

/// Default port for a transport when a Via or URI names none (RFC 3261 §18.2.2, §19.1.2).
pub fn default_port(transport: &Transport) -> u16 {
    match transport {
        Transport::Tls | Transport::Wss => 5061,
        _ => 5060,
    }
}

/// Strips the IPv4-mapped form so `::ffff:192.0.2.1` compares equal to `192.0.2.1`.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Applies §18.2.1 and RFC 3581 §4 to a parsed top Via: adds `received=<source ip>` when
/// the sent-by host is a domain or another IP, and fills an empty `rport` with the source
/// port (adding `received` then too, as RFC 3581 requires). Returns whether it changed.
pub fn stamp_via(via: &mut Via, source: SocketAddr) -> bool {
    let src_ip = canonical(source.ip());
    let wants_rport = matches!(via.param("rport"), Some(None));
    let differs = via.host.ip().map(canonical) != Some(src_ip);
    if !differs && !wants_rport {
        return false;
    }
    via.set_param("received", Some(src_ip.to_string()));
    if wants_rport {
        via.set_param("rport", Some(source.port().to_string()));
    }
    true
}

/// Writes `via` over the first value of the request's first Via header line, keeping any
/// further comma-separated values of that line.
pub fn replace_top_via(req: &mut Request, via: &Via) -> Result<(), ParseError> {
    replace_top_via_in(&mut req.headers, via)
}

/// [`replace_top_via`] on a bare header list (also used on responses we build).
pub fn replace_top_via_in(headers: &mut Headers, via: &Via) -> Result<(), ParseError> {
    let header = headers
        .iter_mut()
        .find(|h| h.name.is(HeaderName::VIA))
        .ok_or(ParseError::MissingHeader(HeaderName::VIA))?;
    let mut list = parse::parse_via_list(&header.value)?;
    if list.is_empty() {
        return Err(ParseError::MissingHeader(HeaderName::VIA));
    }
    list[0] = via.clone();
    let mut value = String::with_capacity(header.value.len() + 32);
    for (i, v) in list.iter().enumerate() {
        if i > 0 {
            value.push_str(", ");
        }
        value.push_str(&v.to_string());
    }
    header.value = value;
    Ok(())
}

/// Stamps `received`/`rport` into the request's top Via (see [`stamp_via`]).
pub fn stamp_received(req: &mut Request, source: SocketAddr) -> Result<(), ParseError> {
    let mut via = req.top_via()?;
    if stamp_via(&mut via, source) {
        replace_top_via(req, &via)?;
    }
    Ok(())
}

/// Where to send a response to a request whose (stamped) top Via is `via` and which came
/// from `source` (RFC 3261 §18.2.2, RFC 3581 §4):
/// reliable transport → the connection it came on; `maddr` (an IP) → there, at the sent-by
/// port; `received` → that address, at `rport` if filled, else the sent-by port; otherwise
/// the sent-by host (when it is an IP) and port. A domain sent-by without `received` cannot
/// happen after [`stamp_via`], so the source address is the fallback.
pub fn response_destination(via: &Via, source: &Peer) -> SocketAddr {
    if source.is_reliable() {
        return source.addr;
    }
    let sent_by_port = via.port.unwrap_or_else(|| default_port(&via.transport));
    let param_ip = |name: &str| {
        via.param(name).flatten().and_then(|v| {
            v.trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
                .ok()
        })
    };
    if let Some(maddr) = param_ip("maddr") {
        return SocketAddr::new(maddr, sent_by_port);
    }
    if let Some(received) = param_ip("received") {
        let port = via
            .param("rport")
            .flatten()
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .unwrap_or(sent_by_port);
        return SocketAddr::new(received, port);
    }
    match via.host.ip() {
        Some(ip) => SocketAddr::new(ip, sent_by_port),
        None => source.addr,
    }
}

/// Where to send a request for `uri` when its host is an IP address (RFC 3263 §4 without
/// DNS): transport from `;transport=` (`sips:` → TLS), port from the URI or the transport's
/// default. `None` for domain names, which the driver must resolve (or an unknown transport).
pub fn peer_for_uri(uri: &Uri) -> Option<Peer> {
    let ip = uri.host.ip()?;
    let transport = match uri.param("transport").flatten() {
        None if uri.scheme == Scheme::Sips => Transport::Tls,
        None => Transport::Udp,
        Some(t) if t.eq_ignore_ascii_case("udp") => Transport::Udp,
        Some(t) if t.eq_ignore_ascii_case("tcp") && uri.scheme == Scheme::Sips => Transport::Tls,
        Some(t) if t.eq_ignore_ascii_case("tcp") => Transport::Tcp,
        Some(t) if t.eq_ignore_ascii_case("tls") => Transport::Tls,
        Some(t) if t.eq_ignore_ascii_case("ws") => Transport::Ws,
        Some(t) if t.eq_ignore_ascii_case("wss") => Transport::Wss,
        Some(_) => return None,
    };
    let port = uri.port.unwrap_or_else(|| default_port(&transport));
    Some(Peer::new(transport, SocketAddr::new(ip, port)))
}

/// A fresh RFC 3261 branch: the magic cookie plus 64 random bits in hex (§8.1.1.7 asks
/// for uniqueness across space and time; 2^64 makes collisions negligible).
pub fn new_branch<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!("{MAGIC_COOKIE}{:016x}", rng.gen::<u64>())
}

/// A top Via for a request we send from `host:port` over `transport`, with a new branch
/// and an empty `rport` so NATed peers answer to the port we sent from (RFC 3581).
pub fn new_via<R: Rng + ?Sized>(transport: Transport, host: Host, port: u16, rng: &mut R) -> Via {
    Via {
        transport,
        host,
        port: Some(port),
        params: vec![
            ("branch".to_string(), Some(new_branch(rng))),
            ("rport".to_string(), None),
        ],
    }
}

/// Puts `via` on top of the request's Via fields.
pub fn push_via(req: &mut Request, via: &Via) {
    req.headers.push_front(HeaderName::VIA, via.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn via(host: Host, port: Option<u16>, params: &[(&str, Option<&str>)]) -> Via {
        Via {
            transport: Transport::Udp,
            host,
            port,
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Host {
        Host::V4(Ipv4Addr::new(a, b, c, d))
    }

    #[test]
    fn same_ip_without_rport_is_untouched() {
        let mut v = via(
            v4(192, 0, 2, 1),
            Some(5060),
            &[("branch", Some("z9hG4bKa"))],
        );
        assert!(!stamp_via(&mut v, "192.0.2.1:5070".parse().unwrap()));
        assert_eq!(v.param("received"), None);
    }

    #[test]
    fn other_ip_gets_received() {
        let mut v = via(v4(10, 0, 0, 1), Some(5060), &[]);
        assert!(stamp_via(&mut v, "192.0.2.1:5060".parse().unwrap()));
        assert_eq!(v.param("received"), Some(Some("192.0.2.1")));
        assert_eq!(v.param("rport"), None);
    }

    #[test]
    fn domain_gets_received() {
        let mut v = via(Host::Domain("pc.example.com".into()), None, &[]);
        assert!(stamp_via(&mut v, "192.0.2.1:5060".parse().unwrap()));
        assert_eq!(v.param("received"), Some(Some("192.0.2.1")));
    }

    #[test]
    fn empty_rport_is_filled_and_received_added_even_for_same_ip() {
        let mut v = via(v4(192, 0, 2, 1), Some(5060), &[("rport", None)]);
        assert!(stamp_via(&mut v, "192.0.2.1:40000".parse().unwrap()));
        assert_eq!(v.param("rport"), Some(Some("40000")));
        assert_eq!(v.param("received"), Some(Some("192.0.2.1")));
    }

    #[test]
    fn mapped_ipv6_source_equals_ipv4_sent_by() {
        let mut v = via(v4(192, 0, 2, 1), Some(5060), &[]);
        assert!(!stamp_via(
            &mut v,
            "[::ffff:192.0.2.1]:5060".parse().unwrap()
        ));
    }

    #[test]
    fn destination_rules() {
        let src = Peer::udp("192.0.2.9:40000".parse().unwrap());
        // received + rport → NAT binding
        let v = via(
            v4(10, 0, 0, 1),
            Some(5062),
            &[("received", Some("192.0.2.9")), ("rport", Some("40000"))],
        );
        assert_eq!(
            response_destination(&v, &src),
            "192.0.2.9:40000".parse().unwrap()
        );
        // received without rport → sent-by port
        let v = via(
            v4(10, 0, 0, 1),
            Some(5062),
            &[("received", Some("192.0.2.9"))],
        );
        assert_eq!(
            response_destination(&v, &src),
            "192.0.2.9:5062".parse().unwrap()
        );
        // plain → sent-by, default port 5060
        let v = via(v4(192, 0, 2, 9), None, &[]);
        assert_eq!(
            response_destination(&v, &src),
            "192.0.2.9:5060".parse().unwrap()
        );
        // maddr wins over received
        let v = via(
            v4(10, 0, 0, 1),
            Some(5070),
            &[
                ("maddr", Some("239.1.1.1")),
                ("received", Some("192.0.2.9")),
            ],
        );
        assert_eq!(
            response_destination(&v, &src),
            "239.1.1.1:5070".parse().unwrap()
        );
        // reliable → same connection whatever the Via says
        let tcp = Peer::tcp("192.0.2.9:40001".parse().unwrap());
        assert_eq!(response_destination(&v, &tcp), tcp.addr);
    }

    #[test]
    fn peers_for_ip_uris() {
        let p = |s: &str| peer_for_uri(&parse::parse_uri(s).unwrap());
        assert_eq!(
            p("sip:bob@192.0.2.4"),
            Some(Peer::udp("192.0.2.4:5060".parse().unwrap()))
        );
        assert_eq!(
            p("sip:bob@192.0.2.4:5070;transport=TCP"),
            Some(Peer::tcp("192.0.2.4:5070".parse().unwrap()))
        );
        assert_eq!(
            p("sips:bob@[2001:db8::1]"),
            Some(Peer::new(
                Transport::Tls,
                "[2001:db8::1]:5061".parse().unwrap()
            ))
        );
        assert_eq!(p("sip:bob@example.com"), None);
        assert_eq!(p("sip:bob@192.0.2.4;transport=carrier-pigeon"), None);
    }

    #[test]
    fn branches_are_cookie_prefixed_and_distinct() {
        let mut rng = rand::thread_rng();
        let a = new_branch(&mut rng);
        let b = new_branch(&mut rng);
        assert!(a.starts_with(MAGIC_COOKIE) && a.len() == MAGIC_COOKIE.len() + 16);
        assert_ne!(a, b);
    }
}
