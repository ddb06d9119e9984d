//! Server-side request forgery guard: a webhook must not reach the deployment's own
//! network (loopback, private ranges, link-local including the cloud metadata address)
//! unless the operator allow-listed it.

use std::net::IpAddr;

/// One allow-list entry: a host name (matched case-insensitively against the URL's host)
/// or an address range in CIDR notation (a bare address is a /32 or /128).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    Name(String),
    Range { network: IpAddr, prefix: u8 },
}

impl HostRule {
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        let Ok(network) = address.parse::<IpAddr>() else {
            if prefix.is_some() || entry.is_empty() {
                return Err(format!("{entry:?} is neither a host name nor a CIDR range"));
            }
            return Ok(Self::Name(entry.to_ascii_lowercase()));
        };
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("{entry:?}: bad prefix length"))?,
            None => width,
        };
        Ok(Self::Range { network, prefix })
    }

    fn allows(&self, host: &str, address: IpAddr) -> bool {
        match self {
            Self::Name(name) => name.eq_ignore_ascii_case(host.trim_matches(['[', ']'])),
            Self::Range { network, prefix } => in_range(address, *network, *prefix),
        }
    }
}

fn in_range(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Whether `address` belongs to a network a webhook must not reach by default: loopback,
/// private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 with the
/// metadata address 169.254.169.254, fe80::/10), CGNAT (100.64/10), unspecified,
/// broadcast, multicast, documentation and reserved ranges. IPv4 inside IPv6 is judged as
/// the IPv4 address it carries.
pub fn is_forbidden(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The operator's allow-list.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    pub allow: Vec<HostRule>,
}

impl AddressPolicy {
    /// Whether a webhook to `host` may connect to `address`.
    pub fn permits(&self, host: &str, address: IpAddr) -> bool {
        !is_forbidden(address) || self.allow.iter().any(|rule| rule.allows(host, address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn internal_addresses_are_forbidden() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_forbidden(ip(internal)), "{internal}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert!(!is_forbidden(ip(public)), "{public}");
        }
    }

    #[test]
    fn the_allow_list_names_hosts_or_ranges() {
        let policy = AddressPolicy {
            allow: ["127.0.0.1", "10.0.0.0/8", "Receiver.internal"]
                .into_iter()
                .map(|entry| HostRule::parse(entry).expect("rule"))
                .collect(),
        };
        assert!(policy.permits("127.0.0.1", ip("127.0.0.1")));
        assert!(!policy.permits("localhost", ip("127.0.0.2")));
        assert!(policy.permits("x", ip("10.200.0.1")));
        assert!(policy.permits("receiver.internal", ip("192.168.0.9")));
        assert!(!policy.permits("other.internal", ip("192.168.0.9")));
        assert!(!policy.permits("x", ip("169.254.169.254")));
        assert!(policy.permits("example.com", ip("93.184.215.14")));
        assert!(HostRule::parse("10.0.0.0/33").is_err());
        assert!(HostRule::parse("name/8").is_err());
    }
}
