//! Contacts: a local name bound to a node id and the identity key first seen
//! for it (trust on first use), with the user's verified flag and a warning
//! flag raised when a different identity key shows up. Names are sealed (they
//! reveal who the user talks to); node ids and keys are public anyway, but the
//! name's seal covers the identity key and both flags, so offline write
//! access to the file cannot mark a contact verified or swap its key: such a
//! row fails to open.

use rusqlite::{OptionalExtension, Row, params};
use tacnode_domain::{Contact, IdentityKey, NodeId};

use tacnode_domain::MAX_CONTACT_NAME_BYTES;

use crate::error::SqliteError;
use crate::seal::Sealer;
use crate::{InsertOutcome, Store, node_id_from_sql, sql_limit, sql_time, time_from_sql};

const CONTACTS: &str = "contacts";

/// What a contact's sealed name is bound to: its node id, identity key and
/// both flags.
fn name_aad(node_id: &NodeId, identity_key: &[u8], verified: bool, changed: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + identity_key.len() + 2);
    aad.extend_from_slice(node_id.as_bytes());
    aad.extend_from_slice(identity_key);
    aad.extend_from_slice(&[u8::from(verified), u8::from(changed)]);
    aad
}

/// Re-seals every name of a file from before the seal covered the flags
/// (then bound to the node id alone).
pub(crate) fn reseal_all(conn: &rusqlite::Connection, sealer: &Sealer) -> Result<(), SqliteError> {
    let rows: Vec<ContactRow> = {
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM contacts"))?;
        let rows = stmt.query_map([], ContactRow::read)?;
        rows.collect::<Result<_, _>>()?
    };
    for r in rows {
        let node_id = node_id_from_sql(CONTACTS, &r.node_id)?;
        let name = sealer.open(
            CONTACTS,
            &[node_id.as_bytes()],
            &r.sealed_name,
            MAX_CONTACT_NAME_BYTES,
        )?;
        let sealed = sealer.seal(
            CONTACTS,
            &[&name_aad(
                &node_id,
                &r.identity_key,
                r.verified,
                r.identity_changed,
            )],
            &name,
        )?;
        conn.execute(
            "UPDATE contacts SET sealed_name = ?2 WHERE node_id = ?1",
            params![r.node_id, sealed],
        )?;
    }
    Ok(())
}
const COLUMNS: &str = "node_id, sealed_name, identity_key, first_seen, verified, identity_changed";

fn check_name(name: &str) -> Result<(), SqliteError> {
    if name.len() > MAX_CONTACT_NAME_BYTES {
        return Err(SqliteError::ContactNameTooLong(name.len()));
    }
    Ok(())
}

struct ContactRow {
    node_id: Vec<u8>,
    sealed_name: Vec<u8>,
    identity_key: Vec<u8>,
    first_seen: i64,
    verified: bool,
    identity_changed: bool,
}

impl ContactRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            node_id: row.get(0)?,
            sealed_name: row.get(1)?,
            identity_key: row.get(2)?,
            first_seen: row.get(3)?,
            verified: row.get(4)?,
            identity_changed: row.get(5)?,
        })
    }

    fn into_contact(self, sealer: &Sealer) -> Result<Contact, SqliteError> {
        let node_id = node_id_from_sql(CONTACTS, &self.node_id)?;
        let name = sealer.open(
            CONTACTS,
            &[&name_aad(
                &node_id,
                &self.identity_key,
                self.verified,
                self.identity_changed,
            )],
            &self.sealed_name,
            MAX_CONTACT_NAME_BYTES,
        )?;

        Ok(Contact {
            name: String::from_utf8(name.to_vec()).map_err(|_| SqliteError::Corrupt {
                table: CONTACTS,
                reason: "name is not UTF-8",
            })?,
            node_id,
            identity_key: IdentityKey::from_slice(&self.identity_key).map_err(|_| {
                SqliteError::Corrupt {
                    table: CONTACTS,
                    reason: "identity key is not a valid Ed25519 key",
                }
            })?,
            first_seen: time_from_sql(CONTACTS, self.first_seen)?,
            verified: self.verified,
            identity_changed: self.identity_changed,
        })
    }
}

impl Store {
    /// Adds `contact`; a contact for the same node is left as it is.
    pub fn add_contact(&mut self, contact: &Contact) -> Result<InsertOutcome, SqliteError> {
        check_name(&contact.name)?;
        let sealed_name = self.seal_name(contact)?;
        let changed = self.conn.execute(
            &format!(
                "INSERT INTO contacts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (node_id) DO NOTHING"
            ),
            params![
                contact.node_id.as_bytes(),
                sealed_name,
                contact.identity_key.as_bytes(),
                sql_time(contact.first_seen),
                contact.verified,
                contact.identity_changed
            ],
        )?;
        Ok(if changed == 0 {
            InsertOutcome::AlreadyPresent
        } else {
            InsertOutcome::Inserted
        })
    }

    /// The contact for `node_id`.
    pub fn contact(&self, node_id: &NodeId) -> Result<Option<Contact>, SqliteError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM contacts WHERE node_id = ?1"),
                [node_id.as_bytes()],
                ContactRow::read,
            )
            .optional()?
            .map(|r| r.into_contact(&self.sealer))
            .transpose()
    }

    /// How many contacts are not verified (a bound on contacts that strangers
    /// can create by writing to us).
    pub fn unverified_contact_count(&self) -> Result<u64, SqliteError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM contacts WHERE verified = 0",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// All contacts by name (at most [`crate::MAX_QUERY_ROWS`]).
    pub fn contacts(&self) -> Result<Vec<Contact>, SqliteError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM contacts ORDER BY node_id LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map([sql_limit(usize::MAX)], ContactRow::read)?
            .collect::<Result<Vec<_>, _>>()?;
        let mut contacts = rows
            .into_iter()
            .map(|r| r.into_contact(&self.sealer))
            .collect::<Result<Vec<_>, _>>()?;
        // Names are sealed, so SQLite cannot sort by them.
        contacts.sort_by(|a, b| a.name.cmp(&b.name).then(a.node_id.cmp(&b.node_id)));
        Ok(contacts)
    }

    fn seal_name(&self, contact: &Contact) -> Result<Vec<u8>, SqliteError> {
        self.sealer.seal(
            CONTACTS,
            &[&name_aad(
                &contact.node_id,
                contact.identity_key.as_bytes(),
                contact.verified,
                contact.identity_changed,
            )],
            contact.name.as_bytes(),
        )
    }

    /// Changes a contact with `f` and writes it back, its name sealed over
    /// the new flags.
    fn rewrite_contact(
        &mut self,
        node_id: &NodeId,
        f: impl FnOnce(&mut Contact),
    ) -> Result<(), SqliteError> {
        let mut contact = self
            .contact(node_id)?
            .ok_or(SqliteError::UnknownContact(*node_id))?;
        f(&mut contact);
        check_name(&contact.name)?;
        let sealed_name = self.seal_name(&contact)?;
        self.conn.execute(
            "UPDATE contacts SET sealed_name = ?2, verified = ?3, identity_changed = ?4
             WHERE node_id = ?1",
            params![
                node_id.as_bytes(),
                sealed_name,
                contact.verified,
                contact.identity_changed
            ],
        )?;
        Ok(())
    }

    /// Renames the contact for `node_id`.
    pub fn rename_contact(&mut self, node_id: &NodeId, name: &str) -> Result<(), SqliteError> {
        check_name(name)?;
        self.rewrite_contact(node_id, |c| c.name = name.to_owned())
    }

    /// Sets whether the user verified the contact's identity key out of band.
    pub fn set_contact_verified(
        &mut self,
        node_id: &NodeId,
        verified: bool,
    ) -> Result<(), SqliteError> {
        self.rewrite_contact(node_id, |c| c.verified = verified)
    }

    /// Records that the keys of `node_id` changed in a way the identity key
    /// alone cannot show (its certified device key differs from the pinned
    /// one): clears `verified` and raises `identity_changed`.
    pub fn flag_contact_key_change(&mut self, node_id: &NodeId) -> Result<(), SqliteError> {
        self.rewrite_contact(node_id, |c| {
            c.verified = false;
            c.identity_changed = true;
        })
    }

    /// Clears `identity_changed` once the user has seen the warning.
    pub fn acknowledge_identity_change(&mut self, node_id: &NodeId) -> Result<(), SqliteError> {
        self.rewrite_contact(node_id, |c| c.identity_changed = false)
    }

    /// Removes the contact for `node_id`; `false` if there was none.
    pub fn remove_contact(&mut self, node_id: &NodeId) -> Result<bool, SqliteError> {
        let n = self.conn.execute(
            "DELETE FROM contacts WHERE node_id = ?1",
            [node_id.as_bytes()],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, contains, key, raw_bytes};
    use tacnode_domain::UnixMillis;

    // Two valid Ed25519 points.
    fn ik(which: u8) -> IdentityKey {
        let bytes = if which == 0 { BASEPOINT } else { OTHER_POINT };
        IdentityKey::from_bytes(&bytes).unwrap()
    }

    const BASEPOINT: [u8; 32] = [
        0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66,
    ];
    // RFC 8032 test vector 1 public key.
    const OTHER_POINT: [u8; 32] = [
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07,
        0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
        0x51, 0x1a,
    ];

    fn contact(name: &str, key_seed: u8) -> Contact {
        let identity_key = ik(key_seed);
        Contact {
            name: name.into(),
            node_id: NodeId::from_identity(&identity_key),
            identity_key,
            first_seen: UnixMillis(5),
            verified: false,
            identity_changed: false,
        }
    }

    /// Offline write access to the file (no storage key) could mark a
    /// contact verified, clear its key-change warning, swap its identity key
    /// or a pinned device key (issue #13, finding 5): every such edit now
    /// makes the row fail to open instead of being believed.
    #[test]
    fn offline_edits_of_flags_keys_and_pins_are_refused() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        let c = contact("alpha", 0);
        s.add_contact(&c).unwrap();
        s.flag_contact_key_change(&c.node_id).unwrap();
        s.set_meta("pin.alpha", &[7; 32]).unwrap();
        // Legitimate changes still read back.
        let read = s.contact(&c.node_id).unwrap().unwrap();
        assert!(read.identity_changed && !read.verified);
        s.close().unwrap();
        for edit in [
            "UPDATE contacts SET verified = 1",
            "UPDATE contacts SET identity_changed = 0",
            "UPDATE contacts SET identity_key = (SELECT identity_key FROM contacts)",
        ] {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let saved: Vec<u8> = conn
                .query_row("SELECT identity_key FROM contacts", [], |r| r.get(0))
                .unwrap();
            if edit.contains("identity_key") {
                conn.execute(
                    "UPDATE contacts SET identity_key = ?1",
                    [OTHER_POINT.as_slice()],
                )
                .unwrap();
            } else {
                conn.execute(edit, []).unwrap();
            }
            drop(conn);
            let s = Store::open(&path, key(1)).unwrap();
            assert!(
                matches!(s.contact(&c.node_id), Err(SqliteError::Decrypt { .. })),
                "{edit} was believed"
            );
            assert!(s.contacts().is_err(), "{edit}");
            s.close().unwrap();
            // Put the row back as it was for the next edit.
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute(
                "UPDATE contacts SET verified = 0, identity_changed = 1, identity_key = ?1",
                [saved.as_slice()],
            )
            .unwrap();
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let sealed: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'pin.alpha'", [], |r| {
                r.get(0)
            })
            .unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('pin.bravo', ?1)",
            [sealed.as_slice()],
        )
        .unwrap();
        conn.execute(
            "UPDATE meta SET value = x'0707' WHERE key = 'pin.alpha'",
            [],
        )
        .unwrap();
        drop(conn);
        let s = Store::open(&path, key(1)).unwrap();
        assert!(s.meta("pin.alpha").is_err(), "an edited pin was believed");
        assert!(
            s.meta("pin.bravo").is_err(),
            "a pin moved to another key was believed"
        );
        assert!(s.contact(&c.node_id).unwrap().is_some());
    }

    #[test]
    fn add_read_list_rename_verify_remove() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let alice = contact("alice", 0);
        let bob = contact("bob", 1);
        assert_eq!(s.add_contact(&bob).unwrap(), InsertOutcome::Inserted);
        assert_eq!(s.add_contact(&alice).unwrap(), InsertOutcome::Inserted);
        let mut renamed = alice.clone();
        renamed.name = "mallory".into();
        assert_eq!(
            s.add_contact(&renamed).unwrap(),
            InsertOutcome::AlreadyPresent
        );
        assert_eq!(s.contact(&alice.node_id).unwrap(), Some(alice.clone()));
        assert_eq!(s.contacts().unwrap(), vec![alice.clone(), bob.clone()]);

        assert_eq!(s.unverified_contact_count().unwrap(), 2);
        s.rename_contact(&alice.node_id, "alice2").unwrap();
        s.set_contact_verified(&alice.node_id, true).unwrap();
        assert_eq!(s.unverified_contact_count().unwrap(), 1);
        let got = s.contact(&alice.node_id).unwrap().unwrap();
        assert_eq!(got.name, "alice2");
        assert!(got.verified);

        let nobody = NodeId::from_bytes([0; 32]);
        assert!(matches!(
            s.rename_contact(&nobody, "x"),
            Err(SqliteError::UnknownContact(_))
        ));
        assert!(matches!(
            s.rename_contact(&alice.node_id, &"x".repeat(MAX_CONTACT_NAME_BYTES + 1)),
            Err(SqliteError::ContactNameTooLong(_))
        ));
        assert!(s.remove_contact(&alice.node_id).unwrap());
        assert!(!s.remove_contact(&alice.node_id).unwrap());
        assert_eq!(s.contacts().unwrap(), vec![bob]);
    }

    #[test]
    fn key_change_is_flagged_until_acknowledged() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let mut c = contact("carol", 0);
        c.verified = true;
        s.add_contact(&c).unwrap();
        s.flag_contact_key_change(&c.node_id).unwrap();
        let got = s.contact(&c.node_id).unwrap().unwrap();
        assert!(got.identity_changed);
        assert!(!got.verified);
        s.acknowledge_identity_change(&c.node_id).unwrap();
        assert!(!s.contact(&c.node_id).unwrap().unwrap().identity_changed);
        assert!(matches!(
            s.flag_contact_key_change(&NodeId::from_bytes([0; 32])),
            Err(SqliteError::UnknownContact(_))
        ));
    }

    #[test]
    fn names_are_sealed() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        let c = contact("CONTACT-NAME-3b9e", 0);
        s.add_contact(&c).unwrap();
        s.rename_contact(&c.node_id, "CONTACT-RENAMED-3b9e")
            .unwrap();
        s.close().unwrap();
        let raw = raw_bytes(&path);
        assert!(!contains(&raw, b"CONTACT-NAME-3b9e"));
        assert!(!contains(&raw, b"CONTACT-RENAMED-3b9e"));
        let s = Store::open(&path, key(1)).unwrap();
        assert_eq!(
            s.contact(&c.node_id).unwrap().unwrap().name,
            "CONTACT-RENAMED-3b9e"
        );
    }
}
