//! Message keys of messages not yet received, bounded and oldest-first evicted.

use std::collections::VecDeque;

use tacnode_domain::DhPublicKey;

use super::keys::MessageKey;

/// Most skipped message keys kept over all chains; the oldest are evicted.
pub const MAX_SKIPPED_KEYS: usize = 2000;

/// One stored key: the sender's ratchet key and message number it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct SkippedKey {
    pub(crate) ratchet_key: DhPublicKey,
    pub(crate) message_number: u32,
    pub(crate) key: MessageKey,
}

/// `MKSKIPPED` of the specification, in insertion order.
#[derive(Clone, Debug, Default)]
pub struct SkippedKeys {
    keys: VecDeque<SkippedKey>,
}

impl SkippedKeys {
    /// Number of stored keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn position(&self, ratchet_key: &DhPublicKey, message_number: u32) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.message_number == message_number && k.ratchet_key == *ratchet_key)
    }

    pub(crate) fn get(&self, index: usize) -> Option<&SkippedKey> {
        self.keys.get(index)
    }

    /// Deletes a key after use (forward secrecy).
    pub(crate) fn remove(&mut self, index: usize) {
        self.keys.remove(index);
    }

    /// Stores new keys, evicting the oldest beyond [`MAX_SKIPPED_KEYS`].
    pub(crate) fn extend(&mut self, keys: Vec<SkippedKey>) {
        self.keys.extend(keys);
        while self.keys.len() > MAX_SKIPPED_KEYS {
            self.keys.pop_front();
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &SkippedKey> {
        self.keys.iter()
    }
}
