//! Double Ratchet sessions: opaque pickles from the crypto crate, one per
//! peer, sealed under the storage key and bound to the peer's node id.

use rusqlite::{OptionalExtension, params};
use tacnode_domain::{NodeId, UnixMillis};

use crate::error::SqliteError;
use crate::seal::SecretBytes;
use crate::{Store, node_id_from_sql, sql_limit, sql_time};

pub use tacnode_domain::store::MAX_SESSION_PICKLE_BYTES;

const SESSIONS: &str = "sessions";

impl Store {
    /// Stores (or replaces) the session with `peer`, sealed.
    pub fn save_session(
        &mut self,
        peer: &NodeId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), SqliteError> {
        if pickle.len() > MAX_SESSION_PICKLE_BYTES {
            return Err(SqliteError::SessionPickleTooLarge(pickle.len()));
        }
        let sealed = self.sealer.seal(SESSIONS, &[peer.as_bytes()], pickle)?;
        self.conn.execute(
            "INSERT INTO sessions (peer, sealed, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT (peer) DO UPDATE SET sealed = excluded.sealed, updated = excluded.updated",
            params![peer.as_bytes(), sealed, sql_time(now)],
        )?;
        Ok(())
    }

    /// The session pickle for `peer`, zeroized when dropped.
    pub fn load_session(&self, peer: &NodeId) -> Result<Option<SecretBytes>, SqliteError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT sealed FROM sessions WHERE peer = ?1",
                [peer.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        sealed
            .map(|s| {
                self.sealer
                    .open(SESSIONS, &[peer.as_bytes()], &s, MAX_SESSION_PICKLE_BYTES)
                    .map(SecretBytes::from)
            })
            .transpose()
    }

    /// Deletes the session with `peer`; `false` if there was none.
    pub fn delete_session(&mut self, peer: &NodeId) -> Result<bool, SqliteError> {
        let n = self
            .conn
            .execute("DELETE FROM sessions WHERE peer = ?1", [peer.as_bytes()])?;
        Ok(n > 0)
    }

    /// Peers whose session changed at `since` or later, most recent first,
    /// at most `limit` (capped at [`crate::MAX_QUERY_ROWS`]).
    pub fn recent_session_peers(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, SqliteError> {
        let mut stmt = self.conn.prepare(
            "SELECT peer FROM sessions WHERE updated >= ?1 ORDER BY updated DESC, peer LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![sql_time(since), sql_limit(limit)], |r| {
                r.get::<_, Vec<u8>>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|b| node_id_from_sql(SESSIONS, b)).collect()
    }

    /// Peers with a stored session (at most [`crate::MAX_QUERY_ROWS`]).
    pub fn session_peers(&self) -> Result<Vec<NodeId>, SqliteError> {
        let mut stmt = self
            .conn
            .prepare("SELECT peer FROM sessions ORDER BY peer LIMIT ?1")?;
        let rows = stmt
            .query_map([sql_limit(usize::MAX)], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().map(|b| node_id_from_sql(SESSIONS, b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, contains, key, raw_bytes};

    #[test]
    fn sessions_survive_reopen() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let peer = NodeId::from_bytes([3; 32]);
        let pickle: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let mut s = Store::open(&path, key(1)).unwrap();
        s.save_session(&peer, &pickle, UnixMillis(1)).unwrap();
        s.close().unwrap();
        let s = Store::open(&path, key(1)).unwrap();
        assert_eq!(s.load_session(&peer).unwrap().unwrap().as_slice(), pickle);
        assert_eq!(s.session_peers().unwrap(), vec![peer]);
    }

    #[test]
    fn recent_session_peers_are_the_latest_changed_first() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let p = |b: u8| NodeId::from_bytes([b; 32]);
        s.save_session(&p(1), b"a", UnixMillis(10)).unwrap();
        s.save_session(&p(2), b"b", UnixMillis(30)).unwrap();
        s.save_session(&p(3), b"c", UnixMillis(20)).unwrap();
        assert_eq!(
            s.recent_session_peers(UnixMillis(15), 10).unwrap(),
            [p(2), p(3)]
        );
        assert_eq!(s.recent_session_peers(UnixMillis(0), 1).unwrap(), [p(2)]);
    }

    #[test]
    fn replace_delete_and_limits() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let peer = NodeId::from_bytes([3; 32]);
        assert!(s.load_session(&peer).unwrap().is_none());
        s.save_session(&peer, b"one", UnixMillis(1)).unwrap();
        s.save_session(&peer, b"two", UnixMillis(2)).unwrap();
        assert_eq!(s.load_session(&peer).unwrap().unwrap().as_slice(), b"two");
        assert!(s.delete_session(&peer).unwrap());
        assert!(!s.delete_session(&peer).unwrap());
        assert!(s.load_session(&peer).unwrap().is_none());
        assert!(matches!(
            s.save_session(&peer, &vec![0; MAX_SESSION_PICKLE_BYTES + 1], UnixMillis(3)),
            Err(SqliteError::SessionPickleTooLarge(_))
        ));
    }

    #[test]
    fn pickles_are_sealed_and_bound_to_the_peer() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        let (a, b) = (NodeId::from_bytes([1; 32]), NodeId::from_bytes([2; 32]));
        s.save_session(&a, b"SESSION-SECRET-91c2", UnixMillis(1))
            .unwrap();
        s.save_session(&b, b"other", UnixMillis(1)).unwrap();
        assert!(!contains(&raw_bytes(&path), b"SESSION-SECRET-91c2"));
        s.conn
            .execute(
                "UPDATE sessions SET sealed = (SELECT sealed FROM sessions WHERE peer = ?1)
                 WHERE peer = ?2",
                [a.as_bytes(), b.as_bytes()],
            )
            .unwrap();
        assert!(matches!(
            s.load_session(&b),
            Err(SqliteError::Decrypt { table: "sessions" })
        ));
        assert!(s.load_session(&a).is_ok());
    }
}
