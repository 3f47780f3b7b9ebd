//! The encrypted keystore: a node's [`Identity`] (both 32-byte secrets) and a
//! random [`StorageKey`] for data at rest, sealed under a passphrase.
//!
//! Sealing ([`seal`]) and opening ([`open`]) are pure functions over bytes;
//! [`write_new`], [`read`], [`create`] and [`load`] are the only code that
//! touches the disk.
//!
//! # Format (version 1)
//!
//! Compact JSON, every binary value lower-case hex:
//!
//! ```json
//! {"version":1,
//!  "kdf":{"algorithm":"argon2id","memory_kib":65536,"iterations":3,"parallelism":1,"salt":"<16 bytes>"},
//!  "cipher":{"algorithm":"aes-256-gcm","nonce":"<12 bytes>"},
//!  "passphrase_check":"<32 bytes>",
//!  "ciphertext":"<112 bytes>",
//!  "checksum":"<32 bytes>"}
//! ```
//!
//! - `checksum` (optional: files written before it lack it) is SHA-256 over
//!   the other fields, length-prefixed: an unkeyed check that tells a
//!   damaged file ([`KeystoreError::Damaged`]) from a wrong passphrase,
//!   checked after the cheap field checks and before any Argon2 work.
//!   Deliberate edits are caught by the passphrase check and the AEAD tag.
//! - `master = Argon2id v0x13(passphrase, salt, m = memory_kib, t = iterations,
//!   p = parallelism, 32 bytes)`.
//! - `key = HKDF-SHA-256(salt = "", ikm = master, info = "tacnode keystore v1 aes-256-gcm key", 32)`,
//!   `passphrase_check = HKDF-SHA-256(salt = "", ikm = master, info = "tacnode keystore v1 passphrase check", 32)`.
//!   The check lets [`open`] tell a wrong passphrase ([`KeystoreError::WrongPassphrase`])
//!   from a damaged ciphertext ([`KeystoreError::Corrupted`]); guessing against it costs
//!   the same Argon2id work as guessing against the AEAD tag.
//! - `ciphertext = AES-256-GCM(key, nonce, aad, signing seed ‖ device secret ‖ storage key)`
//!   (96 bytes of plaintext, 16-byte tag appended).
//! - `aad = "tacnode keystore" ‖ u32_be(version) ‖ u8(len) "argon2id" ‖ u32_be(m) ‖ u32_be(t)
//!   ‖ u32_be(p) ‖ u8(len) salt ‖ u8(len) "aes-256-gcm" ‖ nonce ‖ passphrase_check`:
//!   the whole header, so a header changed in any way fails to open.
//!
//! Parameters read from a file are refused below [`KdfParams::MINIMUM`]
//! (downgrade) and above the `MAX_KDF_*` caps (resource exhaustion) before any
//! Argon2 work. Files over [`MAX_KEYSTORE_LEN`] are refused before being read
//! whole.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::{Algorithm, Argon2, Version};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::identity::Identity;
use crate::primitives::{
    AEAD_NONCE_LEN, AEAD_TAG_LEN, aes256gcm_open, aes256gcm_seal, hkdf_sha256_into,
};

/// The format version this code writes and reads.
pub const KEYSTORE_VERSION: u32 = 1;
/// Largest keystore accepted, in bytes (a version-1 file is about 500).
pub const MAX_KEYSTORE_LEN: usize = 64 * 1024;
/// Longest passphrase accepted, in bytes.
pub const MAX_PASSPHRASE_LEN: usize = 1024;
/// `kdf.algorithm` of version 1.
pub const KDF_ALGORITHM: &str = "argon2id";
/// `cipher.algorithm` of version 1.
pub const CIPHER_ALGORITHM: &str = "aes-256-gcm";
/// Salt length written by [`seal`].
pub const KDF_SALT_LEN: usize = 16;
/// Shortest salt accepted from a file.
pub const MIN_KDF_SALT_LEN: usize = 16;
/// Longest salt accepted from a file.
pub const MAX_KDF_SALT_LEN: usize = 64;
/// Argon2id memory floor (KiB) for files: 19 MiB, the OWASP minimum.
pub const MIN_KDF_MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id pass floor for files.
pub const MIN_KDF_ITERATIONS: u32 = 2;
/// Argon2id memory cap (KiB): 1 GiB, so a crafted file cannot exhaust memory.
pub const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
/// Argon2id pass cap, so a crafted file cannot stall opening.
pub const MAX_KDF_ITERATIONS: u32 = 64;
/// Argon2id lane cap.
pub const MAX_KDF_PARALLELISM: u32 = 16;
/// Cap of memory × passes (KiB): 3 GiB-passes, so the most expensive file
/// accepted takes about 4 s to refuse or open on a 2-core laptop (1 GiB × 1
/// pass measured 1.3 s, the default 64 MiB × 3 passes 0.13 s), not minutes.
pub const MAX_KDF_WORK_KIB: u64 = 3 * 1024 * 1024;
/// Length of the passphrase check value.
pub const PASSPHRASE_CHECK_LEN: usize = 32;
/// Length of the sealed plaintext: signing seed, device secret, storage key.
pub const SECRETS_LEN: usize = 3 * 32;

const AAD_LABEL: &[u8] = b"tacnode keystore";
const INFO_CIPHER_KEY: &[u8] = b"tacnode keystore v1 aes-256-gcm key";
const INFO_CHECK: &[u8] = b"tacnode keystore v1 passphrase check";

/// Sealing or opening a keystore failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The keystore is over [`MAX_KEYSTORE_LEN`] bytes.
    #[error("keystore of {actual} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Length received.
        actual: usize,
        /// [`MAX_KEYSTORE_LEN`].
        max: usize,
    },
    /// The passphrase is over [`MAX_PASSPHRASE_LEN`] bytes.
    #[error("passphrase of {actual} bytes exceeds the maximum of {max}")]
    PassphraseTooLong {
        /// Length received.
        actual: usize,
        /// [`MAX_PASSPHRASE_LEN`].
        max: usize,
    },
    /// The JSON ends early: the file was truncated.
    #[error("keystore is truncated")]
    Truncated,
    /// Not JSON of the keystore's shape (syntax, missing or unknown field).
    #[error("keystore is not valid keystore JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// A `version` this code does not read.
    #[error("keystore version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the file.
        found: u64,
        /// [`KEYSTORE_VERSION`].
        supported: u32,
    },
    /// `kdf.algorithm` or `cipher.algorithm` is not the version's algorithm.
    #[error("keystore field {field} names an unsupported algorithm")]
    UnsupportedAlgorithm {
        /// The JSON field.
        field: &'static str,
    },
    /// A binary field is not lower-case hex of an accepted length.
    #[error("keystore field {field} is not valid hex of the expected length")]
    InvalidField {
        /// The JSON field.
        field: &'static str,
    },
    /// KDF parameters below [`KdfParams::MINIMUM`] (or the minimum given).
    #[error(
        "keystore KDF parameters too weak: {memory_kib} KiB, {iterations} passes, \
         {parallelism} lanes"
    )]
    WeakParameters {
        /// Memory in KiB.
        memory_kib: u32,
        /// Passes.
        iterations: u32,
        /// Lanes.
        parallelism: u32,
    },
    /// KDF parameters over [`MAX_KDF_MEMORY_KIB`], [`MAX_KDF_ITERATIONS`],
    /// [`MAX_KDF_PARALLELISM`] or, memory × passes, [`MAX_KDF_WORK_KIB`].
    #[error(
        "keystore KDF parameters too expensive: {memory_kib} KiB, {iterations} passes, \
         {parallelism} lanes"
    )]
    ExcessiveParameters {
        /// Memory in KiB.
        memory_kib: u32,
        /// Passes.
        iterations: u32,
        /// Lanes.
        parallelism: u32,
    },
    /// KDF parameters Argon2 itself refuses (e.g. zero passes, or less than
    /// 8 KiB of memory per lane).
    #[error("keystore KDF parameters are not valid Argon2id parameters")]
    InvalidParameters,
    /// The passphrase is wrong (or the `passphrase_check` field was altered).
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The passphrase is right but the ciphertext or header was altered.
    #[error("keystore is corrupted: authentication failed")]
    Corrupted,
    /// The file's checksum does not match its fields: it was damaged (a
    /// changed salt, parameter, check value or ciphertext), so the
    /// passphrase was not even tried.
    #[error(
        "the keystore file is damaged (its checksum does not match); restore it from a \
         backup - the passphrase was not tried"
    )]
    Damaged,
    /// Encryption failed (cannot happen for the fixed-size plaintext).
    #[error("keystore encryption failed")]
    Encryption,
}

/// Reading or writing a keystore file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreFileError {
    /// A file (or link) already exists at the path; it is never overwritten.
    #[error("a keystore already exists at {}", path.display())]
    AlreadyExists {
        /// The path given.
        path: PathBuf,
    },
    /// The path has no file name.
    #[error("keystore path {} has no file name", path.display())]
    InvalidPath {
        /// The path given.
        path: PathBuf,
    },
    /// The file is over [`MAX_KEYSTORE_LEN`] bytes; it was not read whole.
    #[error("keystore file of {actual} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Size seen.
        actual: u64,
        /// [`MAX_KEYSTORE_LEN`].
        max: usize,
    },
    /// Not a regular file (a FIFO would block the reader, a directory or a
    /// device is no keystore).
    #[error("{} is not a regular file; a keystore is one", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
    },
    /// Group or others may read or write the file. The secrets are sealed
    /// under the passphrase, but a readable file invites an offline guessing
    /// attack and a writable one a swap.
    #[error(
        "keystore {} has mode {mode:04o}, open to group or others; \
         run `chmod 600 {}` and try again",
        path.display(),
        path.display()
    )]
    Exposed {
        /// The path given.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file system failed.
    #[error("keystore I/O: {0}")]
    Io(#[from] io::Error),
    /// Sealing or opening failed.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
}

pub use tacnode_domain::StorageKey;

/// A fresh random [`StorageKey`].
pub fn generate_storage_key<R: CryptoRng + ?Sized>(rng: &mut R) -> StorageKey {
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill_bytes(key.as_mut_slice());
    StorageKey::from_bytes(*key)
}

/// What a keystore holds: the identity and the storage key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeystoreSecrets {
    identity: Identity,
    storage_key: StorageKey,
}

impl KeystoreSecrets {
    /// Bundles an identity and a storage key.
    pub fn new(identity: Identity, storage_key: StorageKey) -> Self {
        Self {
            identity,
            storage_key,
        }
    }

    /// A fresh identity and storage key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let identity = Identity::generate(rng);
        let storage_key = generate_storage_key(rng);
        Self::new(identity, storage_key)
    }

    /// The identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The storage key.
    pub fn storage_key(&self) -> &StorageKey {
        &self.storage_key
    }
}

impl fmt::Debug for KeystoreSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreSecrets")
            .field("identity_key", &self.identity.identity_key())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// Argon2id cost parameters, stored in the keystore so they can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfParams {
    /// What [`seal`] should use: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };

    /// The floor [`open`] applies to parameters read from a file.
    pub const MINIMUM: Self = Self {
        memory_kib: MIN_KDF_MEMORY_KIB,
        iterations: MIN_KDF_ITERATIONS,
        parallelism: 1,
    };

    /// Parameters at or above [`KdfParams::MINIMUM`] and within the caps.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, KeystoreError> {
        let params = Self::new_weak(memory_kib, iterations, parallelism)?;
        params.check_floor(&Self::MINIMUM)?;
        Ok(params)
    }

    /// Parameters that may be below the floor: for tests, which need cheap
    /// sealing. Keystores sealed with them only open through
    /// [`open_with_minimum`] with a matching minimum.
    pub fn new_weak(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<Self, KeystoreError> {
        let params = Self {
            memory_kib,
            iterations,
            parallelism,
        };
        params.check_caps()?;
        params.argon2_params()?;
        Ok(params)
    }

    /// Memory in KiB.
    pub const fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Passes over memory.
    pub const fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Lanes.
    pub const fn parallelism(&self) -> u32 {
        self.parallelism
    }

    fn check_caps(&self) -> Result<(), KeystoreError> {
        let work = u64::from(self.memory_kib) * u64::from(self.iterations);
        if self.memory_kib > MAX_KDF_MEMORY_KIB
            || self.iterations > MAX_KDF_ITERATIONS
            || self.parallelism > MAX_KDF_PARALLELISM
            || work > MAX_KDF_WORK_KIB
        {
            return Err(KeystoreError::ExcessiveParameters {
                memory_kib: self.memory_kib,
                iterations: self.iterations,
                parallelism: self.parallelism,
            });
        }
        Ok(())
    }

    fn check_floor(&self, minimum: &Self) -> Result<(), KeystoreError> {
        if self.memory_kib < minimum.memory_kib
            || self.iterations < minimum.iterations
            || self.parallelism < minimum.parallelism
        {
            return Err(KeystoreError::WeakParameters {
                memory_kib: self.memory_kib,
                iterations: self.iterations,
                parallelism: self.parallelism,
            });
        }
        Ok(())
    }

    fn argon2_params(&self) -> Result<argon2::Params, KeystoreError> {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|_| KeystoreError::InvalidParameters)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeystoreJson {
    version: u64,
    kdf: KdfJson,
    cipher: CipherJson,
    passphrase_check: String,
    ciphertext: String,
    /// SHA-256 of every other field ([`file_checksum`]), to tell a damaged
    /// file from a wrong passphrase. Absent in files written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<String>,
}

/// An unkeyed checksum of a keystore's fields: it tells accidental damage
/// from a wrong passphrase (deliberate edits are caught by the passphrase
/// check and the AEAD tag, which need the passphrase to forge).
fn file_checksum(json: &KeystoreJson) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"tacnode-keystore-checksum/v1");
    h.update(json.version.to_be_bytes());
    for field in [
        json.kdf.algorithm.as_bytes(),
        &json.kdf.memory_kib.to_be_bytes(),
        &json.kdf.iterations.to_be_bytes(),
        &json.kdf.parallelism.to_be_bytes(),
        json.kdf.salt.as_bytes(),
        json.cipher.algorithm.as_bytes(),
        json.cipher.nonce.as_bytes(),
        json.passphrase_check.as_bytes(),
        json.ciphertext.as_bytes(),
    ] {
        h.update(u64::try_from(field.len()).unwrap_or(u64::MAX).to_be_bytes());
        h.update(field);
    }
    hex_encode(&h.finalize())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfJson {
    algorithm: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CipherJson {
    algorithm: String,
    nonce: String,
}

// Read first, leniently, so a future version's different shape reports the
// version rather than a JSON error.
#[derive(Deserialize)]
struct VersionProbe {
    version: u64,
}

/// The validated header: everything but the ciphertext.
struct Header {
    params: KdfParams,
    salt: Vec<u8>,
    nonce: [u8; AEAD_NONCE_LEN],
    check: [u8; PASSPHRASE_CHECK_LEN],
}

impl Header {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(128);
        aad.extend_from_slice(AAD_LABEL);
        aad.extend_from_slice(&KEYSTORE_VERSION.to_be_bytes());
        push_short(&mut aad, KDF_ALGORITHM.as_bytes());
        aad.extend_from_slice(&self.params.memory_kib.to_be_bytes());
        aad.extend_from_slice(&self.params.iterations.to_be_bytes());
        aad.extend_from_slice(&self.params.parallelism.to_be_bytes());
        push_short(&mut aad, &self.salt);
        push_short(&mut aad, CIPHER_ALGORITHM.as_bytes());
        aad.extend_from_slice(&self.nonce);
        aad.extend_from_slice(&self.check);
        aad
    }
}

// Length-prefixed with one byte; every field pushed is at most 64 bytes.
fn push_short(out: &mut Vec<u8>, field: &[u8]) {
    out.push(u8::try_from(field.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(field);
}

struct DerivedKeys {
    cipher_key: Zeroizing<[u8; 32]>,
    check: [u8; PASSPHRASE_CHECK_LEN],
}

fn derive_keys(
    passphrase: &[u8],
    params: &KdfParams,
    salt: &[u8],
) -> Result<DerivedKeys, KeystoreError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.argon2_params()?);
    let mut master = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, master.as_mut())
        .map_err(|_| KeystoreError::InvalidParameters)?;
    let mut cipher_key = Zeroizing::new([0u8; 32]);
    let mut check = [0u8; PASSPHRASE_CHECK_LEN];
    // 32-byte outputs are far below the HKDF limit; the errors cannot occur.
    hkdf_sha256_into(b"", master.as_ref(), INFO_CIPHER_KEY, cipher_key.as_mut())
        .map_err(|_| KeystoreError::InvalidParameters)?;
    hkdf_sha256_into(b"", master.as_ref(), INFO_CHECK, &mut check)
        .map_err(|_| KeystoreError::InvalidParameters)?;
    Ok(DerivedKeys { cipher_key, check })
}

fn check_passphrase(passphrase: &[u8]) -> Result<(), KeystoreError> {
    if passphrase.len() > MAX_PASSPHRASE_LEN {
        return Err(KeystoreError::PassphraseTooLong {
            actual: passphrase.len(),
            max: MAX_PASSPHRASE_LEN,
        });
    }
    Ok(())
}

/// Seals `secrets` under `passphrase` with fresh salt and nonce from `rng`,
/// returning the keystore's JSON bytes.
///
/// The passphrase is taken as given (callers normalise it, e.g. trim or NFC,
/// the same way when sealing and opening).
pub fn seal<R: CryptoRng + ?Sized>(
    rng: &mut R,
    secrets: &KeystoreSecrets,
    passphrase: &[u8],
    params: &KdfParams,
) -> Result<Vec<u8>, KeystoreError> {
    check_passphrase(passphrase)?;
    let mut salt = [0u8; KDF_SALT_LEN];
    rng.fill_bytes(&mut salt);
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let keys = derive_keys(passphrase, params, &salt)?;
    let header = Header {
        params: *params,
        salt: salt.to_vec(),
        nonce,
        check: keys.check,
    };

    let mut plaintext = Zeroizing::new([0u8; SECRETS_LEN]);
    let signing = Zeroizing::new(secrets.identity.signing_secret_bytes());
    let device = Zeroizing::new(secrets.identity.device_secret_bytes());
    for (dst, src) in plaintext.chunks_exact_mut(32).zip([
        signing.as_ref(),
        device.as_ref(),
        secrets.storage_key.as_bytes(),
    ]) {
        dst.copy_from_slice(src);
    }
    let ciphertext = aes256gcm_seal(&keys.cipher_key, &nonce, &header.aad(), plaintext.as_ref())
        .map_err(|_| KeystoreError::Encryption)?;

    let json = KeystoreJson {
        version: u64::from(KEYSTORE_VERSION),
        kdf: KdfJson {
            algorithm: KDF_ALGORITHM.to_owned(),
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
            salt: hex_encode(&header.salt),
        },
        cipher: CipherJson {
            algorithm: CIPHER_ALGORITHM.to_owned(),
            nonce: hex_encode(&nonce),
        },
        passphrase_check: hex_encode(&header.check),
        ciphertext: hex_encode(&ciphertext),
        checksum: None,
    };
    let json = KeystoreJson {
        checksum: Some(file_checksum(&json)),
        ..json
    };
    serde_json::to_vec(&json).map_err(KeystoreError::Json)
}

/// Opens a keystore, refusing KDF parameters below [`KdfParams::MINIMUM`].
pub fn open(bytes: &[u8], passphrase: &[u8]) -> Result<KeystoreSecrets, KeystoreError> {
    open_with_minimum(bytes, passphrase, &KdfParams::MINIMUM)
}

/// Opens a keystore, refusing KDF parameters below `minimum` (tests pass a
/// cheap minimum; production code calls [`open`]).
pub fn open_with_minimum(
    bytes: &[u8],
    passphrase: &[u8],
    minimum: &KdfParams,
) -> Result<KeystoreSecrets, KeystoreError> {
    if bytes.len() > MAX_KEYSTORE_LEN {
        return Err(KeystoreError::TooLarge {
            actual: bytes.len(),
            max: MAX_KEYSTORE_LEN,
        });
    }
    check_passphrase(passphrase)?;
    let probe: VersionProbe = serde_json::from_slice(bytes).map_err(json_error)?;
    if probe.version != u64::from(KEYSTORE_VERSION) {
        return Err(KeystoreError::UnsupportedVersion {
            found: probe.version,
            supported: KEYSTORE_VERSION,
        });
    }
    let json: KeystoreJson = serde_json::from_slice(bytes).map_err(json_error)?;
    // Cheap checks first (downgrades, costly parameters, malformed fields),
    // then whether the file is intact, and only then Argon2.
    let (header, ciphertext) = validate(&json, minimum)?;
    if json
        .checksum
        .as_ref()
        .is_some_and(|c| !bool::from(c.as_bytes().ct_eq(file_checksum(&json).as_bytes())))
    {
        return Err(KeystoreError::Damaged);
    }

    let keys = derive_keys(passphrase, &header.params, &header.salt)?;
    if !bool::from(keys.check.ct_eq(&header.check)) {
        return Err(KeystoreError::WrongPassphrase);
    }
    let plaintext = aes256gcm_open(&keys.cipher_key, &header.nonce, &header.aad(), &ciphertext)
        .map_err(|_| KeystoreError::Corrupted)?;
    let mut signing = Zeroizing::new([0u8; 32]);
    let mut device = Zeroizing::new([0u8; 32]);
    let mut storage = Zeroizing::new([0u8; 32]);
    if plaintext.len() != SECRETS_LEN {
        return Err(KeystoreError::Corrupted);
    }
    for (dst, src) in [signing.as_mut(), device.as_mut(), storage.as_mut()]
        .into_iter()
        .zip(plaintext.chunks_exact(32))
    {
        dst.copy_from_slice(src);
    }
    Ok(KeystoreSecrets::new(
        Identity::from_secret_bytes(&signing, &device),
        StorageKey::from_bytes(*storage),
    ))
}

/// Checks the header in full (cheap checks only) before any Argon2 work.
fn validate(json: &KeystoreJson, minimum: &KdfParams) -> Result<(Header, Vec<u8>), KeystoreError> {
    if json.kdf.algorithm != KDF_ALGORITHM {
        return Err(KeystoreError::UnsupportedAlgorithm {
            field: "kdf.algorithm",
        });
    }
    if json.cipher.algorithm != CIPHER_ALGORITHM {
        return Err(KeystoreError::UnsupportedAlgorithm {
            field: "cipher.algorithm",
        });
    }
    let params = KdfParams {
        memory_kib: json.kdf.memory_kib,
        iterations: json.kdf.iterations,
        parallelism: json.kdf.parallelism,
    };
    params.check_caps()?;
    params.check_floor(minimum)?;
    params.argon2_params()?;

    let salt = hex_decode(&json.kdf.salt, "kdf.salt")?;
    if !(MIN_KDF_SALT_LEN..=MAX_KDF_SALT_LEN).contains(&salt.len()) {
        return Err(KeystoreError::InvalidField { field: "kdf.salt" });
    }
    let nonce = hex_decode_array::<AEAD_NONCE_LEN>(&json.cipher.nonce, "cipher.nonce")?;
    let check =
        hex_decode_array::<PASSPHRASE_CHECK_LEN>(&json.passphrase_check, "passphrase_check")?;
    let ciphertext = hex_decode(&json.ciphertext, "ciphertext")?;
    if ciphertext.len() != SECRETS_LEN + AEAD_TAG_LEN {
        return Err(KeystoreError::InvalidField {
            field: "ciphertext",
        });
    }
    Ok((
        Header {
            params,
            salt,
            nonce,
            check,
        },
        ciphertext,
    ))
}

fn json_error(err: serde_json::Error) -> KeystoreError {
    if err.is_eof() {
        KeystoreError::Truncated
    } else {
        KeystoreError::Json(err)
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

// Lower-case only, so each byte has exactly one spelling and any altered
// character changes the value or fails.
fn hex_decode(text: &str, field: &'static str) -> Result<Vec<u8>, KeystoreError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let invalid = KeystoreError::InvalidField { field };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(invalid);
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some((nibble(*hi)? << 4) | nibble(*lo)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(invalid)
}

fn hex_decode_array<const N: usize>(
    text: &str,
    field: &'static str,
) -> Result<[u8; N], KeystoreError> {
    <[u8; N]>::try_from(hex_decode(text, field)?).map_err(|_| KeystoreError::InvalidField { field })
}

/// Seals `secrets` and writes them to a new file at `path` (see [`write_new`]).
///
/// Fails with [`KeystoreFileError::AlreadyExists`] before the Argon2 work if
/// the path is taken.
pub fn create<R: CryptoRng + ?Sized>(
    path: &Path,
    rng: &mut R,
    secrets: &KeystoreSecrets,
    passphrase: &[u8],
    params: &KdfParams,
) -> Result<(), KeystoreFileError> {
    refuse_existing(path)?;
    let sealed = seal(rng, secrets, passphrase, params)?;
    write_new(path, &sealed)
}

/// Reads and opens the keystore at `path` (see [`read`] and [`open`]).
pub fn load(path: &Path, passphrase: &[u8]) -> Result<KeystoreSecrets, KeystoreFileError> {
    load_with_minimum(path, passphrase, &KdfParams::MINIMUM)
}

/// [`load`] with an explicit KDF floor (see [`open_with_minimum`]).
pub fn load_with_minimum(
    path: &Path,
    passphrase: &[u8],
    minimum: &KdfParams,
) -> Result<KeystoreSecrets, KeystoreFileError> {
    let bytes = read(path)?;
    Ok(open_with_minimum(&bytes, passphrase, minimum)?)
}

/// Reads a keystore file, refusing one over [`MAX_KEYSTORE_LEN`] bytes
/// before reading it whole.
///
/// Refuses, before opening it, anything but a regular file and, on Unix, a
/// file group or others may access ([`KeystoreFileError::Exposed`]).
pub fn read(path: &Path) -> Result<Vec<u8>, KeystoreFileError> {
    let meta = fs::metadata(path)?;
    if !meta.is_file() {
        return Err(KeystoreFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeystoreFileError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let too_large = |actual| KeystoreFileError::TooLarge {
        actual,
        max: MAX_KEYSTORE_LEN,
    };
    let cap = u64::try_from(MAX_KEYSTORE_LEN).unwrap_or(u64::MAX);
    if size > cap {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(MAX_KEYSTORE_LEN));
    // The file may grow between the size check and the read.
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_KEYSTORE_LEN {
        return Err(too_large(u64::try_from(bytes.len()).unwrap_or(u64::MAX)));
    }
    Ok(bytes)
}

// Distinguishes the temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `sealed` to a new file at `path`, atomically, never replacing an
/// existing file.
///
/// The bytes go to a temporary file in the same directory, created with mode
/// 0600 (owner only) on Unix, which is fsynced, then hard-linked to `path`
/// (the link fails if `path` exists, so nothing is ever overwritten, even in
/// a race), removed, and the directory fsynced. On a file system without
/// hard links it falls back to an existence check and `rename`.
pub fn write_new(path: &Path, sealed: &[u8]) -> Result<(), KeystoreFileError> {
    if sealed.len() > MAX_KEYSTORE_LEN {
        return Err(KeystoreFileError::TooLarge {
            actual: u64::try_from(sealed.len()).unwrap_or(u64::MAX),
            max: MAX_KEYSTORE_LEN,
        });
    }
    let Some(name) = path.file_name() else {
        return Err(KeystoreFileError::InvalidPath {
            path: path.to_owned(),
        });
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    refuse_existing(path)?;

    let temp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_temp(&temp, sealed).and_then(|()| publish(&temp, path));
    // After a hard link (or a failure) the temporary name is no longer needed;
    // after a rename it is already gone, so an error here is expected.
    let _ = fs::remove_file(&temp);
    result?;
    sync_dir(dir)?;
    Ok(())
}

fn refuse_existing(path: &Path) -> Result<(), KeystoreFileError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Err(KeystoreFileError::AlreadyExists {
            path: path.to_owned(),
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err.into()),
    }
}

fn write_temp(temp: &Path, sealed: &[u8]) -> Result<(), KeystoreFileError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(temp)?;
    file.write_all(sealed)?;
    file.sync_all()?;
    Ok(())
}

fn publish(temp: &Path, path: &Path) -> Result<(), KeystoreFileError> {
    match fs::hard_link(temp, path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            Err(KeystoreFileError::AlreadyExists {
                path: path.to_owned(),
            })
        }
        Err(_) => {
            refuse_existing(path)?;
            fs::rename(temp, path)?;
            Ok(())
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), KeystoreFileError> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::{Value, json};

    const PASS: &[u8] = b"correct horse battery staple";

    // Cheap parameters so tests stay fast; the floor that accepts them.
    fn test_params() -> KdfParams {
        KdfParams::new_weak(64, 1, 1).unwrap()
    }
    fn test_minimum() -> KdfParams {
        KdfParams::new_weak(8, 1, 1).unwrap()
    }

    fn secrets(seed: u64) -> KeystoreSecrets {
        KeystoreSecrets::generate(&mut StdRng::seed_from_u64(seed))
    }

    fn sealed(seed: u64) -> (KeystoreSecrets, Vec<u8>) {
        let s = secrets(seed);
        let bytes = seal(
            &mut StdRng::seed_from_u64(seed + 1000),
            &s,
            PASS,
            &test_params(),
        )
        .unwrap();
        (s, bytes)
    }

    fn open_test(bytes: &[u8], pass: &[u8]) -> Result<KeystoreSecrets, KeystoreError> {
        open_with_minimum(bytes, pass, &test_minimum())
    }

    fn assert_same(a: &KeystoreSecrets, b: &KeystoreSecrets) {
        assert_eq!(a.identity().identity_key(), b.identity().identity_key());
        assert_eq!(a.identity().device_key(), b.identity().device_key());
        assert_eq!(
            a.identity().signing_secret_bytes(),
            b.identity().signing_secret_bytes()
        );
        assert_eq!(
            a.identity().device_secret_bytes(),
            b.identity().device_secret_bytes()
        );
        assert_eq!(a.storage_key(), b.storage_key());
    }

    fn edit(bytes: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    fn flip_hex(v: &mut Value, pointer: &str) {
        let text = v.pointer(pointer).unwrap().as_str().unwrap();
        let mut raw = hex_decode(text, "test").unwrap();
        raw[0] ^= 0x01;
        *v.pointer_mut(pointer).unwrap() = Value::String(hex_encode(&raw));
    }

    #[test]
    fn round_trip_and_shape() {
        let (s, bytes) = sealed(1);
        assert_same(&s, &open_test(&bytes, PASS).unwrap());
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["version"], json!(1));
        assert_eq!(v["kdf"]["algorithm"], json!("argon2id"));
        assert_eq!(v["kdf"]["memory_kib"], json!(64));
        assert_eq!(v["kdf"]["iterations"], json!(1));
        assert_eq!(v["kdf"]["parallelism"], json!(1));
        assert_eq!(v["kdf"]["salt"].as_str().unwrap().len(), 2 * KDF_SALT_LEN);
        assert_eq!(v["cipher"]["algorithm"], json!("aes-256-gcm"));
        assert_eq!(v["cipher"]["nonce"].as_str().unwrap().len(), 24);
        assert_eq!(v["passphrase_check"].as_str().unwrap().len(), 64);
        assert_eq!(v["ciphertext"].as_str().unwrap().len(), 2 * 112);
        // Fresh salt and nonce each time: same secrets, different bytes.
        let again = seal(&mut StdRng::seed_from_u64(77), &s, PASS, &test_params()).unwrap();
        assert_ne!(again, bytes);
        assert_same(&s, &open_test(&again, PASS).unwrap());
        // The empty passphrase is allowed (the caller's policy) and still binds.
        let empty = seal(&mut StdRng::seed_from_u64(78), &s, b"", &test_params()).unwrap();
        assert_same(&s, &open_test(&empty, b"").unwrap());
        assert!(matches!(
            open_test(&empty, b" "),
            Err(KeystoreError::WrongPassphrase)
        ));
    }

    /// A version-1 keystore made by an independent implementation of the
    /// construction in the module doc (Python `cryptography`: Argon2id, HKDF,
    /// AES-GCM), so the format cannot drift unnoticed.
    #[test]
    fn opens_the_independently_made_v1_fixture() {
        let bytes = include_bytes!("../tests/data/keystore_v1.json");
        let opened = open_test(bytes, b"tacnode test passphrase").unwrap();
        let expected = |start: u8| -> [u8; 32] { std::array::from_fn(|i| start + i as u8) };
        assert_eq!(opened.identity().signing_secret_bytes(), expected(0x01));
        assert_eq!(opened.identity().device_secret_bytes(), expected(0x21));
        assert_eq!(opened.storage_key().as_bytes(), &expected(0x41));
        assert!(matches!(
            open_test(bytes, b"tacnode test passphrasE"),
            Err(KeystoreError::WrongPassphrase)
        ));
    }

    #[test]
    fn wrong_passphrase() {
        let (_, bytes) = sealed(2);
        assert!(matches!(
            open_test(&bytes, b"correct horse battery stapl"),
            Err(KeystoreError::WrongPassphrase)
        ));
        assert!(matches!(
            open_test(&bytes, b""),
            Err(KeystoreError::WrongPassphrase)
        ));
    }

    #[test]
    fn truncated_at_every_length() {
        let (_, bytes) = sealed(3);
        for len in 0..bytes.len() {
            let res = open_test(&bytes[..len], PASS);
            assert!(
                matches!(res, Err(KeystoreError::Truncated)),
                "len {len}: {res:?}"
            );
        }
    }

    /// A changed salt, parameter, check value or ciphertext was reported as
    /// a wrong passphrase (issue #13): the checksum tells damage apart, and
    /// says so before any Argon2 work.
    #[test]
    fn a_damaged_file_is_not_called_a_wrong_passphrase() {
        let (_, bytes) = sealed(4);
        assert!(String::from_utf8_lossy(&bytes).contains("\"checksum\""));
        for pointer in [
            "/kdf/salt",
            "/passphrase_check",
            "/cipher/nonce",
            "/ciphertext",
        ] {
            let altered = edit(&bytes, |v| flip_hex(v, pointer));
            assert!(
                matches!(open_test(&altered, PASS), Err(KeystoreError::Damaged)),
                "{pointer}"
            );
        }
        let altered = edit(&bytes, |v| v["kdf"]["iterations"] = json!(2));
        assert!(matches!(
            open_test(&altered, PASS),
            Err(KeystoreError::Damaged)
        ));
        // Intact, with a wrong passphrase: that is what it says.
        assert!(matches!(
            open_test(&bytes, b"not the passphrase"),
            Err(KeystoreError::WrongPassphrase)
        ));
    }

    #[test]
    fn altered_fields_fail_with_their_error() {
        // A file from before the checksum: the deeper checks still hold.
        let (_, bytes) = sealed(4);
        let bytes = edit(&bytes, |v| {
            v.as_object_mut().unwrap().remove("checksum");
        });
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("salt", edit(&bytes, |v| flip_hex(v, "/kdf/salt"))),
            ("check", edit(&bytes, |v| flip_hex(v, "/passphrase_check"))),
            (
                "memory",
                edit(&bytes, |v| v["kdf"]["memory_kib"] = json!(65)),
            ),
            (
                "passes",
                edit(&bytes, |v| v["kdf"]["iterations"] = json!(2)),
            ),
            (
                "lanes",
                edit(&bytes, |v| v["kdf"]["parallelism"] = json!(2)),
            ),
        ];
        for (name, altered) in cases {
            assert!(
                matches!(
                    open_test(&altered, PASS),
                    Err(KeystoreError::WrongPassphrase)
                ),
                "{name}"
            );
        }
        for pointer in ["/cipher/nonce", "/ciphertext"] {
            let altered = edit(&bytes, |v| flip_hex(v, pointer));
            assert!(
                matches!(open_test(&altered, PASS), Err(KeystoreError::Corrupted)),
                "{pointer}"
            );
        }
        let last_byte = edit(&bytes, |v| {
            let text = v["ciphertext"].as_str().unwrap();
            let mut raw = hex_decode(text, "t").unwrap();
            *raw.last_mut().unwrap() ^= 0x80;
            v["ciphertext"] = Value::String(hex_encode(&raw));
        });
        assert!(matches!(
            open_test(&last_byte, PASS),
            Err(KeystoreError::Corrupted)
        ));
        for (pointer, field) in [
            ("/kdf/algorithm", "kdf.algorithm"),
            ("/cipher/algorithm", "cipher.algorithm"),
        ] {
            let altered = edit(&bytes, |v| {
                *v.pointer_mut(pointer).unwrap() = json!("argon2i")
            });
            match open_test(&altered, PASS) {
                Err(KeystoreError::UnsupportedAlgorithm { field: f }) => assert_eq!(f, field),
                other => panic!("{pointer}: {other:?}"),
            }
        }
        for (pointer, field, value) in [
            ("/kdf/salt", "kdf.salt", "00".repeat(8)),
            ("/kdf/salt", "kdf.salt", "00".repeat(65)),
            ("/cipher/nonce", "cipher.nonce", "00".repeat(11)),
            ("/passphrase_check", "passphrase_check", "00".repeat(31)),
            ("/ciphertext", "ciphertext", "00".repeat(111)),
            ("/ciphertext", "ciphertext", "0".repeat(223)),
            ("/ciphertext", "ciphertext", "AB".repeat(112)),
            ("/cipher/nonce", "cipher.nonce", "zz".repeat(12)),
        ] {
            let altered = edit(&bytes, |v| *v.pointer_mut(pointer).unwrap() = json!(value));
            match open_test(&altered, PASS) {
                Err(KeystoreError::InvalidField { field: f }) => assert_eq!(f, field),
                other => panic!("{pointer} = {value}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let (_, bytes) = sealed(5);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut altered = bytes.clone();
                altered[i] ^= 1 << bit;
                assert!(open_test(&altered, PASS).is_err(), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn unknown_version_is_reported_before_shape() {
        let (_, bytes) = sealed(6);
        for version in [0u64, 2, u64::MAX] {
            let altered = edit(&bytes, |v| v["version"] = json!(version));
            assert!(matches!(
                open_test(&altered, PASS),
                Err(KeystoreError::UnsupportedVersion { found, supported: 1 }) if found == version
            ));
        }
        let future = br#"{"version":2,"something":"else"}"#;
        assert!(matches!(
            open_test(future, PASS),
            Err(KeystoreError::UnsupportedVersion { found: 2, .. })
        ));
    }

    #[test]
    fn bad_json_is_reported() {
        let (_, bytes) = sealed(7);
        let missing = edit(&bytes, |v| {
            v.as_object_mut().unwrap().remove("passphrase_check");
        });
        let extra = edit(&bytes, |v| v["kdf"]["pepper"] = json!("x"));
        let wrong_type = edit(&bytes, |v| v["kdf"]["memory_kib"] = json!("64"));
        let negative = edit(&bytes, |v| v["kdf"]["iterations"] = json!(-1));
        let inputs: [&[u8]; 7] = [
            b"not json",
            b"[]",
            b"{}",
            &missing,
            &extra,
            &wrong_type,
            &negative,
        ];
        for input in inputs {
            let res = open_test(input, PASS);
            assert!(
                matches!(res, Err(KeystoreError::Json(_))),
                "{}: {res:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn weak_excessive_and_invalid_parameters_are_refused() {
        let (_, bytes) = sealed(8);
        // The production floor refuses the cheap test parameters.
        assert!(matches!(
            open(&bytes, PASS),
            Err(KeystoreError::WeakParameters {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1
            })
        ));
        for (m, t, p) in [
            (u32::MAX, 1, 1),
            (64, MAX_KDF_ITERATIONS + 1, 1),
            (64, 1, 17),
            // Each within its own cap, together minutes of work (#13,
            // finding 8): 1 GiB × 64 passes, and 1 GiB × 4.
            (MAX_KDF_MEMORY_KIB, MAX_KDF_ITERATIONS, 1),
            (MAX_KDF_MEMORY_KIB, 4, 1),
        ] {
            let altered = edit(&bytes, |v| {
                v["kdf"]["memory_kib"] = json!(m);
                v["kdf"]["iterations"] = json!(t);
                v["kdf"]["parallelism"] = json!(p);
            });
            assert!(
                matches!(
                    open_test(&altered, PASS),
                    Err(KeystoreError::ExcessiveParameters { .. })
                ),
                "{m} {t} {p}"
            );
        }
        // Argon2 needs 8 KiB per lane.
        let altered = edit(&bytes, |v| {
            v["kdf"]["memory_kib"] = json!(8);
            v["kdf"]["parallelism"] = json!(2);
        });
        assert!(matches!(
            open_test(&altered, PASS),
            Err(KeystoreError::InvalidParameters)
        ));
        assert!(matches!(
            KdfParams::new(1024, 3, 1),
            Err(KeystoreError::WeakParameters { .. })
        ));
        assert!(matches!(
            KdfParams::new(MAX_KDF_MEMORY_KIB + 1, 3, 1),
            Err(KeystoreError::ExcessiveParameters { .. })
        ));
        assert!(matches!(
            KdfParams::new_weak(8, 1, 2),
            Err(KeystoreError::InvalidParameters)
        ));
    }

    #[test]
    fn default_parameters_are_at_least_64_mib_and_3_passes() {
        let d = KdfParams::default();
        assert_eq!(d, KdfParams::DEFAULT);
        assert!(d.memory_kib() >= 64 * 1024);
        assert!(d.iterations() >= 3);
        assert!(d.parallelism() >= 1);
        assert_eq!(
            KdfParams::new(d.memory_kib(), d.iterations(), d.parallelism()).unwrap(),
            d
        );
        let min = KdfParams::MINIMUM;
        assert!(min.memory_kib() <= d.memory_kib() && min.iterations() <= d.iterations());
        assert!(KdfParams::new(min.memory_kib(), min.iterations(), 1).is_ok());
    }

    #[test]
    fn size_limits() {
        let (_, bytes) = sealed(9);
        let mut big = bytes.clone();
        big.resize(MAX_KEYSTORE_LEN + 1, b' ');
        assert!(matches!(
            open_test(&big, PASS),
            Err(KeystoreError::TooLarge { actual, max: MAX_KEYSTORE_LEN }) if actual == MAX_KEYSTORE_LEN + 1
        ));
        let long = vec![b'a'; MAX_PASSPHRASE_LEN + 1];
        assert!(matches!(
            open_test(&bytes, &long),
            Err(KeystoreError::PassphraseTooLong { .. })
        ));
        assert!(matches!(
            seal(
                &mut StdRng::seed_from_u64(0),
                &secrets(0),
                &long,
                &test_params()
            ),
            Err(KeystoreError::PassphraseTooLong { .. })
        ));
    }

    #[test]
    fn secrets_are_redacted_and_zeroizable() {
        let mut s = secrets(10);
        let key_hex = hex_encode(s.storage_key().as_bytes());
        let seed_hex = hex_encode(&s.identity().signing_secret_bytes());
        let shown = format!("{s:?} {:?}", s.storage_key());
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&key_hex[..16]) && !shown.contains(&seed_hex[..16]));
        s.zeroize();
        assert_eq!(s.storage_key().as_bytes(), &[0u8; 32]);
        assert_eq!(s.identity().signing_secret_bytes(), [0u8; 32]);
    }

    fn arbitrary_keystore_json() -> impl Strategy<Value = Vec<u8>> {
        let hex = || proptest::collection::vec(any::<u8>(), 0..130).prop_map(|b| hex_encode(&b));
        let text = || prop_oneof![hex(), "[ -~]{0,20}", Just("argon2id".to_owned())];
        (
            prop_oneof![Just(1u64), any::<u64>()],
            (
                text(),
                prop_oneof![0u32..200, Just(u32::MAX), any::<u32>()],
                0u32..4,
                prop_oneof![0u32..4, any::<u32>()],
                text(),
            ),
            (text(), text()),
            text(),
            text(),
        )
            .prop_map(
                |(version, (alg, m, t, p, salt), (calg, nonce), check, ct)| {
                    serde_json::to_vec(&json!({
                        "version": version,
                        "kdf": {"algorithm": alg, "memory_kib": m, "iterations": t,
                                "parallelism": p, "salt": salt},
                        "cipher": {"algorithm": calg, "nonce": nonce},
                        "passphrase_check": check,
                        "ciphertext": ct,
                    }))
                    .unwrap()
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            prop_assert!(open_test(&bytes, PASS).is_err());
        }

        #[test]
        fn arbitrary_keystore_json_never_opens(bytes in arbitrary_keystore_json()) {
            prop_assert!(open_test(&bytes, PASS).is_err());
        }

        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(hex_decode(&hex_encode(&bytes), "t").unwrap(), bytes);
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "tacnode-keystore-{name}-{}-{}",
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
        fn entries(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn file_round_trip_mode_and_no_overwrite() {
        let dir = TestDir::new("file");
        let path = dir.0.join("keystore.json");
        let s = secrets(11);
        let mut rng = StdRng::seed_from_u64(12);
        create(&path, &mut rng, &s, PASS, &test_params()).unwrap();
        assert_same(
            &s,
            &load_with_minimum(&path, PASS, &test_minimum()).unwrap(),
        );
        assert!(matches!(
            load(&path, PASS),
            Err(KeystoreFileError::Keystore(
                KeystoreError::WeakParameters { .. }
            ))
        ));
        assert!(matches!(
            load_with_minimum(&path, b"nope", &test_minimum()),
            Err(KeystoreFileError::Keystore(KeystoreError::WrongPassphrase))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let before = fs::read(&path).unwrap();
        let other = secrets(13);
        assert!(matches!(
            create(&path, &mut rng, &other, PASS, &test_params()),
            Err(KeystoreFileError::AlreadyExists { .. })
        ));
        assert!(matches!(
            write_new(&path, b"{}"),
            Err(KeystoreFileError::AlreadyExists { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), before);
        // No temporary file is left behind.
        assert_eq!(dir.entries(), vec!["keystore.json".to_owned()]);
    }

    /// A keystore open to group or others, or anything but a regular file
    /// (a FIFO used to hang the reader), is refused with what to do
    /// (issue #13, finding 8).
    #[cfg(unix)]
    #[test]
    fn an_exposed_or_irregular_keystore_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = TestDir::new("exposed");
        let path = dir.0.join("keystore.json");
        let mut rng = StdRng::seed_from_u64(14);
        create(&path, &mut rng, &secrets(14), PASS, &test_params()).unwrap();
        for mode in [0o644, 0o620, 0o604] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_with_minimum(&path, PASS, &test_minimum()).unwrap_err();
            assert!(
                matches!(err, KeystoreFileError::Exposed { mode: m, .. } if m == mode),
                "{mode:o}: {err}"
            );
            assert!(err.to_string().contains("chmod 600"));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        load_with_minimum(&path, PASS, &test_minimum()).unwrap();
        assert!(matches!(
            read(&dir.0),
            Err(KeystoreFileError::NotAFile { .. })
        ));
        let fifo = dir.0.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert!(matches!(
                read(&fifo),
                Err(KeystoreFileError::NotAFile { .. })
            ));
        }
    }

    #[test]
    fn publish_refuses_a_path_that_appears_during_the_write() {
        let dir = TestDir::new("race");
        let temp = dir.0.join(".k.tmp");
        let path = dir.0.join("k.json");
        fs::write(&temp, b"new").unwrap();
        fs::write(&path, b"old").unwrap();
        assert!(matches!(
            publish(&temp, &path),
            Err(KeystoreFileError::AlreadyExists { .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn oversized_and_missing_files_are_refused() {
        let dir = TestDir::new("size");
        let path = dir.0.join("big.json");
        fs::write(&path, vec![b' '; MAX_KEYSTORE_LEN + 1]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            read(&path),
            Err(KeystoreFileError::TooLarge { actual, .. }) if actual == (MAX_KEYSTORE_LEN + 1) as u64
        ));
        assert!(matches!(
            read(&dir.0.join("absent.json")),
            Err(KeystoreFileError::Io(e)) if e.kind() == io::ErrorKind::NotFound
        ));
        assert!(matches!(
            write_new(&dir.0.join("x.json"), &vec![b' '; MAX_KEYSTORE_LEN + 1]),
            Err(KeystoreFileError::TooLarge { .. })
        ));
        assert!(matches!(
            write_new(Path::new("/"), b"{}"),
            Err(KeystoreFileError::InvalidPath { .. })
        ));
        assert!(dir.entries() == vec!["big.json".to_owned()]);
    }
}
