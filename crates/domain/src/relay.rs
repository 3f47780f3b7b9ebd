//! Relayed calls: a node nobody can dial (behind a NAT, found `Private` by
//! a dial-back) keeps a reservation at a server, its relay, over a
//! connection it opened itself, and names the relay in its peer record.
//! Callers then call it through the relay. The caller signs the call and
//! the called node signs its answer, so each end knows who it talks to as
//! a direct connection's handshake would have told it, and the relay can
//! neither forge, alter nor swap either. What the relay does see: who
//! calls whom, when, and the sizes (the content of deliveries is sealed
//! end to end as always).

use std::net::SocketAddr;

use sha2::{Digest, Sha256};

use crate::{IdentityKey, MemberCertificate, NodeId, Signature, SignatureError};

/// Bytes of a relayed call's nonce.
pub const RELAY_NONCE_LEN: usize = 16;

const CALL_CONTEXT: &[u8] = b"tacnode/relayed-call/v1\0";
const ANSWER_CONTEXT: &[u8] = b"tacnode/relayed-answer/v1\0";

/// Where a node that cannot be dialled is called through: the relay it
/// keeps a reservation at (in its signed peer record).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RelayHint {
    /// The relay's node id (the handshake with it authenticates it).
    pub node_id: NodeId,
    /// Where the relay listens.
    pub endpoint: SocketAddr,
}

/// A call to `to` through `relay`, signed by the caller.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RelayedCall {
    /// The caller's identity key.
    pub caller: IdentityKey,
    /// The relay it is meant to pass through.
    pub relay: NodeId,
    /// The node called.
    pub to: NodeId,
    /// Random, fresh for every call: the answer is bound to it (through
    /// the signature, which covers it), so an old answer to the same
    /// request cannot be played back; the node called remembers recent
    /// ones and refuses a call played again.
    pub nonce: [u8; RELAY_NONCE_LEN],
    /// In a closed network, the caller's member certificate (the admin's
    /// signature binds it to the caller's key): the node called admits the
    /// caller by it, as a handshake would have.
    pub member: Option<MemberCertificate>,
    /// The request: an encoded envelope.
    pub body: Vec<u8>,
    /// The caller's signature over [`RelayedCall::signing_bytes`].
    pub signature: Signature,
}

impl RelayedCall {
    /// What the caller signs: the relay, the node called, the nonce and
    /// the body's hash, domain-separated.
    pub fn signing_bytes(
        relay: &NodeId,
        to: &NodeId,
        nonce: &[u8; RELAY_NONCE_LEN],
        body: &[u8],
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(CALL_CONTEXT.len() + 112);
        m.extend_from_slice(CALL_CONTEXT);
        m.extend_from_slice(relay.as_bytes());
        m.extend_from_slice(to.as_bytes());
        m.extend_from_slice(nonce);
        m.extend_from_slice(&Sha256::digest(body));
        m
    }

    /// The caller's node id.
    pub fn caller_id(&self) -> NodeId {
        NodeId::from_identity(&self.caller)
    }

    /// Checks the caller's signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        self.caller.verify(
            &Self::signing_bytes(&self.relay, &self.to, &self.nonce, &self.body),
            &self.signature,
        )
    }
}

/// The called node's answer to a [`RelayedCall`], signed by it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RelayedAnswer {
    /// The answer: an encoded envelope.
    pub body: Vec<u8>,
    /// The called node's signature over [`RelayedAnswer::signing_bytes`].
    pub signature: Signature,
}

impl RelayedAnswer {
    /// What the called node signs: the call's signature (which names the
    /// call) and the answer's hash, domain-separated.
    pub fn signing_bytes(call_signature: &Signature, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(ANSWER_CONTEXT.len() + 96);
        m.extend_from_slice(ANSWER_CONTEXT);
        m.extend_from_slice(call_signature.as_bytes());
        m.extend_from_slice(&Sha256::digest(body));
        m
    }

    /// Checks that `called` answered the call signed `call_signature`.
    pub fn verify(
        &self,
        called: &IdentityKey,
        call_signature: &Signature,
    ) -> Result<(), SignatureError> {
        called.verify(
            &Self::signing_bytes(call_signature, &self.body),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn sign(sk: &SigningKey, m: &[u8]) -> Signature {
        Signature(sk.sign(m).to_bytes())
    }

    fn call(caller: &SigningKey) -> RelayedCall {
        let (relay, to) = (NodeId::from_bytes([1; 32]), NodeId::from_bytes([2; 32]));
        let body = b"an envelope".to_vec();
        let nonce = [4; RELAY_NONCE_LEN];
        RelayedCall {
            caller: IdentityKey::from(caller.verifying_key()),
            relay,
            to,
            nonce,
            member: None,
            signature: sign(
                caller,
                &RelayedCall::signing_bytes(&relay, &to, &nonce, &body),
            ),
            body,
        }
    }

    #[test]
    fn a_call_is_bound_to_its_caller_relay_node_and_body() {
        let caller = SigningKey::from_bytes(&[7; 32]);
        let c = call(&caller);
        c.verify().unwrap();
        assert_eq!(c.caller_id(), NodeId::from_identity(&c.caller));
        let mut t = c.clone();
        t.relay = NodeId::from_bytes([3; 32]);
        assert!(t.verify().is_err(), "another relay");
        let mut t = c.clone();
        t.to = NodeId::from_bytes([3; 32]);
        assert!(t.verify().is_err(), "another node");
        let mut t = c.clone();
        t.body.push(0);
        assert!(t.verify().is_err(), "another body");
        let mut t = c.clone();
        t.nonce[0] ^= 1;
        assert!(t.verify().is_err(), "another nonce");
        let mut t = c;
        t.caller = IdentityKey::from(SigningKey::from_bytes(&[8; 32]).verifying_key());
        assert!(t.verify().is_err(), "another caller");
    }

    #[test]
    fn an_answer_is_bound_to_its_node_and_call() {
        let caller = SigningKey::from_bytes(&[7; 32]);
        let called = SigningKey::from_bytes(&[9; 32]);
        let called_key = IdentityKey::from(called.verifying_key());
        let c = call(&caller);
        let body = b"an answer".to_vec();
        let a = RelayedAnswer {
            signature: sign(&called, &RelayedAnswer::signing_bytes(&c.signature, &body)),
            body,
        };
        a.verify(&called_key, &c.signature).unwrap();
        // The relay cannot swap in an answer to another call, alter it, or
        // answer itself.
        let other = RelayedCall {
            body: b"another envelope".to_vec(),
            ..call(&caller)
        };
        let other_sig = sign(
            &caller,
            &RelayedCall::signing_bytes(&other.relay, &other.to, &other.nonce, &other.body),
        );
        assert!(a.verify(&called_key, &other_sig).is_err());
        // The same request again, with a fresh nonce: the old answer does
        // not fit it.
        let again = RelayedCall {
            nonce: [5; RELAY_NONCE_LEN],
            ..c.clone()
        };
        let again_sig = sign(
            &caller,
            &RelayedCall::signing_bytes(&again.relay, &again.to, &again.nonce, &again.body),
        );
        assert!(a.verify(&called_key, &again_sig).is_err());
        assert!(a.verify(&called_key, &other_sig).is_err());
        let mut t = a.clone();
        t.body.push(0);
        assert!(t.verify(&called_key, &c.signature).is_err());
        let relay = SigningKey::from_bytes(&[1; 32]);
        let forged = RelayedAnswer {
            signature: sign(&relay, &RelayedAnswer::signing_bytes(&c.signature, &a.body)),
            body: a.body,
        };
        assert!(forged.verify(&called_key, &c.signature).is_err());
    }
}
