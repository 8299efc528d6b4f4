//! (manual written below)
#![forbid(unsafe_code)]

pub mod dtmf;
pub mod g711;
pub mod rtp;
pub mod sdp;
