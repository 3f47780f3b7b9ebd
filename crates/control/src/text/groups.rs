//! `tacnode group list` and `tacnode group members`.

use std::fmt::Write as _;

use crate::views::{GroupMemberView, GroupView};

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
        let role = match (g.member, g.admin) {
            (false, _) => "removed",
            (true, true) => "admin",
            (true, false) => "member",
        };
        let short = g.id.get(..8).unwrap_or(&g.id);
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
        };
        assert_eq!(
            groups(&[g]),
            "@squad              5 members  admin   2 links  id 01234567\n"
        );
        let m = GroupMemberView {
            address: "key_abc".to_owned(),
            name: Some("bob".to_owned()),
            role: "member".to_owned(),
            me: false,
            linked: true,
        };
        assert_eq!(
            group_members("squad", &[m]),
            "@squad: 1 members\n  bob              member key_abc  linked\n"
        );
    }
}
