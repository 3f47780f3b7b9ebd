//! The one owner of the node's [`State`]: a task that runs the jobs the
//! node's other tasks send it, one at a time, in the order they arrive.
//!
//! No task holds the state across an `.await` or waits on a lock for it: a
//! task sends a job (a closure over `&mut State`) and awaits its answer, so
//! a store write and its fsync hold up only the jobs queued behind it, never
//! the runtime thread of a task that wants the state meanwhile. A job is
//! synchronous, so it runs whole: a batch it opens is committed or rolled
//! back before the next job starts, and a node killed mid-run stops between
//! two jobs.

use std::panic::{AssertUnwindSafe, catch_unwind};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::State;

/// A piece of work on the state.
type Job = Box<dyn FnOnce(&mut State) + Send>;

/// Jobs taken off the queue at once; the owner yields between turns.
const MAX_JOBS_PER_TURN: usize = 64;

/// The owner has stopped (the node is stopping or was killed): the job did
/// not run, or it panicked and its answer was lost.
#[derive(Debug, thiserror::Error)]
#[error("the node is stopping")]
pub(crate) struct OwnerGone;

/// The way to the owner of the state (cheap to clone).
#[derive(Clone)]
pub(crate) struct StateOwner {
    jobs: mpsc::UnboundedSender<Job>,
}

impl StateOwner {
    /// Hands `state` to a new owner task; it runs until every
    /// [`StateOwner`] is gone or the returned handle is aborted.
    pub(crate) fn spawn(mut state: State) -> (StateOwner, JoinHandle<()>) {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let task = tokio::spawn(async move {
            let mut turn = Vec::with_capacity(MAX_JOBS_PER_TURN);
            while queue.recv_many(&mut turn, MAX_JOBS_PER_TURN).await > 0 {
                for job in turn.drain(..) {
                    // Library code does not panic; should a job do so all
                    // the same, a batch it left open is rolled back and the
                    // caches it may have advanced are dropped, so what is on
                    // disk is exactly what was committed, and the node goes on.
                    if catch_unwind(AssertUnwindSafe(|| job(&mut state))).is_err() {
                        tracing::error!(
                            "a task failed while working on the node's state; its writes were rolled back"
                        );
                        state.store.abandon_open_batch();
                        state.discard_uncommitted();
                    }
                }
                tokio::task::yield_now().await;
            }
        });
        (StateOwner { jobs }, task)
    }

    /// Runs `job` on the state and returns what it returns.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut State) -> R + Send + 'static,
    ) -> Result<R, OwnerGone> {
        let (answer, answered) = oneshot::channel();
        self.post(move |st| {
            let _ = answer.send(job(st));
        })?;
        answered.await.map_err(|_| OwnerGone)
    }

    /// Queues `job` without waiting for it (it runs after every job queued
    /// before it).
    pub(crate) fn post(
        &self,
        job: impl FnOnce(&mut State) + Send + 'static,
    ) -> Result<(), OwnerGone> {
        self.jobs.send(Box::new(job)).map_err(|_| OwnerGone)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tacnode_crypto::Identity;
    use tacnode_crypto::prekey::PrekeyState;
    use tacnode_domain::UnixMillis;
    use tacnode_store::MemoryStore;

    use super::*;
    use crate::delivery::{DeliveryConfig, DeliveryQueue};

    fn state() -> State {
        let mut rng = StdRng::seed_from_u64(7);
        let identity = Identity::generate(&mut rng);
        let prekeys = PrekeyState::new(&mut rng, &identity, UnixMillis(1));
        State::new(
            Box::new(MemoryStore::new()),
            prekeys,
            DeliveryQueue::new(DeliveryConfig::default()),
            rng,
            std::collections::HashMap::new(),
        )
    }

    #[tokio::test]
    async fn jobs_run_one_at_a_time_in_the_order_they_were_sent() {
        let (owner, _task) = StateOwner::spawn(state());
        owner
            .post(|st| st.store.set_meta("order", b"a").unwrap())
            .unwrap();
        let posted = owner.clone();
        let appended = tokio::spawn(async move {
            posted
                .run(|st| {
                    let mut v = st.store.meta("order").unwrap().unwrap();
                    v.push(b'b');
                    st.store.set_meta("order", &v).unwrap();
                })
                .await
        });
        appended.await.unwrap().unwrap();
        let order = owner
            .run(|st| st.store.meta("order").unwrap())
            .await
            .unwrap();
        assert_eq!(order.as_deref(), Some(&b"ab"[..]));
    }

    #[tokio::test]
    async fn a_job_that_panics_in_a_batch_leaves_nothing_on_disk_and_the_owner_goes_on() {
        let (owner, _task) = StateOwner::spawn(state());
        let lost = owner
            .run(|st| {
                st.store.begin_batch().unwrap();
                st.store.set_meta("half", b"written").unwrap();
                panic!("a bug in the middle of a batch");
            })
            .await;
        assert!(matches!(lost, Err(OwnerGone)), "its answer is lost");
        let (half, batch_again) = owner
            .run(|st| {
                let half = st.store.meta("half").unwrap();
                // No batch was left open: a new one starts and commits.
                let again = st.store.begin_batch().is_ok() && st.store.commit_batch().is_ok();
                (half, again)
            })
            .await
            .unwrap();
        assert_eq!(half, None, "the batch was rolled back");
        assert!(batch_again);
    }

    #[tokio::test]
    async fn a_stopped_owner_answers_that_the_node_is_stopping() {
        let (owner, task) = StateOwner::spawn(state());
        task.abort();
        let _ = task.await;
        assert!(matches!(owner.run(|_| ()).await, Err(OwnerGone)));
        assert!(owner.post(|_| ()).is_err());
    }
}
