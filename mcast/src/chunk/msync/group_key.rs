//! Group Key parameter of MSYNC (draft-mcsctp-tsvwg-sctp-multicast-01
//! §"Group Key (0x0003)"): a key that authenticates group packets.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Type = 0x0003          |    Length = 8 + key length    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Key Epoch           |        HMAC Identifier        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! \                              Key                              \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! "the key, at least 1 octet; 32 octets for HMAC-SHA-256. A member
//! ignores a Group Key with an HMAC Identifier it does not support" — the
//! codec keeps any identifier; [`GroupKey::is_hmac_sha256`] tells the
//! member whether it can use the key. "At most twice" per MSYNC.

use core::fmt;

use bytes::{BufMut, Bytes};

use super::{MsyncParamError, MsyncParamType, WireMsyncParam};
use crate::auth::HMAC_SHA256;
use crate::chunk::be16;

/// A group key and its epoch (draft §"Group Authentication").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// Key epoch: the Shared Key Identifier of group packets it signs.
    pub key_epoch: u16,
    /// HMAC Identifier from the RFC 4895 registry (3: HMAC-SHA-256).
    pub hmac_id: u16,
    /// The key (zero-copy).
    pub key: Bytes,
}

impl GroupKey {
    /// Whether the key is for HMAC-SHA-256 with a 32-octet key, the one
    /// algorithm every member supports.
    pub fn is_hmac_sha256(&self) -> bool {
        self.hmac_id == HMAC_SHA256 && self.key.len() == 32
    }
}

impl WireMsyncParam for GroupKey {
    const TYPE: MsyncParamType = MsyncParamType::GROUP_KEY;
    const MAX_COUNT: usize = 2;

    fn parse_value(value: Bytes) -> Result<Self, MsyncParamError> {
        if value.len() < 5 {
            return Err(MsyncParamError::TooShort {
                typ: Self::TYPE,
                need: 5,
                got: value.len(),
            });
        }
        Ok(Self {
            key_epoch: be16(&value, 0),
            hmac_id: be16(&value, 2),
            key: value.slice(4..),
        })
    }

    fn value_len(&self) -> usize {
        4 + self.key.len()
    }

    fn write_value<B: BufMut>(&self, out: &mut B) {
        out.put_u16(self.key_epoch);
        out.put_u16(self.hmac_id);
        out.put_slice(&self.key);
    }
}

/// The key itself is never printed.
impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupKey")
            .field("key_epoch", &self.key_epoch)
            .field("hmac_id", &self.hmac_id)
            .field("key_len", &self.key.len())
            .finish()
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Group Key epoch={} hmac={} ({} octets)",
            self.key_epoch,
            self.hmac_id,
            self.key.len()
        )
    }
}
