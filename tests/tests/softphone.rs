//! The browser softphone end to end (issue 11): real Chromium running /phone/ (JsSIP over
//! SIP WebSocket, WebRTC media through the host's str0m leg) beside a sipp desk phone, both
//! registered as 1001. A sipp caller sends noise as RTP; the browser's fake microphone plays
//! other noise. Both devices ring, the browser answers, the desk phone gets CANCEL, the
//! browser hears the caller (WebRTC stats), and the stereo recording holds the caller on the
//! left and the browser's microphone on the right.

use std::time::{Duration, Instant};

use madoguchi_tests::audio::{channels, finished_recordings};
use madoguchi_tests::browser::BrowserTest;
use madoguchi_tests::ports::free_port;
use madoguchi_tests::signal::{best_correlation, noise, write_pcap, write_wav};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{Server, ServerOptions};

#[test]
fn browser_and_desk_phone_ring_browser_answers_and_is_recorded() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let caller_sent = noise(0x1111, 8);
    let browser_sent = noise(0x3333, 4);
    write_pcap(
        &work.path().join("caller-tone.pcap"),
        &caller_sent,
        0x1111_1111,
    );
    let wav = work.path().join("browser.wav");
    write_wav(&wav, &browser_sent, 8000);
    let ws = format!("ws:127.0.0.1:{}", free_port());
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        // Both algorithms offered: sipp (UDP) answers the first, MD5; JsSIP (WebSocket) the
        // last, so over WebSocket the host lists MD5 last.
        extra_args: vec![
            "--digest-algorithms".into(),
            "MD5,SHA-256".into(),
            "--sip".into(),
            ws,
        ],
        ..ServerOptions::default()
    })
    .unwrap();
    let desk = Device::start(
        server.sip,
        "1001",
        "zama1001",
        Sipp::new("device_ring.xml", server.sip),
    )
    .unwrap();
    let ready = work.path().join("ready");
    let stats = work.path().join("stats.json");
    let browser = BrowserTest::new("softphone.mjs", &server)
        .env("SOFTPHONE_READY", ready.to_string_lossy())
        .env("SOFTPHONE_STATS", stats.to_string_lossy())
        .env("SOFTPHONE_WAV", wav.to_string_lossy());
    let page = std::thread::spawn(move || browser.run());
    let t0 = Instant::now();
    while !ready.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120) && !page.is_finished(),
            "the page did not register; server log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Sipp::new("caller_tone.xml", server.sip)
        .service("1001")
        .set("hold_ms", "6000")
        .cwd(work.path())
        .run()
        .unwrap();
    let out = page.join().unwrap();
    if let Err(e) = &out {
        panic!("browser: {e}\nserver log:\n{}", server.log_text());
    }
    desk.finish().unwrap();
    let got: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    println!("browser inbound: {got}");
    assert!(got["packets"].as_u64().unwrap() >= 100);
    assert!(got["energy"].as_f64().unwrap() > 0.001);

    let file = finished_recordings(&data.path().join("recordings"), 1).remove(0);
    let (left, right) = channels(&file);
    let part = |x: &[i16], from: usize| -> Vec<f64> {
        x[from..from + 4000].iter().map(|&v| v as f64).collect()
    };
    let caller_ref = part(&caller_sent, 8000);
    let browser_ref = part(&browser_sent, 8000);
    let (left_caller, _) = best_correlation(&left, &caller_ref);
    let (right_browser, _) = best_correlation(&right, &browser_ref);
    let (left_browser, _) = best_correlation(&left, &browser_ref);
    let (right_caller, _) = best_correlation(&right, &caller_ref);
    println!(
        "left~caller {left_caller:.3}, right~browser {right_browser:.3}; \
         left~browser {left_browser:.3}, right~caller {right_caller:.3}"
    );
    assert!(left_caller > 0.9, "left channel (caller): {left_caller:.3}");
    assert!(
        right_browser > 0.5,
        "right channel (the browser's microphone): {right_browser:.3}"
    );
    assert!(
        left_browser < 0.2,
        "the browser leaked into the left channel"
    );
    assert!(
        right_caller < 0.2,
        "the caller leaked into the right channel"
    );
}

/// The Zama demo on a Wednesday at 10:00 with a `ws:` listener; city hall's queue has
/// `member` only. Returns the server, its admin token, the work dir and the browser's WAV.
fn zama(member: &str) -> (Server, String, tempfile::TempDir, std::path::PathBuf) {
    use madoguchi_tests::ivr::{create_token, ivr_server_args, zama_bundle};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let token = create_token(&data).unwrap();
    let wav = dir.path().join("browser.wav");
    write_wav(&wav, &noise(0x3333, 4), 8000);
    let config = dir.path().join("madoguchi.toml");
    std::fs::write(
        &config,
        format!("[[queue]]\nname = \"mynumber\"\nmembers = [\"{member}\"]\nfallback = \"scenario\"\nwrap_up_ms = 0\nmax_wait_ms = 30000\nring_timeout_ms = 20000\n"),
    )
    .unwrap();
    let (_, scenario) = zama_bundle();
    let server = Server::start(ServerOptions {
        data: Some(data),
        extra_args: [
            ivr_server_args(Some(&config), &scenario),
            vec![
                "--clock".into(),
                "2027-01-06T10:00:00+09:00".into(),
                "--sip".into(),
                format!("ws:127.0.0.1:{}", free_port()),
            ],
        ]
        .concat(),
        ..ServerOptions::default()
    })
    .unwrap();
    (server, token, dir, wav)
}

/// The browser calls the Zama DID (WebRTC caller leg answered by the IVR), presses 2 on the
/// page (SIP INFO), reaches 1002 through the city hall queue, holds and resumes, hangs up.
#[test]
fn browser_dials_the_did_walks_the_menu_reaches_1002_and_holds() {
    use madoguchi_tests::ivr::Api;
    let (server, token, dir, wav) = zama("1002");
    // 1002 sends noise (40 s) once it answers: what the page hears after the transfer.
    write_pcap(
        &dir.path().join("device-tone.pcap"),
        &noise(0x2222, 40),
        0x2222_2222,
    );
    let staff = Device::start(
        server.sip,
        "1002",
        "zama1002",
        Sipp::new("device_tone.xml", server.sip)
            .set("answer_ms", "0")
            .option("-timeout", "120s")
            .cwd(dir.path()),
    )
    .unwrap();
    let out = BrowserTest::new("softphone-ivr.mjs", &server)
        .token(&token)
        .env("SOFTPHONE_DID", "0462000000")
        .env("SOFTPHONE_WAV", wav.to_string_lossy())
        .run();
    if let Err(e) = &out {
        panic!("browser: {e}\nserver log:\n{}", server.log_text());
    }
    // 1002 answered and got the page's BYE.
    staff.finish().unwrap();
    let api = Api::new(server.http, &token);
    let (_, calls) = api.get("/calls?limit=5&kind=ivr").unwrap();
    let text = calls.to_string();
    assert!(text.contains("transferred:queue:mynumber"), "{text}");
}

/// A queue call rings the browser of a logged-in member (1001), which shows the caller's
/// number and IVR path, answers and hears the caller.
#[test]
fn a_queue_call_rings_the_members_browser_with_the_ivr_path() {
    use madoguchi_tests::ivr::IvrCaller;
    let (server, token, dir, wav) = zama("1001");
    let ready = dir.path().join("ready");
    let browser = BrowserTest::new("softphone-queue.mjs", &server)
        .token(&token)
        .env("SOFTPHONE_READY", ready.to_string_lossy())
        .env("SOFTPHONE_WAV", wav.to_string_lossy());
    let page = std::thread::spawn(move || browser.run());
    let t0 = Instant::now();
    while !ready.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120) && !page.is_finished(),
            "the page did not register"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Key 2 (renewal → city hall) 11 s after the answer; then the queue rings the page.
    IvrCaller::new("queue-caller", "0462001234", &[(11_000, '2')], 35_000)
        .spawn(server.sip, "0462000000", dir.path())
        .unwrap()
        .wait()
        .unwrap();
    let out = page.join().unwrap();
    if let Err(e) = &out {
        panic!("browser: {e}\nserver log:\n{}", server.log_text());
    }
}

/// A browser that vanishes mid-call (page closed, no BYE) ends the call within the RTP
/// timeout (30 s, checked every 5 s); the caller gets the host's BYE and the recording is
/// finished and kept.
#[test]
fn a_vanished_browser_ends_the_call_and_keeps_the_recording() {
    use madoguchi_tests::ivr::IvrCaller;
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let wav = work.path().join("browser.wav");
    write_wav(&wav, &noise(0x3333, 4), 8000);
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        extra_args: vec!["--sip".into(), format!("ws:127.0.0.1:{}", free_port())],
        ..ServerOptions::default()
    })
    .unwrap();
    let ready = work.path().join("ready");
    let gone = work.path().join("gone");
    let browser = BrowserTest::new("softphone-vanish.mjs", &server)
        .env("SOFTPHONE_READY", ready.to_string_lossy())
        .env("SOFTPHONE_GONE", gone.to_string_lossy())
        .env("SOFTPHONE_WAV", wav.to_string_lossy());
    let page = std::thread::spawn(move || browser.run());
    let t0 = Instant::now();
    while !ready.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120) && !page.is_finished(),
            "the page did not register"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The caller would hold for 90 s; the host must end it well before.
    let mut caller = IvrCaller::new("vanish-caller", "0462005555", &[], 90_000)
        .spawn(server.sip, "1001", work.path())
        .unwrap();
    let out = page.join().unwrap();
    if let Err(e) = &out {
        panic!("browser: {e}\nserver log:\n{}", server.log_text());
    }
    let gone_at = Instant::now();
    let ended = loop {
        if let Some(r) = caller.try_finish() {
            break r;
        }
        assert!(
            gone_at.elapsed() < Duration::from_secs(60),
            "the call outlived the browser by 60 s; server log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    println!(
        "call ended {:.1} s after the browser vanished",
        gone_at.elapsed().as_secs_f64()
    );
    ended.unwrap();
    assert!(server.wait_log("browser media gone", 1, Duration::from_secs(5)));
    let file = finished_recordings(&data.path().join("recordings"), 1).remove(0);
    let (left, _) = channels(&file);
    assert!(
        left.len() > 8000 * 3,
        "recording kept: {} samples",
        left.len()
    );
}
