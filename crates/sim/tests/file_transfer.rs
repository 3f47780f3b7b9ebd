//! File transfer in the whole node: the recipient pulls the blocks from
//! the sender, resumes from what it made durable after being killed in the
//! middle, gets an offer made while it was offline out of its mailboxes,
//! and fetches at a pace a 64 kbit/s radio carries.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::{Rng as _, SeedableRng as _};
use tacnode_domain::PeerAddress;
use tacnode_sim::node::harness::{NodeSim, block_on};
use tacnode_usecase::file_transfer::TransferState;
use tacnode_usecase::node::{FileTransferInfo, PROGRESS_SYNC_BYTES};

const MINUTE: u64 = 60_000;

fn address(sim: &NodeSim, i: u32) -> String {
    PeerAddress::new(sim.identity_key(i).unwrap()).to_string()
}

/// `n` servers on the default (LAN) link with `loss`, each with all
/// pre-shared, started and settled for a minute.
async fn network(seed: u64, n: u32, loss: f64) -> NodeSim {
    let mut sim = NodeSim::new(seed, tacnode_sim::LinkModel::default(), loss).unwrap();
    for _ in 0..n {
        sim.add_node(tacnode_domain::NodeType::Server, 0);
    }
    let all: Vec<u32> = (0..n).collect();
    sim.set_bootstrap(&all);
    for i in 0..n {
        sim.start(i).await.unwrap();
    }
    sim.advance(MINUTE).await;
    sim
}

async fn befriend(sim: &NodeSim, a: u32, b: u32) {
    let (addr_a, addr_b) = (address(sim, a), address(sim, b));
    sim.handle(a)
        .unwrap()
        .add_contact("peer", &addr_b)
        .await
        .unwrap();
    if let Some(h) = sim.handle(b) {
        h.add_contact("peer", &addr_a).await.unwrap();
    }
}

fn random_file(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// Puts `content` at `path` on node `sender` and offers it to its contact
/// "peer".
async fn offer(sim: &NodeSim, sender: u32, path: &str, content: Vec<u8>) -> FileTransferInfo {
    sim.files(sender).unwrap().put(path, content);
    sim.handle(sender)
        .unwrap()
        .send_file("peer", std::path::Path::new(path))
        .await
        .unwrap()
}

/// Node `i` saved `content` as `name`.
fn saved(sim: &NodeSim, i: u32, name: &str, content: &[u8]) {
    assert!(
        sim.files(i).unwrap().download(name).as_deref() == Some(content),
        "{name} as saved is not the file sent"
    );
}

async fn transfer_at(sim: &NodeSim, i: u32) -> Option<FileTransferInfo> {
    sim.handle(i)?.files().await.unwrap().into_iter().next()
}

/// Advances in steps of `step` ms until `done` holds for node `i`'s newest
/// transfer, at most `max_ms`; the ms it took.
async fn until(
    sim: &NodeSim,
    i: u32,
    step: u64,
    max_ms: u64,
    done: impl Fn(&FileTransferInfo) -> bool,
) -> Option<u64> {
    let mut waited = 0;
    while waited <= max_ms {
        if let Some(t) = transfer_at(sim, i).await
            && done(&t)
        {
            return Some(waited);
        }
        sim.advance(step).await;
        waited += step;
    }
    None
}

/// 10 MiB over links losing 10 % of packets; the recipient is killed
/// (what its partial file got since the last sync is lost, as in a power
/// cut) past the first durable step and restarted 5 s later. It resumes
/// from what was durable, the file arrives whole, and the sender hears it.
async fn killed_midway(seed: u64) -> (u64, u64) {
    let mut sim = network(seed, 3, 0.10).await;
    let (sender, receiver) = (0, 1);
    // A sync every 4 MiB, whatever the time (the kill lands 0.5 MiB past
    // the first).
    sim.configure(receiver, |c| c.files.sync_interval_ms = 0);
    sim.stop(receiver, false).await;
    sim.start(receiver).await.unwrap();
    befriend(&sim, sender, receiver).await;
    let content = random_file(seed, 10 * 1024 * 1024);
    let offered = offer(&sim, sender, "/home/op/survey.bin", content.clone()).await;
    assert_eq!(offered.state, TransferState::Offering);
    until(&sim, receiver, 10, MINUTE, |t| {
        t.done >= PROGRESS_SYNC_BYTES + 512 * 1024
    })
    .await
    .expect("the transfer never got past its first durable step");
    sim.stop(receiver, true).await;
    sim.advance(5_000).await;
    sim.start(receiver).await.unwrap();
    let resumed_from = transfer_at(&sim, receiver).await.unwrap().done;
    assert!(
        resumed_from >= PROGRESS_SYNC_BYTES,
        "resumed from {resumed_from}: what was durable was fetched again"
    );
    let took = until(&sim, receiver, 100, 5 * MINUTE, |t| {
        t.state == TransferState::Done
    })
    .await
    .expect("the file never arrived after the restart");
    let got = transfer_at(&sim, receiver).await.unwrap();
    assert_eq!(got.done, content.len() as u64);
    saved(&sim, receiver, "survey.bin", &content);
    until(&sim, sender, 100, MINUTE, |t| {
        t.state == TransferState::Done
    })
    .await
    .expect("the sender never heard the file arrived");
    (resumed_from, took)
}

#[test]
fn a_file_arrives_whole_after_its_recipient_was_killed_midway() {
    for seed in 1..3 {
        let (from, took) = block_on(killed_midway(seed)).unwrap();
        eprintln!("seed {seed}: resumed from {from} bytes, done {took} ms after the restart");
    }
}

/// The recipient went offline before the file was offered: the offer
/// waits in its mailboxes, and once it is back it fetches the file from
/// the sender.
async fn offline_recipient(seed: u64) -> u64 {
    let mut sim = network(seed, 4, 0.0).await;
    let (sender, receiver) = (0, 1);
    befriend(&sim, sender, receiver).await;
    sim.stop(receiver, false).await;
    let content = random_file(seed, 300 * 1024);
    offer(&sim, sender, "/data/map.png", content.clone()).await;
    // Handed over to the mailboxes once direct delivery had its time.
    until(&sim, sender, 1_000, 5 * MINUTE, |t| {
        t.state == TransferState::Offered
    })
    .await
    .expect("the offer never reached the mailboxes");
    sim.start(receiver).await.unwrap();
    let took = until(&sim, receiver, 500, 10 * MINUTE, |t| {
        t.state == TransferState::Done
    })
    .await
    .expect("the file never arrived");
    saved(&sim, receiver, "map.png", &content);
    took
}

#[test]
fn a_file_offered_to_an_offline_recipient_arrives_once_it_is_back() {
    let took = block_on(offline_recipient(7)).unwrap();
    eprintln!("arrived {took} ms after the recipient started");
}

/// On the radio profile (64 kbit/s uplinks, 150 ms, 5 % loss) a 256 KiB
/// file arrives: the recipient starts at one 64 KiB block per request (8 s
/// of airtime, within the request timeout) instead of asking for more than
/// the link carries before it times out.
async fn radio(seed: u64) -> u64 {
    let sim = tacnode_sim::node::scenario::radio_network(seed, 4, 0)
        .await
        .unwrap();
    let (sender, receiver) = (3, 2);
    befriend(&sim, sender, receiver).await;
    let content = random_file(seed, 256 * 1024);
    offer(&sim, sender, "/data/photo.jpg", content.clone()).await;
    let took = until(&sim, receiver, 1_000, 10 * MINUTE, |t| {
        t.state == TransferState::Done
    })
    .await
    .expect("the file never arrived over the radio");
    saved(&sim, receiver, "photo.jpg", &content);
    took
}

#[test]
fn a_file_crosses_a_slow_radio_link() {
    let took = block_on(radio(5)).unwrap();
    eprintln!("256 KiB over the radio in {took} ms");
}

/// The recipient's disk fills up once every block was written to its
/// cache (the sync at the end fails): it tries again, without fetching or
/// hashing anything twice, and the file arrives once there is room. (A
/// resume from the whole file used to fetch the last block again, hash it
/// twice, find the content "changed" and delete the download.)
async fn full_at_the_end(seed: u64) -> TransferState {
    let sim = network(seed, 3, 0.0).await;
    let (sender, receiver) = (0, 1);
    befriend(&sim, sender, receiver).await;
    // Not a whole number of blocks: the last one is short.
    let content = random_file(seed, 300 * 1024 + 7);
    sim.files(sender)
        .unwrap()
        .put("/data/log.txt", content.clone());
    sim.files(receiver).unwrap().set_syncs_fail(true);
    sim.handle(sender)
        .unwrap()
        .send_file("peer", std::path::Path::new("/data/log.txt"))
        .await
        .unwrap();
    until(&sim, receiver, 100, MINUTE, |t| {
        t.done == content.len() as u64 && t.last_error.is_some()
    })
    .await
    .expect("the full disk was never noticed");
    sim.advance(30_000).await;
    let waiting = transfer_at(&sim, receiver).await.unwrap();
    assert_eq!(waiting.state, TransferState::Receiving, "{waiting:?}");
    sim.files(receiver).unwrap().set_syncs_fail(false);
    until(&sim, receiver, 500, 5 * MINUTE, |t| !t.state.active())
        .await
        .expect("never ended");
    let got = transfer_at(&sim, receiver).await.unwrap();
    if got.state == TransferState::Done {
        saved(&sim, receiver, "log.txt", &content);
    }
    got.state
}

#[test]
fn a_disk_full_at_the_end_of_a_transfer_delays_the_file_and_loses_nothing() {
    let state = block_on(full_at_the_end(3)).unwrap();
    assert_eq!(state, TransferState::Done);
}

/// The recipient cancels while the file arrives over a slow uplink: its
/// partial file goes and nothing is saved; the sender's file changing
/// under another transfer fails that one on both ends, with the reason.
async fn cancelled_and_changed(seed: u64) -> (FileTransferInfo, FileTransferInfo) {
    let sim = network(seed, 3, 0.0).await;
    let (sender, receiver) = (0, 1);
    befriend(&sim, sender, receiver).await;
    sim.net().set_uplink(sender, Some(2_000_000));
    let files = sim.files(sender).unwrap();
    files.put("/data/a.bin", random_file(seed, 4 * 1024 * 1024));
    let h = sim.handle(sender).unwrap();
    let first = h
        .send_file("peer", std::path::Path::new("/data/a.bin"))
        .await
        .unwrap();
    until(&sim, receiver, 100, MINUTE, |t| t.done > 0)
        .await
        .expect("never started");
    let prefix: String = first.id.to_string().chars().take(8).collect();
    sim.handle(receiver)
        .unwrap()
        .cancel_file(&prefix)
        .await
        .unwrap();
    sim.advance(10_000).await;
    let cancelled = transfer_at(&sim, receiver).await.unwrap();
    assert_eq!(cancelled.state, TransferState::Cancelled);
    let rfiles = sim.files(receiver).unwrap();
    assert_eq!(rfiles.part_len(&first.id), None, "the partial file stays");
    assert_eq!(rfiles.download("a.bin"), None, "a cancelled file was saved");
    // The sender heard it and stopped.
    let told = transfer_at(&sim, sender).await.unwrap();
    assert!(
        matches!(&told.state, TransferState::Failed(r) if r.contains("cancelled by the recipient")),
        "{told:?}"
    );

    files.put("/data/b.bin", random_file(seed + 1, 4 * 1024 * 1024));
    h.send_file("peer", std::path::Path::new("/data/b.bin"))
        .await
        .unwrap();
    until(&sim, receiver, 100, MINUTE, |t| {
        t.name == "b.bin" && t.done > 0
    })
    .await
    .expect("never started");
    files.put("/data/b.bin", random_file(seed + 2, 4 * 1024 * 1024));
    let failed = until(&sim, receiver, 500, 2 * MINUTE, |t| {
        matches!(t.state, TransferState::Failed(_))
    })
    .await;
    assert!(failed.is_some(), "{:?}", transfer_at(&sim, receiver).await);
    until(&sim, sender, 500, MINUTE, |t| {
        matches!(t.state, TransferState::Failed(_))
    })
    .await
    .expect("the sender did not fail it");
    (
        transfer_at(&sim, receiver).await.unwrap(),
        transfer_at(&sim, sender).await.unwrap(),
    )
}

#[test]
fn a_cancelled_transfer_leaves_nothing_and_a_changed_file_fails_on_both_ends() {
    let (theirs, ours) = block_on(cancelled_and_changed(9)).unwrap();
    eprintln!("recipient: {:?}\nsender: {:?}", theirs.state, ours.state);
    assert!(
        matches!(&theirs.state, TransferState::Failed(r) if r.contains("changed")),
        "{theirs:?}"
    );
}

/// An offer over the recipient's `[files] max_bytes` is refused there (the
/// record says why) and the sender is told it was refused, not why (its
/// `send-file` ends instead of waiting for days).
async fn declined(seed: u64) -> FileTransferInfo {
    let mut sim = network(seed, 3, 0.0).await;
    let (sender, receiver) = (0, 1);
    sim.configure(receiver, |c| c.files.max_bytes = 100_000);
    sim.stop(receiver, false).await;
    sim.start(receiver).await.unwrap();
    befriend(&sim, sender, receiver).await;
    offer(&sim, sender, "/data/big.bin", random_file(seed, 200_000)).await;
    until(&sim, sender, 100, MINUTE, |t| !t.state.active())
        .await
        .expect("the sender never heard");
    let theirs = transfer_at(&sim, receiver).await.unwrap();
    assert!(
        matches!(&theirs.state, TransferState::Failed(r) if r.contains("max_bytes")),
        "{theirs:?}"
    );
    transfer_at(&sim, sender).await.unwrap()
}

#[test]
fn an_offer_too_large_for_the_recipient_is_declined_and_the_sender_told() {
    let ours = block_on(declined(4)).unwrap();
    assert!(
        matches!(&ours.state, TransferState::Failed(r) if r.contains("declined") && r.contains("refused by the recipient")),
        "{ours:?}"
    );
}

/// The recipient was offline when a small file was offered, and the sender
/// is gone when it comes back: the offer and every block wait in its
/// mailboxes, and the file arrives without the sender.
async fn through_mailboxes(seed: u64) -> u64 {
    let mut sim = network(seed, 5, 0.0).await;
    let (sender, receiver) = (0, 1);
    befriend(&sim, sender, receiver).await;
    sim.stop(receiver, false).await;
    let content = random_file(seed, 300 * 1024 + 5);
    offer(&sim, sender, "/data/orders.pdf", content.clone()).await;
    until(&sim, sender, 1_000, 5 * MINUTE, |t| {
        t.state == TransferState::Offered
    })
    .await
    .expect("the offer never reached the mailboxes");
    // Time for the blocks to follow it, then the sender goes.
    sim.advance(MINUTE).await;
    sim.stop(sender, true).await;
    sim.start(receiver).await.unwrap();
    let took = until(&sim, receiver, 500, 10 * MINUTE, |t| {
        t.state == TransferState::Done
    })
    .await
    .expect("the file never arrived from the mailboxes");
    saved(&sim, receiver, "orders.pdf", &content);
    // The sender, back, finds the recipient's receipt in its own
    // mailboxes: its transfer ends as delivered.
    sim.start(sender).await.unwrap();
    until(&sim, sender, 500, 5 * MINUTE, |t| {
        t.state == TransferState::Done
    })
    .await
    .expect("the sender never learnt the file arrived");
    took
}

#[test]
fn a_small_file_arrives_through_the_mailboxes_without_its_sender() {
    let took = block_on(through_mailboxes(8)).unwrap();
    eprintln!("arrived {took} ms after the recipient started");
}
