//! The crate's one error type.

use madoguchi_media::dtmf::DtmfError;
use madoguchi_media::recording::RecordingError;
use madoguchi_media::sdp::SdpError;

/// Errors of the media runtime. Failures DURING a call (garbage packets,
/// a full disk under a recording, a slow peer) are never errors: they are
/// counted in [`crate::LegStats`] or reported in the recording summary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Every RTP/RTCP port pair of the configured range is in use.
    #[error("no free RTP port pair in the configured range")]
    PortsExhausted,
    /// The leg would bind to an unspecified address (0.0.0.0 / ::) and no
    /// `sdp_address` is configured: our SDP would say "do not send to me".
    #[error("bind address {0} is unspecified and no sdp_address is configured")]
    NoSdpAddress(std::net::IpAddr),
    /// The range holds no usable pair (an even RTP port whose RTCP port + 1 is also inside).
    #[error("RTP port range {0:?} holds no even/odd port pair")]
    EmptyPortRange(std::ops::RangeInclusive<u16>),
    /// Free ports existed but none could be bound (another process holds them, or the address is not local).
    #[error("could not bind an RTP/RTCP socket pair: {0}")]
    Bind(#[source] std::io::Error),
    /// The SDP was unusable. [`MediaError::is_not_acceptable`] tells the SIP side to answer 488.
    #[error("SDP: {0}")]
    Sdp(#[from] SdpError),
    /// The SDP body is not UTF-8.
    #[error("SDP body is not UTF-8")]
    SdpNotUtf8,
    /// `accept_answer` without a previous `offer`.
    #[error("no offer is outstanding on this leg")]
    NoOfferOutstanding,
    /// The operation needs negotiated media (answer or accept_answer first).
    #[error("leg {0} has no negotiated media yet")]
    NotNegotiated(String),
    /// A leg cannot be bridged with itself.
    #[error("a leg cannot be bridged with itself")]
    SameLeg,
    /// The leg's task has ended (closed, or the runtime shut down).
    #[error("leg {0} is closed")]
    LegClosed(String),
    /// The leg is already being recorded.
    #[error("leg {0} is already being recorded")]
    AlreadyRecording(String),
    /// A SIP INFO body that carries no usable digit.
    #[error("INFO body: {0}")]
    Dtmf(#[from] DtmfError),
    /// Creating the recording file, or repairing old ones at start-up, failed.
    #[error("recording: {0}")]
    Recording(#[from] RecordingError),
    /// A WebRTC offer or answer str0m refused (no DTLS fingerprint, no ICE credentials, …).
    #[error("WebRTC: {0}")]
    WebRtc(String),
}

impl MediaError {
    /// True for "no audio / no common codec": the SIP side answers 488 Not Acceptable Here.
    pub fn is_not_acceptable(&self) -> bool {
        matches!(
            self,
            MediaError::Sdp(SdpError::NoCommonCodec)
                | MediaError::Sdp(SdpError::NoAudio)
                | MediaError::Sdp(SdpError::SrtpRequired)
                | MediaError::WebRtc(_)
        )
    }
}
