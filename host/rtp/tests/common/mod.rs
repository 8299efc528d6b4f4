//! Test peers: plain UDP sockets that play a phone's part on loopback.
#![allow(dead_code)]

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use madoguchi_media::dtmf::encode_digit;
use madoguchi_media::g711::Law;
use madoguchi_media::rtp::{looks_like_rtcp, RtpPacket, RtpSender};
use madoguchi_rtp::{LegEvent, MediaConfig, MediaRuntime};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

pub const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

pub fn runtime(ports: RangeInclusive<u16>) -> (MediaRuntime, tempfile::TempDir) {
    runtime_with(ports, |_| {})
}

pub fn runtime_with(
    ports: RangeInclusive<u16>,
    tweak: impl FnOnce(&mut MediaConfig),
) -> (MediaRuntime, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
    let mut cfg = MediaConfig::new(ports, dir);
    tweak(&mut cfg);
    (MediaRuntime::new(cfg).unwrap(), tmp)
}

/// An SDP offer from a phone at `port` on loopback.
pub fn offer_sdp(port: u16, codecs: &[Law], dtmf_pt: Option<u8>, direction: &str) -> String {
    let mut fmts: Vec<String> = codecs
        .iter()
        .map(|l| l.payload_type().to_string())
        .collect();
    let mut attrs: Vec<String> = codecs
        .iter()
        .map(|l| format!("a=rtpmap:{} {}/8000", l.payload_type(), l.encoding_name()))
        .collect();
    if let Some(pt) = dtmf_pt {
        fmts.push(pt.to_string());
        attrs.push(format!("a=rtpmap:{pt} telephone-event/8000"));
        attrs.push(format!("a=fmtp:{pt} 0-16"));
    }
    format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {}\r\n{}\r\na=ptime:20\r\na={direction}\r\n",
        fmts.join(" "),
        attrs.join("\r\n")
    )
}

/// One received RTP packet.
#[derive(Debug, Clone)]
pub struct Pkt {
    pub at: Instant,
    pub from: SocketAddr,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub marker: bool,
    pub payload: Vec<u8>,
}

/// A phone: one socket, a background receiver collecting every RTP packet.
pub struct Peer {
    pub sock: Arc<UdpSocket>,
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Pkt>>>,
    rx_task: tokio::task::JoinHandle<()>,
}

impl Peer {
    pub async fn new() -> Peer {
        let sock = Arc::new(UdpSocket::bind((LO, 0)).await.unwrap());
        let addr = sock.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let (s, g) = (sock.clone(), got.clone());
        let rx_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            // Bounded: a test never receives more than this.
            for _ in 0..200_000 {
                let Ok((n, from)) = s.recv_from(&mut buf).await else {
                    continue;
                };
                let b = &buf[..n];
                if looks_like_rtcp(b) {
                    continue;
                }
                if let Ok(p) = RtpPacket::parse(b) {
                    g.lock().unwrap().push(Pkt {
                        at: Instant::now(),
                        from,
                        pt: p.header.payload_type,
                        seq: p.header.sequence,
                        ts: p.header.timestamp,
                        ssrc: p.header.ssrc,
                        marker: p.header.marker,
                        payload: p.payload.to_vec(),
                    });
                }
            }
        });
        Peer {
            sock,
            addr,
            got,
            rx_task,
        }
    }

    pub fn offer(&self, codecs: &[Law], dtmf_pt: Option<u8>) -> String {
        offer_sdp(self.addr.port(), codecs, dtmf_pt, "sendrecv")
    }

    pub fn packets(&self) -> Vec<Pkt> {
        self.got.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.got.lock().unwrap().clear();
    }

    /// Send `script` (offset from `t0`, datagram) to `dest` in the background.
    pub fn play_script(
        &self,
        dest: SocketAddr,
        t0: Instant,
        script: Vec<(u64, Vec<u8>)>,
    ) -> tokio::task::JoinHandle<()> {
        let s = self.sock.clone();
        tokio::spawn(async move {
            for (ms, pkt) in script {
                tokio::time::sleep_until((t0 + Duration::from_millis(ms)).into()).await;
                let _ = s.send_to(&pkt, dest).await;
            }
        })
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.rx_task.abort();
    }
}

/// A phone's RTP: `pcm` as 20 ms frames from `start_ms`, plus RFC 4733
/// events `(digit, start_ms, duration_ms)` under `dtmf_pt`, sorted by send time.
pub fn rtp_script(
    sender: &mut RtpSender,
    law: Law,
    pcm: &[i16],
    start_ms: u64,
    events: &[(char, u64, u32)],
    dtmf_pt: u8,
) -> Vec<(u64, Vec<u8>)> {
    let ts0 = sender.timestamp();
    /// (send ms, telephone-event (timestamp, marker, payload) or None for audio, audio payload)
    type Planned = (u64, Option<(u32, bool, Vec<u8>)>, Vec<u8>);
    let mut plan: Vec<Planned> = Vec::new();
    for (k, frame) in pcm.chunks(160).enumerate() {
        let mut payload = Vec::new();
        law.encode_into(frame, &mut payload);
        plan.push((start_ms + k as u64 * 20, None, payload));
    }
    for &(d, at, dur) in events {
        let ts = ts0.wrapping_add(((at - start_ms) * 8) as u32);
        for p in encode_digit(d, ts, dur, 20, 10).unwrap() {
            plan.push((
                at + p.offset_ms as u64,
                Some((p.timestamp, p.marker, p.event.to_bytes().to_vec())),
                Vec::new(),
            ));
        }
    }
    plan.sort_by_key(|p| p.0);
    let mut out = Vec::new();
    for (ms, ev, audio) in plan {
        let mut buf = Vec::new();
        match ev {
            Some((ts, marker, payload)) => sender.raw(dtmf_pt, ts, marker, &payload, &mut buf),
            None => sender.audio(&audio, audio.len() as u32, &mut buf),
        }
        out.push((ms, buf));
    }
    out
}

/// Deterministic noise-like test signal, different per seed.
pub fn noise(seed: u32, samples: usize, amplitude: i32) -> Vec<i16> {
    let mut x = seed.max(1);
    (0..samples)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((x % (2 * amplitude as u32 + 1)) as i32 - amplitude) as i16
        })
        .collect()
}

/// G.711 round trip of `pcm` (what a decoder sees).
pub fn through(law: Law, pcm: &[i16]) -> Vec<i16> {
    pcm.iter().map(|&s| law.decode(law.encode(s))).collect()
}

/// Collect events for `dur` (bounded).
pub async fn events_for(leg: &mut madoguchi_rtp::Leg, dur: Duration) -> Vec<LegEvent> {
    let until = tokio::time::Instant::now() + dur;
    let mut v = Vec::new();
    for _ in 0..10_000 {
        match tokio::time::timeout_at(until, leg.events().recv()).await {
            Ok(Some(e)) => v.push(e),
            _ => break,
        }
    }
    v
}

/// Wait for the first event matching `f` (bounded by `dur`).
pub async fn wait_event(
    leg: &mut madoguchi_rtp::Leg,
    dur: Duration,
    f: impl Fn(&LegEvent) -> bool,
) -> Option<LegEvent> {
    let until = tokio::time::Instant::now() + dur;
    for _ in 0..10_000 {
        match tokio::time::timeout_at(until, leg.events().recv()).await {
            Ok(Some(e)) if f(&e) => return Some(e),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
    None
}

/// Normalised cross-correlation of `a` against `b` shifted by `lag` (a[i + lag] ~ b[i]).
pub fn ncc(a: &[i16], b: &[i16], lag: usize) -> f64 {
    let n = b.len().min(a.len().saturating_sub(lag));
    if n == 0 {
        return 0.0;
    }
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let x = a[i + lag] as f64;
        let y = b[i] as f64;
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Best (lag, correlation) of `b` inside `a` over lags `0..max_lag`.
pub fn best_lag(a: &[i16], b: &[i16], max_lag: usize) -> (usize, f64) {
    (0..max_lag)
        .map(|l| (l, ncc(a, b, l)))
        .fold((0, f64::MIN), |best, x| if x.1 > best.1 { x } else { best })
}

/// Checks one paced stream: one SSRC, sequence +1 per packet, timestamps on the
/// 20 ms grid: +160 per packet, or a multiple of it where the pacer skipped
/// frames after the leg task was stalled (a loaded host does that; the RTP
/// clock keeps real time). Returns the frames skipped between these packets.
pub fn check_paced_stream(got: &[Pkt]) -> u64 {
    let mut skipped = 0;
    for w in got.windows(2) {
        assert_eq!(w[1].ssrc, w[0].ssrc);
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "{:?} -> {:?}",
            w[0],
            w[1]
        );
        let step = w[1].ts.wrapping_sub(w[0].ts);
        assert!(step >= 160 && step % 160 == 0, "timestamp step {step}");
        skipped += u64::from(step / 160 - 1);
    }
    skipped
}

/// Each packet's frame number on the stream's timeline ((ts - ts₀) / 160, so
/// skipped frames leave holes) with its decoded audio.
pub fn frames_on_timeline(got: &[Pkt], law: Law) -> Vec<(usize, Vec<i16>)> {
    let Some(first) = got.first() else {
        return vec![];
    };
    got.iter()
        .map(|p| {
            let k = (p.ts.wrapping_sub(first.ts) / 160) as usize;
            (k, p.payload.iter().map(|&c| law.decode(c)).collect())
        })
        .collect()
}

/// Where a looping or one-shot signal of `chunks` (distinct 20 ms frames) starts
/// on the timeline: the frame number of its chunk 0, found from the first
/// packet that carries any chunk (so a skipped first frame does not matter).
pub fn signal_start(frames: &[(usize, Vec<i16>)], chunks: &[Vec<i16>]) -> Option<usize> {
    frames.iter().find_map(|(k, f)| {
        let j = chunks.iter().position(|c| c == f)?;
        k.checked_sub(j)
    })
}

/// Polls `cond` every 10 ms until it holds; false after `bound` (a bound for a
/// loaded host, not a measurement).
pub async fn eventually(bound: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + bound;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `peer` has heard nothing for `quiet` (the leg has stopped
/// sending); false if packets still came after `bound`.
pub async fn quiescent(peer: &Peer, quiet: Duration, bound: Duration) -> bool {
    let until = Instant::now() + bound;
    let mut n = peer.packets().len();
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let m = peer.packets().len();
        if m != n {
            (n, since) = (m, Instant::now());
        } else if since.elapsed() >= quiet {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
    }
}
