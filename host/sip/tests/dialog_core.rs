//! Dialog state (RFC 3261 §12): creation on both sides, routing of in-dialog requests,
//! CSeq rules, target refresh, and the ACK for a 2xx.

mod transaction_common;

use madoguchi_sip::dialog::{Dialog, DialogError, DialogId, DialogState, Role};
use madoguchi_sip::message::{HeaderAccess, Host, Method, Request, Transport, Via};
use madoguchi_sip::transport_rules::new_via;
use transaction_common::*;

fn via() -> Via {
    new_via(
        Transport::Udp,
        Host::V4("192.0.2.1".parse().unwrap()),
        5060,
        &mut rand::thread_rng(),
    )
}

fn invite_with_rr() -> Request {
    let mut r = invite("z9hG4bKdlg1", "dlg-1", 7);
    r.headers.push("Record-Route", "<sip:p1.example.com;lr>");
    r.headers.push("Record-Route", "<sip:p2.example.com;lr>");
    r
}

#[test]
fn uac_dialog_from_2xx_reverses_record_route_and_targets_contact() {
    let r = invite_with_rr();
    let mut ok = answer(&r, 200, Some("b1"));
    ok.headers.remove("Record-Route");
    ok.headers.push(
        "Record-Route",
        "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>",
    );
    let d = Dialog::uac(&r, &ok).unwrap();
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.role(), Role::Uac);
    assert_eq!(
        d.id(),
        &DialogId {
            call_id: "dlg-1".into(),
            local_tag: "a1".into(),
            remote_tag: "b1".into()
        }
    );
    let hosts: Vec<String> = d
        .route_set()
        .iter()
        .map(|r| r.uri.host.to_string())
        .collect();
    assert_eq!(hosts, ["p1.example.com", "p2.example.com"]);
    assert_eq!(d.remote_target().to_string(), "sip:b1@192.0.2.2:5060");
    assert_eq!(d.next_hop().host.to_string(), "p1.example.com");
    assert_eq!(d.local_seq(), 7);
}

#[test]
fn responses_without_tag_or_out_of_range_do_not_create_dialogs() {
    let r = invite("z9hG4bKdlg2", "dlg-2", 1);
    assert_eq!(
        Dialog::uac(&r, &answer(&r, 100, None)).unwrap_err(),
        DialogError::NotDialogCreating(100)
    );
    assert_eq!(
        Dialog::uac(&r, &answer(&r, 486, Some("x"))).unwrap_err(),
        DialogError::NotDialogCreating(486)
    );
    assert_eq!(
        Dialog::uac(&r, &answer(&r, 180, None)).unwrap_err(),
        DialogError::MissingTag
    );
    let early = Dialog::uac(&r, &answer(&r, 180, Some("e"))).unwrap();
    assert_eq!(early.state(), DialogState::Early);
}

#[test]
fn in_dialog_requests_use_loose_routes_and_increment_cseq() {
    let r = invite_with_rr();
    let mut ok = answer(&r, 200, Some("b1"));
    ok.headers.push("Record-Route", "<sip:p2.example.com;lr>");
    ok.headers.push("Record-Route", "<sip:p1.example.com;lr>");
    let mut d = Dialog::uac(&r, &ok).unwrap();
    let ack = d.ack(7, &via());
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.cseq().unwrap().to_string(), "7 ACK");
    assert_eq!(ack.uri.to_string(), "sip:b1@192.0.2.2:5060");
    let bye = d.request(Method::Bye, &via());
    assert_eq!(bye.cseq().unwrap().to_string(), "8 BYE");
    let info = d.request(Method::Info, &via());
    assert_eq!(info.cseq().unwrap().seq, 9);
    assert_eq!(bye.uri.to_string(), "sip:b1@192.0.2.2:5060");
    let routes: Vec<&str> = bye.headers.get_all("Route").collect();
    assert_eq!(
        routes,
        ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(bye.to_hdr().unwrap().tag(), Some("b1"));
    assert_eq!(bye.from_hdr().unwrap().tag(), Some("a1"));
    assert_eq!(bye.call_id(), Some("dlg-1"));
    assert_eq!(
        bye.top_via()
            .unwrap()
            .branch()
            .map(|b| b.starts_with("z9hG4bK")),
        Some(true)
    );
    // The ACK repeats the INVITE's CSeq even after other requests.
    assert_eq!(d.ack(7, &via()).cseq().unwrap().seq, 7);
}

#[test]
fn strict_router_gets_the_request_uri_and_the_target_goes_last() {
    let r = invite("z9hG4bKdlg3", "dlg-3", 1);
    let mut ok = answer(&r, 200, Some("b1"));
    ok.headers.push("Record-Route", "<sip:strict.example.com>");
    let mut d = Dialog::uac(&r, &ok).unwrap();
    let bye = d.request(Method::Bye, &via());
    assert_eq!(bye.uri.to_string(), "sip:strict.example.com");
    let routes: Vec<&str> = bye.headers.get_all("Route").collect();
    assert_eq!(routes, ["<sip:b1@192.0.2.2:5060>"]);
}

#[test]
fn uas_dialog_checks_cseq_order_and_refreshes_target_on_reinvite() {
    let r = invite_with_rr();
    let mut d = Dialog::uas(&r, "b9").unwrap();
    assert_eq!(d.state(), DialogState::Early);
    d.confirm();
    assert_eq!(d.remote_seq(), Some(7));
    let hosts: Vec<String> = d
        .route_set()
        .iter()
        .map(|r| r.uri.host.to_string())
        .collect();
    assert_eq!(
        hosts,
        ["p1.example.com", "p2.example.com"],
        "UAS keeps Record-Route order"
    );
    assert_eq!(d.remote_target().to_string(), "sip:alice@192.0.2.1:5060");

    // A re-INVITE with a new Contact moves the target.
    let mut reinvite = invite("z9hG4bKre", "dlg-1", 8);
    reinvite.headers.set("To", "<sip:bob@192.0.2.2>;tag=b9");
    reinvite
        .headers
        .set("Contact", "<sip:alice@198.51.100.7:5062>");
    d.on_request(&reinvite).unwrap();
    assert_eq!(d.remote_target().to_string(), "sip:alice@198.51.100.7:5062");
    assert_eq!(d.remote_seq(), Some(8));

    // Lower CSeq: out of order → 500, nothing changes.
    let mut old = request("INFO", "z9hG4bKold", "dlg-1", 5);
    old.headers.set("To", "<sip:bob@192.0.2.2>;tag=b9");
    let err = d.on_request(&old).unwrap_err();
    assert_eq!(err, DialogError::OutOfOrder { got: 5, last: 8 });
    assert_eq!(err.status_code(), 500);
    assert_eq!(d.remote_seq(), Some(8));

    // ACK reuses the INVITE's CSeq and passes; a foreign tag does not belong here.
    let mut ack = request("ACK", "z9hG4bKack", "dlg-1", 8);
    ack.headers.set("CSeq", "8 ACK");
    ack.headers.set("To", "<sip:bob@192.0.2.2>;tag=b9");
    d.on_request(&ack).unwrap();
    let mut foreign = request("BYE", "z9hG4bKf", "dlg-1", 9);
    foreign.headers.set("To", "<sip:bob@192.0.2.2>;tag=zz");
    assert_eq!(d.on_request(&foreign).unwrap_err().status_code(), 481);

    // Our first request takes local CSeq 1 and goes to the refreshed target.
    let bye = d.request(Method::Bye, &via());
    assert_eq!(bye.cseq().unwrap().seq, 1);
    assert_eq!(bye.uri.to_string(), "sip:alice@198.51.100.7:5062");
    assert_eq!(bye.from_hdr().unwrap().tag(), Some("b9"));
    assert_eq!(bye.to_hdr().unwrap().tag(), Some("a1"));
}

#[test]
fn uas_tags_its_responses_and_reinvite_carries_local_contact() {
    let r = invite("z9hG4bKdlg4", "dlg-4", 3);
    let mut d = Dialog::uas(&r, "mytag").unwrap();
    let mut ringing = madoguchi_sip::message::Response::for_request(&r, 180, "Ringing");
    d.tag_response(&mut ringing);
    assert_eq!(ringing.to_hdr().unwrap().tag(), Some("mytag"));
    d.set_local_contact(madoguchi_sip::message::NameAddr::new(
        madoguchi_sip::parse::parse_uri("sip:pbx@192.0.2.2:5060").unwrap(),
    ));
    let reinvite = d.request(Method::Invite, &via());
    assert_eq!(
        reinvite.headers.get("Contact"),
        Some("<sip:pbx@192.0.2.2:5060>")
    );
    let bye = d.request(Method::Bye, &via());
    assert_eq!(bye.headers.get("Contact"), None);
}

#[test]
fn uac_target_refresh_from_2xx_to_reinvite() {
    let r = invite("z9hG4bKdlg5", "dlg-5", 1);
    let mut d = Dialog::uac(&r, &answer(&r, 200, Some("b1"))).unwrap();
    let reinvite = d.request(Method::Invite, &via());
    let mut ok = madoguchi_sip::message::Response::for_request(&reinvite, 200, "OK");
    ok.headers.push("Contact", "<sip:bob@198.51.100.9>");
    d.on_response(&Method::Invite, &ok).unwrap();
    assert_eq!(d.remote_target().to_string(), "sip:bob@198.51.100.9");
    // A response from another dialog is refused.
    let mut other = ok.clone();
    other.headers.set("To", "<sip:bob@192.0.2.2>;tag=other");
    assert_eq!(
        d.on_response(&Method::Invite, &other).unwrap_err(),
        DialogError::NotInDialog
    );
}
