//! Runs every Project Wycheproof vector in `tests/data/wycheproof/` through
//! the crate's own wrappers in `tacnode_crypto::primitives`.
//!
//! Each test counts the cases it checked and the cases out of the wrapper's
//! scope (skipped, by name and reason), prints the counts, and asserts that
//! checked + skipped covers the file's `numberOfTests`.

// Test helpers outside `#[test]` functions: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::Value;
use tacnode_crypto::primitives::{
    AEAD_NONCE_LEN, AeadError, DhError, HMAC_SHA256_LEN, aes256gcm_open, aes256gcm_seal,
    chacha20poly1305_open, chacha20poly1305_seal, ed25519_verify, hkdf_sha256, hmac_sha256,
    hmac_sha256_verify, x25519,
};

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every test case of a file, with its group.
fn cases(file: &Value) -> Vec<(&Value, &Value)> {
    file["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().iter().map(move |t| (g, t)))
        .collect()
}

fn id(t: &Value) -> u64 {
    t["tcId"].as_u64().unwrap()
}

fn has_flag(t: &Value, flag: &str) -> bool {
    t["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f.as_str() == Some(flag))
}

#[derive(Default)]
struct Tally {
    accepted: usize,
    rejected: usize,
    /// Part of `rejected`: inputs of a length the wrapper's array parameter
    /// cannot hold (wrong nonce or signature size).
    rejected_by_type: usize,
    skipped: usize,
}

impl Tally {
    fn report(&self, file: &Value, name: &str) {
        let total = file["numberOfTests"].as_u64().unwrap() as usize;
        println!(
            "{name}: {} passed ({} accepted, {} rejected of which {} by parameter length), \
             {} skipped, {total} in file",
            self.accepted + self.rejected,
            self.accepted,
            self.rejected,
            self.rejected_by_type,
            self.skipped
        );
        assert_eq!(
            self.accepted + self.rejected + self.skipped,
            total,
            "{name}"
        );
        assert!(self.accepted > 0, "{name}: nothing accepted");
    }
}

#[test]
fn x25519_vectors() {
    let file = load("x25519_test.json");
    let mut tally = Tally::default();
    let mut zero_cases = 0;
    for (g, t) in cases(&file) {
        assert_eq!(g["curve"], "curve25519");
        let secret: [u8; 32] = hex(&t["private"]).try_into().unwrap();
        let public: [u8; 32] = hex(&t["public"]).try_into().unwrap();
        let shared: [u8; 32] = hex(&t["shared"]).try_into().unwrap();
        let result = x25519(&secret, &public);
        // Wycheproof marks low-order cases "acceptable": we reject exactly the
        // ones whose shared secret is zero and compute every other one.
        if shared == [0; 32] {
            assert!(has_flag(t, "ZeroSharedSecret"), "tc {}", id(t));
            assert_eq!(result, Err(DhError::NonContributory), "tc {}", id(t));
            zero_cases += 1;
            tally.rejected += 1;
        } else {
            assert!(!has_flag(t, "ZeroSharedSecret"), "tc {}", id(t));
            assert!(
                matches!(t["result"].as_str(), Some("valid" | "acceptable")),
                "tc {}",
                id(t)
            );
            assert_eq!(*result.unwrap(), shared, "tc {}", id(t));
            tally.accepted += 1;
        }
    }
    tally.report(&file, "x25519_test.json");
    assert!(zero_cases > 0);
    assert_eq!(tally.skipped, 0);
}

/// Wycheproof "valid" Ed25519 cases that strict verification refuses, with the
/// reason. Empty: every valid vector in this file passes `verify_strict`.
const ED25519_VALID_BUT_STRICTLY_REJECTED: &[(u64, &str)] = &[];

#[test]
fn ed25519_vectors() {
    let file = load("ed25519_test.json");
    let mut tally = Tally::default();
    let mut strictly_rejected = Vec::new();
    for (g, t) in cases(&file) {
        let pk: [u8; 32] = hex(&g["publicKey"]["pk"]).try_into().unwrap();
        let msg = hex(&t["msg"]);
        let sig = hex(&t["sig"]);
        // A signature of any length other than 64 cannot reach the wrapper:
        // its `&[u8; 64]` parameter is the length check.
        let verdict = <[u8; 64]>::try_from(sig.as_slice())
            .map_err(|_| "length")
            .and_then(|sig| ed25519_verify(&pk, &msg, &sig).map_err(|_| "signature"));
        if verdict == Err("length") {
            tally.rejected_by_type += 1;
        }
        match t["result"].as_str().unwrap() {
            "valid" => {
                if verdict.is_ok() {
                    tally.accepted += 1;
                } else {
                    strictly_rejected.push(id(t));
                    tally.rejected += 1;
                }
            }
            "invalid" => {
                assert!(verdict.is_err(), "tc {} accepted", id(t));
                tally.rejected += 1;
            }
            other => panic!("tc {}: unexpected result {other}", id(t)),
        }
    }
    let listed: Vec<u64> = ED25519_VALID_BUT_STRICTLY_REJECTED
        .iter()
        .map(|(tc, _)| *tc)
        .collect();
    assert_eq!(strictly_rejected, listed);
    tally.report(&file, "ed25519_test.json");
}

type Seal = fn(&[u8; 32], &[u8; 12], &[u8], &[u8]) -> Result<Vec<u8>, AeadError>;
type Open =
    fn(&[u8; 32], &[u8; 12], &[u8], &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, AeadError>;

/// Runs one AEAD file. Groups other than 256-bit key / 96-bit nonce / 128-bit
/// tag are out of the wrappers' scope; for ChaCha20-Poly1305 those are the
/// invalid nonce sizes, which the `&[u8; 12]` parameter rejects.
fn aead_vectors(name: &str, seal: Seal, open: Open, nonce_type_rejects: bool) -> usize {
    let file = load(name);
    let mut tally = Tally::default();
    for (g, t) in cases(&file) {
        let in_scope = g["keySize"] == 256 && g["ivSize"] == 96 && g["tagSize"] == 128;
        if !in_scope {
            let nonce_len = hex(&t["iv"]).len();
            if nonce_type_rejects && g["keySize"] == 256 && nonce_len != AEAD_NONCE_LEN {
                assert_eq!(t["result"], "invalid", "tc {}", id(t));
                assert!(<[u8; AEAD_NONCE_LEN]>::try_from(hex(&t["iv"]).as_slice()).is_err());
                tally.rejected += 1;
                tally.rejected_by_type += 1;
            } else {
                tally.skipped += 1;
            }
            continue;
        }
        let key: [u8; 32] = hex(&t["key"]).try_into().unwrap();
        let nonce: [u8; 12] = hex(&t["iv"]).try_into().unwrap();
        let (aad, msg) = (hex(&t["aad"]), hex(&t["msg"]));
        let mut sealed = hex(&t["ct"]);
        sealed.extend(hex(&t["tag"]));
        match t["result"].as_str().unwrap() {
            "valid" => {
                assert_eq!(
                    seal(&key, &nonce, &aad, &msg).unwrap(),
                    sealed,
                    "tc {}",
                    id(t)
                );
                assert_eq!(
                    *open(&key, &nonce, &aad, &sealed).unwrap(),
                    msg,
                    "tc {}",
                    id(t)
                );
                tally.accepted += 1;
            }
            "invalid" => {
                assert!(open(&key, &nonce, &aad, &sealed).is_err(), "tc {}", id(t));
                tally.rejected += 1;
            }
            other => panic!("tc {}: unexpected result {other}", id(t)),
        }
    }
    tally.report(&file, name);
    assert!(tally.rejected > 0, "{name}: nothing rejected");
    tally.skipped
}

#[test]
fn chacha20_poly1305_vectors() {
    let skipped = aead_vectors(
        "chacha20_poly1305_test.json",
        chacha20poly1305_seal,
        chacha20poly1305_open,
        true,
    );
    assert_eq!(skipped, 0);
}

#[test]
fn aes_gcm_vectors() {
    let skipped = aead_vectors("aes_gcm_test.json", aes256gcm_seal, aes256gcm_open, false);
    // AES-128/192 and other nonce sizes are in the file but out of scope.
    assert!(skipped > 0);
}

#[test]
fn hkdf_sha256_vectors() {
    let file = load("hkdf_sha256_test.json");
    let mut tally = Tally::default();
    for (_, t) in cases(&file) {
        let size = t["size"].as_u64().unwrap() as usize;
        let out = hkdf_sha256(&hex(&t["salt"]), &hex(&t["ikm"]), &hex(&t["info"]), size);
        match t["result"].as_str().unwrap() {
            "valid" => {
                assert_eq!(*out.unwrap(), hex(&t["okm"]), "tc {}", id(t));
                tally.accepted += 1;
            }
            "invalid" => {
                assert!(out.is_err(), "tc {}", id(t));
                tally.rejected += 1;
            }
            other => panic!("tc {}: unexpected result {other}", id(t)),
        }
    }
    tally.report(&file, "hkdf_sha256_test.json");
    assert!(tally.rejected > 0);
}

#[test]
fn hmac_sha256_vectors() {
    let file = load("hmac_sha256_test.json");
    let mut tally = Tally::default();
    for (g, t) in cases(&file) {
        let tag_len = g["tagSize"].as_u64().unwrap() as usize / 8;
        let (key, msg, tag) = (hex(&t["key"]), hex(&t["msg"]), hex(&t["tag"]));
        let valid = match t["result"].as_str().unwrap() {
            "valid" => true,
            "invalid" => false,
            other => panic!("tc {}: unexpected result {other}", id(t)),
        };
        let verified = hmac_sha256_verify(&key, &msg, &tag).is_ok();
        if tag_len == HMAC_SHA256_LEN {
            assert_eq!(verified, valid, "tc {}", id(t));
            if valid {
                assert_eq!(hmac_sha256(&key, &msg).as_slice(), tag, "tc {}", id(t));
            }
        } else {
            // Truncated-tag groups: our verify refuses every truncated tag;
            // the MAC itself must still match the vector's prefix exactly
            // when the case is valid.
            assert!(!verified, "tc {}: truncated tag accepted", id(t));
            let prefix_matches = hmac_sha256(&key, &msg).get(..tag_len) == Some(tag.as_slice());
            assert_eq!(prefix_matches, valid, "tc {}", id(t));
        }
        if valid {
            tally.accepted += 1;
        } else {
            tally.rejected += 1;
        }
    }
    tally.report(&file, "hmac_sha256_test.json");
    assert!(tally.rejected > 0);
}
