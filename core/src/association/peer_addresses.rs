//! The peer's addresses as listed in its INIT or INIT ACK.
//!
//! mcsctp is single-homed: it sends only to the address the peer's packets
//! come from. The list is kept for one rule only, RFC 9260 §5.2.2: "Before
//! responding, the endpoint MUST check to see if the unexpected INIT adds
//! new addresses to the association. If new addresses are added to the
//! association, the endpoint MUST respond with an ABORT".

use std::net::IpAddr;

use crate::param::{Ipv4Address, Ipv6Address, Params, WireParam};

/// At most this many addresses are remembered (and carried in a cookie).
pub(crate) const MAX_PEER_ADDRESSES: usize = 16;

/// A bounded set of the peer's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PeerAddresses(Vec<IpAddr>);

impl PeerAddresses {
    /// The source address plus every address parameter of an INIT or INIT
    /// ACK. "If there are no address parameters present in the received
    /// INIT [...] the endpoint MUST take the source IP address from which
    /// the chunk arrives and record it" (RFC 9260 §5.1.2).
    pub(crate) fn from_params(params: &Params, source: IpAddr) -> Self {
        let mut s = Self(vec![source]);
        for a in listed(params) {
            s.insert(a);
        }
        s
    }

    fn insert(&mut self, a: IpAddr) {
        if !self.0.contains(&a) && self.0.len() < MAX_PEER_ADDRESSES {
            self.0.push(a);
        }
    }

    /// The addresses an INIT from `source` listing `params` names that this
    /// set does not hold, each once: what RFC 9260 §5.2.2 has the ABORT
    /// list ("The error SHOULD list the addresses that were added to the
    /// restarting association").
    pub(crate) fn added(&self, params: &Params, source: IpAddr) -> Vec<IpAddr> {
        let mut v = Vec::new();
        for a in core::iter::once(source).chain(listed(params)) {
            if !self.0.contains(&a) && !v.contains(&a) {
                v.push(a);
            }
        }
        v
    }

    /// Serialises for a state cookie: count, then family byte + 16 bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + self.0.len() * 17);
        v.push(self.0.len() as u8);
        for a in &self.0 {
            match a {
                IpAddr::V4(x) => {
                    v.push(4);
                    v.extend_from_slice(&x.octets());
                    v.extend_from_slice(&[0; 12]);
                }
                IpAddr::V6(x) => {
                    v.push(6);
                    v.extend_from_slice(&x.octets());
                }
            }
        }
        v
    }

    /// Parses [`encode`](Self::encode)'s output; `None` if malformed.
    pub(crate) fn decode(b: &[u8]) -> Option<(Self, usize)> {
        let n = usize::from(*b.first()?);
        if n > MAX_PEER_ADDRESSES {
            return None;
        }
        let len = 1 + n * 17;
        let body = b.get(1..len)?;
        let mut v = Vec::with_capacity(n);
        for e in body.chunks_exact(17) {
            let mut o = [0u8; 16];
            o.copy_from_slice(&e[1..]);
            v.push(match e[0] {
                4 => IpAddr::from([o[0], o[1], o[2], o[3]]),
                6 => IpAddr::from(o),
                _ => return None,
            });
        }
        Some((Self(v), len))
    }
}

fn listed(params: &Params) -> impl Iterator<Item = IpAddr> + '_ {
    params.iter().filter_map(|p| {
        if p.typ == Ipv4Address::TYPE {
            Ipv4Address::parse_value(p.value)
                .ok()
                .map(|a| IpAddr::V4(a.0))
        } else if p.typ == Ipv6Address::TYPE {
            Ipv6Address::parse_value(p.value)
                .ok()
                .map(|a| IpAddr::V6(a.0))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn detects_new_addresses_and_round_trips() {
        let src = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let p = Params::builder()
            .with(&Ipv4Address(Ipv4Addr::new(10, 0, 0, 1)))
            .with(&Ipv6Address(Ipv6Addr::LOCALHOST))
            .build();
        let s = PeerAddresses::from_params(&p, src);
        assert_eq!(s.0.len(), 3);
        assert!(s.added(&p, src).is_empty());
        assert!(s.added(&Params::empty(), src).is_empty());
        let more = Params::builder()
            .with(&Ipv4Address(Ipv4Addr::new(10, 0, 0, 1)))
            .with(&Ipv4Address(Ipv4Addr::new(10, 0, 0, 2)))
            .with(&Ipv4Address(Ipv4Addr::new(10, 0, 0, 2)))
            .build();
        assert_eq!(
            s.added(&more, src),
            vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))]
        );
        let elsewhere = IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(s.added(&Params::empty(), elsewhere), vec![elsewhere]);
        let enc = s.encode();
        assert_eq!(PeerAddresses::decode(&enc), Some((s, enc.len())));
        assert_eq!(PeerAddresses::decode(&[3, 4]), None);
    }
}
