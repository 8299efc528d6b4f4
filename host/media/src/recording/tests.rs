use super::writer::Sink;
use super::*;
use crate::wav::read_wav;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::io;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn tmpdir() -> (tempfile::TempDir, Dir) {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open_ambient_dir(t.path(), ambient_authority()).unwrap();
    (t, d)
}

/// Chunk of `frames` frames at `start`, left = low 15 bits of the frame index, right = negated.
fn pattern_chunk(start: u64, frames: u64) -> Chunk {
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

fn frame_at(audio: &[i16], i: usize) -> (i16, i16) {
    (audio[2 * i], audio[2 * i + 1])
}

#[test]
fn writes_finishes_renames_and_hashes() {
    let (_t, dir) = tmpdir();
    let mut mixer = StereoMixer::new(10_000);
    let mut w = RecordingWriter::create(&dir, "call-0001", RecordingConfig::default()).unwrap();
    assert!(dir.exists("call-0001.wav.part"));
    for i in 0..150u64 {
        mixer.push(Channel::Caller, i * 20, &[100; 160]);
        mixer.push(Channel::Other, i * 20 + 10, &[-100; 160]);
        if i % 10 == 9 {
            if let Some(c) = mixer.take_until_ms(i * 20 - 40) {
                w.write(c);
            }
        }
    }
    if let Some(c) = mixer.finish() {
        w.write(c);
    }
    let s = w.finish();
    assert!(s.complete, "{:?}", s.problems);
    assert_eq!(s.file_name, "call-0001.wav");
    assert!(!dir.exists("call-0001.wav.part"));
    assert_eq!(s.duration_ms, 3010);
    let bytes = dir.read("call-0001.wav").unwrap();
    assert_eq!(s.bytes, bytes.len() as u64);
    use sha2::Digest;
    assert_eq!(s.sha256, hex(&sha2::Sha256::digest(&bytes)));
    let wav = read_wav(&bytes).unwrap();
    assert_eq!((wav.channels, wav.sample_rate), (2, 8000));
    assert_eq!(frame_at(&wav.samples, 0), (100, 0));
    assert_eq!(frame_at(&wav.samples, 80), (100, -100));
    assert_eq!(frame_at(&wav.samples, 150 * 160 + 79), (0, -100));
}

#[test]
fn bad_names_are_refused_and_existing_recordings_are_not_clobbered() {
    let (tmp, dir) = tmpdir();
    for bad in ["", "../x", "a/b", ".hidden", "x\0y", "é"] {
        assert!(
            matches!(
                RecordingWriter::create(&dir, bad, RecordingConfig::default()),
                Err(RecordingError::BadName(_))
            ),
            "{bad:?}"
        );
    }
    let w = RecordingWriter::create(&dir, "dup", RecordingConfig::default()).unwrap();
    assert!(matches!(
        RecordingWriter::create(&dir, "dup", RecordingConfig::default()),
        Err(RecordingError::Exists(name)) if name == "dup.wav"
    ));
    assert!(w.finish().complete);
    // Finished, it is not replaced either (the final rename would have overwritten it).
    let before = std::fs::read(tmp.path().join("dup.wav")).unwrap();
    assert!(matches!(
        RecordingWriter::create(&dir, "dup", RecordingConfig::default()),
        Err(RecordingError::Exists(_))
    ));
    assert_eq!(std::fs::read(tmp.path().join("dup.wav")).unwrap(), before);
    assert!(!tmp.path().join("dup.wav.part").exists());
}

#[derive(Clone, Default)]
struct Mem {
    buf: Arc<Mutex<Vec<u8>>>,
    headers: Arc<Mutex<Vec<u32>>>,
}

struct MemSink {
    mem: Mem,
    fail_after: Option<usize>,
    gate: Option<Receiver<()>>,
}

impl Sink for MemSink {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(g) = &self.gate {
            if g.recv().is_err() {
                self.gate = None;
            }
        }
        let mut b = self.mem.buf.lock().unwrap();
        if let Some(limit) = self.fail_after {
            if b.len() + data.len() > limit {
                let fits = limit.saturating_sub(b.len());
                b.extend_from_slice(&data[..fits]);
                return Err(io::Error::from_raw_os_error(28));
            }
        }
        b.extend_from_slice(data);
        Ok(())
    }
    fn write_header(&mut self, h: &[u8; 44]) -> io::Result<()> {
        let mut b = self.mem.buf.lock().unwrap();
        if b.len() < 44 {
            b.resize(44, 0);
        }
        b[..44].copy_from_slice(h);
        self.mem
            .headers
            .lock()
            .unwrap()
            .push(u32::from_le_bytes([h[40], h[41], h[42], h[43]]));
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.mem.buf.lock().unwrap().resize(len as usize, 0);
        Ok(())
    }
    fn complete(self: Box<Self>) -> io::Result<(String, u64, String)> {
        use sha2::Digest;
        let b = self.mem.buf.lock().unwrap();
        Ok((
            "mem.wav".into(),
            b.len() as u64,
            hex(&sha2::Sha256::digest(&b[..])),
        ))
    }
}

fn mem_writer(
    fail_after: Option<usize>,
    gate: Option<Receiver<()>>,
    cfg: RecordingConfig,
) -> (RecordingWriter, Mem) {
    let mem = Mem::default();
    let sink = MemSink {
        mem: mem.clone(),
        fail_after,
        gate,
    };
    (
        RecordingWriter::with_sink(Box::new(sink), "mem.wav".into(), cfg).unwrap(),
        mem,
    )
}

#[test]
fn header_sizes_are_rewritten_every_second() {
    let (mut w, mem) = mem_writer(None, None, RecordingConfig::default());
    for i in 0..25 {
        w.write(pattern_chunk(i * 1600, 1600)); // 200 ms each, 5 s total
    }
    let s = w.finish();
    assert!(s.complete);
    let headers = mem.headers.lock().unwrap().clone();
    // Placeholder 0, then one update per 32,000 bytes (5), then the final one.
    assert_eq!(
        headers,
        vec![0, 32_000, 64_000, 96_000, 128_000, 160_000, 160_000]
    );
    assert_eq!(s.duration_ms, 5000);
}

#[test]
fn full_queue_drops_chunks_without_blocking_and_keeps_alignment() {
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let cfg = RecordingConfig {
        queue_chunks: 2,
        header_interval_bytes: 1 << 40,
        seal: None,
    };
    let (mut w, mem) = mem_writer(None, Some(gate_rx), cfg);
    let start = std::time::Instant::now();
    for i in 0..10 {
        w.write(pattern_chunk(i * 160, 160));
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "write() must not block"
    );
    assert!(w.dropped_chunks() >= 7, "dropped {}", w.dropped_chunks());
    drop(gate_tx); // disk catches up
    loop {
        let before = w.dropped_chunks();
        w.write(pattern_chunk(20 * 160, 160));
        if w.dropped_chunks() == before {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let s = w.finish();
    assert!(!s.complete);
    assert!(
        s.problems
            .iter()
            .any(|p| p.contains("dropped because the disk was too slow")),
        "{:?}",
        s.problems
    );
    let bytes = mem.buf.lock().unwrap().clone();
    let wav = read_wav(&bytes).unwrap();
    // 21 chunks of timeline, the dropped ones silent, the last one in its place.
    assert_eq!(wav.samples.len(), 21 * 160 * 2);
    assert_eq!(frame_at(&wav.samples, 0), (1, -1));
    assert_eq!(frame_at(&wav.samples, 15 * 160), (0, 0));
    assert_eq!(frame_at(&wav.samples, 20 * 160), (3201, -3201));
}

#[test]
fn disk_full_keeps_what_was_written() {
    // Room for the header and 1000.5 frames.
    let (mut w, mem) = mem_writer(Some(44 + 4002), None, RecordingConfig::default());
    for i in 0..10 {
        w.write(pattern_chunk(i * 160, 160));
    }
    let s = w.finish();
    assert!(!s.complete);
    assert!(
        s.problems.iter().any(|p| p.contains("write failed")),
        "{:?}",
        s.problems
    );
    let bytes = mem.buf.lock().unwrap().clone();
    let wav = read_wav(&bytes).unwrap();
    // Six whole chunks made it (960 frames); the partial seventh was cut off.
    assert_eq!(wav.samples.len(), 960 * 2);
    assert_eq!(frame_at(&wav.samples, 959), (960, -960));
    assert_eq!(s.duration_ms, 120);
}

#[test]
fn dropped_writer_still_finalises() {
    let (_t, dir) = tmpdir();
    let mut w = RecordingWriter::create(&dir, "dropped", RecordingConfig::default()).unwrap();
    w.write(pattern_chunk(0, 800));
    drop(w);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !dir.exists("dropped.wav") {
        assert!(std::time::Instant::now() < deadline, "not finalised");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Rename happens after fsync; give the hash read a moment to finish, then check content.
    let wav = read_wav(&dir.read("dropped.wav").unwrap()).unwrap();
    assert_eq!(wav.samples.len(), 1600);
}

/// What the writer leaves behind when killed: placeholder header, then audio.
fn crashed_file(frames: u64) -> Vec<u8> {
    let mut v = header(0).to_vec();
    v.extend_from_slice(&pattern_chunk(0, frames).data);
    v
}

#[test]
fn repair_at_every_awkward_truncation_point() {
    let full = crashed_file(300);
    let cuts: Vec<usize> = (0..=full.len())
        .filter(|&n| n <= 120 || n >= full.len() - 9 || n % 37 == 0)
        .collect();
    for cut in cuts {
        let (_t, dir) = tmpdir();
        dir.write("c.wav.part", &full[..cut]).unwrap();
        dir.write("unrelated.wav", b"x").unwrap();
        let rep = repair_unfinished(&dir, None).unwrap();
        assert_eq!(rep.len(), 1, "cut {cut}");
        let r = &rep[0];
        assert_eq!(
            (r.file_name.as_str(), r.from.as_str()),
            ("c.wav", "c.wav.part")
        );
        assert!(!dir.exists("c.wav.part"));
        let bytes = dir.read("c.wav").unwrap();
        let whole = cut.saturating_sub(44) / 4 * 4;
        assert_eq!(bytes.len(), 44 + whole, "cut {cut}");
        assert_eq!(r.bytes, bytes.len() as u64);
        use sha2::Digest;
        assert_eq!(r.sha256, hex(&sha2::Sha256::digest(&bytes)));
        assert_eq!(&bytes[..4], b"RIFF");
        if whole == 0 {
            assert_eq!(
                read_wav(&bytes),
                Err(crate::wav::PromptError::Empty),
                "cut {cut}"
            );
        } else {
            let wav = read_wav(&bytes).unwrap();
            assert_eq!(wav.channels, 2);
            assert_eq!(
                &bytes[44..],
                &full[44..44 + whole],
                "audio prefix kept at cut {cut}"
            );
            assert_eq!(wav.samples.len(), whole / 2);
        }
        assert_eq!(r.duration_ms, (whole / 4 / 8) as u64);
        if cut < 44 {
            assert!(
                r.problems.iter().any(|p| p.contains("header")),
                "cut {cut}: {:?}",
                r.problems
            );
        }
        if (cut.saturating_sub(44)) % 4 != 0 {
            assert!(r
                .problems
                .iter()
                .any(|p| p.contains("partial sample frame")));
        }
    }
}

#[test]
fn repair_keeps_existing_names_and_handles_several_files() {
    let (_t, dir) = tmpdir();
    dir.write("a.wav", b"finished earlier").unwrap();
    dir.write("a.wav.part", crashed_file(80)).unwrap();
    dir.write("b.wav.part", crashed_file(8000)).unwrap();
    dir.write(".wav.part", b"").unwrap();
    let rep = repair_unfinished(&dir, None).unwrap();
    let names: Vec<&str> = rep.iter().map(|r| r.file_name.as_str()).collect();
    assert_eq!(names, ["a.recovered-1.wav", "b.wav"]);
    assert_eq!(rep[1].duration_ms, 1000);
    assert_eq!(dir.read("a.wav").unwrap(), b"finished earlier");
    assert!(repair_unfinished(&dir, None).unwrap().is_empty());
}

#[test]
fn writer_part_file_is_repairable_mid_call() {
    // A real writer that is still running: its .part file at any moment is repairable.
    let (_t, dir) = tmpdir();
    let mut w = RecordingWriter::create(&dir, "live", RecordingConfig::default()).unwrap();
    for i in 0..30 {
        w.write(pattern_chunk(i * 800, 800));
    }
    // Copy the .part as a crash would leave it (whatever has reached the file so far).
    std::thread::sleep(Duration::from_millis(50));
    let snapshot = dir.read("live.wav.part").unwrap();
    let s = w.finish();
    assert!(s.complete);
    let (_t2, dir2) = tmpdir();
    dir2.write("live.wav.part", &snapshot).unwrap();
    let rep = repair_unfinished(&dir2, None).unwrap();
    assert_eq!(rep.len(), 1);
    let bytes = dir2.read("live.wav").unwrap();
    assert!(read_wav(&bytes).is_ok() || bytes.len() == 44);
}
