//! A UDP socket standing for a caller's media port: it collects every RTP packet the
//! server sends there, so a test checks what a caller really received (keys, audio),
//! not what the server says it sent.

use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::audio::ulaw_to_linear;

/// (payload type, RTP timestamp, payload) of one RTP packet.
pub type RtpPacket = (u8, u32, Vec<u8>);

/// RTP packets arriving at the caller's media port, collected on a thread.
pub struct RtpSink {
    pub port: u16,
    /// In arrival order.
    packets: Arc<Mutex<Vec<RtpPacket>>>,
}

impl RtpSink {
    pub fn start() -> RtpSink {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let packets = Arc::new(Mutex::new(Vec::new()));
        let sink = packets.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let idle_limit = Duration::from_secs(30);
            let mut last = Instant::now();
            while last.elapsed() < idle_limit {
                if let Ok(n) = sock.recv(&mut buf) {
                    last = Instant::now();
                    if let Some(p) = parse_rtp(&buf[..n]) {
                        sink.lock().expect("rtp lock").push(p);
                    }
                }
            }
        });
        RtpSink { port, packets }
    }

    /// The RFC 4733 events seen with payload type `pt`, one digit per event (an event's
    /// packets share one timestamp).
    pub fn digits(&self, pt: u8) -> String {
        const NAMES: &[u8; 16] = b"0123456789*#ABCD";
        let mut out = String::new();
        let mut last_ts = None;
        for (p, ts, payload) in self.packets.lock().expect("rtp lock").iter() {
            if *p != pt || payload.len() < 4 || last_ts == Some(*ts) {
                continue;
            }
            last_ts = Some(*ts);
            out.push(
                NAMES
                    .get(usize::from(payload[0]))
                    .map_or('?', |&c| char::from(c)),
            );
        }
        out
    }

    /// (timestamp, event, end bit) of every packet with payload type `pt`, for failure output.
    pub fn events(&self, pt: u8) -> Vec<(u32, u8, bool)> {
        let packets = self.packets.lock().expect("rtp lock");
        packets
            .iter()
            .filter(|(p, _, pl)| *p == pt && pl.len() >= 4)
            .map(|(_, ts, pl)| (*ts, pl[0], pl[1] & 0x80 != 0))
            .collect()
    }

    /// The µ-law audio (payload type 0) received, in timestamp order, one copy of each
    /// frame, as 16-bit sample values (the scale of [`crate::audio::channels`]).
    pub fn ulaw_audio(&self) -> Vec<f64> {
        let mut frames: Vec<(u32, Vec<u8>)> = self
            .packets
            .lock()
            .expect("rtp lock")
            .iter()
            .filter(|(p, ..)| *p == 0)
            .map(|(_, ts, pl)| (*ts, pl.clone()))
            .collect();
        // Timestamps start at a random value and may wrap: order them from the first.
        let first = frames.first().map_or(0, |f| f.0);
        frames.sort_by_key(|(ts, _)| ts.wrapping_sub(first));
        frames.dedup_by_key(|(ts, _)| *ts);
        frames
            .iter()
            .flat_map(|(_, pl)| pl.iter().map(|b| f64::from(ulaw_to_linear(*b))))
            .collect()
    }

    pub fn count(&self, pt: u8) -> usize {
        self.packets
            .lock()
            .expect("rtp lock")
            .iter()
            .filter(|(p, ..)| *p == pt)
            .count()
    }
}

/// (payload type, timestamp, payload) of an RTP packet, or None if it is not one.
pub fn parse_rtp(b: &[u8]) -> Option<RtpPacket> {
    if b.len() < 12 || b[0] >> 6 != 2 {
        return None;
    }
    let mut off = 12 + 4 * usize::from(b[0] & 0x0f);
    if b[0] & 0x10 != 0 {
        let ext = b.get(off + 2..off + 4)?;
        off += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let ts = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    Some((b[1] & 0x7f, ts, b.get(off..)?.to_vec()))
}
