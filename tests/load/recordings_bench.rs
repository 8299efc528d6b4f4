//! Recordings review benchmark (a program, not a test; issue #10). Prints figures; asserts
//! nothing about time.
//!
//! ```sh
//! tests/load/run-recordings-bench                       # 100,000 recordings, 50 streams
//! tests/load/run-recordings-bench --recordings 20000 --streams 20 --audio-s 30
//! ```
//!
//! 1. Stores `--recordings` recordings' metadata in a fresh store (as the recorder does, in
//!    `media.recordings`; 1,000 callers, 2 DIDs, 20 staff users, one per minute), and
//!    `--streams` real stereo WAV files of `--audio-s` seconds among them.
//! 2. Starts the server on it; its start-up re-index builds the search index (timed).
//! 3. Search latency over HTTP, p50/p95/max, for 200 requests of each kind: the newest page,
//!    by caller, by DID, by user, a one-day window, caller + day, and a deep page (cursor).
//! 4. The audio route streaming `--streams` recordings at once (one thread each, whole
//!    files): wall time, aggregate MB/s, per-stream p50/p95, and every byte checked.

use std::io::Read;
use std::time::{Duration, Instant};

use madoguchi_store::Store;
use madoguchi_tests::load::percentile;
use madoguchi_tests::{Server, ServerOptions};
use serde_json::{json, Value};

/// 2027-01-04T09:00:00+09:00.
const T0: u64 = 1_799_020_800;

struct Args {
    recordings: u64,
    streams: u64,
    audio_s: u64,
}

fn args() -> Args {
    let mut a = Args {
        recordings: 100_000,
        streams: 50,
        audio_s: 60,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for w in argv.chunks(2) {
        let v: u64 = w.get(1).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("usage: recordings-bench [--recordings N] [--streams N] [--audio-s S]");
            std::process::exit(2)
        });
        match w[0].as_str() {
            "--recordings" => a.recordings = v,
            "--streams" => a.streams = v,
            "--audio-s" => a.audio_s = v,
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2)
            }
        }
    }
    a
}

fn wav(seconds: u64, seed: u64) -> Vec<u8> {
    let frames = (seconds * 8000) as u32;
    let data = frames * 4;
    let mut v = Vec::with_capacity(44 + data as usize);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&8000u32.to_le_bytes());
    v.extend_from_slice(&32000u32.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data.to_le_bytes());
    for i in 0..frames {
        let s = ((i as u64 * 7 + seed) % 2000) as i16 - 1000;
        v.extend_from_slice(&s.to_le_bytes());
        v.extend_from_slice(&(-s).to_le_bytes());
    }
    v
}

fn caller(n: u64) -> String {
    format!("090{:08}", n % 1000)
}

fn populate(data: &std::path::Path, a: &Args) -> (String, Vec<(String, Vec<u8>)>) {
    let store = Store::open(data).expect("open store");
    let (token, _) = store
        .create_token(madoguchi_store::Role::Admin, "bench", "bench")
        .expect("token");
    let rec_dir = data.join("recordings");
    std::fs::create_dir_all(&rec_dir).unwrap();
    let every = (a.recordings / a.streams.max(1)).max(1);
    let mut files = Vec::new();
    let started = Instant::now();
    let mut batch = Vec::new();
    for n in 0..a.recordings {
        let start = T0 + n * 60;
        let id = format!("{start}-bench{n}");
        let with_audio = n % every == 0 && (files.len() as u64) < a.streams;
        let (bytes, sha) = if with_audio {
            let w = wav(a.audio_s, n);
            std::fs::write(rec_dir.join(format!("{id}.wav")), &w).unwrap();
            let len = w.len() as u64;
            files.push((id.clone(), w));
            (len, format!("{n:064x}"))
        } else {
            (44 + 320_000, format!("{n:064x}"))
        };
        let (callee, did) = if n % 5 == 0 {
            let user = 1001 + (n / 5) % 20;
            (user.to_string(), user.to_string())
        } else {
            (
                "ivr:zama-mynumber".to_string(),
                format!("046200000{}", n % 2),
            )
        };
        batch.push((
            format!("{id}.wav"),
            json!({
                "file_name": format!("{id}.wav"), "call_id": format!("bench{n}"),
                "caller": caller(n), "callee": callee, "did": did,
                "started_unix": start, "ended_unix": start + 10, "duration_ms": 10_000 + n % 600_000,
                "bytes": bytes, "sha256": sha, "complete": n % 97 != 0, "problems": [], "legs": [],
            }),
        ));
        if batch.len() == 5000 {
            store.put_json_many("media.recordings", &batch).unwrap();
            batch.clear();
        }
    }
    store.put_json_many("media.recordings", &batch).unwrap();
    println!(
        "stored {} recordings' metadata and {} WAV files of {} s in {:.1} s",
        a.recordings,
        files.len(),
        a.audio_s,
        started.elapsed().as_secs_f64()
    );
    (token, files)
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

fn get_json(base: &str, token: &str, path: &str) -> Value {
    let r = agent()
        .get(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    r.into_json().unwrap()
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "  {name:<22} n={:<4} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms",
        ms.len(),
        percentile(&ms, 50.0).unwrap_or(0.0),
        percentile(&ms, 95.0).unwrap_or(0.0),
        ms.last().copied().unwrap_or(0.0)
    );
}

fn main() {
    let a = args();
    let data = tempfile::tempdir().unwrap();
    let (token, files) = populate(data.path(), &a);
    let started = Instant::now();
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        users: vec![],
        ..ServerOptions::default()
    })
    .expect("start the server");
    let indexed = server.wait_log(
        "recordings index brought up to date",
        1,
        Duration::from_secs(1800),
    );
    println!(
        "server up and {} re-indexed in {:.1} s",
        if indexed {
            "every recording"
        } else {
            "NOT all recordings"
        },
        started.elapsed().as_secs_f64()
    );
    let base = format!("http://{}/api/v1", server.http);
    let total = get_json(&base, &token, "/recordings?limit=1");
    assert!(
        total["items"].as_array().is_some_and(|i| !i.is_empty()),
        "{total}"
    );

    println!(
        "search over {} recordings (HTTP, one client):",
        a.recordings
    );
    let deep = {
        // A cursor half-way down the history.
        let mid = a.recordings / 2;
        format!("{}:{}-bench{mid}", T0 + mid * 60, T0 + mid * 60)
    };
    let span = (a.recordings * 60).max(86_400);
    let day = move |i: u64| {
        let d = T0 + (i * 86_400) % span;
        let t = time_date(d);
        format!("from={t}&to={t}")
    };
    type Uri = Box<dyn Fn(u64) -> String>;
    let kinds: Vec<(&str, Uri)> = vec![
        ("newest page (50)", Box::new(|_| "/recordings".to_string())),
        (
            "by caller",
            Box::new(|i| format!("/recordings?caller={}", caller(i * 7))),
        ),
        (
            "by DID",
            Box::new(|i| format!("/recordings?did=046200000{}", i % 2)),
        ),
        (
            "by user",
            Box::new(|i| format!("/recordings?user={}", 1001 + i % 20)),
        ),
        (
            "one day",
            Box::new(move |i| format!("/recordings?{}", day(i))),
        ),
        (
            "caller + day",
            Box::new(move |i| format!("/recordings?caller={}&{}", caller(i), day(i))),
        ),
        (
            "deep page (cursor)",
            Box::new(move |_| format!("/recordings?cursor={deep}")),
        ),
        (
            "incomplete only",
            Box::new(|_| "/recordings?complete=false".to_string()),
        ),
    ];
    for (name, uri) in &kinds {
        let mut ms = Vec::new();
        for i in 0..200 {
            let t = Instant::now();
            let v = get_json(&base, &token, &uri(i));
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(v["items"].is_array());
        }
        summary(name, ms);
    }

    println!(
        "audio: {} recordings streamed at once (whole files):",
        files.len()
    );
    let t = Instant::now();
    let handles: Vec<_> = files
        .into_iter()
        .map(|(id, want)| {
            let url = format!("{base}/recordings/{id}/audio");
            let token = token.clone();
            std::thread::spawn(move || {
                let s = Instant::now();
                let r = agent()
                    .get(&url)
                    .set("Authorization", &format!("Bearer {token}"))
                    .call()
                    .unwrap_or_else(|e| panic!("GET {url}: {e}"));
                let mut got = Vec::with_capacity(want.len());
                r.into_reader().read_to_end(&mut got).unwrap();
                assert!(got == want, "{id}: the bytes differ");
                (s.elapsed().as_secs_f64() * 1000.0, got.len())
            })
        })
        .collect();
    let mut per = Vec::new();
    let mut bytes = 0usize;
    for h in handles {
        let (ms, n) = h.join().expect("stream thread");
        per.push(ms);
        bytes += n;
    }
    let wall = t.elapsed().as_secs_f64();
    println!(
        "  {} MB in {wall:.2} s: {:.1} MB/s aggregate; every byte checked",
        bytes / 1_000_000,
        bytes as f64 / 1e6 / wall
    );
    summary("per stream", per);
    let listens = get_json(&base, &token, "/audit?action=recording.listen&limit=1000");
    println!(
        "  audit entries for the listens: {}",
        listens["items"].as_array().map_or(0, Vec::len)
    );
    println!(
        "server RSS at the end: {:.0} MiB",
        madoguchi_tests::load::rss_mib(server.pid())
    );
}

/// `YYYY-MM-DD` of a Unix time in Japan.
fn time_date(unix: u64) -> String {
    let days = (unix + 9 * 3600) / 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}
