//! What arrives by broadcast or from a group member: `decode_group_broadcast`,
//! `decode_group_op`, `decode_announcement`, `decode_beacon`, a sender-key
//! ciphertext and distribution (`GroupCiphertext::from_bytes`,
//! `SenderKeyDistribution::from_bytes`), and a receiving chain fed the
//! bytes as a ciphertext.
//!
//! Invariants: whatever decodes re-encodes to bytes that decode to an equal
//! value; verifying a decoded operation, announcement or beacon never
//! panics; a receiving chain refuses anything its owner did not sign and is
//! unchanged by a refusal (its pickle is byte for byte the same).

use std::sync::OnceLock;

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tacnode_crypto::group::{GroupCiphertext, ReceiverChain, SenderChain, SenderKeyDistribution};
use tacnode_domain::group::GroupBroadcast;
use tacnode_messaging::{
    decode_announcement, decode_beacon, decode_group_broadcast, decode_group_op,
    encode_announcement, encode_beacon, encode_group_broadcast, encode_group_op,
};

/// The associated data the fuzzed chain's messages carry (a group id).
pub const GROUP: [u8; 32] = [0x67; 32];

/// A sending chain and its receiving twin, built once from a seeded rng.
pub fn chains() -> &'static (Vec<u8>, Vec<u8>) {
    static CHAINS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    CHAINS.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0x6709);
        let sender = SenderChain::new(&mut rng);
        let receiver = ReceiverChain::new(&sender.distribution());
        (sender.to_bytes().to_vec(), receiver.to_bytes().to_vec())
    })
}

/// Feeds `data` to every decoder.
pub fn run(data: &[u8]) {
    if let Ok(b) = decode_group_broadcast(data) {
        let bytes = encode_group_broadcast(&b);
        let again = decode_group_broadcast(&bytes).expect("re-encoded broadcast must decode");
        assert_eq!(again, b, "group broadcast changed across a round trip");
        if let GroupBroadcast::Op(op) = &b {
            let _ = op.verify_signature();
        }
    }
    if let Ok(op) = decode_group_op(data) {
        let again = decode_group_op(&encode_group_op(&op)).expect("re-encoded op must decode");
        assert_eq!(again, op, "group op changed across a round trip");
        let _ = op.verify_signature();
        let _ = op.check_shape();
    }
    if let Ok(a) = decode_announcement(data) {
        let again = decode_announcement(&encode_announcement(&a))
            .expect("re-encoded announcement must decode");
        assert_eq!(again, a, "announcement changed across a round trip");
        let _ = a.verify();
    }
    if let Ok(b) = decode_beacon(data) {
        let again = decode_beacon(&encode_beacon(&b)).expect("re-encoded beacon must decode");
        assert_eq!(again, b, "beacon changed across a round trip");
        let _ = b.verify();
    }
    if let Ok(d) = SenderKeyDistribution::from_bytes(data) {
        let again = SenderKeyDistribution::from_bytes(&d.to_bytes())
            .expect("re-encoded distribution must decode");
        assert_eq!(
            again.to_bytes(),
            d.to_bytes(),
            "distribution changed across a round trip"
        );
    }
    if let Ok(c) = GroupCiphertext::from_bytes(data) {
        let again =
            GroupCiphertext::from_bytes(&c.to_bytes()).expect("re-encoded ciphertext must decode");
        assert_eq!(again, c, "ciphertext changed across a round trip");
        let (_, receiver) = chains();
        let mut chain = ReceiverChain::from_bytes(receiver).expect("the fixed chain unpickles");
        if chain.decrypt(&GROUP, &c).is_err() {
            assert_eq!(
                chain.to_bytes().as_slice(),
                receiver.as_slice(),
                "a refused ciphertext changed the chain"
            );
        } else {
            // Only the seeds' genuine messages open: nobody else has the key.
            let (sender, _) = chains();
            let mut s = SenderChain::from_bytes(sender).expect("the fixed chain unpickles");
            let mut genuine = false;
            for _ in 0..8 {
                let m = s.encrypt(&GROUP, b"seed").expect("encrypts");
                genuine |= m == c;
            }
            assert!(genuine, "a ciphertext the owner did not write opened");
        }
    }
}
