//! Offer/answer (RFC 3264) for one audio stream: G.711 + telephone-event.

use super::crypto::{self, CryptoAttr, CryptoSuite, KeySalt, SrtpParams, SrtpPolicy};
use super::parse::{Attribute, Connection, Direction, MediaDescription, Origin, Sdp, SdpError};
use crate::g711::Law;
use std::net::{IpAddr, SocketAddr};

/// Our side's wishes for a negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPrefs {
    /// Acceptable codecs, most preferred first. Japan's PSTN is μ-law, hence PCMU first by default.
    pub codecs: Vec<Law>,
    /// Payload type to offer for telephone-event (RFC 4733); `None` = no RFC 4733.
    pub dtmf_pt: Option<u8>,
    /// Packetisation time we ask for and send with (ms).
    pub ptime: u32,
    /// Our direction (sendrecv normally, sendonly to put the peer on hold).
    pub direction: Direction,
    /// `o=` session id (stable for the dialog).
    pub session_id: u64,
    /// `o=` version; the caller increments it for every changed re-offer.
    pub session_version: u64,
    /// SDES-SRTP (RFC 4568): accept it when offered; with `Required`, refuse plain RTP and
    /// offer `RTP/SAVP`.
    pub srtp: SrtpPolicy,
    /// Our SRTP master key and salt (stable for the leg: re-answers keep it).
    pub srtp_key: KeySalt,
}

impl Default for MediaPrefs {
    fn default() -> Self {
        MediaPrefs {
            codecs: vec![Law::Ulaw, Law::Alaw],
            dtmf_pt: Some(101),
            ptime: 20,
            direction: Direction::SendRecv,
            session_id: rand::random::<u32>() as u64,
            session_version: 1,
            srtp: SrtpPolicy::Optional,
            srtp_key: crypto::new_key(),
        }
    }
}

/// Result of a negotiation, from our point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Codec both sides use.
    pub codec: Law,
    /// Payload type for that codec.
    pub pt: u8,
    /// Telephone-event payload type, if both support RFC 4733.
    pub dtmf_pt: Option<u8>,
    /// Where to send RTP (RTCP goes to port + 1 unless rtcp-mux).
    pub remote: SocketAddr,
    /// Whether we send and/or receive.
    pub direction: Direction,
    /// Packetisation time to send with (ms).
    pub ptime: u32,
    /// SDES-SRTP keys when the stream is `RTP/SAVP`; None for plain RTP.
    pub srtp: Option<SrtpParams>,
}

fn is_avp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case("RTP/AVP") || proto.eq_ignore_ascii_case("RTP/AVPF")
}

/// An audio line's security: plain, SDES-SRTP with the line we would answer, or unusable
/// (`RTP/SAVP` without a crypto line we support, or another profile such as DTLS-SRTP).
enum Security {
    Plain,
    Sdes(CryptoAttr),
    Unusable,
}

fn security(m: &MediaDescription) -> Security {
    if is_avp(&m.proto) {
        return Security::Plain;
    }
    if crypto::is_savp(&m.proto) {
        if let Some(c) = crypto::choose(&crypto::crypto_attrs(m)) {
            return Security::Sdes(c.clone());
        }
    }
    Security::Unusable
}

/// Payload type under which `m` offers `law` (static PT or a matching rtpmap).
fn find_codec(m: &MediaDescription, law: Law) -> Option<u8> {
    m.payload_types().find(|&pt| find_codec_pt(m, law, pt))
}

fn find_dtmf(m: &MediaDescription) -> Option<u8> {
    m.payload_types().find(|&pt| {
        m.rtpmap(pt).is_some_and(|(name, rate)| {
            name.eq_ignore_ascii_case("telephone-event") && rate == 8000
        })
    })
}

fn sane_ptime(p: Option<u32>, default: u32) -> u32 {
    match p {
        Some(p) if (10..=60).contains(&p) && p % 10 == 0 => p,
        _ => default,
    }
}

fn attr(name: &str, value: Option<String>) -> Attribute {
    Attribute {
        name: name.to_owned(),
        value,
    }
}

fn audio_section(
    port: u16,
    codecs: &[(Law, u8)],
    dtmf_pt: Option<u8>,
    ptime: u32,
    dir: Direction,
    sdes: Option<CryptoAttr>,
) -> MediaDescription {
    let mut formats: Vec<String> = codecs.iter().map(|(_, pt)| pt.to_string()).collect();
    let mut attributes: Vec<Attribute> = codecs
        .iter()
        .map(|(law, pt)| attr("rtpmap", Some(format!("{pt} {}/8000", law.encoding_name()))))
        .collect();
    if let Some(pt) = dtmf_pt {
        formats.push(pt.to_string());
        attributes.push(attr("rtpmap", Some(format!("{pt} telephone-event/8000"))));
        attributes.push(attr("fmtp", Some(format!("{pt} 0-16"))));
    }
    attributes.push(attr("ptime", Some(ptime.to_string())));
    attributes.push(attr(dir.as_str(), None));
    let proto = if sdes.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    if let Some(c) = sdes {
        attributes.push(attr("crypto", Some(c.to_value())));
    }
    MediaDescription {
        media: "audio".into(),
        port,
        proto: proto.into(),
        formats,
        connection: None,
        attributes,
    }
}

fn session(local_addr: IpAddr, prefs: &MediaPrefs, media: Vec<MediaDescription>) -> Sdp {
    Sdp {
        origin: Origin {
            username: "madoguchi".into(),
            session_id: prefs.session_id,
            session_version: prefs.session_version,
            address: local_addr,
        },
        session_name: "madoguchi".into(),
        connection: Some(Connection {
            address: local_addr,
        }),
        attributes: Vec::new(),
        media,
    }
}

/// SDP offer for a call we originate (or a re-offer, e.g. hold via
/// `prefs.direction = SendOnly` and an incremented `session_version`).
pub fn offer(local_addr: IpAddr, local_port: u16, prefs: &MediaPrefs) -> Sdp {
    let codecs: Vec<(Law, u8)> = prefs
        .codecs
        .iter()
        .map(|&l| (l, l.payload_type()))
        .collect();
    let sdes = (prefs.srtp == SrtpPolicy::Required).then_some(CryptoAttr {
        tag: 1,
        suite: CryptoSuite::AesCm128HmacSha1_80,
        key: prefs.srtp_key,
    });
    let m = audio_section(
        local_port,
        &codecs,
        prefs.dtmf_pt,
        prefs.ptime,
        prefs.direction,
        sdes,
    );
    session(local_addr, prefs, vec![m])
}

/// What the peer's SDP says about where and how we send, from our side.
fn remote_direction(sdp: &Sdp, m: &MediaDescription, ip: IpAddr) -> Direction {
    let mut theirs = sdp.direction(m);
    if ip.is_unspecified() {
        // RFC 2543-style hold: c=0.0.0.0 means "do not send to me".
        theirs = theirs.intersect(Direction::SendOnly);
    }
    theirs.reversed()
}

/// Answer an offer: pick the first of our codecs that the offer contains,
/// keep the offerer's payload type numbers, reject (port 0) every other
/// media section. `NoAudio`/`NoCommonCodec` map to SIP 488.
pub fn answer(
    offer: &Sdp,
    local_addr: IpAddr,
    local_port: u16,
    prefs: &MediaPrefs,
) -> Result<(Sdp, Negotiated), SdpError> {
    let mut chosen: Option<(usize, Law, u8, Option<CryptoAttr>)> = None;
    let mut saw_audio = false;
    let mut refused_plain = false;
    for (i, m) in offer.media.iter().enumerate() {
        if !m.media.eq_ignore_ascii_case("audio") || m.port == 0 {
            continue;
        }
        let sdes = match security(m) {
            Security::Unusable => continue,
            Security::Plain if prefs.srtp == SrtpPolicy::Required => {
                refused_plain = true;
                continue;
            }
            Security::Plain => None,
            Security::Sdes(c) => Some(c),
        };
        saw_audio = true;
        if let Some((law, pt)) = prefs
            .codecs
            .iter()
            .find_map(|&l| find_codec(m, l).map(|pt| (l, pt)))
        {
            chosen = Some((i, law, pt, sdes));
            break;
        }
    }
    let (index, codec, pt, sdes) = chosen.ok_or(if saw_audio {
        SdpError::NoCommonCodec
    } else if refused_plain {
        SdpError::SrtpRequired
    } else {
        SdpError::NoAudio
    })?;
    let srtp = sdes.as_ref().map(|c| SrtpParams {
        suite: c.suite,
        tag: c.tag,
        local: prefs.srtp_key,
        remote: c.key,
    });
    let our_sdes = sdes.map(|c| CryptoAttr {
        key: prefs.srtp_key,
        ..c
    });
    let m = &offer.media[index];
    let ip = offer.connection_for(m).ok_or(SdpError::NoConnection)?;
    let dtmf_pt = prefs.dtmf_pt.and(find_dtmf(m));
    let direction = prefs.direction.intersect(remote_direction(offer, m, ip));
    let ptime = sane_ptime(m.ptime(), prefs.ptime);

    let media = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, om)| {
            if i == index {
                audio_section(
                    local_port,
                    &[(codec, pt)],
                    dtmf_pt,
                    ptime,
                    direction,
                    our_sdes.clone(),
                )
            } else {
                MediaDescription {
                    media: om.media.clone(),
                    port: 0,
                    proto: om.proto.clone(),
                    formats: om.formats.clone(),
                    connection: None,
                    attributes: Vec::new(),
                }
            }
        })
        .collect();
    let negotiated = Negotiated {
        codec,
        pt,
        dtmf_pt,
        remote: SocketAddr::new(ip, m.port),
        direction,
        ptime,
        srtp,
    };
    Ok((session(local_addr, prefs, media), negotiated))
}

/// Process the answer to an offer we made with `prefs`.
pub fn accept_answer(answer: &Sdp, prefs: &MediaPrefs) -> Result<Negotiated, SdpError> {
    let m = answer
        .media
        .iter()
        .find(|m| {
            m.media.eq_ignore_ascii_case("audio")
                && m.port != 0
                && (is_avp(&m.proto) || crypto::is_savp(&m.proto))
        })
        .ok_or(SdpError::NoAudio)?;
    // We offered SRTP only when it is required: the answer must keep it, with our suite.
    let srtp = match (prefs.srtp, security(m)) {
        (SrtpPolicy::Required, Security::Sdes(c)) => Some(SrtpParams {
            suite: c.suite,
            tag: c.tag,
            local: prefs.srtp_key,
            remote: c.key,
        }),
        (SrtpPolicy::Required, _) => return Err(SdpError::SrtpRequired),
        (SrtpPolicy::Optional, Security::Plain) => None,
        (SrtpPolicy::Optional, _) => return Err(SdpError::NoAudio),
    };
    // The answerer lists its choice first; take the first format we offered.
    let (codec, pt) = m
        .payload_types()
        .find_map(|pt| {
            prefs
                .codecs
                .iter()
                .find(|&&l| find_codec_pt(m, l, pt))
                .map(|&l| (l, pt))
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let ip = answer.connection_for(m).ok_or(SdpError::NoConnection)?;
    let dtmf_pt = prefs.dtmf_pt.and(find_dtmf(m));
    Ok(Negotiated {
        codec,
        pt,
        dtmf_pt,
        remote: SocketAddr::new(ip, m.port),
        direction: prefs.direction.intersect(remote_direction(answer, m, ip)),
        ptime: sane_ptime(m.ptime(), prefs.ptime),
        srtp,
    })
}

fn find_codec_pt(m: &MediaDescription, law: Law, pt: u8) -> bool {
    match m.rtpmap(pt) {
        Some((name, rate)) => name.eq_ignore_ascii_case(law.encoding_name()) && rate == 8000,
        None => pt == law.payload_type(),
    }
}
