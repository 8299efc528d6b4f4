//! What a leg reports: events and statistics.

use madoguchi_media::bridge::RelayStats;
use madoguchi_media::dtmf::DigitEvent;
use madoguchi_media::jitter::JitterStats;
use madoguchi_media::rtp::LegStats as RtpStats;
use serde::Serialize;
use std::net::SocketAddr;

/// Identifies one [`crate::Leg::play`] / [`crate::Leg::music_on_hold`] request in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PlayId(pub u64);

/// Something the call control should know about a leg.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegEvent {
    /// A key press, de-duplicated across RFC 4733, in-band tones and SIP INFO.
    Digit(DigitEvent),
    /// Every prompt of the request was played to the end.
    PlayFinished(PlayId),
    /// A key press stopped the request (barge-in).
    PlayInterrupted(PlayId),
    /// [`crate::Leg::stop_playback`], a new music on hold, or a bridge removed the request.
    PlayStopped(PlayId),
    /// We latched onto this source address (first packet, or a NAT rebinding):
    /// our RTP goes there from now on.
    RemoteLatched(SocketAddr),
    /// No RTP from the peer for `rtp_timeout` although it should be sending.
    /// Reported once per silence; the call control usually hangs up.
    RtpTimeout,
    /// RTP came back after an [`LegEvent::RtpTimeout`].
    RtpResumed,
    /// The other leg of a bridge went away; this leg plays its idle fill again.
    BridgePeerGone,
}

/// Statistics of one leg, for the call record (`serde`-serialisable).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LegStats {
    /// Receive side as the media core counts it (loss, jitter, duplicates, SSRC changes, RTCP).
    pub rtp: RtpStats,
    /// Jitter buffer of the recorded / DTMF-analysed audio (gaps = lost 20 ms frames).
    pub jitter: JitterStats,
    /// Datagrams that arrived before media was negotiated.
    pub early: u64,
    /// Datagrams too short or not RTP version 2.
    pub malformed: u64,
    /// RTP with a payload type we did not negotiate (dropped before latching).
    pub wrong_payload_type: u64,
    /// Valid-looking RTP from an address other than the latched peer.
    pub unexpected_source: u64,
    /// RTP from the peer's address with an SSRC that did not take over (flood, stray stream).
    pub foreign_ssrc: u64,
    /// Where we send (latched or from the SDP).
    pub remote: Option<SocketAddr>,
    /// RTP packets we sent (prompts, idle fill and relayed).
    pub sent: u64,
    /// Sends the kernel refused (buffer full, unreachable); the packet is lost, the call goes on.
    pub send_errors: u64,
    /// Pacer: sends recorded.
    pub paced: u64,
    /// Pacer: median send-time error (early or late) against the drift-free schedule, microseconds.
    pub pace_p50_us: u64,
    /// Pacer: 99th percentile send-time error, microseconds.
    pub pace_p99_us: u64,
    /// Pacer: worst send-time error, microseconds.
    pub pace_max_us: u64,
    /// Pacer: packets skipped after a stall (stream kept on schedule).
    pub pace_skipped: u64,
    /// Digits dropped as duplicates of another source's digit.
    pub digits_suppressed: u64,
    /// Events dropped because nobody read the event queue.
    pub events_dropped: u64,
    /// Relayed to the bridged leg: dropped because its queue was full.
    pub bridge_dropped: u64,
    /// Relay into this leg (packets from the bridged peer).
    pub relay: RelayStats,
    /// SRTP legs: packets whose authentication or replay check failed (dropped).
    pub srtp_failed: u64,
    /// SRTP legs: whether this leg's media is encrypted (SDES).
    pub srtp: bool,
}
