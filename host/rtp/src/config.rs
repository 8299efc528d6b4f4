//! Runtime configuration.

use crate::latch::FilterConfig;
use cap_std::fs::Dir;
use madoguchi_media::g711::Law;
use madoguchi_media::jitter::JitterConfig;
use madoguchi_media::prompt::IdleFill;
use madoguchi_media::recording::RecordingConfig;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Everything [`crate::MediaRuntime::new`] needs. Build with
/// [`MediaConfig::new`] and override fields.
#[derive(Debug)]
pub struct MediaConfig {
    /// RTP ports; every even port `p` with `p + 1` inside is one leg's
    /// RTP/RTCP pair, so the range bounds the number of concurrent legs.
    /// Keep it outside the kernel's ephemeral range
    /// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 on Linux),
    /// where outgoing sockets of any process may already sit; busy ports are skipped.
    pub rtp_ports: RangeInclusive<u16>,
    /// The recordings directory (capability: nothing outside it is reachable).
    pub recordings: Dir,
    /// No RTP from a peer that should be sending for this long => [`crate::LegEvent::RtpTimeout`]. Default 30 s.
    pub rtp_timeout: Duration,
    /// Address written into our SDP instead of the bound one (NAT / 0.0.0.0 binds).
    pub sdp_address: Option<IpAddr>,
    /// Codecs in preference order (default PCMU, PCMA: Japan's PSTN is μ-law).
    pub codecs: Vec<Law>,
    /// Payload type we offer for RFC 4733 (default 101; `None` = no RFC 4733).
    pub dtmf_pt: Option<u8>,
    /// What a leg sends when no prompt is queued (default comfort noise of peak 4,
    /// so phones and SBCs that drop "dead" calls keep the call).
    pub idle_fill: IdleFill,
    /// Jitter buffer of the audio we record and run in-band DTMF detection on.
    pub jitter: JitterConfig,
    /// Recording writer queue (bounded: the media path never waits for the disk).
    pub recording: RecordingConfig,
    /// How far behind real time the recording mixer emits (covers the jitter buffer). Default 300 ms.
    pub recording_latency: Duration,
    /// RTCP report interval. Default 5 s.
    pub rtcp_interval: Duration,
    /// Symmetric-RTP re-latch rules.
    pub source_filter: FilterConfig,
    /// Capacity of each leg's event queue; events beyond it are dropped and counted. Default 256.
    pub event_queue: usize,
    /// Capacity of each direction of a bridge, in packets; beyond it packets are dropped and counted. Default 64.
    pub bridge_queue: usize,
}

impl MediaConfig {
    /// Defaults for everything but the port range and the recordings directory.
    pub fn new(rtp_ports: RangeInclusive<u16>, recordings: Dir) -> Self {
        MediaConfig {
            rtp_ports,
            recordings,
            rtp_timeout: Duration::from_secs(30),
            sdp_address: None,
            codecs: vec![Law::Ulaw, Law::Alaw],
            dtmf_pt: Some(101),
            idle_fill: IdleFill::ComfortNoise(4),
            jitter: JitterConfig::default(),
            recording: RecordingConfig::default(),
            recording_latency: Duration::from_millis(300),
            rtcp_interval: Duration::from_secs(5),
            source_filter: FilterConfig::default(),
            event_queue: 256,
            bridge_queue: 64,
        }
    }
}

/// The per-leg part of the configuration, shared by every leg task.
#[derive(Debug, Clone)]
pub(crate) struct LegConfig {
    pub rtp_timeout: Duration,
    pub idle_fill: IdleFill,
    pub jitter: JitterConfig,
    pub recording_latency: Duration,
    pub rtcp_interval: Duration,
    pub source_filter: FilterConfig,
}
