//! The daemon's answers as the operator reads them on a terminal (`--json`
//! prints them as they came instead).

use anyhow::Result;

use tacnode_control::{ContactView, MessageView, OutboxView, PeerView, Response};

/// `tacnode contacts list`.
pub(crate) fn contacts(contacts: &[ContactView]) {
    for c in contacts {
        let flag = if c.identity_changed {
            "KEYS CHANGED - verify before sending"
        } else if c.verified {
            "verified"
        } else {
            "unverified"
        };
        println!("{:<20} {} [{flag}]", c.name, c.address);
    }
}

/// `tacnode contacts verify`: the numbers to compare and what to do next.
pub(crate) fn safety_number(r: &Response, qr: bool) -> Result<()> {
    let Response::SafetyNumber {
        name,
        digits,
        device_code,
        qr_payload_hex,
        verified,
    } = r
    else {
        return Ok(());
    };
    println!("safety number with {name}:");
    println!("  {digits}");
    match device_code {
        Some(code) => println!("device code (compare it too after a key change):\n  {code}"),
        None => println!("device code: not yet known (no session with {name} yet)"),
    }
    if qr {
        let bytes: Vec<u8> = (0..qr_payload_hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&qr_payload_hex[2 * i..2 * i + 2], 16).ok())
            .collect();
        println!("{}", crate::qr::render(&bytes)?);
    }
    if *verified {
        println!("{name} is verified.");
    } else {
        println!("compare it with {name} in person or over a trusted channel, then run");
        println!("  tacnode contacts verify {name} --confirm");
    }
    Ok(())
}

/// One inbox line. Remote text never reaches the terminal raw: control
/// characters other than newlines are escaped, and dropped from names.
pub(crate) fn message(m: MessageView) -> String {
    let who = m.peer_name.unwrap_or(m.peer_address);
    let arrow = if m.direction == "in" { "<-" } else { "->" };
    let text: String = m
        .text
        .chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    let who: String = who.chars().filter(|c| !c.is_control()).collect();
    format!("{} {arrow} {who} [{}] {text}", m.time_ms, m.status)
}

/// While following the inbox: one of our messages changed status.
pub(crate) fn status_change(message_id: &str, status: &str, reason: Option<String>) -> String {
    let short = message_id.get(..8).unwrap_or(message_id);
    let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
    format!(
        "{} -> [{status}] message {short}{why}",
        crate::node::now().0
    )
}

/// `tacnode peers`: the table, times in the local time zone.
pub(crate) fn peers(peers: &[PeerView], routing_table_size: usize) -> String {
    let now = crate::node::now().0;
    let local = |t| tacnode_chat::system_local_time(t, now);
    tacnode_control::peers_table(peers, routing_table_size, now, &local)
}

/// `tacnode outbox`: each waiting message, its age and its next try.
pub(crate) fn outbox(entries: &[OutboxView]) {
    let now = crate::node::now().0;
    println!("{} messages waiting", entries.len());
    for e in entries {
        let short = e.message_id.get(..8).unwrap_or(&e.message_id);
        let age = now.saturating_sub(e.queued_ms) / 1000;
        let next = match (e.state.as_str(), e.next_attempt_ms) {
            ("sending", _) => "sending now".to_owned(),
            (_, Some(t)) => format!("next try in {} s", t.saturating_sub(now) / 1000),
            (_, None) => "not scheduled".to_owned(),
        };
        println!(
            "  {short}  to {:<16} queued {age} s ago, {} failed attempts, {next}",
            e.to, e.attempts
        );
        if let Some(r) = &e.reason {
            println!("            {r}");
        }
    }
}

/// `tacnode status`.
pub(crate) fn status(r: &Response) {
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
    } = r
    else {
        return;
    };
    let (h, m) = (uptime_secs / 3600, uptime_secs % 3600 / 60);
    println!("address:   {address}");
    println!("node:      {node_type}, listening on {listen}, up {h}h {m:02}m");
    if *routing_table_size == 0 {
        println!(
            "network:   NOT JOINED: no peer answers yet; check bootstrap.peers and the network"
        );
    } else {
        println!(
            "network:   joined: {routing_table_size} peers in the routing table, {connected_peers} connected"
        );
    }
    println!("outbox:    {outbox_pending} messages waiting to go");
    println!("mailboxes: {mailbox_entries_held} entries held for others");
    match (clock_warning, clock_offset_ms) {
        (Some(w), _) => println!("clock:     WARNING: {w}"),
        (None, Some(ms)) => println!("clock:     in step with peers (median offset {ms:+} ms)"),
        (None, None) => println!("clock:     not compared yet (too few peers heard)"),
    }
    match storage_failure {
        Some(f) => println!("storage:   FAILED ({f}); incoming mail was refused"),
        None => println!("storage:   ok"),
    }
    if admission == "closed" {
        let days = certificate_expires_ms
            .map(|t| t.saturating_sub(crate::node::now().0) / 86_400_000)
            .unwrap_or(0);
        println!(
            "admission: closed network, {revoked_members} members revoked; \
             own certificate valid {days} more days"
        );
    } else {
        println!("admission: open network");
    }
}
