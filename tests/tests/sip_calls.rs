//! Calls between users through the real server, with sipp as every peer (R-PBX-2).

use std::time::Duration;

use madoguchi_tests::sipp::Sipp;
use madoguchi_tests::{Server, ServerOptions};

const REG_WAIT: Duration = Duration::from_secs(15);

#[test]
fn register_with_digest_and_wrong_password_refused() {
    let server = Server::start(ServerOptions::default()).unwrap();
    Sipp::new("register.xml", server.sip).user("1001", "zama1001").run().unwrap();
    Sipp::new("register_bad.xml", server.sip).user("1001", "wrong-password").run().unwrap();
    // An unknown user gets the same challenge as a known one, then the same refusal.
    Sipp::new("register_bad.xml", server.sip).user("9999", "whatever").run().unwrap();
}

#[test]
fn invite_rings_every_device_and_first_answer_wins() {
    let server = Server::start(ServerOptions::default()).unwrap();
    // User 1001 on two devices: one answers after 500 ms, the other rings until cancelled.
    let mut desk = Sipp::new("device_answer.xml", server.sip)
        .user("1001", "zama1001")
        .set("answer_ms", "500")
        .spawn()
        .unwrap();
    let mut phone = Sipp::new("device_ring.xml", server.sip).user("1001", "zama1001").spawn().unwrap();
    desk.wait_registered(REG_WAIT).unwrap();
    phone.wait_registered(REG_WAIT).unwrap();
    Sipp::new("caller.xml", server.sip).service("1001").set("hold_ms", "300").run().unwrap();
    desk.wait().unwrap();
    phone.wait().unwrap();
}

#[test]
fn caller_cancel_stops_every_device() {
    let server = Server::start(ServerOptions::default()).unwrap();
    let mut a = Sipp::new("device_ring.xml", server.sip).user("1002", "zama1002").spawn().unwrap();
    let mut b = Sipp::new("device_ring.xml", server.sip).user("1002", "zama1002").spawn().unwrap();
    a.wait_registered(REG_WAIT).unwrap();
    b.wait_registered(REG_WAIT).unwrap();
    Sipp::new("caller_cancel.xml", server.sip).service("1002").run().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
}

#[test]
fn busy_on_every_device_gives_486() {
    let server = Server::start(ServerOptions::default()).unwrap();
    let mut a = Sipp::new("device_busy.xml", server.sip).user("1003", "zama1003").spawn().unwrap();
    let mut b = Sipp::new("device_busy.xml", server.sip).user("1003", "zama1003").spawn().unwrap();
    a.wait_registered(REG_WAIT).unwrap();
    b.wait_registered(REG_WAIT).unwrap();
    Sipp::new("caller_busy.xml", server.sip).service("1003").run().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
}

#[test]
fn registrations_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let opts = || ServerOptions { data: Some(data.path().to_path_buf()), ..ServerOptions::default() };
    let mut server = Server::start(opts()).unwrap();
    let sip = server.sip;
    // The device registers, then the server is killed hard and started again on the same port.
    let mut desk = Sipp::new("device_answer.xml", sip).user("1001", "zama1001").set("answer_ms", "100").spawn().unwrap();
    desk.wait_registered(REG_WAIT).unwrap();
    // Give the write-behind thread its moment, then crash.
    std::thread::sleep(Duration::from_millis(500));
    server.kill9();
    let server = Server::start(ServerOptions { users: vec![], sip_port: Some(sip.port()), ..opts() }).unwrap();
    Sipp::new("caller.xml", server.sip).service("1001").set("hold_ms", "200").run().unwrap();
    desk.wait().unwrap();
}
