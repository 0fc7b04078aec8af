use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A load balancer at 10.0.0.1 and an internal tier in 10.1.0.0/16.
fn proxies() -> TrustedProxies {
    TrustedProxies::new(&["10.0.0.1", "10.1.0.0/16"])
}

fn xff(peer: &str, header: &str) -> IpAddr {
    proxies().client(ip(peer), None, Some(header))
}

fn fwd(peer: &str, header: &str) -> IpAddr {
    proxies().client(ip(peer), Some(header), None)
}

#[test]
fn without_trusted_proxies_the_peer_is_the_client() {
    let none = TrustedProxies::new::<&str>(&[]);
    assert!(none.is_empty());
    let peer = ip("10.0.0.1");
    assert_eq!(none.client(peer, None, Some("203.0.113.9")), peer);
    assert_eq!(none.client(peer, Some("for=203.0.113.9"), None), peer);
}

#[test]
fn headers_from_an_untrusted_peer_are_ignored() {
    assert_eq!(xff("198.51.100.7", "203.0.113.9"), ip("198.51.100.7"));
    assert_eq!(fwd("198.51.100.7", "for=203.0.113.9"), ip("198.51.100.7"));
}

#[test]
fn a_trusted_peer_without_headers_is_the_client() {
    assert_eq!(proxies().client(ip("10.0.0.1"), None, None), ip("10.0.0.1"));
}

#[test]
fn the_right_most_untrusted_address_is_the_client() {
    assert_eq!(xff("10.0.0.1", "203.0.113.9"), ip("203.0.113.9"));
    // The client claims to be 192.0.2.1; nginx appended the address it saw.
    assert_eq!(xff("10.0.0.1", "192.0.2.1, 203.0.113.9"), ip("203.0.113.9"));
    // Two trusted hops: both skipped.
    assert_eq!(
        xff("10.0.0.1", "192.0.2.1, 203.0.113.9, 10.1.4.2"),
        ip("203.0.113.9")
    );
    // Every hop trusted: the left-most one.
    assert_eq!(xff("10.0.0.1", "10.1.0.5, 10.1.4.2"), ip("10.1.0.5"));
}

#[test]
fn garbage_left_of_the_client_is_never_read() {
    assert_eq!(xff("10.0.0.1", "not-an-ip, 203.0.113.9"), ip("203.0.113.9"));
    assert_eq!(
        fwd("10.0.0.1", "for=unknown, for=203.0.113.9"),
        ip("203.0.113.9")
    );
}

#[test]
fn malformed_headers_fall_back_to_the_peer() {
    for header in [
        "",
        " ",
        "not-an-ip",
        "203.0.113.9, nonsense",
        "203.0.113.9,",
        "1.2.3",
    ] {
        assert_eq!(xff("10.0.0.1", header), ip("10.0.0.1"), "{header:?}");
    }
    for header in [
        "",
        "for=unknown",
        "for=_hidden",
        "by=10.0.0.1",
        "for",
        "for=\"[::1\"",
    ] {
        assert_eq!(fwd("10.0.0.1", header), ip("10.0.0.1"), "{header:?}");
    }
}

#[test]
fn ports_brackets_and_ipv6_are_understood() {
    assert_eq!(xff("10.0.0.1", "203.0.113.9:5123"), ip("203.0.113.9"));
    assert_eq!(xff("10.0.0.1", "[2001:db8::7]:443"), ip("2001:db8::7"));
    assert_eq!(xff("10.0.0.1", "2001:db8::7"), ip("2001:db8::7"));
    assert_eq!(xff("10.0.0.1", "[2001:db8::7]"), ip("2001:db8::7"));
    assert_eq!(
        fwd("10.0.0.1", r#"for="[2001:db8:cafe::17]:4711""#),
        ip("2001:db8:cafe::17")
    );
}

#[test]
fn rfc_7239_elements_and_parameters() {
    // The RFC's own examples; case-insensitive names, quoted values, other parameters.
    assert_eq!(
        fwd("10.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43"),
        ip("192.0.2.60")
    );
    assert_eq!(
        fwd("10.0.0.1", r#"For="192.0.2.43:47011", for=198.51.100.17"#),
        ip("198.51.100.17")
    );
    assert_eq!(
        fwd("10.0.0.1", "for=198.51.100.17;by=10.0.0.1, for=10.1.0.9"),
        ip("198.51.100.17")
    );
    // A comma inside a quoted value does not split the element.
    assert_eq!(
        fwd("10.0.0.1", r#"for=192.0.2.1;x="a,b", for=198.51.100.17"#),
        ip("198.51.100.17")
    );
}

#[test]
fn forwarded_is_preferred_to_x_forwarded_for() {
    let client = proxies().client(
        ip("10.0.0.1"),
        Some("for=198.51.100.17"),
        Some("203.0.113.9"),
    );
    assert_eq!(client, ip("198.51.100.17"));
}

#[test]
fn ipv4_mapped_peers_and_hops_match_ipv4_proxies() {
    assert_eq!(xff("::ffff:10.0.0.1", "203.0.113.9"), ip("203.0.113.9"));
    assert_eq!(xff("10.0.0.1", "::ffff:203.0.113.9"), ip("203.0.113.9"));
}

#[test]
fn configured_entries_parse_as_addresses_or_blocks() {
    assert!(parse_net("10.0.0.1").is_some());
    assert!(parse_net("10.0.0.0/8").is_some());
    assert!(parse_net(" ::1 ").is_some());
    assert!(parse_net("2001:db8::/32").is_some());
    assert!(parse_net("10.0.0.0/33").is_none());
    assert!(parse_net("proxy.example").is_none());
}

proptest! {
    /// Whatever a client writes, an untrusted peer is its own address, and a trusted peer's
    /// answer is the peer or an address of the chain that is not trusted (or all were).
    #[test]
    fn the_answer_is_the_peer_or_a_hop(
        header in "[0-9a-f.:, \\[\\]]{0,40}",
        trusted_peer in any::<bool>(),
    ) {
        let peer = if trusted_peer { ip("10.0.0.1") } else { ip("198.51.100.7") };
        let client = xff(&peer.to_string(), &header);
        if !trusted_peer {
            prop_assert_eq!(client, peer);
        } else if client != peer {
            let hops: Vec<IpAddr> = header.split(',').filter_map(parse_node).collect();
            prop_assert!(hops.contains(&client), "{} not in {:?}", client, hops);
        }
    }
}
