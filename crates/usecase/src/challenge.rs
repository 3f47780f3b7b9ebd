//! Ownership challenges of mailbox holders: a holder hands out fresh random
//! nonces and accepts each one once, for one mailbox, for a short time.

use std::collections::{HashMap, VecDeque};

use rand_core::CryptoRng;
use tacnode_domain::mailbox::{MailboxOperation, MailboxProof, NONCE_LEN};
use tacnode_domain::{NodeId, UnixMillis};

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_MS: u64 = 30_000;
/// Most challenges outstanding at once. Beyond it the oldest challenge of
/// the requester holding the most is dropped, so a flood grows no memory
/// and starves only the flooders.
pub const MAX_OUTSTANDING_CHALLENGES: usize = 4_096;
/// Most challenges one requester may hold for one mailbox; beyond it its
/// own oldest for that mailbox is dropped. Requests by others for the same
/// mailbox (a flood aimed at its owner) never evict the owner's.
pub const MAX_CHALLENGES_PER_MAILBOX: usize = 4;
/// Most challenges one requester may hold in all; beyond it its own oldest
/// is dropped.
pub const MAX_CHALLENGES_PER_REQUESTER: usize = 64;

/// Why an ownership proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The nonce was never issued, already used, issued to another
    /// requester or for another mailbox, or expired.
    #[error("unknown, used or expired challenge")]
    UnknownChallenge,
    /// The identity key does not own the mailbox or the signature is wrong.
    #[error("ownership proof does not verify")]
    BadProof,
}

#[derive(Debug, Clone, Copy)]
struct Issued {
    requester: NodeId,
    mailbox: NodeId,
    expires: UnixMillis,
}

/// Outstanding challenges of one holder.
#[derive(Debug, Default)]
pub struct ChallengeBook {
    issued: HashMap<[u8; NONCE_LEN], Issued>,
    /// Issue order, oldest first (also the expiry order).
    order: VecDeque<[u8; NONCE_LEN]>,
}

impl ChallengeBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh nonce for `requester` (TLS-authenticated) to prove it owns
    /// `mailbox`.
    pub fn issue<R: CryptoRng + ?Sized>(
        &mut self,
        now: UnixMillis,
        requester: NodeId,
        mailbox: NodeId,
        rng: &mut R,
    ) -> [u8; NONCE_LEN] {
        self.expire(now);
        let same_pair = |i: &Issued| i.requester == requester && i.mailbox == mailbox;
        if self.count(same_pair) >= MAX_CHALLENGES_PER_MAILBOX {
            self.drop_oldest(same_pair);
        }
        let same_requester = |i: &Issued| i.requester == requester;
        if self.count(same_requester) >= MAX_CHALLENGES_PER_REQUESTER {
            self.drop_oldest(same_requester);
        }
        while self.order.len() >= MAX_OUTSTANDING_CHALLENGES {
            let Some(heaviest) = self.heaviest_requester() else {
                break;
            };
            self.drop_oldest(|i| i.requester == heaviest);
        }
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        self.issued.insert(
            nonce,
            Issued {
                requester,
                mailbox,
                expires: now.saturating_add_millis(CHALLENGE_TTL_MS),
            },
        );
        self.order.push_back(nonce);
        nonce
    }

    fn count(&self, f: impl Fn(&Issued) -> bool) -> usize {
        self.issued.values().filter(|i| f(i)).count()
    }

    /// Drops the oldest outstanding challenge matching `f`.
    fn drop_oldest(&mut self, f: impl Fn(&Issued) -> bool) {
        let oldest = self
            .order
            .iter()
            .position(|n| self.issued.get(n).is_some_and(&f));
        if let Some(pos) = oldest
            && let Some(n) = self.order.remove(pos)
        {
            self.issued.remove(&n);
        }
    }

    /// The requester holding the most challenges (the lowest id among
    /// equals, so the choice is deterministic).
    fn heaviest_requester(&self) -> Option<NodeId> {
        let mut counts: HashMap<NodeId, usize> = HashMap::new();
        for i in self.issued.values() {
            *counts.entry(i.requester).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(id, _)| id)
    }

    fn expire(&mut self, now: UnixMillis) {
        while let Some(first) = self.order.front() {
            match self.issued.get(first) {
                Some(i) if i.expires > now => break,
                _ => {
                    if let Some(n) = self.order.pop_front() {
                        self.issued.remove(&n);
                    }
                }
            }
        }
    }

    /// Checks a proof by `requester` for `operation` on `mailbox`, held by
    /// `holder`, consuming its nonce whether or not the signature verifies
    /// (a nonce is never tried twice).
    pub fn redeem(
        &mut self,
        now: UnixMillis,
        requester: &NodeId,
        holder: &NodeId,
        mailbox: &NodeId,
        operation: MailboxOperation,
        proof: &MailboxProof,
    ) -> Result<(), ProofError> {
        self.expire(now);
        match self.issued.remove(&proof.nonce) {
            Some(i) if i.requester == *requester && i.mailbox == *mailbox && i.expires > now => {}
            _ => return Err(ProofError::UnknownChallenge),
        }
        self.order.retain(|n| *n != proof.nonce);
        proof
            .verify(holder, mailbox, operation)
            .map_err(|_| ProofError::BadProof)
    }

    /// Outstanding challenges.
    pub fn len(&self) -> usize {
        self.issued.len()
    }

    /// True when none are outstanding.
    pub fn is_empty(&self) -> bool {
        self.issued.is_empty()
    }
}

/// Signs an ownership proof (the mailbox owner's side).
pub fn prove(
    identity: &tacnode_crypto::Identity,
    holder: &NodeId,
    nonce: [u8; NONCE_LEN],
    operation: MailboxOperation,
) -> MailboxProof {
    let recipient = identity.node_id();
    MailboxProof {
        identity_key: identity.identity_key(),
        nonce,
        signature: identity.sign(&MailboxProof::signing_bytes(
            holder, &recipient, &nonce, operation,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tacnode_crypto::Identity;

    /// The owner, asking for its own mailbox, redeems `nonce` for a fetch.
    fn redeem_as_owner(
        book: &mut ChallengeBook,
        owner: &Identity,
        holder: &NodeId,
        nonce: [u8; NONCE_LEN],
    ) -> Result<(), ProofError> {
        let proof = prove(owner, holder, nonce, MailboxOperation::Fetch);
        book.redeem(
            UnixMillis(1),
            &owner.node_id(),
            holder,
            &owner.node_id(),
            MailboxOperation::Fetch,
            &proof,
        )
    }

    #[test]
    fn only_the_owner_with_a_fresh_nonce_passes_once() {
        let mut rng = StdRng::seed_from_u64(9);
        let owner = Identity::generate(&mut rng);
        let thief = Identity::generate(&mut rng);
        let holder = NodeId::from_bytes([7; 32]);
        let mut book = ChallengeBook::new();
        let t = UnixMillis(1_000);

        let n = book.issue(t, owner.node_id(), owner.node_id(), &mut rng);
        let good = prove(&owner, &holder, n, MailboxOperation::Fetch);
        book.redeem(
            t,
            &owner.node_id(),
            &holder,
            &owner.node_id(),
            MailboxOperation::Fetch,
            &good,
        )
        .unwrap();
        // Replay of the same proof.
        assert_eq!(
            book.redeem(
                t,
                &owner.node_id(),
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &good
            ),
            Err(ProofError::UnknownChallenge)
        );

        // Someone else signing for the owner's mailbox.
        let n = book.issue(t, owner.node_id(), owner.node_id(), &mut rng);
        let forged = prove(&thief, &holder, n, MailboxOperation::Fetch);
        assert_eq!(
            book.redeem(
                t,
                &owner.node_id(),
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &forged
            ),
            Err(ProofError::BadProof)
        );

        // A fetch proof used for an ack.
        let n = book.issue(t, owner.node_id(), owner.node_id(), &mut rng);
        let fetch = prove(&owner, &holder, n, MailboxOperation::Fetch);
        assert_eq!(
            book.redeem(
                t,
                &owner.node_id(),
                &holder,
                &owner.node_id(),
                MailboxOperation::Ack,
                &fetch
            ),
            Err(ProofError::BadProof)
        );

        // A proof for another holder.
        let n = book.issue(t, owner.node_id(), owner.node_id(), &mut rng);
        let elsewhere = prove(
            &owner,
            &NodeId::from_bytes([8; 32]),
            n,
            MailboxOperation::Fetch,
        );
        assert_eq!(
            book.redeem(
                t,
                &owner.node_id(),
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &elsewhere
            ),
            Err(ProofError::BadProof)
        );

        // Expired.
        let n = book.issue(t, owner.node_id(), owner.node_id(), &mut rng);
        let late = prove(&owner, &holder, n, MailboxOperation::Fetch);
        let later = t.saturating_add_millis(CHALLENGE_TTL_MS);
        assert_eq!(
            book.redeem(
                later,
                &owner.node_id(),
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &late
            ),
            Err(ProofError::UnknownChallenge)
        );
    }

    /// Others asking for challenges for the owner's mailbox (a flood aimed
    /// at it) evict only their own: the owner's challenge stays usable
    /// (issue #13, finding 4).
    #[test]
    fn a_flood_for_the_owners_mailbox_does_not_evict_the_owners_challenge() {
        let mut rng = StdRng::seed_from_u64(2);
        let owner = Identity::generate(&mut rng);
        let holder = NodeId::from_bytes([7; 32]);
        let mut book = ChallengeBook::new();
        let mine = book.issue(UnixMillis(0), owner.node_id(), owner.node_id(), &mut rng);
        for flooder in 0..3u8 {
            for _ in 0..100 {
                book.issue(
                    UnixMillis(0),
                    NodeId::from_bytes([flooder; 32]),
                    owner.node_id(),
                    &mut rng,
                );
            }
        }
        assert_eq!(book.len(), 1 + 3 * MAX_CHALLENGES_PER_MAILBOX);
        redeem_as_owner(&mut book, &owner, &holder, mine).unwrap();
    }

    /// A nonce issued to one requester is refused from another.
    #[test]
    fn a_challenge_is_redeemed_only_by_its_requester() {
        let mut rng = StdRng::seed_from_u64(3);
        let owner = Identity::generate(&mut rng);
        let holder = NodeId::from_bytes([7; 32]);
        let mut book = ChallengeBook::new();
        let other = NodeId::from_bytes([5; 32]);
        let n = book.issue(UnixMillis(0), other, owner.node_id(), &mut rng);
        let proof = prove(&owner, &holder, n, MailboxOperation::Fetch);
        assert_eq!(
            book.redeem(
                UnixMillis(1),
                &owner.node_id(),
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &proof,
            ),
            Err(ProofError::UnknownChallenge)
        );
    }

    /// Filling the whole book (requesters each at their own cap) drops the
    /// heaviest requesters' challenges, not a one-challenge owner's.
    #[test]
    fn outstanding_challenges_are_bounded_and_the_owner_survives() {
        let mut rng = StdRng::seed_from_u64(1);
        let owner = Identity::generate(&mut rng);
        let holder = NodeId::from_bytes([7; 32]);
        let mut book = ChallengeBook::new();
        let mine = book.issue(UnixMillis(0), owner.node_id(), owner.node_id(), &mut rng);
        for i in 0..MAX_OUTSTANDING_CHALLENGES + 100 {
            let mut requester = [0u8; 32];
            requester[..8]
                .copy_from_slice(&((i / MAX_CHALLENGES_PER_REQUESTER) as u64).to_be_bytes());
            requester[31] = 1;
            let mut mailbox = [0u8; 32];
            mailbox[..8].copy_from_slice(&(i as u64).to_be_bytes());
            book.issue(
                UnixMillis(0),
                NodeId::from_bytes(requester),
                NodeId::from_bytes(mailbox),
                &mut rng,
            );
        }
        assert_eq!(book.len(), MAX_OUTSTANDING_CHALLENGES);
        redeem_as_owner(&mut book, &owner, &holder, mine).unwrap();
    }
}
