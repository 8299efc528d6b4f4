//! DTMF from all three places a phone can put it, merged into one stream:
//!
//! * [`event`]: RFC 4733 telephone-event RTP packets (receive and send),
//! * [`info`]: SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`),
//! * [`inband`]: tones in the audio, found with a Goertzel detector,
//! * [`stream`]: [`DigitStream`] de-duplicates across those sources.

pub mod event;
pub mod inband;
pub mod info;
pub mod stream;

pub use event::{encode_digit, EventPacket, EventReceiver, ReceivedEvent, TelephoneEvent};
pub use inband::{generate_tone, InbandDetector, InbandEvent};
pub use info::{format_dtmf_relay, parse_info, InfoDigit};
pub use stream::{DigitEvent, DigitSource, DigitStream};

/// Errors for DTMF payloads and bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// A telephone-event payload shorter than 4 bytes.
    #[error("telephone-event payload too short: {0} bytes")]
    ShortPayload(usize),
    /// A character that is not one of 0-9 * # A-D.
    #[error("not a DTMF digit: {0:?}")]
    NotADigit(String),
    /// A SIP INFO content type we do not understand.
    #[error("unsupported INFO content type {0:?}")]
    UnsupportedContentType(String),
    /// The INFO body has no `Signal=` line.
    #[error("INFO body has no Signal")]
    NoSignal,
}

/// The 16 DTMF keys in RFC 4733 event-code order (0-9, *, #, A-D).
pub const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// RFC 4733 event code -> key (codes 0..=15; 16 is flash and not a digit).
pub fn event_to_digit(code: u8) -> Option<char> {
    DIGITS.get(code as usize).copied()
}

/// Key -> RFC 4733 event code (lower-case a-d accepted).
pub fn digit_to_event(digit: char) -> Option<u8> {
    let d = digit.to_ascii_uppercase();
    DIGITS.iter().position(|&c| c == d).map(|p| p as u8)
}

#[cfg(test)]
mod inband_tests;
