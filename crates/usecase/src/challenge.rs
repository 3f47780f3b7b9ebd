//! Ownership challenges of mailbox holders: a holder hands out fresh random
//! nonces and accepts each one once, for one mailbox, for a short time.

use std::collections::{HashMap, VecDeque};

use rand_core::CryptoRng;
use tacnode_domain::mailbox::{MailboxOperation, MailboxProof, NONCE_LEN};
use tacnode_domain::{NodeId, UnixMillis};

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_MS: u64 = 30_000;
/// Most challenges outstanding at once; the oldest is dropped beyond it so a
/// flood of challenge requests cannot grow memory.
pub const MAX_OUTSTANDING_CHALLENGES: usize = 4_096;

/// Most challenges outstanding for one mailbox: a flood of requests for a
/// victim's mailbox then only evicts the flooder's own older challenges for
/// it, never everyone else's (the owner retries with a fresh one).
pub const MAX_CHALLENGES_PER_MAILBOX: usize = 16;

/// Why an ownership proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The nonce was never issued, already used, for another mailbox, or expired.
    #[error("unknown, used or expired challenge")]
    UnknownChallenge,
    /// The identity key does not own the mailbox or the signature is wrong.
    #[error("ownership proof does not verify")]
    BadProof,
}

/// Outstanding challenges of one holder.
#[derive(Debug, Default)]
pub struct ChallengeBook {
    issued: HashMap<[u8; NONCE_LEN], (NodeId, UnixMillis)>,
    order: VecDeque<[u8; NONCE_LEN]>,
}

impl ChallengeBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh nonce for `recipient`'s mailbox.
    pub fn issue<R: CryptoRng + ?Sized>(
        &mut self,
        now: UnixMillis,
        recipient: NodeId,
        rng: &mut R,
    ) -> [u8; NONCE_LEN] {
        self.expire(now);
        let for_mailbox: Vec<[u8; NONCE_LEN]> = self
            .order
            .iter()
            .filter(|n| self.issued.get(*n).is_some_and(|(r, _)| *r == recipient))
            .copied()
            .collect();
        if for_mailbox.len() >= MAX_CHALLENGES_PER_MAILBOX
            && let Some(oldest) = for_mailbox.first()
        {
            self.issued.remove(oldest);
            self.order.retain(|n| n != oldest);
        }
        while self.order.len() >= MAX_OUTSTANDING_CHALLENGES {
            if let Some(old) = self.order.pop_front() {
                self.issued.remove(&old);
            }
        }
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        self.issued.insert(
            nonce,
            (recipient, now.saturating_add_millis(CHALLENGE_TTL_MS)),
        );
        self.order.push_back(nonce);
        nonce
    }

    fn expire(&mut self, now: UnixMillis) {
        while let Some(first) = self.order.front() {
            match self.issued.get(first) {
                Some((_, exp)) if *exp > now => break,
                _ => {
                    if let Some(n) = self.order.pop_front() {
                        self.issued.remove(&n);
                    }
                }
            }
        }
    }

    /// Checks a proof for `operation` on `recipient`'s mailbox held by
    /// `holder`, consuming its nonce whether or not the signature verifies
    /// (a nonce is never tried twice).
    pub fn redeem(
        &mut self,
        now: UnixMillis,
        holder: &NodeId,
        recipient: &NodeId,
        operation: MailboxOperation,
        proof: &MailboxProof,
    ) -> Result<(), ProofError> {
        self.expire(now);
        match self.issued.remove(&proof.nonce) {
            Some((r, exp)) if r == *recipient && exp > now => {}
            _ => return Err(ProofError::UnknownChallenge),
        }
        self.order.retain(|n| *n != proof.nonce);
        proof
            .verify(holder, recipient, operation)
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

    #[test]
    fn only_the_owner_with_a_fresh_nonce_passes_once() {
        let mut rng = StdRng::seed_from_u64(9);
        let owner = Identity::generate(&mut rng);
        let thief = Identity::generate(&mut rng);
        let holder = NodeId::from_bytes([7; 32]);
        let mut book = ChallengeBook::new();
        let t = UnixMillis(1_000);

        let n = book.issue(t, owner.node_id(), &mut rng);
        let good = prove(&owner, &holder, n, MailboxOperation::Fetch);
        book.redeem(t, &holder, &owner.node_id(), MailboxOperation::Fetch, &good)
            .unwrap();
        // Replay of the same proof.
        assert_eq!(
            book.redeem(t, &holder, &owner.node_id(), MailboxOperation::Fetch, &good),
            Err(ProofError::UnknownChallenge)
        );

        // Someone else signing for the owner's mailbox.
        let n = book.issue(t, owner.node_id(), &mut rng);
        let forged = prove(&thief, &holder, n, MailboxOperation::Fetch);
        assert_eq!(
            book.redeem(
                t,
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &forged
            ),
            Err(ProofError::BadProof)
        );

        // A fetch proof used for an ack.
        let n = book.issue(t, owner.node_id(), &mut rng);
        let fetch = prove(&owner, &holder, n, MailboxOperation::Fetch);
        assert_eq!(
            book.redeem(t, &holder, &owner.node_id(), MailboxOperation::Ack, &fetch),
            Err(ProofError::BadProof)
        );

        // A proof for another holder.
        let n = book.issue(t, owner.node_id(), &mut rng);
        let elsewhere = prove(
            &owner,
            &NodeId::from_bytes([8; 32]),
            n,
            MailboxOperation::Fetch,
        );
        assert_eq!(
            book.redeem(
                t,
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &elsewhere
            ),
            Err(ProofError::BadProof)
        );

        // Expired.
        let n = book.issue(t, owner.node_id(), &mut rng);
        let late = prove(&owner, &holder, n, MailboxOperation::Fetch);
        let later = t.saturating_add_millis(CHALLENGE_TTL_MS);
        assert_eq!(
            book.redeem(
                later,
                &holder,
                &owner.node_id(),
                MailboxOperation::Fetch,
                &late
            ),
            Err(ProofError::UnknownChallenge)
        );
    }

    #[test]
    fn a_flood_for_one_mailbox_does_not_evict_another_mailbox_challenge() {
        let mut rng = StdRng::seed_from_u64(2);
        let owner = Identity::generate(&mut rng);
        let holder = NodeId::from_bytes([7; 32]);
        let mut book = ChallengeBook::new();
        let mine = book.issue(UnixMillis(0), owner.node_id(), &mut rng);
        for _ in 0..10 * MAX_CHALLENGES_PER_MAILBOX {
            book.issue(UnixMillis(0), NodeId::from_bytes([9; 32]), &mut rng);
        }
        assert_eq!(book.len(), 1 + MAX_CHALLENGES_PER_MAILBOX);
        let proof = prove(&owner, &holder, mine, MailboxOperation::Fetch);
        book.redeem(
            UnixMillis(1),
            &holder,
            &owner.node_id(),
            MailboxOperation::Fetch,
            &proof,
        )
        .unwrap();
    }

    #[test]
    fn outstanding_challenges_are_bounded() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut book = ChallengeBook::new();
        for i in 0..MAX_OUTSTANDING_CHALLENGES + 100 {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            book.issue(UnixMillis(0), NodeId::from_bytes(id), &mut rng);
        }
        assert_eq!(book.len(), MAX_OUTSTANDING_CHALLENGES);
    }
}
