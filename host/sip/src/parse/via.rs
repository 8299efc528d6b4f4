//! Via (RFC 3261 §20.42, §25.1) including the IPv6 forms of RFC 5118.

use super::lex::{is_token, Cursor};
use super::params::parse_params;
use super::uri::{parse_host, parse_port, parse_received};
use super::ParseError;
use crate::message::{Host, Transport, Via};

const VIA: &str = "Via";

fn bad(why: &'static str) -> ParseError {
    ParseError::Header { header: VIA, why }
}

/// Parses a Via field value: one or more comma-separated via-parms.
pub fn parse_via_list(v: &str) -> Result<Vec<Via>, ParseError> {
    let mut c = Cursor::new(v);
    c.skip_ws();
    let mut out = Vec::new();
    loop {
        out.push(via_parm(&mut c, true)?);
        if !c.eat_sep(b',') {
            break;
        }
    }
    c.skip_ws();
    if !c.at_end() {
        return Err(bad("unexpected characters"));
    }
    Ok(out)
}

/// One via-parm. With `strict == false` the protocol version is not checked and the
/// parameters are not read (used to salvage a Via for an error response).
pub(crate) fn via_parm(c: &mut Cursor<'_>, strict: bool) -> Result<Via, ParseError> {
    let name = c.token().ok_or(bad("missing protocol name"))?;
    if !c.eat_sep(b'/') {
        return Err(bad("missing '/'"));
    }
    let version = c.token().ok_or(bad("missing protocol version"))?;
    if !c.eat_sep(b'/') {
        return Err(bad("missing '/'"));
    }
    let transport = c.token().ok_or(bad("missing transport"))?;
    if strict && !(name.eq_ignore_ascii_case("SIP") && version == "2.0") {
        return Err(bad("protocol is not SIP/2.0"));
    }
    if !c.skip_ws() {
        return Err(bad("missing whitespace before sent-by"));
    }
    let (host, port) = sent_by(c)?;
    let params = if strict {
        let params = parse_params(c, VIA)?;
        check_params(&params)?;
        params
    } else {
        Vec::new()
    };
    Ok(Via {
        transport: transport_from(transport),
        host,
        port,
        params,
    })
}

fn transport_from(t: &str) -> Transport {
    match t.to_ascii_uppercase().as_str() {
        "UDP" => Transport::Udp,
        "TCP" => Transport::Tcp,
        "TLS" => Transport::Tls,
        "WS" => Transport::Ws,
        "WSS" => Transport::Wss,
        "SCTP" => Transport::Sctp,
        other => Transport::Other(other.to_string()),
    }
}

/// `sent-by = host [ COLON port ]`.
fn sent_by(c: &mut Cursor<'_>) -> Result<(Host, Option<u16>), ParseError> {
    let start = c.pos();
    if c.eat(b'[') {
        c.take_while(|b| b != b']');
        if !c.eat(b']') {
            return Err(bad("unclosed IPv6 reference"));
        }
    } else {
        c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    }
    let host = c.since(start);
    let host = parse_host(host).map_err(|_| bad("bad sent-by host"))?;
    let port = if c.eat_sep(b':') {
        let p = c.take_while(|b| b.is_ascii_digit());
        Some(parse_port(p).map_err(|_| bad("bad sent-by port"))?)
    } else {
        None
    };
    Ok((host, port))
}

/// Checks the values of the parameters RFC 3261 gives a grammar to.
fn check_params(params: &[(String, Option<String>)]) -> Result<(), ParseError> {
    for (n, v) in params {
        let v = v.as_deref();
        match n.to_ascii_lowercase().as_str() {
            "branch" if !v.is_some_and(|v| v.bytes().all(is_token)) => {
                return Err(bad("bad branch"));
            }
            "received" => {
                parse_received(v.unwrap_or("")).map_err(|_| bad("bad received"))?;
            }
            "maddr" => {
                parse_host(v.unwrap_or("")).map_err(|_| bad("bad maddr"))?;
            }
            "ttl" if !v.is_some_and(|v| v.parse::<u8>().is_ok() && v.len() <= 3) => {
                return Err(bad("bad ttl"));
            }
            "rport" => {
                if let Some(v) = v {
                    parse_port(v).map_err(|_| bad("bad rport"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_whitespace_everywhere() {
        let v = parse_via_list(
            "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239",
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].transport, Transport::Tcp);
        assert_eq!(v[0].host, Host::Domain("spindle.example.com".into()));
        assert_eq!(v[0].branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(v[1].transport, Transport::Udp);
        assert_eq!(v[1].branch(), Some("z9hG4bK30239"));
    }

    #[test]
    fn unknown_transport_and_port() {
        let v =
            parse_via_list("SIP/2.0/UNKNOWN t4.example.com:5070;branch=z9hG4bKx;rport").unwrap();
        assert_eq!(v[0].transport, Transport::Other("UNKNOWN".into()));
        assert_eq!(v[0].port, Some(5070));
        assert_eq!(v[0].param("rport"), Some(None));
    }

    #[test]
    fn rfc5118_ipv6_sent_by_and_received() {
        let v = parse_via_list("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111").unwrap();
        assert_eq!(v[0].host, Host::V6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(v[0].port, Some(6050));
        // §4.5: received with and without brackets.
        let v = parse_via_list(
            "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v[0].param("received"), Some(Some("2001:db8::9:255")));
        assert_eq!(v[0].branch(), Some("z9hG4bKas3"));
        parse_via_list(
            "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
        )
        .unwrap();
        parse_via_list("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19").unwrap();
        assert!(parse_via_list("SIP/2.0/UDP [2001:db8:::1];branch=z9hG4bK1").is_err());
        assert!(parse_via_list("SIP/2.0/UDP h;received=notanip").is_err());
    }

    #[test]
    fn malformed_vias() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/2.0/UDP",
            "SIP/2.0/UDPhost",
            "SIP/7.0/UDP c.example.com",
            "SIP/2.0 UDP host",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDP host:70000",
            "SIP/2.0/UDP host;branch",
            "SIP/2.0/UDP host,",
            "SIP/2.0/UDP host junk",
            "",
        ] {
            assert!(parse_via_list(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn prints_back() {
        let s = "SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK1;received=192.0.2.1;rport=5061";
        let v = parse_via_list(s).unwrap();
        assert_eq!(v[0].to_string(), s);
    }
}
