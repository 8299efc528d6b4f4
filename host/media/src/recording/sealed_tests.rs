//! Sealed recordings: round trip, modes, crash repair at every cut, tampering, rotation.

use super::sealed::{RecordingKey, HEADER_LEN, SEGMENT, SEGMENT_SEALED};
use super::*;
use crate::wav::read_wav;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::io::{Read, Seek, SeekFrom};

fn tmpdir() -> (tempfile::TempDir, Dir) {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open_ambient_dir(t.path(), ambient_authority()).unwrap();
    (t, d)
}

fn key(b: u8) -> RecordingKey {
    RecordingKey::new([b; 32])
}

fn sealed_cfg(k: &RecordingKey) -> RecordingConfig {
    RecordingConfig {
        seal: Some(k.clone()),
        ..RecordingConfig::default()
    }
}

fn pattern(start: u64, frames: u64) -> Chunk {
    let mut data = Vec::with_capacity(frames as usize * 4);
    for i in start..start + frames {
        let v = (i % 30_000) as i16 + 1;
        data.extend_from_slice(&v.to_le_bytes());
        data.extend_from_slice(&(-v).to_le_bytes());
    }
    Chunk {
        start_frame: start,
        data,
    }
}

/// A sealed recording of `frames` frames named `name`.
fn record(dir: &Dir, name: &str, k: &RecordingKey, frames: u64) -> RecordingSummary {
    let mut w = RecordingWriter::create(dir, name, sealed_cfg(k)).unwrap();
    let mut at = 0;
    while at < frames {
        let n = 160.min(frames - at);
        w.write(pattern(at, n));
        at += n;
    }
    w.finish()
}

#[test]
fn a_sealed_recording_reads_back_as_the_wav_it_holds_and_is_0600() {
    use std::os::unix::fs::PermissionsExt;
    let (t, dir) = tmpdir();
    let k = key(1);
    for frames in [0, 1, 1999, 2000, 2001, 8000, 12_345] {
        let name = format!("f{frames}");
        let s = record(&dir, &name, &k, frames);
        assert!(s.complete, "{:?}", s.problems);
        assert_eq!(s.duration_ms, frames / 8);
        let path = t.path().join(&s.file_name);
        let raw = std::fs::read(&path).unwrap();
        assert_eq!(s.bytes, 44 + frames * 4, "the size of the WAV it holds");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Not a WAV on disk, and no audio in clear.
        assert_eq!(&raw[..8], sealed::MAGIC);
        let plain = pattern(0, frames).data;
        if frames >= 100 {
            assert!(!raw.windows(32).any(|w| w == &plain[..32]));
        }
        let audio = open_recording(&dir, &s.file_name, Some(&k)).unwrap();
        assert!(audio.is_sealed());
        assert_eq!(audio.len(), 44 + frames * 4);
        let bytes = audio.read_all().unwrap();
        assert_eq!(bytes.len() as u64, 44 + frames * 4);
        if frames == 0 {
            continue;
        }
        let wav = read_wav(&bytes).unwrap();
        assert_eq!(wav.samples.len() as u64, frames * 2);
        let expect: Vec<i16> = plain
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(wav.samples, expect, "{frames} frames");
    }
}

#[test]
fn seeking_reads_the_same_bytes_as_reading_through() {
    let (_t, dir) = tmpdir();
    let k = key(2);
    let s = record(&dir, "seek", &k, 9_000);
    let all = open_recording(&dir, &s.file_name, Some(&k))
        .unwrap()
        .read_all()
        .unwrap();
    let mut r = open_recording(&dir, &s.file_name, Some(&k)).unwrap();
    for at in [0u64, 10, 44, 45, 7_999, 8_044, 20_000, all.len() as u64 - 3] {
        r.seek(SeekFrom::Start(at)).unwrap();
        let mut buf = vec![0u8; 9_000];
        let mut got = Vec::new();
        while got.len() < 9_000 {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.truncate(9_000);
        let end = (at as usize + 9_000).min(all.len());
        assert_eq!(got, all[at as usize..end], "at {at}");
    }
}

#[test]
fn a_flipped_byte_anywhere_is_refused_as_tampered() {
    let (t, dir) = tmpdir();
    let k = key(3);
    let s = record(&dir, "orig", &k, 5_000);
    let raw = std::fs::read(t.path().join(&s.file_name)).unwrap();
    // Header fields, both key slots, the first, a middle and the last segment.
    let spots = [
        3usize,
        12,
        30,
        70,
        120,
        HEADER_LEN as usize + 5,
        HEADER_LEN as usize + SEGMENT + 40,
        raw.len() - 1,
    ];
    for spot in spots {
        let mut bad = raw.clone();
        bad[spot] ^= 0x01;
        dir.write("bad.wav", &bad).unwrap();
        let outcome = open_recording(&dir, "bad.wav", Some(&k))
            .and_then(|a| a.read_all().map_err(sealed::SealedError::Io));
        let Err(err) = outcome else {
            panic!("flip at {spot} not detected");
        };
        let text = err.to_string();
        assert!(
            text.contains("tampered") || text.contains("key"),
            "flip at {spot}: {text}"
        );
    }
    // Cut at a segment boundary: the missing last segment is noticed.
    dir.write(
        "cut.wav",
        &raw[..HEADER_LEN as usize + SEGMENT_SEALED as usize],
    )
    .unwrap();
    let err = open_recording(&dir, "cut.wav", Some(&k)).unwrap_err();
    assert!(err.to_string().contains("tampered"), "{err}");
    // Another key is told apart from tampering.
    let err = open_recording(&dir, &s.file_name, Some(&key(9))).unwrap_err();
    assert!(
        err.to_string().contains("not with the configured key"),
        "{err}"
    );
    let err = open_recording(&dir, &s.file_name, None).unwrap_err();
    assert!(err.to_string().contains("no recordings key"), "{err}");
}

/// kill -9 at any byte: repair keeps every whole segment that authenticates (at most the
/// segment being written is lost) and the result reads back cleanly.
#[test]
fn repair_of_a_sealed_file_cut_anywhere() {
    let (t, dir) = tmpdir();
    let k = key(4);
    // What a killed writer leaves: header and whole non-final segments (no last one).
    let s = record(&dir, "whole", &k, 4 * 2_000 + 700);
    let raw = std::fs::read(t.path().join(&s.file_name)).unwrap();
    let body_end = raw.len() - (700 * 4 + 16);
    let crashed = &raw[..body_end];
    let seg = SEGMENT_SEALED as usize;
    let cuts: Vec<usize> = (HEADER_LEN as usize..=crashed.len())
        .filter(|n| n % 997 == 0 || n % seg < 3 || n % seg > seg - 3)
        .collect();
    for cut in cuts {
        let (_t2, d2) = tmpdir();
        d2.write("c.wav.part", &crashed[..cut]).unwrap();
        let rep = repair_unfinished(&d2, Some(&k)).unwrap();
        assert_eq!(rep.len(), 1, "cut {cut}");
        let whole = (cut - HEADER_LEN as usize) / seg;
        assert_eq!(rep[0].duration_ms, whole as u64 * 250, "cut {cut}");
        let wav = open_recording(&d2, "c.wav", Some(&k))
            .unwrap()
            .read_all()
            .unwrap();
        assert_eq!(wav.len(), 44 + whole * SEGMENT, "cut {cut}");
        assert_eq!(rep[0].bytes, wav.len() as u64);
    }
    // A file whose last segment was written (crash before the rename) keeps everything.
    let (_t3, d3) = tmpdir();
    d3.write("done.wav.part", &raw).unwrap();
    let rep = repair_unfinished(&d3, Some(&k)).unwrap();
    assert_eq!(rep[0].duration_ms, s.duration_ms);
    // Without the key a sealed part is left as it is (logged), not destroyed.
    let (_t4, d4) = tmpdir();
    d4.write("x.wav.part", crashed).unwrap();
    assert!(repair_unfinished(&d4, None).unwrap().is_empty());
    assert!(d4.exists("x.wav.part"));
}

#[test]
fn rotation_rewraps_the_file_key_without_touching_the_audio() {
    let (t, dir) = tmpdir();
    let (old, new) = (key(5), key(6));
    let s = record(&dir, "rot", &old, 3_000);
    let path = t.path().join(&s.file_name);
    let before = std::fs::read(&path).unwrap();
    assert!(sealed::rewrap(&dir, &s.file_name, &old, &new).unwrap());
    let after = std::fs::read(&path).unwrap();
    assert_eq!(
        before[HEADER_LEN as usize..],
        after[HEADER_LEN as usize..],
        "audio untouched"
    );
    let wav = open_recording(&dir, &s.file_name, Some(&new))
        .unwrap()
        .read_all()
        .unwrap();
    assert_eq!(wav.len(), 44 + 3_000 * 4);
    assert!(
        open_recording(&dir, &s.file_name, Some(&old)).is_err(),
        "the old key opens nothing any more"
    );
    // Again: nothing to do, and a second rotation uses the other slot.
    assert!(!sealed::rewrap(&dir, &s.file_name, &old, &new).unwrap());
    let third = key(7);
    assert!(sealed::rewrap(&dir, &s.file_name, &new, &third).unwrap());
    assert!(open_recording(&dir, &s.file_name, Some(&third)).is_ok());
}

#[test]
fn plain_recordings_still_read() {
    let (_t, dir) = tmpdir();
    let mut w = RecordingWriter::create(&dir, "plain", RecordingConfig::default()).unwrap();
    w.write(pattern(0, 800));
    let s = w.finish();
    let a = open_recording(&dir, &s.file_name, Some(&key(1))).unwrap();
    assert!(!a.is_sealed());
    assert_eq!(a.read_all().unwrap(), dir.read(&s.file_name).unwrap());
}
