//! (manual written below)
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
