//! Onion routing in the whole-node simulator: messages and their receipts
//! go through relays as Sphinx packets, arrive once and in order under
//! churn, and the privacy measurement sees what each adversary learns.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacnode_sim::node::scenario::{NodeScenario, run_node_scenario};
use tacnode_usecase::node::PrivacyMode;

fn scenario(privacy: PrivacyMode, churn: f64, seed: u64) -> NodeScenario {
    NodeScenario {
        nodes: 30,
        servers: 0.5,
        messages: 80,
        churn,
        hours: 0.2,
        seed,
        idle_window_ms: 60_000,
        drain_hours: 3.0,
        privacy: Some(privacy),
        ..NodeScenario::default()
    }
}

#[test]
fn through_relays_no_single_node_learns_who_writes_to_whom_and_timing_no_longer_names_every_sender()
{
    let direct = run_node_scenario(&scenario(PrivacyMode::Direct, 0.0, 3)).unwrap();
    let onion = run_node_scenario(&scenario(PrivacyMode::Onion, 0.0, 3)).unwrap();
    for report in [&direct, &onion] {
        assert_eq!(report.delivered, report.accepted, "{report:?}");
        assert_eq!(report.acknowledged, report.delivered, "{report:?}");
        assert_eq!(report.duplicates, 0, "{report:?}");
        assert_eq!(report.order_violations, 0, "{report:?}");
    }
    let (d, o) = (direct.privacy.unwrap(), onion.privacy.unwrap());
    // Direct: every delivery names its sender on the wire.
    assert_eq!(d.timing_top1_accuracy, 1.0, "{d:?}");
    // Through relays: each packet (a message or its receipt) crossed
    // relays, none of which saw both ends.
    assert!(o.packets >= 2 * onion.delivered, "{o:?}");
    assert_eq!(o.messages, onion.delivered, "{o:?}");
    assert_eq!(o.pairs_learnt_by_single_node, 0, "{o:?}");
    // Sessions started from prekeys asked of their holders through
    // relays: no lookup named them (direct mode fetches bundles from the
    // recipients themselves).
    assert_eq!(o.pairs_learnt_from_prekey_lookups, 0, "{o:?}");
}

#[test]
fn cover_traffic_and_mixing_hide_senders_from_a_global_observer() {
    let plain = NodeScenario {
        nodes: 20,
        messages: 40,
        hours: 0.1,
        ..scenario(PrivacyMode::Onion, 0.0, 7)
    };
    let covered = NodeScenario {
        cover_bps: 2_000,
        mix_delay_ms: 1_000,
        ..plain.clone()
    };
    let plain = run_node_scenario(&plain).unwrap();
    let covered = run_node_scenario(&covered).unwrap();
    for report in [&plain, &covered] {
        assert_eq!(report.delivered, report.accepted, "{report:?}");
        assert_eq!(report.acknowledged, report.delivered, "{report:?}");
        assert_eq!(report.duplicates, 0, "{report:?}");
    }
    let (p, c) = (plain.privacy.unwrap(), covered.privacy.unwrap());
    // Without cover the observer walks back from each delivery to its
    // sender; with it, every node sends all the time.
    assert!(p.timing_top1_accuracy > 0.8, "{p:?}");
    assert!(c.loops > 0, "{c:?}");
    assert!(
        c.timing_top1_accuracy < p.timing_top1_accuracy / 2.0,
        "{p:?} {c:?}"
    );
}

#[test]
fn onion_routed_messages_survive_churn_once_and_in_order_and_their_holders_learn_no_depositor() {
    let report = run_node_scenario(&scenario(PrivacyMode::Onion, 0.3, 5)).unwrap();
    assert!(report.accepted > 60, "{report:?}");
    assert_eq!(report.delivered, report.accepted, "{report:?}");
    assert_eq!(report.acknowledged, report.delivered, "{report:?}");
    assert_eq!(report.duplicates, 0, "{report:?}");
    assert_eq!(report.order_violations, 0, "{report:?}");
    // Recipients that were away got their mail from mailboxes, deposited
    // through relays: no holder saw who deposited.
    let privacy = report.privacy.unwrap();
    assert!(privacy.deposits > 0, "{privacy:?}");
    assert_eq!(privacy.pairs_learnt_by_single_node, 0, "{privacy:?}");
}
