//! WebRTC leg load benchmark (not a test). Run in release (`tests/load/run-webrtc-bench`):
//!
//! ```text
//! cargo run --release -p madoguchi-rtp --example webrtc_load -- [SECONDS] [N...]
//! ```
//!
//! For each N (default 50 100 200) it sets up N calls on loopback, each a WebRTC leg
//! (answered for a str0m "browser" peer: ICE, DTLS-SRTP, PCMU in RTP mode) bridged to a
//! plain RTP leg (a simulated RTP caller), the RTP leg recorded as a stereo WAV. Every peer
//! sends 20 ms PCMU frames both ways for SECONDS (default 10). The host runs on a 2-thread
//! tokio runtime ("media-host" threads, recording writers "rec-*"); all peers run on one
//! thread ("peer-sim"), so host CPU is told apart from the load generator's.
//!
//! Printed per N: host CPU (% of one core, and per leg pair), the peer thread's CPU, RSS,
//! loss in each direction (frames sent vs received), and the pacing the browser sees: the
//! 99th percentile of |inter-arrival - 20 ms| over every received packet, as read by the one
//! peer thread (on a loaded machine that thread's own scheduling dominates this figure).

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use madoguchi_media::g711::Law;
use madoguchi_rtp::webrtc::{WebRtc, WebRtcOut};
use madoguchi_rtp::{bridge, Bridge, Leg, MediaConfig, MediaRuntime, Recording};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn cpu_of(prefixes: &[&str]) -> f64 {
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    for t in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !prefixes
            .iter()
            .any(|p| stat[open + 1..close].starts_with(p))
        {
            continue;
        }
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        total += f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    }
    total / 100.0
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn rtp(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(0x55u8, 160));
    p
}

/// The browser's side of one call.
struct Browser {
    sock: UdpSocket,
    rtc: WebRtc,
    connected: bool,
    received: u64,
    last_rx: Option<Instant>,
}

/// The RTP caller's side of one call.
struct Caller {
    sock: UdpSocket,
    host: SocketAddr,
    received: u64,
}

/// What the host holds for one call.
struct Call {
    _webrtc: Leg,
    _rtp: Leg,
    _bridge: Bridge,
    rec: Recording,
}

fn drain(b: &mut Browser, out: &mut Vec<WebRtcOut>, now: Instant, gaps: &mut Vec<u32>) {
    for o in out.drain(..) {
        match o {
            WebRtcOut::Transmit(to, data) => {
                let _ = b.sock.send_to(&data, to);
            }
            WebRtcOut::Rtp(_) => {
                b.received += 1;
                if let Some(last) = b.last_rx {
                    let d = now.saturating_duration_since(last).as_micros() as i64 - 20_000;
                    gaps.push(d.unsigned_abs() as u32);
                }
                b.last_rx = Some(now);
            }
            WebRtcOut::Connected => b.connected = true,
            WebRtcOut::Disconnected => {}
        }
    }
}

/// Feeds every browser its datagrams and timers until `until`.
fn pump(browsers: &mut [Browser], buf: &mut [u8], gaps: &mut Vec<u32>, count: bool) {
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    let gaps = if count { gaps } else { &mut scratch };
    let now = Instant::now();
    for b in browsers.iter_mut() {
        for _ in 0..64 {
            let Ok((n, from)) = b.sock.recv_from(buf) else {
                break;
            };
            b.rtc.receive(now, from, &buf[..n], &mut out);
            drain(b, &mut out, now, gaps);
        }
        if b.rtc.next_timeout().is_none_or(|t| t <= now) {
            b.rtc.timeout(now, &mut out);
            drain(b, &mut out, now, gaps);
        }
    }
}

fn run(n: usize, seconds: u64, host: &tokio::runtime::Runtime, media: &MediaRuntime) {
    let cpu_host0 = cpu_of(&["media-host", "rec-"]);
    // Set-up: per call a WebRTC leg (answering the browser's offer) and an RTP leg.
    let mut browsers = Vec::with_capacity(n);
    let mut callers = Vec::with_capacity(n);
    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        let sock = UdpSocket::bind((LO, 0)).unwrap();
        sock.set_nonblocking(true).unwrap();
        let mut rtc =
            WebRtc::new(sock.local_addr().unwrap(), Law::Ulaw, false, Instant::now()).unwrap();
        let offer = rtc.offer().unwrap();
        let csock = UdpSocket::bind((LO, 0)).unwrap();
        csock.set_nonblocking(true).unwrap();
        let cport = csock.local_addr().unwrap().port();
        let call = host.block_on(async {
            let w = media.open_leg(&format!("w{i}"), LO).await.unwrap();
            let answer = w.answer(offer.as_bytes()).unwrap();
            rtc.accept_answer(&answer).unwrap();
            let r = media.open_leg(&format!("r{i}"), LO).await.unwrap();
            let sdp = format!(
                "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {cport} RTP/AVP 0\r\na=ptime:20\r\n"
            );
            r.answer(sdp.as_bytes()).unwrap();
            let rec = r.record(&format!("bench-{n}-{i}")).await.unwrap();
            let b = bridge(&w, &r).unwrap();
            (w, r, b, rec)
        });
        callers.push(Caller {
            sock: csock,
            host: call.1.local_rtp(),
            received: 0,
        });
        calls.push(Call {
            _webrtc: call.0,
            _rtp: call.1,
            _bridge: call.2,
            rec: call.3,
        });
        browsers.push(Browser {
            sock,
            rtc,
            connected: false,
            received: 0,
            last_rx: None,
        });
    }
    // ICE + DTLS for everyone (bounded).
    let mut buf = vec![0u8; 2048];
    let mut gaps = Vec::new();
    let t0 = Instant::now();
    while browsers.iter().any(|b| !b.connected) && t0.elapsed() < Duration::from_secs(60) {
        pump(&mut browsers, &mut buf, &mut gaps, false);
        std::thread::sleep(Duration::from_millis(1));
    }
    let up = browsers.iter().filter(|b| b.connected).count();
    let setup = t0.elapsed();
    for b in browsers.iter_mut() {
        b.received = 0;
        b.last_rx = None;
    }
    // Before the bridge the RTP leg sent its idle fill: count only the measured seconds.
    for c in callers.iter_mut() {
        while c.sock.recv_from(&mut buf).is_ok() {}
        c.received = 0;
    }
    // Media both ways, drift-free 20 ms ticks.
    let cpu_host1 = cpu_of(&["media-host", "rec-"]);
    let cpu_peer1 = cpu_of(&["peer-sim"]);
    let start = Instant::now();
    let ticks = seconds * 50;
    let mut sent = 0u64;
    let mut out = Vec::new();
    for k in 0..ticks {
        let due = start + Duration::from_millis(k * 20);
        loop {
            pump(&mut browsers, &mut buf, &mut gaps, true);
            for c in callers.iter_mut() {
                while c.sock.recv_from(&mut buf).is_ok() {
                    c.received += 1;
                }
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(2)));
        }
        let now = Instant::now();
        let seq = k as u16;
        let ts = (k * 160) as u32;
        for (i, (b, c)) in browsers.iter_mut().zip(callers.iter()).enumerate() {
            let _ = c.sock.send_to(&rtp(seq, ts, 0x1000 + i as u32), c.host);
            if b.connected {
                b.rtc
                    .send_rtp(now, &rtp(seq, ts, 0x2000 + i as u32), &mut out);
                drain(b, &mut out, now, &mut gaps);
            }
        }
        sent += 1;
    }
    // Let the last packets arrive.
    let tail = Instant::now();
    while tail.elapsed() < Duration::from_millis(300) {
        pump(&mut browsers, &mut buf, &mut gaps, true);
        for c in callers.iter_mut() {
            while c.sock.recv_from(&mut buf).is_ok() {
                c.received += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let host_cpu = (cpu_of(&["media-host", "rec-"]) - cpu_host1) / elapsed * 100.0;
    let peer_cpu = (cpu_of(&["peer-sim"]) - cpu_peer1) / elapsed * 100.0;
    let expected = sent * up as u64;
    let to_browser: u64 = browsers.iter().map(|b| b.received).sum();
    let to_caller: u64 = callers.iter().map(|c| c.received).sum();
    gaps.sort_unstable();
    let q = |f: f64| {
        gaps.get(((gaps.len() as f64 - 1.0) * f) as usize)
            .copied()
            .unwrap_or(0)
    };
    let recs: Vec<Recording> = calls.into_iter().map(|c| c.rec).collect();
    let done = host.block_on(async {
        let mut ok = 0;
        for r in recs {
            if r.stop().await.is_ok_and(|s| s.complete) {
                ok += 1;
            }
        }
        ok
    });
    println!(
        "N={n:4}  up {up}/{n} in {:.1} s  host CPU {host_cpu:5.1} % ({:.2} %/call)  peers {peer_cpu:5.1} %  RSS {:.0} MiB  \
         loss caller→browser {:.2} %  browser→caller {:.2} %  browser inter-arrival |Δ-20ms| p50 {:.2} ms p99 {:.2} ms  recordings complete {done}/{n}  (setup host CPU {:.1} s)",
        setup.as_secs_f64(),
        host_cpu / n as f64,
        rss_mib(),
        100.0 * (1.0 - to_browser as f64 / expected.max(1) as f64),
        100.0 * (1.0 - to_caller as f64 / expected.max(1) as f64),
        q(0.5) as f64 / 1000.0,
        q(0.99) as f64 / 1000.0,
        cpu_host1 - cpu_host0,
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut sizes: Vec<usize> = args.filter_map(|s| s.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![50, 100, 200];
    }
    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("media-host")
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::open_ambient_dir(tmp.path(), ambient_authority()).unwrap();
    let media = host
        .block_on(async { MediaRuntime::new(MediaConfig::new(30000..=39999, dir)) })
        .unwrap();
    // This thread is the load generator.
    let me = std::thread::Builder::new()
        .name("peer-sim".into())
        .spawn(move || {
            println!(
                "WebRTC legs bridged to recorded RTP legs, {seconds} s of 20 ms PCMU both ways; load average {}",
                std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
            );
            for n in sizes {
                run(n, seconds, &host, &media);
            }
        })
        .unwrap();
    me.join().unwrap();
}
