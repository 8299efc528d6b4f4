//! RFC 4733 telephone-event payloads: decode, turn into digits exactly once,
//! and encode a digit as the packet sequence a sender emits.
//!
//! Reporting policy (documented choice): a digit is reported on the FIRST
//! packet with the E (end) bit. If every end packet is lost, it is reported
//! when the next event (a different RTP timestamp) starts, or when no packet
//! of the running event arrived for [`END_TIMEOUT`] (see
//! [`EventReceiver::poll`]). We do not report on the start packet: an IVR
//! reacts to the completed key press, and reporting at start would need a
//! separate path to suppress the end that always follows.
//! Events are keyed by (RTP timestamp, event code); the last 32 reported keys
//! are remembered, so the three redundant end packets and any retransmitted
//! start/continuation packets never produce a second digit.

use super::{digit_to_event, event_to_digit, DtmfError};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a running event may stay silent before it counts as ended.
pub const END_TIMEOUT: Duration = Duration::from_millis(250);
const REMEMBERED: usize = 32;

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0-15 DTMF, 16 flash, others tones we ignore).
    pub event: u8,
    /// E bit: this is (one of) the final packets.
    pub end: bool,
    /// Power level in -dBm0 (0..=63).
    pub volume: u8,
    /// Duration so far in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parse the first 4 bytes (extra bytes, e.g. RFC 2198 leftovers, are ignored).
    pub fn parse(b: &[u8]) -> Result<Self, DtmfError> {
        if b.len() < 4 {
            return Err(DtmfError::ShortPayload(b.len()));
        }
        Ok(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// Wire form.
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            ((self.end as u8) << 7) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// A digit reported by [`EventReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedEvent {
    /// The key.
    pub digit: char,
    /// Arrival of the event's first packet we saw (best key-down estimate).
    pub started: Instant,
    /// Duration from the last packet seen, in ms.
    pub duration_ms: u32,
}

#[derive(Debug, Clone, Copy)]
struct Running {
    timestamp: u32,
    event: u8,
    started: Instant,
    last_seen: Instant,
    duration: u16,
}

/// Turns telephone-event packets of one leg into digits, each exactly once.
#[derive(Debug, Default)]
pub struct EventReceiver {
    running: Option<Running>,
    queued: Option<(ReceivedEvent, Instant)>,
    reported: VecDeque<(u32, u8)>,
    /// Packets ignored as repeats of already reported events.
    pub duplicates: u64,
    /// Payloads that could not be parsed.
    pub malformed: u64,
}

impl EventReceiver {
    /// New receiver.
    pub fn new() -> Self {
        Self::default()
    }

    fn remember(&mut self, key: (u32, u8)) {
        if self.reported.len() == REMEMBERED {
            self.reported.pop_front();
        }
        self.reported.push_back(key);
    }

    fn report(&mut self, r: Running) -> Option<ReceivedEvent> {
        self.remember((r.timestamp, r.event));
        Some(ReceivedEvent {
            digit: event_to_digit(r.event)?,
            started: r.started,
            duration_ms: r.duration as u32 / 8,
        })
    }

    /// Feed the RTP timestamp and payload of a telephone-event packet.
    /// May return the digit of this event (end seen) or of a previous one
    /// whose end packets were all lost.
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        payload: &[u8],
        now: Instant,
    ) -> Option<ReceivedEvent> {
        let ev = match TelephoneEvent::parse(payload) {
            Ok(e) => e,
            Err(_) => {
                self.malformed += 1;
                return None;
            }
        };
        let key = (timestamp, ev.event);
        if self.reported.contains(&key) {
            self.duplicates += 1;
            return None;
        }
        // A different event began: flush the previous one if its end never came.
        let mut flushed = None;
        if let Some(r) = self.running {
            if (r.timestamp, r.event) != key {
                self.running = None;
                flushed = self.report(r);
            }
        }
        let r = self.running.get_or_insert(Running {
            timestamp,
            event: ev.event,
            started: now,
            last_seen: now,
            duration: 0,
        });
        r.last_seen = now;
        r.duration = r.duration.max(ev.duration);
        if ev.end {
            let r = *r;
            self.running = None;
            let this = self.report(r);
            // Both are Some only if an end-only event follows one whose ends were
            // lost: return the older, queue the newer for `poll`.
            return match (flushed, this) {
                (Some(old), new) => {
                    self.queued = new.map(|e| (e, now));
                    Some(old)
                }
                (None, new) => new,
            };
        }
        flushed
    }

    /// Timer: reports an event whose end packets were all lost once it has
    /// been silent for [`END_TIMEOUT`].
    /// Also returns a digit queued by [`EventReceiver::on_packet`] when one
    /// packet completed two events.
    pub fn poll(&mut self, now: Instant) -> Option<ReceivedEvent> {
        if let Some((e, _)) = self.queued.take() {
            return Some(e);
        }
        let r = self.running?;
        if now.saturating_duration_since(r.last_seen) >= END_TIMEOUT {
            self.running = None;
            return self.report(r);
        }
        None
    }

    /// When [`EventReceiver::poll`] next needs to run.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.queued {
            Some((_, at)) => Some(at),
            None => self.running.map(|r| r.last_seen + END_TIMEOUT),
        }
    }
}

/// One RTP packet of an outgoing event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// RTP timestamp: the event's start, the same for all its packets.
    pub timestamp: u32,
    /// Marker bit (first packet only).
    pub marker: bool,
    /// Payload.
    pub event: TelephoneEvent,
    /// Send this packet `offset_ms` after the first one.
    pub offset_ms: u32,
}

/// The packets for sending `digit` (RFC 4733 §2.5): one every `ptime_ms`
/// with growing duration, the first with the marker bit, and the final
/// packet (E bit) sent three times. `duration_ms` is clamped to 40..=5000.
pub fn encode_digit(
    digit: char,
    start_ts: u32,
    duration_ms: u32,
    ptime_ms: u32,
    volume: u8,
) -> Result<Vec<EventPacket>, DtmfError> {
    let code = digit_to_event(digit).ok_or_else(|| DtmfError::NotADigit(digit.to_string()))?;
    let ptime = ptime_ms.clamp(10, 60);
    let total = duration_ms.clamp(40, 5000);
    let steps = total.div_ceil(ptime);
    let mut out = Vec::with_capacity(steps as usize + 2);
    for i in 1..=steps {
        let dur_ms = (i * ptime).min(total);
        let last = i == steps;
        let ev = TelephoneEvent {
            event: code,
            end: last,
            volume: volume & 0x3F,
            duration: (dur_ms * 8) as u16,
        };
        let copies = if last { 3 } else { 1 };
        for _ in 0..copies {
            out.push(EventPacket {
                timestamp: start_ts,
                marker: i == 1,
                event: ev,
                offset_ms: (i - 1) * ptime,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(rx: &mut EventReceiver, pkts: &[EventPacket], t0: Instant) -> Vec<char> {
        pkts.iter()
            .filter_map(|p| {
                rx.on_packet(
                    p.timestamp,
                    &p.event.to_bytes(),
                    t0 + Duration::from_millis(p.offset_ms as u64),
                )
            })
            .map(|e| e.digit)
            .collect()
    }

    #[test]
    fn payload_round_trip() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 1280,
        };
        assert_eq!(e.to_bytes(), [11, 0x8A, 0x05, 0x00]);
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()).unwrap(), e);
        assert_eq!(
            TelephoneEvent::parse(&[1, 2]),
            Err(DtmfError::ShortPayload(2))
        );
    }

    #[test]
    fn encoder_sequence_shape() {
        let p = encode_digit('#', 1000, 100, 20, 10).unwrap();
        // 5 steps, last tripled.
        assert_eq!(p.len(), 7);
        assert!(p[0].marker && p[1..].iter().all(|x| !x.marker));
        assert!(p.iter().all(|x| x.timestamp == 1000 && x.event.event == 11));
        assert_eq!(
            p.iter().map(|x| x.event.duration).collect::<Vec<_>>(),
            [160, 320, 480, 640, 800, 800, 800]
        );
        assert_eq!(p.iter().filter(|x| x.event.end).count(), 3);
        assert_eq!(p[6].offset_ms, 80);
        assert!(encode_digit('x', 0, 100, 20, 10).is_err());
    }

    #[test]
    fn every_digit_reported_exactly_once_even_with_duplicates() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new();
        let mut got = Vec::new();
        for (i, d) in super::super::DIGITS.iter().enumerate() {
            let pkts = encode_digit(*d, i as u32 * 2000, 120, 20, 10).unwrap();
            // Network duplicates every packet.
            let doubled: Vec<EventPacket> = pkts.iter().flat_map(|p| [*p, *p]).collect();
            got.extend(feed_all(
                &mut rx,
                &doubled,
                t0 + Duration::from_secs(i as u64),
            ));
        }
        assert_eq!(got, super::super::DIGITS.to_vec());
        assert!(rx.duplicates >= 16 * 2);
    }

    #[test]
    fn same_digit_twice_is_two_digits() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new();
        let mut pk = encode_digit('5', 0, 80, 20, 10).unwrap();
        pk.extend(encode_digit('5', 1600, 80, 20, 10).unwrap());
        assert_eq!(feed_all(&mut rx, &pk, t0), ['5', '5']);
    }

    #[test]
    fn lost_end_packets_fall_back() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new();
        let no_end: Vec<EventPacket> = encode_digit('7', 0, 100, 20, 10)
            .unwrap()
            .into_iter()
            .filter(|p| !p.event.end)
            .collect();
        assert!(feed_all(&mut rx, &no_end, t0).is_empty());
        // Next event starts: previous one is reported once.
        let next = encode_digit('8', 800, 100, 20, 10).unwrap();
        let got = feed_all(&mut rx, &next, t0 + Duration::from_millis(200));
        assert_eq!(got, ['7', '8']);
        // An end-only event right after one whose ends were lost: both come out.
        let a: Vec<EventPacket> = encode_digit('1', 3000, 60, 20, 10)
            .unwrap()
            .into_iter()
            .filter(|p| !p.event.end)
            .collect();
        assert!(feed_all(&mut rx, &a, t0).is_empty());
        let b = encode_digit('2', 4000, 60, 20, 10).unwrap();
        assert_eq!(
            rx.on_packet(4000, &b[4].event.to_bytes(), t0)
                .map(|e| e.digit),
            Some('1')
        );
        assert_eq!(rx.next_deadline(), Some(t0));
        assert_eq!(rx.poll(t0).map(|e| e.digit), Some('2'));
        assert_eq!(rx.poll(t0), None);
        // Timeout path.
        let lone: Vec<EventPacket> = encode_digit('9', 5000, 60, 20, 10)
            .unwrap()
            .into_iter()
            .filter(|p| !p.event.end)
            .collect();
        assert!(feed_all(&mut rx, &lone, t0).is_empty());
        let deadline = rx.next_deadline().unwrap();
        assert_eq!(rx.poll(deadline - Duration::from_millis(1)), None);
        assert_eq!(rx.poll(deadline).map(|e| e.digit), Some('9'));
        assert_eq!(rx.poll(deadline + END_TIMEOUT), None);
        // Late end packets of '9' are suppressed.
        let ends: Vec<EventPacket> = encode_digit('9', 5000, 60, 20, 10)
            .unwrap()
            .into_iter()
            .filter(|p| p.event.end)
            .collect();
        assert!(feed_all(&mut rx, &ends, t0).is_empty());
    }

    #[test]
    fn start_time_and_duration_reported() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new();
        let pk = encode_digit('1', 0, 200, 20, 10).unwrap();
        let mut ev = None;
        for p in &pk {
            if let Some(e) = rx.on_packet(
                p.timestamp,
                &p.event.to_bytes(),
                t0 + Duration::from_millis(p.offset_ms as u64),
            ) {
                ev = Some(e);
            }
        }
        let ev = ev.unwrap();
        assert_eq!((ev.started, ev.duration_ms), (t0, 200));
    }

    #[test]
    fn garbage_and_flash_are_not_digits() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new();
        assert_eq!(rx.on_packet(0, &[1], t0), None);
        assert_eq!(rx.malformed, 1);
        assert_eq!(rx.on_packet(0, &[16, 0x80, 0, 160], t0), None);
        assert_eq!(rx.on_packet(0, &[200, 0x80, 0, 160], t0), None);
    }
}
