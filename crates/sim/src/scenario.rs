//! The lookup scenario: real joins, faults, random lookups, and the same
//! lookups over oracle routing tables for comparison.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use tacnode_dht::DhtConfig;
use tacnode_domain::dht::Contact;
use tacnode_domain::{NodeId, NodeType, UnixMillis};

use crate::link::LinkModel;
use crate::network::Network;

/// Pre-shared peers each joining node bootstraps from.
pub const BOOTSTRAP_PEERS: usize = 3;
/// Virtual time between two joins.
pub const JOIN_SPACING_MS: u64 = 10;
/// Virtual time left for joins to settle before faults and lookups.
pub const SETTLE_MS: u64 = 30_000;
/// Virtual time between the starts of two measured lookups.
pub const LOOKUP_SPACING_MS: u64 = 20;

/// Parameters of a lookup run.
#[derive(Clone, Debug)]
pub struct LookupScenario {
    /// Number of nodes.
    pub nodes: usize,
    /// Number of measured lookups.
    pub lookups: usize,
    /// Seed of everything random in the run.
    pub seed: u64,
    /// Fraction of nodes that crash silently after the joins.
    pub crash: f64,
    /// Fraction of nodes answering FIND_NODE with malicious nodes only.
    pub malicious: f64,
    /// Malicious nodes misbehave from the start, poisoning the joins too;
    /// otherwise they behave while the network forms (the usual way to get
    /// into routing tables) and attack the measured lookups.
    pub malicious_from_join: bool,
    /// A closed network: every honest node holds a member certificate and
    /// handshakes with non-members fail both ways. Malicious nodes are
    /// outsiders (a Sybil attacker without certificates) unless
    /// `malicious_members` says they are compromised members.
    pub admission: bool,
    /// With `admission`: the malicious nodes hold member certificates.
    pub malicious_members: bool,
    /// Fraction of client nodes (never routed to, store nothing).
    pub clients: f64,
    /// Bucket size / replication factor.
    pub k: usize,
    /// Disjoint lookup paths.
    pub disjoint: usize,
    /// Requests in flight per path.
    pub alpha: usize,
    /// Per-request timeout.
    pub request_timeout_ms: u64,
    /// Probability that one datagram is lost (it is retransmitted, as QUIC
    /// does, so loss delays messages: see [`LinkModel::delay`]).
    pub loss: f64,
}

impl Default for LookupScenario {
    fn default() -> Self {
        Self {
            nodes: 1_000,
            lookups: 100,
            seed: 1,
            crash: 0.0,
            malicious: 0.0,
            malicious_from_join: false,
            admission: false,
            malicious_members: false,
            clients: 0.0,
            k: tacnode_dht::DEFAULT_K,
            disjoint: 1,
            alpha: tacnode_dht::DEFAULT_ALPHA,
            request_timeout_ms: 1_000,
            loss: 0.0,
        }
    }
}

/// Median, tail percentiles and mean of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// 50th percentile.
    pub median: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Summary {
    /// Summary of `values` (nearest-rank percentiles).
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            // Nearest rank: ceil(p * n) - 1, within bounds.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let rank = ((p * v.len() as f64).ceil() as usize).saturating_sub(1);
            v.get(rank.min(v.len() - 1)).copied().unwrap_or(0.0)
        };
        #[allow(clippy::cast_precision_loss)]
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        Self {
            mean,
            median: pct(0.5),
            p95: pct(0.95),
            p99: pct(0.99),
        }
    }

    fn json(&self) -> Value {
        json!({ "mean": self.mean, "median": self.median, "p95": self.p95, "p99": self.p99 })
    }
}

/// Measurements of one set of lookups.
#[derive(Clone, Debug, Default)]
pub struct LookupMetrics {
    /// Lookups run.
    pub lookups: usize,
    /// Lookups whose result contains the target node.
    pub successes: usize,
    /// Mean fraction of the true K closest live servers found.
    pub k_closest_recall: f64,
    /// Rounds until the closest node was first seen.
    pub rounds_to_closest: Summary,
    /// Rounds to termination.
    pub rounds: Summary,
    /// Requests per lookup (retries included).
    pub requests: Summary,
    /// Requests per lookup sent again after a timeout.
    pub retries: Summary,
    /// Simulated lookup latency, ms.
    pub latency_ms: Summary,
}

impl LookupMetrics {
    /// Fraction of successful lookups.
    pub fn success_rate(&self) -> f64 {
        if self.lookups == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let r = self.successes as f64 / self.lookups as f64;
        r
    }

    /// As JSON.
    pub fn json(&self) -> Value {
        json!({
            "lookups": self.lookups,
            "successes": self.successes,
            "success_rate": self.success_rate(),
            "k_closest_recall": self.k_closest_recall,
            "rounds_to_closest": self.rounds_to_closest.json(),
            "rounds": self.rounds.json(),
            "requests_per_lookup": self.requests.json(),
            "retries_per_lookup": self.retries.json(),
            "latency_ms": self.latency_ms.json(),
        })
    }
}

/// Result of [`run_lookup_scenario`].
#[derive(Clone, Debug)]
pub struct LookupReport {
    /// The parameters.
    pub scenario: LookupScenario,
    /// Lookups over routing tables built by real joins.
    pub dht: LookupMetrics,
    /// The same lookups over oracle routing tables.
    pub oracle: LookupMetrics,
    /// Messages delivered in the joined network (joins and lookups).
    pub messages: u64,
    /// Requests delivered in the joined network: ping, find node, find value, store.
    pub requests_by_kind: [u64; 4],
    /// Handshakes refused in the joined network (closed network only).
    pub refused_handshakes: u64,
}

impl LookupReport {
    /// As one JSON object (without wall time and memory, which the binary adds).
    pub fn json(&self) -> Value {
        let s = &self.scenario;
        json!({
            "nodes": s.nodes, "lookups": s.lookups, "seed": s.seed, "k": s.k,
            "disjoint": s.disjoint, "alpha": s.alpha, "crash": s.crash,
            "malicious": s.malicious, "malicious_from_join": s.malicious_from_join,
            "admission": s.admission, "malicious_members": s.malicious_members,
            "clients": s.clients, "loss": s.loss,
            "refused_handshakes": self.refused_handshakes,
            "success_rate": self.dht.success_rate(),
            "dht": self.dht.json(),
            "oracle": self.oracle.json(),
            "rounds_diff_vs_oracle": self.dht.rounds.mean - self.oracle.rounds.mean,
            "requests_ratio_vs_oracle": ratio(self.dht.requests.mean, self.oracle.requests.mean),
            "messages": self.messages,
            "requests_by_kind": {
                "ping": self.requests_by_kind[0], "find_node": self.requests_by_kind[1],
                "find_value": self.requests_by_kind[2], "store": self.requests_by_kind[3],
            },
        })
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

#[derive(Clone, Debug)]
struct Population {
    ids: Vec<NodeId>,
    types: Vec<NodeType>,
    malicious: Vec<bool>,
    crashed: Vec<bool>,
}

impl Population {
    fn is_live_server(&self, i: usize) -> bool {
        self.types.get(i) == Some(&NodeType::Server)
            && !self.crashed.get(i).copied().unwrap_or(true)
    }
}

fn config(s: &LookupScenario, node_type: NodeType) -> DhtConfig {
    let mut c = DhtConfig::new(node_type);
    c.k = s.k;
    c.alpha = s.alpha;
    c.disjoint_paths = s.disjoint;
    c.request_timeout_ms = s.request_timeout_ms;
    c
}

fn link(s: &LookupScenario) -> LinkModel {
    let mut l = LinkModel::default();
    l.loss = s.loss;
    l
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// A lookup to measure: who asks, for whom, when (offset from the start).
#[derive(Clone, Copy, Debug)]
struct Planned {
    requester: usize,
    target: usize,
    offset_ms: u64,
}

/// Runs the scenario: joins, faults, lookups, then the oracle baseline.
pub fn run_lookup_scenario(s: &LookupScenario) -> LookupReport {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let n = s.nodes.max(2);
    let mut ids = Vec::with_capacity(n);
    let mut taken = HashSet::with_capacity(n);
    while ids.len() < n {
        let mut b = [0u8; 32];
        rng.fill(&mut b);
        if taken.insert(b) {
            ids.push(NodeId::from_bytes(b));
        }
    }
    // The first nodes are servers so that there is someone to join through.
    let types: Vec<NodeType> = (0..n)
        .map(|i| {
            if i >= BOOTSTRAP_PEERS && rng.random_bool(s.clients.clamp(0.0, 1.0)) {
                NodeType::Client
            } else {
                NodeType::Server
            }
        })
        .collect();
    let malicious: Vec<bool> = (0..n)
        .map(|i| {
            types.get(i) == Some(&NodeType::Server) && rng.random_bool(s.malicious.clamp(0.0, 1.0))
        })
        .collect();
    let crashed: Vec<bool> = (0..n)
        .map(|_| rng.random_bool(s.crash.clamp(0.0, 1.0)))
        .collect();
    let pop = Population {
        ids,
        types,
        malicious,
        crashed,
    };

    // Honest live requesters; honest live server targets.
    let requesters: Vec<usize> = (0..n)
        .filter(|i| {
            !pop.crashed.get(*i).copied().unwrap_or(true)
                && !pop.malicious.get(*i).copied().unwrap_or(true)
        })
        .collect();
    let targets: Vec<usize> = requesters
        .iter()
        .copied()
        .filter(|i| pop.is_live_server(*i))
        .collect();
    let mut plan = Vec::with_capacity(s.lookups);
    while plan.len() < s.lookups && targets.len() > 1 {
        let l = plan.len();
        let (Some(r), Some(t)) = (
            requesters.get(rng.random_range(0..requesters.len().max(1))),
            targets.get(rng.random_range(0..targets.len().max(1))),
        ) else {
            break;
        };
        if r == t {
            continue;
        }
        plan.push(Planned {
            requester: *r,
            target: *t,
            offset_ms: l as u64 * LOOKUP_SPACING_MS,
        });
    }

    let (dht, messages, requests_by_kind, refused_handshakes) = {
        let mut net = Network::new(s.seed ^ 0x5eed, link(s));
        add_nodes(&mut net, s, &pop);
        close(&mut net, s, &pop);
        if s.malicious_from_join {
            set_malicious(&mut net, &pop);
        }
        join(&mut net, s, &pop, &mut rng);
        set_malicious(&mut net, &pop);
        for i in 0..n {
            if pop.crashed.get(i).copied().unwrap_or(false) {
                net.crash(index(i));
            }
        }
        let m = measure(&mut net, s, &pop, &plan);
        (
            m,
            net.messages(),
            net.requests_by_kind(),
            net.refused_handshakes(),
        )
    };
    let oracle = {
        let mut net = Network::new(s.seed ^ 0x5eed, link(s));
        oracle_tables(&mut net, s, &pop, &mut rng);
        close(&mut net, s, &pop);
        set_malicious(&mut net, &pop);
        measure(&mut net, s, &pop, &plan)
    };
    LookupReport {
        scenario: s.clone(),
        dht,
        oracle,
        messages,
        requests_by_kind,
        refused_handshakes,
    }
}

/// With admission, closes the network; malicious nodes are outsiders
/// unless they are compromised members.
fn close(net: &mut Network, s: &LookupScenario, pop: &Population) {
    if !s.admission {
        return;
    }
    net.close();
    if !s.malicious_members {
        for (i, m) in pop.malicious.iter().enumerate() {
            if *m {
                net.set_outsider(index(i));
            }
        }
    }
}

fn add_nodes(net: &mut Network, s: &LookupScenario, pop: &Population) {
    for (i, id) in pop.ids.iter().enumerate() {
        let t = pop.types.get(i).copied().unwrap_or(NodeType::Server);
        net.add_node(*id, &config(s, t));
    }
}

fn set_malicious(net: &mut Network, pop: &Population) {
    for (i, m) in pop.malicious.iter().enumerate() {
        if *m {
            net.set_malicious(index(i));
        }
    }
}

/// Every node joins through up to [`BOOTSTRAP_PEERS`] random servers that
/// joined before it, one join every [`JOIN_SPACING_MS`]. In a closed
/// network a member's pre-shared list names members only (the admin
/// provisions it); an outsider's names any servers, members included (the
/// attacker knows where members listen).
fn join(net: &mut Network, s: &LookupScenario, pop: &Population, rng: &mut StdRng) {
    let outsider = |i: usize| {
        s.admission && !s.malicious_members && pop.malicious.get(i).copied().unwrap_or(false)
    };
    // Member servers, and every server.
    let mut all_servers: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    let start = net.now().0;
    for i in 0..pop.ids.len() {
        net.run_until(UnixMillis(start + i as u64 * JOIN_SPACING_MS));
        let side = usize::from(outsider(i));
        let Some(servers) = all_servers.get(side) else {
            continue;
        };
        let mut peers: Vec<u32> = Vec::with_capacity(BOOTSTRAP_PEERS);
        if servers.len() <= BOOTSTRAP_PEERS {
            peers.extend(servers.iter().copied());
        } else {
            while peers.len() < BOOTSTRAP_PEERS {
                if let Some(p) = servers.get(rng.random_range(0..servers.len())).copied()
                    && !peers.contains(&p)
                {
                    peers.push(p);
                }
            }
        }
        net.bootstrap(index(i), &peers);
        if pop.types.get(i) == Some(&NodeType::Server) {
            for (list, servers) in all_servers.iter_mut().enumerate() {
                if list == 1 || !outsider(i) {
                    servers.push(index(i));
                }
            }
        }
    }
    let end = net.now().0 + SETTLE_MS;
    net.run_until(UnixMillis(end));
    net.take_finished();
}

/// Perfect tables from global knowledge: every bucket of every node holds
/// K random live servers of its range (all of them when fewer).
fn oracle_tables(net: &mut Network, s: &LookupScenario, pop: &Population, rng: &mut StdRng) {
    add_nodes(net, s, pop);
    let mut live: Vec<NodeId> = (0..pop.ids.len())
        .filter(|i| pop.is_live_server(*i))
        .filter_map(|i| pop.ids.get(i).copied())
        .collect();
    live.sort();
    for (i, id) in pop.ids.iter().enumerate() {
        if pop.crashed.get(i).copied().unwrap_or(false) {
            net.crash(index(i));
            continue;
        }
        let mut contacts = Vec::new();
        for bucket in 0..256usize {
            let (lo, hi) = bucket_range(id, bucket);
            let a = live.partition_point(|x| *x < lo);
            let b = live.partition_point(|x| *x <= hi);
            let range = live.get(a..b).unwrap_or(&[]);
            if range.len() <= s.k {
                contacts.extend(range.iter().copied());
            } else {
                let mut chosen = HashSet::with_capacity(s.k);
                while chosen.len() < s.k {
                    chosen.insert(rng.random_range(0..range.len()));
                }
                let mut chosen: Vec<usize> = chosen.into_iter().collect();
                chosen.sort_unstable();
                contacts.extend(chosen.into_iter().filter_map(|c| range.get(c).copied()));
            }
        }
        net.insert_contacts(
            index(i),
            contacts
                .into_iter()
                .map(|node_id| Contact {
                    node_id,
                    endpoints: Vec::new(),
                })
                .collect(),
        );
    }
}

/// Smallest and largest ids whose distance to `id` falls in `bucket`.
fn bucket_range(id: &NodeId, bucket: usize) -> (NodeId, NodeId) {
    let mut lo = *id.as_bytes();
    let mut hi = *id.as_bytes();
    for bit in 0..=bucket {
        let byte = 31 - bit / 8;
        let mask = 1u8 << (bit % 8);
        if let (Some(l), Some(h)) = (lo.get_mut(byte), hi.get_mut(byte)) {
            if bit == bucket {
                *l ^= mask;
                *h ^= mask;
            } else {
                *l &= !mask;
                *h |= mask;
            }
        }
    }
    (NodeId::from_bytes(lo), NodeId::from_bytes(hi))
}

fn measure(
    net: &mut Network,
    s: &LookupScenario,
    pop: &Population,
    plan: &[Planned],
) -> LookupMetrics {
    let start = net.now().0;
    let mut started = std::collections::HashMap::new();
    for (l, p) in plan.iter().enumerate() {
        net.run_until(UnixMillis(start + p.offset_ms));
        if let Some(target) = pop.ids.get(p.target)
            && let Some(id) = net.start_lookup(index(p.requester), *target)
        {
            started.insert((index(p.requester), id), l);
        }
    }
    let mut done = Vec::new();
    let mut pending = started.len();
    while pending > 0 {
        for f in net.take_finished() {
            if started.contains_key(&(f.node, f.id)) {
                pending -= 1;
                done.push(f);
            }
        }
        if pending == 0 || !net.step() {
            break;
        }
    }

    let live: Vec<NodeId> = (0..pop.ids.len())
        .filter(|i| pop.is_live_server(*i))
        .filter_map(|i| pop.ids.get(i).copied())
        .collect();
    let mut m = LookupMetrics::default();
    let (mut rc, mut rt, mut rq, mut re, mut lat, mut recall) =
        (vec![], vec![], vec![], vec![], vec![], 0.0);
    for f in done {
        let Some(l) = started.get(&(f.node, f.id)) else {
            continue;
        };
        let Some(target) = plan.get(*l).and_then(|p| pop.ids.get(p.target)) else {
            continue;
        };
        m.lookups += 1;
        if f.result.closest.iter().any(|c| c.node_id == *target) {
            m.successes += 1;
        }
        let mut truth: Vec<NodeId> = live.clone();
        let k = s.k.min(truth.len());
        if truth.len() > k && k > 0 {
            truth.select_nth_unstable_by_key(k - 1, |x| x.distance(target));
        }
        truth.truncate(k);
        let found = f
            .result
            .closest
            .iter()
            .filter(|c| truth.contains(&c.node_id))
            .count();
        #[allow(clippy::cast_precision_loss)]
        {
            recall += found as f64 / k.max(1) as f64;
        }
        rc.push(f64::from(f.stats.rounds_to_closest));
        rt.push(f64::from(f.stats.rounds));
        rq.push(f64::from(f.stats.requests));
        re.push(f64::from(f.stats.retries));
        #[allow(clippy::cast_precision_loss)]
        lat.push(f.stats.duration_ms as f64);
    }
    m.lookups = m.lookups.max(plan.len());
    #[allow(clippy::cast_precision_loss)]
    {
        m.k_closest_recall = recall / m.lookups.max(1) as f64;
    }
    m.rounds_to_closest = Summary::of(&rc);
    m.rounds = Summary::of(&rt);
    m.requests = Summary::of(&rq);
    m.retries = Summary::of(&re);
    m.latency_ms = Summary::of(&lat);
    m
}
