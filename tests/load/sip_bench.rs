//! SIP load benchmark (a program, not a test): drives sipp at rising rates against a real
//! `madoguchi` and prints, per rate, successes, failures, the achieved rate and the
//! server's CPU and memory. Nothing is asserted; the figures are for the issue notes.
//!
//! ```sh
//! tests/load/run-sip-bench            # release build, default rates
//! tests/load/run-sip-bench 200 500 1000 --seconds 10
//! ```
//!
//! Two workloads:
//! - **register**: REGISTER with digest (401 challenge, then 200): two round trips each.
//! - **calls**: B2BUA call setups through the server to one registered sipp UAS that
//!   answers at once (INVITE/100/180/200/ACK on both legs, then BYE on both legs).
//!
//! Every run is bounded: `rate × seconds` calls, then sipp stops. Traffic stays on loopback.

use std::time::{Duration, Instant};

use madoguchi_tests::load::{cpu_seconds, num_cpus, rss_mib, sipp_counts};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{Server, ServerOptions};

struct Args {
    rates: Vec<u32>,
    seconds: u32,
    workloads: Vec<String>,
}

fn parse_args() -> Args {
    let mut rates = Vec::new();
    let mut seconds = 10;
    let mut workloads = vec!["register".to_string(), "calls".to_string()];
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().and_then(|s| s.parse().ok()).unwrap_or(10),
            "--only" => workloads = vec![it.next().unwrap_or_default()],
            n => {
                if let Ok(r) = n.parse() {
                    rates.push(r)
                }
            }
        }
    }
    if rates.is_empty() {
        rates = vec![100, 250, 500, 1000, 1500];
    }
    Args {
        rates,
        seconds: seconds.clamp(1, 120),
        workloads,
    }
}

fn run_load(server: &Server, scenario: Sipp, rate: u32, seconds: u32, label: &str) -> bool {
    let total = rate * seconds;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stats.csv");
    let sipp = scenario
        .arg("-r")
        .arg(&rate.to_string())
        .arg("-m")
        .arg(&total.to_string())
        .arg("-l")
        .arg(&(rate * 4).max(100).to_string())
        .arg("-trace_stat")
        .arg("-stf")
        .arg(csv.to_str().unwrap())
        .arg("-fd")
        .arg("1")
        .arg("-timeout")
        .arg(&format!("{}s", seconds * 3 + 30));
    let cpu0 = cpu_seconds(server.pid());
    let t0 = Instant::now();
    // Sample the server's memory every 5 s while sipp runs, to show whether it stays flat.
    let mut run = sipp.spawn().expect("spawn sipp");
    let mut samples = Vec::new();
    let mut next_sample = Duration::from_secs(5);
    let result = loop {
        match run.try_finish() {
            Some(r) => break r,
            None => {
                if t0.elapsed() >= next_sample {
                    samples.push(format!(
                        "{:.0}s:{:.0}MiB",
                        t0.elapsed().as_secs_f64(),
                        rss_mib(server.pid())
                    ));
                    next_sample += Duration::from_secs(5);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.pid()) - cpu0;
    let (ok, failed) = sipp_counts(&csv);
    println!(
        "{label:<9} rate {rate:>5}/s  calls {total:>6}  ok {ok:>6}  failed {failed:>5}  achieved {:>7.0}/s  server CPU {:>5.1}% of one core  RSS {:>6.1} MiB{}",
        ok as f64 / wall,
        100.0 * cpu / wall,
        rss_mib(server.pid()),
        if result.is_err() && failed == 0 { "  (sipp reported an error)" } else { "" }
    );
    if samples.len() > 2 {
        println!("          RSS while running: {}", samples.join(" "));
    }
    failed == 0 && ok == total as u64
}

fn main() {
    let args = parse_args();
    println!(
        "madoguchi SIP benchmark: {} cores, rates {:?}, {} s per step",
        num_cpus(),
        args.rates,
        args.seconds
    );
    for workload in &args.workloads {
        let server = Server::start(ServerOptions::default()).expect("start server");
        let mut best = 0;
        match workload.as_str() {
            "register" => {
                for &rate in &args.rates {
                    let reg = Sipp::new("register.xml", server.sip).user("1001", "zama1001");
                    let port = reg.port().to_string();
                    let reg = reg.set("contact_port", &port);
                    if run_load(&server, reg, rate, args.seconds, "register") {
                        best = rate;
                    } else {
                        break;
                    }
                }
                println!("register: highest rate with 0 failures: {best}/s\n");
            }
            "calls" => {
                // One UAS that answers every call at once, registered as 1001.
                let uas = Sipp::new("device_answer.xml", server.sip)
                    .set("answer_ms", "0")
                    .arg("-m")
                    .arg("100000000")
                    .arg("-timeout")
                    .arg("3600s");
                let device =
                    Device::start(server.sip, "1001", "zama1001", uas).expect("register the UAS");
                for &rate in &args.rates {
                    let caller = Sipp::new("caller.xml", server.sip)
                        .service("1001")
                        .set("hold_ms", "0");
                    if run_load(&server, caller, rate, args.seconds, "calls") {
                        best = rate;
                    } else {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                println!("calls: highest B2BUA setup rate with 0 failures: {best}/s\n");
                drop(device);
            }
            other => eprintln!("unknown workload {other}"),
        }
    }
}
