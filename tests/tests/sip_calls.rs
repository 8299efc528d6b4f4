//! Calls between users through the real server, with sipp as every peer (R-PBX-2).

use std::time::Duration;

use madoguchi_tests::sipp::{Device, Sipp};
use madoguchi_tests::{Server, ServerOptions};

fn device(server: &Server, user: &str, pass: &str, scenario: &str) -> Device {
    Device::start(server.sip, user, pass, Sipp::new(scenario, server.sip)).unwrap()
}

#[test]
fn register_with_digest_and_wrong_password_refused() {
    let server = Server::start(ServerOptions::default()).unwrap();
    let reg = Sipp::new("register.xml", server.sip).user("1001", "zama1001");
    let port = reg.port().to_string();
    reg.set("contact_port", &port).run().unwrap();
    Sipp::new("register_bad.xml", server.sip)
        .user("1001", "wrong-password")
        .run()
        .unwrap();
    // An unknown user gets the same challenge as a known one, then the same refusal.
    Sipp::new("register_bad.xml", server.sip)
        .user("9999", "whatever")
        .run()
        .unwrap();
}

#[test]
fn register_with_digest_over_tcp() {
    let server = Server::start(ServerOptions::default()).unwrap();
    // One TCP connection (-t t1): messages framed by Content-Length, answers on the same
    // connection.
    let reg = Sipp::new("register.xml", server.sip)
        .user("1002", "zama1002")
        .arg("-t")
        .arg("t1");
    let port = reg.port().to_string();
    reg.set("contact_port", &port).run().unwrap();
}

#[test]
fn invite_rings_every_device_and_first_answer_wins() {
    let server = Server::start(ServerOptions::default()).unwrap();
    // User 1001 on two devices: the desk phone answers after 500 ms, the smartphone rings
    // until the server cancels it.
    let desk = Device::start(
        server.sip,
        "1001",
        "zama1001",
        Sipp::new("device_answer.xml", server.sip).set("answer_ms", "500"),
    )
    .unwrap();
    let phone = device(&server, "1001", "zama1001", "device_ring.xml");
    Sipp::new("caller.xml", server.sip)
        .service("1001")
        .set("hold_ms", "300")
        .run()
        .unwrap();
    desk.finish().unwrap();
    phone.finish().unwrap();
}

#[test]
fn caller_cancel_stops_every_device() {
    let server = Server::start(ServerOptions::default()).unwrap();
    let a = device(&server, "1002", "zama1002", "device_ring.xml");
    let b = device(&server, "1002", "zama1002", "device_ring.xml");
    Sipp::new("caller_cancel.xml", server.sip)
        .service("1002")
        .run()
        .unwrap();
    a.finish().unwrap();
    b.finish().unwrap();
}

#[test]
fn busy_on_every_device_gives_486() {
    let server = Server::start(ServerOptions::default()).unwrap();
    let a = device(&server, "1003", "zama1003", "device_busy.xml");
    let b = device(&server, "1003", "zama1003", "device_busy.xml");
    Sipp::new("caller_busy.xml", server.sip)
        .service("1003")
        .run()
        .unwrap();
    a.finish().unwrap();
    b.finish().unwrap();
}

#[test]
fn the_answering_device_hangs_up_and_the_caller_gets_bye() {
    let server = Server::start(ServerOptions::default()).unwrap();
    let desk = Device::start(
        server.sip,
        "1001",
        "zama1001",
        Sipp::new("device_hangup.xml", server.sip).set("hold_ms", "300"),
    )
    .unwrap();
    Sipp::new("caller_hung_up.xml", server.sip)
        .service("1001")
        .run()
        .unwrap();
    desk.finish().unwrap();
}

#[test]
fn unknown_number_gives_404_and_a_user_without_devices_480() {
    let server = Server::start(ServerOptions::default()).unwrap();
    Sipp::new("caller_not_found.xml", server.sip)
        .service("9999")
        .run()
        .unwrap();
    // 1002 exists but nothing is registered for it.
    Sipp::new("caller_unavailable.xml", server.sip)
        .service("1002")
        .run()
        .unwrap();
}

#[test]
fn registrations_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let opts = || ServerOptions {
        data: Some(data.path().to_path_buf()),
        ..ServerOptions::default()
    };
    let mut server = Server::start(opts()).unwrap();
    let sip = server.sip;
    let stored_before = server.log_text().matches("bindings stored").count();
    let desk = Device::start(
        sip,
        "1001",
        "zama1001",
        Sipp::new("device_answer.xml", sip).set("answer_ms", "100"),
    )
    .unwrap();
    // The binding is written behind the SIP path: wait for the write after this (the only)
    // registration, then crash hard and start again on the same port with no new
    // registration.
    assert!(
        server.wait_log(
            "bindings stored",
            stored_before + 1,
            Duration::from_secs(30)
        ),
        "{}",
        server.log_text()
    );
    server.kill9();
    let server = Server::start(ServerOptions {
        users: vec![],
        sip_port: Some(sip.port()),
        ..opts()
    })
    .unwrap();
    Sipp::new("caller.xml", server.sip)
        .service("1001")
        .set("hold_ms", "200")
        .run()
        .unwrap();
    desk.finish().unwrap();
}

#[test]
fn hold_and_resume_are_answered_by_the_host_media_leg() {
    let server = Server::start(ServerOptions::default()).unwrap();
    let desk = Device::answering(server.sip, "1001", "zama1001").unwrap();
    // sipp fails the scenario unless the 200 to the hold re-INVITE says a=recvonly and the
    // one to the resume says a=sendrecv (check_it on the regexp).
    Sipp::new("caller_hold_resume.xml", server.sip)
        .service("1001")
        .run()
        .unwrap();
    desk.finish().unwrap();
}
