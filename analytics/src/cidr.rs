//! IP networks in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or a bare address), as
//! AN0906's `admin_source_networks` lists them. IPv4-mapped IPv6 addresses
//! (`::ffff:10.1.2.3`) are compared as the IPv4 address they carry.

use std::net::IpAddr;

/// One network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address (a single host).
    pub(crate) fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("expected an IP network such as \"10.0.0.0/8\", found {text:?}")
        })?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    format!("expected a prefix length of 0 to {max}, found {p:?}")
                })?,
            };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An address as a log wrote it: a plain IP, `[v6]:port`, `v4:port`, or a v6 address
/// with a zone (`fe80::1%vmk0`).
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = t.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Some((host, _port)) = t.rsplit_once(':') {
        if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
            return Some(IpAddr::V4(ip));
        }
    }
    t.split('%').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        parse_ip(s).expect("an address")
    }

    #[test]
    fn networks_contain_their_addresses() {
        let n = Cidr::parse("10.20.0.0/16").expect("valid");
        assert!(n.contains(ip("10.20.255.1")));
        assert!(!n.contains(ip("10.21.0.1")));
        assert!(n.contains(ip("::ffff:10.20.1.1")), "IPv4-mapped");
        let all = Cidr::parse("0.0.0.0/0").expect("valid");
        assert!(all.contains(ip("192.0.2.1")));
        assert!(!all.contains(ip("2001:db8::1")));
        let host = Cidr::parse("192.0.2.7").expect("valid");
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("2001:db8::/32").expect("valid");
        assert!(v6.contains(ip("[2001:db8:1::5]:22")));
        assert!(v6.contains(ip("2001:db8::1%vmk0")));
        assert!(!v6.contains(ip("2001:db9::1")));
    }

    #[test]
    fn bad_networks_say_why() {
        assert!(Cidr::parse("10.0.0.0/33")
            .expect_err("too long")
            .contains("0 to 32"));
        assert!(Cidr::parse("mgmt-net")
            .expect_err("a name")
            .contains("IP network"));
        assert_eq!(parse_ip("10.0.0.1:52000"), Some(ip("10.0.0.1")));
        assert_eq!(parse_ip("jump.example.com"), None);
    }
}
