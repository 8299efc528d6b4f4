//! One leg on loopback against an in-test phone: playback, pacing,
//! digits from three sources, symmetric RTP, garbage, ports.

mod common;

use common::*;
use madoguchi_media::dtmf::generate_tone;
use madoguchi_media::g711::Law;
use madoguchi_media::rtp::RtpSender;
use madoguchi_rtp::{DigitSource, LegEvent, MediaError, Prompt};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_arrives_complete_in_order_and_paced() {
    let (rt, _tmp) = runtime(19000..=19009);
    let peer = Peer::new().await;
    let mut leg = rt.open_leg("play", LO).await.unwrap();
    let answer = leg
        .answer(peer.offer(&[Law::Ulaw], Some(101)).as_bytes())
        .unwrap();
    assert!(answer.contains(&format!("m=audio {} RTP/AVP 0 101", leg.local_rtp().port())));
    // 1 s prompt: a ramp no idle fill could produce.
    let pcm: Vec<i16> = (0..8000).map(|i| ((i * 7) % 8000) as i16 - 4000).collect();
    let id = leg.play(vec![Prompt::from_pcm(pcm.clone())], false);
    assert_eq!(
        wait_event(&mut leg, Duration::from_secs(10), |e| matches!(
            e,
            LegEvent::PlayFinished(_)
        ))
        .await,
        Some(LegEvent::PlayFinished(id))
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = peer.packets();
    let stats = leg.stats().await.unwrap();
    // Stream: one SSRC, sequence +1, timestamps on the 20 ms grid, all from our RTP port.
    // A stalled leg task skips frames (counted) rather than sending them late in a burst.
    let skipped = check_paced_stream(&got);
    assert!(skipped <= stats.pace_skipped, "{skipped} {stats:?}");
    assert!(got.iter().all(|p| p.from == leg.local_rtp()));
    // Content: the 50 frames of the prompt, each at its place on the timeline.
    let expect = through(Law::Ulaw, &pcm);
    let chunks: Vec<Vec<i16>> = expect.chunks(160).map(<[i16]>::to_vec).collect();
    let frames = frames_on_timeline(&got, Law::Ulaw);
    let first = signal_start(&frames, &chunks).expect("prompt not heard");
    let in_prompt: Vec<&(usize, Vec<i16>)> = frames
        .iter()
        .filter(|(k, _)| (first..first + 50).contains(k))
        .collect();
    for (k, f) in &in_prompt {
        assert_eq!(*f, chunks[k - first], "prompt frame {}", k - first);
    }
    // Every frame came unless the pacer skipped it.
    assert!(
        in_prompt.len() as u64 + stats.pace_skipped >= 50,
        "{}",
        in_prompt.len()
    );
    // Pacing: the RTP clock and the wall clock agree (loose: the machine is shared),
    // where a burst would put the whole prompt in a few milliseconds.
    let (a, b) = (&got[0], got.last().unwrap());
    let media_s = f64::from(b.ts.wrapping_sub(a.ts)) / 8000.0;
    let ratio = media_s / (b.at - a.at).as_secs_f64();
    assert!(
        (0.5..=2.0).contains(&ratio),
        "{media_s} s of media in {:?}",
        b.at - a.at
    );
    assert!(stats.paced >= got.len() as u64);
    assert_eq!(stats.send_errors, 0);
    // Idle fill after the prompt: comfort noise, not silence-free garbage and not nothing.
    let tail: Vec<&Vec<i16>> = frames
        .iter()
        .filter(|(k, _)| *k >= first + 50)
        .map(|(_, f)| f)
        .collect();
    assert!(!tail.is_empty() && tail.iter().all(|f| f.iter().all(|s| s.abs() <= 8)));
    leg.close().await;
}

/// Phone audio with DTMF tones: (digit, start ms) each 100 ms, faint noise elsewhere.
fn audio_with_tones(ms: usize, tones: &[(char, usize)]) -> Vec<i16> {
    let mut pcm = noise(7, ms * 8, 20);
    for &(d, at) in tones {
        let tone = generate_tone(d, 100, 6000).unwrap();
        for (i, s) in tone.iter().enumerate() {
            pcm[at * 8 + i] = pcm[at * 8 + i].saturating_add(*s);
        }
    }
    pcm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digits_from_all_three_sources_once_each_in_order_with_barge_in() {
    let (rt, _tmp) = runtime(19010..=19019);
    let peer = Peer::new().await;
    let mut leg = rt.open_leg("digits", LO).await.unwrap();
    leg.answer(peer.offer(&[Law::Ulaw], Some(101)).as_bytes())
        .unwrap();
    let prompt = leg.play(vec![Prompt::from_pcm(vec![3000; 8000 * 10])], true);
    // 1: in-band only at 400 ms. 2: INFO at 1000 ms. 3: tones AND RFC 4733 at 1600 ms.
    // 4: INFO AND RFC 4733 at 2200 ms. 5: RFC 4733 only at 2800 ms. 5 again at 3200 ms.
    let pcm = audio_with_tones(4000, &[('1', 400), ('3', 1600)]);
    let mut tx = RtpSender::with_initial(0, 0x5151, 100, 1000);
    let script = rtp_script(
        &mut tx,
        Law::Ulaw,
        &pcm,
        0,
        &[
            ('3', 1600, 100),
            ('4', 2200, 100),
            ('5', 2800, 100),
            ('5', 3200, 100),
        ],
        101,
    );
    // The script goes out in three parts with the INFOs between them, so an INFO
    // lands where it belongs among the packets however late a loaded host runs
    // the sending task: '2' after the audio up to 1000 ms, '4' right after the
    // first RFC 4733 packet of the '4' (2200 ms), well inside the 300 ms window
    // in which the two count as one key.
    let (head, rest): (Vec<_>, Vec<_>) = script.into_iter().partition(|(ms, _)| *ms < 1000);
    let (middle, tail): (Vec<_>, Vec<_>) = rest.into_iter().partition(|(ms, _)| *ms <= 2200);
    let t0 = Instant::now();
    peer.play_script(leg.local_rtp(), t0, head).await.unwrap();
    assert_eq!(
        leg.dtmf_from_info("Signal=2\r\nDuration=160\r\n", "application/dtmf-relay")
            .unwrap(),
        '2'
    );
    peer.play_script(leg.local_rtp(), t0, middle).await.unwrap();
    leg.dtmf_from_info("4", "application/dtmf").unwrap();
    assert!(matches!(
        leg.dtmf_from_info("Signal=Z", "application/dtmf-relay"),
        Err(MediaError::Dtmf(_))
    ));
    peer.play_script(leg.local_rtp(), t0, tail).await.unwrap();
    let events = events_for(&mut leg, Duration::from_millis(800)).await;
    let digits: Vec<(char, DigitSource)> = events
        .iter()
        .filter_map(|e| match e {
            LegEvent::Digit(d) => Some((d.digit, d.source)),
            _ => None,
        })
        .collect();
    let keys: String = digits.iter().map(|d| d.0).collect();
    assert_eq!(keys, "123455", "{events:?}");
    assert_eq!(digits[0].1, DigitSource::Inband);
    assert_eq!(digits[1].1, DigitSource::SipInfo);
    // Barge-in: the first digit stopped the 10 s prompt; reported once, before the second digit.
    let interrupted: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| **e == LegEvent::PlayInterrupted(prompt))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(interrupted.len(), 1, "{events:?}");
    let second_digit = events
        .iter()
        .position(|e| matches!(e, LegEvent::Digit(d) if d.digit == '2'))
        .unwrap();
    assert!(interrupted[0] < second_digit);
    let stats = leg.stats().await.unwrap();
    assert!(stats.digits_suppressed >= 2, "{stats:?}");
    assert_eq!(stats.rtp.lost, 0);
    leg.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_latching_and_garbage_is_dropped_and_counted() {
    let (rt, _tmp) = runtime(19020..=19029);
    let decoy = Peer::new().await; // what the SDP says; the phone is behind NAT elsewhere
    let phone = Peer::new().await;
    let stranger = Peer::new().await;
    let mut leg = rt.open_leg("latch", LO).await.unwrap();
    leg.answer(decoy.offer(&[Law::Ulaw], Some(101)).as_bytes())
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || decoy.packets().len() >= 5).await,
        "we send to the SDP address until latched"
    );
    assert!(phone.packets().is_empty());

    let t0 = Instant::now();
    let mut tx = RtpSender::with_initial(0, 0xAAAA, 1, 0);
    let script = rtp_script(&mut tx, Law::Ulaw, &noise(3, 8000 * 2, 500), 0, &[], 101);
    let sending = phone.play_script(leg.local_rtp(), t0, script);
    let latched = wait_event(&mut leg, Duration::from_secs(10), |e| {
        matches!(e, LegEvent::RemoteLatched(_))
    })
    .await;
    assert_eq!(latched, Some(LegEvent::RemoteLatched(phone.addr)));

    // While the phone talks: a stranger with valid RTP, garbage, wrong PT, an SSRC flood from the phone's address.
    let mut st = RtpSender::with_initial(0, 0xBAD, 1, 0);
    let mut flood = RtpSender::with_initial(0, 0xF00D, 1, 0);
    let mut buf = Vec::new();
    for i in 0..100u32 {
        st.audio(&[0xFF; 160], 160, &mut buf);
        stranger.sock.send_to(&buf, leg.local_rtp()).await.unwrap();
        stranger
            .sock
            .send_to(&[0x80, 0, 1], leg.local_rtp())
            .await
            .unwrap(); // short
        stranger
            .sock
            .send_to(&[0x13; 200], leg.local_rtp())
            .await
            .unwrap(); // version 0
        let mut wrong = RtpSender::with_initial(13, 0xAAAA, i as u16, 0);
        wrong.audio(&[0; 10], 10, &mut buf);
        phone.sock.send_to(&buf, leg.local_rtp()).await.unwrap(); // comfort-noise PT
        let mut f = RtpSender::with_initial(0, 0xF000 + i, 1, 0);
        f.audio(&[0xFF; 160], 160, &mut buf);
        phone.sock.send_to(&buf, leg.local_rtp()).await.unwrap(); // a new SSRC every time
        flood.audio(&[0xFF; 160], 160, &mut buf);
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    sending.await.unwrap();
    // Everything sent is counted once the leg task has read it (bounded wait).
    let mut stats = leg.stats().await.unwrap();
    for _ in 0..500 {
        if stats.rtp.packets >= 100 && stats.foreign_ssrc >= 100 && stats.malformed >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        stats = leg.stats().await.unwrap();
    }
    assert_eq!(stats.unexpected_source, 100, "{stats:?}");
    assert_eq!(stats.malformed, 200);
    assert_eq!(stats.wrong_payload_type, 100);
    assert_eq!(stats.foreign_ssrc, 100);
    assert_eq!(stats.rtp.ssrc_changes, 0);
    assert_eq!(
        stats.rtp.packets, 100,
        "the phone's 2 s of audio all accepted"
    );
    assert_eq!(stats.remote, Some(phone.addr));
    // Our stream went to the phone after latching, never to the stranger.
    assert!(phone.packets().len() >= 50);
    assert!(stranger.packets().is_empty());
    leg.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_timeout_and_resume() {
    let (rt, _tmp) = runtime_with(19030..=19039, |c| {
        c.rtp_timeout = Duration::from_millis(300)
    });
    let phone = Peer::new().await;
    let mut leg = rt.open_leg("timeout", LO).await.unwrap();
    leg.answer(phone.offer(&[Law::Ulaw], None).as_bytes())
        .unwrap();
    let e = wait_event(&mut leg, Duration::from_secs(10), |e| {
        *e == LegEvent::RtpTimeout
    })
    .await;
    assert_eq!(e, Some(LegEvent::RtpTimeout));
    let mut tx = RtpSender::with_initial(0, 1, 1, 0);
    let script = rtp_script(&mut tx, Law::Ulaw, &noise(1, 1600, 100), 0, &[], 101);
    phone
        .play_script(leg.local_rtp(), Instant::now(), script)
        .await
        .unwrap();
    let e = wait_event(&mut leg, Duration::from_secs(10), |e| {
        *e == LegEvent::RtpResumed
    })
    .await;
    assert_eq!(e, Some(LegEvent::RtpResumed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_are_bounded_and_freed_on_drop() {
    let (rt, _tmp) = runtime(19040..=19043);
    assert_eq!(rt.capacity(), 2);
    let a = rt.open_leg("a", LO).await.unwrap();
    let b = rt.open_leg("b", LO).await.unwrap();
    assert_ne!(a.local_rtp(), b.local_rtp());
    assert!(matches!(
        rt.open_leg("c", LO).await,
        Err(MediaError::PortsExhausted)
    ));
    let port_a = a.local_rtp().port();
    drop(a); // the task ends asynchronously; the pair comes back when it has
    let mut reopened = None;
    for _ in 0..2000 {
        if let Ok(l) = rt.open_leg("c", LO).await {
            reopened = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c = reopened.expect("port pair not freed after drop");
    assert_eq!(c.local_rtp().port(), port_a);
    // close() waits for the task: the pair is free right after.
    b.close().await;
    let d = rt.open_leg("d", LO).await.unwrap();
    assert!(
        std::net::UdpSocket::bind((LO, c.local_rtp().port())).is_err(),
        "c still holds its port"
    );
    drop((c, d));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdp_errors_map_to_488() {
    let (rt, _tmp) = runtime(19044..=19047);
    let leg = rt.open_leg("sdp", LO).await.unwrap();
    let g722 = offer_sdp(5000, &[], None, "sendrecv").replace("RTP/AVP ", "RTP/AVP 9");
    let e = leg.answer(g722.as_bytes()).unwrap_err();
    assert!(e.is_not_acceptable(), "{e}");
    assert!(!leg.answer(b"garbage").unwrap_err().is_not_acceptable());
    assert!(matches!(
        leg.answer(&[0xFF, 0xFE]),
        Err(MediaError::SdpNotUtf8)
    ));
    assert!(matches!(
        leg.accept_answer(g722.as_bytes()),
        Err(MediaError::NoOfferOutstanding)
    ));
    assert!(leg.negotiated().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_after_a_stall_still_yields_each_press_once() {
    let (rt, _tmp) = runtime(19048..=19051);
    let peer = Peer::new().await;
    let mut leg = rt.open_leg("burst", LO).await.unwrap();
    leg.answer(peer.offer(&[Law::Ulaw], Some(101)).as_bytes())
        .unwrap();
    // '3' as tones AND RFC 4733; '4' as RFC 4733 AND (earlier, by the stall) SIP INFO.
    let pcm = audio_with_tones(2000, &[('3', 400)]);
    let mut tx = RtpSender::with_initial(0, 0x77, 1, 0);
    let script = rtp_script(
        &mut tx,
        Law::Ulaw,
        &pcm,
        0,
        &[('3', 400, 100), ('4', 1000, 100)],
        101,
    );
    leg.dtmf_from_info("Signal=4", "application/dtmf-relay")
        .unwrap();
    // Everything at once, as a network or scheduler stall delivers it.
    let all: Vec<(u64, Vec<u8>)> = script.into_iter().map(|(_, p)| (0, p)).collect();
    peer.play_script(leg.local_rtp(), Instant::now(), all)
        .await
        .unwrap();
    let events = events_for(&mut leg, Duration::from_millis(600)).await;
    let keys: String = events
        .iter()
        .filter_map(|e| match e {
            LegEvent::Digit(d) => Some(d.digit),
            _ => None,
        })
        .collect();
    assert_eq!(keys, "43", "{events:?}");
    assert!(leg.stats().await.unwrap().digits_suppressed >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtcp_reports_both_ways_and_unspecified_bind_needs_an_sdp_address() {
    let (rt, _tmp) = runtime_with(19052..=19055, |c| {
        c.rtcp_interval = Duration::from_millis(200)
    });
    // A phone with an RTP/RTCP pair on adjacent ports.
    let (rtp, rtcp) = (0..50)
        .find_map(|_| {
            let a = std::net::UdpSocket::bind((LO, 0)).ok()?;
            let port = a.local_addr().ok()?.port();
            let b = std::net::UdpSocket::bind((LO, port.checked_add(1)?)).ok()?;
            Some((a, b))
        })
        .unwrap();
    rtcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = rtp.local_addr().unwrap().port();
    let leg = rt.open_leg("rtcp", LO).await.unwrap();
    leg.answer(offer_sdp(port, &[Law::Ulaw], None, "sendrecv").as_bytes())
        .unwrap();
    // The phone's RTP latches us; then its receiver report goes to our RTCP port.
    let mut tx = RtpSender::with_initial(0, 0x1234, 1, 0);
    let mut buf = Vec::new();
    tx.audio(&[0xFF; 160], 160, &mut buf);
    rtp.send_to(&buf, leg.local_rtp()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rr = madoguchi_media::rtp::rtcp::build_report(0x1234, None, &[], "phone");
    let our_rtcp = std::net::SocketAddr::new(LO, leg.local_rtp().port() + 1);
    rtcp.send_to(&rr, our_rtcp).unwrap();
    // Our sender report arrives at the phone's RTCP port.
    let got = tokio::task::spawn_blocking(move || {
        let mut b = [0u8; 1500];
        rtcp.recv_from(&mut b).map(|(n, _)| b[..n].to_vec())
    })
    .await
    .unwrap()
    .unwrap();
    let parsed = madoguchi_media::rtp::rtcp::parse_compound(&got).unwrap();
    assert!(matches!(
        parsed[0],
        madoguchi_media::rtp::rtcp::RtcpPacket::SenderReport { .. }
    ));
    assert!(leg.stats().await.unwrap().rtp.rtcp_packets >= 1);
    let any = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    assert!(matches!(
        rt.open_leg("any", any).await,
        Err(MediaError::NoSdpAddress(_))
    ));
}
