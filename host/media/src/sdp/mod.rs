//! SDP (RFC 4566) for one audio stream and RFC 3264 offer/answer.
//!
//! Parsing is lenient (unknown lines and attributes are ignored, LF-only
//! endings accepted) because real phones, SBCs and test tools differ;
//! generation is strict and minimal.

pub mod crypto;
mod negotiate;
mod parse;

pub use crypto::{CryptoSuite, SrtpParams, SrtpPolicy};
pub use negotiate::{accept_answer, answer, offer, MediaPrefs, Negotiated};
pub use parse::{Attribute, Connection, Direction, MediaDescription, Origin, Sdp, SdpError};

#[cfg(test)]
mod tests;
