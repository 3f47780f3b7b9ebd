//! An established Double Ratchet session pair fed forged, replayed and
//! tampered messages between genuine ones, delivered in any order.
//!
//! The pair (initiator "alice", responder "bob") is built once, through
//! X3DH, from seeded rngs, and cloned for every input. Input layout (read
//! with `arbitrary::Unstructured`, front to back): up to [`MAX_OPS`] ops,
//! each a tag byte and its fields; [`encode`] writes the same layout, so
//! seeds can carry real headers and ciphertexts.
//!
//! Invariants: a failed decrypt leaves the session byte for byte unchanged;
//! every genuine message decrypts exactly once, to its plaintext, whatever
//! the order and whatever came before; a forged or tampered message never
//! decrypts; after everything, fresh messages both ways still decrypt.

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_crypto::prekey::PrekeyState;
use tacnode_crypto::ratchet::Session;
use tacnode_crypto::x3dh;
use tacnode_domain::e2e::{MESSAGE_NONCE_LEN, RatchetHeader, RatchetMessage};
use tacnode_domain::{DhPublicKey, UnixMillis};

/// Most ops read from one input.
pub const MAX_OPS: usize = 128;
/// Most genuine messages sent per input (keeps every skip under `MAX_SKIP`).
pub const MAX_GENUINE: usize = 64;
/// Largest forged ciphertext.
pub const MAX_FORGED_CIPHERTEXT: usize = 4096;

/// X25519 public keys of small order (and non-canonical encodings of them):
/// every DH with them is non-contributory.
pub const LOW_ORDER_POINTS: [[u8; 32]; 6] = [
    [0; 32],
    {
        let mut p = [0u8; 32];
        p[0] = 1;
        p
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    {
        let mut p = [0xffu8; 32];
        p[0] = 0xec;
        p[31] = 0x7f;
        p
    },
    {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        p
    },
];

/// Which ratchet key a forged header names.
#[derive(Debug, Clone)]
pub enum KeyChoice {
    /// Any 32 bytes.
    Raw([u8; 32]),
    /// The forging side's own current ratchet key (the recipient's current
    /// receiving chain once it has received from it).
    Current,
    /// The key of the in-flight genuine message at this index.
    Flight(u8),
    /// One of [`LOW_ORDER_POINTS`].
    LowOrder(u8),
}

/// One step.
#[derive(Debug, Clone)]
pub enum Op {
    /// Deliver a forged message to alice (`to_alice`) or bob.
    Forge {
        /// Recipient.
        to_alice: bool,
        /// Header ratchet key.
        key: KeyChoice,
        /// Header `pn`.
        pn: u32,
        /// Header `n`.
        n: u32,
        /// Ciphertext (with or without a plausible tag).
        ciphertext: Vec<u8>,
    },
    /// A genuine message is sent and kept in flight.
    Send {
        /// Sender.
        from_alice: bool,
        /// Plaintext length.
        len: u8,
    },
    /// The in-flight message at `index` (modulo) arrives.
    Deliver {
        /// Index into the in-flight messages.
        index: u8,
    },
    /// A delivered message arrives again.
    Replay {
        /// Index into the delivered messages.
        index: u8,
    },
    /// A modified copy of an in-flight message arrives; the original stays.
    Tamper {
        /// Index into the in-flight messages.
        index: u8,
        /// What to modify.
        field: u8,
        /// How.
        value: u32,
    },
}

const TAG_FORGE: u8 = 0;
const TAG_SEND: u8 = 1;
const TAG_DELIVER: u8 = 2;
const TAG_REPLAY: u8 = 3;
const TAG_TAMPER: u8 = 4;
const TAG_COUNT: u8 = 5;

fn parse_op(u: &mut Unstructured<'_>) -> Result<Op> {
    Ok(match u.arbitrary::<u8>()? % TAG_COUNT {
        TAG_FORGE => {
            let to_alice = u.arbitrary::<bool>()?;
            let key = match u.arbitrary::<u8>()? % 4 {
                0 => KeyChoice::Raw(u.arbitrary()?),
                1 => KeyChoice::Current,
                2 => KeyChoice::Flight(u.arbitrary()?),
                _ => KeyChoice::LowOrder(u.arbitrary()?),
            };
            let pn = u.arbitrary()?;
            let n = u.arbitrary()?;
            let len = usize::from(u.arbitrary::<u16>()?) % (MAX_FORGED_CIPHERTEXT + 1);
            let ciphertext = u.bytes(len.min(u.len()))?.to_vec();
            Op::Forge {
                to_alice,
                key,
                pn,
                n,
                ciphertext,
            }
        }
        TAG_SEND => Op::Send {
            from_alice: u.arbitrary()?,
            len: u.arbitrary()?,
        },
        TAG_DELIVER => Op::Deliver {
            index: u.arbitrary()?,
        },
        TAG_REPLAY => Op::Replay {
            index: u.arbitrary()?,
        },
        _ => Op::Tamper {
            index: u.arbitrary()?,
            field: u.arbitrary()?,
            value: u.arbitrary()?,
        },
    })
}

/// The bytes [`run`] reads back as `ops` (for seeds).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Forge {
                to_alice,
                key,
                pn,
                n,
                ciphertext,
            } => {
                out.push(TAG_FORGE);
                out.push(u8::from(*to_alice));
                match key {
                    KeyChoice::Raw(k) => {
                        out.push(0);
                        out.extend_from_slice(k);
                    }
                    KeyChoice::Current => out.push(1),
                    KeyChoice::Flight(i) => out.extend_from_slice(&[2, *i]),
                    KeyChoice::LowOrder(i) => out.extend_from_slice(&[3, *i]),
                }
                out.extend_from_slice(&pn.to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
                let len = u16::try_from(ciphertext.len().min(MAX_FORGED_CIPHERTEXT)).unwrap_or(0);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&ciphertext[..usize::from(len)]);
            }
            Op::Send { from_alice, len } => {
                out.extend_from_slice(&[TAG_SEND, u8::from(*from_alice), *len])
            }
            Op::Deliver { index } => out.extend_from_slice(&[TAG_DELIVER, *index]),
            Op::Replay { index } => out.extend_from_slice(&[TAG_REPLAY, *index]),
            Op::Tamper {
                index,
                field,
                value,
            } => {
                out.extend_from_slice(&[TAG_TAMPER, *index, *field]);
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
    }
    out
}

/// A session pair after X3DH: alice initiated, bob answered her first
/// message. Deterministic.
pub fn established() -> (Session, Session) {
    static PAIR: OnceLock<(Session, Session)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0x7a7c_4e7d);
        let alice_id = Identity::generate(&mut rng);
        let bob_id = Identity::generate(&mut rng);
        let mut prekeys = PrekeyState::new(&mut rng, &bob_id, UnixMillis(0));
        let otk = prekeys
            .generate_one_time_prekeys(&mut rng, 1)
            .expect("one prekey")[0]
            .id;
        let bundle = prekeys.bundle(&bob_id, Some(otk)).expect("bundle");
        let out = x3dh::initiate(&mut rng, &alice_id, &bundle).expect("initiate");
        let mut alice = Session::new_initiator(&mut rng, &out).expect("initiator session");
        let first = alice.encrypt(&mut rng, b"first").expect("encrypt");
        let (bob, plaintext) = x3dh::respond(
            &bob_id,
            &mut prekeys,
            &out.initial_message(first),
            UnixMillis(1),
        )
        .expect("respond");
        assert_eq!(plaintext.as_slice(), b"first");
        (alice, bob)
    })
    .clone()
}

struct Genuine {
    from_alice: bool,
    message: RatchetMessage,
    plaintext: Vec<u8>,
}

struct Pair {
    alice: Session,
    bob: Session,
    rng: StdRng,
    sent: usize,
    in_flight: Vec<Genuine>,
    delivered: Vec<Genuine>,
}

impl Pair {
    fn recipient(&mut self, to_alice: bool) -> &mut Session {
        if to_alice {
            &mut self.alice
        } else {
            &mut self.bob
        }
    }

    /// Decrypts a message that must fail, and checks the session did not change.
    fn refused(&mut self, to_alice: bool, m: &RatchetMessage, what: &str) {
        let s = self.recipient(to_alice);
        let before = s.to_bytes();
        let result = s.decrypt(m);
        assert!(result.is_err(), "{what} decrypted: {m:?}");
        assert_eq!(
            s.to_bytes(),
            before,
            "failed decrypt ({what}) changed the session"
        );
    }

    fn send(&mut self, from_alice: bool, len: u8) -> Genuine {
        self.sent += 1;
        let n = u8::try_from(self.sent % 256).unwrap_or(0);
        let plaintext = vec![n; usize::from(len)];
        let rng = &mut self.rng;
        let s = if from_alice {
            &mut self.alice
        } else {
            &mut self.bob
        };
        let message = s
            .encrypt(rng, &plaintext)
            .expect("an established session encrypts");
        Genuine {
            from_alice,
            message,
            plaintext,
        }
    }

    fn deliver(&mut self, g: &Genuine) {
        let s = self.recipient(!g.from_alice);
        let p = s
            .decrypt(&g.message)
            .unwrap_or_else(|e| panic!("genuine message refused: {e:?}: {:?}", g.message.header));
        assert_eq!(p.as_slice(), g.plaintext.as_slice(), "wrong plaintext");
    }

    fn forge(&mut self, to_alice: bool, key: &KeyChoice, pn: u32, n: u32, ciphertext: Vec<u8>) {
        let ratchet_key = match key {
            KeyChoice::Raw(k) => DhPublicKey(*k),
            KeyChoice::Current => {
                if to_alice {
                    self.bob.ratchet_key()
                } else {
                    self.alice.ratchet_key()
                }
            }
            KeyChoice::Flight(i) => match self.in_flight.len() {
                0 => self.alice.ratchet_key(),
                len => {
                    self.in_flight[usize::from(*i) % len]
                        .message
                        .header
                        .ratchet_key
                }
            },
            KeyChoice::LowOrder(i) => {
                DhPublicKey(LOW_ORDER_POINTS[usize::from(*i) % LOW_ORDER_POINTS.len()])
            }
        };
        // The nonce of a genuine message with this key and number, if one
        // is in flight, so a forgery can coincide with it exactly.
        let nonce = self
            .in_flight
            .iter()
            .find(|g| {
                g.message.header.ratchet_key == ratchet_key && g.message.header.message_number == n
            })
            .map_or([0; MESSAGE_NONCE_LEN], |g| g.message.header.nonce);
        let m = RatchetMessage {
            header: RatchetHeader {
                ratchet_key,
                previous_chain_length: pn,
                message_number: n,
                nonce,
            },
            ciphertext,
        };
        // A forged message may only decrypt if it is a genuine one in flight.
        if let Some(i) = self
            .in_flight
            .iter()
            .position(|g| g.from_alice != to_alice && g.message == m)
        {
            let g = self.in_flight.remove(i);
            self.deliver(&g);
            self.delivered.push(g);
            return;
        }
        self.refused(to_alice, &m, "forged message");
    }

    fn tamper(&mut self, index: u8, field: u8, value: u32) {
        let len = self.in_flight.len();
        if len == 0 {
            return;
        }
        let g = &self.in_flight[usize::from(index) % len];
        let to_alice = !g.from_alice;
        let mut m = g.message.clone();
        let [b0, b1, b2, _] = value.to_le_bytes();
        match field % 6 {
            0 => m.header.ratchet_key.0[usize::from(b0) % 32] ^= b1 | 1,
            1 => m.header.previous_chain_length = value,
            2 => m.header.message_number = value,
            5 if value % 2 == 0 => m.header.nonce[usize::from(b0) % MESSAGE_NONCE_LEN] ^= b1 | 1,
            3 => {
                if !m.ciphertext.is_empty() {
                    let i = usize::from(u16::from_le_bytes([b0, b1])) % m.ciphertext.len();
                    m.ciphertext[i] ^= b2 | 1;
                }
            }
            4 => m
                .ciphertext
                .truncate(usize::from(b0) % (m.ciphertext.len() + 1)),
            _ => m.ciphertext.push(b0),
        }
        if m == g.message {
            return;
        }
        self.refused(to_alice, &m, "tampered message");
    }
}

/// Runs the ops, then checks both directions still work.
pub fn run(data: &[u8]) {
    let (alice, bob) = established();
    let mut p = Pair {
        alice,
        bob,
        rng: StdRng::seed_from_u64(7),
        sent: 0,
        in_flight: Vec::new(),
        delivered: Vec::new(),
    };
    let mut u = Unstructured::new(data);
    let mut ops = 0;
    while !u.is_empty() && ops < MAX_OPS {
        ops += 1;
        let Ok(op) = parse_op(&mut u) else {
            break;
        };
        match op {
            Op::Forge {
                to_alice,
                key,
                pn,
                n,
                ciphertext,
            } => p.forge(to_alice, &key, pn, n, ciphertext),
            Op::Send { from_alice, len } => {
                if p.sent < MAX_GENUINE {
                    let g = p.send(from_alice, len);
                    p.in_flight.push(g);
                }
            }
            Op::Deliver { index } => {
                if !p.in_flight.is_empty() {
                    let g = p.in_flight.remove(usize::from(index) % p.in_flight.len());
                    p.deliver(&g);
                    p.delivered.push(g);
                }
            }
            Op::Replay { index } => {
                if !p.delivered.is_empty() {
                    let i = usize::from(index) % p.delivered.len();
                    let (to_alice, m) =
                        (!p.delivered[i].from_alice, p.delivered[i].message.clone());
                    p.refused(to_alice, &m, "replayed message");
                }
            }
            Op::Tamper {
                index,
                field,
                value,
            } => p.tamper(index, field, value),
        }
    }
    // The sessions stay usable: fresh messages both ways decrypt, and so
    // does everything still in flight.
    for from_alice in [true, false, true] {
        let g = p.send(from_alice, 3);
        p.deliver(&g);
    }
    for g in std::mem::take(&mut p.in_flight) {
        p.deliver(&g);
    }
}
