//! The line-test number (`*97`): a call the host answers itself. sipp presses keys as RFC
//! 4733 events (Debian's `dtmf_2833_*.pcap`) and echoes our RTP back (`-rtp_echo`): the keys
//! must arrive in order, and the host's tone must reach sipp (it comes back on the left
//! channel of the call's recording).

use std::time::{Duration, Instant};

use madoguchi_tests::audio::{channels, finished_recordings, power, ulaw};
use madoguchi_tests::sipp::Sipp;
use madoguchi_tests::{Server, ServerOptions};

fn line_test_result(server: &Server, nth: usize) -> String {
    let t0 = Instant::now();
    loop {
        let log = server.log_text();
        if let Some(line) = log
            .lines()
            .filter(|l| l.contains("line test finished"))
            .nth(nth)
        {
            return line.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no line test result; log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_pressed_as_rfc4733_arrive_in_order() {
    let server = Server::start(ServerOptions::default()).unwrap();
    Sipp::new("caller_dtmf.xml", server.sip)
        .service("*97")
        .run()
        .unwrap();
    let finished = line_test_result(&server, 0);
    assert!(finished.contains("digits=12#"), "keys in order: {finished}");
}

#[test]
fn the_host_tone_reaches_the_caller() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    })
    .unwrap();
    // sipp sends back whatever RTP it receives (-rtp_echo): if the host's tone reached sipp it
    // returns on the recording's left channel (what the caller sent).
    Sipp::new("caller.xml", server.sip)
        .service("*97")
        .set("hold_ms", "2500")
        .arg("-rtp_echo")
        .run()
        .unwrap();
    line_test_result(&server, 0);
    let file = finished_recordings(&data.path().join("recordings"), 1).remove(0);
    let (left, right) = channels(&file);
    let (l440, r440) = (power(&left, 440.0), power(&right, 440.0));
    let l_off = power(&left, 1777.0);
    println!("440 Hz: sent {r440:.3e}, echoed back {l440:.3e} (off-tone {l_off:.3e})");
    assert!(r440 > 1e9, "the host played its tone");
    assert!(
        l440 > 0.1 * r440 && l440 > 100.0 * l_off,
        "the tone reached sipp and came back"
    );
}

#[test]
fn an_offer_with_no_common_codec_gets_488() {
    let server = Server::start(ServerOptions::default()).unwrap();
    Sipp::new("caller_nocodec.xml", server.sip)
        .service("*97")
        .run()
        .unwrap();
}

#[test]
fn a_key_sent_as_sip_info_arrives() {
    let server = Server::start(ServerOptions::default()).unwrap();
    Sipp::new("caller_info.xml", server.sip)
        .service("*97")
        .set("info_digit", "7")
        .set("hold_ms", "800")
        .run()
        .unwrap();
    let finished = line_test_result(&server, 0);
    assert!(finished.contains("digits=7"), "INFO key: {finished}");
}

/// An 8 kHz µ-law WAV (format 7) of a `freq` tone, for sipp's `rtp_stream`.
fn ulaw_wav(freq: f64, ms: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..ms * 8)
        .map(|i| {
            let x = 8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin();
            ulaw(x as i16)
        })
        .collect();
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(38 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&18u32.to_le_bytes());
    w.extend_from_slice(&7u16.to_le_bytes()); // µ-law
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8u16.to_le_bytes());
    w.extend_from_slice(&0u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

/// sipp streams audio with its own RTP streamer (`rtp_stream`) into a host-answered call:
/// the caller's channel of the recording carries it.
#[test]
fn audio_streamed_by_sipp_reaches_the_host() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("caller-stream.wav"), ulaw_wav(700.0, 3000)).unwrap();
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    })
    .unwrap();
    Sipp::new("caller_stream.xml", server.sip)
        .service("*97")
        .set("hold_ms", "2500")
        .cwd(work.path())
        .run()
        .unwrap();
    line_test_result(&server, 0);
    let file = finished_recordings(&data.path().join("recordings"), 1).remove(0);
    let (left, right) = channels(&file);
    let (l700, r700, l_off) = (
        power(&left, 700.0),
        power(&right, 700.0),
        power(&left, 1777.0),
    );
    println!("700 Hz: caller channel {l700:.3e}, host channel {r700:.3e} (off-tone {l_off:.3e})");
    assert!(l700 > 1e9, "the streamed tone is on the caller's channel");
    assert!(l700 > 100.0 * l_off && l700 > 100.0 * r700);
}
