//! A small SIP user agent over TLS (rustls) for the TLS tests: Debian's sipp has no TLS.
//! It pins the server's certificate by its SHA-256 fingerprint, as a phone told the
//! fingerprint of a self-signed certificate would; the handshake's signatures are still
//! checked by rustls. It speaks real SIP on a real TLS connection to the real server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

/// The SHA-256 fingerprint of a DER certificate, `AB:CD:…` (as the server logs it).
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The fingerprint of the first certificate of a PEM file.
pub fn pem_fingerprint(path: &Path) -> Result<String> {
    let der = CertificateDer::from_pem_file(path)
        .with_context(|| format!("read certificate {}", path.display()))?;
    Ok(fingerprint(&der))
}

/// Accepts only certificates whose fingerprint is listed; remembers the one it saw.
#[derive(Debug)]
struct Pinned {
    allowed: Vec<String>,
    seen: Arc<Mutex<Option<String>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity);
        *self.seen.lock().expect("seen lock") = Some(fp.clone());
        if self.allowed.contains(&fp) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate {fp} is not pinned"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection to a server whose certificate is one of `pins`; returns the stream and
/// the fingerprint the server presented.
pub fn connect(
    addr: SocketAddr,
    pins: &[String],
) -> Result<(StreamOwned<ClientConnection, TcpStream>, String)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = Arc::new(Mutex::new(None));
    let verifier = Pinned {
        allowed: pins.to_vec(),
        seen: seen.clone(),
        provider: provider.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = ClientConnection::new(Arc::new(config), name)?;
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut tls = StreamOwned::new(conn, tcp);
    let t0 = Instant::now();
    while tls.conn.is_handshaking() {
        match tls.conn.complete_io(&mut tls.sock) {
            Ok(_) => {}
            Err(e) if would_block(&e) && t0.elapsed() < Duration::from_secs(10) => {}
            Err(e) => {
                let fp = seen.lock().expect("seen lock").clone();
                bail!("TLS handshake with {addr} failed (certificate seen: {fp:?}): {e}");
            }
        }
    }
    let fp = seen.lock().expect("seen lock").clone().unwrap_or_default();
    Ok((tls, fp))
}

fn would_block(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// One SIP message as received: start line, headers, body.
#[derive(Debug, Clone)]
pub struct Msg {
    pub text: String,
}

impl Msg {
    pub fn start_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// A response's status code (0 for a request).
    pub fn status(&self) -> u16 {
        let l = self.start_line();
        if !l.starts_with("SIP/2.0 ") {
            return 0;
        }
        l[8..].get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
    }

    /// A request's method ("" for a response).
    pub fn method(&self) -> &str {
        let l = self.start_line();
        if l.starts_with("SIP/2.0") {
            return "";
        }
        l.split(' ').next().unwrap_or("")
    }

    /// Every value of a header (full name, case-insensitive), in order.
    pub fn headers(&self, name: &str) -> Vec<String> {
        let head = self.text.split("\r\n\r\n").next().unwrap_or("");
        head.lines()
            .skip(1)
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

/// A SIP UA on one TLS connection.
pub struct TlsUa {
    tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
    pub server: SocketAddr,
    pub local: SocketAddr,
    /// The server certificate's fingerprint as presented.
    pub server_fingerprint: String,
    pub user: String,
    password: String,
    cseq: u32,
    n: u32,
}

impl TlsUa {
    pub fn connect(
        server: SocketAddr,
        pins: &[String],
        user: &str,
        password: &str,
    ) -> Result<TlsUa> {
        let (tls, fp) = connect(server, pins)?;
        let local = tls.sock.local_addr()?;
        Ok(TlsUa {
            tls,
            buf: Vec::new(),
            server,
            local,
            server_fingerprint: fp,
            user: user.to_string(),
            password: password.to_string(),
            cseq: 0,
            n: 0,
        })
    }

    pub fn send(&mut self, msg: &str) -> Result<()> {
        self.tls.write_all(msg.as_bytes())?;
        self.tls.flush()?;
        Ok(())
    }

    /// The next message, framed by Content-Length; None when `limit` passes first.
    pub fn recv(&mut self, limit: Duration) -> Result<Option<Msg>> {
        let t0 = Instant::now();
        loop {
            if let Some(m) = self.take_frame() {
                return Ok(Some(m));
            }
            if t0.elapsed() > limit {
                return Ok(None);
            }
            let mut chunk = [0u8; 8192];
            match self.tls.read(&mut chunk) {
                Ok(0) => bail!("the server closed the TLS connection"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn take_frame(&mut self) -> Option<Msg> {
        while self.buf.first().is_some_and(|b| *b == b'\r' || *b == b'\n') {
            self.buf.remove(0);
        }
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                let n = n.trim();
                (n.eq_ignore_ascii_case("content-length") || n == "l")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if self.buf.len() < end + len {
            return None;
        }
        let text = String::from_utf8_lossy(&self.buf[..end + len]).into_owned();
        self.buf.drain(..end + len);
        Some(Msg { text })
    }

    /// Waits for a message that `want` accepts, skipping others (provisionals, …).
    pub fn expect(
        &mut self,
        limit: Duration,
        what: &str,
        want: impl Fn(&Msg) -> bool,
    ) -> Result<Msg> {
        let t0 = Instant::now();
        let mut seen = Vec::new();
        while t0.elapsed() < limit {
            if let Some(m) = self.recv(Duration::from_millis(200))? {
                if want(&m) {
                    return Ok(m);
                }
                seen.push(m.start_line().to_string());
            }
        }
        bail!("{}: no {what} within {limit:?}; saw {seen:?}", self.user)
    }

    fn next_branch(&mut self) -> String {
        self.n += 1;
        format!("z9hG4bKtls{}x{}", self.local.port(), self.n)
    }

    /// A request from this UA (`extra` headers and `body` as given).
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        method: &str,
        uri: &str,
        call_id: &str,
        from_tag: &str,
        to: &str,
        extra: &str,
        body: &str,
    ) -> String {
        self.cseq += 1;
        let branch = self.next_branch();
        let ctype = if body.is_empty() {
            String::new()
        } else {
            "Content-Type: application/sdp\r\n".to_string()
        };
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sips:{user}@{server}>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sips:{user}@{local}>\r\n{extra}{ctype}Content-Length: {len}\r\n\r\n{body}",
            local = self.local,
            user = self.user,
            server = self.server,
            cseq = self.cseq,
            len = body.len(),
        )
    }

    /// Sends a request, answers a 401/407 with digest once, and returns the final response.
    #[allow(clippy::too_many_arguments)]
    pub fn request_with_auth(
        &mut self,
        method: &str,
        uri: &str,
        call_id: &str,
        from_tag: &str,
        to: &str,
        extra: &str,
        body: &str,
    ) -> Result<Msg> {
        let req = self.request(method, uri, call_id, from_tag, to, extra, body);
        self.send(&req)?;
        let first = self.final_response(method)?;
        let (hdr, resp_hdr) = match first.status() {
            401 => ("WWW-Authenticate", "Authorization"),
            407 => ("Proxy-Authenticate", "Proxy-Authorization"),
            _ => return Ok(first),
        };
        if method == "INVITE" {
            self.ack_failure(&first, uri)?;
        }
        let challenge = first
            .headers(hdr)
            .into_iter()
            .next()
            .context("challenge without its header")?;
        let auth = digest_answer(&challenge, &self.user, &self.password, method, uri)?;
        let extra = format!("{extra}{resp_hdr}: {auth}\r\n");
        let req = self.request(method, uri, call_id, from_tag, to, &extra, body);
        self.send(&req)?;
        self.final_response(method)
    }

    /// The next final response to `method` (provisionals skipped).
    pub fn final_response(&mut self, method: &str) -> Result<Msg> {
        let m = method.to_string();
        self.expect(
            Duration::from_secs(15),
            &format!("final response to {method}"),
            move |r| r.status() >= 200 && r.header("CSeq").is_some_and(|c| c.ends_with(&m)),
        )
    }

    /// ACK for a non-2xx final response to an INVITE (same branch: RFC 3261 §17.1.1.3).
    fn ack_failure(&mut self, resp: &Msg, uri: &str) -> Result<()> {
        let via = resp.header("Via").context("response without Via")?;
        let cseq_n = resp
            .header("CSeq")
            .and_then(|c| c.split(' ').next().map(str::to_string))
            .unwrap_or_default();
        let ack = format!(
            "ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq_n} ACK\r\nContent-Length: 0\r\n\r\n",
            resp.header("From").unwrap_or_default(),
            resp.header("To").unwrap_or_default(),
            resp.header("Call-ID").unwrap_or_default(),
        );
        self.send(&ack)
    }

    /// A request inside the dialog a 2xx to our INVITE set up: to its Contact, with its To
    /// tag; ACK reuses the INVITE's CSeq number.
    fn in_dialog(&mut self, ok: &Msg, method: &str) -> Result<String> {
        let contact = ok.header("Contact").context("2xx without Contact")?;
        let target = contact
            .trim_start_matches('<')
            .split(['>', ';'])
            .next()
            .unwrap_or_default()
            .to_string();
        let invite_cseq: u32 = ok
            .header("CSeq")
            .and_then(|c| c.split(' ').next()?.parse().ok())
            .context("2xx without CSeq")?;
        let cseq = if method == "ACK" {
            invite_cseq
        } else {
            self.cseq += 1;
            self.cseq
        };
        let branch = self.next_branch();
        Ok(format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
            local = self.local,
            from = ok.header("From").unwrap_or_default(),
            to = ok.header("To").unwrap_or_default(),
            call_id = ok.header("Call-ID").unwrap_or_default(),
        ))
    }

    /// ACK for a 2xx to our INVITE.
    pub fn ack_2xx(&mut self, ok: &Msg) -> Result<()> {
        let ack = self.in_dialog(ok, "ACK")?;
        self.send(&ack)
    }

    /// BYE in the dialog of a 2xx to our INVITE (the answer is read by the caller).
    pub fn bye(&mut self, ok: &Msg) -> Result<()> {
        let bye = self.in_dialog(ok, "BYE")?;
        self.send(&bye)
    }

    /// REGISTER this connection's Contact (sips:user@local) with digest.
    pub fn register(&mut self) -> Result<Msg> {
        let call_id = format!("reg-{}-{}@test", self.user, self.local.port());
        let to = format!("<sips:{}@{}>", self.user, self.server);
        let uri = format!("sips:{}", self.server);
        self.request_with_auth(
            "REGISTER",
            &uri,
            &call_id,
            "reg",
            &to,
            "Expires: 300\r\n",
            "",
        )
    }

    /// A response to a received request, with our To tag and Contact.
    pub fn respond(
        &mut self,
        req: &Msg,
        code: u16,
        reason: &str,
        to_tag: &str,
        body: &str,
    ) -> Result<()> {
        let mut out = format!("SIP/2.0 {code} {reason}\r\n");
        for v in req.headers("Via") {
            out.push_str(&format!("Via: {v}\r\n"));
        }
        for rr in req.headers("Record-Route") {
            out.push_str(&format!("Record-Route: {rr}\r\n"));
        }
        let mut to = req.header("To").unwrap_or_default();
        if !to.contains(";tag=") && code > 100 {
            to.push_str(&format!(";tag={to_tag}"));
        }
        out.push_str(&format!(
            "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sips:{}@{}>\r\n",
            req.header("From").unwrap_or_default(),
            req.header("Call-ID").unwrap_or_default(),
            req.header("CSeq").unwrap_or_default(),
            self.user,
            self.local,
        ));
        if !body.is_empty() {
            out.push_str("Content-Type: application/sdp\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        self.send(&out)
    }
}

/// `Digest …` answering `challenge` (MD5 or SHA-256, qop=auth when offered).
pub fn digest_answer(
    challenge: &str,
    user: &str,
    pass: &str,
    method: &str,
    uri: &str,
) -> Result<String> {
    let param = |name: &str| -> Option<String> {
        let rest = challenge.trim_start_matches("Digest").trim();
        rest.split(',').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().trim_matches('"').to_string())
        })
    };
    let realm = param("realm").context("challenge without realm")?;
    let nonce = param("nonce").context("challenge without nonce")?;
    let algorithm = param("algorithm").unwrap_or_else(|| "MD5".into());
    let h = |s: String| -> String {
        if algorithm.eq_ignore_ascii_case("SHA-256") {
            hex::encode(Sha256::digest(s.as_bytes()))
        } else {
            hex::encode(md5::Md5::digest(s.as_bytes()))
        }
    };
    let ha1 = h(format!("{user}:{realm}:{pass}"));
    let ha2 = h(format!("{method}:{uri}"));
    let opaque = param("opaque")
        .map(|o| format!(", opaque=\"{o}\""))
        .unwrap_or_default();
    let qop_auth = param("qop").is_some_and(|q| q.split(',').any(|x| x.trim() == "auth"))
        || challenge.contains("qop=\"auth");
    Ok(if qop_auth {
        let cnonce = "0a4f113b";
        let nc = "00000001";
        let response = h(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}, qop=auth, nc={nc}, cnonce=\"{cnonce}\"{opaque}")
    } else {
        let response = h(format!("{ha1}:{nonce}:{ha2}"));
        format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}{opaque}")
    })
}

/// One HTTPS GET (HTTP/1.1, `Connection: close`) to a server pinned by fingerprint: the
/// status line and body, and the fingerprint presented.
pub fn https_get(addr: SocketAddr, pins: &[String], path: &str) -> Result<(String, String)> {
    let (mut tls, fp) = connect(addr, pins)?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes())?;
    tls.flush()?;
    let mut out = Vec::new();
    let t0 = Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if would_block(&e) && t0.elapsed() < Duration::from_secs(10) => {}
            // A server may close without close_notify after Connection: close.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok((String::from_utf8_lossy(&out).into_owned(), fp))
}
