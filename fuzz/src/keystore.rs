//! `keystore::open_with_minimum` on arbitrary bytes, and on keystore-shaped
//! JSON built with `arbitrary` so inputs get past the JSON parser.
//!
//! An input starting with [`STRUCTURED`] is read as a [`ShapedKeystore`];
//! any other input is opened as it is. The minimum is the weakest Argon2id
//! accepts, so tiny parameters reach the KDF and executions stay fast.
//!
//! Parameters within the production caps but over [`ARGON2_BUDGET_KIB_PASSES`]
//! are skipped: they are allowed by design and would only slow the fuzzer.
//! Parameters over the caps are always fed: they must be refused before any
//! Argon2 work, which is checked after each open.

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value};
use tacnode_crypto::keystore::{
    self, CIPHER_ALGORITHM, KDF_ALGORITHM, KEYSTORE_VERSION, KdfParams, KeystoreError,
    MAX_KDF_ITERATIONS, MAX_KDF_MEMORY_KIB, MAX_KDF_PARALLELISM,
};

/// Passphrase of raw inputs; the seed keystores are sealed under it.
pub const PASSPHRASE: &[u8] = b"fuzz passphrase";
/// First byte selecting the structured mode (never the start of JSON).
pub const STRUCTURED: u8 = 0;
/// Largest Argon2 work (memory KiB times passes) run per input.
pub const ARGON2_BUDGET_KIB_PASSES: u64 = 256;
/// The floor passed to `open_with_minimum`: Argon2id's own minimum.
pub const MINIMUM: (u32, u32, u32) = (8, 1, 1);

/// Opens `data` in the mode its first byte selects.
pub fn run(data: &[u8]) {
    match data.split_first() {
        Some((&STRUCTURED, rest)) => {
            let Ok(shaped) = ShapedKeystore::arbitrary_take_rest(Unstructured::new(rest)) else {
                return;
            };
            open_checked(&shaped.to_json(), &shaped.passphrase);
        }
        _ => open_checked(data, PASSPHRASE),
    }
}

fn minimum() -> KdfParams {
    let (m, t, p) = MINIMUM;
    KdfParams::new_weak(m, t, p).expect("Argon2id minimum is valid")
}

/// The KDF parameters as a lenient JSON reader sees them, if all present.
fn peek_params(bytes: &[u8]) -> Option<(u64, u64, u64)> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let kdf = v.get("kdf")?;
    Some((
        kdf.get("memory_kib")?.as_u64()?,
        kdf.get("iterations")?.as_u64()?,
        kdf.get("parallelism")?.as_u64()?,
    ))
}

fn within_caps((m, t, p): (u64, u64, u64)) -> bool {
    m <= u64::from(MAX_KDF_MEMORY_KIB)
        && t <= u64::from(MAX_KDF_ITERATIONS)
        && p <= u64::from(MAX_KDF_PARALLELISM)
}

fn open_checked(bytes: &[u8], passphrase: &[u8]) {
    let peeked = peek_params(bytes);
    if let Some(params) = peeked
        && within_caps(params)
        && params.0.saturating_mul(params.1) > ARGON2_BUDGET_KIB_PASSES
    {
        return;
    }
    let result = keystore::open_with_minimum(bytes, passphrase, &minimum());
    let reached_kdf = matches!(
        result,
        Ok(_) | Err(KeystoreError::WrongPassphrase | KeystoreError::Corrupted)
    );
    if reached_kdf {
        let (m, t, p) = peeked.expect("a keystore that reached Argon2 has KDF parameters");
        assert!(
            within_caps((m, t, p)),
            "Argon2 ran with over-cap parameters {m}/{t}/{p}"
        );
        let (fm, ft, fp) = MINIMUM;
        assert!(
            m >= u64::from(fm) && t >= u64::from(ft) && p >= u64::from(fp),
            "Argon2 ran with under-floor parameters {m}/{t}/{p}"
        );
    }
}

/// A keystore-shaped JSON document with every field steerable.
#[derive(Debug, Arbitrary)]
pub struct ShapedKeystore {
    version: Choice<u64>,
    kdf_algorithm: Choice<String>,
    memory_kib: Param,
    iterations: Param,
    parallelism: Param,
    salt: Hex<16>,
    cipher_algorithm: Choice<String>,
    nonce: Hex<12>,
    passphrase_check: Hex<32>,
    ciphertext: Hex<112>,
    /// Bit i drops field i (in the order of [`ShapedKeystore::to_json`]).
    omit: u16,
    extra: Option<(String, Value2)>,
    passphrase: Vec<u8>,
}

/// The expected value, or any other.
#[derive(Debug, Arbitrary)]
enum Choice<T> {
    Expected,
    Other(T),
}

/// A KDF parameter: mostly cheap, sometimes any `u32` (caps), sometimes a
/// JSON value of the wrong type.
#[derive(Debug, Arbitrary)]
enum Param {
    Small(u8),
    Any(u32),
    Wide(i64),
    Float(f64),
}

/// A hex field: the right length, any length, upper case, or any text.
#[derive(Debug, Arbitrary)]
enum Hex<const N: usize> {
    Exact([u8; N]),
    Bytes(Vec<u8>),
    Upper([u8; N]),
    Text(String),
}

/// A small JSON value for unknown fields.
#[derive(Debug, Arbitrary)]
enum Value2 {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<const N: usize> Hex<N> {
    fn to_value(&self) -> Value {
        Value::String(match self {
            Self::Exact(b) => hex(b),
            Self::Bytes(b) => hex(b),
            Self::Upper(b) => hex(b).to_uppercase(),
            Self::Text(t) => t.clone(),
        })
    }
}

impl Param {
    fn to_value(&self) -> Value {
        match self {
            Self::Small(v) => Value::from(*v),
            Self::Any(v) => Value::from(*v),
            Self::Wide(v) => Value::from(*v),
            Self::Float(v) => Value::from(*v),
        }
    }
}

fn choice(c: &Choice<String>, expected: &str) -> Value {
    Value::String(match c {
        Choice::Expected => expected.to_owned(),
        Choice::Other(s) => s.clone(),
    })
}

impl ShapedKeystore {
    /// The JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bit = 0u16;
        let mut keep = || {
            let k = self.omit & (1 << bit) == 0;
            bit += 1;
            k
        };
        let mut kdf = Map::new();
        if keep() {
            kdf.insert(
                "algorithm".into(),
                choice(&self.kdf_algorithm, KDF_ALGORITHM),
            );
        }
        if keep() {
            kdf.insert("memory_kib".into(), self.memory_kib.to_value());
        }
        if keep() {
            kdf.insert("iterations".into(), self.iterations.to_value());
        }
        if keep() {
            kdf.insert("parallelism".into(), self.parallelism.to_value());
        }
        if keep() {
            kdf.insert("salt".into(), self.salt.to_value());
        }
        let mut cipher = Map::new();
        if keep() {
            cipher.insert(
                "algorithm".into(),
                choice(&self.cipher_algorithm, CIPHER_ALGORITHM),
            );
        }
        if keep() {
            cipher.insert("nonce".into(), self.nonce.to_value());
        }
        let mut top = Map::new();
        if keep() {
            let v = match self.version {
                Choice::Expected => u64::from(KEYSTORE_VERSION),
                Choice::Other(v) => v,
            };
            top.insert("version".into(), Value::from(v));
        }
        if keep() {
            top.insert("kdf".into(), Value::Object(kdf));
        }
        if keep() {
            top.insert("cipher".into(), Value::Object(cipher));
        }
        if keep() {
            top.insert("passphrase_check".into(), self.passphrase_check.to_value());
        }
        if keep() {
            top.insert("ciphertext".into(), self.ciphertext.to_value());
        }
        if let Some((k, v)) = &self.extra {
            let v = match v {
                Value2::Null => Value::Null,
                Value2::Bool(b) => Value::from(*b),
                Value2::Int(i) => Value::from(*i),
                Value2::Text(t) => Value::from(t.clone()),
            };
            top.insert(k.clone(), v);
        }
        serde_json::to_vec(&Value::Object(top)).expect("a JSON map serialises")
    }
}
