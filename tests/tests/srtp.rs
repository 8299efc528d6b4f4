//! SRTP policy over real SIP: a plain RTP offer to a user whose calls must be encrypted
//! (`[media] srtp_required_users`) gets 488, while the same offer to another user goes
//! through. (The encrypted call itself, with baresip's SDES-SRTP, is in `baresip.rs`.)

use madoguchi_tests::sipp::Sipp;
use madoguchi_tests::{Server, ServerOptions};

#[test]
fn a_plain_rtp_offer_to_an_srtp_required_user_gets_488() {
    let server = Server::start(ServerOptions {
        config: Some("[media]\nsrtp_required_users = [\"1003\"]\n".into()),
        ..ServerOptions::default()
    })
    .unwrap();
    // 1003 has a registered phone, so the refusal is the policy's (not 480).
    let reg = Sipp::new("register.xml", server.sip).user("1003", "zama1003");
    let port = reg.port().to_string();
    reg.set("contact_port", &port).run().unwrap();
    Sipp::new("caller_plain_refused.xml", server.sip)
        .service("1003")
        .run()
        .unwrap();
    assert!(
        server.wait_log(
            "SRTP (RTP/SAVP with a=crypto) is required",
            1,
            std::time::Duration::from_secs(5)
        ),
        "the refusal is logged with its reason:\n{}",
        server.log_text()
    );
}
