//! A registration binding: one contact of one address-of-record.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One contact registered for an AOR (RFC 3261 §10), as stored by `madoguchi-store` (JSON).
///
/// Both where the device says it is (`contact`) and where the REGISTER actually came from
/// (`source`) are kept: behind NAT the contact is often a private address, and the B2BUA then
/// sends to the source instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// The contact URI as printed (URI parameters and `?headers` kept, e.g. RFC 4475 cparam02,
    /// regescrt).
    pub contact: String,
    /// When the binding lapses (Unix seconds).
    pub expires_at_unix: u64,
    /// Call-ID and CSeq of the REGISTER that last wrote it (RFC 3261 §10.3 step 7 ordering).
    pub call_id: String,
    pub cseq: u32,
    /// The contact's `q` preference (0.0–1.0), if given.
    pub q: Option<f32>,
    /// RFC 5626 `+sip.instance`, without its quotes (e.g. `<urn:uuid:…>`).
    pub instance: Option<String>,
    /// RFC 5626 `reg-id` (only kept together with `instance`).
    pub reg_id: Option<u32>,
    /// Where the REGISTER came from: `transport:ip:port`, e.g. `udp:192.0.2.4:5062`.
    pub source: String,
    pub user_agent: Option<String>,
    /// Other Contact header parameters (feature tags such as `audio`, `+sip.ice`, unknown
    /// ones as in RFC 4475 cparam01), printed back in the 200 listing.
    #[serde(default)]
    pub params: Vec<(String, Option<String>)>,
    /// When this binding was last written (Unix seconds); the eviction order.
    #[serde(default)]
    pub updated_unix: u64,
}

impl Binding {
    /// Seconds left at `now_unix` (0 once lapsed).
    pub fn remaining(&self, now_unix: u64) -> u64 {
        self.expires_at_unix.saturating_sub(now_unix)
    }

    /// The Contact value listed in a 200 response: `<uri>;expires=N[;q][;params][;instance]`.
    pub fn contact_value(&self, now_unix: u64) -> String {
        let mut v = format!("<{}>", self.contact);
        for (n, val) in &self.params {
            match val {
                Some(val) => {
                    let _ = write!(v, ";{n}={val}");
                }
                None => {
                    let _ = write!(v, ";{n}");
                }
            }
        }
        if let Some(q) = self.q {
            let _ = write!(v, ";q={}", format_q(q));
        }
        if let Some(i) = &self.instance {
            let _ = write!(
                v,
                ";+sip.instance=\"{}\"",
                i.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
        if let Some(r) = self.reg_id {
            let _ = write!(v, ";reg-id={r}");
        }
        let _ = write!(v, ";expires={}", self.remaining(now_unix));
        v
    }
}

/// Prints a qvalue with at most three decimals and no trailing zeros (`0.5`, `1`, `0.125`).
fn format_q(q: f32) -> String {
    let thousandths = (q.clamp(0.0, 1.0) * 1000.0).round() as u32;
    if thousandths == 1000 {
        return "1".into();
    }
    let s = format!("0.{thousandths:03}");
    let s = s.trim_end_matches('0');
    if s == "0." {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_print_compactly() {
        assert_eq!(format_q(1.0), "1");
        assert_eq!(format_q(0.5), "0.5");
        assert_eq!(format_q(0.125), "0.125");
        assert_eq!(format_q(0.0), "0");
        assert_eq!(format_q(0.07), "0.07");
    }

    #[test]
    fn serde_round_trip_and_old_records_load() {
        let b = Binding {
            contact: "sip:2001@192.0.2.4:5062;transport=tcp".into(),
            expires_at_unix: 100,
            call_id: "c".into(),
            cseq: 3,
            q: Some(0.5),
            instance: Some("<urn:uuid:1>".into()),
            reg_id: Some(1),
            source: "tcp:192.0.2.4:40000".into(),
            user_agent: Some("Phone/1.0".into()),
            params: vec![("audio".into(), None)],
            updated_unix: 40,
        };
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Binding>(&json).unwrap(), b);
        // A record written before `params`/`updated_unix` existed still loads.
        let old = r#"{"contact":"sip:a@b","expires_at_unix":5,"call_id":"c","cseq":1,"q":null,
            "instance":null,"reg_id":null,"source":"udp:1.2.3.4:5","user_agent":null}"#;
        let o: Binding = serde_json::from_str(old).unwrap();
        assert!(o.params.is_empty());
        assert_eq!(o.contact_value(0), "<sip:a@b>;expires=5");
        assert_eq!(
            b.contact_value(60),
            "<sip:2001@192.0.2.4:5062;transport=tcp>;audio;q=0.5;+sip.instance=\"<urn:uuid:1>\";reg-id=1;expires=40"
        );
    }
}
