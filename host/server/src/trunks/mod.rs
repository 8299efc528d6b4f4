//! The server's side of SIP trunking (R-PBX-4, R-PBX-5): the trunk set built from the
//! configuration and shared by the SIP core (which polls and feeds its sans-IO machines) and
//! the admin API (`/api/v1/trunks`, which reads and changes it). The logic itself is in
//! `madoguchi-trunk`.

pub mod api;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use anyhow::Result;
use madoguchi_trunk::{CallCenterConfig, TrunkSet};

use crate::config::Config;

/// The trunks as the SIP core and the API reach them.
#[derive(Clone)]
pub struct TrunkHandle {
    set: Arc<Mutex<TrunkSet>>,
    /// Wakes the SIP core after a change (new machines want to send at once).
    pub kick: Arc<tokio::sync::Notify>,
    /// Our UDP listener addresses (the local address towards a trunk is taken from them).
    locals: Arc<Vec<SocketAddr>>,
}

impl std::fmt::Debug for TrunkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkHandle").finish_non_exhaustive()
    }
}

impl TrunkHandle {
    /// The trunks of the configuration, their machines starting now.
    pub fn build(cfg: &Config, udp_locals: Vec<SocketAddr>) -> Result<TrunkHandle> {
        let handle = TrunkHandle {
            set: Arc::new(Mutex::new(TrunkSet::new(
                cfg.outbound.clone(),
                cfg.onnet.clone(),
                cfg.callcenter.clone().unwrap_or_default(),
            ))),
            kick: Arc::default(),
            locals: Arc::new(udp_locals),
        };
        let now = Instant::now();
        {
            let mut set = handle.lock();
            for t in &cfg.trunks {
                let proxy = t.proxy_addr()?;
                let local = handle.local_for(proxy).ok_or_else(|| {
                    anyhow::anyhow!(
                        "trunk {:?}: no UDP listener of the proxy's address family",
                        t.name
                    )
                })?;
                set.upsert(t.clone(), local, now)?;
                tracing::info!(trunk = %t.name, proxy = %proxy, register = t.registers(), "trunk configured");
            }
            set.start_callcenter(|d| handle.local_for(d), now);
        }
        Ok(handle)
    }

    /// Our address towards `dest`: the UDP listener of its family.
    pub fn local_for(&self, dest: SocketAddr) -> Option<SocketAddr> {
        self.locals
            .iter()
            .find(|a| a.is_ipv4() == dest.is_ipv4())
            .copied()
    }

    /// The set, locked (held briefly: no IO under it).
    pub fn lock(&self) -> MutexGuard<'_, TrunkSet> {
        self.set.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Cross checks of `[[trunk]]`, `[[outbound]]`, `[[onnet]]` and `[callcenter]`; the error
/// names the key (never a password).
pub fn check_config(cfg: &Config) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for t in &cfg.trunks {
        t.check().map_err(|e| e.to_string())?;
        if !names.insert(t.name.as_str()) {
            return Err(format!("trunk {:?} is configured twice", t.name));
        }
    }
    for (i, r) in cfg.outbound.iter().enumerate() {
        let at = format!("outbound[{i}]");
        if let Some(t) = &r.trunk {
            if !names.contains(t.as_str()) {
                return Err(format!("{at}.trunk: no trunk named {t:?}"));
            }
        }
        if !r.hours.trim().is_empty() {
            madoguchi_trunk::config::parse_hours(&r.hours)
                .map_err(|e| format!("{at}.hours: {e}"))?;
        }
        if let Some(p) = r
            .prefixes
            .iter()
            .find(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "{at}.prefixes: {p:?} is not a national-form prefix (digits)"
            ));
        }
        if let Some(c) = &r.caller_id {
            madoguchi_trunk::PhoneNumber::parse(c)
                .map_err(|e| format!("{at}.caller_id: {c:?}: {e}"))?;
        }
    }
    for (i, r) in cfg.onnet.iter().enumerate() {
        if r.prefix.is_empty() || !r.prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "onnet[{i}].prefix: {:?} is not a national-form prefix (digits)",
                r.prefix
            ));
        }
        let uri = r.destination.replace("{number}", "0");
        let ok = madoguchi_sip::parse::parse_uri(&uri)
            .ok()
            .is_some_and(|u| u.host.ip().is_some());
        if !ok {
            return Err(format!(
                "onnet[{i}].destination: {:?} is not a sip: URI with an IP address",
                r.destination
            ));
        }
    }
    if let Some(cc) = &cfg.callcenter {
        check_callcenter(cc, &names)?;
    }
    Ok(())
}

fn check_callcenter(
    cc: &CallCenterConfig,
    trunks: &std::collections::HashSet<&str>,
) -> Result<(), String> {
    for r in &cc.routes {
        if trunks.contains(r.as_str()) {
            if cc.number.is_empty() {
                return Err(format!(
                    "callcenter.number: needed for the trunk route {r:?}"
                ));
            }
            continue;
        }
        let ok = madoguchi_sip::parse::parse_uri(r)
            .ok()
            .is_some_and(|u| u.host.ip().is_some());
        if !ok {
            return Err(format!(
                "callcenter.routes: {r:?} is neither a trunk nor a sip: URI with an IP address"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn contract_file_loads_and_bad_trunks_are_named() {
        let text = r#"
[[trunk]]
name = "carrier"
proxy = "127.0.0.1:5080"     # where requests to the carrier go (host:port or a sip: URI)
username = "0462000000"
password = "never-printed"
register = true              # false: static peering from the proxy's address
dids = ["0462000000"]        # numbers it delivers
caller_id = "0462000000"     # what outbound calls present
"#;
        let cfg = Config::parse(text, "t.toml").unwrap();
        assert_eq!(cfg.trunks.len(), 1);
        let bad = text.replace("0462000000\"]", "04620\"]");
        let e = Config::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(e.contains("dids"), "{e}");
        assert!(!e.contains("never-printed"), "{e}");
        let twice = format!("{text}\n{text}");
        assert!(Config::parse(&twice, "t")
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let rule = format!("{text}\n[[outbound]]\ntrunk = \"nope\"\n");
        assert!(Config::parse(&rule, "t")
            .unwrap_err()
            .to_string()
            .contains("outbound[0].trunk"));
        let onnet = format!(
            "{text}\n[[onnet]]\nprefix = \"0462\"\ndestination = \"sip:{{number}}@city.example\"\n"
        );
        assert!(Config::parse(&onnet, "t")
            .unwrap_err()
            .to_string()
            .contains("onnet[0].destination"));
        let cc = format!("{text}\n[callcenter]\nroutes = [\"carrier\"]\n");
        assert!(Config::parse(&cc, "t")
            .unwrap_err()
            .to_string()
            .contains("callcenter.number"));
    }
}
