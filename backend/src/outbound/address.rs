//! Which addresses Beckon's outbound HTTP (webhooks, custom-domain checks) may connect to: only
//! globally reachable unicast, never anything that reaches loopback, a private or link-local
//! network, or this host itself, in any of the forms that embed an IPv4 address in IPv6.
//!
//! The ranges are IANA's special-purpose registries (RFC 6890 and successors). std's `is_global`
//! is still unstable and no maintained crate covers the embedded-IPv4 forms, so the table is here,
//! with a unit test per range.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// IPv4 ranges that are not globally reachable, or are not unicast, with the reason given in a
/// refusal.
const V4_REFUSED: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "\"this network\""),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "shared (carrier-grade NAT)",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    // 240.0.0.0/4 is reserved and holds the limited broadcast address 255.255.255.255.
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved or broadcast"),
];

/// IPv6 ranges inside global unicast (2000::/3) that are still not to be reached. Everything
/// outside 2000::/3 (loopback, unspecified, unique-local, link-local, site-local, multicast,
/// discard-only, local-use NAT64 64:ff9b:1::/48, SRv6 SIDs) is refused before this table.
const V6_REFUSED: &[(Ipv6Addr, u8, &str)] = &[
    // Teredo (2001::/32), benchmarking, ORCHID and the rest of the IETF protocol block: Teredo
    // embeds an obfuscated IPv4 client, and none of it is a webhook receiver.
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "documentation",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "documentation",
    ),
];

fn v4_in(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn v6_in(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IPv4 address an IPv6 address carries, in the forms that route to it: IPv4-mapped
/// (`::ffff:0:0/96`), IPv4-compatible (`::/96`, deprecated but still parsed by stacks),
/// IPv4-translated (`::ffff:0:0:0/96`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`, the address
/// in bits 16-48).
pub fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(v6);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let s = v6.segments();
    if v6_in(v6, Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96)
        || v6_in(v6, Ipv6Addr::UNSPECIFIED, 96)
        || v6_in(v6, Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96)
        || v6_in(v6, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96)
    {
        return Some(low32);
    }
    if s[0] == 0x2002 {
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

/// Why `ip` must not be connected to, or `None` when it is a globally reachable unicast address.
/// Does not know the host's own addresses: see [`is_own_address`].
pub fn refusal(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => V4_REFUSED
            .iter()
            .find(|(net, len, _)| v4_in(v4, *net, *len))
            .map(|(_, _, why)| (*why).to_owned()),
        IpAddr::V6(v6) => {
            // :: and ::1 lie inside ::/96 but are IPv6's own unspecified and loopback addresses.
            if v6.is_unspecified() {
                return Some("unspecified".into());
            }
            if v6.is_loopback() {
                return Some("loopback".into());
            }
            if let Some(v4) = embedded_ipv4(v6) {
                return refusal(IpAddr::V4(v4)).map(|why| format!("embeds {v4}, {why}"));
            }
            if !v6_in(v6, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
                return Some(
                    "not global unicast (unique-local, link-local, multicast or reserved)".into(),
                );
            }
            V6_REFUSED
                .iter()
                .find(|(net, len, _)| v6_in(v6, *net, *len))
                .map(|(_, _, why)| (*why).to_owned())
        }
    }
}

/// Whether an address is somewhere outbound HTTP must not go by default (see [`refusal`]).
pub fn is_internal(ip: IpAddr) -> bool {
    refusal(ip).is_some()
}

/// Whether `ip` (or the IPv4 address it embeds) is assigned to one of this host's interfaces: a
/// public address of the host itself reaches its own services, which a public check would pass.
/// Asked of the kernel by binding a socket to it, which succeeds only for local addresses.
pub fn is_own_address(ip: IpAddr) -> bool {
    let candidates = match ip {
        IpAddr::V6(v6) => [Some(ip), embedded_ipv4(v6).map(IpAddr::V4)],
        IpAddr::V4(_) => [Some(ip), None],
    };
    candidates
        .into_iter()
        .flatten()
        .any(|ip| std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok())
}

/// Why outbound HTTP must not connect to `ip` (an internal range or the host itself), or `None`.
pub fn refusal_for_connect(ip: IpAddr) -> Option<String> {
    refusal(ip).or_else(|| is_own_address(ip).then(|| "an address of this host".to_owned()))
}

/// The first of a name's resolved addresses that outbound HTTP must not reach, with the reason.
/// Every address is judged, not only the one connected to: a name that also resolves inside is
/// refused outright rather than by luck of the order.
pub fn first_refused(addrs: &[SocketAddr]) -> Option<(IpAddr, String)> {
    addrs
        .iter()
        .find_map(|addr| refusal_for_connect(addr.ip()).map(|why| (addr.ip(), why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        is_internal(s.parse().expect("address"))
    }

    #[test]
    fn internal_ipv4_ranges_are_refused() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_ipv4_is_allowed_right_at_the_edges_of_refused_ranges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(!refused(ip), "{ip} is public");
        }
    }

    #[test]
    fn internal_ipv6_ranges_are_refused() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
            "64:ff9b:1::1",
            "2001::1",
            "2001:2::1",
            "2001:1ff::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "4000::1",
            "1::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn ipv6_forms_that_embed_ipv4_are_judged_by_the_ipv4_address() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "::ffff:0:127.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::192.168.0.1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101:1::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
        for ip in [
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(!refused(ip), "{ip} reaches a public IPv4 address");
        }
        assert_eq!(
            embedded_ipv4("2002:c0a8:0101::1".parse().unwrap()),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        assert_eq!(embedded_ipv4("2606:4700::1111".parse().unwrap()), None);
    }

    #[test]
    fn public_ipv6_is_allowed() {
        for ip in [
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2003::1",
        ] {
            assert!(!refused(ip), "{ip} is public");
        }
    }

    #[test]
    fn refusals_say_why() {
        let why = refusal("2002:7f00:1::".parse().unwrap()).unwrap();
        assert!(
            why.contains("127.0.0.1") && why.contains("loopback"),
            "{why}"
        );
    }

    #[test]
    fn the_hosts_own_addresses_are_recognised() {
        assert!(is_own_address("127.0.0.1".parse().unwrap()));
        assert!(is_own_address("::ffff:127.0.0.1".parse().unwrap()));
        // A documentation address is assigned to no machine.
        assert!(!is_own_address("192.0.2.77".parse().unwrap()));
        // Every address of this host that a route to the outside would use: the socket's own
        // source address after connecting a UDP socket (no packet is sent).
        let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        if probe.connect("192.0.2.1:9").is_ok() {
            let local = probe.local_addr().unwrap().ip();
            assert!(is_own_address(local), "{local}");
            assert!(refusal_for_connect(local).is_some(), "{local}");
        }
    }
}
