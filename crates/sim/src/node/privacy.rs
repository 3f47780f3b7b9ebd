//! What adversaries learn of who writes to whom, measured on the
//! simulator's record of every request on every link
//! ([`super::network::SimNet::observe`]).
//!
//! The simulator knows every node's keys, so it reconstructs the truth:
//! it peels each onion packet with the key of the node it reached, links
//! each packet to the one its predecessor received (the peeled bytes are
//! what the predecessor sent on), and so finds every packet's path from
//! its originator to its destination. Against that truth it runs three
//! adversaries:
//!
//! - **A single node** (not an endpoint) learns a (sender, recipient) pair
//!   when it sees both: a relay whose predecessor is the originator and
//!   whose successor is the destination, or a mailbox holder taking a
//!   deposit from its depositor (it sees the depositor on the connection
//!   and the recipient in the request: a deposit made directly, or through
//!   relays when the holder is the first hop, or when it was the first
//!   relay of another copy of the same deposit).
//! - **A single node asked by a lookup** learns that the asker is after
//!   the recipient when the lookup names the recipient, its mailbox or its
//!   prekeys (`pairs_learnt_from_lookups`, counted apart from (a): a lookup
//!   shows interest, not a message, and a node also looks up those it
//!   never writes to). Only true pairs count.
//! - **Colluding servers** (a random fraction of the server nodes, none of
//!   them the message's endpoints) learn the sender when the first relay is
//!   theirs and the recipient when the last one is; they link the two when
//!   every relay between is theirs (the packet's bytes match from hop to
//!   hop), or else by timing: they take the packet that left their entry
//!   side most recently before the exit side's packet arrived. A deposit
//!   made through relays is linked the same way, the holder standing for
//!   the last relay (it reads the recipient in the deposit); one made
//!   directly is linked when a holder colludes. Deposits are scored per
//!   deposit (its copies to several holders count once, linked if any
//!   copy is).
//!
//! Colluders and the global observer are scored on messages only (a
//! packet that delivered a message the first time; not receipts, which
//! leave their sender right after the message came in, nor copies sent
//! again), and the observer is credited with its best window and walk
//! length in hindsight: both figures are upper bounds of what such an adversary
//! achieves.
//!
//! - **A global passive adversary** sees every request's time, size class
//!   (an onion packet, a direct message) and endpoints. For each packet
//!   delivered it walks back from the destination: from the node that sent
//!   it to the latest packet of the same class that node received within a
//!   window before sending, and so on, for at most a number of steps (it
//!   may know how long paths are); the node where the walk stops is its
//!   guess of the sender. It tries several windows and step counts and is
//!   credited with the best pair.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use tacnode_crypto::Identity;
use tacnode_crypto::sphinx::{Processed, ReplayCache, SphinxPacket};
use tacnode_domain::UnixMillis;
use tacnode_domain::dht::DhtRequest;
use tacnode_domain::mailbox::ENTRY_ID_LEN;
use tacnode_domain::onion::OnionPayloadKind;
use tacnode_messaging::Message;

use super::network::Observation;

/// The windows the global passive adversary tries, ms (0: a node that
/// sends never forwards).
pub const TIMING_WINDOWS_MS: [u64; 9] = [0, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000];
/// Most steps the global passive adversary walks back from a delivery.
const MAX_WALK: usize = 8;

/// What the adversaries learnt.
#[derive(Clone, Debug, PartialEq)]
pub struct PrivacyReport {
    /// End-to-end packets that reached their destination: onion packets
    /// and direct deliveries (messages, receipts, copies sent again).
    pub packets: u64,
    /// Of those, the ones that delivered a message the first time: what
    /// the colluders and the global observer are scored on.
    pub messages: u64,
    /// Loop cover packets that came back (not analysed: noise).
    pub loops: u64,
    /// Distinct (sender, recipient) pairs some single non-endpoint node
    /// learnt.
    pub pairs_learnt_by_single_node: u64,
    /// Distinct true (sender, recipient) pairs that some node asked by a
    /// DHT lookup could read off the lookup's target (the recipient's id,
    /// mailbox key or prekey key), asked by the sender.
    pub pairs_learnt_from_lookups: u64,
    /// Of those, the pairs read off lookups of the recipient's prekeys (a
    /// session about to start).
    pub pairs_learnt_from_prekey_lookups: u64,
    /// Servers colluding.
    pub colluders: u64,
    /// Of the messages whose endpoints do not collude, the fraction whose
    /// sender and recipient the colluders learnt and linked.
    pub colluders_linked_fraction: f64,
    /// The global passive adversary's top-1 accuracy at naming each
    /// message's sender, its best window.
    pub timing_top1_accuracy: f64,
    /// That window, ms.
    pub timing_window_ms: u64,
    /// Mailbox deposits (each once, whatever the holders) whose depositor
    /// and recipient do not collude.
    pub deposits: u64,
    /// Of those, the fraction whose depositor and recipient the colluders
    /// learnt and linked.
    pub colluders_linked_deposit_fraction: f64,
    /// A guess at random: 1 / nodes.
    pub baseline_top1: f64,
}

/// A node as the analysis needs it.
pub struct Party<'a> {
    /// Its keys.
    pub identity: &'a Identity,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Onion,
    Direct,
}

/// A packet's way from its originator to its destination: indices into
/// the observations, first hop first.
struct Chain {
    hops: Vec<usize>,
    class: Class,
    /// It delivered a message the first time.
    message: bool,
    /// A deposit through relays: the recipient it names (the chain's
    /// destination is its holder) and its entry id.
    deposit: Option<(u32, [u8; ENTRY_ID_LEN])>,
}

/// A deposit's copies through relays: depositor, recipient, the first
/// relays of its copies, their holders.
type DepositCopies = (u32, u32, BTreeSet<u32>, BTreeSet<u32>);

/// A message as the scenario sent it: sender, recipient, and when the
/// recipient first stored it (ms of virtual time, as the observations).
#[derive(Clone, Copy, Debug)]
pub struct SentMessage {
    /// Sender's index.
    pub from: u32,
    /// Recipient's index.
    pub to: u32,
    /// When it was first stored.
    pub received_at: u64,
}

/// Longest time between a packet's arrival and its message being stored
/// for the two to be taken as one, ms.
const MATCH_MS: u64 = 2_000;

#[allow(clippy::too_many_lines)]
/// Runs the three adversaries over `observations` of a network of
/// `parties` (by index), `colluders` among them.
pub fn analyse(
    observations: &[Observation],
    parties: &[Party<'_>],
    colluders: &BTreeSet<u32>,
    sent: &[SentMessage],
) -> PrivacyReport {
    let identity = |i: u32| parties.get(i as usize).map(|p| p.identity);
    let mut class: Vec<Option<Class>> = vec![None; observations.len()];
    // Packet bytes a hop sent on → the observation it peeled them from.
    let mut parent_of: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut finals: Vec<usize> = Vec::new();
    let mut learnt: HashSet<(u32, u32)> = HashSet::new();
    let mut direct: Vec<usize> = Vec::new();
    // What each lookup target names: a party's id, mailbox or prekeys.
    let mut named: HashMap<tacnode_domain::NodeId, u32> = HashMap::new();
    for (i, p) in parties.iter().enumerate() {
        let Ok(i) = u32::try_from(i) else { continue };
        let id = p.identity.node_id();
        named.insert(id, i);
        named.insert(tacnode_domain::mailbox_key(&id), i);
        named.insert(tacnode_domain::prekey_record_key(&id), i);
    }
    let true_pairs: HashSet<(u32, u32)> = sent.iter().map(|m| (m.from, m.to)).collect();
    let mut looked_up: HashSet<(u32, u32)> = HashSet::new();
    let mut prekeys_looked_up: HashSet<(u32, u32)> = HashSet::new();
    // Onion packets that reached a holder → (recipient, entry id).
    let mut deposit_at: HashMap<usize, (u32, [u8; ENTRY_ID_LEN])> = HashMap::new();
    // Each entry id's first depositor (`None`: deposited through relays).
    let mut first_depositor: HashMap<[u8; ENTRY_ID_LEN], Option<u32>> = HashMap::new();
    // Direct deposits: entry id → (depositor, recipient, holders).
    let mut direct_deposits: HashMap<[u8; ENTRY_ID_LEN], (u32, u32, BTreeSet<u32>)> =
        HashMap::new();
    let index_of = |id: &tacnode_domain::NodeId| {
        parties
            .iter()
            .position(|p| p.identity.node_id() == *id)
            .and_then(|i| u32::try_from(i).ok())
    };
    for (i, o) in observations.iter().enumerate() {
        let Some(caller) = identity(o.from) else {
            continue;
        };
        let Ok(message) = Message::decode_request(&o.request, &caller.identity_key()) else {
            continue;
        };
        match message {
            Message::Onion(bytes) => {
                class[i] = Some(Class::Onion);
                let (Some(hop), Ok(packet)) = (identity(o.to), SphinxPacket::from_bytes(&bytes))
                else {
                    continue;
                };
                // A fresh cache: a retransmitted call is peeled again.
                let mut replays = ReplayCache::new(0);
                match packet.process(hop.device_secret(), &mut replays, UnixMillis(o.at_ms)) {
                    Ok(Processed::Forward { packet, .. }) => {
                        parent_of.entry(packet.to_bytes().to_vec()).or_insert(i);
                    }
                    Ok(Processed::Deliver { payload }) => {
                        if let Some((&kind, rest)) = payload.split_first()
                            && kind == OnionPayloadKind::Deposit as u8
                            && let Ok(d) = tacnode_messaging::decode_mailbox_deposit(rest)
                            && let Some(recipient) = index_of(&d.recipient)
                        {
                            deposit_at.insert(i, (recipient, d.entry_id.0));
                            first_depositor.entry(d.entry_id.0).or_insert(None);
                        }
                        finals.push(i);
                    }
                    Ok(_) | Err(_) => {}
                }
            }
            Message::Direct(_) | Message::DirectBatch(_) => {
                class[i] = Some(Class::Direct);
                direct.push(i);
            }
            Message::DhtRequest(
                DhtRequest::FindNode { target: key, .. } | DhtRequest::FindValue { key, .. },
            ) => {
                if let Some(&r) = named.get(&key)
                    && true_pairs.contains(&(o.from, r))
                    && o.to != r
                {
                    looked_up.insert((o.from, r));
                    if parties.get(r as usize).is_some_and(|p| {
                        tacnode_domain::prekey_record_key(&p.identity.node_id()) == key
                    }) {
                        prekeys_looked_up.insert((o.from, r));
                    }
                }
            }
            Message::MailboxDeposit(d) => {
                // An entry deposited before by someone else is a holder
                // handing it over to a closer one: it shows who holds the
                // mailbox, not who wrote.
                let first = *first_depositor.entry(d.entry_id.0).or_insert(Some(o.from));
                if let Some(recipient) = index_of(&d.recipient)
                    && first == Some(o.from)
                    && o.to != o.from
                    && o.to != recipient
                {
                    learnt.insert((o.from, recipient));
                    direct_deposits
                        .entry(d.entry_id.0)
                        .or_insert_with(|| (o.from, recipient, BTreeSet::new()))
                        .2
                        .insert(o.to);
                }
            }
            _ => {}
        }
    }

    // Chains, each final packet once (a retransmitted call is the same
    // packet).
    let onion_bytes = |i: usize| -> Option<Vec<u8>> {
        let o = observations.get(i)?;
        let caller = identity(o.from)?;
        match Message::decode_request(&o.request, &caller.identity_key()) {
            Ok(Message::Onion(bytes)) => Some(bytes),
            _ => None,
        }
    };
    let mut chains: Vec<Chain> = Vec::new();
    let mut seen_finals: HashSet<Vec<u8>> = HashSet::new();
    let mut loops = 0u64;
    for &f in &finals {
        let Some(bytes) = onion_bytes(f) else {
            continue;
        };
        if !seen_finals.insert(bytes.clone()) {
            continue;
        }
        let mut hops = vec![f];
        let mut current = bytes;
        while hops.len() <= tacnode_crypto::sphinx::MAX_HOPS {
            let Some(&parent) = parent_of.get(&current) else {
                break;
            };
            hops.push(parent);
            match onion_bytes(parent) {
                Some(b) => current = b,
                None => break,
            }
        }
        hops.reverse();
        // A loop (cover) ends where it began: no message, only noise for
        // the adversaries.
        let ends = (
            hops.first()
                .and_then(|&i| observations.get(i))
                .map(|o| o.from),
            observations.get(f).map(|o| o.to),
        );
        if ends.0 == ends.1 {
            loops += 1;
            continue;
        }
        chains.push(Chain {
            hops,
            class: Class::Onion,
            message: false,
            deposit: deposit_at.get(&f).copied(),
        });
    }
    for &d in &direct {
        chains.push(Chain {
            hops: vec![d],
            class: Class::Direct,
            message: false,
            deposit: None,
        });
    }
    // Each message is the chain between its ends that arrived last before
    // it was stored.
    for m in sent {
        let mut best: Option<(u64, usize)> = None;
        for (k, c) in chains.iter().enumerate() {
            let Some(last) = c.hops.last().and_then(|&i| observations.get(i)) else {
                continue;
            };
            let first = c.hops.first().and_then(|&i| observations.get(i));
            if c.message
                || c.deposit.is_some()
                || first.map(|o| o.from) != Some(m.from)
                || last.to != m.to
                || last.at_ms > m.received_at
                || m.received_at - last.at_ms > MATCH_MS
            {
                continue;
            }
            if best.is_none_or(|(t, _)| last.at_ms > t) {
                best = Some((last.at_ms, k));
            }
        }
        if let Some((_, k)) = best
            && let Some(c) = chains.get_mut(k)
        {
            c.message = true;
        }
    }

    let obs = |i: usize| observations.get(i);
    let origin = |c: &Chain| c.hops.first().and_then(|&i| obs(i)).map(|o| o.from);
    let destination = |c: &Chain| c.hops.last().and_then(|&i| obs(i)).map(|o| o.to);

    // (a) single nodes.
    for c in &chains {
        let (Some(from), Some(to)) = (origin(c), destination(c)) else {
            continue;
        };
        // A holder learns who deposits only when it took the deposit from
        // its depositor; a relay beside a holder learns no recipient.
        if let Some((recipient, _)) = c.deposit {
            if let Some(last) = c.hops.last().and_then(|&i| obs(i))
                && last.from == from
                && to != from
                && to != recipient
            {
                learnt.insert((from, recipient));
            }
            continue;
        }
        for pair in c.hops.windows(2) {
            let (Some(before), Some(after)) = (obs(pair[0]), obs(pair[1])) else {
                continue;
            };
            let relay = after.from;
            if before.from == from && after.to == to && relay != from && relay != to {
                learnt.insert((from, to));
            }
        }
    }

    // A deposit's copies leave together, each by its own path: a holder
    // that was the first relay of one copy saw the depositor, and reads
    // the recipient in its own copy.
    let mut copies: HashMap<[u8; ENTRY_ID_LEN], DepositCopies> = HashMap::new();
    for c in &chains {
        let (Some((recipient, entry)), Some(from), Some(holder)) =
            (c.deposit, origin(c), destination(c))
        else {
            continue;
        };
        let e = copies
            .entry(entry)
            .or_insert_with(|| (from, recipient, BTreeSet::new(), BTreeSet::new()));
        e.3.insert(holder);
        if c.hops.len() > 1
            && let Some(first) = c.hops.first().and_then(|&i| obs(i))
        {
            e.2.insert(first.to);
        }
    }
    for (from, recipient, first_relays, holders) in copies.values() {
        if first_relays
            .intersection(holders)
            .any(|&h| h != *from && h != *recipient)
        {
            learnt.insert((*from, *recipient));
        }
    }

    // (b) colluders. Their entry-side hand-offs to honest nodes, by time.
    let colluding = |i: u32| colluders.contains(&i);
    let mut handoffs: Vec<(u64, usize)> = observations
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            class.get(*i).copied().flatten() == Some(Class::Onion)
                && colluding(o.from)
                && !colluding(o.to)
        })
        .map(|(i, o)| (o.sent_ms, i))
        .collect();
    handoffs.sort_unstable();
    // Whether the colluders link chain `c`'s ends.
    let links = |c: &Chain| -> bool {
        // The hops that see the packet, in order: each relay, and for a
        // deposit its holder too (it reads the recipient as the last
        // relay does).
        let seen = if c.deposit.is_some() {
            c.hops.len()
        } else {
            c.hops.len().saturating_sub(1)
        };
        let relays: Vec<u32> = c
            .hops
            .iter()
            .take(seen)
            .filter_map(|&i| obs(i).map(|o| o.to))
            .collect();
        let (Some(&first), Some(&last)) = (relays.first(), relays.last()) else {
            return false;
        };
        if !(colluding(first) && colluding(last)) {
            return false;
        }
        if relays.iter().all(|&r| colluding(r)) {
            return true;
        }
        // Entry side: the first hand-off to an honest relay; exit side:
        // the packet that reached the last run of colluding relays.
        let entry_len = relays.iter().take_while(|&&r| colluding(r)).count();
        let exit_len = relays.iter().rev().take_while(|&&r| colluding(r)).count();
        let (Some(&entry), Some(&exit)) = (c.hops.get(entry_len), c.hops.get(seen - exit_len))
        else {
            return false;
        };
        let Some(exit_obs) = obs(exit) else {
            return false;
        };
        let cut = handoffs.partition_point(|(t, _)| *t <= exit_obs.sent_ms);
        cut > 0 && handoffs.get(cut - 1).map(|(_, i)| *i) == Some(entry)
    };
    let mut eligible = 0u64;
    let mut linked = 0u64;
    for c in chains.iter().filter(|c| c.message) {
        let (Some(from), Some(to)) = (origin(c), destination(c)) else {
            continue;
        };
        if colluding(from) || colluding(to) {
            continue;
        }
        eligible += 1;
        if links(c) {
            linked += 1;
        }
    }
    // Deposits, each once: through relays by entry id, linked if any copy
    // is; made directly, linked when a holder colludes.
    let mut deposits: HashMap<[u8; ENTRY_ID_LEN], bool> = HashMap::new();
    for c in &chains {
        let (Some((recipient, entry)), Some(from)) = (c.deposit, origin(c)) else {
            continue;
        };
        if colluding(from) || colluding(recipient) {
            continue;
        }
        *deposits.entry(entry).or_default() |= links(c);
    }
    for (entry, (from, recipient, holders)) in &direct_deposits {
        if colluding(*from) || colluding(*recipient) {
            continue;
        }
        *deposits.entry(*entry).or_default() |= holders.iter().any(|&h| colluding(h));
    }
    let deposits_linked = deposits.values().filter(|&&l| l).count() as u64;

    // (c) the global passive adversary: what each node received, by class
    // and arrival time.
    let mut received: BTreeMap<(u32, u8), Vec<(u64, usize)>> = BTreeMap::new();
    for (i, o) in observations.iter().enumerate() {
        if let Some(k) = class.get(i).copied().flatten() {
            received
                .entry((o.to, k as u8))
                .or_default()
                .push((o.at_ms, i));
        }
    }
    for list in received.values_mut() {
        list.sort_unstable();
    }
    let mut best = (0u64, 0u64);
    for window in TIMING_WINDOWS_MS {
        // right[s]: guesses right when the walk takes at most s + 1 steps.
        let mut right = [0u64; MAX_WALK];
        for c in chains.iter().filter(|c| c.message) {
            let (Some(&last), Some(truth)) = (c.hops.last(), origin(c)) else {
                continue;
            };
            let mut current = last;
            let mut stopped = false;
            for steps in right.iter_mut() {
                if !stopped {
                    let step = obs(current).and_then(|o| {
                        let list = received.get(&(o.from, c.class as u8))?;
                        let cut = list.partition_point(|(t, _)| *t <= o.sent_ms);
                        cut.checked_sub(1)
                            .and_then(|k| list.get(k))
                            .filter(|&&(t, i)| {
                                o.sent_ms.saturating_sub(t) <= window && i != current
                            })
                            .map(|&(_, i)| i)
                    });
                    match step {
                        Some(i) => current = i,
                        None => stopped = true,
                    }
                }
                if obs(current).map(|o| o.from) == Some(truth) {
                    *steps += 1;
                }
            }
        }
        let right = right.iter().copied().max().unwrap_or(0);
        if right > best.0 || (right == best.0 && window < best.1) {
            best = (right, window);
        }
    }

    let packets = chains.len() as u64;
    let messages = chains.iter().filter(|c| c.message).count() as u64;
    #[allow(clippy::cast_precision_loss)]
    let fraction = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    PrivacyReport {
        packets,
        messages,
        loops,
        pairs_learnt_by_single_node: learnt.len() as u64,
        pairs_learnt_from_lookups: looked_up.len() as u64,
        pairs_learnt_from_prekey_lookups: prekeys_looked_up.len() as u64,
        colluders: colluders.len() as u64,
        colluders_linked_fraction: fraction(linked, eligible),
        timing_top1_accuracy: fraction(best.0, messages),
        timing_window_ms: if best.0 == 0 { 0 } else { best.1 },
        deposits: deposits.len() as u64,
        colluders_linked_deposit_fraction: fraction(deposits_linked, deposits.len() as u64),
        baseline_top1: fraction(1, parties.len() as u64),
    }
}
