//! Media runtime load benchmark (not a test). Run in release:
//!
//! ```text
//! cargo run --release -p madoguchi-rtp --example media_load -- [SECONDS] [N...]
//! ```
//!
//! For each N (default 100 250 500 1000) it opens N legs on loopback, each
//! answered, recorded (stereo WAV into a temp dir) and playing a 3 s prompt
//! with barge-in, while a simulated caller per leg sends 20 ms PCMU frames
//! and presses one key (RFC 4733) half-way. The host runs on its own 2-thread
//! tokio runtime ("media-host" threads; recording writers are "rec-*"
//! threads), the callers on a separate 1-thread runtime ("peer-sim"), so host
//! and caller CPU can be told apart from /proc/self/task/*/stat.
//!
//! Printed per N: host CPU % of one core (host threads only) and the whole
//! process (/proc/self/stat), RSS, packet loss both ways, send-time error of
//! the host's packets against the drift-free 20 ms schedule (per-leg pacer
//! p50 averaged over legs; p99 as the 99th percentile of the legs' p99, and
//! the median leg's p99; worst max), recording gaps (jitter-buffer gap frames, incomplete files),
//! and digits detected. The machine may be shared (e.g. others compiling):
//! the load average is printed next to the figures.

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use madoguchi_media::dtmf::encode_digit;
use madoguchi_media::g711::Law;
use madoguchi_media::rtp::{looks_like_rtcp, RtpSender};
use madoguchi_rtp::{Leg, LegEvent, MediaConfig, MediaRuntime, Prompt};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PEERS_PER_TASK: usize = 25;
const DIGIT_AT_MS: u64 = 5000;

/// CPU seconds (user + system) per thread-name class from /proc/self/task.
fn cpu_by_class() -> (f64, f64, f64) {
    let (mut host, mut peer, mut other) = (0.0, 0.0, 0.0);
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0, 0.0);
    };
    for t in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let cpu = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        if comm.starts_with("media-host") || comm.starts_with("rec-") {
            host += cpu / 100.0;
        } else if comm.starts_with("peer-sim") {
            peer += cpu / 100.0;
        } else {
            other += cpu / 100.0;
        }
    }
    (host, peer, other)
}

fn process_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some((_, after)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    (f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0))
        / 100.0
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

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn offer(port: u16) -> String {
    format!(
        "v=0\r\no=sim 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
    )
}

/// One simulated caller.
struct SimPeer {
    sock: UdpSocket,
    dest: SocketAddr,
    tx: RtpSender,
    sent: u64,
    received: u64,
    first_seq: Option<u16>,
    ext_max: i64,
}

#[derive(Default)]
struct PeerTotals {
    sent: AtomicU64,
    received: AtomicU64,
    expected: AtomicU64,
}

/// Drift-free sender for a group of peers: at tick k every peer drains
/// what the host sent it, then sends frame k (and its key press packets).
async fn run_group(
    mut peers: Vec<SimPeer>,
    t0: Instant,
    ticks: u64,
    frames: Arc<Vec<Vec<u8>>>,
    totals: Arc<PeerTotals>,
) {
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::with_capacity(256);
    let digit_tick = DIGIT_AT_MS / 20;
    for k in 0..ticks + 10 {
        tokio::time::sleep_until((t0 + Duration::from_millis(k * 20)).into()).await;
        for p in peers.iter_mut() {
            for _ in 0..64 {
                let Ok((n, _)) = p.sock.recv_from(&mut buf) else {
                    break;
                };
                if n < 12 || looks_like_rtcp(&buf[..n]) {
                    continue;
                }
                let seq = u16::from_be_bytes([buf[2], buf[3]]);
                let first = *p.first_seq.get_or_insert(seq);
                let ext = seq.wrapping_sub(first) as i64;
                p.ext_max = p.ext_max.max(ext);
                p.received += 1;
            }
            if k >= ticks {
                continue; // the last ticks only drain
            }
            let f = &frames[(k as usize) % frames.len()];
            if k == digit_tick {
                let ts = p.tx.timestamp();
                for e in encode_digit('5', ts, 100, 20, 10).unwrap_or_default() {
                    p.tx.raw(101, e.timestamp, e.marker, &e.event.to_bytes(), &mut out);
                    if p.sock.send_to(&out, p.dest).is_ok() {
                        p.sent += 1;
                    }
                }
            }
            p.tx.audio(f, 160, &mut out);
            if p.sock.send_to(&out, p.dest).is_ok() {
                p.sent += 1;
            }
        }
    }
    for p in peers {
        totals.sent.fetch_add(p.sent, Ordering::Relaxed);
        totals.received.fetch_add(p.received, Ordering::Relaxed);
        if p.first_seq.is_some() {
            totals
                .expected
                .fetch_add(p.ext_max as u64 + 1, Ordering::Relaxed);
        }
    }
}

fn quantile(v: &mut [u64], q: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

async fn round(
    rt: &MediaRuntime,
    peer_rt: &tokio::runtime::Handle,
    n: usize,
    seconds: u64,
    prompt: &Prompt,
    frames: Arc<Vec<Vec<u8>>>,
) {
    let setup = Instant::now();
    let mut legs: Vec<Leg> = Vec::with_capacity(n);
    let mut peers = Vec::with_capacity(n);
    let mut recs = Vec::with_capacity(n);
    let digits = Arc::new(AtomicU64::new(0));
    let mut counters = Vec::with_capacity(n);
    for i in 0..n {
        let sock = UdpSocket::bind((LO, 0)).expect("peer socket");
        sock.set_nonblocking(true).expect("nonblocking");
        let mut leg = match rt.open_leg(&format!("load-{n}-{i}"), LO).await {
            Ok(l) => l,
            Err(e) => {
                println!("N={n}: open_leg {i} failed: {e}");
                return;
            }
        };
        // Recording first (file creation is slow); media starts below, all legs together.
        recs.push(leg.record(&format!("load-{n}-{i}")).await.expect("record"));
        // Count digits without holding the leg: move the event queue reader out.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<LegEvent>(1);
        drop(tx);
        std::mem::swap(leg.events(), &mut rx);
        let d = digits.clone();
        counters.push(tokio::spawn(async move {
            for _ in 0..100_000 {
                match rx.recv().await {
                    Some(LegEvent::Digit(_)) => {
                        d.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }));
        peers.push(SimPeer {
            sock,
            dest: leg.local_rtp(),
            tx: RtpSender::new(0),
            sent: 0,
            received: 0,
            first_seq: None,
            ext_max: 0,
        });
        legs.push(leg);
    }
    // Answer all legs within ~one period (20 us apart), so their 20 ms grids
    // are spread evenly and no leg's statistics include the slow set-up.
    let spread = Duration::from_micros(20_000 / n.max(1) as u64);
    let answer_start = Instant::now();
    for (i, (leg, p)) in legs.iter().zip(&peers).enumerate() {
        tokio::time::sleep_until((answer_start + spread * i as u32).into()).await;
        leg.answer(offer(p.sock.local_addr().expect("addr").port()).as_bytes())
            .expect("answer");
        leg.play(vec![prompt.clone()], true);
    }
    let setup_ms = setup.elapsed().as_millis();
    let ticks = seconds * 50;
    let t0 = Instant::now() + Duration::from_millis(300);
    let totals = Arc::new(PeerTotals::default());
    let mut groups = Vec::new();
    let n_groups = n.div_ceil(PEERS_PER_TASK).max(1) as u64;
    let mut g = 0u64;
    while !peers.is_empty() {
        let rest = peers.split_off(peers.len().min(PEERS_PER_TASK));
        let group = std::mem::replace(&mut peers, rest);
        // Real callers are not in lock-step: spread the groups over the 20 ms period.
        let phase = Duration::from_micros(g * 20_000 / n_groups);
        g += 1;
        groups.push(peer_rt.spawn(run_group(
            group,
            t0 + phase,
            ticks,
            frames.clone(),
            totals.clone(),
        )));
    }
    tokio::time::sleep_until(t0.into()).await;
    let (h0, c0, w0) = (cpu_by_class(), process_cpu(), Instant::now());
    tokio::time::sleep_until((t0 + Duration::from_secs(seconds)).into()).await;
    let (h1, c1, wall) = (cpu_by_class(), process_cpu(), w0.elapsed().as_secs_f64());
    let rss = rss_mib();
    for g in groups {
        let _ = g.await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut p50s = Vec::with_capacity(n);
    let mut p99s = Vec::with_capacity(n);
    let (mut max_us, mut host_rx, mut gaps, mut lost_in, mut send_err, mut skipped) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for leg in &legs {
        if let Ok(s) = leg.stats().await {
            p50s.push(s.pace_p50_us);
            p99s.push(s.pace_p99_us);
            max_us = max_us.max(s.pace_max_us);
            host_rx += s.rtp.packets;
            lost_in += s.rtp.lost;
            gaps += s.jitter.gaps;
            send_err += s.send_errors;
            skipped += s.pace_skipped;
        }
    }
    let mut incomplete = 0;
    let mut rec_ms = 0u64;
    for r in recs {
        match r.stop().await {
            Ok(s) => {
                rec_ms += s.duration_ms;
                if !s.complete {
                    incomplete += 1;
                }
            }
            Err(_) => incomplete += 1,
        }
    }
    for leg in legs {
        leg.close().await;
    }
    for c in counters {
        let _ = c.await;
    }
    let sent = totals.sent.load(Ordering::Relaxed);
    let received = totals.received.load(Ordering::Relaxed);
    let expected = totals.expected.load(Ordering::Relaxed);
    let p50_avg = p50s.iter().sum::<u64>() as f64 / p50s.len().max(1) as f64;
    let p99_median = quantile(&mut p99s, 0.5);
    println!(
        "N={n:5} setup {setup_ms:5} ms | host CPU {:5.1}% (process {:5.1}%, callers {:5.1}%, other threads {:4.1}%) | RSS {:6.1} MiB | \
         loss caller->host {:.4}% (lost {lost_in}), host->caller {:.4}% | send error p50 {:.2} ms, p99 {:.2} ms (median leg {:.2}), max {:.1} ms, skipped {skipped}, send errors {send_err} | \
         rec gaps {gaps} frames, incomplete {incomplete}, {:.0} s recorded | digits {}/{n} | load {}",
        (h1.0 - h0.0) / wall * 100.0,
        (c1 - c0) / wall * 100.0,
        (h1.1 - h0.1) / wall * 100.0,
        (h1.2 - h0.2) / wall * 100.0,
        rss,
        (sent.saturating_sub(host_rx)) as f64 * 100.0 / sent.max(1) as f64,
        (expected.saturating_sub(received)) as f64 * 100.0 / expected.max(1) as f64,
        p50_avg / 1000.0,
        quantile(&mut p99s, 0.99) as f64 / 1000.0,
        p99_median as f64 / 1000.0,
        max_us as f64 / 1000.0,
        rec_ms as f64 / 1000.0,
        digits.load(Ordering::Relaxed),
        loadavg(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .clamp(1, 120);
    let mut ns: Vec<usize> = args.iter().skip(1).filter_map(|s| s.parse().ok()).collect();
    if ns.is_empty() {
        ns = vec![100, 250, 500, 1000];
    }
    let max_n = ns.iter().copied().max().unwrap_or(1000).min(4000);
    let tmp = std::env::temp_dir().join(format!("media_load-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let dir = Dir::open_ambient_dir(&tmp, ambient_authority()).expect("open temp dir");
    // Below Linux's ephemeral range (32768-60999), where the callers' sockets
    // land; twice the pairs needed, so ports other processes hold are skipped.
    let first = 20000u16;
    let last = first + (4 * max_n as u16) + 1;
    let media = MediaRuntime::new(MediaConfig::new(first..=last, dir)).expect("runtime");

    let host = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("media-host")
        .enable_all()
        .build()
        .expect("host runtime");
    let peers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("peer-sim")
        .enable_all()
        .build()
        .expect("peer runtime");
    // A 3 s prompt (two tones) and 1 s of caller "speech" (a 300 Hz tone), μ-law.
    let prompt = Prompt::from_pcm(
        (0..24_000)
            .map(|i| {
                let t = i as f64 / 8000.0;
                (2500.0
                    * ((2.0 * std::f64::consts::PI * 440.0 * t).sin()
                        + (2.0 * std::f64::consts::PI * 620.0 * t).sin())) as i16
            })
            .collect(),
    );
    let frames: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..50)
            .map(|k| {
                (0..160)
                    .map(|i| {
                        let t = (k * 160 + i) as f64 / 8000.0;
                        Law::Ulaw.encode(
                            (1500.0 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()) as i16,
                        )
                    })
                    .collect()
            })
            .collect(),
    );
    println!(
        "media_load: {seconds} s per round, host on 2 tokio workers, callers on 1; cores online: {}; load before: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    let peer_handle = peers.handle().clone();
    host.block_on(async {
        for &n in &ns {
            round(
                &media,
                &peer_handle,
                n.min(max_n),
                seconds,
                &prompt,
                frames.clone(),
            )
            .await;
        }
    });
    drop(peers);
    drop(host);
    let _ = std::fs::remove_dir_all(&tmp);
}
