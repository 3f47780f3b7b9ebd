//! Harness for tacnode's multi-node integration tests (in `tests/`): start
//! real nodes on 127.0.0.1 with fresh data directories, stop and restart
//! them, and wait for events.

use std::time::Duration;

use anyhow::Context as _;

use rand::SeedableRng;
use tacnode::demo::LocalNode;
use tacnode::node::NodeEvent;
use tacnode_crypto::keystore::KeystoreSecrets;
use tokio::sync::broadcast;

/// One node of a test network (the demo's restartable local node).
pub type TestNode = LocalNode;

/// A test node with a deterministic identity from `seed`.
pub fn test_node(
    root: &std::path::Path,
    name: &str,
    seed: u64,
    bootstrap: Option<&TestNode>,
) -> TestNode {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    LocalNode::new(root, name, KeystoreSecrets::generate(&mut rng), bootstrap)
}

/// Two started nodes with identities from the seeds, each the other's
/// contact ("a" and "b"), their records published; `prepare` adjusts the
/// second one's configuration before it starts.
pub async fn contact_pair(
    root: &std::path::Path,
    (seed_a, seed_b): (u64, u64),
    prepare: impl FnOnce(&mut TestNode),
) -> anyhow::Result<(TestNode, TestNode)> {
    let mut a = test_node(root, "a", seed_a, None);
    a.start().await?;
    let mut b = test_node(root, "b", seed_b, Some(&a));
    prepare(&mut b);
    b.start().await?;
    let (ha, hb) = (
        a.handle().context("a stopped")?,
        b.handle().context("b stopped")?,
    );
    anyhow::ensure!(
        hb.wait_for_routing(1, Duration::from_secs(10)).await,
        "b never joined a"
    );
    ha.add_contact("b", &b.address()).await?;
    hb.add_contact("a", &a.address()).await?;
    hb.publish().await?;
    ha.publish().await?;
    Ok((a, b))
}

/// Waits for an event matching `want`, at most `timeout`.
pub async fn wait_event<F>(
    rx: &mut broadcast::Receiver<NodeEvent>,
    timeout: Duration,
    mut want: F,
) -> bool
where
    F: FnMut(&NodeEvent) -> bool,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if want(&e) => return true,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            _ => return false,
        }
    }
}

/// Polls `check` every 50 ms until it is true or `timeout` passes.
pub async fn eventually<F>(timeout: Duration, mut check: F) -> bool
where
    F: AsyncFnMut() -> bool,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}
