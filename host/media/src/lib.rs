//! # madoguchi-media: the sans-IO media core
//!
//! Pure logic and file formats for the call media path. Nothing in here
//! opens a socket, sleeps or reads the clock: the tokio driver (in the
//! server crate) owns sockets and timers, passes every datagram and the
//! current time in, and sends/sleeps on what comes out. That keeps every
//! module testable with synthetic time and packets.
//!
//! ## Time convention
//!
//! *Wall-clock inputs* are `std::time::Instant` (`now`, arrival times,
//! deadlines); tokio's `Instant::into_std()` converts. Tests build them as
//! `t0 + Duration`. *Media positions* (where audio sits inside a call or a
//! recording) are `u64` milliseconds or sample counts from the recording
//! start, since they are offsets, not clock readings. No module reads the
//! clock, except that [`recording::RecordingWriter`] owns a thread and does
//! disk IO by design.
//!
//! ## Modules, in the order a call uses them
//!
//! | module | job |
//! |---|---|
//! | [`sdp`] | parse the INVITE's SDP, [`sdp::answer`] it (or [`sdp::offer`]); `NoCommonCodec`/`NoAudio` => SIP 488 |
//! | [`rtp`] | packet codec; [`rtp::RtpSender`] for our stream; [`rtp::RtpReceiver`] per leg (loss, jitter, SSRC changes, [`rtp::LegStats`]); RTCP SR/RR |
//! | [`g711`] | μ-law/A-law encode, decode, table transcoding |
//! | [`pacing`] | [`pacing::Pacer`]: packet n at `start + n*20ms`, bounded catch-up |
//! | [`prompt`] / [`wav`] / [`resample`] | prompts decoded once from WAV; [`prompt::PromptPlayer`] yields one 160-sample frame per tick, barge-in, MOH |
//! | [`jitter`] | reorders the caller's packets for recording and DTMF detection, marks gaps |
//! | [`dtmf`] | RFC 4733 receive/send, SIP INFO bodies, Goertzel in-band detector, [`dtmf::DigitStream`] de-duplication |
//! | [`collect`] | [`collect::DigitCollector`]: max digits, terminator, first/inter-digit timeouts |
//! | [`recording`] | [`recording::StereoMixer`] (caller left, prompts/staff right, time-aligned) and the crash-safe [`recording::RecordingWriter`]; [`recording::repair_unfinished`] at start-up |
//! | [`bridge`] | [`bridge::Relay`] per direction between two legs: restamp, transcode, DTMF across |
//!
//! ## How the driver uses it (one IVR leg)
//!
//! On every received datagram: [`rtp::RtpReceiver::on_packet`]; audio goes
//! to the [`jitter::JitterBuffer`], telephone-events to the
//! [`dtmf::EventReceiver`]. Frames out of the jitter buffer are decoded,
//! fed to the [`dtmf::InbandDetector`] and to the mixer's left channel.
//! Digits from all sources go through the [`dtmf::DigitStream`], then to
//! the [`prompt::PromptPlayer`] (barge-in) and the [`collect::DigitCollector`].
//! On every pacer tick: one frame from the player, encode, send, and put it
//! on the mixer's right channel. About every 100 ms, move the mixer's output
//! (minus a latency margin) to the recording writer. Sleep until the
//! earliest of the pacer, jitter buffer, event receiver and collector
//! deadlines.
//!
//! ```
//! use madoguchi_media::{g711::Law, pacing::{Pacer, Tick}, prompt::*, rtp::*};
//! use std::time::{Duration, Instant};
//!
//! let t0 = Instant::now(); // the driver's clock reading at answer time
//! let mut pacer = Pacer::new(t0, Duration::from_millis(20), 3);
//! let mut sender = RtpSender::new(0);
//! let mut player = PromptPlayer::new(IdleFill::ComfortNoise(2));
//! player.enqueue(PlayRequest { id: 1, prompt: Prompt::from_pcm(vec![1000; 800]),
//!                              stop_on_digit: true, looped: false });
//! let (mut frame, mut payload, mut packet) = ([0i16; FRAME], Vec::new(), Vec::new());
//! let mut now = t0;
//! let mut sent = 0;
//! while sent < 10 {
//!     match pacer.poll(now) {
//!         Tick::Send { skipped, .. } => {
//!             sender.skip(160 * skipped as u32);
//!             player.skip_frames(skipped);
//!             player.next_frame(&mut frame);
//!             Law::Ulaw.encode_into(&frame, &mut payload);
//!             sender.audio(&payload, 160, &mut packet);
//!             // socket.send_to(&packet, negotiated.remote) in the real driver
//!             sent += 1;
//!         }
//!         Tick::Wait(until) => now = until, // tokio::time::sleep_until in the real driver
//!     }
//! }
//! assert_eq!(player.poll_event(), Some(PlayerEvent::Finished(1)));
//! ```
//!
//! ## Untrusted input
//!
//! Datagrams, SDP bodies, INFO bodies and WAV files are parsed without
//! panicking: garbage is dropped and counted ([`rtp::LegStats`],
//! [`jitter::JitterStats`], ...) or returned as a typed error.
#![forbid(unsafe_code)]

pub mod bridge;
pub mod collect;
pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod pacing;
pub mod prompt;
pub mod recording;
pub mod resample;
pub mod rtp;
pub mod sdp;
pub mod wav;
