//! The encrypted identity on disk: passphrase sources, `tacnode init`, unlocking.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use tacnode_crypto::keystore::{self, KdfParams, KeystoreSecrets};
use zeroize::Zeroizing;

use crate::cli::PassphraseArgs;

/// Environment variable holding the passphrase (for automation).
pub(crate) const PASSPHRASE_ENV: &str = "TACNODE_PASSPHRASE";
/// Largest passphrase file read.
const MAX_PASSPHRASE_FILE_BYTES: u64 = 4096;

pub(crate) use tacnode_control::keystore_path;

/// The passphrase from `--passphrase-file`, else `TACNODE_PASSPHRASE`, else a
/// prompt on the terminal (twice when `confirm`).
pub(crate) fn passphrase(args: &PassphraseArgs, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(path) = &args.passphrase_file {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read passphrase file {}", path.display()))?;
        if meta.len() > MAX_PASSPHRASE_FILE_BYTES {
            bail!(
                "passphrase file {} is larger than {MAX_PASSPHRASE_FILE_BYTES} bytes",
                path.display()
            );
        }
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read passphrase file {}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or_default();
        return non_empty(Zeroizing::new(line.to_owned()));
    }
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return non_empty(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: use --passphrase-file, set {PASSPHRASE_ENV}, or run on a terminal");
    }
    let first = Zeroizing::new(rpassword::prompt_password("Passphrase: ")?);
    if confirm {
        let second = Zeroizing::new(rpassword::prompt_password("Repeat passphrase: ")?);
        if *first != *second {
            bail!("the passphrases differ");
        }
    }
    non_empty(first)
}

fn non_empty(p: Zeroizing<String>) -> Result<Zeroizing<String>> {
    if p.is_empty() {
        bail!("the passphrase is empty");
    }
    Ok(p)
}

/// Creates the data directory (0700) and a new keystore in it; refuses to
/// overwrite an existing one.
pub(crate) fn init(
    data_dir: &Path,
    passphrase: &str,
    params: &KdfParams,
) -> Result<KeystoreSecrets> {
    create_private_dir(data_dir)?;
    let path = keystore_path(data_dir);
    let mut rng = crate::node::os_rng()?;
    let secrets = KeystoreSecrets::generate(&mut rng);
    keystore::create(&path, &mut rng, &secrets, passphrase.as_bytes(), params)
        .with_context(|| format!("cannot create keystore {}", path.display()))?;
    Ok(secrets)
}

/// Opens the keystore with `passphrase`.
pub(crate) fn unlock(data_dir: &Path, passphrase: &str) -> Result<KeystoreSecrets> {
    let path = keystore_path(data_dir);
    if !path.exists() {
        bail!(
            "no identity in {}: run `tacnode init` first",
            data_dir.display()
        );
    }
    keystore::load(&path, passphrase.as_bytes())
        .with_context(|| format!("cannot open keystore {}", path.display()))
}

/// Creates `dir` (and parents) with owner-only permissions.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))
}
