//! Group authentication (draft-mcsctp-tsvwg-sctp-multicast-01 §"Group
//! Authentication"): the AUTH chunk (RFC 4895 §4.1) that leads every group
//! packet of an authenticated group, and the group MAC it carries.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type = 0x0F  |   Flags = 0   |          Length = 40          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Shared Key Id = Key Epoch   |    HMAC Identifier = 3        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                     HMAC (32 octets)                          \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! "The HMAC is computed as in Section 6.2 of \[RFC4895\], over the AUTH
//! chunk with its HMAC field set to zero followed by all chunks after it
//! in the packet, but keyed with the group key of the epoch named in the
//! Shared Key Identifier instead of an association shared key."
//!
//! Core does not implement AUTH (RFC 4895) yet; this module parses the
//! chunk only in the role the draft gives it on the group path.

use core::fmt;

use bytes::{BufMut, Bytes};
use hmac::{Hmac, Mac};
use mcsctp_core::chunk::{ChunkError, ChunkType, WireChunk};
use mcsctp_core::packet::{COMMON_HEADER_LEN, checksum};
use sha2::Sha256;

use crate::chunk::msync::GroupKey;
use crate::chunk::{be16, need};

/// HMAC Identifier of HMAC-SHA-256 in the RFC 4895 registry, the one
/// algorithm a member MUST support.
pub const HMAC_SHA256: u16 = 3;
/// Octets of an HMAC-SHA-256 value.
pub const HMAC_SHA256_LEN: usize = 32;
/// Length of the AUTH chunk of a group packet (header, key id, HMAC id,
/// 32-octet HMAC): the 40 octets every MDATA chunk leaves room for (draft
/// §"Multicast Payload Data").
pub const GROUP_AUTH_LEN: usize = 8 + HMAC_SHA256_LEN;

/// The AUTH chunk of a group packet.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GroupAuth {
    /// Shared Key Identifier: the epoch of the group key.
    pub key_epoch: u16,
    /// HMAC Identifier (RFC 4895 §3.3).
    pub hmac_id: u16,
    /// The HMAC (zero-copy).
    pub hmac: Bytes,
}

impl GroupAuth {
    /// An AUTH chunk for HMAC-SHA-256 with the HMAC field zero, to be
    /// filled in by [`sign_group_packet`] once the packet is complete.
    pub fn placeholder(key_epoch: u16) -> Self {
        Self {
            key_epoch,
            hmac_id: HMAC_SHA256,
            hmac: Bytes::from_static(&[0; HMAC_SHA256_LEN]),
        }
    }
}

impl WireChunk for GroupAuth {
    const TYPE: ChunkType = ChunkType::AUTH;

    fn parse_value(_flags: u8, value: Bytes) -> Result<Self, ChunkError> {
        need(Self::TYPE, &value, 4)?;
        Ok(Self {
            key_epoch: be16(&value, 0),
            hmac_id: be16(&value, 2),
            hmac: value.slice(4..),
        })
    }

    fn flags(&self) -> u8 {
        0
    }

    fn value_len(&self) -> usize {
        4 + self.hmac.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u16(self.key_epoch);
        out.put_u16(self.hmac_id);
        out.put_slice(&self.hmac);
    }
}

impl fmt::Debug for GroupAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupAuth")
            .field("key_epoch", &self.key_epoch)
            .field("hmac_id", &self.hmac_id)
            .field("hmac_len", &self.hmac.len())
            .finish()
    }
}

impl fmt::Display for GroupAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AUTH epoch={} hmac={} ({} octets)",
            self.key_epoch,
            self.hmac_id,
            self.hmac.len()
        )
    }
}

/// Why a group packet does not authenticate (draft §"Receiving Group
/// Packets", step 4: the member "silently discards the packet").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The packet does not begin with an AUTH chunk.
    NoAuthChunk,
    /// The AUTH chunk is not 40 octets long, or the packet ends inside it.
    BadLength,
    /// The HMAC Identifier is not HMAC-SHA-256.
    UnsupportedHmac(u16),
    /// No group key is held for the epoch.
    UnknownEpoch(u16),
    /// The HMAC does not match.
    BadHmac,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAuthChunk => write!(f, "group packet without a leading AUTH chunk"),
            Self::BadLength => write!(f, "AUTH chunk of a group packet is not 40 octets"),
            Self::UnsupportedHmac(id) => write!(f, "unsupported HMAC identifier {id}"),
            Self::UnknownEpoch(e) => write!(f, "no group key for epoch {e}"),
            Self::BadHmac => write!(f, "group MAC does not match"),
        }
    }
}

impl std::error::Error for AuthError {}

/// Offset of the leading AUTH chunk, of its HMAC, and of the end of it.
const AUTH_AT: usize = COMMON_HEADER_LEN;
const HMAC_AT: usize = AUTH_AT + 8;
const HMAC_END: usize = HMAC_AT + HMAC_SHA256_LEN;

/// Checks the leading AUTH chunk's framing; returns its key epoch.
fn leading_auth(packet: &[u8]) -> Result<u16, AuthError> {
    if packet.len() < AUTH_AT + 4 || ChunkType(packet[AUTH_AT]) != ChunkType::AUTH {
        return Err(AuthError::NoAuthChunk);
    }
    if usize::from(be16(packet, AUTH_AT + 2)) != GROUP_AUTH_LEN || packet.len() < HMAC_END {
        return Err(AuthError::BadLength);
    }
    let id = be16(packet, AUTH_AT + 6);
    if id != HMAC_SHA256 {
        return Err(AuthError::UnsupportedHmac(id));
    }
    Ok(be16(packet, AUTH_AT + 4))
}

/// The HMAC over the packet with the HMAC field taken as zero. HMAC takes
/// keys of any length, so `None` (a key the crate refuses) never happens
/// in practice; it is treated as a mismatch.
fn mac(packet: &[u8], key: &[u8]) -> Option<Hmac<Sha256>> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    m.update(&packet[AUTH_AT..HMAC_AT]);
    m.update(&[0; HMAC_SHA256_LEN]);
    m.update(&packet[HMAC_END..]);
    Some(m)
}

/// Fills in the HMAC of a group packet that begins with a
/// [`GroupAuth::placeholder`] chunk, keyed with `key`, and then its CRC32c.
pub fn sign_group_packet(packet: &mut [u8], key: &[u8]) -> Result<(), AuthError> {
    GroupSigner::new(key)
        .ok_or(AuthError::BadHmac)?
        .sign(packet)
}

/// A group key ready to sign many packets: HMAC-SHA-256 keyed once (the
/// inner and outer pads hashed once per key, not once per packet), as
/// [`sign_group_packet`] signs.
#[derive(Clone)]
pub struct GroupSigner {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for GroupSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key state is never printed.
        f.write_str("GroupSigner")
    }
}

impl GroupSigner {
    /// A signer for `key` (`None` only for a key the HMAC crate refuses,
    /// which does not happen for HMAC: it takes keys of any length).
    pub fn new(key: &[u8]) -> Option<Self> {
        Some(Self {
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?,
        })
    }

    /// Fills in the HMAC of a group packet that begins with a
    /// [`GroupAuth::placeholder`] chunk, then its CRC32c (whatever checksum
    /// the packet had is overwritten).
    pub fn sign(&self, packet: &mut [u8]) -> Result<(), AuthError> {
        leading_auth(packet)?;
        let mut m = self.keyed.clone();
        m.update(&packet[AUTH_AT..HMAC_AT]);
        m.update(&[0; HMAC_SHA256_LEN]);
        m.update(&packet[HMAC_END..]);
        let tag = m.finalize().into_bytes();
        packet[HMAC_AT..HMAC_END].copy_from_slice(&tag);
        let crc = checksum(packet);
        packet[8..12].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }
}

/// Verifies the group MAC of a received group packet (checksum already
/// verified) with the key `key_for(epoch)` returns; returns the epoch.
/// The comparison is constant-time.
pub fn verify_group_packet<'k>(
    packet: &[u8],
    key_for: impl FnOnce(u16) -> Option<&'k [u8]>,
) -> Result<u16, AuthError> {
    let epoch = leading_auth(packet)?;
    let key = key_for(epoch).ok_or(AuthError::UnknownEpoch(epoch))?;
    mac(packet, key)
        .ok_or(AuthError::BadHmac)?
        .verify_slice(&packet[HMAC_AT..HMAC_END])
        .map_err(|_| AuthError::BadHmac)?;
    Ok(epoch)
}

/// The group keys a member holds (draft §"Group Authentication"): at most
/// two, those of the two most recent epochs the server sent it.
///
/// "A member keeps at most two keys [...] and accepts group packets
/// authenticated with either." The keys of one control state travel
/// together, so a control state with Group Key parameters replaces the
/// member's keys ([`KeyRing::replace`]): when the server drops the old key
/// after a change, the member drops it too. And once a group packet
/// verifies with the newer of two keys, the server has switched to it, so
/// the older one is dropped at once ([`KeyRing::verify`]).
#[derive(Clone, Default)]
pub struct KeyRing {
    keys: [Option<(u16, [u8; HMAC_SHA256_LEN])>; 2],
}

/// Whether epoch `a` is after epoch `b` (serial arithmetic modulo 2^16).
fn epoch_after(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 1 << 15
}

impl KeyRing {
    /// No key: nothing verifies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.iter().all(Option::is_none)
    }

    /// The epochs held, oldest first.
    pub fn epochs(&self) -> Vec<u16> {
        let mut e: Vec<u16> = self.keys.iter().flatten().map(|k| k.0).collect();
        if e.len() == 2 && epoch_after(e[0], e[1]) {
            e.swap(0, 1);
        }
        e
    }

    /// Takes the Group Key parameters of one control state as the keys
    /// held. Keys of an algorithm the member does not support are ignored
    /// ("A member ignores a Group Key with an HMAC Identifier it does not
    /// support"); if none is left, the keys held stay as they are. Of more
    /// than two, the two most recent epochs are kept.
    pub fn replace<'k>(&mut self, keys: impl IntoIterator<Item = &'k GroupKey>) {
        let mut new: Vec<(u16, [u8; HMAC_SHA256_LEN])> = Vec::with_capacity(2);
        for k in keys {
            let Ok(key) = <[u8; HMAC_SHA256_LEN]>::try_from(&k.key[..]) else {
                continue;
            };
            if !k.is_hmac_sha256() {
                continue;
            }
            new.retain(|x| x.0 != k.key_epoch);
            new.push((k.key_epoch, key));
        }
        if new.is_empty() {
            return;
        }
        // An MSYNC carries at most two; of more, the two most recent.
        new.sort_by(|a, b| {
            if epoch_after(a.0, b.0) {
                core::cmp::Ordering::Greater
            } else {
                core::cmp::Ordering::Less
            }
        });
        let kept = &new[new.len().saturating_sub(2)..];
        self.keys = [kept.first().copied(), kept.get(1).copied()];
    }

    /// Forgets every key (the membership has ended).
    pub fn clear(&mut self) {
        self.keys = [None, None];
    }

    /// Verifies a received group packet (draft §"Receiving Group Packets"
    /// step 4) with the key of the epoch it names; returns the epoch. A
    /// packet that verifies with the newer of two keys retires the older
    /// one.
    pub fn verify(&mut self, packet: &[u8]) -> Result<u16, AuthError> {
        let keys = self.keys;
        let epoch = verify_group_packet(packet, |e| {
            keys.iter().flatten().find(|k| k.0 == e).map(|k| &k.1[..])
        })?;
        for slot in &mut self.keys {
            if slot.is_some_and(|k| epoch_after(epoch, k.0)) {
                *slot = None;
            }
        }
        Ok(epoch)
    }
}

/// The keys themselves are never printed.
impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("epochs", &self.epochs())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::test_util::parse_whole;
    use mcsctp_core::packet::{CommonHeader, PacketBuilder};
    use mcsctp_core::serial::VerificationTag;

    fn key() -> Vec<u8> {
        (0u8..32).collect()
    }

    fn packet() -> Vec<u8> {
        let header = CommonHeader {
            src_port: 5001,
            dst_port: 5001,
            verification_tag: VerificationTag(0x6a1f_0c33),
        };
        let mut out = Vec::new();
        let mut b = PacketBuilder::new(&mut out, header, 1200);
        b.add(&GroupAuth::placeholder(1)).expect("fits");
        b.add(&crate::chunk::Msync::new(
            41,
            crate::Mtsn(1004),
            crate::Mtsn(996),
            7,
            0,
        ))
        .expect("fits");
        b.finish();
        out
    }

    #[test]
    fn a_signed_packet_verifies_and_a_changed_one_does_not() {
        let mut p = packet();
        sign_group_packet(&mut p, &key()).expect("signs");
        assert_eq!(u32::from_le_bytes([p[8], p[9], p[10], p[11]]), checksum(&p));
        let k = key();
        assert_eq!(
            verify_group_packet(&p, |e| (e == 1).then_some(&k[..])),
            Ok(1)
        );
        assert_eq!(
            verify_group_packet(&p, |_| None),
            Err(AuthError::UnknownEpoch(1))
        );
        let other = [9u8; 32];
        assert_eq!(
            verify_group_packet(&p, |_| Some(&other[..])),
            Err(AuthError::BadHmac)
        );
        let mut q = p.clone();
        *q.last_mut().expect("non-empty") ^= 1;
        assert_eq!(
            verify_group_packet(&q, |_| Some(&k[..])),
            Err(AuthError::BadHmac)
        );
        let auth = parse_whole::<GroupAuth>(&p[12..52]).expect("parses");
        assert_eq!((auth.key_epoch, auth.hmac_id, auth.hmac.len()), (1, 3, 32));
    }

    #[test]
    fn framing_errors_are_typed() {
        let k = key();
        let p = packet();
        assert_eq!(
            verify_group_packet(&p[..20], |_| Some(&k[..])),
            Err(AuthError::BadLength)
        );
        let mut q = p.clone();
        q[12] = 0x83;
        assert_eq!(
            verify_group_packet(&q, |_| Some(&k[..])),
            Err(AuthError::NoAuthChunk)
        );
        let mut q = p.clone();
        q[19] = 1;
        assert_eq!(
            verify_group_packet(&q, |_| Some(&k[..])),
            Err(AuthError::UnsupportedHmac(1))
        );
        assert_eq!(
            verify_group_packet(&[], |_| None),
            Err(AuthError::NoAuthChunk)
        );
    }

    fn group_key(epoch: u16, fill: u8) -> GroupKey {
        GroupKey {
            key_epoch: epoch,
            hmac_id: HMAC_SHA256,
            key: Bytes::from(vec![fill; 32]),
        }
    }

    fn signed(epoch: u16, fill: u8) -> Vec<u8> {
        let mut p = packet();
        p[16..18].copy_from_slice(&epoch.to_be_bytes());
        sign_group_packet(&mut p, &[fill; 32]).expect("signs");
        p
    }

    #[test]
    fn a_key_ring_holds_two_epochs_and_retires_the_older_on_use_of_the_newer() {
        let mut ring = KeyRing::new();
        assert!(ring.is_empty());
        assert_eq!(ring.verify(&signed(1, 1)), Err(AuthError::UnknownEpoch(1)));
        ring.replace(&[group_key(1, 1)]);
        assert_eq!(ring.verify(&signed(1, 1)), Ok(1));
        // A change: both keys; packets of either epoch verify.
        ring.replace(&[group_key(1, 1), group_key(2, 2)]);
        assert_eq!(ring.epochs(), vec![1, 2]);
        assert_eq!(ring.verify(&signed(1, 1)), Ok(1));
        assert_eq!(ring.epochs(), vec![1, 2]);
        // Epoch 2 signed with epoch 1's key: no.
        assert_eq!(ring.verify(&signed(2, 1)), Err(AuthError::BadHmac));
        // The server switched: the first packet of epoch 2 retires epoch 1.
        assert_eq!(ring.verify(&signed(2, 2)), Ok(2));
        assert_eq!(ring.epochs(), vec![2]);
        assert_eq!(ring.verify(&signed(1, 1)), Err(AuthError::UnknownEpoch(1)));
        // Control state without the old key replaces the keys held.
        ring.replace(&[group_key(2, 2), group_key(3, 3)]);
        ring.replace(&[group_key(3, 3)]);
        assert_eq!(ring.epochs(), vec![3]);
        assert_eq!(ring.verify(&signed(2, 2)), Err(AuthError::UnknownEpoch(2)));
        // Unsupported keys are ignored; nothing usable leaves the keys.
        let odd = GroupKey {
            key_epoch: 4,
            hmac_id: 1,
            key: Bytes::from(vec![4; 20]),
        };
        ring.replace(&[odd]);
        assert_eq!(ring.epochs(), vec![3]);
        // Across the epoch wrap, the two most recent of three.
        ring.replace(&[group_key(65535, 5), group_key(0, 6), group_key(65534, 7)]);
        assert_eq!(ring.epochs(), vec![65535, 0]);
        assert_eq!(ring.verify(&signed(0, 6)), Ok(0));
        assert_eq!(ring.epochs(), vec![0]);
        assert!(!format!("{ring:?}").contains("[6, 6"));
        ring.clear();
        assert!(ring.is_empty());
    }
}
