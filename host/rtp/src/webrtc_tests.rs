//! Two str0m peers in one process on a synthetic clock: the host's ICE-lite answerer and a
//! full-ICE stand-in for the browser. No socket: datagrams move between two queues.

use super::*;
use std::time::Duration;

struct Net {
    now: Instant,
    host: WebRtc,
    browser: WebRtc,
    host_addr: SocketAddr,
    browser_addr: SocketAddr,
    to_host: Vec<(SocketAddr, Vec<u8>)>,
    to_browser: Vec<(SocketAddr, Vec<u8>)>,
    host_rtp: Vec<Vec<u8>>,
    browser_rtp: Vec<Vec<u8>>,
    host_connected: bool,
    browser_connected: bool,
}

impl Net {
    fn new(law: Law) -> (Net, String) {
        let now = Instant::now();
        let host_addr: SocketAddr = "127.0.0.1:20000".parse().unwrap();
        let browser_addr: SocketAddr = "127.0.0.1:51000".parse().unwrap();
        let mut browser = WebRtc::new(browser_addr, law, false, now).unwrap();
        let offer = browser.offer().unwrap();
        let host = WebRtc::new(host_addr, law, true, now).unwrap();
        (
            Net {
                now,
                host,
                browser,
                host_addr,
                browser_addr,
                to_host: Vec::new(),
                to_browser: Vec::new(),
                host_rtp: Vec::new(),
                browser_rtp: Vec::new(),
                host_connected: false,
                browser_connected: false,
            },
            offer,
        )
    }

    fn route(&mut self, from_host: bool, out: Vec<WebRtcOut>) {
        for o in out {
            match o {
                WebRtcOut::Transmit(to, data) if from_host => {
                    assert_eq!(to, self.browser_addr);
                    self.to_browser.push((self.host_addr, data));
                }
                WebRtcOut::Transmit(to, data) => {
                    assert_eq!(to, self.host_addr);
                    self.to_host.push((self.browser_addr, data));
                }
                WebRtcOut::Rtp(p) if from_host => self.host_rtp.push(p),
                WebRtcOut::Rtp(p) => self.browser_rtp.push(p),
                WebRtcOut::Connected if from_host => self.host_connected = true,
                WebRtcOut::Connected => self.browser_connected = true,
                WebRtcOut::Disconnected => {}
            }
        }
    }

    /// Deliver what is queued, then move the clock to the next timeout (at most 50 ms).
    fn step(&mut self) {
        let mut out = Vec::new();
        for (from, d) in std::mem::take(&mut self.to_host) {
            self.host.receive(self.now, from, &d, &mut out);
        }
        self.route(true, std::mem::take(&mut out));
        for (from, d) in std::mem::take(&mut self.to_browser) {
            self.browser.receive(self.now, from, &d, &mut out);
        }
        self.route(false, std::mem::take(&mut out));
        let next = [self.host.next_timeout(), self.browser.next_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.now + Duration::from_millis(50));
        self.now = next.clamp(self.now, self.now + Duration::from_millis(50));
        self.host.timeout(self.now, &mut out);
        self.route(true, std::mem::take(&mut out));
        self.browser.timeout(self.now, &mut out);
        self.route(false, std::mem::take(&mut out));
    }

    fn connect(law: Law) -> Net {
        let (mut net, offer) = Net::new(law);
        assert!(is_webrtc_sdp(&offer), "{offer}");
        let (answer, neg) = net.host.accept_offer(&offer).unwrap();
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("a=rtcp-mux"), "{answer}");
        assert!(answer.contains("a=fingerprint"), "{answer}");
        assert!(answer.contains("127.0.0.1 20000 typ host"), "{answer}");
        assert!(!answer.to_ascii_lowercase().contains("opus"), "{answer}");
        assert_eq!(neg.direction, Direction::SendRecv);
        assert_eq!(neg.codec, law);
        net.browser.accept_answer(&answer).unwrap();
        for _ in 0..2000 {
            if net.host_connected && net.browser_connected {
                break;
            }
            net.step();
        }
        assert!(net.host_connected && net.browser_connected, "no ICE/DTLS");
        net
    }
}

fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

#[test]
fn browser_and_host_exchange_g711_over_dtls_srtp() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("str0m=debug")
        .with_test_writer()
        .try_init();
    for law in [Law::Ulaw, Law::Alaw] {
        let mut net = Net::connect(law);
        let pt = net.host.pt;
        // 50 packets each way, 20 ms apart (synthetic time).
        for i in 0..50u16 {
            let payload = vec![i as u8; 160];
            let mut out = Vec::new();
            let sent = net.host.send_rtp(
                net.now,
                &rtp(pt, 1000 + i, 160 * i as u32, &payload),
                &mut out,
            );
            assert!(sent, "host could not send: {:?}", net.host.mid);
            net.route(true, std::mem::take(&mut out));
            net.browser.send_rtp(
                net.now,
                &rtp(pt, 7000 + i, 160 * i as u32, &payload),
                &mut out,
            );
            net.route(false, std::mem::take(&mut out));
            let until = net.now + Duration::from_millis(20);
            while net.now < until {
                net.step();
            }
        }
        for _ in 0..50 {
            net.step();
        }
        assert!(net.browser_rtp.len() >= 49, "{}", net.browser_rtp.len());
        assert!(net.host_rtp.len() >= 49, "{}", net.host_rtp.len());
        for got in [&net.browser_rtp, &net.host_rtp] {
            let first = &got[0];
            assert_eq!(first[1] & 0x7f, pt);
            assert_eq!(first.len(), 12 + 160);
            // Payload survives encryption and decryption unchanged and in order.
            let seqs: Vec<u8> = got.iter().map(|p| p[12]).collect();
            assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
        }
    }
}

#[test]
fn datagrams_from_an_unnegotiated_address_are_refused() {
    let mut net = Net::connect(Law::Ulaw);
    let stranger: SocketAddr = "127.0.0.9:4000".parse().unwrap();
    let mut out = Vec::new();
    // A DTLS-looking record and an SRTP-looking packet from elsewhere.
    let dtls = [22u8, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    assert!(!net.host.receive(net.now, stranger, &dtls, &mut out));
    let srtp = rtp(0, 1, 1, &[0u8; 40]);
    assert!(!net.host.receive(net.now, stranger, &srtp, &mut out));
    assert!(out.iter().all(|o| !matches!(o, WebRtcOut::Rtp(_))));
    assert_eq!(net.host.refused, 2);
    // The session still works.
    assert!(net.host.is_connected());
}

#[test]
fn hold_by_reoffer_changes_direction() {
    let mut net = Net::connect(Law::Ulaw);
    let mid = net.browser.mid.unwrap();
    let mut api = net.browser.rtc.sdp_api();
    api.set_direction(mid, RtcDirection::SendOnly);
    let (offer, pending) = api.apply().unwrap();
    let (answer, neg) = net.host.accept_offer(&offer.to_sdp_string()).unwrap();
    assert_eq!(neg.direction, Direction::RecvOnly);
    net.browser
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
        .unwrap();
}

#[test]
fn offers_without_g711_are_refused() {
    let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    assert!(WebRtc::pick_law(offer, &[Law::Ulaw, Law::Alaw])
        .unwrap_err()
        .is_not_acceptable());
    let offer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 8\r\na=rtpmap:8 PCMA/8000\r\n";
    assert_eq!(
        WebRtc::pick_law(offer, &[Law::Ulaw, Law::Alaw]).unwrap(),
        Law::Alaw
    );
    assert!(!is_webrtc_sdp("v=0\r\nm=audio 4000 RTP/AVP 0\r\n"));
}
