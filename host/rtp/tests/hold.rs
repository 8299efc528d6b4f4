//! Re-INVITE hold / resume / move, music on hold.

mod common;

use common::*;
use madoguchi_media::g711::Law;
use madoguchi_rtp::{LegEvent, Prompt};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn music_on_hold_loops_hold_pauses_resume_continues_the_stream() {
    let (rt, _tmp) = runtime(19300..=19309);
    let phone = Peer::new().await;
    let mut leg = rt.open_leg("hold", LO).await.unwrap();
    leg.answer(phone.offer(&[Law::Ulaw], Some(101)).as_bytes())
        .unwrap();
    // 300 ms of music: 15 frames, a ramp so every frame is distinct.
    let music: Vec<i16> = (0..2400).map(|i| (i as i16 - 1200) * 3).collect();
    let moh = leg.music_on_hold(Prompt::from_pcm(music.clone()));
    let expect: Vec<Vec<i16>> = through(Law::Ulaw, &music)
        .chunks(160)
        .map(|c| c.to_vec())
        .collect();
    // Two turns of the loop heard (polled, bounded for a loaded host).
    let heard_twice = || {
        let frames = frames_on_timeline(&phone.packets(), Law::Ulaw);
        signal_start(&frames, &expect)
            .is_some_and(|s| frames.last().is_some_and(|(k, _)| *k >= s + 30))
    };
    assert!(
        eventually(Duration::from_secs(10), heard_twice).await,
        "music not heard"
    );
    // Every frame is the loop's frame for its place on the timeline (a stalled leg
    // skips frames, and the music moves on with the clock, as a caller would hear).
    let got = phone.packets();
    check_paced_stream(&got);
    let frames = frames_on_timeline(&got, Law::Ulaw);
    let start = signal_start(&frames, &expect).unwrap();
    let looped = frames.iter().filter(|(k, _)| *k >= start);
    for (k, f) in looped {
        assert_eq!(
            *f,
            expect[(k - start) % 15],
            "frame {} of the loop",
            k - start
        );
    }

    // The phone holds us (sendonly): we answer recvonly and go quiet.
    let hold = phone
        .offer(&[Law::Ulaw], Some(101))
        .replace("a=sendrecv", "a=sendonly");
    let answer = leg.update_remote(hold.as_bytes()).unwrap();
    assert!(answer.contains("a=recvonly"), "{answer}");
    let origin = answer.lines().find(|l| l.starts_with("o=")).unwrap();
    assert_eq!(
        origin.split(' ').nth(2),
        Some("2"),
        "version bumped: {origin}"
    );
    assert!(
        quiescent(&phone, Duration::from_millis(200), Duration::from_secs(10)).await,
        "still sending while held"
    );
    let before = phone.packets();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        phone.packets().len(),
        before.len(),
        "nothing sent while held"
    );

    // Resume: same stream, next sequence number, timestamp over the pause, marker set.
    let resume = phone.offer(&[Law::Ulaw], Some(101));
    assert!(leg
        .update_remote(resume.as_bytes())
        .unwrap()
        .contains("a=sendrecv"));
    assert!(
        eventually(Duration::from_secs(10), || phone.packets().len()
            >= before.len() + 10)
        .await,
        "nothing sent after resume"
    );
    let all = phone.packets();
    let (last_before, first_after) = (&all[before.len() - 1], &all[before.len()]);
    assert_eq!(first_after.ssrc, last_before.ssrc);
    assert_eq!(first_after.seq, last_before.seq.wrapping_add(1));
    assert!(first_after.marker);
    // The timestamp jumps over the pause as the wall clock did (loose: a loaded host
    // may deliver either packet late).
    let gap_ms = first_after.ts.wrapping_sub(last_before.ts) / 8;
    let wall_ms = (first_after.at - last_before.at).as_millis() as u32;
    assert!(
        gap_ms >= 800 && gap_ms.abs_diff(wall_ms) <= 250,
        "ts gap {gap_ms} ms, wall {wall_ms} ms"
    );
    // Packets after resume are on the leg's 20 ms grid again.
    check_paced_stream(&all[before.len()..]);

    leg.stop_playback();
    let e = wait_event(&mut leg, Duration::from_secs(10), |e| {
        matches!(e, LegEvent::PlayStopped(_))
    })
    .await;
    assert_eq!(e, Some(LegEvent::PlayStopped(moh)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_style_hold_and_moving_the_media() {
    let (rt, _tmp) = runtime(19310..=19319);
    let phone = Peer::new().await;
    let moved = Peer::new().await;
    let leg = rt.open_leg("move", LO).await.unwrap();
    leg.answer(phone.offer(&[Law::Ulaw], None).as_bytes())
        .unwrap();
    // RFC 2543 hold: c=0.0.0.0.
    let hold = phone
        .offer(&[Law::Ulaw], None)
        .replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    leg.update_remote(hold.as_bytes()).unwrap();
    assert!(quiescent(&phone, Duration::from_millis(200), Duration::from_secs(10)).await);
    let n = phone.packets().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(phone.packets().len(), n);
    // Resume at another address (e.g. a transfer at an SBC): media follows.
    leg.update_remote(moved.offer(&[Law::Ulaw], None).as_bytes())
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || moved.packets().len() >= 10).await);
    assert_eq!(phone.packets().len(), n);
    assert_eq!(leg.stats().await.unwrap().remote, Some(moved.addr));
    // Same offer again (session refresh): answer unchanged, no error.
    let a1 = leg
        .update_remote(moved.offer(&[Law::Ulaw], None).as_bytes())
        .unwrap();
    let a2 = leg
        .update_remote(moved.offer(&[Law::Ulaw], None).as_bytes())
        .unwrap();
    assert_eq!(a1, a2);
}
