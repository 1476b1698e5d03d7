//! The server's group keys (draft §"Group Authentication"): the key that
//! authenticates group packets now, and during a key change the next one.
//!
//! "The server creates a group key of 32 random octets \[RFC4086\] with
//! epoch 1 when it creates the group, and a new one, with the next epoch
//! (modulo 2^16), whenever a member becomes GONE". "A removal during a
//! change starts another change when the current one ends."
//!
//! Which members have acknowledged the next key, and what happens to
//! those that have not, is the business of [`super::ext`]; this module
//! only holds the keys and the change's deadline.
//!
//! The keys come from a ChaCha12 generator seeded from the group's
//! configuration ([`super::ext::GroupServerConfig::key_seed`]), as core
//! seeds its verification tags: the runtime draws the seed from the
//! operating system, a test fixes it to replay a run.

use std::time::Instant;

use bytes::Bytes;
use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};

use crate::auth::{HMAC_SHA256, HMAC_SHA256_LEN};
use crate::chunk::msync::GroupKey;

/// A key change in progress: the next key and when the change ends at the
/// latest (Mcast.Key.RekeyTimeout after it began).
#[derive(Debug)]
struct Change {
    next: GroupKey,
    deadline: Instant,
}

/// The group's keys.
pub(crate) struct GroupKeys {
    rng: ChaCha12Rng,
    current: GroupKey,
    change: Option<Change>,
    /// A member became GONE during a change: another change follows it.
    again: bool,
    /// Changes completed.
    changes: u64,
}

/// The keys themselves are never printed.
impl std::fmt::Debug for GroupKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupKeys")
            .field("current", &self.current)
            .field("change", &self.change)
            .field("again", &self.again)
            .finish_non_exhaustive()
    }
}

impl GroupKeys {
    /// Epoch 1, from `seed`.
    pub(crate) fn new(seed: [u8; 32]) -> Self {
        let mut rng = ChaCha12Rng::from_seed(seed);
        let current = Self::draw(&mut rng, 1);
        Self {
            rng,
            current,
            change: None,
            again: false,
            changes: 0,
        }
    }

    fn draw(rng: &mut ChaCha12Rng, epoch: u16) -> GroupKey {
        let mut key = [0u8; HMAC_SHA256_LEN];
        rng.fill_bytes(&mut key);
        GroupKey {
            key_epoch: epoch,
            hmac_id: HMAC_SHA256,
            key: Bytes::copy_from_slice(&key),
        }
    }

    /// The key group packets are authenticated with now.
    pub(crate) fn current(&self) -> &GroupKey {
        &self.current
    }

    /// The next key, during a change.
    pub(crate) fn next(&self) -> Option<&GroupKey> {
        self.change.as_ref().map(|c| &c.next)
    }

    /// The keys of every member's control state: the current one and,
    /// during a change, the next one.
    pub(crate) fn control_keys(&self) -> impl Iterator<Item = &GroupKey> {
        std::iter::once(&self.current).chain(self.next())
    }

    /// When the change in progress ends at the latest.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.change.as_ref().map(|c| c.deadline)
    }

    /// Changes completed since the group was created.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    /// A member became GONE: a change begins now, ending by `deadline` at
    /// the latest, unless one is in progress, which then is followed by
    /// another. Returns whether a change began.
    pub(crate) fn member_gone(&mut self, deadline: Instant) -> bool {
        if self.change.is_some() {
            self.again = true;
            return false;
        }
        let epoch = self.current.key_epoch.wrapping_add(1);
        let next = Self::draw(&mut self.rng, epoch);
        self.change = Some(Change { next, deadline });
        true
    }

    /// Ends the change in progress: the next key becomes the current one.
    /// Returns whether another change is to begin (a member became GONE
    /// during this one).
    pub(crate) fn finish(&mut self) -> bool {
        if let Some(c) = self.change.take() {
            self.current = c.next;
            self.changes += 1;
        }
        std::mem::take(&mut self.again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[allow(clippy::disallowed_methods)] // an arbitrary origin; time is driven
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn epochs_advance_and_a_removal_during_a_change_queues_another() {
        let t = t0();
        let mut k = GroupKeys::new([3; 32]);
        assert_eq!(k.current().key_epoch, 1);
        assert!(k.current().is_hmac_sha256());
        assert_eq!(k.control_keys().count(), 1);
        let first = k.current().key.clone();

        assert!(k.member_gone(t + Duration::from_millis(50)));
        assert_eq!(k.next().map(|n| n.key_epoch), Some(2));
        assert_eq!(k.control_keys().count(), 2);
        assert_ne!(k.next().map(|n| n.key.clone()), Some(first.clone()));
        // A second removal while the change runs: no new key yet.
        assert!(!k.member_gone(t + Duration::from_millis(60)));
        assert_eq!(k.deadline(), Some(t + Duration::from_millis(50)));

        assert!(k.finish(), "another change follows");
        assert_eq!(k.current().key_epoch, 2);
        assert_eq!(k.next(), None);
        assert!(k.member_gone(t + Duration::from_millis(90)));
        assert!(!k.finish());
        assert_eq!((k.current().key_epoch, k.changes()), (3, 2));
    }

    #[test]
    fn the_same_seed_gives_the_same_keys() {
        let a = GroupKeys::new([7; 32]);
        let b = GroupKeys::new([7; 32]);
        let c = GroupKeys::new([8; 32]);
        assert_eq!(a.current().key, b.current().key);
        assert_ne!(a.current().key, c.current().key);
    }
}
