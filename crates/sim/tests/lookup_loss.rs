//! Lookups under datagram loss. QUIC retransmits a lost datagram within the
//! request timeout, so loss delays requests rather than failing them, and a
//! request that still times out is retried once before its contact counts
//! as failed: lookups succeed as they do without loss.

use tacnode_sim::{LookupReport, LookupScenario, run_lookup_scenario};

/// Smallest accepted fraction of successful lookups at 5 % loss (the
/// radio profile's; #18's target).
const MIN_SUCCESS_AT_5_PERCENT: f64 = 0.999;
/// Smallest accepted fraction of successful lookups at 20 % loss.
const MIN_SUCCESS_AT_20_PERCENT: f64 = 0.99;

fn run(loss: f64, lookups: usize) -> LookupReport {
    let s = LookupScenario {
        nodes: 300,
        lookups,
        seed: 3,
        loss,
        ..LookupScenario::default()
    };
    let r = run_lookup_scenario(&s);
    assert_eq!(r.dht.lookups, s.lookups, "seed {}", s.seed);
    assert_eq!(r.oracle.lookups, s.lookups, "seed {}", s.seed);
    r
}

fn assert_succeeds(loss: f64, lookups: usize, min_success: f64) {
    let r = run(loss, lookups);
    let seed = r.scenario.seed;
    assert!(
        r.dht.success_rate() >= min_success,
        "loss {loss}, seed {seed}: dht {:?}",
        r.dht
    );
    assert!(
        r.oracle.success_rate() >= min_success,
        "loss {loss}, seed {seed}: oracle {:?}",
        r.oracle
    );
}

#[test]
fn lookups_succeed_at_five_percent_loss() {
    // 1,000 lookups: at most one may fail.
    assert_succeeds(0.05, 1_000, MIN_SUCCESS_AT_5_PERCENT);
}

#[test]
fn lookups_succeed_at_twenty_percent_loss() {
    assert_succeeds(0.2, 300, MIN_SUCCESS_AT_20_PERCENT);
}
