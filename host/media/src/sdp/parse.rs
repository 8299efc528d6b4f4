//! SDP (RFC 4566) text model: parse leniently, generate canonically.

use std::fmt::{self, Write as _};
use std::net::IpAddr;

/// Why an SDP body could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// Not UTF-8, or a line is not `x=value`.
    #[error("malformed SDP line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A required line (v=, o=, s=, or a port on m=) is missing or invalid.
    #[error("missing or invalid {0}")]
    Missing(&'static str),
    /// The offer has no usable audio stream (RTP/AVP, port != 0).
    #[error("no usable audio stream")]
    NoAudio,
    /// No codec in common: answer SIP 488 Not Acceptable Here.
    #[error("no common codec")]
    NoCommonCodec,
    /// Only plain RTP was offered where SRTP is required: answer SIP 488.
    #[error("SRTP (RTP/SAVP with a=crypto) is required; only plain RTP was offered")]
    SrtpRequired,
    /// The stream has no connection address (neither media- nor session-level c=).
    #[error("no connection address for the audio stream")]
    NoConnection,
}

/// `c=` line: network address for media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// IPv4 or IPv6 address (TTL / count suffixes are ignored).
    pub address: IpAddr,
}

/// `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Username (`-` when none).
    pub username: String,
    /// Session id.
    pub session_id: u64,
    /// Session version, incremented on every changed re-offer.
    pub session_version: u64,
    /// Address of the originator.
    pub address: IpAddr,
}

/// One `a=` attribute, `name[:value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Value after the first colon, if any.
    pub value: Option<String>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type (`audio`, `video`, ...).
    pub media: String,
    /// Port; 0 = stream rejected/disabled.
    pub port: u16,
    /// Transport protocol (`RTP/AVP`, `UDP/TLS/RTP/SAVPF`, ...).
    pub proto: String,
    /// Format list (payload types for RTP).
    pub formats: Vec<String>,
    /// Media-level `c=`.
    pub connection: Option<Connection>,
    /// Media-level attributes in order.
    pub attributes: Vec<Attribute>,
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// `o=` line.
    pub origin: Origin,
    /// `s=` line.
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// Session-level attributes.
    pub attributes: Vec<Attribute>,
    /// Media sections.
    pub media: Vec<MediaDescription>,
}

/// Stream direction (RFC 3264 §5.1), from the point of view of whoever wrote the SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Direction {
    /// Both ways (the default).
    SendRecv,
    /// Only sends (puts the peer on hold).
    SendOnly,
    /// Only receives.
    RecvOnly,
    /// Neither (hold).
    Inactive,
}

impl Direction {
    /// Attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_attr(name: &str) -> Option<Self> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The same stream seen from the other side (sendonly <-> recvonly).
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether this side sends.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Both sides' wishes combined: sends only if both allow it.
    pub fn intersect(self, other: Direction) -> Direction {
        match (
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        ) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

fn find_attr<'a>(attrs: &'a [Attribute], name: &str) -> impl Iterator<Item = &'a Attribute> + 'a {
    let name = name.to_owned();
    attrs
        .iter()
        .filter(move |a| a.name.eq_ignore_ascii_case(&name))
}

impl MediaDescription {
    /// `a=rtpmap` for `pt`: (encoding name, clock rate).
    pub fn rtpmap(&self, pt: u8) -> Option<(String, u32)> {
        find_attr(&self.attributes, "rtpmap").find_map(|a| {
            let v = a.value.as_deref()?;
            let (p, rest) = v.split_once(char::is_whitespace)?;
            if p.trim().parse::<u8>().ok()? != pt {
                return None;
            }
            let mut parts = rest.trim().split('/');
            let name = parts.next()?.to_owned();
            let rate = parts.next()?.trim().parse().ok()?;
            Some((name, rate))
        })
    }

    /// `a=fmtp` parameters for `pt`.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        find_attr(&self.attributes, "fmtp").find_map(|a| {
            let v = a.value.as_deref()?;
            let (p, rest) = v.split_once(char::is_whitespace)?;
            (p.trim().parse::<u8>().ok()? == pt).then_some(rest.trim())
        })
    }

    /// Payload types in the format list (non-numeric formats skipped).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|&p| p < 128)
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        find_attr(&self.attributes, "ptime").find_map(|a| a.value.as_deref()?.trim().parse().ok())
    }

    /// Direction attribute at media level, if present.
    pub fn direction_attr(&self) -> Option<Direction> {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_attr(&a.name))
    }
}

impl Sdp {
    /// Direction of media section `m`: media-level attribute, else session-level, else sendrecv.
    pub fn direction(&self, m: &MediaDescription) -> Direction {
        m.direction_attr()
            .or_else(|| {
                self.attributes
                    .iter()
                    .find_map(|a| Direction::from_attr(&a.name))
            })
            .unwrap_or(Direction::SendRecv)
    }

    /// Connection address for media section `m` (media-level c= wins).
    pub fn connection_for(&self, m: &MediaDescription) -> Option<IpAddr> {
        m.connection
            .as_ref()
            .or(self.connection.as_ref())
            .map(|c| c.address)
    }

    /// Parse an SDP body. Unknown lines and attributes are kept or ignored,
    /// never fatal; LF-only line endings are accepted.
    pub fn parse(text: &str) -> Result<Sdp, SdpError> {
        let mut origin = None;
        let mut session_name = None;
        let mut connection = None;
        let mut attributes = Vec::new();
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut saw_version = false;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' {
                return Err(SdpError::Malformed {
                    line: line_no,
                    reason: "expected <type>=<value>",
                });
            }
            let value = &line[2..];
            match bytes[0] {
                b'v' => {
                    if value.trim() != "0" {
                        return Err(SdpError::Malformed {
                            line: line_no,
                            reason: "version must be 0",
                        });
                    }
                    saw_version = true;
                }
                b'o' => origin = Some(parse_origin(value).ok_or(SdpError::Missing("o= line"))?),
                b's' => session_name = Some(value.to_owned()),
                b'c' => {
                    let c = parse_connection(value).ok_or(SdpError::Malformed {
                        line: line_no,
                        reason: "bad c= line",
                    })?;
                    match media.last_mut() {
                        Some(m) => m.connection = Some(c),
                        None => connection = Some(c),
                    }
                }
                b'm' => media.push(parse_media(value).ok_or(SdpError::Malformed {
                    line: line_no,
                    reason: "bad m= line",
                })?),
                b'a' => {
                    let (name, val) = match value.split_once(':') {
                        Some((n, v)) => (n.trim().to_owned(), Some(v.to_owned())),
                        None => (value.trim().to_owned(), None),
                    };
                    let attr = Attribute { name, value: val };
                    match media.last_mut() {
                        Some(m) => m.attributes.push(attr),
                        None => attributes.push(attr),
                    }
                }
                // b=, t=, i=, u=, e=, p=, z=, k=, r= and unknown types: not needed for audio.
                _ => {}
            }
        }
        if !saw_version {
            return Err(SdpError::Missing("v= line"));
        }
        Ok(Sdp {
            origin: origin.ok_or(SdpError::Missing("o= line"))?,
            session_name: session_name.unwrap_or_else(|| "-".into()),
            connection,
            attributes,
            media,
        })
    }
}

fn parse_addr(addr_type: &str, addr: &str) -> Option<IpAddr> {
    // Strip multicast TTL/count suffixes ("224.2.1.1/127/3").
    let addr = addr.split('/').next()?;
    let ip: IpAddr = addr.parse().ok()?;
    match (addr_type.to_ascii_uppercase().as_str(), ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

fn parse_origin(v: &str) -> Option<Origin> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() != 6 || !f[3].eq_ignore_ascii_case("IN") {
        return None;
    }
    Some(Origin {
        username: f[0].to_owned(),
        session_id: f[1].parse().ok()?,
        session_version: f[2].parse().ok()?,
        // Some UAs put a hostname here; that is harmless, the address is informational.
        address: parse_addr(f[4], f[5]).unwrap_or(IpAddr::from([0, 0, 0, 0])),
    })
}

fn parse_connection(v: &str) -> Option<Connection> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() != 3 || !f[0].eq_ignore_ascii_case("IN") {
        return None;
    }
    Some(Connection {
        address: parse_addr(f[1], f[2])?,
    })
}

fn parse_media(v: &str) -> Option<MediaDescription> {
    let mut f = v.split_whitespace();
    let media = f.next()?.to_owned();
    let port_field = f.next()?;
    let port = port_field.split('/').next()?.parse().ok()?;
    let proto = f.next()?.to_owned();
    Some(MediaDescription {
        media,
        port,
        proto,
        formats: f.map(str::to_owned).collect(),
        connection: None,
        attributes: Vec::new(),
    })
}

fn addr_type(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

fn write_attrs(f: &mut String, attrs: &[Attribute]) {
    for a in attrs {
        match &a.value {
            Some(v) => {
                let _ = write!(f, "a={}:{}\r\n", a.name, v);
            }
            None => {
                let _ = write!(f, "a={}\r\n", a.name);
            }
        }
    }
}

impl fmt::Display for Sdp {
    /// Canonical SDP with CRLF line endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(256);
        let o = &self.origin;
        let _ = write!(
            s,
            "v=0\r\no={} {} {} IN {} {}\r\ns={}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            addr_type(&o.address),
            o.address,
            self.session_name
        );
        if let Some(c) = &self.connection {
            let _ = write!(s, "c=IN {} {}\r\n", addr_type(&c.address), c.address);
        }
        s.push_str("t=0 0\r\n");
        write_attrs(&mut s, &self.attributes);
        for m in &self.media {
            let _ = write!(s, "m={} {} {}", m.media, m.port, m.proto);
            for fmt_ in &m.formats {
                let _ = write!(s, " {fmt_}");
            }
            s.push_str("\r\n");
            if let Some(c) = &m.connection {
                let _ = write!(s, "c=IN {} {}\r\n", addr_type(&c.address), c.address);
            }
            write_attrs(&mut s, &m.attributes);
        }
        f.write_str(&s)
    }
}
