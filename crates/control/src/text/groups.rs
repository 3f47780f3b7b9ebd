//! `tacnode group list`, `tacnode group members`, `tacnode services` and
//! the alerts `inbox --follow` shows.

use std::fmt::Write as _;

use crate::views::{GroupMemberView, GroupView, ServiceView};

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// One line per group: name, members, this node's role, links up.
pub fn groups(groups: &[GroupView]) -> String {
    if groups.is_empty() {
        return "no groups; create one with `tacnode group create NAME`\n".to_owned();
    }
    let mut out = String::new();
    for g in groups {
        let short = g.id.get(..8).unwrap_or(&g.id);
        if let Some(why) = &g.unreadable {
            let _ = writeln!(
                out,
                "{:<17} unreadable ({}): left out; an admin adding this node again replaces it  id {short}",
                "?",
                clean(why)
            );
            continue;
        }
        let role = match (g.member, g.admin) {
            (false, _) => "removed",
            (true, true) => "admin",
            (true, false) => "member",
        };
        let _ = writeln!(
            out,
            "@{:<16} {:>3} members  {role:<7} {} links  id {short}",
            clean(&g.name),
            g.members,
            g.links
        );
    }
    out
}

/// The members of `group`, one per line.
pub fn group_members(group: &str, members: &[GroupMemberView]) -> String {
    let mut out = format!("@{}: {} members\n", clean(group), members.len());
    for m in members {
        let who = match (&m.name, m.me) {
            (_, true) => "(this node)".to_owned(),
            (Some(n), false) => clean(n),
            (None, false) => m.address.chars().take(16).collect(),
        };
        let linked = if m.linked { "  linked" } else { "" };
        let _ = writeln!(out, "  {who:<16} {:<6} {}{linked}", m.role, m.address);
    }
    out
}

/// One line per service on offer, as seen at `now_ms`.
pub fn services(services: &[ServiceView], now_ms: u64) -> String {
    if services.is_empty() {
        return "no services advertised; offer one with `tacnode announce --service NAME`\n"
            .to_owned();
    }
    let mut out = String::new();
    for s in services {
        let who = s
            .author_name
            .as_deref()
            .map_or_else(|| s.address.chars().take(16).collect(), clean);
        let left = s.until_ms.saturating_sub(now_ms) / 60_000;
        let _ = writeln!(
            out,
            "{:<16} by {who:<16} {left} min left  {}",
            clean(&s.name),
            clean(&s.detail)
        );
    }
    out
}

/// An alert for every operator, as `inbox --follow` shows it.
pub fn alert(from: &str, text: &str, time_ms: u64) -> String {
    format!("{time_ms} !! alert from {}: {}", clean(from), clean(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_members_read_as_lines() {
        assert!(groups(&[]).contains("group create"));
        let g = GroupView {
            id: "0123456789abcdef".to_owned(),
            name: "squad\u{1b}".to_owned(),
            members: 5,
            admin: true,
            member: true,
            links: 2,
            unreadable: None,
        };
        let damaged = GroupView {
            id: "fedcba9876543210".to_owned(),
            name: String::new(),
            members: 0,
            admin: false,
            member: false,
            links: 0,
            unreadable: Some("not a group pickle\u{1b}".to_owned()),
        };
        assert_eq!(
            groups(&[g, damaged]),
            "@squad              5 members  admin   2 links  id 01234567\n\
             ?                 unreadable (not a group pickle): left out; an admin adding this \
             node again replaces it  id fedcba98\n"
        );
        let m = GroupMemberView {
            address: "key_abc".to_owned(),
            name: Some("bob".to_owned()),
            role: "member".to_owned(),
            me: false,
            linked: true,
        };
        assert_eq!(
            alert("bob\u{1b}", "gas\u{7}", 5),
            "5 !! alert from bob: gas"
        );
        let s = ServiceView {
            name: "medic".to_owned(),
            detail: "at the bridge".to_owned(),
            address: "key_abcdefghijklmnopq".to_owned(),
            author_name: None,
            until_ms: 600_000,
        };
        assert_eq!(
            services(&[s], 0),
            "medic            by key_abcdefghijkl 10 min left  at the bridge\n"
        );
        assert_eq!(
            group_members("squad", &[m]),
            "@squad: 1 members\n  bob              member key_abc  linked\n"
        );
    }
}
