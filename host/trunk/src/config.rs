//! `[[trunk]]`, `[[outbound]]`, `[[onnet]]` and `[callcenter]`: what the admin writes in
//! `madoguchi.toml` (and sends to `PUT /api/v1/trunks/{name}`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::number::{NumberKind, PhoneNumber};

/// A password kept as the carrier needs it (digest needs the clear text), never printed:
/// `Debug` and `Display` show `***` and it is never serialised.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the trunk finds the called number of an inbound INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DidSource {
    #[default]
    RequestUri,
    To,
}

/// Which identity header outbound INVITEs carry besides From.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityHeader {
    /// P-Asserted-Identity (RFC 3325), what Japanese carriers' trunks usually expect.
    #[default]
    Pai,
    /// P-Preferred-Identity.
    Ppi,
    None,
}

/// How numbers are written towards the carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NumberFormat {
    /// `0462000000`.
    #[default]
    National,
    /// `+81462000000`.
    E164,
}

/// `[[trunk]]`: one SIP trunk to the carrier (or to another destination such as the call
/// center), by registration or by static peering.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    pub name: String,
    /// Where requests to the carrier go: `host:port` or a `sip:` URI with an IP address.
    pub proxy: String,
    /// Digest user name (and the user part of our registration).
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
    /// Register (true) or static peering from the proxy's address (false). Default: true
    /// when a username is given.
    #[serde(default)]
    pub register: Option<bool>,
    /// The SIP domain of the registration and of outbound Request-URIs (default: the
    /// proxy's address).
    #[serde(default)]
    pub domain: Option<String>,
    /// Registration expiry asked for, in seconds.
    #[serde(default = "default_expires")]
    pub expires: u32,
    /// The numbers the carrier delivers on this trunk, in any spelling.
    #[serde(default)]
    pub dids: Vec<String>,
    /// What outbound calls present (From, and the identity header).
    #[serde(default)]
    pub caller_id: String,
    /// Extra source addresses the carrier sends from (static peering). The proxy's own
    /// address is always allowed.
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// Where the DID of an inbound INVITE is: `request-uri` (default) or `to`.
    #[serde(default)]
    pub did_from: DidSource,
    /// `pai` (default), `ppi` or `none`.
    #[serde(default)]
    pub identity: IdentityHeader,
    /// `national` (default) or `e164`, for numbers sent to the carrier.
    #[serde(default)]
    pub number_format: NumberFormat,
    /// OPTIONS keepalive interval (0 = off, the default: a carrier that does not expect
    /// OPTIONS is not sent any; a registered trunk's health then follows its registration).
    #[serde(default)]
    pub keepalive_secs: u32,
    /// First retry after a failed registration; doubles up to 30 minutes.
    #[serde(default = "default_retry")]
    pub retry_secs: u32,
}

fn default_expires() -> u32 {
    3600
}
fn default_keepalive() -> u32 {
    30
}
fn default_retry() -> u32 {
    30
}

/// A config problem, naming the trunk and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trunk {trunk:?}: {key}: {problem}")]
pub struct ConfigError {
    pub trunk: String,
    pub key: &'static str,
    pub problem: String,
}

impl TrunkConfig {
    pub fn registers(&self) -> bool {
        self.register.unwrap_or(!self.username.is_empty())
    }

    /// The proxy's transport address (UDP).
    pub fn proxy_addr(&self) -> Result<SocketAddr, ConfigError> {
        parse_proxy(&self.proxy).map_err(|problem| self.err("proxy", problem))
    }

    /// The domain of From/To and Request-URIs.
    pub fn domain(&self) -> String {
        match &self.domain {
            Some(d) if !d.is_empty() => d.clone(),
            _ => self
                .proxy_addr()
                .map(|a| match a.ip() {
                    IpAddr::V6(ip) => format!("[{ip}]:{}", a.port()),
                    IpAddr::V4(ip) => format!("{ip}:{}", a.port()),
                })
                .unwrap_or_default(),
        }
    }

    /// The DIDs, parsed.
    pub fn did_numbers(&self) -> Result<Vec<PhoneNumber>, ConfigError> {
        self.dids
            .iter()
            .map(|d| PhoneNumber::parse(d).map_err(|e| self.err("dids", format!("{d:?}: {e}"))))
            .collect()
    }

    /// The caller ID, parsed (None when not set).
    pub fn caller_id_number(&self) -> Result<Option<PhoneNumber>, ConfigError> {
        if self.caller_id.is_empty() {
            return Ok(None);
        }
        PhoneNumber::parse(&self.caller_id)
            .map(Some)
            .map_err(|e| self.err("caller_id", format!("{:?}: {e}", self.caller_id)))
    }

    /// Whether an inbound request from `ip` may come from this trunk.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.proxy_addr().is_ok_and(|a| a.ip() == ip) || self.allow.iter().any(|n| n.contains(&ip))
    }

    /// A number as this carrier wants it written.
    pub fn format(&self, n: &PhoneNumber) -> String {
        match self.number_format {
            NumberFormat::National => n.national(),
            NumberFormat::E164 => n.e164(),
        }
    }

    /// Every check serde cannot do; errors name the trunk and the key, never the password.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(self.err("name", "use letters, digits, - and _".into()));
        }
        self.proxy_addr()?;
        if self.registers() {
            if self.username.is_empty() {
                return Err(self.err("username", "needed when register = true".into()));
            }
            if self.password.is_empty() {
                return Err(self.err("password", "needed when register = true".into()));
            }
            if self.expires < 2 {
                return Err(self.err("expires", "at least 2 seconds".into()));
            }
        }
        self.did_numbers()?;
        self.caller_id_number()?;
        if self.retry_secs == 0 {
            return Err(self.err("retry_secs", "at least 1".into()));
        }
        Ok(())
    }

    fn err(&self, key: &'static str, problem: String) -> ConfigError {
        ConfigError {
            trunk: self.name.clone(),
            key,
            problem,
        }
    }
}

/// `host:port`, `host` (port 5060) or `sip:host[:port][;params]`, host an IP address (a
/// closed network has no DNS to rely on).
pub fn parse_proxy(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let rest = s
        .strip_prefix("sip:")
        .or_else(|| s.strip_prefix("SIP:"))
        .unwrap_or(s);
    let rest = rest.split(';').next().unwrap_or("");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if let Ok(a) = rest.parse::<SocketAddr>() {
        return Ok(a);
    }
    let host = rest.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 5060));
    }
    Err(format!(
        "{s:?} is not an IP address with an optional port (e.g. 192.0.2.10:5060)"
    ))
}

/// `[[outbound]]`: which trunk carries users' calls to outside numbers. Rules are tried in
/// order; the first that matches decides. Emergency numbers ignore `deny` and `allow`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutboundRule {
    #[serde(default)]
    pub name: String,
    /// National-form prefixes (`"090"`, `"0120"`); empty = any number.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// The user group: extensions this rule applies to; empty = everyone.
    #[serde(default)]
    pub users: Vec<String>,
    /// Japan time of day, `"08:30-17:15"`; empty = always.
    #[serde(default)]
    pub hours: String,
    /// The trunk to use (default: the first trunk).
    #[serde(default)]
    pub trunk: Option<String>,
    /// Present this number instead of the trunk's `caller_id`.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Refuse matching calls (403).
    #[serde(default)]
    pub deny: bool,
    /// Kinds refused by default that this rule lets through (`"international"`, `"premium"`,
    /// `"special"`).
    #[serde(default)]
    pub allow: Vec<NumberKind>,
}

/// `[[onnet]]`: city numbers reached on the city network, never through the carrier.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OnNetRoute {
    /// A national-form prefix (`"046200"`) or a whole number.
    pub prefix: String,
    /// Where to send: a `sip:` URI; `{number}` is replaced by the national number.
    pub destination: String,
}

/// `[callcenter]`: `external: callcenter` as a list of routes, tried in order.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CallCenterConfig {
    /// Each a trunk name (the number below at its proxy) or a `sip:` URI.
    #[serde(default)]
    pub routes: Vec<String>,
    /// The number dialled at a trunk route.
    #[serde(default)]
    pub number: String,
    /// OPTIONS interval for URI routes (trunk routes use the trunk's keepalive).
    #[serde(default = "default_keepalive")]
    pub keepalive_secs: u32,
}

/// Parses `"08:30-17:15"` into minutes of the day [start, end).
pub fn parse_hours(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: expected HH:MM-HH:MM (Japan time)");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let hm = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    Ok((hm(a).ok_or_else(bad)?, hm(b).ok_or_else(bad)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_example_parses_and_hides_the_password() {
        #[derive(Deserialize)]
        struct F {
            trunk: Vec<TrunkConfig>,
        }
        let f: F = toml::from_str(
            r#"
[[trunk]]
name = "carrier"
proxy = "127.0.0.1:5080"     # where requests to the carrier go (host:port or a sip: URI)
username = "0462000000"
password = "s3cret-carrier"
register = true              # false: static peering from the proxy's address
dids = ["0462000000"]        # numbers it delivers
caller_id = "0462000000"     # what outbound calls present
"#,
        )
        .unwrap();
        let t = &f.trunk[0];
        t.check().unwrap();
        assert!(t.registers());
        assert_eq!(t.proxy_addr().unwrap(), "127.0.0.1:5080".parse().unwrap());
        assert_eq!(t.domain(), "127.0.0.1:5080");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(t.allows("127.0.0.1".parse().unwrap()));
        assert!(!t.allows("127.0.0.2".parse().unwrap()));
    }

    #[test]
    fn proxies() {
        assert_eq!(
            parse_proxy("sip:192.0.2.1;transport=udp").unwrap(),
            "192.0.2.1:5060".parse().unwrap()
        );
        assert_eq!(
            parse_proxy("sip:[::1]:5070").unwrap(),
            "[::1]:5070".parse().unwrap()
        );
        assert!(parse_proxy("carrier.example:5060").is_err());
    }

    #[test]
    fn bad_config_names_the_key_not_the_password() {
        let t = TrunkConfig {
            name: "c".into(),
            proxy: "127.0.0.1:5080".into(),
            username: "u".into(),
            password: Secret::new("hunter2"),
            register: None,
            domain: None,
            expires: 3600,
            dids: vec!["12345".into()],
            caller_id: String::new(),
            allow: vec![],
            did_from: DidSource::RequestUri,
            identity: IdentityHeader::Pai,
            number_format: NumberFormat::National,
            keepalive_secs: 30,
            retry_secs: 30,
        };
        let e = t.check().unwrap_err().to_string();
        assert!(e.starts_with("trunk \"c\": dids:"), "{e}");
        assert!(!e.contains("hunter2"));
        assert_eq!(parse_hours("08:30-17:15").unwrap(), (510, 1035));
        assert!(parse_hours("8-17").is_err());
    }
}
