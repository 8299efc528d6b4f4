//! Feeds every RFC 4475 torture message (per `MANIFEST.tsv`) and every RFC 5118 IPv6
//! message through `parse_datagram` + `validate::check_request` / `check_response`, and
//! asserts the handling the RFCs expect: valid messages parse (and pass the validator
//! unless the manifest names a response), invalid requests get exactly the manifest's
//! status, malformed responses are dropped. Every parsed message must also survive
//! print → parse unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use madoguchi_sip::message::{HeaderAccess, HeaderName, Method, SipMessage};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::validate::{check_request, check_response, Policy};

/// What must happen to a file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Parses; the validator accepts it (requests) / it is a well-formed response.
    Accept,
    /// Parses, but the validator answers with this status.
    Validator(u16),
    /// The parser rejects it with this status in `Rejected::reply`.
    ParseReject(u16),
    /// A response the parser (or `check_response`) drops without reply.
    Drop,
}
use Expect::*;

/// Expected handling per RFC 4475 file under [`uas_policy`]. Cross-checked against the
/// manifest text below, so an edited manifest fails this test rather than drifting.
fn rfc4475_expectations() -> BTreeMap<&'static str, Expect> {
    BTreeMap::from([
        ("wsinv.dat", Accept),
        ("intmeth.dat", Validator(501)), // unknown method: UAS 501 with Allow
        ("esc01.dat", Accept),
        ("escnull.dat", Accept),
        ("esc02.dat", Validator(501)), // RE%47IST%45R is an unknown method
        ("lwsdisp.dat", Accept),
        ("longreq.dat", Accept),
        ("dblreq.dat", Accept),
        ("semiuri.dat", Accept),
        ("transports.dat", Accept),
        ("mpart01.dat", Validator(415)), // multipart/mixed is not in the UAS's Accept
        ("unreason.dat", Accept),
        ("noreason.dat", Accept),
        ("badinv01.dat", ParseReject(400)),
        ("clerr.dat", ParseReject(400)),
        ("ncl.dat", ParseReject(400)),
        ("scalar02.dat", ParseReject(400)),
        ("scalarlg.dat", Drop),
        ("quotbal.dat", ParseReject(400)),
        ("ltgtruri.dat", ParseReject(400)),
        ("lwsruri.dat", ParseReject(400)),
        ("lwsstart.dat", ParseReject(400)),
        ("trws.dat", ParseReject(400)),
        ("escruri.dat", Validator(400)),
        ("baddate.dat", Accept), // the Date header is ignored
        ("regbadct.dat", ParseReject(400)),
        ("badaspec.dat", ParseReject(400)),
        ("baddn.dat", ParseReject(400)),
        ("badvers.dat", ParseReject(505)),
        ("mismatch01.dat", Validator(400)),
        ("mismatch02.dat", Validator(400)),
        ("bigcode.dat", Drop),
        ("badbranch.dat", Accept),
        ("insuf.dat", Validator(400)),
        ("unkscm.dat", Validator(416)),
        ("novelsc.dat", Validator(416)),
        ("unksm2.dat", Accept),
        ("bext01.dat", Validator(420)),
        ("invut.dat", Validator(415)),
        ("regaut01.dat", Accept), // the 401 challenge is the registrar's, not the validator's
        ("multi01.dat", Validator(400)),
        ("mcl01.dat", ParseReject(400)),
        ("bcast.dat", Accept), // a response; not forwarding it is the transport's job
        ("zeromf.dat", Accept), // a UAS processes it; see zero_max_forwards_when_forwarding
        ("cparam01.dat", Accept),
        ("cparam02.dat", Accept),
        ("regescrt.dat", Accept),
        ("sdp01.dat", Validator(406)),
        ("inv2543.dat", Accept),
    ])
}

/// RFC 5118 has no manifest: §4.2 and §4.10 are the two invalid messages.
fn rfc5118_expectations() -> BTreeMap<&'static str, Expect> {
    BTreeMap::from([
        ("ipv4-mapped-ipv6.dat", Accept),
        ("ipv6-bad.dat", ParseReject(400)),
        ("ipv6-bug-abnf-3-colons.dat", ParseReject(400)),
        ("ipv6-correct-abnf-2-colons.dat", Accept),
        ("ipv6-good.dat", Accept),
        // These two declare a Content-Length larger than the body the RFC text yields (lines
        // lost their CR on extraction), so strict UDP rules answer 400 as for RFC 4475 clerr;
        // `rfc5118_sdp_messages_with_true_length` checks their IPv6 content.
        ("ipv6-in-sdp.dat", ParseReject(400)),
        ("mult-ip-in-header.dat", Accept),
        ("mult-ip-in-sdp.dat", ParseReject(400)),
        ("port-ambiguous.dat", Accept),
        ("port-unambiguous.dat", Accept),
        ("via-received-param-no-delim.dat", Accept),
        ("via-received-param-with-delim.dat", Accept),
    ])
}

/// A UAS that implements the core methods and takes SDP bodies.
fn uas_policy() -> Policy {
    Policy {
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
    }
}

fn conformance_dir(sub: &str) -> PathBuf {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let dir = shared.join("conformance").join(sub);
    assert!(
        dir.is_dir(),
        "conformance corpus missing: expected {} (the shared dir sits next to the repo checkout, \
         i.e. /work/shared for /work/main)",
        dir.display()
    );
    dir
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Runs one message and returns what actually happened, for comparison with [`Expect`].
fn handle(bytes: &[u8], policy: &Policy) -> Result<Expect, String> {
    match parse_datagram(bytes, &Limits::default()) {
        Err(rej) => Ok(match rej.reply {
            None => Drop,
            Some(reply) => {
                for h in [HeaderName::VIA, HeaderName::CALL_ID, HeaderName::CSEQ] {
                    if reply.headers.get(h).is_none() {
                        return Err(format!("reply lacks {h}: {reply:?}"));
                    }
                }
                ParseReject(reply.status)
            }
        }),
        Ok(msg) => {
            round_trip(&msg)?;
            match msg {
                SipMessage::Request(req) => Ok(match check_request(&req, policy) {
                    Ok(()) => Accept,
                    Err(resp) => Validator(resp.status),
                }),
                SipMessage::Response(resp) => Ok(match check_response(&resp) {
                    Ok(()) => Accept,
                    Err(_) => Drop,
                }),
            }
        }
    }
}

/// print → parse gives the same message (Content-Length is rewritten by printing, so it is
/// compared through the body length instead).
fn round_trip(msg: &SipMessage) -> Result<(), String> {
    let printed = msg.to_bytes();
    let again = parse_datagram(&printed, &Limits::default())
        .map_err(|e| format!("printed message does not parse: {:?}", e.error))?;
    let strip = |m: &SipMessage| {
        let mut m = m.clone();
        match &mut m {
            SipMessage::Request(r) => r.headers.remove(HeaderName::CONTENT_LENGTH),
            SipMessage::Response(r) => r.headers.remove(HeaderName::CONTENT_LENGTH),
        }
        m
    };
    if strip(&again) != strip(msg) {
        return Err(format!(
            "round trip changed the message:\n{msg:?}\n{again:?}"
        ));
    }
    Ok(())
}

fn run(dir: &Path, expectations: &BTreeMap<&'static str, Expect>) -> Vec<String> {
    let policy = uas_policy();
    let mut failures = Vec::new();
    for (file, want) in expectations {
        match handle(&read(dir, file), &policy) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("{file}: expected {want:?}, got {got:?}")),
            Err(e) => failures.push(format!("{file}: {e}")),
        }
    }
    failures
}

#[test]
fn rfc4475_every_manifest_file_is_handled_as_expected() {
    let dir = conformance_dir("rfc4475");
    let manifest = String::from_utf8(read(&dir, "MANIFEST.tsv")).unwrap();
    let expectations = rfc4475_expectations();
    let mut seen = 0;
    for line in manifest.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, handling) = (cols[1], cols[4]);
        seen += 1;
        let want = expectations
            .get(file)
            .unwrap_or_else(|| panic!("{file} is in MANIFEST.tsv but has no expectation here"));
        // When our expectation is a status, the manifest must name it (or say "drop").
        match want {
            Validator(s) | ParseReject(s) if !matches!(file, "esc02.dat" | "mpart01.dat") => {
                assert!(
                    handling.contains(&s.to_string()),
                    "{file}: we expect {s}, manifest says {handling:?}"
                )
            }
            Drop => assert!(
                handling.contains("drop"),
                "{file}: manifest says {handling:?}"
            ),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        expectations.len(),
        "manifest and expectations differ in size"
    );
    let failures = run(&dir, &expectations);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rfc5118_every_file_is_handled_as_expected() {
    let dir = conformance_dir("rfc5118");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    on_disk.sort();
    let expectations = rfc5118_expectations();
    let listed: Vec<String> = expectations.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        on_disk, listed,
        "RFC 5118 files on disk differ from the expectations"
    );
    let failures = run(&dir, &expectations);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn request(dir: &Path, file: &str) -> madoguchi_sip::message::Request {
    match parse_datagram(&read(dir, file), &Limits::default()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("{file}: {other:?}"),
    }
}

#[test]
fn dblreq_keeps_only_the_first_message() {
    let r = request(&conformance_dir("rfc4475"), "dblreq.dat");
    assert_eq!(r.method, Method::Register);
    assert!(r.body.is_empty());
    assert_eq!(r.headers.count(HeaderName::VIA), 1);
}

#[test]
fn replies_carry_the_details_rfc4475_asks_for() {
    let dir = conformance_dir("rfc4475");
    let policy = uas_policy();
    let e = check_request(&request(&dir, "bext01.dat"), &policy).unwrap_err();
    assert_eq!(
        e.headers.get("Unsupported"),
        Some("nothingSupportsThis, nothingSupportsThisEither")
    );
    let e = check_request(&request(&dir, "invut.dat"), &policy).unwrap_err();
    assert_eq!(e.headers.get("Accept"), Some("application/sdp"));
    let e = check_request(&request(&dir, "intmeth.dat"), &policy).unwrap_err();
    assert_eq!(
        e.headers.get("Allow"),
        Some("INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE")
    );
    // Every generated reply has a To tag.
    assert!(e.to_hdr().unwrap().tag().is_some());
    let rej = parse_datagram(&read(&dir, "badvers.dat"), &Limits::default()).unwrap_err();
    let reply = rej.reply.unwrap();
    assert_eq!(reply.status, 505);
    assert_eq!(
        reply.headers.get("Via"),
        Some("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw")
    );
}

#[test]
fn zero_max_forwards_when_forwarding() {
    let dir = conformance_dir("rfc4475");
    let policy = Policy {
        forwarding: true,
        ..uas_policy()
    };
    let e = check_request(&request(&dir, "zeromf.dat"), &policy).unwrap_err();
    assert_eq!(e.status, 483);
}

#[test]
fn multipart_is_accepted_when_the_policy_takes_it() {
    let dir = conformance_dir("rfc4475");
    let policy = Policy {
        accepted_content_types: vec!["application/sdp".into(), "multipart/mixed".into()],
        ..uas_policy()
    };
    assert!(check_request(&request(&dir, "mpart01.dat"), &policy).is_ok());
}

#[test]
fn typed_views_of_valid_torture_messages() {
    let dir = conformance_dir("rfc4475");
    let r = request(&dir, "wsinv.dat");
    let vias = r.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(r.to_hdr().unwrap().tag(), Some("1918181833n"));
    assert_eq!(
        r.from_hdr().unwrap().display.as_deref(),
        Some("J Rosenberg \\\"")
    );
    assert_eq!(r.cseq().unwrap().seq, 9);
    assert_eq!(r.body.len(), 150);
    let r = request(
        &conformance_dir("rfc5118"),
        "via-received-param-no-delim.dat",
    );
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bKas3"));
}

#[test]
fn rfc5118_sdp_messages_with_true_length() {
    let dir = conformance_dir("rfc5118");
    for file in ["ipv6-in-sdp.dat", "mult-ip-in-sdp.dat"] {
        let text = String::from_utf8(read(&dir, file)).unwrap();
        let (head, body) = text.split_once("\n\n").unwrap();
        let head: Vec<String> = head
            .lines()
            .map(|l| match l.starts_with("Content-Length:") {
                true => format!("Content-Length: {}", body.len()),
                false => l.to_string(),
            })
            .collect();
        let fixed = format!("{}\n\n{body}", head.join("\n"));
        assert_eq!(
            handle(fixed.as_bytes(), &uas_policy()),
            Ok(Accept),
            "{file}"
        );
    }
}

/// A small in-tree fuzz pass that runs on stable in every `cargo test`: every truncation of
/// every corpus file, and every position overwritten with a byte the grammar cares about,
/// must neither panic nor break print → parse (the nightly fuzzer in `fuzz/` goes further).
#[test]
fn corpus_mutations_never_panic_and_round_trip() {
    let mut inputs = 0;
    for sub in ["rfc4475", "rfc5118"] {
        let dir = conformance_dir(sub);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "dat"))
            .collect();
        files.sort();
        for path in files {
            let orig = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let mut check = |bytes: &[u8], what: &str| {
                inputs += 1;
                if let Ok(msg) = parse_datagram(bytes, &Limits::default()) {
                    if let Err(e) = round_trip(&msg) {
                        panic!("{name} {what}: {e}");
                    }
                }
            };
            // The head is where the grammar is; the body is opaque, so it is sampled.
            let head_len = orig
                .windows(2)
                .position(|w| w == b"\n\n" || w == b"\r\n\r")
                .unwrap_or(orig.len());
            for cut in (0..orig.len()).filter(|c| *c < head_len || c % 32 == 0) {
                check(&orig[..cut], &format!("cut at {cut}"));
            }
            // Each head position gets two of the bytes the grammar cares about, in rotation.
            let bytes = [
                b'\r', b'\n', b' ', b'\t', b';', b',', b'"', b'<', b'>', b':', b'@', b'%', b'[', 0,
                0xff,
            ];
            for pos in 0..head_len {
                for k in 0..2 {
                    let b = bytes[(pos * 2 + k) % bytes.len()];
                    let mut m = orig.clone();
                    m[pos] = b;
                    check(&m, &format!("byte {b:#x} at {pos}"));
                }
            }
        }
    }
    assert!(inputs > 50_000, "only {inputs} inputs");
}
