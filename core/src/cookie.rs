//! The State Cookie (RFC 9260 §5.1.3): everything needed to create the
//! association when the COOKIE ECHO returns, signed with HMAC-SHA-256 under
//! a rotating endpoint secret, so that the endpoint keeps no state at all
//! between INIT and COOKIE ECHO ("INIT floods cost memory nothing").
//!
//! RFC 9260 §5.1.3: "The State Cookie [...] MUST contain a MAC [...] The
//! inclusion of a MAC [...] is to prevent any tampering". §5.1.5 step 1-3:
//! the receiver recomputes the MAC, compares, and checks the lifetime.
//!
//! Layout (all integers big-endian), 96 bytes plus the extension's bytes:
//!
//! ```text
//!  0: version (1) | secret id | capability flags | reserved
//!  4: creation time, ms since the endpoint's epoch (u64)
//! 12: lifetime, ms (u32)
//! 16: local tag | 20: peer tag | 24: local initial TSN | 28: peer initial TSN
//! 32: peer a_rwnd | 36: outbound streams (u16) | 38: inbound streams (u16)
//! 40: local tie-tag | 44: peer tie-tag
//! 48: local port (u16) | 50: peer port (u16)
//! 52: peer address: family (4 or 6) + 3 reserved, 16 address bytes
//! 72: extension data length (u16) | 74: reserved (u16)
//! 76: extension data (variable)
//!  ...: HMAC-SHA-256 over everything before it (32 bytes)
//! ```

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::chunk::{be16, be32};
use crate::serial::{Tsn, VerificationTag};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const FIXED_LEN: usize = 76;
const MAC_LEN: usize = 32;

/// Capabilities negotiated in the INIT / INIT ACK exchange and carried in
/// the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Capabilities {
    /// Both sides support I-DATA (RFC 8260).
    pub interleaving: bool,
    /// Both sides support PR-SCTP (RFC 3758).
    pub partial_reliability: bool,
}

impl Capabilities {
    fn to_bits(self) -> u8 {
        u8::from(self.interleaving) | (u8::from(self.partial_reliability) << 1)
    }

    fn from_bits(b: u8) -> Self {
        Self {
            interleaving: b & 1 != 0,
            partial_reliability: b & 2 != 0,
        }
    }
}

/// What the cookie carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieContents {
    /// When the cookie was made, ms since the endpoint's epoch.
    pub created_ms: u64,
    /// Valid.Cookie.Life (plus any Cookie Preservative increment), ms.
    pub lifetime_ms: u32,
    /// Our verification tag (the INIT ACK's Initiate Tag).
    pub local_tag: VerificationTag,
    /// The peer's verification tag (its INIT's Initiate Tag).
    pub peer_tag: VerificationTag,
    /// Our initial TSN.
    pub local_initial_tsn: Tsn,
    /// The peer's initial TSN.
    pub peer_initial_tsn: Tsn,
    /// The peer's a_rwnd from its INIT.
    pub peer_a_rwnd: u32,
    /// Negotiated outbound streams: min(our OS, peer's MIS).
    pub outbound_streams: u16,
    /// Negotiated inbound streams: min(our MIS, peer's OS).
    pub inbound_streams: u16,
    /// Local-Tie-Tag (RFC 9260 §5.2.2), 0 when no association existed.
    pub local_tie_tag: u32,
    /// Peer's-Tie-Tag (RFC 9260 §5.2.2), 0 when no association existed.
    pub peer_tie_tag: u32,
    /// Our SCTP port.
    pub local_port: u16,
    /// The peer's SCTP port.
    pub peer_port: u16,
    /// The address the INIT came from.
    pub peer_addr: IpAddr,
    /// Negotiated capabilities.
    pub capabilities: Capabilities,
    /// Opaque state of a protocol extension (the multicast group join).
    pub extension: Bytes,
}

/// Why a cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum CookieError {
    /// Too short, wrong version, or inconsistent lengths.
    Malformed,
    /// Signed with a secret that is no longer kept.
    UnknownSecret,
    /// The MAC does not verify (tampered or forged).
    BadMac,
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed state cookie"),
            Self::UnknownSecret => f.write_str("state cookie signed with an expired secret"),
            Self::BadMac => f.write_str("state cookie MAC does not verify"),
        }
    }
}

impl std::error::Error for CookieError {}

/// The endpoint's cookie secrets: the current one and the one before it, so
/// a cookie made just before a rotation still verifies (RFC 9260 §5.1.3:
/// "the secret key SHOULD be changed reasonably frequently").
#[derive(Clone)]
pub(crate) struct CookieSecrets {
    current: (u8, [u8; 32]),
    previous: Option<(u8, [u8; 32])>,
}

impl fmt::Debug for CookieSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieSecrets { .. }")
    }
}

impl CookieSecrets {
    pub(crate) fn new(secret: [u8; 32]) -> Self {
        Self {
            current: (0, secret),
            previous: None,
        }
    }

    /// Makes `secret` current and keeps the old one for verification only.
    pub(crate) fn rotate(&mut self, secret: [u8; 32]) {
        let id = self.current.0.wrapping_add(1);
        self.previous = Some(self.current);
        self.current = (id, secret);
    }

    fn key(&self, id: u8) -> Option<&[u8; 32]> {
        if self.current.0 == id {
            return Some(&self.current.1);
        }
        match &self.previous {
            Some((pid, k)) if *pid == id => Some(k),
            _ => None,
        }
    }

    /// Serialises and signs a cookie.
    pub(crate) fn seal(&self, c: &CookieContents) -> Bytes {
        let ext_len = c.extension.len().min(usize::from(u16::MAX));
        let mut v = Vec::with_capacity(FIXED_LEN + ext_len + MAC_LEN);
        v.extend_from_slice(&[VERSION, self.current.0, c.capabilities.to_bits(), 0]);
        v.extend_from_slice(&c.created_ms.to_be_bytes());
        v.extend_from_slice(&c.lifetime_ms.to_be_bytes());
        for w in [
            c.local_tag.0,
            c.peer_tag.0,
            c.local_initial_tsn.0,
            c.peer_initial_tsn.0,
            c.peer_a_rwnd,
        ] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(&c.outbound_streams.to_be_bytes());
        v.extend_from_slice(&c.inbound_streams.to_be_bytes());
        v.extend_from_slice(&c.local_tie_tag.to_be_bytes());
        v.extend_from_slice(&c.peer_tie_tag.to_be_bytes());
        v.extend_from_slice(&c.local_port.to_be_bytes());
        v.extend_from_slice(&c.peer_port.to_be_bytes());
        match c.peer_addr {
            IpAddr::V4(a) => {
                v.extend_from_slice(&[4, 0, 0, 0]);
                v.extend_from_slice(&a.octets());
                v.extend_from_slice(&[0; 12]);
            }
            IpAddr::V6(a) => {
                v.extend_from_slice(&[6, 0, 0, 0]);
                v.extend_from_slice(&a.octets());
            }
        }
        v.extend_from_slice(&(ext_len as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        debug_assert_eq!(v.len(), FIXED_LEN);
        v.extend_from_slice(&c.extension[..ext_len]);
        let mac = Self::mac(&self.current.1, &v);
        v.extend_from_slice(&mac);
        v.into()
    }

    fn mac(key: &[u8; 32], data: &[u8]) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length; a 32-byte key cannot fail.
        let mut m = match HmacSha256::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC-SHA-256 takes keys of any length"),
        };
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// The MAC of a cookie this endpoint sealed (its last 32 bytes), or
    /// `None` if it is too short to be one.
    pub(crate) fn mac_of(cookie: &[u8]) -> Option<[u8; MAC_LEN]> {
        if cookie.len() < FIXED_LEN + MAC_LEN {
            return None;
        }
        cookie[cookie.len() - MAC_LEN..].try_into().ok()
    }

    /// Verifies and decodes a cookie. The MAC is checked before any field
    /// is trusted, in constant time.
    pub(crate) fn open(&self, cookie: &Bytes) -> Result<CookieContents, CookieError> {
        if cookie.len() < FIXED_LEN + MAC_LEN || cookie[0] != VERSION {
            return Err(CookieError::Malformed);
        }
        let key = self.key(cookie[1]).ok_or(CookieError::UnknownSecret)?;
        let (body, mac) = cookie.split_at(cookie.len() - MAC_LEN);
        let mut m = match HmacSha256::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC-SHA-256 takes keys of any length"),
        };
        m.update(body);
        m.verify_slice(mac).map_err(|_| CookieError::BadMac)?;
        let ext_len = usize::from(be16(body, 72));
        if body.len() != FIXED_LEN + ext_len {
            return Err(CookieError::Malformed);
        }
        let peer_addr = match body[52] {
            4 => IpAddr::V4(Ipv4Addr::new(body[56], body[57], body[58], body[59])),
            6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(&body[56..72]);
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => return Err(CookieError::Malformed),
        };
        Ok(CookieContents {
            created_ms: u64::from_be_bytes([
                body[4], body[5], body[6], body[7], body[8], body[9], body[10], body[11],
            ]),
            lifetime_ms: be32(body, 12),
            local_tag: VerificationTag(be32(body, 16)),
            peer_tag: VerificationTag(be32(body, 20)),
            local_initial_tsn: Tsn(be32(body, 24)),
            peer_initial_tsn: Tsn(be32(body, 28)),
            peer_a_rwnd: be32(body, 32),
            outbound_streams: be16(body, 36),
            inbound_streams: be16(body, 38),
            local_tie_tag: be32(body, 40),
            peer_tie_tag: be32(body, 44),
            local_port: be16(body, 48),
            peer_port: be16(body, 50),
            peer_addr,
            capabilities: Capabilities::from_bits(body[2]),
            extension: cookie.slice(FIXED_LEN..FIXED_LEN + ext_len),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CookieContents {
        CookieContents {
            created_ms: 123_456_789,
            lifetime_ms: 60_000,
            local_tag: VerificationTag(1),
            peer_tag: VerificationTag(2),
            local_initial_tsn: Tsn(3),
            peer_initial_tsn: Tsn(4),
            peer_a_rwnd: 5,
            outbound_streams: 6,
            inbound_streams: 7,
            local_tie_tag: 8,
            peer_tie_tag: 9,
            local_port: 10,
            peer_port: 11,
            peer_addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            capabilities: Capabilities {
                interleaving: true,
                partial_reliability: false,
            },
            extension: Bytes::from_static(b"group"),
        }
    }

    #[test]
    fn sealed_cookie_opens_to_the_same_contents() {
        let s = CookieSecrets::new([1; 32]);
        let c = sample();
        let sealed = s.seal(&c);
        assert_eq!(s.open(&sealed), Ok(c.clone()));
        let mut v4 = c;
        v4.peer_addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        v4.extension = Bytes::new();
        assert_eq!(s.open(&s.seal(&v4)), Ok(v4));
    }

    #[test]
    fn any_flipped_bit_is_refused() {
        let s = CookieSecrets::new([1; 32]);
        let sealed = s.seal(&sample()).to_vec();
        for i in 2..sealed.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = sealed.clone();
                t[i] ^= bit;
                assert_eq!(
                    s.open(&Bytes::from(t)),
                    Err(CookieError::BadMac),
                    "byte {i}"
                );
            }
        }
        assert_eq!(
            s.open(&Bytes::from_static(&[1; 20])),
            Err(CookieError::Malformed)
        );
    }

    #[test]
    fn rotation_keeps_one_previous_secret() {
        let mut s = CookieSecrets::new([1; 32]);
        let old = s.seal(&sample());
        s.rotate([2; 32]);
        assert!(s.open(&old).is_ok(), "previous secret still verifies");
        s.rotate([3; 32]);
        assert_eq!(s.open(&old), Err(CookieError::UnknownSecret));
        // A forger who does not know the key gets nowhere.
        let forger = CookieSecrets::new([9; 32]);
        let mut forged = forger.seal(&sample()).to_vec();
        forged[1] = 2; // claim the current secret id
        assert_eq!(s.open(&Bytes::from(forged)), Err(CookieError::BadMac));
    }
}
