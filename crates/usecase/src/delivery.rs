//! Sans-IO delivery state of outgoing messages: when to try direct delivery
//! again, when to fall back to the recipient's mailboxes, when to give up.
//!
//! Drive it with [`DeliveryQueue::handle_queued`] when a message enters the
//! outbox, [`DeliveryQueue::handle_outcome`] with what each attempt achieved,
//! and [`DeliveryQueue::handle_timeout`] at [`DeliveryQueue::poll_timeout`];
//! take the resulting [`Attempt`]s from [`DeliveryQueue::poll`].
//!
//! The ciphertext is made once, when the message is queued; every attempt
//! resends the same sealed bytes, so retries never advance the ratchet and the
//! recipient deduplicates by message id.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_core::Rng;
use tacnode_domain::{MessageId, NodeId, UnixMillis};

/// Defaults chosen for slow, lossy radio links: a first retry after 2 s,
/// doubling to at most 5 min, mailbox fallback after 30 s of failures.
pub const DEFAULT_INITIAL_BACKOFF_MS: u64 = 2_000;
/// Longest wait between two direct attempts.
pub const DEFAULT_MAX_BACKOFF_MS: u64 = 300_000;
/// How long direct delivery may keep failing before the message is deposited.
pub const DEFAULT_DEPOSIT_AFTER_MS: u64 = 30_000;
/// How long a message is retried at all (a mailbox holds it 7 days).
pub const DEFAULT_GIVE_UP_AFTER_MS: u64 = 7 * 24 * 3_600_000;
/// Most messages tracked at once; beyond it new messages stay queued on disk
/// and are loaded as others finish.
pub const MAX_TRACKED: usize = 100_000;

/// Retry policy (`[delivery]` of the daemon's TOML file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Wait after the first failure.
    pub initial_backoff_ms: u64,
    /// Cap of the exponential backoff.
    pub max_backoff_ms: u64,
    /// Failing time after which the message is deposited in mailboxes.
    pub deposit_after_ms: u64,
    /// Failing time after which the message is reported failed.
    pub give_up_after_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            initial_backoff_ms: DEFAULT_INITIAL_BACKOFF_MS,
            max_backoff_ms: DEFAULT_MAX_BACKOFF_MS,
            deposit_after_ms: DEFAULT_DEPOSIT_AFTER_MS,
            give_up_after_ms: DEFAULT_GIVE_UP_AFTER_MS,
        }
    }
}

impl DeliveryConfig {
    /// The wait after the `failures`-th failure in a row (1 for the
    /// first): `initial_backoff_ms` doubled per failure, capped at
    /// `max_backoff_ms`, spread over 75–125 % so retries do not march in
    /// step. The one retry policy of the node (messages and files).
    pub fn backoff_ms<R: rand_core::Rng + ?Sized>(&self, failures: u32, rng: &mut R) -> u64 {
        let exp = self
            .initial_backoff_ms
            .saturating_mul(1u64 << failures.saturating_sub(1).min(32))
            .min(self.max_backoff_ms);
        let jitter = if exp >= 4 {
            rng.next_u64() % (exp / 2)
        } else {
            0
        };
        exp - exp / 4 + jitter
    }
}

/// What to do next with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Try to hand the sealed message to the recipient directly.
    Direct {
        /// The message.
        id: MessageId,
        /// Its recipient.
        recipient: NodeId,
    },
    /// Deposit the sealed message in the recipient's mailboxes.
    Deposit {
        /// The message.
        id: MessageId,
        /// Its recipient.
        recipient: NodeId,
    },
    /// Stop: retried for longer than the give-up time.
    GiveUp {
        /// The message.
        id: MessageId,
    },
}

/// What an attempt achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The recipient acknowledged the direct message (status "sent").
    DirectAccepted,
    /// Direct delivery failed (unreachable, timeout, refused).
    DirectFailed,
    /// At least one mailbox holder accepted the deposit (status "sent").
    Deposited,
    /// No mailbox holder accepted it.
    DepositFailed,
    /// The first relay of an onion path took it: it stays pending, and
    /// goes again (over another path) after `wait_ms` unless its receipt
    /// came first ([`DeliveryQueue::forget`]). Not a failure: the backoff
    /// does not grow; past the deposit time, the next attempt is the
    /// deposit.
    Relayed {
        /// How long to wait for the receipt.
        wait_ms: u64,
    },
}

/// A tracked message was not known, or the queue is full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// More than [`MAX_TRACKED`] messages in flight.
    #[error("more than {MAX_TRACKED} messages in flight")]
    Full,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    recipient: NodeId,
    first_queued: UnixMillis,
    failures: u32,
    next: UnixMillis,
    in_flight: bool,
    /// The recipient showed up while an attempt was on the wire: if that
    /// attempt fails (it went to the recipient's previous process, say),
    /// the next one goes at once instead of after the backoff.
    seen_meanwhile: bool,
    /// The last attempt handed it to a relay: its receipt is awaited, and
    /// the recipient showing up is no reason to send another copy.
    relayed: bool,
}

/// The retry schedule of every outgoing message not yet handed over.
#[derive(Debug)]
pub struct DeliveryQueue {
    config: DeliveryConfig,
    pending: BTreeMap<MessageId, Pending>,
    /// The ids in `pending` by recipient.
    by_recipient: BTreeMap<NodeId, BTreeSet<MessageId>>,
    // (due time, id): the wake-up order.
    timers: BTreeSet<(UnixMillis, MessageId)>,
    ready: VecDeque<Attempt>,
}

impl DeliveryQueue {
    /// An empty queue.
    pub fn new(config: DeliveryConfig) -> Self {
        Self {
            config,
            pending: BTreeMap::new(),
            by_recipient: BTreeMap::new(),
            timers: BTreeSet::new(),
            ready: VecDeque::new(),
        }
    }

    /// Number of messages not yet handed over.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Where message `id` stands: `None` when it is not pending; else
    /// whether an attempt is on the wire and when the next one is due.
    pub fn schedule_of(&self, id: &MessageId) -> Option<(bool, UnixMillis)> {
        self.pending.get(id).map(|p| (p.in_flight, p.next))
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// A message entered the outbox (or was reloaded from it after a restart:
    /// pass its original queue time). The first attempt is immediate.
    pub fn handle_queued(
        &mut self,
        now: UnixMillis,
        id: MessageId,
        recipient: NodeId,
        queued_at: UnixMillis,
    ) -> Result<(), DeliveryError> {
        if self.pending.contains_key(&id) {
            return Ok(());
        }
        if self.pending.len() >= MAX_TRACKED {
            return Err(DeliveryError::Full);
        }
        self.by_recipient.entry(recipient).or_default().insert(id);
        self.pending.insert(
            id,
            Pending {
                recipient,
                first_queued: queued_at,
                failures: 0,
                next: now,
                in_flight: true,
                seen_meanwhile: false,
                relayed: false,
            },
        );
        self.ready
            .push_back(self.decide(now, id, recipient, queued_at));
        Ok(())
    }

    fn decide(
        &self,
        now: UnixMillis,
        id: MessageId,
        recipient: NodeId,
        first: UnixMillis,
    ) -> Attempt {
        let failing_for = now.millis_since(first);
        if failing_for >= self.config.give_up_after_ms {
            Attempt::GiveUp { id }
        } else if failing_for >= self.config.deposit_after_ms {
            Attempt::Deposit { id, recipient }
        } else {
            Attempt::Direct { id, recipient }
        }
    }

    /// Reports what an attempt achieved. Accepted or deposited messages leave
    /// the queue; failures are rescheduled with exponential backoff and
    /// jitter (±25 %) so that many senders do not retry in step; after a
    /// failed direct attempt never past the deposit time (at once when it
    /// has passed): the attempt then is the deposit.
    pub fn handle_outcome<R: Rng + ?Sized>(
        &mut self,
        now: UnixMillis,
        id: MessageId,
        outcome: Outcome,
        rng: &mut R,
    ) {
        match outcome {
            Outcome::DirectAccepted | Outcome::Deposited => self.forget(id),
            Outcome::Relayed { wait_ms } => {
                let Some(p) = self.pending.get_mut(&id) else {
                    return;
                };
                p.in_flight = false;
                p.seen_meanwhile = false;
                p.relayed = true;
                p.next = now.saturating_add_millis(wait_ms);
                self.timers.insert((p.next, id));
            }
            Outcome::DirectFailed | Outcome::DepositFailed => {
                let Some(p) = self.pending.get_mut(&id) else {
                    return;
                };
                p.failures = p.failures.saturating_add(1);
                p.in_flight = false;
                p.relayed = false;
                if std::mem::take(&mut p.seen_meanwhile) {
                    p.next = now;
                    self.timers.insert((now, id));
                    return;
                }
                let delay = self.config.backoff_ms(p.failures, rng);
                // A direct attempt is never followed by a wait past the
                // deposit time (or, when it failed after it, by any wait):
                // a backoff grown long while the recipient was silent must
                // not hold its message back from the mailboxes. A failed
                // deposit backs off as it is.
                let mut next = now.saturating_add_millis(delay);
                if outcome == Outcome::DirectFailed {
                    let deposit_at = p
                        .first_queued
                        .saturating_add_millis(self.config.deposit_after_ms);
                    next = next.min(deposit_at.max(now));
                }
                p.next = next;
                self.timers.insert((p.next, id));
            }
        }
    }

    /// The message was given up by the caller (or delivered end to end).
    pub fn forget(&mut self, id: MessageId) {
        if let Some(p) = self.pending.remove(&id) {
            if let Some(ids) = self.by_recipient.get_mut(&p.recipient) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_recipient.remove(&p.recipient);
                }
            }
            self.timers.remove(&(p.next, id));
        }
    }

    /// When [`DeliveryQueue::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Turns every due retry into an attempt.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        while let Some(&(due, id)) = self.timers.first() {
            if due > now {
                break;
            }
            self.timers.remove(&(due, id));
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            if p.in_flight || p.next != due {
                continue;
            }
            p.in_flight = true;
            let (recipient, first) = (p.recipient, p.first_queued);
            let attempt = self.decide(now, id, recipient, first);
            if let Attempt::GiveUp { id } = attempt {
                self.forget(id);
            }
            self.ready.push_back(attempt);
        }
    }

    /// Retries a recipient's pending messages now, e.g. when it was just seen
    /// online (it connected to us, or its mailbox fetch proves it is back).
    pub fn handle_peer_online(&mut self, now: UnixMillis, recipient: &NodeId) {
        let ids: Vec<MessageId> = self
            .by_recipient
            .get(recipient)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        let mut due = Vec::new();
        for id in ids {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            if p.in_flight {
                p.seen_meanwhile = true;
            } else if !p.relayed {
                due.push((p.first_queued, p.next, id));
            }
        }
        // In queue order; each as its schedule says (direct, deposit or
        // give up), only sooner.
        due.sort_unstable();
        for (first, next, id) in due {
            self.timers.remove(&(next, id));
            let attempt = self.decide(now, id, *recipient, first);
            if let Some(p) = self.pending.get_mut(&id) {
                p.in_flight = true;
                p.next = now;
            }
            if let Attempt::GiveUp { id } = attempt {
                self.forget(id);
            }
            self.ready.push_back(attempt);
        }
    }

    /// Whether anything waits for `recipient`.
    pub fn has_pending_for(&self, recipient: &NodeId) -> bool {
        self.by_recipient.contains_key(recipient)
    }

    /// The next attempt to make.
    pub fn poll(&mut self) -> Option<Attempt> {
        self.ready.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn id(n: u8) -> MessageId {
        MessageId([n; 16])
    }

    const BOB: NodeId = NodeId::from_bytes([2; 32]);

    #[test]
    fn a_relayed_message_goes_again_after_the_receipt_wait_then_to_mailboxes() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut q = DeliveryQueue::new(DeliveryConfig::default());
        q.handle_queued(UnixMillis(0), id(1), BOB, UnixMillis(0))
            .unwrap();
        assert_eq!(
            q.poll(),
            Some(Attempt::Direct {
                id: id(1),
                recipient: BOB
            })
        );
        let relayed = Outcome::Relayed { wait_ms: 10_000 };
        q.handle_outcome(UnixMillis(100), id(1), relayed, &mut rng);
        // Nothing until the wait is over.
        assert_eq!(q.poll_timeout(), Some(UnixMillis(10_100)));
        q.handle_timeout(UnixMillis(10_099));
        assert_eq!(q.poll(), None);
        q.handle_timeout(UnixMillis(10_100));
        assert_eq!(
            q.poll(),
            Some(Attempt::Direct {
                id: id(1),
                recipient: BOB
            })
        );
        // Past the deposit time the next attempt is the deposit.
        q.handle_outcome(UnixMillis(25_000), id(1), relayed, &mut rng);
        q.handle_timeout(UnixMillis(35_000));
        assert_eq!(
            q.poll(),
            Some(Attempt::Deposit {
                id: id(1),
                recipient: BOB
            })
        );
        // A receipt ends it.
        q.handle_outcome(UnixMillis(36_000), id(1), relayed, &mut rng);
        q.forget(id(1));
        assert_eq!(q.poll_timeout(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn first_attempt_is_direct_and_success_forgets() {
        let mut q = DeliveryQueue::new(DeliveryConfig::default());
        let mut rng = StdRng::seed_from_u64(1);
        q.handle_queued(UnixMillis(0), id(1), BOB, UnixMillis(0))
            .unwrap();
        assert_eq!(
            q.poll(),
            Some(Attempt::Direct {
                id: id(1),
                recipient: BOB
            })
        );
        q.handle_outcome(UnixMillis(10), id(1), Outcome::DirectAccepted, &mut rng);
        assert!(q.is_empty());
        assert_eq!(q.poll_timeout(), None);
    }

    #[test]
    fn failures_back_off_then_fall_back_to_mailboxes_then_give_up() {
        let config = DeliveryConfig {
            initial_backoff_ms: 1_000,
            max_backoff_ms: 8_000,
            deposit_after_ms: 20_000,
            give_up_after_ms: 100_000,
        };
        let mut q = DeliveryQueue::new(config);
        let mut rng = StdRng::seed_from_u64(2);
        q.handle_queued(UnixMillis(0), id(1), BOB, UnixMillis(0))
            .unwrap();
        let mut now = UnixMillis(0);
        let mut kinds = Vec::new();
        let mut delays = Vec::new();
        while let Some(a) = q.poll() {
            kinds.push(a);
            match a {
                Attempt::Direct { .. } => {
                    q.handle_outcome(now, id(1), Outcome::DirectFailed, &mut rng)
                }
                Attempt::Deposit { .. } => {
                    q.handle_outcome(now, id(1), Outcome::DepositFailed, &mut rng)
                }
                Attempt::GiveUp { .. } => break,
            }
            let next = q.poll_timeout().unwrap();
            delays.push(next.millis_since(now));
            now = next;
            q.handle_timeout(now);
        }
        assert!(matches!(kinds.first(), Some(Attempt::Direct { .. })));
        assert!(kinds.iter().any(|a| matches!(a, Attempt::Deposit { .. })));
        assert!(matches!(kinds.last(), Some(Attempt::GiveUp { .. })));
        // Backoff grows and is capped (with jitter of at most +25 %).
        assert!(delays[0] < delays[2]);
        assert!(delays.iter().all(|d| *d <= 10_000));
        // No direct attempt after the deposit time.
        let first_deposit = kinds
            .iter()
            .position(|a| matches!(a, Attempt::Deposit { .. }))
            .unwrap();
        assert!(
            kinds[first_deposit..]
                .iter()
                .all(|a| !matches!(a, Attempt::Direct { .. }))
        );
        assert!(q.is_empty());
    }

    #[test]
    fn a_long_backoff_does_not_hold_a_message_past_its_deposit_time() {
        let config = DeliveryConfig {
            initial_backoff_ms: 5_000,
            max_backoff_ms: 600_000,
            deposit_after_ms: 60_000,
            give_up_after_ms: 7 * 24 * 3_600_000,
        };
        let mut q = DeliveryQueue::new(config);
        let mut rng = StdRng::seed_from_u64(6);
        q.handle_queued(UnixMillis(0), id(1), BOB, UnixMillis(0))
            .unwrap();
        let mut now = UnixMillis(0);
        let mut first_deposit = None;
        while let Some(a) = q.poll() {
            match a {
                Attempt::Direct { .. } => {
                    // Each attempt takes 10 s to fail (a probe).
                    now = now.saturating_add_millis(10_000);
                    q.handle_outcome(now, id(1), Outcome::DirectFailed, &mut rng);
                }
                Attempt::Deposit { .. } => {
                    first_deposit = Some(now);
                    break;
                }
                Attempt::GiveUp { .. } => break,
            }
            now = q.poll_timeout().unwrap();
            q.handle_timeout(now);
        }
        // Attempts at 0, ~15 s, ~35 s and ~60 s, the last failing at ~70 s,
        // after the deposit time: the deposit follows at once instead of
        // after the next backoff (~40 s).
        let at = first_deposit.unwrap();
        assert!(at >= UnixMillis(60_000), "{at:?}");
        assert!(at <= UnixMillis(70_000), "{at:?}");
    }

    #[test]
    fn peer_online_retries_immediately() {
        let mut q = DeliveryQueue::new(DeliveryConfig::default());
        let mut rng = StdRng::seed_from_u64(3);
        q.handle_queued(UnixMillis(0), id(1), BOB, UnixMillis(0))
            .unwrap();
        q.poll();
        q.handle_outcome(UnixMillis(0), id(1), Outcome::DirectFailed, &mut rng);
        assert_eq!(q.poll(), None);
        q.handle_peer_online(UnixMillis(5), &BOB);
        assert_eq!(
            q.poll(),
            Some(Attempt::Direct {
                id: id(1),
                recipient: BOB
            })
        );
        // The old timer no longer fires a second attempt.
        q.handle_timeout(UnixMillis(1_000_000));
        assert_eq!(q.poll(), None);
    }

    #[test]
    fn a_peer_that_keeps_calling_cannot_keep_its_mail_from_mailboxes_or_from_failing() {
        let config = DeliveryConfig {
            initial_backoff_ms: 1_000,
            max_backoff_ms: 8_000,
            deposit_after_ms: 20_000,
            give_up_after_ms: 100_000,
        };
        let mut q = DeliveryQueue::new(config);
        let mut rng = StdRng::seed_from_u64(5);
        q.handle_queued(UnixMillis(0), id(1), BOB, UnixMillis(0))
            .unwrap();
        q.poll();
        q.handle_outcome(UnixMillis(10), id(1), Outcome::DirectFailed, &mut rng);
        // BOB calls us after the deposit time: the attempt is a deposit.
        q.handle_peer_online(UnixMillis(30_000), &BOB);
        assert!(matches!(q.poll(), Some(Attempt::Deposit { .. })));
        q.handle_outcome(UnixMillis(30_010), id(1), Outcome::DepositFailed, &mut rng);
        // And after the give-up time it gives up.
        q.handle_peer_online(UnixMillis(200_000), &BOB);
        assert_eq!(q.poll(), Some(Attempt::GiveUp { id: id(1) }));
        assert!(q.is_empty());
        assert!(!q.has_pending_for(&BOB));
    }

    #[test]
    fn a_peer_seen_during_an_attempt_that_then_fails_is_retried_at_once() {
        let mut q = DeliveryQueue::new(DeliveryConfig::default());
        let mut rng = StdRng::seed_from_u64(4);
        q.handle_queued(UnixMillis(0), id(1), BOB, UnixMillis(0))
            .unwrap();
        q.poll();
        // BOB calls us while our attempt is still on the wire (to its
        // previous process, say), and then the attempt fails.
        q.handle_peer_online(UnixMillis(100), &BOB);
        assert_eq!(q.poll(), None);
        q.handle_outcome(UnixMillis(200), id(1), Outcome::DirectFailed, &mut rng);
        assert_eq!(q.poll_timeout(), Some(UnixMillis(200)));
        q.handle_timeout(UnixMillis(200));
        assert!(matches!(q.poll(), Some(Attempt::Direct { .. })));
        // Only once: the next failure backs off again.
        q.handle_outcome(UnixMillis(300), id(1), Outcome::DirectFailed, &mut rng);
        assert!(q.poll_timeout().is_some_and(|t| t > UnixMillis(300)));
    }

    #[test]
    fn reloaded_old_message_goes_straight_to_mailboxes() {
        let mut q = DeliveryQueue::new(DeliveryConfig::default());
        q.handle_queued(
            UnixMillis(DEFAULT_DEPOSIT_AFTER_MS + 1),
            id(1),
            BOB,
            UnixMillis(0),
        )
        .unwrap();
        assert!(matches!(q.poll(), Some(Attempt::Deposit { .. })));
    }
}
