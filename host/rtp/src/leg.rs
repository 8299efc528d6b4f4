//! [`Leg`]: the call control's handle on one RTP session.

use crate::events::{LegEvent, LegStats, PlayId};
use crate::runtime::Inner;
use crate::task::rec::RecStart;
use crate::task::{Cmd, Forward};
use crate::webrtc::{is_webrtc_sdp, WebRtc};
use crate::{MediaError, Recording};
use madoguchi_media::dtmf::parse_info;
use madoguchi_media::g711::Law;
use madoguchi_media::prompt::Prompt;
use madoguchi_media::sdp::{self, MediaPrefs, Negotiated, Sdp};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

#[derive(Debug)]
struct SdpState {
    prefs: MediaPrefs,
    negotiated: Option<Negotiated>,
    offered: bool,
    /// A browser's session (ICE, DTLS-SRTP) once a WebRTC offer or answer was seen.
    webrtc: Option<Arc<Mutex<WebRtc>>>,
}

fn lock(s: &Mutex<WebRtc>) -> std::sync::MutexGuard<'_, WebRtc> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// One RTP session (a call leg) with its own RTP/RTCP port pair and task.
///
/// Dropping the handle (or [`Leg::close`]) stops the task, finishes a
/// recording in progress, and frees the ports. SDP methods are synchronous
/// (pure offer/answer); everything else is a message to the leg's task.
#[derive(Debug)]
pub struct Leg {
    call_id: Arc<str>,
    local_rtp: SocketAddr,
    sdp_ip: IpAddr,
    pub(crate) cmds: mpsc::UnboundedSender<Cmd>,
    pub(crate) fwd: mpsc::Sender<Forward>,
    events: mpsc::Receiver<LegEvent>,
    sdp: Arc<Mutex<SdpState>>,
    next_play: AtomicU64,
    recording: Arc<AtomicBool>,
    rt: Arc<Inner>,
    task: Option<JoinHandle<LegStats>>,
}

fn parse_sdp(body: &[u8]) -> Result<Sdp, MediaError> {
    let text = std::str::from_utf8(body).map_err(|_| MediaError::SdpNotUtf8)?;
    Ok(Sdp::parse(text)?)
}

/// The browser's session of a leg, created on first use (ICE-lite with the leg's port as the
/// only host candidate); the leg's task takes its datagrams and timers from then on.
fn webrtc_session(
    st: &mut SdpState,
    cmds: &mpsc::UnboundedSender<Cmd>,
    local: SocketAddr,
    law: Law,
) -> Result<Arc<Mutex<WebRtc>>, MediaError> {
    if let Some(s) = &st.webrtc {
        return Ok(s.clone());
    }
    let s = Arc::new(Mutex::new(WebRtc::new(local, law, true, Instant::now())?));
    st.webrtc = Some(s.clone());
    let _ = cmds.send(Cmd::WebRtc(s.clone()));
    Ok(s)
}

/// Makes a leg's WebRTC offer on demand (see [`Leg::webrtc_offerer`]); clones share it.
#[derive(Debug, Clone)]
pub struct WebRtcOffer {
    sdp: Arc<Mutex<SdpState>>,
    cmds: mpsc::UnboundedSender<Cmd>,
    local: SocketAddr,
}

impl WebRtcOffer {
    /// The offer (the same text for every browser of one fork until one answers).
    pub fn offer(&self) -> Result<String, MediaError> {
        let mut st = self.sdp.lock().unwrap_or_else(|e| e.into_inner());
        let law = st.prefs.codecs.first().copied().unwrap_or(Law::Ulaw);
        let session = webrtc_session(&mut st, &self.cmds, self.local, law)?;
        let mut s = lock(&session);
        s.offer()
    }
}

/// The body as text when it is a WebRTC (DTLS-SRTP) description.
fn webrtc_text(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body).ok().filter(|t| is_webrtc_sdp(t))
}

impl Leg {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        call_id: Arc<str>,
        local_rtp: SocketAddr,
        sdp_ip: IpAddr,
        cmds: mpsc::UnboundedSender<Cmd>,
        fwd: mpsc::Sender<Forward>,
        events: mpsc::Receiver<LegEvent>,
        prefs: MediaPrefs,
        rt: Arc<Inner>,
        task: JoinHandle<LegStats>,
    ) -> Self {
        Leg {
            call_id,
            local_rtp,
            sdp_ip,
            cmds,
            fwd,
            events,
            sdp: Arc::new(Mutex::new(SdpState {
                prefs,
                negotiated: None,
                offered: false,
                webrtc: None,
            })),
            next_play: AtomicU64::new(1),
            recording: Arc::new(AtomicBool::new(false)),
            rt,
            task: Some(task),
        }
    }

    /// The call this leg belongs to (for logs).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Our RTP address (RTCP is the next port).
    pub fn local_rtp(&self) -> SocketAddr {
        self.local_rtp
    }

    /// What was negotiated last, if anything.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.state().negotiated
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SdpState> {
        // A poisoned lock only means another thread panicked mid-update of plain data.
        self.sdp.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, c: Cmd) {
        let _ = self.cmds.send(c);
    }

    fn set_negotiated(&self, st: &mut SdpState, neg: Negotiated) {
        let moved = st.negotiated.is_none_or(|old| old.remote != neg.remote);
        st.negotiated = Some(neg);
        self.send(Cmd::Media { neg, moved });
    }

    /// SDES-SRTP policy for this leg's next answer or offer: `Required` refuses a plain
    /// offer ([`MediaError::is_not_acceptable`]) and makes our offers `RTP/SAVP`.
    pub fn set_srtp(&self, policy: madoguchi_media::sdp::SrtpPolicy) {
        self.state().prefs.srtp = policy;
    }

    /// Answer an incoming INVITE's offer; returns our SDP answer. Media starts
    /// now (the pacer's grid is anchored here). [`MediaError::is_not_acceptable`]
    /// => answer 488.
    pub fn answer(&self, offer_sdp: &[u8]) -> Result<String, MediaError> {
        if let Some(text) = webrtc_text(offer_sdp) {
            return self.answer_webrtc(text);
        }
        let offer = parse_sdp(offer_sdp)?;
        let mut st = self.state();
        let (answer, neg) = sdp::answer(&offer, self.sdp_ip, self.local_rtp.port(), &st.prefs)?;
        self.set_negotiated(&mut st, neg);
        Ok(answer.to_string())
    }

    /// Our offer, for a call we originate (transfer to staff / call center).
    pub fn offer(&self) -> String {
        let mut st = self.state();
        st.offered = true;
        sdp::offer(self.sdp_ip, self.local_rtp.port(), &st.prefs).to_string()
    }

    /// Whether this leg talks to a browser (WebRTC) rather than plain RTP.
    pub fn is_webrtc(&self) -> bool {
        self.state().negotiated.is_some() && self.state().webrtc.is_some()
    }

    fn answer_webrtc(&self, offer: &str) -> Result<String, MediaError> {
        let mut st = self.state();
        let law = WebRtc::pick_law(offer, &st.prefs.codecs)?;
        let session = webrtc_session(&mut st, &self.cmds, self.webrtc_local(), law)?;
        let (answer, neg) = lock(&session).accept_offer(offer)?;
        self.set_negotiated(&mut st, neg);
        Ok(answer)
    }

    fn webrtc_local(&self) -> SocketAddr {
        SocketAddr::new(self.sdp_ip, self.local_rtp.port())
    }

    /// Our offer for a browser (a WebSocket device): DTLS-SRTP, ICE-lite, G.711 only. The
    /// same leg may offer plain RTP ([`Leg::offer`]) to other devices at the same time;
    /// [`Leg::accept_answer`] takes whichever answers.
    pub fn offer_webrtc(&self) -> Result<String, MediaError> {
        self.webrtc_offerer().offer()
    }

    /// A cheap handle that makes [`Leg::offer_webrtc`]'s offer later, only if a browser is
    /// among the devices to ring (the DTLS certificate is made then, not for every call).
    pub fn webrtc_offerer(&self) -> WebRtcOffer {
        WebRtcOffer {
            sdp: self.sdp.clone(),
            cmds: self.cmds.clone(),
            local: self.webrtc_local(),
        }
    }

    /// The answer to our [`Leg::offer`] (200 OK or reliable 18x); media starts now.
    pub fn accept_answer(&self, answer_sdp: &[u8]) -> Result<(), MediaError> {
        if let Some(text) = webrtc_text(answer_sdp) {
            let mut st = self.state();
            let session = st.webrtc.clone().ok_or(MediaError::NoOfferOutstanding)?;
            let neg = lock(&session).accept_answer(text)?;
            st.offered = false;
            self.set_negotiated(&mut st, neg);
            return Ok(());
        }
        let answer = parse_sdp(answer_sdp)?;
        let mut st = self.state();
        if !st.offered {
            return Err(MediaError::NoOfferOutstanding);
        }
        let neg = sdp::accept_answer(&answer, &st.prefs)?;
        st.offered = false;
        self.set_negotiated(&mut st, neg);
        Ok(())
    }

    /// A re-INVITE's offer (hold: `sendonly`/`inactive`/`c=0.0.0.0`; resume;
    /// new address or codec). Returns our answer with the resulting direction;
    /// we stop sending while the peer does not want media and resume on our
    /// own 20 ms grid. A new address re-arms symmetric-RTP latching.
    pub fn update_remote(&self, offer_sdp: &[u8]) -> Result<String, MediaError> {
        if let Some(text) = webrtc_text(offer_sdp) {
            return self.answer_webrtc(text);
        }
        let offer = parse_sdp(offer_sdp)?;
        let mut st = self.state();
        let mut prefs = st.prefs.clone();
        prefs.session_version = prefs.session_version.wrapping_add(1);
        let (answer, neg) = sdp::answer(&offer, self.sdp_ip, self.local_rtp.port(), &prefs)?;
        if st.negotiated != Some(neg) {
            // RFC 3264 §8: the version changes only when the session does.
            st.prefs = prefs;
            self.set_negotiated(&mut st, neg);
            return Ok(answer.to_string());
        }
        let (answer, _) = sdp::answer(&offer, self.sdp_ip, self.local_rtp.port(), &st.prefs)?;
        Ok(answer.to_string())
    }

    fn play_id(&self) -> PlayId {
        PlayId(self.next_play.fetch_add(1, Ordering::Relaxed))
    }

    /// Queue prompts (played back to back after what is queued). With
    /// `barge_in` a key press stops them. One [`LegEvent::PlayFinished`],
    /// `PlayInterrupted` or `PlayStopped` per call. [`Prompt`] clones are
    /// cheap (shared samples). While bridged, prompts wait until un-bridged.
    pub fn play(&self, prompts: Vec<Prompt>, barge_in: bool) -> PlayId {
        let id = self.play_id();
        self.send(Cmd::Play {
            id,
            prompts,
            barge_in,
            looped: false,
            replace: false,
        });
        id
    }

    /// Replace whatever plays with `prompt` looped until [`Leg::stop_playback`]
    /// (hold / queue music). Key presses do not stop it.
    pub fn music_on_hold(&self, prompt: Prompt) -> PlayId {
        let id = self.play_id();
        self.send(Cmd::Play {
            id,
            prompts: vec![prompt],
            barge_in: false,
            looped: true,
            replace: true,
        });
        id
    }

    /// Stop and clear all playback (each request reports `PlayStopped`); the idle fill continues.
    pub fn stop_playback(&self) {
        self.send(Cmd::StopPlayback);
    }

    /// A SIP INFO body (`application/dtmf-relay` or `application/dtmf`): the
    /// digit joins the leg's digit stream (de-duplicated against RFC 4733 and
    /// in-band). Returns the digit; an error means "answer 415/400".
    pub fn dtmf_from_info(&self, body: &str, content_type: &str) -> Result<char, MediaError> {
        let d = parse_info(content_type, body)?;
        self.send(Cmd::InfoDigit {
            digit: d.digit,
            at: Instant::now(),
        });
        Ok(d.digit)
    }

    /// The leg's events. Read them: a full queue drops events (counted).
    pub fn events(&mut self) -> &mut mpsc::Receiver<LegEvent> {
        &mut self.events
    }

    /// Current statistics from the leg's task.
    pub async fn stats(&self) -> Result<LegStats, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Stats(tx));
        rx.await
            .map_err(|_| MediaError::LegClosed(self.call_id.to_string()))
    }

    /// Record this leg as a stereo WAV `file_name.wav` in the recordings
    /// directory: left = what the peer sends us (the caller), right = what
    /// we send to it (prompts and music while alone, the bridged party
    /// while bridged), both placed by time from now on. One recording per leg at a time.
    pub async fn record(&self, file_name: &str) -> Result<Recording, MediaError> {
        if self
            .recording
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(MediaError::AlreadyRecording(self.call_id.to_string()));
        }
        let dir = self.rt.recordings.clone();
        let cfg = self.rt.recording_cfg.clone();
        let name = file_name.to_owned();
        let created = tokio::task::spawn_blocking(move || {
            madoguchi_media::recording::RecordingWriter::create(&dir, &name, cfg)
        })
        .await;
        let writer = match created {
            Ok(Ok(w)) => w,
            Ok(Err(e)) => {
                self.recording.store(false, Ordering::Release);
                return Err(e.into());
            }
            Err(_) => {
                self.recording.store(false, Ordering::Release);
                return Err(MediaError::LegClosed(self.call_id.to_string()));
            }
        };
        let id = self.rt.next_id();
        let (done_tx, done_rx) = oneshot::channel();
        let start = RecStart {
            id,
            writer,
            start: Instant::now(),
            done: done_tx,
        };
        if let Err(mpsc::error::SendError(Cmd::RecordStart(s))) =
            self.cmds.send(Cmd::RecordStart(Box::new(start)))
        {
            // The task is gone: finish the empty file so it is not left as .part.
            let s = *s;
            let _ = tokio::task::spawn_blocking(move || s.writer.finish()).await;
            self.recording.store(false, Ordering::Release);
            return Err(MediaError::LegClosed(self.call_id.to_string()));
        }
        Ok(Recording::new(
            id,
            format!("{file_name}.wav"),
            self.cmds.clone(),
            done_rx,
            self.recording.clone(),
        ))
    }

    /// Stop the task and wait for it; returns the final statistics.
    pub async fn close(mut self) -> LegStats {
        self.send(Cmd::Close);
        match self.task.take() {
            Some(t) => t.await.unwrap_or_default(),
            None => LegStats::default(),
        }
    }
}

impl Drop for Leg {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.send(Cmd::Close);
        }
    }
}
