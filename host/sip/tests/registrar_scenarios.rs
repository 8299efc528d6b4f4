//! REGISTER scenarios through the real parser: several devices per user (R-PBX-2),
//! refresh ordering, removal, limits, RFC 5626 instances.

use madoguchi_sip::message::{HeaderAccess, Request, Response, SipMessage};
use madoguchi_sip::parse::{parse_datagram, Limits};
use madoguchi_sip::registrar::{aor_of, process, Binding, RegisterOutcome, RegistrarConfig};

const T0: u64 = 1_795_570_386; // 2026-11-25 01:33:06 UTC
const SRC: &str = "udp:192.0.2.4:5062";

fn parse(text: &str) -> Request {
    let wire = text.replace('\n', "\r\n");
    match parse_datagram(wire.as_bytes(), &Limits::default()) {
        Ok(SipMessage::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// A REGISTER for 2001 with the given Call-ID, CSeq and extra header lines.
fn register(call_id: &str, cseq: u32, extra: &[&str]) -> Request {
    let mut text = format!(
        "REGISTER sip:pbx.example SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK{call_id}{cseq}\n\
         Max-Forwards: 70\n\
         From: <sip:2001@pbx.example>;tag=a1\n\
         To: <sip:2001@pbx.example>\n\
         Call-ID: {call_id}\n\
         CSeq: {cseq} REGISTER\n\
         User-Agent: TestPhone/1.0\n"
    );
    for e in extra {
        text.push_str(e);
        text.push('\n');
    }
    text.push_str("Content-Length: 0\n\n");
    parse(&text)
}

fn run(req: &Request, current: &[Binding], now: u64) -> RegisterOutcome {
    process(req, current, &RegistrarConfig::default(), now, SRC)
}

fn contacts_of(resp: &Response) -> Vec<String> {
    resp.headers
        .get_all("Contact")
        .map(str::to_string)
        .collect()
}

fn contact_uris(b: &[Binding]) -> Vec<&str> {
    b.iter().map(|b| b.contact.as_str()).collect()
}

#[test]
fn first_registration_is_stored_and_listed() {
    let req = register("c1", 1, &["Contact: <sip:2001@192.0.2.4:5062>"]);
    let out = run(&req, &[], T0);
    assert_eq!(out.response.status, 200);
    assert!(out.changed);
    assert_eq!(out.new_bindings.len(), 1);
    let b = &out.new_bindings[0];
    assert_eq!(b.contact, "sip:2001@192.0.2.4:5062");
    assert_eq!(b.expires_at_unix, T0 + 3600);
    assert_eq!((b.call_id.as_str(), b.cseq), ("c1", 1));
    assert_eq!(b.source, SRC);
    assert_eq!(b.user_agent.as_deref(), Some("TestPhone/1.0"));
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:2001@192.0.2.4:5062>;expires=3600"]
    );
    assert_eq!(
        out.response.headers.get("Date"),
        Some("Wed, 25 Nov 2026 01:33:06 GMT")
    );
    assert!(out.response.headers.get("To").unwrap().contains(";tag="));
    assert_eq!(aor_of(&req).unwrap(), "sip:2001@pbx.example");
}

#[test]
fn three_devices_at_once_are_all_listed_with_remaining_time() {
    let pc = register(
        "pc",
        1,
        &["Contact: <sip:2001@10.0.0.5:5060>", "Expires: 600"],
    );
    let mobile = register(
        "mobile",
        7,
        &["Contact: <sip:2001@203.0.113.9:40000;transport=tcp>"],
    );
    let desk = register("desk", 1, &["Contact: <sip:2001@10.0.0.6>;q=0.5"]);
    let b1 = run(&pc, &[], T0).new_bindings;
    let b2 = run(&mobile, &b1, T0 + 10).new_bindings;
    let out = run(&desk, &b2, T0 + 100);
    assert_eq!(out.response.status, 200);
    assert_eq!(
        contact_uris(&out.new_bindings),
        [
            "sip:2001@10.0.0.5:5060",
            "sip:2001@203.0.113.9:40000;transport=tcp",
            "sip:2001@10.0.0.6"
        ]
    );
    assert_eq!(
        contacts_of(&out.response),
        [
            "<sip:2001@10.0.0.5:5060>;expires=500",
            "<sip:2001@203.0.113.9:40000;transport=tcp>;expires=3510",
            "<sip:2001@10.0.0.6>;q=0.5;expires=3600",
        ]
    );
    assert_eq!(out.new_bindings[2].q, Some(0.5));
}

#[test]
fn refresh_needs_a_higher_cseq_within_a_call_id() {
    let first = run(
        &register("c1", 5, &["Contact: <sip:2001@10.0.0.5>"]),
        &[],
        T0,
    );
    let b = first.new_bindings;

    // Higher CSeq: refreshed in place, not duplicated.
    let refresh = run(
        &register("c1", 6, &["Contact: <sip:2001@10.0.0.5>", "Expires: 1800"]),
        &b,
        T0 + 60,
    );
    assert_eq!(refresh.response.status, 200);
    assert_eq!(refresh.new_bindings.len(), 1);
    assert_eq!(refresh.new_bindings[0].expires_at_unix, T0 + 60 + 1800);
    assert_eq!(refresh.new_bindings[0].cseq, 6);

    // Same or lower CSeq: 500 and nothing changes.
    for cseq in [6, 2] {
        let stale = run(
            &register("c1", cseq, &["Contact: <sip:2001@10.0.0.5>", "Expires: 0"]),
            &refresh.new_bindings,
            T0 + 61,
        );
        assert_eq!(stale.response.status, 500, "cseq {cseq}");
        assert_eq!(stale.new_bindings, refresh.new_bindings);
        assert!(!stale.changed);
    }

    // Another Call-ID (phone rebooted) may take the binding over with any CSeq.
    let reboot = run(
        &register("c2", 1, &["Contact: <sip:2001@10.0.0.5>"]),
        &refresh.new_bindings,
        T0 + 70,
    );
    assert_eq!(reboot.response.status, 200);
    assert_eq!(reboot.new_bindings.len(), 1);
    assert_eq!(reboot.new_bindings[0].call_id, "c2");
}

#[test]
fn equal_uris_by_rfc3261_refresh_the_same_binding() {
    let b = run(
        &register(
            "c1",
            1,
            &["Contact: <sip:2001@Phone.Example;transport=TCP>"],
        ),
        &[],
        T0,
    )
    .new_bindings;
    let out = run(
        &register(
            "c1",
            2,
            &["Contact: <sip:%32001@phone.example;transport=tcp;foo=bar>"],
        ),
        &b,
        T0,
    );
    assert_eq!(out.new_bindings.len(), 1);
    // A different port is a different binding.
    let out = run(
        &register(
            "c1",
            3,
            &["Contact: <sip:2001@phone.example:5060;transport=tcp>"],
        ),
        &out.new_bindings,
        T0,
    );
    assert_eq!(out.new_bindings.len(), 2);
}

#[test]
fn expires_zero_removes_one_binding() {
    let b = run(
        &register(
            "a",
            1,
            &["Contact: <sip:2001@10.0.0.5>, <sip:2001@10.0.0.6>"],
        ),
        &[],
        T0,
    )
    .new_bindings;
    assert_eq!(b.len(), 2);
    let out = run(
        &register("a", 2, &["Contact: <sip:2001@10.0.0.5>", "Expires: 0"]),
        &b,
        T0 + 1,
    );
    assert_eq!(out.response.status, 200);
    assert_eq!(contact_uris(&out.new_bindings), ["sip:2001@10.0.0.6"]);
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:2001@10.0.0.6>;expires=3599"]
    );
    // The contact parameter wins over the header.
    let out = run(
        &register(
            "a",
            3,
            &["Contact: <sip:2001@10.0.0.6>;expires=0", "Expires: 3600"],
        ),
        &out.new_bindings,
        T0 + 2,
    );
    assert!(out.new_bindings.is_empty());
    assert!(contacts_of(&out.response).is_empty());
    // Removing what is not there is a harmless 200.
    let out = run(
        &register("a", 4, &["Contact: <sip:2001@10.0.0.9>", "Expires: 0"]),
        &[],
        T0,
    );
    assert_eq!(out.response.status, 200);
    assert!(!out.changed);
}

#[test]
fn wildcard_removes_everything_only_when_well_formed() {
    let b1 = run(
        &register("a", 1, &["Contact: <sip:2001@10.0.0.5>"]),
        &[],
        T0,
    )
    .new_bindings;
    let b = run(
        &register("b", 1, &["Contact: <sip:2001@10.0.0.6>"]),
        &b1,
        T0,
    )
    .new_bindings;

    for extra in [
        &["Contact: *"][..],
        &["Contact: *", "Expires: 3600"],
        &["Contact: *", "Contact: <sip:2001@10.0.0.7>", "Expires: 0"],
    ] {
        let out = run(&register("z", 1, extra), &b, T0 + 5);
        assert_eq!(out.response.status, 400, "{extra:?}");
        assert_eq!(out.new_bindings, b);
    }
    // Same Call-ID as a binding but not a higher CSeq → 500, nothing removed.
    let out = run(&register("a", 1, &["Contact: *", "Expires: 0"]), &b, T0 + 5);
    assert_eq!(out.response.status, 500);
    assert_eq!(out.new_bindings.len(), 2);

    let out = run(&register("z", 1, &["Contact: *", "Expires: 0"]), &b, T0 + 5);
    assert_eq!(out.response.status, 200);
    assert!(out.new_bindings.is_empty());
    assert!(out.changed);
    assert_eq!(out.response.headers.count("Contact"), 0);
}

#[test]
fn a_register_without_contact_is_a_query() {
    let b = run(
        &register("a", 1, &["Contact: <sip:2001@10.0.0.5>;expires=120"]),
        &[],
        T0,
    )
    .new_bindings;
    let out = run(&register("q", 1, &[]), &b, T0 + 20);
    assert_eq!(out.response.status, 200);
    assert!(!out.changed);
    assert_eq!(out.new_bindings, b);
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:2001@10.0.0.5>;expires=100"]
    );
}

#[test]
fn lapsed_bindings_disappear() {
    let b = run(
        &register("a", 1, &["Contact: <sip:2001@10.0.0.5>;expires=60"]),
        &[],
        T0,
    )
    .new_bindings;
    let out = run(&register("q", 1, &[]), &b, T0 + 60);
    assert!(out.new_bindings.is_empty());
    assert!(out.changed, "the caller should write the purge back");
    assert_eq!(out.response.headers.count("Contact"), 0);
}

#[test]
fn interval_too_brief_and_cap() {
    let out = run(
        &register("a", 1, &["Contact: <sip:2001@10.0.0.5>;expires=30"]),
        &[],
        T0,
    );
    assert_eq!(out.response.status, 423);
    assert_eq!(out.response.reason, "Interval Too Brief");
    assert_eq!(out.response.headers.get("Min-Expires"), Some("60"));
    assert!(out.new_bindings.is_empty());

    let out = run(
        &register("a", 1, &["Contact: <sip:2001@10.0.0.5>", "Expires: 100000"]),
        &[],
        T0,
    );
    assert_eq!(out.response.status, 200);
    assert_eq!(out.new_bindings[0].expires_at_unix, T0 + 7200);
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:2001@10.0.0.5>;expires=7200"]
    );
}

#[test]
fn one_bad_contact_fails_the_whole_request() {
    let b = run(
        &register("a", 1, &["Contact: <sip:2001@10.0.0.5>"]),
        &[],
        T0,
    )
    .new_bindings;
    let out = run(
        &register(
            "b",
            1,
            &["Contact: <sip:2001@10.0.0.6>, <sip:2001@10.0.0.7>;expires=10"],
        ),
        &b,
        T0,
    );
    assert_eq!(out.response.status, 423);
    assert_eq!(out.new_bindings, b);
    assert!(!out.changed);
}

#[test]
fn bad_expires_header_is_400() {
    let out = run(
        &register("a", 1, &["Contact: <sip:2001@10.0.0.5>", "Expires: soon"]),
        &[],
        T0,
    );
    assert_eq!(out.response.status, 400);
}

#[test]
fn too_many_devices_evicts_the_one_refreshed_longest_ago() {
    let cfg = RegistrarConfig::default();
    let mut b: Vec<Binding> = Vec::new();
    for i in 0..10u64 {
        let req = register(
            &format!("dev{i}"),
            1,
            &[&format!("Contact: <sip:2001@10.0.1.{i}>")],
        );
        b = process(&req, &b, &cfg, T0 + i, SRC).new_bindings;
    }
    assert_eq!(b.len(), 10);
    // dev0 refreshes, so dev1 is now the stalest.
    b = process(
        &register("dev0", 2, &["Contact: <sip:2001@10.0.1.0>"]),
        &b,
        &cfg,
        T0 + 100,
        SRC,
    )
    .new_bindings;
    let out = process(
        &register("dev10", 1, &["Contact: <sip:2001@10.0.1.10>"]),
        &b,
        &cfg,
        T0 + 200,
        SRC,
    );
    assert_eq!(out.response.status, 200);
    assert_eq!(out.new_bindings.len(), 10);
    let uris = contact_uris(&out.new_bindings);
    assert!(!uris.contains(&"sip:2001@10.0.1.1"), "{uris:?}");
    assert!(uris.contains(&"sip:2001@10.0.1.0"));
    assert!(uris.contains(&"sip:2001@10.0.1.10"));
    assert_eq!(out.response.headers.count("Contact"), 10);

    // One REGISTER carrying more contacts than allowed is refused outright.
    let many: Vec<String> = (0..11).map(|i| format!("<sip:2001@10.0.2.{i}>")).collect();
    let line = format!("Contact: {}", many.join(", "));
    let out = process(&register("bulk", 1, &[&line]), &[], &cfg, T0, SRC);
    assert_eq!(out.response.status, 403);
    assert!(out.new_bindings.is_empty());
}

#[test]
fn sip_instance_identifies_a_device_across_contact_changes() {
    let inst = r#"+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>""#;
    let b = run(
        &register(
            "m1",
            1,
            &[&format!(
                "Contact: <sip:2001@198.51.100.1:40001;transport=tcp>;{inst};reg-id=1"
            )],
        ),
        &[],
        T0,
    )
    .new_bindings;
    assert_eq!(
        b[0].instance.as_deref(),
        Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
    );
    assert_eq!(b[0].reg_id, Some(1));
    // New NAT mapping, new Call-ID after an app restart: same device, binding replaced.
    let out = run(
        &register(
            "m2",
            1,
            &[&format!(
                "Contact: <sip:2001@198.51.100.1:40777;transport=tcp>;{inst};reg-id=1"
            )],
        ),
        &b,
        T0 + 30,
    );
    assert_eq!(
        contact_uris(&out.new_bindings),
        ["sip:2001@198.51.100.1:40777;transport=tcp"]
    );
    assert_eq!(
        contacts_of(&out.response),
        [format!(
            "<sip:2001@198.51.100.1:40777;transport=tcp>;{inst};reg-id=1;expires=3600"
        )]
    );
    // A second flow (reg-id=2) of the same instance is its own binding.
    let out = run(
        &register(
            "m3",
            1,
            &[&format!(
                "Contact: <sip:2001@198.51.100.1:40888;transport=tcp>;{inst};reg-id=2"
            )],
        ),
        &out.new_bindings,
        T0 + 31,
    );
    assert_eq!(out.new_bindings.len(), 2);
}

#[test]
fn feature_tags_are_kept_and_listed() {
    let out = run(
        &register(
            "a",
            1,
            &["Contact: <sip:2001@10.0.0.5>;audio;+sip.ice;methods=\"INVITE,BYE\""],
        ),
        &[],
        T0,
    );
    assert_eq!(
        out.new_bindings[0].params,
        vec![
            ("audio".to_string(), None),
            ("+sip.ice".to_string(), None),
            ("methods".to_string(), Some("\"INVITE,BYE\"".to_string()))
        ]
    );
    assert_eq!(
        contacts_of(&out.response),
        ["<sip:2001@10.0.0.5>;audio;+sip.ice;methods=\"INVITE,BYE\";expires=3600"]
    );
}

#[test]
fn missing_cseq_or_call_id_is_400_never_a_panic() {
    let mut req = register("a", 1, &["Contact: <sip:2001@10.0.0.5>"]);
    req.headers.remove("CSeq");
    assert_eq!(run(&req, &[], T0).response.status, 400);
    let mut req = register("a", 1, &["Contact: <sip:2001@10.0.0.5>"]);
    req.headers.remove("Call-ID");
    assert_eq!(run(&req, &[], T0).response.status, 400);
    let mut req = register("a", 1, &[]);
    req.headers.push("Contact", "<sip:broken");
    assert_eq!(run(&req, &[], T0).response.status, 400);
    assert!(req.call_id().is_some());
}
