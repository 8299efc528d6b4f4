//! `madoguchi demo`, as the README's quick start runs it: the Zama scenario is installed and
//! live on DID 0462000000 with no other set-up, the demo users exist, and the call center
//! is staff user 1003 on the same server (a softphone registered as 1003 plays it).

use madoguchi_tests::ivr::{call_id, Api, IvrCaller};
use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{Server, ServerOptions};

#[test]
fn the_demo_answers_the_did_and_reaches_the_call_center_on_1003() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(ServerOptions {
        subcommand: "demo",
        users: vec![],
        data: Some(data.path().to_path_buf()),
        extra_args: vec![
            "--clock".into(),
            "2027-01-06T10:00:00+09:00".into(),
            // Its own plugin cache (not the one test servers share), to see it filled.
            "--plugin-cache".into(),
            data.path().join("plugin-cache").display().to_string(),
        ],
        ..ServerOptions::default()
    })
    .unwrap();
    // The plugins were compiled once and kept by SHA-256 for the next start.
    let cached = std::fs::read_dir(data.path().join("plugin-cache"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        })
        .count();
    assert!(cached >= 5, "{cached} compiled plugins cached");
    // The demo wrote its admin token.
    let token = std::fs::read_to_string(data.path().join("admin-token")).unwrap();
    let api = Api::new(server.http, token.trim());
    let log = data.path().join("cc.log");
    let callcenter = Device::start(
        server.sip,
        "1003",
        "zama1003",
        Sipp::new("device_answer.xml", server.sip)
            .set("answer_ms", "0")
            .option("-timeout", "120s")
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&log.display().to_string()),
    )
    .unwrap();
    // Main menu 1 (application), then 1 (how to apply): the call center. The first key
    // comes 2.4 s into the main menu (after the 4.1 s notice and the 4.5 s greeting), the
    // second 3 s into the next menu: a key sent before a menu collects is dropped, so each
    // has a second or more to spare for a server running behind.
    let wait = 11_000;
    IvrCaller::new("demo", "0462001234", &[(wait, '1'), (3000, '1')], 20_000)
        .spawn(server.sip, "0462000000", data.path())
        .unwrap()
        .wait()
        .unwrap();
    let record = api.call(&call_id("demo")).unwrap();
    assert_eq!(
        record["outcome"], "transferred:external:callcenter",
        "{record}"
    );
    assert_eq!(record["scenario"], "zama-mynumber");
    // The caller's RTP over the IVR part is in the record: what came in (sipp's stream, no
    // loss on loopback) and what the host sent (notice, greeting, menu).
    let leg = &record["caller_leg"];
    assert!(leg["rtp"]["packets"].as_u64().unwrap() > 100, "{leg}");
    assert_eq!(leg["rtp"]["lost"], 0, "{leg}");
    assert!(leg["sent"].as_u64().unwrap() > 100, "{leg}");
    callcenter.finish().unwrap();
    let invite = std::fs::read_to_string(&log).unwrap();
    assert!(
        invite.contains("sip:0462001234@"),
        "the call center saw the caller's number"
    );
}
