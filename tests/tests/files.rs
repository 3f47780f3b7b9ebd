//! File transfer between real nodes over real QUIC on 127.0.0.1, with the
//! recipient and then the sender restarted in the middle.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};
use tacnode::node::NodeHandle;
use tacnode_tests::{TestNode, contact_pair, eventually};
use tacnode_usecase::file_transfer::TransferState;
use tacnode_usecase::node::{FileTransferInfo, PROGRESS_SYNC_BYTES};

const LONG: Duration = Duration::from_secs(120);

/// Two nodes, each the other's contact; the recipient ("b") syncs every
/// 4 MiB, whatever the time, so it can be stopped just past the first.
async fn pair(root: &std::path::Path) -> (TestNode, TestNode) {
    contact_pair(root, (11, 12), |b| b.config.files.sync_interval_ms = 0)
        .await
        .unwrap()
}

/// Starts `node` again at its address; a socket opened meanwhile on a
/// free port (a dial-back's) may hold it for a moment.
async fn restart(node: &mut TestNode) -> NodeHandle {
    for _ in 0..50 {
        match node.start().await {
            Ok(h) => return h,
            Err(e) if format!("{e:#}").contains("in use") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e:#}"),
        }
    }
    panic!("the port stayed in use");
}

async fn newest(h: &NodeHandle) -> Option<FileTransferInfo> {
    h.files().await.unwrap().into_iter().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_arrives_whole_across_a_restart_of_either_end() {
    let root = tempfile::tempdir().unwrap();
    let (mut a, mut b) = pair(root.path()).await;
    let (ha, hb) = (a.handle().unwrap(), b.handle().unwrap());
    let mut content = vec![0u8; 48 * 1024 * 1024];
    rand::rngs::StdRng::seed_from_u64(5).fill_bytes(&mut content);
    let source = root.path().join("field-survey.bin");
    std::fs::write(&source, &content).unwrap();

    let offered = ha.send_file("b", &source).await.unwrap();
    assert_eq!(offered.size, content.len() as u64);
    // A relative path is refused with what to do.
    let relative = ha
        .send_file("b", std::path::Path::new("field-survey.bin"))
        .await
        .unwrap_err();
    assert!(relative.to_string().contains("absolute path"), "{relative}");

    // The recipient stops once part of the file is durable.
    let mut polls = 0;
    loop {
        if newest(&hb)
            .await
            .is_some_and(|t| t.done >= PROGRESS_SYNC_BYTES)
        {
            break;
        }
        polls += 1;
        assert!(polls < 20_000, "the transfer never started");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    b.stop().await;
    let hb = restart(&mut b).await;
    let resumed_from = newest(&hb).await.unwrap().done;
    assert!(
        resumed_from >= PROGRESS_SYNC_BYTES,
        "resumed from {resumed_from}: the durable part was fetched again"
    );

    // The sender restarts too while the recipient fetches.
    let mut polls = 0;
    while newest(&hb).await.is_some_and(|t| {
        t.state == TransferState::Receiving && t.done < resumed_from + PROGRESS_SYNC_BYTES
    }) {
        polls += 1;
        if polls > 20_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    a.stop().await;
    let ha = restart(&mut a).await;

    assert!(
        eventually(LONG, async || newest(&hb)
            .await
            .is_some_and(|t| t.state == TransferState::Done))
        .await,
        "{:?}",
        newest(&hb).await
    );
    let got = newest(&hb).await.unwrap();
    let saved = got.path.clone().unwrap();
    assert_eq!(saved, b.dir.join("files").join("field-survey.bin"));
    assert!(
        std::fs::read(&saved).unwrap() == content,
        "the file saved is not the file sent"
    );
    // Nothing is left of the partial file.
    assert!(
        !b.dir
            .join("files/.partial")
            .join(got.id.to_string())
            .exists()
    );
    assert!(
        eventually(LONG, async || newest(&ha)
            .await
            .is_some_and(|t| t.state == TransferState::Done))
        .await,
        "the sender never heard it arrived: {:?}",
        newest(&ha).await
    );
    eprintln!("resumed from {resumed_from} of {} bytes", content.len());
}
