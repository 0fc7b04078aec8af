//! The client behind trusted proxies: which address a request comes from when load balancers
//! stand in front of the node (`server.trusted-proxies`).
//!
//! Only a TCP peer that is a trusted proxy is believed about the client. Its `Forwarded`
//! header (RFC 7239, `for=`), else its `X-Forwarded-For`, lists the addresses the request
//! passed through, the nearest last. Walking from the right, every trusted proxy is skipped:
//! the first address that is not one is the client (when every address is a trusted proxy,
//! the left-most is). Addresses left of the client are the client's own claims and are never
//! read. An entry that is not an address (`unknown`, an obfuscated `_name`, garbage) where the
//! walk needs one makes the peer address the answer, as does a header with no entry.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// An IP address or CIDR block, as configuration lists them (`10.0.0.1`, `10.0.0.0/8`).
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// From configured entries; one that parses as neither address nor block is skipped
    /// (configuration refuses it at load).
    pub fn new<S: AsRef<str>>(entries: &[S]) -> TrustedProxies {
        TrustedProxies {
            nets: entries
                .iter()
                .filter_map(|s| parse_net(s.as_ref()))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request from `peer` carrying these headers (every line of
    /// each, in order, joined by commas): see the module's rules.
    pub fn client(
        &self,
        peer: IpAddr,
        forwarded: Option<&str>,
        x_forwarded_for: Option<&str>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let chain = match (forwarded, x_forwarded_for) {
            (Some(f), _) => forwarded_for(f),
            (None, Some(x)) => x.split(',').map(parse_node).collect(),
            (None, None) => return peer,
        };
        self.walk(peer, &chain)
    }

    /// From the right: the first address that is not a trusted proxy.
    fn walk(&self, peer: IpAddr, chain: &[Option<IpAddr>]) -> IpAddr {
        let mut client = peer;
        for hop in chain.iter().rev() {
            let Some(ip) = hop else {
                return peer;
            };
            client = *ip;
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The `for=` of every element of a `Forwarded` header; None for an element without one or
/// whose value is no address.
fn forwarded_for(header: &str) -> Vec<Option<IpAddr>> {
    split_outside_quotes(header, ',')
        .into_iter()
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            split_outside_quotes(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| parse_node(value.trim().trim_matches('"')))
        })
        .collect()
}

/// `s` split at every `sep` that is not inside a quoted string.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One hop: an address, maybe with a port (`192.0.2.1:443`, `[2001:db8::1]:443`), maybe in
/// brackets (`[2001:db8::1]`).
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let ip = s
        .parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            s.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
#[path = "forwarded_tests.rs"]
mod tests;
