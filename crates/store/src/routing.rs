//! A snapshot of the routing table, saved periodically and at shutdown, so
//! a restarted node can contact known peers before any bootstrap node.

use rusqlite::params;
use tacnode_domain::{Endpoint, NodeType};

use crate::error::SqliteError;
use crate::{Store, node_id_from_sql, sql_time, time_from_sql};

pub use tacnode_domain::store::{
    MAX_ROUTING_SNAPSHOT_ENTRIES, MAX_SNAPSHOT_ENDPOINTS, RoutingEntry,
};
/// Longest text of one endpoint (`[v6 address%scope]:port`), for bounded parsing.
const MAX_ENDPOINT_TEXT: usize = 64;

const ROUTING: &str = "routing_snapshot";

fn type_code(t: NodeType) -> i64 {
    match t {
        NodeType::Server => 1,
        NodeType::Client => 2,
    }
}

fn type_from_code(c: i64) -> Result<NodeType, SqliteError> {
    match c {
        1 => Ok(NodeType::Server),
        2 => Ok(NodeType::Client),
        _ => Err(SqliteError::Corrupt {
            table: ROUTING,
            reason: "unknown node type",
        }),
    }
}

fn parse_endpoints(text: &str) -> Result<Vec<Endpoint>, SqliteError> {
    let corrupt = |reason| SqliteError::Corrupt {
        table: ROUTING,
        reason,
    };
    if text.len() > MAX_SNAPSHOT_ENDPOINTS * (MAX_ENDPOINT_TEXT + 1) {
        return Err(corrupt("endpoint list longer than its limit"));
    }
    let endpoints = text
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Endpoint>().map_err(|_| corrupt("bad endpoint")))
        .collect::<Result<Vec<_>, _>>()?;
    if endpoints.len() > MAX_SNAPSHOT_ENDPOINTS {
        return Err(corrupt("too many endpoints"));
    }
    Ok(endpoints)
}

impl Store {
    /// Replaces the saved snapshot with `entries`, atomically.
    pub fn save_routing_snapshot(&mut self, entries: &[RoutingEntry]) -> Result<(), SqliteError> {
        if entries.len() > MAX_ROUTING_SNAPSHOT_ENTRIES {
            return Err(SqliteError::RoutingSnapshotTooLarge(entries.len()));
        }
        if let Some(e) = entries
            .iter()
            .find(|e| e.endpoints.len() > MAX_SNAPSHOT_ENDPOINTS)
        {
            return Err(SqliteError::TooManyEndpoints(e.endpoints.len()));
        }
        let tx = self.conn.savepoint()?;
        tx.execute("DELETE FROM routing_snapshot", [])?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO routing_snapshot (node_id, node_type, last_seen, endpoints)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (node_id) DO UPDATE SET node_type = excluded.node_type,
                     last_seen = excluded.last_seen, endpoints = excluded.endpoints",
            )?;
            for e in entries {
                let endpoints = e
                    .endpoints
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                stmt.execute(params![
                    e.node_id.as_bytes(),
                    type_code(e.node_type),
                    sql_time(e.last_seen),
                    endpoints
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The saved snapshot, most recently seen first.
    pub fn load_routing_snapshot(&self) -> Result<Vec<RoutingEntry>, SqliteError> {
        let mut stmt = self.conn.prepare(
            "SELECT node_id, node_type, last_seen, endpoints FROM routing_snapshot
             ORDER BY last_seen DESC, node_id LIMIT ?1",
        )?;
        let limit = i64::try_from(MAX_ROUTING_SNAPSHOT_ENTRIES).unwrap_or(i64::MAX);
        let mut rows = stmt.query([limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(RoutingEntry {
                node_id: node_id_from_sql(ROUTING, &row.get::<_, Vec<u8>>(0)?)?,
                node_type: type_from_code(row.get(1)?)?,
                last_seen: time_from_sql(ROUTING, row.get(2)?)?,
                endpoints: parse_endpoints(&row.get::<_, String>(3)?)?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, key};
    use tacnode_domain::{NodeId, UnixMillis};

    fn entry(b: u8, seen: u64, node_type: NodeType, eps: &[&str]) -> RoutingEntry {
        RoutingEntry {
            node_id: NodeId::from_bytes([b; 32]),
            endpoints: eps.iter().map(|e| e.parse().unwrap()).collect(),
            node_type,
            last_seen: UnixMillis(seen),
        }
    }

    #[test]
    fn snapshot_round_trips_across_reopen_and_replaces() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let a = entry(
            1,
            10,
            NodeType::Server,
            &["10.0.0.1:4433", "[fe80::1]:4433"],
        );
        let b = entry(2, 20, NodeType::Client, &[]);
        let mut s = Store::open(&path, key(1)).unwrap();
        s.save_routing_snapshot(&[a.clone(), b.clone()]).unwrap();
        s.close().unwrap();
        let mut s = Store::open(&path, key(1)).unwrap();
        assert_eq!(s.load_routing_snapshot().unwrap(), vec![b, a.clone()]);
        s.save_routing_snapshot(std::slice::from_ref(&a)).unwrap();
        assert_eq!(s.load_routing_snapshot().unwrap(), vec![a]);
    }

    #[test]
    fn limits_are_enforced() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let many = vec!["10.0.0.1:1"; MAX_SNAPSHOT_ENDPOINTS + 1];
        assert!(matches!(
            s.save_routing_snapshot(&[entry(1, 1, NodeType::Server, &many)]),
            Err(SqliteError::TooManyEndpoints(_))
        ));
        let too_many: Vec<_> = (0..=MAX_ROUTING_SNAPSHOT_ENTRIES)
            .map(|i| entry((i % 256) as u8, 1, NodeType::Server, &[]))
            .collect();
        assert!(matches!(
            s.save_routing_snapshot(&too_many),
            Err(SqliteError::RoutingSnapshotTooLarge(_))
        ));
        s.conn
            .execute(
                "INSERT INTO routing_snapshot VALUES (?1, 1, 1, 'not-an-address')",
                [[7u8; 32].as_slice()],
            )
            .unwrap();
        assert!(matches!(
            s.load_routing_snapshot(),
            Err(SqliteError::Corrupt { .. })
        ));
    }
}
