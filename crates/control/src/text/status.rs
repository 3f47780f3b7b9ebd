//! `tacnode status`: the node, its place in the network, what waits, the
//! clock, the storage and the admission, one line each.

use std::fmt::Write as _;

use crate::response::Response;

/// A [`Response::Status`] as seen at `now_ms` (for the days the member
/// certificate has left). Empty for any other response.
pub fn status(r: &Response, now_ms: u64) -> String {
    let Response::Status {
        address,
        node_type,
        listen,
        uptime_secs,
        routing_table_size,
        connected_peers,
        outbox_pending,
        mailbox_entries_held,
        clock_offset_ms,
        clock_warning,
        storage_failure,
        admission,
        revoked_members,
        certificate_expires_ms,
        observed_address,
        reachability,
        relay,
    } = r
    else {
        return String::new();
    };
    let (h, m) = (uptime_secs / 3600, uptime_secs % 3600 / 60);
    let mut out = format!("address:   {address}\n");
    let _ = writeln!(
        out,
        "node:      {node_type}, listening on {listen}, up {h}h {m:02}m"
    );
    let _ = if *routing_table_size == 0 {
        writeln!(
            out,
            "network:   NOT JOINED: no peer answers yet; check bootstrap.peers and the network"
        )
    } else {
        writeln!(
            out,
            "network:   joined: {routing_table_size} peers in the routing table, {connected_peers} connected"
        )
    };
    let _ = writeln!(out, "outbox:    {outbox_pending} messages waiting to go");
    let _ = writeln!(
        out,
        "mailboxes: {mailbox_entries_held} entries held for others"
    );
    let _ = match (clock_warning, clock_offset_ms) {
        (Some(w), _) => writeln!(out, "clock:     WARNING: {w}"),
        (None, Some(ms)) => writeln!(
            out,
            "clock:     in step with peers (median offset {ms:+} ms)"
        ),
        (None, None) => writeln!(out, "clock:     not compared yet (too few peers heard)"),
    };
    let _ = match storage_failure {
        Some(f) => writeln!(out, "storage:   FAILED ({f}); incoming mail was refused"),
        None => writeln!(out, "storage:   ok"),
    };
    let _ = if admission == "closed" {
        let days = certificate_expires_ms
            .map(|t| t.saturating_sub(now_ms) / 86_400_000)
            .unwrap_or(0);
        writeln!(
            out,
            "admission: closed network, {revoked_members} members revoked; \
             own certificate valid {days} more days"
        )
    } else {
        writeln!(out, "admission: open network")
    };
    let seen = observed_address.as_deref().map_or_else(
        || "not agreed by peers yet".to_owned(),
        |a| format!("seen at {a}"),
    );
    let _ = match reachability.as_deref() {
        Some("public") => writeln!(out, "reach:     {seen}; public (a server dialled it back)"),
        Some(_) => match relay {
            Some(r) => writeln!(
                out,
                "reach:     {seen}; PRIVATE: behind a NAT or firewall; called through relay {r}"
            ),
            None => writeln!(
                out,
                "reach:     {seen}; PRIVATE: behind a NAT or firewall, reached only over connections it opens (no relay yet)"
            ),
        },
        None => match relay {
            Some(r) => writeln!(
                out,
                "reach:     {seen}; not checked by a server yet; called through relay {r}"
            ),
            None => writeln!(out, "reach:     {seen}; not checked by a server yet"),
        },
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(routing_table_size: usize, admission: &str) -> Response {
        Response::Status {
            address: "key_abc".to_owned(),
            node_type: "server".to_owned(),
            listen: "0.0.0.0:4433".to_owned(),
            uptime_secs: 3 * 3600 + 7 * 60 + 5,
            routing_table_size,
            connected_peers: 2,
            outbox_pending: 1,
            mailbox_entries_held: 4,
            clock_offset_ms: Some(-12),
            clock_warning: None,
            storage_failure: None,
            admission: admission.to_owned(),
            revoked_members: 3,
            certificate_expires_ms: Some(10 * 86_400_000 + 5),
            observed_address: None,
            reachability: None,
            relay: None,
        }
    }

    #[test]
    fn one_line_each_and_what_to_check_when_not_joined() {
        assert_eq!(
            status(&answer(5, "open"), 0),
            "address:   key_abc\n\
             node:      server, listening on 0.0.0.0:4433, up 3h 07m\n\
             network:   joined: 5 peers in the routing table, 2 connected\n\
             outbox:    1 messages waiting to go\n\
             mailboxes: 4 entries held for others\n\
             clock:     in step with peers (median offset -12 ms)\n\
             storage:   ok\n\
             admission: open network\n\
             reach:     not agreed by peers yet; not checked by a server yet\n"
        );
        let lonely = status(&answer(0, "closed"), 86_400_000);
        assert!(
            lonely.contains("network:   NOT JOINED: no peer answers yet; check bootstrap.peers"),
            "{lonely}"
        );
        assert!(
            lonely.contains(
                "admission: closed network, 3 members revoked; own certificate valid 9 more days\n"
            ),
            "{lonely}"
        );
        let mut natted = answer(5, "open");
        if let Response::Status {
            observed_address,
            reachability,
            ..
        } = &mut natted
        {
            *observed_address = Some("203.0.113.7:40001".to_owned());
            *reachability = Some("private".to_owned());
        }
        assert!(
            status(&natted, 0).ends_with(
                "reach:     seen at 203.0.113.7:40001; PRIVATE: behind a NAT or firewall, \
                 reached only over connections it opens (no relay yet)\n"
            ),
            "{}",
            status(&natted, 0)
        );
        if let Response::Status { relay, .. } = &mut natted {
            *relay = Some("ab12 at 198.51.100.1:4500".to_owned());
        }
        assert!(
            status(&natted, 0).ends_with(
                "reach:     seen at 203.0.113.7:40001; PRIVATE: behind a NAT or firewall; \
                 called through relay ab12 at 198.51.100.1:4500\n"
            ),
            "{}",
            status(&natted, 0)
        );
        assert_eq!(status(&Response::Ok, 0), "");
    }
}
