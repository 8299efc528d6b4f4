//! Message framing on stream transports (TCP/TLS): RFC 3261 §18.3 makes Content-Length
//! mandatory there, and §7.5 / RFC 5626 §4.4.1 allow CRLF keepalives between messages.

use super::head::{keepalive_len, split_head};
use super::scalar::parse_content_length;
use super::{Limits, ParseError};
use crate::message::HeaderName;

/// Finds the first unit to consume from the front of a stream buffer.
///
/// * `Ok(None)`: incomplete, read more.
/// * `Ok(Some(n))` with `keepalive_len(buf) > 0`: `buf[..n]` is a run of CR/LF
///   keepalives; discard it (answer a double CRLF "ping" with a CRLF "pong", RFC 5626).
/// * `Ok(Some(n))` otherwise: `buf[..n]` is one complete message (head + body); pass it
///   to [`super::parse_datagram`].
/// * `Err(_)`: the stream cannot be framed (no or bad Content-Length, oversized head or
///   body, garbage head); the connection must be closed, since nothing after this point
///   can be delimited.
pub fn frame_stream(buf: &[u8], limits: &Limits) -> Result<Option<usize>, ParseError> {
    let k = keepalive_len(buf);
    if k > 0 {
        return Ok(Some(k));
    }
    let Some(head_len) = find_head_end(buf, limits.max_message_bytes) else {
        if buf.len() > limits.max_message_bytes {
            return Err(ParseError::TooLarge("message head"));
        }
        return Ok(None);
    };
    let head = split_head(&buf[..head_len], limits, false)?;
    let mut len = None;
    for (name, value) in &head.fields {
        if HeaderName::new(name).is(HeaderName::CONTENT_LENGTH) {
            if len.is_some() {
                return Err(ParseError::ContentLength("more than one Content-Length"));
            }
            len = Some(parse_content_length(value)?);
        }
    }
    let len = len.ok_or(ParseError::MissingHeader(HeaderName::CONTENT_LENGTH))?;
    if len > limits.max_body_bytes {
        return Err(ParseError::BodyTooLarge);
    }
    let total = head_len + len;
    if total > limits.max_message_bytes {
        return Err(ParseError::TooLarge("message"));
    }
    Ok((buf.len() >= total).then_some(total))
}

/// Offset just past the empty line ending the head (`LF [CR] LF`), searching at most
/// `max` octets.
fn find_head_end(buf: &[u8], max: usize) -> Option<usize> {
    let b = &buf[..buf.len().min(max)];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' {
            match b.get(i + 1) {
                Some(b'\n') => return Some(i + 2),
                Some(b'\r') if b.get(i + 2) == Some(&b'\n') => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 4\r\n\r\nbody";

    #[test]
    fn frames_by_content_length() {
        let l = Limits::default();
        assert_eq!(frame_stream(MSG, &l), Ok(Some(MSG.len())));
        for cut in 0..MSG.len() {
            assert_eq!(frame_stream(&MSG[..cut], &l), Ok(None), "cut at {cut}");
        }
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(frame_stream(&two, &l), Ok(Some(MSG.len())));
    }

    #[test]
    fn keepalives_are_reported_first() {
        let mut b = b"\r\n\r\n".to_vec();
        b.extend_from_slice(MSG);
        let l = Limits::default();
        assert_eq!(frame_stream(&b, &l), Ok(Some(4)));
        assert_eq!(keepalive_len(&b), 4);
        assert_eq!(frame_stream(&b[4..], &l), Ok(Some(MSG.len())));
    }

    #[test]
    fn bare_lf_heads() {
        let m = b"OPTIONS sip:a@b SIP/2.0\nContent-Length: 0\n\nNEXT";
        assert_eq!(frame_stream(m, &Limits::default()), Ok(Some(m.len() - 4)));
    }

    #[test]
    fn content_length_is_mandatory_and_bounded() {
        let l = Limits::default();
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(
            frame_stream(m, &l),
            Err(ParseError::MissingHeader("Content-Length"))
        );
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n";
        assert_eq!(frame_stream(m, &l), Err(ParseError::BodyTooLarge));
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n";
        assert!(frame_stream(m, &l).is_err());
        let small = Limits {
            max_message_bytes: 64,
            ..l
        };
        assert!(frame_stream(&[b'A'; 100], &small).is_err());
        assert_eq!(frame_stream(&[b'A'; 60], &small), Ok(None));
    }
}
