//! One IVR call leg end to end, the way the tokio driver wires the modules,
//! with synthetic time and an imperfect network: a phone that sends the
//! key presses BOTH as RFC 4733 events and as tones in the audio, packets
//! reordered, lost and duplicated. Checks single digits, barge-in, digit
//! collection, leg statistics, and a time-aligned stereo recording on disk.

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use madoguchi_media::collect::{CollectResult, CollectSpec, DigitCollector};
use madoguchi_media::dtmf::{
    encode_digit, DigitSource, DigitStream, EventReceiver, InbandDetector, InbandEvent,
};
use madoguchi_media::g711::Law;
use madoguchi_media::jitter::{FrameKind, JitterBuffer, JitterConfig};
use madoguchi_media::pacing::{Pacer, Tick};
use madoguchi_media::prompt::{IdleFill, PlayRequest, PlayerEvent, Prompt, PromptPlayer, FRAME};
use madoguchi_media::recording::{Channel, RecordingConfig, RecordingWriter, StereoMixer};
use madoguchi_media::rtp::{Received, ReceiverConfig, RtpReceiver, RtpSender};
use madoguchi_media::wav::read_wav;
use std::f64::consts::PI;
use std::time::{Duration, Instant};

const KEYS: [(char, u64); 5] = [
    ('1', 1000),
    ('2', 1400),
    ('3', 1800),
    ('4', 2200),
    ('#', 2600),
];
const CALL_MS: u64 = 4000;
const NET_DELAY_MS: u64 = 30;

fn freqs(d: char) -> (f64, f64) {
    match d {
        '1' => (697.0, 1209.0),
        '2' => (697.0, 1336.0),
        '3' => (697.0, 1477.0),
        '4' => (770.0, 1209.0),
        '#' => (941.0, 1477.0),
        _ => unreachable!(),
    }
}

/// The caller's microphone: faint noise plus 100 ms DTMF tones.
fn phone_audio() -> Vec<i16> {
    let mut x: u32 = 99;
    (0..CALL_MS as usize * 8)
        .map(|n| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut s = (x % 61) as f64 - 30.0;
            let ms = n as u64 / 8;
            for (d, start) in KEYS {
                if ms >= start && ms < start + 100 {
                    let (r, c) = freqs(d);
                    let t = n as f64 / 8000.0;
                    s += 5000.0 * ((2.0 * PI * r * t).sin() + (2.0 * PI * c * t).sin());
                }
            }
            s as i16
        })
        .collect()
}

/// Every datagram the phone sends, with its arrival time at our socket (ms).
fn phone_packets() -> Vec<(u64, Vec<u8>)> {
    let audio = phone_audio();
    let ts0: u32 = 0xFFFF_F000; // wraps during the call
                                // (send ms, pt, ts, marker, payload)
    let mut plan: Vec<(u64, u8, u32, bool, Vec<u8>)> = Vec::new();
    for k in 0..CALL_MS / 20 {
        let frame = &audio[k as usize * FRAME..(k as usize + 1) * FRAME];
        let payload: Vec<u8> = frame.iter().map(|&s| Law::Ulaw.encode(s)).collect();
        plan.push((
            k * 20 + 20,
            0,
            ts0.wrapping_add(k as u32 * 160),
            k == 0,
            payload,
        ));
    }
    for (d, start) in KEYS {
        for p in encode_digit(d, ts0.wrapping_add(start as u32 * 8), 100, 20, 10).unwrap() {
            plan.push((
                start + 20 + p.offset_ms as u64,
                101,
                p.timestamp,
                p.marker,
                p.event.to_bytes().to_vec(),
            ));
        }
    }
    plan.sort_by_key(|p| p.0);
    let mut tx = RtpSender::with_initial(0, 0xCA11, 65_500, ts0);
    let mut out = Vec::new();
    for (i, (send, pt, ts, marker, payload)) in plan.into_iter().enumerate() {
        let mut buf = Vec::new();
        tx.raw(pt, ts, marker, &payload, &mut buf);
        let mut arrive = send + NET_DELAY_MS;
        if i % 9 == 4 {
            arrive += 25; // overtaken by the next packet
        }
        if i == 20 {
            continue; // lost
        }
        if i == 80 {
            out.push((arrive + 3, buf.clone())); // duplicated
        }
        out.push((arrive, buf));
    }
    out.sort_by_key(|p| p.0);
    out
}

#[test]
fn ivr_leg_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);

    let mut rx = RtpReceiver::new(ReceiverConfig {
        audio_pt: 0,
        dtmf_pt: Some(101),
        clock_rate: 8000,
    });
    let mut jitter: JitterBuffer<Vec<u8>> = JitterBuffer::new(JitterConfig::default());
    let mut events = EventReceiver::new();
    let mut inband = InbandDetector::new();
    let mut digits = DigitStream::new(t0);
    let mut pacer = Pacer::new(t0, Duration::from_millis(20), 3);
    let mut tx = RtpSender::new(0);
    let mut player = PromptPlayer::new(IdleFill::ComfortNoise(2));
    player.enqueue(PlayRequest {
        id: 1,
        prompt: Prompt::from_pcm(vec![4000; 8000 * 3]), // 3 s "announcement"
        stop_on_digit: true,
        looped: false,
    });
    let mut collector: Option<DigitCollector> = None;
    let mut mixer = StereoMixer::new(10_000);
    let mut writer = RecordingWriter::create(&dir, "leg-test", RecordingConfig::default()).unwrap();

    let packets = phone_packets();
    let mut next_packet = 0;
    let mut accepted = Vec::new();
    let mut player_events = Vec::new();
    let mut result = None;
    let (mut frame, mut payload, mut out, mut pcm, mut inband_events) = (
        [0i16; FRAME],
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut first_barge_at = None;

    // The driver loop, woken every millisecond (a real one sleeps until the earliest deadline).
    for ms in 0..=CALL_MS + 500 {
        let now = at(ms);
        let mut new_digits: Vec<(char, DigitSource, Instant)> = Vec::new();
        while next_packet < packets.len() && packets[next_packet].0 <= ms {
            let buf = &packets[next_packet].1;
            next_packet += 1;
            match rx.on_packet(buf, now) {
                Received::Media {
                    packet, dtmf: true, ..
                } => {
                    if let Some(e) = events.on_packet(packet.header.timestamp, packet.payload, now)
                    {
                        new_digits.push((e.digit, DigitSource::Rfc4733, e.started));
                    }
                }
                Received::Media { packet, .. } => {
                    let h = &packet.header;
                    jitter.push(
                        h.ssrc,
                        h.timestamp,
                        packet.payload.len() as u32,
                        packet.payload.to_vec(),
                        now,
                    );
                }
                Received::Dropped(_) => {}
            }
        }
        if let Some(e) = events.poll(now) {
            new_digits.push((e.digit, DigitSource::Rfc4733, e.started));
        }
        while let Some(f) = jitter.poll(now) {
            let pos = f.at.saturating_duration_since(t0).as_millis() as u64;
            match f.kind {
                FrameKind::Audio(p) => {
                    Law::Ulaw.decode_into(&p, &mut pcm);
                    inband.process(&pcm, &mut inband_events);
                    mixer.push(Channel::Caller, pos, &pcm);
                }
                FrameKind::Gap => inband.process(&[0; FRAME], &mut inband_events),
            }
        }
        for e in inband_events.drain(..) {
            if let InbandEvent::Pressed { digit, .. } = e {
                new_digits.push((digit, DigitSource::Inband, now - Duration::from_millis(40)));
            }
        }
        for (d, src, key_down) in new_digits {
            if let Some(ev) = digits.on_digit(d, src, key_down) {
                accepted.push(ev);
                if player.on_digit() && first_barge_at.is_none() {
                    first_barge_at = Some(ms);
                }
                collector
                    .get_or_insert_with(|| {
                        DigitCollector::new(
                            CollectSpec {
                                max_digits: 8,
                                terminator: Some('#'),
                                first_digit_timeout: Duration::from_secs(5),
                                inter_digit_timeout: Duration::from_secs(3),
                            },
                            now,
                        )
                    })
                    .on_digit(d, now);
            }
        }
        if let Some(c) = collector.as_mut() {
            if let Some(r) = c.poll(now) {
                result = Some(r);
            }
        }
        while let Tick::Send { index, skipped, .. } = pacer.poll(now) {
            assert_eq!(skipped, 0);
            player.next_frame(&mut frame);
            Law::Ulaw.encode_into(&frame, &mut payload);
            tx.audio(&payload, 160, &mut out);
            mixer.push(Channel::Other, index * 20, &frame);
        }
        while let Some(e) = player.poll_event() {
            player_events.push(e);
        }
        if ms % 100 == 0 {
            if let Some(chunk) = mixer.take_until_ms(ms.saturating_sub(200)) {
                writer.write(chunk);
            }
        }
    }
    if let Some(chunk) = mixer.finish() {
        writer.write(chunk);
    }
    let summary = writer.finish();

    // Digits: each key once although the phone sent it twice.
    let got: String = accepted.iter().map(|e| e.digit).collect();
    assert_eq!(got, "1234#");
    assert!(digits.suppressed >= 4, "suppressed {}", digits.suppressed);
    for (ev, (_, start)) in accepted.iter().zip(KEYS) {
        let at_ms = ev.at.as_millis() as i64;
        assert!(
            (at_ms - start as i64).abs() <= 120,
            "{} at {at_ms} ms, pressed at {start}",
            ev.digit
        );
    }
    assert_eq!(result, Some(CollectResult::Complete("1234".into())));
    assert_eq!(player_events, vec![PlayerEvent::Interrupted(1)]);
    let barge = first_barge_at.unwrap();
    assert!((1000..1200).contains(&barge), "barge-in at {barge} ms");

    // Leg statistics.
    let stats = rx.stats();
    assert_eq!(stats.lost, 1);
    assert_eq!(stats.duplicates, 1);
    assert!(stats.reordered >= 10, "{stats:?}");
    assert_eq!(
        stats.wrong_payload_type + stats.malformed + stats.ssrc_changes as u64,
        0
    );
    assert_eq!(jitter.stats().gaps, 1);

    // Recording: caller left, prompt right, aligned to call time.
    assert!(summary.complete, "{:?}", summary.problems);
    let wav = read_wav(&dir.read(&summary.file_name).unwrap()).unwrap();
    assert_eq!(wav.channels, 2);
    let frames = wav.samples.len() / 2;
    // The driver ran (and played comfort noise) until CALL_MS + 500; last pacer frame ends 20 ms later.
    assert_eq!(frames as u64, (CALL_MS + 520) * 8);
    let energy = |ch: usize, from_ms: usize, to_ms: usize| -> f64 {
        let s = &wav.samples[from_ms * 16..to_ms * 16];
        s.iter()
            .skip(ch)
            .step_by(2)
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            / ((to_ms - from_ms) * 8) as f64
    };
    // Key '1' pressed at 1000 ms arrives 30 ms later: silent just before, loud inside.
    assert!(energy(0, 950, 1025) < 10_000.0, "{}", energy(0, 950, 1025));
    assert!(energy(0, 1040, 1120) > 1_000_000.0);
    // Prompt on the right until barge-in, comfort noise after.
    assert!(energy(1, 100, 900) > 1_000_000.0);
    assert!(energy(1, barge as usize + 100, 3000) < 10.0);
}
