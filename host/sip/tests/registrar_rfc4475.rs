//! RFC 4475 registrar cases from the shared corpus (`MANIFEST.tsv`), parsed from the `.dat`
//! files and run through auth and registrar as the server does: cparam01, cparam02, regescrt
//! (200, binding stored) and regaut01 (401 challenge).

use std::path::PathBuf;

use madoguchi_sip::auth::{parse_auth_params, AuthConfig, AuthResult, Authenticator};
use madoguchi_sip::message::{Request, SipMessage};
use madoguchi_sip::parse::{parse_datagram, parse_uri, Limits};
use madoguchi_sip::registrar::{aor_of, process, RegistrarConfig};

const NOW: u64 = 1_795_570_386;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/rfc4475")
}

/// Reads a `.dat` after checking that the manifest lists it with the expected handling.
fn load(file: &str, expected: &str) -> Request {
    let dir = corpus();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_else(|e| {
        panic!(
            "conformance corpus missing at {} ({e}); it sits beside the checkout (/work/shared)",
            dir.display()
        )
    });
    let row = manifest
        .lines()
        .find(|l| l.split('\t').nth(1) == Some(file))
        .unwrap_or_else(|| panic!("{file} not in MANIFEST.tsv"));
    assert!(row.contains(expected), "manifest row changed: {row}");
    let bytes = std::fs::read(dir.join(file)).unwrap();
    match parse_datagram(&bytes, &Limits::default()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("{file} did not parse as a request: {other:?}"),
    }
}

fn register_ok(file: &str, expected: &str) -> madoguchi_sip::registrar::Binding {
    let req = load(file, expected);
    let out = process(
        &req,
        &[],
        &RegistrarConfig::default(),
        NOW,
        "udp:192.0.2.9:5060",
    );
    assert_eq!(out.response.status, 200, "{file}");
    assert!(out.changed);
    assert_eq!(out.new_bindings.len(), 1, "{file}");
    let listed: Vec<_> = out.response.headers.get_all("Contact").collect();
    assert_eq!(listed.len(), 1);
    let b = out.new_bindings[0].clone();
    assert_eq!(
        listed[0],
        format!("<{}>;{}expires=3600", b.contact, params_prefix(&b))
    );
    // The stored contact prints back to a URI that parses again (the B2BUA will dial it).
    parse_uri(&b.contact).unwrap_or_else(|e| panic!("{file}: stored contact unparsable: {e}"));
    b
}

fn params_prefix(b: &madoguchi_sip::registrar::Binding) -> String {
    b.params
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!("{n}={v};"),
            None => format!("{n};"),
        })
        .collect()
}

#[test]
fn cparam01_contact_header_parameter() {
    // `Contact: sip:+19725552222@gw1.example.net;unknownparam` — no angle brackets, so
    // `unknownparam` is a Contact header parameter, not part of the URI.
    let b = register_ok("cparam01.dat", "200, store binding");
    assert_eq!(b.contact, "sip:+19725552222@gw1.example.net");
    assert_eq!(b.params, vec![("unknownparam".to_string(), None)]);
    assert_eq!(b.call_id, "cparam01.70710@saturn.example.com");
    assert_eq!(b.cseq, 2);
}

#[test]
fn cparam02_uri_parameter() {
    // `Contact: <sip:+19725552222@gw1.example.net;unknownparam>` — here it is a URI parameter
    // and must stay in the stored contact.
    let b = register_ok("cparam02.dat", "store binding incl. URI param");
    assert_eq!(b.contact, "sip:+19725552222@gw1.example.net;unknownparam");
    assert!(b.params.is_empty());
    assert_eq!(b.cseq, 3);
}

#[test]
fn regescrt_escaped_header_in_contact() {
    let req = load("regescrt.dat", "store binding incl. escaped header");
    assert_eq!(aor_of(&req).unwrap(), "sip:user@example.com");
    let b = register_ok("regescrt.dat", "store binding incl. escaped header");
    assert_eq!(
        b.contact,
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
    let uri = parse_uri(&b.contact).unwrap();
    assert_eq!(
        uri.headers.as_deref(),
        Some("Route=%3Csip:sip.example.com%3E")
    );
}

#[test]
fn regaut01_unknown_scheme_is_challenged() {
    let req = load("regaut01.dat", "registrar 401 challenge");
    let auth = Authenticator::new(AuthConfig::new("example.com"), [3; 32]);
    let mut looked_up = false;
    let result = auth.check(&req, NOW, |_, _| {
        looked_up = true;
        None
    });
    let AuthResult::Challenge(resp) = result else {
        panic!("expected a 401 challenge, got {result:?}");
    };
    assert!(
        !looked_up,
        "an unknown scheme never reaches the user lookup"
    );
    assert_eq!(resp.status, 401);
    let challenges: Vec<_> = resp
        .headers
        .get_all("WWW-Authenticate")
        .map(|v| parse_auth_params(v).unwrap())
        .collect();
    assert_eq!(challenges.len(), 2);
    assert_eq!(challenges[0].get("algorithm"), Some("SHA-256"));
    assert_eq!(challenges[1].get("algorithm"), Some("MD5"));
    assert_eq!(challenges[0].get("realm"), Some("example.com"));
    assert_eq!(resp.headers.get("Call-ID"), Some("regaut01.0ha0isndaksdj"));
    assert!(resp.headers.get("To").unwrap().contains(";tag="));
    let wire = String::from_utf8(resp.to_bytes()).unwrap();
    assert!(wire.starts_with("SIP/2.0 401 Unauthorized\r\n"), "{wire}");
}
