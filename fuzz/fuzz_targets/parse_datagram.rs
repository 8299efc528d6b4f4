//! Any datagram: `parse_datagram` must not panic; an accepted message must print and parse
//! back to the same message; the stream framer must agree with the datagram parser on
//! where a message ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use madoguchi_sip::message::{HeaderName, SipMessage};
use madoguchi_sip::parse::{frame_stream, keepalive_len, parse_datagram, Limits};

fn without_content_length(m: &SipMessage) -> SipMessage {
    let mut m = m.clone();
    match &mut m {
        SipMessage::Request(r) => r.headers.remove(HeaderName::CONTENT_LENGTH),
        SipMessage::Response(r) => r.headers.remove(HeaderName::CONTENT_LENGTH),
    }
    m
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_message_bytes: 4096,
        max_headers: 32,
        max_body_bytes: 2048,
    };
    match parse_datagram(data, &limits) {
        Ok(msg) => {
            let printed = msg.to_bytes();
            let again = match parse_datagram(&printed, &Limits::default()) {
                Ok(m) => m,
                Err(e) => panic!(
                    "printed message does not parse: {:?}\n{}",
                    e.error,
                    String::from_utf8_lossy(&printed)
                ),
            };
            assert_eq!(without_content_length(&again), without_content_length(&msg));
            // Printed messages always carry Content-Length, so they frame on a stream.
            assert_eq!(
                frame_stream(&printed, &Limits::default()),
                Ok(Some(printed.len()))
            );
        }
        Err(rej) => {
            if let Some(reply) = rej.reply {
                let _ = reply.to_bytes();
            }
        }
    }
    // The framer never panics and never claims more than it was given.
    let k = keepalive_len(data);
    if let Ok(Some(n)) = frame_stream(&data[k..], &limits) {
        assert!(n <= data.len() - k);
    }
});
