//! Media-path CPU benchmark (not a test). Run in release:
//!
//! ```text
//! cargo run --release -p madoguchi-media --example media_bench
//! ```
//!
//! For N = 100, 500 and 1000 simulated calls it processes 10 s of media per
//! call in 20 ms ticks, all calls interleaved per tick like a real server:
//! prompt frame generation, G.711 encode + RTP build (outbound); RTP parse +
//! receiver stats, jitter buffer, G.711 decode, Goertzel DTMF detection
//! (inbound); stereo mixing of both directions. No disk, no sockets.
//! It prints CPU time per call-second and the implied concurrent calls per core.

use madoguchi_media::dtmf::InbandDetector;
use madoguchi_media::g711::Law;
use madoguchi_media::jitter::{FrameKind, JitterBuffer, JitterConfig};
use madoguchi_media::prompt::{IdleFill, PlayRequest, Prompt, PromptPlayer, FRAME};
use madoguchi_media::recording::{Channel, StereoMixer};
use madoguchi_media::rtp::{Received, ReceiverConfig, RtpReceiver, RtpSender};
use std::time::{Duration, Instant};

const SECONDS: u64 = 10;
const TICKS: u64 = SECONDS * 50;

struct Call {
    player: PromptPlayer,
    sender: RtpSender,
    receiver: RtpReceiver,
    jitter: JitterBuffer<Vec<u8>>,
    detector: InbandDetector,
    mixer: StereoMixer,
    pcm_out: [i16; FRAME],
    encoded: Vec<u8>,
    packet: Vec<u8>,
    decoded: Vec<i16>,
    events: Vec<madoguchi_media::dtmf::InbandEvent>,
    out_bytes: u64,
}

/// CPU time of this process (user + system) from /proc, in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

fn main() {
    // A 3 s prompt and a caller "voice": a harmonic signal, G.711-encoded once.
    let prompt_pcm: Vec<i16> = (0..24_000)
        .map(|n| {
            let t = n as f64 / 8000.0;
            (3000.0
                * ((2.0 * std::f64::consts::PI * 220.0 * t).sin()
                    + 0.5 * (2.0 * std::f64::consts::PI * 660.0 * t).sin())) as i16
        })
        .collect();
    let prompt = Prompt::from_pcm(prompt_pcm.clone());
    let caller_payloads: Vec<Vec<u8>> = prompt_pcm
        .chunks(FRAME)
        .map(|c| c.iter().map(|&s| Law::Ulaw.encode(s / 2)).collect())
        .collect();

    println!("media_bench: {SECONDS} s of media per call, 20 ms ticks");
    println!(
        "{:>6} {:>10} {:>10} {:>16} {:>22}",
        "calls", "cpu_s", "wall_s", "cpu_us/call_s", "max_calls_per_core"
    );
    for n in [100usize, 500, 1000] {
        let t0 = Instant::now();
        let mut calls: Vec<Call> = (0..n)
            .map(|i| {
                let mut player = PromptPlayer::new(IdleFill::ComfortNoise(2));
                player.enqueue(PlayRequest {
                    id: i as u64,
                    prompt: prompt.clone(),
                    stop_on_digit: true,
                    looped: true,
                });
                Call {
                    player,
                    sender: RtpSender::new(0),
                    receiver: RtpReceiver::new(ReceiverConfig {
                        audio_pt: 0,
                        dtmf_pt: Some(101),
                        clock_rate: 8000,
                    }),
                    jitter: JitterBuffer::new(JitterConfig::default()),
                    detector: InbandDetector::new(),
                    mixer: StereoMixer::new(10_000),
                    pcm_out: [0; FRAME],
                    encoded: Vec::with_capacity(FRAME),
                    packet: Vec::with_capacity(200),
                    decoded: Vec::with_capacity(FRAME),
                    events: Vec::new(),
                    out_bytes: 0,
                }
            })
            .collect();
        // Inbound packets as the caller's phone would send them (built outside the timed loop).
        let mut phone = RtpSender::with_initial(0, 0x5555, 1, 0);
        let inbound: Vec<Vec<u8>> = (0..TICKS as usize)
            .map(|i| {
                let mut v = Vec::new();
                phone.audio(&caller_payloads[i % caller_payloads.len()], 160, &mut v);
                v
            })
            .collect();

        let cpu0 = cpu_seconds();
        let wall0 = Instant::now();
        for tick in 0..TICKS {
            let now = t0 + Duration::from_millis(tick * 20);
            let at_ms = tick * 20;
            for c in calls.iter_mut() {
                // Outbound: prompt -> G.711 -> RTP.
                c.player.next_frame(&mut c.pcm_out);
                Law::Ulaw.encode_into(&c.pcm_out, &mut c.encoded);
                c.sender.audio(&c.encoded, 160, &mut c.packet);
                c.out_bytes += c.packet.len() as u64;
                c.mixer.push(Channel::Other, at_ms, &c.pcm_out);
                // Inbound: RTP -> stats -> jitter buffer -> decode -> DTMF + mixer.
                if let Received::Media { packet, .. } =
                    c.receiver.on_packet(&inbound[tick as usize], now)
                {
                    let h = &packet.header;
                    c.jitter.push(
                        h.ssrc,
                        h.timestamp,
                        packet.payload.len() as u32,
                        packet.payload.to_vec(),
                        now,
                    );
                }
                while let Some(f) = c.jitter.poll(now) {
                    if let FrameKind::Audio(payload) = f.kind {
                        Law::Ulaw.decode_into(&payload, &mut c.decoded);
                        c.detector.process(&c.decoded, &mut c.events);
                        let pos = f.at.saturating_duration_since(t0).as_millis() as u64;
                        c.mixer.push(Channel::Caller, pos, &c.decoded);
                    }
                }
                if tick % 10 == 9 {
                    // Chunks would go to the RecordingWriter; here they are dropped.
                    std::hint::black_box(c.mixer.take_until_ms(at_ms.saturating_sub(100)));
                }
            }
        }
        let wall = wall0.elapsed().as_secs_f64();
        let cpu = match (cpu0, cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => wall,
        };
        let digits: usize = calls.iter().map(|c| c.events.len()).sum();
        assert_eq!(digits, 0, "no DTMF in the synthetic audio");
        assert!(calls.iter().all(|c| c.out_bytes == TICKS * 172));
        let call_seconds = (n as u64 * SECONDS) as f64;
        let per = cpu / call_seconds;
        println!(
            "{n:>6} {cpu:>10.3} {wall:>10.3} {:>16.1} {:>22.0}",
            per * 1e6,
            1.0 / per
        );
    }
    stage_breakdown(&prompt_pcm);
}

/// Cost of each stage alone for 100 call-minutes, to see where the time goes.
fn stage_breakdown(pcm: &[i16]) {
    let frames: Vec<[i16; FRAME]> = pcm
        .chunks_exact(FRAME)
        .map(|c| c.try_into().unwrap())
        .collect();
    let codes: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| f.iter().map(|&s| Law::Ulaw.encode(s)).collect())
        .collect();
    let n_frames = 100 * 60 * 50; // 100 call-minutes
    let call_seconds = n_frames as f64 / 50.0;
    let report = |name: &str, f: &mut dyn FnMut(usize)| {
        let start = Instant::now();
        for i in 0..n_frames {
            f(i);
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / call_seconds;
        println!("  {name:<34} {us:>8.2} us per call-second");
    };
    println!("stage breakdown (wall clock, single stage in isolation):");
    let mut out = Vec::new();
    report("G.711 encode 160 samples", &mut |i| {
        Law::Ulaw.encode_into(&frames[i % frames.len()], &mut out);
        std::hint::black_box(&out);
    });
    let mut dec = Vec::new();
    report("G.711 decode 160 samples", &mut |i| {
        Law::Ulaw.decode_into(&codes[i % codes.len()], &mut dec);
        std::hint::black_box(&dec);
    });
    let mut det = InbandDetector::new();
    let mut ev = Vec::new();
    report("Goertzel DTMF detector", &mut |i| {
        det.process(&frames[i % frames.len()], &mut ev)
    });
    let mut sender = RtpSender::new(0);
    let mut pkt = Vec::new();
    report("RTP build", &mut |i| {
        sender.audio(&codes[i % codes.len()], 160, &mut pkt)
    });
    let t0 = Instant::now();
    let mut phone = RtpSender::new(0);
    let pkts: Vec<Vec<u8>> = (0..n_frames)
        .map(|i| {
            let mut v = Vec::new();
            phone.audio(&codes[i % codes.len()], 160, &mut v);
            v
        })
        .collect();
    let mut rx = RtpReceiver::new(ReceiverConfig {
        audio_pt: 0,
        dtmf_pt: Some(101),
        clock_rate: 8000,
    });
    let mut jb: JitterBuffer<Vec<u8>> = JitterBuffer::new(JitterConfig::default());
    report("RTP parse + stats + jitter buffer", &mut |i| {
        let now = t0 + Duration::from_millis(i as u64 * 20);
        if let Received::Media { packet, .. } = rx.on_packet(&pkts[i], now) {
            let h = &packet.header;
            jb.push(h.ssrc, h.timestamp, 160, packet.payload.to_vec(), now);
        }
        while let Some(f) = jb.poll(now) {
            std::hint::black_box(f);
        }
    });
    let mut player = PromptPlayer::new(IdleFill::ComfortNoise(2));
    player.enqueue(PlayRequest {
        id: 1,
        prompt: Prompt::from_pcm(pcm.to_vec()),
        stop_on_digit: false,
        looped: true,
    });
    let mut f = [0i16; FRAME];
    report("prompt frame (comfort-noise idle)", &mut |_| {
        player.next_frame(&mut f);
    });
    let mut mixer = StereoMixer::new(10_000);
    report("stereo mix both channels", &mut |i| {
        let at = i as u64 * 20;
        mixer.push(Channel::Caller, at, &frames[i % frames.len()]);
        mixer.push(Channel::Other, at, &frames[(i + 7) % frames.len()]);
        if i % 10 == 9 {
            std::hint::black_box(mixer.take_until_ms(at.saturating_sub(100)));
        }
    });
}
