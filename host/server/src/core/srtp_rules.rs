//! Which calls must use SDES-SRTP: a server-wide policy and the users whose calls must be
//! encrypted (`[media] srtp`, `srtp_required_users`).

use std::collections::HashSet;

use madoguchi_media::sdp::SrtpPolicy;
use madoguchi_sip::message::{HeaderAccess, Request};

#[derive(Debug, Clone, Default)]
pub struct SrtpRules {
    pub default: SrtpPolicy,
    pub required_users: HashSet<String>,
}

impl SrtpRules {
    pub fn new(default: SrtpPolicy, users: &[String]) -> SrtpRules {
        SrtpRules {
            default,
            required_users: users.iter().cloned().collect(),
        }
    }

    /// The policy for one user's phones.
    pub fn for_user(&self, user: &str) -> SrtpPolicy {
        if self.required_users.contains(user) {
            SrtpPolicy::Required
        } else {
            self.default
        }
    }

    /// The policy for a caller's offer: required when the server requires it, or when the
    /// caller (From) or the user called (Request-URI) is an SRTP-required user.
    pub fn for_caller(&self, req: &Request) -> SrtpPolicy {
        let from = req
            .from_hdr()
            .ok()
            .and_then(|f| f.uri.user_unescaped())
            .unwrap_or_default();
        let to = req.uri.user_unescaped().unwrap_or_default();
        if self.for_user(&from) == SrtpPolicy::Required
            || self.for_user(&to) == SrtpPolicy::Required
        {
            SrtpPolicy::Required
        } else {
            self.default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_or_callee_required_makes_the_call_required() {
        let rules = SrtpRules::new(SrtpPolicy::Optional, &["1003".to_string()]);
        let req = |from: &str, to: &str| {
            madoguchi_sip::parse::parse_datagram(format!(
                "INVITE sip:{to}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:{from}@127.0.0.1>;tag=a\r\nTo: <sip:{to}@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            ).as_bytes(), &madoguchi_sip::parse::Limits::default())
            .unwrap()
        };
        let get = |m: madoguchi_sip::message::SipMessage| match m {
            madoguchi_sip::message::SipMessage::Request(r) => r,
            _ => panic!("request"),
        };
        assert_eq!(
            rules.for_caller(&get(req("1001", "1002"))),
            SrtpPolicy::Optional
        );
        assert_eq!(
            rules.for_caller(&get(req("1001", "1003"))),
            SrtpPolicy::Required
        );
        assert_eq!(
            rules.for_caller(&get(req("1003", "*97"))),
            SrtpPolicy::Required
        );
        assert_eq!(rules.for_user("1003"), SrtpPolicy::Required);
    }
}
