//! Measures SIP parsers against the RFC 4475 torture messages and the RFC 5118 IPv6
//! messages and prints the table that `docs/parser-survey.md` records.
//!
//! ```text
//! cargo run -p madoguchi-sip --example parser_survey
//! ```
//!
//! Each parser gets the datagram as bytes and then has to yield the fields a SIP stack
//! needs (top Via, From, To, Call-ID, CSeq) as typed values, as its own stack would:
//!
//! * `madoguchi`: `parse::parse_datagram` (checks those fields itself), plus
//!   `validate::check_request` for the "final" column;
//! * `rsip 0.4`: `SipMessage::try_from` then `.typed()` on the five headers (and once
//!   more with bare LF turned into CRLF first, to separate that defect from the others);
//! * `ezk-sip-types 0.6`: the crate has no whole-message parser, so the message is cut up
//!   the way ezk-sip-core's transport does (`PullParser`, `MessageLine`, `Line`, then
//!   `get_named`/`get` on the five headers).
//!
//! Panics are caught and counted as crashes. The shared corpus is located next to the
//! repository checkout (`/work/shared` for `/work/main`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use madoguchi_sip::message::{Method, SipMessage};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::validate::{check_request, check_response, Policy};

/// What a parser must do with a file, judged at the syntax level.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// Well-formed: must parse (the application may still answer 4xx).
    Parse,
    /// Malformed: must be rejected (4xx / dropped).
    Reject,
    /// Syntactically fine but semantically invalid: rejecting in the parser or leaving it
    /// to the application are both correct.
    Either,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Parsed,
    Rejected(String),
    Crashed,
}

struct Case {
    corpus: &'static str,
    file: String,
    want: Want,
    /// What RFC 4475's manifest (or RFC 5118) says should happen.
    expected: String,
    bytes: Vec<u8>,
}

fn want_for(file: &str, class: &str) -> Want {
    match file {
        // Semantic errors a parser may leave to the application.
        "escruri.dat" | "mismatch01.dat" | "mismatch02.dat" | "insuf.dat" | "multi01.dat"
        | "mcl01.dat" => Want::Either,
        // The manifest lets the element ignore the bad Date.
        "baddate.dat" => Want::Parse,
        _ if class.starts_with("invalid") => Want::Reject,
        _ => Want::Parse,
    }
}

fn load() -> Result<Vec<Case>, String> {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    let dir = shared.join("rfc4475");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .map_err(|e| format!("{}: {e} (is /work/shared present?)", dir.display()))?;
    let mut cases = Vec::new();
    for line in manifest.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [_, file, _, class, handling, ..] = cols[..] else {
            return Err(format!("bad manifest line {line:?}"));
        };
        cases.push(Case {
            corpus: "4475",
            file: file.to_string(),
            want: want_for(file, class),
            expected: handling.to_string(),
            bytes: read(&dir, file)?,
        });
    }
    let dir = shared.join("rfc5118");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    files.sort();
    for file in files {
        let (want, expected) = match file.as_str() {
            "ipv6-bad.dat" => (Want::Reject, "reject: IPv6 host without brackets (§4.2)"),
            "ipv6-bug-abnf-3-colons.dat" => (Want::Reject, "reject: invalid IPv6 `:::` (§4.10)"),
            "ipv6-in-sdp.dat" | "mult-ip-in-sdp.dat" => (
                Want::Either,
                "valid IPv6, but Content-Length exceeds the body as extracted",
            ),
            _ => (Want::Parse, "parse OK"),
        };
        cases.push(Case {
            corpus: "5118",
            bytes: read(&dir, &file)?,
            file,
            want,
            expected: expected.to_string(),
        });
    }
    Ok(cases)
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, String> {
    std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))
}

fn guarded(f: impl FnOnce() -> Result<(), String>) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => Outcome::Parsed,
        Ok(Err(e)) => Outcome::Rejected(e),
        Err(_) => Outcome::Crashed,
    }
}

fn short(e: impl std::fmt::Debug) -> String {
    let mut s = format!("{e:?}").replace(['\n', '|'], " ");
    // rsip nests the same prefix several times; keep the informative tail.
    while let Some(i) = s.find("okenizer error: ") {
        s.replace_range(..i + "okenizer error: ".len(), "");
    }
    s.chars().take(60).collect()
}

fn madoguchi(buf: &[u8]) -> Outcome {
    guarded(|| {
        parse_datagram(buf, &Limits::default())
            .map(|_| ())
            .map_err(|r| {
                format!(
                    "{} ({})",
                    r.error,
                    r.reply.map_or("drop".into(), |r| r.status.to_string())
                )
            })
    })
}

/// The full madoguchi pipeline: parser, then validator, as a UAS.
fn madoguchi_final(buf: &[u8]) -> String {
    let policy = Policy {
        allowed_methods: vec![
            Method::Invite,
            Method::Ack,
            Method::Bye,
            Method::Cancel,
            Method::Options,
            Method::Register,
            Method::Message,
        ],
        ..Policy::default()
    };
    match parse_datagram(buf, &Limits::default()) {
        Err(r) => r.reply.map_or("drop".into(), |r| r.status.to_string()),
        Ok(SipMessage::Request(req)) => match check_request(&req, &policy) {
            Ok(()) => "accept".into(),
            Err(resp) => resp.status.to_string(),
        },
        Ok(SipMessage::Response(resp)) => match check_response(&resp) {
            Ok(()) => "accept".into(),
            Err(_) => "drop".into(),
        },
    }
}

fn rsip(buf: &[u8]) -> Outcome {
    use rsip::prelude::*;
    guarded(|| {
        let msg = rsip::SipMessage::try_from(buf).map_err(short)?;
        let check = |h: &dyn HeadersExt| -> Result<(), String> {
            h.via_header().map_err(short)?.typed().map_err(short)?;
            h.from_header().map_err(short)?.typed().map_err(short)?;
            h.to_header().map_err(short)?.typed().map_err(short)?;
            h.cseq_header().map_err(short)?.typed().map_err(short)?;
            h.call_id_header().map_err(short)?;
            Ok(())
        };
        match &msg {
            rsip::SipMessage::Request(r) => check(r),
            rsip::SipMessage::Response(r) => check(r),
        }
    })
}

/// rsip again, with bare LF line ends turned into CRLF first: separates its line-end
/// problem from what it does with the content (all RFC 5118 files use bare LF).
fn rsip_crlf(buf: &[u8]) -> Outcome {
    let mut crlf = Vec::with_capacity(buf.len() + 64);
    for (i, b) in buf.iter().enumerate() {
        if *b == b'\n' && (i == 0 || buf[i - 1] != b'\r') {
            crlf.push(b'\r');
        }
        crlf.push(*b);
    }
    rsip(&crlf)
}

fn ezk(buf: &[u8]) -> Outcome {
    use ezk_sip_types::header::typed::{CSeq, CallID, ContentLength, FromTo, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};
    guarded(|| {
        let src = bytes::Bytes::copy_from_slice(buf);
        let mut lines = PullParser::new(&src, 0);
        let first = lines.next().ok_or("empty")?.map_err(short)?;
        let first = std::str::from_utf8(first).map_err(short)?;
        let (_, _line) = MessageLine::parse(&src)(first).map_err(short)?;
        let mut headers = Headers::new();
        for line in lines.by_ref() {
            let line = line.map_err(short)?;
            let line = std::str::from_utf8(line).map_err(short)?;
            let (_, l) = Line::parse(&src, line).map_err(short)?;
            headers.insert(l.name, l.value);
        }
        let body_len = src.len().saturating_sub(lines.head_end());
        if let Some(cl) = headers.try_get_named::<ContentLength>() {
            let cl = cl.map_err(short)?;
            if cl.0 > body_len {
                return Err("Content-Length exceeds datagram".into());
            }
        }
        headers.get_named::<Vec<Via>>().map_err(short)?;
        headers.get::<FromTo>(Name::FROM).map_err(short)?;
        headers.get::<FromTo>(Name::TO).map_err(short)?;
        headers.get_named::<CallID>().map_err(short)?;
        headers.get_named::<CSeq>().map_err(short)?;
        Ok(())
    })
}

/// A parser under test: datagram in, outcome out.
type Parser = fn(&[u8]) -> Outcome;

#[derive(Default)]
struct Score {
    valid: usize,
    valid_ok: usize,
    invalid: usize,
    invalid_ok: usize,
    either_rejected: usize,
    crashes: usize,
}

impl Score {
    fn add(&mut self, want: Want, got: &Outcome) {
        match (want, got) {
            (_, Outcome::Crashed) => self.crashes += 1,
            (Want::Parse, Outcome::Parsed) => self.valid_ok += 1,
            (Want::Reject, Outcome::Rejected(_)) => self.invalid_ok += 1,
            (Want::Either, Outcome::Rejected(_)) => self.either_rejected += 1,
            _ => {}
        }
        match want {
            Want::Parse => self.valid += 1,
            Want::Reject => self.invalid += 1,
            Want::Either => {}
        }
    }
}

fn mark(want: Want, got: &Outcome) -> String {
    match (want, got) {
        (_, Outcome::Crashed) => "**CRASH**".into(),
        (Want::Parse, Outcome::Parsed) | (Want::Either, Outcome::Parsed) => "ok".into(),
        (Want::Reject, Outcome::Rejected(_)) | (Want::Either, Outcome::Rejected(_)) => {
            "rejected".into()
        }
        (Want::Parse, Outcome::Rejected(e)) => format!("**wrongly rejected**: {e}"),
        (Want::Reject, Outcome::Parsed) => "**wrongly accepted**".into(),
    }
}

fn main() {
    let cases = match load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parser_survey: {e}");
            std::process::exit(1);
        }
    };
    // Crashes are reported in the table, not as panic messages on stderr.
    std::panic::set_hook(Box::new(|_| {}));

    let parsers: [(&str, Parser); 4] = [
        ("madoguchi", madoguchi),
        ("rsip 0.4.0", rsip),
        ("rsip 0.4.0, LF→CRLF first", rsip_crlf),
        ("ezk-sip-types 0.6", ezk),
    ];
    let mut scores: Vec<Score> = parsers.iter().map(|_| Score::default()).collect();
    let mut rows = Vec::new();
    for case in &cases {
        let mut cells = Vec::new();
        for (i, (_, f)) in parsers.iter().enumerate() {
            let got = f(&case.bytes);
            scores[i].add(case.want, &got);
            cells.push(mark(case.want, &got));
        }
        rows.push((case, cells, madoguchi_final(&case.bytes)));
    }
    let _ = std::panic::take_hook();

    println!("## Summary ({} files: RFC 4475 + RFC 5118)\n", cases.len());
    println!("| parser | valid accepted | invalid rejected | semantic-only rejected by parser | crashes |");
    println!("|---|---|---|---|---|");
    for ((name, _), s) in parsers.iter().zip(&scores) {
        let either = cases.iter().filter(|c| c.want == Want::Either).count();
        println!(
            "| {name} | {}/{} | {}/{} | {}/{either} | {} |",
            s.valid_ok, s.valid, s.invalid_ok, s.invalid, s.either_rejected, s.crashes
        );
    }
    println!("\n## Per file\n");
    println!("`want`: parse = well-formed, reject = malformed, either = semantic error the parser may leave to the application. `madoguchi final` is parser + `validate::check_request` as a UAS.\n");
    println!(
        "| RFC | file | want | expected (manifest) | {} | madoguchi final |",
        parsers.map(|p| p.0).join(" | ")
    );
    println!("|---|---|---|---|{}---|", "---|".repeat(parsers.len()));
    for (case, cells, fin) in rows {
        let want = match case.want {
            Want::Parse => "parse",
            Want::Reject => "reject",
            Want::Either => "either",
        };
        println!(
            "| {} | {} | {want} | {} | {} | {fin} |",
            case.corpus,
            case.file,
            case.expected.replace('|', "/"),
            cells.join(" | ")
        );
    }
}
