//! A member as the admin names it: its `key_…` address.

use tacnode_domain::PeerAddress;

use crate::error::AdminError;

/// The member whose `key_…` address is `address`.
pub fn member_address(address: &str) -> Result<PeerAddress, AdminError> {
    address
        .parse::<PeerAddress>()
        .map_err(|source| AdminError::Member {
            address: address.to_owned(),
            source,
        })
}
