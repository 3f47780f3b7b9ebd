//! `tacnode-sim`: runs simulated DHT scenarios and prints their measurements.
//!
//! ```text
//! tacnode-sim lookup --nodes N --lookups L --seed S [--crash F] [--malicious F]
//!                    [--malicious-from-join] [--admission] [--malicious-members]
//!                    [--clients F] [--loss F] [--k K] [--alpha A] [--disjoint D] [--json]
//! tacnode-sim node --nodes N --servers F --messages M --churn F --hours H --seed S
//!                  [--loss F] [--bandwidth-kbps K] [--partition AT_S:FOR_S[:GROUPS]] [--skew F:HOURS]
//!                  [--drain-hours H] [--store memory|sqlite] [--profile lan|radio]
//!                  [--idle-minutes M] [--privacy direct|onion] [--relays R]
//!                  [--cover BITS_PER_S] [--mix-delay-ms MS] [--adversary-fraction F]
//!                  [--json]
//! tacnode-sim group --members M --messages N --churn F --partition DURATION --seed S
//!                   [--hours H] [--text-bytes B] [--latency-ms L] [--profile lan|radio] [--json]
//! ```
//!
//! `--admission` closes the network: handshakes between members and
//! non-members fail both ways, and the malicious nodes are outsiders
//! without member certificates, unless `--malicious-members` makes them
//! compromised members.
//!
//! `--profile radio` puts every node on a 64 kbit/s uplink, 150 ± 30 ms one
//! way and 5 % loss, running the radio schedule (`NodeConfig::radio`,
//! `TransportConfig::radio`, as `deploy/radio.example.toml`); flags after it
//! still change the link. `--idle-minutes M` sets the idle window that
//! measures background traffic (default 10).
//!
//! `--privacy direct|onion` sets how every node sends and measures what
//! adversaries learn (a `privacy` object: see `node::privacy`), with
//! `--adversary-fraction F` of the servers colluding (default 0.2) and
//! `--relays R` per onion path (default 3) and `--cover BITS_PER_S` of
//! cover traffic per node (default 0: off), each relay holding a packet
//! `--mix-delay-ms MS` on average (default 50).
//!
//! `--bandwidth-kbps K` gives every node an uplink of K kbit/s (1 kbit =
//! 1,000 bits; default unlimited, as on the testbed's unshaped `lan`
//! profile): a frame waits behind what its sender queued before it and takes
//! size / rate to serialise (the `radio` profile is `--bandwidth-kbps 64`).

mod group_command;

use std::process::ExitCode;
use std::time::Instant;

use tacnode_sim::node::scenario::{NodeScenario, PartitionPlan, run_node_scenario};
use tacnode_sim::{LookupMetrics, LookupScenario, Summary, run_lookup_scenario};

const USAGE: &str = "usage: tacnode-sim lookup --nodes N --lookups L --seed S [--crash F] \
[--malicious F] [--malicious-from-join] [--admission] [--malicious-members] [--clients F] [--loss F] [--k K] [--alpha A] [--disjoint D] [--timeout MS] [--json]
       tacnode-sim node --nodes N --servers F --messages M --churn F --hours H --seed S \
[--loss F] [--bandwidth-kbps K] [--partition AT_S:FOR_S[:GROUPS]] [--skew F:HOURS] \
[--drain-hours H] [--store memory|sqlite] [--profile lan|radio] [--idle-minutes M] \
[--privacy direct|onion] [--relays R] [--cover BITS_PER_S] [--mix-delay-ms MS] \
[--adversary-fraction F] [--json]
  node: --bandwidth-kbps K is every node's uplink in kbit/s (default unlimited)";

/// Bits per second of a `--bandwidth-kbps` value (kbit/s, may be fractional).
fn parse_kbps(value: &str) -> Result<u64, String> {
    let kbps: f64 = value.parse().map_err(|e| format!("{e}"))?;
    let bps = kbps * 1000.0;
    if !(1.0..=1e15).contains(&bps) {
        return Err("expected a rate of at least 0.001 kbit/s".into());
    }
    // Checked to be in range just above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bps = bps.round() as u64;
    Ok(bps)
}

fn parse_node(args: &[String]) -> Result<(NodeScenario, bool), String> {
    let mut s = NodeScenario::default();
    let mut json = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--json" {
            json = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--nodes" => s.nodes = value.parse().map_err(|e| bad(&e))?,
            "--servers" => s.servers = value.parse().map_err(|e| bad(&e))?,
            "--messages" => s.messages = value.parse().map_err(|e| bad(&e))?,
            "--churn" => s.churn = value.parse().map_err(|e| bad(&e))?,
            "--hours" => s.hours = value.parse().map_err(|e| bad(&e))?,
            "--seed" => s.seed = value.parse().map_err(|e| bad(&e))?,
            "--loss" => s.loss = value.parse().map_err(|e| bad(&e))?,
            "--bandwidth-kbps" => s.link.uplink_bps = Some(parse_kbps(value).map_err(|e| bad(&e))?),
            "--drain-hours" => s.drain_hours = value.parse().map_err(|e| bad(&e))?,
            "--store" => s.store = value.parse().map_err(|e| bad(&e))?,
            "--profile" => value
                .parse::<tacnode_sim::node::scenario::Profile>()
                .map_err(|e| bad(&e))?
                .apply(&mut s),
            "--privacy" => {
                s.privacy = Some(match value.as_str() {
                    "direct" => tacnode_usecase::node::PrivacyMode::Direct,
                    "onion" => tacnode_usecase::node::PrivacyMode::Onion,
                    _ => return Err(bad(&"use direct or onion")),
                });
            }
            "--relays" => s.relays = value.parse().map_err(|e| bad(&e))?,
            "--cover" => s.cover_bps = value.parse().map_err(|e| bad(&e))?,
            "--mix-delay-ms" => s.mix_delay_ms = value.parse().map_err(|e| bad(&e))?,
            "--adversary-fraction" => s.adversary_fraction = value.parse().map_err(|e| bad(&e))?,
            "--idle-minutes" => {
                let minutes: u64 = value.parse().map_err(|e| bad(&e))?;
                s.idle_window_ms = minutes.saturating_mul(60_000).max(60_000);
            }
            "--partition" => {
                let parts: Vec<&str> = value.split(':').collect();
                let num = |i: usize| -> Result<u64, String> {
                    parts
                        .get(i)
                        .ok_or_else(|| bad(&"expected AT_S:FOR_S[:GROUPS]"))?
                        .parse::<u64>()
                        .map_err(|e| bad(&e))
                };
                let groups = match parts.get(2) {
                    Some(g) => g.parse::<u8>().map_err(|e| bad(&e))?,
                    None => 2,
                };
                s.partition = Some(PartitionPlan {
                    at_ms: num(0)?.saturating_mul(1000),
                    for_ms: num(1)?.saturating_mul(1000),
                    groups,
                });
            }
            "--skew" => {
                let (f, h) = value
                    .split_once(':')
                    .ok_or_else(|| bad(&"expected FRACTION:HOURS"))?;
                let f: f64 = f.parse().map_err(|e| bad(&e))?;
                let h: f64 = h.parse().map_err(|e| bad(&e))?;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let ms = (h * 3_600_000.0) as u64;
                s.skew = Some((f, ms));
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok((s, json))
}

fn main_node(args: &[String]) -> ExitCode {
    let (scenario, json) = match parse_node(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let report = match run_node_scenario(&scenario) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tacnode-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let peak_mib = peak_memory_kib().map(|k| k as f64 / 1024.0);
    let privacy = report.privacy.as_ref().map(|p| {
        serde_json::json!({
            "mode": format!("{:?}", scenario.privacy.unwrap_or_default()).to_lowercase(),
            "relays": scenario.relays,
            "cover_bps": scenario.cover_bps,
            "mix_delay_ms": scenario.mix_delay_ms,
            "packets": p.packets,
            "messages": p.messages,
            "loops": p.loops,
            "pairs_learnt_by_single_node": p.pairs_learnt_by_single_node,
            "pairs_learnt_from_lookups": p.pairs_learnt_from_lookups,
            "pairs_learnt_from_prekey_lookups": p.pairs_learnt_from_prekey_lookups,
            "colluders": p.colluders,
            "adversary_fraction": scenario.adversary_fraction,
            "colluders_linked_fraction": p.colluders_linked_fraction,
            "timing_top1_accuracy": p.timing_top1_accuracy,
            "timing_window_ms": p.timing_window_ms,
            "deposits": p.deposits,
            "colluders_linked_deposit_fraction": p.colluders_linked_deposit_fraction,
            "baseline_top1": p.baseline_top1,
        })
    });
    let v = serde_json::json!({
        "nodes": scenario.nodes,
        "servers": scenario.servers,
        "messages": scenario.messages,
        "churn": scenario.churn,
        "store": scenario.store.to_string(),
        "hours": scenario.hours,
        "seed": scenario.seed,
        "loss": scenario.loss,
        "bandwidth_kbps": scenario.link.uplink_bps.map(|b| b as f64 / 1000.0),
        "profile": format!("{:?}", scenario.profile).to_lowercase(),
        "idle_window_s": scenario.idle_window_ms / 1000,
        "accepted": report.accepted,
        "delivered": report.delivered,
        "acknowledged": report.acknowledged,
        "delivery_ratio": report.delivery_ratio(),
        "duplicates": report.duplicates,
        "order_violations": report.order_violations,
        "latency_ms": { "p50": report.latency_p50_ms, "p99": report.latency_p99_ms },
        "bytes_per_message": report.bytes_per_message,
        "idle_bytes_per_node_per_s": report.idle_bytes_per_node_per_s,
        "keepalive_bytes_per_node_per_s": report.keepalive_bytes_per_node_per_s,
        "session_restarts": report.session_restarts,
        "calls": report.calls,
        "virtual_time_s": report.virtual_s,
        "wall_time_s": wall,
        "peak_memory_mib": peak_mib,
        "trace_hash": report.trace_hash,
        "privacy": privacy,
    });
    if json {
        println!("{v}");
    } else {
        println!(
            "node: nodes {} servers {} messages {} churn {} hours {} seed {} loss {} bandwidth {} store {}",
            scenario.nodes,
            scenario.servers,
            scenario.messages,
            scenario.churn,
            scenario.hours,
            scenario.seed,
            scenario.loss,
            scenario
                .link
                .uplink_bps
                .map_or("unlimited".into(), |b| format!(
                    "{} kbit/s",
                    b as f64 / 1000.0
                )),
            scenario.store
        );
        println!(
            "delivered {}/{} ({:.4}), duplicates {}, order violations {}, session restarts {}",
            report.delivered,
            report.accepted,
            report.delivery_ratio(),
            report.duplicates,
            report.order_violations,
            report.session_restarts
        );
        println!(
            "latency p50 {} ms p99 {} ms (virtual); {:.0} bytes per delivered message; idle {:.1} bytes/node/s ({:.1} of keep-alives)",
            report.latency_p50_ms,
            report.latency_p99_ms,
            report.bytes_per_message,
            report.idle_bytes_per_node_per_s,
            report.keepalive_bytes_per_node_per_s
        );
        println!(
            "calls {}  virtual {} s  wall {:.1} s  peak memory {}  trace {}",
            report.calls,
            report.virtual_s,
            wall,
            peak_mib.map_or("n/a".into(), |m| format!("{m:.0} MiB")),
            report.trace_hash
        );
        if let Some(p) = &report.privacy {
            println!(
                "privacy: {} packets, {} messages; pairs learnt by one node {}; {} colluders linked {:.3}; timing top-1 {:.3} (window {} ms) vs baseline {:.3}",
                p.packets,
                p.messages,
                p.pairs_learnt_by_single_node,
                p.colluders,
                p.colluders_linked_fraction,
                p.timing_top1_accuracy,
                p.timing_window_ms,
                p.baseline_top1
            );
        }
    }
    if report.delivered < report.accepted {
        eprintln!(
            "not every accepted message was delivered; replay with --seed {}",
            scenario.seed
        );
    }
    ExitCode::SUCCESS
}

fn parse(args: &[String]) -> Result<(LookupScenario, bool), String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("lookup") => {}
        _ => return Err(USAGE.into()),
    }
    let mut s = LookupScenario::default();
    let mut json = false;
    while let Some(flag) = it.next() {
        if flag == "--json" {
            json = true;
            continue;
        }
        if flag == "--malicious-from-join" {
            s.malicious_from_join = true;
            continue;
        }
        if flag == "--admission" {
            s.admission = true;
            continue;
        }
        if flag == "--malicious-members" {
            s.malicious_members = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--nodes" => s.nodes = value.parse().map_err(|e| bad(&e))?,
            "--lookups" => s.lookups = value.parse().map_err(|e| bad(&e))?,
            "--seed" => s.seed = value.parse().map_err(|e| bad(&e))?,
            "--crash" => s.crash = value.parse().map_err(|e| bad(&e))?,
            "--malicious" => s.malicious = value.parse().map_err(|e| bad(&e))?,
            "--clients" => s.clients = value.parse().map_err(|e| bad(&e))?,
            "--loss" => s.loss = value.parse().map_err(|e| bad(&e))?,
            "--k" => s.k = value.parse().map_err(|e| bad(&e))?,
            "--alpha" => s.alpha = value.parse().map_err(|e| bad(&e))?,
            "--disjoint" => s.disjoint = value.parse().map_err(|e| bad(&e))?,
            "--timeout" => s.request_timeout_ms = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok((s, json))
}

/// Peak resident memory of this process in KiB (VmHWM), when readable.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn row(name: &str, s: &Summary) -> String {
    format!(
        "  {name:<18} mean {:>8.2}  median {:>7.1}  p95 {:>7.1}  p99 {:>7.1}",
        s.mean, s.median, s.p95, s.p99
    )
}

fn print_metrics(title: &str, m: &LookupMetrics) {
    println!(
        "{title}: success {}/{} ({:.2}%), K-closest recall {:.3}",
        m.successes,
        m.lookups,
        m.success_rate() * 100.0,
        m.k_closest_recall
    );
    println!("{}", row("rounds to closest", &m.rounds_to_closest));
    println!("{}", row("rounds", &m.rounds));
    println!("{}", row("requests", &m.requests));
    println!("{}", row("retries", &m.retries));
    println!("{}", row("latency ms", &m.latency_ms));
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("node") {
        return main_node(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("group") {
        return group_command::main_group(&args[1..]);
    }
    let (scenario, json) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let seed = scenario.seed;
    let started = Instant::now();
    let report = run_lookup_scenario(&scenario);
    let wall = started.elapsed().as_secs_f64();
    let peak_mib = peak_memory_kib().map(|k| k as f64 / 1024.0);
    if json {
        let mut v = report.json();
        if let Some(o) = v.as_object_mut() {
            o.insert("wall_time_s".into(), wall.into());
            o.insert("peak_memory_mib".into(), peak_mib.into());
        }
        println!("{v}");
    } else {
        let s = &report.scenario;
        println!(
            "lookup: nodes {} lookups {} seed {} k {} alpha {} disjoint {} crash {} malicious {} admission {} clients {} loss {}",
            s.nodes,
            s.lookups,
            s.seed,
            s.k,
            s.alpha,
            s.disjoint,
            s.crash,
            s.malicious,
            match (s.admission, s.malicious_members) {
                (false, _) => "open",
                (true, false) => "closed (malicious are outsiders)",
                (true, true) => "closed (malicious are members)",
            },
            s.clients,
            s.loss
        );
        print_metrics("dht   ", &report.dht);
        print_metrics("oracle", &report.oracle);
        println!(
            "rounds diff vs oracle (mean) {:+.2}, requests ratio vs oracle (mean) {:.2}",
            report.dht.rounds.mean - report.oracle.rounds.mean,
            report.dht.requests.mean / report.oracle.requests.mean.max(f64::MIN_POSITIVE)
        );
        let [ping, find_node, ..] = report.requests_by_kind;
        println!("requests delivered: ping {ping}, find_node {find_node}");
        println!(
            "messages {}  wall time {:.1} s  peak memory {}",
            report.messages,
            wall,
            peak_mib.map_or("n/a".into(), |m| format!("{m:.0} MiB"))
        );
    }
    if report.dht.success_rate() < 1.0 {
        eprintln!("not every lookup succeeded; replay with --seed {seed}");
    }
    ExitCode::SUCCESS
}
