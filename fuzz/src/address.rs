//! `PeerAddress::from_str` on arbitrary text.

use std::str::FromStr;

use tacnode_domain::{PEER_ADDRESS_PREFIX, PeerAddress};

/// Parses the input as is and behind the `key_` prefix; an accepted address
/// must print back to exactly the text it was parsed from (base58 of 32 bytes
/// has one spelling).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    if !text.starts_with(PEER_ADDRESS_PREFIX) {
        check(&format!("{PEER_ADDRESS_PREFIX}{text}"));
    }
}

fn check(text: &str) {
    if let Ok(addr) = PeerAddress::from_str(text) {
        assert_eq!(addr.to_string(), text, "accepted address is not canonical");
        assert_eq!(PeerAddress::from_str(&addr.to_string()), Ok(addr));
        assert_eq!(
            addr.node_id(),
            tacnode_domain::NodeId::from_identity(addr.identity_key())
        );
    }
}
