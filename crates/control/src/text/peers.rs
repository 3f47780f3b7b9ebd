//! `tacnode peers` as a table an operator reads at a glance: one line per
//! peer with its name or address, node type, connection, round-trip time,
//! last sighting, path and endpoints.

use std::fmt::Write as _;

use crate::views::PeerView;

/// The peer column is at most this wide (a `key_…` address is cut short;
/// `--json` has it whole).
pub const MAX_PEER_COLUMN: usize = 24;
/// Round-trip times under this many µs are shown with one decimal (ms).
const FINE_RTT_US: u64 = 10_000;

/// The table of `peers`: a summary line, a header, then one line per peer.
/// `local_time(ms)` writes a Unix time in the operator's time zone;
/// `now_ms` is when the table is shown (for "12 s ago").
pub fn peers_table(
    peers: &[PeerView],
    routing_table_size: usize,
    now_ms: u64,
    local_time: &dyn Fn(u64) -> String,
) -> String {
    let connected = peers.iter().filter(|p| p.connected).count();
    let mut out = format!(
        "peers: {} ({routing_table_size} in the routing table, {connected} connected)\n",
        peers.len()
    );
    let names: Vec<String> = peers.iter().map(peer_label).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max("PEER".len());
    let _ = writeln!(
        out,
        "{:<width$}  {:<6}  {:<9}  {:>8}  {:<20}  {:<6}  ENDPOINTS",
        "PEER", "TYPE", "STATE", "RTT", "LAST SEEN", "PATH"
    );
    for (p, name) in peers.iter().zip(names) {
        let mut endpoints = p.endpoints.clone();
        if let Some(r) = &p.remote
            && !endpoints.contains(r)
        {
            endpoints.push(r.clone());
        }
        let _ = writeln!(
            out,
            "{name:<width$}  {:<6}  {:<9}  {:>8}  {:<20}  {:<6}  {}",
            p.node_type.as_deref().unwrap_or("?"),
            if p.connected { "connected" } else { "-" },
            p.rtt_us.map_or_else(|| "-".to_owned(), rtt),
            p.last_seen_ms.map_or_else(
                || "never".to_owned(),
                |t| format!("{} ({})", local_time(t), ago(t, now_ms))
            ),
            p.path.as_deref().unwrap_or("-"),
            if endpoints.is_empty() {
                "-".to_owned()
            } else {
                endpoints.join(" ")
            },
        );
    }
    out
}

/// The contact name, else the `key_…` address, else the node id, cut to
/// [`MAX_PEER_COLUMN`] characters; control characters dropped.
fn peer_label(p: &PeerView) -> String {
    let full = p
        .name
        .as_deref()
        .or(p.address.as_deref())
        .unwrap_or(&p.node_id);
    let clean: Vec<char> = full.chars().filter(|c| !c.is_control()).collect();
    if clean.len() <= MAX_PEER_COLUMN {
        return clean.into_iter().collect();
    }
    let mut cut: String = clean[..MAX_PEER_COLUMN - 1].iter().collect();
    cut.push('…');
    cut
}

/// "0.4 ms", "35 ms".
fn rtt(us: u64) -> String {
    if us < FINE_RTT_US {
        format!("{}.{} ms", us / 1000, us % 1000 / 100)
    } else {
        format!("{} ms", us / 1000)
    }
}

/// "now", "12 s ago", "3 min ago", "5 h ago", "2 days ago".
fn ago(t_ms: u64, now_ms: u64) -> String {
    let secs = now_ms.saturating_sub(t_ms) / 1000;
    match secs {
        0 => "now".to_owned(),
        1..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn peer(name: Option<&str>, connected: bool) -> PeerView {
        PeerView {
            node_id: "ab".repeat(32),
            address: Some(format!("key_{}", "7".repeat(48))),
            name: name.map(str::to_owned),
            node_type: Some("server".to_owned()),
            endpoints: vec!["10.0.0.2:4433".to_owned()],
            in_routing_table: true,
            connected,
            remote: connected.then(|| "10.0.0.2:4433".to_owned()),
            rtt_us: connected.then_some(420),
            path: connected.then(|| "direct".to_owned()),
            last_seen_ms: Some(1_000_000),
        }
    }

    fn local(ms: u64) -> String {
        format!("t{}", ms / 1000)
    }

    #[test]
    fn a_line_per_peer_with_its_connection_and_last_sighting() {
        let mut stranger = peer(None, false);
        stranger.node_type = None;
        stranger.endpoints.clear();
        stranger.last_seen_ms = None;
        let table = peers_table(
            &[peer(Some("bob\u{1b}[2J"), true), stranger],
            1,
            1_012_000,
            &local,
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert_eq!(
            lines[0], "peers: 2 (1 in the routing table, 1 connected)",
            "{table}"
        );
        assert!(lines[1].starts_with("PEER"), "{table}");
        // The contact by name (control characters dropped), connected.
        let bob: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            bob,
            [
                "bob[2J",
                "server",
                "connected",
                "0.4",
                "ms",
                "t1000",
                "(12",
                "s",
                "ago)",
                "direct",
                "10.0.0.2:4433"
            ],
            "{table}"
        );
        // A stranger by its address, cut short; what is unknown says so.
        let other: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(other[0].chars().count(), MAX_PEER_COLUMN, "{table}");
        assert!(other[0].starts_with("key_7") && other[0].ends_with('…'));
        assert_eq!(other[1..], ["?", "-", "-", "never", "-", "-"], "{table}");
        // The columns line up.
        let col = |l: &str| {
            let byte = l.find("server").or_else(|| l.find('?')).unwrap();
            l[..byte].chars().count()
        };
        assert_eq!(col(lines[2]), col(lines[3]));
    }

    #[test]
    fn round_trip_times_and_ages_read_at_a_glance() {
        assert_eq!(rtt(420), "0.4 ms");
        assert_eq!(rtt(9_999), "9.9 ms");
        assert_eq!(rtt(35_000), "35 ms");
        assert_eq!(ago(5_000, 5_500), "now");
        assert_eq!(ago(0, 59_000), "59 s ago");
        assert_eq!(ago(0, 180_000), "3 min ago");
        assert_eq!(ago(0, 5 * 3_600_000), "5 h ago");
        assert_eq!(ago(0, 2 * 86_400_000), "2 days ago");
        // A time ahead of ours (another clock) is "now", never negative.
        assert_eq!(ago(9_000, 1_000), "now");
    }

    #[test]
    fn a_remote_address_not_advertised_is_shown_too() {
        let mut p = peer(Some("carol"), true);
        p.endpoints.clear();
        p.remote = Some("192.0.2.7:50000".to_owned());
        let table = peers_table(&[p], 0, 1_000_000, &local);
        assert!(
            table.lines().nth(2).unwrap().ends_with("192.0.2.7:50000"),
            "{table}"
        );
    }
}
