//! Server configuration: a TOML file, overridden by command-line flags.
//!
//! Every listener is bound to an address the admin names (R-PBX-1: one on the city-LAN
//! address, one on the carrier-facing address) and carries its own allow-list of source
//! networks. Nothing is contacted outside unless configured: there is no STUN setting at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default, rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    #[serde(default)]
    pub registrar: RegistrarSection,
    #[serde(default)]
    pub sip: SipSection,
    #[serde(default)]
    pub media: MediaSection,
    #[serde(default)]
    pub services: ServicesSection,
    /// `[[queue]]`: call queues (ACD) the IVR can transfer to (`{"queue": "name"}`).
    #[serde(default, rename = "queue")]
    pub queues: Vec<madoguchi_acd::QueueConfig>,
    /// `[tls]`: the certificate of `tls` listeners and HTTPS (self-signed when unset).
    #[serde(default)]
    pub tls: crate::tls_config::TlsSection,
    /// `[[trunk]]`: SIP trunks to the carrier (and other trunk destinations).
    #[serde(default, rename = "trunk")]
    pub trunks: Vec<madoguchi_trunk::TrunkConfig>,
    /// `[[outbound]]`: which trunk carries users' calls to outside numbers.
    #[serde(default)]
    pub outbound: Vec<madoguchi_trunk::OutboundRule>,
    /// `[[onnet]]`: city numbers reached on the city network, never through the carrier.
    #[serde(default)]
    pub onnet: Vec<madoguchi_trunk::OnNetRoute>,
    /// `[callcenter]`: `external: callcenter` as routes with failover.
    #[serde(default)]
    pub callcenter: Option<madoguchi_trunk::CallCenterConfig>,
    #[serde(default)]
    pub security: crate::protect::SecuritySection,
    #[serde(default)]
    pub recordings: crate::protect::RecordingsSection,
    #[serde(default)]
    pub limits: crate::limits::LimitsSection,
    /// `[observe]`: health/ready address, disk threshold, SIP trace limits.
    #[serde(default)]
    pub observe: crate::observe::ObserveSection,
}

/// `[services]`: numbers the host answers itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesSection {
    /// Line test: tone, a beep per key, keys logged in order (empty string = off).
    #[serde(default = "default_line_test")]
    pub line_test: String,
    /// Queue members log in or out of all their queues by dialling this (empty = off).
    #[serde(default = "default_queue_login")]
    pub queue_login: String,
    /// Queue members pause or resume by dialling this (empty = off).
    #[serde(default = "default_queue_pause")]
    pub queue_pause: String,
}

fn default_queue_login() -> String {
    "*45".into()
}

fn default_queue_pause() -> String {
    "*46".into()
}

impl Default for ServicesSection {
    fn default() -> Self {
        ServicesSection {
            line_test: default_line_test(),
            queue_login: default_queue_login(),
            queue_pause: default_queue_pause(),
        }
    }
}

fn default_line_test() -> String {
    "*97".into()
}

/// `[media]`: RTP anchored in the host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// Relay RTP through the host (needed to record calls, play prompts and transcode).
    /// Off: SDP passes end to end and calls are not recorded.
    #[serde(default = "default_true")]
    pub anchor: bool,
    /// RTP/RTCP port range on the listener addresses; bounds the concurrent call legs.
    #[serde(default = "default_rtp_min")]
    pub rtp_port_min: u16,
    #[serde(default = "default_rtp_max")]
    pub rtp_port_max: u16,
    /// SDES-SRTP (RFC 4568) for every call: "optional" (the default: SRTP when a phone
    /// offers it, plain RTP otherwise) or "required" (a plain offer gets 488).
    #[serde(default)]
    pub srtp: madoguchi_media::sdp::SrtpPolicy,
    /// Users whose calls must be encrypted: their phones' plain offers and plain offers to
    /// them get 488, and their phones are offered RTP/SAVP.
    #[serde(default)]
    pub srtp_required_users: Vec<String>,
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            anchor: true,
            rtp_port_min: default_rtp_min(),
            rtp_port_max: default_rtp_max(),
            srtp: Default::default(),
            srtp_required_users: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_rtp_min() -> u16 {
    20000
}
fn default_rtp_max() -> u16 {
    29999
}

/// `[sip]`: protocol engine limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// Live transactions at most; beyond it new requests get 503. Completed transactions
    /// stay 32 s on UDP (RFC 3261 timers J/K/L/M), so a steady 1,000 calls/s needs ~100k;
    /// each costs about 3 KB.
    #[serde(default = "default_max_transactions")]
    pub max_transactions: usize,
    /// Sources that may call extensions without digest authentication (a trunk or gateway
    /// that sends calls for staff, this host). Everyone else reaches only public numbers
    /// (scenario DIDs, service codes) unless it authenticates as a local user, so scanners
    /// cannot tell which extensions exist. The listeners' own addresses are always trusted.
    #[serde(default = "default_trusted_sources")]
    pub trusted_sources: Vec<IpNet>,
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            max_transactions: default_max_transactions(),
            trusted_sources: default_trusted_sources(),
        }
    }
}

fn default_trusted_sources() -> Vec<IpNet> {
    ["127.0.0.1/32", "::1/128"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

fn default_max_transactions() -> usize {
    300_000
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Where the redb store, recordings and plugin artifacts live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Admin API / console address.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
    /// Digest realm presented to phones.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Value of the User-Agent/Server header we send. No version by default: a scanner
    /// learns nothing it could match against a list of known bugs.
    #[serde(default = "default_agent")]
    pub user_agent: String,
    /// Digest algorithms offered, most preferred first: "SHA-256", "MD5". The default is
    /// MD5 alone: Debian's baresip 1.0 fails a 401 that carries any SHA-256 challenge and
    /// sipp answers only MD5 (README, "Phones and digest algorithms").
    #[serde(default = "default_digest")]
    pub digest_algorithms: Vec<String>,
    /// Admin API / console over HTTPS on this address as well (certificate from `[tls]`).
    #[serde(default)]
    pub https: Option<SocketAddr>,
}

/// `[[listener]]`: one SIP socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// A name for logs and metrics, e.g. "city-lan" or "carrier".
    #[serde(default)]
    pub name: String,
    pub transport: TransportKind,
    pub address: SocketAddr,
    /// Source networks allowed to send to this listener. Empty = loopback only, so a
    /// forgotten allow-list fails closed rather than open.
    #[serde(default)]
    pub allow: Vec<IpNet>,
    /// `tls` listeners: certificate chain and private key (PEM files); `[tls]`'s, else the
    /// self-signed one in the data directory, when unset. Reloaded when the files change.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// `[registrar]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    /// Devices one user may register at once (browser, smartphone, desk phone, …).
    #[serde(default = "default_max_contacts")]
    pub max_contacts: usize,
    #[serde(default = "default_expires")]
    pub default_expires: u32,
    #[serde(default = "default_min_expires")]
    pub min_expires: u32,
    #[serde(default = "default_max_expires")]
    pub max_expires: u32,
    /// Password-guessing protection.
    #[serde(default)]
    pub guard: GuardSection,
}

/// `[registrar.guard]`: failed digest answers from one source are answered ever more slowly,
/// then ignored for a while. The defaults suit a city LAN; tests shorten the delays.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardSection {
    /// Failures (within `window_minutes`) answered at once; later refusals are delayed.
    pub delay_after: u32,
    /// The failure (within `window_minutes`) that blocks the source: it is not answered.
    pub block_after: u32,
    /// The first delay; it doubles with each further failure up to `max_delay_ms`.
    pub first_delay_ms: u64,
    pub max_delay_ms: u64,
    pub window_minutes: u64,
    /// How long a blocked source gets no answer at all.
    pub block_minutes: u64,
}

impl Default for GuardSection {
    fn default() -> Self {
        let g = madoguchi_sip::guard::GuardConfig::default();
        GuardSection {
            delay_after: g.delay_after,
            block_after: g.block_after,
            first_delay_ms: g.base_delay_ms,
            max_delay_ms: g.max_delay_ms,
            window_minutes: g.window_ms / 60_000,
            block_minutes: g.block_ms / 60_000,
        }
    }
}

impl GuardSection {
    /// The guard machine's settings.
    pub fn guard_config(&self) -> madoguchi_sip::guard::GuardConfig {
        madoguchi_sip::guard::GuardConfig {
            window_ms: self.window_minutes.saturating_mul(60_000),
            delay_after: self.delay_after,
            block_after: self.block_after,
            base_delay_ms: self.first_delay_ms,
            max_delay_ms: self.max_delay_ms,
            block_ms: self.block_minutes.saturating_mul(60_000),
            ..madoguchi_sip::guard::GuardConfig::default()
        }
    }
}

/// SIP transport of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Udp,
    Tcp,
    /// SIP over WebSocket (RFC 7118), for browser softphones.
    Ws,
    Tls,
    /// SIP over secure WebSocket: `ws` on TLS (the `tls` certificate).
    Wss,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_realm() -> String {
    "madoguchi".into()
}
fn default_agent() -> String {
    "madoguchi".into()
}
fn default_digest() -> Vec<String> {
    vec!["MD5".into()]
}
fn default_max_contacts() -> usize {
    10
}
fn default_expires() -> u32 {
    3600
}
fn default_min_expires() -> u32 {
    60
}
fn default_max_expires() -> u32 {
    7200
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            data_dir: default_data_dir(),
            http: default_http(),
            realm: default_realm(),
            user_agent: default_agent(),
            digest_algorithms: default_digest(),
            https: None,
        }
    }
}

impl Default for RegistrarSection {
    fn default() -> Self {
        RegistrarSection {
            max_contacts: default_max_contacts(),
            default_expires: default_expires(),
            min_expires: default_min_expires(),
            max_expires: default_max_expires(),
            guard: GuardSection::default(),
        }
    }
}

/// The dotted key (`listener.address`) whose `key = value` line holds byte `at`, for errors:
/// toml's own message names the key only for some errors.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

impl Config {
    /// Reads and checks a config file; errors name the file, line and key.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let Some(span) = e.span() else {
                return anyhow::anyhow!("{origin}: {}", e.message());
            };
            let start = span.start.min(text.len());
            let line = text[..start].matches('\n').count() + 1;
            match key_at(text, start) {
                Some(key) => anyhow::anyhow!("{origin}:{line}: {key}: {}", e.message()),
                None => anyhow::anyhow!("{origin}:{line}: {}", e.message()),
            }
        })?;
        cfg.check(origin)?;
        Ok(cfg)
    }

    /// Cross-field checks serde cannot express.
    pub fn check(&self, origin: &str) -> Result<()> {
        let r = &self.registrar;
        if r.max_contacts == 0 {
            bail!("{origin}: registrar.max_contacts must be at least 1");
        }
        let g = &r.guard;
        if g.delay_after == 0 || g.block_after <= g.delay_after {
            bail!("{origin}: registrar.guard: need 1 <= delay_after < block_after");
        }
        if g.first_delay_ms > g.max_delay_ms || g.window_minutes == 0 || g.block_minutes == 0 {
            bail!("{origin}: registrar.guard: need first_delay_ms <= max_delay_ms and window_minutes, block_minutes >= 1");
        }
        if r.min_expires > r.max_expires {
            bail!(
                "{origin}: registrar.min_expires ({}) is above registrar.max_expires ({})",
                r.min_expires,
                r.max_expires
            );
        }
        if self.server.digest_algorithms.is_empty() {
            bail!("{origin}: server.digest_algorithms must name at least one of SHA-256, MD5");
        }
        for a in &self.server.digest_algorithms {
            if madoguchi_sip::auth::Algorithm::from_token(a).is_none() {
                bail!(
                    "{origin}: server.digest_algorithms: unknown algorithm {a:?} (SHA-256 or MD5)"
                );
            }
        }
        if self.media.rtp_port_min >= self.media.rtp_port_max {
            bail!("{origin}: media.rtp_port_min must be below media.rtp_port_max");
        }
        self.tls.check(origin, &self.listeners)?;
        crate::trunks::check_config(self).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        let mut seen = std::collections::HashSet::new();
        for l in &self.listeners {
            if !seen.insert((l.transport, l.address)) {
                bail!(
                    "{origin}: listener {:?} {} is configured twice",
                    l.transport,
                    l.address
                );
            }
        }
        Ok(())
    }
}

/// Parses a `--sip udp:127.0.0.1:5060` flag into a listener open to loopback and to the
/// listener's own subnet (/24 or /64) — flags are for tests and quick starts; a config
/// file names its allow-lists exactly.
pub fn listener_from_flag(flag: &str) -> Result<ListenerConfig> {
    let (kind, addr) = flag.split_once(':').with_context(|| {
        format!("--sip {flag}: expected TRANSPORT:ADDRESS:PORT, e.g. udp:127.0.0.1:5060")
    })?;
    let transport = match kind {
        "udp" => TransportKind::Udp,
        "tcp" => TransportKind::Tcp,
        "ws" => TransportKind::Ws,
        "tls" => TransportKind::Tls,
        "wss" => TransportKind::Wss,
        other => bail!("--sip {flag}: unknown transport {other:?} (udp, tcp, tls, ws or wss)"),
    };
    let address: SocketAddr = addr
        .parse()
        .with_context(|| format!("--sip {flag}: {addr:?} is not an IP address and port"))?;
    let ip = address.ip();
    let mut allow: Vec<IpNet> = vec!["127.0.0.0/8".parse()?, "::1/128".parse()?];
    if !ip.is_loopback() && !ip.is_unspecified() {
        let prefix = if ip.is_ipv4() { 24 } else { 64 };
        allow.push(IpNet::new(ip, prefix)?.trunc());
    }
    Ok(ListenerConfig {
        name: format!("{kind}-{address}"),
        transport,
        address,
        allow,
        cert: None,
        key: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "[server]\nrealm = \"zama\"\nbogus = 1\n";
        let err = Config::parse(text, "madoguchi.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("madoguchi.toml:3:"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn bad_value_names_file_line_and_key() {
        let text = "[[listener]]\ntransport = \"udp\"\naddress = \"not-an-addr\"\n";
        let err = Config::parse(text, "x.toml").unwrap_err().to_string();
        assert!(err.starts_with("x.toml:3: listener.address:"), "{err}");
        let text = "[registrar] # devices\nmax_contacts = \"ten\"\n";
        let err = Config::parse(text, "y.toml").unwrap_err().to_string();
        assert!(
            err.starts_with("y.toml:2: registrar.max_contacts:"),
            "{err}"
        );
    }

    #[test]
    fn listeners_and_allow_lists_parse() {
        let text = r#"
[server]
data_dir = "/var/lib/madoguchi"
[[listener]]
name = "city-lan"
transport = "udp"
address = "127.0.0.1:5060"
allow = ["127.0.0.0/8", "::1/128"]
"#;
        let cfg = Config::parse(text, "t").unwrap();
        assert_eq!(cfg.listeners.len(), 1);
        assert_eq!(cfg.listeners[0].allow.len(), 2);
        assert_eq!(cfg.registrar.max_contacts, 10);
    }

    #[test]
    fn example_config_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/madoguchi.toml");
        let cfg = Config::load(std::path::Path::new(path)).unwrap();
        assert_eq!(cfg.listeners.len(), 2);
        assert_eq!(cfg.trunks.len(), 1);
        assert_eq!(cfg.outbound.len(), 2);
        assert_eq!(cfg.onnet.len(), 1);
        assert_eq!(cfg.callcenter.map(|c| c.routes.len()), Some(2));
    }

    #[test]
    fn flag_parses() {
        let l = listener_from_flag("tcp:127.0.0.1:5070").unwrap();
        assert_eq!(l.transport, TransportKind::Tcp);
        let lan = listener_from_flag("udp:10.77.0.1:5060").unwrap();
        let acl = crate::acl::Acl::new(&lan.allow);
        assert!(acl.allows("10.77.0.9".parse().unwrap()));
        assert!(acl.allows("127.0.0.1".parse().unwrap()));
        assert!(!acl.allows("10.78.0.9".parse().unwrap()));
        assert!(listener_from_flag("sctp:127.0.0.1:1").is_err());
        let tls = listener_from_flag("tls:127.0.0.1:5061").unwrap();
        assert_eq!(tls.transport, TransportKind::Tls);
        assert!(listener_from_flag("udp:localhost").is_err());
    }
}
