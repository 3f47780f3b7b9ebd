//! Group channels in the simulator: every member owed a text gets it once,
//! views agree after a partition heals, removed members read nothing
//! written after their removal, and the bytes stay within the targets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacnode_sim::group::scenario::{GroupScenario, run_group_scenario};

/// The run: 50 members, 1,000 texts over 12 hours, 30 % churn, a
/// 6-hour partition with a removal on each side
/// (`tacnode-sim group --members 50 --messages 1000 --churn 0.3 --partition 6h`).
fn faults() -> GroupScenario {
    GroupScenario::default()
}

#[test]
fn fifty_members_through_churn_a_partition_and_two_removals() {
    let m = run_group_scenario(&faults()).expect("a group");
    assert!(m.sent >= 990, "{m:?}");
    assert_eq!(m.delivered, m.expected, "{m:?}");
    assert_eq!(m.duplicates, 0);
    assert_eq!(m.order_violations, 0);
    assert!(m.views_identical);
    assert_eq!(m.removed_read_after_removal, 0);
    // Concurrent with a removal on the other side of the cut: readable,
    // and counted so.
    assert!(m.removed_read_concurrent > 0);
    assert!(m.sender_copies_max <= 8, "{m:?}");
    assert!(m.bytes_ratio <= 1.5, "{m:?}");
}

#[test]
fn without_faults_a_text_costs_about_what_unicast_does() {
    let m = run_group_scenario(&GroupScenario {
        messages: 300,
        churn: 0.0,
        partition_ms: 0,
        removals: false,
        ..faults()
    })
    .expect("a group");
    assert_eq!(m.delivered, m.expected);
    assert!(m.bytes_ratio <= 1.25, "{m:?}");
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let small = GroupScenario {
        members: 12,
        messages: 60,
        hours: 2.0,
        partition_ms: 1_800_000,
        ..GroupScenario::default()
    };
    let a = run_group_scenario(&small).expect("a group");
    let b = run_group_scenario(&small).expect("a group");
    assert_eq!(a, b);
    let c = run_group_scenario(&GroupScenario { seed: 2, ..small }).expect("a group");
    assert_ne!(a.trace, c.trace);
}
