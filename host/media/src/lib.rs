//! (manual written below)
#![forbid(unsafe_code)]

pub mod collect;
pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod pacing;
pub mod rtp;
pub mod sdp;
