//! Where a user's call to an outside number goes: on-net, a trunk, or nowhere (refused),
//! decided from the number, the caller, the Japan time of day and the rules. Pure.

use crate::config::{parse_hours, OnNetRoute, OutboundRule, TrunkConfig};
use crate::number::{Dialled, NumberError, NumberKind, PhoneNumber, Presentation};

/// The decision for one dialled number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// On the city network: send to this URI (never through the carrier).
    OnNet { uri: String, number: PhoneNumber },
    /// Through trunk `trunk`: the number as the carrier wants it, what to present.
    Trunk {
        trunk: String,
        number: PhoneNumber,
        /// The number to present (None: the trunk has no caller ID configured).
        caller_id: Option<PhoneNumber>,
        presentation: Presentation,
    },
    /// Refused with this status and reason phrase (logged by the caller).
    Refused { status: u16, reason: String },
}

/// Everything routing needs.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub trunks: Vec<TrunkConfig>,
    pub rules: Vec<OutboundRule>,
    pub onnet: Vec<OnNetRoute>,
}

impl Plan {
    /// Whether outside numbers can be dialled at all (some trunk or on-net route exists).
    pub fn is_active(&self) -> bool {
        !self.trunks.is_empty() || !self.onnet.is_empty()
    }

    /// Routes `dialled` for local user `user` at `minute` (minutes since midnight, Japan
    /// time). A malformed number is an error: refuse it before any trunk sees it.
    pub fn route(&self, dialled: &str, user: &str, minute: u32) -> Result<Outbound, NumberError> {
        let Dialled {
            number,
            presentation,
        } = Dialled::parse(dialled)?;
        let national = number.national();
        let kind = number.kind();
        if kind != NumberKind::Emergency {
            if let Some(r) = self
                .onnet
                .iter()
                .filter(|r| national.starts_with(&r.prefix))
                .max_by_key(|r| r.prefix.len())
            {
                return Ok(Outbound::OnNet {
                    uri: r.destination.replace("{number}", &national),
                    number,
                });
            }
        }
        let rule = self.rules.iter().find(|r| {
            (r.prefixes.is_empty() || r.prefixes.iter().any(|p| national.starts_with(p.as_str())))
                && (r.users.is_empty() || r.users.iter().any(|u| u == user))
                && in_hours(&r.hours, minute)
        });
        if kind != NumberKind::Emergency {
            if let Some(r) = rule.filter(|r| r.deny) {
                return Ok(refused(format!(
                    "Forbidden (outbound rule {:?} refuses {national})",
                    r.name
                )));
            }
            let needs_allow = matches!(
                kind,
                NumberKind::International | NumberKind::Premium | NumberKind::Special
            );
            if needs_allow && !rule.is_some_and(|r| r.allow.contains(&kind)) {
                return Ok(refused(format!(
                    "Forbidden ({} calls not allowed)",
                    kind.as_str()
                )));
            }
        }
        // Emergency calls take the rule's trunk if it names one that exists (a deny rule
        // is ignored), else the first trunk.
        let named = rule
            .and_then(|r| r.trunk.as_deref())
            .and_then(|n| self.trunks.iter().find(|t| t.name == n));
        let Some(trunk) = named.or_else(|| self.trunks.first()) else {
            return Ok(Outbound::Refused {
                status: 503,
                reason: "Service Unavailable (no trunk to the carrier)".into(),
            });
        };
        let caller_id = rule
            .and_then(|r| r.caller_id.as_deref())
            .and_then(|c| PhoneNumber::parse(c).ok())
            .or_else(|| trunk.caller_id_number().ok().flatten());
        Ok(Outbound::Trunk {
            trunk: trunk.name.clone(),
            number,
            caller_id,
            presentation,
        })
    }
}

fn refused(reason: String) -> Outbound {
    Outbound::Refused {
        status: 403,
        reason,
    }
}

/// Whether `minute` lies in `hours` (empty = always; a range past midnight wraps).
fn in_hours(hours: &str, minute: u32) -> bool {
    if hours.trim().is_empty() {
        return true;
    }
    match parse_hours(hours) {
        Ok((a, b)) if a <= b => (a..b).contains(&minute),
        Ok((a, b)) => minute >= a || minute < b,
        Err(_) => false,
    }
}

/// Minutes since midnight in Japan (UTC+9, no daylight saving) for a Unix time.
pub fn japan_minute(unix_secs: u64) -> u32 {
    (((unix_secs + 9 * 3600) % 86_400) / 60) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::NumberKind;

    fn plan(rules: &str) -> Plan {
        #[derive(serde::Deserialize)]
        struct F {
            trunk: Vec<TrunkConfig>,
            #[serde(default)]
            outbound: Vec<OutboundRule>,
            #[serde(default)]
            onnet: Vec<OnNetRoute>,
        }
        let f: F = toml::from_str(&format!(
            r#"
[[trunk]]
name = "carrier"
proxy = "127.0.0.1:5080"
username = "0462000000"
password = "x"
dids = ["0462000000"]
caller_id = "0462000000"
[[trunk]]
name = "backup"
proxy = "127.0.0.1:5081"
register = false
caller_id = "0462009999"
{rules}"#
        ))
        .unwrap();
        Plan {
            trunks: f.trunk,
            rules: f.outbound,
            onnet: f.onnet,
        }
    }

    fn trunk_of(o: &Outbound) -> (&str, String, Option<String>, Presentation) {
        match o {
            Outbound::Trunk {
                trunk,
                number,
                caller_id,
                presentation,
            } => (
                trunk.as_str(),
                number.national(),
                caller_id.as_ref().map(|c| c.national()),
                *presentation,
            ),
            other => panic!("not a trunk route: {other:?}"),
        }
    }

    #[test]
    fn no_rules_national_mobile_emergency_through_the_first_trunk() {
        let p = plan("");
        for n in [
            "0312345678",
            "09012345678",
            "+819012345678",
            "110",
            "119",
            "0120123456",
            "05012345678",
        ] {
            let o = p.route(n, "1001", 600).unwrap();
            let (t, _, cid, pres) = trunk_of(&o);
            assert_eq!(t, "carrier", "{n}");
            assert_eq!(cid.as_deref(), Some("0462000000"));
            assert_eq!(pres, Presentation::Default);
        }
        let o = p.route("18409012345678", "1001", 600).unwrap();
        let (_, n, _, pres) = trunk_of(&o);
        assert_eq!((n.as_str(), pres), ("09012345678", Presentation::Withhold));
        for (n, kind) in [
            ("0101212555010", "international"),
            ("+14155550100", "international"),
            ("0990123456", "premium"),
            ("171", "special"),
        ] {
            match p.route(n, "1001", 600).unwrap() {
                Outbound::Refused { status, reason } => {
                    assert_eq!(status, 403);
                    assert!(reason.contains(kind), "{reason}");
                }
                o => panic!("{n} should be refused, got {o:?}"),
            }
        }
        assert!(p.route("090123", "1001", 600).is_err());
    }

    #[test]
    fn rules_by_prefix_user_and_time_never_block_emergency() {
        let p = plan(
            r#"
[[outbound]]
name = "no-mobiles-at-night"
prefixes = ["070", "080", "090"]
hours = "22:00-07:00"
deny = true
[[outbound]]
name = "block-all-for-1009"
users = ["1009"]
deny = true
[[outbound]]
name = "overseas-desk"
users = ["1002"]
trunk = "backup"
allow = ["international"]
caller_id = "0462001111"
"#,
        );
        assert!(matches!(
            p.route("09012345678", "1001", 23 * 60).unwrap(),
            Outbound::Refused { status: 403, .. }
        ));
        assert_eq!(
            trunk_of(&p.route("09012345678", "1001", 12 * 60).unwrap()).0,
            "carrier"
        );
        // Emergency ignores deny rules.
        for n in ["110", "118", "119", "184110"] {
            assert_eq!(
                trunk_of(&p.route(n, "1009", 23 * 60).unwrap()).0,
                "carrier",
                "{n}"
            );
        }
        assert!(matches!(
            p.route("0312345678", "1009", 600).unwrap(),
            Outbound::Refused { .. }
        ));
        let o = p.route("+14155550100", "1002", 600).unwrap();
        let (t, n, cid, _) = trunk_of(&o);
        assert_eq!(
            (t, n.as_str(), cid.as_deref()),
            ("backup", "01014155550100", Some("0462001111"))
        );
        assert!(matches!(
            p.route("+14155550100", "1001", 600).unwrap(),
            Outbound::Refused { .. }
        ));
        let _ = NumberKind::Fixed;
    }

    #[test]
    fn onnet_numbers_never_reach_the_carrier() {
        let p = plan(
            r#"
[[onnet]]
prefix = "046200"
destination = "sip:{number}@127.0.0.1:5099"
[[onnet]]
prefix = "0462001"
destination = "sip:{number}@127.0.0.1:5098"
"#,
        );
        assert_eq!(
            p.route("+81462005555", "1001", 0).unwrap(),
            Outbound::OnNet {
                uri: "sip:0462005555@127.0.0.1:5099".into(),
                number: PhoneNumber::parse("0462005555").unwrap()
            }
        );
        match p.route("0462001234", "1001", 0).unwrap() {
            Outbound::OnNet { uri, .. } => assert_eq!(uri, "sip:0462001234@127.0.0.1:5098"),
            o => panic!("{o:?}"),
        }
        assert_eq!(
            trunk_of(&p.route("0462100000", "1001", 0).unwrap()).0,
            "carrier"
        );
        assert_eq!(japan_minute(0), 9 * 60);
        assert_eq!(japan_minute(15 * 3600), 0);
    }

    #[test]
    fn no_trunk_is_503() {
        let p = Plan::default();
        assert!(!p.is_active());
        assert!(matches!(
            p.route("110", "1001", 0).unwrap(),
            Outbound::Refused { status: 503, .. }
        ));
    }
}
