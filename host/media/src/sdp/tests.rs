use super::*;
use crate::g711::Law;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.1.1\r\ns=-\r\nc=IN IP4 127.0.1.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

const BARESIP: &str = "v=0\r\no=- 1733400000 1733400001 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\na=tool:baresip 3.10.1\r\nm=audio 10004 RTP/AVP 96 9 0 8 101\r\nb=AS:96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\na=rtcp-rsize\r\na=label:1\r\n";

const CHROME: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 transport-cc\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n";

fn parse(s: &str) -> Sdp {
    Sdp::parse(s).unwrap()
}

#[test]
fn answers_sipp() {
    let (ans, n) = answer(&parse(SIPP), LOCAL, 20_000, &MediaPrefs::default()).unwrap();
    assert_eq!(n.codec, Law::Ulaw);
    assert_eq!(n.pt, 0);
    assert_eq!(n.dtmf_pt, None);
    assert_eq!(n.remote, "127.0.1.1:6000".parse::<SocketAddr>().unwrap());
    assert_eq!(n.direction, Direction::SendRecv);
    assert_eq!(n.ptime, 20);
    let text = ans.to_string();
    assert!(text.contains("m=audio 20000 RTP/AVP 0\r\n"), "{text}");
    assert!(text.contains("c=IN IP4 127.0.0.1\r\n"));
    assert!(!text.contains("telephone-event"));
    assert_eq!(Sdp::parse(&text).unwrap(), ans);
}

/// SIPp's uac_pcap.xml scenario (PCMA + telephone-event with a 0-11,16 range).
const SIPP_PCAP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n";

#[test]
fn answers_sipp_pcap_scenario() {
    let (ans, n) = answer(&parse(SIPP_PCAP), LOCAL, 20_004, &MediaPrefs::default()).unwrap();
    assert_eq!((n.codec, n.pt, n.dtmf_pt), (Law::Alaw, 8, Some(101)));
    assert!(ans.to_string().contains("m=audio 20004 RTP/AVP 8 101\r\n"));
}

#[test]
fn random_lines_never_panic() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let pieces = [
        "v=0",
        "o=- 1 1 IN IP4 1.2.3.4",
        "c=IN IP6 ::1",
        "m=audio 1 RTP/AVP 0",
        "a=rtpmap:",
        "a=rtpmap:0",
        "a=fmtp:101",
        "m=",
        "a=ptime:x",
        "c=IN",
        "=",
        "a",
        "m=audio 99999 RTP/AVP",
        "a=rtpmap:300 PCMU/8000",
    ];
    for _ in 0..5000 {
        let mut s = String::new();
        for _ in 0..(x % 9) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push_str(pieces[(x % pieces.len() as u64) as usize]);
            s.push_str(if x % 3 == 1 { "\n" } else { "\r\n" });
        }
        if let Ok(sdp) = Sdp::parse(&s) {
            let _ = answer(&sdp, LOCAL, 1, &MediaPrefs::default());
            let _ = accept_answer(&sdp, &MediaPrefs::default());
            let _ = sdp.to_string();
        }
    }
}

#[test]
fn answers_baresip_with_its_dtmf_pt_and_ignores_extras() {
    let prefs = MediaPrefs {
        codecs: vec![Law::Alaw, Law::Ulaw],
        ..Default::default()
    };
    let (ans, n) = answer(&parse(BARESIP), LOCAL, 20_002, &prefs).unwrap();
    assert_eq!((n.codec, n.pt, n.dtmf_pt), (Law::Alaw, 8, Some(101)));
    let m = &ans.media[0];
    assert_eq!(m.formats, vec!["8", "101"]);
    assert_eq!(m.fmtp(101), Some("0-16"));
    assert_eq!(m.ptime(), Some(20));
}

#[test]
fn chrome_dtls_srtp_is_not_acceptable() {
    assert_eq!(
        answer(&parse(CHROME), LOCAL, 1, &MediaPrefs::default()).unwrap_err(),
        SdpError::NoAudio
    );
}

#[test]
fn no_common_codec_is_488() {
    let g722 = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=x\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 9 101\na=rtpmap:9 G722/8000\na=rtpmap:101 telephone-event/8000\n";
    assert_eq!(
        answer(&parse(g722), LOCAL, 1, &MediaPrefs::default()).unwrap_err(),
        SdpError::NoCommonCodec
    );
}

#[test]
fn ipv6_media_level_connection_dynamic_pt_and_video_rejected() {
    let o = "v=0\r\no=alice 1 1 IN IP6 2001:db8::1\r\ns=-\r\nt=0 0\r\nm=video 5002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 5000 RTP/AVP 97 100\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:97 pcma/8000\r\na=rtpmap:100 telephone-event/8000\r\na=ptime:30\r\na=recvonly\r\n";
    let (ans, n) = answer(
        &parse(o),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        7000,
        &MediaPrefs::default(),
    )
    .unwrap();
    assert_eq!(
        (n.codec, n.pt, n.dtmf_pt, n.ptime),
        (Law::Alaw, 97, Some(100), 30)
    );
    assert_eq!(
        n.remote,
        SocketAddr::new("2001:db8::2".parse().unwrap(), 5000)
    );
    // Peer only receives: we only send.
    assert_eq!(n.direction, Direction::SendOnly);
    assert_eq!(ans.media.len(), 2);
    assert_eq!((ans.media[0].port, ans.media[1].port), (0, 7000));
    let text = ans.to_string();
    assert!(text.contains("m=video 0 RTP/AVP 96\r\n"));
    assert!(text.contains("a=rtpmap:97 PCMA/8000\r\n"));
    assert!(text.contains("a=sendonly\r\n"));
    assert!(text.contains("c=IN IP6 ::1\r\n"));
}

#[test]
fn hold_variants() {
    let hold = |dir: &str, c: &str| {
        let o = format!("v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\n{dir}m=audio 4000 RTP/AVP 0\r\n");
        answer(&parse(&o), LOCAL, 1, &MediaPrefs::default())
            .unwrap()
            .1
            .direction
    };
    assert_eq!(hold("a=sendonly\r\n", "10.0.0.1"), Direction::RecvOnly);
    assert_eq!(hold("a=inactive\r\n", "10.0.0.1"), Direction::Inactive);
    assert_eq!(hold("", "0.0.0.0"), Direction::RecvOnly);
    assert_eq!(hold("a=sendonly\r\n", "0.0.0.0"), Direction::RecvOnly);
    assert_eq!(hold("a=recvonly\r\n", "0.0.0.0"), Direction::Inactive);
}

#[test]
fn rejected_stream_and_missing_connection() {
    let zero = "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
    assert_eq!(
        answer(&parse(zero), LOCAL, 1, &MediaPrefs::default()).unwrap_err(),
        SdpError::NoAudio
    );
    let noc = "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(
        answer(&parse(noc), LOCAL, 1, &MediaPrefs::default()).unwrap_err(),
        SdpError::NoConnection
    );
}

#[test]
fn offer_then_answer_round_trip() {
    let prefs = MediaPrefs {
        session_id: 42,
        ..Default::default()
    };
    let our_offer = offer(LOCAL, 30_000, &prefs);
    let text = our_offer.to_string();
    assert!(text.starts_with("v=0\r\no=madoguchi 42 1 IN IP4 127.0.0.1\r\n"));
    assert!(text.contains("m=audio 30000 RTP/AVP 0 8 101\r\n"));
    assert!(text.contains("a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"));
    // A peer (using our own answerer, preferring A-law) answers it.
    let peer = MediaPrefs {
        codecs: vec![Law::Alaw],
        ..Default::default()
    };
    let (ans, peer_n) = answer(
        &Sdp::parse(&text).unwrap(),
        "127.0.0.2".parse().unwrap(),
        40_000,
        &peer,
    )
    .unwrap();
    assert_eq!(peer_n.remote.port(), 30_000);
    let n = accept_answer(&Sdp::parse(&ans.to_string()).unwrap(), &prefs).unwrap();
    assert_eq!((n.codec, n.pt, n.dtmf_pt), (Law::Alaw, 8, Some(101)));
    assert_eq!(n.remote, "127.0.0.2:40000".parse::<SocketAddr>().unwrap());
}

#[test]
fn malformed_input_is_an_error() {
    assert!(matches!(
        Sdp::parse("hello"),
        Err(SdpError::Malformed { line: 1, .. })
    ));
    assert_eq!(
        Sdp::parse("o=- 1 1 IN IP4 1.2.3.4\r\n"),
        Err(SdpError::Missing("v= line"))
    );
    assert!(Sdp::parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n").is_err());
    assert!(Sdp::parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 not-an-ip\r\n").is_err());
    assert!(Sdp::parse("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP6 1.2.3.4\r\n").is_err());
    // Truncations of a real body never panic.
    for n in 0..BARESIP.len() {
        let _ = Sdp::parse(&BARESIP[..n]);
    }
}

/// baresip 1.0 with `mediaenc=srtp-mand`: RTP/SAVP with a 32- and an 80-bit suite.
const SAVP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 10000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\na=sendrecv\r\n";

#[test]
fn sdes_offer_is_answered_with_our_key_and_the_80_bit_suite() {
    use crate::sdp::CryptoSuite;
    let prefs = MediaPrefs::default();
    let (ans, n) = answer(&parse(SAVP), LOCAL, 20_002, &prefs).unwrap();
    let srtp = n.srtp.expect("SRTP negotiated");
    assert_eq!(srtp.suite, CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(srtp.tag, 2);
    assert_eq!(srtp.local, prefs.srtp_key);
    assert_ne!(srtp.remote, srtp.local);
    let text = ans.to_string();
    assert!(text.contains("m=audio 20002 RTP/SAVP 0 101\r\n"), "{text}");
    assert!(
        text.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{text}"
    );
    assert_eq!(text.matches("a=crypto").count(), 1, "{text}");
    // Plain RTP stays plain.
    let (_, n) = answer(&parse(BARESIP), LOCAL, 20_002, &prefs).unwrap();
    assert!(n.srtp.is_none());
}

#[test]
fn srtp_required_refuses_plain_and_offers_savp() {
    use crate::sdp::SrtpPolicy;
    let prefs = MediaPrefs {
        srtp: SrtpPolicy::Required,
        ..Default::default()
    };
    assert_eq!(
        answer(&parse(BARESIP), LOCAL, 20_002, &prefs).unwrap_err(),
        SdpError::SrtpRequired
    );
    assert!(answer(&parse(SAVP), LOCAL, 20_002, &prefs)
        .unwrap()
        .1
        .srtp
        .is_some());
    // Our offer is RTP/SAVP; the peer answers with its key; both sides agree.
    let text = offer(LOCAL, 30_000, &prefs).to_string();
    assert!(
        text.contains("m=audio 30000 RTP/SAVP 0 8 101\r\n"),
        "{text}"
    );
    let peer = MediaPrefs::default();
    let (ans, peer_n) = answer(&Sdp::parse(&text).unwrap(), LOCAL, 40_000, &peer).unwrap();
    let ours = accept_answer(&ans, &prefs).unwrap().srtp.unwrap();
    let theirs = peer_n.srtp.unwrap();
    assert_eq!((ours.local, ours.remote), (theirs.remote, theirs.local));
    // A plain answer to our SAVP offer is refused.
    let plain = answer(&parse(BARESIP), LOCAL, 40_000, &peer).unwrap().0;
    assert_eq!(
        accept_answer(&plain, &prefs).unwrap_err(),
        SdpError::SrtpRequired
    );
}

#[test]
fn savp_without_a_usable_crypto_line_is_not_audio_we_can_use() {
    let offer = SAVP.replace("AES_CM_128_HMAC_SHA1", "F8_128_HMAC_SHA1");
    assert_eq!(
        answer(&parse(&offer), LOCAL, 20_002, &MediaPrefs::default()).unwrap_err(),
        SdpError::NoAudio
    );
}
