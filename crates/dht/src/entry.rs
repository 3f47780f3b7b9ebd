//! A routing-table entry: a contact and what we know of its liveness.

use tacnode_domain::UnixMillis;
use tacnode_domain::dht::Contact;

/// One node in a k-bucket or replacement cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The node and where to reach it.
    pub contact: Contact,
    /// Last time it answered or asked us something.
    pub last_seen: UnixMillis,
    /// Requests it failed since it last answered.
    pub failures: u32,
}

impl Entry {
    /// A freshly seen node.
    pub fn new(contact: Contact, now: UnixMillis) -> Self {
        Self {
            contact,
            last_seen: now,
            failures: 0,
        }
    }
}
