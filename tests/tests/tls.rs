//! SIP over TLS and HTTPS against the real server, with a rustls client (Debian's sipp has
//! no TLS): OPTIONS, REGISTER with digest and a call between two TLS phones on the
//! self-signed certificate the server makes; certificate files swapped while the server
//! runs (new connections see the new certificate, open ones carry on); the admin API
//! over HTTPS.

use std::path::Path;
use std::time::{Duration, Instant};

use madoguchi_tests::tls_sip::{https_get, pem_fingerprint, Msg, TlsUa};
use madoguchi_tests::{free_port, Server, ServerOptions};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 17010 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn tls_server(extra: &[String], config: Option<String>) -> (Server, std::net::SocketAddr) {
    let port = free_port();
    let tls: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut extra_args = vec![
        "--digest-algorithms".to_string(),
        "MD5,SHA-256".to_string(),
        "--sip".to_string(),
        format!("tls:{tls}"),
    ];
    extra_args.extend_from_slice(extra);
    let server = Server::start(ServerOptions {
        extra_args,
        config,
        ..ServerOptions::default()
    })
    .unwrap();
    (server, tls)
}

fn is_request(method: &'static str) -> impl Fn(&Msg) -> bool {
    move |m| m.method() == method
}

#[test]
fn options_register_and_call_over_tls_with_the_self_signed_certificate() {
    let (server, tls) = tls_server(&[], None);
    // The self-signed certificate and its owner-only key, in the data directory.
    let cert = server.data.join("tls/self-signed-cert.pem");
    let key = server.data.join("tls/self-signed-key.pem");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "key file mode");
    let fp = pem_fingerprint(&cert).unwrap();
    assert!(
        server.log_text().contains(&fp),
        "the fingerprint is logged:\n{}",
        server.log_text()
    );

    // A client pinning some other certificate refuses the server's.
    let wrong = vec!["00:11".to_string()];
    assert!(TlsUa::connect(tls, &wrong, "1001", "zama1001").is_err());

    let pins = vec![fp.clone()];
    let mut a = TlsUa::connect(tls, &pins, "1001", "zama1001").unwrap();
    assert_eq!(a.server_fingerprint, fp);

    // OPTIONS over TLS.
    let to = format!("<sips:{tls}>");
    let opt = a.request(
        "OPTIONS",
        &format!("sips:{tls}"),
        "opt-1@test",
        "o1",
        &to,
        "",
        "",
    );
    a.send(&opt).unwrap();
    let r = a.final_response("OPTIONS").unwrap();
    assert_eq!(r.status(), 200, "{}", r.text);
    assert!(
        r.header("Via").unwrap().starts_with("SIP/2.0/TLS"),
        "{}",
        r.text
    );

    // REGISTER with digest, a wrong password refused.
    let mut bad = TlsUa::connect(tls, &pins, "1002", "wrong").unwrap();
    assert_eq!(bad.register().unwrap().status(), 403);
    drop(bad);
    let r = a.register().unwrap();
    assert_eq!(r.status(), 200, "{}", r.text);
    let mut b = TlsUa::connect(tls, &pins, "1002", "zama1002").unwrap();
    assert_eq!(b.register().unwrap().status(), 200);

    // 1002 calls 1001: both legs over TLS, through the B2BUA.
    let uri = format!("sips:1001@{tls}");
    let to = format!("<{uri}>");
    let (ok, invite) = std::thread::scope(|scope| {
        let caller = scope.spawn(|| {
            b.request_with_auth("INVITE", &uri, "call-1@test", "b1", &to, "", SDP)
                .unwrap()
        });
        let invite = a
            .expect(Duration::from_secs(15), "INVITE", is_request("INVITE"))
            .unwrap();
        a.respond(&invite, 180, "Ringing", "a1", "").unwrap();
        a.respond(&invite, 200, "OK", "a1", SDP).unwrap();
        (caller.join().unwrap(), invite)
    });
    assert!(
        invite.header("Via").unwrap().starts_with("SIP/2.0/TLS"),
        "{}",
        invite.text
    );
    assert!(invite.body().contains("m=audio"), "{}", invite.text);
    assert_eq!(ok.status(), 200, "{}", ok.text);
    assert!(ok.body().contains("m=audio"), "{}", ok.text);
    b.ack_2xx(&ok).unwrap();
    a.expect(Duration::from_secs(10), "ACK", is_request("ACK"))
        .unwrap();
    // 1002 hangs up; 1001 gets the BYE over its TLS connection.
    b.bye(&ok).unwrap();
    let bye = a
        .expect(Duration::from_secs(10), "BYE", is_request("BYE"))
        .unwrap();
    a.respond(&bye, 200, "OK", "a1", "").unwrap();
    let r = b.final_response("BYE").unwrap();
    assert_eq!(r.status(), 200, "{}", r.text);
}

/// A certificate and key for `127.0.0.1` made by the test, written to `dir/NAME-{cert,key}.pem`.
fn make_cert(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let pair = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&pair).unwrap();
    let c = dir.join(format!("{name}-cert.pem"));
    let k = dir.join(format!("{name}-key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, pair.serialize_pem()).unwrap();
    let fp = madoguchi_tests::tls_sip::fingerprint(cert.der());
    (c, k, fp)
}

#[test]
fn certificate_files_are_reloaded_without_a_restart_and_https_serves_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, fp1) = make_cert(dir.path(), "live");
    let (c2, k2, fp2) = make_cert(dir.path(), "next");
    let https: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let (server, tls) = tls_server(&["--https".into(), https.to_string()], Some(config));
    let pins = vec![fp1.clone(), fp2.clone()];

    let mut old = TlsUa::connect(tls, &pins, "1001", "zama1001").unwrap();
    assert_eq!(old.server_fingerprint, fp1);
    let (resp, seen) = https_get(https, &pins, "/api/v1/health").unwrap();
    assert_eq!(seen, fp1);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // Plain HTTP stays on its loopback port.
    let plain = ureq::get(&format!("http://{}/api/v1/health", server.http)).call();
    assert!(plain.is_ok());

    // Swap the files (rename: each appears whole), as a certificate renewal would.
    std::fs::rename(&k2, &key).unwrap();
    std::fs::rename(&c2, &cert).unwrap();
    let t0 = Instant::now();
    let mut now_fp = String::new();
    while t0.elapsed() < Duration::from_secs(20) {
        let ua = TlsUa::connect(tls, &pins, "1001", "zama1001").unwrap();
        now_fp = ua.server_fingerprint.clone();
        if now_fp == fp2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        now_fp,
        fp2,
        "a new connection sees the new certificate:\n{}",
        server.log_text()
    );
    assert!(server.log_text().contains("TLS certificate reloaded"));
    let (resp, seen) = https_get(https, &pins, "/api/v1/health").unwrap();
    assert_eq!(seen, fp2, "HTTPS serves the new certificate too");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");

    // The connection opened before the swap still works.
    let to = format!("<sips:{tls}>");
    let opt = old.request(
        "OPTIONS",
        &format!("sips:{tls}"),
        "opt-old@test",
        "o1",
        &to,
        "",
        "",
    );
    old.send(&opt).unwrap();
    assert_eq!(old.final_response("OPTIONS").unwrap().status(), 200);
}

#[test]
fn sip_over_secure_websocket() {
    let port = free_port();
    let wss: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (server, _tls) = tls_server(&["--sip".into(), format!("wss:{wss}")], None);
    let fp = pem_fingerprint(&server.data.join("tls/self-signed-cert.pem")).unwrap();
    let (tls, seen) = madoguchi_tests::tls_sip::connect(wss, std::slice::from_ref(&fp)).unwrap();
    assert_eq!(seen, fp);
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(format!("wss://{wss}/"))
            .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut ws, resp) = tungstenite::client::client(req, tls).unwrap();
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("sip")
    );
    let options = format!(
        "OPTIONS sip:{wss};transport=wss SIP/2.0\r\nVia: SIP/2.0/WSS abc.invalid;branch=z9hG4bKwss1\r\nMax-Forwards: 70\r\nFrom: <sip:probe@abc.invalid>;tag=w1\r\nTo: <sip:{wss}>\r\nCall-ID: wss-1@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    ws.send(tungstenite::Message::text(options)).unwrap();
    let t0 = Instant::now();
    let answer = loop {
        assert!(t0.elapsed() < Duration::from_secs(10), "no answer over wss");
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => break t.to_string(),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("wss read: {e}"),
        }
    };
    assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
    assert!(answer.contains("SIP/2.0/WSS"), "{answer}");
}
