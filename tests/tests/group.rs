//! Team channels between real nodes over real QUIC on 127.0.0.1: six
//! nodes, a group of five, one member away and back, one removed.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Nodes are named by their index (n0 … n5) in the assertions.
#![allow(clippy::needless_range_loop)]

use std::collections::HashSet;
use std::time::Duration;

use tacnode::node::NodeHandle;
use tacnode_domain::Direction;
use tacnode_domain::group::GroupId;
use tacnode_tests::{TestNode, eventually, test_node};

const LONG: Duration = Duration::from_secs(120);

/// The group texts in `h`'s history, in its order: (written here, text).
async fn group_texts(h: &NodeHandle, group: GroupId) -> Vec<(bool, String)> {
    h.inbox(usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|(m, _)| m.group == Some(group))
        .map(|(m, _)| (m.direction == Direction::Outbound, m.text))
        .collect()
}

/// Whether `h` has received `text` in the group.
async fn has(h: &NodeHandle, group: GroupId, text: &str) -> bool {
    group_texts(h, group)
        .await
        .iter()
        .any(|(ours, t)| !ours && t == text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_five_over_quic_reaches_a_returning_member_and_not_a_removed_one() {
    let root = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut nodes: Vec<TestNode> = Vec::new();
    let mut first = test_node(root.path(), "n0", 300, None);
    first.start().await.unwrap();
    nodes.push(first);
    for i in 1..6u64 {
        let mut n = test_node(root.path(), &format!("n{i}"), 300 + i, Some(&nodes[0]));
        n.start().await.unwrap();
        nodes.push(n);
    }
    for n in &nodes {
        let h = n.handle().unwrap();
        h.wait_for_routing(3, Duration::from_secs(20)).await;
        h.publish().await.unwrap();
    }
    // n1 is the admin; n2..n5 the members; n0 stays outside.
    let admin = nodes[1].handle().unwrap();
    let info = admin.create_group("squad").await.unwrap();
    assert!(info.admin && info.member && info.members == 1);
    let group = info.id;
    // An invitation is taken from a contact only: n2..n4 know the admin;
    // n5 is invited first and adds the admin later, and joins then.
    for i in 2..5 {
        let h = nodes[i].handle().unwrap();
        h.add_contact("admin", &nodes[1].address()).await.unwrap();
    }
    for i in 2..6 {
        admin.group_add("squad", &nodes[i].address()).await.unwrap();
    }
    let late = nodes[5].handle().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        late.groups().await.unwrap().is_empty(),
        "joined a stranger's group"
    );
    late.add_contact("admin", &nodes[1].address())
        .await
        .unwrap();
    // Each member joins from its invitation and sees all five.
    for i in 2..6 {
        let h = nodes[i].handle().unwrap();
        assert!(
            eventually(LONG, async || h
                .groups()
                .await
                .unwrap()
                .iter()
                .any(|g| g.id == group && g.members == 5))
            .await,
            "n{i} did not join: {:?}",
            h.groups().await.unwrap()
        );
    }
    eprintln!("joined after {:.1} s", t0.elapsed().as_secs_f64());
    // Only an admin changes the members; the error says so.
    let member = nodes[2].handle().unwrap();
    let refused = member.group_remove("squad", &nodes[3].address()).await;
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("not an admin of \"squad\"")
    );

    admin.send_group("squad", "hello team").await.unwrap();
    nodes[3]
        .handle()
        .unwrap()
        .send_group("squad", "n3 here")
        .await
        .unwrap();
    for i in 1..6 {
        let h = nodes[i].handle().unwrap();
        if i != 1 {
            assert!(
                eventually(LONG, async || has(&h, group, "hello team").await).await,
                "n{i}: {:?}",
                group_texts(&h, group).await
            );
        }
        if i != 3 {
            assert!(
                eventually(LONG, async || has(&h, group, "n3 here").await).await,
                "n{i}: {:?}",
                group_texts(&h, group).await
            );
        }
    }

    eprintln!("first texts after {:.1} s", t0.elapsed().as_secs_f64());
    // n5 goes away; the others talk on.
    nodes[5].stop().await;
    for k in 0..3 {
        admin
            .send_group("squad", &format!("while away {k}"))
            .await
            .unwrap();
    }
    member.send_group("squad", "n2 while away").await.unwrap();
    for i in 2..5 {
        let h = nodes[i].handle().unwrap();
        let want = if i == 2 {
            "while away 2"
        } else {
            "n2 while away"
        };
        assert!(
            eventually(LONG, async || has(&h, group, want).await).await,
            "n{i}: {:?}",
            group_texts(&h, group).await
        );
    }
    eprintln!("texts while away after {:.1} s", t0.elapsed().as_secs_f64());
    // Back, it gets what it missed from its neighbours.
    let back = nodes[5].start().await.unwrap();
    back.wait_for_routing(2, Duration::from_secs(20)).await;
    for want in [
        "while away 0",
        "while away 1",
        "while away 2",
        "n2 while away",
    ] {
        assert!(
            eventually(LONG, async || has(&back, group, want).await).await,
            "n5 missed {want:?}: {:?}",
            group_texts(&back, group).await
        );
    }

    eprintln!("n5 caught up after {:.1} s", t0.elapsed().as_secs_f64());
    // n4 is removed: the rest read on, it reads nothing sent after.
    admin
        .group_remove("squad", &nodes[4].address())
        .await
        .unwrap();
    let removed = nodes[4].handle().unwrap();
    assert!(
        eventually(LONG, async || removed
            .groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.id == group && !g.member))
        .await,
        "n4 never learnt of its removal"
    );
    admin.send_group("squad", "after removal").await.unwrap();
    member
        .send_group("squad", "n2 after removal")
        .await
        .unwrap();
    for i in [2usize, 3, 5] {
        let h = nodes[i].handle().unwrap();
        for want in ["after removal", "n2 after removal"] {
            if i == 2 && want == "n2 after removal" {
                continue;
            }
            assert!(
                eventually(LONG, async || has(&h, group, want).await).await,
                "n{i} missed {want:?}: {:?}",
                group_texts(&h, group).await
            );
        }
    }
    eprintln!("after removal after {:.1} s", t0.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = group_texts(&removed, group).await;
    assert!(
        !seen.iter().any(|(_, t)| t.contains("after removal")),
        "the removed member read {seen:?}"
    );
    assert!(
        removed.send_group("squad", "still here?").await.is_err(),
        "a removed member cannot write"
    );
    // No member has any message twice; the node outside has none.
    for i in 1..6 {
        let texts = group_texts(&nodes[i].handle().unwrap(), group).await;
        let unique: HashSet<_> = texts.iter().collect();
        assert_eq!(unique.len(), texts.len(), "n{i}: {texts:?}");
    }
    assert!(
        group_texts(&nodes[0].handle().unwrap(), group)
            .await
            .is_empty()
    );
    let outside = nodes[0].handle().unwrap().groups().await;
    assert!(
        outside.as_ref().is_ok_and(Vec::is_empty),
        "the node outside: {outside:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_and_a_service_reach_every_node_over_quic() {
    let root = tempfile::tempdir().unwrap();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut nodes: Vec<TestNode> = Vec::new();
    let mut first = test_node(root.path(), "n0", 400, None);
    first.start().await.unwrap();
    nodes.push(first);
    for i in 1..5u64 {
        let mut n = test_node(root.path(), &format!("n{i}"), 400 + i, Some(&nodes[0]));
        n.start().await.unwrap();
        nodes.push(n);
    }
    let mut events = Vec::new();
    for n in &nodes {
        let h = n.handle().unwrap();
        h.wait_for_routing(3, Duration::from_secs(20)).await;
        h.publish().await.unwrap();
        events.push(h.subscribe());
    }
    let author = nodes[2].handle().unwrap();
    author.announce("gas at grid 4417").await.unwrap();
    author.advertise("medic", "at the bridge", 2).await.unwrap();
    for (i, rx) in events.iter_mut().enumerate() {
        if i == 2 {
            continue;
        }
        assert!(
            tacnode_tests::wait_event(rx, LONG, |e| matches!(
                e,
                tacnode::node::NodeEvent::Alert { text, .. } if text == "gas at grid 4417"
            ))
            .await,
            "n{i} heard no alert"
        );
        let h = nodes[i].handle().unwrap();
        assert!(
            eventually(LONG, async || h
                .services()
                .await
                .unwrap()
                .iter()
                .any(|s| s.name == "medic" && s.detail == "at the bridge"))
            .await,
            "n{i} lists no medic"
        );
    }
    // Six an hour: the seventh is refused, with why.
    for k in 0..4 {
        author.announce(&format!("update {k}")).await.unwrap();
    }
    let refused = author.announce("one too many").await.unwrap_err();
    assert!(refused.to_string().contains("announcement"), "{refused}");
}
