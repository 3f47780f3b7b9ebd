//! `tacnode-sim group …`: parses its flags, runs the group scenario, prints.

use std::process::ExitCode;
use std::time::Instant;

use tacnode_gossip::PlumtreeConfig;
use tacnode_sim::group::scenario::{GroupScenario, run_group_scenario};

pub(crate) const GROUP_USAGE: &str = "usage: tacnode-sim group --members M --messages N --churn F \
--partition DURATION --seed S [--hours H] [--text-bytes B] [--latency-ms L] [--profile lan|radio] \
[--no-removals] [--json]
  group: at least 6 members; DURATION is 0, or a number followed by s, m or h (6h); the cut starts
  a quarter into the hours, and an admin on each side removes a member in its middle";

/// Milliseconds of `0`, `90s`, `30m` or `6h`.
fn parse_duration(value: &str) -> Result<u64, String> {
    if value == "0" {
        return Ok(0);
    }
    let (number, unit) = value.split_at(value.len().saturating_sub(1));
    let scale = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err("expected 0 or a number followed by s, m or h".into()),
    };
    let n: u64 = number.parse().map_err(|e| format!("{e}"))?;
    n.checked_mul(scale).ok_or_else(|| "too long".into())
}

fn parse_group(args: &[String]) -> Result<(GroupScenario, bool), String> {
    let mut s = GroupScenario::default();
    let mut json = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--json" {
            json = true;
            continue;
        }
        if flag == "--no-removals" {
            s.removals = false;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(GROUP_USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{GROUP_USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--members" => s.members = value.parse().map_err(|e| bad(&e))?,
            "--messages" => s.messages = value.parse().map_err(|e| bad(&e))?,
            "--churn" => s.churn = value.parse().map_err(|e| bad(&e))?,
            "--partition" => s.partition_ms = parse_duration(value).map_err(|e| bad(&e))?,
            "--seed" => s.seed = value.parse().map_err(|e| bad(&e))?,
            "--hours" => s.hours = value.parse().map_err(|e| bad(&e))?,
            "--text-bytes" => s.text_bytes = value.parse().map_err(|e| bad(&e))?,
            "--latency-ms" => s.latency_ms = value.parse().map_err(|e| bad(&e))?,
            "--profile" => {
                s.gossip = match value.as_str() {
                    "lan" => PlumtreeConfig::default(),
                    "radio" => PlumtreeConfig::radio(),
                    _ => return Err(bad(&"expected lan or radio")),
                }
            }
            _ => return Err(format!("unknown flag {flag}\n{GROUP_USAGE}")),
        }
    }
    if s.members < 6 {
        return Err(format!("--members must be at least 6\n{GROUP_USAGE}"));
    }
    Ok((s, json))
}

pub(crate) fn main_group(args: &[String]) -> ExitCode {
    let (scenario, json) = match parse_group(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let Some(m) = run_group_scenario(&scenario) else {
        eprintln!("tacnode-sim: the group could not be formed\n{GROUP_USAGE}");
        return ExitCode::FAILURE;
    };
    let wall = started.elapsed().as_secs_f64();
    if json {
        let mut v = m.to_json();
        if let Some(o) = v.as_object_mut() {
            o.insert("members".into(), scenario.members.into());
            o.insert("messages".into(), scenario.messages.into());
            o.insert("churn".into(), scenario.churn.into());
            o.insert("partition_s".into(), (scenario.partition_ms / 1000).into());
            o.insert("hours".into(), scenario.hours.into());
            o.insert("seed".into(), scenario.seed.into());
            o.insert("wall_time_s".into(), wall.into());
        }
        println!("{v}");
    } else {
        println!(
            "group: members {} messages {} churn {} partition {} s hours {} seed {}",
            scenario.members,
            scenario.messages,
            scenario.churn,
            scenario.partition_ms / 1000,
            scenario.hours,
            scenario.seed
        );
        println!(
            "delivered {}/{} (ratio {:.6}), duplicates {}, order violations {}",
            m.delivered, m.expected, m.delivery_ratio, m.duplicates, m.order_violations
        );
        println!(
            "views identical {}; removed members read {} texts written after their removal ({} concurrent with it)",
            m.views_identical, m.removed_read_after_removal, m.removed_read_concurrent
        );
        println!(
            "sender copies: mean {:.2} max {}; bytes: group {} vs unicast {} (ratio {:.3}); pushes {} control {} keys {} ({} sent)",
            m.sender_copies_mean,
            m.sender_copies_max,
            m.group_bytes,
            m.unicast_bytes,
            m.bytes_ratio,
            m.push_bytes,
            m.control_bytes,
            m.key_bytes,
            m.keys_sent
        );
        println!(
            "latency p50 {} ms p99 {} ms; mean degree {:.2}; trace {}; {:.1} s wall",
            m.latency_p50_ms, m.latency_p99_ms, m.mean_degree, m.trace, wall
        );
    }
    if m.whole() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "not every member got every text exactly once; replay with --seed {}",
            scenario.seed
        );
        ExitCode::FAILURE
    }
}
