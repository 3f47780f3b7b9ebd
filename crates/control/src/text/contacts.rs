//! `tacnode contacts list`: one line per contact with its address and
//! whether it is verified.

use std::fmt::Write as _;

use crate::views::ContactView;

/// One line per contact: name, address and `[verified]`, `[unverified]` or
/// a warning when its keys changed.
pub fn contacts(contacts: &[ContactView]) -> String {
    let mut out = String::new();
    for c in contacts {
        let flag = if c.identity_changed {
            "KEYS CHANGED - verify before sending"
        } else if c.verified {
            "verified"
        } else {
            "unverified"
        };
        let _ = writeln!(out, "{:<20} {} [{flag}]", c.name, c.address);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(name: &str, verified: bool, identity_changed: bool) -> ContactView {
        ContactView {
            name: name.to_owned(),
            address: "key_abc".to_owned(),
            verified,
            identity_changed,
        }
    }

    #[test]
    fn a_line_per_contact_and_changed_keys_stand_out() {
        let text = contacts(&[
            contact("alice", true, false),
            contact("bob", false, false),
            contact("carol", true, true),
        ]);
        assert_eq!(
            text,
            "alice                key_abc [verified]\n\
             bob                  key_abc [unverified]\n\
             carol                key_abc [KEYS CHANGED - verify before sending]\n"
        );
        assert_eq!(contacts(&[]), "");
    }
}
