//! Recording of bridged calls through the real server (R-REC-1): a stereo WAV per call with
//! its metadata in the store, and nothing lost when the server is killed mid-call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use madoguchi_tests::audio::{finished_recordings, recording_wav};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{server_bin, Server, ServerOptions};

/// The fields of a recording's call record this test reads.
#[derive(Debug)]
struct Meta {
    file_name: String,
    duration_ms: u64,
    bytes: u64,
    sha256: String,
    complete: bool,
    problems: String,
    /// The whole JSON line.
    raw: String,
}

fn recordings_of(data: &Path) -> Vec<Meta> {
    let out = Command::new(server_bin())
        .args(["recording", "list", "--data"])
        .arg(data)
        .output()
        .expect("run madoguchi recording list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let field = |k: &str| -> String {
                let key = format!("\"{k}\":");
                let rest = &l[l.find(&key).unwrap_or_else(|| panic!("{k} in {l}")) + key.len()..];
                if let Some(r) = rest.strip_prefix('"') {
                    r[..r.find('"').unwrap()].to_string()
                } else if let Some(r) = rest.strip_prefix('[') {
                    r[..r.find(']').unwrap()].to_string()
                } else {
                    rest[..rest.find([',', '}']).unwrap()].to_string()
                }
            };
            Meta {
                file_name: field("file_name"),
                duration_ms: field("duration_ms").parse().unwrap(),
                bytes: field("bytes").parse().unwrap(),
                sha256: field("sha256"),
                complete: field("complete") == "true",
                problems: field("problems"),
                raw: l.to_string(),
            }
        })
        .collect()
}

/// Checks a recording (sealed on disk: decrypted and authenticated first) is a well-formed
/// 8 kHz 16-bit stereo WAV whose sizes match, and returns its duration in ms.
fn check_wav(path: &Path) -> u64 {
    let b = recording_wav(path);
    assert!(b.len() >= 44, "{}: too short", path.display());
    assert_eq!(&b[0..4], b"RIFF");
    assert_eq!(&b[8..12], b"WAVE");
    let riff = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff, b.len() - 8, "{}: RIFF size", path.display());
    let channels = u16::from_le_bytes(b[22..24].try_into().unwrap());
    let rate = u32::from_le_bytes(b[24..28].try_into().unwrap());
    let bits = u16::from_le_bytes(b[34..36].try_into().unwrap());
    assert_eq!((channels, rate, bits), (2, 8000, 16), "{}", path.display());
    // Find the data chunk and check its size matches what is on disk.
    let mut pos = 12;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let size = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap()) as usize;
        if id == b"data" {
            assert_eq!(pos + 8 + size, b.len(), "{}: data size", path.display());
            return (size as u64 / 4) * 1000 / 8000;
        }
        pos += 8 + size + (size & 1);
    }
    panic!("{}: no data chunk", path.display())
}

/// SHA-256 of the WAV a recording holds (decrypted when sealed), as the call record keeps it.
fn sha256_hex(path: &Path) -> String {
    let wav = std::env::temp_dir().join(format!(
        "madoguchi-wav-{}-{}",
        std::process::id(),
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&wav, recording_wav(path)).unwrap();
    let out = Command::new("sha256sum").arg(&wav).output().unwrap();
    let _ = std::fs::remove_file(&wav);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

fn wavs(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.to_string_lossy().ends_with(suffix));
    v.sort();
    v
}

#[test]
fn a_bridged_call_is_recorded_with_its_call_record() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    })
    .unwrap();
    let desk = Device::answering(server.sip, "1001", "zama1001").unwrap();
    Sipp::new("caller.xml", server.sip)
        .service("1001")
        .set("hold_ms", "1500")
        .run()
        .unwrap();
    desk.finish().unwrap();
    // The recording is finished off the SIP path: wait for the file to leave its .part name.
    let dir = data.path().join("recordings");
    finished_recordings(&dir, 1);
    // The metadata write follows the rename.
    assert!(
        server.wait_log("recording metadata stored", 1, Duration::from_secs(30)),
        "{}",
        server.log_text()
    );
    drop(server);
    let metas = recordings_of(data.path());
    assert_eq!(metas.len(), 1, "{metas:?}");
    let m = &metas[0];
    assert!(m.complete, "{m:?}");
    let file = dir.join(&m.file_name);
    let duration = check_wav(&file);
    assert_eq!(duration, m.duration_ms);
    assert!(
        (1300..=5000).contains(&duration),
        "the call was held 1.5 s; recorded {duration} ms"
    );
    assert_eq!(
        sha256_hex(&file),
        m.sha256,
        "stored checksum matches the file"
    );
    assert_eq!(recording_wav(&file).len() as u64, m.bytes);
    assert!(
        m.raw.contains("\"did\":\"1001\""),
        "the dialled number is kept: {}",
        m.raw
    );
    // Both legs' RTP statistics (loss, jitter, drops, pacing) are in the call record.
    assert_eq!(m.raw.matches("\"pace_p99_us\"").count(), 2, "{}", m.raw);

    // At rest (issue 14): private modes, sealed audio, tampering refused.
    check_modes(data.path(), &file);
    let raw = std::fs::read(&file).unwrap();
    assert_eq!(&raw[..6], b"MDGREC", "sealed on disk, not a plain WAV");
    let export = |name: &str| {
        Command::new(server_bin())
            .args(["recording", "export", name, "--out"])
            .arg(data.path().join("export.wav"))
            .arg("--data")
            .arg(data.path())
            .output()
            .unwrap()
    };
    let out = export(&m.file_name);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(data.path().join("export.wav")).unwrap(),
        recording_wav(&file),
        "export gives the decrypted WAV"
    );
    // One flipped byte in the middle of the audio: refused as tampered, nothing written.
    let mut bad = raw.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(dir.join("tampered.wav"), &bad).unwrap();
    std::fs::remove_file(data.path().join("export.wav")).unwrap();
    let out = export("tampered.wav");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("tampered"), "{err}");
    assert!(!data.path().join("export.wav").exists());
}

/// Data dir and recordings dir 0700; store, key file and recording 0600.
fn check_modes(data: &Path, recording: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data), 0o700, "data dir");
    assert_eq!(mode(&data.join("recordings")), 0o700, "recordings dir");
    assert_eq!(mode(&data.join("madoguchi.redb")), 0o600, "store");
    assert_eq!(mode(&data.join("master.key")), 0o600, "master key");
    assert_eq!(mode(recording), 0o600, "recording");
}

#[test]
fn kill_9_mid_call_leaves_every_recording_playable() {
    use std::os::unix::fs::PermissionsExt;
    const CALLS: usize = 20;
    let data = tempfile::tempdir().unwrap();
    let opts = || ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    };
    let mut server = Server::start(opts()).unwrap();
    let sip = server.sip;
    let uas = Sipp::new("device_answer.xml", sip)
        .set("answer_ms", "0")
        .arg("-m")
        .arg(&CALLS.to_string())
        .arg("-timeout")
        .arg("120s");
    let desk = Device::start(sip, "1001", "zama1001", uas).unwrap();
    let callers = Sipp::new("caller.xml", sip)
        .service("1001")
        .set("hold_ms", "60000")
        .arg("-m")
        .arg(&CALLS.to_string())
        .arg("-r")
        .arg("20")
        .arg("-l")
        .arg(&CALLS.to_string())
        .arg("-timeout")
        .arg("120s")
        .spawn()
        .unwrap();
    // Wait until all 20 calls are being recorded, let them run, then crash the server.
    let dir = data.path().join("recordings");
    // When each file appeared (polled every 20 ms): its recording's start.
    let t0 = Instant::now();
    let mut started: HashMap<String, Duration> = HashMap::new();
    while started.len() < CALLS {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "only {} recordings started",
            started.len()
        );
        for part in wavs(&dir, ".part") {
            let name = part.file_name().unwrap().to_string_lossy().to_string();
            let name = name.trim_end_matches(".part").to_string();
            started.entry(name).or_insert_with(|| t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Long enough that a broken flush (losing everything since the start) cannot pass
    // the loss bound below.
    std::thread::sleep(Duration::from_secs(6));
    let killed_at = t0.elapsed();
    server.kill9();
    drop(callers);
    drop(desk);
    // Restart on the same data: the media runtime repairs every unfinished file.
    let server = Server::start(ServerOptions {
        users: vec![],
        sip_port: Some(sip.port()),
        ..opts()
    })
    .unwrap();
    drop(server);
    assert!(
        wavs(&dir, ".part").is_empty(),
        "unrepaired files: {:?}",
        wavs(&dir, ".part")
    );
    let files = wavs(&dir, ".wav");
    assert_eq!(files.len(), CALLS, "{files:?}");
    let metas = recordings_of(data.path());
    assert_eq!(metas.len(), CALLS, "one call record per recording");
    // Each recording holds its call from its start until the kill, give or take the
    // 20 ms polling, the flush interval and a loaded machine (at least 6 s were run).
    let mut losses = Vec::new();
    for m in &metas {
        let file = dir.join(&m.file_name);
        let duration = check_wav(&file);
        assert_eq!(duration, m.duration_ms, "{m:?}");
        let since_start = killed_at - started[&m.file_name];
        let lost = since_start.as_millis() as i64 - duration as i64;
        assert!(
            (-1500..=2000).contains(&lost),
            "{}: {duration} ms recorded of the {} ms between its start and the kill",
            m.file_name,
            since_start.as_millis()
        );
        losses.push(lost);
        assert!(
            !m.complete && m.problems.contains("repaired"),
            "marked in the call record: {m:?}"
        );
        assert_eq!(sha256_hex(&file), m.sha256);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    losses.sort();
    println!(
        "audio lost at the kill per recording: {} to {} ms",
        losses[0],
        losses[losses.len() - 1]
    );
}
