//! Per-listener source allow-lists (R-PBX-1: voice traffic stays in the closed network).

use std::net::IpAddr;

use ipnet::IpNet;

/// Which sources a listener accepts. An empty configured list means loopback only: a
/// missing allow-list must fail closed.
#[derive(Debug, Clone)]
pub struct Acl {
    nets: Vec<IpNet>,
}

impl Acl {
    pub fn new(nets: &[IpNet]) -> Acl {
        let nets = if nets.is_empty() {
            vec![
                "127.0.0.0/8".parse().expect("literal network"),
                "::1/128".parse().expect("literal network"),
            ]
        } else {
            nets.to_vec()
        };
        Acl { nets }
    }

    /// True when `ip` may talk to this listener. IPv4-mapped IPv6 sources are checked as IPv4.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_loopback_only() {
        let acl = Acl::new(&[]);
        assert!(acl.allows("127.0.0.1".parse().unwrap()));
        assert!(acl.allows("::1".parse().unwrap()));
        assert!(!acl.allows("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn configured_networks() {
        let acl = Acl::new(&["10.1.0.0/16".parse().unwrap()]);
        assert!(acl.allows("10.1.2.3".parse().unwrap()));
        assert!(acl.allows("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!acl.allows("10.2.0.1".parse().unwrap()));
        assert!(!acl.allows("127.0.0.1".parse().unwrap()));
    }
}
