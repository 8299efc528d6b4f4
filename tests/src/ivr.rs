//! IVR test tools: a sipp caller that dials a DID and presses keys as RFC 4733 events at
//! given times, RFC 4733 pcaps made per key (so a key pressed twice is two events, not a
//! retransmission of one), and a small client for the admin API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::sipp::{Sipp, SippRun};
use crate::{repo_root, server_bin};

/// One caller walking a menu.
#[derive(Debug, Clone)]
pub struct IvrCaller {
    /// Names the Call-ID (`NAME-1`) and the files.
    pub name: String,
    /// The caller's number (From user), unique per test so the far end's log shows who came.
    pub number: String,
    /// `(pause before the key in ms, key)`.
    pub keys: Vec<(u64, char)>,
    /// After the last key: wait this long for the server's BYE, then hang up ourselves.
    /// The caller sends audio (silence) the whole time.
    pub hold_ms: u64,
    /// Set by [`IvrCaller::listening_at`]: the SDP names this port and sipp sends no audio,
    /// so the server sends the caller's audio there (to a test's
    /// [`crate::rtp_sink::RtpSink`]) instead of latching onto sipp's own media port.
    pub listen_port: Option<u16>,
}

/// The Call-ID sipp gives the caller's one call.
pub fn call_id(name: &str) -> String {
    format!("{name}-1")
}

impl IvrCaller {
    pub fn new(name: &str, number: &str, keys: &[(u64, char)], hold_ms: u64) -> IvrCaller {
        IvrCaller {
            name: name.into(),
            number: number.into(),
            keys: keys.to_vec(),
            hold_ms,
            listen_port: None,
        }
    }

    /// A caller that only listens, at `port` (see [`IvrCaller::listen_port`]); it has no
    /// audio to press keys with, so it takes no keys.
    pub fn listening_at(mut self, port: u16) -> IvrCaller {
        assert!(self.keys.is_empty(), "a listening caller presses no keys");
        self.listen_port = Some(port);
        self
    }

    /// Writes the scenario and its RTP stream into `dir` and starts sipp dialling `did`.
    pub fn spawn(&self, server: SocketAddr, did: &str, dir: &Path) -> Result<SippRun> {
        let xml = dir.join(format!("{}.xml", self.name));
        let pcap = dir.join(format!("{}.pcap", self.name));
        let mut at = 0;
        let mut keys = Vec::new();
        for (pause, key) in &self.keys {
            at += pause;
            keys.push((at, *key));
        }
        let total = at + self.hold_ms;
        std::fs::write(&pcap, caller_pcap(&keys, total)?)?;
        // A listening caller names its own port in the SDP and sends nothing; any other
        // caller offers sipp's media port and plays its stream from there.
        let (play, media_port) = match self.listen_port {
            Some(port) => ("", port.to_string()),
            None => (PLAY_PCAP, "[media_port]".to_string()),
        };
        let text = CALLER_XML
            .replace("@PLAY_PCAP@", play)
            .replace("@MEDIA_PORT@", &media_port)
            .replace("@PCAP@", &pcap.display().to_string())
            .replace("@HOLD@", &total.to_string())
            .replace("@NUMBER@", &self.number);
        std::fs::write(&xml, text)?;
        Sipp::from_path(&xml, server)
            .service(did)
            .arg("-cid_str")
            .arg(&format!("{}-%u", self.name))
            .arg("-trace_err")
            .arg("-error_file")
            .arg(
                &dir.join(format!("{}-errors.log", self.name))
                    .display()
                    .to_string(),
            )
            .option("-timeout", &format!("{}s", total / 1000 + 60))
            .spawn()
    }
}

/// The step of [`CALLER_XML`] that sends the caller's audio and keys.
const PLAY_PCAP: &str = r#"<nop><action><exec play_pcap_audio="@PCAP@"/></action></nop>"#;

/// A caller that dials, presses its keys, then either takes the server's BYE or hangs up.
const CALLER_XML: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="IVR caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:@NUMBER@@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:@NUMBER@@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio @MEDIA_PORT@ RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:@NUMBER@@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  @PLAY_PCAP@
  <recv request="BYE" timeout="@HOLD@" ontimeout="hangup"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <nop next="end"/>
  <label id="hangup"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:@NUMBER@@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <label id="end"/>
</scenario>
"#;

/// The caller's whole RTP stream as a pcap sipp plays: 20 ms of μ-law silence every 20 ms
/// (a phone sends audio all call long; the host hangs up on a silent line), with an
/// RFC 4733 event for each key at its time (`(ms from the start, key)`): 7 updates 20 ms
/// apart and the end packet three times, as in sip-tester's own pcaps.
pub fn caller_pcap(keys: &[(u64, char)], total_ms: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // Global header: magic, v2.4, tz 0, sigfigs 0, snaplen, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut seq: u16 = 1000;
    let ticks = total_ms / 20;
    let mut key_at: std::collections::BTreeMap<u64, char> = std::collections::BTreeMap::new();
    for (ms, k) in keys {
        key_at.insert(ms / 20, *k);
    }
    let mut tick = 0;
    while tick < ticks {
        let ts = (tick * 160) as u32;
        if let Some(&key) = key_at.get(&tick) {
            let event: u8 = match key {
                '0'..='9' => key as u8 - b'0',
                '*' => 10,
                '#' => 11,
                _ => bail!("not a DTMF key: {key:?}"),
            };
            for n in 0..10u64 {
                let end = n >= 7;
                let dur = (n.min(7) * 160) as u16;
                let mut payload = vec![event, if end { 0x80 | 10 } else { 10 }];
                payload.extend_from_slice(&dur.to_be_bytes());
                let at = (tick + n.min(7)) * 20;
                push_rtp(&mut out, at, 101, n == 0, seq, ts, &payload);
                if n < 7 || n == 9 {
                    seq = seq.wrapping_add(if n < 7 { 1 } else { 0 });
                }
            }
            seq = seq.wrapping_add(1);
            tick += 8;
            continue;
        }
        push_rtp(&mut out, tick * 20, 0, false, seq, ts, &[0xff; 160]);
        seq = seq.wrapping_add(1);
        tick += 1;
    }
    Ok(out)
}

/// One RTP packet in Ethernet/IPv4/UDP framing at `at_ms` (sipp rewrites the addresses).
fn push_rtp(
    out: &mut Vec<u8>,
    at_ms: u64,
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    payload: &[u8],
) {
    let mut rtp = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    rtp.extend_from_slice(&seq.to_be_bytes());
    rtp.extend_from_slice(&ts.to_be_bytes());
    rtp.extend_from_slice(&0x0e05_384eu32.to_be_bytes());
    rtp.extend_from_slice(payload);
    let udp_len = 8 + rtp.len() as u16;
    let ip_len = 20 + udp_len;
    let mut pkt = vec![0u8; 12];
    pkt.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    pkt.extend_from_slice(&ip_len.to_be_bytes());
    pkt.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
    pkt.extend_from_slice(&6000u16.to_be_bytes());
    pkt.extend_from_slice(&6002u16.to_be_bytes());
    pkt.extend_from_slice(&udp_len.to_be_bytes());
    pkt.extend_from_slice(&[0, 0]);
    pkt.extend_from_slice(&rtp);
    out.extend_from_slice(&((at_ms / 1000) as u32 + 1).to_le_bytes());
    out.extend_from_slice(&(((at_ms % 1000) * 1000) as u32).to_le_bytes());
    out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    out.extend_from_slice(&pkt);
}

/// An admin token made with the CLI before the server starts (`madoguchi token create`).
pub fn create_token(data: &Path) -> Result<String> {
    let out = std::process::Command::new(server_bin())
        .args([
            "token", "create", "--role", "admin", "--label", "tests", "--data",
        ])
        .arg(data)
        .output()?;
    if !out.status.success() {
        bail!(
            "token create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find(|w| w.starts_with("mdg_"))
        .map(str::to_string)
        .context("no token printed")
}

/// The admin API of a running server.
pub struct Api {
    pub base: String,
    pub token: String,
}

impl Api {
    pub fn new(http: SocketAddr, token: &str) -> Api {
        Api {
            base: format!("http://{http}/api/v1"),
            token: token.into(),
        }
    }

    fn agent() -> ureq::Agent {
        ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build()
    }

    /// GET → (status, JSON body).
    pub fn get(&self, path: &str) -> Result<(u16, serde_json::Value)> {
        let r = Self::agent()
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .call();
        answer(r)
    }

    /// A request with a JSON body → (status, JSON body).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, serde_json::Value)> {
        let r = Self::agent()
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .send_json(body.clone());
        answer(r)
    }

    /// A request with raw bytes → (status, JSON body).
    pub fn send_bytes(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, serde_json::Value)> {
        let r = Self::agent()
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("Content-Type", content_type)
            .send_bytes(body);
        answer(r)
    }

    /// Sets the test clock.
    pub fn set_clock(&self, at: &str) -> Result<()> {
        let (status, body) = self.send("PUT", "/test/clock", &serde_json::json!({ "at": at }))?;
        if status != 200 && status != 204 {
            bail!("set clock {at}: {status} {body}");
        }
        Ok(())
    }

    /// The call record of `call_id`, waiting (bounded: at least 30 s on a loaded host) until
    /// the IVR part has been written.
    pub fn call(&self, call_id: &str) -> Result<serde_json::Value> {
        for _ in 0..300 {
            let (status, body) = self.get(&format!("/calls/{call_id}"))?;
            if status == 200 {
                return Ok(body);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("no call record for {call_id}")
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> Result<(u16, serde_json::Value)> {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.into()),
    };
    let status = resp.status();
    let text = resp.into_string()?;
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Ok((status, body))
}

/// The prompt ids a call record says were played (notice first), in order.
pub fn prompts_heard(record: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for e in record["events"].as_array().into_iter().flatten() {
        if e["kind"] == "play" || e["kind"] == "notice" {
            for p in e["detail"]["prompts"].as_array().into_iter().flatten() {
                out.push(p.as_str().unwrap_or_default().to_string());
            }
        }
    }
    out
}

/// Server flags for an IVR test: the bundled plugins, `scenario` installed and published,
/// MD5 digest first (sipp), and a config file (queues) when given.
pub fn ivr_server_args(config: Option<&Path>, scenario: &Path) -> Vec<String> {
    let (plugins, _) = zama_bundle();
    let mut args = Vec::new();
    if let Some(c) = config {
        args.extend(["--config".to_string(), c.display().to_string()]);
    }
    args.extend([
        "--plugins".to_string(),
        plugins.display().to_string(),
        "--scenario".to_string(),
        scenario.display().to_string(),
    ]);
    args
}

/// The Zama demo's bundled parts: the plugins directory and the scenario file.
pub fn zama_bundle() -> (PathBuf, PathBuf) {
    let root = repo_root();
    (
        root.join("target/plugins"),
        root.join("examples/zama-mynumber/scenario.json"),
    )
}
