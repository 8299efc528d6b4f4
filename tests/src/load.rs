//! Helpers of the benchmark programs in `tests/load/`: the server's CPU and memory from
//! `/proc`, sipp's statistics and message-log times, percentiles. Benchmarks print figures;
//! nothing here asserts on time.

use std::path::Path;
use std::process::Command;

/// CPU seconds (user + system) the process has used so far (`/proc/PID/stat`).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime (fields 14 and 15) are at 11 and 12 after the ")"; USER_HZ is 100.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory (`/proc/PID/statm`, second field, in 4 KiB pages).
pub fn rss_mib(pid: u32) -> f64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<f64>().ok())
        .map(|pages| pages * 4096.0 / (1024.0 * 1024.0))
        .unwrap_or(0.0)
}

/// Successful and failed calls from sipp's statistics CSV (its last line).
pub fn sipp_counts(csv: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(csv).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(';').collect();
    let last: Vec<&str> = lines.last().unwrap_or("").split(';').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (col("SuccessfulCall(C)"), col("FailedCall(C)"))
}

/// One message of a sipp message log (`-trace_msg`).
#[derive(Debug)]
pub struct TracedMessage {
    /// The log's time stamp in ms (sipp prints local time; logs from this machine share it,
    /// so only differences matter).
    pub at_ms: f64,
    /// Sent by sipp (else received).
    pub sent: bool,
    /// The start line, e.g. `INVITE sip:1001@127.0.0.1:5060 SIP/2.0` or `SIP/2.0 200 OK`.
    pub start_line: String,
    /// The header lines, as printed.
    pub headers: Vec<String>,
}

impl TracedMessage {
    /// The start line's `n`th word: 0 is the method (or `SIP/2.0`), 1 the URI (or status).
    pub fn word(&self, n: usize) -> &str {
        self.start_line
            .split_whitespace()
            .nth(n)
            .unwrap_or_default()
    }

    /// The trimmed value of the first header called `name` or its compact form `compact`.
    pub fn header(&self, name: &str, compact: &str) -> Option<&str> {
        self.headers.iter().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim();
            (n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact)).then(|| v.trim())
        })
    }
}

/// Reads a sipp `-trace_msg` log; a missing file reads as no messages.
pub fn read_trace(path: &Path) -> Vec<TracedMessage> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for block in text
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.lines();
        let Some(at_ms) = lines.next().and_then(parse_stamp) else {
            continue;
        };
        let sent = lines.next().is_some_and(|l| l.contains(" sent"));
        let mut rest = lines.skip_while(|l| l.trim().is_empty());
        let Some(start_line) = rest.next() else {
            continue;
        };
        out.push(TracedMessage {
            at_ms,
            sent,
            start_line: start_line.to_string(),
            headers: rest
                .take_while(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect(),
        });
    }
    out
}

/// Parses `YYYY-MM-DD HH:MM:SS.ffffff` to ms since the epoch (as if UTC).
pub fn parse_stamp(s: &str) -> Option<f64> {
    let (date, time) = s.trim().split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min, sec) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days as f64 * 24.0 + h) * 60.0 + min) * 60_000.0 + sec * 1000.0)
}

/// `p`-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(i).copied()
}

pub fn num_cpus() -> usize {
    Command::new("nproc")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sipp_message_trace() {
        let trace = "\
----------------------------------------------- 2026-11-25 04:12:33.250000
UDP message sent (300 bytes):

INVITE sip:1001@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK-1
f: <sip:caller7@127.0.0.1:7000>;tag=1
Call-ID: abc@host

v=0

----------------------------------------------- 2026-11-25 04:12:33.500000
UDP message received [120] bytes :

SIP/2.0 180 Ringing
i: abc@host

";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.log");
        std::fs::write(&path, trace).unwrap();
        let log = read_trace(&path);
        assert_eq!(log.len(), 2);
        assert!(log[0].sent && !log[1].sent);
        assert_eq!(log[1].at_ms - log[0].at_ms, 250.0);
        assert_eq!((log[0].word(0), log[1].word(1)), ("INVITE", "180"));
        assert_eq!(
            log[0].header("From", "f"),
            Some("<sip:caller7@127.0.0.1:7000>;tag=1")
        );
        assert_eq!(log[0].header("call-id", "i"), Some("abc@host"));
        assert_eq!(log[1].header("Call-ID", "i"), Some("abc@host"));
        // The body is not a header.
        assert_eq!(log[0].header("v", "v"), None);
        assert!(read_trace(&dir.path().join("missing.log")).is_empty());
    }
}
