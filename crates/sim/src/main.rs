//! `tacnode-sim`: runs simulated DHT scenarios and prints their measurements.
//!
//! ```text
//! tacnode-sim lookup --nodes N --lookups L --seed S [--crash F] [--malicious F]
//!                    [--malicious-from-join] [--clients F] [--loss F] [--k K] [--alpha A] [--disjoint D] [--json]
//! ```

use std::process::ExitCode;
use std::time::Instant;

use tacnode_sim::{LookupMetrics, LookupScenario, Summary, run_lookup_scenario};

const USAGE: &str = "usage: tacnode-sim lookup --nodes N --lookups L --seed S [--crash F] \
[--malicious F] [--malicious-from-join] [--clients F] [--loss F] [--k K] [--alpha A] [--disjoint D] [--timeout MS] [--json]";

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
    println!("{}", row("latency ms", &m.latency_ms));
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
            "lookup: nodes {} lookups {} seed {} k {} alpha {} disjoint {} crash {} malicious {} clients {} loss {}",
            s.nodes,
            s.lookups,
            s.seed,
            s.k,
            s.alpha,
            s.disjoint,
            s.crash,
            s.malicious,
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
