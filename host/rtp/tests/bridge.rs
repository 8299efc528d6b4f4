//! Two phones bridged through the host: PCMU on one side, PCMA on the
//! other, RFC 4733 across, stream continuity before/after the bridge.

mod common;

use common::*;
use madoguchi_media::g711::{Law, Transcoder};
use madoguchi_media::rtp::RtpSender;
use madoguchi_rtp::{bridge, LegEvent, MediaError};
use std::time::{Duration, Instant};

/// Position of `frames` (payloads) as a contiguous run inside `got`.
fn find_run(got: &[Pkt], frames: &[Vec<u8>]) -> Option<usize> {
    let start = got.iter().position(|p| p.payload == frames[0])?;
    let run: Vec<&Vec<u8>> = got[start..]
        .iter()
        .take(frames.len())
        .map(|p| &p.payload)
        .collect();
    (run.len() == frames.len() && run.iter().zip(frames).all(|(a, b)| *a == b)).then_some(start)
}

fn encoded_frames(law: Law, pcm: &[i16]) -> Vec<Vec<u8>> {
    pcm.chunks(160)
        .map(|f| f.iter().map(|&s| law.encode(s)).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcmu_to_pcma_bridge_with_dtmf_across_and_continuity() {
    let (rt, _tmp) = runtime(19100..=19109);
    let pa = Peer::new().await;
    let pb = Peer::new().await;
    let a = rt.open_leg("caller", LO).await.unwrap();
    let mut b = rt.open_leg("staff", LO).await.unwrap();
    assert!(matches!(bridge(&a, &b), Err(MediaError::NotNegotiated(_))));
    a.answer(pa.offer(&[Law::Ulaw], Some(101)).as_bytes())
        .unwrap();
    let _ = b.offer();
    let b_answer = offer_sdp(pb.addr.port(), &[Law::Alaw], Some(96), "sendrecv");
    b.accept_answer(b_answer.as_bytes()).unwrap();
    assert_eq!(b.negotiated().unwrap().codec, Law::Alaw);
    assert!(matches!(bridge(&a, &a), Err(MediaError::SameLeg)));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let br = bridge(&a, &b).unwrap();
    let sa = noise(1, 8000, 3000);
    let sb = noise(2, 8000, 3000);
    let t0 = Instant::now() + Duration::from_millis(50);
    let mut txa = RtpSender::with_initial(0, 0xA, 1, 0);
    let mut txb = RtpSender::with_initial(8, 0xB, 1, 0);
    let ja = pa.play_script(
        a.local_rtp(),
        t0,
        rtp_script(&mut txa, Law::Ulaw, &sa, 0, &[], 101),
    );
    let jb = pb.play_script(
        b.local_rtp(),
        t0,
        rtp_script(&mut txb, Law::Alaw, &sb, 0, &[('7', 500, 100)], 96),
    );
    ja.await.unwrap();
    jb.await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(br);
    let unbridged = Instant::now();
    let idle_fill = || pa.packets().iter().filter(|p| p.at > unbridged).count() >= 10;
    assert!(eventually(Duration::from_secs(10), idle_fill).await);

    // A's audio reaches B's phone as A-law, byte-exact through the transcoding table.
    let u2a = Transcoder::new(Law::Ulaw, Law::Alaw);
    let expect_b: Vec<Vec<u8>> = encoded_frames(Law::Ulaw, &sa)
        .into_iter()
        .map(|f| f.iter().map(|&c| u2a.map(c)).collect())
        .collect();
    let got_b: Vec<Pkt> = pb.packets().into_iter().filter(|p| p.pt == 8).collect();
    assert!(
        find_run(&got_b, &expect_b).is_some(),
        "A's audio not found at B"
    );
    // And B's reaches A as μ-law.
    let a2u = Transcoder::new(Law::Alaw, Law::Ulaw);
    let expect_a: Vec<Vec<u8>> = encoded_frames(Law::Alaw, &sb)
        .into_iter()
        .map(|f| f.iter().map(|&c| a2u.map(c)).collect())
        .collect();
    let all_a = pa.packets();
    let got_a: Vec<Pkt> = all_a.iter().filter(|p| p.pt == 0).cloned().collect();
    let run = find_run(&got_a, &expect_a).expect("B's audio not found at A");
    // Decoded, it is B's signal (the content survives two codecs).
    let decoded: Vec<i16> = got_a[run..run + 50]
        .iter()
        .flat_map(|p| p.payload.iter().map(|&c| Law::Ulaw.decode(c)))
        .collect();
    assert!(ncc(&decoded, &sb, 0) > 0.99);

    // B's key press crosses as telephone-event under A's payload type 101, and B reports it.
    let events_at_a: Vec<&Pkt> = all_a.iter().filter(|p| p.pt == 101).collect();
    assert!(events_at_a.len() >= 5, "{}", events_at_a.len());
    assert!(events_at_a.iter().all(|p| p.payload[0] == 7));
    let digit = wait_event(&mut b, Duration::from_secs(10), |e| {
        matches!(e, LegEvent::Digit(_))
    })
    .await;
    assert!(matches!(digit, Some(LegEvent::Digit(d)) if d.digit == '7'));

    // One stream at A's phone from answer to after un-bridging: same SSRC, no sequence gap.
    assert!(all_a
        .iter()
        .all(|p| p.ssrc == all_a[0].ssrc && p.from == a.local_rtp()));
    for w in all_a.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
    }
    // After un-bridging A hears its idle fill again (comfort noise), paced.
    let after: Vec<&Pkt> = all_a.iter().filter(|p| p.at > unbridged).collect();
    assert!(after.len() >= 10, "{}", after.len());
    assert!(after
        .last()
        .unwrap()
        .payload
        .iter()
        .all(|&c| Law::Ulaw.decode(c).abs() <= 8));
    let sa_stats = a.stats().await.unwrap();
    assert_eq!(sa_stats.relay.transcoded, 50, "{:?}", sa_stats.relay);
    assert!(sa_stats.relay.dtmf >= 5);
    assert_eq!(sa_stats.bridge_dropped, 0);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_leg_closing_ends_the_bridge() {
    let (rt, _tmp) = runtime(19110..=19119);
    let pa = Peer::new().await;
    let pb = Peer::new().await;
    let mut a = rt.open_leg("caller", LO).await.unwrap();
    let b = rt.open_leg("staff", LO).await.unwrap();
    a.answer(pa.offer(&[Law::Ulaw], None).as_bytes()).unwrap();
    b.answer(pb.offer(&[Law::Ulaw], None).as_bytes()).unwrap();
    let _br = bridge(&a, &b).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = pa.packets().len();
    b.close().await;
    let e = wait_event(&mut a, Duration::from_secs(10), |e| {
        *e == LegEvent::BridgePeerGone
    })
    .await;
    assert_eq!(e, Some(LegEvent::BridgePeerGone));
    assert!(
        eventually(Duration::from_secs(10), || pa.packets().len()
            >= during + 10)
        .await,
        "A gets its idle fill again"
    );
}
