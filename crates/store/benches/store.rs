//! Insert throughput of the outbox and the inbox through [`Store`] against raw
//! `rusqlite` inserts of rows of the same shape and size into the same schema
//! with the same pragmas, under `synchronous = FULL` and `NORMAL`.
//!
//! Every insert is its own committed transaction, as a queued message must be
//! durable before `send` returns. The raw baseline prepares its statement once
//! and inserts pre-made ciphertext-sized blobs: it is the floor the store's
//! sealing, statement preparation and dedupe add to.
//!
//! Run: `cargo bench -p tacnode-store --bench store`.

// A benchmark harness, like a test: failing loudly is the right response.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::{Connection, params};
use tacnode_domain::{MessageId, NodeId, UnixMillis};
use tacnode_store::{BUSY_TIMEOUT, SEAL_OVERHEAD, StorageKey, Store, Synchronous};

/// A typical short text message.
const TEXT: &str = "On my way to the north ridge relay, ETA 40 minutes. Battery at 60%, \
                    switching to the low-power radio after this.";

fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("store-bench");
    std::fs::create_dir_all(&dir).ok();
    dir
}

fn fresh_path(name: &str) -> PathBuf {
    let path = data_dir().join(name);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    path
}

fn key() -> StorageKey {
    StorageKey::from_bytes([0x5a; 32])
}

fn pragma(sync: Synchronous) -> &'static str {
    match sync {
        Synchronous::Full => "FULL",
        _ => "NORMAL",
    }
}

fn message_id(n: u64) -> MessageId {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id[8..].copy_from_slice(&(!n).to_be_bytes());
    MessageId(id)
}

/// A raw connection to a file whose schema the store created, with the
/// store's pragmas.
fn raw_connection(path: &Path, sync: Synchronous) -> Connection {
    Store::open_with(path, key(), sync)
        .and_then(Store::close)
        .expect("create schema");
    let conn = Connection::open(path).expect("open");
    conn.busy_timeout(BUSY_TIMEOUT).ok();
    let _: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .expect("wal");
    conn.pragma_update(None, "synchronous", pragma(sync)).ok();
    conn.pragma_update(None, "foreign_keys", "ON").ok();
    conn
}

fn bench_inserts(c: &mut Criterion) {
    let peer = NodeId::from_bytes([7; 32]);
    // Same size as a sealed TEXT: nonce + ciphertext + tag.
    let blob = vec![0xa5u8; TEXT.len() + SEAL_OVERHEAD];

    let mut group = c.benchmark_group("insert");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));

    for sync in [Synchronous::Full, Synchronous::Normal] {
        let mode = pragma(sync);

        let mut store =
            Store::open_with(fresh_path(&format!("outbox-{mode}.db")), key(), sync).expect("open");
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("outbox/store", mode), |b| {
            b.iter(|| {
                n += 1;
                store
                    .queue_outbound(&peer, &message_id(n), TEXT, UnixMillis(n))
                    .expect("insert")
            })
        });
        drop(store);

        let conn = raw_connection(&fresh_path(&format!("outbox-raw-{mode}.db")), sync);
        let mut stmt = conn
            .prepare(
                "INSERT INTO outbox (message_id, peer, time, sealed, status, attempts,
                                     next_attempt, last_error, updated)
                 VALUES (?1, ?2, ?3, ?4, 1, 0, ?3, NULL, ?3)
                 ON CONFLICT (message_id) DO NOTHING",
            )
            .expect("prepare");
        let mut n = 0i64;
        group.bench_function(BenchmarkId::new("outbox/raw", mode), |b| {
            b.iter(|| {
                n += 1;
                let id = message_id(n.unsigned_abs());
                stmt.execute(params![id.as_bytes(), peer.as_bytes(), n, blob])
                    .expect("insert")
            })
        });
        drop(stmt);
        drop(conn);

        let mut store =
            Store::open_with(fresh_path(&format!("inbox-{mode}.db")), key(), sync).expect("open");
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("inbox/store", mode), |b| {
            b.iter(|| {
                n += 1;
                store
                    .insert_inbound(&peer, &message_id(n), TEXT, UnixMillis(n))
                    .expect("insert")
            })
        });
        drop(store);

        let conn = raw_connection(&fresh_path(&format!("inbox-raw-{mode}.db")), sync);
        let mut stmt = conn
            .prepare(
                "INSERT INTO inbox (peer, message_id, time, sealed) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (peer, message_id) DO NOTHING",
            )
            .expect("prepare");
        let mut n = 0i64;
        group.bench_function(BenchmarkId::new("inbox/raw", mode), |b| {
            b.iter(|| {
                n += 1;
                let id = message_id(n.unsigned_abs());
                stmt.execute(params![peer.as_bytes(), id.as_bytes(), n, blob])
                    .expect("insert")
            })
        });
    }
    group.finish();
    // Hundreds of thousands of rows per run: do not leave them in target/.
    let _ = std::fs::remove_dir_all(data_dir());
}

criterion_group!(benches, bench_inserts);
criterion_main!(benches);
