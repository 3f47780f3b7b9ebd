//! Group channels: each one's state (an opaque pickle from usecase, sealed
//! under the storage key and bound to the group's id) and the group
//! messages of the history, bodies sealed and bound to their group, sender
//! and id.

use rusqlite::{OptionalExtension, params};
use tacnode_domain::group::{GROUP_ID_LEN, GroupId};
use tacnode_domain::store::MAX_GROUP_PICKLE_BYTES;
use tacnode_domain::{Direction, MessageId, NodeId, UnixMillis};

use crate::error::SqliteError;
use crate::messages::{MAX_STORED_TEXT_BYTES, check_text};
use crate::pickle_table::PickleTable;
use crate::seal::SecretBytes;
use crate::{InsertOutcome, Store, sql_time};

const GROUPS: &str = "groups";
/// The table of group channels' pickles.
const GROUP_PICKLES: PickleTable = PickleTable {
    table: GROUPS,
    id: "group_id",
    max: MAX_GROUP_PICKLE_BYTES,
};
/// The table of group messages (also the label their bodies are sealed
/// under).
pub(crate) const GROUP_MESSAGES: &str = "group_messages";

/// Inserts one group message row (group, sender, id, dir, time, sealed);
/// a repeat changes nothing.
pub(crate) const INSERT_GROUP_MESSAGE: &str =
    "INSERT INTO group_messages (group_id, sender, message_id, dir, time, sealed)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (group_id, sender, message_id) DO NOTHING";

/// `dir` as stored: 1 inbound, 2 ours.
pub(crate) fn dir_code(d: Direction) -> i64 {
    match d {
        Direction::Inbound => 1,
        Direction::Outbound => 2,
    }
}

pub(crate) fn group_id_from_sql(bytes: &[u8]) -> Result<GroupId, SqliteError> {
    <[u8; GROUP_ID_LEN]>::try_from(bytes)
        .map(GroupId)
        .map_err(|_| SqliteError::Corrupt {
            table: GROUPS,
            reason: "group id is not 32 bytes",
        })
}

/// A group message's body sealed, bound to its group, sender and id.
pub(crate) fn seal_group_text(
    sealer: &crate::seal::Sealer,
    group: &GroupId,
    sender: &NodeId,
    message_id: &MessageId,
    text: &str,
) -> Result<Vec<u8>, SqliteError> {
    sealer.seal(
        GROUP_MESSAGES,
        &[group.as_bytes(), sender.as_bytes(), message_id.as_bytes()],
        text.as_bytes(),
    )
}

impl Store {
    /// Keeps (or replaces) a group channel's pickle, sealed.
    pub fn save_group(
        &mut self,
        group: &GroupId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), SqliteError> {
        if pickle.len() > MAX_GROUP_PICKLE_BYTES {
            return Err(SqliteError::GroupPickleTooLarge(pickle.len()));
        }
        self.save_pickle(&GROUP_PICKLES, group.as_bytes(), pickle, now)
    }

    /// Every group channel's pickle, by id.
    pub fn groups(&self) -> Result<Vec<(GroupId, SecretBytes)>, SqliteError> {
        Ok(self
            .pickles(&GROUP_PICKLES)?
            .into_iter()
            .map(|(id, p)| (GroupId(id), p))
            .collect())
    }

    /// Forgets a group channel's pickle; whether there was one.
    pub fn delete_group(&mut self, group: &GroupId) -> Result<bool, SqliteError> {
        self.delete_pickle(&GROUP_PICKLES, group.as_bytes())
    }

    /// Whether a group channel's pickle is kept.
    pub fn has_group(&self, group: &GroupId) -> Result<bool, SqliteError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM groups WHERE group_id = ?1",
                [group.as_bytes()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Stores a group message; a repeat of (group, sender, id) changes
    /// nothing.
    pub fn insert_group_message(
        &mut self,
        group: &GroupId,
        sender: &NodeId,
        direction: Direction,
        message_id: &MessageId,
        text: &str,
        time: UnixMillis,
    ) -> Result<InsertOutcome, SqliteError> {
        check_text(text)?;
        let sealed = seal_group_text(&self.sealer, group, sender, message_id, text)?;
        let changed = self
            .conn
            .prepare_cached(INSERT_GROUP_MESSAGE)?
            .execute(params![
                group.as_bytes(),
                sender.as_bytes(),
                message_id.as_bytes(),
                dir_code(direction),
                sql_time(time),
                sealed
            ])?;
        Ok(if changed == 0 {
            InsertOutcome::AlreadyPresent
        } else {
            InsertOutcome::Inserted
        })
    }

    pub(crate) fn open_group_text(
        &self,
        group: &GroupId,
        sender: &NodeId,
        message_id: &MessageId,
        sealed: &[u8],
    ) -> Result<String, SqliteError> {
        let plain = self.sealer.open(
            GROUP_MESSAGES,
            &[group.as_bytes(), sender.as_bytes(), message_id.as_bytes()],
            sealed,
            MAX_STORED_TEXT_BYTES,
        )?;
        String::from_utf8(plain.to_vec()).map_err(|_| SqliteError::Corrupt {
            table: GROUP_MESSAGES,
            reason: "text is not UTF-8",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, key};

    #[test]
    fn a_group_pickle_survives_a_reopen_and_binds_to_its_id() {
        let dir = TempDir::new();
        let path = dir.path().join("g.db");
        let g = GroupId([3; 32]);
        {
            let mut s = Store::open(&path, key(1)).unwrap();
            s.save_group(&g, b"pickle", UnixMillis(1)).unwrap();
            s.save_group(&g, b"pickle two", UnixMillis(2)).unwrap();
        }
        let s = Store::open(&path, key(1)).unwrap();
        let all = s.groups().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, g);
        assert_eq!(all[0].1.as_slice(), b"pickle two");
        // Moved under another id, the row does not open.
        s.conn
            .execute("UPDATE groups SET group_id = ?1", [[4u8; 32].as_slice()])
            .unwrap();
        assert!(s.groups().is_err());
    }

    #[test]
    fn group_messages_join_the_history_once_with_their_group() {
        let mut s = Store::open_in_memory(key(2)).unwrap();
        let g = GroupId([5; 32]);
        let alice = NodeId::from_bytes([1; 32]);
        let id = MessageId([9; 16]);
        assert_eq!(
            s.insert_group_message(
                &g,
                &alice,
                Direction::Inbound,
                &id,
                "hi all",
                UnixMillis(10)
            )
            .unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.insert_group_message(&g, &alice, Direction::Inbound, &id, "again", UnixMillis(11))
                .unwrap(),
            InsertOutcome::AlreadyPresent
        );
        s.insert_inbound(&alice, &MessageId([8; 16]), "pairwise", UnixMillis(5))
            .unwrap();
        let h = s.latest_history(10).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].group, None);
        assert_eq!(h[1].group, Some(g));
        assert_eq!(h[1].text, "hi all");
        assert_eq!(h[1].peer, alice);
        assert!(s.has_group(&g).is_ok_and(|b| !b));
    }
}
