//! A WebRTC leg's wire: the leg's one UDP port carries ICE, DTLS and SRTP, which the
//! leg's [`WebRtc`] session turns into plain RTP for the rest of the task (and back).
//! A plain RTP leg has no session and never comes here.

use super::LegTask;
use crate::events::LegStats;
use crate::webrtc::{WebRtc, WebRtcOut, WEBRTC_REMOTE};
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Mutex;
use std::time::Instant;

fn lock(s: &Mutex<WebRtc>) -> std::sync::MutexGuard<'_, WebRtc> {
    // A poisoned lock only means a panic elsewhere mid-update; the session is still usable.
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Datagrams str0m wants sent; decrypted RTP is left in `out` for the caller.
fn transmit(sock: &StdUdpSocket, stats: &mut LegStats, out: &mut Vec<WebRtcOut>) {
    out.retain(|o| match o {
        WebRtcOut::Transmit(to, data) => {
            if sock.send_to(data, *to).is_err() {
                stats.send_errors += 1;
            }
            false
        }
        _ => true,
    });
}

/// One RTP packet we built, out through the session (encrypted by str0m).
pub(super) fn send_rtp(
    session: Option<&Mutex<WebRtc>>,
    sock: &StdUdpSocket,
    stats: &mut LegStats,
    out: &mut Vec<WebRtcOut>,
    packet: &[u8],
    now: Instant,
) {
    let Some(session) = session else { return };
    if lock(session).send_rtp(now, packet, out) {
        stats.sent += 1;
    }
    transmit(sock, stats, out);
    out.retain(|o| matches!(o, WebRtcOut::Rtp(_)));
}

impl LegTask {
    /// A datagram on the leg's RTP port: plain RTP, or (WebRTC) whatever the browser sends.
    pub(super) fn on_datagram(&mut self, n: usize, from: SocketAddr, now: Instant) {
        let Some(session) = self.webrtc.clone() else {
            self.on_rtp_datagram(n, from, now);
            return;
        };
        let accepted = {
            let mut s = lock(&session);
            let ok = s.receive(
                now,
                from,
                &self.rbuf[..n.min(self.rbuf.len())],
                &mut self.webrtc_out,
            );
            self.webrtc_due = s.next_timeout();
            ok
        };
        if !accepted {
            self.stats.unexpected_source += 1;
            if self.stats.unexpected_source == 1 {
                tracing::info!(call_id = %self.call_id, %from, "datagram from an address ICE did not negotiate: dropped (logged once per leg)");
            }
        }
        self.webrtc_outputs(now);
    }

    /// The session's timers (ICE consent, DTLS retransmission, RTCP).
    pub(super) fn webrtc_timers(&mut self, now: Instant) {
        let Some(session) = self.webrtc.clone() else {
            return;
        };
        {
            let mut s = lock(&session);
            if s.next_timeout().is_none_or(|t| t <= now) {
                s.timeout(now, &mut self.webrtc_out);
            }
            self.webrtc_due = s.next_timeout();
        }
        self.webrtc_outputs(now);
    }

    fn webrtc_outputs(&mut self, now: Instant) {
        transmit(&self.rtp_tx, &mut self.stats, &mut self.webrtc_out);
        for o in std::mem::take(&mut self.webrtc_out) {
            match o {
                WebRtcOut::Rtp(p) => {
                    let n = p.len().min(self.rbuf.len());
                    self.rbuf[..n].copy_from_slice(&p[..n]);
                    self.on_rtp_datagram(n, WEBRTC_REMOTE, now);
                }
                WebRtcOut::Connected => {
                    tracing::info!(call_id = %self.call_id, "WebRTC media connected (ICE + DTLS-SRTP)")
                }
                WebRtcOut::Disconnected => {
                    tracing::info!(call_id = %self.call_id, "WebRTC peer gone (ICE consent lost)")
                }
                WebRtcOut::Transmit(..) => {}
            }
        }
    }
}
