//! The WebRTC side of a leg: a sans-IO wrapper around one str0m [`Rtc`] in RTP mode.
//!
//! A browser's media arrives as ICE/STUN, DTLS and SRTP on the leg's one UDP port
//! (rtcp-mux, BUNDLE). str0m answers the STUN checks (ICE-lite: the browser checks, we
//! answer; our only candidate is the leg's host address, no STUN/TURN), runs DTLS-SRTP and
//! hands us the decrypted RTP. In RTP mode it never decodes audio: we get G.711 packets and
//! give it G.711 packets, so the rest of the leg (jitter buffer, digits, bridge, recording)
//! is the same as for a plain RTP leg. Only PCMU and PCMA are enabled (no Opus, no
//! transcoding); browser keys come by SIP INFO (str0m has no RFC 4733).
//!
//! [`WebRtc`] is fed datagrams and time and polled for what to send, so it is tested with
//! two in-process peers on a synthetic clock (`webrtc_tests.rs`).

use crate::MediaError;
use madoguchi_media::g711::Law;
use madoguchi_media::sdp::{Direction, Negotiated, SdpError};
use std::net::SocketAddr;
use std::time::Instant;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction as RtcDirection, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// What a WebRTC leg puts in [`Negotiated::remote`]: the browser is reached through ICE, not
/// at an SDP address (`c=IN IP4 0.0.0.0`, port 9 as in every WebRTC SDP).
pub const WEBRTC_REMOTE: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 9);

/// Whether an SDP body is a WebRTC one (DTLS-SRTP profile), i.e. needs a [`WebRtc`] session.
pub fn is_webrtc_sdp(sdp: &str) -> bool {
    sdp.lines().any(|l| {
        l.starts_with("m=audio") && (l.contains("UDP/TLS/RTP/SAVP") || l.contains("RTP/SAVPF"))
    })
}

/// Something the session wants done.
#[derive(Debug, PartialEq, Eq)]
pub enum WebRtcOut {
    /// Send this datagram from the leg's socket.
    Transmit(SocketAddr, Vec<u8>),
    /// A decrypted RTP packet from the browser (12-byte header + payload).
    Rtp(Vec<u8>),
    /// ICE and DTLS are up: media flows.
    Connected,
    /// ICE gave up (consent lost); the browser is gone.
    Disconnected,
}

/// One WebRTC media session (one browser), sans-IO.
pub struct WebRtc {
    rtc: Rtc,
    local: SocketAddr,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    /// The outstanding offer's text: a fork to several browsers sends them all the same
    /// offer, and the first answer takes it.
    offer_text: Option<String>,
    law: Law,
    pt: u8,
    next_timeout: Option<Instant>,
    /// Highest extended sequence number written (str0m wants extended numbers).
    seq_ext: Option<u64>,
    /// Datagrams str0m did not take (not ours: other address, not STUN/DTLS/SRTP).
    pub refused: u64,
}

impl std::fmt::Debug for WebRtc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtc")
            .field("local", &self.local)
            .field("mid", &self.mid)
            .field("pt", &self.pt)
            .finish()
    }
}

fn rtc_config(law: Law, lite: bool) -> RtcConfig {
    let cfg = RtcConfig::new()
        .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()))
        .set_ice_lite(lite)
        .set_rtp_mode(true)
        .clear_codecs();
    match law {
        Law::Ulaw => cfg.enable_pcmu(true),
        Law::Alaw => cfg.enable_pcma(true),
    }
}

fn law_in(sdp: &str, law: Law) -> bool {
    let (name, pt) = match law {
        Law::Ulaw => ("PCMU/8000", " 0"),
        Law::Alaw => ("PCMA/8000", " 8"),
    };
    sdp.lines().any(|l| {
        (l.starts_with("a=rtpmap:") && l.to_ascii_uppercase().contains(name))
            || (l.starts_with("m=audio") && (l.ends_with(pt) || l.contains(&format!("{pt} "))))
    })
}

fn bad_sdp(what: impl std::fmt::Display) -> MediaError {
    MediaError::WebRtc(what.to_string())
}

impl WebRtc {
    /// A session for the leg bound at `local` (the only host candidate), answering offers
    /// (`lite` = ICE-lite, what the host always is; the tests' browser stand-in is full ICE).
    pub fn new(local: SocketAddr, law: Law, lite: bool, now: Instant) -> Result<Self, MediaError> {
        let mut rtc = rtc_config(law, lite).build(now);
        let cand = Candidate::host(local, "udp").map_err(bad_sdp)?;
        rtc.add_local_candidate(cand);
        Ok(WebRtc {
            rtc,
            local,
            mid: None,
            pending: None,
            offer_text: None,
            law,
            pt: match law {
                Law::Ulaw => 0,
                Law::Alaw => 8,
            },
            next_timeout: Some(now),
            seq_ext: None,
            refused: 0,
        })
    }

    /// The first of `prefs` that a browser's offer carries.
    pub fn pick_law(offer: &str, prefs: &[Law]) -> Result<Law, MediaError> {
        prefs
            .iter()
            .copied()
            .find(|l| law_in(offer, *l))
            .ok_or(MediaError::Sdp(SdpError::NoCommonCodec))
    }

    /// Answer a browser's offer (first INVITE or a re-INVITE: hold, resume, ICE restart).
    pub fn accept_offer(&mut self, offer: &str) -> Result<(String, Negotiated), MediaError> {
        let offer = SdpOffer::from_sdp_string(offer).map_err(bad_sdp)?;
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(bad_sdp)?;
        let answer = answer.to_sdp_string();
        if self.mid.is_none() {
            self.mid = audio_mid(&answer);
        }
        self.after_negotiation()?;
        Ok((answer, self.negotiated()?))
    }

    /// Our offer to a browser (a call to a WebSocket device).
    pub fn offer(&mut self) -> Result<String, MediaError> {
        if let (Some(_), Some(text)) = (&self.pending, &self.offer_text) {
            return Ok(text.clone());
        }
        let mut api = self.rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, RtcDirection::SendRecv, None, None, None);
        let (offer, pending) = api.apply().ok_or_else(|| bad_sdp("nothing to offer"))?;
        self.mid = Some(mid);
        self.pending = Some(pending);
        let text = offer.to_sdp_string();
        self.offer_text = Some(text.clone());
        Ok(text)
    }

    /// Whether an offer of ours waits for its answer.
    pub fn offering(&self) -> bool {
        self.pending.is_some()
    }

    /// The browser's answer to [`WebRtc::offer`].
    pub fn accept_answer(&mut self, answer: &str) -> Result<Negotiated, MediaError> {
        let pending = self.pending.take().ok_or(MediaError::NoOfferOutstanding)?;
        self.offer_text = None;
        let answer = SdpAnswer::from_sdp_string(answer).map_err(bad_sdp)?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(bad_sdp)?;
        self.after_negotiation()?;
        self.negotiated()
    }

    /// Drain the events negotiation produces (MediaAdded names the audio mid).
    fn after_negotiation(&mut self) -> Result<(), MediaError> {
        let mut out = Vec::new();
        self.poll(&mut out);
        if self.mid.is_none() {
            return Err(MediaError::Sdp(SdpError::NoAudio));
        }
        Ok(())
    }

    fn negotiated(&self) -> Result<Negotiated, MediaError> {
        let mid = self.mid.ok_or(MediaError::Sdp(SdpError::NoAudio))?;
        let media = self
            .rtc
            .media(mid)
            .ok_or(MediaError::Sdp(SdpError::NoAudio))?;
        if media.remote_pts().is_empty() {
            return Err(MediaError::Sdp(SdpError::NoCommonCodec));
        }
        let direction = match media.direction() {
            RtcDirection::SendRecv => Direction::SendRecv,
            RtcDirection::SendOnly => Direction::SendOnly,
            RtcDirection::RecvOnly => Direction::RecvOnly,
            RtcDirection::Inactive => Direction::Inactive,
        };
        Ok(Negotiated {
            codec: self.law,
            pt: self.pt,
            dtmf_pt: None,
            remote: WEBRTC_REMOTE,
            direction,
            ptime: 20,
            // DTLS-SRTP is str0m's business: the leg task sees plain RTP.
            srtp: None,
        })
    }

    /// When [`WebRtc::timeout`] wants to run next.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    /// Time passed.
    pub fn timeout(&mut self, now: Instant, out: &mut Vec<WebRtcOut>) {
        let _ = self.rtc.handle_input(Input::Timeout(now));
        self.poll(out);
    }

    /// A datagram on the leg's port. Returns false when it is not ours to take (a source that
    /// was never negotiated, or not STUN/DTLS/SRTP): the caller counts and drops it.
    pub fn receive(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        out: &mut Vec<WebRtcOut>,
    ) -> bool {
        let Ok(contents) = data.try_into() else {
            self.refused += 1;
            return false;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.local,
                contents,
            },
        );
        if !self.rtc.accepts(&input) || self.rtc.handle_input(input).is_err() {
            self.refused += 1;
            return false;
        }
        self.poll(out);
        true
    }

    /// Send one RTP packet we built (12-byte header, no CSRC/extension, then payload):
    /// str0m re-stamps it into its SSRC and encrypts it.
    pub fn send_rtp(&mut self, now: Instant, packet: &[u8], out: &mut Vec<WebRtcOut>) -> bool {
        if packet.len() < 12 || !self.rtc.is_connected() {
            return false;
        }
        let Some(mid) = self.mid else { return false };
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let ext = match self.seq_ext {
            None => seq as u64,
            Some(prev) => {
                let diff = seq.wrapping_sub(prev as u16) as i16 as i64;
                (prev as i64 + diff).max(0) as u64
            }
        };
        self.seq_ext = Some(self.seq_ext.map_or(ext, |p| p.max(ext)));
        let marker = packet[1] & 0x80 != 0;
        let pt = packet[1] & 0x7f;
        let payload = packet[12..].to_vec();
        let written = match self.rtc.direct_api().stream_tx_by_mid(mid, None) {
            Some(tx) => {
                tx.write_rtp(
                    RtpWrite::new(pt.into(), SeqNo::from(ext), ts, now, payload).marker(marker),
                );
                true
            }
            None => false,
        };
        self.poll(out);
        written
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.rtc.is_connected()
    }

    /// Drain str0m's outputs until it wants time to pass.
    pub fn poll(&mut self, out: &mut Vec<WebRtcOut>) {
        // Bounded: str0m returns a Timeout once it has nothing more to say.
        for _ in 0..10_000 {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = Some(t);
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    out.push(WebRtcOut::Transmit(t.destination, t.contents.to_vec()))
                }
                Ok(Output::Event(e)) => match e {
                    Event::MediaAdded(m) if m.kind == MediaKind::Audio && self.mid.is_none() => {
                        self.mid = Some(m.mid);
                    }
                    Event::Connected => out.push(WebRtcOut::Connected),
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        out.push(WebRtcOut::Disconnected)
                    }
                    Event::RtpPacket(p) => {
                        let mut b = Vec::with_capacity(12 + p.payload.len());
                        b.push(0x80);
                        b.push(*p.header.payload_type | ((p.header.marker as u8) << 7));
                        b.extend_from_slice(&p.header.sequence_number.to_be_bytes());
                        b.extend_from_slice(&p.header.timestamp.to_be_bytes());
                        b.extend_from_slice(&(*p.header.ssrc).to_be_bytes());
                        b.extend_from_slice(&p.payload);
                        out.push(WebRtcOut::Rtp(b));
                    }
                    _ => {}
                },
                Err(e) => {
                    tracing::debug!(error = %e, "webrtc session error");
                    self.next_timeout = None;
                    out.push(WebRtcOut::Disconnected);
                    return;
                }
            }
        }
    }
}

/// The `a=mid:` of the audio section.
fn audio_mid(sdp: &str) -> Option<Mid> {
    let mut in_audio = false;
    for l in sdp.lines() {
        if l.starts_with("m=") {
            in_audio = l.starts_with("m=audio");
        } else if in_audio {
            if let Some(m) = l.strip_prefix("a=mid:") {
                return Some(Mid::from(m.trim()));
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "webrtc_tests.rs"]
mod tests;
