//! Typed views of the header fields the stack itself needs: Via, From/To/Contact
//! (name-addr), CSeq. Parsing lives in [`crate::parse`]; these are plain data + printing.

use std::fmt;

use super::{Host, Method, Uri};

/// Transport protocol named in a Via.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
    Sctp,
    Other(String),
}

impl Transport {
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Sctp => "SCTP",
            Transport::Other(s) => s,
        }
    }

    /// Reliable transports do not retransmit (RFC 3261 §17.1.1.2).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// One Via value (`SIP/2.0/UDP host:port;branch=…;rport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub transport: Transport,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
}

/// RFC 3261 branch prefix that marks a branch as a transaction ID.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        param_in(&self.params, name)
    }

    /// Sets (or replaces) a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        set_param_in(&mut self.params, name, value)
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport.as_str(), self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

/// `"Display" <uri>;params` as used by From, To, Contact, Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Vec<(String, Option<String>)>,
}

impl NameAddr {
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Vec::new(),
        }
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        param_in(&self.params, name)
    }

    pub fn tag(&self) -> Option<&str> {
        self.param("tag").flatten()
    }

    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        set_param_in(&mut self.params, name, value)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            // Backslash, quote and control characters go out as quoted-pairs (RFC 3261 §25.1)
            // so the display name parses back; CR and LF cannot be quoted and become spaces.
            f.write_str("\"")?;
            for c in d.chars() {
                match c {
                    '\r' | '\n' => f.write_str(" ")?,
                    '\\' | '"' => write!(f, "\\{c}")?,
                    c if (c.is_ascii_control() && c != '\t') => write!(f, "\\{c}")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

/// `CSeq: 314159 INVITE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// `Contact: *` or a list of addresses with their parameters (expires, q, +sip.instance…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactList {
    Wildcard,
    Addrs(Vec<NameAddr>),
}

/// A `;name[=value]` parameter by case-insensitive name (`Some(None)` for a flag).
pub(crate) fn param_in<'a>(
    params: &'a [(String, Option<String>)],
    name: &str,
) -> Option<Option<&'a str>> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref())
}

/// Sets or replaces a parameter, keeping the others in order.
pub(crate) fn set_param_in(
    params: &mut Vec<(String, Option<String>)>,
    name: &str,
    value: Option<String>,
) {
    match params
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(p) => p.1 = value,
        None => params.push((name.to_string(), value)),
    }
}

pub(crate) fn write_params(
    f: &mut fmt::Formatter<'_>,
    params: &[(String, Option<String>)],
) -> fmt::Result {
    for (n, v) in params {
        match v {
            Some(v) => write!(f, ";{n}={v}")?,
            None => write!(f, ";{n}")?,
        }
    }
    Ok(())
}
