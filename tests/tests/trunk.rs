//! SIP trunks with sipp as the carrier on loopback (R-PBX-4, R-PBX-5): registration with
//! digest and its refresh, a carrier's INVITE to the DID walking the Zama menu to the call
//! center (first route 503, second answers), staff calls out as the city's number, 184
//! anonymous, international refused before the carrier, 110 always through, on-net numbers
//! to their own destination.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use madoguchi_tests::ivr::{call_id, create_token, ivr_server_args, zama_bundle, Api, IvrCaller};
use madoguchi_tests::sipp::Sipp;
use madoguchi_tests::{free_port, Server, ServerOptions};

/// A UAS sipp (`scenario`) listening on `port`, tracing its messages to `log`.
fn uas(scenario: &str, server: SocketAddr, port: u16, log: &Path) -> Sipp {
    Sipp::new(scenario, server)
        .option("-p", &port.to_string())
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&log.display().to_string())
}

fn trunks(api: &Api) -> serde_json::Value {
    let (status, body) = api.get("/trunks").unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn trunk<'a>(all: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    all["trunks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no trunk {name} in {all}"))
}

/// Polls `GET /trunks` until `ok` holds (bounded).
fn wait_trunks(
    api: &Api,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let t = trunks(api);
        if ok(&t) {
            return t;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{what}: {t}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn demo_trunk_registers_with_digest_refreshes_and_shows_a_refusal() {
    let data = tempfile::tempdir().unwrap();
    let token = create_token(data.path()).unwrap();
    let (good, refusing) = (free_port(), free_port());
    let config = format!(
        r#"
[[trunk]]
name = "carrier"
proxy = "127.0.0.1:{good}"
username = "0462000000"
password = "carrier-secret"
register = true
dids = ["0462000000"]
caller_id = "0462000000"
keepalive_secs = 0

[[trunk]]
name = "refusing"
proxy = "sip:127.0.0.1:{refusing}"
username = "0462000001"
password = "other-secret"
keepalive_secs = 0
retry_secs = 600
"#
    );
    // The carrier's registrars listen before the server starts: it registers at once.
    let log = data.path().join("registrar.log");
    let registrar = uas(
        "carrier_registrar.xml",
        "127.0.0.1:9".parse().unwrap(),
        good,
        &log,
    )
    .spawn()
    .unwrap();
    let refuser = Sipp::new("carrier_registrar_403.xml", "127.0.0.1:9".parse().unwrap())
        .option("-p", &refusing.to_string())
        .spawn()
        .unwrap();
    // `madoguchi demo --config FILE` adds the trunks to the demo.
    let server = Server::start(ServerOptions {
        subcommand: "demo",
        users: vec![],
        data: Some(data.path().to_path_buf()),
        config: Some(config),
        ..ServerOptions::default()
    })
    .unwrap();
    let api = Api::new(server.http, &token);
    let (status, live) = api.get("/scenarios/zama-mynumber").unwrap();
    assert_eq!(status, 200, "the demo's scenario is there too: {live}");
    // Challenge, digest, 4 s granted, refreshed (with a valid digest) before they ran out.
    registrar.wait().unwrap();
    refuser.wait().unwrap();
    let all = wait_trunks(&api, "registered, and the refusal shown", |t| {
        trunk(t, "carrier")["registered"] == true && trunk(t, "refusing")["failures"] == 1
    });
    let carrier = trunk(&all, "carrier");
    assert_eq!(carrier["last_error"], serde_json::Value::Null, "{carrier}");
    let refused = trunk(&all, "refusing");
    assert_eq!(refused["registered"], false);
    assert_eq!(refused["last_error"], "403 Forbidden", "{refused}");
    // Retried later (back-off), not in a loop.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        refused["next_attempt_ms"].as_u64().unwrap() > now_ms + 500_000,
        "{refused}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("REGISTER sip:").count(), 3, "{text}");
    // Passwords appear nowhere: not in the API, not in the log.
    let listing = all.to_string();
    let logged = server.log_text();
    for secret in ["carrier-secret", "other-secret"] {
        assert!(!listing.contains(secret));
        assert!(!logged.contains(secret));
        assert!(!text.contains(secret), "the password went over the wire");
    }
    assert!(
        server.wait_log("trunk registered", 2, Duration::from_secs(5)),
        "{logged}"
    );
    // A trunk changed at run time: replaced with a static peer, then removed.
    let (status, body) = api
        .send(
            "PUT",
            "/trunks/refusing",
            &serde_json::json!({"proxy": "127.0.0.1:9", "register": false, "password": "x2-secret"}),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["register"], false);
    assert!(!body.to_string().contains("x2-secret"));
    let (status, body) = api
        .send(
            "PUT",
            "/trunks/bad",
            &serde_json::json!({"proxy": "carrier.example"}),
        )
        .unwrap();
    assert_eq!(status, 422, "{body}");
    let (status, _) = api
        .send("DELETE", "/trunks/refusing", &serde_json::json!({}))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(trunks(&api)["trunks"].as_array().unwrap().len(), 1);
}

/// Sends one INVITE from `from_ip` to the server for `number` and returns the first answer
/// within `wait` (None: silence).
fn raw_invite(server: SocketAddr, from_ip: &str, number: &str, wait: Duration) -> Option<String> {
    let sock = UdpSocket::bind(format!("{from_ip}:0")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let local = sock.local_addr().unwrap();
    let sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 19990 RTP/AVP 0\r\n";
    let msg = format!(
        "INVITE sip:{number}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKraw{n}\r\nFrom: <sip:09099998888@{local}>;tag=r1\r\nTo: <sip:{number}@{server}>\r\nCall-ID: raw-{n}@test\r\nCSeq: 1 INVITE\r\nContact: <sip:09099998888@{local}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
        n = local.port(),
        len = sdp.len()
    );
    sock.send_to(msg.as_bytes(), server).unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < wait {
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            if !text.starts_with("SIP/2.0 100") {
                return Some(text);
            }
        }
    }
    None
}

/// The INVITE lines of a sipp message trace (request line and headers).
fn invites(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn carrier_calls_in_and_out() {
    let data = tempfile::tempdir().unwrap();
    let token = create_token(data.path()).unwrap();
    let (carrier, onnet, cc1, cc2) = (free_port(), free_port(), free_port(), free_port());
    // A call-center route where nothing listens (down), then one answering 503, then one
    // that answers.
    let dead = free_port();
    let config = format!(
        r#"
[[trunk]]
name = "carrier"
proxy = "127.0.0.1:{carrier}"
username = "0462000000"
password = "carrier-secret"
register = false
dids = ["0462000000"]
caller_id = "0462000000"
keepalive_secs = 0

[[outbound]]
name = "1002 calls nobody outside"
users = ["1002"]
deny = true

[[onnet]]
prefix = "0462990"
destination = "sip:{{number}}@127.0.0.1:{onnet}"

[callcenter]
routes = ["sip:callcenter@127.0.0.1:{dead}", "sip:callcenter@127.0.0.1:{cc1}", "sip:callcenter@127.0.0.1:{cc2}"]
keepalive_secs = 0
"#
    );
    let path = data.path().join("trunk.toml");
    std::fs::write(&path, config).unwrap();
    let (_, scenario) = zama_bundle();
    let mut args = ivr_server_args(Some(&path), &scenario);
    args.extend(["--clock".into(), "2027-01-06T10:00:00+09:00".into()]);
    let server = Server::start(ServerOptions {
        data: Some(data.path().to_path_buf()),
        extra_args: args,
        ..ServerOptions::default()
    })
    .unwrap();
    let api = Api::new(server.http, &token);
    let sip = server.sip;

    // The carrier delivers a call to +81462000000: the caller walks the menu (1, 1) to the
    // call center, whose first route is silent, whose second answers 503 and whose third
    // answers.
    let route1 = Sipp::new("route_unavailable.xml", sip)
        .option("-p", &cc1.to_string())
        .set("user", "callcenter")
        .spawn()
        .unwrap();
    let cc_log = data.path().join("cc2.log");
    let route2 = uas("device_answer.xml", sip, cc2, &cc_log)
        .set("user", "callcenter")
        .set("answer_ms", "0")
        .option("-timeout", "120s")
        .spawn()
        .unwrap();
    IvrCaller::new(
        "trunk-in",
        "09011112222",
        &[(11_000, '1'), (3000, '1')],
        20_000,
    )
    .spawn(sip, "+81462000000", data.path())
    .unwrap()
    .wait()
    .unwrap();
    let record = api.call(&call_id("trunk-in")).unwrap();
    assert_eq!(
        record["outcome"], "transferred:external:callcenter",
        "{record}"
    );
    route1.wait().unwrap();
    route2.wait().unwrap();
    assert!(
        invites(&cc_log).contains("sip:09011112222@"),
        "the call center saw the caller"
    );
    assert!(server
        .log_text()
        .contains("call-center route failed: failing over"));
    assert!(server
        .log_text()
        .contains("call-center route silent: failing over"));

    // An address the trunk does not allow gets no answer; a DID nobody owns gets 404.
    assert_eq!(
        raw_invite(sip, "127.0.0.2", "0462000000", Duration::from_secs(2)),
        None
    );
    assert!(server.log_text().contains("does not allow: no answer"));
    let answer = raw_invite(sip, "127.0.0.1", "0462000099", Duration::from_secs(10)).unwrap();
    assert!(answer.starts_with("SIP/2.0 404"), "{answer}");
    assert!(server.wait_log("no scenario owns DID", 1, Duration::from_secs(5)));
    assert!(server.log_text().contains("0462000099"));

    // Staff 1001 calls a mobile: the carrier challenges the INVITE (digest checked), then
    // sees the city's number.
    let out_log = data.path().join("carrier-mobile.log");
    let far = uas("carrier_challenge.xml", sip, carrier, &out_log)
        .set("user", "carrier")
        .spawn()
        .unwrap();
    Sipp::new("staff_dial.xml", sip)
        .user("1001", "zama1001")
        .service("09012345678")
        .set("hold_ms", "500")
        .run()
        .unwrap();
    far.wait().unwrap();
    let seen = invites(&out_log);
    assert!(seen.contains("INVITE sip:09012345678@127.0.0.1:"), "{seen}");
    assert!(seen.contains("From: <sip:0462000000@127.0.0.1:"), "{seen}");
    assert!(
        seen.contains("P-Asserted-Identity: <sip:0462000000@"),
        "{seen}"
    );
    assert!(!seen.contains("Privacy:"), "{seen}");
    assert!(seen.contains("Authorization: Digest"), "{seen}");
    assert!(!seen.contains("carrier-secret"));

    // 184: anonymous, with Privacy: id.
    let anon_log = data.path().join("carrier-184.log");
    let far = uas("device_answer.xml", sip, carrier, &anon_log)
        .set("user", "carrier")
        .set("answer_ms", "0")
        .spawn()
        .unwrap();
    Sipp::new("staff_dial.xml", sip)
        .user("1001", "zama1001")
        .service("18409012345678")
        .set("hold_ms", "300")
        .run()
        .unwrap();
    far.wait().unwrap();
    let seen = invites(&anon_log);
    assert!(seen.contains("INVITE sip:09012345678@"), "{seen}");
    assert!(
        seen.contains("From: \"Anonymous\" <sip:anonymous@anonymous.invalid>"),
        "{seen}"
    );
    assert!(seen.contains("Privacy: id"), "{seen}");

    // International is refused (403) before any trunk sees it, and 1002's deny rule refuses
    // a mobile; 110 from 1002 still goes through. The carrier listens the whole time: the
    // only INVITE it gets is the 110.
    let sos_log = data.path().join("carrier-110.log");
    let far = uas("device_answer.xml", sip, carrier, &sos_log)
        .set("user", "carrier")
        .set("answer_ms", "0")
        .spawn()
        .unwrap();
    Sipp::new("staff_dial_refused.xml", sip)
        .user("1001", "zama1001")
        .service("0101212555010")
        .run()
        .unwrap();
    assert!(server
        .log_text()
        .contains("international calls not allowed"));
    Sipp::new("staff_dial_refused.xml", sip)
        .user("1002", "zama1002")
        .service("09012345678")
        .run()
        .unwrap();
    Sipp::new("staff_dial.xml", sip)
        .user("1002", "zama1002")
        .service("110")
        .set("hold_ms", "300")
        .run()
        .unwrap();
    far.wait().unwrap();
    let seen = invites(&sos_log);
    assert_eq!(seen.matches("INVITE sip:").count(), 1, "{seen}");
    assert!(seen.contains("INVITE sip:110@"), "{seen}");

    // An on-net city number goes to its own destination, not to the carrier.
    let city_log = data.path().join("onnet.log");
    let city = uas("device_answer.xml", sip, onnet, &city_log)
        .set("user", "city")
        .set("answer_ms", "0")
        .spawn()
        .unwrap();
    Sipp::new("staff_dial.xml", sip)
        .user("1001", "zama1001")
        .service("0462990001")
        .set("hold_ms", "300")
        .run()
        .unwrap();
    city.wait().unwrap();
    assert!(invites(&city_log).contains("INVITE sip:0462990001@127.0.0.1:"));
    // Outbound calls are recorded like the rest: the transferred call, mobile, 184, 110,
    // on-net.
    madoguchi_tests::audio::finished_recordings(&data.path().join("recordings"), 5);
    let t0 = Instant::now();
    loop {
        let (status, found) = api.get("/recordings?direction=outbound").unwrap();
        assert_eq!(status, 200, "{found}");
        let items = found["items"].as_array().unwrap();
        if items.len() == 4 {
            assert!(
                items
                    .iter()
                    .all(|i| i["user"] == "1001" || i["user"] == "1002"),
                "{found}"
            );
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "outbound recordings: {found}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
