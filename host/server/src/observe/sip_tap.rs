//! What the transports see of every SIP message, for metrics and the per-call trace.
//!
//! [`summarize`] reads only the start line and a few headers of the raw bytes (no full
//! parse: it runs on every message in and out, including ones the parser rejects).
//! [`Tap::seen`] counts the message and hands it to the [`SipTrace`].

use std::net::SocketAddr;
use std::sync::Arc;

use super::trace::{Direction, SipTrace, TracedMessage};

/// The start line and the headers the trace and the counters need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The request's method, or the CSeq method of a response.
    pub method: String,
    /// `Some(status)` for a response.
    pub status: Option<u16>,
    pub call_id: Option<String>,
    /// `INVITE sip:1002@host` or `180 Ringing`.
    pub line: String,
}

/// Reads the start line, Call-ID (`i`) and CSeq of a SIP message. `None` when the bytes do
/// not look like SIP at all.
pub fn summarize(bytes: &[u8]) -> Option<Summary> {
    // The headers end at the first empty line; never read past 8 KiB of them.
    let head = &bytes[..bytes.len().min(8192)];
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let start = lines.next()?.trim();
    let (mut method, status, line) = if let Some(rest) = start.strip_prefix("SIP/2.0 ") {
        let code: u16 = rest.get(..3)?.parse().ok()?;
        (String::new(), Some(code), rest.to_string())
    } else {
        let mut parts = start.split(' ');
        let m = parts.next()?;
        let uri = parts.next()?;
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        (m.to_string(), None, format!("{m} {uri}"))
    };
    let mut call_id = None;
    for l in lines {
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("call-id") || name == "i" {
            call_id = Some(value.trim().to_string());
        } else if status.is_some() && name.eq_ignore_ascii_case("cseq") {
            if let Some(m) = value.split_whitespace().nth(1) {
                method = m.to_string();
            }
        }
    }
    Some(Summary {
        method,
        status,
        call_id,
        line,
    })
}

/// Methods counted by name; anything else is `other` (bounded label values).
fn method_label(m: &str) -> &'static str {
    match m {
        "INVITE" => "INVITE",
        "ACK" => "ACK",
        "BYE" => "BYE",
        "CANCEL" => "CANCEL",
        "REGISTER" => "REGISTER",
        "OPTIONS" => "OPTIONS",
        "INFO" => "INFO",
        "UPDATE" => "UPDATE",
        "PRACK" => "PRACK",
        "SUBSCRIBE" => "SUBSCRIBE",
        "NOTIFY" => "NOTIFY",
        "REFER" => "REFER",
        "MESSAGE" => "MESSAGE",
        "PUBLISH" => "PUBLISH",
        _ => "other",
    }
}

fn class_label(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        6 => "6xx",
        _ => "other",
    }
}

/// Shared by the transports' sender and the core.
#[derive(Clone, Debug)]
pub struct Tap {
    pub trace: Arc<SipTrace>,
}

impl Tap {
    pub fn new(trace: Arc<SipTrace>) -> Tap {
        Tap { trace }
    }

    /// A message went in or out.
    pub fn seen(&self, dir: Direction, transport: &str, remote: SocketAddr, bytes: &[u8]) {
        let Some(s) = summarize(bytes) else {
            return;
        };
        let d = dir.as_str();
        match s.status {
            None => metrics::counter!(
                "madoguchi_sip_requests_total",
                "dir" => d,
                "method" => method_label(&s.method)
            )
            .increment(1),
            Some(code) => metrics::counter!(
                "madoguchi_sip_responses_total",
                "dir" => d,
                "method" => method_label(&s.method),
                "class" => class_label(code)
            )
            .increment(1),
        }
        // REGISTER and OPTIONS are not calls: they would crowd calls out of the trace.
        if matches!(s.method.as_str(), "REGISTER" | "OPTIONS") {
            return;
        }
        if let Some(call_id) = s.call_id.clone() {
            self.trace.record(TracedMessage::new(
                dir, transport, remote, call_id, s, bytes,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_are_summarized() {
        let req = b"INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP x\r\ni: abc@h\r\nCSeq: 1 INVITE\r\n\r\nv=0\r\n";
        let s = summarize(req).unwrap();
        assert_eq!(s.method, "INVITE");
        assert_eq!(s.status, None);
        assert_eq!(s.call_id.as_deref(), Some("abc@h"));
        assert_eq!(s.line, "INVITE sip:1002@127.0.0.1");
        let resp = b"SIP/2.0 486 Busy Here\r\nCall-ID: x1\r\nCSeq: 2 INVITE\r\n\r\n";
        let s = summarize(resp).unwrap();
        assert_eq!((s.method.as_str(), s.status), ("INVITE", Some(486)));
        assert_eq!(s.line, "486 Busy Here");
        assert_eq!(summarize(b"\x00\x01garbage"), None);
        assert_eq!(summarize(b"SIP/2.0 abc"), None);
        assert_eq!(method_label("FOO"), "other");
        assert_eq!(class_label(183), "1xx");
    }
}
