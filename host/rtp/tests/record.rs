//! Recording a caller: prompt, then a bridged staff member, caller on the
//! left, what the caller hears on the right, aligned in time.

mod common;

use common::*;
use madoguchi_media::g711::Law;
use madoguchi_media::rtp::RtpSender;
use madoguchi_media::wav::read_wav;
use madoguchi_rtp::{bridge, MediaError, Prompt};
use std::time::{Duration, Instant};

/// Where `seg` (taken at `offset` samples into its signal) sits in `chan`: the signal's start position.
fn locate(chan: &[i16], signal: &[i16], offset: usize, len: usize, max_lag: usize) -> (i64, f64) {
    let seg = &signal[offset..offset + len];
    let (lag, c) = best_lag(chan, seg, max_lag);
    (lag as i64 - offset as i64, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stereo_recording_channels_match_each_side_in_time() {
    let (rt, tmp) = runtime(19200..=19209);
    let pa = Peer::new().await;
    let pb = Peer::new().await;
    let caller = rt.open_leg("rec-caller", LO).await.unwrap();
    let staff = rt.open_leg("rec-staff", LO).await.unwrap();
    caller
        .answer(pa.offer(&[Law::Ulaw], Some(101)).as_bytes())
        .unwrap();
    staff
        .answer(pb.offer(&[Law::Alaw], None).as_bytes())
        .unwrap();

    let rec = caller.record("call-42").await.unwrap();
    assert!(matches!(
        caller.record("again").await,
        Err(MediaError::AlreadyRecording(_))
    ));
    let prompt = noise(9, 4800, 3000); // 600 ms
    caller.play(vec![Prompt::from_pcm(prompt.clone())], false);
    let sa = noise(1, 8000 * 3, 3000); // the caller talks for 3 s from t0
    let sb = noise(2, 12000, 3000); // staff talks 1.5 s from t0 + 1100 ms
    let t0 = Instant::now() + Duration::from_millis(100);
    let mut txa = RtpSender::with_initial(0, 0xA, 1, 0);
    let mut txb = RtpSender::with_initial(8, 0xB, 1, 0);
    let ja = pa.play_script(
        caller.local_rtp(),
        t0,
        rtp_script(&mut txa, Law::Ulaw, &sa, 0, &[], 101),
    );
    tokio::time::sleep_until((t0 + Duration::from_millis(1000)).into()).await;
    let br = bridge(&caller, &staff).unwrap();
    let jb = pb.play_script(
        staff.local_rtp(),
        t0 + Duration::from_millis(1100),
        rtp_script(&mut txb, Law::Alaw, &sb, 0, &[], 101),
    );
    ja.await.unwrap();
    jb.await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let summary = rec.stop().await.unwrap();
    drop(br);

    assert!(summary.complete, "{:?}", summary.problems);
    assert_eq!(summary.file_name, "call-42.wav");
    let bytes = std::fs::read(tmp.path().join("call-42.wav")).unwrap();
    assert_eq!(bytes.len() as u64, summary.bytes);
    let wav = read_wav(&bytes).unwrap();
    assert_eq!((wav.channels, wav.sample_rate), (2, 8000));
    let left: Vec<i16> = wav.samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = wav.samples.iter().skip(1).step_by(2).copied().collect();
    assert!(left.len() >= 8000 * 3, "{} samples", left.len());

    // Left = the caller.
    let ca = through(Law::Ulaw, &sa);
    let (pos_a, c) = locate(&left, &ca, 8000, 1600, 8000 * 2);
    assert!(c > 0.95, "caller on the left: {c}");
    // Right = the prompt first, then the staff member (A-law decoded).
    // The prompt is looked for in four windows: a leg task stalled by a loaded host
    // skips frames (a hole in the recording, the rest in place), which spoils one
    // window at most.
    let heard = through(Law::Ulaw, &prompt);
    let (pos_p, c) = [0, 1200, 2400, 3600]
        .map(|at| locate(&right, &heard, at, 1200, 8000))
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert!(c > 0.95, "prompt on the right: {c}");
    let cb = through(Law::Alaw, &sb);
    let (pos_b, c) = locate(&right, &cb, 4000, 1600, 8000 * 3);
    assert!(c > 0.95, "staff on the right: {c}");
    // Not swapped: the staff's audio is not on the left.
    assert!(ncc(&left, &cb[4000..5600], (pos_b + 4000) as usize).abs() < 0.2);
    // Time alignment: staff started 1100 ms after the caller; prompt before both. Each
    // track is placed by when its packets arrived, so allow for a loaded host's delays
    // (100 ms, as the end-to-end recording test does).
    let d = pos_b - pos_a;
    assert!(
        (d - 8800).abs() <= 800,
        "staff {pos_b} - caller {pos_a} = {d} samples, want ~8800"
    );
    assert!(
        pos_p >= 0 && pos_p < pos_a + 800,
        "prompt at {pos_p}, caller at {pos_a}"
    );
    // Duration covers the call.
    assert!(summary.duration_ms >= 2900, "{}", summary.duration_ms);
    // The caller's stats show nothing lost.
    let st = caller.stats().await.unwrap();
    assert_eq!(st.jitter.gaps, 0);
    assert_eq!(st.rtp.lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_leg_finishes_the_recording() {
    let (rt, tmp) = runtime(19210..=19213);
    let pa = Peer::new().await;
    let caller = rt.open_leg("rec-close", LO).await.unwrap();
    caller
        .answer(pa.offer(&[Law::Ulaw], None).as_bytes())
        .unwrap();
    let rec = caller.record("closed-early").await.unwrap();
    caller.play(vec![Prompt::from_pcm(noise(4, 4000, 2000))], false);
    tokio::time::sleep(Duration::from_millis(700)).await;
    caller.close().await;
    let summary = rec.stop().await.unwrap();
    assert!(summary.complete, "{:?}", summary.problems);
    assert!(summary.duration_ms >= 300, "{}", summary.duration_ms);
    assert!(tmp.path().join("closed-early.wav").exists());
    assert!(!tmp.path().join("closed-early.wav.part").exists());
    // Bad names are refused before anything is created.
    let leg = rt.open_leg("rec-bad", LO).await.unwrap();
    assert!(matches!(
        leg.record("../escape").await,
        Err(MediaError::Recording(_))
    ));
    // ... and the leg can record after a refusal.
    let ok = leg.record("fine").await.unwrap();
    assert!(ok.stop().await.unwrap().complete);
    // A stopped recording frees the leg at once, before its file is durable: the next one
    // starts while the first is still being finished, and both files come out whole.
    let first = leg.record("segment-1").await.unwrap();
    let finishing = first.stop();
    let second = leg.record("segment-2").await.unwrap();
    assert!(matches!(
        leg.record("segment-3").await,
        Err(MediaError::AlreadyRecording(_))
    ));
    for (summary, name) in [
        (finishing.await.unwrap(), "segment-1.wav"),
        (second.stop().await.unwrap(), "segment-2.wav"),
    ] {
        assert!(summary.complete, "{name}: {:?}", summary.problems);
        assert_eq!(summary.file_name, name);
        assert!(tmp.path().join(name).exists());
    }
}

#[test]
fn unfinished_recordings_are_repaired_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    // A crash left a .part file: header with zero sizes and 1 s of stereo audio.
    let mut bytes = madoguchi_media::wav::pcm_header(2, 8000, 16, 0).to_vec();
    bytes.extend(std::iter::repeat_n(0x11u8, 32_000));
    std::fs::write(tmp.path().join("crashed.wav.part"), &bytes).unwrap();
    let dir = cap_std::fs::Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
    let rt = madoguchi_rtp::MediaRuntime::new(madoguchi_rtp::MediaConfig::new(19220..=19223, dir))
        .unwrap();
    let rep = rt.repaired();
    assert_eq!(rep.len(), 1);
    assert_eq!(rep[0].file_name, "crashed.wav");
    assert_eq!(rep[0].duration_ms, 1000);
    assert!(tmp.path().join("crashed.wav").exists());
}

/// A 64 KiB tmpfs: room for ~1.5 s of stereo audio. Unmounted on drop.
struct TinyDisk(std::path::PathBuf);

impl TinyDisk {
    fn mount() -> Option<TinyDisk> {
        let path = std::env::temp_dir().join(format!("rtp-full-{}", std::process::id()));
        std::fs::create_dir_all(&path).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&path);
            return None;
        }
        Some(TinyDisk(path))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_marks_the_recording_incomplete_and_the_call_goes_on() {
    let Some(disk) = TinyDisk::mount() else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)");
        return;
    };
    let dir = cap_std::fs::Dir::open_ambient_dir(&disk.0, cap_std::ambient_authority()).unwrap();
    let rt = madoguchi_rtp::MediaRuntime::new(madoguchi_rtp::MediaConfig::new(19230..=19233, dir))
        .unwrap();
    let phone = Peer::new().await;
    let leg = rt.open_leg("full", LO).await.unwrap();
    leg.answer(phone.offer(&[Law::Ulaw], None).as_bytes())
        .unwrap();
    let rec = leg.record("too-long").await.unwrap();
    leg.play(vec![Prompt::from_pcm(noise(5, 8000 * 3, 2000))], false);
    let mut tx = RtpSender::with_initial(0, 9, 1, 0);
    let script = rtp_script(&mut tx, Law::Ulaw, &noise(6, 8000 * 3, 2000), 0, &[], 101);
    phone
        .play_script(leg.local_rtp(), Instant::now(), script)
        .await
        .unwrap();
    let summary = rec.stop().await.unwrap();
    assert!(!summary.complete, "{summary:?}");
    assert!(!summary.problems.is_empty());
    // The call went on: our stream kept flowing, the caller's audio was all received.
    let stats = leg.stats().await.unwrap();
    assert_eq!(stats.rtp.packets, 150);
    assert!(phone.packets().len() >= 140, "{}", phone.packets().len());
    assert_eq!(stats.send_errors, 0);
    leg.close().await;
}
